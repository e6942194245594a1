//! Refresh throughput: bankdeck's worker against a bare tokio + reqwest loop.
//!
//! Both arms send the same requests (RFC 6749 §6 `refresh_token` grants with
//! HTTP Basic client authentication) to the same in-process sandbox, in the
//! same run, at the same concurrency (64 by default), each refresh token used
//! once: the sandbox mints one set of grants per arm. The bare arm only sends
//! the POST, reads the body and parses its JSON. The bankdeck arm is the
//! product: the worker's `RefreshMany` (the screen's bulk refresh) over a real
//! store holding those grants, with `max_in_flight` at the concurrency — so it
//! also decrypts the refresh token, takes and releases the cross-process
//! lease, encrypts and persists the new tokens with their audit line
//! (`synchronous=FULL`), and reports each result. The budget is a
//! ratio of at least 0.8.
//!
//! `cargo run --release --example refresh_throughput -- [N] [CONCURRENCY] [DATA_PARENT]`
//! (DATA_PARENT: where the store's temp dir goes; default the system temp
//! dir. `/dev/shm` shows what the same code does when fsync costs nothing.)

use std::sync::Arc;
use std::time::Instant;

use bankdeck::domain::{
    AccessExpiry, ConnectionId, Flags, Grant, Lifetimes, OpKind, ProviderKind, RemoteIds, Scopes,
    Secret, Secrets, UnixTime,
};
use bankdeck::sandbox::{AuthServer, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, Sandbox, SandboxOptions};
use bankdeck::store::{self, AuditDraft, NewConnection, Store};
use bankdeck::worker::{Command, Event, RequestId, Worker, WorkerOptions};
use futures::StreamExt;

mod support;
use support::{config_for, entries, private_dir};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args.first().map_or(10_000, |a| a.parse().unwrap());
    let conc: usize = args.get(1).map_or(64, |a| a.parse().unwrap());
    let parent = args.get(2).map(String::as_str);
    let sandbox = Sandbox::start(SandboxOptions::default(), 0).await.unwrap();
    let started = Instant::now();
    let bare_tokens = mint(&sandbox, n, "bare");
    let deck_tokens = mint(&sandbox, n, "deck");
    eprintln!("minted {} grants in {:.1?}", 2 * n, started.elapsed());

    let (bare, bare_cpu) = bare_loop(&sandbox, bare_tokens, conc).await;
    let (deck, deck_cpu) = bankdeck_arm(&sandbox, deck_tokens, conc, parent).await;
    // CPU per refresh, client and sandbox together: on two cores both arms
    // are CPU-bound, so this is where the ratio comes from.
    let per = |secs: f64| secs * 1e6 / n as f64;
    println!("refreshes: {n}, concurrency: {conc}");
    println!(
        "bare tokio+reqwest: {bare:.0} refresh/s, {:.0} us CPU each",
        per(bare_cpu)
    );
    println!(
        "bankdeck worker:    {deck:.0} refresh/s, {:.0} us CPU each",
        per(deck_cpu)
    );
    println!("ratio: {:.3}", deck / bare);
}

/// User + system CPU time of this process so far.
fn cpu_secs() -> f64 {
    // SAFETY: getrusage writes only into the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// Refresh tokens of `n` fresh authorization-code grants at the bank.
fn mint(sb: &Sandbox, n: usize, tag: &str) -> Vec<(String, String)> {
    (0..n)
        .map(|i| {
            let json = sb
                .login(AuthServer::OAuth2, &format!("{tag}-{i}"), None)
                .unwrap();
            let s = |k: &str| json[k].as_str().unwrap().to_owned();
            (s("access_token"), s("refresh_token"))
        })
        .collect()
}

/// Refreshes per second, and the CPU seconds they took.
async fn bare_loop(sb: &Sandbox, tokens: Vec<(String, String)>, conc: usize) -> (f64, f64) {
    let client = reqwest::Client::new();
    let url = sb.oauth2_token_url();
    let n = tokens.len();
    let (started, cpu) = (Instant::now(), cpu_secs());
    let ok = futures::stream::iter(tokens)
        .map(|(_, refresh)| {
            let (client, url) = (client.clone(), url.clone());
            async move {
                let reply = client
                    .post(url)
                    .basic_auth(DEMO_CLIENT_ID, Some(DEMO_CLIENT_SECRET))
                    .form(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)])
                    .send()
                    .await
                    .unwrap();
                let ok = reply.status().is_success();
                let body: serde_json::Value = reply.json().await.unwrap();
                ok && body["access_token"].is_string()
            }
        })
        .buffer_unordered(conc)
        .filter(|ok| futures::future::ready(*ok))
        .count()
        .await;
    let (secs, cpu) = (started.elapsed().as_secs_f64(), cpu_secs() - cpu);
    assert_eq!(ok, n, "every bare refresh succeeds");
    (n as f64 / secs, cpu)
}

