//! A real SMTP server on loopback for black-box tests (`tests/mail/sink.mjs`, npm smtp-server + mailparser), and what it received.

use std::{
    io::{BufRead, BufReader, Read},
    path::{Path, PathBuf},
    process::{Child, ChildStdin, Command, Stdio},
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::{Duration, Instant},
};

use serde::Deserialize;
use serde_json::Value;
use tokio::sync::{Notify, oneshot};

use crate::node;

/// Node starts the sink in well under a second; this bound only stops a hung start.
const START_TIMEOUT: Duration = Duration::from_secs(15);
/// How long `start_on` keeps retrying a port that is still taken: the previous
/// sink's socket is closed when it dies, but another process may hold the port
/// for a moment.
const REBIND_TIMEOUT: Duration = Duration::from_secs(5);

/// How the sink answers.
#[derive(Debug, Clone, Default)]
pub struct SinkOptions {
    /// Answer `451` (temporary failure) to the first N messages at the end of
    /// DATA, counted across connections: a mailer must retry them.
    pub fail_first: u32,
    /// Answer `554` (permanent failure) to every message.
    pub reject_all: bool,
    /// Wait this long after DATA before answering: time for a test to kill a
    /// worker in the middle of a send.
    pub delay: Duration,
    /// Offer STARTTLS (with smtp-server's built-in self-signed certificate);
    /// off by default so a mailer cannot upgrade by surprise.
    pub starttls: bool,
}

impl SinkOptions {
    fn args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if self.fail_first > 0 {
            args.extend(["--fail-first".to_owned(), self.fail_first.to_string()]);
        }
        if self.reject_all {
            args.push("--reject-all".to_owned());
        }
        if !self.delay.is_zero() {
            args.extend(["--delay-ms".to_owned(), self.delay.as_millis().to_string()]);
        }
        if self.starttls {
            args.push("--starttls".to_owned());
        }
        args
    }
}

/// One DATA command the sink answered, with the message as mailparser parsed it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceivedMail {
    /// Whether the sink answered 250; false for `fail_first` and `reject_all`.
    pub accepted: bool,
    pub reply: Reply,
    /// The client hung up before the (delayed) reply: the mailer cannot know
    /// whether this message was delivered, so it may send it again.
    pub disconnected_before_reply: bool,
    pub envelope: Envelope,
    /// Set when the client authenticated (AUTH PLAIN or LOGIN; any password).
    pub auth: Option<Auth>,
    /// Whether the session was upgraded with STARTTLS.
    pub tls: bool,
    /// The `Message-ID` header, angle brackets included.
    pub message_id: Option<String>,
    pub from: Option<Address>,
    pub to: Vec<Address>,
    pub cc: Vec<Address>,
    /// Decoded (RFC 2047 encoded words resolved).
    pub subject: Option<String>,
    /// The `Date` header as an RFC 3339 instant.
    pub date: Option<String>,
    pub text: Option<String>,
    pub html: Option<String>,
    /// Each top-level header by lowercased name, raw and unfolded; a repeated
    /// header is an array of its values in order.
    pub headers: serde_json::Map<String, Value>,
    /// The whole message as it came through DATA (dot-stuffing removed).
    pub raw: String,
}

