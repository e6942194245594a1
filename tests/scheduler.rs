//! The scheduler under paused tokio time: refreshes land a margin before
//! expiry, failing connections back off, dead ones are left alone.
//!
//! The provider is an in-memory stand-in so that virtual time is the only
//! clock in play (a real socket under paused time would let timeouts fire
//! while waiting for bytes); the store is the real one.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bankdeck::domain::*;
use bankdeck::providers::{AuthRequest, GrantExpiry, Provider, RefreshFailed, TokenGrant};
use bankdeck::store::{AuditDraft, NewConnection};
use bankdeck::worker::{Clock, NextTry, ProviderEntry, Worker, WorkerOptions, scheduler};
use futures::future::BoxFuture;

const T0: UnixTime = UnixTime(1_800_000_000);

#[derive(Default)]
struct Fake {
    refreshes: AtomicUsize,
    fail: std::sync::atomic::AtomicBool,
    /// Fail as a misconfigured client would (`invalid_client`).
    misconfigured: std::sync::atomic::AtomicBool,
    /// Fail as a refresh token the provider no longer honours would
    /// (`invalid_grant`): the end user must consent again.
    reconsent: std::sync::atomic::AtomicBool,
    /// Hold every refresh until `gate` opens (a stalled provider).
    held: std::sync::atomic::AtomicBool,
    /// Panic in the next refresh (a bug in a provider client).
    panic_once: std::sync::atomic::AtomicBool,
    /// Answer the next refresh 429 with this `Retry-After`, when not 0.
    limit_once: std::sync::atomic::AtomicU64,
    /// The access tokens' lifetime, when not 0 (else 300 s).
    access_secs: std::sync::atomic::AtomicU64,
    gate: tokio::sync::Notify,
}

impl Provider for Fake {
    fn name(&self) -> &str {
        "ev"
    }
    fn kind(&self) -> ProviderKind {
        ProviderKind::Oidc
    }
    fn exchange<'a>(
        &'a self,
        _: &'a Secret,
        _: &'a str,
    ) -> BoxFuture<'a, Result<TokenGrant, OpError>> {
        Box::pin(async { Err(OpError::not_allowed("n/a")) })
    }
    fn refresh<'a>(&'a self, _: &'a Secret) -> BoxFuture<'a, Result<TokenGrant, RefreshFailed>> {
        Box::pin(async move {
            let n = self.refreshes.fetch_add(1, Ordering::SeqCst);
            #[allow(clippy::panic)] // The fault this test double exists to inject.
            if self.panic_once.swap(false, Ordering::SeqCst) {
                panic!("a provider client's bug");
            }
            while self.held.load(Ordering::SeqCst) {
                let opened = self.gate.notified();
                if !self.held.load(Ordering::SeqCst) {
                    break;
                }
                opened.await;
            }
            let wait = self.limit_once.swap(0, Ordering::SeqCst);
            if wait > 0 {
                let limited = OpError {
                    retry_after: Some(wait),
                    ..OpError::new(ErrorKind::RateLimited, "429 Too Many Requests")
                };
                return Err(limited.into());
            }
            if self.misconfigured.load(Ordering::SeqCst) {
                return Err(OpError::new(ErrorKind::Config, "invalid_client").into());
            }
            if self.reconsent.load(Ordering::SeqCst) {
                return Err(OpError::new(ErrorKind::ReauthRequired, "invalid_grant").into());
            }
            if self.fail.load(Ordering::SeqCst) {
                return Err(OpError::new(ErrorKind::Network, "connection refused").into());
            }
            Ok(TokenGrant {
                access_token: Secret::new(format!("access-{n}")),
                expiry: GrantExpiry::InSecs(match self.access_secs.load(Ordering::SeqCst) {
                    0 => 300,
                    s => s,
                }),
                refresh_token: Some(Secret::new(format!("refresh-{n}"))),
                refresh_expires_in: Some(1800),
                id_token: None,
                scopes: Scopes::default(),
                subject: None,
                session: None,
            })
        })
    }
    fn client_credentials(&self) -> BoxFuture<'_, Result<TokenGrant, OpError>> {
        Box::pin(async { Err(OpError::not_allowed("n/a")) })
    }
    fn authorization_request<'a>(
        &'a self,
        _: &'a str,
    ) -> BoxFuture<'a, Result<AuthRequest, OpError>> {
        Box::pin(async { Err(OpError::not_allowed("n/a")) })
    }
    fn redeem_code<'a>(
        &'a self,
        _: &'a AuthRequest,
        _: &'a str,
    ) -> BoxFuture<'a, Result<TokenGrant, OpError>> {
        Box::pin(async { Err(OpError::not_allowed("n/a")) })
    }
    fn logout<'a>(&'a self, _: &'a Secret) -> BoxFuture<'a, Result<(), OpError>> {
        Box::pin(async { Ok(()) })
    }
    fn delink<'a>(&'a self, _: &'a Secret, _: &'a Secret) -> BoxFuture<'a, Result<(), OpError>> {
        Box::pin(async { Err(OpError::not_allowed("n/a")) })
    }
}

