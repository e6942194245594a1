//! Operations that create things: users, Dapi links, browser logins,
//! client-credentials tokens; plus the reads the screen asks for.

use super::halt::Registered;
use super::keep::AtStake;
use super::tokens::access_expiry;
use super::{Command, Detail, Done, Event, RequestId, Worker};
use crate::domain::{
    Claims, ConnectPayload, Connection, ConnectionId, ErrorKind, Grant, Lifetimes, OpError, OpKind,
    ProviderKind, RemoteIds, Secrets, User, UserId,
};
use crate::providers::TokenGrant;
use crate::providers::login::{LoginOptions, browser_callback};
use crate::store::{AuditDraft, NewConnection, StoreError};

/// The user that app-level (client-credentials) tokens are filed under.
pub const APP_USER: &str = "app";

/// A user name as the store keeps it (trimmed), or why it cannot be one:
/// looked up and added by this same text, so ` amira` finds `amira`.
fn user_name(name: &str) -> Result<&str, OpError> {
    User::check_name(name).map_err(OpError::not_allowed)
}

/// A new connection's `user_id` before the store has found or added the
/// user it is filed under by name ([`Store::insert_connection_for`]).
///
/// [`Store::insert_connection_for`]: crate::store::Store::insert_connection_for
const NAMED_USER: UserId = UserId(0);

/// A login or app token's grant as asked, for its failure's audit line.
#[derive(Clone, Copy)]
struct Asked<'a> {
    op: OpKind,
    provider: &'a str,
    user: &'a str,
    /// The row it was to renew, if any.
    renewing: Option<ConnectionId>,
}

impl Worker {
    pub(crate) async fn execute_new(&self, cmd: Command) {
        let id = cmd.id();
        let (op, result) = match cmd {
            Command::LinkDapi {
                provider,
                user,
                label,
                payload,
                ..
            } => (
                OpKind::Link,
                self.link_dapi(id, &provider, &user, &label, payload)
                    .await
                    .map(Done::ours),
            ),
            Command::Login {
                provider,
                user,
                renewing,
                ..
            } => (
                OpKind::Login,
                self.login_renewing(id, &provider, &user, renewing)
                    .await
                    .map(Done::ours),
            ),
            Command::ClientCredentials { provider, user, .. } => (
                OpKind::ClientCredentials,
                self.client_credentials(id, &provider, &user).await,
            ),
            Command::AddUser { name, email, .. } => {
                return self.report_user(id, name, email).await;
            }
            _ => return,
        };
        let event = match result {
            Ok(done) => Event::succeeded(id, op, done, self.now()),
            Err(error) => Event::Failed {
                id,
                op,
                conn_id: None,
                conn: None,
                error,
                next_try: None,
            },
        };
        self.emit(event).await;
    }

    pub async fn add_user(&self, name: &str, email: Option<&str>) -> Result<User, OpError> {
        self.refuse_if_readonly()?;
        let name = user_name(name)?.to_owned();
        let email = email
            .map(User::check_email)
            .transpose()
            .map_err(OpError::not_allowed)?
            .map(str::to_owned);
        let audit = self.user_added(&name);
        self.db(move |s| s.add_user(&name, email.as_deref(), audit))
            .await
    }

    /// Removes the user named `name` when no connection is theirs.
    pub async fn remove_user(&self, name: &str) -> Result<User, OpError> {
        self.refuse_if_readonly()?;
        let name = user_name(name)?.to_owned();
        let audit = self.audit(OpKind::RemoveUser, true, format!("user {name} removed"));
        self.db(move |s| s.remove_user(&name, audit)).await
    }

    async fn report_user(&self, id: RequestId, name: String, email: Option<String>) {
        let event = match self.add_user(&name, email.as_deref()).await {
            Ok(user) => Event::UserAdded { id, user },
            Err(error) => Event::Failed {
                id,
                op: OpKind::AddUser,
                conn_id: None,
                conn: None,
                error,
                next_try: None,
            },
        };
        self.emit(event).await;
    }

