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
fn create_private_file(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}
