//! One benchmark run: per backend, seed, start the real server, check its
//! answers, drive each scenario, then the database ceiling; the transport
//! ceiling once; all into one [`Report`].

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use serde::Serialize;
use sessions_server::{Config, LogFormat};

use crate::{
    ceilings::{self, BarePool},
    launch::{self, Mode, Running, Target},
    load::{self, LoadSpec, Op},
    report::{
        BackendReport, Bound, DB_CEILING, LIST_ALL_CEILING, LIST_CEILING, Report, Row, Transport,
    },
    revocation,
    scenarios::{self, Clients, INTERNAL_TOKEN},
    seed::{LIST_USER_SESSIONS, SeedSpec, Seeded},
    seed_db,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Postgres,
    Sqlite,
}

#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    pub seed: SeedSpec,
    pub concurrency: usize,
    pub duration: Duration,
    pub warmup: Duration,
    /// A second pass of the token check and `sessions/info` at this
    /// concurrency, for the server's RSS under many connections.
    pub rss_concurrency: Option<usize>,
    pub backends: Vec<Backend>,
    pub postgres_admin_url: String,
    pub postgres_database: String,
    pub mode: Mode,
    pub grpc_connections: usize,
    /// The server's pool size, and the bare pool's.
    pub pool_size: u32,
    /// Seed, report the timings and stop (to inspect the database after).
    pub seed_only: bool,
}

impl Settings {
    /// The full run: 10k users, 1M sessions, concurrency 32.
    pub fn full() -> Self {
        Self {
            seed: SeedSpec {
                users: 10_000,
                sessions: 1_000_000,
                list_users: 100,
                sample: 20_000,
                rng_seed: 42,
            },
            concurrency: 32,
            duration: Duration::from_secs(10),
            warmup: Duration::from_secs(1),
            rss_concurrency: Some(256),
            backends: vec![Backend::Postgres, Backend::Sqlite],
            // Loopback: TLS would only add the same cost to the server and
            // to the bare-pool ceiling.
            postgres_admin_url: "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
                .to_owned(),
            postgres_database: "sessions_bench".to_owned(),
            mode: Mode::Child,
            grpc_connections: 4,
            pool_size: 16,
            seed_only: false,
        }
    }

    /// A few seconds end to end: proves the harness works, measures nothing.
    pub fn quick() -> Self {
        Self {
            seed: SeedSpec {
                users: 200,
                sessions: 3_000,
                list_users: 2,
                sample: 200,
                rng_seed: 42,
            },
            concurrency: 4,
            duration: Duration::from_millis(250),
            warmup: Duration::from_millis(50),
            rss_concurrency: Some(16),
            postgres_database: "sessions_bench_quick".to_owned(),
            ..Self::full()
        }
    }

    fn load(&self, concurrency: usize) -> LoadSpec {
        LoadSpec {
            concurrency,
            duration: self.duration,
            warmup: self.warmup,
        }
    }

