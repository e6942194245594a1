//! The state every handler shares: clock, keys, the three providers' tables,
//! fault rules and request counters.
//!
//! One `Arc<Shared>` is the axum state. Each table sits behind its own short
//! `std::sync::Mutex` (never held across an `.await`), so one provider's
//! traffic never waits on another's and handlers stay plain functions.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::watch;

use super::api::SandboxOptions;
use super::authz::store::AuthzStore;
use super::clock::Clock;
use super::dapi::DapiStore;
use super::faults::FaultBook;
use super::jwt::Keys;

pub(crate) type AppState = Arc<Shared>;

/// Deliberately not `Debug`: the tables hold live codes and tokens.
pub(crate) struct Shared {
    pub clock: Clock,
    pub opts: SandboxOptions,
    pub keys: Keys,
    /// `http://127.0.0.1:PORT`, known once the listener is bound.
    pub base_url: String,
    pub dapi: Mutex<DapiStore>,
    pub oauth2: Mutex<AuthzStore>,
    pub oidc: Mutex<AuthzStore>,
    pub faults: Mutex<FaultBook>,
    pub counters: Mutex<BTreeMap<&'static str, u64>>,
    /// Flips to `true` on shutdown so stalled and trickling answers end and
    /// graceful shutdown can finish.
    pub closing: watch::Sender<bool>,
}

impl Shared {
    pub(crate) fn new(opts: SandboxOptions, base_url: String) -> Self {
        let clock = Clock::new(opts.pinned_clock);
        let dapi = DapiStore::new(&opts.dapi_apps);
        let oauth2 = AuthzStore::new(&opts.oauth2_clients);
        let oidc = AuthzStore::new(&opts.oidc_clients);
        let faults = FaultBook::new(opts.faults.clone());
        Self {
            clock,
            keys: Keys::generate(),
            base_url,
            dapi: Mutex::new(dapi),
            oauth2: Mutex::new(oauth2),
            oidc: Mutex::new(oidc),
            faults: Mutex::new(faults),
            counters: Mutex::new(BTreeMap::new()),
            closing: watch::channel(false).0,
            opts,
        }
    }

    pub(crate) fn count(&self, route: &'static str) {
        *lock(&self.counters).entry(route).or_insert(0) += 1;
    }

    pub(crate) fn request_count(&self, route: &str) -> u64 {
        lock(&self.counters).get(route).copied().unwrap_or(0)
    }

    pub(crate) fn oidc_issuer(&self) -> String {
        format!("{}/realms/{}", self.base_url, self.opts.realm)
    }

    /// Resolves when the sandbox is shutting down.
    pub(crate) async fn closed(&self) {
        let mut rx = self.closing.subscribe();
        // An error means the sender is gone, which is also "closing".
        let _ = rx.wait_for(|closing| *closing).await;
    }
}

/// Locks a table, recovering from poison: the tables hold plain data that a
/// panicking handler cannot leave half-written in a way worse than a 500.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
