//! The domain's errors: one variant per answer a client can tell apart.

/// Why a second-factor check failed; the error table renders each with the method
/// in use and the methods the user has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TwoFactorFailure {
    /// `totp` or `password`.
    pub method: String,
    /// The user's enabled methods among `totp` and `email`.
    pub available_methods: Vec<String>,
    /// Set when the method is `email` and no code was given: what was mailed.
    pub email_code: Option<EmailCodeSent>,
}

/// What a check of the `email` method without a code did (Rocket.Chat's
/// `codeGenerated`, `codeCount`, `codeExpires`, `emailOrUsername`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailCodeSent {
    /// A mail with the code was queued now.
    pub generated: bool,
    /// The live code's expiry; `None` when there is no live code (the
    /// recipient's hourly cap was reached).
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    pub username: String,
}

impl EmailCodeSent {
    /// The expiry as Rocket.Chat's JSON dates show it (ISO 8601, UTC, ms).
    pub fn expires_iso(&self) -> Option<String> {
        self.expires_at
            .map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
    }
}

/// The `invalid-params` message for a string holding U+0000, which neither
/// database stores or searches faithfully.
pub const NUL_CHARACTER: &str = "must NOT contain the NUL character";

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum DomainError {
    /// Missing, wrong, revoked or expired credentials.
    #[error("you must be logged in to do this")]
    Unauthenticated,
    /// The caller lacks a permission.
    #[error("user does not have the permissions required for this action")]
    Forbidden,
    #[error("totp required")]
    TwoFactorRequired(TwoFactorFailure),
    #[error("totp invalid")]
    TwoFactorInvalid(TwoFactorFailure),
    #[error("totp maximum failed attempts reached")]
    TwoFactorMaxAttempts(TwoFactorFailure),
    /// Not found, not the caller's, or (admin) not active.
    #[error("session not found")]
    SessionNotFound,
    /// A parameter a hand-written Rocket.Chat route checks itself is absent or
    /// empty (its `error-parameter-required`); carries the parameter's name.
    #[error("{0} is required")]
    ParameterRequired(&'static str),
    /// A missing, extra or mistyped parameter; the text is the validator's message
    /// (`must have required property 'sessionId'`).
    #[error("invalid params: {0}")]
    InvalidParams(String),
    /// `sort` is not a JSON object of 1/-1 values; carries the raw parameter.
    #[error("invalid sort parameter")]
    InvalidSort(String),
    /// `sort` names a key that cannot be sorted on.
    #[error("invalid sort keys")]
    InvalidSortKeys,
    /// Too many requests; carries the window's limit, the seconds until it
    /// resets and that instant in Unix milliseconds (`X-RateLimit-Reset`).
    #[error("too many requests")]
    RateLimited {
        limit: u32,
        retry_after_secs: u64,
        reset_at_ms: i64,
    },
    /// Password login with an unknown user or a wrong password.
    #[error("login failed")]
    LoginFailed,
    #[error("login needs a totp code")]
    LoginTwoFactorRequired(TwoFactorFailure),
    #[error("login totp code invalid")]
    LoginTwoFactorInvalid(TwoFactorFailure),
    /// The right password of a deactivated user (Rocket.Chat's
    /// `error-user-is-not-activated`, said only once the password is verified).
    #[error("user is not activated")]
    UserNotActivated,
    /// A `resume` login with a token that names no live session.
    #[error("resume token logged out")]
    ResumeLoggedOut,
    /// A `resume` login with the token of an expired session.
    #[error("resume token expired")]
    ResumeExpired,
    /// `users.logout` names no user (Rocket.Chat's `error-invalid-user-id`).
    #[error("invalid user id")]
    InvalidUserId,
    #[error("login totp maximum failed attempts reached")]
    LoginTwoFactorMaxAttempts,
    /// Too many failed logins from the client's address (spec section 9).
    #[error("login blocked for this address")]
    LoginBlockedForAddress,
    /// Too many failed logins of this user (spec section 9).
    #[error("login blocked for this user")]
    LoginBlockedForUser,
    /// An internal-API call without the service credential.
    #[error("service credential missing or wrong")]
    ServiceUnauthenticated,
    /// A user (or other non-session record) an internal call names does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A unique value (a username, a token) is taken.
    #[error("{0}")]
    Conflict(String),
    /// The database cannot be reached; carries the cause for the log only.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// Anything else; carries the cause for the log only.
    #[error("internal error: {0}")]
    Internal(String),
}

impl DomainError {
    /// A short stable label, for audit entries and logs.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Unauthenticated | Self::ServiceUnauthenticated => "unauthenticated",
            Self::Forbidden => "forbidden",
            Self::TwoFactorRequired(_) | Self::LoginTwoFactorRequired(_) => "totp-required",
            Self::TwoFactorInvalid(_) | Self::LoginTwoFactorInvalid(_) => "totp-invalid",
            Self::TwoFactorMaxAttempts(_) | Self::LoginTwoFactorMaxAttempts => "totp-max-attempts",
            Self::SessionNotFound | Self::NotFound(_) => "not-found",
            Self::InvalidParams(_)
            | Self::ParameterRequired(_)
            | Self::InvalidSort(_)
            | Self::InvalidSortKeys => "invalid-params",
            Self::RateLimited { .. } => "rate-limited",
            Self::LoginFailed => "login-failed",
            Self::UserNotActivated => "user-not-activated",
            Self::ResumeLoggedOut | Self::ResumeExpired => "resume-refused",
            Self::InvalidUserId => "invalid-user-id",
            Self::LoginBlockedForAddress => "login-blocked-for-ip",
            Self::LoginBlockedForUser => "login-blocked-for-user",
            Self::Conflict(_) => "conflict",
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal",
        }
    }
}

pub type DomainResult<T> = Result<T, DomainError>;
