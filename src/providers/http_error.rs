//! Transport failures turned into errors an operator can act on.
//!
//! reqwest's own messages carry the full URL (whose query can hold a code)
//! and read like a stack trace; here each failure becomes one sentence that
//! names the host and the cause, and says whether a read may be retried.
//! A certificate failure is a configuration problem, not a network blip, and
//! its message points at `ca_file`.

use std::time::Duration;

use crate::domain::{ErrorKind, OpError};

/// An error plus whether an idempotent read may try again.
#[derive(Debug)]
pub struct Failure {
    pub error: OpError,
    pub retry: bool,
}

impl Failure {
    pub fn fatal(error: OpError) -> Self {
        Self {
            error,
            retry: false,
        }
    }
}

/// Maps a reqwest error. Refused connections and DNS failures are not
/// retried (nothing listens there; trying again in 200 ms will not change
/// that), resets are; a timeout already used the whole deadline. A failure
/// before the connection stood (a connect timeout among them) is `Network`:
/// the request never left; after it, `Lost` or `Timeout`: it may have.
pub fn transport_failure(e: &reqwest::Error, host: &str, deadline: Duration) -> Failure {
    let chain = causes(e);
    if let Some(tls) = tls_problem(&chain) {
        return Failure::fatal(OpError::new(
            ErrorKind::Config,
            format!(
                "TLS handshake with {host} failed: the server certificate is not trusted ({tls}); \
                 if it is issued by a private CA, set ca_file to that CA's PEM"
            ),
        ));
    }
    let cause = chain
        .last()
        .map(|c| without_os_code(c))
        .unwrap_or_else(|| "unknown error".into());
    if e.is_connect() {
        return Failure::fatal(OpError::new(
            ErrorKind::Network,
            format!("cannot connect to {host}: {cause}"),
        ));
    }
    if e.is_timeout() || chain.iter().any(|c| c.contains("timed out")) {
        return Failure::fatal(OpError::new(
            ErrorKind::Timeout,
            format!(
                "{host} did not answer in full within {}s (timeout)",
                deadline.as_secs_f32()
            ),
        ));
    }
    Failure {
        error: OpError::new(
            ErrorKind::Lost,
            format!("connection to {host} failed: {cause}"),
        ),
        retry: true,
    }
}

/// "Connection refused (os error 111)" without its number, which says
/// nothing more to an operator.
fn without_os_code(cause: &str) -> String {
    match cause.rsplit_once(" (os error ") {
        Some((said, code))
            if code
                .trim_end_matches(')')
                .bytes()
                .all(|b| b.is_ascii_digit()) =>
        {
            said.to_owned()
        }
        _ => cause.to_owned(),
    }
}

/// The messages of the error's sources, outermost first; the top-level
/// message (which holds the URL) is left out.
fn causes(e: &reqwest::Error) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = std::error::Error::source(e);
    while let Some(c) = cur {
        out.push(c.to_string());
        cur = c.source();
    }
    out
}

fn tls_problem(chain: &[String]) -> Option<String> {
    chain
        .iter()
        .rev()
        .find(|c| {
            let c = c.to_ascii_lowercase();
            c.contains("certificate") || c.contains("handshake") || c.contains("tls")
        })
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_problem_picks_the_certificate_cause() {
        let chain = vec![
            "client error (Connect)".to_owned(),
            "invalid peer certificate: UnknownIssuer".to_owned(),
        ];
        assert_eq!(
            tls_problem(&chain).as_deref(),
            Some("invalid peer certificate: UnknownIssuer")
        );
        assert_eq!(tls_problem(&["Connection refused".to_owned()]), None);
        assert_eq!(
            without_os_code("Connection refused (os error 111)"),
            "Connection refused"
        );
        assert_eq!(without_os_code("reset (by peer)"), "reset (by peer)");
    }
}
