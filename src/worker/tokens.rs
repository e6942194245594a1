//! Turning a provider's answer into a store update: pure bookkeeping.
//!
//! Kept apart from the I/O so the rules that protect tokens — keep the old
//! refresh token when none comes back, expiry counted from receipt — are
//! tested without a network.

use crate::domain::{AccessExpiry, Connection, Flags, Lifetimes, UnixTime};
use crate::providers::{GrantExpiry, TokenGrant};
use crate::store::{ConnectionUpdate, SecretChange};

/// The update that stores a fresh grant on an existing connection.
pub fn grant_update(conn: &Connection, grant: &TokenGrant, now: UnixTime) -> ConnectionUpdate {
    let keeps_old_refresh = grant.refresh_token.is_none() && conn.lifetimes.has_refresh;
    let granted_end = grant.refresh_expires_in.map(|s| now.plus_secs(secs(s)));
    let lifetimes = Lifetimes {
        code_expires_at: None,
        access: Some(access_expiry(grant, now)),
        access_received_at: Some(now),
        has_refresh: grant.refresh_token.is_some() || keeps_old_refresh,
        refresh_expires_at: if keeps_old_refresh && grant.refresh_expires_in.is_none() {
            conn.lifetimes.refresh_expires_at
        } else {
            granted_end
        },
        refresh_slides: slides(conn, granted_end, now),
    };
    let mut remote = conn.remote.clone();
    if grant.subject.is_some() {
        remote.user_id.clone_from(&grant.subject);
    }
    if grant.session.is_some() {
        remote.session.clone_from(&grant.session);
    }
    ConnectionUpdate {
        lifetimes: Some(lifetimes),
        scopes: Some(grant.scopes.clone()),
        flags: Some(Flags::default()),
        remote: Some(remote),
        access_code: SecretChange::Erase,
        access_token: SecretChange::Set(grant.access_token.clone()),
        refresh_token: set_or_keep(&grant.refresh_token),
        id_token: set_or_keep(&grant.id_token),
        user_secret: SecretChange::Keep,
    }
}

/// The update that files a new login's grant on a connection of the same
/// account. The grant replaces the old one whole: a refresh or id token the
/// provider did not send again is erased, not kept as a refresh keeps it
/// (the old one was refused or revoked, or belongs to the old login).
pub fn relogin_update(conn: &Connection, grant: &TokenGrant, now: UnixTime) -> ConnectionUpdate {
    let mut update = grant_update(conn, grant, now);
    if grant.refresh_token.is_none() {
        update.refresh_token = SecretChange::Erase;
        if let Some(l) = update.lifetimes.as_mut() {
            l.has_refresh = false;
            l.refresh_expires_at = None;
        }
    }
    // A new session's end says nothing of how the old one's moved.
    if let Some(l) = update.lifetimes.as_mut() {
        l.refresh_slides = false;
    }
    if grant.id_token.is_none() {
        update.id_token = SecretChange::Erase;
    }
    update
}

/// Below this many seconds between two grants, a moved refresh end tells
/// nothing: the provider counts in whole seconds, as we do.
const SLIDE_SAMPLE_SECS: i64 = 10;

/// Whether a refresh at `now` that set the refresh token's end to `end`
/// showed that end to slide. Moved on by at least half the time since the
/// grant before, it is an idle timeout each refresh restarts; barely moved,
/// it is fixed: the consent's end, or the session's maximum, reached.
/// Only a grant that states an end can show either.
fn slides(conn: &Connection, end: Option<UnixTime>, now: UnixTime) -> bool {
    let l = &conn.lifetimes;
    let (Some(end), Some(old), Some(before)) = (
        end,
        l.refresh_expires_at.filter(|_| l.has_refresh),
        l.access_received_at,
    ) else {
        return false;
    };
    let elapsed = before.secs_until(now);
    if elapsed < SLIDE_SAMPLE_SECS {
        return l.refresh_slides;
    }
    old.secs_until(end).saturating_mul(2) >= elapsed
}

pub fn access_expiry(grant: &TokenGrant, now: UnixTime) -> AccessExpiry {
    match grant.expiry {
        GrantExpiry::Permanent => AccessExpiry::Permanent,
        GrantExpiry::InSecs(s) | GrantExpiry::Assumed(s) => {
            AccessExpiry::At(now.plus_secs(secs(s)))
        }
    }
}

/// A failure that leaves every token as it was, recording only the message.
pub fn failure_update(conn: &Connection, message: &str) -> ConnectionUpdate {
    ConnectionUpdate {
        flags: Some(Flags {
            last_error: Some(message.to_string()),
            ..conn.flags.clone()
        }),
        ..ConnectionUpdate::default()
    }
}

fn set_or_keep(s: &Option<crate::domain::Secret>) -> SecretChange {
    match s {
        Some(v) if !v.is_empty() => SecretChange::Set(v.clone()),
        _ => SecretChange::Keep,
    }
}

