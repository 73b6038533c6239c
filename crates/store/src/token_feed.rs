//! Following other processes' writes for the token cache: PostgreSQL's
//! `NOTIFY` from the `auth_changes` triggers plus a heartbeat, or polls of
//! SQLite's change log. Whoever follows decides when the cache may answer.

use std::{
    hash::{BuildHasher, RandomState},
    sync::Arc,
    time::Duration,
};

use sea_orm::{
    ConnectionTrait, DatabaseConnection, Statement,
    sqlx::{
        Connection,
        postgres::{PgConnection, PgListener, PgNotification},
    },
};

use crate::{Store, convert::map_db_error, token_cache::TokenCache};

/// What the triggers notify: the id of a user whose token checks changed,
/// or [`EVERYONE`].
const CHANGES: &str = "sessions_auth_changed";
/// A change of unknown users (a TRUNCATE): forget everything.
const EVERYONE: &str = "*";
/// Each replica's heartbeats go to a channel of its own, named with a random
/// id, carrying the milliseconds at which they were sent: one it sent and got
/// back proves every change committed before it was sent has arrived, since
/// PostgreSQL delivers notifications in commit order.
const HEARTBEATS: &str = "sessions_auth_heartbeat_";

/// Log rows are kept this long; a follower blind for longer starts afresh.
const SQLITE_LOG_KEPT_MS: i64 = 10 * 60 * 1000;
const SQLITE_BATCH: usize = 1000;

impl Store {
    /// Follows changes made by every process for this store's token cache,
    /// forever; returns at once when the store keeps no cache.
    pub async fn follow_token_changes(&self) {
        let Some(cache) = self.token_cache.clone() else {
            return;
        };
        if self.is_sqlite() {
            follow_sqlite(self, &cache).await;
        } else {
            follow_postgres(&self.url, &cache).await;
        }
    }
}

