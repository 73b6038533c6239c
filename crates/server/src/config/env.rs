//! The environment side of the configuration: every setting keeps the flat
//! `SESSIONS_<KEY>` name operators and `deploy/` use, and this one table says
//! where in the nested configuration each name lands.

use figment::providers::Env;

use super::ConfigError;

/// The prefix of every setting's environment variable.
pub(crate) const PREFIX: &str = "SESSIONS_";

/// `SESSIONS_` + the first column is the variable; the second is the TOML
/// path (and the field path in [`super::Config`]). `deploy/check_policy.py`
/// reads this table to check the manifests' variable names.
// One entry a line, so the table reads as the table it is.
#[rustfmt::skip]
pub(crate) const ENV_KEYS: &[(&str, &str)] = &[
    ("LISTEN", "listener.listen"),
    ("ADMIN_LISTEN", "listener.admin_listen"),
    ("SHUTDOWN_GRACE_SECS", "listener.shutdown_grace_secs"),
    ("REQUEST_TIMEOUT_SECS", "listener.request_timeout_secs"),
    ("HEADER_READ_TIMEOUT_SECS", "listener.header_read_timeout_secs"),
    ("MAX_HEADER_BYTES", "listener.max_header_bytes"),
    ("MAX_BODY_BYTES", "listener.max_body_bytes"),
    ("HTTP2_KEEP_ALIVE_SECS", "listener.http2_keep_alive_secs"),
    ("HTTP2_MAX_STREAMS", "listener.http2_max_streams"),
    ("MAX_CONNECTIONS", "listener.max_connections"),
    ("MAX_CONNECTIONS_PER_ADDRESS", "listener.max_connections_per_address"),
    ("IDLE_CONNECTION_TIMEOUT_SECS", "listener.idle_connection_timeout_secs"),
    ("TRUSTED_PROXIES", "listener.trusted_proxies"),
    ("CORS_ALLOWED_ORIGINS", "listener.cors_allowed_origins"),
    ("CONSOLE", "listener.console"),
    ("DATABASE_URL", "database.url"),
    ("DATABASE_MAX_CONNECTIONS", "database.max_connections"),
    ("DATABASE_TIMEOUT_MS", "database.timeout_ms"),
    ("MIGRATE_ON_START", "database.migrate_on_start"),
    ("INSTANCE_ID", "sessions.instance_id"),
    ("SITE_URL", "sessions.site_url"),
    ("SMTP_URL", "mail.smtp_url"),
    ("MAIL_FROM", "mail.from"),
    ("SITE_NAME", "mail.site_name"),
    ("LOGIN_EMAILS", "mail.login_emails"),
    ("LOGIN_EMAIL_PREFERENCE", "mail.login_email_preference"),
    ("LOGIN_EMAIL_POLICY", "mail.login_email_policy"),
    ("NEW_DEVICE_PERIOD_SECS", "mail.new_device_period_secs"),
    ("LOGIN_EMAIL_SUBJECT", "mail.login_email_subject"),
    ("LOGIN_EMAIL_BODY", "mail.login_email_body"),
    ("MAIL_MAX_ATTEMPTS", "mail.max_attempts"),
    ("MAIL_RETRY_BASE_SECS", "mail.retry_base_secs"),
    ("MAIL_POLL_INTERVAL_MS", "mail.poll_interval_ms"),
    ("MAIL_LEASE_SECS", "mail.lease_secs"),
    ("MAIL_SEND_TIMEOUT_SECS", "mail.send_timeout_secs"),
    ("TOKEN_CACHE", "token_cache.enabled"),
    ("TOKEN_CACHE_MEMORY_BYTES", "token_cache.memory_bytes"),
    ("TOKEN_CACHE_MAX_AGE_SECS", "token_cache.max_age_secs"),
    ("TOKEN_CACHE_TRUST_MS", "token_cache.trust_window_ms"),
    ("TOKEN_CACHE_FEED_INTERVAL_MS", "token_cache.feed_interval_ms"),
    ("SESSION_LIFETIME_SECS", "sessions.lifetime_secs"),
    ("ACTIVITY_THROTTLE_SECS", "sessions.activity_throttle_secs"),
    ("LIST_DEFAULT_COUNT", "sessions.list_default_count"),
    ("LIST_MAX_COUNT", "sessions.list_max_count"),
    ("TOTP_SKEW_STEPS", "two_factor.totp_skew_steps"),
    ("TOTP_ISSUER", "two_factor.totp_issuer"),
    ("TOTP_ENCRYPTION_KEY", "two_factor.totp_encryption_key"),
    ("TWO_FACTOR_REMEMBER_SECS", "two_factor.remember_secs"),
    ("TWO_FACTOR_MAX_ATTEMPTS", "two_factor.max_attempts"),
    ("TWO_FACTOR_ATTEMPTS_WINDOW_SECS", "two_factor.attempts_window_secs"),
    ("TWO_FACTOR_PASSWORD_FALLBACK", "two_factor.password_fallback"),
    ("EMAIL_CODE_LIFETIME_SECS", "two_factor.email_code_lifetime_secs"),
    ("EMAIL_CODE_RESEND_SECS", "two_factor.email_code_resend_secs"),
    ("EMAIL_CODE_MAILS_PER_HOUR", "two_factor.email_code_mails_per_hour"),
    ("RATE_LIMIT_REQUESTS", "limits.rate_limit.requests"),
    ("RATE_LIMIT_WINDOW_SECS", "limits.rate_limit.window_secs"),
    ("RATE_LIMIT_MEMORY_BYTES", "limits.rate_limit.memory_bytes"),
    ("RATE_LIMIT_EXEMPT_PERMISSION", "limits.rate_limit.exempt_permission"),
    ("LOGIN_FAILURES_PER_USER", "limits.login.failures_per_user"),
    ("LOGIN_FAILURE_WINDOW_SECS", "limits.login.user_window_secs"),
    ("LOGIN_FAILURES_PER_ADDRESS", "limits.login.failures_per_address"),
    ("LOGIN_FAILURE_ADDRESS_WINDOW_SECS", "limits.login.address_window_secs"),
    ("EVENT_RETENTION_SECS", "events.retention_secs"),
    ("EVENT_POLL_INTERVAL_MS", "events.poll_interval_ms"),
    ("INTERNAL_API_TOKEN", "internal_api.token"),
    ("LOG_FORMAT", "telemetry.log_format"),
];

