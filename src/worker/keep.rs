//! Writing what a provider has just issued when the store cannot take it at
//! once.
//!
//! A rotated refresh token, the permanent token a one-time access code
//! bought, a login's grant: once the provider has answered, these exist only
//! in this process until the store has them. Failing the operation at a full
//! disk, or at another process holding the store's write lock past the busy
//! timeout, would drop the answer and leave the connection holding the token
//! the provider has just spent. So such a write is tried again for a while,
//! the operator told once what to fix; only a failure that cannot pass, or
//! the end of that while, fails the operation, saying what it costs.
//!
//! The connection's lease may lapse meanwhile, and another process could
//! then take it and send the token the provider has spent. But taking a
//! lease is itself a write, which the same held lock refuses, and a full
//! disk as a rule too; the pauses stay short so that ours goes first once
//! writes go through again.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::{Event, Worker, lock};
use crate::domain::{Connection, ConnectionId, ErrorKind, Grant, OpError, OpKind};
use crate::store::StoreError;

/// The first pause before a write is tried again; each pause doubles up to
/// [`LONGEST_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(100);
const LONGEST_PAUSE: Duration = Duration::from_secs(1);

/// The write a provider's answer waits for, named for the operator.
#[derive(Clone, Copy)]
pub(crate) enum AtStake<'a> {
    /// An operation's outcome on a connection.
    Outcome(OpKind, &'a Connection),
    /// A new connection from a grant (a login, a client-credentials token);
    /// `op` says which.
    Grant {
        op: OpKind,
        provider: &'a str,
        user: &'a str,
    },
}

/// What a refresh whose answer never reached the store may have cost: the
/// provider may have rotated the token in it.
pub(super) const REFRESH_TOKEN_MAY_BE_SPENT: &str = "the provider may have spent the refresh token the store still holds: \
     if the next refresh is rejected, the user must consent again";

/// What a logout whose answer was lost says: a second one finishes it,
/// since a provider takes a refresh token it has already ended as ended.
pub(super) const LOGOUT_MAY_BE_DONE: &str =
    "the provider may have logged it out: logging out again is safe, and finishes it here";
/// What a delink whose answer was lost says: Dapi answers a second one
/// for a token it no longer knows, and the row is then closed.
pub(super) const DELINK_MAY_BE_DONE: &str =
    "Dapi may have delinked it: delinking again is safe, and closes it here";
/// What an exchange whose answer was lost may have cost: Dapi may have
/// turned the code into a token that is in that answer alone.
pub(super) const CODE_MAY_BE_SPENT: &str = "the provider may have spent the access code: if the \
     next exchange is refused, the user must link again";
/// The same of an exchange whose answer came and could not be written.
const CODE_SPENT: &str = "the access code is spent: the user must link again";

/// Whether an exchange's failure, as its audit line says it, may have left
/// Dapi a token that never reached the store (and so no delink can end).
pub(super) fn exchange_may_have_acted(message: &str) -> bool {
    message.contains(CODE_MAY_BE_SPENT) || message.contains(CODE_SPENT)
}

impl AtStake<'_> {
    /// What it costs when the provider's answer is never written.
    fn cost(self) -> &'static str {
        let op = match self {
            // A client-credentials token is renewed by asking again.
            AtStake::Outcome(_, c) if c.grant == Grant::ClientCredentials => {
                OpKind::ClientCredentials
            }
            AtStake::Outcome(op, _) | AtStake::Grant { op, .. } => op,
        };
        cost_of(op)
    }

    /// The operation's failure when the provider's answer is never written:
    /// what was done, why the store did not take it (after trying for
    /// `tried`, if it was tried again), and what that costs.
    fn unwritten(self, e: &StoreError, tried: Option<Duration>) -> OpError {
        let within = tried
            .map(|d| format!(" in {}", humantime::format_duration(d)))
            .unwrap_or_default();
        OpError::new(
            ErrorKind::Store,
            format!(
                "{self} is done at the provider but could not be written{within}: {e}; {}",
                self.cost()
            ),
        )
    }
}

/// What `op` costs when the provider acted on it and its answer is lost.
pub(super) fn cost_of(op: OpKind) -> &'static str {
    match op {
        OpKind::Refresh => REFRESH_TOKEN_MAY_BE_SPENT,
        OpKind::Exchange => CODE_SPENT,
        OpKind::Logout => "the provider has logged it out, but the store still shows it in",
        OpKind::Delink => "the provider has delinked it, but the store still shows it linked",
        OpKind::ClientCredentials => "ask for the token again",
        _ => "the user must log in again",
    }
}

