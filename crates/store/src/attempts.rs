//! `AttemptRepository`: counters that reserve an attempt before it is
//! evaluated (one conditional upsert per counter, all in one transaction), and
//! the addresses each user logged in from.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait, QueryFilter, Statement,
    sea_query::{Expr, ExprTrait},
};
use sessions_domain::{AttemptCounter, AttemptKey, AttemptRepository, DomainResult};

use crate::{
    Store,
    convert::{map_db_error, millis},
    entities::{attempt_counters, known_addresses},
};

/// Counts one attempt unless the counter is full. A full count whose last
/// attempt is a window old, or any count past its forget time, starts again
/// from one. No row comes back when full: the conflicting row fails the
/// `WHERE`, so nothing is written either. On PostgreSQL the upsert locks the
/// row, so concurrent reservations queue on it and each sees the count the
/// previous one left. Parameters: kind, subject, address, now, limit, end of
/// a block, forget time, limit, end of a block.
const RESERVE: &str = "INSERT INTO attempt_counters (kind, subject, address, attempts, last_attempt_at) \
     VALUES ($1, $2, $3, 1, $4) \
     ON CONFLICT (kind, subject, address) DO UPDATE SET \
     attempts = CASE WHEN (attempt_counters.attempts >= $5 AND attempt_counters.last_attempt_at <= $6) \
     OR attempt_counters.last_attempt_at <= $7 THEN 1 \
     ELSE attempt_counters.attempts + 1 END, \
     last_attempt_at = excluded.last_attempt_at \
     WHERE attempt_counters.attempts < $8 OR attempt_counters.last_attempt_at <= $9 \
     RETURNING attempts";

/// Keeps a user's `keep` most recent addresses.
const TRIM_ADDRESSES: &str = "DELETE FROM known_addresses WHERE user_id = $1 AND address NOT IN \
     (SELECT address FROM known_addresses WHERE user_id = $2 \
     ORDER BY last_login_at DESC, address LIMIT $3)";

/// The statement for `backend`: PostgreSQL numbers its parameters, SQLite
/// takes `?` in order (every statement here uses each parameter once, in order).
fn statement(backend: DbBackend, sql: &str, values: Vec<sea_orm::Value>) -> Statement {
    let sql = if backend == DbBackend::Postgres {
        sql.to_owned()
    } else {
        let mut out = String::with_capacity(sql.len());
        let mut chars = sql.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '$' {
                while chars.peek().is_some_and(char::is_ascii_digit) {
                    chars.next();
                }
                out.push('?');
            } else {
                out.push(c);
            }
        }
        out
    };
    Statement::from_sql_and_values(backend, sql, values)
}

fn key_filter(key: &AttemptKey) -> sea_orm::Condition {
    sea_orm::Condition::all()
        .add(attempt_counters::Column::Kind.eq(key.kind.as_str()))
        .add(attempt_counters::Column::Subject.eq(key.subject.as_str()))
        .add(attempt_counters::Column::Address.eq(key.address.as_str()))
}

