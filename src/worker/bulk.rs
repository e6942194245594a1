//! The screen's bulk refresh (`R`): many connections, a window per provider.
//!
//! Only a provider's window of refreshes exists at a time (as many as it may
//! have in flight and as many again waiting their turn, the scheduler's
//! [`Windows`]): the rest wait as bare ids in their provider's queue.
//! Started all at once, a bulk of 30 000 held 56 MB of waiting tasks, and
//! each of them read its connection before the first request went out. A
//! window per provider, not one for the whole bulk, so a stalled provider
//! holds up only its own connections.
//!
//! The window's refreshes are futures polled by the bulk's own task, as a
//! bare `buffer_unordered` loop runs its requests, not a task each: no spawn
//! a refresh, and the wake-ups of a refresh's many hand-offs (permits,
//! store batches, events) land on the task that runs it instead of waking
//! another thread. That took 8–9 % of the CPU of a refresh
//! (`examples/refresh_throughput`, BENCHMARKS.md). Between two polls the bulk
//! awaits only what is quick: an event into the front end's queue, and reads,
//! which SQLite's WAL lets through while another process writes.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use futures::StreamExt;
use futures::stream::FuturesUnordered;

use super::breaker::pause_words;
use super::clock::{instant_at, sleep_until_some};
use super::flight::OpResult;
use super::halt::{Dropped, Halt, Registered};
use super::scheduler::launch_limit;
use super::window::Windows;
use super::{Event, NextTry, RequestId, Worker};
use crate::domain::{ConnectionId, ErrorKind, OpKind, ProviderWait, UnixTime};

/// How many connections' providers are read in one store call, as queues
/// run short: enough to keep every window full without first reading all
/// 100 000.
const RESOLVE_CHUNK: usize = 512;

/// The window for connections that are gone or whose provider is not
/// configured: each fails at once, with the reason, when it runs.
const UNKNOWN_WINDOW: usize = 64;

/// Which window a connection's refresh waits in: its provider's, or `None`.
type Key = Option<String>;

impl Worker {
    /// Refreshes many connections, bounded per provider, reporting each
    /// outcome, and progress at the start, at most every
    /// [`PROGRESS_EVERY`] and at the end: thousands of refreshes a second
    /// need not redraw a counter thousands of times.
    ///
    /// Cancelled ([`Halt`]), it starts no more and drops the refreshes
    /// waiting for their turn. Those already sent are left to their
    /// answers, and dropped only at a second cancel; those whose answer has
    /// come and is not yet written are left to finish: dropping one would
    /// lose the token the provider has just issued. Stopped with the worker,
    /// it starts no more and lets what runs finish. Either way its last
    /// progress says how many were not refreshed, so that a front end knows
    /// it has ended.
    pub(crate) async fn refresh_many(&self, id: RequestId, conns: Vec<ConnectionId>) {
        let halt = Registered::new(self, id);
        let mut run = Run::new(id, conns);
        let mut running = FuturesUnordered::new();
        // Whether a cancel has been answered for what runs.
        let mut told = false;
        let stop = halt.halt();
        self.emit(run.report()).await;
        loop {
            // Moved in as `&mut`: a shared one held across the await would
            // need the set of futures to be `Sync`.
            let queue = &mut running;
            self.fill(&mut run, stop, move |conn, key| {
                queue.push(self.clone().refresh_one(id, conn, key, stop.clone()));
            })
            .await;
            self.heed_waits_asked_before(&mut run.waits, &mut run.windows)
                .await;
            let now = self.now();
            // A provider that asked for a pause holds its queue until then.
            let going = !self.stopping() && !stop.is_stopped();
            let resume = (run.windows.queued_keys())
                .filter_map(|k| self.asked_wait_of(k, now))
                .min()
                .filter(|_| going)
                .map(|at| instant_at(now, at));
            if running.is_empty() && resume.is_none() {
                // A wait that ended since the launch above: start its queue.
                if going && run.windows.has_queued() {
                    continue;
                }
                break;
            }
            let (conn, key, result) = tokio::select! {
                Some(next) = running.next(), if !running.is_empty() => next,
                () = stop.stopped(), if !told => {
                    told = true;
                    self.tell_sent_left(&run.in_flight).await;
                    continue;
                }
                () = sleep_until_some(resume), if resume.is_some() => continue,
                // Counts held back by the throttle, while the rows left
                // wait (for another process's lease, a slow provider).
                () = sleep_until_some(run.held_back()) => {
                    self.emit(run.report()).await;
                    continue;
                }
                // A given-up provider's wait may be lifted (here, or by
                // another process) or end while only stalled requests run:
                // looked at again each second, not only at their answers.
                () = tokio::time::sleep(PARKED_LOOK), if going && run.waits.gave_any_up() => continue,
                // Ctrl-C during a pause: nothing more will be sent, so
                // nothing is left to wait for.
                () = self.until_stopping(), if resume.is_some() => continue,
            };
            run.in_flight.remove(&conn);
            run.windows.ended(&key);
            // Dropped by the cancel, each is counted as not refreshed at the
            // end. One dropped with its request out says so on its own: its
            // row now does (the provider may have spent its refresh token),
            // and a change not heard of would read as another process's.
            match result {
                Ok(result) => self.bulk_result(&mut run, conn, key, result).await,
                Err(Dropped::Unsent) => {}
                Err(Dropped::Sent) => {
                    let error = Dropped::abandoned(OpKind::Refresh);
                    self.emit(self.row_failed(id, conn, error, None).await)
                        .await;
                }
            }
        }
        if run.done < run.total {
            self.emit(run.progress(run.total - run.done)).await;
        }
    }