impl std::fmt::Display for AtStake<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AtStake::Outcome(op, c) => write!(
                f,
                "the {op} of connection {} ({} at {})",
                c.id, c.user, c.provider
            ),
            AtStake::Grant { provider, user, .. } => {
                write!(f, "{user}'s new connection at {provider}")
            }
        }
    }
}

impl Worker {
    /// Runs `write` until it succeeds, or fails in a way that will not pass,
    /// or the worker's `keep_writing` has gone by.
    pub(crate) async fn keep_writing<T, F, Fut>(
        &self,
        stake: AtStake<'_>,
        mut write: F,
    ) -> Result<T, OpError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, StoreError>>,
    {
        let limit = self.inner.opts.keep_writing;
        let _answered = Answered::new(self, stake);
        // From the first failure: the write that goes through at once, the
        // usual case, reads no clock and counts nothing.
        let mut waiting: Option<Waiting> = None;
        let mut pause = FIRST_PAUSE;
        loop {
            let e = match write().await {
                Ok(written) => {
                    if waiting.is_some() {
                        tracing::info!("{stake}: written after all");
                    }
                    return Ok(written);
                }
                Err(e) => e,
            };
            if !e.may_pass() {
                // Said with what it costs: the store's own words ("the
                // store was not changed") would read as if nothing had
                // happened, and the provider has acted.
                return Err(stake.unwritten(&e, None));
            }
            let first_failure = waiting.is_none();
            let wait = waiting.get_or_insert_with(|| Waiting::new(self));
            if wait.since.elapsed() + pause > limit {
                return Err(stake.unwritten(&e, Some(limit)));
            }
            if first_failure && wait.first {
                let message = format!(
                    "{} is done at the provider but not written yet ({e}): trying again for up \
                     to {}, with any other answer that waits meanwhile; free disk space, or end \
                     what holds the store, to keep them",
                    stake,
                    humantime::format_duration(limit)
                );
                tracing::warn!("{message}");
                self.emit(Event::Notice { message }).await;
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(LONGEST_PAUSE);
        }
    }
}

/// The connection of an answer in hand, in `Inner::answered` from before
/// its first write until its write has ended: from the first write, not the
/// first failure, since a write queued for a batch that then fails is
/// tried again only by the operation that queued it.
struct Answered<'w> {
    worker: &'w Worker,
    on: Option<ConnectionId>,
}

impl<'w> Answered<'w> {
    fn new(worker: &'w Worker, stake: AtStake<'_>) -> Self {
        let on = match stake {
            AtStake::Outcome(_, c) => Some(c.id),
            AtStake::Grant { .. } => None,
        };
        if let Some(id) = on {
            lock(&worker.inner.answered).insert(id);
        }
        Answered { worker, on }
    }
}

impl Drop for Answered<'_> {
    fn drop(&mut self) {
        if let Some(id) = self.on {
            lock(&self.worker.inner.answered).remove(&id);
        }
    }
}

/// One answer counted in `Inner::unwritten` while it waits for the store,
/// however its wait ends (written, given up, or the task stopped).
struct Waiting<'w> {
    worker: &'w Worker,
    /// Whether no other answer was waiting when this one began to.
    first: bool,
    /// When its first write failed.
    since: Instant,
}

impl<'w> Waiting<'w> {
    fn new(worker: &'w Worker) -> Self {
        let before = worker.inner.unwritten.fetch_add(1, Ordering::SeqCst);
        Waiting {
            worker,
            first: before == 0,
            since: Instant::now(),
        }
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.worker.inner.unwritten.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ProviderKind;

    #[test]
    fn the_cost_said_is_the_one_the_connection_bears() {
        let oidc = Connection::sample(7, "everifin", ProviderKind::Oidc, Grant::AuthorizationCode);
        let app = Connection::sample(8, "bank", ProviderKind::OAuth2, Grant::ClientCredentials);
        let dapi = Connection::sample(9, "dapi", ProviderKind::Dapi, Grant::DapiConnect);
        let refresh = AtStake::Outcome(OpKind::Refresh, &oidc);
        assert!(refresh.cost().ends_with("the user must consent again"));
        assert_eq!(
            refresh.to_string(),
            "the refresh of connection 7 (amira at everifin)"
        );
        assert_eq!(
            AtStake::Outcome(OpKind::Refresh, &app).cost(),
            "ask for the token again"
        );
        assert_eq!(
            AtStake::Outcome(OpKind::Exchange, &dapi).cost(),
            "the access code is spent: the user must link again"
        );
        let login = AtStake::Grant {
            op: OpKind::Login,
            provider: "everifin",
            user: "lena",
        };
        assert_eq!(login.cost(), "the user must log in again");
        assert_eq!(login.to_string(), "lena's new connection at everifin");
    }
}
