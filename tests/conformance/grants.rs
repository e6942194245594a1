//! Getting tokens: discovery, client credentials, client authentication
//! methods, and the browser login (authorization code with PKCE).

use bankdeck::domain::{AccessExpiry, Claims, ErrorKind, Grant, OpKind, StateKind, UnixTime};
use bankdeck::providers::{Http, discovery};
use bankdeck::worker::{APP_USER, RequestId};

use crate::harness::LOGIN;
use crate::rig::{SCOPES, assert_kind, scope_list, setup};

#[tokio::test]
async fn discovery_finds_the_endpoints_over_tls_trusting_only_the_throwaway_ca() {
    let (sh, rig, _op) = setup().await;
    let issuer = &sh.server.issuer;
    let cfg = &rig.config.providers["basic"];
    let bankdeck::config::Family::Oidc(oidc) = &cfg.family else {
        panic!("basic is an oidc provider");
    };
    let http = Http::new(&cfg.common).expect("client with ca_file");
    let ep = discovery::discover(&http, oidc, oidc.issuer.as_ref().expect("issuer"))
        .await
        .expect("discovery succeeds");
    let at = |path: &str| Some(format!("{issuer}{path}"));
    let s = |u: &Option<url::Url>| u.as_ref().map(|u| u.to_string());
    assert_eq!(ep.issuer.as_deref(), Some(issuer.as_str()));
    assert_eq!(s(&ep.authorize), at("/auth"));
    assert_eq!(s(&ep.token), at("/token"));
    assert_eq!(s(&ep.discovered_revocation), at("/token/revocation"));
    assert_eq!(s(&ep.end_session), at("/session/end"));
    assert!(ep.iss_in_callback, "RFC 9207 iss is announced");

    // Without the throw-away CA the same provider is not trusted.
    let mut untrusted = cfg.clone();
    untrusted.common.ca_file = None;
    let client = bankdeck::providers::build(&untrusted).expect("provider builds");
    let e = assert_kind(client.client_credentials().await, ErrorKind::Config);
    assert!(e.message.contains("not trusted"), "{}", e.message);

    // The document must name the issuer we asked for (mix-up defence):
    // `localhost` reaches the same server (the certificate names it) but the
    // document says 127.0.0.1.
    let mut other = oidc.as_ref().clone();
    let renamed = issuer.replace("127.0.0.1", "localhost");
    other.issuer = Some(url::Url::parse(&renamed).expect("url"));
    let e = discovery::discover(&http, &other, other.issuer.as_ref().expect("issuer"))
        .await
        .expect_err("another issuer's document is refused");
    assert_eq!(e.kind, ErrorKind::Protocol, "{}", e.message);
}

#[tokio::test]
async fn client_credentials_token_is_filed_and_active_at_the_provider() {
    let (_sh, rig, op) = setup().await;
    let before = UnixTime::now();
    let conn = rig
        .worker
        .client_credentials(RequestId(1), "basic", APP_USER)
        .await
        .expect("client credentials grant")
        .conn;
    assert_eq!(conn.grant, Grant::ClientCredentials);
    assert_eq!(conn.user, APP_USER);
    assert_eq!(rig.kind(conn.id), StateKind::Active);
    let secrets = rig.secrets(conn.id);
    assert!(secrets.refresh_token.is_none() && secrets.id_token.is_none());

    let said = op.introspect(&rig.access_token(conn.id)).await;
    assert_eq!(said["active"], true, "{said}");
    assert_eq!(
        *conn.scopes.granted,
        scope_list(&said),
        "stored scopes are the server's"
    );
    assert_eq!(said["client_id"], "bankdeck-basic");
    assert!(
        said.get("sub").is_none(),
        "an app token has no subject: {said}"
    );
    let exp = said["exp"].as_i64().expect("exp");
    let stored = conn
        .lifetimes
        .access
        .and_then(AccessExpiry::at)
        .expect("expiry");
    assert!(
        (stored.0 - exp).abs() <= 2 && exp >= before.0,
        "{stored:?} vs {exp}"
    );

    // Renewing an app token runs the grant again: a new, active token.
    let old = rig.access_token(conn.id);
    rig.worker
        .operate(OpKind::Refresh, conn.id)
        .await
        .expect("re-run of the grant");
    let new = rig.access_token(conn.id);
    assert_ne!(old, new);
    assert!(op.is_active(&new).await);
}

