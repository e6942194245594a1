//! `config check`: the providers a config resolves to, each secret set or
//! missing, and whether the store beside it can be read and serves them.

use std::collections::BTreeSet;
use std::process::ExitCode;

use color_eyre::eyre::Result;

use crate::cli::args::ConfigCmd;
use crate::config::{Config, Family};
use crate::domain::text::counted;
use crate::domain::{ConnState, UnixTime};

pub fn config_check(
    cfg: &Config,
    _cmd: &ConfigCmd,
    data_dir: Option<&std::path::Path>,
) -> Result<ExitCode> {
    say_source(cfg)?;
    say!(
        "warn_within: {}",
        humantime::format_duration(cfg.warn_within)
    )?;
    let mut found = Findings::default();
    config_open_to_others(cfg, &mut found)?;
    for p in cfg.providers.values() {
        provider(p, &mut found)?;
    }
    let store = store_beyond_config(cfg, data_dir)?;
    keys(cfg, &mut found)?;
    found.verdict(store)
}

/// What the check found to be done, counted as it goes.
#[derive(Default)]
struct Findings {
    /// Secrets a provider names that are not set.
    missing: usize,
    /// Providers no command could build a client for.
    unusable: usize,
    /// Files open to other users: counted once each, though two providers
    /// may name one file.
    exposed: BTreeSet<String>,
    /// `[keys]` overrides the screen would report and go on without.
    keys: usize,
}

impl Findings {
    /// "OK" and 0 when nothing needs doing, "ACTION" and 1 when something
    /// does, as `check` does, so that a deployment script can stop on a
    /// secret not yet in place. `store`: as `store_beyond_config` found it.
    fn verdict(self, store: Option<usize>) -> Result<ExitCode> {
        let mut action = Vec::new();
        if self.unusable > 0 {
            action.push(counted(
                self.unusable,
                "provider that cannot be used",
                "providers that cannot be used",
            ));
        }
        if self.missing > 0 {
            let secrets = counted(self.missing, "secret", "secrets");
            action.push(format!("{secrets} missing"));
        }
        if self.keys > 0 {
            action.push(counted(self.keys, "[keys] problem", "[keys] problems"));
        }
        match store {
            // Every command would stop at it, as `status` does: a deployment
            // gated on this check must not go on.
            None => action.push("the store cannot be read".to_owned()),
            Some(0) => {}
            Some(orphans) => action.push(format!(
                "{} of providers not in the configuration",
                counted(orphans, "connection", "connections")
            )),
        }
        if !self.exposed.is_empty() {
            let n = self.exposed.len();
            action.push(counted(
                n,
                "file open to other users",
                "files open to other users",
            ));
        }
        if action.is_empty() {
            say!("OK: nothing missing")?;
            return Ok(ExitCode::SUCCESS);
        }
        say!("ACTION: {}", action.join(", "))?;
        Ok(ExitCode::from(1))
    }
}

/// Which config file was read, or where none was found.
fn say_source(cfg: &Config) -> Result<()> {
    match &cfg.source {
        Some(p) => say!("config: {}", p.display())?,
        // Only the default place can be missing: a named file that is not
        // there fails to load. Saying where it was looked for is what a first
        // run needs to create it.
        None => match crate::config::config_path(None) {
            Some(p) => say!(
                "config: none at {}: embedded defaults only, no providers (config.example.toml shows every key)",
                p.display()
            )?,
            None => {
                say!("config: no home folder to look in: embedded defaults only, no providers")?
            }
        },
    }
    Ok(())
}

/// Whoever can write the config chooses where the client secret is sent.
fn config_open_to_others(cfg: &Config, found: &mut Findings) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(p) = &cfg.source
        && let Ok(meta) = std::fs::metadata(p)
        && meta.permissions().mode() & 0o022 != 0
    {
        found.exposed.insert(p.display().to_string());
        let mode = meta.permissions().mode() & 0o777;
        say!("  warning: the config is writable by other users (mode {mode:04o}): chmod go-w it")?;
    }
    Ok(())
}

/// A provider as resolved: its endpoints, whether a client can be built,
/// each secret set or missing, and its settings.
fn provider(p: &crate::config::ProviderConfig, found: &mut Findings) -> Result<()> {
    say!("provider {} ({})", p.name, p.kind())?;
    for (key, url) in endpoints(&p.family) {
        say!("  {key:<15} {url}")?;
    }
    // What every command and the dashboard do first with it: a
    // `ca_file` that is missing or holds no certificate stops them all.
    if let Err(e) = crate::providers::build(p) {
        found.unusable += 1;
        say!("  error: {}", e.message)?;
    }
    for (key, r) in p.secret_refs() {
        let state = if r.is_set() { "[set]" } else { "[missing]" };
        found.missing += usize::from(!r.is_set());
        say!("  {key:<15} {r} {state}")?;
        if let Some(exposure) = r.exposure() {
            say!("  warning: {key} file {exposure}")?;
            found.exposed.insert(r.to_string());
        }
    }
    for line in settings(p) {
        say!("  {line}")?;
    }
    Ok(())
}

/// The `[keys]` overrides and their problems. The screen reports these in
/// its activity pane and goes on without them; a check of the file should
/// not be the one place that is silent.
fn keys(cfg: &Config, found: &mut Findings) -> Result<()> {
    let (_, problems) = crate::tui::Keymap::with_overrides(&cfg.keys);
    if !cfg.keys.is_empty() {
        say!("keys: {}", counted(cfg.keys.len(), "override", "overrides"))?;
        for p in &problems {
            say!("  warning: {p}")?;
        }
    }
    found.keys = problems.len();
    Ok(())
}

