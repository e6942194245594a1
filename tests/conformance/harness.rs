//! The provider side: a throw-away CA, `npm ci`, and `node server.mjs` runs.
//!
//! Everything here is plain `std` (processes, a reader thread, a channel), so
//! the shared server can be started from any test, whatever runtime it runs
//! on. One server serves the whole binary ([`shared`]); a test that needs
//! other knobs (a 2 s token lifetime) starts its own with [`Server::start`]
//! and it is stopped when dropped. Each start has a deadline on `READY`, and
//! a server that ignores its stdin closing is killed: a wedged Node process
//! ignores SIGTERM too (see `README.md`).

use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{OnceLock, mpsc};
use std::time::{Duration, Instant};

/// The secret of both clients (`bankdeck-basic`, `bankdeck-post`); URL-safe.
pub const CLIENT_SECRET: &str = "conformance-secret-0123456789-abcdef";
/// Who `browser.py` logs in as: the `sub` of every authorization-code grant.
pub const LOGIN: &str = "alice";

const READY_WITHIN: Duration = Duration::from_secs(20);
const STOP_WITHIN: Duration = Duration::from_secs(2);
const INSTALL_HINT: &str = "install Node.js 20 or later (22 LTS recommended) with npm, e.g. \
                            `apt-get install nodejs npm`, then run ./scripts/test";

/// The harness directory, `tests/conformance`.
pub fn harness_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance")
}

/// What every test of this binary shares: the TLS files and one server.
pub struct Shared {
    /// Holds `ca.pem`, `server.pem`, `server.key`, `browser.sh`, logs.
    pub dir: PathBuf,
    pub server: Server,
}

impl Shared {
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }
}

static SHARED: OnceLock<Shared> = OnceLock::new();

/// The shared fixture, made on first use. Every test calls this before
/// anything else, so while the first call sets `BROWSER` all other test
/// threads wait inside `get_or_init` and none of ours reads the environment.
pub fn shared() -> &'static Shared {
    SHARED.get_or_init(|| {
        check_tools();
        install_provider();
        let dir = tempfile::Builder::new()
            .prefix("bankdeck-conformance-")
            .tempdir()
            .expect("a temporary directory")
            .keep();
        make_ca(&dir);
        let browser = write_browser_wrapper(&dir);
        // SAFETY: no other thread of this process reads or writes the
        // environment now: libtest's threads all enter `shared()` first and
        // block in `get_or_init` until this closure returns, and nothing has
        // been spawned by this closure yet. Set once, never changed.
        unsafe { std::env::set_var("BROWSER", &browser) };
        let server = Server::start(&dir, &[]);
        // SAFETY: `stop_shared` is a plain `extern "C" fn` that reads a
        // `OnceLock`, sends a signal and removes a directory; it never unwinds
        // (no panic in it) and is registered once.
        unsafe { libc::atexit(stop_shared) };
        Shared { dir, server }
    })
}

