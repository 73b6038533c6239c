//! A configuration that cannot run stops the real process before it serves,
//! naming the bad key by its TOML path and its environment variable; every
//! command refuses it alike.

use sessions_server::{
    Config,
    cli::{self, Command, UserCommand},
};

use crate::binary::Sessionsd;

#[tokio::test]
async fn a_bad_value_stops_serve_naming_the_key() {
    for (variable, value, key) in [
        ("SESSIONS_MAX_CONNECTIONS", "0", "listener.max_connections"),
        (
            "SESSIONS_RATE_LIMIT_WINDOW_SECS",
            "0",
            "limits.rate_limit.window_secs",
        ),
        (
            "SESSIONS_TRUSTED_PROXIES",
            r#"["10.0.0.0/33"]"#,
            "listener.trusted_proxies",
        ),
        ("SESSIONS_LISTEN", "nowhere", "listener.listen"),
        ("SESSIONS_LOG_FORMAT", "yaml", "telemetry.log_format"),
    ] {
        let (status, stderr) = Sessionsd::run_to_exit("serve", &[(variable, value.into())]).await;
        assert!(!status.success(), "{variable}={value}: {status}\n{stderr}");
        assert!(
            stderr.contains(&format!("{key} ({variable})")),
            "{variable}={value}:\n{stderr}"
        );
        assert!(!stderr.contains("serving"), "{stderr}");
    }
}

#[tokio::test]
async fn a_misspelt_variable_stops_serve() {
    let (status, stderr) =
        Sessionsd::run_to_exit("serve", &[("SESSIONS_MAX_CONECTIONS", "10".into())]).await;
    assert!(!status.success(), "{status}\n{stderr}");
    assert!(stderr.contains("SESSIONS_MAX_CONECTIONS"), "{stderr}");
}

#[tokio::test]
async fn migrate_refuses_what_serve_refuses() {
    let (status, stderr) = Sessionsd::run_to_exit(
        "migrate",
        &[("SESSIONS_DATABASE_MAX_CONNECTIONS", "0".into())],
    )
    .await;
    assert!(!status.success(), "{status}\n{stderr}");
    assert!(
        stderr.contains("database.max_connections (SESSIONS_DATABASE_MAX_CONNECTIONS)"),
        "{stderr}"
    );
}

#[tokio::test]
async fn operator_commands_refuse_a_configuration_built_in_code() {
    let mut config = Config::default();
    config.sessions.list_default_count = 500;
    let mut out = Vec::new();
    let refused = cli::run(
        Command::User(UserCommand::List),
        &config,
        async {},
        &mut out,
    )
    .await
    .expect_err("refused");
    assert!(
        refused
            .to_string()
            .contains("sessions.list_default_count (SESSIONS_LIST_DEFAULT_COUNT)"),
        "{refused:#}"
    );
}