struct Setup {
    _dir: tempfile::TempDir,
    worker: Worker,
    fake: Arc<Fake>,
    store: Arc<dyn bankdeck::store::Store>,
    /// `Started` events the worker has sent so far.
    started: Arc<AtomicUsize>,
    /// `ProviderPaused` messages so far.
    notices: Arc<std::sync::Mutex<Vec<String>>>,
    /// Each `Succeeded` event's connection and message so far.
    succeeded: Arc<std::sync::Mutex<Vec<(ConnectionId, String)>>>,
    /// Each `Failed` event's connection and error so far.
    failed: Arc<std::sync::Mutex<Vec<Failure>>>,
}

/// A `Failed` event's connection and error.
type Failure = (Option<ConnectionId>, OpError);

fn setup() -> Setup {
    setup_with(true)
}

fn setup_with(auto_refresh: bool) -> Setup {
    setup_config(&format!("auto_refresh = {auto_refresh}\n"))
}

fn setup_config(extra: &str) -> Setup {
    let dir = common::private_dir();
    let text = format!(
        "[providers.ev]\nkind = \"oidc\"\ntoken_url = \"http://127.0.0.1:9/t\"\nclient_id = \"c\"\n{extra}"
    );
    let cfg = bankdeck::config::parse_layers(None, &text).unwrap();
    let store = bankdeck::store::open_with_key(&dir.path().join("d"), &dir.path().join("k"), false)
        .unwrap()
        .store;
    let fake = Arc::new(Fake::default());
    let entry = ProviderEntry {
        client: fake.clone(),
        config: cfg.provider("ev").unwrap().clone(),
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let started = Arc::new(AtomicUsize::new(0));
    let counted = started.clone();
    let notices = Arc::new(std::sync::Mutex::new(Vec::new()));
    let heard = notices.clone();
    let succeeded = Arc::new(std::sync::Mutex::new(Vec::new()));
    let done = succeeded.clone();
    let failed = Arc::new(std::sync::Mutex::new(Vec::new()));
    let not_done = failed.clone();
    tokio::spawn(async move {
        while let Some(event) = rx.recv().await {
            match event {
                bankdeck::worker::Event::Started { .. } => {
                    counted.fetch_add(1, Ordering::SeqCst);
                }
                bankdeck::worker::Event::ProviderPaused { message, .. } => {
                    heard.lock().unwrap().push(message);
                }
                bankdeck::worker::Event::Succeeded { conn, message, .. } => {
                    done.lock().unwrap().push((conn.id, message));
                }
                bankdeck::worker::Event::Failed { conn_id, error, .. } => {
                    not_done.lock().unwrap().push((conn_id, error));
                }
                _ => {}
            }
        }
    });
    let opts = WorkerOptions {
        clock: Clock::tokio_from(T0),
        ..WorkerOptions::default()
    };
    let worker = Worker::new(store.clone(), vec![entry], opts, tx);
    Setup {
        _dir: dir,
        worker,
        fake,
        store,
        started,
        notices,
        succeeded,
        failed,
    }
}

fn add(store: &dyn bankdeck::store::Store, user: &str, flags: Flags) -> ConnectionId {
    let draft = |op| AuditDraft {
        at: T0,
        actor: "t".into(),
        op,
        ok: true,
        message: String::new(),
    };
    let u = store.add_user(user, None, draft(OpKind::AddUser)).unwrap();
    let c = store
        .insert_connection(
            NewConnection {
                user_id: u.id,
                provider: "ev".into(),
                kind: ProviderKind::Oidc,
                grant: Grant::AuthorizationCode,
                label: "Everifin".into(),
                remote: RemoteIds::default(),
                lifetimes: Lifetimes {
                    access: Some(AccessExpiry::At(T0.plus_secs(300))),
                    access_received_at: Some(T0),
                    has_refresh: true,
                    refresh_expires_at: Some(T0.plus_secs(1800)),
                    refresh_slides: false,
                    code_expires_at: None,
                },
                scopes: Scopes::default(),
                secrets: Secrets {
                    access_token: Some("a0".into()),
                    refresh_token: Some("r0".into()),
                    ..Secrets::default()
                },
            },
            draft(OpKind::Login),
        )
        .unwrap();
    if flags != Flags::default() {
        let update = bankdeck::store::ConnectionUpdate {
            flags: Some(flags),
            ..Default::default()
        };
        store
            .apply(c.id, c.version, update, draft(OpKind::Logout))
            .unwrap();
    }
    c.id
}

/// Lets spawned tasks and blocking store calls finish without moving time much.
async fn settle() {
    for _ in 0..50 {
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(start_paused = true)]
async fn refreshes_a_margin_before_expiry_and_not_before() {
    let s = setup();
    let id = add(&*s.store, "lena", Flags::default());
    let _sched = scheduler::spawn(s.worker.clone());
    settle().await;
    tokio::time::advance(Duration::from_secs(250)).await;
    settle().await;
    assert_eq!(
        s.fake.refreshes.load(Ordering::SeqCst),
        0,
        "300 s token, 30 s margin: not yet at 250 s"
    );
    tokio::time::advance(Duration::from_secs(25)).await;
    settle().await;
    assert_eq!(
        s.fake.refreshes.load(Ordering::SeqCst),
        1,
        "due by 270 s (margin 30 s + jitter up to 3 s)"
    );
    let c = s.store.connection(id).unwrap().unwrap();
    assert_eq!(
        s.store.secrets(id).unwrap().refresh_token.unwrap().expose(),
        "refresh-0"
    );
    let exp = c.lifetimes.access.unwrap().at().unwrap();
    assert!(
        exp > T0.plus_secs(500),
        "new expiry counted from the refresh"
    );
}

/// Keycloak with hour-long access tokens: the refresh token lapses after
/// 30 minutes unused. The first refresh shows its end moving on; from then
/// on the refresh comes before that end, not an hour's margin before the
/// access token's, by when the consent would be gone.
#[tokio::test(start_paused = true)]
async fn a_refresh_token_that_lapses_unused_is_refreshed_before_it_does() {
    let start = tokio::time::Instant::now();
    let s = setup();
    s.fake.access_secs.store(3600, Ordering::SeqCst);
    let id = add(&*s.store, "lena", Flags::default());
    let _sched = scheduler::spawn(s.worker.clone());
    settle().await;
    tokio::time::advance(Duration::from_secs(275)).await;
    settle().await;
    assert_eq!(s.fake.refreshes.load(Ordering::SeqCst), 1);
    let l = s.store.connection(id).unwrap().unwrap().lifetimes;
    assert!(l.refresh_slides, "moved on by the time passed: {l:?}");
    let end = l.refresh_expires_at.unwrap();
    assert!(l.access.unwrap().at().unwrap() > end.plus_secs(1500));
    // A 1800 s lifetime: due 180 s (+ up to 18 s) before its end.
    let to_end = Duration::from_secs(u64::try_from(end.0 - T0.0).unwrap());
    tokio::time::advance(to_end - start.elapsed() - Duration::from_secs(200)).await;
    settle().await;
    assert_eq!(s.fake.refreshes.load(Ordering::SeqCst), 1, "not yet");
    tokio::time::advance(Duration::from_secs(25)).await;
    settle().await;
    assert_eq!(s.fake.refreshes.load(Ordering::SeqCst), 2, "before its end");
    let again = s.store.connection(id).unwrap().unwrap().lifetimes;
    assert!(again.refresh_expires_at.unwrap() > end.plus_secs(1500));
    assert!(again.refresh_slides);
}

#[tokio::test(start_paused = true)]
async fn a_failing_connection_backs_off() {
    let s = setup();
    s.fake.fail.store(true, Ordering::SeqCst);
    let id = add(&*s.store, "lena", Flags::default());
    let _sched = scheduler::spawn(s.worker.clone());
    tokio::time::advance(Duration::from_secs(275)).await;
    settle().await;
    assert_eq!(s.fake.refreshes.load(Ordering::SeqCst), 1);
    // 30 s back-off: nothing at +20 s, a second try by +35 s, then 60 s.
    tokio::time::advance(Duration::from_secs(20)).await;
    settle().await;
    assert_eq!(s.fake.refreshes.load(Ordering::SeqCst), 1);
    tokio::time::advance(Duration::from_secs(15)).await;
    settle().await;
    assert_eq!(s.fake.refreshes.load(Ordering::SeqCst), 2);
    tokio::time::advance(Duration::from_secs(40)).await;
    settle().await;
    assert_eq!(
        s.fake.refreshes.load(Ordering::SeqCst),
        2,
        "second back-off is 60 s"
    );
    // Tokens are intact throughout.
    assert_eq!(
        s.store.secrets(id).unwrap().refresh_token.unwrap().expose(),
        "r0"
    );
}

/// A row renewed by hand during a long back-off is the scheduler's again at
/// once: its next refresh comes a margin before the new token ends, not when
/// the back-off of its old failures would have let it, after the new
/// minute-long token had lapsed.
#[tokio::test(start_paused = true)]
async fn a_row_renewed_by_hand_during_its_back_off_is_refreshed_on_time() {
    let s = setup();
    s.fake.fail.store(true, Ordering::SeqCst);
    let id = add(&*s.store, "lena", Flags::default());
    let _sched = scheduler::spawn(s.worker.clone());
    // Fails at about 270 s, again 30 s and 60 s later: the next try 120 s on.
    for secs in [275, 35, 65] {
        tokio::time::advance(Duration::from_secs(secs)).await;
        settle().await;
    }
    assert_eq!(s.fake.refreshes.load(Ordering::SeqCst), 3);
    s.fake.fail.store(false, Ordering::SeqCst);
    s.fake.access_secs.store(60, Ordering::SeqCst);
    s.worker.operate(OpKind::Refresh, id).await.unwrap();
    assert_eq!(s.fake.refreshes.load(Ordering::SeqCst), 4);
    // Due 30–33 s before its end, 60 s from now; the back-off ends in 100 s.
    tokio::time::advance(Duration::from_secs(45)).await;
    settle().await;
    assert_eq!(
        s.fake.refreshes.load(Ordering::SeqCst),
        5,
        "refreshed before the token renewed by hand ended"
    );
    let c = s.store.connection(id).unwrap().unwrap();
    assert_eq!(c.flags.last_error, None);
}

#[tokio::test(start_paused = true)]
async fn dead_connections_are_never_refreshed() {
    let s = setup();
    add(
        &*s.store,
        "a",
        Flags {
            reauth_required: true,
            ..Flags::default()
        },
    );
    add(
        &*s.store,
        "b",
        Flags {
            logged_out_at: Some(T0),
            ..Flags::default()
        },
    );
    add(
        &*s.store,
        "c",
        Flags {
            delinked_at: Some(T0),
            ..Flags::default()
        },
    );
    let _sched = scheduler::spawn(s.worker.clone());
    for _ in 0..10 {
        tokio::time::advance(Duration::from_secs(120)).await;
        settle().await;
    }
    assert_eq!(s.fake.refreshes.load(Ordering::SeqCst), 0);
}

/// Item 13: a configuration error cannot heal by itself; the scheduler tries
/// once and leaves the connection alone until bankdeck restarts with a
/// changed config, where a transient failure would be retried in 30 s.
#[tokio::test(start_paused = true)]
async fn a_config_error_is_not_retried() {
    let s = setup();
    s.fake.misconfigured.store(true, Ordering::SeqCst);
    let id = add(&*s.store, "lena", Flags::default());
    let _sched = scheduler::spawn(s.worker.clone());
    tokio::time::advance(Duration::from_secs(275)).await;
    settle().await;
    assert_eq!(s.fake.refreshes.load(Ordering::SeqCst), 1);
    for _ in 0..20 {
        tokio::time::advance(Duration::from_secs(120)).await;
        settle().await;
    }
    assert_eq!(
        s.fake.refreshes.load(Ordering::SeqCst),
        1,
        "a config error was retried"
    );
    assert_eq!(
        s.store.secrets(id).unwrap().refresh_token.unwrap().expose(),
        "r0"
    );
}

#[tokio::test(start_paused = true)]
async fn without_automatic_providers_the_scheduler_stops_at_once() {
    let s = setup_with(false);
    add(&*s.store, "lena", Flags::default());
    let sched = scheduler::spawn(s.worker.clone());
    settle().await;
    assert!(
        sched.is_finished(),
        "nothing to plan: no store re-reads every 30 s"
    );
    tokio::time::advance(Duration::from_secs(600)).await;
    settle().await;
    assert_eq!(s.fake.refreshes.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn a_backlog_goes_out_a_provider_s_room_at_a_time_as_operations_end() {
    let s = setup_config("auto_refresh = true\nmax_in_flight = 2\n");
    for i in 0..10 {
        add(&*s.store, &format!("user-{i}"), Flags::default());
    }
    s.fake.held.store(true, Ordering::SeqCst);
    let _sched = scheduler::spawn(s.worker.clone());
    settle().await;
    // All ten are due by 280 s; the provider hangs.
    tokio::time::advance(Duration::from_secs(280)).await;
    settle().await;
    assert_eq!(s.fake.refreshes.load(Ordering::SeqCst), 2, "two in flight");
    assert_eq!(
        s.started.load(Ordering::SeqCst),
        4,
        "two in flight and two waiting their turn; the other six not launched yet"
    );
    // The provider answers: the rest goes out as room comes back, long
    // before the next read of the store (30 s).
    s.fake.held.store(false, Ordering::SeqCst);
    s.fake.gate.notify_waiters();
    settle().await;
    assert_eq!(s.fake.refreshes.load(Ordering::SeqCst), 10);
    assert_eq!(s.started.load(Ordering::SeqCst), 10);
}

/// A row renewed by another process (a second dashboard's scheduler, a
/// cron job) after this scheduler planned it and before its turn came is
/// not refreshed again: under its lease it is read as not due any more,
/// and its line says it was renewed since, not by this refresh.
/// Two dashboards on one store refreshed every token twice.
#[tokio::test(start_paused = true)]
async fn a_row_renewed_elsewhere_before_its_turn_is_not_refreshed_again() {
    let (s, waiting) = changed_before_its_turn(|before| bankdeck::store::ConnectionUpdate {
        lifetimes: Some(Lifetimes {
            access: Some(AccessExpiry::At(T0.plus_secs(900))),
            ..before.lifetimes.clone()
        }),
        refresh_token: bankdeck::store::SecretChange::Set(Secret::new("theirs")),
        ..Default::default()
    })
    .await;
    assert_eq!(
        s.fake.refreshes.load(Ordering::SeqCst),
        2,
        "theirs was not sent again"
    );
    let kept = s.store.secrets(waiting).unwrap().refresh_token.unwrap();
    assert_eq!(kept.expose(), "theirs");
    let said = s.succeeded.lock().unwrap().clone();
    assert_eq!(said.len(), 3, "{said:?}");
    for (conn, message) in said {
        let earlier = message.starts_with(
            "renewed since it was planned, so nothing was sent; access token valid for ",
        );
        assert_eq!(earlier, conn == waiting, "{conn}: {message}");
    }
}

/// A row logged out by another process after this scheduler planned it
/// was not renewed, though nothing is due on it any more: its refresh ends
/// as ended, not as renewed since it was planned.
#[tokio::test(start_paused = true)]
async fn a_row_logged_out_elsewhere_before_its_turn_is_not_said_renewed() {
    let (s, waiting) = changed_before_its_turn(|before| bankdeck::store::ConnectionUpdate {
        flags: Some(Flags {
            logged_out_at: Some(T0.plus_secs(280)),
            ..before.flags.clone()
        }),
        ..Default::default()
    })
    .await;
    assert_eq!(s.fake.refreshes.load(Ordering::SeqCst), 2, "nothing sent");
    let said = s.succeeded.lock().unwrap().clone();
    assert!(said.iter().all(|(c, _)| *c != waiting), "{said:?}");
    let failed = s.failed.lock().unwrap().clone();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0].0, Some(waiting));
    assert_eq!(failed[0].1.kind, ErrorKind::Ended, "{:?}", failed[0].1);
}

/// Three rows planned with room for one at a time; the one not launched
/// yet is changed by another process (`change` of it, written as theirs),
/// and then the turns go on: that row, once all three turns have come.
async fn changed_before_its_turn(
    change: impl FnOnce(&Connection) -> bankdeck::store::ConnectionUpdate,
) -> (Setup, ConnectionId) {
    let s = setup_config("auto_refresh = true\nmax_in_flight = 1\n");
    let ids: Vec<ConnectionId> = ["lena", "omar", "ivan"]
        .iter()
        .map(|u| add(&*s.store, u, Flags::default()))
        .collect();
    s.fake.held.store(true, Ordering::SeqCst);
    let _sched = scheduler::spawn(s.worker.clone());
    settle().await;
    tokio::time::advance(Duration::from_secs(280)).await;
    settle().await;
    assert_eq!(
        s.started.load(Ordering::SeqCst),
        2,
        "one in flight, one waiting"
    );
    let waiting = *ids
        .iter()
        .find(|id| s.store.lease_holder(**id).unwrap().is_none())
        .expect("one row is not launched yet");
    let before = s.store.connection(waiting).unwrap().unwrap();
    let audit = AuditDraft {
        at: T0.plus_secs(280),
        actor: "other".into(),
        op: OpKind::Refresh,
        ok: true,
        message: "their change".into(),
    };
    (s.store
        .apply(waiting, before.version, change(&before), audit))
    .unwrap();
    s.fake.held.store(false, Ordering::SeqCst);
    s.fake.gate.notify_waiters();
    settle().await;
    assert_eq!(s.started.load(Ordering::SeqCst), 3, "its turn came");
    (s, waiting)
}

/// The next failure the worker reports (of request `id`, if given): its
/// connection, error and when the scheduler tries again. Fails the test if
/// none comes within 5 s of (virtual) time.
async fn next_failure(
    handle: &mut bankdeck::worker::WorkerHandle,
    id: Option<bankdeck::worker::RequestId>,
) -> (Option<ConnectionId>, OpError, Option<NextTry>) {
    let failed = async {
        loop {
            if let bankdeck::worker::Event::Failed {
                id: of,
                conn_id,
                error,
                next_try,
                ..
            } = handle.events.recv().await.unwrap()
                && id.is_none_or(|id| id == of)
            {
                break (conn_id, error, next_try);
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(5), failed)
        .await
        .expect("a failure in time")
}

/// A worker over `s`'s store and fake provider (auto-refresh on), driven by
/// commands as the screen drives it, its clock started past the refresh
/// margin of a connection `add`ed at `T0`: due at once.
fn driven_past_the_margin(s: &Setup) -> bankdeck::worker::WorkerHandle {
    let text = "[providers.ev]\nkind = \"oidc\"\ntoken_url = \"http://127.0.0.1:9/t\"\nclient_id = \"c\"\nauto_refresh = true\n";
    let cfg = bankdeck::config::parse_layers(None, text).unwrap();
    let entry = ProviderEntry {
        client: s.fake.clone(),
        config: cfg.provider("ev").unwrap().clone(),
    };
    let opts = WorkerOptions {
        clock: Clock::tokio_from(T0.plus_secs(290)),
        ..WorkerOptions::default()
    };
    Worker::spawn(s.store.clone(), vec![entry], opts)
}

#[tokio::test(start_paused = true)]
async fn on_the_dashboard_the_first_round_waits_for_the_screen_s_first_read() {
    let s = setup();
    add(&*s.store, "lena", Flags::default());
    let mut handle = driven_past_the_margin(&s);
    let _sched = scheduler::spawn_after_first_load(handle.worker.clone());
    settle().await;
    assert_eq!(
        s.fake.refreshes.load(Ordering::SeqCst),
        0,
        "waits for the screen"
    );
    handle
        .commands
        .send(bankdeck::worker::Command::Reload {
            id: bankdeck::worker::RequestId(1),
        })
        .await
        .unwrap();
    let loaded = handle.events.recv().await.unwrap();
    assert!(matches!(loaded, bankdeck::worker::Event::Loaded { .. }));
    tokio::spawn(async move { while handle.events.recv().await.is_some() {} });
    settle().await;
    assert_eq!(
        s.fake.refreshes.load(Ordering::SeqCst),
        1,
        "then the round runs"
    );
}

#[tokio::test(start_paused = true)]
async fn without_a_screen_read_the_first_round_starts_after_a_few_seconds() {
    let s = setup();
    add(&*s.store, "lena", Flags::default());
    tokio::time::advance(Duration::from_secs(290)).await;
    let _sched = scheduler::spawn_after_first_load(s.worker.clone());
    settle().await;
    assert_eq!(s.fake.refreshes.load(Ordering::SeqCst), 0);
    tokio::time::advance(scheduler::FIRST_LOAD_WAIT).await;
    settle().await;
    assert_eq!(s.fake.refreshes.load(Ordering::SeqCst), 1);
}

/// `n` due rows of a provider that refuses every connection, and its
/// scheduler 280 s on: five failures have paused it.
async fn failing_for_280s(n: usize) -> (Setup, Vec<ConnectionId>, tokio::task::JoinHandle<()>) {
    let s = setup_config("auto_refresh = true\nmax_in_flight = 2\n");
    let ids: Vec<_> = (0..n)
        .map(|i| add(&*s.store, &format!("user-{i}"), Flags::default()))
        .collect();
    s.fake.fail.store(true, Ordering::SeqCst);
    let sched = scheduler::spawn(s.worker.clone());
    settle().await;
    tokio::time::advance(Duration::from_secs(280)).await;
    settle().await;
    (s, ids, sched)
}

/// The providers the scheduler's record says it has paused, for `check`.
fn scheduler_paused(s: &Setup) -> Vec<String> {
    match s.store.renewals().unwrap().as_slice() {
        [Renewal::Scheduler { paused, .. }] => paused.clone(),
        other => panic!("one scheduler record expected, found {other:?}"),
    }
}

/// An operator's own refresh that the paused provider answers ends the
/// pause at once, as the probe's answer would: the screen said "paused",
/// and `check` that nothing renewed its tokens, until a token came due for
/// a probe, minutes on.
#[tokio::test(start_paused = true)]
async fn an_operators_answer_ends_a_providers_pause() {
    // As many rows as failures trip the pause: all of them were sent and
    // are backing off, so no row is queued behind it. With eight, the rows
    // not yet launched when it tripped went out on the resume, and the
    // count of requests below depended on the threads' timing.
    let (s, ids, _sched) = failing_for_280s(5).await;
    let paused = || scheduler_paused(&s);
    assert_eq!(paused(), vec!["ev".to_owned()]);
    // Recorded at once, though nothing was queued behind the pause.
    let sent = s.fake.refreshes.load(Ordering::SeqCst);
    // Well within the pause, which no probe ends before 30 s.
    tokio::time::advance(Duration::from_secs(5)).await;
    s.fake.fail.store(false, Ordering::SeqCst);
    s.worker
        .operate(OpKind::Refresh, ids[0])
        .await
        .expect("the operator's refresh");
    settle().await;
    let notices = s.notices.lock().unwrap().clone();
    assert!(
        notices.last().unwrap().contains("ev answers again"),
        "{notices:?}"
    );
    assert_eq!(paused(), Vec::<String>::new());
    assert_eq!(
        s.fake.refreshes.load(Ordering::SeqCst),
        sent + 1,
        "no probe: the failed rows wait out their own back-off"
    );
}

/// A provider that stops answering: after five failures in a row its
/// automatic work pauses (the other 35 due tokens are not sent a request
/// each), then one goes out alone; once that one succeeds, the rest follow.
#[tokio::test(start_paused = true)]
async fn a_provider_that_stops_answering_is_paused_then_probed() {
    let (s, ids, _sched) = failing_for_280s(40).await;
    let sent = s.fake.refreshes.load(Ordering::SeqCst);
    assert!(
        (5..=8).contains(&sent),
        "five to trip it, and at most the three then waiting their turn: {sent}"
    );
    // Recorded at once, for `check` in another process.
    let paused = || scheduler_paused(&s);
    assert_eq!(paused(), vec!["ev".to_owned()]);
    {
        let notices = s.notices.lock().unwrap();
        assert_eq!(notices.len(), 1, "{notices:?}");
        assert!(
            notices[0]
                .contains("ev: 5 automatic operations in a row failed (last: connection refused)"),
            "{notices:?}"
        );
        assert!(notices[0].contains("waits 30 s"), "{notices:?}");
    }
    // Paused for 30 s: nothing goes out, however long the backlog.
    tokio::time::advance(Duration::from_secs(25)).await;
    settle().await;
    assert_eq!(s.fake.refreshes.load(Ordering::SeqCst), sent);
    // Then one probe, alone; it fails, and the pause doubles.
    tokio::time::advance(Duration::from_secs(6)).await;
    settle().await;
    assert_eq!(s.fake.refreshes.load(Ordering::SeqCst), sent + 1);
    assert!(
        s.notices.lock().unwrap()[1].contains("waits 60 s"),
        "{:?}",
        s.notices.lock().unwrap()
    );
    tokio::time::advance(Duration::from_secs(55)).await;
    settle().await;
    assert_eq!(s.fake.refreshes.load(Ordering::SeqCst), sent + 1);
    // The provider is back: the next probe succeeds and the rest follow
    // (the connections that failed wait out their own back-off).
    s.fake.fail.store(false, Ordering::SeqCst);
    tokio::time::advance(Duration::from_secs(6)).await;
    settle().await;
    assert!(
        s.notices
            .lock()
            .unwrap()
            .last()
            .unwrap()
            .contains("ev answers again"),
        "{:?}",
        s.notices.lock().unwrap()
    );
    assert_eq!(paused(), Vec::<String>::new());
    for _ in 0..10 {
        tokio::time::advance(Duration::from_secs(60)).await;
        settle().await;
    }
    for id in ids {
        let refresh = s.store.secrets(id).unwrap().refresh_token.unwrap();
        assert!(
            refresh.expose().starts_with("refresh-"),
            "connection {id:?} was refreshed once the provider answered"
        );
    }
}

/// A provider's 429 with `Retry-After: 120` holds the scheduler's whole
/// backlog for it until the time named, not only the row that got it: none
/// is started meanwhile. Then the backlog goes out, and only the first
/// request ever reached the provider early.
#[tokio::test(start_paused = true)]
async fn a_wait_the_provider_asks_for_holds_the_whole_backlog() {
    let s = setup_config("auto_refresh = true\nmax_in_flight = 1\n");
    let ids: Vec<_> = (0..6)
        .map(|i| add(&*s.store, &format!("user-{i}"), Flags::default()))
        .collect();
    s.fake.limit_once.store(120, Ordering::SeqCst);
    let _sched = scheduler::spawn(s.worker.clone());
    settle().await;
    tokio::time::advance(Duration::from_secs(280)).await;
    settle().await;
    assert_eq!(s.fake.refreshes.load(Ordering::SeqCst), 1);
    assert_eq!(
        s.started.load(Ordering::SeqCst),
        2,
        "the one told to wait, and the one that was waiting its turn (not sent)"
    );
    tokio::time::advance(Duration::from_secs(110)).await;
    settle().await;
    assert_eq!(s.fake.refreshes.load(Ordering::SeqCst), 1, "still waiting");
    assert_eq!(s.started.load(Ordering::SeqCst), 2);
    for _ in 0..5 {
        tokio::time::advance(Duration::from_secs(30)).await;
        settle().await;
    }
    for id in ids {
        let refresh = s.store.secrets(id).unwrap().refresh_token.unwrap();
        assert!(
            refresh.expose().starts_with("refresh-"),
            "connection {id:?} was refreshed after the wait"
        );
    }
    assert_eq!(
        s.fake.refreshes.load(Ordering::SeqCst),
        7,
        "the refused one, then each once"
    );
}

/// `x` on a row the scheduler is refreshing reaches it as it reaches the
/// operator's own: a refresh stuck on a stalled provider, its request out,
/// is left to its answer at the first `x` and ends as cancelled at the
/// second, and the connection is refreshed again after its back-off, not
/// at once and not never.
#[tokio::test(start_paused = true)]
async fn a_scheduled_refresh_can_be_cancelled_and_comes_back_after_its_back_off() {
    use bankdeck::worker::{Command, Event};
    let s = setup();
    let conn = add(&*s.store, "lena", Flags::default());
    s.fake.held.store(true, Ordering::SeqCst);
    let mut handle = driven_past_the_margin(&s);
    let _sched = scheduler::spawn(handle.worker.clone());
    let id = loop {
        if let Event::Started {
            id, conn: Some(c), ..
        } = handle.events.recv().await.unwrap()
            && c == conn
        {
            break id;
        }
    };
    settle().await;
    assert_eq!(s.fake.refreshes.load(Ordering::SeqCst), 1);
    handle.commands.send(Command::Cancel { id }).await.unwrap();
    handle.commands.send(Command::Cancel { id }).await.unwrap();
    let (_, error, _) = next_failure(&mut handle, Some(id)).await;
    assert_eq!(error.kind, ErrorKind::Cancelled, "{error}");
    assert!(!handle.worker.is_busy(conn));
    tokio::spawn(async move { while handle.events.recv().await.is_some() {} });

    s.fake.held.store(false, Ordering::SeqCst);
    s.fake.gate.notify_waiters();
    settle().await;
    assert_eq!(
        s.fake.refreshes.load(Ordering::SeqCst),
        1,
        "not again at once"
    );
    tokio::time::advance(Duration::from_secs(40)).await;
    settle().await;
    assert_eq!(
        s.fake.refreshes.load(Ordering::SeqCst),
        2,
        "again after the back-off"
    );
    assert_eq!(
        s.store
            .secrets(conn)
            .unwrap()
            .refresh_token
            .unwrap()
            .expose(),
        "refresh-1"
    );
}

/// A scheduled refresh that panics fails its row with the internal error,
/// and the connection is scheduled again after its back-off (it used to stay
/// marked busy in the scheduler for good).
#[tokio::test(start_paused = true)]
async fn a_panicking_scheduled_refresh_fails_its_row_and_comes_back() {
    let s = setup();
    let conn = add(&*s.store, "lena", Flags::default());
    s.fake.panic_once.store(true, Ordering::SeqCst);
    let mut handle = driven_past_the_margin(&s);
    let _sched = scheduler::spawn(handle.worker.clone());
    let (failed_on, error, _) = next_failure(&mut handle, None).await;
    assert_eq!(failed_on, Some(conn));
    assert_eq!(error.kind, ErrorKind::Internal, "{error}");
    tokio::spawn(async move { while handle.events.recv().await.is_some() {} });
    tokio::time::advance(Duration::from_secs(40)).await;
    settle().await;
    assert_eq!(s.fake.refreshes.load(Ordering::SeqCst), 2);
    assert_eq!(
        s.store
            .secrets(conn)
            .unwrap()
            .refresh_token
            .unwrap()
            .expose(),
        "refresh-1"
    );
}

/// A scheduled failure says when the scheduler tries again, so the screen
/// can: after its back-off, stretched by a server's `Retry-After`; never
/// while the configuration is at fault; and not at all once the failure took
/// the row out of the plan (re-consent required).
#[tokio::test(start_paused = true)]
async fn a_scheduled_failure_says_when_it_is_tried_again() {
    let s = setup();
    let conn = add(&*s.store, "lena", Flags::default());
    s.fake.fail.store(true, Ordering::SeqCst);
    let mut handle = driven_past_the_margin(&s);
    let _sched = scheduler::spawn(handle.worker.clone());
    let start = T0.plus_secs(290);
    let (on, error, next) = next_failure(&mut handle, None).await;
    assert_eq!(on, Some(conn));
    assert_eq!(error.kind, ErrorKind::Network, "{error}");
    assert_eq!(next, Some(NextTry::After(start.plus_secs(30))));
    // The second failure in a row waits twice as long.
    tokio::time::advance(Duration::from_secs(31)).await;
    let (_, _, next) = next_failure(&mut handle, None).await;
    let now = handle.worker.now();
    assert_eq!(next, Some(NextTry::After(now.plus_secs(60))));

    s.fake.fail.store(false, Ordering::SeqCst);
    s.fake.misconfigured.store(true, Ordering::SeqCst);
    tokio::time::advance(Duration::from_secs(61)).await;
    let (_, error, next) = next_failure(&mut handle, None).await;
    assert_eq!(error.kind, ErrorKind::Config, "{error}");
    assert_eq!(next, Some(NextTry::AfterRestart));
}

#[tokio::test(start_paused = true)]
async fn a_scheduled_failure_that_needs_consent_is_not_tried_again() {
    let s = setup();
    let conn = add(&*s.store, "lena", Flags::default());
    s.fake.reconsent.store(true, Ordering::SeqCst);
    let mut handle = driven_past_the_margin(&s);
    let _sched = scheduler::spawn(handle.worker.clone());
    let (on, error, next) = next_failure(&mut handle, None).await;
    assert_eq!(on, Some(conn));
    assert_eq!(error.kind, ErrorKind::ReauthRequired, "{error}");
    assert_eq!(
        next, None,
        "the row waits for its user, not for the scheduler"
    );
    assert!(
        s.store
            .connection(conn)
            .unwrap()
            .unwrap()
            .flags
            .reauth_required
    );
}

/// A running scheduler records so in the store about once a minute, with
/// the providers it renews: what `check` in another process weighs before
/// it trusts `auto_refresh`. One that does not run records nothing.
#[tokio::test(start_paused = true)]
async fn a_running_scheduler_records_that_it_runs_about_once_a_minute() {
    let s = setup();
    let started = tokio::time::Instant::now();
    let _sched = scheduler::spawn(s.worker.clone());
    settle().await;
    let beat = |store: &dyn bankdeck::store::Store| match store.renewals().unwrap().as_slice() {
        [
            Renewal::Scheduler {
                at,
                providers,
                paused,
                ended: false,
                ..
            },
        ] => {
            assert_eq!(providers, &["ev".to_owned()]);
            assert!(paused.is_empty());
            *at
        }
        other => panic!("one scheduler record expected, found {other:?}"),
    };
    let first = beat(&*s.store);
    assert!(first.secs_until(T0).abs() <= 1, "{first:?}");
    tokio::time::advance(Duration::from_secs(31)).await;
    settle().await;
    assert_eq!(beat(&*s.store), first, "not more often than once a minute");
    for _ in 0..3 {
        tokio::time::advance(Duration::from_secs(31)).await;
        settle().await;
    }
    let later = beat(&*s.store);
    let now = T0.plus_secs(i64::try_from(started.elapsed().as_secs()).unwrap());
    assert!(
        first < later && later.secs_until(now) <= 95,
        "{first:?}, then {later:?} at {now:?}: a pass every 30 s at most, a record at most a minute after the last"
    );

    let idle = setup_with(false);
    let _sched = scheduler::spawn(idle.worker.clone());
    tokio::time::advance(Duration::from_secs(120)).await;
    settle().await;
    assert_eq!(idle.store.renewals().unwrap(), vec![]);
}
