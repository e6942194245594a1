//! Records kept as `meta` rows, each a JSON value under its own key: the
//! renewers' records ([`Renewal`]) and the providers' asked waits
//! ([`ProviderWait`]).
//!
//! A record is a fact about a process or a provider, not about a
//! connection: it writes no audit line (a scheduler records itself every
//! minute) and bumps no schema version (an older bankdeck never reads these
//! keys).

use std::path::Path;

use rusqlite::{Connection as Db, OptionalExtension, Transaction, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::sql_error::sql;
use crate::domain::{ProviderWait, Renewal};
use crate::store::StoreError;

pub(crate) fn note(tx: &Transaction<'_>, db: &Path, record: &Renewal) -> Result<(), StoreError> {
    put(tx, db, &record.key(), record)
}

/// Every record, newest first.
pub(crate) fn all(db_conn: &Db, db: &Path) -> Result<Vec<Renewal>, StoreError> {
    let mut records: Vec<Renewal> = under(db_conn, db, Renewal::KEY_PREFIX)?;
    records.sort_by_key(|r| std::cmp::Reverse(r.at()));
    Ok(records)
}

/// Keeps `wait` unless the store already holds a longer one for its
/// provider: two processes that heard different answers both wait for the
/// later end.
pub(crate) fn note_wait(
    tx: &Transaction<'_>,
    db: &Path,
    wait: &ProviderWait,
) -> Result<(), StoreError> {
    let key = wait.key();
    let held: Option<ProviderWait> = tx
        .query_row(
            "SELECT CAST(value AS TEXT) FROM meta WHERE key = ?1",
            [&key],
            |r| r.get::<_, String>(0),
        )
        .optional()
        .map_err(sql(db))?
        .and_then(|v| serde_json::from_str(&v).ok());
    if held.is_some_and(|h| h.until >= wait.until) {
        return Ok(());
    }
    put(tx, db, &key, wait)
}

/// Every provider's last asked wait, over or not, by provider.
pub(crate) fn waits(db_conn: &Db, db: &Path) -> Result<Vec<ProviderWait>, StoreError> {
    under(db_conn, db, ProviderWait::KEY_PREFIX)
}

fn put<T: Serialize>(
    tx: &Transaction<'_>,
    db: &Path,
    key: &str,
    value: &T,
) -> Result<(), StoreError> {
    let value = serde_json::to_string(value)
        .map_err(|e| StoreError::Invalid(format!("a record ({key}): {e}")))?;
    tx.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
        params![key, value],
    )
    .map(drop)
    .map_err(sql(db))
}

/// Every record whose key starts with `prefix`, in key order. One a newer
/// bankdeck wrote in a shape this one does not know is left out: it says
/// nothing this one could weigh.
fn under<T: DeserializeOwned>(db_conn: &Db, db: &Path, prefix: &str) -> Result<Vec<T>, StoreError> {
    let mut stmt = db_conn
        .prepare_cached(
            "SELECT CAST(value AS TEXT) FROM meta \
             WHERE key >= ?1 AND key < ?1 || x'ff' ORDER BY key",
        )
        .map_err(sql(db))?;
    let rows = stmt
        .query_map([prefix], |r| r.get::<_, String>(0))
        .map_err(sql(db))?;
    let mut records = Vec::new();
    for row in rows {
        if let Ok(record) = serde_json::from_str::<T>(&row.map_err(sql(db))?) {
            records.push(record);
        }
    }
    Ok(records)
}
