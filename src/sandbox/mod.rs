//! The sandbox: a local, faithful emulation of the three provider families
//! bankdeck talks to (Dapi, a bank's OAuth 2.0 server, a Keycloak-style OpenID
//! Connect realm), plus switches for the faults a real provider shows.
//!
//! It is shaped as one axum server on loopback with a movable clock, so the
//! demo and the tests can drive expiry without sleeping, and a small library
//! API ([`Sandbox`]) so callers never touch its internals. It imports nothing
//! else of the crate: the product only needs it for `--demo` and tests.
//!
//! Routes, all under [`Sandbox::base_url`], each with the selector that
//! `--fault` rules use (syntax in [`parse_fault`]):
//!
//! | route | selector |
//! |---|---|
//! | `POST /v2/auth/ExchangeToken` | `dapi.exchange` |
//! | `POST /v2/users/DelinkUser` (Bearer) | `dapi.delink` |
//! | `POST /v2/data/identity/get` (Bearer) | `dapi.identity` |
//! | `POST /sandbox/connect` (the Connect layer stand-in) | `dapi.connect` |
//! | `GET /oauth2/authorize` | `oauth2.authorize` |
//! | `POST /oauth2/token` | `oauth2.token` |
//! | `POST /oauth2/revoke` | `oauth2.revoke` |
//! | `GET /realms/{realm}/.well-known/openid-configuration` | `oidc.discovery` |
//! | `GET /realms/{realm}/protocol/openid-connect/auth` | `oidc.auth` |
//! | `POST …/openid-connect/token` | `oidc.token` |
//! | `POST …/openid-connect/logout` (and `GET`, browser logout) | `oidc.logout` |
//! | `POST …/openid-connect/revoke` | `oidc.revoke` |
//! | `GET`/`POST …/openid-connect/userinfo` | `oidc.userinfo` |
//! | `GET …/openid-connect/certs` | `oidc.certs` |
//! | `GET /sandbox/state`, `POST /sandbox/clock`, `GET`/`POST`/`DELETE /sandbox/faults` | never faulted |
//!
//! Demo credentials are fake, sandbox-only constants, safe to print:
//! [`DEMO_APP_SECRET`] / [`DEMO_APP_KEY`] (Dapi), [`DEMO_CLIENT_ID`] /
//! [`DEMO_CLIENT_SECRET`] (confidential client of both authorization
//! servers), [`DEMO_PUBLIC_CLIENT_ID`] (public client, PKCE only), and
//! [`DEMO_USER`], whom the authorize endpoints consent for by default.

mod api;
mod authz;
mod clock;
mod control;
mod dapi;
mod faults;
mod jwt;
mod login;
mod oauth2;
mod oidc;
mod shared;

pub use api::{Sandbox, SandboxOptions, serve_forever};
pub use authz::clients::{
    ClientConfig, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_PUBLIC_CLIENT_ID, DEMO_USER,
};
pub use dapi::{
    ConnectPayload, ConnectRequest, DAPI_SCOPES, DEFAULT_DAPI_SCOPES, DEMO_APP_KEY,
    DEMO_APP_SECRET, DapiApp, RegisterCode,
};
pub use faults::{FaultKind, FaultRule, RetryAfter, parse_fault};
pub use jwt::{fingerprint, random_token};
pub use login::AuthServer;
