//! What a soak counted: the shared tally its journeys add to, and the report
//! (per-step latency, failures by kind, RSS per quarter) it ends as.

use std::{
    collections::BTreeMap,
    fmt::Write,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Instant,
};

use serde::Serialize;

use crate::seed::Login;

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

    pub(super) fn rss_growth_failure(&self, max_growth: f64) -> Option<String> {
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
pub(super) struct Tally {
    pub(super) journeys: AtomicU64,
    pub(super) server_errors: AtomicU64,
    pub(super) unexpected_4xx: AtomicU64,
    pub(super) other_failures: AtomicU64,
    pub(super) logouts: AtomicU64,
    pub(super) by_step: Mutex<BTreeMap<&'static str, StepStats>>,
    pub(super) first_failures: Mutex<Vec<String>>,
    pub(super) logged_out: Mutex<Vec<Login>>,
}

/// Adds one request and its latency to its step when dropped, whatever way
/// the step ended.
pub(super) struct StepTimer<'a> {
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
pub(super) enum Failure {
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
    pub(super) fn time(&self, step: &'static str) -> StepTimer<'_> {
        StepTimer {
            tally: self,
            step,
            started: Instant::now(),
        }
    }

    pub(super) fn fail(&self, failure: Failure) {
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
