//! Which key opens the store, and what a wrong one does (nothing).

use std::fs;

use bankdeck::domain::{OpKind, Secret};
use bankdeck::store::{KeySource, OpenOptions, SqliteStore, Store, StoreError};

use crate::common::{
    Env, assert_unchanged, audit, full_connection, open_err, secrets, seeded, snapshot,
};

/// `env`'s key file, made by hand: holding `bytes`, with `mode`.
fn key_file_holding(env: &Env, bytes: &[u8], mode: u32) {
    fs::create_dir_all(env.key().parent().unwrap()).unwrap();
    fs::write(env.key(), bytes).unwrap();
    fs::set_permissions(
        env.key(),
        std::os::unix::fs::PermissionsExt::from_mode(mode),
    )
    .unwrap();
}

fn with_key(env: &Env, key: KeySource) -> OpenOptions {
    OpenOptions::new(env.data(), key)
}

#[test]
fn a_wrong_key_file_is_refused_before_anything_is_written() {
    let env = Env::new();
    drop(seeded(&env, "wk").0);
    let other_key = env.dir.path().join("other-key");
    fs::write(&other_key, [7u8; 32]).unwrap();
    fs::set_permissions(
        &other_key,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let before = snapshot(&env);
    let err = SqliteStore::open(with_key(&env, KeySource::File(other_key.clone())));
    let Err(err @ StoreError::WrongKey(_)) = err else {
        panic!("expected WrongKey");
    };
    let msg = err.to_string();
    assert!(msg.starts_with("the key does not open this store"), "{msg}");
    assert!(
        msg.contains("wrong key file") && msg.contains("Nothing was changed"),
        "{msg}"
    );
    let ro = open_err(with_key(&env, KeySource::File(other_key)).read_only());
    assert!(ro.contains("wrong key file"), "{ro}");
    assert_unchanged(&before, &snapshot(&env));
}

#[test]
fn a_missing_key_file_for_an_existing_store_is_not_invented() {
    let env = Env::new();
    drop(seeded(&env, "mk").0);
    let saved = env.dir.path().join("saved-key");
    fs::rename(env.key(), &saved).unwrap();
    let msg = open_err(env.opts());
    assert!(
        msg.contains("no key file at") && msg.contains("Restore it"),
        "{msg}"
    );
    assert!(
        !env.key().exists(),
        "a new key would lock the store for good"
    );
    fs::rename(&saved, env.key()).unwrap();
    env.open().check_integrity().unwrap();
}

#[test]
fn a_key_file_of_the_wrong_size_is_refused() {
    let env = Env::new();
    key_file_holding(&env, b"too short", 0o600);
    let msg = open_err(env.opts());
    assert!(msg.contains("exactly 32 bytes"), "{msg}");
}

/// An empty key file is one whose making was cut short (killed, or a full
/// disk before its bytes): a new store makes it again, and the store opens
/// with it after. For a store that holds data, it is still refused.
#[test]
fn an_empty_key_file_is_made_again_for_a_new_store_only() {
    let env = Env::new();
    key_file_holding(&env, b"", 0o600);
    drop(SqliteStore::open(env.opts()).unwrap());
    assert_eq!(fs::metadata(env.key()).unwrap().len(), 32);
    drop(SqliteStore::open(env.opts()).unwrap());
    fs::write(env.key(), b"").unwrap();
    let msg = open_err(env.opts());
    assert!(msg.contains("exactly 32 bytes"), "{msg}");
}

#[test]
fn a_passphrase_store_opens_with_the_passphrase_only() {
    let env = Env::new();
    let good = || with_key(&env, KeySource::Passphrase(Secret::new("correct horse")));
    let store = SqliteStore::open(good()).unwrap();
    let user = store
        .add_user("pp", None, audit(OpKind::AddUser, "x"))
        .unwrap();
    let c = store
        .insert_connection(full_connection(user.id, "pp"), audit(OpKind::Link, "x"))
        .unwrap();
    drop(store);
    assert!(!env.key().exists(), "no key file with a passphrase");
    let before = snapshot(&env);

    let wrong = open_err(with_key(
        &env,
        KeySource::Passphrase(Secret::new("battery staple")),
    ));
    assert!(
        wrong.contains("wrong BANKDECK_PASSPHRASE? Nothing was changed"),
        "{wrong}"
    );
    assert!(
        !wrong.contains("battery"),
        "the passphrase is never echoed: {wrong}"
    );
    let file = open_err(env.opts());
    assert!(
        file.contains("sealed with a passphrase; set BANKDECK_PASSPHRASE"),
        "{file}"
    );
    assert!(!env.key().exists());
    assert_unchanged(&before, &snapshot(&env));

    let store = SqliteStore::open(good()).unwrap();
    assert_eq!(store.secrets(c.id).unwrap(), secrets("pp"));
    store.check_integrity().unwrap();
}

#[test]
fn a_key_file_store_refuses_a_passphrase() {
    let env = Env::new();
    drop(seeded(&env, "kf").0);
    let msg = open_err(with_key(&env, KeySource::Passphrase(Secret::new("pw"))));
    assert!(
        msg.contains("sealed with a key file, but BANKDECK_PASSPHRASE is set"),
        "{msg}"
    );
}

/// A copy of a store taken while it was open: the latest writes sit only in
/// the `-wal` file, as after a crash.
fn crashed_copy(env: &Env) -> Env {
    let (store, _) = seeded(env, "wal");
    let copy = Env::new();
    fs::create_dir_all(copy.data()).unwrap();
    fs::create_dir_all(copy.key().parent().unwrap()).unwrap();
    for dir in [copy.data(), copy.key().parent().unwrap().to_path_buf()] {
        fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    }
    for name in ["bankdeck.db", "bankdeck.db-wal"] {
        fs::copy(env.data().join(name), copy.data().join(name)).unwrap();
    }
    fs::copy(env.key(), copy.key()).unwrap();
    drop(store);
    copy
}

#[test]
fn a_refused_or_read_only_open_does_not_fold_a_pending_wal_into_the_file() {
    let env = Env::new();
    let copy = crashed_copy(&env);
    assert!(
        fs::metadata(copy.data().join("bankdeck.db-wal"))
            .unwrap()
            .len()
            > 0
    );
    let before = snapshot(&copy);
    let wrong = copy.dir.path().join("wrong-key");
    fs::write(&wrong, [1u8; 32]).unwrap();
    fs::set_permissions(&wrong, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let msg = open_err(with_key(&copy, KeySource::File(wrong)));
    assert!(msg.contains("wrong key file"), "{msg}");
    let ro = SqliteStore::open(copy.opts().read_only()).unwrap();
    assert_eq!(
        ro.connections().unwrap().len(),
        1,
        "the WAL's rows are visible"
    );
    drop(ro);
    let after: Vec<_> = snapshot(&copy)
        .into_iter()
        .filter(|(p, _)| !p.to_string_lossy().ends_with("-shm")) // SQLite's index, rebuilt at will
        .collect();
    assert_unchanged(&before, &after);
    // A read-write open recovers the WAL's rows for good.
    let rw = copy.open();
    rw.check_integrity().unwrap();
    assert_eq!(rw.connections().unwrap().len(), 1);
}

#[test]
fn the_key_may_live_in_a_shared_config_folder_but_is_itself_0600() {
    let env = Env::new();
    let config = env.key().parent().unwrap().to_path_buf();
    fs::create_dir_all(&config).unwrap();
    fs::set_permissions(&config, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    drop(seeded(&env, "cf"));
    assert_eq!(crate::common::mode(&env.key()), 0o600);
    assert_eq!(
        crate::common::mode(&config),
        0o755,
        "left as the operator made it"
    );
}

#[test]
fn a_bad_key_file_is_refused_before_a_new_store_is_created() {
    let env = Env::new();
    key_file_holding(&env, &[3u8; 32], 0o644);
    let msg = open_err(env.opts());
    assert!(
        msg.contains(&format!("chmod 600 {}", env.key().display())),
        "{msg}"
    );
    assert!(!env.db().exists(), "nothing created for a refused open");
}
