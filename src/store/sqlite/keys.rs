//! From a [`KeySource`] to the cipher that opens the store's fields.
//!
//! The store remembers how it was sealed (`meta.key_kind`: `file` or
//! `passphrase`), the Argon2id parameters and salt when a passphrase is used
//! (a salt is not secret; it only makes precomputed guesses useless), and a
//! *key check*: a known constant sealed with the key. Opening verifies the
//! check before anything is written, so a wrong key or passphrase is reported
//! as such instead of surfacing later as "damaged token" — and a store is
//! never half-written with a second key.

use std::io::ErrorKind;
use std::path::Path;

use argon2::{Algorithm, Argon2, Params, Version};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::crypto::{FieldAddr, FieldCipher, KEY_LEN, KeyBytes, random_bytes};
use super::files::{check_private_file, create_private_file, io_error, read_private_file};
use super::options::{ENV_KEY_FILE, ENV_PASSPHRASE, KeySource};
use super::sql_error::sql;
use crate::domain::Secret;
use crate::store::StoreError;

const CHECK_PLAIN: &[u8] = b"bankdeck key check v1";
const CHECK_AT: FieldAddr<'static> = FieldAddr {
    table: "meta",
    column: "key_check",
    row: 0,
};
const SALT_LEN: usize = 16;
/// OWASP's Argon2id baseline (19 MiB, 2 passes, 1 lane).
const DEFAULT_KDF: KdfParams = KdfParams {
    m_kib: 19 * 1024,
    t: 2,
    p: 1,
};

#[derive(Clone, Copy, Debug, PartialEq)]
struct KdfParams {
    m_kib: u32,
    t: u32,
    p: u32,
}

impl KdfParams {
    fn encode(self) -> String {
        format!("argon2id:v=19:m={},t={},p={}", self.m_kib, self.t, self.p)
    }

    /// Parses what [`KdfParams::encode`] wrote, with bounds so a tampered
    /// store cannot make opening take gigabytes or hours.
    fn decode(text: &str) -> Option<Self> {
        let rest = text.strip_prefix("argon2id:v=19:m=")?;
        let (m, rest) = rest.split_once(",t=")?;
        let (t, p) = rest.split_once(",p=")?;
        let out = Self {
            m_kib: m.parse().ok()?,
            t: t.parse().ok()?,
            p: p.parse().ok()?,
        };
        let sane = out.m_kib <= 4 * 1024 * 1024 && (1..=64).contains(&out.t) && out.p <= 16;
        sane.then_some(out)
    }
}

/// Seals a new store: derives or loads its key, then writes `meta` inside the
/// caller's transaction (the one that created the schema).
pub(crate) fn seal_new_store(
    tx: &Transaction<'_>,
    source: &KeySource,
    db: &Path,
) -> Result<FieldCipher, StoreError> {
    let (kind, key) = match source {
        KeySource::File(path) => ("file", load_key_file(path, true)?),
        KeySource::Passphrase(pass) => {
            let salt = random_bytes::<SALT_LEN>();
            let key = derive(pass, salt.as_slice(), DEFAULT_KDF)?;
            put_meta(tx, "kdf", DEFAULT_KDF.encode().as_bytes()).map_err(sql(db))?;
            put_meta(tx, "kdf_salt", salt.as_slice()).map_err(sql(db))?;
            ("passphrase", key)
        }
    };
    let cipher = FieldCipher::new(&key);
    let check = cipher.seal(CHECK_AT, CHECK_PLAIN)?;
    put_meta(tx, "key_kind", kind.as_bytes()).map_err(sql(db))?;
    put_meta(tx, "key_check", &check).map_err(sql(db))?;
    Ok(cipher)
}

/// Opens an existing store's key and proves it with the key check; reads only.
pub(crate) fn unlock(
    conn: &Connection,
    source: &KeySource,
    db: &Path,
) -> Result<FieldCipher, StoreError> {
    let kind = get_meta(conn, "key_kind", db)?;
    let key = match (kind.as_deref(), source) {
        (Some(b"file"), KeySource::File(path)) => load_key_file(path, false)?,
        (Some(b"passphrase"), KeySource::Passphrase(pass)) => {
            let kdf = get_meta(conn, "kdf", db)?;
            let kdf = kdf
                .as_deref()
                .and_then(|k| std::str::from_utf8(k).ok())
                .and_then(KdfParams::decode)
                .ok_or_else(|| damaged_meta(db, "kdf"))?;
            let salt =
                get_meta(conn, "kdf_salt", db)?.ok_or_else(|| damaged_meta(db, "kdf_salt"))?;
            derive(pass, &salt, kdf)?
        }
        (Some(b"file"), KeySource::Passphrase(_)) => return Err(sealed_with_file()),
        (Some(b"passphrase"), KeySource::File(_)) => return Err(sealed_with_passphrase()),
        _ => return Err(damaged_meta(db, "key_kind")),
    };
    let cipher = FieldCipher::new(&key);
    let check = get_meta(conn, "key_check", db)?.ok_or_else(|| damaged_meta(db, "key_check"))?;
    if cipher.open(CHECK_AT, &check).is_err() {
        return Err(wrong_key(source));
    }
    Ok(cipher)
}

