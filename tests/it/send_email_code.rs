//! `POST /api/v1/users.2fa.sendEmailCode` (spec sections 3 and 5): no token,
//! Rocket.Chat's answer whoever it names, the live code mailed over real SMTP
//! and good once, the hourly cap per address, the attempt limit on mailed
//! codes, and no code left readable in the outbox once sent.

use serde_json::{Value, json};
use sessions_proto::v1 as pb;
use sessions_testkit::{Backend, SinkOptions, SmtpSink, TestApp};

use crate::email_two_factor::{
    LIST_ALL, WAIT, app_mailing_to, app_mailing_with, code_in, email_user, invalid, other_than,
    post_login,
};

on_both_databases!(
    the_route_mails_the_live_code_of_whoever_it_names,
    everyone_else_gets_the_same_answer_and_no_mail,
    five_code_mails_per_address_per_hour,
    the_code_numbers_are_configuration,
    wrong_mailed_codes_run_into_the_attempt_limit,
);

const ROUTE: &str = "/api/v1/users.2fa.sendEmailCode";

/// Posts `body` without any token.
async fn ask(app: &TestApp, body: Value) -> (u16, Value) {
    app.post_tokenless(ROUTE, &body).await
}

fn success() -> (u16, Value) {
    (200, json!({"success": true}))
}

async fn the_route_mails_the_live_code_of_whoever_it_names(backend: Backend) {
    let sink = SmtpSink::start(SinkOptions::default()).await;
    let app = app_mailing_to(backend, &sink).await;
    email_user(&app, "rod", &["user"]).await;

    assert_eq!(
        ask(&app, json!({"emailOrUsername": "rod"})).await,
        success()
    );
    let code = code_in(&sink.wait_for(1, WAIT).await[0], "rod@example.org");
    app.login_with_code("rod", "pw", &code).await;
    // Used once: the same code logs in no more.
    let (status, body) =
        post_login(&app, json!({"user": "rod", "password": "pw", "code": code})).await;
    assert_eq!(
        (status, body["error"].clone()),
        (401, json!("totp-invalid"))
    );

    // An address names the user too, in any case, as a login does.
    assert_eq!(
        ask(&app, json!({"emailOrUsername": "ROD@example.org"})).await,
        success()
    );
    let second = code_in(&sink.wait_for(2, WAIT).await[1], "rod@example.org");
    app.login_with_code("rod", "pw", &second).await;

    // Sent, the code mails keep no body a database reader could use.
    let rows = app.outbox_drained(WAIT).await;
    assert_eq!(rows.len(), 2);
    for row in rows {
        assert_eq!(
            (row.kind.as_str(), row.sent, row.text_body, row.html_body),
            ("two-factor-code", true, String::new(), String::new())
        );
    }
}

async fn everyone_else_gets_the_same_answer_and_no_mail(backend: Backend) {
    let sink = SmtpSink::start(SinkOptions::default()).await;
    let app = app_mailing_to(backend, &sink).await;
    // A verified address but e-mail 2FA off; and a deactivated user with it on.
    let plain = app.create_user("plain", Some("pw"), &["user"]).await;
    app.set_emails(&plain, &[("plain@example.org", true)]).await;
    let gone = email_user(&app, "gone", &["user"]).await;
    app.internal()
        .await
        .upsert_user(pb::UpsertUserRequest {
            id: gone,
            username: "gone".into(),
            name: "gone name".into(),
            roles: vec!["user".into()],
            active: false,
            emails: None,
            receive_login_emails: None,
            email_two_factor: None,
        })
        .await
        .unwrap();

    for who in [
        "nobody",
        "nobody@example.org",
        "plain",
        "plain@example.org",
        "gone",
        "gone@example.org",
    ] {
        assert_eq!(ask(&app, json!({"emailOrUsername": who})).await, success());
    }
    // The request commits what it queues before answering.
    assert_eq!(app.outbox().await, vec![]);

    // Rocket.Chat's `!emailOrUsername` check: absent, empty or null.
    let required = (
        400,
        json!({
            "success": false,
            "error": "emailOrUsername is required [error-parameter-required]",
            "errorType": "error-parameter-required",
        }),
    );
    for body in [
        json!({}),
        json!({"emailOrUsername": ""}),
        json!({"emailOrUsername": null}),
    ] {
        assert_eq!(ask(&app, body.clone()).await, required, "{body}");
    }
    let (status, body) = ask(&app, json!({"emailOrUsername": 7})).await;
    assert_eq!(
        (status, body["errorType"].clone()),
        (400, json!("invalid-params"))
    );
    let long = "a".repeat(2000);
    let (status, body) = ask(&app, json!({ "emailOrUsername": long })).await;
    assert_eq!(
        (status, body["error"].clone()),
        (
            400,
            json!("must NOT have more than 1024 characters [invalid-params]")
        )
    );
}

