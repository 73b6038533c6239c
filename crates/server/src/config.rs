//! Configuration: defaults, then an optional TOML file, then `SESSIONS_*`
//! environment variables. Loaded once in `main` and passed down.

use std::{path::Path, time::Duration};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::{Deserialize, Serialize};
use sessions_service::{
    LoginLimitConfig, RateLimitConfig, SecretSealer, ServiceConfig, TwoFactorConfig, WatchSettings,
};

/// Every setting; the field name is the TOML key, and `SESSIONS_` plus the
/// upper-cased name is the environment variable.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address of the one listener (REST, gRPC and gRPC-web).
    pub listen: String,
    /// Address of the admin listener: `/metrics`, `/healthz`, `/readyz`.
    /// Unset means 127.0.0.1:9090, or a free port when that one is taken (so a
    /// second instance on a laptop still starts); a set address must bind.
    pub admin_listen: Option<String>,
    /// On SIGTERM, in-flight requests get this long to finish.
    pub shutdown_grace_secs: u64,
    /// Longest time to answer a request (503 / DEADLINE_EXCEEDED after).
    pub request_timeout_secs: u64,
    /// A client must send a request's headers within this long.
    pub header_read_timeout_secs: u64,
    /// Largest request head accepted.
    pub max_header_bytes: usize,
    /// HTTP/2 pings an idle peer this often and drops it when unanswered.
    pub http2_keep_alive_secs: u64,
    pub http2_max_streams: u32,
    /// Open connections on the main listener; when reached, new connections
    /// wait in the kernel's backlog until one closes (keep it below the
    /// process's open-file limit).
    pub max_connections: u32,
    /// Open connections per peer address (0: no cap). Peers listed in
    /// `trusted_proxies` are exempt: behind an ingress every client shares
    /// its address.
    pub max_connections_per_address: u32,
    /// A connection with no request in flight for this long is ended (HTTP/2
    /// with GOAWAY); idle gRPC channels then reconnect on their next call.
    pub idle_connection_timeout_secs: u64,
    /// `sqlite://FILE` or `postgres://USER@HOST/DB`.
    pub database_url: String,
    pub database_max_connections: u32,
    /// A request waits at most this long for a database connection (then 503).
    pub database_timeout_ms: u64,
    /// Apply migrations when serving. Default: yes for SQLite, no for PostgreSQL
    /// (run `sessionsd migrate` or the Kubernetes Job instead).
    pub migrate_on_start: Option<bool>,
    /// This instance's UUID; random per process when unset.
    pub instance_id: Option<String>,
    /// Browser origins allowed to call REST and gRPC-web (`*` for any); none
    /// by default, so browsers need the same origin.
    pub cors_allowed_origins: Vec<String>,
    /// Proxies (IPs or CIDRs) whose X-Forwarded-For is believed.
    pub trusted_proxies: Vec<String>,
    /// Base64 of 32 random bytes: TOTP secrets are sealed with it (AES-256-GCM).
    /// Without it they are stored unsealed, with a warning at start-up.
    pub totp_encryption_key: Option<String>,
    /// Secret of the internal gRPC API (`authorization: Bearer ...`); the
    /// internal API refuses every call while unset.
    pub internal_api_token: Option<String>,
    pub list_default_count: u64,
    pub list_max_count: u64,
    pub session_lifetime_secs: u64,
    pub activity_throttle_secs: u64,
    pub totp_skew_steps: i64,
    pub totp_issuer: String,
    pub two_factor_remember_secs: u64,
    pub two_factor_max_attempts: u64,
    pub two_factor_attempts_window_secs: u64,
    pub two_factor_password_fallback: bool,
    /// Largest REST request body, and largest gRPC request message.
    pub max_body_bytes: usize,
    /// Requests per window per client address and route (0: no limit).
    pub rate_limit_requests: u32,
    pub rate_limit_window_secs: u64,
    /// Failed logins of one user before its logins are blocked (0: off).
    pub login_failures_per_user: u32,
    /// How long a user's block lasts after its last failure (0: off).
    pub login_failure_window_secs: u64,
    /// Failed logins from one address (an IPv6 /64) before its logins are
    /// blocked (0: off).
    pub login_failures_per_address: u32,
    pub login_failure_address_window_secs: u64,
    /// Memory the per-address request windows may take, in bytes.
    pub rate_limit_memory_bytes: usize,
    /// Roles holding this permission are not rate limited.
    pub rate_limit_exempt_permission: String,
    pub event_retention_secs: u64,
    pub event_poll_interval_ms: u64,
    /// `auto` (JSON unless stderr is a terminal), `json` or `text`.
    pub log_format: String,
}

