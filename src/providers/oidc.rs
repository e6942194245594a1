//! The OpenID Connect family (seed 004, Keycloak style): discovery, the
//! OAuth grants, the id token's claims checked, and logout.
//!
//! Discovery runs once, on first use, and is cached for the life of the
//! provider (a failure is not cached, so the next operation tries again).
//! Logout picks, in order: an explicit `logout_url` (Keycloak-style POST
//! with the refresh token), an explicit `revocation_url` (RFC 7009), a
//! discovered `end_session_endpoint` that is Keycloak's (it alone also takes
//! that back-channel POST; elsewhere, as at oidc-provider's `/session/end`,
//! it is a browser page that would answer 200 and end nothing), the
//! discovered `revocation_endpoint`; with none of them it answers `NotAllowed`.

use futures::FutureExt;
use futures::future::BoxFuture;
use tokio::sync::OnceCell;
use url::Url;

use super::discovery::{Endpoints, discover, explicit};
use super::oauth_client::{AuthExtras, OAuthClient};
use super::token::shown;
use super::{AuthRequest, Provider, RefreshFailed, TokenGrant};
use crate::config::OidcConfig;
use crate::domain::{Claims, ErrorKind, OpError, ProviderKind, Secret, UnixTime};

#[derive(Debug)]
pub struct OidcProvider {
    core: OAuthClient,
    cfg: OidcConfig,
    endpoints: OnceCell<Endpoints>,
    /// The configured scopes with `openid` first: without it the server is
    /// not speaking OpenID Connect. Client credentials leave out `openid`
    /// and `offline_access`, which mean nothing without a user.
    login_scopes: Vec<String>,
}

impl OidcProvider {
    pub fn new(core: OAuthClient, cfg: OidcConfig) -> Self {
        let mut login_scopes = core.client.scopes.clone();
        if !login_scopes.iter().any(|s| s == "openid") {
            login_scopes.insert(0, "openid".to_owned());
        }
        Self {
            core,
            cfg,
            endpoints: OnceCell::new(),
            login_scopes,
        }
    }

    async fn endpoints(&self) -> Result<&Endpoints, OpError> {
        self.endpoints
            .get_or_try_init(|| async {
                match &self.cfg.issuer {
                    Some(issuer) => {
                        (discover(&self.core.http, &self.cfg, issuer).await).map_err(nothing_sent)
                    }
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
            let fix = match self.cfg.issuer {
                Some(_) => "the issuer's discovery document names none: set authorize_url",
                None => "set authorize_url or an issuer",
            };
            OpError::new(
                ErrorKind::Config,
                format!("{}: no authorization endpoint: {fix}", self.core.provider),
            )
        })?;
        let extras = AuthExtras {
            nonce: true,
            issuer: ep.issuer.clone().filter(|_| ep.iss_in_callback),
            scopes: self.login_scopes.clone(),
        };
        self.core
            .authorization_request(authorize, redirect_uri, extras)
    }

    async fn redeem(&self, request: &AuthRequest, code: &str) -> Result<TokenGrant, OpError> {
        let url = self.token_url().await?;
        let grant = self
            .core
            .redeem(&url, request, code, &self.login_scopes)
            .await?;
        let id_token = grant.id_token.as_ref().ok_or_else(|| {
            OpError::new(
                ErrorKind::Protocol,
                "the token response has no id_token although the login asked for openid",
            )
        })?;
        let rules = self.id_token_rules(request.nonce.as_ref()).await?;
        check_id_token(id_token, rules, UnixTime::now())?;
        Ok(grant)
    }

    async fn id_token_rules<'a>(
        &'a self,
        nonce: Option<&'a Secret>,
    ) -> Result<IdTokenRules<'a>, OpError> {
        Ok(IdTokenRules {
            issuer: self.endpoints().await?.issuer.as_deref(),
            client_id: &self.core.client.id,
            nonce,
        })
    }

    /// A refresh whose answer carries an id token must name the same
    /// issuer and client as the login's (Core §12.2); the worker holds the
    /// account it must name.
    async fn renew(&self, refresh_token: &Secret) -> Result<TokenGrant, RefreshFailed> {
        let url = self.token_url().await?;
        let grant = self.core.refresh(&url, refresh_token).await?;
        if let Some(id_token) = &grant.id_token {
            let rules = self.id_token_rules(None).await?;
            check_id_token(id_token, rules, UnixTime::now()).map_err(|error| RefreshFailed {
                error,
                rotated: grant.refresh_token.clone(),
            })?;
        }
        Ok(grant)
    }

    /// An access token has no Keycloak logout: only RFC 7009 revokes one.
    async fn revoke_access_token(&self, access_token: &Secret) -> Result<(), OpError> {
        let ep = self.endpoints().await?;
        match ep.revocation.as_ref().or(ep.discovered_revocation.as_ref()) {
            Some(url) => self.core.revoke(url, access_token, "access_token").await,
            None => Err(super::no_revocation(
                &self.core.provider,
                "no revocation_url, and discovery names no revocation_endpoint",
            )),
        }
    }

    async fn end(&self, refresh_token: &Secret) -> Result<(), OpError> {
        let ep = self.endpoints().await?;
        if let Some(url) = &ep.logout {
            return self.core.keycloak_logout(url, refresh_token).await;
        }
        if let Some(url) = &ep.revocation {
            return self.core.revoke(url, refresh_token, "refresh_token").await;
        }
        if let Some(url) = ep.end_session.as_ref().filter(|u| is_keycloak_logout(u)) {
            return self.core.keycloak_logout(url, refresh_token).await;
        }
        if let Some(url) = &ep.discovered_revocation {
            return self.core.revoke(url, refresh_token, "refresh_token").await;
        }
        // Said, or the endpoint the document names reads as overlooked.
        let browser = match &ep.end_session {
            Some(url) => format!(
                " (its end_session_endpoint, {url}, is a browser's logout, which a refresh \
                 token cannot end; set logout_url or revocation_url if it has one that can)"
            ),
            None => String::new(),
        };
        Err(OpError::not_allowed(format!(
            "{} offers neither a logout nor a revocation endpoint{browser}: the refresh token \
             stays valid until it expires",
            self.core.provider
        )))
    }
}

