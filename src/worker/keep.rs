//! Writing what a provider has just issued when the store cannot take it at
//! once.
//!
//! A rotated refresh token, the permanent token a one-time access code
//! bought, a login's grant: once the provider has answered, these exist only
//! in this process until the store has them. A full disk or another process
//! holding the store's write lock past the busy timeout used to fail the
//! operation there, and the provider's answer was dropped: the connection
//! was left holding the token the provider had just spent. Such a write is
//! now tried again for a while, the operator told once what to fix; only a
//! failure that cannot pass, or the end of that while, fails the operation,
//! saying what it costs.
//!
//! The connection's lease may lapse meanwhile, and another process could
//! then take it and send the token the provider has spent. But taking a
//! lease is itself a write, which the same held lock refuses, and a full
//! disk as a rule too; the pauses stay short so that ours goes first once
//! writes go through again.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::{Event, Worker};
use crate::domain::{Connection, ErrorKind, OpError, OpKind};
use crate::store::StoreError;

/// The first pause before a write is tried again; each pause doubles up to
/// [`LONGEST_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(100);
const LONGEST_PAUSE: Duration = Duration::from_secs(1);

/// The write a provider's answer waits for, named for the operator.
#[derive(Clone, Copy)]
pub(crate) enum AtStake<'a> {
    /// An operation's outcome on a connection.
    Outcome(OpKind, &'a Connection),
    /// A new connection from a grant (a login, a client-credentials token);
    /// `op` says which.
    Grant {
        op: OpKind,
        provider: &'a str,
        user: &'a str,
    },
}

impl AtStake<'_> {
    /// What it costs when the provider's answer is never written.
    fn cost(self) -> &'static str {
        let op = match self {
            AtStake::Outcome(op, _) | AtStake::Grant { op, .. } => op,
        };
        match op {
            OpKind::Refresh => {
                "the provider may have spent the refresh token the store still holds: \
                 if the next refresh is rejected, the user must consent again"
            }
            OpKind::Exchange => "the access code is spent: the user must link again",
            OpKind::Logout => "the provider has logged it out, but the store still shows it in",
            OpKind::Delink => "the provider has delinked it, but the store still shows it linked",
            OpKind::ClientCredentials => "ask for the token again",
            _ => "the user must log in again",
        }
    }
}

impl std::fmt::Display for AtStake<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AtStake::Outcome(op, c) => write!(
                f,
                "the {op} of connection {} ({} at {})",
                c.id, c.user, c.provider
            ),
            AtStake::Grant { provider, user, .. } => {
                write!(f, "{user}'s new connection at {provider}")
            }
        }
    }
}

impl Worker {
    /// Runs `write` until it succeeds, or fails in a way that will not pass,
    /// or the worker's `keep_writing` has gone by.
    pub(crate) async fn keep_writing<T, F, Fut>(
        &self,
        stake: AtStake<'_>,
        mut write: F,
    ) -> Result<T, OpError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, StoreError>>,
    {
        let limit = self.inner.opts.keep_writing;
        // From the first failure: the write that goes through at once, the
        // usual case, reads no clock.
        let mut began = None;
        let mut waiting = None;
        let mut pause = FIRST_PAUSE;
        loop {
            let e = match write().await {
                Ok(written) => {
                    if began.is_some() {
                        tracing::info!("{stake}: written after all");
                    }
                    return Ok(written);
                }
                Err(e) => e,
            };
            if !e.may_pass() {
                return Err(e.into());
            }
            let since = *began.get_or_insert_with(Instant::now);
            if since.elapsed() + pause > limit {
                return Err(OpError::new(
                    ErrorKind::Store,
                    format!(
                        "{} is done at the provider but could not be written in {}: {e}; {}",
                        stake,
                        humantime::format_duration(limit),
                        stake.cost()
                    ),
                ));
            }
            if waiting.is_none() {
                let guard = Waiting::new(self);
                if guard.first {
                    let message = format!(
                        "{} is done at the provider but not written yet ({e}): trying again \
                         for up to {}, with any other answer that waits meanwhile; free disk \
                         space, or end what holds the store, to keep them",
                        stake,
                        humantime::format_duration(limit)
                    );
                    tracing::warn!("{message}");
                    self.emit(Event::Notice { message }).await;
                }
                waiting = Some(guard);
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(LONGEST_PAUSE);
        }
    }
}

/// One answer counted in `Inner::unwritten` while it waits for the store,
/// however its wait ends (written, given up, or the task cancelled).
struct Waiting<'w> {
    worker: &'w Worker,
    /// Whether no other answer was waiting when this one began to.
    first: bool,
}

impl<'w> Waiting<'w> {
    fn new(worker: &'w Worker) -> Self {
        let before = worker.inner.unwritten.fetch_add(1, Ordering::SeqCst);
        Waiting {
            worker,
            first: before == 0,
        }
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.worker.inner.unwritten.fetch_sub(1, Ordering::SeqCst);
    }
}
