//! Crash safety with real processes: a bankdeck worker process is killed with
//! SIGKILL at random moments while it rotates refresh tokens against the
//! sandbox; after every kill the store opens, passes its integrity check, and
//! holds for every connection a pair the provider issued together — the old
//! pair or the new one, never a mix, never a loss. Also: a result reported is
//! already in the store, and a second process joins instead of refreshing twice.
//!
//! The child is this test binary run again with `BANKDECK_TEST_CHILD` set and
//! a filter naming `child_process`, which does nothing in a normal run.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bankdeck::domain::{ConnectionId, ErrorKind, OpKind};
use bankdeck::sandbox::{FaultKind, FaultRule, fingerprint};
use bankdeck::store::Store;
use common::Env;
use serde_json::Value;

const CHILD: &str = "BANKDECK_TEST_CHILD";

/// The child's side: opens the same config and store as the parent and works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_process() {
    let Ok(mode) = std::env::var(CHILD) else {
        return;
    };
    let dir = std::path::PathBuf::from(std::env::var("BANKDECK_TEST_DIR").unwrap());
    let config = bankdeck::config::load(Some(&dir.join("config.toml"))).unwrap();
    let store = bankdeck::store::open_with_key(&dir.join("data"), &dir.join("key"), false)
        .unwrap()
        .store;
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(async move { while rx.recv().await.is_some() {} });
    let worker = bankdeck::worker::Worker::new(
        store.clone(),
        common::entries(&config),
        Default::default(),
        tx,
    );
    let ids: Vec<ConnectionId> = std::env::var("BANKDECK_TEST_CONNS")
        .unwrap()
        .split(',')
        .map(|s| ConnectionId(s.parse().unwrap()))
        .collect();
    match mode.as_str() {
        "loop" => loop {
            for id in &ids {
                // Re-consent (after a kill lost a rotation) is expected; keep going.
                let _ = worker.operate(OpKind::Refresh, *id).await;
                println!("ITER");
            }
        },
        "report" => {
            let c = worker.operate(OpKind::Refresh, ids[0]).await.unwrap();
            let rt = store.secrets(c.id).unwrap().refresh_token.unwrap();
            println!("REPORTED {}", fingerprint(rt.expose()));
            std::future::pending::<()>().await;
        }
        "race" => {
            let c = worker.operate(OpKind::Refresh, ids[0]).await.unwrap();
            println!("DONE {}", c.version);
        }
        other => panic!("unknown child mode {other}"),
    }
}

fn spawn_child(mode: &str, dir: &Path, conns: &[ConnectionId]) -> Child {
    let list: Vec<String> = conns.iter().map(|c| c.0.to_string()).collect();
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, mode)
        .env("BANKDECK_TEST_DIR", dir)
        .env("BANKDECK_TEST_CONNS", list.join(","))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Reads the child's stdout until a line starts with `prefix`.
fn wait_for(child: &mut Child, prefix: &str) -> String {
    let out = child.stdout.as_mut().unwrap();
    let mut reader = BufReader::new(out);
    let mut line = String::new();
    let mut seen = String::new();
    loop {
        line.clear();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "child ended before printing {prefix}; it said:\n{seen}"
        );
        seen.push_str(&line);
        // libtest prints "test child_process ... " before the child's first line.
        if let Some(at) = line.find(prefix) {
            return line[at..].trim().to_string();
        }
    }
}

fn kill(mut child: Child) {
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
}

fn refresh_rows(env: &Env) -> Vec<Value> {
    env.sandbox.state()["oauth2"]["refresh_tokens"]
        .as_array()
        .unwrap()
        .clone()
}

