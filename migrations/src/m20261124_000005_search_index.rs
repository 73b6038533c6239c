//! Substring indexes for the listings' `filter` (a case-insensitive substring
//! of the search term, username or name); without them every filtered
//! `sessions/list.all` reads the whole sessions table. PostgreSQL gets pg_trgm
//! GIN indexes on the lowercased columns; SQLite an FTS5 trigram table of the
//! search terms, kept in step with `sessions` by triggers.

use sea_orm_migration::{
    prelude::*,
    sea_orm::{ConnectionTrait, DbBackend},
};

use crate::run_all;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

/// (index, table, column): each on `lower(column)`, the expression the store's
/// `LOWER(column) LIKE '%…%'` filters on.
const POSTGRES_INDEXES: &[(&str, &str, &str)] = &[
    ("sessions_search_term_trgm", "sessions", "search_term"),
    ("users_username_trgm", "users", "username"),
    ("users_name_trgm", "users", "name"),
];

/// The FTS5 table holds its own copy of each search term with the session's
/// primary key. Not an external-content table keyed by rowid: `sessions` has a
/// text primary key, so its rowids may change on VACUUM.
const SQLITE_UP: &[&str] = &[
    "CREATE VIRTUAL TABLE IF NOT EXISTS sessions_search USING fts5(search_term, session_pk UNINDEXED, \
     tokenize = 'trigram case_sensitive 0')",
    // SQLite migrations run outside a transaction: each step may be re-run
    // after a failure part-way, so none of them may do its work twice.
    "INSERT INTO sessions_search (search_term, session_pk) SELECT search_term, id FROM sessions \
     WHERE NOT EXISTS (SELECT 1 FROM sessions_search)",
    "CREATE TRIGGER IF NOT EXISTS sessions_search_insert AFTER INSERT ON sessions BEGIN \
     INSERT INTO sessions_search (search_term, session_pk) VALUES (new.search_term, new.id); END",
    // Search terms are written once, at login, and sessions are never deleted;
    // these two keep the index right should that ever change.
    "CREATE TRIGGER IF NOT EXISTS sessions_search_update AFTER UPDATE OF search_term, id ON sessions BEGIN \
     DELETE FROM sessions_search WHERE session_pk = old.id; \
     INSERT INTO sessions_search (search_term, session_pk) VALUES (new.search_term, new.id); END",
    "CREATE TRIGGER IF NOT EXISTS sessions_search_delete AFTER DELETE ON sessions BEGIN \
     DELETE FROM sessions_search WHERE session_pk = old.id; END",
];

const SQLITE_DOWN: &[&str] = &[
    "DROP TRIGGER IF EXISTS sessions_search_delete",
    "DROP TRIGGER IF EXISTS sessions_search_update",
    "DROP TRIGGER IF EXISTS sessions_search_insert",
    "DROP TABLE IF EXISTS sessions_search",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                // pg_trgm is a trusted extension (PostgreSQL 13+): the database
                // owner may create it without superuser rights.
                db.execute_unprepared("CREATE EXTENSION IF NOT EXISTS pg_trgm")
                    .await?;
                for (index, table, column) in POSTGRES_INDEXES {
                    db.execute_unprepared(&format!(
                        "CREATE INDEX IF NOT EXISTS {index} ON {table} USING gin (lower({column}) gin_trgm_ops)"
                    ))
                    .await?;
                }
                Ok(())
            }
            DbBackend::Sqlite => run_all(db, SQLITE_UP).await,
            _ => Ok(()),
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                for (index, _, _) in POSTGRES_INDEXES {
                    db.execute_unprepared(&format!("DROP INDEX IF EXISTS {index}"))
                        .await?;
                }
                // The extension stays: it may predate this migration or serve
                // other objects, and dropping it would need the rights creating
                // it did not.
                Ok(())
            }
            DbBackend::Sqlite => run_all(db, SQLITE_DOWN).await,
            _ => Ok(()),
        }
    }
}