    /// Starts (through `launch`) what the windows let start, reading more
    /// rows' providers as the queues run short.
    async fn fill(&self, run: &mut Run, halt: &Halt, mut launch: impl FnMut(ConnectionId, Key)) {
        // What another process heard counts before a launch, not only as
        // each refresh is about to send.
        self.heed_stored_waits_unless_read().await;
        self.take_back_freed(&mut run.waits, &mut run.windows).await;
        while !self.stopping() && !halt.is_stopped() {
            let now = self.now();
            // A provider that asked to be sent nothing starts nothing.
            let cap = |k: &Key| self.asked_wait_of(k, now).map(|_| 0);
            for (conn, key) in run.windows.launch(cap) {
                run.in_flight.insert(conn);
                launch(conn, key);
            }
            if run.unread.is_empty() || !run.windows.wants_more() {
                break;
            }
            let chunk = RESOLVE_CHUNK.min(run.unread.len());
            let chunk: Vec<_> = run.unread.drain(..chunk).collect();
            for (conn, key) in self.providers_of(chunk).await {
                match run.waits.parked(&key) {
                    Some(rows) => rows.push(conn),
                    None => run.windows.queue(key, |k| self.window_limit(k), conn),
                }
            }
        }
    }

    /// The failure of bulk `id`'s refresh of `conn`, with the row as it now
    /// stands.
    async fn row_failed(
        &self,
        id: RequestId,
        conn: ConnectionId,
        error: crate::domain::OpError,
        next_try: Option<NextTry>,
    ) -> Event {
        Event::Failed {
            id,
            op: OpKind::Refresh,
            conn_id: Some(conn),
            conn: self.reread(conn).await.map(Box::new),
            error,
            next_try,
        }
    }

