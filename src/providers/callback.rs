//! One loopback callback request: read, judged, answered with a small page.
//!
//! Hand-written HTTP/1.1: only the request line matters (`GET /callback?… HTTP/1.1`),
//! the head is capped and must arrive within a short time, and the answer
//! always closes the connection. The verdict is decided by [`judge`], a pure
//! function, so every case is tested without a socket.

use std::collections::HashMap;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::AuthRequest;
use super::oauth_error::{TokenCall, error_from_code};
use crate::domain::{ErrorKind, OpError};

const MAX_HEAD: usize = 16 * 1024;
const HEAD_TIMEOUT: Duration = Duration::from_secs(30);

/// What one connection brought.
#[derive(Debug)]
pub enum Outcome {
    /// Not a callback (favicon, idle preconnect, garbage): keep waiting.
    Ignored,
    /// A callback with a code; the browser waits for its page until the
    /// code has been redeemed, so that the page tells the login's outcome.
    Code(String, Browser),
    /// A callback that ended the login; the browser has been told why.
    Failed(OpError),
}

/// The browser's connection, held open while the code is redeemed.
#[derive(Debug)]
pub struct Browser(TcpStream);

impl Browser {
    /// Tells the browser how the login ended, in words already fit for the
    /// screen (an [`OpError`]'s message never holds a secret).
    pub async fn answer(mut self, outcome: Result<(), &OpError>) {
        match outcome {
            Ok(()) => {
                let text = "Login complete: bankdeck has the tokens. You can close this tab.";
                respond(&mut self.0, "200 OK", text).await;
            }
            Err(e) => refuse(&mut self.0, e).await,
        }
    }
}

pub async fn serve_one(mut stream: TcpStream, request: &AuthRequest) -> Outcome {
    let Some(target) = read_target(&mut stream).await else {
        return Outcome::Ignored;
    };
    let (path, query) = target.split_once('?').unwrap_or((target.as_str(), ""));
    if path != "/callback" {
        respond(&mut stream, "404 Not Found", "Not found.").await;
        return Outcome::Ignored;
    }
    // Anyone who can reach the loopback port can send a callback: one that
    // is not this login's is refused to its sender and the login goes on
    // waiting for its own, rather than ending at the first forged request.
    if !ours(query, request) {
        let e = protocol(
            "this callback is not for the login under way (its state does not match): \
             that login goes on waiting",
        );
        refuse(&mut stream, &e).await;
        return Outcome::Ignored;
    }
    match judge(query, request) {
        Ok(code) => Outcome::Code(code, Browser(stream)),
        Err(e) => {
            refuse(&mut stream, &e).await;
            Outcome::Failed(e)
        }
    }
}

async fn refuse(stream: &mut TcpStream, e: &OpError) {
    let text = format!("Login failed: {}. You can close this tab.", e.message);
    respond(stream, "400 Bad Request", &text).await;
}

/// The request target of a `GET`, or `None` for anything else.
async fn read_target(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 2048];
    let read = async {
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_HEAD {
            let n = stream.read(&mut buf).await.ok()?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buf[..n]);
        }
        Some(())
    };
    tokio::time::timeout(HEAD_TIMEOUT, read).await.ok()??;
    let text = String::from_utf8_lossy(&head);
    let mut parts = text.lines().next()?.split_whitespace();
    match (parts.next(), parts.next(), parts.next()) {
        (Some("GET"), Some(target), Some(version)) if version.starts_with("HTTP/1.") => {
            Some(target.to_owned())
        }
        _ => None,
    }
}

/// Checks a callback query against the request it must answer: `state`
/// first (an answer that is not ours is not read further), then `iss`, then
/// the provider's `error`, then the `code`.
pub fn judge(query: &str, request: &AuthRequest) -> Result<String, OpError> {
    let params = params(query);
    let error = params.get("error");
    if !matches_state(&params, request) {
        return Err(protocol(
            "the browser came back with a state that does not match this login (a stale or forged \
             callback); the login was stopped: start it again",
        ));
    }
    check_issuer(params.get("iss"), request.issuer.as_deref())?;
    if let Some(code) = error {
        let desc = params.get("error_description").map(String::as_str);
        return Err(error_from_code(code, desc, TokenCall::Code));
    }
    match params.get("code").filter(|c| !c.is_empty()) {
        Some(code) => Ok(code.clone()),
        None => Err(protocol(
            "the browser came back without a code: start the login again",
        )),
    }
}

