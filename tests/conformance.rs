//! Conformance of bankdeck's OAuth 2.0 / OpenID Connect client against a real,
//! independent OpenID provider: the npm package `oidc-provider` (OpenID
//! Certified), pinned by `tests/conformance/package-lock.json`, served over
//! TLS on 127.0.0.1 with a throw-away CA that bankdeck trusts via `ca_file`.
//!
//! bankdeck is driven through its library as the product runs it (config
//! loader, `providers::build`, encrypted store, worker; logins through the
//! real loopback listener and `$BROWSER`); what the provider thinks is asked
//! of the provider itself (discovery, introspection). One server serves the
//! whole binary; the expiry test starts a second one with a 2 s lifetime.
//! Never skipped: without Node.js the run fails and says what to install.
//! `tests/conformance/README.md` lists the provider's behaviour relied on.

#[path = "conformance/harness.rs"]
mod harness;
#[path = "conformance/rig.rs"]
mod rig;

use std::time::{Duration, Instant};

use bankdeck::domain::{
    AccessExpiry, Claims, ConnState, ErrorKind, Grant, OpKind, StateKind, UnixTime,
};
use bankdeck::providers::{Http, discovery};
use bankdeck::worker::APP_USER;
use harness::{LOGIN, Server, shared};
use rig::{Op, Rig, SCOPES, WARN_SECS, assert_kind};

/// The `scope` of an introspection answer, as a list.
fn scope_list(said: &serde_json::Value) -> Vec<String> {
    let scope = said["scope"]
        .as_str()
        .unwrap_or_else(|| panic!("no scope: {said}"));
    scope.split_whitespace().map(str::to_owned).collect()
}

