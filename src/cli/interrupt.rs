//! Ctrl-C (or SIGTERM, from `timeout` or a service manager, or SIGHUP, from
//! an SSH session that dropped) while an operation runs. Killed at once, a
//! command can die between the provider's answer and the store's write: a
//! refresh token the provider has just rotated, or the permanent token of a
//! one-time Dapi code it has just spent, exists nowhere else. So the first
//! signal only stops anything more being sent, and what was sent is waited
//! for and written; a second abandons it, saying what that may cost.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use color_eyre::eyre::{Result, eyre};
use tokio::signal::unix::{SignalKind, signal};

use crate::worker::Worker;

/// How a command stopped by the first signal ends: as a shell reports one
/// ended by Ctrl-C (128 + SIGINT).
pub(crate) fn stopped() -> std::process::ExitCode {
    std::process::ExitCode::from(130)
}

/// What a command says when a second signal abandoned the requests it had
/// out; it exits as one a signal stopped ([`stopped`]), not as an error of
/// its configuration or store (2).
#[derive(Debug)]
pub(crate) struct Abandoned;

impl std::fmt::Display for Abandoned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(
            "abandoned with requests in flight: a token that a provider rotated in its answer \
             is lost; `bankdeck status` shows where each connection stands",
        )
    }
}

impl std::error::Error for Abandoned {}

/// The signals that stop a command: each is heard the same way.
struct Signals {
    term: tokio::signal::unix::Signal,
    hangup: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> Result<Self> {
        Ok(Self {
            term: signal(SignalKind::terminate())?,
            hangup: signal(SignalKind::hangup())?,
        })
    }

    /// The name of the next one to come.
    async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => "Ctrl-C",
            _ = self.term.recv() => "SIGTERM",
            _ = self.hangup.recv() => "SIGHUP",
        }
    }
}

/// `op`'s output, and whether a Ctrl-C, SIGTERM or SIGHUP came while it
/// ran.
pub(crate) async fn finish_through_interrupt<T>(
    worker: &Worker,
    op: impl Future<Output = T>,
) -> Result<(T, bool)> {
    let mut signals = Signals::new()?;
    tokio::pin!(op);
    let name = tokio::select! {
        out = &mut op => return Ok((out, false)),
        name = signals.next() => name,
    };
    worker.stop_sending();
    if worker.sending() > 0 {
        let again = match name {
            "Ctrl-C" => "Ctrl-C again",
            _ => "Ctrl-C",
        };
        tell!(
            "{name}: nothing more is sent; waiting for the requests already sent, so that no \
             token they rotate is lost ({again} to abandon them)"
        );
    } else {
        tell!("{name}: nothing more is sent");
    }
    tokio::select! {
        out = &mut op => Ok((out, true)),
        _ = signals.next() => {
            worker.record_abandoned().await;
            Err(Abandoned.into())
        }
    }
}

/// Runs `job` on a blocking thread to its end. A Ctrl-C, SIGTERM or SIGHUP
/// meanwhile sets the flag `job` is handed, which it reads between steps
/// that each leave the store and the files whole, so it stops at the next
/// one; the operator is told `stopping` at once, to know the signal was
/// heard.
pub(crate) async fn finish_blocking_through_interrupt<T: Send + 'static>(
    stopping: &str,
    job: impl FnOnce(&AtomicBool) -> T + Send + 'static,
) -> Result<T> {
    let stop = Arc::new(AtomicBool::new(false));
    let mut signals = Signals::new()?;
    let mut work = tokio::task::spawn_blocking({
        let stop = Arc::clone(&stop);
        move || job(&stop)
    });
    loop {
        let name = tokio::select! {
            out = &mut work => return match out {
                Ok(out) => Ok(out),
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(e) => Err(eyre!("the work was cancelled: {e}")),
            },
            name = signals.next() => name,
        };
        if !stop.swap(true, Ordering::Relaxed) {
            tell!("{name}: {stopping}");
        }
    }
}
