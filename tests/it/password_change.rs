//! A password change logs the user's sessions out (all but the one an RPC
//! keeps; all of them from the CLI) and ends every 2FA remember window.

use std::sync::Arc;

use serde_json::{Value, json};
use sessions_proto::v1::{SessionEventKind, SetPasswordRequest, WatchSessionEventsRequest};
use sessions_server::cli::{self, Command, UserCommand};
use sessions_service::secrets::password_digest;
use sessions_testkit::{Backend, LoggedIn, ManualClock, TestApp, TestDatabase, not_logged_in};
use tonic::Code;

fn logged_out() -> (u16, Value) {
    (401, not_logged_in())
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

fn info_admin(who: &LoggedIn) -> String {
    format!("/api/v1/sessions/info.admin?sessionId={}", who.session_id)
}

/// Passes the admin endpoint's 2FA with the password, opening the session's
/// remember window, and proves the window is open.
async fn pass_two_factor(app: &TestApp, who: &LoggedIn, password: &str) {
    let digest = password_digest(password);
    let path = info_admin(who);
    assert_eq!(app.get(&path, who, &[("x-2fa-code", &digest)]).await.0, 200);
    assert_eq!(app.get(&path, who, &[]).await.0, 200);
}

async fn login_status(app: &TestApp, password: &str) -> u16 {
    let body = json!({"user": "boss", "password": password});
    app.post_tokenless("/api/v1/login", &body).await.0
}

on_both_databases!(
    rpc_password_change_keeps_one_session_and_ends_remember_windows,
    cli_password_change_logs_every_session_out,
);

async fn rpc_password_change_keeps_one_session_and_ends_remember_windows(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app.create_user("boss", Some("pw"), &["admin"]).await;
    let kept = app.login("boss", "pw").await;
    let ended = app.login("boss", "pw").await;
    pass_two_factor(&app, &kept, "pw").await;
    pass_two_factor(&app, &ended, "pw").await;

    let answer = app
        .internal()
        .await
        .set_password(SetPasswordRequest {
            user_id: id.clone(),
            password: "new-pw".into(),
            keep_session_id: Some(kept.session_id.clone()),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answer.logged_out, 1);

    assert_eq!(
        app.get("/api/v1/sessions/list", &ended, &[]).await,
        logged_out()
    );
    assert_eq!(
        app.get(&info_admin(&ended), &ended, &[]).await,
        logged_out()
    );
    // The kept session still works, but its remember window is over: it must
    // pass 2FA again, with the new password.
    let (status, list) = app.get("/api/v1/sessions/list", &kept, &[]).await;
    assert_eq!((status, &list["total"]), (200, &json!(1)));
    assert_eq!(
        app.get(&info_admin(&kept), &kept, &[]).await,
        password_required()
    );
    let old = password_digest("pw");
    assert_eq!(
        app.get(&info_admin(&kept), &kept, &[("x-2fa-code", &old)])
            .await
            .0,
        400
    );
    pass_two_factor(&app, &kept, "new-pw").await;
    assert_eq!(login_status(&app, "pw").await, 401);
    assert_eq!(login_status(&app, "new-pw").await, 200);

    // The ended session was logged out like any forced logout: recorded and
    // announced to watchers.
    let mut events = app
        .internal()
        .await
        .watch_session_events(WatchSessionEventsRequest { after_cursor: 0 })
        .await
        .unwrap()
        .into_inner();
    let mut forced = Vec::new();
    // Two created, one forced logout, one created by the last login.
    for _ in 0..4 {
        let event = events.message().await.unwrap().unwrap();
        if event.kind == SessionEventKind::ForceLogout as i32 {
            forced.push((event.session_id, event.by));
        }
    }
    assert_eq!(forced, [(ended.session_id.clone(), id.clone())]);

    // Without a session to keep, every one ends; an unknown user changes nothing.
    let mut internal = app.internal().await;
    let answer = internal
        .set_password(SetPasswordRequest {
            user_id: id.clone(),
            password: "newer-pw".into(),
            keep_session_id: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answer.logged_out, 2);
    assert_eq!(
        app.get("/api/v1/sessions/list", &kept, &[]).await,
        logged_out()
    );
    let unknown = internal
        .set_password(SetPasswordRequest {
            user_id: "NoSuchUser234567".into(),
            password: "x".into(),
            keep_session_id: None,
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
}

async fn cli_password_change_logs_every_session_out(backend: Backend) {
    // The CLI reads the wall clock: the server's must agree on which sessions
    // are still active.
    let database = Arc::new(TestDatabase::create(backend).await.unwrap());
    let app = TestApp::spawn_on(database, ManualClock::new(chrono::Utc::now()), |_| {}).await;
    app.create_user("boss", Some("pw"), &["admin"]).await;
    let first = app.login("boss", "pw").await;
    let second = app.login("boss", "pw").await;
    pass_two_factor(&app, &first, "pw").await;

    let mut out = Vec::new();
    cli::run(
        Command::User(UserCommand::SetPassword {
            user: "boss".into(),
            password: Some("new-pw".into()),
        }),
        &app.config,
        async {},
        &mut out,
    )
    .await
    .expect("set-password succeeds");
    let out = String::from_utf8(out).unwrap();
    assert!(out.ends_with("; 2 session(s) logged out\n"), "{out}");

    for session in [&first, &second] {
        // The CLI is another writer: a replica answering token checks from
        // memory learns of it through the change feed, within its trust
        // window (spec section 11), not before the CLI returns.
        let started = std::time::Instant::now();
        while app.get("/api/v1/sessions/list", session, &[]).await.0 != 401 {
            assert!(started.elapsed() < std::time::Duration::from_secs(3));
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(
            app.get("/api/v1/sessions/list", session, &[]).await,
            logged_out()
        );
        assert_eq!(
            app.get(&info_admin(session), session, &[]).await,
            logged_out()
        );
    }
    assert_eq!(login_status(&app, "pw").await, 401);
    let fresh = app.login("boss", "new-pw").await;
    assert_eq!(
        app.get(&info_admin(&fresh), &fresh, &[]).await,
        password_required()
    );
}
