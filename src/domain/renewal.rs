//! What renews a store's tokens while nobody watches, and whether it still runs.
//!
//! `auto_refresh` renews tokens only while a dashboard runs its scheduler,
//! and `refresh --due` only while cron keeps starting it. Each records in the
//! store when it last ran, so that `check` can tell a token that will be
//! renewed from one that will lapse because the dashboard was closed or the
//! cron job stopped: a record older than its own period means its renewer
//! has stopped.

use serde::{Deserialize, Serialize};

use super::UnixTime;

/// How often a running scheduler records that it runs.
pub const SCHEDULER_BEAT_SECS: i64 = 60;
/// A scheduler that has not recorded itself for this long has stopped: three
/// beats, so one slow pass over a large store does not read as a stop.
pub const SCHEDULER_STOPPED_AFTER_SECS: i64 = 3 * SCHEDULER_BEAT_SECS;
/// What a `refresh --due` run is allowed past its own window before it
/// counts as stopped: cron starts a job up to a minute late, and the run
/// itself takes time.
pub const REFRESH_DUE_GRACE_SECS: i64 = 60;

/// One renewer's last record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum Renewal {
    /// A dashboard's scheduler, which refreshes these providers' tokens a
    /// margin before they expire (the providers its config sets
    /// `auto_refresh` on).
    Scheduler {
        at: UnixTime,
        providers: Vec<String>,
        /// Those of them whose automatic work it has paused, since they
        /// stopped answering: it renews nothing of theirs until they do.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        paused: Vec<String>,
        /// Its dashboard quit at `at`: it renews nothing from then on. A
        /// dashboard that ends without saying so (killed, crashed) is
        /// known stopped only when its beats stop coming.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        ended: bool,
        /// Which dashboard: each keeps its own record, so that one quitting
        /// does not read as every scheduler stopped while another runs.
        /// Empty in a record an older bankdeck wrote.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        process: String,
    },
    /// A `refresh --due` run, started at `at`, that refreshed every token
    /// of these providers (those its config has) expiring within
    /// `within_secs`, of the rows `matching` keeps. Run again at least that
    /// often, it leaves no token to lapse.
    RefreshDue {
        at: UnixTime,
        providers: Vec<String>,
        within_secs: i64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        matching: Option<String>,
    },
}

impl Renewal {
    /// The store's key for this record: one per scheduler, and one per
    /// `refresh --due` filter, so that two cron jobs over different
    /// providers each keep their own.
    pub fn key(&self) -> String {
        match self {
            Renewal::Scheduler { process, .. } if process.is_empty() => {
                format!("{}scheduler", Self::KEY_PREFIX)
            }
            Renewal::Scheduler { process, .. } => {
                format!("{}scheduler:{process}", Self::KEY_PREFIX)
            }
            Renewal::RefreshDue { matching, .. } => match matching {
                None => format!("{}refresh_due", Self::KEY_PREFIX),
                Some(m) => format!("{}refresh_due:{m}", Self::KEY_PREFIX),
            },
        }
    }

    /// Every record's key starts so.
    pub const KEY_PREFIX: &'static str = "renewal:";

    pub fn at(&self) -> UnixTime {
        match self {
            Renewal::Scheduler { at, .. } | Renewal::RefreshDue { at, .. } => *at,
        }
    }

    /// Whether its renewer still runs at `now`, by the age of its record.
    pub fn running(&self, now: UnixTime) -> bool {
        let age = self.at().secs_until(now);
        match self {
            Renewal::Scheduler { ended: true, .. } => false,
            Renewal::Scheduler { .. } => age <= SCHEDULER_STOPPED_AFTER_SECS,
            Renewal::RefreshDue { within_secs, .. } => {
                age <= within_secs.saturating_add(REFRESH_DUE_GRACE_SECS)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: UnixTime = UnixTime(1_800_000_000);

    #[test]
    fn a_scheduler_stops_after_three_beats_a_refresh_due_after_its_window() {
        let beat = |ago: i64| Renewal::Scheduler {
            at: NOW.plus_secs(-ago),
            providers: vec!["ev".into()],
            paused: vec![],
            ended: false,
            process: String::new(),
        };
        assert!(beat(0).running(NOW) && beat(180).running(NOW));
        assert!(!beat(181).running(NOW));
        let quit = Renewal::Scheduler {
            at: NOW,
            providers: vec!["ev".into()],
            paused: vec![],
            ended: true,
            process: String::new(),
        };
        assert!(!quit.running(NOW), "its dashboard said it quit");
        let due = |ago: i64| Renewal::RefreshDue {
            at: NOW.plus_secs(-ago),
            providers: vec![],
            within_secs: 600,
            matching: None,
        };
        assert!(due(660).running(NOW));
        assert!(!due(661).running(NOW));
    }

    #[test]
    fn records_are_keyed_by_renewer_and_filter_and_read_back_by_name() {
        let due = |m: Option<&str>| Renewal::RefreshDue {
            at: NOW,
            providers: vec!["bank".into()],
            within_secs: 600,
            matching: m.map(Into::into),
        };
        assert_eq!(due(None).key(), "renewal:refresh_due");
        assert_eq!(due(Some("!dapi")).key(), "renewal:refresh_due:!dapi");
        let beat = Renewal::Scheduler {
            at: NOW,
            providers: vec!["ev".into()],
            paused: vec![],
            ended: false,
            process: String::new(),
        };
        assert_eq!(beat.key(), "renewal:scheduler");
        let json = serde_json::to_string(&beat).unwrap();
        assert_eq!(
            json,
            r#"{"by":"scheduler","at":1800000000,"providers":["ev"]}"#
        );
        assert_eq!(serde_json::from_str::<Renewal>(&json).unwrap(), beat);
        let paused = Renewal::Scheduler {
            at: NOW,
            providers: vec!["ev".into()],
            paused: vec!["ev".into()],
            ended: false,
            process: String::new(),
        };
        let json = serde_json::to_string(&paused).unwrap();
        assert!(json.ends_with(r#""paused":["ev"]}"#), "{json}");
        assert_eq!(serde_json::from_str::<Renewal>(&json).unwrap(), paused);
        let json = serde_json::to_string(&due(None)).unwrap();
        assert_eq!(
            json,
            r#"{"by":"refresh_due","at":1800000000,"providers":["bank"],"within_secs":600}"#
        );
        assert_eq!(serde_json::from_str::<Renewal>(&json).unwrap(), due(None));
    }
}
