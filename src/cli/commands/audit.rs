//! `audit`: the log's lines as a table or JSON, filtered as asked, each
//! naming whose connection it was.

use std::collections::HashMap;
use std::process::ExitCode;

use color_eyre::eyre::{Result, eyre};

use super::{kept, stored};
use crate::cli::context::Context;
use crate::cli::output::{self, fit};
use crate::domain::text::columns;
use crate::domain::{AuditEntry, ConnectionId, UnixTime};

pub fn audit(
    ctx: &Context,
    json: bool,
    mut query: crate::store::AuditQuery,
    matching: Option<&str>,
) -> Result<ExitCode> {
    let mut kept_by = String::new();
    if let Some(filter) = matching {
        let conns = ctx.store.connections().map_err(|e| eyre!("{e}"))?;
        let kept = kept(
            &conns,
            Some(filter),
            None,
            UnixTime::now(),
            ctx.config.warn_secs(),
        );
        // As `status` and `users list` do: nothing listed, and why.
        if let Some(none) = kept.none {
            tell!("{none}");
            if json {
                output::out_json(&[] as &[AuditEntry])?;
            }
            return Ok(ExitCode::SUCCESS);
        }
        query.among = Some(kept.conns.iter().map(|c| c.id).collect());
        kept_by = kept.matching;
    }
    // One line past the limit says whether the limit cut the answer: a
    // script reading `audit --since 1h --failed` must not take fifty for all.
    let limit = query.limit;
    query.limit = limit.saturating_add(1);
    let query = &query;
    let mut entries = ctx.store.audit_query(query).map_err(|e| eyre!("{e}"))?;
    if entries.len() > limit {
        entries.truncate(limit);
        let shown = match limit {
            1 => "the newest line is".to_owned(),
            n => format!("the newest {n} lines are"),
        };
        tell!("{shown} shown and more match: --limit N shows more");
    }
    // A mistyped id is not a connection without history: say which it is.
    if let (Some(id), true) = (query.connection, entries.is_empty()) {
        stored(ctx, id)?;
    }
    if entries.is_empty() && !json {
        tell!("{}", no_audit_lines(query, &kept_by));
    }
    if json {
        // The same objects as the archive's lines: `status --json` has the names.
        output::out_json(&entries)?;
        return Ok(ExitCode::SUCCESS);
    }
    let names = whose(ctx, &entries);
    // `-` for a connection the store could not name; nothing for a line
    // about no connection (a user added), whose id is `-` already.
    let who = |e: &AuditEntry| match e.connection {
        Some(c) => names.get(&c).map_or("-", String::as_str),
        None => "",
    };
    let width = (entries.iter())
        .map(|e| columns(who(e)))
        .max()
        .unwrap_or(0)
        .min(WHO_WIDTH);
    for e in &entries {
        say!("{}", audit_line(e, &fit(who(e), width)).trim_end())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Why `audit` printed nothing, in the words of the query: an empty output
/// alone does not say whether the filters or the log left nothing.
fn no_audit_lines(query: &crate::store::AuditQuery, matching: &str) -> String {
    if query.connection.is_none()
        && query.among.is_none()
        && query.since.is_none()
        && !query.failed_only
        && query.op.is_none()
    {
        return "the audit log is empty".to_string();
    }
    let mut said = match (query.failed_only, &query.op) {
        (true, Some(op)) => format!("no failed {op}{matching}"),
        (true, None) => format!("no failed operation{matching}"),
        (false, Some(op)) => format!("no {op} line{matching}"),
        (false, None) => format!("no audit line{matching}"),
    };
    if let Some(id) = query.connection {
        said.push_str(&format!(" for connection {id}"));
    }
    if let Some(t) = query.since {
        said.push_str(&format!(" since {}", t.rfc3339()));
    }
    said
}

/// The widest `user / label` column `audit` gives.
const WHO_WIDTH: usize = 36;

/// `user / label` of every connection the entries name: a
/// connection's id alone does not say whom to call. A connection the store
/// cannot read is left out (its lines show `-`) rather than failing the log.
fn whose(ctx: &Context, entries: &[AuditEntry]) -> HashMap<ConnectionId, String> {
    let mut ids: Vec<ConnectionId> = entries.iter().filter_map(|e| e.connection).collect();
    ids.sort_unstable();
    ids.dedup();
    // In slices: a long listing names tens of thousands of connections, and
    // only their names need to stay, not every row read whole at once.
    let mut names = HashMap::with_capacity(ids.len());
    for slice in ids.chunks(1_000) {
        let read = ctx.store.connections_by_id(slice);
        names.extend(
            (slice.iter().zip(read))
                .filter_map(|(&id, c)| Some((id, c.ok()??)))
                .map(|(id, c)| (id, c.name())),
        );
    }
    names
}

/// One entry as `audit` prints it: time, actor, connection and whose it is,
/// operation, result and message, in columns.
fn audit_line(e: &AuditEntry, who: &str) -> String {
    let conn = e
        .connection
        .map_or_else(|| "-".to_string(), |c| c.to_string());
    let result = if e.ok { "ok" } else { "FAILED" };
    format!(
        "{}  {:<12} {:>6} {who}  {:<18} {:<6} {}",
        e.at, e.actor, conn, e.op, result, e.message
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::OpKind;

    #[test]
    fn audit_lines_keep_their_columns_whatever_the_operation() {
        let entry = |op, ok, connection| AuditEntry {
            id: 1,
            at: UnixTime(1_700_000_000),
            actor: "root".into(),
            connection,
            op,
            ok,
            message: "m".into(),
        };
        let lines = [
            audit_line(
                &entry(OpKind::Link, true, Some(ConnectionId(1))),
                "amira / FAB",
            ),
            audit_line(
                &entry(OpKind::ClientCredentials, false, Some(ConnectionId(12))),
                "app / bank ",
            ),
            audit_line(&entry(OpKind::AddUser, true, None), "           "),
        ];
        assert_eq!(
            lines,
            [
                "2023-11-14T22:13:20Z  root              1 amira / FAB  link               ok     m",
                "2023-11-14T22:13:20Z  root             12 app / bank   client_credentials FAILED m",
                "2023-11-14T22:13:20Z  root              -              add_user           ok     m",
            ]
        );
    }
}
