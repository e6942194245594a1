//! The store: users, connections, encrypted tokens and the audit log.
//!
//! [`Store`] is the narrow interface the rest of bankdeck sees; [`SqliteStore`]
//! is the embedded backend behind it (a shared PostgreSQL one can follow).

pub mod api;
pub mod error;
pub mod sqlite;

pub use api::*;
pub use error::StoreError;
pub use sqlite::{
    DB_FILE, ENV_DATA_DIR, ENV_KEY_FILE, ENV_PASSPHRASE, KeySource, OpenOptions, SCHEMA_VERSION,
    SqliteStore, default_paths, platform_dirs,
};
