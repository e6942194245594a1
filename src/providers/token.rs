//! Token endpoint answers (RFC 6749 §5.1), read by hand and checked.
//!
//! Parsed here rather than by the `oauth2` crate: its typed response refuses
//! `"expires_in": "3600"` and reports every malformation as one serde error
//! that carries the raw body (tokens included), while an operator needs one
//! clear sentence per case and nothing secret in it. The policy:
//! - not JSON (an HTML login page with 200, say) → `Protocol`;
//! - no `access_token` → `Protocol`; no `token_type` → `Protocol` (RFC 6749
//!   requires it), and only `Bearer` is used, in any letter case;
//! - `expires_in` as a number or a numeric string (leniently: some servers
//!   quote it); 0, negative or not a number → `Protocol`; longer than a year
//!   → clamped to a year; missing → the access token's JWT `exp` when it has
//!   one, else [`UNKNOWN_LIFETIME`] (5 min), so an unknown lifetime makes the
//!   dashboard refresh early rather than show a dead token as active (told
//!   as assumed, [`GrantExpiry::Assumed`]);
//! - an empty `refresh_token` is none (the caller keeps the old one);
//! - unknown fields are ignored.

use serde_json::{Map, Value};

use super::http::Reply;
use super::oauth_error::{TokenCall, error_from_object, error_from_reply};
use super::{GrantExpiry, TokenGrant};
use crate::domain::{Claims, ErrorKind, OpError, Scopes, Secret, UnixTime};

/// Assumed lifetime of an access token whose answer says nothing about it.
pub const UNKNOWN_LIFETIME: u64 = 300;
/// Longer lifetimes are clamped: nobody needs a countdown past a year.
pub const MAX_LIFETIME: u64 = 365 * 24 * 3600;
/// Longer provider texts are cut in messages.
pub const SHOWN_CHARS: usize = 300;

/// Reads a token endpoint answer of any status.
pub fn parse_token_reply(
    reply: &Reply,
    call: TokenCall,
    requested: &[String],
    now: UnixTime,
) -> Result<TokenGrant, OpError> {
    if !reply.status.is_success() {
        return Err(error_from_reply(reply, call));
    }
    let obj = json_object(reply)?;
    if obj.contains_key("error") {
        return Err(error_from_object(&obj, call));
    }
    grant_from_object(&obj, &reply.host, requested, now)
}

/// The refresh token in an answer that was refused for something else in
/// it: a success status, a JSON object, no `error`. Its issuer has most
/// likely spent the token it was sent to mint this one.
pub fn rotated_in(reply: &Reply) -> Option<Secret> {
    if !reply.status.is_success() {
        return None;
    }
    let obj = json_object(reply).ok()?;
    if obj.contains_key("error") {
        return None;
    }
    token_field(&obj, "refresh_token", &reply.host)
        .ok()
        .flatten()
}

/// The token at `key` of an answer, if it has a non-empty one; refused
/// when it is not [`printable`].
fn token_field(obj: &Map<String, Value>, key: &str, host: &str) -> Result<Option<Secret>, OpError> {
    non_empty(obj.get(key))
        .map(|t| printable(t, key, host).map(Secret::new))
        .transpose()
}

/// `token` when it is made of visible ASCII alone, as RFC 6749 (A.12, A.17)
/// and RFC 6750's header syntax allow. One with a control character, a
/// space or anything else would be printed raw by `access-token` into a
/// terminal or a script's command line, and cannot be sent back in a
/// header; the value itself is never shown.
pub fn printable<'a>(token: &'a str, key: &str, host: &str) -> Result<&'a str, OpError> {
    match token.bytes().all(|b| b.is_ascii_graphic()) {
        true => Ok(token),
        false => Err(protocol(format!(
            "the {key} from {host} holds a character a token cannot (a space, a control \
             character or one outside ASCII): its tokens were not used"
        ))),
    }
}

/// The body as a JSON object, or a `Protocol` error saying what it was instead.
pub fn json_object(reply: &Reply) -> Result<Map<String, Value>, OpError> {
    let host = &reply.host;
    let status = reply.status.as_u16();
    let text = String::from_utf8_lossy(&reply.body);
    // RFC 8259 §8.1 lets a reader ignore a byte order mark; some servers send one.
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let parsed = serde_json::from_str::<Value>(text);
    // The body decides, not its label: a server that calls its JSON a page
    // (a framework's default `text/html`) still sent the token, and a
    // one-time code or a rotated refresh token is spent by then.
    if let Ok(Value::Object(map)) = parsed {
        return Ok(map);
    }
    let looks_html = reply.content_type().contains("html") || text.trim_start().starts_with('<');
    if looks_html {
        return Err(protocol(format!(
            "{host} answered with an HTML page instead of JSON (status {status}): \
             check that the configured URL is the API endpoint, not a login page"
        )));
    }
    match parsed {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(protocol(format!(
            "{host} answered JSON that is not an object (status {status})"
        ))),
        Err(_) if text.trim().is_empty() => Err(protocol(format!(
            "{host} answered with an empty body (status {status})"
        ))),
        Err(_) => Err(protocol(format!(
            "{host} answered with a body that is not JSON (status {status})"
        ))),
    }
}

