//! When to try a read again, and how long to wait first.
//!
//! Only idempotent reads (discovery) are ever retried; token POSTs never are,
//! because a code or a rotating refresh token may be spent by the first
//! attempt even when its answer is lost. The waits are small and capped so a
//! retried read still fits an operator's patience: a server asking for a
//! longer pause gets a `RateLimited` error back instead, and the worker
//! decides when to come back.

use std::time::{Duration, SystemTime};

use rand::Rng;

/// Attempts of one read, the first included.
pub const READ_ATTEMPTS: u32 = 3;
/// A `Retry-After` longer than this is not waited for inside one operation.
pub const MAX_HONOURED_WAIT: Duration = Duration::from_secs(5);
const BASE_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Reads `Retry-After` (RFC 9110 §10.2.3): delay-seconds or an HTTP date.
/// Garbage gives `None`, so the caller falls back to its own backoff.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<u64> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return value.parse().ok().or(Some(u64::MAX));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).map_or(0, |d| d.as_secs()))
}

/// Capped exponential backoff with jitter: `attempt` 1 waits about 200 ms,
/// 2 about 400 ms, never more than 2 s; the jitter takes up to half off so
/// many clients do not come back in step.
pub fn backoff(attempt: u32) -> Duration {
    let exp = BASE_BACKOFF.saturating_mul(1u32 << attempt.saturating_sub(1).min(10));
    let full = exp.min(MAX_BACKOFF);
    let millis = u64::try_from(full.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(rand::rng().random_range(millis / 2..=millis))
}

/// The wait before the next attempt of a read the server throttled, or
/// `None` when the server asked for longer than we wait inline.
pub fn throttled_wait(retry_after: Option<u64>, attempt: u32) -> Option<Duration> {
    match retry_after {
        Some(secs) if Duration::from_secs(secs) > MAX_HONOURED_WAIT => None,
        Some(secs) => Some(Duration::from_secs(secs)),
        None => Some(backoff(attempt)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_date_and_garbage() {
        let now = httpdate::parse_http_date("Sun, 22 Nov 2026 10:00:00 GMT").unwrap();
        assert_eq!(parse_retry_after("120", now), Some(120));
        assert_eq!(parse_retry_after(" 7 ", now), Some(7));
        assert_eq!(
            parse_retry_after("Sun, 22 Nov 2026 10:00:30 GMT", now),
            Some(30)
        );
        assert_eq!(
            parse_retry_after("Sun, 22 Nov 2026 09:00:00 GMT", now),
            Some(0)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
        assert_eq!(parse_retry_after("", now), None);
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(u64::MAX)
        );
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        for attempt in 1..20 {
            let d = backoff(attempt);
            assert!(d <= MAX_BACKOFF, "{d:?}");
            assert!(d >= Duration::from_millis(100), "{d:?}");
        }
        assert!(backoff(1) <= Duration::from_millis(200));
    }

    #[test]
    fn long_retry_after_is_not_waited_inline() {
        assert_eq!(throttled_wait(Some(60), 1), None);
        assert_eq!(throttled_wait(Some(1), 1), Some(Duration::from_secs(1)));
        assert!(throttled_wait(None, 1).is_some());
    }
}
