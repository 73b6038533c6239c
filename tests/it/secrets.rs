//! The full flow with logging at trace level (every crate, dependencies too):
//! no password, token, TOTP secret, code, backup code or credential appears in
//! any log line.

use serde_json::{Value, json};
use sessions_proto::v1::{
    EnrollTotpRequest, SetPasswordRequest, UpsertUserRequest,
    internal_sessions_service_client::InternalSessionsServiceClient,
};
use sessions_service::totp;
use tonic::{Request, metadata::MetadataValue, transport::Channel};

use crate::binary::Sessionsd;

const CREDENTIAL: &str = "internal-credential-zq7";
const KEY: &str = "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=";
const PASSWORD: &str = "correct-horse-battery-zq7";

fn authorized<T>(message: T) -> Request<T> {
    let mut request = Request::new(message);
    let bearer = MetadataValue::try_from(format!("Bearer {CREDENTIAL}")).unwrap();
    request.metadata_mut().insert("authorization", bearer);
    request
}

fn now_code(secret: &[u8], steps: i64) -> String {
    let unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    totp::code_for_step(secret, totp::step_at(unix) + steps)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_the_logs() {
    let server = Sessionsd::serve(&[
        ("RUST_LOG", "trace".to_owned()),
        ("SESSIONS_INTERNAL_API_TOKEN", CREDENTIAL.to_owned()),
        ("SESSIONS_TOTP_ENCRYPTION_KEY", KEY.to_owned()),
    ]);
    let channel = Channel::from_shared(format!("http://{}", server.address))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut internal = InternalSessionsServiceClient::new(channel);
    let user = internal
        .upsert_user(authorized(UpsertUserRequest {
            username: "root".into(),
            name: "Root".into(),
            roles: vec!["admin".into()],
            active: true,
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    internal
        .set_password(authorized(SetPasswordRequest {
            user_id: user.id.clone(),
            password: PASSWORD.into(),
            keep_session_id: None,
        }))
        .await
        .unwrap();
    let secret = b"zq7-secret-bytes-0123";
    let secret_base32 = totp::encode_secret(secret);
    let backup_codes = internal
        .enroll_totp(authorized(EnrollTotpRequest {
            user_id: user.id.clone(),
            secret_base32: secret_base32.clone(),
        }))
        .await
        .unwrap()
        .into_inner()
        .backup_codes;

    let http = reqwest::Client::new();
    let login_code = now_code(secret, 0);
    let login: Value = http
        .post(server.url("/api/v1/login"))
        .json(&json!({"user": "root", "password": PASSWORD, "code": login_code}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["data"]["authToken"]
        .as_str()
        .expect("logged in")
        .to_owned();
    let admin = http
        .get(server.url("/api/v1/sessions/list.all"))
        .header("x-user-id", &user.id)
        .header("x-auth-token", &token)
        .header("x-2fa-code", &backup_codes[0])
        .send()
        .await
        .unwrap();
    assert_eq!(admin.status().as_u16(), 200);
    let wrong = http
        .get(server.url("/api/v1/sessions/list.all"))
        .header("x-user-id", &user.id)
        .header("x-auth-token", &token)
        .header("x-2fa-code", "987654")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 200, "the remember window is open");
    let logout = http
        .post(server.url("/api/v1/logout"))
        .header("x-user-id", &user.id)
        .header("x-auth-token", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status().as_u16(), 200);

    let (exit, log) = server.terminate().await;
    assert!(exit.success());
    assert!(
        log.lines().count() > 50,
        "trace logging produced too little to mean anything"
    );
    for (what, secret) in [
        ("password", PASSWORD),
        ("login token", token.as_str()),
        ("totp secret", secret_base32.as_str()),
        ("totp code", login_code.as_str()),
        ("backup code", backup_codes[0].as_str()),
        ("internal credential", CREDENTIAL),
        ("encryption key", KEY),
    ] {
        assert!(!log.contains(secret), "the {what} reached a log line");
    }
}
