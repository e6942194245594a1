//! Mapping between `connections` rows and [`Connection`].
//!
//! One column list serves every read, and one numbered parameter list serves
//! both the insert and the versioned update, so a field added to one cannot be
//! forgotten in the other. The list query is the hot path (100 000 rows on
//! every refresh of the screen): it reads by column index from one prepared
//! statement, borrows text where it can and parses each distinct scope set
//! once. Secrets are not in this table at all, so no ciphertext page is read.

use std::collections::HashMap;

use rusqlite::types::ToSql;
use rusqlite::types::{Type, ValueRef};
use rusqlite::{Row, Transaction};

use crate::domain::{
    AccessExpiry, AuditEntry, Connection, ConnectionId, Flags, Grant, LastOp, Lifetimes, OpKind,
    ProviderKind, RemoteIds, Scopes, UnixTime, User, UserId,
};

/// Every column of a connection but the user's name, which comes third.
macro_rules! connection_columns {
    ($name:literal) => {
        concat!(
            "SELECT c.id, c.user_id, ",
            $name,
            ", c.provider, c.kind, c.grant_type, c.label, \
             c.remote_connection_id, c.remote_user_id, c.remote_token_id, c.remote_session, \
             c.code_expires_at, c.access_kind, c.access_expires_at, c.access_received_at, \
             c.has_refresh, c.refresh_expires_at, c.scopes_json, \
             c.reauth_required, c.logged_out_at, c.delinked_at, c.last_error, \
             c.last_op, c.last_op_at, c.last_op_ok, c.created_at, c.version, c.refresh_slides"
        )
    };
}

/// One connection with its user's name, by id. A constant, not a format of
/// a shared prefix: every lease reads a row this way, and building the text
/// each time (to look up the cached statement) showed in the profile.
pub(crate) const SELECT_CONNECTION: &str = concat!(
    connection_columns!("u.name"),
    " FROM connections c JOIN users u ON u.id = c.user_id WHERE c.id = ?1"
);

/// One user's connections, through the `connections_user` index.
pub(crate) const SELECT_USER_CONNECTIONS: &str = concat!(
    connection_columns!("u.name"),
    " FROM connections c JOIN users u ON u.id = c.user_id WHERE c.user_id = ?1 ORDER BY c.id"
);

/// The list query: no join (a B-tree seek per row), the user's name left
/// empty for the caller to fill from the users it read once.
pub(crate) const LIST_CONNECTIONS: &str = concat!(connection_columns!("''"), " FROM connections c");

/// Parameter `?n` is the n-th column named here, in this statement and in
/// [`UPDATE`] alike, so both bind one list by position (binding 26 names
/// looked each one up in the statement, which showed in the refresh profile).
pub(crate) const INSERT: &str = "\
INSERT INTO connections (id, user_id, provider, kind, grant_type, label, \
    remote_connection_id, remote_user_id, remote_token_id, remote_session, \
    code_expires_at, access_kind, access_expires_at, access_received_at, has_refresh, \
    refresh_expires_at, scopes_json, reauth_required, logged_out_at, delinked_at, last_error, \
    last_op, last_op_at, last_op_ok, created_at, version, refresh_slides) \
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, \
    ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27)";

/// The optimistic check: the row changes only if nobody bumped the version
/// since the caller read it (`?26` is the new one). `?28` names a lease
/// holder whose lease the same write gives back (NULL: none); anyone
/// else's lease stays. A connection never moves to another user, so `?2`
/// is bound but not set: setting `user_id`, even to itself, made SQLite
/// rewrite its index entry and look the user up again on every write.
pub(crate) const UPDATE: &str = "\
UPDATE connections SET provider = ?3, kind = ?4, grant_type = ?5, label = ?6, \
    remote_connection_id = ?7, remote_user_id = ?8, remote_token_id = ?9, \
    remote_session = ?10, code_expires_at = ?11, access_kind = ?12, access_expires_at = ?13, \
    access_received_at = ?14, has_refresh = ?15, refresh_expires_at = ?16, \
    scopes_json = ?17, reauth_required = ?18, logged_out_at = ?19, delinked_at = ?20, \
    last_error = ?21, last_op = ?22, last_op_at = ?23, last_op_ok = ?24, created_at = ?25, \
    version = ?26, refresh_slides = ?27, \
    lease_holder = CASE WHEN lease_holder = ?28 THEN NULL ELSE lease_holder END, \
    lease_until = CASE WHEN lease_holder = ?28 THEN NULL ELSE lease_until END \
WHERE id = ?1 AND version = ?26 - 1";

