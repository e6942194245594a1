//! The Dapi family (seeds 000–002): ExchangeToken and DelinkUser, exactly as
//! the documentation and Dapi's SDK send them.
//!
//! Dapi tokens are permanent JWTs: there is no refresh, no logout and no
//! client credentials grant, and those answer `NotAllowed` with the reason.
//! The granted scopes come from the token's `authorizations` claim, decoded
//! for display only. Dapi reports failures in the body (`success: false`,
//! `type`, `msg`) whatever the HTTP status, so the body is read first.

use futures::FutureExt;
use futures::future::BoxFuture;
use serde_json::{Map, Value, json};
use url::Url;

use super::dapi_error::{DapiCall, DapiError};
use super::http::{Http, Reply};
use super::oauth_error::rate_limited;
use super::scrub::Sent;
use super::token::{MAX_LIFETIME, json_object};
use super::{AuthRequest, GrantExpiry, Provider, RefreshFailed, TokenGrant};
use crate::config::{DapiConfig, KeptSecret};
use crate::domain::{Claims, ErrorKind, OpError, ProviderKind, Secret, UnixTime};

const EXCHANGE_PATH: &str = "v2/auth/ExchangeToken";
const DELINK_PATH: &str = "v2/users/DelinkUser";

#[derive(Debug)]
pub struct DapiProvider {
    name: String,
    http: Http,
    cfg: DapiConfig,
    app_secret: KeptSecret,
}

impl DapiProvider {
    pub fn new(name: String, http: Http, cfg: DapiConfig) -> Self {
        Self {
            name,
            http,
            cfg,
            app_secret: KeptSecret::default(),
        }
    }

    async fn exchange_code(
        &self,
        code: &Secret,
        connection_id: &str,
    ) -> Result<TokenGrant, OpError> {
        let body = json!({
            "appSecret": self.app_secret()?.expose(),
            "accessCode": code.expose(),
            "connectionID": connection_id,
        });
        let obj = self
            .call(EXCHANGE_PATH, &body, None, DapiCall::Exchange)
            .await?;
        match obj.get("accessToken").and_then(Value::as_str) {
            Some(t) if !t.trim().is_empty() => {
                let host = self.cfg.base_url.host_str().unwrap_or("Dapi");
                let token = super::token::printable(t.trim(), "accessToken", host)?;
                Ok(grant(Secret::new(token), UnixTime::now()))
            }
            _ => Err(no_token(&obj)),
        }
    }

    async fn delink_user(&self, access: &Secret, user_secret: &Secret) -> Result<(), OpError> {
        let body = json!({
            "appSecret": self.app_secret()?.expose(),
            "userSecret": user_secret.expose(),
        });
        self.call(DELINK_PATH, &body, Some(access), DapiCall::Delink)
            .await
            .map(|_| ())
    }

    /// POSTs once and returns the body of a `success: true` answer.
    async fn call(
        &self,
        path: &str,
        body: &Value,
        bearer: Option<&Secret>,
        call: DapiCall,
    ) -> Result<Map<String, Value>, OpError> {
        let reply = self.http.post_json(&self.url(path)?, body, bearer).await?;
        read_reply(&reply, call).or_else(|_| {
            let mut sent = Sent::new();
            for key in ["appSecret", "accessCode", "userSecret"] {
                if let Some(value) = body.get(key).and_then(Value::as_str) {
                    sent.add(value);
                }
            }
            if let Some(token) = bearer {
                sent.add(token.expose());
            }
            read_reply(&sent.scrub(&reply), call)
        })
    }

    /// `{base}/v2/...`, keeping any path the base URL has.
    fn url(&self, path: &str) -> Result<Url, OpError> {
        let base = self.cfg.base_url.as_str().trim_end_matches('/');
        Url::parse(&format!("{base}/{path}")).map_err(|e| {
            OpError::new(
                ErrorKind::Config,
                format!("{}: bad base_url: {e}", self.name),
            )
        })
    }

    fn app_secret(&self) -> Result<Secret, OpError> {
        self.cfg
            .app_secret
            .resolve_kept(&self.app_secret)
            .map_err(|m| OpError::new(ErrorKind::Config, format!("{}: app_secret: {m}", self.name)))
    }
}

