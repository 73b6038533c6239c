//! Connections held out of the pool for the hot one-row lookups (token check,
//! session by id): sqlx's pool pings every connection it takes back, a
//! second round trip per query, which here is half the database's work.

use std::sync::{Arc, Mutex};

use sea_orm::{
    DatabaseConnection, DbBackend, DbErr, QueryResult, RuntimeErr,
    sqlx::{self, Database, pool::PoolConnection},
};
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::convert::is_connection_error;

/// Up to `capacity` connections taken from `pool` and kept: a lookup takes
/// one, queries and puts it back, with no round trip in between. A lookup
/// that does not finish (cancelled mid-query) or fails on the connection
/// gives the connection back to the pool instead, whose release check
/// settles or closes it; the next lookup takes a fresh one.
pub struct HeldConnections<DB: Database> {
    pool: sqlx::Pool<DB>,
    idle: Mutex<Vec<PoolConnection<DB>>>,
    permits: Semaphore,
}

impl<DB: Database> HeldConnections<DB> {
    pub fn new(pool: sqlx::Pool<DB>, capacity: usize) -> Self {
        Self {
            pool,
            idle: Mutex::new(Vec::with_capacity(capacity)),
            permits: Semaphore::new(capacity),
        }
    }

    /// A held connection, or one from the pool (waiting as long as the
    /// pool's acquire timeout); `reused` says which.
    pub async fn checkout(&self) -> Result<Checkout<'_, DB>, sqlx::Error> {
        let permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| sqlx::Error::PoolClosed)?;
        let kept = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let reused = kept.is_some();
        let connection = match kept {
            Some(connection) => connection,
            None => self.pool.acquire().await?,
        };
        Ok(Checkout {
            home: self,
            connection: Some(connection),
            finished: false,
            reused,
            _permit: permit,
        })
    }

    /// The pool's maximum, held connections included.
    pub fn most_connections(&self) -> u32 {
        self.pool.options().get_max_connections()
    }

    /// Held connections waiting for a lookup.
    pub fn idle(&self) -> usize {
        self.idle.lock().map_or(0, |idle| idle.len())
    }

    /// Gives the held connections waiting for a lookup back to the pool,
    /// whose release check closes the dead ones: after one died (a database
    /// restart, a proxy's idle cut) the others likely did too.
    pub fn forget_idle(&self) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.clear();
        }
    }

    /// Gives every held connection back and holds no more: the pool's
    /// `close` waits for every connection taken from it.
    pub fn release_all(&self) {
        self.permits.close();
        self.forget_idle();
    }
}

/// One lookup's connection. Kept for the next lookup only if the lookup
/// said it finished with the connection in a known state.
pub struct Checkout<'a, DB: Database> {
    home: &'a HeldConnections<DB>,
    connection: Option<PoolConnection<DB>>,
    finished: bool,
    /// Held before: it may have died idle (a database restart), so a
    /// connection error on it is worth one retry on a fresh connection.
    pub reused: bool,
    _permit: SemaphorePermit<'a>,
}

impl<DB: Database> Checkout<'_, DB> {
    pub fn connection(&mut self) -> &mut DB::Connection {
        match self.connection.as_mut() {
            Some(connection) => connection,
            None => unreachable!("a checkout owns its connection until dropped"),
        }
    }

    /// The query ran to its end: an answer, or an error of the statement
    /// (not of the connection); the connection can serve the next lookup.
    pub fn finish(mut self) {
        self.finished = true;
    }
}

impl<DB: Database> Drop for Checkout<'_, DB> {
    fn drop(&mut self) {
        let Some(connection) = self.connection.take() else {
            return;
        };
        if self.finished
            && !self.home.permits.is_closed()
            && let Ok(mut idle) = self.home.idle.lock()
        {
            idle.push(connection);
        }
        // Otherwise dropping it hands it back to the pool.
    }
}

/// The store's held connections, by backend.
pub(crate) enum HeldReads {
    Postgres(HeldConnections<sqlx::Postgres>),
    Sqlite(HeldConnections<sqlx::Sqlite>),
}

/// One row of `sql` with its one parameter bound to `value`, on a held
/// connection. A connection that died idle (a database restart kills every
/// one, held or pooled, and the pool hands its idle ones out unchecked) fails
/// fast; the lookup then gives the idle held ones back and tries again, once
/// per connection the pool may have (a read: running it twice changes
/// nothing). Failing to get a connection at all is not retried.
macro_rules! fetch_one_row {
    ($held:expr, $sql:expr, $value:expr) => {{
        let mut attempts_left = $held.most_connections();
        loop {
            let mut checkout = $held.checkout().await.map_err(query_error)?;
            let answer = sqlx::query($sql)
                .bind($value)
                .fetch_optional(checkout.connection())
                .await;
            match answer {
                Err(err) if is_connection_error(&err) => {
                    // Unfinished: the connection goes back to the pool.
                    drop(checkout);
                    $held.forget_idle();
                    if attempts_left > 0 {
                        attempts_left -= 1;
                        continue;
                    }
                    return Err(query_error(err));
                }
                answer => {
                    checkout.finish();
                    return answer
                        .map(|row| row.map(QueryResult::from))
                        .map_err(query_error);
                }
            }
        }
    }};
}

impl HeldReads {
    /// Half the pool, so writes and listings keep the other half; none for
    /// a pool of one.
    pub(crate) fn of(db: &DatabaseConnection, max_connections: u32) -> Option<Self> {
        let capacity = usize::try_from(max_connections / 2).unwrap_or(0);
        if capacity == 0 {
            return None;
        }
        Some(match db.get_database_backend() {
            DbBackend::Postgres => Self::Postgres(HeldConnections::new(
                db.get_postgres_connection_pool().clone(),
                capacity,
            )),
            DbBackend::Sqlite => Self::Sqlite(HeldConnections::new(
                db.get_sqlite_connection_pool().clone(),
                capacity,
            )),
            _ => return None,
        })
    }

    pub(crate) async fn fetch_optional(
        &self,
        sql: &'static str,
        value: &str,
    ) -> Result<Option<QueryResult>, DbErr> {
        match self {
            Self::Postgres(held) => fetch_one_row!(held, sql, value),
            Self::Sqlite(held) => fetch_one_row!(held, sql, value),
        }
    }

    pub(crate) fn idle(&self) -> usize {
        match self {
            Self::Postgres(held) => held.idle(),
            Self::Sqlite(held) => held.idle(),
        }
    }

    pub(crate) fn release_all(&self) {
        match self {
            Self::Postgres(held) => held.release_all(),
            Self::Sqlite(held) => held.release_all(),
        }
    }
}

fn query_error(err: sqlx::Error) -> DbErr {
    DbErr::Query(RuntimeErr::SqlxError(Arc::new(err)))
}
