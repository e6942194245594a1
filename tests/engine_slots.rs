//! The provider's in-flight bound covers the request, not the write after it:
//! with `max_in_flight = 1`, the next refresh reaches the provider while the
//! first one's outcome is still being written. And operations waiting for
//! their turn hold their lease already, but only as many again as may be in
//! flight. A bulk refresh starts only a window of operations per provider.

mod common;

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use bankdeck::domain::{Connection, ConnectionId, ErrorKind, Grant, OpKind, UnixTime};
use bankdeck::sandbox::{SandboxOptions, parse_fault};
use bankdeck::store::intercept::{Intercept, Intercepted};
use bankdeck::store::{Settlement, Store, StoreError};
use bankdeck::worker::{Command, Event, NextTry, RequestId, WorkerOptions};
use common::Env;

/// The real store, except that outcome writes wait while `held` is set.
struct HeldWrites {
    held: Mutex<bool>,
    opened: Condvar,
}

impl HeldWrites {
    fn open(&self) {
        *self.held.lock().unwrap() = false;
        self.opened.notify_all();
    }
}

impl Intercept for HeldWrites {
    fn apply_and_release_many(
        &self,
        inner: &dyn Store,
        batch: Vec<Arc<Settlement>>,
        holder: &str,
    ) -> Vec<Result<Connection, StoreError>> {
        let held = self.held.lock().unwrap();
        let (_held, _) = self
            .opened
            .wait_timeout_while(held, Duration::from_secs(20), |h| *h)
            .unwrap();
        inner.apply_and_release_many(batch, holder)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_next_request_goes_while_the_last_outcome_is_written() {
    let held = Arc::new(Mutex::new(None::<Arc<Intercepted<HeldWrites>>>));
    let slot = held.clone();
    let env = Env::start_over(
        SandboxOptions::default(),
        // The last table of the test config is `everifin`'s.
        "max_in_flight = 1\n",
        WorkerOptions::default(),
        move |inner| {
            let store = Arc::new(Intercepted {
                inner,
                hooks: HeldWrites {
                    held: Mutex::new(false),
                    opened: Condvar::new(),
                },
            });
            *slot.lock().unwrap() = Some(store.clone());
            store
        },
    )
    .await;
    let store = held.lock().unwrap().clone().unwrap();
    let a = env.login("everifin", "amira").await;
    let b = env.login("everifin", "omar").await;
    let before = env.sandbox.request_count("oidc.token");

    *store.hooks.held.lock().unwrap() = true;
    let refresh = |id| {
        let worker = env.worker.clone();
        tokio::spawn(async move { worker.operate(OpKind::Refresh, id).await })
    };
    let (first, second) = (refresh(a.id), refresh(b.id));
    // Both token requests reach the provider while no outcome can be written.
    token_requests_reach(
        &env,
        before + 2,
        Duration::from_secs(10),
        "the second refresh waited for the first one's write",
    )
    .await;
    assert!(
        !first.is_finished() && !second.is_finished(),
        "nothing reported before its write"
    );
    store.hooks.open();
    let (first, second) = (
        first.await.unwrap().unwrap(),
        second.await.unwrap().unwrap(),
    );
    assert_eq!(first.last_op.unwrap().op, OpKind::Refresh);
    assert_eq!(second.last_op.unwrap().op, OpKind::Refresh);
    assert_eq!(env.sandbox.request_count("oidc.token"), before + 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_operations_hold_their_lease_but_only_as_many_again_as_may_be_in_flight() {
    let (env, ids) = everifin_at_two(8).await;
    let before = env.sandbox.request_count("oidc.token");
    env.sandbox
        .set_faults(vec![parse_fault("oidc.token:stall").unwrap()]);
    let running: Vec<_> = ids
        .iter()
        .map(|&id| {
            let worker = env.worker.clone();
            tokio::spawn(async move { worker.operate(OpKind::Refresh, id).await })
        })
        .collect();
    let leased = || {
        ids.iter()
            .filter(|&&id| env.store.lease_holder(id).unwrap().is_some())
            .count()
    };
    // Two requests hang at the provider; two more operations wait for a
    // turn with their lease in hand, so a freed turn sends at once.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while env.sandbox.request_count("oidc.token") < before + 2 || leased() < 4 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} request(s) sent, {} lease(s) held",
            env.sandbox.request_count("oidc.token") - before,
            leased()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The other four wait without a lease, however long the provider stalls.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(leased(), 4);
    // A lease outlasts the wait for a turn and the request (60 s each).
    let now = UnixTime::now();
    for &id in &ids {
        if let Some((_, until)) = env.store.lease_holder(id).unwrap() {
            assert!(
                now.secs_until(until) >= 120,
                "the lease ends in {}s",
                now.secs_until(until)
            );
        }
    }
    assert_eq!(env.sandbox.request_count("oidc.token"), before + 2);
    for task in running {
        task.abort();
    }
}

/// The screen's bulk refresh keeps a window per provider: a stalled
/// provider's connections wait as ids, not as thousands of started
/// operations, and the other providers' connections are refreshed meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_refresh_keeps_a_window_per_provider_and_a_stalled_one_holds_up_only_its_own() {
    let (env, stalled) = everifin_at_two(12).await;
    let mut working = Vec::new();
    for i in 0..6 {
        working.push(env.login("bank", &format!("user-{i}")).await.id);
    }
    env.sandbox
        .set_faults(vec![parse_fault("oidc.token:stall").unwrap()]);
    // The stalled provider's connections first: a window for the whole bulk
    // would fill with them and never reach the bank's.
    let conns = stalled.iter().chain(&working).copied().collect();
    let mut h = bulk_of(&env, conns).await;
    let mut refreshed = Vec::new();
    while refreshed.len() < working.len() {
        match next_event(&mut h.events, Duration::from_secs(10)).await {
            Event::Succeeded { conn, .. } => refreshed.push(conn.id),
            Event::Failed { error, .. } => panic!("a refresh failed: {}", error.message),
            _ => {}
        }
    }
    refreshed.sort();
    assert_eq!(refreshed, working);
    let busy = || stalled.iter().filter(|&&c| h.worker.is_busy(c)).count();
    assert_eq!(busy(), 4, "only everifin's window of operations is started");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(busy(), 4, "and it stays so while the provider stalls");
}

/// A bulk that names a connection no longer in the store still ends: that
/// row fails with the reason, the others are refreshed, and the count is
/// right.
#[tokio::test]
async fn a_bulk_refresh_reports_a_connection_that_is_gone_and_ends() {
    let env = Env::start().await;
    let live = env.login("bank", "amira").await.id;
    let gone = ConnectionId(live.0 + 1000);
    let mut h = bulk_of(&env, vec![gone, live]).await;
    let (mut refreshed, mut failed) = (Vec::new(), Vec::new());
    loop {
        match next_event(&mut h.events, Duration::from_secs(10)).await {
            Event::Succeeded { conn, .. } => refreshed.push(conn.id),
            Event::Failed { conn_id, error, .. } => {
                assert!(error.message.contains("no connection"), "{}", error.message);
                failed.push(conn_id.unwrap());
            }
            Event::Progress {
                done: 2,
                total: 2,
                failed: 1,
                ..
            } => break,
            _ => {}
        }
    }
    assert_eq!((refreshed, failed), (vec![live], vec![gone]));
}

/// A bulk whose last row waits (here on a slow answer; as well on another
/// process's lease) reports the rows already done while it waits, not only
/// once that row is in: the throttle holds a count back 100 ms at most.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_reports_what_is_done_while_its_last_row_waits() {
    let env = Env::start().await;
    let mut conns = Vec::new();
    for user in ["amira", "bob", "carol"] {
        conns.push(env.login("bank", user).await.id);
    }
    // Whichever row's request comes first is held; the others answer at once.
    env.sandbox.set_faults(vec![
        parse_fault("oauth2.token:latency=3000,count=1").unwrap(),
    ]);
    let mut h = bulk_of(&env, conns).await;
    let mut reported = Vec::new();
    loop {
        if let Event::Progress { done, .. } =
            next_event(&mut h.events, Duration::from_secs(10)).await
        {
            reported.push(done);
            if done == 3 {
                break;
            }
        }
    }
    assert!(
        reported.contains(&2),
        "the two rows answered at once are reported before the held one: {reported:?}"
    );
}

/// A result's words say what the operation left, not which operation it was
/// (the screen's line names that): a refresh, a bulk's refresh and a logout.
#[tokio::test]
async fn a_success_says_what_it_left() {
    let env = Env::start().await;
    let conn = env.login("bank", "amira").await.id;
    let mut h = env.spawn_worker(WorkerOptions::default());
    let sends = [
        Command::Refresh {
            id: RequestId(1),
            conn,
        },
        Command::RefreshMany {
            id: RequestId(2),
            conns: vec![conn],
        },
    ];
    for command in sends {
        h.commands.send(command).await.unwrap();
        let message = said(&mut h.events).await;
        assert!(message.starts_with("access token valid for "), "{message}");
    }
    h.commands
        .send(Command::Logout {
            id: RequestId(3),
            conn,
        })
        .await
        .unwrap();
    let message = said(&mut h.events).await;
    assert!(
        message.starts_with("logged out; the access token stays valid for "),
        "{message}"
    );
}

/// The words of the next success; a failure fails the test.
async fn said(events: &mut tokio::sync::mpsc::Receiver<Event>) -> String {
    loop {
        match next_event(events, Duration::from_secs(10)).await {
            Event::Succeeded { message, .. } => return message,
            Event::Failed { error, .. } => panic!("failed: {}", error.message),
            _ => {}
        }
    }
}

/// A bulk bigger than one read of providers (512 connections) still fills
/// its provider's window: every refresh reaches the stalled provider, not
/// only the first read's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_larger_than_one_read_fills_the_whole_window() {
    let env = Env::start_with(
        SandboxOptions::default(),
        "max_in_flight = 700\ntimeout = \"60s\"\n",
        WorkerOptions::default(),
    )
    .await;
    let now = UnixTime::now();
    bankdeck::cli::generate::fill(&*env.store, 4000, 400, now, "tester", |_| {}).unwrap();
    let targets: Vec<_> = env
        .store
        .connections()
        .unwrap()
        .into_iter()
        .filter(|c| {
            c.provider == "everifin"
                && c.grant == Grant::AuthorizationCode
                && c.lifetimes.has_refresh
                && !c.flags.reauth_required
                && c.flags.logged_out_at.is_none()
                && c.flags.delinked_at.is_none()
        })
        .map(|c| c.id)
        .take(600)
        .collect();
    assert_eq!(
        targets.len(),
        600,
        "enough refreshable everifin connections"
    );
    env.sandbox
        .set_faults(vec![parse_fault("oidc.token:stall").unwrap()]);
    let before = env.sandbox.request_count("oidc.token");
    let _h = bulk(&env, targets).await;
    token_requests_reach(
        &env,
        before + 600,
        Duration::from_secs(20),
        "not every refresh reached the provider",
    )
    .await;
}

/// `everifin` with two requests in flight (so two more wait their turn)
/// and `n` connections. Stalled requests must not time out (and free their
/// turn) mid-test.
async fn everifin_at_two(n: usize) -> (Env, Vec<ConnectionId>) {
    let env = Env::start_with(
        SandboxOptions::default(),
        "max_in_flight = 2\ntimeout = \"60s\"\n",
        WorkerOptions::default(),
    )
    .await;
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(env.login("everifin", &format!("user-{i}")).await.id);
    }
    (env, ids)
}