/// Says which store this config serves, and how many of its live rows
/// belong to providers the config lacks: each would fail at its next
/// operation, and the config is where that is mended. Returns that count,
/// or `None` for a store that is there but cannot be read (a wrong key, a
/// damaged file), which is said, not an error: the check goes on.
fn store_beyond_config(cfg: &Config, data_dir: Option<&std::path::Path>) -> Result<Option<usize>> {
    use crate::domain::StateKind;
    let Ok(opts) = crate::store::default_paths(data_dir.map(std::path::Path::to_path_buf)) else {
        return Ok(Some(0));
    };
    let dir = opts.data_dir.display().to_string();
    if !opts.db_path().exists() {
        say!("store: none yet at {dir}")?;
        return Ok(Some(0));
    }
    let opened = match crate::store::open(data_dir, crate::store::Access::Read) {
        Ok(opened) => opened,
        Err(e) => {
            say!("store: {dir}: not read ({e})")?;
            return Ok(None);
        }
    };
    let now = UnixTime::now();
    let (mut rows, mut beyond) = (0usize, std::collections::BTreeMap::<String, usize>::new());
    let read = opened.store.each_connection(&mut |c| {
        rows += 1;
        let finished = matches!(
            ConnState::derive(&c, now, cfg.warn_secs()).kind(),
            StateKind::LoggedOut | StateKind::Delinked
        );
        if !finished && cfg.provider(&c.provider).is_none() {
            *beyond.entry(c.provider).or_default() += 1;
        }
    });
    if let Err(e) = read {
        say!("store: {dir}: not read ({e})")?;
        return Ok(None);
    }
    say!(
        "store: {dir} ({})",
        counted(rows, "connection", "connections")
    )?;
    for (provider, n) in &beyond {
        say!(
            "  warning: {} of provider '{provider}', which the config lacks: add \
             [providers.{provider}] to act on them",
            counted(*n, "live connection", "live connections")
        )?;
    }
    Ok(Some(beyond.values().sum()))
}

fn endpoints(f: &Family) -> Vec<(&'static str, String)> {
    let s = |u: &Option<url::Url>| u.as_ref().map(ToString::to_string);
    let list = match f {
        Family::Dapi(d) => vec![("base_url", Some(d.base_url.to_string()))],
        Family::OAuth2(o) => vec![
            ("authorize_url", s(&o.authorize_url)),
            ("token_url", Some(o.token_url.to_string())),
            ("revocation_url", s(&o.revocation_url)),
            ("client_id", Some(o.client.id.clone())),
        ],
        Family::Oidc(o) => vec![
            ("issuer", s(&o.issuer)),
            ("authorize_url", s(&o.authorize_url)),
            ("token_url", s(&o.token_url)),
            ("revocation_url", s(&o.revocation_url)),
            ("logout_url", s(&o.logout_url)),
            ("userinfo_url", s(&o.userinfo_url)),
            ("client_id", Some(o.client.id.clone())),
        ],
    };
    list.into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect()
}

/// What the provider is asked for and how it is worked, after its secrets:
/// a wrong scope or client auth is behind many a refused login, and the
/// defaults a key falls back to are not in the file to be read.
fn settings(p: &crate::config::ProviderConfig) -> Vec<String> {
    let mut lines = Vec::new();
    let client = match &p.family {
        Family::Dapi(d) => {
            lines.push(format!(
                "{:<15} {} when the code is not a JWT with exp",
                "access_code_ttl",
                humantime::format_duration(d.access_code_ttl)
            ));
            None
        }
        Family::OAuth2(o) => Some(&o.client),
        Family::Oidc(o) => Some(&o.client),
    };
    if let Some(client) = client {
        let scopes = if client.scopes.is_empty() {
            "none asked: the provider's default".to_owned()
        } else {
            client.scopes.join(" ")
        };
        lines.push(format!("{:<15} {scopes}", "scopes"));
        let auth = match (&client.secret, client.auth) {
            (None, _) => "none: a public client (no client_secret)",
            (_, crate::config::ClientAuth::Basic) => "basic (client_secret_basic)",
            (_, crate::config::ClientAuth::Post) => "post (client_secret_post)",
        };
        lines.push(format!("{:<15} {auth}", "client_auth"));
        if let Some(port) = client.redirect_port {
            lines.push(format!("{:<15} {port}", "redirect_port"));
        }
    }
    let c = &p.common;
    let renewal = match (&p.family, c.refresh_margin) {
        (Family::Dapi(_), _) => format!("auto_exchange {}", c.auto_exchange),
        (_, Some(m)) => format!(
            "auto_refresh {} · refresh_margin {}",
            c.auto_refresh,
            humantime::format_duration(m)
        ),
        (_, None) => format!(
            "auto_refresh {} · refresh_margin max(30s, 10% of the token's lifetime)",
            c.auto_refresh
        ),
    };
    lines.push(format!(
        "timeout {} (connect {}) · {renewal} · max_in_flight {}",
        humantime::format_duration(c.timeout),
        humantime::format_duration(c.connect_timeout),
        c.max_in_flight,
    ));
    if let Some(f) = &c.ca_file {
        lines.push(format!("{:<15} {}", "ca_file", f.display()));
    }
    lines
}
