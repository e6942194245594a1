//! The screen's bulk refresh (`R`): many connections, a window per provider.
//!
//! A refresh is a task of its own, but only a provider's window of them
//! exists at a time (as many as it may have in flight and as many again
//! waiting their turn, like the scheduler's): the rest wait as bare ids in
//! their provider's queue. Started all at once, a bulk of 30 000 held 56 MB
//! of waiting tasks, and each of them read its connection before the first
//! request went out. A window per provider, not one for the whole bulk, so a
//! stalled provider holds up only its own connections.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::panic::AssertUnwindSafe;

use futures::FutureExt;
use tokio::task::JoinSet;

use super::flight::OpResult;
use super::scheduler::launch_limit;
use super::{Event, RequestId, Worker};
use crate::domain::{ConnectionId, ErrorKind, OpError, OpKind};

/// How many connections' providers are read in one store call, as queues
/// run short: enough to keep every window full without first reading all
/// 100 000.
const RESOLVE_CHUNK: usize = 512;

/// The window for connections that are gone or whose provider is not
/// configured: each fails at once, with the reason, when it runs.
const UNKNOWN_WINDOW: usize = 64;

/// Which window a connection's refresh waits in: its provider's, or `None`.
type Key = Option<String>;

struct Window {
    limit: usize,
    running: usize,
    queue: VecDeque<ConnectionId>,
}

/// The bulk's windows: pure bookkeeping, so its rules are tested directly.
#[derive(Default)]
struct Windows(HashMap<Key, Window>);

impl Windows {
    /// Queues `conn` in `key`'s window, made with `limit` on first use.
    fn queue(&mut self, key: Key, limit: impl FnOnce(&Key) -> usize, conn: ConnectionId) {
        match self.0.entry(key) {
            Entry::Occupied(window) => window.into_mut(),
            Entry::Vacant(new) => {
                let limit = limit(new.key());
                new.insert(Window {
                    limit,
                    running: 0,
                    queue: VecDeque::new(),
                })
            }
        }
        .queue
        .push_back(conn);
    }

    /// Whether reading more connections could start more refreshes now:
    /// nothing is known yet, or some window has more room than it has
    /// queued. A full window's queue (a stalled provider's) does not count,
    /// so it does not stop the bulk from finding other providers' work.
    fn wants_more(&self) -> bool {
        self.0.is_empty()
            || self
                .0
                .values()
                .any(|w| w.limit.saturating_sub(w.running) > w.queue.len())
    }

    /// What may start now, counted as running.
    fn launch(&mut self) -> Vec<(ConnectionId, Key)> {
        let mut start = Vec::new();
        for (key, w) in &mut self.0 {
            let room = w.limit.saturating_sub(w.running).min(w.queue.len());
            w.running += room;
            start.extend(w.queue.drain(..room).map(|c| (c, key.clone())));
        }
        start
    }

    fn ended(&mut self, key: &Key) {
        if let Some(w) = self.0.get_mut(key) {
            w.running = w.running.saturating_sub(1);
        }
    }
}

