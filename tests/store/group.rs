//! Many writers at once: every write is answered with its own outcome after
//! the commit that holds it, a failing write takes none of the others with
//! it, and an operation's outcome gives its lease back in the same write.

use std::sync::{Arc, Barrier};

use bankdeck::domain::{ConnectionId, OpKind, Secret};
use bankdeck::store::{
    ConnectionHead, ConnectionUpdate, LeaseRequest, SecretChange, SecretSet, Settlement, Store,
    StoreError,
};

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
fn an_outcome_gives_back_its_own_lease_and_never_anyone_elses() {
    let env = Env::new();
    let store = env.open();
    let user = store
        .add_user("amira", None, audit(OpKind::AddUser, "added"))
        .unwrap();
    let id = store
        .insert_connection(
            full_connection(user.id, "own"),
            audit(OpKind::Link, "linked"),
        )
        .unwrap()
        .id;
    let (conn, _) = store
        .lease_and_read(id, "me", NOW.plus_secs(30), NOW)
        .unwrap()
        .unwrap();
    // Our lease lapsed and another process took it before we wrote.
    let later = NOW.plus_secs(31);
    let (taken, _) = store
        .lease_and_read(id, "them", later.plus_secs(30), later)
        .unwrap()
        .expect("a lapsed lease can be taken");
    let ours = store
        .apply_and_release(
            conn,
            ConnectionUpdate::default(),
            audit(OpKind::Refresh, "ok"),
            "me",
        )
        .unwrap();
    assert_eq!(ours.version, taken.version + 1);
    let holder = |s: &bankdeck::store::SqliteStore| s.lease_holder(id).unwrap().map(|(h, _)| h);
    assert_eq!(holder(&store).as_deref(), Some("them"), "their lease stays");
    store
        .apply_and_release(
            ours,
            ConnectionUpdate::default(),
            audit(OpKind::Refresh, "ok"),
            "them",
        )
        .unwrap();
    assert_eq!(
        holder(&store),
        None,
        "an outcome releases its writer's lease"
    );
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

/// Four connections and the store; the second is leased elsewhere.
fn four(env: &Env) -> (bankdeck::store::SqliteStore, Vec<ConnectionId>) {
    let store = env.open();
    let user = store
        .add_user("amira", None, audit(OpKind::AddUser, "added"))
        .unwrap();
    let ids = (0..4)
        .map(|i| {
            let new = full_connection(user.id, &format!("b{i}"));
            store
                .insert_connection(new, audit(OpKind::Link, "linked"))
                .unwrap()
                .id
        })
        .collect::<Vec<_>>();
    store
        .lease_and_read(ids[1], "them", NOW.plus_secs(30), NOW)
        .unwrap()
        .expect("free");
    (store, ids)
}

#[test]
fn a_batch_of_leases_answers_each_alone() {
    let env = Env::new();
    let (store, ids) = four(&env);
    let request = |id, wants| LeaseRequest {
        id,
        until: NOW.plus_secs(30),
        now: NOW,
        wants,
    };
    let batch = vec![
        request(ids[0], SecretSet::REFRESH_TOKEN),
        request(ids[1], SecretSet::ALL),
        request(ConnectionId(999), SecretSet::ALL),
        request(ids[3], SecretSet::ALL),
    ];
    let answers = store.lease_and_read_many(batch, "me");
    assert_eq!(answers.len(), 4);
    let (conn, secrets) = answers[0].as_ref().unwrap().as_ref().unwrap();
    assert_eq!(conn.id, ids[0]);
    assert_eq!(
        secrets.refresh_token.as_ref().unwrap().expose(),
        "REFRESH-b0-plaintext-canary"
    );
    assert_eq!(
        secrets.all().count(),
        1,
        "a refresh's lease opens its refresh token alone"
    );
    assert!(
        answers[1].as_ref().unwrap().is_none(),
        "held by a live holder"
    );
    assert!(matches!(answers[2], Err(StoreError::NotFound(_))));
    let (conn, secrets) = answers[3].as_ref().unwrap().as_ref().unwrap();
    assert_eq!(conn.id, ids[3]);
    assert_eq!(secrets, &store.secrets(ids[3]).unwrap(), "all of them");
    assert!(secrets.all().count() > 1);
    let holder = |id| store.lease_holder(id).unwrap().map(|(h, _)| h);
    assert_eq!(holder(ids[0]).as_deref(), Some("me"));
    assert_eq!(holder(ids[1]).as_deref(), Some("them"), "not taken over");
    assert_eq!(holder(ids[2]), None, "never leased");
    assert_eq!(holder(ids[3]).as_deref(), Some("me"));
}

#[test]
fn a_batch_of_outcomes_commits_each_that_holds_and_nothing_of_one_that_conflicts() {
    let env = Env::new();
    let (store, ids) = four(&env);
    let leased = |id| {
        store
            .lease_and_read(id, "me", NOW.plus_secs(30), NOW)
            .unwrap()
            .unwrap()
            .0
    };
    let (a, c, d) = (leased(ids[0]), leased(ids[2]), leased(ids[3]));
    // Someone else writes the third connection after we read it.
    store
        .apply(
            ids[2],
            1,
            ConnectionUpdate::default(),
            audit(OpKind::Refresh, "theirs"),
        )
        .unwrap();
    let audit_before = store.audit(None, 1000).unwrap().len();
    let rotate = |base, tag: &str| {
        Arc::new(Settlement {
            base,
            update: ConnectionUpdate {
                refresh_token: SecretChange::Set(Secret::new(format!("rotated-{tag}"))),
                ..ConnectionUpdate::default()
            },
            audit: audit(OpKind::Refresh, &format!("refreshed {tag}")),
        })
    };
    let answers =
        store.apply_and_release_many(vec![rotate(a, "a"), rotate(c, "c"), rotate(d, "d")], "me");
    assert_eq!(answers[0].as_ref().unwrap().version, 2);
    assert!(matches!(answers[1], Err(StoreError::Conflict(id)) if id == ids[2]));
    assert_eq!(answers[2].as_ref().unwrap().version, 2);

    // A fresh handle: what was answered as done is committed.
    let fresh = env.open();
    let refresh = |id| fresh.secrets(id).unwrap().refresh_token.unwrap();
    assert_eq!(refresh(ids[0]).expose(), "rotated-a");
    assert_eq!(refresh(ids[2]).expose(), "REFRESH-b2-plaintext-canary");
    assert_eq!(refresh(ids[3]).expose(), "rotated-d");
    let holder = |id| fresh.lease_holder(id).unwrap().map(|(h, _)| h);
    assert_eq!(holder(ids[0]), None, "released with the write");
    assert_eq!(
        holder(ids[2]).as_deref(),
        Some("me"),
        "a failed write keeps it"
    );
    assert_eq!(holder(ids[3]), None);
    let messages: Vec<String> = fresh
        .audit(None, 1000)
        .unwrap()
        .into_iter()
        .map(|a| a.message)
        .collect();
    assert_eq!(messages.len(), audit_before + 2);
    assert!(!messages.contains(&"refreshed c".to_string()));
    fresh.check_integrity().unwrap();
}

#[test]
fn reading_many_connections_answers_each_id() {
    let env = Env::new();
    let (store, ids) = four(&env);
    let answers = store.connections_by_id(&[ids[3], ConnectionId(999), ids[0]]);
    assert_eq!(answers[0].as_ref().unwrap().as_ref().unwrap().id, ids[3]);
    assert!(answers[1].as_ref().unwrap().is_none());
    assert_eq!(answers[2].as_ref().unwrap().as_ref().unwrap().id, ids[0]);
}

#[test]
fn reading_many_heads_answers_each_id_with_its_provider_and_version() {
    let env = Env::new();
    let (store, ids) = four(&env);
    let rotated = ConnectionUpdate {
        access_token: SecretChange::Set(Secret::new("rotated")),
        ..ConnectionUpdate::default()
    };
    store
        .apply(ids[3], 1, rotated, audit(OpKind::Refresh, "rotated"))
        .unwrap();
    let asked = [ids[3], ConnectionId(999), ids[0]];
    let heads = store.heads(&asked);
    assert_eq!(heads[0].as_ref().unwrap().as_ref().unwrap().version, 2);
    let whole = store.connections_by_id(&asked);
    assert_eq!(heads.len(), 3);
    for (head, conn) in heads.into_iter().zip(whole) {
        let expected = conn.unwrap().map(|c| ConnectionHead {
            provider: c.provider,
            version: c.version,
        });
        assert_eq!(head.unwrap(), expected);
    }
}
