//! TOTP secrets at rest: AES-256-GCM under the configured key, bound to the
//! user id so a sealed secret cannot be moved to another account.

use aes_gcm::{
    Aes256Gcm, Nonce,
    aead::{Aead, KeyInit, Payload},
};
use base64::{Engine, engine::general_purpose::STANDARD};

const PREFIX: &str = "v1:";

/// Seals and opens TOTP secrets. Without a key, secrets are stored as plain
/// base32 (a laptop default the server warns about at start-up).
#[derive(Clone)]
pub struct SecretSealer {
    cipher: Option<Aes256Gcm>,
}

impl std::fmt::Debug for SecretSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretSealer")
            .field("keyed", &self.cipher.is_some())
            .finish()
    }
}

impl SecretSealer {
    /// `key_base64`: 32 bytes, base64. `None` leaves secrets unsealed.
    pub fn new(key_base64: Option<&str>) -> Result<Self, String> {
        let Some(encoded) = key_base64.filter(|k| !k.is_empty()) else {
            return Ok(Self::unkeyed());
        };
        let key = STANDARD
            .decode(encoded.trim())
            .map_err(|_| "the TOTP encryption key is not base64".to_owned())?;
        if key.len() != 32 {
            return Err(format!(
                "the TOTP encryption key has {} bytes; it needs 32",
                key.len()
            ));
        }
        let cipher = Aes256Gcm::new_from_slice(&key)
            .map_err(|_| "the TOTP encryption key has the wrong length".to_owned())?;
        Ok(Self {
            cipher: Some(cipher),
        })
    }

    /// Stores secrets as plain base32.
    pub fn unkeyed() -> Self {
        Self { cipher: None }
    }

    pub fn is_keyed(&self) -> bool {
        self.cipher.is_some()
    }

    /// The stored form of a base32 secret.
    pub fn seal(&self, user_id: &str, secret_base32: &str) -> Result<String, String> {
        let Some(cipher) = &self.cipher else {
            return Ok(secret_base32.to_owned());
        };
        let mut nonce = [0u8; 12];
        rand::fill(&mut nonce);
        let sealed = cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: secret_base32.as_bytes(),
                    aad: user_id.as_bytes(),
                },
            )
            .map_err(|_| "sealing the TOTP secret failed".to_owned())?;
        let mut stored = nonce.to_vec();
        stored.extend_from_slice(&sealed);
        Ok(format!("{PREFIX}{}", STANDARD.encode(stored)))
    }

    /// The base32 secret of a stored form; `None` if it cannot be opened (wrong
    /// key, tampering, or a sealed secret without a key).
    pub fn open(&self, user_id: &str, stored: &str) -> Option<String> {
        let Some(sealed) = stored.strip_prefix(PREFIX) else {
            return Some(stored.to_owned());
        };
        let cipher = self.cipher.as_ref()?;
        let bytes = STANDARD.decode(sealed).ok()?;
        if bytes.len() < 12 {
            return None;
        }
        let (nonce, ciphertext) = bytes.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().ok()?;
        let plain = cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: user_id.as_bytes(),
                },
            )
            .ok()?;
        String::from_utf8(plain).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=";

    #[test]
    fn sealed_secrets_open_only_for_their_user_and_key() {
        let sealer = SecretSealer::new(Some(KEY)).unwrap();
        let stored = sealer.seal("u1", "GEZDGNBVGY3TQOJQ").unwrap();
        assert!(stored.starts_with("v1:") && !stored.contains("GEZDGNBVGY3TQOJQ"));
        assert_eq!(
            sealer.open("u1", &stored).as_deref(),
            Some("GEZDGNBVGY3TQOJQ")
        );
        assert_eq!(sealer.open("u2", &stored), None);
        let other =
            SecretSealer::new(Some("MTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTE=")).unwrap();
        assert_eq!(other.open("u1", &stored), None);
        assert_eq!(SecretSealer::new(None).unwrap().open("u1", &stored), None);
    }

    #[test]
    fn unkeyed_secrets_stay_readable() {
        let plain = SecretSealer::new(None).unwrap();
        assert_eq!(plain.seal("u1", "ABC").unwrap(), "ABC");
        let keyed = SecretSealer::new(Some(KEY)).unwrap();
        assert_eq!(keyed.open("u1", "ABC").as_deref(), Some("ABC"));
        assert!(SecretSealer::new(Some("c2hvcnQ=")).is_err());
    }
}