/// Reads any answer of a Dapi call: the body of a `success: true` answer
/// (or of a 2xx that hands a token over), or the error the operator sees.
/// Public for the parser fuzz tests.
pub fn read_reply(reply: &Reply, call: DapiCall) -> Result<Map<String, Value>, OpError> {
    let status = reply.status;
    if status.as_u16() == 429 || status.as_u16() == 503 {
        return Err(rate_limited(reply));
    }
    if status.is_server_error() {
        return Err(server_error(reply));
    }
    let obj = json_object(reply)?;
    match obj.get("success").and_then(Value::as_bool) {
        Some(true) if status.is_success() => Ok(obj),
        Some(false) => Err(DapiError::from_object(&obj).to_op_error(call)),
        // A token handed over has spent the access code at Dapi, `success`
        // or not: dropped, the code would stay pending and the next
        // exchange meet INVALID_TOKEN.
        _ if status.is_success() && hands_a_token(&obj) => Ok(obj),
        _ => Err(OpError::new(
            ErrorKind::Protocol,
            format!("Dapi answered {status} without saying success or failure"),
        )),
    }
}

/// A non-empty `accessToken` in an answer that does not say `success` is
/// false, not even as the text "false".
fn hands_a_token(obj: &Map<String, Value>) -> bool {
    let says_false = obj
        .get("success")
        .and_then(Value::as_str)
        .is_some_and(|s| s.trim().eq_ignore_ascii_case("false"));
    let token = obj.get("accessToken").and_then(Value::as_str);
    !says_false && token.is_some_and(|t| !t.trim().is_empty())
}

/// A success without a token, told by the operation's status where Dapi
/// gave one (seed 002's statuses): an operation pending the user's input or
/// still in progress is not a malformed answer.
fn no_token(obj: &Map<String, Value>) -> OpError {
    let status = obj.get("status").and_then(Value::as_str).map(str::trim);
    let message = match status {
        Some("user_input_required") => {
            "Dapi sent no token: the operation is pending the user's input \
             (user_input_required); the code stays pending, exchange it again once the user has \
             answered in Connect"
        }
        Some("initialized") => {
            "Dapi sent no token: the operation is still in progress (initialized); exchange the \
             code again shortly"
        }
        _ => "Dapi reported success but sent no accessToken",
    };
    OpError::new(ErrorKind::Protocol, message)
}

/// A 5xx is Dapi's failure whatever the body says; its `msg` is kept.
fn server_error(reply: &Reply) -> OpError {
    let said = json_object(reply)
        .ok()
        .map(|o| DapiError::from_object(&o).said())
        .map_or_else(String::new, |s| format!(" ({s})"));
    OpError::new(
        ErrorKind::Server,
        // The reason first, as the table's state column shows a message's start.
        format!(
            "{}{said} from {}: try again later",
            reply.status, reply.host
        ),
    )
}

/// The grant a Dapi access token stands for: permanent unless its JWT has
/// an `exp`, scopes from `authorizations`, session = `tokenID`.
pub fn grant(access_token: Secret, now: UnixTime) -> TokenGrant {
    let claims = Claims::decode(access_token.expose()).ok();
    let expiry = match claims.as_ref().and_then(Claims::exp) {
        None => GrantExpiry::Permanent,
        Some(exp) => GrantExpiry::InSecs(
            u64::try_from(now.secs_until(exp)).map_or(0, |s| s.min(MAX_LIFETIME)),
        ),
    };
    let text = |key: &str| claims.as_ref().and_then(|c| c.str(key)).map(str::to_owned);
    TokenGrant {
        scopes: claims
            .as_ref()
            .and_then(Claims::dapi_scopes)
            .unwrap_or_default(),
        session: text("tokenID"),
        subject: text("userID"),
        access_token,
        expiry,
        refresh_token: None,
        refresh_expires_in: None,
        id_token: None,
    }
}

fn not_allowed<T: Send + 'static>(msg: &'static str) -> BoxFuture<'static, Result<T, OpError>> {
    futures::future::ready(Err(OpError::not_allowed(msg))).boxed()
}

impl Provider for DapiProvider {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> ProviderKind {
        ProviderKind::Dapi
    }

