//! Bulk loading of users and sessions, for seeding benchmark databases: rows
//! built by the same entity definitions and conversions as every other write,
//! in as few round trips as each backend allows.

use sea_orm::{
    ConnectionTrait, DbBackend, EntityTrait, IdenStatic, IntoActiveModel, Iterable, ModelTrait,
    Statement, Value, sqlx,
};
use sessions_domain::{DomainError, DomainResult, Session, User};

use crate::{
    Store,
    convert::{map_db_error, session_to_row, user_to_row},
    entities::{sessions, users},
};

/// Rows per multi-row INSERT on SQLite: 27 session columns each stays under
/// its limit of 32766 bound parameters.
const SQLITE_BATCH: usize = 1000;

/// 256 MB of page cache (negative: KiB) while a bulk load runs on SQLite.
const BULK_CACHE_PRAGMA: &str = "PRAGMA cache_size = -262144";

impl Store {
    /// Stores users as given, secrets included, in one transaction: for
    /// filling an empty database, not for the service (no conflict handling).
    pub async fn bulk_insert_users(&self, users: &[User]) -> DomainResult<()> {
        let rows = users.iter().map(user_to_row);
        if self.is_sqlite() {
            return self.insert_batches::<users::Entity>(rows).await;
        }
        self.copy_in::<users::Entity>(rows, false).await
    }

    /// Stores sessions as given, without events, in one transaction: for
    /// filling a database whose owners are all stored already. On PostgreSQL
    /// the rows are streamed by COPY without checking each owner's key
    /// (`session_replication_role = replica`, which needs a superuser): the
    /// row-by-row foreign key checks would cost more than the copy.
    pub async fn bulk_insert_sessions(&self, sessions: &[Session]) -> DomainResult<()> {
        let rows = sessions.iter().map(session_to_row);
        if self.is_sqlite() {
            return self.insert_batches::<sessions::Entity>(rows).await;
        }
        self.copy_in::<sessions::Entity>(rows, true).await
    }

    async fn insert_batches<E>(&self, rows: impl Iterator<Item = E::Model>) -> DomainResult<()>
    where
        E: EntityTrait,
        E::Model: IntoActiveModel<E::ActiveModel>,
    {
        let txn = self.begin_write().await.map_err(map_db_error)?;
        // The table's primary key takes random ids: with SQLite's default 2 MB
        // page cache, a million rows spend most of their time re-reading
        // B-tree pages. The cache is widened for this load only.
        let cache = txn
            .query_one_raw(Statement::from_string(
                DbBackend::Sqlite,
                "PRAGMA cache_size",
            ))
            .await
            .map_err(map_db_error)?
            .map(|row| row.try_get_by_index::<i64>(0))
            .transpose()
            .map_err(map_db_error)?;
        txn.execute_unprepared(BULK_CACHE_PRAGMA)
            .await
            .map_err(map_db_error)?;
        let mut rows = rows.peekable();
        while rows.peek().is_some() {
            let batch: Vec<E::ActiveModel> = rows
                .by_ref()
                .take(SQLITE_BATCH)
                .map(IntoActiveModel::into_active_model)
                .collect();
            E::insert_many(batch)
                .exec_without_returning(&txn)
                .await
                .map_err(map_db_error)?;
        }
        if let Some(pages) = cache {
            txn.execute_unprepared(&format!("PRAGMA cache_size = {pages}"))
                .await
                .map_err(map_db_error)?;
        }
        txn.commit().await.map_err(map_db_error)
    }

    /// `COPY table (every column of the entity) FROM STDIN` in COPY's text
    /// format, the columns and their values both read from the entity.
    async fn copy_in<E: EntityTrait>(
        &self,
        rows: impl Iterator<Item = E::Model>,
        unchecked_keys: bool,
    ) -> DomainResult<()> {
        let columns: Vec<E::Column> = E::Column::iter().collect();
        let names: Vec<String> = columns
            .iter()
            .map(|c| format!("\"{}\"", c.as_str()))
            .collect();
        let mut text = String::new();
        for row in rows {
            for (i, column) in columns.iter().enumerate() {
                if i > 0 {
                    text.push('\t');
                }
                copy_field(&mut text, row.get(*column))?;
            }
            text.push('\n');
        }
        let statement = format!(
            "COPY \"{}\" ({}) FROM STDIN",
            E::default().table_name(),
            names.join(", ")
        );
        let pool = self.db.get_postgres_connection_pool();
        let mut conn = pool.acquire().await.map_err(sqlx_error)?;
        copy_text(&mut conn, &statement, &text, unchecked_keys)
            .await
            .map_err(sqlx_error)
    }
}

async fn copy_text(
    conn: &mut sqlx::PgConnection,
    statement: &str,
    text: &str,
    unchecked_keys: bool,
) -> Result<(), sqlx::Error> {
    let mut txn = sqlx::Connection::begin(conn).await?;
    if unchecked_keys {
        // Ends with the transaction.
        sqlx::query("SET LOCAL session_replication_role = replica")
            .execute(&mut *txn)
            .await?;
    }
    let mut sink = txn.copy_in_raw(statement).await?;
    sink.send(text.as_bytes()).await?;
    sink.finish().await?;
    txn.commit().await
}

/// One value in COPY's text format: `\N` for NULL, backslash escapes for
/// the characters that separate fields and rows.
fn copy_field(text: &mut String, value: Value) -> DomainResult<()> {
    match value {
        Value::String(Some(s)) => {
            for c in s.chars() {
                match c {
                    '\\' => text.push_str("\\\\"),
                    '\t' => text.push_str("\\t"),
                    '\n' => text.push_str("\\n"),
                    '\r' => text.push_str("\\r"),
                    c => text.push(c),
                }
            }
        }
        Value::BigInt(Some(n)) => text.push_str(&n.to_string()),
        Value::Bool(Some(b)) => text.push(if b { 't' } else { 'f' }),
        Value::String(None) | Value::BigInt(None) | Value::Bool(None) => text.push_str("\\N"),
        other => {
            return Err(DomainError::Internal(format!(
                "no COPY text for a column value of {other:?}"
            )));
        }
    }
    Ok(())
}

fn sqlx_error(err: sqlx::Error) -> DomainError {
    map_db_error(sea_orm::DbErr::Exec(sea_orm::RuntimeErr::SqlxError(
        std::sync::Arc::new(err),
    )))
}
