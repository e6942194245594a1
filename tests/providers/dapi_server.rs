//! A Dapi stand-in answering seed 002's request/response pairs word for word,
//! plus DelinkUser as Dapi's SDK calls it. It records the last request body
//! so the tests can check exactly what the client sent.

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};

pub const APP_SECRET: &str = "00bae841ad979345fca2e2585c000da7eac420504d189cf63315e7a6234d45c68dbd6fff749167292cd1475622805dce7a2b979db3c16e25a2897158ee63845b1043930ff603e19deb1d2d54ad9afc3d52df241d3c4e7286244a2f98a10212e38b2e9f8b0e3a7592702fa4358fb9103b93a26dd6bb92c2be0327ac054f14becc";
pub const ACCESS_CODE: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzYWx0IjoiRmlHUUhDM2NwZ01NZmhaejNHMk8zNitHakdBUEs0ZFptSEgwRy9jN1cxWT0iLCJhcHBLZXkiOiI0OTc3OTFjZmQ1MTBmMjI1MDc1Yzk3YWNkYzFkYmY0YTI1ZDczNTgxNGZlMmE3OGQxZjRiMGI4OTcxOGU3ZWQ2IiwidG9rZW5JRCI6IjYxMWM3YWE4LTcwYWYtNGQ3Zi1hODk1LTI4OWU4OTIzOTMxMyIsImlhdCI6MTYxNjQyOTI0MCwiZXhwIjoxNjE2NDI5NTQwfQ.FVo8b-krSDNHjIormm_BZAUxUfr_4ZEAzp_xh9WuR0M";
pub const CONNECTION_ID: &str = "2c72a336a7c09fd905f9adf3dc5ff976d58eeb20";
pub const ACCESS_TOKEN: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzYWx0IjoiRmlHUUhDM2NwZ01NZmhaejNHMk8zNitHakdBUEs0ZFptSEgwRy9jN1cxWT0iLCJhcHBLZXkiOiI0OTc3OTFjZmQ1MTBmMjI1MDc1Yzk3YWNkYzFkYmY0YTI1ZDczNTgxNGZlMmE3OGQxZjRiMGI4OTcxOGU3ZWQ2IiwidG9rZW5JRCI6IjYxMWM3YWE4LTcwYWYtNGQ3Zi1hODk1LTI4OWU4OTIzOTMxMyIsImF1dGhvcml6YXRpb25zIjp7ImF1dGhlbnRpY2F0aW9uIjp7ImNyZWF0ZSI6dHJ1ZX0sImlkZW50aXR5Ijp7ImdldCI6ZmFsc2V9LCJhY2NvdW50cyI6eyJnZXQiOmZhbHNlfSwiYmFsYW5jZSI6eyJnZXQiOmZhbHNlfSwidHJhbnNhY3Rpb25zIjp7ImdldCI6ZmFsc2V9LCJiZW5lZmljaWFyaWVzIjp7ImdldCI6ZmFsc2UsImNyZWF0ZSI6ZmFsc2V9LCJ0cmFuc2ZlciI6eyJjcmVhdGUiOmZhbHNlfSwiY2FyZHMiOnsiZ2V0IjpmYWxzZX0sInN0YXRlbWVudHMiOnsiZ2V0IjpmYWxzZX0sInByb2R1Y3RzIjpbImRhdGEiLCJwYXltZW50Il19LCJpYXQiOjE2MTY0MjkzMTZ9.MIicjZXD8ojOqInzKqeyzmfCkQaxl7K6NU7Q5UPt47Y";
pub const USER_SECRET: &str = "user_secret_value";

#[derive(Default)]
pub struct DapiServer {
    pub base: String,
    pub last_body: Mutex<Option<Value>>,
    pub last_auth: Mutex<Option<String>>,
    pub delinked: Mutex<bool>,
}

pub async fn start() -> Arc<DapiServer> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = Arc::new(DapiServer {
        base: format!("http://{}", listener.local_addr().unwrap()),
        ..DapiServer::default()
    });
    let app = Router::new()
        .route("/v2/auth/ExchangeToken", post(exchange))
        .route("/v2/users/DelinkUser", post(delink))
        .with_state(server.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    server
}

fn failed(status: StatusCode, kind: &str, msg: &str) -> Response {
    (
        status,
        Json(json!({"msg": msg, "type": kind, "success": false, "status": "failed"})),
    )
        .into_response()
}

async fn exchange(State(s): State<Arc<DapiServer>>, Json(body): Json<Value>) -> Response {
    *s.last_body.lock().unwrap() = Some(body.clone());
    if body["appSecret"] != APP_SECRET {
        return failed(
            StatusCode::UNAUTHORIZED,
            "INVALID_APP_SECRET",
            "Invalid app secret",
        );
    }
    if body["connectionID"].as_str().is_none_or(str::is_empty) {
        return failed(
            StatusCode::BAD_REQUEST,
            "INVALID_ARGS",
            "Validation error on field 'connectionID'. Error: value must not be an empty string",
        );
    }
    if body["accessCode"] != ACCESS_CODE {
        // Seed 002 shows this one with no HTTP status: Dapi answers it in the body.
        return failed(StatusCode::OK, "INVALID_TOKEN", "Invalid token");
    }
    Json(json!({"success": true, "accessToken": ACCESS_TOKEN, "status": "done"})).into_response()
}

async fn delink(
    State(s): State<Arc<DapiServer>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    *s.last_body.lock().unwrap() = Some(body.clone());
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    *s.last_auth.lock().unwrap() = auth.clone();
    let mut delinked = s.delinked.lock().unwrap();
    if auth.as_deref() != Some(&format!("Bearer {ACCESS_TOKEN}")) || *delinked {
        return failed(StatusCode::UNAUTHORIZED, "INVALID_TOKEN", "Invalid token");
    }
    if body["appSecret"] != APP_SECRET || body["userSecret"] != USER_SECRET {
        return failed(
            StatusCode::BAD_REQUEST,
            "INVALID_ARGS",
            "Invalid userSecret",
        );
    }
    *delinked = true;
    Json(json!({"success": true, "status": "done"})).into_response()
}
