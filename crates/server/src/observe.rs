//! Per-request span (continuing the caller's W3C trace) and request metrics,
//! for REST and gRPC alike.

use std::{collections::HashSet, sync::Arc, time::Instant};

use axum::{body::Body, extract::State, middleware::Next, response::Response};
use http::Request;
use tracing::{Instrument, field::Empty};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::{is_grpc, telemetry::remote_context};

use sessions_domain::DomainError;
use sessions_grpc::error_table;

/// Paths worth a label of their own; anything else is `unmatched`, so a client
/// cannot blow up the metrics' cardinality with made-up paths.
#[derive(Clone, Default)]
pub(crate) struct KnownPaths(pub(crate) Arc<HashSet<String>>);

pub(crate) async fn observe(
    State(known): State<KnownPaths>,
    request: Request<Body>,
    next: Next,
) -> Response {
    let started = Instant::now();
    let grpc = is_grpc(&request);
    let method = request.method().clone();
    let path = request.uri().path();
    let route = if known.0.contains(path) {
        path.to_owned()
    } else {
        "unmatched".to_owned()
    };
    let protocol = if grpc { "grpc" } else { "rest" };
    let span = tracing::info_span!(
        "request",
        otel.name = %if grpc { route.clone() } else { format!("{method} {route}") },
        otel.kind = "server",
        http.request.method = %method,
        http.route = %route,
        rpc.system = if grpc { "grpc" } else { "" },
        http.response.status_code = Empty,
        rpc.grpc.status_code = Empty,
    );
    let _ = span.set_parent(remote_context(request.headers()));
    let response = next.run(request).instrument(span.clone()).await;

    let http_status = response.status().as_u16();
    span.record("http.response.status_code", http_status);
    // Unary gRPC errors are trailers-only answers, so grpc-status is a header;
    // its absence on a 200 means OK.
    let status = if grpc {
        let code = response
            .headers()
            .get("grpc-status")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("0")
            .to_owned();
        span.record("rpc.grpc.status_code", code.as_str());
        code
    } else {
        http_status.to_string()
    };
    let labels = [
        ("protocol", protocol.to_owned()),
        ("route", route),
        ("status", status),
    ];
    metrics::counter!("sessions_requests_total", &labels).increment(1);
    metrics::histogram!("sessions_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    response
}

/// Bounds the time to a response (for streams: to their first headers). A
/// request past it is answered, never left hanging: 503 with the spec's body
/// for REST, DEADLINE_EXCEEDED for gRPC.
pub(crate) async fn deadline(
    State(limit): State<std::time::Duration>,
    request: Request<Body>,
    next: Next,
) -> Response {
    let grpc = is_grpc(&request);
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(limit_secs = limit.as_secs_f64(), "request timed out");
            if grpc {
                tonic::Status::deadline_exceeded("the request took too long").into_http::<Body>()
            } else {
                let description =
                    error_table::describe(&DomainError::Unavailable("request timeout".to_owned()));
                let mut response = Response::new(Body::from(description.body.to_string()));
                *response.status_mut() = http::StatusCode::SERVICE_UNAVAILABLE;
                let headers = response.headers_mut();
                headers.insert(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static("application/json"),
                );
                headers.insert(
                    http::header::CACHE_CONTROL,
                    http::HeaderValue::from_static("no-store"),
                );
                response
            }
        }
    }
}
