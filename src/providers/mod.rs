//! Provider clients: one trait, one module per family.
//!
//! The worker talks to every family through [`Provider`]; an operation a
//! family does not have (refresh for Dapi, delink for OAuth) answers
//! `NotAllowed` with a sentence saying why, so the front ends need no
//! per-family knowledge. Every request goes through the hardened client in
//! `http` (deadlines, size cap, no credentials across hosts, safe retries).

use std::sync::Arc;

use futures::future::BoxFuture;

use crate::config::{Family, KeptSecret, ProviderConfig};
use crate::domain::{OpError, ProviderKind, Scopes, Secret};

mod callback;
pub mod dapi;
pub mod dapi_error;
pub mod discovery;
pub mod http;
mod http_error;
pub mod login;
pub mod oauth2;
pub mod oauth_client;
pub mod oauth_error;
pub mod oidc;
pub mod retry;
pub mod scrub;
pub mod token;

pub use http::{Http, MAX_BODY, Reply};
pub use login::{Callback, LoginOptions, browser_callback, browser_login};

/// Builds the provider a config section describes, with its own HTTP client
/// (reused for all its requests). Secrets are not read here but at each use,
/// so a missing one fails the operation with a `Config` error naming it.
pub fn build(cfg: &ProviderConfig) -> Result<Arc<dyn Provider>, OpError> {
    let http = Http::new(&cfg.common)?;
    let name = cfg.name.clone();
    Ok(match &cfg.family {
        Family::Dapi(d) => Arc::new(dapi::DapiProvider::new(name, http, d.clone())),
        Family::OAuth2(o) => {
            let core = oauth_client::OAuthClient {
                provider: name,
                http,
                client: o.client.clone(),
                secret: KeptSecret::default(),
            };
            Arc::new(self::oauth2::OAuth2Provider::new(core, (**o).clone()))
        }
        Family::Oidc(o) => {
            let core = oauth_client::OAuthClient {
                provider: name,
                http,
                client: o.client.clone(),
                secret: KeptSecret::default(),
            };
            Arc::new(oidc::OidcProvider::new(core, (**o).clone()))
        }
    })
}

/// What a token endpoint (or Dapi's ExchangeToken) gave us, checked.
#[derive(Debug, Clone)]
pub struct TokenGrant {
    pub access_token: Secret,
    pub expiry: GrantExpiry,
    /// `None` when the response carried none (or an empty one): the caller
    /// keeps the refresh token it had.
    pub refresh_token: Option<Secret>,
    pub refresh_expires_in: Option<u64>,
    pub id_token: Option<Secret>,
    pub scopes: Scopes,
    /// OIDC `sub` (from the id token) or Dapi `userID`, when known.
    pub subject: Option<String>,
    /// OIDC `session_state`, Dapi `tokenID`.
    pub session: Option<String>,
}

/// A refresh that failed, with the refresh token its answer carried when
/// the answer came and was refused for something else in it (an
/// `expires_in` of 0, an id token for another account): the provider has
/// most likely spent the token it was sent, so the new one is kept, not
/// dropped with the rest of the answer.
#[derive(Debug)]
pub struct RefreshFailed {
    pub error: OpError,
    pub rotated: Option<Secret>,
}

impl From<OpError> for RefreshFailed {
    fn from(error: OpError) -> Self {
        Self {
            error,
            rotated: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantExpiry {
    /// Dapi: no `exp`, valid until delinked.
    Permanent,
    /// Seconds from receipt (`expires_in`), already bounded to something sane.
    InSecs(u64),
    /// Seconds from receipt assumed: the answer said nothing of its
    /// lifetime (no `expires_in`, no `exp` in a JWT access token).
    Assumed(u64),
}

/// A browser authorization in progress: the URL to open and what must come back.
/// `Debug` shows the URL without its query, which carries state and nonce.
#[derive(Clone)]
pub struct AuthRequest {
    pub url: String,
    pub state: Secret,
    pub nonce: Option<Secret>,
    pub pkce_verifier: Secret,
    pub redirect_uri: String,
    /// The issuer the callback's `iss` must equal, when the provider says (RFC 9207).
    pub issuer: Option<String>,
}

impl std::fmt::Debug for AuthRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let url = self.url.split('?').next().unwrap_or_default();
        f.debug_struct("AuthRequest")
            .field("url", &format_args!("{url}?…"))
            .field("redirect_uri", &self.redirect_uri)
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

pub trait Provider: Send + Sync {
    fn name(&self) -> &str;
    fn kind(&self) -> ProviderKind;

    /// Dapi: access code → permanent access token.
    fn exchange<'a>(
        &'a self,
        access_code: &'a Secret,
        connection_id: &'a str,
    ) -> BoxFuture<'a, Result<TokenGrant, OpError>>;

    /// OAuth/OIDC `refresh_token` grant. Never retried: a refresh token may
    /// rotate on the first attempt even if its answer is lost.
    fn refresh<'a>(
        &'a self,
        refresh_token: &'a Secret,
    ) -> BoxFuture<'a, Result<TokenGrant, RefreshFailed>>;

    fn client_credentials(&self) -> BoxFuture<'_, Result<TokenGrant, OpError>>;

    /// Builds the authorization URL (state, nonce for OIDC, PKCE S256) for a
    /// loopback `redirect_uri`.
    fn authorization_request<'a>(
        &'a self,
        redirect_uri: &'a str,
    ) -> BoxFuture<'a, Result<AuthRequest, OpError>>;

    /// Exchanges the code a browser login brought back.
    fn redeem_code<'a>(
        &'a self,
        request: &'a AuthRequest,
        code: &'a str,
    ) -> BoxFuture<'a, Result<TokenGrant, OpError>>;

    /// Ends the session: Keycloak-style logout or RFC 7009 revocation of the
    /// refresh token. The access token is left to expire.
    fn logout<'a>(&'a self, refresh_token: &'a Secret) -> BoxFuture<'a, Result<(), OpError>>;

    /// RFC 7009 revocation of an access token: how an app token
    /// (client credentials), which has no refresh token, is ended at the
    /// provider. Without a revocation endpoint, `NotAllowed`.
    fn revoke_access<'a>(
        &'a self,
        _access_token: &'a Secret,
    ) -> BoxFuture<'a, Result<(), OpError>> {
        Box::pin(futures::future::ready(Err(no_revocation(
            self.name(),
            "none known",
        ))))
    }

    /// Dapi DelinkUser.
    fn delink<'a>(
        &'a self,
        access_token: &'a Secret,
        user_secret: &'a Secret,
    ) -> BoxFuture<'a, Result<(), OpError>>;
}

/// Why an access token cannot be revoked at `provider`, `why` in brackets.
pub(crate) fn no_revocation(provider: &str, why: &str) -> OpError {
    OpError::not_allowed(format!("{provider} offers no token revocation ({why})"))
}
