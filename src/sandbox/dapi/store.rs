//! Dapi's tables and rules: who may exchange which code, when, and what a
//! token may still do.
//!
//! Every method takes `now` from the sandbox clock and returns a
//! [`DapiError`] naming the cause, so `routes.rs` only renders.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::claims::{Authorizations, CodeClaims, DAPI_SCOPES, TokenClaims};
use super::{ConnectPayload, ConnectRequest, DEFAULT_DAPI_SCOPES, DapiApp, RegisterCode};
use crate::sandbox::jwt::{self, Keys};

/// Why a Dapi call failed; rendered as `{success:false, status:"failed", type, msg}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DapiError {
    /// `INVALID_ARGS`: a field is missing, empty or of the wrong type.
    InvalidArgs { field: String, reason: String },
    /// `INVALID_TOKEN`: unknown, expired or used code; unknown or delinked token.
    InvalidToken,
    /// `INVALID_APP_SECRET`: the `appSecret` is not the app's.
    InvalidAppSecret,
    /// `INVALID_USER_SECRET`: the `userSecret` is not the connection's.
    InvalidUserSecret,
    /// `INSUFFICIENT_SCOPE`: the token was not granted this scope.
    InsufficientScope(&'static str),
}

impl DapiError {
    pub(crate) fn empty(field: &str) -> Self {
        Self::InvalidArgs {
            field: field.to_owned(),
            reason: "value must not be an empty string".to_owned(),
        }
    }
}

/// What a connection carries from its Connect to its token.
#[derive(Debug, Clone)]
struct Grant {
    connection_id: String,
    app_key: String,
    token_id: String,
    salt: String,
    user_id: String,
    user_secret: String,
    scopes: Vec<String>,
    products: Vec<String>,
    bank: Option<String>,
}

#[derive(Debug)]
struct CodeRec {
    grant: Grant,
    iat: i64,
    exp: i64,
    used: bool,
}

#[derive(Debug)]
struct TokenRec {
    grant: Grant,
    iat: i64,
    delinked: bool,
}

#[derive(Debug)]
pub(crate) struct DapiStore {
    apps: Vec<DapiApp>,
    codes: HashMap<String, CodeRec>,
    tokens: HashMap<String, TokenRec>,
}

impl DapiStore {
    pub(crate) fn new(apps: &[DapiApp]) -> Self {
        let apps = if apps.is_empty() {
            vec![DapiApp::demo()]
        } else {
            apps.to_vec()
        };
        Self {
            apps,
            codes: HashMap::new(),
            tokens: HashMap::new(),
        }
    }

    fn app_key_of(&self, secret: &str) -> Option<&str> {
        let app = self.apps.iter().find(|a| a.app_secret == secret)?;
        Some(&app.app_key)
    }

    /// Mints a code as the Connect layer would, for the first (demo) app.
    pub(crate) fn connect(
        &mut self,
        req: ConnectRequest,
        keys: &Keys,
        now: i64,
        ttl: i64,
    ) -> Result<ConnectPayload, DapiError> {
        let grant = self.new_grant(req)?;
        let code = keys.hs256(&CodeClaims {
            salt: &grant.salt,
            app_key: &grant.app_key,
            token_id: &grant.token_id,
            iat: now,
            exp: now + ttl,
        });
        let payload = ConnectPayload {
            success: true,
            access_code: code.clone(),
            user_secret: grant.user_secret.clone(),
            connection_id: grant.connection_id.clone(),
            user_id: grant.user_id.clone(),
            token_id: grant.token_id.clone(),
        };
        let rec = CodeRec {
            grant,
            iat: now,
            exp: now + ttl,
            used: false,
        };
        self.codes.insert(code, rec);
        Ok(payload)
    }

    /// A fresh connection with random ids, as a successful Connect creates.
    fn new_grant(&self, req: ConnectRequest) -> Result<Grant, DapiError> {
        let scopes = match req.scopes {
            Some(scopes) => checked_scopes(scopes)?,
            None => DEFAULT_DAPI_SCOPES
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
        };
        let app_key = self
            .apps
            .first()
            .map_or(super::DEMO_APP_KEY, |a| &a.app_key);
        Ok(Grant {
            connection_id: jwt::random_hex(20),
            app_key: app_key.to_owned(),
            token_id: jwt::uuid_v4(),
            salt: jwt::random_salt(),
            user_id: req.user_id.unwrap_or_else(|| jwt::random_token("user-")),
            user_secret: jwt::random_token(""),
            scopes,
            products: vec!["data".to_owned(), "payment".to_owned()],
            bank: req.bank,
        })
    }

