//! Refreshes tokens before they expire, and exchanges codes where allowed.
//!
//! The plan is a pure function of the connections, the provider settings and
//! `now`, so its rules are tested directly; the loop around it only sleeps
//! until the next due instant (or a periodic re-read that notices other
//! processes' writes) and hands due work to the worker, which refuses
//! anything that cannot work (delinked, logged out, re-consent required).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use super::breaker::{Breakers, Change, pause_words};
use super::clock::{instant_at, sleep_until_some};
use super::window::Windows;
use super::{Event, NextTry, RequestId, Worker};
use crate::config::ProviderConfig;
use crate::domain::renewal::SCHEDULER_BEAT_SECS;
use crate::domain::{
    Connection, ConnectionId, ErrorKind, OpError, OpKind, ProviderKind, Renewal, UnixTime,
};

/// Re-read the store at least this often, to see other processes' writes.
pub const RELOAD_EVERY: Duration = Duration::from_secs(30);
/// The smallest refresh margin: a token is never left to the last seconds.
const MIN_MARGIN_SECS: i64 = 30;
const MAX_BACKOFF_SECS: i64 = 30 * 60;
const FIRST_BACKOFF_SECS: i64 = 30;

/// The connections the scheduler's operations failed on, in a row.
pub type Backoff = HashMap<ConnectionId, BackedOff>;

/// A connection's failures so far, and when it may be tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackedOff {
    pub failures: u32,
    pub retry: UnixTime,
    /// The row's version as the last failure left it (`None`: unread).
    pub version: Option<i64>,
    /// A configuration error: not tried again before a restart.
    pub until_restart: bool,
}

impl BackedOff {
    /// Whether it still holds `c` back: not once an operation went through
    /// on the row since (the operator's `r`, a cron `refresh --due`), which
    /// leaves it newer and without an error; else a five-minute token
    /// renewed by hand during a long back-off lapses before its next try.
    /// A configuration error holds whatever happened elsewhere: this
    /// process's configuration is what failed.
    pub fn stands(&self, c: &Connection) -> bool {
        self.until_restart
            || c.flags.last_error.is_some()
            || self.version.is_none_or(|v| c.version <= v)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub due: Vec<(ConnectionId, OpKind)>,
    /// The next instant something becomes due, if anything will.
    pub next: Option<UnixTime>,
}

/// What a provider's configuration says about its automatic work: all the
/// scheduler reads of it, and what the screen needs to say when a row's next
/// automatic operation comes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    pub auto_refresh: bool,
    pub auto_exchange: bool,
    refresh_margin: Option<Duration>,
    /// A Dapi access code's lifetime, when the code does not say.
    code_ttl_secs: i64,
}

impl Schedule {
    pub fn of(cfg: &ProviderConfig) -> Schedule {
        let code_ttl_secs =
            (cfg.access_code_ttl()).map_or(1800, |d| i64::try_from(d.as_secs()).unwrap_or(1800));
        Schedule {
            auto_refresh: cfg.common.auto_refresh,
            auto_exchange: cfg.common.auto_exchange,
            refresh_margin: cfg.common.refresh_margin,
            code_ttl_secs,
        }
    }

    /// When `conn` should be worked on, and how, if ever.
    pub fn due_at(&self, conn: &Connection) -> Option<(UnixTime, OpKind)> {
        let f = &conn.flags;
        if f.delinked_at.is_some() || f.logged_out_at.is_some() || f.reauth_required {
            return None;
        }
        if conn.kind == ProviderKind::Dapi {
            let exp = conn.lifetimes.code_expires_at?;
            return (self.auto_exchange && conn.lifetimes.access.is_none()).then(|| {
                let m = self.margin(Some(self.code_ttl_secs), conn.id);
                (exp.plus_secs(-m), OpKind::Exchange)
            });
        }
        if !self.auto_refresh {
            return None;
        }
        let l = &conn.lifetimes;
        let exp = l.access?.at()?;
        if !conn.renewable() {
            return None;
        }
        let m = self.margin(l.access_lifetime_secs(), conn.id);
        let by_access = exp.plus_secs(-m);
        // A refresh token that lapses when unused lapses before a long-lived
        // access token is due: refreshed before then, it lives on. Only
        // where its lifetime leaves room, or each refresh would be due again
        // at once.
        let by_refresh = l.sliding_refresh_end().and_then(|end| {
            let life = l.refresh_lifetime_secs()?;
            let m = self.margin(Some(life), conn.id);
            (life > 2 * m).then(|| end.plus_secs(-m))
        });
        let at = by_refresh.map_or(by_access, |r| r.min(by_access));
        Some((at, OpKind::Refresh))
    }