impl ReceivedMail {
    /// The raw value of the first header called `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        match self.headers.get(&name.to_ascii_lowercase())? {
            Value::String(value) => Some(value),
            Value::Array(values) => values.first()?.as_str(),
            _ => None,
        }
    }

    /// The addresses of the envelope's `RCPT TO` commands.
    pub fn recipients(&self) -> Vec<&str> {
        self.envelope.to.iter().map(String::as_str).collect()
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Reply {
    pub code: u16,
    pub message: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Envelope {
    /// `MAIL FROM`; `None` for the null sender `<>`.
    pub from: Option<String>,
    /// Every `RCPT TO`.
    pub to: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Auth {
    pub username: String,
    /// `PLAIN` or `LOGIN`.
    pub method: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Address {
    /// Empty when the header gave none.
    pub name: String,
    pub address: String,
}

/// What the reader threads collect; kept across restarts so a test sees every
/// message sent to the port, before and after SMTP was down.
#[derive(Default)]
struct Collected {
    mails: Vec<ReceivedMail>,
    /// Lines that were not the sink's JSON: a broken protocol fails the test.
    garbage: Vec<String>,
    stderr: String,
}

#[derive(Default)]
struct Shared {
    collected: Mutex<Collected>,
    changed: Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Collected> {
        // A panicking reader thread must not hide what was already received.
        self.collected
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// A running `tests/mail/sink.mjs`; killed on [`SmtpSink::stop`] and on drop.
pub struct SmtpSink {
    port: u16,
    options: SinkOptions,
    shared: Arc<Shared>,
    process: Option<Running>,
}

struct Running {
    child: Child,
    // Held so the sink sees its stdin close (and exits) if this process dies
    // without running our Drop.
    _stdin: Option<ChildStdin>,
}

/// `tests/mail` of the workspace this testkit belongs to.
fn mail_dir() -> PathBuf {
    let testkit = Path::new(env!("CARGO_MANIFEST_DIR"));
    let workspace = testkit.ancestors().nth(2).unwrap_or(testkit);
    workspace.join("tests").join("mail")
}

impl SmtpSink {
    /// Starts a sink on a free loopback port, installing its npm packages first
    /// when `tests/mail/node_modules` is missing or stale.
    pub async fn start(options: SinkOptions) -> Self {
        Self::start_on(0, options).await
    }

    /// Starts a sink on `port` (0 for any), say where a stopped one listened.
    pub async fn start_on(port: u16, options: SinkOptions) -> Self {
        let mut sink = SmtpSink {
            port,
            options,
            shared: Arc::default(),
            process: None,
        };
        sink.launch(port).await;
        sink
    }

    /// The port it listens on, on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `smtp://127.0.0.1:<port>`, for a mailer's configuration.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Whether the sink is running (not stopped).
    pub fn is_running(&self) -> bool {
        self.process.is_some()
    }

    /// Every message the sink accepted so far (250), in order of arrival.
    pub fn received(&self) -> Vec<ReceivedMail> {
        let collected = self.checked();
        collected
            .mails
            .iter()
            .filter(|m| m.accepted)
            .cloned()
            .collect()
    }

    /// Every DATA the sink answered, accepted or not: the attempts a mailer made.
    pub fn attempts(&self) -> Vec<ReceivedMail> {
        self.checked().mails.clone()
    }

    /// Waits until the sink has accepted at least `n` messages and returns all it
    /// accepted (possibly more than `n`); fails the test after `timeout`, saying
    /// what did arrive.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<ReceivedMail> {
        let deadline = Instant::now() + timeout;
        loop {
            // Registered before the check, so a message arriving in between
            // still wakes us.
            let changed = self.shared.changed.notified();
            let accepted = self.received();
            if accepted.len() >= n {
                return accepted;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || tokio::time::timeout(left, changed).await.is_err() {
                let collected = self.shared.lock();
                let attempts: Vec<String> = collected
                    .mails
                    .iter()
                    .map(|m| {
                        format!(
                            "{} to {:?}, subject {:?}, Message-ID {:?}",
                            m.reply.code, m.envelope.to, m.subject, m.message_id
                        )
                    })
                    .collect();
                panic!(
                    "the SMTP sink on port {} accepted {} of the {n} messages expected within {timeout:?}; \
                     the sink is {}; every DATA it answered: {attempts:#?}; its stderr: {:?}",
                    self.port,
                    accepted.len(),
                    if self.is_running() {
                        "running"
                    } else {
                        "stopped"
                    },
                    collected.stderr,
                );
            }
        }
    }

    /// Kills the sink (SMTP is down: connections to the port are refused); what
    /// it received stays readable. Stopping a stopped sink does nothing.
    pub fn stop(&mut self) {
        if let Some(mut running) = self.process.take() {
            // Killed, not asked to close: "SMTP went down" includes mid-session.
            let _ = running.child.kill();
            let _ = running.child.wait();
        }
    }

    /// Starts the sink again on the same port with the same options, keeping
    /// what it received before.
    pub async fn restart(&mut self) {
        let options = self.options.clone();
        self.restart_with(options).await;
    }

    /// Starts the sink again on the same port with other options (failing no
    /// more, say), keeping what it received before.
    pub async fn restart_with(&mut self, options: SinkOptions) {
        self.stop();
        self.options = options;
        self.launch(self.port).await;
    }

    fn checked(&self) -> MutexGuard<'_, Collected> {
        let collected = self.shared.lock();
        assert!(
            collected.garbage.is_empty(),
            "the SMTP sink printed lines that are not its JSON: {:?}",
            collected.garbage
        );
        collected
    }

    async fn launch(&mut self, port: u16) {
        let dir = mail_dir();
        tokio::task::spawn_blocking(move || {
            node::require_node("the SMTP sink");
            node::npm_ci_when_stale(&dir);
        })
        .await
        .expect("npm install task");

        let deadline = Instant::now() + REBIND_TIMEOUT;
        loop {
            match self.spawn(port).await {
                Ok(running) => {
                    self.process = Some(running);
                    return;
                }
                // Port 0 cannot be taken; a fixed port may still be held briefly.
                Err(_) if port != 0 && Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(why) => panic!("cannot start the SMTP sink on port {port}: {why}"),
            }
        }
    }

    /// Spawns `node sink.mjs` and waits for its `LISTENING <port>` line.
    async fn spawn(&mut self, port: u16) -> Result<Running, String> {
        let mut child = Command::new("node")
            .arg("sink.mjs")
            .arg("--port")
            .arg(port.to_string())
            .args(self.options.args())
            .current_dir(mail_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run node: {e}"))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().ok_or("no stdout pipe")?;
        let stderr = child.stderr.take().ok_or("no stderr pipe")?;

        // Plain threads, not tokio tasks: they outlive any one test runtime and
        // need no tokio process support; they end when the sink's pipes close.
        let (listening_tx, listening_rx) = oneshot::channel();
        let shared = Arc::clone(&self.shared);
        std::thread::spawn(move || read_stdout(stdout, &shared, listening_tx));
        let (stderr_tx, stderr_rx) = oneshot::channel();
        let shared = Arc::clone(&self.shared);
        std::thread::spawn(move || {
            // Line by line, so a timeout message shows what a running sink said.
            let mut text = String::new();
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                shared.lock().stderr.push_str(&format!("{line}\n"));
                text.push_str(&line);
                text.push('\n');
            }
            let _ = stderr_tx.send(text);
        });

        match tokio::time::timeout(START_TIMEOUT, listening_rx).await {
            Ok(Ok(bound)) => {
                self.port = bound;
                Ok(Running {
                    child,
                    _stdin: stdin,
                })
            }
            // Its stdout closed without the line: it exited, and said why on stderr.
            Ok(Err(_)) => {
                let _ = child.wait();
                let stderr = tokio::time::timeout(Duration::from_secs(2), stderr_rx)
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .unwrap_or_default();
                Err(format!("the sink exited before listening: {stderr}"))
            }
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(format!("no LISTENING line within {START_TIMEOUT:?}"))
            }
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Reads the sink's stdout: the `LISTENING` line first, then one JSON line per DATA.
fn read_stdout(stdout: impl Read, shared: &Shared, listening: oneshot::Sender<u16>) {
    let mut lines = BufReader::new(stdout).lines();
    let Some(Ok(first)) = lines.next() else {
        return;
    };
    match first
        .strip_prefix("LISTENING ")
        .and_then(|p| p.trim().parse().ok())
    {
        Some(port) => {
            let _ = listening.send(port);
        }
        None => {
            shared.lock().garbage.push(first);
            return;
        }
    }
    for line in lines {
        let Ok(line) = line else { break };
        {
            let mut collected = shared.lock();
            match serde_json::from_str::<ReceivedMail>(&line) {
                Ok(mail) => collected.mails.push(mail),
                Err(e) => collected.garbage.push(format!("{e}: {line}")),
            }
        }
        shared.changed.notify_waiters();
    }
}