    /// One refresh's result: a wait its provider asked for weighed, the row
    /// put back for another turn if it was refused for that wait or held
    /// back by it, else counted and reported.
    async fn bulk_result(&self, run: &mut Run, conn: ConnectionId, key: Key, result: OpResult) {
        let id = run.id;
        let now = self.now();
        let asked = key.as_deref().and_then(|p| self.asked_wait_why(p, now));
        let notice = run.waits.heed(&key, &result, now, asked);
        if let Some(message) = notice {
            if let Some(rows) = run.waits.parked(&key) {
                rows.extend(run.windows.take_queue(&key));
            }
            self.emit(Event::Notice { message }).await;
        }
        // Refused for the wait its provider asked for: nothing was spent,
        // so its turn comes again after the wait, as a row's that was not
        // sent does (set aside with them, if the wait is longer than the
        // bulk's). A few times: a provider that refuses it each time fails
        // it.
        if let Err(e) = &result
            && e.kind == ErrorKind::RateLimited
            && run.refusals.another(conn)
        {
            let error = e.clone();
            let at = self.asked_wait_of(&key, now).unwrap_or(now);
            let next_try = match run.waits.parked(&key) {
                Some(_) => NextTry::SetAside(at),
                None => NextTry::After(at),
            };
            self.emit(self.row_failed(id, conn, error, Some(next_try)).await)
                .await;
            run.waits.put_back(&mut run.windows, key, conn);
            return;
        }
        // Not sent for the wait: its turn comes again after it, or once the
        // wait is lifted if the bulk has given its provider up.
        if matches!(&result, Err(e) if e.kind == ErrorKind::Held) {
            run.waits.put_back(&mut run.windows, key, conn);
            return;
        }
        run.done += 1;
        let event = match result {
            Ok(c) => Event::succeeded(id, OpKind::Refresh, c, self.now()),
            Err(error) => {
                run.failed += 1;
                self.row_failed(id, conn, error, None).await
            }
        };
        self.emit(event).await;
        if run.done == run.total || run.reported.0.elapsed() >= PROGRESS_EVERY {
            self.emit(run.report()).await;
        }
    }

    /// Takes back the rows of every provider the bulk gave up whose wait has
    /// since ended or been lifted (here, or by another process): they go on
    /// in this bulk, and the operator hears so.
    async fn take_back_freed(&self, waits: &mut Waits, windows: &mut Windows<Key, ConnectionId>) {
        let now = self.now();
        let free: Vec<Key> = (waits.given_up())
            .filter(|k| self.asked_wait_of(k, now).is_none())
            .cloned()
            .collect();
        for key in free {
            let (conns, message) = waits.taken_back(&key);
            for conn in conns {
                windows.queue(key.clone(), |k| self.window_limit(k), conn);
            }
            if let Some(message) = message {
                self.emit(Event::Notice { message }).await;
            }
        }
    }

    /// A wait heard before any of a provider's queued refreshes ran (by
    /// another process, or an earlier run) is told, and weighed, as one
    /// heard from them is: a long one sets the queue aside.
    async fn heed_waits_asked_before(
        &self,
        waits: &mut Waits,
        windows: &mut Windows<Key, ConnectionId>,
    ) {
        let now = self.now();
        let asked: Vec<(Key, ProviderWait)> = (windows.queued_keys())
            .filter_map(|k| Some((k.clone(), self.asked_wait_why(k.as_deref()?, now)?)))
            .collect();
        for (key, asked) in asked {
            if let Some(message) = waits.asked(&key, now, asked) {
                if let Some(rows) = waits.parked(&key) {
                    rows.extend(windows.take_queue(&key));
                }
                self.emit(Event::Notice { message }).await;
            }
        }
    }

    /// At a bulk's first cancel: the refreshes already sent are left to
    /// their answers, as a single operation's is, and the operator hears so
    /// once for all of them.
    async fn tell_sent_left(&self, in_flight: &HashSet<ConnectionId>) {
        let sent = in_flight.iter().filter(|c| self.is_out(**c)).count();
        if sent == 0 {
            return;
        }
        let message = format!(
            "cancel: {} already sent {} left to {} answers or deadlines, since dropping them may \
             lose what the providers issue; cancel again to abandon them",
            crate::domain::text::counted(sent, "refresh", "refreshes"),
            if sent == 1 { "is" } else { "are" },
            if sent == 1 { "its" } else { "their" },
        );
        self.emit(Event::Notice { message }).await;
    }

    /// One refresh of a bulk; a panic in it fails only it. How the bulk's
    /// cancel dropped it, if it did.
    async fn refresh_one(
        self,
        id: RequestId,
        conn: ConnectionId,
        key: Key,
        halt: Arc<Halt>,
    ) -> (ConnectionId, Key, Result<OpResult, Dropped>) {
        let op = OpKind::Refresh;
        let run = super::contained(
            id,
            op,
            conn,
            self.operate_on(op, conn, key.clone(), super::ops::Asked::ByOperator),
        );
        let result = self.unless_halted(&halt, op, conn, run).await;
        (conn, key, result)
    }

