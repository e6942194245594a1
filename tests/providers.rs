//! The provider clients end to end, over real HTTP on 127.0.0.1: Dapi as in
//! seed 002, OAuth 2.0 and OIDC against a small Keycloak-like server, every
//! transport hazard (caps, deadlines, resets, throttling, retries, redirects,
//! TLS) and the browser login with a `$BROWSER` stand-in.

#[path = "providers/auth_server.rs"]
mod auth_server;
#[path = "providers/dapi.rs"]
mod dapi;
#[path = "providers/dapi_server.rs"]
mod dapi_server;
#[path = "providers/login.rs"]
mod login;
#[path = "providers/malformed.rs"]
mod malformed;
#[path = "providers/oauth.rs"]
mod oauth;
#[path = "providers/oidc.rs"]
mod oidc;
#[path = "providers/support.rs"]
mod support;
#[path = "providers/tls.rs"]
mod tls;
#[path = "providers/transport.rs"]
mod transport;
