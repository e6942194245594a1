//! Shared by the criterion benches: the scale to run at and the fixture.
//!
//! `cargo bench` passes `--bench` and runs at the scale (100 000
//! connections over 10 000 users). `cargo test --benches` (and so
//! `cargo test --all-targets`, which CI runs) does not: criterion then runs
//! each bench once as a smoke test, and the fixture is 2 000 connections so
//! the smoke run takes seconds. `BANKDECK_BENCH_CONNECTIONS` overrides both.
//! The fixture is written by `bankdeck generate`'s own code through the real
//! store, once per bench binary, into a private temp dir.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use bankdeck::domain::{Connection, UnixTime, User};
use bankdeck::store::{self, Store};

pub struct Scale {
    pub connections: usize,
    pub users: usize,
}

/// The scale under `cargo bench`, a small one in smoke mode.
pub fn scale() -> Scale {
    let args: Vec<String> = std::env::args().collect();
    let full = args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--test");
    let connections = std::env::var("BANKDECK_BENCH_CONNECTIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full { 100_000 } else { 2_000 });
    Scale {
        connections,
        users: (connections / 10).max(1),
    }
}

/// A generated store on disk; dropping it removes the folder.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub now: UnixTime,
    pub scale: Scale,
}

impl Fixture {
    pub fn generate() -> Fixture {
        use std::os::unix::fs::PermissionsExt;
        let scale = scale();
        let dir = tempfile::Builder::new()
            .prefix("bankdeck-bench-")
            .tempdir()
            .unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let now = UnixTime::now();
        let started = std::time::Instant::now();
        {
            let store = Self::open_in(&dir, false);
            bankdeck::cli::generate::fill(
                &*store,
                scale.connections,
                scale.users,
                now,
                "bench",
                |_| {},
            )
            .unwrap();
        }
        eprintln!(
            "fixture: {} connections over {} users generated in {:.1?}",
            scale.connections,
            scale.users,
            started.elapsed()
        );
        Fixture { dir, now, scale }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn key_file(&self) -> PathBuf {
        self.dir.path().join("key")
    }

    fn open_in(dir: &tempfile::TempDir, readonly: bool) -> Arc<dyn Store> {
        store::open_with_key(&dir.path().join("data"), &dir.path().join("key"), readonly)
            .unwrap()
            .store
    }

    /// Opens the store as the dashboard does (read-write).
    pub fn open(&self) -> Arc<dyn Store> {
        Self::open_in(&self.dir, false)
    }

    pub fn load(&self) -> (Vec<Connection>, Vec<User>) {
        let store = self.open();
        (store.connections().unwrap(), store.users().unwrap())
    }
}

/// The screen as the dashboard builds it: `App::new`, the terminal's size,
/// the start-up Reload answered by a `Loaded` carrying `conns` and `users`.
pub fn app_with(conns: Vec<Connection>, users: Vec<User>, now: UnixTime) -> bankdeck::tui::App {
    use bankdeck::tui::{App, Msg, RunOptions};
    use bankdeck::worker::{Command, Event};
    let opts = RunOptions {
        data_label: "bench".into(),
        warn_secs: 120,
        ..RunOptions::default()
    };
    let mut app = App::new(&opts, now);
    app.update(Msg::Resize(WIDTH, HEIGHT), now);
    let id = match app.start().first() {
        Some(Command::Reload { id }) => *id,
        other => panic!("the screen starts with a Reload, not {other:?}"),
    };
    app.update(
        Msg::Worker(Event::Loaded {
            id,
            connections: conns,
            users,
            audit_mark: 0,
        }),
        now,
    );
    app
}

pub const WIDTH: u16 = 160;
pub const HEIGHT: u16 = 50;

pub type Screen = ratatui::Terminal<ratatui::backend::TestBackend>;

pub fn screen() -> Screen {
    ratatui::Terminal::new(ratatui::backend::TestBackend::new(WIDTH, HEIGHT)).unwrap()
}

/// One frame, as the run loop draws it.
pub fn draw(terminal: &mut Screen, app: &mut bankdeck::tui::App, now: UnixTime) {
    terminal
        .draw(|f| bankdeck::tui::render(app, f, now))
        .unwrap();
    app.mark_drawn();
}

pub fn key(c: char) -> bankdeck::tui::Msg {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    bankdeck::tui::Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

pub fn backspace() -> bankdeck::tui::Msg {
    code(crossterm::event::KeyCode::Backspace)
}

pub fn escape() -> bankdeck::tui::Msg {
    code(crossterm::event::KeyCode::Esc)
}

pub fn enter() -> bankdeck::tui::Msg {
    code(crossterm::event::KeyCode::Enter)
}

pub fn ctrl_space() -> bankdeck::tui::Msg {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    bankdeck::tui::Msg::Key(KeyEvent::new(KeyCode::Char(' '), KeyModifiers::CONTROL))
}

fn code(code: crossterm::event::KeyCode) -> bankdeck::tui::Msg {
    use crossterm::event::{KeyEvent, KeyModifiers};
    bankdeck::tui::Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}
