//! bankdeck: a terminal dashboard for the operators of linked bank connections.
//!
//! The crate is layered so that each layer only looks down:
//! `domain` (pure types and rules) ← `config`, `store`, `providers` ← `worker`
//! ← `tui` and `cli` (two front ends over the same worker). `sandbox` is an
//! emulation of the providers that the product only uses for `--demo` and tests.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// Output goes through `say!` (stdout) and `tell!` (stderr), which do not
// panic when the reader has gone.
#![deny(clippy::print_stdout, clippy::print_stderr)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

/// `eprintln!` that cannot panic (`tell!(partial: …)` for `eprint!`). When
/// standard error is a pipe whose reader has gone (`2>&1 | head`), the line
/// is lost but the command's exit status is not: `eprintln!` panics there,
/// and the panic hook, writing to the same place, turns that into an abort.
macro_rules! tell {
    (partial: $($arg:tt)*) => {{
        use std::io::Write as _;
        let mut err = $crate::domain::printable::Printable::new(std::io::stderr().lock());
        let _ = write!(err, $($arg)*).and_then(|()| err.flush());
    }};
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let mut err = $crate::domain::printable::Printable::new(std::io::stderr().lock());
        let _ = writeln!(err, $($arg)*).and_then(|()| err.flush());
    }};
}

pub mod cli;
pub mod config;
pub mod domain;
pub mod providers;
pub mod sandbox;
pub mod store;
pub mod tui;
pub mod worker;
