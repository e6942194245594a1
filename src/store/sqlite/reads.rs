//! Every read, and the integrity check.
//!
//! Reads run on the plain connection (a read in WAL mode sees one consistent
//! snapshot per statement, which is all a list or a single row needs).
//! Only [`secrets`] decrypts, and only one connection's fields; a field that
//! fails authentication is reported as damage with the way to recover, never
//! silently dropped: a missing refresh token would look like "re-consent".

use std::collections::HashMap;
use std::path::Path;

use rusqlite::{Connection as Db, OptionalExtension, params};

use super::crypto::{FieldAddr, FieldCipher};
use super::keys;
use super::rows;
use super::sql_error::{corrupt, sql};
use super::writes::SECRETS_TABLE;
use crate::domain::{
    AuditEntry, Connection, ConnectionId, OpKind, Secret, Secrets, UnixTime, User, UserId,
};
use crate::store::{AuditQuery, Changes, ConnectionHead, Lease, SecretSet, StoreError};

/// Below this many rows one thread lists them as fast as two.
const SPLIT_FROM: i64 = 20_000;
/// The widest id range read in two halves. Each half gets room for every id
/// in it, so ids spread far apart (a store that lost most of its rows)
/// would reserve memory for rows that do not exist; such a store is read by
/// one thread into a growing vector instead.
const SPLIT_UP_TO: i64 = 2_000_000;

/// The lowest and highest connection id, each one B-tree lookup. Not
/// `count(*)`, which reads every page of the table before the list does,
/// nor `min(id), max(id)` in one select: SQLite looks a lone `min` or `max`
/// up, but scans the whole table for the pair (16 ms of the first frame at
/// 100 000 rows, before the two halves could start).
pub(super) const ID_BOUNDS: &str =
    "SELECT (SELECT min(id) FROM connections), (SELECT max(id) FROM connections)";

