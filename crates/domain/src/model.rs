//! The records the service owns: users, sessions, permissions and session events.

use chrono::{DateTime, Datelike, Utc};

/// An account known to the service. Secrets are hashes; the TOTP secret is only
/// ever handled by the 2FA use case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub username: String,
    pub name: String,
    pub roles: Vec<String>,
    pub active: bool,
    /// Argon2 PHC string of the lowercase hex SHA-256 of the password (the
    /// Meteor scheme, so the 2FA password fallback can verify its code).
    pub password_hash: Option<String>,
    /// Base32 TOTP secret, when TOTP is enabled.
    pub totp_secret: Option<String>,
    /// The last TOTP time step accepted; a code of this step or older is a replay.
    pub totp_last_step: Option<i64>,
    pub created_at: DateTime<Utc>,
}

/// What a token check knows of a user: who they are and what they may do,
/// never a secret. Token checks answer from it (and may keep it in memory);
/// a use case that needs the password hash or the TOTP secret reads the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserIdentity {
    pub id: String,
    pub username: String,
    pub name: String,
    pub roles: Vec<String>,
    pub active: bool,
    pub has_password: bool,
    pub totp_enabled: bool,
    pub created_at: DateTime<Utc>,
}

impl From<&User> for UserIdentity {
    fn from(user: &User) -> Self {
        Self {
            id: user.id.clone(),
            username: user.username.clone(),
            name: user.name.clone(),
            roles: user.roles.clone(),
            active: user.active,
            has_password: user.password_hash.is_some(),
            totp_enabled: user.totp_secret.is_some(),
            created_at: user.created_at,
        }
    }
}

/// One of a user's e-mail addresses (Rocket.Chat's `emails` entries).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserEmail {
    pub address: String,
    pub verified: bool,
}

/// Name and username of a session's owner, as admin listings show them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserSummary {
    pub name: String,
    pub username: String,
}

/// What a User-Agent says about the client.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Device {
    pub kind: String,
    pub name: String,
    pub long_version: String,
    pub os_name: String,
    pub os_version: String,
    pub version: String,
}

impl Device {
    /// `os.version` as Rocket.Chat stores it: a named OS loses an empty version
    /// (`removeEmptyProps` in its SAUMonitor), while the unnamed default keeps
    /// `version: ""`. The rule decides absence alone, so no column stores it.
    pub fn stored_os_version(&self) -> Option<&str> {
        if !self.os_name.is_empty() && self.os_version.is_empty() {
            None
        } else {
            Some(&self.os_version)
        }
    }
}

/// Where a session's 2FA check was last passed, and until when it is trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TwoFactorTrust {
    pub until: DateTime<Utc>,
    pub ip: String,
    pub user_agent: String,
}

/// One login of one user on one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// 24 lowercase hex characters.
    pub id: String,
    /// 17 characters of the Meteor id alphabet.
    pub session_id: String,
    pub instance_id: String,
    /// base64(sha256(token)).
    pub login_token_hash: String,
    pub ip: String,
    pub host: String,
    pub device: Device,
    pub user_id: String,
    pub roles: Vec<String>,
    pub most_important_role: String,
    pub login_at: DateTime<Utc>,
    pub search_term: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_activity_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub logout_at: Option<DateTime<Utc>>,
    pub logout_by: Option<String>,
    /// The login token stops working at this instant.
    pub expires_at: DateTime<Utc>,
    pub two_factor_trust: Option<TwoFactorTrust>,
}

impl Session {
    /// The text a listing's filter searches besides the owner: device name,
    /// kind and OS, session id and user id, run together as Rocket.Chat
    /// writes its `searchTerm`. Every writer of sessions uses this one formula.
    pub fn search_term_for(device: &Device, session_id: &str, user_id: &str) -> String {
        [
            device.name.as_str(),
            &device.kind,
            &device.os_name,
            session_id,
            user_id,
        ]
        .concat()
    }

