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
//! The arms take turns, a fifth of the refreshes each time (the first arm of
//! a turn alternates), and each arm's rate is its refreshes over its own time
//! summed: on a shared machine whose speed drifts by a quarter within minutes,
//! two arms run one after the other measure the drift as much as the code.
//!
//! Last, the bankdeck arm refreshes all of its connections again as one
//! bulk, the way the screen's `R` would; that rate is printed apart, outside
//! the ratio, since it has no turn-mate.
//!
//! `cargo run --release --example refresh_throughput -- [N] [CONCURRENCY] [DATA_PARENT]`
//! (`ARM=bare|bankdeck PASSES=P`: one arm only, see [`one_arm`];
//! `STORE=memory`: the bankdeck arm's leases and outcomes answered from
//! memory, see `support/memory.rs` — a diagnostic of the store's share)
//! (DATA_PARENT: where the store's temp dir goes; default the system temp
//! dir. `/dev/shm` shows what the same code does when fsync costs nothing.)
//! (`LATENCY=MS`: the sandbox holds each token request that long before it
//! answers, for both arms alike, as a real provider across a network does.
//! A diagnostic beside the budget, which is taken at no latency.)

use std::sync::Arc;
use std::time::Instant;

use bankdeck::domain::{
    AccessExpiry, ConnectionId, Flags, Grant, Lifetimes, OpKind, ProviderKind, RemoteIds, Scopes,
    Secret, Secrets, UnixTime,
};
use bankdeck::sandbox::{
    AuthServer, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, FaultRule, Sandbox, SandboxOptions, parse_fault,
};
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
    let one = std::env::var("ARM").ok().map(|arm| one_arm_args(&arm));
    let memory = memory_store();
    let latency = latency();
    let sandbox = Sandbox::start(SandboxOptions::default(), 0).await.unwrap();
    if let Some(rule) = &latency {
        sandbox.set_faults(vec![rule.clone()]);
    }
    if let Some((arm, passes)) = one {
        return one_arm(arm, passes, &sandbox, n, conc, memory).await;
    }
    let started = Instant::now();
    let bare_tokens = mint(&sandbox, n, "bare");
    let deck_tokens = mint(&sandbox, n, "deck");
    eprintln!("minted {} grants in {:.1?}", 2 * n, started.elapsed());

    let client = reqwest::Client::new();
    let mut deck_arm = DeckArm::start(&sandbox, deck_tokens, conc, parent, memory);
    let (mut bare, mut deck) = (Arm::default(), Arm::default());
    let (mut bare_left, mut deck_left) = (bare_tokens, deck_arm.ids.clone());
    let turn = n.div_ceil(TURNS);
    for round in 0..TURNS {
        let take = turn.min(bare_left.len());
        let bare_turn: Vec<_> = bare_left.drain(..take).collect();
        let deck_turn: Vec<_> = deck_left.drain(..take).collect();
        if round % 2 == 0 {
            bare.add(bare_arm(&client, &sandbox, bare_turn, conc).await);
            deck.add(deck_arm.refresh(deck_turn).await);
        } else {
            deck.add(deck_arm.refresh(deck_turn).await);
            bare.add(bare_arm(&client, &sandbox, bare_turn, conc).await);
        }
    }
    if !memory {
        deck_arm.check_audit(n);
    }
    // What the screen's `R` over all of them does: one bulk of every
    // connection at once (the store holds each rotated token, so the same
    // connections refresh again). Turns of a fifth hid that a bulk's own
    // bookkeeping once grew with its size.
    let mut one_bulk = Arm::default();
    one_bulk.add(deck_arm.refresh(deck_arm.ids.clone()).await);
    // CPU per refresh, client and sandbox together: on two cores both arms
    // are CPU-bound, so this is where the ratio comes from.
    let per = |secs: f64| secs * 1e6 / n as f64;
    let rate = |arm: &Arm| n as f64 / arm.secs;
    println!("refreshes: {n}, concurrency: {conc}, turns: {TURNS}");
    if let Some(rule) = &latency {
        println!("provider latency: {rule} (LATENCY; a diagnostic, the budget is taken without)");
    }
    if memory {
        println!(
            "store: leases and outcomes in memory (STORE=memory; a diagnostic, nothing written)"
        );
    }
    println!(
        "bare tokio+reqwest: {:.0} refresh/s, {:.0} us CPU each",
        rate(&bare),
        per(bare.cpu)
    );
    println!(
        "bankdeck worker:    {:.0} refresh/s, {:.0} us CPU each",
        rate(&deck),
        per(deck.cpu)
    );
    println!("ratio: {:.3}", rate(&deck) / rate(&bare));
    println!(
        "bankdeck, one bulk of {n}: {:.0} refresh/s, {:.0} us CPU each",
        rate(&one_bulk),
        per(one_bulk.cpu)
    );
}

