//! The canary run: no secret leaves bankdeck. Known fake secrets (a Dapi app
//! secret, access code and user secret, an OAuth client secret) go into a
//! sandbox in this process; the real binary then runs every operation
//! against it with `BANKDECK_LOG=trace`, one operation fails on a fault, the
//! dashboard runs in tmux with a forced panic in a background task and the
//! detail pane open. Every token the sandbox issued is collected from the
//! store along the way. Then every file bankdeck wrote (logs included),
//! every stdout and stderr, `status --json`, `audit --json` and the screen
//! are searched: zero hits, and the screen shows the masked forms.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use bankdeck::domain::{ConnectionId, Secret, UnixTime};
use bankdeck::sandbox::{
    ClientConfig, DEMO_CLIENT_ID, DapiApp, FaultKind, FaultRule, RegisterCode, Sandbox,
    SandboxOptions,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

const BIN: &str = env!("CARGO_BIN_EXE_bankdeck");
const APP_SECRET: &str = "CANARY-appsecret-51f0c2d9e8b7";
const CLIENT_SECRET: &str = "CANARY-clientsecret-7a3e6b1f";
const USER_SECRET: &str = "CANARY-usersecret-2c4d6e8f0a1b";
const CODE_SIGNATURE: &str = "CANARYCODESIG-9d8c7b6a5f4e3d2c";

/// The home of one run: config, secrets, store, key, logs, all under `dir`.
struct Run {
    dir: tempfile::TempDir,
    /// Everything the binary printed, for the search.
    printed: Vec<(String, String)>,
}

impl Run {
    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    fn envs(&self) -> Vec<(&'static str, PathBuf)> {
        vec![
            ("BANKDECK_CONFIG", self.path("config.toml")),
            ("BANKDECK_DATA_DIR", self.path("data")),
            ("BANKDECK_KEY_FILE", self.path("key")),
            ("HOME", self.path("home")),
            ("XDG_STATE_HOME", self.path("state")),
            ("XDG_DATA_HOME", self.path("xdg-data")),
            ("XDG_CONFIG_HOME", self.path("xdg-config")),
            ("XDG_CACHE_HOME", self.path("xdg-cache")),
        ]
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.args(args)
            .envs(self.envs())
            .env("BANKDECK_LOG", "trace")
            .env("NO_COLOR", "1")
            .env_remove("BANKDECK_PASSPHRASE")
            .env_remove("BROWSER")
            .stdin(Stdio::null());
        c
    }

    /// Runs the binary to the end (off the async threads: the sandbox
    /// answers it from this process).
    async fn run(&mut self, args: &[&str], expect_ok: bool) -> String {
        self.run_expecting(args, Some(expect_ok)).await
    }

    /// `expect_ok: None` takes any exit code (for `check`, whose code is the answer).
    async fn run_expecting(&mut self, args: &[&str], expect_ok: Option<bool>) -> String {
        let mut cmd = self.command(args);
        let out: Output = tokio::task::spawn_blocking(move || cmd.output().unwrap())
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            expect_ok.is_none_or(|ok| ok == out.status.success()),
            "bankdeck {args:?}: {}\nstdout: {stdout}\nstderr: {stderr}",
            out.status
        );
        self.printed
            .push((format!("stdout of {args:?}"), stdout.clone()));
        self.printed.push((format!("stderr of {args:?}"), stderr));
        stdout
    }

    /// Every secret the store holds now, read through the library.
    fn secrets(&self, id: i64) -> Vec<String> {
        let opened =
            bankdeck::store::open_with_key(&self.path("data"), &self.path("key"), true).unwrap();
        opened
            .store
            .secrets(ConnectionId(id))
            .unwrap()
            .all()
            .map(|s| s.expose().to_string())
            .collect()
    }
}

fn b64(s: &str) -> String {
    URL_SAFE_NO_PAD.encode(s)
}

