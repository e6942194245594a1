//! The realm's authorization, token, logout and revocation endpoints, and
//! the JWTs it mints.
//!
//! Responses follow Keycloak's shape (`refresh_expires_in`, `session_state`,
//! `not-before-policy`); client-credentials tokens get no refresh token and
//! no session, as Keycloak does by default.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::end_session::end_session;
use super::{Refusal, access_key, check_realm};
use crate::sandbox::authz::authorize::{AuthorizeCtx, authorize};
use crate::sandbox::authz::clients::{ClientConfig, authenticate};
use crate::sandbox::authz::form::Form;
use crate::sandbox::authz::grant::{Issue, logout, revoke, run_grant};
use crate::sandbox::authz::http::{no_store, query_map, secs};
use crate::sandbox::authz::store::{AccessRec, AuthzStore, Family};
use crate::sandbox::faults::{ForceDeny, tagged};
use crate::sandbox::jwt;
use crate::sandbox::shared::{AppState, Shared, lock};

pub(super) fn router(st: &AppState, base: &str) -> Router<AppState> {
    Router::new()
        .route(&format!("{base}/auth"), tagged(st, "oidc.auth", get(auth)))
        .route(
            &format!("{base}/token"),
            tagged(st, "oidc.token", post(token)),
        )
        .route(
            &format!("{base}/logout"),
            tagged(st, "oidc.logout", get(end_session).post(logout_route)),
        )
        .route(
            &format!("{base}/revoke"),
            tagged(st, "oidc.revoke", post(revoke_route)),
        )
}

async fn auth(State(st): State<AppState>, Path(realm): Path<String>, req: Request) -> Response {
    if let Err(refusal) = check_realm(&st, &realm) {
        return refusal.into_response();
    }
    let ctx = AuthorizeCtx {
        now: st.clock.now(),
        code_ttl: secs(st.opts.auth_code_ttl),
        deny: req.extensions().get::<ForceDeny>().is_some(),
    };
    let query = query_map(req.uri().query());
    authorize(&mut lock(&st.oidc), &query, ctx)
}

/// Realm check, form parsing and client authentication, shared by the POST
/// endpoints; the lock is taken by the caller afterwards.
fn prelude(
    st: &Shared,
    realm: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Form, ClientConfig), Refusal> {
    check_realm(st, realm)?;
    let form = Form::parse(headers, body)?;
    let store = lock(&st.oidc);
    let client = authenticate(&store.clients, headers, &form)?.clone();
    Ok((form, client))
}

async fn token(
    State(st): State<AppState>,
    Path(realm): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (form, client) = match prelude(&st, &realm, &headers, &body) {
        Ok(ok) => ok,
        Err(refusal) => return refusal.into_response(),
    };
    let now = st.clock.now();
    let mut store = lock(&st.oidc);
    match run_grant(&mut store, &client, &form, now) {
        Ok(issue) => no_store(mint(&st, &mut store, &issue, now)),
        Err(e) => e.into_response(),
    }
}

async fn logout_route(
    State(st): State<AppState>,
    Path(realm): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (form, client) = match prelude(&st, &realm, &headers, &body) {
        Ok(ok) => ok,
        Err(refusal) => return refusal.into_response(),
    };
    let now = st.clock.now();
    match logout(&mut lock(&st.oidc), &client, &form, now) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.into_response(),
    }
}

async fn revoke_route(
    State(st): State<AppState>,
    Path(realm): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (form, client) = match prelude(&st, &realm, &headers, &body) {
        Ok(ok) => ok,
        Err(refusal) => return refusal.into_response(),
    };
    let result = revoke(&mut lock(&st.oidc), &client, &form, |t| access_key(&st, t));
    match result {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => e.into_response(),
    }
}

/// Mints the access token (and, for a session, refresh and id tokens) and
/// records them; returns the token response body.
pub(crate) fn mint(st: &Shared, store: &mut AuthzStore, issue: &Issue, now: i64) -> Value {
    let expires_in = secs(st.opts.oidc_expires_in);
    let family = issue.family.and_then(|f| store.family(f).cloned());
    let (access, jti) = access_jwt(st, issue, family.as_ref(), now);
    let rec = AccessRec {
        client_id: issue.client_id.clone(),
        user: issue.user.clone(),
        scope: issue.scope.clone(),
        iat: now,
        exp: now + expires_in,
        revoked: false,
    };
    store.access.insert(jti.clone(), rec);
    let mut body = json!({
        "access_token": access, "expires_in": expires_in, "refresh_expires_in": 0,
        "token_type": "Bearer", "not-before-policy": 0, "scope": issue.scope,
    });
    let (Some(family_id), Some(family)) = (issue.family, family) else {
        return body;
    };
    let refresh_in = secs(st.opts.oidc_refresh_expires_in);
    body["refresh_token"] = store
        .new_refresh(family_id, &jti, now, now + refresh_in)
        .into();
    body["refresh_expires_in"] = refresh_in.into();
    body["session_state"] = family.sid.clone().into();
    if issue.scope.split_whitespace().any(|s| s == "openid") {
        body["id_token"] = id_token(st, issue, &family, now).into();
    }
    body
}

fn subject(issue: &Issue) -> String {
    issue
        .user
        .clone()
        .unwrap_or_else(|| format!("service-account-{}", issue.client_id))
}

/// The access token JWT and its `jti` (the key it is recorded under).
fn access_jwt(st: &Shared, issue: &Issue, family: Option<&Family>, now: i64) -> (String, String) {
    let jti = jwt::uuid_v4();
    let sub = subject(issue);
    let claims = json!({
        "exp": now + secs(st.opts.oidc_expires_in), "iat": now, "jti": jti,
        "iss": st.oidc_issuer(), "sub": sub, "typ": "Bearer", "azp": issue.client_id,
        "sid": family.map(|f| f.sid.clone()), "scope": issue.scope, "preferred_username": sub,
    });
    (st.keys.eddsa(&without_nulls(claims)), jti)
}

/// The id token: `aud` is the client, `nonce` echoes the authorization request.
fn id_token(st: &Shared, issue: &Issue, family: &Family, now: i64) -> String {
    let sub = subject(issue);
    let claims = json!({
        "exp": now + secs(st.opts.oidc_expires_in), "iat": now, "auth_time": family.auth_time,
        "jti": jwt::uuid_v4(), "iss": st.oidc_issuer(), "aud": issue.client_id,
        "sub": sub, "typ": "ID", "azp": issue.client_id, "nonce": family.nonce,
        "sid": family.sid, "preferred_username": sub,
        "email": format!("{sub}@sandbox.invalid"), "email_verified": true,
    });
    st.keys.eddsa(&without_nulls(claims))
}

/// Drops absent optional claims instead of publishing them as `null`.
fn without_nulls(mut claims: Value) -> Value {
    if let Some(map) = claims.as_object_mut() {
        map.retain(|_, v| !v.is_null());
    }
    claims
}
