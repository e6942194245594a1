//! RFC 6749 §5.2 error answers, and HTTP statuses, as `OpError`s.
//!
//! The error code decides what happens next, so it decides the kind:
//! `invalid_grant` on a refresh means the user must consent again (never
//! "retry"), client and scope problems are configuration, `access_denied` is
//! the user's refusal, `unsupported_token_type` on a logout is the
//! provider's way, which leaves the refresh token valid. The provider's
//! `error_description` is kept in the message, since it is often the only
//! hint an operator gets.

use reqwest::StatusCode;
use serde_json::{Map, Value};

use super::http::Reply;
use super::token::{json_object, shown};
use crate::domain::{ErrorKind, OpError};

/// Which token endpoint call failed: the same code means different things.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenCall {
    ClientCredentials,
    Refresh,
    /// Redeeming an authorization code from a browser login.
    Code,
    /// Revocation or logout of a refresh token.
    EndSession,
}

/// Any non-2xx answer of a token, revocation or logout endpoint. The status
/// class decides first: a 5xx is the server's failure whatever its body says.
pub fn error_from_reply(reply: &Reply, call: TokenCall) -> OpError {
    let host = &reply.host;
    let status = reply.status;
    if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE {
        return rate_limited(reply);
    }
    let body = json_object(reply).ok();
    let code = body
        .as_ref()
        .and_then(|o| o.get("error"))
        .and_then(Value::as_str);
    if status.is_server_error() {
        let said = code.map_or_else(String::new, |c| format!(" ({})", shown(c)));
        return OpError::new(
            ErrorKind::Server,
            // The reason first: the table's state column shows a message's start.
            format!("{status}{said} from {host}: try again later"),
        );
    }
    if let (Some(obj), Some(_)) = (&body, code) {
        return error_from_object(obj, call);
    }
    if status == StatusCode::UNAUTHORIZED {
        return OpError::new(
            ErrorKind::Config,
            format!(
                "{host} refused the client authentication (401): check client_id and client_secret"
            ),
        );
    }
    OpError::new(
        ErrorKind::Protocol,
        format!("{host} answered {status} without an OAuth error body"),
    )
}

/// The RFC 6749 `error` code of an answer, when it has one.
pub fn error_code(reply: &Reply) -> Option<String> {
    let obj = json_object(reply).ok()?;
    obj.get("error").and_then(Value::as_str).map(str::to_owned)
}

/// `{"error": …, "error_description": …}` as an `OpError`.
pub fn error_from_object(obj: &Map<String, Value>, call: TokenCall) -> OpError {
    let code = obj
        .get("error")
        .and_then(Value::as_str)
        .unwrap_or("unknown");
    let desc = obj.get("error_description").and_then(Value::as_str);
    error_from_code(code, desc, call)
}

pub fn error_from_code(code: &str, desc: Option<&str>, call: TokenCall) -> OpError {
    let said = match desc.map(str::trim).filter(|d| !d.is_empty()) {
        Some(d) => format!("{}: {}", shown(code), shown(d)),
        None => shown(code),
    };
    let (kind, what, advice) = classify(code, call);
    OpError::new(kind, format!("{what} ({said}){advice}"))
}

/// The kind, the subject of the sentence and the advice for one error code.
fn classify(code: &str, call: TokenCall) -> (ErrorKind, &'static str, &'static str) {
    use ErrorKind as K;
    match (code, call) {
        ("invalid_grant", TokenCall::Refresh) => (
            K::ReauthRequired,
            "the refresh token was rejected",
            ": the user must consent again",
        ),
        ("invalid_grant", TokenCall::Code) => (
            K::CodeInvalid,
            "the authorization code was rejected",
            ": log in again",
        ),
        // Each names the keys of the provider's table to look at: "fix the
        // configuration" left the operator to guess which of a dozen.
        ("invalid_client", _) | ("invalid_grant", TokenCall::ClientCredentials) => (
            K::Config,
            "the provider refused the client",
            ": check the provider's client_id and client_secret (and client_auth, how the \
             secret is sent)",
        ),
        ("invalid_scope", _) => (
            K::Config,
            "the provider refused the scopes asked for",
            ": check the provider's scopes against those its client is allowed",
        ),
        ("unauthorized_client" | "unsupported_grant_type", _) => (
            K::Config,
            "the provider refused the client this grant",
            ": allow the grant for client_id at the provider, or use a client that has it",
        ),
        // RFC 7009 §2.2.1: the provider keeps its refresh tokens until they
        // expire. It answered, and no configuration of ours changes that.
        ("unsupported_token_type", TokenCall::EndSession) => (
            K::Provider,
            "the provider does not revoke refresh tokens",
            ": nothing was logged out, and the refresh token stays valid until it expires",
        ),
        ("access_denied", _) => (K::Denied, "access was denied", ""),
        ("temporarily_unavailable" | "server_error", _) => {
            (K::Server, "the provider failed", ": try again later")
        }
        _ => (K::Provider, "the provider refused", ""),
    }
}

/// 429 or 503, with the wait the server asked for (`None` when absent or unreadable).
pub fn rate_limited(reply: &Reply) -> OpError {
    let retry_after = reply.retry_after();
    let when = match retry_after {
        Some(s) => format!("it asks to wait {s}s"),
        None => "it did not say how long to wait".to_owned(),
    };
    OpError {
        kind: ErrorKind::RateLimited,
        message: format!(
            "{} is busy or rate limiting ({}): {when}",
            reply.host, reply.status
        ),
        retry_after,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6749_codes_map_to_kinds() {
        let k = |code, call| error_from_code(code, Some("why"), call).kind;
        assert_eq!(
            k("invalid_grant", TokenCall::Refresh),
            ErrorKind::ReauthRequired
        );
        assert_eq!(k("invalid_grant", TokenCall::Code), ErrorKind::CodeInvalid);
        for code in [
            "invalid_client",
            "invalid_scope",
            "unauthorized_client",
            "unsupported_grant_type",
        ] {
            assert_eq!(k(code, TokenCall::Refresh), ErrorKind::Config, "{code}");
        }
        assert_eq!(k("access_denied", TokenCall::Code), ErrorKind::Denied);
        assert_eq!(k("invalid_request", TokenCall::Code), ErrorKind::Provider);
    }

    /// RFC 7009 §2.2.1: the provider does not revoke this kind of token.
    /// Nothing in the client's configuration can change that.
    #[test]
    fn unsupported_token_type_on_logout_says_the_token_stays_valid() {
        let e = error_from_code(
            "unsupported_token_type",
            Some("refresh tokens are not revocable"),
            TokenCall::EndSession,
        );
        assert_eq!(e.kind, ErrorKind::Provider);
        for said in [
            "does not revoke",
            "unsupported_token_type: refresh tokens are not revocable",
            "nothing was logged out",
            "stays valid until it expires",
        ] {
            assert!(e.message.contains(said), "{said}: {}", e.message);
        }
        assert!(!e.message.contains("configuration"), "{}", e.message);
    }

    #[test]
    fn description_is_kept_in_the_message() {
        let e = error_from_code(
            "invalid_grant",
            Some("Token is not active"),
            TokenCall::Refresh,
        );
        assert!(
            e.message.contains("invalid_grant: Token is not active"),
            "{}",
            e.message
        );
        assert!(e.message.contains("consent again"));
    }
}