    fn exchange<'a>(
        &'a self,
        access_code: &'a Secret,
        connection_id: &'a str,
    ) -> BoxFuture<'a, Result<TokenGrant, OpError>> {
        self.exchange_code(access_code, connection_id).boxed()
    }

    fn refresh<'a>(&'a self, _: &'a Secret) -> BoxFuture<'a, Result<TokenGrant, RefreshFailed>> {
        let e = OpError::not_allowed("Dapi tokens are permanent: nothing to refresh");
        futures::future::ready(Err(e.into())).boxed()
    }

    fn client_credentials(&self) -> BoxFuture<'_, Result<TokenGrant, OpError>> {
        not_allowed("Dapi has no client credentials grant: tokens come from the Connect layer")
    }

    fn authorization_request<'a>(
        &'a self,
        _: &'a str,
    ) -> BoxFuture<'a, Result<AuthRequest, OpError>> {
        not_allowed("Dapi users link through Dapi's Connect layer, not a browser login here")
    }

    fn redeem_code<'a>(
        &'a self,
        _: &'a AuthRequest,
        _: &'a str,
    ) -> BoxFuture<'a, Result<TokenGrant, OpError>> {
        not_allowed("Dapi has no authorization code: exchange the Connect access code instead")
    }

    fn logout<'a>(&'a self, _: &'a Secret) -> BoxFuture<'a, Result<(), OpError>> {
        not_allowed("Dapi tokens are permanent and have no logout: delink the user to end them")
    }

    fn delink<'a>(
        &'a self,
        access_token: &'a Secret,
        user_secret: &'a Secret,
    ) -> BoxFuture<'a, Result<(), OpError>> {
        self.delink_user(access_token, user_secret).boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seed 002's access token: no `exp`, grants authentication.create only.
    const SEED_TOKEN: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzYWx0IjoiRmlHUUhDM2NwZ01NZmhaejNHMk8zNitHakdBUEs0ZFptSEgwRy9jN1cxWT0iLCJhcHBLZXkiOiI0OTc3OTFjZmQ1MTBmMjI1MDc1Yzk3YWNkYzFkYmY0YTI1ZDczNTgxNGZlMmE3OGQxZjRiMGI4OTcxOGU3ZWQ2IiwidG9rZW5JRCI6IjYxMWM3YWE4LTcwYWYtNGQ3Zi1hODk1LTI4OWU4OTIzOTMxMyIsImF1dGhvcml6YXRpb25zIjp7ImF1dGhlbnRpY2F0aW9uIjp7ImNyZWF0ZSI6dHJ1ZX0sImlkZW50aXR5Ijp7ImdldCI6ZmFsc2V9LCJhY2NvdW50cyI6eyJnZXQiOmZhbHNlfSwiYmFsYW5jZSI6eyJnZXQiOmZhbHNlfSwidHJhbnNhY3Rpb25zIjp7ImdldCI6ZmFsc2V9LCJiZW5lZmljaWFyaWVzIjp7ImdldCI6ZmFsc2UsImNyZWF0ZSI6ZmFsc2V9LCJ0cmFuc2ZlciI6eyJjcmVhdGUiOmZhbHNlfSwiY2FyZHMiOnsiZ2V0IjpmYWxzZX0sInN0YXRlbWVudHMiOnsiZ2V0IjpmYWxzZX0sInByb2R1Y3RzIjpbImRhdGEiLCJwYXltZW50Il19LCJpYXQiOjE2MTY0MjkzMTZ9.MIicjZXD8ojOqInzKqeyzmfCkQaxl7K6NU7Q5UPt47Y";

    #[test]
    fn seed_token_grant_is_permanent_with_session_and_scopes() {
        let g = grant(Secret::new(SEED_TOKEN), UnixTime(1_700_000_000));
        assert_eq!(g.expiry, GrantExpiry::Permanent);
        assert_eq!(
            g.session.as_deref(),
            Some("611c7aa8-70af-4d7f-a895-289e89239313")
        );
        assert_eq!(*g.scopes.granted, vec!["authentication.create"]);
        assert_eq!(*g.scopes.products, vec!["data", "payment"]);
        assert!(g.refresh_token.is_none());
    }

    #[test]
    fn a_token_with_exp_counts_down() {
        // payload {"exp":1700000600}
        let g = grant(
            Secret::new("e30.eyJleHAiOjE3MDAwMDA2MDB9.x"),
            UnixTime(1_700_000_000),
        );
        assert_eq!(g.expiry, GrantExpiry::InSecs(600));
    }
}
