//! The Keycloak-style realm: discovery, signed tokens that `certs` verifies,
//! nonce echo, rotation and reuse, logout semantics and expiry by the clock.

use bankdeck::sandbox::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, Sandbox};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, Verifier as _, VerifyingKey};
use reqwest::header::{LOCATION, WWW_AUTHENTICATE};
use serde_json::{Value, json};
use url::Url;

use crate::common::{client, jwt_payload, oauth_error, pkce, start, status_json, with_query};

const REDIRECT: &str = "http://localhost:8765/cb";

fn endpoint(sb: &Sandbox, name: &str) -> String {
    format!("{}/protocol/openid-connect/{name}", sb.oidc_issuer())
}

async fn post_form(sb: &Sandbox, name: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let req = client()
        .post(endpoint(sb, name))
        .basic_auth(DEMO_CLIENT_ID, Some(DEMO_CLIENT_SECRET))
        .form(form);
    status_json(req.send().await.unwrap()).await
}

/// Consents with a nonce and redeems the code: the full token response.
async fn login(sb: &Sandbox, nonce: &str) -> Value {
    let (verifier, challenge) = pkce("oidc");
    let params = [
        ("response_type", "code"),
        ("client_id", DEMO_CLIENT_ID),
        ("redirect_uri", REDIRECT),
        ("scope", "openid profile accounts"),
        ("state", "xyz"),
        ("nonce", nonce),
        ("login_hint", "alice"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let resp = client()
        .get(with_query(&endpoint(sb, "auth"), &params))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 302);
    let target = Url::parse(resp.headers()[LOCATION].to_str().unwrap()).unwrap();
    let code = target
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier.as_str()),
    ];
    let (status, body) = post_form(sb, "token", &form).await;
    assert_eq!(status, 200, "{body}");
    body
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap()
}

async fn refresh(sb: &Sandbox, token: &str) -> (u16, Value) {
    post_form(
        sb,
        "token",
        &[("grant_type", "refresh_token"), ("refresh_token", token)],
    )
    .await
}

async fn userinfo(sb: &Sandbox, access: &str) -> reqwest::Response {
    client()
        .get(endpoint(sb, "userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn discovery_publishes_every_endpoint() {
    let sb = start().await;
    let url = format!("{}/.well-known/openid-configuration", sb.oidc_issuer());
    let (status, doc) = status_json(client().get(url).send().await.unwrap()).await;
    assert_eq!(status, 200);
    let iss = sb.oidc_issuer();
    assert_eq!(iss, format!("{}/realms/bankdeck", sb.base_url()));
    assert_eq!(doc["issuer"], iss);
    for (key, name) in [
        ("authorization_endpoint", "auth"),
        ("token_endpoint", "token"),
        ("userinfo_endpoint", "userinfo"),
        ("end_session_endpoint", "logout"),
        ("revocation_endpoint", "revoke"),
        ("jwks_uri", "certs"),
    ] {
        assert_eq!(doc[key], format!("{iss}/protocol/openid-connect/{name}"));
    }
    assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(
        doc["grant_types_supported"],
        json!(["authorization_code", "refresh_token", "client_credentials"])
    );
    let other = format!(
        "{}/realms/other/.well-known/openid-configuration",
        sb.base_url()
    );
    let (status, body) = status_json(client().get(other).send().await.unwrap()).await;
    assert_eq!(
        (status, body),
        (404, json!({"error": "Realm does not exist"}))
    );
}

#[tokio::test]
async fn tokens_are_keycloak_shaped() {
    let sb = start().await;
    let body = login(&sb, "n-0S6_WzA2Mj").await;
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "access_token",
            "expires_in",
            "id_token",
            "not-before-policy",
            "refresh_expires_in",
            "refresh_token",
            "scope",
            "session_state",
            "token_type"
        ]
    );
    assert_eq!(
        (&body["expires_in"], &body["refresh_expires_in"]),
        (&json!(300), &json!(1800))
    );
    assert_eq!(
        (&body["token_type"], &body["scope"]),
        (&json!("Bearer"), &json!("openid profile accounts"))
    );

    let access = jwt_payload(text(&body, "access_token"));
    assert_eq!(
        access["exp"].as_i64().unwrap() - access["iat"].as_i64().unwrap(),
        300
    );
    assert_eq!(
        (&access["iss"], &access["sub"]),
        (&json!(sb.oidc_issuer()), &json!("alice"))
    );
    assert_eq!(
        (&access["azp"], &access["scope"]),
        (&json!(DEMO_CLIENT_ID), &body["scope"])
    );
    assert_eq!(access["sid"], body["session_state"]);

    let id = jwt_payload(text(&body, "id_token"));
    assert_eq!(id["nonce"], "n-0S6_WzA2Mj");
    assert_eq!(
        (&id["aud"], &id["sid"]),
        (&json!(DEMO_CLIENT_ID), &body["session_state"])
    );
}

