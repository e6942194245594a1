//! Ctrl-C (or SIGTERM, from `timeout` or a service manager) while an
//! operation runs. Killed at once, a command can die between the provider's
//! answer and the store's write: a refresh token the provider has just
//! rotated, or the permanent token of a one-time Dapi code it has just spent,
//! exists nowhere else. So the first signal only stops anything more being
//! sent, and what was sent is waited for and written; a second abandons it,
//! saying what that may cost.

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

/// `op`'s output, and whether a Ctrl-C or SIGTERM came while it ran.
pub(crate) async fn finish_through_interrupt<T>(
    worker: &Worker,
    op: impl Future<Output = T>,
) -> Result<(T, bool)> {
    let mut term = signal(SignalKind::terminate())?;
    tokio::pin!(op);
    let name = tokio::select! {
        out = &mut op => return Ok((out, false)),
        _ = tokio::signal::ctrl_c() => "Ctrl-C",
        _ = term.recv() => "SIGTERM",
    };
    worker.stop_sending();
    if worker.sending() > 0 {
        tell!(
            "{name}: nothing more is sent; waiting for the requests already sent, so that no \
             token they rotate is lost (Ctrl-C again to abandon them)"
        );
    } else {
        tell!("{name}: nothing more is sent");
    }
    let abandoned = || {
        eyre!(
            "abandoned with requests in flight: a token that a provider rotated in its answer \
             is lost; `bankdeck status` shows where each connection stands"
        )
    };
    tokio::select! {
        out = &mut op => Ok((out, true)),
        _ = tokio::signal::ctrl_c() => Err(abandoned()),
        _ = term.recv() => Err(abandoned()),
    }
}

/// Runs `job` on a blocking thread to its end. A Ctrl-C or SIGTERM
/// meanwhile sets the flag `job` is handed, which it reads between steps
/// that each leave the store and the files whole, so it stops at the next
/// one; the operator is told `stopping` at once, to know the signal was
/// heard.
pub(crate) async fn finish_blocking_through_interrupt<T: Send + 'static>(
    stopping: &str,
    job: impl FnOnce(&AtomicBool) -> T + Send + 'static,
) -> Result<T> {
    let stop = Arc::new(AtomicBool::new(false));
    let mut term = signal(SignalKind::terminate())?;
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
            _ = tokio::signal::ctrl_c() => "Ctrl-C",
            _ = term.recv() => "SIGTERM",
        };
        if !stop.swap(true, Ordering::Relaxed) {
            tell!("{name}: {stopping}");
        }
    }
}
