//! The token endpoint's rules (RFC 6749 §4.1.3, §4.4, §6 with PKCE and
//! refresh rotation), plus revocation (RFC 7009) and Keycloak's logout.
//!
//! Each function validates, applies the state change, and returns an
//! [`Issue`] saying what to mint; minting is the flavour's business (opaque
//! tokens for the bank, JWTs for the realm), so both servers share one set of
//! rules and one set of error texts.

use super::clients::ClientConfig;
use super::error::OAuthError;
use super::form::Form;
use super::store::{AuthzStore, CodeRec, Family, FamilyStatus};
use crate::sandbox::jwt;

const KNOWN_GRANTS: &[&str] = &["authorization_code", "refresh_token", "client_credentials"];

/// What a successful grant authorises; the caller mints the tokens.
#[derive(Debug, Clone)]
pub(crate) struct Issue {
    pub client_id: String,
    /// `None` for client credentials (an app-level token).
    pub user: Option<String>,
    pub scope: String,
    /// The family to add a rotated refresh token to, when one is due.
    pub family: Option<usize>,
}

pub(crate) fn run_grant(
    store: &mut AuthzStore,
    client: &ClientConfig,
    form: &Form,
    now: i64,
) -> Result<Issue, OAuthError> {
    let grant = form.require("grant_type")?;
    if !KNOWN_GRANTS.contains(&grant) {
        return Err(OAuthError::unsupported_grant_type(&format!(
            "Unsupported grant_type: {grant}"
        )));
    }
    if !client.allows_grant(grant) {
        return Err(OAuthError::unauthorized_client(&format!(
            "Client is not allowed to use grant_type {grant}"
        )));
    }
    match grant {
        "client_credentials" => Ok(Issue {
            client_id: client.client_id.clone(),
            user: None,
            scope: resolve_scope(client, form.get("scope"))?,
            family: None,
        }),
        "authorization_code" => authorization_code(store, client, form, now),
        _ => refresh(store, client, form, now),
    }
}

/// The granted scope string: the request's (each within the client's
/// allowed set) or the client's defaults.
pub(crate) fn resolve_scope(
    client: &ClientConfig,
    requested: Option<&str>,
) -> Result<String, OAuthError> {
    let Some(requested) = requested.filter(|s| !s.trim().is_empty()) else {
        return Ok(client.default_scopes.join(" "));
    };
    let mut granted: Vec<&str> = Vec::new();
    for scope in requested.split_whitespace() {
        if !client.scopes.iter().any(|s| s == scope) {
            return Err(OAuthError::invalid_scope(&format!(
                "Invalid scopes: {scope}"
            )));
        }
        if !granted.contains(&scope) {
            granted.push(scope);
        }
    }
    Ok(granted.join(" "))
}

fn authorization_code(
    store: &mut AuthzStore,
    client: &ClientConfig,
    form: &Form,
    now: i64,
) -> Result<Issue, OAuthError> {
    let code = form.require("code")?;
    let rec = redeemable(store, code, client, form, now)?;
    let family = store.new_family(Family {
        client_id: rec.client_id.clone(),
        user: rec.user.clone(),
        scope: rec.scope.clone(),
        nonce: rec.nonce.clone(),
        sid: jwt::uuid_v4(),
        auth_time: rec.iat,
        status: FamilyStatus::Active,
    });
    if let Some(stored) = store.codes.get_mut(code) {
        stored.used = true;
        stored.family = Some(family);
    }
    Ok(Issue {
        client_id: rec.client_id,
        user: Some(rec.user),
        scope: rec.scope,
        family: Some(family),
    })
}

/// The code's record if this request may redeem it (RFC 6749 §4.1.3, RFC 7636 §4.6).
fn redeemable(
    store: &mut AuthzStore,
    code: &str,
    client: &ClientConfig,
    form: &Form,
    now: i64,
) -> Result<CodeRec, OAuthError> {
    let rec = store
        .codes
        .get(code)
        .cloned()
        .ok_or_else(|| OAuthError::invalid_grant("Code not valid"))?;
    if rec.client_id != client.client_id {
        return Err(OAuthError::invalid_grant(
            "Code was issued to another client",
        ));
    }
    if rec.used {
        // RFC 6749 §4.1.2: a replayed code revokes what it granted.
        if let Some(family) = rec.family {
            store.end_family(family, FamilyStatus::ReuseDetected);
        }
        return Err(OAuthError::invalid_grant("Code not valid"));
    }
    if now >= rec.exp {
        return Err(OAuthError::invalid_grant("Code is expired"));
    }
    if form.get("redirect_uri") != Some(rec.redirect_uri.as_str()) {
        return Err(OAuthError::invalid_grant("Incorrect redirect_uri"));
    }
    check_pkce(form.get("code_verifier"), &rec.challenge)?;
    Ok(rec)
}

