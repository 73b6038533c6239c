//! Configuration: defaults, then an optional TOML file, then `SESSIONS_*`
//! environment variables; nested by concern, typed, and validated before
//! anything starts. Loaded once in `main` and passed down.

mod env;
mod error;
mod mail;
mod validate;

use std::{net::SocketAddr, path::Path, time::Duration};

use figment::{
    Figment,
    providers::{Format, Serialized, Toml},
};
use serde::{Deserialize, Serialize};
use sessions_service::{
    LoginLimitConfig, RateLimitConfig, SecretSealer, ServiceConfig, TwoFactorConfig, WatchSettings,
};
use sessions_store::TokenCacheSettings;

pub use error::ConfigError;
pub use mail::{MailSettings, PolicySetting};

/// Every setting. In the TOML file a section is a table (`[listener]`,
/// `[limits.rate_limit]`); every setting also has a flat `SESSIONS_<KEY>`
/// environment variable (the table in `config/env.rs`).
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub listener: ListenerSettings,
    pub database: DatabaseSettings,
    pub sessions: SessionSettings,
    pub two_factor: TwoFactorSettings,
    pub limits: LimitSettings,
    pub events: EventSettings,
    pub internal_api: InternalApiSettings,
    pub mail: MailSettings,
    pub token_cache: TokenCacheConfig,
    pub telemetry: TelemetrySettings,
}

/// The one listener (REST, gRPC and gRPC-web) and the admin listener.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ListenerSettings {
    pub listen: SocketAddr,
    /// `/metrics`, `/healthz`, `/readyz`. Unset means 127.0.0.1:9090, or a
    /// free port when that one is taken (so a second instance on a laptop
    /// still starts); a set address must bind.
    pub admin_listen: Option<SocketAddr>,
    /// On SIGTERM, in-flight requests get this long to finish (0: none).
    pub shutdown_grace_secs: u64,
    /// Longest time to answer a request (503 / DEADLINE_EXCEEDED after).
    pub request_timeout_secs: u64,
    /// A client must send a request's headers within this long.
    pub header_read_timeout_secs: u64,
    /// Largest request head accepted.
    pub max_header_bytes: usize,
    /// Largest REST request body, and largest gRPC request message.
    pub max_body_bytes: usize,
    /// HTTP/2 pings an idle peer this often and drops it when unanswered.
    pub http2_keep_alive_secs: u64,
    pub http2_max_streams: u32,
    /// Open connections; when reached, new connections wait in the kernel's
    /// backlog until one closes (keep it below the open-file limit).
    pub max_connections: u32,
    /// Open connections per peer address (0: no cap). Peers listed in
    /// `trusted_proxies` are exempt: behind an ingress every client shares
    /// its address.
    pub max_connections_per_address: u32,
    /// A connection with no request in flight for this long is ended (HTTP/2
    /// with GOAWAY); idle gRPC channels then reconnect on their next call.
    pub idle_connection_timeout_secs: u64,
    /// Proxies (IPs or CIDRs) whose X-Forwarded-For is believed.
    pub trusted_proxies: Vec<String>,
    /// Browser origins allowed to call REST and gRPC-web (`*` alone for
    /// any); none by default, so browsers need the same origin.
    pub cors_allowed_origins: Vec<String>,
    /// Serve the device console (the browser pages) under `/console/`.
    pub console: bool,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `sqlite://FILE` or `postgres://USER@HOST/DB`.
    pub url: String,
    pub max_connections: u32,
    /// A request waits at most this long for a database connection (then 503).
    pub timeout_ms: u64,
    /// Apply migrations when serving. Default: yes for SQLite, no for
    /// PostgreSQL (run `sessionsd migrate` or the Kubernetes Job instead).
    pub migrate_on_start: Option<bool>,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionSettings {
    /// This instance's UUID; random per process when unset.
    pub instance_id: Option<String>,
    /// A login token stops working this long after login.
    pub lifetime_secs: u64,
    /// RecordActivity writes at most once per this window (0: every call).
    pub activity_throttle_secs: u64,
    pub list_default_count: u64,
    pub list_max_count: u64,
    /// Where users reach the chat server (Rocket.Chat's `Site_Url`): `me`'s
    /// `avatarUrl` starts with it.
    pub site_url: String,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TwoFactorSettings {
    pub totp_skew_steps: i64,
    pub totp_issuer: String,
    /// Base64 of 32 random bytes: TOTP secrets are sealed with it (AES-256-GCM).
    /// Without it they are stored unsealed, with a warning at start-up.
    pub totp_encryption_key: Option<String>,
    /// A passed check is trusted this long (0: not at all).
    pub remember_secs: u64,
    /// Wrong codes before the user is locked out (0: off).
    pub max_attempts: u64,
    /// The lockout lasts this long after the last wrong code (0: off).
    pub attempts_window_secs: u64,
    pub password_fallback: bool,
    /// A mailed code is good for this long.
    pub email_code_lifetime_secs: u64,
    /// A live code is mailed again only this long after its last mail.
    pub email_code_resend_secs: u64,
    /// Code mails to one address per hour (login's included).
    pub email_code_mails_per_hour: u32,
}

#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitSettings {
    pub rate_limit: RateLimitSettings,
    pub login: LoginLimitSettings,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitSettings {
    /// Requests per window per client address and route (0: no limit).
    pub requests: u32,
    pub window_secs: u64,
    /// Memory the per-address request windows may take, in bytes.
    pub memory_bytes: usize,
    /// Roles holding this permission are not rate limited.
    pub exempt_permission: String,
}

/// A limit or a window of 0 switches that count off.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoginLimitSettings {
    /// Failed logins of one user before its logins are blocked.
    pub failures_per_user: u32,
    /// How long a user's block lasts after its last failure.
    pub user_window_secs: u64,
    /// Failed logins from one address (an IPv6 /64) before its logins are
    /// blocked.
    pub failures_per_address: u32,
    pub address_window_secs: u64,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EventSettings {
    pub retention_secs: u64,
    pub poll_interval_ms: u64,
}

#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InternalApiSettings {
    /// Secret of the internal gRPC API (`authorization: Bearer ...`); the
    /// internal API refuses every call while unset.
    pub token: Option<String>,
}