/// At exit, the shared server goes for sure (it also stops when its stdin
/// closes with us) and so do the CA and logs.
extern "C" fn stop_shared() {
    if let Some(shared) = SHARED.get() {
        let pid = libc::pid_t::try_from(shared.server.child.id()).unwrap_or(0);
        if pid > 0 {
            // SAFETY: the child is never waited for while `SHARED` lives, so its
            // pid cannot have been reused; SIGKILL on it is all this does.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        let _ = std::fs::remove_dir_all(&shared.dir);
    }
}

/// Fails the run, saying what to install, when a tool is missing.
fn check_tools() {
    let version = match Command::new("node").arg("--version").output() {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        Ok(out) => panic!(
            "`node --version` failed ({}): {INSTALL_HINT}",
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(e) => panic!("the conformance tests need Node.js (`node`: {e}): {INSTALL_HINT}"),
    };
    let major: u32 = version
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    assert!(major >= 20, "Node.js {version} is too old: {INSTALL_HINT}");
    for (tool, arg, hint) in [
        (
            "openssl",
            "version",
            "install openssl (apt-get install openssl)",
        ),
        (
            "python3",
            "--version",
            "install Python 3.8 or later (apt-get install python3)",
        ),
    ] {
        if let Err(e) = Command::new(tool).arg(arg).output() {
            panic!("the conformance tests need `{tool}` ({e}): {hint}");
        }
    }
}

/// `npm ci` from the lock file when `oidc-provider` is not installed yet.
fn install_provider() {
    use std::os::fd::AsRawFd as _;
    let dir = harness_dir();
    let installed = || {
        dir.join("node_modules/oidc-provider/package.json")
            .is_file()
    };
    if installed() {
        return;
    }
    // nextest runs each test in a process of its own: two that found the
    // package missing ran `npm ci` over each other, and a server started
    // meanwhile read a half-written tree. One installs; the others wait for
    // it here, then find the package in place. Outside `node_modules`,
    // which `npm ci` deletes first.
    let lock = std::fs::File::create(dir.join(".npm-ci.lock")).expect("the install lock opens");
    // SAFETY: flock only reads the descriptor, which `lock` keeps open until
    // this function returns (closing it releases the lock).
    let locked = unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) };
    assert_eq!(
        locked,
        0,
        "cannot lock {}: {}",
        dir.display(),
        std::io::Error::last_os_error()
    );
    if installed() {
        return;
    }
    let out = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(&dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run `npm ci` ({e}): {INSTALL_HINT}"));
    assert!(
        out.status.success(),
        "`npm ci` in {} failed:\n{}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn make_ca(dir: &Path) {
    let out = Command::new("sh")
        .arg(harness_dir().join("make-ca.sh"))
        .arg(dir)
        .output()
        .expect("sh runs make-ca.sh");
    assert!(
        out.status.success(),
        "make-ca.sh failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `$BROWSER` for the product: `browser.py` trusting our CA, its complaints
/// kept in `browser.log` (the product sends a browser's stderr nowhere).
fn write_browser_wrapper(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let path = dir.join("browser.sh");
    let script = format!(
        "#!/bin/sh\nCONF_CA_FILE='{ca}' CONF_LOGIN='{LOGIN}' exec python3 '{py}' \"$@\" 2>>'{log}'\n",
        ca = dir.join("ca.pem").display(),
        py = harness_dir().join("browser.py").display(),
        log = dir.join("browser.log").display(),
    );
    let mut f = std::fs::File::create(&path).expect("browser.sh is written");
    f.write_all(script.as_bytes())
        .expect("browser.sh is written");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700))
        .expect("browser.sh is made executable");
    path
}

/// What `browser.py` said so far, for failure messages.
pub fn browser_log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("browser.log")).unwrap_or_default()
}

/// One `node server.mjs`: stopped (stdin closed, then SIGKILL) when dropped.
pub struct Server {
    pub issuer: String,
    child: Child,
}

impl Server {
    /// Starts a server with the TLS files in `dir` and extra `CONF_*` knobs,
    /// and waits (at most [`READY_WITHIN`]) for its `READY` line.
    pub fn start(dir: &Path, knobs: &[(&str, &str)]) -> Server {
        let log = dir.join(format!("server-{}.log", rand::random::<u32>()));
        let stderr = std::fs::File::create(&log).expect("server log file");
        let mut child = Command::new("node")
            .arg("server.mjs")
            .arg("--cert")
            .arg(dir.join("server.pem"))
            .arg("--key")
            .arg(dir.join("server.key"))
            .current_dir(harness_dir())
            .env("CONF_CLIENT_SECRET", CLIENT_SECRET)
            .envs(knobs.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start node ({e}): {INSTALL_HINT}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(json) = line.strip_prefix("READY ") {
                    // The test may have given up waiting; nothing to tell then.
                    let _ = tx.send(json.to_owned());
                }
            }
        });
        let ready = match rx.recv_timeout(READY_WITHIN) {
            Ok(json) => json,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "server.mjs did not print READY ({e:?}); its stderr:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
        };
        let ready: serde_json::Value = serde_json::from_str(&ready).expect("READY carries JSON");
        let issuer = ready["issuer"].as_str().expect("READY names the issuer");
        Server {
            issuer: issuer.to_owned(),
            child,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let deadline = Instant::now() + STOP_WITHIN;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // Wedged: SIGKILL is the only thing it still obeys.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
