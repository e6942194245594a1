//! Dapi's failure answers (`success`, `status`, `type`, `msg`) as a typed error.
//!
//! Dapi explains itself in `msg` ("Validation error on field 'connectionID'…"),
//! and that sentence is what the operator needs, so it is always kept. The
//! `type` decides the kind, and the same type means different things per
//! call: `INVALID_TOKEN` on ExchangeToken is a dead access code (link again),
//! on DelinkUser a dead access token.

use serde_json::{Map, Value};

use super::token::shown;
use crate::domain::{ErrorKind, OpError};

/// Which Dapi call answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DapiCall {
    Exchange,
    Delink,
}

/// A Dapi answer with `success: false`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DapiError {
    /// `failed`, `user_input_required`, `initialized`…
    pub status: Option<String>,
    /// `INVALID_ARGS`, `INVALID_TOKEN`…
    pub kind: Option<String>,
    /// Dapi's own explanation, shown to the operator.
    pub msg: Option<String>,
}

impl DapiError {
    pub fn from_object(obj: &Map<String, Value>) -> Self {
        let field = |k: &str| obj.get(k).and_then(Value::as_str).map(shown);
        Self {
            status: field("status"),
            kind: field("type"),
            msg: field("msg"),
        }
    }

    /// `INVALID_ARGS: Validation error …`, or whatever part Dapi sent.
    pub fn said(&self) -> String {
        match (&self.kind, &self.msg) {
            (Some(k), Some(m)) => format!("{k}: {m}"),
            (Some(k), None) => k.clone(),
            (None, Some(m)) => m.clone(),
            (None, None) => match self.status.as_deref() {
                Some(status) => format!("status {status}"),
                None => "no reason given".into(),
            },
        }
    }

    fn is_app_secret_problem(&self) -> bool {
        let kind = self.kind.as_deref().unwrap_or("").to_ascii_uppercase();
        let msg = self.msg.as_deref().unwrap_or("").to_ascii_lowercase();
        kind.contains("APP")
            || kind.contains("SECRET")
            || msg.contains("app secret")
            || msg.contains("appsecret")
            || msg.contains("app key")
    }

    pub fn to_op_error(&self, call: DapiCall) -> OpError {
        let said = self.said();
        let (kind, text) = match (self.kind.as_deref(), call) {
            (Some("INVALID_TOKEN"), DapiCall::Exchange) => (
                ErrorKind::CodeInvalid,
                format!("Dapi refused the access code ({said}): link again"),
            ),
            (Some("INVALID_TOKEN"), DapiCall::Delink) => (
                ErrorKind::TokenInvalid,
                format!(
                    "Dapi no longer accepts the access token ({said}): it was delinked \
                     elsewhere or the user changed bank credentials"
                ),
            ),
            _ if self.is_app_secret_problem() => (
                ErrorKind::Config,
                format!("Dapi refused the app secret ({said}): check app_secret"),
            ),
            (Some("INVALID_ARGS"), _) => (
                ErrorKind::Provider,
                format!("Dapi refused the request ({said})"),
            ),
            _ if self.status.as_deref() == Some("user_input_required") => (
                ErrorKind::Provider,
                format!("Dapi needs input from the user ({said}): link again"),
            ),
            _ => (ErrorKind::Provider, format!("Dapi failed ({said})")),
        };
        OpError::new(kind, text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err(v: Value) -> DapiError {
        DapiError::from_object(v.as_object().unwrap())
    }

    #[test]
    fn seed_002_failures_keep_msg() {
        let e = err(json!({"success": false, "status": "failed",
            "msg": "Validation error on field 'connectionID'. Error: value must not be an empty string",
            "type": "INVALID_ARGS"}))
        .to_op_error(DapiCall::Exchange);
        assert_eq!(e.kind, ErrorKind::Provider);
        assert!(e.message.contains("value must not be an empty string"));

        let invalid = err(json!({"msg": "Invalid token", "type": "INVALID_TOKEN",
            "success": false, "status": "failed"}));
        let e = invalid.to_op_error(DapiCall::Exchange);
        assert_eq!(e.kind, ErrorKind::CodeInvalid);
        assert!(e.message.contains("Invalid token") && e.message.ends_with("link again"));
        assert_eq!(
            invalid.to_op_error(DapiCall::Delink).kind,
            ErrorKind::TokenInvalid
        );
    }

    #[test]
    fn app_secret_problems_are_config() {
        let e = err(json!({"success": false, "type": "INVALID_APP_SECRET", "msg": "bad"}));
        assert_eq!(e.to_op_error(DapiCall::Exchange).kind, ErrorKind::Config);
        let e = err(json!({"success": false, "type": "UNAUTHORIZED", "msg": "Invalid app secret"}));
        assert_eq!(e.to_op_error(DapiCall::Delink).kind, ErrorKind::Config);
        let e = err(json!({"success": false}));
        assert_eq!(
            e.to_op_error(DapiCall::Delink).message,
            "Dapi failed (no reason given)"
        );
    }
}
