//! Token checks from memory: what a token check answers, kept per token hash,
//! dropped by owner on every write that changes it, trusted only while the
//! feed of other processes' writes is fresh (spec section 11).
//!
//! Invalidation is by generation, not by removal: each user hashes to a stripe
//! whose counter every change of that user bumps, and an entry is good only
//! while its stripe still has the generation read before the database read
//! that produced it. So a read racing a revocation can never leave a stale
//! entry behind, and dropping every entry of a user costs one atomic add.

use std::{
    hash::{BuildHasher, RandomState},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use metrics::Counter;
use sessions_domain::{Session, UserIdentity};

/// How the cache is bounded and how fresh the change feed must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenCacheSettings {
    /// Memory the entries may take, estimated from their text (one entry
    /// per token recently checked, typically under 1 KiB).
    pub memory_bytes: u64,
    /// An entry is read again from the database after this long at most.
    pub max_age: Duration,
    /// The cache answers only while the change feed was heard from within
    /// this long: the most a revocation by another process can go unseen.
    pub trust_window: Duration,
    /// How often the change feed is checked: PostgreSQL heartbeats through
    /// `NOTIFY`, SQLite polls of its change log. Well below `trust_window`.
    pub feed_interval: Duration,
}

impl Default for TokenCacheSettings {
    fn default() -> Self {
        Self {
            memory_bytes: 64 * 1024 * 1024,
            max_age: Duration::from_secs(60),
            trust_window: Duration::from_millis(100),
            feed_interval: Duration::from_millis(20),
        }
    }
}

/// Enough stripes that users rarely share one (a shared stripe only costs
/// the other user a database read), few enough to be 512 KiB.
const STRIPES: usize = 1 << 16;

struct Entry {
    session: Session,
    user: UserIdentity,
    generation: u64,
    epoch: u64,
}

impl Entry {
    /// The entry's heap and inline size, near enough to bound memory by.
    fn approximate_bytes(&self, key: &str) -> u32 {
        let (s, u, d) = (&self.session, &self.user, &self.session.device);
        let texts = [
            key,
            &s.id,
            &s.session_id,
            &s.instance_id,
            &s.login_token_hash,
            &s.ip,
            &s.host,
            &d.kind,
            &d.name,
            &d.long_version,
            &d.os_name,
            &d.os_version,
            &d.version,
            &s.user_id,
            &s.most_important_role,
            &s.search_term,
            s.logout_by.as_deref().unwrap_or_default(),
            &u.id,
            &u.username,
            &u.name,
        ];
        let roles = s.roles.iter().chain(&u.roles).map(String::len);
        // Plus the cache's own bookkeeping per entry, roughly.
        let bytes = std::mem::size_of::<Entry>()
            + 128
            + texts.iter().map(|t| t.len()).sum::<usize>()
            + roles
                .map(|r| r + std::mem::size_of::<String>())
                .sum::<usize>();
        u32::try_from(bytes).unwrap_or(u32::MAX)
    }
}

/// The generations a lookup starts from, taken before its database read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ticket {
    stripe: usize,
    generation: u64,
    epoch: u64,
}

pub(crate) struct TokenCache {
    entries: moka::sync::Cache<String, Arc<Entry>>,
    stripes: Box<[AtomicU64]>,
    /// Bumped when the whole cache is dropped (the feed was lost).
    epoch: AtomicU64,
    /// Milliseconds since `origin` until which entries may answer.
    trusted_until: AtomicU64,
    origin: Instant,
    hasher: RandomState,
    pub(crate) settings: TokenCacheSettings,
    hits: Counter,
    misses: Counter,
    invalidations: Counter,
}

impl TokenCache {
    pub(crate) fn new(settings: TokenCacheSettings) -> Self {
        Self {
            entries: moka::sync::Cache::builder()
                .max_capacity(settings.memory_bytes)
                .weigher(|key: &String, entry: &Arc<Entry>| entry.approximate_bytes(key))
                .time_to_live(settings.max_age)
                .build(),
            stripes: (0..STRIPES).map(|_| AtomicU64::new(0)).collect(),
            epoch: AtomicU64::new(0),
            trusted_until: AtomicU64::new(0),
            origin: Instant::now(),
            hasher: RandomState::new(),
            settings,
            hits: metrics::counter!("sessions_token_cache_hits_total"),
            misses: metrics::counter!("sessions_token_cache_misses_total"),
            invalidations: metrics::counter!("sessions_token_cache_invalidations_total"),
        }
    }

    fn stripe_of(&self, user_id: &str) -> usize {
        // Truncation is the point: the low bits pick the stripe.
        (self.hasher.hash_one(user_id) as usize) % STRIPES
    }

    /// Taken before the database read whose answer may be kept.
    pub(crate) fn ticket(&self, user_id: &str) -> Ticket {
        let stripe = self.stripe_of(user_id);
        Ticket {
            stripe,
            generation: self.stripes[stripe].load(Ordering::SeqCst),
            epoch: self.epoch.load(Ordering::SeqCst),
        }
    }

    /// The kept answer for this token, if it is still good and the feed fresh.
    pub(crate) fn get(
        &self,
        token_hash: &str,
        claimed_user_id: &str,
        ticket: Ticket,
    ) -> Option<(Session, UserIdentity)> {
        let found = self.is_trusted().then(|| self.entries.get(token_hash));
        match found.flatten() {
            Some(entry)
                if entry.user.id == claimed_user_id
                    && entry.generation == ticket.generation
                    && entry.epoch == ticket.epoch =>
            {
                self.hits.increment(1);
                Some((entry.session.clone(), entry.user.clone()))
            }
            _ => {
                self.misses.increment(1);
                None
            }
        }
    }

