//! Connections held out of the pool for the hot reads (token check, session
//! by id, listings): sqlx's pool pings every connection it takes back, a
//! second round trip per query, which for a lookup is half the database's work.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use sea_orm::{
    ConnAcquireErr, DatabaseConnection, DbBackend, DbErr, QueryResult, RuntimeErr, Statement,
    sea_query::Values,
    sqlx::{self, Database, pool::PoolConnection, postgres::PgRow, sqlite::SqliteRow},
};
use sea_query_sqlx::SqlxValues;
use tokio::sync::{Semaphore, SemaphorePermit};

/// How long a connection is held when the pool sets no maximum lifetime:
/// sqlx's default, so a connection to a database that was failed over away
/// from does not live on here.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(30 * 60);

/// Up to `capacity` connections taken from `pool` and kept: a read takes
/// one, queries and puts it back, with no round trip in between. A read
/// that does not finish (cancelled mid-query) or fails on the connection
/// gives the connection back to the pool instead, whose release check
/// settles or closes it; the next read takes another. A connection is
/// given back once it has been held for the pool's maximum lifetime.
pub(crate) struct HeldConnections<DB: Database> {
    pool: sqlx::Pool<DB>,
    idle: Mutex<Idle<DB>>,
    permits: Semaphore,
    lifetime: Duration,
}

struct Idle<DB: Database> {
    /// With the instant each was taken from the pool.
    connections: Vec<(PoolConnection<DB>, Instant)>,
    /// Set by [`HeldConnections::release_all`], under the same lock a
    /// finished read puts its connection back with, so none is put back
    /// after: the pool's `close` would wait for it forever.
    closed: bool,
}

impl<DB: Database> HeldConnections<DB> {
    fn new(pool: sqlx::Pool<DB>, capacity: usize) -> Self {
        let lifetime = pool
            .options()
            .get_max_lifetime()
            .unwrap_or(DEFAULT_LIFETIME);
        Self {
            pool,
            idle: Mutex::new(Idle {
                connections: Vec::with_capacity(capacity),
                closed: false,
            }),
            permits: Semaphore::new(capacity),
            lifetime,
        }
    }

    /// A held connection, or one from the pool. Waits until `deadline` at
    /// most (a read's one acquire timeout, retries included), for a turn
    /// and for the pool, so a stuck database answers `PoolTimedOut` (503)
    /// as the pool itself would, instead of queueing requests until their
    /// deadline.
    async fn checkout_until(&self, deadline: Instant) -> Result<Checkout<'_, DB>, sqlx::Error> {
        tokio::time::timeout_at(deadline.into(), self.wait_for_checkout())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)?
    }

    /// The pool's acquire timeout.
    fn acquire_timeout(&self) -> Duration {
        self.pool.options().get_acquire_timeout()
    }

    async fn wait_for_checkout(&self) -> Result<Checkout<'_, DB>, sqlx::Error> {
        let permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| sqlx::Error::PoolClosed)?;
        let (connection, held_since) = loop {
            let kept = self
                .idle
                .lock()
                .ok()
                .and_then(|mut idle| idle.connections.pop());
            match kept {
                // Past its lifetime: back to the pool, which closes it.
                Some((old, since)) if since.elapsed() >= self.lifetime => drop(old),
                Some(kept) => break kept,
                None => break (self.pool.acquire().await?, Instant::now()),
            }
        };
        Ok(Checkout {
            home: self,
            connection: Some(connection),
            held_since,
            finished: false,
            _permit: permit,
        })
    }

    /// Held connections waiting for a read.
    fn idle(&self) -> usize {
        self.idle.lock().map_or(0, |idle| idle.connections.len())
    }

    /// Gives the held connections waiting for a read back to the pool,
    /// whose release check closes the dead ones: after one died (a database
    /// restart, a proxy's idle cut) the others likely did too.
    fn forget_idle(&self) {
        let taken = self
            .idle
            .lock()
            .map(|mut idle| std::mem::take(&mut idle.connections));
        // Dropped outside the lock: each drop spawns the pool's release.
        drop(taken);
    }

    /// Gives every held connection back and holds no more: the pool's
    /// `close` waits for every connection taken from it.
    fn release_all(&self) {
        self.permits.close();
        if let Ok(mut idle) = self.idle.lock() {
            idle.closed = true;
        }
        self.forget_idle();
    }
}

