//! `bankdeck access-token ID`: a connection's access token on standard
//! output, for a script that calls the bank with it, as `oidc-token` hands
//! one out of `oidc-agent`.
//!
//! The token printed is good for at least `--min-valid`: one that expires
//! sooner is refreshed first (under the worker's lease, as `refresh` does),
//! and a Dapi access code still pending is exchanged first. Handing a token
//! out is an operation like any other: it is audited (`reveal`), and the
//! line is written before the token is, so that no token leaves unrecorded.
//! A terminal counts as the screen, where tokens are masked unless
//! revealed: printing there takes `--reveal`.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use color_eyre::Result;
use color_eyre::eyre::{bail, eyre};

use super::context::Context;
use super::output::shell_word;
use crate::domain::state::refreshable;
use crate::domain::time::format_left;
use crate::domain::{
    AccessExpiry, ConnState, Connection, ConnectionId, Grant, OpKind, StateKind, UnixTime,
};
use crate::store::AuditDraft;

/// What a script gets when it names no `--min-valid`: a token that lasts
/// for the call it is about to make, with room for a slow one.
pub const DEFAULT_MIN_VALID: Duration = Duration::from_secs(60);

/// What `--json` prints: the token with what a script caches it by.
#[derive(serde::Serialize)]
struct Handed<'a> {
    access_token: &'a str,
    token_type: &'static str,
    /// `null` for a permanent (Dapi) token.
    expires_at: Option<String>,
    expires_in: Option<i64>,
    scopes: &'a [String],
}

/// How `access-token` prints: `json` for [`Handed`], else the token alone;
/// `reveal` lets it print on a terminal.
#[derive(Debug, Clone, Copy, Default)]
pub struct Printed {
    pub json: bool,
    pub reveal: bool,
}

