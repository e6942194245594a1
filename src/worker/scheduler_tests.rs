use super::*;
use crate::config::parse_layers;
use crate::domain::*;

const NOW: UnixTime = UnixTime(1_700_000_000);

fn providers(extra: &str) -> HashMap<String, ProviderConfig> {
    let text = format!(
        "[providers.ev]\nkind = \"oidc\"\ntoken_url = \"http://127.0.0.1:1/t\"\nclient_id = \"c\"\nauto_refresh = true\n{extra}\n\
         [providers.off]\nkind = \"oidc\"\ntoken_url = \"http://127.0.0.1:1/t\"\nclient_id = \"c\"\n\
         [providers.dapi]\nkind = \"dapi\"\nbase_url = \"http://127.0.0.1:1\"\napp_secret = \"env:X\"\nauto_exchange = true\naccess_code_ttl = \"5m\"\n"
    );
    parse_layers(None, &text)
        .unwrap()
        .providers
        .into_iter()
        .collect()
}

fn conn(id: i64, provider: &str, kind: ProviderKind, grant: Grant) -> Connection {
    Connection {
        user: "u".into(),
        label: String::new(),
        ..Connection::sample(id, provider, kind, grant)
    }
}

fn oidc(id: i64, provider: &str, expires_in: i64, lifetime: i64) -> Connection {
    let mut c = conn(id, provider, ProviderKind::Oidc, Grant::AuthorizationCode);
    c.lifetimes.access = Some(AccessExpiry::At(NOW.plus_secs(expires_in)));
    c.lifetimes.access_received_at = Some(NOW.plus_secs(expires_in - lifetime));
    c.lifetimes.has_refresh = true;
    c
}

#[test]
fn margin_is_30s_or_a_tenth_of_the_lifetime_plus_a_little_jitter() {
    let p = providers("");
    let ev = &p["ev"];
    // 300 s token: 10 % is 30 s, so the margin is 30 s (+ up to 3 s jitter).
    let (at, op) = due_at(&oidc(1, "ev", 300, 300), ev).unwrap();
    assert_eq!(op, OpKind::Refresh);
    let m = NOW.plus_secs(300).0 - at.0;
    assert!((30..=33).contains(&m), "{m}");
    // One-hour token: 10 % is 360 s.
    let (at, _) = due_at(&oidc(2, "ev", 3600, 3600), ev).unwrap();
    let m = NOW.plus_secs(3600).0 - at.0;
    assert!((360..=396).contains(&m), "{m}");
}

#[test]
fn configured_margin_wins() {
    let p = providers("refresh_margin = \"2m\"");
    let (at, _) = due_at(&oidc(3, "ev", 3600, 3600), &p["ev"]).unwrap();
    let m = NOW.plus_secs(3600).0 - at.0;
    assert!((120..=132).contains(&m), "{m}");
}

/// An hour's access token over Keycloak's 30 minutes of idle time: due by
/// the refresh token's end, which would lapse first.
#[test]
fn a_sliding_refresh_end_before_the_access_tokens_brings_the_refresh_forward() {
    let ev = &providers("")["ev"];
    let mut c = oidc(4, "ev", 3600, 3600);
    c.lifetimes.refresh_expires_at = Some(NOW.plus_secs(1800));
    let by_access = due_at(&c, ev).unwrap().0;
    assert!(
        by_access > NOW.plus_secs(3000),
        "a fixed end is the user's to renew"
    );
    c.lifetimes.refresh_slides = true;
    let (at, op) = due_at(&c, ev).unwrap();
    assert_eq!(op, OpKind::Refresh);
    let m = NOW.plus_secs(1800).0 - at.0;
    assert!((180..=198).contains(&m), "{m}");
    // The access token's own time comes first: that stands.
    let mut short = oidc(5, "ev", 300, 300);
    short.lifetimes.refresh_expires_at = Some(NOW.plus_secs(1800));
    short.lifetimes.refresh_slides = true;
    let m = NOW.plus_secs(300).0 - due_at(&short, ev).unwrap().0.0;
    assert!((30..=33).contains(&m), "{m}");
    // A lifetime within twice the margin would be due again at once.
    c.lifetimes.refresh_expires_at = Some(NOW.plus_secs(50));
    c.lifetimes.access_received_at = Some(NOW);
    assert_eq!(due_at(&c, ev).unwrap().0, by_access);
}