    /// The user named `name` (as [`user_name`] gave it), if the store holds
    /// one. Linking is how end users arrive in practice, so a name it does
    /// not hold is not refused: that user is added with the connection that
    /// brings them ([`Worker::insert_for`]), not before, so that a link,
    /// login or token request that fails leaves no user behind.
    async fn known_user(&self, name: &str) -> Result<Option<User>, OpError> {
        let owned = name.to_string();
        self.db(move |s| s.user_by_name(&owned)).await
    }

    /// The audit line of a new user, whichever way they came in.
    fn user_added(&self, name: &str) -> AuditDraft {
        self.audit(OpKind::AddUser, true, format!("user {name} added"))
    }

    /// Files `new` for the user named `user`, adding (and auditing) them in
    /// the same write if they are new. A new user is announced before the
    /// connection that brought it, so the screen lists it at once and does
    /// not later take it for another process's.
    async fn insert_for(
        &self,
        id: RequestId,
        user: &str,
        new: NewConnection,
        audit: AuditDraft,
    ) -> Result<Connection, StoreError> {
        let name = user.to_string();
        let user_audit = self.user_added(&name);
        let (conn, added) = self
            .db_store(move |s| s.insert_connection_for(&name, user_audit, new, audit))
            .await?;
        if let Some(user) = added {
            self.emit(Event::UserAdded { id, user }).await;
        }
        Ok(conn)
    }

    /// Files a Connect success payload as a new Dapi connection with its code pending.
    pub async fn link_dapi(
        &self,
        id: RequestId,
        provider: &str,
        user: &str,
        label: &str,
        payload: ConnectPayload,
    ) -> Result<Connection, OpError> {
        self.refuse_if_readonly()?;
        let slot = self.slot(provider)?;
        let Some(ttl) = slot.config.access_code_ttl() else {
            return Err(OpError::not_allowed(format!(
                "provider '{provider}' is not a Dapi provider"
            )));
        };
        let user = user_name(user)?;
        let label = Connection::check_label(label).map_err(OpError::not_allowed)?;
        let now = self.now();
        payload
            .check_fresh(now, Some(ttl))
            .map_err(|why| OpError::not_allowed(format!("{why}; nothing was added")))?;
        // The code's own `exp` wins (seed 002's sample lives 300 s, not the documented 30 min).
        let code_exp = (payload.code_expires_at(Some(ttl))).unwrap_or_else(|| now.plus(ttl));
        let new = NewConnection {
            user_id: NAMED_USER,
            provider: provider.to_string(),
            kind: ProviderKind::Dapi,
            grant: Grant::DapiConnect,
            label: if label.trim().is_empty() {
                provider.to_string()
            } else {
                label.trim().to_string()
            },
            remote: RemoteIds {
                connection_id: Some(payload.connection_id.clone()),
                user_id: payload.user_id.clone(),
                token_id: payload.token_id.clone(),
                session: None,
            },
            lifetimes: Lifetimes {
                code_expires_at: Some(code_exp),
                ..Lifetimes::default()
            },
            scopes: Default::default(),
            secrets: Secrets {
                access_code: Some(payload.access_code),
                user_secret: Some(payload.user_secret),
                ..Secrets::default()
            },
        };
        let audit = self.audit(
            OpKind::Link,
            true,
            format!(
                "Connect payload for connection {} stored",
                payload.connection_id
            ),
        );
        Ok(self.insert_for(id, user, new, audit).await?)
    }

    pub async fn login(
        &self,
        id: RequestId,
        provider: &str,
        user: &str,
    ) -> Result<Connection, OpError> {
        self.login_renewing(id, provider, user, None).await
    }

    /// The account behind `conn`, as its id token names it for logging in
    /// (`preferred_username`): sent to the provider that issued it, so
    /// nothing it does not know leaves. None when there is no such claim.
    async fn account_of(&self, conn: ConnectionId) -> Option<String> {
        let secrets = self.db(move |s| s.secrets(conn)).await.ok()?;
        let claims = crate::domain::Claims::decode(secrets.id_token?.expose()).ok()?;
        claims.str("preferred_username").map(str::to_owned)
    }

