//! Trigram indexes that serve the listings' `filter` (a case-insensitive
//! substring of the search term, username or name) on PostgreSQL; without them
//! every filtered `sessions/list.all` reads the whole table. SQLite has no such
//! index and keeps scanning.

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

/// (index, table, column): each on `lower(column)`, the expression the store's
/// `LOWER(column) LIKE '%…%'` filters on.
const INDEXES: &[(&str, &str, &str)] = &[
    ("sessions_search_term_trgm", "sessions", "search_term"),
    ("users_username_trgm", "users", "username"),
    ("users_name_trgm", "users", "name"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        // pg_trgm is a trusted extension (PostgreSQL 13+): the database owner
        // may create it without superuser rights.
        db.execute_unprepared("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            .await?;
        for (index, table, column) in INDEXES {
            db.execute_unprepared(&format!(
                "CREATE INDEX IF NOT EXISTS {index} ON {table} USING gin (lower({column}) gin_trgm_ops)"
            ))
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        for (index, _, _) in INDEXES {
            db.execute_unprepared(&format!("DROP INDEX IF EXISTS {index}"))
                .await?;
        }
        // The extension stays: it may predate this migration or serve other
        // objects, and dropping it would need the rights creating it did not.
        Ok(())
    }
}
