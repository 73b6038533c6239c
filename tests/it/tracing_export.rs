//! The `sessionsd` binary exports spans over OTLP: a request carrying a W3C
//! `traceparent` yields server spans, down to the database, in the caller's
//! trace, and no secret becomes a span attribute. Runs the real binary, since
//! the tracing subscriber is process-wide.

use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::{
    collector::trace::v1::{
        ExportTraceServiceRequest, ExportTraceServiceResponse,
        trace_service_server::{TraceService, TraceServiceServer},
    },
    trace::v1::Span,
};
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Request, Response, Status};

use crate::binary::Sessionsd;

/// An in-process OTLP collector that keeps every span it receives.
#[derive(Clone, Default)]
struct Receiver {
    spans: Arc<Mutex<Vec<Span>>>,
}

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let mut spans = self.spans.lock().unwrap();
        for resource in request.into_inner().resource_spans {
            for scope in resource.scope_spans {
                spans.extend(scope.spans);
            }
        }
        Ok(Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_continue_the_callers_trace_down_to_storage() {
    let receiver = Receiver::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let collector = listener.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(receiver.clone()))
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );

    let server = Sessionsd::serve(&[
        ("RUST_LOG", "trace".to_owned()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{collector}")),
        ("OTEL_SERVICE_NAME", "sessions-under-test".to_owned()),
    ]);

    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let secret = "hunter2-never-in-a-span";
    let response = reqwest::Client::new()
        .post(server.url("/api/v1/login"))
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .json(&serde_json::json!({"user": "nobody", "password": secret, "code": "123456"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);

    // SIGTERM drains and flushes the exporter.
    let (exit, log) = server.terminate().await;
    assert!(exit.success(), "sessionsd exit: {exit:?}");

    let spans = receiver.spans.lock().unwrap().clone();
    let in_trace: Vec<&Span> = spans
        .iter()
        .filter(|s| hex(&s.trace_id) == trace_id)
        .collect();
    let names: Vec<&str> = in_trace.iter().map(|s| s.name.as_str()).collect();
    assert!(names.contains(&"POST /api/v1/login"), "{names:?}");
    assert!(names.contains(&"login"), "{names:?}");
    assert!(names.contains(&"find_user_by_username"), "{names:?}");
    for span in &spans {
        let rendered = format!("{:?}", span.attributes);
        assert!(
            !rendered.contains(secret) && !rendered.contains("123456"),
            "{rendered}"
        );
    }
    assert!(!log.contains(secret), "the password reached a log line");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
