//! The cross-process lease on a connection, and breaking one left by a
//! process that died.
//!
//! A bankdeck killed mid-refresh leaves its lease behind; waiting for it to
//! expire would block that connection for the lease's whole term. The holder
//! names its host and process ([`crate::store::holder`]), so a lease whose
//! process no longer exists on this machine is released at once, and one
//! whose process runs is never taken, even past its term.

use std::time::Duration;

use super::Event;
use super::Worker;
use crate::domain::{Connection, ConnectionId, ErrorKind, OpError, OpKind, Secrets};
use crate::store::{Lease, LeaseRequest, SecretSet};

/// How long a lease lasts at least, and how long we wait for another process's.
pub const LEASE_TERM: Duration = Duration::from_secs(30);
const LEASE_POLL: Duration = Duration::from_millis(100);
/// What a lease must cover beyond the provider's two timeouts: the outcome's
/// write, behind a group commit on a busy disk.
const WRITE_ALLOWANCE: Duration = Duration::from_secs(10);

/// How long our lease on a connection of a provider with this request
/// `timeout` must last. An operation takes its lease before its turn at the
/// provider, and only as many wait so as may be in flight, so its turn comes
/// within one timeout (every request ahead of it has answered or timed out by
/// then); its own request takes at most another, then its outcome is written.
/// A lease that lapsed before that could let another process send the same
/// refresh token, which rotating providers punish by revoking the family.
pub fn lease_term(timeout: Duration) -> Duration {
    timeout
        .saturating_mul(2)
        .saturating_add(WRITE_ALLOWANCE)
        .max(LEASE_TERM)
}

pub use crate::store::holder::{holder_name, is_dead_local};

impl Worker {
    /// Takes the lease, waiting for a live holder, and reads the connection
    /// and its `wants` secrets under it. When we had to wait, also the
    /// version the connection had then: a newer one under our lease means
    /// the holder did something meanwhile (perhaps our work). Read only on a
    /// wait, so the usual lease costs one store call.
    pub(crate) async fn take_lease(
        &self,
        op: OpKind,
        id: ConnectionId,
        term: Duration,
        wants: SecretSet,
    ) -> Result<(Connection, Secrets, Option<i64>), OpError> {
        let started = tokio::time::Instant::now();
        let mut seen = None;
        loop {
            let now = self.now();
            let until = now.plus(term);
            let request = LeaseRequest {
                id,
                until,
                now,
                wants,
            };
            if let Some((conn, secrets)) = self.inner.leases.call(request).await? {
                return Ok((conn, secrets, seen));
            }
            let Some(lease) = self.live_lease(id).await? else {
                continue;
            };
            if started.elapsed() > LEASE_TERM {
                // Named, so that one stopped or hung can be found.
                let which = crate::store::holder::process(&lease.holder)
                    .map_or(String::new(), |p| format!(" ({p})"));
                return Err(OpError::new(
                    ErrorKind::NotAllowed,
                    format!(
                        "another bankdeck process{which} is operating on this connection; try \
                         again shortly"
                    ),
                ));
            }
            if seen.is_none() {
                let head = self.inner.heads.call(id).await?;
                seen = Some(head.map_or(0, |h| h.version));
                // Said once: a screen that has not yet seen the lease
                // (it looks every other second) says whom the row waits for.
                self.emit(Event::HeldElsewhere { op, lease }).await;
            }
            tokio::time::sleep(LEASE_POLL).await;
        }
    }

    /// The lease that kept us from `id`, if a live process still holds it:
    /// `None` once it is free to try again (given back meanwhile, or the
    /// lease of a process that died, broken here).
    async fn live_lease(&self, id: ConnectionId) -> Result<Option<Lease>, OpError> {
        let Some((holder, until)) = self.db(move |s| s.lease_holder(id)).await? else {
            return Ok(None);
        };
        if !is_dead_local(&holder) {
            return Ok(Some(Lease {
                conn: id,
                holder,
                until,
            }));
        }
        tracing::info!(
            connection = id.0,
            "breaking the lease of a bankdeck process that died"
        );
        self.db(move |s| s.release_lease(id, &holder)).await?;
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_outlasts_a_turn_a_request_and_the_write() {
        assert_eq!(lease_term(Duration::from_secs(5)), LEASE_TERM);
        // The default 15 s timeout: 15 s for the turn, 15 s for the request.
        assert_eq!(lease_term(Duration::from_secs(15)), Duration::from_secs(40));
        assert_eq!(
            lease_term(Duration::from_secs(120)),
            Duration::from_secs(250)
        );
        assert_eq!(lease_term(Duration::MAX), Duration::MAX);
    }
}
