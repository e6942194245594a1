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
use std::time::{Duration, Instant};

use super::breaker::pause_words;
use super::{Event, RequestId, Slot, Worker, lock};
use crate::domain::{ErrorKind, OpError, ProviderWait, UnixTime};

/// The wait after a 429 or 503 that names none: long enough that a bulk
/// does not answer a refusal with its whole window again at once.
const UNSAID_SECS: i64 = 5;
/// The longest wait taken from a `Retry-After`. A provider's daily quota
/// may ask for hours, and is honoured; beyond a day the answer is more
/// likely wrong than meant. An operator who knows better lifts the wait
/// (`bankdeck waits lift`, the screen's `lift_wait`).
const LONGEST_SECS: i64 = 24 * 3600;

/// How stale this process's copy of the waits other processes heard may
/// be before an operation reads them again: a bulk in another process
/// sends for at most this long into a wait it did not hear itself, and a
/// bulk here reads the store once a second for it, not once a refresh.
pub(super) const STORED_WAITS_FRESH: Duration = Duration::from_secs(1);

/// The longest wait asked of this provider: until when, and the answer that
/// asked (its words, to tell the operator).
#[derive(Debug, Default)]
pub(crate) struct AskedWait(Mutex<Option<ProviderWait>>);

impl AskedWait {
    /// Counts a rate-limited answer from `provider` heard at `now`; a wait
    /// already asked for is never shortened. Other errors change nothing.
    /// The wait, when this answer made it longer: for the store to keep.
    pub(crate) fn hear(
        &self,
        provider: &str,
        error: &OpError,
        now: UnixTime,
    ) -> Option<ProviderWait> {
        if error.kind != ErrorKind::RateLimited {
            return None;
        }
        let asked = (error.retry_after).map(|s| i64::try_from(s).unwrap_or(i64::MAX));
        let secs = asked.map_or(UNSAID_SECS, |s| s.min(LONGEST_SECS));
        // Said beside the answer's own words, which name the longer wait:
        // else "it asks to wait 172800s" reads against an end a day away.
        let why = match asked {
            Some(s) if s > LONGEST_SECS => format!(
                "{}; bankdeck waits {} at most",
                error.message,
                pause_words(LONGEST_SECS)
            ),
            _ => error.message.clone(),
        };
        let wait = ProviderWait::asked(provider, now, now.plus_secs(secs), why);
        self.hold(&wait).map(|_| wait)
    }

    /// Holds `wait` (another process's from the store, or a lift) when it
    /// [replaces](ProviderWait::replaces) the one held: what was held
    /// then, `Some(None)` when nothing was. `None`: nothing changed.
    pub(crate) fn hold(&self, wait: &ProviderWait) -> Option<Option<ProviderWait>> {
        let mut asked = lock(&self.0);
        if asked.as_ref().is_some_and(|was| !wait.replaces(was)) {
            return None;
        }
        Some(asked.replace(wait.clone()))
    }

    /// The time asked for, while it is still ahead of `now`.
    pub(crate) fn until(&self, now: UnixTime) -> Option<UnixTime> {
        // Read on every launch and before every send: no copy of the words.
        lock(&self.0)
            .as_ref()
            .map(|w| w.until)
            .filter(|&until| until > now)
    }

    /// The wait, while it still holds at `now`.
    pub(crate) fn asked(&self, now: UnixTime) -> Option<ProviderWait> {
        lock(&self.0).as_ref().filter(|w| w.holds(now)).cloned()
    }

