//! `STORE=memory`: the real store behind a stand-in that keeps the rows a
//! refresh touches in memory. Leases and outcomes (the two store calls of a
//! refresh) are answered from a map, without SQLite, encryption or fsync;
//! everything else goes to the real store. A diagnostic, not a product
//! path: it splits what bankdeck adds to a refresh into the store's share
//! and the rest (the worker's tasks, batching and thread hand-offs, its
//! HTTP client, events). Nothing a refresh does here is written anywhere.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bankdeck::domain::{Connection, ConnectionId, Secret, Secrets};
use bankdeck::store::intercept::{Intercept, Intercepted};
use bankdeck::store::{
    AuditDraft, ConnectionUpdate, LeaseRequest, Leased, SecretChange, Settlement, Store, StoreError,
};

/// The rows of the connections a run refreshes.
pub struct MemoryLeases(Mutex<HashMap<ConnectionId, (Connection, Secrets)>>);

/// `inner`, with `ids`' rows and secrets copied out of it once and their
/// leases and outcomes answered from memory from then on.
pub fn over(inner: Arc<dyn Store>, ids: &[ConnectionId]) -> Intercepted<MemoryLeases> {
    let rows = ids
        .iter()
        .map(|&id| {
            let conn = inner.connection(id).unwrap().expect("a filed grant");
            (id, (conn, inner.secrets(id).unwrap()))
        })
        .collect();
    Intercepted {
        inner,
        hooks: MemoryLeases(Mutex::new(rows)),
    }
}

fn change(slot: &mut Option<Secret>, to: SecretChange) {
    match to {
        SecretChange::Keep => {}
        SecretChange::Set(s) => *slot = Some(s),
        SecretChange::Erase => *slot = None,
    }
}

/// What the SQLite store's outcome write does: the row by the store's own
/// [`ConnectionUpdate::merge_into`], the secrets in the map.
fn apply(row: &mut (Connection, Secrets), u: ConnectionUpdate, audit: &AuditDraft) -> Connection {
    let (conn, secrets) = row;
    u.merge_into(conn, audit);
    change(&mut secrets.access_code, u.access_code);
    change(&mut secrets.access_token, u.access_token);
    change(&mut secrets.refresh_token, u.refresh_token);
    change(&mut secrets.id_token, u.id_token);
    change(&mut secrets.user_secret, u.user_secret);
    conn.clone()
}

impl Intercept for MemoryLeases {
    fn lease_and_read_many(
        &self,
        _inner: &dyn Store,
        batch: Vec<LeaseRequest>,
        _holder: &str,
    ) -> Vec<Leased> {
        let rows = self.0.lock().unwrap();
        batch
            .into_iter()
            .map(|l| Ok(rows.get(&l.id).cloned()))
            .collect()
    }

    fn apply_and_release_many(
        &self,
        _inner: &dyn Store,
        batch: Vec<Arc<Settlement>>,
        _holder: &str,
    ) -> Vec<Result<Connection, StoreError>> {
        let mut rows = self.0.lock().unwrap();
        batch
            .into_iter()
            .map(|s| match rows.get_mut(&s.base.id) {
                Some(row) => {
                    let s = Arc::unwrap_or_clone(s);
                    Ok(apply(row, s.update, &s.audit))
                }
                None => Err(StoreError::Io(format!("no connection {}", s.base.id))),
            })
            .collect()
    }
}
