//! Issue 7, reliability and security: the promises the other suites did not
//! yet prove end to end (see `tests/RELIABILITY.md` for the whole map).
//! Each test drives the real worker and store against a real server on
//! loopback (the sandbox, or a tiny canned token endpoint), and checks the
//! three things an operator relies on: the message, every token kept, and
//! how many requests went out.

mod common;

#[path = "reliability/audit.rs"]
mod audit;
#[path = "reliability/canned.rs"]
mod canned;
#[path = "reliability/cli.rs"]
mod cli;
#[path = "reliability/faults.rs"]
mod faults;
#[path = "reliability/panic.rs"]
mod panic;
#[path = "reliability/token_bodies.rs"]
mod token_bodies;
#[path = "reliability/unwritten.rs"]
mod unwritten;
