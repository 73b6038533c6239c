//! The SMTP sink the e-mail tests rely on, proven over real SMTP: a hand-driven TCP session is parsed back as sent, and its failure modes answer as configured.

use std::time::{Duration, Instant};

use sessions_testkit::{SinkOptions, SmtpSink};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::TcpStream,
};

/// Generous for loopback; only a broken sink takes this long.
const WAIT: Duration = Duration::from_secs(10);

/// A minimal SMTP client: no library between the test and the wire, so what
/// the sink records is exactly what was sent.
struct Client {
    stream: BufReader<TcpStream>,
}

impl Client {
    async fn connect(port: u16) -> Self {
        let stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let mut client = Client {
            stream: BufReader::new(stream),
        };
        let (code, _) = client.reply().await;
        assert_eq!(code, 220, "greeting");
        client
    }

    /// Reads one reply, joining the lines of a multi-line one (`250-...`).
    async fn reply(&mut self) -> (u16, String) {
        let mut text = String::new();
        loop {
            let mut line = String::new();
            let read = tokio::time::timeout(WAIT, self.stream.read_line(&mut line))
                .await
                .expect("the sink answers within the wait")
                .unwrap();
            assert!(read > 0, "the sink closed the connection; so far: {text}");
            text.push_str(&line);
            // "250-" continues, "250 " ends the reply (RFC 5321 4.2.1).
            if line.as_bytes().get(3) != Some(&b'-') {
                let code = line[..3].parse().unwrap();
                return (code, text);
            }
        }
    }

    async fn send(&mut self, line: &str) -> (u16, String) {
        self.stream
            .get_mut()
            .write_all(format!("{line}\r\n").as_bytes())
            .await
            .unwrap();
        self.reply().await
    }

    async fn expect(&mut self, line: &str, code: u16) -> String {
        let (got, text) = self.send(line).await;
        assert_eq!(got, code, "{line} answered {text}");
        text
    }

    /// One transaction up to the reply to the final `.`, whose code it returns.
    async fn mail(&mut self, from: &str, to: &[&str], message: &str) -> u16 {
        self.expect(&format!("MAIL FROM:<{from}>"), 250).await;
        for rcpt in to {
            self.expect(&format!("RCPT TO:<{rcpt}>"), 250).await;
        }
        self.expect("DATA", 354).await;
        // Dot-stuffing (RFC 5321 4.5.2): a line starting with "." gets another.
        let mut data = String::new();
        for line in message.split("\r\n") {
            if line.starts_with('.') {
                data.push('.');
            }
            data.push_str(line);
            data.push_str("\r\n");
        }
        data.push_str(".\r\n");
        self.stream
            .get_mut()
            .write_all(data.as_bytes())
            .await
            .unwrap();
        self.reply().await.0
    }
}

