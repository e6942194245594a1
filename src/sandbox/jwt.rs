//! JWT minting for the sandbox, plus the random ids and fingerprints it hands out.
//!
//! Dapi tokens are HS256 like the seed's samples (the header is byte-identical
//! to theirs). OIDC tokens are EdDSA (Ed25519) so the realm's `certs` endpoint
//! can publish the real verification key instead of an empty JWKS. Claims are
//! serialised from caller structs, so field order is the caller's order.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _};
use hmac::{Hmac, Mac as _};
use serde::Serialize;
use sha2::{Digest as _, Sha256};

/// Exactly the seed's header: `{"alg":"HS256","typ":"JWT"}`.
const HS256_HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

pub(crate) fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Signing material, created fresh for each sandbox start.
pub(crate) struct Keys {
    hs256: [u8; 32],
    ed25519: SigningKey,
    kid: String,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material, even in debug output.
        f.debug_struct("Keys").field("kid", &self.kid).finish()
    }
}

impl Keys {
    pub(crate) fn generate() -> Self {
        let ed25519 = SigningKey::from_bytes(&rand::random::<[u8; 32]>());
        let kid = fingerprint(&b64url(ed25519.verifying_key().as_bytes()));
        Self {
            hs256: rand::random(),
            ed25519,
            kid,
        }
    }

    pub(crate) fn hs256<C: Serialize>(&self, claims: &C) -> String {
        let signing_input = format!("{}.{}", b64url(HS256_HEADER.as_bytes()), encode(claims));
        let sig = match Hmac::<Sha256>::new_from_slice(&self.hs256) {
            Ok(mut mac) => {
                mac.update(signing_input.as_bytes());
                mac.finalize().into_bytes().to_vec()
            }
            // HMAC accepts keys of any length; this arm is unreachable.
            Err(_) => Vec::new(),
        };
        format!("{signing_input}.{}", b64url(&sig))
    }

    pub(crate) fn eddsa<C: Serialize>(&self, claims: &C) -> String {
        let header = serde_json::json!({"alg": "EdDSA", "typ": "JWT", "kid": self.kid});
        let signing_input = format!("{}.{}", encode(&header), encode(claims));
        let sig = self.ed25519.sign(signing_input.as_bytes());
        format!("{signing_input}.{}", b64url(&sig.to_bytes()))
    }

    /// Whether `token` carries a valid signature by this sandbox's Ed25519 key.
    pub(crate) fn verify_eddsa(&self, token: &str) -> bool {
        let Some((input, sig)) = token.rsplit_once('.') else {
            return false;
        };
        let sig = URL_SAFE_NO_PAD.decode(sig).ok();
        let Some(sig) = sig.and_then(|s| <[u8; 64]>::try_from(s.as_slice()).ok()) else {
            return false;
        };
        let key = self.ed25519.verifying_key();
        key.verify(input.as_bytes(), &Signature::from_bytes(&sig))
            .is_ok()
    }

    /// The public half as a JWK set, as `certs` publishes it.
    pub(crate) fn jwks(&self) -> serde_json::Value {
        serde_json::json!({"keys": [{
            "kid": self.kid,
            "kty": "OKP",
            "crv": "Ed25519",
            "alg": "EdDSA",
            "use": "sig",
            "x": b64url(self.ed25519.verifying_key().as_bytes()),
        }]})
    }
}

fn encode<C: Serialize>(claims: &C) -> String {
    // Serialising plain structs and json values cannot fail.
    b64url(&serde_json::to_vec(claims).unwrap_or_default())
}

/// The claims of a JWT, unverified: the sandbox only reads tokens it minted
/// itself or that a test registered, and looks them up in its own tables.
pub(crate) fn claims(token: &str) -> Option<serde_json::Value> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// A short stable id for a secret, safe to show in `/sandbox/state` and logs.
pub fn fingerprint(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest[..6].iter().map(|b| format!("{b:02x}")).collect()
}

/// `n` random bytes as lowercase hex.
pub(crate) fn random_hex(n: usize) -> String {
    (0..n)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect()
}

/// A random opaque token with a readable prefix.
pub fn random_token(prefix: &str) -> String {
    format!("{prefix}{}", b64url(&rand::random::<[u8; 32]>()))
}

/// A random salt shaped like the seed's (base64 of 32 bytes).
pub(crate) fn random_salt() -> String {
    STANDARD.encode(rand::random::<[u8; 32]>())
}

/// A random version-4 UUID, formatted like the seed's `tokenID`.
pub(crate) fn uuid_v4() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// PKCE S256: `BASE64URL(SHA256(verifier))`.
pub(crate) fn s256(verifier: &str) -> String {
    b64url(&Sha256::digest(verifier.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::VerifyingKey;

    #[test]
    fn eddsa_tokens_verify_against_the_published_key() {
        let keys = Keys::generate();
        let token = keys.eddsa(&serde_json::json!({"sub": "u"}));
        let jwks = keys.jwks();
        let x = jwks["keys"][0]["x"].as_str().unwrap();
        let key_bytes: [u8; 32] = URL_SAFE_NO_PAD.decode(x).unwrap().try_into().unwrap();
        let key = VerifyingKey::from_bytes(&key_bytes).unwrap();
        let (input, sig) = token.rsplit_once('.').unwrap();
        let sig: [u8; 64] = URL_SAFE_NO_PAD.decode(sig).unwrap().try_into().unwrap();
        key.verify(input.as_bytes(), &Signature::from_bytes(&sig))
            .unwrap();
        assert_eq!(claims(&token).unwrap()["sub"], "u");
        assert!(keys.verify_eddsa(&token));
        assert!(!keys.verify_eddsa(&token.replace(".", ".x")));
    }

    #[test]
    fn s256_matches_an_independent_implementation() {
        // Computed with Python's hashlib + urlsafe_b64encode, padding stripped.
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wnw0b5vKn2Jk"),
            "vAiZUHXjaE3WXNEDEQd06BK_P44QvOzYfR_KbyzEMtM"
        );
    }

    #[test]
    fn uuid_has_the_v4_shape() {
        let id = uuid_v4();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
    }
}
