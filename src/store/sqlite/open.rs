//! Opening a store: every check that can refuse runs before the first write.
//!
//! Order matters. Folder and file permissions are checked, the file's header
//! is sniffed (random bytes never reach SQLite), the schema version is read
//! and the key is proven against the key check — all without writing. Only
//! then is the journal mode set and are migrations run. So a damaged store,
//! a wrong key or a newer schema leaves every byte on disk as it was.

use std::fs;
use std::io::{ErrorKind, Read};
use std::path::Path;
use std::time::Duration;

use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use super::crypto::FieldCipher;
use super::files::{
    check_existing_dir, check_private_file, create_private_file, ensure_private_dir, io_error,
    side_file, tighten_side_files,
};
use super::keys;
use super::options::{KeySource, OpenOptions};
use super::schema::{self, LATEST};
use super::sql_error::{corrupt, sql};
use crate::store::StoreError;

/// Another bankdeck process may hold the write lock for a moment.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// What is on disk before we open it.
#[derive(PartialEq)]
enum OnDisk {
    Missing,
    /// Zero bytes: created by us, then interrupted before the schema existed.
    Empty,
    Present,
}

pub(crate) fn open(opts: &OpenOptions) -> Result<(Connection, FieldCipher), StoreError> {
    let db = opts.db_path();
    prepare_files(opts, &db)?;
    // Until the store is proven good (and for as long as it is read-only),
    // closing must not fold an existing WAL into the file: a refused or
    // read-only open leaves the files as it found them. Side files SQLite had
    // to create for an absent WAL are empty and removed again on close.
    let keep_wal = side_file(&db, "-wal").exists();
    let mut conn = connect(&db, opts.read_only)?;
    set_no_checkpoint_on_close(&conn, &db, keep_wal)?;
    let version = schema::user_version(&conn).map_err(sql(&db))?;
    if version > LATEST {
        return Err(newer_schema(&db, version));
    }
    let cipher = if version == 0 {
        if schema::has_tables(&conn).map_err(sql(&db))? {
            return Err(not_ours(&db));
        }
        if opts.never_creates() {
            return Err(nothing_stored(&db));
        }
        create(&mut conn, opts, &db)?
    } else {
        keys::unlock(&conn, &opts.key, &db)?
    };
    if opts.read_only && version < LATEST {
        return Err(needs_upgrade(&db, version));
    }
    if !opts.read_only {
        set_wal(&conn, &db)?;
        schema::migrate(&mut conn, version).map_err(sql(&db))?;
        schema::tune_up(&mut conn).map_err(sql(&db))?;
        tighten_side_files(&db)?;
        set_no_checkpoint_on_close(&conn, &db, false)?;
        // Only the writer's: it fills as writes touch pages, while the list
        // reads (and a read-only store, which reads through this handle)
        // keep the default and so the screen's memory.
        conn.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)
            .map_err(sql(&db))?;
    }
    Ok((conn, cipher))
}

/// The writing handle's page cache. With SQLite's default 2 MB, a bulk
/// refresh read the pages of its rows, their secrets and the audit log's
/// tail back from the OS for every batch, a `pread` each.
const WRITER_CACHE_KIB: i64 = 16 * 1024;

/// A writer and a reader on the store file `on_disk` has just put back at
/// `db`, proven by the key of `cipher` before either is used.
pub(crate) fn reopen(
    db: &Path,
    cipher: &FieldCipher,
) -> Result<(Connection, Connection), StoreError> {
    check_private_file("the store", db)?;
    let conn = connect(db, false)?;
    super::keys::verify(&conn, cipher, db)?;
    set_wal(&conn, db)?;
    tighten_side_files(db)?;
    set_no_checkpoint_on_close(&conn, db, false)?;
    conn.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)
        .map_err(sql(db))?;
    Ok((conn, reader(db)?))
}

/// Another handle on a store [`open`] has already proven and migrated, for
/// reads only (`query_only`). It never folds the WAL into the file on close:
/// that is the main handle's job, and a read-only store must be left as found.
pub(crate) fn reader(db: &Path) -> Result<Connection, StoreError> {
    let conn = connect(db, true)?;
    set_no_checkpoint_on_close(&conn, db, true)?;
    Ok(conn)
}

/// Folder and file checks; creates the folder and an empty 0600 database
/// file for a new store (after checking an existing key file, so a bad key
/// file is refused before anything is created).
fn prepare_files(opts: &OpenOptions, db: &Path) -> Result<(), StoreError> {
    if opts.never_creates() {
        check_existing_dir(&opts.data_dir)?;
    } else {
        ensure_private_dir(&opts.data_dir)?;
    }
    let on_disk = inspect(db)?;
    match on_disk {
        OnDisk::Present => {}
        OnDisk::Empty if opts.never_creates() => return Err(empty_file(db)),
        OnDisk::Missing if opts.never_creates() => return Err(nothing_stored(db)),
        // Ours, cut off before its first write; or a store truncated by a
        // copy or restore that failed, which holds nothing to keep either
        // way: said in the log, so that the second is not passed over.
        OnDisk::Empty => tracing::warn!(
            store = %db.display(),
            "the store file was empty (0 bytes); a new store is made in it"
        ),
        OnDisk::Missing => {}
    }
    if let KeySource::File(key) = &opts.key {
        check_private_file("the key file", key)?;
    }
    if on_disk == OnDisk::Missing {
        create_empty(db)?;
    }
    Ok(())
}

