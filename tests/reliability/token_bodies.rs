//! Items 1, 2, 3, 6, 13 (and 19's token side) through the whole worker: the
//! token endpoint answers a refresh badly; the operator gets a sentence, the
//! store keeps every token, and exactly one POST went out (token requests
//! are never retried).

use bankdeck::domain::{ErrorKind, OpKind, Secrets, UnixTime};
use bankdeck::worker::WorkerOptions;

use super::canned::{self, Canned};
use super::common::{self, Env};

const YEAR: i64 = 365 * 24 * 3600;

async fn setup() -> (
    Env,
    Canned,
    bankdeck::domain::ConnectionId,
    tempfile::TempDir,
) {
    let (canned, url) = canned::serve().await;
    let secrets = common::private_dir();
    let env = canned::env_with(
        &canned::provider_section("canned", &url, secrets.path()),
        WorkerOptions::default(),
    )
    .await;
    let id = canned::connection(&env, "canned", "amira");
    (env, canned, id, secrets)
}

/// One refresh that must fail with `kind` and a message containing `says`,
/// after exactly one POST, leaving every token as it was.
async fn refused(
    env: &Env,
    canned: &Canned,
    id: bankdeck::domain::ConnectionId,
    kind: ErrorKind,
    says: &str,
) {
    refused_keeping(env, canned, id, kind, says, None).await;
}

/// [`refused`], but for an answer carrying the refresh token `rotated`:
/// the provider has spent the one it was sent, so that one is kept in its
/// place, and every other token stays as it was.
async fn refused_keeping(
    env: &Env,
    canned: &Canned,
    id: bankdeck::domain::ConnectionId,
    kind: ErrorKind,
    says: &str,
    rotated: Option<&str>,
) {
    let before: Secrets = env.secrets(id);
    let hits = canned.hits();
    let e = env.op(OpKind::Refresh, id).await.unwrap_err();
    assert_eq!(e.kind, kind, "{e}");
    assert!(e.message.contains(says), "{says:?} not in {e}");
    assert_eq!(canned.hits(), hits + 1, "exactly one POST, no retry: {e}");
    let mut expected = before.clone();
    if let Some(rotated) = rotated {
        expected.refresh_token = Some(bankdeck::domain::Secret::new(rotated));
        assert!(
            e.message.contains("refresh token it carried was kept"),
            "{e}"
        );
    }
    assert_eq!(env.secrets(id), expected, "a token was lost on: {e}");
    let c = env.conn(id);
    assert_eq!(c.flags.last_error.as_deref(), Some(e.message.as_str()));
    assert!(!c.flags.reauth_required, "{e} is not a re-consent");
    for secret in before.all() {
        assert!(
            !e.message.contains(secret.expose()),
            "the message echoes a token"
        );
    }
}

#[tokio::test]
async fn bad_token_answers_give_a_sentence_and_lose_no_token() {
    let (env, canned, id, _keep) = setup().await;
    let cases: &[(u16, &str, &str, &str)] = &[
        // 1: a login page with 200.
        (
            200,
            "text/html",
            "<html><body>Sign in</body></html>",
            "HTML page instead of JSON",
        ),
        // 2: no access_token, no token_type.
        (
            200,
            "application/json",
            r#"{"token_type":"Bearer","expires_in":60,"refresh_token":"r-new"}"#,
            "no access_token",
        ),
        (
            200,
            "application/json",
            r#"{"access_token":"a-new","expires_in":60,"refresh_token":"r-new"}"#,
            "no token_type",
        ),
        // 3: expires_in 0, negative, not a number.
        (
            200,
            "application/json",
            r#"{"access_token":"a-new","token_type":"Bearer","expires_in":0,"refresh_token":"r-new"}"#,
            "is 0",
        ),
        (
            200,
            "application/json",
            r#"{"access_token":"a-new","token_type":"Bearer","expires_in":-30,"refresh_token":"r-new"}"#,
            "is -30",
        ),
        (
            200,
            "application/json",
            r#"{"access_token":"a-new","token_type":"Bearer","expires_in":"soon","refresh_token":"r-new"}"#,
            "not a number of seconds",
        ),
        // 4-ish: JSON cut short.
        (
            200,
            "application/json",
            r#"{"access_token":"a-new","token_ty"#,
            "not JSON",
        ),
    ];
    for (n, (status, ct, body, says)) in cases.iter().enumerate() {
        // Each answer's refresh token differs from the one held before it.
        let body = body.replace("r-new", &format!("r-new-{n}"));
        canned.answer(*status, ct, &body);
        let rotated = format!("r-new-{n}");
        let carried = body.contains(&rotated) && body.ends_with('}');
        let rotated = carried.then_some(rotated.as_str());
        refused_keeping(&env, &canned, id, ErrorKind::Protocol, says, rotated).await;
        // A success it could not read may have rotated the token in it.
        let said = env.conn(id).flags.last_error.unwrap_or_default();
        let spent = said.contains("so it may have spent the refresh token");
        assert_eq!(spent, *status == 200 && !carried, "{said}");
    }
}

