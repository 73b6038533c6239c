//! Rocket.Chat's own client libraries (npm, pinned in `tests/clients`) drive the real server through a whole session journey.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    time::{Duration, Instant},
};

use sessions_testkit::{Backend, TestApp};

const USER: &str = "journey-user";
const PASSWORD: &str = "journey user's pw";
const EMAIL: &str = "journey-user@example.test";
const ADMIN: &str = "journey-admin";
const ADMIN_PASSWORD: &str = "journey admin's pw";
const ADMIN_TOTP_SECRET: &[u8] = b"journey admin secret";

/// A first `npm ci` on a new machine downloads about a hundred packages.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(300);
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
    tokio::task::spawn_blocking(move || install(&dir))
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
    let dir = clients_dir();
    let started = Instant::now();
    let output = tokio::task::spawn_blocking(move || {
        let mut journey = Command::new("node");
        journey.arg("journey.mjs").current_dir(&dir);
        for (name, value) in env {
            journey.env(name, value);
        }
        run(journey, JOURNEY_TIMEOUT)
    })
    .await
    .unwrap();
    // The script never prints a token, password or code.
    print!("{}", String::from_utf8_lossy(&output.stdout));
    eprint!("{}", String::from_utf8_lossy(&output.stderr));
    println!("journey took {:.1?}", started.elapsed());
    assert!(
        output.status.success(),
        "the client journey failed ({}); its FAIL lines above name each step and the requests sent",
        output.status
    );
    app.stop().await;
}

/// Installs the pinned client libraries with `npm ci` unless `node_modules`
/// already holds exactly what `package-lock.json` pins: a new machine has
/// nothing, and a changed lock file must not run against old packages.
fn install(dir: &Path) {
    let version = Command::new("node").arg("--version").output();
    assert!(
        version.as_ref().is_ok_and(|o| o.status.success()),
        "the client journey needs Node.js (`node` on PATH): {version:?}"
    );
    let lock =
        std::fs::read(dir.join("package-lock.json")).expect("tests/clients/package-lock.json");
    let installed_stamp = dir
        .join("node_modules")
        .join(".journey-installed-lock.json");
    if std::fs::read(&installed_stamp).is_ok_and(|installed| installed == lock) {
        return;
    }
    let started = Instant::now();
    let mut npm = Command::new("npm");
    npm.args(["ci", "--no-audit", "--no-fund"]).current_dir(dir);
    let output = run(npm, INSTALL_TIMEOUT);
    print!("{}", String::from_utf8_lossy(&output.stdout));
    eprint!("{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        output.status.success(),
        "npm ci in {} failed",
        dir.display()
    );
    println!("npm ci took {:.1?}", started.elapsed());
    // Written only after a complete install, so an interrupted one is redone.
    std::fs::write(&installed_stamp, &lock).expect("install stamp");
}

/// Runs `command` to completion, killing it after `timeout`.
fn run(mut command: Command, timeout: Duration) -> Output {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
    // The pipes are drained on their own threads so a chatty child cannot
    // block on a full pipe while we wait for it.
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let deadline = Instant::now() + timeout;
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            timed_out = true;
            let _ = child.kill();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let output = Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    };
    if timed_out {
        print!("{}", String::from_utf8_lossy(&output.stdout));
        eprint!("{}", String::from_utf8_lossy(&output.stderr));
        panic!("{command:?} did not finish within {timeout:?}");
    }
    output
}

fn drain(pipe: Option<impl std::io::Read + Send + 'static>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        bytes
    })
}
