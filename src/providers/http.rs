//! The one HTTP client every provider talks through, hardened once.
//!
//! Each request gets a connect timeout and a total deadline (body included),
//! its body is read chunk by chunk and cut at [`MAX_BODY`], and its URL is
//! re-checked against the transport rule (https except loopback), discovered
//! URLs included. Redirects are followed only within the same origin and
//! only when they keep the method (307, 308): a cross-host redirect would
//! carry the `Authorization` header (reqwest strips it) but also, on
//! 307/308, the body with our secrets (reqwest does not), and a 301-303
//! turns a POST into a GET without its body. Either is stopped and
//! reported. Only [`Http::get`] retries; POSTs go once.
//! Logs say method, host, path, status and time, never a query or a body.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderMap, LOCATION, RETRY_AFTER};
use reqwest::{Method, StatusCode, redirect};
use tokio::sync::Semaphore;
use url::Url;

use super::http_error::{Failure, transport_failure};
use super::retry::{READ_ATTEMPTS, backoff, parse_retry_after, throttled_wait};
use crate::config::{Common, check_transport};
use crate::domain::{ErrorKind, OpError, Secret};

/// No token, discovery or Dapi answer comes near this; past it something is wrong.
pub const MAX_BODY: usize = 1024 * 1024;
const MAX_REDIRECTS: usize = 5;

/// An answer read in full (and within [`MAX_BODY`]). Its `Debug` leaves the
/// body out: a token response is full of secrets.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// `host:port` the answer came from, for messages.
    pub host: String,
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reply")
            .field("status", &self.status)
            .field("host", &self.host)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

impl Reply {
    /// `Retry-After` in seconds, when present and readable.
    pub fn retry_after(&self) -> Option<u64> {
        let value = self.headers.get(RETRY_AFTER)?.to_str().ok()?;
        parse_retry_after(value, SystemTime::now())
    }

