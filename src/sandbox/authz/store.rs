//! The tables of one authorization server: codes, grant families (an OIDC
//! session), refresh tokens and access tokens.
//!
//! A family is everything issued from one authorization code; refresh tokens
//! rotate within it and reusing a rotated one kills the whole family (OAuth
//! 2.0 Security BCP §4.14). The family's status says why it died, because
//! clients must tell "Session not active" (logout) from "Token is not active".

use std::collections::HashMap;

use serde_json::{Value, json};

use super::clients::ClientConfig;
use crate::sandbox::jwt;

#[derive(Debug, Clone)]
pub(crate) struct CodeRec {
    pub client_id: String,
    pub redirect_uri: String,
    pub challenge: String,
    pub scope: String,
    pub user: String,
    pub nonce: Option<String>,
    pub iat: i64,
    pub exp: i64,
    pub used: bool,
    /// The family its redemption created, revoked if the code is replayed.
    pub family: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FamilyStatus {
    Active,
    /// Ended by the logout endpoint: "Session not active".
    LoggedOut,
    /// Revoked at the revocation endpoint.
    Revoked,
    /// A rotated refresh token or a used code came back.
    ReuseDetected,
}

#[derive(Debug, Clone)]
pub(crate) struct Family {
    pub client_id: String,
    pub user: String,
    pub scope: String,
    pub nonce: Option<String>,
    /// OIDC `sid` and `session_state`.
    pub sid: String,
    pub auth_time: i64,
    pub status: FamilyStatus,
}

#[derive(Debug, Clone)]
pub(crate) struct RefreshRec {
    pub family: usize,
    /// Fingerprint of the access token issued in the same response, so tests
    /// can tell a stored pair from a mix of two responses.
    pub access_fp: String,
    pub iat: i64,
    pub exp: i64,
    pub rotated: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct AccessRec {
    pub client_id: String,
    pub user: Option<String>,
    pub scope: String,
    pub iat: i64,
    pub exp: i64,
    pub revoked: bool,
}

#[derive(Debug)]
pub(crate) struct AuthzStore {
    pub clients: Vec<ClientConfig>,
    pub codes: HashMap<String, CodeRec>,
    pub families: Vec<Family>,
    pub refresh: HashMap<String, RefreshRec>,
    /// Keyed by the opaque token (OAuth 2.0) or the JWT's `jti` (OIDC).
    pub access: HashMap<String, AccessRec>,
}

impl AuthzStore {
    pub(crate) fn new(clients: &[ClientConfig]) -> Self {
        Self {
            clients: clients.to_vec(),
            codes: HashMap::new(),
            families: Vec::new(),
            refresh: HashMap::new(),
            access: HashMap::new(),
        }
    }

    pub(crate) fn client(&self, id: &str) -> Option<&ClientConfig> {
        self.clients.iter().find(|c| c.client_id == id)
    }

    pub(crate) fn new_family(&mut self, family: Family) -> usize {
        self.families.push(family);
        self.families.len() - 1
    }

    pub(crate) fn end_family(&mut self, id: usize, status: FamilyStatus) {
        if let Some(f) = self.families.get_mut(id) {
            // The first cause sticks: a logged-out session stays "logged out".
            if f.status == FamilyStatus::Active {
                f.status = status;
            }
        }
    }

    pub(crate) fn family(&self, id: usize) -> Option<&Family> {
        self.families.get(id)
    }

    /// Mints and records a new opaque refresh token in `family`.
    pub(crate) fn new_refresh(
        &mut self,
        family: usize,
        access_key: &str,
        now: i64,
        exp: i64,
    ) -> String {
        let token = jwt::random_token("rt_");
        let rec = RefreshRec {
            family,
            access_fp: jwt::fingerprint(access_key),
            iat: now,
            exp,
            rotated: false,
        };
        self.refresh.insert(token.clone(), rec);
        token
    }

    /// Fingerprints and statuses only, for `/sandbox/state`.
    pub(crate) fn snapshot(&self, now: i64) -> Value {
        let families: Vec<Value> = self
            .families
            .iter()
            .enumerate()
            .map(|(id, f)| {
                json!({"id": id, "client_id": f.client_id, "user": f.user, "scope": f.scope,
                   "sid": f.sid, "status": family_status(f.status)})
            })
            .collect();
        json!({
            "codes": self.code_rows(now),
            "families": families,
            "refresh_tokens": self.refresh_rows(now),
            "access_tokens": self.access_rows(now),
        })
    }

    fn code_rows(&self, now: i64) -> Vec<Value> {
        sorted(self.codes.iter().map(|(code, c)| {
            let status = match (c.used, now < c.exp) {
                (true, _) => "used",
                (false, true) => "pending",
                (false, false) => "expired",
            };
            json!({"fingerprint": jwt::fingerprint(code), "client_id": c.client_id,
                   "user": c.user, "scope": c.scope, "iat": c.iat, "exp": c.exp, "status": status})
        }))
    }

    fn refresh_rows(&self, now: i64) -> Vec<Value> {
        sorted(self.refresh.iter().map(|(token, r)| {
            json!({"fingerprint": jwt::fingerprint(token), "family": r.family, "access": r.access_fp, "iat": r.iat,
                   "exp": r.exp, "status": self.refresh_status(r, now)})
        }))
    }

    fn access_rows(&self, now: i64) -> Vec<Value> {
        sorted(self.access.iter().map(|(key, a)| {
            let status = match (a.revoked, now < a.exp) {
                (true, _) => "revoked",
                (false, true) => "active",
                (false, false) => "expired",
            };
            json!({"fingerprint": jwt::fingerprint(key), "client_id": a.client_id, "user": a.user,
                   "scope": a.scope, "iat": a.iat, "exp": a.exp, "status": status})
        }))
    }

    fn refresh_status(&self, r: &RefreshRec, now: i64) -> &'static str {
        let family = self
            .family(r.family)
            .map_or(FamilyStatus::Revoked, |f| f.status);
        if family != FamilyStatus::Active {
            family_status(family)
        } else if r.rotated {
            "rotated"
        } else if now >= r.exp {
            "expired"
        } else {
            "active"
        }
    }
}

/// Rows by issue time (ties by fingerprint), so the output is stable.
fn sorted(rows: impl Iterator<Item = Value>) -> Vec<Value> {
    let mut rows: Vec<Value> = rows.collect();
    rows.sort_by_key(|v| (v["iat"].as_i64(), v["fingerprint"].to_string()));
    rows
}

fn family_status(s: FamilyStatus) -> &'static str {
    match s {
        FamilyStatus::Active => "active",
        FamilyStatus::LoggedOut => "logged_out",
        FamilyStatus::Revoked => "revoked",
        FamilyStatus::ReuseDetected => "reuse_detected",
    }
}
