//! `bankdeck check`: what needs a human within a window, for cron and Nagios.
//!
//! "Needs action" means a person must do something, not that a token will
//! expire: a five-minute OIDC token that a running scheduler renews is fine,
//! while a refresh token (the user's consent) running out is not, nor is a
//! token whose renewer has stopped (the dashboard closed, the cron job gone).

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;

use crate::config::Config;
use crate::domain::time::{format_ago, format_left};
use crate::domain::{
    ConnState, Connection, ConnectionId, ProviderKind, ProviderWait, Renewal, StateKind, UnixTime,
};

/// What renews which connection, by the renewers' records in the store,
/// and what holds a renewal back: a provider's asked wait.
#[derive(Default)]
pub struct Renewers {
    /// Newest first, each with the rows its filter keeps (`None`: all).
    records: Vec<(Renewal, Option<HashSet<ConnectionId>>)>,
    /// The waits still holding, by provider.
    waits: Vec<ProviderWait>,
}

/// Whether a connection's token will be renewed without anyone's help.
enum Renewed<'a> {
    Yes,
    /// A running scheduler has paused its provider, which stopped answering.
    Paused,
    /// Its renewer has stopped: this is its last record.
    Stopped(&'a Renewal),
    Never,
}

impl Renewers {
    /// `conns` are every connection, so that a `refresh --due --matching`
    /// record's filter keeps what it kept when it ran (`warn` reads the
    /// state words as that run did).
    pub fn new(records: Vec<Renewal>, conns: &[Connection], now: UnixTime, warn: i64) -> Self {
        let records = (records.into_iter())
            .map(|r| {
                let kept = match &r {
                    Renewal::RefreshDue {
                        matching: Some(m), ..
                    } => Some(
                        (crate::tui::filtered(conns, m, None, now, warn).into_iter())
                            .map(|c| c.id)
                            .collect(),
                    ),
                    _ => None,
                };
                (r, kept)
            })
            .collect();
        Renewers {
            records,
            waits: Vec::new(),
        }
    }

    /// With the providers' asked waits the store keeps, those that still
    /// hold at `now`: no bankdeck process sends their provider anything
    /// until they end, however due a token is.
    #[must_use]
    pub fn with_waits(mut self, waits: Vec<ProviderWait>, now: UnixTime) -> Self {
        self.waits = waits.into_iter().filter(|w| w.holds(now)).collect();
        self
    }

    /// The waits still holding, by provider.
    pub fn waits(&self) -> &[ProviderWait] {
        &self.waits
    }

    fn wait_of(&self, provider: &str) -> Option<&ProviderWait> {
        self.waits.iter().find(|w| w.provider == provider)
    }

    /// The command that refreshes `c`, and when it can: not before its
    /// provider's asked wait ends, since until then every process sends it
    /// nothing and the command would only say so.
    fn refresh(&self, c: &Connection, now: UnixTime) -> String {
        match self.wait_of(&c.provider) {
            None => format!("`bankdeck refresh {}`", c.id),
            Some(w) => format!("`bankdeck refresh {}` once {}", c.id, wait_words(w, now)),
        }
    }

    pub fn records(&self) -> impl Iterator<Item = &Renewal> {
        self.records.iter().map(|(r, _)| r)
    }

    /// A record running now renews `c`; else why none does, with the
    /// newest record that would have.
    fn of(&self, c: &Connection, now: UnixTime) -> Renewed<'_> {
        let covering: Vec<&Renewal> = (self.records.iter())
            .filter(|(r, kept)| match r {
                Renewal::Scheduler { providers, .. } => providers.contains(&c.provider),
                Renewal::RefreshDue { providers, .. } => {
                    providers.contains(&c.provider)
                        && kept.as_ref().is_none_or(|k| k.contains(&c.id))
                }
            })
            .map(|(r, _)| r)
            .collect();
        let paused = |r: &Renewal| matches!(r, Renewal::Scheduler { paused, .. } if paused.contains(&c.provider));
        let running = covering.iter().filter(|r| r.running(now));
        if running.clone().any(|r| !paused(r)) {
            return Renewed::Yes;
        }
        if running.clone().next().is_some() {
            return Renewed::Paused;
        }
        match covering.first() {
            Some(r) => Renewed::Stopped(r),
            None => Renewed::Never,
        }
    }
}

/// "bank's asked wait is over, in 59:40": the why is on the wait's own
/// line, once, not on each of the thousands of rows it holds.
fn wait_words(w: &ProviderWait, now: UnixTime) -> String {
    format!(
        "{}'s asked wait is over, in {}",
        w.provider,
        format_left(now.secs_until(w.until))
    )
}

