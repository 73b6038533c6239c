//! Conversions between table rows and domain records, and DbErr to DomainError.

use chrono::{DateTime, Utc};
use sea_orm::{DbErr, RuntimeErr, SqlErr, sqlx};
use sessions_domain::{Device, DomainError, NUL_CHARACTER, Session, TwoFactorTrust, User};

use crate::entities::{sessions, users};

/// Storage errors become domain errors here and nowhere else: a database that
/// cannot be reached is `Unavailable` (503), a taken unique value `Conflict`.
pub fn map_db_error(err: DbErr) -> DomainError {
    if let Some(SqlErr::UniqueConstraintViolation(detail)) = err.sql_err() {
        return DomainError::Conflict(detail);
    }
    // 22021: PostgreSQL refuses U+0000 in text; the caller sent it.
    if let DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) = &err
        && let sqlx::Error::Database(db) = e.as_ref()
        && db.code().as_deref() == Some("22021")
    {
        return DomainError::InvalidParams(NUL_CHARACTER.to_owned());
    }
    let unavailable = match &err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            is_connection_error(e)
        }
        _ => false,
    };
    if unavailable {
        DomainError::Unavailable(err.to_string())
    } else {
        DomainError::Internal(err.to_string())
    }
}

fn is_connection_error(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        // SQLSTATE classes of a database that cannot serve us right now: 08
        // connection exception, 28 authorization, 3D the database is gone, 53
        // insufficient resources, 55 not accepting connections / lock not
        // available, 57 operator intervention (shutting down).
        // SQLite's SQLITE_BUSY (5) and SQLITE_LOCKED (6), extended codes
        // included: another process holds the file past the busy timeout.
        sqlx::Error::Database(db)
            if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() =>
        {
            db.code()
                .and_then(|code| code.parse::<i32>().ok())
                .is_some_and(|code| matches!(code & 0xff, 5 | 6))
        }
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            ["08", "28", "3D", "53", "55", "57"]
                .iter()
                .any(|class| code.starts_with(class))
        }),
        _ => false,
    }
}

pub(crate) fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

pub(crate) fn instant(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

pub(crate) fn roles_to_json(roles: &[String]) -> String {
    serde_json::to_string(roles).unwrap_or_else(|_| "[]".to_owned())
}

pub(crate) fn roles_from_json(json: &str) -> Vec<String> {
    serde_json::from_str(json).unwrap_or_default()
}

pub(crate) fn user_from_row(row: users::Model) -> User {
    User {
        id: row.id,
        username: row.username,
        name: row.name,
        roles: roles_from_json(&row.roles),
        active: row.active,
        password_hash: row.password_hash,
        totp_secret: row.totp_secret,
        totp_last_step: row.totp_last_step,
        created_at: instant(row.created_at),
    }
}

pub(crate) fn user_to_row(user: &User) -> users::Model {
    users::Model {
        id: user.id.clone(),
        username: user.username.clone(),
        name: user.name.clone(),
        roles: roles_to_json(&user.roles),
        active: user.active,
        password_hash: user.password_hash.clone(),
        totp_secret: user.totp_secret.clone(),
        totp_last_step: user.totp_last_step,
        created_at: millis(user.created_at),
    }
}

pub(crate) fn session_from_row(row: sessions::Model) -> Session {
    let two_factor_trust = match (
        row.tfa_trusted_until,
        row.tfa_trusted_ip,
        row.tfa_trusted_ua,
    ) {
        (Some(until), Some(ip), Some(user_agent)) => Some(TwoFactorTrust {
            until: instant(until),
            ip,
            user_agent,
        }),
        _ => None,
    };
    Session {
        id: row.id,
        session_id: row.session_id,
        instance_id: row.instance_id,
        login_token_hash: row.login_token_hash,
        ip: row.ip,
        host: row.host,
        device: Device {
            kind: row.device_type,
            name: row.device_name,
            long_version: row.device_long_version,
            os_name: row.device_os_name,
            os_version: row.device_os_version,
            version: row.device_version,
        },
        user_id: row.user_id,
        roles: roles_from_json(&row.roles),
        most_important_role: row.most_important_role,
        login_at: instant(row.login_at),
        search_term: row.search_term,
        created_at: instant(row.created_at),
        updated_at: instant(row.updated_at),
        last_activity_at: row.last_activity_at.map(instant),
        closed_at: row.closed_at.map(instant),
        logout_at: row.logout_at.map(instant),
        logout_by: row.logout_by,
        expires_at: instant(row.expires_at),
        two_factor_trust,
    }
}

pub(crate) fn session_to_row(session: &Session) -> sessions::Model {
    let trust = session.two_factor_trust.as_ref();
    sessions::Model {
        id: session.id.clone(),
        session_id: session.session_id.clone(),
        instance_id: session.instance_id.clone(),
        login_token_hash: session.login_token_hash.clone(),
        ip: session.ip.clone(),
        host: session.host.clone(),
        device_type: session.device.kind.clone(),
        device_name: session.device.name.clone(),
        device_long_version: session.device.long_version.clone(),
        device_os_name: session.device.os_name.clone(),
        device_os_version: session.device.os_version.clone(),
        device_version: session.device.version.clone(),
        user_id: session.user_id.clone(),
        roles: roles_to_json(&session.roles),
        most_important_role: session.most_important_role.clone(),
        login_at: millis(session.login_at),
        search_term: session.search_term.clone(),
        created_at: millis(session.created_at),
        updated_at: millis(session.updated_at),
        last_activity_at: session.last_activity_at.map(millis),
        closed_at: session.closed_at.map(millis),
        logout_at: session.logout_at.map(millis),
        logout_by: session.logout_by.clone(),
        expires_at: millis(session.expires_at),
        tfa_trusted_until: trust.map(|t| millis(t.until)),
        tfa_trusted_ip: trust.map(|t| t.ip.clone()),
        tfa_trusted_ua: trust.map(|t| t.user_agent.clone()),
    }
}
