//! The result table (printed) and its JSON form, with each service figure as
//! a ratio to the ceiling that bounds it.

use std::fmt::Write;

use serde::Serialize;

use crate::{load::LoadResult, seed_db::SeedTimings};

/// Which ceiling bounds a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Grpc,
    Rest,
    Sql,
}

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub name: String,
    pub transport: Transport,
    pub concurrency: usize,
    #[serde(flatten)]
    pub result: LoadResult,
    /// Peak RSS of the server process during the run.
    pub rss_mb: Option<f64>,
    /// Requests/s as a fraction of the no-op server's over the same transport.
    pub vs_transport: Option<f64>,
    /// Requests/s as a fraction of the bare pool's single lookup.
    pub vs_database: Option<f64>,
    /// What physically bounds this row on these cores.
    pub bound: Bound,
    /// Requests/s as a fraction of that bound.
    pub vs_bound: Option<f64>,
    /// p99 of the ceiling over p99 of this row (1.0: as fast as the ceiling).
    pub p99_vs_database: Option<f64>,
}

/// A row's physical limit: its transport's no-op ceiling alone (a token check
/// answered from memory), or combined with the database ceiling of the
/// queries it needs, `1 / (1/transport + 1/database)`, both at zero server work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Bound {
    None,
    Transport,
    TransportAnd(&'static str),
}

impl Bound {
    pub(crate) fn of_scenario(name: &str) -> Self {
        if name.starts_with("ceiling") {
            Self::None
        } else if name.starts_with("Authenticate") {
            Self::Transport
        } else if name.contains("list.all") {
            Self::TransportAnd(LIST_ALL_CEILING)
        } else if name.contains("sessions/list") {
            Self::TransportAnd(LIST_CEILING)
        } else {
            Self::TransportAnd(DB_CEILING)
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct BackendReport {
    pub backend: String,
    pub seed: SeedTimings,
    /// Launch of the server process to its first `/readyz` 200, on the seeded
    /// database.
    pub startup_to_ready_ms: f64,
    pub rows: Vec<Row>,
    /// From a logout answered by one replica to another's refusal.
    pub revocation_lag: Option<crate::revocation::RevocationLag>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub settings: serde_json::Value,
    pub cpus: usize,
    pub transport_ceilings: Vec<Row>,
    pub backends: Vec<BackendReport>,
}

/// Name of the database ceiling rows the ratios refer to.
pub const DB_CEILING: &str = "ceiling: bare pool, session by token hash";
/// `sessions/list`'s page and count through the bare pool.
pub const LIST_CEILING: &str = "ceiling: bare pool, list page + count";
/// `sessions/list.all?filter=`'s page and count through the bare pool.
pub const LIST_ALL_CEILING: &str = "ceiling: bare pool, list.all filter page + count";

impl Report {
    /// Fills the ratio columns from the ceiling rows.
    pub fn compute_ratios(&mut self) {
        let transport: Vec<(Transport, usize, f64)> = self
            .transport_ceilings
            .iter()
            .map(|r| (r.transport, r.concurrency, r.result.rps))
            .collect();
        for backend in &mut self.backends {
            let db: Vec<(usize, f64, f64)> = backend
                .rows
                .iter()
                .filter(|r| r.name == DB_CEILING)
                .map(|r| (r.concurrency, r.result.rps, r.result.p99_ms))
                .collect();
            let ceilings: Vec<(String, usize, f64)> = backend
                .rows
                .iter()
                .filter(|r| r.name.starts_with("ceiling"))
                .map(|r| (r.name.clone(), r.concurrency, r.result.rps))
                .collect();
            for row in &mut backend.rows {
                if row.name.starts_with("ceiling") {
                    continue;
                }
                let ceiling = transport
                    .iter()
                    .find(|(t, c, _)| *t == row.transport && *c == row.concurrency);
                row.vs_transport = ceiling.map(|(_, _, rps)| row.result.rps / rps);
                let database = |name: &str| {
                    ceilings
                        .iter()
                        .find(|(n, c, _)| n == name && *c == row.concurrency)
                        .map(|(_, _, rps)| *rps)
                };
                let bound = match (row.bound, ceiling) {
                    (Bound::Transport, Some((_, _, t))) => Some(*t),
                    (Bound::TransportAnd(name), Some((_, _, t))) => {
                        database(name).map(|d| 1.0 / (1.0 / t + 1.0 / d))
                    }
                    _ => None,
                };
                row.vs_bound = bound.map(|b| row.result.rps / b);
                if let Some((_, rps, p99)) = db.iter().find(|(c, ..)| *c == row.concurrency) {
                    row.vs_database = Some(row.result.rps / rps);
                    row.p99_vs_database = Some(p99 / row.result.p99_ms.max(0.001));
                }
            }
        }
    }

    /// Every row that answered an error.
    pub fn failures(&self) -> Vec<String> {
        let all = self
            .transport_ceilings
            .iter()
            .map(|r| ("ceiling", r))
            .chain(
                self.backends
                    .iter()
                    .flat_map(|b| b.rows.iter().map(move |r| (b.backend.as_str(), r))),
            );
        all.filter(|(_, r)| r.result.errors > 0 || r.result.requests == 0)
            .map(|(backend, r)| {
                format!(
                    "{backend} / {}: {} errors of {} ({})",
                    r.name,
                    r.result.errors,
                    r.result.requests,
                    r.result
                        .first_error
                        .as_deref()
                        .unwrap_or("no request completed")
                )
            })
            .collect()
    }

    pub fn table(&self) -> String {
        let mut out = String::new();
        let header = format!(
            "{:<48} {:>5} {:>9} {:>8} {:>8} {:>8} {:>7} {:>7} {:>7} {:>6} {:>7}",
            "scenario",
            "conc",
            "req/s",
            "p50 ms",
            "p99 ms",
            "p999 ms",
            "errors",
            "RSS MB",
            "%noop",
            "%db",
            "%bound"
        );
        let pct = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{:.0}%", v * 100.0));
        let line = |out: &mut String, r: &Row| {
            let _ = writeln!(
                out,
                "{:<48} {:>5} {:>9.0} {:>8.2} {:>8.2} {:>8.2} {:>7} {:>7} {:>7} {:>6} {:>7}",
                r.name,
                r.concurrency,
                r.result.rps,
                r.result.p50_ms,
                r.result.p99_ms,
                r.result.p999_ms,
                r.result.errors,
                r.rss_mb.map_or("-".to_owned(), |m| format!("{m:.0}")),
                pct(r.vs_transport),
                pct(r.vs_database),
                pct(r.vs_bound),
            );
        };
        let _ = writeln!(
            out,
            "transport ceilings (no-op server, {} CPUs)\n{header}",
            self.cpus
        );
        for row in &self.transport_ceilings {
            line(&mut out, row);
        }
        for backend in &self.backends {
            let s = &backend.seed;
            let _ = writeln!(
                out,
                "\n{}: seeded in {:.1} s (rows {:.1} s, then indexes + ANALYZE {:.1} s); start-up to ready {:.0} ms\n{header}",
                backend.backend,
                s.total_secs,
                s.insert_secs,
                s.index_secs,
                backend.startup_to_ready_ms
            );
            for row in &backend.rows {
                line(&mut out, row);
            }
            if let Some(lag) = &backend.revocation_lag {
                let _ = writeln!(
                    out,
                    "revocation lag across two replicas ({} logouts): p50 {:.1} ms, max {:.1} ms (goal 100 ms)",
                    lag.samples, lag.p50_ms, lag.max_ms
                );
            }
        }
        out
    }
}
