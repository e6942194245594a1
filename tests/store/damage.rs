//! A damaged store is refused with the way out, and left exactly as it was.

use std::fs;

use bankdeck::domain::ConnectionId;
use bankdeck::store::{SqliteStore, Store, StoreError};
use rand::RngCore;

use crate::common::{Env, assert_unchanged, contains, open_err, seeded, snapshot};

const RECOVERY: &str = "Restore it from a backup, or move it aside to start empty";

fn assert_recovery(msg: &str, env: &Env) {
    assert!(msg.contains("the store is damaged"), "{msg}");
    assert!(msg.contains(RECOVERY), "{msg}");
    assert!(msg.contains(&format!("mv {}", env.db().display())), "{msg}");
}

/// Opening (or, failing that, reading everything) must be refused.
fn refused(env: &Env) -> String {
    let store = match SqliteStore::open(env.opts()) {
        Err(e) => return e.to_string(),
        Ok(store) => store,
    };
    let listed = store.connections().err();
    let checked = store.check_integrity().err();
    listed
        .or(checked)
        .expect("the damage went unnoticed")
        .to_string()
}

#[test]
fn a_truncated_store_is_refused_and_left_alone() {
    let env = Env::new();
    let (store, _) = seeded(&env, "tr");
    drop(store);
    let len = fs::metadata(env.db()).unwrap().len();
    for keep in [len / 2, 4096 + 100, 60] {
        let f = fs::OpenOptions::new().write(true).open(env.db()).unwrap();
        f.set_len(keep).unwrap();
        drop(f);
        let before = snapshot(&env);
        assert_recovery(&refused(&env), &env);
        assert_unchanged(&before, &snapshot(&env));
    }
}

#[test]
fn a_store_of_random_bytes_is_refused_and_left_alone() {
    let env = Env::new();
    drop(seeded(&env, "rb").0);
    let mut noise = vec![0u8; 16 * 4096];
    rand::rng().fill_bytes(&mut noise);
    fs::write(env.db(), &noise).unwrap();
    let before = snapshot(&env);
    let msg = open_err(env.opts());
    assert_recovery(&msg, &env);
    assert!(msg.contains("not a bankdeck store"), "{msg}");
    assert_unchanged(&before, &snapshot(&env));
    let ro = open_err(env.opts().read_only());
    assert_recovery(&ro, &env);
    assert_unchanged(&before, &snapshot(&env));
}

#[test]
fn a_flipped_ciphertext_byte_is_caught_by_its_tag_and_left_alone() {
    let env = Env::new();
    let (store, id) = seeded(&env, "fb");
    drop(store);
    let sealed: Vec<u8> = {
        let raw = rusqlite::Connection::open(env.db()).unwrap();
        raw.query_row(
            "SELECT ciphertext FROM secrets WHERE connection_id = ?1 AND name = 'refresh_token'",
            [id.0],
            |r| r.get(0),
        )
        .unwrap()
    };
    let mut bytes = fs::read(env.db()).unwrap();
    assert!(
        contains(&bytes, &sealed),
        "the ciphertext is in the main file after close"
    );
    let at = bytes
        .windows(sealed.len())
        .position(|w| w == sealed)
        .unwrap();
    bytes[at + 30] ^= 0x01; // past the 24-byte nonce: inside the ciphertext
    fs::write(env.db(), &bytes).unwrap();
    let before = snapshot(&env);

    let store = SqliteStore::open(env.opts()).unwrap();
    assert_eq!(
        store.connections().unwrap().len(),
        1,
        "listing reads no ciphertext"
    );
    let err = store.secrets(id).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("refresh_token of connection 1 fails its authentication"),
        "{msg}"
    );
    assert_recovery(&msg, &env);
    assert_recovery(&store.check_integrity().unwrap_err().to_string(), &env);
    assert!(matches!(
        store.secrets(ConnectionId(9)),
        Err(StoreError::NotFound(_))
    ));
    drop(store);
    assert_unchanged(&before, &snapshot(&env));
}

#[test]
fn a_store_from_a_newer_bankdeck_is_refused_and_left_alone() {
    let env = Env::new();
    drop(seeded(&env, "nv").0);
    {
        let raw = rusqlite::Connection::open(env.db()).unwrap();
        raw.pragma_update(None, "user_version", 99).unwrap();
    }
    let before = snapshot(&env);
    let msg = open_err(env.opts());
    assert!(msg.contains("newer bankdeck (schema 99"), "{msg}");
    assert_unchanged(&before, &snapshot(&env));
}

#[test]
fn another_programs_database_is_refused() {
    let env = Env::new();
    fs::create_dir_all(env.data()).unwrap();
    fs::set_permissions(
        env.data(),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    {
        let raw = rusqlite::Connection::open(env.db()).unwrap();
        raw.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
            .unwrap();
    }
    fs::set_permissions(
        env.db(),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let before = snapshot(&env);
    let msg = open_err(env.opts());
    assert!(msg.contains("not a bankdeck store"), "{msg}");
    assert_unchanged(&before, &snapshot(&env));
}

/// Operations are added without a new schema (the columns hold a name), so
/// an older bankdeck can meet one in a row or a line a newer bankdeck wrote.
/// It reads it by that name; only a name no bankdeck could write is damage.
#[test]
fn an_operation_a_newer_bankdeck_recorded_is_read_by_its_name() {
    let env = Env::new();
    let (store, id) = seeded(&env, "nop");
    drop(store);
    let raw = rusqlite::Connection::open(env.db()).unwrap();
    raw.execute_batch(
        "UPDATE connections SET last_op = 're_consent', last_op_ok = 1, version = version + 1;
         INSERT INTO audit (at, actor, connection_id, op, ok, message)
             SELECT 1, 'ops', id, 're_consent', 1, 'a newer operation' FROM connections;",
    )
    .unwrap();
    let store = env.open();
    let conn = store.connection(id).unwrap().unwrap();
    assert_eq!(conn.last_op.unwrap().op.as_str(), "re_consent");
    assert_eq!(store.connections().unwrap().len(), 1);
    let newest = &store.audit(Some(id), 1).unwrap()[0];
    assert_eq!(
        (newest.op.as_str(), newest.message.as_str()),
        ("re_consent", "a newer operation")
    );
    drop(store);

    raw.execute_batch("UPDATE connections SET last_op = 'Re-consent\x1b[2J';")
        .unwrap();
    drop(raw);
    let before = snapshot(&env);
    assert_recovery(&refused(&env), &env);
    assert_unchanged(&before, &snapshot(&env));
}
