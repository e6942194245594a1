//! The subcommands that run without a screen. Each prints what happened in
//! words (never a secret) and returns the process exit code.
//!
//! One file per family of commands; this one keeps what several of them
//! share: a row read by its id, one operation run through a signal, a
//! row's line, and the `/` filter a command takes.

use color_eyre::eyre::{Result, bail, eyre};

use super::context::Context;
use super::interrupt::finish_through_interrupt;
use super::output::StatusRow;
use crate::domain::{Connection, ConnectionId, ErrorKind, OpError, UnixTime};
use crate::tui::{ID_NEEDLE_MIN, SortKey};
use crate::worker::Worker;

/// `println!` that ends the command quietly when its reader has gone (see
/// [`super::output::out_bytes`]), where `println!` panics.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::cli::output::out(format_args!("{}\n", format_args!($($arg)*)))
    };
}

mod audit;
mod config_check;
mod connect;
mod operate;
mod refresh_due;
mod report;

pub use audit::audit;
pub use config_check::config_check;
pub use connect::{check_grant_provider, link, login, plan_link, token, users};
pub use operate::operate;
pub(super) use operate::say_if_at_work;
pub use refresh_due::refresh_due;
pub(super) use report::wait_line;
pub use report::{check, status};

/// Connection `id` as the store holds it, or what to do about an id that
/// names none.
pub(super) fn stored(ctx: &Context, id: ConnectionId) -> Result<Connection> {
    (ctx.store.connection(id).map_err(|e| eyre!("{e}"))?)
        .ok_or_else(|| eyre!("no connection {id}: see `bankdeck status`"))
}

/// Runs one operation through Ctrl-C and SIGTERM (see `interrupt`): what
/// it sent is waited for and written. `None` when the signal stopped it
/// before anything was sent, the operator told so; `failed` words any
/// other failure.
pub(super) async fn to_the_end<T>(
    worker: &Worker,
    op: impl std::future::Future<Output = Result<T, OpError>>,
    failed: impl FnOnce(OpError) -> color_eyre::eyre::Report,
) -> Result<Option<T>> {
    match finish_through_interrupt(worker, op).await? {
        (Ok(conn), _) => Ok(Some(conn)),
        (Err(e), true) if e.kind == ErrorKind::Cancelled => {
            tell!("{e}");
            Ok(None)
        }
        (Err(e), _) => Err(failed(e)),
    }
}

/// `12 amira / Emirates NBD (dapi)`: a connection as a line of `check` or
/// `refresh --due` names it, whom to call and at which bank. The provider
/// is left out where the label already is its name (`12 app / bank`).
fn named(c: &Connection) -> String {
    if c.label == c.provider {
        format!("{} {}", c.id, c.name())
    } else {
        format!("{} {} ({})", c.id, c.name(), c.provider)
    }
}

fn print_conn(what: &str, c: &Connection, now: UnixTime, warn: i64) -> Result<()> {
    say!("{}", conn_line(what, c, now, warn))?;
    Ok(())
}

/// `linked: connection 3 · amira / ENBD · dapi · code pending (29:59 left)`: the
/// time left in brackets unless the state's words already say it
/// ("code pending (29:59 left) (29:59)") or there is none ("(—)").
fn conn_line(what: &str, c: &Connection, now: UnixTime, warn: i64) -> String {
    let row = StatusRow::new(c, now, warn);
    let left = row.time_left.as_str();
    let said = left == "—" || row.state_text.contains(left);
    let left = if said {
        String::new()
    } else {
        format!(" ({left})")
    };
    format!(
        "{what}: connection {} · {} · {} · {}{left}",
        c.id,
        c.name(),
        c.provider,
        row.state_text
    )
}

/// The connections a command's filter keeps, as the dashboard's `/` keeps
/// them.
struct Kept<'c> {
    conns: Vec<&'c Connection>,
    /// " matching 'x'" for the command's summary; empty without a filter.
    matching: String,
    /// Why nothing is kept, when a filter kept nothing.
    none: Option<String>,
}

