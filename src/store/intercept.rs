//! A store that hands every call to another one, except those that write
//! what a provider answered: the two a bulk of operations batches (leases
//! and outcomes) and a new connection. For tests that hold such writes back
//! or fail them, and for the throughput example's in-memory diagnostic; the
//! product never wraps its store.

use std::sync::Arc;

use crate::domain::{
    AuditEntry, Connection, ConnectionId, Flags, ProviderWait, Renewal, Secrets, UnixTime, User,
    UserId,
};

use super::api::{
    ArchivePlan, AuditDraft, AuditQuery, Changes, ConnectionHead, ConnectionUpdate, LeaseRequest,
    Leased, NewConnection, Settlement, Store,
};
use super::error::StoreError;

/// What an [`Intercepted`] store does with the batched calls; by default
/// what `inner` does.
pub trait Intercept: Send + Sync {
    fn lease_and_read_many(
        &self,
        inner: &dyn Store,
        batch: Vec<LeaseRequest>,
        holder: &str,
    ) -> Vec<Leased> {
        inner.lease_and_read_many(batch, holder)
    }

    fn apply_and_release_many(
        &self,
        inner: &dyn Store,
        batch: Vec<Arc<Settlement>>,
        holder: &str,
    ) -> Vec<Result<Connection, StoreError>> {
        inner.apply_and_release_many(batch, holder)
    }

    fn insert_connection_for(
        &self,
        inner: &dyn Store,
        user: &str,
        user_audit: AuditDraft,
        new: NewConnection,
        audit: AuditDraft,
    ) -> Result<(Connection, Option<User>), StoreError> {
        inner.insert_connection_for(user, user_audit, new, audit)
    }
}

/// `inner`, with the batched calls going through `hooks`.
pub struct Intercepted<H> {
    pub inner: Arc<dyn Store>,
    pub hooks: H,
}