    /// Each connection's configured provider, or `None` if it is gone, its
    /// provider is not configured, or it cannot be read (its refresh then
    /// says why).
    async fn providers_of(&self, chunk: Vec<ConnectionId>) -> Vec<(ConnectionId, Key)> {
        let ids = chunk.clone();
        let read = self.db(move |s| Ok(s.heads(&ids))).await;
        let found = read.unwrap_or_default();
        let mut found = found.into_iter();
        chunk
            .into_iter()
            .map(|conn| {
                let key = match found.next() {
                    Some(Ok(Some(c))) if self.slot(&c.provider).is_ok() => Some(c.provider),
                    _ => None,
                };
                (conn, key)
            })
            .collect()
    }

    fn asked_wait_of(&self, key: &Key, now: UnixTime) -> Option<UnixTime> {
        self.asked_wait(key.as_deref()?, now)
    }

    fn window_limit(&self, key: &Key) -> usize {
        key.as_deref()
            .and_then(|p| self.slot(p).ok())
            .map_or(UNKNOWN_WINDOW, |s| launch_limit(&s.config))
    }
}

/// The longest pause a provider may ask of a bulk before the bulk sends it
/// nothing more: a cron job, or an operator watching `R`, waits out a few
/// minutes, not half an hour.
const PATIENCE_SECS: i64 = 5 * 60;

/// How many times a bulk sends one row to a provider that refuses it with
/// a wait (429 or 503) before the row counts as failed.
const TRIES: u8 = 3;

/// How many times each row of a bulk has been refused with a wait.
#[derive(Default)]
struct Refusals(HashMap<ConnectionId, u8>);

impl Refusals {
    /// Counts a refusal of `conn`: whether it is tried again.
    fn another(&mut self, conn: ConnectionId) -> bool {
        let n = self.0.entry(conn).or_default();
        *n += 1;
        *n < TRIES
    }
}

/// What a bulk has told of its providers' requests to wait, and which of
/// them asked for longer than it waits.
#[derive(Default)]
struct Waits {
    /// The end of the wait last told of, per provider: each is told once.
    told: HashMap<String, UnixTime>,
    /// The providers given up, each with its rows not sent: kept in case
    /// its wait is lifted (or over) while the bulk still runs.
    gave_up: HashMap<Key, Vec<ConnectionId>>,
}

impl Waits {
    /// The rows set aside for `key`'s provider, if the bulk gave it up:
    /// where its rows go instead of its queue.
    fn parked(&mut self, key: &Key) -> Option<&mut Vec<ConnectionId>> {
        self.gave_up.get_mut(key)
    }

    /// A row not sent for its provider's wait takes its turn again: in its
    /// queue, after the wait, or set aside with the rows of a provider
    /// given up.
    fn put_back(&mut self, windows: &mut Windows<Key, ConnectionId>, key: Key, conn: ConnectionId) {
        match self.parked(&key) {
            Some(rows) => rows.push(conn),
            None => windows.put_back(key, conn),
        }
    }

    fn given_up(&self) -> impl Iterator<Item = &Key> {
        self.gave_up.keys()
    }

    fn gave_any_up(&self) -> bool {
        !self.gave_up.is_empty()
    }

    /// What the operator hears of a refresh's result, given the wait its
    /// provider has asked for (`asked`, if still ahead): the wait, or the
    /// bulk giving the provider up, once each; the provider answering again
    /// after one.
    fn heed(
        &mut self,
        key: &Key,
        result: &OpResult,
        now: UnixTime,
        asked: Option<ProviderWait>,
    ) -> Option<String> {
        let provider = key.as_deref()?;
        match result {
            Ok(_) => {
                self.told.remove(provider)?;
                return Some(format!(
                    "{provider} answers again: this bulk's refreshes of it go on"
                ));
            }
            Err(e) if matches!(e.kind, ErrorKind::RateLimited | ErrorKind::Held) => {}
            Err(_) => return None,
        }
        self.asked(key, now, asked?)
    }

