//! E-mail 2FA (spec section 5): Rocket.Chat's `users.2fa.enableEmail` and
//! `users.2fa.disableEmail`, the switch as `me` and the internal API show it,
//! and codes mailed over real SMTP to a sink on loopback: at an endpoint and
//! at login, single use, counted, one live code with a re-send cooldown, and
//! nothing mailed without SMTP.

use std::time::Duration;

use serde_json::{Value, json};
use sessions_proto::v1 as pb;
use sessions_server::Config;
use sessions_service::secrets::password_digest;
use sessions_testkit::{Backend, ReceivedMail, SinkOptions, SmtpSink, TestApp};

on_both_databases!(
    the_switch_is_rocket_chats_and_turning_it_off_asks_for_a_fresh_factor,
    the_internal_api_sets_the_switch,
    an_endpoint_mails_a_code_that_works_once,
    one_live_code_resent_only_after_the_cooldown,
    a_login_mails_a_code_only_after_the_password,
    nothing_is_mailed_without_smtp,
);

pub(crate) const WAIT: Duration = Duration::from_secs(20);
pub(crate) const LIST_ALL: &str = "/api/v1/sessions/list.all";
/// The test clock's start plus the code's ten minutes.
const EXPIRES: &str = "2026-03-01T12:10:00.000Z";

pub(crate) async fn app_mailing_to(backend: Backend, sink: &SmtpSink) -> TestApp {
    app_mailing_with(backend, sink, |_| {}).await
}

/// [`app_mailing_to`] with more settings changed by `more`.
pub(crate) async fn app_mailing_with(
    backend: Backend,
    sink: &SmtpSink,
    more: impl FnOnce(&mut Config),
) -> TestApp {
    let url = sink.url();
    TestApp::spawn_with(backend, move |c| {
        c.mail.smtp_url = Some(url);
        c.mail.from = "Chat <no-reply@chat.example.org>".into();
        c.mail.site_name = "Example Chat".into();
        c.mail.poll_interval_ms = 50;
        c.mail.login_emails = false;
        more(c);
    })
    .await
}

/// A user with a verified address and e-mail 2FA on.
pub(crate) async fn email_user(app: &TestApp, username: &str, roles: &[&str]) -> String {
    let id = app.create_user(username, Some("pw"), roles).await;
    app.set_emails(&id, &[(&format!("{username}@example.org"), true)])
        .await;
    app.internal()
        .await
        .upsert_user(pb::UpsertUserRequest {
            id: id.clone(),
            username: username.into(),
            name: format!("{username} name"),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            active: true,
            emails: None,
            receive_login_emails: None,
            email_two_factor: Some(true),
        })
        .await
        .unwrap();
    id
}

pub(crate) fn mailed(generated: bool, username: &str) -> Value {
    json!({
        "method": "email",
        "codeGenerated": generated,
        "codeCount": 1,
        "codeExpires": [EXPIRES],
        "emailOrUsername": username,
        "availableMethods": ["email"],
    })
}

pub(crate) fn required(details: Value) -> (u16, Value) {
    (
        400,
        json!({
            "success": false,
            "error": "TOTP Required [totp-required]",
            "errorType": "totp-required",
            "details": details,
        }),
    )
}

pub(crate) fn invalid() -> (u16, Value) {
    (
        400,
        json!({
            "success": false,
            "error": "TOTP Invalid [totp-invalid]",
            "errorType": "totp-invalid",
            "details": {"method": "email", "codeGenerated": false, "availableMethods": ["email"]},
        }),
    )
}

/// The six digits a code mail carries, after checking who it went to.
pub(crate) fn code_in(mail: &ReceivedMail, to: &str) -> String {
    assert_eq!(mail.recipients(), vec![to]);
    assert_eq!(
        mail.subject.as_deref(),
        Some("[Example Chat] Authentication code")
    );
    let text = mail.text.as_deref().unwrap_or_default();
    let code: String = text
        .split_whitespace()
        .find(|w| w.len() == 6 && w.bytes().all(|b| b.is_ascii_digit()))
        .expect("a six-digit code")
        .to_owned();
    assert!(mail.html.as_deref().unwrap_or_default().contains(&code));
    code
}

/// A wrong code: one of the ten that is not `code`.
pub(crate) fn other_than(code: &str) -> String {
    if code == "123456" { "654321" } else { "123456" }.to_owned()
}