    /// Makes a foreign code (seed 002's) exchangeable, reading its claims.
    pub(crate) fn register(&mut self, reg: RegisterCode, ttl: i64) -> Result<(), String> {
        let claims = jwt::claims(&reg.access_code).ok_or("access code is not a JWT")?;
        let text = |k: &str| {
            claims[k]
                .as_str()
                .map(str::to_owned)
                .ok_or(format!("claim {k} missing"))
        };
        let app_key = text("appKey")?;
        let iat = claims["iat"].as_i64().ok_or("claim iat missing")?;
        let exp = claims["exp"].as_i64().unwrap_or(iat + ttl);
        if self.app_key_of(&reg.app_secret).is_none() {
            self.apps.push(DapiApp {
                app_key: app_key.clone(),
                app_secret: reg.app_secret,
            });
        }
        let grant = Grant {
            connection_id: reg.connection_id,
            app_key,
            token_id: text("tokenID")?,
            salt: text("salt")?,
            user_id: reg.user_id,
            user_secret: reg.user_secret,
            scopes: checked_scopes(reg.scopes).map_err(|e| e.to_string())?,
            products: vec!["data".to_owned(), "payment".to_owned()],
            bank: None,
        };
        let rec = CodeRec {
            grant,
            iat,
            exp,
            used: false,
        };
        self.codes.insert(reg.access_code, rec);
        Ok(())
    }

    /// ExchangeToken's rules, after field validation.
    pub(crate) fn exchange(
        &mut self,
        app_secret: &str,
        code: &str,
        connection_id: &str,
        keys: &Keys,
        now: i64,
    ) -> Result<String, DapiError> {
        let app_key = self
            .app_key_of(app_secret)
            .ok_or(DapiError::InvalidAppSecret)?
            .to_owned();
        let rec = self.codes.get_mut(code).ok_or(DapiError::InvalidToken)?;
        let usable = !rec.used
            && now < rec.exp
            && rec.grant.app_key == app_key
            && rec.grant.connection_id == connection_id;
        if !usable {
            return Err(DapiError::InvalidToken);
        }
        rec.used = true;
        let grant = rec.grant.clone();
        let token = keys.hs256(&TokenClaims {
            salt: &grant.salt,
            app_key: &grant.app_key,
            token_id: &grant.token_id,
            authorizations: Authorizations::new(&grant.scopes, &grant.products),
            iat: now,
        });
        let rec = TokenRec {
            grant,
            iat: now,
            delinked: false,
        };
        self.tokens.insert(token.clone(), rec);
        Ok(token)
    }

    fn live(&self, token: &str) -> Result<&TokenRec, DapiError> {
        match self.tokens.get(token) {
            Some(rec) if !rec.delinked => Ok(rec),
            _ => Err(DapiError::InvalidToken),
        }
    }

    /// Checks a bearer token is live; the error a dead one gets everywhere.
    pub(crate) fn check_token(&self, token: &str) -> Result<(), DapiError> {
        self.live(token).map(|_| ())
    }

    pub(crate) fn delink(
        &mut self,
        token: &str,
        app_secret: &str,
        user_secret: &str,
    ) -> Result<(), DapiError> {
        let app_key = self.app_key_of(app_secret).map(str::to_owned);
        let rec = self.live(token)?;
        if app_key.as_deref() != Some(rec.grant.app_key.as_str()) {
            return Err(DapiError::InvalidAppSecret);
        }
        if rec.grant.user_secret != user_secret {
            return Err(DapiError::InvalidUserSecret);
        }
        if let Some(rec) = self.tokens.get_mut(token) {
            rec.delinked = true;
        }
        Ok(())
    }

    pub(crate) fn identity(&self, token: &str) -> Result<Value, DapiError> {
        let rec = self.live(token)?;
        if !rec.grant.scopes.iter().any(|s| s == "identity.get") {
            return Err(DapiError::InsufficientScope("identity.get"));
        }
        Ok(json!({
            "name": format!("Sandbox User {}", rec.grant.user_id),
            "emailAddress": format!("{}@sandbox.invalid", rec.grant.user_id),
            "nationality": "AE",
        }))
    }

    /// Codes and tokens by fingerprint and status, for `/sandbox/state`.
    pub(crate) fn snapshot(&self, now: i64) -> Value {
        let mut codes: Vec<Value> = self
            .codes
            .iter()
            .map(|(code, r)| {
                let status = match (r.used, now < r.exp) {
                    (true, _) => "used",
                    (false, true) => "pending",
                    (false, false) => "expired",
                };
                json!({"fingerprint": jwt::fingerprint(code), "connectionID": r.grant.connection_id,
                   "tokenID": r.grant.token_id, "userID": r.grant.user_id, "bank": r.grant.bank,
                   "iat": r.iat, "exp": r.exp, "status": status})
            })
            .collect();
        let mut tokens: Vec<Value> = self.tokens.iter().map(|(token, r)| {
            let status = if r.delinked { "delinked" } else { "active" };
            json!({"fingerprint": jwt::fingerprint(token), "connectionID": r.grant.connection_id,
                   "tokenID": r.grant.token_id, "userID": r.grant.user_id, "iat": r.iat,
                   "scopes": r.grant.scopes, "status": status})
        }).collect();
        codes.sort_by_key(|c| (c["iat"].as_i64(), c["fingerprint"].to_string()));
        tokens.sort_by_key(|t| (t["iat"].as_i64(), t["fingerprint"].to_string()));
        json!({"codes": codes, "tokens": tokens})
    }
}

fn checked_scopes(scopes: Vec<String>) -> Result<Vec<String>, DapiError> {
    match scopes.iter().find(|s| !DAPI_SCOPES.contains(&s.as_str())) {
        Some(bad) => Err(DapiError::InvalidArgs {
            field: "scopes".to_owned(),
            reason: format!("unknown scope '{bad}'"),
        }),
        None => Ok(scopes),
    }
}