#[tokio::test]
async fn tokens_are_signed_by_the_key_certs_publishes() {
    let sb = start().await;
    let body = login(&sb, "n").await;
    let (_, jwks) = status_json(client().get(endpoint(&sb, "certs")).send().await.unwrap()).await;
    let jwk = &jwks["keys"][0];
    assert_eq!(
        (&jwk["kty"], &jwk["crv"], &jwk["alg"]),
        (&json!("OKP"), &json!("Ed25519"), &json!("EdDSA"))
    );
    let x: [u8; 32] = URL_SAFE_NO_PAD
        .decode(text(jwk, "x"))
        .unwrap()
        .try_into()
        .unwrap();
    let key = VerifyingKey::from_bytes(&x).unwrap();
    for token in [text(&body, "access_token"), text(&body, "id_token")] {
        let (input, sig) = token.rsplit_once('.').unwrap();
        let sig: [u8; 64] = URL_SAFE_NO_PAD.decode(sig).unwrap().try_into().unwrap();
        key.verify(input.as_bytes(), &Signature::from_bytes(&sig))
            .unwrap();
        let header = jwt_payload(&format!("x.{}", token.split('.').next().unwrap()));
        assert_eq!(header["kid"], jwk["kid"]);
    }
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let sb = start().await;
    let first = login(&sb, "n1").await;
    let r1 = text(&first, "refresh_token");
    let (status, second) = refresh(&sb, r1).await;
    assert_eq!(status, 200);
    let r2 = text(&second, "refresh_token");
    assert_ne!(r1, r2);
    assert_eq!(second["session_state"], first["session_state"]);
    assert_eq!(jwt_payload(text(&second, "id_token"))["nonce"], "n1");

    let dead = (400, oauth_error("invalid_grant", "Token is not active"));
    assert_eq!(refresh(&sb, r1).await, dead);
    assert_eq!(refresh(&sb, r2).await, dead);
}

#[tokio::test]
async fn refresh_token_expires_at_refresh_expires_in() {
    let sb = start().await;
    let body = login(&sb, "n").await;
    sb.advance_clock(1800);
    let dead = (400, oauth_error("invalid_grant", "Token is not active"));
    assert_eq!(refresh(&sb, text(&body, "refresh_token")).await, dead);
}

