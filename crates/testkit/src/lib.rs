//! Test helpers: start the real server on port 0 with a fresh SQLite or
//! PostgreSQL database, a clock the test moves, and REST and gRPC clients.

mod clock;
mod database;
mod node;
mod outbox;
mod smtp;

use std::{net::SocketAddr, sync::Arc};

use anyhow::Context;
use serde_json::{Value, json};
use sessions_proto::v1::{
    self as pb, internal_sessions_service_client::InternalSessionsServiceClient,
    sessions_service_client::SessionsServiceClient,
};
use sessions_server::{Config, Server};
use tokio::sync::oneshot;
use tonic::{
    Request,
    metadata::MetadataValue,
    service::{Interceptor, interceptor::InterceptedService},
    transport::Channel,
};

pub use clock::ManualClock;
pub use database::{Backend, TestDatabase, postgres_admin_url};
pub use node::{npm_ci_when_stale, require_node, run_node_script, run_with_timeout};
pub use outbox::OutboxRow;
pub use smtp::{Address, Auth, Envelope, ReceivedMail, Reply, SinkOptions, SmtpSink};

/// The service credential every test server is configured with.
pub const INTERNAL_TOKEN: &str = "test-internal-credential";
/// The instance id every test server reports.
pub const INSTANCE_ID: &str = "f0313fa9-ebe6-4a84-8580-3104f6a09988";
/// Chrome 113 on Windows 10, the spec's example device.
pub const CHROME_UA: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/113.0.0.0 Safari/537.36";

/// A running server with its own database.
pub struct TestApp {
    pub addr: SocketAddr,
    /// The admin listener: metrics, liveness, readiness.
    pub admin_addr: SocketAddr,
    pub clock: Arc<ManualClock>,
    pub http: reqwest::Client,
    pub config: Config,
    pub database: Arc<TestDatabase>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

/// A user logged in over REST.
#[derive(Debug, Clone)]
pub struct LoggedIn {
    pub user_id: String,
    pub token: String,
    pub session_id: String,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Starts a server after `adjust` has changed its configuration.
    pub async fn spawn_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Self {
        let database = Arc::new(TestDatabase::create(backend).await.expect("test database"));
        Self::spawn_on(database, ManualClock::starting_at_default(), adjust).await
    }

    /// Starts a server on an existing database (a second replica, say).
    pub async fn spawn_on(
        database: Arc<TestDatabase>,
        clock: Arc<ManualClock>,
        adjust: impl FnOnce(&mut Config),
    ) -> Self {
        let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
        let mut config = Config::default();
        config.listener.listen = any_port;
        config.listener.admin_listen = Some(any_port);
        config.database.url = database.url().to_owned();
        config.database.migrate_on_start = Some(true);
        config.database.max_connections = 5;
        config.internal_api.token = Some(INTERNAL_TOKEN.to_owned());
        config.events.poll_interval_ms = 50;
        config.sessions.instance_id = Some(INSTANCE_ID.to_owned());
        adjust(&mut config);
        let server = Server::build_with_clock(&config, clock.clone())
            .await
            .expect("server builds");
        let addr = server.local_addr();
        let admin_addr = server.admin_addr();
        let (shutdown, stop) = oneshot::channel::<()>();
        let handle = tokio::spawn(server.run(async move {
            let _ = stop.await;
        }));
        Self {
            addr,
            admin_addr,
            clock,
            http: reqwest::Client::builder()
                .user_agent(CHROME_UA)
                .build()
                .expect("http client"),
            config,
            database,
            shutdown: Some(shutdown),
            server: Some(handle),
        }
    }

    /// Stops serving and waits for in-flight requests to finish.
    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }

    pub fn admin_url(&self, path: &str) -> String {
        format!("http://{}{}", self.admin_addr, path)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// `Host` as the server sees it.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    pub async fn grpc(&self) -> SessionsServiceClient<Channel> {
        SessionsServiceClient::new(self.channel().await)
    }

