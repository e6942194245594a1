//! Logs go to a file: the screen owns stdout and stderr.
//!
//! The level comes from `BANKDECK_LOG` (an `EnvFilter` spec, default `info`).
//! Nothing logged anywhere in bankdeck carries a secret: secrets are typed as
//! `Secret`, whose `Debug` and `Display` print `[redacted]`.

use std::path::{Path, PathBuf};

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

/// The platform state dir (Linux: ~/.local/state/bankdeck), else the data dir.
pub fn default_log_dir() -> Option<PathBuf> {
    let dirs = directories::ProjectDirs::from("", "", "bankdeck")?;
    Some(
        dirs.state_dir()
            .unwrap_or_else(|| dirs.data_local_dir())
            .to_path_buf(),
    )
}

/// Starts logging to `dir/bankdeck.log`. Keep the guard alive until exit so
/// buffered lines are written. A log dir we cannot create disables logging
/// rather than stopping the operator's work.
pub fn init(dir: Option<&Path>) -> Option<WorkerGuard> {
    let dir = dir.map(Path::to_path_buf).or_else(default_log_dir)?;
    if create_private_dir(&dir).is_err() || create_private_file(&dir.join("bankdeck.log")).is_err()
    {
        return None;
    }
    let appender = tracing_appender::rolling::never(&dir, "bankdeck.log");
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let filter = EnvFilter::try_from_env("BANKDECK_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let ok = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false)
        .try_init()
        .is_ok();
    ok.then_some(guard)
}

/// The appender would create the file with the umask's mode; create it 0600
/// first so log lines (which hold no secrets, but do hold user names and
/// connection ids) stay private.
///
/// Not through a symbolic link, which would send the log, and the mode
/// set here, to whatever file it names: such a path disables logging.
fn create_private_file(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
}

/// The log's folder, 0700: one made before with the umask's mode is
/// narrowed too, since it is bankdeck's own.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let meta = std::fs::symlink_metadata(dir)?;
    if !meta.is_dir() {
        return Err(std::io::Error::other("the log folder is not a folder"));
    }
    if meta.permissions().mode() & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::symlink_metadata(path)
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    }

    #[test]
    fn the_log_is_not_opened_through_a_link_and_its_folder_is_narrowed() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("state");
        std::fs::create_dir(&folder).unwrap();
        std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o755)).unwrap();
        create_private_dir(&folder).unwrap();
        assert_eq!(mode(&folder), 0o700);
        let elsewhere = dir.path().join("elsewhere");
        std::fs::write(&elsewhere, "theirs").unwrap();
        std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o644)).unwrap();
        let log = folder.join("bankdeck.log");
        std::os::unix::fs::symlink(&elsewhere, &log).unwrap();
        assert!(create_private_file(&log).is_err());
        assert_eq!(
            mode(&elsewhere),
            0o644,
            "the file it names is left as it was"
        );
        std::fs::remove_file(&log).unwrap();
        create_private_file(&log).unwrap();
        assert_eq!(mode(&log), 0o600);
    }
}
