//! Writes the generated data set into a fresh database through the store's
//! bulk load (PostgreSQL by `COPY`, SQLite by multi-row `INSERT`s, both built
//! from the store's entities), with the secondary indexes built afterwards.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context;
use sea_orm::{ConnectionTrait, Database, sqlx};
use sessions_domain::{Session, User};
use sessions_migrations::{Migrator, MigratorTrait};
use sessions_store::{Store, StoreOptions};
use tokio::sync::{Mutex, mpsc};

use crate::seed::{Generator, SeedSpec, Seeded};

const CHUNK: usize = 10_000;

/// How long each seeding step took.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SeedTimings {
    /// Rows written (users and sessions) with the indexes of the first migrations.
    pub insert_secs: f64,
    /// Migrations applied over the filled tables (the search index) and ANALYZE.
    pub index_secs: f64,
    pub total_secs: f64,
}

/// A seeded database: its URL, what the load needs, and the timings.
pub struct SeededDb {
    pub url: String,
    pub seeded: Seeded,
    pub timings: SeedTimings,
}

/// Runs `parts` generators on blocking threads; answers the users, the
/// chunks of sessions, and what the load phase needs once every chunk was made.
fn generate(
    spec: SeedSpec,
    now_ms: i64,
    parts: usize,
) -> (
    Vec<User>,
    mpsc::Receiver<Vec<Session>>,
    impl Future<Output = anyhow::Result<Seeded>>,
) {
    let generator = Generator::new(spec, now_ms);
    let users = generator.users();
    let (tx, rx) = mpsc::channel(2 * parts);
    let handles: Vec<_> = generator
        .split(parts)
        .into_iter()
        .map(|mut generator| {
            let tx = tx.clone();
            tokio::task::spawn_blocking(move || {
                loop {
                    let chunk = generator.next_sessions(CHUNK);
                    if chunk.is_empty() || tx.blocking_send(chunk).is_err() {
                        break;
                    }
                }
                generator.seeded
            })
        })
        .collect();
    let seeded = async move {
        let mut parts = Vec::new();
        for handle in handles {
            parts.push(handle.await?);
        }
        Seeded::merge(parts).context("no generator")
    };
    (users, rx, seeded)
}

/// Migrations that run before the rows are loaded: every one before the search
/// index, so that index is built over existing data as on a real upgrade.
fn migrations_before_index() -> u32 {
    Migrator::migrations()
        .iter()
        .position(|m| m.name() >= "m20261124_000005")
        .unwrap_or(Migrator::migrations().len()) as u32
}

/// `admin_url` with its database replaced by `database`, options (such as
/// `sslmode`) kept.
pub fn database_url(admin_url: &str, database: &str) -> String {
    let (address, options) = admin_url
        .split_once('?')
        .map_or((admin_url, None), |(address, options)| {
            (address, Some(options))
        });
    let server = address
        .rsplit_once('/')
        .map_or(address, |(server, _)| server);
    match options {
        Some(options) => format!("{server}/{database}?{options}"),
        None => format!("{server}/{database}"),
    }
}

/// Drops and recreates `database` on the server of `admin_url`, then seeds it.
pub async fn seed_postgres(
    admin_url: &str,
    database: &str,
    spec: &SeedSpec,
    now_ms: i64,
) -> anyhow::Result<SeededDb> {
    let started = Instant::now();
    let admin = Database::connect(admin_url)
        .await
        .context("PostgreSQL admin connection")?;
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
        .await?;
    admin
        .execute_unprepared(&format!("CREATE DATABASE {database}"))
        .await?;
    // Index builds over the filled table (the trigram GIN above all) are far
    // faster with room to sort in memory; reset before the server connects.
    admin
        .execute_unprepared(&format!(
            "ALTER DATABASE {database} SET maintenance_work_mem = '512MB'"
        ))
        .await?;
    admin.close().await?;
    let url = database_url(admin_url, database);
    let db = Database::connect(&url).await?;
    Migrator::up(&db, Some(migrations_before_index()))
        .await
        .context("migrations")?;
    let pool = db.get_postgres_connection_pool().clone();
    // Secondary indexes are dropped for the load and rebuilt from their own
    // definitions after: one sorted build is far cheaper than a million
    // random inserts.
    let indexes: Vec<(String, String)> = sqlx::query_as(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() \
         AND tablename = 'sessions' AND indexname <> 'sessions_pkey'",
    )
    .fetch_all(&pool)
    .await?;
    for (name, _) in &indexes {
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP INDEX {name}")))
            .execute(&pool)
            .await?;
    }

    let store = Store::connect(&StoreOptions::new(&url)).await?;
    let (users, rx, seeded) = generate(spec.clone(), now_ms, 2);
    store.bulk_insert_users(&users).await?;
    // Two COPY streams keep both cores busy.
    let rx = Arc::new(Mutex::new(rx));
    let copies = (0..2).map(|_| load_sessions(&store, rx.clone()));
    futures::future::try_join_all(copies).await?;
    store.close().await?;
    let seeded = seeded.await?;
    let inserted = started.elapsed();

    // The dropped indexes and the remaining migrations (the trigram index)
    // build side by side.
    let rebuild = async {
        for (_, definition) in &indexes {
            sqlx::query(sqlx::AssertSqlSafe(definition.clone()))
                .execute(&pool)
                .await?;
        }
        anyhow::Ok(())
    };
    let migrate = async { Migrator::up(&db, None).await.context("migrations") };
    tokio::try_join!(rebuild, migrate)?;
    db.execute_unprepared("ANALYZE").await?;
    db.execute_unprepared(&format!(
        "ALTER DATABASE {database} RESET maintenance_work_mem"
    ))
    .await?;
    db.close().await?;
    Ok(SeededDb {
        url,
        seeded,
        timings: timings(started, inserted),
    })
}

