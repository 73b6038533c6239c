//! The audit log of admin actions: who did what, when, from where, and how
//! it ended. The runner writes an entry for every endpoint its table audits.

use sessions_domain::{AuditEntry, AuditRecord, DomainResult};

use crate::{AuthContext, Caller, SessionService};

impl SessionService {
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
    pub(crate) async fn audit<T>(
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
