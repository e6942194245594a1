//! How connections look to scripts: the `status --json` objects and the
//! plain table. Built from the derived state; there is no field a token could
//! reach.

use std::borrow::Cow;
use std::io::Write;

use crate::domain::text::columns as cells;
pub use crate::domain::text::{cut, fit};
use serde::Serialize;

use crate::domain::printable::Printable;
use crate::domain::{ConnState, Connection, ConnectionId, OpKind, Renewal, UnixTime};
use crate::store::Lease;

/// The rows some other process is at work on, by id (`Lease::at_work`).
pub type AtWork = std::collections::HashMap<ConnectionId, Lease>;

/// The exit status of a command whose reader went away: what a shell
/// reports for a tool that SIGPIPE ended (128 + 13).
pub const BROKEN_PIPE_EXIT: u8 = 141;

/// Writes `bytes` to standard output now, as they are: for what must reach
/// a script exactly (a token), never for text from outside. A write that
/// fails is kept for the command's end ([`kept`]).
pub fn out_bytes(bytes: &[u8]) -> std::io::Result<()> {
    kept(|| {
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(bytes).and_then(|()| stdout.flush())
    })
}

/// The first write to standard output that failed, told when the command
/// ends ([`ending`]).
static LOST: std::sync::Mutex<Option<std::io::Error>> = std::sync::Mutex::new(None);

/// `write`'s failure kept rather than returned: the command goes on, and
/// what it prints after is dropped, not written. A reader gone away
/// (`refresh --due | head`) or a full disk under a cron job's log must not
/// end a command whose requests are out: the provider may have rotated a
/// token in an answer not yet written, so the command finishes them and
/// writes them, and only then ends as the failed write says.
fn kept(write: impl FnOnce() -> std::io::Result<()>) -> std::io::Result<()> {
    if lost().is_some() {
        return Ok(());
    }
    if let Err(e) = write() {
        lost().get_or_insert(e);
    }
    Ok(())
}

fn lost() -> std::sync::MutexGuard<'static, Option<std::io::Error>> {
    LOST.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// How a command that ended with `code` exits, after what its output met:
/// a reader gone away as any Unix tool does, quietly with
/// [`BROKEN_PIPE_EXIT`]; any other failed write (a full disk) as an error,
/// saying that what the command did is done.
pub fn ending(code: std::process::ExitCode) -> std::process::ExitCode {
    let failed = lost().take();
    match failed {
        None => code,
        Some(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            std::process::ExitCode::from(BROKEN_PIPE_EXIT)
        }
        Some(e) => {
            tell!(
                "bankdeck: cannot write to standard output ({e}): what the command did is done \
                 and recorded; `bankdeck status` and `bankdeck audit` show it"
            );
            std::process::ExitCode::from(2)
        }
    }
}

/// Standard output for `write`, buffered and written as it is made: a
/// table or document of 100 000 rows made whole first would double the
/// command's peak memory. A failed write is kept as [`out_bytes`] keeps
/// it. What it writes comes out [`Printable`]: a scope or
/// an id from outside can hold an escape sequence.
pub fn out_stream(
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    kept(|| {
        let stdout = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
        let mut stdout = Printable::new(stdout);
        write(&mut stdout).and_then(|()| stdout.flush())
    })
}

/// `value` as pretty JSON on standard output, then a newline, through
/// [`out_stream`] (`status --json` on 100 000 connections is 60 MB).
pub fn out_json<T: Serialize + ?Sized>(value: &T) -> std::io::Result<()> {
    out_stream(|out| {
        serde_json::to_writer_pretty(&mut *out, value).map_err(std::io::Error::from)?;
        out.write_all(b"\n")
    })
}

/// The status rows of `conns`, made one at a time as they are serialized:
/// with [`out_json`], `status --json` holds one row at a time, not all.
pub struct StatusRows<'a> {
    pub conns: &'a [&'a Connection],
    pub now: UnixTime,
    pub warn_secs: i64,
    pub at_work: &'a AtWork,
}

impl Serialize for StatusRows<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let rows = (self.conns.iter())
            .map(|c| StatusRow::new(c, self.now, self.warn_secs).at_work(self.at_work));
        serializer.collect_seq(rows)
    }
}

/// Formatted text on standard output now, [`Printable`] as
/// [`out_stream`] writes it; the commands call it through `say!`.
pub fn out(text: std::fmt::Arguments<'_>) -> std::io::Result<()> {
    kept(|| {
        let mut stdout = Printable::new(std::io::stdout().lock());
        stdout.write_fmt(text).and_then(|()| stdout.flush())
    })
}