    /// `refresh_margin`, else the larger of 30 s and 10 % of the lifetime,
    /// less a per-connection jitter of up to a tenth so many tokens issued
    /// together are not all refreshed in the same second.
    fn margin(&self, lifetime: Option<i64>, id: ConnectionId) -> i64 {
        let base = match self.refresh_margin {
            Some(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            None => MIN_MARGIN_SECS.max(lifetime.unwrap_or(0) / 10),
        };
        let spread = base / 10 + 1;
        base + (id.0.wrapping_mul(7919).rem_euclid(spread))
    }
}

/// When `conn` should be worked on, and how, if ever, under `cfg`.
pub fn due_at(conn: &Connection, cfg: &ProviderConfig) -> Option<(UnixTime, OpKind)> {
    Schedule::of(cfg).due_at(conn)
}

pub fn plan(
    conns: &[Connection],
    providers: &HashMap<String, ProviderConfig>,
    backoff: &Backoff,
    busy: &HashSet<ConnectionId>,
    now: UnixTime,
) -> Plan {
    let mut planner = Planner::new(providers, backoff, busy, now);
    conns.iter().for_each(|c| planner.add(c));
    let (due, next, _) = planner.finish();
    let mut due: Vec<_> = due.into_values().flatten().collect();
    due.sort_by_key(|(id, _)| *id);
    Plan { due, next }
}

/// [`plan`] one connection at a time, so a pass over 100 000 need not hold
/// them all; due work is queued per provider.
struct Planner<'a> {
    /// Each provider's schedule, read from its configuration once a pass
    /// rather than once a connection.
    schedules: HashMap<&'a str, Schedule>,
    backoff: &'a Backoff,
    busy: &'a HashSet<ConnectionId>,
    now: UnixTime,
    due: Backlog,
    next: Option<UnixTime>,
    /// Back-offs that no longer stand, to let go of.
    lifted: Vec<(ConnectionId, BackedOff)>,
}

impl<'a> Planner<'a> {
    fn new(
        providers: &'a HashMap<String, ProviderConfig>,
        backoff: &'a Backoff,
        busy: &'a HashSet<ConnectionId>,
        now: UnixTime,
    ) -> Self {
        let schedules = (providers.iter())
            .map(|(name, cfg)| (name.as_str(), Schedule::of(cfg)))
            .collect();
        Self {
            schedules,
            backoff,
            busy,
            now,
            due: Backlog::new(),
            next: None,
            lifted: Vec::new(),
        }
    }

    fn add(&mut self, c: &Connection) {
        let Some(schedule) = self.schedules.get(c.provider.as_str()) else {
            return;
        };
        let Some((mut at, op)) = schedule.due_at(c) else {
            return;
        };
        match self.backoff.get(&c.id) {
            Some(b) if b.stands(c) => at = at.max(b.retry),
            Some(b) => self.lifted.push((c.id, *b)),
            None => {}
        }
        if at <= self.now {
            if !self.busy.contains(&c.id) {
                match self.due.get_mut(&c.provider) {
                    Some(queue) => queue.push_back((c.id, op)),
                    None => {
                        self.due
                            .insert(c.provider.clone(), VecDeque::from([(c.id, op)]));
                    }
                }
            }
        } else {
            self.next = Some(self.next.map_or(at, |n| n.min(at)));
        }
    }

    fn finish(self) -> (Backlog, Option<UnixTime>, Vec<(ConnectionId, BackedOff)>) {
        (self.due, self.next, self.lifted)
    }
}

/// The next try after `failures` failures in a row: 30 s, doubling, capped at 30 min.
pub fn backoff_secs(failures: u32) -> i64 {
    FIRST_BACKOFF_SECS
        .saturating_mul(1_i64 << failures.saturating_sub(1).min(16))
        .min(MAX_BACKOFF_SECS)
}

