//! JWT claims decoded without their signature.
//!
//! bankdeck shows what a token says about itself (`exp`, `iat`, scopes); an
//! access token's claims are trusted for nothing more, since the provider
//! that issued it is the only judge of it. An id token's claims are also
//! checked (`providers::oidc::check_id_token`), as OpenID Connect allows for
//! one that came straight from the token endpoint. Decoding therefore needs
//! no key and must never panic on whatever bytes a provider or an operator
//! hands us.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};
use thiserror::Error;

use super::scopes::Scopes;
use super::time::UnixTime;

/// Larger than any real token, small enough that a hostile one costs nothing.
pub const MAX_JWT_LEN: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum JwtError {
    #[error("not a JWT: expected three dot-separated parts, found {0}")]
    Segments(usize),
    #[error("not a JWT: the {0} part is not base64url")]
    Base64(&'static str),
    #[error("not a JWT: the {0} part is not a JSON object")]
    NotJson(&'static str),
    #[error("token too large to decode ({0} bytes, limit {MAX_JWT_LEN})")]
    TooLarge(usize),
}

/// The decoded header and payload of a JWT.
#[derive(Debug, Clone, PartialEq)]
pub struct Claims {
    pub header: Map<String, Value>,
    pub payload: Map<String, Value>,
}

impl Claims {
    pub fn decode(token: &str) -> Result<Claims, JwtError> {
        if token.len() > MAX_JWT_LEN {
            return Err(JwtError::TooLarge(token.len()));
        }
        let parts: Vec<&str> = token.trim().split('.').collect();
        if parts.len() != 3 {
            return Err(JwtError::Segments(parts.len()));
        }
        Ok(Claims {
            header: decode_part(parts[0], "header")?,
            payload: decode_part(parts[1], "payload")?,
        })
    }

    pub fn exp(&self) -> Option<UnixTime> {
        self.int("exp").map(UnixTime)
    }

    pub fn iat(&self) -> Option<UnixTime> {
        self.int("iat").map(UnixTime)
    }

    pub fn str(&self, key: &str) -> Option<&str> {
        self.payload.get(key).and_then(Value::as_str)
    }

    /// Lifetime the issuer intended (`exp - iat`), when it says both.
    pub fn lifetime_secs(&self) -> Option<i64> {
        Some(self.exp()?.0 - self.iat()?.0)
    }

    /// Dapi's `authorizations` claim as granted and denied scopes plus products.
    pub fn dapi_scopes(&self) -> Option<Scopes> {
        self.payload.get("authorizations").map(Scopes::from_dapi)
    }

    /// The space-separated `scope` claim of OAuth and OIDC access tokens.
    pub fn scope_claim(&self) -> Option<Vec<String>> {
        self.str("scope").map(super::scopes::split_scope)
    }

    fn int(&self, key: &str) -> Option<i64> {
        match self.payload.get(key)? {
            Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
            _ => None,
        }
    }
}

fn decode_part(part: &str, which: &'static str) -> Result<Map<String, Value>, JwtError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|_| JwtError::Base64(which))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(JwtError::NotJson(which)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seed 002, "Request Example": the sample access code.
    pub const SEED_ACCESS_CODE: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzYWx0IjoiRmlHUUhDM2NwZ01NZmhaejNHMk8zNitHakdBUEs0ZFptSEgwRy9jN1cxWT0iLCJhcHBLZXkiOiI0OTc3OTFjZmQ1MTBmMjI1MDc1Yzk3YWNkYzFkYmY0YTI1ZDczNTgxNGZlMmE3OGQxZjRiMGI4OTcxOGU3ZWQ2IiwidG9rZW5JRCI6IjYxMWM3YWE4LTcwYWYtNGQ3Zi1hODk1LTI4OWU4OTIzOTMxMyIsImlhdCI6MTYxNjQyOTI0MCwiZXhwIjoxNjE2NDI5NTQwfQ.FVo8b-krSDNHjIormm_BZAUxUfr_4ZEAzp_xh9WuR0M";
    /// Seed 002, "Response Example": the sample access token.
    pub const SEED_ACCESS_TOKEN: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzYWx0IjoiRmlHUUhDM2NwZ01NZmhaejNHMk8zNitHakdBUEs0ZFptSEgwRy9jN1cxWT0iLCJhcHBLZXkiOiI0OTc3OTFjZmQ1MTBmMjI1MDc1Yzk3YWNkYzFkYmY0YTI1ZDczNTgxNGZlMmE3OGQxZjRiMGI4OTcxOGU3ZWQ2IiwidG9rZW5JRCI6IjYxMWM3YWE4LTcwYWYtNGQ3Zi1hODk1LTI4OWU4OTIzOTMxMyIsImF1dGhvcml6YXRpb25zIjp7ImF1dGhlbnRpY2F0aW9uIjp7ImNyZWF0ZSI6dHJ1ZX0sImlkZW50aXR5Ijp7ImdldCI6ZmFsc2V9LCJhY2NvdW50cyI6eyJnZXQiOmZhbHNlfSwiYmFsYW5jZSI6eyJnZXQiOmZhbHNlfSwidHJhbnNhY3Rpb25zIjp7ImdldCI6ZmFsc2V9LCJiZW5lZmljaWFyaWVzIjp7ImdldCI6ZmFsc2UsImNyZWF0ZSI6ZmFsc2V9LCJ0cmFuc2ZlciI6eyJjcmVhdGUiOmZhbHNlfSwiY2FyZHMiOnsiZ2V0IjpmYWxzZX0sInN0YXRlbWVudHMiOnsiZ2V0IjpmYWxzZX0sInByb2R1Y3RzIjpbImRhdGEiLCJwYXltZW50Il19LCJpYXQiOjE2MTY0MjkzMTZ9.MIicjZXD8ojOqInzKqeyzmfCkQaxl7K6NU7Q5UPt47Y";

    #[test]
    fn seed_access_code_lives_300_seconds() {
        let c = Claims::decode(SEED_ACCESS_CODE).unwrap();
        assert_eq!(c.iat(), Some(UnixTime(1_616_429_240)));
        assert_eq!(c.exp(), Some(UnixTime(1_616_429_540)));
        assert_eq!(c.lifetime_secs(), Some(300));
        assert_eq!(
            c.str("tokenID"),
            Some("611c7aa8-70af-4d7f-a895-289e89239313")
        );
        assert_eq!(c.header.get("alg").and_then(Value::as_str), Some("HS256"));
    }

    #[test]
    fn seed_access_token_is_permanent_and_grants_authentication_create_only() {
        let c = Claims::decode(SEED_ACCESS_TOKEN).unwrap();
        assert_eq!(c.exp(), None);
        assert_eq!(c.iat(), Some(UnixTime(1_616_429_316)));
        let s = c.dapi_scopes().unwrap();
        assert_eq!(*s.granted, vec!["authentication.create"]);
        assert_eq!(*s.products, vec!["data", "payment"]);
        assert_eq!(s.denied.len(), 9);
        for denied in [
            "identity.get",
            "accounts.get",
            "balance.get",
            "transactions.get",
            "beneficiaries.get",
            "beneficiaries.create",
            "transfer.create",
            "cards.get",
            "statements.get",
        ] {
            assert!(s.denied.iter().any(|d| d == denied), "{denied} not denied");
        }
    }

    #[test]
    fn malformed_tokens_give_typed_errors() {
        assert_eq!(Claims::decode("a.b"), Err(JwtError::Segments(2)));
        assert_eq!(Claims::decode(""), Err(JwtError::Segments(1)));
        assert_eq!(Claims::decode("a.b.c.d"), Err(JwtError::Segments(4)));
        assert_eq!(Claims::decode("!!.e30.x"), Err(JwtError::Base64("header")));
        // "bm90IGpzb24" is base64url of "not json".
        assert_eq!(
            Claims::decode("e30.bm90IGpzb24.x"),
            Err(JwtError::NotJson("payload"))
        );
        // "WzFd" is "[1]": JSON, but not an object.
        assert_eq!(
            Claims::decode("e30.WzFd.x"),
            Err(JwtError::NotJson("payload"))
        );
        let huge = format!("e30.{}.x", "A".repeat(MAX_JWT_LEN));
        assert!(matches!(Claims::decode(&huge), Err(JwtError::TooLarge(_))));
    }

    #[test]
    fn non_integer_exp_is_ignored_not_fatal() {
        // {"exp":"soon"}
        let c = Claims::decode("e30.eyJleHAiOiJzb29uIn0.x").unwrap();
        assert_eq!(c.exp(), None);
    }
}
