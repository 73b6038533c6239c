//! Connection limits over real sockets: the per-address cap (trusted proxies
//! exempt), the total cap, idle HTTP/2 connections ended with GOAWAY while a
//! streaming call keeps its connection, and impossible limits refused.

use std::time::{Duration, Instant};

use sessions_server::{Config, Server};
use sessions_testkit::{Backend, INTERNAL_TOKEN, TestApp};
use tokio::net::TcpStream;

use crate::wire::{RawH2, closed_within, http1_ok};

const GENEROUS: Duration = Duration::from_secs(20);

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.addr).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_over_the_per_address_cap_is_closed_at_once() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.listener.max_connections_per_address = 4
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(connect(&app).await);
    }
    // Accepted in order, so the fifth finds the four counted.
    let mut fifth = connect(&app).await;
    let closed = closed_within(&mut fifth, GENEROUS).await;
    assert!(closed.is_some(), "the fifth connection stays open");
    eprintln!("fifth connection closed after {closed:?}");
    for stream in &mut held {
        assert!(
            http1_ok(stream).await,
            "a connection within the cap is served"
        );
    }

    // A closed connection gives its share back (once the server has seen it go).
    drop(held.pop());
    let started = Instant::now();
    loop {
        if http1_ok(&mut connect(&app).await).await {
            break;
        }
        assert!(started.elapsed() < GENEROUS, "the share never came back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let metrics = app
        .http
        .get(app.admin_url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"sessions_connections_refused_total{reason="per_address"}"#),
        "{metrics}"
    );
    assert!(metrics.contains("sessions_connections_open"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_proxy_is_not_capped_per_address() {
    // In Kubernetes every client may arrive from the ingress's address.
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.listener.max_connections_per_address = 4;
        c.listener.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await;
    let mut streams = Vec::new();
    for _ in 0..8 {
        streams.push(connect(&app).await);
    }
    for stream in &mut streams {
        assert!(http1_ok(stream).await, "a proxied connection was refused");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_total_cap_a_connection_waits_for_a_free_slot() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.listener.max_connections = 2;
        c.listener.max_connections_per_address = 0;
    })
    .await;
    let first = connect(&app).await;
    let _second = connect(&app).await;
    // The third is in the kernel's backlog, not accepted: no answer yet.
    let mut third = connect(&app).await;
    let third_answer = tokio::spawn(async move { http1_ok(&mut third).await });
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(!third_answer.is_finished(), "answered over the cap");
    drop(first);
    let answered = tokio::time::timeout(GENEROUS, third_answer).await;
    assert!(matches!(answered, Ok(Ok(true))), "{answered:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_http2_connection_gets_goaway() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.listener.idle_connection_timeout_secs = 1
    })
    .await;
    let mut h2 = RawH2::connect(app.addr).await;
    h2.get(1, "/api/v1/no-such-route").await;
    h2.finish(1).await;
    let goaway = h2.goaway_within(GENEROUS, None).await;
    eprintln!("idle HTTP/2 connection: GOAWAY after {goaway:?}");
    let (code, after) = goaway.expect("GOAWAY for an idle connection");
    assert_eq!(code, 0, "GOAWAY with NO_ERROR");
    assert!(
        after >= Duration::from_millis(500),
        "ended before it idled: {after:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streaming_call_keeps_its_http2_connection_past_the_idle_timeout() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.listener.idle_connection_timeout_secs = 1
    })
    .await;
    let mut h2 = RawH2::connect(app.addr).await;
    // WatchSessionEvents { after_cursor: 0 } is the empty message.
    h2.grpc(
        1,
        "/sessions.v1.InternalSessionsService/WatchSessionEvents",
        INTERNAL_TOKEN,
        &[],
    )
    .await;
    // Three idle timeouts with the response still streaming: no GOAWAY, and
    // the stream stays open.
    let early = h2.goaway_within(Duration::from_secs(3), Some(1)).await;
    assert_eq!(early, None, "GOAWAY while a stream was in flight");
    // Once the stream ends, the connection is idle like any other.
    h2.cancel(1).await;
    let goaway = h2.goaway_within(GENEROUS, None).await;
    eprintln!("HTTP/2 connection after its stream ended: GOAWAY after {goaway:?}");
    assert_eq!(goaway.map(|(code, _)| code), Some(0));
}

/// An anonymous stream (health Watch needs no credential and answers its
/// headers at once) must not pin a connection: only the credentialed event
/// watch is long-lived.
#[tokio::test]
async fn an_anonymous_stream_does_not_keep_its_connection_from_idling() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.listener.idle_connection_timeout_secs = 1
    })
    .await;
    let mut h2 = RawH2::connect(app.addr).await;
    // HealthCheckRequest { service: "" } is the empty message.
    h2.grpc(1, "/grpc.health.v1.Health/Watch", "", &[]).await;
    let goaway = h2.goaway_within(GENEROUS, Some(1)).await;
    eprintln!("HTTP/2 connection with an anonymous stream: GOAWAY after {goaway:?}");
    assert_eq!(goaway.map(|(code, _)| code), Some(0));
}

#[tokio::test]
async fn impossible_connection_limits_stop_the_start_naming_the_key() {
    type Change = fn(&mut Config);
    let cases: [(Change, &str); 2] = [
        (
            |c| c.listener.max_connections = 0,
            "listener.max_connections",
        ),
        (
            |c| c.listener.idle_connection_timeout_secs = 0,
            "listener.idle_connection_timeout_secs",
        ),
    ];
    for (change, key) in cases {
        let mut config = Config::default();
        change(&mut config);
        let refused = Server::build(&config).await.err().expect("refused");
        assert!(refused.to_string().contains(key), "{refused:#}");
    }
}
