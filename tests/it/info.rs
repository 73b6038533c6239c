//! `GET /api/v1/sessions/info` and the spec's common errors on it.

use serde_json::json;
use sessions_service::secrets::hash_login_token;
use sessions_testkit::{Backend, INSTANCE_ID, LoggedIn, TestApp, not_logged_in, read};

on_both_databases!(
    info_returns_the_whole_record,
    info_reports_parameter_problems,
    info_hides_other_users_sessions,
    info_needs_valid_credentials,
    devices_are_parsed_from_the_user_agent,
    expired_sessions_authenticate_as_401,
);

async fn info_returns_the_whole_record(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app
        .create_user(
            "rod",
            Some("pw"),
            &["user", "admin", "livechat-agent", "livechat-manager"],
        )
        .await;
    let rod = app.login("rod", "pw").await;
    let (status, body) = app
        .get(
            &format!("/api/v1/sessions/info?sessionId={}", rod.session_id),
            &rod,
            &[],
        )
        .await;
    assert_eq!(status, 200);
    let record_id = body["_id"].as_str().unwrap().to_owned();
    assert_eq!(record_id.len(), 24);
    assert!(
        record_id
            .chars()
            .all(|c| matches!(c, '0'..='9' | 'a'..='f'))
    );
    assert_eq!(rod.session_id.len(), 17);
    assert_eq!(
        body,
        json!({
            "_id": record_id,
            "type": "session",
            "sessionId": rod.session_id,
            "instanceId": INSTANCE_ID,
            "loginToken": hash_login_token(&rod.token),
            "ip": "127.0.0.1",
            "host": app.host(),
            "device": {
                "type": "browser",
                "name": "Chrome",
                "longVersion": "113.0.0.0",
                "os": {"name": "Windows", "version": "10"},
                "version": "113.0.0"
            },
            "userId": id,
            "roles": ["user", "admin", "livechat-agent", "livechat-manager"],
            "mostImportantRole": "admin",
            "loginAt": "2026-03-01T12:00:00.000Z",
            "day": 1,
            "month": 3,
            "year": 2026,
            "searchTerm": format!("ChromebrowserWindows{}{}", rod.session_id, id),
            "createdAt": "2026-03-01T12:00:00.000Z",
            "_updatedAt": "2026-03-01T12:00:00.000Z",
            "success": true
        })
    );
}

async fn info_reports_parameter_problems(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_user("rod", Some("pw"), &["user"]).await;
    let rod = app.login("rod", "pw").await;
    assert_eq!(
        app.get("/api/v1/sessions/info", &rod, &[]).await,
        (
            400,
            json!({
                "success": false,
                "error": "must have required property 'sessionId' [invalid-params]",
                "errorType": "invalid-params"
            })
        )
    );
    assert_eq!(
        app.get(
            &format!("/api/v1/sessions/info?sessionId={}&extra=1", rod.session_id),
            &rod,
            &[]
        )
        .await,
        (
            400,
            json!({
                "success": false,
                "error": "must NOT have additional properties [invalid-params]",
                "errorType": "invalid-params"
            })
        )
    );
    // An empty id is present, so it passes the schema and names no session.
    assert_eq!(
        app.get("/api/v1/sessions/info?sessionId=", &rod, &[]).await,
        (404, json!({"success": false, "error": "Session not found"}))
    );
    // Authentication comes before parameters.
    let nobody = LoggedIn {
        user_id: rod.user_id.clone(),
        token: "wrong".into(),
        session_id: String::new(),
    };
    assert_eq!(
        app.get("/api/v1/sessions/info?extra=1", &nobody, &[]).await,
        (401, not_logged_in())
    );
}

async fn info_hides_other_users_sessions(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_user("rod", Some("pw"), &["user"]).await;
    app.create_user("ann", Some("pw"), &["user"]).await;
    let rod = app.login("rod", "pw").await;
    let ann = app.login("ann", "pw").await;
    let not_found = json!({"success": false, "error": "Session not found"});
    assert_eq!(
        app.get(
            &format!("/api/v1/sessions/info?sessionId={}", ann.session_id),
            &rod,
            &[]
        )
        .await,
        (404, not_found.clone())
    );
    assert_eq!(
        app.get(
            "/api/v1/sessions/info?sessionId=NoSuchSession2345",
            &rod,
            &[]
        )
        .await,
        (404, not_found)
    );
}

async fn info_needs_valid_credentials(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_user("rod", Some("pw"), &["user"]).await;
    let rod = app.login("rod", "pw").await;
    let path = format!("/api/v1/sessions/info?sessionId={}", rod.session_id);
    let (status, body) = read(app.http.get(app.url(&path)).send().await.unwrap()).await;
    assert_eq!((status, body), (401, not_logged_in()));
    let wrong_token = LoggedIn {
        token: "nope".into(),
        ..rod.clone()
    };
    assert_eq!(
        app.get(&path, &wrong_token, &[]).await,
        (401, not_logged_in())
    );
    let wrong_user = LoggedIn {
        user_id: "someoneelse234567".into(),
        ..rod.clone()
    };
    assert_eq!(
        app.get(&path, &wrong_user, &[]).await,
        (401, not_logged_in())
    );
    let response = app
        .http
        .get(app.url(&path))
        .header("x-user-id", &rod.user_id)
        .header("x-auth-token", &rod.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(response.headers()["content-type"], "application/json");
}

async fn devices_are_parsed_from_the_user_agent(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_user("rod", Some("pw"), &[]).await;
    let rod = app
        .login_as("rod", "pw", "RC Mobile; iOS 12.2; v3.4.0 (250)")
        .await;
    let (status, body) = app
        .get(
            &format!("/api/v1/sessions/info?sessionId={}", rod.session_id),
            &rod,
            &[],
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        body["device"],
        json!({"type": "mobile-app", "name": "RC Mobile", "longVersion": "3.4.0 250", "os": {"name": "iOS", "version": "12.2"}, "version": "3.4.0"})
    );
    assert_eq!(body["mostImportantRole"], json!("no-role"));
    assert_eq!(
        body["searchTerm"],
        json!(format!(
            "RC Mobilemobile-appiOS{}{}",
            rod.session_id, rod.user_id
        ))
    );
    let other = app.login_as("rod", "pw", "").await;
    let (_, body) = app
        .get(
            &format!("/api/v1/sessions/info?sessionId={}", other.session_id),
            &other,
            &[],
        )
        .await;
    assert_eq!(
        body["device"],
        json!({"type": "other", "name": "", "longVersion": "", "os": {"name": "", "version": ""}, "version": ""})
    );
}

async fn expired_sessions_authenticate_as_401(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_user("rod", Some("pw"), &["user"]).await;
    let rod = app.login("rod", "pw").await;
    let path = format!("/api/v1/sessions/info?sessionId={}", rod.session_id);
    app.clock.advance(chrono::Duration::days(89));
    assert_eq!(app.get(&path, &rod, &[]).await.0, 200);
    app.clock.advance(chrono::Duration::days(2));
    assert_eq!(app.get(&path, &rod, &[]).await, (401, not_logged_in()));
}
