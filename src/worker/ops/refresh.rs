//! A token renewed: the refresh token sent, a rotated one kept whatever
//! else the answer says, another account's answer refused, and a rejection
//! turned into "re-consent required" unless another process rotated the
//! token meanwhile.

use super::{Turn, live, unanswered};
use crate::domain::{
    Connection, ErrorKind, Flags, Grant, OpError, OpKind, ProviderKind, Secrets, UnixTime,
};
use crate::providers::{RefreshFailed, TokenGrant};
use crate::store::{ConnectionUpdate, SecretChange};
use crate::worker::Worker;
use crate::worker::keep::AtStake;
use crate::worker::tokens::{failure_update, grant_update};

impl Worker {
    pub(super) async fn refresh(
        &self,
        conn: Connection,
        secrets: Secrets,
        turn: &Turn,
    ) -> Result<Connection, OpError> {
        refreshable(&conn, self.now())?;
        let slot = self.slot(&conn.provider)?;
        let now = self.now();
        let result = if conn.grant == Grant::ClientCredentials {
            let answer = slot.client.client_credentials().await;
            self.held_out(&conn, answer).await.map_err(Into::into)
        } else {
            let Some(rt) = secrets.refresh_token else {
                return Err(OpError::not_allowed(
                    "no refresh token held: the user must log in again",
                ));
            };
            let answer = match slot.client.refresh(&rt).await {
                Err(mut f) => {
                    f.error = self.blank_held(&conn, f.error).await;
                    Err(f)
                }
                ok => ok,
            };
            match answer {
                Err(f) if f.error.kind == ErrorKind::ReauthRequired => {
                    return self.refresh_rejected(conn, rt, f.error, turn).await;
                }
                Ok(grant) => match same_account(&conn, grant) {
                    Ok(grant) => Ok(grant),
                    Err(f) => return self.other_account(&conn, f, turn).await,
                },
                Err(f) => Err(f),
            }
        };
        match result {
            Ok(grant) => {
                use crate::providers::GrantExpiry;
                let left =
                    |s: u64| crate::domain::time::format_left(i64::try_from(s).unwrap_or(i64::MAX));
                let message = match grant.expiry {
                    GrantExpiry::InSecs(s) => {
                        format!("refreshed; access token valid for {}", left(s))
                    }
                    // Said as what it is: a guess that renews early.
                    GrantExpiry::Assumed(s) => format!(
                        "refreshed; access token taken as valid for {} (the provider sent no \
                         expires_in)",
                        left(s)
                    ),
                    GrantExpiry::Permanent => "refreshed".to_string(),
                };
                self.save(
                    &conn,
                    grant_update(&conn, &grant, now),
                    OpKind::Refresh,
                    message,
                    turn,
                )
                .await
            }
            Err(RefreshFailed {
                error,
                rotated: Some(rotated),
            }) => self.keep_rotated(&conn, rotated, error, turn).await,
            // A client-credentials token is had again by asking.
            Err(f) if conn.grant == Grant::ClientCredentials => {
                self.fail(&conn, OpKind::Refresh, f.error, turn).await
            }
            Err(f) => {
                let e = unanswered(f.error, super::super::keep::REFRESH_TOKEN_MAY_BE_SPENT);
                self.fail(&conn, OpKind::Refresh, e, turn).await
            }
        }
    }

    /// A refresh answer refused for what it says, though it carried a new
    /// refresh token: the provider has most likely spent the one it was
    /// sent, so the new one replaces it and the rest of the answer is
    /// dropped. The access token held stays as it was.
    async fn keep_rotated(
        &self,
        conn: &Connection,
        rotated: crate::domain::Secret,
        mut e: OpError,
        turn: &Turn,
    ) -> Result<Connection, OpError> {
        e.message = format!("{}; the new refresh token it carried was kept", e.message);
        let update = ConnectionUpdate {
            refresh_token: SecretChange::Set(rotated),
            ..failure_update(conn, &e.message)
        };
        let audit = self.audit(OpKind::Refresh, false, e.message.clone());
        let stake = AtStake::Outcome(OpKind::Refresh, conn);
        self.settle(conn, update, audit, turn, Some(stake)).await?;
        Err(e)
    }

    /// A refresh answered for another account: the row needs a new
    /// consent, since the token sent is most likely spent. The refresh
    /// token the answer carried is kept only so that a logout can end the
    /// session it opened; re-consent stops every refresh with it, which
    /// would file the other account's tokens under this row.
    async fn other_account(
        &self,
        conn: &Connection,
        f: RefreshFailed,
        turn: &Turn,
    ) -> Result<Connection, OpError> {
        let kept = f.rotated.map_or(SecretChange::Keep, SecretChange::Set);
        let stake = AtStake::Outcome(OpKind::Refresh, conn);
        self.reconsent(conn, f.error, kept, turn, Some(stake)).await
    }

