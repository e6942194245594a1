//! A whole bankdeck on loopback for integration tests: the sandbox, a config
//! pointing at it (secrets in 0600 files), a fresh store in a temp dir, and
//! the real worker with the real provider clients.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use bankdeck::config::{self, Config};
use bankdeck::domain::{Connection, ConnectionId, OpKind, Secrets, UnixTime};
use bankdeck::providers::{self, Provider};
use bankdeck::sandbox::{
    DEMO_APP_SECRET, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, Sandbox, SandboxOptions,
};
use bankdeck::store::{self, Store};
use bankdeck::worker::{Clock, Event, ProviderEntry, Worker, WorkerHandle, WorkerOptions};
use tokio::sync::mpsc;

pub struct Env {
    pub sandbox: Sandbox,
    pub dir: tempfile::TempDir,
    pub config: Config,
    pub store: Arc<dyn Store>,
    pub worker: Worker,
    pub events: mpsc::Receiver<Event>,
}

/// tmux on a server of the caller's own, its socket in `dir` (removed with
/// it): the default server leaves its socket in `/tmp/tmux-UID` after every
/// run, and a shared one can exit under a test that runs beside another.
pub fn tmux(dir: &std::path::Path) -> std::process::Command {
    let mut command = std::process::Command::new("tmux");
    command.arg("-S").arg(dir.join("socket"));
    command
}

/// A temp dir only we can read: the store refuses anything more open.
pub fn private_dir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    dir
}

pub fn private_file(dir: &std::path::Path, name: &str, value: &str) -> PathBuf {
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join(name);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .unwrap();
    std::io::Write::write_all(&mut f, value.as_bytes()).unwrap();
    path
}

pub fn config_text(sb: &Sandbox, dir: &std::path::Path, extra: &str) -> String {
    let app = private_file(dir, "app-secret", DEMO_APP_SECRET);
    let client = private_file(dir, "client-secret", DEMO_CLIENT_SECRET);
    format!(
        "[defaults]\ntimeout = \"5s\"\n\
         [providers.dapi]\nkind = \"dapi\"\nbase_url = \"{}\"\napp_secret = \"file:{}\"\n\
         [providers.bank]\nkind = \"oauth2\"\nauthorize_url = \"{}\"\ntoken_url = \"{}\"\nrevocation_url = \"{}\"\nclient_id = \"{DEMO_CLIENT_ID}\"\nclient_secret = \"file:{}\"\nscopes = [\"accounts\"]\n\
         [providers.everifin]\nkind = \"oidc\"\nissuer = \"{}\"\nclient_id = \"{DEMO_CLIENT_ID}\"\nclient_secret = \"file:{}\"\nscopes = [\"openid\", \"offline_access\"]\n{extra}",
        sb.dapi_base_url(),
        app.display(),
        sb.oauth2_authorize_url(),
        sb.oauth2_token_url(),
        sb.oauth2_revoke_url(),
        client.display(),
        sb.oidc_issuer(),
        client.display(),
    )
}

impl Env {
    pub async fn start() -> Env {
        Self::start_with(SandboxOptions::default(), "", WorkerOptions::default()).await
    }

    pub async fn start_with(opts: SandboxOptions, extra: &str, wopts: WorkerOptions) -> Env {
        Self::start_over(opts, extra, wopts, |s| s).await
    }

    /// [`Env::start_with`], the worker seeing the store through `wrap`.
    pub async fn start_over(
        opts: SandboxOptions,
        extra: &str,
        wopts: WorkerOptions,
        wrap: impl FnOnce(Arc<dyn Store>) -> Arc<dyn Store>,
    ) -> Env {
        let sandbox = Sandbox::start(opts, 0).await.unwrap();
        let dir = private_dir();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, config_text(&sandbox, dir.path(), extra)).unwrap();
        let config = config::load(Some(&path)).unwrap();
        let store = store::open_with_key(&dir.path().join("data"), &dir.path().join("key"), false)
            .unwrap()
            .store;
        let store = wrap(store);
        let (tx, events) = mpsc::channel(1024);
        let worker = Worker::new(
            store.clone(),
            entries(&config),
            WorkerOptions {
                actor: "tester".into(),
                open_browser: false,
                ..wopts
            },
            tx,
        );
        for u in ["amira", "omar", "lena"] {
            worker.add_user(u, None).await.unwrap();
        }
        Env {
            sandbox,
            dir,
            config,
            store,
            worker,
            events,
        }
    }

    pub fn provider(&self, name: &str) -> Arc<dyn Provider> {
        providers::build(self.config.provider(name).unwrap()).unwrap()
    }

    pub async fn dapi(&self, user: &str) -> Connection {
        bankdeck::cli::demo::sandbox_link(&self.worker, &self.sandbox, user, "ENBD", None)
            .await
            .unwrap()
    }

    /// A Dapi connection linked `secs` ago, its code minted then: with a
    /// short code lifetime it is expired now. (A code already expired is
    /// refused at the link, so it is filed by a worker living back then.)
    pub async fn dapi_linked_ago(&self, user: &str, secs: i64) -> Connection {
        let then = UnixTime(UnixTime::now().0 - secs);
        let (tx, mut rx) = mpsc::channel(64);
        tokio::spawn(async move { while rx.recv().await.is_some() {} });
        let worker = Worker::new(
            self.store.clone(),
            entries(&self.config),
            WorkerOptions {
                actor: "tester".into(),
                open_browser: false,
                clock: Clock::tokio_from(then),
                ..WorkerOptions::default()
            },
            tx,
        );
        self.sandbox.set_clock(then.0);
        let linked =
            bankdeck::cli::demo::sandbox_link(&worker, &self.sandbox, user, "ENBD", None).await;
        self.sandbox.release_clock();
        linked.unwrap()
    }

    /// `user`'s app token at `bank` (client credentials), asked for now.
    #[allow(dead_code)] // Not every test binary asks for one.
    pub async fn app_token(&self, user: &str) -> Connection {
        self.worker
            .client_credentials(bankdeck::worker::RequestId(1), "bank", user)
            .await
            .unwrap()
            .conn
    }

    pub async fn login(&self, provider: &str, user: &str) -> Connection {
        bankdeck::cli::demo::browserless_login(&self.worker, &self.provider(provider), user)
            .await
            .unwrap()
    }

    /// A worker of its own over this store, driven by commands as the
    /// screen drives it.
    #[allow(dead_code)] // Not every test binary drives the worker by commands.
    pub fn spawn_worker(&self, opts: WorkerOptions) -> WorkerHandle {
        Worker::spawn(
            self.store.clone(),
            entries(&self.config),
            WorkerOptions {
                open_browser: false,
                ..opts
            },
        )
    }

    pub fn secrets(&self, id: ConnectionId) -> Secrets {
        self.store.secrets(id).unwrap()
    }

    pub fn conn(&self, id: ConnectionId) -> Connection {
        self.store.connection(id).unwrap().unwrap()
    }

    pub async fn op(
        &self,
        op: OpKind,
        id: ConnectionId,
    ) -> Result<Connection, bankdeck::domain::OpError> {
        self.worker.operate(op, id).await
    }
}

pub fn entries(config: &Config) -> Vec<ProviderEntry> {
    config
        .providers
        .values()
        .map(|c| ProviderEntry {
            client: providers::build(c).unwrap(),
            config: c.clone(),
        })
        .collect()
}

/// A `POST` of `body` to the sandbox at `base` (`http://127.0.0.1:PORT`).
pub fn post_json(base: &str, path: &str, body: &str) {
    use std::io::{Read, Write};
    let addr = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}