/// Runs the scheduler until the worker's event receiver is gone. With no
/// provider set to refresh or exchange automatically there is nothing to
/// plan, and it does not read the store at all (at 100 000 connections every
/// re-read costs a noticeable share of a core).
pub fn spawn(worker: Worker) -> tokio::task::JoinHandle<()> {
    spawn_after(worker, std::future::ready(()))
}

/// [`spawn`] for the dashboard: the scheduler's first round reads every
/// connection and starts whatever is due, which on a large store competed
/// with the screen's own first read and delayed the first frame. So it waits
/// for the screen's data to be loaded (or [`FIRST_LOAD_WAIT`]; tokens are due
/// a margin of at least 30 s before they expire).
pub fn spawn_after_first_load(worker: Worker) -> tokio::task::JoinHandle<()> {
    let mut loaded = worker.inner.first_load.subscribe();
    let start = async move {
        let _ = tokio::time::timeout(FIRST_LOAD_WAIT, loaded.wait_for(|done| *done)).await;
    };
    spawn_after(worker, start)
}

/// The providers whose tokens a scheduler on `worker` refreshes
/// (`auto_refresh`), by name.
fn renewed(worker: &Worker) -> Vec<String> {
    let mut renews: Vec<String> = (worker.inner.providers.iter())
        .filter(|(_, slot)| slot.config.common.auto_refresh)
        .map(|(name, _)| name.clone())
        .collect();
    renews.sort();
    renews
}

/// Records that the dashboard's scheduler has stopped for good, its
/// dashboard quitting: `check` in another process then stops counting on
/// it at once, where it would for three minutes after its last beat. A
/// second dashboard on the store that still runs keeps its own record.
pub async fn note_ended(worker: &Worker) {
    let providers = renewed(worker);
    if providers.is_empty() {
        return;
    }
    let record = Renewal::Scheduler {
        at: worker.now(),
        providers,
        paused: Vec::new(),
        ended: true,
        process: worker.inner.holder.clone(),
    };
    let ended = worker.inner.scheduler_ended.clone();
    let write = move |s: &dyn crate::store::Store| {
        let mut ended = super::lock(&ended);
        *ended = true;
        s.note_renewal(&record)
    };
    if let Err(e) = worker.db(write).await {
        tracing::warn!(error = %e, "could not record that the scheduler stopped");
    }
}

/// The longest the dashboard's scheduler waits for the screen's first read.
pub const FIRST_LOAD_WAIT: Duration = Duration::from_secs(5);

fn spawn_after(
    worker: Worker,
    start: impl std::future::Future<Output = ()> + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        start.await;
        let scheduler = Scheduler::new(worker);
        if scheduler
            .providers
            .values()
            .any(|p| p.common.auto_refresh || p.common.auto_exchange)
        {
            scheduler.run().await;
        }
    })
}

struct Scheduler {
    worker: Worker,
    providers: Arc<HashMap<String, ProviderConfig>>,
    backoff: Arc<Mutex<Backoff>>,
    busy: Arc<Mutex<HashSet<ConnectionId>>>,
    /// Due work per provider, and how much of it runs.
    windows: Arc<Mutex<Windows<String, (ConnectionId, OpKind)>>>,
    /// Told whenever a launched operation ends.
    ended: Arc<Notify>,
    /// Providers that stopped answering, and until when their work waits.
    breakers: Arc<Mutex<Breakers>>,
    next_id: u64,
    /// The providers whose tokens it refreshes (`auto_refresh`), by name.
    renews: Vec<String>,
    /// When this scheduler last recorded in the store that it runs, and
    /// which providers it had paused then.
    beat_at: Option<UnixTime>,
    beat_paused: Vec<String>,
}

/// Due work as a pass finds it, queued per provider: a provider gets at most
/// [`launch_limit`] operations at a time from the scheduler.
type Backlog = HashMap<String, VecDeque<(ConnectionId, OpKind)>>;

/// How many of its operations the scheduler keeps going per provider: those
/// the provider may have in flight and as many waiting their turn. Launching
/// every due connection at once (thousands, after a weekend off) flooded the
/// worker and the screen with work and events that could only queue.
pub(crate) fn launch_limit(cfg: &ProviderConfig) -> usize {
    cfg.common.max_in_flight.max(1).saturating_mul(2)
}