    pub(crate) fn server_config(&self, url: &str) -> Config {
        let any_port = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        let mut config = Config::default();
        config.listener.listen = any_port;
        config.listener.admin_listen = Some(any_port);
        config.database.url = url.to_owned();
        config.database.max_connections = self.pool_size;
        config.internal_api.token = Some(INTERNAL_TOKEN.to_owned());
        // One client address sends everything: the per-address limits
        // would measure the limiter's 429s, not the service.
        config.limits.rate_limit.requests = 0;
        // Nor may the per-address connection cap refuse the load generator's
        // connections (256 REST connections at the high concurrency).
        config.listener.max_connections_per_address = 0;
        config.telemetry.log_format = LogFormat::Json;
        config
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Samples the server's RSS while `run` goes on; answers its result and the peak.
async fn measure<T>(server: Option<&Running>, run: impl Future<Output = T>) -> (T, Option<f64>) {
    let Some(pid) = server.map(|s| s.pid) else {
        return (run.await, None);
    };
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let sampler = tokio::spawn(async move {
        let mut peak = 0;
        loop {
            peak = peak.max(launch::rss_bytes(pid).unwrap_or(0));
            tokio::select! {
                _ = &mut stopped => return peak,
                () = tokio::time::sleep(Duration::from_millis(50)) => {}
            }
        }
    });
    let result = run.await;
    let _ = stop.send(());
    let peak = sampler.await.unwrap_or(0);
    (result, Some(peak as f64 / (1024.0 * 1024.0)))
}

async fn row(
    name: &str,
    transport: Transport,
    spec: LoadSpec,
    op: Op,
    server: Option<&Running>,
) -> Row {
    eprintln!("bench: {name} at concurrency {}", spec.concurrency);
    let (result, rss_mb) = measure(server, load::run(spec, op)).await;
    Row {
        name: name.to_owned(),
        transport,
        concurrency: spec.concurrency,
        result,
        rss_mb,
        bound: Bound::of_scenario(name),
        vs_transport: None,
        vs_database: None,
        vs_bound: None,
        p99_vs_database: None,
    }
}

pub async fn run(settings: &Settings) -> anyhow::Result<Report> {
    let logs = tempfile::tempdir()?;
    let mut report = Report {
        settings: serde_json::to_value(settings)?,
        cpus: std::thread::available_parallelism().map_or(1, usize::from),
        transport_ceilings: if settings.seed_only {
            Vec::new()
        } else {
            transport_ceilings(settings, logs.path()).await?
        },
        backends: Vec::new(),
    };
    for backend in &settings.backends {
        let result = run_backend(settings, *backend, logs.path()).await;
        report.backends.push(result.with_context(|| {
            format!("{backend:?} run; server logs in {}", logs.path().display())
        })?);
    }
    report.compute_ratios();
    Ok(report)
}

async fn transport_ceilings(
    settings: &Settings,
    logs: &std::path::Path,
) -> anyhow::Result<Vec<Row>> {
    let noop = launch::start(Target::Noop, settings.mode, logs).await?;
    let most = settings
        .concurrency
        .max(settings.rss_concurrency.unwrap_or(0));
    let clients = Clients::connect(noop.addr, most, settings.grpc_connections).await?;
    // Also at the high concurrency: what the transport and the load
    // generator alone lose there, beside what the server loses.
    let concurrencies = std::iter::once(settings.concurrency).chain(settings.rss_concurrency);
    let mut rows = Vec::new();
    for concurrency in concurrencies {
        let spec = settings.load(concurrency);
        rows.push(
            row(
                "ceiling: no-op gRPC (health Check)",
                Transport::Grpc,
                spec,
                ceilings::noop_grpc(clients.channels.clone()),
                Some(&noop),
            )
            .await,
        );
        rows.push(
            row(
                "ceiling: no-op REST (axum GET)",
                Transport::Rest,
                spec,
                ceilings::noop_rest(clients.http.clone(), clients.base.clone()),
                Some(&noop),
            )
            .await,
        );
    }
    noop.stop().await;
    Ok(rows)
}

async fn run_backend(
    settings: &Settings,
    backend: Backend,
    logs: &std::path::Path,
) -> anyhow::Result<BackendReport> {
    let now = now_ms();
    // The SQLite file lives as long as this run of the backend.
    let dir = tempfile::tempdir()?;
    eprintln!(
        "bench: seeding {backend:?} with {} users, {} sessions",
        settings.seed.users, settings.seed.sessions
    );
    let seeded_db = match backend {
        Backend::Postgres => {
            seed_db::seed_postgres(
                &settings.postgres_admin_url,
                &settings.postgres_database,
                &settings.seed,
                now,
            )
            .await?
        }
        Backend::Sqlite => {
            seed_db::seed_sqlite(&dir.path().join("sessions.db"), &settings.seed, now).await?
        }
    };
    eprintln!("bench: seeded in {:.1} s", seeded_db.timings.total_secs);
    if settings.seed_only {
        return Ok(BackendReport {
            backend: format!("{backend:?}").to_lowercase(),
            seed: seeded_db.timings,
            startup_to_ready_ms: 0.0,
            rows: Vec::new(),
            revocation_lag: None,
        });
    }
    let server = launch::start(
        Target::Server(Box::new(settings.server_config(&seeded_db.url))),
        settings.mode,
        logs,
    )
    .await?;
    let startup_to_ready_ms = server.ready_after.as_secs_f64() * 1000.0;
    let pool = BarePool::connect(&seeded_db.url, settings.pool_size).await?;
    let outcome = drive(settings, &server, &pool, &seeded_db.seeded, now).await;
    // Last: it logs sampled tokens out.
    let lag = match &outcome {
        Ok(_) => {
            Some(revocation_lag(settings, &server, &seeded_db.url, &seeded_db.seeded, logs).await?)
        }
        Err(_) => None,
    };
    server.stop().await;
    pool.close().await;
    Ok(BackendReport {
        backend: format!("{backend:?}").to_lowercase(),
        seed: seeded_db.timings,
        startup_to_ready_ms,
        rows: outcome?,
        revocation_lag: lag,
    })
}

/// Starts a second replica on the same database and times how soon it
/// refuses tokens the first one logs out.
async fn revocation_lag(
    settings: &Settings,
    first: &Running,
    url: &str,
    seeded: &Seeded,
    logs: &std::path::Path,
) -> anyhow::Result<revocation::RevocationLag> {
    eprintln!("bench: revocation lag across two replicas");
    let second_logs = logs.join("second-replica");
    std::fs::create_dir_all(&second_logs)?;
    let second = launch::start(
        Target::Server(Box::new(settings.server_config(url))),
        settings.mode,
        &second_logs,
    )
    .await?;
    let writer = Clients::connect(first.addr, 1, 1).await?;
    let reader = Clients::connect(second.addr, 1, 1).await?;
    let spent = &seeded.sample[seeded.sample.len().saturating_sub(20)..];
    let lag = revocation::measure(&writer, &reader, spent).await;
    second.stop().await;
    lag
}

async fn drive(
    settings: &Settings,
    server: &Running,
    pool: &BarePool,
    seeded: &Seeded,
    now: i64,
) -> anyhow::Result<Vec<Row>> {
    let clients = Clients::connect(
        server.addr,
        settings
            .concurrency
            .max(settings.rss_concurrency.unwrap_or(0)),
        settings.grpc_connections,
    )
    .await?;
    scenarios::prepare_admin(&clients, seeded).await?;
    scenarios::check(&clients, seeded, pool, now).await?;
    let sample = Arc::new(seeded.sample.clone());
    let list_users = Arc::new(seeded.list_users.clone());
    let filters = Arc::new(seeded.filters.clone());
    let hashes: Arc<Vec<String>> = Arc::new(
        seeded
            .sample
            .iter()
            .map(|l| sessions_service::secrets::hash_login_token(&l.token))
            .collect(),
    );
    let of_users: Vec<_> = seeded
        .list_users
        .iter()
        .map(|l| ceilings::Listing::OfUser {
            user_id: l.user_id.clone(),
            count: LIST_USER_SESSIONS as u64,
        })
        .collect();
    let filtered: Vec<_> = seeded
        .filters
        .iter()
        .map(|f| ceilings::Listing::Filtered {
            filter: f.clone(),
            count: 50,
        })
        .collect();
    const AUTHENTICATE: &str = "Authenticate (internal gRPC, token check)";
    const INFO: &str = "GET /api/v1/sessions/info";
    const LIST: &str = "GET /api/v1/sessions/list (100 sessions)";
    const LIST_ALL: &str = "GET /api/v1/sessions/list.all?filter=(5 chars)";
    let authenticate = || scenarios::authenticate(&clients, sample.clone());
    let info = || scenarios::info(&clients, sample.clone());
    let list = || scenarios::list(&clients, list_users.clone());
    let list_all = || scenarios::list_all(&clients, seeded.admin.clone(), filters.clone());
    let spec = settings.load(settings.concurrency);
    // The listings also run one at a time: their latency without queueing,
    // which at concurrency 32 dominates p99 (32 in flight / throughput).
    let alone = settings.load(1);
    let mut plan = vec![
        (AUTHENTICATE, Transport::Grpc, spec, authenticate()),
        (INFO, Transport::Rest, spec, info()),
        (
            "GetMySession (gRPC)",
            Transport::Grpc,
            spec,
            scenarios::get_my_session(&clients, sample.clone()),
        ),
        (LIST, Transport::Rest, spec, list()),
        (LIST_ALL, Transport::Rest, spec, list_all()),
        (LIST, Transport::Rest, alone, list()),
        (LIST_ALL, Transport::Rest, alone, list_all()),
    ];
    if let Some(many) = settings.rss_concurrency {
        let many = settings.load(many);
        plan.push((AUTHENTICATE, Transport::Grpc, many, authenticate()));
        plan.push((INFO, Transport::Rest, many, info()));
    }
    let mut rows = Vec::new();
    for (name, transport, spec, op) in plan {
        rows.push(row(name, transport, spec, op, Some(server)).await);
    }
    let database_ceilings = [
        (
            DB_CEILING,
            ceilings::db_lookup(pool.clone(), hashes.clone(), false),
        ),
        (
            "ceiling: bare pool, token hash + user by id",
            ceilings::db_lookup(pool.clone(), hashes, true),
        ),
        (
            LIST_CEILING,
            ceilings::db_listing(pool.clone(), Arc::new(of_users), now),
        ),
        (
            LIST_ALL_CEILING,
            ceilings::db_listing(pool.clone(), Arc::new(filtered), now),
        ),
    ];
    for (name, op) in database_ceilings {
        rows.push(row(name, Transport::Sql, spec, op, None).await);
    }
    Ok(rows)
}
