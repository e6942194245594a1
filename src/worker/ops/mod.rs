//! Operations on existing connections: exchange, refresh, logout, delink.
//!
//! Each one re-reads the connection from the store under its turn and lease,
//! decides whether the operation applies, talks to the provider, and writes
//! the outcome with its audit line before anyone hears of it. Failures keep
//! every token unless the provider's answer proves a token dead.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use futures::FutureExt;
use tokio::sync::OwnedSemaphorePermit;

use super::keep::AtStake;
use super::tokens::{failure_update, relogin_update};
use super::{Command, Done, DoneBy, Event, RequestId, Slot, Worker, breaker, lease, lock};
use crate::domain::{
    Connection, ConnectionId, Ending, ErrorKind, OpError, OpKind, ProviderKind, Secrets,
};
use crate::providers::TokenGrant;
use crate::store::{ConnectionUpdate, SecretSet, Settlement};

mod ending;
mod exchange;
mod refresh;

/// One operation's turn on a connection under our lease: whether the write
/// of its outcome has already given the lease back, and its place among the
/// provider's requests in flight, given up as soon as the provider answers.
#[derive(Default)]
struct Turn {
    released: AtomicBool,
    permit: Mutex<Option<OwnedSemaphorePermit>>,
}

impl Worker {
    pub(crate) async fn execute(&self, cmd: Command) {
        match cmd {
            Command::Exchange { id, conn } => self.report(id, OpKind::Exchange, conn).await,
            Command::Refresh { id, conn } => self.report(id, OpKind::Refresh, conn).await,
            Command::Logout { id, conn } => self.report(id, OpKind::Logout, conn).await,
            Command::Delink { id, conn } => self.report(id, OpKind::Delink, conn).await,
            Command::RefreshMany { id, conns } => self.refresh_many(id, conns).await,
            Command::LoadDetail { id, conn } => self.report_detail(id, conn).await,
            Command::Reveal { id, conn } => self.report_reveal(id, conn).await,
            Command::Reload { id } => self.report_reload(id).await,
            Command::Changes {
                id,
                after,
                users_after,
            } => self.report_changes(id, after, users_after).await,
            Command::LiftWait { id, provider } => self.report_lift(id, provider).await,
            other => self.execute_new(other).await,
        }
    }

    async fn report(&self, id: RequestId, op: OpKind, conn: ConnectionId) {
        self.emit(Event::Started {
            id,
            op,
            conn: Some(conn),
        })
        .await;
        let run = self.operate_done(op, conn);
        let event = match self.unless_cancelled(id, op, conn, run).await {
            Ok(done) => Event::succeeded(id, op, done, self.now()),
            Err(error) => Event::Failed {
                id,
                op,
                conn_id: Some(conn),
                conn: self.reread(conn).await.map(Box::new),
                error,
                next_try: None,
            },
        };
        self.emit(event).await;
    }

    /// Runs one operation on one connection, joining a running one of the same kind.
    pub async fn operate(&self, op: OpKind, conn: ConnectionId) -> Result<Connection, OpError> {
        self.operate_done(op, conn).await.map(|done| done.conn)
    }

    /// [`Worker::operate`], saying too whether another process did the
    /// work while this one waited, for a front end to tell the operator.
    pub async fn operate_done(&self, op: OpKind, conn: ConnectionId) -> Result<Done, OpError> {
        self.operate_on(op, conn, None, Asked::ByOperator).await
    }

    /// [`Worker::operate`] where the caller already read the connection's
    /// `provider` (a connection never changes provider), saving a read.
    pub(crate) async fn operate_on(
        &self,
        op: OpKind,
        conn: ConnectionId,
        provider: Option<String>,
        asked: Asked,
    ) -> Result<Done, OpError> {
        self.refuse_if_readonly()?;
        let provider = match op {
            OpKind::Delink => self.exchange_if_pending(conn, provider).await?,
            _ => provider,
        };
        self.inner
            .flights
            .run(conn, op, || self.leased(op, conn, provider, asked))
            .await
    }