    /// [`Worker::login`] that renews `renewing`: the provider is told which
    /// account to offer, so the same user consents and the row is renewed
    /// in place rather than a new one made.
    pub async fn login_renewing(
        &self,
        id: RequestId,
        provider: &str,
        user: &str,
        renewing: Option<ConnectionId>,
    ) -> Result<Connection, OpError> {
        // First, so that it is unregistered however the login ends.
        let halt = Registered::new(self, id);
        self.refuse_if_readonly()?;
        let slot = self.slot(provider)?;
        // Checked before the browser is sent off, not after the operator
        // has logged in: the user is only made once the login completes.
        let user = user_name(user)?;
        // A wait the provider asked for holds a login as it holds a
        // refresh: refused before the user consents, not after, when the
        // code's redemption could not wait.
        if let Some(held) = self.held_by_wait(slot).await {
            return Err(held);
        }
        let opts = LoginOptions {
            redirect_port: client_of(&slot.config).and_then(|c| c.redirect_port),
            timeout: self.inner.opts.login_timeout,
            open_browser: self.inner.opts.open_browser,
            login_hint: match renewing {
                Some(conn) => self.account_of(conn).await,
                None => None,
            },
        };
        let asked = Asked {
            op: OpKind::Login,
            provider,
            user,
            renewing,
        };
        let events = self.inner.events.clone();
        let on_url = move |url: &str| {
            // try_send: the URL is also printed by the CLI; a full queue must not block the login.
            let _ = events.try_send(Event::LoginUrl {
                id,
                url: url.to_string(),
            });
        };
        // Nothing is sent while the browser is away: a front end that ends
        // (Ctrl-C, `q`) need not wait for it.
        let callback = tokio::select! {
            back = browser_callback(slot.client.as_ref(), opts, on_url) => match back {
                Ok(back) => back,
                Err(e) => return Err(self.heard(slot, asked, e).await),
            },
            () = self.until_stopping() => return Err(OpError::new(
                ErrorKind::Cancelled,
                "login stopped while it waited for the browser: nothing was sent",
            )),
            // Once the browser is back, a cancel no longer stops it: the
            // code's redemption issues tokens.
            () = halt.halt().stopped() => return Err(OpError::new(
                ErrorKind::Cancelled,
                "login cancelled while it waited for the browser: nothing was sent",
            )),
        };
        // The code's redemption issues tokens that exist nowhere else until
        // they are written: from here it counts as sent.
        let Ok(_sending) = self.begin_sending(OpKind::Login) else {
            let stopped = OpError::new(
                ErrorKind::Cancelled,
                "login stopped before its code was redeemed: nothing was issued; start it again",
            );
            callback.decline(&stopped).await;
            return Err(stopped);
        };
        // Redeemed even if a wait was asked for meanwhile: the user has
        // consented, and the code would lapse while we waited.
        let grant = match callback.redeem(slot.client.as_ref()).await {
            Ok(grant) => grant,
            Err(e) => return Err(self.heard(slot, asked, e).await),
        };
        self.file_grant(
            id,
            provider,
            user,
            Grant::AuthorizationCode,
            grant,
            OpKind::Login,
            renewing,
        )
        .await
    }

