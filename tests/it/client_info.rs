//! What a session records about its client: the address behind trusted
//! proxies (every `X-Forwarded-For` line, walked from the right) and the Host
//! header, kept only when it is a valid `host[:port]`.

use serde_json::{Value, json};
use sessions_proto::v1::CreateSessionRequest;
use sessions_service::secrets::hash_login_token;
use sessions_testkit::{Backend, CHROME_UA, LoggedIn, TestApp, read};

/// A REST login sending `headers` (repeated names become separate lines);
/// answers the login and the session's `ip` and `host` from `sessions/info`.
async fn login_with(app: &TestApp, headers: &[(&str, &str)]) -> (LoggedIn, Value, Value) {
    let mut request = app
        .http
        .post(app.url("/api/v1/login"))
        .json(&json!({"user": "rod", "password": "pw"}));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let (status, body) = read(request.send().await.unwrap()).await;
    assert_eq!(status, 200, "{headers:?}: {body}");
    let user_id = body["data"]["userId"].as_str().unwrap().to_owned();
    let token = body["data"]["authToken"].as_str().unwrap().to_owned();
    let session_id = app.session_of(&user_id, &token).await;
    let who = LoggedIn {
        user_id,
        token,
        session_id,
    };
    let (status, info) = app
        .get(
            &format!("/api/v1/sessions/info?sessionId={}", who.session_id),
            &who,
            &[],
        )
        .await;
    assert_eq!(status, 200, "{info}");
    (who, info["ip"].clone(), info["host"].clone())
}

on_both_databases!(
    forwarded_for_lines_are_walked_from_the_right,
    bad_hosts_are_stored_empty,
);

async fn forwarded_for_lines_are_walked_from_the_right(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.listener.trusted_proxies = vec!["127.0.0.1".into(), "10.0.0.0/8".into()];
    })
    .await;
    app.create_user("rod", Some("pw"), &["user"]).await;
    let xff = "x-forwarded-for";
    for (lines, client) in [
        // HAProxy's `option forwardfor` appends a line of its own: the client
        // wrote the first one, the proxy the second.
        (&[(xff, "6.6.6.6"), (xff, "203.0.113.7")][..], "203.0.113.7"),
        (
            &[(xff, "6.6.6.6, 7.7.7.7"), (xff, "203.0.113.7, 10.0.0.2")],
            "203.0.113.7",
        ),
        // An unparseable hop stops the walk on the last address walked: the
        // peer, or the trusted hop right of it; never a hop left of it.
        (&[(xff, "6.6.6.6, unknown")], "127.0.0.1"),
        (&[(xff, "6.6.6.6"), (xff, "unknown")], "127.0.0.1"),
        (
            &[(xff, "6.6.6.6"), (xff, "<garbage>, 10.0.0.2")],
            "10.0.0.2",
        ),
        // Every hop trusted: the leftmost one, as before.
        (&[(xff, "10.0.0.5"), (xff, "10.0.0.6")], "10.0.0.5"),
    ] {
        let (_, ip, _) = login_with(&app, lines).await;
        assert_eq!(ip, json!(client), "{lines:?}");
    }
    // The peer is not trusted: nothing it forwards is believed.
    let app = TestApp::spawn_with(backend, |c| {
        c.listener.trusted_proxies = vec!["10.0.0.0/8".into()]
    })
    .await;
    app.create_user("rod", Some("pw"), &["user"]).await;
    let (_, ip, _) = login_with(&app, &[(xff, "6.6.6.6"), (xff, "203.0.113.7")]).await;
    assert_eq!(ip, json!("127.0.0.1"));
}

async fn bad_hosts_are_stored_empty(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app.create_user("rod", Some("pw"), &["user"]).await;
    // 300 bytes of labels that are each valid: too long as a whole.
    let long = format!("{}.{}", vec!["a".repeat(59); 4].join("."), "b".repeat(60));
    assert_eq!(long.len(), 300);
    for bad in [
        long.as_str(),
        "<script>",
        "<script>alert(1)</script>",
        "example.com:99999",
        "example.com:0",
        "example.com:http",
        "exa_mple.com",
    ] {
        let (_, _, host) = login_with(&app, &[("host", bad)]).await;
        assert_eq!(host, json!(""), "{bad}");
    }
    for good in ["example.com:8443", "chat.example.com", "[2001:db8::1]:8443"] {
        let (_, _, host) = login_with(&app, &[("host", good)]).await;
        assert_eq!(host, json!(good));
    }

    // Sessions created for logins done elsewhere get the same rule.
    let mut internal = app.internal().await;
    for (sent, stored) in [
        ("<script>", ""),
        (long.as_str(), ""),
        ("example.com:8443", "example.com:8443"),
    ] {
        let session = internal
            .create_session(CreateSessionRequest {
                user_id: id.clone(),
                login_token_hash: hash_login_token(&format!("token-{sent}")),
                ip: "198.51.100.7".into(),
                host: sent.into(),
                user_agent: CHROME_UA.into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(session.host, stored, "{sent}");
    }
}
