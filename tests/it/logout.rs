//! `POST /api/v1/sessions/logout.me` and `POST /api/v1/sessions/logout`.

use serde_json::json;
use sessions_proto::v1::{SessionEventKind, WatchSessionEventsRequest};
use sessions_service::secrets::password_digest;
use sessions_testkit::{Backend, TestApp};

on_both_databases!(
    logout_me_ends_a_session_of_the_caller,
    logout_me_reports_parameter_problems,
    admin_logout_ends_anyones_session,
);

async fn logout_me_ends_a_session_of_the_caller(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_user("rod", Some("pw"), &["user"]).await;
    app.create_user("ann", Some("pw"), &["user"]).await;
    let phone = app.login("rod", "pw").await;
    let laptop = app.login("rod", "pw").await;
    let ann = app.login("ann", "pw").await;
    assert_eq!(
        app.post(
            "/api/v1/sessions/logout.me",
            &laptop,
            json!({"sessionId": phone.session_id}),
            &[]
        )
        .await,
        (200, json!({"sessionId": phone.session_id, "success": true}))
    );
    let (status, _) = app.get("/api/v1/sessions/list", &phone, &[]).await;
    assert_eq!(status, 401);
    let (_, info) = app
        .get(
            &format!("/api/v1/sessions/info?sessionId={}", phone.session_id),
            &laptop,
            &[],
        )
        .await;
    assert_eq!(
        (info["logoutAt"].clone(), info["logoutBy"].clone()),
        (json!("2026-03-01T12:00:00.000Z"), json!(laptop.user_id))
    );
    assert_eq!(
        app.post(
            "/api/v1/sessions/logout.me",
            &laptop,
            json!({"sessionId": ann.session_id}),
            &[]
        )
        .await,
        (404, json!({"success": false, "error": "Session not found"}))
    );
    let (status, _) = app.get("/api/v1/sessions/list", &ann, &[]).await;
    assert_eq!(status, 200);
}

async fn logout_me_reports_parameter_problems(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_user("rod", Some("pw"), &["user"]).await;
    let rod = app.login("rod", "pw").await;
    let invalid = |message: &str| json!({"success": false, "error": format!("{message} [invalid-params]"), "errorType": "invalid-params"});
    assert_eq!(
        app.post("/api/v1/sessions/logout.me", &rod, json!({}), &[])
            .await,
        (400, invalid("must have required property 'sessionId'"))
    );
    assert_eq!(
        app.post(
            "/api/v1/sessions/logout.me",
            &rod,
            json!({"sessionId": 42}),
            &[]
        )
        .await,
        (400, invalid("must be string"))
    );
    assert_eq!(
        app.post(
            "/api/v1/sessions/logout.me",
            &rod,
            json!({"sessionId": ""}),
            &[]
        )
        .await,
        (404, json!({"success": false, "error": "Session not found"}))
    );
    assert_eq!(
        app.post(
            "/api/v1/sessions/logout.me",
            &rod,
            json!({"sessionId": rod.session_id, "all": true}),
            &[]
        )
        .await,
        (400, invalid("must NOT have additional properties"))
    );
}

async fn admin_logout_ends_anyones_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let boss_id = app.create_user("boss", Some("pw"), &["admin"]).await;
    app.create_user("ann", Some("pw"), &["user"]).await;
    let boss = app.login("boss", "pw").await;
    let ann = app.login("ann", "pw").await;
    let body = json!({"sessionId": ann.session_id});
    assert_eq!(
        app.post("/api/v1/sessions/logout", &ann, body.clone(), &[])
            .await,
        (
            403,
            json!({"success": false, "error": "User does not have the permissions required for this action [error-unauthorized]"})
        )
    );
    let (status, answer) = app
        .post("/api/v1/sessions/logout", &boss, body.clone(), &[])
        .await;
    assert_eq!(
        (status, answer["errorType"].clone()),
        (400, json!("totp-required"))
    );
    let code = password_digest("pw");
    assert_eq!(
        app.post(
            "/api/v1/sessions/logout",
            &boss,
            body.clone(),
            &[("x-2fa-code", &code)]
        )
        .await,
        (200, json!({"sessionId": ann.session_id, "success": true}))
    );
    assert_eq!(app.get("/api/v1/sessions/list", &ann, &[]).await.0, 401);
    let ann_again = app.login("ann", "pw").await;
    let first_logout_at = "2026-03-01T12:00:00.000Z";
    // Again: the same answer, and the first logout stays recorded.
    app.clock.advance(chrono::Duration::seconds(5));
    assert_eq!(
        app.post(
            "/api/v1/sessions/logout",
            &boss,
            body,
            &[("x-2fa-code", &code)]
        )
        .await,
        (200, json!({"sessionId": ann.session_id, "success": true}))
    );
    let (status, info) = app
        .get(
            &format!("/api/v1/sessions/info?sessionId={}", ann.session_id),
            &ann_again,
            &[],
        )
        .await;
    assert_eq!(
        (status, info["logoutAt"].clone(), info["logoutBy"].clone()),
        (200, json!(first_logout_at), json!(boss_id))
    );
    // An unknown session is still 404.
    assert_eq!(
        app.post(
            "/api/v1/sessions/logout",
            &boss,
            json!({"sessionId": "NoSuchSession2345"}),
            &[("x-2fa-code", &code)]
        )
        .await,
        (404, json!({"success": false, "error": "Session not found"}))
    );
    // A force-logout event names the admin.
    let mut events = app
        .internal()
        .await
        .watch_session_events(WatchSessionEventsRequest { after_cursor: 0 })
        .await
        .unwrap()
        .into_inner();
    loop {
        let event = events.message().await.unwrap().expect("event");
        if event.kind == SessionEventKind::ForceLogout as i32 {
            assert_eq!(
                (event.session_id, event.by),
                (ann.session_id.clone(), boss_id.clone())
            );
            break;
        }
    }
}
