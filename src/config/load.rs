//! Loading the configuration in layers and checking every key.
//!
//! Layers, bottom up: the embedded defaults (`assets/defaults.toml`), then the
//! user's file (`--config`, `BANKDECK_CONFIG`, or the platform config dir).
//! The user's `[defaults]` table applies to every provider. Every error names
//! the file, the line and the key, and never repeats a value that could be a
//! secret.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;
use url::Url;

use super::model::*;
use super::secret_ref::SecretRef;

const DEFAULTS: &str = include_str!("../../assets/defaults.toml");

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    pub line: Option<usize>,
    pub key: String,
    pub message: String,
    /// The file's other errors, found in the same read, so one run shows
    /// everything to fix rather than one problem a run.
    pub more: Vec<ConfigError>,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}: {}", self.file, line, self.key, self.message)?,
            None => write!(f, "{}: {}: {}", self.file, self.key, self.message)?,
        }
        for other in &self.more {
            write!(f, "\n{other}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

type V = Option<Spanned<toml::Value>>;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawFile {
    warn_within: V,
    #[serde(default)]
    keys: BTreeMap<String, String>,
    #[serde(default)]
    defaults: RawProvider,
    #[serde(default)]
    providers: BTreeMap<String, Spanned<RawProvider>>,
}

/// Every key any provider kind takes; `check_kind_keys` refuses the ones that
/// do not belong to the provider's kind.
#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
struct RawProvider {
    kind: V,
    base_url: V,
    app_secret: V,
    access_code_ttl: V,
    authorize_url: V,
    token_url: V,
    revocation_url: V,
    issuer: V,
    logout_url: V,
    userinfo_url: V,
    client_id: V,
    client_secret: V,
    client_auth: V,
    scopes: V,
    redirect_port: V,
    ca_file: V,
    timeout: V,
    connect_timeout: V,
    auto_refresh: V,
    refresh_margin: V,
    max_in_flight: V,
    auto_exchange: V,
}

/// Where the user's layer comes from.
pub fn config_path(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os("BANKDECK_CONFIG") {
        return Some(PathBuf::from(p));
    }
    directories::ProjectDirs::from("", "", "bankdeck").map(|d| d.config_dir().join("config.toml"))
}

/// Loads the defaults and, if it exists (or was named explicitly), the user's file.
pub fn load(explicit: Option<&Path>) -> Result<Config, ConfigError> {
    let named = explicit.is_some() || std::env::var_os("BANKDECK_CONFIG").is_some();
    let Some(path) = config_path(explicit) else {
        return parse_layers(None, "");
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => parse_layers(Some(&path), &text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !named => parse_layers(None, ""),
        Err(e) => Err(ConfigError {
            file: path.display().to_string(),
            line: None,
            key: "(file)".into(),
            message: format!("cannot read: {e}"),
            more: Vec::new(),
        }),
    }
}

/// Parses the user's text over the embedded defaults.
pub fn parse_layers(path: Option<&Path>, text: &str) -> Result<Config, ConfigError> {
    let defaults: RawFile = parse_raw("(embedded defaults)", DEFAULTS)?;
    let file = path.map_or("(config)".to_string(), |p| p.display().to_string());
    let user: RawFile = parse_raw(&file, text)?;
    // Made whole now: a relative `--config` names a file under the folder
    // the command was started in, whatever else the process does.
    let folder = |p: &Path| match p.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    };
    let dir = path.map(folder).map(std::path::absolute).transpose();
    let dir = dir.map_err(|e| ConfigError {
        file: file.clone(),
        line: None,
        key: "(file)".into(),
        message: format!("cannot tell which folder it is in: {e}"),
        more: Vec::new(),
    })?;
    let cx = Cx {
        file: &file,
        dir: dir.as_deref(),
        text,
        errors: RefCell::default(),
    };
    let base = overlay(&defaults.defaults, &user.defaults);
    let warn_within = match &user.warn_within {
        // Zero is never used: the check's error ends the read below.
        Some(v) => cx
            .keep(cx.window(v, "warn_within"))
            .unwrap_or(Duration::ZERO),
        None => Cx {
            file: "(embedded defaults)",
            dir: None,
            text: DEFAULTS,
            errors: RefCell::default(),
        }
        .duration(
            defaults
                .warn_within
                .as_ref()
                .ok_or_else(|| cx.err(None, "warn_within", "missing default"))?,
            "warn_within",
        )?,
    };
    // Checked on its own first, so a bad value is named where it is written
    // (`defaults.timeout`), not as the first provider's that inherits it.
    cx.common("defaults", &user.defaults);
    let mut providers = BTreeMap::new();
    for (name, raw) in &user.providers {
        let merged = overlay(&base, raw.get_ref());
        if let Some(provider) = cx.provider(name, raw.span().start, &merged) {
            providers.insert(name.clone(), provider);
        }
    }
    let mut errors = cx.errors.into_inner();
    // In the file's order, as someone fixing them reads it.
    errors.sort_by_key(|e| e.line);
    let mut errors = errors.into_iter();
    if let Some(mut first) = errors.next() {
        first.more = errors.collect();
        return Err(first);
    }
    Ok(Config {
        source: path.map(Path::to_path_buf),
        warn_within,
        keys: user.keys,
        providers,
    })
}

/// The same problem of one written value: a `[defaults]` key and a
/// provider's inherited copy of it (`defaults.timeout`, `providers.a.timeout`).
fn same_place(a: &ConfigError, b: &ConfigError) -> bool {
    a.file == b.file
        && a.line == b.line
        && a.message == b.message
        && a.key.rsplit('.').next() == b.key.rsplit('.').next()
}

fn parse_raw(file: &str, text: &str) -> Result<RawFile, ConfigError> {
    toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| line_of(text, s.start));
        // Only toml's own message, never its snippet of the source line: that
        // line may hold a secret written where it does not belong.
        let (key, message) = unknown_key(e.message())
            .unwrap_or_else(|| ("(syntax)".into(), e.message().to_string()));
        ConfigError {
            file: file.to_string(),
            line,
            key,
            message,
            more: Vec::new(),
        }
    })
}

