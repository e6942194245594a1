//! Group commit: many writers, one `synchronous=FULL` commit.
//!
//! A refresh's new tokens must be on disk before anyone hears of them, and an
//! fsync costs about a millisecond. With 64 refreshes in flight, one commit
//! each would cap the worker near a thousand writes a second whatever the
//! network does. So a writer queues its write; if no other writer is leading,
//! it leads: it takes every queued write, runs each in its own savepoint (a
//! failing write rolls back alone), commits once, and answers them all; then
//! it hands the lead to the first write queued meanwhile. The others sleep on
//! their own answer, so a group wakes each writer once. Nobody is answered
//! before the commit that holds their write, and if that commit fails every
//! write in it fails.
//!
//! A lease alone need not survive a power cut (a lease of a process that no
//! longer exists is broken anyway), so a group of lease writes only commits
//! without the fsync; the next durable commit carries it to disk.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use rusqlite::{Transaction, TransactionBehavior};

use super::crypto::FieldCipher;
use super::sql_error::sql;
use crate::store::StoreError;

/// The queue of writes and whether a writer is leading a group now.
#[derive(Default)]
pub(super) struct Queue {
    pub jobs: Vec<Box<dyn Pending>>,
    pub leading: bool,
}

/// What a queued writer is woken with.
pub(super) enum Answer<T> {
    Done(Result<T, StoreError>),
    /// Lead the next group (which holds your write).
    Lead,
}

/// A write with its answer channel, the type of its result erased.
pub(super) trait Pending: Send {
    /// Whether the write must be on disk before it is answered.
    fn durable(&self) -> bool;
    /// Runs the write inside the group's transaction, in its own savepoint
    /// (see [`isolated`]).
    fn run(
        &mut self,
        tx: &Transaction<'_>,
        cipher: &FieldCipher,
        db: &Path,
    ) -> rusqlite::Result<()>;
    /// Answers the writer once the group's commit is known.
    fn settle(self: Box<Self>, commit: Result<(), &StoreError>);
    /// Wakes the writer to lead the next group.
    fn lead(&self);
}

type WriteFn<T> =
    Box<dyn FnOnce(&Transaction<'_>, &FieldCipher, &Path) -> Result<T, StoreError> + Send>;

struct Job<T> {
    durable: bool,
    write: Option<WriteFn<T>>,
    out: Option<Result<T, StoreError>>,
    reply: SyncSender<Answer<T>>,
}

/// Wraps `write` for the queue; the receiver gets its answer.
pub(super) fn job<T: Send + 'static>(
    durable: bool,
    write: impl FnOnce(&Transaction<'_>, &FieldCipher, &Path) -> Result<T, StoreError> + Send + 'static,
) -> (Box<dyn Pending>, Receiver<Answer<T>>) {
    // Room for both messages a writer can get: the lead, then its answer.
    let (reply, rx) = sync_channel(2);
    let job = Job {
        durable,
        write: Some(Box::new(write)),
        out: None,
        reply,
    };
    (Box::new(job), rx)
}

impl<T: Send> Pending for Job<T> {
    fn durable(&self) -> bool {
        self.durable
    }

    fn run(
        &mut self,
        tx: &Transaction<'_>,
        cipher: &FieldCipher,
        db: &Path,
    ) -> rusqlite::Result<()> {
        let Some(write) = self.write.take() else {
            return Ok(());
        };
        self.out = Some(isolated(tx, || write(tx, cipher, db))?);
        Ok(())
    }

    fn settle(self: Box<Self>, commit: Result<(), &StoreError>) {
        let answer = match (commit, self.out) {
            (Err(e), _) => Err(e.clone()),
            (Ok(()), Some(out)) => out,
            (Ok(()), None) => Err(StoreError::Io("a store write never ran".into())),
        };
        // The writer waits on this channel; if it is gone there is nobody to tell.
        let _ = self.reply.try_send(Answer::Done(answer));
    }

    fn lead(&self) {
        let _ = self.reply.try_send(Answer::Lead);
    }
}

/// Runs `jobs` in one `BEGIN IMMEDIATE` transaction and answers each.
pub(super) fn commit_group(
    conn: &mut rusqlite::Connection,
    cipher: &FieldCipher,
    db: &Path,
    mut jobs: Vec<Box<dyn Pending>>,
) {
    let durable = jobs.iter().any(|j| j.durable());
    let sync = if durable { "FULL" } else { "NORMAL" };
    if let Err(e) = conn.pragma_update(None, "synchronous", sync) {
        return settle(jobs, Err(&sql(db)(e)));
    }
    let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => return settle(jobs, Err(&sql(db)(e))),
    };
    let mut run_all = |tx: &Transaction<'_>| -> rusqlite::Result<()> {
        for job in &mut jobs {
            job.run(tx, cipher, db)?;
        }
        Ok(())
    };
    // On any error the transaction drops unfinished, rolling back the group.
    // Nothing restores the mode: every transaction on this connection (each
    // group here, each `SqliteStore::write`) sets its own before it begins.
    match run_all(&tx).and_then(|()| tx.commit()) {
        Ok(()) => settle(jobs, Ok(())),
        Err(e) => settle(jobs, Err(&sql(db)(e))),
    }
}