    pub async fn internal(
        &self,
    ) -> InternalSessionsServiceClient<InterceptedService<Channel, Bearer>> {
        self.internal_with(INTERNAL_TOKEN).await
    }

    /// The internal client presenting `credential`.
    pub async fn internal_with(
        &self,
        credential: &str,
    ) -> InternalSessionsServiceClient<InterceptedService<Channel, Bearer>> {
        InternalSessionsServiceClient::with_interceptor(
            self.channel().await,
            Bearer(format!("Bearer {credential}")),
        )
    }

    pub async fn channel(&self) -> Channel {
        Channel::from_shared(format!("http://{}", self.addr))
            .expect("uri")
            .connect()
            .await
            .expect("grpc connects")
    }

    /// Creates an active user through the internal API; answers the id.
    pub async fn create_user(
        &self,
        username: &str,
        password: Option<&str>,
        roles: &[&str],
    ) -> String {
        let mut internal = self.internal().await;
        let user = internal
            .upsert_user(pb::UpsertUserRequest {
                id: String::new(),
                username: username.to_owned(),
                name: format!("{username} name"),
                roles: roles.iter().map(|r| (*r).to_owned()).collect(),
                active: true,
                emails: None,
                receive_login_emails: None,
                email_two_factor: None,
            })
            .await
            .expect("upsert user")
            .into_inner();
        if let Some(password) = password {
            internal
                .set_password(pb::SetPasswordRequest {
                    user_id: user.id.clone(),
                    password: password.to_owned(),
                    keep_session_id: None,
                })
                .await
                .expect("set password");
        }
        user.id
    }

    /// Rewrites a user through the internal API: `change` edits the current
    /// profile (secrets are not part of it), which is then upserted.
    pub async fn update_user(
        &self,
        user_id: &str,
        change: impl FnOnce(&mut pb::UpsertUserRequest),
    ) {
        let mut internal = self.internal().await;
        let user = internal
            .get_user(pb::GetUserRequest {
                user_id: user_id.to_owned(),
            })
            .await
            .expect("get user")
            .into_inner();
        let mut request = pb::UpsertUserRequest {
            id: user.id,
            username: user.username,
            name: user.name,
            roles: user.roles,
            active: user.active,
            emails: None,
            receive_login_emails: None,
            email_two_factor: None,
        };
        change(&mut request);
        internal.upsert_user(request).await.expect("update user");
    }

    /// Replaces a user's e-mail addresses (address, verified), keeping the
    /// rest of the profile.
    pub async fn set_emails(&self, user_id: &str, emails: &[(&str, bool)]) {
        self.update_user(user_id, |user| {
            user.emails = Some(pb::UserEmails {
                emails: emails
                    .iter()
                    .map(|(address, verified)| pb::UserEmail {
                        address: (*address).to_owned(),
                        verified: *verified,
                    })
                    .collect(),
            });
        })
        .await;
    }

    /// Enables TOTP with `secret` (raw bytes); answers the backup codes.
    pub async fn enroll_totp(&self, user_id: &str, secret: &[u8]) -> Vec<String> {
        self.internal()
            .await
            .enroll_totp(pb::EnrollTotpRequest {
                user_id: user_id.to_owned(),
                secret_base32: sessions_service::totp::encode_secret(secret),
            })
            .await
            .expect("enroll totp")
            .into_inner()
            .backup_codes
    }

    /// The TOTP code of `secret` at the test clock's current step, shifted by
    /// `steps`.
    pub fn totp_code(&self, secret: &[u8], steps: i64) -> String {
        let step = sessions_service::totp::step_at(self.clock.now_unix()) + steps;
        sessions_service::totp::code_for_step(secret, step)
    }

    /// `POST /api/v1/login` with Chrome's User-Agent; panics unless 200.
    pub async fn login(&self, username: &str, password: &str) -> LoggedIn {
        self.login_as(username, password, CHROME_UA).await
    }

    pub async fn login_as(&self, username: &str, password: &str, user_agent: &str) -> LoggedIn {
        self.login_body(json!({"user": username, "password": password}), user_agent)
            .await
    }

