//! Records kept as `meta` rows, each a JSON value under its own key: the
//! renewers' records ([`Renewal`]) and the providers' asked waits
//! ([`ProviderWait`]).
//!
//! A record is a fact about a process or a provider, not about a
//! connection: it writes no audit line (a scheduler records itself every
//! minute; an operator's lift of a wait is the one that does) and bumps no
//! schema version (an older bankdeck never reads these keys).

use std::path::Path;

use rusqlite::{Connection as Db, Transaction};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::keys::{get_meta, put_meta};
use super::sql_error::sql;
use super::writes::append_audit;
use crate::domain::{OpKind, ProviderWait, Renewal};
use crate::store::{AuditDraft, StoreError};

/// Keeps `record`. A running scheduler's also removes the records of the
/// schedulers that have stopped: each dashboard keeps its own, and a store
/// opened by a dashboard a day would otherwise gather one a day. While one
/// runs, `check` has no use for the others; the last to stop leaves its own.
pub(crate) fn note(tx: &Transaction<'_>, db: &Path, record: &Renewal) -> Result<(), StoreError> {
    let key = record.key();
    if let Renewal::Scheduler { ended: false, .. } = record {
        let schedulers = format!("{}scheduler", Renewal::KEY_PREFIX);
        for (other, was) in under::<Renewal>(tx, db, &schedulers)? {
            if other != key && !was.running(record.at()) {
                tx.execute("DELETE FROM meta WHERE key = ?1", [&other])
                    .map_err(sql(db))?;
            }
        }
    }
    put(tx, db, &key, record)
}

/// Every record, newest first.
pub(crate) fn all(db_conn: &Db, db: &Path) -> Result<Vec<Renewal>, StoreError> {
    let mut records: Vec<Renewal> = (under(db_conn, db, Renewal::KEY_PREFIX)?.into_iter())
        .map(|(_, r)| r)
        .collect();
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
    if kept_wait(tx, db, wait)?.is_some_and(|h| !wait.replaces(&h)) {
        return Ok(());
    }
    put(tx, db, &wait.key(), wait)
}

/// The wait kept for `wait`'s provider; one in a shape this bankdeck does
/// not know counts as none.
fn kept_wait(
    tx: &Transaction<'_>,
    db: &Path,
    wait: &ProviderWait,
) -> Result<Option<ProviderWait>, StoreError> {
    Ok(get_meta(tx, &wait.key(), db)?.and_then(|v| serde_json::from_slice(&v).ok()))
}

/// Keeps `lift` in place of its provider's asked wait, with its audit
/// line, when one holds at the lift's time: the wait it set aside. An
/// operator's act, so audited, unlike the records a process keeps.
pub(crate) fn lift_wait(
    tx: &Transaction<'_>,
    db: &Path,
    lift: &ProviderWait,
) -> Result<Option<ProviderWait>, StoreError> {
    let held = kept_wait(tx, db, lift)?;
    let Some(held) = held.filter(|h| h.holds(lift.heard) && lift.replaces(h)) else {
        return Ok(None);
    };
    put(tx, db, &lift.key(), lift)?;
    let audit = AuditDraft {
        at: lift.heard,
        actor: lift.lifted_by.clone().unwrap_or_default(),
        op: OpKind::LiftWait,
        ok: true,
        message: lift.set_aside(&held),
    };
    append_audit(tx, None, &audit).map_err(sql(db))?;
    Ok(Some(held))
}

/// Every provider's last asked wait, over or not, by provider.
pub(crate) fn waits(db_conn: &Db, db: &Path) -> Result<Vec<ProviderWait>, StoreError> {
    Ok((under(db_conn, db, ProviderWait::KEY_PREFIX)?.into_iter())
        .map(|(_, w)| w)
        .collect())
}

fn put<T: Serialize>(
    tx: &Transaction<'_>,
    db: &Path,
    key: &str,
    value: &T,
) -> Result<(), StoreError> {
    let value = serde_json::to_string(value)
        .map_err(|e| StoreError::Invalid(format!("a record ({key}): {e}")))?;
    put_meta(tx, key, value).map(drop).map_err(sql(db))
}

/// Every record whose key starts with `prefix`, with its key, in key
/// order. One a newer bankdeck wrote in a shape this one does not know is
/// left out: it says nothing this one could weigh.
fn under<T: DeserializeOwned>(
    db_conn: &Db,
    db: &Path,
    prefix: &str,
) -> Result<Vec<(String, T)>, StoreError> {
    let mut stmt = db_conn
        .prepare_cached(
            "SELECT key, CAST(value AS TEXT) FROM meta \
             WHERE key >= ?1 AND key < ?1 || x'ff' ORDER BY key",
        )
        .map_err(sql(db))?;
    let rows = stmt
        .query_map([prefix], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })
        .map_err(sql(db))?;
    let mut records = Vec::new();
    for row in rows {
        let (key, value) = row.map_err(sql(db))?;
        if let Ok(record) = serde_json::from_str::<T>(&value) {
            records.push((key, record));
        }
    }
    Ok(records)
}
