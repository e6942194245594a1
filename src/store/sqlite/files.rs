//! The store's files on disk: who may read them, and how they are born.
//!
//! The database and the key file hold everything an attacker needs to act as
//! the fintech towards the banks, so bankdeck refuses to use them when anyone
//! but their owner could read or swap them: group/other permission bits, a
//! foreign owner, or a symbolic link (which could point the write at another
//! file) are all refused with the command that fixes it. New folders are
//! created 0700 and new files 0600 with `O_EXCL`, so there is no window in
//! which a freshly created file is readable by others.

use std::fs::{self, DirBuilder, File, Metadata, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use crate::store::StoreError;

/// Creates `dir` (and missing parents) 0700, or checks an existing one.
pub(crate) fn ensure_private_dir(dir: &Path) -> Result<(), StoreError> {
    match fs::metadata(dir) {
        Ok(meta) => check_dir(dir, &meta),
        Err(e) if e.kind() == ErrorKind::NotFound => make_dir_0700(dir),
        Err(e) => Err(io_error("inspect", dir, &e)),
    }
}

fn make_dir_0700(dir: &Path) -> Result<(), StoreError> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| io_error("create the folder", dir, &e))
}

/// Creates `dir` (and missing parents) 0700 if it does not exist; leaves an
/// existing one alone. For the key file's folder, which is usually the
/// config folder and may be shared with `config.toml`: the key file's own
/// mode, owner and `O_EXCL` creation are what protect the key.
pub(crate) fn create_dir_if_missing(dir: &Path) -> Result<(), StoreError> {
    match fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => Err(StoreError::Refused(format!(
            "{} is not a folder",
            dir.display()
        ))),
        Err(e) if e.kind() == ErrorKind::NotFound => make_dir_0700(dir),
        Err(e) => Err(io_error("inspect", dir, &e)),
    }
}

/// Checks an existing folder without creating anything (read-only opens).
pub(crate) fn check_existing_dir(dir: &Path) -> Result<(), StoreError> {
    match fs::metadata(dir) {
        Ok(meta) => check_dir(dir, &meta),
        Err(e) if e.kind() == ErrorKind::NotFound => Err(StoreError::NotFound(format!(
            "store folder {}: nothing has been stored yet. If there should be, point \
             --data-dir (or BANKDECK_DATA_DIR) at it; otherwise add a user or a connection first",
            dir.display()
        ))),
        Err(e) => Err(io_error("inspect", dir, &e)),
    }
}

fn check_dir(dir: &Path, meta: &Metadata) -> Result<(), StoreError> {
    if !meta.is_dir() {
        return Err(StoreError::Refused(format!(
            "{} is not a folder; point --data-dir (or BANKDECK_DATA_DIR) at a folder",
            dir.display()
        )));
    }
    check_owner(dir, meta)?;
    if meta.mode() & 0o077 != 0 {
        return Err(StoreError::Refused(format!(
            "the store folder {} is open to other users (mode {:04o}); fix it with: chmod 700 {}",
            dir.display(),
            meta.mode() & 0o7777,
            dir.display()
        )));
    }
    Ok(())
}

/// Checks a store or key file if it exists; `Ok(None)` when it does not.
/// `what` names it ("the key file"): the path alone may not say which of
/// bankdeck's files the operator pointed at.
///
/// Uses `symlink_metadata` so that a link is seen as a link, not as its target.
pub(crate) fn check_private_file(what: &str, path: &Path) -> Result<Option<Metadata>, StoreError> {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error("inspect", path, &e)),
    };
    if meta.file_type().is_symlink() {
        return Err(StoreError::Refused(format!(
            "{what} {} is a symbolic link; bankdeck does not follow links for its store and key \
             files. Replace the link with the file itself (mv the target to {})",
            path.display(),
            path.display()
        )));
    }
    if !meta.is_file() {
        return Err(StoreError::Refused(format!(
            "{what} {} is not a regular file; move it aside",
            path.display()
        )));
    }
    check_owner(path, &meta)?;
    if let Some(why) = open_to_others(path, meta.mode()) {
        return Err(StoreError::Refused(why));
    }
    Ok(Some(meta))
}

/// What is wrong with a private file of `mode` at `path` that others on the
/// machine can read or write, and the command that fixes it; `None` for a
/// private one. The store's key is refused so; a secret file is reported
/// (`config check`).
pub(crate) fn open_to_others(path: &Path, mode: u32) -> Option<String> {
    (mode & 0o077 != 0).then(|| {
        format!(
            "{} is readable or writable by other users (mode {:04o}); fix it with: chmod 600 {}",
            path.display(),
            mode & 0o7777,
            path.display()
        )
    })
}

fn check_owner(path: &Path, meta: &Metadata) -> Result<(), StoreError> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        return Err(StoreError::Refused(format!(
            "{} belongs to uid {}, not to you (uid {me}); run bankdeck as its owner, \
             or have an administrator run: chown {me} {}",
            path.display(),
            meta.uid(),
            path.display()
        )));
    }
    Ok(())
}

/// Creates a new file 0600 that must not exist yet and writes `bytes` durably.
///
/// `create_new` is `O_EXCL`: if another process created it in the meantime,
/// the caller sees `AlreadyExists` and reads that one instead.
pub(crate) fn create_private_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?;
    // A full disk fails the write after the file exists: what it left (an
    // empty key file, read next time as one that is not bankdeck's) goes.
    if let Err(e) = file.write_all(bytes).and_then(|()| file.sync_all()) {
        drop(file);
        let _ = std::fs::remove_file(path);
        return Err(e);
    }
    // The folder entry must be durable too, or a power loss can lose the key.
    File::open(folder_of(path))?.sync_all()?;
    Ok(())
}

/// The folder `path` is in. A bare file name's parent is "", which names no
/// folder (opening it fails): it is ".".
pub(crate) fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Reads a small private file without following a link swapped in after the check.
pub(crate) fn read_private_file(path: &Path, limit: u64) -> Result<Vec<u8>, StoreError> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| io_error("read", path, &e))?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| io_error("read", path, &e))?;
    Ok(bytes)
}

/// Narrows SQLite's side files (`-wal`, `-shm`) to 0600 once they exist.
///
/// SQLite copies the database's mode onto them, so this is a safety net for a
/// database whose mode was tightened after its side files were made.
pub(crate) fn tighten_side_files(db: &Path) -> Result<(), StoreError> {
    for suffix in ["-wal", "-shm"] {
        let side = side_file(db, suffix);
        if let Some(meta) = fs::symlink_metadata(&side).ok().filter(|m| m.is_file())
            && meta.mode() & 0o077 != 0
        {
            fs::set_permissions(&side, fs::Permissions::from_mode(0o600))
                .map_err(|e| io_error("set permissions on", &side, &e))?;
        }
    }
    Ok(())
}

/// `bankdeck.db` → `bankdeck.db-wal`.
pub(crate) fn side_file(db: &Path, suffix: &str) -> std::path::PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(suffix);
    name.into()
}

pub(crate) fn io_error(what: &str, path: &Path, e: &std::io::Error) -> StoreError {
    StoreError::Io(format!("cannot {what} {}: {e}", path.display()))
}
