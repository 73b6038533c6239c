//! The caller's own account: `GET me`, `users.logout`, `users.removeOtherTokens`
//! (spec sections 3 and 9), and the `X-RateLimit-*` headers of every answer.

use serde_json::json;
use sessions_testkit::{Backend, LoggedIn, TestApp, not_logged_in};

on_both_databases!(
    me_is_rocket_chats_me_api_user,
    users_logout_ends_every_session_of_the_user,
    users_logout_of_another_user_needs_the_permission,
    remove_other_tokens_keeps_the_calling_session,
    every_answer_carries_the_rate_limit_window,
);

async fn is_logged_out(app: &TestApp, who: &LoggedIn) -> bool {
    app.get("/api/v1/sessions/list", who, &[]).await.0 == 401
}

async fn me_is_rocket_chats_me_api_user(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.sessions.site_url = "https://chat.example.org/".into();
    })
    .await;
    let id = app.create_user("rod", Some("pw"), &["user"]).await;
    app.set_emails(&id, &[("rod@example.org", false), ("r@example.org", true)])
        .await;
    app.enroll_totp(&id, b"12345678901234567890").await;
    let code = app.totp_code(b"12345678901234567890", 0);
    let rod = app.login_with_code("rod", "pw", &code).await;
    assert_eq!(
        app.get("/api/v1/me", &rod, &[]).await,
        (
            200,
            json!({
                "_id": id,
                "username": "rod",
                "name": "rod name",
                "roles": ["user"],
                "emails": [
                    {"address": "rod@example.org", "verified": false},
                    {"address": "r@example.org", "verified": true},
                ],
                "status": "offline",
                "statusConnection": "offline",
                "active": true,
                "email": "r@example.org",
                "settings": {"profile": {}, "preferences": {}, "calendar": {}},
                "avatarUrl": "https://chat.example.org/avatar/rod",
                "isOAuthUser": false,
                "services": {"password": {"exists": true}, "totp": {"enabled": true}},
                "success": true,
            })
        )
    );
    let stranger = LoggedIn {
        token: "wrong".into(),
        ..rod.clone()
    };
    assert_eq!(
        app.get("/api/v1/me", &stranger, &[]).await,
        (401, not_logged_in())
    );
}

async fn users_logout_ends_every_session_of_the_user(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app.create_user("rod", Some("pw"), &["user"]).await;
    let (first, second) = (app.login("rod", "pw").await, app.login("rod", "pw").await);
    assert_eq!(
        app.post("/api/v1/users.logout", &first, json!({}), &[])
            .await,
        (
            200,
            json!({"message": format!("User {id} has been logged out!"), "success": true})
        )
    );
    assert!(is_logged_out(&app, &first).await && is_logged_out(&app, &second).await);
    let third = app.login("rod", "pw").await;
    assert_eq!(
        app.post("/api/v1/users.logout", &third, json!({"userId": id}), &[])
            .await
            .0,
        200
    );
    assert!(is_logged_out(&app, &third).await);
    let fourth = app.login("rod", "pw").await;
    assert_eq!(
        app.post("/api/v1/users.logout", &fourth, json!({"user": id}), &[])
            .await,
        (
            400,
            json!({"success": false, "error": "must NOT have additional properties [invalid-params]", "errorType": "invalid-params"})
        )
    );
}

async fn users_logout_of_another_user_needs_the_permission(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let rod_id = app.create_user("rod", Some("pw"), &["user"]).await;
    app.create_user("ada", Some("pw"), &["admin"]).await;
    let rod = app.login("rod", "pw").await;
    let ada = app.login("ada", "pw").await;
    let ada_id = ada.user_id.clone();
    assert_eq!(
        app.post("/api/v1/users.logout", &rod, json!({"userId": ada_id}), &[])
            .await,
        (
            403,
            json!({"success": false, "error": "User does not have the permissions required for this action [error-unauthorized]"})
        )
    );
    assert!(!is_logged_out(&app, &ada).await);
    // `logout-other-user` is the admin's by default.
    assert_eq!(
        app.post("/api/v1/users.logout", &ada, json!({"userId": rod_id}), &[])
            .await,
        (
            200,
            json!({"message": format!("User {rod_id} has been logged out!"), "success": true})
        )
    );
    assert!(is_logged_out(&app, &rod).await && !is_logged_out(&app, &ada).await);
    assert_eq!(
        app.post(
            "/api/v1/users.logout",
            &ada,
            json!({"userId": "nobody"}),
            &[]
        )
        .await,
        (
            400,
            json!({"success": false, "error": "Invalid user id [error-invalid-user-id]", "errorType": "error-invalid-user-id"})
        )
    );
}

