//! `--demo`: the whole product on one machine with no credentials.
//!
//! Starts the sandbox in-process on a free loopback port, writes a config and
//! secret files into a throw-away folder, opens a fresh store there, and seeds
//! a dozen users whose connections sit in every state an operator meets. The
//! seeding goes through the real worker and the real provider clients over
//! HTTP, so what the screen shows is what the product really did; only a few
//! token lifetimes are shortened afterwards so that "expiring" and "expired"
//! are visible without waiting.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use color_eyre::eyre::{Result, WrapErr, eyre};

use crate::config::Config;
use crate::domain::{
    AccessExpiry, ConnectPayload, Connection, Lifetimes, OpKind, Secret, UnixTime,
};
use crate::providers::Provider;
use crate::sandbox::{
    ConnectRequest, DEMO_APP_SECRET, DEMO_CLIENT_SECRET, Sandbox, SandboxOptions,
};
use crate::store::{AuditDraft, ConnectionUpdate, Store};
use crate::worker::{Clock, ProviderEntry, RequestId, Worker, WorkerOptions};

/// The seeding's operations: nobody waits on their events.
const SEEDING: RequestId = RequestId(1);

/// A running demo: dropping it stops the sandbox and removes the folder.
pub struct Demo {
    pub sandbox: Sandbox,
    pub config: Config,
    pub store: Arc<dyn Store>,
    pub dir: tempfile::TempDir,
}

impl Demo {
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn log_dir(&self) -> PathBuf {
        self.dir.path().join("logs")
    }
}

pub async fn start() -> Result<Demo> {
    let dir = tempfile::Builder::new()
        .prefix("bankdeck-demo-")
        .tempdir()?;
    restrict(dir.path(), 0o700)?;
    let opts = SandboxOptions {
        // The seed's sample access code lives 300 s: "a code with a few minutes left".
        code_ttl: std::time::Duration::from_secs(300),
        ..SandboxOptions::default()
    };
    let sandbox = Sandbox::start(opts, 0)
        .await
        .wrap_err("cannot start the sandbox")?;
    let config_path = write_config(dir.path(), &sandbox, "bankdeck --demo")?;
    let config = crate::config::load(Some(&config_path)).map_err(|e| eyre!("demo config: {e}"))?;
    let opened =
        crate::store::open_with_key(&dir.path().join("data"), &dir.path().join("key"), false)
            .map_err(|e| eyre!("demo store: {e}"))?;
    let demo = Demo {
        sandbox,
        config,
        store: opened.store,
        dir,
    };
    seed(&demo).await.wrap_err("seeding the demo")?;
    Ok(demo)
}

fn restrict(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    Ok(())
}

fn taken(path: &Path) -> color_eyre::Report {
    eyre!(
        "{} already exists and is never replaced: choose an empty folder",
        path.display()
    )
}

/// Writes `text` to a new file `name` in `dir`, readable by its owner only,
/// as the store writes its key. Never replaces a file: the folder may be one
/// that holds real secrets.
fn write_new(dir: &Path, name: &str, text: &str) -> Result<PathBuf> {
    let path = dir.join(name);
    crate::store::sqlite::create_private_file(&path, text.as_bytes()).map_err(|e| {
        match e.kind() {
            std::io::ErrorKind::AlreadyExists => taken(&path),
            _ => eyre!("cannot write {}: {e}", path.display()),
        }
    })?;
    Ok(path)
}

