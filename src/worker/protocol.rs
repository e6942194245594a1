//! What the front ends ask of the worker, and what it answers.
//!
//! Commands carry a [`RequestId`] so a late answer to an old request is
//! recognised and dropped by whoever no longer waits for it. Events carry
//! their whole payload (the new connection, the error with the provider's
//! message), so a front end never has to read the store to show a result.

use super::{Done, DoneBy};
use crate::domain::{
    AuditEntry, Claims, ConnectPayload, Connection, ConnectionId, OpError, OpKind, ProviderWait,
    Secrets, UnixTime, User, UserId, outcome,
};
use crate::store::Changes;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

impl RequestId {
    /// The scheduler numbers its requests from here, far above any screen's
    /// or script's counter.
    pub const SCHEDULED_FROM: u64 = 1 << 62;

    /// Whether the scheduler sent this request, not an operator.
    pub fn is_scheduled(self) -> bool {
        self.0 >= Self::SCHEDULED_FROM
    }
}

#[derive(Debug, Clone)]
pub enum Command {
    /// Dapi: exchange the pending access code for the permanent token.
    Exchange { id: RequestId, conn: ConnectionId },
    /// Refresh (or, for client credentials, re-run the grant).
    Refresh { id: RequestId, conn: ConnectionId },
    /// Revoke / log out the refresh token, keep the access token's countdown.
    Logout { id: RequestId, conn: ConnectionId },
    /// Dapi DelinkUser; the connection becomes final and its secrets erased.
    Delink { id: RequestId, conn: ConnectionId },
    /// Refresh many (the operator's "refresh everything expiring", or the
    /// scheduler's due list), reporting progress.
    RefreshMany {
        id: RequestId,
        conns: Vec<ConnectionId>,
    },
    /// A new app-level token from the client-credentials grant.
    ClientCredentials {
        id: RequestId,
        provider: String,
        user: String,
    },
    /// Browser login: authorization code with PKCE through a loopback listener.
    Login {
        id: RequestId,
        provider: String,
        user: String,
        /// The connection this login renews (`L`), whose account the
        /// provider is told to offer.
        renewing: Option<ConnectionId>,
    },
    /// Store a Connect success payload as a new Dapi connection.
    LinkDapi {
        id: RequestId,
        provider: String,
        user: String,
        label: String,
        payload: ConnectPayload,
    },
    AddUser {
        id: RequestId,
        name: String,
        email: Option<String>,
    },
    /// Secrets, decoded claims and audit of one connection, for the detail pane.
    LoadDetail { id: RequestId, conn: ConnectionId },
    /// The operator asks to see a connection's tokens in full (`v`): the
    /// worker records it in the audit log and answers [`Event::Revealed`],
    /// and the screen shows them only then, as `access-token` writes its
    /// line before the token.
    Reveal { id: RequestId, conn: ConnectionId },
    /// Every connection and user from the store.
    Reload { id: RequestId },
    /// What the store got after audit line `after`, from this process or
    /// another (a cron job, a script), and the users added after
    /// `users_after`: the screen's way of staying true to the store.
    Changes {
        id: RequestId,
        after: i64,
        users_after: UserId,
    },
    /// Stop an operation in flight (its HTTP request is dropped).
    Cancel { id: RequestId },
    /// Set aside the wait `provider` asked for, for every process: the
    /// operator knows it takes requests again.
    LiftWait { id: RequestId, provider: String },
}

impl Command {
    pub fn id(&self) -> RequestId {
        match self {
            Command::Exchange { id, .. }
            | Command::Refresh { id, .. }
            | Command::Logout { id, .. }
            | Command::Delink { id, .. }
            | Command::RefreshMany { id, .. }
            | Command::ClientCredentials { id, .. }
            | Command::Login { id, .. }
            | Command::LinkDapi { id, .. }
            | Command::AddUser { id, .. }
            | Command::LoadDetail { id, .. }
            | Command::Reveal { id, .. }
            | Command::Reload { id }
            | Command::Changes { id, .. }
            | Command::Cancel { id }
            | Command::LiftWait { id, .. } => *id,
        }
    }

