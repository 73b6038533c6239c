//! Hashing of tokens, passwords and backup codes, and constant-time comparison.

use argon2::{
    Argon2,
    password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// `base64(sha256(token))`, standard alphabet with padding: the hash Meteor and
/// Rocket.Chat store, and the only form of a token we keep.
pub fn hash_login_token(token: &str) -> String {
    STANDARD.encode(Sha256::digest(token.as_bytes()))
}

/// Lowercase hex SHA-256 of a password: what Meteor clients send as a digest,
/// and the code of the 2FA password fallback.
pub fn password_digest(password: &str) -> String {
    hex::encode(Sha256::digest(password.as_bytes()))
}

/// Argon2id PHC string of the password's digest.
pub fn hash_password(password: &str) -> Result<String, String> {
    hash_password_digest(&password_digest(password))
}

fn hash_password_digest(digest: &str) -> Result<String, String> {
    Argon2::default()
        .hash_password(digest.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| format!("argon2: {e}"))
}

/// Verifies a password digest against a stored hash; `None` still spends the
/// time of a verification so unknown users cannot be told apart by timing.
pub fn verify_password_digest(digest: &str, stored: Option<&str>) -> bool {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash_password_digest("dummy").unwrap_or_default());
    let (hash, real) = match stored {
        Some(hash) => (hash, true),
        None => (dummy.as_str(), false),
    };
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let matches = Argon2::default()
        .verify_password(digest.as_bytes(), &parsed)
        .is_ok();
    matches && real
}

/// Hash of a backup code, salted with its owner so equal codes differ per user.
pub fn hash_backup_code(user_id: &str, code: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(user_id.as_bytes());
    hasher.update(b":");
    hasher.update(code.to_ascii_lowercase().as_bytes());
    hex::encode(hasher.finalize())
}

/// Equality of two secrets in time that does not depend on where they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_hash_matches_meteor() {
        assert_eq!(
            hash_login_token("abc123token"),
            "7n/b1Zi/ZJNZEV4FuaTkdqhextm8PJmvOUduZrsdslw="
        );
    }

    #[test]
    fn passwords_verify_by_digest() {
        let stored = hash_password("s3cret").unwrap();
        assert!(!stored.contains("s3cret"));
        assert!(verify_password_digest(
            &password_digest("s3cret"),
            Some(&stored)
        ));
        assert!(!verify_password_digest(
            &password_digest("wrong"),
            Some(&stored)
        ));
        assert!(!verify_password_digest(&password_digest("dummy"), None));
    }

    #[test]
    fn backup_code_hash_depends_on_user_and_ignores_case() {
        assert_eq!(
            hash_backup_code("u1", "ABCD2345"),
            hash_backup_code("u1", "abcd2345")
        );
        assert_ne!(
            hash_backup_code("u1", "abcd2345"),
            hash_backup_code("u2", "abcd2345")
        );
    }
}

/// Token hashes and comparisons for any input.
#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn login_token_hash_is_44_chars_of_base64_sha256(token in "\\PC{0,128}") {
            let hash = hash_login_token(&token);
            prop_assert_eq!(hash.len(), 44);
            prop_assert_eq!(STANDARD.decode(&hash).unwrap(), Sha256::digest(token.as_bytes()).to_vec());
        }

        #[test]
        fn constant_time_eq_is_equality(a in "\\PC{0,16}", b in "\\PC{0,16}") {
            prop_assert!(constant_time_eq(&a, &a));
            prop_assert_eq!(constant_time_eq(&a, &b), a == b);
        }
    }
}