/// A config whose providers are the sandbox `sb`, with its demo secrets in
/// files beside it, written into `dir` by `by` (named in its first line).
pub(crate) fn write_config(dir: &Path, sb: &Sandbox, by: &str) -> Result<PathBuf> {
    // All three checked first, so a refusal leaves no part of the set behind.
    for name in ["dapi-app-secret", "client-secret", "config.toml"] {
        let path = dir.join(name);
        if path.symlink_metadata().is_ok() {
            return Err(taken(&path));
        }
    }
    let app = write_new(dir, "dapi-app-secret", DEMO_APP_SECRET)?;
    let client = write_new(dir, "client-secret", DEMO_CLIENT_SECRET)?;
    let text = format!(
        r#"# Written by `{by}`: every provider is the sandbox at {base}.
warn_within = "2m"

[providers.dapi]
kind = "dapi"
base_url = "{dapi}"
app_secret = "file:{app}"
access_code_ttl = "30m"

[providers.bank]
kind = "oauth2"
authorize_url = "{authz}"
token_url = "{token}"
revocation_url = "{revoke}"
client_id = "{client_id}"
client_secret = "file:{client}"
scopes = ["accounts", "payments"]
auto_refresh = false

[providers.everifin]
kind = "oidc"
issuer = "{issuer}"
client_id = "{client_id}"
client_secret = "file:{client}"
scopes = ["openid", "offline_access", "accounts"]
auto_refresh = true
"#,
        base = sb.base_url(),
        dapi = sb.dapi_base_url(),
        authz = sb.oauth2_authorize_url(),
        token = sb.oauth2_token_url(),
        revoke = sb.oauth2_revoke_url(),
        issuer = sb.oidc_issuer(),
        client_id = crate::sandbox::DEMO_CLIENT_ID,
        app = app.display(),
        client = client.display(),
    );
    write_new(dir, "config.toml", &text)
}

/// Provider clients for every provider of `config`.
pub fn entries(config: &Config) -> Result<Vec<ProviderEntry>> {
    config
        .providers
        .values()
        .map(|cfg| {
            let client = crate::providers::build(cfg).map_err(|e| eyre!("{e}"))?;
            Ok(ProviderEntry {
                client,
                config: cfg.clone(),
            })
        })
        .collect()
}

/// The worker the seeding uses: events are drained, nobody shows them.
pub fn seeding_worker(demo: &Demo) -> Result<Worker> {
    seeding_worker_on(demo, Clock::System)
}

/// The same worker living at `clock`'s time: what it files is dated then.
fn seeding_worker_on(demo: &Demo, clock: Clock) -> Result<Worker> {
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(async move { while rx.recv().await.is_some() {} });
    let opts = WorkerOptions {
        actor: "demo".into(),
        open_browser: false,
        clock,
        ..WorkerOptions::default()
    };
    Ok(Worker::new(
        demo.store.clone(),
        entries(&demo.config)?,
        opts,
        tx,
    ))
}

