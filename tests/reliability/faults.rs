//! Items 13 (sandbox side), 14, 15, 16 and 17 through the real worker.

use std::time::{Duration, Instant};

use bankdeck::domain::{ConnState, ErrorKind, OpKind, StateKind, UnixTime};
use bankdeck::sandbox::{ClientConfig, DEMO_CLIENT_ID, FaultKind, FaultRule, SandboxOptions};
use bankdeck::worker::{Clock, Command, Event, RequestId, WorkerOptions};

use super::canned;
use super::common::{self, Env};

fn always(route: &str, kind: FaultKind) -> FaultRule {
    FaultRule {
        route: route.into(),
        kind,
        count: None,
        rate: None,
    }
}

/// A delink whose answer was lost did end the link at Dapi, and the next
/// delink hears INVALID_TOKEN. The row was left "active" for good then,
/// handing the dead token out and failing every delink after: Dapi has
/// nothing left to end, so the row is closed and its secrets erased.
#[tokio::test]
async fn a_delink_dapi_no_longer_knows_the_token_of_closes_the_row() {
    let env = Env::start().await;
    let c = env.dapi("amira").await;
    let c = env.op(OpKind::Exchange, c.id).await.unwrap();
    env.sandbox.set_faults(vec![FaultRule {
        count: Some(1),
        ..always("dapi.delink", FaultKind::Lose)
    }]);
    let lost = env.op(OpKind::Delink, c.id).await.unwrap_err();
    assert!(lost.kind.is_transient(), "{lost:?}");
    assert!(
        env.secrets(c.id).access_token.is_some(),
        "kept while unknown"
    );
    let closed = env.op(OpKind::Delink, c.id).await.unwrap();
    assert_eq!(env.sandbox.request_count("dapi.delink"), 2);
    let now = UnixTime::now();
    assert_eq!(
        ConnState::derive(&closed, now, 60).kind(),
        StateKind::Delinked
    );
    assert_eq!(env.secrets(c.id).all().count(), 0, "secrets erased");
    let line = &env.store.audit(Some(c.id), 1).unwrap()[0];
    assert_eq!((line.op, line.ok), (OpKind::Delink, true));
    assert!(
        line.message.contains("no longer accepts the access token")
            && line.message.contains("closed here"),
        "{}",
        line.message
    );
}

/// 13: a client the server does not allow the grant for is a configuration
/// error after one POST, not something to try again.
#[tokio::test]
async fn unauthorized_client_from_the_server_is_a_config_error() {
    let mut clients = ClientConfig::oauth2_defaults();
    for c in &mut clients {
        if c.client_id == DEMO_CLIENT_ID {
            c.grant_types.retain(|g| g != "client_credentials");
        }
    }
    let env = Env::start_with(
        SandboxOptions {
            oauth2_clients: clients,
            ..SandboxOptions::default()
        },
        "",
        WorkerOptions::default(),
    )
    .await;
    let e = env
        .worker
        .client_credentials(RequestId(1), "bank", "app")
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Config, "{e}");
    assert!(e.message.contains("unauthorized_client"), "{e}");
    assert_eq!(env.sandbox.request_count("oauth2.token"), 1);
}

/// 14: the only call bankdeck makes with an access token is Dapi's delink.
/// A 401 there is reported after that one request: no refresh (Dapi has
/// none), no replay, and the tokens stay for the operator to decide.
#[tokio::test]
async fn a_401_on_delink_is_one_request_and_keeps_the_tokens() {
    let env = Env::start().await;
    let c = env.dapi("amira").await;
    let c = env.op(OpKind::Exchange, c.id).await.unwrap();
    let before = env.secrets(c.id);
    env.sandbox
        .set_faults(vec![always("dapi.delink", FaultKind::Status(401))]);
    let e = env.op(OpKind::Delink, c.id).await.unwrap_err();
    assert!(!e.kind.is_transient(), "{e:?}");
    assert_eq!(env.sandbox.request_count("dapi.delink"), 1, "no replay");
    assert_eq!(
        env.sandbox.request_count("dapi.exchange"),
        1,
        "nothing else sent"
    );
    assert_eq!(env.secrets(c.id), before);
    assert_ne!(
        ConnState::derive(&env.conn(c.id), UnixTime::now(), 60).kind(),
        StateKind::Delinked
    );
}

