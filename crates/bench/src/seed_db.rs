//! Writes the generated data set into a fresh database: PostgreSQL by `COPY`,
//! SQLite by multi-row `INSERT`s in one transaction, both straight into the
//! tables the migrations define.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context;
use sea_orm::{
    ConnectionTrait, Database,
    sqlx::{self, postgres::PgPoolCopyExt},
};
use sessions_migrations::{Migrator, MigratorTrait};
use tokio::sync::{Mutex, mpsc};

use crate::seed::{Generator, SeedSpec, Seeded, SessionRow, UserRow};

const CHUNK: usize = 10_000;
const SESSION_COLUMNS: &str = "id, session_id, instance_id, login_token_hash, ip, host, \
    device_type, device_name, device_long_version, device_os_name, device_os_version, \
    device_version, user_id, roles, most_important_role, login_at, search_term, created_at, \
    updated_at, last_activity_at, closed_at, logout_at, logout_by, expires_at, \
    tfa_trusted_until, tfa_trusted_ip, tfa_trusted_ua";
const USER_COLUMNS: &str = "id, username, name, roles, active, password_hash, totp_secret, \
    totp_last_step, created_at";

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

/// Runs `parts` generators on blocking threads, each chunk turned into `T`
/// (COPY text, or rows to bind) there too; answers the users, the chunks, and
/// what the load phase needs once every chunk was made.
fn generate<T: Send + 'static>(
    spec: SeedSpec,
    now_ms: i64,
    parts: usize,
    convert: fn(Vec<SessionRow>) -> T,
) -> (
    Vec<UserRow>,
    mpsc::Receiver<T>,
    impl Future<Output = anyhow::Result<Seeded>>,
) {
    let generator = Generator::new(spec, now_ms);
    let users = generator.user_rows();
    let (tx, rx) = mpsc::channel(2 * parts);
    let handles: Vec<_> = generator
        .split(parts)
        .into_iter()
        .map(|mut generator| {
            let tx = tx.clone();
            tokio::task::spawn_blocking(move || {
                loop {
                    let chunk = generator.next_sessions(CHUNK);
                    if chunk.is_empty() || tx.blocking_send(convert(chunk)).is_err() {
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

fn copy_text(rows: Vec<SessionRow>) -> String {
    let mut buf = String::with_capacity(rows.len() * 512);
    for row in &rows {
        session_line(&mut buf, row);
    }
    buf
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

    let (users, rx, seeded) = generate(spec.clone(), now_ms, 2, copy_text);
    let mut buf = String::new();
    for user in &users {
        line(
            &mut buf,
            &[
                Some(&user.id),
                Some(&user.username),
                Some(&user.name),
                Some(&user.roles),
                Some("t"),
                None,
                None,
                None,
                Some(&user.created_at.to_string()),
            ],
        );
    }
    let mut copy = pool
        .copy_in_raw(&format!("COPY users ({USER_COLUMNS}) FROM STDIN"))
        .await?;
    copy.send(buf.as_bytes()).await?;
    copy.finish().await?;
    // Two COPY streams keep both cores busy.
    let rx = Arc::new(Mutex::new(rx));
    let copies = (0..2).map(|_| copy_sessions(&pool, rx.clone()));
    futures::future::try_join_all(copies).await?;
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

/// Streams chunks of COPY text into `sessions` on one connection. Foreign
/// keys are not checked row by row (`session_replication_role = replica`):
/// every owner was written just before, by construction.
async fn copy_sessions(
    pool: &sqlx::PgPool,
    chunks: Arc<Mutex<mpsc::Receiver<String>>>,
) -> anyhow::Result<()> {
    let mut conn = pool.acquire().await?;
    sqlx::query("SET session_replication_role = replica")
        .execute(&mut *conn)
        .await?;
    let mut copy = conn
        .copy_in_raw(&format!("COPY sessions ({SESSION_COLUMNS}) FROM STDIN"))
        .await?;
    loop {
        let chunk = chunks.lock().await.recv().await;
        let Some(chunk) = chunk else { break };
        copy.send(chunk.as_bytes()).await?;
    }
    copy.finish().await?;
    sqlx::query("SET session_replication_role = DEFAULT")
        .execute(&mut *conn)
        .await?;
    Ok(())
}

fn session_line(buf: &mut String, row: &SessionRow) {
    let num = |v: i64| v.to_string();
    let opt = |v: Option<i64>| v.map(|v| v.to_string());
    let (login, expires) = (num(row.login_at), num(row.expires_at));
    let (activity, closed, logout) = (
        opt(row.last_activity_at),
        opt(row.closed_at),
        opt(row.logout_at),
    );
    let d = row.device;
    line(
        buf,
        &[
            Some(&row.id),
            Some(&row.session_id),
            Some(row.instance_id),
            Some(&row.login_token_hash),
            Some(&row.ip),
            Some(row.host),
            Some(&d[0]),
            Some(&d[1]),
            Some(&d[2]),
            Some(&d[3]),
            Some(&d[4]),
            Some(&d[5]),
            Some(&row.user_id),
            Some(row.roles),
            Some(row.most_important_role),
            Some(&login),
            Some(&row.search_term),
            Some(&login),
            Some(activity.as_deref().unwrap_or(&login)),
            activity.as_deref(),
            closed.as_deref(),
            logout.as_deref(),
            row.logout_at.map(|_| row.user_id.as_str()),
            Some(&expires),
            None,
            None,
            None,
        ],
    );
}

/// One line of COPY's text format: tab-separated, `\N` for NULL.
fn line(buf: &mut String, fields: &[Option<&str>]) {
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            buf.push('\t');
        }
        match field {
            None => buf.push_str("\\N"),
            Some(value) => {
                for c in value.chars() {
                    match c {
                        '\\' => buf.push_str("\\\\"),
                        '\t' => buf.push_str("\\t"),
                        '\n' => buf.push_str("\\n"),
                        '\r' => buf.push_str("\\r"),
                        c => buf.push(c),
                    }
                }
            }
        }
    }
    buf.push('\n');
}

/// Rows per multi-row INSERT: 27 columns each stays under SQLite's limit of
/// 32766 bound parameters.
const SQLITE_BATCH: usize = 1000;

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
    let pool = db.get_sqlite_connection_pool().clone();
    let mut conn = pool.acquire().await?;
    // A seeding connection need not survive a power cut, and may hold the
    // whole working set in its page cache.
    for pragma in ["PRAGMA synchronous=OFF", "PRAGMA cache_size=-524288"] {
        sqlx::query(pragma).execute(&mut *conn).await?;
    }
    // As on PostgreSQL: secondary indexes are built once, after the rows.
    let indexes: Vec<(String, String)> = sqlx::query_as(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'sessions' \
         AND sql IS NOT NULL",
    )
    .fetch_all(&mut *conn)
    .await?;
    for (name, _) in &indexes {
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP INDEX \"{name}\"")))
            .execute(&mut *conn)
            .await?;
    }
    sqlx::query("BEGIN").execute(&mut *conn).await?;

    // One generator: SQLite's single writer is the bottleneck, not the rows.
    let (users, mut rx, seeded) = generate(spec.clone(), now_ms, 1, |rows| rows);
    for batch in users.chunks(SQLITE_BATCH) {
        let sql = insert_sql("users", USER_COLUMNS, 9, batch.len());
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for u in batch {
            query = query
                .bind(&u.id)
                .bind(&u.username)
                .bind(&u.name)
                .bind(&u.roles)
                .bind(true)
                .bind(None::<String>)
                .bind(None::<String>)
                .bind(None::<i64>)
                .bind(u.created_at);
        }
        query.execute(&mut *conn).await?;
    }
    let full = insert_sql("sessions", SESSION_COLUMNS, 27, SQLITE_BATCH);
    while let Some(chunk) = rx.recv().await {
        for batch in chunk.chunks(SQLITE_BATCH) {
            let partial;
            let sql = if batch.len() == SQLITE_BATCH {
                &full
            } else {
                partial = insert_sql("sessions", SESSION_COLUMNS, 27, batch.len());
                &partial
            };
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
            for r in batch {
                let d = r.device;
                query = query
                    .bind(&r.id)
                    .bind(&r.session_id)
                    .bind(r.instance_id)
                    .bind(&r.login_token_hash)
                    .bind(&r.ip)
                    .bind(r.host)
                    .bind(&d[0])
                    .bind(&d[1])
                    .bind(&d[2])
                    .bind(&d[3])
                    .bind(&d[4])
                    .bind(&d[5])
                    .bind(&r.user_id)
                    .bind(r.roles)
                    .bind(r.most_important_role)
                    .bind(r.login_at)
                    .bind(&r.search_term)
                    .bind(r.login_at)
                    .bind(r.last_activity_at.unwrap_or(r.login_at))
                    .bind(r.last_activity_at)
                    .bind(r.closed_at)
                    .bind(r.logout_at)
                    .bind(r.logout_at.map(|_| r.user_id.as_str()))
                    .bind(r.expires_at)
                    .bind(None::<i64>)
                    .bind(None::<String>)
                    .bind(None::<String>);
            }
            query.execute(&mut *conn).await?;
        }
    }
    sqlx::query("COMMIT").execute(&mut *conn).await?;
    let seeded = seeded.await?;
    let inserted = started.elapsed();
    for (_, definition) in &indexes {
        sqlx::query(sqlx::AssertSqlSafe(definition.clone()))
            .execute(&mut *conn)
            .await?;
    }
    sqlx::query("ANALYZE").execute(&mut *conn).await?;
    drop(conn);
    // The remaining migrations (the FTS5 search index) over the filled table.
    Migrator::up(&db, None).await.context("migrations")?;
    db.close().await?;
    Ok(SeededDb {
        url: format!("sqlite://{}", path.display()),
        seeded,
        timings: timings(started, inserted),
    })
}

fn insert_sql(table: &str, columns: &str, width: usize, rows: usize) -> String {
    let row = format!("({})", vec!["?"; width].join(","));
    format!(
        "INSERT INTO {table} ({columns}) VALUES {}",
        vec![row; rows].join(",")
    )
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
