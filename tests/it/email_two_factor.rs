//! E-mail 2FA (spec section 5): Rocket.Chat's `users.2fa.enableEmail` and
//! `users.2fa.disableEmail`, the switch as `me` and the internal API show it.

use serde_json::{Value, json};
use sessions_proto::v1 as pb;
use sessions_service::secrets::password_digest;
use sessions_testkit::{Backend, TestApp};

on_both_databases!(
    the_switch_is_rocket_chats_and_turning_it_off_asks_for_a_fresh_factor,
    the_internal_api_sets_the_switch,
);

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
