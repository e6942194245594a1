//! The OpenID Connect family (seed 004, Keycloak style): discovery, the
//! OAuth grants, a nonce checked against the id token, and logout.
//!
//! Discovery runs once, on first use, and is cached for the life of the
//! provider (a failure is not cached, so the next operation tries again).
//! Logout picks, in order: an explicit `logout_url` (Keycloak-style POST
//! with the refresh token), an explicit `revocation_url` (RFC 7009), the
//! discovered `end_session_endpoint` (Keycloak's logout) if it takes the
//! back-channel POST (a standard one is for browsers only: oidc-provider
//! answers 404), the discovered `revocation_endpoint`; with none of them it
//! answers `NotAllowed`.

use futures::FutureExt;
use futures::future::BoxFuture;
use tokio::sync::OnceCell;
use url::Url;

use super::discovery::{Endpoints, discover, explicit};
use super::oauth_client::{AuthExtras, OAuthClient};
use super::{AuthRequest, Provider, TokenGrant};
use crate::config::OidcConfig;
use crate::domain::{Claims, ErrorKind, OpError, ProviderKind, Secret};

#[derive(Debug)]
pub struct OidcProvider {
    core: OAuthClient,
    cfg: OidcConfig,
    endpoints: OnceCell<Endpoints>,
}

impl OidcProvider {
    /// `core.client.scopes` gets `openid` first if the config left it out:
    /// without it the server is not speaking OpenID Connect at all.
    pub fn new(mut core: OAuthClient, cfg: OidcConfig) -> Self {
        if !core.client.scopes.iter().any(|s| s == "openid") {
            core.client.scopes.insert(0, "openid".to_owned());
        }
        Self {
            core,
            cfg,
            endpoints: OnceCell::new(),
        }
    }

    async fn endpoints(&self) -> Result<&Endpoints, OpError> {
        self.endpoints
            .get_or_try_init(|| async {
                match &self.cfg.issuer {
                    Some(issuer) => discover(&self.core.http, &self.cfg, issuer).await,
                    None => Ok(explicit(&self.cfg)),
                }
            })
            .await
    }

    async fn token_url(&self) -> Result<Url, OpError> {
        self.endpoints().await?.token.clone().ok_or_else(|| {
            OpError::new(
                ErrorKind::Config,
                format!(
                    "{}: no token endpoint: set token_url or an issuer whose discovery names one",
                    self.core.provider
                ),
            )
        })
    }

    async fn start(&self, redirect_uri: &str) -> Result<AuthRequest, OpError> {
        let ep = self.endpoints().await?;
        let authorize = ep.authorize.as_ref().ok_or_else(|| {
            OpError::new(
                ErrorKind::Config,
                format!(
                    "{}: no authorization endpoint: set authorize_url or an issuer",
                    self.core.provider
                ),
            )
        })?;
        let extras = AuthExtras {
            nonce: true,
            issuer: ep.issuer.clone().filter(|_| ep.iss_in_callback),
            scopes: self.core.client.scopes.clone(),
            prompt_consent: self
                .core
                .client
                .scopes
                .iter()
                .any(|s| s == "offline_access"),
        };
        self.core
            .authorization_request(authorize, redirect_uri, extras)
    }

    async fn redeem(&self, request: &AuthRequest, code: &str) -> Result<TokenGrant, OpError> {
        let url = self.token_url().await?;
        let grant = self
            .core
            .redeem(&url, request, code, &self.core.client.scopes)
            .await?;
        check_nonce(&grant, request)?;
        Ok(grant)
    }

    async fn end(&self, refresh_token: &Secret) -> Result<(), OpError> {
        let ep = self.endpoints().await?;
        if let Some(url) = &ep.logout {
            return self.core.keycloak_logout(url, refresh_token).await;
        }
        if let Some(url) = &ep.revocation {
            return self.core.revoke(url, refresh_token).await;
        }
        if let Some(url) = &ep.end_session
            && self.core.try_keycloak_logout(url, refresh_token).await?
        {
            return Ok(());
        }
        if let Some(url) = &ep.discovered_revocation {
            return self.core.revoke(url, refresh_token).await;
        }
        Err(OpError::not_allowed(format!(
            "{} offers neither a logout nor a revocation endpoint: the refresh token stays \
             valid until it expires",
            self.core.provider
        )))
    }
}

/// The id token must carry the nonce this login sent: otherwise it may be
/// a replayed or mixed-up answer. Its claims are read, not verified; the
/// nonce only ties the answer to our request.
pub fn check_nonce(grant: &TokenGrant, request: &AuthRequest) -> Result<(), OpError> {
    let Some(expected) = &request.nonce else {
        return Ok(());
    };
    let protocol = |m: String| OpError::new(ErrorKind::Protocol, m);
    let id_token = grant.id_token.as_ref().ok_or_else(|| {
        protocol("the token response has no id_token although the login asked for openid".into())
    })?;
    let claims = Claims::decode(id_token.expose())
        .map_err(|e| protocol(format!("the id_token cannot be read: {e}")))?;
    match claims.str("nonce") {
        Some(n) if n == expected.expose() => Ok(()),
        Some(_) => Err(protocol(
            "the id_token nonce does not match this login (a replayed or mixed-up answer): \
             log in again"
                .into(),
        )),
        None => Err(protocol(
            "the id_token carries no nonce although the login sent one: log in again".into(),
        )),
    }
}

impl Provider for OidcProvider {
    fn name(&self) -> &str {
        &self.core.provider
    }

    fn kind(&self) -> ProviderKind {
        ProviderKind::Oidc
    }

    fn exchange<'a>(
        &'a self,
        _access_code: &'a Secret,
        _connection_id: &'a str,
    ) -> BoxFuture<'a, Result<TokenGrant, OpError>> {
        let msg = "access codes are exchanged only with Dapi: an OpenID Connect connection \
                   starts with a browser login";
        futures::future::ready(Err(OpError::not_allowed(msg))).boxed()
    }

    fn refresh<'a>(
        &'a self,
        refresh_token: &'a Secret,
    ) -> BoxFuture<'a, Result<TokenGrant, OpError>> {
        async move {
            let url = self.token_url().await?;
            self.core.refresh(&url, refresh_token).await
        }
        .boxed()
    }

    fn client_credentials(&self) -> BoxFuture<'_, Result<TokenGrant, OpError>> {
        async move {
            let url = self.token_url().await?;
            self.core.client_credentials(&url).await
        }
        .boxed()
    }

    fn authorization_request<'a>(
        &'a self,
        redirect_uri: &'a str,
    ) -> BoxFuture<'a, Result<AuthRequest, OpError>> {
        self.start(redirect_uri).boxed()
    }

    fn redeem_code<'a>(
        &'a self,
        request: &'a AuthRequest,
        code: &'a str,
    ) -> BoxFuture<'a, Result<TokenGrant, OpError>> {
        self.redeem(request, code).boxed()
    }

    fn logout<'a>(&'a self, refresh_token: &'a Secret) -> BoxFuture<'a, Result<(), OpError>> {
        self.end(refresh_token).boxed()
    }

    fn delink<'a>(
        &'a self,
        _access_token: &'a Secret,
        _user_secret: &'a Secret,
    ) -> BoxFuture<'a, Result<(), OpError>> {
        let msg = "delink is a Dapi operation: end an OpenID Connect session with logout";
        futures::future::ready(Err(OpError::not_allowed(msg))).boxed()
    }
}
