//! SeaORM storage of the session service: one schema, SQLite or PostgreSQL,
//! chosen by the database URL.

mod attempts;
mod audit;
mod bulk;
mod convert;
mod emails;
mod entities;
mod events;
mod held;
mod listing;
mod mail;
mod permissions;
mod search;
mod sessions;
mod token_cache;
mod token_feed;
mod users;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use sea_orm::{
    ConnAcquireErr, ConnectOptions, ConnectionTrait, Database, DatabaseConnection,
    DatabaseTransaction, DbBackend, DbErr, SqliteTransactionMode, TransactionOptions,
    TransactionTrait,
};
use sessions_domain::DomainResult;
use sessions_migrations::{Migrator, MigratorTrait};

pub use convert::map_db_error;
pub use held::HeldReads;
pub use token_cache::TokenCacheSettings;

use token_cache::TokenCache;

/// How to reach the database.
#[derive(Clone)]
pub struct StoreOptions {
    pub url: String,
    pub max_connections: u32,
    /// How long a request waits for a pooled connection before failing with 503.
    pub acquire_timeout: Duration,
    pub connect_timeout: Duration,
}

/// Without the URL, which may hold the database password.
impl std::fmt::Debug for StoreOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreOptions")
            .field("max_connections", &self.max_connections)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .finish_non_exhaustive()
    }
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

/// The repositories of `sessions-domain`, implemented over one connection pool
/// (on SQLite, plus one connection for write transactions).
#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
    /// For connections outside the pool (PostgreSQL notifications).
    url: String,
    /// Token checks from memory; `None` answers each from the database.
    token_cache: Option<Arc<TokenCache>>,
    /// SQLite's write transactions. SQLite has one writer at a time anyway;
    /// on a connection of their own, writers waiting for a file another
    /// process locked queue here instead of holding the connections that
    /// readers (every token check) need, which WAL never makes wait.
    writer: Option<DatabaseConnection>,
    /// The most one store operation waits for the database in all: for a
    /// pooled connection and for SQLite's write lock together.
    wait_limit: Duration,
    /// Half the pool's connections, kept out of it for the one-row lookups
    /// every request makes and, in at most half of them, listings (see
    /// [`held`]); `None` for a pool of one.
    held: Option<Arc<HeldReads>>,
}

/// Without the URL, which may hold the database password.
impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.db.get_database_backend())
            .field("token_cache", &self.token_cache.is_some())
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens the pool. A SQLite file is created when missing.
    pub async fn connect(options: &StoreOptions) -> DomainResult<Self> {
        let url = sqlite_url_creating_file(&options.url);
        let db = Database::connect(connect_options(&url, options, options.max_connections))
            .await
            .map_err(map_db_error)?;
        let mut writer = None;
        if db.get_database_backend() == DbBackend::Sqlite {
            // WAL lets readers run beside the one writer.
            db.execute_unprepared("PRAGMA journal_mode=WAL")
                .await
                .map_err(map_db_error)?;
            writer = Some(
                Database::connect(connect_options(&url, options, 1))
                    .await
                    .map_err(map_db_error)?,
            );
        }
        let held = HeldReads::of(&db).map(Arc::new);
        Ok(Self {
            db,
            url,
            token_cache: None,
            held,
            writer,
            wait_limit: options.acquire_timeout,
        })
    }

    /// This store answers token checks from memory, once
    /// [`Store::follow_token_changes`] runs; set before the store is shared.
    pub fn with_token_cache(mut self, settings: TokenCacheSettings) -> Self {
        self.token_cache = Some(Arc::new(TokenCache::new(settings)));
        self
    }

    /// Whether token checks may answer from memory right now; `None` when
    /// this store keeps no token cache.
    pub fn token_cache_trusted(&self) -> Option<bool> {
        self.token_cache.as_ref().map(|c| c.is_trusted())
    }

    /// What a user's token checks answered has changed (called after the
    /// change committed, so a lookup that starts later reads it).
    pub(crate) fn token_checks_changed(&self, user_id: &str) {
        if let Some(cache) = &self.token_cache {
            cache.invalidate_user(user_id);
        }
    }

    /// A transaction that writes. On SQLite it holds the write lock before it
    /// is handed out (what `BEGIN IMMEDIATE` does): a deferred one that reads
    /// first and then writes is refused at once with `SQLITE_BUSY` when another
    /// connection wrote in between, which no wait can fix.
    ///
    /// The wait for the lock gets only what the wait for the writer connection
    /// left of the timeout: with both at the full timeout, a request queued
    /// behind another lock waiter answered 503 after twice the timeout.
    /// SQLite's busy timeout is per connection, so it is set to the remainder
    /// for the one lock-taking statement and put back right after.
    pub(crate) async fn begin_write(&self) -> Result<DatabaseTransaction, DbErr> {
        let deadline = Instant::now() + self.wait_limit;
        let Some(writer) = &self.writer else {
            return self.db.begin().await;
        };
        let txn = writer
            .begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Deferred),
                ..TransactionOptions::default()
            })
            .await?;
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(DbErr::ConnectionAcquire(ConnAcquireErr::Timeout));
        }
        txn.execute_unprepared(&busy_timeout_pragma(remaining))
            .await?;
        // A write matching no row takes the write lock, waiting at most the
        // remainder; nothing has been read yet, so there is no stale snapshot.
        // Not on a table with triggers: a trigger's FTS index on `sessions`
        // was seen to answer SQLITE_BUSY at once instead of waiting.
        let locked = txn
            .execute_unprepared("UPDATE seaql_migrations SET version = version WHERE 0")
            .await;
        let restored = txn
            .execute_unprepared(&busy_timeout_pragma(self.wait_limit))
            .await;
        locked?;
        restored?;
        Ok(txn)
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

    /// Connections open, idle (held ones waiting for a lookup included), and
    /// the pool's maximum.
    pub fn pool_stats(&self) -> PoolStats {
        let held_idle = self.held.as_ref().map_or(0, |held| held.idle());
        let mut stats = match self.db.get_database_backend() {
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
        };
        stats.idle = stats.idle.saturating_add(held_idle);
        stats
    }

    pub async fn close(self) -> DomainResult<()> {
        // The pool's close waits for every connection taken from it.
        if let Some(held) = &self.held {
            held.release_all();
        }
        if let Some(writer) = self.writer {
            writer.close().await.map_err(map_db_error)?;
        }
        self.db.close().await.map_err(map_db_error)
    }
}

fn connect_options(url: &str, options: &StoreOptions, max_connections: u32) -> ConnectOptions {
    let mut connect = ConnectOptions::new(url.to_owned());
    connect
        .max_connections(max_connections)
        .min_connections(1)
        .acquire_timeout(options.acquire_timeout)
        .connect_timeout(options.connect_timeout)
        .test_before_acquire(false)
        // A SQLite file locked by another process is waited for as long as
        // a pooled connection would be, then answered 503 (sqlx waits 5 s);
        // `begin_write` shortens it by the wait for the writer connection.
        .map_sqlx_sqlite_opts({
            let busy = options.acquire_timeout;
            move |sqlite| sqlite.busy_timeout(busy)
        })
        // sqlx would log every statement; we log at the service layer.
        .sqlx_logging(false);
    connect
}

fn busy_timeout_pragma(wait: Duration) -> String {
    let millis = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX).max(1);
    format!("PRAGMA busy_timeout = {millis}")
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
