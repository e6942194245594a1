//! Token response parsing, case by case, without a server (the same cases
//! run over HTTP in `tests/providers`).

use super::*;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue};

const NOW: UnixTime = UnixTime(1_700_000_000);

fn reply(status: u16, body: &str) -> Reply {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Reply {
        status: StatusCode::from_u16(status).unwrap(),
        headers,
        body: body.as_bytes().to_vec(),
        host: "as.test:443".into(),
    }
}

fn parse(body: &str) -> Result<TokenGrant, OpError> {
    parse_token_reply(&reply(200, body), TokenCall::Refresh, &[], NOW)
}

fn protocol_error(body: &str) -> String {
    let e = parse(body).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Protocol, "{body}: {}", e.message);
    e.message
}

#[test]
fn a_complete_answer() {
    let g = parse(
        r#"{"access_token":"at","token_type":"Bearer","expires_in":300,
            "refresh_token":"rt","refresh_expires_in":1800,"scope":"openid accounts",
            "session_state":"s-1","not-before-policy":0}"#,
    )
    .unwrap();
    assert_eq!(g.access_token.expose(), "at");
    assert_eq!(g.expiry, GrantExpiry::InSecs(300));
    assert_eq!(g.refresh_token.unwrap().expose(), "rt");
    assert_eq!(g.refresh_expires_in, Some(1800));
    assert_eq!(*g.scopes.granted, vec!["openid", "accounts"]);
    assert_eq!(g.session.as_deref(), Some("s-1"));
}

/// `refresh_expires_in` that cannot be read (Keycloak's 0 for an offline
/// token, a word) leaves the consent's end unknown and keeps the answer: the
/// rotated refresh token in it is the only one that still works.
#[test]
fn an_unreadable_refresh_expiry_keeps_the_tokens() {
    for odd in ["0", "\"abc\"", "-5", "[]"] {
        let g = parse(&format!(
            r#"{{"access_token":"at","token_type":"Bearer","expires_in":300,
                "refresh_token":"rt","refresh_expires_in":{odd}}}"#
        ))
        .unwrap();
        assert_eq!(g.refresh_token.unwrap().expose(), "rt", "{odd}");
        assert_eq!(g.refresh_expires_in, None, "{odd}");
    }
}

/// A token that is not visible ASCII would reach a terminal or a script's
/// command line raw (`access-token`), and no header can carry it: refused,
/// without being shown. A rotated refresh token such as that is not kept.
#[test]
fn a_token_with_a_control_character_a_space_or_non_ascii_is_refused_unshown() {
    for (key, bad) in [
        ("access_token", "AT\\u001b[2J\\u001b[H"),
        ("access_token", "AT line\\nrm -rf ~"),
        ("refresh_token", "RT\\u0007"),
        ("refresh_token", "RT é"),
        ("id_token", "ID\\u202e"),
    ] {
        let mut body = serde_json::json!({
            "access_token": "at", "token_type": "Bearer", "expires_in": 60,
        });
        let value: String = serde_json::from_str(&format!("\"{bad}\"")).unwrap();
        body[key] = serde_json::Value::String(value);
        let said = protocol_error(&body.to_string());
        assert!(
            said.contains(&format!("the {key} from as.test:443 holds a character")),
            "{said}"
        );
        assert!(!said.contains(&bad[..2]), "{said}");
        assert_eq!(rotated_in(&reply(200, &body.to_string())), None, "{key}");
    }
}

#[test]
fn malformed_answers_are_protocol_errors_with_a_reason() {
    assert!(protocol_error("<html><body>Sign in</body></html>").contains("HTML"));
    assert!(protocol_error(r#"{"token_type":"bearer"}"#).contains("no access_token"));
    assert!(protocol_error(r#"{"access_token":"a"}"#).contains("no token_type"));
    assert!(protocol_error(r#"{"access_token":"a","token_type":"mac"}"#).contains("\"mac\""));
    let base = r#"{"access_token":"a","token_type":"bearer","expires_in":"#;
    assert!(protocol_error(&format!("{base}0}}")).contains("is 0"));
    assert!(protocol_error(&format!("{base}-5}}")).contains("is -5"));
    assert!(protocol_error(&format!("{base}\"soon\"}}")).contains("\"soon\""));
    assert!(protocol_error(&format!("{base}true}}")).contains("expires_in"));
    assert!(protocol_error("").contains("empty body"));
    assert!(protocol_error("[1,2]").contains("not an object"));
    assert!(protocol_error("{oops").contains("not JSON"));
}

#[test]
fn lenient_where_harmless() {
    let base = r#"{"access_token":"a","token_type":"BEARER","expires_in":"#;
    let g = parse(&format!("{base}\"3600\"}}")).unwrap();
    assert_eq!(g.expiry, GrantExpiry::InSecs(3600));
    let g = parse(&format!("{base}99999999999999}}")).unwrap();
    assert_eq!(g.expiry, GrantExpiry::InSecs(MAX_LIFETIME));
    let g = parse(r#"{"access_token":"a","token_type":"bearer","refresh_token":""}"#).unwrap();
    assert_eq!(g.expiry, GrantExpiry::Assumed(UNKNOWN_LIFETIME));
    assert!(g.refresh_token.is_none());
    // Any visible ASCII, which is all RFC 6749 allows a token.
    let odd = "a!#$%&'()*+,-./:;<=>?@[]^_`{|}~z";
    let g = parse(&format!(
        r#"{{"access_token":"{odd}","token_type":"bearer","expires_in":60,"x":{{"y":[]}}}}"#
    ))
    .unwrap();
    assert_eq!(g.access_token.expose(), odd);
}

#[test]
fn missing_expires_in_uses_the_jwt_exp() {
    // payload {"exp":1700000600}
    let jwt = "e30.eyJleHAiOjE3MDAwMDA2MDB9.x";
    let g = parse(&format!(
        r#"{{"access_token":"{jwt}","token_type":"bearer"}}"#
    ))
    .unwrap();
    assert_eq!(g.expiry, GrantExpiry::InSecs(600));
}

#[test]
fn error_bodies_map_even_with_200() {
    let e =
        parse(r#"{"error":"invalid_grant","error_description":"Session not active"}"#).unwrap_err();
    assert_eq!(e.kind, ErrorKind::ReauthRequired);
    let e = parse_token_reply(
        &reply(401, r#"{"error":"invalid_client"}"#),
        TokenCall::ClientCredentials,
        &[],
        NOW,
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Config);
}

#[test]
fn messages_and_debug_never_carry_the_token() {
    let body = r#"{"access_token":"s3cr3t-token","token_type":"mac"}"#;
    let e = parse(body).unwrap_err();
    assert!(!e.message.contains("s3cr3t"));
    assert!(!format!("{:?}", reply(200, body)).contains("s3cr3t"));
}
