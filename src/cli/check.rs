//! `bankdeck check`: what needs a human within a window, for cron and Nagios.
//!
//! "Needs action" means a person must do something, not that a token will
//! expire: a five-minute OIDC token that the scheduler renews is fine, while
//! a refresh token (the user's consent) running out is not.

use crate::config::Config;
use crate::domain::{ConnState, Connection, StateKind, UnixTime, time::format_left};

/// Why `conn` needs action within `within_secs`, if it does.
pub fn reason(c: &Connection, cfg: &Config, now: UnixTime, within_secs: i64) -> Option<String> {
    let state = ConnState::derive(c, now, cfg.warn_secs());
    let auto = cfg
        .provider(&c.provider)
        .is_some_and(|p| p.common.auto_refresh);
    let renewable = c.renewable();
    let soon = |t: UnixTime| now.secs_until(t) <= within_secs;
    match state.kind() {
        StateKind::CodePending => state.deadline().filter(|t| soon(*t)).map(|t| {
            format!(
                "access code expires in {}: exchange it",
                format_left(now.secs_until(t))
            )
        }),
        StateKind::CodeExpired => Some("access code expired: link the user again".into()),
        StateKind::ReauthRequired => Some(format!(
            "re-consent required: the user must log in again: {}",
            login(c)
        )),
        StateKind::Failed => Some(state.describe(now)),
        StateKind::Expired if renewable => Some(format!(
            "{}: `bankdeck refresh {}`",
            state.describe(now),
            c.id
        )),
        StateKind::Expired => Some(format!(
            "{}: no refresh token, the user must log in again: {}",
            state.describe(now),
            login(c)
        )),
        StateKind::Active | StateKind::Expiring => {
            if let Some(r) = c
                .lifetimes
                .refresh_expires_at
                .filter(|r| c.lifetimes.has_refresh && soon(*r))
            {
                return Some(format!(
                    "consent (refresh token) ends in {}: the user must log in again before then: {}",
                    format_left(now.secs_until(r)),
                    login(c)
                ));
            }
            let exp = state.deadline().filter(|t| soon(*t))?;
            let left = format_left(now.secs_until(exp));
            match (renewable, auto) {
                (true, true) => None,
                (true, false) => Some(format!(
                    "access token expires in {left} and will not be renewed automatically \
                     ({} has no auto_refresh): `bankdeck refresh {}`",
                    c.provider, c.id
                )),
                (false, _) => Some(format!(
                    "access token expires in {left} and cannot be renewed \
                     (no refresh token): the user must log in again: {}",
                    login(c)
                )),
            }
        }
        StateKind::LoggedOut | StateKind::Delinked => None,
    }
}

/// The command that renews `c`'s consent, to paste as it is.
fn login(c: &Connection) -> String {
    use super::output::shell_word;
    format!(
        "`bankdeck login {} --user {}`",
        shell_word(&c.provider),
        shell_word(&c.user)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_layers;
    use crate::domain::*;

    const NOW: UnixTime = UnixTime(1_700_000_000);

    fn cfg() -> Config {
        parse_layers(None, "[providers.ev]\nkind = \"oidc\"\ntoken_url = \"http://127.0.0.1:1/t\"\nclient_id = \"c\"\nauto_refresh = true\n[providers.bank]\nkind = \"oauth2\"\ntoken_url = \"http://127.0.0.1:1/t\"\nclient_id = \"c\"\n").unwrap()
    }

    fn conn(provider: &str) -> Connection {
        Connection {
            user: "u".into(),
            label: String::new(),
            ..Connection::sample(1, provider, ProviderKind::Oidc, Grant::AuthorizationCode)
        }
    }

    #[test]
    fn auto_refreshed_short_tokens_need_nothing_but_ending_consent_does() {
        let mut c = conn("ev");
        c.lifetimes.access = Some(AccessExpiry::At(NOW.plus_secs(200)));
        c.lifetimes.has_refresh = true;
        c.lifetimes.refresh_expires_at = Some(NOW.plus_secs(7200));
        assert_eq!(reason(&c, &cfg(), NOW, 600), None);
        c.lifetimes.refresh_expires_at = Some(NOW.plus_secs(500));
        c.user = "Carol O'Neil".into();
        assert_eq!(
            reason(&c, &cfg(), NOW, 600).unwrap(),
            "consent (refresh token) ends in 08:20: the user must log in again before then: \
             `bankdeck login ev --user 'Carol O'\\''Neil'`"
        );
    }

    /// Each reason says what to do: refresh by hand what the scheduler
    /// will not, and log in again where nothing can be refreshed.
    #[test]
    fn tokens_without_auto_refresh_are_flagged_inside_the_window_only() {
        let mut c = conn("bank");
        c.lifetimes.access = Some(AccessExpiry::At(NOW.plus_secs(500)));
        c.lifetimes.has_refresh = true;
        assert_eq!(
            reason(&c, &cfg(), NOW, 600).unwrap(),
            "access token expires in 08:20 and will not be renewed automatically \
             (bank has no auto_refresh): `bankdeck refresh 1`"
        );
        assert_eq!(reason(&c, &cfg(), NOW, 400), None);
        c.lifetimes.access = Some(AccessExpiry::At(NOW.plus_secs(-5)));
        assert!(
            reason(&c, &cfg(), NOW, 0)
                .unwrap()
                .ends_with(": `bankdeck refresh 1`")
        );
        let mut c = conn("ev");
        c.lifetimes.access = Some(AccessExpiry::At(NOW.plus_secs(500)));
        assert_eq!(
            reason(&c, &cfg(), NOW, 600).unwrap(),
            "access token expires in 08:20 and cannot be renewed (no refresh token): \
             the user must log in again: `bankdeck login ev --user u`",
            "auto_refresh cannot help without a refresh token"
        );
        c.lifetimes.access = Some(AccessExpiry::At(NOW.plus_secs(-5)));
        assert!(reason(&c, &cfg(), NOW, 0).unwrap().ends_with(
            ": no refresh token, the user must log in again: `bankdeck login ev --user u`"
        ));
    }

    #[test]
    fn codes_reauth_failures_and_expiry_need_action_terminal_states_do_not() {
        let mut c = conn("bank");
        c.lifetimes.code_expires_at = Some(NOW.plus_secs(300));
        assert!(
            reason(&c, &cfg(), NOW, 600)
                .unwrap()
                .contains("exchange it")
        );
        assert_eq!(reason(&c, &cfg(), NOW, 60), None);
        c.lifetimes.code_expires_at = Some(NOW.plus_secs(-1));
        assert!(reason(&c, &cfg(), NOW, 0).is_some());
        let mut c = conn("ev");
        c.flags.reauth_required = true;
        assert_eq!(
            reason(&c, &cfg(), NOW, 0).unwrap(),
            "re-consent required: the user must log in again: `bankdeck login ev --user u`"
        );
        c.flags.delinked_at = Some(NOW);
        assert_eq!(reason(&c, &cfg(), NOW, 1_000_000), None);
    }
}
