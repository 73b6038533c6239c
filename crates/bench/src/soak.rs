//! The soak: a bounded mixed load of whole user journeys (login, lookups,
//! lists, admin calls, one of the three logouts, then proof that the logged-out
//! token is refused) against the real server, counting every answer that is
//! not the one the spec names, and sampling the server's RSS to show it flat.

use std::{
    collections::BTreeMap,
    fmt::Write,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::Context;
use serde::Serialize;
use serde_json::{Value, json};
use sessions_proto::v1::{
    AuthenticateRequest, GetSessionRequest, RecordActivityRequest, SetPasswordRequest,
    UpsertUserRequest, internal_sessions_service_client::InternalSessionsServiceClient,
    sessions_service_client::SessionsServiceClient,
};
use tonic::{Code, Request, metadata::MetadataValue, transport::Channel};

use crate::{
    Backend,
    harness::Settings,
    launch::{self, Mode, Running, Target},
    scenarios::{self, Clients, INTERNAL_TOKEN},
    seed::{Login, SeedSpec},
    seed_db,
};

/// The spec's answer to a refused token.
fn logged_out_body() -> Value {
    let message = "You must be logged in to do this.";
    json!({"success": false, "error": message, "status": "error", "message": message})
}

#[derive(Debug, Clone, Serialize)]
pub struct SoakSettings {
    pub backend: Backend,
    pub concurrency: usize,
    pub duration: Duration,
    /// Rows already in the database, so lookups and lists run over a real table.
    pub background: SeedSpec,
    pub postgres_admin_url: String,
    pub postgres_database: String,
    pub mode: Mode,
    /// Fail when the last quarter's peak RSS exceeds the second quarter's by
    /// more than this fraction (plus 8 MB of allocator slack).
    pub max_rss_growth: f64,
}

impl SoakSettings {
    /// Concurrency 64 for three minutes on PostgreSQL, as the issue asks.
    pub fn full() -> Self {
        let bench = Settings::full();
        Self {
            backend: Backend::Postgres,
            concurrency: 64,
            duration: Duration::from_secs(180),
            background: SeedSpec {
                users: 2_000,
                sessions: 100_000,
                list_users: 2,
                sample: 100,
                rng_seed: 7,
            },
            postgres_admin_url: bench.postgres_admin_url,
            postgres_database: "sessions_soak".to_owned(),
            mode: Mode::Child,
            max_rss_growth: 0.2,
        }
    }

    /// A few seconds, as `cargo test` runs it.
    pub fn quick() -> Self {
        Self {
            concurrency: 8,
            duration: Duration::from_secs(4),
            background: SeedSpec {
                users: 100,
                sessions: 1_000,
                list_users: 1,
                sample: 20,
                rng_seed: 7,
            },
            postgres_database: "sessions_soak_quick".to_owned(),
            mode: Mode::InProcess,
            ..Self::full()
        }
    }
}

/// How often a step ran and how long it took.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct StepStats {
    pub requests: u64,
    pub mean_ms: f64,
    pub max_ms: f64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct SoakReport {
    pub backend: String,
    pub concurrency: usize,
    pub seconds: f64,
    pub journeys: u64,
    pub requests: u64,
    /// Requests per step of the journey, with their latency.
    pub by_step: BTreeMap<String, StepStats>,
    pub server_errors: u64,
    pub unexpected_4xx: u64,
    /// Anything else unexpected: a wrong body, a transport failure.
    pub other_failures: u64,
    pub first_failures: Vec<String>,
    pub logouts: u64,
    /// Logged-out tokens checked again after the run; all must be refused.
    pub logouts_rechecked: u64,
    pub logouts_still_valid: u64,
    /// Peak RSS of each quarter of the run, in MB (child mode only).
    pub rss_quarters_mb: Vec<f64>,
}

impl SoakReport {
    pub fn failures(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.journeys == 0 {
            out.push("no journey completed".to_owned());
        }
        for (count, what) in [
            (self.server_errors, "5xx answers"),
            (self.unexpected_4xx, "unexpected 4xx answers"),
            (self.other_failures, "other failures"),
            (self.logouts_still_valid, "logged-out tokens still accepted"),
        ] {
            if count > 0 {
                out.push(format!("{count} {what}"));
            }
        }
        if self.logouts_rechecked != self.logouts {
            out.push(format!(
                "{} logouts but {} rechecked",
                self.logouts, self.logouts_rechecked
            ));
        }
        out.extend(self.first_failures.iter().cloned());
        out
    }

    fn rss_growth_failure(&self, max_growth: f64) -> Option<String> {
        let [_, second, _, last] = self.rss_quarters_mb[..] else {
            return None;
        };
        if self.rss_quarters_mb.contains(&0.0) {
            return Some("the server's RSS could not be read".to_owned());
        }
        (last > second * (1.0 + max_growth) + 8.0).then(|| {
            format!("RSS grew from {second:.0} MB (second quarter) to {last:.0} MB (last quarter)")
        })
    }

    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "soak on {}: concurrency {}, {:.0} s, {} journeys, {} requests ({:.0}/s)",
            self.backend,
            self.concurrency,
            self.seconds,
            self.journeys,
            self.requests,
            self.requests as f64 / self.seconds.max(0.001)
        );
        let _ = writeln!(
            out,
            "  {:<34} {:>9} {:>9} {:>9}",
            "step", "requests", "mean ms", "max ms"
        );
        for (step, stats) in &self.by_step {
            let _ = writeln!(
                out,
                "  {step:<34} {:>9} {:>9.2} {:>9.1}",
                stats.requests, stats.mean_ms, stats.max_ms
            );
        }
        let _ = writeln!(
            out,
            "5xx {}, unexpected 4xx {}, other failures {}; logouts {} (each refused right after), rechecked at the end {}, still valid {}",
            self.server_errors,
            self.unexpected_4xx,
            self.other_failures,
            self.logouts,
            self.logouts_rechecked,
            self.logouts_still_valid
        );
        if !self.rss_quarters_mb.is_empty() {
            let quarters: Vec<String> = self
                .rss_quarters_mb
                .iter()
                .map(|mb| format!("{mb:.0}"))
                .collect();
            let _ = writeln!(
                out,
                "server RSS peak per quarter (MB): {}",
                quarters.join(" / ")
            );
        }
        out
    }
}

