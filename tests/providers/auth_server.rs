//! A small Keycloak-like authorization server for the tests: discovery,
//! authorize (redirecting to the loopback callback), token (client
//! credentials, authorization code with PKCE S256 checked, refresh with
//! rotation), RFC 7009 revocation and Keycloak logout. Client authentication
//! is checked on every POST, the way a real server would.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::support::{CLIENT_ID, CLIENT_SECRET, Counter};

/// What the authorize endpoint does with the next browser.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Consent {
    Approve,
    Deny,
    /// Redirects back with a state that is not the one it got.
    ForgeState,
    /// Approves, but the id token carries another nonce.
    WrongNonce,
}

struct Pending {
    challenge: String,
    redirect_uri: String,
    nonce: Option<String>,
}

pub struct AuthServer {
    pub base: String,
    pub issuer: String,
    pub consent: Mutex<Consent>,
    codes: Mutex<HashMap<String, Pending>>,
    refresh_tokens: Mutex<HashSet<String>>,
    pub token_calls: Counter,
    pub discovery_calls: Counter,
    pub ended: Mutex<Vec<String>>,
    /// The `scope` of the last token request.
    pub last_scope: Mutex<Option<String>>,
    /// Claims laid over every id token's own (`null` removes one).
    pub id_claims: Mutex<Value>,
    next: Counter,
}

pub type Shared = Arc<AuthServer>;

const PREFIX: &str = "/realms/test/protocol/openid-connect";

pub async fn start() -> Shared {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = Arc::new(AuthServer {
        issuer: format!("{base}/realms/test"),
        base,
        consent: Mutex::new(Consent::Approve),
        codes: Mutex::default(),
        refresh_tokens: Mutex::default(),
        token_calls: Counter::default(),
        discovery_calls: Counter::default(),
        ended: Mutex::default(),
        last_scope: Mutex::default(),
        id_claims: Mutex::new(json!({})),
        next: Counter::default(),
    });
    let app = Router::new()
        .route(
            "/realms/test/.well-known/openid-configuration",
            get(discovery),
        )
        .route(&format!("{PREFIX}/auth"), get(authorize))
        .route(&format!("{PREFIX}/token"), post(token))
        .route(&format!("{PREFIX}/revoke"), post(revoke))
        .route(&format!("{PREFIX}/logout"), post(logout))
        .with_state(server.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    server
}

async fn discovery(State(s): State<Shared>) -> Json<Value> {
    s.discovery_calls.bump();
    let ep = |p: &str| format!("{}{PREFIX}/{p}", s.base);
    Json(json!({
        "issuer": s.issuer,
        "authorization_endpoint": ep("auth"),
        "token_endpoint": ep("token"),
        "end_session_endpoint": ep("logout"),
        "revocation_endpoint": ep("revoke"),
        "authorization_response_iss_parameter_supported": true,
        "code_challenge_methods_supported": ["S256"],
    }))
}

async fn authorize(State(s): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
    let consent = *s.consent.lock().unwrap();
    assert_eq!(q.get("response_type").map(String::as_str), Some("code"));
    assert_eq!(
        q.get("code_challenge_method").map(String::as_str),
        Some("S256")
    );
    assert_eq!(q.get("client_id").map(String::as_str), Some(CLIENT_ID));
    let redirect = q["redirect_uri"].clone();
    let state = q["state"].clone();
    let iss = urlencode(&s.issuer);
    let target = match consent {
        Consent::Deny => format!(
            "{redirect}?error=access_denied&error_description=User%20denied&state={}&iss={iss}",
            urlencode(&state)
        ),
        Consent::ForgeState => format!("{redirect}?code=forged&state=not-yours&iss={iss}"),
        Consent::Approve | Consent::WrongNonce => {
            let code = format!("code-{}", s.next.bump());
            let nonce = match consent {
                Consent::WrongNonce => Some("another-nonce".to_owned()),
                _ => q.get("nonce").cloned(),
            };
            s.codes.lock().unwrap().insert(
                code.clone(),
                Pending {
                    challenge: q["code_challenge"].clone(),
                    redirect_uri: redirect.clone(),
                    nonce,
                },
            );
            format!(
                "{redirect}?code={code}&state={}&iss={iss}",
                urlencode(&state)
            )
        }
    };
    Redirect::to(&target).into_response()
}

async fn token(
    State(s): State<Shared>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    s.token_calls.bump();
    *s.last_scope.lock().unwrap() = f.get("scope").cloned();
    if !client_ok(&headers, &f) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Invalid client credentials",
        );
    }
    match f.get("grant_type").map(String::as_str) {
        Some("client_credentials") => Json(tokens(&s, false, None)).into_response(),
        Some("authorization_code") => redeem(&s, &f),
        Some("refresh_token") => {
            let rt = f.get("refresh_token").cloned().unwrap_or_default();
            if s.refresh_tokens.lock().unwrap().remove(&rt) {
                // As Keycloak does, with a new id token and no nonce.
                Json(tokens(&s, true, Some(None))).into_response()
            } else {
                oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Token is not active",
                )
            }
        }
        _ => oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", "no"),
    }
}