    /// A Dapi code still pending is exchanged before its delink: Dapi's side
    /// of the link is ended with the token the code becomes
    /// ([`Ending::ExchangeThenDelink`]). Every front end's delink (the CLI's,
    /// the screen's, a user's disconnect) comes through here. The
    /// connection's provider, as read, goes on to the delink's lease.
    async fn exchange_if_pending(
        &self,
        id: ConnectionId,
        provider: Option<String>,
    ) -> Result<Option<String>, OpError> {
        let now = self.now();
        let Some(stored) = self.db(move |s| s.connection(id)).await? else {
            return Ok(provider);
        };
        let provider = Some(stored.provider.clone());
        if Ending::of(&stored, now) != Ending::ExchangeThenDelink {
            return Ok(provider);
        }
        let op = OpKind::Exchange;
        let Err(e) = (self.inner.flights)
            .run(id, op, || {
                self.leased(op, id, provider.clone(), Asked::ByOperator)
            })
            .await
        else {
            return Ok(provider);
        };
        // Delinked meanwhile by another: the delink says so itself, rather
        // than as an exchange that failed.
        if e.kind == ErrorKind::Ended {
            return Ok(provider);
        }
        // Exchanged meanwhile by another (the scheduler's auto_exchange, a
        // second screen): the delink goes ahead with that token. A code
        // that is no longer pending (Dapi refused it, or it expired) can
        // never become one: the delink goes ahead and closes the row, and
        // says whether an earlier exchange may have left Dapi a token.
        let now_is = self.db(move |s| s.connection(id)).await?;
        if now_is.is_some_and(|c| Ending::of(&c, self.now()) != Ending::ExchangeThenDelink) {
            return Ok(provider);
        }
        Err(OpError {
            message: format!(
                "the pending code's exchange failed, so nothing was delinked: {}",
                e.message
            ),
            ..e
        })
    }

    async fn leased(
        &self,
        op: OpKind,
        id: ConnectionId,
        provider: Option<String>,
        asked: Asked,
    ) -> Result<Done, OpError> {
        let provider = match provider {
            Some(provider) => provider,
            None => {
                let head = self.inner.heads.call(id).await?;
                head.ok_or_else(|| no_connection(id))?.provider
            }
        };
        // The lease comes before the turn to talk to the provider, so a freed
        // turn sends at once; but only for as many operations again as may be
        // in flight, so a thousand queued operations do not hold a thousand
        // leases (which would lapse while they wait).
        let slot = self.slot(&provider).ok();
        let ahead = match slot {
            Some(slot) => slot.ahead.clone().acquire_owned().await.ok(),
            None => None,
        };
        // Boxed apart: the request and the write need kilobytes of state,
        // which the thousands of operations of a bulk refresh that wait above
        // need not each hold.
        self.under_lease(op, id, slot, ahead, asked).boxed().await
    }

