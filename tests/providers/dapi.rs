//! Dapi end to end: seed 002's pairs (success, INVALID_ARGS, INVALID_TOKEN),
//! DelinkUser as the SDK sends it, and the operations Dapi does not have.

use bankdeck::domain::{ErrorKind, Secret};
use bankdeck::providers::{GrantExpiry, build};
use serde_json::json;

use super::dapi_server::{self, ACCESS_CODE, ACCESS_TOKEN, APP_SECRET, CONNECTION_ID, USER_SECRET};
use super::support::{dapi_config, missing_secret, secret_file};

#[tokio::test]
async fn exchange_sends_seed_request_and_reads_the_permanent_token() {
    let s = dapi_server::start().await;
    let p = build(&dapi_config(&s.base, secret_file(APP_SECRET))).unwrap();
    let g = p
        .exchange(&Secret::new(ACCESS_CODE), CONNECTION_ID)
        .await
        .unwrap();
    assert_eq!(
        s.last_body.lock().unwrap().clone().unwrap(),
        json!({"appSecret": APP_SECRET, "accessCode": ACCESS_CODE, "connectionID": CONNECTION_ID})
    );
    assert_eq!(g.access_token.expose(), ACCESS_TOKEN);
    assert_eq!(g.expiry, GrantExpiry::Permanent);
    assert_eq!(
        g.session.as_deref(),
        Some("611c7aa8-70af-4d7f-a895-289e89239313")
    );
    assert_eq!(*g.scopes.granted, vec!["authentication.create"]);
    assert_eq!(g.scopes.denied.len(), 9);
    assert_eq!(*g.scopes.products, vec!["data", "payment"]);
}

#[tokio::test]
async fn invalid_args_shows_dapis_msg() {
    let s = dapi_server::start().await;
    let p = build(&dapi_config(&s.base, secret_file(APP_SECRET))).unwrap();
    let e = p.exchange(&Secret::new(ACCESS_CODE), "").await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Provider);
    assert!(
        e.message.contains(
            "Validation error on field 'connectionID'. Error: value must not be an empty string"
        ),
        "{}",
        e.message
    );
}

#[tokio::test]
async fn invalid_token_on_exchange_means_link_again() {
    let s = dapi_server::start().await;
    let p = build(&dapi_config(&s.base, secret_file(APP_SECRET))).unwrap();
    let e = p
        .exchange(&Secret::new("Invalid_access_code"), CONNECTION_ID)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::CodeInvalid);
    assert!(e.message.contains("Invalid token") && e.message.contains("link again"));
    assert!(!e.message.contains("Invalid_access_code"));
}

#[tokio::test]
async fn wrong_or_missing_app_secret_is_config() {
    let s = dapi_server::start().await;
    let p = build(&dapi_config(&s.base, secret_file("not-the-secret"))).unwrap();
    let e = p
        .exchange(&Secret::new(ACCESS_CODE), CONNECTION_ID)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Config, "{}", e.message);
    assert!(!e.message.contains("not-the-secret"));
    let (missing, path) = missing_secret();
    let p = build(&dapi_config(&s.base, missing)).unwrap();
    let e = p
        .exchange(&Secret::new(ACCESS_CODE), CONNECTION_ID)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Config);
    assert!(
        e.message.contains(&path.display().to_string()),
        "{}",
        e.message
    );
}

#[tokio::test]
async fn delink_sends_bearer_and_secrets_then_the_token_is_dead() {
    let s = dapi_server::start().await;
    let p = build(&dapi_config(&s.base, secret_file(APP_SECRET))).unwrap();
    let (token, user) = (Secret::new(ACCESS_TOKEN), Secret::new(USER_SECRET));
    p.delink(&token, &user).await.unwrap();
    assert_eq!(
        s.last_auth.lock().unwrap().clone().unwrap(),
        format!("Bearer {ACCESS_TOKEN}")
    );
    assert_eq!(
        s.last_body.lock().unwrap().clone().unwrap(),
        json!({"appSecret": APP_SECRET, "userSecret": USER_SECRET})
    );
    let e = p.delink(&token, &user).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::TokenInvalid);
    assert!(e.message.contains("Invalid token"));
}

#[tokio::test]
async fn dapi_has_no_refresh_logout_or_client_credentials() {
    let s = dapi_server::start().await;
    let p = build(&dapi_config(&s.base, secret_file(APP_SECRET))).unwrap();
    let e = p.refresh(&Secret::new("x")).await.unwrap_err().error;
    assert_eq!(e.kind, ErrorKind::NotAllowed);
    assert_eq!(e.message, "Dapi tokens are permanent: nothing to refresh");
    assert_eq!(
        p.logout(&Secret::new("x")).await.unwrap_err().kind,
        ErrorKind::NotAllowed
    );
    assert_eq!(
        p.client_credentials().await.unwrap_err().kind,
        ErrorKind::NotAllowed
    );
    assert_eq!(
        p.authorization_request("http://127.0.0.1:1/callback")
            .await
            .unwrap_err()
            .kind,
        ErrorKind::NotAllowed
    );
}

