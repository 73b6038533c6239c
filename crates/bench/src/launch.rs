//! Starts the servers under test. By default each runs in a child process (this
//! binary re-executed), so its RSS and start-up time are its own and it competes
//! for the two cores as the real `sessionsd` would; in-process mode is for the
//! quick run inside `cargo test`, where there is no binary to re-execute.

use std::{
    net::SocketAddr,
    process::Stdio,
    time::{Duration, Instant},
};

use anyhow::Context;
use sessions_server::{Config, Server};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    sync::oneshot,
};

/// Environment variable carrying the child's configuration as JSON.
const CONFIG_ENV: &str = "SESSIONS_BENCH_CHILD_CONFIG";
/// The first stdout line of a child: `ADDR <main> <admin>`.
const ADDR_PREFIX: &str = "ADDR ";

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    Child,
    InProcess,
}

/// What to serve.
pub enum Target {
    /// The real server with this configuration.
    Server(Box<Config>),
    /// The no-op transport ceiling: gRPC health and a constant REST answer.
    Noop,
}

/// A running server; stopped on drop.
pub struct Running {
    pub addr: SocketAddr,
    pub pid: u32,
    /// From launch to the first `/readyz` 200 (the real server) or the first
    /// bound socket (no-op).
    pub ready_after: Duration,
    stop: Option<Stop>,
}

enum Stop {
    Child(tokio::process::Child),
    InProcess(
        oneshot::Sender<()>,
        tokio::task::JoinHandle<anyhow::Result<()>>,
    ),
}

impl Running {
    pub fn rss_bytes(&self) -> Option<u64> {
        rss_bytes(self.pid)
    }

    pub async fn stop(mut self) {
        match self.stop.take() {
            Some(Stop::Child(mut child)) => {
                // Closing stdin asks the child to drain; kill if it lingers.
                drop(child.stdin.take());
                if tokio::time::timeout(Duration::from_secs(10), child.wait())
                    .await
                    .is_err()
                {
                    let _ = child.kill().await;
                }
            }
            Some(Stop::InProcess(tx, handle)) => {
                let _ = tx.send(());
                let _ = handle.await;
            }
            None => {}
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(Stop::Child(child)) = &mut self.stop {
            let _ = child.start_kill();
        }
    }
}

/// `VmRSS` of a process, from `/proc/PID/status`.
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

pub async fn start(
    target: Target,
    mode: Mode,
    log_dir: &std::path::Path,
) -> anyhow::Result<Running> {
    let started = Instant::now();
    let (addr, admin, pid, stop) = match mode {
        Mode::Child => start_child(&target, log_dir).await?,
        Mode::InProcess => start_in_process(target).await?,
    };
    if let Some(admin) = admin {
        wait_ready(admin).await?;
    }
    Ok(Running {
        addr,
        pid,
        ready_after: started.elapsed(),
        stop: Some(stop),
    })
}

type Started = (SocketAddr, Option<SocketAddr>, u32, Stop);

async fn start_child(target: &Target, log_dir: &std::path::Path) -> anyhow::Result<Started> {
    let (kind, config) = match target {
        Target::Server(config) => ("server", serde_json::to_string(config)?),
        Target::Noop => ("noop", String::new()),
    };
    let log = std::fs::File::create(log_dir.join(format!("{kind}.log")))?;
    let mut child = tokio::process::Command::new(std::env::current_exe()?)
        .args(["child", kind])
        .env(CONFIG_ENV, config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .kill_on_drop(true)
        .spawn()
        .context("cannot start the child server")?;
    let stdout = child.stdout.take().context("child stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .context("child did not start within 60 s")??
        .with_context(|| {
            format!(
                "child exited; see {}",
                log_dir.join(format!("{kind}.log")).display()
            )
        })?;
    let (addr, admin) = parse_addr_line(&line)?;
    let pid = child.id().unwrap_or_default();
    Ok((addr, admin, pid, Stop::Child(child)))
}

fn parse_addr_line(line: &str) -> anyhow::Result<(SocketAddr, Option<SocketAddr>)> {
    let rest = line
        .strip_prefix(ADDR_PREFIX)
        .with_context(|| format!("unexpected child output: {line}"))?;
    let mut parts = rest.split_whitespace();
    let addr = parts.next().context("address")?.parse()?;
    let admin = parts.next().map(str::parse).transpose()?;
    Ok((addr, admin))
}

async fn start_in_process(target: Target) -> anyhow::Result<Started> {
    let (tx, rx) = oneshot::channel::<()>();
    let stopped = async move {
        let _ = rx.await;
    };
    let (addr, admin, handle) = match target {
        Target::Server(config) => {
            let server = Server::build(&config).await?;
            let (addr, admin) = (server.local_addr(), server.admin_addr());
            (addr, Some(admin), tokio::spawn(server.run(stopped)))
        }
        Target::Noop => {
            let (addr, serve) = crate::ceilings::noop_server(stopped).await?;
            (addr, None, tokio::spawn(serve))
        }
    };
    Ok((addr, admin, std::process::id(), Stop::InProcess(tx, handle)))
}

async fn wait_ready(admin: SocketAddr) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let url = format!("http://{admin}/readyz");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(response) = client.get(&url).send().await
            && response.status().is_success()
        {
            return Ok(());
        }
        anyhow::ensure!(Instant::now() < deadline, "server not ready within 60 s");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// The child side: serve `kind` until stdin closes (the parent asked us to
/// stop, or died).
pub async fn child_main(kind: &str) -> anyhow::Result<()> {
    let stop = async {
        let mut stdin = tokio::io::stdin();
        let mut sink = Vec::new();
        let _ = tokio::io::AsyncReadExt::read_to_end(&mut stdin, &mut sink).await;
    };
    match kind {
        "server" => {
            let config: Config = serde_json::from_str(&std::env::var(CONFIG_ENV)?)?;
            // The same logging as `sessionsd`: JSON lines at info, to the log file.
            let _telemetry = sessions_server::telemetry::init(config.telemetry.log_format);
            let server = Server::build(&config).await?;
            println!(
                "{ADDR_PREFIX}{} {}",
                server.local_addr(),
                server.admin_addr()
            );
            server.run(stop).await
        }
        "noop" => {
            let (addr, serve) = crate::ceilings::noop_server(stop).await?;
            println!("{ADDR_PREFIX}{addr}");
            serve.await
        }
        other => anyhow::bail!("unknown child kind {other}"),
    }
}
