//! Every operation of every family end to end: the real worker, store and
//! provider clients against the sandbox over HTTP on 127.0.0.1.

mod common;

use bankdeck::domain::{
    AccessExpiry, ConnState, ConnectPayload, ErrorKind, OpKind, Scopes, Secret, StateKind, UnixTime,
};
use bankdeck::domain::{Connection, User};
use bankdeck::providers::{GrantExpiry, TokenGrant};
use bankdeck::sandbox::{FaultKind, FaultRule, SandboxOptions, parse_fault};
use bankdeck::store::intercept::{Intercept, Intercepted};
use bankdeck::store::{AuditDraft, NewConnection, Store, StoreError};
use bankdeck::worker::{DoneBy, RequestId, WorkerOptions};
use common::Env;
use std::sync::Arc;
use std::time::Duration;

fn state(env: &Env, id: bankdeck::domain::ConnectionId) -> ConnState {
    ConnState::derive(&env.conn(id), UnixTime::now(), env.config.warn_secs())
}

fn fault(route: &str, kind: FaultKind) -> FaultRule {
    FaultRule {
        route: route.into(),
        kind,
        count: Some(1),
        rate: None,
    }
}

#[tokio::test]
async fn dapi_link_exchange_delink() {
    let env = Env::start().await;
    let c = env.dapi("amira").await;
    assert_eq!(state(&env, c.id).kind(), StateKind::CodePending);
    let c = env.op(OpKind::Exchange, c.id).await.unwrap();
    assert_eq!(c.lifetimes.access, Some(AccessExpiry::Permanent));
    assert!(c.scopes.granted.contains(&"accounts.get".to_string()));
    assert!(c.scopes.denied.contains(&"transfer.create".to_string()));
    assert_eq!(*c.scopes.products, vec!["data", "payment"]);
    let s = env.secrets(c.id);
    assert!(s.access_code.is_none(), "a used code is erased");
    assert!(s.access_token.is_some() && s.user_secret.is_some());
    // Exchanged twice: said so, not "link again", and nothing is sent.
    let sent = env.sandbox.request_count("dapi.exchange");
    let again = env.op(OpKind::Exchange, c.id).await.unwrap_err();
    assert_eq!(again.kind, ErrorKind::NotAllowed);
    assert!(
        again.message.contains("exchanged already") && !again.message.contains("link"),
        "{}",
        again.message
    );
    assert_eq!(env.sandbox.request_count("dapi.exchange"), sent);
    let c = env.op(OpKind::Delink, c.id).await.unwrap();
    assert_eq!(state(&env, c.id).kind(), StateKind::Delinked);
    assert_eq!(
        env.secrets(c.id).all().count(),
        0,
        "delink erases every secret"
    );
    let ops: Vec<OpKind> = env
        .store
        .audit(Some(c.id), 10)
        .unwrap()
        .iter()
        .map(|a| a.op)
        .collect();
    assert_eq!(ops, vec![OpKind::Delink, OpKind::Exchange, OpKind::Link]);
    // Final: nothing more can be done with it, and nothing is sent.
    let before = env.sandbox.request_count("dapi.delink");
    assert_eq!(
        env.op(OpKind::Delink, c.id).await.unwrap_err().kind,
        ErrorKind::Ended
    );
    assert_eq!(env.sandbox.request_count("dapi.delink"), before);
    let e = env.op(OpKind::Exchange, c.id).await.unwrap_err();
    assert!(e.message.contains("delinked"), "{}", e.message);
}

#[tokio::test]
async fn dapi_reused_code_says_link_again_and_is_not_retried() {
    let env = Env::start().await;
    let c = env.dapi("amira").await;
    let code = env.secrets(c.id).access_code.unwrap();
    // Someone else exchanged it first.
    env.provider("dapi")
        .exchange(&code, c.remote.connection_id.as_deref().unwrap())
        .await
        .unwrap();
    let e = env.op(OpKind::Exchange, c.id).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::CodeInvalid);
    assert!(
        e.message.contains("Invalid token") && e.message.contains("link again"),
        "{e}"
    );
    assert_eq!(
        env.sandbox.request_count("dapi.exchange"),
        2,
        "exactly one attempt of ours"
    );
    assert_eq!(
        state(&env, c.id).describe(UnixTime::now()),
        format!("failed: {}", e.message)
    );
    // The dead code is gone, so a second try sends nothing.
    assert_eq!(
        env.op(OpKind::Exchange, c.id).await.unwrap_err().kind,
        ErrorKind::NotAllowed
    );
    assert_eq!(env.sandbox.request_count("dapi.exchange"), 2);
}

/// An exchange whose answer is lost may have spent the code: said at once,
/// with the code kept (the request may never have arrived), and the next
/// try's refusal ends it as any spent code.
#[tokio::test]
async fn a_lost_exchange_says_the_code_may_be_spent() {
    let env = Env::start().await;
    let c = env.dapi("amira").await;
    env.sandbox
        .set_faults(vec![fault("dapi.exchange", FaultKind::Lose)]);
    let e = env.op(OpKind::Exchange, c.id).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Lost);
    assert!(
        e.message.ends_with(
            "; the provider may have spent the access code: \
             if the next exchange is refused, the user must link again"
        ),
        "{e}"
    );
    assert!(env.secrets(c.id).access_code.is_some(), "the code is kept");
    env.sandbox.set_faults(Vec::new());
    let e = env.op(OpKind::Exchange, c.id).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::CodeInvalid, "{e}");
    assert!(env.secrets(c.id).access_code.is_none());
}

/// A sandbox whose access codes live 300 s, as seed 002's sample does.
async fn five_minute_codes() -> Env {
    Env::start_with(
        SandboxOptions {
            code_ttl: std::time::Duration::from_secs(300),
            ..Default::default()
        },
        "",
        WorkerOptions::default(),
    )
    .await
}

#[tokio::test]
async fn dapi_code_past_its_expiry_is_not_sent() {
    let env = five_minute_codes().await;
    let c = env.dapi_linked_ago("amira", 1000).await;
    assert_eq!(state(&env, c.id).kind(), StateKind::CodeExpired);
    let e = env.op(OpKind::Exchange, c.id).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::CodeInvalid);
    assert!(e.message.contains("link the user again"), "{e}");
    assert_eq!(env.sandbox.request_count("dapi.exchange"), 0);
}

/// A Dapi code still pending is exchanged by its delink first, whichever
/// front end asks: only the token the code becomes ends Dapi's side. A
/// failed exchange delinks nothing and says so.
#[tokio::test]
async fn delink_of_a_pending_code_exchanges_it_first() {
    let env = five_minute_codes().await;
    let pending = env.dapi("omar").await;
    env.sandbox
        .set_faults(vec![parse_fault("dapi.exchange:500,count=1").unwrap()]);
    let e = env.op(OpKind::Delink, pending.id).await.unwrap_err();
    assert!(
        e.message
            .starts_with("the pending code's exchange failed, so nothing was delinked: "),
        "{}",
        e.message
    );
    assert_eq!(state(&env, pending.id).kind(), StateKind::CodePending);
    assert_eq!(env.sandbox.request_count("dapi.delink"), 0);

    let c = env.op(OpKind::Delink, pending.id).await.unwrap();
    assert_eq!(state(&env, c.id).kind(), StateKind::Delinked);
    assert_eq!(env.secrets(c.id).all().count(), 0);
    assert_eq!(env.sandbox.request_count("dapi.exchange"), 2);
    assert_eq!(env.sandbox.request_count("dapi.delink"), 1, "a real delink");
    let newest: Vec<(OpKind, bool)> = (env.store.audit(Some(c.id), 3).unwrap())
        .iter()
        .map(|a| (a.op, a.ok))
        .collect();
    assert_eq!(
        newest,
        [
            (OpKind::Delink, true),
            (OpKind::Exchange, true),
            (OpKind::Exchange, false)
        ]
    );
}

/// Another process exchanged the pending code while our delink's exchange
/// waited for its lease: ours finds nothing to exchange, and the delink goes
/// ahead with their token (one exchange at Dapi, theirs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delink_whose_code_another_process_exchanged_meanwhile_goes_ahead() {
    let env = five_minute_codes().await;
    let c = env.dapi("omar").await;
    let got = behind_their_exchange(&env, &c, OpKind::Delink)
        .await
        .unwrap();
    assert_eq!(got.by, DoneBy::This, "the delink was ours");
    assert_eq!(state(&env, c.id).kind(), StateKind::Delinked);
    assert_eq!(env.sandbox.request_count("dapi.exchange"), 1, "theirs only");
    assert_eq!(env.sandbox.request_count("dapi.delink"), 1);
}

