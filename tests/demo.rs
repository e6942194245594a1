//! The demo seeds every state of the design through the real engine and the
//! sandbox over HTTP; this test holds it to that promise.

use std::collections::BTreeSet;

use bankdeck::cli::demo;
use bankdeck::domain::{ConnState, OpKind, StateKind, UnixTime};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_has_a_connection_in_every_state() {
    let demo = demo::start().await.expect("demo starts");
    let conns = demo.store.connections().unwrap();
    let now = UnixTime::now();
    let warn = demo.config.warn_secs();
    let kinds: BTreeSet<StateKind> = conns
        .iter()
        .map(|c| ConnState::derive(c, now, warn).kind())
        .collect();
    for k in [
        StateKind::CodePending,
        StateKind::CodeExpired,
        StateKind::Active,
        StateKind::Expiring,
        StateKind::Expired,
        StateKind::ReauthRequired,
        StateKind::LoggedOut,
        StateKind::Delinked,
        StateKind::Failed,
    ] {
        assert!(kinds.contains(&k), "no demo connection is {k}: {kinds:?}");
    }
    assert!(demo.store.users().unwrap().len() >= 12);
    // The failed one carries the provider's own message (seed 002's INVALID_TOKEN).
    let failed = conns
        .iter()
        .find(|c| ConnState::derive(c, now, warn).kind() == StateKind::Failed)
        .unwrap();
    assert!(
        failed
            .flags
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("Invalid token"),
        "{:?}",
        failed.flags.last_error
    );
    // The expiry the demo moved is audited as what it is, in plain words.
    let expired = conns
        .iter()
        .find(|c| ConnState::derive(c, now, warn).kind() == StateKind::Expired)
        .unwrap();
    let audit = demo.store.audit(Some(expired.id), 10).unwrap();
    let moved = audit
        .iter()
        .find(|a| a.message.contains("to show the state"))
        .expect("the moved expiry is audited");
    assert_eq!((moved.op, moved.actor.as_str()), (OpKind::Adjust, "demo"));
    // The row's last op is that adjustment, not a refresh that never ran.
    let last = expired.last_op.as_ref().unwrap();
    assert_eq!((last.op, last.ok), (OpKind::Adjust, true));
    assert_eq!(
        moved.message,
        "access token set to have expired 180 s ago, to show the state"
    );
    // The logged-out one still has its access token counting down.
    let out = conns
        .iter()
        .map(|c| ConnState::derive(c, now, warn))
        .find(|s| s.kind() == StateKind::LoggedOut)
        .unwrap();
    assert!(matches!(
        out,
        ConnState::LoggedOut {
            access_until: Some(_)
        }
    ));
}
