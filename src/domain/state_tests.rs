use super::*;
use crate::domain::model::*;

const NOW: UnixTime = UnixTime(1_700_000_000);
const WARN: i64 = 120;

fn conn(grant: Grant) -> Connection {
    Connection::sample(1, "dapi", ProviderKind::Dapi, grant)
}

fn with_code(expires_at: UnixTime) -> Connection {
    let mut c = conn(Grant::DapiConnect);
    c.lifetimes.code_expires_at = Some(expires_at);
    c
}

fn with_access(grant: Grant, expires_at: UnixTime) -> Connection {
    let mut c = conn(grant);
    c.lifetimes.access = Some(AccessExpiry::At(expires_at));
    c.lifetimes.access_received_at = Some(expires_at.plus_secs(-300));
    c
}

#[test]
fn code_pending_one_second_before_expiry_and_expired_at_and_after() {
    let c = with_code(NOW.plus_secs(1));
    assert_eq!(
        ConnState::derive(&c, NOW, WARN),
        ConnState::CodePending {
            expires_at: NOW.plus_secs(1)
        }
    );
    assert_eq!(
        ConnState::derive(&c, NOW, WARN).describe(NOW),
        "code pending (00:01 left)"
    );
    let at = ConnState::derive(&c, NOW.plus_secs(1), WARN);
    assert_eq!(at.kind(), StateKind::CodeExpired);
    let after = ConnState::derive(&c, NOW.plus_secs(2), WARN);
    assert_eq!(
        after,
        ConnState::CodeExpired {
            since: NOW.plus_secs(1)
        }
    );
    assert_eq!(after.time_left(NOW.plus_secs(181)), "expired 3m ago");
}

#[test]
fn permanent_token_is_active_forever() {
    let mut c = with_code(NOW.plus_secs(-10_000));
    c.lifetimes.access = Some(AccessExpiry::Permanent);
    let s = ConnState::derive(&c, UnixTime(i64::MAX / 2), WARN);
    assert_eq!(s, ConnState::Active { expires_at: None });
    assert_eq!(s.time_left(NOW), "permanent");
}

#[test]
fn warning_window_edges() {
    let exp = NOW.plus_secs(WARN);
    let c = with_access(Grant::AuthorizationCode, exp);
    // Exactly `WARN` seconds left: inside the window.
    assert_eq!(ConnState::derive(&c, NOW, WARN).kind(), StateKind::Expiring);
    // One second more: still active.
    assert_eq!(
        ConnState::derive(&c, NOW.plus_secs(-1), WARN).kind(),
        StateKind::Active
    );
    // One second before expiry: expiring, at expiry: expired.
    assert_eq!(
        ConnState::derive(&c, exp.plus_secs(-1), WARN).kind(),
        StateKind::Expiring
    );
    assert_eq!(ConnState::derive(&c, exp, WARN).kind(), StateKind::Expired);
}

#[test]
fn expired_is_refreshable_only_with_a_live_refresh_token() {
    let exp = NOW.plus_secs(-5);
    let mut c = with_access(Grant::AuthorizationCode, exp);
    assert_eq!(
        ConnState::derive(&c, NOW, WARN),
        ConnState::Expired {
            since: exp,
            refreshable: false
        }
    );
    c.lifetimes.has_refresh = true;
    c.lifetimes.refresh_expires_at = Some(NOW.plus_secs(1));
    assert_eq!(
        ConnState::derive(&c, NOW, WARN).describe(NOW),
        "expired (refreshable)"
    );
    c.lifetimes.refresh_expires_at = Some(NOW);
    assert_eq!(
        ConnState::derive(&c, NOW, WARN),
        ConnState::Expired {
            since: exp,
            refreshable: false
        }
    );
    c.lifetimes.refresh_expires_at = None;
    assert_eq!(
        ConnState::derive(&c, NOW, WARN),
        ConnState::Expired {
            since: exp,
            refreshable: true
        }
    );
}

#[test]
fn client_credentials_are_always_renewable() {
    let c = with_access(Grant::ClientCredentials, NOW.plus_secs(-1));
    assert_eq!(
        ConnState::derive(&c, NOW, WARN),
        ConnState::Expired {
            since: NOW.plus_secs(-1),
            refreshable: true
        }
    );
}

