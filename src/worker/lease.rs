//! The cross-process lease on a connection, and breaking one left by a
//! process that died.
//!
//! A bankdeck killed mid-refresh leaves its lease behind; waiting for it to
//! expire would block that connection for the lease's whole term. The holder
//! names its host and process id, so a lease whose process no longer exists on
//! this machine is released at once. A process id reused by another program
//! only makes us wait for the term, never the reverse.

use std::time::Duration;

use super::Worker;
use crate::domain::{Connection, ConnectionId, ErrorKind, OpError, Secrets};
use crate::store::{LeaseRequest, SecretSet};

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

/// `host|pid|nonce|actor`: enough to tell whose lease it is and whether it lives.
pub fn holder_name(actor: &str) -> String {
    format!(
        "{}|{}|{:08x}|{actor}",
        hostname(),
        std::process::id(),
        rand::random::<u32>()
    )
}

/// Whether `holder` is a process on this machine that no longer runs.
pub fn is_dead_local(holder: &str) -> bool {
    let mut parts = holder.splitn(4, '|');
    let (Some(host), Some(pid)) = (parts.next(), parts.next()) else {
        return false;
    };
    let Ok(pid) = pid.parse::<i32>() else {
        return false;
    };
    if host != hostname() || pid <= 0 || u32::try_from(pid).ok() == Some(std::process::id()) {
        return false;
    }
    // SAFETY: signal 0 sends nothing; it only asks whether the process exists.
    let alive = unsafe { libc::kill(pid, 0) } == 0;
    !alive && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

impl Worker {
    /// Takes the lease, waiting for a live holder, and reads the connection
    /// and its `wants` secrets under it. When we had to wait, also the
    /// version the connection had then: a newer one under our lease means
    /// the holder did something meanwhile (perhaps our work). Read only on a
    /// wait, so the usual lease costs one store call.
    pub(crate) async fn take_lease(
        &self,
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
            if self.break_dead_lease(id).await? {
                continue;
            }
            if started.elapsed() > LEASE_TERM {
                return Err(OpError::new(
                    ErrorKind::NotAllowed,
                    "another bankdeck process is operating on this connection; try again shortly",
                ));
            }
            if seen.is_none() {
                let head = self.inner.heads.call(id).await?;
                seen = Some(head.map_or(0, |h| h.version));
            }
            tokio::time::sleep(LEASE_POLL).await;
        }
    }

    async fn break_dead_lease(&self, id: ConnectionId) -> Result<bool, OpError> {
        let Some((holder, _)) = self.db(move |s| s.lease_holder(id)).await? else {
            return Ok(false);
        };
        if !is_dead_local(&holder) {
            return Ok(false);
        }
        tracing::info!(
            connection = id.0,
            "breaking the lease of a bankdeck process that died"
        );
        self.db(move |s| s.release_lease(id, &holder)).await?;
        Ok(true)
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

    #[test]
    fn our_own_and_foreign_hosts_are_never_dead() {
        assert!(!is_dead_local(&holder_name("me")));
        assert!(!is_dead_local("other-host|1|0|x"));
        assert!(!is_dead_local("garbage"));
    }

    #[test]
    fn a_finished_process_is_dead() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(is_dead_local(&format!("{}|{pid}|0|x", hostname())));
    }
}