/// Keycloak's `…/protocol/openid-connect/logout`, which accepts a refresh
/// token from the client as well as a browser.
fn is_keycloak_logout(url: &Url) -> bool {
    url.path().ends_with("/protocol/openid-connect/logout")
}

/// How far past its `exp` an id token is still taken: the provider's clock
/// and this machine's are never quite the same.
pub const CLOCK_LEEWAY_SECS: i64 = 120;

/// What an id token must say to be this provider's answer to this client:
/// OpenID Connect Core §3.1.3.7 for a login, §12.2 for a refresh (which
/// carries no nonce of ours). Its signature is not checked: it came
/// straight from the token endpoint, which §3.1.3.7 allows to stand in
/// for it. Its claims are, since the account a login files its tokens
/// under is the `sub` in it.
#[derive(Debug, Clone, Copy)]
pub struct IdTokenRules<'a> {
    /// The issuer as discovery gave it; `None` with no issuer configured.
    pub issuer: Option<&'a str>,
    pub client_id: &'a str,
    pub nonce: Option<&'a Secret>,
}

pub fn check_id_token(
    id_token: &Secret,
    rules: IdTokenRules<'_>,
    now: UnixTime,
) -> Result<(), OpError> {
    let refused = |why: String| {
        OpError::new(
            ErrorKind::Protocol,
            format!("the id_token {why}: its tokens were not used"),
        )
    };
    let claims =
        Claims::decode(id_token.expose()).map_err(|e| refused(format!("cannot be read ({e})")))?;
    if let Some(issuer) = rules.issuer {
        match claims.str("iss") {
            Some(iss) if iss == issuer => {}
            Some(iss) => {
                return Err(refused(format!(
                    "was issued by \"{}\", not by this provider's issuer \"{issuer}\" (a mix-up)",
                    shown(iss)
                )));
            }
            None => return Err(refused("names no issuer (iss)".into())),
        }
    }
    let audience = audience(&claims);
    if !audience.iter().any(|a| a == rules.client_id) {
        let said = match audience.as_slice() {
            [] => "names no audience (aud)".to_owned(),
            _ => format!(
                "is for another client (aud \"{}\"), not client_id \"{}\"",
                shown(&audience.join(" ")),
                rules.client_id
            ),
        };
        return Err(refused(said));
    }
    if let Some(azp) = claims.str("azp").filter(|azp| *azp != rules.client_id) {
        return Err(refused(format!(
            "was issued to another client (azp \"{}\"), not client_id \"{}\"",
            shown(azp),
            rules.client_id
        )));
    }
    match claims.exp() {
        None => return Err(refused("has no expiry (exp)".into())),
        Some(exp) if now.0 > exp.0.saturating_add(CLOCK_LEEWAY_SECS) => {
            return Err(refused(format!(
                "expired {} ago: if the provider just issued it, check this machine's clock",
                crate::domain::time::format_ago(now.0 - exp.0)
            )));
        }
        Some(_) => {}
    }
    let Some(sub) = claims.str("sub").filter(|s| !s.trim().is_empty()) else {
        return Err(refused("names no account (sub)".into()));
    };
    // OpenID Connect Core §2: at most 255 ASCII characters. One with a
    // control character would be shown, filtered and copied as an id.
    if sub.len() > 255 || !sub.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
        return Err(refused(
            "names its account (sub) with more than 255 characters or with ones that are not \
             printable ASCII"
                .into(),
        ));
    }
    let Some(expected) = rules.nonce else {
        return Ok(());
    };
    match claims.str("nonce") {
        Some(n) if n == expected.expose() => Ok(()),
        Some(_) => Err(refused(
            "nonce does not match this login (a replayed or mixed-up answer); log in again".into(),
        )),
        None => Err(refused(
            "carries no nonce although the login sent one; log in again".into(),
        )),
    }
}

/// `aud`: one client id, or several.
fn audience(claims: &Claims) -> Vec<String> {
    match claims.payload.get("aud") {
        Some(serde_json::Value::String(a)) => vec![a.clone()],
        Some(serde_json::Value::Array(all)) => all
            .iter()
            .filter_map(|a| a.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
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
    ) -> BoxFuture<'a, Result<TokenGrant, RefreshFailed>> {
        self.renew(refresh_token).boxed()
    }

    fn client_credentials(&self) -> BoxFuture<'_, Result<TokenGrant, OpError>> {
        async move {
            let url = self.token_url().await?;
            // `openid` and `offline_access` mean nothing without a user.
            let scopes: Vec<String> = (self.core.client.scopes.iter())
                .filter(|s| !matches!(s.as_str(), "openid" | "offline_access"))
                .cloned()
                .collect();
            self.core.client_credentials(&url, &scopes).await
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

    fn revoke_access<'a>(&'a self, access_token: &'a Secret) -> BoxFuture<'a, Result<(), OpError>> {
        self.revoke_access_token(access_token).boxed()
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

/// A discovery read that went unanswered acted on nothing: a refresh or a
/// code waits behind it, unsent. Told as a network failure, not as one that
/// may have spent the refresh token.
fn nothing_sent(mut e: OpError) -> OpError {
    if e.may_have_acted() {
        e.kind = ErrorKind::Network;
        e.message = format!(
            "{} (reading the discovery document: nothing else was sent)",
            e.message
        );
    }
    e
}