async fn follow_postgres(url: &str, cache: &Arc<TokenCache>) {
    let heartbeats = format!(
        "{HEARTBEATS}{:016x}{:016x}",
        RandomState::new().hash_one(std::process::id()),
        RandomState::new().hash_one(std::time::SystemTime::now()),
    );
    let beating = tokio::spawn(send_heartbeats(
        url.to_owned(),
        heartbeats.clone(),
        cache.clone(),
    ));
    // Dropped with this future: heartbeats stop when following does.
    let _beating = AbortOnDrop(beating);
    let interval = cache.settings.feed_interval;
    // Heartbeats arrive every `interval`; this much silence means a dead
    // connection that no error reported.
    let silence = (interval * 50).max(Duration::from_secs(1));
    let mut backoff = Duration::from_millis(50);
    loop {
        cache.distrust();
        match listen(url, &heartbeats).await {
            Ok(mut listener) => {
                // Changes made while nobody listened are unknown: forget all.
                cache.clear();
                backoff = Duration::from_millis(50);
                tracing::info!("token cache follows PostgreSQL notifications");
                loop {
                    match tokio::time::timeout(silence, listener.try_recv()).await {
                        Ok(Ok(Some(notification))) => apply(cache, &notification),
                        Ok(Ok(None)) | Ok(Err(_)) => {
                            tracing::warn!("token cache lost its notification connection");
                            break;
                        }
                        Err(_) => {
                            tracing::warn!("token cache heard no heartbeat; reconnecting");
                            break;
                        }
                    }
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, "token cache cannot listen for notifications");
            }
        }
        cache.distrust();
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

async fn listen(url: &str, heartbeats: &str) -> Result<PgListener, sea_orm::sqlx::Error> {
    let mut listener = PgListener::connect(url).await?;
    // A lost connection is reported, not silently replaced: notifications
    // sent meanwhile are gone, and the cache must be cleared first.
    listener.eager_reconnect(false);
    listener.listen_all([CHANGES, heartbeats]).await?;
    Ok(listener)
}

fn apply(cache: &TokenCache, notification: &PgNotification) {
    let payload = notification.payload();
    if notification.channel() == CHANGES {
        if payload == EVERYONE {
            cache.clear();
        } else {
            cache.invalidate_user(payload);
        }
        return;
    }
    // Our own heartbeat. A time not yet reached is no proof of anything.
    let now_ms = cache.now_ms();
    if let Ok(sent_ms) = payload.parse::<u64>()
        && sent_ms <= now_ms
    {
        cache.heard(sent_ms);
        metrics::gauge!("sessions_token_cache_notification_lag_seconds")
            .set((now_ms - sent_ms) as f64 / 1000.0);
    }
}

/// Heartbeats on a connection of their own: queued behind requests for a
/// pooled connection, a busy replica would stop trusting its cache exactly
/// when the cache matters most. Each step is bounded: a hung connection is
/// replaced rather than waited for.
async fn send_heartbeats(url: String, channel: String, cache: Arc<TokenCache>) {
    let limit = cache.settings.trust_window.max(Duration::from_millis(500));
    let mut connection: Option<PgConnection> = None;
    let mut failing = false;
    let mut tick = tokio::time::interval(cache.settings.feed_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if connection.is_none() {
            match tokio::time::timeout(limit, PgConnection::connect(&url)).await {
                Ok(Ok(open)) => connection = Some(open),
                outcome => {
                    if !failing {
                        let error = match outcome {
                            Ok(Err(err)) => err.to_string(),
                            _ => "timed out".to_owned(),
                        };
                        tracing::warn!(%error, "token cache cannot send heartbeats");
                        failing = true;
                    }
                    // Retry at most once a second while the database is away.
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            }
        }
        let Some(open) = connection.as_mut() else {
            continue;
        };
        let sent = tokio::time::timeout(
            limit,
            sea_orm::sqlx::query("SELECT pg_notify($1, $2)")
                .bind(channel.as_str())
                .bind(cache.now_ms().to_string())
                .execute(&mut *open),
        )
        .await;
        match sent {
            Ok(Ok(_)) => failing = false,
            _ => connection = None,
        }
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn follow_sqlite(store: &Store, cache: &TokenCache) {
    // A connection of its own: behind requests queued for a pooled one, a
    // busy replica's poll came late, the cache stopped answering, and every
    // request went to the database, whose queue kept the poll late.
    let mut feed: Option<DatabaseConnection> = None;
    let mut last_id: Option<i64> = None;
    let mut failing = false;
    let mut polls = 0u64;
    let mut tick = tokio::time::interval(cache.settings.feed_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if feed.is_none() {
            feed = own_connection(&store.url).await;
        }
        let Some(connection) = &feed else {
            cache.distrust();
            continue;
        };
        let started_ms = cache.now_ms();
        match poll_changes(connection, cache, last_id).await {
            Ok(Poll { last, caught_up }) => {
                last_id = Some(last);
                if caught_up {
                    cache.heard(started_ms);
                }
                failing = false;
            }
            Err(err) => {
                cache.distrust();
                feed = None;
                if !failing {
                    tracing::warn!(error = %err, "token cache cannot read the change log");
                    failing = true;
                }
            }
        }
        polls += 1;
        if polls.is_multiple_of(1000)
            && let Err(err) = store.prune_token_changes().await
        {
            tracing::warn!(error = %err, "cannot prune the token change log");
        }
    }
}

async fn own_connection(url: &str) -> Option<DatabaseConnection> {
    let mut options = sea_orm::ConnectOptions::new(url.to_owned());
    options
        .max_connections(1)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(1))
        .sqlx_logging(false);
    sea_orm::Database::connect(options).await.ok()
}

struct Poll {
    /// The newest change applied.
    last: i64,
    /// Nothing newer was left unread.
    caught_up: bool,
}

/// Applies the changes after `after`. Ids are handed out in commit order
/// (one writer at a time) and never reused, so a change missing between
/// `after` and the newest id was pruned unread: then everything is
/// forgotten, as it is on the first poll, when nothing is known.
async fn poll_changes(
    db: &DatabaseConnection,
    cache: &TokenCache,
    after: Option<i64>,
) -> sessions_domain::DomainResult<Poll> {
    let newest = latest_change(db).await?;
    let Some(after) = after else {
        cache.clear();
        return Ok(Poll {
            last: newest,
            caught_up: true,
        });
    };
    let changes = changes_after(db, after).await?;
    let first = changes.first().map(|(id, _)| *id);
    if newest > after && first != Some(after + 1) {
        cache.clear();
        return Ok(Poll {
            last: newest.max(changes.last().map_or(newest, |(id, _)| *id)),
            caught_up: true,
        });
    }
    for (_, user_id) in &changes {
        cache.invalidate_user(user_id);
    }
    Ok(Poll {
        last: changes.last().map_or(after, |(id, _)| *id),
        caught_up: changes.len() < SQLITE_BATCH,
    })
}

/// The newest id ever handed out (AUTOINCREMENT's counter, which pruning
/// leaves alone), committed.
async fn latest_change(db: &DatabaseConnection) -> sessions_domain::DomainResult<i64> {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'auth_changes'), 0) AS id",
        ))
        .await
        .map_err(map_db_error)?;
    Ok(row
        .map(|row| row.try_get::<i64>("", "id"))
        .transpose()
        .map_err(map_db_error)?
        .unwrap_or_default())
}

async fn changes_after(
    db: &DatabaseConnection,
    after: i64,
) -> sessions_domain::DomainResult<Vec<(i64, String)>> {
    let backend = db.get_database_backend();
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "SELECT id, user_id FROM auth_changes WHERE id > ? ORDER BY id LIMIT {SQLITE_BATCH}"
            ),
            [after.into()],
        ))
        .await
        .map_err(map_db_error)?;
    rows.iter()
        .map(|row| Ok((row.try_get("", "id")?, row.try_get("", "user_id")?)))
        .collect::<Result<_, sea_orm::DbErr>>()
        .map_err(map_db_error)
}

impl Store {
    /// Drops SQLite change-log rows older than every follower needs (a
    /// follower further behind forgets its cache); nothing on PostgreSQL.
    pub async fn prune_token_changes(&self) -> sessions_domain::DomainResult<()> {
        if !self.is_sqlite() {
            return Ok(());
        }
        let before = chrono::Utc::now().timestamp_millis() - SQLITE_LOG_KEPT_MS;
        let txn = self.begin_write().await.map_err(map_db_error)?;
        txn.execute_raw(Statement::from_sql_and_values(
            self.db.get_database_backend(),
            "DELETE FROM auth_changes WHERE changed_at < ?",
            [before.into()],
        ))
        .await
        .map_err(map_db_error)?;
        txn.commit().await.map_err(map_db_error)
    }
}