impl Scheduler {
    fn new(worker: Worker) -> Self {
        let providers: Arc<HashMap<String, ProviderConfig>> = Arc::new(
            (worker.inner.providers.iter())
                .map(|(k, v)| (k.clone(), v.config.clone()))
                .collect(),
        );
        let renews = renewed(&worker);
        Self {
            worker,
            providers,
            renews,
            backoff: Arc::default(),
            busy: Arc::default(),
            windows: Arc::default(),
            ended: Arc::default(),
            breakers: Arc::default(),
            next_id: RequestId::SCHEDULED_FROM,
            beat_at: None,
            beat_paused: Vec::new(),
        }
    }

    /// Records, once a [`SCHEDULER_BEAT_SECS`] and whenever a provider is
    /// paused or resumed, that this scheduler runs and which providers it
    /// renews, so that `check` in another process knows whether
    /// `auto_refresh` is being honoured. Off the loop: a write that waits
    /// on another process's lock must not hold up due work.
    fn beat(&mut self) {
        // Called after each operation's end: the usual answer, nothing to
        // record, allocates nothing.
        let now = self.worker.now();
        let paused: Vec<String> = {
            let breakers = super::lock(&self.breakers);
            let paused = self.renews.iter().filter(|p| breakers.paused(p));
            let recent = (self.beat_at).is_some_and(|at| at.secs_until(now) < SCHEDULER_BEAT_SECS);
            if recent && paused.clone().eq(&self.beat_paused) {
                return;
            }
            paused.cloned().collect()
        };
        self.beat_at = Some(now);
        self.beat_paused.clone_from(&paused);
        let record = Renewal::Scheduler {
            at: now,
            providers: self.renews.clone(),
            paused,
            ended: false,
            process: self.worker.inner.holder.clone(),
        };
        let worker = self.worker.clone();
        let ended = worker.inner.scheduler_ended.clone();
        tokio::spawn(async move {
            let write = move |s: &dyn crate::store::Store| match *super::lock(&ended) {
                true => Ok(()),
                false => s.note_renewal(&record),
            };
            if let Err(e) = worker.db(write).await {
                tracing::warn!(error = %e, "scheduler cannot record that it runs");
            }
        });
    }