/// Another process exchanged the code while our exchange waited for its
/// lease (two scripts' `access-token`, the scheduler's auto_exchange): its
/// token is ours, and Dapi sees no second exchange, which the spent code
/// would fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exchange_another_process_did_while_we_waited_is_ours() {
    let env = five_minute_codes().await;
    let c = env.dapi("omar").await;
    let got = behind_their_exchange(&env, &c, OpKind::Exchange)
        .await
        .unwrap();
    assert_eq!(got.by, DoneBy::Another, "said to be theirs, not ours");
    assert_eq!(got.conn.version, env.conn(c.id).version);
    assert_eq!(state(&env, c.id).kind(), StateKind::Active);
    assert_eq!(env.sandbox.request_count("dapi.exchange"), 1, "theirs only");
}

/// Runs `op` on `c` while another process holds its lease, exchanges its
/// code at Dapi, writes the token and gives the lease back.
async fn behind_their_exchange(
    env: &Env,
    c: &bankdeck::domain::Connection,
    op: OpKind,
) -> Result<bankdeck::worker::Done, bankdeck::domain::OpError> {
    use bankdeck::domain::{AccessExpiry, Lifetimes, Secret};
    use bankdeck::store::{AuditDraft, ConnectionUpdate, SecretChange};
    // Another host: never taken for a dead process of ours and broken.
    let holder = "elsewhere|1|0|other";
    let now = UnixTime::now();
    let (base, _) = (env.store)
        .lease_and_read(c.id, holder, now.plus_secs(30), now)
        .unwrap()
        .unwrap();
    let ours = {
        let (w, id) = (env.worker.clone(), c.id);
        tokio::spawn(async move { w.operate_done(op, id).await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    assert!(!ours.is_finished(), "ours waits for the lease");
    // Theirs: the exchange at Dapi, and its token written.
    let code = env.secrets(c.id).access_code.unwrap();
    let body = serde_json::json!({
        "appSecret": bankdeck::sandbox::DEMO_APP_SECRET,
        "accessCode": code.expose(),
        "connectionID": c.remote.connection_id,
    });
    let url = format!("{}/v2/auth/ExchangeToken", env.sandbox.dapi_base_url());
    let reply: serde_json::Value = reqwest::Client::new()
        .post(url)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = reply["accessToken"].as_str().unwrap();
    let update = ConnectionUpdate {
        lifetimes: Some(Lifetimes {
            access: Some(AccessExpiry::Permanent),
            access_received_at: Some(UnixTime::now()),
            ..Lifetimes::default()
        }),
        access_code: SecretChange::Erase,
        access_token: SecretChange::Set(Secret::new(token)),
        ..ConnectionUpdate::default()
    };
    let audit = AuditDraft {
        at: UnixTime::now(),
        actor: "other".into(),
        op: OpKind::Exchange,
        ok: true,
        message: "their exchange".into(),
    };
    (env.store)
        .apply_and_release(base, update, audit, holder)
        .unwrap();
    ours.await.unwrap()
}

/// A Dapi code that never became a token can still be ended: delink
/// closes the row here, without a call (Dapi issued nothing to delink).
/// Such rows used to stay "code expired" or "failed" for good.
#[tokio::test]
async fn delink_closes_a_code_that_never_became_a_token_without_a_call() {
    let env = five_minute_codes().await;
    let expired = env.dapi_linked_ago("amira", 1000).await;
    let failed = env.dapi_linked_ago("lena", 1000).await;
    assert_eq!(state(&env, expired.id).kind(), StateKind::CodeExpired);
    env.op(OpKind::Exchange, failed.id).await.unwrap_err();
    assert_eq!(state(&env, failed.id).kind(), StateKind::Failed);
    for c in [expired, failed] {
        let c = env.op(OpKind::Delink, c.id).await.unwrap();
        assert_eq!(state(&env, c.id).kind(), StateKind::Delinked);
        assert_eq!(env.secrets(c.id).all().count(), 0);
        let newest = &env.store.audit(Some(c.id), 1).unwrap()[0];
        assert_eq!((newest.op, newest.ok), (OpKind::Delink, true));
        assert!(
            newest.message.contains("without a call to Dapi"),
            "{}",
            newest.message
        );
    }
    assert_eq!(env.sandbox.request_count("dapi.delink"), 0);
}

/// A delink after an exchange whose answer was lost: Dapi may hold the
/// token that answer carried, which no delink from here can end. The row
/// is closed all the same, but the delink fails and says so: it said "no
/// token was ever issued", and `users disconnect` "every connection ended".
/// The same when the delink's own exchange of the code, still pending
/// after the lost answer, is the one Dapi refuses: it said "link again"
/// and left the row open, and only a second delink closed it.
#[tokio::test]
async fn delink_after_a_lost_exchange_says_dapi_may_still_hold_a_token() {
    let env = Env::start().await;
    for refused_by in [OpKind::Exchange, OpKind::Delink] {
        let c = env.dapi("amira").await;
        env.sandbox
            .set_faults(vec![fault("dapi.exchange", FaultKind::Lose)]);
        let lost = env.op(OpKind::Exchange, c.id).await.unwrap_err();
        assert!(
            lost.message.contains("may have spent the access code"),
            "{}",
            lost.message
        );
        // Dapi knows the code as spent now: the next exchange is refused.
        if refused_by == OpKind::Exchange {
            env.op(OpKind::Exchange, c.id).await.unwrap_err();
        }
        let e = env.op(OpKind::Delink, c.id).await.unwrap_err();
        assert!(
            e.message.contains("maybe not ended at Dapi")
                && e.message
                    .contains(c.remote.connection_id.as_deref().unwrap()),
            "{refused_by}: {}",
            e.message
        );
        assert_eq!(state(&env, c.id).kind(), StateKind::Delinked);
        assert_eq!(env.secrets(c.id).all().count(), 0);
        let newest = &env.store.audit(Some(c.id), 1).unwrap()[0];
        assert_eq!((newest.op, newest.ok), (OpKind::Delink, false));
    }
    assert_eq!(env.sandbox.request_count("dapi.exchange"), 4);
    assert_eq!(env.sandbox.request_count("dapi.delink"), 0);
}

#[tokio::test]
async fn oidc_refresh_rotates_and_the_store_holds_the_newest() {
    let env = Env::start().await;
    let c = env.login("everifin", "lena").await;
    let first = env.secrets(c.id);
    assert!(c.scopes.granted.contains(&"openid".to_string()));
    let before = UnixTime::now();
    let c = env.op(OpKind::Refresh, c.id).await.unwrap();
    let second = env.secrets(c.id);
    assert_ne!(first.refresh_token, second.refresh_token);
    assert_ne!(first.access_token, second.access_token);
    assert!(second.id_token.is_some());
    let exp = c.lifetimes.access.unwrap().at().unwrap();
    assert!(
        (before.plus_secs(300)..=UnixTime::now().plus_secs(300)).contains(&exp),
        "expiry counts from receipt"
    );
    assert!(c.lifetimes.refresh_expires_at.is_some());
    assert_eq!(state(&env, c.id).kind(), StateKind::Active);
}

#[tokio::test]
async fn replayed_rotated_token_means_reconsent_and_spares_the_others() {
    let env = Env::start().await;
    let a = env.login("everifin", "lena").await;
    let b = env.login("everifin", "omar").await;
    let b_before = env.secrets(b.id);
    let old = env.secrets(a.id).refresh_token.unwrap();
    env.op(OpKind::Refresh, a.id).await.unwrap();
    // A leaked copy of the old token is replayed: the realm revokes the family.
    assert_eq!(
        env.provider("everifin")
            .refresh(&old)
            .await
            .unwrap_err()
            .error
            .kind,
        ErrorKind::ReauthRequired
    );
    let posts = env.sandbox.request_count("oidc.token");
    let e = env.op(OpKind::Refresh, a.id).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::ReauthRequired);
    assert_eq!(state(&env, a.id).kind(), StateKind::ReauthRequired);
    // No loop: asking again sends nothing.
    assert_eq!(
        env.op(OpKind::Refresh, a.id).await.unwrap_err().kind,
        ErrorKind::NotAllowed
    );
    assert_eq!(env.sandbox.request_count("oidc.token"), posts + 1);
    assert_eq!(env.secrets(b.id), b_before);
    assert_eq!(state(&env, b.id).kind(), StateKind::Active);
}

#[tokio::test]
async fn logout_kills_the_refresh_token_and_leaves_the_access_token_counting() {
    let env = Env::start().await;
    let c = env.login("everifin", "lena").await;
    let rt = env.secrets(c.id).refresh_token.unwrap();
    let c = env.op(OpKind::Logout, c.id).await.unwrap();
    assert!(env.secrets(c.id).refresh_token.is_none());
    assert!(env.secrets(c.id).access_token.is_some());
    match state(&env, c.id) {
        ConnState::LoggedOut {
            access_until: Some(t),
        } => assert!(t > UnixTime::now()),
        other => panic!("{other:?}"),
    }
    assert_eq!(env.sandbox.request_count("oidc.logout"), 1);
    assert_eq!(
        env.provider("everifin")
            .refresh(&rt)
            .await
            .unwrap_err()
            .error
            .kind,
        ErrorKind::ReauthRequired
    );
    assert_eq!(
        env.op(OpKind::Refresh, c.id).await.unwrap_err().kind,
        ErrorKind::Ended
    );
}

/// A user who logs in again (after a logout, or when re-consent is
/// required) renews the connection of that account: same id and history,
/// new tokens, the dead state gone. It used to add a second row beside the
/// dead one, which stayed dead for good.
#[tokio::test]
async fn logging_in_again_renews_the_connection_of_the_same_account() {
    let env = Env::start().await;
    let c = env.login("everifin", "lena").await;
    let c = env.op(OpKind::Logout, c.id).await.unwrap();
    assert_eq!(state(&env, c.id).kind(), StateKind::LoggedOut);
    let before = env.secrets(c.id);
    let again = env.login("everifin", "lena").await;
    assert_eq!(again.id, c.id);
    assert_eq!(state(&env, c.id).kind(), StateKind::Active);
    let after = env.secrets(c.id);
    assert!(after.refresh_token.is_some());
    assert_ne!(after.access_token, before.access_token);
    assert_eq!(env.store.connections().unwrap().len(), 1);
    let newest = &env.store.audit(Some(c.id), 1).unwrap()[0];
    assert_eq!(newest.op, OpKind::Login);
    assert!(newest.message.contains("renewed"), "{}", newest.message);
    // The new refresh token is the one used from now on.
    env.op(OpKind::Refresh, c.id).await.unwrap();
    // A login whose answer has no refresh or id token replaces them too:
    // the old ones belong to the old login and are not kept.
    let bare = TokenGrant {
        access_token: Secret::new("at-without-refresh"),
        expiry: GrantExpiry::InSecs(300),
        refresh_token: None,
        refresh_expires_in: None,
        id_token: None,
        scopes: Scopes::granted(vec!["openid".into()]),
        subject: again.remote.user_id.clone(),
        session: None,
    };
    let bare = env
        .worker
        .adopt_login(RequestId(1), "everifin", "lena", bare)
        .await
        .unwrap();
    assert_eq!(bare.id, c.id);
    assert!(!bare.lifetimes.has_refresh);
    let held = env.secrets(c.id);
    assert!(held.refresh_token.is_none() && held.id_token.is_none());
    assert_eq!(held.access_token.unwrap().expose(), "at-without-refresh");
    // Another account at the same provider is a connection of its own.
    let other = env.login("everifin", "omar").await;
    assert_ne!(other.id, c.id);
    assert_eq!(env.store.connections().unwrap().len(), 2);
}

/// A user name the store would refuse (here a pasted Connect payload in the
/// user field) is refused before the browser is sent off, not after the
/// operator has logged in.
#[tokio::test]
async fn a_login_for_an_impossible_user_name_is_refused_before_the_browser() {
    let env = Env::start().await;
    let pasted = format!("zoe{{\"accessCode\":\"{}\"}}", "x".repeat(300));
    let users = env.store.users().unwrap().len();
    for user in [pasted.as_str(), "  ", "tab\there"] {
        let login = env
            .worker
            .login(bankdeck::worker::RequestId(1), "everifin", user);
        // Bounded only so that a regression fails instead of waiting out
        // the five-minute login.
        let e = tokio::time::timeout(std::time::Duration::from_secs(60), login)
            .await
            .expect("refused at once, not left waiting for a browser")
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotAllowed);
        assert!(e.message.contains("1 to 200 printable"), "{}", e.message);
        assert!(!e.message.contains("xxxx"), "{}", e.message);
    }
    assert_eq!(env.store.users().unwrap().len(), users);
}

#[tokio::test]
async fn oauth2_authorization_code_refresh_and_revocation() {
    let env = Env::start().await;
    let c = env.login("bank", "amira").await;
    assert_eq!(*c.scopes.granted, vec!["accounts"]);
    let rt = env.secrets(c.id).refresh_token.unwrap();
    let c = env.op(OpKind::Refresh, c.id).await.unwrap();
    assert_ne!(env.secrets(c.id).refresh_token.unwrap(), rt);
    env.op(OpKind::Logout, c.id).await.unwrap();
    assert_eq!(env.sandbox.request_count("oauth2.revoke"), 1);
    assert_eq!(state(&env, c.id).kind(), StateKind::LoggedOut);
}

#[tokio::test]
async fn client_credentials_are_renewed_by_running_the_grant_again() {
    let env = Env::start().await;
    let c = env.app_token("app").await;
    assert_eq!(c.grant, bankdeck::domain::Grant::ClientCredentials);
    assert!(env.secrets(c.id).refresh_token.is_none());
    let first = env.secrets(c.id).access_token;
    let c = env.op(OpKind::Refresh, c.id).await.unwrap();
    assert_ne!(env.secrets(c.id).access_token, first);
    assert_eq!(env.sandbox.request_count("oauth2.token"), 2);
    // Asked for again, the token held is renewed, not doubled by a new row
    // that the scheduler would renew beside it; another user gets its own.
    let second = env.secrets(c.id).access_token;
    let again = env.app_token("app").await;
    assert_eq!(again.id, c.id);
    assert_eq!(again.last_op.map(|l| l.op), Some(OpKind::Refresh));
    assert_ne!(env.secrets(c.id).access_token, second);
    assert_eq!(env.sandbox.request_count("oauth2.token"), 3);
    let other = env.app_token("reports").await;
    assert_ne!(other.id, c.id);
    assert_eq!(env.store.connections().unwrap().len(), 2);
}

/// `e` is a request left unsent, nothing spent, for a wait bank asked for.
fn held_by_bank(e: &bankdeck::domain::OpError) {
    assert_eq!(e.kind, ErrorKind::Held, "{e}");
    assert!(
        e.message
            .starts_with("not sent: bank asked to be sent nothing for "),
        "{e}"
    );
}

/// bank's token endpoint answers its next request 429, asking for `secs`.
fn bank_asks_once_for_a_wait(env: &Env, secs: u64) {
    env.sandbox.set_faults(vec![FaultRule {
        count: Some(1),
        ..fault(
            "oauth2.token",
            FaultKind::TooManyRequests(bankdeck::sandbox::RetryAfter::Seconds(secs)),
        )
    }]);
}

/// A 429 to a grant holds its provider as one to a refresh does: until the
/// time it named, neither a refresh nor another grant nor a login is sent
/// there; other providers are not held.
#[tokio::test]
async fn a_wait_asked_of_a_grant_holds_refreshes_grants_and_logins() {
    let env = Env::start().await;
    let user_row = env.login("bank", "lena").await;
    env.sandbox.set_faults(vec![fault(
        "oauth2.token",
        FaultKind::TooManyRequests(bankdeck::sandbox::RetryAfter::Seconds(60)),
    )]);
    let grant = |n| env.worker.client_credentials(RequestId(n), "bank", "amira");
    let e = grant(1).await.unwrap_err();
    assert_eq!((e.kind, e.retry_after), (ErrorKind::RateLimited, Some(60)));
    let sent = env.sandbox.request_count("oauth2.token");
    let e = env.op(OpKind::Refresh, user_row.id).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Held, "{e}");
    let e = grant(2).await.unwrap_err();
    held_by_bank(&e);
    let login = env
        .worker
        .login_renewing(RequestId(3), "bank", "omar", None);
    let e = tokio::time::timeout(std::time::Duration::from_secs(10), login)
        .await
        .expect("refused at once, before a browser is waited for")
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Held, "{e}");
    assert_eq!(env.sandbox.request_count("oauth2.token"), sent);
    let other = env.login("everifin", "omar").await;
    env.op(OpKind::Refresh, other.id).await.unwrap();
}

