//! The sandbox's library API: options, start/stop, URLs, clock, faults, and
//! in-process shortcuts (`connect`, `register_code`) for the demo and tests.
//!
//! A [`Sandbox`] is a handle to one server task on `127.0.0.1`; everything a
//! caller may want is a method here, so nobody reaches into the state tables.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::authz::clients::ClientConfig;
use super::dapi::{ConnectPayload, ConnectRequest, DapiApp, RegisterCode};
use super::faults::FaultRule;
use super::login::{self, AuthServer};
use super::shared::{AppState, Shared, lock};
use super::{control, dapi, oauth2, oidc};

/// How long [`Sandbox::shutdown`] lets open connections finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Everything configurable about a sandbox; `Default` is what the demo uses.
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    /// Dapi access code lifetime (the docs say 30 minutes).
    pub code_ttl: Duration,
    /// OAuth 2.0 / OIDC authorization code lifetime (short, as RFC 6749 advises).
    pub auth_code_ttl: Duration,
    /// The bank's access token `expires_in`.
    pub oauth2_expires_in: Duration,
    /// The bank's refresh token lifetime (not announced in responses).
    pub oauth2_refresh_expires_in: Duration,
    /// The realm's access token `expires_in` (Keycloak's default 5 minutes).
    pub oidc_expires_in: Duration,
    /// The realm's `refresh_expires_in` (Keycloak's default 30 minutes).
    pub oidc_refresh_expires_in: Duration,
    /// The realm name in `/realms/{realm}/…`.
    pub realm: String,
    /// Fault rules active from the start (`--fault`).
    pub faults: Vec<FaultRule>,
    /// Dapi apps; empty means the demo app only.
    pub dapi_apps: Vec<DapiApp>,
    pub oauth2_clients: Vec<ClientConfig>,
    pub oidc_clients: Vec<ClientConfig>,
    /// Start with the clock pinned at this unix time instead of wall time.
    pub pinned_clock: Option<i64>,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        Self {
            code_ttl: Duration::from_secs(30 * 60),
            auth_code_ttl: Duration::from_secs(60),
            oauth2_expires_in: Duration::from_secs(3600),
            oauth2_refresh_expires_in: Duration::from_secs(30 * 24 * 3600),
            oidc_expires_in: Duration::from_secs(300),
            oidc_refresh_expires_in: Duration::from_secs(1800),
            realm: "bankdeck".to_owned(),
            faults: Vec::new(),
            dapi_apps: vec![DapiApp::demo()],
            oauth2_clients: ClientConfig::oauth2_defaults(),
            oidc_clients: ClientConfig::oidc_defaults(),
            pinned_clock: None,
        }
    }
}

