//! Versioned schema: `PRAGMA user_version` plus an ordered list of migrations.
//!
//! Migration `n` (1-based) takes a store from version `n - 1` to `n`; each runs
//! in its own `BEGIN IMMEDIATE` transaction together with the version bump,
//! so a crash mid-migration leaves the previous version intact. A store
//! written by a newer bankdeck is refused rather than guessed at.
//!
//! Layout choices: secrets live in their own `secrets` table, one row per
//! (connection, name), so listing connections never reads a ciphertext page;
//! scopes are one small JSON column; timestamps are Unix seconds.

use rusqlite::{Connection, Transaction, TransactionBehavior};

/// Ordered migrations; never edit a shipped one, append a new one.
const MIGRATIONS: &[&str] = &[V1];

/// The schema version this build writes.
pub const LATEST: i64 = MIGRATIONS.len() as i64;

const V1: &str = r#"
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
) WITHOUT ROWID;

CREATE TABLE users (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    email      TEXT,
    created_at INTEGER NOT NULL
);

CREATE TABLE connections (
    id                   INTEGER PRIMARY KEY,
    user_id              INTEGER NOT NULL REFERENCES users(id),
    provider             TEXT NOT NULL,
    kind                 TEXT NOT NULL,
    grant_type           TEXT NOT NULL,
    label                TEXT NOT NULL,
    remote_connection_id TEXT,
    remote_user_id       TEXT,
    remote_token_id      TEXT,
    remote_session       TEXT,
    code_expires_at      INTEGER,
    access_kind          TEXT NOT NULL CHECK (access_kind IN ('none', 'permanent', 'at')),
    access_expires_at    INTEGER,
    access_received_at   INTEGER,
    has_refresh          INTEGER NOT NULL,
    refresh_expires_at   INTEGER,
    scopes_json          TEXT,
    reauth_required      INTEGER NOT NULL DEFAULT 0,
    logged_out_at        INTEGER,
    delinked_at          INTEGER,
    last_error           TEXT,
    last_op              TEXT,
    last_op_at           INTEGER,
    last_op_ok           INTEGER,
    created_at           INTEGER NOT NULL,
    version              INTEGER NOT NULL DEFAULT 1,
    lease_holder         TEXT,
    lease_until          INTEGER
);
CREATE INDEX connections_user ON connections(user_id);

CREATE TABLE secrets (
    connection_id INTEGER NOT NULL REFERENCES connections(id),
    name          TEXT NOT NULL CHECK (name IN
                  ('access_code', 'access_token', 'refresh_token', 'id_token', 'user_secret')),
    ciphertext    BLOB NOT NULL,
    PRIMARY KEY (connection_id, name)
) WITHOUT ROWID;

CREATE TABLE audit (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    at            INTEGER NOT NULL,
    actor         TEXT NOT NULL,
    connection_id INTEGER REFERENCES connections(id),
    op            TEXT NOT NULL,
    ok            INTEGER NOT NULL,
    message       TEXT NOT NULL
);
CREATE INDEX audit_connection ON audit(connection_id, id);

CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"#;

pub(crate) fn user_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.pragma_query_value(None, "user_version", |row| row.get(0))
}

/// Whether the file holds any table at all (a version-0 file with tables is
/// some other program's database, not an empty bankdeck store).
pub(crate) fn has_tables(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row("SELECT EXISTS (SELECT 1 FROM sqlite_master)", [], |row| {
        row.get(0)
    })
}

/// Creates the whole schema inside the caller's transaction (a new store), so
/// the schema and the key check that the caller writes next commit together.
pub(crate) fn create_all(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    for sql in MIGRATIONS {
        tx.execute_batch(sql)?;
    }
    tx.pragma_update(None, "user_version", LATEST)
}

/// Runs every migration above `from` on an existing store; returns the
/// version reached.
pub(crate) fn migrate(conn: &mut Connection, from: i64) -> rusqlite::Result<i64> {
    migrate_with(conn, from, MIGRATIONS)
}

fn migrate_with(conn: &mut Connection, from: i64, list: &[&str]) -> rusqlite::Result<i64> {
    let mut version = from;
    for (index, sql) in list.iter().enumerate() {
        let target = index as i64 + 1;
        if target <= version {
            continue;
        }
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Another process may have migrated while we waited for the lock.
        if user_version(&tx)? >= target {
            version = user_version(&tx)?;
            continue;
        }
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", target)?;
        tx.commit()?;
        version = target;
    }
    Ok(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    const V2: &str = "ALTER TABLE users ADD COLUMN note TEXT;";

    #[test]
    fn migrations_run_in_order_once_and_bump_the_version() {
        let mut conn = Connection::open_in_memory().unwrap();
        assert_eq!(migrate_with(&mut conn, 0, &[V1]).unwrap(), 1);
        conn.execute("INSERT INTO users (name, created_at) VALUES ('a', 1)", [])
            .unwrap();
        assert_eq!(migrate_with(&mut conn, 1, &[V1, V2]).unwrap(), 2);
        assert_eq!(user_version(&conn).unwrap(), 2);
        let note: Option<String> = conn
            .query_row("SELECT note FROM users WHERE name = 'a'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(note, None, "old rows survive the migration");
        // Already there (another process did it): nothing runs twice.
        assert_eq!(migrate_with(&mut conn, 1, &[V1, V2]).unwrap(), 2);
    }

    #[test]
    fn a_failing_migration_leaves_the_previous_version() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate_with(&mut conn, 0, &[V1]).unwrap();
        let broken = "ALTER TABLE users ADD COLUMN x TEXT; SELECT * FROM no_such_table;";
        assert!(migrate_with(&mut conn, 1, &[V1, broken]).is_err());
        assert_eq!(user_version(&conn).unwrap(), 1);
        let has_x = conn.prepare("SELECT x FROM users").is_ok();
        assert!(!has_x, "the half-run migration was rolled back");
    }
}