pub(crate) async fn post_login(app: &TestApp, body: Value) -> (u16, Value) {
    app.post_tokenless("/api/v1/login", &body).await
}

async fn an_endpoint_mails_a_code_that_works_once(backend: Backend) {
    let sink = SmtpSink::start(SinkOptions::default()).await;
    let app = app_mailing_to(backend, &sink).await;
    email_user(&app, "boss", &["admin"]).await;
    // E-mail 2FA asks nothing at login before it is on; here it is on, so
    // the login itself wants a code.
    let (status, body) = post_login(&app, json!({"user": "boss", "password": "pw"})).await;
    assert_eq!(
        (status, body["error"].clone()),
        (401, json!("totp-required"))
    );
    let code = code_in(&sink.wait_for(1, WAIT).await[0], "boss@example.org");
    let boss = app.login_with_code("boss", "pw", &code).await;

    assert_eq!(
        app.get(LIST_ALL, &boss, &[]).await,
        required(mailed(true, "boss"))
    );
    let mails = sink.wait_for(2, WAIT).await;
    let code = code_in(&mails[1], "boss@example.org");
    let wrong = other_than(&code);
    assert_eq!(
        app.get(LIST_ALL, &boss, &[("x-2fa-code", &wrong)]).await,
        invalid()
    );
    assert_eq!(
        app.get(LIST_ALL, &boss, &[("x-2fa-code", &code)]).await.0,
        200
    );
    // Used up: turning 2FA off (no remember window there) refuses it.
    assert_eq!(
        app.post(
            "/api/v1/users.2fa.disableEmail",
            &boss,
            json!({}),
            &[("x-2fa-code", &code)]
        )
        .await,
        invalid()
    );
}

async fn one_live_code_resent_only_after_the_cooldown(backend: Backend) {
    let sink = SmtpSink::start(SinkOptions::default()).await;
    let app = app_mailing_to(backend, &sink).await;
    app.create_user("boss", Some("pw"), &["admin"]).await;
    let boss = app.login("boss", "pw").await;
    email_user_existing(&app, &boss.user_id, "boss").await;

    assert_eq!(
        app.get(LIST_ALL, &boss, &[]).await,
        required(mailed(true, "boss"))
    );
    let first = code_in(&sink.wait_for(1, WAIT).await[0], "boss@example.org");
    // Within the cooldown: the same live code, nothing mailed.
    app.clock.advance(chrono::Duration::seconds(59));
    assert_eq!(
        app.get(LIST_ALL, &boss, &[]).await,
        required(mailed(false, "boss"))
    );
    assert_eq!(app.outbox().await.len(), 1, "nothing more queued");
    // After it: the same code again, never a second one.
    app.clock.advance(chrono::Duration::seconds(2));
    assert_eq!(
        app.get(LIST_ALL, &boss, &[]).await,
        required(mailed(true, "boss"))
    );
    let again = code_in(&sink.wait_for(2, WAIT).await[1], "boss@example.org");
    assert_eq!(again, first);
    assert_eq!(
        app.get(LIST_ALL, &boss, &[("x-2fa-code", &first)]).await.0,
        200
    );
}

async fn email_user_existing(app: &TestApp, id: &str, username: &str) {
    app.set_emails(id, &[(&format!("{username}@example.org"), true)])
        .await;
    let who = app.login(username, "pw").await;
    assert_eq!(
        app.post("/api/v1/users.2fa.enableEmail", &who, json!({}), &[])
            .await,
        (200, json!({"success": true}))
    );
}

async fn a_login_mails_a_code_only_after_the_password(backend: Backend) {
    let sink = SmtpSink::start(SinkOptions::default()).await;
    let app = app_mailing_to(backend, &sink).await;
    email_user(&app, "rod", &["user"]).await;
    let (status, _) = post_login(&app, json!({"user": "rod", "password": "nope"})).await;
    assert_eq!(status, 401);
    assert_eq!(app.outbox().await, vec![], "nothing queued");

    // Rocket.Chat's login route: `unauthorized()` plus the Meteor error's
    // `error`, `details` and `reason`.
    assert_eq!(
        post_login(&app, json!({"user": "rod", "password": "pw"})).await,
        (
            401,
            json!({
                "success": false,
                "error": "totp-required",
                "status": "error",
                "details": mailed(true, "rod"),
                "message": "TOTP Required",
            })
        )
    );
    let code = code_in(&sink.wait_for(1, WAIT).await[0], "rod@example.org");
    let wrong = other_than(&code);
    assert_eq!(
        post_login(
            &app,
            json!({"user": "rod", "password": "pw", "code": wrong})
        )
        .await,
        (
            401,
            json!({
                "success": false,
                "error": "totp-invalid",
                "status": "error",
                "details": {"method": "email"},
                "message": "TOTP Invalid",
            })
        )
    );
    app.login_with_code("rod", "pw", &code).await;
    let (status, body) =
        post_login(&app, json!({"user": "rod", "password": "pw", "code": code})).await;
    assert_eq!(
        (status, body["error"].clone()),
        (401, json!("totp-invalid"))
    );
}

