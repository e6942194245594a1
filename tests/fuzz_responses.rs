//! Property tests for what providers answer: token endpoint replies (RFC 6749
//! §5.1/§5.2) and Dapi replies. Whatever the status, headers and body, the
//! parsers never panic, never produce a zero or negative lifetime, and never
//! put the access token they were sent into an error message.

use bankdeck::domain::{Secret, UnixTime};
use bankdeck::providers::dapi::read_reply;
use bankdeck::providers::dapi_error::DapiCall;
use bankdeck::providers::oauth_error::TokenCall;
use bankdeck::providers::token::{MAX_LIFETIME, parse_token_reply};
use bankdeck::providers::{GrantExpiry, Reply};
use proptest::prelude::*;
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap, HeaderValue};

/// A token that never appears in any generated key, so a hit is a leak.
const CANARY: &str = "CANARY-tok-9f8e7d6c5b4a";

fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("{".to_string()),
        Just("}".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just(":".to_string()),
        Just(",".to_string()),
        Just("\"".to_string()),
        Just("\"access_token\"".to_string()),
        Just("\"token_type\"".to_string()),
        Just("\"Bearer\"".to_string()),
        Just("\"expires_in\"".to_string()),
        Just("\"refresh_token\"".to_string()),
        Just("\"refresh_expires_in\"".to_string()),
        Just("\"id_token\"".to_string()),
        Just("\"scope\"".to_string()),
        Just("\"error\"".to_string()),
        Just("\"error_description\"".to_string()),
        Just("\"invalid_grant\"".to_string()),
        Just("\"success\"".to_string()),
        Just("\"accessToken\"".to_string()),
        Just("\"msg\"".to_string()),
        Just("\"type\"".to_string()),
        Just("\"INVALID_TOKEN\"".to_string()),
        Just("true".to_string()),
        Just("false".to_string()),
        Just("null".to_string()),
        Just("<html>".to_string()),
        "-?[0-9]{1,20}(\\.[0-9]{1,5})?(e-?[0-9]{1,3})?",
        "[a-zA-Z_.]{1,8}",
        "\\PC{0,4}",
    ]
}

fn jsonish() -> impl Strategy<Value = String> {
    prop::collection::vec(piece(), 0..40).prop_map(|v| v.concat())
}

/// A well-formed token answer with each field present, absent or odd.
fn token_object() -> impl Strategy<Value = String> {
    let value = prop_oneof![
        Just(None),
        Just(Some("null".to_string())),
        "-?[0-9]{1,25}(\\.[0-9]{1,3})?(e[0-9]{1,3})?".prop_map(Some),
        "\"\\PC{0,12}\"".prop_map(|s| Some(serde_json::to_string(&s).unwrap_or_default())),
        Just(Some("[1,2]".to_string())),
        Just(Some("{\"a\":1}".to_string())),
    ];
    (
        prop::option::of(Just(format!("\"{CANARY}\""))),
        value.clone(),
        value.clone(),
        value.clone(),
        value,
    )
        .prop_map(|(at, tt, exp, rt, scope)| {
            let mut fields = Vec::new();
            for (k, v) in [
                ("access_token", at),
                ("token_type", tt.or(Some("\"Bearer\"".into()))),
                ("expires_in", exp),
                ("refresh_token", rt),
                ("scope", scope),
            ] {
                if let Some(v) = v {
                    fields.push(format!("\"{k}\":{v}"));
                }
            }
            format!("{{{}}}", fields.join(","))
        })
}

fn reply(status: u16, content_type: &str, retry_after: &str, body: String) -> Reply {
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(content_type) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(retry_after) {
        headers.insert(header::RETRY_AFTER, v);
    }
    Reply {
        status: StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
        headers,
        body: body.into_bytes(),
        host: "fuzz.example:443".into(),
    }
}

fn status() -> impl Strategy<Value = u16> {
    prop_oneof![
        Just(200u16),
        Just(400),
        Just(401),
        Just(429),
        Just(500),
        Just(503),
        100u16..600
    ]
}

fn content_type() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("application/json".to_string()),
        Just("text/html".to_string()),
        Just(String::new()),
        "\\PC{0,10}",
    ]
}

fn calls() -> impl Strategy<Value = TokenCall> {
    prop_oneof![
        Just(TokenCall::ClientCredentials),
        Just(TokenCall::Refresh),
        Just(TokenCall::Code),
        Just(TokenCall::EndSession),
    ]
}

fn check_token(r: &Reply, call: TokenCall) {
    match parse_token_reply(r, call, &["accounts".to_string()], UnixTime::now()) {
        Ok(g) => {
            assert!(!g.access_token.expose().is_empty());
            match g.expiry {
                GrantExpiry::InSecs(s) | GrantExpiry::Assumed(s) => {
                    assert!((1..=MAX_LIFETIME).contains(&s), "{s}")
                }
                GrantExpiry::Permanent => panic!("a token answer is never permanent"),
            }
        }
        Err(e) => assert!(!e.message.contains(CANARY), "leaked: {}", e.message),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn token_replies_of_any_shape_are_safe(
        status in status(),
        ct in content_type(),
        ra in "\\PC{0,12}",
        body in jsonish(),
        call in calls(),
    ) {
        check_token(&reply(status, &ct, &ra, body), call);
    }

    #[test]
    fn token_objects_with_odd_fields_are_safe(
        status in status(),
        body in token_object(),
        call in calls(),
    ) {
        check_token(&reply(status, "application/json", "", body), call);
    }

    #[test]
    fn dapi_replies_of_any_shape_are_safe(
        status in status(),
        ct in content_type(),
        ra in "\\PC{0,12}",
        body in jsonish(),
        delink in any::<bool>(),
    ) {
        let call = if delink { DapiCall::Delink } else { DapiCall::Exchange };
        let r = reply(status, &ct, &ra, body);
        if let Ok(obj) = read_reply(&r, call) {
            // What the exchange does with a success: a permanent or counting grant.
            if let Some(t) = obj.get("accessToken").and_then(|v| v.as_str()) {
                let _ = bankdeck::providers::dapi::grant(Secret::new(t), UnixTime::now());
            }
        }
    }

    #[test]
    fn dapi_failures_keep_msg_short_and_clean(
        msg in "\\PC{0,400}",
        ty in "[A-Z_]{0,20}",
        delink in any::<bool>(),
    ) {
        let call = if delink { DapiCall::Delink } else { DapiCall::Exchange };
        let body = serde_json::json!({"success": false, "status": "failed", "type": ty, "msg": msg}).to_string();
        let e = read_reply(&reply(400, "application/json", "", body), call).unwrap_err();
        prop_assert!(!e.message.chars().any(char::is_control));
        prop_assert!(e.message.chars().count() < 800);
    }
}