/// Counts shared by every journey task.
#[derive(Default)]
struct Tally {
    journeys: AtomicU64,
    server_errors: AtomicU64,
    unexpected_4xx: AtomicU64,
    other_failures: AtomicU64,
    logouts: AtomicU64,
    by_step: Mutex<BTreeMap<&'static str, StepStats>>,
    first_failures: Mutex<Vec<String>>,
    logged_out: Mutex<Vec<Login>>,
}

/// Adds one request and its latency to its step when dropped, whatever way
/// the step ended.
struct StepTimer<'a> {
    tally: &'a Tally,
    step: &'static str,
    started: Instant,
}

impl Drop for StepTimer<'_> {
    fn drop(&mut self) {
        let ms = self.started.elapsed().as_secs_f64() * 1000.0;
        if let Ok(mut steps) = self.tally.by_step.lock() {
            let stats = steps.entry(self.step).or_default();
            // Running mean: no per-request storage over a long soak.
            stats.requests += 1;
            stats.mean_ms += (ms - stats.mean_ms) / stats.requests as f64;
            stats.max_ms = stats.max_ms.max(ms);
        }
    }
}

/// Why a journey stopped early.
enum Failure {
    Status {
        step: &'static str,
        status: u16,
        body: String,
    },
    Other {
        step: &'static str,
        what: String,
    },
}