    pub fn content_type(&self) -> &str {
        self.headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

/// A provider's client: one per provider, reused for every request.
#[derive(Debug, Clone)]
pub struct Http {
    client: Arc<LazyClient>,
    deadline: Duration,
    in_flight: Arc<Semaphore>,
}

/// The reqwest client, built at the provider's first request. Building one
/// loads the system's trusted roots (145 PEM files here: about 19 M
/// instructions, 6 ms). Built for every configured provider up front, that
/// was nine tenths of a one-shot command's work with three providers, of
/// which it uses one, and it came before the dashboard's first frame. The
/// build reads files, so it runs on the blocking pool, not on a thread
/// that also runs the screen.
#[derive(Debug)]
struct LazyClient {
    connect_timeout: Duration,
    timeout: Duration,
    /// `ca_file`'s certificates, read (and refused) when the provider is.
    extra_roots: Vec<reqwest::Certificate>,
    built: tokio::sync::OnceCell<reqwest::Client>,
}

impl LazyClient {
    async fn reqwest(&self) -> Result<&reqwest::Client, OpError> {
        self.built
            .get_or_try_init(|| async {
                let mut builder = reqwest::Client::builder()
                    .connect_timeout(self.connect_timeout)
                    .timeout(self.timeout)
                    .redirect(same_origin_redirects())
                    .user_agent(concat!("bankdeck/", env!("CARGO_PKG_VERSION")));
                if !self.extra_roots.is_empty() {
                    builder = builder.tls_certs_merge(self.extra_roots.iter().cloned());
                }
                let built = tokio::task::spawn_blocking(move || builder.build()).await;
                let failed = |why: String| {
                    OpError::new(
                        ErrorKind::Config,
                        format!("cannot set up the HTTP client: {why}"),
                    )
                };
                match built {
                    Ok(Ok(client)) => Ok(client),
                    Ok(Err(e)) => Err(failed(root_cause(&e))),
                    Err(e) => Err(failed(e.to_string())),
                }
            })
            .await
    }
}

impl Http {
    /// The client for the provider's common keys; `ca_file` is added to the
    /// trusted roots (never a bypass: a bad certificate still fails). The
    /// file is read now, so a wrong one is an error before any request.
    pub fn new(common: &Common) -> Result<Http, OpError> {
        let extra_roots = match &common.ca_file {
            Some(path) => read_ca_file(path)?,
            None => Vec::new(),
        };
        let client = LazyClient {
            connect_timeout: common.connect_timeout,
            timeout: common.timeout,
            extra_roots,
            built: tokio::sync::OnceCell::new(),
        };
        Ok(Http {
            client: Arc::new(client),
            deadline: common.timeout,
            in_flight: Arc::new(Semaphore::new(common.max_in_flight.max(1))),
        })
    }

    /// POSTs a form once (token, revocation and logout endpoints), with HTTP
    /// Basic client authentication when given.
    pub async fn post_form(
        &self,
        url: &Url,
        form: &[(&str, &str)],
        basic: Option<&Secret>,
    ) -> Result<Reply, OpError> {
        let mut req = self
            .client
            .reqwest()
            .await?
            .post(url.clone())
            .header(ACCEPT, "application/json")
            .form(form);
        if let Some(header) = basic {
            req = req.header(AUTHORIZATION, header.expose());
        }
        self.once(req).await.map_err(|f| f.error)
    }

    /// POSTs a JSON body once (Dapi), with a bearer token when given.
    pub async fn post_json(
        &self,
        url: &Url,
        body: &serde_json::Value,
        bearer: Option<&Secret>,
    ) -> Result<Reply, OpError> {
        let mut req = self
            .client
            .reqwest()
            .await?
            .post(url.clone())
            .header(ACCEPT, "application/json")
            .json(body);
        if let Some(token) = bearer {
            req = req.bearer_auth(token.expose());
        }
        self.once(req).await.map_err(|f| f.error)
    }

    /// GETs a document, retrying network failures, 5xx and 429 within
    /// [`READ_ATTEMPTS`]. The last answer is returned whatever its status.
    pub async fn get(&self, url: &Url) -> Result<Reply, OpError> {
        let mut attempt = 1;
        loop {
            let req = self
                .client
                .reqwest()
                .await?
                .request(Method::GET, url.clone())
                .header(ACCEPT, "application/json");
            let outcome = self.once(req).await;
            let wait = match &outcome {
                _ if attempt >= READ_ATTEMPTS => None,
                Ok(reply) => read_retry_wait(reply, attempt),
                Err(f) if f.retry => Some(backoff(attempt)),
                Err(_) => None,
            };
            let Some(wait) = wait else {
                return outcome.map_err(|f| f.error);
            };
            tracing::debug!(attempt, wait_ms = wait.as_millis() as u64, "retrying read");
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    async fn once(&self, req: reqwest::RequestBuilder) -> Result<Reply, Failure> {
        // The client the request was made with: built by now.
        let (client, req) = req.build_split();
        let req = req.map_err(|e| {
            Failure::fatal(OpError::new(
                ErrorKind::Config,
                format!("cannot build the request: {}", root_cause(&e)),
            ))
        })?;
        check_transport(req.url())
            .map_err(|m| Failure::fatal(OpError::new(ErrorKind::Config, m)))?;
        let (method, host, path) = (req.method().clone(), host_of(req.url()), req.url().path());
        let path = path.to_owned();
        let _permit = self.in_flight.acquire().await.map_err(|_| {
            Failure::fatal(OpError::new(
                ErrorKind::Cancelled,
                "the client is shutting down",
            ))
        })?;
        let started = Instant::now();
        let exchange = self.exchange(&client, req, &host);
        let result = match tokio::time::timeout(self.deadline, exchange).await {
            Ok(result) => result,
            Err(_) => Err(Failure::fatal(deadline_error(&host, self.deadline))),
        };
        let elapsed_ms = started.elapsed().as_millis() as u64;
        match &result {
            Ok(r) => tracing::debug!(%method, %host, %path, status = r.status.as_u16(), elapsed_ms),
            Err(f) => tracing::debug!(%method, %host, %path, kind = ?f.error.kind, elapsed_ms),
        }
        result
    }

    async fn exchange(
        &self,
        client: &reqwest::Client,
        req: reqwest::Request,
        host: &str,
    ) -> Result<Reply, Failure> {
        let resp = client
            .execute(req)
            .await
            .map_err(|e| transport_failure(&e, host, self.deadline))?;
        let host = host_of(resp.url());
        if resp.status().is_redirection() {
            return Err(Failure::fatal(redirect_error(&resp, &host)));
        }
        read_capped(resp, host, self.deadline).await
    }
}

async fn read_capped(
    mut resp: reqwest::Response,
    host: String,
    deadline: Duration,
) -> Result<Reply, Failure> {
    if resp.content_length().is_some_and(|n| n > MAX_BODY as u64) {
        return Err(Failure::fatal(too_large(&host)));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| {
        let mut f = transport_failure(&e, &host, deadline);
        if f.error.kind == ErrorKind::Lost {
            f.error.message = format!("connection reset while reading the response from {host}");
        }
        f
    })? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(Failure::fatal(too_large(&host)));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Reply {
        status: resp.status(),
        headers: resp.headers().clone(),
        body,
        host,
    })
}

/// Whether a read's answer deserves another attempt, and after how long.
fn read_retry_wait(reply: &Reply, attempt: u32) -> Option<Duration> {
    match reply.status {
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => {
            throttled_wait(reply.retry_after(), attempt)
        }
        s if s.is_server_error() => Some(backoff(attempt)),
        _ => None,
    }
}

/// Follows a redirect only when it keeps both the origin and the method
/// (307, 308). A 301, 302 or 303 turns a POST into a GET without its body:
/// followed, the GET's answer was taken for the POST's, and a delink that
/// never reached Dapi was recorded as done.
fn same_origin_redirects() -> redirect::Policy {
    redirect::Policy::custom(|attempt| {
        let same_origin = attempt
            .previous()
            .last()
            .is_some_and(|prev| prev.origin() == attempt.url().origin());
        let keeps_method = matches!(
            attempt.status(),
            StatusCode::TEMPORARY_REDIRECT | StatusCode::PERMANENT_REDIRECT
        );
        if attempt.previous().len() > MAX_REDIRECTS {
            attempt.error("too many redirects")
        } else if same_origin && keeps_method {
            attempt.follow()
        } else {
            attempt.stop()
        }
    })
}

fn redirect_error(resp: &reqwest::Response, host: &str) -> OpError {
    let target = resp
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|loc| resp.url().join(loc).ok());
    let status = resp.status().as_u16();
    let message = match target {
        // No query: it may carry what the provider chose to put there.
        Some(t) if t.origin() == resp.url().origin() => format!(
            "{host} answered {status}, a redirect to {}{}, which is not followed: it would \
             send the request again as a GET without its body; set the configured URL to it",
            t.origin().ascii_serialization(),
            t.path()
        ),
        Some(t) => format!(
            "{host} redirected to {} ({status}): redirects to another host are not followed, \
             so credentials never leave {host}; check the configured URL",
            host_of(&t)
        ),
        None => format!(
            "{host} redirected to an unknown place ({status}): redirects are not followed; \
             check the configured URL"
        ),
    };
    OpError::new(ErrorKind::Protocol, message)
}

fn read_ca_file(path: &std::path::Path) -> Result<Vec<reqwest::Certificate>, OpError> {
    let shown = path.display();
    let pem = std::fs::read(path)
        .map_err(|e| OpError::new(ErrorKind::Config, format!("ca_file {shown}: {e}")))?;
    match reqwest::Certificate::from_pem_bundle(&pem) {
        Ok(certs) if !certs.is_empty() => Ok(certs),
        _ => Err(OpError::new(
            ErrorKind::Config,
            format!("ca_file {shown} holds no PEM certificate"),
        )),
    }
}

fn too_large(host: &str) -> OpError {
    OpError::new(
        ErrorKind::Protocol,
        format!("response larger than 1 MiB from {host}: refused"),
    )
}

fn deadline_error(host: &str, deadline: Duration) -> OpError {
    OpError::new(
        ErrorKind::Timeout,
        format!(
            "{host} did not answer in full within {}s (timeout)",
            deadline.as_secs_f32()
        ),
    )
}

/// `host:port` without user info, path or query (which can carry codes).
pub fn host_of(url: &Url) -> String {
    match (url.host_str(), url.port_or_known_default()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        _ => "the server".to_owned(),
    }
}

/// The innermost cause, which names the problem without the URL reqwest
/// puts in its own message.
pub(super) fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}
