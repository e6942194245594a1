//! The bank's OAuth 2.0 server: every grant, every RFC 6749 §5.2 error,
//! PKCE, rotation with reuse detection, revocation and the authorize errors.

use bankdeck::sandbox::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_PUBLIC_CLIENT_ID, Sandbox};
use reqwest::header::{LOCATION, WWW_AUTHENTICATE};
use serde_json::{Value, json};
use url::Url;

use crate::common::{client, oauth_error, pkce, start, status_json, with_query};

pub const REDIRECT: &str = "http://127.0.0.1:8765/callback";

/// POSTs a form to the token endpoint with `client_secret_basic`.
async fn token_basic(sb: &Sandbox, form: &[(&str, &str)]) -> (u16, Value) {
    let req = client()
        .post(sb.oauth2_token_url())
        .basic_auth(DEMO_CLIENT_ID, Some(DEMO_CLIENT_SECRET))
        .form(form);
    status_json(req.send().await.unwrap()).await
}

/// Follows `/oauth2/authorize` one hop and returns the redirect target.
pub async fn authorize(sb: &Sandbox, params: &[(&str, &str)]) -> Url {
    let resp = client()
        .get(with_query(&sb.oauth2_authorize_url(), params))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 302);
    Url::parse(resp.headers()[LOCATION].to_str().unwrap()).unwrap()
}

pub fn query(url: &Url) -> Value {
    url.query_pairs()
        .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// Runs the consent step and returns the code and the verifier.
async fn code_for(sb: &Sandbox, client_id: &str, scope: &str) -> (String, String) {
    let (verifier, challenge) = pkce("bank");
    let target = authorize(
        sb,
        &[
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", REDIRECT),
            ("scope", scope),
            ("state", "st-1"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    assert!(target.as_str().starts_with(REDIRECT), "{target}");
    let q = query(&target);
    assert_eq!(q["state"], "st-1");
    (q["code"].as_str().unwrap().to_owned(), verifier)
}

async fn redeem(sb: &Sandbox, code: &str, verifier: &str) -> (u16, Value) {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier),
    ];
    token_basic(sb, &form).await
}

async fn refresh(sb: &Sandbox, token: &str) -> (u16, Value) {
    token_basic(
        sb,
        &[("grant_type", "refresh_token"), ("refresh_token", token)],
    )
    .await
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap()
}

#[tokio::test]
async fn client_credentials_with_basic_and_post() {
    let sb = start().await;
    let (status, body) = token_basic(&sb, &[("grant_type", "client_credentials")]).await;
    assert_eq!(status, 200);
    let token = text(&body, "access_token");
    assert_eq!(
        body,
        json!({"access_token": token, "token_type": "Bearer", "expires_in": 3600, "scope": "accounts"})
    );
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", DEMO_CLIENT_ID),
        ("client_secret", DEMO_CLIENT_SECRET),
        ("scope", "accounts payments"),
    ];
    let resp = client()
        .post(sb.oauth2_token_url())
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let (status, body) = status_json(resp).await;
    assert_eq!((status, &body["scope"]), (200, &json!("accounts payments")));
    assert!(body.get("refresh_token").is_none());
}

#[tokio::test]
async fn authorization_code_with_pkce_then_rotating_refresh() {
    let sb = start().await;
    let (code, verifier) = code_for(&sb, DEMO_CLIENT_ID, "accounts balances").await;
    let (status, first) = redeem(&sb, &code, &verifier).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["scope"], "accounts balances");
    assert_eq!(first["expires_in"], 3600);
    let r1 = text(&first, "refresh_token").to_owned();

    let (status, second) = refresh(&sb, &r1).await;
    assert_eq!(status, 200, "{second}");
    let r2 = text(&second, "refresh_token").to_owned();
    assert_ne!(r1, r2, "refresh tokens rotate");
    assert_ne!(first["access_token"], second["access_token"]);

    // Reusing the rotated token kills the whole family, the newest included.
    let dead = (400, oauth_error("invalid_grant", "Token is not active"));
    assert_eq!(refresh(&sb, &r1).await, dead);
    assert_eq!(refresh(&sb, &r2).await, dead);
    assert_eq!(
        sb.state()["oauth2"]["families"][0]["status"],
        "reuse_detected"
    );
    assert_eq!(sb.request_count("oauth2.token"), 4);
}

