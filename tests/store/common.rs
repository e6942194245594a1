//! Fixtures shared by the store tests.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use bankdeck::domain::{
    AccessExpiry, ConnectionId, Grant, Lifetimes, OpKind, ProviderKind, RemoteIds, Scopes, Secret,
    Secrets, UnixTime, UserId,
};
use bankdeck::store::{AuditDraft, KeySource, NewConnection, OpenOptions, SqliteStore, Store};
use tempfile::TempDir;

pub const NOW: UnixTime = UnixTime(1_700_000_000);

/// A private temp folder holding `data/` (the store) and `config/key`.
pub struct Env {
    pub dir: TempDir,
}

impl Env {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).unwrap();
        Self { dir }
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn db(&self) -> PathBuf {
        self.data().join("bankdeck.db")
    }

    pub fn key(&self) -> PathBuf {
        self.dir.path().join("config").join("key")
    }

    pub fn opts(&self) -> OpenOptions {
        OpenOptions::new(self.data(), KeySource::File(self.key()))
    }

    pub fn open(&self) -> SqliteStore {
        SqliteStore::open(self.opts()).unwrap()
    }
}

pub fn audit(op: OpKind, message: &str) -> AuditDraft {
    AuditDraft {
        at: NOW,
        actor: "alice".into(),
        op,
        ok: true,
        message: message.into(),
    }
}

/// A connection with every field set, secrets carrying `tag` so that each
/// test's plaintext is recognisable in raw bytes.
pub fn full_connection(user: UserId, tag: &str) -> NewConnection {
    NewConnection {
        user_id: user,
        provider: "dapi-sandbox".into(),
        kind: ProviderKind::Dapi,
        grant: Grant::DapiConnect,
        label: "ADCB".into(),
        remote: RemoteIds {
            // One Connect login per tag: the store refuses the same one twice.
            connection_id: Some(format!("conn-{tag}")),
            user_id: Some("remote-user".into()),
            token_id: Some("tok-9".into()),
            session: Some("sess-3".into()),
        },
        lifetimes: Lifetimes {
            code_expires_at: Some(NOW.plus_secs(300)),
            access: Some(AccessExpiry::At(NOW.plus_secs(3600))),
            access_received_at: Some(NOW),
            has_refresh: true,
            refresh_expires_at: Some(NOW.plus_secs(86_400)),
            refresh_slides: true,
        },
        scopes: Scopes {
            granted: vec!["accounts.get".into(), "balance.get".into()].into(),
            denied: vec!["transfer.create".into()].into(),
            products: vec!["data".into()].into(),
        },
        secrets: secrets(tag),
    }
}

pub fn secrets(tag: &str) -> Secrets {
    Secrets {
        access_code: Some(Secret::new(format!("CODE-{tag}-plaintext-canary"))),
        access_token: Some(Secret::new(format!("ACCESS-{tag}-plaintext-canary"))),
        refresh_token: Some(Secret::new(format!("REFRESH-{tag}-plaintext-canary"))),
        id_token: Some(Secret::new(format!("IDTOKEN-{tag}-plaintext-canary"))),
        user_secret: Some(Secret::new(format!("USERSECRET-{tag}-plaintext-canary"))),
    }
}

/// A store with one user and one fully populated connection.
pub fn seeded(env: &Env, tag: &str) -> (SqliteStore, ConnectionId) {
    let store = env.open();
    let user = store
        .add_user(
            "amira",
            Some("amira@example.com"),
            audit(OpKind::AddUser, "added"),
        )
        .unwrap();
    let conn = store
        .insert_connection(full_connection(user.id, tag), audit(OpKind::Link, "linked"))
        .unwrap();
    (store, conn.id)
}

/// Every file in the data and config folders with its bytes, for
/// "nothing was changed" comparisons.
pub fn snapshot(env: &Env) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for dir in [env.data(), env.key().parent().unwrap().to_path_buf()] {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            out.push((path.clone(), fs::read(&path).unwrap()));
        }
    }
    out.sort();
    out
}

/// Asserts that two snapshots hold the same files with the same bytes,
/// naming the first difference instead of dumping the bytes.
#[track_caller]
pub fn assert_unchanged(before: &[(PathBuf, Vec<u8>)], after: &[(PathBuf, Vec<u8>)]) {
    let names = |s: &[(PathBuf, Vec<u8>)]| s.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>();
    assert_eq!(names(before), names(after), "the set of files changed");
    for ((path, a), (_, b)) in before.iter().zip(after) {
        assert!(
            a == b,
            "{} changed ({} -> {} bytes)",
            path.display(),
            a.len(),
            b.len()
        );
    }
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

pub fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

/// The message of a refusal, asserting that opening failed.
pub fn open_err(opts: OpenOptions) -> String {
    match SqliteStore::open(opts) {
        Ok(_) => panic!("the store opened but should have been refused"),
        Err(e) => e.to_string(),
    }
}
