//! Integration tests of the sandbox over real HTTP on 127.0.0.1:0.
//!
//! One test binary (to keep link time down on a 2-core machine) split into
//! a module per provider family; `common` holds the client and helpers.
//! Expiry is driven by the sandbox clock, never by sleeping.

#[path = "sandbox/authorize.rs"]
mod authorize;
#[path = "sandbox/common.rs"]
mod common;
#[path = "sandbox/control.rs"]
mod control;
#[path = "sandbox/dapi.rs"]
mod dapi;
#[path = "sandbox/faults.rs"]
mod faults;
#[path = "sandbox/oauth2.rs"]
mod oauth2;
#[path = "sandbox/oidc.rs"]
mod oidc;
