//! The store's share of a refresh, without the network.
//!
//! For every refresh the worker asks the store for two things, each batched
//! with whatever else is in flight: a lease with the connection and its
//! refresh token (decrypted), then the outcome — the new tokens encrypted,
//! the row updated, the audit line appended and the lease released, in one
//! `synchronous=FULL` commit. Here a batch of 64 refreshes (the throughput
//! budget's concurrency) goes through both calls exactly as the worker's
//! batchers make them, the update built by the worker's own
//! `tokens::grant_update`, on the generated store (see
//! `benches/common/mod.rs` for its scale).
//!
//! `cpu` times the calling thread's CPU (it leads its own group commits, so
//! every statement and seal runs on it); `wall` is the elapsed time, the
//! fsyncs included. Against the bare client-and-sandbox CPU per refresh of
//! `examples/refresh_throughput`, `cpu` bounds the ratio from above: a
//! refresh costs bankdeck at least the bare work plus this.
//!
//! Both time rows that have been leased before: at 2.5-3.2 ms a batch,
//! criterion's 3 s warm-up of `cpu` alone leases 60 000-75 000 rows, more
//! than the 100 000-row fixture's 49 000 refreshable ones. A freshly written table packs its pages
//! full, so the first lease of a row (its holder's name written into it)
//! overflows the page and SQLite rebalances it with its siblings; the release
//! leaves the room behind, so later leases fit. That one-time cost of a new
//! store's first bulk refresh is outside these figures (see BENCHMARKS.md).

mod common;

use std::time::Duration;

use bankdeck::domain::{Connection, ConnectionId, OpKind, Secret, UnixTime};
use bankdeck::providers::{GrantExpiry, TokenGrant};
use bankdeck::sandbox::random_token;
use bankdeck::store::{AuditDraft, LeaseRequest, SecretSet, Settlement, Store};
use bankdeck::worker::tokens::grant_update;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// Refreshes in flight, as in the throughput budget.
const BATCH: usize = 64;

fn benches(c: &mut Criterion) {
    let fx = common::Fixture::generate();
    let store = fx.open();
    let ids: Vec<ConnectionId> = store
        .connections()
        .unwrap()
        .iter()
        .filter(|c| c.lifetimes.has_refresh)
        .map(|c| c.id)
        .collect();
    assert!(
        ids.len() >= BATCH,
        "the fixture has too few refreshable connections"
    );
    let holder = "bench|store_refresh";
    let mut next = 0;
    let mut batch = move || {
        let chunk: Vec<ConnectionId> = (0..BATCH).map(|i| ids[(next + i) % ids.len()]).collect();
        next = (next + BATCH) % ids.len();
        chunk
    };
    let mut g = c.benchmark_group("store_refresh");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.sample_size(20).measurement_time(Duration::from_secs(8));
    g.bench_function(format!("cpu/{BATCH}"), |b| {
        b.iter_custom(|iters| {
            let started = thread_cpu();
            for _ in 0..iters {
                refresh_batch(&*store, holder, &batch());
            }
            thread_cpu() - started
        })
    });
    g.bench_function(format!("wall/{BATCH}"), |b| {
        b.iter(|| refresh_batch(&*store, holder, &batch()))
    });
    g.finish();
}

/// One batch of refreshes' store calls: leases (opening only the refresh
/// token, as a refresh does), then their outcomes.
fn refresh_batch(store: &dyn Store, holder: &str, ids: &[ConnectionId]) {
    let now = UnixTime::now();
    let leases = ids
        .iter()
        .map(|&id| LeaseRequest {
            id,
            until: now.plus_secs(30),
            now,
            wants: SecretSet::REFRESH_TOKEN,
        })
        .collect();
    let settlements = store
        .lease_and_read_many(leases, holder)
        .into_iter()
        .map(|leased| {
            let (conn, secrets) = leased.unwrap().expect("nothing else holds a lease");
            assert!(
                secrets.refresh_token.is_some(),
                "the lease opens the refresh token"
            );
            std::sync::Arc::new(settlement(conn, now))
        })
        .collect();
    for saved in store.apply_and_release_many(settlements, holder) {
        saved.unwrap();
    }
}

/// What a provider's refresh answer becomes: two new tokens (minted as the
/// sandbox mints them) and an audit line.
fn settlement(conn: Connection, now: UnixTime) -> Settlement {
    let grant = TokenGrant {
        access_token: Secret::new(random_token("at-")),
        expiry: GrantExpiry::InSecs(3600),
        refresh_token: Some(Secret::new(random_token("rt-"))),
        refresh_expires_in: None,
        id_token: None,
        scopes: conn.scopes.clone(),
        subject: None,
        session: None,
    };
    let update = grant_update(&conn, &grant, now);
    let audit = AuditDraft {
        at: now,
        actor: "bench".into(),
        op: OpKind::Refresh,
        ok: true,
        message: "refreshed".into(),
    };
    Settlement {
        base: conn,
        update,
        audit,
    }
}

/// CPU time of the calling thread.
fn thread_cpu() -> Duration {
    // SAFETY: clock_gettime writes only into the struct it is given.
    let ts = unsafe {
        let mut ts: libc::timespec = std::mem::zeroed();
        libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts);
        ts
    };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

criterion_group!(store_refresh, benches);
criterion_main!(store_refresh);
