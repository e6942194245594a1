//! The worker: runs operations against providers and the store, off the screen's thread.
//!
//! An actor fed by a bounded channel of [`Command`]s; each command runs as its
//! own task and answers with [`Event`]s carrying their payload. It owns the
//! provider clients and the store handle, so the screen never does I/O. Every
//! result is written to the store (tokens and audit line in one transaction)
//! *before* it is reported: a rotated refresh token is never only in memory.
//! The command line drives the same operations by calling [`Worker`]'s
//! methods directly.

mod batch;
mod breaker;
mod bulk;
mod clock;
mod flight;
mod halt;
mod keep;
mod lease;
mod link;
mod ops;
pub mod protocol;
pub mod scheduler;
pub mod tokens;
mod wait;
mod window;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::FutureExt;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::AbortHandle;

pub use clock::Clock;
pub use flight::{Done, DoneBy};
pub use link::APP_USER;
pub use protocol::*;

use crate::config::ProviderConfig;
use crate::domain::{
    Connection, ConnectionId, ErrorKind, OpError, OpKind, ProviderWait, Secrets, UnixTime,
};
use crate::providers::Provider;
use crate::store::{AuditDraft, ConnectionHead, LeaseRequest, Settlement, Store, StoreError};
use batch::Batcher;
use flight::Flights;

/// Commands waiting for the worker; the screen shows "worker busy" past this.
pub const COMMAND_QUEUE: usize = 256;
/// Events waiting for the front end.
pub const EVENT_QUEUE: usize = 1024;

/// Why nothing can be sent for a connection of a provider the config lacks,
/// as the worker refuses it and as the screen refuses it before asking.
pub fn not_configured<'a>(provider: &str, configured: impl IntoIterator<Item = &'a str>) -> String {
    let mut names: Vec<&str> = configured.into_iter().collect();
    names.sort_unstable();
    let has = (!names.is_empty()).then(|| names.join(", "));
    // Typed by an operator (`waits lift ""`): said as what it cannot be,
    // its characters escaped, not as a table to add.
    if !crate::config::is_provider_name(provider) {
        return format!(
            "{provider:?} cannot name a provider ({}): the configuration has {}",
            crate::config::PROVIDER_NAME_RULE,
            has.as_deref().unwrap_or("none")
        );
    }
    match has {
        None => format!(
            "provider '{provider}' is not in the configuration, which has none: add \
             [providers.{provider}]"
        ),
        Some(has) => format!(
            "provider '{provider}' is not in the configuration (it has {has}): add \
             [providers.{provider}]"
        ),
    }
}

/// A provider's client with the settings the worker needs about it.
pub struct ProviderEntry {
    pub client: Arc<dyn Provider>,
    pub config: ProviderConfig,
}

#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Who the audit log names: the OS user.
    pub actor: String,
    pub readonly: bool,
    pub clock: Clock,
    /// How long a browser login waits for its callback.
    pub login_timeout: Duration,
    /// Open the browser for logins (else only show the URL).
    pub open_browser: bool,
    /// Fault injection for tests (`--debug-panic`): the next operation of
    /// this kind panics inside its task, to prove a panic is contained.
    pub panic_on: Option<OpKind>,
    /// How long a success's write is tried again when the store cannot take
    /// it (a full disk, another process's write lock) before the operation
    /// fails and the provider's answer is lost.
    pub keep_writing: Duration,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        Self {
            actor: os_user(),
            readonly: false,
            clock: Clock::System,
            login_timeout: Duration::from_secs(300),
            open_browser: true,
            panic_on: None,
            keep_writing: Duration::from_secs(120),
        }
    }
}

pub(crate) struct Slot {
    pub client: Arc<dyn Provider>,
    pub config: ProviderConfig,
    /// Bounds requests to this provider (`max_in_flight`).
    pub permits: Arc<Semaphore>,
    /// Bounds the operations that hold their lease while they wait for one
    /// of `permits` (as many again): a freed slot sends its next request at
    /// once instead of first waiting for a lease behind the store's commit.
    pub ahead: Arc<Semaphore>,
    /// Until when the provider asked to be sent nothing.
    pub asked_wait: wait::AskedWait,
    /// How many operations it has answered (see [`breaker::answers`]), for
    /// the scheduler to end a pause on an operator's answer.
    pub answers: std::sync::atomic::AtomicU64,
}

