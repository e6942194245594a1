//! Where the store lives and which key opens it.
//!
//! Resolution order, most explicit first: the `--data-dir` flag the CLI passes
//! in, then `BANKDECK_DATA_DIR`, then the platform data dir; for the key,
//! `BANKDECK_PASSPHRASE`, then `BANKDECK_KEY_FILE`, then `key` in the platform
//! config dir. The key is deliberately never inside the data dir: a copied or
//! backed-up store alone must not be enough to read the tokens. This module
//! reads the environment only through the function it is given, so the rules
//! are tested without touching the process environment.

use std::ffi::OsString;
use std::path::PathBuf;

use directories::ProjectDirs;

use crate::domain::Secret;
use crate::store::StoreError;

pub const ENV_DATA_DIR: &str = "BANKDECK_DATA_DIR";
pub const ENV_KEY_FILE: &str = "BANKDECK_KEY_FILE";
pub const ENV_PASSPHRASE: &str = "BANKDECK_PASSPHRASE";

/// The database file's name inside the data dir.
pub const DB_FILE: &str = "bankdeck.db";

/// What unlocks the store's encrypted fields.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// 32 random bytes in a file; created 0600 with a new store if missing.
    File(PathBuf),
    /// Stretched with Argon2id and a salt kept in the store.
    Passphrase(Secret),
}

/// Where the store is and how to unlock it; built by [`OpenOptions::resolve`]
/// (or by hand in tests and `--demo`).
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// Holds `bankdeck.db` and SQLite's `-wal`/`-shm`; created 0700.
    pub data_dir: PathBuf,
    /// Kept apart from `data_dir` so a copy of the data alone reveals nothing.
    pub key: KeySource,
    /// Open without creating or changing anything (`--readonly`, `status`);
    /// every write is refused.
    pub read_only: bool,
    /// Writes, but to a store that exists: see [`OpenOptions::existing`].
    pub must_exist: bool,
}

impl OpenOptions {
    pub fn new(data_dir: impl Into<PathBuf>, key: KeySource) -> Self {
        Self {
            data_dir: data_dir.into(),
            key,
            read_only: false,
            must_exist: false,
        }
    }

    /// The same store, opened read-only.
    pub fn read_only(mut self) -> Self {
        self.read_only = true;
        self
    }

    /// The same store, refused rather than made where none is: an
    /// operation on its rows (`refresh --due`, `access-token`) would find
    /// none in a store made for it, and a mistyped data dir would pass for
    /// one with nothing due.
    pub fn existing(mut self) -> Self {
        self.must_exist = true;
        self
    }

    /// Whether the store is only opened, never made.
    pub(crate) fn never_creates(&self) -> bool {
        self.read_only || self.must_exist
    }

    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join(DB_FILE)
    }

    /// Resolves from the `--data-dir` override, the process environment and
    /// the platform folders.
    pub fn resolve(data_dir: Option<PathBuf>) -> Result<Self, StoreError> {
        Self::resolve_with(data_dir, &|name| std::env::var_os(name), platform_dirs)
    }

    /// [`OpenOptions::resolve`] with the environment and the platform folders
    /// (`(data, config)`) passed in.
    pub fn resolve_with(
        data_dir: Option<PathBuf>,
        env: &dyn Fn(&str) -> Option<OsString>,
        platform: fn() -> Option<(PathBuf, PathBuf)>,
    ) -> Result<Self, StoreError> {
        let data_dir = match data_dir.or_else(|| non_empty(env(ENV_DATA_DIR)).map(PathBuf::from)) {
            Some(dir) => dir,
            None => platform().map(|(data, _)| data).ok_or_else(no_home)?,
        };
        let key = key_source(env, platform)?;
        Ok(Self::new(data_dir, key))
    }
}

/// The default resolution, as the CLI calls it: `--data-dir` (if given) wins.
pub fn default_paths(data_dir: Option<PathBuf>) -> Result<OpenOptions, StoreError> {
    OpenOptions::resolve(data_dir)
}

