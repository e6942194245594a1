//! The authorization endpoint (RFC 6749 §4.1.1), shared by the bank and the
//! realm: no login page, the sandbox user consents at once.
//!
//! Errors about the client or the redirect URI are shown as a 400 page and
//! never redirected (§4.1.2.1: redirecting to an unchecked URI is an open
//! redirector); every other error goes back to the client as `error=…` on the
//! redirect, with `state`. PKCE with S256 is mandatory; `plain` is refused.

use std::collections::HashMap;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use url::{Host, Url};

use super::clients::{ClientConfig, DEMO_USER};
use super::grant::resolve_scope;
use super::store::{AuthzStore, CodeRec};
use crate::sandbox::jwt;

/// What the endpoint needs besides the query.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AuthorizeCtx {
    pub now: i64,
    pub code_ttl: i64,
    /// A `deny` fault is active: act as if the user refused.
    pub deny: bool,
}

/// The query of an authorization request; empty values count as absent.
struct Params<'a>(&'a HashMap<String, String>);

impl Params<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

/// What the user consented to, once the request checks out.
struct Consent {
    challenge: String,
    scope: String,
    user: String,
    nonce: Option<String>,
}

/// An error to send back on the redirect: `error` and `error_description`.
type Refusal = (&'static str, String);

pub(crate) fn authorize(
    store: &mut AuthzStore,
    query: &HashMap<String, String>,
    ctx: AuthorizeCtx,
) -> Response {
    let params = Params(query);
    let Some(client) = params
        .get("client_id")
        .and_then(|id| store.client(id))
        .cloned()
    else {
        return error_page("Unknown or missing client_id");
    };
    let Some(redirect) = redirect_uri(&client, params.get("redirect_uri")) else {
        return error_page("Invalid parameter: redirect_uri");
    };
    let state = params.get("state");
    let consent = match check_request(&client, &params, ctx.deny) {
        Ok(consent) => consent,
        Err((error, description)) => return redirect_to(&redirect, error, &description, state),
    };
    let code = jwt::random_token("ac_");
    let rec = CodeRec {
        client_id: client.client_id.clone(),
        redirect_uri: redirect.to_string(),
        challenge: consent.challenge,
        scope: consent.scope,
        user: consent.user,
        nonce: consent.nonce,
        iat: ctx.now,
        exp: ctx.now + ctx.code_ttl,
        used: false,
        family: None,
    };
    store.codes.insert(code.clone(), rec);
    let mut target = redirect;
    target.query_pairs_mut().append_pair("code", &code);
    if let Some(state) = state {
        target.query_pairs_mut().append_pair("state", state);
    }
    found(&target)
}

/// Everything RFC 6749 §4.1.2.1 reports on the redirect, in that order.
fn check_request(
    client: &ClientConfig,
    params: &Params<'_>,
    deny: bool,
) -> Result<Consent, Refusal> {
    let refuse = |error: &'static str, description: &str| Err((error, description.to_owned()));
    match params.get("response_type") {
        None => return refuse("invalid_request", "Missing parameter: response_type"),
        Some("code") => {}
        Some(_) => {
            return refuse(
                "unsupported_response_type",
                "Only response_type=code is supported",
            );
        }
    }
    if !client.allows_grant("authorization_code") {
        return refuse(
            "unauthorized_client",
            "Client may not use the authorization code grant",
        );
    }
    let challenge = check_challenge(params)?;
    let scope = resolve_scope(client, params.get("scope")).map_err(|e| (e.code, e.description))?;
    let user = params.get("login_hint").unwrap_or(DEMO_USER);
    if deny || user == "deny" {
        return refuse("access_denied", "User denied consent");
    }
    Ok(Consent {
        challenge,
        scope,
        user: user.to_owned(),
        nonce: params.get("nonce").map(str::to_owned),
    })
}

/// PKCE is mandatory and only S256 is accepted (`plain` is refused).
fn check_challenge(params: &Params<'_>) -> Result<String, Refusal> {
    let Some(challenge) = params.get("code_challenge") else {
        return Err((
            "invalid_request",
            "Missing parameter: code_challenge".to_owned(),
        ));
    };
    if params.get("code_challenge_method") != Some("S256") {
        let why = "Invalid parameter: code_challenge_method (S256 required)";
        return Err(("invalid_request", why.to_owned()));
    }
    // An S256 challenge is always 43 base64url characters.
    let well_formed = challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !well_formed {
        return Err((
            "invalid_request",
            "Invalid parameter: code_challenge".to_owned(),
        ));
    }
    Ok(challenge.to_owned())
}

/// The redirect URI to use: the given one if loopback or registered, else
/// the client's only registered one when none is given.
fn redirect_uri(client: &ClientConfig, given: Option<&str>) -> Option<Url> {
    let Some(given) = given else {
        return match client.redirect_uris.as_slice() {
            [only] => Url::parse(only).ok(),
            _ => None,
        };
    };
    let url = Url::parse(given).ok()?;
    let registered = client.redirect_uris.iter().any(|r| r == given);
    (url.fragment().is_none() && (registered || is_loopback_http(&url))).then_some(url)
}

pub(crate) fn is_loopback_http(url: &Url) -> bool {
    url.scheme() == "http"
        && match url.host() {
            Some(Host::Ipv4(ip)) => ip.is_loopback(),
            Some(Host::Ipv6(ip)) => ip.is_loopback(),
            Some(Host::Domain(d)) => d == "localhost",
            None => false,
        }
}

fn redirect_to(base: &Url, error: &str, description: &str, state: Option<&str>) -> Response {
    let mut target = base.clone();
    target
        .query_pairs_mut()
        .append_pair("error", error)
        .append_pair("error_description", description);
    if let Some(state) = state {
        target.query_pairs_mut().append_pair("state", state);
    }
    found(&target)
}

pub(crate) fn found(target: &Url) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, target.as_str())]).into_response()
}

pub(crate) fn error_page(message: &str) -> Response {
    let page = format!(
        "<!DOCTYPE html><html><head><title>Sandbox authorization error</title></head>\
         <body><h1>Authorization error</h1><p>{message}</p></body></html>"
    );
    let headers = [(header::CONTENT_TYPE, "text/html; charset=utf-8")];
    (StatusCode::BAD_REQUEST, headers, page).into_response()
}