    async fn run(mut self) {
        let mut next_read = tokio::time::Instant::now();
        let mut reading = false;
        loop {
            if self.worker.inner.events.is_closed() {
                return;
            }
            if tokio::time::Instant::now() >= next_read {
                let wait = match self.pass().await {
                    Ok((due, wait)) => {
                        self.queue(due);
                        reading = true;
                        wait
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "scheduler cannot read the store");
                        reading = false;
                        RELOAD_EVERY
                    }
                };
                next_read = tokio::time::Instant::now() + wait;
            }
            // After each pass and each operation's end, so that a provider
            // paused or resumed is recorded at once; not while the store
            // cannot be read, since nothing is renewed then.
            if reading {
                self.beat();
            }
            // From the front of each provider's queue while it has room: the
            // work per call is what it launches, not the whole backlog, since
            // it runs each time an operation ends. A paused provider has none.
            self.worker.heed_stored_waits_unless_read().await;
            let now = self.worker.now();
            self.heard_meanwhile(now).await;
            // A provider that asked to be sent nothing starts nothing either.
            let asked = |p: &str| self.worker.asked_wait(p, now);
            let (start, resume) = {
                let breakers = super::lock(&self.breakers);
                let cap = |p: &String| asked(p).map_or_else(|| breakers.cap(p, now), |_| Some(0));
                let start = super::lock(&self.windows).launch(cap);
                // Every provider it works for: an `auto_exchange` one too.
                let asked_end = self.providers.keys().filter_map(|p| asked(p)).min();
                (
                    start,
                    breakers.next_resume(now).into_iter().chain(asked_end).min(),
                )
            };
            for ((conn, op), provider) in start {
                self.launch(conn, op, provider);
            }
            // The backlog moves on as operations end, without re-reading
            // 100 000 connections for each.
            let queued = super::lock(&self.windows).has_queued();
            let resume = resume.map(|at| instant_at(now, at));
            let paused = super::lock(&self.breakers).any_paused();
            tokio::select! {
                () = tokio::time::sleep_until(next_read) => {}
                // Each end, queued work or not: one that paused its
                // provider is recorded at once, for `check`.
                () = self.ended.notified() => {}
                () = sleep_until_some(resume), if queued && resume.is_some() => {}
                () = self.worker.inner.provider_answered.notified(), if paused => {}
            }
        }
    }

    /// Ends the pause of each provider that answered another operation of
    /// this process meanwhile (an operator's `r`), and says so.
    async fn heard_meanwhile(&mut self, now: UnixTime) {
        let resumed: Vec<(String, Change)> = {
            let mut breakers = super::lock(&self.breakers);
            (breakers.paused_providers())
                .into_iter()
                .map(|p| {
                    let change = breakers.heard(&p, self.worker.answers(&p));
                    (p, change)
                })
                .filter(|(_, change)| *change != Change::None)
                .collect()
        };
        if resumed.is_empty() {
            return;
        }
        for (provider, change) in resumed {
            if let Some(notice) = breaker_notice(&provider, &change, None, now) {
                self.worker.emit(notice).await;
            }
        }
        // Recorded at once, as a pause is, for `check` in another process.
        self.beat();
    }

    /// A pass's due work replaces what was queued; what runs still counts.
    fn queue(&self, due: Backlog) {
        let mut windows = super::lock(&self.windows);
        windows.clear_queues();
        for (provider, queue) in due {
            for item in queue {
                windows.queue(
                    provider.clone(),
                    |p| self.providers.get(p).map_or(1, launch_limit),
                    item,
                );
            }
        }
    }

    /// What is due now, with its provider, and how long until the next pass:
    /// one pass over the store that keeps only what is due, not a copy of
    /// every connection (40 MB at 100 000, on top of the screen's own).
    async fn pass(&self) -> Result<(Backlog, Duration), OpError> {
        let now = self.worker.now();
        let providers = self.providers.clone();
        let backoff = super::lock(&self.backoff).clone();
        let busy = super::lock(&self.busy).clone();
        let (due, next, lifted) = self
            .worker
            .db(move |s| {
                let mut planner = Planner::new(&providers, &backoff, &busy, now);
                s.each_connection(&mut |c| planner.add(&c))?;
                Ok(planner.finish())
            })
            .await?;
        // Unless a failure since made it anew: the count starts again.
        let mut backoff = super::lock(&self.backoff);
        for (conn, was) in lifted {
            if backoff.get(&conn) == Some(&was) {
                backoff.remove(&conn);
            }
        }
        drop(backoff);
        let wait = next.map_or(RELOAD_EVERY, |n| {
            Duration::from_secs(u64::try_from(now.secs_until(n)).unwrap_or(0).max(1))
        });
        Ok((due, wait.min(RELOAD_EVERY)))
    }

    fn launch(&mut self, conn: ConnectionId, op: OpKind, provider: String) {
        let id = RequestId(self.next_id);
        self.next_id += 1;
        super::lock(&self.busy).insert(conn);
        let (worker, backoff, busy, breakers, providers) = (
            self.worker.clone(),
            self.backoff.clone(),
            self.busy.clone(),
            self.breakers.clone(),
            self.providers.clone(),
        );
        let known = Some(provider.clone());
        let name = provider.clone();
        let ended = Ended {
            windows: self.windows.clone(),
            provider,
            notify: self.ended.clone(),
        };
        tokio::spawn(async move {
            let _ended = ended;
            worker
                .emit(Event::Started {
                    id,
                    op,
                    conn: Some(conn),
                })
                .await;
            // Cancellable by `id` as the operator's own operations are
            // (`x` on its row); a cancelled one backs off like a failure,
            // so the next pass does not send it again at once. A panic
            // fails the row, and the connection is scheduled again later.
            let run = super::contained(
                id,
                op,
                conn,
                worker.operate_on(op, conn, known, super::ops::Asked::BySchedule),
            );
            let result = worker.unless_cancelled(id, op, conn, run).await;
            let now = worker.now();
            let answers = worker.answers(&name);
            let change = super::lock(&breakers).record(
                &name,
                result.as_ref().map(drop),
                now,
                answers,
                |trips, error| retry_at(now, trips, error),
            );
            let event = match result {
                Ok(c) => {
                    super::lock(&backoff).remove(&conn);
                    Event::succeeded(id, op, c, now)
                }
                Err(error) => {
                    let stands = worker.reread(conn).await;
                    let version = stands.as_ref().map(|c| c.version);
                    let retry = note_failure(&backoff, conn, version, now, &error);
                    // A row the failure took out of the plan (re-consent
                    // required, say) is not tried again at all.
                    let planned = (stands.as_ref().zip(providers.get(&name)))
                        .is_some_and(|(c, cfg)| due_at(c, cfg).is_some());
                    Event::Failed {
                        id,
                        op,
                        conn_id: Some(conn),
                        conn: stands.map(Box::new),
                        error,
                        next_try: planned.then_some(retry),
                    }
                }
            };
            super::lock(&busy).remove(&conn);
            let failed = match &event {
                Event::Failed { error, .. } => Some(error),
                _ => None,
            };
            if let Some(notice) = breaker_notice(&name, &change, failed, now) {
                worker.emit(notice).await;
            }
            worker.emit(event).await;
        });
    }
}

