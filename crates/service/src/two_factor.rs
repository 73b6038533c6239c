//! Second-factor checks (spec section 5): TOTP with replay protection, backup
//! codes, the password fallback, the attempt limit and the remember window.

use chrono::Duration;
use sessions_domain::{
    AttemptCounter, AttemptKey, AttemptKind, DomainError, DomainResult, TwoFactorFailure,
    TwoFactorTrust, User,
};

use crate::{AuthContext, Caller, SessionService, password_work, secrets::hash_backup_code, totp};

/// The method a check uses for a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Totp,
    Password,
}

impl Method {
    fn name(self) -> &'static str {
        match self {
            Self::Totp => "totp",
            Self::Password => "password",
        }
    }
}

/// Outcome of checking one code.
pub(crate) enum CodeCheck {
    Accepted,
    Rejected,
    TooManyAttempts,
}

impl SessionService {
    /// Passes when the calling session is inside its remember window (where
    /// `remember` allows it), or when the `x-2fa-code` is right; a right code
    /// opens the window.
    pub(crate) async fn require_two_factor(
        &self,
        ctx: &AuthContext,
        caller: &Caller,
        remember: bool,
    ) -> DomainResult<()> {
        let now = self.now();
        if remember
            && let Some(trust) = &ctx.session.two_factor_trust
            && trust.until > now
            && trust.ip == caller.client.ip
            && trust.user_agent == caller.client.user_agent
        {
            return Ok(());
        }
        let available_methods: Vec<String> = if ctx.user.totp_secret.is_some() {
            vec!["totp".to_owned()]
        } else {
            Vec::new()
        };
        let Some(method) = self.method_for(&ctx.user, caller.two_factor_method.as_deref()) else {
            // Rocket.Chat lets users without any method through; we do not.
            return Err(DomainError::TwoFactorRequired(TwoFactorFailure {
                method: "totp".to_owned(),
                available_methods,
            }));
        };
        let failure = TwoFactorFailure {
            method: method.name().to_owned(),
            available_methods,
        };
        let Some(code) = caller
            .two_factor_code
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
        else {
            return Err(DomainError::TwoFactorRequired(failure));
        };
        match self
            .check_code(&ctx.user, method, code, AttemptKind::EndpointCode)
            .await?
        {
            CodeCheck::Accepted => {}
            CodeCheck::Rejected => return Err(DomainError::TwoFactorInvalid(failure)),
            CodeCheck::TooManyAttempts => return Err(DomainError::TwoFactorMaxAttempts(failure)),
        }
        let remember_for = Duration::from_std(self.config().two_factor.remember_for)
            .unwrap_or_else(|_| Duration::zero());
        if remember && remember_for > Duration::zero() {
            let trust = TwoFactorTrust {
                until: now + remember_for,
                ip: caller.client.ip.clone(),
                user_agent: caller.client.user_agent.clone(),
            };
            self.repo()
                .set_two_factor_trust(&ctx.session.session_id, &trust, now)
                .await?;
        }
        Ok(())
    }

    /// Checks a TOTP or backup code at login; the remember window stays closed.
    pub(crate) async fn check_login_code(
        &self,
        user: &User,
        code: &str,
    ) -> DomainResult<CodeCheck> {
        self.check_code(user, Method::Totp, code, AttemptKind::LoginCode)
            .await
    }

    /// The method a check uses: the one `x-2fa-method` names when the user has
    /// it enabled, else the user's first enabled one (Rocket.Chat's
    /// `getMethodByNameOrFirstActiveForUser`). The password fallback is
    /// enabled only for users without any other method.
    fn method_for(&self, user: &User, requested: Option<&str>) -> Option<Method> {
        let enabled = self.enabled_methods(user);
        requested
            .and_then(|name| enabled.iter().find(|m| m.name() == name.trim()))
            .or_else(|| enabled.first())
            .copied()
    }

    fn enabled_methods(&self, user: &User) -> Vec<Method> {
        let mut enabled = Vec::with_capacity(1);
        if user.totp_secret.is_some() {
            enabled.push(Method::Totp);
        }
        if enabled.is_empty()
            && self.config().two_factor.password_fallback
            && user.password_hash.is_some()
        {
            enabled.push(Method::Password);
        }
        enabled
    }

    /// Reserves the attempt on the user's count of wrong codes (at endpoints
    /// or at login: counted apart, so a stolen token cannot lock its owner out
    /// of logging in), then evaluates the code. The reservation is what stops
    /// a burst: at most the limit of concurrent codes is ever evaluated.
    async fn check_code(
        &self,
        user: &User,
        method: Method,
        code: &str,
        counted_as: AttemptKind,
    ) -> DomainResult<CodeCheck> {
        let now = self.now();
        let settings = &self.config().two_factor;
        let key = AttemptKey::new(counted_as, user.id.as_str());
        if settings.max_failed_attempts > 0 && !settings.failed_attempts_window.is_zero() {
            let counter = AttemptCounter {
                key: key.clone(),
                limit: u32::try_from(settings.max_failed_attempts).unwrap_or(u32::MAX),
                window: settings.failed_attempts_window,
                // "5 wrong codes in 10 minutes": older mistakes are forgiven.
                forget_after: Some(settings.failed_attempts_window),
            };
            if self
                .repo()
                .reserve_attempts(&[counter], now)
                .await?
                .is_some()
            {
                metrics::counter!("sessions_two_factor_lockouts_total").increment(1);
                return Ok(CodeCheck::TooManyAttempts);
            }
        }
        let accepted = match method {
            Method::Totp => {
                self.verify_totp_or_backup_code(user, code, now.timestamp())
                    .await?
            }
            Method::Password => {
                password_work::verify_password_digest(
                    code.to_ascii_lowercase(),
                    user.password_hash.clone(),
                )
                .await?
            }
        };
        if accepted {
            self.repo().clear_attempts(&[key], false).await?;
            Ok(CodeCheck::Accepted)
        } else {
            // The reserved attempt stays counted: it is the failure.
            metrics::counter!("sessions_two_factor_failures_total", "method" => method.name())
                .increment(1);
            tracing::info!(user_id = %user.id, method = method.name(), "wrong second-factor code");
            Ok(CodeCheck::Rejected)
        }
    }

    async fn verify_totp_or_backup_code(
        &self,
        user: &User,
        code: &str,
        unix: i64,
    ) -> DomainResult<bool> {
        // An 8-character code is a single-use backup code.
        if code.len() == 8 {
            return self
                .repo()
                .consume_backup_code(&user.id, &hash_backup_code(&user.id, code))
                .await;
        }
        let Some(stored) = user.totp_secret.as_deref() else {
            return Ok(false);
        };
        let Some(secret) = self
            .config()
            .sealer
            .open(&user.id, stored)
            .as_deref()
            .and_then(totp::decode_secret)
        else {
            tracing::error!(user_id = %user.id, "stored TOTP secret cannot be opened (wrong or missing key)");
            return Ok(false);
        };
        let skew = self.config().two_factor.totp_skew_steps;
        match totp::matching_step(&secret, code, unix, skew) {
            // Claiming the step atomically is what stops a replay, even one sent
            // to another replica at the same moment.
            Some(step) => self.repo().claim_totp_step(&user.id, step).await,
            None => Ok(false),
        }
    }
}
