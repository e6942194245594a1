//! Where the worker gets `now` from.
//!
//! Production reads the wall clock (it must keep counting through a laptop's
//! suspend, which a monotonic clock does not). Tests run the scheduler under
//! paused tokio time, so they use a clock that advances with tokio's.

use crate::domain::UnixTime;

#[derive(Debug, Clone, Copy)]
pub enum Clock {
    System,
    /// Unix time `base` at tokio instant `at`, moving with tokio time.
    Tokio {
        base: UnixTime,
        at: tokio::time::Instant,
    },
}

impl Clock {
    pub fn tokio_from(base: UnixTime) -> Self {
        Clock::Tokio {
            base,
            at: tokio::time::Instant::now(),
        }
    }

    pub fn now(&self) -> UnixTime {
        match self {
            Clock::System => UnixTime::now(),
            Clock::Tokio { base, at } => {
                let secs = at.elapsed().as_secs();
                base.plus_secs(i64::try_from(secs).unwrap_or(i64::MAX))
            }
        }
    }
}

/// The tokio instant of `at`, `now` being this moment on the worker's clock;
/// at least a second on, so that a wait rounded to whole seconds never spins.
pub(crate) fn instant_at(now: UnixTime, at: UnixTime) -> tokio::time::Instant {
    let secs = u64::try_from(now.secs_until(at)).unwrap_or(0).max(1);
    tokio::time::Instant::now() + std::time::Duration::from_secs(secs)
}

/// Sleeps until `at`, or for ever when there is nothing to wake for.
pub(crate) async fn sleep_until_some(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