impl Default for Config {
    fn default() -> Self {
        let service = ServiceConfig::default();
        let two_factor = TwoFactorConfig::default();
        let rate_limit = RateLimitConfig::default();
        let login_limits = LoginLimitConfig::default();
        Self {
            listen: "127.0.0.1:3000".to_owned(),
            admin_listen: None,
            shutdown_grace_secs: 20,
            request_timeout_secs: 30,
            header_read_timeout_secs: 10,
            max_header_bytes: 16 * 1024,
            http2_keep_alive_secs: 30,
            http2_max_streams: 256,
            max_connections: 10_000,
            max_connections_per_address: 256,
            idle_connection_timeout_secs: 300,
            database_url: "sqlite://sessions.db".to_owned(),
            database_max_connections: 16,
            database_timeout_ms: 3000,
            migrate_on_start: None,
            instance_id: None,
            cors_allowed_origins: Vec::new(),
            trusted_proxies: Vec::new(),
            internal_api_token: None,
            totp_encryption_key: None,
            list_default_count: service.list_default_count,
            list_max_count: service.list_max_count,
            session_lifetime_secs: service.session_lifetime.as_secs(),
            activity_throttle_secs: service.activity_throttle.as_secs(),
            totp_skew_steps: two_factor.totp_skew_steps,
            totp_issuer: two_factor.issuer,
            two_factor_remember_secs: two_factor.remember_for.as_secs(),
            two_factor_max_attempts: two_factor.max_failed_attempts,
            two_factor_attempts_window_secs: two_factor.failed_attempts_window.as_secs(),
            two_factor_password_fallback: two_factor.password_fallback,
            max_body_bytes: 64 * 1024,
            rate_limit_requests: rate_limit.requests,
            rate_limit_window_secs: rate_limit.window.as_secs(),
            login_failures_per_user: login_limits.failures_per_user,
            login_failure_window_secs: login_limits.user_window.as_secs(),
            login_failures_per_address: login_limits.failures_per_address,
            login_failure_address_window_secs: login_limits.address_window.as_secs(),
            rate_limit_memory_bytes: rate_limit.table_bytes,
            rate_limit_exempt_permission: rate_limit.exempt_permission,
            event_retention_secs: 7 * 24 * 3600,
            event_poll_interval_ms: 200,
            log_format: "auto".to_owned(),
        }
    }
}

// Secrets never reach a log line, even through `{:?}`.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut shown = self.clone();
        if shown.internal_api_token.is_some() {
            shown.internal_api_token = Some("<redacted>".to_owned());
        }
        if shown.totp_encryption_key.is_some() {
            shown.totp_encryption_key = Some("<redacted>".to_owned());
        }
        shown.database_url = redact_url_password(&shown.database_url);
        f.write_str(&serde_json::to_string(&shown).unwrap_or_default())
    }
}