impl Worker {
    /// Refreshes many connections, bounded per provider, reporting each
    /// outcome, and progress at the start, at most every
    /// [`PROGRESS_EVERY`] and at the end: thousands of refreshes a second
    /// need not redraw a counter thousands of times. Cancelling the bulk
    /// drops the set of tasks, which aborts every refresh still running.
    pub(crate) async fn refresh_many(&self, id: RequestId, conns: Vec<ConnectionId>) {
        let total = conns.len();
        let (mut done, mut failed) = (0, 0);
        let mut unread: VecDeque<ConnectionId> = conns.into();
        let mut windows = Windows::default();
        let mut running = JoinSet::new();
        let progress = |done, failed| Event::Progress {
            id,
            done,
            total,
            failed,
        };
        self.emit(progress(done, failed)).await;
        let mut last_progress = std::time::Instant::now();
        loop {
            loop {
                for (conn, key) in windows.launch() {
                    running.spawn(self.clone().refresh_one(id, conn, key));
                }
                if unread.is_empty() || !windows.wants_more() {
                    break;
                }
                let chunk: Vec<_> = unread.drain(..RESOLVE_CHUNK.min(unread.len())).collect();
                for (conn, key) in self.providers_of(chunk).await {
                    windows.queue(key, |k| self.window_limit(k), conn);
                }
            }
            let Some(joined) = running.join_next().await else {
                break;
            };
            // Only this set aborts its tasks, and only when dropped; panics
            // are caught inside each.
            let Ok((conn, key, result)) = joined else {
                continue;
            };
            windows.ended(&key);
            done += 1;
            let event = match result {
                Ok(c) => Event::Succeeded {
                    id,
                    op: OpKind::Refresh,
                    message: format!("refreshed {}", c.user),
                    conn: Box::new(c),
                },
                Err(error) => {
                    failed += 1;
                    Event::Failed {
                        id,
                        op: OpKind::Refresh,
                        conn_id: Some(conn),
                        conn: self.reread(conn).await.map(Box::new),
                        error,
                    }
                }
            };
            self.emit(event).await;
            if done == total || last_progress.elapsed() >= PROGRESS_EVERY {
                last_progress = std::time::Instant::now();
                self.emit(progress(done, failed)).await;
            }
        }
    }

    /// One refresh of a bulk, as its own task; a panic in it fails only it.
    async fn refresh_one(
        self,
        id: RequestId,
        conn: ConnectionId,
        key: Key,
    ) -> (ConnectionId, Key, OpResult) {
        let op = AssertUnwindSafe(self.operate(OpKind::Refresh, conn)).catch_unwind();
        let result = op.await.unwrap_or_else(|_| {
            tracing::error!(request = id.0, connection = conn.0, "a refresh panicked");
            Err(OpError::new(
                ErrorKind::Internal,
                format!("internal error in request {} (see the log)", id.0),
            ))
        });
        (conn, key, result)
    }

    /// Each connection's configured provider, or `None` if it is gone, its
    /// provider is not configured, or it cannot be read (its refresh then
    /// says why).
    async fn providers_of(&self, chunk: Vec<ConnectionId>) -> Vec<(ConnectionId, Key)> {
        let ids = chunk.clone();
        let read = self.db(move |s| Ok(s.connections_by_id(&ids))).await;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn queue(w: &mut Windows, key: &str, limit: usize, ids: std::ops::Range<i64>) {
        for i in ids {
            w.queue(Some(key.into()), |_| limit, ConnectionId(i));
        }
    }

    #[test]
    fn a_window_starts_up_to_its_limit_and_the_next_as_each_ends() {
        let mut w = Windows::default();
        assert!(w.wants_more(), "nothing is known yet");
        queue(&mut w, "bank", 4, 0..10);
        let first: Vec<_> = w.launch().into_iter().map(|(c, _)| c.0).collect();
        assert_eq!(first, [0, 1, 2, 3]);
        assert!(w.launch().is_empty(), "the window is full");
        assert!(!w.wants_more(), "six wait already");
        w.ended(&Some("bank".into()));
        assert_eq!(w.launch(), [(ConnectionId(4), Some("bank".into()))]);
    }

    #[test]
    fn a_window_with_room_left_after_a_chunk_asks_for_more() {
        // 1 000 refreshes hanging at a provider that allows 2 000: the first
        // chunk of 512 starts, and the window still wants the rest.
        let mut w = Windows::default();
        queue(&mut w, "bank", 2000, 0..512);
        assert_eq!(w.launch().len(), 512);
        assert!(w.wants_more());
        queue(&mut w, "bank", 2000, 512..1000);
        assert_eq!(w.launch().len(), 488);
    }

    #[test]
    fn a_full_window_does_not_stop_the_search_for_other_providers_work() {
        let mut w = Windows::default();
        queue(&mut w, "stalled", 2, 0..50);
        queue(&mut w, "bank", 4, 50..52);
        assert_eq!(w.launch().len(), 4);
        // The stalled one is full with 48 queued; the bank has room for two.
        assert!(w.wants_more());
        queue(&mut w, "bank", 4, 52..60);
        assert_eq!(w.launch().len(), 2);
        assert!(!w.wants_more(), "every window with room has enough queued");
    }
}
