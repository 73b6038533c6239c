//! RFC 6238 TOTP (SHA-1, 6 digits, 30 s steps) and otpauth URIs.

use data_encoding::BASE32_NOPAD;
use hmac::{Hmac, KeyInit, Mac};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use sha1::Sha1;

use crate::secrets::constant_time_eq;

pub const STEP_SECONDS: i64 = 30;
const DIGITS: u32 = 6;

/// Decodes a base32 secret as authenticator apps show it: any case, spaces
/// and padding allowed.
pub fn decode_secret(base32: &str) -> Option<Vec<u8>> {
    let cleaned: String = base32
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '=')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let bytes = BASE32_NOPAD.decode(cleaned.as_bytes()).ok()?;
    (!bytes.is_empty()).then_some(bytes)
}

pub fn encode_secret(secret: &[u8]) -> String {
    BASE32_NOPAD.encode(secret)
}

/// The time step of a Unix time.
pub fn step_at(unix_seconds: i64) -> i64 {
    unix_seconds.div_euclid(STEP_SECONDS)
}

/// The code of one time step (RFC 4226 dynamic truncation).
pub fn code_for_step(secret: &[u8], step: i64) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(&(step as u64).to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = (digest[digest.len() - 1] & 0x0f) as usize;
    let binary = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    format!("{:06}", binary % 10u32.pow(DIGITS))
}

/// The step whose code matches, searching `skew` steps either side of now.
pub fn matching_step(secret: &[u8], code: &str, unix_seconds: i64, skew: i64) -> Option<i64> {
    let now = step_at(unix_seconds);
    let mut found = None;
    // Every candidate is compared, so the time taken does not reveal which matched.
    for step in (now - skew)..=(now + skew) {
        if constant_time_eq(&code_for_step(secret, step), code) && found.is_none() {
            found = Some(step);
        }
    }
    found
}

/// `otpauth://totp/Issuer:account?secret=...&issuer=...` for authenticator apps.
pub fn otpauth_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    let issuer_enc = utf8_percent_encode(issuer, NON_ALPHANUMERIC).to_string();
    let account_enc = utf8_percent_encode(account, NON_ALPHANUMERIC).to_string();
    format!(
        "otpauth://totp/{issuer_enc}:{account_enc}?secret={}&issuer={issuer_enc}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
        encode_secret(secret)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 rows (8-digit values, last 6 digits here).
    #[test]
    fn rfc6238_vectors() {
        let secret = b"12345678901234567890";
        for (time, expected) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_111_111_111, "050471"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
            (20_000_000_000, "353130"),
        ] {
            assert_eq!(code_for_step(secret, step_at(time)), expected, "t={time}");
        }
    }

    #[test]
    fn accepts_one_step_either_side_only() {
        let secret = b"12345678901234567890";
        let now = 1_234_567_890;
        let previous = code_for_step(secret, step_at(now) - 1);
        assert_eq!(
            matching_step(secret, &previous, now, 1),
            Some(step_at(now) - 1)
        );
        let too_old = code_for_step(secret, step_at(now) - 2);
        assert_eq!(matching_step(secret, &too_old, now, 1), None);
    }

    #[test]
    fn secrets_round_trip_through_base32() {
        let secret = b"12345678901234567890";
        let encoded = encode_secret(secret);
        assert_eq!(encoded, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert_eq!(decode_secret(&encoded.to_lowercase()).unwrap(), secret);
        assert_eq!(
            decode_secret("GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ").unwrap(),
            secret
        );
        assert!(decode_secret("not base32!").is_none());
    }

    #[test]
    fn otpauth_uri_names_issuer_and_account() {
        let uri = otpauth_uri("Sessions", "jo doe", b"12345678901234567890");
        assert_eq!(
            uri,
            "otpauth://totp/Sessions:jo%20doe?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Sessions&algorithm=SHA1&digits=6&period=30"
        );
    }
}

/// Codes and secrets for any key and any time, not just the RFC's vectors.
#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn the_code_of_a_step_finds_that_step(
            secret in proptest::collection::vec(any::<u8>(), 0..64),
            unix_seconds in any::<i64>(),
            offset in -2i64..=2,
        ) {
            let now = step_at(unix_seconds);
            let code = code_for_step(&secret, now);
            prop_assert!(code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()), "{code}");
            prop_assert_eq!(matching_step(&secret, &code, unix_seconds, 0), Some(now));
            // Within a window the code of any step in it matches; an earlier step
            // may share the code (one in a million), so check what was found.
            let target = now.saturating_add(offset);
            let code = code_for_step(&secret, target);
            let found = matching_step(&secret, &code, unix_seconds, 2);
            prop_assert!(found.is_some_and(|step| step <= target && step >= now - 2));
            prop_assert_eq!(found.map(|step| code_for_step(&secret, step)), Some(code));
        }

        #[test]
        fn secrets_round_trip_through_base32(
            secret in proptest::collection::vec(any::<u8>(), 1..64),
        ) {
            let encoded = encode_secret(&secret);
            prop_assert_eq!(decode_secret(&encoded), Some(secret.clone()));
            // As authenticator apps show it: lower case, in groups of four.
            let shown = encoded
                .to_lowercase()
                .as_bytes()
                .chunks(4)
                .map(|chunk| String::from_utf8_lossy(chunk).into_owned())
                .collect::<Vec<_>>()
                .join(" ");
            prop_assert_eq!(decode_secret(&shown), Some(secret));
        }

        #[test]
        fn any_text_decodes_to_a_secret_or_none(text in "\\PC{0,40}") {
            if let Some(secret) = decode_secret(&text) {
                prop_assert!(!secret.is_empty());
            }
        }
    }
}
