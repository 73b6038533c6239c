//! The public RPCs over gRPC (tonic client) and gRPC-web, with identity in
//! metadata as the REST headers carry it.

use serde_json::Value;
use sessions_proto::v1::{
    GetSessionRequest, ListSessionsRequest, LoginRequest, LogoutSessionRequest,
};
use sessions_testkit::{Backend, TestApp};
use tonic::{Code, Request};

fn with_identity<T>(message: T, user_id: &str, token: &str) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("x-user-id", user_id.parse().unwrap());
    request
        .metadata_mut()
        .insert("x-auth-token", token.parse().unwrap());
    request
}

on_both_databases!(
    grpc_serves_the_same_rpcs,
    grpc_web_is_served_on_the_same_port
);

async fn grpc_serves_the_same_rpcs(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app.create_user("rod", Some("pw"), &["user"]).await;
    let mut grpc = app.grpc().await;
    let login = grpc
        .login(LoginRequest {
            user: "rod".into(),
            password: "pw".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let data = login.data.unwrap();
    assert_eq!(
        (login.status.as_str(), data.user_id.as_str()),
        ("success", id.as_str())
    );
    let token = data.auth_token;

    let listing = grpc
        .list_my_sessions(with_identity(ListSessionsRequest::default(), &id, &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (listing.total, listing.count, listing.sessions.len()),
        (1, 50, 1)
    );
    let session_id = listing.sessions[0].session_id.clone();
    // gRPC callers skip the REST decoder, and meet the same bounds: U+0000 in
    // any string is invalid-params, whatever the database would make of it.
    for status in [
        grpc.list_my_sessions(with_identity(
            ListSessionsRequest {
                filter: "ab\0cd".into(),
                ..Default::default()
            },
            &id,
            &token,
        ))
        .await
        .unwrap_err(),
        grpc.get_my_session(with_identity(
            GetSessionRequest {
                session_id: Some("a\0b".into()),
            },
            &id,
            &token,
        ))
        .await
        .unwrap_err(),
    ] {
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        let rendering: Value = serde_json::from_slice(status.details()).unwrap();
        assert_eq!(
            rendering["body"],
            serde_json::json!({
                "success": false,
                "error": "must NOT contain the NUL character [invalid-params]",
                "errorType": "invalid-params"
            })
        );
    }

    let session = grpc
        .get_my_session(with_identity(
            GetSessionRequest {
                session_id: Some(session_id.clone()),
            },
            &id,
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (session.user_id.as_str(), session.r#type.as_str()),
        (id.as_str(), "session")
    );
    assert_eq!(session.login_at, "2026-03-01T12:00:00.000Z");
    assert_eq!(
        (session.most_important_role.as_str(), session.success),
        ("user", true)
    );

    // Errors carry their gRPC code and, in details, the REST rendering.
    let missing = grpc
        .get_my_session(with_identity(GetSessionRequest::default(), &id, &token))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::InvalidArgument);
    let rendering: Value = serde_json::from_slice(missing.details()).unwrap();
    assert_eq!(rendering["body"]["errorType"], "invalid-params");
    let unknown = grpc
        .get_my_session(with_identity(
            GetSessionRequest {
                session_id: Some("NoSuchSession2345".into()),
            },
            &id,
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        (unknown.code(), unknown.message()),
        (Code::NotFound, "Session not found")
    );
    // Present but empty is an id that names nothing, not a missing one.
    let empty = grpc
        .get_my_session(with_identity(
            GetSessionRequest {
                session_id: Some(String::new()),
            },
            &id,
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(empty.code(), Code::NotFound);
    let anonymous = grpc
        .get_my_session(GetSessionRequest {
            session_id: Some(session_id.clone()),
        })
        .await
        .unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated);

    let ended = grpc
        .logout_my_session(with_identity(
            LogoutSessionRequest {
                session_id: Some(session_id.clone()),
            },
            &id,
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(ended.success);
    let after = grpc
        .list_my_sessions(with_identity(ListSessionsRequest::default(), &id, &token))
        .await
        .unwrap_err();
    assert_eq!(after.code(), Code::Unauthenticated);
}

async fn grpc_web_is_served_on_the_same_port(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // An empty GetSessionRequest, framed: no compression, zero length.
    let response = app
        .http
        .post(app.url("/sessions.v1.SessionsService/GetMySession"))
        .header("content-type", "application/grpc-web+proto")
        .header("x-grpc-web", "1")
        .body(vec![0u8, 0, 0, 0, 0])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("application/grpc-web"),
        "{content_type}"
    );
    let grpc_status = response
        .headers()
        .get("grpc-status")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = response.bytes().await.unwrap();
    let trailer = String::from_utf8_lossy(&body).to_lowercase();
    // Unauthenticated (16): in the headers of a trailers-only answer, or in the
    // trailer frame of the body.
    assert!(
        grpc_status.as_deref() == Some("16") || trailer.contains("grpc-status:16"),
        "{trailer}"
    );
}
