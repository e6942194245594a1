//! The bankdeck side, exactly as the product runs it, plus the provider's own view.
//!
//! [`Rig`] is a config file's text parsed by the real loader (issuer, the
//! throw-away CA as `ca_file`, the client secret in a 0600 file referenced
//! with `file:`), providers built by `providers::build`, a fresh encrypted
//! store in a temporary directory and the real [`Worker`]. [`Op`] is how the
//! test, not bankdeck, asks the provider what it thinks of a token
//! (introspection) or revokes one, over its own TLS client.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bankdeck::config::Config;
use bankdeck::domain::{
    ConnState, Connection, ConnectionId, OpError, Secret, Secrets, StateKind, UnixTime,
};
use bankdeck::providers::{self, Provider};
use bankdeck::store::Store;
use bankdeck::worker::{Event, ProviderEntry, RequestId, Worker, WorkerOptions};
use serde_json::Value;
use tokio::sync::mpsc;

use super::harness::{CLIENT_SECRET, Shared, shared};

pub const SCOPES: [&str; 6] = [
    "openid",
    "offline_access",
    "profile",
    "email",
    "accounts",
    "balance",
];
/// `warn_within` of the rig's config: a fresh 60 s token reads "active".
pub const WARN_SECS: i64 = 10;

pub struct Rig {
    pub worker: Worker,
    pub store: Arc<dyn Store>,
    pub config: Config,
    /// Kept so the worker's events have somewhere to go.
    _events: mpsc::Receiver<Event>,
    _dir: tempfile::TempDir,
}

/// A provider section: `name` uses client `client_id` with `auth`.
fn provider_toml(
    name: &str,
    client_id: &str,
    auth: &str,
    issuer: &str,
    ca: &str,
    secret: &str,
) -> String {
    let scopes = SCOPES.map(|s| format!("\"{s}\"")).join(", ");
    format!(
        "[providers.{name}]\nkind = \"oidc\"\nissuer = \"{issuer}\"\nclient_id = \"{client_id}\"\n\
         client_secret = \"file:{secret}\"\nclient_auth = \"{auth}\"\nscopes = [{scopes}]\n\
         ca_file = \"{ca}\"\n\n"
    )
}

impl Rig {
    /// Providers `basic` (bankdeck-basic), `post` (bankdeck-post) and
    /// `basic-as-post` (bankdeck-basic wrongly set to client_secret_post).
    pub async fn new(issuer: &str, ca_file: &Path) -> Rig {
        let dir = tempfile::tempdir().expect("temporary directory");
        // The store refuses a folder other users can read, as it should.
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .expect("chmod 700");
        let secret = write_secret(dir.path());
        let ca = ca_file.display().to_string();
        let secret = secret.display().to_string();
        let mut text = format!("warn_within = \"{WARN_SECS}s\"\n\n");
        for (name, id, auth) in [
            ("basic", "bankdeck-basic", "basic"),
            ("post", "bankdeck-post", "post"),
            ("basic-as-post", "bankdeck-basic", "post"),
        ] {
            text.push_str(&provider_toml(name, id, auth, issuer, &ca, &secret));
        }
        let path = dir.path().join("config.toml");
        std::fs::write(&path, &text).expect("config written");
        let config = bankdeck::config::load(Some(&path)).expect("the config loads");
        let opened = bankdeck::store::open_with_key(
            &dir.path().join("data"),
            &dir.path().join("key"),
            false,
        )
        .expect("a fresh store opens");
        let entries = config
            .providers
            .values()
            .map(|cfg| ProviderEntry {
                client: providers::build(cfg).expect("provider builds"),
                config: cfg.clone(),
            })
            .collect();
        let opts = WorkerOptions {
            actor: "conformance".into(),
            login_timeout: Duration::from_secs(30),
            ..WorkerOptions::default()
        };
        let (tx, rx) = mpsc::channel(bankdeck::worker::EVENT_QUEUE);
        let worker = Worker::new(opened.store.clone(), entries, opts, tx);
        for user in ["alice", "bob"] {
            worker.add_user(user, None).await.expect("user added");
        }
        Rig {
            worker,
            store: opened.store,
            config,
            _events: rx,
            _dir: dir,
        }
    }

    /// Another client for the same provider section, as a second copy of
    /// bankdeck (or a thief with a copied token) would have.
    pub fn another_client(&self, provider: &str) -> Arc<dyn Provider> {
        providers::build(&self.config.providers[provider]).expect("provider builds")
    }

    /// A browser login through the worker (loopback listener, `$BROWSER`).
    pub async fn login(&self, provider: &str, user: &str, browser_log: &Path) -> Connection {
        match self.worker.login(RequestId(1), provider, user).await {
            Ok(conn) => conn,
            Err(e) => panic!(
                "login at {provider} failed: {e:?}\nbrowser.py said:\n{}",
                super::harness::browser_log(browser_log)
            ),
        }
    }

