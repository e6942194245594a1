//! Token endpoints that answer badly, served for real: each malformed answer
//! from the brief and each RFC 6749 §5.2 error code, with the kind and the
//! sentence the operator gets.

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bankdeck::domain::{ErrorKind, Secret};
use bankdeck::providers::{GrantExpiry, build};

use bankdeck::config::ClientAuth;

use super::support::{CLIENT_SECRET, canned_oauth2, oauth2_config, serve};

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
            GrantExpiry::Assumed(300),
        ),
        (
            r#"{"access_token":"a!#$%&'()*+,-./:;<=>?@[]^_`{|}~z","token_type":"Bearer","expires_in":60,"extra":{"x":[1]}}"#,
            GrantExpiry::InSecs(60),
        ),
        // RFC 8259 §8.1: a byte order mark may be ignored.
        (
            "\u{feff}{\"access_token\":\"a\",\"token_type\":\"Bearer\",\"expires_in\":70}",
            GrantExpiry::InSecs(70),
        ),
    ];
    for (body, expiry) in cases {
        let p = build(&canned_oauth2(&canned(200, JSON, body).await)).unwrap();
        let g = p.client_credentials().await.unwrap();
        assert_eq!(g.expiry, *expiry, "{body}");
        assert!(g.refresh_token.is_none(), "{body}");
    }
}

/// The body tells what an answer is, not its label: JSON that a server
/// labels `text/html` (a framework's default) holds the token all the same,
/// and the one-time code or refresh token sent is spent by then.
#[tokio::test]
async fn json_labelled_as_a_page_is_read_as_json() {
    let body = r#"{"access_token":"a","token_type":"Bearer","expires_in":60}"#;
    for ct in ["text/html", "text/html; charset=utf-8", "text/plain"] {
        let p = build(&canned_oauth2(&canned(200, ct, body).await)).unwrap();
        let g = p.client_credentials().await.unwrap();
        assert_eq!(g.expiry, GrantExpiry::InSecs(60), "{ct}");
        assert_eq!(g.access_token.expose(), "a", "{ct}");
    }
}

/// RFC 7009 §2.2: a revocation answered 200 is done, whatever its body's
/// label; only a body that is a page is a browser's logout, which ends
/// nothing.
#[tokio::test]
async fn a_revocation_answered_200_is_done_whatever_its_label() {
    let page = "<!doctype html><title>Signed out</title>";
    for (ct, body, done) in [
        ("text/html", "", true),
        ("text/html; charset=utf-8", "", true),
        ("application/json", "{}", true),
        ("text/html", page, false),
    ] {
        let path = "/realms/test/protocol/openid-connect/revoke";
        let app = Router::new().route(
            path,
            post(move || async move {
                let mut r: Response = (StatusCode::OK, body).into_response();
                r.headers_mut()
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
                r
            }),
        );
        let p = build(&oauth2_config(&serve(app).await, ClientAuth::Basic, true)).unwrap();
        let said = p.logout(&Secret::new("rt")).await;
        assert_eq!(said.is_ok(), done, "{ct} {body:?}: {said:?}");
    }
}

#[tokio::test]
async fn rfc6749_errors_map_to_kinds_with_the_description() {
    // With a config error, the key of the provider's table to look at.
    let cases: &[(u16, &str, ErrorKind, &str)] = &[
        (
            400,
            r#"{"error":"invalid_grant","error_description":"Token is not active"}"#,
            ErrorKind::ReauthRequired,
            "consent again",
        ),
        (
            401,
            r#"{"error":"invalid_client","error_description":"Bad secret"}"#,
            ErrorKind::Config,
            "check the provider's client_id and client_secret",
        ),
        (
            400,
            r#"{"error":"invalid_scope","error_description":"No such scope"}"#,
            ErrorKind::Config,
            "check the provider's scopes",
        ),
        (
            400,
            r#"{"error":"unauthorized_client","error_description":"Not for you"}"#,
            ErrorKind::Config,
            "allow the grant for client_id",
        ),
        (
            400,
            r#"{"error":"unsupported_grant_type","error_description":"Nope"}"#,
            ErrorKind::Config,
            "allow the grant for client_id",
        ),
        (
            400,
            r#"{"error":"access_denied","error_description":"User said no"}"#,
            ErrorKind::Denied,
            "denied",
        ),
        (
            400,
            r#"{"error":"invalid_request","error_description":"Odd request"}"#,
            ErrorKind::Provider,
            "refused",
        ),
    ];
    for (status, body, kind, advice) in cases {
        let p = build(&canned_oauth2(&canned(*status, JSON, body).await)).unwrap();
        let e = p
            .refresh(&Secret::new("rt-secret-value"))
            .await
            .unwrap_err()
            .error;
        assert_eq!(e.kind, *kind, "{body}: {}", e.message);
        assert!(e.message.contains(advice), "{body}: {}", e.message);
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
    let e = p.client_credentials().await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Server);
    // The reason first: the table's state column shows a message's start.
    assert!(
        e.message.starts_with("502 Bad Gateway from 127.0.0.1:"),
        "{}",
        e.message
    );
}

/// A provider that answers each POST with `code` and what it was sent: the
/// form as it came and decoded, and the `Authorization` header, after `pad`
/// characters of its own.
fn echo(code: &'static str, pad: usize) -> axum::routing::MethodRouter {
    post(
        move |headers: axum::http::HeaderMap, form: String| async move {
            let auth = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            let decoded = url::form_urlencoded::parse(form.as_bytes())
                .map(|(k, v)| format!("{k}: {v}"))
                .collect::<Vec<_>>()
                .join(", ");
            let said = format!("{}you sent {form} ({decoded}) as {auth}", "x".repeat(pad));
            let body = serde_json::json!({"error": code, "error_description": said});
            (StatusCode::BAD_REQUEST, axum::Json(body))
        },
    )
}

/// Some providers echo the request in their error text, and that text
/// reaches the screen, the audit log and `status --json`: the refresh
/// token, the client secret and the Basic header are blanked from it,
/// also where the text is cut to length in the middle of one of them.
#[tokio::test]
async fn what_a_provider_echoes_of_the_request_is_blanked_from_its_errors() {
    let refresh = Secret::new("rt/Secret+Value=0123456789");
    let basic = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(format!("bankdeck-test:{CLIENT_SECRET}"))
    };
    for pad in [0, 250, 280, 300] {
        for auth in [ClientAuth::Basic, ClientAuth::Post] {
            let path = |p: &str| format!("/realms/test/protocol/openid-connect/{p}");
            let app = Router::new()
                .route(&path("token"), echo("invalid_grant", pad))
                .route(&path("revoke"), echo("invalid_request", pad));
            let p = build(&oauth2_config(&serve(app).await, auth, true)).unwrap();
            let refreshed = p.refresh(&refresh).await.unwrap_err().error;
            assert_eq!(refreshed.kind, ErrorKind::ReauthRequired, "{refreshed:?}");
            let revoked = p.logout(&refresh).await.unwrap_err();
            for m in [&refreshed.message, &revoked.message] {
                for part in ["rt/Secret", "rt%2FSecret", "cl1ent-s3c", &basic[..12]] {
                    assert!(!m.contains(part), "{auth:?}, pad {pad}: {part:?} in {m}");
                }
                if pad == 0 {
                    assert!(m.contains(": [redacted]"), "{m}");
                    assert!(
                        m.contains("token_type_hint: refresh_token")
                            || m.contains("grant_type: refresh_token"),
                        "the rest stays: {m}"
                    );
                }
            }
        }
    }
}
