//! bankdeck: a terminal dashboard for the operators of linked bank connections.
//!
//! The crate is layered so that each layer only looks down:
//! `domain` (pure types and rules) ← `config`, `store`, `providers` ← `worker`
//! ← `tui` and `cli` (two front ends over the same worker). `sandbox` is an
//! emulation of the providers that the product only uses for `--demo` and tests.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod cli;
pub mod config;
pub mod domain;
pub mod providers;
pub mod sandbox;
pub mod store;
pub mod tui;
pub mod worker;