fn timings(started: Instant, inserted: Duration) -> SeedTimings {
    let total = started.elapsed();
    SeedTimings {
        insert_secs: inserted.as_secs_f64(),
        index_secs: (total - inserted).as_secs_f64(),
        total_secs: total.as_secs_f64(),
    }
}

/// Loads chunks of sessions as they are made, one chunk per transaction.
async fn load_sessions(
    store: &Store,
    chunks: Arc<Mutex<mpsc::Receiver<Vec<Session>>>>,
) -> anyhow::Result<()> {
    loop {
        let chunk = chunks.lock().await.recv().await;
        let Some(chunk) = chunk else { return Ok(()) };
        store.bulk_insert_sessions(&chunk).await?;
    }
}

/// Creates and seeds the SQLite file `path`.
pub async fn seed_sqlite(
    path: &std::path::Path,
    spec: &SeedSpec,
    now_ms: i64,
) -> anyhow::Result<SeededDb> {
    let started = Instant::now();
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let db = Database::connect(&url).await?;
    db.execute_unprepared("PRAGMA journal_mode=WAL").await?;
    Migrator::up(&db, Some(migrations_before_index()))
        .await
        .context("migrations")?;
    // As on PostgreSQL: secondary indexes are built once, after the rows.
    let pool = db.get_sqlite_connection_pool().clone();
    let indexes: Vec<(String, String)> = sqlx::query_as(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'sessions' \
         AND sql IS NOT NULL",
    )
    .fetch_all(&pool)
    .await?;
    for (name, _) in &indexes {
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP INDEX \"{name}\"")))
            .execute(&pool)
            .await?;
    }

    // One generator and one loader: SQLite's single writer is the
    // bottleneck, not the rows.
    let store = Store::connect(&StoreOptions::new(&url)).await?;
    let (users, mut rx, seeded) = generate(spec.clone(), now_ms, 1);
    store.bulk_insert_users(&users).await?;
    while let Some(chunk) = rx.recv().await {
        store.bulk_insert_sessions(&chunk).await?;
    }
    store.close().await?;
    let seeded = seeded.await?;
    let inserted = started.elapsed();
    for (_, definition) in &indexes {
        sqlx::query(sqlx::AssertSqlSafe(definition.clone()))
            .execute(&pool)
            .await?;
    }
    sqlx::query("ANALYZE").execute(&pool).await?;
    // The remaining migrations (the FTS5 search index) over the filled table.
    Migrator::up(&db, None).await.context("migrations")?;
    db.close().await?;
    Ok(SeededDb {
        url: format!("sqlite://{}", path.display()),
        seeded,
        timings: timings(started, inserted),
    })
}

/// Drops a database the bench created (the quick run cleans up after itself).
pub async fn drop_postgres(admin_url: &str, database: &str) -> anyhow::Result<()> {
    let admin = Database::connect(admin_url).await?;
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
        .await?;
    admin.close().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn database_urls_keep_their_options() {
        assert_eq!(
            super::database_url("postgres://u@h:5432/postgres?sslmode=disable", "bench"),
            "postgres://u@h:5432/bench?sslmode=disable"
        );
        assert_eq!(
            super::database_url("postgres://u@h/postgres", "b"),
            "postgres://u@h/b"
        );
    }
}
