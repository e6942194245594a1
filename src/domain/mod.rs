//! The domain: plain types and rules, no I/O, no clock, nothing of ours below it.
//!
//! Everything here is decided from its inputs alone (time comes in as `now`),
//! so the rules an operator relies on — what state a connection is in, what a
//! token grants — are tested exhaustively without a runtime.

pub mod asked_wait;
pub mod ending;
pub mod error;
pub mod filter;
pub mod jwt;
pub mod model;
pub mod next_change;
pub mod payload;
pub mod printable;
pub mod renewal;
pub mod scopes;
pub mod secret;
pub mod state;
pub mod text;
pub mod time;

pub use asked_wait::ProviderWait;
pub use ending::{Ending, Untouched};
pub use error::{ErrorKind, OpError};
pub use jwt::{Claims, JwtError};
pub use model::{
    AccessExpiry, AuditEntry, Connection, ConnectionId, Flags, Grant, LastOp, Lifetimes, OpKind,
    ProviderKind, RemoteIds, Secrets, User, UserId,
};
pub use payload::ConnectPayload;
pub use renewal::Renewal;
pub use scopes::Scopes;
pub use secret::Secret;
pub use state::{ConnState, DueForRefresh, StateKind, outcome};
pub use time::UnixTime;