/// Waits until everifin's token endpoint has had `total` requests, or fails
/// after `within` with `why` and how many it had.
async fn token_requests_reach(env: &Env, total: u64, within: Duration, why: &str) {
    let deadline = tokio::time::Instant::now() + within;
    while env.sandbox.request_count("oidc.token") < total {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{why}: {} of {total} token requests",
            env.sandbox.request_count("oidc.token")
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A worker of `env`'s, sent one bulk refresh of `conns` as request 1.
async fn bulk_of(env: &Env, conns: Vec<ConnectionId>) -> bankdeck::worker::WorkerHandle {
    let h = env.spawn_worker(WorkerOptions::default());
    h.commands
        .send(Command::RefreshMany {
            id: RequestId(1),
            conns,
        })
        .await
        .unwrap();
    h
}

async fn next_event(events: &mut tokio::sync::mpsc::Receiver<Event>, within: Duration) -> Event {
    tokio::time::timeout(within, events.recv())
        .await
        .expect("an event in time")
        .expect("the worker's events")
}

/// Cancelling a bulk whose provider stalls: none more starts, the
/// refreshes out are left to their answers (which may hold rotated tokens)
/// and the operator hears so once; cancelled again, they are dropped, each
/// row's failure says so (the provider may have spent its refresh token,
/// and the row now says that: a change not heard of reads, on the screen,
/// as another process's), and its last progress says how many were not
/// refreshed, so that the screen stops showing its rows as busy. The rows
/// can be refreshed again right after.
#[tokio::test]
async fn a_cancelled_bulk_drops_what_hangs_starts_no_more_and_says_so() {
    let env = Env::start().await;
    let mut conns = Vec::new();
    for user in ["amira", "omar", "lena"] {
        conns.push(env.login("everifin", user).await.id);
    }
    env.sandbox
        .set_faults(vec![parse_fault("oidc.token:stall").unwrap()]);
    let mut h = env.spawn_worker(WorkerOptions::default());
    let bulk = RequestId(1);
    h.commands
        .send(Command::RefreshMany {
            id: bulk,
            conns: conns.clone(),
        })
        .await
        .unwrap();
    // Three for the logins, three for the bulk.
    while env.sandbox.request_count("oidc.token") < 6 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    h.commands.send(Command::Cancel { id: bulk }).await.unwrap();
    loop {
        match next_event(&mut h.events, Duration::from_secs(2)).await {
            Event::Notice { message } if message.contains("3 refreshes already sent") => break,
            Event::Succeeded { .. }
            | Event::Failed { .. }
            | Event::Progress { stopped: 1.., .. } => {
                panic!("a first cancel dropped what was sent")
            }
            _ => {}
        }
    }
    h.commands.send(Command::Cancel { id: bulk }).await.unwrap();
    let mut abandoned = Vec::new();
    let last = loop {
        match next_event(&mut h.events, Duration::from_secs(10)).await {
            Event::Progress {
                id,
                done,
                total,
                failed,
                stopped,
            } if id == bulk && stopped > 0 => break (done, total, failed, stopped),
            Event::Failed {
                id,
                conn_id: Some(c),
                conn: Some(row),
                error,
                ..
            } if id == bulk && error.message.starts_with("refresh abandoned") => {
                assert_eq!(row.flags.last_error.as_deref(), Some(&*error.message));
                abandoned.push(c);
            }
            other @ (Event::Succeeded { .. } | Event::Failed { .. }) => {
                panic!("a dropped refresh says it was abandoned: {other:?}")
            }
            _ => {}
        }
    };
    abandoned.sort();
    assert_eq!(abandoned, conns, "each row's failure told");
    assert_eq!(last, (0, 3, 0, 3));
    assert!(conns.iter().all(|&c| !h.worker.is_busy(c)));

    env.sandbox.set_faults(Vec::new());
    h.worker.operate(OpKind::Refresh, conns[0]).await.unwrap();
}

/// A cancel that comes before the bulk's task has started still ends it,
/// with nothing sent.
#[tokio::test]
async fn a_bulk_cancelled_before_it_starts_ends_with_nothing_sent() {
    let env = Env::start().await;
    let conn = env.login("everifin", "amira").await.id;
    let sent = env.sandbox.request_count("oidc.token");
    let mut h = env.spawn_worker(WorkerOptions::default());
    let bulk = RequestId(1);
    h.commands
        .send(Command::RefreshMany {
            id: bulk,
            conns: vec![conn],
        })
        .await
        .unwrap();
    h.commands.send(Command::Cancel { id: bulk }).await.unwrap();
    loop {
        if let Event::Progress {
            done: 0,
            stopped: 1,
            ..
        } = next_event(&mut h.events, Duration::from_secs(10)).await
        {
            break;
        }
    }
    assert_eq!(env.sandbox.request_count("oidc.token"), sent);
}

/// `everifin` with one request in flight, and a connection of it for each
/// user.
async fn one_at_a_time_everifin() -> (Env, Vec<ConnectionId>) {
    let env = Env::start_with(
        SandboxOptions::default(),
        "max_in_flight = 1\n",
        WorkerOptions::default(),
    )
    .await;
    let mut conns = Vec::new();
    for user in ["amira", "omar", "lena"] {
        conns.push(env.login("everifin", user).await.id);
    }
    (env, conns)
}

/// A worker of its own refreshing `conns` as one bulk.
async fn bulk(env: &Env, conns: Vec<ConnectionId>) -> bankdeck::worker::WorkerHandle {
    let h = env.spawn_worker(WorkerOptions::default());
    let id = RequestId(1);
    h.commands
        .send(Command::RefreshMany { id, conns })
        .await
        .unwrap();
    h
}

/// What a bulk said up to its last progress: successes, failures' kinds,
/// notices, and how many it left unrefreshed.
#[derive(Default, Debug)]
struct Heard {
    refreshed: Vec<ConnectionId>,
    failed: Vec<ErrorKind>,
    /// Refused for a wait and put back: the bulk tries them again.
    again: Vec<ConnectionId>,
    /// Refused for a wait longer than the bulk's: set aside with their
    /// provider's other rows.
    aside: Vec<ConnectionId>,
    notices: Vec<String>,
    stopped: usize,
}

impl Heard {
    /// Takes events until `until` says stop (it sees each event first).
    async fn take(
        &mut self,
        events: &mut tokio::sync::mpsc::Receiver<Event>,
        mut until: impl FnMut(&Event) -> bool,
    ) {
        loop {
            let event = next_event(events, Duration::from_secs(10)).await;
            let last = until(&event);
            match event {
                Event::Succeeded { conn, .. } => self.refreshed.push(conn.id),
                Event::Failed {
                    conn_id: Some(c),
                    next_try: Some(NextTry::SetAside(_)),
                    ..
                } => self.aside.push(c),
                Event::Failed {
                    conn_id: Some(c),
                    next_try: Some(_),
                    ..
                } => self.again.push(c),
                Event::Failed { error, .. } => self.failed.push(error.kind),
                Event::Notice { message } => self.notices.push(message),
                Event::Progress { stopped, .. } => self.stopped = stopped,
                _ => {}
            }
            if last {
                return;
            }
        }
    }
}

fn last_progress(total: usize) -> impl FnMut(&Event) -> bool {
    move |e| matches!(e, Event::Progress { done, stopped, .. } if done + stopped == total)
}

/// A provider that answers a bulk's refresh with 429 and `Retry-After: 3`
/// is sent nothing more by the bulk until then; then the refused row goes
/// again with the rest, in whichever order their turns come. The bulk sent
/// the next request at once, and a cron job's `refresh --due` kept on at a
/// provider that was limiting it; and the refused row counted as failed,
/// though nothing was spent on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_waits_as_long_as_a_provider_asks_then_goes_on() {
    let (env, conns) = one_at_a_time_everifin().await;
    env.sandbox
        .set_faults(vec![parse_fault("oidc.token:429=3,count=1").unwrap()]);
    let before = env.sandbox.request_count("oidc.token");
    let mut h = bulk(&env, conns.clone()).await;
    let mut heard = Heard::default();
    heard
        .take(&mut h.events, |e| matches!(e, Event::Failed { .. }))
        .await;
    // Whichever row's request reached the provider first.
    assert_eq!(heard.again.len(), 1, "{heard:?}");
    assert!(conns.contains(&heard.again[0]), "{heard:?}");
    assert!(heard.failed.is_empty(), "{heard:?}");
    assert!(
        heard
            .notices
            .iter()
            .any(|n| n.starts_with("everifin asked for a pause (")
                && n.contains("it asks to wait 3s")
                && n.ends_with(" s, then go on")),
        "{heard:?}"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        env.sandbox.request_count("oidc.token"),
        before + 1,
        "nothing more is sent before the time the provider named"
    );
    heard.take(&mut h.events, last_progress(3)).await;
    let mut refreshed = heard.refreshed.clone();
    refreshed.sort();
    assert_eq!(refreshed, conns, "every row, after the wait: {heard:?}");
    assert!(heard.failed.is_empty(), "{heard:?}");
    assert_eq!(heard.stopped, 0);
    assert!(
        heard
            .notices
            .iter()
            .any(|n| n.starts_with("everifin answers again")),
        "{heard:?}"
    );
    assert_eq!(env.sandbox.request_count("oidc.token"), before + 4);
}

/// A provider given up for an hour's wait is taken back by the bulk when
/// the wait is lifted while the bulk still runs (here, on another
/// provider's slow answer): its rows not yet sent go on, at once. They were
/// left for a later run, though the operator had lifted the wait; then
/// they went on only when the slow answer came.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_takes_back_a_provider_whose_wait_is_lifted_while_it_runs() {
    let (env, mut conns) = one_at_a_time_everifin().await;
    let other = env.login("bank", "amira").await.id;
    conns.push(other);
    env.sandbox.set_faults(vec![
        parse_fault("oidc.token:429=3600,count=1").unwrap(),
        parse_fault("oauth2.token:latency=4000,count=1").unwrap(),
    ]);
    let mut h = bulk(&env, conns.clone()).await;
    let mut heard = Heard::default();
    heard
        .take(
            &mut h.events,
            |e| matches!(e, Event::Notice { message } if message.contains("longer pause")),
        )
        .await;
    // Lifted once the rows the refusal left are set aside and the bulk
    // has nothing to hear but the slow answer.
    tokio::time::sleep(Duration::from_millis(500)).await;
    h.worker.lift_wait("everifin").await.unwrap();
    heard.take(&mut h.events, last_progress(4)).await;
    assert!(heard.failed.is_empty(), "{heard:?}");
    assert_eq!(
        heard.aside.len(),
        1,
        "the refused row, set aside: {heard:?}"
    );
    let mut refreshed = heard.refreshed.clone();
    refreshed.sort();
    // Every row: the refused one goes on with those it left.
    assert_eq!(refreshed.len(), 4, "{heard:?}");
    assert!(refreshed.contains(&other), "{heard:?}");
    assert_eq!(
        heard.refreshed.last(),
        Some(&other),
        "the held rows go on at the lift, before the slow answer: {heard:?}"
    );
    assert_eq!(heard.stopped, 0, "{heard:?}");
    assert!(
        heard.notices.iter().any(|n| n.starts_with(
            "everifin takes requests again (its wait was lifted, or is over): this bulk's 3 \
             refreshes of it go on"
        )),
        "{heard:?}"
    );
}

