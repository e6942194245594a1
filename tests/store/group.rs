//! Many writers at once: every write is answered with its own outcome after
//! the commit that holds it, a failing write takes none of the others with
//! it, and an operation's outcome gives its lease back in the same write.

use std::sync::{Arc, Barrier};

use bankdeck::domain::{ConnectionId, OpKind, Secret};
use bankdeck::store::{ConnectionUpdate, SecretChange, Store, StoreError};

use crate::common::{Env, NOW, audit, full_connection};

#[test]
fn concurrent_operations_commit_their_own_outcomes_and_release_their_leases() {
    let env = Env::new();
    let store = Arc::new(env.open());
    let user = store
        .add_user("amira", None, audit(OpKind::AddUser, "added"))
        .unwrap();
    let ids: Vec<ConnectionId> = (0..24)
        .map(|i| {
            store
                .insert_connection(
                    full_connection(user.id, &format!("g{i}")),
                    audit(OpKind::Link, "linked"),
                )
                .unwrap()
                .id
        })
        .collect();
    let audit_before = store.audit(None, 1000).unwrap().len();
    let start = Arc::new(Barrier::new(ids.len() * 2));
    let mut threads = Vec::new();
    for (i, &id) in ids.iter().enumerate() {
        // An operation: lease, read under it, write the outcome and release.
        let (s, go) = (store.clone(), start.clone());
        threads.push(std::thread::spawn(move || {
            go.wait();
            let holder = format!("host|1|{i}|op");
            let (conn, secrets) = s
                .lease_and_read(id, &holder, NOW.plus_secs(30), NOW)
                .unwrap()
                .expect("the lease is free");
            assert!(secrets.refresh_token.is_some());
            let update = ConnectionUpdate {
                refresh_token: SecretChange::Set(Secret::new(format!("rotated-{i}"))),
                ..ConnectionUpdate::default()
            };
            let saved = s
                .apply_and_release(conn, update, audit(OpKind::Refresh, "ok"), &holder)
                .unwrap();
            assert_eq!(saved.version, 2);
            Ok::<_, StoreError>(())
        }));
        // A writer that lost a race: its stale version must fail alone.
        let (s, go) = (store.clone(), start.clone());
        threads.push(std::thread::spawn(move || {
            go.wait();
            let stale = ConnectionUpdate {
                access_token: SecretChange::Set(Secret::new("stale")),
                ..ConnectionUpdate::default()
            };
            match s.apply(id, 0, stale, audit(OpKind::Refresh, "stale")) {
                Err(StoreError::Conflict(c)) if c == id => Ok(()),
                other => panic!("a stale write must conflict, got {other:?}"),
            }
        }));
    }
    for t in threads {
        t.join().unwrap().unwrap();
    }
    for (i, &id) in ids.iter().enumerate() {
        let conn = store.connection(id).unwrap().unwrap();
        assert_eq!(conn.version, 2, "exactly one write per connection");
        let secrets = store.secrets(id).unwrap();
        assert_eq!(
            secrets.refresh_token.unwrap().expose(),
            format!("rotated-{i}")
        );
        assert_ne!(secrets.access_token.unwrap().expose(), "stale");
        assert_eq!(
            store.lease_holder(id).unwrap(),
            None,
            "released with the write"
        );
    }
    let audit_after = store.audit(None, 1000).unwrap();
    assert_eq!(audit_after.len(), audit_before + ids.len());
    assert!(audit_after.iter().all(|a| a.message != "stale"));
    store.check_integrity().unwrap();
}

#[test]
fn a_lease_held_elsewhere_reads_nothing_and_a_lost_race_keeps_the_lease() {
    let env = Env::new();
    let store = env.open();
    let other = env.open();
    let user = store
        .add_user("amira", None, audit(OpKind::AddUser, "added"))
        .unwrap();
    let id = store
        .insert_connection(
            full_connection(user.id, "lr"),
            audit(OpKind::Link, "linked"),
        )
        .unwrap()
        .id;
    let until = NOW.plus_secs(30);
    let (conn, _) = store.lease_and_read(id, "me", until, NOW).unwrap().unwrap();
    assert!(
        other
            .lease_and_read(id, "them", until, NOW)
            .unwrap()
            .is_none()
    );
    // Someone wrote behind our back (a lease that had lapsed, say).
    other
        .apply(
            id,
            1,
            ConnectionUpdate::default(),
            audit(OpKind::Refresh, "theirs"),
        )
        .unwrap();
    let err = store
        .apply_and_release(
            conn,
            ConnectionUpdate::default(),
            audit(OpKind::Refresh, "ours"),
            "me",
        )
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(c) if c == id), "{err}");
    assert_eq!(
        store.lease_holder(id).unwrap().map(|(h, _)| h).as_deref(),
        Some("me"),
        "a failed write gives nothing back, not even the lease"
    );
}