/// Every connection, in id order. A big store is read in two halves at once,
/// the upper half on `second()`'s handle in another thread: the list is most
/// of the time to the first frame, and the screen has nothing else to do.
pub(crate) fn connections(
    db_conn: &Db,
    db: &Path,
    second: impl FnOnce() -> Result<Db, StoreError>,
) -> Result<Vec<Connection>, StoreError> {
    let (low, high): (Option<i64>, Option<i64>) = db_conn
        .query_row(ID_BOUNDS, [], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(sql(db))?;
    let names = user_names(db_conn, db)?;
    let (Some(low), Some(high)) = (low, high) else {
        return Ok(Vec::new());
    };
    // Ids are dense unless many connections were removed: a good size guess.
    let count = (high - low).saturating_add(1);
    if !(SPLIT_FROM..=SPLIT_UP_TO).contains(&count) {
        return id_range(
            db_conn,
            db,
            &names,
            i64::MIN,
            i64::MAX,
            count.min(SPLIT_FROM),
        );
    }
    let split = low + (high - low) / 2;
    let other = second()?;
    // Both fit: `count` is at most SPLIT_UP_TO.
    let lower_len = usize::try_from(split - low + 1).unwrap_or(0);
    let upper_len = usize::try_from(high - split).unwrap_or(0);
    let mut all: Vec<Connection> = Vec::with_capacity(lower_len + upper_len);
    let (lower, upper) = all.spare_capacity_mut().split_at_mut(lower_len);
    let upper = &mut upper[..upper_len];
    let (lower_n, upper_n) = std::thread::scope(|scope| {
        let names = &names;
        let upper = scope.spawn(move || fill(&other, db, names, (split + 1, high), upper));
        let lower = fill(db_conn, db, names, (low, split), lower);
        let upper = upper
            .join()
            .unwrap_or_else(|_| Err(StoreError::Io("reading the connections failed".into())));
        (lower, upper)
    });
    // SAFETY (both failure arms): `fill` initialised exactly the first `n`
    // slots of its part and dropped them itself when it failed, so only the
    // part that succeeded still has rows to drop, each once.
    let (lower_n, upper_n) = match (lower_n, upper_n) {
        (Ok(l), Ok(u)) => (l, u),
        (Err(e), upper_n) => {
            if let Ok(n) = upper_n {
                let upper = all.as_mut_ptr().wrapping_add(lower_len);
                // SAFETY: see above.
                unsafe { std::ptr::slice_from_raw_parts_mut(upper, n).drop_in_place() };
            }
            return Err(e);
        }
        (Ok(n), Err(e)) => {
            // SAFETY: see above.
            unsafe { std::ptr::slice_from_raw_parts_mut(all.as_mut_ptr(), n).drop_in_place() };
            return Err(e);
        }
    };
    // SAFETY: slots [0, lower_n) and [lower_len, lower_len + upper_n) hold
    // initialised rows (`fill` returned their counts, and lower_n <=
    // lower_len). Moving the upper rows down to close the gap (`copy`
    // allows overlap) leaves [0, lower_n + upper_n) initialised, and the
    // moved-from slots beyond it are never read or dropped.
    unsafe {
        let base = all.as_mut_ptr();
        std::ptr::copy(base.add(lower_len), base.add(lower_n), upper_n);
        all.set_len(lower_n + upper_n);
    }
    Ok(all)
}

/// Reads the connections with ids in `range` (inclusive) into `slots`, in
/// id order, straight where they will stay: a list this size spends most of
/// its time on fresh memory, so no row is copied or allocated twice. Returns
/// how many slots it filled; on failure it drops those itself.
fn fill(
    db_conn: &Db,
    db: &Path,
    names: &HashMap<i64, String>,
    (from, to): (i64, i64),
    slots: &mut [std::mem::MaybeUninit<Connection>],
) -> Result<usize, StoreError> {
    let mut n = 0;
    let result = each_in_range(db_conn, db, names, from, to, |conn| {
        let slot = slots.get_mut(n).ok_or_else(|| {
            // Ids are unique, so a range cannot hold more rows than ids.
            corrupt(db, "more connections than ids in a range")
        })?;
        slot.write(conn);
        n += 1;
        Ok(())
    });
    if let Err(e) = result {
        for slot in &mut slots[..n] {
            // SAFETY: the first `n` slots were written above, and are
            // dropped here once; the caller does not drop a failed part.
            unsafe { slot.assume_init_drop() };
        }
        return Err(e);
    }
    Ok(n)
}

fn user_names(db_conn: &Db, db: &Path) -> Result<HashMap<i64, String>, StoreError> {
    let mut names = HashMap::new();
    let mut stmt = db_conn
        .prepare("SELECT id, name FROM users")
        .map_err(sql(db))?;
    let mut cursor = stmt.query([]).map_err(sql(db))?;
    while let Some(row) = cursor.next().map_err(sql(db))? {
        names.insert(row.get(0).map_err(sql(db))?, row.get(1).map_err(sql(db))?);
    }
    Ok(names)
}

/// The connections with `from <= id <= to`; `expect` sizes the vector.
fn id_range(
    db_conn: &Db,
    db: &Path,
    names: &HashMap<i64, String>,
    from: i64,
    to: i64,
    expect: i64,
) -> Result<Vec<Connection>, StoreError> {
    let mut out = Vec::with_capacity(usize::try_from(expect).unwrap_or(0));
    each_in_range(db_conn, db, names, from, to, |conn| {
        out.push(conn);
        Ok(())
    })?;
    Ok(out)
}

/// Hands every connection to `each`, in id order, one at a time.
pub(crate) fn each_connection(
    db_conn: &Db,
    db: &Path,
    each: &mut dyn FnMut(Connection),
) -> Result<(), StoreError> {
    let names = user_names(db_conn, db)?;
    each_in_range(db_conn, db, &names, i64::MIN, i64::MAX, |conn| {
        each(conn);
        Ok(())
    })
}

/// Hands each connection with `from <= id <= to` to `each`, in id order.
fn each_in_range(
    db_conn: &Db,
    db: &Path,
    names: &HashMap<i64, String>,
    from: i64,
    to: i64,
    mut each: impl FnMut(Connection) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let mut stmt = db_conn
        .prepare(&format!(
            "{} WHERE c.id BETWEEN ?1 AND ?2 ORDER BY c.id",
            rows::LIST_CONNECTIONS
        ))
        .map_err(sql(db))?;
    let mut cursor = stmt.query([from, to]).map_err(sql(db))?;
    let mut decoder = rows::Decoder::default();
    while let Some(row) = cursor.next().map_err(sql(db))? {
        let mut conn = rows::connection_with(row, &mut decoder).map_err(sql(db))?;
        // The foreign key makes a missing user impossible short of damage.
        let name = names
            .get(&conn.user_id.0)
            .ok_or_else(|| corrupt(db, &format!("connection {} has no user", conn.id)))?;
        conn.user.clone_from(name);
        each(conn)?;
    }
    Ok(())
}

pub(crate) fn connection(
    db_conn: &Db,
    db: &Path,
    id: ConnectionId,
) -> Result<Option<Connection>, StoreError> {
    db_conn
        .prepare_cached(rows::SELECT_CONNECTION)
        .and_then(|mut s| s.query_row([id.0], rows::connection).optional())
        .map_err(sql(db))
}

pub(crate) fn head(
    db_conn: &Db,
    db: &Path,
    id: ConnectionId,
) -> Result<Option<ConnectionHead>, StoreError> {
    db_conn
        .prepare_cached("SELECT provider, version FROM connections WHERE id = ?1")
        .and_then(|mut s| {
            s.query_row([id.0], |r| {
                Ok(ConnectionHead {
                    provider: r.get(0)?,
                    version: r.get(1)?,
                })
            })
            .optional()
        })
        .map_err(sql(db))
}

/// [`connection`], where a missing row is [`StoreError::NotFound`].
pub(crate) fn existing(
    db_conn: &Db,
    db: &Path,
    id: ConnectionId,
) -> Result<Connection, StoreError> {
    connection(db_conn, db, id)?.ok_or_else(|| StoreError::no_connection(id))
}

pub(crate) fn exists(db_conn: &Db, db: &Path, id: ConnectionId) -> Result<bool, StoreError> {
    db_conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM connections WHERE id = ?1)")
        .and_then(|mut s| s.query_row([id.0], |r| r.get(0)))
        .map_err(sql(db))
}