/// Reads one row of [`SELECT_CONNECTION`].
pub(crate) fn connection(row: &Row<'_>) -> rusqlite::Result<Connection> {
    connection_with(row, &mut Decoder::default())
}

/// State kept across the rows of one list query. Connections of one
/// provider and consent share the same few scope sets, so each distinct
/// `scopes_json` text is parsed once and cloned after that.
#[derive(Default)]
pub(crate) struct Decoder {
    scopes: HashMap<Box<str>, Scopes>,
}

/// Enough for every provider's usual scope sets; past it, rows just parse.
const SCOPE_CACHE_MAX: usize = 256;

impl Decoder {
    fn scopes(&mut self, row: &Row<'_>, idx: usize) -> rusqlite::Result<Scopes> {
        let text = match row.get_ref(idx)? {
            ValueRef::Null => return Ok(Scopes::default()),
            value => value.as_str()?,
        };
        if let Some(hit) = self.scopes.get(text) {
            return Ok(hit.clone());
        }
        let parsed: Scopes = serde_json::from_str(text)
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(e)))?;
        if self.scopes.len() < SCOPE_CACHE_MAX {
            self.scopes.insert(text.into(), parsed.clone());
        }
        Ok(parsed)
    }
}

/// [`connection`] for one row of many.
pub(crate) fn connection_with(row: &Row<'_>, dec: &mut Decoder) -> rusqlite::Result<Connection> {
    Ok(Connection {
        id: ConnectionId(row.get(0)?),
        user_id: UserId(row.get(1)?),
        user: row.get(2)?,
        provider: row.get(3)?,
        kind: parse(row, 4, ProviderKind::parse)?,
        grant: parse(row, 5, Grant::parse)?,
        label: row.get(6)?,
        remote: RemoteIds {
            connection_id: row.get(7)?,
            user_id: row.get(8)?,
            token_id: row.get(9)?,
            session: row.get(10)?,
        },
        lifetimes: lifetimes(row)?,
        scopes: dec.scopes(row, 17)?,
        flags: Flags {
            reauth_required: row.get(18)?,
            logged_out_at: time(row, 19)?,
            delinked_at: time(row, 20)?,
            last_error: row.get(21)?,
        },
        last_op: last_op(row)?,
        created_at: UnixTime(row.get(25)?),
        version: row.get(26)?,
    })
}

fn lifetimes(row: &Row<'_>) -> rusqlite::Result<Lifetimes> {
    let access = match row.get_ref(12)?.as_str()? {
        "none" => None,
        "permanent" => Some(AccessExpiry::Permanent),
        "at" => Some(AccessExpiry::At(UnixTime(row.get(13)?))),
        other => return Err(bad(12, &format!("unknown access kind {other:?}"))),
    };
    Ok(Lifetimes {
        code_expires_at: time(row, 11)?,
        access,
        access_received_at: time(row, 14)?,
        has_refresh: row.get(15)?,
        refresh_expires_at: time(row, 16)?,
        refresh_slides: row.get(27)?,
    })
}

fn last_op(row: &Row<'_>) -> rusqlite::Result<Option<LastOp>> {
    let Some(op) = row.get_ref(22)?.as_str_or_null()? else {
        return Ok(None);
    };
    let op = OpKind::recorded(op).ok_or_else(|| bad(22, &format!("unknown operation {op:?}")))?;
    Ok(Some(LastOp {
        op,
        at: UnixTime(row.get(23)?),
        ok: row.get(24)?,
    }))
}

fn time(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<UnixTime>> {
    Ok(row.get::<_, Option<i64>>(idx)?.map(UnixTime))
}

fn parse<T>(row: &Row<'_>, idx: usize, f: fn(&str) -> Option<T>) -> rusqlite::Result<T> {
    let text = row.get_ref(idx)?.as_str()?;
    f(text).ok_or_else(|| bad(idx, &format!("unknown value {text:?}")))
}

fn bad(idx: usize, what: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, what.to_owned().into())
}