impl<H: Intercept> Store for Intercepted<H> {
    fn lease_and_read_many(&self, batch: Vec<LeaseRequest>, holder: &str) -> Vec<Leased> {
        self.hooks.lease_and_read_many(&*self.inner, batch, holder)
    }
    fn apply_and_release_many(
        &self,
        batch: Vec<Arc<Settlement>>,
        holder: &str,
    ) -> Vec<Result<Connection, StoreError>> {
        self.hooks
            .apply_and_release_many(&*self.inner, batch, holder)
    }
    fn heads(&self, ids: &[ConnectionId]) -> Vec<Result<Option<ConnectionHead>, StoreError>> {
        self.inner.heads(ids)
    }
    fn audit_mark(&self) -> Result<i64, StoreError> {
        self.inner.audit_mark()
    }
    fn audit_archive_plan(&self, before: UnixTime) -> Result<ArchivePlan, StoreError> {
        self.inner.audit_archive_plan(before)
    }
    fn audit_log_begins(&self) -> Result<Option<UnixTime>, StoreError> {
        self.inner.audit_log_begins()
    }
    fn note_renewal(&self, record: &Renewal) -> Result<(), StoreError> {
        self.inner.note_renewal(record)
    }
    fn renewals(&self) -> Result<Vec<Renewal>, StoreError> {
        self.inner.renewals()
    }
    fn note_wait(&self, wait: &ProviderWait) -> Result<(), StoreError> {
        self.inner.note_wait(wait)
    }
    fn waits(&self) -> Result<Vec<ProviderWait>, StoreError> {
        self.inner.waits()
    }
    fn lift_wait(&self, lift: &ProviderWait) -> Result<Option<ProviderWait>, StoreError> {
        self.inner.lift_wait(lift)
    }
    fn audit_between(&self, a: i64, u: i64, l: usize) -> Result<Vec<AuditEntry>, StoreError> {
        self.inner.audit_between(a, u, l)
    }
    fn mark_audit_archived(&self, f: i64, u: i64, a: AuditDraft) -> Result<(), StoreError> {
        self.inner.mark_audit_archived(f, u, a)
    }
    fn remove_archived_audit(&self, limit: usize) -> Result<u64, StoreError> {
        self.inner.remove_archived_audit(limit)
    }
    fn changes_since(&self, a: i64, u: UserId, l: usize) -> Result<Changes, StoreError> {
        self.inner.changes_since(a, u, l)
    }
    fn add_user(&self, n: &str, e: Option<&str>, a: AuditDraft) -> Result<User, StoreError> {
        self.inner.add_user(n, e, a)
    }
    fn remove_user(&self, n: &str, a: AuditDraft) -> Result<User, StoreError> {
        self.inner.remove_user(n, a)
    }
    fn users(&self) -> Result<Vec<User>, StoreError> {
        self.inner.users()
    }
    fn user_by_name(&self, n: &str) -> Result<Option<User>, StoreError> {
        self.inner.user_by_name(n)
    }
    fn user_any_case(&self, n: &str) -> Result<Option<User>, StoreError> {
        self.inner.user_any_case(n)
    }
    fn insert_connection(&self, n: NewConnection, a: AuditDraft) -> Result<Connection, StoreError> {
        self.inner.insert_connection(n, a)
    }
    fn insert_connection_for(
        &self,
        u: &str,
        ua: AuditDraft,
        n: NewConnection,
        a: AuditDraft,
    ) -> Result<(Connection, Option<User>), StoreError> {
        self.hooks.insert_connection_for(&*self.inner, u, ua, n, a)
    }
    fn insert_connections(
        &self,
        b: Vec<(NewConnection, Flags)>,
        a: AuditDraft,
    ) -> Result<Vec<ConnectionId>, StoreError> {
        self.inner.insert_connections(b, a)
    }
    fn connections(&self) -> Result<Vec<Connection>, StoreError> {
        self.inner.connections()
    }
    fn each_connection(&self, each: &mut dyn FnMut(Connection)) -> Result<(), StoreError> {
        self.inner.each_connection(each)
    }
    fn connection(&self, id: ConnectionId) -> Result<Option<Connection>, StoreError> {
        self.inner.connection(id)
    }
    fn user_connections(&self, user: UserId) -> Result<Vec<Connection>, StoreError> {
        self.inner.user_connections(user)
    }
    fn connections_by_id(
        &self,
        ids: &[ConnectionId],
    ) -> Vec<Result<Option<Connection>, StoreError>> {
        self.inner.connections_by_id(ids)
    }
    fn secrets(&self, id: ConnectionId) -> Result<Secrets, StoreError> {
        self.inner.secrets(id)
    }
    fn apply(
        &self,
        id: ConnectionId,
        v: i64,
        u: ConnectionUpdate,
        a: AuditDraft,
    ) -> Result<Connection, StoreError> {
        self.inner.apply(id, v, u, a)
    }
    fn apply_and_release(
        &self,
        b: Connection,
        u: ConnectionUpdate,
        a: AuditDraft,
        h: &str,
    ) -> Result<Connection, StoreError> {
        self.inner.apply_and_release(b, u, a, h)
    }
    fn append_audit(&self, c: Option<ConnectionId>, a: AuditDraft) -> Result<(), StoreError> {
        self.inner.append_audit(c, a)
    }
    fn audit_query(&self, q: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        self.inner.audit_query(q)
    }
    fn lease_and_read(
        &self,
        id: ConnectionId,
        h: &str,
        u: UnixTime,
        n: UnixTime,
    ) -> Result<Option<(Connection, Secrets)>, StoreError> {
        self.inner.lease_and_read(id, h, u, n)
    }
    fn release_lease(&self, id: ConnectionId, h: &str) -> Result<(), StoreError> {
        self.inner.release_lease(id, h)
    }
    fn leases(&self) -> Result<Vec<super::Lease>, StoreError> {
        self.inner.leases()
    }
    fn lease_holder(&self, id: ConnectionId) -> Result<Option<(String, UnixTime)>, StoreError> {
        self.inner.lease_holder(id)
    }
    fn check_integrity(&self) -> Result<(), StoreError> {
        self.inner.check_integrity()
    }
}