/// One read's connection. Kept for the next read only if the read said it
/// finished with the connection in a known state.
pub(crate) struct Checkout<'a, DB: Database> {
    home: &'a HeldConnections<DB>,
    connection: Option<PoolConnection<DB>>,
    held_since: Instant,
    finished: bool,
    _permit: SemaphorePermit<'a>,
}

impl<DB: Database> Checkout<'_, DB> {
    fn connection(&mut self) -> &mut DB::Connection {
        match self.connection.as_mut() {
            Some(connection) => connection,
            None => unreachable!("a checkout owns its connection until dropped"),
        }
    }

    /// The query ran to its end with the connection in step: an answer, or
    /// an error the database reported (sqlx reads on to the end of that
    /// exchange); the connection can serve the next read.
    fn finish(mut self) {
        self.finished = true;
    }
}

impl<DB: Database> Drop for Checkout<'_, DB> {
    fn drop(&mut self) {
        let Some(connection) = self.connection.take() else {
            return;
        };
        if !self.finished {
            // Dropping it hands it back to the pool.
            return;
        }
        let mut put_back = Some(connection);
        if let Ok(mut idle) = self.home.idle.lock()
            && !idle.closed
            && let Some(connection) = put_back.take()
        {
            idle.connections.push((connection, self.held_since));
        }
        // Not put back (closed): dropped outside the lock, to the pool.
        drop(put_back);
    }
}

/// Whether `err` says the connection itself is gone (so the same read on
/// another may answer), not that the database refused or timed out the
/// statement, which another connection would meet again.
fn connection_is_dead(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::WorkerCrashed => true,
        // 08: connection exception; 57P01-57P03: the server shut down or
        // cannot connect now (admin_shutdown, crash_shutdown, cannot_connect_now).
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03")
        }),
        _ => false,
    }
}

/// Whether the connection is still in step after `answer`.
fn in_step<T>(answer: &Result<T, sqlx::Error>) -> bool {
    match answer {
        Ok(_) => true,
        Err(err @ sqlx::Error::Database(_)) => !connection_is_dead(err),
        Err(_) => false,
    }
}

/// Held connections of a PostgreSQL or SQLite pool, for reads (the store's;
/// the benchmark's bare-pool ceiling runs its lookup the same way).
pub struct HeldReads {
    connections: ByBackend,
    /// Listings' turns: at most half the held connections, so the lookups
    /// every request makes always have the other half however many listings
    /// run. None when one connection is held (listings take the pool).
    listing_turns: Option<Semaphore>,
}

enum ByBackend {
    Postgres(HeldConnections<sqlx::Postgres>),
    Sqlite(HeldConnections<sqlx::Sqlite>),
}

/// Runs `$query` (an expression of `$connection`, the held connection) and
/// answers its result. A connection that died idle (a database restart kills
/// every one, held or pooled, and the pool hands its idle ones out unchecked)
/// fails fast; the read then gives the idle held ones back and runs again on
/// another, until the pool's acquire timeout (a read: running it twice
/// changes nothing). Any other error is the answer.
macro_rules! read_on_held {
    ($held:expr, |$connection:ident| $query:expr) => {{
        let deadline = Instant::now() + $held.acquire_timeout();
        loop {
            let mut checkout = $held
                .checkout_until(deadline)
                .await
                .map_err(acquire_error)?;
            let answer = {
                let $connection = checkout.connection();
                $query.await
            };
            if in_step(&answer) {
                checkout.finish();
            } else {
                // Unfinished: the connection goes back to the pool.
                drop(checkout);
            }
            match answer {
                Err(err) if connection_is_dead(&err) && Instant::now() < deadline => {
                    $held.forget_idle();
                }
                answer => break answer.map_err(query_error),
            }
        }
    }};
}