/// Token checks from memory (spec section 11).
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TokenCacheConfig {
    /// Off: every token check reads the database.
    pub enabled: bool,
    /// Memory the kept tokens may take (about 1 KiB each).
    pub memory_bytes: u64,
    /// A kept token is read again after this long at most.
    pub max_age_secs: u64,
    /// The cache answers only while it heard from the change feed within
    /// this long: the most a revocation by another replica or the CLI can
    /// go unseen. At most 100 (spec section 11).
    pub trust_window_ms: u64,
    /// How often the feed is checked (PostgreSQL heartbeat, SQLite poll).
    pub feed_interval_ms: u64,
}

impl Default for TokenCacheConfig {
    fn default() -> Self {
        let defaults = TokenCacheSettings::default();
        Self {
            enabled: true,
            memory_bytes: defaults.memory_bytes,
            max_age_secs: defaults.max_age.as_secs(),
            trust_window_ms: millis(defaults.trust_window),
            feed_interval_ms: millis(defaults.feed_interval),
        }
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl TokenCacheConfig {
    /// The store's settings, when the cache is on.
    pub fn settings(&self) -> Option<TokenCacheSettings> {
        self.enabled.then(|| TokenCacheSettings {
            memory_bytes: self.memory_bytes,
            max_age: Duration::from_secs(self.max_age_secs),
            trust_window: Duration::from_millis(self.trust_window_ms),
            feed_interval: Duration::from_millis(self.feed_interval_ms),
        })
    }
}

#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetrySettings {
    pub log_format: LogFormat,
}

/// How log lines are written to stderr.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// JSON unless stderr is a terminal.
    #[default]
    Auto,
    Json,
    Text,
}

impl Default for ListenerSettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 3000)),
            admin_listen: None,
            shutdown_grace_secs: 20,
            request_timeout_secs: 30,
            header_read_timeout_secs: 10,
            max_header_bytes: 16 * 1024,
            max_body_bytes: 64 * 1024,
            http2_keep_alive_secs: 30,
            http2_max_streams: 256,
            max_connections: 10_000,
            max_connections_per_address: 256,
            idle_connection_timeout_secs: 300,
            trusted_proxies: Vec::new(),
            cors_allowed_origins: Vec::new(),
            console: true,
        }
    }
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: "sqlite://sessions.db".to_owned(),
            max_connections: 16,
            timeout_ms: 3000,
            migrate_on_start: None,
        }
    }
}

