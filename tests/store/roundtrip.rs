//! Every field goes in and comes back; writes are versioned and audited.

use bankdeck::domain::{
    AccessExpiry, ConnectionId, Flags, Grant, Lifetimes, OpKind, ProviderKind, RemoteIds, Scopes,
    Secret, Secrets, UnixTime, UserId,
};
use bankdeck::store::{ConnectionUpdate, Lease, NewConnection, SecretChange, Store, StoreError};

use crate::common::{Env, NOW, audit, full_connection, secrets, seeded};

#[test]
fn every_field_of_users_connections_and_secrets_round_trips() {
    let env = Env::new();
    let (store, id) = seeded(&env, "rt");
    let users = store.users().unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].name, "amira");
    assert_eq!(users[0].email.as_deref(), Some("amira@example.com"));
    assert_eq!(users[0].created_at, NOW);
    assert_eq!(store.user_by_name("amira").unwrap(), Some(users[0].clone()));
    assert_eq!(store.user_by_name("nobody").unwrap(), None);

    let want = full_connection(users[0].id, "rt");
    drop(store);
    let store = env.open(); // read back from disk, not from a cache
    let got = store.connection(id).unwrap().unwrap();
    assert_eq!(got.user, "amira");
    assert_eq!(got.user_id, users[0].id);
    assert_eq!(
        (
            got.provider.as_str(),
            got.kind,
            got.grant,
            got.label.as_str()
        ),
        (
            "dapi-sandbox",
            ProviderKind::Dapi,
            Grant::DapiConnect,
            "ADCB"
        )
    );
    assert_eq!(got.remote, want.remote);
    assert_eq!(got.lifetimes, want.lifetimes);
    assert_eq!(got.scopes, want.scopes);
    assert_eq!(got.flags, Flags::default());
    let last = got.last_op.clone().unwrap();
    assert_eq!((last.op, last.at, last.ok), (OpKind::Link, NOW, true));
    assert_eq!((got.created_at, got.version), (NOW, 1));
    assert_eq!(store.secrets(id).unwrap(), secrets("rt"));
    assert_eq!(store.connections().unwrap(), vec![got]);
}

#[test]
fn apply_sets_every_field_and_erase_removes_a_secret() {
    let env = Env::new();
    let (store, id) = seeded(&env, "ap");
    let lifetimes = Lifetimes {
        code_expires_at: None,
        access: Some(AccessExpiry::Permanent),
        access_received_at: Some(NOW.plus_secs(5)),
        has_refresh: false,
        refresh_expires_at: None,
        refresh_slides: false,
    };
    let flags = Flags {
        reauth_required: true,
        logged_out_at: Some(NOW.plus_secs(7)),
        delinked_at: Some(NOW.plus_secs(8)),
        last_error: Some("invalid_grant: Token is not active".into()),
    };
    let remote = RemoteIds {
        session: Some("sess-new".into()),
        ..RemoteIds::default()
    };
    let update = ConnectionUpdate {
        lifetimes: Some(lifetimes.clone()),
        scopes: Some(Scopes::granted(vec!["openid".into()])),
        flags: Some(flags.clone()),
        remote: Some(remote.clone()),
        access_code: SecretChange::Erase,
        access_token: SecretChange::Set(Secret::new("new-access")),
        refresh_token: SecretChange::Erase,
        id_token: SecretChange::Keep,
        user_secret: SecretChange::Set(Secret::new("")),
    };
    let mut draft = audit(OpKind::Refresh, "refreshed");
    draft.at = NOW.plus_secs(60);
    draft.ok = false;
    let returned = store.apply(id, 1, update, draft).unwrap();
    drop(store);
    let store = env.open();
    let got = store.connection(id).unwrap().unwrap();
    assert_eq!(returned, got);
    assert_eq!(got.lifetimes, lifetimes);
    assert_eq!(*got.scopes.granted, vec!["openid".to_string()]);
    assert_eq!(got.flags, flags);
    assert_eq!(got.remote, remote);
    assert_eq!(got.version, 2);
    let last = got.last_op.unwrap();
    assert_eq!(
        (last.op, last.at, last.ok),
        (OpKind::Refresh, NOW.plus_secs(60), false)
    );
    let s = store.secrets(id).unwrap();
    let expect = Secrets {
        access_code: None,
        access_token: Some(Secret::new("new-access")),
        refresh_token: None,
        id_token: secrets("ap").id_token,
        user_secret: Some(Secret::new("")),
    };
    assert_eq!(s, expect);
    let lifetimes_none = Lifetimes::default();
    let update = ConnectionUpdate {
        lifetimes: Some(lifetimes_none.clone()),
        scopes: Some(Scopes::default()),
        ..ConnectionUpdate::default()
    };
    let got = store
        .apply(id, 2, update, audit(OpKind::Logout, "out"))
        .unwrap();
    assert_eq!(
        store.connection(id).unwrap().unwrap().lifetimes,
        lifetimes_none
    );
    assert_eq!(got.scopes, Scopes::default());
}

