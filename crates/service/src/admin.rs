//! The admin endpoints (permission and 2FA required), each recorded in the
//! audit log with who, what, when, from where and how it ended.

use sessions_domain::{
    AuditEntry, AuditRecord, DomainError, DomainResult, EventKind, ListScope, SessionWithUser,
};

use crate::{
    AuthContext, Caller, ListParams, Listing, SessionService, auth::require_session_id,
    listing::build_query,
};

const VIEW_DEVICE_MANAGEMENT: &str = "view-device-management";
const LOGOUT_DEVICE_MANAGEMENT: &str = "logout-device-management";

impl SessionService {
    /// Any user's active session (`sessions/info.admin`).
    pub async fn admin_session(
        &self,
        caller: &Caller,
        session_id: Option<&str>,
    ) -> DomainResult<SessionWithUser> {
        self.throttle(caller, "sessions/info.admin").await?;
        let ctx = self.authenticate(caller).await?;
        let result = async {
            self.require_permission(&ctx.user, VIEW_DEVICE_MANAGEMENT)
                .await?;
            let session_id = require_session_id(caller, session_id)?;
            self.require_two_factor(&ctx, caller).await?;
            self.active_session(session_id).await
        }
        .await;
        self.audit(
            &ctx,
            caller,
            "sessions.info.admin",
            session_id.unwrap_or_default(),
            &result,
        )
        .await;
        result
    }

    /// Every user's active sessions (`sessions/list.all`).
    pub async fn list_all_sessions(
        &self,
        caller: &Caller,
        params: &ListParams,
    ) -> DomainResult<Listing> {
        self.throttle(caller, "sessions/list.all").await?;
        let ctx = self.authenticate(caller).await?;
        let result = async {
            self.require_permission(&ctx.user, VIEW_DEVICE_MANAGEMENT)
                .await?;
            if let Some(error) = &caller.param_error {
                return Err(DomainError::InvalidParams(error.clone()));
            }
            // Parameters are validated before the second factor is asked for.
            build_query(params, ListScope::All, self.config(), self.now())?;
            self.require_two_factor(&ctx, caller).await?;
            self.list(caller, params, ListScope::All).await
        }
        .await;
        let target = format!("filter={}", params.filter);
        self.audit(&ctx, caller, "sessions.list.all", &target, &result)
            .await;
        result
    }

    /// Logs out anyone's active session (`sessions/logout`), recording the
    /// caller as `logoutBy` and emitting a force-logout event.
    pub async fn logout_session(
        &self,
        caller: &Caller,
        session_id: Option<&str>,
    ) -> DomainResult<String> {
        self.throttle(caller, "sessions/logout").await?;
        let ctx = self.authenticate(caller).await?;
        let result = async {
            self.require_permission(&ctx.user, LOGOUT_DEVICE_MANAGEMENT)
                .await?;
            let session_id = require_session_id(caller, session_id)?;
            self.require_two_factor(&ctx, caller).await?;
            let found = self.active_session(session_id).await?;
            self.end_session(&found.session, &ctx.user.id, EventKind::ForceLogout)
                .await?;
            Ok(found.session.session_id)
        }
        .await;
        self.audit(
            &ctx,
            caller,
            "sessions.logout",
            session_id.unwrap_or_default(),
            &result,
        )
        .await;
        result
    }

    /// Audit entries after `after_id`, oldest first, optionally of one actor.
    pub async fn audit_log(
        &self,
        after_id: i64,
        actor_id: Option<&str>,
        limit: u64,
    ) -> DomainResult<Vec<AuditRecord>> {
        self.repo()
            .audit_after(
                after_id,
                actor_id.filter(|a| !a.is_empty()),
                limit.clamp(1, 1000),
            )
            .await
    }

    /// Records an admin action and how it ended. A failed write is logged, not
    /// answered: the action's own outcome is what the caller needs.
    async fn audit<T>(
        &self,
        ctx: &AuthContext,
        caller: &Caller,
        action: &str,
        target: &str,
        result: &DomainResult<T>,
    ) {
        let entry = AuditEntry {
            at: self.now(),
            actor_id: ctx.user.id.clone(),
            action: action.to_owned(),
            target: target.to_owned(),
            ip: caller.client.ip.clone(),
            user_agent: caller.client.user_agent.clone(),
            outcome: match result {
                Ok(_) => "ok".to_owned(),
                Err(err) => err.label().to_owned(),
            },
        };
        if let Err(err) = self.repo().append_audit(&entry).await {
            tracing::error!(error = %err, action, actor_id = %ctx.user.id, "audit entry not written");
        }
    }
}