#[tokio::test]
async fn dapi_server_failures_and_throttling() {
    use axum::http::{StatusCode, header};
    use axum::routing::post;
    let app = axum::Router::new()
        .route(
            "/v2/auth/ExchangeToken",
            post(|| async {
                let body = r#"{"success":false,"status":"failed","type":"UNEXPECTED_ERROR","msg":"Bank is down"}"#;
                (StatusCode::BAD_GATEWAY, [(header::CONTENT_TYPE, "application/json")], body)
            }),
        )
        .route(
            "/v2/users/DelinkUser",
            post(|| async { (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, "30")], "") }),
        );
    let base = super::support::serve(app).await;
    let p = build(&dapi_config(&base, secret_file(APP_SECRET))).unwrap();
    let e = p
        .exchange(&Secret::new(ACCESS_CODE), CONNECTION_ID)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Server);
    assert!(e.message.contains("Bank is down"), "{}", e.message);
    assert!(e.message.starts_with("502 Bad Gateway ("), "{}", e.message);
    let e = p
        .delink(&Secret::new(ACCESS_TOKEN), &Secret::new(USER_SECRET))
        .await
        .unwrap_err();
    assert_eq!((e.kind, e.retry_after), (ErrorKind::RateLimited, Some(30)));
}

/// A Dapi that repeats the request in its `msg`: the app secret, the
/// access code, the user secret and the bearer token are blanked from what
/// the operator reads, and the rest of the message stays.
#[tokio::test]
async fn what_dapi_echoes_of_the_request_is_blanked_from_its_errors() {
    use axum::http::HeaderMap;
    use axum::{Json, Router, routing::post};
    use serde_json::Value;
    let echo = |headers: HeaderMap, Json(body): Json<Value>| async move {
        let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
        let msg = format!("Bad request {body} from {}", auth.unwrap_or("nobody"));
        Json(json!({"success": false, "status": "failed", "type": "INVALID_ARGS", "msg": msg}))
    };
    let app = Router::new()
        .route("/v2/auth/ExchangeToken", post(echo))
        .route("/v2/users/DelinkUser", post(echo));
    let base = super::support::serve(app).await;
    let p = build(&dapi_config(&base, secret_file(APP_SECRET))).unwrap();
    let exchanged = (p.exchange(&Secret::new(ACCESS_CODE), CONNECTION_ID).await).unwrap_err();
    let (token, user) = (Secret::new(ACCESS_TOKEN), Secret::new(USER_SECRET));
    let delinked = p.delink(&token, &user).await.unwrap_err();
    for m in [&exchanged.message, &delinked.message] {
        for secret in [APP_SECRET, ACCESS_CODE, ACCESS_TOKEN, USER_SECRET] {
            assert!(!m.contains(&secret[..16.min(secret.len())]), "{m}");
        }
        assert!(m.contains("Bad request"), "{m}");
        assert!(m.contains("[redacted]"), "{m}");
    }
    assert!(
        exchanged.message.contains(CONNECTION_ID),
        "not a secret: {}",
        exchanged.message
    );
}

/// A success that carries no token because the operation waits on the
/// user, or is still running (seed 002's statuses), says so: "Dapi reported
/// success but sent no accessToken" read as a broken answer.
#[tokio::test]
async fn a_success_pending_the_users_input_says_so() {
    for (status, says) in [
        ("user_input_required", "pending the user's input"),
        ("initialized", "still in progress"),
    ] {
        let answer = json!({"success": true, "status": status});
        let e = exchange_answered(answer).await.unwrap_err();
        assert!(e.message.contains(says), "{status}: {}", e.message);
    }
}

/// An exchange against an ExchangeToken that answers `body` with 200.
async fn exchange_answered(
    body: serde_json::Value,
) -> Result<bankdeck::providers::TokenGrant, bankdeck::domain::OpError> {
    use axum::{Json, Router, routing::post};
    let app = Router::new().route(
        "/v2/auth/ExchangeToken",
        post(move || std::future::ready(Json(body.clone()))),
    );
    let base = super::support::serve(app).await;
    let p = build(&dapi_config(&base, secret_file(APP_SECRET))).unwrap();
    p.exchange(&Secret::new(ACCESS_CODE), CONNECTION_ID).await
}

/// A 200 carrying an access token has spent the access code at Dapi,
/// whether or not it says `success`: dropping it left the code pending, and
/// the next exchange met INVALID_TOKEN. `success: false`, or no token, is
/// still no grant.
#[tokio::test]
async fn a_token_without_success_is_taken_and_a_failure_or_no_token_is_not() {
    let answers = [
        (json!({"accessToken": ACCESS_TOKEN, "status": "done"}), None),
        (
            json!({"success": false, "accessToken": ACCESS_TOKEN, "status": "failed", "type": "INVALID_ARGS", "msg": "no"}),
            Some(ErrorKind::Provider),
        ),
        (
            json!({"success": "false", "accessToken": ACCESS_TOKEN}),
            Some(ErrorKind::Protocol),
        ),
        (json!({"status": "done"}), Some(ErrorKind::Protocol)),
        (
            json!({"accessToken": " ", "status": "done"}),
            Some(ErrorKind::Protocol),
        ),
        // Printed raw by `access-token`, and no header could carry it.
        (
            json!({"success": true, "accessToken": "DAPI\u{1b}]0;X\u{7}\nrm -rf ~\n"}),
            Some(ErrorKind::Protocol),
        ),
    ];
    // Each answer is named by its place: the token is not for a panic to print.
    for (n, (answer, refused)) in answers.into_iter().enumerate() {
        match (exchange_answered(answer).await, refused) {
            (Ok(g), None) => assert_eq!(g.access_token.expose(), ACCESS_TOKEN),
            (Err(e), Some(kind)) => assert_eq!(e.kind, kind, "answer {n}: {}", e.message),
            (got, _) => panic!("answer {n}: {:?}", got.map(|g| g.expiry)),
        }
    }
}