#[test]
fn a_stale_version_is_a_conflict_and_changes_nothing() {
    let env = Env::new();
    let (store, id) = seeded(&env, "cf");
    let other = env.open(); // a second process, in effect
    let rotate = |token: &str| ConnectionUpdate {
        access_token: SecretChange::Set(Secret::new(token)),
        ..ConnectionUpdate::default()
    };
    other
        .apply(id, 1, rotate("first"), audit(OpKind::Refresh, "ok"))
        .unwrap();
    let audit_before = store.audit(None, 100).unwrap();
    let err = store
        .apply(id, 1, rotate("second"), audit(OpKind::Refresh, "late"))
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(c) if c == id), "{err}");
    assert_eq!(
        store.secrets(id).unwrap().access_token.unwrap().expose(),
        "first"
    );
    assert_eq!(store.connection(id).unwrap().unwrap().version, 2);
    assert_eq!(store.audit(None, 100).unwrap(), audit_before);
    let missing = store.apply(
        ConnectionId(999),
        1,
        rotate("x"),
        audit(OpKind::Refresh, "x"),
    );
    assert!(matches!(missing, Err(StoreError::NotFound(_))));
}

#[test]
fn every_write_leaves_exactly_one_audit_entry() {
    let env = Env::new();
    let store = env.open();
    let mut expected = Vec::new();
    let user = store
        .add_user("u1", None, audit(OpKind::AddUser, "add u1"))
        .unwrap();
    expected.push((None, OpKind::AddUser, "add u1"));
    let c = store
        .insert_connection(full_connection(user.id, "au"), audit(OpKind::Link, "link"))
        .unwrap();
    expected.push((Some(c.id), OpKind::Link, "link"));
    store
        .apply(
            c.id,
            1,
            ConnectionUpdate::default(),
            audit(OpKind::Exchange, "exch"),
        )
        .unwrap();
    expected.push((Some(c.id), OpKind::Exchange, "exch"));
    store
        .append_audit(Some(c.id), audit(OpKind::Reveal, "revealed"))
        .unwrap();
    expected.push((Some(c.id), OpKind::Reveal, "revealed"));
    store
        .append_audit(None, audit(OpKind::Login, "session"))
        .unwrap();
    expected.push((None, OpKind::Login, "session"));
    // A refused write leaves no line.
    assert!(
        store
            .add_user("u1", None, audit(OpKind::AddUser, "dup"))
            .is_err()
    );

    let all = store.audit(None, 100).unwrap();
    let got: Vec<_> = all
        .iter()
        .rev()
        .map(|e| (e.connection, e.op, e.message.as_str()))
        .collect();
    assert_eq!(got, expected);
    assert!(
        all.iter()
            .all(|e| e.actor == "alice" && e.at == NOW && e.ok)
    );
    assert!(all.windows(2).all(|w| w[0].id > w[1].id), "newest first");
    let for_conn = store.audit(Some(c.id), 2).unwrap();
    assert_eq!(for_conn.len(), 2);
    assert_eq!(for_conn[0].op, OpKind::Reveal);
}

