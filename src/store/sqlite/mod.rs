//! The embedded backend: one SQLite file in WAL mode, fields sealed with AEAD.
//!
//! Two `rusqlite::Connection`s, each behind a `Mutex`, make the store
//! `Send + Sync`: one writes, one reads, so a read never waits for another
//! write's fsync (WAL lets a reader see the last commit while a writer works).
//! Writes take the write lock up front (`BEGIN IMMEDIATE`) so that two
//! bankdeck processes queue on `busy_timeout` instead of failing halfway
//! through a transaction. The writes of operations on connections (token
//! changes, leases, audit lines) are group-committed (see `group`).

mod archive;
mod crypto;
mod files;
mod group;
mod keys;
mod on_disk;
mod open;
mod options;
mod reads;
mod records;
mod rows;
mod schema;
mod sql_error;
mod writes;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::{Transaction, TransactionBehavior};

/// Also how the demo and `sandbox --write-config` write their secret files.
pub(crate) use files::{create_private_file, folder_of, open_to_others};
pub use options::{
    DB_FILE, ENV_DATA_DIR, ENV_KEY_FILE, ENV_PASSPHRASE, KeySource, OpenOptions, default_paths,
    platform_dirs,
};
pub use schema::LATEST as SCHEMA_VERSION;

use crypto::FieldCipher;
use sql_error::sql;

use super::{
    ArchivePlan, AuditDraft, AuditQuery, Changes, ConnectionHead, ConnectionUpdate, Lease,
    LeaseRequest, Leased, NewConnection, SecretSet, Settlement, Store, StoreError,
};
use crate::domain::{
    AuditEntry, Connection, ConnectionId, Flags, ProviderWait, Renewal, Secrets, UnixTime, User,
    UserId,
};

/// The embedded [`Store`]: open it with [`SqliteStore::open`].
pub struct SqliteStore {
    /// Declared before `conn` so it closes first: the writer, closing last,
    /// is the one that folds the WAL back into the file.
    reader: Option<Mutex<rusqlite::Connection>>,
    conn: Mutex<rusqlite::Connection>,
    /// Writes waiting for the next group commit.
    queue: Mutex<group::Queue>,
    cipher: FieldCipher,
    db: PathBuf,
    /// The file the handles are on ([`on_disk`]); `None` once it was put
    /// back and could not be opened again.
    file: Mutex<Option<on_disk::FileId>>,
    read_only: bool,
}

impl SqliteStore {
    /// Opens (or, unless read-only, creates) the store. Every refusal —
    /// permissions, damage, wrong key, newer schema — happens before anything
    /// is written.
    pub fn open(opts: OpenOptions) -> Result<Self, StoreError> {
        let (conn, cipher) = open::open(&opts)?;
        let db = opts.db_path();
        let file = on_disk::file_at(&db)?
            .ok_or_else(|| StoreError::Io(format!("{} vanished as it opened", db.display())))?;
        // A read-only store keeps to one handle, so that it leaves the files
        // exactly as it found them.
        let reader = if opts.read_only {
            None
        } else {
            Some(Mutex::new(open::reader(&opts.db_path())?))
        };
        Ok(Self {
            reader,
            conn: Mutex::new(conn),
            queue: Mutex::new(group::Queue::default()),
            cipher,
            db,
            file: Mutex::new(Some(file)),
            read_only: opts.read_only,
        })
    }

