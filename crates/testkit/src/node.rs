//! Node.js for the tests: checks `node` is there, runs `npm ci` in a pinned npm project when its install is stale, and runs commands and scripts with a deadline.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

/// A first `npm ci` on a new machine downloads up to a hundred packages.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(300);
/// The oldest Node.js the pinned npm projects support (their `engines`).
const NODE_MAJOR: u32 = 20;
/// Written into `node_modules` after a complete install: a copy of the lock file
/// it was installed from.
const INSTALL_STAMP: &str = ".installed-package-lock.json";

/// Tests run in parallel threads of one binary, and two `npm ci` in the same
/// directory would delete each other's files: one lock per directory, so the
/// SMTP sink's tests do not wait for the client libraries' install.
static INSTALLING: Mutex<BTreeMap<PathBuf, Arc<Mutex<()>>>> = Mutex::new(BTreeMap::new());

/// Panics with a clear message unless `node` (20 or later) is on `PATH`.
pub fn require_node(purpose: &str) {
    let version = Command::new("node").arg("--version").output();
    let major = version
        .as_ref()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| {
            let text = String::from_utf8_lossy(&o.stdout);
            text.trim()
                .trim_start_matches('v')
                .split('.')
                .next()?
                .parse::<u32>()
                .ok()
        });
    assert!(
        major.is_some_and(|m| m >= NODE_MAJOR),
        "{purpose} needs Node.js {NODE_MAJOR} or later (`node` on PATH): {version:?}"
    );
}

/// Installs the npm project in `dir` with `npm ci` unless `node_modules` already
/// holds exactly what `package-lock.json` pins: a new machine has nothing, and a
/// changed lock file must not run against old packages. Blocking; call it from
/// `spawn_blocking` in async code.
pub fn npm_ci_when_stale(dir: &Path) {
    let dir_lock = Arc::clone(
        INSTALLING
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(dir.to_path_buf())
            .or_default(),
    );
    // A test that panicked mid-install left no stamp, so the next one redoes it.
    let _one_at_a_time = dir_lock.lock().unwrap_or_else(PoisonError::into_inner);
    let lock_path = dir.join("package-lock.json");
    let lock = std::fs::read(&lock_path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", lock_path.display()));
    let installed_stamp = dir.join("node_modules").join(INSTALL_STAMP);
    if std::fs::read(&installed_stamp).is_ok_and(|installed| installed == lock) {
        return;
    }
    let started = Instant::now();
    let mut npm = Command::new("npm");
    npm.args(["ci", "--no-audit", "--no-fund"]).current_dir(dir);
    let output = run_with_timeout(npm, INSTALL_TIMEOUT);
    print!("{}", String::from_utf8_lossy(&output.stdout));
    eprint!("{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        output.status.success(),
        "npm ci in {} failed ({})",
        dir.display(),
        output.status
    );
    println!("npm ci in {} took {:.1?}", dir.display(), started.elapsed());
    // Written only after a complete install, so an interrupted one is redone.
    std::fs::write(&installed_stamp, &lock).expect("install stamp");
}

/// Runs `command` to completion with its output captured, killing it after
/// `timeout` (and then panicking with what it printed).
pub fn run_with_timeout(mut command: Command, timeout: Duration) -> Output {
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
        if let Some(status) = child.try_wait().expect("wait for child") {
            break status;
        }
        if Instant::now() > deadline {
            timed_out = true;
            let _ = child.kill();
            break child.wait().expect("wait for killed child");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let output = Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    };
    if timed_out {
        print!("{}", String::from_utf8_lossy(&output.stdout));
        eprint!("{}", String::from_utf8_lossy(&output.stderr));
        panic!("{command:?} did not finish within {timeout:?}");
    }
    output
}

/// Runs `node <script>` in `dir` with `env` on a blocking thread, echoes what
/// it printed and fails the test unless it exited 0. The scripts print one
/// PASS or FAIL line per step and never a token, password or code, so their
/// output is safe to show; `what` names the script in the failure.
pub async fn run_node_script(
    dir: PathBuf,
    script: &'static str,
    env: Vec<(&'static str, String)>,
    timeout: Duration,
    what: &'static str,
) {
    let started = Instant::now();
    let output = tokio::task::spawn_blocking(move || {
        let mut node = Command::new("node");
        node.arg(script).current_dir(&dir).envs(env);
        run_with_timeout(node, timeout)
    })
    .await
    .expect("the script's thread");
    print!("{}", String::from_utf8_lossy(&output.stdout));
    eprint!("{}", String::from_utf8_lossy(&output.stderr));
    println!("{what} took {:.1?}", started.elapsed());
    assert!(
        output.status.success(),
        "{what} failed ({}); its FAIL lines above name each step",
        output.status
    );
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
