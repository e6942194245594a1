//! Checks of single keys, each turning a raw TOML value into a typed one or
//! into an error that names the file, line and key.

use super::*;

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

    pub(super) fn duration(&self, v: &Spanned<toml::Value>, key: &str) -> Res<Duration> {
        let d = match v.get_ref() {
            toml::Value::Integer(n) if *n > 0 => Duration::from_secs(n.unsigned_abs()),
            toml::Value::String(s) => humantime::parse_duration(s.trim()).map_err(|_| {
                self.err(
                    Self::at(v),
                    key,
                    format!("'{s}' is not a duration: write e.g. \"30s\", \"5m\", \"1h\""),
                )
            })?,
            _ => {
                return Err(self.err(
                    Self::at(v),
                    key,
                    "expected a duration such as \"30s\" or a positive number of seconds",
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
        SecretRef::parse(s.trim()).map_err(|m| self.err(Self::at(v), key, m))
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

    pub(super) fn provider(&self, name: &str, at: usize, raw: &RawProvider) -> Res<ProviderConfig> {
        let key = |k: &str| format!("providers.{name}.{k}");
        let kind_v = raw.kind.as_ref().ok_or_else(|| {
            self.err(
                Some(at),
                &key("kind"),
                "missing: set kind = \"dapi\", \"oauth2\" or \"oidc\"",
            )
        })?;
        let kind = self.string(kind_v, &key("kind"))?;
        self.check_kind_keys(name, &kind, raw)?;
        let common = self.common(&format!("providers.{name}"), raw)?;
        let family = match kind.as_str() {
            "dapi" => Family::Dapi(DapiConfig {
                base_url: self.url(
                    self.need(raw.base_url.as_ref(), at, &key("base_url"))?,
                    &key("base_url"),
                )?,
                app_secret: self.secret(
                    self.need(raw.app_secret.as_ref(), at, &key("app_secret"))?,
                    &key("app_secret"),
                )?,
                access_code_ttl: self
                    .opt(raw.access_code_ttl.as_ref(), |v| {
                        self.duration(v, &key("access_code_ttl"))
                    })?
                    .unwrap_or(Duration::from_secs(1800)),
            }),
            "oauth2" => Family::OAuth2(Box::new(OAuth2Config {
                authorize_url: self.opt(raw.authorize_url.as_ref(), |v| {
                    self.url(v, &key("authorize_url"))
                })?,
                token_url: self.url(
                    self.need(raw.token_url.as_ref(), at, &key("token_url"))?,
                    &key("token_url"),
                )?,
                revocation_url: self.opt(raw.revocation_url.as_ref(), |v| {
                    self.url(v, &key("revocation_url"))
                })?,
                client: self.client(name, at, raw)?,
            })),
            "oidc" => self.oidc(name, at, raw)?,
            other => {
                return Err(self.err(
                    Self::at(kind_v),
                    &key("kind"),
                    format!("unknown kind '{other}': use \"dapi\", \"oauth2\" or \"oidc\""),
                ));
            }
        };
        Ok(ProviderConfig {
            name: name.to_string(),
            common,
            family,
        })
    }

    fn oidc(&self, name: &str, at: usize, raw: &RawProvider) -> Res<Family> {
        let key = |k: &str| format!("providers.{name}.{k}");
        let cfg = OidcConfig {
            issuer: self.opt(raw.issuer.as_ref(), |v| self.url(v, &key("issuer")))?,
            authorize_url: self.opt(raw.authorize_url.as_ref(), |v| {
                self.url(v, &key("authorize_url"))
            })?,
            token_url: self.opt(raw.token_url.as_ref(), |v| self.url(v, &key("token_url")))?,
            logout_url: self.opt(raw.logout_url.as_ref(), |v| self.url(v, &key("logout_url")))?,
            revocation_url: self.opt(raw.revocation_url.as_ref(), |v| {
                self.url(v, &key("revocation_url"))
            })?,
            userinfo_url: self.opt(raw.userinfo_url.as_ref(), |v| {
                self.url(v, &key("userinfo_url"))
            })?,
            client: self.client(name, at, raw)?,
        };
        if cfg.issuer.is_none() && cfg.token_url.is_none() {
            return Err(self.err(
                Some(at),
                &key("issuer"),
                "missing: set issuer (for discovery) or token_url and the other endpoints",
            ));
        }
        Ok(Family::Oidc(Box::new(cfg)))
    }

    fn client(&self, name: &str, at: usize, raw: &RawProvider) -> Res<Client> {
        let key = |k: &str| format!("providers.{name}.{k}");
        let auth = match raw.client_auth.as_ref() {
            None => ClientAuth::Basic,
            Some(v) => match self.string(v, &key("client_auth"))?.as_str() {
                "basic" | "client_secret_basic" => ClientAuth::Basic,
                "post" | "client_secret_post" => ClientAuth::Post,
                _ => {
                    return Err(self.err(
                        Self::at(v),
                        &key("client_auth"),
                        "expected \"basic\" or \"post\"",
                    ));
                }
            },
        };
        Ok(Client {
            id: self.string(
                self.need(raw.client_id.as_ref(), at, &key("client_id"))?,
                &key("client_id"),
            )?,
            secret: self.opt(raw.client_secret.as_ref(), |v| {
                self.secret(v, &key("client_secret"))
            })?,
            auth,
            scopes: self
                .opt(raw.scopes.as_ref(), |v| self.scopes(v, &key("scopes")))?
                .unwrap_or_default(),
            redirect_port: self
                .opt(raw.redirect_port.as_ref(), |v| {
                    self.int(v, &key("redirect_port"), 1, 65535)
                })?
                .and_then(|p| u16::try_from(p).ok()),
        })
    }

    /// The settings every provider has, from the table named `table`
    /// (`providers.bank`, or `defaults` for the table they all inherit).
    pub(super) fn common(&self, table: &str, raw: &RawProvider) -> Res<Common> {
        let key = |k: &str| format!("{table}.{k}");
        let secs = |v: Option<&Spanned<toml::Value>>, k: &str, d: u64| -> Res<Duration> {
            Ok(self
                .opt(v, |v| self.duration(v, &key(k)))?
                .unwrap_or(Duration::from_secs(d)))
        };
        Ok(Common {
            ca_file: self.opt(raw.ca_file.as_ref(), |v| {
                self.string(v, &key("ca_file")).map(PathBuf::from)
            })?,
            timeout: secs(raw.timeout.as_ref(), "timeout", 15)?,
            connect_timeout: secs(raw.connect_timeout.as_ref(), "connect_timeout", 5)?,
            auto_refresh: self
                .opt(raw.auto_refresh.as_ref(), |v| {
                    self.bool(v, &key("auto_refresh"))
                })?
                .unwrap_or(false),
            refresh_margin: self.opt(raw.refresh_margin.as_ref(), |v| {
                self.duration(v, &key("refresh_margin"))
            })?,
            max_in_flight: self
                .opt(raw.max_in_flight.as_ref(), |v| {
                    self.int(v, &key("max_in_flight"), 1, 4096)
                })?
                .map_or(8, |n| n.unsigned_abs() as usize),
            auto_exchange: self
                .opt(raw.auto_exchange.as_ref(), |v| {
                    self.bool(v, &key("auto_exchange"))
                })?
                .unwrap_or(false),
        })
    }

    /// Keys that belong to another kind are refused: a typo'd or misplaced key
    /// silently ignored is how a production config goes wrong.
    fn check_kind_keys(&self, name: &str, kind: &str, raw: &RawProvider) -> Res<()> {
        let foreign: &[(&str, &V)] = match kind {
            "dapi" => &[
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
            "oauth2" => &[
                ("base_url", &raw.base_url),
                ("app_secret", &raw.app_secret),
                ("issuer", &raw.issuer),
                ("logout_url", &raw.logout_url),
                ("userinfo_url", &raw.userinfo_url),
            ],
            "oidc" => &[("base_url", &raw.base_url), ("app_secret", &raw.app_secret)],
            _ => &[],
        };
        for (k, v) in foreign {
            if let Some(v) = v {
                return Err(self.err(
                    Self::at(v),
                    &format!("providers.{name}.{k}"),
                    format!("does not apply to kind \"{kind}\""),
                ));
            }
        }
        Ok(())
    }

    fn need<'v>(
        &self,
        v: Option<&'v Spanned<toml::Value>>,
        at: usize,
        key: &str,
    ) -> Res<&'v Spanned<toml::Value>> {
        v.ok_or_else(|| self.err(Some(at), key, "missing"))
    }

    fn opt<T>(
        &self,
        v: Option<&Spanned<toml::Value>>,
        f: impl FnOnce(&Spanned<toml::Value>) -> Res<T>,
    ) -> Res<Option<T>> {
        v.map(f).transpose()
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