    /// The error of an operation left unsent by the wait, or `None` when
    /// nothing holds it back.
    pub(crate) fn refusal(&self, provider: &str, now: UnixTime) -> Option<OpError> {
        let ProviderWait { until, why, .. } = self.asked(now)?;
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

impl Worker {
    /// Takes in the waits the store keeps, which other processes heard (a
    /// dashboard's scheduler, a cron `refresh --due`, a script's `token`),
    /// unless they were read within [`STORED_WAITS_FRESH`]. Called before
    /// every send and every launch; a store that cannot be read leaves
    /// this process's own waits to hold.
    pub(crate) async fn heed_stored_waits(&self) {
        let read = self.inner.waits_read.lock().await;
        self.read_stored_waits(read).await;
    }

    /// The error of a request to `slot`'s provider left unsent by a wait it
    /// asked for, heard here or, read first, by another process.
    pub(crate) async fn held_by_wait(&self, slot: &Slot) -> Option<OpError> {
        self.heed_stored_waits().await;
        slot.asked_wait.refusal(&slot.config.name, self.now())
    }

    /// [`Worker::heed_stored_waits`] for what drives operations in its own
    /// task (a bulk polls its refreshes itself): unless one of them is
    /// reading the waits already. Waiting for that one's read there would
    /// wait for ever, since the bulk's task is the one that has to run it.
    pub(crate) async fn heed_stored_waits_unless_read(&self) {
        if let Ok(read) = self.inner.waits_read.try_lock() {
            self.read_stored_waits(read).await;
        }
    }

    async fn read_stored_waits(&self, mut read: tokio::sync::MutexGuard<'_, Option<Instant>>) {
        if read.is_some_and(|at| at.elapsed() < STORED_WAITS_FRESH) {
            return;
        }
        let waits = match self.db_store(|s| s.waits()).await {
            Ok(waits) => waits,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the providers' asked waits");
                Vec::new()
            }
        };
        *read = Some(Instant::now());
        drop(read);
        for wait in waits {
            let Some(slot) = self.inner.providers.get(&wait.provider) else {
                continue;
            };
            let Some(was) = slot.asked_wait.hold(&wait) else {
                continue;
            };
            // Told once, as it begins, grows or is lifted: the screen shows
            // why its scheduler sends the provider nothing, which it would
            // otherwise learn only when an operation of its own is held.
            let now = self.now();
            let event = match was {
                _ if wait.holds(now) => Event::ProviderWaiting {
                    wait,
                    elsewhere: true,
                },
                Some(was) if wait.lifted_by.is_some() && was.holds(now) => Event::WaitLifted {
                    id: None,
                    lift: wait,
                    set_aside: Some(was),
                },
                _ => continue,
            };
            self.emit(event).await;
        }
    }

    /// Sets aside `provider`'s asked wait for every process (`bankdeck waits
    /// lift`, the screen's `lift_wait`): the operator knows it takes
    /// requests again. The lift, and the wait that held until then, kept in
    /// the store or, where the store could not keep it, by this process
    /// (`None` when none held).
    pub async fn lift_wait(
        &self,
        provider: &str,
    ) -> Result<(ProviderWait, Option<ProviderWait>), OpError> {
        self.refuse_if_readonly()?;
        let slot = self.slot(provider)?;
        let lift = ProviderWait::lift(provider, self.now(), &self.inner.opts.actor);
        let kept = lift.clone();
        let stored = (self.db_store(move |s| s.lift_wait(&kept)).await).map_err(OpError::from)?;
        let held = slot.asked_wait.hold(&lift).flatten();
        let now = self.now();
        Ok((lift, stored.or(held).filter(|w| w.holds(now))))
    }

    /// [`Worker::lift_wait`] for a front end: answered with
    /// [`Event::WaitLifted`], or a notice saying why nothing was lifted.
    pub(crate) async fn report_lift(&self, id: RequestId, provider: String) {
        let event = match self.lift_wait(&provider).await {
            Ok((lift, set_aside)) => Event::WaitLifted {
                id: Some(id),
                lift,
                set_aside,
            },
            Err(e) => Event::Notice {
                message: format!("{provider}'s asked wait is not lifted: {}", e.message),
            },
        };
        self.emit(event).await;
    }

    /// [`AskedWait::hear`] on `slot`, and the wait kept in the store for
    /// every other process when this answer made it longer. Written before
    /// the operation ends, so that a command that exits right after its
    /// 429 still leaves it for the next.
    pub(crate) async fn hear_wait(&self, slot: &Slot, error: &OpError) {
        let Some(wait) = slot.asked_wait.hear(&slot.config.name, error, self.now()) else {
            return;
        };
        let kept = wait.clone();
        if let Err(e) = self.db_store(move |s| s.note_wait(&kept)).await {
            let provider = &wait.provider;
            tracing::warn!(provider, error = %e, "could not keep a provider's asked wait");
        }
        self.emit(Event::ProviderWaiting {
            wait,
            elsewhere: false,
        })
        .await;
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
        assert_eq!(
            w.hear("bank", &OpError::new(ErrorKind::Server, "500"), T),
            None
        );
        assert_eq!(w.until(T), None, "only 429 and 503 ask for a wait");
        let kept = w.hear("bank", &limited(Some(30)), T).unwrap();
        assert_eq!(
            (kept.provider.as_str(), kept.until),
            ("bank", T.plus_secs(30))
        );
        assert_eq!(w.until(T), Some(T.plus_secs(30)));
        assert_eq!(w.hear("bank", &limited(Some(2)), T.plus_secs(1)), None);
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
        w.hear("bank", &limited(None), T);
        assert_eq!(w.until(T), Some(T.plus_secs(UNSAID_SECS)));
        let hour = w.hear("bank", &limited(Some(3600)), T).unwrap();
        assert_eq!((hour.until, hour.why.as_str()), (T.plus_secs(3600), "429"));
        let capped = w.hear("bank", &limited(Some(2 * 86_400)), T).unwrap();
        assert_eq!(w.until(T), Some(T.plus_secs(LONGEST_SECS)));
        assert_eq!(capped.why, "429; bankdeck waits 24 h at most");
        w.hear("bank", &limited(Some(u64::MAX)), T.plus_secs(1));
        assert_eq!(w.until(T), Some(T.plus_secs(1 + LONGEST_SECS)));
    }

    #[test]
    fn a_wait_from_the_store_holds_unless_a_longer_one_is_held() {
        let w = AskedWait::default();
        let stored =
            |secs, why: &str| ProviderWait::asked("bank", T, T.plus_secs(secs), why.into());
        assert_eq!(w.hold(&stored(60, "429 elsewhere")), Some(None));
        assert_eq!(w.asked(T), Some(stored(60, "429 elsewhere")));
        assert_eq!(w.hold(&stored(10, "older")), None, "a shorter one");
        assert_eq!(w.until(T), Some(T.plus_secs(60)));
        assert_eq!(w.hold(&stored(-5, "over")), None);
        let lift = ProviderWait::lift("bank", T.plus_secs(5), "amira");
        assert_eq!(w.hold(&lift), Some(Some(stored(60, "429 elsewhere"))));
        assert_eq!(w.until(T.plus_secs(5)), None, "lifted");
        assert_eq!(w.hold(&lift), None, "read again, it changes nothing");
        assert!(w.hear("bank", &limited(Some(30)), T.plus_secs(6)).is_some());
        assert_eq!(w.until(T.plus_secs(6)), Some(T.plus_secs(36)), "asked anew");
    }
}
