//! What the service needs from storage. The store crate implements these for
//! SQLite and PostgreSQL; every method that writes more than one row is atomic.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::{
    AttemptCounter, AttemptKey, AuditEntry, AuditRecord, DomainResult, EventTemplate, ListQuery,
    LoginExtras, MailRepository, NewEvent, Page, Permission, Session, SessionEvent,
    SessionWithUser, TwoFactorTrust, User, UserEmail, UserIdentity,
};

#[async_trait]
pub trait UserRepository: Send + Sync {
    async fn find_user(&self, id: &str) -> DomainResult<Option<User>>;
    async fn find_user_by_username(&self, username: &str) -> DomainResult<Option<User>>;
    async fn list_users(&self) -> DomainResult<Vec<User>>;
    /// Inserts or replaces the user's profile (username, name, roles, active).
    /// Secrets are left alone on update. Fails with `Conflict` on a taken username.
    async fn upsert_user(&self, user: &User) -> DomainResult<()>;
    /// `upsert_user` and the replacement of the user's e-mail addresses, in one
    /// transaction: `Conflict` (and nothing written) when an address, in any
    /// case, is another user's.
    async fn upsert_user_with_emails(&self, user: &User, emails: &[UserEmail]) -> DomainResult<()>;
    /// The user's e-mail addresses, in the order they were given.
    async fn user_emails(&self, user_id: &str) -> DomainResult<Vec<UserEmail>>;
    /// The user holding this address, compared without case (as Meteor's
    /// login by e-mail does).
    async fn find_user_by_email(&self, address: &str) -> DomainResult<Option<User>>;
    /// Enables (Some) or disables (None) TOTP and replaces the backup code hashes.
    async fn set_totp(
        &self,
        user_id: &str,
        secret: Option<&str>,
        backup_code_hashes: &[String],
    ) -> DomainResult<bool>;
    /// Replaces the backup code hashes, all or nothing: of racing
    /// replacements one whole set is left. False if there is no such user.
    async fn replace_backup_codes(&self, user_id: &str, hashes: &[String]) -> DomainResult<bool>;
    /// Records `step` as used if it is newer than the last used one; false means
    /// the code was already used (a replay), also across replicas.
    async fn claim_totp_step(&self, user_id: &str, step: i64) -> DomainResult<bool>;
    /// Deletes the backup code with this hash; false if there was none.
    async fn consume_backup_code(&self, user_id: &str, code_hash: &str) -> DomainResult<bool>;
}

/// The counters that stop guessing (failed logins, wrong 2FA codes), shared by
/// every replica. An attempt reserves its slot before it is evaluated, in one
/// atomic step, so a burst of concurrent attempts evaluates at most the limit.
#[async_trait]
pub trait AttemptRepository: Send + Sync {
    /// Reserves one attempt on every counter, all or none, in one transaction.
    /// A counter is full when it holds `limit` attempts and its last one is
    /// less than `window` old; a full count past its window, or a count past
    /// `forget_after`, starts again from one. Answers the index of the first
    /// full counter, with nothing reserved on any.
    async fn reserve_attempts(
        &self,
        counters: &[AttemptCounter],
        now: DateTime<Utc>,
    ) -> DomainResult<Option<usize>>;
    /// Gives one reserved attempt back on each counter: the attempt turned out
    /// to be no failure (a right password that still needs its code).
    async fn release_attempts(&self, keys: &[AttemptKey]) -> DomainResult<()>;
    /// Forgets these counters, in the order given (give them in the order
    /// `reserve_attempts` takes them); `subject_wide` also forgets every
    /// counter of the same kind and subject, whatever its address.
    async fn clear_attempts(&self, keys: &[AttemptKey], subject_wide: bool) -> DomainResult<()>;
    /// Deletes counters whose last attempt is older than `before`; answers how many.
    async fn prune_attempts(&self, before: DateTime<Utc>) -> DomainResult<u64>;
    /// Whether `user_id` logged in from `address` after `since`.
    async fn is_known_address(
        &self,
        user_id: &str,
        address: &str,
        since: DateTime<Utc>,
    ) -> DomainResult<bool>;
    /// Records a successful login from `address`, keeping the user's `keep`
    /// most recent addresses.
    async fn remember_address(
        &self,
        user_id: &str,
        address: &str,
        at: DateTime<Utc>,
        keep: u32,
    ) -> DomainResult<()>;
}