fn redact_url_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("redacted"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

impl Config {
    /// Defaults, then `file` if given, then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, Box<figment::Error>> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            if !file.exists() {
                return Err(Box::new(figment::Error::from(format!(
                    "config file {} does not exist",
                    file.display()
                ))));
            }
            figment = figment.merge(Toml::file(file));
        }
        figment
            // SESSIONS_TEST_* belong to the test suite, not to the server; any
            // other unknown SESSIONS_* variable is refused as a likely typo.
            .merge(
                Env::prefixed("SESSIONS_")
                    .filter(|key| !key.as_str().to_ascii_lowercase().starts_with("test_"))
                    .split("__"),
            )
            .extract()
            .map_err(Box::new)
    }

    /// Refuses values that cannot work, naming the key, instead of quietly
    /// clamping them (for now the connection limits).
    pub fn validate(&self) -> Result<(), String> {
        if self.max_connections == 0 {
            return Err("max_connections must be at least 1".to_owned());
        }
        if self.idle_connection_timeout_secs == 0 {
            return Err("idle_connection_timeout_secs must be at least 1".to_owned());
        }
        Ok(())
    }

    pub fn is_sqlite(&self) -> bool {
        self.database_url.starts_with("sqlite:")
    }

    pub fn migrates_on_start(&self) -> bool {
        self.migrate_on_start.unwrap_or(self.is_sqlite())
    }

    /// The service's tunables; fails on a malformed TOTP encryption key.
    pub fn service_config(&self) -> Result<ServiceConfig, String> {
        let sealer = SecretSealer::new(self.totp_encryption_key.as_deref())?;
        let mut service = ServiceConfig {
            sealer,
            list_default_count: self.list_default_count,
            list_max_count: self.list_max_count.max(1),
            session_lifetime: Duration::from_secs(self.session_lifetime_secs),
            activity_throttle: Duration::from_secs(self.activity_throttle_secs),
            two_factor: TwoFactorConfig {
                totp_skew_steps: self.totp_skew_steps.max(0),
                remember_for: Duration::from_secs(self.two_factor_remember_secs),
                max_failed_attempts: self.two_factor_max_attempts,
                failed_attempts_window: Duration::from_secs(self.two_factor_attempts_window_secs),
                password_fallback: self.two_factor_password_fallback,
                issuer: self.totp_issuer.clone(),
            },
            rate_limit: RateLimitConfig {
                requests: self.rate_limit_requests,
                window: Duration::from_secs(self.rate_limit_window_secs.max(1)),
                table_bytes: self.rate_limit_memory_bytes,
                exempt_permission: self.rate_limit_exempt_permission.clone(),
            },
            login_limits: LoginLimitConfig {
                failures_per_user: self.login_failures_per_user,
                user_window: Duration::from_secs(self.login_failure_window_secs),
                failures_per_address: self.login_failures_per_address,
                address_window: Duration::from_secs(self.login_failure_address_window_secs),
            },
            ..ServiceConfig::default()
        };
        if let Some(id) = self.instance_id.clone().filter(|id| !id.is_empty()) {
            service.instance_id = id;
        }
        Ok(service)
    }

    pub fn watch_settings(&self) -> WatchSettings {
        WatchSettings {
            poll_interval: Duration::from_millis(self.event_poll_interval_ms.max(10)),
            ..WatchSettings::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_secrets() {
        let config = Config {
            internal_api_token: Some("hunter2".into()),
            totp_encryption_key: Some("c2VjcmV0LWtleS1tYXRlcmlhbA==".into()),
            database_url: "postgres://app:pa55word@db/sessions".into(),
            ..Config::default()
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("c2VjcmV0LWtleS1tYXRlcmlhbA"), "{shown}");
        assert!(!shown.contains("pa55word"), "{shown}");
    }

    #[test]
    fn impossible_connection_limits_are_refused_by_name() {
        assert_eq!(Config::default().validate(), Ok(()));
        let no_connections = Config {
            max_connections: 0,
            ..Config::default()
        };
        let refused = no_connections.validate().unwrap_err();
        assert!(refused.contains("max_connections"), "{refused}");
        let no_idle = Config {
            idle_connection_timeout_secs: 0,
            ..Config::default()
        };
        let refused = no_idle.validate().unwrap_err();
        assert!(
            refused.contains("idle_connection_timeout_secs"),
            "{refused}"
        );
        // 0 switches the per-address cap off; it is not an error.
        let unlimited = Config {
            max_connections_per_address: 0,
            ..Config::default()
        };
        assert_eq!(unlimited.validate(), Ok(()));
    }

    // figment's Jail API returns its large error type; nothing to box here.
    #[allow(clippy::result_large_err)]
    #[test]
    fn environment_overrides_file_overrides_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "sessions.toml",
                "listen = \"0.0.0.0:8080\"\nlist_max_count = 20\n",
            )?;
            jail.set_env("SESSIONS_LIST_MAX_COUNT", "30");
            jail.set_env("SESSIONS_DATABASE_URL", "postgres://x@y/z");
            // Test-suite variables are not server settings.
            jail.set_env("SESSIONS_TEST_POSTGRES_URL", "postgres://elsewhere/db");
            let config = Config::load(Some(Path::new("sessions.toml"))).map_err(|e| *e)?;
            assert_eq!(config.listen, "0.0.0.0:8080");
            assert_eq!(config.list_max_count, 30);
            assert_eq!(config.database_url, "postgres://x@y/z");
            assert!(!config.migrates_on_start());
            assert_eq!(config.two_factor_max_attempts, 5);
            Ok(())
        });
    }
}
