//! The two ceilings the service is measured against: a server that does no
//! work (what loopback, hyper and tonic cost) and the service's own lookups
//! sent through a bare sqlx pool (what the database costs).

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use axum::{Router, routing::get};
use sea_orm::sqlx::{
    self, Row,
    postgres::PgPoolOptions,
    sqlite::{SqliteConnectOptions, SqlitePoolOptions},
};
use sessions_store::HeldReads;
use tonic::transport::Channel;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

use crate::load::{Op, op};

/// Path of the no-op REST route.
pub const NOOP_PATH: &str = "/api/v1/noop";

/// A server with the real one's stack (axum carrying tonic routes, HTTP/1.1
/// and HTTP/2 on one port) and nothing behind it: gRPC health answers from
/// memory, REST returns a constant body of the size of a small answer.
pub async fn noop_server(
    stop: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<(SocketAddr, impl Future<Output = anyhow::Result<()>> + Send)> {
    let (_reporter, health) = tonic_health::server::health_reporter();
    let grpc = tonic::service::Routes::new(health).into_axum_router();
    let app = Router::new()
        .route(
            NOOP_PATH,
            get(|| async {
                (
                    [("content-type", "application/json")],
                    r#"{"success":true}"#,
                )
            }),
        )
        .merge(grpc);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let serve = async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(stop)
            .await?;
        Ok(())
    };
    Ok((addr, serve))
}

/// gRPC `Health/Check` on the no-op server.
pub fn noop_grpc(channels: Arc<Vec<Channel>>) -> Op {
    op(move |n| {
        let channel = channels[n as usize % channels.len()].clone();
        async move {
            HealthClient::new(channel)
                .check(HealthCheckRequest {
                    service: String::new(),
                })
                .await
                .map(|_| ())
                .map_err(|status| status.to_string())
        }
    })
}

/// `GET /api/v1/noop` on the no-op server.
pub fn noop_rest(http: reqwest::Client, base: String) -> Op {
    let url: Arc<str> = format!("{base}{NOOP_PATH}").into();
    op(move |_| {
        let (http, url) = (http.clone(), url.clone());
        async move {
            let response = http.get(&*url).send().await.map_err(|e| e.to_string())?;
            let status = response.status();
            response.bytes().await.map_err(|e| e.to_string())?;
            status
                .is_success()
                .then_some(())
                .ok_or_else(|| status.to_string())
        }
    })
}

/// A bare pool to the benchmark database, sized as the server's, with half
/// its connections held out of it for the lookup, as the store holds them.
#[derive(Clone)]
pub enum BarePool {
    Postgres(sqlx::PgPool, Arc<HeldReads>),
    Sqlite(sqlx::SqlitePool, Arc<HeldReads>),
}

impl BarePool {
    pub async fn connect(url: &str, size: u32) -> anyhow::Result<Self> {
        // `--pool-size` is at least 2, so the store holds some, and so do we.
        let too_small = || format!("a pool of {size} holds no lookup connections");
        Ok(if url.starts_with("sqlite:") {
            let options: SqliteConnectOptions = url.parse()?;
            let options = options.journal_mode(sqlx::sqlite::SqliteJournalMode::Wal);
            let pool = SqlitePoolOptions::new()
                .max_connections(size)
                .min_connections(size)
                .test_before_acquire(false)
                .connect_with(options)
                .await?;
            let held = HeldReads::sqlite(pool.clone()).with_context(too_small)?;
            Self::Sqlite(pool, Arc::new(held))
        } else {
            let pool = PgPoolOptions::new()
                .max_connections(size)
                .min_connections(size)
                // As the server's pool: sqlx's default pings every
                // connection it hands out, a round trip per query the
                // server does not make, which would lower the ceiling.
                .test_before_acquire(false)
                .acquire_timeout(Duration::from_secs(5))
                .connect(url)
                .await?;
            let held = HeldReads::postgres(pool.clone()).with_context(too_small)?;
            Self::Postgres(pool, Arc::new(held))
        })
    }

    /// The row of a session by token hash: one indexed lookup of a whole
    /// session, what `sessions/info` reads, on a held connection as the
    /// server's lookups run.
    async fn lookup(&self, token_hash: &str) -> Result<(), String> {
        const SESSION: &str = "SELECT * FROM sessions WHERE login_token_hash = $1";
        let (Self::Postgres(_, held) | Self::Sqlite(_, held)) = self;
        let found = held
            .fetch_optional(SESSION, token_hash)
            .await
            .map(|row| row.is_some());
        found
            .map_err(|e| e.to_string())?
            .then_some(())
            .ok_or_else(|| "no session".to_owned())
    }

    /// Active sessions matching `filter` as the spec defines the match, counted
    /// without LIKE so the check does not share the store's query.
    pub async fn count_matching(&self, filter: &str, now_ms: i64) -> anyhow::Result<i64> {
        let (position, placeholder) = match self {
            Self::Postgres(..) => ("strpos", ("$1", "$2")),
            Self::Sqlite(..) => ("instr", ("?1", "?2")),
        };
        let (f, now) = placeholder;
        let sql = format!(
            "SELECT count(*) AS n FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.logout_at IS NULL AND s.expires_at > {now} AND ({position}(lower(s.search_term), {f}) > 0 \
             OR {position}(lower(u.username), {f}) > 0 OR {position}(lower(u.name), {f}) > 0)"
        );
        let filter = filter.to_lowercase();
        Ok(match self {
            Self::Postgres(pool, _) => sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .bind(&filter)
                .bind(now_ms)
                .fetch_one(pool)
                .await?
                .try_get("n")?,
            Self::Sqlite(pool, _) => sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .bind(&filter)
                .bind(now_ms)
                .fetch_one(pool)
                .await?
                .try_get("n")?,
        })
    }