#[tokio::test]
async fn a_code_is_single_use_short_lived_and_bound() {
    let sb = start().await;
    let (code, verifier) = code_for(&sb, DEMO_CLIENT_ID, "accounts").await;
    let wrong_redirect = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", "http://127.0.0.1:9999/other"),
        ("code_verifier", verifier.as_str()),
    ];
    let (status, body) = token_basic(&sb, &wrong_redirect).await;
    assert_eq!(
        (status, body),
        (400, oauth_error("invalid_grant", "Incorrect redirect_uri"))
    );
    let (wrong_verifier, _) = pkce("other");
    let mismatch = oauth_error("invalid_grant", "PKCE verification failed: Code mismatch");
    assert_eq!(redeem(&sb, &code, &wrong_verifier).await, (400, mismatch));
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
    ];
    let missing = oauth_error("invalid_grant", "PKCE code verifier not specified");
    assert_eq!(token_basic(&sb, &form).await, (400, missing));

    let (status, body) = redeem(&sb, &code, &verifier).await;
    assert_eq!(status, 200);
    let refresh_token = text(&body, "refresh_token").to_owned();
    let replay = (400, oauth_error("invalid_grant", "Code not valid"));
    assert_eq!(redeem(&sb, &code, &verifier).await, replay);
    // The replay revoked what the code had granted.
    let dead = (400, oauth_error("invalid_grant", "Token is not active"));
    assert_eq!(refresh(&sb, &refresh_token).await, dead);

    let (late, late_verifier) = code_for(&sb, DEMO_CLIENT_ID, "accounts").await;
    sb.advance_clock(60);
    let expired = (400, oauth_error("invalid_grant", "Code is expired"));
    assert_eq!(redeem(&sb, &late, &late_verifier).await, expired);
}

#[tokio::test]
async fn a_code_belongs_to_its_client() {
    let sb = start().await;
    let (code, verifier) = code_for(&sb, DEMO_PUBLIC_CLIENT_ID, "accounts").await;
    let (status, body) = redeem(&sb, &code, &verifier).await;
    assert_eq!(
        (status, body),
        (
            400,
            oauth_error("invalid_grant", "Code was issued to another client")
        )
    );
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", DEMO_PUBLIC_CLIENT_ID),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier.as_str()),
    ];
    let resp = client()
        .post(sb.oauth2_token_url())
        .form(&form)
        .send()
        .await
        .unwrap();
    let (status, body) = status_json(resp).await;
    assert_eq!(
        status, 200,
        "a public client redeems with PKCE alone: {body}"
    );
}

#[tokio::test]
async fn client_authentication_errors_are_401_with_a_challenge() {
    let sb = start().await;
    let bad_basic = client()
        .post(sb.oauth2_token_url())
        .basic_auth(DEMO_CLIENT_ID, Some("wrong"))
        .form(&[("grant_type", "client_credentials")]);
    let resp = bad_basic.send().await.unwrap();
    assert_eq!(resp.headers()[WWW_AUTHENTICATE], r#"Basic realm="sandbox""#);
    let invalid = oauth_error(
        "invalid_client",
        "Invalid client or Invalid client credentials",
    );
    assert_eq!(status_json(resp).await, (401, invalid.clone()));

    let bad_post = [
        ("grant_type", "client_credentials"),
        ("client_id", "nobody"),
        ("client_secret", "x"),
    ];
    let resp = client()
        .post(sb.oauth2_token_url())
        .form(&bad_post)
        .send()
        .await
        .unwrap();
    assert_eq!(status_json(resp).await, (401, invalid));

    let anonymous = client()
        .post(sb.oauth2_token_url())
        .form(&[("grant_type", "client_credentials")]);
    let required = oauth_error("invalid_client", "Client authentication required");
    assert_eq!(
        status_json(anonymous.send().await.unwrap()).await,
        (401, required)
    );

    let both = client()
        .post(sb.oauth2_token_url())
        .basic_auth(DEMO_CLIENT_ID, Some(DEMO_CLIENT_SECRET))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_secret", DEMO_CLIENT_SECRET),
        ]);
    let twice = oauth_error(
        "invalid_request",
        "More than one client authentication method used",
    );
    assert_eq!(status_json(both.send().await.unwrap()).await, (400, twice));
}

