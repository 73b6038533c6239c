//! Rocket.Chat's own client libraries (npm, pinned in `tests/clients`) drive the real server through a whole session journey.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use sessions_testkit::{Backend, TestApp, npm_ci_when_stale, require_node, run_node_script};

const USER: &str = "journey-user";
const PASSWORD: &str = "journey user's pw";
const EMAIL: &str = "journey-user@example.test";
const ADMIN: &str = "journey-admin";
const ADMIN_PASSWORD: &str = "journey admin's pw";
const ADMIN_TOTP_SECRET: &[u8] = b"journey admin secret";

/// The journey takes a few seconds; this bound only stops a hung run.
const JOURNEY_TIMEOUT: Duration = Duration::from_secs(60);

fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("clients")
}

/// One backend is enough: the journey checks the libraries against the REST
/// edge; every endpoint's storage behaviour is covered on both elsewhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_journey() {
    let dir = clients_dir();
    tokio::task::spawn_blocking(move || {
        require_node("the client journey");
        npm_ci_when_stale(&dir);
    })
    .await
    .unwrap();

    let app = TestApp::spawn(Backend::Sqlite).await;
    let user_id = app.create_user(USER, Some(PASSWORD), &["user"]).await;
    app.set_emails(&user_id, &[(EMAIL, true)]).await;
    let admin_id = app
        .create_user(ADMIN, Some(ADMIN_PASSWORD), &["admin", "user"])
        .await;
    let backup_codes = app.enroll_totp(&admin_id, ADMIN_TOTP_SECRET).await;

    let env = vec![
        ("JOURNEY_URL", format!("http://{}", app.addr)),
        ("JOURNEY_USER", USER.to_owned()),
        ("JOURNEY_PASSWORD", PASSWORD.to_owned()),
        ("JOURNEY_EMAIL", EMAIL.to_owned()),
        ("JOURNEY_ADMIN", ADMIN.to_owned()),
        ("JOURNEY_ADMIN_PASSWORD", ADMIN_PASSWORD.to_owned()),
        (
            "JOURNEY_ADMIN_TOTP_SECRET",
            sessions_service::totp::encode_secret(ADMIN_TOTP_SECRET),
        ),
        ("JOURNEY_ADMIN_BACKUP_CODE", backup_codes[0].clone()),
        // The test server's clock stands still: the script computes its TOTP
        // codes at the server's time, within the server's window.
        ("JOURNEY_CLOCK", app.clock.now_unix().to_string()),
        (
            "JOURNEY_TOTP_SKEW",
            app.config.two_factor.totp_skew_steps.to_string(),
        ),
    ];
    run_node_script(
        clients_dir(),
        "journey.mjs",
        env,
        JOURNEY_TIMEOUT,
        "the client journey",
    )
    .await;
    app.stop().await;
}
