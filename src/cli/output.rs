//! How connections look to scripts: the `status --json` objects and the
//! plain table. Built from the derived state; there is no field a token could
//! reach.

use serde::Serialize;

use crate::domain::{ConnState, Connection, UnixTime};

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
            "{:>6}  {:<16} {:<12} {:<7} {:<34} {:<16} {}\n",
            r.id,
            cut(r.user, 16),
            cut(r.provider, 12),
            r.kind,
            cut(&r.state_text, 34),
            r.time_left,
            cut(&r.scopes.join(" "), 40)
        ));
    }
    out
}

pub fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}
