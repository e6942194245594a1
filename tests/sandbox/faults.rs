//! Every fault switch, observed from a real HTTP client, and the two
//! loss scenarios the product must survive (a lost exchange, a lost rotation).

use std::time::{Duration, Instant, UNIX_EPOCH};

use bankdeck::sandbox::{
    ConnectRequest, DEMO_APP_SECRET, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, Sandbox, SandboxOptions,
    parse_fault,
};
use reqwest::header::{CONTENT_TYPE, LOCATION, RETRY_AFTER};
use serde_json::{Value, json};

use crate::common::{
    client, oauth_error, pkce, post_json, start, start_with, status_json, with_query,
};

fn fault(sb: &Sandbox, spec: &str) {
    sb.set_faults(vec![parse_fault(spec).unwrap()]);
}

async fn connect(sb: &Sandbox) -> reqwest::Response {
    client()
        .post(sb.connect_url())
        .json(&json!({}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn latency_delays_but_answers() {
    let sb = start().await;
    fault(&sb, "dapi.connect:latency=300");
    let started = Instant::now();
    assert_eq!(connect(&sb).await.status().as_u16(), 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn stall_never_answers() {
    let sb = start().await;
    fault(&sb, "oauth2.token:stall");
    let impatient = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let err = impatient
        .post(sb.oauth2_token_url())
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert_eq!(sb.request_count("oauth2.token"), 1);
}

async fn retry_after(sb: &Sandbox, spec: &str) -> Option<String> {
    fault(sb, spec);
    let resp = connect(sb).await;
    let header = resp
        .headers()
        .get(RETRY_AFTER)
        .map(|v| v.to_str().unwrap().to_owned());
    let expected =
        json!({"error": "too_many_requests", "error_description": "Rate limit exceeded"});
    assert_eq!(status_json(resp).await, (429, expected));
    header
}

#[tokio::test]
async fn too_many_requests_with_each_retry_after_form() {
    let sb = start().await;
    sb.set_clock(1_700_000_000);
    assert_eq!(
        retry_after(&sb, "dapi.connect:429=7").await.as_deref(),
        Some("7")
    );
    assert_eq!(
        retry_after(&sb, "dapi.connect:429").await.as_deref(),
        Some("1")
    );
    let date = retry_after(&sb, "dapi.connect:429=date+30").await.unwrap();
    let when = httpdate::parse_http_date(&date).unwrap();
    assert_eq!(when, UNIX_EPOCH + Duration::from_secs(1_700_000_030));
    let garbage = retry_after(&sb, "dapi.connect:429=garbage").await.unwrap();
    assert!(garbage.parse::<u64>().is_err() && httpdate::parse_http_date(&garbage).is_err());
    assert_eq!(retry_after(&sb, "dapi.connect:429=none").await, None);
}

#[tokio::test]
async fn server_errors_and_count() {
    let sb = start().await;
    for code in [500, 503] {
        sb.set_faults(vec![
            parse_fault(&format!("dapi.connect:{code},count=2")).unwrap(),
        ]);
        for _ in 0..2 {
            let expected = json!({"error": "sandbox_fault", "status": code});
            assert_eq!(status_json(connect(&sb).await).await, (code, expected));
        }
        assert_eq!(
            connect(&sb).await.status().as_u16(),
            200,
            "count=2 is used up"
        );
    }
    assert_eq!(sb.request_count("dapi.connect"), 6);
}

#[tokio::test]
async fn rate_fails_a_predictable_share() {
    let sb = start().await;
    fault(&sb, "oauth2.token:500,rate=0.5");
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let req = client()
            .post(sb.oauth2_token_url())
            .basic_auth(DEMO_CLIENT_ID, Some(DEMO_CLIENT_SECRET))
            .form(&[("grant_type", "client_credentials")]);
        statuses.push(req.send().await.unwrap().status().as_u16());
    }
    assert_eq!(statuses, [200, 500, 200, 500]);
}

#[tokio::test]
async fn faults_from_the_options_apply_from_the_start() {
    let opts = SandboxOptions {
        faults: vec![parse_fault("dapi.connect:503,count=1").unwrap()],
        ..SandboxOptions::default()
    };
    let sb = start_with(opts).await;
    assert_eq!(connect(&sb).await.status().as_u16(), 503);
    assert_eq!(connect(&sb).await.status().as_u16(), 200);
}

#[tokio::test]
async fn faults_hit_only_their_route() {
    let sb = start().await;
    fault(&sb, "dapi.exchange:503");
    assert_eq!(connect(&sb).await.status().as_u16(), 200);
    fault(&sb, "*:503,count=1");
    assert_eq!(connect(&sb).await.status().as_u16(), 503);
    assert_eq!(connect(&sb).await.status().as_u16(), 200);
}

#[tokio::test]
async fn malformed_json_html_and_oversized_bodies() {
    let sb = start().await;
    fault(&sb, "dapi.connect:malformed-json");
    let resp = connect(&sb).await;
    assert_eq!(
        (resp.status().as_u16(), &resp.headers()[CONTENT_TYPE]),
        (200, &"application/json".parse().unwrap())
    );
    assert!(resp.json::<Value>().await.is_err());

    fault(&sb, "dapi.connect:html");
    let resp = connect(&sb).await;
    assert_eq!(resp.status().as_u16(), 200);
    assert!(
        resp.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(resp.text().await.unwrap().starts_with("<!DOCTYPE html>"));

    fault(&sb, "dapi.connect:oversized");
    let body = connect(&sb).await.bytes().await.unwrap();
    assert_eq!(body.len(), 2 * 1024 * 1024);
}

#[tokio::test]
async fn trickle_never_ends() {
    let sb = start().await;
    fault(&sb, "dapi.connect:trickle");
    let mut resp = connect(&sb).await;
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.chunk().await.unwrap().unwrap(), "{\"data\":");
    assert_eq!(resp.chunk().await.unwrap().unwrap(), " ");
    let rest = tokio::time::timeout(Duration::from_millis(300), resp.text()).await;
    assert!(rest.is_err(), "the body must still be open");
}

#[tokio::test]
async fn reset_drops_the_connection_mid_body() {
    let sb = start().await;
    fault(&sb, "dapi.connect:reset");
    let resp = connect(&sb).await;
    assert_eq!(resp.status().as_u16(), 200);
    assert!(resp.text().await.is_err());
}

/// Sends a request whose answer the sandbox will lose: it must fail.
async fn lost(req: reqwest::RequestBuilder) {
    // Either the connection drops before the headers or in the body.
    if let Ok(resp) = req.send().await {
        assert!(resp.bytes().await.is_err(), "the answer must be lost");
    }
}

#[tokio::test]
async fn a_lost_exchange_still_used_the_code() {
    let sb = start().await;
    let payload = sb.connect(ConnectRequest::default()).unwrap();
    fault(&sb, "dapi.exchange:lose,count=1");
    let request = json!({"appSecret": DEMO_APP_SECRET, "accessCode": payload.access_code,
                         "connectionID": payload.connection_id});
    let url = format!("{}/v2/auth/ExchangeToken", sb.base_url());
    lost(client().post(&url).json(&request)).await;
    let (status, body) = post_json(&url, &request).await;
    assert_eq!((status, &body["type"]), (401, &json!("INVALID_TOKEN")));
    let state = sb.state();
    assert_eq!(state["dapi"]["codes"][0]["status"], "used");
    assert_eq!(state["dapi"]["tokens"][0]["status"], "active");
    assert_eq!(sb.request_count("dapi.exchange"), 2);
}

#[tokio::test]
async fn a_lost_rotation_makes_the_retry_a_reuse() {
    let sb = start().await;
    let token_url = format!("{}/protocol/openid-connect/token", sb.oidc_issuer());
    let auth_url = format!("{}/protocol/openid-connect/auth", sb.oidc_issuer());
    let (verifier, challenge) = pkce("loss");
    let redirect = "http://127.0.0.1:1/cb";
    let params = [
        ("response_type", "code"),
        ("client_id", DEMO_CLIENT_ID),
        ("redirect_uri", redirect),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let resp = client()
        .get(with_query(&auth_url, &params))
        .send()
        .await
        .unwrap();
    let target = url::Url::parse(resp.headers()[LOCATION].to_str().unwrap()).unwrap();
    let code = target
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let post = |form: &[(&str, &str)]| {
        client()
            .post(&token_url)
            .basic_auth(DEMO_CLIENT_ID, Some(DEMO_CLIENT_SECRET))
            .form(form)
    };
    let redeem = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", redirect),
        ("code_verifier", verifier.as_str()),
    ];
    let (_, body) = status_json(post(&redeem).send().await.unwrap()).await;
    let r1 = body["refresh_token"].as_str().unwrap().to_owned();

    fault(&sb, "oidc.token:lose,count=1");
    let again = [
        ("grant_type", "refresh_token"),
        ("refresh_token", r1.as_str()),
    ];
    lost(post(&again)).await;
    let retry = status_json(post(&again).send().await.unwrap()).await;
    assert_eq!(
        retry,
        (400, oauth_error("invalid_grant", "Token is not active"))
    );
    assert_eq!(
        sb.state()["oidc"]["families"][0]["status"],
        "reuse_detected"
    );
    assert_eq!(sb.request_count("oidc.token"), 3);
}

#[tokio::test]
async fn deny_switch_refuses_consent() {
    let sb = start().await;
    fault(&sb, "oidc.auth:deny");
    let (_, challenge) = pkce("deny");
    let params = [
        ("response_type", "code"),
        ("client_id", DEMO_CLIENT_ID),
        ("redirect_uri", "http://127.0.0.1:1/cb"),
        ("state", "s"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let auth_url = format!("{}/protocol/openid-connect/auth", sb.oidc_issuer());
    let resp = client()
        .get(with_query(&auth_url, &params))
        .send()
        .await
        .unwrap();
    let location = resp.headers()[LOCATION].to_str().unwrap();
    assert_eq!(
        location,
        "http://127.0.0.1:1/cb?error=access_denied&error_description=User+denied+consent&state=s"
    );
}