#[test]
fn flags_outrank_tokens_in_order() {
    let mut c = with_access(Grant::AuthorizationCode, NOW.plus_secs(100));
    c.flags.logged_out_at = Some(NOW);
    let s = ConnState::derive(&c, NOW, WARN);
    assert_eq!(
        s,
        ConnState::LoggedOut {
            access_until: Some(NOW.plus_secs(100))
        }
    );
    assert_eq!(s.describe(NOW), "logged out (access valid 01:40)");
    assert_eq!(
        ConnState::derive(&c, NOW.plus_secs(100), WARN),
        ConnState::LoggedOut { access_until: None }
    );
    c.flags.reauth_required = true;
    // The time left counts to the access token's expiry, which
    // `access-token` hands out until then; the words claim no more, as a
    // replayed refresh token revokes the grant's access tokens too.
    let s = ConnState::derive(&c, NOW, WARN);
    assert_eq!(
        s,
        ConnState::ReauthRequired {
            access_until: Some(NOW.plus_secs(100))
        }
    );
    assert_eq!(s.describe(NOW), "re-consent required");
    assert_eq!(s.time_left(NOW), "01:40");
    let later = ConnState::derive(&c, NOW.plus_secs(100), WARN);
    assert_eq!(later, ConnState::ReauthRequired { access_until: None });
    assert_eq!(later.describe(NOW.plus_secs(100)), "re-consent required");
    assert_eq!(later.time_left(NOW.plus_secs(100)), "—");
    c.flags.delinked_at = Some(NOW);
    assert_eq!(ConnState::derive(&c, NOW, WARN), ConnState::Delinked);
}

#[test]
fn failure_shows_when_nothing_usable_is_left() {
    let mut c = with_code(NOW.plus_secs(60));
    c.flags.last_error = Some("connection refused".into());
    // The code still works: a transient failure does not hide that.
    assert_eq!(
        ConnState::derive(&c, NOW, WARN).kind(),
        StateKind::CodePending
    );
    c.lifetimes.code_expires_at = None;
    c.flags.last_error = Some("Invalid token".into());
    let s = ConnState::derive(&c, NOW, WARN);
    assert_eq!(s.describe(NOW), "failed: Invalid token");
    // A valid access token outranks an old error.
    let mut c = with_access(Grant::AuthorizationCode, NOW.plus_secs(1000));
    c.flags.last_error = Some("timeout".into());
    assert_eq!(ConnState::derive(&c, NOW, WARN).kind(), StateKind::Active);
    c.lifetimes.access = Some(AccessExpiry::At(NOW.plus_secs(-1)));
    assert_eq!(
        ConnState::derive(&c, NOW, WARN).describe(NOW),
        "failed: timeout"
    );
}

/// A failed row still says how long ago what it held ran out, as an
/// expired one does: the table sorts it by that instant, and "—" beside it
/// read as "never" between two "expired … ago" rows.
#[test]
fn a_failure_says_when_what_it_left_ran_out() {
    let mut c = with_access(Grant::AuthorizationCode, NOW.plus_secs(-480));
    c.flags.last_error = Some("timed out after 10s".into());
    let s = ConnState::derive(&c, NOW, WARN);
    assert_eq!(s.kind(), StateKind::Failed);
    assert_eq!(s.time_left(NOW), "expired 8m ago");
    // A failed link held nothing that could run out.
    let mut c = with_code(NOW.plus_secs(-120));
    c.flags.last_error = Some("Dapi refused the access code".into());
    c.lifetimes.code_expires_at = None;
    assert_eq!(ConnState::derive(&c, NOW, WARN).time_left(NOW), "—");
}

/// A code whose exchange failed is pending while it lasts, and expired
/// once it has run out, whatever the failure said: "try again later" of a
/// server error cannot work then, and linking again is the one way on.
#[test]
fn a_code_whose_exchange_failed_expires_as_any_code() {
    for error in [
        "500 Internal Server Error from dapi: try again later",
        "Dapi refused the access code (INVALID_TOKEN): link again",
    ] {
        let mut c = with_code(NOW.plus_secs(60));
        c.flags.last_error = Some(error.into());
        let s = ConnState::derive(&c, NOW, WARN);
        assert_eq!(s.kind(), StateKind::CodePending, "{error}");
        let s = ConnState::derive(&c, NOW.plus_secs(62), WARN);
        assert_eq!(s.kind(), StateKind::CodeExpired, "{error}");
        assert_eq!(s.time_left(NOW.plus_secs(62)), "expired 2s ago");
    }
}

#[test]
fn time_left_formats() {
    let c = with_access(Grant::AuthorizationCode, NOW.plus_secs(4320));
    assert_eq!(ConnState::derive(&c, NOW, WARN).time_left(NOW), "1h 12m");
    let c = with_access(Grant::AuthorizationCode, NOW.plus_secs(59));
    assert_eq!(ConnState::derive(&c, NOW, WARN).time_left(NOW), "00:59");
}

#[test]
fn snake_case_names_match_status_json() {
    let names: Vec<&str> = StateKind::ALL.iter().map(|k| k.as_str()).collect();
    for n in [
        "code_pending",
        "code_expired",
        "active",
        "expiring",
        "expired",
        "reauth_required",
        "logged_out",
        "delinked",
        "failed",
    ] {
        assert!(names.contains(&n), "{n}");
    }
    assert_eq!(
        serde_json::to_string(&StateKind::ReauthRequired).unwrap(),
        "\"reauth_required\""
    );
}