pub(crate) struct Inner {
    pub store: Arc<dyn Store>,
    pub providers: HashMap<String, Slot>,
    pub events: mpsc::Sender<Event>,
    pub opts: WorkerOptions,
    pub flights: Flights,
    /// Running commands, to drop one that has no [`halt::Halt`] when it is
    /// cancelled.
    pub tasks: Mutex<HashMap<RequestId, AbortHandle>>,
    /// Names this process in store leases.
    pub holder: String,
    /// Whether `opts.panic_on` is still to fire (it fires once).
    pub panic_armed: std::sync::atomic::AtomicBool,
    /// Whether a front end has had its first full read (see
    /// [`scheduler::spawn_after_first_load`]).
    pub first_load: tokio::sync::watch::Sender<bool>,
    /// Set, under its lock, as the scheduler's end is recorded: a beat
    /// still on its way to the store then writes nothing after it.
    pub scheduler_ended: Arc<Mutex<bool>>,
    /// Set by [`Worker::stop_sending`]: no request goes out any more; it
    /// also wakes what waits on no request (a login's browser).
    pub stopping: halt::Halt,
    /// Operations whose request is out and whose outcome is not yet
    /// written, and a wake-up each time one ends (see [`Worker::wait_for_sent`]).
    pub sent: std::sync::atomic::AtomicUsize,
    pub settled: tokio::sync::Notify,
    /// Commands whose task has not ended (see [`Worker::wait_for_told`]);
    /// each end wakes `settled` too.
    pub telling: std::sync::atomic::AtomicUsize,
    /// Woken when a provider answers an operation: a scheduler whose
    /// provider is paused then ends the pause.
    pub provider_answered: tokio::sync::Notify,
    /// Providers' answers waiting for the store to take them (see
    /// [`Worker::keep_writing`]): the operator is told when the first
    /// starts waiting, not once for each of a bulk's.
    pub unwritten: std::sync::atomic::AtomicUsize,
    /// Connections whose provider's answer is in hand and not yet written:
    /// a cancel leaves the operation on one to finish, since stopping it
    /// would drop the answer.
    pub answered: Mutex<std::collections::HashSet<ConnectionId>>,
    /// Connections whose operation has its request out: a first cancel
    /// leaves it to its answer, which may carry the only copy of a rotated
    /// token; a second drops it.
    pub out: Mutex<HashMap<ConnectionId, crate::domain::OpKind>>,
    /// Running bulks and logins, each with what tells it to stop (see
    /// [`Worker::cancel`]).
    pub halts: Mutex<HashMap<RequestId, Arc<halt::Halt>>>,
    /// The three store calls every operation makes, batched across tasks.
    pub heads: Batcher<ConnectionId, Option<ConnectionHead>>,
    pub leases: Batcher<LeaseRequest, Option<(Connection, Secrets)>>,
    pub settles: Batcher<Arc<Settlement>, Connection>,
    /// Whole-row reads: the connection a failure event carries, and the row
    /// another process has just refreshed.
    pub reads: Batcher<ConnectionId, Option<Connection>>,
    /// When the providers' waits were last read from the store (see
    /// [`Worker::heed_stored_waits`]); locked while they are read, so that
    /// the operations at a process's start wait for the first read.
    pub waits_read: tokio::sync::Mutex<Option<std::time::Instant>>,
}

/// One operation's request out, until its outcome is written or it is
/// dropped (a cancelled task); see [`Worker::wait_for_sent`].
pub(crate) struct Sending<'a>(&'a Worker, Option<ConnectionId>);

impl Sending<'_> {
    /// Marks `conn`'s operation `op` as out (`Inner::out`) while this lives.
    pub(crate) fn on(mut self, conn: ConnectionId, op: crate::domain::OpKind) -> Self {
        lock(&self.0.inner.out).insert(conn, op);
        self.1 = Some(conn);
        self
    }
}

impl Drop for Sending<'_> {
    fn drop(&mut self) {
        let inner = &self.0.inner;
        if let Some(conn) = self.1 {
            lock(&inner.out).remove(&conn);
        }
        inner.sent.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        inner.settled.notify_waiters();
    }
}

/// A command's task, from its dispatch until it has ended, its outcome
/// told (see [`Worker::wait_for_told`]); dropped with the task if it is
/// aborted.
struct Telling(Arc<Inner>);

