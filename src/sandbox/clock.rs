//! The sandbox clock: wall time plus an offset, optionally pinned.
//!
//! Every expiry in the sandbox (codes, tokens, sessions) is judged against this
//! clock instead of the system's, so tests and the demo move time forward
//! instead of sleeping. Setting the clock pins it (it stops running), which
//! makes second-exact boundaries deterministic; advancing keeps the mode.

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// Unix seconds by the sandbox clock.
#[derive(Debug)]
pub(crate) struct Clock {
    inner: Mutex<Mode>,
}

#[derive(Debug, Clone, Copy)]
enum Mode {
    /// Running: wall time shifted by this many seconds.
    Offset(i64),
    /// Pinned at this instant until moved again.
    Pinned(i64),
}

fn wall_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl Clock {
    pub(crate) fn new(pinned_at: Option<i64>) -> Self {
        let mode = pinned_at.map_or(Mode::Offset(0), Mode::Pinned);
        Self {
            inner: Mutex::new(mode),
        }
    }

    fn mode(&self) -> std::sync::MutexGuard<'_, Mode> {
        // A poisoned clock still holds a valid number; keep going.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn now(&self) -> i64 {
        match *self.mode() {
            Mode::Offset(off) => wall_secs().saturating_add(off),
            Mode::Pinned(at) => at,
        }
    }

    pub(crate) fn is_pinned(&self) -> bool {
        matches!(*self.mode(), Mode::Pinned(_))
    }

    pub(crate) fn advance(&self, secs: i64) {
        let mut mode = self.mode();
        *mode = match *mode {
            Mode::Offset(off) => Mode::Offset(off.saturating_add(secs)),
            Mode::Pinned(at) => Mode::Pinned(at.saturating_add(secs)),
        };
    }

    pub(crate) fn set(&self, unix: i64) {
        *self.mode() = Mode::Pinned(unix);
    }

    /// Lets a pinned clock run again from where it stands.
    pub(crate) fn release(&self) {
        let mut mode = self.mode();
        if let Mode::Pinned(at) = *mode {
            *mode = Mode::Offset(at - wall_secs());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_clock_moves_only_when_told() {
        let clock = Clock::new(Some(1_000));
        assert_eq!(clock.now(), 1_000);
        clock.advance(299);
        assert_eq!(clock.now(), 1_299);
        clock.set(5);
        assert_eq!(clock.now(), 5);
        assert!(clock.is_pinned());
    }

    #[test]
    fn running_clock_follows_wall_time_with_offset() {
        let clock = Clock::new(None);
        clock.advance(3_600);
        let diff = clock.now() - wall_secs();
        assert!((3_599..=3_601).contains(&diff), "{diff}");
        clock.set(42);
        clock.release();
        assert!(!clock.is_pinned());
        assert!((42..=43).contains(&clock.now()));
    }
}
