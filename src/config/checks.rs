//! Checks of single keys, each turning a raw TOML value into a typed one or
//! into an error that names the file, line and key.

use super::*;
use crate::domain::ProviderKind;

type Res<T> = Result<T, ConfigError>;

impl Cx<'_> {
    pub(super) fn err(
        &self,
        at: Option<usize>,
        key: &str,
        message: impl Into<String>,
    ) -> ConfigError {
        ConfigError {
            file: self.file.to_string(),
            line: at.map(|o| line_of(self.text, o)),
            key: key.to_string(),
            message: message.into(),
            more: Vec::new(),
        }
    }

    fn at(v: &Spanned<toml::Value>) -> Option<usize> {
        Some(v.span().start)
    }

    fn string(&self, v: &Spanned<toml::Value>, key: &str) -> Res<String> {
        match v.get_ref() {
            toml::Value::String(s) if !s.trim().is_empty() => Ok(s.trim().to_string()),
            toml::Value::String(_) => Err(self.err(Self::at(v), key, "must not be empty")),
            other => Err(self.err(
                Self::at(v),
                key,
                format!("expected a string, found {}", other.type_str()),
            )),
        }
    }

    /// One of the three provider kinds.
    fn kind(&self, v: &Spanned<toml::Value>, key: &str) -> Res<ProviderKind> {
        let kind = self.string(v, key)?;
        ProviderKind::parse(&kind).ok_or_else(|| {
            self.err(
                Self::at(v),
                key,
                format!("unknown kind '{kind}': use \"dapi\", \"oauth2\" or \"oidc\""),
            )
        })
    }

    /// A [`duration`](Self::duration) that is a window tokens are renewed
    /// in: no longer than [`LONGEST_WINDOW`](super::super::LONGEST_WINDOW),
    /// as `--within` takes.
    pub(super) fn window(&self, v: &Spanned<toml::Value>, key: &str) -> Res<Duration> {
        let d = self.duration(v, key)?;
        if d > super::super::LONGEST_WINDOW {
            return Err(self.err(
                Self::at(v),
                key,
                "longer than a year: write the window tokens are renewed in, e.g. \"2m\"",
            ));
        }
        Ok(d)
    }

    /// A duration with its unit. A bare number is refused, quoted or not:
    /// taken as seconds, `warn_within = 5` meant as minutes would pass
    /// unnoticed.
    pub(super) fn duration(&self, v: &Spanned<toml::Value>, key: &str) -> Res<Duration> {
        let no_unit = |shown: String, n: u64| {
            let message = format!("{shown} has no unit: give one, e.g. \"{n}m\" or \"{n}s\"");
            self.err(Self::at(v), key, message)
        };
        let d = match v.get_ref() {
            toml::Value::Integer(n) if *n > 0 => {
                return Err(no_unit(n.to_string(), n.unsigned_abs()));
            }
            toml::Value::String(s) => {
                humantime::parse_duration(s.trim()).map_err(|_| match s.trim().parse::<u64>() {
                    Ok(n) => no_unit(format!("'{s}'"), n),
                    Err(_) => self.err(
                        Self::at(v),
                        key,
                        format!("'{s}' is not a duration: write e.g. \"30s\", \"5m\", \"1h\""),
                    ),
                })?
            }
            _ => {
                return Err(self.err(
                    Self::at(v),
                    key,
                    "expected a duration such as \"30s\" or \"5m\"",
                ));
            }
        };
        if d.is_zero() {
            return Err(self.err(Self::at(v), key, "must be longer than zero"));
        }
        Ok(d)
    }

    fn bool(&self, v: &Spanned<toml::Value>, key: &str) -> Res<bool> {
        v.get_ref()
            .as_bool()
            .ok_or_else(|| self.err(Self::at(v), key, "expected true or false"))
    }

    fn int(&self, v: &Spanned<toml::Value>, key: &str, min: i64, max: i64) -> Res<i64> {
        match v.get_ref().as_integer() {
            Some(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(self.err(
                Self::at(v),
                key,
                format!("expected a whole number from {min} to {max}"),
            )),
        }
    }

    fn url(&self, v: &Spanned<toml::Value>, key: &str) -> Res<Url> {
        let s = self.string(v, key)?;
        let url =
            Url::parse(&s).map_err(|e| self.err(Self::at(v), key, format!("not a URL: {e}")))?;
        check_transport(&url).map_err(|m| self.err(Self::at(v), key, m))?;
        // A password written here would be printed by `config check` and
        // logged with the URL; the message names the key, never the URL.
        if !url.username().is_empty() || url.password().is_some() {
            return Err(self.err(
                Self::at(v),
                key,
                "a URL must not hold a user name or password: credentials go in client_id and \
                 client_secret (app_secret for Dapi), as references",
            ));
        }
        Ok(url)
    }

    fn secret(&self, v: &Spanned<toml::Value>, key: &str) -> Res<SecretRef> {
        let toml::Value::String(s) = v.get_ref() else {
            return Err(self.err(
                Self::at(v),
                key,
                "expected a reference such as \"env:NAME\" or \"file:PATH\"",
            ));
        };
        match SecretRef::parse(s.trim()) {
            Ok(SecretRef::File(path)) => Ok(SecretRef::File(self.beside(path))),
            Ok(other) => Ok(other),
            Err(m) => Err(self.err(Self::at(v), key, m)),
        }
    }

    /// `path` as written in the file, a relative one taken from the file's
    /// own folder.
    fn beside(&self, path: PathBuf) -> PathBuf {
        match self.dir {
            Some(dir) if path.is_relative() => dir.join(path),
            _ => path,
        }
    }

    fn scopes(&self, v: &Spanned<toml::Value>, key: &str) -> Res<Vec<String>> {
        match v.get_ref() {
            toml::Value::String(s) => Ok(s.split_whitespace().map(str::to_owned).collect()),
            toml::Value::Array(items) => items
                .iter()
                .map(|i| i.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| self.err(Self::at(v), key, "expected a list of strings")),
            _ => Err(self.err(
                Self::at(v),
                key,
                "expected a list of strings or a space-separated string",
            )),
        }
    }

    /// Records a failed check and carries on, so that one read names every
    /// problem of the file instead of one a run.
    pub(super) fn keep<T>(&self, checked: Res<T>) -> Option<T> {
        checked.map_err(|e| self.note(e)).ok()
    }

    fn note(&self, e: ConfigError) {
        let mut errors = self.errors.borrow_mut();
        // A bad `[defaults]` value fails every provider alike: once is enough.
        if !errors.iter().any(|o| same_place(o, &e)) {
            errors.push(e);
        }
    }

    /// Checks a key that must be there; `None` once its error is recorded.
    fn required<T>(
        &self,
        v: Option<&Spanned<toml::Value>>,
        at: usize,
        key: &str,
        check: impl FnOnce(&Self, &Spanned<toml::Value>, &str) -> Res<T>,
    ) -> Option<T> {
        self.keep(self.need(v, at, key).and_then(|v| check(self, v, key)))
    }

    /// Checks a key that may be left out: `Some(None)` when it is.
    fn optional<T>(
        &self,
        v: Option<&Spanned<toml::Value>>,
        key: &str,
        check: impl FnOnce(&Self, &Spanned<toml::Value>, &str) -> Res<T>,
    ) -> Option<Option<T>> {
        self.keep(v.map(|v| check(self, v, key)).transpose())
    }

    /// The provider `name`, or `None` with every problem it has recorded.
    pub(super) fn provider(
        &self,
        name: &str,
        at: usize,
        raw: &RawProvider,
    ) -> Option<ProviderConfig> {
        // An empty name lists as "provider  (oauth2)" and cannot be chosen
        // with --provider.
        if name.trim().is_empty() {
            self.note(self.err(
                Some(at),
                &format!("providers.{name:?}"),
                "a provider needs a name: write [providers.NAME], e.g. [providers.bank]",
            ));
            return None;
        }
        // Typed after `token`, `--provider` and `waits lift`, and printed
        // in every list and audit line: a space splits it in a shell, and a
        // control character would reach the terminal as a command.
        if let Some(c) = name.chars().find(|&c| !named_with(c)) {
            self.note(self.err(
                Some(at),
                &format!("providers.{name:?}"),
                format!(
                    "a provider's name is {PROVIDER_NAME_RULE}, and {c:?} is none of them: \
                     rename it, e.g. [providers.bank]"
                ),
            ));
            return None;
        }
        let key = |k: &str| format!("providers.{name}.{k}");
        let kind = self
            .keep(raw.kind.as_ref().ok_or_else(|| {
                self.err(
                    Some(at),
                    &key("kind"),
                    "missing: set kind = \"dapi\", \"oauth2\" or \"oidc\"",
                )
            }))
            .and_then(|v| self.keep(self.kind(v, &key("kind"))));
        if let Some(kind) = kind {
            self.check_kind_keys(name, kind, raw);
        }
        let common = self.common(&format!("providers.{name}"), raw);
        let family = match kind? {
            ProviderKind::Dapi => self.dapi(name, at, raw),
            ProviderKind::OAuth2 => self.oauth2(name, at, raw),
            ProviderKind::Oidc => self.oidc(name, at, raw),
        };
        Some(ProviderConfig {
            name: name.to_string(),
            common: common?,
            family: family?,
        })
    }

    fn dapi(&self, name: &str, at: usize, raw: &RawProvider) -> Option<Family> {
        let key = |k: &str| format!("providers.{name}.{k}");
        let base_url = self.required(raw.base_url.as_ref(), at, &key("base_url"), Self::url);
        let app_secret = self.required(
            raw.app_secret.as_ref(),
            at,
            &key("app_secret"),
            Self::secret,
        );
        let access_code_ttl = self.optional(
            raw.access_code_ttl.as_ref(),
            &key("access_code_ttl"),
            Self::duration,
        );
        Some(Family::Dapi(DapiConfig {
            base_url: base_url?,
            app_secret: app_secret?,
            access_code_ttl: access_code_ttl?.unwrap_or(Duration::from_secs(1800)),
        }))
    }

    fn oauth2(&self, name: &str, at: usize, raw: &RawProvider) -> Option<Family> {
        let key = |k: &str| format!("providers.{name}.{k}");
        let authorize_url =
            self.optional(raw.authorize_url.as_ref(), &key("authorize_url"), Self::url);
        let token_url = self.required(raw.token_url.as_ref(), at, &key("token_url"), Self::url);
        let revocation_url = self.optional(
            raw.revocation_url.as_ref(),
            &key("revocation_url"),
            Self::url,
        );
        let client = self.client(name, at, raw);
        Some(Family::OAuth2(Box::new(OAuth2Config {
            authorize_url: authorize_url?,
            token_url: token_url?,
            revocation_url: revocation_url?,
            client: client?,
        })))
    }

    fn oidc(&self, name: &str, at: usize, raw: &RawProvider) -> Option<Family> {
        let key = |k: &str| format!("providers.{name}.{k}");
        let issuer = self.optional(raw.issuer.as_ref(), &key("issuer"), Self::url);
        let authorize_url =
            self.optional(raw.authorize_url.as_ref(), &key("authorize_url"), Self::url);
        let token_url = self.optional(raw.token_url.as_ref(), &key("token_url"), Self::url);
        let logout_url = self.optional(raw.logout_url.as_ref(), &key("logout_url"), Self::url);
        let revocation_url = self.optional(
            raw.revocation_url.as_ref(),
            &key("revocation_url"),
            Self::url,
        );
        let userinfo_url =
            self.optional(raw.userinfo_url.as_ref(), &key("userinfo_url"), Self::url);
        let client = self.client(name, at, raw);
        // Judged on what is written, so a bad issuer is not also called missing.
        if raw.issuer.is_none() && raw.token_url.is_none() {
            self.note(self.err(
                Some(at),
                &key("issuer"),
                "missing: set issuer (for discovery) or token_url and the other endpoints",
            ));
            return None;
        }
        Some(Family::Oidc(Box::new(OidcConfig {
            issuer: issuer?,
            authorize_url: authorize_url?,
            token_url: token_url?,
            logout_url: logout_url?,
            revocation_url: revocation_url?,
            userinfo_url: userinfo_url?,
            client: client?,
        })))
    }

    fn client(&self, name: &str, at: usize, raw: &RawProvider) -> Option<Client> {
        let key = |k: &str| format!("providers.{name}.{k}");
        let auth = self.optional(
            raw.client_auth.as_ref(),
            &key("client_auth"),
            |cx, v, k| match cx.string(v, k)?.as_str() {
                "basic" | "client_secret_basic" => Ok(ClientAuth::Basic),
                "post" | "client_secret_post" => Ok(ClientAuth::Post),
                _ => Err(cx.err(Self::at(v), k, "expected \"basic\" or \"post\"")),
            },
        );
        let id = self.required(raw.client_id.as_ref(), at, &key("client_id"), Self::string);
        let secret = self.optional(
            raw.client_secret.as_ref(),
            &key("client_secret"),
            Self::secret,
        );
        let scopes = self.optional(raw.scopes.as_ref(), &key("scopes"), Self::scopes);
        let redirect_port = self.optional(
            raw.redirect_port.as_ref(),
            &key("redirect_port"),
            |cx, v, k| cx.int(v, k, 1, 65535),
        );
        Some(Client {
            id: id?,
            secret: secret?,
            auth: auth?.unwrap_or(ClientAuth::Basic),
            scopes: scopes?.unwrap_or_default(),
            redirect_port: redirect_port?.and_then(|p| u16::try_from(p).ok()),
        })
    }

    /// The settings every provider has, from the table named `table`
    /// (`providers.bank`, or `defaults` for the table they all inherit).
    pub(super) fn common(&self, table: &str, raw: &RawProvider) -> Option<Common> {
        let key = |k: &str| format!("{table}.{k}");
        let ca_file = self.optional(raw.ca_file.as_ref(), &key("ca_file"), Self::string);
        let timeout = self.optional(raw.timeout.as_ref(), &key("timeout"), Self::duration);
        let connect_timeout = self.optional(
            raw.connect_timeout.as_ref(),
            &key("connect_timeout"),
            Self::duration,
        );
        let auto_refresh =
            self.optional(raw.auto_refresh.as_ref(), &key("auto_refresh"), Self::bool);
        let refresh_margin = self.optional(
            raw.refresh_margin.as_ref(),
            &key("refresh_margin"),
            Self::duration,
        );
        let max_in_flight = self.optional(
            raw.max_in_flight.as_ref(),
            &key("max_in_flight"),
            |cx, v, k| cx.int(v, k, 1, 4096),
        );
        let auto_exchange = self.optional(
            raw.auto_exchange.as_ref(),
            &key("auto_exchange"),
            Self::bool,
        );
        Some(Common {
            ca_file: ca_file?.map(|p| self.beside(PathBuf::from(p))),
            timeout: timeout?.unwrap_or(Duration::from_secs(15)),
            connect_timeout: connect_timeout?.unwrap_or(Duration::from_secs(5)),
            auto_refresh: auto_refresh?.unwrap_or(false),
            refresh_margin: refresh_margin?,
            max_in_flight: max_in_flight?.map_or(8, |n| n.unsigned_abs() as usize),
            auto_exchange: auto_exchange?.unwrap_or(false),
        })
    }

    /// Keys that belong to another kind are refused: a typo'd or misplaced key
    /// silently ignored is how a production config goes wrong.
    fn check_kind_keys(&self, name: &str, kind: ProviderKind, raw: &RawProvider) {
        let foreign: &[(&str, &V)] = match kind {
            ProviderKind::Dapi => &[
                ("authorize_url", &raw.authorize_url),
                ("token_url", &raw.token_url),
                ("revocation_url", &raw.revocation_url),
                ("issuer", &raw.issuer),
                ("logout_url", &raw.logout_url),
                ("userinfo_url", &raw.userinfo_url),
                ("client_id", &raw.client_id),
                ("client_secret", &raw.client_secret),
                ("scopes", &raw.scopes),
                ("redirect_port", &raw.redirect_port),
            ],
            ProviderKind::OAuth2 => &[
                ("base_url", &raw.base_url),
                ("app_secret", &raw.app_secret),
                ("issuer", &raw.issuer),
                ("logout_url", &raw.logout_url),
                ("userinfo_url", &raw.userinfo_url),
            ],
            ProviderKind::Oidc => &[("base_url", &raw.base_url), ("app_secret", &raw.app_secret)],
        };
        for (k, v) in foreign {
            if let Some(v) = v {
                self.note(self.err(
                    Self::at(v),
                    &format!("providers.{name}.{k}"),
                    format!("does not apply to kind \"{}\"", kind.as_str()),
                ));
            }
        }
    }

    fn need<'v>(
        &self,
        v: Option<&'v Spanned<toml::Value>>,
        at: usize,
        key: &str,
    ) -> Res<&'v Spanned<toml::Value>> {
        v.ok_or_else(|| self.err(Some(at), key, "missing"))
    }
}

/// https everywhere; plain http only to this machine, where nothing crosses a
/// network an attacker could sit on.
pub fn check_transport(url: &Url) -> Result<(), String> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        "http" => Err(format!(
            "http:// is refused for {}: only loopback hosts may use plain http; use https://",
            url.host_str().unwrap_or("this host")
        )),
        other => Err(format!("scheme {other}:// is not supported: use https://")),
    }
}

pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// What a provider's name may be, in words: [`named_with`] each character.
pub const PROVIDER_NAME_RULE: &str = "one word of letters, digits, '-', '_' or '.'";

/// Whether `c` may be part of a provider's name.
fn named_with(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '-' | '_' | '.')
}

/// Whether a configuration could name a provider `name`.
pub fn is_provider_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(named_with)
}
