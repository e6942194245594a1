//! Shared test plumbing: servers on 127.0.0.1:0, provider configs pointing at
//! them, secrets in throw-away files (never environment variables: tests run
//! in parallel threads, and changing the environment under them is unsound).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use bankdeck::config::{
    Client, ClientAuth, Common, DapiConfig, Family, OAuth2Config, OidcConfig, ProviderConfig,
    SecretRef,
};
use url::Url;

pub const CLIENT_ID: &str = "bankdeck-test";
pub const CLIENT_SECRET: &str = "cl1ent-s3cret-value";

/// Serves `app` on an ephemeral loopback port for the rest of the test.
pub async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

/// A request counter a handler bumps and a test reads.
#[derive(Clone, Default)]
pub struct Counter(Arc<AtomicUsize>);

impl Counter {
    pub fn bump(&self) -> usize {
        self.0.fetch_add(1, Ordering::SeqCst) + 1
    }
    pub fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

pub fn common() -> Common {
    Common {
        ca_file: None,
        timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(2),
        auto_refresh: false,
        refresh_margin: None,
        max_in_flight: 8,
        auto_exchange: false,
    }
}

/// The folder of this process's secret files: they must outlive the
/// providers that read them, which outlive any test's scope, so the folder
/// is removed as the process exits. A folder each, kept, left one behind
/// for every secret of every run.
fn secrets_dir() -> &'static std::path::Path {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    extern "C" fn remove() {
        if let Some(dir) = DIR.get() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
    DIR.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("bankdeck-test-secrets-")
            .tempdir()
            .unwrap()
            .keep();
        // SAFETY: `remove` touches only the path set here, once, before it
        // is registered.
        unsafe { libc::atexit(remove) };
        dir
    })
}

/// A path in [`secrets_dir`] no other call gets.
fn fresh_path(name: &str) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    secrets_dir().join(format!("{name}-{n}"))
}

/// A `file:` reference to a fresh file holding `value`.
pub fn secret_file(value: &str) -> SecretRef {
    let path = fresh_path("secret");
    std::fs::write(&path, value).unwrap();
    SecretRef::File(path)
}

pub fn missing_secret() -> (SecretRef, PathBuf) {
    let path = fresh_path("nope-not-here");
    (SecretRef::File(path.clone()), path)
}

pub fn url(s: &str) -> Url {
    Url::parse(s).unwrap()
}

pub fn client(auth: ClientAuth) -> Client {
    Client {
        id: CLIENT_ID.into(),
        secret: Some(secret_file(CLIENT_SECRET)),
        auth,
        scopes: vec!["accounts".into(), "payments".into()],
        redirect_port: None,
    }
}

pub fn dapi_config(base: &str, app_secret: SecretRef) -> ProviderConfig {
    ProviderConfig {
        name: "dapi-test".into(),
        common: common(),
        family: Family::Dapi(DapiConfig {
            base_url: url(base),
            app_secret,
            access_code_ttl: Duration::from_secs(1800),
        }),
    }
}

pub fn oauth2_config(base: &str, auth: ClientAuth, revocation: bool) -> ProviderConfig {
    let ep = |p: &str| url(&format!("{base}/realms/test/protocol/openid-connect/{p}"));
    ProviderConfig {
        name: "bank-test".into(),
        common: common(),
        family: Family::OAuth2(Box::new(OAuth2Config {
            authorize_url: Some(ep("auth")),
            token_url: ep("token"),
            revocation_url: revocation.then(|| ep("revoke")),
            client: client(auth),
        })),
    }
}

/// OIDC by discovery alone, like a Keycloak realm.
pub fn oidc_config(base: &str) -> ProviderConfig {
    ProviderConfig {
        name: "everifin-test".into(),
        common: common(),
        family: Family::Oidc(Box::new(OidcConfig {
            issuer: Some(url(&format!("{base}/realms/test"))),
            authorize_url: None,
            token_url: None,
            logout_url: None,
            revocation_url: None,
            userinfo_url: None,
            client: client(ClientAuth::Basic),
        })),
    }
}

/// A provider pointed at a single canned token endpoint.
pub fn canned_oauth2(token_url: &str) -> ProviderConfig {
    ProviderConfig {
        name: "canned".into(),
        common: common(),
        family: Family::OAuth2(Box::new(OAuth2Config {
            authorize_url: None,
            token_url: url(token_url),
            revocation_url: None,
            client: client(ClientAuth::Basic),
        })),
    }
}

pub fn with_timeout(mut cfg: ProviderConfig, timeout: Duration) -> ProviderConfig {
    cfg.common.timeout = timeout;
    cfg
}

/// Plays the browser: follows the authorization URL and its redirect to the
/// loopback callback, in the background, like a person clicking "allow".
pub fn follow_in_background(url: &str) {
    let url = url.to_owned();
    tokio::spawn(async move {
        // The answer (200 or 400 page) is what the login test checks, not this.
        let _ = reqwest::get(url).await;
    });
}

/// The URL a login sent the browser to, and the final page's status and text.
pub type Page = tokio::sync::oneshot::Receiver<(String, u16, String)>;

/// An `on_url` that follows the login as a browser would, and where its
/// [`Page`] arrives.
pub fn follow_keeping_page() -> (impl FnOnce(&str) + Send, Page) {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let follow = move |url: &str| {
        let url = url.to_owned();
        tokio::spawn(async move {
            let page = reqwest::get(&url).await.unwrap();
            let status = page.status().as_u16();
            let _ = tx.send((url, status, page.text().await.unwrap()));
        });
    };
    (follow, rx)
}

/// The login options of a test: no real browser, a short patience.
pub fn login_options(timeout: Duration) -> bankdeck::providers::LoginOptions {
    bankdeck::providers::LoginOptions {
        login_hint: None,
        redirect_port: None,
        timeout,
        open_browser: false,
    }
}