/// Who a record is, as an operator would start it.
fn who(r: &Renewal) -> String {
    match r {
        Renewal::Scheduler { .. } => "the dashboard's scheduler".into(),
        Renewal::RefreshDue { matching: None, .. } => "`bankdeck refresh --due`".into(),
        Renewal::RefreshDue {
            matching: Some(m), ..
        } => format!(
            "`bankdeck refresh --due --matching {}`",
            super::output::shell_word(m)
        ),
    }
}

/// What a connection needs, by what an operator does about it: what a
/// monitor counts (`need` in `check --json`) and the summary line sums up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Need {
    /// A Dapi access code to exchange before it expires.
    Exchange,
    /// A Dapi access code that expired: link again.
    CodeExpired,
    /// The provider refused the refresh token: the user consents again.
    Reconsent,
    /// The last operation failed for good (the provider's message says why).
    Failed,
    /// An access token expired or expiring that nothing renews: `refresh`.
    Refresh,
    /// An access token without a refresh token: only a login renews it.
    Login,
    /// The refresh token (the user's consent) runs out.
    ConsentEnding,
    /// The refresh token ran out: the access token, while it lasts, is the
    /// last one.
    ConsentEnded,
}

impl Need {
    /// As the summary line counts them: "12 re-consent required".
    pub fn words(self) -> &'static str {
        match self {
            Need::Exchange => "code to exchange",
            Need::CodeExpired => "code expired",
            Need::Reconsent => "re-consent required",
            Need::Failed => "failed",
            Need::Refresh => "to refresh",
            Need::Login => "to log in again",
            Need::ConsentEnding => "consent ending",
            Need::ConsentEnded => "consent ended",
        }
    }
}

/// Why a connection needs action: the kind, and the line that says what to
/// do, with the command to paste.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    pub need: Need,
    pub text: String,
}

/// How many rows need each kind of action, in the kinds' order.
pub fn counts(needs: impl IntoIterator<Item = Need>) -> BTreeMap<Need, usize> {
    let mut counts = BTreeMap::new();
    for need in needs {
        *counts.entry(need).or_default() += 1;
    }
    counts
}

/// "13592 re-consent required, 6676 failed, 4 to refresh": most first.
pub fn tally(counts: &BTreeMap<Need, usize>) -> String {
    let mut most: Vec<(&Need, &usize)> = counts.iter().collect();
    // Stable: a tie keeps the kinds' order.
    most.sort_by(|a, b| b.1.cmp(a.1));
    let parts: Vec<String> = (most.iter())
        .map(|(need, count)| format!("{count} {}", need.words()))
        .collect();
    parts.join(", ")
}

/// A Dapi token that carried an `exp`: Dapi renews nothing, and `login`
/// is no Dapi command.
const DAPI_RELINK: &str =
    "Dapi tokens are not renewed: link the user again (a new Connect payload)";

/// Why `conn` needs action within `within_secs`, if it does.
pub fn reason(
    c: &Connection,
    cfg: &Config,
    renewers: &Renewers,
    now: UnixTime,
    within_secs: i64,
) -> Option<Reason> {
    let (need, mut text) = why(c, cfg, renewers, now, within_secs)?;
    // Every command suggested acts through the provider: without its
    // table, pasted as it is, it fails.
    if cfg.provider(&c.provider).is_none() {
        text.push_str(&format!(
            " (first add [providers.{}]: the configuration lacks it)",
            c.provider
        ));
    }
    Some(Reason { need, text })
}

