//! Telling running work to stop, for work that stops itself rather than
//! being aborted from outside, each found by its request id by
//! [`Worker::cancel`]: an operation (which leaves an answer in hand to
//! finish, and a request already out to its answer until cancelled again;
//! see [`Worker::unless_cancelled`]), a bulk (likewise for each of
//! its refreshes, and it says how far it got) and a login (which may stop
//! while the browser is away, but not once its code is being redeemed). And
//! the whole worker, once a front end ends ([`Worker::stop_sending`]).
//!
//! The look at whether an answer is in hand happens in the operation's own
//! task, between two polls: from outside, on another thread, the operation
//! could reach that state between the look and the abort.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Notify;

use super::{Event, RequestId, Worker, lock};
use crate::domain::{ConnectionId, ErrorKind, OpError, OpKind};

/// Who hears that a cancelled operation is left to its answer: the
/// operator, for one operation; a bulk says how far it got instead of a
/// line for each of its refreshes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Told {
    Operator,
    Bulk,
}

/// How a cancelled operation ended without its result.
pub(crate) enum Dropped {
    /// Before its request went out: nothing changed.
    Unsent,
    /// After, at a second cancel: what the provider did is not known.
    Sent,
}

impl Dropped {
    /// The failure of an operation dropped with its request out.
    pub(crate) fn abandoned(op: OpKind) -> OpError {
        OpError::new(ErrorKind::Cancelled, super::abandoned(op))
    }
}

/// A stop signal: how many times it was given, and a wake-up for what
/// waits on it. A request already out is dropped only at the second.
#[derive(Default)]
pub(crate) struct Halt {
    stops: AtomicUsize,
    wake: Notify,
}

impl Halt {
    pub(crate) fn stop(&self) {
        self.stops.fetch_add(1, Ordering::SeqCst);
        self.wake.notify_waiters();
    }

    pub(crate) fn is_stopped(&self) -> bool {
        self.stops.load(Ordering::SeqCst) > 0
    }

    /// Returns once stopped.
    pub(crate) async fn stopped(&self) {
        self.stopped_times(1).await;
    }

    /// Returns once stopped `n` times.
    async fn stopped_times(&self, n: usize) {
        loop {
            let woken = self.wake.notified();
            if self.stops.load(Ordering::SeqCst) >= n {
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
    /// One whose request is out is left to its answer too, and dropped only
    /// when cancelled again.
    pub(crate) async fn unless_cancelled<T>(
        &self,
        id: RequestId,
        op: OpKind,
        conn: ConnectionId,
        run: impl Future<Output = Result<T, OpError>>,
    ) -> Result<T, OpError> {
        let halt = Registered::new(self, id);
        let told = Told::Operator;
        match self
            .unless_halted_telling(halt.halt(), op, conn, run, told)
            .await
        {
            Ok(out) => out,
            Err(Dropped::Unsent) => Err(OpError::new(
                ErrorKind::Cancelled,
                format!("{op} cancelled"),
            )),
            Err(Dropped::Sent) => Err(Dropped::abandoned(op)),
        }
    }

    /// [`Worker::unless_cancelled`] on a `halt` the caller holds (a bulk's,
    /// shared by its refreshes, which says how far it got): how `run` was
    /// dropped, if it was.
    pub(crate) async fn unless_halted<T>(
        &self,
        halt: &Halt,
        op: OpKind,
        conn: ConnectionId,
        run: impl Future<Output = T>,
    ) -> Result<T, Dropped> {
        (self.unless_halted_telling(halt, op, conn, run, Told::Bulk)).await
    }

    async fn unless_halted_telling<T>(
        &self,
        halt: &Halt,
        op: OpKind,
        conn: ConnectionId,
        run: impl Future<Output = T>,
        told: Told,
    ) -> Result<T, Dropped> {
        tokio::pin!(run);
        tokio::select! {
            // The operation first: one whose answer has just come is then
            // seen as answered below.
            biased;
            out = &mut run => return Ok(out),
            () = halt.stopped() => {}
        }
        if self.answered(conn) {
            self.left_to_finish(op, conn).await;
            return Ok(run.await);
        }
        if !self.is_out(conn) {
            return Err(Dropped::Unsent);
        }
        // Sent: the provider may be acting on it now, and its answer may
        // hold the only copy of a rotated token or of a spent code's.
        if told == Told::Operator {
            let message = format!(
                "cancel: the {op} of connection {conn} is sent: it is left to its answer or its \
                 deadline, since dropping it now may lose what the provider issues; cancel \
                 again to abandon it"
            );
            self.emit(Event::Notice { message }).await;
        }
        tokio::select! {
            biased;
            out = &mut run => return Ok(out),
            () = halt.stopped_times(2) => {}
        }
        if self.answered(conn) {
            self.left_to_finish(op, conn).await;
            return Ok(run.await);
        }
        self.record_abandoned_one(conn, op).await;
        Err(Dropped::Sent)
    }

    async fn left_to_finish(&self, op: OpKind, conn: ConnectionId) {
        let message = format!(
            "cancel: the {op} of connection {conn} is done at the provider and waits for the \
             store; it is left to finish, since stopping it now would lose what the provider \
             issued"
        );
        self.emit(Event::Notice { message }).await;
    }
}
