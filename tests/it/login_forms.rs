//! Every login body Rocket.Chat's REST login takes (spec section 9): `user` as
//! a username, an e-mail address or an object, `username` / `email`, the
//! password's digest, Meteor's `totp` wrapper, the code in `x-2fa-code`, and
//! `resume`.

use serde_json::{Value, json};
use sessions_service::secrets::password_digest;
use sessions_testkit::{Backend, TestApp, read};

on_both_databases!(
    every_form_logs_the_same_user_in,
    malformed_forms_are_refused_clearly,
    totp_code_in_the_body_the_header_or_the_wrapper,
    resume_answers_the_same_session_until_it_ends,
    failed_resumes_count_against_the_address,
    resume_checks_the_user_and_clears_no_failure_count,
);

async fn post_login(app: &TestApp, body: Value, headers: &[(&str, &str)]) -> (u16, Value) {
    let mut request = app.http.post(app.url("/api/v1/login")).json(&body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    read(request.send().await.unwrap()).await
}

/// The Meteor client's form of a password.
fn digest(password: &str) -> String {
    password_digest(password)
}

fn unauthorized() -> Value {
    json!({"success": false, "error": "Unauthorized", "status": "error", "message": "Unauthorized"})
}

async fn every_form_logs_the_same_user_in(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app.create_user("rod", Some("pw"), &["user"]).await;
    app.set_emails(
        &id,
        &[("Rod@Example.org", true), ("old@example.org", false)],
    )
    .await;
    for body in [
        json!({"user": "rod", "password": "pw"}),
        json!({"user": {"username": "rod"}, "password": "pw"}),
        json!({"user": {"email": "rod@example.org"}, "password": "pw"}),
        json!({"user": "ROD@example.ORG", "password": "pw"}),
        json!({"user": "old@example.org", "password": "pw"}),
        json!({"username": "rod", "password": "pw"}),
        json!({"email": "rod@example.org", "password": "pw"}),
        // Meteor's `findUserByUsername`: another case names the one user.
        json!({"user": "Rod", "password": "pw"}),
        json!({"user": "rod", "password": {"digest": digest("pw"), "algorithm": "sha-256"}}),
        json!({"user": "rod", "password": {"digest": digest("pw").to_uppercase(), "algorithm": "sha-256"}}),
        json!({"user": "rod", "password": "pw", "code": null}),
    ] {
        let (status, answer) = post_login(&app, body.clone(), &[]).await;
        assert_eq!(status, 200, "{body}: {answer}");
        assert_eq!(answer["data"]["userId"], json!(id), "{body}");
        assert_eq!(answer["success"], json!(true));
        assert_eq!(
            answer["data"]["me"]["emails"],
            json!([
                {"address": "Rod@Example.org", "verified": true},
                {"address": "old@example.org", "verified": false},
            ])
        );
        assert_eq!(answer["data"]["me"]["email"], json!("Rod@Example.org"));
    }
    // Wrong secrets in each form are the one `Unauthorized`.
    for body in [
        json!({"user": {"email": "rod@example.org"}, "password": "nope"}),
        json!({"user": "nobody@example.org", "password": "pw"}),
        json!({"user": "rod", "password": {"digest": digest("nope"), "algorithm": "sha-256"}}),
        json!({"user": "rod", "password": {"digest": "abc", "algorithm": "sha-256"}}),
        json!({"user": "rod", "password": ""}),
        json!({"password": "pw"}),
        json!({}),
    ] {
        assert_eq!(
            post_login(&app, body.clone(), &[]).await,
            (401, unauthorized()),
            "{body}"
        );
    }
}

async fn malformed_forms_are_refused_clearly(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_user("rod", Some("pw"), &["user"]).await;
    let must_be_string = json!({
        "success": false,
        "error": "must be string [invalid-params]",
        "errorType": "invalid-params",
    });
    for body in [
        json!({"user": {"id": "x"}, "password": "pw"}),
        json!({"user": {"username": "rod", "email": "r@x.org"}, "password": "pw"}),
        json!({"user": "rod", "password": {"digest": digest("pw"), "algorithm": "sha-1"}}),
        json!({"user": 5, "password": "pw"}),
    ] {
        assert_eq!(
            post_login(&app, body.clone(), &[]).await,
            (400, must_be_string.clone()),
            "{body}"
        );
    }
    assert_eq!(
        post_login(
            &app,
            json!({"user": "rod", "password": "pw", "ldap": true}),
            &[]
        )
        .await,
        (
            400,
            json!({
                "success": false,
                "error": "must NOT have additional properties [invalid-params]",
                "errorType": "invalid-params",
            })
        )
    );
}

async fn totp_code_in_the_body_the_header_or_the_wrapper(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app.create_user("tina", Some("pw"), &["user"]).await;
    let secret = b"12345678901234567890";
    app.enroll_totp(&id, secret).await;
    // Rocket.Chat reads the code from the body, else from `x-2fa-code`.
    let code = app.totp_code(secret, -1);
    let (status, _) = post_login(
        &app,
        json!({"user": "tina", "password": "pw"}),
        &[("x-2fa-code", &code)],
    )
    .await;
    assert_eq!(status, 200);
    // Meteor's own client wraps the login: `{totp: {login, code}}`.
    let code = app.totp_code(secret, 0);
    let (status, answer) = post_login(
        &app,
        json!({"totp": {"login": {"user": {"username": "tina"}, "password": {"digest": digest("pw"), "algorithm": "sha-256"}}, "code": code}}),
        &[],
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["data"]["me"]["services"],
        json!({"password": {"exists": true}, "totp": {"enabled": true}})
    );
    // A wrong code in the header is a wrong code.
    let (status, answer) = post_login(
        &app,
        json!({"user": "tina", "password": "pw"}),
        &[("x-2fa-code", "000000")],
    )
    .await;
    assert_eq!(
        (status, answer["error"].clone()),
        (401, json!("totp-invalid"))
    );
}

async fn resume_answers_the_same_session_until_it_ends(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app.create_user("rod", Some("pw"), &["user"]).await;
    let rod = app.login("rod", "pw").await;
    let (status, answer) = post_login(&app, json!({"resume": rod.token}), &[]).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        (&answer["data"]["userId"], &answer["data"]["authToken"]),
        (&json!(id), &json!(rod.token))
    );
    assert_eq!(answer["data"]["me"]["username"], json!("rod"));
    assert_eq!(app.session_of(&id, &rod.token).await, rod.session_id);
    // With a password beside it, it is a password login: a new session.
    let (status, answer) = post_login(
        &app,
        json!({"resume": rod.token, "user": "rod", "password": "pw"}),
        &[],
    )
    .await;
    assert_eq!(status, 200);
    assert_ne!(answer["data"]["authToken"], json!(rod.token));

    let logged_out = json!({
        "success": false,
        "error": 403,
        "status": "error",
        "message": "You've been logged out by the server. Please log in again.",
    });
    assert_eq!(
        post_login(&app, json!({"resume": "not-a-token"}), &[]).await,
        (401, logged_out.clone())
    );
    assert_eq!(
        app.post("/api/v1/logout", &rod, json!({}), &[]).await.0,
        200
    );
    assert_eq!(
        post_login(&app, json!({"resume": rod.token}), &[]).await,
        (401, logged_out)
    );
    // Past the session's lifetime (90 days), Meteor's other message.
    let late = app.login("rod", "pw").await;
    app.clock.advance(chrono::Duration::days(91));
    assert_eq!(
        post_login(&app, json!({"resume": late.token}), &[]).await,
        (
            401,
            json!({
                "success": false,
                "error": 403,
                "status": "error",
                "message": "Your session has expired. Please log in again.",
            })
        )
    );
}