/// [`reason`]'s two halves, as each case makes them.
fn why(
    c: &Connection,
    cfg: &Config,
    renewers: &Renewers,
    now: UnixTime,
    within_secs: i64,
) -> Option<(Need, String)> {
    let state = ConnState::derive(c, now, cfg.warn_secs());
    let auto = cfg
        .provider(&c.provider)
        .is_some_and(|p| p.common.auto_refresh);
    let renewable = c.renewable();
    let soon = soon(c, renewers, now, within_secs);
    let consent_ended = (c.lifetimes.refresh_expires_at)
        .filter(|r| c.lifetimes.has_refresh && *r <= now)
        .filter(|_| {
            matches!(
                state.kind(),
                StateKind::Active | StateKind::Expiring | StateKind::Expired
            )
        });
    if let Some(r) = consent_ended {
        // A refresh now can only be refused: no `refresh` to suggest.
        return Some((
            Need::ConsentEnded,
            format!(
                "consent (refresh token) ended {} ago: the user must log in again: {}",
                format_ago(r.secs_until(now)),
                login(c)
            ),
        ));
    }
    match state.kind() {
        StateKind::CodePending => state.deadline().filter(|t| soon(*t)).map(|t| {
            let left = format_left(now.secs_until(t));
            (
                Need::Exchange,
                format!("access code expires in {left}: exchange it"),
            )
        }),
        StateKind::CodeExpired => Some((
            Need::CodeExpired,
            "access code expired: link the user again".into(),
        )),
        StateKind::ReauthRequired => Some((
            Need::Reconsent,
            format!(
                "re-consent required: the user must log in again: {}",
                login(c)
            ),
        )),
        // One a refresh can mend (its last failed in an outage, say) says
        // how: `refresh --due` tries them all again.
        StateKind::Failed if state.wants_refresh(c, now) => Some((
            Need::Failed,
            format!("{}: {}", state.describe(now), renewers.refresh(c, now)),
        )),
        StateKind::Failed => Some((Need::Failed, state.describe(now))),
        StateKind::Expired if renewable => Some((
            Need::Refresh,
            format!("{}: {}", state.describe(now), renewers.refresh(c, now)),
        )),
        // A Dapi token that carried an `exp`: Dapi renews nothing, and
        // `login` is no Dapi command.
        StateKind::Expired if c.kind == ProviderKind::Dapi => Some((
            Need::Login,
            format!("{}: {DAPI_RELINK}", state.describe(now)),
        )),
        StateKind::Expired => Some((
            Need::Login,
            format!(
                "{}: no refresh token, the user must log in again: {}",
                state.describe(now),
                login(c)
            ),
        )),
        StateKind::Active | StateKind::Expiring => {
            running_out(c, &state, renewers, now, within_secs, auto)
        }
        StateKind::LoggedOut | StateKind::Delinked => None,
    }
}

/// Whether a moment of `c`'s comes within `within_secs`, or before its
/// provider's asked wait ends: until then no process sends it anything,
/// so what runs out first runs out unrenewed, however far off it is.
fn soon(
    c: &Connection,
    renewers: &Renewers,
    now: UnixTime,
    within_secs: i64,
) -> impl Fn(UnixTime) -> bool {
    let held = renewers.wait_of(&c.provider).map(|w| w.until);
    move |t| now.secs_until(t) <= within_secs || held.is_some_and(|until| t <= until)
}

/// A token with time left: why it needs action within `within_secs`, if
/// it does. A consent (refresh token) that ends soon needs a new login; an
/// access token or a refresh token lapsing unused needs a renewal, which
/// only a renewer still running is trusted to make.
fn running_out(
    c: &Connection,
    state: &ConnState,
    renewers: &Renewers,
    now: UnixTime,
    within_secs: i64,
    auto: bool,
) -> Option<(Need, String)> {
    let soon = soon(c, renewers, now, within_secs);
    let renewable = c.renewable();
    let l = &c.lifetimes;
    if let Some(r) =
        (l.refresh_expires_at).filter(|r| l.has_refresh && !l.refresh_slides && soon(*r))
    {
        return Some((
            Need::ConsentEnding,
            format!(
                "consent (refresh token) ends in {}: the user must log in again before \
                 then: {}",
                format_left(now.secs_until(r)),
                login(c)
            ),
        ));
    }
    // A refresh token that lapses unused is the renewer's to keep,
    // as the access token is: each refresh moves its end on.
    let access = state.deadline().filter(|t| soon(*t));
    let lapses = state.refresh_lapses_unused(c, now, within_secs);
    let (what, exp) = match (access, lapses) {
        (Some(a), Some(r)) if r < a => ("refresh token lapses unused", r),
        (None, Some(r)) => ("refresh token lapses unused", r),
        (Some(a), _) => ("access token expires", a),
        (None, None) => return None,
    };
    let left = format_left(now.secs_until(exp));
    if !renewable && c.kind == ProviderKind::Dapi {
        return Some((
            Need::Login,
            format!("access token expires in {left} and {DAPI_RELINK}"),
        ));
    }
    if !renewable {
        return Some((
            Need::Login,
            format!(
                "access token expires in {left} and cannot be renewed \
                 (no refresh token): the user must log in again: {}",
                login(c)
            ),
        ));
    }
    // A renewer that runs is trusted to renew, unless its last try
    // on this row failed: a cron `refresh --due` tries again only
    // at its next run, which may come after the token is gone.
    if let Some(error) = &c.flags.last_error {
        return Some((
            Need::Failed,
            format!(
                "{what} in {left} and its last operation failed ({error}): {}",
                renewers.refresh(c, now)
            ),
        ));
    }
    unrenewed(c, renewers, now, auto, what, (exp, &left))
}