/// A row type a read decodes straight from sqlx's rows, by position: through
/// SeaORM's `QueryResult` every cell is looked up by name, which for a page
/// of 100 listed sessions cost a quarter of the server's time.
pub(crate) trait DecodeRow: Sized {
    fn from_postgres(row: &PgRow) -> Result<Self, sqlx::Error>;
    fn from_sqlite(row: &SqliteRow) -> Result<Self, sqlx::Error>;
}

/// `statement` with its values bound as SeaORM binds them.
fn sqlx_query<DB>(statement: &Statement) -> sqlx::query::Query<'_, DB, SqlxValues>
where
    DB: Database,
    SqlxValues: sqlx::IntoArguments<DB>,
{
    let values = statement.values.clone().unwrap_or(Values(Vec::new()));
    sqlx::query_with(
        sqlx::AssertSqlSafe(statement.sql.as_str()),
        SqlxValues(values),
    )
}

/// Every row `statement` (a read: it may run twice) answers, decoded: on a
/// held connection in one of the listings' turns when one is free, else
/// (all taken, none held, or too few to share) through the pool of `db`.
pub(crate) async fn fetch_rows<T: DecodeRow>(
    held: Option<&HeldReads>,
    db: &DatabaseConnection,
    statement: &Statement,
) -> Result<Vec<T>, DbErr> {
    let turn = held.and_then(HeldReads::free_listing_turn);
    let on_held = held.filter(|_| turn.is_some());
    match (
        on_held.map(|held| &held.connections),
        db.get_database_backend(),
    ) {
        (Some(ByBackend::Postgres(held)), _) => {
            let rows = read_on_held!(held, |connection| sqlx_query(statement)
                .fetch_all(connection))?;
            decode_all(&rows, T::from_postgres)
        }
        (Some(ByBackend::Sqlite(held)), _) => {
            let rows = read_on_held!(held, |connection| sqlx_query(statement)
                .fetch_all(connection))?;
            decode_all(&rows, T::from_sqlite)
        }
        (None, DbBackend::Postgres) => {
            let pool = db.get_postgres_connection_pool();
            let mut connection = pool.acquire().await.map_err(acquire_error)?;
            let rows = sqlx_query(statement)
                .fetch_all(&mut *connection)
                .await
                .map_err(query_error)?;
            decode_all(&rows, T::from_postgres)
        }
        (None, DbBackend::Sqlite) => {
            let pool = db.get_sqlite_connection_pool();
            let mut connection = pool.acquire().await.map_err(acquire_error)?;
            let rows = sqlx_query(statement)
                .fetch_all(&mut *connection)
                .await
                .map_err(query_error)?;
            decode_all(&rows, T::from_sqlite)
        }
        (None, backend) => Err(DbErr::Custom(format!("no reads on {backend:?}"))),
    }
}

fn decode_all<R, T>(
    rows: &[R],
    decode: impl Fn(&R) -> Result<T, sqlx::Error>,
) -> Result<Vec<T>, DbErr> {
    rows.iter()
        .map(decode)
        .collect::<Result<_, _>>()
        .map_err(query_error)
}

/// Half the pool, so writes keep the other half; none of a pool of one.
fn half_of<DB: Database>(pool: &sqlx::Pool<DB>) -> Option<usize> {
    let half = usize::try_from(pool.options().get_max_connections() / 2).unwrap_or(0);
    (half > 0).then_some(half)
}

impl HeldReads {
    pub fn postgres(pool: sqlx::PgPool) -> Option<Self> {
        let capacity = half_of(&pool)?;
        let connections = ByBackend::Postgres(HeldConnections::new(pool, capacity));
        Some(Self::sharing(connections, capacity))
    }