impl Tally {
    /// Times one request of `step` until the guard drops.
    fn time(&self, step: &'static str) -> StepTimer<'_> {
        StepTimer {
            tally: self,
            step,
            started: Instant::now(),
        }
    }

    fn fail(&self, failure: Failure) {
        let text = match &failure {
            Failure::Status { step, status, body } => {
                let counter = if *status >= 500 {
                    &self.server_errors
                } else if *status >= 400 {
                    &self.unexpected_4xx
                } else {
                    &self.other_failures
                };
                counter.fetch_add(1, Ordering::Relaxed);
                format!("{step}: status {status}: {body}")
            }
            Failure::Other { step, what } => {
                self.other_failures.fetch_add(1, Ordering::Relaxed);
                format!("{step}: {what}")
            }
        };
        if let Ok(mut first) = self.first_failures.lock()
            && first.len() < 10
        {
            first.push(text);
        }
    }
}

/// One soak client: REST and gRPC to the server, its own user.
struct Journey {
    clients: Clients,
    tally: Arc<Tally>,
    admin: Login,
    two_factor_code: String,
    username: String,
    password: String,
}

impl Journey {
    async fn rest(
        &self,
        step: &'static str,
        request: reqwest::RequestBuilder,
        expected: u16,
    ) -> Result<Value, Failure> {
        let _timer = self.tally.time(step);
        let response = request.send().await.map_err(|e| Failure::Other {
            step,
            what: e.to_string(),
        })?;
        let status = response.status().as_u16();
        let body = response.text().await.map_err(|e| Failure::Other {
            step,
            what: e.to_string(),
        })?;
        if status != expected {
            return Err(Failure::Status {
                step,
                status,
                body: body.chars().take(200).collect(),
            });
        }
        serde_json::from_str(&body).map_err(|e| Failure::Other {
            step,
            what: format!("not JSON: {e}"),
        })
    }

    fn get(&self, path: &str, login: &Login) -> reqwest::RequestBuilder {
        self.clients
            .http
            .get(format!("{}{path}", self.clients.base))
            .header("x-user-id", &login.user_id)
            .header("x-auth-token", &login.token)
    }

    fn post(&self, path: &str, login: &Login, body: Value) -> reqwest::RequestBuilder {
        self.clients
            .http
            .post(format!("{}{path}", self.clients.base))
            .header("x-user-id", &login.user_id)
            .header("x-auth-token", &login.token)
            .json(&body)
    }

    fn channel(&self) -> Channel {
        self.clients.channels[0].clone()
    }

    async fn authenticate(&self, login: &Login) -> Result<Option<String>, Failure> {
        let step = "grpc Authenticate";
        let _timer = self.tally.time(step);
        let answer = InternalSessionsServiceClient::new(self.channel())
            .authenticate(with_credential(AuthenticateRequest {
                user_id: login.user_id.clone(),
                login_token: login.token.clone(),
            }))
            .await;
        match answer {
            Ok(answer) => Ok(answer.into_inner().session.map(|s| s.session_id)),
            Err(status) if status.code() == Code::Unauthenticated => Ok(None),
            Err(status) => Err(grpc_failure(step, &status)),
        }
    }

