//! Form bodies for the token, revoke and logout endpoints.
//!
//! RFC 6749 §3.2 demands `application/x-www-form-urlencoded` and forbids
//! repeated parameters, so a JSON body or a duplicate is `invalid_request`
//! rather than silently accepted: clients must be tested against that.

use std::collections::HashMap;

use axum::http::{HeaderMap, header};

use super::error::OAuthError;

#[derive(Debug, Default)]
pub(crate) struct Form(HashMap<String, String>);

impl Form {
    pub(crate) fn parse(headers: &HeaderMap, body: &[u8]) -> Result<Self, OAuthError> {
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !content_type.starts_with("application/x-www-form-urlencoded") {
            return Err(OAuthError::invalid_request(
                "Content-Type must be application/x-www-form-urlencoded",
            ));
        }
        let mut map = HashMap::new();
        for (k, v) in url::form_urlencoded::parse(body) {
            if map.insert(k.to_string(), v.into_owned()).is_some() {
                return Err(OAuthError::invalid_request(&format!(
                    "Parameter {k} repeated"
                )));
            }
        }
        Ok(Self(map))
    }

    /// A form built in-process (the sandbox's own logins), as if posted.
    pub(crate) fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        Self(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    /// A parameter's value; an empty value counts as absent.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub(crate) fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name)
            .ok_or_else(|| OAuthError::invalid_request(&format!("Missing parameter: {name}")))
    }
}
