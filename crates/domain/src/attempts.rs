//! The counters that limit guessing: which attempts they count, and how.

use std::time::Duration;

/// What an attempt counter counts; the stored name is part of its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttemptKind {
    /// Failed password logins from one client address (any user).
    LoginFromAddress,
    /// Failed password logins of one user: from unknown addresses when the
    /// address is empty, else from that one known address.
    LoginOfUser,
    /// Wrong second-factor codes of one user at the endpoints that need 2FA.
    EndpointCode,
    /// Wrong second-factor codes of one user at login.
    LoginCode,
    /// 2FA code mails to one address (the per-recipient cap).
    CodeMail,
}

impl AttemptKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LoginFromAddress => "login-address",
            Self::LoginOfUser => "login-user",
            Self::EndpointCode => "code-endpoint",
            Self::LoginCode => "code-login",
            Self::CodeMail => "code-mail",
        }
    }
}

/// One counter: a kind, the user id or address it counts for, and an
/// address that narrows a per-user count to one address (else empty).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttemptKey {
    pub kind: AttemptKind,
    pub subject: String,
    pub address: String,
}

impl AttemptKey {
    pub fn new(kind: AttemptKind, subject: impl Into<String>) -> Self {
        Self {
            kind,
            subject: subject.into(),
            address: String::new(),
        }
    }

    pub fn at_address(mut self, address: impl Into<String>) -> Self {
        self.address = address.into();
        self
    }
}

/// A counter with its limit: full at `limit` attempts until `window` has
/// passed since the last one, then counting again from one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptCounter {
    pub key: AttemptKey,
    pub limit: u32,
    pub window: Duration,
    /// A count below the limit whose last attempt is this old starts again
    /// too; `None` keeps it until it is cleared (failed logins count since
    /// the last successful one, as Rocket.Chat counts them).
    pub forget_after: Option<Duration>,
}