/// A running sandbox server on `127.0.0.1`.
pub struct Sandbox {
    addr: SocketAddr,
    shared: AppState,
    /// Taken by [`Sandbox::shutdown`]; a dropped sandbox stops on its own.
    task: Option<JoinHandle<io::Result<()>>>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The tables hold live codes and tokens: never print them.
        f.debug_struct("Sandbox")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

fn router(shared: &AppState) -> Router {
    Router::new()
        .merge(dapi::router(shared))
        .merge(oauth2::router(shared))
        .merge(oidc::router(shared))
        .merge(control::router())
        .with_state(shared.clone())
}

impl Sandbox {
    /// Binds `127.0.0.1:port` (0 = ephemeral) and serves in a background task.
    pub async fn start(opts: SandboxOptions, port: u16) -> io::Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(opts, format!("http://{addr}")));
        let app = router(&shared);
        let closing = shared.clone();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move { closing.closed().await })
                .await
        });
        tracing::info!(%addr, "sandbox listening");
        Ok(Self {
            addr,
            shared,
            task: Some(task),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// Dapi's base: append `/v2/auth/ExchangeToken`, `/v2/users/DelinkUser`.
    pub fn dapi_base_url(&self) -> String {
        self.base_url()
    }

    /// The Connect stand-in: `POST` here mints an access code.
    pub fn connect_url(&self) -> String {
        format!("{}/sandbox/connect", self.base_url())
    }

    pub fn oauth2_authorize_url(&self) -> String {
        format!("{}/oauth2/authorize", self.base_url())
    }

    pub fn oauth2_token_url(&self) -> String {
        format!("{}/oauth2/token", self.base_url())
    }

    pub fn oauth2_revoke_url(&self) -> String {
        format!("{}/oauth2/revoke", self.base_url())
    }

    /// `{base}/realms/{realm}`; discovery is below it.
    pub fn oidc_issuer(&self) -> String {
        self.shared.oidc_issuer()
    }

    /// Unix seconds by the sandbox clock.
    pub fn now(&self) -> i64 {
        self.shared.clock.now()
    }

    pub fn advance_clock(&self, secs: i64) {
        self.shared.clock.advance(secs);
    }

    /// Pins the clock at `unix` until moved again or released.
    pub fn set_clock(&self, unix: i64) {
        self.shared.clock.set(unix);
    }

    /// Lets a pinned clock run with wall time again, from where it stands.
    pub fn release_clock(&self) {
        self.shared.clock.release();
    }

    /// Replaces all fault rules.
    pub fn set_faults(&self, rules: Vec<FaultRule>) {
        let mut book = lock(&self.shared.faults);
        book.clear();
        book.add(rules);
    }

    pub fn add_faults(&self, rules: Vec<FaultRule>) {
        lock(&self.shared.faults).add(rules);
    }

    pub fn clear_faults(&self) {
        lock(&self.shared.faults).clear();
    }

    /// Requests seen on a route (`dapi.exchange`, `oidc.token`, …), faulted or not.
    pub fn request_count(&self, route: &str) -> u64 {
        self.shared.request_count(route)
    }

    /// What `GET /sandbox/state` shows.
    pub fn state(&self) -> serde_json::Value {
        control::snapshot(&self.shared)
    }

    /// Mints an access code exactly as `POST /sandbox/connect` does.
    /// Fails only for unknown scope names.
    pub fn connect(&self, req: ConnectRequest) -> Result<ConnectPayload, String> {
        dapi::mint(&self.shared, req).map_err(|e| e.to_string())
    }

    /// Makes a code minted elsewhere (seed 002's) exchangeable.
    pub fn register_code(&self, reg: RegisterCode) -> Result<(), String> {
        let ttl = i64::try_from(self.shared.opts.code_ttl.as_secs()).unwrap_or(i64::MAX);
        lock(&self.shared.dapi).register(reg, ttl)
    }

    /// Runs the authorization code grant in-process for `user` with the
    /// demo client and returns the token endpoint's JSON body (with a
    /// refresh token; for the realm also an id token). `scope` defaults to
    /// the client's default scopes.
    pub fn login(
        &self,
        server: AuthServer,
        user: &str,
        scope: Option<&str>,
    ) -> Result<serde_json::Value, String> {
        login::login(&self.shared, server, user, scope)
    }

    /// Stops serving: stalled and trickling answers end, then the task.
    pub async fn shutdown(mut self) {
        self.shared.closing.send_replace(true);
        let Some(mut task) = self.task.take() else {
            return;
        };
        if tokio::time::timeout(SHUTDOWN_GRACE, &mut task)
            .await
            .is_err()
        {
            // A client holding a connection open must not block shutdown.
            task.abort();
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        // Without an `.await` here, the server task winds itself down.
        self.shared.closing.send_replace(true);
    }
}

/// Runs a sandbox until Ctrl-C, printing where everything is: the entry
/// point of `bankdeck sandbox [--port N] [--fault SPEC]…`. `ready` runs once
/// it listens, before the banner, which ends with the lines it returns.
pub async fn serve_forever<E: From<io::Error>>(
    opts: SandboxOptions,
    port: u16,
    ready: impl FnOnce(&Sandbox) -> Result<Vec<String>, E>,
) -> Result<(), E> {
    let sandbox = Sandbox::start(opts, port).await?;
    let extra = ready(&sandbox)?;
    print_banner(&sandbox, &extra);
    tokio::signal::ctrl_c().await?;
    sandbox.shutdown().await;
    Ok(())
}

fn print_banner(sb: &Sandbox, extra: &[String]) {
    use std::fmt::Write as _;
    use std::io::Write as _;
    let mut text = String::new();
    // Writing to a String cannot fail.
    macro_rules! say {
        ($($arg:tt)*) => { let _ = writeln!(text, $($arg)*); };
    }
    let base = sb.base_url();
    let iss = sb.oidc_issuer();
    say!("bankdeck sandbox listening on {base}");
    say!("  dapi     POST {base}/v2/auth/ExchangeToken, {base}/v2/users/DelinkUser");
    say!(
        "           POST {} mints a Connect payload",
        sb.connect_url()
    );
    say!(
        "  oauth2   {}  {}",
        sb.oauth2_authorize_url(),
        sb.oauth2_token_url()
    );
    say!("           {}", sb.oauth2_revoke_url());
    say!("  oidc     issuer {iss}");
    say!("           discovery {iss}/.well-known/openid-configuration");
    say!("  control  GET {base}/sandbox/state, POST {base}/sandbox/clock, {base}/sandbox/faults");
    say!("  demo credentials: bankdeck::sandbox::{{DEMO_APP_SECRET, DEMO_CLIENT_ID,");
    say!("           DEMO_CLIENT_SECRET, DEMO_PUBLIC_CLIENT_ID}} (documented in src/sandbox/)");
    if extra.is_empty() {
        say!("           (--write-config DIR writes a bankdeck config with them for this sandbox)");
    }
    for line in extra {
        say!("{line}");
    }
    for fault in lock(&sb.shared.faults).specs() {
        say!("  fault    {fault}");
    }
    say!("Ctrl-C to stop.");
    // One write, and its failure ignored: whoever reads the banner may close
    // the pipe after the line it wanted, and the sandbox goes on serving.
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}