    pub async fn client_credentials(
        &self,
        id: RequestId,
        provider: &str,
        user: &str,
    ) -> Result<Done, OpError> {
        self.refuse_if_readonly()?;
        let slot = self.slot(provider)?;
        if slot.config.kind() == ProviderKind::Dapi {
            return Err(OpError::not_allowed("Dapi has no client-credentials grant"));
        }
        let user = user_name(user)?;
        // One app token per provider and user: asked for again, the grant
        // renews the one held (as `r` on its row does) instead of adding a
        // row the scheduler would keep renewing beside it.
        let held = match self.known_user(user).await? {
            Some(known) => {
                self.held(&known, |c| {
                    c.renewed_by(provider, Grant::ClientCredentials, None)
                })
                .await?
            }
            None => None,
        };
        if let Some(held) = held {
            return self.operate_done(OpKind::Refresh, held).await;
        }
        let (grant, _sending) = {
            // Through the look-ahead like every operation, so no request
            // jumps ahead of those waiting for a turn with their lease in
            // hand (their lease term counts on it).
            let ahead = slot.ahead.acquire().await;
            let _permit = slot.permits.acquire().await;
            drop(ahead);
            if let Some(held) = self.held_by_wait(slot).await {
                return Err(held);
            }
            // Until it is written, the new token exists nowhere else.
            let sending = self.begin_sending(OpKind::ClientCredentials)?;
            let grant = match slot.client.client_credentials().await {
                Ok(grant) => grant,
                Err(e) => {
                    let asked = Asked {
                        op: OpKind::ClientCredentials,
                        provider,
                        user,
                        renewing: None,
                    };
                    return Err(self.heard(slot, asked, e).await);
                }
            };
            (grant, sending)
        };
        self.file_grant(
            id,
            provider,
            user,
            Grant::ClientCredentials,
            grant,
            OpKind::ClientCredentials,
            None,
        )
        .await
        .map(Done::ours)
    }

    /// `e`, a provider's answer to a login or grant (or the browser's),
    /// counted as a refresh's is: a 429 or 503 holds every request to that
    /// provider, the scheduler's too, for the time it asked. Written to the
    /// audit log as every outcome is, on the row it was to renew; a new
    /// user's has no row, so its line names the user and provider.
    async fn heard(&self, slot: &super::Slot, asked: Asked<'_>, e: OpError) -> OpError {
        self.hear_wait(slot, &e).await;
        let Asked {
            op,
            provider,
            user,
            renewing,
        } = asked;
        let cost = match op {
            OpKind::ClientCredentials => {
                "the provider may have issued a token in the lost answer, which bankdeck never \
                 held: ask for it again"
            }
            _ => {
                "the provider may have issued tokens in the lost answer, which bankdeck never \
                 held: log in again"
            }
        };
        let e = super::ops::unanswered(e, cost);
        let line = self.audit(
            op,
            false,
            format!("{op} at {provider} for {user}: {}", e.message),
        );
        if let Err(why) = self.db(move |s| s.append_audit(renewing, line)).await {
            // The failure is still the operator's to hear, by its report.
            tracing::warn!(%op, error = %why, "a failed {op}'s audit line was not written");
        }
        e
    }

    /// Files a grant a login produced elsewhere (the demo's browserless login).
    pub async fn adopt_login(
        &self,
        id: RequestId,
        provider: &str,
        user: &str,
        grant: TokenGrant,
    ) -> Result<Connection, OpError> {
        self.refuse_if_readonly()?;
        let user = user_name(user)?;
        self.file_grant(
            id,
            provider,
            user,
            Grant::AuthorizationCode,
            grant,
            OpKind::Login,
            None,
        )
        .await
    }