async fn seed(demo: &Demo) -> Result<()> {
    let w = seeding_worker(demo)?;
    let sb = &demo.sandbox;
    let users = [
        ("amira.haddad", "amira@example.com"),
        ("omar.farouk", "omar@example.com"),
        ("lena.novak", "lena@example.com"),
        ("ravi.menon", "ravi@example.com"),
        ("sofia.marin", "sofia@example.com"),
        ("jonas.berg", "jonas@example.com"),
        ("fatima.zahra", "fatima@example.com"),
        ("tomas.kral", "tomas@example.com"),
        ("mei.chen", "mei@example.com"),
        ("david.levi", "david@example.com"),
        ("nadia.rahman", "nadia@example.com"),
        ("peter.horvat", "peter@example.com"),
    ];
    for (name, email) in users {
        w.add_user(name, Some(email))
            .await
            .map_err(|e| eyre!("{e}"))?;
    }
    // Dapi: a code with a few minutes left (press `e`).
    sandbox_link(&w, sb, "amira.haddad", "Emirates NBD", None).await?;
    // Dapi: exchanged, permanent.
    let c = sandbox_link(
        &w,
        sb,
        "omar.farouk",
        "ADCB",
        Some(&[
            "identity.get",
            "accounts.get",
            "balance.get",
            "transactions.get",
            "transfer.create",
        ]),
    )
    .await?;
    op(&w, OpKind::Exchange, &c).await?;
    // Dapi: another code pending, to try delink after exchanging it.
    let c = sandbox_link(&w, sb, "fatima.zahra", "Mashreq", None).await?;
    op(&w, OpKind::Exchange, &c).await?;
    // Dapi: delinked (final).
    let c = sandbox_link(&w, sb, "tomas.kral", "FAB", None).await?;
    op(&w, OpKind::Exchange, &c).await?;
    op(&w, OpKind::Delink, &c).await?;
    // Dapi: the exchange failed with the provider's message (a code the sandbox never issued).
    failed_link(&w, "peter.horvat").await?;
    // Dapi: the code expired before anyone exchanged it.
    expired_code(demo, "david.levi").await?;

    let ev = provider(demo, "everifin")?;
    // OIDC: expiring within a minute; auto-refresh renews it shortly.
    let c = browserless_login(&w, &ev, "lena.novak").await?;
    shorten(demo, &c, 50)?;
    // OIDC: healthy.
    browserless_login(&w, &ev, "mei.chen").await?;
    // OIDC: re-consent required (a replayed refresh token revoked the family).
    let c = browserless_login(&w, &ev, "ravi.menon").await?;
    reconsent(&w, demo, &ev, &c).await?;
    // OIDC: logged out; the access token keeps counting down.
    let c = browserless_login(&w, &ev, "sofia.marin").await?;
    op(&w, OpKind::Logout, &c).await?;

    let bank = provider(demo, "bank")?;
    // OAuth 2.0: expired but refreshable (auto-refresh is off for the bank: press `r`).
    let c = browserless_login(&w, &bank, "jonas.berg").await?;
    shorten(demo, &c, -180)?;
    // OAuth 2.0: an app-level client-credentials token.
    w.client_credentials(SEEDING, "bank", crate::worker::APP_USER)
        .await
        .map_err(|e| eyre!("{e}"))?;
    // OAuth 2.0: healthy user token.
    browserless_login(&w, &bank, "nadia.rahman").await?;
    Ok(())
}

fn provider(demo: &Demo, name: &str) -> Result<Arc<dyn Provider>> {
    let cfg = demo
        .config
        .provider(name)
        .ok_or_else(|| eyre!("demo provider {name} missing"))?;
    crate::providers::build(cfg).map_err(|e| eyre!("{e}"))
}

async fn op(w: &Worker, kind: OpKind, c: &Connection) -> Result<Connection> {
    w.operate(kind, c.id)
        .await
        .map_err(|e| eyre!("demo {kind} of {}: {e}", c.user))
}

pub async fn sandbox_link(
    w: &Worker,
    sb: &Sandbox,
    user: &str,
    bank: &str,
    scopes: Option<&[&str]>,
) -> Result<Connection> {
    let req = ConnectRequest {
        user_id: None,
        bank: Some(bank.to_string()),
        scopes: scopes.map(|s| s.iter().map(|x| (*x).to_string()).collect()),
    };
    let p = sb.connect(req).map_err(|e| eyre!("sandbox connect: {e}"))?;
    let payload = ConnectPayload {
        access_code: Secret::new(p.access_code),
        user_secret: Secret::new(p.user_secret),
        connection_id: p.connection_id,
        user_id: Some(p.user_id),
        token_id: Some(p.token_id),
    };
    w.link_dapi(SEEDING, "dapi", user, bank, payload)
        .await
        .map_err(|e| eyre!("{e}"))
}

async fn failed_link(w: &Worker, user: &str) -> Result<()> {
    let payload = ConnectPayload {
        access_code: Secret::new("Invalid_access_code"),
        user_secret: Secret::new("demo-user-secret-never-issued"),
        connection_id: "2c72a336a7c09fd905f9adf3dc5ff976d58eeb20".into(),
        user_id: None,
        token_id: None,
    };
    let c = w
        .link_dapi(SEEDING, "dapi", user, "RAKBANK", payload)
        .await
        .map_err(|e| eyre!("{e}"))?;
    // Expected to fail: the sandbox answers INVALID_TOKEN, as seed 002 shows.
    let _ = w.operate(OpKind::Exchange, c.id).await;
    Ok(())
}

