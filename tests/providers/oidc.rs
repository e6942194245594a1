//! OpenID Connect end to end: discovery (cached, checked, overridden by
//! explicit endpoints), the login with nonce and `iss`, refresh, logout.

use std::time::Duration;

use axum::response::Html;
use axum::routing::{get, post};
use axum::{Json, Router};
use bankdeck::config::Family;
use bankdeck::domain::{ErrorKind, Secret};
use bankdeck::providers::{browser_login, build};
use serde_json::json;

use super::auth_server::{self, Consent, issue_refresh_token, refresh_token_alive};
use super::support::{
    CLIENT_ID, Counter, follow_in_background, follow_keeping_page, login_options, oidc_config,
    serve, url,
};

#[tokio::test]
async fn login_checks_nonce_and_issuer_then_refresh_and_logout() {
    let server = auth_server::start().await;
    let p = build(&oidc_config(&server.base)).unwrap();
    let g = browser_login(p.as_ref(), login_options(Duration::from_secs(10)), |u| {
        assert!(u.contains("nonce=") && u.contains("code_challenge_method=S256"));
        assert!(u.contains("scope=openid+accounts+payments"), "{u}");
        follow_in_background(u)
    })
    .await
    .unwrap();
    assert_eq!(g.subject.as_deref(), Some("user-42"));
    assert!(g.id_token.is_some());
    let rt = g.refresh_token.unwrap();
    let g2 = p.refresh(&rt).await.unwrap();
    let rt2 = g2.refresh_token.unwrap();
    p.logout(&rt2).await.unwrap();
    assert!(!refresh_token_alive(&server, rt2.expose()));
    assert_eq!(
        *server.ended.lock().unwrap(),
        vec![format!("logout:{}", rt2.expose())]
    );
    assert_eq!(server.discovery_calls.get(), 1, "discovery is cached");
}

/// The code is good but its redemption fails: the browser's page says so,
/// where it used to say "Login complete" as soon as the code arrived.
#[tokio::test]
async fn a_wrong_nonce_in_the_id_token_fails_the_login() {
    let server = auth_server::start().await;
    *server.consent.lock().unwrap() = Consent::WrongNonce;
    let p = build(&oidc_config(&server.base)).unwrap();
    let (follow, page) = follow_keeping_page();
    let e = browser_login(p.as_ref(), login_options(Duration::from_secs(10)), follow)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Protocol);
    assert!(e.message.contains("nonce"), "{}", e.message);
    let (_, status, body) = page.await.unwrap();
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("Login failed: "), "{body}");
    assert!(body.contains("nonce"), "{body}");
    assert!(!body.contains("complete"), "{body}");
}

/// OpenID Connect Core §3.1.3.7: the id token must be the issuer's, for
/// this client, unexpired, and name an account; the `sub` in it is what a
/// login files its tokens under.
#[tokio::test]
async fn an_id_token_not_for_this_client_fails_the_login() {
    let server = auth_server::start().await;
    let p = build(&oidc_config(&server.base)).unwrap();
    let past = bankdeck::domain::UnixTime::now().0 - 600;
    let cases = [
        (
            json!({"iss": "https://evil.example/realms/test"}),
            "was issued by \"https://evil.example/realms/test\"",
        ),
        (
            json!({"iss": format!("{}/", server.issuer)}),
            "not by this provider's issuer",
        ),
        (json!({"iss": null}), "names no issuer"),
        (
            json!({"aud": "another-client"}),
            "is for another client (aud \"another-client\")",
        ),
        (
            json!({"aud": ["another-client", CLIENT_ID], "azp": "another-client"}),
            "issued to another client (azp",
        ),
        (json!({"aud": null}), "names no audience"),
        (json!({"exp": past, "iat": past - 300}), "expired 10m ago"),
        (json!({"exp": null}), "has no expiry"),
        (json!({"sub": null}), "names no account"),
        (json!({"sub": " "}), "names no account"),
        (
            json!({"sub": "sub\u{1b}]0;X\u{7}\nFORGED"}),
            "not printable ASCII",
        ),
        (json!({"sub": "s".repeat(256)}), "more than 255 characters"),
    ];
    for (claims, says) in cases {
        *server.id_claims.lock().unwrap() = claims.clone();
        let e = browser_login(p.as_ref(), login_options(Duration::from_secs(10)), |u| {
            follow_in_background(u)
        })
        .await
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Protocol, "{claims}: {}", e.message);
        assert!(
            e.message.contains(says),
            "{claims}: {says:?} not in {}",
            e.message
        );
    }
    // Several audiences with this client among them, and a clock a minute
    // behind the provider's, are taken.
    let late = bankdeck::domain::UnixTime::now().0 - 60;
    *server.id_claims.lock().unwrap() =
        json!({"aud": ["account", CLIENT_ID], "exp": late, "iat": late - 300});
    browser_login(p.as_ref(), login_options(Duration::from_secs(10)), |u| {
        follow_in_background(u)
    })
    .await
    .unwrap();
}