async fn remove_other_tokens_keeps_the_calling_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_user("rod", Some("pw"), &["user"]).await;
    app.create_user("kim", Some("pw"), &["user"]).await;
    let (keep, other) = (app.login("rod", "pw").await, app.login("rod", "pw").await);
    let kim = app.login("kim", "pw").await;
    assert_eq!(
        app.post("/api/v1/users.removeOtherTokens", &keep, json!({}), &[])
            .await,
        (200, json!({"success": true}))
    );
    assert!(is_logged_out(&app, &other).await);
    assert!(!is_logged_out(&app, &keep).await && !is_logged_out(&app, &kim).await);
    // Rocket.Chat's mobile app sends its own id, and an empty body is `{}`.
    let another = app.login("rod", "pw").await;
    let body = json!({"userId": keep.user_id});
    assert_eq!(
        app.post("/api/v1/users.removeOtherTokens", &keep, body, &[])
            .await
            .0,
        200
    );
    assert!(is_logged_out(&app, &another).await);
    let response = app
        .http
        .post(app.url("/api/v1/users.removeOtherTokens"))
        .header("x-user-id", &keep.user_id)
        .header("x-auth-token", &keep.token)
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
}

async fn every_answer_carries_the_rate_limit_window(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.limits.rate_limit.requests = 5).await;
    app.create_user("rod", Some("pw"), &["user"]).await;
    let rod = app.login("rod", "pw").await;
    let window = |response: &reqwest::Response| {
        [
            "x-ratelimit-limit",
            "x-ratelimit-remaining",
            "x-ratelimit-reset",
        ]
        .map(|name| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
        })
    };
    let mut resets = Vec::new();
    for (remaining, token) in [
        ("4", rod.token.as_str()),
        ("3", "wrong"),
        ("2", rod.token.as_str()),
    ] {
        let response = app
            .http
            .get(app.url("/api/v1/sessions/list"))
            .header("x-user-id", &rod.user_id)
            .header("x-auth-token", token)
            .send()
            .await
            .unwrap();
        let [limit, left, reset] = window(&response);
        assert_eq!(
            (limit.as_deref(), left.as_deref()),
            (Some("5"), Some(remaining))
        );
        resets.push(reset.unwrap().parse::<i64>().unwrap());
    }
    // One window: one reset instant, in Unix milliseconds.
    assert!(resets.iter().all(|r| *r == resets[0]) && resets[0] > 1_700_000_000_000);
    // The login answer has them too, success or not.
    let response = app
        .http
        .post(app.url("/api/v1/login"))
        .json(&json!({"user": "rod", "password": "wrong"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    assert!(window(&response).iter().all(Option::is_some));
    // gRPC callers read the same window from metadata, on answers and errors.
    let mut grpc = app.grpc().await;
    let mut request = tonic::Request::new(sessions_proto::v1::ListSessionsRequest::default());
    request
        .metadata_mut()
        .insert("x-user-id", rod.user_id.parse().unwrap());
    request
        .metadata_mut()
        .insert("x-auth-token", rod.token.parse().unwrap());
    let answer = grpc.list_my_sessions(request).await.unwrap();
    assert_eq!(answer.metadata().get("x-ratelimit-remaining").unwrap(), "1");
    let refused = grpc
        .list_my_sessions(sessions_proto::v1::ListSessionsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);
    assert_eq!(
        refused.metadata().get("x-ratelimit-remaining").unwrap(),
        "0"
    );
}
