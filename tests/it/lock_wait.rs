//! A SQLite file locked by another connection: a request waits at most the
//! configured `database_timeout_ms` in all, then answers 503.

use std::time::{Duration, Instant};

use sea_orm::{
    ConnectOptions, Database, DatabaseConnection, SqliteTransactionMode, TransactionOptions,
    TransactionTrait,
};
use serde_json::json;
use sessions_testkit::{Backend, TestApp};

const TIMEOUT_MS: u64 = 1000;

/// A connection of its own to the test's SQLite file, as another process
/// would open it.
async fn second_connection(app: &TestApp) -> DatabaseConnection {
    let mut options = ConnectOptions::new(app.database.url().to_owned());
    options
        .max_connections(1)
        .min_connections(1)
        .sqlx_logging(false);
    Database::connect(options).await.unwrap()
}

async fn timed_login(app: &TestApp) -> (Duration, (u16, serde_json::Value)) {
    let started = Instant::now();
    let answer = app
        .post_tokenless("/api/v1/login", &json!({"user": "rod", "password": "pw"}))
        .await;
    (started.elapsed(), answer)
}

/// 503 with the spec's body, after waiting the timeout but less than `bound`.
fn assert_bounded(what: &str, took: Duration, answer: (u16, serde_json::Value), bound: Duration) {
    eprintln!("{what}: answered {} after {took:?}", answer.0);
    assert_eq!(
        answer,
        (
            503,
            json!({"success": false, "error": "Service unavailable"})
        ),
        "{what}"
    );
    assert!(
        took >= Duration::from_millis(TIMEOUT_MS) && took < bound,
        "{what} took {took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_sqlite_file_answers_503_within_the_timeout() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.database.timeout_ms = TIMEOUT_MS).await;
    app.create_user("rod", Some("pw"), &["user"]).await;
    // Warm: the pool holds its connections and the user row is readable.
    app.login("rod", "pw").await;

    // Another writer holds the write lock: readers go on, writers wait.
    let other = second_connection(&app).await;
    let writing = other
        .begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Exclusive),
            ..TransactionOptions::default()
        })
        .await
        .unwrap();
    for attempt in 0..3 {
        let (took, answer) = timed_login(&app).await;
        // The timeout plus the login's own work (Argon2), with room for a
        // loaded CI machine.
        let bound = Duration::from_millis(2500);
        assert_bounded(&format!("write lock, login {attempt}"), took, answer, bound);
    }
    writing.rollback().await.unwrap();

    // More writers than pooled connections (5), the second five 100 ms after
    // the first: they used to get the connections the first five gave up at
    // 1 s and then wait the full lock timeout again (1.9 s in all).
    let mut sessions = Vec::new();
    for _ in 0..10 {
        sessions.push(app.login("rod", "pw").await);
    }
    let writing = other
        .begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Exclusive),
            ..TransactionOptions::default()
        })
        .await
        .unwrap();
    let logouts = sessions.iter().enumerate().map(|(n, who)| {
        let app = &app;
        async move {
            if n >= 5 {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let started = Instant::now();
            let path = "/api/v1/sessions/logout.me";
            let answer = app
                .post(path, who, json!({"sessionId": who.session_id}), &[])
                .await;
            (started.elapsed(), answer)
        }
    });
    let mut slowest = Duration::ZERO;
    for (n, (took, answer)) in futures::future::join_all(logouts)
        .await
        .into_iter()
        .enumerate()
    {
        slowest = slowest.max(took);
        let bound = Duration::from_millis(TIMEOUT_MS + 700);
        assert_bounded(
            &format!("write lock, concurrent logout {n}"),
            took,
            answer,
            bound,
        );
    }
    eprintln!("slowest of 10 concurrent logouts: {slowest:?}");
    writing.rollback().await.unwrap();
    // Nothing was half-written: every session is still logged in.
    for who in &sessions {
        assert_eq!(app.get("/api/v1/sessions/list", who, &[]).await.0, 200);
    }

    // A lock released within the timeout is waited for, not refused.
    let writing = other
        .begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Exclusive),
            ..TransactionOptions::default()
        })
        .await
        .unwrap();
    let release = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        writing.rollback().await.unwrap();
    };
    let ((took, (status, _)), ()) = tokio::join!(timed_login(&app), release);
    eprintln!("lock released after 300 ms: answered {status} after {took:?}");
    assert_eq!(status, 200);
    other.close().await.unwrap();
}