/// Runs `write` in a savepoint of its own, so that when it fails (or panics)
/// only its own changes are undone and the transaction goes on. The outer
/// error is the savepoint's own failure, which spoils the whole transaction.
pub(super) fn isolated<T>(
    tx: &Transaction<'_>,
    write: impl FnOnce() -> Result<T, StoreError>,
) -> rusqlite::Result<Result<T, StoreError>> {
    // Cached: a batch opens one savepoint per write, and parsing each anew
    // showed in the refresh profile.
    tx.prepare_cached("SAVEPOINT w")?.execute([])?;
    let out = catch_unwind(AssertUnwindSafe(write)).unwrap_or_else(|_| {
        Err(StoreError::Io(
            "a store write failed unexpectedly; nothing of it was kept".into(),
        ))
    });
    if out.is_err() {
        tx.prepare_cached("ROLLBACK TO w")?.execute([])?;
    }
    tx.prepare_cached("RELEASE w")?.execute([])?;
    Ok(out)
}

/// Runs `write` on each item and answers each; a failing item undoes only
/// its own changes. A savepoint per item costs a copy of every page the item
/// touches (a sixth of a batched refresh's store time), and items rarely
/// fail, so the batch first runs under one savepoint; only if an item fails
/// (or panics) is that undone and the batch run again with a savepoint per
/// item, each [`isolated`]. A savepoint's own failure spoils the
/// transaction, so it fails the whole batch.
pub(super) fn each_isolated<I, T>(
    tx: &Transaction<'_>,
    db: &Path,
    items: &[I],
    mut write: impl FnMut(&I) -> Result<T, StoreError>,
) -> Result<Vec<Result<T, StoreError>>, StoreError> {
    let mut batch = || -> rusqlite::Result<Option<Vec<Result<T, StoreError>>>> {
        tx.prepare_cached("SAVEPOINT batch")?.execute([])?;
        let mut outs = Vec::with_capacity(items.len());
        for item in items {
            match catch_unwind(AssertUnwindSafe(|| write(item))) {
                Ok(Ok(out)) => outs.push(Ok(out)),
                _ => {
                    tx.prepare_cached("ROLLBACK TO batch")?.execute([])?;
                    tx.prepare_cached("RELEASE batch")?.execute([])?;
                    return Ok(None);
                }
            }
        }
        tx.prepare_cached("RELEASE batch")?.execute([])?;
        Ok(Some(outs))
    };
    if let Some(outs) = batch().map_err(sql(db))? {
        return Ok(outs);
    }
    items
        .iter()
        .map(|item| isolated(tx, || write(item)).map_err(sql(db)))
        .collect()
}

/// One answer per item of a batch of `n`: the batch's own, or its failure
/// for every item.
pub(super) fn per_item<T>(
    n: usize,
    batch: Result<Vec<Result<T, StoreError>>, StoreError>,
) -> Vec<Result<T, StoreError>> {
    batch.unwrap_or_else(|e| (0..n).map(|_| Err(e.clone())).collect())
}

