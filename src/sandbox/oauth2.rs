//! The bank's OAuth 2.0 authorization server (seed 003): `/oauth2/authorize`,
//! `/oauth2/token`, `/oauth2/revoke`.
//!
//! Tokens are opaque random strings, as a bank's usually are; their lifetime
//! is only known from `expires_in`. The rules are in `authz/`; this file only
//! routes and shapes RFC 6749 §5.1 responses (refresh tokens only for the
//! authorization code grant and its refreshes).

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::authz::authorize::{AuthorizeCtx, authorize};
use super::authz::clients::authenticate;
use super::authz::error::OAuthError;
use super::authz::form::Form;
use super::authz::grant::{Issue, revoke, run_grant};
use super::authz::http::{no_store, query_map, secs};
use super::authz::store::{AccessRec, AuthzStore};
use super::faults::{ForceDeny, tagged};
use super::jwt;
use super::shared::{AppState, Shared, lock};

pub(crate) fn router(st: &AppState) -> Router<AppState> {
    Router::new()
        .route(
            "/oauth2/authorize",
            tagged(st, "oauth2.authorize", get(authorize_route)),
        )
        .route("/oauth2/token", tagged(st, "oauth2.token", post(token)))
        .route(
            "/oauth2/revoke",
            tagged(st, "oauth2.revoke", post(revoke_route)),
        )
}

async fn authorize_route(State(st): State<AppState>, req: Request) -> Response {
    let ctx = AuthorizeCtx {
        now: st.clock.now(),
        code_ttl: secs(st.opts.auth_code_ttl),
        deny: req.extensions().get::<ForceDeny>().is_some(),
    };
    let query = query_map(req.uri().query());
    authorize(&mut lock(&st.oauth2), &query, ctx)
}

async fn token(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthError> {
    let form = Form::parse(&headers, &body)?;
    let now = st.clock.now();
    let mut store = lock(&st.oauth2);
    let client = authenticate(&store.clients, &headers, &form)?.clone();
    let issue = run_grant(&mut store, &client, &form, now)?;
    Ok(no_store(mint(&st, &mut store, &issue, now)))
}

/// Mints and records an opaque access token (and a refresh token for a
/// user grant); returns the RFC 6749 §5.1 response body.
pub(crate) fn mint(st: &Shared, store: &mut AuthzStore, issue: &Issue, now: i64) -> Value {
    let expires_in = secs(st.opts.oauth2_expires_in);
    let access = jwt::random_token("at_");
    let rec = AccessRec {
        client_id: issue.client_id.clone(),
        user: issue.user.clone(),
        scope: issue.scope.clone(),
        iat: now,
        exp: now + expires_in,
        revoked: false,
    };
    store.access.insert(access.clone(), rec);
    let mut body = json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": expires_in,
        "scope": issue.scope,
    });
    if let Some(family) = issue.family {
        let exp = now + secs(st.opts.oauth2_refresh_expires_in);
        body["refresh_token"] = store.new_refresh(family, now, exp).into();
    }
    body
}

async fn revoke_route(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthError> {
    let form = Form::parse(&headers, &body)?;
    let mut store = lock(&st.oauth2);
    let client = authenticate(&store.clients, &headers, &form)?.clone();
    revoke(&mut store, &client, &form, |t| Some(t.to_owned()))?;
    // RFC 7009 §2.2: 200 with no content, also for unknown tokens.
    Ok(StatusCode::OK.into_response())
}
