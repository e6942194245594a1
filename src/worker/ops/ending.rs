//! The ends of a connection: logout (OpenID's logout, or an app token's
//! revocation) and Dapi's delink, and a row closed without a call when no
//! token was ever issued.

use super::{Turn, applies, live, unanswered};
use crate::domain::{
    Connection, ErrorKind, Flags, Grant, Lifetimes, OpError, OpKind, ProviderKind, Secrets,
};
use crate::store::{ConnectionUpdate, SecretChange};
use crate::worker::Worker;
use crate::worker::keep::{DELINK_MAY_BE_DONE, LOGOUT_MAY_BE_DONE};

impl Worker {
    pub(super) async fn logout(
        &self,
        conn: Connection,
        secrets: Secrets,
        turn: &Turn,
    ) -> Result<Connection, OpError> {
        if conn.kind == ProviderKind::Dapi {
            return Err(OpError::not_allowed(
                "Dapi has no logout: delink the user instead",
            ));
        }
        live(&conn, "log out")?;
        if conn.grant == Grant::ClientCredentials {
            return self.end_app_token(conn, secrets, turn).await;
        }
        let Some(rt) = secrets.refresh_token else {
            return Err(OpError::not_allowed(
                "no refresh token held: nothing to log out",
            ));
        };
        let slot = self.slot(&conn.provider)?;
        let answer = slot.client.logout(&rt).await;
        match self.held_out(&conn, answer).await {
            Ok(()) => {
                let now = self.now();
                let update = ConnectionUpdate {
                    lifetimes: Some(Lifetimes {
                        has_refresh: false,
                        refresh_expires_at: None,
                        refresh_slides: false,
                        ..conn.lifetimes.clone()
                    }),
                    // A row whose refresh token was rejected ends here
                    // too: it stayed "re-consent required", its logout
                    // recorded and its state unchanged.
                    flags: Some(Flags {
                        logged_out_at: Some(now),
                        last_error: None,
                        reauth_required: false,
                        ..conn.flags.clone()
                    }),
                    refresh_token: SecretChange::Erase,
                    ..ConnectionUpdate::default()
                };
                self.save(
                    &conn,
                    update,
                    OpKind::Logout,
                    "logged out; the access token stays valid until it expires",
                    turn,
                )
                .await
            }
            Err(e) => {
                let e = unanswered(e, LOGOUT_MAY_BE_DONE);
                self.fail(&conn, OpKind::Logout, e, turn).await
            }
        }
    }

    /// An app token (client credentials) has no refresh token to log out:
    /// its access token is revoked where the provider can, and the row ends
    /// either way, so nothing renews it again. It is no one's consent, and
    /// the app can ask for another at any time: where nothing revokes it,
    /// it is left to run out, and the row says until when.
    async fn end_app_token(
        &self,
        conn: Connection,
        secrets: Secrets,
        turn: &Turn,
    ) -> Result<Connection, OpError> {
        let slot = self.slot(&conn.provider)?;
        let revoked = match &secrets.access_token {
            Some(at) => slot.client.revoke_access(at).await,
            None => Ok(()),
        };
        let (lifetimes, access_token, said) = match self.held_out(&conn, revoked).await {
            Ok(()) => (
                Lifetimes {
                    access: None,
                    ..conn.lifetimes.clone()
                },
                SecretChange::Erase,
                "app token revoked at the provider; nothing renews it again".to_owned(),
            ),
            Err(e) if e.kind == ErrorKind::NotAllowed => (
                conn.lifetimes.clone(),
                SecretChange::Keep,
                format!(
                    "app token ended here, not at the provider: {}; it stays valid until it \
                     expires, and nothing renews it again",
                    e.message
                ),
            ),
            Err(e) => {
                let e = unanswered(e, LOGOUT_MAY_BE_DONE);
                return self.fail(&conn, OpKind::Logout, e, turn).await;
            }
        };
        let update = ConnectionUpdate {
            lifetimes: Some(lifetimes),
            flags: Some(Flags {
                logged_out_at: Some(self.now()),
                last_error: None,
                reauth_required: false,
                ..conn.flags.clone()
            }),
            access_token,
            ..ConnectionUpdate::default()
        };
        self.save(&conn, update, OpKind::Logout, said, turn).await
    }

