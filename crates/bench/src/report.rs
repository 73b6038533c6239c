//! The result table (printed) and its JSON form: each scenario beside the
//! ceilings measured in the slices next to its own, and its ratios to them.

use std::fmt::Write;

use serde::Serialize;

use crate::{load::LoadResult, seed_db::SeedTimings};

/// The protocol a scenario speaks, and so its no-op ceiling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Grpc,
    Rest,
}

/// The bare pool running the queries a scenario needs, at zero server work.
#[derive(Debug, Clone, Serialize)]
pub struct DatabaseCeiling {
    pub name: &'static str,
    #[serde(flatten)]
    pub result: LoadResult,
}

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub name: String,
    pub transport: Transport,
    pub concurrency: usize,
    #[serde(flatten)]
    pub result: LoadResult,
    /// Peak RSS of the server process during the row's slices.
    pub rss_mb: Option<f64>,
    /// The no-op server over the same transport at the same concurrency,
    /// measured in the slices beside this row's.
    pub transport_ceiling: Option<LoadResult>,
    /// Beside this row's slices too.
    pub database_ceiling: Option<DatabaseCeiling>,
    /// Requests/s as a fraction of the transport ceiling's.
    pub vs_transport: Option<f64>,
    /// Requests/s as a fraction of the database ceiling's.
    pub vs_database: Option<f64>,
    /// Requests/s as a fraction of what physically bounds the row on these
    /// cores: the transport ceiling alone (a token check answered from
    /// memory), else `1 / (1/transport + 1/database)`, both at zero server work.
    pub vs_bound: Option<f64>,
    /// p99 over the transport ceiling's p99.
    pub p99_vs_transport: Option<f64>,
    /// p99 over the mean latency the throughput implies at this concurrency
    /// (Little's law: concurrency / throughput); near 1 when every request
    /// waits only for the queue ahead of it, large when some stall.
    pub p99_vs_mean: Option<f64>,
    /// The same for the no-op ceiling beside it: the tail an empty server
    /// shows on this host, the floor under the row's own.
    pub transport_p99_vs_mean: Option<f64>,
}

