//! The store: users, connections, encrypted tokens and the audit log.
//!
//! [`Store`] is the narrow interface the rest of bankdeck sees; [`SqliteStore`]
//! is the embedded backend behind it (a shared PostgreSQL one can follow).

pub mod api;
pub mod error;
pub mod holder;
pub mod intercept;
pub mod sqlite;

pub use api::*;
pub use error::StoreError;
pub use sqlite::{
    DB_FILE, ENV_DATA_DIR, ENV_KEY_FILE, ENV_PASSPHRASE, KeySource, OpenOptions, SCHEMA_VERSION,
    SqliteStore, default_paths, platform_dirs,
};

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// An opened store and where it lives.
pub struct Opened {
    pub store: Arc<dyn Store>,
    pub data_dir: PathBuf,
}

/// How a command opens the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Reads, and never makes one (`status`, `--readonly`).
    Read,
    /// Writes to one that exists ([`OpenOptions::existing`]): what works on
    /// rows already stored.
    Write,
    /// Writes, and makes the store where none is: what adds users and
    /// connections, and the dashboard, where they are added.
    Create,
}

/// Opens the store in `data_dir` (or `BANKDECK_DATA_DIR`, or the platform
/// data dir) with the key from the environment or the default key file, as
/// `access` says.
pub fn open(data_dir: Option<&Path>, access: Access) -> Result<Opened, StoreError> {
    let opts = default_paths(data_dir.map(Path::to_path_buf))?;
    match access {
        Access::Read => finish(opts, true),
        Access::Write => finish(opts.existing(), false),
        Access::Create => finish(opts, false),
    }
}

/// Opens the store in `data_dir` with an explicit key file (the demo's).
pub fn open_with_key(
    data_dir: &Path,
    key_file: &Path,
    readonly: bool,
) -> Result<Opened, StoreError> {
    finish(
        OpenOptions::new(data_dir, KeySource::File(key_file.to_path_buf())),
        readonly,
    )
}

fn finish(opts: OpenOptions, readonly: bool) -> Result<Opened, StoreError> {
    let opts = if readonly { opts.read_only() } else { opts };
    let data_dir = opts.data_dir.clone();
    let store = SqliteStore::open(opts)?;
    Ok(Opened {
        store: Arc::new(store),
        data_dir,
    })
}
