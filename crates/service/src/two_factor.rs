//! Second-factor checks (spec section 5): TOTP with replay protection, backup
//! codes, mailed codes, the password fallback, the attempt limit and the
//! remember window.

use chrono::Duration;
use sessions_domain::{
    AttemptCounter, AttemptKey, AttemptKind, DomainError, DomainResult, EmailCode, EmailCodeSent,
    MailKind, OutboundMail, TwoFactorFailure, TwoFactorTrust, User,
};

use crate::{
    AuthContext, Caller, SessionService,
    mail::{header_safe, message_id_domain},
    password_work,
    secrets::hash_backup_code,
    totp,
};

/// The method a check uses for a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Totp,
    Email,
    Password,
}

impl Method {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Totp => "totp",
            Self::Email => "email",
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
        // The token check's answer holds neither secrets nor the remember
        // window: read them, as they are now.
        let (session, user) = self
            .repo()
            .find_login(&ctx.session.login_token_hash)
            .await?
            .filter(|(session, _)| session.session_id == ctx.session.session_id)
            .ok_or(DomainError::Unauthenticated)?;
        if remember
            && let Some(trust) = &session.two_factor_trust
            && trust.until > now
            && trust.ip == caller.client.ip
            && trust.user_agent == caller.client.user_agent
        {
            return Ok(());
        }
        let enabled = self.enabled_methods(&user).await?;
        let available_methods = available(&enabled);
        let Some(method) = method_for(&enabled, caller.two_factor_method.as_deref()) else {
            // Rocket.Chat lets users without any method through; we do not.
            return Err(DomainError::TwoFactorRequired(TwoFactorFailure {
                method: "totp".to_owned(),
                available_methods,
                email_code: None,
            }));
        };
        let failure = TwoFactorFailure {
            method: method.name().to_owned(),
            available_methods,
            email_code: None,
        };
        let Some(code) = caller
            .two_factor_code
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
        else {
            let email_code = match method {
                Method::Email => Some(self.mail_email_code(&user).await?),
                _ => None,
            };
            return Err(DomainError::TwoFactorRequired(TwoFactorFailure {
                email_code,
                ..failure
            }));
        };
        match self
            .check_code(&user, method, code, AttemptKind::EndpointCode)
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

    /// Checks a code at login (TOTP or backup code, or a mailed one); the
    /// remember window stays closed.
    pub(crate) async fn check_login_code(
        &self,
        user: &User,
        method: Method,
        code: &str,
    ) -> DomainResult<CodeCheck> {
        self.check_code(user, method, code, AttemptKind::LoginCode)
            .await
    }

    /// The second factor a login asks for: TOTP when the user has it (as
    /// Rocket.Chat), else a mailed code; `None` when neither is on.
    pub(crate) async fn login_method(
        &self,
        user: &User,
    ) -> DomainResult<Option<(Method, Vec<String>)>> {
        let enabled = self.enabled_methods(user).await?;
        let available_methods = available(&enabled);
        Ok(enabled
            .into_iter()
            .find(|m| *m != Method::Password)
            .map(|m| (m, available_methods)))
    }

    /// The address a code would be mailed to: the first verified one, while
    /// mail is configured and the user turned e-mail 2FA on.
    async fn email_code_address(&self, user: &User) -> DomainResult<Option<String>> {
        if !self.config().mail.enabled || !self.repo().email_two_factor_enabled(&user.id).await? {
            return Ok(None);
        }
        Ok(self
            .repo()
            .user_emails(&user.id)
            .await?
            .into_iter()
            .find(|e| e.verified)
            .map(|e| e.address))
    }

    async fn enabled_methods(&self, user: &User) -> DomainResult<Vec<Method>> {
        let mut enabled = Vec::with_capacity(2);
        if user.totp_secret.is_some() {
            enabled.push(Method::Totp);
        }
        if self.email_code_address(user).await?.is_some() {
            enabled.push(Method::Email);
        }
        if enabled.is_empty()
            && self.config().two_factor.password_fallback
            && user.password_hash.is_some()
        {
            enabled.push(Method::Password);
        }
        Ok(enabled)
    }

