//! The outbox as the database holds it, read past the service's API: what a
//! request queued is committed before its answer, so a test can assert that
//! nothing was queued without waiting for a mail that never comes.

use sea_orm::{ConnectionTrait, Database, Statement};

use crate::TestApp;

/// One outbox row, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    pub kind: String,
    pub to_address: String,
    pub text_body: String,
    pub html_body: String,
    pub sent: bool,
    pub failed: bool,
}

impl TestApp {
    /// Every outbox row, oldest first.
    pub async fn outbox(&self) -> Vec<OutboxRow> {
        let db = Database::connect(self.database.url())
            .await
            .expect("connect to the test database");
        let rows = db
            .query_all_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT kind, to_address, text_body, html_body, sent_at, failed_at \
                 FROM outbox ORDER BY created_at, id",
            ))
            .await
            .expect("read the outbox");
        let _ = db.close().await;
        rows.iter()
            .map(|row| {
                let text = |column| row.try_get::<String>("", column).expect(column);
                let done = |column| {
                    row.try_get::<Option<i64>>("", column)
                        .expect(column)
                        .is_some()
                };
                OutboxRow {
                    kind: text("kind"),
                    to_address: text("to_address"),
                    text_body: text("text_body"),
                    html_body: text("html_body"),
                    sent: done("sent_at"),
                    failed: done("failed_at"),
                }
            })
            .collect()
    }

    /// The outbox once nothing in it waits to be sent; panics after `within`.
    pub async fn outbox_drained(&self, within: std::time::Duration) -> Vec<OutboxRow> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let rows = self.outbox().await;
            if rows.iter().all(|r| r.sent || r.failed) {
                return rows;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "outbox not drained: {rows:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}