/// A second worker on `env`'s store, as a second process would be: its
/// own leases, holder name and waits, its events dropped.
fn other_process(env: &Env) -> bankdeck::worker::Worker {
    process_over(env, env.store.clone())
}

/// Another process's worker over `store`, its events read and dropped.
fn process_over(env: &Env, store: Arc<dyn Store>) -> bankdeck::worker::Worker {
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(async move { while rx.recv().await.is_some() {} });
    bankdeck::worker::Worker::new(
        store,
        common::entries(&env.config),
        WorkerOptions {
            actor: "other process".into(),
            open_browser: false,
            ..WorkerOptions::default()
        },
        tx,
    )
}

/// A wait one process heard holds another on the same store, which has
/// heard nothing itself: its refresh and its grant end "not sent", and the
/// provider gets no request from it. Its other providers are not held.
#[tokio::test]
async fn a_wait_heard_by_one_process_holds_another_on_the_store() {
    let env = Env::start().await;
    let row = env.login("bank", "lena").await;
    let everifin = env.login("everifin", "omar").await;
    let other = other_process(&env);
    bank_asks_once_for_a_wait(&env, 90);
    let e = env.op(OpKind::Refresh, row.id).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::RateLimited, "{e}");
    let sent = env.sandbox.request_count("oauth2.token");
    let e = other.operate(OpKind::Refresh, row.id).await.unwrap_err();
    held_by_bank(&e);
    let e = other
        .client_credentials(RequestId(1), "bank", "app")
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Held, "{e}");
    assert_eq!(env.sandbox.request_count("oauth2.token"), sent);
    other.operate(OpKind::Refresh, everifin.id).await.unwrap();
}

