//! At most one operation per connection, within this process and across processes.
//!
//! Rotating refresh tokens punish concurrency: two refreshes with the same
//! token and the provider revokes the whole family. So a second request for
//! the same operation on the same connection *joins* the first (it gets the
//! same result, no second POST), a different operation waits its turn, and a
//! lease in the store keeps a second bankdeck process out while we talk to the
//! provider.
//!
//! The caller that starts an operation runs it in its own task; those who
//! join wait for its result. A shared future polled by every waiter cost a
//! tenth of a bulk refresh's CPU, though almost no operation is ever joined.
//! If the starter is cancelled, its request is dropped with it (that is what
//! cancelling means) and a waiting joiner starts the operation afresh.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::watch;

use crate::domain::{Connection, ConnectionId, OpError, OpKind};

pub type OpResult = Result<Done, OpError>;

/// An operation's success: the connection as it now stands, and who did
/// the work, so that nobody is told this call did what another did (the
/// audit log then has the other's line, not one of ours).
#[derive(Debug, Clone)]
pub struct Done {
    pub conn: Connection,
    pub by: DoneBy,
}

/// Who did an operation's work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DoneBy {
    /// This call: its request went to the provider, or it needed none.
    This,
    /// Another process (a cron job's refresh, a second screen's exchange),
    /// while this call waited for the row's lease; nothing was sent.
    Another,
    /// Whoever renewed the row after the scheduler planned its refresh
    /// (another process, or an operator's refresh in this one): by its
    /// turn nothing was due, and nothing was sent.
    Earlier,
}

impl Done {
    /// This call's own work.
    pub fn ours(conn: Connection) -> Done {
        Done {
            conn,
            by: DoneBy::This,
        }
    }

    /// How a front end says who did the work, when it was not this call:
    /// "done by another process meanwhile".
    pub fn by_whom(&self) -> Option<&'static str> {
        match self.by {
            DoneBy::This => None,
            DoneBy::Another => Some("done by another process meanwhile"),
            DoneBy::Earlier => Some("renewed since it was planned, so nothing was sent"),
        }
    }
}

/// A running operation as the map holds it: what joiners wait on.
struct Running {
    op: OpKind,
    generation: u64,
    result: watch::Receiver<Option<OpResult>>,
}

#[derive(Default)]
pub struct Flights {
    running: Mutex<HashMap<ConnectionId, Running>>,
    turns: Mutex<HashMap<ConnectionId, Arc<tokio::sync::Mutex<()>>>>,
    generation: AtomicU64,
}

impl Flights {
    /// Runs `op` on `conn` unless the same operation is already running there,
    /// in which case it waits for that one and returns its result.
    pub async fn run<F: Future<Output = OpResult>>(
        &self,
        conn: ConnectionId,
        op: OpKind,
        start: impl FnOnce() -> F,
    ) -> OpResult {
        loop {
            let mut joined = match self.join_or_claim(conn, op) {
                Ok(joined) => joined,
                Err(entry) => return self.start(entry, start).await,
            };
            if let Ok(result) = joined.wait_for(Option::is_some).await
                && let Some(result) = result.as_ref()
            {
                return result.clone();
            }
            // The starter was cancelled before it finished: start afresh.
        }
    }

    /// Whether any operation is running on `conn` now.
    pub fn busy(&self, conn: ConnectionId) -> bool {
        lock(&self.running).contains_key(&conn)
    }

    /// The running operation's result to wait on, or our claim to start it.
    fn join_or_claim(
        &self,
        conn: ConnectionId,
        op: OpKind,
    ) -> Result<watch::Receiver<Option<OpResult>>, Entry<'_>> {
        let mut running = lock(&self.running);
        if let Some(r) = running.get(&conn)
            && r.op == op
        {
            return Ok(r.result.clone());
        }
        let (tx, rx) = watch::channel(None);
        let generation = self.generation.fetch_add(1, Ordering::Relaxed);
        running.insert(
            conn,
            Running {
                op,
                generation,
                result: rx,
            },
        );
        Err(Entry {
            flights: self,
            conn,
            generation,
            result: tx,
        })
    }

    async fn start<F: Future<Output = OpResult>>(
        &self,
        entry: Entry<'_>,
        start: impl FnOnce() -> F,
    ) -> OpResult {
        let turn = self.turn(entry.conn);
        let _tidy = Tidy {
            flights: self,
            conn: entry.conn,
        };
        // A different operation on this connection finishes first.
        let _turn = turn.lock_owned().await;
        let result = start().await;
        entry.finish(&result);
        result
    }

    fn turn(&self, conn: ConnectionId) -> Arc<tokio::sync::Mutex<()>> {
        lock(&self.turns).entry(conn).or_default().clone()
    }
}

/// Drops a connection's turn from the map once nobody holds or waits for
/// it, after the turn itself is given back (declared before it, dropped
/// after): a long session must not keep one for every connection it ever
/// touched, a hundred thousand after one bulk refresh.
struct Tidy<'a> {
    flights: &'a Flights,
    conn: ConnectionId,
}

impl Drop for Tidy<'_> {
    fn drop(&mut self) {
        let mut turns = lock(&self.flights.turns);
        if turns
            .get(&self.conn)
            .is_some_and(|t| Arc::strong_count(t) == 1)
        {
            turns.remove(&self.conn);
        }
    }
}