#[test]
fn an_outcome_says_what_the_operation_left() {
    let timed = with_access(Grant::AuthorizationCode, NOW.plus_secs(3600));
    let mut permanent = conn(Grant::DapiConnect);
    permanent.lifetimes.access = Some(AccessExpiry::Permanent);
    let stale = with_access(Grant::AuthorizationCode, NOW);
    let mut out = with_access(Grant::AuthorizationCode, NOW.plus_secs(299));
    out.flags.logged_out_at = Some(NOW);
    let code = with_code(NOW.plus_secs(300));
    let bare = conn(Grant::DapiConnect);
    let cases = [
        (
            OpKind::Refresh,
            &timed,
            NOW,
            "access token valid for 1h 00m",
        ),
        (OpKind::Login, &timed, NOW, "access token valid for 1h 00m"),
        (
            OpKind::ClientCredentials,
            &timed,
            NOW,
            "access token valid for 1h 00m",
        ),
        (
            OpKind::Exchange,
            &permanent,
            NOW,
            "permanent access token stored",
        ),
        (
            OpKind::Refresh,
            &stale,
            NOW,
            "access token stored, already expired",
        ),
        (
            OpKind::Logout,
            &out,
            NOW,
            "logged out; the access token stays valid for 04:59",
        ),
        (OpKind::Logout, &out, NOW.plus_secs(299), "logged out"),
        (
            OpKind::Link,
            &code,
            NOW,
            "access code stored; exchange it within 05:00",
        ),
        (
            OpKind::Link,
            &code,
            NOW.plus_secs(300),
            "access code stored",
        ),
        (OpKind::Delink, &bare, NOW, "delinked; secrets erased"),
        (OpKind::Refresh, &bare, NOW, "done"),
    ];
    for (op, c, now, said) in cases {
        assert_eq!(outcome(op, c, now), said, "{op}");
    }
}

#[test]
fn refresh_everything_due_takes_expiring_and_refreshable_expired_rows_only() {
    let failed = |id: i64, has_refresh: bool| {
        let mut c =
            Connection::sample(id, "everifin", ProviderKind::Oidc, Grant::AuthorizationCode);
        c.lifetimes.access = Some(AccessExpiry::At(NOW.plus_secs(-600)));
        c.lifetimes.has_refresh = has_refresh;
        c.flags.last_error = Some("timed out after 10s".into());
        c
    };
    let token = |id: i64, provider: &str, expires_in: i64, has_refresh: bool| {
        let mut c = Connection::sample(id, provider, ProviderKind::Oidc, Grant::AuthorizationCode);
        c.lifetimes.access = Some(AccessExpiry::At(NOW.plus_secs(expires_in)));
        c.lifetimes.has_refresh = has_refresh;
        c
    };
    let mut reconsent = token(5, "everifin", -60, true);
    reconsent.flags.reauth_required = true;
    // An hour's access token over a refresh token that lapses unused soon:
    // a refresh keeps it only if its end slides.
    let lapsing = |id: i64, slides: bool| {
        let mut c = token(id, "everifin", 3600, true);
        c.lifetimes.refresh_expires_at = Some(NOW.plus_secs(WARN - 20));
        c.lifetimes.refresh_slides = slides;
        c
    };
    let mut dapi_code = with_code(NOW.plus_secs(30));
    dapi_code.id = ConnectionId(7);
    let conns = [
        token(1, "everifin", 60, true),   // expiring: due
        token(2, "everifin", 3600, true), // active: not yet
        token(3, "everifin", -60, true),  // expired, refreshable: due
        token(4, "everifin", -60, false), // expired for good: nothing to send
        reconsent,
        token(6, "keycloak", 30, true), // due, but not configured
        dapi_code,
        token(8, "keycloak", -5, true),
        failed(9, true),    // its refresh failed (an outage): due again
        failed(10, false),  // failed, and nothing to refresh it with
        lapsing(11, true),  // a refresh keeps it: due
        lapsing(12, false), // its consent ends: no refresh helps
    ];
    let pick = DueForRefresh::pick(&conns, NOW, WARN, |p| p == "everifin");
    let due: Vec<i64> = pick.due.iter().map(|c| c.id.0).collect();
    assert_eq!(due, [1, 3, 9, 11]);
    assert_eq!(
        pick.unconfigured.into_iter().collect::<Vec<_>>(),
        [("keycloak", 2)]
    );
    let none = DueForRefresh::pick(&conns, NOW, WARN, |_| false);
    assert_eq!(
        none.missing_tables(),
        "[providers.everifin], [providers.keycloak]"
    );
}
