//! The plain OAuth 2.0 family (seed 003): client credentials, authorization
//! code with PKCE, refresh, and RFC 7009 revocation where the bank offers it.
//!
//! Everything protocol-shaped lives in `oauth_client`, shared with OIDC; this
//! module only says which configured endpoint each operation uses, and which
//! operations this family does not have.

use futures::FutureExt;
use futures::future::BoxFuture;

use super::oauth_client::{AuthExtras, OAuthClient};
use super::{AuthRequest, Provider, RefreshFailed, TokenGrant};
use crate::config::OAuth2Config;
use crate::domain::{ErrorKind, OpError, ProviderKind, Secret};

#[derive(Debug)]
pub struct OAuth2Provider {
    core: OAuthClient,
    cfg: OAuth2Config,
}

impl OAuth2Provider {
    pub fn new(core: OAuthClient, cfg: OAuth2Config) -> Self {
        Self { core, cfg }
    }
}

impl Provider for OAuth2Provider {
    fn name(&self) -> &str {
        &self.core.provider
    }

    fn kind(&self) -> ProviderKind {
        ProviderKind::OAuth2
    }

    fn exchange<'a>(
        &'a self,
        _access_code: &'a Secret,
        _connection_id: &'a str,
    ) -> BoxFuture<'a, Result<TokenGrant, OpError>> {
        let msg = "access codes are exchanged only with Dapi: an OAuth 2.0 connection starts \
                   with a browser login or the client credentials grant";
        futures::future::ready(Err(OpError::not_allowed(msg))).boxed()
    }

    fn refresh<'a>(
        &'a self,
        refresh_token: &'a Secret,
    ) -> BoxFuture<'a, Result<TokenGrant, RefreshFailed>> {
        self.core
            .refresh(&self.cfg.token_url, refresh_token)
            .boxed()
    }

    fn client_credentials(&self) -> BoxFuture<'_, Result<TokenGrant, OpError>> {
        self.core
            .client_credentials(&self.cfg.token_url, &self.core.client.scopes)
            .boxed()
    }

    fn authorization_request<'a>(
        &'a self,
        redirect_uri: &'a str,
    ) -> BoxFuture<'a, Result<AuthRequest, OpError>> {
        let result = match &self.cfg.authorize_url {
            Some(url) => self.core.authorization_request(
                url,
                redirect_uri,
                AuthExtras {
                    scopes: self.core.client.scopes.clone(),
                    ..AuthExtras::default()
                },
            ),
            None => Err(OpError::new(
                ErrorKind::Config,
                format!(
                    "{}: no authorize_url is configured, so a browser login cannot start; \
                     set authorize_url or use the client credentials grant",
                    self.core.provider
                ),
            )),
        };
        futures::future::ready(result).boxed()
    }

    fn redeem_code<'a>(
        &'a self,
        request: &'a AuthRequest,
        code: &'a str,
    ) -> BoxFuture<'a, Result<TokenGrant, OpError>> {
        let scopes = &self.core.client.scopes;
        self.core
            .redeem(&self.cfg.token_url, request, code, scopes)
            .boxed()
    }

    /// Revokes the refresh token (RFC 7009) at `revocation_url`. Without one
    /// the answer is `NotAllowed`: the bank offers no revocation, and
    /// pretending otherwise would let an operator believe a live token is dead.
    fn logout<'a>(&'a self, refresh_token: &'a Secret) -> BoxFuture<'a, Result<(), OpError>> {
        match &self.cfg.revocation_url {
            Some(url) => self
                .core
                .revoke(url, refresh_token, "refresh_token")
                .boxed(),
            None => {
                let mut e = super::no_revocation(&self.core.provider, "no revocation_url");
                e.message
                    .push_str(": the refresh token stays valid until it expires");
                futures::future::ready(Err(e)).boxed()
            }
        }
    }

    fn revoke_access<'a>(&'a self, access_token: &'a Secret) -> BoxFuture<'a, Result<(), OpError>> {
        match &self.cfg.revocation_url {
            Some(url) => self.core.revoke(url, access_token, "access_token").boxed(),
            None => futures::future::ready(Err(super::no_revocation(
                &self.core.provider,
                "no revocation_url",
            )))
            .boxed(),
        }
    }

    fn delink<'a>(
        &'a self,
        _access_token: &'a Secret,
        _user_secret: &'a Secret,
    ) -> BoxFuture<'a, Result<(), OpError>> {
        let msg = "delink is a Dapi operation: end an OAuth 2.0 connection with logout";
        futures::future::ready(Err(OpError::not_allowed(msg))).boxed()
    }
}