    /// A login of a TOTP user with its code; panics unless 200.
    pub async fn login_with_code(&self, username: &str, password: &str, code: &str) -> LoggedIn {
        self.login_body(
            json!({"user": username, "password": password, "code": code}),
            CHROME_UA,
        )
        .await
    }

    async fn login_body(&self, body: Value, user_agent: &str) -> LoggedIn {
        let username = body["user"].as_str().unwrap_or_default().to_owned();
        let response = self
            .http
            .post(self.url("/api/v1/login"))
            .header("user-agent", user_agent)
            .json(&body)
            .send()
            .await
            .expect("login request");
        assert_eq!(response.status().as_u16(), 200, "login of {username}");
        let body: Value = response.json().await.expect("login body");
        let user_id = body["data"]["userId"].as_str().expect("userId").to_owned();
        let token = body["data"]["authToken"]
            .as_str()
            .expect("authToken")
            .to_owned();
        let session_id = self.session_of(&user_id, &token).await;
        LoggedIn {
            user_id,
            token,
            session_id,
        }
    }

    /// The session id a token belongs to, from the internal Authenticate RPC.
    pub async fn session_of(&self, user_id: &str, token: &str) -> String {
        self.internal()
            .await
            .authenticate(pb::AuthenticateRequest {
                user_id: user_id.to_owned(),
                login_token: token.to_owned(),
            })
            .await
            .expect("authenticate")
            .into_inner()
            .session
            .expect("session")
            .session_id
    }

    /// Waits until the server answers token checks from memory (`/readyz`
    /// says its cache is trusted): until its notification feed is up, what it
    /// keeps is cleared when the feed starts. Panics after 10 s.
    pub async fn until_token_cache_trusted(&self) {
        let started = std::time::Instant::now();
        loop {
            let response = self.http.get(self.admin_url("/readyz")).send().await;
            if let Ok(response) = response {
                let (_, body) = read(response).await;
                if body["tokenCache"] == "trusted" {
                    return;
                }
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(10),
                "the token cache was never trusted"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// A GET as `who`, with extra headers; answers status and JSON body.
    pub async fn get(&self, path: &str, who: &LoggedIn, headers: &[(&str, &str)]) -> (u16, Value) {
        let mut request = self
            .http
            .get(self.url(path))
            .header("x-user-id", &who.user_id)
            .header("x-auth-token", &who.token);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        read(request.send().await.expect("get")).await
    }

    /// A POST of a JSON body as `who`, with extra headers.
    pub async fn post(
        &self,
        path: &str,
        who: &LoggedIn,
        body: Value,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut request = self
            .http
            .post(self.url(path))
            .header("x-user-id", &who.user_id)
            .header("x-auth-token", &who.token)
            .json(&body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        read(request.send().await.expect("post")).await
    }

    /// A POST of a JSON body with no token (`login`, `sendEmailCode`).
    pub async fn post_tokenless(&self, path: &str, body: &Value) -> (u16, Value) {
        let request = self.http.post(self.url(path)).json(body);
        read(request.send().await.expect("post")).await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// The spec's 401 body for a missing, wrong, revoked or expired token.
pub fn not_logged_in() -> Value {
    serde_json::json!({
        "success": false,
        "error": "You must be logged in to do this.",
        "status": "error",
        "message": "You must be logged in to do this."
    })
}

/// Status and JSON body of a response; a body that is not JSON fails the test.
pub async fn read(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text)
        .with_context(|| format!("body is not JSON: {text}"))
        .expect("json body");
    (status, body)
}

/// Adds `authorization: Bearer ...` to internal calls.
#[derive(Clone)]
pub struct Bearer(String);

impl Interceptor for Bearer {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, tonic::Status> {
        let value = MetadataValue::try_from(self.0.as_str())
            .map_err(|_| tonic::Status::invalid_argument("bad credential"))?;
        request.metadata_mut().insert("authorization", value);
        Ok(request)
    }
}
