//! One benchmark run: per backend, seed, start the real server, check its
//! answers, then drive each scenario in slices beside slices of its ceilings
//! (a no-op server, a bare pool), all into one [`Report`].

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use serde::Serialize;
use sessions_server::{Config, LogFormat};

use crate::{
    ceilings::{self, BarePool},
    launch::{self, Mode, Running, Target},
    load::{self, LoadSpec, Measured, Op},
    report::{
        BackendReport, DB_CEILING, DatabaseCeiling, LIST_ALL_CEILING, LIST_CEILING, Report, Row,
        Transport,
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
    /// Each scenario and its ceilings run in this many slices of
    /// `duration / rounds`, one per round (see [`measure_plan`]).
    pub rounds: usize,
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
            rounds: 5,
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
            rounds: 1,
            ..Self::full()
        }
    }

    /// The most requests in flight of any scenario: the clients' pool size.
    fn most_concurrency(&self) -> usize {
        self.concurrency.max(self.rss_concurrency.unwrap_or(0))
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
async fn measure<T>(server: &Running, run: impl Future<Output = T>) -> (T, Option<f64>) {
    let pid = server.pid;
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

/// A scenario and the ceilings measured beside it.
struct Planned {
    name: &'static str,
    transport: Transport,
    concurrency: usize,
    op: Op,
    /// Requests that walk the scenario's whole sample (tokens, users,
    /// filters), sent before each of its slices.
    sample: usize,
    /// The no-op server over the same transport at the same concurrency.
    transport_ceiling: Option<Op>,
    /// The bare pool running the scenario's queries.
    database_ceiling: Option<(&'static str, Op)>,
}

/// What a planned scenario's slices added up to.
#[derive(Default)]
struct Tally {
    scenario: Measured,
    rss_mb: Option<f64>,
    transport_ceiling: Measured,
    database_ceiling: Measured,
}

/// Measures every planned scenario in `settings.rounds` rounds: in each, every
/// scenario runs a slice of its time right after a slice of each of its
/// ceilings. The host's capacity drifts (CPU steal here swings between 0 and
/// 40% within a minute), so a ceiling measured minutes away from its scenario
/// says little about the share of it the scenario reached; slices side by
/// side see the same host.
async fn measure_plan(settings: &Settings, plan: &[Planned], server: &Running) -> Vec<Row> {
    let rounds = settings.rounds.max(1);
    let slice = |concurrency| LoadSpec {
        concurrency,
        duration: settings.duration / u32::try_from(rounds).unwrap_or(u32::MAX),
        warmup: settings.warmup / u32::try_from(rounds).unwrap_or(u32::MAX),
    };
    let mut tallies: Vec<Tally> = plan.iter().map(|_| Tally::default()).collect();
    for round in 1..=rounds {
        for (planned, tally) in plan.iter().zip(&mut tallies) {
            let spec = slice(planned.concurrency);
            eprintln!(
                "bench: round {round}/{rounds}: {} at concurrency {}",
                planned.name, planned.concurrency
            );
            if let Some(op) = &planned.transport_ceiling {
                let measured = load::run_slice(spec, op.clone()).await;
                tally.transport_ceiling.merge(measured);
            }
            if let Some((_, op)) = &planned.database_ceiling {
                let measured = load::run_slice(spec, op.clone()).await;
                tally.database_ceiling.merge(measured);
            }
            // A row's last slice ran a round ago, more than a minute: the
            // token cache's entries (kept at most that long) are gone, as
            // they would not be under steady traffic, where each token in
            // use is read again at most once a minute. One walk over the
            // sample restores that state.
            load::walk(spec.concurrency, planned.sample as u64, planned.op.clone()).await;
            let (measured, rss_mb) =
                measure(server, load::run_slice(spec, planned.op.clone())).await;
            tally.scenario.merge(measured);
            tally.rss_mb = match (tally.rss_mb, rss_mb) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
        }
    }
    plan.iter()
        .zip(tallies)
        .map(|(planned, tally)| {
            Row::new(
                planned.name,
                planned.transport,
                planned.concurrency,
                tally.scenario.summary(),
                tally.rss_mb,
                planned
                    .transport_ceiling
                    .as_ref()
                    .map(|_| tally.transport_ceiling.summary()),
                planned
                    .database_ceiling
                    .as_ref()
                    .map(|(name, _)| DatabaseCeiling {
                        name,
                        result: tally.database_ceiling.summary(),
                    }),
            )
        })
        .collect()
}

pub async fn run(settings: &Settings) -> anyhow::Result<Report> {
    let logs = tempfile::tempdir()?;
    // The no-op server runs beside the real one, idle while the real one is
    // driven, so each scenario's transport ceiling is measured next to it.
    let noop = if settings.seed_only {
        None
    } else {
        Some(launch::start(Target::Noop, settings.mode, logs.path()).await?)
    };
    let noop_clients = match &noop {
        Some(noop) => Some(
            Clients::connect(
                noop.addr,
                settings.most_concurrency(),
                settings.grpc_connections,
            )
            .await?,
        ),
        None => None,
    };
    let mut report = Report {
        settings: serde_json::to_value(settings)?,
        cpus: std::thread::available_parallelism().map_or(1, usize::from),
        backends: Vec::new(),
    };
    for backend in &settings.backends {
        let result = run_backend(settings, *backend, noop_clients.as_ref(), logs.path()).await;
        report.backends.push(result.with_context(|| {
            format!("{backend:?} run; server logs in {}", logs.path().display())
        })?);
    }
    if let Some(noop) = noop {
        noop.stop().await;
    }
    Ok(report)
}

async fn run_backend(
    settings: &Settings,
    backend: Backend,
    noop: Option<&Clients>,
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
    let Some(noop) = noop.filter(|_| !settings.seed_only) else {
        return Ok(BackendReport {
            backend: format!("{backend:?}").to_lowercase(),
            seed: seeded_db.timings,
            startup_to_ready_ms: 0.0,
            rows: Vec::new(),
            revocation_lag: None,
        });
    };
    let server = launch::start(
        Target::Server(Box::new(settings.server_config(&seeded_db.url))),
        settings.mode,
        logs,
    )
    .await?;
    let startup_to_ready_ms = server.ready_after.as_secs_f64() * 1000.0;
    let pool = BarePool::connect(&seeded_db.url, settings.pool_size).await?;
    let outcome = drive(settings, &server, noop, &pool, &seeded_db.seeded, now).await;
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
    noop: &Clients,
    pool: &BarePool,
    seeded: &Seeded,
    now: i64,
) -> anyhow::Result<Vec<Row>> {
    let clients = Clients::connect(
        server.addr,
        settings.most_concurrency(),
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
    let of_users: Arc<Vec<_>> = Arc::new(
        seeded
            .list_users
            .iter()
            .map(|l| ceilings::Listing::OfUser {
                user_id: l.user_id.clone(),
                count: LIST_USER_SESSIONS as u64,
            })
            .collect(),
    );
    let filtered: Arc<Vec<_>> = Arc::new(
        seeded
            .filters
            .iter()
            .map(|f| ceilings::Listing::Filtered {
                filter: f.clone(),
                count: 50,
            })
            .collect(),
    );
    let noop_over = |transport| match transport {
        Transport::Grpc => ceilings::noop_grpc(noop.channels.clone()),
        Transport::Rest => ceilings::noop_rest(noop.http.clone(), noop.base.clone()),
    };
    let lookup = || {
        (
            DB_CEILING,
            ceilings::db_lookup(pool.clone(), hashes.clone()),
        )
    };
    let list_queries = || {
        let op = ceilings::db_listing(pool.clone(), of_users.clone(), now);
        (LIST_CEILING, op)
    };
    let list_all_queries = || {
        let op = ceilings::db_listing(pool.clone(), filtered.clone(), now);
        (LIST_ALL_CEILING, op)
    };
    type Walked = (Op, usize);
    let planned = |name, transport, concurrency, (op, sample): Walked, database| Planned {
        name,
        transport,
        concurrency,
        op,
        sample,
        transport_ceiling: Some(noop_over(transport)),
        database_ceiling: database,
    };
    // Latency alone: no queue, so no ceiling to share.
    let alone = |name, (op, sample): Walked| Planned {
        name,
        transport: Transport::Rest,
        concurrency: 1,
        op,
        sample,
        transport_ceiling: None,
        database_ceiling: None,
    };
    const AUTHENTICATE: &str = "Authenticate (internal gRPC, token check)";
    const INFO: &str = "GET /api/v1/sessions/info";
    const LIST: &str = "GET /api/v1/sessions/list (100 sessions)";
    const LIST_ALL: &str = "GET /api/v1/sessions/list.all?filter=(5 chars)";
    // Each with the length of the sample it walks.
    let authenticate = || {
        (
            scenarios::authenticate(&clients, sample.clone()),
            sample.len(),
        )
    };
    let info = || (scenarios::info(&clients, sample.clone()), sample.len());
    let list = || {
        (
            scenarios::list(&clients, list_users.clone()),
            list_users.len(),
        )
    };
    let list_all = || {
        let op = scenarios::list_all(&clients, seeded.admin.clone(), filters.clone());
        (op, filters.len())
    };
    let c = settings.concurrency;
    // Answered from memory, the token check's bound is its transport alone
    // (a row without a database ceiling).
    let mut plan = vec![
        planned(AUTHENTICATE, Transport::Grpc, c, authenticate(), None),
        planned(INFO, Transport::Rest, c, info(), Some(lookup())),
        planned(
            "GetMySession (gRPC)",
            Transport::Grpc,
            c,
            (
                scenarios::get_my_session(&clients, sample.clone()),
                sample.len(),
            ),
            Some(lookup()),
        ),
        planned(LIST, Transport::Rest, c, list(), Some(list_queries())),
        planned(
            LIST_ALL,
            Transport::Rest,
            c,
            list_all(),
            Some(list_all_queries()),
        ),
        // The listings one at a time: their latency without queueing, which
        // at concurrency 32 dominates p99 (32 in flight / throughput).
        alone(LIST, list()),
        alone(LIST_ALL, list_all()),
    ];
    if let Some(many) = settings.rss_concurrency {
        // Queueing and RSS under many connections; the ceilings beside them
        // say what the transport and the database alone lose there.
        plan.push(planned(
            AUTHENTICATE,
            Transport::Grpc,
            many,
            authenticate(),
            None,
        ));
        plan.push(planned(INFO, Transport::Rest, many, info(), Some(lookup())));
    }
    Ok(measure_plan(settings, &plan, server).await)
}
