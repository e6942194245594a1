//! At most one operation per connection, within this process and across processes.
//!
//! Rotating refresh tokens punish concurrency: two refreshes with the same
//! token and the provider revokes the whole family. So a second request for
//! the same operation on the same connection *joins* the first (it gets the
//! same result, no second POST), a different operation waits its turn, and a
//! lease in the store keeps a second bankdeck process out while we talk to the
//! provider.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};

use crate::domain::{Connection, ConnectionId, OpError, OpKind};

pub type OpResult = Result<Connection, OpError>;
type Flight = Shared<BoxFuture<'static, OpResult>>;

#[derive(Default)]
pub struct Flights {
    running: Mutex<HashMap<ConnectionId, (OpKind, u64, Flight)>>,
    turns: Mutex<HashMap<ConnectionId, Arc<tokio::sync::Mutex<()>>>>,
    generation: AtomicU64,
}

impl Flights {
    /// Runs `op` on `conn` unless the same operation is already running there,
    /// in which case it waits for that one and returns its result.
    pub async fn run(
        &self,
        conn: ConnectionId,
        op: OpKind,
        start: impl FnOnce() -> BoxFuture<'static, OpResult>,
    ) -> OpResult {
        let (flight, mine) = self.join_or_start(conn, op, start);
        // Removed when the starter finishes *or is dropped* (a cancelled
        // task): a flight left in the map would hand its stale result, or its
        // half-done request, to every later caller.
        let _entry = mine.map(|generation| Entry {
            flights: self,
            conn,
            generation,
        });
        flight.await
    }

    /// Whether any operation is running on `conn` now.
    pub fn busy(&self, conn: ConnectionId) -> bool {
        lock(&self.running).contains_key(&conn)
    }

    fn join_or_start(
        &self,
        conn: ConnectionId,
        op: OpKind,
        start: impl FnOnce() -> BoxFuture<'static, OpResult>,
    ) -> (Flight, Option<u64>) {
        let mut running = lock(&self.running);
        if let Some((kind, _, flight)) = running.get(&conn)
            && *kind == op
        {
            return (flight.clone(), None);
        }
        let turn = self.turn(conn);
        let work = start();
        let flight = async move {
            // A different operation on this connection finishes first.
            let _turn = turn.lock_owned().await;
            work.await
        }
        .boxed()
        .shared();
        let generation = self.generation.fetch_add(1, Ordering::Relaxed);
        running.insert(conn, (op, generation, flight.clone()));
        (flight, Some(generation))
    }

    fn turn(&self, conn: ConnectionId) -> Arc<tokio::sync::Mutex<()>> {
        lock(&self.turns).entry(conn).or_default().clone()
    }
}

/// The starter's claim on its map entry.
struct Entry<'a> {
    flights: &'a Flights,
    conn: ConnectionId,
    generation: u64,
}

impl Drop for Entry<'_> {
    fn drop(&mut self) {
        let mut running = lock(&self.flights.running);
        if running
            .get(&self.conn)
            .is_some_and(|e| e.1 == self.generation)
        {
            running.remove(&self.conn);
        }
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
                            Ok(conn())
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
                    Ok(conn())
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
                    Ok(conn())
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
    }
}