/// Who holds the lease on a connection now, with its expiry, if anyone does.
pub(crate) fn lease(
    db_conn: &Db,
    db: &Path,
    id: ConnectionId,
) -> Result<Option<(String, i64)>, StoreError> {
    let row: Option<(Option<String>, Option<i64>)> = db_conn
        .query_row(
            "SELECT lease_holder, lease_until FROM connections WHERE id = ?1",
            [id.0],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(sql(db))?;
    match row {
        None => Err(StoreError::no_connection(id)),
        Some((Some(holder), Some(until))) => Ok(Some((holder, until))),
        Some(_) => Ok(None),
    }
}

pub(crate) fn secrets(
    db_conn: &Db,
    cipher: &FieldCipher,
    db: &Path,
    id: ConnectionId,
) -> Result<Secrets, StoreError> {
    if !exists(db_conn, db, id)? {
        return Err(StoreError::no_connection(id));
    }
    secrets_of(db_conn, cipher, db, id, SecretSet::ALL)
}

/// The `wants` of a connection's secrets, the connection known to exist
/// (read in the same transaction); the others stay sealed.
pub(crate) fn secrets_of(
    db_conn: &Db,
    cipher: &FieldCipher,
    db: &Path,
    id: ConnectionId,
    wants: SecretSet,
) -> Result<Secrets, StoreError> {
    let mut stmt = db_conn
        .prepare_cached("SELECT name, ciphertext FROM secrets WHERE connection_id = ?1")
        .map_err(sql(db))?;
    let mut cursor = stmt.query([id.0]).map_err(sql(db))?;
    let mut out = Secrets::default();
    while let Some(row) = cursor.next().map_err(sql(db))? {
        let name: String = row.get(0).map_err(sql(db))?;
        let Some((set, field)) = slot(&mut out, &name) else {
            continue;
        };
        if !wants.contains(set) {
            continue;
        }
        let sealed = row
            .get_ref(1)
            .and_then(|v| Ok(v.as_blob()?))
            .map_err(sql(db))?;
        *field = Some(open_one(cipher, db, id, &name, sealed)?);
    }
    Ok(out)
}

fn open_one(
    cipher: &FieldCipher,
    db: &Path,
    id: ConnectionId,
    name: &str,
    sealed: &[u8],
) -> Result<Secret, StoreError> {
    let at = FieldAddr {
        table: SECRETS_TABLE,
        column: name,
        row: id.0,
    };
    cipher.open_secret(at, sealed).map_err(|_| {
        corrupt(
            db,
            &format!(
                "the {name} of connection {id} fails its authentication check \
                 (the file was altered or damaged)"
            ),
        )
    })
}

/// The field of `s` a `secrets.name` fills, and its bit in a [`SecretSet`].
fn slot<'a>(s: &'a mut Secrets, name: &str) -> Option<(SecretSet, &'a mut Option<Secret>)> {
    Some(match name {
        "access_code" => (SecretSet::ACCESS_CODE, &mut s.access_code),
        "access_token" => (SecretSet::ACCESS_TOKEN, &mut s.access_token),
        "refresh_token" => (SecretSet::REFRESH_TOKEN, &mut s.refresh_token),
        "id_token" => (SecretSet::ID_TOKEN, &mut s.id_token),
        "user_secret" => (SecretSet::USER_SECRET, &mut s.user_secret),
        _ => return None,
    })
}