fn params(query: &str) -> HashMap<String, String> {
    url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

/// Whether a callback answers this login: its `state` is ours, error or
/// not. RFC 6749 §4.1.2.1 requires the state in an error answer to a
/// request that sent one, and ours always do: an error without it is
/// anyone's who can reach the port, and must not end the login.
fn matches_state(params: &HashMap<String, String>, request: &AuthRequest) -> bool {
    params.get("state").map(String::as_str) == Some(request.state.expose())
}

/// [`matches_state`] of a callback's query.
pub fn ours(query: &str, request: &AuthRequest) -> bool {
    matches_state(&params(query), request)
}

/// RFC 9207: when the provider says it sends `iss`, it must be there and be
/// the issuer we talk to, or the answer may come from another server (mix-up).
fn check_issuer(got: Option<&String>, expected: Option<&str>) -> Result<(), OpError> {
    let Some(expected) = expected else {
        return Ok(());
    };
    match got {
        Some(iss) if iss.trim_end_matches('/') == expected.trim_end_matches('/') => Ok(()),
        Some(_) => Err(protocol(
            "the callback names another issuer than this provider (a mix-up): the login was stopped",
        )),
        None => Err(protocol(
            "the callback carries no iss although the provider announces it: the login was stopped",
        )),
    }
}

async fn respond(stream: &mut TcpStream, status: &str, text: &str) {
    let body = format!(
        "<!doctype html><meta charset=\"utf-8\"><title>bankdeck</title>\
         <body style=\"font-family:sans-serif\"><p>{}</p></body>",
        escape(text)
    );
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    );
    // The browser may have gone already; the verdict stands either way.
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body.as_bytes()).await;
    let _ = stream.shutdown().await;
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn protocol(message: &str) -> OpError {
    OpError::new(ErrorKind::Protocol, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Secret;

    fn request(issuer: Option<&str>) -> AuthRequest {
        AuthRequest {
            url: String::new(),
            state: Secret::new("st"),
            nonce: None,
            pkce_verifier: Secret::new("v"),
            redirect_uri: "http://127.0.0.1:1/callback".into(),
            issuer: issuer.map(str::to_owned),
        }
    }

    #[test]
    fn code_comes_back_only_with_the_right_state() {
        assert_eq!(judge("code=c1&state=st", &request(None)).unwrap(), "c1");
        let e = judge("code=c1&state=other", &request(None)).unwrap_err();
        assert!(e.message.contains("state"));
        assert!(judge("code=c1", &request(None)).is_err());
        assert!(
            judge("state=st", &request(None))
                .unwrap_err()
                .message
                .contains("without a code")
        );
    }

    #[test]
    fn errors_and_issuer() {
        let e = judge("error=access_denied&state=st", &request(None)).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Denied);
        let e = judge("error=access_denied&state=x", &request(None)).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Protocol);
        let r = request(Some("https://idp.test/realms/r"));
        assert!(
            judge(
                "code=c&state=st&iss=https%3A%2F%2Fidp.test%2Frealms%2Fr",
                &r
            )
            .is_ok()
        );
        assert!(judge("code=c&state=st&iss=https%3A%2F%2Fevil.test", &r).is_err());
        assert!(judge("code=c&state=st", &r).is_err());
    }

    /// RFC 6749 §4.1.2.1 makes `state` required in an error answer to a
    /// request that sent one, as ours all do: without it, anyone who can
    /// reach the port could end the login with `?error=access_denied`.
    #[test]
    fn an_error_without_our_state_is_not_ours() {
        for query in [
            "error=access_denied",
            "error=access_denied&state=x",
            "error=",
        ] {
            assert!(!ours(query, &request(None)), "{query}");
            let e = judge(query, &request(None)).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Protocol, "{query}");
        }
        assert!(ours("error=access_denied&state=st", &request(None)));
    }

    #[test]
    fn page_text_is_escaped() {
        assert_eq!(escape("<b>&\""), "&lt;b&gt;&amp;&quot;");
    }
}