fn secs(s: u64) -> i64 {
    i64::try_from(s).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::*;

    fn conn_with_refresh() -> Connection {
        Connection {
            id: ConnectionId(7),
            user_id: UserId(1),
            user: "u".into(),
            provider: "everifin".into(),
            kind: ProviderKind::Oidc,
            grant: Grant::AuthorizationCode,
            label: "Everifin".into(),
            remote: RemoteIds::default(),
            lifetimes: Lifetimes {
                access: Some(AccessExpiry::At(UnixTime(100))),
                access_received_at: Some(UnixTime(0)),
                has_refresh: true,
                refresh_expires_at: Some(UnixTime(1800)),
                refresh_slides: false,
                code_expires_at: None,
            },
            scopes: Scopes::default(),
            flags: Flags {
                last_error: Some("timeout".into()),
                ..Flags::default()
            },
            last_op: None,
            created_at: UnixTime(0),
            version: 3,
        }
    }

    fn grant(refresh: Option<&str>) -> TokenGrant {
        TokenGrant {
            access_token: Secret::new("new-access"),
            expiry: GrantExpiry::InSecs(300),
            refresh_token: refresh.map(Secret::new),
            refresh_expires_in: refresh.map(|_| 1800),
            id_token: None,
            scopes: Scopes::granted(vec!["openid".into()]),
            subject: Some("sub-1".into()),
            session: None,
        }
    }

    #[test]
    fn expiry_counts_from_receipt_and_error_is_cleared() {
        let now = UnixTime(1_000);
        let u = grant_update(&conn_with_refresh(), &grant(Some("r2")), now);
        let l = u.lifetimes.unwrap();
        assert_eq!(l.access, Some(AccessExpiry::At(UnixTime(1_300))));
        assert_eq!(l.refresh_expires_at, Some(UnixTime(2_800)));
        assert!(l.has_refresh);
        assert_eq!(u.flags.unwrap().last_error, None);
        assert!(matches!(u.refresh_token, SecretChange::Set(ref s) if s.expose() == "r2"));
        assert_eq!(u.remote.unwrap().user_id.as_deref(), Some("sub-1"));
    }

    #[test]
    fn no_refresh_token_in_the_answer_keeps_the_old_one_and_its_expiry() {
        let u = grant_update(&conn_with_refresh(), &grant(None), UnixTime(1_000));
        assert!(matches!(u.refresh_token, SecretChange::Keep));
        let l = u.lifetimes.unwrap();
        assert!(l.has_refresh);
        assert_eq!(l.refresh_expires_at, Some(UnixTime(1800)));
    }

    #[test]
    fn a_new_login_without_refresh_or_id_token_erases_the_old_ones() {
        let mut conn = conn_with_refresh();
        conn.flags.reauth_required = true;
        let u = relogin_update(&conn, &grant(None), UnixTime(1_000));
        assert!(matches!(u.refresh_token, SecretChange::Erase));
        assert!(matches!(u.id_token, SecretChange::Erase));
        let l = u.lifetimes.unwrap();
        assert!(!l.has_refresh);
        assert_eq!(l.refresh_expires_at, None);
        assert!(!u.flags.unwrap().reauth_required);
        let u = relogin_update(&conn, &grant(Some("r2")), UnixTime(1_000));
        assert!(matches!(u.refresh_token, SecretChange::Set(ref s) if s.expose() == "r2"));
    }

    /// Keycloak's answers: 30 minutes of idle time from each refresh, until
    /// the session's maximum caps it.
    #[test]
    fn a_refresh_end_that_moves_with_each_refresh_slides_until_it_stops() {
        let conn = conn_with_refresh();
        let slid = |conn: &Connection, now: i64, left: u64| {
            let mut g = grant(Some("r2"));
            g.refresh_expires_in = Some(left);
            grant_update(conn, &g, UnixTime(now)).lifetimes.unwrap()
        };
        // 300 s after the last grant, the end moved 300 s on (1800 → 2100).
        let l = slid(&conn, 300, 1800);
        assert_eq!(l.refresh_expires_at, Some(UnixTime(2_100)));
        assert!(l.refresh_slides);
        // Rounded by a second, it still slides.
        assert!(slid(&conn, 300, 1799).refresh_slides);
        // The session's maximum: the end stays where it was.
        assert!(!slid(&conn, 300, 1500).refresh_slides);
        // No end stated, or no refresh token sent: nothing shown.
        let mut g = grant(None);
        g.refresh_expires_in = None;
        assert!(
            !grant_update(&conn, &g, UnixTime(300))
                .lifetimes
                .unwrap()
                .refresh_slides
        );
        // Too soon after the last grant to tell: the old answer stands.
        let mut sliding = conn.clone();
        sliding.lifetimes.refresh_slides = true;
        assert!(slid(&sliding, 5, 1800).refresh_slides);
        assert!(!slid(&conn, 5, 1800).refresh_slides);
        // A new login is a new session: its end is not compared with the old.
        let mut g = grant(Some("r2"));
        g.refresh_expires_in = Some(1800);
        let l = relogin_update(&sliding, &g, UnixTime(300))
            .lifetimes
            .unwrap();
        assert!(!l.refresh_slides);
    }

    #[test]
    fn failure_keeps_every_token() {
        let u = failure_update(&conn_with_refresh(), "connection refused");
        assert!(u.lifetimes.is_none());
        assert!(matches!(u.access_token, SecretChange::Keep));
        assert!(matches!(u.refresh_token, SecretChange::Keep));
        assert_eq!(
            u.flags.unwrap().last_error.as_deref(),
            Some("connection refused")
        );
    }
}