fn message(message_id: &str, to: &str, subject: &str, body: &str) -> String {
    format!(
        "From: Sessions <noreply@sessions.test>\r\n\
         To: {to}\r\n\
         Subject: {subject}\r\n\
         Date: Tue, 02 Jan 2024 03:04:05 +0000\r\n\
         Message-ID: {message_id}\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         \r\n\
         {body}"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_a_message_as_sent_over_smtp() {
    let sink = SmtpSink::start(SinkOptions::default()).await;
    assert_eq!(sink.url(), format!("smtp://127.0.0.1:{}", sink.port()));
    let started = Instant::now();

    let mut client = Client::connect(sink.port()).await;
    let ehlo = client.expect("EHLO client.test", 250).await;
    assert!(ehlo.contains("AUTH PLAIN LOGIN"), "{ehlo}");
    assert!(
        !ehlo.contains("STARTTLS"),
        "STARTTLS is off by default: {ehlo}"
    );
    // AUTH PLAIN: "\0user\0password", base64.
    client.expect("AUTH PLAIN AG1haWxlcgBzM2NyZXQ=", 235).await;
    let body = "Someone logged in to your account.\r\n.a line starting with a dot\r\nBye";
    let code = client
        .mail(
            "noreply@sessions.test",
            &["alice@example.test"],
            &message(
                "<login-1@sessions.test>",
                "Alice <alice@example.test>",
                "New login to your account",
                body,
            ),
        )
        .await;
    assert_eq!(code, 250);
    client.expect("QUIT", 221).await;

    let mails = sink.wait_for(1, WAIT).await;
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert!(mail.accepted && mail.reply.code == 250);
    assert!(!mail.disconnected_before_reply);
    assert_eq!(mail.recipients(), ["alice@example.test"]);
    assert_eq!(mail.envelope.from.as_deref(), Some("noreply@sessions.test"));
    assert_eq!(mail.auth.as_ref().unwrap().username, "mailer");
    assert_eq!(mail.auth.as_ref().unwrap().method, "PLAIN");
    assert!(!mail.tls);
    assert_eq!(mail.message_id.as_deref(), Some("<login-1@sessions.test>"));
    assert_eq!(mail.header("Message-ID"), Some("<login-1@sessions.test>"));
    assert_eq!(mail.subject.as_deref(), Some("New login to your account"));
    assert_eq!(mail.date.as_deref(), Some("2024-01-02T03:04:05.000Z"));
    let to = &mail.to[0];
    assert_eq!(
        (to.name.as_str(), to.address.as_str()),
        ("Alice", "alice@example.test")
    );
    assert_eq!(mail.from.as_ref().unwrap().address, "noreply@sessions.test");
    // The dot-stuffed line arrives unstuffed, and CRLF becomes "\n" in `text`.
    assert_eq!(
        mail.text.as_deref(),
        Some("Someone logged in to your account.\n.a line starting with a dot\nBye\n")
    );
    assert!(
        mail.raw.ends_with(".a line starting with a dot\r\nBye\r\n"),
        "{}",
        mail.raw
    );
    assert!(mail.html.is_none());
    println!("SMTP session and parse took {:.1?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_first_answers_451_then_accepts_the_retry() {
    let sink = SmtpSink::start(SinkOptions {
        fail_first: 1,
        ..SinkOptions::default()
    })
    .await;
    let text = message(
        "<retry-1@sessions.test>",
        "bob@example.test",
        "Your code",
        "123456",
    );

    let mut client = Client::connect(sink.port()).await;
    client.expect("EHLO client.test", 250).await;
    let first = client
        .mail("noreply@sessions.test", &["bob@example.test"], &text)
        .await;
    assert_eq!(first, 451, "the first DATA is a temporary failure");
    // The same session may retry at once: the failure ends only the transaction.
    let retry = client
        .mail("noreply@sessions.test", &["bob@example.test"], &text)
        .await;
    assert_eq!(retry, 250);
    client.expect("QUIT", 221).await;

    let accepted = sink.wait_for(1, WAIT).await;
    assert_eq!(accepted.len(), 1);
    assert_eq!(
        accepted[0].message_id.as_deref(),
        Some("<retry-1@sessions.test>")
    );
    let attempts = sink.attempts();
    let codes: Vec<u16> = attempts.iter().map(|m| m.reply.code).collect();
    assert_eq!(codes, [451, 250]);
    assert!(!attempts[0].accepted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn goes_down_and_comes_back_on_the_same_port() {
    let mut sink = SmtpSink::start(SinkOptions {
        reject_all: true,
        ..SinkOptions::default()
    })
    .await;
    let port = sink.port();
    let text = message("<down-1@sessions.test>", "carol@example.test", "Hi", "hi");

    let mut client = Client::connect(port).await;
    client.expect("EHLO client.test", 250).await;
    let rejected = client
        .mail("noreply@sessions.test", &["carol@example.test"], &text)
        .await;
    assert_eq!(rejected, 554, "reject_all is a permanent failure");
    drop(client);

    sink.stop();
    assert!(!sink.is_running());
    assert!(
        TcpStream::connect(("127.0.0.1", port)).await.is_err(),
        "a stopped sink refuses connections"
    );

    sink.restart_with(SinkOptions::default()).await;
    assert_eq!(sink.port(), port);
    let mut client = Client::connect(port).await;
    client.expect("EHLO client.test", 250).await;
    let accepted = client
        .mail("noreply@sessions.test", &["carol@example.test"], &text)
        .await;
    assert_eq!(accepted, 250);
    client.expect("QUIT", 221).await;

    let mails = sink.wait_for(1, WAIT).await;
    assert_eq!(mails.len(), 1);
    // What the first run answered is kept across the restart.
    let codes: Vec<u16> = sink.attempts().iter().map(|m| m.reply.code).collect();
    assert_eq!(codes, [554, 250]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delayed_reply_to_a_client_that_hung_up_is_marked() {
    let sink = SmtpSink::start(SinkOptions {
        delay: Duration::from_millis(500),
        ..SinkOptions::default()
    })
    .await;
    let mut client = Client::connect(sink.port()).await;
    client.expect("EHLO client.test", 250).await;
    client
        .expect("MAIL FROM:<noreply@sessions.test>", 250)
        .await;
    client.expect("RCPT TO:<dave@example.test>", 250).await;
    client.expect("DATA", 354).await;
    let data = message(
        "<killed-1@sessions.test>",
        "dave@example.test",
        "Hi",
        "hi\r\n.\r\n",
    );
    client
        .stream
        .get_mut()
        .write_all(data.as_bytes())
        .await
        .unwrap();
    // A worker killed mid-send: the message is on the wire, the reply never read.
    drop(client);

    let mails = sink.wait_for(1, WAIT).await;
    assert_eq!(
        mails[0].message_id.as_deref(),
        Some("<killed-1@sessions.test>")
    );
    assert!(mails[0].disconnected_before_reply);
}
