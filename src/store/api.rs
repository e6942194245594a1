//! The narrow interface every store backend offers.
//!
//! The worker and the front ends see only this trait, so the embedded SQLite
//! backend can later sit beside a shared PostgreSQL one for teams. Every write
//! that changes tokens also appends its audit entry in the same transaction:
//! a token change without its audit line (or the reverse) cannot be observed.

use crate::domain::{
    AuditEntry, Connection, ConnectionId, Flags, Grant, LastOp, Lifetimes, OpKind, ProviderKind,
    ProviderWait, RemoteIds, Renewal, Scopes, Secret, Secrets, UnixTime, User, UserId,
};

use std::sync::Arc;

use super::error::StoreError;

/// Which audit lines to read (see [`Store::audit_query`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only this connection's lines.
    pub connection: Option<ConnectionId>,
    /// Only the lines of these connections (a filter's rows).
    pub among: Option<Vec<ConnectionId>>,
    /// Only lines written at or after this moment. The log is read newest
    /// first and the reading stops at the first older line, so a long log
    /// is not read whole for the last hour of it.
    pub since: Option<UnixTime>,
    /// Only the lines of operations that failed.
    pub failed_only: bool,
    /// Only the lines of this operation.
    pub op: Option<OpKind>,
    /// At most this many lines.
    pub limit: usize,
}

/// Where archiving the audit log stands (see [`Store::audit_archive_plan`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchivePlan {
    /// Every line up to this id is in an archive file (0: none ever was).
    pub archived: i64,
    /// How many of those lines are still in the log: an archive stopped
    /// before it had removed them all.
    pub left_behind: u64,
    /// The last line the next archive moves: the lines after `archived` up
    /// to the first that is not old enough (`upto == archived`: none).
    pub upto: i64,
}

/// What the caller knows about a connection that is about to be born.
#[derive(Debug, Clone)]
pub struct NewConnection {
    pub user_id: UserId,
    pub provider: String,
    pub kind: ProviderKind,
    pub grant: Grant,
    pub label: String,
    pub remote: RemoteIds,
    pub lifetimes: Lifetimes,
    pub scopes: Scopes,
    pub secrets: Secrets,
}

/// How one secret column changes in an update.
#[derive(Debug, Clone, Default)]
pub enum SecretChange {
    #[default]
    Keep,
    Set(Secret),
    Erase,
}

/// A token-changing write: new lifetimes, scopes, flags and secrets.
#[derive(Debug, Clone, Default)]
pub struct ConnectionUpdate {
    pub lifetimes: Option<Lifetimes>,
    pub scopes: Option<Scopes>,
    pub flags: Option<Flags>,
    pub remote: Option<RemoteIds>,
    pub access_code: SecretChange,
    pub access_token: SecretChange,
    pub refresh_token: SecretChange,
    pub id_token: SecretChange,
    pub user_secret: SecretChange,
}

impl ConnectionUpdate {
    /// What the write does to the row: the fields it sets, the operation it
    /// records, and a version one higher. Secrets are stored apart and are
    /// the caller's to change.
    pub fn merge_into(&self, conn: &mut Connection, audit: &AuditDraft) {
        if let Some(l) = &self.lifetimes {
            conn.lifetimes = l.clone();
        }
        if let Some(s) = &self.scopes {
            conn.scopes = s.clone();
        }
        if let Some(f) = &self.flags {
            conn.flags = f.clone();
        }
        if let Some(r) = &self.remote {
            conn.remote = r.clone();
        }
        conn.last_op = Some(audit.last_op());
        conn.version += 1;
    }
}

/// The audit line that goes with a write.
#[derive(Debug, Clone)]
pub struct AuditDraft {
    pub at: UnixTime,
    pub actor: String,
    pub op: OpKind,
    pub ok: bool,
    /// Never a secret: built from provider messages and our own words.
    pub message: String,
}

impl AuditDraft {
    /// The row's record of the operation this line audits.
    pub fn last_op(&self) -> LastOp {
        LastOp {
            op: self.op,
            at: self.at,
            ok: self.ok,
        }
    }
}

/// One operation's outcome for [`Store::apply_and_release_many`]: the
/// arguments of one [`Store::apply_and_release`] call.
#[derive(Debug, Clone)]
pub struct Settlement {
    pub base: Connection,
    pub update: ConnectionUpdate,
    pub audit: AuditDraft,
}