    /// The writing handle, on the file at the store's path ([`on_disk`]).
    fn writer(&self) -> Result<MutexGuard<'_, rusqlite::Connection>, StoreError> {
        let mut conn = self.lock();
        let mut file = lock(&self.file);
        let there = on_disk::file_at(&self.db)?;
        match (*file, there) {
            (Some(ours), Some(there)) if ours == there => return Ok(conn),
            (Some(_), None) => {}
            (Some(_), Some(_)) => {
                return Err(StoreError::Refused(format!(
                    "{} was replaced by another file while bankdeck had it open: nothing was \
                     written to either; restart bankdeck to use the file now there",
                    self.db.display()
                )));
            }
            (None, _) => {
                return Err(StoreError::Refused(format!(
                    "{} was put back after it was removed, but could not be opened again: \
                     restart bankdeck",
                    self.db.display()
                )));
            }
        }
        on_disk::write_back(&self.db, &conn)?;
        // The old handles close before new ones open: the last to close on
        // the removed file takes its write-ahead log with it, and a handle
        // on the file put back must not read that log's pages as its own.
        *file = None;
        let mut reader = self.reader.as_ref().map(lock);
        let placeholder = || rusqlite::Connection::open_in_memory().map_err(sql(&self.db));
        if let Some(reader) = reader.as_deref_mut() {
            drop(std::mem::replace(reader, placeholder()?));
        }
        drop(std::mem::replace(&mut *conn, placeholder()?));
        let (writer, read) = open::reopen(&self.db, &self.cipher)?;
        *conn = writer;
        if let Some(reader) = reader.as_deref_mut() {
            *reader = read;
        }
        *file = on_disk::file_at(&self.db)?;
        drop(reader);
        Ok(conn)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.db
    }

    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    fn lock(&self) -> MutexGuard<'_, rusqlite::Connection> {
        lock(&self.conn)
    }

    fn read<T>(
        &self,
        f: impl FnOnce(&rusqlite::Connection, &Path) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        match &self.reader {
            Some(reader) => f(&lock(reader), &self.db),
            None => f(&self.lock(), &self.db),
        }
    }

    fn refuse_read_only(&self) -> Result<(), StoreError> {
        if self.read_only {
            return Err(StoreError::Refused(format!(
                "{} is open read-only (--readonly); nothing was changed",
                self.db.display()
            )));
        }
        Ok(())
    }

    /// Like [`Self::write`], but committed together with whatever other
    /// writes are queued (see `group`); returns once the commit holding this
    /// write is done. `durable`: whether it must be on disk by then (all but
    /// leases).
    fn write_grouped<T: Send + 'static>(
        &self,
        durable: bool,
        f: impl FnOnce(&Transaction<'_>, &FieldCipher, &Path) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.refuse_read_only()?;
        let (job, answer) = group::job(durable, f);
        let lead = {
            let mut queue = lock(&self.queue);
            queue.jobs.push(job);
            !std::mem::replace(&mut queue.leading, true)
        };
        let lost = || StoreError::Io("a store write was lost".into());
        if !lead {
            match answer.recv() {
                Ok(group::Answer::Done(out)) => return out,
                Ok(group::Answer::Lead) => {}
                Err(_) => return Err(lost()),
            }
        }
        self.lead_group();
        match answer.try_recv() {
            Ok(group::Answer::Done(out)) => out,
            _ => Err(lost()),
        }
    }

    /// Runs `f` in a `BEGIN IMMEDIATE` transaction; commits only if it succeeds.
    fn write<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>, &Path) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.refuse_read_only()?;
        let mut conn = self.writer()?;
        // A lease-only group commits without fsync; this write must not.
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(sql(&self.db))?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql(&self.db))?;
        let out = f(&tx, &self.db)?;
        tx.commit().map_err(sql(&self.db))?;
        Ok(out)
    }

    /// Commits every queued write as one group, then hands the lead to the
    /// first write queued meanwhile (or puts it down). The hand-over happens
    /// even if the group panics, so no writer waits for a leader that is gone.
    fn lead_group(&self) {
        struct HandOver<'a>(&'a Mutex<group::Queue>);
        impl Drop for HandOver<'_> {
            fn drop(&mut self) {
                let mut queue = lock(self.0);
                match queue.jobs.first() {
                    Some(next) => next.lead(),
                    None => queue.leading = false,
                }
            }
        }
        let _hand_over = HandOver(&self.queue);
        let conn = self.writer();
        let jobs = std::mem::take(&mut lock(&self.queue).jobs);
        match conn {
            Ok(mut conn) => group::commit_group(&mut conn, &self.cipher, &self.db, jobs),
            Err(e) => group::settle(jobs, Err(&e)),
        }
    }
}

/// The answer of a batch of one.
fn one<T>(answers: Vec<Result<T, StoreError>>) -> Result<T, StoreError> {
    answers
        .into_iter()
        .next()
        .unwrap_or_else(|| Err(StoreError::Io("a store write went unanswered".into())))
}

