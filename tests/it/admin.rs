//! `GET /api/v1/sessions/info.admin`: permission, order of checks, and every
//! rule of two-factor authentication (spec section 5).

use serde_json::{Value, json};
use sessions_proto::v1::{CreateSessionRequest, PermissionChange};
use sessions_service::secrets::password_digest;
use sessions_testkit::{Backend, CHROME_UA, LoggedIn, TestApp};

fn totp_error(error: &str, error_type: &str, method: &str, available: &[&str]) -> Value {
    json!({
        "success": false,
        "error": format!("{error} [{error_type}]"),
        "errorType": error_type,
        "details": {"method": method, "codeGenerated": false, "availableMethods": available}
    })
}

fn required(method: &str, available: &[&str]) -> Value {
    totp_error("TOTP Required", "totp-required", method, available)
}

fn invalid(method: &str, available: &[&str]) -> Value {
    totp_error("TOTP Invalid", "totp-invalid", method, available)
}

fn info_admin(session_id: &str) -> String {
    format!("/api/v1/sessions/info.admin?sessionId={session_id}")
}

on_both_databases!(
    info_admin_answers_any_active_session,
    info_admin_checks_in_the_documented_order,
    password_fallback_and_remember_window,
    totp_codes_are_single_use_and_limited,
    users_without_any_method_cannot_pass,
    permissions_are_stored_and_changeable,
);

async fn info_admin_answers_any_active_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_user("boss", Some("pw"), &["admin"]).await;
    let ann_id = app.create_user("ann", Some("pw"), &["user"]).await;
    let boss = app.login("boss", "pw").await;
    let ann = app.login("ann", "pw").await;
    let code = password_digest("pw");
    let (status, body) = app
        .get(
            &info_admin(&ann.session_id),
            &boss,
            &[("x-2fa-code", &code)],
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({
            "_id": ann.session_id,
            "sessionId": ann.session_id,
            "userId": ann_id,
            "device": {"type": "browser", "name": "Chrome", "longVersion": "113.0.0.0", "os": {"name": "Windows", "version": "10"}, "version": "113.0.0"},
            "host": app.host(),
            "ip": "127.0.0.1",
            "loginAt": "2026-03-01T12:00:00.000Z",
            "_user": {"name": "ann name", "username": "ann"},
            "success": true
        })
    );
    // A logged-out session is not active any more.
    app.post("/api/v1/logout", &ann, json!({}), &[]).await;
    assert_eq!(
        app.get(&info_admin(&ann.session_id), &boss, &[]).await,
        (404, json!({"success": false, "error": "Session not found"}))
    );
    assert_eq!(
        app.get(&info_admin(""), &boss, &[]).await,
        (404, json!({"success": false, "error": "Session not found"}))
    );
}

async fn info_admin_checks_in_the_documented_order(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_user("boss", Some("pw"), &["admin"]).await;
    app.create_user("ann", Some("pw"), &["user"]).await;
    let boss = app.login("boss", "pw").await;
    let ann = app.login("ann", "pw").await;
    // Parameters before permission, as Rocket.Chat validates them first.
    let missing = json!({"success": false, "error": "must have required property 'sessionId' [invalid-params]", "errorType": "invalid-params"});
    assert_eq!(
        app.get("/api/v1/sessions/info.admin", &ann, &[]).await,
        (400, missing)
    );
    assert_eq!(
        app.get(&info_admin(&ann.session_id), &ann, &[]).await,
        (
            403,
            json!({"success": false, "error": "User does not have the permissions required for this action [error-unauthorized]"})
        )
    );
    // Parameters before 2FA.
    assert_eq!(
        app.get("/api/v1/sessions/info.admin", &boss, &[]).await,
        (
            400,
            json!({"success": false, "error": "must have required property 'sessionId' [invalid-params]", "errorType": "invalid-params"})
        )
    );
    // 2FA before looking the session up.
    assert_eq!(
        app.get(&info_admin("NoSuchSession2345"), &boss, &[]).await,
        (400, required("password", &[]))
    );
    // An empty id passes the parameter step, so 2FA is asked for first.
    assert_eq!(
        app.get(&info_admin(""), &boss, &[]).await,
        (400, required("password", &[]))
    );
}

async fn password_fallback_and_remember_window(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_user("boss", Some("pw"), &["admin"]).await;
    let boss = app.login("boss", "pw").await;
    let path = info_admin(&boss.session_id);
    assert_eq!(
        app.get(&path, &boss, &[]).await,
        (400, required("password", &[]))
    );
    assert_eq!(
        app.get(
            &path,
            &boss,
            &[
                ("x-2fa-code", &password_digest("nope")),
                ("x-2fa-method", "password")
            ]
        )
        .await,
        (400, invalid("password", &[]))
    );
    let code = password_digest("pw");
    assert_eq!(
        app.get(
            &path,
            &boss,
            &[("x-2fa-code", &code), ("x-2fa-method", "password")]
        )
        .await
        .0,
        200
    );
    // Trusted for 1800 s while User-Agent and address stay the same.
    app.clock.advance(chrono::Duration::seconds(1799));
    assert_eq!(app.get(&path, &boss, &[]).await.0, 200);
    assert_eq!(
        app.get(&path, &boss, &[("user-agent", "curl/8.0")]).await,
        (400, required("password", &[]))
    );
    app.clock.advance(chrono::Duration::seconds(2));
    assert_eq!(
        app.get(&path, &boss, &[]).await,
        (400, required("password", &[]))
    );
}

