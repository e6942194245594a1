//! Store failures, each saying what the operator can do about it.

use thiserror::Error;

use crate::domain::{ConnectionId, OpError};

#[derive(Debug, Clone, Error)]
pub enum StoreError {
    #[error("{0}")]
    Refused(String),
    #[error("the key does not open this store: {0}")]
    WrongKey(String),
    #[error("the store is damaged: {0}")]
    Corrupt(String),
    #[error("connection {0} changed while we worked on it")]
    Conflict(ConnectionId),
    /// A new connection's grant renews this one, filed meanwhile by another
    /// process ([`crate::domain::Connection::renewed_by`]): nothing was added.
    #[error("connection {0} holds this grant already: nothing was added")]
    Held(ConnectionId),
    #[error("no such {0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("store I/O: {0}")]
    Io(String),
}

impl StoreError {
    pub(crate) fn no_connection(id: ConnectionId) -> Self {
        StoreError::NotFound(format!("connection {id}"))
    }

    /// Whether the same write may succeed if tried again: a full disk,
    /// another process's write lock, an I/O error. Not a refusal, damage, a
    /// conflict or a bad value, which stay as they are.
    pub fn may_pass(&self) -> bool {
        matches!(self, StoreError::Io(_))
    }
}

impl From<StoreError> for OpError {
    fn from(e: StoreError) -> Self {
        OpError::store(e.to_string())
    }
}
