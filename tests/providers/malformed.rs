//! Token endpoints that answer badly, served for real: each malformed answer
//! from the brief and each RFC 6749 §5.2 error code, with the kind and the
//! sentence the operator gets.

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bankdeck::domain::{ErrorKind, Secret};
use bankdeck::providers::{GrantExpiry, build};

use super::support::{canned_oauth2, serve};

/// A token endpoint that always gives the same answer.
async fn canned(status: u16, content_type: &'static str, body: &'static str) -> String {
    let app = Router::new().route(
        "/token",
        post(move || async move {
            let mut r: Response = (StatusCode::from_u16(status).unwrap(), body).into_response();
            r.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            r
        }),
    );
    format!("{}/token", serve(app).await)
}

const JSON: &str = "application/json";

#[tokio::test]
async fn malformed_token_answers_are_protocol_errors() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "text/html",
            "<html><form>Sign in</form></html>",
            "HTML page",
        ),
        (
            JSON,
            r#"{"token_type":"Bearer","expires_in":60}"#,
            "no access_token",
        ),
        (
            JSON,
            r#"{"access_token":"a","expires_in":60}"#,
            "no token_type",
        ),
        (
            JSON,
            r#"{"access_token":"a","token_type":"Bearer","expires_in":0}"#,
            "is 0",
        ),
        (
            JSON,
            r#"{"access_token":"a","token_type":"Bearer","expires_in":-30}"#,
            "is -30",
        ),
        (
            JSON,
            r#"{"access_token":"a","token_type":"Bearer","expires_in":"later"}"#,
            "\"later\"",
        ),
        (JSON, "not json at all", "not JSON"),
    ];
    for (ct, body, expected) in cases {
        let p = build(&canned_oauth2(&canned(200, ct, body).await)).unwrap();
        let e = p.client_credentials().await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Protocol, "{body}: {}", e.message);
        assert!(e.message.contains(expected), "{body}: {}", e.message);
    }
}

#[tokio::test]
async fn odd_but_usable_answers_are_accepted() {
    let cases: &[(&str, GrantExpiry)] = &[
        (
            r#"{"access_token":"a","token_type":"bearer","expires_in":"3600"}"#,
            GrantExpiry::InSecs(3600),
        ),
        (
            r#"{"access_token":"a","token_type":"BEARER","expires_in":4000000000000}"#,
            GrantExpiry::InSecs(365 * 24 * 3600),
        ),
        (
            r#"{"access_token":"a","token_type":"Bearer","refresh_token":""}"#,
            GrantExpiry::InSecs(300),
        ),
        (
            r#"{"access_token":"ünï—código🔑","token_type":"Bearer","expires_in":60,"extra":{"x":[1]}}"#,
            GrantExpiry::InSecs(60),
        ),
    ];
    for (body, expiry) in cases {
        let p = build(&canned_oauth2(&canned(200, JSON, body).await)).unwrap();
        let g = p.client_credentials().await.unwrap();
        assert_eq!(g.expiry, *expiry, "{body}");
        assert!(g.refresh_token.is_none(), "{body}");
    }
}

#[tokio::test]
async fn rfc6749_errors_map_to_kinds_with_the_description() {
    let cases: &[(u16, &str, ErrorKind)] = &[
        (
            400,
            r#"{"error":"invalid_grant","error_description":"Token is not active"}"#,
            ErrorKind::ReauthRequired,
        ),
        (
            401,
            r#"{"error":"invalid_client","error_description":"Bad secret"}"#,
            ErrorKind::Config,
        ),
        (
            400,
            r#"{"error":"invalid_scope","error_description":"No such scope"}"#,
            ErrorKind::Config,
        ),
        (
            400,
            r#"{"error":"unauthorized_client","error_description":"Not for you"}"#,
            ErrorKind::Config,
        ),
        (
            400,
            r#"{"error":"unsupported_grant_type","error_description":"Nope"}"#,
            ErrorKind::Config,
        ),
        (
            400,
            r#"{"error":"access_denied","error_description":"User said no"}"#,
            ErrorKind::Denied,
        ),
        (
            400,
            r#"{"error":"invalid_request","error_description":"Odd request"}"#,
            ErrorKind::Provider,
        ),
    ];
    for (status, body, kind) in cases {
        let p = build(&canned_oauth2(&canned(*status, JSON, body).await)).unwrap();
        let e = p
            .refresh(&Secret::new("rt-secret-value"))
            .await
            .unwrap_err();
        assert_eq!(e.kind, *kind, "{body}: {}", e.message);
        let desc: serde_json::Value = serde_json::from_str(body).unwrap();
        let desc = desc["error_description"].as_str().unwrap();
        assert!(e.message.contains(desc), "{}", e.message);
        assert!(!e.message.contains("rt-secret-value"));
    }
}

#[tokio::test]
async fn bare_401_and_5xx_pages() {
    let p = build(&canned_oauth2(
        &canned(401, "text/plain", "Unauthorized").await,
    ))
    .unwrap();
    assert_eq!(
        p.client_credentials().await.unwrap_err().kind,
        ErrorKind::Config
    );
    let p = build(&canned_oauth2(
        &canned(502, "text/html", "<h1>Bad gateway</h1>").await,
    ))
    .unwrap();
    assert_eq!(
        p.client_credentials().await.unwrap_err().kind,
        ErrorKind::Server
    );
}