impl Default for SessionSettings {
    fn default() -> Self {
        let service = ServiceConfig::default();
        Self {
            instance_id: None,
            lifetime_secs: service.session_lifetime.as_secs(),
            activity_throttle_secs: service.activity_throttle.as_secs(),
            list_default_count: service.list_default_count,
            list_max_count: service.list_max_count,
            site_url: service.site_url,
        }
    }
}

impl Default for TwoFactorSettings {
    fn default() -> Self {
        let two_factor = TwoFactorConfig::default();
        Self {
            totp_skew_steps: two_factor.totp_skew_steps,
            totp_issuer: two_factor.issuer,
            totp_encryption_key: None,
            remember_secs: two_factor.remember_for.as_secs(),
            max_attempts: two_factor.max_failed_attempts,
            attempts_window_secs: two_factor.failed_attempts_window.as_secs(),
            password_fallback: two_factor.password_fallback,
            email_code_lifetime_secs: two_factor.email_code_lifetime.as_secs(),
            email_code_resend_secs: two_factor.email_code_resend_after.as_secs(),
            email_code_mails_per_hour: two_factor.email_code_mails_per_hour,
        }
    }
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        let rate_limit = RateLimitConfig::default();
        Self {
            requests: rate_limit.requests,
            window_secs: rate_limit.window.as_secs(),
            memory_bytes: rate_limit.table_bytes,
            exempt_permission: rate_limit.exempt_permission,
        }
    }
}

impl Default for LoginLimitSettings {
    fn default() -> Self {
        let login = LoginLimitConfig::default();
        Self {
            failures_per_user: login.failures_per_user,
            user_window_secs: login.user_window.as_secs(),
            failures_per_address: login.failures_per_address,
            address_window_secs: login.address_window.as_secs(),
        }
    }
}

impl Default for EventSettings {
    fn default() -> Self {
        Self {
            retention_secs: 7 * 24 * 3600,
            poll_interval_ms: 200,
        }
    }
}