#[test]
fn the_audit_log_refuses_update_and_delete_even_through_raw_sql() {
    let env = Env::new();
    let (store, _) = seeded(&env, "ao");
    drop(store);
    let raw = rusqlite::Connection::open(env.db()).unwrap();
    let upd = raw.execute("UPDATE audit SET message = 'rewritten'", []);
    let del = raw.execute("DELETE FROM audit", []);
    for result in [upd, del] {
        let err = result.unwrap_err().to_string();
        assert!(err.contains("append-only"), "{err}");
    }
    let n: i64 = raw
        .query_row("SELECT count(*) FROM audit", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 2);
}

/// Whether `holder` got the lease (the row read under it is the store's).
fn takes(
    store: &impl Store,
    id: ConnectionId,
    holder: &str,
    until: UnixTime,
    now: UnixTime,
) -> Result<bool, StoreError> {
    Ok(store.lease_and_read(id, holder, until, now)?.is_some())
}

#[test]
fn leases_exclude_other_holders_until_released_or_expired() {
    let env = Env::new();
    let (store, id) = seeded(&env, "ls");
    let other = env.open();
    let until = NOW.plus_secs(30);
    assert!(takes(&store, id, "pid-1", until, NOW).unwrap());
    assert!(!takes(&other, id, "pid-2", until, NOW.plus_secs(10)).unwrap());
    assert!(
        takes(&store, id, "pid-1", NOW.plus_secs(60), NOW).unwrap(),
        "renewal"
    );
    other.release_lease(id, "pid-2").unwrap(); // not theirs: no effect
    assert!(!takes(&other, id, "pid-2", until, NOW.plus_secs(59)).unwrap());
    assert!(
        takes(&other, id, "pid-2", NOW.plus_secs(90), NOW.plus_secs(60)).unwrap(),
        "expired"
    );
    other.release_lease(id, "pid-2").unwrap();
    assert!(takes(&store, id, "pid-1", until, NOW).unwrap());
    assert_eq!(
        store.connection(id).unwrap().unwrap().version,
        1,
        "leases are not data"
    );
    let missing = takes(&store, ConnectionId(77), "x", until, NOW);
    assert!(matches!(missing, Err(StoreError::NotFound(_))));
}

/// A lease whose holder still runs on this host stands past its term: its
/// answer may wait a minute for another writer's lock, or the clock may
/// jump, and a second holder would send the refresh token or the code
/// again. Once that process has ended, the lapsed lease is taken.
#[test]
fn a_lapsed_lease_is_taken_only_once_its_process_has_ended() {
    let env = Env::new();
    let (store, id) = seeded(&env, "lv");
    let other = env.open();
    let mut child = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let running = format!("{}|{}|0|cron", host.trim(), child.id());
    let until = NOW.plus_secs(30);
    assert!(takes(&store, id, &running, until, NOW).unwrap());
    let long_after = NOW.plus_secs(3600);
    assert!(
        !takes(&other, id, "me", long_after.plus_secs(30), long_after).unwrap(),
        "taken from a process that runs"
    );
    // Ours, under another nonce (a second worker), runs too.
    let ours = bankdeck::store::holder::holder_name("dashboard");
    other.release_lease(id, &running).unwrap();
    assert!(takes(&store, id, &ours, until, NOW).unwrap());
    assert!(!takes(&other, id, "me", long_after.plus_secs(30), long_after).unwrap());
    store.release_lease(id, &ours).unwrap();
    assert!(takes(&store, id, &running, until, NOW).unwrap());
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        !takes(&other, id, "me", until, NOW.plus_secs(10)).unwrap(),
        "in its term"
    );
    assert!(takes(&other, id, "me", long_after.plus_secs(30), long_after).unwrap());
}