async fn five_code_mails_per_address_per_hour(backend: Backend) {
    let sink = SmtpSink::start(SinkOptions::default()).await;
    let app = app_mailing_to(backend, &sink).await;
    email_user(&app, "rod", &["user"]).await;
    let queued = async || app.outbox().await.len();

    // Each request after the cooldown re-sends the one live code: five mails.
    for sent in 1..=5 {
        assert_eq!(
            ask(&app, json!({"emailOrUsername": "rod"})).await,
            success()
        );
        assert_eq!(queued().await, sent);
        app.clock.advance(chrono::Duration::seconds(61));
    }
    // The sixth, by request or by login, mails nothing and says nothing.
    assert_eq!(
        ask(&app, json!({"emailOrUsername": "rod"})).await,
        success()
    );
    let (status, body) = post_login(&app, json!({"user": "rod", "password": "pw"})).await;
    assert_eq!(
        (status, body["details"]["codeGenerated"].clone()),
        (401, json!(false))
    );
    assert_eq!(queued().await, 5);
    let mails = sink.wait_for(5, WAIT).await;
    let first = code_in(&mails[0], "rod@example.org");
    for mail in &mails[1..] {
        assert_eq!(code_in(mail, "rod@example.org"), first, "one live code");
    }

    // An hour on, the address may be mailed again: the old code has expired,
    // so it is a fresh one.
    app.clock.advance(chrono::Duration::seconds(3600));
    assert_eq!(
        ask(&app, json!({"emailOrUsername": "rod"})).await,
        success()
    );
    assert_eq!(queued().await, 6);
    let fresh = code_in(&sink.wait_for(6, WAIT).await[5], "rod@example.org");
    app.login_with_code("rod", "pw", &fresh).await;
}

