//! Random identifiers and secrets; behind a trait so tests can make them
//! predictable.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

/// Meteor's id alphabet: no 0, 1, I, O, l, V or v, so ids read unambiguously.
const METEOR_ALPHABET: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz";
/// Backup codes avoid look-alike characters too, in lowercase only.
const BACKUP_CODE_ALPHABET: &[u8] = b"23456789abcdefghijkmnpqrstuvwxyz";

pub trait IdGenerator: Send + Sync + 'static {
    /// 17 characters of the Meteor alphabet: session and user ids.
    fn meteor_id(&self) -> String;
    /// 24 lowercase hex characters: the session record `_id`.
    fn record_id(&self) -> String;
    /// A login token: 32 random bytes, base64url without padding (43 chars).
    fn login_token(&self) -> String;
    /// An 8-character single-use backup code.
    fn backup_code(&self) -> String;
    /// 20 random bytes for a TOTP secret.
    fn totp_secret(&self) -> Vec<u8>;
}

/// Ids from the thread-local CSPRNG.
#[derive(Debug, Default, Clone, Copy)]
pub struct RandomIds;

fn random_string(alphabet: &[u8], len: usize) -> String {
    (0..len)
        .map(|_| alphabet[rand::random_range(0..alphabet.len())] as char)
        .collect()
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand::fill(&mut bytes);
    bytes
}

impl IdGenerator for RandomIds {
    fn meteor_id(&self) -> String {
        random_string(METEOR_ALPHABET, 17)
    }

    fn record_id(&self) -> String {
        hex::encode(random_bytes::<12>())
    }

    fn login_token(&self) -> String {
        URL_SAFE_NO_PAD.encode(random_bytes::<32>())
    }

    fn backup_code(&self) -> String {
        random_string(BACKUP_CODE_ALPHABET, 8)
    }

    fn totp_secret(&self) -> Vec<u8> {
        random_bytes::<20>().to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_the_documented_shapes() {
        let ids = RandomIds;
        let meteor = ids.meteor_id();
        assert_eq!(meteor.len(), 17);
        assert!(meteor.bytes().all(|b| METEOR_ALPHABET.contains(&b)));
        let record = ids.record_id();
        assert_eq!(record.len(), 24);
        assert!(
            record
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_eq!(ids.login_token().len(), 43);
        assert_eq!(ids.backup_code().len(), 8);
        assert_ne!(ids.login_token(), ids.login_token());
    }
}
