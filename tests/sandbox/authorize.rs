//! The authorization endpoint's errors: which go back on the redirect
//! (with `state`) and which are shown as a page (bad client or redirect URI).

use bankdeck::sandbox::{DEMO_CLIENT_ID, Sandbox};
use reqwest::header::LOCATION;
use serde_json::{Value, json};

use crate::common::{client, pkce, start, with_query};
use crate::oauth2::{REDIRECT, authorize, query};

async fn authorize_error(sb: &Sandbox, extra: &[(&str, &str)]) -> Value {
    let (_, challenge) = pkce("err");
    let mut params = vec![
        ("response_type", "code"),
        ("client_id", DEMO_CLIENT_ID),
        ("redirect_uri", REDIRECT),
        ("state", "s"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    for (k, v) in extra {
        params.retain(|(key, _)| key != k);
        params.push((k, v));
    }
    query(&authorize(sb, &params).await)
}

fn redirected(error: &str, description: &str) -> Value {
    json!({"error": error, "error_description": description, "state": "s"})
}

#[tokio::test]
async fn authorize_errors_go_back_on_the_redirect() {
    let sb = start().await;
    let cases = [
        (
            ("code_challenge_method", "plain"),
            redirected(
                "invalid_request",
                "Invalid parameter: code_challenge_method (S256 required)",
            ),
        ),
        (
            ("code_challenge", ""),
            redirected("invalid_request", "Missing parameter: code_challenge"),
        ),
        (
            ("response_type", "token"),
            redirected(
                "unsupported_response_type",
                "Only response_type=code is supported",
            ),
        ),
        (
            ("scope", "accounts admin"),
            redirected("invalid_scope", "Invalid scopes: admin"),
        ),
        (
            ("login_hint", "deny"),
            redirected("access_denied", "User denied consent"),
        ),
    ];
    for ((key, value), expected) in cases {
        assert_eq!(
            authorize_error(&sb, &[(key, value)]).await,
            expected,
            "{key}={value}"
        );
    }
}

#[tokio::test]
async fn bad_client_or_redirect_is_never_redirected() {
    let sb = start().await;
    for (key, value) in [
        ("client_id", "nobody"),
        ("redirect_uri", "https://evil.example/cb"),
    ] {
        let (_, challenge) = pkce("x");
        let mut params = vec![
            ("response_type", "code"),
            ("client_id", DEMO_CLIENT_ID),
            ("redirect_uri", REDIRECT),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ];
        params.retain(|(k, _)| *k != key);
        params.push((key, value));
        let resp = client()
            .get(with_query(&sb.oauth2_authorize_url(), &params))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 400);
        assert!(resp.headers().get(LOCATION).is_none());
    }
}