/// A refresh that must succeed with an expiry `left` seconds after receipt.
async fn refresh_expecting(
    env: &Env,
    id: bankdeck::domain::ConnectionId,
    left: std::ops::RangeInclusive<i64>,
) -> bankdeck::domain::Connection {
    let t0 = UnixTime::now();
    let c = env.op(OpKind::Refresh, id).await.unwrap();
    let t1 = UnixTime::now();
    let exp = c.lifetimes.access.unwrap().at().unwrap();
    assert!(
        exp >= t0.plus_secs(*left.start()) && exp <= t1.plus_secs(*left.end()),
        "expiry {} is not receipt + {left:?} (receipt {}..{})",
        exp.0,
        t0.0,
        t1.0
    );
    c
}

#[tokio::test]
async fn configuration_errors_are_config_and_never_retried() {
    let (env, canned, id, _keep) = setup().await;
    for (status, code) in [
        (401, "invalid_client"),
        (400, "invalid_scope"),
        (400, "unauthorized_client"),
    ] {
        canned.answer(
            status,
            "application/json",
            &format!(r#"{{"error":"{code}","error_description":"told by the test"}}"#),
        );
        refused(&env, &canned, id, ErrorKind::Config, "told by the test").await;
    }
}

/// Items 3 and 6: odd but usable answers are taken, each with the lifetime
/// the policy promises, counted from our own receipt.
#[tokio::test]
async fn odd_but_usable_answers_are_stored_right() {
    let (env, canned, id, _keep) = setup().await;
    let refresh = |left: std::ops::RangeInclusive<i64>| refresh_expecting(&env, id, left);
    // expires_in missing and the token is opaque: 5 minutes assumed.
    canned.json(r#"{"access_token":"a1","token_type":"bearer","refresh_token":"r1"}"#);
    refresh(300..=300).await;
    // Told as the guess it is, not as what the provider said.
    let said = &env.store.audit(Some(id), 1).unwrap()[0].message;
    assert!(
        said.contains("taken as valid for 05:00 (the provider sent no expires_in)"),
        "{said}"
    );
    // Absurdly large: clamped to a year.
    canned.json(
        r#"{"access_token":"a2","token_type":"Bearer","expires_in":1e15,"refresh_token":"r2"}"#,
    );
    refresh(YEAR..=YEAR).await;
    // A quoted number is read.
    canned.json(
        r#"{"access_token":"a3","token_type":"Bearer","expires_in":"3600","refresh_token":"r3"}"#,
    );
    refresh(3600..=3600).await;
    // 6: an empty refresh_token keeps the old one; unknown fields are ignored.
    canned.json(
        r#"{"access_token":"a4","token_type":"Bearer","expires_in":60,"refresh_token":"",
            "x-vendor":{"nested":[1,2,{"deep":null}]},"scope":"accounts","ext_expires_in":"nope"}"#,
    );
    let c = refresh(60..=60).await;
    let s = env.secrets(id);
    assert_eq!(
        s.refresh_token.unwrap().expose(),
        "r3",
        "the old refresh token stays"
    );
    assert_eq!(s.access_token.unwrap().expose(), "a4");
    assert!(c.lifetimes.has_refresh);
    // Any visible ASCII in a token is kept byte for byte.
    let odd = "t0k-._~+/=!#$%&'()*,:;<=>?@[]^`{|}";
    canned.json(&format!(
        r#"{{"access_token":"{odd}","token_type":"Bearer","expires_in":60,"refresh_token":"r-~+/="}}"#
    ));
    refresh(60..=60).await;
    let s = env.secrets(id);
    assert_eq!(s.access_token.unwrap().expose(), odd);
    assert_eq!(s.refresh_token.unwrap().expose(), "r-~+/=");
    // Control characters in a provider's text never reach the screen.
    canned.answer(
        400,
        "application/json",
        "{\"error\":\"invalid_request\",\"error_description\":\"bad\\u0007\\u001b[2J thing ✓\"}",
    );
    let e = env.op(OpKind::Refresh, id).await.unwrap_err();
    assert!(e.message.contains("thing ✓"), "{e}");
    assert!(!e.message.chars().any(char::is_control), "{e:?}");
    assert_eq!(canned.hits(), 6);
}

/// An id token's claims as the token endpoint would sign them; the worker
/// reads them unverified, as it does every answer from the endpoint itself.
fn id_token(sub: &str) -> String {
    use base64::Engine;
    let part = |v: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let claims = serde_json::json!({"sub": sub, "aud": "canned", "exp": UnixTime::now().0 + 300});
    format!(
        "{}.{}.sig",
        part(serde_json::json!({"alg": "RS256"})),
        part(claims)
    )
}

/// OpenID Connect Core §12.2: a refresh's id token names the account the
/// login did. One naming another is refused whole: the row's account and
/// access token stay, and it needs a new consent. The new refresh token
/// the answer carried is kept (the old one is spent) so that a logout can
/// end that session, but no refresh is sent with it: an answer to it
/// without an id token would file the other account's tokens here.
#[tokio::test]
async fn a_refresh_answered_for_another_account_is_refused_and_asks_for_consent() {
    let (env, canned, id, _keep) = setup().await;
    let answer = |sub: Option<&str>, n: u32| {
        let id_token = sub.map_or(String::new(), |s| {
            format!(r#","id_token":"{}""#, id_token(s))
        });
        format!(
            r#"{{"access_token":"a-{n}","token_type":"Bearer","expires_in":300,"refresh_token":"r-{n}"{id_token}}}"#
        )
    };
    canned.json(&answer(Some("acct-1"), 1));
    env.op(OpKind::Refresh, id).await.unwrap();
    assert_eq!(env.conn(id).remote.user_id.as_deref(), Some("acct-1"));
    canned.json(&answer(Some("acct-2"), 2));
    let hits = canned.hits();
    let e = env.op(OpKind::Refresh, id).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Protocol, "{e}");
    assert!(
        e.message.contains(
            "for another account (sub \"acct-2\", this connection's is \"acct-1\"): none of its \
             tokens were used, and the user must log in again"
        ),
        "{e}"
    );
    assert_eq!(canned.hits(), hits + 1, "{e}");
    let c = env.conn(id);
    assert!(c.flags.reauth_required, "{e}");
    assert_eq!(c.remote.user_id.as_deref(), Some("acct-1"));
    let held = env.secrets(id);
    assert_eq!(held.access_token.unwrap().expose(), "a-1");
    assert_eq!(held.refresh_token.unwrap().expose(), "r-2");
    let line = &env.store.audit(Some(id), 1).unwrap()[0];
    assert!(
        line.message.starts_with("re-consent required: "),
        "{line:?}"
    );
    // The other account's refresh token is never sent to be refreshed.
    canned.json(&answer(None, 3));
    let e = env.op(OpKind::Refresh, id).await.unwrap_err();
    assert!(e.message.contains("re-consent required"), "{e}");
    assert_eq!(canned.hits(), hits + 1, "{e}");
    assert_eq!(env.secrets(id).access_token.unwrap().expose(), "a-1");
}

/// A provider that quotes a token it was not sent (the access token, in a
/// refresh's error) has it blanked from what is shown, stored and audited,
/// whole or cut short by the message's length.
#[tokio::test]
async fn a_held_token_the_provider_quotes_unsent_is_blanked() {
    let (env, canned, id, _keep) = setup().await;
    let quoted = [
        "token a0-known-access is still active".to_owned(),
        format!("{} a0-known-access", "x".repeat(288)),
    ];
    for description in quoted {
        let body = serde_json::json!({
            "error": "invalid_request",
            "error_description": description,
        });
        canned.answer(400, "application/json", &body.to_string());
        refused(&env, &canned, id, ErrorKind::Provider, "[redacted]").await;
        let said = &env.store.audit(Some(id), 1).unwrap()[0].message;
        assert!(!said.contains("a0-known-a"), "{said}");
    }
}
