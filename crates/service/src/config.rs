//! The service's tunables, with the defaults the spec names.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// UUID of this server instance, recorded on the sessions it creates.
    pub instance_id: String,
    pub list_default_count: u64,
    pub list_max_count: u64,
    /// A login token stops working this long after login (Rocket.Chat's "login
    /// expiration", 90 days).
    pub session_lifetime: Duration,
    /// RecordActivity writes at most once per this window per session.
    pub activity_throttle: Duration,
    pub two_factor: TwoFactorConfig,
    pub rate_limit: crate::RateLimitConfig,
    pub login_limits: crate::LoginLimitConfig,
    /// Seals TOTP secrets at rest.
    pub sealer: crate::SecretSealer,
    /// Where users reach the chat server (Rocket.Chat's `Site_Url`): `me`'s
    /// `avatarUrl` starts with it.
    pub site_url: String,
    pub mail: crate::MailConfig,
}

#[derive(Debug, Clone)]
pub struct TwoFactorConfig {
    /// TOTP steps accepted either side of now.
    pub totp_skew_steps: i64,
    /// How long a passed check is trusted for the same User-Agent and address.
    pub remember_for: Duration,
    pub max_failed_attempts: u64,
    pub failed_attempts_window: Duration,
    /// Users without TOTP may answer with the SHA-256 of their password.
    pub password_fallback: bool,
    /// Issuer shown by authenticator apps.
    pub issuer: String,
    /// How long a mailed code is good for.
    pub email_code_lifetime: Duration,
    /// How soon a live code may be mailed again: a request within it sends
    /// nothing.
    pub email_code_resend_after: Duration,
    /// Code mails to one address per hour, re-sends included: the most
    /// anyone can make this service mail a victim.
    pub email_code_mails_per_hour: u32,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self {
            instance_id: uuid::Uuid::new_v4().to_string(),
            list_default_count: 50,
            list_max_count: 100,
            session_lifetime: Duration::from_secs(90 * 24 * 3600),
            activity_throttle: Duration::from_secs(60),
            two_factor: TwoFactorConfig::default(),
            rate_limit: crate::RateLimitConfig::default(),
            login_limits: crate::LoginLimitConfig::default(),
            sealer: crate::SecretSealer::unkeyed(),
            site_url: "http://localhost:3000".to_owned(),
            mail: crate::MailConfig::default(),
        }
    }
}

impl Default for TwoFactorConfig {
    fn default() -> Self {
        Self {
            totp_skew_steps: 1,
            remember_for: Duration::from_secs(1800),
            max_failed_attempts: 5,
            failed_attempts_window: Duration::from_secs(600),
            password_fallback: true,
            issuer: "Sessions".to_owned(),
            email_code_lifetime: Duration::from_secs(600),
            email_code_resend_after: Duration::from_secs(60),
            email_code_mails_per_hour: 5,
        }
    }
}