    /// Neither logged out nor expired.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.logout_at.is_none() && self.expires_at > now
    }

    pub fn day(&self) -> u32 {
        self.login_at.day()
    }

    pub fn month(&self) -> u32 {
        self.login_at.month()
    }

    pub fn year(&self) -> i32 {
        self.login_at.year()
    }
}

/// A session with its owner, for admin answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionWithUser {
    pub session: Session,
    pub user: UserSummary,
}

/// Roles holding a permission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permission {
    pub id: String,
    pub roles: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortDirection {
    Ascending,
    Descending,
}

/// The columns a listing may be sorted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    LoginAt,
    DeviceName,
    DeviceOsName,
    DeviceOsVersion,
    UserName,
    UserUsername,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListScope {
    /// The active sessions of one user.
    User(String),
    /// Every user's active sessions; the filter also matches the owner's
    /// username and name.
    All,
}

/// A validated listing request; the store applies it as one query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    pub scope: ListScope,
    /// Literal, already lowercased substring.
    pub filter: Option<String>,
    /// Applied in order; `sessionId` ascending always breaks the remaining ties.
    pub sort: Vec<(SortKey, SortDirection)>,
    pub offset: u64,
    pub count: u64,
    /// Sessions expiring at or before this instant are not active.
    pub now: DateTime<Utc>,
}

/// What a listing (`sessions/list`, `list.all`) shows of one session: the
/// store reads only these columns, since a page is up to 100 of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedSession {
    pub session_id: String,
    pub user_id: String,
    pub device: Device,
    pub host: String,
    pub ip: String,
    pub login_at: DateTime<Utc>,
    pub last_activity_at: Option<DateTime<Utc>>,
    pub user: UserSummary,
}

/// One page of a listing and the exact number of matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub sessions: Vec<ListedSession>,
    pub total: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Created,
    ActivityClosed,
    LoggedOut,
    ForceLogout,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::ActivityClosed => "activity-closed",
            Self::LoggedOut => "logged-out",
            Self::ForceLogout => "force-logout",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [
            Self::Created,
            Self::ActivityClosed,
            Self::LoggedOut,
            Self::ForceLogout,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == value)
    }
}

/// An event to append; the store assigns its cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub kind: EventKind,
    pub session_id: String,
    pub user_id: String,
    pub at: DateTime<Utc>,
    pub by: Option<String>,
    pub instance_id: String,
}

/// An event of a change the store applies to many sessions at once (a mass
/// logout, a password change): the service decides everything in it, the
/// store stamps each session the change ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventTemplate {
    pub kind: EventKind,
    pub user_id: String,
    pub at: DateTime<Utc>,
    pub by: Option<String>,
    pub instance_id: String,
}

impl EventTemplate {
    /// This template's event for one session.
    pub fn for_session(&self, session_id: &str) -> NewEvent {
        NewEvent {
            kind: self.kind,
            session_id: session_id.to_owned(),
            user_id: self.user_id.clone(),
            at: self.at,
            by: self.by.clone(),
            instance_id: self.instance_id.clone(),
        }
    }
}

/// A stored event with its cursor, strictly increasing across replicas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionEvent {
    pub cursor: i64,
    pub event: NewEvent,
}

/// One admin action: who did what to which record, when, from where, and how
/// it ended (`ok` or the error type).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub at: DateTime<Utc>,
    pub actor_id: String,
    /// `sessions.info.admin`, `sessions.list.all`, `sessions.logout`.
    pub action: String,
    /// The session id acted on, or the listing's filter.
    pub target: String,
    pub ip: String,
    pub user_agent: String,
    pub outcome: String,
}

/// A stored audit entry with its id, increasing in time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub id: i64,
    pub entry: AuditEntry,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_term_runs_device_session_and_user_together() {
        let device = Device {
            kind: "browser".to_owned(),
            name: "Chrome".to_owned(),
            os_name: "Windows".to_owned(),
            ..Device::default()
        };
        assert_eq!(
            Session::search_term_for(&device, "Sess1", "User1"),
            "ChromebrowserWindowsSess1User1"
        );
    }
}
