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
}

impl ProviderWait {
    /// Every wait's key in the store starts so; one key per provider.
    pub const KEY_PREFIX: &'static str = "wait:";

    pub fn key(&self) -> String {
        format!("{}{}", Self::KEY_PREFIX, self.provider)
    }

    /// Whether it still holds at `now`.
    pub fn holds(&self, now: UnixTime) -> bool {
        self.until > now
    }
}
