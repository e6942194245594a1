//! Shared by the benchmark examples: a private temp dir and a config whose
//! providers are an in-process sandbox.
#![allow(dead_code)]

pub mod memory;

use std::path::Path;

use bankdeck::config;
use bankdeck::sandbox::{DEMO_APP_SECRET, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, Sandbox};
use bankdeck::worker::ProviderEntry;

pub fn private_dir(parent: Option<&str>) -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = match parent {
        Some(p) => tempfile::Builder::new()
            .prefix("bankdeck-rt-")
            .tempdir_in(p),
        None => tempfile::Builder::new().prefix("bankdeck-rt-").tempdir(),
    }
    .unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    dir
}

pub fn write_private(dir: &Path, name: &str, value: &str) -> String {
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join(name);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .unwrap();
    std::io::Write::write_all(&mut f, value.as_bytes()).unwrap();
    path.display().to_string()
}

/// A config whose `bank` provider is the sandbox, `conc` requests at a time.
pub fn config_for(sb: &Sandbox, dir: &Path, conc: usize, timeout: &str) -> config::Config {
    let app = write_private(dir, "app-secret", DEMO_APP_SECRET);
    let client = write_private(dir, "client-secret", DEMO_CLIENT_SECRET);
    let text = format!(
        "[defaults]\ntimeout = \"{timeout}\"\n\
         [providers.dapi]\nkind = \"dapi\"\nbase_url = \"{}\"\napp_secret = \"file:{app}\"\nauto_exchange = false\n\
         [providers.bank]\nkind = \"oauth2\"\ntoken_url = \"{}\"\nclient_id = \"{DEMO_CLIENT_ID}\"\nclient_secret = \"file:{client}\"\nscopes = [\"accounts\"]\nmax_in_flight = {conc}\nauto_refresh = false\n",
        sb.dapi_base_url(),
        sb.oauth2_token_url(),
    );
    let path = dir.join("config.toml");
    std::fs::write(&path, text).unwrap();
    config::load(Some(&path)).unwrap()
}

pub fn entries(cfg: &config::Config) -> Vec<ProviderEntry> {
    cfg.providers
        .values()
        .map(|c| ProviderEntry {
            client: bankdeck::providers::build(c).unwrap(),
            config: c.clone(),
        })
        .collect()
}