    /// One journey; `n` picks the logout variant.
    async fn run(&self, n: u64) -> Result<(), Failure> {
        let body = self
            .rest(
                "POST login",
                self.clients
                    .http
                    .post(format!("{}/api/v1/login", self.clients.base))
                    .json(&json!({"user": self.username, "password": self.password})),
                200,
            )
            .await?;
        let data = &body["data"];
        let (Some(user_id), Some(token)) = (data["userId"].as_str(), data["authToken"].as_str())
        else {
            return Err(Failure::Other {
                step: "POST login",
                what: format!("no userId/authToken in {body}"),
            });
        };
        let mut login = Login {
            user_id: user_id.to_owned(),
            token: token.to_owned(),
            session_id: String::new(),
        };
        login.session_id = self.authenticate(&login).await?.ok_or(Failure::Other {
            step: "grpc Authenticate",
            what: "a fresh token was refused".to_owned(),
        })?;
        let session_query = format!("?sessionId={}", login.session_id);

        let info = self
            .rest(
                "GET sessions/info",
                self.get(&format!("/api/v1/sessions/info{session_query}"), &login),
                200,
            )
            .await?;
        expect_eq(
            "GET sessions/info",
            &info["sessionId"],
            &json!(login.session_id),
        )?;
        let list = self
            .rest(
                "GET sessions/list",
                self.get("/api/v1/sessions/list", &login),
                200,
            )
            .await?;
        if list["total"].as_u64().unwrap_or(0) == 0 {
            return Err(Failure::Other {
                step: "GET sessions/list",
                what: format!("the caller's session is missing: {list}"),
            });
        }
        self.grpc_get_my_session(&login).await?;
        self.record_activity(&login).await?;

        // The admin side: everyone's list filtered to this user, then this session.
        let code = self.two_factor_code.as_str();
        let everyone = self
            .rest(
                "GET sessions/list.all (admin)",
                self.get(
                    &format!("/api/v1/sessions/list.all?filter={}&count=5", self.username),
                    &self.admin,
                )
                .header("x-2fa-code", code),
                200,
            )
            .await?;
        if everyone["total"].as_u64().unwrap_or(0) == 0 {
            return Err(Failure::Other {
                step: "GET sessions/list.all (admin)",
                what: format!("the filter missed the user's session: {everyone}"),
            });
        }
        let admin_view = self
            .rest(
                "GET sessions/info.admin (admin)",
                self.get(
                    &format!("/api/v1/sessions/info.admin{session_query}"),
                    &self.admin,
                )
                .header("x-2fa-code", code),
                200,
            )
            .await?;
        expect_eq(
            "GET sessions/info.admin (admin)",
            &admin_view["_user"]["username"],
            &json!(self.username),
        )?;

        let logged_out = match n % 3 {
            0 => {
                self.rest(
                    "POST logout",
                    self.post("/api/v1/logout", &login, json!({})),
                    200,
                )
                .await?
            }
            1 => {
                self.rest(
                    "POST sessions/logout.me",
                    self.post(
                        "/api/v1/sessions/logout.me",
                        &login,
                        json!({"sessionId": login.session_id}),
                    ),
                    200,
                )
                .await?
            }
            _ => {
                self.rest(
                    "POST sessions/logout (admin)",
                    self.post(
                        "/api/v1/sessions/logout",
                        &self.admin,
                        json!({"sessionId": login.session_id}),
                    )
                    .header("x-2fa-code", code),
                    200,
                )
                .await?
            }
        };
        if logged_out["success"] != json!(true) && logged_out["status"] != json!("success") {
            return Err(Failure::Other {
                step: "logout",
                what: format!("unexpected answer {logged_out}"),
            });
        }
        self.tally.logouts.fetch_add(1, Ordering::Relaxed);

        // The logout took effect at once, on both edges.
        let refused = self
            .rest(
                "GET sessions/list (logged out: 401)",
                self.get("/api/v1/sessions/list", &login),
                401,
            )
            .await?;
        expect_eq(
            "GET sessions/list (logged out: 401)",
            &refused,
            &logged_out_body(),
        )?;
        if self.authenticate(&login).await?.is_some() {
            return Err(Failure::Other {
                step: "grpc Authenticate",
                what: "a logged-out token was accepted".to_owned(),
            });
        }
        if let Ok(mut all) = self.tally.logged_out.lock() {
            all.push(login);
        }
        Ok(())
    }

    async fn grpc_get_my_session(&self, login: &Login) -> Result<(), Failure> {
        let step = "grpc GetMySession";
        let _timer = self.tally.time(step);
        let mut request = Request::new(GetSessionRequest {
            session_id: Some(login.session_id.clone()),
        });
        insert_metadata(&mut request, "x-user-id", &login.user_id, step)?;
        insert_metadata(&mut request, "x-auth-token", &login.token, step)?;
        SessionsServiceClient::new(self.channel())
            .get_my_session(request)
            .await
            .map_err(|s| grpc_failure(step, &s))?;
        Ok(())
    }