async fn bare_arm(
    client: &reqwest::Client,
    sb: &Sandbox,
    tokens: Vec<(String, String)>,
    conc: usize,
) -> (f64, f64) {
    let (secs, cpu, _) = bare_loop(client, sb, tokens, conc).await;
    (secs, cpu)
}

/// `ARM` and `PASSES` checked before any set-up; a bad one ends the run
/// with what to set instead.
fn one_arm_args(arm: &str) -> (&'static str, usize) {
    let arm = match arm {
        "bare" => "bare",
        "bankdeck" => "bankdeck",
        other => usage(&format!("ARM is bare or bankdeck, not {other:?}")),
    };
    let passes = match std::env::var("PASSES") {
        Err(_) => 1,
        Ok(p) => match p.parse() {
            Ok(n) if n > 0 => n,
            _ => usage(&format!(
                "PASSES is a number of passes (1 or more), not {p:?}"
            )),
        },
    };
    (arm, passes)
}

/// `STORE`: `sqlite` (the default, the product) or `memory`.
fn memory_store() -> bool {
    match std::env::var("STORE").as_deref() {
        Err(_) | Ok("sqlite") => false,
        Ok("memory") => true,
        Ok(other) => usage(&format!("STORE is sqlite or memory, not {other:?}")),
    }
}

/// `LATENCY=MS`: every token request held that long by the sandbox.
fn latency() -> Option<FaultRule> {
    let ms = std::env::var("LATENCY").ok()?;
    match ms.parse::<u64>() {
        Ok(ms) => Some(parse_fault(&format!("oauth2.token:latency={ms}")).unwrap()),
        Err(_) => usage(&format!("LATENCY is a number of milliseconds, not {ms:?}")),
    }
}

fn usage(why: &str) -> ! {
    eprintln!("refresh_throughput: {why}");
    std::process::exit(2)
}

/// `ARM=bare|bankdeck PASSES=P`: only that arm, refreshing the same `N`
/// grants `P` times over (each pass with the tokens the last one rotated).
/// For instruction counts (`scripts/instructions.sh`): set-up costs the same
/// whatever `P`, so two runs' difference is the refreshes alone.
async fn one_arm(arm: &str, passes: usize, sandbox: &Sandbox, n: usize, conc: usize, memory: bool) {
    let tokens = mint(sandbox, n, arm);
    let mut cpu = 0.0;
    match arm {
        "bare" => {
            let client = reqwest::Client::new();
            let mut tokens = tokens;
            for _ in 0..passes {
                let (_, c, rotated) = bare_loop(&client, sandbox, tokens, conc).await;
                (cpu, tokens) = (cpu + c, rotated);
            }
        }
        "bankdeck" => {
            let mut deck = DeckArm::start(sandbox, tokens, conc, None, memory);
            for _ in 0..passes {
                cpu += deck.refresh(deck.ids.clone()).await.1;
            }
        }
        other => unreachable!("one_arm_args admits only bare and bankdeck, not {other}"),
    }
    let per = cpu * 1e6 / (n * passes) as f64;
    println!("{arm}: {passes} passes of {n} refreshes, {per:.0} us CPU each");
}