/// A two-minute code, re-sent after 30 s, two mails an hour: each number
/// is the configured one, not the default.
async fn the_code_numbers_are_configuration(backend: Backend) {
    let sink = SmtpSink::start(SinkOptions::default()).await;
    let app = app_mailing_with(backend, &sink, |c| {
        c.two_factor.email_code_lifetime_secs = 120;
        c.two_factor.email_code_resend_secs = 30;
        c.two_factor.email_code_mails_per_hour = 2;
    })
    .await;
    email_user(&app, "rod", &["user"]).await;
    let queued = async || app.outbox().await.len();
    let ask_rod = async || ask(&app, json!({"emailOrUsername": "rod"})).await;

    assert_eq!(ask_rod().await, success());
    let mail = &sink.wait_for(1, WAIT).await[0];
    assert!(
        mail.text
            .as_deref()
            .unwrap_or_default()
            .contains("It expires in 2 minutes."),
        "{:?}",
        mail.text
    );
    let code = code_in(mail, "rod@example.org");
    // Within the 30 s nothing is re-sent; past them the same code is.
    app.clock.advance(chrono::Duration::seconds(29));
    assert_eq!(ask_rod().await, success());
    assert_eq!(queued().await, 1);
    app.clock.advance(chrono::Duration::seconds(2));
    assert_eq!(ask_rod().await, success());
    assert_eq!(queued().await, 2);
    // The third mail of the hour is over the cap of two.
    app.clock.advance(chrono::Duration::seconds(31));
    assert_eq!(ask_rod().await, success());
    assert_eq!(queued().await, 2);
    // One second short of its two minutes the code still logs in.
    app.clock.advance(chrono::Duration::seconds(57));
    app.login_with_code("rod", "pw", &code).await;

    // An hour on the cap is free again: a fresh code, dead at two minutes.
    app.clock.advance(chrono::Duration::seconds(3600));
    assert_eq!(ask_rod().await, success());
    assert_eq!(queued().await, 3);
    let fresh = code_in(&sink.wait_for(3, WAIT).await[2], "rod@example.org");
    app.clock.advance(chrono::Duration::seconds(120));
    let (status, body) = post_login(
        &app,
        json!({"user": "rod", "password": "pw", "code": fresh}),
    )
    .await;
    assert_eq!(
        (status, body),
        (
            401,
            json!({
                "success": false,
                "error": "totp-invalid",
                "status": "error",
                "details": {"method": "email"},
                "message": "TOTP Invalid"
            })
        )
    );
}

async fn wrong_mailed_codes_run_into_the_attempt_limit(backend: Backend) {
    let sink = SmtpSink::start(SinkOptions::default()).await;
    let app = app_mailing_to(backend, &sink).await;
    email_user(&app, "boss", &["admin"]).await;
    assert_eq!(
        ask(&app, json!({"emailOrUsername": "boss"})).await,
        success()
    );
    let code = code_in(&sink.wait_for(1, WAIT).await[0], "boss@example.org");
    let boss = app.login_with_code("boss", "pw", &code).await;

    // At an endpoint: five wrong guesses, then even the right code is refused
    // until the window passes.
    assert_eq!(
        ask(&app, json!({"emailOrUsername": "boss"})).await,
        success()
    );
    let code = code_in(&sink.wait_for(2, WAIT).await[1], "boss@example.org");
    let wrong = other_than(&code);
    for _ in 0..5 {
        assert_eq!(
            app.get(LIST_ALL, &boss, &[("x-2fa-code", &wrong)]).await,
            invalid()
        );
    }
    assert_eq!(
        app.get(LIST_ALL, &boss, &[("x-2fa-code", &code)]).await,
        (
            400,
            json!({
                "success": false,
                "error": "TOTP Maximum Failed Attempts Reached [totp-max-attempts]",
                "errorType": "totp-max-attempts",
                "details": {"method": "email", "codeGenerated": false, "availableMethods": ["email"]},
            })
        )
    );

    // At login, counted apart: the owner still logs in with the live code...
    app.login_with_code("boss", "pw", &code).await;
    // ...and five wrong guesses there block the code step of logins too.
    app.clock.advance(chrono::Duration::seconds(61));
    assert_eq!(
        ask(&app, json!({"emailOrUsername": "boss"})).await,
        success()
    );
    let code = code_in(&sink.wait_for(3, WAIT).await[2], "boss@example.org");
    let wrong = other_than(&code);
    for _ in 0..5 {
        let (status, body) = post_login(
            &app,
            json!({"user": "boss", "password": "pw", "code": wrong}),
        )
        .await;
        assert_eq!(
            (status, body["error"].clone()),
            (401, json!("totp-invalid"))
        );
    }
    assert_eq!(
        post_login(
            &app,
            json!({"user": "boss", "password": "pw", "code": code})
        )
        .await,
        (
            401,
            json!({
                "success": false,
                "error": "totp-max-attempts",
                "status": "error",
                "message": "TOTP Maximum Failed Attempts Reached",
            })
        )
    );
}
