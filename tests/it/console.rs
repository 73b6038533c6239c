//! The device console in headless Chromium (`tests/console/console.mjs`, npm
//! `playwright-core`): sign-in, my devices, device management, 2FA, screenshots.

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use serde_json::json;
use sessions_proto::v1::CreateSessionRequest;
use sessions_testkit::{Backend, TestApp, npm_ci_when_stale, read, require_node, run_node_script};

const USER: &str = "console-user";
const PASSWORD: &str = "console user's pw";
const ADMIN: &str = "console-admin";
const ADMIN_PASSWORD: &str = "console admin's pw";
const ADMIN_TOTP_SECRET: &[u8] = b"console admin secret";
/// The user's second device, which the page logs out.
const FIREFOX_ON_LINUX: &str =
    "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0";

/// Devices the seeded users log in from, so sorting by device or OS moves rows.
const SEED_AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/113.0.0.0 Safari/537.36",
    FIREFOX_ON_LINUX,
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15",
    "RC Mobile; iOS 12.2; v3.4.0 (250)",
    "Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Mobile Safari/537.36",
];
/// Seeded owners (username, name); a name holds a space, which no session or
/// user id can, so the search matches exactly one owner's sessions.
const SEED_USERS: &[(&str, &str)] = &[
    ("ana", "Ana Lima"),
    ("bruno", "Bruno Silva"),
    ("carla", "Carla Reis"),
    ("diego", "Diego Alves"),
    ("elena", "Elena Costa"),
    ("fabio", "Fábio Nunes"),
    ("mallory", MARKUP_NAME),
];
/// A name made of markup: the page must show it as these characters, and the
/// handler, were it ever parsed, would leave a mark the script looks for.
const MARKUP_NAME: &str = "<img src=x onerror=\"window.__injected=1\"><b>Mallory</b>";
const SESSIONS_PER_SEED_USER: usize = 7;
const SEARCH: &str = "bruno silva";
/// A user the page's wrong passwords lock out, after this many.
const LOCKED_USER: &str = "console-locked";
const LOCK_AFTER: u32 = 3;

/// The script takes about ten seconds; this bound only stops a hung run.
const CONSOLE_TIMEOUT: Duration = Duration::from_secs(90);

fn console_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("console")
}

/// Debian's Chromium, installed by the project's script on a machine without
/// it (a browser download by Playwright itself cannot work on this network).
fn chromium() -> PathBuf {
    let path = std::env::var_os("CONSOLE_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    if !path.exists() {
        // No stdin: sudo, if it needs a password, fails instead of waiting.
        let installed = Command::new("bash")
            .arg(console_dir().join("install-chromium.sh"))
            .stdin(std::process::Stdio::null())
            .status();
        assert!(
            installed.is_ok_and(|s| s.success()) && path.exists(),
            "the console test needs Chromium at {}: tests/console/install-chromium.sh could not install it",
            path.display()
        );
    }
    path
}