/// Inserts `c` (its `id` is ignored) and returns the new row id.
pub(crate) fn insert(tx: &Transaction<'_>, c: &Connection) -> rusqlite::Result<i64> {
    write(tx, INSERT, c, None, None)?;
    Ok(tx.last_insert_rowid())
}

/// Writes every field of `c` if the stored version is `c.version - 1`, and
/// gives back `release`'s lease on it; returns the number of rows changed
/// (0 = someone else wrote first).
pub(crate) fn update(
    tx: &Transaction<'_>,
    c: &Connection,
    release: Option<&str>,
) -> rusqlite::Result<usize> {
    write(tx, UPDATE, c, Some(c.id.0), Some(release))
}

/// `lease` is `?28` of [`UPDATE`]; [`INSERT`] has no such parameter.
fn write(
    tx: &Transaction<'_>,
    sql: &str,
    c: &Connection,
    id: Option<i64>,
    lease: Option<Option<&str>>,
) -> rusqlite::Result<usize> {
    let l = &c.lifetimes;
    let (access_kind, access_at) = match l.access {
        None => ("none", None),
        Some(AccessExpiry::Permanent) => ("permanent", None),
        Some(AccessExpiry::At(t)) => ("at", Some(t.0)),
    };
    let scopes = scopes_json(&c.scopes)?;
    let op = c.last_op.as_ref();
    let (code_exp, received) = (
        l.code_expires_at.map(|t| t.0),
        l.access_received_at.map(|t| t.0),
    );
    let refresh_exp = l.refresh_expires_at.map(|t| t.0);
    let (logged_out, delinked) = (
        c.flags.logged_out_at.map(|t| t.0),
        c.flags.delinked_at.map(|t| t.0),
    );
    let (last_op, last_op_at, last_op_ok) = (
        op.map(|o| o.op.as_str()),
        op.map(|o| o.at.0),
        op.map(|o| o.ok),
    );
    let columns: [&dyn ToSql; 28] = [
        &id,
        &c.user_id.0,
        &c.provider,
        &c.kind.as_str(),
        &c.grant.as_str(),
        &c.label,
        &c.remote.connection_id,
        &c.remote.user_id,
        &c.remote.token_id,
        &c.remote.session,
        &code_exp,
        &access_kind,
        &access_at,
        &received,
        &l.has_refresh,
        &refresh_exp,
        &scopes,
        &c.flags.reauth_required,
        &logged_out,
        &delinked,
        &c.flags.last_error,
        &last_op,
        &last_op_at,
        &last_op_ok,
        &c.created_at.0,
        &c.version,
        &l.refresh_slides,
        &lease.flatten(),
    ];
    let bound = if lease.is_some() { 28 } else { 27 };
    tx.prepare_cached(sql)?.execute(&columns[..bound])
}

/// `NULL` for no scopes at all, so the list query skips parsing for them.
fn scopes_json(s: &Scopes) -> rusqlite::Result<Option<String>> {
    if s == &Scopes::default() {
        return Ok(None);
    }
    serde_json::to_string(s)
        .map(Some)
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

pub(crate) const SELECT_USERS: &str = "SELECT id, name, email, created_at FROM users";

pub(crate) fn user(row: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: UserId(row.get(0)?),
        name: row.get(1)?,
        email: row.get(2)?,
        created_at: UnixTime(row.get(3)?),
    })
}

pub(crate) const SELECT_AUDIT: &str =
    "SELECT id, at, actor, connection_id, op, ok, message FROM audit";

pub(crate) fn audit_entry(row: &Row<'_>) -> rusqlite::Result<AuditEntry> {
    Ok(AuditEntry {
        id: row.get(0)?,
        at: UnixTime(row.get(1)?),
        actor: row.get(2)?,
        connection: row.get::<_, Option<i64>>(3)?.map(ConnectionId),
        op: parse(row, 4, OpKind::recorded)?,
        ok: row.get(5)?,
        message: row.get(6)?,
    })
}
