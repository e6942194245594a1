//! Moving the audit log's oldest lines out (`bankdeck audit archive`).
//!
//! The log is append-only, and every operation adds a line: a scheduler
//! refreshing thousands of short tokens adds millions a day. An archive
//! moves a prefix of the log (by id) to a file the caller writes and makes
//! durable first; only then does [`mark`] record, with an audit line of its
//! own, the last id the file holds, and only lines at or below that mark
//! may be deleted (the `audit_no_delete` trigger checks each). The deletes
//! come last, in small transactions, so another process's writes wait
//! moments, not minutes; an archive stopped among them leaves lines the
//! next one removes first. Whatever stops an archive, every line is in the
//! log or in a file, never in neither.

use std::path::Path;

use rusqlite::{Connection as Db, OptionalExtension, Transaction, params};

use super::rows;
use super::schema::ARCHIVED_UPTO;
use super::sql_error::sql;
use super::writes;
use crate::domain::{AuditEntry, UnixTime};
use crate::store::{ArchivePlan, AuditDraft, StoreError};

/// The archive mark, its key bound as `?1`. Read as an integer: SQLite
/// orders every number below every blob, so a mark compared as stored
/// could let every line go (the delete trigger reads it the same way).
const MARK: &str = "SELECT CAST(value AS INTEGER) FROM meta WHERE key = ?1";

fn archived_upto(db_conn: &Db, db: &Path) -> Result<i64, StoreError> {
    db_conn
        .query_row(MARK, [ARCHIVED_UPTO], |r| r.get(0))
        .optional()
        .map(Option::unwrap_or_default)
        .map_err(sql(db))
}

/// One statement, so one snapshot: a line another process appends while
/// this reads is either seen with its time or not seen at all. The prefix
/// ends before the first line that is not older than `before`, even if a
/// later one is (a clock set back): lines are moved in the order they were
/// written, and a newer one is never taken.
pub(crate) fn plan(db_conn: &Db, db: &Path, before: UnixTime) -> Result<ArchivePlan, StoreError> {
    let archived = archived_upto(db_conn, db)?;
    let (left_behind, upto): (i64, i64) = db_conn
        .query_row(
            "SELECT (SELECT count(*) FROM audit WHERE id <= ?1), \
                    coalesce((SELECT id - 1 FROM audit WHERE id > ?1 AND at >= ?2 \
                              ORDER BY id LIMIT 1), \
                             (SELECT max(id) FROM audit), ?1)",
            params![archived, before.0],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map_err(sql(db))?;
    Ok(ArchivePlan {
        archived,
        left_behind: u64::try_from(left_behind).unwrap_or(0),
        upto: upto.max(archived),
    })
}

/// The time of the first line after the archive mark, if there is a mark.
pub(crate) fn log_begins(db_conn: &Db, db: &Path) -> Result<Option<UnixTime>, StoreError> {
    db_conn
        .prepare_cached(&format!(
            "SELECT at FROM audit WHERE id > ({MARK}) ORDER BY id LIMIT 1"
        ))
        .and_then(|mut s| s.query_row([ARCHIVED_UPTO], |r| r.get(0)).optional())
        .map(|at| at.map(UnixTime))
        .map_err(sql(db))
}

/// The lines after `after` up to `upto`, oldest first, at most `limit`.
pub(crate) fn between(
    db_conn: &Db,
    db: &Path,
    after: i64,
    upto: i64,
    limit: usize,
) -> Result<Vec<AuditEntry>, StoreError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    db_conn
        .prepare_cached(&format!(
            "{} WHERE id > ?1 AND id <= ?2 ORDER BY id LIMIT ?3",
            rows::SELECT_AUDIT
        ))
        .and_then(|mut s| {
            s.query_map(params![after, upto, limit], rows::audit_entry)?
                .collect()
        })
        .map_err(sql(db))
}

/// Records that a file holds every line up to `upto`, with `audit` (which
/// says where) as a line of the log; refused when the mark is no longer
/// `from`: another archive moved lines meanwhile, and the caller's file
/// may repeat some of them.
pub(crate) fn mark(
    tx: &Transaction<'_>,
    db: &Path,
    from: i64,
    upto: i64,
    audit: &AuditDraft,
) -> Result<(), StoreError> {
    let now = archived_upto(tx, db)?;
    if now != from {
        return Err(StoreError::Refused(format!(
            "another archive moved the audit log's lines up to {now} meanwhile \
             (this one began after line {from}); nothing was recorded"
        )));
    }
    if upto < from {
        return Err(StoreError::Invalid(format!(
            "an archive cannot end at line {upto}, before line {from}, which an earlier one holds"
        )));
    }
    tx.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
        params![ARCHIVED_UPTO, upto],
    )
    .map_err(sql(db))?;
    writes::append_audit(tx, None, audit).map_err(sql(db))
}

/// Deletes up to `limit` of the oldest lines the mark covers; how many.
pub(crate) fn remove(tx: &Transaction<'_>, db: &Path, limit: usize) -> Result<u64, StoreError> {
    let upto = archived_upto(tx, db)?;
    let first: Option<i64> = tx
        .query_row("SELECT min(id) FROM audit", [], |r| r.get(0))
        .map_err(sql(db))?;
    let Some(first) = first.filter(|&f| f <= upto) else {
        return Ok(0);
    };
    let span = i64::try_from(limit).unwrap_or(i64::MAX).max(1);
    let end = upto.min(first.saturating_add(span - 1));
    let gone = tx
        .execute("DELETE FROM audit WHERE id <= ?1", [end])
        .map_err(sql(db))?;
    Ok(gone as u64)
}