/// Checks the file and its side files, and that it looks like SQLite at all.
fn inspect(db: &Path) -> Result<OnDisk, StoreError> {
    for suffix in ["-wal", "-shm"] {
        check_private_file("the store's side file", &side_file(db, suffix))?;
    }
    let Some(meta) = check_private_file("the store", db)? else {
        return Ok(OnDisk::Missing);
    };
    if meta.len() == 0 {
        return Ok(OnDisk::Empty);
    }
    let mut head = [0u8; 100];
    let read = fs::File::open(db)
        .and_then(|mut f| f.read_exact(&mut head))
        .map_err(|e| e.kind());
    match read {
        Ok(()) if head.starts_with(SQLITE_MAGIC) => Ok(OnDisk::Present),
        Ok(()) | Err(ErrorKind::UnexpectedEof) => Err(corrupt(
            db,
            "this is not a bankdeck store (no SQLite header: truncated or overwritten)",
        )),
        Err(kind) => Err(io_error("read", db, &kind.into())),
    }
}

fn create_empty(db: &Path) -> Result<(), StoreError> {
    match create_private_file(db, b"") {
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(()),
        other => other.map_err(|e| io_error("create", db, &e)),
    }
}

fn connect(db: &Path, read_only: bool) -> Result<Connection, StoreError> {
    // Never SQLITE_OPEN_CREATE: the file exists (we made it 0600 ourselves),
    // and a missing file at this point means someone moved it. Read-only is
    // `query_only` on a read-write handle, not SQLITE_OPEN_READ_ONLY: a
    // read-only handle on a WAL database creates `-wal`/`-shm` files it can
    // never remove, while this one removes them on close like any other.
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(db, flags).map_err(sql(db))?;
    conn.pragma_update(None, "query_only", read_only)
        .map_err(sql(db))?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(sql(db))?;
    // Connection settings, not file changes: nothing is written by these.
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(sql(db))?;
    // FULL: a token rotation the provider has accepted must survive power loss.
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(sql(db))?;
    // The bundled SQLite is built with STAT4, which re-prepares a statement
    // whenever a value bound in its WHERE clause changes, in case the plan
    // should too. We keep no statistics, so that only re-parsed every
    // single-row read (a fifth of a refresh's CPU); a stable plan is right.
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
        .map_err(sql(db))?;
    // Each write in a group commit runs in its own savepoint, which copies
    // every page it touches to a sub-journal first; in a temp file that was
    // a write(2) per page, the largest cost of a batch of refreshes.
    conn.pragma_update(None, "temp_store", "MEMORY")
        .map_err(sql(db))?;
    Ok(conn)
}

/// A brand-new store: WAL first (it cannot change inside a transaction), then
/// schema and key check in one transaction. If another process created the
/// store while we waited for the lock, we unlock theirs instead.
fn create(conn: &mut Connection, opts: &OpenOptions, db: &Path) -> Result<FieldCipher, StoreError> {
    set_wal(conn, db)?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql(db))?;
    if schema::user_version(&tx).map_err(sql(db))? != 0 {
        drop(tx);
        return keys::unlock(conn, &opts.key, db);
    }
    schema::create_all(&tx).map_err(sql(db))?;
    let cipher = keys::seal_new_store(&tx, &opts.key, db)?;
    tx.commit().map_err(sql(db))?;
    Ok(cipher)
}

fn set_no_checkpoint_on_close(conn: &Connection, db: &Path, on: bool) -> Result<(), StoreError> {
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, on)
        .map(drop)
        .map_err(sql(db))
}

fn set_wal(conn: &Connection, db: &Path) -> Result<(), StoreError> {
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(sql(db))?;
    if mode.eq_ignore_ascii_case("wal") {
        Ok(())
    } else {
        Err(StoreError::Io(format!(
            "{}: SQLite refused WAL mode (got {mode}); is the folder on a network file system?",
            db.display()
        )))
    }
}

/// An empty file where a store should be: bankdeck's own, cut off before
/// its first write, or one truncated. The second is worth a word: "nothing
/// has been stored yet" reads as a wrong path.
fn empty_file(db: &Path) -> StoreError {
    StoreError::NotFound(format!(
        "store at {}: the file is empty (0 bytes), so nothing is stored in it. If it held \
         connections, it was cut short (a failed copy or restore): restore it from a backup; \
         otherwise add a user or a connection first",
        db.display()
    ))
}

fn nothing_stored(db: &Path) -> StoreError {
    StoreError::NotFound(format!(
        "store at {}: nothing has been stored yet. If there should be, point --data-dir \
         (or BANKDECK_DATA_DIR) at it; otherwise add a user or a connection first",
        db.display()
    ))
}

fn newer_schema(db: &Path, version: i64) -> StoreError {
    StoreError::Refused(format!(
        "{} was written by a newer bankdeck (schema {version}; this one knows up to {LATEST}); \
         upgrade bankdeck. Nothing was changed",
        db.display()
    ))
}

fn needs_upgrade(db: &Path, version: i64) -> StoreError {
    StoreError::Refused(format!(
        "{} uses schema {version} and needs an upgrade to {LATEST}, which --readonly cannot do; \
         open it once without --readonly",
        db.display()
    ))
}

fn not_ours(db: &Path) -> StoreError {
    StoreError::Refused(format!(
        "{} is an SQLite database but not a bankdeck store; point --data-dir elsewhere. \
         Nothing was changed",
        db.display()
    ))
}
