//! Conformance of bankdeck's OAuth 2.0 / OpenID Connect client against a real,
//! independent OpenID provider: the npm package `oidc-provider` (OpenID
//! Certified), pinned by `tests/conformance/package-lock.json`, served over
//! TLS on 127.0.0.1 with a throw-away CA that bankdeck trusts via `ca_file`.
//!
//! bankdeck is driven through its library as the product runs it (config
//! loader, `providers::build`, encrypted store, worker; logins through the
//! real loopback listener and `$BROWSER`); what the provider thinks is asked
//! of the provider itself (discovery, introspection). One server serves the
//! whole binary; the expiry test starts a second one with a 2 s lifetime.
//! Never skipped: without Node.js the run fails and says what to install.
//! `tests/conformance/README.md` lists the provider's behaviour relied on.

#[path = "conformance/grants.rs"]
mod grants;
#[path = "conformance/harness.rs"]
mod harness;
#[path = "conformance/lifecycle.rs"]
mod lifecycle;
#[path = "conformance/rig.rs"]
mod rig;
