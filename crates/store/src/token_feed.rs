//! Following other processes' writes for the token cache: PostgreSQL's
//! `NOTIFY` from the `auth_changes` triggers plus a heartbeat, or polls of
//! SQLite's change log. Whoever follows decides when the cache may answer.

use std::{
    hash::{BuildHasher, RandomState},
    sync::Arc,
    time::Duration,
};

use sea_orm::{
    ConnectionTrait, Statement,
    sqlx::{
        Connection,
        postgres::{PgConnection, PgListener, PgNotification},
    },
};

use crate::{Store, convert::map_db_error, token_cache::TokenCache};

/// What the triggers notify: the id of a user whose token checks changed.
const CHANGES: &str = "sessions_auth_changed";
/// Each replica's heartbeats, `<replica>:<milliseconds>`: one it sent and got
/// back proves every change committed before it was sent has arrived.
const HEARTBEATS: &str = "sessions_auth_heartbeat";

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
    let replica = format!("{:016x}", RandomState::new().hash_one(std::process::id()));
    let beating = tokio::spawn(send_heartbeats(
        url.to_owned(),
        replica.clone(),
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
        match listen(url).await {
            Ok(mut listener) => {
                // Changes made while nobody listened are unknown: forget all.
                cache.clear();
                backoff = Duration::from_millis(50);
                tracing::info!("token cache follows PostgreSQL notifications");
                loop {
                    match tokio::time::timeout(silence, listener.try_recv()).await {
                        Ok(Ok(Some(notification))) => apply(cache, &replica, &notification),
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

async fn listen(url: &str) -> Result<PgListener, sea_orm::sqlx::Error> {
    let mut listener = PgListener::connect(url).await?;
    // A lost connection is reported, not silently replaced: notifications
    // sent meanwhile are gone, and the cache must be cleared first.
    listener.eager_reconnect(false);
    listener.listen_all([CHANGES, HEARTBEATS]).await?;
    Ok(listener)
}

fn apply(cache: &TokenCache, replica: &str, notification: &PgNotification) {
    let payload = notification.payload();
    if notification.channel() == CHANGES {
        cache.invalidate_user(payload);
        return;
    }
    let Some((sender, sent_ms)) = payload.split_once(':') else {
        return;
    };
    if sender != replica {
        return;
    }
    if let Ok(sent_ms) = sent_ms.parse::<u64>() {
        cache.heard(sent_ms);
        let lag_ms = cache.now_ms().saturating_sub(sent_ms);
        metrics::gauge!("sessions_token_cache_notification_lag_seconds")
            .set(lag_ms as f64 / 1000.0);
    }
}

/// Heartbeats on a connection of their own: queued behind requests for a
/// pooled connection, a busy replica would stop trusting its cache exactly
/// when the cache matters most.
async fn send_heartbeats(url: String, replica: String, cache: Arc<TokenCache>) {
    let mut connection: Option<PgConnection> = None;
    let mut tick = tokio::time::interval(cache.settings.feed_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if connection.is_none() {
            connection = PgConnection::connect(&url).await.ok();
        }
        let Some(open) = connection.as_mut() else {
            continue;
        };
        let payload = format!("{replica}:{}", cache.now_ms());
        let sent = sea_orm::sqlx::query("SELECT pg_notify($1, $2)")
            .bind(HEARTBEATS)
            .bind(payload)
            .execute(&mut *open)
            .await;
        if sent.is_err() {
            connection = None;
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
    let mut last_id: Option<i64> = None;
    let mut last_heard_ms = 0u64;
    let mut polls = 0u64;
    let mut tick = tokio::time::interval(cache.settings.feed_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let started_ms = cache.now_ms();
        // Blind for longer than the log is kept: what was missed is unknown.
        let blind_too_long =
            started_ms.saturating_sub(last_heard_ms) > (SQLITE_LOG_KEPT_MS / 2) as u64;
        if last_id.is_none() || blind_too_long {
            match latest_change(store).await {
                Ok(latest) => {
                    cache.clear();
                    last_id = Some(latest);
                    cache.heard(started_ms);
                    last_heard_ms = started_ms;
                }
                Err(err) => {
                    cache.distrust();
                    tracing::warn!(error = %err, "token cache cannot read the change log");
                }
            }
            continue;
        }
        let after = last_id.unwrap_or_default();
        match changes_after(store, after).await {
            Ok(changes) => {
                for (id, user_id) in &changes {
                    cache.invalidate_user(user_id);
                    last_id = Some(*id);
                }
                // A full batch may have more behind it: not caught up yet.
                if changes.len() < SQLITE_BATCH {
                    cache.heard(started_ms);
                    last_heard_ms = started_ms;
                }
            }
            Err(err) => {
                cache.distrust();
                tracing::warn!(error = %err, "token cache cannot read the change log");
            }
        }
        polls += 1;
        if polls.is_multiple_of(1000)
            && let Err(err) = prune_changes(store).await
        {
            tracing::warn!(error = %err, "cannot prune the token change log");
        }
    }
}

async fn latest_change(store: &Store) -> sessions_domain::DomainResult<i64> {
    let row = store
        .db
        .query_one_raw(Statement::from_string(
            store.db.get_database_backend(),
            "SELECT COALESCE(MAX(id), 0) AS id FROM auth_changes",
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
    store: &Store,
    after: i64,
) -> sessions_domain::DomainResult<Vec<(i64, String)>> {
    let backend = store.db.get_database_backend();
    let rows = store
        .db
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

async fn prune_changes(store: &Store) -> sessions_domain::DomainResult<()> {
    let before = chrono::Utc::now().timestamp_millis() - SQLITE_LOG_KEPT_MS;
    let txn = store.begin_write().await.map_err(map_db_error)?;
    txn.execute_raw(Statement::from_sql_and_values(
        store.db.get_database_backend(),
        "DELETE FROM auth_changes WHERE changed_at < ?",
        [before.into()],
    ))
    .await
    .map_err(map_db_error)?;
    txn.commit().await.map_err(map_db_error)
}
