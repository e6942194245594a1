//! A provider's own request to wait: a 429 or 503, until the time its
//! `Retry-After` named. Until then this worker sends that provider nothing,
//! whoever asks: an operation whose turn comes meanwhile ends unsent
//! ([`ErrorKind::Held`]), and the scheduler and a bulk refresh start none.
//! Without it a bulk kept sending every due row to a provider that was
//! limiting it, each request one more it had asked not to get.
//!
//! Set as the answer arrives, before the operation gives up its place in
//! flight: the next one in line, already holding its lease, sees it.

use std::sync::Mutex;

use super::breaker::pause_words;
use super::lock;
use crate::domain::{ErrorKind, OpError, UnixTime};

/// The wait after a 429 or 503 that names none: long enough that a bulk
/// does not answer a refusal with its whole window again at once.
const UNSAID_SECS: i64 = 5;
/// The longest wait taken from a `Retry-After`, as the scheduler's back-off.
const LONGEST_SECS: i64 = 30 * 60;

/// Until when, and the answer that asked (its words, to tell the operator).
#[derive(Debug, Default)]
pub(crate) struct AskedWait(Mutex<Option<(UnixTime, String)>>);

impl AskedWait {
    /// Counts a rate-limited answer heard at `now`; a wait already asked
    /// for is never shortened. Other errors change nothing.
    pub(crate) fn hear(&self, error: &OpError, now: UnixTime) {
        if error.kind != ErrorKind::RateLimited {
            return;
        }
        let secs = error.retry_after.map_or(UNSAID_SECS, |s| {
            i64::try_from(s).unwrap_or(i64::MAX).min(LONGEST_SECS)
        });
        let until = now.plus_secs(secs);
        let mut asked = lock(&self.0);
        if asked.as_ref().is_none_or(|(was, _)| *was < until) {
            *asked = Some((until, error.message.clone()));
        }
    }

    /// The time asked for, while it is still ahead of `now`.
    pub(crate) fn until(&self, now: UnixTime) -> Option<UnixTime> {
        // Read on every launch and before every send: no copy of the words.
        lock(&self.0)
            .as_ref()
            .map(|(until, _)| *until)
            .filter(|&until| until > now)
    }

    /// The time asked for, while it is still ahead of `now`, and the words
    /// of the answer that asked.
    pub(crate) fn asked(&self, now: UnixTime) -> Option<(UnixTime, String)> {
        lock(&self.0)
            .as_ref()
            .filter(|(until, _)| *until > now)
            .cloned()
    }

    /// The error of an operation left unsent by the wait, or `None` when
    /// nothing holds it back.
    pub(crate) fn refusal(&self, provider: &str, now: UnixTime) -> Option<OpError> {
        let (until, why) = self.asked(now)?;
        let secs = now.secs_until(until);
        Some(OpError {
            retry_after: u64::try_from(secs).ok(),
            ..OpError::new(
                ErrorKind::Held,
                format!(
                    "not sent: {provider} asked to be sent nothing for {} more ({why}); \
                     nothing was spent",
                    pause_words(secs)
                ),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: UnixTime = UnixTime(1_800_000_000);

    fn limited(retry_after: Option<u64>) -> OpError {
        OpError {
            retry_after,
            ..OpError::new(ErrorKind::RateLimited, "429")
        }
    }

    #[test]
    fn a_wait_lasts_as_long_as_asked_and_is_never_shortened() {
        let w = AskedWait::default();
        assert_eq!(w.until(T), None);
        w.hear(&OpError::new(ErrorKind::Server, "500"), T);
        assert_eq!(w.until(T), None, "only 429 and 503 ask for a wait");
        w.hear(&limited(Some(30)), T);
        assert_eq!(w.until(T), Some(T.plus_secs(30)));
        w.hear(&limited(Some(2)), T.plus_secs(1));
        assert_eq!(w.until(T), Some(T.plus_secs(30)), "a shorter one later");
        assert_eq!(w.until(T.plus_secs(30)), None, "over at the time named");
        let refused = w.refusal("bank", T.plus_secs(10)).unwrap();
        assert_eq!(refused.kind, ErrorKind::Held);
        assert_eq!(refused.retry_after, Some(20));
        assert_eq!(
            refused.message,
            "not sent: bank asked to be sent nothing for 20 s more (429); nothing was spent"
        );
        assert!(w.refusal("bank", T.plus_secs(30)).is_none());
    }

    #[test]
    fn an_unsaid_wait_is_short_and_a_huge_one_capped() {
        let w = AskedWait::default();
        w.hear(&limited(None), T);
        assert_eq!(w.until(T), Some(T.plus_secs(UNSAID_SECS)));
        w.hear(&limited(Some(u64::MAX)), T);
        assert_eq!(w.until(T), Some(T.plus_secs(LONGEST_SECS)));
    }
}
