//! The sandbox's own control surface: state, clock and fault switches.
//!
//! These routes are never counted nor faulted (they are how a test sees and
//! steers the sandbox). `/sandbox/state` shows fingerprints and statuses,
//! never a full code, token or secret.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::faults::parse_fault;
use super::shared::{AppState, lock};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/sandbox/state", get(state))
        .route("/sandbox/clock", post(clock))
        .route(
            "/sandbox/faults",
            get(list_faults).post(add_faults).delete(clear_faults),
        )
}

/// The whole observable state, also used by [`crate::sandbox::Sandbox::state`].
pub(crate) fn snapshot(st: &AppState) -> Value {
    let now = st.clock.now();
    let requests = lock(&st.counters).clone();
    json!({
        "now": now,
        "clock_pinned": st.clock.is_pinned(),
        "requests": requests,
        "dapi": lock(&st.dapi).snapshot(now),
        "oauth2": lock(&st.oauth2).snapshot(now),
        "oidc": lock(&st.oidc).snapshot(now),
        "faults": lock(&st.faults).specs(),
    })
}

async fn state(State(st): State<AppState>) -> Json<Value> {
    Json(snapshot(&st))
}

/// `{"advance_secs": N}`, `{"set": UNIX}` (pins the clock) or `{"release": true}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockMove {
    advance_secs: Option<i64>,
    set: Option<i64>,
    #[serde(default)]
    release: bool,
}

async fn clock(State(st): State<AppState>, body: Bytes) -> Response {
    let mv: ClockMove = match serde_json::from_slice(&body) {
        Ok(mv) => mv,
        Err(e) => return bad_request(&e.to_string()),
    };
    if let Some(unix) = mv.set {
        st.clock.set(unix);
    }
    if let Some(secs) = mv.advance_secs {
        st.clock.advance(secs);
    }
    if mv.release {
        st.clock.release();
    }
    Json(json!({"now": st.clock.now(), "clock_pinned": st.clock.is_pinned()})).into_response()
}

/// `{"faults": ["SPEC", …], "replace": false}`; specs as in `--fault`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultsBody {
    faults: Vec<String>,
    #[serde(default)]
    replace: bool,
}

async fn add_faults(State(st): State<AppState>, body: Bytes) -> Response {
    let req: FaultsBody = match serde_json::from_slice(&body) {
        Ok(req) => req,
        Err(e) => return bad_request(&e.to_string()),
    };
    let rules = match req.faults.iter().map(|s| parse_fault(s)).collect() {
        Ok(rules) => rules,
        Err(e) => return bad_request(&e),
    };
    let mut book = lock(&st.faults);
    if req.replace {
        book.clear();
    }
    book.add(rules);
    Json(json!({"faults": book.specs()})).into_response()
}

async fn list_faults(State(st): State<AppState>) -> Json<Value> {
    Json(json!({"faults": lock(&st.faults).specs()}))
}

async fn clear_faults(State(st): State<AppState>) -> Json<Value> {
    lock(&st.faults).clear();
    Json(json!({"faults": []}))
}

fn bad_request(why: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": why}))).into_response()
}