fn check_pkce(verifier: Option<&str>, challenge: &str) -> Result<(), OAuthError> {
    let Some(verifier) = verifier else {
        return Err(OAuthError::invalid_grant(
            "PKCE code verifier not specified",
        ));
    };
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    if !well_formed || jwt::s256(verifier) != challenge {
        return Err(OAuthError::invalid_grant(
            "PKCE verification failed: Code mismatch",
        ));
    }
    Ok(())
}

fn refresh(
    store: &mut AuthzStore,
    client: &ClientConfig,
    form: &Form,
    now: i64,
) -> Result<Issue, OAuthError> {
    let token = form.require("refresh_token")?;
    let (rec, family) = refresh_and_family(store, token, client)?;
    match family.status {
        FamilyStatus::Active => {}
        FamilyStatus::LoggedOut => return Err(OAuthError::invalid_grant("Session not active")),
        _ => return Err(OAuthError::invalid_grant("Token is not active")),
    }
    if rec.rotated {
        store.end_family(rec.family, FamilyStatus::ReuseDetected);
        return Err(OAuthError::invalid_grant("Token is not active"));
    }
    if now >= rec.exp {
        return Err(OAuthError::invalid_grant("Token is not active"));
    }
    let scope = narrow_scope(&family.scope, form.get("scope"))?;
    if let Some(stored) = store.refresh.get_mut(token) {
        stored.rotated = true;
    }
    Ok(Issue {
        client_id: family.client_id,
        user: Some(family.user),
        scope,
        family: Some(rec.family),
    })
}

fn refresh_and_family(
    store: &AuthzStore,
    token: &str,
    client: &ClientConfig,
) -> Result<(super::store::RefreshRec, Family), OAuthError> {
    let invalid = || OAuthError::invalid_grant("Invalid refresh token");
    let rec = store.refresh.get(token).cloned().ok_or_else(invalid)?;
    let family = store.family(rec.family).cloned().ok_or_else(invalid)?;
    if family.client_id != client.client_id {
        return Err(OAuthError::invalid_grant(
            "Invalid refresh token. Token client and authorized client don't match",
        ));
    }
    Ok((rec, family))
}

/// RFC 6749 §6: a refresh may narrow the scope, never widen it.
fn narrow_scope(original: &str, requested: Option<&str>) -> Result<String, OAuthError> {
    let Some(requested) = requested else {
        return Ok(original.to_owned());
    };
    let allowed: Vec<&str> = original.split_whitespace().collect();
    match requested.split_whitespace().find(|s| !allowed.contains(s)) {
        Some(extra) => Err(OAuthError::invalid_scope(&format!(
            "Invalid scopes: {extra}"
        ))),
        None => Ok(requested.split_whitespace().collect::<Vec<_>>().join(" ")),
    }
}

/// RFC 7009: unknown tokens are fine (200); a refresh token takes its family
/// with it. `access_key` maps a presented access token to its table key.
pub(crate) fn revoke(
    store: &mut AuthzStore,
    client: &ClientConfig,
    form: &Form,
    access_key: impl Fn(&str) -> Option<String>,
) -> Result<(), OAuthError> {
    let token = form.require("token")?;
    let foreign = || OAuthError::invalid_request("Token was issued to another client");
    if let Some(rec) = store.refresh.get(token).cloned() {
        let owner = store.family(rec.family).map(|f| f.client_id.clone());
        if owner.as_deref() != Some(client.client_id.as_str()) {
            return Err(foreign());
        }
        store.end_family(rec.family, FamilyStatus::Revoked);
        return Ok(());
    }
    let Some(access) = access_key(token).and_then(|k| store.access.get_mut(&k)) else {
        return Ok(());
    };
    if access.client_id != client.client_id {
        return Err(foreign());
    }
    access.revoked = true;
    Ok(())
}

/// Keycloak's back-channel logout: ends the session of `refresh_token`;
/// access tokens already issued stay valid until their `exp`.
pub(crate) fn logout(
    store: &mut AuthzStore,
    client: &ClientConfig,
    form: &Form,
    now: i64,
) -> Result<(), OAuthError> {
    let token = form.require("refresh_token")?;
    let (rec, family) = refresh_and_family(store, token, client)?;
    if family.status != FamilyStatus::Active {
        return Err(OAuthError::invalid_grant("Session not active"));
    }
    if now >= rec.exp {
        return Err(OAuthError::invalid_grant("Token is not active"));
    }
    store.end_family(rec.family, FamilyStatus::LoggedOut);
    Ok(())
}
