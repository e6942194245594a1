//! The renewers' records ([`Renewal`]), one `meta` row each.
//!
//! A record is a fact about a process, not about a connection: it writes no
//! audit line (a scheduler records itself every minute) and bumps no schema
//! version (an older bankdeck never reads these keys).

use std::path::Path;

use rusqlite::{Connection as Db, Transaction, params};

use super::sql_error::sql;
use crate::domain::Renewal;
use crate::store::StoreError;

pub(crate) fn note(tx: &Transaction<'_>, db: &Path, record: &Renewal) -> Result<(), StoreError> {
    let value = serde_json::to_string(record)
        .map_err(|e| StoreError::Invalid(format!("a renewer's record: {e}")))?;
    tx.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
        params![record.key(), value],
    )
    .map(drop)
    .map_err(sql(db))
}

/// Every record, newest first. One a newer bankdeck wrote in a shape this
/// one does not know is left out: it says nothing this one could weigh.
pub(crate) fn all(db_conn: &Db, db: &Path) -> Result<Vec<Renewal>, StoreError> {
    let mut stmt = db_conn
        .prepare_cached(
            "SELECT CAST(value AS TEXT) FROM meta \
             WHERE key >= ?1 AND key < ?1 || x'ff'",
        )
        .map_err(sql(db))?;
    let rows = stmt
        .query_map([Renewal::KEY_PREFIX], |r| r.get::<_, String>(0))
        .map_err(sql(db))?;
    let mut records = Vec::new();
    for row in rows {
        if let Ok(record) = serde_json::from_str::<Renewal>(&row.map_err(sql(db))?) {
            records.push(record);
        }
    }
    records.sort_by_key(|r| std::cmp::Reverse(r.at()));
    Ok(records)
}