/// Proves the key again (for `check_integrity`).
pub(crate) fn verify(conn: &Connection, cipher: &FieldCipher, db: &Path) -> Result<(), StoreError> {
    let check = get_meta(conn, "key_check", db)?.ok_or_else(|| damaged_meta(db, "key_check"))?;
    cipher
        .open(CHECK_AT, &check)
        .map(drop)
        .map_err(|_| damaged_meta(db, "key_check"))
}

fn wrong_key(source: &KeySource) -> StoreError {
    let which = match source {
        KeySource::File(path) => format!(
            "wrong key file {}? Use the key file this store was created with ({ENV_KEY_FILE}), \
             or {ENV_PASSPHRASE} if it was sealed with a passphrase.",
            path.display()
        ),
        KeySource::Passphrase(_) => format!("wrong {ENV_PASSPHRASE}?"),
    };
    // Each sentence ends itself: a question mark takes no full stop after it.
    StoreError::WrongKey(format!("{which} Nothing was changed"))
}

fn sealed_with_file() -> StoreError {
    StoreError::WrongKey(format!(
        "it is sealed with a key file, but {ENV_PASSPHRASE} is set; unset it \
         (and set {ENV_KEY_FILE} if the key file is not in the default place). Nothing was changed"
    ))
}

fn sealed_with_passphrase() -> StoreError {
    StoreError::WrongKey(format!(
        "it is sealed with a passphrase; set {ENV_PASSPHRASE}. Nothing was changed"
    ))
}

fn damaged_meta(db: &Path, key: &str) -> StoreError {
    super::sql_error::corrupt(
        db,
        &format!("its key metadata ({key}) is missing or damaged"),
    )
}

/// Reads the 32-byte key file, creating it (0600, `O_EXCL`) only for a new store:
/// inventing a key for a store that already holds data could only lock it.
fn load_key_file(path: &Path, create: bool) -> Result<KeyBytes, StoreError> {
    let mut found = check_private_file("the key file", path)?;
    // An empty one is a key file whose creation was cut short (killed, or
    // the disk full before its bytes): it sealed nothing, so a new store
    // makes it again rather than refuse it for ever.
    if create && found.as_ref().is_some_and(|m| m.len() == 0) {
        std::fs::remove_file(path).map_err(|e| io_error("replace the empty key file", path, &e))?;
        found = None;
    }
    if found.is_none() {
        if !create {
            return Err(StoreError::WrongKey(format!(
                "no key file at {}. Restore it from a backup, or set {ENV_KEY_FILE} \
                 (or {ENV_PASSPHRASE}) to the key this store was sealed with. Nothing was changed",
                path.display()
            )));
        }
        create_key_file(path)?;
    }
    let bytes = zeroize::Zeroizing::new(read_private_file(path, KEY_LEN as u64)?);
    let key: [u8; KEY_LEN] = bytes.as_slice().try_into().map_err(|_| {
        StoreError::Refused(format!(
            "{} is not a bankdeck key file (it must hold exactly {KEY_LEN} bytes); \
             point {ENV_KEY_FILE} at the right file",
            path.display()
        ))
    })?;
    Ok(zeroize::Zeroizing::new(key))
}

fn create_key_file(path: &Path) -> Result<(), StoreError> {
    super::files::create_dir_if_missing(super::files::folder_of(path))?;
    let key = random_bytes::<KEY_LEN>();
    match create_private_file(path, key.as_slice()) {
        // Another bankdeck created it first; the caller reads theirs.
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            check_private_file("the key file", path).map(drop)
        }
        other => other.map_err(|e| io_error("create the key file", path, &e)),
    }
}

fn derive(pass: &Secret, salt: &[u8], kdf: KdfParams) -> Result<KeyBytes, StoreError> {
    let params = Params::new(kdf.m_kib, kdf.t, kdf.p, Some(KEY_LEN))
        .map_err(|e| StoreError::Invalid(format!("Argon2id parameters: {e}")))?;
    let mut key = zeroize::Zeroizing::new([0u8; KEY_LEN]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(pass.expose().as_bytes(), salt, key.as_mut_slice())
        .map_err(|e| StoreError::Invalid(format!("Argon2id: {e}")))?;
    Ok(key)
}

/// Keeps `value` under `key` in `meta`, in place of what was there.
pub(super) fn put_meta(
    tx: &Transaction<'_>,
    key: &str,
    value: impl rusqlite::ToSql,
) -> rusqlite::Result<usize> {
    tx.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
        params![key, value],
    )
}

/// What `meta` keeps under `key`, text or bytes, as bytes.
pub(super) fn get_meta(
    conn: &Connection,
    key: &str,
    db: &Path,
) -> Result<Option<Vec<u8>>, StoreError> {
    conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |row| {
        Ok(row.get_ref(0)?.as_bytes().map(<[u8]>::to_vec).ok())
    })
    .optional()
    .map(Option::flatten)
    .map_err(sql(db))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kdf_params_round_trip_and_absurd_ones_are_refused() {
        assert_eq!(KdfParams::decode(&DEFAULT_KDF.encode()), Some(DEFAULT_KDF));
        assert_eq!(KdfParams::decode("argon2id:v=19:m=99999999,t=2,p=1"), None);
        assert_eq!(KdfParams::decode("argon2id:v=19:m=19456,t=0,p=1"), None);
        assert_eq!(KdfParams::decode("scrypt"), None);
    }
}