/// What the operator hears when a provider's automatic work pauses or
/// resumes (the activity pane, and the log).
fn breaker_notice(
    provider: &str,
    change: &Change,
    failed: Option<&OpError>,
    now: UnixTime,
) -> Option<Event> {
    let (message, until) = match change {
        Change::None => return None,
        Change::Paused { until, failures } => {
            let why = match failed {
                Some(error) => format!(" (last: {error})"),
                None => String::new(),
            };
            let secs = now.secs_until(*until).max(0);
            let wait = pause_words(secs);
            tracing::warn!(provider, failures, pause_secs = secs, "provider paused");
            let message = format!(
                "{provider}: {failures} automatic operations in a row failed{why}; \
                 its automatic work waits {wait}, then one is tried alone"
            );
            (message, Some(*until))
        }
        Change::Resumed => {
            tracing::info!(provider, "provider resumed");
            let message = format!("{provider} answers again: its automatic work resumes");
            (message, None)
        }
    };
    Some(Event::ProviderPaused {
        provider: provider.to_owned(),
        until,
        message,
    })
}

/// Counts a launched operation as ended when its task ends, however it
/// ends (a panic or an abort included), so its provider's room comes back.
struct Ended {
    windows: Arc<Mutex<Windows<String, (ConnectionId, OpKind)>>>,
    provider: String,
    notify: Arc<Notify>,
}

impl Drop for Ended {
    fn drop(&mut self) {
        super::lock(&self.windows).ended(&self.provider);
        self.notify.notify_one();
    }
}

/// Backs a failing connection off. A configuration error (`invalid_client`,
/// `invalid_scope`, `unauthorized_client`, a missing secret) cannot heal by
/// itself, and the scheduler's providers are fixed at start: such a
/// connection is parked until bankdeck restarts with a changed config (the
/// operator can still run it by hand). A server's `Retry-After` stretches the
/// back-off, never shortens it.
fn note_failure(
    backoff: &Mutex<Backoff>,
    conn: ConnectionId,
    version: Option<i64>,
    now: UnixTime,
    error: &OpError,
) -> NextTry {
    let mut b = super::lock(backoff);
    let failures = b.get(&conn).map_or(0, |e| e.failures) + 1;
    let until_restart = error.kind == ErrorKind::Config;
    let (retry, next) = if until_restart {
        (UnixTime(i64::MAX), NextTry::AfterRestart)
    } else {
        let at = retry_at(now, failures, error);
        (at, NextTry::After(at))
    };
    let entry = BackedOff {
        failures,
        retry,
        version,
        until_restart,
    };
    b.insert(conn, entry);
    next
}

/// When to try again after `failures` in a row, the last being `error`:
/// [`backoff_secs`], stretched (never shortened) by a server's
/// `Retry-After` up to the longest back-off.
pub(crate) fn retry_at(now: UnixTime, failures: u32, error: &OpError) -> UnixTime {
    let asked = error
        .retry_after
        .map_or(0, |s| i64::try_from(s).unwrap_or(MAX_BACKOFF_SECS));
    now.plus_secs(backoff_secs(failures).max(asked.min(MAX_BACKOFF_SECS)))
}

#[cfg(test)]
#[path = "scheduler_tests.rs"]
mod tests;
