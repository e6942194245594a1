//! References to secrets: `env:NAME` or `file:PATH`, never the secret itself.
//!
//! A config file gets copied, pasted into tickets and committed by mistake, so
//! it may only say *where* a secret lives. Resolution happens at the moment of
//! use (a provider client keeps the value for a second at most), so a rotated
//! secret file is picked up without a restart.

use std::fmt;
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::domain::Secret;

/// Secret files are tiny; a large one is a mistake (a key bundle, a log).
const MAX_SECRET_FILE: u64 = 64 * 1024;

/// How long a provider client reuses a secret it resolved.
pub const KEEP_SECRET: Duration = Duration::from_secs(1);

/// The last value a client resolved a [`SecretRef`] to, and when: at a
/// thousand token requests a second, resolving at each use read the file
/// (five system calls) a thousand times a second. A rotated secret is still
/// picked up without a restart, within [`KEEP_SECRET`].
#[derive(Debug, Default)]
pub struct KeptSecret {
    last: Mutex<Option<(Instant, Secret)>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    Env(String),
    File(PathBuf),
}

impl SecretRef {
    /// Parses a reference. The error never contains the value: a literal
    /// secret in the wrong place must not travel on into a message.
    pub fn parse(value: &str) -> Result<SecretRef, &'static str> {
        if let Some(name) = value.strip_prefix("env:") {
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err("env: must be followed by a variable name (letters, digits, _)");
            }
            return Ok(SecretRef::Env(name.to_owned()));
        }
        if let Some(path) = value.strip_prefix("file:") {
            if path.is_empty() {
                return Err("file: must be followed by a path");
            }
            return Ok(SecretRef::File(expand_home(path)));
        }
        Err(
            "a literal secret is not allowed here: write env:NAME or file:PATH and keep the secret there",
        )
    }

    /// [`SecretRef::resolve`], reusing what `kept` holds if it was resolved
    /// within [`KEEP_SECRET`]. A failure is not kept: the next use tries again.
    pub fn resolve_kept(&self, kept: &KeptSecret) -> Result<Secret, String> {
        let fresh = |(at, _): &(Instant, Secret)| at.elapsed() < KEEP_SECRET;
        let last = kept.last.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, secret)) = last.as_ref().filter(|l| fresh(l)) {
            return Ok(secret.clone());
        }
        // Not under the lock: a slow file system must not stall other users.
        drop(last);
        let secret = self.resolve()?;
        *kept.last.lock().unwrap_or_else(PoisonError::into_inner) =
            Some((Instant::now(), secret.clone()));
        Ok(secret)
    }

    /// Reads the secret now. Errors name the variable or file, never the value.
    pub fn resolve(&self) -> Result<Secret, String> {
        match self {
            SecretRef::Env(name) => match std::env::var(name) {
                Ok(v) if !v.trim().is_empty() => Ok(Secret::new(v.trim())),
                Ok(_) => Err(format!("environment variable {name} is empty")),
                Err(_) => Err(format!("environment variable {name} is not set")),
            },
            SecretRef::File(path) => read_secret_file(path),
        }
    }

    pub fn is_set(&self) -> bool {
        self.resolve().is_ok()
    }

    /// For a file others on the machine can read, what to do about it: the
    /// store's key file is refused so; a secret file is only reported
    /// (`config check`), since mounted secrets are often 0644 in a
    /// container no one else runs in.
    pub fn exposure(&self) -> Option<String> {
        use std::os::unix::fs::PermissionsExt;
        let SecretRef::File(path) = self else {
            return None;
        };
        let mode = std::fs::metadata(path).ok()?.permissions().mode();
        crate::store::sqlite::open_to_others(path, mode)
    }
}

fn read_secret_file(path: &PathBuf) -> Result<Secret, String> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| format!("secret file {shown}: {e}"))?;
    if meta.len() > MAX_SECRET_FILE {
        return Err(format!("secret file {shown} is larger than 64 KiB"));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("secret file {shown}: {e}"))?;
    let value = text.trim();
    if value.is_empty() {
        return Err(format!("secret file {shown} is empty"));
    }
    Ok(Secret::new(value))
}

fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(path),
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::Env(n) => write!(f, "env:{n}"),
            SecretRef::File(p) => write!(f, "file:{}", p.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_references_and_refuses_literals_without_echo() {
        assert_eq!(
            SecretRef::parse("env:DAPI_SECRET"),
            Ok(SecretRef::Env("DAPI_SECRET".into()))
        );
        assert_eq!(
            SecretRef::parse("file:/run/s"),
            Ok(SecretRef::File("/run/s".into()))
        );
        let e = SecretRef::parse("00bae841ad979345fca2").unwrap_err();
        assert!(!e.contains("00bae8"));
        assert!(SecretRef::parse("env:").is_err());
        assert!(SecretRef::parse("env:A B").is_err());
        assert!(SecretRef::parse("file:").is_err());
    }

    #[test]
    fn a_kept_secret_is_reused_briefly_then_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s");
        std::fs::write(&p, "first\n").unwrap();
        let (source, kept) = (SecretRef::File(p.clone()), KeptSecret::default());
        assert_eq!(source.resolve_kept(&kept).unwrap().expose(), "first");
        std::fs::write(&p, "second\n").unwrap();
        assert_eq!(source.resolve_kept(&kept).unwrap().expose(), "first");
        // As if KEEP_SECRET had passed.
        kept.last.lock().unwrap().as_mut().unwrap().0 -= KEEP_SECRET;
        assert_eq!(source.resolve_kept(&kept).unwrap().expose(), "second");
        std::fs::remove_file(&p).unwrap();
        kept.last.lock().unwrap().as_mut().unwrap().0 -= KEEP_SECRET;
        assert!(
            source.resolve_kept(&kept).is_err(),
            "a gone file is noticed"
        );
    }

    #[test]
    fn resolves_files_and_reports_missing_ones_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s");
        std::fs::write(&p, "topsecret\n").unwrap();
        assert_eq!(
            SecretRef::File(p.clone()).resolve().unwrap().expose(),
            "topsecret"
        );
        let missing = SecretRef::File(dir.path().join("nope"))
            .resolve()
            .unwrap_err();
        assert!(missing.contains("nope"));
        std::fs::write(&p, "  \n").unwrap();
        assert!(SecretRef::File(p).resolve().unwrap_err().contains("empty"));
        let e = SecretRef::Env("BANKDECK_TEST_SURELY_UNSET".into())
            .resolve()
            .unwrap_err();
        assert!(e.contains("BANKDECK_TEST_SURELY_UNSET"));
    }
}