pub(super) fn settle(jobs: Vec<Box<dyn Pending>>, commit: Result<(), &StoreError>) {
    for job in jobs {
        job.settle(commit);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::crypto::{KEY_LEN, random_bytes};

    fn db() -> rusqlite::Connection {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (v TEXT NOT NULL UNIQUE)")
            .unwrap();
        conn
    }

    fn insert(v: &'static str, then_fail: bool) -> (Box<dyn Pending>, Receiver<Answer<i64>>) {
        job(true, move |tx, _, _| {
            tx.execute("INSERT INTO t (v) VALUES (?1)", [v])
                .map_err(|e| StoreError::Io(e.to_string()))?;
            if then_fail {
                return Err(StoreError::Invalid(format!("{v} refused after its insert")));
            }
            Ok(tx.last_insert_rowid())
        })
    }

    fn done<T>(rx: &Receiver<Answer<T>>) -> Result<T, StoreError> {
        match rx.try_recv() {
            Ok(Answer::Done(out)) => out,
            _ => panic!("no answer"),
        }
    }

    fn rows(conn: &rusqlite::Connection) -> Vec<String> {
        let mut stmt = conn.prepare("SELECT v FROM t ORDER BY v").unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn a_failing_write_rolls_back_alone_and_the_rest_commit_together() {
        let mut conn = db();
        let cipher = FieldCipher::new(&random_bytes::<KEY_LEN>());
        let (a, ra) = insert("a", false);
        let (b, rb) = insert("b", true);
        let (c, rc) = insert("c", false);
        let panics: (Box<dyn Pending>, Receiver<Answer<()>>) = job(false, |tx, _, _| {
            tx.execute("INSERT INTO t (v) VALUES ('p')", []).unwrap();
            panic!("a write that panics");
        });
        let (d, rd) = insert("d", false);
        commit_group(
            &mut conn,
            &cipher,
            Path::new("mem"),
            vec![a, b, c, panics.0, d],
        );
        assert!(done(&ra).is_ok());
        assert!(matches!(done(&rb), Err(StoreError::Invalid(_))));
        assert!(done(&rc).is_ok());
        assert!(matches!(done(&panics.1), Err(StoreError::Io(_))));
        assert!(done(&rd).is_ok());
        assert_eq!(rows(&conn), ["a", "c", "d"]);
        assert!(conn.is_autocommit(), "the group's transaction is finished");
    }

    #[test]
    fn a_batch_keeps_every_item_but_the_one_that_fails_or_panics() {
        let conn = db();
        let tx = conn.unchecked_transaction().unwrap();
        let items = ["a", "b!", "c", "panic", "d"];
        let answers = each_isolated(&tx, Path::new("mem"), &items, |v| {
            tx.execute("INSERT INTO t (v) VALUES (?1)", [v])
                .map_err(|e| StoreError::Io(e.to_string()))?;
            match *v {
                "panic" => panic!("an item that panics after its insert"),
                v if v.ends_with('!') => Err(StoreError::Invalid(format!("{v} refused"))),
                _ => Ok(v.len()),
            }
        })
        .unwrap();
        let ok: Vec<bool> = answers.iter().map(Result::is_ok).collect();
        assert_eq!(ok, [true, false, true, false, true]);
        assert!(matches!(answers[1], Err(StoreError::Invalid(_))));
        tx.commit().unwrap();
        assert_eq!(rows(&conn), ["a", "c", "d"]);
    }

    #[test]
    fn a_batch_that_all_holds_is_written_once() {
        let conn = db();
        let tx = conn.unchecked_transaction().unwrap();
        let mut calls = 0;
        let answers = each_isolated(&tx, Path::new("mem"), &["a", "b"], |v| {
            calls += 1;
            tx.execute("INSERT INTO t (v) VALUES (?1)", [v])
                .map_err(|e| StoreError::Io(e.to_string()))
        })
        .unwrap();
        assert_eq!(answers.len(), 2);
        assert_eq!(calls, 2);
        tx.commit().unwrap();
        assert_eq!(rows(&conn), ["a", "b"]);
    }

    #[test]
    fn when_the_group_cannot_begin_every_write_hears_so_and_nothing_is_kept() {
        let mut conn = db();
        let cipher = FieldCipher::new(&random_bytes::<KEY_LEN>());
        // A transaction already open makes BEGIN IMMEDIATE fail.
        conn.execute_batch("BEGIN").unwrap();
        let (a, ra) = insert("a", false);
        let (b, rb) = insert("b", false);
        commit_group(&mut conn, &cipher, Path::new("mem"), vec![a, b]);
        assert!(done(&ra).is_err());
        assert!(done(&rb).is_err());
        conn.execute_batch("ROLLBACK").unwrap();
        assert!(rows(&conn).is_empty());
    }

    #[test]
    fn lease_only_groups_skip_the_fsync_and_one_durable_write_makes_a_group_durable() {
        let mut conn = db();
        let cipher = FieldCipher::new(&random_bytes::<KEY_LEN>());
        conn.pragma_update(None, "synchronous", "FULL").unwrap();
        let sync = |c: &rusqlite::Connection| -> i64 {
            c.pragma_query_value(None, "synchronous", |r| r.get(0))
                .unwrap()
        };
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let light = |seen: std::sync::Arc<std::sync::Mutex<Vec<i64>>>, durable| {
            job(durable, move |tx, _, _| {
                let mode = tx
                    .pragma_query_value(None, "synchronous", |r| r.get(0))
                    .map_err(|e| StoreError::Io(e.to_string()))?;
                seen.lock().unwrap().push(mode);
                Ok(())
            })
        };
        let (a, _ra) = light(seen.clone(), false);
        commit_group(&mut conn, &cipher, Path::new("mem"), vec![a]);
        let (b, _rb) = light(seen.clone(), false);
        let (c, _rc) = light(seen.clone(), true);
        commit_group(&mut conn, &cipher, Path::new("mem"), vec![b, c]);
        // 1 = NORMAL, 2 = FULL: one durable write makes the whole group durable.
        assert_eq!(*seen.lock().unwrap(), [1, 2, 2]);
        assert_eq!(sync(&conn), 2);
    }
}
