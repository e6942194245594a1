//! The OAuth 2.0 client both `oauth2` and `oidc` use: client authentication,
//! the three grants, revocation and Keycloak-style logout.
//!
//! The authorization URL (state, PKCE S256, scopes, extra parameters) is
//! built with the `oauth2` crate, which gets the encoding and the verifier
//! right. The token, revocation and logout POSTs are sent by hand through our
//! hardened [`Http`]: the crate refuses revocation over loopback http and
//! parses answers more strictly than operators need (see `token`). No token
//! POST is ever retried: a code or a rotating refresh token may be spent by
//! an attempt whose answer was lost.

use std::borrow::Cow;

use ::oauth2::basic::BasicClient;
use ::oauth2::{AuthUrl, ClientId, CsrfToken, PkceCodeChallenge, RedirectUrl, Scope};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use url::Url;

use super::http::{Http, Reply};
use super::oauth_error::{TokenCall, error_code, error_from_reply};
use super::scrub::Sent;
use super::{AuthRequest, RefreshFailed, TokenGrant};
use crate::config::{Client, ClientAuth, KeptSecret, check_transport};
use crate::domain::{ErrorKind, OpError, Secret, UnixTime};

/// Extra things an authorization request asks for.
#[derive(Debug, Clone, Default)]
pub struct AuthExtras {
    /// OIDC: send a nonce and expect it back in the id token.
    pub nonce: bool,
    /// RFC 9207: the `iss` the callback must carry.
    pub issuer: Option<String>,
    pub scopes: Vec<String>,
}

#[derive(Debug)]
pub struct OAuthClient {
    pub provider: String,
    pub http: Http,
    pub client: Client,
    pub secret: KeptSecret,
}

impl OAuthClient {
    pub async fn client_credentials(
        &self,
        token_url: &Url,
        scopes: &[String],
    ) -> Result<TokenGrant, OpError> {
        let scope = scopes.join(" ");
        let mut form = vec![("grant_type", "client_credentials".to_owned())];
        if !scope.is_empty() {
            form.push(("scope", scope));
        }
        self.token(token_url, form, TokenCall::ClientCredentials, scopes)
            .await
    }

    pub async fn refresh(
        &self,
        token_url: &Url,
        refresh: &Secret,
    ) -> Result<TokenGrant, RefreshFailed> {
        let form = vec![
            ("grant_type", "refresh_token".to_owned()),
            ("refresh_token", refresh.expose().to_owned()),
        ];
        let (reply, sent) = self.post(token_url, form).await?;
        let scopes = &self.client.scopes;
        grant_in(&reply, &sent, TokenCall::Refresh, scopes).map_err(|mut error| {
            let rotated = super::token::rotated_in(&reply);
            // A success the answer of which cannot be read (not JSON, cut
            // short): the provider has acted, and may have rotated the token
            // in what could not be read, as with an answer lost on the way.
            if reply.status.is_success() && rotated.is_none() {
                error.message = format!(
                    "{}; it answered {}, so it may have spent the refresh token the store still \
                     holds: if the next refresh is rejected, the user must consent again",
                    error.message,
                    reply.status.as_u16()
                );
            }
            RefreshFailed { error, rotated }
        })
    }

