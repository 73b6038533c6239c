//! Fixed-window request limits per client address and route, in each
//! replica's memory. The table is bounded in bytes, keyed by a keyed digest
//! (nothing a client sends is kept), and forgotten when its window ends.

use std::{collections::HashMap, sync::Mutex, time::Duration};

use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use sessions_domain::DomainError;
use sha2::Sha256;

/// Request limits; a limit of 0 switches the limiter off.
#[derive(Debug, Clone)]
pub struct RateLimitConfig {
    /// Requests per window per client address and route.
    pub requests: u32,
    pub window: Duration,
    /// Memory the table of windows may take.
    pub table_bytes: usize,
    /// Users whose roles hold this permission are not limited.
    pub exempt_permission: String,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            requests: 300,
            window: Duration::from_secs(60),
            table_bytes: 16 * 1024 * 1024,
            exempt_permission: "api-bypass-rate-limit".to_owned(),
        }
    }
}

/// 128 bits of HMAC-SHA256: collisions cannot be aimed without the key.
type Digest = [u8; 16];

/// What one entry costs at worst: key and count, the table's control byte,
/// and the slack of a table that doubles when it grows.
const BYTES_PER_ENTRY: usize = 2 * (std::mem::size_of::<(Digest, u32)>() + 1) + 6;

#[derive(Debug)]
pub(crate) struct RequestWindows {
    key: [u8; 64],
    max_entries: usize,
    state: Mutex<WindowState>,
}

#[derive(Debug, Default)]
struct WindowState {
    /// Start of the window every entry belongs to, in Unix milliseconds.
    start_ms: i64,
    counts: HashMap<Digest, u32>,
    /// Requests of keys that found the table full share a count per network
    /// (an IPv4 /16, an IPv6 /32) and route: a flood of new keys is limited as
    /// one client per network, no live window is evicted, and a flood from
    /// one network does not limit newcomers from every other.
    overflow: HashMap<Digest, u32>,
    /// When even the overflow table is full: one count for the rest.
    last_resort: u32,
    /// Callers over the limit found exempt in this window, by key and
    /// credentials: their next requests skip the token lookup.
    exempt: HashMap<Digest, Digest>,
}

/// The network a full table counts an address under: IPv4 /16, IPv6 /32.
fn overflow_network(address: &str) -> String {
    let ip = address.strip_suffix("/64").unwrap_or(address);
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(v4)) => {
            let [a, b, ..] = v4.octets();
            format!("{a}.{b}.0.0/16")
        }
        Ok(std::net::IpAddr::V6(v6)) => {
            let network = u128::from(v6) & (u128::MAX << 96);
            format!("{}/32", std::net::Ipv6Addr::from(network))
        }
        Err(_) => String::new(),
    }
}

/// Where a request left its route's window: Rocket.Chat's `X-RateLimit-*`
/// headers, sent on every answer of a limited route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateWindow {
    pub limit: u32,
    pub remaining: u32,
    /// When the window resets, in Unix milliseconds.
    pub reset_at_ms: i64,
}

impl RateWindow {
    /// `X-RateLimit-Limit`, `-Remaining` and `-Reset`, as Rocket.Chat names them.
    pub fn headers(&self) -> [(&'static str, String); 3] {
        [
            ("X-RateLimit-Limit", self.limit.to_string()),
            ("X-RateLimit-Remaining", self.remaining.to_string()),
            ("X-RateLimit-Reset", self.reset_at_ms.to_string()),
        ]
    }
}

/// Why a request was refused, and how far over its window is: the caller
/// checks an exemption only for the first few over the limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Limited {
    pub(crate) error: DomainError,
    pub(crate) count: u32,
}

impl RequestWindows {
    pub(crate) fn new(table_bytes: usize) -> Self {
        let mut key = [0u8; 64];
        rand::fill(&mut key);
        Self {
            key,
            max_entries: (table_bytes / BYTES_PER_ENTRY).max(1),
            state: Mutex::new(WindowState::default()),
        }
    }

    fn digest(&self, address: &str, route: &str) -> Digest {
        // The key is one HMAC block: taken as is, it cannot be refused.
        let mut mac = Hmac::<Sha256>::new(&self.key.into());
        // The length prefix keeps ("a", "bc") apart from ("ab", "c").
        mac.update(&(address.len() as u64).to_le_bytes());
        mac.update(address.as_bytes());
        mac.update(route.as_bytes());
        let full = mac.finalize().into_bytes();
        let mut digest = [0u8; 16];
        digest.copy_from_slice(&full[..16]);
        digest
    }

