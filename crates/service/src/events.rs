//! Following the durable event log: every event after a cursor, in order, once.

use std::time::{Duration, Instant};

use sessions_domain::{DomainResult, SessionEvent};
use tokio::sync::mpsc;

use crate::SessionService;

/// How watchers poll the log.
#[derive(Debug, Clone)]
pub struct WatchSettings {
    pub poll_interval: Duration,
    /// How long a hole in the cursors is waited for before it is skipped. Holes
    /// come from transactions that took a cursor but have not committed yet (or
    /// rolled back); waiting is what keeps a slow commit on another replica from
    /// being passed over.
    pub gap_timeout: Duration,
    pub batch: u64,
}

impl Default for WatchSettings {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_millis(200),
            gap_timeout: Duration::from_secs(2),
            batch: 500,
        }
    }
}

impl SessionService {
    pub async fn events_after(&self, after: i64, limit: u64) -> DomainResult<Vec<SessionEvent>> {
        self.repo().events_after(after, limit).await
    }

    /// Deletes events older than the retention; answers how many.
    pub async fn prune_events(&self, retention: Duration) -> DomainResult<u64> {
        let retention =
            chrono::Duration::from_std(retention).unwrap_or_else(|_| chrono::Duration::days(7));
        self.repo().prune_events(self.now() - retention).await
    }

    /// Streams events after `after_cursor` until the receiver is dropped. A
    /// storage error ends the stream with that error; the consumer resumes from
    /// its last cursor.
    pub fn watch_events(
        &self,
        after_cursor: i64,
        settings: WatchSettings,
    ) -> mpsc::Receiver<DomainResult<SessionEvent>> {
        let (sender, receiver) = mpsc::channel(256);
        let service = self.clone();
        tokio::spawn(async move {
            let mut last = after_cursor.max(0);
            // A consumer starting from scratch takes the oldest kept event as is.
            let mut fresh_start = after_cursor <= 0;
            let mut gap_seen_at: Option<Instant> = None;
            loop {
                let batch = match service.events_after(last, settings.batch).await {
                    Ok(batch) => batch,
                    Err(err) => {
                        let _ = sender.send(Err(err)).await;
                        return;
                    }
                };
                let full = batch.len() as u64 == settings.batch;
                for event in batch {
                    let contiguous = event.cursor == last + 1 || fresh_start;
                    let gap_expired =
                        gap_seen_at.is_some_and(|seen| seen.elapsed() >= settings.gap_timeout);
                    if !contiguous && !gap_expired {
                        gap_seen_at.get_or_insert_with(Instant::now);
                        break;
                    }
                    fresh_start = false;
                    gap_seen_at = None;
                    last = event.cursor;
                    if sender.send(Ok(event)).await.is_err() {
                        return;
                    }
                }
                if !full || gap_seen_at.is_some() {
                    tokio::select! {
                        _ = tokio::time::sleep(settings.poll_interval) => {}
                        _ = sender.closed() => return,
                    }
                }
            }
        });
        receiver
    }
}
