//! Telling running work to stop, for work that stops itself rather than
//! being aborted from outside, each found by its request id by
//! [`Worker::cancel`]: an operation (which leaves an answer in hand to
//! finish; see [`Worker::unless_cancelled`]), a bulk (likewise for each of
//! its refreshes, and it says how far it got) and a login (which may stop
//! while the browser is away, but not once its code is being redeemed). And
//! the whole worker, once a front end ends ([`Worker::stop_sending`]).
//!
//! The look at whether an answer is in hand happens in the operation's own
//! task, between two polls: from outside, on another thread, the operation
//! could reach that state between the look and the abort.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

use super::{Event, RequestId, Worker, lock};
use crate::domain::{ConnectionId, ErrorKind, OpError, OpKind};

/// A stop signal: a flag to look at, and a wake-up for what waits on it.
#[derive(Default)]
pub(crate) struct Halt {
    stopped: AtomicBool,
    wake: Notify,
}

impl Halt {
    pub(crate) fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        self.wake.notify_waiters();
    }

    pub(crate) fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    /// Returns once stopped.
    pub(crate) async fn stopped(&self) {
        loop {
            let woken = self.wake.notified();
            if self.is_stopped() {
                return;
            }
            woken.await;
        }
    }
}

/// An operation's [`Halt`], findable by its request while it runs.
pub(crate) struct Registered<'w>(Arc<Halt>, &'w Worker, RequestId);

impl<'w> Registered<'w> {
    /// The one the worker made for `id` when the command came, else a new one.
    pub(crate) fn new(worker: &'w Worker, id: RequestId) -> Self {
        let halt = lock(&worker.inner.halts).entry(id).or_default().clone();
        Registered(halt, worker, id)
    }

    pub(crate) fn halt(&self) -> &Arc<Halt> {
        &self.0
    }
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        lock(&self.1.inner.halts).remove(&self.2);
    }
}

impl Worker {
    /// `run`, the operation `op` on `conn` of request `id`, unless the
    /// request is cancelled first: then `run` is dropped, and with it any
    /// request it has out, unless the provider's answer is in hand and not
    /// yet written. That one is left to finish, and the operator told why.
    pub(crate) async fn unless_cancelled<T>(
        &self,
        id: RequestId,
        op: OpKind,
        conn: ConnectionId,
        run: impl Future<Output = Result<T, OpError>>,
    ) -> Result<T, OpError> {
        let halt = Registered::new(self, id);
        (self.unless_halted(halt.halt(), op, conn, run).await).unwrap_or_else(|| {
            Err(OpError::new(
                ErrorKind::Cancelled,
                format!("{op} cancelled"),
            ))
        })
    }

    /// [`Worker::unless_cancelled`] on a `halt` the caller holds (a bulk's,
    /// shared by its refreshes): `None` when `run` was dropped.
    pub(crate) async fn unless_halted<T>(
        &self,
        halt: &Halt,
        op: OpKind,
        conn: ConnectionId,
        run: impl Future<Output = T>,
    ) -> Option<T> {
        tokio::pin!(run);
        tokio::select! {
            // The operation first: one whose answer has just come is then
            // seen as answered below.
            biased;
            out = &mut run => return Some(out),
            () = halt.stopped() => {}
        }
        if !self.answered(conn) {
            return None;
        }
        let message = format!(
            "cancel: the {op} of connection {conn} is done at the provider and waits for the \
             store; it is left to finish, since stopping it now would lose what the provider \
             issued"
        );
        self.emit(Event::Notice { message }).await;
        Some(run.await)
    }
}