    pub fn connection(&self, id: ConnectionId) -> Connection {
        self.store
            .connection(id)
            .expect("store reads")
            .expect("connection exists")
    }

    pub fn secrets(&self, id: ConnectionId) -> Secrets {
        self.store.secrets(id).expect("secrets read")
    }

    pub fn refresh_token(&self, id: ConnectionId) -> Secret {
        self.secrets(id)
            .refresh_token
            .expect("a refresh token is held")
    }

    pub fn access_token(&self, id: ConnectionId) -> Secret {
        self.secrets(id)
            .access_token
            .expect("an access token is held")
    }

    pub fn state(&self, id: ConnectionId) -> ConnState {
        ConnState::derive(&self.connection(id), UnixTime::now(), WARN_SECS)
    }

    pub fn kind(&self, id: ConnectionId) -> StateKind {
        self.state(id).kind()
    }
}

fn write_secret(dir: &Path) -> std::path::PathBuf {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let path = dir.join("client-secret");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .expect("secret file created");
    f.write_all(CLIENT_SECRET.as_bytes())
        .expect("secret written");
    path
}

/// The provider as the test sees it: its discovery document, and
/// introspection and revocation as `bankdeck-basic`.
pub struct Op {
    http: reqwest::Client,
    pub doc: Value,
}

impl Op {
    pub async fn discover(issuer: &str, ca_file: &Path) -> Op {
        let pem = std::fs::read(ca_file).expect("ca.pem readable");
        let http = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("ca.pem parses"))
            .no_proxy()
            .build()
            .expect("test client");
        let doc = http
            .get(format!("{issuer}/.well-known/openid-configuration"))
            .send()
            .await
            .expect("discovery answers")
            .json()
            .await
            .expect("discovery is JSON");
        Op { http, doc }
    }

    pub fn endpoint(&self, key: &str) -> String {
        self.doc[key]
            .as_str()
            .unwrap_or_else(|| panic!("discovery has no {key}"))
            .to_owned()
    }

    /// The introspection answer (RFC 7662) for `token`.
    pub async fn introspect(&self, token: &Secret) -> Value {
        let resp = self
            .http
            .post(self.endpoint("introspection_endpoint"))
            .basic_auth("bankdeck-basic", Some(CLIENT_SECRET))
            .form(&[("token", token.expose())])
            .send()
            .await
            .expect("introspection answers");
        assert_eq!(resp.status(), 200, "introspection status");
        resp.json().await.expect("introspection is JSON")
    }

    pub async fn is_active(&self, token: &Secret) -> bool {
        self.introspect(token).await["active"] == Value::Bool(true)
    }

    /// RFC 7009 revocation from outside bankdeck (the user withdrawing
    /// consent, an administrator). Only the client a token was issued to may
    /// revoke it: `bankdeck-basic` (basic auth) or `bankdeck-post` (form).
    pub async fn revoke(&self, token: &Secret, hint: &str, client: &str) {
        let mut form = vec![("token", token.expose()), ("token_type_hint", hint)];
        let mut req = self.http.post(self.endpoint("revocation_endpoint"));
        if client == "bankdeck-post" {
            form.extend([("client_id", client), ("client_secret", CLIENT_SECRET)]);
        } else {
            req = req.basic_auth(client, Some(CLIENT_SECRET));
        }
        let resp = req.form(&form).send().await.expect("revocation answers");
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        assert_eq!(status, 200, "revocation: {body}");
        assert!(body.is_empty(), "RFC 7009 answers 200 with no body: {body}");
    }
}

/// Asserts an operation failed with `kind`, showing the error otherwise.
pub fn assert_kind<T: std::fmt::Debug>(
    result: Result<T, OpError>,
    kind: bankdeck::domain::ErrorKind,
) -> OpError {
    match result {
        Err(e) if e.kind == kind => e,
        other => panic!("expected a {kind:?} error, got {other:?}"),
    }
}

/// The `scope` of an introspection answer, as a list.
pub fn scope_list(said: &serde_json::Value) -> Vec<String> {
    let scope = said["scope"]
        .as_str()
        .unwrap_or_else(|| panic!("no scope: {said}"));
    scope.split_whitespace().map(str::to_owned).collect()
}

/// The shared server with a rig and the provider's view of it.
pub async fn setup() -> (&'static Shared, Rig, Op) {
    let sh = shared();
    let rig = Rig::new(&sh.server.issuer, &sh.ca_file()).await;
    let op = Op::discover(&sh.server.issuer, &sh.ca_file()).await;
    (sh, rig, op)
}
