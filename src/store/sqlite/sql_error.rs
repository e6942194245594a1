//! Turns SQLite failures into store errors an operator can act on.
//!
//! SQLite's own messages never contain bound parameter values, so no token
//! can leak through them; we still add the path and the way out, because
//! "database disk image is malformed" alone tells nobody what to do.

use std::path::Path;

use rusqlite::ErrorCode;

use crate::store::StoreError;

/// The way out of a damaged store, said the same way everywhere.
pub(crate) fn recovery_hint(db: &Path) -> String {
    format!(
        "The store was not changed. Restore it from a backup, or move it aside to start empty: \
         mv {p} {p}.damaged (and {p}-wal, if present)",
        p = db.display()
    )
}

pub(crate) fn corrupt(db: &Path, what: &str) -> StoreError {
    StoreError::Corrupt(format!("{}: {what}. {}", db.display(), recovery_hint(db)))
}

/// Maps a rusqlite error for the store at `db`.
pub(crate) fn map(db: &Path, e: rusqlite::Error) -> StoreError {
    let (code, msg) = match &e {
        rusqlite::Error::SqliteFailure(code, msg) => (code, msg),
        // A value that is not what we wrote: damage, or a foreign writer.
        rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::IntegralValueOutOfRange(..) => {
            return corrupt(db, &format!("a stored value is unreadable ({e})"));
        }
        _ => return StoreError::Io(format!("{}: {e}", db.display())),
    };
    let detail = msg.clone().unwrap_or_else(|| code.to_string());
    match code.code {
        ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase => corrupt(db, &detail),
        ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => StoreError::Io(format!(
            "{} is busy: another bankdeck process holds its write lock; try again",
            db.display()
        )),
        // The folder's permissions as much as the file's: SQLite writes
        // its `-wal` and `-shm` files beside it.
        ErrorCode::ReadOnly => StoreError::Refused(format!(
            "{} cannot be written ({detail}): check that this user may write both the file \
             and its folder {}, where its -wal and -shm files go; --readonly only reads it",
            db.display(),
            db.parent().unwrap_or(Path::new(".")).display()
        )),
        ErrorCode::ConstraintViolation => StoreError::Invalid(detail),
        ErrorCode::DiskFull => StoreError::Io(format!(
            "{}: the disk is full; nothing was written",
            db.display()
        )),
        // A read needs room too (the write-ahead log's index): on a full
        // disk `status` and `check` failed with "disk I/O error" alone.
        ErrorCode::SystemIoFailure => StoreError::Io(format!(
            "{}: {detail}: check that its disk has room and works (df -h, dmesg)",
            db.display()
        )),
        _ => StoreError::Io(format!("{}: {detail}", db.display())),
    }
}

/// `.map_err(sql(&path))`, short for the call sites.
pub(crate) fn sql(db: &Path) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
    move |e| map(db, e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(code: std::ffi::c_int, msg: &str) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), Some(msg.into()))
    }

    /// A folder the user cannot write fails as a file would: it said "drop
    /// --readonly" to a command run without it.
    #[test]
    fn a_store_that_cannot_be_written_names_its_folder() {
        let db = Path::new("/data/bankdeck.db");
        let e = failure(
            rusqlite::ffi::SQLITE_READONLY,
            "attempt to write a readonly database",
        );
        let said = map(db, e).to_string();
        assert!(
            said.contains("both the file and its folder /data,"),
            "{said}"
        );
        assert!(!said.contains("drop --readonly"), "{said}");
    }

    #[test]
    fn a_disk_error_says_where_to_look() {
        let db = Path::new("/data/bankdeck.db");
        let said = map(db, failure(rusqlite::ffi::SQLITE_IOERR, "disk I/O error")).to_string();
        assert!(
            said.ends_with(
                "/data/bankdeck.db: disk I/O error: check that its disk has room and works \
                 (df -h, dmesg)"
            ),
            "{said}"
        );
        let full = map(
            db,
            failure(rusqlite::ffi::SQLITE_FULL, "database or disk is full"),
        );
        assert!(full.to_string().contains("the disk is full"), "{full}");
    }
}
