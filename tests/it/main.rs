//! Black-box tests: each starts the real server on port 0 with a fresh database
//! and talks to it over REST and gRPC. Every scenario runs on SQLite and on
//! PostgreSQL.

// A failed unwrap is a failed test, which is what a test should do.
#![allow(clippy::unwrap_used)]

/// Runs each named `async fn(Backend)` once on SQLite and once on PostgreSQL.
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name(sessions_testkit::Backend::Sqlite).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name(sessions_testkit::Backend::Postgres).await
                }
            }
        )*
    };
}

mod account;
mod admin;
mod binary;
mod brute_force;
mod cli;
mod client_info;
mod client_journey;
mod config;
mod connections;
mod console;
mod descriptors;
mod devices;
mod email_two_factor;
mod faults;
mod grpc;
mod hostile_input;
mod info;
mod internal;
mod limits;
mod listing;
mod lock_wait;
mod login;
mod login_forms;
mod login_guard;
mod login_mail;
mod logout;
mod operations;
mod password_change;
mod reflection;
mod routing;
mod secrets;
mod send_email_code;
mod smtp_sink;
mod store;
mod token_cache;
mod tracing_export;
mod users;
mod wire;
