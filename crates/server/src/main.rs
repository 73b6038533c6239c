//! `sessionsd`: parses the command line and configuration, starts logging, and
//! runs the command until it ends or SIGTERM/Ctrl-C arrives.

use clap::Parser;
use sessions_server::{
    Config,
    cli::{self, Cli},
    telemetry,
};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Cli::parse();
    let config = match Config::load(args.config.as_deref()) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("sessionsd: configuration: {err}");
            return std::process::ExitCode::from(2);
        }
    };
    let _telemetry = telemetry::init(&config.log_format);
    let mut stdout = std::io::stdout();
    match cli::run(args.command, &config, shutdown_signal(), &mut stdout).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = format!("{err:#}"), "sessionsd failed");
            eprintln!("sessionsd: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
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
