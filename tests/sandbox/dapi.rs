//! Dapi: seed 002's request/response pairs byte for byte in meaning, then
//! the rules around them (single use, expiry by clock, delink, scopes).

use bankdeck::sandbox::{
    ConnectRequest, DEMO_APP_KEY, DEMO_APP_SECRET, RegisterCode, Sandbox, SandboxOptions,
};
use serde_json::{Value, json};

use crate::common::{client, jwt_payload, post_json, start, start_with};

const SEED_APP_SECRET: &str = "00bae841ad979345fca2e2585c000da7eac420504d189cf63315e7a6234d45c68dbd6fff749167292cd1475622805dce7a2b979db3c16e25a2897158ee63845b1043930ff603e19deb1d2d54ad9afc3d52df241d3c4e7286244a2f98a10212e38b2e9f8b0e3a7592702fa4358fb9103b93a26dd6bb92c2be0327ac054f14becc";
const SEED_CODE: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzYWx0IjoiRmlHUUhDM2NwZ01NZmhaejNHMk8zNitHakdBUEs0ZFptSEgwRy9jN1cxWT0iLCJhcHBLZXkiOiI0OTc3OTFjZmQ1MTBmMjI1MDc1Yzk3YWNkYzFkYmY0YTI1ZDczNTgxNGZlMmE3OGQxZjRiMGI4OTcxOGU3ZWQ2IiwidG9rZW5JRCI6IjYxMWM3YWE4LTcwYWYtNGQ3Zi1hODk1LTI4OWU4OTIzOTMxMyIsImlhdCI6MTYxNjQyOTI0MCwiZXhwIjoxNjE2NDI5NTQwfQ.FVo8b-krSDNHjIormm_BZAUxUfr_4ZEAzp_xh9WuR0M";
const SEED_CONNECTION: &str = "2c72a336a7c09fd905f9adf3dc5ff976d58eeb20";
const SEED_TOKEN: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzYWx0IjoiRmlHUUhDM2NwZ01NZmhaejNHMk8zNitHakdBUEs0ZFptSEgwRy9jN1cxWT0iLCJhcHBLZXkiOiI0OTc3OTFjZmQ1MTBmMjI1MDc1Yzk3YWNkYzFkYmY0YTI1ZDczNTgxNGZlMmE3OGQxZjRiMGI4OTcxOGU3ZWQ2IiwidG9rZW5JRCI6IjYxMWM3YWE4LTcwYWYtNGQ3Zi1hODk1LTI4OWU4OTIzOTMxMyIsImF1dGhvcml6YXRpb25zIjp7ImF1dGhlbnRpY2F0aW9uIjp7ImNyZWF0ZSI6dHJ1ZX0sImlkZW50aXR5Ijp7ImdldCI6ZmFsc2V9LCJhY2NvdW50cyI6eyJnZXQiOmZhbHNlfSwiYmFsYW5jZSI6eyJnZXQiOmZhbHNlfSwidHJhbnNhY3Rpb25zIjp7ImdldCI6ZmFsc2V9LCJiZW5lZmljaWFyaWVzIjp7ImdldCI6ZmFsc2UsImNyZWF0ZSI6ZmFsc2V9LCJ0cmFuc2ZlciI6eyJjcmVhdGUiOmZhbHNlfSwiY2FyZHMiOnsiZ2V0IjpmYWxzZX0sInN0YXRlbWVudHMiOnsiZ2V0IjpmYWxzZX0sInByb2R1Y3RzIjpbImRhdGEiLCJwYXltZW50Il19LCJpYXQiOjE2MTY0MjkzMTZ9.MIicjZXD8ojOqInzKqeyzmfCkQaxl7K6NU7Q5UPt47Y";
/// The seed token's `iat`: 76 s after the code's, within its 300 s window.
const SEED_TOKEN_IAT: i64 = 1_616_429_316;

fn exchange_url(sb: &Sandbox) -> String {
    format!("{}/v2/auth/ExchangeToken", sb.dapi_base_url())
}

