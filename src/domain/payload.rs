//! The Connect layer's success payload (seeds 000 and 001), as an operator pastes it.
//!
//! Operators paste whatever their front end logged: with or without the outer
//! braces, sometimes with `"success": true` only. Parsing is strict about the
//! fields that matter and says which one is missing or empty.

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use super::jwt::Claims;
use super::secret::Secret;
use super::time::{UnixTime, format_ago};

/// Connect payloads are a few hundred bytes; anything far larger is not one.
pub const MAX_PAYLOAD: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectPayload {
    pub access_code: Secret,
    pub user_secret: Secret,
    pub connection_id: String,
    pub user_id: Option<String>,
    pub token_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Raw {
    success: Option<bool>,
    access_code: Option<Secret>,
    user_secret: Option<Secret>,
    #[serde(rename = "connectionID")]
    connection_id: Option<String>,
    #[serde(rename = "userID")]
    user_id: Option<String>,
    #[serde(rename = "tokenID")]
    token_id: Option<String>,
}

impl ConnectPayload {
    /// When Dapi stops taking the access code: by the code's own `exp`,
    /// else `ttl` (the provider's `access_code_ttl`) from its `iat`, since
    /// a payload pasted late has spent part of its time already. `None`
    /// for a code that is not a JWT, or without `ttl` one with no `exp`.
    pub fn code_expires_at(&self, ttl: Option<Duration>) -> Option<UnixTime> {
        let claims = Claims::decode(self.access_code.expose()).ok()?;
        claims.exp().or_else(|| Some(claims.iat()?.plus(ttl?)))
    }

    /// Refuses a payload whose code has already expired: filed, it could
    /// only ever read "code expired", and the user has to go through Connect
    /// again either way. Now is when to say so.
    pub fn check_fresh(&self, now: UnixTime, ttl: Option<Duration>) -> Result<(), String> {
        match self.code_expires_at(ttl) {
            Some(exp) if exp <= now => Err(format!(
                "this Connect payload's access code expired {} ago: the user must connect \
                 again for a fresh one",
                format_ago(exp.secs_until(now))
            )),
            _ => Ok(()),
        }
    }

    pub fn parse(text: &str) -> Result<ConnectPayload, String> {
        if text.len() > MAX_PAYLOAD {
            return Err(format!(
                "payload too large ({} bytes): paste the Connect success JSON",
                text.len()
            ));
        }
        let trimmed = text.trim();
        let wrapped;
        let json = if trimmed.starts_with('{') {
            trimmed
        } else {
            // The seeds print the payload without its braces.
            wrapped = format!("{{{}}}", trimmed.trim_end_matches(','));
            &wrapped
        };
        let value: Value = serde_json::from_str(json).map_err(|e| {
            format!(
                "not a Connect payload: invalid JSON at line {} column {}",
                e.line(),
                e.column()
            )
        })?;
        let raw: Raw = serde_json::from_value(value)
            .map_err(|_| "not a Connect payload: a field has the wrong type".to_string())?;
        if raw.success == Some(false) {
            return Err("the Connect payload reports success: false; nothing to link".into());
        }
        Ok(ConnectPayload {
            access_code: required_secret(raw.access_code, "accessCode")?,
            user_secret: required_secret(raw.user_secret, "userSecret")?,
            connection_id: required(raw.connection_id, "connectionID")?,
            user_id: optional(raw.user_id, "userID")?,
            token_id: optional(raw.token_id, "tokenID")?,
        })
    }
}

fn required(v: Option<String>, field: &str) -> Result<String, String> {
    match v {
        Some(s) if !s.trim().is_empty() => printable(s.trim(), field).map(str::to_owned),
        Some(_) => Err(format!("Connect payload field '{field}' is empty")),
        None => Err(format!("Connect payload is missing '{field}'")),
    }
}

fn optional(v: Option<String>, field: &str) -> Result<Option<String>, String> {
    match v.filter(|s| !s.is_empty()) {
        Some(s) => {
            printable(&s, field)?;
            Ok(Some(s))
        }
        None => Ok(None),
    }
}

fn required_secret(v: Option<Secret>, field: &str) -> Result<Secret, String> {
    match v {
        Some(s) if !s.expose().trim().is_empty() => {
            printable(s.expose().trim(), field).map(Secret::new)
        }
        Some(_) => Err(format!("Connect payload field '{field}' is empty")),
        None => Err(format!("Connect payload is missing '{field}'")),
    }
}

/// Dapi's ids and codes are printable text: one holding a control
/// character is no Connect payload, and an id is shown on every screen
/// and in every listing, where an escape sequence would reach the terminal.
fn printable<'a>(value: &'a str, field: &str) -> Result<&'a str, String> {
    match value.chars().any(char::is_control) {
        true => Err(format!(
            "Connect payload field '{field}' holds control characters: paste the payload \
             exactly as the Connect layer's onSuccess gave it"
        )),
        false => Ok(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_seed_shape_with_and_without_braces() {
        let body = r#""success": true,
    "accessCode": "access_code_value",
    "userSecret": "user_secret_value",
    "connectionID": "connection_id_value",
    "userID": "user_id_value",
    "tokenID": "token_id_value""#;
        for text in [body.to_string(), format!("{{{body}}}")] {
            let p = ConnectPayload::parse(&text).unwrap();
            assert_eq!(p.access_code.expose(), "access_code_value");
            assert_eq!(p.user_secret.expose(), "user_secret_value");
            assert_eq!(p.connection_id, "connection_id_value");
            assert_eq!(p.user_id.as_deref(), Some("user_id_value"));
            assert_eq!(p.token_id.as_deref(), Some("token_id_value"));
        }
    }

    /// A code with `iat` but no `exp` lives the provider's code lifetime
    /// from its issue, not from when it was pasted.
    #[test]
    fn a_code_without_exp_expires_its_lifetime_after_its_iat() {
        let code = |claims: serde_json::Value| {
            let b64 = |v: &[u8]| {
                use base64::Engine as _;
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v)
            };
            let jwt = format!(
                "{}.{}.sig",
                b64(br#"{"alg":"HS256"}"#),
                b64(claims.to_string().as_bytes())
            );
            let text = serde_json::json!({
                "accessCode": jwt, "userSecret": "s", "connectionID": "c",
            });
            ConnectPayload::parse(&text.to_string()).unwrap()
        };
        let ttl = Some(Duration::from_secs(1800));
        let issued = code(serde_json::json!({"iat": 1_000}));
        assert_eq!(issued.code_expires_at(ttl), Some(UnixTime(2_800)));
        assert_eq!(issued.code_expires_at(None), None);
        assert!(issued.check_fresh(UnixTime(2_799), ttl).is_ok());
        let e = issued.check_fresh(UnixTime(3_400), ttl).unwrap_err();
        assert!(
            e.starts_with("this Connect payload's access code expired 10m ago"),
            "{e}"
        );
        // Its own `exp` wins.
        let both = code(serde_json::json!({"iat": 1_000, "exp": 1_300}));
        assert_eq!(both.code_expires_at(ttl), Some(UnixTime(1_300)));
    }

    #[test]
    fn names_the_missing_or_empty_field_without_echoing_secrets() {
        let e =
            ConnectPayload::parse(r#"{"accessCode":"sekrit-code","userSecret":"u"}"#).unwrap_err();
        assert_eq!(e, "Connect payload is missing 'connectionID'");
        let e = ConnectPayload::parse(r#"{"accessCode":"","userSecret":"u","connectionID":"c"}"#)
            .unwrap_err();
        assert_eq!(e, "Connect payload field 'accessCode' is empty");
        let e = ConnectPayload::parse(r#"{"accessCode":"sekrit-code" "#).unwrap_err();
        assert!(e.starts_with("not a Connect payload"), "{e}");
        assert!(!e.contains("sekrit"));
        let e = ConnectPayload::parse(r#"{"success":false}"#).unwrap_err();
        assert!(e.contains("success: false"));
    }

    #[test]
    fn an_id_or_code_holding_a_control_character_is_refused_by_name() {
        let payload = |field: &str, value: &str| {
            let mut fields = serde_json::json!({
                "accessCode": "code", "userSecret": "secret", "connectionID": "c",
                "userID": "u", "tokenID": "t",
            });
            fields[field] = value.into();
            ConnectPayload::parse(&fields.to_string())
        };
        for field in [
            "accessCode",
            "userSecret",
            "connectionID",
            "userID",
            "tokenID",
        ] {
            let e = payload(field, "evil\u{1b}]0;PWNED\u{7}x").unwrap_err();
            assert!(
                e.starts_with(&format!(
                    "Connect payload field '{field}' holds control characters"
                )),
                "{e}"
            );
            assert!(!e.contains("evil"), "{e}");
        }
        assert!(payload("userID", "").unwrap().user_id.is_none());
        assert_eq!(
            payload("tokenID", "t-1").unwrap().token_id.as_deref(),
            Some("t-1")
        );
    }
}