    #[allow(clippy::too_many_arguments)] // One call per way a grant is born.
    async fn file_grant(
        &self,
        id: RequestId,
        provider: &str,
        user: &str,
        kind: Grant,
        grant: TokenGrant,
        op: OpKind,
        renewing: Option<ConnectionId>,
    ) -> Result<Connection, OpError> {
        let slot = self.slot(provider)?;
        if kind == Grant::AuthorizationCode
            && let Some(known) = self.known_user(user).await?
        {
            if let Some(held) = self.same_account(provider, &known, &grant).await? {
                let message = format!("{op} at {provider} for {user}: connection {held} renewed");
                return self.relogin(held, grant, op, message).await;
            }
            if let Some(held) = self
                .asked_to_renew(renewing, provider, &known, &grant)
                .await?
            {
                let message = format!(
                    "{op} at {provider} for {user}: connection {held} renewed, the row it was \
                     asked for (the provider names no account to check it by)"
                );
                return self.relogin(held, grant, op, message).await;
            }
        }
        let now = self.now();
        let again = grant.clone();
        let new = NewConnection {
            user_id: NAMED_USER,
            provider: provider.to_string(),
            kind: slot.config.kind(),
            grant: kind,
            label: provider.to_string(),
            remote: RemoteIds {
                user_id: grant.subject.clone(),
                session: grant.session.clone(),
                ..RemoteIds::default()
            },
            lifetimes: Lifetimes {
                code_expires_at: None,
                access: Some(access_expiry(&grant, now)),
                access_received_at: Some(now),
                has_refresh: grant.refresh_token.is_some(),
                refresh_expires_at: grant
                    .refresh_expires_in
                    .map(|s| now.plus_secs(i64::try_from(s).unwrap_or(i64::MAX))),
                // One grant cannot show it: the first refresh will.
                refresh_slides: false,
            },
            scopes: grant.scopes.clone(),
            secrets: Secrets {
                access_token: Some(grant.access_token),
                refresh_token: grant.refresh_token,
                id_token: grant.id_token,
                ..Secrets::default()
            },
        };
        let audit = self.audit(op, true, format!("{op} at {provider} for {user}"));
        let stake = AtStake::Grant { op, provider, user };
        let filed = self.keep_writing(stake, || async {
            match self.insert_for(id, user, new.clone(), audit.clone()).await {
                Err(StoreError::Held(held)) => Ok(Err(held)),
                other => other.map(Ok),
            }
        });
        match filed.await? {
            Ok(conn) => Ok(conn),
            // Another process filed the same grant while this one asked for
            // it: this grant renews that row, as it would have had the row
            // been there when this one looked.
            Err(held) => {
                let message = format!(
                    "{op} at {provider} for {user}: connection {held} renewed (filed by another \
                     process meanwhile)"
                );
                self.relogin(held, again, op, message).await
            }
        }
    }

    /// The user's connection at `provider` that a login's grant renews: the
    /// same account (the provider's subject), not delinked. A user who logs
    /// in again after a refusal or a logout got a second row beside the dead
    /// one, which stayed "re-consent required" for good. Without a subject
    /// to go by (plain OAuth 2.0), each login is its own connection.
    async fn same_account(
        &self,
        provider: &str,
        user: &User,
        grant: &TokenGrant,
    ) -> Result<Option<ConnectionId>, OpError> {
        let Some(subject) = grant.subject.as_deref() else {
            return Ok(None);
        };
        self.held(user, |c| {
            c.renewed_by(provider, Grant::AuthorizationCode, Some(subject))
        })
        .await
    }

    /// The row a login was started to renew, when neither it nor the grant
    /// names an account (plain OAuth 2.0 has no subject): the operator chose
    /// the row, and no account can tell it apart. Without this, every
    /// renewal of such a row made a second one beside it, and the first
    /// stayed "re-consent required" for good. A row that names an account
    /// is renewed only by the same account ([`Self::same_account`]).
    async fn asked_to_renew(
        &self,
        renewing: Option<ConnectionId>,
        provider: &str,
        user: &User,
        grant: &TokenGrant,
    ) -> Result<Option<ConnectionId>, OpError> {
        let Some(wanted) = renewing.filter(|_| grant.subject.is_none()) else {
            return Ok(None);
        };
        self.held(user, |c| {
            c.id == wanted
                && c.provider == provider
                && c.grant == Grant::AuthorizationCode
                && c.flags.delinked_at.is_none()
                && c.remote.user_id.is_none()
        })
        .await
    }

    /// The user's connection that `is` picks: what a second login or token
    /// request renews instead of adding a row. Read through the user's
    /// index, not the whole table.
    async fn held(
        &self,
        user: &User,
        is: impl Fn(&Connection) -> bool,
    ) -> Result<Option<ConnectionId>, OpError> {
        let uid = user.id;
        let theirs = self.db(move |s| s.user_connections(uid)).await?;
        Ok(theirs.into_iter().find(|c| is(c)).map(|c| c.id))
    }

