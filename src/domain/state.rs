//! The state of a connection, derived, never stored: `state = f(tokens, flags, now)`.
//!
//! Storing a state string would let it drift from the tokens it describes (a
//! token expires while nobody writes). Deriving it from the expiries and flags
//! at the instant of asking keeps the screen, `status` and `check` honest.

use serde::Serialize;
use std::fmt;

use super::model::{AccessExpiry, Connection, Grant, OpKind, ProviderKind};
use super::time::{UnixTime, format_ago, format_left};

/// The machine-readable name of a state, as `status --json` prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StateKind {
    CodePending,
    CodeExpired,
    Active,
    Expiring,
    Expired,
    ReauthRequired,
    LoggedOut,
    Delinked,
    Failed,
}

impl StateKind {
    pub const ALL: [StateKind; 9] = [
        StateKind::CodePending,
        StateKind::Expiring,
        StateKind::Expired,
        StateKind::ReauthRequired,
        StateKind::Failed,
        StateKind::CodeExpired,
        StateKind::Active,
        StateKind::LoggedOut,
        StateKind::Delinked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StateKind::CodePending => "code_pending",
            StateKind::CodeExpired => "code_expired",
            StateKind::Active => "active",
            StateKind::Expiring => "expiring",
            StateKind::Expired => "expired",
            StateKind::ReauthRequired => "reauth_required",
            StateKind::LoggedOut => "logged_out",
            StateKind::Delinked => "delinked",
            StateKind::Failed => "failed",
        }
    }

    /// Words for a header count.
    pub fn label(self) -> &'static str {
        match self {
            StateKind::CodePending => "pending",
            StateKind::CodeExpired => "code expired",
            StateKind::Active => "active",
            StateKind::Expiring => "expiring",
            StateKind::Expired => "expired",
            StateKind::ReauthRequired => "re-consent",
            StateKind::LoggedOut => "logged out",
            StateKind::Delinked => "delinked",
            StateKind::Failed => "failed",
        }
    }

    /// Whether an operator (or `check`) has something to do about it.
    pub fn needs_action(self) -> bool {
        matches!(
            self,
            StateKind::CodePending
                | StateKind::CodeExpired
                | StateKind::Expiring
                | StateKind::Expired
                | StateKind::ReauthRequired
                | StateKind::Failed
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnState {
    CodePending {
        expires_at: UnixTime,
    },
    CodeExpired {
        since: UnixTime,
    },
    /// `expires_at` is `None` for a permanent token.
    Active {
        expires_at: Option<UnixTime>,
    },
    Expiring {
        expires_at: UnixTime,
    },
    Expired {
        since: UnixTime,
        refreshable: bool,
    },
    /// The provider refused the refresh token. `access_until`: when the
    /// access token it left expires, as the time-left column counts it
    /// (`access-token` still hands it out). Not called valid, as a logged
    /// out row's is: a provider that saw a rotated refresh token replayed
    /// revokes the whole grant, its access tokens too.
    ReauthRequired {
        access_until: Option<UnixTime>,
    },
    /// The refresh token is revoked; the access token may still work until
    /// `access_until` (Keycloak and RFC 7009 leave it alive).
    LoggedOut {
        access_until: Option<UnixTime>,
    },
    Delinked,
    /// The last operation failed and left nothing usable. `since`: when
    /// what it left ran out (the access token, or the access code of a
    /// failed exchange), if it had one: the time-left column says so, as it
    /// does for an expired row.
    Failed {
        error: String,
        since: Option<UnixTime>,
    },
}

/// What "refresh everything due" (the screen's `R`, `refresh --due`) takes
/// from `conns`, with `warn_secs` as the window.
#[derive(Debug)]
pub struct DueForRefresh<'a> {
    /// Those whose state wants a refresh and whose provider is configured.
    pub due: Vec<&'a Connection>,
    /// Due, but of a provider not configured, by provider: each would fail
    /// at the worker alike, so they are counted and named once instead.
    pub unconfigured: std::collections::BTreeMap<&'a str, usize>,
}

impl<'a> DueForRefresh<'a> {
    pub fn pick(
        conns: impl IntoIterator<Item = &'a Connection>,
        now: UnixTime,
        warn_secs: i64,
        configured: impl Fn(&str) -> bool,
    ) -> Self {
        let mut pick = DueForRefresh {
            due: Vec::new(),
            unconfigured: Default::default(),
        };
        for c in conns {
            let state = ConnState::derive(c, now, warn_secs);
            if !state.wants_refresh(c, now)
                && state.refresh_lapses_unused(c, now, warn_secs).is_none()
            {
                continue;
            }
            match configured(&c.provider) {
                true => pick.due.push(c),
                false => *pick.unconfigured.entry(&c.provider).or_default() += 1,
            }
        }
        pick
    }

    /// `[providers.a], [providers.b]`: the tables the configuration lacks.
    pub fn missing_tables(&self) -> String {
        let tables: Vec<String> = self
            .unconfigured
            .keys()
            .map(|p| format!("[providers.{p}]"))
            .collect();
        tables.join(", ")
    }
}

impl ConnState {
    /// Whether "refresh everything due" (the screen's `R`, `refresh --due`)
    /// takes `c` in this state: expiring, or expired and refreshable, its
    /// last refresh failed or not. After an outage, every row whose refresh
    /// failed meanwhile is expired and failed, and this is how they are all
    /// tried again at once. A Dapi token is permanent; its code is
    /// exchanged, not refreshed.
    pub fn wants_refresh(&self, c: &Connection, now: UnixTime) -> bool {
        c.kind != ProviderKind::Dapi
            && match self {
                ConnState::Expiring { .. } => true,
                ConnState::Expired { refreshable, .. } => *refreshable,
                ConnState::Failed { since: Some(_), .. } => refreshable(c, now),
                _ => false,
            }
    }

    /// When `c`'s refresh token lapses unused, if within `secs`: an end
    /// that each refresh moves on (`Lifetimes::refresh_slides`), so a
    /// refresh now keeps the consent, though the access token has time left.
    pub fn refresh_lapses_unused(
        &self,
        c: &Connection,
        now: UnixTime,
        secs: i64,
    ) -> Option<UnixTime> {
        (c.lifetimes.sliding_refresh_end())
            .filter(|end| now < *end && now.secs_until(*end) <= secs)
            .filter(|_| matches!(self, ConnState::Active { .. } | ConnState::Expiring { .. }))
    }

    /// Derives the state. `warn_secs` is the warning window before expiry.
    pub fn derive(c: &Connection, now: UnixTime, warn_secs: i64) -> ConnState {
        let f = &c.flags;
        if f.delinked_at.is_some() {
            return ConnState::Delinked;
        }
        // Neither flag ends the access token already issued.
        let access_until = || {
            (c.lifetimes.access)
                .and_then(AccessExpiry::at)
                .filter(|t| *t > now)
        };
        if f.reauth_required {
            return ConnState::ReauthRequired {
                access_until: access_until(),
            };
        }
        if f.logged_out_at.is_some() {
            return ConnState::LoggedOut {
                access_until: access_until(),
            };
        }
        match c.lifetimes.access {
            Some(AccessExpiry::Permanent) => ConnState::Active { expires_at: None },
            Some(AccessExpiry::At(t)) if now < t && now.secs_until(t) <= warn_secs => {
                ConnState::Expiring { expires_at: t }
            }
            Some(AccessExpiry::At(t)) if now < t => ConnState::Active {
                expires_at: Some(t),
            },
            Some(AccessExpiry::At(t)) => match &f.last_error {
                Some(e) => ConnState::Failed {
                    error: e.clone(),
                    since: Some(t),
                },
                None => ConnState::Expired {
                    since: t,
                    refreshable: refreshable(c, now),
                },
            },
            None => code_state(c, now),
        }
    }

    pub fn kind(&self) -> StateKind {
        match self {
            ConnState::CodePending { .. } => StateKind::CodePending,
            ConnState::CodeExpired { .. } => StateKind::CodeExpired,
            ConnState::Active { .. } => StateKind::Active,
            ConnState::Expiring { .. } => StateKind::Expiring,
            ConnState::Expired { .. } => StateKind::Expired,
            ConnState::ReauthRequired { .. } => StateKind::ReauthRequired,
            ConnState::LoggedOut { .. } => StateKind::LoggedOut,
            ConnState::Delinked => StateKind::Delinked,
            ConnState::Failed { .. } => StateKind::Failed,
        }
    }

    /// The instant this state runs out, if it does: what "time left" counts to.
    pub fn deadline(&self) -> Option<UnixTime> {
        match self {
            ConnState::CodePending { expires_at } | ConnState::Expiring { expires_at } => {
                Some(*expires_at)
            }
            ConnState::Active { expires_at } => *expires_at,
            ConnState::LoggedOut { access_until } | ConnState::ReauthRequired { access_until } => {
                *access_until
            }
            ConnState::CodeExpired { since } | ConnState::Expired { since, .. } => Some(*since),
            _ => None,
        }
    }

    /// The "time left" cell: `04:59`, `1h 12m`, `permanent`, `expired 3m ago`.
    pub fn time_left(&self, now: UnixTime) -> String {
        match self {
            ConnState::Active { expires_at: None } => "permanent".into(),
            ConnState::CodeExpired { since }
            | ConnState::Expired { since, .. }
            | ConnState::Failed {
                since: Some(since), ..
            } => format!("expired {} ago", format_ago(since.secs_until(now))),
            ConnState::Delinked | ConnState::Failed { .. } => "—".into(),
            s => match s.deadline() {
                Some(t) => format_left(now.secs_until(t)),
                None => "—".into(),
            },
        }
    }

    /// The state in words, as the table's state column reads.
    pub fn describe(&self, now: UnixTime) -> String {
        match self {
            ConnState::CodePending { expires_at } => {
                format!(
                    "code pending ({} left)",
                    format_left(now.secs_until(*expires_at))
                )
            }
            ConnState::CodeExpired { .. } => "code expired".into(),
            ConnState::Active { .. } => "active".into(),
            ConnState::Expiring { .. } => "expiring".into(),
            ConnState::Expired {
                refreshable: true, ..
            } => "expired (refreshable)".into(),
            ConnState::Expired {
                refreshable: false, ..
            } => "expired".into(),
            ConnState::ReauthRequired { .. } => "re-consent required".into(),
            ConnState::LoggedOut {
                access_until: Some(t),
            } => {
                format!(
                    "logged out (access valid {})",
                    format_left(now.secs_until(*t))
                )
            }
            ConnState::LoggedOut { access_until: None } => "logged out".into(),
            ConnState::Delinked => "delinked".into(),
            ConnState::Failed { error, .. } => format!("failed: {error}"),
        }
    }

    /// [`describe`](Self::describe) for a cell too narrow for its
    /// countdown: `code pending`, `logged out`. The countdown is the one
    /// beside it in the table's time-left column, so nothing is lost.
    pub fn describe_brief(&self, now: UnixTime) -> String {
        match self {
            ConnState::CodePending { .. } => "code pending".into(),
            ConnState::LoggedOut { .. } => "logged out".into(),
            _ => self.describe(now),
        }
    }
}

/// What a successful operation left, in words, for a line that already names
/// the operation and the connection: "access token valid for 59:59". Worded
/// from the connection as stored, so it cannot claim more than was written.
pub fn outcome(op: OpKind, c: &Connection, now: UnixTime) -> String {
    let access_left = |t: UnixTime| format_left(now.secs_until(t));
    match op {
        OpKind::Delink => "delinked; secrets erased".into(),
        OpKind::Logout => match c.lifetimes.access.and_then(AccessExpiry::at) {
            Some(t) if now < t => format!(
                "logged out; the access token stays valid for {}",
                access_left(t)
            ),
            _ => "logged out".into(),
        },
        OpKind::Link => match c.lifetimes.code_expires_at {
            Some(t) if now < t => {
                format!("access code stored; exchange it within {}", access_left(t))
            }
            _ => "access code stored".into(),
        },
        _ => match c.lifetimes.access {
            Some(AccessExpiry::Permanent) => "permanent access token stored".into(),
            Some(AccessExpiry::At(t)) if now < t => {
                format!("access token valid for {}", access_left(t))
            }
            Some(AccessExpiry::At(_)) => "access token stored, already expired".into(),
            None => "done".into(),
        },
    }
}

impl fmt::Display for StateKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// Whether `c`'s access token can be renewed at `now` without the user:
/// an app token by its grant again, a user's by a refresh token that has
/// not expired. (`Connection::renewable` asks the same without the clock.)
pub fn refreshable(c: &Connection, now: UnixTime) -> bool {
    match c.grant {
        Grant::ClientCredentials => true,
        Grant::DapiConnect => false,
        Grant::AuthorizationCode => {
            c.lifetimes.has_refresh && c.lifetimes.refresh_expires_at.is_none_or(|r| now < r)
        }
    }
}

/// A code's state. Once the code has expired, that is what the row is,
/// whatever the last exchange's error said: a "try again later" of a
/// server that failed can no longer work, and linking again is the one way
/// on. The error stays in the row's detail.
fn code_state(c: &Connection, now: UnixTime) -> ConnState {
    match c.lifetimes.code_expires_at {
        Some(t) if now < t => ConnState::CodePending { expires_at: t },
        Some(t) => ConnState::CodeExpired { since: t },
        None => ConnState::Failed {
            error: c
                .flags
                .last_error
                .clone()
                .unwrap_or_else(|| "no token held".into()),
            since: None,
        },
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
