//! `POST /api/v1/login` and `POST /api/v1/logout`.

use serde_json::{Value, json};
use sessions_testkit::{Backend, TestApp};

async fn post_login(app: &TestApp, body: Value) -> (u16, Value) {
    app.post_tokenless("/api/v1/login", &body).await
}

on_both_databases!(
    login_answers_token_and_me,
    login_refuses_wrong_credentials,
    login_of_totp_user_needs_a_fresh_code,
    logout_revokes_the_calling_token,
    get_logout_revokes_the_calling_token,
);

async fn login_answers_token_and_me(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app.create_user("rod", Some("pw"), &["user", "admin"]).await;
    for body in [
        json!({"user": "rod", "password": "pw"}),
        json!({"username": "rod", "password": "pw"}),
    ] {
        let (status, answer) = post_login(&app, body).await;
        assert_eq!(status, 200);
        let token = answer["data"]["authToken"].as_str().unwrap().to_owned();
        assert_eq!(token.len(), 43);
        assert_eq!(
            answer,
            json!({"status": "success", "data": {
                "userId": id,
                "authToken": token,
                "me": {
                    "_id": id, "username": "rod", "name": "rod name", "roles": ["user", "admin"],
                    "emails": [], "status": "offline", "statusConnection": "offline",
                    "active": true,
                    "settings": {"profile": {}, "preferences": {}, "calendar": {}},
                    "avatarUrl": "http://localhost:3000/avatar/rod",
                    "isOAuthUser": false,
                    "services": {"password": {"exists": true}},
                }
            }, "success": true})
        );
    }
}

async fn login_refuses_wrong_credentials(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_user("rod", Some("pw"), &["user"]).await;
    let unauthorized = json!({"success": false, "error": "Unauthorized", "status": "error", "message": "Unauthorized"});
    for body in [
        json!({"user": "rod", "password": "wrong"}),
        json!({"user": "nobody", "password": "pw"}),
        json!({"user": "rod"}),
    ] {
        assert_eq!(post_login(&app, body).await, (401, unauthorized.clone()));
    }
    // A deactivated user cannot log in; Rocket.Chat's `validateLoginAttempt`
    // says why once the password is right, and only then.
    let id = app.create_user("gone", Some("pw"), &["user"]).await;
    app.internal()
        .await
        .deactivate_user(sessions_proto::v1::DeactivateUserRequest { user_id: id })
        .await
        .unwrap();
    assert_eq!(
        post_login(&app, json!({"user": "gone", "password": "pw"})).await,
        (
            401,
            json!({
                "success": false,
                "error": "error-user-is-not-activated",
                "status": "error",
                "details": {"function": "Accounts.validateLoginAttempt"},
                "message": "User is not activated",
            })
        )
    );
    assert_eq!(
        post_login(&app, json!({"user": "gone", "password": "wrong"})).await,
        (401, unauthorized)
    );
}

async fn login_of_totp_user_needs_a_fresh_code(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app.create_user("tina", Some("pw"), &["user"]).await;
    let secret = b"12345678901234567890";
    let backup = app.enroll_totp(&id, secret).await;

    // Rocket.Chat's login route: `unauthorized()` plus the Meteor error's
    // `error`, `details` and `reason`.
    let required = json!({
        "success": false,
        "error": "totp-required",
        "status": "error",
        "details": {"method": "totp", "codeGenerated": false, "availableMethods": ["totp"]},
        "message": "TOTP Required",
    });
    let invalid = json!({
        "success": false,
        "error": "totp-invalid",
        "status": "error",
        "details": {"method": "totp"},
        "message": "TOTP Invalid",
    });
    assert_eq!(
        post_login(&app, json!({"user": "tina", "password": "pw"})).await,
        (401, required)
    );
    assert_eq!(
        post_login(
            &app,
            json!({"user": "tina", "password": "pw", "code": "000000"})
        )
        .await,
        (401, invalid.clone())
    );
    let code = app.totp_code(secret, 0);
    let (status, _) = post_login(
        &app,
        json!({"user": "tina", "password": "pw", "code": code}),
    )
    .await;
    assert_eq!(status, 200);
    // The same code again is a replay.
    assert_eq!(
        post_login(
            &app,
            json!({"user": "tina", "password": "pw", "code": code})
        )
        .await,
        (401, invalid)
    );
    // A backup code works once.
    let (status, _) = post_login(
        &app,
        json!({"user": "tina", "password": "pw", "code": backup[0]}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = post_login(
        &app,
        json!({"user": "tina", "password": "pw", "code": backup[0]}),
    )
    .await;
    assert_eq!(status, 401);
}

async fn logout_revokes_the_calling_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_user("rod", Some("pw"), &["user"]).await;
    let rod = app.login("rod", "pw").await;
    let other = app.login("rod", "pw").await;
    assert_eq!(
        app.post("/api/v1/logout", &rod, json!({}), &[]).await,
        (
            200,
            json!({"status": "success", "data": {"message": "You've been logged out!"}})
        )
    );
    let (status, _) = app
        .get(
            &format!("/api/v1/sessions/info?sessionId={}", rod.session_id),
            &rod,
            &[],
        )
        .await;
    assert_eq!(status, 401);
    // The user's other session is untouched and sees the logout.
    let (status, body) = app
        .get(
            &format!("/api/v1/sessions/info?sessionId={}", rod.session_id),
            &other,
            &[],
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["logoutAt"], json!("2026-03-01T12:00:00.000Z"));
    assert_eq!(body["logoutBy"], json!(rod.user_id));
}

/// `@rocket.chat/sdk`'s `api.logout()` sends GET; Rocket.Chat serves it.
async fn get_logout_revokes_the_calling_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_user("rod", Some("pw"), &["user"]).await;
    let rod = app.login("rod", "pw").await;
    assert_eq!(
        app.get("/api/v1/logout", &rod, &[]).await,
        (
            200,
            json!({"status": "success", "data": {"message": "You've been logged out!"}})
        )
    );
    assert_eq!(app.get("/api/v1/sessions/list", &rod, &[]).await.0, 401);
    // Without a token: the usual 401.
    let stranger = sessions_testkit::LoggedIn {
        user_id: rod.user_id.clone(),
        token: "nope".into(),
        session_id: String::new(),
    };
    assert_eq!(app.get("/api/v1/logout", &stranger, &[]).await.0, 401);
    let response = app
        .http
        .put(app.url("/api/v1/logout"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);
    assert_eq!(response.headers()["allow"], "POST, GET, HEAD");
}