fn redeem(s: &AuthServer, f: &HashMap<String, String>) -> Response {
    let pending = s
        .codes
        .lock()
        .unwrap()
        .remove(f.get("code").map_or("", String::as_str));
    let Some(p) = pending else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "Code not valid");
    };
    let verifier = f.get("code_verifier").cloned().unwrap_or_default();
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    if challenge != p.challenge || f.get("redirect_uri") != Some(&p.redirect_uri) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "PKCE verification failed",
        );
    }
    Json(tokens(s, true, Some(p.nonce))).into_response()
}

fn tokens(s: &AuthServer, refresh: bool, id_nonce: Option<Option<String>>) -> Value {
    let n = s.next.bump();
    let mut body = json!({
        "access_token": format!("at-{n}"),
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": "openid accounts",
        "session_state": "sess-1",
    });
    if refresh {
        let rt = format!("rt-{n}");
        s.refresh_tokens.lock().unwrap().insert(rt.clone());
        body["refresh_token"] = json!(rt);
        body["refresh_expires_in"] = json!(1800);
    }
    if let Some(nonce) = id_nonce {
        let now = bankdeck::domain::UnixTime::now().0;
        let mut claims = json!({
            "iss": s.issuer, "sub": "user-42", "aud": CLIENT_ID, "nonce": nonce,
            "iat": now, "exp": now + 300,
        });
        let claims_map = claims.as_object_mut().unwrap();
        claims_map.retain(|_, v| !v.is_null());
        for (k, v) in s.id_claims.lock().unwrap().as_object().unwrap() {
            match v {
                Value::Null => claims_map.remove(k),
                v => claims_map.insert(k.clone(), v.clone()),
            };
        }
        body["id_token"] = json!(unsigned_jwt(&claims));
    }
    body
}

/// Takes a refresh token into the server's set, as if it had issued it.
pub fn issue_refresh_token(s: &AuthServer, rt: &str) {
    s.refresh_tokens.lock().unwrap().insert(rt.to_owned());
}

pub fn refresh_token_alive(s: &AuthServer, rt: &str) -> bool {
    s.refresh_tokens.lock().unwrap().contains(rt)
}

async fn revoke(
    State(s): State<Shared>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if !client_ok(&headers, &f) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "bad client");
    }
    let token = f.get("token").cloned().unwrap_or_default();
    s.refresh_tokens.lock().unwrap().remove(&token);
    s.ended.lock().unwrap().push(format!("revoke:{token}"));
    StatusCode::OK.into_response()
}

async fn logout(
    State(s): State<Shared>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if !client_ok(&headers, &f) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "bad client");
    }
    let rt = f.get("refresh_token").cloned().unwrap_or_default();
    if !s.refresh_tokens.lock().unwrap().remove(&rt) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Invalid refresh token",
        );
    }
    s.ended.lock().unwrap().push(format!("logout:{rt}"));
    StatusCode::NO_CONTENT.into_response()
}

/// Basic (RFC 6749 §2.3.1, form-encoded then base64) or the form pair.
fn client_ok(headers: &HeaderMap, f: &HashMap<String, String>) -> bool {
    let basic = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok());
    match basic {
        Some(pair) => pair == format!("{CLIENT_ID}:{}", urlencode(CLIENT_SECRET)),
        None => {
            f.get("client_id").map(String::as_str) == Some(CLIENT_ID)
                && f.get("client_secret").map(String::as_str) == Some(CLIENT_SECRET)
        }
    }
}

pub fn oauth_error(status: StatusCode, code: &str, desc: &str) -> Response {
    (
        status,
        Json(json!({"error": code, "error_description": desc})),
    )
        .into_response()
}

pub fn unsigned_jwt(claims: &Value) -> String {
    let part = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    format!("{}.{}.sig", part(&json!({"alg": "none"})), part(claims))
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
