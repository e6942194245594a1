//! What a provider has just issued, when the store cannot take it at once: a
//! full disk, another process's write lock. The answer is kept and written
//! when the store can take it, without asking the provider again; the
//! operator is told meanwhile, and told what is lost if it never can.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bankdeck::domain::{Connection, ConnectionId, ErrorKind, OpKind, User};
use bankdeck::sandbox::SandboxOptions;
use bankdeck::store::intercept::{Intercept, Intercepted};
use bankdeck::store::{AuditDraft, NewConnection, Settlement, Store, StoreError};
use bankdeck::worker::{Event, WorkerOptions};

use super::common::Env;
use super::faults::next_event;

/// Fails the next `left` writes of a provider's answer with `error`.
struct FailingWrites {
    left: AtomicUsize,
    calls: AtomicUsize,
    error: fn() -> StoreError,
    /// The connections whose outcomes were failed.
    failed: std::sync::Mutex<std::collections::HashSet<ConnectionId>>,
}

impl FailingWrites {
    fn fails(&self) -> Option<StoreError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let failing = self
            .left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        failing.then(self.error)
    }
}

impl Intercept for FailingWrites {
    fn apply_and_release_many(
        &self,
        inner: &dyn Store,
        batch: Vec<Arc<Settlement>>,
        holder: &str,
    ) -> Vec<Result<Connection, StoreError>> {
        match self.fails() {
            Some(e) => {
                let mut failed = self.failed.lock().unwrap();
                failed.extend(batch.iter().map(|s| s.base.id));
                batch.iter().map(|_| Err(e.clone())).collect()
            }
            None => inner.apply_and_release_many(batch, holder),
        }
    }

    fn insert_connection_for(
        &self,
        inner: &dyn Store,
        user: &str,
        user_audit: AuditDraft,
        new: NewConnection,
        audit: AuditDraft,
    ) -> Result<(Connection, Option<User>), StoreError> {
        match self.fails() {
            Some(e) => Err(e),
            None => inner.insert_connection_for(user, user_audit, new, audit),
        }
    }
}

fn disk_full() -> StoreError {
    StoreError::Io("/data/bankdeck.db: the disk is full; nothing was written".into())
}

async fn env_failing(
    error: fn() -> StoreError,
    keep_writing: Duration,
) -> (Env, Arc<Intercepted<FailingWrites>>) {
    let slot = Arc::new(std::sync::Mutex::new(None));
    let held = slot.clone();
    let env = Env::start_over(
        SandboxOptions::default(),
        "",
        WorkerOptions {
            keep_writing,
            ..WorkerOptions::default()
        },
        move |inner| {
            let store = Arc::new(Intercepted {
                inner,
                hooks: FailingWrites {
                    left: AtomicUsize::new(0),
                    calls: AtomicUsize::new(0),
                    error,
                    failed: Default::default(),
                },
            });
            *held.lock().unwrap() = Some(store.clone());
            store
        },
    )
    .await;
    let store = slot.lock().unwrap().take().unwrap();
    (env, store)
}

/// A refresh of `id` on its own task, as the screen's commands run.
fn refreshing(
    env: &Env,
    id: ConnectionId,
) -> tokio::task::JoinHandle<Result<Connection, bankdeck::domain::OpError>> {
    let worker = env.worker.clone();
    tokio::spawn(async move { worker.operate(OpKind::Refresh, id).await })
}