    pub async fn detail(&self, conn: ConnectionId) -> Result<Detail, OpError> {
        let (secrets, audit, archived_before) = self
            .db(move |s| {
                let audit = s.audit(Some(conn), Detail::AUDIT_READ)?;
                let begins = match audit.len() < Detail::AUDIT_READ {
                    true => s.audit_log_begins()?,
                    false => None,
                };
                // A connection born after the log's first line had nothing
                // archived. Born in the same second, its first lines may
                // have gone: the pane says so rather than miss them.
                let archived_before = match begins {
                    Some(t) => s.connection(conn)?.filter(|c| c.created_at <= t).map(|_| t),
                    None => None,
                };
                Ok((s.secrets(conn)?, audit, archived_before))
            })
            .await?;
        let decode = |s: &Option<crate::domain::Secret>| {
            s.as_ref().and_then(|t| Claims::decode(t.expose()).ok())
        };
        Ok(Detail {
            access_claims: decode(&secrets.access_token),
            id_claims: decode(&secrets.id_token),
            code_claims: decode(&secrets.access_code),
            secrets,
            audit,
            archived_before,
        })
    }

    pub(crate) async fn report_detail(&self, id: RequestId, conn: ConnectionId) {
        match self.detail(conn).await {
            Ok(detail) => {
                self.emit(Event::Detail {
                    id,
                    conn,
                    detail: Box::new(detail),
                })
                .await
            }
            Err(error) => {
                self.emit(Event::Notice {
                    message: format!("cannot load connection {conn}: {error}"),
                })
                .await
            }
        }
    }

    /// Records that the operator is shown `conn`'s tokens, before the
    /// screen shows them: a read-only run cannot record, so shows nothing.
    pub(crate) async fn report_reveal(&self, id: RequestId, conn: ConnectionId) {
        let recorded = match self.refuse_if_readonly() {
            Err(e) => Err(e.to_string()),
            Ok(()) => {
                let line = self.audit(OpKind::Reveal, true, "tokens shown on the screen");
                let append = move |s: &dyn crate::store::Store| s.append_audit(Some(conn), line);
                self.db(append).await.map_err(|e| e.to_string())
            }
        };
        self.emit(Event::Revealed { id, conn, recorded }).await;
    }

    pub(crate) async fn report_reload(&self, id: RequestId) {
        let read = |s: &dyn crate::store::Store| {
            // The mark first: whatever is written while the rows are read is
            // asked for again, never missed.
            let audit_mark = s.audit_mark()?;
            Ok((s.connections()?, s.users()?, audit_mark))
        };
        match self.db(read).await {
            Ok((connections, users, audit_mark)) => {
                self.emit(Event::Loaded {
                    id,
                    connections,
                    users,
                    audit_mark,
                })
                .await;
                self.inner.first_load.send_replace(true);
            }
            Err(error) => {
                self.emit(Event::Notice {
                    message: format!("cannot read the store: {error}"),
                })
                .await
            }
        }
    }

    pub(crate) async fn report_changes(&self, id: RequestId, after: i64, users_after: UserId) {
        // As what other processes wrote comes in, so do the waits they
        // heard: a screen learns of a cron run's 429 within a second or two.
        self.heed_stored_waits().await;
        let mut changes = self
            .db(move |s| s.changes_since(after, users_after, CHANGES_AT_ONCE))
            .await
            .map_err(|e| e.message);
        // Ours the screen knows from its own commands; a dead process's
        // lease is broken by the next operation that wants the row.
        if let Ok(changes) = &mut changes {
            let now = self.now();
            (changes.leases).retain(|l| l.holder != self.inner.holder && l.at_work(now));
        }
        self.emit(Event::Changed { id, changes }).await;
    }
}

/// Audit lines read per [`Command::Changes`]: after a script refreshed tens
/// of thousands of rows, the screen catches up a slice per ask instead of
/// reading them all in one go.
const CHANGES_AT_ONCE: usize = 2_000;

fn client_of(cfg: &crate::config::ProviderConfig) -> Option<&crate::config::Client> {
    match &cfg.family {
        crate::config::Family::OAuth2(o) => Some(&o.client),
        crate::config::Family::Oidc(o) => Some(&o.client),
        crate::config::Family::Dapi(_) => None,
    }
}
