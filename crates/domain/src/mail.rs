//! The durable outbox of e-mail (spec section 10): what is queued, how a
//! worker claims it, and what a login records for the `new-device` policy.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::DomainResult;

/// Why a message is sent; decides what is kept of it after sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailKind {
    /// Rocket.Chat's device-management "login detected" mail.
    LoginAlert,
    /// A 2FA code by e-mail: its body is erased once sent.
    TwoFactorCode,
}

impl MailKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LoginAlert => "login-alert",
            Self::TwoFactorCode => "two-factor-code",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Self::LoginAlert, Self::TwoFactorCode]
            .into_iter()
            .find(|kind| kind.as_str() == value)
    }
}

/// One message, composed when it is queued: sending only transports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundMail {
    pub id: String,
    /// `<…@…>`, the same on every attempt: a resend after a crash is
    /// recognisable as the same message.
    pub message_id: String,
    pub kind: MailKind,
    pub to_address: String,
    /// Display name; header-safe (no CR/LF) by construction.
    pub to_name: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    pub created_at: DateTime<Utc>,
}

/// A message a worker claimed, with the attempts made so far (this one
/// included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedMail {
    pub mail: OutboundMail,
    pub attempts: u32,
}

/// The device and address of a login, as the `new-device` policy compares
/// them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginDevice {
    /// Browser and OS names (a version bump is the same device).
    pub device_key: String,
    /// The client address, IPv6 by /64.
    pub address: String,
}

/// What a password login writes beside its session, in the same transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoginExtras {
    /// The login alert to queue.
    pub mail: Option<OutboundMail>,
    /// The device to remember as seen.
    pub device: Option<LoginDevice>,
}

/// How many messages wait, for the queue-depth gauge.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxDepth {
    pub queued: u64,
    pub failed: u64,
}

/// A user's live mailed 2FA code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailCode {
    /// Salted by the user, as backup codes are.
    pub hash: String,
    /// The code sealed for the user: a re-send mails the same code.
    pub sealed: String,
    pub expires_at: DateTime<Utc>,
    pub sent_at: DateTime<Utc>,
}

#[async_trait]
pub trait MailRepository: Send + Sync {
    /// Queues a message on its own (a login alert rides with its session).
    async fn enqueue_mail(&self, mail: &OutboundMail) -> DomainResult<()>;
    /// Claims up to `limit` due messages for `lease`: no other worker, on any
    /// replica, takes them until the lease ends unanswered (a crashed worker).
    async fn claim_mail(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u64,
    ) -> DomainResult<Vec<ClaimedMail>>;
    /// The SMTP server accepted it; a code's body is erased. Recorded only
    /// while `claim` (the message's attempts when claimed) is still the
    /// current claim: a worker whose lease ran out changes nothing.
    async fn mail_sent(&self, claim: &ClaimedMail, now: DateTime<Utc>) -> DomainResult<()>;
    /// It was not accepted: tried again at `retry_at`, or given up at `now`
    /// when `None` (a code's body is erased then too); only under `claim`.
    async fn mail_not_sent(
        &self,
        claim: &ClaimedMail,
        now: DateTime<Utc>,
        retry_at: Option<DateTime<Utc>>,
        error: &str,
    ) -> DomainResult<()>;
    async fn outbox_depth(&self) -> DomainResult<OutboxDepth>;
    /// Deletes mail sent or given up before `done_before` (it holds names and
    /// addresses) and devices last seen before `seen_before`; answers how
    /// many rows went.
    async fn prune_mail(
        &self,
        done_before: DateTime<Utc>,
        seen_before: DateTime<Utc>,
    ) -> DomainResult<u64>;
    /// Whether the user logged in with this device from this address since
    /// `since`.
    async fn is_known_device(
        &self,
        user_id: &str,
        device: &LoginDevice,
        since: DateTime<Utc>,
    ) -> DomainResult<bool>;
    /// The user's choice about login alerts (`receiveLoginDetectionEmail`);
    /// `None` when never set.
    async fn login_email_preference(&self, user_id: &str) -> DomainResult<Option<bool>>;
    async fn set_login_email_preference(&self, user_id: &str, receive: bool) -> DomainResult<bool>;
    /// Whether the user turned e-mail 2FA on (`services.email2fa.enabled`).
    async fn email_two_factor_enabled(&self, user_id: &str) -> DomainResult<bool>;
    /// Turns e-mail 2FA on or off; `false` when the user does not exist.
    async fn set_email_two_factor(&self, user_id: &str, enabled: bool) -> DomainResult<bool>;
    /// The user's code, live or expired; `None` when there is none.
    async fn email_code(&self, user_id: &str) -> DomainResult<Option<EmailCode>>;
    /// Stores `code` and queues `mail` in one transaction, only while the
    /// stored code is still `replaced` (its expiry; `None`: no code): of
    /// concurrent requests one wins, so one code is ever live.
    async fn issue_email_code(
        &self,
        user_id: &str,
        code: &EmailCode,
        replaced: Option<DateTime<Utc>>,
        mail: &OutboundMail,
    ) -> DomainResult<bool>;
    /// Marks the live code mailed at `now` and queues `mail`, only while it
    /// was last mailed at `last_sent` (the same compare-and-set).
    async fn resend_email_code(
        &self,
        user_id: &str,
        last_sent: DateTime<Utc>,
        now: DateTime<Utc>,
        mail: &OutboundMail,
    ) -> DomainResult<bool>;
    /// Uses the code up when `hash` is the live code's: once, atomically.
    async fn consume_email_code(
        &self,
        user_id: &str,
        hash: &str,
        now: DateTime<Utc>,
    ) -> DomainResult<bool>;
}