pub(crate) fn users(db_conn: &Db, db: &Path) -> Result<Vec<User>, StoreError> {
    let mut stmt = db_conn
        .prepare(&format!("{} ORDER BY name", rows::SELECT_USERS))
        .map_err(sql(db))?;
    let list = stmt.query_map([], rows::user).map_err(sql(db))?;
    list.collect::<Result<_, _>>().map_err(sql(db))
}

pub(crate) fn user_connections(
    db_conn: &Db,
    db: &Path,
    user: UserId,
) -> Result<Vec<Connection>, StoreError> {
    db_conn
        .prepare_cached(rows::SELECT_USER_CONNECTIONS)
        .and_then(|mut s| s.query_map([user.0], rows::connection)?.collect())
        .map_err(sql(db))
}

/// The user named `?1`, or one whose name differs from it only in case, the
/// exact one first. `users_name_nocase` answers it.
pub(crate) const USER_NAMED_ANY_CASE: &str = "SELECT id, name, email, created_at FROM users \
     WHERE name = ?1 COLLATE NOCASE ORDER BY name = ?1 DESC LIMIT 1";

pub(crate) fn user_any_case(
    db_conn: &Db,
    db: &Path,
    name: &str,
) -> Result<Option<User>, StoreError> {
    db_conn
        .prepare_cached(USER_NAMED_ANY_CASE)
        .and_then(|mut s| s.query_row([name], rows::user).optional())
        .map_err(sql(db))
}

pub(crate) fn user_by_name(
    db_conn: &Db,
    db: &Path,
    name: &str,
) -> Result<Option<User>, StoreError> {
    db_conn
        .query_row(
            &format!("{} WHERE name = ?1", rows::SELECT_USERS),
            [name],
            rows::user,
        )
        .optional()
        .map_err(sql(db))
}

pub(crate) fn audit_mark(db_conn: &Db, db: &Path) -> Result<i64, StoreError> {
    db_conn
        .prepare_cached("SELECT coalesce(max(id), 0) FROM audit")
        .and_then(|mut s| s.query_row([], |r| r.get(0)))
        .map_err(sql(db))
}

/// The audit lines are read by their primary key from `after` on, so a call
/// with nothing new costs one B-tree lookup (the screen asks every two
/// seconds); the connections they name are read one by one, by id.
pub(crate) fn changes_since(
    db_conn: &Db,
    db: &Path,
    after: i64,
    users_after: UserId,
    limit: usize,
) -> Result<Changes, StoreError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut last = after;
    let mut named = std::collections::BTreeSet::new();
    let mut users_complete = false;
    {
        let mut stmt = db_conn
            .prepare_cached(
                "SELECT id, connection_id, op = 'remove_user' FROM audit \
                 WHERE id > ?1 ORDER BY id LIMIT ?2",
            )
            .map_err(sql(db))?;
        let mut lines = stmt.query(params![after, limit]).map_err(sql(db))?;
        while let Some(line) = lines.next().map_err(sql(db))? {
            last = line.get(0).map_err(sql(db))?;
            if let Some(id) = line.get::<_, Option<i64>>(1).map_err(sql(db))? {
                named.insert(id);
            }
            // A removal names no one the screen could look up: it gets
            // every user instead, a rare few thousand rows.
            users_complete |= line.get::<_, bool>(2).map_err(sql(db))?;
        }
    }
    let leases = leases(db_conn, db)?;
    if last == after {
        return Ok(Changes {
            last,
            leases,
            ..Changes::default()
        });
    }
    let mut connections = Vec::with_capacity(named.len());
    for id in named {
        // Connections are never deleted; should one be gone, the others
        // still reach the screen.
        if let Some(c) = connection(db_conn, db, ConnectionId(id))? {
            connections.push(c);
        }
    }
    let from = if users_complete { 0 } else { users_after.0 };
    let users = db_conn
        .prepare_cached(&format!("{} WHERE id > ?1 ORDER BY id", rows::SELECT_USERS))
        .and_then(|mut s| s.query_map([from], rows::user)?.collect())
        .map_err(sql(db))?;
    Ok(Changes {
        last,
        connections,
        users,
        users_complete,
        leases,
    })
}

