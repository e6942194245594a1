//! The authorization-server core shared by the bank's OAuth 2.0 server and
//! the Keycloak-style realm: clients, codes, grant families, the token
//! endpoint's rules, revocation and logout.
//!
//! Both servers follow the same RFCs and error conventions; only what they
//! mint differs (opaque tokens vs JWTs) and where they live. So the rules live
//! here once, and `oauth2.rs` / `oidc/` only route and shape responses.

pub(crate) mod authorize;
pub(crate) mod clients;
pub(crate) mod error;
pub(crate) mod form;
pub(crate) mod grant;
pub(crate) mod http;
pub(crate) mod store;
