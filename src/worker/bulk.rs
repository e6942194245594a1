//! The screen's bulk refresh (`R`): many connections, a window per provider.
//!
//! Only a provider's window of refreshes exists at a time (as many as it may
//! have in flight and as many again waiting their turn, the scheduler's
//! [`Windows`]): the rest wait as bare ids in their provider's queue.
//! Started all at once, a bulk of 30 000 held 56 MB of waiting tasks, and
//! each of them read its connection before the first request went out. A
//! window per provider, not one for the whole bulk, so a stalled provider
//! holds up only its own connections.
//!
//! The window's refreshes are futures polled by the bulk's own task, as a
//! bare `buffer_unordered` loop runs its requests, not a task each: no spawn
//! a refresh, and the wake-ups of a refresh's many hand-offs (permits,
//! store batches, events) land on the task that runs it instead of waking
//! another thread. That took 8–9 % of the CPU of a refresh
//! (`examples/refresh_throughput`, BENCHMARKS.md). Between two polls the bulk
//! awaits only what is quick: an event into the front end's queue, and reads,
//! which SQLite's WAL lets through while another process writes.

use std::collections::VecDeque;
use std::sync::Arc;

use futures::StreamExt;
use futures::stream::FuturesUnordered;

use super::flight::OpResult;
use super::halt::{Halt, Registered};
use super::scheduler::launch_limit;
use super::window::Windows;
use super::{Event, RequestId, Worker};
use crate::domain::{ConnectionId, OpKind};

/// How many connections' providers are read in one store call, as queues
/// run short: enough to keep every window full without first reading all
/// 100 000.
const RESOLVE_CHUNK: usize = 512;

/// The window for connections that are gone or whose provider is not
/// configured: each fails at once, with the reason, when it runs.
const UNKNOWN_WINDOW: usize = 64;

/// Which window a connection's refresh waits in: its provider's, or `None`.
type Key = Option<String>;

impl Worker {
    /// Refreshes many connections, bounded per provider, reporting each
    /// outcome, and progress at the start, at most every
    /// [`PROGRESS_EVERY`] and at the end: thousands of refreshes a second
    /// need not redraw a counter thousands of times.
    ///
    /// Cancelled ([`Halt`]), it starts no more and drops the refreshes
    /// waiting for their turn. Those already sent are left to their
    /// answers, and dropped only at a second cancel; those whose answer has
    /// come and is not yet written are left to finish: dropping one would
    /// lose the token the provider has just issued. Stopped with the worker,
    /// it starts no more and lets what runs finish. Either way its last
    /// progress says how many were not refreshed, so that a front end knows
    /// it has ended.
    pub(crate) async fn refresh_many(&self, id: RequestId, conns: Vec<ConnectionId>) {
        let halt = Registered::new(self, id);
        let total = conns.len();
        let (mut done, mut failed) = (0, 0);
        let mut unread: VecDeque<ConnectionId> = conns.into();
        let mut windows = Windows::<Key, ConnectionId>::default();
        let mut running = FuturesUnordered::new();
        // What runs, and whether a cancel has been answered for it.
        let mut in_flight = std::collections::HashSet::new();
        let mut told = false;
        let progress = |done, failed, stopped| Event::Progress {
            id,
            done,
            total,
            failed,
            stopped,
        };
        self.emit(progress(done, failed, 0)).await;
        let mut last_progress = std::time::Instant::now();
        loop {
            while !self.stopping() && !halt.halt().is_stopped() {
                for (conn, key) in windows.launch() {
                    in_flight.insert(conn);
                    running.push(self.clone().refresh_one(id, conn, key, halt.halt().clone()));
                }
                if unread.is_empty() || !windows.wants_more() {
                    break;
                }
                let chunk: Vec<_> = unread.drain(..RESOLVE_CHUNK.min(unread.len())).collect();
                for (conn, key) in self.providers_of(chunk).await {
                    windows.queue(key, |k| self.window_limit(k), conn);
                }
            }
            let next = tokio::select! {
                next = running.next() => next,
                () = halt.halt().stopped(), if !told => {
                    told = true;
                    self.tell_sent_left(&in_flight).await;
                    continue;
                }
            };
            let Some((conn, key, result)) = next else {
                break;
            };
            in_flight.remove(&conn);
            windows.ended(&key);
            let Some(result) = result else {
                // Dropped by the cancel: counted as not refreshed at the end.
                continue;
            };
            done += 1;
            let event = match result {
                Ok(c) => Event::succeeded(id, OpKind::Refresh, c, self.now()),
                Err(error) => {
                    failed += 1;
                    Event::Failed {
                        id,
                        op: OpKind::Refresh,
                        conn_id: Some(conn),
                        conn: self.reread(conn).await.map(Box::new),
                        error,
                        next_try: None,
                    }
                }
            };
            self.emit(event).await;
            if done == total || last_progress.elapsed() >= PROGRESS_EVERY {
                last_progress = std::time::Instant::now();
                self.emit(progress(done, failed, 0)).await;
            }
        }
        if done < total {
            self.emit(progress(done, failed, total - done)).await;
        }
    }

    /// At a bulk's first cancel: the refreshes already sent are left to
    /// their answers, as a single operation's is, and the operator hears so
    /// once for all of them.
    async fn tell_sent_left(&self, in_flight: &std::collections::HashSet<ConnectionId>) {
        let sent = in_flight.iter().filter(|c| self.is_out(**c)).count();
        if sent == 0 {
            return;
        }
        let message = format!(
            "cancel: {} already sent {} left to {} answers or deadlines, since dropping them may \
             lose what the providers issue; cancel again to abandon them",
            crate::domain::text::counted(sent, "refresh", "refreshes"),
            if sent == 1 { "is" } else { "are" },
            if sent == 1 { "its" } else { "their" },
        );
        self.emit(Event::Notice { message }).await;
    }

    /// One refresh of a bulk; a panic in it fails only it. `None` when the
    /// bulk's cancel dropped it.
    async fn refresh_one(
        self,
        id: RequestId,
        conn: ConnectionId,
        key: Key,
        halt: Arc<Halt>,
    ) -> (ConnectionId, Key, Option<OpResult>) {
        let op = OpKind::Refresh;
        let run = super::contained(
            id,
            op,
            conn,
            self.operate_on(op, conn, key.clone(), super::ops::Asked::ByOperator),
        );
        let result = self.unless_halted(&halt, op, conn, run).await;
        (conn, key, result)
    }

    /// Each connection's configured provider, or `None` if it is gone, its
    /// provider is not configured, or it cannot be read (its refresh then
    /// says why).
    async fn providers_of(&self, chunk: Vec<ConnectionId>) -> Vec<(ConnectionId, Key)> {
        let ids = chunk.clone();
        let read = self.db(move |s| Ok(s.heads(&ids))).await;
        let found = read.unwrap_or_default();
        let mut found = found.into_iter();
        chunk
            .into_iter()
            .map(|conn| {
                let key = match found.next() {
                    Some(Ok(Some(c))) if self.slot(&c.provider).is_ok() => Some(c.provider),
                    _ => None,
                };
                (conn, key)
            })
            .collect()
    }

    fn window_limit(&self, key: &Key) -> usize {
        key.as_deref()
            .and_then(|p| self.slot(p).ok())
            .map_or(UNKNOWN_WINDOW, |s| launch_limit(&s.config))
    }
}

/// How often a bulk refresh reports its progress while it runs.
const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_millis(100);
