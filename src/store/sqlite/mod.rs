//! The embedded backend: one SQLite file in WAL mode, fields sealed with AEAD.
//!
//! One `rusqlite::Connection` behind a `Mutex` makes the store `Send + Sync`.
//! That is enough: every operation is a few milliseconds, the worker runs a
//! handful at a time, and SQLite allows one writer anyway. Writes take the
//! write lock up front (`BEGIN IMMEDIATE`) so that two bankdeck processes
//! queue on `busy_timeout` instead of failing halfway through a transaction.

mod crypto;
mod files;
mod keys;
mod open;
mod options;
mod reads;
mod rows;
mod schema;
mod sql_error;
mod writes;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Transaction, TransactionBehavior};

pub use options::{
    DB_FILE, ENV_DATA_DIR, ENV_KEY_FILE, ENV_PASSPHRASE, KeySource, OpenOptions, default_paths,
    platform_dirs,
};
pub use schema::LATEST as SCHEMA_VERSION;

use crypto::FieldCipher;
use sql_error::sql;

use super::{AuditDraft, ConnectionUpdate, NewConnection, Store, StoreError};
use crate::domain::{AuditEntry, Connection, ConnectionId, Flags, Secrets, UnixTime, User};

/// The embedded [`Store`]: open it with [`SqliteStore::open`].
pub struct SqliteStore {
    conn: Mutex<rusqlite::Connection>,
    cipher: FieldCipher,
    db: PathBuf,
    read_only: bool,
}

impl SqliteStore {
    /// Opens (or, unless read-only, creates) the store. Every refusal —
    /// permissions, damage, wrong key, newer schema — happens before anything
    /// is written.
    pub fn open(opts: OpenOptions) -> Result<Self, StoreError> {
        let (conn, cipher) = open::open(&opts)?;
        Ok(Self {
            conn: Mutex::new(conn),
            cipher,
            db: opts.db_path(),
            read_only: opts.read_only,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.db
    }

    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    fn lock(&self) -> MutexGuard<'_, rusqlite::Connection> {
        // A panic while holding the lock rolled its transaction back when the
        // `Transaction` dropped, so the connection is still usable.
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn read<T>(
        &self,
        f: impl FnOnce(&rusqlite::Connection, &Path) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        f(&self.lock(), &self.db)
    }

    /// Runs `f` in a `BEGIN IMMEDIATE` transaction; commits only if it succeeds.
    fn write<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>, &Path) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        if self.read_only {
            return Err(StoreError::Refused(format!(
                "{} is open read-only (--readonly); nothing was changed",
                self.db.display()
            )));
        }
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql(&self.db))?;
        let out = f(&tx, &self.db)?;
        tx.commit().map_err(sql(&self.db))?;
        Ok(out)
    }
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

    fn users(&self) -> Result<Vec<User>, StoreError> {
        self.read(reads::users)
    }

    fn user_by_name(&self, name: &str) -> Result<Option<User>, StoreError> {
        self.read(|c, db| reads::user_by_name(c, db, name))
    }

    fn insert_connection(
        &self,
        new: NewConnection,
        audit: AuditDraft,
    ) -> Result<Connection, StoreError> {
        self.write(|tx, db| writes::insert_connection(tx, &self.cipher, db, new, audit))
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
        self.read(reads::connections)
    }

    fn connection(&self, id: ConnectionId) -> Result<Option<Connection>, StoreError> {
        self.read(|c, db| reads::connection(c, db, id))
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
        self.write(|tx, db| {
            writes::apply(tx, &self.cipher, db, id, expected_version, update, audit)
        })
    }

    fn append_audit(
        &self,
        connection: Option<ConnectionId>,
        audit: AuditDraft,
    ) -> Result<(), StoreError> {
        self.write(|tx, db| writes::append_audit(tx, connection, &audit).map_err(sql(db)))
    }

    fn audit(
        &self,
        connection: Option<ConnectionId>,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        self.read(|c, db| reads::audit(c, db, connection, limit))
    }

    fn try_lease(
        &self,
        id: ConnectionId,
        holder: &str,
        until: UnixTime,
        now: UnixTime,
    ) -> Result<bool, StoreError> {
        self.write(|tx, db| writes::try_lease(tx, db, id, holder, until, now))
    }

    fn lease_holder(&self, id: ConnectionId) -> Result<Option<(String, UnixTime)>, StoreError> {
        self.read(|c, db| Ok(reads::lease(c, db, id)?.map(|(h, u)| (h, UnixTime(u)))))
    }

    fn release_lease(&self, id: ConnectionId, holder: &str) -> Result<(), StoreError> {
        self.write(|tx, db| writes::release_lease(tx, db, id, holder))
    }

    fn check_integrity(&self) -> Result<(), StoreError> {
        self.read(|c, db| reads::check_integrity(c, &self.cipher, db))
    }
}
