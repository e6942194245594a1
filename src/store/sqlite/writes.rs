//! Every write, each inside the caller's `BEGIN IMMEDIATE` transaction.
//!
//! A write and its audit line are one transaction: both are visible, or
//! neither. Timestamps come from the audit draft (the store never reads the
//! clock), so a connection's `created_at` is the moment of the operation that
//! created it. Secrets are sealed with the row id in their AAD, which is why
//! a new connection's row is inserted before its secrets.

use std::path::Path;

use rusqlite::{OptionalExtension, Transaction, params};

use super::crypto::{FieldAddr, FieldCipher};
use super::reads;
use super::rows;
use super::sql_error::sql;
use crate::domain::{Connection, ConnectionId, Flags, Secret, Secrets, UnixTime, User, UserId};
use crate::store::{AuditDraft, ConnectionUpdate, NewConnection, SecretChange, StoreError};

pub(crate) const SECRETS_TABLE: &str = "secrets";

pub(crate) fn add_user(
    tx: &Transaction<'_>,
    db: &Path,
    name: &str,
    email: Option<&str>,
    audit: AuditDraft,
) -> Result<User, StoreError> {
    // The name, or one that differs from it only in case ("Alice" beside
    // "alice"): a typo far more often than a second end user. The exact one
    // first.
    match reads::user_any_case(tx, db, name)?.map(|u| u.name) {
        Some(held) if held == name => {
            return Err(StoreError::Invalid(format!(
                "a user named {name:?} already exists"
            )));
        }
        Some(held) => {
            return Err(StoreError::Invalid(format!(
                "a user named {held:?} exists, and {name:?} differs from it only in case: \
                 use {held:?}"
            )));
        }
        None => {}
    }
    tx.execute(
        "INSERT INTO users (name, email, created_at) VALUES (?1, ?2, ?3)",
        params![name, email, audit.at.0],
    )
    .map_err(sql(db))?;
    let user = User {
        id: UserId(tx.last_insert_rowid()),
        name: name.to_owned(),
        email: email.map(str::to_owned),
        created_at: audit.at,
    };
    append_audit(tx, None, &audit).map_err(sql(db))?;
    Ok(user)
}

pub(crate) fn remove_user(
    tx: &Transaction<'_>,
    db: &Path,
    name: &str,
    audit: AuditDraft,
) -> Result<User, StoreError> {
    let user = match reads::user_any_case(tx, db, name)? {
        Some(user) if user.name == name => user,
        Some(held) => {
            return Err(StoreError::NotFound(format!(
                "user named {name:?}: did you mean {:?}?",
                held.name
            )));
        }
        None => {
            return Err(StoreError::NotFound(format!(
                "user named {name:?} (`bankdeck users list` shows who exists)"
            )));
        }
    };
    let ids: Vec<i64> = tx
        .prepare_cached("SELECT id FROM connections WHERE user_id = ?1 ORDER BY id")
        .and_then(|mut s| s.query_map([user.id.0], |r| r.get(0))?.collect())
        .map_err(sql(db))?;
    if !ids.is_empty() {
        const SHOWN: usize = 5;
        let mut listed: Vec<String> = ids.iter().take(SHOWN).map(i64::to_string).collect();
        if ids.len() > SHOWN {
            listed.push(format!("and {} more", ids.len() - SHOWN));
        }
        let held = match ids.len() {
            1 => "connection".to_owned(),
            n => format!("{n} connections:"),
        };
        return Err(StoreError::Invalid(format!(
            "{name} holds {held} {}: a user stays while a connection's history names them; \
             only a user with no connection can be removed",
            listed.join(", ")
        )));
    }
    tx.execute("DELETE FROM users WHERE id = ?1", [user.id.0])
        .map_err(sql(db))?;
    append_audit(tx, None, &audit).map_err(sql(db))?;
    Ok(user)
}

pub(crate) fn insert_connection(
    tx: &Transaction<'_>,
    cipher: &FieldCipher,
    db: &Path,
    new: NewConnection,
    audit: AuditDraft,
) -> Result<Connection, StoreError> {
    if let Some((id, user)) = already_filed(tx, db, &new)? {
        return Err(StoreError::Invalid(format!(
            "this Connect payload is already connection {id} ({user}): nothing was added"
        )));
    }
    if let Some(id) = already_held(tx, db, &new)? {
        return Err(StoreError::Held(id));
    }
    insert_flagged(tx, cipher, db, new, Flags::default(), audit)
}