    /// Counts one request of `address` on `route`: the window it leaves, or
    /// `Err` once the window holds more than `limit`. `None`: no limit.
    pub(crate) fn hit(
        &self,
        address: &str,
        route: &str,
        limit: u32,
        window: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<RateWindow>, Limited> {
        if limit == 0 {
            return Ok(None);
        }
        let window_ms = i64::try_from(window.as_millis()).unwrap_or(i64::MAX).max(1);
        let now_ms = now.timestamp_millis();
        let start = now_ms - now_ms.rem_euclid(window_ms);
        let digest = self.digest(address, route);
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.start_ms != start {
            // Every entry belongs to the window that just ended.
            state.counts.clear();
            state.counts.shrink_to(self.max_entries.min(1024));
            state.overflow.clear();
            state.last_resort = 0;
            state.exempt.clear();
            state.start_ms = start;
        }
        let full = state.counts.len() >= self.max_entries;
        let max_overflow = self.max_overflow();
        let state = &mut *state;
        let count = match state.counts.get_mut(&digest) {
            Some(count) => count,
            None if !full => state.counts.entry(digest).or_insert(0),
            None => {
                if state.overflow.is_empty() && state.last_resort == 0 {
                    tracing::warn!(
                        entries = self.max_entries,
                        "rate-limit table full; new addresses share a window per network until it ends"
                    );
                }
                metrics::counter!("sessions_rate_limit_overflow_total").increment(1);
                let network = self.digest(&overflow_network(address), route);
                let room = state.overflow.len() < max_overflow;
                match state.overflow.get_mut(&network) {
                    Some(count) => count,
                    None if room => state.overflow.entry(network).or_insert(0),
                    None => &mut state.last_resort,
                }
            }
        };
        *count = count.saturating_add(1);
        let reset_at_ms = start.saturating_add(window_ms);
        if *count <= limit {
            return Ok(Some(RateWindow {
                limit,
                remaining: limit - *count,
                reset_at_ms,
            }));
        }
        Err(Limited {
            error: DomainError::RateLimited {
                limit,
                retry_after_secs: u64::try_from(reset_at_ms - now_ms)
                    .unwrap_or(0)
                    .div_ceil(1000),
                reset_at_ms,
            },
            count: *count,
        })
    }

    /// Whether these credentials were found exempt on this key in this window.
    pub(crate) fn is_exempt(&self, address: &str, route: &str, credentials: &str) -> bool {
        let key = self.digest(address, route);
        let credentials = self.digest(credentials, "");
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.exempt.get(&key) == Some(&credentials)
    }

    /// Remembers, for the rest of this window, that these credentials are exempt.
    pub(crate) fn remember_exempt(&self, address: &str, route: &str, credentials: &str) {
        let key = self.digest(address, route);
        let credentials = self.digest(credentials, "");
        let max_exempt = self.max_overflow();
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.exempt.len() < max_exempt {
            state.exempt.insert(key, credentials);
        }
    }

    /// The overflow table takes a sixteenth of the table's budget.
    fn max_overflow(&self) -> usize {
        (self.max_entries / 16).max(1)
    }

    #[cfg(test)]
    fn entries(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .counts
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const MINUTE: Duration = Duration::from_secs(60);

    fn at(second: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, second).unwrap()
    }

    #[test]
    fn limits_within_a_window_and_resets_after() {
        let windows = RequestWindows::new(1 << 20);
        let reset_at_ms = at(10).timestamp_millis() + 50_000;
        for remaining in [2, 1, 0] {
            let window = windows.hit("a", "r", 3, MINUTE, at(10));
            assert_eq!(
                window.ok().flatten(),
                Some(RateWindow {
                    limit: 3,
                    remaining,
                    reset_at_ms
                })
            );
        }
        let err = windows.hit("a", "r", 3, MINUTE, at(10)).unwrap_err();
        assert_eq!(
            err,
            Limited {
                error: DomainError::RateLimited {
                    limit: 3,
                    retry_after_secs: 50,
                    reset_at_ms: at(10).timestamp_millis() + 50_000
                },
                count: 4,
            }
        );
        assert!(windows.hit("b", "r", 3, MINUTE, at(10)).is_ok());
        assert!(windows.hit("a", "other", 3, MINUTE, at(10)).is_ok());
        assert!(windows.hit("a", "r", 3, MINUTE, at(10) + MINUTE).is_ok());
        assert!(matches!(windows.hit("a", "r", 0, MINUTE, at(10)), Ok(None)));
    }

    #[test]
    fn a_full_table_keeps_live_windows_and_limits_newcomers_per_network() {
        let windows = RequestWindows::new(BYTES_PER_ENTRY * 4);
        let hit = |address: &str| windows.hit(address, "r", 2, MINUTE, at(1)).is_ok();
        assert!(hit("192.0.2.1") && hit("192.0.2.1"));
        for n in 0..3 {
            assert!(hit(&format!("203.0.113.{n}")));
        }
        assert_eq!(windows.entries(), 4);
        // The flood did not reset the victim's window.
        assert!(!hit("192.0.2.1"));
        // Newcomers of the flood's /16 share one window: two pass, the third
        // is limited...
        assert!(hit("203.0.114.1") && hit("203.0.115.2"));
        assert!(!hit("203.0.116.3"));
        // ...and a newcomer elsewhere is not limited by them.
        assert!(hit("2001:db8:1:2::/64"));
        assert_eq!(windows.entries(), 4);
        // The next window forgets everything.
        assert!(
            windows
                .hit("203.0.116.3", "r", 2, MINUTE, at(1) + MINUTE)
                .is_ok()
        );
        assert_eq!(windows.entries(), 1);
    }

    #[test]
    fn overflow_networks_are_coarse() {
        assert_eq!(overflow_network("203.0.113.9"), "203.0.0.0/16");
        assert_eq!(overflow_network("2001:db8:1:2::/64"), "2001:db8::/32");
        assert_eq!(overflow_network(""), "");
    }

    #[test]
    fn keys_are_digests_bound_to_the_process_key() {
        let one = RequestWindows::new(1024);
        let other = RequestWindows::new(1024);
        assert_ne!(one.digest("a", "r"), other.digest("a", "r"));
        assert_ne!(one.digest("a", "bc"), one.digest("ab", "c"));
        assert_eq!(one.digest("a", "r"), one.digest("a", "r"));
    }
}
