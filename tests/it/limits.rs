//! Rate limits: per address and route (429 with the spec's body and headers)
//! and an exempt permission. Failed logins: `brute_force.rs`.

use serde_json::json;
use sessions_proto::v1::PermissionChange;
use sessions_testkit::{Backend, TestApp, read};

on_both_databases!(requests_over_the_limit_get_429);

async fn requests_over_the_limit_get_429(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.limits.rate_limit.requests = 3).await;
    app.create_user("rod", Some("pw"), &["user"]).await;
    app.create_user("boss", Some("pw"), &["admin"]).await;
    let rod = app.login("rod", "pw").await;
    for _ in 0..3 {
        assert_eq!(app.get("/api/v1/sessions/list", &rod, &[]).await.0, 200);
    }
    let response = app
        .http
        .get(app.url("/api/v1/sessions/list"))
        .header("x-user-id", &rod.user_id)
        .header("x-auth-token", &rod.token)
        .send()
        .await
        .unwrap();
    let headers = response.headers().clone();
    // The test clock stands at 12:00:00.000, so the minute window ends in 60 s.
    assert_eq!(
        read(response).await,
        (
            429,
            json!({
                "success": false,
                "error": "Error, too many requests. Please slow down. You must wait 60 seconds before trying this endpoint again. [error-too-many-requests]"
            })
        )
    );
    assert_eq!(headers["x-ratelimit-limit"], "3");
    assert_eq!(headers["x-ratelimit-remaining"], "0");
    let reset_at = app.clock.now_unix() * 1000 + 60_000;
    assert_eq!(headers["x-ratelimit-reset"], reset_at.to_string().as_str());
    // Other routes have their own budget; the window passes.
    assert_eq!(
        app.get(
            &format!("/api/v1/sessions/info?sessionId={}", rod.session_id),
            &rod,
            &[]
        )
        .await
        .0,
        200
    );
    app.clock.advance(chrono::Duration::seconds(60));
    assert_eq!(app.get("/api/v1/sessions/list", &rod, &[]).await.0, 200);

    // Roles holding api-bypass-rate-limit are not limited.
    let boss = app.login("boss", "pw").await;
    app.internal()
        .await
        .grant_permission(PermissionChange {
            permission: "api-bypass-rate-limit".into(),
            role: "admin".into(),
        })
        .await
        .unwrap();
    for _ in 0..6 {
        assert_eq!(app.get("/api/v1/sessions/list", &boss, &[]).await.0, 200);
    }
}