#[test]
fn insert_for_a_missing_user_is_refused() {
    let env = Env::new();
    let store = env.open();
    let new: NewConnection = full_connection(bankdeck::domain::UserId(42), "mu");
    let err = store
        .insert_connection(new, audit(OpKind::Link, "x"))
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err}");
    assert!(store.audit(None, 10).unwrap().is_empty());
}

#[test]
fn the_store_is_send_and_sync_behind_the_trait() {
    fn shared<T: Send + Sync + ?Sized>(_: &T) {}
    let env = Env::new();
    let store: std::sync::Arc<dyn Store> = std::sync::Arc::new(env.open());
    shared(&*store);
    let user = store
        .add_user("t", None, audit(OpKind::AddUser, "x"))
        .unwrap();
    let handles: Vec<_> = (0..4)
        .map(|n| {
            let store = store.clone();
            std::thread::spawn(move || {
                let new = full_connection(user.id, &format!("thread{n}"));
                let made = store.insert_connection(new, audit(OpKind::Link, "x"));
                (n, made.unwrap())
            })
        })
        .collect();
    for h in handles {
        let (n, c) = h.join().unwrap();
        assert_eq!(store.secrets(c.id).unwrap(), secrets(&format!("thread{n}")));
    }
}

#[test]
fn a_batch_insert_keeps_flags_secrets_and_one_audit_line_each_or_nothing() {
    let env = Env::new();
    let (store, first) = seeded(&env, "one");
    let user = store.users().unwrap()[0].id;
    let delinked = Flags {
        delinked_at: Some(NOW),
        last_error: Some("bank said no".into()),
        ..Flags::default()
    };
    let batch = vec![
        (full_connection(user, "b1"), Flags::default()),
        (full_connection(user, "b2"), delinked.clone()),
    ];
    let ids = store
        .insert_connections(batch, audit(OpKind::Link, "imported"))
        .unwrap();
    assert_eq!(ids.len(), 2);
    assert!(ids.iter().all(|id| *id != first));
    let b2 = store.connection(ids[1]).unwrap().unwrap();
    assert_eq!(b2.flags, delinked);
    assert_eq!(b2.version, 1);
    assert_eq!(b2.user, "amira");
    assert_eq!(
        store.connection(ids[0]).unwrap().unwrap().flags,
        Flags::default()
    );
    assert_eq!(
        store.secrets(ids[1]).unwrap(),
        secrets("b2"),
        "each row's secrets are sealed to that row"
    );
    for id in &ids {
        let lines = store.audit(Some(*id), 10).unwrap();
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].message, "imported");
    }
    // One bad row (no such user) and the whole batch is refused.
    let before = store.connections().unwrap().len();
    let bad = vec![
        (full_connection(user, "ok"), Flags::default()),
        (
            full_connection(bankdeck::domain::UserId(999), "bad"),
            Flags::default(),
        ),
    ];
    assert!(matches!(
        store.insert_connections(bad, audit(OpKind::Link, "x")),
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(store.connections().unwrap().len(), before);
}

#[test]
fn each_connection_hands_over_what_the_list_holds_in_id_order() {
    let env = Env::new();
    let (store, _) = seeded(&env, "first");
    let omar = store
        .add_user("omar", None, audit(OpKind::AddUser, "added"))
        .unwrap();
    for tag in ["second", "third"] {
        store
            .insert_connection(full_connection(omar.id, tag), audit(OpKind::Link, "linked"))
            .unwrap();
    }
    let mut seen = Vec::new();
    store.each_connection(&mut |c| seen.push(c)).unwrap();
    assert_eq!(seen, store.connections().unwrap());
    let users: Vec<&str> = seen.iter().map(|c| c.user.as_str()).collect();
    assert_eq!(users, ["amira", "omar", "omar"]);
    assert!(seen.windows(2).all(|w| w[0].id < w[1].id));
}

/// The same Dapi Connect login filed twice (a paste repeated, a script's
/// retry) made a second row whose one-time access code only one of the two
/// could exchange. It is refused with the connection that holds it, and
/// nothing is written; another login of the same bank connection, or
/// another provider, is still filed.
#[test]
fn the_same_connect_login_is_filed_once() {
    let env = Env::new();
    let (store, first) = seeded(&env, "once");
    let user = store.connection(first).unwrap().unwrap().user_id;
    let audit_before = store.audit(None, 100).unwrap().len();
    let err = store
        .insert_connection(full_connection(user, "once"), audit(OpKind::Link, "again"))
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err}");
    let said = err.to_string();
    assert!(
        said.contains(&format!("already connection {first} (amira)")),
        "{said}"
    );
    assert_eq!(store.connections().unwrap().len(), 1);
    assert_eq!(store.audit(None, 100).unwrap().len(), audit_before);

    let mut relogin = full_connection(user, "once");
    relogin.remote.token_id = Some("tok-next-login".into());
    let mut other_provider = full_connection(user, "once");
    other_provider.provider = "dapi-live".into();
    for new in [relogin, other_provider] {
        store
            .insert_connection(new, audit(OpKind::Link, "filed"))
            .unwrap();
    }
    assert_eq!(store.connections().unwrap().len(), 3);
}

