//! The Keycloak-style OpenID Connect realm (seed 004): discovery, `auth`,
//! `token`, `logout`, `revoke`, `userinfo` and `certs` under
//! `/realms/{realm}/…`.
//!
//! Tokens are EdDSA JWTs whose key `certs` publishes. The rules are shared
//! with the OAuth 2.0 server (`authz/`); this module adds what Keycloak adds:
//! id tokens with the `nonce`, sessions (`sid`, `session_state`), logout that
//! kills the refresh token but leaves access tokens valid until `exp`, and
//! `userinfo` that answers 401 once the access token expires by the sandbox
//! clock. An unknown realm answers 404 like Keycloak.

mod end_session;
mod tokens;

pub(crate) use tokens::mint;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::authz::error::OAuthError;
use super::authz::http::bearer;
use super::faults::tagged;
use super::jwt;
use super::shared::{AppState, Shared, lock};

pub(crate) fn router(st: &AppState) -> Router<AppState> {
    let base = "/realms/{realm}/protocol/openid-connect";
    Router::new()
        .route(
            "/realms/{realm}/.well-known/openid-configuration",
            tagged(st, "oidc.discovery", get(discovery)),
        )
        .route(
            &format!("{base}/certs"),
            tagged(st, "oidc.certs", get(certs)),
        )
        .route(
            &format!("{base}/userinfo"),
            tagged(st, "oidc.userinfo", get(userinfo).post(userinfo)),
        )
        .merge(tokens::router(st, base))
}

/// Why a realm request is turned away before its endpoint's own logic.
#[derive(Debug)]
pub(super) enum Refusal {
    /// Keycloak's 404 for a realm it does not have.
    UnknownRealm,
    OAuth(OAuthError),
}

impl From<OAuthError> for Refusal {
    fn from(e: OAuthError) -> Self {
        Self::OAuth(e)
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Self::UnknownRealm => {
                let body = json!({"error": "Realm does not exist"});
                (StatusCode::NOT_FOUND, Json(body)).into_response()
            }
            Self::OAuth(e) => e.into_response(),
        }
    }
}

fn check_realm(st: &Shared, realm: &str) -> Result<(), Refusal> {
    if realm == st.opts.realm {
        Ok(())
    } else {
        Err(Refusal::UnknownRealm)
    }
}

async fn discovery(State(st): State<AppState>, Path(realm): Path<String>) -> Response {
    if let Err(refusal) = check_realm(&st, &realm) {
        return refusal.into_response();
    }
    let iss = st.oidc_issuer();
    let ep = |name: &str| format!("{iss}/protocol/openid-connect/{name}");
    Json(json!({
        "issuer": iss,
        "authorization_endpoint": ep("auth"),
        "token_endpoint": ep("token"),
        "userinfo_endpoint": ep("userinfo"),
        "end_session_endpoint": ep("logout"),
        "revocation_endpoint": ep("revoke"),
        "jwks_uri": ep("certs"),
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["EdDSA"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ["openid", "profile", "email", "offline_access", "accounts", "payments"],
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "sid",
                             "azp", "preferred_username", "email", "email_verified", "name"],
    }))
    .into_response()
}

async fn certs(State(st): State<AppState>, Path(realm): Path<String>) -> Response {
    if let Err(refusal) = check_realm(&st, &realm) {
        return refusal.into_response();
    }
    Json(st.keys.jwks()).into_response()
}

async fn userinfo(
    State(st): State<AppState>,
    Path(realm): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(refusal) = check_realm(&st, &realm) {
        return refusal.into_response();
    }
    match user_of(&st, bearer(&headers)) {
        Ok(info) => Json(info).into_response(),
        Err(e) => e.into_response(),
    }
}

/// The userinfo claims for a live access token of this sandbox.
fn user_of(st: &Shared, token: Option<&str>) -> Result<Value, OAuthError> {
    let invalid = || OAuthError::invalid_token("Token verification failed");
    let token = token.ok_or_else(invalid)?;
    let key = access_key(st, token).ok_or_else(invalid)?;
    let store = lock(&st.oidc);
    let rec = store.access.get(&key).ok_or_else(invalid)?;
    if rec.revoked || st.clock.now() >= rec.exp {
        return Err(invalid());
    }
    let user = rec
        .user
        .clone()
        .unwrap_or_else(|| format!("service-account-{}", rec.client_id));
    Ok(json!({
        "sub": user,
        "preferred_username": user,
        "name": format!("Sandbox {user}"),
        "email": format!("{user}@sandbox.invalid"),
        "email_verified": true,
    }))
}

/// The table key (`jti`) of an access token this sandbox signed.
fn access_key(st: &Shared, token: &str) -> Option<String> {
    if !st.keys.verify_eddsa(token) {
        return None;
    }
    jwt::claims(token)?["jti"].as_str().map(str::to_owned)
}