    /// The operation and connection of a per-connection command.
    pub fn target(&self) -> Option<(OpKind, ConnectionId)> {
        match self {
            Command::Exchange { conn, .. } => Some((OpKind::Exchange, *conn)),
            Command::Refresh { conn, .. } => Some((OpKind::Refresh, *conn)),
            Command::Logout { conn, .. } => Some((OpKind::Logout, *conn)),
            Command::Delink { conn, .. } => Some((OpKind::Delink, *conn)),
            _ => None,
        }
    }
}

/// What the detail pane shows of one connection.
#[derive(Debug, Clone)]
pub struct Detail {
    pub secrets: Secrets,
    pub access_claims: Option<Claims>,
    pub id_claims: Option<Claims>,
    pub code_claims: Option<Claims>,
    /// The connection's newest audit lines, newest first: at most
    /// [`Detail::AUDIT_READ`], one more than the pane shows, so that fewer
    /// says the log holds no other.
    pub audit: Vec<AuditEntry>,
    /// Set when the log has been archived, `audit` is all the log still
    /// holds of this connection, and the connection is older than the log's
    /// first line: its lines from before this moment are in an archive file
    /// (the log's record of the archive names it).
    pub archived_before: Option<UnixTime>,
}

impl Detail {
    /// The audit lines the pane shows.
    pub const AUDIT_SHOWN: usize = 5;
    pub const AUDIT_READ: usize = Self::AUDIT_SHOWN + 1;
}

/// When the scheduler tries a connection again after its operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextTry {
    /// Not before this instant: its back-off, or what the server asked for
    /// (a paused provider can make it later still).
    After(UnixTime),
    /// A bulk's row refused for a wait longer than the bulk waits: set
    /// aside with its provider's other rows, sent by this bulk only if the
    /// wait is lifted (or over) while it runs, else by a later run after
    /// this instant.
    SetAside(UnixTime),
    /// Not while this process runs: the failure was the configuration's,
    /// which cannot change under it.
    AfterRestart,
}

