//! The control surface over HTTP (clock moves, fault switches) and the
//! library API around it (in-process logins, shutdown).

use std::time::{Duration, Instant};

use bankdeck::sandbox::{AuthServer, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, parse_fault};
use serde_json::json;

use crate::common::{client, jwt_payload, post_json, start, status_json};

#[tokio::test]
async fn clock_is_set_and_advanced_over_http() {
    let sb = start().await;
    let url = format!("{}/sandbox/clock", sb.base_url());
    let (status, body) = post_json(&url, &json!({"set": 1_000})).await;
    assert_eq!(
        (status, body),
        (200, json!({"now": 1_000, "clock_pinned": true}))
    );
    let (_, body) = post_json(&url, &json!({"advance_secs": 299})).await;
    assert_eq!(body["now"], 1_299);
    assert_eq!(sb.now(), 1_299);
    let (status, _) = post_json(&url, &json!({"jump": 1})).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn faults_are_added_listed_and_cleared_over_http() {
    let sb = start().await;
    let url = format!("{}/sandbox/faults", sb.base_url());
    let (status, body) = post_json(&url, &json!({"faults": ["dapi.connect:503,count=1"]})).await;
    assert_eq!(
        (status, body),
        (200, json!({"faults": ["dapi.connect:503,count=1"]}))
    );
    let (status, body) = post_json(&sb.connect_url(), &json!({})).await;
    assert_eq!(
        (status, body),
        (503, json!({"error": "sandbox_fault", "status": 503}))
    );
    assert_eq!(post_json(&sb.connect_url(), &json!({})).await.0, 200);

    post_json(&url, &json!({"faults": ["dapi.*:500"]})).await;
    let (_, body) = status_json(client().get(&url).send().await.unwrap()).await;
    assert_eq!(body, json!({"faults": ["dapi.*:500"]}));
    let (status, body) = status_json(client().delete(&url).send().await.unwrap()).await;
    assert_eq!((status, body), (200, json!({"faults": []})));
    assert_eq!(post_json(&sb.connect_url(), &json!({})).await.0, 200);

    let (status, body) = post_json(&url, &json!({"faults": ["dapi.nope:500"]})).await;
    assert_eq!(status, 400);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("unknown fault route")
    );
    assert_eq!(sb.request_count("dapi.connect"), 3);
}

#[tokio::test]
async fn in_process_login_gives_a_live_session() {
    let sb = start().await;
    let realm = sb
        .login(AuthServer::Oidc, "bob", Some("openid accounts"))
        .unwrap();
    assert_eq!(realm["scope"], "openid accounts");
    assert_eq!(realm["refresh_expires_in"], 1800);
    assert_eq!(
        jwt_payload(realm["id_token"].as_str().unwrap())["sub"],
        "bob"
    );
    let token_url = format!("{}/protocol/openid-connect/token", sb.oidc_issuer());
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", realm["refresh_token"].as_str().unwrap()),
    ];
    let req = client()
        .post(token_url)
        .basic_auth(DEMO_CLIENT_ID, Some(DEMO_CLIENT_SECRET))
        .form(&form);
    assert_eq!(req.send().await.unwrap().status().as_u16(), 200);

    let bank = sb.login(AuthServer::OAuth2, "bob", None).unwrap();
    assert_eq!(
        (&bank["scope"], &bank["expires_in"]),
        (&json!("accounts"), &json!(3600))
    );
    assert!(bank["refresh_token"].is_string());
    assert_eq!(
        sb.login(AuthServer::OAuth2, "deny", None),
        Err("User denied consent".to_owned())
    );
    assert_eq!(
        sb.login(AuthServer::Oidc, "bob", Some("admin")),
        Err("Invalid scopes: admin".to_owned())
    );
}

#[tokio::test]
async fn shutdown_ends_open_answers_instead_of_waiting_for_them() {
    let sb = start().await;
    sb.set_faults(vec![parse_fault("dapi.connect:trickle").unwrap()]);
    let state_url = format!("{}/sandbox/state", sb.base_url());
    let mut resp = client().post(sb.connect_url()).send().await.unwrap();
    assert_eq!(resp.chunk().await.unwrap().unwrap(), "{\"data\":");
    let started = Instant::now();
    sb.shutdown().await;
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "graceful, not the abort fallback"
    );
    let rest = tokio::time::timeout(Duration::from_secs(2), resp.text()).await;
    assert!(rest.is_ok(), "the trickle ended with the server");
    assert!(client().get(state_url).send().await.is_err());
}