async fn nothing_is_mailed_without_smtp(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    email_user(&app, "boss", &["admin"]).await;
    // No mail configured: the e-mail method is off, so the login asks for
    // nothing and the endpoint falls back to the password.
    let boss = app.login("boss", "pw").await;
    assert_eq!(app.get(LIST_ALL, &boss, &[]).await, password_required());
}

fn password_required() -> (u16, Value) {
    (
        400,
        json!({
            "success": false,
            "error": "TOTP Required [totp-required]",
            "errorType": "totp-required",
            "details": {"method": "password", "codeGenerated": false, "availableMethods": []}
        }),
    )
}

async fn the_switch_is_rocket_chats_and_turning_it_off_asks_for_a_fresh_factor(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_user("boss", Some("pw"), &["admin"]).await;
    let boss = app.login("boss", "pw").await;
    assert_eq!(
        app.get("/api/v1/me", &boss, &[]).await.1["services"],
        json!({"password": {"exists": true}})
    );
    assert_eq!(
        app.post("/api/v1/users.2fa.enableEmail", &boss, json!({}), &[])
            .await,
        (200, json!({"success": true}))
    );
    assert_eq!(
        app.get("/api/v1/me", &boss, &[]).await.1["services"],
        json!({"password": {"exists": true}, "email2fa": {"enabled": true}})
    );

    // The session's remember window is open (a passed admin endpoint)...
    let digest = password_digest("pw");
    let list_all = "/api/v1/sessions/list.all";
    assert_eq!(
        app.get(list_all, &boss, &[("x-2fa-code", &digest)]).await.0,
        200
    );
    assert_eq!(app.get(list_all, &boss, &[]).await.0, 200);
    // ...yet turning 2FA off asks for a code all the same.
    let disable = "/api/v1/users.2fa.disableEmail";
    assert_eq!(
        app.post(disable, &boss, json!({}), &[]).await,
        password_required()
    );
    assert_eq!(
        app.post(disable, &boss, json!({}), &[("x-2fa-code", &digest)])
            .await,
        (200, json!({"success": true}))
    );
    assert_eq!(
        app.get("/api/v1/me", &boss, &[]).await.1["services"],
        json!({"password": {"exists": true}})
    );
    // Turning it off again is still no free pass.
    assert_eq!(
        app.post(disable, &boss, json!({}), &[]).await,
        password_required()
    );
}

async fn the_internal_api_sets_the_switch(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app.create_user("rod", Some("pw"), &["user"]).await;
    let rod = app.login("rod", "pw").await;
    let upsert = |email_two_factor| pb::UpsertUserRequest {
        id: id.clone(),
        username: "rod".into(),
        name: "rod name".into(),
        roles: vec!["user".into()],
        active: true,
        emails: None,
        receive_login_emails: None,
        email_two_factor,
    };
    app.internal()
        .await
        .upsert_user(upsert(Some(true)))
        .await
        .unwrap();
    assert_eq!(
        app.get("/api/v1/me", &rod, &[]).await.1["services"]["email2fa"],
        json!({"enabled": true})
    );
    // Absent keeps it.
    app.internal()
        .await
        .upsert_user(upsert(None))
        .await
        .unwrap();
    assert_eq!(
        app.get("/api/v1/me", &rod, &[]).await.1["services"]["email2fa"],
        json!({"enabled": true})
    );
    app.internal()
        .await
        .upsert_user(upsert(Some(false)))
        .await
        .unwrap();
    assert_eq!(
        app.get("/api/v1/me", &rod, &[]).await.1["services"]["email2fa"],
        Value::Null
    );
}
