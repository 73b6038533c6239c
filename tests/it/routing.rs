//! Paths, methods and bodies the edge refuses before any RPC runs.

use serde_json::json;
use sessions_testkit::{Backend, TestApp, read};

on_both_databases!(unknown_paths_and_methods_answer_json);

async fn unknown_paths_and_methods_answer_json(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.max_body_bytes = 1024).await;
    let (status, body) = read(app.http.get(app.url("/api/v1/nope")).send().await.unwrap()).await;
    assert_eq!(
        (status, body),
        (404, json!({"success": false, "error": "Not found"}))
    );
    let response = app.http.get(app.url("/api/v1/login")).send().await.unwrap();
    assert_eq!(response.headers()["allow"], "POST");
    assert_eq!(
        read(response).await,
        (
            405,
            json!({"success": false, "error": "Method not allowed"})
        )
    );
    let (status, body) = read(
        app.http
            .post(app.url("/api/v1/login"))
            .body("x".repeat(2048))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body),
        (
            413,
            json!({"success": false, "error": "Request entity too large"})
        )
    );
    let (status, body) = read(
        app.http
            .post(app.url("/api/v1/login"))
            .body("{not json")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body),
        (
            400,
            json!({"success": false, "error": "must be object [invalid-params]", "errorType": "invalid-params"})
        )
    );
}