/// The grants filed as `bank` connections, 10 per user, in one batch.
fn file_grants(store: &dyn Store, tokens: Vec<(String, String)>) -> Vec<ConnectionId> {
    let now = UnixTime::now();
    let audit = |op| AuditDraft {
        at: now,
        actor: "bench".into(),
        op,
        ok: true,
        message: "benchmark grant".into(),
    };
    let users: Vec<_> = (0..tokens.len().div_ceil(10))
        .map(|i| {
            store
                .add_user(&format!("rt-{i}"), None, audit(OpKind::AddUser))
                .unwrap()
        })
        .collect();
    let batch = tokens
        .into_iter()
        .enumerate()
        .map(|(i, (access, refresh))| {
            let new = NewConnection {
                user_id: users[i / 10].id,
                provider: "bank".into(),
                kind: ProviderKind::OAuth2,
                grant: Grant::AuthorizationCode,
                label: "bank".into(),
                remote: RemoteIds::default(),
                lifetimes: Lifetimes {
                    access: Some(AccessExpiry::At(now.plus_secs(3600))),
                    access_received_at: Some(now),
                    has_refresh: true,
                    ..Lifetimes::default()
                },
                scopes: Scopes::granted(vec!["accounts".into()]),
                secrets: Secrets {
                    access_token: Some(Secret::new(access)),
                    refresh_token: Some(Secret::new(refresh)),
                    ..Secrets::default()
                },
            };
            (new, Flags::default())
        })
        .collect();
    store
        .insert_connections(batch, audit(OpKind::Login))
        .unwrap()
}

async fn bankdeck_arm(
    sb: &Sandbox,
    tokens: Vec<(String, String)>,
    conc: usize,
    parent: Option<&str>,
) -> (f64, f64) {
    let dir = private_dir(parent);
    let cfg = config_for(sb, dir.path(), conc, "30s");
    let store: Arc<dyn Store> =
        store::open_with_key(&dir.path().join("data"), &dir.path().join("key"), false)
            .unwrap()
            .store;
    let ids = file_grants(&*store, tokens);
    let n = ids.len();
    let opts = WorkerOptions {
        actor: "bench".into(),
        open_browser: false,
        ..WorkerOptions::default()
    };
    let mut handle = Worker::spawn(store.clone(), entries(&cfg), opts);
    let (started, cpu) = (Instant::now(), cpu_secs());
    handle
        .commands
        .send(Command::RefreshMany {
            id: RequestId(1),
            conns: ids,
        })
        .await
        .unwrap();
    let mut failed = 0;
    while let Some(ev) = handle.events.recv().await {
        if let Event::Progress {
            done,
            total,
            failed: f,
            ..
        } = ev
            && done == total
        {
            failed = f;
            break;
        }
    }
    let (secs, cpu) = (started.elapsed().as_secs_f64(), cpu_secs() - cpu);
    assert_eq!(failed, 0, "every bankdeck refresh succeeds");
    let audited = store.audit(None, n * 4).unwrap();
    let refreshes = audited
        .iter()
        .filter(|a| a.op == OpKind::Refresh && a.ok)
        .count();
    assert_eq!(refreshes, n, "each refresh is in the audit log");
    (n as f64 / secs, cpu)
}
