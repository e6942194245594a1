//! A provider that is down pauses the scheduler's work on it.
//!
//! Each connection already backs off on its own, but at scale that is not
//! enough: when a bank's token endpoint goes down with 14 000 tokens due, the
//! scheduler would send every one of them a failing request (and write an
//! audit line and an activity line for each) before any back-off started.
//! After [`TRIP_AFTER`] failures in a row that say nothing about the
//! connection itself (refused, timed out, 429, 5xx), the provider's automatic
//! work is paused: 30 s, doubling with each pause in a row, up to 30 min, or
//! longer if the server asked with `Retry-After`. Then one operation goes out
//! alone as a probe; if it succeeds, the rest follow. (A wait the provider
//! asks for itself holds every operation, the operator's too: see
//! [`wait`](super::wait).)
//!
//! Only the scheduler consults this: an operator's own `r` or `R` always
//! gets its try, and an answer it gets ends the pause as the probe's would
//! (it said "paused", and `check` that nothing renewed the provider's
//! tokens, until a token came due for a probe). Pure bookkeeping, so its
//! rules are tested directly.

use std::collections::HashMap;

use crate::domain::{ErrorKind, OpError, UnixTime};

/// Failures in a row, of the kinds that mean the provider is not answering,
/// before its automatic work is paused.
pub(crate) const TRIP_AFTER: u32 = 5;

/// A pause in words: seconds up to two minutes, whole minutes up to two
/// hours, then hours (a provider's quota may ask for most of a day).
pub(crate) fn pause_words(secs: i64) -> String {
    match secs {
        ..120 => format!("{secs} s"),
        120..7200 => format!("{} min", secs / 60),
        _ if secs % 3600 < 60 => format!("{} h", secs / 3600),
        _ => format!("{} h {} min", secs / 3600, secs % 3600 / 60),
    }
}

#[derive(Debug, Default)]
struct Breaker {
    /// Outage failures in a row.
    streak: u32,
    /// Pauses in a row, for the doubling.
    trips: u32,
    paused_until: Option<UnixTime>,
    /// The provider's answers to any operation of this process (its slot's
    /// count) when it paused: one more since is an answer.
    answers_at_pause: u64,
}

/// Whether `result` says the provider answers: `Some(true)` when it did
/// (with a token, or a verdict on the connection), `Some(false)` when it
/// did not (refused, timed out, 429, 5xx), `None` when nothing was learned
/// (a local failure, or nothing sent).
pub(crate) fn answers(result: Result<(), &OpError>) -> Option<bool> {
    let Err(error) = result else {
        return Some(true);
    };
    match error.kind {
        kind if kind.is_transient() => Some(false),
        ErrorKind::Store
        | ErrorKind::Held
        | ErrorKind::Cancelled
        | ErrorKind::Internal
        | ErrorKind::NotAllowed
        | ErrorKind::Ended => None,
        _ => Some(true),
    }
}

/// What a result changed, for the operator to hear of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Change {
    None,
    /// The provider's automatic work waits until `until`.
    Paused {
        until: UnixTime,
        failures: u32,
    },
    /// It answered again after a pause.
    Resumed,
}

#[derive(Debug, Default)]
pub(crate) struct Breakers(HashMap<String, Breaker>);

impl Breakers {
    /// How many of `provider`'s operations may be running at `now`: `None`
    /// when there is no limit beyond its own, `Some(0)` while paused,
    /// `Some(1)` for the probe after a pause.
    pub(crate) fn cap(&self, provider: &str, now: UnixTime) -> Option<usize> {
        let b = self.0.get(provider)?;
        match b.paused_until {
            Some(until) if now < until => Some(0),
            Some(_) => Some(1),
            None => None,
        }
    }

    /// Whether `provider`'s automatic work is paused: waiting out its pause,
    /// or waiting for its probe to answer.
    pub(crate) fn paused(&self, provider: &str) -> bool {
        self.0
            .get(provider)
            .is_some_and(|b| b.paused_until.is_some())
    }

    /// Whether any provider's automatic work is [`paused`](Self::paused).
    pub(crate) fn any_paused(&self) -> bool {
        self.0.values().any(|b| b.paused_until.is_some())
    }

    /// Every provider whose automatic work is [`paused`](Self::paused).
    pub(crate) fn paused_providers(&self) -> Vec<String> {
        (self.0.iter())
            .filter(|(_, b)| b.paused_until.is_some())
            .map(|(p, _)| p.clone())
            .collect()
    }

    /// The earliest instant after `now` at which a paused provider may send
    /// its probe.
    pub(crate) fn next_resume(&self, now: UnixTime) -> Option<UnixTime> {
        self.0
            .values()
            .filter_map(|b| b.paused_until)
            .filter(|&until| until > now)
            .min()
    }

    /// Counts an operation's result against its provider. `pause_until`
    /// says when to try again after the `n`th pause in a row, given the
    /// failure that caused it: the same back-off as a connection's own.
    pub(crate) fn record(
        &mut self,
        provider: &str,
        result: Result<(), &OpError>,
        now: UnixTime,
        answers_now: u64,
        pause_until: impl FnOnce(u32, &OpError) -> UnixTime,
    ) -> Change {
        let error = match (answers(result), result) {
            (Some(false), Err(e)) => e,
            (Some(_), _) => return self.answered(provider),
            (None, _) => return Change::None,
        };
        let b = self.0.entry(provider.to_owned()).or_default();
        b.streak = b.streak.saturating_add(1);
        let paused = b.paused_until.is_some_and(|until| now < until);
        // Operations already in flight when it paused fail too; they do not
        // stretch the pause. The probe's failure does.
        if b.streak < TRIP_AFTER || paused {
            return Change::None;
        }
        b.trips = b.trips.saturating_add(1);
        let until = pause_until(b.trips, error);
        b.paused_until = Some(until);
        b.answers_at_pause = answers_now;
        Change::Paused {
            until,
            failures: b.streak,
        }
    }

