//! The file under an open store. A store file removed while bankdeck has it
//! open (an `rm`, a clean-up script, a folder swept) lives on in the open
//! handles, and every write to it would vanish when they close: the
//! rotated tokens of a whole scheduler's run, with no word said. So before
//! each write the file at the store's path is checked to be the one open.
//! One removed is written back from the open handle, which still holds it
//! whole, and the write goes there. One replaced by another file is
//! written to by neither handle: the write is refused, saying so.
//!
//! The write-ahead log and its index are named after the path, not the
//! file: the removed file's log stays at `bankdeck.db-wal`, and every
//! handle on the file put back reads it as its own. So the copy keeps the
//! removed file's page numbers, page for page (SQLite's online backup, not
//! `VACUUM INTO`, which renumbers them): the log's pages then lay over the
//! copy as they lay over the original, and both read the same store.

use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use rusqlite::Connection;

use super::files::{ensure_private_dir, folder_of, io_error};
use super::sql_error::sql;
use crate::store::StoreError;

/// A file's device and inode: which file a path names.
pub(super) type FileId = (u64, u64);

/// The file at `db` now, or `None` where there is none.
pub(super) fn file_at(db: &Path) -> Result<Option<FileId>, StoreError> {
    match fs::metadata(db) {
        Ok(meta) => Ok(Some((meta.dev(), meta.ino()))),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error("inspect", db, &e)),
    }
}

/// Puts the store back at `db` from `writer`, which still holds it whole:
/// a copy, page for page, made aside and linked into place whole, so that
/// a second process putting the same store back at the same moment finds
/// one there and takes it. A failure (a full disk) is an I/O error, which a write waiting
/// on it tries again.
pub(super) fn write_back(db: &Path, writer: &Connection) -> Result<(), StoreError> {
    ensure_private_dir(folder_of(db))?;
    let aside = db.with_extension(format!("restoring-{}", std::process::id()));
    let _ = fs::remove_file(&aside);
    let path = aside.to_str().ok_or_else(|| {
        StoreError::Io(format!(
            "{} is not UTF-8: cannot put the store back",
            aside.display()
        ))
    })?;
    let copied = copy_pages(writer, path).map_err(sql(db)).and_then(|()| {
        fs::set_permissions(&aside, fs::Permissions::from_mode(0o600))
            .map_err(|e| io_error("restrict", &aside, &e))
    });
    let linked = copied.and_then(|()| match fs::hard_link(&aside, db) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(io_error("put back", db, &e)),
    });
    let _ = fs::remove_file(&aside);
    // Told as an I/O error, so that a write waiting on it is tried again:
    // a full disk that refused the copy may have room in a minute.
    linked.map_err(|e| match e {
        StoreError::Io(_) => e,
        other => StoreError::Io(other.to_string()),
    })?;
    tracing::warn!(
        store = %db.display(),
        "the store file was removed while open; it was written back from the open handle"
    );
    Ok(())
}

/// Copies every page of `from` to a new file at `to` under its own number,
/// in one step: one read of the store, which no write can split.
fn copy_pages(from: &Connection, to: &str) -> rusqlite::Result<()> {
    let mut copy = Connection::open(to)?;
    let backup = rusqlite::backup::Backup::new(from, &mut copy)?;
    match backup.step(-1)? {
        rusqlite::backup::StepResult::Done => Ok(()),
        // Only a lock held elsewhere keeps one step from the end: told as
        // busy, which the write waiting on it tries again.
        _ => Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            None,
        )),
    }
}
