//! What each endpoint's request carries, as its transport decoded it: typed
//! parameters, or the first problem the parameter step reports.

use sessions_domain::DomainError;

/// Typed parameters, or the `invalid-params` error decoding them gave.
pub type Params<P> = Result<P, DomainError>;

/// A session named by `sessionId`; present but empty, it names no session
/// (404, as Rocket.Chat: its schema lets it through).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRef {
    pub session_id: String,
}

/// Who a password login names (spec section 9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginName {
    Username(String),
    Email(String),
}

/// The password of a login, as sent.
#[derive(Clone, PartialEq, Eq)]
pub enum LoginSecret {
    Password(String),
    /// The Meteor client's form: the password's hex SHA-256.
    Digest(String),
}

/// One login (`POST /api/v1/login`), in one of the forms Rocket.Chat takes.
#[derive(Clone, PartialEq, Eq)]
pub enum LoginParams {
    Password {
        /// `None`: the body names nobody; the login fails like a wrong user.
        name: Option<LoginName>,
        secret: LoginSecret,
        /// TOTP or backup code, for users with TOTP enabled.
        code: Option<String>,
    },
    /// A login token presented again (Meteor's `resume` login).
    Resume { token: String },
}

impl Default for LoginParams {
    fn default() -> Self {
        Self::Password {
            name: None,
            secret: LoginSecret::Password(String::new()),
            code: None,
        }
    }
}

// Never print a password, digest, token or code.
impl std::fmt::Debug for LoginParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Password { name, .. } => f
                .debug_struct("LoginParams::Password")
                .field("name", name)
                .finish_non_exhaustive(),
            Self::Resume { .. } => f
                .debug_struct("LoginParams::Resume")
                .finish_non_exhaustive(),
        }
    }
}

/// An endpoint without parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NoParams;

/// What the audit log records as an action's target.
pub(crate) trait AuditTarget {
    fn audit_target(&self) -> String;
}

impl AuditTarget for SessionRef {
    fn audit_target(&self) -> String {
        self.session_id.clone()
    }
}

impl AuditTarget for LoginParams {
    fn audit_target(&self) -> String {
        String::new()
    }
}

impl AuditTarget for NoParams {
    fn audit_target(&self) -> String {
        String::new()
    }
}

/// `must have required property 'sessionId'`, Rocket.Chat's (ajv's) wording.
pub fn missing(property: &str) -> DomainError {
    DomainError::InvalidParams(format!("must have required property '{property}'"))
}