/// One backend is enough: the page drives the REST edge, whose storage
/// behaviour is covered on both databases elsewhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_in_chromium() {
    let dir = console_dir();
    let chromium = tokio::task::spawn_blocking(move || {
        require_node("the console test");
        npm_ci_when_stale(&dir);
        chromium()
    })
    .await
    .unwrap();

    let app = TestApp::spawn_with(Backend::Sqlite, |config| {
        config.limits.login.failures_per_user = LOCK_AFTER;
    })
    .await;
    answers_under_the_console_carry_the_policy(&app).await;
    app.create_user(USER, Some(PASSWORD), &["user"]).await;
    app.create_user(LOCKED_USER, Some(PASSWORD), &["user"])
        .await;
    let other_device = app.login_as(USER, PASSWORD, FIREFOX_ON_LINUX).await;
    let admin_id = app
        .create_user(ADMIN, Some(ADMIN_PASSWORD), &["admin", "user"])
        .await;
    app.enroll_totp(&admin_id, ADMIN_TOTP_SECRET).await;
    let seeded = seed_sessions(&app).await;

    let screenshots = Path::new(env!("CARGO_MANIFEST_DIR")).join("console/screenshots");
    let env = vec![
        ("CONSOLE_URL", format!("http://{}", app.addr)),
        ("CONSOLE_CHROMIUM", chromium.display().to_string()),
        ("CONSOLE_USER", USER.to_owned()),
        ("CONSOLE_PASSWORD", PASSWORD.to_owned()),
        ("CONSOLE_USER_ID", other_device.user_id.clone()),
        ("CONSOLE_OTHER_TOKEN", other_device.token.clone()),
        ("CONSOLE_ADMIN", ADMIN.to_owned()),
        ("CONSOLE_ADMIN_PASSWORD", ADMIN_PASSWORD.to_owned()),
        (
            "CONSOLE_ADMIN_TOTP_SECRET",
            sessions_service::totp::encode_secret(ADMIN_TOTP_SECRET),
        ),
        // The test server's clock stands still: the script computes its TOTP
        // codes at the server's time, within the server's window.
        ("CONSOLE_CLOCK", app.clock.now_unix().to_string()),
        (
            "CONSOLE_TOTP_SKEW",
            app.config.two_factor.totp_skew_steps.to_string(),
        ),
        ("CONSOLE_SEEDED_TOTAL", seeded.to_string()),
        ("CONSOLE_SEARCH", SEARCH.to_owned()),
        ("CONSOLE_SEARCH_TOTAL", SESSIONS_PER_SEED_USER.to_string()),
        ("CONSOLE_LOCKED_USER", LOCKED_USER.to_owned()),
        ("CONSOLE_LOCK_AFTER", LOCK_AFTER.to_string()),
        ("CONSOLE_MARKUP_USERNAME", "mallory".to_owned()),
        ("CONSOLE_MARKUP_NAME", MARKUP_NAME.to_owned()),
        ("CONSOLE_MARKUP_TOTAL", SESSIONS_PER_SEED_USER.to_string()),
        ("CONSOLE_SCREENSHOTS", screenshots.display().to_string()),
    ];
    run_node_script(
        console_dir(),
        "console.mjs",
        env,
        CONSOLE_TIMEOUT,
        "the console test",
    )
    .await;
    app.stop().await;
}

/// Errors under `/console/` are the edge's JSON, with the page's headers too.
async fn answers_under_the_console_carry_the_policy(app: &TestApp) {
    let missing = app
        .http
        .get(app.url("/console/missing.js"))
        .send()
        .await
        .unwrap();
    let policy = missing.headers()["content-security-policy"].clone();
    assert!(policy.to_str().unwrap().contains("frame-ancestors 'none'"));
    assert_eq!(missing.headers()["x-frame-options"], "DENY");
    assert_eq!(read(missing).await.0, 404);
    let post = app.http.post(app.url("/console/")).send().await.unwrap();
    assert_eq!(post.headers()["allow"], "GET, HEAD");
    assert_eq!(post.headers()["x-frame-options"], "DENY");
    let (status, body) = read(post).await;
    assert_eq!((status, body["success"].clone()), (405, json!(false)));
}

/// Sessions of other users for the admin pages, created through the internal
/// API (a password login per session would cost an Argon2 hash each);
/// answers how many.
async fn seed_sessions(app: &TestApp) -> usize {
    let mut internal = app.internal().await;
    let mut created = 0;
    for (index, (username, name)) in SEED_USERS.iter().enumerate() {
        let user_id = app.create_user(username, None, &["user"]).await;
        app.update_user(&user_id, |user| user.name = (*name).to_owned())
            .await;
        for n in 0..SESSIONS_PER_SEED_USER {
            internal
                .create_session(CreateSessionRequest {
                    user_id: user_id.clone(),
                    login_token: format!("seeded token {username} {n}"),
                    ip: format!("10.0.{index}.{n}"),
                    host: "chat.example.test".to_owned(),
                    user_agent: SEED_AGENTS[(index + n) % SEED_AGENTS.len()].to_owned(),
                    ..Default::default()
                })
                .await
                .unwrap();
            created += 1;
        }
    }
    created
}
