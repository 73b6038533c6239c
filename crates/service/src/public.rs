//! The use cases behind the documented endpoints, in the spec's order of checks:
//! authentication, permission, parameters, 2FA, then the action.

use sessions_domain::{
    DomainError, DomainResult, EventKind, ListScope, Page, Session, SessionWithUser,
};

use crate::{Caller, ListParams, SessionService, auth::require_session_id, listing::build_query};

/// A page of a listing with the parameters it used.
#[derive(Debug, Clone)]
pub struct Listing {
    pub page: Page,
    pub count: u64,
    pub offset: u64,
}

impl SessionService {
    /// A session of the caller, logged out or not (`sessions/info`).
    pub async fn my_session(
        &self,
        caller: &Caller,
        session_id: Option<&str>,
    ) -> DomainResult<Session> {
        self.throttle(caller, "sessions/info").await?;
        let ctx = self.authenticate(caller).await?;
        let session_id = require_session_id(caller, session_id)?;
        self.repo()
            .find_session(session_id)
            .await?
            .filter(|found| found.session.user_id == ctx.user.id)
            .map(|found| found.session)
            .ok_or(DomainError::SessionNotFound)
    }

    /// The caller's active sessions (`sessions/list`).
    pub async fn list_my_sessions(
        &self,
        caller: &Caller,
        params: &ListParams,
    ) -> DomainResult<crate::public::Listing> {
        self.throttle(caller, "sessions/list").await?;
        let ctx = self.authenticate(caller).await?;
        self.list(caller, params, ListScope::User(ctx.user.id))
            .await
    }

    pub(crate) async fn list(
        &self,
        caller: &Caller,
        params: &ListParams,
        scope: ListScope,
    ) -> DomainResult<Listing> {
        if let Some(error) = &caller.param_error {
            return Err(DomainError::InvalidParams(error.clone()));
        }
        let query = build_query(params, scope, self.config(), self.now())?;
        let page = self.repo().list_sessions(&query).await?;
        Ok(Listing {
            page,
            count: query.count,
            offset: query.offset,
        })
    }

    /// Logs out a session of the caller (`sessions/logout.me`). Logging out an
    /// already logged-out session of the caller succeeds and changes nothing.
    pub async fn logout_my_session(
        &self,
        caller: &Caller,
        session_id: Option<&str>,
    ) -> DomainResult<String> {
        self.throttle(caller, "sessions/logout.me").await?;
        let ctx = self.authenticate(caller).await?;
        let session_id = require_session_id(caller, session_id)?;
        let found = self
            .repo()
            .find_session(session_id)
            .await?
            .filter(|found| found.session.user_id == ctx.user.id)
            .ok_or(DomainError::SessionNotFound)?;
        self.end_session(&found.session, &ctx.user.id, EventKind::LoggedOut)
            .await?;
        Ok(found.session.session_id)
    }

    /// Logs out the calling session (`logout`).
    pub async fn logout(&self, caller: &Caller) -> DomainResult<()> {
        self.throttle(caller, "logout").await?;
        let ctx = self.authenticate(caller).await?;
        if let Some(error) = &caller.param_error {
            return Err(DomainError::InvalidParams(error.clone()));
        }
        self.end_session(&ctx.session, &ctx.user.id, EventKind::LoggedOut)
            .await
    }

    pub(crate) async fn active_session(&self, session_id: &str) -> DomainResult<SessionWithUser> {
        let now = self.now();
        self.repo()
            .find_session(session_id)
            .await?
            .filter(|found| found.session.is_active(now))
            .ok_or(DomainError::SessionNotFound)
    }

    pub(crate) async fn end_session(
        &self,
        session: &Session,
        by: &str,
        kind: EventKind,
    ) -> DomainResult<()> {
        let event = self.event(kind, session, Some(by));
        let ended = self
            .repo()
            .logout_session(&session.session_id, event.at, by, &event)
            .await?;
        if ended {
            tracing::info!(
                user_id = %session.user_id,
                session_id = %session.session_id,
                logout_by = by,
                kind = kind.as_str(),
                "session logged out"
            );
        }
        Ok(())
    }
}