/// How many turns each arm takes.
const TURNS: usize = 5;

/// An arm's wall-clock and CPU seconds, summed over its turns.
#[derive(Default)]
struct Arm {
    secs: f64,
    cpu: f64,
}

impl Arm {
    fn add(&mut self, (secs, cpu): (f64, f64)) {
        self.secs += secs;
        self.cpu += cpu;
    }
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

/// The wall-clock and CPU seconds one turn of refreshes took, and the
/// rotated tokens (each refresh token is good once).
async fn bare_loop(
    client: &reqwest::Client,
    sb: &Sandbox,
    tokens: Vec<(String, String)>,
    conc: usize,
) -> (f64, f64, Vec<(String, String)>) {
    let url = sb.oauth2_token_url();
    let n = tokens.len();
    let (started, cpu) = (Instant::now(), cpu_secs());
    let rotated: Vec<(String, String)> = futures::stream::iter(tokens)
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
                let s = |k: &str| body[k].as_str().map(str::to_owned);
                match (ok, s("access_token"), s("refresh_token")) {
                    (true, Some(access), Some(refresh)) => Some((access, refresh)),
                    _ => None,
                }
            }
        })
        .buffer_unordered(conc)
        .filter_map(futures::future::ready)
        .collect()
        .await;
    let (secs, cpu) = (started.elapsed().as_secs_f64(), cpu_secs() - cpu);
    assert_eq!(rotated.len(), n, "every bare refresh succeeds");
    (secs, cpu, rotated)
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

/// bankdeck's worker over a store holding the other arm's grants.
struct DeckArm {
    _dir: tempfile::TempDir,
    store: Arc<dyn Store>,
    handle: bankdeck::worker::WorkerHandle,
    ids: Vec<ConnectionId>,
    requests: u64,
}

impl DeckArm {
    fn start(
        sb: &Sandbox,
        tokens: Vec<(String, String)>,
        conc: usize,
        parent: Option<&str>,
        memory: bool,
    ) -> DeckArm {
        let dir = private_dir(parent);
        let cfg = config_for(sb, dir.path(), conc, "30s");
        let store: Arc<dyn Store> =
            store::open_with_key(&dir.path().join("data"), &dir.path().join("key"), false)
                .unwrap()
                .store;
        let ids = file_grants(&*store, tokens);
        let store: Arc<dyn Store> = match memory {
            true => Arc::new(support::memory::over(store, &ids)),
            false => store,
        };
        let opts = WorkerOptions {
            actor: "bench".into(),
            open_browser: false,
            ..WorkerOptions::default()
        };
        let handle = Worker::spawn(store.clone(), entries(&cfg), opts);
        DeckArm {
            _dir: dir,
            store,
            handle,
            ids,
            requests: 0,
        }
    }

    /// One turn: the screen's bulk refresh of `ids`, until its last
    /// progress report; the wall-clock and CPU seconds it took.
    async fn refresh(&mut self, ids: Vec<ConnectionId>) -> (f64, f64) {
        self.requests += 1;
        let id = RequestId(self.requests);
        let (started, cpu) = (Instant::now(), cpu_secs());
        self.handle
            .commands
            .send(Command::RefreshMany { id, conns: ids })
            .await
            .unwrap();
        let mut failed = 0;
        while let Some(ev) = self.handle.events.recv().await {
            if let Event::Progress {
                id: of,
                done,
                total,
                failed: f,
                ..
            } = ev
                && of == id
                && done == total
            {
                failed = f;
                break;
            }
        }
        let (secs, cpu) = (started.elapsed().as_secs_f64(), cpu_secs() - cpu);
        assert_eq!(failed, 0, "every bankdeck refresh succeeds");
        (secs, cpu)
    }

    fn check_audit(&self, n: usize) {
        let audited = self.store.audit(None, n * 4).unwrap();
        let refreshes = audited
            .iter()
            .filter(|a| a.op == OpKind::Refresh && a.ok)
            .count();
        assert_eq!(refreshes, n, "each refresh is in the audit log");
    }
}
