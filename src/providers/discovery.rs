//! OpenID Connect discovery: `{issuer}/.well-known/openid-configuration`,
//! merged under the endpoints the config names explicitly.
//!
//! A discovered URL is as untrusted as any other answer: each one must pass
//! the same https-except-loopback rule as the config, and the document's
//! `issuer` must be the issuer we asked (OpenID Discovery §4.3), or a
//! hijacked document could send our client secret anywhere.

use serde::Deserialize;
use url::Url;

use super::http::Http;
use super::oauth_error::rate_limited;
use super::token::{json_object, shown};
use crate::config::{OidcConfig, check_transport};
use crate::domain::{ErrorKind, OpError};

/// The endpoints an OIDC provider uses, explicit ones over discovered ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Endpoints {
    pub issuer: Option<String>,
    pub authorize: Option<Url>,
    pub token: Option<Url>,
    /// Set only from the config: a back-channel logout we know accepts a POST.
    pub logout: Option<Url>,
    /// Explicit `revocation_url`.
    pub revocation: Option<Url>,
    /// Discovered `end_session_endpoint` (Keycloak's logout).
    pub end_session: Option<Url>,
    pub discovered_revocation: Option<Url>,
    /// The server sends `iss` on the authorization callback (RFC 9207).
    pub iss_in_callback: bool,
}

#[derive(Debug, Deserialize)]
struct Document {
    issuer: Option<String>,
    authorization_endpoint: Option<String>,
    token_endpoint: Option<String>,
    end_session_endpoint: Option<String>,
    revocation_endpoint: Option<String>,
    #[serde(default)]
    authorization_response_iss_parameter_supported: bool,
}

/// Endpoints from the config alone (no issuer, or before discovery).
pub fn explicit(cfg: &OidcConfig) -> Endpoints {
    Endpoints {
        issuer: cfg.issuer.as_ref().map(issuer_string),
        authorize: cfg.authorize_url.clone(),
        token: cfg.token_url.clone(),
        logout: cfg.logout_url.clone(),
        revocation: cfg.revocation_url.clone(),
        ..Endpoints::default()
    }
}

/// Fetches the discovery document (retried like any read) and merges it.
pub async fn discover(http: &Http, cfg: &OidcConfig, issuer: &Url) -> Result<Endpoints, OpError> {
    let url = well_known(issuer)?;
    let reply = http.get(&url).await?;
    if reply.status.as_u16() == 429 || reply.status.as_u16() == 503 {
        return Err(rate_limited(&reply));
    }
    if !reply.status.is_success() {
        let kind = if reply.status.is_server_error() {
            ErrorKind::Server
        } else {
            ErrorKind::Config
        };
        return Err(OpError::new(
            kind,
            format!(
                "discovery at {} failed with {}: check issuer",
                reply.host, reply.status
            ),
        ));
    }
    let obj = json_object(&reply)?;
    let doc: Document = serde_json::from_value(serde_json::Value::Object(obj)).map_err(|e| {
        protocol(format!(
            "the discovery document of {} is malformed: {e}",
            reply.host
        ))
    })?;
    merge(explicit(cfg), doc, &issuer_string(issuer))
}

fn merge(mut ep: Endpoints, doc: Document, expected_issuer: &str) -> Result<Endpoints, OpError> {
    let said = doc.issuer.as_deref().map(|s| s.trim_end_matches('/'));
    if said != Some(expected_issuer) {
        return Err(protocol(format!(
            "the discovery document names issuer \"{}\" but issuer is configured as \"{expected_issuer}\"",
            shown(doc.issuer.as_deref().unwrap_or("(none)"))
        )));
    }
    // The document's own spelling, trailing slash and all, is what its
    // tokens' `iss` says (an `Url` gives a bare host one, so the config's
    // is compared without it).
    ep.issuer = doc.issuer;
    let url = |key: &str, v: Option<String>| v.map(|s| discovered_url(key, &s)).transpose();
    ep.authorize = ep
        .authorize
        .or(url("authorization_endpoint", doc.authorization_endpoint)?);
    ep.token = ep.token.or(url("token_endpoint", doc.token_endpoint)?);
    ep.end_session = url("end_session_endpoint", doc.end_session_endpoint)?;
    ep.discovered_revocation = url("revocation_endpoint", doc.revocation_endpoint)?;
    ep.iss_in_callback = doc.authorization_response_iss_parameter_supported;
    Ok(ep)
}

fn discovered_url(key: &str, value: &str) -> Result<Url, OpError> {
    let url =
        Url::parse(value).map_err(|e| protocol(format!("discovered {key} is not a URL: {e}")))?;
    check_transport(&url).map_err(|m| protocol(format!("discovered {key} is refused: {m}")))?;
    Ok(url)
}

fn well_known(issuer: &Url) -> Result<Url, OpError> {
    let text = format!("{}/.well-known/openid-configuration", issuer_string(issuer));
    Url::parse(&text).map_err(|e| OpError::new(ErrorKind::Config, format!("bad issuer: {e}")))
}

/// The issuer as compared and joined: without a trailing slash.
pub fn issuer_string(issuer: &Url) -> String {
    issuer.as_str().trim_end_matches('/').to_owned()
}

fn protocol(message: String) -> OpError {
    OpError::new(ErrorKind::Protocol, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(issuer: &str, token: &str) -> Document {
        Document {
            issuer: Some(issuer.into()),
            authorization_endpoint: Some("https://idp.test/auth".into()),
            token_endpoint: Some(token.into()),
            end_session_endpoint: None,
            revocation_endpoint: None,
            authorization_response_iss_parameter_supported: true,
        }
    }

    #[test]
    fn explicit_endpoints_win_and_discovered_ones_are_checked() {
        let ep = Endpoints {
            token: Some(Url::parse("https://mine.test/token").unwrap()),
            ..Endpoints::default()
        };
        let got = merge(
            ep.clone(),
            doc("https://idp.test", "https://idp.test/t"),
            "https://idp.test",
        )
        .unwrap();
        assert_eq!(got.token.unwrap().as_str(), "https://mine.test/token");
        assert_eq!(got.authorize.unwrap().as_str(), "https://idp.test/auth");
        assert!(got.iss_in_callback);
        let e = merge(
            Endpoints::default(),
            doc("https://idp.test", "http://evil.example/t"),
            "https://idp.test",
        )
        .unwrap_err();
        assert!(e.message.contains("token_endpoint"), "{}", e.message);
    }

    /// `https://idp.test/` configured is the `Url` of the bare host either
    /// way; the document's spelling is what its id tokens are held to.
    #[test]
    fn the_documents_issuer_is_kept_as_it_spells_it() {
        for said in ["https://idp.test", "https://idp.test/"] {
            let got = merge(
                Endpoints::default(),
                doc(said, "https://idp.test/t"),
                "https://idp.test",
            )
            .unwrap();
            assert_eq!(got.issuer.as_deref(), Some(said));
        }
    }

    #[test]
    fn a_document_for_another_issuer_is_refused() {
        let e = merge(
            Endpoints::default(),
            doc("https://other.test", "https://other.test/t"),
            "https://idp.test",
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Protocol);
    }
}