#[tokio::test]
async fn request_errors_per_rfc_6749() {
    let sb = start().await;
    let cases: [(&[(&str, &str)], Value); 4] = [
        (
            &[("grant_type", "password")],
            oauth_error("unsupported_grant_type", "Unsupported grant_type: password"),
        ),
        (
            &[("scope", "accounts")],
            oauth_error("invalid_request", "Missing parameter: grant_type"),
        ),
        (
            &[
                ("grant_type", "client_credentials"),
                ("scope", "accounts admin"),
            ],
            oauth_error("invalid_scope", "Invalid scopes: admin"),
        ),
        (
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", "rt_unknown"),
            ],
            oauth_error("invalid_grant", "Invalid refresh token"),
        ),
    ];
    for (form, expected) in cases {
        assert_eq!(token_basic(&sb, form).await, (400, expected));
    }
    let public = [
        ("grant_type", "client_credentials"),
        ("client_id", DEMO_PUBLIC_CLIENT_ID),
    ];
    let resp = client()
        .post(sb.oauth2_token_url())
        .form(&public)
        .send()
        .await
        .unwrap();
    let refused = oauth_error(
        "unauthorized_client",
        "Client is not allowed to use grant_type client_credentials",
    );
    assert_eq!(status_json(resp).await, (400, refused));

    let json_body = client()
        .post(sb.oauth2_token_url())
        .basic_auth(DEMO_CLIENT_ID, Some(DEMO_CLIENT_SECRET))
        .json(&json!({"grant_type": "client_credentials"}));
    let form_only = oauth_error(
        "invalid_request",
        "Content-Type must be application/x-www-form-urlencoded",
    );
    assert_eq!(
        status_json(json_body.send().await.unwrap()).await,
        (400, form_only)
    );
}

#[tokio::test]
async fn refresh_may_narrow_but_not_widen_scope() {
    let sb = start().await;
    let (code, verifier) = code_for(&sb, DEMO_CLIENT_ID, "accounts balances").await;
    let r1 = text(&redeem(&sb, &code, &verifier).await.1, "refresh_token").to_owned();
    let widen = [
        ("grant_type", "refresh_token"),
        ("refresh_token", r1.as_str()),
        ("scope", "payments"),
    ];
    assert_eq!(
        token_basic(&sb, &widen).await,
        (
            400,
            oauth_error("invalid_scope", "Invalid scopes: payments")
        )
    );
    let narrow = [
        ("grant_type", "refresh_token"),
        ("refresh_token", r1.as_str()),
        ("scope", "balances"),
    ];
    let (status, body) = token_basic(&sb, &narrow).await;
    assert_eq!((status, &body["scope"]), (200, &json!("balances")));
}

#[tokio::test]
async fn revocation_follows_rfc_7009() {
    let sb = start().await;
    let revoke = |token: &str| {
        client()
            .post(sb.oauth2_revoke_url())
            .basic_auth(DEMO_CLIENT_ID, Some(DEMO_CLIENT_SECRET))
            .form(&[("token", token.to_owned())])
            .send()
    };
    let resp = revoke("never-issued").await.unwrap();
    assert_eq!(
        (resp.status().as_u16(), resp.text().await.unwrap()),
        (200, String::new())
    );

    let (code, verifier) = code_for(&sb, DEMO_CLIENT_ID, "accounts").await;
    let body = redeem(&sb, &code, &verifier).await.1;
    let r1 = text(&body, "refresh_token");
    assert_eq!(revoke(r1).await.unwrap().status().as_u16(), 200);
    assert_eq!(
        refresh(&sb, r1).await,
        (400, oauth_error("invalid_grant", "Token is not active"))
    );
    assert_eq!(
        revoke(text(&body, "access_token"))
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    let access = &sb.state()["oauth2"]["access_tokens"][0];
    assert_eq!(access["status"], "revoked");
    assert_eq!(sb.state()["oauth2"]["families"][0]["status"], "revoked");
}
