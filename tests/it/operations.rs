//! What operators rely on: health, readiness, metrics, and draining on
//! shutdown.

use std::time::Duration;

use serde_json::json;
use sessions_proto::v1::WatchSessionEventsRequest;
use sessions_service::secrets::password_digest;
use sessions_testkit::{Backend, TestApp, postgres_admin_url, read};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

on_both_databases!(health_and_metrics_are_served, shutdown_drains_event_streams);

async fn health_and_metrics_are_served(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    assert_eq!(
        read(
            app.http
                .get(app.admin_url("/healthz"))
                .send()
                .await
                .unwrap()
        )
        .await,
        (200, json!({"status": "ok"}))
    );
    app.until_token_cache_trusted().await;
    assert_eq!(
        read(app.http.get(app.admin_url("/readyz")).send().await.unwrap()).await,
        (200, json!({"status": "ready", "tokenCache": "trusted"}))
    );
    let mut health = HealthClient::new(app.channel().await);
    for service in [
        "sessions.v1.SessionsService",
        "sessions.v1.InternalSessionsService",
    ] {
        let status = health
            .check(HealthCheckRequest {
                service: service.to_owned(),
            })
            .await
            .unwrap()
            .into_inner()
            .status;
        assert_eq!(status, ServingStatus::Serving as i32, "{service}");
    }

    app.create_user("boss", Some("pw"), &["admin"]).await;
    let boss = app.login("boss", "pw").await;
    let wrong = password_digest("wrong");
    app.get(
        "/api/v1/sessions/list.all",
        &boss,
        &[("x-2fa-code", &wrong)],
    )
    .await;
    app.http.get(app.url("/no/such/path")).send().await.unwrap();
    let metrics = app
        .http
        .get(app.admin_url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for expected in [
        r#"sessions_requests_total{protocol="rest",route="/api/v1/login",status="200"}"#,
        r#"sessions_requests_total{protocol="rest",route="unmatched",status="404"}"#,
        r#"sessions_requests_total{protocol="grpc",route="/sessions.v1.InternalSessionsService/UpsertUser",status="0"}"#,
        r#"sessions_request_duration_seconds_bucket{protocol="rest",route="/api/v1/sessions/list.all",status="400",le="0.005"}"#,
        r#"sessions_two_factor_failures_total{method="password"}"#,
        "sessions_active_sessions ",
        "sessions_db_pool_connections ",
        "sessions_db_pool_max_connections ",
    ] {
        assert!(
            metrics.contains(expected),
            "missing {expected} in\n{metrics}"
        );
    }
}

async fn shutdown_drains_event_streams(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut events = app
        .internal()
        .await
        .watch_session_events(WatchSessionEventsRequest { after_cursor: 0 })
        .await
        .unwrap()
        .into_inner();
    let stopped = tokio::time::timeout(Duration::from_secs(10), app.stop()).await;
    assert!(stopped.is_ok(), "the server did not drain within 10 s");
    // The stream ended (cleanly or with a transport error), it did not hang.
    let next = tokio::time::timeout(Duration::from_secs(5), events.message())
        .await
        .expect("stream ended");
    assert!(!matches!(next, Ok(Some(_))), "{next:?}");
}

/// Readiness reports a database that went away, while liveness stays green.
/// With the cache off, readiness says so (and is still ready).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_says_when_the_token_cache_is_off() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.token_cache.enabled = false).await;
    assert_eq!(
        read(app.http.get(app.admin_url("/readyz")).send().await.unwrap()).await,
        (200, json!({"status": "ready", "tokenCache": "off"}))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_fails_when_the_database_is_gone() {
    let app = TestApp::spawn_with(Backend::Postgres, |c| c.database.timeout_ms = 500).await;
    assert_eq!(
        read(app.http.get(app.admin_url("/readyz")).send().await.unwrap())
            .await
            .0,
        200
    );
    let name = app.database.url().rsplit('/').next().unwrap().to_owned();
    let admin = sea_orm::Database::connect(&postgres_admin_url())
        .await
        .unwrap();
    sea_orm::ConnectionTrait::execute_unprepared(
        &admin,
        &format!("DROP DATABASE {name} WITH (FORCE)"),
    )
    .await
    .unwrap();
    let (status, body) = read(app.http.get(app.admin_url("/readyz")).send().await.unwrap()).await;
    assert_eq!(
        (status, body["status"].clone()),
        (503, json!("unavailable"))
    );
    assert_eq!(
        read(
            app.http
                .get(app.admin_url("/healthz"))
                .send()
                .await
                .unwrap()
        )
        .await
        .0,
        200
    );
    // Requests fail fast with the documented 503 body.
    let started = std::time::Instant::now();
    let (status, body) = app
        .post_tokenless("/api/v1/login", &json!({"user": "a", "password": "b"}))
        .await;
    assert_eq!(
        (status, body),
        (
            503,
            json!({"success": false, "error": "Service unavailable"})
        )
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}
