//! Guessing limits under attack: failed-login blocking as Rocket.Chat answers
//! it (spec section 9, its own `failed-login-attempts.ts` ported), bursts of
//! concurrent guesses, and lockouts a stranger or a stolen token cannot turn
//! against the owner (spec section 5).

use chrono::Duration;
use futures::future::join_all;
use serde_json::{Value, json};
use sessions_service::secrets::password_digest;
use sessions_testkit::{Backend, TestApp, read};

on_both_databases!(
    blocking_follows_rocket_chats_failed_login_test,
    a_burst_of_wrong_passwords_evaluates_at_most_the_limit,
    a_burst_of_wrong_codes_evaluates_at_most_the_limit,
    the_owner_logs_in_from_a_known_address_while_strangers_fail,
    wrong_codes_with_a_stolen_token_do_not_lock_the_owner_out_of_login,
);

fn unauthorized() -> Value {
    json!({"success": false, "error": "Unauthorized", "status": "error", "message": "Unauthorized"})
}

fn blocked(reason: &str) -> Value {
    let message = if reason == "ip" { "IP" } else { "User" };
    json!({
        "success": false,
        "error": format!("error-login-blocked-for-{reason}"),
        "status": "error",
        "details": {"function": "Accounts.validateLoginAttempt"},
        "message": format!("Login has been temporarily blocked For {message}"),
    })
}

/// A password login; `from` is sent as X-Forwarded-For (the test servers that
/// use it trust 127.0.0.1 as their proxy).
async fn login(app: &TestApp, user: &str, password: &str, from: Option<&str>) -> (u16, Value) {
    let mut request = app
        .http
        .post(app.url("/api/v1/login"))
        .json(&json!({"user": user, "password": password}));
    if let Some(address) = from {
        request = request.header("x-forwarded-for", address);
    }
    read(request.send().await.unwrap()).await
}

/// Two wrong passwords at once, as Rocket.Chat's test sends them: both are
/// evaluated and refused.
async fn fail_twice(app: &TestApp, user: &str) {
    let answers = join_all((0..2).map(|_| login(app, user, "wrong", None))).await;
    for answer in answers {
        assert_eq!(answer, (401, unauthorized()), "failure of {user}");
    }
}

async fn blocking_follows_rocket_chats_failed_login_test(backend: Backend) {
    // Rocket.Chat's test: 2 failures block a user for 3 s, 4 an address for 8 s.
    let by_user = TestApp::spawn_with(backend, |c| {
        c.limits.login.failures_per_user = 2;
        c.limits.login.user_window_secs = 3;
        c.limits.login.failures_per_address = 0;
    })
    .await;
    let app = &by_user;
    let second = Duration::seconds(1);
    for name in ["u1", "u2", "u3", "u4", "u5"] {
        app.create_user(name, Some("pw"), &["user"]).await;
    }
    // Blocked once the limit is reached, even with the right password.
    fail_twice(app, "u1").await;
    assert_eq!(login(app, "u1", "pw", None).await, (401, blocked("user")));
    // Hammering a block neither verifies nor renews it: it ends 3 s after
    // the last failure.
    app.clock.advance(second * 2);
    for password in ["pw", "wrong", "pw"] {
        assert_eq!(
            login(app, "u1", password, None).await,
            (401, blocked("user"))
        );
    }
    app.clock.advance(second);
    assert_eq!(login(app, "u1", "pw", None).await.0, 200);
    // A successful login starts the count again.
    fail_twice(app, "u2").await;
    app.clock.advance(second * 3);
    assert_eq!(login(app, "u2", "wrong", None).await, (401, unauthorized()));
    assert_eq!(login(app, "u2", "pw", None).await.0, 200);
    fail_twice(app, "u2").await;
    assert_eq!(login(app, "u2", "pw", None).await, (401, blocked("user")));
    // Failures count per user.
    fail_twice(app, "u3").await;
    assert_eq!(login(app, "u4", "wrong", None).await, (401, unauthorized()));
    assert_eq!(login(app, "u4", "pw", None).await.0, 200);
    // ...since the last successful login, however far apart.
    assert_eq!(login(app, "u5", "wrong", None).await, (401, unauthorized()));
    app.clock.advance(Duration::hours(6));
    assert_eq!(login(app, "u5", "wrong", None).await, (401, unauthorized()));
    assert_eq!(login(app, "u5", "pw", None).await, (401, blocked("user")));

    let by_address = TestApp::spawn_with(backend, |c| {
        c.limits.login.failures_per_user = 2;
        c.limits.login.user_window_secs = 3;
        c.limits.login.failures_per_address = 4;
        c.limits.login.address_window_secs = 8;
    })
    .await;
    let app = &by_address;
    for name in ["a", "b", "c", "d", "e", "f"] {
        app.create_user(name, Some("pw"), &["user"]).await;
    }
    // One user: the address blocks at its fourth failure, and wins over the user.
    fail_twice(app, "a").await;
    app.clock.advance(second * 3);
    fail_twice(app, "a").await;
    assert_eq!(login(app, "a", "pw", None).await, (401, blocked("ip")));
    app.clock.advance(second * 8);
    // Several users: the address blocks a third one.
    fail_twice(app, "a").await;
    fail_twice(app, "b").await;
    assert_eq!(login(app, "c", "pw", None).await, (401, blocked("ip")));
    // Unblocked after the block time.
    app.clock.advance(second * 8);
    assert_eq!(login(app, "c", "pw", None).await.0, 200);
    // A successful login from the address starts its count again.
    fail_twice(app, "d").await;
    fail_twice(app, "e").await;
    app.clock.advance(second * 8);
    assert_eq!(login(app, "f", "wrong", None).await, (401, unauthorized()));
    assert_eq!(login(app, "f", "pw", None).await.0, 200);
    fail_twice(app, "d").await;
    fail_twice(app, "e").await;
    assert_eq!(login(app, "f", "pw", None).await, (401, blocked("ip")));
}