/// The user's row that the new connection's grant renews: the worker looks
/// before it asks the provider, but two processes asking at once both found
/// none and both added a row. Looked for again here, inside the write
/// transaction, through the user's index.
fn already_held(
    tx: &Transaction<'_>,
    db: &Path,
    new: &NewConnection,
) -> Result<Option<ConnectionId>, StoreError> {
    let subject = new.remote.user_id.as_deref();
    let theirs = reads::user_connections(tx, db, new.user_id)?;
    Ok((theirs.iter())
        .find(|c| c.renewed_by(&new.provider, new.grant, subject))
        .map(|c| c.id))
}

/// The connection, and its user, that already holds the same Dapi Connect
/// login (provider, connectionID and tokenID), whatever its state. A payload
/// filed twice (pasted again, a script's retry) made a second row whose
/// one-time access code only one of the two could ever exchange. Checked
/// inside the write transaction, so two processes cannot both file it. The
/// remote ids are not indexed (an index would be kept up by every refresh's
/// row write): this scans the table, a few milliseconds at 100 000 rows, on
/// a link only.
fn already_filed(
    tx: &Transaction<'_>,
    db: &Path,
    new: &NewConnection,
) -> Result<Option<(i64, String)>, StoreError> {
    let (crate::domain::ProviderKind::Dapi, Some(connection_id)) =
        (new.kind, &new.remote.connection_id)
    else {
        return Ok(None);
    };
    tx.query_row(
        "SELECT c.id, u.name FROM connections c JOIN users u ON u.id = c.user_id \
         WHERE c.provider = ?1 AND c.remote_connection_id = ?2 AND c.remote_token_id IS ?3 \
         LIMIT 1",
        params![new.provider, connection_id, new.remote.token_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
    .map_err(sql(db))
}

/// [`insert_connection`] for a connection born with flags already set (a
/// bulk import of connections that were delinked or failed elsewhere).
pub(crate) fn insert_flagged(
    tx: &Transaction<'_>,
    cipher: &FieldCipher,
    db: &Path,
    new: NewConnection,
    flags: Flags,
    audit: AuditDraft,
) -> Result<Connection, StoreError> {
    let user: Option<String> = tx
        .query_row(
            "SELECT name FROM users WHERE id = ?1",
            [new.user_id.0],
            |r| r.get(0),
        )
        .optional()
        .map_err(sql(db))?;
    let user = user.ok_or_else(|| StoreError::NotFound(format!("user {}", new.user_id.0)))?;
    let mut conn = Connection {
        id: ConnectionId(0),
        user_id: new.user_id,
        user,
        provider: new.provider,
        kind: new.kind,
        grant: new.grant,
        label: new.label,
        remote: new.remote,
        lifetimes: new.lifetimes,
        scopes: new.scopes,
        flags,
        last_op: Some(audit.last_op()),
        created_at: audit.at,
        version: 1,
    };
    conn.id = ConnectionId(rows::insert(tx, &conn).map_err(sql(db))?);
    put_secrets(tx, cipher, db, conn.id, &new.secrets)?;
    append_audit(tx, Some(conn.id), &audit).map_err(sql(db))?;
    Ok(conn)
}

/// The optimistic, audited update described on [`crate::store::Store::apply`].
pub(crate) fn apply(
    tx: &Transaction<'_>,
    cipher: &FieldCipher,
    db: &Path,
    id: ConnectionId,
    expected_version: i64,
    update: ConnectionUpdate,
    audit: AuditDraft,
) -> Result<Connection, StoreError> {
    let conn = reads::existing(tx, db, id)?;
    if conn.version != expected_version {
        return Err(StoreError::Conflict(id));
    }
    apply_to(tx, cipher, db, conn, &update, &audit, None)
}

/// [`apply`] onto `base`, the row as the caller last read it: the update's
/// own version check (`WHERE version = …`) proves nobody wrote since, so the
/// row need not be read again. The same row write gives back `release`'s
/// lease, if it holds one.
pub(crate) fn apply_to(
    tx: &Transaction<'_>,
    cipher: &FieldCipher,
    db: &Path,
    mut conn: Connection,
    update: &ConnectionUpdate,
    audit: &AuditDraft,
    release: Option<&str>,
) -> Result<Connection, StoreError> {
    let id = conn.id;
    update.merge_into(&mut conn, audit);
    if rows::update(tx, &conn, release).map_err(sql(db))? == 0 {
        return Err(if reads::exists(tx, db, id)? {
            StoreError::Conflict(id)
        } else {
            StoreError::no_connection(id)
        });
    }
    let changes = [
        ("access_code", &update.access_code),
        ("access_token", &update.access_token),
        ("refresh_token", &update.refresh_token),
        ("id_token", &update.id_token),
        ("user_secret", &update.user_secret),
    ];
    for (name, change) in changes {
        match change {
            SecretChange::Keep => {}
            SecretChange::Set(secret) => put_secret(tx, cipher, db, id, name, secret)?,
            SecretChange::Erase => {
                tx.prepare_cached("DELETE FROM secrets WHERE connection_id = ?1 AND name = ?2")
                    .and_then(|mut s| s.execute(params![id.0, name]))
                    .map_err(sql(db))?;
            }
        }
    }
    append_audit(tx, Some(id), audit).map_err(sql(db))?;
    Ok(conn)
}

fn put_secrets(
    tx: &Transaction<'_>,
    cipher: &FieldCipher,
    db: &Path,
    id: ConnectionId,
    s: &Secrets,
) -> Result<(), StoreError> {
    let all = [
        ("access_code", &s.access_code),
        ("access_token", &s.access_token),
        ("refresh_token", &s.refresh_token),
        ("id_token", &s.id_token),
        ("user_secret", &s.user_secret),
    ];
    for (name, secret) in all {
        if let Some(secret) = secret {
            put_secret(tx, cipher, db, id, name, secret)?;
        }
    }
    Ok(())
}

pub(crate) const PUT_SECRET: &str =
    "INSERT OR REPLACE INTO secrets (connection_id, name, ciphertext) VALUES (?1, ?2, ?3)";

/// A held secret's new value in place: `OR REPLACE` would delete the row and
/// insert it again, twice the B-tree work, on every refresh's two tokens.
pub(crate) const UPDATE_SECRET: &str =
    "UPDATE secrets SET ciphertext = ?3 WHERE connection_id = ?1 AND name = ?2";

fn put_secret(
    tx: &Transaction<'_>,
    cipher: &FieldCipher,
    db: &Path,
    id: ConnectionId,
    name: &str,
    secret: &Secret,
) -> Result<(), StoreError> {
    let at = FieldAddr {
        table: SECRETS_TABLE,
        column: name,
        row: id.0,
    };
    let sealed = cipher.seal_secret(at, secret)?;
    let put = |statement| {
        tx.prepare_cached(statement)
            .and_then(|mut s| s.execute(params![id.0, name, sealed]))
            .map_err(sql(db))
    };
    if put(UPDATE_SECRET)? == 0 {
        put(PUT_SECRET)?;
    }
    Ok(())
}

pub(crate) fn append_audit(
    tx: &Transaction<'_>,
    connection: Option<ConnectionId>,
    audit: &AuditDraft,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO audit (at, actor, connection_id, op, ok, message) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        audit.at.0,
        audit.actor,
        connection.map(|c| c.0),
        audit.op.as_str(),
        audit.ok,
        audit.message
    ])
    .map(drop)
}

