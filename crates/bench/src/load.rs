//! The closed-loop load generator: `concurrency` tasks each send a request,
//! wait for its answer and send the next, for a fixed time after a warm-up.
//! Latencies go into per-task HDR histograms merged at the end, and slices
//! of one scenario run at different times merge into one result.

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    time::{Duration, Instant},
};

use hdrhistogram::Histogram;

/// One request: `Ok` when the answer was the expected one.
pub type Op =
    Arc<dyn Fn(u64) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync>;

/// Wraps an async closure as an [`Op`]; `n` counts requests across all tasks'
/// own sequences, so each task walks its own slice of the sample.
pub fn op<F, Fut>(f: F) -> Op
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    Arc::new(move |n| Box::pin(f(n)))
}

#[derive(Debug, Clone, Copy)]
pub struct LoadSpec {
    pub concurrency: usize,
    pub duration: Duration,
    pub warmup: Duration,
}

/// What one measured run saw.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LoadResult {
    pub requests: u64,
    pub errors: u64,
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    /// The first error seen, to tell a failing scenario from a slow one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
}

struct TaskResult {
    histogram: Histogram<u64>,
    errors: u64,
    first_error: Option<String>,
}

/// What one or more measured slices of a scenario saw, before summing up:
/// slices merge by adding their histograms, errors and measured time.
#[derive(Debug)]
pub struct Measured {
    histogram: Histogram<u64>,
    errors: u64,
    first_error: Option<String>,
    elapsed_secs: f64,
}

impl Default for Measured {
    fn default() -> Self {
        Self {
            histogram: new_histogram(),
            errors: 0,
            first_error: None,
            elapsed_secs: 0.0,
        }
    }
}

impl Measured {
    pub fn merge(&mut self, slice: Measured) {
        let _ = self.histogram.add(&slice.histogram);
        self.errors += slice.errors;
        self.first_error = self.first_error.take().or(slice.first_error);
        self.elapsed_secs += slice.elapsed_secs;
    }

    /// Throughput over the measured time of every slice, latencies over all
    /// their requests.
    pub fn summary(&self) -> LoadResult {
        let histogram = &self.histogram;
        let ms = |q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
        LoadResult {
            requests: histogram.len() + self.errors,
            errors: self.errors,
            rps: histogram.len() as f64 / self.elapsed_secs.max(f64::EPSILON),
            p50_ms: ms(0.5),
            p99_ms: ms(0.99),
            p999_ms: ms(0.999),
            max_ms: histogram.max() as f64 / 1000.0,
            first_error: self.first_error.clone(),
        }
    }
}

fn new_histogram() -> Histogram<u64> {
    // Microseconds, 1 µs to 60 s, 3 significant digits.
    Histogram::new_with_bounds(1, 60_000_000, 3)
        .unwrap_or_else(|_| Histogram::new(3).unwrap_or_else(|_| unreachable!()))
}

/// Runs `op` for `spec.warmup` unmeasured, then for `spec.duration` measured;
/// [`Measured::summary`] sums it up, after merging other slices if need be.
pub async fn run_slice(spec: LoadSpec, op: Op) -> Measured {
    if !spec.warmup.is_zero() {
        drive(spec.concurrency, spec.warmup, op.clone(), 1 << 40).await;
    }
    let started = Instant::now();
    let tasks = drive(spec.concurrency, spec.duration, op, 0).await;
    let mut measured = Measured {
        elapsed_secs: started.elapsed().as_secs_f64(),
        ..Measured::default()
    };
    for task in tasks {
        let _ = measured.histogram.add(&task.histogram);
        measured.errors += task.errors;
        measured.first_error = measured.first_error.or(task.first_error);
    }
    measured
}

/// Sends `op` for each of `requests` consecutive numbers, `concurrency` at a
/// time, unmeasured: one walk over a scenario's whole sample.
pub async fn walk(concurrency: usize, requests: u64, op: Op) {
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let tasks: Vec<_> = (0..concurrency.max(1))
        .map(|_| {
            let (next, op) = (next.clone(), op.clone());
            tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if n >= requests {
                        break;
                    }
                    let _ = op(n).await;
                }
            })
        })
        .collect();
    for task in tasks {
        let _ = task.await;
    }
}

async fn drive(concurrency: usize, duration: Duration, op: Op, offset: u64) -> Vec<TaskResult> {
    let deadline = Instant::now() + duration;
    let handles: Vec<_> = (0..concurrency.max(1))
        .map(|task| {
            let op = op.clone();
            tokio::spawn(async move {
                let mut result = TaskResult {
                    histogram: new_histogram(),
                    errors: 0,
                    first_error: None,
                };
                // Tasks start at different places of the sample and step by the
                // task count, so no two ask for the same row at once.
                let mut n = offset + task as u64;
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    match op(n).await {
                        Ok(()) => {
                            let micros = sent.elapsed().as_micros().max(1) as u64;
                            let _ = result.histogram.record(micros.min(60_000_000));
                        }
                        Err(err) => {
                            result.errors += 1;
                            result.first_error.get_or_insert(err);
                        }
                    }
                    n += concurrency as u64;
                }
                result
            })
        })
        .collect();
    let mut results = Vec::with_capacity(handles.len());
    for handle in handles {
        if let Ok(result) = handle.await {
            results.push(result);
        }
    }
    results
}