fn key_source(
    env: &dyn Fn(&str) -> Option<OsString>,
    platform: fn() -> Option<(PathBuf, PathBuf)>,
) -> Result<KeySource, StoreError> {
    if let Some(raw) = env(ENV_PASSPHRASE) {
        // An empty passphrase is almost always an accident (`export X=`); opening
        // with it would seal the store with a key anyone can guess.
        let text = raw
            .into_string()
            .map_err(|_| StoreError::Invalid(format!("{ENV_PASSPHRASE} is not valid UTF-8")))?;
        if text.is_empty() {
            return Err(StoreError::Invalid(format!(
                "{ENV_PASSPHRASE} is set but empty; unset it to use the key file"
            )));
        }
        return Ok(KeySource::Passphrase(Secret::new(text)));
    }
    if let Some(path) = non_empty(env(ENV_KEY_FILE)) {
        return Ok(KeySource::File(PathBuf::from(path)));
    }
    let (_, config) = platform().ok_or_else(no_home)?;
    Ok(KeySource::File(config.join("key")))
}

fn non_empty(v: Option<OsString>) -> Option<OsString> {
    v.filter(|s| !s.is_empty())
}

/// The platform's `(data dir, config dir)` for bankdeck.
pub fn platform_dirs() -> Option<(PathBuf, PathBuf)> {
    let dirs = ProjectDirs::from("", "", "bankdeck")?;
    Some((
        dirs.data_dir().to_path_buf(),
        dirs.config_dir().to_path_buf(),
    ))
}

fn no_home() -> StoreError {
    StoreError::Invalid(format!(
        "no home folder to put the store in; pass --data-dir or set {ENV_DATA_DIR} and {ENV_KEY_FILE}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn platform() -> Option<(PathBuf, PathBuf)> {
        Some(("/plat/data".into(), "/plat/config".into()))
    }

    fn resolve(flag: Option<&str>, vars: &[(&str, &str)]) -> Result<OpenOptions, StoreError> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let env = move |name: &str| {
            vars.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| OsString::from(v))
        };
        OpenOptions::resolve_with(flag.map(PathBuf::from), &env, platform)
    }

    fn key_path(o: &OpenOptions) -> Option<&Path> {
        match &o.key {
            KeySource::File(p) => Some(p),
            KeySource::Passphrase(_) => None,
        }
    }

    #[test]
    fn flag_beats_env_beats_platform_for_the_data_dir() {
        let env = [(ENV_DATA_DIR, "/env/data")];
        assert_eq!(
            resolve(Some("/flag"), &env).unwrap().data_dir,
            Path::new("/flag")
        );
        assert_eq!(
            resolve(None, &env).unwrap().data_dir,
            Path::new("/env/data")
        );
        assert_eq!(
            resolve(None, &[]).unwrap().data_dir,
            Path::new("/plat/data")
        );
    }

    #[test]
    fn passphrase_beats_key_file_beats_config_dir() {
        let both = [(ENV_PASSPHRASE, "pw"), (ENV_KEY_FILE, "/k")];
        let o = resolve(None, &both).unwrap();
        assert!(matches!(&o.key, KeySource::Passphrase(p) if p.expose() == "pw"));
        let o = resolve(None, &[(ENV_KEY_FILE, "/k")]).unwrap();
        assert_eq!(key_path(&o), Some(Path::new("/k")));
        let o = resolve(None, &[]).unwrap();
        assert_eq!(key_path(&o), Some(Path::new("/plat/config/key")));
    }

    #[test]
    fn an_empty_passphrase_is_refused() {
        let err = resolve(None, &[(ENV_PASSPHRASE, "")]).unwrap_err();
        assert!(err.to_string().contains("set but empty"), "{err}");
    }

    #[test]
    fn db_path_and_read_only() {
        let o = resolve(Some("/d"), &[]).unwrap().read_only();
        assert!(o.read_only);
        assert_eq!(o.db_path(), Path::new("/d/bankdeck.db"));
    }
}