    /// Keeps a database answer read under `ticket`. A change of its owner
    /// since the ticket leaves it unkept; one after this check leaves it
    /// with a generation that no longer matches.
    pub(crate) fn insert(
        &self,
        token_hash: &str,
        ticket: Ticket,
        session: &Session,
        user: &UserIdentity,
    ) {
        let current = self.ticket(&user.id);
        if current.stripe != ticket.stripe
            || current.generation != ticket.generation
            || current.epoch != ticket.epoch
        {
            return;
        }
        self.entries.insert(
            token_hash.to_owned(),
            Arc::new(Entry {
                session: session.clone(),
                user: user.clone(),
                generation: ticket.generation,
                epoch: ticket.epoch,
            }),
        );
    }

    /// Every kept answer of this user stops answering.
    pub(crate) fn invalidate_user(&self, user_id: &str) {
        self.stripes[self.stripe_of(user_id)].fetch_add(1, Ordering::SeqCst);
        self.invalidations.increment(1);
    }

    /// Every kept answer stops answering (the feed was lost: changes may
    /// have been missed).
    pub(crate) fn clear(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.entries.invalidate_all();
    }

    /// Milliseconds since this cache started, the clock of trust.
    pub(crate) fn now_ms(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Every change committed before `checked_at_ms` has been applied: the
    /// cache may answer until `trust_window` after it.
    pub(crate) fn heard(&self, checked_at_ms: u64) {
        let window = u64::try_from(self.settings.trust_window.as_millis()).unwrap_or(u64::MAX);
        self.trusted_until
            .fetch_max(checked_at_ms.saturating_add(window), Ordering::SeqCst);
        metrics::gauge!("sessions_token_cache_trusted").set(1.0);
    }

    /// The feed is gone: answer from the database until it is back.
    pub(crate) fn distrust(&self) {
        self.trusted_until.store(0, Ordering::SeqCst);
        metrics::gauge!("sessions_token_cache_trusted").set(0.0);
    }

    pub(crate) fn is_trusted(&self) -> bool {
        self.now_ms() < self.trusted_until.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use sessions_domain::Device;

    fn identity(id: &str) -> UserIdentity {
        UserIdentity {
            id: id.to_owned(),
            username: id.to_owned(),
            name: String::new(),
            roles: vec!["user".to_owned()],
            active: true,
            has_password: true,
            totp_enabled: false,
            created_at: Utc.timestamp_opt(0, 0).unwrap(),
        }
    }

    fn session(user_id: &str) -> Session {
        let at = Utc.timestamp_opt(0, 0).unwrap();
        Session {
            id: "0".repeat(24),
            session_id: "S".repeat(17),
            instance_id: String::new(),
            login_token_hash: "hash".to_owned(),
            ip: String::new(),
            host: String::new(),
            device: Device::default(),
            user_id: user_id.to_owned(),
            roles: vec![],
            most_important_role: String::new(),
            login_at: at,
            search_term: String::new(),
            created_at: at,
            updated_at: at,
            last_activity_at: None,
            closed_at: None,
            logout_at: None,
            logout_by: None,
            expires_at: at,
            two_factor_trust: None,
        }
    }

    fn trusted_cache() -> TokenCache {
        let cache = TokenCache::new(TokenCacheSettings::default());
        cache.heard(cache.now_ms() + 60_000);
        cache
    }

    #[test]
    fn a_kept_answer_answers_its_owner_only() {
        let cache = trusted_cache();
        let ticket = cache.ticket("u1");
        cache.insert("hash", ticket, &session("u1"), &identity("u1"));
        assert!(cache.get("hash", "u1", cache.ticket("u1")).is_some());
        assert!(cache.get("hash", "u2", cache.ticket("u2")).is_none());
        assert!(cache.get("other", "u1", cache.ticket("u1")).is_none());
    }

    #[test]
    fn an_invalidation_during_the_read_keeps_nothing() {
        let cache = trusted_cache();
        let ticket = cache.ticket("u1");
        // The revocation lands between the read and the insert.
        cache.invalidate_user("u1");
        cache.insert("hash", ticket, &session("u1"), &identity("u1"));
        assert!(cache.get("hash", "u1", cache.ticket("u1")).is_none());
    }

    #[test]
    fn invalidating_a_user_or_clearing_drops_kept_answers() {
        let cache = trusted_cache();
        cache.insert("hash", cache.ticket("u1"), &session("u1"), &identity("u1"));
        cache.invalidate_user("u1");
        assert!(cache.get("hash", "u1", cache.ticket("u1")).is_none());
        cache.insert("hash", cache.ticket("u1"), &session("u1"), &identity("u1"));
        assert!(cache.get("hash", "u1", cache.ticket("u1")).is_some());
        cache.clear();
        assert!(cache.get("hash", "u1", cache.ticket("u1")).is_none());
    }

    #[test]
    fn nothing_answers_while_the_feed_is_stale() {
        let cache = TokenCache::new(TokenCacheSettings::default());
        cache.insert("hash", cache.ticket("u1"), &session("u1"), &identity("u1"));
        assert!(!cache.is_trusted(), "never heard from");
        assert!(cache.get("hash", "u1", cache.ticket("u1")).is_none());
        cache.heard(cache.now_ms());
        assert!(cache.get("hash", "u1", cache.ticket("u1")).is_some());
        cache.distrust();
        assert!(cache.get("hash", "u1", cache.ticket("u1")).is_none());
        // A heard-from time older than the window trusts nothing.
        cache.heard(0);
        std::thread::sleep(Duration::from_millis(150));
        assert!(!cache.is_trusted());
    }
}