#[derive(Debug, Serialize)]
pub struct StatusRow<'a> {
    pub id: i64,
    pub user: &'a str,
    pub provider: &'a str,
    pub kind: &'static str,
    pub label: &'a str,
    pub state: &'static str,
    /// The state in words, as the screen shows it.
    pub state_text: String,
    pub time_left: String,
    pub code_expires_at: Option<String>,
    /// `null` when the token is permanent (or there is none).
    pub access_expires_at: Option<String>,
    pub permanent: bool,
    pub refresh_expires_at: Option<String>,
    /// Each refresh moves `refresh_expires_at` on (an idle timeout, as
    /// Keycloak's): unused until then, the refresh token lapses.
    pub refresh_slides: bool,
    pub scopes: &'a [String],
    pub denied_scopes: &'a [String],
    pub products: &'a [String],
    pub last_error: Option<&'a str>,
    pub last_op: Option<LastOpRow>,
    /// The provider's ids, as the detail pane shows them and a filter of
    /// eight characters or more finds them: Dapi's `connectionID`, its
    /// `userID` (or the OIDC `sub`), `tokenID`, and the OIDC session.
    pub connection_id: Option<&'a str>,
    pub provider_user_id: Option<&'a str>,
    pub token_id: Option<&'a str>,
    pub session: Option<&'a str>,
    /// Another process at work on the row now (a cron job's refresh), as
    /// its lease says; `null` when none is.
    pub busy: Option<BusyRow>,
}

/// `{"by": "process 4242 of cron", "pid": 4242, "until": "2026-…Z"}`: who
/// holds the row's lease, and its term (a process of this host that still
/// runs may pass it: its answer's write is on its way).
#[derive(Debug, Serialize)]
pub struct BusyRow {
    pub by: String,
    /// `null` for a holder of another host.
    pub pid: Option<u32>,
    pub until: String,
}

impl BusyRow {
    pub fn new(lease: &Lease) -> Self {
        Self {
            by: crate::store::holder::described(&lease.holder),
            pid: crate::store::holder::pid_of(&lease.holder),
            until: lease.until.rfc3339(),
        }
    }
}

/// `check --json`: whether anything needs action within the window, and
/// what, each connection as `status --json` shows it with why.
#[derive(Debug, Serialize)]
pub struct CheckReport<'a> {
    pub ok: bool,
    pub within_secs: i64,
    /// How many rows need each kind of action (`{"reconsent": 12, …}`), as
    /// the text's first line counts them.
    pub counts: std::collections::BTreeMap<super::check::Need, usize>,
    pub needs_action: CheckRows<'a>,
    /// What renews tokens unattended, by its last record, newest first: a
    /// monitor can alert on a stopped scheduler before any token lapses.
    pub renewers: Vec<RenewerRow<'a>>,
    /// The providers' asked waits that hold: until each ends, no process
    /// sends that provider anything, and its due tokens wait.
    pub waits: Vec<WaitRow<'a>>,
}

/// `{"provider": "bank", "until": "2026-…Z", "secs_left": 3540, "why": "…"}`.
#[derive(Debug, Serialize)]
pub struct WaitRow<'a> {
    pub provider: &'a str,
    pub until: String,
    pub secs_left: i64,
    pub why: &'a str,
}

impl<'a> WaitRow<'a> {
    pub fn new(w: &'a crate::domain::ProviderWait, now: UnixTime) -> Self {
        WaitRow {
            provider: &w.provider,
            until: w.until.rfc3339(),
            secs_left: now.secs_until(w.until),
            why: &w.why,
        }
    }
}

/// A renewer's last record: `{"by": "scheduler", "at": "2026-…Z",
/// "running": true, "providers": ["everifin"]}`, or `"by": "refresh_due"`
/// with `within_secs` too (and `matching`, for a filtered run).
#[derive(Debug, Serialize)]
pub struct RenewerRow<'a> {
    pub by: &'static str,
    pub at: String,
    pub running: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub providers: Option<&'a [String]>,
    /// A scheduler's providers it has paused, since they stopped answering.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paused: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub within_secs: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matching: Option<&'a str>,
}

impl<'a> RenewerRow<'a> {
    pub fn new(r: &'a Renewal, now: UnixTime) -> Self {
        let row = RenewerRow {
            by: "scheduler",
            at: r.at().rfc3339(),
            running: r.running(now),
            providers: None,
            paused: None,
            within_secs: None,
            matching: None,
        };
        match r {
            Renewal::Scheduler {
                providers, paused, ..
            } => RenewerRow {
                providers: Some(providers),
                paused: Some(paused),
                ..row
            },
            Renewal::RefreshDue {
                providers,
                within_secs,
                matching,
                ..
            } => RenewerRow {
                by: "refresh_due",
                providers: Some(providers),
                within_secs: Some(*within_secs),
                matching: matching.as_deref(),
                ..row
            },
        }
    }
}

