//! The Dapi emulation: apps, access codes, permanent access tokens, delink.
//!
//! The store is plain data with methods that take `now` and return typed
//! errors, so the rules (code TTL, single use, delink is final) are testable
//! without HTTP; `routes.rs` turns them into seed 002's exact JSON shapes.
//! Codes and tokens are kept by their full string because a client presents
//! them verbatim; only fingerprints ever leave through `/sandbox/state`.

mod claims;
mod routes;
mod store;

pub use claims::DAPI_SCOPES;
pub(crate) use routes::{mint, router};
pub(crate) use store::{DapiError, DapiStore};

use serde::{Deserialize, Serialize};

/// The demo app's secret (`appSecret` in ExchangeToken and DelinkUser).
/// A fake, sandbox-only value: safe to print and to commit.
pub const DEMO_APP_SECRET: &str = "sandbox-app-secret-0000000000000000000000000000000000000000";
/// The demo app's public key, carried as `appKey` in every code and token.
pub const DEMO_APP_KEY: &str = "sandbox-app-key-00000000000000000000000000000000000000000000";
/// Scopes a Connect grants when the request names none: enough data scopes
/// for the demo to show a mix of granted and denied.
pub const DEFAULT_DAPI_SCOPES: &[&str] = &[
    "authentication.create",
    "identity.get",
    "accounts.get",
    "balance.get",
    "transactions.get",
];

/// A registered Dapi application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DapiApp {
    pub app_key: String,
    pub app_secret: String,
}

impl DapiApp {
    pub fn demo() -> Self {
        Self {
            app_key: DEMO_APP_KEY.to_owned(),
            app_secret: DEMO_APP_SECRET.to_owned(),
        }
    }
}

/// What `POST /sandbox/connect` accepts: every field optional.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ConnectRequest {
    #[serde(rename = "userID", default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Display name of the bank, shown in `/sandbox/state` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bank: Option<String>,
    /// Scope names from [`DAPI_SCOPES`]; `None` grants [`DEFAULT_DAPI_SCOPES`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
}

/// The Connect layer's success payload, as seeds 000 and 001 show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectPayload {
    pub success: bool,
    #[serde(rename = "accessCode")]
    pub access_code: String,
    #[serde(rename = "userSecret")]
    pub user_secret: String,
    #[serde(rename = "connectionID")]
    pub connection_id: String,
    #[serde(rename = "userID")]
    pub user_id: String,
    #[serde(rename = "tokenID")]
    pub token_id: String,
}

/// A code minted elsewhere (such as seed 002's sample) to make exchangeable.
/// `appKey`, `tokenID`, `salt`, `iat` and `exp` are read from the code's own
/// claims; a missing `exp` means `iat` + the configured code TTL.
#[derive(Debug, Clone)]
pub struct RegisterCode {
    pub access_code: String,
    pub connection_id: String,
    /// Registered as an app (with the code's `appKey`) if not known yet.
    pub app_secret: String,
    pub user_id: String,
    pub user_secret: String,
    pub scopes: Vec<String>,
}
