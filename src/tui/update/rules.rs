//! Which operation applies to which connection, decided before anything is
//! sent, so an operator gets a reason at once instead of a provider error.
//!
//! The worker checks again (it is the authority); these rules only spare a
//! round trip and explain the refusal in the operator's words.

use crate::domain::time::format_ago;
use crate::domain::{ConnState, Connection, Grant, ProviderKind, UnixTime};

pub(super) fn exchange(c: &Connection, state: &ConnState, now: UnixTime) -> Result<(), String> {
    if c.kind != ProviderKind::Dapi {
        return Err(format!(
            "exchange is for Dapi access codes; this is an {} connection",
            c.kind
        ));
    }
    match state {
        ConnState::CodePending { .. } => Ok(()),
        ConnState::CodeExpired { since } => Err(format!(
            "the access code expired {} ago; link again",
            format_ago(since.secs_until(now))
        )),
        s => Err(format!(
            "nothing to exchange: the connection is {}",
            s.describe(now)
        )),
    }
}

pub(super) fn refresh(c: &Connection, state: &ConnState, now: UnixTime) -> Result<(), String> {
    match (c.kind, state) {
        (ProviderKind::Dapi, ConnState::Delinked) => {
            return Err("delinked: nothing to refresh, and Dapi tokens need none".into());
        }
        (ProviderKind::Dapi, ConnState::CodePending { .. }) => {
            return Err("a Dapi access code is exchanged, not refreshed: exchange it".into());
        }
        // Exchanging it, as the line above says, would be refused too.
        (ProviderKind::Dapi, ConnState::CodeExpired { since }) => {
            return Err(format!(
                "the access code expired {} ago, before it was exchanged: link again",
                format_ago(since.secs_until(now))
            ));
        }
        (ProviderKind::Dapi, _) => {
            return Err("Dapi tokens are permanent: there is nothing to refresh".into());
        }
        _ => {}
    }
    match state {
        // Its revoked token is not renewed; the grant asked again files a
        // new one on the row, and no user takes part.
        ConnState::LoggedOut { .. } if c.grant == Grant::ClientCredentials => Err(format!(
            "{}: c asks for a new app token",
            state.describe(now)
        )),
        ConnState::Delinked | ConnState::ReauthRequired { .. } | ConnState::LoggedOut { .. } => {
            Err(format!(
                "{}: the user must log in again",
                state.describe(now)
            ))
        }
        _ if c.grant == Grant::AuthorizationCode && !c.lifetimes.has_refresh => {
            Err("no refresh token held: the user must log in again".into())
        }
        _ => Ok(()),
    }
}

pub(super) fn logout(c: &Connection, state: &ConnState, now: UnixTime) -> Result<(), String> {
    if c.kind == ProviderKind::Dapi {
        return Err("Dapi has no logout; delink ends a Dapi connection".into());
    }
    match state {
        ConnState::Delinked | ConnState::LoggedOut { .. } => {
            Err(format!("already {}", state.describe(now)))
        }
        // An app token's logout revokes its access token.
        _ if !c.lifetimes.has_refresh && c.grant != Grant::ClientCredentials => {
            Err("no refresh token to revoke".into())
        }
        _ => Ok(()),
    }
}

/// A new browser consent, for a row nothing else renews: consent refused
/// or revoked, or no refresh token held. Where a refresh token still
/// works, `r` renews the row without troubling the user.
pub(super) fn login(c: &Connection, state: &ConnState, now: UnixTime) -> Result<(), String> {
    if c.kind == ProviderKind::Dapi {
        return Err(
            "Dapi has no browser login: the user connects again, and `a` adds the new payload"
                .into(),
        );
    }
    if c.grant == Grant::ClientCredentials {
        return Err(match state {
            ConnState::LoggedOut { .. } => "an app token needs no user: c asks for a new one",
            _ => "an app token needs no user: r asks for it again",
        }
        .into());
    }
    match state {
        ConnState::ReauthRequired { .. } | ConnState::LoggedOut { .. } => Ok(()),
        _ if !c.lifetimes.has_refresh => Ok(()),
        s => Err(format!(
            "the connection is {}, and its refresh token renews it (r)",
            s.describe(now)
        )),
    }
}

pub(super) fn delink(c: &Connection, state: &ConnState, _now: UnixTime) -> Result<(), String> {
    if c.kind != ProviderKind::Dapi {
        return Err(format!(
            "delink is Dapi's; log out ends an {} connection",
            c.kind
        ));
    }
    // A pending code is exchanged first: its token ends Dapi's side.
    match state {
        ConnState::Delinked => Err("already delinked".into()),
        _ => Ok(()),
    }
}
