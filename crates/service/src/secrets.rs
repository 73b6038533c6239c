//! Hashing of tokens, passwords and backup codes, and constant-time comparison.

use std::cell::RefCell;

use argon2::{
    Algorithm, Argon2, Block, Params, Version,
    password_hash::{
        self,
        phc::{Output, ParamsString, PasswordHash, Salt},
    },
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
    let params = Params::default();
    let salt = password_hash::generate_salt();
    let mut output = [0u8; Params::DEFAULT_OUTPUT_LEN];
    let argon2 = Argon2::new(Algorithm::default(), Version::default(), params.clone());
    argon2_in_thread_memory(&argon2, &params, digest.as_bytes(), &salt, &mut output)
        .map_err(|e| format!("argon2: {e}"))?;
    let phc = PasswordHash {
        algorithm: Algorithm::default().ident(),
        version: Some(Version::default().into()),
        params: ParamsString::try_from(&params).map_err(|e| format!("argon2: {e}"))?,
        salt: Some(Salt::new(&salt).map_err(|e| format!("argon2: {e}"))?),
        hash: Some(Output::new(&output).map_err(|e| format!("argon2: {e}"))?),
    };
    Ok(phc.to_string())
}

/// Runs Argon2 in block memory this thread keeps for its next hash. The
/// crate's own API allocates and frees 19 MiB per hash, and the allocator
/// keeps such freed blocks per thread, fragmented: memory grew by tens of
/// megabytes under a burst of logins. One buffer per hashing thread does not.
fn argon2_in_thread_memory(
    argon2: &Argon2,
    params: &Params,
    password: &[u8],
    salt: &[u8],
    output: &mut [u8],
) -> argon2::Result<()> {
    thread_local! {
        static BLOCKS: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
    }
    BLOCKS.with_borrow_mut(|blocks| {
        let needed = params.block_count();
        if blocks.len() != needed {
            // Argon2 writes every block before it reads it: no need to clear
            // the buffer between hashes, only to size it.
            *blocks = vec![Block::new(); needed];
        }
        argon2.hash_password_into_with_memory(password, salt, output, &mut blocks[..])
    })
}

/// Whether `digest` hashes to the PHC string `stored`, compared in constant time.
fn verify_phc(digest: &str, stored: &str) -> Option<bool> {
    let parsed = PasswordHash::new(stored).ok()?;
    let (salt, expected) = (parsed.salt.as_ref()?, parsed.hash.as_ref()?);
    let algorithm = Algorithm::try_from(parsed.algorithm.as_str()).ok()?;
    let version = match parsed.version {
        Some(v) => Version::try_from(v).ok()?,
        None => Version::default(),
    };
    let params = Params::try_from(&parsed).ok()?;
    let argon2 = Argon2::new(algorithm, version, params.clone());
    let mut computed = vec![0u8; expected.len()];
    argon2_in_thread_memory(&argon2, &params, digest.as_bytes(), salt, &mut computed).ok()?;
    Some(bool::from(computed.ct_eq(expected.as_bytes())))
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
    verify_phc(digest, hash).unwrap_or(false) && real
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

    /// Hashes made in reused thread memory are the crate's own PHC strings,
    /// both ways, whatever ran in that memory before.
    #[test]
    fn thread_memory_hashes_match_the_crates_own() {
        use argon2::{PasswordHasher, PasswordVerifier};
        let digest = password_digest("s3cret");
        for _ in 0..3 {
            let ours = hash_password_digest(&digest).unwrap();
            let parsed = PasswordHash::new(&ours).unwrap();
            assert!(
                Argon2::default()
                    .verify_password(digest.as_bytes(), &parsed)
                    .is_ok()
            );
            let theirs = Argon2::default()
                .hash_password(digest.as_bytes())
                .unwrap()
                .to_string();
            assert!(verify_password_digest(&digest, Some(&theirs)));
            assert!(!verify_password_digest(
                &password_digest("wrong"),
                Some(&theirs)
            ));
        }
        // Other parameters than ours (a hash from an older configuration).
        let small = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(1024, 2, 1, Some(32)).unwrap(),
        )
        .hash_password(digest.as_bytes())
        .unwrap()
        .to_string();
        assert!(verify_password_digest(&digest, Some(&small)));
        assert!(!verify_password_digest(&digest, Some("$argon2id$garbage")));
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