/// A sandbox that knows the seed's app and code, as Dapi did.
async fn seeded() -> Sandbox {
    let sb = start().await;
    sb.register_code(RegisterCode {
        access_code: SEED_CODE.to_owned(),
        connection_id: SEED_CONNECTION.to_owned(),
        app_secret: SEED_APP_SECRET.to_owned(),
        user_id: "seed-user".to_owned(),
        user_secret: "seed-user-secret".to_owned(),
        scopes: vec!["authentication.create".to_owned()],
    })
    .unwrap();
    sb
}

fn failure(kind: &str, msg: &str) -> Value {
    json!({"success": false, "status": "failed", "type": kind, "msg": msg})
}

fn invalid_token() -> Value {
    json!({"msg": "Invalid token", "type": "INVALID_TOKEN", "success": false, "status": "failed"})
}

#[tokio::test]
async fn seed_002_successful_exchange() {
    let sb = seeded().await;
    sb.set_clock(SEED_TOKEN_IAT);
    let request = json!({"appSecret": SEED_APP_SECRET, "accessCode": SEED_CODE, "connectionID": SEED_CONNECTION});
    let (status, body) = post_json(&exchange_url(&sb), &request).await;
    assert_eq!(status, 200);
    let token = body["accessToken"].as_str().unwrap();
    assert_eq!(
        body,
        json!({"success": true, "accessToken": token, "status": "done"})
    );
    // Same header and payload bytes as the seed's token; only Dapi's key differs.
    let signed_part = |t: &str| t.rsplit_once('.').unwrap().0.to_owned();
    assert_eq!(signed_part(token), signed_part(SEED_TOKEN));
    assert_eq!(jwt_payload(token), jwt_payload(SEED_TOKEN));
    assert!(
        jwt_payload(token).get("exp").is_none(),
        "access tokens are permanent"
    );
}

#[tokio::test]
async fn seed_002_missing_mandatory_parameter() {
    let sb = seeded().await;
    let request = json!({"appSecret": SEED_APP_SECRET, "accessCode": SEED_CODE});
    let (status, body) = post_json(&exchange_url(&sb), &request).await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"success": false, "status": "failed",
               "msg": "Validation error on field 'connectionID'. Error: value must not be an empty string",
               "type": "INVALID_ARGS"})
    );
}

#[tokio::test]
async fn seed_002_invalid_access_code() {
    let sb = seeded().await;
    let request = json!({"appSecret": SEED_APP_SECRET, "accessCode": "Invalid_access_code", "connectionID": SEED_CONNECTION});
    let (status, body) = post_json(&exchange_url(&sb), &request).await;
    assert_eq!(status, 401);
    assert_eq!(body, invalid_token());
}

#[tokio::test]
async fn each_empty_or_missing_field_is_named() {
    let sb = start().await;
    let cases = [
        (json!({"accessCode": "c", "connectionID": "x"}), "appSecret"),
        (
            json!({"appSecret": "s", "accessCode": "", "connectionID": "x"}),
            "accessCode",
        ),
        (
            json!({"appSecret": "s", "accessCode": "c", "connectionID": null}),
            "connectionID",
        ),
    ];
    for (request, field) in cases {
        let (status, body) = post_json(&exchange_url(&sb), &request).await;
        assert_eq!(status, 400);
        let msg = format!(
            "Validation error on field '{field}'. Error: value must not be an empty string"
        );
        assert_eq!(body, failure("INVALID_ARGS", &msg));
    }
}

#[tokio::test]
async fn wrong_app_secret_is_its_own_failure() {
    let sb = seeded().await;
    let request = json!({"appSecret": "not-the-secret", "accessCode": SEED_CODE, "connectionID": SEED_CONNECTION});
    let (status, body) = post_json(&exchange_url(&sb), &request).await;
    assert_eq!(status, 401);
    assert_eq!(body, failure("INVALID_APP_SECRET", "Invalid app secret"));
}

