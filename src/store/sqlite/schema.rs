//! Versioned schema: `PRAGMA user_version` plus an ordered list of migrations.
//!
//! Migration `n` (1-based) takes a store from version `n - 1` to `n`; each runs
//! in its own `BEGIN IMMEDIATE` transaction together with the version bump,
//! so a crash mid-migration leaves the previous version intact. A store
//! written by a newer bankdeck is refused rather than guessed at.
//!
//! Apart from the migrations, [`tune_up`] rewrites a table's SQL where a
//! newer bankdeck words the same constraint better for SQLite, adds an
//! index an older bankdeck maintains without knowing of it, and lets the
//! audit log's archived lines leave it: changes no older bankdeck would
//! notice, so they bump no version (an older binary keeps opening the store,
//! and `status` and `check`, which open it read-only, need no upgrade).
//!
//! The values a column holds are part of the schema too. A new operation
//! needs no version: an older bankdeck reads it by its name
//! (`OpKind::Unknown`) and never performs it. A new provider kind, grant or
//! access kind does: an older bankdeck cannot derive such a row's state, and
//! must refuse the store by its version rather than call it damaged.
//!
//! Layout choices: secrets live in their own `secrets` table, one row per
//! (connection, name), so listing connections never reads a ciphertext page;
//! scopes are one small JSON column; timestamps are Unix seconds.

use rusqlite::{Connection, Transaction, TransactionBehavior, params};

/// Ordered migrations; never edit a shipped one, append a new one.
const MIGRATIONS: &[&str] = &[V1, V2];

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

/// Whether a refresh moves the refresh token's end on (`refresh_slides`).
/// A version, not a tune-up: an older bankdeck would write refreshes
/// without keeping the column true to them.
const V2: &str = "ALTER TABLE connections ADD COLUMN refresh_slides INTEGER NOT NULL DEFAULT 0;";

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
    reword_checks(tx)?;
    let_archived_lines_leave(tx)?;
    tx.execute_batch(USERS_BY_NAME_NOCASE)?;
    tx.execute_batch(LEASED)?;
    tx.pragma_update(None, "user_version", LATEST)
}

/// Names that differ only in case are refused as one user's (see
/// `writes::add_user`); without this index that look-up read every user.
/// An older bankdeck keeps it up to date without knowing of it.
const USERS_BY_NAME_NOCASE: &str =
    "CREATE INDEX IF NOT EXISTS users_name_nocase ON users(name COLLATE NOCASE)";

/// The leases held now, which a screen reads every other second to show
/// the rows another process works on; without this index that read went
/// through every connection. It holds only the rows leased at the moment.
/// An older bankdeck keeps it up to date without knowing of it.
const LEASED: &str = "CREATE INDEX IF NOT EXISTS connections_leased ON connections(id) \
     WHERE lease_holder IS NOT NULL";

fn has_index(conn: &Connection, name: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'index' AND name = ?1)",
        [name],
        |r| r.get(0),
    )
}