#[async_trait]
pub trait SessionRepository: Send + Sync {
    /// Stores a session and its `created` event in one transaction.
    async fn insert_session(&self, session: &Session, event: &NewEvent) -> DomainResult<()>;
    /// As `insert_session`, for a password login: only while the owner's
    /// password hash is still the one the login verified, so a login racing
    /// a password change cannot keep a session the change did not see.
    /// False, with nothing written, when the hash has changed. `extras` (the
    /// login alert, the device seen) are written in the same transaction: a
    /// session is never without its alert, nor an alert without its session.
    async fn insert_login_session(
        &self,
        session: &Session,
        event: &NewEvent,
        verified_password_hash: &str,
        extras: &LoginExtras,
    ) -> DomainResult<bool>;
    /// The session owning this token hash and its owner, in one indexed
    /// lookup joined to the user's primary key: the hot path of every request.
    async fn find_login(&self, token_hash: &str) -> DomainResult<Option<(Session, User)>>;
    /// What a token check needs of the session owning this token hash and its
    /// owner, the remember window left out (`two_factor_trust` is `None`):
    /// answered from memory when the store keeps a token cache. `claimed_user_id`
    /// is the caller's; an answer for another owner is never kept.
    async fn find_login_identity(
        &self,
        token_hash: &str,
        claimed_user_id: &str,
    ) -> DomainResult<Option<(Session, UserIdentity)>>;
    async fn find_session(&self, session_id: &str) -> DomainResult<Option<SessionWithUser>>;
    /// [`Self::find_session`] for callers that need no owner: one lookup.
    async fn find_session_without_owner(&self, session_id: &str) -> DomainResult<Option<Session>>;
    async fn list_sessions(&self, query: &ListQuery) -> DomainResult<Page>;
    /// Sessions neither logged out nor expired at `now`.
    async fn count_active_sessions(&self, now: DateTime<Utc>) -> DomainResult<u64>;
    /// Sets logoutAt/logoutBy on an active session and appends the event, in one
    /// transaction. False if the session was already logged out.
    async fn logout_session(
        &self,
        session_id: &str,
        at: DateTime<Utc>,
        by: &str,
        event: &NewEvent,
    ) -> DomainResult<bool>;
    /// Logs out every active session of a user except one, appending
    /// `event` stamped with each, in one transaction; answers the ids. Each
    /// session is ended once, however many of these overlap.
    async fn logout_user_sessions(
        &self,
        user_id: &str,
        except_session_id: Option<&str>,
        at: DateTime<Utc>,
        by: &str,
        event: &EventTemplate,
    ) -> DomainResult<Vec<String>>;
    /// A password change, in one transaction: writes the user's new hash, logs
    /// out every active session of the user but `keep_session_id` (logoutBy the
    /// user, `event` stamped with each) and ends the 2FA remember window of
    /// every session of the user. Answers the ended session ids; `None` (and
    /// nothing written) if there is no such user.
    async fn change_password(
        &self,
        user_id: &str,
        password_hash: &str,
        keep_session_id: Option<&str>,
        at: DateTime<Utc>,
        event: &EventTemplate,
    ) -> DomainResult<Option<Vec<String>>>;
    async fn set_two_factor_trust(
        &self,
        session_id: &str,
        trust: &TwoFactorTrust,
        at: DateTime<Utc>,
    ) -> DomainResult<()>;
    /// Sets lastActivityAt unless it is newer than `stale_before`; true if written.
    async fn touch_activity(
        &self,
        session_id: &str,
        at: DateTime<Utc>,
        stale_before: DateTime<Utc>,
    ) -> DomainResult<bool>;
    /// Sets closedAt and appends the event; false if no such session.
    async fn close_session(
        &self,
        session_id: &str,
        at: DateTime<Utc>,
        event: &NewEvent,
    ) -> DomainResult<bool>;
}

#[async_trait]
pub trait PermissionRepository: Send + Sync {
    async fn find_permission(&self, id: &str) -> DomainResult<Option<Permission>>;
    async fn list_permissions(&self) -> DomainResult<Vec<Permission>>;
    async fn save_permission(&self, permission: &Permission) -> DomainResult<()>;
}

#[async_trait]
pub trait EventRepository: Send + Sync {
    /// Events with a cursor above `after`, oldest first, at most `limit`.
    async fn events_after(&self, after: i64, limit: u64) -> DomainResult<Vec<SessionEvent>>;
    /// Deletes events older than `before`; answers how many.
    async fn prune_events(&self, before: DateTime<Utc>) -> DomainResult<u64>;
}

#[async_trait]
pub trait AuditRepository: Send + Sync {
    async fn append_audit(&self, entry: &AuditEntry) -> DomainResult<()>;
    /// Entries with an id above `after`, oldest first, at most `limit`,
    /// optionally of one actor.
    async fn audit_after(
        &self,
        after: i64,
        actor_id: Option<&str>,
        limit: u64,
    ) -> DomainResult<Vec<AuditRecord>>;
}

/// Everything the service stores, behind one handle.
pub trait Repository:
    UserRepository
    + SessionRepository
    + PermissionRepository
    + EventRepository
    + AuditRepository
    + AttemptRepository
    + MailRepository
{
}

impl<T> Repository for T where
    T: UserRepository
        + SessionRepository
        + PermissionRepository
        + EventRepository
        + AuditRepository
        + AttemptRepository
        + MailRepository
{
}
