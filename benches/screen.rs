//! One update and one render on 100 000 connections, in process.
//!
//! Each iteration is what the run loop does for one message: `App::update`,
//! then a 160×50 frame into ratatui's `TestBackend` (the buffer diff included,
//! the terminal's own write excluded). Budgets: a key press or a tick ≤ 2 ms,
//! a filter keystroke (re-filtering every row, and from eight characters
//! on every row's provider ids too) ≤ 10 ms, the first one of a fresh
//! screen included (it would build the filter's buffers if the load had
//! not). The data is a store
//! written by `bankdeck generate`'s code and read back through the store.

mod common;

use criterion::{Criterion, criterion_group, criterion_main};

fn benches(c: &mut Criterion) {
    let fx = common::Fixture::generate();
    let (conns, users) = fx.load();
    let n = conns.len();
    // A Dapi connectionID's first 11 characters, as a ticket might quote it.
    let id_prefix: String = (conns.iter().skip(n / 2))
        .find_map(|c| c.remote.connection_id.as_deref())
        .expect("the fixture holds Dapi rows")
        .chars()
        .take(11)
        .collect();
    let now = fx.now;
    let mut terminal = common::screen();
    // A copy for the first keystroke's fresh screens, below.
    let (first_conns, first_users) = (conns.clone(), users.clone());
    let mut app = common::app_with(conns, users, now);
    common::draw(&mut terminal, &mut app, now);

    let mut g = c.benchmark_group("screen");
    // A key press that moves the selection: down, then up, alternately.
    g.bench_function(format!("key_move/{n}"), |b| {
        key_moves(b, &mut app, &mut terminal, now)
    });
    // The 1 s tick: the counts of rows whose state moved, countdowns redrawn.
    g.bench_function(format!("tick/{n}"), |b| {
        let mut t = now;
        b.iter(|| {
            t = t.plus_secs(1);
            app.update(bankdeck::tui::Msg::Tick, t);
            common::draw(&mut terminal, &mut app, t);
        })
    });
    // A filter keystroke: with "ra" typed, add "v" then take it back, so
    // every keystroke matches a non-empty needle against every row; then
    // the same with a needle long enough to read the provider's ids too
    // (eight characters or more), so both buffers are scanned.
    for (name, typed, extra) in [
        ("filter_keystroke", "ra", 'v'),
        ("filter_keystroke_ids", &*id_prefix, '0'),
    ] {
        app.update(common::escape(), now);
        app.update(common::key('/'), now);
        for ch in typed.chars() {
            app.update(common::key(ch), now);
        }
        assert!(!app.visible_ids().is_empty(), "{typed:?} keeps no row");
        g.bench_function(format!("{name}/{n}"), |b| {
            let mut typing = true;
            b.iter(|| {
                let msg = if typing {
                    common::key(extra)
                } else {
                    common::backspace()
                };
                typing = !typing;
                app.update(msg, now);
                common::draw(&mut terminal, &mut app, now);
            })
        });
    }
    g.finish();
    // The tick under a filter, on a screen of its own whose clock starts
    // where the store's does: the rows whose state moved are read against
    // the filter again (a tick used to leave the filter as typed, stale).
    let mut g = c.benchmark_group("screen");
    let mut filtered = common::app_with(first_conns.clone(), first_users.clone(), now);
    filtered.update(common::key('/'), now);
    for ch in "ra".chars() {
        filtered.update(common::key(ch), now);
    }
    filtered.update(common::enter(), now);
    g.bench_function(format!("tick_filtered/{n}"), |b| {
        let mut t = now;
        b.iter(|| {
            t = t.plus_secs(1);
            filtered.update(bankdeck::tui::Msg::Tick, t);
            common::draw(&mut terminal, &mut filtered, t);
        })
    });
    drop(filtered);
    // Marks: the first 200 rows marked (the key bar reads each mark's rule
    // for `e`, `r`, `l` and `D` on every frame, up to 256), a key press
    // then; and every row marked at once (`g`, space, `G`, ctrl-space),
    // drawn, then cleared with Esc.
    let mut marked = common::app_with(first_conns.clone(), first_users.clone(), now);
    marked.update(common::key(' '), now);
    for _ in 0..198 {
        marked.update(common::key('j'), now);
    }
    marked.update(common::ctrl_space(), now);
    assert_eq!(marked.marked().len(), 200);
    g.bench_function(format!("key_move_200_marked/{n}"), |b| {
        key_moves(b, &mut marked, &mut terminal, now)
    });
    g.bench_function(format!("mark_every_row_then_clear/{n}"), |b| {
        b.iter(|| {
            for msg in [common::key('g'), common::key(' '), common::key('G')] {
                marked.update(msg, now);
            }
            marked.update(common::ctrl_space(), now);
            common::draw(&mut terminal, &mut marked, now);
            marked.update(common::escape(), now);
        })
    });
    assert!(marked.marked().is_empty());
    drop(marked);
    g.finish();

    // The first filter keystroke of a fresh screen, which would build the
    // filter's buffers of every row's words and ids if the load had not: a
    // fresh screen for each one (its making untimed), `/` open, then `r`.
    let mut g = c.benchmark_group("screen");
    g.sample_size(10);
    g.bench_function(format!("filter_first_keystroke/{n}"), |b| {
        b.iter_batched(
            || {
                let mut fresh = common::app_with(first_conns.clone(), first_users.clone(), now);
                fresh.update(common::key('/'), now);
                fresh
            },
            |mut fresh| {
                fresh.update(common::key('r'), now);
                common::draw(&mut terminal, &mut fresh, now);
                fresh
            },
            criterion::BatchSize::PerIteration,
        )
    });
    g.finish();
}

/// A key press that moves the selection, down then up alternately, and
/// its frame.
fn key_moves(
    b: &mut criterion::Bencher,
    app: &mut bankdeck::tui::App,
    terminal: &mut common::Screen,
    now: bankdeck::domain::UnixTime,
) {
    let mut down = true;
    b.iter(|| {
        app.update(common::key(if down { 'j' } else { 'k' }), now);
        down = !down;
        common::draw(terminal, app, now);
    })
}

criterion_group!(screen, benches);
criterion_main!(screen);
