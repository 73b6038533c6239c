//! Creating sessions (for REST logins and for logins done elsewhere), and the
//! internal session operations: token checks, activity, closing, mass logout.

use chrono::Duration;
use sessions_domain::{
    DomainError, DomainResult, EventKind, EventTemplate, NewEvent, Session, User,
};

use crate::{
    ClientInfo, SessionService, device::parse_device, host::session_host,
    roles::most_important_role, secrets::hash_login_token,
};

/// A login another service performed.
#[derive(Clone, Default)]
pub struct NewSessionInput {
    pub user_id: String,
    /// The token, or its hash when the caller never held the token.
    pub login_token: Option<String>,
    pub login_token_hash: Option<String>,
    pub client: ClientInfo,
    pub instance_id: Option<String>,
}

impl SessionService {
    /// Builds and stores a session of `user` with the derived fields: device,
    /// roles, `mostImportantRole`, `searchTerm`, expiry.
    /// `verified_password_hash`: the hash a password login checked; the
    /// session is stored only while it is still the user's.
    pub(crate) async fn open_session(
        &self,
        user: &User,
        token_hash: String,
        client: &ClientInfo,
        instance_id: Option<String>,
        verified_password_hash: Option<&str>,
    ) -> DomainResult<Session> {
        let now = self.now();
        let lifetime = Duration::from_std(self.config().session_lifetime)
            .unwrap_or_else(|_| Duration::days(90));
        let device = parse_device(&client.user_agent);
        let session_id = self.ids().meteor_id();
        let search_term = Session::search_term_for(&device, &session_id, &user.id);
        let session = Session {
            id: self.ids().record_id(),
            session_id,
            instance_id: instance_id
                .filter(|id| !id.is_empty())
                .unwrap_or_else(|| self.config().instance_id.clone()),
            login_token_hash: token_hash,
            ip: client.ip.clone(),
            host: session_host(&client.host),
            device,
            user_id: user.id.clone(),
            roles: user.roles.clone(),
            most_important_role: most_important_role(&user.roles),
            login_at: now,
            search_term,
            created_at: now,
            updated_at: now,
            last_activity_at: None,
            closed_at: None,
            logout_at: None,
            logout_by: None,
            expires_at: now + lifetime,
            two_factor_trust: None,
        };
        let event = self.event(EventKind::Created, &session, None);
        match verified_password_hash {
            None => self.repo().insert_session(&session, &event).await?,
            Some(hash) => {
                // The alert and the device seen, written with the session.
                let extras = self.login_extras(user, &session.device, client).await?;
                if !self
                    .repo()
                    .insert_login_session(&session, &event, hash, &extras)
                    .await?
                {
                    tracing::info!(user_id = %user.id, "login refused: the password changed meanwhile");
                    return Err(DomainError::LoginFailed);
                }
                if let Some(mail) = &extras.mail {
                    metrics::counter!("sessions_mail_queued_total", "kind" => mail.kind.as_str())
                        .increment(1);
                }
            }
        }
        tracing::info!(
            user_id = %session.user_id,
            session_id = %session.session_id,
            device = %session.device.kind,
            "session created"
        );
        Ok(session)
    }

    pub(crate) fn event(&self, kind: EventKind, session: &Session, by: Option<&str>) -> NewEvent {
        NewEvent {
            kind,
            session_id: session.session_id.clone(),
            user_id: session.user_id.clone(),
            at: self.now(),
            by: by.map(str::to_owned),
            instance_id: self.config().instance_id.clone(),
        }
    }

    /// The event of each session a change of many ends (a mass logout, a
    /// password change); the store stamps the session ids.
    pub(crate) fn event_template(
        &self,
        kind: EventKind,
        user_id: &str,
        by: Option<&str>,
    ) -> EventTemplate {
        EventTemplate {
            kind,
            user_id: user_id.to_owned(),
            at: self.now(),
            by: by.map(str::to_owned),
            instance_id: self.config().instance_id.clone(),
        }
    }

    /// Records a login performed by another service.
    pub async fn create_session(&self, input: NewSessionInput) -> DomainResult<Session> {
        let token_hash = match (input.login_token.as_deref(), input.login_token_hash) {
            (Some(token), None) if !token.is_empty() => hash_login_token(token),
            (None, Some(hash)) if is_token_hash(&hash) => hash,
            _ => {
                return Err(DomainError::InvalidParams(
                    "exactly one of login_token and login_token_hash (base64 SHA-256) is required"
                        .to_owned(),
                ));
            }
        };
        let user = self
            .repo()
            .find_user(&input.user_id)
            .await?
            .filter(|u| u.active)
            .ok_or(DomainError::NotFound("active user"))?;
        self.open_session(&user, token_hash, &input.client, input.instance_id, None)
            .await
    }

    /// Sessions neither logged out nor expired, for the active-sessions gauge.
    pub async fn count_active_sessions(&self) -> DomainResult<u64> {
        self.repo().count_active_sessions(self.now()).await
    }

    /// Sets `lastActivityAt` unless it was set within the throttle window.
    pub async fn record_activity(&self, session_id: &str) -> DomainResult<bool> {
        let now = self.now();
        let throttle = Duration::from_std(self.config().activity_throttle)
            .unwrap_or_else(|_| Duration::zero());
        let written = self
            .repo()
            .touch_activity(session_id, now, now - throttle)
            .await?;
        if !written
            && self
                .repo()
                .find_session_without_owner(session_id)
                .await?
                .is_none()
        {
            return Err(DomainError::SessionNotFound);
        }
        Ok(written)
    }

    /// Sets `closedAt`: the client's connection ended.
    pub async fn close_connection(&self, session_id: &str) -> DomainResult<()> {
        let session = self
            .repo()
            .find_session_without_owner(session_id)
            .await?
            .ok_or(DomainError::SessionNotFound)?;
        let event = self.event(EventKind::ActivityClosed, &session, None);
        if self
            .repo()
            .close_session(session_id, self.now(), &event)
            .await?
        {
            Ok(())
        } else {
            Err(DomainError::SessionNotFound)
        }
    }

    /// Logs out every active session of a user but `except_session_id`.
    pub async fn logout_user_sessions(
        &self,
        user_id: &str,
        except_session_id: Option<&str>,
        by: &str,
    ) -> DomainResult<Vec<String>> {
        if self.repo().find_user(user_id).await?.is_none() {
            return Err(DomainError::NotFound("user"));
        }
        let by = if by.is_empty() { user_id } else { by };
        let event = self.event_template(EventKind::ForceLogout, user_id, Some(by));
        let ended = self
            .repo()
            .logout_user_sessions(
                user_id,
                except_session_id.filter(|s| !s.is_empty()),
                event.at,
                by,
                &event,
            )
            .await?;
        tracing::info!(
            user_id,
            count = ended.len(),
            logout_by = by,
            "sessions of user logged out"
        );
        Ok(ended)
    }
}

/// base64 of 32 bytes: 43 characters and one `=`.
fn is_token_hash(hash: &str) -> bool {
    use base64::{Engine, engine::general_purpose::STANDARD};
    hash.len() == 44 && STANDARD.decode(hash).is_ok_and(|bytes| bytes.len() == 32)
}