#[tokio::test]
async fn logout_kills_refresh_but_access_lives_until_exp() {
    let sb = start().await;
    // Pinned, so "299 s later" cannot slip past a wall-clock second.
    sb.set_clock(1_700_000_000);
    let body = login(&sb, "n").await;
    let (refresh_token, access) = (text(&body, "refresh_token"), text(&body, "access_token"));
    let (status, empty) = post_form(&sb, "logout", &[("refresh_token", refresh_token)]).await;
    assert_eq!((status, empty), (204, Value::Null));
    let inactive = (400, oauth_error("invalid_grant", "Session not active"));
    assert_eq!(refresh(&sb, refresh_token).await, inactive.clone());
    assert_eq!(
        post_form(&sb, "logout", &[("refresh_token", refresh_token)]).await,
        inactive
    );

    sb.advance_clock(299);
    let (status, info) = status_json(userinfo(&sb, access).await).await;
    assert_eq!((status, &info["sub"]), (200, &json!("alice")));
    sb.advance_clock(1);
    let resp = userinfo(&sb, access).await;
    let challenge = resp.headers()[WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.starts_with(r#"Bearer realm="sandbox", error="invalid_token""#),
        "{challenge}"
    );
    let failed = oauth_error("invalid_token", "Token verification failed");
    assert_eq!(status_json(resp).await, (401, failed));
}

#[tokio::test]
async fn client_credentials_get_no_session() {
    let sb = start().await;
    let (status, body) = post_form(
        &sb,
        "token",
        &[("grant_type", "client_credentials"), ("scope", "accounts")],
    )
    .await;
    assert_eq!(status, 200);
    let access = text(&body, "access_token");
    assert_eq!(
        body,
        json!({"access_token": access, "expires_in": 300, "refresh_expires_in": 0, "token_type": "Bearer",
               "not-before-policy": 0, "scope": "accounts"})
    );
    let claims = jwt_payload(access);
    assert_eq!(claims["sub"], "service-account-bankdeck-demo");
    assert!(claims.get("sid").is_none());
}

#[tokio::test]
async fn revoke_kills_refresh_families_and_access_tokens() {
    let sb = start().await;
    let body = login(&sb, "n").await;
    let (status, _) = post_form(&sb, "revoke", &[("token", text(&body, "refresh_token"))]).await;
    assert_eq!(status, 200);
    let dead = (400, oauth_error("invalid_grant", "Token is not active"));
    assert_eq!(refresh(&sb, text(&body, "refresh_token")).await, dead);

    let access = text(&body, "access_token");
    assert_eq!(userinfo(&sb, access).await.status().as_u16(), 200);
    let (status, _) = post_form(
        &sb,
        "revoke",
        &[("token", access), ("token_type_hint", "access_token")],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(userinfo(&sb, access).await.status().as_u16(), 401);
    assert_eq!(
        post_form(&sb, "revoke", &[("token", "unknown")]).await.0,
        200
    );
}

#[tokio::test]
async fn realm_errors_follow_the_oauth2_conventions() {
    let sb = start().await;
    let bad = client()
        .post(endpoint(&sb, "token"))
        .basic_auth(DEMO_CLIENT_ID, Some("wrong"))
        .form(&[("grant_type", "client_credentials")]);
    let resp = bad.send().await.unwrap();
    assert_eq!(resp.headers()[WWW_AUTHENTICATE], r#"Basic realm="sandbox""#);
    let invalid = oauth_error(
        "invalid_client",
        "Invalid client or Invalid client credentials",
    );
    assert_eq!(status_json(resp).await, (401, invalid));
    let (status, body) = post_form(
        &sb,
        "token",
        &[("grant_type", "client_credentials"), ("scope", "admin")],
    )
    .await;
    assert_eq!(
        (status, body),
        (400, oauth_error("invalid_scope", "Invalid scopes: admin"))
    );
    let (status, body) = post_form(&sb, "logout", &[("refresh_token", "nope")]).await;
    assert_eq!(
        (status, body),
        (400, oauth_error("invalid_grant", "Invalid refresh token"))
    );
    let forged = format!("{}x", text(&login(&sb, "n").await, "access_token"));
    assert_eq!(userinfo(&sb, &forged).await.status().as_u16(), 401);
}

#[tokio::test]
async fn browser_logout_ends_the_hinted_session_and_redirects() {
    let sb = start().await;
    let body = login(&sb, "n").await;
    let params = [
        ("id_token_hint", text(&body, "id_token")),
        ("post_logout_redirect_uri", "http://127.0.0.1:8765/bye"),
        ("state", "st"),
    ];
    let resp = client()
        .get(with_query(&endpoint(&sb, "logout"), &params))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 302);
    assert_eq!(
        resp.headers()[LOCATION],
        "http://127.0.0.1:8765/bye?state=st"
    );
    let inactive = (400, oauth_error("invalid_grant", "Session not active"));
    assert_eq!(refresh(&sb, text(&body, "refresh_token")).await, inactive);

    let evil = [("post_logout_redirect_uri", "https://evil.example/")];
    let resp = client()
        .get(with_query(&endpoint(&sb, "logout"), &evil))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let resp = client().get(endpoint(&sb, "logout")).send().await.unwrap();
    assert!(resp.text().await.unwrap().contains("You are logged out"));
}