/// The rows `check` found, each made as it is serialized, as
/// [`StatusRows`] are: at 100 000 connections most of them need action.
#[derive(Debug)]
pub struct CheckRows<'a> {
    pub found: &'a [(&'a Connection, super::check::Reason)],
    pub now: UnixTime,
    pub warn_secs: i64,
    pub at_work: &'a AtWork,
}

impl Serialize for CheckRows<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let rows = (self.found.iter()).map(|(c, reason)| CheckRow {
            row: StatusRow::new(c, self.now, self.warn_secs).at_work(self.at_work),
            need: reason.need,
            reason: &reason.text,
        });
        serializer.collect_seq(rows)
    }
}

#[derive(Debug, Serialize)]
pub struct CheckRow<'a> {
    #[serde(flatten)]
    pub row: StatusRow<'a>,
    /// What the row needs, for a monitor to count: `"reconsent"`, `"refresh"`…
    pub need: super::check::Need,
    pub reason: &'a str,
}

/// The last operation, for a script: `{"op": "refresh", "ok": true, "at":
/// "2026-…Z"}`.
#[derive(Debug, Serialize)]
pub struct LastOpRow {
    pub op: OpKind,
    pub ok: bool,
    pub at: String,
}

impl<'a> StatusRow<'a> {
    pub fn new(c: &'a Connection, now: UnixTime, warn_secs: i64) -> Self {
        let state = ConnState::derive(c, now, warn_secs);
        let l = &c.lifetimes;
        Self {
            id: c.id.0,
            user: &c.user,
            provider: &c.provider,
            kind: c.kind.as_str(),
            label: &c.label,
            state: state.kind().as_str(),
            state_text: state.describe(now),
            time_left: state.time_left(now),
            code_expires_at: l.code_expires_at.map(UnixTime::rfc3339),
            access_expires_at: l.access.and_then(|a| a.at()).map(UnixTime::rfc3339),
            permanent: l.access == Some(crate::domain::AccessExpiry::Permanent),
            refresh_expires_at: l.refresh_expires_at.map(UnixTime::rfc3339),
            refresh_slides: l.sliding_refresh_end().is_some(),
            scopes: &c.scopes.granted,
            denied_scopes: &c.scopes.denied,
            products: &c.scopes.products,
            last_error: c.flags.last_error.as_deref(),
            last_op: c.last_op.as_ref().map(|o| LastOpRow {
                op: o.op,
                ok: o.ok,
                at: o.at.rfc3339(),
            }),
            connection_id: c.remote.connection_id.as_deref(),
            provider_user_id: c.remote.user_id.as_deref(),
            token_id: c.remote.token_id.as_deref(),
            session: c.remote.session.as_deref(),
            busy: None,
        }
    }

    /// The row with who is at work on it, when another process is.
    pub fn at_work(self, at_work: &AtWork) -> Self {
        let busy = at_work.get(&ConnectionId(self.id)).map(BusyRow::new);
        Self { busy, ..self }
    }
}

/// A row of the status table: its connection, and the two cells its state
/// makes, made once since the widths and the line both read them. Lighter
/// than a [`StatusRow`], which formats every time the JSON carries: over
/// 100 000 rows that was a third of `status`'s peak memory.
pub struct TableRow<'a> {
    conn: &'a Connection,
    state: String,
    time_left: String,
}

impl<'a> TableRow<'a> {
    pub fn new(conn: &'a Connection, now: UnixTime, warn_secs: i64) -> Self {
        let state = ConnState::derive(conn, now, warn_secs);
        Self {
            conn,
            state: state.describe(now),
            time_left: state.time_left(now),
        }
    }

    /// The row with `· busy: pid 4242` after its state, as the screen's
    /// last-op column says it, when another process is at work on it.
    pub fn at_work(mut self, at_work: &AtWork) -> Self {
        if let Some(lease) = at_work.get(&self.conn.id) {
            let busy = crate::store::holder::busy(&lease.holder);
            self.state.push_str(&format!(" · {busy}"));
        }
        self
    }
}