/// One lease for [`Store::lease_and_read_many`]: the arguments of one
/// [`Store::lease_and_read`] call but the holder, and which secrets to open.
#[derive(Debug, Clone, Copy)]
pub struct LeaseRequest {
    pub id: ConnectionId,
    pub until: UnixTime,
    pub now: UnixTime,
    pub wants: SecretSet,
}

/// Which of a connection's secrets a read opens. Each one opened is a
/// decryption, and an operation uses one or two of the five: a refresh
/// only its refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretSet(u8);

impl SecretSet {
    pub const NONE: Self = Self(0);
    pub const ACCESS_CODE: Self = Self(1);
    pub const ACCESS_TOKEN: Self = Self(2);
    pub const REFRESH_TOKEN: Self = Self(4);
    pub const ID_TOKEN: Self = Self(8);
    pub const USER_SECRET: Self = Self(16);
    pub const ALL: Self = Self(31);

    #[must_use]
    pub const fn and(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }
}

/// What an operation needs to know of a connection before its lease: which
/// provider's turn it waits for, and the version it saw (a higher one under
/// the lease means another process got there first). Reading only these
/// instead of the whole row (user, scopes, remote ids) takes about half the
/// instructions, and a bulk refresh needs it twice per connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionHead {
    pub provider: String,
    pub version: i64,
}

/// What was written to a store after an audit line, as
/// [`Store::changes_since`] reads it: how a screen sees what other processes
/// (a cron job, a script, a second dashboard) did while it was open.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// The last audit line read: where the next call starts.
    pub last: i64,
    /// Every connection those lines name, as it now stands, in id order.
    pub connections: Vec<Connection>,
    /// The users added after the one asked about, in id order; every user
    /// when `users_complete`.
    pub users: Vec<User>,
    /// Whether a user was removed among these lines, so that `users` holds
    /// every user the store keeps, and those it does not are gone.
    pub users_complete: bool,
    /// The leases held at the time of the read, in id order: the rows some
    /// process works on. Not audited, so read whole on every call.
    pub leases: Vec<Lease>,
}

/// A connection's lease as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub conn: ConnectionId,
    /// Who holds it (`store::holder`'s `host|pid/start|nonce|actor`).
    pub holder: String,
    pub until: UnixTime,
}

impl Lease {
    /// Whether its holder is at work on the row at `now`: a process of this
    /// host that still runs (past its term too: a late write is still
    /// coming), or one of another host within its term. A dead process's
    /// lease is not, whatever its term: the next operation breaks it.
    pub fn at_work(&self, now: UnixTime) -> bool {
        super::holder::at_work(&self.holder, self.until, now)
    }
}

/// What one lease asked of [`Store::lease_and_read_many`] came to.
pub type Leased = Result<Option<(Connection, Secrets)>, StoreError>;

pub trait Store: Send + Sync {
    fn add_user(
        &self,
        name: &str,
        email: Option<&str>,
        audit: AuditDraft,
    ) -> Result<User, StoreError>;
    /// Removes the user named `name`, with `audit`, when no connection is
    /// theirs: a connection's history names its user, so such a user stays.
    fn remove_user(&self, name: &str, audit: AuditDraft) -> Result<User, StoreError>;
    fn users(&self) -> Result<Vec<User>, StoreError>;
    fn user_by_name(&self, name: &str) -> Result<Option<User>, StoreError>;
    /// The user named `name`, or else one whose name differs from it only in
    /// case (the name meant, most likely), through an index.
    fn user_any_case(&self, name: &str) -> Result<Option<User>, StoreError>;

    /// Creates a connection with its secrets and audit line in one transaction.
    fn insert_connection(
        &self,
        new: NewConnection,
        audit: AuditDraft,
    ) -> Result<Connection, StoreError>;

    /// [`Store::insert_connection`] for the user named `user`, who is added
    /// in the same transaction (with `user_audit`) if the store holds no one
    /// by that name; `new.user_id` is set to theirs either way. So a link,
    /// login or token request that is refused, or whose write fails, leaves
    /// no new user behind. The user comes back too when it was added here.
    fn insert_connection_for(
        &self,
        user: &str,
        user_audit: AuditDraft,
        new: NewConnection,
        audit: AuditDraft,
    ) -> Result<(Connection, Option<User>), StoreError>;