/// A connection for someone the store does not hold brings the user in,
/// in the same transaction: refused, it leaves no user and no line behind;
/// for someone it holds, no user is added whatever `user_id` said.
#[test]
fn a_connection_for_a_name_adds_the_user_with_it_or_not_at_all() {
    let env = Env::new();
    let (store, first) = seeded(&env, "once");
    let before = (
        store.users().unwrap(),
        store.audit(None, 100).unwrap().len(),
    );
    let for_name = |name: &str, tag: &str| {
        store.insert_connection_for(
            name,
            audit(OpKind::AddUser, &format!("user {name} added")),
            full_connection(UserId(0), tag),
            audit(OpKind::Link, "linked"),
        )
    };
    let err = for_name("zara", "once").unwrap_err();
    assert!(
        err.to_string()
            .contains(&format!("already connection {first}")),
        "{err}"
    );
    assert_eq!(
        (
            store.users().unwrap(),
            store.audit(None, 100).unwrap().len()
        ),
        before,
        "the refused link's user is not kept"
    );

    let (conn, added) = for_name("zara", "fresh").unwrap();
    let zara = added.expect("a new user");
    assert_eq!(
        (zara.name.as_str(), conn.user_id, conn.user.as_str()),
        ("zara", zara.id, "zara")
    );
    let lines = store.audit(None, 2).unwrap();
    assert_eq!(
        lines.iter().map(|a| a.op).collect::<Vec<_>>(),
        [OpKind::Link, OpKind::AddUser]
    );

    let (again, added) = for_name("amira", "third").unwrap();
    assert!(added.is_none(), "amira was held");
    let amira = store.user_by_name("amira").unwrap().unwrap();
    assert_eq!(again.user_id, amira.id);
    assert_eq!(store.users().unwrap().len(), before.0.len() + 1);
}

