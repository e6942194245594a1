//! How connections look to scripts: the `status --json` objects and the
//! plain table. Built from the derived state; there is no field a token could
//! reach.

use std::io::Write;

use serde::Serialize;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use crate::domain::{ConnState, Connection, UnixTime};

/// The exit status of a command whose reader went away: what a shell
/// reports for a tool that SIGPIPE ended (128 + 13).
pub const BROKEN_PIPE_EXIT: i32 = 141;

/// Writes `bytes` to standard output now. A reader that has gone away
/// (`bankdeck audit | head`) ends the command as it ends any Unix tool:
/// quietly, with [`BROKEN_PIPE_EXIT`], where `println!` panics. Everything
/// a command changes is written before it prints, so nothing is lost.
pub fn out_bytes(bytes: &[u8]) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            std::process::exit(BROKEN_PIPE_EXIT)
        }
        other => other,
    }
}

/// [`out_bytes`] for formatted text; the commands call it through `say!`.
pub fn out(text: std::fmt::Arguments<'_>) -> std::io::Result<()> {
    match text.as_str() {
        Some(s) => out_bytes(s.as_bytes()),
        None => out_bytes(text.to_string().as_bytes()),
    }
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
    pub scopes: &'a [String],
    pub denied_scopes: &'a [String],
    pub products: &'a [String],
    pub last_error: Option<&'a str>,
    pub last_op: Option<String>,
    pub connection_id: Option<&'a str>,
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
            scopes: &c.scopes.granted,
            denied_scopes: &c.scopes.denied,
            products: &c.scopes.products,
            last_error: c.flags.last_error.as_deref(),
            last_op: c.last_op.as_ref().map(|o| {
                format!(
                    "{} {} {}",
                    o.op,
                    if o.ok { "ok" } else { "failed" },
                    o.at.rfc3339()
                )
            }),
            connection_id: c.remote.connection_id.as_deref(),
        }
    }
}

/// A fixed-width table for people; columns are cut, never wrapped.
pub fn table(rows: &[StatusRow<'_>]) -> String {
    let mut out = format!(
        "{:>6}  {:<16} {:<12} {:<7} {:<34} {:<16} {}\n",
        "ID", "USER", "PROVIDER", "KIND", "STATE", "TIME LEFT", "SCOPES"
    );
    for r in rows {
        out.push_str(&format!(
            "{:>6}  {} {} {:<7} {} {:<16} {}\n",
            r.id,
            fit(r.user, 16),
            fit(r.provider, 12),
            r.kind,
            fit(&r.state_text, 34),
            r.time_left,
            cut(&r.scopes.join(" "), 40)
        ));
    }
    out
}

/// `s` cut to `columns` and padded to them: counted in terminal columns, not
/// chars, since a CJK name or an emoji takes two and would push every column
/// after it out of line.
pub fn fit(s: &str, columns: usize) -> String {
    let mut t = cut(s, columns);
    let pad = columns.saturating_sub(t.width());
    t.extend(std::iter::repeat_n(' ', pad));
    t
}

/// `s` in at most `columns` terminal columns, an ellipsis marking the cut.
pub fn cut(s: &str, columns: usize) -> String {
    if s.width() <= columns {
        return s.to_string();
    }
    let room = columns.saturating_sub(1);
    let mut used = 0;
    let mut t: String = s
        .chars()
        .take_while(|c| {
            used += c.width().unwrap_or(0);
            used <= room
        })
        .collect();
    t.push('…');
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_names_are_cut_and_padded_by_columns_not_chars() {
        assert_eq!(fit("ann", 6), "ann   ");
        // Four chars, eight columns.
        assert_eq!(fit("山田太郎", 10), "山田太郎  ");
        assert_eq!(fit("山田太郎", 6).width(), 6);
        assert_eq!(cut("山田太郎", 6), "山田…");
        assert_eq!(cut("abcdefgh", 5), "abcd…");
        assert_eq!(cut("abcde", 5), "abcde");
        for name in ["山田 太郎", "Zoë 👩\u{200d}💻 Łukasz", "a\u{301}bc", "x"] {
            for columns in 1..12 {
                assert_eq!(fit(name, columns).width(), columns, "{name:?} in {columns}");
            }
        }
    }
}
