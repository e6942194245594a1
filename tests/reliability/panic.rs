//! Item 26: a panic in a background task. In process, the worker turns it
//! into a notice and carries on; in tmux, the real dashboard stays up, keeps
//! ticking and taking keys, and gives the terminal back on `q`.

use std::process::Command as Proc;
use std::time::{Duration, Instant};

use bankdeck::domain::{ErrorKind, OpKind};
use bankdeck::worker::{Command, Event, RequestId, WorkerHandle, WorkerOptions};

use super::common::Env;
use super::faults::next_event;

/// A worker whose first refresh panics (`--debug-panic refresh`).
fn panicking_worker(env: &Env) -> WorkerHandle {
    env.spawn_worker(WorkerOptions {
        panic_on: Some(OpKind::Refresh),
        ..WorkerOptions::default()
    })
}

#[tokio::test]
async fn a_panicking_task_is_a_notice_and_the_worker_carries_on() {
    let env = Env::start().await;
    let c = env.login("everifin", "lena").await;
    let before = env.secrets(c.id);
    let mut h = panicking_worker(&env);
    let posts = env.sandbox.request_count("oidc.token");
    h.commands
        .send(Command::Refresh {
            id: RequestId(1),
            conn: c.id,
        })
        .await
        .unwrap();
    let ev = next_event(&mut h.events, Duration::from_secs(5), |e| {
        !matches!(e, Event::Started { .. })
    })
    .await;
    match ev {
        Event::Notice { message } => {
            assert!(message.contains("internal error in request 1"), "{message}")
        }
        other => panic!("expected a notice, got {other:?}"),
    }
    // And the row waiting for request 1 hears that it ended.
    let ev = next_event(&mut h.events, Duration::from_secs(5), |_| true).await;
    match ev {
        Event::Failed {
            id: RequestId(1),
            error,
            conn_id,
            ..
        } => {
            assert_eq!(error.kind, bankdeck::domain::ErrorKind::Internal);
            assert_eq!(conn_id, Some(c.id));
        }
        other => panic!("expected the request to fail, got {other:?}"),
    }
    assert_eq!(env.secrets(c.id), before);
    assert_eq!(env.sandbox.request_count("oidc.token"), posts);
    // The same connection, the same operation: a fresh, working run.
    h.commands
        .send(Command::Refresh {
            id: RequestId(2),
            conn: c.id,
        })
        .await
        .unwrap();
    let ev = next_event(&mut h.events, Duration::from_secs(5), |e| {
        !matches!(e, Event::Started { .. })
    })
    .await;
    assert!(
        matches!(
            ev,
            Event::Succeeded {
                id: RequestId(2),
                ..
            }
        ),
        "{ev:?}"
    );
    assert_eq!(env.sandbox.request_count("oidc.token"), posts + 1);
}

/// A bulk refresh is many operations: one that panics fails its own row,
/// with the internal error, and the others are refreshed and counted.
#[tokio::test]
async fn a_panic_in_one_refresh_of_a_bulk_fails_only_its_row() {
    let env = Env::start().await;
    let mut conns = Vec::new();
    for user in ["lena", "jonas", "mira"] {
        conns.push(env.login("everifin", user).await.id);
    }
    let mut h = panicking_worker(&env);
    let posts = env.sandbox.request_count("oidc.token");
    h.commands
        .send(Command::RefreshMany {
            id: RequestId(1),
            conns: conns.clone(),
        })
        .await
        .unwrap();
    let (mut refreshed, mut panicked) = (Vec::new(), Vec::new());
    let last = loop {
        match next_event(&mut h.events, Duration::from_secs(10), |_| true).await {
            Event::Succeeded { conn, .. } => refreshed.push(conn.id),
            Event::Failed { conn_id, error, .. } => {
                assert_eq!(error.kind, ErrorKind::Internal, "{}", error.message);
                assert!(error.message.contains("internal error in request 1"));
                panicked.push(conn_id.unwrap());
            }
            Event::Progress {
                done: 3,
                total: 3,
                failed,
                ..
            } => break failed,
            Event::Progress { .. } => {}
            other => panic!("unexpected event {other:?}"),
        }
    };
    assert_eq!((refreshed.len(), panicked.len(), last), (2, 1, 1));
    refreshed.extend(&panicked);
    refreshed.sort();
    assert_eq!(refreshed, conns, "every row hears how its refresh ended");
    // The panic comes before its request: two POSTs, not three.
    assert_eq!(env.sandbox.request_count("oidc.token"), posts + 2);
}