/// Takes the lease if it is free or already ours (renewal), or if it is
/// expired and its holder no longer runs here. A holder that runs keeps
/// its lease past the term: its answer may wait for the write lock, or the
/// clock may have jumped, and a second request would spend the refresh
/// token or the code its answer holds ([`crate::store::holder`]).
pub(crate) fn try_lease(
    tx: &Transaction<'_>,
    db: &Path,
    id: ConnectionId,
    holder: &str,
    until: UnixTime,
    now: UnixTime,
) -> Result<bool, StoreError> {
    let take = |only_from: Option<&str>| {
        tx.prepare_cached(
            "UPDATE connections SET lease_holder = ?1, lease_until = ?2 \
             WHERE id = ?3 AND (lease_holder IS NULL OR lease_holder = ?1 OR lease_holder = ?4)",
        )
        .and_then(|mut s| s.execute(params![holder, until.0, id.0, only_from]))
        .map_err(sql(db))
    };
    if take(None)? == 1 {
        return Ok(true);
    }
    // A missing row is said by the read.
    let Some((other, term)) = reads::lease(tx, db, id)? else {
        return Ok(false);
    };
    if term <= now.0 && !crate::store::holder::runs_here(&other) {
        return Ok(take(Some(&other))? == 1);
    }
    Ok(false)
}

/// Releases only our own lease: a late release must not free someone else's.
pub(crate) fn release_lease(
    tx: &Transaction<'_>,
    db: &Path,
    id: ConnectionId,
    holder: &str,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "UPDATE connections SET lease_holder = NULL, lease_until = NULL \
         WHERE id = ?1 AND lease_holder = ?2",
    )
    .and_then(|mut s| s.execute(params![id.0, holder]))
    .map_err(sql(db))?;
    Ok(())
}