fn grant_from_object(
    obj: &Map<String, Value>,
    host: &str,
    requested: &[String],
    now: UnixTime,
) -> Result<TokenGrant, OpError> {
    let access_token = match obj.get("access_token") {
        Some(Value::String(s)) if !s.trim().is_empty() => {
            Secret::new(printable(s.trim(), "access_token", host)?)
        }
        _ => {
            return Err(protocol(format!(
                "the token response from {host} has no access_token"
            )));
        }
    };
    check_token_type(obj.get("token_type"), host)?;
    let expiry = match seconds(obj.get("expires_in"), "expires_in", host)? {
        Some(secs) => GrantExpiry::InSecs(secs),
        None => lifetime_from_jwt(&access_token, now)
            .map_or(GrantExpiry::Assumed(UNKNOWN_LIFETIME), GrantExpiry::InSecs),
    };
    let id_token = token_field(obj, "id_token", host)?;
    let refresh_token = token_field(obj, "refresh_token", host)?;
    let id_claims = id_token
        .as_ref()
        .and_then(|t| Claims::decode(t.expose()).ok());
    Ok(TokenGrant {
        access_token,
        expiry,
        refresh_token,
        // Read leniently, unlike `expires_in`: refusing the answer for it
        // would drop a refresh token the provider has already rotated, and
        // Keycloak sends 0 for an offline token that never expires. An
        // unreadable value leaves the consent's end unknown, as if absent.
        refresh_expires_in: seconds(obj.get("refresh_expires_in"), "refresh_expires_in", host)
            .unwrap_or_else(|e| {
                tracing::debug!("{}: kept as unknown", e.message);
                None
            }),
        scopes: Scopes::from_oauth(obj.get("scope").and_then(Value::as_str), requested),
        subject: id_claims
            .as_ref()
            .and_then(|c| c.str("sub"))
            .map(str::to_owned),
        session: non_empty(obj.get("session_state"))
            .or_else(|| id_claims.as_ref().and_then(|c| c.str("sid")))
            .map(str::to_owned),
        id_token,
    })
}

fn check_token_type(value: Option<&Value>, host: &str) -> Result<(), OpError> {
    match value.and_then(Value::as_str) {
        Some(t) if t.trim().eq_ignore_ascii_case("bearer") => Ok(()),
        Some(t) => Err(protocol(format!(
            "the token response from {host} has token_type \"{}\": only Bearer tokens are supported",
            shown(t)
        ))),
        None => Err(protocol(format!(
            "the token response from {host} has no token_type (RFC 6749 §5.1 requires it)"
        ))),
    }
}

/// A lifetime in seconds: a positive number or numeric string, clamped to
/// [`MAX_LIFETIME`]; `None` when absent or null.
fn seconds(value: Option<&Value>, key: &str, host: &str) -> Result<Option<u64>, OpError> {
    let raw: f64 = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.as_f64().unwrap_or(f64::NAN),
        Some(Value::String(s)) => s.trim().parse().map_err(|_| {
            protocol(format!(
                "{key} \"{}\" from {host} is not a number of seconds",
                shown(s)
            ))
        })?,
        Some(other) => {
            return Err(protocol(format!(
                "{key} from {host} is not a number of seconds: {}",
                shown(&other.to_string())
            )));
        }
    };
    if !raw.is_finite() || raw < 1.0 {
        return Err(protocol(format!(
            "{key} from {host} is {raw}: a token must live at least one second"
        )));
    }
    Ok(Some((raw as u64).min(MAX_LIFETIME)))
}

fn lifetime_from_jwt(token: &Secret, now: UnixTime) -> Option<u64> {
    Claims::decode(token.expose())
        .ok()
        .and_then(|c| c.exp())
        .map(|exp| now.secs_until(exp))
        .and_then(|left| u64::try_from(left).ok())
        .map(|left| left.clamp(1, MAX_LIFETIME))
}

fn non_empty(value: Option<&Value>) -> Option<&str> {
    value
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// A provider's value fit for a message: at most [`SHOWN_CHARS`] characters,
/// without control characters (a provider's `msg` reaches the screen).
pub fn shown(s: &str) -> String {
    let clean: String = s
        .chars()
        .filter(|c| !c.is_control())
        .take(SHOWN_CHARS)
        .collect();
    if s.chars().count() > SHOWN_CHARS {
        format!("{clean}…")
    } else {
        clean
    }
}

fn protocol(message: String) -> OpError {
    OpError::new(ErrorKind::Protocol, message)
}

#[cfg(test)]
#[path = "token_tests.rs"]
mod tests;
