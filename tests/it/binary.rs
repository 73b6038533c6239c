//! Runs the real `sessionsd` process entry in a child process, for what is
//! process-wide (the tracing subscriber, signals): the child is this test
//! binary re-executed on [`child_process_entry`], which calls the same
//! `run_process` as `sessionsd`'s `main`. Its address comes from its JSON log,
//! and its whole log is kept for inspection.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, ExitStatus, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};

pub(crate) struct Sessionsd {
    child: Child,
    pub(crate) address: String,
    log: Arc<Mutex<String>>,
    _dir: tempfile::TempDir,
}

/// Set in the child's environment: run `sessionsd serve` instead of returning.
const CHILD: &str = "SESSIONS_TEST_CHILD_PROCESS";
/// The child runs this subcommand instead of `serve`.
const CHILD_COMMAND: &str = "SESSIONS_TEST_CHILD_COMMAND";

/// In the normal test run this returns at once; in a child started by
/// [`Sessionsd::serve`] it is the `sessionsd serve` process.
#[test]
fn child_process_entry() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let command = std::env::var(CHILD_COMMAND).unwrap_or_else(|_| "serve".to_owned());
    let code = sessions_server::process::run_process(["sessionsd", command.as_str()]);
    std::process::exit(if code == std::process::ExitCode::SUCCESS {
        0
    } else {
        1
    });
}

impl Sessionsd {
    /// Starts `sessionsd serve` on a fresh SQLite file with `env` added.
    pub(crate) fn serve(env: &[(&str, String)]) -> Self {
        Self::start(env, None)
    }

    /// As [`Sessionsd::serve`], with at most `limit` open descriptors in the
    /// child (`ulimit -n`; `pre_exec` would need `unsafe`).
    pub(crate) fn serve_with_open_files(env: &[(&str, String)], limit: u32) -> Self {
        Self::start(env, Some(limit))
    }

    /// Runs `sessionsd COMMAND` on a fresh SQLite file with `env` added, for
    /// a process expected to end by itself (on a configuration it refuses,
    /// say): answers its exit status and its stderr.
    pub(crate) async fn run_to_exit(command: &str, env: &[(&str, String)]) -> (ExitStatus, String) {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Self::command(&dir, env, None)
            .env(CHILD_COMMAND, command)
            .spawn()
            .expect("the child process starts");
        let mut stderr = child.stderr.take().unwrap();
        let pid = child.id();
        let waited = tokio::task::spawn_blocking(move || {
            // stderr ends when the process does.
            let mut log = String::new();
            let _ = std::io::Read::read_to_string(&mut stderr, &mut log);
            (child.wait().unwrap(), log)
        });
        match tokio::time::timeout(Duration::from_secs(30), waited).await {
            Ok(done) => done.unwrap(),
            Err(_) => {
                // Not left serving after the test: it was meant to refuse.
                let _ = Command::new("kill")
                    .arg("-KILL")
                    .arg(pid.to_string())
                    .status();
                panic!("sessionsd {command} did not exit within 30 s")
            }
        }
    }

    fn start(env: &[(&str, String)], open_files: Option<u32>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Self::command(&dir, env, open_files)
            .spawn()
            .expect("the child process starts");
        let stderr = BufReader::new(child.stderr.take().unwrap());
        let (address_tx, address_rx) = std::sync::mpsc::channel();
        let log = Arc::new(Mutex::new(String::new()));
        let writer = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                if let Ok(entry) = serde_json::from_str::<serde_json::Value>(&line)
                    && let Some(address) = entry["fields"]["address"].as_str()
                {
                    let _ = address_tx.send(address.to_owned());
                }
                let mut log = writer.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let address = address_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("sessionsd announces its address");
        Self {
            child,
            address,
            log,
            _dir: dir,
        }
    }

    /// This test binary on [`child_process_entry`], with a SQLite file in
    /// `dir` and `env` added.
    fn command(
        dir: &tempfile::TempDir,
        env: &[(&str, String)],
        open_files: Option<u32>,
    ) -> Command {
        let exe = std::env::current_exe().unwrap();
        let mut command = match open_files {
            None => Command::new(exe),
            Some(limit) => {
                // `exec` keeps the pid, so `terminate` still signals sessionsd.
                let mut shell = Command::new("sh");
                shell
                    .arg("-c")
                    .arg(r#"ulimit -n "$0" && exec "$@""#)
                    .arg(limit.to_string())
                    .arg(exe);
                shell
            }
        };
        command
            .args([
                "--exact",
                "binary::child_process_entry",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, "1")
            .env("SESSIONS_LISTEN", "127.0.0.1:0")
            .env("SESSIONS_ADMIN_LISTEN", "127.0.0.1:0")
            .env(
                "SESSIONS_DATABASE_URL",
                format!("sqlite://{}/s.db", dir.path().display()),
            )
            .env("SESSIONS_LOG_FORMAT", "json")
            .stderr(Stdio::piped())
            .stdout(Stdio::null());
        for (key, value) in env {
            command.env(key, value);
        }
        command
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.address, path)
    }

    /// SIGKILL: the process dies at once, mid-request or mid-send.
    pub(crate) fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits for the exit; answers the exit status and the log.
    pub(crate) async fn terminate(self) -> (ExitStatus, String) {
        let killed = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(killed.success());
        let mut child = self.child;
        let status = tokio::task::spawn_blocking(move || child.wait())
            .await
            .unwrap()
            .unwrap();
        // Let the reader thread drain what the process wrote last.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let log = self.log.lock().unwrap().clone();
        (status, log)
    }
}
