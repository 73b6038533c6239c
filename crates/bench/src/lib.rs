//! Benchmark harness of the session service: seeds a large PostgreSQL and
//! SQLite database, drives the real server over loopback, and measures it
//! against a no-op server and a bare database pool (see README "Benchmarks").

pub mod ceilings;
pub mod harness;
pub mod launch;
pub mod load;
pub mod report;
pub mod revocation;
pub mod scenarios;
pub mod seed;
pub mod seed_db;
pub mod soak;

pub use harness::{Backend, Settings, run};

#[cfg(test)]
mod tests {
    use super::*;

    /// The quick mode end to end, so the harness cannot rot: both backends,
    /// every scenario and ceiling, and no request may fail.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn quick_run_answers_every_scenario_without_errors() {
        let mut settings = Settings::quick();
        settings.mode = launch::Mode::InProcess;
        settings.postgres_database =
            format!("sessions_bench_quick_{}", uuid::Uuid::new_v4().simple());
        if let Ok(url) = std::env::var("SESSIONS_TEST_POSTGRES_URL") {
            settings.postgres_admin_url = url;
        }
        let report = run(&settings).await;
        let _ =
            seed_db::drop_postgres(&settings.postgres_admin_url, &settings.postgres_database).await;
        let report = report.unwrap();
        assert_eq!(report.backends.len(), 2);
        assert!(
            report.failures().is_empty(),
            "{:#?}\n{}",
            report.failures(),
            report.table()
        );
        for backend in &report.backends {
            assert!(backend.rows.iter().all(|r| r.result.requests > 0));
        }
    }
}