    pub async fn redeem(
        &self,
        token_url: &Url,
        request: &AuthRequest,
        code: &str,
        requested: &[String],
    ) -> Result<TokenGrant, OpError> {
        let form = vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.to_owned()),
            ("redirect_uri", request.redirect_uri.clone()),
            ("code_verifier", request.pkce_verifier.expose().to_owned()),
        ];
        self.token(token_url, form, TokenCall::Code, requested)
            .await
    }

    /// RFC 7009 revocation of a refresh token, or with `hint` "access_token"
    /// of an access token. Unknown or already invalid tokens are answered
    /// 200 by the server (§2.2): that counts as done.
    pub async fn revoke(&self, url: &Url, token: &Secret, hint: &str) -> Result<(), OpError> {
        let form = vec![
            ("token", token.expose().to_owned()),
            ("token_type_hint", hint.to_owned()),
        ];
        self.end_session(url, form).await
    }

    /// Keycloak's logout endpoint: the client authenticates and names the
    /// refresh token; 204 (or 200) means the session is gone.
    pub async fn keycloak_logout(&self, url: &Url, refresh: &Secret) -> Result<(), OpError> {
        let form = vec![("refresh_token", refresh.expose().to_owned())];
        self.end_session(url, form).await
    }

    async fn end_session(&self, url: &Url, form: Vec<(&str, String)>) -> Result<(), OpError> {
        let (reply, sent) = self.post(url, form).await?;
        let reply = match reply.status.is_success() {
            true => reply,
            false => sent.scrub(&reply),
        };
        if reply.status.is_success() && looks_like_a_page(&reply) {
            return Err(OpError::new(
                ErrorKind::Protocol,
                format!(
                    "{} answered the logout with an HTML page: that is a browser logout, which \
                     ends nothing for us; configure logout_url or revocation_url",
                    reply.host
                ),
            ));
        }
        if reply.status.is_success() {
            return Ok(());
        }
        // A refresh token the server no longer knows has no session left to end.
        if error_code(&reply).as_deref() == Some("invalid_grant") {
            tracing::debug!(provider = %self.provider, "logout: refresh token already invalid");
            return Ok(());
        }
        Err(error_from_reply(&reply, TokenCall::EndSession))
    }

    async fn token(
        &self,
        url: &Url,
        form: Vec<(&str, String)>,
        call: TokenCall,
        requested: &[String],
    ) -> Result<TokenGrant, OpError> {
        let (reply, sent) = self.post(url, form).await?;
        grant_in(&reply, &sent, call, requested)
    }

    /// POSTs a form with the configured client authentication; with the
    /// answer, what was sent, for a failed answer's text to be scrubbed of.
    async fn post<'a>(
        &self,
        url: &Url,
        mut form: Vec<(&'a str, String)>,
    ) -> Result<(Reply, Sending<'a>), OpError> {
        let secret = self.secret()?;
        let basic = match (&secret, self.client.auth) {
            (Some(s), ClientAuth::Basic) => Some(basic_header(&self.client.id, s)),
            (Some(s), ClientAuth::Post) => {
                form.push(("client_id", self.client.id.clone()));
                form.push(("client_secret", s.expose().to_owned()));
                None
            }
            (None, _) => {
                form.push(("client_id", self.client.id.clone()));
                None
            }
        };
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let reply = self.http.post_form(url, &pairs, basic.as_ref()).await?;
        let sending = Sending {
            form,
            secret,
            basic,
        };
        Ok((reply, sending))
    }

    /// Resolved at use (kept a moment), so a rotated secret is picked up
    /// without a restart.
    fn secret(&self) -> Result<Option<Secret>, OpError> {
        self.client
            .secret
            .as_ref()
            .map(|r| {
                r.resolve_kept(&self.secret).map_err(|m| {
                    OpError::new(
                        ErrorKind::Config,
                        format!("{}: client_secret: {m}", self.provider),
                    )
                })
            })
            .transpose()
    }

    /// The browser URL with a fresh state, PKCE S256 challenge and (OIDC) nonce.
    pub fn authorization_request(
        &self,
        authorize: &Url,
        redirect_uri: &str,
        extras: AuthExtras,
    ) -> Result<AuthRequest, OpError> {
        check_transport(authorize).map_err(|m| OpError::new(ErrorKind::Config, m))?;
        let redirect = RedirectUrl::new(redirect_uri.to_owned())
            .map_err(|e| OpError::new(ErrorKind::Config, format!("bad redirect_uri: {e}")))?;
        let client = BasicClient::new(ClientId::new(self.client.id.clone()))
            .set_auth_uri(AuthUrl::from_url(authorize.clone()));
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let nonce = extras
            .nonce
            .then(|| CsrfToken::new_random().secret().clone());
        let mut req = client
            .authorize_url(CsrfToken::new_random)
            .add_scopes(extras.scopes.iter().cloned().map(Scope::new))
            .set_pkce_challenge(challenge)
            .set_redirect_uri(Cow::Owned(redirect));
        if let Some(n) = &nonce {
            req = req.add_extra_param("nonce", n.clone());
        }
        // OIDC Core §11: without a consent prompt, offline_access is dropped.
        if extras.scopes.iter().any(|s| s == "offline_access") {
            req = req.add_extra_param("prompt", "consent");
        }
        let (url, state) = req.url();
        Ok(AuthRequest {
            url: url.to_string(),
            state: Secret::new(state.secret().clone()),
            nonce: nonce.map(Secret::new),
            pkce_verifier: Secret::new(verifier.secret().clone()),
            redirect_uri: redirect_uri.to_owned(),
            issuer: extras.issuer,
        })
    }
}

/// What one POST sent, kept beside its answer. The secrets a failed
/// answer is scrubbed of are gathered from it only then: a refresh that
/// succeeds, the common case, pays nothing for them.
struct Sending<'a> {
    form: Vec<(&'a str, String)>,
    secret: Option<Secret>,
    basic: Option<Secret>,
}