/// A provider that refuses a row with a short wait each time it is sent
/// gets it three times, and the row then counts as failed: the bulk ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_fails_a_row_refused_for_a_wait_three_times() {
    let (env, conns) = one_at_a_time_everifin().await;
    env.sandbox
        .set_faults(vec![parse_fault("oidc.token:429=1").unwrap()]);
    let before = env.sandbox.request_count("oidc.token");
    let mut h = bulk(&env, conns[..1].to_vec()).await;
    let mut heard = Heard::default();
    let ended = tokio::time::timeout(
        Duration::from_secs(30),
        heard.take(&mut h.events, last_progress(1)),
    )
    .await;
    assert!(ended.is_ok(), "never ended: {heard:?}");
    assert_eq!(heard.again, [conns[0], conns[0]], "{heard:?}");
    assert_eq!(heard.failed, [ErrorKind::RateLimited], "{heard:?}");
    assert!(heard.refreshed.is_empty(), "{heard:?}");
    assert_eq!(env.sandbox.request_count("oidc.token"), before + 3);
}

/// Bulks, one after another, each ending: an operation reads the waits
/// other processes heard while its bulk's own task also wants to, between
/// two launches. The bulk once waited there for that read, which only the
/// bulk's own task could finish, and hung for good (a third of the runs of
/// 100 at 64 in flight).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulks_in_a_row_each_end_while_their_refreshes_read_the_stored_waits() {
    let env = Env::start_with(
        SandboxOptions::default(),
        "max_in_flight = 64\n",
        WorkerOptions::default(),
    )
    .await;
    let mut conns = Vec::new();
    for i in 0..100 {
        conns.push(env.login("everifin", &format!("user-{i}")).await.id);
    }
    let mut h = env.spawn_worker(WorkerOptions::default());
    for round in 0..12 {
        let id = RequestId(round + 1);
        let mut heard = Heard::default();
        h.commands
            .send(Command::RefreshMany {
                id,
                conns: conns.clone(),
            })
            .await
            .unwrap();
        let ended = tokio::time::timeout(
            Duration::from_secs(30),
            heard.take(&mut h.events, last_progress(100)),
        )
        .await;
        assert!(ended.is_ok(), "bulk {round} never ended: {heard:?}");
        assert_eq!(heard.refreshed.len(), 100, "bulk {round}: {heard:?}");
        // Past the second for which the waits read are trusted.
        if round % 3 == 2 {
            tokio::time::sleep(Duration::from_millis(1100)).await;
        }
    }
}