// Secrets never reach a log line, even through `{:?}`.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const REDACTED: &str = "<redacted>";
        let mut shown = self.clone();
        if shown.internal_api.token.is_some() {
            shown.internal_api.token = Some(REDACTED.to_owned());
        }
        if shown.two_factor.totp_encryption_key.is_some() {
            shown.two_factor.totp_encryption_key = Some(REDACTED.to_owned());
        }
        shown.database.url = redact_url_password(&shown.database.url);
        shown.mail.smtp_url = shown.mail.smtp_url.as_deref().map(redact_url_password);
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
    /// Defaults, then `file` if given, then the environment; refused, naming
    /// every bad key, unless the result can run.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            if !file.exists() {
                return Err(ConfigError::new(vec![format!(
                    "config file {} does not exist",
                    file.display()
                )]));
            }
            figment = figment.merge(Toml::file(file));
        }
        env::refuse_unknown()?;
        let config: Config = figment
            .merge(env::provider())
            .extract()
            .map_err(ConfigError::from_figment)?;
        config.validate()?;
        Ok(config)
    }

    pub fn is_sqlite(&self) -> bool {
        self.database.url.starts_with("sqlite:")
    }

    pub fn migrates_on_start(&self) -> bool {
        self.database.migrate_on_start.unwrap_or(self.is_sqlite())
    }

    /// The service's tunables; fails on a malformed TOTP encryption key
    /// (which [`Config::validate`] refuses first).
    pub fn service_config(&self) -> Result<ServiceConfig, String> {
        let sealer = SecretSealer::new(self.two_factor.totp_encryption_key.as_deref())?;
        let sessions = &self.sessions;
        let two_factor = &self.two_factor;
        let rate_limit = &self.limits.rate_limit;
        let login = &self.limits.login;
        let mut service = ServiceConfig {
            sealer,
            list_default_count: sessions.list_default_count,
            list_max_count: sessions.list_max_count,
            session_lifetime: Duration::from_secs(sessions.lifetime_secs),
            activity_throttle: Duration::from_secs(sessions.activity_throttle_secs),
            site_url: sessions.site_url.clone(),
            mail: self.mail.service_config(),
            two_factor: TwoFactorConfig {
                totp_skew_steps: two_factor.totp_skew_steps,
                remember_for: Duration::from_secs(two_factor.remember_secs),
                max_failed_attempts: two_factor.max_attempts,
                failed_attempts_window: Duration::from_secs(two_factor.attempts_window_secs),
                password_fallback: two_factor.password_fallback,
                issuer: two_factor.totp_issuer.clone(),
                email_code_lifetime: Duration::from_secs(two_factor.email_code_lifetime_secs),
                email_code_resend_after: Duration::from_secs(two_factor.email_code_resend_secs),
                email_code_mails_per_hour: two_factor.email_code_mails_per_hour,
            },
            rate_limit: RateLimitConfig {
                requests: rate_limit.requests,
                window: Duration::from_secs(rate_limit.window_secs),
                table_bytes: rate_limit.memory_bytes,
                exempt_permission: rate_limit.exempt_permission.clone(),
            },
            login_limits: LoginLimitConfig {
                failures_per_user: login.failures_per_user,
                user_window: Duration::from_secs(login.user_window_secs),
                failures_per_address: login.failures_per_address,
                address_window: Duration::from_secs(login.address_window_secs),
            },
            ..ServiceConfig::default()
        };
        if let Some(id) = sessions.instance_id.clone().filter(|id| !id.is_empty()) {
            service.instance_id = id;
        }
        Ok(service)
    }

    pub fn watch_settings(&self) -> WatchSettings {
        WatchSettings {
            poll_interval: Duration::from_millis(self.events.poll_interval_ms),
            ..WatchSettings::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_secrets() {
        let mut config = Config::default();
        config.internal_api.token = Some("hunter2".into());
        config.two_factor.totp_encryption_key = Some("c2VjcmV0LWtleS1tYXRlcmlhbA==".into());
        config.database.url = "postgres://app:pa55word@db/sessions".into();
        config.mail.smtp_url = Some("smtps://mailer:m4ilpass@smtp.example.org:465".into());
        let shown = format!("{config:?}");
        assert!(!shown.contains("m4ilpass"), "{shown}");
        assert!(shown.contains("smtp.example.org"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("c2VjcmV0LWtleS1tYXRlcmlhbA"), "{shown}");
        assert!(!shown.contains("pa55word"), "{shown}");
    }

    // figment's Jail API returns its large error type; nothing to box here.
    #[allow(clippy::result_large_err)]
    #[test]
    fn environment_overrides_file_overrides_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "sessions.toml",
                "[listener]\nlisten = \"0.0.0.0:8080\"\n\
                 [sessions]\nlist_max_count = 60\n\
                 [limits.rate_limit]\nrequests = 7\n",
            )?;
            jail.set_env("SESSIONS_LIST_MAX_COUNT", "70");
            jail.set_env("SESSIONS_DATABASE_URL", "postgres://x@y/z");
            // Test-suite variables are not server settings.
            jail.set_env("SESSIONS_TEST_POSTGRES_URL", "postgres://elsewhere/db");
            let config =
                Config::load(Some(Path::new("sessions.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(config.listener.listen.to_string(), "0.0.0.0:8080");
            assert_eq!(config.sessions.list_max_count, 70);
            assert_eq!(config.limits.rate_limit.requests, 7);
            assert_eq!(config.database.url, "postgres://x@y/z");
            assert!(!config.migrates_on_start());
            assert_eq!(config.two_factor.max_attempts, 5);
            Ok(())
        });
    }

    #[test]
    fn defaults_are_the_services_defaults() {
        let config = Config::default();
        let service = config.service_config().unwrap();
        let defaults = ServiceConfig::default();
        assert_eq!(service.list_max_count, defaults.list_max_count);
        assert_eq!(service.session_lifetime, defaults.session_lifetime);
        assert_eq!(service.rate_limit.window, defaults.rate_limit.window);
        assert_eq!(
            service.login_limits.address_window,
            defaults.login_limits.address_window
        );
        assert_eq!(
            config.watch_settings().poll_interval,
            WatchSettings::default().poll_interval
        );
    }
}
