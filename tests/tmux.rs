//! The real binary, driven as a person would: `bankdeck --demo` in tmux,
//! keys sent with `send-keys`, the screen read with `capture-pane`.
//!
//! Waits poll the screen for the expected text with a deadline; nothing
//! sleeps a fixed time hoping the program is done.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::tmux;

const BIN: &str = env!("CARGO_BIN_EXE_bankdeck");

struct Session {
    name: String,
    /// Holds the session's own tmux socket, removed with it.
    dir: tempfile::TempDir,
}

impl Session {
    fn start(args: &str, width: u16, height: u16) -> Session {
        Session::start_with(&[], args, width, height)
    }

    /// [`Session::start`] with `envs` set for bankdeck.
    fn start_with(envs: &[(&str, PathBuf)], args: &str, width: u16, height: u16) -> Session {
        Session::start_command(envs, &format!("{BIN} {args}"), width, height)
    }

    /// A shell with job control, its prompt `$ `, for bankdeck run from it.
    fn shell(width: u16, height: u16) -> Session {
        let s = Session::start_command(
            &[],
            "env PS1='$ ' bash --norc --noprofile -i",
            width,
            height,
        );
        s.wait("the shell's prompt", |scr| scr.trim_end().ends_with('$'));
        s
    }

    fn start_command(envs: &[(&str, PathBuf)], command: &str, width: u16, height: u16) -> Session {
        assert!(
            Command::new("tmux").arg("-V").output().is_ok(),
            "these tests need tmux: install it (apt-get install tmux)"
        );
        let name = format!("bankdeck-test-{}-{}", std::process::id(), rand_suffix());
        let dir = tempfile::tempdir().unwrap();
        let status = tmux(dir.path())
            .args([
                "new-session",
                "-d",
                "-s",
                &name,
                "-x",
                &width.to_string(),
                "-y",
                &height.to_string(),
            ])
            .arg(command)
            .envs(envs.iter().map(|(k, v)| (k, v)))
            .env("NO_COLOR", "")
            .status()
            .unwrap();
        assert!(status.success());
        Session { name, dir }
    }

    fn keys(&self, keys: &[&str]) {
        for k in keys {
            let ok = self
                .tmux()
                .args(["send-keys", "-t", &self.name, k])
                .status()
                .unwrap();
            assert!(ok.success());
        }
    }

    fn type_text(&self, text: &str) {
        let ok = self
            .tmux()
            .args(["send-keys", "-t", &self.name, "-l", text])
            .status()
            .unwrap();
        assert!(ok.success());
    }

    fn screen(&self) -> String {
        let out = self
            .tmux()
            .args(["capture-pane", "-p", "-t", &self.name])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Polls the screen until `pred` holds, or fails showing the last screen.
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

    fn row<'a>(screen: &'a str, user: &str) -> &'a str {
        // The table row, not the title that repeats the filter text.
        screen
            .lines()
            .find(|l| l.contains(user) && !l.contains("filter:"))
            .unwrap_or("")
    }

    fn tmux(&self) -> Command {
        tmux(self.dir.path())
    }

    /// The pid of what the session's pane runs.
    fn pane_pid(&self) -> String {
        let pane = self
            .tmux()
            .args(["display-message", "-p", "-t", &self.name, "#{pane_pid}"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&pane.stdout).trim().to_owned()
    }

    /// The pid of the bankdeck that [`Session::shell`]'s shell runs: the
    /// shell's child, not any bankdeck, since other tests run theirs.
    fn child(&self) -> String {
        let shell = self.pane_pid();
        let pid = std::fs::read_to_string(format!("/proc/{shell}/task/{shell}/children"))
            .unwrap()
            .trim()
            .to_owned();
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
        assert_eq!(comm.trim(), "bankdeck", "the shell's one child");
        pid
    }

    fn alive(&self) -> bool {
        self.tmux()
            .args(["has-session", "-t", &self.name])
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self
            .tmux()
            .args(["kill-session", "-t", &self.name])
            .stderr(Stdio::null())
            .status();
    }
}

fn rand_suffix() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos()
}

/// Filters the table down to one user, so the selection is that row.
fn select(s: &Session, user: &str) {
    s.keys(&["/"]);
    s.type_text(user);
    s.keys(&["Enter"]);
    s.wait(&format!("the filter on {user}"), |scr| scr.contains("1 of"));
}