#[async_trait]
impl AttemptRepository for Store {
    #[tracing::instrument(level = "debug", skip_all, fields(otel.kind = "client"))]
    async fn reserve_attempts(
        &self,
        counters: &[AttemptCounter],
        now: DateTime<Utc>,
    ) -> DomainResult<Option<usize>> {
        let backend = self.db.get_database_backend();
        let txn = self.begin_write().await.map_err(map_db_error)?;
        for (index, counter) in counters.iter().enumerate() {
            let before = |age: std::time::Duration| {
                chrono::Duration::from_std(age)
                    .ok()
                    .and_then(|age| now.checked_sub_signed(age))
                    .map_or(i64::MIN, millis)
            };
            let block_ended = before(counter.window);
            let forgotten = counter.forget_after.map_or(i64::MIN, before);
            let limit = i32::try_from(counter.limit).unwrap_or(i32::MAX);
            let values = vec![
                counter.key.kind.as_str().into(),
                counter.key.subject.as_str().into(),
                counter.key.address.as_str().into(),
                millis(now).into(),
                limit.into(),
                block_ended.into(),
                forgotten.into(),
                limit.into(),
                block_ended.into(),
            ];
            let reserved = txn
                .query_one_raw(statement(backend, RESERVE, values))
                .await
                .map_err(map_db_error)?;
            if reserved.is_none() {
                // Dropping the transaction rolls back the counters before it.
                txn.rollback().await.map_err(map_db_error)?;
                return Ok(Some(index));
            }
        }
        txn.commit().await.map_err(map_db_error)?;
        Ok(None)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(otel.kind = "client"))]
    async fn release_attempts(&self, keys: &[AttemptKey]) -> DomainResult<()> {
        if keys.is_empty() {
            return Ok(());
        }
        let txn = self.begin_write().await.map_err(map_db_error)?;
        for key in keys {
            attempt_counters::Entity::update_many()
                .col_expr(
                    attempt_counters::Column::Attempts,
                    Expr::col(attempt_counters::Column::Attempts).sub(1),
                )
                .filter(key_filter(key))
                .filter(attempt_counters::Column::Attempts.gt(0))
                .exec(&txn)
                .await
                .map_err(map_db_error)?;
        }
        txn.commit().await.map_err(map_db_error)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(otel.kind = "client"))]
    async fn clear_attempts(&self, keys: &[AttemptKey], subject_wide: bool) -> DomainResult<()> {
        if keys.is_empty() {
            return Ok(());
        }
        // Key by key, in the order given (the order reservations lock them
        // in): one DELETE over all of them would lock rows in whatever order
        // its plan visits them, and deadlock against a concurrent reservation.
        let txn = self.begin_write().await.map_err(map_db_error)?;
        for key in keys {
            let filter = if subject_wide {
                sea_orm::Condition::all()
                    .add(attempt_counters::Column::Kind.eq(key.kind.as_str()))
                    .add(attempt_counters::Column::Subject.eq(key.subject.as_str()))
            } else {
                key_filter(key)
            };
            attempt_counters::Entity::delete_many()
                .filter(filter)
                .exec(&txn)
                .await
                .map_err(map_db_error)?;
        }
        txn.commit().await.map_err(map_db_error)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(otel.kind = "client"))]
    async fn prune_attempts(&self, before: DateTime<Utc>) -> DomainResult<u64> {
        let result = attempt_counters::Entity::delete_many()
            .filter(attempt_counters::Column::LastAttemptAt.lt(millis(before)))
            .exec(&self.db)
            .await
            .map_err(map_db_error)?;
        Ok(result.rows_affected)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(otel.kind = "client"))]
    async fn is_known_address(
        &self,
        user_id: &str,
        address: &str,
        since: DateTime<Utc>,
    ) -> DomainResult<bool> {
        let found = known_addresses::Entity::find()
            .filter(known_addresses::Column::UserId.eq(user_id))
            .filter(known_addresses::Column::Address.eq(address))
            .filter(known_addresses::Column::LastLoginAt.gt(millis(since)))
            .count(&self.db)
            .await
            .map_err(map_db_error)?;
        Ok(found > 0)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(otel.kind = "client"))]
    async fn remember_address(
        &self,
        user_id: &str,
        address: &str,
        at: DateTime<Utc>,
        keep: u32,
    ) -> DomainResult<()> {
        let backend = self.db.get_database_backend();
        let txn = self.begin_write().await.map_err(map_db_error)?;
        let row = known_addresses::ActiveModel {
            user_id: sea_orm::Set(user_id.to_owned()),
            address: sea_orm::Set(address.to_owned()),
            last_login_at: sea_orm::Set(millis(at)),
        };
        known_addresses::Entity::insert(row)
            .on_conflict(
                sea_orm::sea_query::OnConflict::columns([
                    known_addresses::Column::UserId,
                    known_addresses::Column::Address,
                ])
                .update_column(known_addresses::Column::LastLoginAt)
                .to_owned(),
            )
            .exec_without_returning(&txn)
            .await
            .map_err(map_db_error)?;
        let values = vec![user_id.into(), user_id.into(), i64::from(keep).into()];
        txn.execute_raw(statement(backend, TRIM_ADDRESSES, values))
            .await
            .map_err(map_db_error)?;
        txn.commit().await.map_err(map_db_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_statements_take_positional_parameters() {
        let sqlite = statement(DbBackend::Sqlite, "a = $1 AND b = $12", vec![]);
        assert_eq!(sqlite.sql, "a = ? AND b = ?");
        let postgres = statement(DbBackend::Postgres, "a = $1", vec![]);
        assert_eq!(postgres.sql, "a = $1");
    }
}