async fn expired_code(demo: &Demo, user: &str) -> Result<()> {
    // Mint the code a quarter of an hour in the past and file it then (an
    // expired code is refused when it is linked), then put the sandbox's
    // clock back on time so every other token it issues is dated now.
    let sb = &demo.sandbox;
    let now = sb.now();
    let then = seeding_worker_on(demo, Clock::tokio_from(UnixTime(now - 900)))?;
    sb.set_clock(now - 900);
    let c = sandbox_link(&then, sb, user, "Emirates Islamic", None).await;
    sb.set_clock(now);
    sb.release_clock();
    c.map(|_| ())
}

/// A browser login without a browser (demo and tests): the sandbox auto-consents, so its
/// redirect is read by hand and the code redeemed as a browser login would.
pub async fn browserless_login(
    w: &Worker,
    p: &Arc<dyn Provider>,
    user: &str,
) -> Result<Connection> {
    let req = p
        .authorization_request("http://127.0.0.1:9/callback")
        .await
        .map_err(|e| eyre!("{e}"))?;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let resp = http
        .get(format!("{}&login_hint={user}", req.url))
        .send()
        .await?;
    let location = resp
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| eyre!("the sandbox did not redirect the demo login"))?;
    let url = url::Url::parse(location)?;
    let code = url
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .ok_or_else(|| eyre!("the sandbox's redirect carried no code"))?;
    let grant = p.redeem_code(&req, &code).await.map_err(|e| eyre!("{e}"))?;
    w.adopt_login(SEEDING, p.name(), user, grant)
        .await
        .map_err(|e| eyre!("{e}"))
}

/// Moves a token's expiry so the demo shows "expiring" or "expired" at once.
/// Audited as what it is.
fn shorten(demo: &Demo, c: &Connection, secs_left: i64) -> Result<()> {
    let now = UnixTime::now();
    let lifetime = c.lifetimes.access_lifetime_secs().unwrap_or(300);
    let update = ConnectionUpdate {
        lifetimes: Some(Lifetimes {
            access: Some(AccessExpiry::At(now.plus_secs(secs_left))),
            access_received_at: Some(now.plus_secs(secs_left - lifetime)),
            ..c.lifetimes.clone()
        }),
        ..ConnectionUpdate::default()
    };
    let audit = AuditDraft {
        at: now,
        actor: "demo".into(),
        op: OpKind::Adjust,
        ok: true,
        // The actor already says "demo"; the line shows as "demo: …".
        message: if secs_left >= 0 {
            format!("access token set to expire in {secs_left} s, to show the state")
        } else {
            format!(
                "access token set to have expired {} s ago, to show the state",
                secs_left.unsigned_abs()
            )
        },
    };
    demo.store
        .apply(c.id, c.version, update, audit)
        .map_err(|e| eyre!("{e}"))?;
    Ok(())
}

/// Replays a rotated refresh token, as a leaked copy would be: the realm
/// revokes the whole family, and the next refresh reads "re-consent required".
async fn reconsent(w: &Worker, demo: &Demo, p: &Arc<dyn Provider>, c: &Connection) -> Result<()> {
    let old = demo
        .store
        .secrets(c.id)
        .map_err(|e| eyre!("{e}"))?
        .refresh_token
        .ok_or_else(|| eyre!("demo login returned no refresh token"))?;
    op(w, OpKind::Refresh, c).await?;
    // Expected to fail: reuse of a rotated token.
    let _ = p.refresh(&old).await;
    let _ = w.operate(OpKind::Refresh, c.id).await;
    Ok(())
}