/// A wait the store holds before a bulk starts (another process heard it)
/// is told and waited out as one heard from the bulk's own refreshes is,
/// with nothing sent; and a stop while the bulk waits (Ctrl-C) ends it
/// then, not when the wait is over. It waited, deaf to the stop, for as
/// long as the provider had asked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_waits_out_a_stored_wait_and_a_stop_ends_the_wait() {
    let (env, conns) = one_at_a_time_everifin().await;
    let now = bankdeck::domain::UnixTime::now();
    let wait = bankdeck::domain::ProviderWait::asked(
        "everifin",
        now,
        now.plus_secs(120),
        "429 heard elsewhere".into(),
    );
    env.store.note_wait(&wait).unwrap();
    let before = env.sandbox.request_count("oidc.token");
    let mut h = bulk(&env, conns).await;
    let mut heard = Heard::default();
    heard
        .take(&mut h.events, |e| matches!(e, Event::Notice { .. }))
        .await;
    assert!(
        heard.notices[0].starts_with("everifin asked for a pause (429 heard elsewhere): ")
            && heard.notices[0].ends_with(" then go on"),
        "{heard:?}"
    );
    h.worker.stop_sending();
    let ended = tokio::time::timeout(
        Duration::from_secs(30),
        heard.take(&mut h.events, last_progress(3)),
    )
    .await;
    assert!(ended.is_ok(), "still waiting after the stop: {heard:?}");
    assert_eq!(heard.stopped, 3, "{heard:?}");
    assert_eq!(env.sandbox.request_count("oidc.token"), before);
}

