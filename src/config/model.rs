//! The validated configuration: what the rest of bankdeck reads.
//!
//! Everything here has passed the checks of `load`: URLs are https (or
//! loopback http) and hold no credentials, secrets are references,
//! durations are written with a unit and are positive. Code that holds a
//! `Config` never has to re-check any of it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use url::Url;

use super::secret_ref::SecretRef;
use crate::domain::ProviderKind;

/// The longest window `warn_within` or `--within` takes: one past every
/// token's life takes them all, and a `refresh --due` records it as its
/// own, which `check` trusts for as long.
pub const LONGEST_WINDOW: Duration = Duration::from_secs(366 * 24 * 3600);

#[derive(Debug, Clone)]
pub struct Config {
    /// The file the user's layer came from, if any (shown by `config check`).
    pub source: Option<PathBuf>,
    /// A token within this much of its expiry reads "expiring".
    pub warn_within: Duration,
    /// Key overrides, action name → key spec; merged over the default keymap
    /// by the screen, which owns the action names.
    pub keys: BTreeMap<String, String>,
    pub providers: BTreeMap<String, ProviderConfig>,
}

impl Config {
    pub fn provider(&self, name: &str) -> Option<&ProviderConfig> {
        self.providers.get(name)
    }

    pub fn warn_secs(&self) -> i64 {
        i64::try_from(self.warn_within.as_secs()).unwrap_or(i64::MAX)
    }
}

#[derive(Debug, Clone)]
pub struct ProviderConfig {
    pub name: String,
    pub common: Common,
    pub family: Family,
}

impl ProviderConfig {
    pub fn kind(&self) -> ProviderKind {
        match self.family {
            Family::Dapi(_) => ProviderKind::Dapi,
            Family::OAuth2(_) => ProviderKind::OAuth2,
            Family::Oidc(_) => ProviderKind::Oidc,
        }
    }

    /// How long a Dapi access code lives when it does not say (`None`: not
    /// a Dapi provider).
    pub fn access_code_ttl(&self) -> Option<std::time::Duration> {
        match &self.family {
            Family::Dapi(d) => Some(d.access_code_ttl),
            _ => None,
        }
    }

    /// Every secret reference of this provider with the key that holds it.
    pub fn secret_refs(&self) -> Vec<(&'static str, &SecretRef)> {
        match &self.family {
            Family::Dapi(d) => vec![("app_secret", &d.app_secret)],
            Family::OAuth2(o) => o
                .client
                .secret
                .iter()
                .map(|s| ("client_secret", s))
                .collect(),
            Family::Oidc(o) => o
                .client
                .secret
                .iter()
                .map(|s| ("client_secret", s))
                .collect(),
        }
    }
}

/// Keys every provider kind takes.
#[derive(Debug, Clone)]
pub struct Common {
    /// An extra trusted CA (PEM), for private or test CAs. Never a bypass.
    pub ca_file: Option<PathBuf>,
    /// Total deadline of one HTTP request.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub auto_refresh: bool,
    /// Refresh this long before expiry; `None` means the larger of 30 s and
    /// 10 % of the token's lifetime.
    pub refresh_margin: Option<Duration>,
    /// Operations against this provider at once.
    pub max_in_flight: usize,
    /// Exchange Dapi access codes automatically when they near expiry.
    pub auto_exchange: bool,
}

#[derive(Debug, Clone)]
pub enum Family {
    Dapi(DapiConfig),
    OAuth2(Box<OAuth2Config>),
    Oidc(Box<OidcConfig>),
}

#[derive(Debug, Clone)]
pub struct DapiConfig {
    pub base_url: Url,
    pub app_secret: SecretRef,
    /// Used when the access code is not a JWT with `exp` (the docs say 30 min).
    pub access_code_ttl: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// HTTP Basic with the client id and secret (RFC 6749 §2.3.1, preferred).
    Basic,
    /// `client_id` and `client_secret` in the form body.
    Post,
}

#[derive(Debug, Clone)]
pub struct Client {
    pub id: String,
    pub secret: Option<SecretRef>,
    pub auth: ClientAuth,
    pub scopes: Vec<String>,
    /// Fixed loopback port for browser logins, when the provider registered one.
    pub redirect_port: Option<u16>,
}

#[derive(Debug, Clone)]
pub struct OAuth2Config {
    pub authorize_url: Option<Url>,
    pub token_url: Url,
    pub revocation_url: Option<Url>,
    pub client: Client,
}

/// Endpoints are either discovered from `issuer` or given one by one;
/// explicit ones win over discovered ones.
#[derive(Debug, Clone)]
pub struct OidcConfig {
    pub issuer: Option<Url>,
    pub authorize_url: Option<Url>,
    pub token_url: Option<Url>,
    pub logout_url: Option<Url>,
    pub revocation_url: Option<Url>,
    pub userinfo_url: Option<Url>,
    pub client: Client,
}
