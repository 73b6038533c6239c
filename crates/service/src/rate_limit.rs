//! Fixed-window request limits: per client address and route, and failed
//! logins per username. In memory, per replica; the 2FA attempt limit, which
//! guards the 6-digit codes, is in the database and holds across replicas.

use std::{collections::HashMap, sync::Mutex, time::Duration};

use chrono::{DateTime, Utc};
use sessions_domain::DomainError;

/// Limits; a limit of 0 switches that limiter off.
#[derive(Debug, Clone)]
pub struct RateLimitConfig {
    /// Requests per window per client address and route.
    pub requests: u32,
    pub window: Duration,
    /// Failed logins per window per username.
    pub login_failures: u32,
    pub login_failure_window: Duration,
    /// Users whose roles hold this permission are not limited.
    pub exempt_permission: String,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            requests: 300,
            window: Duration::from_secs(60),
            login_failures: 10,
            login_failure_window: Duration::from_secs(900),
            exempt_permission: "api-bypass-rate-limit".to_owned(),
        }
    }
}

/// Beyond this many keys, windows that have ended are dropped.
const SWEEP_ABOVE: usize = 50_000;

#[derive(Debug, Default)]
pub(crate) struct Windows {
    counts: Mutex<HashMap<String, (i64, u32)>>,
}

impl Windows {
    /// Counts one hit on `key`; `Err` once the window holds more than `limit`.
    pub(crate) fn hit(
        &self,
        key: String,
        limit: u32,
        window: Duration,
        now: DateTime<Utc>,
    ) -> Result<(), DomainError> {
        if limit == 0 {
            return Ok(());
        }
        let window_ms = window.as_millis().max(1) as i64;
        let now_ms = now.timestamp_millis();
        let start = now_ms - now_ms.rem_euclid(window_ms);
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if counts.len() > SWEEP_ABOVE {
            counts.retain(|_, (window_start, _)| *window_start == start);
        }
        let entry = counts.entry(key).or_insert((start, 0));
        if entry.0 != start {
            *entry = (start, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        if entry.1 <= limit {
            return Ok(());
        }
        let reset_at_ms = start + window_ms;
        Err(DomainError::RateLimited {
            limit,
            retry_after_secs: ((reset_at_ms - now_ms) as u64).div_ceil(1000),
            reset_at_ms,
        })
    }

    /// Whether `key` is over `limit` in the current window, without counting.
    pub(crate) fn over(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
        now: DateTime<Utc>,
    ) -> Option<DomainError> {
        if limit == 0 {
            return None;
        }
        let window_ms = window.as_millis().max(1) as i64;
        let now_ms = now.timestamp_millis();
        let start = now_ms - now_ms.rem_euclid(window_ms);
        let counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        match counts.get(key) {
            Some((window_start, count)) if *window_start == start && *count >= limit => {
                let reset_at_ms = start + window_ms;
                Some(DomainError::RateLimited {
                    limit,
                    retry_after_secs: ((reset_at_ms - now_ms) as u64).div_ceil(1000),
                    reset_at_ms,
                })
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn limits_within_a_window_and_resets_after() {
        let windows = Windows::default();
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 10).unwrap();
        let minute = Duration::from_secs(60);
        for _ in 0..3 {
            assert!(windows.hit("a".into(), 3, minute, t0).is_ok());
        }
        let err = windows.hit("a".into(), 3, minute, t0).unwrap_err();
        assert_eq!(
            err,
            DomainError::RateLimited {
                limit: 3,
                retry_after_secs: 50,
                reset_at_ms: t0.timestamp_millis() + 50_000
            }
        );
        assert!(windows.hit("b".into(), 3, minute, t0).is_ok());
        assert!(
            windows
                .hit("a".into(), 3, minute, t0 + chrono::Duration::seconds(50))
                .is_ok()
        );
        assert!(windows.hit("a".into(), 0, minute, t0).is_ok());
    }
}
