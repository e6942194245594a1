//! Opening a big store and drawing the first frame, in process.
//!
//! `store_open/connections` is the store half (open the SQLite file with its
//! checks and key, list every connection without secrets, list users);
//! `store_open/first_frame` is everything the dashboard does before the
//! operator sees the table: that, plus building the screen's index from the
//! `Loaded` event and rendering one 160×50 frame. The budget is 300 ms at
//! 100 000 connections. See `benches/common/mod.rs` for the scale.

mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};

fn benches(c: &mut Criterion) {
    let fx = common::Fixture::generate();
    let mut g = c.benchmark_group("store_open");
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    g.bench_function(format!("connections/{}", fx.scale.connections), |b| {
        b.iter_with_large_drop(|| {
            let store = fx.open();
            black_box((store.connections().unwrap(), store.users().unwrap()))
        })
    });
    g.bench_function(format!("first_frame/{}", fx.scale.connections), |b| {
        let mut terminal = common::screen();
        b.iter_with_large_drop(|| {
            let store = fx.open();
            let (conns, users) = (store.connections().unwrap(), store.users().unwrap());
            let mut app = common::app_with(conns, users, fx.now);
            common::draw(&mut terminal, &mut app, fx.now);
            black_box(app)
        })
    });
    g.finish();
}

criterion_group!(store_open, benches);
criterion_main!(store_open);
