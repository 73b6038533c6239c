//! The whole `sessionsd` process: command line, configuration, logging, and the
//! command run until it ends or SIGTERM/Ctrl-C arrives. `main` is this one call,
//! so tests can run the very same process entry in a child process.

use std::{ffi::OsString, process::ExitCode};

use clap::Parser;

use crate::{
    Config,
    cli::{self, Cli},
    telemetry,
};

/// Runs `sessionsd` with `args` (the first is the program name).
pub fn run_process(args: impl IntoIterator<Item = impl Into<OsString> + Clone>) -> ExitCode {
    let args = match Cli::try_parse_from(args) {
        Ok(args) => args,
        Err(err) => {
            let _ = err.print();
            return ExitCode::from(2);
        }
    };
    let config = match Config::load(args.config.as_deref()) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("sessionsd: {err}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("sessionsd: cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let _telemetry = telemetry::init(config.telemetry.log_format);
        let mut stdout = std::io::stdout();
        match cli::run(args.command, &config, shutdown_signal(), &mut stdout).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                tracing::error!(error = format!("{err:#}"), "sessionsd failed");
                eprintln!("sessionsd: {err:#}");
                ExitCode::FAILURE
            }
        }
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutdown requested; draining");
}