/// The status table: see [`text_table`]; the scopes close each line.
pub fn table(rows: &[TableRow<'_>], out: &mut dyn Write) -> std::io::Result<()> {
    text_table(
        out,
        rows,
        |r| r.conn.id.0,
        &[
            ("USER", 24, |r| r.conn.user.as_str().into()),
            ("LABEL", 24, |r| r.conn.label.as_str().into()),
            ("PROVIDER", 16, |r| r.conn.provider.as_str().into()),
            ("KIND", 6, |r| r.conn.kind.as_str().into()),
            ("STATE", 48, |r| r.state.as_str().into()),
            ("TIME LEFT", 16, |r| r.time_left.as_str().into()),
            ("SCOPES", 40, |r| r.conn.scopes.granted.join(" ").into()),
        ],
    )
}

/// One column of a [`text_table`]: its header, its cap, and a row's cell.
pub type Column<R> = (&'static str, usize, for<'r> fn(&'r R) -> Cow<'r, str>);

/// A table for people, written to `out` a line at a time: an `ID` column,
/// then each column as wide as what it holds, up to a cap past which it is
/// cut (never wrapped), and no line ending in spaces. Scripts read `--json`.
pub fn text_table<R>(
    out: &mut dyn Write,
    rows: &[R],
    id: fn(&R) -> i64,
    columns: &[Column<R>],
) -> std::io::Result<()> {
    let Some((last, padded)) = columns.split_last() else {
        return Ok(());
    };
    // The last column is cut, never padded (lines end without spaces), so
    // its width is its cap alone: its cells are not built twice a row.
    let widths: Vec<usize> = (padded.iter())
        .map(|(head, cap, cell)| {
            let widest = rows.iter().map(|r| cells(&cell(r))).max().unwrap_or(0);
            widest.max(cells(head)).min(*cap)
        })
        .chain([last.1])
        .collect();
    let id_width = rows
        .iter()
        .map(|r| id(r).to_string().len())
        .max()
        .unwrap_or(0)
        .max(2);
    // One line's text, reused from line to line.
    let mut text = String::new();
    let mut line = |id: &str, cells: &mut dyn Iterator<Item = Cow<'_, str>>| {
        text.clear();
        text.push_str(&format!("{id:>id_width$}"));
        for (cell, width) in cells.zip(&widths) {
            text.push_str("  ");
            text.push_str(&fit(&cell, *width));
        }
        out.write_all(text.trim_end().as_bytes())?;
        out.write_all(b"\n")
    };
    line("ID", &mut columns.iter().map(|(head, ..)| (*head).into()))?;
    for r in rows {
        line(
            &id(r).to_string(),
            &mut columns.iter().map(|(_, _, cell)| cell(r)),
        )?;
    }
    Ok(())
}

/// `text` as one shell word, quoted only when it needs to be.
pub(crate) fn shell_word(text: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_.@+/:,".contains(c);
    match !text.is_empty() && text.chars().all(plain) {
        true => text.to_owned(),
        false => format!("'{}'", text.replace('\'', r"'\''")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Connection `id` of `user`'s at `label`: a permanent Dapi token, or
    /// one that expired on `error`.
    fn conn(id: i64, user: &str, label: &str, error: Option<&str>, scopes: &[&str]) -> Connection {
        use crate::domain::{AccessExpiry, Grant, ProviderKind};
        let mut c = Connection::sample(id, "dapi", ProviderKind::Dapi, Grant::DapiConnect);
        c.user = user.into();
        c.label = label.into();
        c.lifetimes.access = Some(match error {
            None => AccessExpiry::Permanent,
            Some(_) => AccessExpiry::At(UnixTime(1_699_999_000)),
        });
        c.scopes.granted = scopes.iter().map(|s| s.to_string()).collect();
        c.flags.last_error = error.map(Into::into);
        c
    }

    /// Where each header starts, in terminal columns, and where each row's
    /// cells do: every line lines up with the header.
    fn starts(line: &str, marks: &[&str]) -> Vec<usize> {
        marks
            .iter()
            .map(|m| cells(&line[..line.find(m).unwrap_or_else(|| panic!("{m:?} in {line:?}"))]))
            .collect()
    }

    #[test]
    fn the_status_table_fits_its_text_shows_the_label_and_lines_up() {
        let long = "a failure whose reason goes on well past what a column of the table holds";
        let conns = [
            conn(7, "amira", "Emirates NBD", None, &["accounts", "balance"]),
            conn(12345, "山田太郎", "FAB", Some(long), &[]),
        ];
        let now = UnixTime(1_700_000_000);
        let rows: Vec<TableRow> = conns.iter().map(|c| TableRow::new(c, now, 120)).collect();
        let mut out = Vec::new();
        table(&rows, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        let heads = starts(
            lines[0],
            &["USER", "LABEL", "PROVIDER", "STATE", "TIME LEFT"],
        );
        assert_eq!(
            starts(
                lines[1],
                &["amira", "Emirates NBD", "dapi", "active", "permanent"]
            ),
            heads
        );
        assert_eq!(
            starts(
                lines[2],
                &[
                    "山田太郎",
                    "FAB",
                    "dapi",
                    "failed: a failure",
                    "expired 16m ago"
                ]
            ),
            heads
        );
        // As wide as the widest cell: the longest label, not a fixed width.
        assert_eq!(heads[2] - heads[1], "Emirates NBD".len() + 2, "{text}");
        assert!(
            lines[2].contains("failed: a failure whose reason goes on well pas…"),
            "{text}"
        );
        assert!(lines[1].ends_with("accounts balance"), "{text}");
        assert!(lines.iter().all(|l| !l.ends_with(' ')), "{text:?}");
    }
}