/// Login, refresh and client credentials all authenticate with the method the
/// section names; the server refuses the other one (strict client auth), so
/// the success proves what was sent.
async fn client_auth_method_is_used(provider: &str) {
    let (sh, rig, op) = setup().await;
    let conn = rig.login(provider, "alice", &sh.dir).await;
    let rt = rig.refresh_token(conn.id);
    rig.worker
        .operate(OpKind::Refresh, conn.id)
        .await
        .expect("refresh authenticates");
    assert_ne!(rig.refresh_token(conn.id), rt);
    rig.worker
        .client_credentials(RequestId(1), provider, APP_USER)
        .await
        .expect("client credentials authenticate");
    let said = op.introspect(&rig.access_token(conn.id)).await;
    assert_eq!(said["client_id"], format!("bankdeck-{provider}"), "{said}");
    // Logout authenticates at the revocation endpoint the same way.
    let rt = rig.refresh_token(conn.id);
    rig.worker
        .operate(OpKind::Logout, conn.id)
        .await
        .expect("revocation authenticates");
    assert!(!op.is_active(&rt).await);
}

#[tokio::test]
async fn client_secret_basic_authenticates_every_call() {
    client_auth_method_is_used("basic").await;
    // The server really tells the methods apart: bankdeck-basic sending
    // client_secret_post is refused as a configuration error.
    let (_sh, rig, _op) = setup().await;
    let e = assert_kind(
        rig.worker
            .client_credentials(RequestId(1), "basic-as-post", APP_USER)
            .await,
        ErrorKind::Config,
    );
    assert!(e.message.contains("invalid_client"), "{}", e.message);
}

#[tokio::test]
async fn client_secret_post_authenticates_every_call() {
    client_auth_method_is_used("post").await;
}

#[tokio::test]
async fn authorization_code_with_pkce_through_the_loopback_listener() {
    let (sh, rig, op) = setup().await;
    // What the browser is sent: PKCE S256, state, nonce, prompt=consent (for
    // offline_access), and the issuer the callback's `iss` must equal.
    let request = rig
        .another_client("basic")
        .authorization_request("http://127.0.0.1:1/callback")
        .await
        .expect("authorization request");
    let url = url::Url::parse(&request.url).expect("authorization URL");
    let query: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(
        url.as_str().split('?').next(),
        Some(format!("{}/auth", sh.server.issuer).as_str())
    );
    let param = |k: &str| query.get(k).map(String::as_str);
    assert_eq!(param("code_challenge_method"), Some("S256"));
    assert_eq!(param("prompt"), Some("consent"));
    assert_eq!(param("state"), Some(request.state.expose()));
    assert_eq!(
        query.get("nonce").map(String::as_str),
        request.nonce.as_ref().map(|n| n.expose())
    );
    assert_eq!(request.issuer.as_deref(), Some(sh.server.issuer.as_str()));

    let before = UnixTime::now();
    let conn = rig.login("basic", "alice", &sh.dir).await;
    assert_eq!(conn.grant, Grant::AuthorizationCode);
    assert_eq!(conn.user, "alice");
    assert_eq!(
        conn.remote.user_id.as_deref(),
        Some(LOGIN),
        "sub from the id token"
    );
    assert_eq!(rig.kind(conn.id), StateKind::Active);
    // Everything asked for was granted, offline_access included (it needs
    // prompt=consent at oidc-provider).
    let mut granted = conn.scopes.granted.to_vec();
    granted.sort();
    let mut asked = SCOPES.map(str::to_owned).to_vec();
    asked.sort();
    assert_eq!(granted, asked);
    assert!(conn.scopes.denied.is_empty(), "{:?}", conn.scopes.denied);

    let secrets = rig.secrets(conn.id);
    let id_token = secrets.id_token.expect("an id token is held");
    let claims = Claims::decode(id_token.expose()).expect("the id token is a JWT");
    assert_eq!(claims.str("iss"), Some(sh.server.issuer.as_str()));
    assert_eq!(claims.str("aud"), Some("bankdeck-basic"));
    assert_eq!(claims.str("sub"), Some(LOGIN));
    assert!(claims.str("nonce").is_some(), "the nonce came back");
    assert!(claims.iat().is_some_and(|t| t.0 >= before.0 - 2));

    let said = op.introspect(&rig.access_token(conn.id)).await;
    assert_eq!(said["active"], true, "{said}");
    assert_eq!(
        scope_list(&said),
        conn.scopes.granted.to_vec(),
        "stored scopes are the server's"
    );
    assert_eq!(said["sub"], LOGIN);
    assert_eq!(said["client_id"], "bankdeck-basic");
    let said = op.introspect(&rig.refresh_token(conn.id)).await;
    assert_eq!(said["active"], true, "the refresh token is live: {said}");
    assert!(
        said["scope"]
            .as_str()
            .is_some_and(|s| s.contains("offline_access")),
        "{said}"
    );
}
