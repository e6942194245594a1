//! RFC 6749 §5.2 error responses, shared by the OAuth 2.0 server and the realm.
//!
//! One small value type so every endpoint answers the same way: a JSON body
//! with `error` and `error_description`, `Cache-Control: no-store`, and on 401
//! a `WWW-Authenticate` challenge (always present on 401, as HTTP requires;
//! RFC 6749 makes it mandatory when the client tried Basic).

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OAuthError {
    pub code: &'static str,
    pub description: String,
    pub status: StatusCode,
}

impl OAuthError {
    fn new(code: &'static str, description: &str, status: StatusCode) -> Self {
        Self {
            code,
            description: description.to_owned(),
            status,
        }
    }

    pub(crate) fn invalid_request(description: &str) -> Self {
        Self::new("invalid_request", description, StatusCode::BAD_REQUEST)
    }

    /// Always 401; `_via_basic` documents the call sites that tried Basic.
    pub(crate) fn invalid_client(description: &str, _via_basic: bool) -> Self {
        Self::new("invalid_client", description, StatusCode::UNAUTHORIZED)
    }

    pub(crate) fn invalid_grant(description: &str) -> Self {
        Self::new("invalid_grant", description, StatusCode::BAD_REQUEST)
    }

    pub(crate) fn unauthorized_client(description: &str) -> Self {
        Self::new("unauthorized_client", description, StatusCode::BAD_REQUEST)
    }

    pub(crate) fn unsupported_grant_type(description: &str) -> Self {
        Self::new(
            "unsupported_grant_type",
            description,
            StatusCode::BAD_REQUEST,
        )
    }

    pub(crate) fn invalid_scope(description: &str) -> Self {
        Self::new("invalid_scope", description, StatusCode::BAD_REQUEST)
    }

    /// Bearer-token failure at `userinfo` (RFC 6750 §3.1).
    pub(crate) fn invalid_token(description: &str) -> Self {
        Self::new("invalid_token", description, StatusCode::UNAUTHORIZED)
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = json!({"error": self.code, "error_description": self.description});
        let mut resp = (self.status, Json(body)).into_response();
        let headers = resp.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if self.status == StatusCode::UNAUTHORIZED {
            let challenge = if self.code == "invalid_token" {
                format!(
                    r#"Bearer realm="sandbox", error="invalid_token", error_description="{}""#,
                    self.description
                )
            } else {
                r#"Basic realm="sandbox""#.to_owned()
            };
            if let Ok(v) = HeaderValue::from_str(&challenge) {
                headers.insert(header::WWW_AUTHENTICATE, v);
            }
        }
        resp
    }
}