/// Brings a migrated store's constraints to their current wording, and its
/// indexes to the current set, if an older bankdeck wrote it; a store
/// already there costs four reads.
pub(crate) fn tune_up(conn: &mut Connection) -> rusqlite::Result<()> {
    let (checks, trigger) = (has_old_checks(conn)?, has_old_trigger(conn)?);
    let index = !has_index(conn, "users_name_nocase")?;
    let leased = !has_index(conn, "connections_leased")?;
    if !checks && !trigger && !index && !leased {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if checks {
        reword_checks(&tx)?;
    }
    if trigger {
        let_archived_lines_leave(&tx)?;
    }
    if index {
        tx.execute_batch(USERS_BY_NAME_NOCASE)?;
    }
    if leased {
        tx.execute_batch(LEASED)?;
    }
    tx.commit()
}

/// The `meta` key holding the id of the last audit line an archive file
/// holds (none: 0).
pub(crate) const ARCHIVED_UPTO: &str = "audit_archived_upto";

/// Schema 1 refuses every `DELETE` on the audit log. `bankdeck audit
/// archive` moves its oldest lines to a file; the log stays append-only
/// for every other line: a line may leave only once the archive mark, set
/// after the file is on disk, covers it. The mark is read as an integer
/// whatever was stored, since SQLite orders every number below every blob,
/// and a blob there would have let every line go.
const AUDIT_NO_DELETE: &str = "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit \
     WHEN OLD.id > coalesce((SELECT CAST(value AS INTEGER) FROM meta \
                             WHERE key = 'audit_archived_upto'), 0) \
     BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: a line leaves it only once \
     an archive file holds it'); END";

fn has_old_trigger(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT NOT EXISTS (SELECT 1 FROM sqlite_schema \
         WHERE type = 'trigger' AND name = 'audit_no_delete' AND instr(sql, ?1) > 0)",
        [ARCHIVED_UPTO],
        |r| r.get(0),
    )
}

fn let_archived_lines_leave(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch("DROP TRIGGER IF EXISTS audit_no_delete")?;
    tx.execute_batch(AUDIT_NO_DELETE)
}

fn has_old_checks(conn: &Connection) -> rusqlite::Result<bool> {
    let mut any = false;
    for (table, old, _) in CHECK_WORDING {
        any |= conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_schema \
             WHERE type = 'table' AND name = ?1 AND instr(sql, ?2) > 0)",
            params![table, old],
            |r| r.get::<_, bool>(0),
        )?;
    }
    Ok(any)
}

/// Two CHECK constraints of schema 1 list their allowed values with
/// `IN (...)`; they now say the same with `=` and `OR`. SQLite codes an `IN`
/// list of more than two constants as a temporary B-tree, built afresh for
/// every row it checks: each refresh wrote three rows past such a check (the
/// row and two secrets), and building and dropping those B-trees was about
/// an eighth of a refresh's instructions. A CHECK constraint is no part of
/// the file's format, so this is SQLite's documented in-place edit of a
/// table's SQL (its "simpler procedure" for constraint changes:
/// `writable_schema`, then the schema cookie one up) rather than a rebuild of
/// 100 000 rows; every row that met the old constraint meets the new one,
/// which allows the same values. A table whose SQL has neither wording was
/// changed by something else and is left as it is.
fn reword_checks(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    let cookie: i64 = tx.pragma_query_value(None, "schema_version", |r| r.get(0))?;
    tx.pragma_update(None, "writable_schema", true)?;
    let mut changed = 0;
    for (table, old, new) in CHECK_WORDING {
        changed += tx.execute(
            "UPDATE sqlite_schema SET sql = replace(sql, ?2, ?3) \
             WHERE type = 'table' AND name = ?1 AND instr(sql, ?2) > 0",
            params![table, old, new],
        )?;
    }
    if changed > 0 {
        tx.pragma_update(None, "schema_version", cookie + 1)?;
    }
    // RESET, not OFF: this handle also reads the tables' SQL again, so its
    // own statements check the new wording (OFF leaves it on the old).
    tx.pragma_update(None, "writable_schema", "RESET")
}