    pub async fn close(&self) {
        let (Self::Postgres(_, held) | Self::Sqlite(_, held)) = self;
        held.release_all();
        match self {
            Self::Postgres(pool, _) => pool.close().await,
            Self::Sqlite(pool, _) => pool.close().await,
        }
    }
}

/// What a listing asks the database, written by hand: its page (the columns
/// its answer shows, the owner's name and username, newest login first) and
/// the count of all matching active sessions, as two statements (the store
/// counts a user's own listing beside its page in one).
#[derive(Debug, Clone)]
pub enum Listing {
    /// `sessions/list`: one user's sessions.
    OfUser { user_id: String, count: u64 },
    /// `sessions/list.all?filter=`: a substring of the search term, username
    /// or name, through the same indexes the store's query uses.
    Filtered { filter: String, count: u64 },
}

impl Listing {
    /// (WHERE clause, its bound text) for this backend; `$2` is now.
    fn condition(&self, postgres: bool) -> (String, String) {
        let active = "s.logout_at IS NULL AND s.expires_at > $2";
        match self {
            Self::OfUser { user_id, .. } => {
                (format!("s.user_id = $1 AND {active}"), user_id.clone())
            }
            Self::Filtered { filter, .. } if postgres => (
                format!(
                    "{active} AND (lower(s.search_term) LIKE $1 OR s.user_id = ANY(ARRAY(\
                     SELECT id FROM users WHERE lower(username) LIKE $1 OR lower(name) LIKE $1)))"
                ),
                format!("%{}%", filter.to_lowercase()),
            ),
            // SQLite: the FTS5 trigram table narrows the search terms (the
            // filter is a quoted phrase), LIKE keeps the exact matches.
            Self::Filtered { filter, .. } => (
                format!(
                    "{active} AND ((s.id IN (SELECT session_pk FROM sessions_search WHERE sessions_search MATCH $3) \
                     AND lower(s.search_term) LIKE $1) OR s.user_id IN (\
                     SELECT id FROM users WHERE lower(username) LIKE $1 OR lower(name) LIKE $1))"
                ),
                format!("%{}%", filter.to_lowercase()),
            ),
        }
    }

    fn phrase(&self) -> String {
        match self {
            Self::OfUser { .. } => String::new(),
            Self::Filtered { filter, .. } => format!("\"{}\"", filter.replace('"', "\"\"")),
        }
    }

    fn count(&self) -> u64 {
        match self {
            Self::OfUser { count, .. } | Self::Filtered { count, .. } => *count,
        }
    }
}

impl BarePool {
    /// One listing's page (the columns its answer shows, as the store
    /// selects them) and count; answers the count.
    async fn list(&self, listing: &Listing, now_ms: i64) -> Result<i64, String> {
        let postgres = matches!(self, Self::Postgres(..));
        let (mut condition, bound) = listing.condition(postgres);
        if !postgres {
            // SQLite numbers `$n` by first appearance; `?n` is the index.
            condition = condition.replace('$', "?");
        }
        let count_sql = format!("SELECT count(*) AS n FROM sessions s WHERE {condition}");
        let page_sql = format!(
            "SELECT s.session_id, s.user_id, s.device_type, s.device_name, s.device_long_version, \
             s.device_os_name, s.device_os_version, s.device_version, s.host, s.ip, s.login_at, \
             s.last_activity_at, u.name AS owner_name, u.username AS owner_username FROM sessions s \
             JOIN users u ON u.id = s.user_id WHERE {condition} \
             ORDER BY s.login_at DESC, s.session_id LIMIT {}",
            listing.count()
        );
        let error = |e: sqlx::Error| e.to_string();
        match self {
            Self::Postgres(pool, _) => {
                let total: i64 = sqlx::query(sqlx::AssertSqlSafe(count_sql))
                    .bind(&bound)
                    .bind(now_ms)
                    .fetch_one(pool)
                    .await
                    .map_err(error)?
                    .try_get("n")
                    .map_err(error)?;
                sqlx::query(sqlx::AssertSqlSafe(page_sql))
                    .bind(&bound)
                    .bind(now_ms)
                    .fetch_all(pool)
                    .await
                    .map_err(error)?;
                Ok(total)
            }
            Self::Sqlite(pool, _) => {
                let phrase = listing.phrase();
                let bind3 = |sql: String| {
                    let query = sqlx::query(sqlx::AssertSqlSafe(sql))
                        .bind(bound.clone())
                        .bind(now_ms);
                    match listing {
                        Listing::Filtered { .. } => query.bind(phrase.clone()),
                        Listing::OfUser { .. } => query,
                    }
                };
                let total: i64 = bind3(count_sql)
                    .fetch_one(pool)
                    .await
                    .map_err(error)?
                    .try_get("n")
                    .map_err(error)?;
                bind3(page_sql).fetch_all(pool).await.map_err(error)?;
                Ok(total)
            }
        }
    }
}

/// The listings' database ceiling: their page and count through the bare pool.
pub fn db_listing(pool: BarePool, listings: Arc<Vec<Listing>>, now_ms: i64) -> Op {
    op(move |n| {
        let pool = pool.clone();
        let listing = listings[n as usize % listings.len()].clone();
        async move { pool.list(&listing, now_ms).await.map(|_| ()) }
    })
}

/// The single-lookup database ceiling through the bare pool.
pub fn db_lookup(pool: BarePool, token_hashes: Arc<Vec<String>>) -> Op {
    op(move |n| {
        let pool = pool.clone();
        let hashes = token_hashes.clone();
        async move { pool.lookup(&hashes[n as usize % hashes.len()]).await }
    })
}