/// Every lease held, through the index of leased rows (`connections_leased`),
/// not through every connection.
pub(crate) const LEASES: &str = "SELECT id, lease_holder, lease_until FROM connections \
     WHERE lease_holder IS NOT NULL ORDER BY id";

pub(crate) fn leases(db_conn: &Db, db: &Path) -> Result<Vec<Lease>, StoreError> {
    db_conn
        .prepare_cached(LEASES)
        .and_then(|mut s| {
            s.query_map([], |r| {
                Ok(Lease {
                    conn: ConnectionId(r.get(0)?),
                    holder: r.get(1)?,
                    until: UnixTime(r.get::<_, Option<i64>>(2)?.unwrap_or(0)),
                })
            })?
            .collect()
        })
        .map_err(sql(db))
}

/// Newest first by id, which is the order lines were written in; a line's
/// time and outcome are looked at before the rest of it is read, so a
/// `since` or `failed_only` over millions of lines decodes only those kept.
pub(crate) fn audit(
    db_conn: &Db,
    db: &Path,
    q: &AuditQuery,
) -> Result<Vec<AuditEntry>, StoreError> {
    let filter = match q.connection {
        Some(_) => "WHERE connection_id = ?1",
        None => "WHERE ?1 IS NULL",
    };
    // The set as one JSON array parameter: one statement whatever its size.
    let among = match q.among {
        Some(_) => " AND connection_id IN (SELECT value FROM json_each(?2))",
        None => " AND ?2 IS NULL",
    };
    let among_ids = (q.among.as_ref())
        .map(|ids| serde_json::to_string(&ids.iter().map(|c| c.0).collect::<Vec<_>>()))
        .transpose()
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
    // Without a moment to stop at, SQLite skips the lines that went well
    // itself, several times faster than handing each one over.
    let failed = match q.failed_only && q.since.is_none() {
        true => " AND ok = 0",
        false => "",
    };
    let op = match q.op {
        Some(_) => " AND op = ?3",
        None => " AND ?3 IS NULL",
    };
    let sql_text = format!(
        "{} {filter}{among}{failed}{op} ORDER BY id DESC",
        rows::SELECT_AUDIT
    );
    let mut stmt = db_conn.prepare(&sql_text).map_err(sql(db))?;
    let op_name = q.op.as_ref().map(OpKind::as_str);
    let mut lines = stmt
        .query(rusqlite::params![
            q.connection.map(|c| c.0),
            among_ids,
            op_name
        ])
        .map_err(sql(db))?;
    let mut kept = Vec::new();
    while kept.len() < q.limit {
        let Some(row) = lines.next().map_err(sql(db))? else {
            break;
        };
        let at: i64 = row.get(1).map_err(sql(db))?;
        if q.since.is_some_and(|since| at < since.0) {
            break;
        }
        if q.failed_only && row.get::<_, bool>(5).map_err(sql(db))? {
            continue;
        }
        kept.push(rows::audit_entry(row).map_err(sql(db))?);
    }
    Ok(kept)
}

/// SQLite's full `integrity_check`, foreign keys, the key check, and every
/// stored secret decrypting under its own address.
pub(crate) fn check_integrity(
    db_conn: &Db,
    cipher: &FieldCipher,
    db: &Path,
) -> Result<(), StoreError> {
    let mut problems = Vec::new();
    db_conn
        .pragma_query(None, "integrity_check", |row| {
            let line: String = row.get(0)?;
            if line != "ok" && problems.len() < 5 {
                problems.push(line);
            }
            Ok(())
        })
        .map_err(sql(db))?;
    let orphans: i64 = db_conn
        .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })
        .map_err(sql(db))?;
    if orphans > 0 {
        problems.push(format!("{orphans} rows point at missing rows"));
    }
    if !problems.is_empty() {
        return Err(corrupt(db, &problems.join("; ")));
    }
    keys::verify(db_conn, cipher, db)?;
    let mut stmt = db_conn
        .prepare("SELECT connection_id, name, ciphertext FROM secrets")
        .map_err(sql(db))?;
    let mut cursor = stmt.query([]).map_err(sql(db))?;
    while let Some(row) = cursor.next().map_err(sql(db))? {
        let id = ConnectionId(row.get(0).map_err(sql(db))?);
        let name = row
            .get_ref(1)
            .and_then(|v| Ok(v.as_str()?))
            .map_err(sql(db))?;
        let sealed = row
            .get_ref(2)
            .and_then(|v| Ok(v.as_blob()?))
            .map_err(sql(db))?;
        open_one(cipher, db, id, name, sealed)?;
    }
    Ok(())
}
