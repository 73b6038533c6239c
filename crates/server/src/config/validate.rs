//! Refusing a configuration that cannot run, before anything starts: every
//! count, size and duration either has a documented "0: off" or must be
//! positive, and every address, CIDR, origin and key must parse. Each problem
//! names its key by TOML path and environment variable.

use std::fmt;

use sessions_service::SecretSealer;

use super::{Config, ConfigError, env};
use crate::client::TrustedProxies;

/// The problems found so far.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn refuse(&mut self, path: &str, why: impl fmt::Display) {
        self.0.push(format!("{} {why}", env::describe(path)));
    }

    /// `value` must be at least `min`: below it the setting cannot work, and
    /// 0 does not mean "off" for it.
    fn at_least(&mut self, path: &str, value: u64, min: u64, because: &str) {
        if value < min {
            self.refuse(
                path,
                format_args!("is {value}; it must be at least {min}: {because}"),
            );
        }
    }
}

/// The longest a mailed 2FA code may live.
const MAX_EMAIL_CODE_LIFETIME_SECS: u64 = 24 * 3600;

impl Config {
    /// Refuses values that cannot work, naming every bad key, instead of
    /// quietly clamping them. `Config::load` runs it; so do `Server::build`
    /// and every CLI command, for configurations built in code.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Problems::default();
        self.validate_listener(&mut problems);
        self.validate_database(&mut problems);
        self.validate_sessions(&mut problems);
        self.validate_two_factor(&mut problems);
        self.validate_limits(&mut problems);
        self.validate_events(&mut problems);
        self.validate_mail(&mut problems);
        self.validate_token_cache(&mut problems);
        if problems.0.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::new(problems.0))
        }
    }

    fn validate_listener(&self, problems: &mut Problems) {
        let l = &self.listener;
        problems.at_least(
            "listener.request_timeout_secs",
            l.request_timeout_secs,
            1,
            "every request would time out at once",
        );
        problems.at_least(
            "listener.header_read_timeout_secs",
            l.header_read_timeout_secs,
            1,
            "every connection would be closed before its first request",
        );
        problems.at_least(
            "listener.max_header_bytes",
            l.max_header_bytes as u64,
            8192,
            "the HTTP/1 read buffer cannot be smaller",
        );
        problems.at_least(
            "listener.max_body_bytes",
            l.max_body_bytes as u64,
            1,
            "no request body would be accepted",
        );
        problems.at_least(
            "listener.http2_keep_alive_secs",
            l.http2_keep_alive_secs,
            1,
            "HTTP/2 pings need an interval",
        );
        problems.at_least(
            "listener.http2_max_streams",
            u64::from(l.http2_max_streams),
            1,
            "no HTTP/2 request could be sent",
        );
        problems.at_least(
            "listener.max_connections",
            u64::from(l.max_connections),
            1,
            "no connection would be accepted",
        );
        problems.at_least(
            "listener.idle_connection_timeout_secs",
            l.idle_connection_timeout_secs,
            1,
            "every connection would be ended at once",
        );
        for entry in &l.trusted_proxies {
            if let Err(why) = TrustedProxies::parse(std::slice::from_ref(entry)) {
                problems.refuse(
                    "listener.trusted_proxies",
                    format_args!("has {why}: expected an IP address or a CIDR block"),
                );
            }
        }
        let origins = &l.cors_allowed_origins;
        if origins.len() > 1 && origins.iter().any(|o| o == "*") {
            problems.refuse(
                "listener.cors_allowed_origins",
                "lists `*` beside other origins: `*` (any origin) must stand alone",
            );
        }
        for origin in origins.iter().filter(|o| *o != "*") {
            if let Err(why) = check_origin(origin) {
                problems.refuse(
                    "listener.cors_allowed_origins",
                    format_args!("has {origin:?}: {why}"),
                );
            }
        }
    }

    fn validate_database(&self, problems: &mut Problems) {
        let d = &self.database;
        // The URL itself is not repeated: it may carry a password.
        let scheme = d.url.split_once(':').map(|(scheme, _)| scheme);
        if !matches!(scheme, Some("sqlite" | "postgres" | "postgresql")) {
            problems.refuse(
                "database.url",
                "is neither a sqlite:// nor a postgres:// URL",
            );
        }
        problems.at_least(
            "database.max_connections",
            u64::from(d.max_connections),
            1,
            "no query could run",
        );
        problems.at_least(
            "database.timeout_ms",
            d.timeout_ms,
            1,
            "every wait for a connection would fail at once",
        );
    }

    fn validate_sessions(&self, problems: &mut Problems) {
        let s = &self.sessions;
        problems.at_least(
            "sessions.lifetime_secs",
            s.lifetime_secs,
            1,
            "every login token would expire at once",
        );
        problems.at_least(
            "sessions.list_max_count",
            s.list_max_count,
            1,
            "a page must hold at least one entry",
        );
        problems.at_least(
            "sessions.list_default_count",
            s.list_default_count,
            1,
            "a page must hold at least one entry",
        );
        let site = url::Url::parse(&s.site_url);
        if !site
            .as_ref()
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
        {
            problems.refuse(
                "sessions.site_url",
                format_args!("is {:?}; it must be an http:// or https:// URL", s.site_url),
            );
        }
        if s.list_max_count >= 1 && s.list_default_count > s.list_max_count {
            problems.refuse(
                "sessions.list_default_count",
                format_args!(
                    "is {}; it cannot exceed {} ({})",
                    s.list_default_count,
                    s.list_max_count,
                    env::describe("sessions.list_max_count")
                ),
            );
        }
    }

    fn validate_mail(&self, problems: &mut Problems) {
        let m = &self.mail;
        if let Some(url) = m.smtp_url.as_deref().filter(|u| !u.is_empty()) {
            // The URL may hold a password: the message never repeats it.
            let parsed = url::Url::parse(url);
            if !parsed
                .as_ref()
                .is_ok_and(|u| matches!(u.scheme(), "smtp" | "smtps") && u.has_host())
            {
                problems.refuse(
                    "mail.smtp_url",
                    "is not an smtp:// or smtps:// URL with a host",
                );
            }
        }
        if m.from.parse::<lettre::message::Mailbox>().is_err() {
            problems.refuse(
                "mail.from",
                format_args!("is {:?}; it must be an address or `Name <address>`", m.from),
            );
        }
        problems.at_least(
            "mail.max_attempts",
            u64::from(m.max_attempts),
            1,
            "a message must be tried once",
        );
        problems.at_least(
            "mail.poll_interval_ms",
            m.poll_interval_ms,
            1,
            "the worker would never rest",
        );
        problems.at_least(
            "mail.send_timeout_secs",
            m.send_timeout_secs,
            1,
            "no SMTP exchange fits in 0 s",
        );
        if m.lease_secs <= m.send_timeout_secs {
            problems.refuse(
                "mail.lease_secs",
                format_args!(
                    "is {}; it must exceed {} ({}), or a slow send is taken by another worker and sent twice",
                    m.lease_secs,
                    m.send_timeout_secs,
                    env::describe("mail.send_timeout_secs")
                ),
            );
        }
    }

    fn validate_two_factor(&self, problems: &mut Problems) {
        let t = &self.two_factor;
        if t.totp_skew_steps < 0 {
            problems.refuse(
                "two_factor.totp_skew_steps",
                format_args!(
                    "is {}; it counts steps either side of now and cannot be negative",
                    t.totp_skew_steps
                ),
            );
        }
        problems.at_least(
            "two_factor.email_code_lifetime_secs",
            t.email_code_lifetime_secs,
            60,
            "a mailed code must outlive the mail's delivery",
        );
        if t.email_code_lifetime_secs > MAX_EMAIL_CODE_LIFETIME_SECS {
            problems.refuse(
                "two_factor.email_code_lifetime_secs",
                format_args!(
                    "is {}; it must be at most {MAX_EMAIL_CODE_LIFETIME_SECS} (a day): a code that lives longer is a password sent in clear",
                    t.email_code_lifetime_secs
                ),
            );
        }
        if t.email_code_resend_secs >= t.email_code_lifetime_secs {
            problems.refuse(
                "two_factor.email_code_resend_secs",
                format_args!(
                    "is {}; it must be shorter than two_factor.email_code_lifetime_secs ({}), or a live code is never mailed again",
                    t.email_code_resend_secs, t.email_code_lifetime_secs
                ),
            );
        }
        problems.at_least(
            "two_factor.email_code_mails_per_hour",
            u64::from(t.email_code_mails_per_hour),
            1,
            "with none, e-mail 2FA could never send its code",
        );
        // The sealer's message names no key material.
        if let Err(why) = SecretSealer::new(t.totp_encryption_key.as_deref()) {
            problems.refuse(
                "two_factor.totp_encryption_key",
                format_args!("is bad: {why}"),
            );
        }
    }

    fn validate_limits(&self, problems: &mut Problems) {
        // Login limits: every count and window has "0: off".
        let r = &self.limits.rate_limit;
        if r.requests > 0 {
            problems.at_least(
                "limits.rate_limit.window_secs",
                r.window_secs,
                1,
                "a window of 0 cannot count requests (set limits.rate_limit.requests to 0 for no limit)",
            );
            problems.at_least(
                "limits.rate_limit.memory_bytes",
                r.memory_bytes as u64,
                1,
                "the limiter keeps its windows in memory (set limits.rate_limit.requests to 0 for no limit)",
            );
        }
    }

    fn validate_token_cache(&self, problems: &mut Problems) {
        let t = &self.token_cache;
        if !t.enabled {
            return;
        }
        let because = "set token_cache.enabled to false for no cache";
        problems.at_least("token_cache.memory_bytes", t.memory_bytes, 4096, because);
        problems.at_least("token_cache.max_age_secs", t.max_age_secs, 1, because);
        problems.at_least(
            "token_cache.feed_interval_ms",
            t.feed_interval_ms,
            5,
            "a shorter interval keeps the database busy",
        );
        if t.trust_window_ms > 100 {
            problems.refuse(
                "token_cache.trust_window_ms",
                format_args!(
                    "is {}; at most 100: a revocation elsewhere must be refused here within 100 ms",
                    t.trust_window_ms
                ),
            );
        }
        if t.trust_window_ms <= t.feed_interval_ms.saturating_mul(2) {
            problems.refuse(
                "token_cache.trust_window_ms",
                format_args!(
                    "is {}; it must exceed twice token_cache.feed_interval_ms ({}), or one late heartbeat stops the cache",
                    t.trust_window_ms, t.feed_interval_ms
                ),
            );
        }
    }

    fn validate_events(&self, problems: &mut Problems) {
        let e = &self.events;
        problems.at_least(
            "events.retention_secs",
            e.retention_secs,
            1,
            "events would be pruned before watchers read them",
        );
        problems.at_least(
            "events.poll_interval_ms",
            e.poll_interval_ms,
            10,
            "a shorter poll keeps the database busy",
        );
    }
}

/// A browser sends its origin as `scheme://host[:port]`, lower case, without
/// a default port or a path; any other spelling would never match.
fn check_origin(origin: &str) -> Result<(), String> {
    if http::HeaderValue::from_str(origin).is_err() {
        return Err("not a valid header value".to_owned());
    }
    let url = url::Url::parse(origin).map_err(|e| format!("not a URL ({e})"))?;
    if url.host().is_none() {
        return Err("expected scheme://host[:port]".to_owned());
    }
    if matches!(url.scheme(), "http" | "https") {
        let canonical = url.origin().ascii_serialization();
        if canonical != origin {
            return Err(format!("a browser would send {canonical:?}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