/// Answers of `attempts` concurrent calls, counted by status and body.
fn tally(answers: Vec<(u16, Value)>) -> Vec<((u16, Value), usize)> {
    let mut counts: Vec<((u16, Value), usize)> = Vec::new();
    for answer in answers {
        match counts.iter_mut().find(|(seen, _)| *seen == answer) {
            Some((_, n)) => *n += 1,
            None => counts.push((answer, 1)),
        }
    }
    counts.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    counts
}

async fn a_burst_of_wrong_passwords_evaluates_at_most_the_limit(backend: Backend) {
    let per_user = TestApp::spawn_with(backend, |c| {
        c.limits.login.failures_per_user = 10;
        c.limits.login.failures_per_address = 0;
    })
    .await;
    per_user.create_user("rod", Some("pw"), &["user"]).await;
    let answers = join_all((0..60).map(|_| login(&per_user, "rod", "guess", None))).await;
    assert_eq!(
        tally(answers),
        vec![((401, blocked("user")), 50), ((401, unauthorized()), 10)]
    );

    let per_address = TestApp::spawn_with(backend, |c| {
        c.limits.login.failures_per_user = 0;
        c.limits.login.failures_per_address = 10;
    })
    .await;
    let names: Vec<String> = (0..60).map(|n| format!("nobody-{n}")).collect();
    let answers = join_all(names.iter().map(|n| login(&per_address, n, "guess", None))).await;
    assert_eq!(
        tally(answers),
        vec![((401, blocked("ip")), 50), ((401, unauthorized()), 10)]
    );
}

fn code_error(error: &str, error_type: &str, method: &str, available: &[&str]) -> Value {
    json!({
        "success": false,
        "error": format!("{error} [{error_type}]"),
        "errorType": error_type,
        "details": {"method": method, "codeGenerated": false, "availableMethods": available}
    })
}

async fn a_burst_of_wrong_codes_evaluates_at_most_the_limit(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.limits.login.failures_per_user = 100).await;
    app.create_user("boss", Some("pw"), &["admin"]).await;
    let boss = app.login("boss", "pw").await;
    let path = format!("/api/v1/sessions/info.admin?sessionId={}", boss.session_id);

    // Password fallback: 40 wrong digests at once, 5 evaluated.
    let wrong = password_digest("nope");
    let headers = [("x-2fa-code", wrong.as_str())];
    let answers = join_all((0..40).map(|_| app.get(&path, &boss, &headers))).await;
    assert_eq!(
        tally(answers),
        vec![
            (
                (
                    400,
                    code_error(
                        "TOTP Maximum Failed Attempts Reached",
                        "totp-max-attempts",
                        "password",
                        &[]
                    )
                ),
                35
            ),
            (
                (
                    400,
                    code_error("TOTP Invalid", "totp-invalid", "password", &[])
                ),
                5
            ),
        ]
    );

    // TOTP: 40 wrong codes at once, 5 evaluated.
    let id = app.create_user("tina", Some("pw"), &["admin"]).await;
    let secret = b"12345678901234567890";
    app.enroll_totp(&id, secret).await;
    let tina = app
        .login_with_code("tina", "pw", &app.totp_code(secret, 0))
        .await;
    let far = app.totp_code(secret, 10);
    assert!((-1..=1).all(|step| app.totp_code(secret, step) != far));
    let path = format!("/api/v1/sessions/info.admin?sessionId={}", tina.session_id);
    let headers = [("x-2fa-code", far.as_str())];
    let answers = join_all((0..40).map(|_| app.get(&path, &tina, &headers))).await;
    assert_eq!(
        tally(answers),
        vec![
            (
                (
                    400,
                    code_error(
                        "TOTP Maximum Failed Attempts Reached",
                        "totp-max-attempts",
                        "totp",
                        &["totp"]
                    )
                ),
                35
            ),
            (
                (
                    400,
                    code_error("TOTP Invalid", "totp-invalid", "totp", &["totp"])
                ),
                5
            ),
        ]
    );

    // At login: 40 right passwords with wrong codes at once, 5 codes evaluated.
    let attempt = json!({"user": "tina", "password": "pw", "code": far});
    let answers = join_all((0..40).map(|_| app.post_tokenless("/api/v1/login", &attempt))).await;
    let counts = tally(answers);
    let statuses: Vec<(&str, usize)> = counts
        .iter()
        .map(|((status, body), n)| {
            assert_eq!(*status, 401);
            (body["error"].as_str().unwrap(), *n)
        })
        .collect();
    assert_eq!(
        statuses,
        vec![("totp-max-attempts", 35), ("totp-invalid", 5)]
    );
}