/// Until the outcomes of `n` connections have been failed at least once,
/// so that each is waiting for the store.
async fn until_waiting(store: &Intercepted<FailingWrites>, n: usize) {
    while store.hooks.failed.lock().unwrap().len() < n {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn notices(env: &mut Env) -> Vec<String> {
    let mut said = Vec::new();
    while let Ok(event) = env.events.try_recv() {
        if let Event::Notice { message } = event {
            said.push(message);
        }
    }
    said
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_token_is_written_when_the_store_can_take_it_and_asked_for_once() {
    let (mut env, store) = env_failing(disk_full, Duration::from_secs(60)).await;
    let c = env.login("everifin", "lena").await;
    notices(&mut env);
    let before = env.sandbox.request_count("oidc.token");
    let calls = store.hooks.calls.load(Ordering::SeqCst);

    store.hooks.left.store(3, Ordering::SeqCst);
    let done = env.op(OpKind::Refresh, c.id).await.unwrap();
    assert_eq!(done.last_op.unwrap().op, OpKind::Refresh);
    assert_eq!(
        env.sandbox.request_count("oidc.token"),
        before + 1,
        "the provider was asked once"
    );
    assert_eq!(store.hooks.calls.load(Ordering::SeqCst), calls + 4);
    let said = notices(&mut env);
    assert_eq!(said.len(), 1, "told once: {said:?}");
    assert!(
        said[0].starts_with(&format!(
            "the refresh of connection {} (lena at everifin) is done at the provider but not \
             written yet",
            c.id
        )) && said[0].contains("the disk is full")
            && said[0].contains("free disk space"),
        "{said:?}"
    );

    // The provider rotated the refresh token: this works only if the new
    // one was written.
    env.op(OpKind::Refresh, c.id).await.unwrap();
}

/// While an answer waits for the store, nothing more is sent: a new
/// operation is refused before its request, with nothing spent, rather
/// than have the provider rotate a token the store cannot take either. A
/// bulk kept sending, and each answer joined the wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_more_is_sent_while_an_answer_waits_for_the_store() {
    let (env, store) = env_failing(disk_full, Duration::from_secs(60)).await;
    let a = env.login("everifin", "lena").await;
    let b = env.login("everifin", "omar").await;
    store.hooks.left.store(usize::MAX, Ordering::SeqCst);
    let first = refreshing(&env, a.id);
    until_waiting(&store, 1).await;
    let before = env.sandbox.request_count("oidc.token");
    let e = env.op(OpKind::Refresh, b.id).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Store, "{e}");
    assert!(
        e.message.starts_with("not sent: the store cannot take"),
        "{e}"
    );
    assert_eq!(env.sandbox.request_count("oidc.token"), before);
    store.hooks.left.store(0, Ordering::SeqCst);
    first.await.unwrap().unwrap();
    env.op(OpKind::Refresh, b.id).await.unwrap();
}

/// A full disk fails every answer of a bulk at once: the operator hears of
/// it once, not once for each, and every answer is written after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_waiting_together_are_told_once() {
    let (mut env, store) = env_failing(disk_full, Duration::from_secs(60)).await;
    let a = env.login("everifin", "lena").await;
    let b = env.login("everifin", "omar").await;
    notices(&mut env);
    store.hooks.left.store(usize::MAX, Ordering::SeqCst);
    let (first, second) = (refreshing(&env, a.id), refreshing(&env, b.id));
    // Both are waiting for the store before it takes writes again.
    until_waiting(&store, 2).await;
    store.hooks.left.store(0, Ordering::SeqCst);
    first.await.unwrap().unwrap();
    second.await.unwrap().unwrap();
    let said = notices(&mut env);
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(
        said[0].contains("with any other answer that waits meanwhile"),
        "{said:?}"
    );
    env.op(OpKind::Refresh, a.id).await.unwrap();
    env.op(OpKind::Refresh, b.id).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_the_store_cannot_take_at_once_is_filed_when_it_can() {
    let (mut env, store) = env_failing(disk_full, Duration::from_secs(60)).await;
    store.hooks.left.store(2, Ordering::SeqCst);
    let c = env.login("everifin", "lena").await;
    assert_eq!(env.conn(c.id).user, "lena");
    let said = notices(&mut env);
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(
        said[0].starts_with("lena's new connection at everifin is done at the provider"),
        "{said:?}"
    );
    env.op(OpKind::Refresh, c.id).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_that_never_goes_through_says_what_the_provider_has_spent() {
    let (mut env, store) = env_failing(disk_full, Duration::from_secs(1)).await;
    let c = env.login("everifin", "lena").await;
    store.hooks.left.store(usize::MAX, Ordering::SeqCst);
    let e = env.op(OpKind::Refresh, c.id).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Store);
    assert!(
        e.message.starts_with(&format!(
            "the refresh of connection {} (lena at everifin) is done at the provider but could \
             not be written in 1s",
            c.id
        )) && e.message.contains("the disk is full")
            && e.message
                .ends_with("if the next refresh is rejected, the user must consent again"),
        "{}",
        e.message
    );
    assert_eq!(notices(&mut env).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_refused_for_good_is_not_tried_again() {
    let (mut env, store) = env_failing(
        || StoreError::Refused("the store is read-only".into()),
        Duration::from_secs(60),
    )
    .await;
    let c = env.login("everifin", "lena").await;
    let calls = store.hooks.calls.load(Ordering::SeqCst);
    store.hooks.left.store(1, Ordering::SeqCst);
    let e = env.op(OpKind::Refresh, c.id).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Store);
    // Said with what the provider has done, not as the store's word alone,
    // which reads as if nothing had happened.
    assert_eq!(
        e.message,
        format!(
            "the refresh of connection {} (lena at everifin) is done at the provider but could \
             not be written: the store is read-only; the provider may have spent the refresh \
             token the store still holds: if the next refresh is rejected, the user must consent \
             again",
            c.id
        )
    );
    assert_eq!(store.hooks.calls.load(Ordering::SeqCst), calls + 1);
    assert!(notices(&mut env).is_empty());
}

/// Leaving (the dashboard's quit, a Ctrl-C) waits a while for the requests
/// out, then on for as long as an answer that has come waits for the store:
/// giving up on it would drop what the provider issued.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaving_waits_on_for_an_answer_the_store_has_not_taken() {
    let (env, store) = env_failing(disk_full, Duration::from_secs(60)).await;
    let c = env.login("everifin", "lena").await;
    store.hooks.left.store(usize::MAX, Ordering::SeqCst);
    let refresh = refreshing(&env, c.id);
    until_waiting(&store, 1).await;
    env.worker.stop_sending();
    assert_eq!(
        env.worker.wait_for_sent(Duration::from_millis(300)).await,
        1
    );
    assert_eq!(env.worker.waiting_for_store(), 1);
    let hooks = store.clone();
    tokio::spawn(async move {
        // Longer than the one second left for operations ending anyway.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        hooks.hooks.left.store(0, Ordering::SeqCst);
    });
    assert_eq!(env.worker.wait_for_stored().await, 0);
    assert_eq!(env.worker.waiting_for_store(), 0);
    refresh.await.unwrap().unwrap();
}

/// The operator cancels (`x`) a refresh whose answer has come while the
/// store cannot take it. Stopping its task would drop the rotated token, so
/// the cancel leaves it to finish and says why; the token is written once
/// the store takes writes again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_leaves_an_answer_that_waits_for_the_store_to_be_written() {
    use bankdeck::worker::{Command, RequestId};
    let (env, store) = env_failing(disk_full, Duration::from_secs(60)).await;
    let c = env.login("everifin", "lena").await;
    let mut screen = env.spawn_worker(WorkerOptions {
        keep_writing: Duration::from_secs(60),
        ..WorkerOptions::default()
    });
    store.hooks.left.store(usize::MAX, Ordering::SeqCst);
    let refresh = RequestId(1);
    let send = |cmd| screen.commands.try_send(cmd).unwrap();
    send(Command::Refresh {
        id: refresh,
        conn: c.id,
    });
    until_waiting(&store, 1).await;
    send(Command::Cancel { id: refresh });

    let mut told = false;
    let ended = loop {
        let event = next_event(&mut screen.events, Duration::from_secs(20), |_| true).await;
        match event {
            Event::Notice { message } if message.starts_with("cancel: ") => {
                assert!(
                    message.contains(&format!(
                        "the refresh of connection {} is done at the provider and waits for the \
                         store; it is left to finish",
                        c.id
                    )),
                    "{message}"
                );
                told = true;
                // The store takes writes again.
                store.hooks.left.store(0, Ordering::SeqCst);
            }
            Event::Succeeded { id, .. } if id == refresh => break Ok(()),
            Event::Failed { id, error, .. } if id == refresh => break Err(error),
            _ => {}
        }
    };
    assert!(told, "the cancel said why it was not done");
    ended.unwrap();
    // The provider rotated the refresh token: this works only if the new
    // one was written.
    env.op(OpKind::Refresh, c.id).await.unwrap();
}