/// A name that differs from a user's only in case is refused, as a user of
/// its own and as the name a connection is filed under: "Amira" beside
/// "amira" is a typo far more often than a second end user. Nothing is left
/// behind, and the refusal names the user to use.
#[test]
fn a_name_that_differs_from_a_user_s_only_in_case_is_refused() {
    let env = Env::new();
    let (store, _) = seeded(&env, "case");
    let before = (
        store.users().unwrap(),
        store.connections().unwrap().len(),
        store.audit(None, 100).unwrap().len(),
    );
    let err = store
        .add_user("Amira", None, audit(OpKind::AddUser, "added"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(r#""Amira" differs from it only in case: use "amira""#),
        "{err}"
    );
    let err = store
        .insert_connection_for(
            "AMIRA",
            audit(OpKind::AddUser, "user AMIRA added"),
            full_connection(UserId(0), "case-two"),
            audit(OpKind::Link, "linked"),
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains(r#"use "amira""#), "{err}");
    assert_eq!(
        (
            store.users().unwrap(),
            store.connections().unwrap().len(),
            store.audit(None, 100).unwrap().len(),
        ),
        before
    );
    // The exact name is the user's, as before; another name is a new user.
    let err = store
        .add_user("amira", None, audit(OpKind::AddUser, "added"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(r#"a user named "amira" already exists"#),
        "{err}"
    );
    store
        .add_user("amira.b", None, audit(OpKind::AddUser, "added"))
        .unwrap();
}

/// Only a user with no connection is removed, with its audit line; the
/// change feed then hands over every user, so another screen lets it go.
#[test]
fn a_user_without_connections_is_removed_and_one_with_them_is_kept() {
    let env = Env::new();
    let (store, held) = seeded(&env, "rm");
    let owner = store.connection(held).unwrap().unwrap().user;
    let typo = store
        .add_user("amria", None, audit(OpKind::AddUser, "added"))
        .unwrap();
    let mark = store.audit_mark().unwrap();
    let before = (
        store.users().unwrap(),
        store.audit(None, 100).unwrap().len(),
    );
    for (name, says) in [
        (
            owner.as_str(),
            format!("{owner} holds connection {}: a user stays", held.0),
        ),
        (
            "Amria",
            r#"no such user named "Amria": did you mean "amria"?"#.to_owned(),
        ),
        ("nobody", r#"no such user named "nobody""#.to_owned()),
    ] {
        let err = store
            .remove_user(name, audit(OpKind::RemoveUser, "removed"))
            .unwrap_err()
            .to_string();
        assert!(err.contains(&says), "{name}: {err}");
    }
    assert_eq!(
        (
            store.users().unwrap(),
            store.audit(None, 100).unwrap().len()
        ),
        before,
        "a refusal changes nothing"
    );
    let gone = store
        .remove_user("amria", audit(OpKind::RemoveUser, "user amria removed"))
        .unwrap();
    assert_eq!(gone, typo);
    assert!(store.user_by_name("amria").unwrap().is_none());
    let line = &store.audit(None, 1).unwrap()[0];
    assert_eq!((line.op, line.connection), (OpKind::RemoveUser, None));
    let seen = store.changes_since(mark, typo.id, 100).unwrap();
    assert!(seen.users_complete);
    let mut every = store.users().unwrap();
    every.sort_by_key(|u| u.id);
    assert_eq!(seen.users, every);
    let quiet = store.changes_since(seen.last, typo.id, 100).unwrap();
    assert!(!quiet.users_complete && quiet.users.is_empty());
}

/// Every lease held comes with each ask for changes, whether or not a line
/// was written since: leases are not audited, and the screen shows the
/// rows another process is at work on.
#[test]
fn changes_carry_the_leases_held_at_the_time() {
    let env = Env::new();
    let (store, id) = seeded(&env, "lh");
    let other = env.open();
    let mark = store.audit_mark().unwrap();
    let leases = |store: &dyn Store| store.changes_since(mark, UserId(0), 100).unwrap().leases;
    assert!(leases(&store).is_empty());
    let (cron, until) = ("host|4242/7|00ab|cron", NOW.plus_secs(30));
    assert!(takes(&other, id, cron, until, NOW).unwrap());
    let held = [Lease {
        conn: id,
        holder: cron.to_owned(),
        until,
    }];
    assert_eq!(leases(&store), held);
    let after = store.audit_mark().unwrap();
    assert_eq!(after, mark, "a lease writes no audit line");
    other.release_lease(id, cron).unwrap();
    assert!(leases(&store).is_empty());
}

#[test]
fn changes_since_an_audit_line_name_what_another_process_wrote() {
    let env = Env::new();
    let (store, first) = seeded(&env, "ch");
    let mark = store.audit_mark().unwrap();
    let users_before = store.users().unwrap().iter().map(|u| u.id).max().unwrap();
    let none = store.changes_since(mark, users_before, 100).unwrap();
    assert_eq!(
        (none.last, none.connections.len(), none.users.len()),
        (mark, 0, 0)
    );

    // Another process adds a user and a connection and writes the first
    // connection twice.
    let other = env.open();
    let zoe = other
        .add_user("zoe", None, audit(OpKind::AddUser, "added"))
        .unwrap();
    let added = other
        .insert_connection(
            full_connection(zoe.id, "ch2"),
            audit(OpKind::Link, "linked"),
        )
        .unwrap();
    let rotate = || ConnectionUpdate {
        access_token: SecretChange::Set(Secret::new("rotated")),
        ..ConnectionUpdate::default()
    };
    for version in [1, 2] {
        other
            .apply(first, version, rotate(), audit(OpKind::Refresh, "ok"))
            .unwrap();
    }

    let seen = store.changes_since(mark, users_before, 100).unwrap();
    assert_eq!(seen.last, store.audit_mark().unwrap());
    assert_eq!(seen.last, mark + 4, "four lines: user, link, two refreshes");
    let rows: Vec<_> = seen.connections.iter().map(|c| (c.id, c.version)).collect();
    assert_eq!(
        rows,
        [(first, 3), (added.id, 1)],
        "each row once, as it now stands"
    );
    assert_eq!(seen.connections[1].user, "zoe");
    assert_eq!(seen.users, std::slice::from_ref(&zoe));

    // A limit reads the lines a slice at a time; the next call goes on.
    let slice = store.changes_since(mark, users_before, 2).unwrap();
    assert_eq!(slice.last, mark + 2);
    assert_eq!(
        slice.connections.iter().map(|c| c.id).collect::<Vec<_>>(),
        [added.id]
    );
    let rest = store.changes_since(slice.last, zoe.id, 2).unwrap();
    assert_eq!(rest.last, mark + 4);
    assert_eq!(
        rest.connections.iter().map(|c| c.id).collect::<Vec<_>>(),
        [first]
    );
    assert!(rest.users.is_empty(), "zoe was asked past");
    assert_eq!(
        store.changes_since(rest.last, zoe.id, 2).unwrap().last,
        rest.last
    );
}

#[test]
fn an_audit_query_reads_back_to_its_moment_and_keeps_only_what_it_asks_for() {
    use bankdeck::store::AuditQuery;
    let env = Env::new();
    let (store, c) = seeded(&env, "aq");
    let lines = [
        (100, true),
        (200, false),
        (300, true),
        (400, false),
        (500, true),
    ];
    for (i, (at, ok)) in lines.into_iter().enumerate() {
        let draft = bankdeck::store::AuditDraft {
            at: UnixTime(NOW.0 + at),
            ok,
            ..audit(OpKind::Refresh, &format!("line {i}"))
        };
        let on = (i % 2 == 0).then_some(c);
        store.append_audit(on, draft).unwrap();
    }
    let read = |q: AuditQuery| -> Vec<String> {
        let got = store.audit_query(&AuditQuery { limit: 10, ..q }).unwrap();
        got.into_iter().map(|e| e.message).collect()
    };
    let since = Some(UnixTime(NOW.0 + 250));
    assert_eq!(
        read(AuditQuery {
            since,
            ..AuditQuery::default()
        }),
        ["line 4", "line 3", "line 2"]
    );
    assert_eq!(
        read(AuditQuery {
            since,
            failed_only: true,
            ..AuditQuery::default()
        }),
        ["line 3"]
    );
    assert_eq!(
        read(AuditQuery {
            failed_only: true,
            ..AuditQuery::default()
        }),
        ["line 3", "line 1"]
    );
    assert_eq!(
        read(AuditQuery {
            connection: Some(c),
            since,
            ..AuditQuery::default()
        }),
        ["line 4", "line 2"]
    );
    let one = store
        .audit_query(&AuditQuery {
            failed_only: true,
            limit: 1,
            ..AuditQuery::default()
        })
        .unwrap();
    assert_eq!(one.len(), 1);
    // Among a set of connections (a filter's rows): their lines only, the
    // link's included; none for an empty set or a connection with no line.
    assert_eq!(
        read(AuditQuery {
            among: Some(vec![ConnectionId(999), c]),
            ..AuditQuery::default()
        }),
        ["line 4", "line 2", "line 0", "linked"]
    );
    assert_eq!(
        read(AuditQuery {
            among: Some(vec![c]),
            since,
            failed_only: true,
            ..AuditQuery::default()
        }),
        Vec::<String>::new()
    );
    assert_eq!(
        read(AuditQuery {
            among: Some(Vec::new()),
            ..AuditQuery::default()
        }),
        Vec::<String>::new()
    );
}

/// The log is read newest first and stops at the first line older than
/// the moment: a line written later with a clock set back ends the reading.
#[test]
fn an_audit_query_since_a_moment_stops_at_the_first_older_line() {
    use bankdeck::store::AuditQuery;
    let env = Env::new();
    let store = env.open();
    for (at, m) in [(100, "a"), (900, "b"), (200, "c"), (950, "d")] {
        let draft = bankdeck::store::AuditDraft {
            at: UnixTime(at),
            ..audit(OpKind::AddUser, m)
        };
        store.append_audit(None, draft).unwrap();
    }
    let got = store
        .audit_query(&AuditQuery {
            since: Some(UnixTime(500)),
            limit: 10,
            ..AuditQuery::default()
        })
        .unwrap();
    let got: Vec<_> = got.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(got, ["d"]);
}

/// A store the previous release wrote (schema 1, before `refresh_slides`):
/// read-only opens say how to upgrade it and change nothing; the first
/// writable open adds the column, and every row reads as before.
#[test]
fn a_schema_1_store_is_upgraded_in_place_and_read_only_asks_first() {
    let env = Env::new();
    let (store, id) = seeded(&env, "v1");
    let mut before = store.connection(id).unwrap().unwrap();
    drop(store);
    {
        let raw = rusqlite::Connection::open(env.db()).unwrap();
        raw.execute_batch(
            "ALTER TABLE connections DROP COLUMN refresh_slides; PRAGMA user_version = 1;",
        )
        .unwrap();
    }
    let snap = crate::common::snapshot(&env);
    let msg = crate::common::open_err(env.opts().read_only());
    assert!(
        msg.contains("uses schema 1 and needs an upgrade to 2")
            && msg.contains("without --readonly"),
        "{msg}"
    );
    crate::common::assert_unchanged(&snap, &crate::common::snapshot(&env));
    let store = env.open();
    before.lifetimes.refresh_slides = false;
    assert_eq!(store.connection(id).unwrap().unwrap(), before);
    let mut c = before.clone();
    c.lifetimes.refresh_slides = true;
    let update = ConnectionUpdate {
        lifetimes: Some(c.lifetimes.clone()),
        ..ConnectionUpdate::default()
    };
    store
        .apply(
            id,
            before.version,
            update,
            audit(OpKind::Refresh, "refreshed"),
        )
        .unwrap();
    assert!(
        store
            .connection(id)
            .unwrap()
            .unwrap()
            .lifetimes
            .refresh_slides
    );
    drop(store);
    let raw = rusqlite::Connection::open(env.db()).unwrap();
    let version: i64 = raw
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, 2);
}
