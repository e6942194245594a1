//! Per-field encryption: XChaCha20-Poly1305 with the field's address as AAD.
//!
//! Each secret is sealed on its own as `nonce (24 random bytes) || ciphertext`.
//! The associated data `bankdeck:v1:<table>:<column>:<row>` binds a ciphertext
//! to the one place it was written: copying a refresh token's bytes into
//! another connection's row, or into its access-token slot, fails
//! authentication instead of silently handing the wrong token to a bank.
//! 24-byte random nonces make collisions negligible without any counter state
//! to keep consistent across processes.

use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{Key, KeyInit, XChaCha20Poly1305, XNonce};
use rand::RngCore;
use zeroize::Zeroizing;

use crate::domain::Secret;
use crate::store::StoreError;

pub(crate) const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 24;

/// A 256-bit store key; zeroed when dropped.
pub(crate) type KeyBytes = Zeroizing<[u8; KEY_LEN]>;

/// Where a sealed value lives; it becomes the AAD.
#[derive(Clone, Copy)]
pub(crate) struct FieldAddr<'a> {
    pub table: &'a str,
    pub column: &'a str,
    pub row: i64,
}

impl FieldAddr<'_> {
    fn aad(&self) -> Vec<u8> {
        format!("bankdeck:v1:{}:{}:{}", self.table, self.column, self.row).into_bytes()
    }
}

/// The authentication tag did not match: wrong key, or altered bytes.
#[derive(Debug)]
pub(crate) struct Unsealable;

pub(crate) struct FieldCipher {
    aead: XChaCha20Poly1305,
}

impl FieldCipher {
    pub(crate) fn new(key: &KeyBytes) -> Self {
        Self {
            aead: XChaCha20Poly1305::new(Key::from_slice(key.as_slice())),
        }
    }

    pub(crate) fn seal(&self, at: FieldAddr<'_>, plain: &[u8]) -> Result<Vec<u8>, StoreError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let aad = at.aad();
        let sealed = self
            .aead
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plain,
                    aad: &aad,
                },
            )
            .map_err(|_| StoreError::Invalid("a value is too large to encrypt".into()))?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    pub(crate) fn open(
        &self,
        at: FieldAddr<'_>,
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, Unsealable> {
        if sealed.len() < NONCE_LEN {
            return Err(Unsealable);
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let aad = at.aad();
        self.aead
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: &aad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| Unsealable)
    }

    pub(crate) fn seal_secret(
        &self,
        at: FieldAddr<'_>,
        secret: &Secret,
    ) -> Result<Vec<u8>, StoreError> {
        self.seal(at, secret.expose().as_bytes())
    }

    /// Decrypts into a [`Secret`] without leaving a plaintext copy behind.
    pub(crate) fn open_secret(
        &self,
        at: FieldAddr<'_>,
        sealed: &[u8],
    ) -> Result<Secret, Unsealable> {
        let mut plain = self.open(at, sealed)?;
        let bytes = std::mem::take(&mut *plain);
        match String::from_utf8(bytes) {
            Ok(text) => Ok(Secret::new(text)),
            Err(e) => {
                drop(Zeroizing::new(e.into_bytes()));
                Err(Unsealable)
            }
        }
    }
}

/// Fresh random bytes for keys, salts and nonces.
pub(crate) fn random_bytes<const N: usize>() -> Zeroizing<[u8; N]> {
    let mut out = Zeroizing::new([0u8; N]);
    rand::rng().fill_bytes(out.as_mut_slice());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher() -> FieldCipher {
        FieldCipher::new(&random_bytes::<KEY_LEN>())
    }

    const AT: FieldAddr<'static> = FieldAddr {
        table: "secrets",
        column: "access_token",
        row: 7,
    };

    #[test]
    fn seal_then_open_round_trips_and_hides_the_plaintext() {
        let c = cipher();
        let sealed = c.seal(AT, b"eyJ-plaintext-token").unwrap();
        assert!(!sealed.windows(5).any(|w| w == b"eyJ-p"));
        assert_eq!(
            c.open(AT, &sealed).unwrap().as_slice(),
            b"eyJ-plaintext-token"
        );
    }

    #[test]
    fn a_ciphertext_moved_to_another_row_or_column_does_not_open() {
        let c = cipher();
        let sealed = c.seal(AT, b"token").unwrap();
        let other_row = FieldAddr { row: 8, ..AT };
        let other_col = FieldAddr {
            column: "refresh_token",
            ..AT
        };
        assert!(c.open(other_row, &sealed).is_err());
        assert!(c.open(other_col, &sealed).is_err());
    }

    #[test]
    fn a_flipped_byte_or_another_key_is_refused() {
        let c = cipher();
        let mut sealed = c.seal(AT, b"token").unwrap();
        assert!(cipher().open(AT, &sealed).is_err());
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert!(c.open(AT, &sealed).is_err());
        assert!(c.open(AT, &sealed[..10]).is_err());
    }
}
