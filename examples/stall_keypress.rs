//! A key press while 1 000 refreshes hang on a stalled server.
//!
//! The issue asks that a key press show in the next frame even then. This
//! runs the screen's own loop shape in process: a generated store of 100 000
//! connections, the real worker with `max_in_flight = 1000` for the `bank`
//! provider, and an in-process sandbox whose token endpoint stalls (the
//! `oauth2.token:stall` fault: requests are accepted and never answered).
//! A bulk refresh of 1 000 `bank` connections is sent; once all 1 000 reach
//! the stalled server, a key press (`j`/`k`) is injected every 20 ms from another task.
//! The loop is the dashboard's, on its own [`Sources`]: draw if needed, wait
//! for the next message (key, worker event, 1 s tick; worker events held a
//! frame after each frame), update with the events already queued. The keys
//! come in as the terminal's would, as a stream of key events. Printed: the
//! time from a key's injection to the end of the frame that shows it
//! (TestBackend 160×50), median, p95 and max over 100 presses.
//!
//! `cargo run --release --example stall_keypress -- [CONNECTIONS] [HANGING]`

use std::sync::Arc;
use std::time::{Duration, Instant};

use bankdeck::domain::{Grant, UnixTime};
use bankdeck::sandbox::{Sandbox, SandboxOptions, parse_fault};
use bankdeck::store::{self, Store};
use bankdeck::tui::{Msg, Sources, render};
use bankdeck::worker::{Command, RequestId, Worker, WorkerOptions};
use crossterm::event::{Event as TermEvent, KeyCode, KeyEvent, KeyModifiers};
use tokio::sync::mpsc;

mod support;

// The screen loaded the way the criterion benches load it.
#[path = "../benches/common/mod.rs"]
mod bench_common;

const PRESSES: usize = 100;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args.first().map_or(100_000, |a| a.parse().unwrap());
    let hanging: usize = args.get(1).map_or(1_000, |a| a.parse().unwrap());
    let opts = SandboxOptions {
        faults: vec![parse_fault("oauth2.token:stall").unwrap()],
        ..SandboxOptions::default()
    };
    let sandbox = Sandbox::start(opts, 0).await.unwrap();
    let dir = support::private_dir(None);
    let cfg = support::config_for(&sandbox, dir.path(), hanging, "600s");
    let store: Arc<dyn Store> =
        store::open_with_key(&dir.path().join("data"), &dir.path().join("key"), false)
            .unwrap()
            .store;
    let now = UnixTime::now();
    bankdeck::cli::generate::fill(&*store, n, n / 10, now, "bench", |_| {}).unwrap();
    let conns = store.connections().unwrap();
    let users = store.users().unwrap();
    let targets: Vec<_> = conns
        .iter()
        .filter(|c| {
            c.provider == "bank"
                && c.grant == Grant::AuthorizationCode
                && c.lifetimes.has_refresh
                && !c.flags.reauth_required
                && c.flags.logged_out_at.is_none()
        })
        .map(|c| c.id)
        .take(hanging)
        .collect();
    assert_eq!(
        targets.len(),
        hanging,
        "enough refreshable bank connections"
    );

    let wopts = WorkerOptions {
        actor: "bench".into(),
        open_browser: false,
        ..WorkerOptions::default()
    };
    let mut handle = Worker::spawn(store.clone(), support::entries(&cfg), wopts);
    let mut app = bench_common::app_with(conns, users, now);
    let mut terminal = bench_common::screen();
    handle
        .commands
        .send(Command::RefreshMany {
            id: RequestId(1 << 40),
            conns: targets.clone(),
        })
        .await
        .unwrap();

    // Wait until every refresh has reached the stalled server (and hangs
    // there), handing the screen the worker's events meanwhile.
    let started = Instant::now();
    while (sandbox.request_count("oauth2.token") as usize) < hanging
        && started.elapsed() < Duration::from_secs(120)
    {
        tokio::select! {
            Some(ev) = handle.events.recv() => { app.update(Msg::Worker(ev), UnixTime::now()); }
            _ = tokio::time::sleep(Duration::from_millis(10)) => {}
        }
    }
    let answered = sandbox.request_count("oauth2.token");
    eprintln!(
        "{answered} token requests hanging after {:.1?}",
        started.elapsed()
    );
    // Fewer would measure a lighter load than the one named.
    assert_eq!(
        answered as usize, hanging,
        "every refresh reaches the stalled server"
    );
    // Each key goes with the moment it was sent, the way a terminal's
    // input stream would deliver it.
    let (key_tx, key_rx) = mpsc::channel::<(Instant, char)>(PRESSES);
    tokio::spawn(async move {
        for i in 0..PRESSES {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let c = if i % 2 == 0 { 'j' } else { 'k' };
            key_tx.send((Instant::now(), c)).await.unwrap();
        }
    });
    let sent_at = Arc::new(std::sync::Mutex::new(std::collections::VecDeque::new()));
    let input = {
        let sent_at = sent_at.clone();
        Box::pin(futures::stream::unfold(key_rx, move |mut rx| {
            let sent_at = sent_at.clone();
            async move {
                let (sent, c) = rx.recv().await?;
                sent_at.lock().unwrap().push_back(sent);
                let key = KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE);
                Some((Ok(TermEvent::Key(key)), rx))
            }
        }))
    };
    let mut sources = Sources::new(input, handle.events);
    let mut waiting: Option<Instant> = None;
    let mut latencies = Vec::with_capacity(PRESSES);
    loop {
        if app.needs_redraw() {
            let t = UnixTime::now();
            terminal.draw(|f| render(&app, f, t)).unwrap();
            app.mark_drawn();
            sources.drawn();
        }
        if let Some(sent) = waiting.take() {
            latencies.push(sent.elapsed());
            if latencies.len() == PRESSES {
                break;
            }
        }
        let msg = sources
            .next()
            .await
            .unwrap()
            .expect("a key for every press");
        if matches!(msg, Msg::Key(_)) {
            waiting = sent_at.lock().unwrap().pop_front();
        }
        // j and k ask the worker for nothing.
        let _ = sources.apply(&mut app, msg);
    }
    let still = targets.iter().filter(|id| app.is_busy(**id)).count();
    latencies.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "connections: {n}, refreshes hanging: {hanging} (the stalled server holds {answered} token requests; \
         {still} rows still busy on screen)"
    );
    println!(
        "key press to frame: median {:.2} ms, p95 {:.2} ms, max {:.2} ms over {PRESSES} presses",
        ms(latencies[PRESSES / 2]),
        ms(latencies[PRESSES * 95 / 100]),
        ms(latencies[PRESSES - 1])
    );
    // The hanging requests end with the process; the temp dir must go first.
    drop(store);
    drop(dir);
    std::process::exit(0);
}
