//! A provider's own request to be sent nothing for a while (a 429 or 503
//! with `Retry-After`), as the store keeps it for every process.
//!
//! One process hears the answer; the next cron `refresh --due`, a script's
//! `token`, a second dashboard and `check` must all know of it, or each sends
//! at once what the provider asked not to get and `check` advises a refresh
//! the provider will refuse.

use serde::{Deserialize, Serialize};

use super::UnixTime;

/// `provider` asked, in the answer `why`, to be sent nothing until `until`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderWait {
    pub provider: String,
    pub until: UnixTime,
    /// The answer's words, as its operation's error said them: never a secret.
    pub why: String,
    /// When it was heard, or lifted: a lift sets aside what was heard before
    /// it, never what a provider asks after it. A wait kept before lifts
    /// existed reads as heard at the epoch.
    #[serde(default = "epoch")]
    pub heard: UnixTime,
    /// Who lifted the provider's ask (`bankdeck waits lift`, the screen's
    /// `lift_wait`): from `heard` on, it is sent to again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifted_by: Option<String>,
}

fn epoch() -> UnixTime {
    UnixTime(0)
}

impl ProviderWait {
    /// Every wait's key in the store starts so; one key per provider.
    pub const KEY_PREFIX: &'static str = "wait:";

    pub fn key(&self) -> String {
        format!("{}{}", Self::KEY_PREFIX, self.provider)
    }

    /// `provider` asked at `heard`, in the answer `why`, to be sent nothing
    /// until `until`.
    pub fn asked(provider: &str, heard: UnixTime, until: UnixTime, why: String) -> Self {
        ProviderWait {
            provider: provider.to_owned(),
            until,
            why,
            heard,
            lifted_by: None,
        }
    }

    /// The operator `by` set aside at `at` whatever `provider` had asked.
    pub fn lift(provider: &str, at: UnixTime, by: &str) -> Self {
        ProviderWait {
            provider: provider.to_owned(),
            until: at,
            why: format!("lifted by {by}"),
            heard: at,
            lifted_by: Some(by.to_owned()),
        }
    }

    /// What a lift of `provider` says when no wait of its holds.
    pub fn nothing_to_lift(provider: &str) -> String {
        format!("{provider} asks for no wait now: nothing to lift")
    }

    /// What this lift did to `held`, for the audit log.
    pub fn set_aside(&self, held: &ProviderWait) -> String {
        format!(
            "lifted {}'s asked wait, which held until {} ({}): it is sent to again",
            held.provider,
            held.until.rfc3339(),
            held.why
        )
    }

    /// Whether it still holds at `now`.
    pub fn holds(&self, now: UnixTime) -> bool {
        self.until > now
    }

    /// Whether this wait, heard or read, takes the place of `held` for its
    /// provider. Between two asks the later end stands: two processes that
    /// heard different answers both wait for it, and a burst of 429s never
    /// shortens a wait. A lift stands against what was heard up to it, and
    /// what is heard from then on stands against the lift.
    pub fn replaces(&self, held: &ProviderWait) -> bool {
        if self == held {
            return false;
        }
        match (&self.lifted_by, &held.lifted_by) {
            (None, None) => self.until > held.until,
            _ => self.heard >= held.heard,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: UnixTime = UnixTime(1_800_000_000);

    fn asked(heard: i64, until: i64) -> ProviderWait {
        ProviderWait::asked("bank", T.plus_secs(heard), T.plus_secs(until), "429".into())
    }

    #[test]
    fn the_later_end_stands_between_two_asks() {
        assert!(asked(0, 60).replaces(&asked(5, 30)));
        assert!(!asked(5, 30).replaces(&asked(0, 60)), "never shortened");
        assert!(!asked(0, 60).replaces(&asked(0, 60)));
    }

    #[test]
    fn a_lift_sets_aside_what_was_heard_before_it_and_no_more() {
        let lift = ProviderWait::lift("bank", T.plus_secs(10), "amira");
        assert!(!lift.holds(T.plus_secs(10)));
        assert_eq!(lift.why, "lifted by amira");
        assert!(lift.replaces(&asked(0, 3600)));
        assert!(
            lift.replaces(&asked(10, 3600)),
            "heard in the lift's second"
        );
        assert!(!lift.replaces(&asked(11, 3600)), "heard after the lift");
        assert!(asked(11, 60).replaces(&lift));
        assert!(!asked(9, 3600).replaces(&lift), "an answer heard before it");
        assert!(!lift.replaces(&lift.clone()));
    }

    #[test]
    fn a_wait_kept_before_lifts_existed_reads_as_heard_at_the_epoch() {
        let old: ProviderWait =
            serde_json::from_str(r#"{"provider":"bank","until":1800000060,"why":"429"}"#).unwrap();
        assert_eq!((old.heard, old.lifted_by.as_deref()), (UnixTime(0), None));
        assert!(ProviderWait::lift("bank", T, "amira").replaces(&old));
        let kept = serde_json::to_string(&asked(0, 60)).unwrap();
        assert!(!kept.contains("lifted_by"), "{kept}");
    }
}