#[derive(Debug, Clone)]
pub enum Event {
    Started {
        id: RequestId,
        op: OpKind,
        conn: Option<ConnectionId>,
    },
    /// The operation's result is in the store; `conn` is the connection as it
    /// now stands (new or changed).
    Succeeded {
        id: RequestId,
        op: OpKind,
        conn: Box<Connection>,
        message: String,
        /// Who did the work: another process's, waited for, is counted
        /// apart by a front end that counts.
        by: DoneBy,
    },
    Failed {
        id: RequestId,
        op: OpKind,
        conn_id: Option<ConnectionId>,
        /// The connection as it now stands, when the failure changed it
        /// (re-consent required, last error recorded).
        conn: Option<Box<Connection>>,
        error: OpError,
        /// Set only for the scheduler's own work on a connection it will
        /// still work on: when it tries again.
        next_try: Option<NextTry>,
    },
    /// An `op` found another live process's lease on `lease.conn`, and
    /// waits for it before anything is sent (once per operation, as it
    /// begins to wait): that process is at work on the row.
    HeldElsewhere {
        op: OpKind,
        lease: crate::store::Lease,
    },
    /// Bulk progress: `done` of `total` finished, `failed` of them failed.
    /// `stopped` is set only in a bulk's last progress when it ends early
    /// (cancelled, or the worker stopping): how many were not refreshed,
    /// `done + stopped == total`.
    Progress {
        id: RequestId,
        done: usize,
        total: usize,
        failed: usize,
        stopped: usize,
    },
    /// A browser login is waiting: the URL was opened and must be shown too.
    LoginUrl {
        id: RequestId,
        url: String,
    },
    UserAdded {
        id: RequestId,
        user: User,
    },
    Detail {
        id: RequestId,
        conn: ConnectionId,
        detail: Box<Detail>,
    },
    /// The answer to [`Command::Reveal`]: recorded, or why not (the store's
    /// error, or a read-only run), in which case nothing is shown.
    Revealed {
        id: RequestId,
        conn: ConnectionId,
        recorded: Result<(), String>,
    },
    Loaded {
        id: RequestId,
        connections: Vec<Connection>,
        users: Vec<User>,
        /// The newest audit line before the connections were read: the
        /// first [`Command::Changes`] asks from here.
        audit_mark: i64,
    },
    /// The answer to [`Command::Changes`]: the store's error as text when
    /// it could not be read (the next ask tries again from the same line).
    Changed {
        id: RequestId,
        changes: Result<Changes, String>,
    },
    /// The scheduler paused a provider's automatic work after failures in a
    /// row that say it is not answering (`until`: when one operation goes
    /// out alone to try it), or resumed it (`until: None`).
    ProviderPaused {
        provider: String,
        until: Option<UnixTime>,
        message: String,
    },
    /// A provider asked to be sent nothing until `wait.until` (a 429 or 503
    /// with `Retry-After`): no operation goes to it until then, the
    /// scheduler's and a bulk's included. `elsewhere`: another process on
    /// the store heard it (a cron `refresh --due`, a second dashboard).
    ProviderWaiting {
        wait: ProviderWait,
        elsewhere: bool,
    },
    /// A provider's asked wait was lifted (`lift`, a [`ProviderWait::lift`]):
    /// it is sent to again. `id`: this front end's `LiftWait`; `None` when
    /// read from the store, lifted by another process. `set_aside`: the
    /// wait that held until then; `None` when none held (nothing to lift).
    WaitLifted {
        id: Option<RequestId>,
        lift: ProviderWait,
        set_aside: Option<ProviderWait>,
    },
    /// A background task failed in a way nobody asked about (a panic caught,
    /// the scheduler unable to read the store): shown in the activity pane.
    Notice {
        message: String,
    },
}

impl Event {
    /// A success, worded from what it left ("access token valid for 59:59"):
    /// the screen's line already names the operation and the connection.
    pub(crate) fn succeeded(id: RequestId, op: OpKind, done: Done, now: UnixTime) -> Event {
        let left = outcome(op, &done.conn, now);
        let message = match done.by_whom() {
            Some(who) => format!("{who}; {left}"),
            None => left,
        };
        Event::Succeeded {
            id,
            op,
            message,
            conn: Box::new(done.conn),
            by: done.by,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A success this call did not do says who did, ahead of what it left,
    /// so the screen's "✓ refresh" line claims nothing of this process's.
    #[test]
    fn a_success_says_who_did_the_work_when_it_was_not_this_call() {
        let conn: Connection = serde_json::from_value(serde_json::json!({
            "id": 1, "user_id": 1, "user": "u", "provider": "p", "kind": "oidc",
            "grant": "authorization_code", "label": "", "remote": {},
            "lifetimes": {"access": {"at": 3_600}},
            "scopes": {"granted": [], "denied": [], "products": []},
            "flags": {}, "last_op": null, "created_at": 0, "version": 1
        }))
        .unwrap();
        let said = |by| {
            let done = Done {
                conn: conn.clone(),
                by,
            };
            match Event::succeeded(RequestId(1), OpKind::Refresh, done, UnixTime(0)) {
                Event::Succeeded { message, .. } => message,
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(said(DoneBy::This), "access token valid for 1h 00m");
        assert_eq!(
            said(DoneBy::Another),
            "done by another process meanwhile; access token valid for 1h 00m"
        );
        assert_eq!(
            said(DoneBy::Earlier),
            "renewed since it was planned, so nothing was sent; access token valid for 1h 00m"
        );
    }
}
