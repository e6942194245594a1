//! Property tests: the parsers that read what providers and operators hand us
//! never panic, whatever the input, and keep secrets out of their errors.

use bankdeck::config::parse_layers;
use bankdeck::domain::{Claims, ConnectPayload, Scopes};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::prelude::*;

fn b64(s: &str) -> String {
    URL_SAFE_NO_PAD.encode(s)
}

/// JSON-ish text: braces, quotes, colons and words, more likely to reach deep
/// into a parser than uniform noise.
fn jsonish() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just("{".to_string()),
            Just("}".to_string()),
            Just("[".to_string()),
            Just("]".to_string()),
            Just(":".to_string()),
            Just(",".to_string()),
            Just("\"".to_string()),
            Just("\"exp\"".to_string()),
            Just("\"iat\"".to_string()),
            Just("\"authorizations\"".to_string()),
            Just("\"products\"".to_string()),
            Just("true".to_string()),
            Just("null".to_string()),
            Just("\"accessCode\"".to_string()),
            Just("\"connectionID\"".to_string()),
            Just("\"userSecret\"".to_string()),
            "-?[0-9]{1,20}(\\.[0-9]{1,5})?(e[0-9]{1,3})?",
            "[a-zA-Z_]{1,8}",
            "\\PC{0,4}",
        ],
        0..40,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn jwt_decode_never_panics_on_noise(s in "\\PC{0,300}") {
        let _ = Claims::decode(&s);
    }

    #[test]
    fn jwt_decode_never_panics_on_structured_payloads(header in jsonish(), payload in jsonish(), sig in "[A-Za-z0-9_-]{0,20}") {
        let token = format!("{}.{}.{sig}", b64(&header), b64(&payload));
        if let Ok(c) = Claims::decode(&token) {
            let _ = (c.exp(), c.iat(), c.lifetime_secs(), c.dapi_scopes(), c.scope_claim());
        }
    }

    #[test]
    fn dapi_authorizations_of_any_shape_are_safe(json in jsonish()) {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&json) {
            let s = Scopes::from_dapi(&v);
            for width in [1, 8, 20] {
                let cell = s.short_within(width);
                prop_assert!(bankdeck::domain::text::columns(&cell) <= width, "{:?} wider than {}", cell, width);
            }
        }
    }

    #[test]
    fn connect_payload_errors_never_echo_the_code(json in jsonish(), code in "[a-z]{12}") {
        let text = json.replace("\"accessCode\"", &format!("\"accessCode\":\"SECRET{code}\",\"x\""));
        if let Err(e) = ConnectPayload::parse(&text) {
            prop_assert!(!e.contains(&code), "error echoed the code: {}", e);
        }
    }

    #[test]
    fn config_parser_never_panics(text in "(\\[providers\\.[a-z]{1,3}\\]\n|kind = \"(dapi|oauth2|oidc|x)\"\n|[a-z_]{1,14} = (\"[^\"\n]{0,20}\"|[0-9]{1,4}|true|\\[\\])\n|\\PC{0,10}\n){0,12}") {
        let _ = parse_layers(None, &text);
    }
}
