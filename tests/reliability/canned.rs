//! A token endpoint whose next answer the test sets, wired into the real
//! config as provider `canned`, and a connection of that provider holding
//! known tokens, inserted straight into the store.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bankdeck::domain::*;
use bankdeck::sandbox::SandboxOptions;
use bankdeck::store::{AuditDraft, NewConnection};
use bankdeck::worker::WorkerOptions;

use super::common::{self, Env};

#[derive(Clone, Default)]
pub struct Canned {
    answer: Arc<Mutex<(u16, String, String)>>,
    hits: Arc<Mutex<usize>>,
}

impl Canned {
    pub fn answer(&self, status: u16, content_type: &str, body: &str) {
        *self.answer.lock().unwrap() = (status, content_type.into(), body.into());
    }
    pub fn json(&self, body: &str) {
        self.answer(200, "application/json", body);
    }
    pub fn hits(&self) -> usize {
        *self.hits.lock().unwrap()
    }
}

/// Serves the canned endpoint; returns it and its token URL.
pub async fn serve() -> (Canned, String) {
    let canned = Canned::default();
    let state = canned.clone();
    let app = Router::new().route(
        "/token",
        post(move || {
            let state = state.clone();
            async move {
                *state.hits.lock().unwrap() += 1;
                let (status, ct, body) = state.answer.lock().unwrap().clone();
                let mut r: Response = (StatusCode::from_u16(status).unwrap(), body).into_response();
                r.headers_mut()
                    .insert(header::CONTENT_TYPE, HeaderValue::from_str(&ct).unwrap());
                r
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (canned, format!("http://{addr}/token"))
}

/// An extra config section: an OAuth 2.0 provider at `token_url`.
pub fn provider_section(name: &str, token_url: &str, secret_dir: &std::path::Path) -> String {
    let secret = common::private_file(secret_dir, &format!("{name}-secret"), "canned-secret");
    format!(
        "\n[providers.{name}]\nkind = \"oauth2\"\ntoken_url = \"{token_url}\"\nclient_id = \"canned\"\nclient_secret = \"file:{}\"\nscopes = [\"accounts\"]\n",
        secret.display()
    )
}

/// An `Env` whose config also has the providers of `sections`.
pub async fn env_with(sections: &str, wopts: WorkerOptions) -> Env {
    Env::start_with(SandboxOptions::default(), sections, wopts).await
}

/// A user-token connection of `provider` holding `a0` / `r0`, valid 300 s.
pub fn connection(env: &Env, provider: &str, user: &str) -> ConnectionId {
    let now = env.worker.now();
    let draft = |op| AuditDraft {
        at: now,
        actor: "tester".into(),
        op,
        ok: true,
        message: String::new(),
    };
    let uid = env
        .store
        .users()
        .unwrap()
        .into_iter()
        .find(|u| u.name == user)
        .unwrap()
        .id;
    env.store
        .insert_connection(
            NewConnection {
                user_id: uid,
                provider: provider.into(),
                kind: ProviderKind::OAuth2,
                grant: Grant::AuthorizationCode,
                label: provider.into(),
                remote: RemoteIds::default(),
                lifetimes: Lifetimes {
                    access: Some(AccessExpiry::At(now.plus_secs(300))),
                    access_received_at: Some(now),
                    has_refresh: true,
                    refresh_expires_at: None,
                    refresh_slides: false,
                    code_expires_at: None,
                },
                scopes: Scopes::default(),
                secrets: Secrets {
                    access_token: Some("a0-known-access".into()),
                    refresh_token: Some("r0-known-refresh".into()),
                    ..Secrets::default()
                },
            },
            draft(OpKind::Login),
        )
        .unwrap()
        .id
}