impl Sending<'_> {
    /// `reply` with every secret of the request blanked out of its body.
    fn scrub(&self, reply: &Reply) -> Reply {
        let mut sent = Sent::new();
        for (key, value) in &self.form {
            if !PUBLIC_PARAMS.contains(key) {
                sent.add(value);
            }
        }
        if let Some(s) = &self.secret {
            sent.add(s.expose());
        }
        if let Some(header) = &self.basic {
            let header = header.expose();
            sent.add(header);
            sent.add(header.trim_start_matches("Basic "));
        }
        sent.scrub(reply)
    }
}

/// A token endpoint's answer read as a grant. A refused one is read again
/// with the request's secrets blanked, for its message.
fn grant_in(
    reply: &Reply,
    sent: &Sending<'_>,
    call: TokenCall,
    requested: &[String],
) -> Result<TokenGrant, OpError> {
    let now = UnixTime::now();
    super::token::parse_token_reply(reply, call, requested, now)
        .or_else(|_| super::token::parse_token_reply(&sent.scrub(reply), call, requested, now))
}

/// The form parameters that are no secret; every other value sent is one
/// (`refresh_token`, `code`, `code_verifier`, `token`, `client_secret`).
const PUBLIC_PARAMS: [&str; 5] = [
    "grant_type",
    "scope",
    "redirect_uri",
    "client_id",
    "token_type_hint",
];

/// An HTML page where an empty 200/204 (or JSON) was due. The body tells,
/// not its label: many frameworks label an empty 200 `text/html`, and RFC
/// 7009 (§2.2) has the client ignore a revocation's body.
fn looks_like_a_page(reply: &Reply) -> bool {
    String::from_utf8_lossy(&reply.body)
        .trim_start()
        .starts_with('<')
}

/// RFC 6749 §2.3.1: id and secret are form-encoded before base64.
fn basic_header(id: &str, secret: &Secret) -> Secret {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let pair = format!("{}:{}", enc(id), enc(secret.expose()));
    Secret::new(format!("Basic {}", STANDARD.encode(pair)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_header_form_encodes_before_base64() {
        let h = basic_header("my client", &Secret::new("p@ss:w"));
        let b64 = h.expose().strip_prefix("Basic ").unwrap();
        let raw = String::from_utf8(STANDARD.decode(b64).unwrap()).unwrap();
        assert_eq!(raw, "my+client:p%40ss%3Aw");
    }

    fn client(scopes: &[&str]) -> OAuthClient {
        let common = crate::config::Common {
            ca_file: None,
            timeout: std::time::Duration::from_secs(5),
            connect_timeout: std::time::Duration::from_secs(5),
            auto_refresh: false,
            refresh_margin: None,
            max_in_flight: 1,
            auto_exchange: false,
        };
        OAuthClient {
            provider: "p".into(),
            http: Http::new(&common).unwrap(),
            client: Client {
                id: "cid".into(),
                secret: None,
                auth: ClientAuth::Basic,
                scopes: scopes.iter().map(|s| s.to_string()).collect(),
                redirect_port: None,
            },
            secret: KeptSecret::default(),
        }
    }

    #[test]
    fn authorization_url_has_state_pkce_nonce_and_consent_for_offline_access() {
        let c = client(&[]);
        let authorize = Url::parse("https://idp.test/auth?kc_idp_hint=x").unwrap();
        let extras = AuthExtras {
            nonce: true,
            issuer: None,
            scopes: vec!["openid".into(), "offline_access".into()],
        };
        let r = c
            .authorization_request(&authorize, "http://127.0.0.1:5/callback", extras)
            .unwrap();
        let url = Url::parse(&r.url).unwrap();
        let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(q["kc_idp_hint"], "x");
        assert_eq!(q["state"], r.state.expose());
        assert_eq!(q["nonce"], r.nonce.as_ref().unwrap().expose());
        assert_eq!(q["code_challenge_method"], "S256");
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
            <sha2::Sha256 as sha2::Digest>::digest(r.pkce_verifier.expose()),
        );
        assert_eq!(q["code_challenge"], challenge);
        assert_eq!(q["prompt"], "consent");
        let shown = format!("{r:?}");
        assert!(
            !shown.contains(r.state.expose()) && shown.contains("idp.test/auth?…"),
            "{shown}"
        );
        assert_eq!(q["scope"], "openid offline_access");
        let plain = c
            .authorization_request(
                &authorize,
                "http://127.0.0.1:5/callback",
                AuthExtras::default(),
            )
            .unwrap();
        assert!(!plain.url.contains("prompt=") && !plain.url.contains("nonce="));
        let http = Url::parse("http://idp.example/auth").unwrap();
        assert!(
            c.authorization_request(&http, "http://127.0.0.1:5/callback", AuthExtras::default())
                .is_err()
        );
    }
}
