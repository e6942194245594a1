//! Living with tokens: refresh with rotation, reuse of a rotated token,
//! revocation, expiry (the 60 s lifetime, and a real one on a 2 s server)
//! and logout.

use std::time::{Duration, Instant};

use bankdeck::domain::{AccessExpiry, ConnState, ErrorKind, OpKind, StateKind, UnixTime};

use crate::harness::{Server, shared};
use crate::rig::{Op, Rig, WARN_SECS, assert_kind, setup};

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
    let replay = rig
        .another_client("basic")
        .refresh(&rotated)
        .await
        .map_err(|f| f.error);
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
    let replay = rig
        .another_client("basic")
        .refresh(&rt)
        .await
        .map_err(|f| f.error);
    assert_kind(replay, ErrorKind::ReauthRequired);

    // Nothing further to do on it, and the other connection is untouched.
    assert_kind(
        rig.worker.operate(OpKind::Refresh, conn.id).await,
        ErrorKind::Ended,
    );
    assert_kind(
        rig.worker.operate(OpKind::Logout, conn.id).await,
        ErrorKind::Ended,
    );
    assert!(op.is_active(&rig.refresh_token(other.id)).await);
    assert_eq!(rig.kind(other.id), StateKind::Active);
}