async fn the_owner_logs_in_from_a_known_address_while_strangers_fail(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.listener.trusted_proxies = vec!["127.0.0.1".to_owned()];
        c.limits.login.failures_per_user = 10;
        c.limits.login.failures_per_address = 3;
    })
    .await;
    app.create_user("owner", Some("pw"), &["user"]).await;
    let home = "198.51.100.7";
    let phone = "2001:db8:1:2::5";
    assert_eq!(login(&app, "owner", "pw", Some(home)).await.0, 200);
    assert_eq!(login(&app, "owner", "pw", Some(phone)).await.0, 200);

    // Strangers from many addresses pile up the owner's count...
    for n in 0..10 {
        let stranger = format!("203.0.113.{n}");
        assert_eq!(
            login(&app, "owner", "guess", Some(&stranger)).await,
            (401, unauthorized())
        );
    }
    // ...which blocks every address the owner never logged in from,
    assert_eq!(
        login(&app, "owner", "pw", Some("192.0.2.1")).await,
        (401, blocked("user"))
    );
    // but not the owner's own, nor another address of the same IPv6 /64.
    assert_eq!(login(&app, "owner", "pw", Some(home)).await.0, 200);
    assert_eq!(
        login(&app, "owner", "pw", Some("2001:db8:1:2::99")).await.0,
        200
    );

    // The owner's address still counts its own failures (3 per address).
    for _ in 0..3 {
        assert_eq!(
            login(&app, "owner", "typo", Some(home)).await,
            (401, unauthorized())
        );
    }
    assert_eq!(
        login(&app, "owner", "pw", Some(home)).await,
        (401, blocked("ip"))
    );
}

async fn wrong_codes_with_a_stolen_token_do_not_lock_the_owner_out_of_login(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app.create_user("admin", Some("pw"), &["admin"]).await;
    let secret = b"12345678901234567890";
    app.enroll_totp(&id, secret).await;
    let stolen = app
        .login_with_code("admin", "pw", &app.totp_code(secret, 0))
        .await;
    let path = format!(
        "/api/v1/sessions/info.admin?sessionId={}",
        stolen.session_id
    );
    let far = app.totp_code(secret, 10);
    for _ in 0..5 {
        assert_eq!(
            app.get(&path, &stolen, &[("x-2fa-code", &far)]).await.0,
            400
        );
    }
    let max = code_error(
        "TOTP Maximum Failed Attempts Reached",
        "totp-max-attempts",
        "totp",
        &["totp"],
    );
    app.clock.advance(Duration::seconds(30));
    let fresh = app.totp_code(secret, 0);
    assert_eq!(
        app.get(&path, &stolen, &[("x-2fa-code", &fresh)]).await,
        (400, max)
    );
    // The owner still logs in with password and code.
    app.clock.advance(Duration::seconds(30));
    let owner = app
        .login_with_code("admin", "pw", &app.totp_code(secret, 0))
        .await;

    // Wrong codes at login are counted apart too: they lock login, not the
    // endpoints of a session that already has its code.
    app.clock.advance(Duration::minutes(11));
    let login_with = |code: String| {
        let app = &app;
        async move {
            let attempt = json!({"user": "admin", "password": "pw", "code": code});
            let (status, body) = app.post_tokenless("/api/v1/login", &attempt).await;
            (status, body["error"].clone())
        }
    };
    for _ in 0..5 {
        assert_eq!(login_with(far.clone()).await, (401, json!("totp-invalid")));
    }
    let fresh = app.totp_code(secret, 0);
    assert_eq!(
        login_with(fresh.clone()).await,
        (401, json!("totp-max-attempts"))
    );
    let path = format!("/api/v1/sessions/info.admin?sessionId={}", owner.session_id);
    assert_eq!(
        app.get(&path, &owner, &[("x-2fa-code", &fresh)]).await.0,
        200
    );
}