impl Row {
    /// A measured row with its ratios to the ceilings measured beside it.
    pub fn new(
        name: &str,
        transport: Transport,
        concurrency: usize,
        result: LoadResult,
        rss_mb: Option<f64>,
        transport_ceiling: Option<LoadResult>,
        database_ceiling: Option<DatabaseCeiling>,
    ) -> Self {
        let rps = result.rps;
        let share = |ceiling: f64| (ceiling > 0.0).then(|| rps / ceiling);
        let t = transport_ceiling.as_ref().map(|c| c.rps);
        let d = database_ceiling.as_ref().map(|c| c.result.rps);
        let bound = match (t, d) {
            (Some(t), Some(d)) if t > 0.0 && d > 0.0 => Some(1.0 / (1.0 / t + 1.0 / d)),
            (Some(t), None) => Some(t),
            _ => None,
        };
        let p99_vs_mean = |result: &LoadResult| {
            (result.rps > 0.0 && concurrency > 1)
                .then(|| result.p99_ms / (concurrency as f64 / result.rps * 1000.0))
        };
        Self {
            vs_transport: t.and_then(share),
            vs_database: d.and_then(share),
            vs_bound: bound.and_then(share),
            p99_vs_transport: transport_ceiling
                .as_ref()
                .filter(|c| c.p99_ms > 0.0)
                .map(|c| result.p99_ms / c.p99_ms),
            p99_vs_mean: p99_vs_mean(&result),
            transport_p99_vs_mean: transport_ceiling.as_ref().and_then(p99_vs_mean),
            name: name.to_owned(),
            transport,
            concurrency,
            result,
            rss_mb,
            transport_ceiling,
            database_ceiling,
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
    pub backends: Vec<BackendReport>,
}

/// The bare pool's database ceilings: `sessions/info` and `GetMySession`'s
/// one lookup, and each listing's page + count queries.
pub const DB_CEILING: &str = "session by token hash";
pub const LIST_CEILING: &str = "list page + count";
pub const LIST_ALL_CEILING: &str = "list.all filter page + count";

impl BackendReport {
    /// For each row at a higher concurrency than another of its name: its
    /// throughput as a share of the lower one's, and its transport ceiling's
    /// as a share of that one's (what the transport alone loses).
    pub fn kept_at_higher_concurrency(&self) -> Vec<(&Row, f64, Option<f64>)> {
        self.rows
            .iter()
            .filter_map(|high| {
                let low = self.rows.iter().find(|low| {
                    low.name == high.name
                        && low.concurrency < high.concurrency
                        && low.concurrency > 1
                })?;
                let kept = high.result.rps / low.result.rps.max(f64::EPSILON);
                let transport_kept = match (&high.transport_ceiling, &low.transport_ceiling) {
                    (Some(h), Some(l)) => Some(h.rps / l.rps.max(f64::EPSILON)),
                    _ => None,
                };
                Some((high, kept, transport_kept))
            })
            .collect()
    }
}

impl Report {
    /// Every row or ceiling that answered an error or nothing.
    pub fn failures(&self) -> Vec<String> {
        let mut failures = Vec::new();
        let mut check = |what: String, result: &LoadResult| {
            if result.errors > 0 || result.requests == 0 {
                failures.push(format!(
                    "{what}: {} errors of {} ({})",
                    result.errors,
                    result.requests,
                    result
                        .first_error
                        .as_deref()
                        .unwrap_or("no request completed")
                ));
            }
        };
        for backend in &self.backends {
            for row in &backend.rows {
                let name = format!("{} / {} at {}", backend.backend, row.name, row.concurrency);
                check(name.clone(), &row.result);
                if let Some(ceiling) = &row.transport_ceiling {
                    check(format!("{name}, its no-op ceiling"), ceiling);
                }
                if let Some(ceiling) = &row.database_ceiling {
                    check(
                        format!("{name}, its {} ceiling", ceiling.name),
                        &ceiling.result,
                    );
                }
            }
        }
        failures
    }

    pub fn table(&self) -> String {
        let mut out = String::new();
        let header = format!(
            "{:<46} {:>4} {:>7} {:>6} {:>6} {:>6} {:>4} {:>4} {:>7} {:>7} {:>5} {:>5} {:>6} {:>5} {:>5} {:>6}",
            "scenario",
            "conc",
            "req/s",
            "p50ms",
            "p99ms",
            "p999ms",
            "err",
            "RSS",
            "noop/s",
            "db/s",
            "%noop",
            "%db",
            "%bound",
            "p99/n",
            "p99/m",
            "n99/m"
        );
        let pct = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{:.0}%", v * 100.0));
        let times = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.1}x"));
        let rps = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.0}"));
        let _ = writeln!(
            out,
            "{} CPUs; noop/s and db/s: the no-op server over the row's transport and the bare \
             pool running its queries, measured in slices beside the row's own; p99/n: p99 over \
             the no-op's p99; p99/m: p99 over the mean latency the row's throughput implies; \
             n99/m: the same for the no-op beside it",
            self.cpus
        );
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
            for r in &backend.rows {
                let _ = writeln!(
                    out,
                    "{:<46} {:>4} {:>7.0} {:>6.2} {:>6.2} {:>6.2} {:>4} {:>4} {:>7} {:>7} {:>5} {:>5} {:>6} {:>5} {:>5} {:>6}",
                    r.name,
                    r.concurrency,
                    r.result.rps,
                    r.result.p50_ms,
                    r.result.p99_ms,
                    r.result.p999_ms,
                    r.result.errors,
                    r.rss_mb.map_or("-".to_owned(), |m| format!("{m:.0}")),
                    rps(r.transport_ceiling.as_ref().map(|c| c.rps)),
                    rps(r.database_ceiling.as_ref().map(|c| c.result.rps)),
                    pct(r.vs_transport),
                    pct(r.vs_database),
                    pct(r.vs_bound),
                    times(r.p99_vs_transport),
                    times(r.p99_vs_mean),
                    times(r.transport_p99_vs_mean),
                );
            }
            for (row, kept, transport_kept) in backend.kept_at_higher_concurrency() {
                let _ = writeln!(
                    out,
                    "at concurrency {}: {} keeps {} of its lower-concurrency throughput (its no-op ceiling {})",
                    row.concurrency,
                    row.name,
                    pct(Some(kept)),
                    pct(transport_kept),
                );
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

#[cfg(test)]
mod tests {
    use super::*;

    fn result(rps: f64, p99_ms: f64) -> LoadResult {
        LoadResult {
            requests: 1,
            errors: 0,
            rps,
            p50_ms: p99_ms / 2.0,
            p99_ms,
            p999_ms: p99_ms,
            max_ms: p99_ms,
            first_error: None,
        }
    }

    #[test]
    fn a_row_with_both_ceilings_is_bounded_by_their_combination() {
        let row = Row::new(
            "GET /api/v1/sessions/info",
            Transport::Rest,
            32,
            result(6_000.0, 8.0),
            None,
            Some(result(60_000.0, 2.0)),
            Some(DatabaseCeiling {
                name: DB_CEILING,
                result: result(20_000.0, 4.0),
            }),
        );
        // 1 / (1/60000 + 1/20000) = 15000.
        assert!((row.vs_bound.unwrap() - 0.4).abs() < 1e-9);
        assert!((row.vs_transport.unwrap() - 0.1).abs() < 1e-9);
        assert!((row.vs_database.unwrap() - 0.3).abs() < 1e-9);
        assert!((row.p99_vs_transport.unwrap() - 4.0).abs() < 1e-9);
        // 32 in flight at 6000/s: 5.33 ms each on average.
        assert!((row.p99_vs_mean.unwrap() - 1.5).abs() < 1e-9);
        // The no-op's: 32 at 60000/s, 0.533 ms; p99 2 ms.
        assert!((row.transport_p99_vs_mean.unwrap() - 3.75).abs() < 1e-9);
    }

    #[test]
    fn a_row_answered_from_memory_is_bounded_by_its_transport_alone() {
        let row = Row::new(
            "Authenticate",
            Transport::Grpc,
            32,
            result(30_000.0, 3.0),
            None,
            Some(result(50_000.0, 3.0)),
            None,
        );
        assert!((row.vs_bound.unwrap() - 0.6).abs() < 1e-9);
        assert_eq!(row.vs_database, None);
        let alone = Row::new(
            "list",
            Transport::Rest,
            1,
            result(800.0, 2.0),
            None,
            None,
            None,
        );
        assert_eq!(
            (
                alone.vs_bound,
                alone.p99_vs_mean,
                alone.transport_p99_vs_mean
            ),
            (None, None, None)
        );
    }
}