/// The stored pair was issued in one response, and is the newest or the one
/// just before it in its family.
fn assert_pair_consistent(env: &Env, store: &dyn Store, id: ConnectionId, round: usize) {
    let s = store.secrets(id).unwrap();
    let (Some(access), Some(refresh)) = (s.access_token, s.refresh_token) else {
        panic!("round {round}: connection {id} lost a token");
    };
    let rows = refresh_rows(env);
    let fp = fingerprint(refresh.expose());
    let row = rows
        .iter()
        .find(|r| r["fingerprint"] == fp.as_str())
        .unwrap_or_else(|| panic!("round {round}: stored refresh token unknown to the provider"));
    assert_eq!(
        row["access"],
        fingerprint(access.expose()).as_str(),
        "round {round}: connection {id} holds a mixed pair"
    );
    let family = &row["family"];
    let newer = rows
        .iter()
        .filter(|r| &r["family"] == family && r["iat"].as_i64() > row["iat"].as_i64())
        .count();
    let same_second_newer = rows
        .iter()
        .filter(|r| &r["family"] == family && r["iat"] == row["iat"])
        .count();
    assert!(
        newer <= 1 || same_second_newer > 1,
        "round {round}: connection {id} fell {newer} rotations behind"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_rotating_refreshes_never_mixes_or_loses_a_pair() {
    if std::env::var(CHILD).is_ok() {
        return;
    }
    let env = Env::start().await;
    let mut conns = Vec::new();
    for u in ["amira", "omar", "lena"] {
        conns.push(env.login("bank", u).await.id);
    }
    let kills: usize = std::env::var("BANKDECK_CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    for round in 0..kills {
        let mut child = spawn_child("loop", env.dir.path(), &conns);
        for _ in 0..=(round % 4) {
            wait_for(&mut child, "ITER");
        }
        std::thread::sleep(Duration::from_micros((round as u64 * 7919) % 4000));
        kill(child);
        let store = bankdeck::store::open_with_key(
            &env.dir.path().join("data"),
            &env.dir.path().join("key"),
            false,
        )
        .unwrap()
        .store;
        store
            .check_integrity()
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        for id in &conns {
            assert_pair_consistent(&env, &*store, *id, round);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reported_refresh_is_already_in_the_store() {
    if std::env::var(CHILD).is_ok() {
        return;
    }
    let env = Env::start().await;
    let c = env.login("everifin", "lena").await;
    let mut child = spawn_child("report", env.dir.path(), &[c.id]);
    let line = wait_for(&mut child, "REPORTED");
    kill(child);
    let store = bankdeck::store::open_with_key(
        &env.dir.path().join("data"),
        &env.dir.path().join("key"),
        false,
    )
    .unwrap()
    .store;
    let rt = store.secrets(c.id).unwrap().refresh_token.unwrap();
    assert_eq!(line, format!("REPORTED {}", fingerprint(rt.expose())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_tasks_and_a_second_process_send_one_post() {
    if std::env::var(CHILD).is_ok() {
        return;
    }
    let env = Env::start().await;
    let c = env.login("everifin", "lena").await;
    env.sandbox.set_faults(vec![FaultRule {
        route: "oidc.token".into(),
        kind: FaultKind::Latency(Duration::from_millis(700)),
        count: None,
        rate: None,
    }]);
    let posts = env.sandbox.request_count("oidc.token");
    let mut child = spawn_child("race", env.dir.path(), &[c.id]);
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let w = env.worker.clone();
            tokio::spawn(async move { w.operate(OpKind::Refresh, c.id).await })
        })
        .collect();
    for t in tasks {
        let r = t.await.unwrap();
        assert!(
            r.is_ok() || r.as_ref().unwrap_err().kind != ErrorKind::ReauthRequired,
            "{r:?}"
        );
    }
    let done = wait_for(&mut child, "DONE");
    child.wait().unwrap();
    assert!(done.starts_with("DONE"));
    assert_eq!(
        env.sandbox.request_count("oidc.token"),
        posts + 1,
        "one POST for 51 refresh requests in two processes"
    );
    assert!(!env.conn(c.id).flags.reauth_required);
}