/// A tmux session on a server of its own.
struct Pane(String, tempfile::TempDir);

impl Pane {
    fn tmux(&self) -> Proc {
        super::common::tmux(self.1.path())
    }
    fn screen(&self) -> String {
        let out = self
            .tmux()
            .args(["capture-pane", "-p", "-t", &self.0])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
    fn keys(&self, keys: &[&str]) {
        for k in keys {
            assert!(
                self.tmux()
                    .args(["send-keys", "-t", &self.0, k])
                    .status()
                    .unwrap()
                    .success()
            );
        }
    }
    fn wait(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let s = self.screen();
            if pred(&s) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Pane {
    fn drop(&mut self) {
        let _ = self
            .tmux()
            .args(["kill-server"])
            .stderr(std::process::Stdio::null())
            .status();
    }
}

/// `HH:MM:SS UTC` from the header line.
fn clock(screen: &str) -> String {
    let line = screen.lines().next().unwrap_or("");
    line.find(" UTC")
        .and_then(|i| line.get(i.saturating_sub(8)..i))
        .unwrap_or("")
        .to_string()
}

#[test]
fn the_dashboard_survives_a_panicking_refresh_and_restores_the_terminal() {
    let name = format!("bankdeck-rel-panic-{}", std::process::id());
    let bin = env!("CARGO_BIN_EXE_bankdeck");
    let socket_dir = super::common::private_dir();
    let ok = super::common::tmux(socket_dir.path())
        .args(["new-session", "-d", "-s", &name, "-x", "140", "-y", "40"])
        .arg(format!(
            "{bin} --demo --debug-panic refresh; echo EXITED $?; sleep 60"
        ))
        .env("NO_COLOR", "")
        .status()
        .expect("these tests need tmux");
    assert!(ok.success());
    let pane = Pane(name, socket_dir);
    pane.wait("the demo's table", |s| s.contains("jonas.berg"));
    pane.keys(&["/"]);
    assert!(
        pane.tmux()
            .args(["send-keys", "-t", &pane.0, "-l", "jonas.berg"])
            .status()
            .unwrap()
            .success()
    );
    pane.keys(&["Enter"]);
    pane.wait("the filter", |s| s.contains("1 of"));
    pane.keys(&["r"]);
    let scr = pane.wait("the panic notice", |s| {
        s.contains("internal error in request")
    });
    assert!(!scr.contains("EXITED"), "{scr}");
    // Still ticking: the header clock moves on.
    let first = clock(&scr);
    assert_eq!(first.len(), 8, "no clock in:\n{scr}");
    pane.wait("the clock to tick", |s| {
        let c = clock(s);
        c.len() == 8 && c != first
    });
    // Still taking keys.
    pane.keys(&["?"]);
    pane.wait("help", |s| s.contains("help: every key"));
    pane.keys(&["Escape"]);
    pane.wait("help closed", |s| !s.contains("help: every key"));
    // Nothing is left "in flight": `q` quits without asking.
    pane.wait("the row to stop being busy", |s| !s.contains("in flight"));
    pane.keys(&["q"]);
    let scr = pane.wait("the shell after quitting", |s| s.contains("EXITED"));
    assert!(scr.contains("EXITED 0"), "{scr}");
    assert!(
        !scr.contains("jonas.berg"),
        "the alternate screen is gone:\n{scr}"
    );
}