async fn connect(sb: &Sandbox, body: Value) -> Value {
    let (status, payload) = post_json(&sb.connect_url(), &body).await;
    assert_eq!(status, 200, "{payload}");
    payload
}

async fn exchange(sb: &Sandbox, payload: &Value) -> (u16, Value) {
    let request = json!({"appSecret": DEMO_APP_SECRET, "accessCode": payload["accessCode"],
                         "connectionID": payload["connectionID"]});
    post_json(&exchange_url(sb), &request).await
}

#[tokio::test]
async fn connect_mints_a_code_that_exchanges_exactly_once() {
    let sb = start().await;
    sb.set_clock(1_700_000_000);
    let payload = connect(
        &sb,
        json!({"userID": "alice", "scopes": ["identity.get", "transfer.create"]}),
    )
    .await;
    let keys: Vec<&String> = payload.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "accessCode",
            "connectionID",
            "success",
            "tokenID",
            "userID",
            "userSecret"
        ]
    );
    assert_eq!(payload["success"], true);
    assert_eq!(payload["userID"], "alice");
    let code = jwt_payload(payload["accessCode"].as_str().unwrap());
    assert_eq!(code["iat"], 1_700_000_000);
    assert_eq!(code["exp"], 1_700_000_000 + 30 * 60);
    assert_eq!(code["appKey"], DEMO_APP_KEY);
    assert_eq!(code["tokenID"], payload["tokenID"]);
    assert!(code["salt"].is_string());

    let (status, body) = exchange(&sb, &payload).await;
    assert_eq!(status, 200);
    let claims = jwt_payload(body["accessToken"].as_str().unwrap());
    let auth = &claims["authorizations"];
    assert_eq!(auth["identity"], json!({"get": true}));
    assert_eq!(auth["transfer"], json!({"create": true}));
    assert_eq!(auth["accounts"], json!({"get": false}));
    assert_eq!(auth["products"], json!(["data", "payment"]));
    assert_eq!(claims["tokenID"], payload["tokenID"]);

    assert_eq!(exchange(&sb, &payload).await, (401, invalid_token()));
    assert_eq!(sb.request_count("dapi.exchange"), 2);
}

#[tokio::test]
async fn a_code_only_exchanges_with_its_own_connection() {
    let sb = start().await;
    let mut payload = connect(&sb, json!({})).await;
    payload["connectionID"] = json!("someone-elses-connection");
    assert_eq!(exchange(&sb, &payload).await, (401, invalid_token()));
}

#[tokio::test]
async fn code_expires_by_the_sandbox_clock() {
    let opts = SandboxOptions {
        code_ttl: std::time::Duration::from_secs(300),
        pinned_clock: Some(1_616_429_240),
        ..SandboxOptions::default()
    };
    let sb = start_with(opts).await;
    let early = connect(&sb, json!({})).await;
    let late = connect(&sb, json!({})).await;
    sb.advance_clock(299);
    assert_eq!(exchange(&sb, &early).await.0, 200);
    sb.advance_clock(1);
    assert_eq!(exchange(&sb, &late).await, (401, invalid_token()));
    let state = sb.state();
    let codes = state["dapi"]["codes"].as_array().unwrap();
    let status_of = |p: &Value| {
        let code = codes
            .iter()
            .find(|c| c["connectionID"] == p["connectionID"])
            .unwrap();
        code["status"].clone()
    };
    assert_eq!(
        (status_of(&early), status_of(&late)),
        (json!("used"), json!("expired"))
    );
}

