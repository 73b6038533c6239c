//! `EventRepository` over the session_events table, and appending inside a
//! caller's transaction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use sessions_domain::{DomainResult, EventKind, EventRepository, NewEvent, SessionEvent};

use crate::{
    Store,
    convert::{instant, map_db_error, millis},
    entities::session_events,
};

/// Appends an event on `conn`, so it commits or rolls back with the change it
/// describes.
pub(crate) async fn append_event<C: ConnectionTrait>(
    conn: &C,
    event: &NewEvent,
) -> DomainResult<()> {
    let row = session_events::ActiveModel {
        kind: Set(event.kind.as_str().to_owned()),
        session_id: Set(event.session_id.clone()),
        user_id: Set(event.user_id.clone()),
        at: Set(millis(event.at)),
        by: Set(event.by.clone()),
        instance_id: Set(event.instance_id.clone()),
        ..Default::default()
    };
    session_events::Entity::insert(row)
        .exec_without_returning(conn)
        .await
        .map_err(map_db_error)?;
    Ok(())
}

#[async_trait]
impl EventRepository for Store {
    #[tracing::instrument(level = "debug", skip_all, fields(otel.kind = "client"))]
    async fn events_after(&self, after: i64, limit: u64) -> DomainResult<Vec<SessionEvent>> {
        let rows = session_events::Entity::find()
            .filter(session_events::Column::Cursor.gt(after))
            .order_by_asc(session_events::Column::Cursor)
            .limit(limit)
            .all(&self.db)
            .await
            .map_err(map_db_error)?;
        Ok(rows
            .into_iter()
            .filter_map(|row| {
                Some(SessionEvent {
                    cursor: row.cursor,
                    event: NewEvent {
                        kind: EventKind::parse(&row.kind)?,
                        session_id: row.session_id,
                        user_id: row.user_id,
                        at: instant(row.at),
                        by: row.by,
                        instance_id: row.instance_id,
                    },
                })
            })
            .collect())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(otel.kind = "client"))]
    async fn prune_events(&self, before: DateTime<Utc>) -> DomainResult<u64> {
        let result = session_events::Entity::delete_many()
            .filter(session_events::Column::At.lt(millis(before)))
            .exec(&self.db)
            .await
            .map_err(map_db_error)?;
        Ok(result.rows_affected)
    }
}