    /// What the operator hears of the wait `key`'s provider has asked for
    /// (`asked`, still ahead): the wait, or the bulk giving the provider up,
    /// once each.
    fn asked(&mut self, key: &Key, now: UnixTime, asked: ProviderWait) -> Option<String> {
        let provider = key.as_deref()?;
        let ProviderWait { until, why, .. } = asked;
        if self.gave_up.contains_key(key) || self.told.get(provider).is_some_and(|&t| t > now) {
            return None;
        }
        self.told.insert(provider.to_owned(), until);
        let secs = now.secs_until(until);
        if secs > PATIENCE_SECS {
            self.gave_up.insert(key.clone(), Vec::new());
            tracing::warn!(
                provider,
                wait_secs = secs,
                "bulk refresh gave a provider up"
            );
            return Some(format!(
                "{provider} asked for a longer pause than a bulk waits ({why}): this bulk sends \
                 it nothing more, and its refreshes not yet sent are left for a later run, or \
                 for this one if the wait is lifted while it runs"
            ));
        }
        Some(format!(
            "{provider} asked for a pause ({why}): this bulk's refreshes of it wait {}, then go on",
            pause_words(secs)
        ))
    }

    /// `key`'s provider, given up, takes requests again while the bulk
    /// runs (its wait lifted, or over): its rows set aside, to go on, and
    /// what the operator hears of them, if there are any.
    fn taken_back(&mut self, key: &Key) -> (Vec<ConnectionId>, Option<String>) {
        let rows = self.gave_up.remove(key).unwrap_or_default();
        let Some(provider) = key.as_deref() else {
            return (rows, None);
        };
        self.told.remove(provider);
        let message = (!rows.is_empty()).then(|| {
            format!(
                "{provider} takes requests again (its wait was lifted, or is over): this bulk's {} \
                 of it go on",
                crate::domain::text::counted(rows.len(), "refresh", "refreshes")
            )
        });
        (rows, message)
    }
}

/// How often a bulk with rows set aside for a given-up provider looks
/// whether its wait is lifted or over, while other rows run: as often as a
/// process reads the waits others stored.
const PARKED_LOOK: std::time::Duration = super::wait::STORED_WAITS_FRESH;

/// How often a bulk refresh reports its progress while it runs.
const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

/// A bulk refresh as it goes: its rows not yet read, its windows and what
/// runs in them, the waits its providers asked for, and its counts.
struct Run {
    id: RequestId,
    total: usize,
    done: usize,
    failed: usize,
    unread: VecDeque<ConnectionId>,
    windows: Windows<Key, ConnectionId>,
    /// What runs, for the operator's cancel.
    in_flight: HashSet<ConnectionId>,
    waits: Waits,
    refusals: Refusals,
    /// When progress was last reported, and the counts it had (done,
    /// failed): at most one progress every [`PROGRESS_EVERY`], and none
    /// held back longer. Four rows done in a few milliseconds and a fifth
    /// waiting six seconds for another process read "0 of 5" all that
    /// while, when only results sent progress.
    reported: (tokio::time::Instant, (usize, usize)),
}

impl Run {
    fn new(id: RequestId, conns: Vec<ConnectionId>) -> Run {
        Run {
            id,
            total: conns.len(),
            done: 0,
            failed: 0,
            unread: conns.into(),
            windows: Windows::default(),
            in_flight: HashSet::new(),
            waits: Waits::default(),
            refusals: Refusals::default(),
            reported: (tokio::time::Instant::now(), (0, 0)),
        }
    }

    /// Its progress; `stopped` is set when it ends early.
    fn progress(&self, stopped: usize) -> Event {
        Event::Progress {
            id: self.id,
            done: self.done,
            total: self.total,
            failed: self.failed,
            stopped,
        }
    }

    /// Its progress, counted as reported now.
    fn report(&mut self) -> Event {
        self.reported = (tokio::time::Instant::now(), (self.done, self.failed));
        self.progress(0)
    }

    /// When counts not yet reported are due: `None` when none are.
    fn held_back(&self) -> Option<tokio::time::Instant> {
        let (at, shown) = self.reported;
        (shown != (self.done, self.failed)).then_some(at + PROGRESS_EVERY)
    }
}
