//! What `Config::validate` refuses, and how it names each key.

use super::*;

/// Applies `change` to the defaults and answers the problems.
fn refused(change: impl FnOnce(&mut Config)) -> Vec<String> {
    let mut config = Config::default();
    change(&mut config);
    match config.validate() {
        Ok(()) => Vec::new(),
        Err(err) => err.problems().to_vec(),
    }
}

#[test]
fn the_defaults_are_valid() {
    assert_eq!(Config::default().validate(), Ok(()));
}

#[test]
fn impossible_values_are_refused_naming_the_key_and_its_variable() {
    type Change = fn(&mut Config);
    let cases: &[(&str, &str, Change)] = &[
        (
            "listener.request_timeout_secs",
            "SESSIONS_REQUEST_TIMEOUT_SECS",
            |c| c.listener.request_timeout_secs = 0,
        ),
        (
            "listener.header_read_timeout_secs",
            "SESSIONS_HEADER_READ_TIMEOUT_SECS",
            |c| c.listener.header_read_timeout_secs = 0,
        ),
        (
            "listener.max_header_bytes",
            "SESSIONS_MAX_HEADER_BYTES",
            |c| c.listener.max_header_bytes = 8191,
        ),
        ("listener.max_body_bytes", "SESSIONS_MAX_BODY_BYTES", |c| {
            c.listener.max_body_bytes = 0
        }),
        (
            "listener.http2_keep_alive_secs",
            "SESSIONS_HTTP2_KEEP_ALIVE_SECS",
            |c| c.listener.http2_keep_alive_secs = 0,
        ),
        (
            "listener.http2_max_streams",
            "SESSIONS_HTTP2_MAX_STREAMS",
            |c| c.listener.http2_max_streams = 0,
        ),
        (
            "listener.max_connections",
            "SESSIONS_MAX_CONNECTIONS",
            |c| c.listener.max_connections = 0,
        ),
        (
            "listener.idle_connection_timeout_secs",
            "SESSIONS_IDLE_CONNECTION_TIMEOUT_SECS",
            |c| c.listener.idle_connection_timeout_secs = 0,
        ),
        (
            "listener.trusted_proxies",
            "SESSIONS_TRUSTED_PROXIES",
            |c| c.listener.trusted_proxies = vec!["10.0.0.0/33".into()],
        ),
        (
            "listener.trusted_proxies",
            "SESSIONS_TRUSTED_PROXIES",
            |c| c.listener.trusted_proxies = vec!["proxy.internal".into()],
        ),
        (
            "listener.cors_allowed_origins",
            "SESSIONS_CORS_ALLOWED_ORIGINS",
            |c| c.listener.cors_allowed_origins = vec!["https://chat.example.com/".into()],
        ),
        (
            "listener.cors_allowed_origins",
            "SESSIONS_CORS_ALLOWED_ORIGINS",
            |c| c.listener.cors_allowed_origins = vec!["chat.example.com".into()],
        ),
        (
            "listener.cors_allowed_origins",
            "SESSIONS_CORS_ALLOWED_ORIGINS",
            |c| c.listener.cors_allowed_origins = vec!["*".into(), "https://a.example".into()],
        ),
        ("database.url", "SESSIONS_DATABASE_URL", |c| {
            c.database.url = "mysql://db/sessions".into()
        }),
        (
            "database.max_connections",
            "SESSIONS_DATABASE_MAX_CONNECTIONS",
            |c| c.database.max_connections = 0,
        ),
        ("database.timeout_ms", "SESSIONS_DATABASE_TIMEOUT_MS", |c| {
            c.database.timeout_ms = 0
        }),
        (
            "sessions.lifetime_secs",
            "SESSIONS_SESSION_LIFETIME_SECS",
            |c| c.sessions.lifetime_secs = 0,
        ),
        ("sessions.list_max_count", "SESSIONS_LIST_MAX_COUNT", |c| {
            c.sessions.list_max_count = 0
        }),
        (
            "sessions.list_default_count",
            "SESSIONS_LIST_DEFAULT_COUNT",
            |c| c.sessions.list_default_count = 0,
        ),
        (
            "sessions.list_default_count",
            "SESSIONS_LIST_DEFAULT_COUNT",
            |c| c.sessions.list_default_count = 101,
        ),
        (
            "two_factor.totp_skew_steps",
            "SESSIONS_TOTP_SKEW_STEPS",
            |c| c.two_factor.totp_skew_steps = -1,
        ),
        (
            "two_factor.email_code_lifetime_secs",
            "SESSIONS_EMAIL_CODE_LIFETIME_SECS",
            |c| {
                c.two_factor.email_code_lifetime_secs = 59;
                c.two_factor.email_code_resend_secs = 30;
            },
        ),
        (
            "two_factor.email_code_lifetime_secs",
            "SESSIONS_EMAIL_CODE_LIFETIME_SECS",
            |c| c.two_factor.email_code_lifetime_secs = 24 * 3600 + 1,
        ),
        (
            "two_factor.email_code_resend_secs",
            "SESSIONS_EMAIL_CODE_RESEND_SECS",
            |c| c.two_factor.email_code_resend_secs = 600,
        ),
        (
            "two_factor.email_code_mails_per_hour",
            "SESSIONS_EMAIL_CODE_MAILS_PER_HOUR",
            |c| c.two_factor.email_code_mails_per_hour = 0,
        ),
        (
            "two_factor.totp_encryption_key",
            "SESSIONS_TOTP_ENCRYPTION_KEY",
            |c| c.two_factor.totp_encryption_key = Some("c2hvcnQ=".into()),
        ),
        (
            "limits.rate_limit.window_secs",
            "SESSIONS_RATE_LIMIT_WINDOW_SECS",
            |c| c.limits.rate_limit.window_secs = 0,
        ),
        (
            "limits.rate_limit.memory_bytes",
            "SESSIONS_RATE_LIMIT_MEMORY_BYTES",
            |c| c.limits.rate_limit.memory_bytes = 0,
        ),
        (
            "events.retention_secs",
            "SESSIONS_EVENT_RETENTION_SECS",
            |c| c.events.retention_secs = 0,
        ),
        (
            "events.poll_interval_ms",
            "SESSIONS_EVENT_POLL_INTERVAL_MS",
            |c| c.events.poll_interval_ms = 0,
        ),
        (
            "events.poll_interval_ms",
            "SESSIONS_EVENT_POLL_INTERVAL_MS",
            |c| c.events.poll_interval_ms = 9,
        ),
        (
            "token_cache.trust_window_ms",
            "SESSIONS_TOKEN_CACHE_TRUST_MS",
            |c| c.token_cache.trust_window_ms = 5000,
        ),
        (
            "token_cache.trust_window_ms",
            "SESSIONS_TOKEN_CACHE_TRUST_MS",
            |c| c.token_cache.feed_interval_ms = 60,
        ),
        (
            "token_cache.memory_bytes",
            "SESSIONS_TOKEN_CACHE_MEMORY_BYTES",
            |c| c.token_cache.memory_bytes = 0,
        ),
    ];
    for (path, variable, change) in cases {
        let problems = refused(change);
        assert_eq!(problems.len(), 1, "{path}: {problems:?}");
        assert!(
            problems[0].starts_with(&format!("{path} ({variable}) ")),
            "{problems:?}"
        );
    }
}

