//! Failed-login blocking (spec section 9): per client address and per user,
//! counted in the database so every replica sees one count. An attempt
//! reserves its slot before the password is verified, so a burst of
//! concurrent guesses evaluates at most the limit; a blocked attempt is
//! neither verified nor counted.

use std::time::Duration;

use sessions_domain::{AttemptCounter, AttemptKey, AttemptKind, DomainError, DomainResult, User};

use crate::{ClientInfo, SessionService, address::address_key};

/// Rocket.Chat's `Block_Multiple_Failed_Logins_*`; a limit or window of 0
/// switches that count off.
#[derive(Debug, Clone)]
pub struct LoginLimitConfig {
    pub failures_per_user: u32,
    pub user_window: Duration,
    pub failures_per_address: u32,
    pub address_window: Duration,
}

impl Default for LoginLimitConfig {
    fn default() -> Self {
        Self {
            failures_per_user: 10,
            user_window: Duration::from_secs(300),
            failures_per_address: 50,
            address_window: Duration::from_secs(300),
        }
    }
}

/// A login from an address where the user logged in within this period is
/// counted apart from strangers' failures.
const KNOWN_ADDRESS_PERIOD: chrono::Duration = chrono::Duration::days(30);
/// Known addresses kept per user.
const KNOWN_ADDRESSES_KEPT: u32 = 20;
/// Counters without an attempt for this long are deleted.
const COUNTERS_KEPT_IDLE: chrono::Duration = chrono::Duration::days(30);

/// The counters one login attempt reserved, settled once its outcome is known.
#[must_use = "a reserved attempt is settled as a success or given back"]
pub(crate) struct LoginAttempt {
    reserved: Vec<AttemptKey>,
    /// The client's address as counted, when it has one that may become known.
    known_candidate: Option<String>,
    address: Option<AttemptKey>,
}

impl SessionService {
    /// Reserves this attempt on the address's count, then on the user's
    /// (strangers' failures, or only this address's when the user logged in
    /// from it before). A full count answers the block, address first.
    pub(crate) async fn begin_login_attempt(
        &self,
        user: Option<&User>,
        client: &ClientInfo,
    ) -> DomainResult<LoginAttempt> {
        let limits = &self.config().login_limits;
        let now = self.now();
        let address = Some(address_key(&client.ip)).filter(|a| !a.is_empty());
        let known_candidate = address.clone().filter(|_| !client.ip_is_trusted_proxy);
        let mut counters = Vec::with_capacity(2);
        let mut blocks = Vec::with_capacity(2);
        let mut address_counter = None;
        if let Some(address) = &address
            && limits.failures_per_address > 0
            && !limits.address_window.is_zero()
        {
            let key = AttemptKey::new(AttemptKind::LoginFromAddress, address.as_str());
            address_counter = Some(key.clone());
            counters.push(AttemptCounter {
                key,
                limit: limits.failures_per_address,
                window: limits.address_window,
                forget_after: None,
            });
            blocks.push(DomainError::LoginBlockedForAddress);
        }
        if let Some(user) = user
            && limits.failures_per_user > 0
            && !limits.user_window.is_zero()
        {
            let mut key = AttemptKey::new(AttemptKind::LoginOfUser, user.id.as_str());
            if let Some(address) = &known_candidate
                && self
                    .repo()
                    .is_known_address(&user.id, address, now - KNOWN_ADDRESS_PERIOD)
                    .await?
            {
                key = key.at_address(address.as_str());
            }
            counters.push(AttemptCounter {
                key,
                limit: limits.failures_per_user,
                window: limits.user_window,
                forget_after: None,
            });
            blocks.push(DomainError::LoginBlockedForUser);
        }
        if let Some(full) = self.repo().reserve_attempts(&counters, now).await? {
            let blocked = blocks.swap_remove(full);
            metrics::counter!("sessions_login_blocked_total", "by" => blocked.label()).increment(1);
            tracing::info!(reason = blocked.label(), "login blocked");
            return Err(blocked);
        }
        Ok(LoginAttempt {
            reserved: counters.into_iter().map(|c| c.key).collect(),
            known_candidate,
            address: address_counter,
        })
    }

    /// A completed password login: the user's counts and the address's start
    /// again (as Rocket.Chat counts failures since the last login), and the
    /// address becomes one the user is known at.
    pub(crate) async fn login_succeeded(
        &self,
        attempt: LoginAttempt,
        user: &User,
    ) -> DomainResult<()> {
        // Address first, as reservations take them.
        let mut cleared: Vec<AttemptKey> = attempt.address.into_iter().collect();
        cleared.push(AttemptKey::new(AttemptKind::LoginOfUser, user.id.as_str()));
        self.repo().clear_attempts(&cleared, true).await?;
        if let Some(address) = &attempt.known_candidate {
            self.repo()
                .remember_address(&user.id, address, self.now(), KNOWN_ADDRESSES_KEPT)
                .await?;
        }
        Ok(())
    }

    /// The password was right but the login stops short (its code is missing
    /// or wrong, which the code's own count limits): no failed login.
    pub(crate) async fn login_not_failed(&self, attempt: LoginAttempt) -> DomainResult<()> {
        self.repo().release_attempts(&attempt.reserved).await
    }
}

impl SessionService {
    /// Deletes counters without an attempt for 30 days. Failed logins count
    /// since the last successful one; a month of silence forgets them too,
    /// so counters of addresses that never come back do not pile up.
    pub async fn prune_attempts(&self) -> DomainResult<u64> {
        self.repo()
            .prune_attempts(self.now() - COUNTERS_KEPT_IDLE)
            .await
    }
}