/// Why a renewable token running out at `exp` (`left` from now; `what` says
/// which token) will not be renewed by whatever renews it, if it will not.
fn unrenewed(
    c: &Connection,
    renewers: &Renewers,
    now: UnixTime,
    auto: bool,
    what: &str,
    (exp, left): (UnixTime, &str),
) -> Option<(Need, String)> {
    let why = match renewers.of(c, now) {
        // A renewer that runs sends nothing until the wait ends:
        // a token that lapses first lapses unrenewed.
        Renewed::Yes => match renewers.wait_of(&c.provider) {
            Some(w) if w.until >= exp => {
                return Some((
                    Need::Refresh,
                    format!(
                        "{what} in {left}, before {} (no process sends {} anything \
                         until then): `bankdeck refresh {}` after it",
                        wait_words(w, now),
                        c.provider,
                        c.id
                    ),
                ));
            }
            _ => return None,
        },
        Renewed::Paused => format!(
            "the dashboard's scheduler has paused {}, which stopped answering",
            c.provider
        ),
        Renewed::Stopped(r @ Renewal::Scheduler { ended: true, .. }) => format!(
            "{} stopped {} ago, when its dashboard quit",
            who(r),
            format_ago(r.at().secs_until(now))
        ),
        Renewed::Stopped(r) => format!(
            "{} last ran {} ago",
            who(r),
            format_ago(r.at().secs_until(now))
        ),
        Renewed::Never if auto => format!(
            "auto_refresh is on, but no running dashboard's scheduler refreshes {}",
            c.provider
        ),
        Renewed::Never => format!("{} has no auto_refresh", c.provider),
    };
    Some((
        Need::Refresh,
        format!(
            "{what} in {left} and will not be renewed automatically ({why}): {}",
            renewers.refresh(c, now)
        ),
    ))
}