#[test]
fn zero_is_off_where_the_setting_says_so() {
    type Change = fn(&mut Config);
    let off: &[Change] = &[
        |c| c.listener.shutdown_grace_secs = 0,
        |c| c.listener.max_connections_per_address = 0,
        |c| c.sessions.activity_throttle_secs = 0,
        |c| c.two_factor.remember_secs = 0,
        |c| c.two_factor.max_attempts = 0,
        |c| c.two_factor.attempts_window_secs = 0,
        |c| {
            // No limit: its window and memory no longer matter.
            c.limits.rate_limit.requests = 0;
            c.limits.rate_limit.window_secs = 0;
            c.limits.rate_limit.memory_bytes = 0;
        },
        |c| {
            c.limits.login.failures_per_user = 0;
            c.limits.login.user_window_secs = 0;
            c.limits.login.failures_per_address = 0;
            c.limits.login.address_window_secs = 0;
        },
    ];
    for change in off {
        assert_eq!(refused(change), Vec::<String>::new());
    }
}

#[test]
fn good_lists_pass_and_every_problem_is_reported() {
    assert!(
        refused(|c| {
            c.listener.trusted_proxies = vec!["10.0.0.0/8".into(), "::1".into()];
            c.listener.cors_allowed_origins = vec![
                "https://chat.example.com".into(),
                "http://localhost:3000".into(),
            ];
            c.database.url = "postgresql://app@db/sessions".into();
        })
        .is_empty()
    );
    assert!(refused(|c| c.listener.cors_allowed_origins = vec!["*".into()]).is_empty());
    let all = refused(|c| {
        c.listener.max_connections = 0;
        c.database.max_connections = 0;
    });
    assert_eq!(all.len(), 2, "{all:?}");
}

#[test]
fn a_bad_database_url_is_not_repeated() {
    let problems = refused(|c| c.database.url = "mysql://app:pa55word@db/x".into());
    assert!(!problems[0].contains("pa55word"), "{problems:?}");
}