#[test]
fn never_refreshes_dead_or_disabled_connections() {
    let p = providers("");
    let mut c = oidc(1, "ev", 10, 300);
    c.flags.reauth_required = true;
    assert_eq!(due_at(&c, &p["ev"]), None);
    let mut c = oidc(1, "ev", 10, 300);
    c.flags.logged_out_at = Some(NOW);
    assert_eq!(due_at(&c, &p["ev"]), None);
    let mut c = oidc(1, "ev", 10, 300);
    c.flags.delinked_at = Some(NOW);
    assert_eq!(due_at(&c, &p["ev"]), None);
    let mut c = oidc(1, "ev", 10, 300);
    c.lifetimes.has_refresh = false;
    assert_eq!(
        due_at(&c, &p["ev"]),
        None,
        "no refresh token, not client credentials"
    );
    assert_eq!(
        due_at(&oidc(1, "off", 10, 300), &p["off"]),
        None,
        "auto_refresh off"
    );
}

#[test]
fn dapi_codes_are_exchanged_only_with_auto_exchange() {
    let p = providers("");
    let mut c = conn(5, "dapi", ProviderKind::Dapi, Grant::DapiConnect);
    c.lifetimes.code_expires_at = Some(NOW.plus_secs(100));
    let (at, op) = due_at(&c, &p["dapi"]).unwrap();
    assert_eq!(op, OpKind::Exchange);
    assert!(at < NOW.plus_secs(100));
    c.lifetimes.access = Some(AccessExpiry::Permanent);
    assert_eq!(due_at(&c, &p["dapi"]), None, "already exchanged");
}

#[test]
fn plan_splits_due_from_later_and_respects_backoff_and_busy() {
    let p = providers("");
    let conns = vec![
        oidc(1, "ev", 10, 300),
        oidc(2, "ev", 1000, 3600),
        oidc(3, "ev", 5, 300),
        oidc(4, "ev", 5, 300),
    ];
    let mut backoff = Backoff::new();
    backoff.insert(
        ConnectionId(3),
        backed_off(NOW.plus_secs(30), conns[2].version),
    );
    let busy: HashSet<_> = [ConnectionId(4)].into();
    let plan = plan(&conns, &p, &backoff, &busy, NOW);
    assert_eq!(plan.due, vec![(ConnectionId(1), OpKind::Refresh)]);
    // Connection 3 waits for its backoff: that is the next instant.
    assert_eq!(plan.next, Some(NOW.plus_secs(30)));
}

fn backed_off(retry: UnixTime, version: i64) -> BackedOff {
    BackedOff {
        failures: 3,
        retry,
        version: Some(version),
        until_restart: false,
    }
}

/// A back-off holds its row until an operation goes through on it
/// elsewhere (newer, no error); a failure elsewhere, or a configuration
/// error here, leaves it standing.
#[test]
fn a_back_off_stands_until_the_row_is_renewed_elsewhere() {
    let p = providers("");
    let due = oidc(1, "ev", 5, 300);
    let later = NOW.plus_secs(600);
    let held = |c: &Connection, b: BackedOff| {
        let backoff = Backoff::from([(c.id, b)]);
        plan(std::slice::from_ref(c), &p, &backoff, &HashSet::new(), NOW)
            .due
            .is_empty()
    };
    assert!(
        held(&due, backed_off(later, due.version)),
        "as the failure left it"
    );
    let mut renewed = due.clone();
    renewed.version += 1;
    assert!(
        !held(&renewed, backed_off(later, due.version)),
        "renewed elsewhere"
    );
    let mut failed = renewed.clone();
    failed.flags.last_error = Some("connection refused".into());
    assert!(
        held(&failed, backed_off(later, due.version)),
        "failed elsewhere"
    );
    let parked = BackedOff {
        until_restart: true,
        ..backed_off(UnixTime(i64::MAX), due.version)
    };
    assert!(
        held(&renewed, parked),
        "this process's configuration failed"
    );
    let unread = BackedOff {
        version: None,
        ..backed_off(later, due.version)
    };
    assert!(held(&renewed, unread));
}

#[test]
fn backoff_doubles_and_caps() {
    assert_eq!(backoff_secs(1), 30);
    assert_eq!(backoff_secs(2), 60);
    assert_eq!(backoff_secs(3), 120);
    assert_eq!(backoff_secs(40), 1800);
}
