//! SeaORM storage of the session service: one schema, SQLite or PostgreSQL,
//! chosen by the database URL.

mod attempts;
mod audit;
mod convert;
mod entities;
mod events;
mod permissions;
mod sessions;
mod users;

use std::time::Duration;

use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use sessions_domain::DomainResult;
use sessions_migrations::{Migrator, MigratorTrait};

pub use convert::map_db_error;

/// How to reach the database.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub url: String,
    pub max_connections: u32,
    /// How long a request waits for a pooled connection before failing with 503.
    pub acquire_timeout: Duration,
    pub connect_timeout: Duration,
}

impl StoreOptions {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: 16,
            acquire_timeout: Duration::from_secs(3),
            connect_timeout: Duration::from_secs(3),
        }
    }
}

/// A snapshot of the connection pool, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    pub size: u32,
    pub idle: usize,
    pub max: u32,
}

/// The repositories of `sessions-domain`, implemented over one connection pool.
#[derive(Debug, Clone)]
pub struct Store {
    db: DatabaseConnection,
}

impl Store {
    /// Opens the pool. A SQLite file is created when missing.
    pub async fn connect(options: &StoreOptions) -> DomainResult<Self> {
        let url = sqlite_url_creating_file(&options.url);
        let mut connect = ConnectOptions::new(url);
        connect
            .max_connections(options.max_connections)
            .min_connections(1)
            .acquire_timeout(options.acquire_timeout)
            .connect_timeout(options.connect_timeout)
            .test_before_acquire(false)
            // A SQLite file locked by another process is waited for as long as
            // a pooled connection would be, then answered 503 (sqlx waits 5 s).
            .map_sqlx_sqlite_opts({
                let busy = options.acquire_timeout;
                move |sqlite| sqlite.busy_timeout(busy)
            })
            // sqlx would log every statement; we log at the service layer.
            .sqlx_logging(false);
        let db = Database::connect(connect).await.map_err(map_db_error)?;
        if db.get_database_backend() == DbBackend::Sqlite {
            // WAL lets readers run beside the one writer.
            db.execute_unprepared("PRAGMA journal_mode=WAL")
                .await
                .map_err(map_db_error)?;
        }
        Ok(Self { db })
    }

    /// A transaction that writes. On SQLite it takes the write lock at BEGIN
    /// (`IMMEDIATE`), waiting for it under the busy timeout: a deferred one
    /// that reads first and then writes is refused at once with `SQLITE_BUSY`
    /// when another connection wrote in between, which no wait can fix.
    pub(crate) async fn begin_write(&self) -> Result<sea_orm::DatabaseTransaction, sea_orm::DbErr> {
        self.db
            .begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..TransactionOptions::default()
            })
            .await
    }

    pub fn is_sqlite(&self) -> bool {
        self.db.get_database_backend() == DbBackend::Sqlite
    }

    /// Applies every pending migration.
    pub async fn migrate(&self) -> DomainResult<()> {
        Migrator::up(&self.db, None).await.map_err(map_db_error)
    }

    /// Rolls back the last `steps` migrations (all when None).
    pub async fn migrate_down(&self, steps: Option<u32>) -> DomainResult<()> {
        Migrator::down(&self.db, steps).await.map_err(map_db_error)
    }

    /// Names of migrations not yet applied.
    pub async fn pending_migrations(&self) -> DomainResult<Vec<String>> {
        let pending = Migrator::get_pending_migrations(&self.db)
            .await
            .map_err(map_db_error)?;
        Ok(pending.iter().map(|m| m.name().to_owned()).collect())
    }

    /// A round trip to the database.
    pub async fn ping(&self) -> DomainResult<()> {
        self.db.ping().await.map_err(map_db_error)
    }

    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Connections open, idle, and the pool's maximum.
    pub fn pool_stats(&self) -> PoolStats {
        match self.db.get_database_backend() {
            DbBackend::Postgres => {
                let pool = self.db.get_postgres_connection_pool();
                PoolStats {
                    size: pool.size(),
                    idle: pool.num_idle(),
                    max: pool.options().get_max_connections(),
                }
            }
            _ => {
                let pool = self.db.get_sqlite_connection_pool();
                PoolStats {
                    size: pool.size(),
                    idle: pool.num_idle(),
                    max: pool.options().get_max_connections(),
                }
            }
        }
    }

    pub async fn close(self) -> DomainResult<()> {
        self.db.close().await.map_err(map_db_error)
    }
}

/// `sqlite://path` opens read-write-create unless the URL says otherwise.
fn sqlite_url_creating_file(url: &str) -> String {
    if url.starts_with("sqlite:") && !url.contains("mode=") && !url.contains(":memory:") {
        let separator = if url.contains('?') { '&' } else { '?' };
        format!("{url}{separator}mode=rwc")
    } else {
        url.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sessions_domain::DomainError;

    #[test]
    fn sqlite_urls_create_their_file() {
        assert_eq!(
            sqlite_url_creating_file("sqlite://a.db"),
            "sqlite://a.db?mode=rwc"
        );
        assert_eq!(
            sqlite_url_creating_file("sqlite://a.db?mode=ro"),
            "sqlite://a.db?mode=ro"
        );
        assert_eq!(
            sqlite_url_creating_file("postgres://h/db"),
            "postgres://h/db"
        );
    }

    #[test]
    fn unreachable_database_is_unavailable() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let mut options = StoreOptions::new("postgres://nobody@127.0.0.1:1/none");
        options.connect_timeout = Duration::from_millis(200);
        options.acquire_timeout = Duration::from_millis(200);
        let err = runtime.block_on(Store::connect(&options)).unwrap_err();
        assert!(matches!(err, DomainError::Unavailable(_)), "{err:?}");
    }
}
