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
