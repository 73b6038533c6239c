//! Descriptors, against the real `sessionsd` process (an in-process server
//! would share the test's descriptor table): a connection that never sends a
//! request is closed within the header read timeout of accept, and more silent
//! sockets than the process has descriptors neither stop the service nor
//! flood its log.

use std::time::{Duration, Instant};

use tokio::{io::AsyncWriteExt, net::TcpStream};

use crate::{
    binary::Sessionsd,
    wire::{PREFACE, SETTINGS, closed_within},
};

const GENEROUS: Duration = Duration::from_secs(30);

/// How many log lines carry exactly `message`.
fn count_messages(log: &str, message: &str) -> usize {
    log.lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|entry| entry["fields"]["message"] == message)
        .count()
}

async fn openapi_status(server: &Sessionsd) -> u16 {
    let response = tokio::time::timeout(GENEROUS, reqwest::get(server.url("/api/v1/openapi.json")))
        .await
        .expect("answered in time")
        .unwrap();
    response.status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_that_send_no_request_are_closed_after_the_header_timeout() {
    let server = Sessionsd::serve(&[("SESSIONS_HEADER_READ_TIMEOUT_SECS", "1".into())]);
    let preface_and_settings = [PREFACE, SETTINGS].concat();
    let openers: [(&str, &[u8]); 4] = [
        ("silent", b""),
        ("HTTP/2 preface only", PREFACE),
        ("HTTP/2 preface and SETTINGS", &preface_and_settings),
        ("unfinished HTTP/1 head", b"GET / HTTP/1.1\r\nHost: x\r\n"),
    ];
    let mut waits = Vec::new();
    for (name, bytes) in openers {
        let mut stream = TcpStream::connect(&server.address).await.unwrap();
        stream.write_all(bytes).await.unwrap();
        waits.push(tokio::spawn(async move {
            (name, closed_within(&mut stream, GENEROUS).await)
        }));
    }
    for wait in waits {
        let (name, closed) = wait.await.unwrap();
        eprintln!("{name}: closed by the server after {closed:?}");
        let closed = closed.unwrap_or_else(|| panic!("{name}: still open after {GENEROUS:?}"));
        assert!(closed >= Duration::from_millis(500), "{name}: closed early");
    }
    // Real requests are not affected.
    assert_eq!(openapi_status(&server).await, 200);
    let (status, _) = server.terminate().await;
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_silent_sockets_than_descriptors_do_not_stop_the_service() {
    const OPEN_FILES: u32 = 128;
    // Over the descriptors, yet within the listen backlog (128), so every
    // connect completes whether or not sessionsd can accept.
    const SILENT: usize = 200;
    let server = Sessionsd::serve_with_open_files(
        &[
            ("SESSIONS_HEADER_READ_TIMEOUT_SECS", "1".into()),
            // Few database descriptors, so most of the 128 go to sockets.
            ("SESSIONS_DATABASE_MAX_CONNECTIONS", "2".into()),
        ],
        OPEN_FILES,
    );
    let mut silent = Vec::with_capacity(SILENT);
    for _ in 0..SILENT {
        silent.push(TcpStream::connect(&server.address).await.unwrap());
    }
    let started = Instant::now();
    assert_eq!(openapi_status(&server).await, 200);
    let answered = started.elapsed();
    let mut closing = Vec::new();
    for mut stream in silent {
        closing.push(tokio::spawn(async move {
            closed_within(&mut stream, GENEROUS).await.is_some()
        }));
    }
    for closed in closing {
        assert!(closed.await.unwrap(), "a silent socket stayed open");
    }
    let all_closed = started.elapsed();
    // Still serving once descriptors are free again.
    assert_eq!(openapi_status(&server).await, 200);

    let (status, log) = server.terminate().await;
    assert!(status.success());
    let failures = count_messages(&log, "accept failed");
    let recoveries = count_messages(&log, "accepting connections again");
    eprintln!(
        "{SILENT} silent sockets, {OPEN_FILES} descriptors: request answered after \
         {answered:?}, all silent sockets closed after {all_closed:?}, \
         {failures} \"accept failed\" and {recoveries} \"accepting connections again\" lines"
    );
    assert!(
        failures >= 1,
        "descriptors never ran out, nothing was tested:\n{log}"
    );
    assert!(failures <= 4, "accept failures flood the log:\n{log}");
    assert!(recoveries >= 1, "{log}");
    assert_eq!(
        count_messages(
            &log,
            "max_connections is not below the open-file limit; accept will fail before the cap applies"
        ),
        1,
        "{log}"
    );
}
