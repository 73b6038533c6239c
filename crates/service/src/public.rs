//! The use cases behind the documented endpoints; each is its table entry
//! (`endpoints.rs`) run by the runner, plus its action.

use sessions_domain::{
    DomainError, DomainResult, EventKind, ListScope, Page, Session, SessionWithUser,
};

use crate::{
    Caller, ListParams, SessionService, endpoints,
    listing::ListSpec,
    params::{AuditTarget, NoParams, Params, SessionRef},
};

/// A page of a listing with the parameters it used.
#[derive(Debug, Clone)]
pub struct Listing {
    pub page: Page,
    pub count: u64,
    pub offset: u64,
    /// The calling session, so its row can be marked as "this device".
    pub caller_session_id: String,
}

/// Listing parameters past the parameter step, with the filter as sent (the
/// audit log records it).
pub(crate) struct ParsedListing {
    filter: String,
    spec: ListSpec,
}

impl AuditTarget for ParsedListing {
    fn audit_target(&self) -> String {
        format!("filter={}", self.filter)
    }
}

impl SessionService {
    /// A session of the caller, logged out or not (`sessions/info`).
    pub async fn my_session(
        &self,
        caller: &Caller,
        params: Params<SessionRef>,
    ) -> DomainResult<Session> {
        self.run(
            &endpoints::GET_MY_SESSION,
            caller,
            params,
            async |ctx, p| {
                self.repo()
                    .find_session_without_owner(&p.session_id)
                    .await?
                    .filter(|session| session.user_id == ctx.user.id)
                    .ok_or(DomainError::SessionNotFound)
            },
        )
        .await
    }

    /// Any user's active session (`sessions/info.admin`).
    pub async fn admin_session(
        &self,
        caller: &Caller,
        params: Params<SessionRef>,
    ) -> DomainResult<SessionWithUser> {
        self.run(
            &endpoints::GET_SESSION_ADMIN,
            caller,
            params,
            async |_, p| self.active_session(&p.session_id).await,
        )
        .await
    }

    /// The caller's active sessions (`sessions/list`).
    pub async fn list_my_sessions(
        &self,
        caller: &Caller,
        params: Params<ListParams>,
    ) -> DomainResult<Listing> {
        let params = self.parse_listing(params, false);
        self.run(
            &endpoints::LIST_MY_SESSIONS,
            caller,
            params,
            async |ctx, p| {
                let scope = ListScope::User(ctx.user.id.clone());
                self.list(p.spec, scope, &ctx.session.session_id).await
            },
        )
        .await
    }

    /// Every user's active sessions (`sessions/list.all`).
    pub async fn list_all_sessions(
        &self,
        caller: &Caller,
        params: Params<ListParams>,
    ) -> DomainResult<Listing> {
        let params = self.parse_listing(params, true);
        self.run(
            &endpoints::LIST_ALL_SESSIONS,
            caller,
            params,
            async |ctx, p| {
                self.list(p.spec, ListScope::All, &ctx.session.session_id)
                    .await
            },
        )
        .await
    }

    /// Logs out a session of the caller (`sessions/logout.me`). Logging out an
    /// already logged-out session of the caller succeeds and changes nothing.
    pub async fn logout_my_session(
        &self,
        caller: &Caller,
        params: Params<SessionRef>,
    ) -> DomainResult<String> {
        self.run(
            &endpoints::LOGOUT_MY_SESSION,
            caller,
            params,
            async |ctx, p| {
                let session = self
                    .repo()
                    .find_session_without_owner(&p.session_id)
                    .await?
                    .filter(|session| session.user_id == ctx.user.id)
                    .ok_or(DomainError::SessionNotFound)?;
                self.end_session(&session, &ctx.user.id, EventKind::LoggedOut)
                    .await?;
                Ok(session.session_id)
            },
        )
        .await
    }

    /// Logs out anyone's session (`sessions/logout`), recording the caller as
    /// `logoutBy` and emitting a force-logout event. A session already logged
    /// out answers the same and keeps its first `logoutAt`/`logoutBy`, as
    /// Rocket.Chat answers 200 for it too.
    pub async fn logout_session(
        &self,
        caller: &Caller,
        params: Params<SessionRef>,
    ) -> DomainResult<String> {
        self.run(
            &endpoints::LOGOUT_SESSION,
            caller,
            params,
            async |ctx, p| {
                let session = self
                    .repo()
                    .find_session_without_owner(&p.session_id)
                    .await?
                    .ok_or(DomainError::SessionNotFound)?;
                self.end_session(&session, &ctx.user.id, EventKind::ForceLogout)
                    .await?;
                Ok(session.session_id)
            },
        )
        .await
    }

    /// Logs out the calling session (`logout`).
    pub async fn logout(&self, caller: &Caller, params: Params<NoParams>) -> DomainResult<()> {
        self.run(&endpoints::LOGOUT, caller, params, async |ctx, _| {
            self.end_session(&ctx.session, &ctx.user.id, EventKind::LoggedOut)
                .await
        })
        .await
    }

    /// The parameter step of a listing: the sort is parsed and the page
    /// bounded here, once, before permission and second factor.
    fn parse_listing(&self, params: Params<ListParams>, all_users: bool) -> Params<ParsedListing> {
        let params = params?;
        let spec = ListSpec::parse(&params, all_users, self.config())?;
        Ok(ParsedListing {
            filter: params.filter,
            spec,
        })
    }

    async fn list(
        &self,
        spec: ListSpec,
        scope: ListScope,
        caller_session_id: &str,
    ) -> DomainResult<Listing> {
        let query = spec.query(scope, self.now());
        let page = self.repo().list_sessions(&query).await?;
        Ok(Listing {
            page,
            count: query.count,
            offset: query.offset,
            caller_session_id: caller_session_id.to_owned(),
        })
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