/// The starter's claim on its map entry. Removed when the starter finishes
/// *or is dropped* (a cancelled task): an entry left in the map would make
/// every later caller wait for a result that never comes.
struct Entry<'a> {
    flights: &'a Flights,
    conn: ConnectionId,
    generation: u64,
    result: watch::Sender<Option<OpResult>>,
}

impl Entry<'_> {
    /// Hands the result to whoever joined. The entry leaves the map first,
    /// so nobody joins after the result is sent; the result is copied only
    /// if someone did join.
    fn finish(self, result: &OpResult) {
        self.leave();
        if self.result.receiver_count() > 0 {
            self.result.send_replace(Some(result.clone()));
        }
    }

    fn leave(&self) {
        let mut running = lock(&self.flights.running);
        if running
            .get(&self.conn)
            .is_some_and(|r| r.generation == self.generation)
        {
            running.remove(&self.conn);
        }
    }
}

impl Drop for Entry<'_> {
    fn drop(&mut self) {
        self.leave();
    }
}

/// A poisoned map only means another task panicked mid-insert; the map itself
/// is still a valid map, so carry on with it.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;
    use std::sync::atomic::AtomicUsize;

    fn conn() -> Connection {
        serde_json::from_value(serde_json::json!({
            "id": 1, "user_id": 1, "user": "u", "provider": "p", "kind": "oidc",
            "grant": "authorization_code", "label": "", "remote": {}, "lifetimes": {},
            "scopes": {"granted": [], "denied": [], "products": []},
            "flags": {}, "last_op": null, "created_at": 0, "version": 1
        }))
        .unwrap()
    }

    #[tokio::test]
    async fn fifty_refreshes_of_one_connection_run_once() {
        let flights = Arc::new(Flights::default());
        let calls = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new(tokio::sync::Notify::new());
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let (flights, calls, gate) = (flights.clone(), calls.clone(), gate.clone());
            tasks.push(tokio::spawn(async move {
                flights
                    .run(ConnectionId(1), OpKind::Refresh, move || {
                        async move {
                            calls.fetch_add(1, Ordering::SeqCst);
                            gate.notified().await;
                            Ok(Done::ours(conn()))
                        }
                        .boxed()
                    })
                    .await
            }));
        }
        tokio::task::yield_now().await;
        while calls.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        gate.notify_waiters();
        gate.notify_one();
        for t in tasks {
            assert!(t.await.unwrap().is_ok());
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(!flights.busy(ConnectionId(1)));
        assert!(lock(&flights.turns).is_empty(), "no turn is kept");
    }

    #[tokio::test]
    async fn a_different_operation_waits_for_the_first() {
        let flights = Arc::new(Flights::default());
        let order = Arc::new(Mutex::new(Vec::new()));
        let gate = Arc::new(tokio::sync::Notify::new());
        let (f1, o1, g1) = (flights.clone(), order.clone(), gate.clone());
        let first = tokio::spawn(async move {
            f1.run(ConnectionId(1), OpKind::Refresh, move || {
                async move {
                    g1.notified().await;
                    lock(&o1).push("refresh");
                    Ok(Done::ours(conn()))
                }
                .boxed()
            })
            .await
        });
        while !flights.busy(ConnectionId(1)) {
            tokio::task::yield_now().await;
        }
        let (f2, o2) = (flights.clone(), order.clone());
        let second = tokio::spawn(async move {
            f2.run(ConnectionId(1), OpKind::Logout, move || {
                async move {
                    lock(&o2).push("logout");
                    Ok(Done::ours(conn()))
                }
                .boxed()
            })
            .await
        });
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert!(lock(&order).is_empty(), "logout must wait for the refresh");
        gate.notify_one();
        first.await.unwrap().unwrap();
        second.await.unwrap().unwrap();
        assert_eq!(*lock(&order), vec!["refresh", "logout"]);
        assert!(lock(&flights.turns).is_empty(), "no turn is kept");
    }

    #[tokio::test]
    async fn a_joiner_whose_starter_is_cancelled_runs_the_operation_itself() {
        let flights = Arc::new(Flights::default());
        let calls = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new(tokio::sync::Notify::new());
        let spawn = |flights: Arc<Flights>| {
            let (calls, gate) = (calls.clone(), gate.clone());
            tokio::spawn(async move {
                flights
                    .run(ConnectionId(1), OpKind::Refresh, move || async move {
                        calls.fetch_add(1, Ordering::SeqCst);
                        gate.notified().await;
                        Ok(Done::ours(conn()))
                    })
                    .await
            })
        };
        let starter = spawn(flights.clone());
        while calls.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        let joiner = spawn(flights.clone());
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1, "the second one joins");
        starter.abort();
        assert!(starter.await.unwrap_err().is_cancelled());
        while calls.load(Ordering::SeqCst) == 1 {
            tokio::task::yield_now().await;
        }
        gate.notify_one();
        assert!(joiner.await.unwrap().is_ok());
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert!(!flights.busy(ConnectionId(1)));
        assert!(lock(&flights.turns).is_empty(), "no turn is kept");
    }
}