/// A Dapi-shaped access code (a JWT the sandbox can read) ending in our canary.
fn access_code() -> String {
    let now = UnixTime::now().0;
    let claims = serde_json::json!({
        "appKey": "canary-app-key", "iat": now, "exp": now + 1800,
        "tokenID": "canary-token-id", "salt": "canary-salt",
    });
    format!(
        "{}.{}.{CODE_SIGNATURE}",
        b64(r#"{"alg":"HS256","typ":"JWT"}"#),
        b64(&claims.to_string())
    )
}

fn clients() -> Vec<ClientConfig> {
    ClientConfig::oauth2_defaults()
        .into_iter()
        .map(|mut c| {
            if c.client_id == DEMO_CLIENT_ID {
                c.client_secret = Some(CLIENT_SECRET.into());
            }
            c
        })
        .collect()
}

fn oidc_clients() -> Vec<ClientConfig> {
    ClientConfig::oidc_defaults()
        .into_iter()
        .map(|mut c| {
            if c.client_id == DEMO_CLIENT_ID {
                c.client_secret = Some(CLIENT_SECRET.into());
            }
            c
        })
        .collect()
}

fn write_config(dir: &Path, sb: &Sandbox) {
    let app = common::private_file(dir, "app-secret", APP_SECRET);
    let client = common::private_file(dir, "client-secret", CLIENT_SECRET);
    let text = format!(
        "[providers.dapi]\nkind = \"dapi\"\nbase_url = \"{}\"\napp_secret = \"file:{}\"\n\
         [providers.bank]\nkind = \"oauth2\"\nauthorize_url = \"{}\"\ntoken_url = \"{}\"\nrevocation_url = \"{}\"\nclient_id = \"{DEMO_CLIENT_ID}\"\nclient_secret = \"file:{}\"\nscopes = [\"accounts\"]\n\
         [providers.everifin]\nkind = \"oidc\"\nissuer = \"{}\"\nclient_id = \"{DEMO_CLIENT_ID}\"\nclient_secret = \"file:{}\"\nscopes = [\"openid\", \"offline_access\"]\n",
        sb.dapi_base_url(),
        app.display(),
        sb.oauth2_authorize_url(),
        sb.oauth2_token_url(),
        sb.oauth2_revoke_url(),
        client.display(),
        sb.oidc_issuer(),
        client.display(),
    );
    std::fs::write(dir.join("config.toml"), text).unwrap();
}

/// `status --json` → the id of the connection of `provider`.
fn id_of(status: &str, provider: &str) -> i64 {
    let rows: serde_json::Value = serde_json::from_str(status).unwrap();
    rows.as_array()
        .unwrap()
        .iter()
        .find(|r| r["provider"] == provider)
        .and_then(|r| r["id"].as_i64())
        .unwrap_or_else(|| panic!("no {provider} row in {status}"))
}

/// `login … --no-browser`, with this test as the browser: read the URL from
/// stderr, follow it (the sandbox consents and redirects to the loopback).
async fn browser_login(run: &mut Run, provider: &str, user: &str) {
    use tokio::io::AsyncBufReadExt;
    let mut cmd = tokio::process::Command::from(run.command(&[
        "login",
        provider,
        "--user",
        user,
        "--no-browser",
    ]));
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let mut stderr = String::new();
    let url = loop {
        let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("no login URL in time")
            .unwrap()
            .expect("login ended without a URL");
        stderr.push_str(&line);
        stderr.push('\n');
        if let Some(u) = line.trim().strip_prefix("http") {
            break format!("http{u}");
        }
    };
    let page = reqwest::get(format!("{url}&login_hint={user}"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let out = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("login did not finish")
        .unwrap();
    while let Ok(Some(line)) = lines.next_line().await {
        stderr.push_str(&line);
        stderr.push('\n');
    }
    assert!(out.status.success(), "login failed: {stderr}");
    run.printed.push(("login callback page".into(), page));
    run.printed.push((
        "stdout of login".into(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    ));
    run.printed.push(("stderr of login".into(), stderr));
}

/// Every regular file under `dir`, except the ones that are meant to hold
/// secrets: the secret files we wrote, the payload, the store and its key.
fn files(dir: &Path, skip: &[PathBuf], out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if skip.contains(&p) {
            continue;
        }
        if p.is_dir() {
            files(&p, skip, out);
        } else {
            out.push(p);
        }
    }
}

/// A tmux session on a server of its own.
struct Pane(String, tempfile::TempDir);

impl Pane {
    fn tmux(&self) -> Command {
        common::tmux(self.1.path())
    }
    fn screen(&self) -> String {
        let out = self
            .tmux()
            .args(["capture-pane", "-p", "-J", "-S", "-", "-t", &self.0])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
    fn keys(&self, keys: &[&str]) {
        for k in keys {
            let ok = self
                .tmux()
                .args(["send-keys", "-t", &self.0, k])
                .status()
                .unwrap();
            assert!(ok.success());
        }
    }
    fn text(&self, t: &str) {
        let ok = self
            .tmux()
            .args(["send-keys", "-t", &self.0, "-l", t])
            .status()
            .unwrap();
        assert!(ok.success());
    }
    async fn wait(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
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
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Pane {
    fn drop(&mut self) {
        let _ = self
            .tmux()
            .args(["kill-server"])
            .stderr(Stdio::null())
            .status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_leaves_in_logs_output_audit_status_or_screen() {
    let code = access_code();
    let sandbox = Sandbox::start(
        SandboxOptions {
            dapi_apps: vec![DapiApp {
                app_key: "canary-app-key".into(),
                app_secret: APP_SECRET.into(),
            }],
            oauth2_clients: clients(),
            oidc_clients: oidc_clients(),
            ..SandboxOptions::default()
        },
        0,
    )
    .await
    .unwrap();
    sandbox
        .register_code(RegisterCode {
            access_code: code.clone(),
            connection_id: "canary-connection".into(),
            app_secret: APP_SECRET.into(),
            user_id: "canary-user".into(),
            user_secret: USER_SECRET.into(),
            scopes: vec!["accounts.get".into(), "identity.get".into()],
        })
        .unwrap();
    let dir = common::private_dir();
    for d in ["home", "state", "xdg-data", "xdg-config", "xdg-cache"] {
        std::fs::create_dir(dir.path().join(d)).unwrap();
    }
    write_config(dir.path(), &sandbox);
    let payload = common::private_file(
        dir.path(),
        "payload.json",
        &serde_json::json!({
            "accessCode": code, "userSecret": USER_SECRET, "connectionID": "canary-connection",
            "userID": "canary-user", "tokenID": "canary-token-id",
        })
        .to_string(),
    );
    let mut run = Run {
        dir,
        printed: Vec::new(),
    };
    // Every secret seen, with where it came from.
    let mut secrets: Vec<String> = vec![
        APP_SECRET.into(),
        CLIENT_SECRET.into(),
        USER_SECRET.into(),
        CODE_SIGNATURE.into(),
        code.clone(),
    ];

    run.run(&["users", "add", "amira"], true).await;
    run.run(&["users", "add", "lena"], true).await;
    run.run(
        &[
            "link",
            "dapi",
            "--user",
            "amira",
            "--payload",
            payload.to_str().unwrap(),
        ],
        true,
    )
    .await;
    let status = run.run(&["status", "--json"], true).await;
    let dapi = id_of(&status, "dapi");
    run.run(&["exchange", &dapi.to_string()], true).await;
    secrets.extend(run.secrets(dapi));
    run.run(&["token", "bank"], true).await;
    browser_login(&mut run, "everifin", "lena").await;
    let status = run.run(&["status", "--json"], true).await;
    let (bank, oidc) = (id_of(&status, "bank"), id_of(&status, "everifin"));
    secrets.extend(run.secrets(bank));
    secrets.extend(run.secrets(oidc));
    run.run(&["refresh", &oidc.to_string()], true).await;
    secrets.extend(run.secrets(oidc));
    run.run(&["refresh", &bank.to_string()], true).await;
    secrets.extend(run.secrets(bank));
    // Error paths log too: a 500, then a lost answer on the rotating realm.
    sandbox.set_faults(vec![FaultRule {
        route: "oidc.token".into(),
        kind: FaultKind::Status(500),
        count: Some(1),
        rate: None,
    }]);
    run.run(&["refresh", &oidc.to_string()], false).await;
    secrets.extend(run.secrets(oidc));
    run.run(&["logout", &oidc.to_string(), "--yes"], true).await;
    run.run(&["delink", &dapi.to_string(), "--yes"], true).await;
    assert!(run.secrets(dapi).is_empty(), "delink erases the secrets");
    let status = run.run(&["status", "--json"], true).await;
    run.run(&["audit", "--json"], true).await;
    run.run_expecting(&["check", "--within", "10m"], None).await;
    assert!(status.contains("\"provider\""));

    // The dashboard on this store, with a background task forced to panic
    // and the detail pane open on a row that still holds tokens.
    let bank_token = Secret::new(run.secrets(bank).into_iter().next().unwrap());
    let name = format!("bankdeck-canary-{}", std::process::id());
    let envs: Vec<String> = run
        .envs()
        .into_iter()
        .map(|(k, v)| format!("{k}={}", v.display()))
        .collect();
    let shell = format!(
        "env {} BANKDECK_LOG=trace NO_COLOR=1 {BIN} --debug-panic refresh 2>{}; echo EXITED $?; sleep 60",
        envs.join(" "),
        run.path("dashboard.stderr").display()
    );
    let socket_dir = common::private_dir();
    let ok = common::tmux(socket_dir.path())
        .args([
            "new-session",
            "-d",
            "-s",
            &name,
            "-x",
            "160",
            "-y",
            "50",
            &shell,
        ])
        .status()
        .expect("the canary needs tmux");
    assert!(ok.success());
    let pane = Pane(name, socket_dir);
    pane.wait("the table", |s| s.contains("lena") && s.contains("amira"))
        .await;
    pane.keys(&["/"]);
    pane.text("bank");
    pane.keys(&["Enter"]);
    pane.wait("the filter", |s| s.contains("1 of")).await;
    pane.keys(&["r"]);
    pane.wait("the forced panic", |s| {
        s.contains("background task panicked")
    })
    .await;
    pane.keys(&["Enter"]);
    let screen = pane
        .wait("the detail pane", |s| s.contains(&bank_token.masked()))
        .await;
    pane.keys(&["q"]);
    let after = pane.wait("the exit", |s| s.contains("EXITED")).await;
    assert!(after.contains("EXITED 0"), "{after}");
    run.printed.push(("the dashboard".into(), screen));
    run.printed.push(("the shell after it".into(), after));

    // The search.
    secrets.sort();
    secrets.dedup();
    assert!(
        secrets.len() >= 10,
        "too few secrets collected: {}",
        secrets.len()
    );
    let skip = [
        run.path("data"),
        run.path("key"),
        run.path("app-secret"),
        run.path("client-secret"),
        payload.clone(),
    ];
    let mut found = Vec::new();
    files(run.dir.path(), &skip, &mut found);
    let log = run.path("state/bankdeck/bankdeck.log");
    assert!(found.contains(&log), "no log file among {found:?}");
    let log_text = std::fs::read_to_string(&log).unwrap();
    assert!(
        log_text.contains("TRACE") || log_text.contains("DEBUG"),
        "the log is not at trace level"
    );
    assert!(log_text.contains("panicked"), "the panic is not in the log");
    let mut haystacks: Vec<(String, Vec<u8>)> = found
        .iter()
        .map(|p| (p.display().to_string(), std::fs::read(p).unwrap()))
        .collect();
    haystacks.extend(
        run.printed
            .iter()
            .map(|(k, v)| (k.clone(), v.clone().into_bytes())),
    );
    // The store itself holds them only encrypted.
    for e in std::fs::read_dir(run.path("data")).unwrap() {
        let p = e.unwrap().path();
        haystacks.push((p.display().to_string(), std::fs::read(&p).unwrap()));
    }
    let mut leaks = Vec::new();
    for secret in &secrets {
        for (where_, bytes) in &haystacks {
            if bytes.windows(secret.len()).any(|w| w == secret.as_bytes()) {
                leaks.push(format!(
                    "{} in {where_}",
                    Secret::new(secret.as_str()).masked()
                ));
            }
        }
    }
    assert!(leaks.is_empty(), "secrets leaked:\n{}", leaks.join("\n"));
}