/// Core §12.2: a refresh's id token is the same issuer's, for the same
/// client. One that is not is refused, and the refresh token its answer
/// carried is handed back to be kept: the provider spent the old one.
#[tokio::test]
async fn a_refresh_whose_id_token_is_another_issuers_is_refused_keeping_its_refresh_token() {
    let server = auth_server::start().await;
    let p = build(&oidc_config(&server.base)).unwrap();
    let g = browser_login(p.as_ref(), login_options(Duration::from_secs(10)), |u| {
        follow_in_background(u)
    })
    .await
    .unwrap();
    let rt = p
        .refresh(&g.refresh_token.unwrap())
        .await
        .unwrap()
        .refresh_token
        .unwrap();
    *server.id_claims.lock().unwrap() = json!({"iss": "https://evil.example/realms/test"});
    let f = p.refresh(&rt).await.unwrap_err();
    assert_eq!(f.error.kind, ErrorKind::Protocol, "{}", f.error.message);
    assert!(
        f.error.message.contains("was issued by"),
        "{}",
        f.error.message
    );
    let rotated = f.rotated.expect("the answer's refresh token");
    assert!(refresh_token_alive(&server, rotated.expose()));
    assert!(!refresh_token_alive(&server, rt.expose()));
}

/// An issuer is set, and its document names no authorization endpoint:
/// "set authorize_url or an issuer" sent the operator to what was there.
#[tokio::test]
async fn a_discovery_without_an_authorization_endpoint_says_what_to_set() {
    let base = issuer_with(json!({"issuer": "SELF"})).await;
    let p = build(&oidc_config(&base)).unwrap();
    let e = p
        .authorization_request("http://127.0.0.1:9/callback")
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Config);
    assert!(
        e.message
            .contains("the issuer's discovery document names none: set authorize_url"),
        "{}",
        e.message
    );
}

#[tokio::test]
async fn explicit_endpoints_override_discovered_ones() {
    let server = auth_server::start().await;
    issue_refresh_token(&server, "rt-a");
    let mut cfg = oidc_config(&server.base);
    let other = auth_server::start().await;
    issue_refresh_token(&other, "rt-a");
    if let Family::Oidc(o) = &mut cfg.family {
        o.logout_url = Some(url(&format!(
            "{}/realms/test/protocol/openid-connect/logout",
            other.base
        )));
    }
    let p = build(&cfg).unwrap();
    p.logout(&Secret::new("rt-a")).await.unwrap();
    assert!(refresh_token_alive(&server, "rt-a"));
    assert!(!refresh_token_alive(&other, "rt-a"));
}

/// An issuer whose discovery document says whatever `doc` says.
async fn issuer_with(doc: serde_json::Value) -> String {
    let base_cell = std::sync::Arc::new(std::sync::OnceLock::<String>::new());
    let cell = base_cell.clone();
    let app = Router::new().route(
        "/realms/test/.well-known/openid-configuration",
        get(move || {
            let mut doc = doc.clone();
            let base = cell.get().cloned().unwrap_or_default();
            if doc["issuer"] == "SELF" {
                doc["issuer"] = json!(format!("{base}/realms/test"));
            }
            async move { Json(doc) }
        }),
    );
    let base = serve(app).await;
    base_cell.set(base.clone()).unwrap();
    base
}

