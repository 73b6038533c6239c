//! `sessions-bench`: seeds, starts the server, measures, prints the table and
//! optionally writes it as JSON. `--quick` is the few-seconds smoke run;
//! `sessions-bench soak` is the mixed-journey soak.

use std::{path::PathBuf, time::Duration};

use clap::{Parser, Subcommand};
use sessions_bench::{Backend, Settings, launch, soak};

/// The same allocator as `sessionsd`: the server under test runs as a child
/// of this binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(about = "Benchmark the session service against its ceilings")]
struct Args {
    #[command(subcommand)]
    child: Option<Child>,
    /// Small data set and short runs (a few seconds), as CI runs it.
    #[arg(long)]
    quick: bool,
    #[arg(long)]
    users: Option<usize>,
    #[arg(long)]
    sessions: Option<usize>,
    /// Concurrent requests in flight (closed loop).
    #[arg(long)]
    concurrency: Option<usize>,
    /// Measured seconds per scenario.
    #[arg(long)]
    duration: Option<f64>,
    /// Unmeasured seconds before each scenario.
    #[arg(long)]
    warmup: Option<f64>,
    /// Concurrency of the RSS pass (0: skip it).
    #[arg(long)]
    rss_concurrency: Option<usize>,
    /// Which databases to run on.
    #[arg(long, value_delimiter = ',', value_parser = parse_backend)]
    backends: Option<Vec<Backend>>,
    /// PostgreSQL server; its database is only used to create the bench one.
    #[arg(long, env = "SESSIONS_TEST_POSTGRES_URL")]
    postgres_url: Option<String>,
    /// The PostgreSQL database to recreate and seed.
    #[arg(long)]
    database: Option<String>,
    /// Serve from this process instead of a child (RSS then includes the load generator).
    #[arg(long)]
    in_process: bool,
    #[arg(long)]
    grpc_connections: Option<usize>,
    /// Database connections of the server, and of the bare-pool ceiling
    /// (at least 2: both hold half for lookups).
    #[arg(long)]
    pool_size: Option<u32>,
    /// Slices each scenario and its ceilings run in, side by side (1-100).
    #[arg(long)]
    rounds: Option<usize>,
    /// Seed the databases, print the timings and stop.
    #[arg(long)]
    seed_only: bool,
    /// Write the report as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Child {
    /// Internal: serve `server` or `noop` for the parent bench process.
    #[command(hide = true)]
    Child { kind: String },
    /// Mixed journeys (login, lookups, lists, admin calls, logouts) at
    /// concurrency 64 for three minutes: no 5xx, no unexpected 4xx, RSS flat,
    /// every logout effective.
    Soak {
        #[arg(long, default_value_t = 180.0)]
        duration: f64,
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        #[arg(long, default_value = "postgres", value_parser = parse_backend)]
        backend: Backend,
        #[arg(long, env = "SESSIONS_TEST_POSTGRES_URL")]
        postgres_url: Option<String>,
        /// Write the report as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
    },
}

async fn run_soak(child: &Child) -> anyhow::Result<()> {
    let Child::Soak {
        duration,
        concurrency,
        backend,
        postgres_url,
        json,
    } = child
    else {
        return Ok(());
    };
    let mut settings = soak::SoakSettings::full();
    settings.duration = Duration::from_secs_f64(duration.max(1.0));
    settings.concurrency = *concurrency;
    settings.backend = *backend;
    if let Some(url) = postgres_url {
        settings.postgres_admin_url = url.clone();
    }
    let report = soak::run(&settings).await?;
    println!("{}", report.table());
    if let Some(path) = json {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)?;
        eprintln!("soak: report written to {}", path.display());
    }
    let failures = report.failures();
    anyhow::ensure!(failures.is_empty(), "soak failed:\n{}", failures.join("\n"));
    Ok(())
}

fn parse_backend(value: &str) -> Result<Backend, String> {
    match value {
        "postgres" | "pg" => Ok(Backend::Postgres),
        "sqlite" => Ok(Backend::Sqlite),
        other => Err(format!("unknown backend {other}")),
    }
}

fn settings(args: &Args) -> Settings {
    let mut s = if args.quick {
        Settings::quick()
    } else {
        Settings::full()
    };
    let secs = |v: f64| Duration::from_secs_f64(v.max(0.0));
    if let Some(v) = args.users {
        s.seed.users = v;
    }
    if let Some(v) = args.sessions {
        s.seed.sessions = v;
    }
    if let Some(v) = args.concurrency {
        s.concurrency = v;
    }
    if let Some(v) = args.duration {
        s.duration = secs(v);
    }
    if let Some(v) = args.warmup {
        s.warmup = secs(v);
    }
    if let Some(v) = args.rss_concurrency {
        s.rss_concurrency = (v > 0).then_some(v);
    }
    if let Some(v) = &args.backends {
        s.backends = v.clone();
    }
    if let Some(v) = &args.postgres_url {
        s.postgres_admin_url = v.clone();
    }
    if let Some(v) = &args.database {
        s.postgres_database = v.clone();
    }
    if let Some(v) = args.grpc_connections {
        s.grpc_connections = v;
    }
    if let Some(v) = args.pool_size {
        s.pool_size = v.max(2);
    }
    if let Some(v) = args.rounds {
        s.rounds = v.clamp(1, 100);
    }
    if args.in_process {
        s.mode = launch::Mode::InProcess;
    }
    s.seed_only = args.seed_only;
    s
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    match &args.child {
        Some(Child::Child { kind }) => return launch::child_main(kind).await,
        Some(soak @ Child::Soak { .. }) => return run_soak(soak).await,
        None => {}
    }
    let settings = settings(&args);
    let report = sessions_bench::run(&settings).await?;
    println!("{}", report.table());
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)?;
        eprintln!("bench: report written to {}", path.display());
    }
    let failures = report.failures();
    anyhow::ensure!(
        failures.is_empty(),
        "requests failed:\n{}",
        failures.join("\n")
    );
    Ok(())
}