    async fn under_lease(
        &self,
        op: OpKind,
        id: ConnectionId,
        slot: Option<&Slot>,
        ahead: Option<OwnedSemaphorePermit>,
        asked: Asked,
    ) -> Result<Done, OpError> {
        let term = slot.map_or(lease::LEASE_TERM, |s| {
            lease::lease_term(s.config.common.timeout)
        });
        let (current, secrets, seen) = self.take_lease(op, id, term, wanted(op)).await?;
        let permit = match slot {
            Some(slot) => slot.permits.clone().acquire_owned().await.ok(),
            None => None,
        };
        drop(ahead);
        let held = match slot {
            Some(slot) => self.held_by_wait(slot).await,
            None => None,
        };
        let turn = Turn {
            permit: Mutex::new(permit),
            ..Turn::default()
        };
        // Another process refreshed, or exchanged the code, while we waited
        // for its lease: its result stands for ours (and is said to be
        // theirs), and the provider sees no second POST (a second exchange
        // would find the code spent). Had it failed, ours still goes.
        let theirs = matches!(op, OpKind::Refresh | OpKind::Exchange)
            && seen.is_some_and(|v| v != current.version)
            && current.last_op.as_ref().is_some_and(|l| l.op == op && l.ok);
        // The last moment an operation can end without the provider
        // having seen it; from here until its outcome is written it counts
        // as sent.
        let result = match (self.begin_sending(op), held) {
            (Err(stopped), _) => Err(stopped),
            (Ok(_sending), _) if theirs => Ok(Done {
                conn: current,
                by: DoneBy::Another,
            }),
            // Renewed since it was planned, by another process's scheduler
            // (a second dashboard on the store) or a cron job: nothing is due.
            // A row logged out or delinked meanwhile was not renewed: it
            // goes on, to fail as ended (`ErrorKind::Ended`) before sending.
            (Ok(_sending), _)
                if asked == Asked::BySchedule
                    && !ended(&current)
                    && !due_now(&current, slot, self.now()) =>
            {
                Ok(Done {
                    conn: current,
                    by: DoneBy::Earlier,
                })
            }
            // The provider's next answer would wait with them, and a refresh
            // token it rotated would be lost with them if the store never
            // takes it: nothing is sent until it does.
            (Ok(_sending), _) if self.inner.unwritten.load(Ordering::SeqCst) > 0 => {
                Err(OpError::new(
                    ErrorKind::Store,
                    "not sent: the store cannot take the answers already in hand (see the \
                     earlier message), so nothing more goes to a provider until it does; \
                     nothing was spent",
                ))
            }
            (Ok(_sending), Some(held)) => Err(held),
            (Ok(sending), None) => {
                let _out = sending.on(id, op);
                let done = self.perform(op, current, secrets, &turn).await;
                if let Some(slot) = slot
                    && breaker::answers(done.as_ref().map(drop)) == Some(true)
                {
                    slot.answers.fetch_add(1, Ordering::SeqCst);
                    self.inner.provider_answered.notify_one();
                }
                done.map(Done::ours)
            }
        };
        self.release_unless_settled(id, &turn).await;
        result
    }

    /// Gives the lease back, unless the outcome's write already did.
    async fn release_unless_settled(&self, id: ConnectionId, turn: &Turn) {
        if !turn.released.load(Ordering::SeqCst) {
            let holder = self.inner.holder.clone();
            // A lease we fail to release expires by itself; nothing to undo.
            let _ = self.db(move |s| s.release_lease(id, &holder)).await;
        }
    }

    /// Files a new grant on `id`, the row it renews: a login's on the row of
    /// the same account, an app token's on the one held (see
    /// `Worker::file_grant`; the bookkeeping is [`relogin_update`]):
    /// under its turn and lease like any operation, so a refresh of it in
    /// flight here or in another process finishes first.
    pub(crate) async fn relogin(
        &self,
        id: ConnectionId,
        grant: TokenGrant,
        op: OpKind,
        message: String,
    ) -> Result<Connection, OpError> {
        let run = || async move {
            let (current, _, _) = self
                .take_lease(op, id, lease::LEASE_TERM, SecretSet::NONE)
                .await?;
            let turn = Turn::default();
            let result = if current.flags.delinked_at.is_some() {
                Err(OpError::not_allowed(format!(
                    "connection {id} was delinked meanwhile: log in again"
                )))
            } else {
                let update = relogin_update(&current, &grant, self.now());
                self.save(&current, update, op, message, &turn).await
            };
            self.release_unless_settled(id, &turn).await;
            result.map(Done::ours)
        };
        self.inner
            .flights
            .run(id, op, run)
            .await
            .map(|done| done.conn)
    }