pub async fn access_token(
    ctx: &Context,
    id: ConnectionId,
    min_valid: Duration,
    print: Printed,
    readonly: bool,
) -> Result<ExitCode> {
    if readonly {
        // The audit line is a write, and a token handed out unrecorded
        // would make `--readonly` the quiet way to take one.
        bail!("read-only mode: handing out a token is audited, which writes to the store");
    }
    if !print.reveal && std::io::stdout().is_terminal() {
        bail!(
            "this prints the access token, and standard output is a terminal: pipe it \
             (`bankdeck access-token {id} | …`, `$(bankdeck access-token {id})`) or add --reveal"
        );
    }
    let min_secs = i64::try_from(min_valid.as_secs()).unwrap_or(i64::MAX);
    let conn = super::commands::stored(ctx, id)?;
    let Some((conn, renewed)) = good_for(ctx, conn, min_secs).await? else {
        return Ok(super::interrupt::stopped());
    };
    let now = UnixTime::now();
    let expires_at = conn.lifetimes.access.and_then(AccessExpiry::at);
    let left = expires_at.map(|t| now.secs_until(t));
    if let (Some(renewed), Some(left)) = (renewed, left)
        && left < min_secs
    {
        tell!(
            "the provider's new token lasts {}, less than --min-valid {}: each call will {} again",
            format_left(left),
            humantime::format_duration(min_valid),
            renewed.op
        );
    }
    let secrets = ctx.store.secrets(id).map_err(|e| eyre!("{e}"))?;
    let Some(token) = secrets.access_token else {
        let state = ConnState::derive(&conn, now, ctx.config.warn_secs()).describe(now);
        bail!("connection {id} holds no access token ({state})");
    };
    let lasts = match left {
        Some(left) => format!("valid {}", format_left(left)),
        None => "permanent".into(),
    };
    let renewed = renewed.map_or(String::new(), Renewed::said);
    let line = AuditDraft {
        at: now,
        actor: crate::worker::os_user(),
        op: OpKind::Reveal,
        ok: true,
        message: format!("access token handed out ({lasts}{renewed})"),
    };
    ctx.store
        .append_audit(Some(id), line)
        .map_err(|e| eyre!("the token was not handed out, since its audit line failed: {e}"))?;
    if print.json {
        super::output::out_json(&Handed {
            access_token: token.expose(),
            token_type: "Bearer",
            expires_at: expires_at.map(UnixTime::rfc3339),
            expires_in: left,
            scopes: &conn.scopes.granted,
        })?;
    } else {
        super::output::out_bytes(token.expose().as_bytes())?;
        super::output::out_bytes(b"\n")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// How a token was made good for `--min-valid` before it was handed out.
#[derive(Debug, Clone, Copy)]
struct Renewed {
    op: OpKind,
    /// By another process (a second script, the dashboard's scheduler)
    /// while this one waited for it, or before this one's turn came.
    elsewhere: bool,
}

impl Renewed {
    /// The audit line's words for it: ", refreshed first".
    fn said(self) -> String {
        let done = match self.op {
            OpKind::Exchange => ", its code exchanged first",
            _ => ", refreshed first",
        };
        match self.elsewhere {
            true => format!("{done} by another process"),
            false => done.to_owned(),
        }
    }
}

/// `conn` as it stands once its token is good for `min_secs`: exchanged or
/// refreshed first when it must be, and how. `None` when a signal stopped
/// that before anything was sent.
async fn good_for(
    ctx: &Context,
    conn: Connection,
    min_secs: i64,
) -> Result<Option<(Connection, Option<Renewed>)>> {
    let warn = ctx.config.warn_secs();
    let Some(op) = needs(&conn, UnixTime::now(), min_secs, warn)? else {
        return Ok(Some((conn, None)));
    };
    let id = conn.id;
    let worker = ctx.worker(false)?;
    super::commands::say_if_at_work(ctx, op, &conn, worker.now());
    let run = worker.operate_done(op, id);
    let failed = |e| eyre!("{op} failed: {e}");
    match super::commands::to_the_end(&worker, run, failed).await {
        Ok(Some(done)) => {
            let elsewhere = done.by_whom().is_some();
            Ok(Some((done.conn, Some(Renewed { op, elsewhere }))))
        }
        Ok(None) => Ok(None),
        // Another process may have done it since the row was read (a
        // second script, the dashboard's scheduler): the code it
        // exchanged is spent, and its token is as good as ours.
        Err(e) => {
            let now_is = super::commands::stored(ctx, id)?;
            match needs(&now_is, UnixTime::now(), min_secs, warn) {
                Ok(None) => {
                    let renewed = Renewed {
                        op,
                        elsewhere: true,
                    };
                    Ok(Some((now_is, Some(renewed))))
                }
                _ => Err(e),
            }
        }
    }
}

/// What must run before `c`'s token is good for `min_secs`: an exchange, a
/// refresh, nothing; or why no token can be handed out.
fn needs(c: &Connection, now: UnixTime, min_secs: i64, warn: i64) -> Result<Option<OpKind>> {
    let state = ConnState::derive(c, now, warn);
    let id = c.id;
    match state.kind() {
        StateKind::Delinked => bail!("connection {id} is delinked: it holds no token"),
        // An app token's grant is asked again, by no user.
        StateKind::LoggedOut if c.grant == Grant::ClientCredentials => bail!(
            "connection {id} was logged out, so its token is not handed out: \
             `bankdeck token {} --user {}` asks for a new one",
            shell_word(&c.provider),
            shell_word(&c.user)
        ),
        StateKind::LoggedOut => bail!(
            "connection {id} was logged out, so its token is not handed out: \
             the user must log in again: {}",
            super::check::login(c)
        ),
        StateKind::CodeExpired => bail!(
            "connection {id}'s access code expired before it was exchanged: \
             link the user again"
        ),
        StateKind::CodePending => return Ok(Some(OpKind::Exchange)),
        _ => {}
    }
    let Some(left) = c
        .lifetimes
        .access
        .map(|a| a.at().map(|t| now.secs_until(t)))
    else {
        bail!(
            "connection {id} holds no access token ({})",
            state.describe(now)
        );
    };
    match left {
        None => Ok(None),
        Some(left) if left >= min_secs => Ok(None),
        // The rule `R` and `refresh --due` take rows by: a refresh token
        // past its expiry is not sent to be refused.
        Some(_) if !c.flags.reauth_required && refreshable(c, now) => Ok(Some(OpKind::Refresh)),
        Some(left) => {
            let when = match left {
                l if l > 0 => format!("expires in {}", format_left(l)),
                _ => "has expired".into(),
            };
            let why = match (c.flags.reauth_required, c.lifetimes.has_refresh) {
                (true, _) => "re-consent required",
                (false, true) => "its refresh token has expired",
                (false, false) => "no refresh token",
            };
            bail!(
                "connection {id}'s access token {when} and cannot be renewed ({why}): \
                 the user must log in again: {}",
                super::check::login(c)
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Grant, ProviderKind};

    const NOW: UnixTime = UnixTime(1_700_000_000);

    fn oidc(access_left: i64) -> Connection {
        let mut c = Connection::sample(7, "ev", ProviderKind::Oidc, Grant::AuthorizationCode);
        c.lifetimes.access = Some(AccessExpiry::At(NOW.plus_secs(access_left)));
        c.lifetimes.has_refresh = true;
        c.lifetimes.refresh_expires_at = Some(NOW.plus_secs(3600));
        c
    }

    fn needs_now(c: &Connection, min_secs: i64) -> Result<Option<OpKind>, String> {
        needs(c, NOW, min_secs, 60).map_err(|e| e.to_string())
    }

    #[test]
    fn a_token_short_of_min_valid_is_refreshed_first_and_a_pending_code_exchanged() {
        assert_eq!(needs_now(&oidc(300), 60), Ok(None));
        assert_eq!(needs_now(&oidc(300), 300), Ok(None));
        assert_eq!(needs_now(&oidc(299), 300), Ok(Some(OpKind::Refresh)));
        assert_eq!(needs_now(&oidc(-5), 0), Ok(Some(OpKind::Refresh)));
        let mut app = oidc(10);
        app.grant = Grant::ClientCredentials;
        app.lifetimes.has_refresh = false;
        assert_eq!(
            needs_now(&app, 60),
            Ok(Some(OpKind::Refresh)),
            "the grant again"
        );
        let mut dapi = Connection::sample(3, "dapi", ProviderKind::Dapi, Grant::DapiConnect);
        dapi.lifetimes.code_expires_at = Some(NOW.plus_secs(200));
        assert_eq!(needs_now(&dapi, 60), Ok(Some(OpKind::Exchange)));
        dapi.lifetimes.access = Some(AccessExpiry::Permanent);
        assert_eq!(needs_now(&dapi, 86_400), Ok(None), "a permanent token");
    }

    #[test]
    fn no_token_is_handed_out_of_an_ended_connection_or_one_that_cannot_last() {
        let mut gone = oidc(300);
        gone.flags.logged_out_at = Some(NOW);
        let said = needs_now(&gone, 60).unwrap_err();
        assert!(
            said.starts_with("connection 7 was logged out") && said.contains("bankdeck login ev"),
            "{said}"
        );
        gone.flags.delinked_at = Some(NOW);
        assert!(needs_now(&gone, 60).unwrap_err().contains("is delinked"));
        // An app token logged out: its grant asked again, not a user's login
        // (which `login --renew` refuses for it).
        let mut app = oidc(300);
        app.grant = Grant::ClientCredentials;
        app.lifetimes.has_refresh = false;
        app.flags.logged_out_at = Some(NOW);
        assert_eq!(
            needs_now(&app, 60).unwrap_err(),
            "connection 7 was logged out, so its token is not handed out: \
             `bankdeck token ev --user amira` asks for a new one"
        );
        let mut ended = oidc(30);
        ended.flags.reauth_required = true;
        assert_eq!(
            needs_now(&ended, 60).unwrap_err(),
            "connection 7's access token expires in 00:30 and cannot be renewed \
             (re-consent required): the user must log in again: `bankdeck login ev --user amira --renew 7`"
        );
        assert_eq!(
            needs_now(&ended, 30),
            Ok(None),
            "still good for what is asked"
        );
        let mut lapsed = oidc(10);
        lapsed.lifetimes.refresh_expires_at = Some(NOW.plus_secs(-1));
        assert_eq!(
            needs_now(&lapsed, 60).unwrap_err(),
            "connection 7's access token expires in 00:10 and cannot be renewed \
             (its refresh token has expired): the user must log in again: \
             `bankdeck login ev --user amira --renew 7`"
        );
        let mut bare = oidc(-1);
        bare.lifetimes.has_refresh = false;
        assert!(
            needs_now(&bare, 0)
                .unwrap_err()
                .contains("has expired and cannot be renewed (no refresh token)")
        );
        let mut dapi = Connection::sample(3, "dapi", ProviderKind::Dapi, Grant::DapiConnect);
        dapi.lifetimes.code_expires_at = Some(NOW.plus_secs(-1));
        assert!(
            needs_now(&dapi, 60)
                .unwrap_err()
                .contains("link the user again")
        );
    }
}
