//! SIGKILL in the middle of token rotations never leaves a torn pair.
//!
//! The parent re-runs this very test binary, filtered to
//! [`crash_child_rotation_writer`], with `CHILD_ENV` pointing at a store. The
//! child rotates every connection's access+refresh pair forever; the parent
//! kills it at a random moment, then checks that the store opens, passes
//! `check_integrity`, and that each connection holds one whole generation:
//! access, refresh, version and audit count all agree.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bankdeck::domain::{ConnectionId, OpKind, Secret, Secrets};
use bankdeck::store::{ConnectionUpdate, KeySource, OpenOptions, SecretChange, SqliteStore, Store};
use rand::Rng;

use crate::common::{Env, audit, full_connection};

const CHILD_ENV: &str = "BANKDECK_TEST_CRASH_CHILD";
const KILLS_ENV: &str = "BANKDECK_CRASH_KILLS";
const CONNECTIONS: usize = 4;

fn pair(id: ConnectionId, generation: u64) -> (String, String) {
    (
        format!("access-{}-gen-{generation}", id.0),
        format!("refresh-{}-gen-{generation}", id.0),
    )
}

fn generation_of(id: ConnectionId, s: &Secrets) -> u64 {
    let access = s.access_token.as_ref().unwrap().expose();
    let refresh = s.refresh_token.as_ref().unwrap().expose();
    let gen_a: u64 = access.rsplit('-').next().unwrap().parse().unwrap();
    let gen_r: u64 = refresh.rsplit('-').next().unwrap().parse().unwrap();
    assert_eq!(
        gen_a, gen_r,
        "torn pair on connection {id}: access gen {gen_a}, refresh gen {gen_r}"
    );
    assert_eq!((access.to_owned(), refresh.to_owned()), pair(id, gen_a));
    gen_a
}

/// Runs only when the parent test starts it; a no-op in a normal test run.
#[test]
fn crash_child_rotation_writer() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let dir = PathBuf::from(dir);
    let opts = OpenOptions::new(dir.join("data"), KeySource::File(dir.join("config/key")));
    let store = SqliteStore::open(opts).unwrap();
    let mut announced = false;
    loop {
        for conn in store.connections().unwrap() {
            let next = generation_of(conn.id, &store.secrets(conn.id).unwrap()) + 1;
            let (access, refresh) = pair(conn.id, next);
            let update = ConnectionUpdate {
                access_token: SecretChange::Set(Secret::new(access)),
                refresh_token: SecretChange::Set(Secret::new(refresh)),
                ..ConnectionUpdate::default()
            };
            store
                .apply(
                    conn.id,
                    conn.version,
                    update,
                    audit(OpKind::Refresh, "rotated"),
                )
                .unwrap();
            if !announced {
                println!("CHILD-READY");
                announced = true;
            }
        }
    }
}

fn run_child_and_kill(env: &Env, rng: &mut impl Rng) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "crash::crash_child_rotation_writer",
            "--exact",
            "--nocapture",
        ])
        .args(["--test-threads", "1"])
        .env(CHILD_ENV, env.dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let ready = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .any(|line| line.contains("CHILD-READY"));
    assert!(ready, "the child ended before its first write");
    std::thread::sleep(Duration::from_micros(rng.random_range(0..40_000)));
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
}

/// After a kill: opens, checks out, and every pair is whole. Returns the
/// total number of rotations that survived.
fn verify(env: &Env) -> u64 {
    let store = env.open();
    store.check_integrity().unwrap();
    let mut total = 0;
    for conn in store.connections().unwrap() {
        let generation = generation_of(conn.id, &store.secrets(conn.id).unwrap());
        assert_eq!(
            conn.version as u64,
            generation + 1,
            "version tracks the pair"
        );
        let lines = store.audit(Some(conn.id), usize::MAX).unwrap().len() as u64;
        assert_eq!(
            lines,
            generation + 1,
            "one audit line per committed rotation"
        );
        total += generation;
    }
    total
}

/// Connections whose generation-0 pair is written with the insert, so that
/// version (1 after insert) is always generation + 1.
fn seed(env: &Env) {
    let store = env.open();
    let user = store
        .add_user("crash", None, audit(OpKind::AddUser, "x"))
        .unwrap();
    for n in 1..=CONNECTIONS as i64 {
        // A fresh table hands out ids 1, 2, …; checked right below.
        let (access, refresh) = pair(ConnectionId(n), 0);
        let mut new = full_connection(user.id, &format!("crash-{n}"));
        new.secrets.access_token = Some(Secret::new(access));
        new.secrets.refresh_token = Some(Secret::new(refresh));
        let c = store
            .insert_connection(new, audit(OpKind::Link, "x"))
            .unwrap();
        assert_eq!(c.id, ConnectionId(n));
    }
}

#[test]
fn sigkill_during_token_rotation_leaves_whole_pairs() {
    let kills: usize = std::env::var(KILLS_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let env = Env::new();
    seed(&env);
    let started = Instant::now();
    let mut rng = rand::rng();
    let mut last = verify(&env);
    for _ in 0..kills {
        run_child_and_kill(&env, &mut rng);
        let now = verify(&env);
        assert!(
            now > last,
            "the child committed at least one rotation before the kill"
        );
        last = now;
    }
    eprintln!(
        "{kills} kills, {last} rotations survived, {:?}",
        started.elapsed()
    );
}
