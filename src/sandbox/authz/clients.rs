//! OAuth clients the sandbox knows, and client authentication at its
//! token, revoke and logout endpoints.
//!
//! Both `client_secret_basic` and `client_secret_post` are accepted (one at a
//! time, as RFC 6749 §2.3 requires); a public client (no secret) identifies
//! itself with `client_id` alone and must use PKCE, which the sandbox always
//! requires anyway. The demo constants below are fake, sandbox-only values.

use axum::http::{HeaderMap, header};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::error::OAuthError;
use super::form::Form;

/// The confidential demo client, known to both the OAuth 2.0 server and the
/// OIDC realm. Allowed grants: authorization_code, refresh_token, client_credentials.
pub const DEMO_CLIENT_ID: &str = "bankdeck-demo";
/// [`DEMO_CLIENT_ID`]'s secret (sandbox-only, safe to print).
pub const DEMO_CLIENT_SECRET: &str = "sandbox-client-secret";
/// A public client (no secret): authorization_code with PKCE and refresh_token only.
pub const DEMO_PUBLIC_CLIENT_ID: &str = "bankdeck-public";
/// The user the authorize endpoints auto-consent when no `login_hint` is given
/// (`login_hint=deny` refuses consent instead).
pub const DEMO_USER: &str = "sandbox-user";

/// One registered OAuth client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    pub client_id: String,
    /// `None` makes a public client.
    pub client_secret: Option<String>,
    /// Scopes the client may ask for; anything else is `invalid_scope`.
    pub scopes: Vec<String>,
    /// Granted when a request names no scope.
    pub default_scopes: Vec<String>,
    /// Grant types the client may use; others are `unauthorized_client`.
    pub grant_types: Vec<String>,
    /// Redirect URIs accepted besides any loopback `http` URL.
    pub redirect_uris: Vec<String>,
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

impl ClientConfig {
    fn demo_pair(scopes: &[&str], defaults: &[&str]) -> Vec<Self> {
        let confidential = Self {
            client_id: DEMO_CLIENT_ID.to_owned(),
            client_secret: Some(DEMO_CLIENT_SECRET.to_owned()),
            scopes: strings(scopes),
            default_scopes: strings(defaults),
            grant_types: strings(&["authorization_code", "refresh_token", "client_credentials"]),
            redirect_uris: Vec::new(),
        };
        let public = Self {
            client_id: DEMO_PUBLIC_CLIENT_ID.to_owned(),
            client_secret: None,
            grant_types: strings(&["authorization_code", "refresh_token"]),
            ..confidential.clone()
        };
        vec![confidential, public]
    }

    /// The bank's OAuth 2.0 clients: scopes `accounts balances transactions payments`.
    pub fn oauth2_defaults() -> Vec<Self> {
        Self::demo_pair(
            &["accounts", "balances", "transactions", "payments"],
            &["accounts"],
        )
    }

    /// The OIDC realm's clients: scopes `openid profile email offline_access accounts payments`.
    pub fn oidc_defaults() -> Vec<Self> {
        Self::demo_pair(
            &[
                "openid",
                "profile",
                "email",
                "offline_access",
                "accounts",
                "payments",
            ],
            &["openid", "profile", "email"],
        )
    }

    pub(crate) fn allows_grant(&self, grant: &str) -> bool {
        self.grant_types.iter().any(|g| g == grant)
    }
}

/// `application/x-www-form-urlencoded` decoding of one Basic credential half.
fn form_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("v={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn basic_credentials(headers: &HeaderMap) -> Option<Result<(String, String), OAuthError>> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok());
    Some(match decoded.as_deref().and_then(|d| d.split_once(':')) {
        Some((id, secret)) => Ok((form_decode(id), form_decode(secret))),
        None => Err(OAuthError::invalid_client(
            "Malformed Basic credentials",
            true,
        )),
    })
}

/// Identifies and authenticates the calling client.
pub(crate) fn authenticate<'a>(
    clients: &'a [ClientConfig],
    headers: &HeaderMap,
    form: &Form,
) -> Result<&'a ClientConfig, OAuthError> {
    let basic = basic_credentials(headers).transpose()?;
    let (id, secret, via_basic) = match (basic, form.get("client_secret")) {
        (Some(_), Some(_)) => {
            return Err(OAuthError::invalid_request(
                "More than one client authentication method used",
            ));
        }
        (Some((id, secret)), None) => {
            if form.get("client_id").is_some_and(|f| f != id) {
                return Err(OAuthError::invalid_client("client_id does not match", true));
            }
            (Some(id), Some(secret), true)
        }
        (None, secret) => (
            form.get("client_id").map(str::to_owned),
            secret.map(str::to_owned),
            false,
        ),
    };
    let Some(id) = id else {
        return Err(OAuthError::invalid_client(
            "Client authentication required",
            false,
        ));
    };
    let client = clients.iter().find(|c| c.client_id == id);
    match client {
        Some(c) if c.client_secret == secret => Ok(c),
        _ => Err(OAuthError::invalid_client(
            "Invalid client or Invalid client credentials",
            via_basic,
        )),
    }
}
