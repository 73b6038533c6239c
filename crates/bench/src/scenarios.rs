//! The measured requests against the real server, and the checks run once
//! before measuring that each answers what it should (a fast wrong answer is
//! not a result).

use std::{net::SocketAddr, sync::Arc};

use anyhow::Context;
use serde_json::Value;
use sessions_proto::v1::{
    AuthenticateRequest, GetSessionRequest, SetPasswordRequest,
    internal_sessions_service_client::InternalSessionsServiceClient,
    sessions_service_client::SessionsServiceClient,
};
use tonic::{Request, metadata::MetadataValue, transport::Channel};

use crate::{
    ceilings::BarePool,
    load::{Op, op},
    seed::{CLIENT_UA, LIST_USER_SESSIONS, Login, Seeded},
};

/// Longest any request of the bench may take (the server answers within 30 s).
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// The service credential the bench configures.
pub const INTERNAL_TOKEN: &str = "bench-internal-credential";
/// The admin's password; `x-2fa-code` is its SHA-256 in hex.
const ADMIN_PASSWORD: &str = "bench-admin-password";

/// Clients of one server: HTTP/1.1 keep-alive for REST, a few HTTP/2
/// connections for gRPC.
#[derive(Clone)]
pub struct Clients {
    pub http: reqwest::Client,
    pub base: String,
    pub channels: Arc<Vec<Channel>>,
}

impl Clients {
    pub async fn connect(
        addr: SocketAddr,
        concurrency: usize,
        grpc_connections: usize,
    ) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .user_agent(CLIENT_UA)
            .pool_max_idle_per_host(concurrency)
            .http1_only()
            .tcp_nodelay(true)
            // A wedged server fails the run instead of hanging it.
            .timeout(REQUEST_TIMEOUT)
            .build()?;
        let mut channels = Vec::new();
        for _ in 0..grpc_connections.max(1) {
            channels.push(
                Channel::from_shared(format!("http://{addr}"))?
                    .tcp_nodelay(true)
                    .timeout(REQUEST_TIMEOUT)
                    .connect()
                    .await?,
            );
        }
        Ok(Self {
            http,
            base: format!("http://{addr}"),
            channels: Arc::new(channels),
        })
    }

    fn channel(&self, n: u64) -> Channel {
        self.channels[n as usize % self.channels.len()].clone()
    }
}

fn with_credential<T>(message: T) -> Request<T> {
    let mut request = Request::new(message);
    if let Ok(value) = MetadataValue::try_from(format!("Bearer {INTERNAL_TOKEN}")) {
        request.metadata_mut().insert("authorization", value);
    }
    request
}

fn as_user<T>(message: T, login: &Login) -> Result<Request<T>, String> {
    let mut request = Request::new(message);
    let metadata = request.metadata_mut();
    metadata.insert("x-user-id", login.user_id.parse().map_err(|_| "user id")?);
    metadata.insert("x-auth-token", login.token.parse().map_err(|_| "token")?);
    Ok(request)
}

/// The internal `Authenticate` RPC: the token check of every platform request.
pub fn authenticate(clients: &Clients, sample: Arc<Vec<Login>>) -> Op {
    let clients = clients.clone();
    op(move |n| {
        let channel = clients.channel(n);
        let login = sample[n as usize % sample.len()].clone();
        async move {
            let answer = InternalSessionsServiceClient::new(channel)
                .authenticate(with_credential(AuthenticateRequest {
                    user_id: login.user_id,
                    login_token: login.token,
                }))
                .await
                .map_err(|s| s.to_string())?;
            answer
                .into_inner()
                .session
                .map(|_| ())
                .ok_or_else(|| "no session".to_owned())
        }
    })
}

/// gRPC `GetMySession` of the caller's own session.
pub fn get_my_session(clients: &Clients, sample: Arc<Vec<Login>>) -> Op {
    let clients = clients.clone();
    op(move |n| {
        let channel = clients.channel(n);
        let login = sample[n as usize % sample.len()].clone();
        async move {
            let request = as_user(
                GetSessionRequest {
                    session_id: Some(login.session_id.clone()),
                },
                &login,
            )?;
            SessionsServiceClient::new(channel)
                .get_my_session(request)
                .await
                .map(|_| ())
                .map_err(|s| s.to_string())
        }
    })
}

/// A REST GET as `login` with extra headers; `Ok` on 200 with the body read.
async fn rest_get(
    http: &reqwest::Client,
    url: &str,
    login: &Login,
    extra: Option<(&str, &str)>,
) -> Result<(), String> {
    let mut request = http
        .get(url)
        .header("x-user-id", &login.user_id)
        .header("x-auth-token", &login.token);
    if let Some((name, value)) = extra {
        request = request.header(name, value);
    }
    let response = request.send().await.map_err(|e| e.to_string())?;
    let status = response.status();
    let body = response.bytes().await.map_err(|e| e.to_string())?;
    if status.is_success() {
        Ok(())
    } else {
        Err(format!(
            "{status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(200)])
        ))
    }
}