    /// Ends `provider`'s pause if it answered one of this process's other
    /// operations (an operator's) since: `answers_now` is its slot's count.
    pub(crate) fn heard(&mut self, provider: &str, answers_now: u64) -> Change {
        match self.0.get(provider) {
            Some(b) if b.paused_until.is_some() && answers_now > b.answers_at_pause => {
                self.answered(provider)
            }
            _ => Change::None,
        }
    }

    fn answered(&mut self, provider: &str) -> Change {
        match self.0.remove(provider) {
            Some(b) if b.paused_until.is_some() => Change::Resumed,
            _ => Change::None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: UnixTime = UnixTime(1_800_000_000);

    #[test]
    fn a_pause_is_said_in_the_unit_that_reads_best() {
        let said: Vec<String> = [45, 120, 1800, 7199, 7200, 7500, 86_400]
            .into_iter()
            .map(pause_words)
            .collect();
        assert_eq!(
            said,
            [
                "45 s",
                "2 min",
                "30 min",
                "119 min",
                "2 h",
                "2 h 5 min",
                "24 h"
            ]
        );
    }

    fn down() -> OpError {
        OpError::new(ErrorKind::Network, "connection refused")
    }

    fn record(b: &mut Breakers, result: Result<(), &OpError>, now: UnixTime) -> Change {
        b.record("bank", result, now, 0, |trips, error| {
            super::super::scheduler::retry_at(now, trips, error)
        })
    }

    /// A fresh provider failing `error` until it pauses: what the last said.
    fn trip(error: &OpError) -> Change {
        let mut b = Breakers::default();
        for _ in 1..TRIP_AFTER {
            assert_eq!(record(&mut b, Err(error), T), Change::None);
        }
        record(&mut b, Err(error), T)
    }

    #[test]
    fn five_outage_failures_in_a_row_pause_the_provider() {
        let mut b = Breakers::default();
        for _ in 1..TRIP_AFTER {
            assert_eq!(record(&mut b, Err(&down()), T), Change::None);
            assert_eq!(b.cap("bank", T), None);
        }
        let until = T.plus_secs(30);
        assert_eq!(
            record(&mut b, Err(&down()), T),
            Change::Paused { until, failures: 5 }
        );
        assert_eq!(b.cap("bank", T), Some(0));
        assert_eq!(b.cap("other", T), None, "one provider's outage is its own");
        assert_eq!(b.next_resume(T), Some(until));
        // What was in flight fails too and changes nothing.
        assert_eq!(record(&mut b, Err(&down()), T.plus_secs(1)), Change::None);
        assert_eq!(b.cap("bank", T.plus_secs(29)), Some(0));
        assert_eq!(b.cap("bank", until), Some(1), "then one probe");
        assert_eq!(b.next_resume(until), None);
    }

    #[test]
    fn a_failed_probe_doubles_the_pause_and_a_good_one_ends_it() {
        let mut b = Breakers::default();
        for _ in 0..TRIP_AFTER {
            record(&mut b, Err(&down()), T);
        }
        let probe = T.plus_secs(30);
        assert_eq!(
            record(&mut b, Err(&down()), probe),
            Change::Paused {
                until: probe.plus_secs(60),
                failures: 6
            }
        );
        let probe = probe.plus_secs(60);
        assert_eq!(b.cap("bank", probe), Some(1));
        assert_eq!(record(&mut b, Ok(()), probe), Change::Resumed);
        assert_eq!(b.cap("bank", probe), None);
        // Counting starts over.
        for _ in 1..TRIP_AFTER {
            record(&mut b, Err(&down()), probe);
        }
        assert_eq!(b.cap("bank", probe), None);
    }

    #[test]
    fn an_answer_about_one_connection_breaks_the_streak() {
        let mut b = Breakers::default();
        let rejected = OpError::new(ErrorKind::ReauthRequired, "invalid_grant");
        for _ in 0..3 * TRIP_AFTER {
            record(&mut b, Err(&down()), T);
            record(&mut b, Err(&down()), T);
            assert_eq!(record(&mut b, Err(&rejected), T), Change::None);
        }
        assert_eq!(b.cap("bank", T), None);
    }

    #[test]
    fn local_failures_neither_count_nor_break_the_streak() {
        let mut b = Breakers::default();
        for _ in 1..TRIP_AFTER {
            record(&mut b, Err(&down()), T);
        }
        record(&mut b, Err(&OpError::store("disk full")), T);
        record(&mut b, Err(&OpError::new(ErrorKind::Cancelled, "x")), T);
        assert_eq!(b.cap("bank", T), None);
        assert!(matches!(
            record(&mut b, Err(&down()), T),
            Change::Paused { .. }
        ));
    }

    #[test]
    fn retry_after_stretches_the_pause_up_to_the_longest() {
        let asking = |secs| OpError {
            retry_after: Some(secs),
            ..OpError::new(ErrorKind::RateLimited, "429")
        };
        for (asked, until) in [(600, T.plus_secs(600)), (u64::MAX, T.plus_secs(1800))] {
            assert_eq!(
                trip(&asking(asked)),
                Change::Paused { until, failures: 5 },
                "Retry-After: {asked}"
            );
        }
    }
}