    /// Mails the user's live code, or a fresh one when none is live (spec
    /// section 5): one live code per user; the same code again only after
    /// the cooldown; at most `email_code_mails_per_hour` per address. Every
    /// refusal is silent: the answer only says whether a mail was queued.
    pub(crate) async fn mail_email_code(&self, user: &User) -> DomainResult<EmailCodeSent> {
        let now = self.now();
        let limits = &self.config().two_factor;
        let mut sent = EmailCodeSent {
            generated: false,
            expires_at: None,
            username: user.username.clone(),
        };
        let Some(address) = self.email_code_address(user).await? else {
            return Ok(sent);
        };
        let existing = self.repo().email_code(&user.id).await?;
        if let Some(live) = existing.as_ref().filter(|c| c.expires_at > now) {
            sent.expires_at = Some(live.expires_at);
            if now - live.sent_at < chrono_of(limits.email_code_resend_after)
                || !self.reserve_code_mail(&address).await?
            {
                return Ok(sent);
            }
            let Some(code) = self.config().sealer.open(&user.id, &live.sealed) else {
                tracing::error!(user_id = %user.id, "stored e-mail code cannot be opened (wrong or missing key)");
                return Ok(sent);
            };
            let mail = self.code_mail(user, &address, &code);
            sent.generated = self
                .repo()
                .resend_email_code(&user.id, live.sent_at, now, &mail)
                .await?;
            return Ok(sent);
        }
        if !self.reserve_code_mail(&address).await? {
            return Ok(sent);
        }
        let code = format!("{:06}", rand::random_range(0..1_000_000u32));
        let sealed = self
            .config()
            .sealer
            .seal(&user.id, &code)
            .map_err(DomainError::Internal)?;
        let stored = EmailCode {
            hash: hash_backup_code(&user.id, &code),
            sealed,
            expires_at: now + chrono_of(limits.email_code_lifetime),
            sent_at: now,
        };
        let mail = self.code_mail(user, &address, &code);
        let replaced = existing.map(|c| c.expires_at);
        if self
            .repo()
            .issue_email_code(&user.id, &stored, replaced, &mail)
            .await?
        {
            sent.generated = true;
            sent.expires_at = Some(stored.expires_at);
        } else if let Some(winner) = self.repo().email_code(&user.id).await? {
            // A concurrent request issued the one live code first.
            sent.expires_at = Some(winner.expires_at);
        }
        Ok(sent)
    }

    /// Counts one code mail to `address`; `false` when its hourly cap is full.
    async fn reserve_code_mail(&self, address: &str) -> DomainResult<bool> {
        let hour = std::time::Duration::from_secs(3600);
        let counter = AttemptCounter {
            key: AttemptKey::new(AttemptKind::CodeMail, address.to_lowercase()),
            limit: self.config().two_factor.email_code_mails_per_hour,
            window: hour,
            forget_after: Some(hour),
        };
        let full = self
            .repo()
            .reserve_attempts(&[counter], self.now())
            .await?
            .is_some();
        if full {
            metrics::counter!("sessions_two_factor_code_mails_capped_total").increment(1);
        }
        Ok(!full)
    }

    fn code_mail(&self, user: &User, address: &str, code: &str) -> OutboundMail {
        let config = &self.config().mail;
        let id = uuid::Uuid::new_v4().simple().to_string();
        let expires_in = whole_minutes(self.config().two_factor.email_code_lifetime);
        let text_body = format!(
            "Here is your authentication code:\n\n{code}\n\nIt expires in {expires_in}. \
             Do not provide this code to anyone.\nIf you did not try to log in to your \
             account, please ignore this e-mail."
        );
        let html_body = format!(
            "<p>Here is your authentication code:</p><h2>{code}</h2><p>It expires in {expires_in}. \
             Do not provide this code to anyone.</p><p>If you did not try to log in \
             to your account, please ignore this e-mail.</p>"
        );
        OutboundMail {
            message_id: format!("<{id}@{}>", message_id_domain(&config.from)),
            id,
            kind: MailKind::TwoFactorCode,
            to_address: address.to_owned(),
            to_name: header_safe(&user.name),
            subject: header_safe(&format!("[{}] Authentication code", config.site_name)),
            text_body,
            html_body,
            created_at: self.now(),
        }
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
            Method::Email => {
                self.repo()
                    .consume_email_code(&user.id, &hash_backup_code(&user.id, code), now)
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

/// The method a check uses: the one `x-2fa-method` names when the user has it
/// enabled, else the user's first enabled one (Rocket.Chat's
/// `getMethodByNameOrFirstActiveForUser`). The password fallback is enabled
/// only for users without any other method.
fn method_for(enabled: &[Method], requested: Option<&str>) -> Option<Method> {
    requested
        .and_then(|name| enabled.iter().find(|m| m.name() == name.trim()))
        .or_else(|| enabled.first())
        .copied()
}

/// `availableMethods`: the enabled methods but the password fallback.
fn available(enabled: &[Method]) -> Vec<String> {
    enabled
        .iter()
        .filter(|m| **m != Method::Password)
        .map(|m| m.name().to_owned())
        .collect()
}

fn chrono_of(duration: std::time::Duration) -> Duration {
    Duration::from_std(duration).unwrap_or_else(|_| Duration::zero())
}

/// A code's lifetime as the mail says it: whole minutes, rounded down (a
/// user told it lasts less is never surprised; configuration keeps it at one
/// minute or more).
fn whole_minutes(lifetime: std::time::Duration) -> String {
    match (lifetime.as_secs() / 60).max(1) {
        1 => "1 minute".to_owned(),
        n => format!("{n} minutes"),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::whole_minutes;

    #[test]
    fn a_lifetime_is_said_in_whole_minutes() {
        assert_eq!(whole_minutes(Duration::from_secs(60)), "1 minute");
        assert_eq!(whole_minutes(Duration::from_secs(119)), "1 minute");
        assert_eq!(whole_minutes(Duration::from_secs(600)), "10 minutes");
    }
}
