//! Connection caps: a total that stops accepting while full, so descriptors
//! stay bounded, and a share per peer address that one client cannot exceed
//! (trusted proxies exempt: behind an ingress every client shares its address).

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Arc, Mutex, PoisonError},
    time::Instant,
};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::accept::{LOG_EVERY, LogThrottle};
use crate::client::TrustedProxies;

/// Live connections per peer address; an address leaves the map with its
/// last connection, so the map is never larger than the connections.
type Live = Arc<Mutex<HashMap<IpAddr, u32>>>;

pub(super) struct Caps {
    total: Arc<Semaphore>,
    max_total: u32,
    /// 0: no per-address cap.
    per_address: u32,
    live: Live,
    trusted: TrustedProxies,
    full_log: Mutex<LogThrottle>,
}

/// One admitted connection's share of the caps, given back on drop.
pub(super) struct Slot {
    _permit: OwnedSemaphorePermit,
    counted: Option<(Live, IpAddr)>,
}

impl Caps {
    pub(super) fn new(max_total: u32, per_address: u32, trusted: TrustedProxies) -> Self {
        // Only a 32-bit target could exceed tokio's permit ceiling.
        let max_total = u32::try_from(Semaphore::MAX_PERMITS)
            .map_or(max_total, |ceiling| max_total.min(ceiling));
        Self {
            total: Arc::new(Semaphore::new(max_total as usize)),
            max_total,
            per_address,
            live: Live::default(),
            trusted,
            full_log: Mutex::new(LogThrottle::new(LOG_EVERY)),
        }
    }

    /// Waits for room under the total cap; taken before `accept`, so while
    /// full the kernel's backlog holds new clients instead of our descriptors.
    pub(super) async fn reserve(&self) -> Option<OwnedSemaphorePermit> {
        if let Ok(permit) = Arc::clone(&self.total).try_acquire_owned() {
            return Some(permit);
        }
        let allowed = self
            .full_log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .allow(Instant::now());
        if let Some(suppressed) = allowed {
            tracing::warn!(
                max_connections = self.max_total,
                suppressed,
                "connection limit reached; new connections wait"
            );
        }
        // Only a closed semaphore fails, and this one is never closed.
        Arc::clone(&self.total).acquire_owned().await.ok()
    }

    /// The connection's slot, or `None` when its address already holds its
    /// share (the caller then closes it).
    pub(super) fn admit(&self, permit: OwnedSemaphorePermit, peer: IpAddr) -> Option<Slot> {
        let peer = peer.to_canonical();
        let counted = if self.per_address == 0 || self.trusted.contains(peer) {
            None
        } else {
            // An IPv6 client holds a whole /64: its addresses share one count.
            let peer = sessions_service::client_network(peer);
            let mut live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
            let count = live.entry(peer).or_insert(0);
            if *count >= self.per_address {
                metrics::counter!("sessions_connections_refused_total", "reason" => "per_address")
                    .increment(1);
                tracing::debug!(%peer, limit = self.per_address, "connection refused: too many from this address");
                return None;
            }
            *count += 1;
            Some((Arc::clone(&self.live), peer))
        };
        metrics::gauge!("sessions_connections_open").increment(1);
        Some(Slot {
            _permit: permit,
            counted,
        })
    }

    /// Resolves once every admitted connection has ended.
    pub(super) async fn drained(&self) {
        let _ = self.total.acquire_many(self.max_total).await;
    }

    /// A total cap at or above the open-file limit is reached by EMFILE first.
    pub(super) fn warn_if_above_open_file_limit(&self) {
        if let Some(limit) = open_file_limit()
            && u64::from(self.max_total) >= limit
        {
            tracing::warn!(
                max_connections = self.max_total,
                open_file_limit = limit,
                "max_connections is not below the open-file limit; accept will fail before the cap applies"
            );
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        metrics::gauge!("sessions_connections_open").decrement(1);
        if let Some((live, peer)) = self.counted.take() {
            let mut live = live.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(count) = live.get_mut(&peer) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    live.remove(&peer);
                }
            }
        }
    }
}

/// The soft RLIMIT_NOFILE, read where Linux shows it (no `unsafe` libc call).
fn open_file_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    async fn permit(caps: &Caps) -> OwnedSemaphorePermit {
        caps.reserve().await.unwrap()
    }

    #[tokio::test]
    async fn an_address_gets_its_share_and_leaves_the_map_with_its_last_connection() {
        let caps = Caps::new(10, 2, TrustedProxies::parse(&[]).unwrap());
        let first = caps.admit(permit(&caps).await, ip("10.0.0.1")).unwrap();
        let second = caps
            .admit(permit(&caps).await, ip("::ffff:10.0.0.1"))
            .unwrap();
        assert!(caps.admit(permit(&caps).await, ip("10.0.0.1")).is_none());
        let other = caps.admit(permit(&caps).await, ip("10.0.0.2")).unwrap();
        drop(first);
        let third = caps.admit(permit(&caps).await, ip("10.0.0.1")).unwrap();
        drop((second, third, other));
        assert!(caps.live.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn an_ipv6_64_is_one_address() {
        let caps = Caps::new(10, 2, TrustedProxies::parse(&[]).unwrap());
        let first = caps
            .admit(permit(&caps).await, ip("2001:db8:1:2::1"))
            .unwrap();
        let second = caps
            .admit(permit(&caps).await, ip("2001:db8:1:2:ffff::9"))
            .unwrap();
        assert!(
            caps.admit(permit(&caps).await, ip("2001:db8:1:2::77"))
                .is_none()
        );
        let neighbour = caps
            .admit(permit(&caps).await, ip("2001:db8:1:3::1"))
            .unwrap();
        drop((first, second, neighbour));
        assert!(caps.live.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn trusted_proxies_are_not_capped_per_address() {
        let caps = Caps::new(
            10,
            1,
            TrustedProxies::parse(&["10.0.0.0/8".into()]).unwrap(),
        );
        let slots: Vec<_> = (0..5)
            .map(|_| caps.total.clone().try_acquire_owned().unwrap())
            .map(|permit| caps.admit(permit, ip("10.1.2.3")).unwrap())
            .collect();
        assert_eq!(slots.len(), 5);
        assert!(caps.live.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn the_total_cap_waits_for_a_connection_to_end() {
        let caps = Caps::new(1, 0, TrustedProxies::parse(&[]).unwrap());
        let only = caps.admit(permit(&caps).await, ip("10.0.0.1")).unwrap();
        let waiting = tokio::time::timeout(std::time::Duration::from_millis(50), caps.reserve());
        assert!(waiting.await.is_err());
        drop(only);
        assert!(caps.reserve().await.is_some());
        caps.drained().await;
    }

    #[test]
    fn the_open_file_limit_is_read_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(open_file_limit().is_some_and(|limit| limit > 0));
        }
    }
}
