//! A Dapi access code exchanged for its permanent token, or dropped when
//! Dapi says it is spent or expired.

use super::{Turn, applies, live, unanswered};
use crate::domain::{
    Connection, ErrorKind, Flags, Lifetimes, OpError, OpKind, ProviderKind, Secrets,
};
use crate::store::{ConnectionUpdate, SecretChange};
use crate::worker::Worker;
use crate::worker::tokens::grant_update;

impl Worker {
    pub(super) async fn exchange(
        &self,
        conn: Connection,
        secrets: Secrets,
        turn: &Turn,
    ) -> Result<Connection, OpError> {
        applies(
            &conn,
            ProviderKind::Dapi,
            "only Dapi access codes are exchanged",
        )?;
        live(&conn, "exchange")?;
        let Some(code) = secrets.access_code else {
            // "Link again" is the wrong advice for a connection whose code
            // became its permanent token (`exchange` run twice).
            return Err(OpError::not_allowed(if conn.lifetimes.access.is_some() {
                "nothing to exchange: the code was exchanged already and its token is held"
            } else {
                "no access code to exchange: link the user again"
            }));
        };
        let now = self.now();
        if conn.lifetimes.code_expires_at.is_some_and(|t| now >= t) {
            let err = OpError::new(
                ErrorKind::CodeInvalid,
                "the access code has expired: link the user again",
            );
            return self.code_dead(conn, err, turn).await;
        }
        let connection_id = conn.remote.connection_id.clone().unwrap_or_default();
        let slot = self.slot(&conn.provider)?;
        let answer = slot.client.exchange(&code, &connection_id).await;
        match self.held_out(&conn, answer).await {
            Ok(grant) => {
                let update = grant_update(&conn, &grant, now);
                self.save(
                    &conn,
                    update,
                    OpKind::Exchange,
                    "access code exchanged for a permanent token",
                    turn,
                )
                .await
            }
            Err(e) if e.kind == ErrorKind::CodeInvalid => self.code_dead(conn, e, turn).await,
            Err(e) => {
                let e = unanswered(e, crate::worker::keep::CODE_MAY_BE_SPENT);
                self.fail(&conn, OpKind::Exchange, e, turn).await
            }
        }
    }

    /// The provider says the code is spent or expired: drop it (it can never
    /// work again) and say to link again.
    async fn code_dead(
        &self,
        conn: Connection,
        e: OpError,
        turn: &Turn,
    ) -> Result<Connection, OpError> {
        let update = ConnectionUpdate {
            lifetimes: Some(Lifetimes {
                code_expires_at: None,
                ..conn.lifetimes.clone()
            }),
            flags: Some(Flags {
                last_error: Some(e.message.clone()),
                ..conn.flags.clone()
            }),
            access_code: SecretChange::Erase,
            ..ConnectionUpdate::default()
        };
        let audit = self.audit(OpKind::Exchange, false, e.message.clone());
        self.settle(&conn, update, audit, turn, None).await?;
        Err(e)
    }
}
