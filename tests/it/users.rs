//! Users, TOTP enrolment and the audit log through the internal API.

use serde_json::json;
use sessions_proto::v1::{
    DisableTotpRequest, EnrollTotpRequest, GetUserRequest, ListAuditEventsRequest,
    ListUsersRequest, RegenerateBackupCodesRequest, SetPasswordRequest, UpsertUserRequest,
};
use sessions_service::secrets::password_digest;
use sessions_testkit::{Backend, TestApp};
use tonic::Code;

on_both_databases!(
    users_are_managed_through_the_internal_api,
    admin_actions_are_audited,
    totp_secrets_are_sealed_at_rest,
);

async fn totp_secrets_are_sealed_at_rest(backend: Backend) {
    let key = "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=";
    let app = TestApp::spawn_with(backend, |c| {
        c.two_factor.totp_encryption_key = Some(key.into())
    })
    .await;
    let id = app.create_user("kim", Some("pw"), &["user"]).await;
    let secret = b"12345678901234567890";
    app.enroll_totp(&id, secret).await;
    let db = sea_orm::Database::connect(app.database.url())
        .await
        .unwrap();
    let row = sea_orm::ConnectionTrait::query_one_raw(
        &db,
        sea_orm::Statement::from_string(db.get_database_backend(), "SELECT totp_secret FROM users"),
    )
    .await
    .unwrap()
    .unwrap();
    let stored: String = row.try_get("", "totp_secret").unwrap();
    assert!(stored.starts_with("v1:"), "{stored}");
    assert!(!stored.contains("GEZDGNBVGY3TQOJQ"), "{stored}");
    let code = app.totp_code(secret, 0);
    assert_eq!(
        login_status(&app, json!({"user": "kim", "password": "pw", "code": code})).await,
        200
    );
}

async fn login_status(app: &TestApp, body: serde_json::Value) -> u16 {
    app.post_tokenless("/api/v1/login", &body).await.0
}

async fn users_are_managed_through_the_internal_api(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut internal = app.internal().await;
    let created = internal
        .upsert_user(UpsertUserRequest {
            username: "kim".into(),
            name: "Kim".into(),
            roles: vec!["user".into()],
            active: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (created.id.len(), created.has_password, created.totp_enabled),
        (17, false, false)
    );
    let updated = internal
        .upsert_user(UpsertUserRequest {
            id: created.id.clone(),
            username: "kim".into(),
            name: "Kim Lee".into(),
            roles: vec!["user".into(), "admin".into()],
            active: true,
            emails: None,
            receive_login_emails: None,
            email_two_factor: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (updated.id.as_str(), updated.name.as_str()),
        (created.id.as_str(), "Kim Lee")
    );
    let taken = internal
        .upsert_user(UpsertUserRequest {
            username: "kim".into(),
            name: "Other".into(),
            active: true,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(taken.code(), Code::AlreadyExists);
    let missing = internal
        .get_user(GetUserRequest {
            user_id: "nobody".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    let listed = internal
        .list_users(ListUsersRequest {})
        .await
        .unwrap()
        .into_inner()
        .users;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].roles, vec!["user".to_owned(), "admin".to_owned()]);

    internal
        .set_password(SetPasswordRequest {
            user_id: created.id.clone(),
            password: "pw".into(),
            keep_session_id: None,
        })
        .await
        .unwrap();
    assert_eq!(
        login_status(&app, json!({"user": "kim", "password": "pw"})).await,
        200
    );

    let enrolled = internal
        .enroll_totp(EnrollTotpRequest {
            user_id: created.id.clone(),
            secret_base32: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        enrolled
            .otpauth_uri
            .starts_with("otpauth://totp/Sessions:kim?secret="),
        "{}",
        enrolled.otpauth_uri
    );
    assert_eq!(enrolled.backup_codes.len(), 10);
    assert!(
        internal
            .get_user(GetUserRequest {
                user_id: created.id.clone()
            })
            .await
            .unwrap()
            .into_inner()
            .totp_enabled
    );
    assert_eq!(
        login_status(&app, json!({"user": "kim", "password": "pw"})).await,
        401
    );

    let fresh = internal
        .regenerate_backup_codes(RegenerateBackupCodesRequest {
            user_id: created.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .backup_codes;
    assert_eq!(
        login_status(
            &app,
            json!({"user": "kim", "password": "pw", "code": enrolled.backup_codes[0]})
        )
        .await,
        401
    );
    assert_eq!(
        login_status(
            &app,
            json!({"user": "kim", "password": "pw", "code": fresh[0]})
        )
        .await,
        200
    );

    internal
        .disable_totp(DisableTotpRequest {
            user_id: created.id.clone(),
        })
        .await
        .unwrap();
    assert_eq!(
        login_status(&app, json!({"user": "kim", "password": "pw"})).await,
        200
    );
}

async fn admin_actions_are_audited(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let boss_id = app.create_user("boss", Some("pw"), &["admin"]).await;
    app.create_user("ann", Some("pw"), &["user"]).await;
    let boss = app.login("boss", "pw").await;
    let ann = app.login("ann", "pw").await;
    let ann_elsewhere = app.login("ann", "pw").await;
    let code = password_digest("pw");
    app.get(
        &format!("/api/v1/sessions/info.admin?sessionId={}", ann.session_id),
        &boss,
        &[],
    )
    .await;
    app.get(
        &format!("/api/v1/sessions/info.admin?sessionId={}", ann.session_id),
        &boss,
        &[("x-2fa-code", &code)],
    )
    .await;
    app.get("/api/v1/sessions/list.all?filter=ann", &boss, &[])
        .await;
    app.post(
        "/api/v1/sessions/logout",
        &boss,
        json!({"sessionId": ann.session_id}),
        &[],
    )
    .await;
    app.get("/api/v1/sessions/list.all", &ann_elsewhere, &[])
        .await;

    let events = app
        .internal()
        .await
        .list_audit_events(ListAuditEventsRequest {
            actor_id: boss_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .events;
    let summary: Vec<(&str, &str, &str)> = events
        .iter()
        .map(|e| (e.action.as_str(), e.target.as_str(), e.outcome.as_str()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                "sessions.info.admin",
                ann.session_id.as_str(),
                "totp-required"
            ),
            ("sessions.info.admin", ann.session_id.as_str(), "ok"),
            ("sessions.list.all", "filter=ann", "ok"),
            ("sessions.logout", ann.session_id.as_str(), "ok"),
        ]
    );
    assert!(events.iter().all(|e| e.ip == "127.0.0.1"
        && e.actor_id == boss_id
        && e.at == "2026-03-01T12:00:00.000Z"));
    // The denied attempt of a user without the permission is recorded too.
    let all = app
        .internal()
        .await
        .list_audit_events(ListAuditEventsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .events;
    assert_eq!(all.len(), 5);
    assert_eq!(
        (all[4].action.as_str(), all[4].outcome.as_str()),
        ("sessions.list.all", "forbidden")
    );
}