async fn failed_resumes_count_against_the_address(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.limits.login.failures_per_address = 3;
    })
    .await;
    app.create_user("rod", Some("pw"), &["user"]).await;
    let rod = app.login("rod", "pw").await;
    for _ in 0..3 {
        assert_eq!(
            post_login(&app, json!({"resume": "guess"}), &[]).await.0,
            401
        );
    }
    let (status, answer) = post_login(&app, json!({"resume": rod.token}), &[]).await;
    assert_eq!(
        (status, answer["error"].clone()),
        (401, json!("error-login-blocked-for-ip"))
    );
}

async fn resume_checks_the_user_and_clears_no_failure_count(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.limits.login.failures_per_user = 3;
    })
    .await;
    let id = app.create_user("rod", Some("pw"), &["user"]).await;
    let rod = app.login("rod", "pw").await;
    for _ in 0..2 {
        let (status, _) = post_login(&app, json!({"user": "rod", "password": "nope"}), &[]).await;
        assert_eq!(status, 401);
    }
    // A resume is no password login: the two failures still count.
    assert_eq!(
        post_login(&app, json!({"resume": rod.token}), &[]).await.0,
        200
    );
    assert_eq!(
        post_login(&app, json!({"user": "rod", "password": "nope"}), &[]).await,
        (401, unauthorized())
    );
    let (status, answer) = post_login(&app, json!({"user": "rod", "password": "pw"}), &[]).await;
    assert_eq!(
        (status, answer["error"].clone()),
        (401, json!("error-login-blocked-for-user"))
    );
    // A deactivated user's token resumes nothing, and says why.
    app.internal()
        .await
        .deactivate_user(sessions_proto::v1::DeactivateUserRequest { user_id: id })
        .await
        .unwrap();
    assert_eq!(
        post_login(&app, json!({"resume": rod.token}), &[]).await,
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
}
