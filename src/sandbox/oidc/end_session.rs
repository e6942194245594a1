//! RP-initiated logout: `GET …/logout`, the discovery's `end_session_endpoint`.
//!
//! A browser arrives here with `id_token_hint` (which names the session by
//! its `sid`), an optional `post_logout_redirect_uri` (loopback only, like
//! authorization redirects) and `state`. The sandbox has no browser cookies,
//! so without a hint there is no session to end and it only says goodbye.

use axum::extract::{Path, RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use url::Url;

use super::check_realm;
use crate::sandbox::authz::authorize::{error_page, found, is_loopback_http};
use crate::sandbox::authz::http::query_map;
use crate::sandbox::authz::store::FamilyStatus;
use crate::sandbox::jwt;
use crate::sandbox::shared::{AppState, Shared, lock};

pub(super) async fn end_session(
    State(st): State<AppState>,
    Path(realm): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    if let Err(refusal) = check_realm(&st, &realm) {
        return refusal.into_response();
    }
    let query = query_map(query.as_deref());
    let target = match query.get("post_logout_redirect_uri").map(|u| Url::parse(u)) {
        None => None,
        Some(Ok(url)) if is_loopback_http(&url) => Some(url),
        Some(_) => return error_page("Invalid parameter: post_logout_redirect_uri"),
    };
    if let Some(hint) = query.get("id_token_hint") {
        let Some(sid) = session_of(&st, hint) else {
            return error_page("Invalid parameter: id_token_hint");
        };
        let mut store = lock(&st.oidc);
        if let Some(id) = store.families.iter().position(|f| f.sid == sid) {
            store.end_family(id, FamilyStatus::LoggedOut);
        }
    }
    match target {
        Some(mut url) => {
            if let Some(state) = query.get("state") {
                url.query_pairs_mut().append_pair("state", state);
            }
            found(&url)
        }
        None => goodbye(),
    }
}

/// The `sid` of an id token this sandbox signed.
fn session_of(st: &Shared, id_token: &str) -> Option<String> {
    if !st.keys.verify_eddsa(id_token) {
        return None;
    }
    jwt::claims(id_token)?["sid"].as_str().map(str::to_owned)
}

fn goodbye() -> Response {
    let page = "<!DOCTYPE html><html><head><title>Logged out</title></head>\
                <body><h1>You are logged out</h1></body></html>";
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response()
}
