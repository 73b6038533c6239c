//! The internal API: service credential, sessions for logins done elsewhere,
//! token checks, activity, closing, mass logout, and the event stream.

use std::sync::Arc;

use sessions_proto::v1::{
    AuthenticateRequest, CloseConnectionRequest, CreateSessionRequest, DeactivateUserRequest,
    ListPermissionsRequest, LogoutUserSessionsRequest, RecordActivityRequest, SessionEventKind,
    WatchSessionEventsRequest,
};
use sessions_service::secrets::hash_login_token;
use sessions_testkit::{Backend, CHROME_UA, TestApp};
use tonic::Code;

async fn session_for(app: &TestApp, user_id: &str, token: &str) -> String {
    app.internal()
        .await
        .create_session(CreateSessionRequest {
            user_id: user_id.to_owned(),
            login_token_hash: hash_login_token(token),
            ip: "198.51.100.7".into(),
            host: "chat.example.com".into(),
            user_agent: CHROME_UA.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .session_id
}

on_both_databases!(
    internal_api_needs_the_service_credential,
    created_sessions_authenticate_until_deactivated,
    activity_is_throttled_and_connections_close,
    logout_everywhere_else,
    watchers_resume_from_their_cursor,
    watchers_see_events_of_other_replicas,
);

async fn internal_api_needs_the_service_credential(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_user("rod", Some("pw"), &["user"]).await;
    let rod = app.login("rod", "pw").await;
    for credential in ["wrong", rod.token.as_str(), ""] {
        let refused = app
            .internal_with(credential)
            .await
            .list_permissions(ListPermissionsRequest {})
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::Unauthenticated, "{credential}");
    }
    let permissions = app
        .internal()
        .await
        .list_permissions(ListPermissionsRequest {})
        .await
        .unwrap()
        .into_inner();
    let ids: Vec<&str> = permissions
        .permissions
        .iter()
        .map(|p| p.id.as_str())
        .collect();
    assert_eq!(
        ids,
        vec![
            "logout-device-management",
            "logout-other-user",
            "view-device-management"
        ]
    );
    // No REST route reaches the internal service.
    let status = app
        .http
        .get(app.url("/api/v1/users"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status.as_u16(), 404);
}

async fn created_sessions_authenticate_until_deactivated(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app.create_user("rod", None, &["user", "bot"]).await;
    let session_id = session_for(&app, &id, "elsewhere-token").await;
    let mut internal = app.internal().await;
    let answer = internal
        .authenticate(AuthenticateRequest {
            user_id: id.clone(),
            login_token: "elsewhere-token".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let (user, session) = (answer.user.unwrap(), answer.session.unwrap());
    assert_eq!(
        (user.id.as_str(), user.active, user.roles.len()),
        (id.as_str(), true, 2)
    );
    assert_eq!(session.session_id, session_id);
    assert_eq!(
        (session.ip.as_str(), session.host.as_str()),
        ("198.51.100.7", "chat.example.com")
    );
    assert_eq!(session.most_important_role, "user");
    assert_eq!(
        session.search_term,
        format!("ChromebrowserWindows{session_id}{id}")
    );
    let wrong = internal
        .authenticate(AuthenticateRequest {
            user_id: id.clone(),
            login_token: "other".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), Code::Unauthenticated);
    internal
        .deactivate_user(DeactivateUserRequest {
            user_id: id.clone(),
        })
        .await
        .unwrap();
    let deactivated = internal
        .authenticate(AuthenticateRequest {
            user_id: id,
            login_token: "elsewhere-token".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(deactivated.code(), Code::Unauthenticated);
}

async fn activity_is_throttled_and_connections_close(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_user("rod", Some("pw"), &["user"]).await;
    let rod = app.login("rod", "pw").await;
    let mut internal = app.internal().await;
    let record = || {
        let mut internal = internal.clone();
        let session_id = rod.session_id.clone();
        async move {
            internal
                .record_activity(RecordActivityRequest { session_id })
                .await
                .unwrap()
                .into_inner()
                .recorded
        }
    };
    let mut writes = 0;
    // Two calls a second for five minutes write once a minute.
    for _ in 0..600 {
        if record().await {
            writes += 1;
        }
        app.clock.advance(chrono::Duration::milliseconds(500));
    }
    assert_eq!(writes, 5);
    let info_path = format!("/api/v1/sessions/info?sessionId={}", rod.session_id);
    let (_, info) = app.get(&info_path, &rod, &[]).await;
    assert_eq!(info["lastActivityAt"], "2026-03-01T12:04:00.000Z");
    internal
        .close_connection(CloseConnectionRequest {
            session_id: rod.session_id.clone(),
        })
        .await
        .unwrap();
    let (_, info) = app.get(&info_path, &rod, &[]).await;
    assert_eq!(info["closedAt"], "2026-03-01T12:05:00.000Z");
    let unknown = internal
        .record_activity(RecordActivityRequest {
            session_id: "NoSuchSession2345".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
}

async fn logout_everywhere_else(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app.create_user("rod", Some("pw"), &["user"]).await;
    let keep = app.login("rod", "pw").await;
    let gone = [app.login("rod", "pw").await, app.login("rod", "pw").await];
    let answer = app
        .internal()
        .await
        .logout_user_sessions(LogoutUserSessionsRequest {
            user_id: id.clone(),
            except_session_id: keep.session_id.clone(),
            logout_by: id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answer.logged_out, 2);
    assert_eq!(
        app.get("/api/v1/sessions/list", &keep, &[]).await.1["total"],
        1
    );
    for session in &gone {
        assert_eq!(app.get("/api/v1/sessions/list", session, &[]).await.0, 401);
    }
}

async fn watchers_resume_from_their_cursor(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_user("rod", Some("pw"), &["user"]).await;
    let first = app.login("rod", "pw").await;
    app.post("/api/v1/logout", &first, serde_json::json!({}), &[])
        .await;
    let mut stream = app
        .internal()
        .await
        .watch_session_events(WatchSessionEventsRequest { after_cursor: 0 })
        .await
        .unwrap()
        .into_inner();
    let created = stream.message().await.unwrap().unwrap();
    let logged_out = stream.message().await.unwrap().unwrap();
    assert_eq!(created.kind, SessionEventKind::Created as i32);
    assert_eq!(
        (logged_out.kind, logged_out.session_id.as_str()),
        (
            SessionEventKind::LoggedOut as i32,
            first.session_id.as_str()
        )
    );
    assert!(logged_out.cursor > created.cursor);
    drop(stream);

    // Events produced while nobody watched arrive after a reconnect, once each.
    let second = app.login("rod", "pw").await;
    let mut resumed = app
        .internal()
        .await
        .watch_session_events(WatchSessionEventsRequest {
            after_cursor: logged_out.cursor,
        })
        .await
        .unwrap()
        .into_inner();
    let next = resumed.message().await.unwrap().unwrap();
    assert_eq!(
        (next.kind, next.session_id.as_str()),
        (SessionEventKind::Created as i32, second.session_id.as_str())
    );
    assert_eq!(next.cursor, logged_out.cursor + 1);
}

async fn watchers_see_events_of_other_replicas(backend: Backend) {
    let first = TestApp::spawn(backend).await;
    let second = TestApp::spawn_on(Arc::clone(&first.database), first.clock.clone(), |_| {}).await;
    let mut stream = first
        .internal()
        .await
        .watch_session_events(WatchSessionEventsRequest { after_cursor: 0 })
        .await
        .unwrap()
        .into_inner();
    second.create_user("rod", Some("pw"), &["user"]).await;
    let rod = second.login("rod", "pw").await;
    let event = tokio::time::timeout(std::time::Duration::from_secs(10), stream.message())
        .await
        .expect("event within 10 s")
        .unwrap()
        .unwrap();
    assert_eq!(
        (event.kind, event.session_id),
        (SessionEventKind::Created as i32, rod.session_id)
    );
}
