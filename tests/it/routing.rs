//! Paths, methods and bodies the edge refuses before any RPC runs.

use reqwest::Method;
use serde_json::json;
use sessions_testkit::{Backend, TestApp, read};

on_both_databases!(unknown_paths_and_methods_answer_json);

/// A request without credentials or body.
async fn send(app: &TestApp, method: Method, path: &str) -> reqwest::Response {
    app.http
        .request(method, app.url(path))
        .send()
        .await
        .unwrap()
}

async fn unknown_paths_and_methods_answer_json(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.listener.max_body_bytes = 1024).await;
    let (status, body) = read(send(&app, Method::GET, "/api/v1/nope").await).await;
    assert_eq!(
        (status, body),
        (404, json!({"success": false, "error": "Not found"}))
    );
    let response = send(&app, Method::GET, "/api/v1/login").await;
    assert_eq!(response.headers()["allow"], "POST");
    assert_eq!(
        read(response).await,
        (
            405,
            json!({"success": false, "error": "Method not allowed"})
        )
    );
    // HEAD is GET without a body; GET-only paths name both in `Allow`.
    let head = send(&app, Method::HEAD, "/api/v1/sessions/list").await;
    assert_eq!(
        (
            head.status().as_u16(),
            head.headers()["content-type"].to_str().unwrap()
        ),
        (401, "application/json")
    );
    assert!(head.bytes().await.unwrap().is_empty());
    let head = send(&app, Method::HEAD, "/api/v1/openapi.json").await;
    let get = send(&app, Method::GET, "/api/v1/openapi.json").await;
    // The length of the body GET would send (RFC 9110), and no body.
    assert_eq!(
        (head.status().as_u16(), head.headers().get("content-length")),
        (200, get.headers().get("content-length"))
    );
    assert!(head.headers().get("content-length").is_some());
    assert!(head.bytes().await.unwrap().is_empty());
    let response = send(&app, Method::POST, "/api/v1/sessions/list").await;
    assert_eq!(response.headers()["allow"], "GET, HEAD");
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

/// Slow or oversized clients are cut off instead of pinning a connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_oversized_clients_are_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.listener.header_read_timeout_secs = 1;
        c.listener.max_header_bytes = 8192;
    })
    .await;
    // Half a request head, then silence: the server closes the connection.
    let mut slow = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    slow.write_all(b"GET /api/v1/sessions/list HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut buffer = Vec::new();
    let closed = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        slow.read_to_end(&mut buffer),
    )
    .await;
    assert!(closed.is_ok(), "the connection was still open after 5 s");
    assert!(started.elapsed() < std::time::Duration::from_secs(4));

    let response = app
        .http
        .get(app.url("/api/v1/sessions/list"))
        .header("x-padding", "p".repeat(20_000))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 431);

    app.create_user("rod", Some("pw"), &["user"]).await;
    let rod = app.login("rod", "pw").await;
    let long = "s".repeat(2000);
    assert_eq!(
        app.get(
            &format!("/api/v1/sessions/info?sessionId={long}"),
            &rod,
            &[]
        )
        .await,
        (
            400,
            json!({
                "success": false,
                "error": "must NOT have more than 1024 characters [invalid-params]",
                "errorType": "invalid-params"
            })
        )
    );
}

/// Browsers on an allowed origin get CORS answers, preflight included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_origins_get_cors_headers() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.listener.cors_allowed_origins = vec!["https://chat.example.com".into()]
    })
    .await;
    let preflight = app
        .http
        .request(reqwest::Method::OPTIONS, app.url("/api/v1/sessions/list"))
        .header("origin", "https://chat.example.com")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "x-user-id,x-auth-token")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status().as_u16(), 200);
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "https://chat.example.com"
    );
    let allowed = preflight.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(allowed.contains("x-auth-token"), "{allowed}");
    let other = app
        .http
        .get(app.url("/api/v1/sessions/list"))
        .header("origin", "https://evil.example.com")
        .send()
        .await
        .unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
}
