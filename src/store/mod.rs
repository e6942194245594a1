//! The store: users, connections, encrypted tokens and the audit log.

pub mod api;
pub mod error;

pub use api::*;
pub use error::StoreError;

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// An opened store and where it lives.
pub struct Opened {
    pub store: Arc<dyn Store>,
    pub data_dir: PathBuf,
}

/// Opens the store in `data_dir` (or the default place) with the key from the
/// environment or the key file.
pub fn open(_data_dir: Option<&Path>, _readonly: bool) -> Result<Opened, StoreError> {
    Err(StoreError::Refused(
        "the store backend is not wired yet".into(),
    ))
}