/// A bulk is cancelled twice (the second abandons what is sent) while one
/// of its refreshes hangs at the provider and another's answer waits for
/// the store. The hanging one is dropped, and says so; the answered one is
/// left to finish and its rotated token is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_bulk_leaves_an_answer_that_waits_for_the_store_to_be_written() {
    use bankdeck::worker::{Command, RequestId};
    let (env, store) = env_failing(disk_full, Duration::from_secs(60)).await;
    let conns = [
        env.login("everifin", "lena").await.id,
        env.login("everifin", "omar").await.id,
    ];
    let mut screen = env.spawn_worker(WorkerOptions {
        keep_writing: Duration::from_secs(60),
        ..WorkerOptions::default()
    });
    store.hooks.left.store(usize::MAX, Ordering::SeqCst);
    env.sandbox.set_faults(vec![
        bankdeck::sandbox::parse_fault("oidc.token:stall,count=1").unwrap(),
    ]);
    let bulk = RequestId(1);
    let send = |cmd| screen.commands.try_send(cmd).unwrap();
    send(Command::RefreshMany {
        id: bulk,
        conns: conns.to_vec(),
    });
    until_waiting(&store, 1).await;
    let answered = *store.hooks.failed.lock().unwrap().iter().next().unwrap();
    send(Command::Cancel { id: bulk });
    send(Command::Cancel { id: bulk });
    // The store takes writes again a while after the cancel.
    let hooks = store.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        hooks.hooks.left.store(0, Ordering::SeqCst);
    });

    let (mut refreshed, mut abandoned) = (Vec::new(), Vec::new());
    let last = loop {
        let event = next_event(&mut screen.events, Duration::from_secs(20), |_| true).await;
        match event {
            Event::Succeeded { conn, .. } => refreshed.push(conn.id),
            Event::Failed {
                conn_id: Some(c),
                error,
                ..
            } if error.message.starts_with("refresh abandoned") => abandoned.push(c),
            Event::Failed { conn_id, error, .. } => panic!("{conn_id:?}: {error}"),
            Event::Progress {
                done,
                failed,
                stopped,
                ..
            } if stopped > 0 => break (done, failed, stopped),
            _ => {}
        }
    };
    assert_eq!(last, (1, 0, 1));
    assert_eq!(refreshed, vec![answered]);
    let hung = conns.iter().find(|&&c| c != answered).copied();
    assert_eq!(abandoned, Vec::from_iter(hung));
    // The provider rotated its refresh token: this works only if the new
    // one was written.
    env.sandbox.set_faults(Vec::new());
    env.op(OpKind::Refresh, answered).await.unwrap();
}