    /// Creates many connections in one transaction, each with the flags it
    /// already carries and its own audit line (a copy of `audit`). For bulk
    /// imports and `bankdeck generate`: one commit (one fsync) instead of one
    /// per connection. All are created, or none.
    fn insert_connections(
        &self,
        batch: Vec<(NewConnection, Flags)>,
        audit: AuditDraft,
    ) -> Result<Vec<ConnectionId>, StoreError>;

    /// Every connection, without secrets (nothing is decrypted).
    fn connections(&self) -> Result<Vec<Connection>, StoreError>;
    /// Hands every connection to `each` in turn, in id order, without
    /// holding them all (the scheduler's periodic pass keeps only what is due).
    fn each_connection(&self, each: &mut dyn FnMut(Connection)) -> Result<(), StoreError> {
        self.connections()?.into_iter().for_each(each);
        Ok(())
    }
    fn connection(&self, id: ConnectionId) -> Result<Option<Connection>, StoreError>;
    /// One user's connections, without secrets, in id order.
    fn user_connections(&self, user: UserId) -> Result<Vec<Connection>, StoreError>;
    /// Decrypts the secrets of one connection.
    fn secrets(&self, id: ConnectionId) -> Result<Secrets, StoreError>;

    /// Applies `update` and appends `audit` atomically, only if the stored
    /// version still equals `expected_version` (else [`StoreError::Conflict`]:
    /// someone else wrote first, re-read and decide again). Also records the
    /// last operation and bumps the version.
    fn apply(
        &self,
        id: ConnectionId,
        expected_version: i64,
        update: ConnectionUpdate,
        audit: AuditDraft,
    ) -> Result<Connection, StoreError>;

    /// [`Store::apply`] onto `base` (the connection as read under the lease,
    /// whose version is the one expected), and in the same transaction the
    /// release of the lease `holder` took with [`Store::lease_and_read`]: an
    /// operation's outcome and the end of its turn are one write.
    fn apply_and_release(
        &self,
        base: Connection,
        update: ConnectionUpdate,
        audit: AuditDraft,
        holder: &str,
    ) -> Result<Connection, StoreError>;

    /// [`Store::apply_and_release`] for many operations, each succeeding or
    /// failing alone, in as few commits as the backend can: the worker hands
    /// over every outcome that finished while the last batch was written.
    /// Every successful write is durable before this returns.
    /// Each settlement is shared, not given: a caller may hand the same one
    /// over again when the write failed for a reason that may pass.
    fn apply_and_release_many(
        &self,
        batch: Vec<Arc<Settlement>>,
        holder: &str,
    ) -> Vec<Result<Connection, StoreError>> {
        batch
            .into_iter()
            .map(|s| {
                let s = Arc::unwrap_or_clone(s);
                self.apply_and_release(s.base, s.update, s.audit, holder)
            })
            .collect()
    }

