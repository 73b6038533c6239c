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

/// A password login (`POST /api/v1/login`).
#[derive(Clone, Default)]
pub struct LoginParams {
    pub username: String,
    pub password: String,
    /// TOTP or backup code, for users with TOTP enabled.
    pub code: Option<String>,
}

// Never print the password or the code.
impl std::fmt::Debug for LoginParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginParams")
            .field("username", &self.username)
            .finish_non_exhaustive()
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
