//! `GET /api/v1/sessions/list` and `GET /api/v1/sessions/list.all`.

use serde_json::{Value, json};
use sessions_service::secrets::password_digest;
use sessions_testkit::{Backend, CHROME_UA, LoggedIn, TestApp};

const FIREFOX_UA: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/115.0";
const MOBILE_UA: &str = "RC Mobile; iOS 12.2; v3.4.0 (250)";

fn ids(body: &Value) -> Vec<String> {
    body["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["sessionId"].as_str().unwrap().to_owned())
        .collect()
}

/// Logs `username` in `n` times, a minute apart; answers the logins, oldest first.
async fn logins(app: &TestApp, username: &str, n: usize) -> Vec<LoggedIn> {
    let mut all = Vec::new();
    for _ in 0..n {
        all.push(app.login(username, "pw").await);
        app.clock.advance(chrono::Duration::minutes(1));
    }
    all
}

on_both_databases!(
    list_pages_in_login_order,
    list_filters_literally_and_sorts,
    list_reports_parameter_problems,
    list_all_needs_permission_and_2fa,
    list_all_filters_and_sorts_by_owner,
    list_marks_this_device_and_shows_activity,
);

/// The console's extra fields: `current` on the calling session's row only
/// (in both listings), `lastActivityAt` once activity was recorded.
async fn list_marks_this_device_and_shows_activity(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin_id = app.create_user("boss", Some("pw"), &["admin"]).await;
    let [first, second] = [app.login("boss", "pw").await, app.login("boss", "pw").await];
    app.clock.advance(chrono::Duration::minutes(3));
    app.internal()
        .await
        .record_activity(sessions_proto::v1::RecordActivityRequest {
            session_id: second.session_id.clone(),
        })
        .await
        .unwrap();

    let (status, body) = app.get("/api/v1/sessions/list", &first, &[]).await;
    assert_eq!(status, 200);
    let rows = body["sessions"].as_array().unwrap();
    let row = |id: &str| rows.iter().find(|r| r["sessionId"] == id).unwrap().clone();
    assert_eq!(row(&first.session_id)["current"], json!(true));
    assert_eq!(row(&first.session_id).get("lastActivityAt"), None);
    assert_eq!(row(&second.session_id).get("current"), None);
    assert_eq!(
        row(&second.session_id)["lastActivityAt"],
        json!("2026-03-01T12:03:00.000Z")
    );

    let code = password_digest("pw");
    let (status, all) = app
        .get(
            "/api/v1/sessions/list.all",
            &second,
            &[("x-2fa-code", &code)],
        )
        .await;
    assert_eq!(status, 200, "{all}");
    let current: Vec<&Value> = all["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r.get("current").is_some())
        .collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["sessionId"], json!(second.session_id));
    assert_eq!(current[0]["userId"], json!(admin_id));
}

async fn list_pages_in_login_order(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let rod_id = app.create_user("rod", Some("pw"), &["user"]).await;
    app.create_user("ann", Some("pw"), &["user"]).await;
    let rod = logins(&app, "rod", 5).await;
    app.login("ann", "pw").await;
    let newest_first: Vec<String> = rod.iter().rev().map(|l| l.session_id.clone()).collect();

    let (status, body) = app.get("/api/v1/sessions/list", &rod[0], &[]).await;
    assert_eq!(status, 200);
    assert_eq!(ids(&body), newest_first);
    assert_eq!(
        (
            body["total"].clone(),
            body["count"].clone(),
            body["offset"].clone()
        ),
        (json!(5), json!(50), json!(0))
    );
    assert_eq!(body["success"], json!(true));
    assert_eq!(
        body["sessions"][4],
        json!({
            "_id": rod[0].session_id,
            "sessionId": rod[0].session_id,
            "userId": rod_id,
            "device": {"type": "browser", "name": "Chrome", "longVersion": "113.0.0.0", "os": {"name": "Windows", "version": "10"}, "version": "113.0.0"},
            "host": app.host(),
            "ip": "127.0.0.1",
            "loginAt": "2026-03-01T12:00:00.000Z",
            "current": true
        })
    );

    let (_, page) = app
        .get("/api/v1/sessions/list?count=2&offset=1", &rod[0], &[])
        .await;
    assert_eq!(ids(&page), newest_first[1..3].to_vec());
    assert_eq!(
        (
            page["total"].clone(),
            page["count"].clone(),
            page["offset"].clone()
        ),
        (json!(5), json!(2), json!(1))
    );
    let (_, clamped) = app
        .get("/api/v1/sessions/list?count=500&offset=-3", &rod[0], &[])
        .await;
    assert_eq!(
        (clamped["count"].clone(), clamped["offset"].clone()),
        (json!(100), json!(0))
    );
    let (_, one) = app.get("/api/v1/sessions/list?count=0", &rod[0], &[]).await;
    assert_eq!((one["count"].clone(), ids(&one).len()), (json!(1), 1));
    let (_, oldest_first) = app
        .get(
            "/api/v1/sessions/list?sort=%7B%22loginAt%22%3A1%7D",
            &rod[0],
            &[],
        )
        .await;
    assert_eq!(
        ids(&oldest_first),
        rod.iter().map(|l| l.session_id.clone()).collect::<Vec<_>>()
    );

    // Logged-out and expired sessions are not active.
    app.post("/api/v1/logout", &rod[4], json!({}), &[]).await;
    let (_, after_logout) = app.get("/api/v1/sessions/list", &rod[0], &[]).await;
    assert_eq!(after_logout["total"], json!(4));
    app.clock
        .advance(chrono::Duration::days(90) - chrono::Duration::seconds(150));
    let (_, after_expiry) = app.get("/api/v1/sessions/list", &rod[3], &[]).await;
    assert_eq!(ids(&after_expiry), vec![rod[3].session_id.clone()]);
}

async fn list_filters_literally_and_sorts(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_user("rod", Some("pw"), &["user"]).await;
    let chrome = app.login_as("rod", "pw", CHROME_UA).await;
    let firefox = app.login_as("rod", "pw", FIREFOX_UA).await;
    let mobile = app.login_as("rod", "pw", MOBILE_UA).await;
    let (_, body) = app
        .get("/api/v1/sessions/list?filter=fIrEfOx", &chrome, &[])
        .await;
    assert_eq!(
        (ids(&body), body["total"].clone()),
        (vec![firefox.session_id.clone()], json!(1))
    );
    let (_, body) = app
        .get(
            &format!("/api/v1/sessions/list?filter={}", &mobile.session_id[3..10]),
            &chrome,
            &[],
        )
        .await;
    assert_eq!(ids(&body), vec![mobile.session_id.clone()]);
    // Never a pattern: regex and LIKE metacharacters match themselves.
    for pattern in ["Chr.me", ".%2A", "%25", "_"] {
        let (_, body) = app
            .get(
                &format!("/api/v1/sessions/list?filter={pattern}"),
                &chrome,
                &[],
            )
            .await;
        assert_eq!(body["total"], json!(0), "{pattern}");
    }
    let (_, body) = app
        .get(
            "/api/v1/sessions/list?sort=%7B%22device.name%22%3A1%7D",
            &chrome,
            &[],
        )
        .await;
    assert_eq!(
        ids(&body),
        vec![chrome.session_id, firefox.session_id, mobile.session_id]
    );
}

async fn list_reports_parameter_problems(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_user("rod", Some("pw"), &["user"]).await;
    let rod = app.login("rod", "pw").await;
    let invalid = |message: &str| json!({"success": false, "error": format!("{message} [invalid-params]"), "errorType": "invalid-params"});
    assert_eq!(
        app.get("/api/v1/sessions/list?count=ten", &rod, &[]).await,
        (400, invalid("must be number"))
    );
    assert_eq!(
        app.get("/api/v1/sessions/list?page=2", &rod, &[]).await,
        (400, invalid("must NOT have additional properties"))
    );
    // Neither database takes U+0000 as text: a clear 400, not a 500.
    assert_eq!(
        app.get("/api/v1/sessions/list?filter=abc%00def", &rod, &[])
            .await,
        (400, invalid("must NOT contain the NUL character"))
    );
    assert_eq!(
        app.get("/api/v1/sessions/info?sessionId=a%00b", &rod, &[])
            .await,
        (400, invalid("must NOT contain the NUL character"))
    );
    assert_eq!(
        app.get("/api/v1/sessions/list?sort=loginAt", &rod, &[])
            .await,
        (
            400,
            json!({
                "success": false,
                "error": "Invalid sort parameter provided: \"loginAt\" [error-invalid-sort]",
                "errorType": "error-invalid-sort",
                "details": {"helperMethod": "parseJsonQuery"}
            })
        )
    );
    assert_eq!(
        app.get(
            "/api/v1/sessions/list?sort=%7B%22loginAt%22%3A0%7D",
            &rod,
            &[]
        )
        .await
        .1["errorType"],
        json!("error-invalid-sort")
    );
    // Owner keys sort only the all-users listing.
    assert_eq!(
        app.get(
            "/api/v1/sessions/list?sort=%7B%22_user.name%22%3A1%7D",
            &rod,
            &[]
        )
        .await,
        (
            400,
            json!({"success": false, "error": "error-invalid-sort-keys"})
        )
    );
}

async fn list_all_needs_permission_and_2fa(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_user("boss", Some("pw"), &["admin"]).await;
    app.create_user("ann", Some("pw"), &["user"]).await;
    let boss = app.login("boss", "pw").await;
    app.clock.advance(chrono::Duration::minutes(1));
    let ann = app.login("ann", "pw").await;
    assert_eq!(
        app.get("/api/v1/sessions/list.all", &ann, &[]).await,
        (
            403,
            json!({"success": false, "error": "User does not have the permissions required for this action [error-unauthorized]"})
        )
    );
    let (status, body) = app.get("/api/v1/sessions/list.all", &boss, &[]).await;
    assert_eq!(
        (status, body["errorType"].clone()),
        (400, json!("totp-required"))
    );
    // Parameters are checked before the second factor.
    assert_eq!(
        app.get("/api/v1/sessions/list.all?sort=x", &boss, &[])
            .await
            .1["errorType"],
        json!("error-invalid-sort")
    );
    let code = password_digest("pw");
    let (status, body) = app
        .get("/api/v1/sessions/list.all", &boss, &[("x-2fa-code", &code)])
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["total"], json!(2));
    let users: Vec<Value> = body["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["_user"].clone())
        .collect();
    assert_eq!(
        users,
        vec![
            json!({"name": "ann name", "username": "ann"}),
            json!({"name": "boss name", "username": "boss"})
        ]
    );
}

async fn list_all_filters_and_sorts_by_owner(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_user("boss", Some("pw"), &["admin"]).await;
    app.create_user("wilhelmina", Some("pw"), &["user"]).await;
    app.create_user("aaron", Some("pw"), &["user"]).await;
    let boss = app.login("boss", "pw").await;
    let wil = app.login("wilhelmina", "pw").await;
    let aaron = app.login("aaron", "pw").await;
    // Owners sort apart even with equal login times.
    let code = password_digest("pw");
    let two_fa = [("x-2fa-code", code.as_str())];
    let (_, body) = app
        .get("/api/v1/sessions/list.all?filter=HELMIN", &boss, &two_fa)
        .await;
    assert_eq!(
        (ids(&body), body["total"].clone()),
        (vec![wil.session_id.clone()], json!(1))
    );
    let (_, body) = app
        .get(
            "/api/v1/sessions/list.all?sort=%7B%22_user.username%22%3A-1%7D",
            &boss,
            &two_fa,
        )
        .await;
    assert_eq!(
        ids(&body),
        vec![
            wil.session_id.clone(),
            boss.session_id.clone(),
            aaron.session_id
        ]
    );

    // A piece of a session id, in another case: the search term's substring
    // index (pg_trgm, SQLite FTS5) and the exact match agree.
    let piece: String = wil.session_id.chars().skip(3).take(6).collect();
    let swapped: String = piece
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect();
    let (status, body) = app
        .get(
            &format!("/api/v1/sessions/list.all?filter={swapped}"),
            &boss,
            &two_fa,
        )
        .await;
    assert_eq!(status, 200);
    assert!(ids(&body).contains(&wil.session_id), "{body}");
    // Index syntax and wildcards are literal text that no session contains.
    for hostile in ["%22OR%22", "%25_%25", "a*b", "NEAR(x)", "%22%22%22"] {
        let (status, body) = app
            .get(
                &format!("/api/v1/sessions/list.all?filter={hostile}"),
                &boss,
                &two_fa,
            )
            .await;
        assert_eq!(
            (status, body["total"].clone()),
            (200, json!(0)),
            "{hostile}"
        );
    }
}
