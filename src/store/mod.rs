//! The store: users, connections, encrypted tokens and the audit log.

pub mod api;
pub mod error;

pub use api::*;
pub use error::StoreError;
