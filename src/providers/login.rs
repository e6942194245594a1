//! Browser login: authorization code with PKCE through a one-shot loopback
//! listener on 127.0.0.1 (RFC 8252 §7.3).
//!
//! `127.0.0.1`, not `localhost`, so the redirect cannot land on an IPv6 or
//! hosts-file surprise. The listener takes the first `/callback` request,
//! then closes: a second callback finds nothing listening. The browser's
//! page waits until the code is redeemed and says how the login ended: a
//! page that said "complete" as soon as the code arrived was wrong whenever
//! the token endpoint then failed. A callback whose `state` (or RFC 9207
//! `iss`) does not match is answered 400 and ends the login with an error
//! instead of waiting for another one: a forged or stale redirect means
//! something is wrong, and the operator starts again. Other
//! paths (a browser's `/favicon.ico`) get a 404 and are ignored, and several
//! connections are served at once, since browsers open idle ones early.
//! The HTTP/1.1 request line is parsed by hand (`callback`): one GET is all
//! that ever arrives, and closing right after answering is the point, which
//! a server framework makes roundabout.

use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::net::TcpListener;

use super::callback::{Browser, Outcome, serve_one};
use super::{AuthRequest, Provider, TokenGrant};
use crate::domain::{ErrorKind, OpError};

/// How a browser login runs.
#[derive(Debug, Clone)]
pub struct LoginOptions {
    /// The port registered with the provider, if it insists on one; else an
    /// ephemeral port.
    pub redirect_port: Option<u16>,
    /// Give up when the browser has not come back by then.
    pub timeout: Duration,
    /// Start `$BROWSER` (or the platform opener); the URL also always goes
    /// to `on_url`, so it can be shown when no browser can be started.
    pub open_browser: bool,
    /// OIDC's `login_hint`: the account a login renews, so that the
    /// provider offers that one (Keycloak fills in its user name).
    pub login_hint: Option<String>,
}

impl Default for LoginOptions {
    fn default() -> Self {
        Self {
            redirect_port: None,
            timeout: Duration::from_secs(5 * 60),
            open_browser: true,
            login_hint: None,
        }
    }
}

/// Runs a browser login against `provider` and redeems the code it brings back.
pub async fn browser_login(
    provider: &dyn Provider,
    opts: LoginOptions,
    on_url: impl FnOnce(&str) + Send,
) -> Result<TokenGrant, OpError> {
    browser_callback(provider, opts, on_url)
        .await?
        .redeem(provider)
        .await
}

/// A browser come back with its code, not yet redeemed: the last moment a
/// login can end without the provider having issued anything.
pub struct Callback {
    request: AuthRequest,
    code: String,
    browser: Browser,
}

/// The code is a credential until it is redeemed: never printed.
impl std::fmt::Debug for Callback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Callback")
            .field("request", &self.request)
            .finish_non_exhaustive()
    }
}

impl Callback {
    /// Redeems the code, then tells the browser how that went.
    pub async fn redeem(self, provider: &dyn Provider) -> Result<TokenGrant, OpError> {
        let grant = provider.redeem_code(&self.request, &self.code).await;
        self.browser.answer(grant.as_ref().map(|_| ())).await;
        grant
    }

    /// Ends the login without redeeming the code; the browser is told why.
    pub async fn decline(self, why: &OpError) {
        self.browser.answer(Err(why)).await;
    }
}

/// Starts a browser login against `provider` and waits for the browser to
/// come back with a code (or `opts.timeout`).
pub async fn browser_callback(
    provider: &dyn Provider,
    opts: LoginOptions,
    on_url: impl FnOnce(&str) + Send,
) -> Result<Callback, OpError> {
    let listener = bind(opts.redirect_port).await?;
    let port = listener
        .local_addr()
        .map_err(|e| OpError::new(ErrorKind::Network, format!("loopback listener: {e}")))?
        .port();
    let redirect_uri = format!("http://127.0.0.1:{port}/callback");
    let mut request = provider.authorization_request(&redirect_uri).await?;
    if let Some(hint) = &opts.login_hint
        && let Ok(mut url) = url::Url::parse(&request.url)
    {
        url.query_pairs_mut().append_pair("login_hint", hint);
        request.url = url.to_string();
    }
    on_url(&request.url);
    if opts.open_browser {
        open_browser(&request.url);
    }
    let (code, browser) = tokio::time::timeout(opts.timeout, wait_for_code(listener, &request))
        .await
        .map_err(|_| {
            OpError::new(
                ErrorKind::Timeout,
                format!(
                    "the browser did not come back within {}: the login was abandoned; start it again",
                    humantime::format_duration(opts.timeout)
                ),
            )
        })??;
    Ok(Callback {
        request,
        code,
        browser,
    })
}

async fn bind(port: Option<u16>) -> Result<TcpListener, OpError> {
    let port = port.unwrap_or(0);
    TcpListener::bind(("127.0.0.1", port)).await.map_err(|e| {
        // A fixed port is held by another login most of the time (the
        // provider only accepts the redirect URI registered with it).
        let advice = match e.kind() {
            std::io::ErrorKind::AddrInUse => {
                ": another login (or another program) is listening there; finish or stop it \
                 and log in again, or set redirect_port to another port registered with the \
                 provider"
            }
            _ => "",
        };
        OpError::new(
            ErrorKind::Config,
            format!("cannot listen on 127.0.0.1:{port} for the login callback: {e}{advice}"),
        )
    })
}

/// Serves connections until one brings a verdict; dropping the listener on
/// return closes the port.
async fn wait_for_code(
    listener: TcpListener,
    request: &AuthRequest,
) -> Result<(String, Browser), OpError> {
    let mut serving = FuturesUnordered::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = accepted.map_err(|e| {
                    OpError::new(ErrorKind::Network, format!("loopback listener failed: {e}"))
                })?;
                serving.push(serve_one(stream, request));
            }
            Some(outcome) = serving.next(), if !serving.is_empty() => {
                match outcome {
                    Outcome::Ignored => {}
                    Outcome::Code(code, browser) => return Ok((code, browser)),
                    Outcome::Failed(e) => return Err(e),
                }
            }
        }
    }
}

/// Starts `$BROWSER` (the first entry of a `:` list) or the platform opener
/// with the URL as its only argument. A failure is logged, not fatal: the
/// URL has been handed to `on_url` already.
fn open_browser(url: &str) {
    let program = std::env::var("BROWSER")
        .ok()
        .and_then(|b| b.split(':').next().map(str::trim).map(str::to_owned))
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| platform_opener().to_owned());
    let spawned = tokio::process::Command::new(&program)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    match spawned {
        // Reaped in the background; its exit status says nothing we can use.
        Ok(mut child) => drop(tokio::spawn(async move { child.wait().await })),
        Err(e) => tracing::warn!(%program, "cannot start the browser: {e}; open the URL by hand"),
    }
}

fn platform_opener() -> &'static str {
    if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(windows) {
        "explorer"
    } else {
        "xdg-open"
    }
}