    async fn perform(
        &self,
        op: OpKind,
        conn: Connection,
        secrets: Secrets,
        turn: &Turn,
    ) -> Result<Connection, OpError> {
        if self.inner.opts.panic_on == Some(op)
            && self.inner.panic_armed.swap(false, Ordering::SeqCst)
        {
            #[allow(clippy::panic)] // A test switch (`--debug-panic`), off unless asked for.
            {
                panic!("--debug-panic: forced panic in a {op} task");
            }
        }
        match op {
            OpKind::Exchange => self.exchange(conn, secrets, turn).await,
            OpKind::Refresh => self.refresh(conn, secrets, turn).await,
            OpKind::Logout => self.logout(conn, secrets, turn).await,
            OpKind::Delink => self.delink(conn, secrets, turn).await,
            other => Err(OpError::not_allowed(format!(
                "{other} is not an operation on a connection"
            ))),
        }
    }

    /// Writes a success: what the provider has just issued or done, which
    /// the store is tried again for when it cannot take it at once
    /// ([`Worker::keep_writing`]).
    async fn save(
        &self,
        conn: &Connection,
        update: ConnectionUpdate,
        op: OpKind,
        message: impl Into<String>,
        turn: &Turn,
    ) -> Result<Connection, OpError> {
        let audit = self.audit(op, true, message);
        let stake = AtStake::Outcome(op, conn);
        self.settle(conn, update, audit, turn, Some(stake)).await
    }

    /// Records the failure; every token stays as it was.
    async fn fail(
        &self,
        conn: &Connection,
        op: OpKind,
        e: OpError,
        turn: &Turn,
    ) -> Result<Connection, OpError> {
        // Before the write gives up this operation's place in flight, so
        // that the next in line is not sent into the wait it asked for.
        if let Ok(slot) = self.slot(&conn.provider) {
            self.hear_wait(slot, &e).await;
        }
        let audit = self.audit(op, false, e.message.clone());
        let update = failure_update(conn, &e.message);
        // If even the failure cannot be recorded, the operator still hears of
        // it; no token is at stake, so it is not tried again.
        if let Err(store) = self.settle(conn, update, audit, turn, None).await {
            tracing::warn!(connection = conn.id.0, error = %store, "could not record a failure");
        }
        Err(e)
    }

    /// Writes an operation's outcome and gives the lease back in the same
    /// commit (one write instead of two per operation). With a `stake`, a
    /// write that may pass is tried again.
    async fn settle(
        &self,
        conn: &Connection,
        update: ConnectionUpdate,
        audit: crate::store::AuditDraft,
        turn: &Turn,
        stake: Option<AtStake<'_>>,
    ) -> Result<Connection, OpError> {
        // The provider has answered: the next request may go while this
        // outcome is written.
        drop(lock(&turn.permit).take());
        let settlement = Arc::new(Settlement {
            base: conn.clone(),
            update,
            audit,
        });
        let saved = match stake {
            None => self.inner.settles.call(settlement).await?,
            Some(stake) => {
                // Shared, not copied: a second try hands the same one over.
                self.keep_writing(stake, || self.inner.settles.call_store(settlement.clone()))
                    .await?
            }
        };
        turn.released.store(true, Ordering::SeqCst);
        Ok(saved)
    }

    pub(crate) async fn load(&self, id: ConnectionId) -> Result<Connection, OpError> {
        self.inner
            .reads
            .call(id)
            .await?
            .ok_or_else(|| no_connection(id))
    }

    pub(crate) async fn reread(&self, id: ConnectionId) -> Option<Connection> {
        self.load(id).await.ok()
    }

    async fn secrets_of(&self, id: ConnectionId) -> Result<Secrets, OpError> {
        self.db(move |s| s.secrets(id)).await
    }

    /// A provider's answer, its error's message blanked of the connection's
    /// secrets ([`Worker::blank_held`]).
    async fn held_out<T>(
        &self,
        conn: &Connection,
        answer: Result<T, OpError>,
    ) -> Result<T, OpError> {
        match answer {
            Err(e) => Err(self.blank_held(conn, e).await),
            ok => ok,
        }
    }