/// serde's "unknown field `timout`, expected one of `kind`, `timeout`, …"
/// as the key it names and what to write instead: the key most like it
/// (a typo), or else the keys its table takes.
fn unknown_key(message: &str) -> Option<(String, String)> {
    let rest = message.strip_prefix("unknown field `")?;
    let (key, expected) = rest.split_once('`')?;
    let known: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    let nearest = (known.iter())
        .map(|k| (strsim::damerau_levenshtein(key, k), *k))
        .min()
        .filter(|(distance, _)| *distance <= 2.max(key.len() / 4));
    let message = match nearest {
        Some((_, k)) => format!("not a key bankdeck knows: did you mean `{k}`?"),
        None if known.is_empty() => "not a key bankdeck knows: this table takes none".into(),
        None => format!(
            "not a key bankdeck knows; this table takes {}",
            known.join(", ")
        ),
    };
    Some((key.to_string(), message))
}

fn overlay(base: &RawProvider, top: &RawProvider) -> RawProvider {
    macro_rules! pick {
        ($($f:ident),*) => { RawProvider { $($f: top.$f.clone().or_else(|| base.$f.clone())),* } };
    }
    pick!(
        kind,
        base_url,
        app_secret,
        access_code_ttl,
        authorize_url,
        token_url,
        revocation_url,
        issuer,
        logout_url,
        userinfo_url,
        client_id,
        client_secret,
        client_auth,
        scopes,
        redirect_port,
        ca_file,
        timeout,
        connect_timeout,
        auto_refresh,
        refresh_margin,
        max_in_flight,
        auto_exchange
    )
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .map_or(1, |t| t.matches('\n').count() + 1)
}

/// The context of one file's checks: turns spans into line numbers.
struct Cx<'a> {
    file: &'a str,
    /// The folder the file is in: a relative `file:` secret or `ca_file` is
    /// beside it, not wherever a command happens to be started (cron starts
    /// it in the home folder).
    dir: Option<&'a Path>,
    text: &'a str,
    /// Every problem found so far, in the order the checks met them.
    errors: RefCell<Vec<ConfigError>>,
}

#[path = "checks.rs"]
pub mod checks;
