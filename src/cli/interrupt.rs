//! Ctrl-C (or SIGTERM, from `timeout` or a service manager) while an
//! operation runs. Killed at once, a command can die between the provider's
//! answer and the store's write: a refresh token the provider has just
//! rotated, or the permanent token of a one-time Dapi code it has just spent,
//! exists nowhere else. So the first signal only stops anything more being
//! sent, and what was sent is waited for and written; a second abandons it,
//! saying what that may cost.

use std::future::Future;

use color_eyre::eyre::{Result, eyre};
use tokio::signal::unix::{SignalKind, signal};

use crate::worker::Worker;

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
    tell!(
        "{name}: nothing more is sent; waiting for the requests already sent, so that no \
         token they rotate is lost (Ctrl-C again to abandon them)"
    );
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