/// REST `GET /api/v1/sessions/info` of the caller's own session.
pub fn info(clients: &Clients, sample: Arc<Vec<Login>>) -> Op {
    let clients = clients.clone();
    op(move |n| {
        let http = clients.http.clone();
        let login = sample[n as usize % sample.len()].clone();
        let url = format!(
            "{}/api/v1/sessions/info?sessionId={}",
            clients.base, login.session_id
        );
        async move { rest_get(&http, &url, &login, None).await }
    })
}

/// REST `GET /api/v1/sessions/list?count=100` of users holding 100 sessions.
pub fn list(clients: &Clients, users: Arc<Vec<Login>>) -> Op {
    let clients = clients.clone();
    op(move |n| {
        let http = clients.http.clone();
        let login = users[n as usize % users.len()].clone();
        let url = format!(
            "{}/api/v1/sessions/list?count={LIST_USER_SESSIONS}",
            clients.base
        );
        async move { rest_get(&http, &url, &login, None).await }
    })
}

/// The admin's `x-2fa-code`: the password fallback's SHA-256 of its password.
pub(crate) fn two_factor_code() -> String {
    sessions_service::secrets::password_digest(ADMIN_PASSWORD)
}

/// REST `GET /api/v1/sessions/list.all?filter=…` as the admin, with 2FA.
pub fn list_all(clients: &Clients, admin: Login, filters: Arc<Vec<String>>) -> Op {
    let clients = clients.clone();
    let code: Arc<str> = two_factor_code().into();
    op(move |n| {
        let http = clients.http.clone();
        let url = format!(
            "{}/api/v1/sessions/list.all?filter={}",
            clients.base,
            filters[n as usize % filters.len()]
        );
        let (admin, code) = (admin.clone(), code.clone());
        async move { rest_get(&http, &url, &admin, Some(("x-2fa-code", &code))).await }
    })
}

/// Gives the admin a password through the internal API, so 2FA's password
/// fallback can pass; then passes it once, which opens the 2FA remember
/// window for this client (Argon2 is not what `list.all` is measured for).
pub async fn prepare_admin(clients: &Clients, seeded: &Seeded) -> anyhow::Result<()> {
    InternalSessionsServiceClient::new(clients.channel(0))
        .set_password(with_credential(SetPasswordRequest {
            user_id: seeded.admin.user_id.clone(),
            password: ADMIN_PASSWORD.to_owned(),
            // The admin's seeded session is the one the load runs on.
            keep_session_id: Some(seeded.admin.session_id.clone()),
        }))
        .await
        .context("SetPassword")?;
    let url = format!("{}/api/v1/sessions/list.all?count=1", clients.base);
    rest_get(
        &clients.http,
        &url,
        &seeded.admin,
        Some(("x-2fa-code", &two_factor_code())),
    )
    .await
    .map_err(anyhow::Error::msg)
    .context("first list.all")?;
    Ok(())
}

/// Checks the answers the load relies on: a list user's 100 sessions, and
/// `list.all` totals equal to an independent count in the database.
pub async fn check(
    clients: &Clients,
    seeded: &Seeded,
    pool: &BarePool,
    now_ms: i64,
) -> anyhow::Result<()> {
    let get = |url: String, login: Login, extra: Option<(&'static str, String)>| {
        let http = clients.http.clone();
        async move {
            let mut request = http
                .get(url)
                .header("x-user-id", &login.user_id)
                .header("x-auth-token", &login.token);
            if let Some((name, value)) = extra {
                request = request.header(name, value);
            }
            let response = request.send().await?;
            anyhow::ensure!(
                response.status().is_success(),
                "status {}",
                response.status()
            );
            Ok::<Value, anyhow::Error>(response.json().await?)
        }
    };
    if let Some(user) = seeded.list_users.first() {
        let url = format!(
            "{}/api/v1/sessions/list?count={LIST_USER_SESSIONS}",
            clients.base
        );
        let body = get(url, user.clone(), None)
            .await
            .context("sessions/list")?;
        let rows = body["sessions"].as_array().map_or(0, Vec::len);
        anyhow::ensure!(
            rows == LIST_USER_SESSIONS && body["total"] == LIST_USER_SESSIONS,
            "sessions/list answered {rows} rows, total {}",
            body["total"]
        );
    }
    for filter in seeded.filters.iter().take(5) {
        let url = format!("{}/api/v1/sessions/list.all?filter={filter}", clients.base);
        let body = get(
            url,
            seeded.admin.clone(),
            Some(("x-2fa-code", two_factor_code())),
        )
        .await
        .context("sessions/list.all")?;
        let expected = pool.count_matching(filter, now_ms).await?;
        anyhow::ensure!(
            body["total"] == expected,
            "list.all filter={filter}: total {} but {expected} rows match",
            body["total"]
        );
        anyhow::ensure!(expected > 0, "filter {filter} matches nothing");
    }
    Ok(())
}
