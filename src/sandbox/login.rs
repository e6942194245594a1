//! In-process logins: the authorization code grant (with PKCE) run without a
//! browser, through the same checks and minting as the HTTP endpoints.
//!
//! The demo uses this to seed connections in every state (logged out,
//! expiring, refresh reused…) without writing an OAuth client; tests of the
//! product can use it to get a real session quickly. The result is exactly
//! the token endpoint's JSON body.

use std::collections::HashMap;

use axum::http::header;
use axum::response::Response;
use serde_json::Value;
use url::Url;

use super::authz::authorize::{AuthorizeCtx, authorize};
use super::authz::clients::DEMO_CLIENT_ID;
use super::authz::form::Form;
use super::authz::grant::run_grant;
use super::authz::http::secs;
use super::jwt;
use super::shared::{AppState, lock};
use super::{oauth2, oidc};

/// Which authorization server a login happens at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthServer {
    /// The bank's OAuth 2.0 server (`/oauth2/…`).
    OAuth2,
    /// The OIDC realm (`/realms/{realm}/…`).
    Oidc,
}

/// Never dereferenced: the code goes straight back into the grant.
const LOGIN_REDIRECT: &str = "http://127.0.0.1/sandbox-login";

pub(crate) fn login(
    st: &AppState,
    server: AuthServer,
    user: &str,
    scope: Option<&str>,
) -> Result<Value, String> {
    let verifier = jwt::random_token("");
    let query = login_query(user, scope, &jwt::s256(&verifier));
    let table = match server {
        AuthServer::OAuth2 => &st.oauth2,
        AuthServer::Oidc => &st.oidc,
    };
    let mut store = lock(table);
    let now = st.clock.now();
    let ctx = AuthorizeCtx {
        now,
        code_ttl: secs(st.opts.auth_code_ttl),
        deny: false,
    };
    let code = code_of(&authorize(&mut store, &query, ctx))?;
    let form = Form::from_pairs(&[
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", LOGIN_REDIRECT),
        ("code_verifier", &verifier),
    ]);
    let client = store
        .client(DEMO_CLIENT_ID)
        .cloned()
        .ok_or("no demo client configured")?;
    let issue = run_grant(&mut store, &client, &form, now).map_err(|e| e.description)?;
    Ok(match server {
        AuthServer::OAuth2 => oauth2::mint(st, &mut store, &issue, now),
        AuthServer::Oidc => oidc::mint(st, &mut store, &issue, now),
    })
}

/// The authorization request a browser would send for `user`.
fn login_query(user: &str, scope: Option<&str>, challenge: &str) -> HashMap<String, String> {
    let mut query: HashMap<String, String> = [
        ("response_type", "code"),
        ("client_id", DEMO_CLIENT_ID),
        ("redirect_uri", LOGIN_REDIRECT),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
        ("login_hint", user),
        ("nonce", "sandbox-login"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    if let Some(scope) = scope {
        query.insert("scope".to_owned(), scope.to_owned());
    }
    query
}

/// The code on an authorization redirect, or the error it carries instead.
fn code_of(resp: &Response) -> Result<String, String> {
    let location = resp
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| Url::parse(v).ok())
        .ok_or("authorization was refused")?;
    let param = |key: &str| {
        location
            .query_pairs()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    };
    match param("code") {
        Some(code) => Ok(code),
        None => {
            Err(param("error_description").unwrap_or_else(|| "authorization failed".to_owned()))
        }
    }
}