/// A screen whose process heard nothing itself learns of another's wait as
/// it reads what that process wrote, before anything of its own is held:
/// told once, as heard elsewhere. The process that heard it tells its own.
#[tokio::test]
async fn a_wait_heard_elsewhere_is_told_to_a_screen_that_has_sent_nothing() {
    use bankdeck::worker::{Command, Event};
    let mut env = Env::start().await;
    let row = env.login("bank", "lena").await;
    let mut screen = env.spawn_worker(WorkerOptions {
        actor: "screen".into(),
        ..WorkerOptions::default()
    });
    bank_asks_once_for_a_wait(&env, 90);
    let heard = UnixTime::now();
    let e = env.op(OpKind::Refresh, row.id).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::RateLimited, "{e}");
    let waiting = |event| match event {
        Event::ProviderWaiting { wait, elsewhere } => Some((wait, elsewhere)),
        _ => None,
    };
    let mut own = Vec::new();
    while let Ok(event) = env.events.try_recv() {
        own.extend(waiting(event));
    }
    let [(wait, false)] = own.as_slice() else {
        panic!("the process that heard it tells it once, as its own: {own:?}");
    };
    assert_eq!(wait.provider, "bank");
    assert!(
        (85..=95).contains(&heard.secs_until(wait.until)),
        "{wait:?}"
    );

    let ask = |id| Command::Changes {
        id: RequestId(id),
        after: 0,
        users_after: bankdeck::domain::UserId(0),
    };
    let mut told = Vec::new();
    for id in 1..=2 {
        screen.commands.send(ask(id)).await.unwrap();
        loop {
            match next(&mut screen.events).await {
                Event::Changed { .. } => break,
                other => told.extend(waiting(other)),
            }
        }
        // Past the freshness of its copy: the second ask reads the store
        // again and finds nothing new to tell.
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    }
    let [(seen, true)] = told.as_slice() else {
        panic!("the screen is told once, as heard elsewhere: {told:?}");
    };
    assert_eq!((&seen.provider, seen.until), (&wait.provider, wait.until));
}

/// A wait lifted in one process frees its provider in every other: the
/// process that heard it sends again once it reads the store, a screen is
/// told who lifted it, and only a 429 heard after the lift holds anyone
/// again. A screen's own `LiftWait` is answered with what it set aside.
#[tokio::test]
async fn a_wait_lifted_by_one_process_frees_its_provider_in_every_other() {
    use bankdeck::worker::{Command, Event};
    let env = Env::start().await;
    let row = env.login("bank", "lena").await;
    let mut screen = env.spawn_worker(WorkerOptions {
        actor: "screen".into(),
        ..WorkerOptions::default()
    });
    bank_asks_once_for_a_wait(&env, 3600);
    let e = env.op(OpKind::Refresh, row.id).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::RateLimited, "{e}");
    held_by_bank(&env.op(OpKind::Refresh, row.id).await.unwrap_err());
    let changes = |id| Command::Changes {
        id: RequestId(id),
        after: 0,
        users_after: bankdeck::domain::UserId(0),
    };
    // The screen's worker reads the stored waits with the changes it asks for.
    let mut told = Vec::new();
    let mut ask = async |id, told: &mut Vec<Event>| {
        screen.commands.send(changes(id)).await.unwrap();
        loop {
            match next(&mut screen.events).await {
                Event::Changed { .. } => break,
                e @ (Event::ProviderWaiting { .. } | Event::WaitLifted { .. }) => told.push(e),
                _ => {}
            }
        }
    };
    ask(1, &mut told).await;
    assert!(
        matches!(
            told.as_slice(),
            [Event::ProviderWaiting {
                elsewhere: true,
                ..
            }]
        ),
        "{told:?}"
    );

    let other = other_process(&env);
    let (lift, set_aside) = other.lift_wait("bank").await.unwrap();
    let was = set_aside.expect("an hour's wait held");
    assert!(was.why.contains("3600"), "{was:?}");
    assert_eq!(lift.lifted_by.as_deref(), Some("other process"));
    let (_, again) = other.lift_wait("bank").await.unwrap();
    assert_eq!(again, None, "nothing left to lift");
    let e = other.lift_wait("bnak").await.unwrap_err();
    assert!(
        e.message.contains("'bnak' is not in the configuration"),
        "{e}"
    );

    // Past the freshness of each process's copy of the stored waits.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    env.op(OpKind::Refresh, row.id).await.unwrap();
    told.clear();
    ask(2, &mut told).await;
    let [
        Event::WaitLifted {
            id: None,
            lift: seen,
            set_aside: Some(gone),
        },
    ] = told.as_slice()
    else {
        panic!("the screen is told once, with who lifted it: {told:?}");
    };
    assert_eq!(
        (seen.lifted_by.as_deref(), gone.until),
        (Some("other process"), was.until)
    );

    // Asked anew after the lift: held again, and the screen lifts it itself.
    bank_asks_once_for_a_wait(&env, 60);
    let e = env.op(OpKind::Refresh, row.id).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::RateLimited, "{e}");
    let e = other.operate(OpKind::Refresh, row.id).await.unwrap_err();
    held_by_bank(&e);
    let lift = Command::LiftWait {
        id: RequestId(3),
        provider: "bank".into(),
    };
    screen.commands.send(lift).await.unwrap();
    let answer = loop {
        if let e @ Event::WaitLifted { .. } = next(&mut screen.events).await {
            break e;
        }
    };
    let Event::WaitLifted {
        id: Some(RequestId(3)),
        set_aside: Some(w),
        ..
    } = answer
    else {
        panic!("{answer:?}");
    };
    assert!(w.why.contains("60s"), "the new wait: {w:?}");
}