    pub fn sqlite(pool: sqlx::SqlitePool) -> Option<Self> {
        let capacity = half_of(&pool)?;
        let connections = ByBackend::Sqlite(HeldConnections::new(pool, capacity));
        Some(Self::sharing(connections, capacity))
    }

    /// `capacity` held connections, half of them open to listings.
    fn sharing(connections: ByBackend, capacity: usize) -> Self {
        Self {
            connections,
            listing_turns: (capacity >= 2).then(|| Semaphore::new(capacity / 2)),
        }
    }

    pub(crate) fn of(db: &DatabaseConnection) -> Option<Self> {
        match db.get_database_backend() {
            DbBackend::Postgres => Self::postgres(db.get_postgres_connection_pool().clone()),
            DbBackend::Sqlite => Self::sqlite(db.get_sqlite_connection_pool().clone()),
            _ => None,
        }
    }

    /// The row `sql` answers with its one parameter bound to `value`.
    pub async fn fetch_optional(
        &self,
        sql: &'static str,
        value: &str,
    ) -> Result<Option<QueryResult>, DbErr> {
        match &self.connections {
            ByBackend::Postgres(held) => read_on_held!(held, |connection| sqlx::query(sql)
                .bind(value)
                .fetch_optional(connection))
            .map(|row| row.map(QueryResult::from)),
            ByBackend::Sqlite(held) => read_on_held!(held, |connection| sqlx::query(sql)
                .bind(value)
                .fetch_optional(connection))
            .map(|row| row.map(QueryResult::from)),
        }
    }

    /// A listing's turn on the held connections if one is free now; else
    /// the listing takes the pool (as many listings run as the pool allows,
    /// and none waits twice).
    fn free_listing_turn(&self) -> Option<SemaphorePermit<'_>> {
        self.listing_turns.as_ref()?.try_acquire().ok()
    }

    /// Held connections waiting for a read.
    pub fn idle(&self) -> usize {
        match &self.connections {
            ByBackend::Postgres(held) => held.idle(),
            ByBackend::Sqlite(held) => held.idle(),
        }
    }

    /// Gives every held connection back: before the pool closes, which
    /// waits for every connection taken from it.
    pub fn release_all(&self) {
        if let Some(turns) = &self.listing_turns {
            turns.close();
        }
        match &self.connections {
            ByBackend::Postgres(held) => held.release_all(),
            ByBackend::Sqlite(held) => held.release_all(),
        }
    }
}

/// A connection that could not be had, as SeaORM reports it (so the store
/// answers 503 for it, as for any pooled statement).
fn acquire_error(err: sqlx::Error) -> DbErr {
    match err {
        sqlx::Error::PoolTimedOut => DbErr::ConnectionAcquire(ConnAcquireErr::Timeout),
        sqlx::Error::PoolClosed => DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed),
        other => DbErr::Conn(RuntimeErr::SqlxError(Arc::new(other))),
    }
}

fn query_error(err: sqlx::Error) -> DbErr {
    DbErr::Query(RuntimeErr::SqlxError(Arc::new(err)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::sqlite::SqlitePoolOptions;

    #[tokio::test]
    async fn lookups_keep_their_half_while_listings_take_theirs() {
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect("sqlite::memory:")
            .await
            .unwrap();
        // Two held connections, one of them open to listings.
        let held = HeldReads::sqlite(pool).unwrap();
        let ByBackend::Sqlite(connections) = &held.connections else {
            unreachable!("a SQLite pool's held connections");
        };
        // A listing running on a held connection, in its turn.
        let turn = held.free_listing_turn();
        assert!(turn.is_some());
        let running = connections
            .checkout_until(Instant::now() + Duration::from_secs(5))
            .await
            .unwrap();

        // The next listing gets no turn (it takes the pool)...
        assert!(held.free_listing_turn().is_none());
        // ...and a lookup answers on the held connection left.
        let row = held.fetch_optional("SELECT ?1 AS v", "x").await.unwrap();
        assert!(row.is_some());

        running.finish();
        drop(turn);
        assert!(held.free_listing_turn().is_some());
    }
}
