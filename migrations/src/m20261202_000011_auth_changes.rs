//! The feed of changes to what a token check answers, for replicas that
//! answer token checks from memory (spec section 11). Triggers, so that every
//! writer of `sessions` and `users` feeds it (each replica, the CLI, a manual
//! fix in psql; not a session with `session_replication_role = replica`,
//! which skips every trigger) and none can forget to. PostgreSQL: a `NOTIFY` of the owner's
//! id, sent at commit and never on rollback. SQLite, which has no
//! notifications: a row per change in `auth_changes`, which replicas poll.

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

use crate::run_all;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

/// A change that leaves the row as it was sends nothing (PostgreSQL compares
/// the whole rows); an UPDATE that touches many rows of one user sends one
/// notification, as PostgreSQL folds equal ones within a transaction.
const POSTGRES_UP: &[&str] = &[
    "CREATE OR REPLACE FUNCTION sessions_auth_changed() RETURNS trigger LANGUAGE plpgsql AS $$ \
     BEGIN \
       IF TG_OP = 'TRUNCATE' THEN \
         PERFORM pg_notify('sessions_auth_changed', '*'); \
       ELSIF TG_TABLE_NAME = 'users' THEN \
         PERFORM pg_notify('sessions_auth_changed', OLD.id); \
       ELSE \
         PERFORM pg_notify('sessions_auth_changed', OLD.user_id); \
         IF TG_OP = 'UPDATE' AND NEW.user_id IS DISTINCT FROM OLD.user_id THEN \
           PERFORM pg_notify('sessions_auth_changed', NEW.user_id); \
         END IF; \
       END IF; \
       RETURN NULL; \
     END $$",
    "DROP TRIGGER IF EXISTS sessions_auth_update ON sessions",
    "CREATE TRIGGER sessions_auth_update AFTER UPDATE ON sessions FOR EACH ROW \
     WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION sessions_auth_changed()",
    "DROP TRIGGER IF EXISTS sessions_auth_delete ON sessions",
    "CREATE TRIGGER sessions_auth_delete AFTER DELETE ON sessions FOR EACH ROW \
     EXECUTE FUNCTION sessions_auth_changed()",
    "DROP TRIGGER IF EXISTS users_auth_update ON users",
    "CREATE TRIGGER users_auth_update AFTER UPDATE ON users FOR EACH ROW \
     WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION sessions_auth_changed()",
    "DROP TRIGGER IF EXISTS users_auth_delete ON users",
    "CREATE TRIGGER users_auth_delete AFTER DELETE ON users FOR EACH ROW \
     EXECUTE FUNCTION sessions_auth_changed()",
    // TRUNCATE fires no row trigger: it tells everyone to forget everything.
    "DROP TRIGGER IF EXISTS sessions_auth_truncate ON sessions",
    "CREATE TRIGGER sessions_auth_truncate AFTER TRUNCATE ON sessions FOR EACH STATEMENT \
     EXECUTE FUNCTION sessions_auth_changed()",
    "DROP TRIGGER IF EXISTS users_auth_truncate ON users",
    "CREATE TRIGGER users_auth_truncate AFTER TRUNCATE ON users FOR EACH STATEMENT \
     EXECUTE FUNCTION sessions_auth_changed()",
];

const POSTGRES_DOWN: &[&str] = &[
    "DROP TRIGGER IF EXISTS users_auth_truncate ON users",
    "DROP TRIGGER IF EXISTS sessions_auth_truncate ON sessions",
    "DROP TRIGGER IF EXISTS users_auth_delete ON users",
    "DROP TRIGGER IF EXISTS users_auth_update ON users",
    "DROP TRIGGER IF EXISTS sessions_auth_delete ON sessions",
    "DROP TRIGGER IF EXISTS sessions_auth_update ON sessions",
    "DROP FUNCTION IF EXISTS sessions_auth_changed()",
];

/// `changed_at` (Unix milliseconds) lets old rows be pruned.
const SQLITE_CHANGED_AT: &str = "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)";

fn sqlite_up() -> Vec<String> {
    let mut statements = vec![
        "CREATE TABLE IF NOT EXISTS auth_changes (id INTEGER PRIMARY KEY AUTOINCREMENT, \
         user_id TEXT NOT NULL, changed_at INTEGER NOT NULL)"
            .to_owned(),
        "CREATE INDEX IF NOT EXISTS auth_changes_changed_at ON auth_changes (changed_at)"
            .to_owned(),
    ];
    for (trigger, event, table, owner) in [
        ("sessions_auth_update", "UPDATE", "sessions", "user_id"),
        ("sessions_auth_delete", "DELETE", "sessions", "user_id"),
        ("users_auth_update", "UPDATE", "users", "id"),
        ("users_auth_delete", "DELETE", "users", "id"),
    ] {
        statements.push(format!(
            "CREATE TRIGGER IF NOT EXISTS {trigger} AFTER {event} ON {table} BEGIN \
             INSERT INTO auth_changes (user_id, changed_at) VALUES (old.{owner}, {SQLITE_CHANGED_AT}); END"
        ));
    }
    statements
}

const SQLITE_DOWN: &[&str] = &[
    "DROP TRIGGER IF EXISTS users_auth_delete",
    "DROP TRIGGER IF EXISTS users_auth_update",
    "DROP TRIGGER IF EXISTS sessions_auth_delete",
    "DROP TRIGGER IF EXISTS sessions_auth_update",
    "DROP TABLE IF EXISTS auth_changes",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DbBackend::Postgres => run_all(db, POSTGRES_UP).await,
            DbBackend::Sqlite => run_all(db, sqlite_up()).await,
            _ => Ok(()),
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DbBackend::Postgres => run_all(db, POSTGRES_DOWN).await,
            DbBackend::Sqlite => run_all(db, SQLITE_DOWN).await,
            _ => Ok(()),
        }
    }
}