/// An app token has no refresh token, so logout once refused it ("nothing
/// to log out") and nothing could end it: the scheduler renewed it for
/// ever. Its logout now revokes the access token (RFC 7009) and ends the
/// row; the grant asked for again makes a new one.
#[tokio::test]
async fn an_app_token_is_logged_out_by_revoking_its_access_token() {
    let env = Env::start().await;
    let c = env.app_token("app").await;
    let statuses = |env: &Env| -> Vec<String> {
        let state = env.sandbox.state();
        state["oauth2"]["access_tokens"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["status"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(statuses(&env), ["active"]);
    let ended = env.op(OpKind::Logout, c.id).await.unwrap();
    assert_eq!(env.sandbox.request_count("oauth2.revoke"), 1);
    assert_eq!(statuses(&env), ["revoked"]);
    assert_eq!(state(&env, c.id).kind(), StateKind::LoggedOut);
    assert!(ended.lifetimes.access.is_none());
    assert!(
        env.secrets(c.id).access_token.is_none(),
        "the revoked token is not kept"
    );
    let audit = env.store.audit(Some(c.id), 1).unwrap();
    assert!(
        audit[0]
            .message
            .contains("app token revoked at the provider"),
        "{}",
        audit[0].message
    );
    // Ended for good: not renewed, and asked for again it is a new row.
    let refused = env.op(OpKind::Refresh, c.id).await.unwrap_err();
    assert_eq!(refused.kind, ErrorKind::Ended, "{}", refused.message);
    let again = env.app_token("app").await;
    assert_ne!(again.id, c.id);
    assert_eq!(env.sandbox.request_count("oauth2.token"), 2);
}

/// Holds each new connection's write until the other process's comes too
/// (up to 10 s): both have then looked for the row, as two processes filing
/// at one moment do, however their threads run. A fault holding both token
/// requests did not: a login looks once its answer is in, and one answered
/// a little before the other had filed before the other looked.
#[derive(Clone, Default)]
struct Together(Arc<(std::sync::Mutex<u32>, std::sync::Condvar)>);

impl Intercept for Together {
    fn insert_connection_for(
        &self,
        inner: &dyn Store,
        user: &str,
        user_audit: AuditDraft,
        new: NewConnection,
        audit: AuditDraft,
    ) -> Result<(Connection, Option<User>), StoreError> {
        let (came, both) = &*self.0;
        let mut n = came.lock().unwrap();
        *n += 1;
        both.notify_all();
        let alone = |n: &mut u32| *n % 2 == 1;
        drop(both.wait_timeout_while(n, Duration::from_secs(10), alone));
        inner.insert_connection_for(user, user_audit, new, audit)
    }
}

/// Two processes asking for one user's app token, or logging one account
/// in, at the same moment: each looked before asking the provider, found no
/// row, and added one, two rows for one grant. The second to file now
/// renews the first's row.
#[tokio::test]
async fn two_processes_filing_one_grant_at_once_file_one_row() {
    let env = Env::start().await;
    let together = Together::default();
    let process = || {
        let store = Intercepted {
            inner: env.store.clone(),
            hooks: together.clone(),
        };
        process_over(&env, Arc::new(store))
    };
    let (one, other) = (process(), process());
    let (a, b) = tokio::join!(
        one.client_credentials(RequestId(1), "bank", "app"),
        other.client_credentials(RequestId(1), "bank", "app"),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(env.sandbox.request_count("oauth2.token"), 2, "both asked");
    assert_eq!(a.conn.id, b.conn.id);
    assert_eq!(env.store.connections().unwrap().len(), 1);

    let everifin = env.provider("everifin");
    let (a, b) = tokio::join!(
        bankdeck::cli::demo::browserless_login(&one, &everifin, "lena"),
        bankdeck::cli::demo::browserless_login(&other, &everifin, "lena"),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.id, b.id);
    assert_eq!(env.store.connections().unwrap().len(), 2);
    let lines = env.store.audit(Some(a.id), 10).unwrap();
    assert!(
        lines
            .iter()
            .any(|l| l.message.contains("filed by another process meanwhile")),
        "{lines:?}"
    );
}

/// A logout or delink whose answer was lost may have been done at the
/// provider: its failure says so, and that doing it again is safe; done
/// again, it ends the row.
#[tokio::test]
async fn an_ending_whose_answer_was_lost_says_ending_it_again_is_safe() {
    let env = Env::start().await;
    let oidc = env.login("everifin", "lena").await;
    let dapi = env.dapi("omar").await;
    env.op(OpKind::Exchange, dapi.id).await.unwrap();
    for (conn, op, route, again) in [
        (
            oidc.id,
            OpKind::Logout,
            "oidc.logout",
            "logging out again is safe",
        ),
        (
            dapi.id,
            OpKind::Delink,
            "dapi.delink",
            "delinking again is safe",
        ),
    ] {
        env.sandbox.set_faults(vec![fault(route, FaultKind::Lose)]);
        let e = env.op(op, conn).await.unwrap_err();
        assert!(e.message.contains(again), "{op}: {e}");
        env.sandbox.set_faults(vec![]);
        env.op(op, conn).await.unwrap();
    }
    assert_eq!(state(&env, oidc.id).kind(), StateKind::LoggedOut);
    assert_eq!(state(&env, dapi.id), ConnState::Delinked);
}

#[tokio::test]
async fn server_errors_keep_every_token() {
    let env = Env::start().await;
    let c = env.login("everifin", "lena").await;
    let before = env.secrets(c.id);
    for (kind, expect) in [
        (FaultKind::Status(500), ErrorKind::Server),
        (FaultKind::Html, ErrorKind::Protocol),
        (FaultKind::MalformedJson, ErrorKind::Protocol),
        (FaultKind::Reset, ErrorKind::Lost),
    ] {
        env.sandbox
            .set_faults(vec![fault("oidc.token", kind.clone())]);
        let e = env.op(OpKind::Refresh, c.id).await.unwrap_err();
        assert_eq!(e.kind, expect, "{kind:?}: {e}");
        assert_eq!(env.secrets(c.id), before, "{kind:?} lost a token");
        assert_eq!(
            env.conn(c.id).flags.last_error.as_deref(),
            Some(e.message.as_str())
        );
    }
    env.sandbox.set_faults(vec![fault(
        "oidc.token",
        FaultKind::TooManyRequests(bankdeck::sandbox::RetryAfter::Seconds(2)),
    )]);
    let e = env.op(OpKind::Refresh, c.id).await.unwrap_err();
    assert_eq!((e.kind, e.retry_after), (ErrorKind::RateLimited, Some(2)));
    assert_eq!(env.secrets(c.id), before);
    env.sandbox.set_faults(vec![]);
    // Nothing is sent before the time the server named: the operator's
    // own refresh neither.
    let sent = env.sandbox.request_count("oidc.token");
    let e = env.op(OpKind::Refresh, c.id).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Held, "{e}");
    assert!(
        e.message
            .starts_with("not sent: everifin asked to be sent nothing for ")
            && e.message.contains("it asks to wait 2s")
            && e.message.ends_with("; nothing was spent"),
        "{e}"
    );
    assert_eq!(env.sandbox.request_count("oidc.token"), sent);
    assert_eq!(env.secrets(c.id), before);
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    // Once the server answers again, the same token works and the error clears.
    let c = env.op(OpKind::Refresh, c.id).await.unwrap();
    assert_eq!(c.flags.last_error, None);
}

#[tokio::test]
async fn a_lost_rotation_ends_in_reconsent_without_a_loop() {
    let env = Env::start().await;
    let c = env.login("everifin", "lena").await;
    let before = env.secrets(c.id);
    env.sandbox
        .set_faults(vec![fault("oidc.token", FaultKind::Lose)]);
    let e = env.op(OpKind::Refresh, c.id).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Lost);
    assert_eq!(env.secrets(c.id), before, "nothing learnt, nothing changed");
    // Said at once, while the token is still held, so that the rejection
    // to come is no surprise.
    assert!(
        e.message.ends_with(
            "; the provider may have spent the refresh token the store still holds: \
             if the next refresh is rejected, the user must consent again"
        ),
        "{e}"
    );
    assert_eq!(
        env.conn(c.id).flags.last_error.as_deref(),
        Some(e.message.as_str())
    );
    // The server rotated; our token is now a replay: the family is revoked.
    let e = env.op(OpKind::Refresh, c.id).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::ReauthRequired);
    assert_eq!(state(&env, c.id).kind(), StateKind::ReauthRequired);
    assert_eq!(
        env.sandbox.request_count("oidc.token"),
        3,
        "login + two refreshes, then silence"
    );
    assert_eq!(
        env.op(OpKind::Refresh, c.id).await.unwrap_err().kind,
        ErrorKind::NotAllowed
    );
    assert_eq!(env.sandbox.request_count("oidc.token"), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_refreshes_send_one_post() {
    let env = Env::start().await;
    let c = env.login("everifin", "lena").await;
    env.sandbox.set_faults(vec![FaultRule {
        route: "oidc.token".into(),
        kind: FaultKind::Latency(std::time::Duration::from_millis(300)),
        count: None,
        rate: None,
    }]);
    let posts = env.sandbox.request_count("oidc.token");
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let w = env.worker.clone();
            tokio::spawn(async move { w.operate(OpKind::Refresh, c.id).await })
        })
        .collect();
    let mut versions = std::collections::BTreeSet::new();
    for t in tasks {
        versions.insert(t.await.unwrap().unwrap().version);
    }
    assert_eq!(env.sandbox.request_count("oidc.token"), posts + 1);
    assert_eq!(versions.len(), 1, "every caller got the one result");
}

#[tokio::test]
async fn readonly_refuses_every_change_and_sends_nothing() {
    let env = Env::start().await;
    let c = env.login("everifin", "lena").await;
    let ro = bankdeck::worker::Worker::new(
        env.store.clone(),
        common::entries(&env.config),
        WorkerOptions {
            readonly: true,
            ..Default::default()
        },
        tokio::sync::mpsc::channel(8).0,
    );
    let posts = env.sandbox.request_count("oidc.token");
    for op in [
        OpKind::Refresh,
        OpKind::Logout,
        OpKind::Exchange,
        OpKind::Delink,
    ] {
        assert_eq!(
            ro.operate(op, c.id).await.unwrap_err().kind,
            ErrorKind::NotAllowed
        );
    }
    assert!(ro.add_user("x", None).await.is_err());
    assert_eq!(env.sandbox.request_count("oidc.token"), posts);
}

/// Another process holds `id`'s lease while our refresh starts, then writes
/// its own refresh's outcome (`ok`, with `their_token` if it got one) and
/// gives the lease back. Returns our refresh's result and how many POSTs
/// we sent.
async fn refresh_behind_another_process(
    env: &Env,
    id: bankdeck::domain::ConnectionId,
    ok: bool,
    their_token: Option<&str>,
) -> (
    Result<bankdeck::worker::Done, bankdeck::domain::OpError>,
    u64,
) {
    let ours =
        move |w: bankdeck::worker::Worker| async move { w.operate_done(OpKind::Refresh, id).await };
    behind_another_process(env, id, ok, their_token, "oidc.token", ours).await
}

/// [`refresh_behind_another_process`], ours being whatever `ours` starts,
/// and the POSTs counted at `route`.
async fn behind_another_process<F>(
    env: &Env,
    id: bankdeck::domain::ConnectionId,
    ok: bool,
    their_token: Option<&str>,
    route: &str,
    ours: impl FnOnce(bankdeck::worker::Worker) -> F,
) -> (
    Result<bankdeck::worker::Done, bankdeck::domain::OpError>,
    u64,
)
where
    F: std::future::Future<Output = Result<bankdeck::worker::Done, bankdeck::domain::OpError>>
        + Send
        + 'static,
{
    use bankdeck::domain::Secret;
    use bankdeck::store::{AuditDraft, ConnectionUpdate, SecretChange};
    // Another host: never taken for a dead process of ours and broken.
    let holder = "elsewhere|1|0|other";
    let now = UnixTime::now();
    let (base, _) = env
        .store
        .lease_and_read(id, holder, now.plus_secs(30), now)
        .unwrap()
        .unwrap();
    let posts = env.sandbox.request_count(route);
    let ours = tokio::spawn(ours(env.worker.clone()));
    // Ours finds the lease held and polls for it.
    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    assert!(!ours.is_finished(), "ours waits for the lease");
    let update = ConnectionUpdate {
        refresh_token: their_token
            .map_or(SecretChange::Keep, |t| SecretChange::Set(Secret::new(t))),
        ..ConnectionUpdate::default()
    };
    let audit = AuditDraft {
        at: UnixTime::now(),
        actor: "other".into(),
        op: OpKind::Refresh,
        ok,
        message: "their refresh".into(),
    };
    env.store
        .apply_and_release(base, update, audit, holder)
        .unwrap();
    let result = ours.await.unwrap();
    (result, env.sandbox.request_count(route) - posts)
}

/// An app token asked for again (`bankdeck token bank`) while another
/// process renews the one held: theirs is the answer, said to be theirs,
/// and the bank sees no second grant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_token_another_process_renewed_while_we_waited_says_so() {
    let env = Env::start().await;
    let held = env.app_token("app").await;
    let ours = |w: bankdeck::worker::Worker| async move {
        w.client_credentials(RequestId(1), "bank", "app").await
    };
    let (result, posts) =
        behind_another_process(&env, held.id, true, None, "oauth2.token", ours).await;
    let got = result.unwrap();
    assert_eq!(posts, 0, "the bank saw no second grant");
    assert_eq!(got.by, DoneBy::Another, "said to be theirs, not ours");
    assert_eq!(got.conn.id, held.id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_another_process_did_while_we_waited_is_ours_without_a_post() {
    let env = Env::start().await;
    let c = env.login("everifin", "lena").await;
    let (result, posts) = refresh_behind_another_process(&env, c.id, true, Some("theirs")).await;
    let got = result.unwrap();
    assert_eq!(posts, 0, "the provider saw no second refresh");
    assert_eq!(got.by, DoneBy::Another, "said to be theirs, not ours");
    assert_eq!(got.conn.version, env.conn(c.id).version);
    assert_eq!(env.secrets(c.id).refresh_token.unwrap().expose(), "theirs");
}

/// An operation that finds another process's lease says so as it begins to
/// wait, once however long it polls: a screen whose watch has not seen the
/// lease yet says whom the row waits for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operation_waiting_for_another_process_says_whom_once() {
    let mut env = Env::start().await;
    let c = env.login("everifin", "lena").await;
    while env.events.try_recv().is_ok() {}
    let (result, _) = refresh_behind_another_process(&env, c.id, true, Some("theirs")).await;
    result.unwrap();
    let mut held = Vec::new();
    while let Ok(event) = env.events.try_recv() {
        if let bankdeck::worker::Event::HeldElsewhere { op, lease } = event {
            held.push((op, lease.conn, lease.holder));
        }
    }
    assert_eq!(
        held,
        [(OpKind::Refresh, c.id, "elsewhere|1|0|other".to_owned())]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_another_process_failed_while_we_waited_is_still_sent() {
    let env = Env::start().await;
    let c = env.login("everifin", "lena").await;
    let before = env.secrets(c.id).refresh_token;
    let (result, posts) = refresh_behind_another_process(&env, c.id, false, None).await;
    let got = result.unwrap();
    assert_eq!(posts, 1, "their failure did not stand for our refresh");
    assert_eq!(got.by, DoneBy::This, "ours");
    assert!(got.conn.last_op.unwrap().ok, "ours succeeded");
    assert_ne!(env.secrets(c.id).refresh_token, before, "rotated by ours");
}

/// Stopping (a front end ending, a CLI's Ctrl-C) sends nothing more, and the
/// refresh already out is waited for and written: its provider rotated the
/// refresh token, and the old one is spent.
#[tokio::test]
async fn stopping_waits_for_the_refresh_already_sent_and_sends_no_other() {
    let env = Env::start().await;
    let out = env.login("everifin", "lena").await;
    let waiting = env.login("everifin", "mei").await;
    let (before, kept) = (env.secrets(out.id), env.secrets(waiting.id));
    env.sandbox.set_faults(vec![fault(
        "oidc.token",
        FaultKind::Latency(std::time::Duration::from_millis(800)),
    )]);
    let worker = env.worker.clone();
    let first = tokio::spawn(async move { worker.operate(OpKind::Refresh, out.id).await });
    until_sent(&env.worker).await;

    env.worker.stop_sending();
    let refused = env.op(OpKind::Refresh, waiting.id).await.unwrap_err();
    assert_eq!(refused.kind, ErrorKind::Cancelled, "{refused}");
    assert_eq!(
        env.secrets(waiting.id),
        kept,
        "nothing sent, nothing changed"
    );
    let left = env
        .worker
        .wait_for_sent(std::time::Duration::from_secs(10))
        .await;
    assert_eq!(left, 0);
    // Written by the time the wait ends, not only when its task is joined.
    assert_ne!(env.secrets(out.id).refresh_token, before.refresh_token);
    first.await.unwrap().unwrap();
}

/// An operation's outcome is written a moment before it is told on the
/// events, so a front end that says, once closed, how each request it sent
/// ended waits until every command has told its own (`wait_for_told`), not
/// only until nothing is out (`wait_for_sent`). Here the front end's queue
/// is full, so the refresh's outcome waits to be told until it is read.
#[tokio::test]
async fn a_written_outcome_is_waited_for_until_it_is_told() {
    use bankdeck::worker::{Command, EVENT_QUEUE, Event};
    let env = Env::start().await;
    let lena = env.login("everifin", "lena").await;
    let mut handle = env.spawn_worker(WorkerOptions::default());
    env.sandbox.set_faults(vec![fault(
        "oidc.token",
        FaultKind::Latency(std::time::Duration::from_millis(800)),
    )]);
    let refresh = RequestId(1);
    let send = |cmd| handle.commands.send(cmd);
    send(Command::Refresh {
        id: refresh,
        conn: lena.id,
    })
    .await
    .unwrap();
    until_sent(&handle.worker).await;
    for i in 0..EVENT_QUEUE + 8 {
        let id = RequestId(10 + i as u64);
        send(Command::LoadDetail { id, conn: lena.id })
            .await
            .unwrap();
    }
    handle.worker.stop_sending();
    let worker = handle.worker.clone();
    assert_eq!(worker.wait_for_sent(Duration::from_secs(10)).await, 0);
    assert!(
        !worker.wait_for_told(Duration::from_millis(300)).await,
        "a command whose outcome is not on the events yet is still telling"
    );
    let told = tokio::spawn(async move { worker.wait_for_told(Duration::from_secs(10)).await });
    tokio::pin!(told);
    let mut heard = Vec::new();
    loop {
        tokio::select! {
            all = &mut told => {
                assert!(all.unwrap(), "every command told its outcome once read");
                break;
            }
            Some(event) = handle.events.recv() => heard.push(event),
        }
    }
    while let Ok(event) = handle.events.try_recv() {
        heard.push(event);
    }
    assert!(
        heard
            .iter()
            .any(|e| matches!(e, Event::Succeeded { id, .. } if *id == refresh)),
        "the refresh's outcome was told by the end of the wait"
    );
}

/// Waits (up to 10 s) until the worker has a request out.
async fn until_sent(worker: &bankdeck::worker::Worker) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while worker.sending() == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the request never went out"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// The login URL the worker announced for request `id`.
async fn login_url(env: &mut Env, id: RequestId) -> String {
    loop {
        let event = tokio::time::timeout(std::time::Duration::from_secs(10), env.events.recv())
            .await
            .expect("the login announces its URL")
            .unwrap();
        if let bankdeck::worker::Event::LoginUrl { id: of, url } = event
            && of == id
        {
            return url;
        }
    }
}

fn has_user(env: &Env, name: &str) -> bool {
    env.store.user_by_name(name).unwrap().is_some()
}

/// A login whose browser is still away when stopping comes has sent
/// nothing: it ends at once, instead of holding a front end that ends for
/// up to five minutes, and brings no user in.
#[tokio::test]
async fn stopping_ends_a_login_that_waits_for_the_browser() {
    let mut env = Env::start().await;
    let worker = env.worker.clone();
    let login = tokio::spawn(async move { worker.login(RequestId(7), "everifin", "zed").await });
    login_url(&mut env, RequestId(7)).await;

    env.worker.stop_sending();
    let ended = tokio::time::timeout(std::time::Duration::from_secs(10), login)
        .await
        .expect("the login ends when stopping comes")
        .unwrap();
    let e = ended.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Cancelled, "{e}");
    assert!(e.message.contains("nothing was sent"), "{e}");
    assert_eq!(env.worker.sending(), 0);
    assert!(!has_user(&env, "zed"));
}

async fn next(
    events: &mut tokio::sync::mpsc::Receiver<bankdeck::worker::Event>,
) -> bankdeck::worker::Event {
    tokio::time::timeout(std::time::Duration::from_secs(10), events.recv())
        .await
        .expect("an event in time")
        .unwrap()
}

/// The operator cancels a login whose browser is still away (`x` in the
/// screen's login note): it ends as cancelled, having sent nothing, and
/// brings no user in.
#[tokio::test]
async fn a_login_cancelled_while_the_browser_is_away_ends_having_sent_nothing() {
    use bankdeck::worker::{Command, Event};
    let env = Env::start().await;
    let mut screen = env.spawn_worker(WorkerOptions::default());
    let login = RequestId(7);
    screen
        .commands
        .send(Command::Login {
            id: login,
            provider: "everifin".into(),
            user: "zed".into(),
            renewing: None,
        })
        .await
        .unwrap();
    while !matches!(next(&mut screen.events).await, Event::LoginUrl { .. }) {}
    let sent = env.sandbox.request_count("oidc.token");
    screen
        .commands
        .send(Command::Cancel { id: login })
        .await
        .unwrap();
    let error = loop {
        if let Event::Failed { id, op, error, .. } = next(&mut screen.events).await
            && id == login
        {
            assert_eq!(op, OpKind::Login);
            break error;
        }
    };
    assert_eq!(error.kind, ErrorKind::Cancelled, "{error}");
    assert!(error.message.contains("nothing was sent"), "{error}");
    assert_eq!(env.sandbox.request_count("oidc.token"), sent);
    assert!(!has_user(&env, "zed"));
}

/// A login that renews a connection (`L`) tells the provider which account
/// to offer, by the id token's `preferred_username`: the same user consents
/// and the row is renewed in place. A plain login names no one.
#[tokio::test]
async fn a_login_renewing_a_row_asks_for_its_account() {
    let mut env = Env::start().await;
    let lena = env.login("everifin", "lena").await;
    env.op(OpKind::Logout, lena.id).await.unwrap();
    let worker = env.worker.clone();
    let renew = tokio::spawn(async move {
        (worker.login_renewing(RequestId(8), "everifin", "lena", Some(lena.id))).await
    });
    let url = login_url(&mut env, RequestId(8)).await;
    let hint = url::Url::parse(&url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "login_hint")
        .map(|(_, v)| v.into_owned());
    assert_eq!(hint.as_deref(), Some("lena"), "{url}");
    // The test is the browser, and says nothing of whom: the URL does.
    tokio::spawn(async move { reqwest::get(url).await });
    let renewed = renew.await.unwrap().unwrap();
    assert_eq!(renewed.id, lena.id, "renewed in place");
    assert_eq!(env.store.connections().unwrap().len(), 1);

    let worker = env.worker.clone();
    let plain = tokio::spawn(async move { worker.login(RequestId(9), "everifin", "lena").await });
    let url = login_url(&mut env, RequestId(9)).await;
    assert!(!url.contains("login_hint"), "{url}");
    plain.abort();
}

/// A login or app token's grant that fails at the provider is in the audit
/// log as every operation's outcome is: on the row a login was to renew,
/// and for a new user, with no row yet, a line that names user and
/// provider. A lost answer says what it may have issued.
#[tokio::test]
async fn failed_logins_and_grants_are_audited() {
    let mut env = Env::start().await;
    let lena = env.login("everifin", "lena").await;
    env.op(OpKind::Logout, lena.id).await.unwrap();
    env.sandbox
        .set_faults(vec![fault("oidc.token", FaultKind::Status(500))]);
    let worker = env.worker.clone();
    let renew = tokio::spawn(async move {
        (worker.login_renewing(RequestId(8), "everifin", "lena", Some(lena.id))).await
    });
    let url = login_url(&mut env, RequestId(8)).await;
    tokio::spawn(async move { reqwest::get(url).await });
    let e = renew.await.unwrap().unwrap_err();
    let line = &env.store.audit(Some(lena.id), 1).unwrap()[0];
    assert_eq!((line.op, line.ok), (OpKind::Login, false));
    assert_eq!(
        line.message,
        format!("login at everifin for lena: {}", e.message)
    );

    env.sandbox
        .set_faults(vec![fault("oidc.token", FaultKind::Lose)]);
    let worker = env.worker.clone();
    let login = tokio::spawn(async move { worker.login(RequestId(9), "everifin", "zed").await });
    let url = login_url(&mut env, RequestId(9)).await;
    tokio::spawn(async move { reqwest::get(url).await });
    login.await.unwrap().unwrap_err();
    let line = &env.store.audit(None, 1).unwrap()[0];
    assert_eq!(
        (line.op, line.ok, line.connection),
        (OpKind::Login, false, None)
    );
    assert!(
        line.message.starts_with("login at everifin for zed: ")
            && line
                .message
                .contains("may have issued tokens in the lost answer"),
        "{}",
        line.message
    );

    env.sandbox
        .set_faults(vec![fault("oauth2.token", FaultKind::Status(500))]);
    let e = env
        .worker
        .client_credentials(RequestId(10), "bank", "app")
        .await
        .unwrap_err();
    let line = &env.store.audit(None, 1).unwrap()[0];
    assert_eq!((line.op, line.ok), (OpKind::ClientCredentials, false));
    assert!(line.message.ends_with(&e.message), "{}", line.message);
}

/// The code a login brought back is being redeemed when stopping comes:
/// the provider is issuing tokens that exist nowhere else, so the
/// redemption counts as sent, is waited for, and is written.
#[tokio::test]
async fn stopping_waits_for_a_login_whose_code_is_being_redeemed() {
    let mut env = Env::start().await;
    env.sandbox.set_faults(vec![fault(
        "oidc.token",
        FaultKind::Latency(std::time::Duration::from_millis(800)),
    )]);
    let worker = env.worker.clone();
    let login = tokio::spawn(async move { worker.login(RequestId(7), "everifin", "zed").await });
    let url = login_url(&mut env, RequestId(7)).await;
    // The test is the browser: the sandbox consents and redirects back.
    tokio::spawn(async move { reqwest::get(url).await });
    until_sent(&env.worker).await;

    env.worker.stop_sending();
    let left = env
        .worker
        .wait_for_sent(std::time::Duration::from_secs(10))
        .await;
    assert_eq!(left, 0);
    // Written by the time the wait ends.
    let zed = env.store.user_by_name("zed").unwrap().expect("zed added");
    let filed = env.store.user_connections(zed.id).unwrap();
    assert_eq!(filed.len(), 1, "{filed:?}");
    assert!(env.secrets(filed[0].id).refresh_token.is_some());
    assert_eq!(login.await.unwrap().unwrap().id, filed[0].id);
}

/// An app token's grant counts as sent like any operation: one out when
/// stopping comes is waited for and written, and none goes out after.
#[tokio::test]
async fn stopping_waits_for_an_app_token_already_asked_for_and_asks_for_no_other() {
    let env = Env::start().await;
    env.sandbox.set_faults(vec![fault(
        "oauth2.token",
        FaultKind::Latency(std::time::Duration::from_millis(800)),
    )]);
    let worker = env.worker.clone();
    let out = tokio::spawn(async move {
        worker
            .client_credentials(RequestId(1), "bank", "batch")
            .await
    });
    until_sent(&env.worker).await;

    env.worker.stop_sending();
    let refused = env
        .worker
        .client_credentials(RequestId(2), "bank", "cron")
        .await
        .unwrap_err();
    assert_eq!(refused.kind, ErrorKind::Cancelled, "{refused}");
    let left = env
        .worker
        .wait_for_sent(std::time::Duration::from_secs(10))
        .await;
    assert_eq!(left, 0);
    let batch = env.store.user_by_name("batch").unwrap().unwrap();
    let filed = env.store.user_connections(batch.id).unwrap();
    assert_eq!(filed.len(), 1, "written by the time the wait ends");
    assert!(env.secrets(filed[0].id).access_token.is_some());
    out.await.unwrap().unwrap();
    let cron = env.store.user_by_name("cron").unwrap();
    let cron = cron.map(|u| env.store.user_connections(u.id).unwrap());
    assert!(cron.as_ref().is_none_or(Vec::is_empty), "{cron:?}");
}

/// The detail pane's audit lines are the connection's newest; once the log
/// has been archived, a connection older than the log's first line whose
/// every remaining line they hold is marked with the moment the log now
/// begins, so that lines that went to an archive file are not taken for
/// lines that never were.
#[tokio::test]
async fn the_detail_has_the_newest_lines_and_says_when_older_ones_were_archived() {
    use bankdeck::store::AuditDraft;
    use bankdeck::worker::Detail;
    let env = Env::start().await;
    let old = env.dapi("amira").await;
    let busy = env.login("everifin", "lena").await;
    // Times are in seconds: the archive's record, where the log will begin,
    // comes a second after these connections were born, and one born a
    // second after it has nothing archived.
    let second = || tokio::time::sleep(std::time::Duration::from_millis(1_100));
    for _ in 0..Detail::AUDIT_READ {
        env.op(OpKind::Refresh, busy.id).await.unwrap();
    }
    let d = env.worker.detail(old.id).await.unwrap();
    assert_eq!(d.audit.len(), 1);
    assert_eq!(d.archived_before, None, "nothing was archived");

    let plan = env
        .store
        .audit_archive_plan(UnixTime::now().plus_secs(1))
        .unwrap();
    second().await;
    let record = AuditDraft {
        at: UnixTime::now(),
        actor: "ops".into(),
        op: OpKind::ArchiveAudit,
        ok: true,
        message: "moved them to audit.jsonl".into(),
    };
    env.store
        .mark_audit_archived(plan.archived, plan.upto, record.clone())
        .unwrap();
    while env.store.remove_archived_audit(1_000).unwrap() > 0 {}
    let d = env.worker.detail(old.id).await.unwrap();
    assert!(d.audit.is_empty(), "{:?}", d.audit);
    assert_eq!(d.archived_before, Some(record.at));
    second().await;
    let young = env.dapi("zoe").await;
    let d = env.worker.detail(young.id).await.unwrap();
    assert_eq!(d.audit.len(), 1, "its link");
    assert_eq!(d.archived_before, None, "born after the log's first line");

    // More lines than the pane reads: the oldest of them say nothing of
    // an archive, and the first is the newest.
    for _ in 0..Detail::AUDIT_READ {
        env.op(OpKind::Refresh, busy.id).await.unwrap();
    }
    env.op(OpKind::Logout, busy.id).await.unwrap();
    let d = env.worker.detail(busy.id).await.unwrap();
    assert_eq!(d.audit.len(), Detail::AUDIT_READ);
    assert_eq!(d.audit[0].op, OpKind::Logout);
    assert_eq!(d.archived_before, None);
}

/// A connection for someone new brings the user in. The worker says so
/// before the connection's own result, so that the screen lists the user at
/// once and does not later take it for another process's.
#[tokio::test]
async fn a_new_users_first_connection_announces_the_user() {
    use bankdeck::worker::Event;
    let mut env = Env::start().await;
    fn announced(env: &mut Env) -> Vec<(RequestId, bankdeck::domain::User)> {
        let mut users = Vec::new();
        while let Ok(event) = env.events.try_recv() {
            if let Event::UserAdded { id, user } = event {
                users.push((id, user));
            }
        }
        users
    }
    let app = env
        .worker
        .client_credentials(RequestId(7), "bank", "reports")
        .await
        .unwrap()
        .conn;
    let users = announced(&mut env);
    assert_eq!(users.len(), 1, "{users:?}");
    assert_eq!(users[0].0, RequestId(7));
    assert_eq!(
        (users[0].1.id, users[0].1.name.as_str()),
        (app.user_id, "reports")
    );

    env.worker
        .client_credentials(RequestId(8), "bank", "lena")
        .await
        .unwrap();
    // Looked up as it is kept, trimmed: not someone new, and not refused
    // as a second "amira".
    let linked = env.dapi("  amira ").await;
    assert_eq!(linked.user, "amira");
    assert_eq!(announced(&mut env), Vec::new(), "users the store had");

    // Someone new is added with their connection, not before it: a request
    // that fails, or a link that is refused, leaves no user behind.
    env.sandbox
        .set_faults(vec![fault("oauth2.token", FaultKind::Status(500))]);
    let e = env
        .worker
        .client_credentials(RequestId(9), "bank", "nightly")
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Server, "{e}");
    let payload = ConnectPayload {
        access_code: Secret::new("code-once"),
        user_secret: Secret::new("secret-once"),
        connection_id: "7a1c5e0b2d9f4e6a8b3c1d5e7f9a0b2c4d6e8f10".into(),
        user_id: None,
        token_id: None,
    };
    let link = |id, user| {
        env.worker
            .link_dapi(RequestId(id), "dapi", user, "ENBD", payload.clone())
    };
    link(10, "yusuf").await.unwrap();
    let refused = link(11, "zara").await.unwrap_err();
    assert!(refused.message.contains("already connection"), "{refused}");
    let names: Vec<String> = env
        .store
        .users()
        .unwrap()
        .into_iter()
        .map(|u| u.name)
        .collect();
    assert!(!names.contains(&"nightly".to_string()), "{names:?}");
    assert!(!names.contains(&"zara".to_string()), "{names:?}");
    let added: Vec<_> = announced(&mut env)
        .into_iter()
        .map(|(id, u)| (id, u.name))
        .collect();
    assert_eq!(added, [(RequestId(10), "yusuf".to_string())]);
    let audit = env.store.audit(None, 100).unwrap();
    let said: Vec<&str> = audit
        .iter()
        .filter(|a| a.op == OpKind::AddUser)
        .map(|a| a.message.as_str())
        .collect();
    assert!(
        !said
            .iter()
            .any(|m| m.contains("nightly") || m.contains("zara")),
        "{said:?}"
    );
}

/// A Connect payload whose access code has already expired is refused at the
/// link, with what to do: filed, it could only ever read "code expired".
#[tokio::test]
async fn a_connect_payload_with_an_expired_code_is_refused_at_the_link() {
    let env = five_minute_codes().await;
    env.sandbox.set_clock(UnixTime::now().0 - 1000);
    let linked =
        bankdeck::cli::demo::sandbox_link(&env.worker, &env.sandbox, "amira", "ENBD", None).await;
    env.sandbox.release_clock();
    let e = linked.unwrap_err().to_string();
    assert!(e.contains("access code expired 11m ago"), "{e}");
    assert!(e.contains("connect again"), "{e}");
    assert!(env.store.connections().unwrap().is_empty());
}

/// The screen's `v` is recorded before any token shows: the worker writes
/// a `reveal` line for the row and answers; a read-only worker cannot
/// record, so it answers why and writes nothing.
#[tokio::test]
async fn a_reveal_is_an_audit_line_before_the_screen_shows_anything() {
    use bankdeck::worker::{Command, Event};
    let env = Env::start().await;
    let c = env.dapi("amira").await;
    let reveals = || {
        (env.store.audit(Some(c.id), 10).unwrap().into_iter())
            .filter(|a| a.op == OpKind::Reveal)
            .collect::<Vec<_>>()
    };
    for (readonly, recorded) in [(true, false), (false, true)] {
        let mut screen = env.spawn_worker(WorkerOptions {
            readonly,
            ..WorkerOptions::default()
        });
        let asked = RequestId(3);
        let reveal = Command::Reveal {
            id: asked,
            conn: c.id,
        };
        screen.commands.send(reveal).await.unwrap();
        let answer = loop {
            if let Event::Revealed { id, conn, recorded } = next(&mut screen.events).await {
                assert_eq!((id, conn), (asked, c.id));
                break recorded;
            }
        };
        assert_eq!(answer.is_ok(), recorded, "{answer:?}");
        assert_eq!(reveals().len(), usize::from(recorded));
    }
    let line = &reveals()[0];
    assert!(
        line.ok && line.message == "tokens shown on the screen",
        "{line:?}"
    );
    assert!(!line.actor.is_empty());
}
