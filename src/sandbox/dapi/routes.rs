//! Dapi's HTTP face: field validation and seed 002's response shapes.
//!
//! Validation happens here, in the order the fields are documented
//! (`appSecret`, `accessCode`, `connectionID`), so the first missing field is
//! the one named, as in the seed's "missing mandatory parameters" example.
//! HTTP statuses are the sandbox's choice (the seeds only show bodies):
//! 400 for `INVALID_ARGS`, 401 for token and secret errors, 403 for scope.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

use super::{ConnectPayload, ConnectRequest, DapiError};
use crate::sandbox::faults::tagged;
use crate::sandbox::shared::{AppState, lock};

pub(crate) fn router(st: &AppState) -> Router<AppState> {
    Router::new()
        .route(
            "/v2/auth/ExchangeToken",
            tagged(st, "dapi.exchange", post(exchange)),
        )
        .route(
            "/v2/users/DelinkUser",
            tagged(st, "dapi.delink", post(delink)),
        )
        .route(
            "/v2/data/identity/get",
            tagged(st, "dapi.identity", post(identity)),
        )
        .route(
            "/sandbox/connect",
            tagged(st, "dapi.connect", post(connect)),
        )
}

impl DapiError {
    /// HTTP status, Dapi `type` and `msg`.
    fn parts(&self) -> (StatusCode, &'static str, String) {
        let unauthorized = |kind, msg: &str| (StatusCode::UNAUTHORIZED, kind, msg.to_owned());
        match self {
            Self::InvalidArgs { field, reason } => (
                StatusCode::BAD_REQUEST,
                "INVALID_ARGS",
                format!("Validation error on field '{field}'. Error: {reason}"),
            ),
            Self::InvalidToken => unauthorized("INVALID_TOKEN", "Invalid token"),
            Self::InvalidAppSecret => unauthorized("INVALID_APP_SECRET", "Invalid app secret"),
            Self::InvalidUserSecret => unauthorized("INVALID_USER_SECRET", "Invalid user secret"),
            Self::InsufficientScope(scope) => (
                StatusCode::FORBIDDEN,
                "INSUFFICIENT_SCOPE",
                format!("Token is not authorized for '{scope}'"),
            ),
        }
    }
}

impl std::fmt::Display for DapiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (_, kind, msg) = self.parts();
        write!(f, "{kind}: {msg}")
    }
}

impl IntoResponse for DapiError {
    fn into_response(self) -> Response {
        let (status, kind, msg) = self.parts();
        let body = json!({"success": false, "status": "failed", "type": kind, "msg": msg});
        (status, Json(body)).into_response()
    }
}

/// The JSON object of a request body; an empty body counts as `{}`.
fn object(body: &Bytes) -> Result<Value, DapiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(v) if v.is_object() => Ok(v),
        _ => Err(DapiError::InvalidArgs {
            field: "body".to_owned(),
            reason: "value must be a JSON object".to_owned(),
        }),
    }
}

fn field(body: &Value, name: &str) -> Result<String, DapiError> {
    match &body[name] {
        Value::String(s) if !s.is_empty() => Ok(s.clone()),
        Value::String(_) | Value::Null => Err(DapiError::empty(name)),
        _ => Err(DapiError::InvalidArgs {
            field: name.to_owned(),
            reason: "value must be a string".to_owned(),
        }),
    }
}

fn bearer(headers: &HeaderMap) -> Result<String, DapiError> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .ok_or(DapiError::InvalidToken)
}

async fn exchange(State(st): State<AppState>, body: Bytes) -> Result<Json<Value>, DapiError> {
    let body = object(&body)?;
    let app_secret = field(&body, "appSecret")?;
    let code = field(&body, "accessCode")?;
    let connection_id = field(&body, "connectionID")?;
    let now = st.clock.now();
    let token = lock(&st.dapi).exchange(&app_secret, &code, &connection_id, &st.keys, now)?;
    Ok(Json(
        json!({"success": true, "accessToken": token, "status": "done"}),
    ))
}

async fn delink(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, DapiError> {
    let token = bearer(&headers)?;
    lock(&st.dapi).check_token(&token)?;
    let body = object(&body)?;
    let app_secret = field(&body, "appSecret")?;
    let user_secret = field(&body, "userSecret")?;
    lock(&st.dapi).delink(&token, &app_secret, &user_secret)?;
    Ok(Json(json!({"success": true, "status": "done"})))
}

async fn identity(
    State(st): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, DapiError> {
    let token = bearer(&headers)?;
    let identity = lock(&st.dapi).identity(&token)?;
    Ok(Json(
        json!({"success": true, "status": "done", "identity": identity}),
    ))
}

async fn connect(
    State(st): State<AppState>,
    body: Bytes,
) -> Result<Json<ConnectPayload>, DapiError> {
    let req: ConnectRequest =
        serde_json::from_value(object(&body)?).map_err(|e| DapiError::InvalidArgs {
            field: "body".to_owned(),
            reason: e.to_string(),
        })?;
    mint(&st, req).map(Json)
}

/// The Connect stand-in, shared by the HTTP route and [`crate::sandbox::Sandbox::connect`].
pub(crate) fn mint(st: &AppState, req: ConnectRequest) -> Result<ConnectPayload, DapiError> {
    let ttl = i64::try_from(st.opts.code_ttl.as_secs()).unwrap_or(i64::MAX);
    let now = st.clock.now();
    lock(&st.dapi).connect(req, &st.keys, now, ttl)
}