impl<'c> Kept<'c> {
    /// The rows kept and the summary's " matching 'x'", or an error when a
    /// filter kept nothing: a cron run or a check of nothing would say OK
    /// for ever, so a typo must not. `undone` ends the error ("nothing was
    /// checked").
    fn or_refuse(self, undone: &str) -> Result<(Vec<&'c Connection>, String)> {
        match self.none {
            Some(none) => bail!("{none}; {undone}"),
            None => Ok((self.conns, self.matching)),
        }
    }
}

fn kept<'c>(
    conns: &'c [Connection],
    filter: Option<&str>,
    sort: Option<SortKey>,
    now: UnixTime,
    warn: i64,
) -> Kept<'c> {
    let f = filter.map(str::trim).filter(|f| !f.is_empty());
    let kept = crate::tui::filtered(conns, f.unwrap_or_default(), sort, now, warn);
    let Some(f) = f else {
        return Kept {
            conns: kept,
            matching: String::new(),
            none: None,
        };
    };
    let none = kept.is_empty().then(|| {
        format!(
            "no connection of {} matches '{f}': the filter reads the id (a number), the user, \
             label, provider, kind and state, and from {ID_NEEDLE_MIN} characters on the \
             provider's ids",
            conns.len()
        )
    });
    Kept {
        conns: kept,
        matching: format!(" matching '{f}'"),
        none,
    }
}

/// The rows another process is at work on at `now`: a cron job's refresh,
/// a script's delink, each holding its row's lease until it answers.
fn at_work(ctx: &Context, now: UnixTime) -> Result<super::output::AtWork> {
    let leases = ctx.store.leases().map_err(|e| eyre!("{e}"))?;
    Ok((leases.into_iter())
        .filter(|l| l.at_work(now))
        .map(|l| (l.conn, l))
        .collect())
}

/// Reads `--within` before anything is opened, so a typo is the error shown.
pub fn parse_within(within: Option<&str>) -> Result<Option<std::time::Duration>> {
    let Some(text) = within else {
        return Ok(None);
    };
    let window = duration("within", text, "10m")?;
    if window > crate::config::LONGEST_WINDOW {
        bail!(
            "--within '{text}' is longer than a year: write the window tokens are renewed in, e.g. 10m"
        );
    }
    Ok(Some(window))
}

/// A duration flag's value, or what to write instead.
pub fn duration(flag: &str, text: &str, example: &str) -> Result<std::time::Duration> {
    // Read as months, `10M` looks like ten minutes; `1H` is refused anyway.
    if text.contains(|c: char| c.is_ascii_uppercase()) {
        bail!(
            "--{flag} '{text}': units are lower case (m minutes, h hours, d days): write e.g. \
             {example}"
        );
    }
    humantime::parse_duration(text)
        .map_err(|_| eyre!("--{flag} '{text}' is not a duration: write e.g. {example}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AccessExpiry, Grant, ProviderKind};

    #[test]
    fn a_connection_line_says_the_time_left_once() {
        let now = UnixTime(1_700_000_000);
        let mut dapi = Connection::sample(3, "dapi", ProviderKind::Dapi, Grant::DapiConnect);
        dapi.lifetimes.code_expires_at = Some(now.plus_secs(1800));
        let line = conn_line("linked", &dapi, now, 120);
        assert_eq!(
            line,
            "linked: connection 3 · amira / ENBD · dapi · code pending (30:00 left)"
        );
        let mut bank =
            Connection::sample(4, "bank", ProviderKind::OAuth2, Grant::AuthorizationCode);
        bank.lifetimes.access = Some(AccessExpiry::At(now.plus_secs(300)));
        let line = conn_line("refresh done", &bank, now, 120);
        assert_eq!(
            line,
            "refresh done: connection 4 · amira / ENBD · bank · active (05:00)"
        );
        bank.flags.reauth_required = true;
        let line = conn_line("refresh failed", &bank, now, 120);
        assert!(line.ends_with("· re-consent required (05:00)"), "{line}");
        bank.lifetimes.access = Some(AccessExpiry::At(now.plus_secs(-1)));
        let line = conn_line("refresh failed", &bank, now, 120);
        assert!(line.ends_with("· re-consent required"), "{line}");
    }
}
