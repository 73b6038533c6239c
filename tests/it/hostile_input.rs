//! Hostile input on every transport: the parameter bounds REST has hold for
//! gRPC too (same answers), gRPC messages are capped at the transport, and
//! unauthenticated big-parameter logins cannot grow the server's memory.

use serde_json::{Value, json};
use sessions_proto::v1::{
    ListSessionsRequest, LoginRequest, SendEmailCodeRequest,
    sessions_service_client::SessionsServiceClient,
};
use sessions_testkit::{Backend, TestApp};
use tonic::{Code, Request};

use crate::binary::Sessionsd;

on_both_databases!(grpc_parameters_meet_the_rest_bounds);

fn too_long() -> Value {
    json!({
        "success": false,
        "error": "must NOT have more than 1024 characters [invalid-params]",
        "errorType": "invalid-params"
    })
}

/// The REST body a gRPC error carries in its details.
fn rendered_body(status: &tonic::Status) -> Value {
    let rendering: Value = serde_json::from_slice(status.details()).unwrap();
    rendering["body"].clone()
}

async fn grpc_parameters_meet_the_rest_bounds(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_user("rod", Some("pw"), &["user"]).await;
    let rod = app.login("rod", "pw").await;
    let mut grpc = app.grpc().await;
    let long = "f".repeat(2000);

    // A long filter: the same invalid-params on both transports (SQLite used to
    // answer INTERNAL, "LIKE or GLOB pattern too complex").
    let mut request = Request::new(ListSessionsRequest {
        filter: long.clone(),
        ..Default::default()
    });
    request
        .metadata_mut()
        .insert("x-user-id", rod.user_id.parse().unwrap());
    request
        .metadata_mut()
        .insert("x-auth-token", rod.token.parse().unwrap());
    let status = grpc.list_my_sessions(request).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(rendered_body(&status), too_long());
    assert_eq!(
        app.get(&format!("/api/v1/sessions/list?filter={long}"), &rod, &[])
            .await,
        (400, too_long())
    );

    // A long username at login, before any lookup or hashing.
    let status = grpc
        .login(LoginRequest {
            user: long.clone(),
            password: "pw".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(rendered_body(&status), too_long());
    assert_eq!(
        app.post_tokenless("/api/v1/login", &json!({"user": long, "password": "pw"}))
            .await,
        (400, too_long())
    );

    // The tokenless e-mail code route, before any lookup.
    let status = grpc
        .send_email_code(SendEmailCodeRequest {
            email_or_username: Some(long.clone()),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(rendered_body(&status), too_long());
    assert_eq!(
        app.post_tokenless(
            "/api/v1/users.2fa.sendEmailCode",
            &json!({ "emailOrUsername": long })
        )
        .await,
        (400, too_long())
    );

    // A message over the transport cap (the REST body limit) is not decoded.
    let status = grpc
        .login(LoginRequest {
            user: "u".repeat(4 << 20),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::OutOfRange, "{status:?}");
}

/// Resident memory of a process, from /proc.
fn rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb / 1024.0
}

/// The attack that took RSS from 118 MB to 1,060 MB: 200 unauthenticated gRPC
/// logins with huge usernames, within the rate limit. Run against the real
/// binary in a child process, whose memory is its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_parameter_logins_leave_memory_flat() {
    let server = Sessionsd::serve(&[]);
    let mut grpc = SessionsServiceClient::connect(server.url(""))
        .await
        .unwrap()
        .max_encoding_message_size(usize::MAX);
    let attempt = |user: String| LoginRequest {
        user,
        password: "guess".into(),
        ..Default::default()
    };
    // Warm up: the first requests allocate the server's pools and caches.
    for n in 0..10 {
        let _ = grpc.login(attempt(format!("warm-{n}"))).await;
    }
    let before = rss_mb(server.pid());
    let mut codes = std::collections::BTreeMap::new();
    for n in 0..200 {
        let user = match n % 4 {
            // Over the transport cap.
            0 => format!("{n}-{}", "x".repeat(4 << 20)),
            // Under the cap, over the parameter bound.
            1 => format!("{n}-{}", "y".repeat(60 << 10)),
            // Within every bound: unknown users, each one new.
            _ => format!("{n}-{}", "z".repeat(1000)),
        };
        let code = match grpc.login(attempt(user)).await {
            Ok(_) => Code::Ok,
            Err(status) => status.code(),
        };
        *codes.entry(format!("{code:?}")).or_insert(0) += 1;
    }
    let after = rss_mb(server.pid());
    let (_, log) = server.terminate().await;
    assert_eq!(
        codes.keys().cloned().collect::<Vec<_>>(),
        ["InvalidArgument", "OutOfRange", "Unauthenticated"],
        "{codes:?}"
    );
    assert!(
        after - before < 64.0,
        "RSS grew from {before:.0} MB to {after:.0} MB; log:\n{log}"
    );
    eprintln!("RSS {before:.1} MB -> {after:.1} MB over 200 hostile logins ({codes:?})");
}