/// A panic while holding a lock rolled its transaction back when the
/// `Transaction` dropped, so the connection is still usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Store for SqliteStore {
    fn add_user(
        &self,
        name: &str,
        email: Option<&str>,
        audit: AuditDraft,
    ) -> Result<User, StoreError> {
        self.write(|tx, db| writes::add_user(tx, db, name, email, audit))
    }

    fn remove_user(&self, name: &str, audit: AuditDraft) -> Result<User, StoreError> {
        self.write(|tx, db| writes::remove_user(tx, db, name, audit))
    }

    fn users(&self) -> Result<Vec<User>, StoreError> {
        self.read(reads::users)
    }

    fn user_by_name(&self, name: &str) -> Result<Option<User>, StoreError> {
        self.read(|c, db| reads::user_by_name(c, db, name))
    }

    fn user_any_case(&self, name: &str) -> Result<Option<User>, StoreError> {
        self.read(|c, db| reads::user_any_case(c, db, name))
    }

    fn insert_connection(
        &self,
        new: NewConnection,
        audit: AuditDraft,
    ) -> Result<Connection, StoreError> {
        self.write(|tx, db| writes::insert_connection(tx, &self.cipher, db, new, audit))
    }

    fn insert_connection_for(
        &self,
        user: &str,
        user_audit: AuditDraft,
        mut new: NewConnection,
        audit: AuditDraft,
    ) -> Result<(Connection, Option<User>), StoreError> {
        self.write(|tx, db| {
            let added = match reads::user_by_name(tx, db, user)? {
                Some(held) => {
                    new.user_id = held.id;
                    None
                }
                None => {
                    let user = writes::add_user(tx, db, user, None, user_audit)?;
                    new.user_id = user.id;
                    Some(user)
                }
            };
            let conn = writes::insert_connection(tx, &self.cipher, db, new, audit)?;
            Ok((conn, added))
        })
    }

    fn insert_connections(
        &self,
        batch: Vec<(NewConnection, Flags)>,
        audit: AuditDraft,
    ) -> Result<Vec<ConnectionId>, StoreError> {
        self.write(|tx, db| {
            batch
                .into_iter()
                .map(|(new, flags)| {
                    writes::insert_flagged(tx, &self.cipher, db, new, flags, audit.clone())
                        .map(|c| c.id)
                })
                .collect()
        })
    }

    fn connections(&self) -> Result<Vec<Connection>, StoreError> {
        self.read(|c, db| reads::connections(c, db, || open::reader(db)))
    }

    fn connection(&self, id: ConnectionId) -> Result<Option<Connection>, StoreError> {
        self.read(|c, db| reads::connection(c, db, id))
    }

    fn user_connections(&self, user: UserId) -> Result<Vec<Connection>, StoreError> {
        self.read(|c, db| reads::user_connections(c, db, user))
    }

    fn each_connection(&self, each: &mut dyn FnMut(Connection)) -> Result<(), StoreError> {
        self.read(|c, db| reads::each_connection(c, db, each))
    }

    fn secrets(&self, id: ConnectionId) -> Result<Secrets, StoreError> {
        self.read(|c, db| reads::secrets(c, &self.cipher, db, id))
    }

    fn apply(
        &self,
        id: ConnectionId,
        expected_version: i64,
        update: ConnectionUpdate,
        audit: AuditDraft,
    ) -> Result<Connection, StoreError> {
        self.write_grouped(true, move |tx, cipher, db| {
            writes::apply(tx, cipher, db, id, expected_version, update, audit)
        })
    }

    fn apply_and_release(
        &self,
        base: Connection,
        update: ConnectionUpdate,
        audit: AuditDraft,
        holder: &str,
    ) -> Result<Connection, StoreError> {
        let settlement = Settlement {
            base,
            update,
            audit,
        };
        one(self.apply_and_release_many(vec![Arc::new(settlement)], holder))
    }

    fn apply_and_release_many(
        &self,
        batch: Vec<Arc<Settlement>>,
        holder: &str,
    ) -> Vec<Result<Connection, StoreError>> {
        let n = batch.len();
        let holder = holder.to_owned();
        let answers = self.write_grouped(true, move |tx, cipher, db| {
            group::each_isolated(tx, db, &batch, |s| {
                let (base, release) = (s.base.clone(), Some(holder.as_str()));
                writes::apply_to(tx, cipher, db, base, &s.update, &s.audit, release)
            })
        });
        group::per_item(n, answers)
    }

    fn append_audit(
        &self,
        connection: Option<ConnectionId>,
        audit: AuditDraft,
    ) -> Result<(), StoreError> {
        self.write_grouped(true, move |tx, _, db| {
            writes::append_audit(tx, connection, &audit).map_err(sql(db))
        })
    }

    fn audit_query(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        self.read(|c, db| reads::audit(c, db, query))
    }

    fn lease_and_read(
        &self,
        id: ConnectionId,
        holder: &str,
        until: UnixTime,
        now: UnixTime,
    ) -> Result<Option<(Connection, Secrets)>, StoreError> {
        let request = LeaseRequest {
            id,
            until,
            now,
            wants: SecretSet::ALL,
        };
        one(self.lease_and_read_many(vec![request], holder))
    }

    fn lease_and_read_many(&self, batch: Vec<LeaseRequest>, holder: &str) -> Vec<Leased> {
        let n = batch.len();
        let holder = holder.to_owned();
        let answers = self.write_grouped(false, move |tx, cipher, db| {
            group::each_isolated(tx, db, &batch, |l| {
                if !writes::try_lease(tx, db, l.id, &holder, l.until, l.now)? {
                    return Ok(None);
                }
                let conn = reads::existing(tx, db, l.id)?;
                let secrets = reads::secrets_of(tx, cipher, db, l.id, l.wants)?;
                Ok(Some((conn, secrets)))
            })
        });
        group::per_item(n, answers)
    }

    fn connections_by_id(
        &self,
        ids: &[ConnectionId],
    ) -> Vec<Result<Option<Connection>, StoreError>> {
        let answers =
            self.read(|c, db| Ok(ids.iter().map(|&id| reads::connection(c, db, id)).collect()));
        group::per_item(ids.len(), answers)
    }

    fn audit_mark(&self) -> Result<i64, StoreError> {
        self.read(reads::audit_mark)
    }

    fn audit_archive_plan(&self, before: UnixTime) -> Result<ArchivePlan, StoreError> {
        self.read(|c, db| archive::plan(c, db, before))
    }

    fn audit_log_begins(&self) -> Result<Option<UnixTime>, StoreError> {
        self.read(archive::log_begins)
    }

    fn note_renewal(&self, record: &Renewal) -> Result<(), StoreError> {
        self.write(|tx, db| records::note(tx, db, record))
    }

    fn renewals(&self) -> Result<Vec<Renewal>, StoreError> {
        self.read(records::all)
    }

    fn note_wait(&self, wait: &ProviderWait) -> Result<(), StoreError> {
        self.write(|tx, db| records::note_wait(tx, db, wait))
    }

    fn waits(&self) -> Result<Vec<ProviderWait>, StoreError> {
        self.read(records::waits)
    }

    fn lift_wait(&self, lift: &ProviderWait) -> Result<Option<ProviderWait>, StoreError> {
        self.write(|tx, db| records::lift_wait(tx, db, lift))
    }

    fn audit_between(
        &self,
        after: i64,
        upto: i64,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        self.read(|c, db| archive::between(c, db, after, upto, limit))
    }

    fn mark_audit_archived(
        &self,
        from: i64,
        upto: i64,
        audit: AuditDraft,
    ) -> Result<(), StoreError> {
        self.write(|tx, db| archive::mark(tx, db, from, upto, &audit))
    }

    fn remove_archived_audit(&self, limit: usize) -> Result<u64, StoreError> {
        self.write(|tx, db| archive::remove(tx, db, limit))
    }

    fn changes_since(
        &self,
        after: i64,
        users_after: UserId,
        limit: usize,
    ) -> Result<Changes, StoreError> {
        self.read(|c, db| reads::changes_since(c, db, after, users_after, limit))
    }

    fn heads(&self, ids: &[ConnectionId]) -> Vec<Result<Option<ConnectionHead>, StoreError>> {
        let answers = self.read(|c, db| Ok(ids.iter().map(|&id| reads::head(c, db, id)).collect()));
        group::per_item(ids.len(), answers)
    }

    fn leases(&self) -> Result<Vec<Lease>, StoreError> {
        self.read(reads::leases)
    }

    fn lease_holder(&self, id: ConnectionId) -> Result<Option<(String, UnixTime)>, StoreError> {
        self.read(|c, db| Ok(reads::lease(c, db, id)?.map(|(h, u)| (h, UnixTime(u)))))
    }

    fn release_lease(&self, id: ConnectionId, holder: &str) -> Result<(), StoreError> {
        let holder = holder.to_owned();
        self.write_grouped(false, move |tx, _, db| {
            writes::release_lease(tx, db, id, &holder)
        })
    }

    fn check_integrity(&self) -> Result<(), StoreError> {
        self.read(|c, db| reads::check_integrity(c, &self.cipher, db))
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::domain::OpKind;

    #[test]
    fn a_write_after_a_lease_only_group_is_durable_again() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let store = SqliteStore::open(OpenOptions::new(
            dir.path().join("data"),
            KeySource::File(dir.path().join("key")),
        ))
        .unwrap();
        let sync = || -> i64 {
            store
                .lock()
                .pragma_query_value(None, "synchronous", |r| r.get(0))
                .unwrap()
        };
        let audit = AuditDraft {
            at: UnixTime(1_700_000_000),
            actor: "t".into(),
            op: OpKind::AddUser,
            ok: true,
            message: "added".into(),
        };
        store.release_lease(ConnectionId(1), "nobody").unwrap();
        assert_eq!(sync(), 1, "a lease-only group commits without the fsync");
        store.add_user("amira", None, audit).unwrap();
        assert_eq!(sync(), 2, "every other write is synchronous=FULL");
    }
}
