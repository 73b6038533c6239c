//! PostgreSQL going away while the server runs: requests fail fast with 503,
//! readiness turns red, nothing answered 200 is lost, and the service recovers
//! by itself when the database returns.

use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, Database};
use serde_json::json;
use sessions_testkit::{Backend, TestApp, postgres_admin_url, read};

async fn admin_sql(sql: &str) {
    let admin = Database::connect(&postgres_admin_url()).await.unwrap();
    admin.execute_unprepared(sql).await.unwrap();
    admin.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_outage_fails_fast_and_recovers() {
    let app = TestApp::spawn_with(Backend::Postgres, |c| c.database.timeout_ms = 1000).await;
    let name = app.database.url().rsplit('/').next().unwrap().to_owned();
    app.create_user("rod", Some("pw"), &["user"]).await;
    let kept = app.login("rod", "pw").await;
    let ended = app.login("rod", "pw").await;
    assert_eq!(
        app.post("/api/v1/logout", &ended, json!({}), &[]).await.0,
        200
    );

    // The outage: no new connections, and every open one is cut.
    admin_sql(&format!(
        "ALTER DATABASE {name} WITH ALLOW_CONNECTIONS false"
    ))
    .await;
    admin_sql(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
    ))
    .await;

    let unavailable = json!({"success": false, "error": "Service unavailable"});
    for _ in 0..3 {
        let started = Instant::now();
        assert_eq!(
            app.get("/api/v1/sessions/list", &kept, &[]).await,
            (503, unavailable.clone())
        );
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "took {:?}",
            started.elapsed()
        );
    }
    // A logout that cannot be stored is not answered 200.
    let during = app
        .post(
            "/api/v1/sessions/logout.me",
            &kept,
            json!({"sessionId": kept.session_id}),
            &[],
        )
        .await;
    assert_eq!(during, (503, unavailable));
    let (status, _) = read(app.http.get(app.admin_url("/readyz")).send().await.unwrap()).await;
    assert_eq!(status, 503);

    admin_sql(&format!(
        "ALTER DATABASE {name} WITH ALLOW_CONNECTIONS true"
    ))
    .await;
    let back = Instant::now();
    loop {
        let (status, body) = app.get("/api/v1/sessions/list", &kept, &[]).await;
        if status == 200 {
            assert_eq!(body["total"], json!(1));
            break;
        }
        assert_eq!(status, 503);
        assert!(
            back.elapsed() < Duration::from_secs(15),
            "no recovery within 15 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("recovered {:?} after the database returned", back.elapsed());
    let (status, _) = read(app.http.get(app.admin_url("/readyz")).send().await.unwrap()).await;
    assert_eq!(status, 200);
    // The logout answered 200 before the outage held; the one refused did not happen.
    assert_eq!(app.get("/api/v1/sessions/list", &ended, &[]).await.0, 401);
    assert_eq!(app.get("/api/v1/sessions/list", &kept, &[]).await.0, 200);
}

/// The connections held out of the pool for lookups, and the pool's own, cut
/// by the database (a restart, a proxy's idle timeout): the first request
/// after the cut answers, and none of the dead connections lingers to fail a
/// later one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cut_lookup_connections_are_replaced() {
    // Without the cache every request looks its token up in the database.
    let app = TestApp::spawn_with(Backend::Postgres, |c| c.token_cache.enabled = false).await;
    let name = app.database.url().rsplit('/').next().unwrap().to_owned();
    app.create_user("rod", Some("pw"), &["user"]).await;
    let rod = app.login("rod", "pw").await;
    let info = format!("/api/v1/sessions/info?sessionId={}", rod.session_id);
    // Several lookups at once, so several connections are held.
    let (status, before) = app.get(&info, &rod, &[]).await;
    assert_eq!(status, 200);
    assert_eq!(before["sessionId"], rod.session_id.as_str());
    let warm = (0..8).map(|_| app.get(&info, &rod, &[]));
    for answer in futures::future::join_all(warm).await {
        assert_eq!(answer, (200, before.clone()));
    }

    admin_sql(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
    ))
    .await;

    // The same answer as before the cut.
    assert_eq!(app.get(&info, &rod, &[]).await, (200, before.clone()));
    for _ in 0..40 {
        assert_eq!(app.get(&info, &rod, &[]).await, (200, before.clone()));
    }
}