/// 15: a local clock ten minutes off either way: the expiry is our receipt
/// time plus `expires_in`, never the server's `exp` read against our clock.
#[tokio::test]
async fn a_clock_ten_minutes_off_still_gets_the_expiry_right() {
    for skew in [-600_i64, 600] {
        let clock = Clock::tokio_from(UnixTime(UnixTime::now().0 + skew));
        let env = Env::start_with(
            SandboxOptions::default(),
            "",
            WorkerOptions {
                clock,
                ..WorkerOptions::default()
            },
        )
        .await;
        let c = env.login("everifin", "lena").await;
        let t0 = env.worker.now();
        let c = env.op(OpKind::Refresh, c.id).await.unwrap();
        let t1 = env.worker.now();
        let exp = c.lifetimes.access.unwrap().at().unwrap();
        assert!(
            (t0.plus_secs(300)..=t1.plus_secs(300)).contains(&exp),
            "skew {skew}: expiry {} is not local receipt + 300 ({}..{})",
            exp.0,
            t0.0,
            t1.0
        );
        let state = ConnState::derive(&c, env.worker.now(), env.config.warn_secs());
        assert_eq!(state.kind(), StateKind::Active, "skew {skew}: {state:?}");
    }
}

/// 16: nobody listening, or a name that resolves nowhere: a fast Network
/// failure, the tokens untouched.
#[tokio::test]
async fn refused_and_unresolvable_hosts_fail_fast_and_keep_the_tokens() {
    let secrets = common::private_dir();
    let sections = canned::provider_section("refused", "http://127.0.0.1:1/token", secrets.path())
        + &canned::provider_section(
            "nowhere",
            "https://bankdeck-test.invalid/token",
            secrets.path(),
        );
    let env = canned::env_with(&sections, WorkerOptions::default()).await;
    for provider in ["refused", "nowhere"] {
        let id = canned::connection(&env, provider, "omar");
        let before = env.secrets(id);
        let t = Instant::now();
        let e = env.op(OpKind::Refresh, id).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Network, "{provider}: {e}");
        assert!(
            !e.message.contains("may have spent"),
            "{provider}: nothing went out: {e}"
        );
        assert!(
            t.elapsed() < Duration::from_secs(3),
            "{provider}: took {:?}",
            t.elapsed()
        );
        assert_eq!(env.secrets(id), before, "{provider}");
        assert_eq!(
            env.conn(id).flags.last_error.as_deref(),
            Some(e.message.as_str())
        );
    }
}

/// 17, the deadline: a token endpoint that accepts and never answers, or
/// trickles forever, is given up on at the configured timeout.
#[tokio::test]
async fn a_stalled_or_trickling_token_endpoint_hits_the_deadline() {
    // The extra line lands in the last provider table, `everifin`.
    let env = Env::start_with(
        SandboxOptions::default(),
        "timeout = \"1s\"\n",
        WorkerOptions::default(),
    )
    .await;
    let c = env.login("everifin", "lena").await;
    let before = env.secrets(c.id);
    for kind in [FaultKind::Stall, FaultKind::Trickle] {
        env.sandbox
            .set_faults(vec![always("oidc.token", kind.clone())]);
        let t = Instant::now();
        let e = env.op(OpKind::Refresh, c.id).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Timeout, "{kind:?}: {e}");
        assert!(
            e.message
                .contains("if the next refresh is rejected, the user must consent again"),
            "{kind:?}: the request went out: {e}"
        );
        assert!(
            t.elapsed() < Duration::from_secs(4),
            "{kind:?}: {:?}",
            t.elapsed()
        );
        assert_eq!(env.secrets(c.id), before, "{kind:?}");
    }
}

/// Waits for the first event `pred` picks, with a deadline.
pub async fn next_event(
    events: &mut tokio::sync::mpsc::Receiver<Event>,
    within: Duration,
    pred: impl Fn(&Event) -> bool,
) -> Event {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(e)) if pred(&e) => return e,
            Ok(Some(_)) => {}
            Ok(None) => panic!("the worker's event channel closed"),
            Err(_) => panic!("no such event within {within:?}"),
        }
    }
}