    /// Appends an audit line not tied to a token change.
    fn append_audit(
        &self,
        connection: Option<ConnectionId>,
        audit: AuditDraft,
    ) -> Result<(), StoreError>;
    /// Newest first; `None` for every connection.
    fn audit(
        &self,
        connection: Option<ConnectionId>,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        self.audit_query(&AuditQuery {
            connection,
            limit,
            ..AuditQuery::default()
        })
    }
    /// The lines `query` keeps, newest first.
    fn audit_query(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError>;

    /// Where archiving the audit log stands, and the last line an archive of
    /// the lines older than `before` would move.
    fn audit_archive_plan(&self, before: UnixTime) -> Result<ArchivePlan, StoreError>;
    /// Once the log has been archived, the time of its first line after the
    /// archive: the lines before it are in archive files. `None` when no
    /// archive was ever recorded.
    fn audit_log_begins(&self) -> Result<Option<UnixTime>, StoreError>;

    /// Records that a renewer ran (the dashboard's scheduler, a `refresh
    /// --due`), replacing its last record.
    fn note_renewal(&self, record: &Renewal) -> Result<(), StoreError>;
    /// Every renewer's last record, newest first.
    fn renewals(&self) -> Result<Vec<Renewal>, StoreError>;
    /// Keeps a provider's asked wait for every process, unless a longer one
    /// for that provider is kept already.
    fn note_wait(&self, wait: &ProviderWait) -> Result<(), StoreError>;
    /// Every provider's last asked wait, over or not.
    fn waits(&self) -> Result<Vec<ProviderWait>, StoreError>;
    /// Keeps `lift` (a [`ProviderWait::lift`]) in place of its provider's
    /// asked wait, with an audit line, when one holds at the lift's time:
    /// the wait set aside, or `None` when there was none to lift.
    fn lift_wait(&self, lift: &ProviderWait) -> Result<Option<ProviderWait>, StoreError>;
    /// The audit lines after id `after` up to `upto`, oldest first, at most
    /// `limit` (an archive reads them in pages while it writes its file).
    fn audit_between(
        &self,
        after: i64,
        upto: i64,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError>;
    /// Records, durably and with `audit` as a line of the log, that a file
    /// now holds every audit line up to `upto`: from then on those lines may
    /// leave the log. Refused if the last archive's mark is no longer `from`.
    fn mark_audit_archived(
        &self,
        from: i64,
        upto: i64,
        audit: AuditDraft,
    ) -> Result<(), StoreError>;
    /// Deletes up to `limit` of the oldest audit lines an archive file
    /// holds, in one transaction; how many (0 once none is left).
    fn remove_archived_audit(&self, limit: usize) -> Result<u64, StoreError>;

    /// The newest audit line's id (0 when there is none), read before a
    /// full read of the connections so that [`Store::changes_since`] misses
    /// nothing written after it.
    fn audit_mark(&self) -> Result<i64, StoreError>;
    /// What was written after audit line `after`: the connections named by
    /// the next `limit` audit lines at most, as they now stand, and, when
    /// there were any lines, the users whose id is above `users_after` (users
    /// are only ever added). Every write is audited, so nothing is missed;
    /// a connection written twice is read once.
    fn changes_since(
        &self,
        after: i64,
        users_after: UserId,
        limit: usize,
    ) -> Result<Changes, StoreError>;

    /// Takes a cross-process lease on a connection so that only one process
    /// talks to the provider for it at a time (rotating refresh tokens break
    /// otherwise): free, expired, or already `holder`'s (a renewal). Returns
    /// the connection and its secrets as they are under the lease, read in
    /// the same transaction, or `None` when another live holder has it.
    fn lease_and_read(
        &self,
        id: ConnectionId,
        holder: &str,
        until: UnixTime,
        now: UnixTime,
    ) -> Result<Option<(Connection, Secrets)>, StoreError>;
    /// [`Store::lease_and_read`] for many connections, each answered alone, in
    /// as few commits as the backend can, opening only the secrets each
    /// request `wants` (a backend may open more).
    fn lease_and_read_many(&self, batch: Vec<LeaseRequest>, holder: &str) -> Vec<Leased> {
        batch
            .into_iter()
            .map(|l| self.lease_and_read(l.id, holder, l.until, l.now))
            .collect()
    }
    /// [`Store::connection`] for many ids at once.
    fn connections_by_id(
        &self,
        ids: &[ConnectionId],
    ) -> Vec<Result<Option<Connection>, StoreError>> {
        ids.iter().map(|&id| self.connection(id)).collect()
    }
    /// Each connection's [`ConnectionHead`], or `None` where it is gone.
    fn heads(&self, ids: &[ConnectionId]) -> Vec<Result<Option<ConnectionHead>, StoreError>> {
        self.connections_by_id(ids)
            .into_iter()
            .map(|read| {
                read.map(|c| {
                    c.map(|c| ConnectionHead {
                        provider: c.provider,
                        version: c.version,
                    })
                })
            })
            .collect()
    }
    /// Releases the lease if `holder` holds it; also how a lease left by a
    /// process that died is broken.
    fn release_lease(&self, id: ConnectionId, holder: &str) -> Result<(), StoreError>;
    /// Every lease held, by id, whatever its holder and term: the rows some
    /// process is (or was, when it died) at work on.
    fn leases(&self) -> Result<Vec<Lease>, StoreError>;
    /// The current lease holder and until when, if any.
    fn lease_holder(&self, id: ConnectionId) -> Result<Option<(String, UnixTime)>, StoreError>;

    /// Full consistency check (SQLite `integrity_check`, every secret decrypts).
    fn check_integrity(&self) -> Result<(), StoreError>;
}
