//! The worker: runs operations against providers and the store, off the screen's thread.

pub mod protocol;

pub use protocol::*;