/// A discovery read that goes unanswered sent nothing else: the refresh
/// behind it is told as a network failure, not as one that may have spent
/// the refresh token, and the tokens stay.
#[tokio::test]
async fn a_stalled_discovery_is_not_told_as_a_spent_refresh_token() {
    let quick = "timeout = \"1s\"\n";
    let env = Env::start_with(SandboxOptions::default(), quick, WorkerOptions::default()).await;
    let c = env.login("everifin", "lena").await;
    let before = env.secrets(c.id);
    // A worker of its own: the first one has the document already.
    let h = env.spawn_worker(WorkerOptions::default());
    env.sandbox
        .set_faults(vec![always("oidc.discovery", FaultKind::Stall)]);
    let posts = env.sandbox.request_count("oidc.token");
    let e = h.worker.operate(OpKind::Refresh, c.id).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Network, "{e:?}");
    assert!(e.message.contains("nothing else was sent"), "{}", e.message);
    assert!(!e.message.contains("may have spent"), "{}", e.message);
    assert_eq!(env.sandbox.request_count("oidc.token"), posts);
    assert_eq!(env.secrets(c.id), before);
}

/// 17, cancellation: the operator cancels a refresh stuck on a stalled
/// server; the row hears of it at once, no token changes, and the next
/// refresh of that connection is a fresh request that works.
/// Sends refresh request 1 of `conn` and returns once its POST has
/// reached the sandbox: from then on it is out.
async fn refresh_sent(
    env: &Env,
    h: &bankdeck::worker::WorkerHandle,
    conn: bankdeck::domain::ConnectionId,
) {
    let posts = env.sandbox.request_count("oidc.token");
    h.commands
        .send(Command::Refresh {
            id: RequestId(1),
            conn,
        })
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(4);
    while env.sandbox.request_count("oidc.token") == posts {
        assert!(
            Instant::now() < deadline,
            "the refresh never reached the server"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_stuck_refresh_can_be_cancelled_and_the_next_one_works() {
    let env = Env::start().await;
    let c = env.login("everifin", "lena").await;
    let before = env.secrets(c.id);
    let mut h = env.spawn_worker(WorkerOptions::default());
    env.sandbox
        .set_faults(vec![always("oidc.token", FaultKind::Stall)]);
    let posts = env.sandbox.request_count("oidc.token");
    refresh_sent(&env, &h, c.id).await;
    h.commands
        .send(Command::Cancel { id: RequestId(1) })
        .await
        .unwrap();
    // Sent: its answer may hold the only copy of a rotated token, so a first
    // cancel leaves it to come, and says how to abandon it.
    let ev = next_event(&mut h.events, Duration::from_secs(2), |e| {
        matches!(e, Event::Notice { .. } | Event::Failed { .. })
    })
    .await;
    match ev {
        Event::Notice { message } => assert!(message.contains("cancel again"), "{message}"),
        other => panic!("a first cancel of a sent refresh dropped it: {other:?}"),
    }
    h.commands
        .send(Command::Cancel { id: RequestId(1) })
        .await
        .unwrap();
    // Well before the 5 s deadline could end it as a timeout.
    let ev = next_event(&mut h.events, Duration::from_secs(2), |e| {
        matches!(
            e,
            Event::Failed {
                id: RequestId(1),
                ..
            } | Event::Succeeded {
                id: RequestId(1),
                ..
            }
        )
    })
    .await;
    match ev {
        Event::Failed { error, conn_id, .. } => {
            assert_eq!(error.kind, ErrorKind::Cancelled, "{error}");
            assert!(
                error.message.contains("may have spent the refresh token"),
                "{error}"
            );
            assert_eq!(conn_id, Some(c.id));
        }
        other => panic!("a cancelled refresh reported {other:?}"),
    }
    assert_eq!(env.secrets(c.id), before, "cancelling changed a token");
    // Abandoned, it is in the audit log: what a later re-consent is read by.
    let line = &env.store.audit(Some(c.id), 1).unwrap()[0];
    assert_eq!(
        (line.op, line.ok),
        (bankdeck::domain::OpKind::Refresh, false)
    );
    assert!(
        line.message
            .starts_with("refresh abandoned after its request was sent"),
        "{}",
        line.message
    );
    env.sandbox.clear_faults();
    h.commands
        .send(Command::Refresh {
            id: RequestId(2),
            conn: c.id,
        })
        .await
        .unwrap();
    let ev = next_event(&mut h.events, Duration::from_secs(4), |e| {
        matches!(
            e,
            Event::Failed {
                id: RequestId(2),
                ..
            } | Event::Succeeded {
                id: RequestId(2),
                ..
            }
        )
    })
    .await;
    assert!(matches!(ev, Event::Succeeded { .. }), "{ev:?}");
    assert_eq!(env.sandbox.request_count("oidc.token"), posts + 2);
    assert_ne!(env.secrets(c.id).refresh_token, before.refresh_token);
}

/// `x` on a refresh whose request is out used to drop it: the provider
/// rotated the refresh token in an answer nobody read, and the next refresh
/// was refused. A first cancel now leaves a sent request to its answer,
/// which is stored; the rotated token is kept.
#[tokio::test]
async fn a_first_cancel_of_a_sent_refresh_keeps_what_its_answer_brings() {
    let env = Env::start().await;
    let c = env.login("everifin", "lena").await;
    let before = env.secrets(c.id);
    let mut h = env.spawn_worker(WorkerOptions::default());
    env.sandbox.set_faults(vec![FaultRule {
        count: Some(1),
        ..always("oidc.token", FaultKind::Latency(Duration::from_millis(800)))
    }]);
    refresh_sent(&env, &h, c.id).await;
    h.commands
        .send(Command::Cancel { id: RequestId(1) })
        .await
        .unwrap();
    let ev = next_event(&mut h.events, Duration::from_secs(4), |e| {
        matches!(e, Event::Failed { .. } | Event::Succeeded { .. })
    })
    .await;
    assert!(matches!(ev, Event::Succeeded { .. }), "{ev:?}");
    assert_ne!(env.secrets(c.id).refresh_token, before.refresh_token);
    env.op(OpKind::Refresh, c.id).await.unwrap();
}

/// Item 4 through the worker: an answer past the 1 MiB cap is refused after
/// one POST, with a sentence, and every token stays.
#[tokio::test]
async fn an_oversized_token_answer_is_refused_and_keeps_the_tokens() {
    let env = Env::start().await;
    let c = env.login("everifin", "lena").await;
    let before = env.secrets(c.id);
    env.sandbox.set_faults(vec![always(
        "oidc.token",
        FaultKind::Oversized(3 * 1024 * 1024),
    )]);
    let posts = env.sandbox.request_count("oidc.token");
    let e = env.op(OpKind::Refresh, c.id).await.unwrap_err();
    assert!(e.message.contains("larger than 1 MiB"), "{e}");
    assert_eq!(env.sandbox.request_count("oidc.token"), posts + 1);
    assert_eq!(env.secrets(c.id), before);
}

/// Item 18 through the worker: every form of `Retry-After` on a throttled
/// refresh gives RateLimited after one POST, the wait when it can be read
/// (seconds or an HTTP date), none for garbage, and every token kept. A
/// provider of its own for each, since the wait one asks for holds the next.
#[tokio::test]
async fn each_retry_after_form_reaches_the_operator() {
    use bankdeck::sandbox::RetryAfter;
    for (form, wait) in [
        (RetryAfter::Seconds(42), Some(40..=42)),
        (RetryAfter::DateIn(120), Some(115..=121)),
        (RetryAfter::Garbage, None),
    ] {
        let env = Env::start().await;
        let c = env.login("everifin", "lena").await;
        let before = env.secrets(c.id);
        env.sandbox.set_faults(vec![always(
            "oidc.token",
            FaultKind::TooManyRequests(form.clone()),
        )]);
        let posts = env.sandbox.request_count("oidc.token");
        let e = env.op(OpKind::Refresh, c.id).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::RateLimited, "{form:?}: {e}");
        match wait {
            Some(range) => assert!(
                e.retry_after.is_some_and(|s| range.contains(&s)),
                "{form:?}: {:?}",
                e.retry_after
            ),
            None => assert_eq!(e.retry_after, None, "{form:?}"),
        }
        assert_eq!(
            env.sandbox.request_count("oidc.token"),
            posts + 1,
            "{form:?}"
        );
        assert_eq!(env.secrets(c.id), before, "{form:?}");
    }
}