    pub(super) async fn delink(
        &self,
        conn: Connection,
        secrets: Secrets,
        turn: &Turn,
    ) -> Result<Connection, OpError> {
        applies(
            &conn,
            ProviderKind::Dapi,
            "only Dapi connections are delinked; use logout",
        )?;
        live(&conn, "delink")?;
        let (Some(access), Some(user_secret)) = (secrets.access_token, secrets.user_secret) else {
            return self.close_unissued(conn, turn).await;
        };
        let slot = self.slot(&conn.provider)?;
        let answer = slot.client.delink(&access, &user_secret).await;
        match self.held_out(&conn, answer).await {
            Ok(()) => {
                let message = "delinked; secrets erased";
                self.save(&conn, self.delinked(), OpKind::Delink, message, turn)
                    .await
            }
            // Dapi no longer knows the token: nothing is left there to end,
            // and a row kept "active" would hand the dead token out and
            // fail every delink after. A delink whose answer was lost is
            // the common way here.
            Err(e) if e.kind == ErrorKind::TokenInvalid => {
                let message = format!(
                    "{}; nothing left to end, so closed here; secrets erased",
                    e.message
                );
                self.save(&conn, self.delinked(), OpKind::Delink, message, turn)
                    .await
            }
            Err(e) => {
                let e = unanswered(e, DELINK_MAY_BE_DONE);
                self.fail(&conn, OpKind::Delink, e, turn).await
            }
        }
    }

    /// Delink of a connection whose code never became a token (expired,
    /// refused, or never there): Dapi issued nothing that a delink could
    /// end, so the row is closed here, without a call. Such rows used to
    /// stay "code expired" or "failed" for good, with nothing to end them.
    /// A code still pending is refused here, as a guard only: the delink
    /// exchanged it first (`exchange_if_pending`).
    async fn close_unissued(&self, conn: Connection, turn: &Turn) -> Result<Connection, OpError> {
        if conn
            .lifetimes
            .code_expires_at
            .is_some_and(|t| self.now() < t)
        {
            return Err(OpError::not_allowed(
                "the access code is still pending: exchange it, then delink (Dapi's side is \
                 ended with the token the code becomes)",
            ));
        }
        if let Some(id) = self.exchange_lost(&conn).await? {
            // Closed all the same: nothing here can end that token, and a
            // row kept open would fail every delink after. A failure, so
            // that neither `users disconnect` nor the screen says it ended.
            let message = format!(
                "closed here without a call, but maybe not ended at Dapi: an exchange of its code \
                 got no answer bankdeck could keep (audit line {id}), so Dapi may hold a token \
                 for connectionID {} that bankdeck never had and cannot delink: end that link \
                 at Dapi; secrets erased",
                conn.remote
                    .connection_id
                    .as_deref()
                    .unwrap_or("(none held)")
            );
            let audit = self.audit(OpKind::Delink, false, message.clone());
            self.settle(&conn, self.delinked(), audit, turn, None)
                .await?;
            return Err(OpError::new(ErrorKind::Provider, message));
        }
        let message = "closed without a call to Dapi: no token was ever issued; secrets erased";
        self.save(&conn, self.delinked(), OpKind::Delink, message, turn)
            .await
    }

    /// The audit line of an exchange of `conn`'s code that may have been
    /// carried out at Dapi though its token never reached the store (its
    /// answer lost, or not written), if there is one. Lines an archive
    /// has moved out of the log are not read.
    async fn exchange_lost(&self, conn: &Connection) -> Result<Option<i64>, OpError> {
        let query = crate::store::AuditQuery {
            connection: Some(conn.id),
            failed_only: true,
            op: Some(OpKind::Exchange),
            limit: 1_000,
            ..Default::default()
        };
        let lines = self.db(move |s| s.audit_query(&query)).await?;
        Ok((lines.iter())
            .find(|l| crate::worker::keep::exchange_may_have_acted(&l.message))
            .map(|l| l.id))
    }

    /// The final state of a delinked connection: every secret erased.
    fn delinked(&self) -> ConnectionUpdate {
        ConnectionUpdate {
            lifetimes: Some(Lifetimes::default()),
            flags: Some(Flags {
                delinked_at: Some(self.now()),
                ..Flags::default()
            }),
            access_code: SecretChange::Erase,
            access_token: SecretChange::Erase,
            refresh_token: SecretChange::Erase,
            id_token: SecretChange::Erase,
            user_secret: SecretChange::Erase,
            ..ConnectionUpdate::default()
        }
    }
}
