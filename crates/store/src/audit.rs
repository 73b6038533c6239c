//! `AuditRepository` over the audit_events table.

use async_trait::async_trait;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use sessions_domain::{AuditEntry, AuditRecord, AuditRepository, DomainResult};

use crate::{
    Store,
    convert::{instant, map_db_error, millis},
    entities::audit_events,
};

#[async_trait]
impl AuditRepository for Store {
    #[tracing::instrument(level = "debug", skip_all, fields(otel.kind = "client"))]
    async fn append_audit(&self, entry: &AuditEntry) -> DomainResult<()> {
        let row = audit_events::ActiveModel {
            at: Set(millis(entry.at)),
            actor_id: Set(entry.actor_id.clone()),
            action: Set(entry.action.clone()),
            target: Set(entry.target.clone()),
            ip: Set(entry.ip.clone()),
            user_agent: Set(entry.user_agent.clone()),
            outcome: Set(entry.outcome.clone()),
            ..Default::default()
        };
        audit_events::Entity::insert(row)
            .exec_without_returning(&self.db)
            .await
            .map_err(map_db_error)?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(otel.kind = "client"))]
    async fn audit_after(
        &self,
        after: i64,
        actor_id: Option<&str>,
        limit: u64,
    ) -> DomainResult<Vec<AuditRecord>> {
        let mut query = audit_events::Entity::find().filter(audit_events::Column::Id.gt(after));
        if let Some(actor) = actor_id {
            query = query.filter(audit_events::Column::ActorId.eq(actor));
        }
        let rows = query
            .order_by_asc(audit_events::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await
            .map_err(map_db_error)?;
        Ok(rows
            .into_iter()
            .map(|row| AuditRecord {
                id: row.id,
                entry: AuditEntry {
                    at: instant(row.at),
                    actor_id: row.actor_id,
                    action: row.action,
                    target: row.target,
                    ip: row.ip,
                    user_agent: row.user_agent,
                    outcome: row.outcome,
                },
            })
            .collect())
    }
}