/// A provider that asks for longer than a bulk waits (an hour) is sent
/// nothing more by it: the bulk ends at once, says why, and counts its
/// rows as not refreshed, the refused one too (nothing was spent on it;
/// it counted as failed). Another provider's rows in the same bulk are
/// not held up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_leaves_a_provider_that_asks_for_an_hour_and_ends() {
    let (env, mut conns) = one_at_a_time_everifin().await;
    let other = env.login("bank", "amira").await.id;
    conns.push(other);
    env.sandbox
        .set_faults(vec![parse_fault("oidc.token:429=3600,count=1").unwrap()]);
    let before = env.sandbox.request_count("oidc.token");
    let mut h = bulk(&env, conns).await;
    let mut heard = Heard::default();
    heard.take(&mut h.events, last_progress(4)).await;
    assert!(heard.failed.is_empty(), "{heard:?}");
    assert_eq!(heard.aside.len(), 1, "the refusal, told: {heard:?}");
    assert!(
        heard.again.is_empty(),
        "not tried again by this bulk: {heard:?}"
    );
    assert_eq!(heard.refreshed, [other], "the other provider's row");
    assert_eq!(heard.stopped, 3, "{heard:?}");
    assert!(
        heard.notices.iter().any(|n| n
            .starts_with("everifin asked for a longer pause than a bulk waits (")
            && n.contains("it asks to wait 3600s")
            && n.contains("this bulk sends it nothing more")),
        "{heard:?}"
    );
    assert_eq!(env.sandbox.request_count("oidc.token"), before + 1);
}