/// The shared server with a rig and the provider's view of it.
async fn setup() -> (&'static harness::Shared, Rig, Op) {
    let sh = shared();
    let rig = Rig::new(&sh.server.issuer, &sh.ca_file()).await;
    let op = Op::discover(&sh.server.issuer, &sh.ca_file()).await;
    (sh, rig, op)
}

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
        .client_credentials("basic", APP_USER)
        .await
        .expect("client credentials grant");
    assert_eq!(conn.grant, Grant::ClientCredentials);
    assert_eq!(conn.user, APP_USER);
    assert_eq!(rig.kind(conn.id), StateKind::Active);
    let secrets = rig.secrets(conn.id);
    assert!(secrets.refresh_token.is_none() && secrets.id_token.is_none());

    let said = op.introspect(&rig.access_token(conn.id)).await;
    assert_eq!(said["active"], true, "{said}");
    assert_eq!(
        conn.scopes.granted,
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
        .client_credentials(provider, APP_USER)
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
            .client_credentials("basic-as-post", APP_USER)
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
    let mut granted = conn.scopes.granted.clone();
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
        conn.scopes.granted,
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

#[tokio::test]
async fn refresh_rotates_and_the_store_holds_the_newest_token() {
    let (sh, rig, op) = setup().await;
    let conn = rig.login("basic", "alice", &sh.dir).await;
    let mut seen = vec![rig.refresh_token(conn.id)];
    let mut access = rig.access_token(conn.id);
    for _ in 0..2 {
        let after = rig
            .worker
            .operate(OpKind::Refresh, conn.id)
            .await
            .expect("refresh");
        assert_eq!(rig.kind(after.id), StateKind::Active);
        let rt = rig.refresh_token(conn.id);
        assert!(!seen.contains(&rt), "the refresh token rotated");
        assert!(
            op.is_active(&rt).await,
            "the stored refresh token is the live one"
        );
        let previous = seen.last().expect("one seen");
        assert!(!op.is_active(previous).await, "the replaced one is spent");
        let new_access = rig.access_token(conn.id);
        assert_ne!(new_access, access);
        assert!(op.is_active(&new_access).await);
        access = new_access;
        seen.push(rt);
    }
}

#[tokio::test]
async fn reusing_a_rotated_refresh_token_needs_reconsent_and_spares_others() {
    let (sh, rig, op) = setup().await;
    let a = rig.login("basic", "alice", &sh.dir).await;
    let b = rig.login("basic", "bob", &sh.dir).await;
    let rotated = rig.refresh_token(a.id);
    rig.worker
        .operate(OpKind::Refresh, a.id)
        .await
        .expect("first refresh");
    let b_before = rig.secrets(b.id);

    // A stale copy of A's old refresh token is replayed (another bankdeck, a
    // restored backup, a thief): the server revokes A's whole grant.
    let replay = rig.another_client("basic").refresh(&rotated).await;
    assert_kind(replay, ErrorKind::ReauthRequired);
    assert!(
        !op.is_active(&rig.access_token(a.id)).await,
        "grant revoked"
    );

    let e = assert_kind(
        rig.worker.operate(OpKind::Refresh, a.id).await,
        ErrorKind::ReauthRequired,
    );
    assert!(e.message.contains("invalid_grant"), "{}", e.message);
    assert_eq!(rig.kind(a.id), StateKind::ReauthRequired);
    assert_eq!(
        rig.state(a.id).describe(UnixTime::now()),
        "re-consent required"
    );
    // The scheduler and operator are now refused locally: no loop at the server.
    assert_kind(
        rig.worker.operate(OpKind::Refresh, a.id).await,
        ErrorKind::NotAllowed,
    );

    // B lost nothing: same tokens, still live, still refreshable.
    assert_eq!(rig.secrets(b.id), b_before);
    assert_eq!(rig.kind(b.id), StateKind::Active);
    assert!(op.is_active(&rig.access_token(b.id)).await);
    rig.worker
        .operate(OpKind::Refresh, b.id)
        .await
        .expect("B still refreshes");
}

#[tokio::test]
async fn revocation_at_the_provider_makes_the_next_refresh_need_reconsent() {
    let (sh, rig, op) = setup().await;
    let by_refresh = rig.login("basic", "alice", &sh.dir).await;
    let by_access = rig.login("post", "bob", &sh.dir).await;
    let rt = rig.refresh_token(by_refresh.id);
    op.revoke(&rt, "refresh_token", "bankdeck-basic").await;
    let at = rig.access_token(by_access.id);
    op.revoke(&at, "access_token", "bankdeck-post").await;
    for conn in [&by_refresh, &by_access] {
        assert!(!op.is_active(&rig.refresh_token(conn.id)).await);
        assert!(!op.is_active(&rig.access_token(conn.id)).await);
        // bankdeck learns of it at the next refresh.
        assert_eq!(rig.kind(conn.id), StateKind::Active);
        assert_kind(
            rig.worker.operate(OpKind::Refresh, conn.id).await,
            ErrorKind::ReauthRequired,
        );
        assert_eq!(rig.kind(conn.id), StateKind::ReauthRequired);
    }
}

#[tokio::test]
async fn access_token_lives_60_s_as_introspection_confirms() {
    let (sh, rig, op) = setup().await;
    let before = UnixTime::now();
    let conn = rig.login("basic", "alice", &sh.dir).await;
    let after = UnixTime::now();
    let said = op.introspect(&rig.access_token(conn.id)).await;
    let (exp, iat) = (
        said["exp"].as_i64().expect("exp"),
        said["iat"].as_i64().expect("iat"),
    );
    assert_eq!(exp - iat, 60, "{said}");

    let received = conn.lifetimes.access_received_at.expect("receipt time");
    assert!(before <= received && received <= after);
    let expires = conn
        .lifetimes
        .access
        .and_then(AccessExpiry::at)
        .expect("expiry");
    assert_eq!(expires, received.plus_secs(60));
    assert!(
        (expires.0 - exp).abs() <= 2,
        "ours {} vs the server's {exp}",
        expires.0
    );
    assert_eq!(conn.lifetimes.access_lifetime_secs(), Some(60));

    // The state follows the stored expiry.
    let c = rig.connection(conn.id);
    let at = |secs| ConnState::derive(&c, expires.plus_secs(secs), WARN_SECS).kind();
    assert_eq!(at(-30), StateKind::Active);
    assert_eq!(at(-5), StateKind::Expiring);
    assert_eq!(
        ConnState::derive(&c, expires, WARN_SECS),
        ConnState::Expired {
            since: expires,
            refreshable: true
        }
    );
}

#[tokio::test]
async fn an_expired_access_token_reads_expired_and_refresh_revives_it() {
    let sh = shared();
    let short = Server::start(
        &sh.dir,
        &[("CONF_ACCESS_TTL", "2"), ("CONF_CLOCK_TOLERANCE", "0")],
    );
    let rig = Rig::new(&short.issuer, &sh.ca_file()).await;
    let op = Op::discover(&short.issuer, &sh.ca_file()).await;
    let conn = rig.login("basic", "alice", &sh.dir).await;
    let access = rig.access_token(conn.id);
    assert!(op.is_active(&access).await);

    // Wait on the real condition: the server says inactive and we say expired.
    let deadline = Instant::now() + Duration::from_secs(10);
    while op.is_active(&access).await || rig.kind(conn.id) != StateKind::Expired {
        assert!(Instant::now() < deadline, "the 2 s token never expired");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(matches!(
        rig.state(conn.id),
        ConnState::Expired {
            refreshable: true,
            ..
        }
    ));

    rig.worker
        .operate(OpKind::Refresh, conn.id)
        .await
        .expect("an expired access token is refreshed");
    let renewed = rig.access_token(conn.id);
    assert_ne!(renewed, access);
    assert!(op.is_active(&renewed).await);
    assert!(matches!(
        rig.kind(conn.id),
        StateKind::Active | StateKind::Expiring
    ));
}

#[tokio::test]
async fn logout_revokes_at_the_provider_and_reads_logged_out() {
    let (sh, rig, op) = setup().await;
    let conn = rig.login("basic", "alice", &sh.dir).await;
    let other = rig.login("basic", "bob", &sh.dir).await;
    let rt = rig.refresh_token(conn.id);
    let access = rig.access_token(conn.id);

    let out = rig
        .worker
        .operate(OpKind::Logout, conn.id)
        .await
        .expect("logout");
    assert_eq!(rig.kind(out.id), StateKind::LoggedOut);
    assert!(
        rig.state(conn.id)
            .describe(UnixTime::now())
            .starts_with("logged out")
    );
    let held = rig.secrets(conn.id);
    assert!(held.refresh_token.is_none(), "the refresh token is erased");
    assert!(!rig.connection(conn.id).lifetimes.has_refresh);

    // What the server says: the refresh token is dead, and (oidc-provider
    // revokes the whole grant) so is the access token.
    assert!(!op.is_active(&rt).await, "refresh token revoked");
    assert!(!op.is_active(&access).await, "the grant went with it");
    let replay = rig.another_client("basic").refresh(&rt).await;
    assert_kind(replay, ErrorKind::ReauthRequired);

    // Nothing further to do on it, and the other connection is untouched.
    assert_kind(
        rig.worker.operate(OpKind::Refresh, conn.id).await,
        ErrorKind::NotAllowed,
    );
    assert_kind(
        rig.worker.operate(OpKind::Logout, conn.id).await,
        ErrorKind::NotAllowed,
    );
    assert!(op.is_active(&rig.refresh_token(other.id)).await);
    assert_eq!(rig.kind(other.id), StateKind::Active);
}