#[tokio::test]
async fn unknown_scopes_are_refused_at_connect() {
    let sb = start().await;
    let (status, body) = post_json(
        &sb.connect_url(),
        &json!({"scopes": ["balance.get", "root"]}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        failure(
            "INVALID_ARGS",
            "Validation error on field 'scopes'. Error: unknown scope 'root'"
        )
    );
    assert!(
        sb.connect(ConnectRequest {
            scopes: Some(vec!["root".into()]),
            ..Default::default()
        })
        .is_err()
    );
}

async fn bearer_post(url: &str, token: &str, body: &Value) -> (u16, Value) {
    let resp = client()
        .post(url)
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

#[tokio::test]
async fn delink_kills_the_token_everywhere() {
    let sb = start().await;
    let payload = sb.connect(ConnectRequest::default()).unwrap();
    let payload = serde_json::to_value(payload).unwrap();
    let token = exchange(&sb, &payload).await.1["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let identity = format!("{}/v2/data/identity/get", sb.base_url());
    let delink = format!("{}/v2/users/DelinkUser", sb.base_url());
    let (status, body) = bearer_post(&identity, &token, &json!({})).await;
    assert_eq!(
        (status, &body["success"], &body["status"]),
        (200, &json!(true), &json!("done"))
    );

    let wrong_user = json!({"appSecret": DEMO_APP_SECRET, "userSecret": "nope"});
    let (status, body) = bearer_post(&delink, &token, &wrong_user).await;
    assert_eq!(
        (status, body),
        (401, failure("INVALID_USER_SECRET", "Invalid user secret"))
    );
    let wrong_app = json!({"appSecret": "nope", "userSecret": payload["userSecret"]});
    let (status, body) = bearer_post(&delink, &token, &wrong_app).await;
    assert_eq!(
        (status, body),
        (401, failure("INVALID_APP_SECRET", "Invalid app secret"))
    );
    let missing = json!({"appSecret": DEMO_APP_SECRET});
    let (status, body) = bearer_post(&delink, &token, &missing).await;
    assert_eq!(status, 400);
    assert_eq!(body["type"], "INVALID_ARGS");

    let right = json!({"appSecret": DEMO_APP_SECRET, "userSecret": payload["userSecret"]});
    let (status, body) = bearer_post(&delink, &token, &right).await;
    assert_eq!(
        (status, body),
        (200, json!({"success": true, "status": "done"}))
    );
    assert_eq!(
        bearer_post(&identity, &token, &json!({})).await,
        (401, invalid_token())
    );
    assert_eq!(
        bearer_post(&delink, &token, &right).await,
        (401, invalid_token())
    );
    assert_eq!(sb.state()["dapi"]["tokens"][0]["status"], "delinked");
}

#[tokio::test]
async fn identity_needs_the_scope_and_a_bearer() {
    let sb = start().await;
    let payload = connect(&sb, json!({"scopes": ["accounts.get"]})).await;
    let token = exchange(&sb, &payload).await.1["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let identity = format!("{}/v2/data/identity/get", sb.base_url());
    let (status, body) = bearer_post(&identity, &token, &json!({})).await;
    assert_eq!(status, 403);
    assert_eq!(
        body,
        failure(
            "INSUFFICIENT_SCOPE",
            "Token is not authorized for 'identity.get'"
        )
    );
    let (status, body) = post_json(&identity, &json!({})).await;
    assert_eq!((status, body), (401, invalid_token()));
}

#[tokio::test]
async fn state_shows_fingerprints_never_secrets() {
    let sb = start().await;
    let payload = connect(&sb, json!({"bank": "Sandbox Bank"})).await;
    let (_, body) = exchange(&sb, &payload).await;
    let state = client()
        .get(format!("{}/sandbox/state", sb.base_url()))
        .send()
        .await
        .unwrap();
    let text = state.text().await.unwrap();
    for secret in [
        &payload["accessCode"],
        &payload["userSecret"],
        &body["accessToken"],
    ] {
        assert!(!text.contains(secret.as_str().unwrap()));
    }
    let state: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(state["dapi"]["codes"][0]["status"], "used");
    assert_eq!(state["dapi"]["codes"][0]["bank"], "Sandbox Bank");
    assert_eq!(state["dapi"]["tokens"][0]["status"], "active");
    assert_eq!(
        state["requests"],
        json!({"dapi.connect": 1, "dapi.exchange": 1})
    );
}