    /// `e` with every secret `conn` holds blanked from its message. Where an
    /// answer is read, only what its request sent is blanked; a provider
    /// may quote another (the access token in a refresh's error, Dapi's
    /// user secret in an exchange's), and the message is stored, audited
    /// and shown. Read on failure only: a success pays nothing for it.
    async fn blank_held(&self, conn: &Connection, mut e: OpError) -> OpError {
        match self.secrets_of(conn.id).await {
            Ok(held) => {
                let mut blank = crate::providers::scrub::Sent::new();
                for secret in held.all() {
                    blank.add(secret.expose());
                }
                e.message = blank.blank(&e.message);
            }
            // Nothing to blank it against: none of the provider's text is
            // kept rather than risk a secret in it.
            Err(store) => {
                e.message = format!(
                    "the provider's answer was an error, whose text is not shown: the store \
                     could not be read to blank the connection's secrets from it ({store})"
                );
            }
        }
        e
    }
}

/// Who asked for an operation: the operator's goes whatever the row's
/// state; the scheduler's only while the row is still due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Asked {
    ByOperator,
    BySchedule,
}

/// Whether `conn`, as read under its lease, is due for its scheduled work.
fn due_now(conn: &Connection, slot: Option<&Slot>, now: crate::domain::UnixTime) -> bool {
    slot.and_then(|s| super::scheduler::due_at(conn, &s.config))
        .is_some_and(|(at, _)| at <= now)
}

/// The secrets `op` sends to the provider; the rest stay sealed.
fn wanted(op: OpKind) -> SecretSet {
    match op {
        OpKind::Exchange => SecretSet::ACCESS_CODE,
        OpKind::Refresh => SecretSet::REFRESH_TOKEN,
        // An app token's logout revokes its access token.
        OpKind::Logout => SecretSet::REFRESH_TOKEN.and(SecretSet::ACCESS_TOKEN),
        OpKind::Delink => SecretSet::ACCESS_TOKEN.and(SecretSet::USER_SECRET),
        _ => SecretSet::ALL,
    }
}

fn no_connection(id: ConnectionId) -> OpError {
    OpError::new(ErrorKind::NotAllowed, format!("no connection {id}"))
}

fn applies(conn: &Connection, kind: ProviderKind, why: &str) -> Result<(), OpError> {
    if conn.kind == kind {
        Ok(())
    } else {
        Err(OpError::not_allowed(why))
    }
}

/// Logged out or delinked: no operation but a new login renews it.
fn ended(conn: &Connection) -> bool {
    conn.flags.logged_out_at.is_some() || conn.flags.delinked_at.is_some()
}

fn live(conn: &Connection, op: &str) -> Result<(), OpError> {
    if conn.flags.delinked_at.is_some() {
        return Err(OpError::new(
            ErrorKind::Ended,
            format!("cannot {op}: the connection is delinked"),
        ));
    }
    if conn.flags.logged_out_at.is_some() {
        return Err(OpError::new(
            ErrorKind::Ended,
            format!("cannot {op}: already logged out"),
        ));
    }
    Ok(())
}

/// A failure whose request may have reached the provider, told with what
/// that may have cost (`cost`), so a rejection on the next try is no
/// surprise. The operator hears of it now, when the tokens are still held.
pub(super) fn unanswered(mut e: OpError, cost: &str) -> OpError {
    if e.may_have_acted() {
        e.message = format!("{}; {cost}", e.message);
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn an_operation_waiting_for_its_turn_holds_little_memory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let data = dir.path().join("data");
        let store = crate::store::open_with_key(&data, &dir.path().join("key"), false)
            .unwrap()
            .store;
        let (events, _) = tokio::sync::mpsc::channel(1);
        let worker = Worker::new(store, Vec::new(), Default::default(), events);
        // A bulk refresh of 100 000 connections queues 100 000 of these.
        let queued = worker.leased(OpKind::Refresh, ConnectionId(1), None, Asked::ByOperator);
        let size = std::mem::size_of_val(&queued);
        assert!(size <= 1024, "a queued operation holds {size} bytes");
    }
}