/// The command that renews `c`'s consent, to paste as it is. It names the
/// row: a provider that names no account cannot tell which row a new
/// consent renews, and would make another.
pub(super) fn login(c: &Connection) -> String {
    use super::output::shell_word;
    format!(
        "`bankdeck login {} --user {} --renew {}`",
        shell_word(&c.provider),
        shell_word(&c.user),
        c.id
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_layers;
    use crate::domain::*;

    const NOW: UnixTime = UnixTime(1_700_000_000);

    fn cfg() -> Config {
        parse_layers(None, "[providers.ev]\nkind = \"oidc\"\ntoken_url = \"http://127.0.0.1:1/t\"\nclient_id = \"c\"\nauto_refresh = true\n[providers.bank]\nkind = \"oauth2\"\ntoken_url = \"http://127.0.0.1:1/t\"\nclient_id = \"c\"\n").unwrap()
    }

    fn none() -> Renewers {
        Renewers::default()
    }

    /// A dashboard's scheduler that refreshes `ev`, recorded `ago` seconds before NOW.
    fn scheduler(ago: i64) -> Renewal {
        Renewal::Scheduler {
            at: NOW.plus_secs(-ago),
            providers: vec!["ev".into()],
            paused: vec![],
            ended: false,
            process: String::new(),
        }
    }

    fn refresh_due(ago: i64, within_secs: i64, matching: Option<&str>) -> Renewal {
        Renewal::RefreshDue {
            at: NOW.plus_secs(-ago),
            providers: vec!["bank".into(), "ev".into()],
            within_secs,
            matching: matching.map(Into::into),
        }
    }

    fn renewers(records: Vec<Renewal>, conns: &[Connection]) -> Renewers {
        Renewers::new(records, conns, NOW, cfg().warn_secs())
    }

    fn conn(provider: &str) -> Connection {
        Connection {
            user: "u".into(),
            label: String::new(),
            ..Connection::sample(1, provider, ProviderKind::Oidc, Grant::AuthorizationCode)
        }
    }

    /// A Dapi token that carried an `exp` is renewed by no command: `login`
    /// is refused for Dapi, so the advice is a new link.
    #[test]
    fn a_lapsing_dapi_token_says_to_link_again_not_to_log_in() {
        let mut c = Connection {
            user: "u".into(),
            ..Connection::sample(1, "dapi", ProviderKind::Dapi, Grant::DapiConnect)
        };
        for (at, said) in [
            (-60, "expired: Dapi tokens are not renewed"),
            (
                60,
                "access token expires in 01:00 and Dapi tokens are not renewed",
            ),
        ] {
            c.lifetimes.access = Some(AccessExpiry::At(NOW.plus_secs(at)));
            let r = reason(&c, &cfg(), &none(), NOW, 600).unwrap();
            assert_eq!(r.need, Need::Login);
            assert!(r.text.contains(said), "{}", r.text);
            assert!(
                r.text
                    .contains("link the user again (a new Connect payload)"),
                "{}",
                r.text
            );
            assert!(!r.text.contains("bankdeck login"), "{}", r.text);
        }
    }

    /// Two dashboards: the newest record is one that quit, and the other
    /// still runs and renews.
    #[test]
    fn a_dashboard_that_quit_beside_one_that_runs_leaves_its_tokens_renewed() {
        let mut c = conn("ev");
        c.lifetimes.access = Some(AccessExpiry::At(NOW.plus_secs(200)));
        c.lifetimes.has_refresh = true;
        let dashboard = |ago: i64, ended: bool, process: &str| Renewal::Scheduler {
            at: NOW.plus_secs(-ago),
            providers: vec!["ev".into()],
            paused: vec![],
            ended,
            process: process.into(),
        };
        let (quit, runs) = (dashboard(5, true, "a"), dashboard(50, false, "b"));
        let both = renewers(vec![quit.clone(), runs], &[]);
        assert_eq!(reason(&c, &cfg(), &both, NOW, 600), None);
        let alone = renewers(vec![quit], &[]);
        assert_eq!(
            reason(&c, &cfg(), &alone, NOW, 600).unwrap().need,
            Need::Refresh
        );
    }

    /// A provider's asked wait holds every renewer: a token it outlasts
    /// lapses unrenewed, and a refresh advised during it says when.
    #[test]
    fn a_provider_s_asked_wait_is_weighed_against_each_token() {
        let mut c = conn("ev");
        c.lifetimes.access = Some(AccessExpiry::At(NOW.plus_secs(200)));
        c.lifetimes.has_refresh = true;
        let wait = |secs| ProviderWait::asked("ev", NOW, NOW.plus_secs(secs), "429".into());
        let running = |w: Vec<ProviderWait>| renewers(vec![scheduler(30)], &[]).with_waits(w, NOW);
        assert_eq!(
            reason(&c, &cfg(), &running(vec![wait(100)]), NOW, 600),
            None
        );
        let over = ProviderWait {
            provider: "bank".into(),
            ..wait(900)
        };
        assert_eq!(reason(&c, &cfg(), &running(vec![over]), NOW, 600), None);
        // However narrow the window asked for: the token lapses first.
        for within in [600, 60] {
            let r = reason(&c, &cfg(), &running(vec![wait(300)]), NOW, within).unwrap();
            assert_eq!(r.need, Need::Refresh);
            assert_eq!(
                r.text,
                "access token expires in 03:20, before ev's asked wait is over, in 05:00 (no \
                 process sends ev anything until then): `bankdeck refresh 1` after it"
            );
        }
        assert_eq!(
            reason(&c, &cfg(), &running(vec![wait(100)]), NOW, 60),
            None,
            "renewed after the wait, before it lapses"
        );
        assert_eq!(
            reason(&c, &cfg(), &running(vec![wait(-1)]), NOW, 600),
            None,
            "a wait that is over holds nothing"
        );
        c.lifetimes.access = Some(AccessExpiry::At(NOW.plus_secs(-60)));
        let r = reason(&c, &cfg(), &running(vec![wait(300)]), NOW, 600).unwrap();
        assert!(
            r.text
                .ends_with(": `bankdeck refresh 1` once ev's asked wait is over, in 05:00"),
            "{}",
            r.text
        );
    }

    #[test]
    fn auto_refreshed_short_tokens_need_nothing_but_ending_consent_does() {
        let mut c = conn("ev");
        c.lifetimes.access = Some(AccessExpiry::At(NOW.plus_secs(200)));
        c.lifetimes.has_refresh = true;
        c.lifetimes.refresh_expires_at = Some(NOW.plus_secs(7200));
        let running = renewers(vec![scheduler(30)], &[]);
        assert_eq!(reason(&c, &cfg(), &running, NOW, 600), None);
        c.lifetimes.refresh_expires_at = Some(NOW.plus_secs(500));
        c.user = "Carol O'Neil".into();
        assert_eq!(
            reason(&c, &cfg(), &running, NOW, 600).unwrap().text,
            "consent (refresh token) ends in 08:20: the user must log in again before then: \
             `bankdeck login ev --user 'Carol O'\\''Neil' --renew 1`"
        );
    }

    /// Keycloak's refresh token lapses after 30 minutes unused, and each
    /// refresh moves that on: a renewer keeps it, and without one a refresh
    /// (not a new login) is what it needs.
    #[test]
    fn a_sliding_refresh_end_is_the_renewers_to_keep_not_the_users() {
        let mut c = conn("ev");
        c.lifetimes.access = Some(AccessExpiry::At(NOW.plus_secs(3000)));
        c.lifetimes.has_refresh = true;
        c.lifetimes.refresh_expires_at = Some(NOW.plus_secs(500));
        c.lifetimes.refresh_slides = true;
        let running = renewers(vec![scheduler(30)], &[]);
        assert_eq!(reason(&c, &cfg(), &running, NOW, 600), None);
        let r = reason(&c, &cfg(), &none(), NOW, 600).unwrap();
        assert_eq!(r.need, Need::Refresh);
        assert_eq!(
            r.text,
            "refresh token lapses unused in 08:20 and will not be renewed automatically \
             (auto_refresh is on, but no running dashboard's scheduler refreshes ev): \
             `bankdeck refresh 1`"
        );
        // Past its end it is gone like any other: the user logs in again.
        c.lifetimes.refresh_expires_at = Some(NOW.plus_secs(-5));
        let r = reason(&c, &cfg(), &running, NOW, 600).unwrap();
        assert_eq!(r.need, Need::ConsentEnded);
    }

    /// A running renewer is trusted with a row, but not one whose last try
    /// failed: `refresh --due` from cron tries again only at its next run.
    #[test]
    fn a_row_whose_last_refresh_failed_needs_action_whoever_renews_it() {
        let mut c = conn("ev");
        c.lifetimes.access = Some(AccessExpiry::At(NOW.plus_secs(200)));
        c.lifetimes.has_refresh = true;
        let running = renewers(vec![scheduler(30)], &[]);
        assert_eq!(reason(&c, &cfg(), &running, NOW, 600), None);
        c.flags.last_error = Some("ev failed with 500 Internal Server Error".into());
        let found = reason(&c, &cfg(), &running, NOW, 600).unwrap();
        assert_eq!(found.need, Need::Failed);
        assert_eq!(
            found.text,
            "access token expires in 03:20 and its last operation failed \
             (ev failed with 500 Internal Server Error): `bankdeck refresh 1`"
        );
        assert_eq!(
            reason(&c, &cfg(), &running, NOW, 100),
            None,
            "outside the window"
        );
        // Expired since, as an outage leaves it: a refresh can mend it.
        c.lifetimes.access = Some(AccessExpiry::At(NOW.plus_secs(-60)));
        let found = reason(&c, &cfg(), &running, NOW, 600).unwrap();
        assert_eq!(found.need, Need::Failed);
        assert!(
            found.text.ends_with(": `bankdeck refresh 1`"),
            "{}",
            found.text
        );
    }

    /// Each reason says what to do: refresh by hand what the scheduler
    /// will not, and log in again where nothing can be refreshed.
    #[test]
    fn tokens_without_auto_refresh_are_flagged_inside_the_window_only() {
        let mut c = conn("bank");
        c.lifetimes.access = Some(AccessExpiry::At(NOW.plus_secs(500)));
        c.lifetimes.has_refresh = true;
        assert_eq!(
            reason(&c, &cfg(), &none(), NOW, 600).unwrap().text,
            "access token expires in 08:20 and will not be renewed automatically \
             (bank has no auto_refresh): `bankdeck refresh 1`"
        );
        assert_eq!(reason(&c, &cfg(), &none(), NOW, 400), None);
        c.lifetimes.access = Some(AccessExpiry::At(NOW.plus_secs(-5)));
        assert!(
            reason(&c, &cfg(), &none(), NOW, 0)
                .unwrap()
                .text
                .ends_with(": `bankdeck refresh 1`")
        );
        let mut c = conn("ev");
        c.lifetimes.access = Some(AccessExpiry::At(NOW.plus_secs(500)));
        assert_eq!(
            reason(&c, &cfg(), &none(), NOW, 600).unwrap().text,
            "access token expires in 08:20 and cannot be renewed (no refresh token): \
             the user must log in again: `bankdeck login ev --user u --renew 1`",
            "auto_refresh cannot help without a refresh token"
        );
        c.lifetimes.access = Some(AccessExpiry::At(NOW.plus_secs(-5)));
        assert!(reason(&c, &cfg(), &none(), NOW, 0).unwrap().text.ends_with(
            ": no refresh token, the user must log in again: `bankdeck login ev --user u --renew 1`"
        ));
    }

    /// Each reason carries what the row needs, which a monitor counts.
    #[test]
    fn each_reason_says_its_need() {
        let need = |c: &Connection| reason(c, &cfg(), &none(), NOW, 600).map(|r| r.need);
        let mut code = conn("bank");
        code.lifetimes.code_expires_at = Some(NOW.plus_secs(300));
        assert_eq!(need(&code), Some(Need::Exchange));
        code.lifetimes.code_expires_at = Some(NOW.plus_secs(-1));
        assert_eq!(need(&code), Some(Need::CodeExpired));
        let mut c = conn("bank");
        c.lifetimes.access = Some(AccessExpiry::At(NOW.plus_secs(500)));
        c.lifetimes.has_refresh = true;
        assert_eq!(need(&c), Some(Need::Refresh), "expiring, not renewed");
        c.lifetimes.access = Some(AccessExpiry::At(NOW.plus_secs(-5)));
        assert_eq!(need(&c), Some(Need::Refresh), "expired");
        c.lifetimes.refresh_expires_at = Some(NOW.plus_secs(500));
        c.lifetimes.access = Some(AccessExpiry::At(NOW.plus_secs(5000)));
        assert_eq!(need(&c), Some(Need::ConsentEnding));
        c.lifetimes.refresh_expires_at = Some(NOW);
        assert_eq!(need(&c), Some(Need::ConsentEnded));
        c.lifetimes.access = Some(AccessExpiry::At(NOW.plus_secs(-5)));
        assert_eq!(
            need(&c),
            Some(Need::ConsentEnded),
            "expired, nothing to refresh with"
        );
        c.lifetimes.has_refresh = false;
        c.lifetimes.access = Some(AccessExpiry::At(NOW.plus_secs(500)));
        assert_eq!(need(&c), Some(Need::Login), "expiring, no refresh token");
        c.lifetimes.access = Some(AccessExpiry::At(NOW.plus_secs(-5)));
        assert_eq!(need(&c), Some(Need::Login), "expired, no refresh token");
        c.flags.last_error = Some("invalid_client".into());
        assert_eq!(need(&c), Some(Need::Failed));
        c.flags.reauth_required = true;
        assert_eq!(need(&c), Some(Need::Reconsent));
    }

    #[test]
    fn the_tally_counts_each_need_most_first() {
        use Need::*;
        let tally = |needs: &[Need]| tally(&counts(needs.iter().copied()));
        assert_eq!(
            tally(&[Failed, Refresh, Refresh, Exchange, Failed, Refresh]),
            "3 to refresh, 2 failed, 1 code to exchange"
        );
        assert_eq!(
            tally(&[Login, ConsentEnding, Exchange]),
            "1 code to exchange, 1 to log in again, 1 consent ending",
            "a tie in the order of the kinds"
        );
        assert_eq!(tally(&[]), "");
    }

    #[test]
    fn codes_reauth_failures_and_expiry_need_action_terminal_states_do_not() {
        let mut c = conn("bank");
        c.lifetimes.code_expires_at = Some(NOW.plus_secs(300));
        assert!(
            reason(&c, &cfg(), &none(), NOW, 600)
                .unwrap()
                .text
                .contains("exchange it")
        );
        assert_eq!(reason(&c, &cfg(), &none(), NOW, 60), None);
        c.lifetimes.code_expires_at = Some(NOW.plus_secs(-1));
        assert!(reason(&c, &cfg(), &none(), NOW, 0).is_some());
        let mut c = conn("ev");
        c.flags.reauth_required = true;
        assert_eq!(
            reason(&c, &cfg(), &none(), NOW, 0).unwrap().text,
            "re-consent required: the user must log in again: `bankdeck login ev --user u --renew 1`"
        );
        c.flags.delinked_at = Some(NOW);
        assert_eq!(reason(&c, &cfg(), &none(), NOW, 1_000_000), None);
    }

    /// `auto_refresh` renews only while a dashboard's scheduler runs: with
    /// none running, or one whose config leaves the provider out, the token
    /// lapses like any other, and the reason says which renewer is missing.
    #[test]
    fn auto_refresh_counts_only_while_a_scheduler_records_that_it_runs() {
        let mut c = conn("ev");
        c.lifetimes.access = Some(AccessExpiry::At(NOW.plus_secs(200)));
        c.lifetimes.has_refresh = true;
        let said = |records: Vec<Renewal>| {
            reason(&c, &cfg(), &renewers(records, &[]), NOW, 600).map(|r| r.text)
        };
        assert_eq!(said(vec![scheduler(180)]), None);
        assert_eq!(
            said(vec![]).unwrap(),
            "access token expires in 03:20 and will not be renewed automatically \
             (auto_refresh is on, but no running dashboard's scheduler refreshes ev): \
             `bankdeck refresh 1`"
        );
        assert_eq!(
            said(vec![scheduler(181)]).unwrap(),
            "access token expires in 03:20 and will not be renewed automatically \
             (the dashboard's scheduler last ran 3m ago): `bankdeck refresh 1`"
        );
        let quit = Renewal::Scheduler {
            at: NOW.plus_secs(-10),
            providers: vec!["ev".into()],
            paused: vec![],
            ended: true,
            process: String::new(),
        };
        assert_eq!(
            said(vec![quit]).unwrap(),
            "access token expires in 03:20 and will not be renewed automatically \
             (the dashboard's scheduler stopped 10s ago, when its dashboard quit): \
             `bankdeck refresh 1`"
        );
        let elsewhere = Renewal::Scheduler {
            at: NOW,
            providers: vec!["bank".into()],
            paused: vec![],
            ended: false,
            process: String::new(),
        };
        assert!(
            said(vec![elsewhere])
                .unwrap()
                .contains("no running dashboard's scheduler")
        );
        // A scheduler that paused the provider renews nothing of it until
        // it answers again, but a cron job that still runs does.
        let paused = Renewal::Scheduler {
            at: NOW.plus_secs(-10),
            providers: vec!["ev".into()],
            paused: vec!["ev".into()],
            ended: false,
            process: String::new(),
        };
        assert_eq!(
            said(vec![paused.clone()]).unwrap(),
            "access token expires in 03:20 and will not be renewed automatically \
             (the dashboard's scheduler has paused ev, which stopped answering): \
             `bankdeck refresh 1`"
        );
        assert_eq!(said(vec![paused, refresh_due(30, 600, None)]), None);
        // A stopped scheduler does not hide a cron job that still runs.
        assert_eq!(
            said(vec![scheduler(300), refresh_due(900, 3600, None)]),
            None
        );
    }

    /// A cron job's `refresh --due` renews the tokens of every provider in
    /// its config, those without `auto_refresh` too, for as long as it keeps
    /// running: a run
    /// counts until its own window has passed, and a filtered run counts
    /// only for the rows its filter keeps.
    #[test]
    fn a_running_refresh_due_renews_what_its_filter_keeps() {
        let mut c = conn("bank");
        c.lifetimes.access = Some(AccessExpiry::At(NOW.plus_secs(500)));
        c.lifetimes.has_refresh = true;
        let mut dapi = conn("dapi");
        dapi.id = ConnectionId(2);
        let conns = [c.clone(), dapi];
        let said =
            |records| reason(&c, &cfg(), &renewers(records, &conns), NOW, 600).map(|r| r.text);
        assert_eq!(said(vec![refresh_due(600, 600, None)]), None);
        let elsewhere = Renewal::RefreshDue {
            at: NOW,
            providers: vec!["ev".into()],
            within_secs: 600,
            matching: None,
        };
        assert!(
            said(vec![elsewhere])
                .unwrap()
                .contains("(bank has no auto_refresh)"),
            "a run whose config has no bank left bank's rows out"
        );
        assert_eq!(said(vec![refresh_due(60, 600, Some("BANK"))]), None);
        assert_eq!(said(vec![refresh_due(60, 600, Some("!dapi"))]), None);
        assert_eq!(
            said(vec![refresh_due(60, 600, Some("dapi"))]).unwrap(),
            "access token expires in 08:20 and will not be renewed automatically \
             (bank has no auto_refresh): `bankdeck refresh 1`"
        );
        assert_eq!(
            said(vec![
                refresh_due(661, 600, None),
                refresh_due(7200, 600, Some("bank"))
            ])
            .unwrap(),
            "access token expires in 08:20 and will not be renewed automatically \
             (`bankdeck refresh --due` last ran 11m ago): `bankdeck refresh 1`"
        );
    }
}