#[tokio::test]
async fn discovered_endpoints_are_checked_like_configured_ones() {
    let base =
        issuer_with(json!({"issuer": "SELF", "token_endpoint": "http://bank.example/token"})).await;
    let p = build(&oidc_config(&base)).unwrap();
    let e = p.refresh(&Secret::new("rt")).await.unwrap_err().error;
    assert_eq!(e.kind, ErrorKind::Protocol);
    assert!(
        e.message.contains("token_endpoint") && e.message.contains("http://"),
        "{}",
        e.message
    );

    let base = issuer_with(json!({"issuer": "https://elsewhere.example", "token_endpoint": "https://elsewhere.example/t"}))
        .await;
    let p = build(&oidc_config(&base)).unwrap();
    let e = p.refresh(&Secret::new("rt")).await.unwrap_err().error;
    assert_eq!(e.kind, ErrorKind::Protocol);
    assert!(e.message.contains("issuer"), "{}", e.message);
}

/// An oidc-provider-like issuer: `end_session_endpoint` is a browser page
/// (`/session/end`, answering 200 HTML to anything), revocation is separate.
async fn browser_logout_issuer() -> (String, Counter, Counter) {
    let (pages, revocations) = (Counter::default(), Counter::default());
    let (p, r) = (pages.clone(), revocations.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let doc = json!({
        "issuer": format!("{base}/realms/test"),
        "token_endpoint": format!("{base}/token"),
        "end_session_endpoint": format!("{base}/session/end"),
        "revocation_endpoint": format!("{base}/token/revocation"),
    });
    let page = move || async move {
        p.bump();
        Html("<form id=op.logoutForm>Do you want to sign out?</form>")
    };
    let app = Router::new()
        .route(
            "/realms/test/.well-known/openid-configuration",
            get(move || async move { Json(doc) }),
        )
        .route("/session/end", get(page.clone()).post(page))
        .route(
            "/token/revocation",
            post(move || async move {
                r.bump();
                ""
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, pages, revocations)
}

#[tokio::test]
async fn a_browser_end_session_page_is_not_mistaken_for_a_logout() {
    let (base, pages, revocations) = browser_logout_issuer().await;
    let p = build(&oidc_config(&base)).unwrap();
    p.logout(&Secret::new("rt")).await.unwrap();
    assert_eq!(
        (pages.get(), revocations.get()),
        (0, 1),
        "revoked, page untouched"
    );

    let mut cfg = oidc_config(&base);
    if let Family::Oidc(o) = &mut cfg.family {
        o.logout_url = Some(url(&format!("{base}/session/end")));
    }
    let e = build(&cfg)
        .unwrap()
        .logout(&Secret::new("rt"))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Protocol);
    assert!(e.message.contains("HTML page"), "{}", e.message);
}

#[tokio::test]
async fn client_credentials_ask_for_no_user_scopes() {
    let server = auth_server::start().await;
    let mut cfg = oidc_config(&server.base);
    if let Family::Oidc(o) = &mut cfg.family {
        o.client.scopes = vec!["openid".into(), "offline_access".into(), "accounts".into()];
    }
    let g = build(&cfg).unwrap().client_credentials().await.unwrap();
    assert_eq!(
        server.last_scope.lock().unwrap().as_deref(),
        Some("accounts")
    );
    assert!(g.refresh_token.is_none());
}

/// A realm whose discovery names only a browser's logout (RP-initiated, as
/// oidc-provider's `/session/end`) and no revocation: logout says that the
/// endpoint is there and why it is not used, and what to set.
#[tokio::test]
async fn a_realm_with_only_a_browser_logout_says_why_logout_cannot_end_it() {
    let doc = |headers: axum::http::HeaderMap| async move {
        let host = headers.get("host").and_then(|h| h.to_str().ok());
        let realm = format!("http://{}/realms/test", host.unwrap_or_default());
        Json(json!({
            "issuer": realm,
            "authorization_endpoint": format!("{realm}/auth"),
            "token_endpoint": format!("{realm}/token"),
            "end_session_endpoint": format!("{realm}/session/end"),
        }))
    };
    let app = Router::new().route("/realms/test/.well-known/openid-configuration", get(doc));
    let base = serve(app).await;
    let p = build(&oidc_config(&base)).unwrap();
    let e = p.logout(&Secret::new("rt-0123456789")).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotAllowed, "{e}");
    assert!(
        e.message.contains("/session/end, is a browser's logout")
            && e.message.contains("set logout_url or revocation_url"),
        "{}",
        e.message
    );
}
