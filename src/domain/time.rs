//! Time as the domain sees it: whole seconds since the Unix epoch, passed in.
//!
//! Nothing in the domain reads the clock; callers hand `now` in, so every rule
//! is testable at its edges with a fixed instant.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UnixTime(pub i64);

impl UnixTime {
    /// Reads the system clock. Only the edges (worker, front ends) call this.
    pub fn now() -> Self {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Self(i64::try_from(secs).unwrap_or(i64::MAX))
    }

    pub fn plus_secs(self, secs: i64) -> Self {
        Self(self.0.saturating_add(secs))
    }

    pub fn plus(self, d: Duration) -> Self {
        self.plus_secs(i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
    }

    pub fn minus(self, d: Duration) -> Self {
        self.plus_secs(-i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
    }

    /// Seconds from `self` until `later`; negative when `later` is past.
    pub fn secs_until(self, later: UnixTime) -> i64 {
        later.0.saturating_sub(self.0)
    }

    /// RFC 3339 in UTC, as `status --json` and the audit log print it.
    /// A time past the year 9999, which RFC 3339 cannot write (a provider's
    /// `exp` may say anything), is written as the last second it can.
    pub fn rfc3339(self) -> String {
        let secs = u64::try_from(self.0.min(LAST_RFC3339)).unwrap_or(0);
        humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(secs)).to_string()
    }

    /// `HH:MM:SS` in UTC, for the header clock and the activity pane.
    pub fn clock(self) -> String {
        let day = self.0.rem_euclid(86_400);
        format!("{:02}:{:02}:{:02}", day / 3600, day % 3600 / 60, day % 60)
    }

    /// [`clock`](Self::clock), with the date in front when it is not on
    /// `now`'s day: a provider's wait may end tomorrow, and "until 17:44:43"
    /// read as a time already past.
    pub fn clock_from(self, now: UnixTime) -> String {
        match self.0.div_euclid(86_400) == now.0.div_euclid(86_400) {
            true => self.clock(),
            false => format!("{} {}", &self.rfc3339()[..10], self.clock()),
        }
    }
}

impl fmt::Display for UnixTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rfc3339())
    }
}

/// 9999-12-31T23:59:59Z.
const LAST_RFC3339: i64 = 253_402_300_799;

/// A time in JSON for scripts as `status --json` writes every time, RFC
/// 3339 text, and read back from that or from the whole seconds the audit
/// log's archives written before held: `#[serde(with = "rfc3339")]`.
pub mod rfc3339 {
    use super::UnixTime;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &UnixTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.rfc3339())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<UnixTime, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Secs(i64),
            Text(String),
        }
        match Either::deserialize(d)? {
            Either::Secs(secs) => Ok(UnixTime(secs)),
            Either::Text(text) => humantime::parse_rfc3339(&text)
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .and_then(|d| i64::try_from(d.as_secs()).ok())
                .map(UnixTime)
                .ok_or_else(|| {
                    serde::de::Error::custom(format!("{text:?} is not an RFC 3339 time"))
                }),
        }
    }
}

/// Time left as an operator reads it: `04:59` under an hour, `1h 12m`, `3d 4h`.
pub fn format_left(secs: i64) -> String {
    let secs = secs.max(0);
    match secs {
        s if s < 3600 => format!("{:02}:{:02}", s / 60, s % 60),
        s if s < 86_400 => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
        s => format!("{}d {}h", s / 86_400, s % 86_400 / 3600),
    }
}

/// How long ago, coarse: `12s`, `3m`, `2h`, `5d`.
pub fn format_ago(secs: i64) -> String {
    let secs = secs.max(0);
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn left_switches_format_at_an_hour_and_a_day() {
        assert_eq!(format_left(0), "00:00");
        assert_eq!(format_left(299), "04:59");
        assert_eq!(format_left(3599), "59:59");
        assert_eq!(format_left(3600), "1h 00m");
        assert_eq!(format_left(4320), "1h 12m");
        assert_eq!(format_left(90_000), "1d 1h");
        assert_eq!(format_left(-5), "00:00");
    }

    #[test]
    fn a_clock_on_another_day_says_its_date() {
        let now = UnixTime(1_800_000_000);
        assert_eq!(now.clock_from(now), now.clock());
        let tomorrow = now.plus_secs(86_400);
        assert_eq!(
            tomorrow.clock_from(now),
            format!("2027-01-16 {}", now.clock())
        );
        assert_eq!(now.rfc3339(), "2027-01-15T08:00:00Z");
    }

    #[test]
    fn ago_is_coarse() {
        assert_eq!(format_ago(12), "12s");
        assert_eq!(format_ago(180), "3m");
        assert_eq!(format_ago(7200), "2h");
    }

    #[test]
    fn json_times_are_rfc3339_and_read_back_from_either_form() {
        #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
        struct At {
            #[serde(with = "super::rfc3339")]
            at: UnixTime,
        }
        let t = UnixTime(1_616_429_240);
        let text = serde_json::to_string(&At { at: t }).unwrap();
        assert_eq!(text, r#"{"at":"2021-03-22T16:07:20Z"}"#);
        assert_eq!(serde_json::from_str::<At>(&text).unwrap(), At { at: t });
        let old: At = serde_json::from_str(r#"{"at":1616429240}"#).unwrap();
        assert_eq!(old, At { at: t });
        assert!(serde_json::from_str::<At>(r#"{"at":"yesterday"}"#).is_err());
    }

    #[test]
    fn rfc3339_and_clock() {
        assert_eq!(UnixTime(1_616_429_240).rfc3339(), "2021-03-22T16:07:20Z");
        assert_eq!(UnixTime(LAST_RFC3339 + 1).rfc3339(), "9999-12-31T23:59:59Z");
        assert_eq!(UnixTime(i64::MAX).to_string(), "9999-12-31T23:59:59Z");
        assert_eq!(UnixTime(1_616_429_240).clock(), "16:07:20");
    }
}
