//! A password login and a password change racing each other: the session of
//! a login that verified the old password is stored only while that password
//! is still the user's, and the change forgets where the user was known.

use chrono::{TimeZone, Utc};
use serde_json::json;
use sessions_domain::{AttemptRepository, EventKind, NewEvent, SessionRepository, UserRepository};
use sessions_proto::v1::SetPasswordRequest;
use sessions_store::{Store, StoreOptions};
use sessions_testkit::{Backend, TestApp, read};

on_both_databases!(
    a_login_session_needs_the_password_it_verified,
    a_password_change_forgets_known_addresses
);

async fn a_login_session_needs_the_password_it_verified(backend: Backend) {
    // The server creates the user and a session to copy; the race is then
    // played on the store's own API, where its two sides can be ordered.
    let app = TestApp::spawn(backend).await;
    let id = app.create_user("rod", Some("pw"), &["user"]).await;
    let rod = app.login("rod", "pw").await;
    let store = Store::connect(&StoreOptions::new(app.database.url()))
        .await
        .unwrap();
    let user = store.find_user(&id).await.unwrap().unwrap();
    let verified = user.password_hash.clone().unwrap();
    let mut session = store
        .find_session(&rod.session_id)
        .await
        .unwrap()
        .unwrap()
        .session;
    let event = |session_id: &str| NewEvent {
        kind: EventKind::Created,
        session_id: session_id.to_owned(),
        user_id: id.clone(),
        at: Utc.timestamp_opt(1_780_000_000, 0).unwrap(),
        by: None,
        instance_id: "test".into(),
    };
    session.id = "aaaaaaaaaaaaaaaaaaaaaaa1".into();
    session.session_id = "RaceSessionOne234".into();
    session.login_token_hash = "x".repeat(43) + "=";
    assert!(
        store
            .insert_login_session(
                &session,
                &event("RaceSessionOne234"),
                &verified,
                &Default::default()
            )
            .await
            .unwrap()
    );
    // The password changes: a login that verified the old one stores nothing.
    app.internal()
        .await
        .set_password(SetPasswordRequest {
            user_id: id.clone(),
            password: "new".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    session.id = "aaaaaaaaaaaaaaaaaaaaaaa2".into();
    session.session_id = "RaceSessionTwo234".into();
    session.login_token_hash = "y".repeat(43) + "=";
    assert!(
        !store
            .insert_login_session(
                &session,
                &event("RaceSessionTwo234"),
                &verified,
                &Default::default()
            )
            .await
            .unwrap()
    );
    assert!(
        store
            .find_session("RaceSessionTwo234")
            .await
            .unwrap()
            .is_none()
    );
}

async fn a_password_change_forgets_known_addresses(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.listener.trusted_proxies = vec!["127.0.0.1".to_owned()];
        c.limits.login.failures_per_user = 2;
    })
    .await;
    let id = app.create_user("owner", Some("pw"), &["user"]).await;
    let login = |password: &'static str, from: &'static str| {
        let app = &app;
        async move {
            read(
                app.http
                    .post(app.url("/api/v1/login"))
                    .header("x-forwarded-for", from)
                    .json(&json!({"user": "owner", "password": password}))
                    .send()
                    .await
                    .unwrap(),
            )
            .await
            .0
        }
    };
    assert_eq!(login("pw", "198.51.100.7").await, 200);
    let since = Utc.timestamp_opt(0, 0).unwrap();
    let store = Store::connect(&StoreOptions::new(app.database.url()))
        .await
        .unwrap();
    assert!(
        store
            .is_known_address(&id, "198.51.100.7", since)
            .await
            .unwrap()
    );
    app.internal()
        .await
        .set_password(SetPasswordRequest {
            user_id: id.clone(),
            password: "new".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        !store
            .is_known_address(&id, "198.51.100.7", since)
            .await
            .unwrap()
    );
    // Strangers' failures now count for the old address too.
    assert_eq!(login("guess", "203.0.113.1").await, 401);
    assert_eq!(login("guess", "203.0.113.2").await, 401);
    assert_eq!(login("new", "198.51.100.7").await, 401);
}