/// Each table's constraint as schema 1 words it, and as it is worded now.
const CHECK_WORDING: [(&str, &str, &str); 2] = [
    (
        "connections",
        "CHECK (access_kind IN ('none', 'permanent', 'at'))",
        "CHECK (access_kind = 'none' OR access_kind = 'permanent' OR access_kind = 'at')",
    ),
    (
        "secrets",
        "CHECK (name IN\n                  \
         ('access_code', 'access_token', 'refresh_token', 'id_token', 'user_secret'))",
        "CHECK (name = 'access_code' OR name = 'access_token' OR name = 'refresh_token' \
         OR name = 'id_token' OR name = 'user_secret')",
    ),
];

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

    const NEXT: &str = "ALTER TABLE users ADD COLUMN note TEXT;";

    #[test]
    fn migrations_run_in_order_once_and_bump_the_version() {
        let mut conn = Connection::open_in_memory().unwrap();
        assert_eq!(migrate_with(&mut conn, 0, &[V1]).unwrap(), 1);
        conn.execute("INSERT INTO users (name, created_at) VALUES ('a', 1)", [])
            .unwrap();
        assert_eq!(migrate_with(&mut conn, 1, &[V1, NEXT]).unwrap(), 2);
        assert_eq!(user_version(&conn).unwrap(), 2);
        let note: Option<String> = conn
            .query_row("SELECT note FROM users WHERE name = 'a'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(note, None, "old rows survive the migration");
        // Already there (another process did it): nothing runs twice.
        assert_eq!(migrate_with(&mut conn, 1, &[V1, NEXT]).unwrap(), 2);
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

    /// The statements every refresh runs on the rows these constraints guard.
    const HOT_WRITES: [&str; 3] = [
        super::super::rows::UPDATE,
        super::super::rows::INSERT,
        super::super::writes::PUT_SECRET,
    ];

    /// The VDBE program SQLite compiles `sql` to, one opcode name a step.
    fn program(conn: &Connection, sql: &str) -> Vec<String> {
        let mut explain = conn.prepare(&format!("EXPLAIN {sql}")).unwrap();
        let nulls = vec![rusqlite::types::Null; explain.parameter_count()];
        explain
            .query_map(rusqlite::params_from_iter(nulls), |r| r.get::<_, String>(1))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    fn temporary_btrees(conn: &Connection, sql: &str) -> usize {
        program(conn, sql)
            .iter()
            .filter(|op| *op == "OpenEphemeral")
            .count()
    }

    /// What `EXPLAIN QUERY PLAN` says of `sql`, one step a line (its
    /// parameters, if any, bound to NULL).
    fn plan(conn: &Connection, sql: &str) -> Vec<String> {
        let mut explain = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let nulls = vec![rusqlite::types::Null; explain.parameter_count()];
        explain
            .query_map(rusqlite::params_from_iter(nulls), |r| r.get::<_, String>(3))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    #[test]
    fn the_lists_id_bounds_are_looked_up_not_scanned() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn, 0).unwrap();
        let steps = plan(&conn, super::super::reads::ID_BOUNDS);
        assert!(
            steps.iter().filter(|s| s.starts_with("SEARCH")).count() == 2
                && !steps.iter().any(|s| s.starts_with("SCAN connections")),
            "{steps:?}"
        );
    }

    /// The screen's read of the leases held, every other second, goes
    /// through the few leased rows, not the 100 000 connections: a new store
    /// has the index, an older one gets it at its first writable open.
    #[test]
    fn the_leases_held_are_looked_up_not_scanned() {
        let uses_index = |conn: &Connection| {
            let steps = plan(conn, super::super::reads::LEASES);
            // A scan of the partial index reads the leased rows alone.
            steps
                .iter()
                .any(|s| s.contains("USING INDEX connections_leased"))
                && !steps.iter().any(|s| s == "SCAN connections")
        };
        let mut fresh = Connection::open_in_memory().unwrap();
        let tx = fresh.transaction().unwrap();
        create_all(&tx).unwrap();
        tx.commit().unwrap();
        assert!(
            uses_index(&fresh),
            "{:?}",
            plan(&fresh, super::super::reads::LEASES)
        );
        let mut older = first_wording_store();
        assert!(!uses_index(&older));
        tune_up(&mut older).unwrap();
        assert!(uses_index(&older));
    }

    /// A new store has the index from the start; an older one gets it at
    /// its first writable open, its schema version unchanged.
    #[test]
    fn a_name_in_any_case_is_looked_up_not_scanned() {
        let uses_index = |conn: &Connection| {
            let steps = plan(conn, super::super::reads::USER_NAMED_ANY_CASE);
            steps.iter().any(|s| s.contains("users_name_nocase"))
                && !steps.iter().any(|s| s.starts_with("SCAN users"))
        };
        let mut fresh = Connection::open_in_memory().unwrap();
        let tx = fresh.transaction().unwrap();
        create_all(&tx).unwrap();
        tx.commit().unwrap();
        assert!(uses_index(&fresh));

        let mut older = first_wording_store();
        assert!(!uses_index(&older), "schema 1 alone scans");
        tune_up(&mut older).unwrap();
        assert!(uses_index(&older));
        assert_eq!(
            user_version(&older).unwrap(),
            LATEST,
            "a tune-up bumps no version: older bankdecks still open it"
        );
        let cookie_then = cookie(&older);
        tune_up(&mut older).unwrap();
        assert_eq!(cookie(&older), cookie_then, "a tuned store is left alone");
    }

    fn cookie(conn: &Connection) -> i64 {
        conn.pragma_query_value(None, "schema_version", |r| r.get(0))
            .unwrap()
    }

    /// A store in schema 1's first wording (its CHECKs and trigger), with
    /// every later migration, one user, connection and secret.
    fn first_wording_store() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "foreign_keys", "ON").unwrap();
        migrate(&mut conn, 0).unwrap();
        conn.execute_batch(
            "INSERT INTO users (id, name, created_at) VALUES (1, 'ana', 1);
             INSERT INTO connections (id, user_id, provider, kind, grant_type, label,
                 access_kind, has_refresh, created_at)
             VALUES (1, 1, 'bank', 'oauth2', 'authorization_code', 'main', 'at', 1, 1);
             INSERT INTO secrets VALUES (1, 'refresh_token', x'00');",
        )
        .unwrap();
        conn
    }

    #[test]
    fn the_tune_up_keeps_every_row_and_checks_without_a_temporary_btree() {
        let mut conn = first_wording_store();
        assert!(
            HOT_WRITES
                .iter()
                .all(|sql| temporary_btrees(&conn, sql) == 1),
            "the first wording built one per row written"
        );
        tune_up(&mut conn).unwrap();
        for sql in HOT_WRITES {
            assert_eq!(temporary_btrees(&conn, sql), 0, "{sql}");
        }
        assert_eq!(
            user_version(&conn).unwrap(),
            LATEST,
            "a tune-up bumps no version: older bankdecks still open it"
        );
        let kept: (String, Vec<u8>) = conn
            .query_row(
                "SELECT c.access_kind, s.ciphertext FROM connections c \
                 JOIN secrets s ON s.connection_id = c.id",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(kept, ("at".to_owned(), vec![0]));
        let check: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok");
        // The same values are allowed, and only those.
        let set_kind = |kind: &str| {
            conn.execute("UPDATE connections SET access_kind = ?1", [kind])
                .map_err(|e| e.to_string())
        };
        assert!(set_kind("permanent").is_ok() && set_kind("none").is_ok());
        assert!(
            set_kind("forever")
                .unwrap_err()
                .contains("CHECK constraint failed")
        );
        let put = |name: &str| {
            conn.execute(super::super::writes::PUT_SECRET, params![1, name, [1u8]])
                .map_err(|e| e.to_string())
        };
        for name in [
            "access_code",
            "access_token",
            "refresh_token",
            "id_token",
            "user_secret",
        ] {
            put(name).unwrap();
        }
        assert!(
            put("password")
                .unwrap_err()
                .contains("CHECK constraint failed")
        );
    }

    #[test]
    fn the_tune_up_lets_only_archived_audit_lines_leave() {
        let mut conn = first_wording_store();
        conn.execute_batch(
            "INSERT INTO audit (at, actor, op, ok, message) VALUES \
             (1, 'a', 'add_user', 1, 'x'), (2, 'a', 'add_user', 1, 'y');",
        )
        .unwrap();
        conn.execute("INSERT INTO meta VALUES (?1, 1)", [ARCHIVED_UPTO])
            .unwrap();
        let delete = |conn: &Connection, id: i64| {
            conn.execute("DELETE FROM audit WHERE id = ?1", [id])
                .map_err(|e| e.to_string())
        };
        assert!(delete(&conn, 1).unwrap_err().contains("append-only"));
        tune_up(&mut conn).unwrap();
        assert_eq!(user_version(&conn).unwrap(), LATEST, "no version bumped");
        assert!(delete(&conn, 2).unwrap_err().contains("append-only"));
        assert_eq!(delete(&conn, 1), Ok(1), "the marked line leaves");
        // A mark that is not a number lets nothing go (every number sorts
        // below every blob, so compared as stored it would let all go).
        conn.execute(
            "UPDATE meta SET value = x'ff' WHERE key = ?1",
            [ARCHIVED_UPTO],
        )
        .unwrap();
        assert!(delete(&conn, 2).unwrap_err().contains("append-only"));
        let before = cookie(&conn);
        tune_up(&mut conn).unwrap();
        assert_eq!(cookie(&conn), before, "no second edit");
    }

    #[test]
    fn a_tuned_store_is_left_as_it_is() {
        let mut conn = first_wording_store();
        tune_up(&mut conn).unwrap();
        let before = cookie(&conn);
        tune_up(&mut conn).unwrap();
        assert_eq!(cookie(&conn), before, "no second edit");
    }

    #[test]
    fn a_new_store_has_the_current_wording() {
        let mut conn = Connection::open_in_memory().unwrap();
        let tx = conn.transaction().unwrap();
        create_all(&tx).unwrap();
        tx.commit().unwrap();
        assert_eq!(user_version(&conn).unwrap(), LATEST);
        assert!(!has_old_checks(&conn).unwrap());
        for sql in HOT_WRITES {
            assert_eq!(temporary_btrees(&conn, sql), 0, "{sql}");
        }
    }

    #[test]
    fn a_table_changed_by_another_program_is_left_alone() {
        let mut conn = first_wording_store();
        conn.execute_batch(
            "PRAGMA writable_schema = ON;
             UPDATE sqlite_schema SET sql = replace(sql, '''id_token''', '''other''')
                 WHERE name = 'secrets';
             PRAGMA writable_schema = RESET;",
        )
        .unwrap();
        let table_sql = |conn: &Connection, name: &str| -> String {
            conn.query_row(
                "SELECT sql FROM sqlite_schema WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .unwrap()
        };
        let secrets = table_sql(&conn, "secrets");
        tune_up(&mut conn).unwrap();
        assert_eq!(table_sql(&conn, "secrets"), secrets);
        assert!(table_sql(&conn, "connections").contains("access_kind = 'none' OR"));
    }

    /// The one index an outcome's write keeps is that of the leased rows,
    /// which it releases: a few dozen entries, not the user index over
    /// every connection, nor a foreign-key check.
    #[test]
    fn an_outcome_write_leaves_the_user_index_and_its_foreign_key_alone() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "foreign_keys", "ON").unwrap();
        migrate(&mut conn, 0).unwrap();
        tune_up(&mut conn).unwrap();
        let count = |program: &[String], op: &str| program.iter().filter(|o| *o == op).count();
        let update = program(&conn, super::super::rows::UPDATE);
        assert_eq!(count(&update, "IdxDelete"), 1, "{update:?}");
        assert_eq!(count(&update, "IdxInsert"), 1, "{update:?}");
        for op in ["FkCounter", "FkIfZero"] {
            assert_eq!(count(&update, op), 0, "{op} in {update:?}");
        }
        conn.execute_batch("DROP INDEX connections_leased").unwrap();
        let update = program(&conn, super::super::rows::UPDATE);
        assert_eq!(count(&update, "IdxDelete") + count(&update, "IdxInsert"), 0);
    }
}
