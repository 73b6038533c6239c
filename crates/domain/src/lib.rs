//! Domain types, errors and repository traits of the session service; no transport
//! or storage crate appears here.

mod attempts;
mod clock;
mod error;
mod mail;
mod model;
mod repository;

pub use attempts::{AttemptCounter, AttemptKey, AttemptKind};
pub use clock::{Clock, SystemClock, format_timestamp};
pub use error::{DomainError, DomainResult, EmailCodeSent, NUL_CHARACTER, TwoFactorFailure};
pub use mail::{
    ClaimedMail, EmailCode, LoginDevice, LoginExtras, MailKind, MailRepository, OutboundMail,
    OutboxDepth,
};
pub use model::{
    AuditEntry, AuditRecord, Device, EventKind, EventTemplate, ListQuery, ListScope, ListedSession,
    NewEvent, Page, Permission, Session, SessionEvent, SessionWithUser, SortDirection, SortKey,
    TwoFactorTrust, User, UserEmail, UserIdentity, UserSummary,
};
pub use repository::{
    AttemptRepository, AuditRepository, EventRepository, PermissionRepository, Repository,
    SessionRepository, UserRepository,
};