    /// Ends a refresh in "re-consent required": the row flagged, with `e`
    /// as its last error and in its audit line, and its refresh token as
    /// `refresh_token` says.
    async fn reconsent(
        &self,
        conn: &Connection,
        e: OpError,
        refresh_token: SecretChange,
        turn: &Turn,
        stake: Option<AtStake<'_>>,
    ) -> Result<Connection, OpError> {
        let update = ConnectionUpdate {
            flags: Some(Flags {
                reauth_required: true,
                last_error: Some(e.message.clone()),
                ..conn.flags.clone()
            }),
            refresh_token,
            ..ConnectionUpdate::default()
        };
        let audit = self.audit(
            OpKind::Refresh,
            false,
            format!("re-consent required: {}", e.message),
        );
        self.settle(conn, update, audit, turn, stake).await?;
        Err(e)
    }

    /// `invalid_grant`: unless another process rotated the token meanwhile
    /// (then its newer token stands), only a new consent helps.
    async fn refresh_rejected(
        &self,
        conn: Connection,
        used: crate::domain::Secret,
        e: OpError,
        turn: &Turn,
    ) -> Result<Connection, OpError> {
        let current = self.secrets_of(conn.id).await?;
        if current.refresh_token.as_ref().is_some_and(|t| *t != used) {
            return self.load(conn.id).await;
        }
        self.reconsent(&conn, e, SecretChange::Keep, turn, None)
            .await
    }
}

/// The scheduler and the operator both come through here; it refuses what
/// can never work, so nothing loops against a provider.
fn refreshable(conn: &Connection, now: UnixTime) -> Result<(), OpError> {
    // Ended first: a delinked Dapi row was told its tokens are permanent.
    live(conn, "refresh")?;
    if conn.kind == ProviderKind::Dapi {
        let code = (conn.lifetimes.access.is_none())
            .then_some(conn.lifetimes.code_expires_at)
            .flatten();
        return Err(OpError::not_allowed(match code {
            // Not sent to `exchange`, which would refuse it as well.
            Some(t) if now >= t => {
                "the access code expired before it was exchanged: link the user again".into()
            }
            Some(_) => format!(
                "a Dapi access code is exchanged, not refreshed: `bankdeck exchange {}` (its \
                 token is then permanent)",
                conn.id
            ),
            None => "Dapi tokens are permanent: nothing to refresh".into(),
        }));
    }
    if conn.flags.reauth_required {
        return Err(OpError::not_allowed(
            "re-consent required: the user must log in again",
        ));
    }
    Ok(())
}

/// A refreshed grant must be for the account the connection is: an id
/// token naming another `sub` (OpenID Connect Core §12.2) is refused.
fn same_account(conn: &Connection, grant: TokenGrant) -> Result<TokenGrant, RefreshFailed> {
    match (&conn.remote.user_id, &grant.subject) {
        (Some(held), Some(said)) if held != said => Err(RefreshFailed {
            error: OpError::new(
                ErrorKind::Protocol,
                format!(
                    "the provider answered the refresh for another account (sub \"{}\", this \
                     connection's is \"{held}\"): none of its tokens were used, and the user \
                     must log in again",
                    crate::providers::token::shown(said)
                ),
            ),
            rotated: grant.refresh_token,
        }),
        _ => Ok(grant),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Dapi code is exchanged, not refreshed; one that expired first is
    /// linked again, since an exchange would be refused as well. A
    /// delinked row says so, not that its tokens are permanent.
    #[test]
    fn a_dapi_code_says_what_it_needs_instead_of_a_refresh() {
        let now = UnixTime(1_700_000_000);
        let mut code = Connection::sample(3, "dapi", ProviderKind::Dapi, Grant::DapiConnect);
        code.lifetimes.code_expires_at = Some(now.plus_secs(60));
        let said = |c: &Connection| refreshable(c, now).unwrap_err().message;
        assert!(
            said(&code).contains("`bankdeck exchange 3`"),
            "{}",
            said(&code)
        );
        code.lifetimes.code_expires_at = Some(now.plus_secs(-60));
        assert_eq!(
            said(&code),
            "the access code expired before it was exchanged: link the user again"
        );
        code.lifetimes.access = Some(crate::domain::AccessExpiry::Permanent);
        assert_eq!(said(&code), "Dapi tokens are permanent: nothing to refresh");
        code.flags.delinked_at = Some(now);
        assert_eq!(said(&code), "cannot refresh: the connection is delinked");
    }
}