/// The nested path of a variable named without its prefix, in any case.
pub(crate) fn path_of(key: &str) -> Option<&'static str> {
    ENV_KEYS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(key))
        .map(|(_, path)| *path)
}

/// The environment variable of a nested path, when it has one.
pub(crate) fn env_name(path: &str) -> Option<String> {
    ENV_KEYS
        .iter()
        .find(|(_, nested)| *nested == path)
        .map(|(name, _)| format!("{PREFIX}{name}"))
}

/// `path (SESSIONS_NAME)`: how an error names a key, so that both the TOML
/// file's author and the operator setting variables recognise it.
pub(crate) fn describe(path: &str) -> String {
    match env_name(path) {
        Some(name) => format!("{path} ({name})"),
        None => path.to_owned(),
    }
}

/// The `SESSIONS_*` variables that are server settings. `SESSIONS_TEST_*`
/// belong to the test suite, not to the server.
fn settings() -> Env {
    Env::prefixed(PREFIX).filter(|key| !key.as_str().to_ascii_lowercase().starts_with("test_"))
}

/// The settings, each moved to its nested path.
pub(crate) fn provider() -> Env {
    settings().map(|key| path_of(key.as_str()).unwrap_or(key.as_str()).into())
}

/// Any other `SESSIONS_*` variable is refused as a likely typo (a manifest
/// with a misspelt name would otherwise run on a default).
pub(crate) fn refuse_unknown() -> Result<(), ConfigError> {
    let mut unknown: Vec<String> = settings()
        .iter()
        .filter(|(key, _)| path_of(key.as_str()).is_none())
        .map(|(key, _)| format!("{PREFIX}{}", key.as_str().to_ascii_uppercase()))
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    unknown.sort();
    Err(ConfigError::new(
        unknown
            .into_iter()
            .map(|name| format!("{name} is not a sessionsd setting (a typo?)"))
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::{Value, json};

    use super::*;
    use crate::Config;

    /// A valid TOTP encryption key: base64 of 32 bytes.
    const KEY: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

    /// The variables of the flat configuration this one replaced, as they
    /// were: none may be renamed, since operators and `deploy/` set them.
    const FLAT_NAMES: &[&str] = &[
        "SESSIONS_LISTEN",
        "SESSIONS_ADMIN_LISTEN",
        "SESSIONS_SHUTDOWN_GRACE_SECS",
        "SESSIONS_REQUEST_TIMEOUT_SECS",
        "SESSIONS_HEADER_READ_TIMEOUT_SECS",
        "SESSIONS_MAX_HEADER_BYTES",
        "SESSIONS_HTTP2_KEEP_ALIVE_SECS",
        "SESSIONS_HTTP2_MAX_STREAMS",
        "SESSIONS_MAX_CONNECTIONS",
        "SESSIONS_MAX_CONNECTIONS_PER_ADDRESS",
        "SESSIONS_IDLE_CONNECTION_TIMEOUT_SECS",
        "SESSIONS_DATABASE_URL",
        "SESSIONS_DATABASE_MAX_CONNECTIONS",
        "SESSIONS_DATABASE_TIMEOUT_MS",
        "SESSIONS_MIGRATE_ON_START",
        "SESSIONS_INSTANCE_ID",
        "SESSIONS_CORS_ALLOWED_ORIGINS",
        "SESSIONS_TRUSTED_PROXIES",
        "SESSIONS_TOTP_ENCRYPTION_KEY",
        "SESSIONS_INTERNAL_API_TOKEN",
        "SESSIONS_LIST_DEFAULT_COUNT",
        "SESSIONS_LIST_MAX_COUNT",
        "SESSIONS_SESSION_LIFETIME_SECS",
        "SESSIONS_ACTIVITY_THROTTLE_SECS",
        "SESSIONS_TOTP_SKEW_STEPS",
        "SESSIONS_TOTP_ISSUER",
        "SESSIONS_TWO_FACTOR_REMEMBER_SECS",
        "SESSIONS_TWO_FACTOR_MAX_ATTEMPTS",
        "SESSIONS_TWO_FACTOR_ATTEMPTS_WINDOW_SECS",
        "SESSIONS_TWO_FACTOR_PASSWORD_FALLBACK",
        "SESSIONS_EMAIL_CODE_LIFETIME_SECS",
        "SESSIONS_EMAIL_CODE_RESEND_SECS",
        "SESSIONS_EMAIL_CODE_MAILS_PER_HOUR",
        "SESSIONS_MAX_BODY_BYTES",
        "SESSIONS_RATE_LIMIT_REQUESTS",
        "SESSIONS_RATE_LIMIT_WINDOW_SECS",
        "SESSIONS_LOGIN_FAILURES_PER_USER",
        "SESSIONS_LOGIN_FAILURE_WINDOW_SECS",
        "SESSIONS_LOGIN_FAILURES_PER_ADDRESS",
        "SESSIONS_LOGIN_FAILURE_ADDRESS_WINDOW_SECS",
        "SESSIONS_RATE_LIMIT_MEMORY_BYTES",
        "SESSIONS_RATE_LIMIT_EXEMPT_PERMISSION",
        "SESSIONS_EVENT_RETENTION_SECS",
        "SESSIONS_EVENT_POLL_INTERVAL_MS",
        "SESSIONS_LOG_FORMAT",
        // Added since, flat like the rest.
        "SESSIONS_SITE_URL",
        "SESSIONS_SMTP_URL",
        "SESSIONS_MAIL_FROM",
        "SESSIONS_SITE_NAME",
        "SESSIONS_LOGIN_EMAILS",
        "SESSIONS_LOGIN_EMAIL_PREFERENCE",
        "SESSIONS_LOGIN_EMAIL_POLICY",
        "SESSIONS_NEW_DEVICE_PERIOD_SECS",
        "SESSIONS_LOGIN_EMAIL_SUBJECT",
        "SESSIONS_LOGIN_EMAIL_BODY",
        "SESSIONS_MAIL_MAX_ATTEMPTS",
        "SESSIONS_MAIL_RETRY_BASE_SECS",
        "SESSIONS_MAIL_POLL_INTERVAL_MS",
        "SESSIONS_MAIL_LEASE_SECS",
        "SESSIONS_MAIL_SEND_TIMEOUT_SECS",
        "SESSIONS_TOKEN_CACHE",
        "SESSIONS_TOKEN_CACHE_MEMORY_BYTES",
        "SESSIONS_TOKEN_CACHE_MAX_AGE_SECS",
        "SESSIONS_TOKEN_CACHE_TRUST_MS",
        "SESSIONS_TOKEN_CACHE_FEED_INTERVAL_MS",
        "SESSIONS_CONSOLE",
    ];

    /// Every leaf of the configuration, as a dotted path.
    fn leaves(value: &serde_json::Value, prefix: &str, out: &mut BTreeSet<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, value) in map {
                    let path = if prefix.is_empty() {
                        key.clone()
                    } else {
                        format!("{prefix}.{key}")
                    };
                    leaves(value, &path, out);
                }
            }
            _ => {
                out.insert(prefix.to_owned());
            }
        }
    }

    #[test]
    fn every_flat_name_is_kept_and_nothing_else_is_added() {
        let table: BTreeSet<String> = ENV_KEYS
            .iter()
            .map(|(name, _)| format!("{PREFIX}{name}"))
            .collect();
        let flat: BTreeSet<String> = FLAT_NAMES.iter().map(|n| (*n).to_owned()).collect();
        assert_eq!(table, flat);
        assert_eq!(table.len(), ENV_KEYS.len(), "a name is listed twice");
    }

    #[test]
    fn every_field_has_exactly_one_variable() {
        let defaults = serde_json::to_value(Config::default()).unwrap();
        let mut fields = BTreeSet::new();
        leaves(&defaults, "", &mut fields);
        let paths: BTreeSet<String> = ENV_KEYS.iter().map(|(_, p)| (*p).to_owned()).collect();
        assert_eq!(fields, paths);
        assert_eq!(paths.len(), ENV_KEYS.len(), "a path is listed twice");
    }

    // figment's Jail API returns its large error type; nothing to box here.
    #[allow(clippy::result_large_err)]
    #[test]
    fn every_flat_variable_lands_in_its_nested_field() {
        // Per variable: a valid value unlike the default, what the field must
        // then hold, and the field itself, written out by hand so that a wrong
        // row in the table cannot agree with itself.
        type Read = fn(&Config) -> Value;
        let cases: Vec<(&str, &str, Value, Read)> = vec![
            ("LISTEN", "0.0.0.0:3001", json!("0.0.0.0:3001"), |c| {
                json!(c.listener.listen)
            }),
            ("ADMIN_LISTEN", "0.0.0.0:9091", json!("0.0.0.0:9091"), |c| {
                json!(c.listener.admin_listen)
            }),
            ("SHUTDOWN_GRACE_SECS", "21", json!(21), |c| {
                json!(c.listener.shutdown_grace_secs)
            }),
            ("REQUEST_TIMEOUT_SECS", "31", json!(31), |c| {
                json!(c.listener.request_timeout_secs)
            }),
            ("HEADER_READ_TIMEOUT_SECS", "11", json!(11), |c| {
                json!(c.listener.header_read_timeout_secs)
            }),
            ("MAX_HEADER_BYTES", "16385", json!(16385), |c| {
                json!(c.listener.max_header_bytes)
            }),
            ("MAX_BODY_BYTES", "65537", json!(65537), |c| {
                json!(c.listener.max_body_bytes)
            }),
            ("HTTP2_KEEP_ALIVE_SECS", "32", json!(32), |c| {
                json!(c.listener.http2_keep_alive_secs)
            }),
            ("HTTP2_MAX_STREAMS", "257", json!(257), |c| {
                json!(c.listener.http2_max_streams)
            }),
            ("MAX_CONNECTIONS", "10001", json!(10001), |c| {
                json!(c.listener.max_connections)
            }),
            ("MAX_CONNECTIONS_PER_ADDRESS", "258", json!(258), |c| {
                json!(c.listener.max_connections_per_address)
            }),
            ("IDLE_CONNECTION_TIMEOUT_SECS", "301", json!(301), |c| {
                json!(c.listener.idle_connection_timeout_secs)
            }),
            (
                "TRUSTED_PROXIES",
                r#"["10.0.0.0/8"]"#,
                json!(["10.0.0.0/8"]),
                |c| json!(c.listener.trusted_proxies),
            ),
            (
                "CORS_ALLOWED_ORIGINS",
                r#"["https://chat.example.com"]"#,
                json!(["https://chat.example.com"]),
                |c| json!(c.listener.cors_allowed_origins),
            ),
            ("CONSOLE", "false", json!(false), |c| {
                json!(c.listener.console)
            }),
            (
                "DATABASE_URL",
                "postgres://x@y/z",
                json!("postgres://x@y/z"),
                |c| json!(c.database.url),
            ),
            ("DATABASE_MAX_CONNECTIONS", "17", json!(17), |c| {
                json!(c.database.max_connections)
            }),
            ("DATABASE_TIMEOUT_MS", "3001", json!(3001), |c| {
                json!(c.database.timeout_ms)
            }),
            ("MIGRATE_ON_START", "true", json!(true), |c| {
                json!(c.database.migrate_on_start)
            }),
            (
                "INSTANCE_ID",
                "f0313fa9-ebe6-4a84-8580-3104f6a09988",
                json!("f0313fa9-ebe6-4a84-8580-3104f6a09988"),
                |c| json!(c.sessions.instance_id),
            ),
            (
                "SITE_URL",
                "https://chat.example.org",
                json!("https://chat.example.org"),
                |c| json!(c.sessions.site_url),
            ),
            ("SESSION_LIFETIME_SECS", "7776001", json!(7_776_001), |c| {
                json!(c.sessions.lifetime_secs)
            }),
            ("ACTIVITY_THROTTLE_SECS", "61", json!(61), |c| {
                json!(c.sessions.activity_throttle_secs)
            }),
            ("LIST_DEFAULT_COUNT", "51", json!(51), |c| {
                json!(c.sessions.list_default_count)
            }),
            ("LIST_MAX_COUNT", "101", json!(101), |c| {
                json!(c.sessions.list_max_count)
            }),
            ("TOTP_SKEW_STEPS", "2", json!(2), |c| {
                json!(c.two_factor.totp_skew_steps)
            }),
            ("TOTP_ISSUER", "Chat", json!("Chat"), |c| {
                json!(c.two_factor.totp_issuer)
            }),
            ("TOTP_ENCRYPTION_KEY", KEY, json!(KEY), |c| {
                json!(c.two_factor.totp_encryption_key)
            }),
            ("TWO_FACTOR_REMEMBER_SECS", "1801", json!(1801), |c| {
                json!(c.two_factor.remember_secs)
            }),
            ("TWO_FACTOR_MAX_ATTEMPTS", "6", json!(6), |c| {
                json!(c.two_factor.max_attempts)
            }),
            ("TWO_FACTOR_ATTEMPTS_WINDOW_SECS", "601", json!(601), |c| {
                json!(c.two_factor.attempts_window_secs)
            }),
            ("TWO_FACTOR_PASSWORD_FALLBACK", "false", json!(false), |c| {
                json!(c.two_factor.password_fallback)
            }),
            ("EMAIL_CODE_LIFETIME_SECS", "601", json!(601), |c| {
                json!(c.two_factor.email_code_lifetime_secs)
            }),
            ("EMAIL_CODE_RESEND_SECS", "61", json!(61), |c| {
                json!(c.two_factor.email_code_resend_secs)
            }),
            ("EMAIL_CODE_MAILS_PER_HOUR", "6", json!(6), |c| {
                json!(c.two_factor.email_code_mails_per_hour)
            }),
            ("RATE_LIMIT_REQUESTS", "301", json!(301), |c| {
                json!(c.limits.rate_limit.requests)
            }),
            ("RATE_LIMIT_WINDOW_SECS", "62", json!(62), |c| {
                json!(c.limits.rate_limit.window_secs)
            }),
            (
                "RATE_LIMIT_MEMORY_BYTES",
                "16777217",
                json!(16_777_217),
                |c| json!(c.limits.rate_limit.memory_bytes),
            ),
            (
                "RATE_LIMIT_EXEMPT_PERMISSION",
                "bypass",
                json!("bypass"),
                |c| json!(c.limits.rate_limit.exempt_permission),
            ),
            ("LOGIN_FAILURES_PER_USER", "12", json!(12), |c| {
                json!(c.limits.login.failures_per_user)
            }),
            ("LOGIN_FAILURE_WINDOW_SECS", "302", json!(302), |c| {
                json!(c.limits.login.user_window_secs)
            }),
            ("LOGIN_FAILURES_PER_ADDRESS", "52", json!(52), |c| {
                json!(c.limits.login.failures_per_address)
            }),
            (
                "LOGIN_FAILURE_ADDRESS_WINDOW_SECS",
                "303",
                json!(303),
                |c| json!(c.limits.login.address_window_secs),
            ),
            ("EVENT_RETENTION_SECS", "604801", json!(604_801), |c| {
                json!(c.events.retention_secs)
            }),
            ("EVENT_POLL_INTERVAL_MS", "201", json!(201), |c| {
                json!(c.events.poll_interval_ms)
            }),
            ("INTERNAL_API_TOKEN", "sekret", json!("sekret"), |c| {
                json!(c.internal_api.token)
            }),
            ("LOG_FORMAT", "text", json!("text"), |c| {
                json!(c.telemetry.log_format)
            }),
            ("SMTP_URL", "smtp://mx:25", json!("smtp://mx:25"), |c| {
                json!(c.mail.smtp_url)
            }),
            ("MAIL_FROM", "a@b.org", json!("a@b.org"), |c| {
                json!(c.mail.from)
            }),
            ("SITE_NAME", "Chat", json!("Chat"), |c| {
                json!(c.mail.site_name)
            }),
            ("LOGIN_EMAILS", "false", json!(false), |c| {
                json!(c.mail.login_emails)
            }),
            ("LOGIN_EMAIL_PREFERENCE", "false", json!(false), |c| {
                json!(c.mail.login_email_preference)
            }),
            (
                "LOGIN_EMAIL_POLICY",
                "new-device",
                json!("new-device"),
                |c| json!(c.mail.login_email_policy),
            ),
            ("NEW_DEVICE_PERIOD_SECS", "61", json!(61), |c| {
                json!(c.mail.new_device_period_secs)
            }),
            ("LOGIN_EMAIL_SUBJECT", "Hi", json!("Hi"), |c| {
                json!(c.mail.login_email_subject)
            }),
            ("LOGIN_EMAIL_BODY", "<p>Hi</p>", json!("<p>Hi</p>"), |c| {
                json!(c.mail.login_email_body)
            }),
            ("MAIL_MAX_ATTEMPTS", "3", json!(3), |c| {
                json!(c.mail.max_attempts)
            }),
            ("MAIL_RETRY_BASE_SECS", "2", json!(2), |c| {
                json!(c.mail.retry_base_secs)
            }),
            ("MAIL_POLL_INTERVAL_MS", "50", json!(50), |c| {
                json!(c.mail.poll_interval_ms)
            }),
            ("MAIL_LEASE_SECS", "61", json!(61), |c| {
                json!(c.mail.lease_secs)
            }),
            ("MAIL_SEND_TIMEOUT_SECS", "3", json!(3), |c| {
                json!(c.mail.send_timeout_secs)
            }),
            ("TOKEN_CACHE", "false", json!(false), |c| {
                json!(c.token_cache.enabled)
            }),
            (
                "TOKEN_CACHE_MEMORY_BYTES",
                "5000000",
                json!(5_000_000),
                |c| json!(c.token_cache.memory_bytes),
            ),
            ("TOKEN_CACHE_MAX_AGE_SECS", "30", json!(30), |c| {
                json!(c.token_cache.max_age_secs)
            }),
            ("TOKEN_CACHE_TRUST_MS", "80", json!(80), |c| {
                json!(c.token_cache.trust_window_ms)
            }),
            ("TOKEN_CACHE_FEED_INTERVAL_MS", "30", json!(30), |c| {
                json!(c.token_cache.feed_interval_ms)
            }),
        ];
        let names: BTreeSet<String> = cases.iter().map(|c| format!("{PREFIX}{}", c.0)).collect();
        let flat: BTreeSet<String> = FLAT_NAMES.iter().map(|n| (*n).to_owned()).collect();
        assert_eq!(names, flat, "every flat variable has one case");
        figment::Jail::expect_with(|jail| {
            let defaults = Config::default();
            for (name, value, expected, read) in &cases {
                assert_ne!(
                    &read(&defaults),
                    expected,
                    "{name}: pick a value unlike the default"
                );
                jail.set_env(format!("{PREFIX}{name}"), value);
                let loaded = Config::load(None).map_err(|e| e.to_string())?;
                assert_eq!(&read(&loaded), expected, "{PREFIX}{name}");
            }
            Ok(())
        });
    }

    // figment's Jail API returns its large error type; nothing to box here.
    #[allow(clippy::result_large_err)]
    #[test]
    fn unknown_variables_are_refused_by_name_and_test_ones_ignored() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("SESSIONS_TEST_POSTGRES_URL", "postgres://elsewhere/db");
            assert!(Config::load(None).is_ok());
            jail.set_env("SESSIONS_LISTN", "0.0.0.0:1");
            // A nested spelling is not a second name for a setting.
            jail.set_env("SESSIONS_LISTENER__LISTEN", "0.0.0.0:1");
            let refused = Config::load(None).unwrap_err().to_string();
            assert!(refused.contains("SESSIONS_LISTN"), "{refused}");
            assert!(refused.contains("SESSIONS_LISTENER__LISTEN"), "{refused}");
            Ok(())
        });
    }

    #[test]
    fn keys_are_described_with_both_names() {
        assert_eq!(
            describe("limits.rate_limit.window_secs"),
            "limits.rate_limit.window_secs (SESSIONS_RATE_LIMIT_WINDOW_SECS)"
        );
    }
}