async fn totp_codes_are_single_use_and_limited(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.two_factor.remember_secs = 0).await;
    let id = app.create_user("boss", Some("pw"), &["admin"]).await;
    let secret = b"abcdefghijabcdefghij";
    let backup = app.enroll_totp(&id, secret).await;
    // Logging in with a backup code leaves every TOTP step unused.
    let boss = app.login_with_code("boss", "pw", &backup[0]).await;
    let path = info_admin(&boss.session_id);
    assert_eq!(
        app.get(&path, &boss, &[]).await,
        (400, required("totp", &["totp"]))
    );
    // The password fallback is not offered to TOTP users.
    assert_eq!(
        app.get(
            &path,
            &boss,
            &[
                ("x-2fa-code", &password_digest("pw")),
                ("x-2fa-method", "password")
            ]
        )
        .await,
        (400, invalid("totp", &["totp"]))
    );
    // One step either side is accepted; a used code is not accepted again.
    let previous = app.totp_code(secret, -1);
    assert_eq!(
        app.get(&path, &boss, &[("x-2fa-code", &previous)]).await.0,
        200
    );
    assert_eq!(
        app.get(&path, &boss, &[("x-2fa-code", &previous)]).await,
        (400, invalid("totp", &["totp"]))
    );
    let next = app.totp_code(secret, 1);
    assert_eq!(app.get(&path, &boss, &[("x-2fa-code", &next)]).await.0, 200);
    let too_far = app.totp_code(secret, 3);
    assert_eq!(
        app.get(&path, &boss, &[("x-2fa-code", &too_far)]).await,
        (400, invalid("totp", &["totp"]))
    );
    // Backup codes: single use.
    assert_eq!(
        app.get(&path, &boss, &[("x-2fa-code", &backup[1])]).await.0,
        200
    );
    assert_eq!(
        app.get(&path, &boss, &[("x-2fa-code", &backup[1])]).await,
        (400, invalid("totp", &["totp"]))
    );
    // 5 wrong codes in 10 minutes (the replayed backup code was the first) lock
    // the user out, even with a right code.
    for _ in 0..4 {
        assert_eq!(
            app.get(&path, &boss, &[("x-2fa-code", "000000")]).await,
            (400, invalid("totp", &["totp"]))
        );
    }
    let max = totp_error(
        "TOTP Maximum Failed Attempts Reached",
        "totp-max-attempts",
        "totp",
        &["totp"],
    );
    app.clock.advance(chrono::Duration::seconds(90));
    let fresh = app.totp_code(secret, 0);
    assert_eq!(
        app.get(&path, &boss, &[("x-2fa-code", &fresh)]).await,
        (400, max)
    );
    // Until the window passes.
    app.clock.advance(chrono::Duration::minutes(10));
    let fresh = app.totp_code(secret, 0);
    assert_eq!(
        app.get(&path, &boss, &[("x-2fa-code", &fresh)]).await.0,
        200
    );
}

async fn users_without_any_method_cannot_pass(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app.create_user("svc", None, &["admin"]).await;
    let token = "token-of-a-login-done-elsewhere";
    let session = app
        .internal()
        .await
        .create_session(CreateSessionRequest {
            user_id: id.clone(),
            login_token: token.to_owned(),
            user_agent: CHROME_UA.to_owned(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let svc = LoggedIn {
        user_id: id,
        token: token.to_owned(),
        session_id: session.session_id,
    };
    assert_eq!(
        app.get(
            &info_admin(&svc.session_id),
            &svc,
            &[("x-2fa-code", "123456")]
        )
        .await,
        (400, required("totp", &[]))
    );
}

async fn permissions_are_stored_and_changeable(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_user("aud", Some("pw"), &["auditor"]).await;
    let aud = app.login("aud", "pw").await;
    let code = password_digest("pw");
    let path = info_admin(&aud.session_id);
    assert_eq!(app.get(&path, &aud, &[("x-2fa-code", &code)]).await.0, 403);
    let change = PermissionChange {
        permission: "view-device-management".into(),
        role: "auditor".into(),
    };
    let granted = app
        .internal()
        .await
        .grant_permission(change.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        granted.roles,
        vec!["admin".to_owned(), "auditor".to_owned()]
    );
    assert_eq!(app.get(&path, &aud, &[("x-2fa-code", &code)]).await.0, 200);
    app.internal()
        .await
        .revoke_permission(change)
        .await
        .unwrap();
    assert_eq!(app.get(&path, &aud, &[]).await.0, 403);
}