    async fn record_activity(&self, login: &Login) -> Result<(), Failure> {
        let step = "grpc RecordActivity";
        let _timer = self.tally.time(step);
        InternalSessionsServiceClient::new(self.channel())
            .record_activity(with_credential(RecordActivityRequest {
                session_id: login.session_id.clone(),
            }))
            .await
            .map_err(|s| grpc_failure(step, &s))?;
        Ok(())
    }
}

fn expect_eq(step: &'static str, actual: &Value, expected: &Value) -> Result<(), Failure> {
    if actual == expected {
        Ok(())
    } else {
        Err(Failure::Other {
            step,
            what: format!("expected {expected}, got {actual}"),
        })
    }
}

fn insert_metadata<T>(
    request: &mut Request<T>,
    key: &'static str,
    value: &str,
    step: &'static str,
) -> Result<(), Failure> {
    let value = MetadataValue::try_from(value).map_err(|_| Failure::Other {
        step,
        what: format!("{key} is not valid metadata"),
    })?;
    request.metadata_mut().insert(key, value);
    Ok(())
}

/// A gRPC error as the REST status it stands for, so 5xx and 4xx are counted
/// the same way on both edges.
fn grpc_failure(step: &'static str, status: &tonic::Status) -> Failure {
    let http = match status.code() {
        Code::Internal | Code::Unavailable | Code::Unknown | Code::DeadlineExceeded => 500,
        Code::Ok => 200,
        _ => 400,
    };
    Failure::Status {
        step,
        status: http,
        body: format!("{:?}: {}", status.code(), status.message()),
    }
}

fn with_credential<T>(message: T) -> Request<T> {
    let mut request = Request::new(message);
    if let Ok(value) = MetadataValue::try_from(format!("Bearer {INTERNAL_TOKEN}")) {
        request.metadata_mut().insert("authorization", value);
    }
    request
}

/// Creates the journey users through the internal API: `soak-N` with password
/// `soak-password-N`, role `user`.
async fn create_users(clients: &Clients, count: usize) -> anyhow::Result<Vec<(String, String)>> {
    let mut users = Vec::with_capacity(count);
    for n in 0..count {
        let (username, password) = (format!("soak-{n}"), format!("soak-password-{n}"));
        let mut internal = InternalSessionsServiceClient::new(clients.channels[0].clone());
        let user = internal
            .upsert_user(with_credential(UpsertUserRequest {
                id: String::new(),
                username: username.clone(),
                name: format!("Soak User {n}"),
                roles: vec!["user".to_owned()],
                active: true,
            }))
            .await
            .context("UpsertUser")?
            .into_inner();
        internal
            .set_password(with_credential(SetPasswordRequest {
                user_id: user.id,
                password: password.clone(),
            }))
            .await
            .context("SetPassword")?;
        users.push((username, password));
    }
    Ok(users)
}

/// Peak RSS of `pid` in each quarter of `duration`, sampled every 100 ms.
async fn sample_rss(pid: u32, duration: Duration) -> Vec<f64> {
    let started = Instant::now();
    let mut peaks = [0u64; 4];
    while started.elapsed() < duration {
        let quarter = ((started.elapsed().as_secs_f64() / duration.as_secs_f64()) * 4.0) as usize;
        if let Some(peak) = peaks.get_mut(quarter.min(3)) {
            *peak = (*peak).max(launch::rss_bytes(pid).unwrap_or(0));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    peaks
        .iter()
        .map(|bytes| *bytes as f64 / (1024.0 * 1024.0))
        .collect()
}

/// Seeds a fresh database, starts the server and runs the soak.
pub async fn run(settings: &SoakSettings) -> anyhow::Result<SoakReport> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let dir = tempfile::tempdir()?;
    eprintln!("soak: seeding {:?}", settings.backend);
    let seeded = match settings.backend {
        Backend::Postgres => {
            seed_db::seed_postgres(
                &settings.postgres_admin_url,
                &settings.postgres_database,
                &settings.background,
                now,
            )
            .await?
        }
        Backend::Sqlite => {
            seed_db::seed_sqlite(&dir.path().join("sessions.db"), &settings.background, now).await?
        }
    };
    let mut bench = Settings::full();
    bench.pool_size = 16;
    let server = launch::start(
        Target::Server(Box::new(bench.server_config(&seeded.url))),
        settings.mode,
        dir.path(),
    )
    .await?;
    let outcome = drive(settings, &server, &seeded.seeded).await;
    server.stop().await;
    if settings.backend == Backend::Postgres {
        let _ =
            seed_db::drop_postgres(&settings.postgres_admin_url, &settings.postgres_database).await;
    }
    // The server's log outlives a failed run, for the reader of the failure.
    let mut report = match outcome {
        Ok(report) => report,
        Err(err) => {
            let kept = dir.keep();
            return Err(err.context(format!("soak; server log in {}", kept.display())));
        }
    };
    report.backend = format!("{:?}", settings.backend).to_lowercase();
    if settings.mode == Mode::Child
        && let Some(failure) = report.rss_growth_failure(settings.max_rss_growth)
    {
        report.first_failures.push(failure);
        report.other_failures += 1;
    }
    if !report.failures().is_empty() {
        let kept = dir.keep();
        eprintln!("soak: server log kept in {}", kept.display());
    }
    Ok(report)
}

async fn drive(
    settings: &SoakSettings,
    server: &Running,
    seeded: &crate::seed::Seeded,
) -> anyhow::Result<SoakReport> {
    let clients = Clients::connect(server.addr, settings.concurrency, 1).await?;
    scenarios::prepare_admin(&clients, seeded).await?;
    let users = create_users(&clients, settings.concurrency).await?;
    let tally = Arc::new(Tally::default());
    let started = Instant::now();
    let deadline = started + settings.duration;
    let rss = (settings.mode == Mode::Child)
        .then(|| tokio::spawn(sample_rss(server.pid, settings.duration)));
    let tasks: Vec<_> = users
        .into_iter()
        .enumerate()
        .map(|(task, (username, password))| {
            let journey = Journey {
                clients: clients.clone(),
                tally: tally.clone(),
                admin: seeded.admin.clone(),
                two_factor_code: scenarios::two_factor_code(),
                username,
                password,
            };
            tokio::spawn(async move {
                let mut n = task as u64;
                while Instant::now() < deadline {
                    match journey.run(n).await {
                        Ok(()) => {
                            journey.tally.journeys.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(failure) => journey.tally.fail(failure),
                    }
                    n += 1;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await?;
    }
    let seconds = started.elapsed().as_secs_f64();
    let rss_quarters_mb = match rss {
        Some(handle) => handle.await?,
        None => Vec::new(),
    };
    let (rechecked, still_valid) = recheck_logouts(&clients, &tally, settings.concurrency).await?;

    let by_step: BTreeMap<String, StepStats> = tally
        .by_step
        .lock()
        .map(|steps| steps.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect())
        .unwrap_or_default();
    Ok(SoakReport {
        backend: String::new(),
        concurrency: settings.concurrency,
        seconds,
        journeys: tally.journeys.load(Ordering::Relaxed),
        requests: by_step.values().map(|s| s.requests).sum(),
        by_step,
        server_errors: tally.server_errors.load(Ordering::Relaxed),
        unexpected_4xx: tally.unexpected_4xx.load(Ordering::Relaxed),
        other_failures: tally.other_failures.load(Ordering::Relaxed),
        first_failures: tally
            .first_failures
            .lock()
            .map(|f| f.clone())
            .unwrap_or_default(),
        logouts: tally.logouts.load(Ordering::Relaxed),
        logouts_rechecked: rechecked,
        logouts_still_valid: still_valid,
        rss_quarters_mb,
    })
}

/// After the load: every token logged out during the run is still refused.
async fn recheck_logouts(
    clients: &Clients,
    tally: &Tally,
    concurrency: usize,
) -> anyhow::Result<(u64, u64)> {
    let logins: Vec<Login> = tally
        .logged_out
        .lock()
        .map(|all| all.clone())
        .unwrap_or_default();
    let logins = Arc::new(logins);
    let next = Arc::new(AtomicU64::new(0));
    let still_valid = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..concurrency.max(1))
        .map(|_| {
            let (logins, next, still_valid) = (logins.clone(), next.clone(), still_valid.clone());
            let channel = clients.channels[0].clone();
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                    let Some(login) = logins.get(i) else {
                        return Ok::<(), anyhow::Error>(());
                    };
                    let answer = InternalSessionsServiceClient::new(channel.clone())
                        .authenticate(with_credential(AuthenticateRequest {
                            user_id: login.user_id.clone(),
                            login_token: login.token.clone(),
                        }))
                        .await;
                    match answer {
                        Err(status) if status.code() == Code::Unauthenticated => {}
                        Ok(_) => {
                            still_valid.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(status) => anyhow::bail!("recheck: {status}"),
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await??;
    }
    Ok((logins.len() as u64, still_valid.load(Ordering::Relaxed)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The soak in miniature on both databases: every journey's answers are
    /// the spec's and every logout holds.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn quick_soak_has_no_failures() {
        for backend in [Backend::Sqlite, Backend::Postgres] {
            let mut settings = SoakSettings::quick();
            settings.backend = backend;
            settings.postgres_database =
                format!("sessions_soak_quick_{}", uuid::Uuid::new_v4().simple());
            if let Ok(url) = std::env::var("SESSIONS_TEST_POSTGRES_URL") {
                settings.postgres_admin_url = url;
            }
            let report = run(&settings).await.unwrap();
            assert!(
                report.failures().is_empty(),
                "{}\n{:#?}",
                report.table(),
                report.failures()
            );
            assert!(report.logouts > 0 && report.logouts_rechecked == report.logouts);
        }
    }
}