impl Telling {
    fn new(inner: &Arc<Inner>) -> Self {
        inner
            .telling
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Telling(inner.clone())
    }
}

impl Drop for Telling {
    fn drop(&mut self) {
        self.0
            .telling
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        self.0.settled.notify_waiters();
    }
}

/// A cheap handle to the worker; clones share everything.
#[derive(Clone)]
pub struct Worker {
    pub(crate) inner: Arc<Inner>,
}

/// What `spawn` gives the front end: where to send commands, where events come.
pub struct WorkerHandle {
    pub commands: mpsc::Sender<Command>,
    pub events: mpsc::Receiver<Event>,
    pub worker: Worker,
}

impl Worker {
    pub fn new(
        store: Arc<dyn Store>,
        providers: Vec<ProviderEntry>,
        opts: WorkerOptions,
        events: mpsc::Sender<Event>,
    ) -> Worker {
        let providers = providers
            .into_iter()
            .map(|p| {
                let in_flight = p.config.common.max_in_flight.max(1);
                let slot = Slot {
                    permits: Arc::new(Semaphore::new(in_flight)),
                    ahead: Arc::new(Semaphore::new(in_flight)),
                    client: p.client,
                    config: p.config,
                    asked_wait: wait::AskedWait::default(),
                    answers: Default::default(),
                };
                (slot.config.name.clone(), slot)
            })
            .collect();
        let holder = lease::holder_name(&opts.actor);
        let heads = {
            let store = store.clone();
            Batcher::new(move |ids: Vec<ConnectionId>| store.heads(&ids))
        };
        let reads = {
            let store = store.clone();
            Batcher::new(move |ids: Vec<ConnectionId>| store.connections_by_id(&ids))
        };
        let leases = {
            let (store, holder) = (store.clone(), holder.clone());
            Batcher::new(move |batch: Vec<LeaseRequest>| store.lease_and_read_many(batch, &holder))
        };
        let settles = {
            let (store, holder) = (store.clone(), holder.clone());
            Batcher::new(move |batch| store.apply_and_release_many(batch, &holder))
        };
        Worker {
            inner: Arc::new(Inner {
                heads,
                reads,
                leases,
                settles,
                store,
                providers,
                events,
                opts,
                flights: Flights::default(),
                tasks: Mutex::new(HashMap::new()),
                holder,
                panic_armed: std::sync::atomic::AtomicBool::new(true),
                first_load: tokio::sync::watch::Sender::new(false),
                scheduler_ended: Arc::default(),
                stopping: halt::Halt::default(),
                sent: std::sync::atomic::AtomicUsize::new(0),
                settled: tokio::sync::Notify::new(),
                telling: std::sync::atomic::AtomicUsize::new(0),
                provider_answered: tokio::sync::Notify::new(),
                unwritten: std::sync::atomic::AtomicUsize::new(0),
                answered: Mutex::default(),
                out: Mutex::default(),
                halts: Mutex::default(),
                waits_read: tokio::sync::Mutex::default(),
            }),
        }
    }

    /// Starts the actor loop; it ends when every command sender is dropped.
    pub fn spawn(
        store: Arc<dyn Store>,
        providers: Vec<ProviderEntry>,
        opts: WorkerOptions,
    ) -> WorkerHandle {
        let (cmd_tx, mut cmd_rx) = mpsc::channel::<Command>(COMMAND_QUEUE);
        let (ev_tx, ev_rx) = mpsc::channel(EVENT_QUEUE);
        let worker = Worker::new(store, providers, opts, ev_tx);
        let actor = worker.clone();
        tokio::spawn(async move {
            while let Some(cmd) = cmd_rx.recv().await {
                actor.dispatch(cmd);
            }
        });
        WorkerHandle {
            commands: cmd_tx,
            events: ev_rx,
            worker,
        }
    }

    pub fn now(&self) -> UnixTime {
        self.inner.opts.clock.now()
    }

    /// From now on no operation sends its request, and a bulk starts no
    /// more. Those already sent run to the end and are written: a provider
    /// that rotated a refresh token or spent a one-time code has answered
    /// with the only copy of the new one. The rest end as
    /// [`ErrorKind::Cancelled`], their tokens untouched. For a command
    /// interrupted by Ctrl-C.
    pub fn stop_sending(&self) {
        self.inner.stopping.stop();
    }

