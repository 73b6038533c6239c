//! Domain records into proto messages (`From`-style helpers kept at the edge).

use sessions_domain::{
    AuditRecord, Device, EventKind, ListedSession, Permission, Session, SessionEvent,
    SessionWithUser, User, UserEmail, UserIdentity, UserSummary, format_timestamp,
};
use sessions_proto::v1 as pb;
use sessions_service::MeView;

pub(crate) fn device(device: &Device) -> pb::Device {
    owned_device(device.clone())
}

/// [`device`] of a device the caller no longer needs: its strings move.
fn owned_device(device: Device) -> pb::Device {
    let os_version = device
        .stored_os_version()
        .is_some()
        .then_some(device.os_version);
    pb::Device {
        r#type: device.kind,
        name: device.name,
        long_version: device.long_version,
        os: Some(pb::OperatingSystem {
            name: device.os_name,
            version: os_version,
        }),
        version: device.version,
    }
}

pub(crate) fn session(session: &Session) -> pb::Session {
    pb::Session {
        id: session.id.clone(),
        r#type: "session".to_owned(),
        session_id: session.session_id.clone(),
        instance_id: session.instance_id.clone(),
        login_token: session.login_token_hash.clone(),
        ip: session.ip.clone(),
        host: session.host.clone(),
        device: Some(device(&session.device)),
        user_id: session.user_id.clone(),
        roles: session.roles.clone(),
        most_important_role: session.most_important_role.clone(),
        login_at: format_timestamp(session.login_at),
        day: session.day() as i32,
        month: session.month() as i32,
        year: session.year(),
        search_term: session.search_term.clone(),
        created_at: format_timestamp(session.created_at),
        updated_at: format_timestamp(session.updated_at),
        closed_at: session.closed_at.map(format_timestamp),
        last_activity_at: session.last_activity_at.map(format_timestamp),
        logout_at: session.logout_at.map(format_timestamp),
        logout_by: session.logout_by.clone(),
        success: true,
    }
}

fn session_user(user: &UserSummary) -> pb::SessionUser {
    owned_session_user(user.clone())
}

fn owned_session_user(user: UserSummary) -> pb::SessionUser {
    pb::SessionUser {
        name: user.name,
        username: user.username,
    }
}

/// A listing row; `_user` only in admin listings, `current` only on the row
/// of `caller_session_id`. Takes the row: a page moves up to 100 of them.
pub(crate) fn summary(
    listed: ListedSession,
    with_user: bool,
    caller_session_id: &str,
) -> pb::SessionSummary {
    let current = (listed.session_id == caller_session_id).then_some(true);
    pb::SessionSummary {
        id: listed.session_id.clone(),
        session_id: listed.session_id,
        user_id: listed.user_id,
        device: Some(owned_device(listed.device)),
        host: listed.host,
        ip: listed.ip,
        login_at: format_timestamp(listed.login_at),
        user: with_user.then(|| owned_session_user(listed.user)),
        last_activity_at: listed.last_activity_at.map(format_timestamp),
        current,
    }
}

pub(crate) fn admin_session(found: &SessionWithUser) -> pb::AdminSession {
    let s = &found.session;
    pb::AdminSession {
        id: s.session_id.clone(),
        session_id: s.session_id.clone(),
        user_id: s.user_id.clone(),
        device: Some(device(&s.device)),
        host: s.host.clone(),
        ip: s.ip.clone(),
        login_at: format_timestamp(s.login_at),
        user: Some(session_user(&found.user)),
        success: true,
    }
}

pub(crate) fn user(user: &User, emails: &[UserEmail]) -> pb::User {
    pb::User {
        emails: emails.iter().map(email).collect(),
        ..identity(&UserIdentity::from(user))
    }
}

/// A user as a token check knows it, without e-mail addresses.
pub(crate) fn identity(user: &UserIdentity) -> pb::User {
    pb::User {
        id: user.id.clone(),
        username: user.username.clone(),
        name: user.name.clone(),
        roles: user.roles.clone(),
        active: user.active,
        has_password: user.has_password,
        totp_enabled: user.totp_enabled,
        created_at: format_timestamp(user.created_at),
        emails: Vec::new(),
    }
}

pub(crate) fn email(email: &UserEmail) -> pb::UserEmail {
    pb::UserEmail {
        address: email.address.clone(),
        verified: email.verified,
    }
}

/// Rocket.Chat's `getUserInfo` for the fields this service holds; `success`
/// is set by `GET me` only.
pub(crate) fn me(view: MeView, success: Option<bool>) -> pb::Me {
    let MeView {
        user,
        emails,
        avatar_url,
        email_two_factor,
    } = view;
    let enabled = |on: bool| on.then_some(pb::MeEnabled { enabled: true });
    pb::Me {
        email: emails
            .iter()
            .find(|e| e.verified)
            .map(|e| e.address.clone()),
        emails: emails.iter().map(email).collect(),
        status: "offline".to_owned(),
        status_connection: "offline".to_owned(),
        active: user.active,
        settings: Some(pb::MeSettings {
            profile: Some(pb::MeProfile {}),
            preferences: Some(pb::MePreferences {}),
            calendar: Some(pb::MeCalendar {}),
        }),
        avatar_url,
        is_o_auth_user: false,
        services: Some(pb::MeServices {
            password: Some(pb::MePassword {
                exists: user.password_hash.is_some(),
            }),
            totp: enabled(user.totp_secret.is_some()),
            email2fa: enabled(email_two_factor),
        }),
        success,
        id: user.id,
        username: user.username,
        name: user.name,
        roles: user.roles,
    }
}

pub(crate) fn permission(permission: Permission) -> pb::Permission {
    pb::Permission {
        id: permission.id,
        roles: permission.roles,
    }
}

pub(crate) fn event(stored: &SessionEvent) -> pb::SessionEvent {
    let kind = match stored.event.kind {
        EventKind::Created => pb::SessionEventKind::Created,
        EventKind::ActivityClosed => pb::SessionEventKind::ActivityClosed,
        EventKind::LoggedOut => pb::SessionEventKind::LoggedOut,
        EventKind::ForceLogout => pb::SessionEventKind::ForceLogout,
    };
    pb::SessionEvent {
        cursor: stored.cursor,
        kind: kind as i32,
        session_id: stored.event.session_id.clone(),
        user_id: stored.event.user_id.clone(),
        at: format_timestamp(stored.event.at),
        by: stored.event.by.clone().unwrap_or_default(),
        instance_id: stored.event.instance_id.clone(),
    }
}

pub(crate) fn audit(record: &AuditRecord) -> pb::AuditEvent {
    let e = &record.entry;
    pb::AuditEvent {
        id: record.id,
        at: format_timestamp(e.at),
        actor_id: e.actor_id.clone(),
        action: e.action.clone(),
        target: e.target.clone(),
        ip: e.ip.clone(),
        user_agent: e.user_agent.clone(),
        outcome: e.outcome.clone(),
    }
}