#[test]
fn exchange_then_delink_from_the_keyboard() {
    let s = Session::start("--demo", 140, 40);
    let scr = s.wait("the demo's table", |scr| {
        scr.contains("amira.haddad") && scr.contains("code pending")
    });
    assert!(Session::row(&scr, "amira.haddad").contains("code pending"));

    select(&s, "amira.haddad");
    s.keys(&["e"]);
    let scr = s.wait("the exchange", |scr| {
        Session::row(scr, "amira.haddad").contains("active")
    });
    assert!(Session::row(&scr, "amira.haddad").contains("permanent"));

    s.keys(&["D"]);
    s.wait("the delink dialog", |scr| {
        scr.contains("Type the user's name")
    });
    s.type_text("amira.hadda");
    s.keys(&["Enter"]);
    let scr = s.wait("the refusal of a wrong name", |scr| scr.contains("exactly"));
    assert!(
        Session::row(&scr, "amira.haddad").contains("active"),
        "a wrong name changes nothing"
    );
    s.type_text("d");
    s.keys(&["Enter"]);
    s.wait("the delink", |scr| {
        Session::row(scr, "amira.haddad").contains("delinked")
    });

    s.keys(&["q"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while s.alive() {
        assert!(Instant::now() < deadline, "q did not quit");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn every_state_is_on_screen_in_words_and_help_lists_the_keys() {
    let s = Session::start("--demo", 160, 56);
    let scr = s.wait("the demo's table", |scr| scr.contains("amira.haddad"));
    for words in [
        "code pending",
        "code expired",
        "active",
        "expiring",
        "expired (refreshable)",
        "re-consent required",
        "logged out (access valid",
        "delinked",
        "failed: Dapi refused",
        "permanent",
    ] {
        assert!(scr.contains(words), "{words} missing:\n{scr}");
    }
    s.keys(&["?"]);
    let keys = [
        "exchange",
        "refresh_all",
        "delink",
        "client_credentials",
        "toggle_users",
    ];
    // Waited for whole: tmux can be captured while the help is half drawn.
    s.wait("help listing every key", |scr| {
        scr.contains("help: every key") && keys.iter().all(|k| scr.contains(k))
    });
}

#[test]
fn a_resize_storm_down_to_one_cell_leaves_a_working_screen() {
    let s = Session::start("--demo", 120, 40);
    s.wait("the demo's table", |scr| scr.contains("amira.haddad"));
    for (w, h) in [
        (1, 1),
        (30, 5),
        (1, 1),
        (200, 60),
        (59, 14),
        (2, 2),
        (120, 40),
    ] {
        let ok = s
            .tmux()
            .args([
                "resize-window",
                "-t",
                &s.name,
                "-x",
                &w.to_string(),
                "-y",
                &h.to_string(),
            ])
            .status()
            .unwrap();
        assert!(ok.success());
    }
    let scr = s.wait("the table after the storm", |scr| {
        scr.contains("amira.haddad")
    });
    assert!(scr.contains("connections"));
    assert!(s.alive());
    let ok = s
        .tmux()
        .args(["resize-window", "-t", &s.name, "-x", "50", "-y", "12"])
        .status()
        .unwrap();
    assert!(ok.success());
    s.wait("the too-small note", |scr| scr.contains("too small"));
}

/// `kill` (SIGTERM), SIGHUP, or closing the terminal window ends the
/// dashboard as `q` does, so the demo's throw-away folder is removed: by
/// default either signal killed the process on the spot and left it behind,
/// and a closed window aborted it on a write to the dead terminal.
#[test]
fn a_hangup_or_a_terminate_ends_the_demo_and_removes_its_folder() {
    for signal in ["TERM", "HUP", "the window closed"] {
        let s = Session::start("--demo", 120, 40);
        let scr = s.wait("the demo's table", |scr| scr.contains("amira.haddad"));
        let header = scr.lines().next().unwrap_or("");
        let path = header
            .split_whitespace()
            .find(|w| w.contains("bankdeck-demo-"))
            .unwrap_or_else(|| panic!("no demo folder in the header: {header}"));
        let dir = std::path::Path::new(path).parent().unwrap().to_owned();
        assert!(dir.is_dir(), "{dir:?}");
        let pid = s.pane_pid();
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
        assert_eq!(comm.trim(), "bankdeck", "the pane runs bankdeck itself");
        // Closing the window hangs the terminal up as well as sending
        // SIGHUP: whatever bankdeck writes while leaving finds no terminal.
        let ok = match signal {
            "the window closed" => s.tmux().args(["kill-session", "-t", &s.name]).status(),
            _ => Command::new("kill").args(["-s", signal, &pid]).status(),
        };
        assert!(ok.unwrap().success());
        let deadline = Instant::now() + Duration::from_secs(20);
        while dir.exists() || std::path::Path::new(&format!("/proc/{pid}")).exists() {
            assert!(
                Instant::now() < deadline,
                "{signal}: bankdeck still running or {dir:?} still there"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// A script or `timeout` that stops the dashboard with SIGTERM hears so
/// from its exit status, 130 as for any command a signal stopped; `q` is
/// 0. Both used to exit 0.
#[test]
fn a_terminated_dashboard_exits_130_and_a_quit_one_0() {
    let s = Session::shell(120, 40);
    let table = |scr: &str| scr.contains("amira.haddad") && scr.contains("connections 13 of 13");
    for (end, status) in [("q", "exit=0"), ("TERM", "exit=130")] {
        s.keys(&["C-l"]);
        s.type_text(&format!("{BIN} --demo; echo exit=$?"));
        s.keys(&["Enter"]);
        s.wait("the demo's table", table);
        match end {
            "q" => s.keys(&["q"]),
            signal => {
                let pid = s.child();
                let ok = Command::new("kill").args(["-s", signal, &pid]).status();
                assert!(ok.unwrap().success());
            }
        }
        let scr = s.wait("the exit status", |scr| {
            scr.lines().any(|l| l.starts_with("exit="))
        });
        assert!(scr.lines().any(|l| l == status), "{end}: {scr}");
    }
}

/// TERM=dumb (Emacs' shell, a serial console) says the terminal cannot
/// draw a screen: the dashboard says so and what to use instead, exits 2,
/// and makes nothing, the demo's folder included. It drew each frame as
/// lines of escape codes.
#[test]
fn a_dumb_terminal_is_told_what_to_use_and_nothing_is_made() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Session::shell(400, 20);
    let run = format!("TMPDIR={} TERM=dumb {BIN} --demo", tmp.path().display());
    s.type_text(&format!("{run}; echo exit=$?"));
    s.keys(&["Enter"]);
    let scr = s.wait("the exit status", |scr| {
        scr.lines().any(|l| l.starts_with("exit="))
    });
    assert!(
        scr.contains("the dashboard needs a terminal that can draw a screen, and TERM=dumb")
            && scr.contains("bankdeck status"),
        "{scr}"
    );
    assert!(scr.lines().any(|l| l == "exit=2"), "{scr}");
    let made: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert!(made.is_empty(), "{made:?}");
}

/// The selected row's line.
fn selected(screen: &str) -> String {
    screen
        .lines()
        .find(|l| l.contains('›'))
        .unwrap_or_default()
        .to_owned()
}

/// Ctrl-Z gives the terminal back to the shell and stops the dashboard;
/// `fg` brings it back whole and taking keys. So does `fg` after a stop it
/// could not see (`kill -STOP`) continued in the background: it stops again
/// there rather than draw over the shell. Ctrl-Z was only a key, and a
/// dashboard stopped and continued stayed in the shell's line mode, each
/// key waiting for Enter.
#[test]
fn ctrl_z_and_a_stop_from_outside_come_back_with_fg() {
    let s = Session::shell(120, 40);
    s.type_text(&format!("{BIN} --demo"));
    s.keys(&["Enter"]);
    let table = |scr: &str| scr.contains("amira.haddad") && scr.contains("connections 13 of 13");
    s.wait("the demo's table", table);
    s.keys(&["C-z"]);
    s.wait("the shell's job stopped", |scr| {
        scr.contains("Stopped") && !scr.contains("amira.haddad")
    });
    let pid = s.child();
    for stop in [None, Some("STOP")] {
        if let Some(signal) = stop {
            s.keys(&["C-l"]);
            let ok = Command::new("kill").args(["-s", signal, &pid]).status();
            assert!(ok.unwrap().success());
            s.wait("the shell's job stopped", |scr| scr.contains("Stopped"));
            let ok = Command::new("kill").args(["-s", "CONT", &pid]).status();
            assert!(ok.unwrap().success());
            // Polled, not slept on: on a loaded machine the dashboard may
            // take a while to hear its SIGCONT.
            let state = || {
                let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
                let state = stat.rsplit(')').next().unwrap_or_default();
                state.split_whitespace().next().map(str::to_owned)
            };
            let started = std::time::Instant::now();
            while state().as_deref() != Some("T") && started.elapsed() < Duration::from_secs(10) {
                std::thread::sleep(Duration::from_millis(50));
            }
            assert_eq!(
                state().as_deref(),
                Some("T"),
                "continued in the background, it stops again"
            );
        }
        s.type_text("fg");
        s.keys(&["Enter"]);
        let scr = s.wait("the table again", table);
        let before = selected(&scr);
        s.keys(&["j"]);
        s.wait("the selection moved by one key", |scr| {
            let now = selected(scr);
            !now.is_empty() && now != before
        });
    }
    s.keys(&["q"]);
    s.wait("the shell's prompt again", |scr| {
        !scr.contains("amira.haddad") && scr.trim_end().ends_with('$')
    });
}

/// Run with no shell to continue it (under `sh -c`, as `cargo run` runs
/// it: a process group no job control watches), Ctrl-Z does not stop the
/// dashboard for good: it goes on, taking keys.
#[test]
fn ctrl_z_without_a_shell_leaves_the_dashboard_running() {
    let s = Session::start_command(&[], &format!("sh -c '{BIN} --demo; true'"), 120, 40);
    let scr = s.wait("the demo's table", |scr| scr.contains("amira.haddad"));
    let before = selected(&scr);
    s.keys(&["C-z", "j"]);
    s.wait("the selection moved by one key", |scr| {
        let now = selected(scr);
        !now.is_empty() && now != before
    });
}

/// A store, key and config of their own in `dir`, with one Dapi provider
/// that no test talks to: linking stores a payload without a request.
fn own_store(dir: &std::path::Path) -> Vec<(&'static str, PathBuf)> {
    std::fs::write(dir.join("app-secret"), "never-sent").unwrap();
    let config = format!(
        "[providers.dapi]\nkind = \"dapi\"\nbase_url = \"http://127.0.0.1:9\"\n\
         app_secret = \"file:{}\"\n",
        dir.join("app-secret").display()
    );
    std::fs::write(dir.join("config.toml"), config).unwrap();
    vec![
        ("BANKDECK_CONFIG", dir.join("config.toml")),
        ("BANKDECK_DATA_DIR", dir.join("data")),
        ("BANKDECK_KEY_FILE", dir.join("key")),
        ("XDG_STATE_HOME", dir.join("state")),
    ]
}

/// A store of its own in `dir` with `connections` generated over five
/// users, and its rows as `status --json` gives them.
fn generated(
    dir: &std::path::Path,
    connections: &str,
) -> (Vec<(&'static str, PathBuf)>, Vec<serde_json::Value>) {
    let envs = own_store(dir);
    let args = ["generate", "--connections", connections, "--users", "5"];
    script(&envs, &args, "");
    let rows = serde_json::from_str(&script(&envs, &["status", "--json"], "")).unwrap();
    (envs, rows)
}

/// The binary run to its end beside the dashboard, as a script would; what
/// it printed.
fn script(envs: &[(&str, PathBuf)], args: &[&str], stdin: &str) -> String {
    use std::io::Write;
    let mut child = Command::new(BIN)
        .args(args)
        .envs(envs.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "bankdeck {args:?}: {err}");
    String::from_utf8(out.stdout).unwrap()
}

/// While a dashboard is open, `check` in another process knows that its
/// scheduler runs and which providers it renews: `auto_refresh` counts only
/// while one does. Once the dashboard quits, at once: it counted as running
/// for three more minutes, while a five-minute token could lapse.
#[test]
fn check_beside_an_open_dashboard_sees_its_scheduler_run_and_stop() {
    let dir = common::private_dir();
    let envs = own_store(dir.path());
    let config = dir.path().join("config.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(
        "[providers.ev]\nkind = \"oidc\"\ntoken_url = \"http://127.0.0.1:9/t\"\n\
         client_id = \"c\"\nauto_refresh = true\n",
    );
    std::fs::write(&config, text).unwrap();
    script(&envs, &["users", "add", "amira"], "");
    let renewers = || -> serde_json::Value {
        let said = script(&envs, &["check", "--json"], "");
        serde_json::from_str::<serde_json::Value>(&said).unwrap()["renewers"].clone()
    };
    assert_eq!(renewers(), serde_json::json!([]), "no dashboard yet");
    let s = Session::start_with(&envs, "", 120, 30);
    s.wait("the empty table", |scr| {
        scr.contains("loaded 0 connections, 1 user ")
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let seen = loop {
        let seen = renewers();
        if seen.as_array().is_some_and(|r| !r.is_empty()) {
            break seen;
        }
        assert!(std::time::Instant::now() < deadline, "no record: {seen}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(seen[0]["by"], "scheduler", "{seen}");
    assert_eq!(seen[0]["running"], true, "{seen}");
    assert_eq!(seen[0]["providers"], serde_json::json!(["ev"]), "{seen}");
    s.keys(&["q"]);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while s.alive() {
        assert!(
            std::time::Instant::now() < deadline,
            "the dashboard still runs"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let seen = renewers();
    assert_eq!(seen[0]["running"], false, "{seen}");
}

#[test]
fn what_a_script_writes_meanwhile_shows_on_the_open_dashboard() {
    let dir = common::private_dir();
    let envs = own_store(dir.path());
    script(&envs, &["users", "add", "amira"], "");
    let s = Session::start_with(&envs, "", 120, 30);
    s.wait("the empty table", |scr| {
        scr.contains("loaded 0 connections, 1 user ")
    });

    // A cron job or a script, in another process.
    script(&envs, &["users", "add", "zoe"], "");
    let payload = r#"{"success":true,"accessCode":"eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjQxMDI0NDQ4MDB9.c2ln","userSecret":"us","connectionID":"c-1","userID":"u-1","tokenID":"t-1"}"#;
    script(
        &envs,
        &["link", "dapi", "--user", "zoe", "--payload", "-"],
        payload,
    );
    // Both in one wait: a capture can catch a frame half drawn, the table
    // new and the activity pane below it not yet.
    s.wait(
        "the script's connection, said as another process's",
        |scr| {
            Session::row(scr, "zoe").contains("code pending")
                && scr.contains("by another process: 1 connection added, 1 user added")
        },
    );
    s.keys(&["u"]);
    s.wait("zoe in the users view", |scr| {
        scr.contains("users 2 of 2") && Session::row(scr, "zoe").contains("1 pending")
    });
}

/// The demo's folder and its sandbox's address, from the header of `scr`,
/// which names the demo's data folder, whose config names the sandbox.
fn demo_of(scr: &str) -> (PathBuf, String) {
    let data = scr
        .split_whitespace()
        .find(|w| w.starts_with("/tmp/") && w.contains("bankdeck-demo-"))
        .expect("the header names the demo's data folder");
    let folder = std::path::Path::new(data).parent().unwrap().to_owned();
    let config = std::fs::read_to_string(folder.join("config.toml")).unwrap();
    let base = config
        .lines()
        .find_map(|l| l.strip_prefix("issuer = \""))
        .and_then(|i| i.split("/realms/").next())
        .expect("the demo's config names the sandbox")
        .to_owned();
    (folder, base)
}

/// A refresh a script runs in another process shows on the open
/// dashboard while it is out: the row's spinner, and whose it is, gone once
/// it is written.
#[test]
fn a_row_a_script_is_refreshing_shows_busy_on_the_open_dashboard() {
    let state = common::private_dir();
    let s = Session::start("--demo", 140, 40);
    let scr = s.wait("the demo's table", |scr| scr.contains("jonas.berg"));
    let (folder, base) = demo_of(&scr);
    let envs = [
        ("BANKDECK_CONFIG", folder.join("config.toml")),
        ("BANKDECK_DATA_DIR", folder.join("data")),
        ("BANKDECK_KEY_FILE", folder.join("key")),
        ("XDG_STATE_HOME", state.path().to_owned()),
    ];
    let json = script(&envs, &["status", "--json", "jonas.berg"], "");
    let rows: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
    let id = rows[0]["id"].to_string();
    common::post_json(
        &base,
        "/sandbox/faults",
        r#"{"faults":["oauth2.token:latency=5000,count=1"]}"#,
    );
    let refresh = Command::new(BIN)
        .args(["refresh", &id])
        .envs(envs.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let busy = format!("busy: pid {}", refresh.id());
    s.wait("jonas.berg busy in the script's process", |scr| {
        Session::row(scr, "jonas.berg").contains(&busy)
    });
    let out = refresh.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    s.wait("jonas.berg refreshed, no longer busy", |scr| {
        let row = Session::row(scr, "jonas.berg");
        row.contains("refresh ✓") && !row.contains("busy")
    });
}

/// Quitting with a refresh out waits for its answer and writes it, however
/// long the provider takes, and says so once the screen is gone, and then
/// how it ended.
#[test]
fn quitting_with_a_request_out_waits_for_it() {
    let (_s, scr) = quit_with_a_request_out(3000, &[]);
    assert!(
        scr.contains("waiting for 1 request already sent to be answered and written"),
        "{scr}"
    );
    let said = scr.lines().find(|l| l.contains("✓ refresh mei.chen"));
    assert!(
        said.is_some_and(|l| l.contains(": access token valid for")),
        "{scr}"
    );
    assert!(scr.contains("EXIT=0"), "{scr}");
}

/// Ctrl-C while the dashboard waits, once quit, for a request it sent
/// abandons it, and exits 130 as a command a signal stopped does.
#[test]
fn ctrl_c_after_quitting_abandons_the_request_out() {
    let (_s, scr) = quit_with_a_request_out(20_000, &["C-c"]);
    assert!(scr.contains("bankdeck: abandoned"), "{scr}");
    assert!(scr.contains("EXIT=130"), "{scr}");
}

/// The demo, mei.chen's refresh sent to a provider that holds it `ms`,
/// the dashboard quit meanwhile, and `then` pressed once it waits for the
/// answer: the terminal once the process has exited.
fn quit_with_a_request_out(ms: u32, then: &[&str]) -> (Session, String) {
    let s = Session::start("--demo; echo EXIT=$?; sleep 30", 140, 40);
    let scr = s.wait("the demo's table", |scr| scr.contains("mei.chen"));
    let (_, base) = demo_of(&scr);
    let faults = format!(r#"{{"faults":["oidc.token:latency={ms},count=1"]}}"#);
    common::post_json(&base, "/sandbox/faults", &faults);
    select(&s, "mei.chen");
    s.keys(&["r"]);
    // Long enough for its lease, far shorter than the sandbox holds the
    // request: it is out when the dialog is answered.
    std::thread::sleep(Duration::from_millis(500));
    s.keys(&["q"]);
    s.wait("the quit dialog", |scr| scr.contains("quit anyway?"));
    s.keys(&["y"]);
    if !then.is_empty() {
        s.wait("the wait", |scr| {
            scr.contains("already sent to be answered")
        });
        s.keys(then);
    }
    let scr = s.wait("the exit", |scr| scr.contains("EXIT="));
    (s, scr)
}

/// A terminal is the screen, where tokens show only when revealed:
/// `access-token` prints one there only with `--reveal`.
#[test]
fn access_token_prints_on_a_terminal_only_when_revealed() {
    let dir = common::private_dir();
    let (envs, rows) = generated(dir.path(), "100");
    // A token good for days: handed out as it is, with no request.
    let lasting = rows
        .iter()
        .find(|r| {
            r["state"] == "active"
                && (r["permanent"] == true || r["time_left"].as_str().unwrap().contains('d'))
        })
        .expect("a generated store has tokens good for days")["id"]
        .to_string();
    let on_the_terminal = |flags: &str| {
        let args = format!("access-token {lasting}{flags}; echo EXIT=$?; sleep 30");
        let s = Session::start_with(&envs, &args, 120, 12);
        s.wait("its end", |scr| scr.contains("EXIT="))
    };
    let scr = on_the_terminal("");
    assert!(scr.contains("standard output is a terminal"), "{scr}");
    assert!(scr.contains("EXIT=2"), "{scr}");
    let scr = on_the_terminal(" --reveal");
    assert!(scr.contains("EXIT=0"), "{scr}");
    let audit = script(&envs, &["audit", "--op", "reveal"], "");
    assert_eq!(audit.lines().count(), 1, "{audit}");
}

/// A payload pasted on a terminal would stand on the screen and in its
/// scrollback, access code and user secret included: `--payload -` takes a
/// pipe or a file, and points a terminal to the add form, which hides it.
#[test]
fn link_refuses_to_read_its_payload_from_a_terminal() {
    let dir = common::private_dir();
    let envs = own_store(dir.path());
    let args = "link dapi --user paste --payload -; echo EXIT=$?; sleep 30";
    let s = Session::start_with(&envs, args, 120, 12);
    let scr = s.wait("its end", |scr| scr.contains("EXIT="));
    assert!(scr.contains("which is a terminal here"), "{scr}");
    assert!(scr.contains("EXIT=2"), "{scr}");
    assert!(!dir.path().join("data").exists(), "nothing was made");
}

/// `y` puts the selected row's ids, named as the detail pane names them,
/// on the terminal's clipboard (OSC 52, which tmux takes as a paste buffer
/// with `set-clipboard on`): what a support ticket needs while the mouse
/// belongs to the dashboard. Ids only, never a token; read-only mode too.
#[test]
fn y_copies_the_rows_ids_to_the_terminals_clipboard() {
    let dir = common::private_dir();
    let (envs, rows) = generated(dir.path(), "60");
    let dapi = (rows.iter())
        .find(|r| r["token_id"].is_string())
        .expect("a generated store has Dapi rows");
    let field = |f: &str| dapi[f].as_str().unwrap().to_owned();
    let s = Session::start_with(&envs, "--readonly", 160, 40);
    let ok = s.tmux().args(["set", "-s", "set-clipboard", "on"]).status();
    assert!(ok.unwrap().success());
    s.wait("the table", |scr| scr.contains("60 of 60"));
    s.keys(&[":"]);
    s.type_text(&dapi["id"].to_string());
    s.keys(&["Enter", "y"]);
    s.wait("the activity line", |scr| scr.contains("copied to the"));
    let buffer = s.tmux().args(["show-buffer"]).output().unwrap();
    let copied = String::from_utf8_lossy(&buffer.stdout);
    let want = format!(
        "connection {} · {} · {} (dapi) · connectionID {} · userID {} · tokenID {}",
        dapi["id"],
        field("user"),
        field("label"),
        field("connection_id"),
        field("provider_user_id"),
        field("token_id"),
    );
    assert_eq!(copied, want);
    assert!(!copied.contains("generated-not-a-real-token"), "{copied}");
}

/// Space and ctrl-space reach the dashboard through a real terminal (tmux
/// sends ctrl-space as a NUL byte), and `r` then refreshes the rows marked,
/// naming the one it leaves out.
#[test]
fn rows_marked_with_space_and_ctrl_space_are_refreshed_by_r() {
    let s = Session::start("--demo", 140, 40);
    s.wait("the demo's table", |scr| {
        scr.contains("mei.chen") && scr.contains("jonas.berg")
    });
    // Esc while typing a filter keeps the row it found selected.
    for (user, key) in [("mei.chen", "Space"), ("jonas.berg", "C-Space")] {
        s.keys(&["/"]);
        s.type_text(user);
        s.wait(&format!("the filter on {user}"), |scr| scr.contains("1 of"));
        s.keys(&["Escape", key]);
    }
    // Each wait asks for all it reads at once: a capture can catch a frame
    // half drawn, its title new and the rows below it not yet.
    s.wait(
        "jonas.berg, lena.novak, amira.haddad and mei.chen marked",
        |scr| {
            scr.contains("4 marked")
                && ["jonas.berg", "lena.novak", "amira.haddad", "mei.chen"]
                    .iter()
                    .all(|user| Session::row(scr, user).contains(&format!("* {user}")))
        },
    );
    s.keys(&["r"]);
    let scr = s.wait("the marked rows refreshed, and amira.haddad named", |scr| {
        ["jonas.berg", "mei.chen"]
            .iter()
            .all(|user| Session::row(scr, user).contains("refresh ✓"))
            && scr.contains("left out 1 marked row, still marked: amira.haddad")
    });
    assert!(scr.contains("1 marked"), "amira stays marked:\n{scr}");
}
