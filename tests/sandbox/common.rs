//! Shared helpers: a sandbox per test, a proxy-free client that does not
//! follow redirects, JSON posting, JWT payload decoding and PKCE pairs.

use bankdeck::sandbox::{Sandbox, SandboxOptions};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

pub async fn start() -> Sandbox {
    start_with(SandboxOptions::default()).await
}

pub async fn start_with(opts: SandboxOptions) -> Sandbox {
    Sandbox::start(opts, 0).await.expect("sandbox starts")
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// POSTs JSON and returns the status and the JSON body.
pub async fn post_json(url: &str, body: &Value) -> (u16, Value) {
    let resp = client().post(url).json(body).send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

/// The status and JSON body of a response.
pub async fn status_json(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap()
    };
    (status, body)
}

pub fn jwt_payload(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// A PKCE verifier and its S256 challenge.
pub fn pkce(seed: &str) -> (String, String) {
    let verifier = format!("{seed}-verifier-0123456789abcdefghijklmnopqrstuvwxyz");
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

pub fn oauth_error(error: &str, description: &str) -> Value {
    serde_json::json!({"error": error, "error_description": description})
}

/// `base` with `params` as its query string.
pub fn with_query(base: &str, params: &[(&str, &str)]) -> String {
    url::Url::parse_with_params(base, params)
        .unwrap()
        .to_string()
}
