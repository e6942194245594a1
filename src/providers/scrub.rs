//! What a provider says back must not carry what was sent to it. Some
//! providers echo the refresh token, the code or the `Authorization` header
//! in their error text, and that text reaches the screen, the audit log and
//! `status --json`. An answer that fails is read again with every value
//! sent blanked out of its body, before any of its text is cut to length
//! (a cut would leave a token's first half where a whole one is found).
//!
//! An answer that succeeds is read as it came: a provider that does not
//! rotate refresh tokens sends back the one it was given.
//!
//! A provider may also quote a secret it was not sent (the access token, in
//! a refresh's error), so the worker blanks every secret a connection holds
//! from a failure's message too (`Sent::blank`), after the cut: there, the
//! start of a secret left before the cut's "…" is blanked as well.

use serde_json::{Map, Value};

use super::http::Reply;
use crate::domain::Secret;

/// What stands where a value sent appeared.
pub const REDACTED: &str = "[redacted]";

/// Shorter values are not blanked: a four-letter client secret is a test
/// fixture, and blanking it would blank the word wherever it appears.
const SHORTEST: usize = 5;

/// The secret values of one request, in each form a provider could echo
/// them: as sent, form-encoded, and with JSON's escaped `/`.
#[derive(Default)]
pub struct Sent {
    values: Vec<Secret>,
}

impl Sent {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, value: &str) {
        if value.chars().count() < SHORTEST {
            return;
        }
        let encoded: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
        let escaped = value.replace('/', "\\/");
        for form in [value.to_owned(), encoded, escaped] {
            if !self.values.iter().any(|v| v.expose() == form) {
                self.values.push(Secret::new(form));
            }
        }
        // Longest first: a value that holds another is blanked whole.
        self.values
            .sort_by_key(|v| std::cmp::Reverse(v.expose().len()));
    }

    /// `reply` with every value sent blanked out of its body: in each string
    /// and key of a JSON body, or anywhere in any other.
    pub fn scrub(&self, reply: &Reply) -> Reply {
        let body = match serde_json::from_slice::<Value>(&reply.body) {
            Ok(value) => serde_json::to_vec(&self.value(value)).unwrap_or_default(),
            Err(_) => self
                .text(&String::from_utf8_lossy(&reply.body))
                .into_bytes(),
        };
        Reply {
            status: reply.status,
            headers: reply.headers.clone(),
            body,
            host: reply.host.clone(),
        }
    }

    fn value(&self, value: Value) -> Value {
        match value {
            Value::String(s) => Value::String(self.text(&s)),
            Value::Array(items) => Value::Array(items.into_iter().map(|v| self.value(v)).collect()),
            Value::Object(map) => Value::Object(
                map.into_iter()
                    .map(|(k, v)| (self.text(&k), self.value(v)))
                    .collect::<Map<_, _>>(),
            ),
            other => other,
        }
    }

    fn text(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for value in &self.values {
            if text.contains(value.expose()) {
                text = text.replace(value.expose(), REDACTED);
            }
        }
        text
    }

    /// `text` with every value blanked, and with the start of one cut
    /// short by a message's "…" (a provider's text is cut to length before
    /// anyone knows which of the connection's secrets it quotes).
    pub fn blank(&self, text: &str) -> String {
        let mut text = self.text(text);
        for value in &self.values {
            text = blank_cut_start(&text, value.expose());
        }
        text
    }
}

/// `text` with each start of `value` of at least [`SHORTEST`] chars that
/// stands right before a "…" blanked.
fn blank_cut_start(text: &str, value: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(CUT) {
        let before = &rest[..at];
        let longest = value
            .char_indices()
            .map(|(i, c)| i + c.len_utf8())
            .filter(|&end| value[..end].chars().count() >= SHORTEST)
            .rfind(|&end| before.ends_with(&value[..end]));
        match longest {
            Some(end) => {
                out.push_str(&before[..before.len() - end]);
                out.push_str(REDACTED);
            }
            None => out.push_str(before),
        }
        out.push(CUT);
        rest = &rest[at + CUT.len_utf8()..];
    }
    out.push_str(rest);
    out
}

/// What marks a provider's text cut to length (`token::shown`).
const CUT: char = '…';

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;
    use reqwest::header::HeaderMap;

    fn reply(body: &str) -> Reply {
        Reply {
            status: StatusCode::BAD_REQUEST,
            headers: HeaderMap::new(),
            body: body.as_bytes().to_vec(),
            host: "127.0.0.1:1".into(),
        }
    }

    fn scrubbed(sent: &Sent, body: &str) -> String {
        String::from_utf8(sent.scrub(&reply(body)).body).unwrap()
    }

    #[test]
    fn a_secret_quoted_whole_or_cut_short_is_blanked() {
        let mut held = Sent::new();
        held.add("ATMARKER_min1");
        held.add("tiny");
        assert_eq!(
            held.blank("the provider refused (invalid_request: token ATMARKER_min1 active)"),
            "the provider refused (invalid_request: token [redacted] active)"
        );
        assert_eq!(
            held.blank("refused (x: token ATMARK…); the token was kept"),
            "refused (x: token [redacted]…); the token was kept"
        );
        assert_eq!(
            held.blank("refused (x: token ATMA…, tiny…)"),
            "refused (x: token ATMA…, tiny…)",
            "fewer chars than a secret needs are no secret"
        );
    }

    #[test]
    fn every_form_of_a_value_sent_is_blanked_and_nothing_else() {
        let mut sent = Sent::new();
        sent.add("rt/abc+def=");
        sent.add("Basic Y2xpZW50OnNlY3JldA==");
        sent.add("Y2xpZW50OnNlY3JldA==");
        sent.add("tiny");
        let body = r#"{"error":"invalid_grant","error_description":"token rt\/abc+def= (rt%2Fabc%2Bdef%3D) with Basic Y2xpZW50OnNlY3JldA== from tiny","rt/abc+def=":[1,"x rt/abc+def="]}"#;
        let out: Value = serde_json::from_str(&scrubbed(&sent, body)).unwrap();
        assert_eq!(
            out,
            serde_json::json!({
                "error": "invalid_grant",
                "error_description": "token [redacted] ([redacted]) with [redacted] from tiny",
                "[redacted]": [1, "x [redacted]"],
            })
        );
        assert_eq!(
            scrubbed(&sent, "<p>bad rt/abc+def= here</p>"),
            "<p>bad [redacted] here</p>"
        );
    }
}