    /// Returns once [`Worker::stop_sending`] has come.
    pub(crate) async fn until_stopping(&self) {
        self.inner.stopping.stopped().await;
    }

    /// How many operations have their request out and their outcome not
    /// yet written.
    pub fn sending(&self) -> usize {
        self.inner.sent.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// After [`Worker::stop_sending`]: waits until every request already
    /// out is answered and written, or `limit` passed; how many were still
    /// out. A front end that ends calls it, so that leaving does not drop a
    /// token a provider has just rotated.
    pub async fn wait_for_sent(&self, limit: std::time::Duration) -> usize {
        self.wait_as_sent_end(limit, || self.sending() == 0).await;
        self.sending()
    }

    /// Waits until `done` holds, looked at again each time an operation
    /// sent or a command's task ends, or `limit` passed.
    async fn wait_as_sent_end(&self, limit: std::time::Duration, done: impl Fn() -> bool) {
        let wait = async {
            loop {
                let ended = self.inner.settled.notified();
                if done() {
                    return;
                }
                ended.await;
            }
        };
        let _ = tokio::time::timeout(limit, wait).await;
    }

    /// How many providers' answers are waiting for the store to take them
    /// (a full disk, another process's lock; see `keep.rs`).
    pub fn waiting_for_store(&self) -> usize {
        self.inner
            .unwritten
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// An audit line for each operation whose request is out, as they are
    /// abandoned (a second Ctrl-C, a dashboard left past its wait).
    pub async fn record_abandoned(&self) {
        let out: Vec<_> = lock(&self.inner.out)
            .iter()
            .map(|(c, op)| (*c, *op))
            .collect();
        for (conn, op) in out {
            self.record_abandoned_one(conn, op).await;
        }
    }

    /// The audit line of `op` on `conn`, abandoned with its request out,
    /// and the same words as the row's last error, so that the table,
    /// `status` and `check` show what may be spent: nothing else records
    /// it, since the operation that would have written its outcome is
    /// dropped, and a "re-consent required" later is read against it. The
    /// same write gives back the operation's lease, which would otherwise
    /// hold the row from other processes until this one has gone.
    pub(crate) async fn record_abandoned_one(&self, conn: ConnectionId, op: crate::domain::OpKind) {
        let message = abandoned(op);
        let draft = self.audit(op, false, message.clone());
        let holder = self.inner.holder.clone();
        let written = self
            .db(move |s| {
                let on_row = s.connection(conn)?.map(|base| {
                    let update = tokens::failure_update(&base, &message);
                    s.apply_and_release(base, update, draft.clone(), &holder)
                });
                match on_row {
                    Some(Ok(_)) => Ok(()),
                    // Written meanwhile, or gone: the line alone still tells.
                    _ => s.append_audit(Some(conn), draft),
                }
            })
            .await;
        if let Err(e) = written {
            tracing::warn!(connection = conn.0, error = %e, "could not record an abandoned {op}");
        }
    }

    /// After [`Worker::wait_for_sent`] has given up on the requests out:
    /// waits on while an answer that has come is waiting for the store,
    /// since leaving would drop what the provider issued (each such wait
    /// ends by itself within `keep_writing`); how many are still out.
    pub async fn wait_for_stored(&self) -> usize {
        let limit = self.inner.opts.keep_writing + std::time::Duration::from_secs(5);
        self.wait_as_sent_end(limit, || {
            self.sending() == 0 || self.waiting_for_store() == 0
        })
        .await;
        // The operation whose write has just gone through is still ending.
        self.wait_for_sent(std::time::Duration::from_secs(1)).await
    }

    /// After [`Worker::wait_for_sent`] found nothing out: waits, up to
    /// `limit`, until every command's task has ended; whether they all had.
    /// An operation stops counting as sent once its outcome is written, and
    /// says so on the events a moment later: a front end that reads them
    /// to say how each ended waits for this, reading meanwhile.
    pub async fn wait_for_told(&self, limit: std::time::Duration) -> bool {
        let told = || self.inner.telling.load(std::sync::atomic::Ordering::SeqCst) == 0;
        self.wait_as_sent_end(limit, told).await;
        told()
    }

    /// Counts operation `op` as sent, unless [`Worker::stop_sending`] came
    /// first: the one check both sides agree on, counted before it is made
    /// so that `wait_for_sent` cannot miss an operation that passed it.
    pub(crate) fn begin_sending(&self, op: OpKind) -> Result<Sending<'_>, OpError> {
        self.inner
            .sent
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let sending = Sending(self, None);
        if self.stopping() {
            return Err(OpError::new(
                ErrorKind::Cancelled,
                format!("{op} stopped before it was sent: nothing changed"),
            ));
        }
        Ok(sending)
    }

    pub(crate) fn stopping(&self) -> bool {
        self.inner.stopping.is_stopped()
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    pub fn is_busy(&self, conn: ConnectionId) -> bool {
        self.inner.flights.busy(conn)
    }

    /// Runs one command as its own task. A panic inside it is caught and
    /// reported as a failure, so the screen and the other tasks live on.
    fn dispatch(&self, cmd: Command) {
        if let Command::Cancel { id } = cmd {
            self.cancel(id);
            return;
        }
        let id = cmd.id();
        let target = cmd.target();
        if target.is_some() || matches!(cmd, Command::RefreshMany { .. } | Command::Login { .. }) {
            // Before its task runs, so that a cancel finds it from the start.
            lock(&self.inner.halts).entry(id).or_default();
        }
        let this = self.clone();
        let telling = Telling::new(&self.inner);
        let task = tokio::spawn(async move {
            let _telling = telling;
            let run = std::panic::AssertUnwindSafe(this.execute(cmd)).catch_unwind();
            if run.await.is_err() {
                tracing::error!(request = id.0, "background task panicked");
                let message = internal_error(id);
                this.emit(Event::Notice {
                    message: message.clone(),
                })
                .await;
                // The row that waits for this request must stop being busy.
                if let Some((op, conn)) = target {
                    this.emit(Event::Failed {
                        id,
                        op,
                        conn_id: Some(conn),
                        conn: this.reread(conn).await.map(Box::new),
                        error: OpError::new(ErrorKind::Internal, message),
                        next_try: None,
                    })
                    .await;
                }
            }
            this.forget(id);
        });
        lock(&self.inner.tasks).insert(id, task.abort_handle());
    }

    /// Tells the operation, the bulk or the login of request `id` to stop
    /// (see `halt.rs`): each stops itself and says so. One whose request is
    /// out is left to its answer or its deadline, and dropped only at a
    /// second cancel; one whose answer is in hand and not yet written is
    /// left to finish (stopping either would lose what the provider
    /// issued). Any other command is dropped. Tokens are untouched:
    /// a result is only ever written by the operation itself.
    fn cancel(&self, id: RequestId) {
        if let Some(halt) = lock(&self.inner.halts).get(&id) {
            halt.stop();
            return;
        }
        let Some(task) = lock(&self.inner.tasks).remove(&id) else {
            return;
        };
        if task.is_finished() {
            // It already reported its own outcome.
            return;
        }
        task.abort();
        let this = self.clone();
        tokio::spawn(async move {
            let message = format!("request {} cancelled", id.0);
            this.emit(Event::Notice { message }).await;
        });
    }

    /// Whether the provider's answer for `conn` is in hand and not yet written.
    pub(crate) fn answered(&self, conn: ConnectionId) -> bool {
        lock(&self.inner.answered).contains(&conn)
    }

    /// Whether the operation on `conn` has its request out.
    pub(crate) fn is_out(&self, conn: ConnectionId) -> bool {
        lock(&self.inner.out).contains_key(&conn)
    }

    fn forget(&self, id: RequestId) {
        lock(&self.inner.tasks).remove(&id);
    }

    pub(crate) async fn emit(&self, event: Event) {
        // The front end may have quit; results are in the store either way.
        let _ = self.inner.events.send(event).await;
    }

    /// Until when `provider` asked to be sent nothing, if that is still ahead.
    pub(crate) fn asked_wait(&self, provider: &str, now: UnixTime) -> Option<UnixTime> {
        let slot = self.inner.providers.get(provider)?;
        slot.asked_wait.until(now)
    }

    /// How many operations `provider` has answered in this process.
    pub(crate) fn answers(&self, provider: &str) -> u64 {
        (self.inner.providers.get(provider)).map_or(0, |slot| {
            slot.answers.load(std::sync::atomic::Ordering::SeqCst)
        })
    }

    /// [`asked_wait`](Self::asked_wait), and the words of the answer that asked.
    pub(crate) fn asked_wait_why(&self, provider: &str, now: UnixTime) -> Option<ProviderWait> {
        let slot = self.inner.providers.get(provider)?;
        slot.asked_wait.asked(now)
    }

    pub(crate) fn slot(&self, provider: &str) -> Result<&Slot, OpError> {
        self.inner.providers.get(provider).ok_or_else(|| {
            let names = self.inner.providers.keys().map(String::as_str);
            OpError::new(ErrorKind::Config, not_configured(provider, names))
        })
    }

    pub(crate) fn audit(
        &self,
        op: crate::domain::OpKind,
        ok: bool,
        message: impl Into<String>,
    ) -> AuditDraft {
        AuditDraft {
            at: self.now(),
            actor: self.inner.opts.actor.clone(),
            op,
            ok,
            message: message.into(),
        }
    }

    /// Runs a store call off the async threads: SQLite with `synchronous=FULL`
    /// waits for the disk, which must not stall the screen or other requests.
    pub(crate) async fn db<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, OpError> {
        self.db_store(f).await.map_err(OpError::from)
    }

    /// [`Worker::db`] with the store's own error.
    pub(crate) async fn db_store<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let store = self.inner.store.clone();
        tokio::task::spawn_blocking(move || f(&*store))
            .await
            .unwrap_or_else(|_| Err(batch::stopped()))
    }

    pub(crate) fn refuse_if_readonly(&self) -> Result<(), OpError> {
        if self.inner.opts.readonly {
            return Err(OpError::not_allowed(
                "read-only mode: nothing may be changed",
            ));
        }
        Ok(())
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The OS user, for the audit log: the account the process runs as, by
/// its name in the user database. `USER` and `LOGNAME` come after it, since
/// they are inherited and may name someone else (`su` without `-`); cron and
/// service managers often set neither, and a bare uid says little.
pub fn os_user() -> String {
    let uid = euid();
    account_name(uid)
        .or_else(|| std::env::var("USER").ok())
        .or_else(|| std::env::var("LOGNAME").ok())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| format!("uid:{uid}"))
}

fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions, cannot fail and touches no memory.
    unsafe { libc::geteuid() }
}

/// `getpwuid_r`, the thread-safe lookup (libc is already a dependency; a
/// crate for one call is not worth its build).
fn account_name(uid: u32) -> Option<String> {
    let mut buf = vec![0u8; 1024];
    loop {
        // SAFETY: every pointer is to a live local of the right type, and
        // `buf` is as long as the length passed with it.
        let (rc, found, pwd) = unsafe {
            let mut pwd: libc::passwd = std::mem::zeroed();
            let mut found: *mut libc::passwd = std::ptr::null_mut();
            let rc = libc::getpwuid_r(
                uid,
                &mut pwd,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut found,
            );
            (rc, found, pwd)
        };
        if rc == libc::ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 4, 0);
            continue;
        }
        if rc != 0 || found.is_null() || pwd.pw_name.is_null() {
            return None;
        }
        // SAFETY: on success pw_name points into `buf`, NUL-terminated.
        let name = unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) };
        return name.to_str().ok().map(str::to_owned);
    }
}

/// What the operator hears of a panic in request `id`; the log has the rest.
pub(crate) fn internal_error(id: RequestId) -> String {
    format!("internal error in request {} (see the log)", id.0)
}

/// `op` of request `id` on `conn`, a panic inside it contained as the
/// internal error of that one operation (a bulk's refresh, the scheduler's):
/// the row fails, the rest carry on.
pub(crate) async fn contained<T>(
    id: RequestId,
    op: OpKind,
    conn: ConnectionId,
    run: impl std::future::Future<Output = Result<T, OpError>>,
) -> Result<T, OpError> {
    std::panic::AssertUnwindSafe(run)
        .catch_unwind()
        .await
        .unwrap_or_else(|_| {
            tracing::error!(request = id.0, connection = conn.0, "a {op} panicked");
            Err(OpError::new(ErrorKind::Internal, internal_error(id)))
        })
}

/// What an operation abandoned with its request out may have cost.
pub(crate) fn abandoned(op: crate::domain::OpKind) -> String {
    format!(
        "{op} abandoned after its request was sent; if the provider acted on it, {}",
        keep::cost_of(op)
    )
}
