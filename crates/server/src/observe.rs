//! Per-request span (continuing the caller's W3C trace) and request metrics,
//! for REST and gRPC alike.

use std::{collections::HashSet, sync::Arc, time::Instant};

use axum::{body::Body, extract::State, middleware::Next, response::Response};
use http::Request;
use metrics::SharedString;
use tracing::{Instrument, field::Empty};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::{is_grpc, telemetry::remote_context};

use sessions_domain::DomainError;
use sessions_grpc::error_table;

/// Paths worth a label of their own; anything else is `unmatched`, so a client
/// cannot blow up the metrics' cardinality with made-up paths. Shared strings,
/// so labelling a request allocates nothing.
#[derive(Clone, Default)]
pub(crate) struct KnownPaths(pub(crate) Arc<HashSet<Arc<str>>>);

/// gRPC status codes as label values, without formatting one per request.
const GRPC_CODES: [&str; 17] = [
    "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15", "16",
];

fn grpc_code_label(code: &str) -> SharedString {
    match GRPC_CODES.iter().find(|known| **known == code) {
        Some(known) => SharedString::const_str(known),
        None => SharedString::from(code.to_owned()),
    }
}

/// The statuses this service answers, as label values without formatting.
fn http_status_label(status: http::StatusCode) -> SharedString {
    const KNOWN: [(u16, &str); 14] = [
        (200, "200"),
        (204, "204"),
        (400, "400"),
        (401, "401"),
        (403, "403"),
        (404, "404"),
        (405, "405"),
        (408, "408"),
        (413, "413"),
        (429, "429"),
        (431, "431"),
        (500, "500"),
        (503, "503"),
        (504, "504"),
    ];
    match KNOWN.iter().find(|(code, _)| *code == status.as_u16()) {
        Some((_, label)) => SharedString::const_str(label),
        None => SharedString::from(status.as_u16().to_string()),
    }
}

pub(crate) async fn observe(
    State(known): State<KnownPaths>,
    request: Request<Body>,
    next: Next,
) -> Response {
    let started = Instant::now();
    let grpc = is_grpc(&request);
    let method = request.method().clone();
    let route: SharedString = match known.0.get(request.uri().path()) {
        Some(path) => SharedString::from(path.clone()),
        // The console's files share one label: a made-up path under it must
        // not become a label of its own.
        None if request
            .uri()
            .path()
            .starts_with(sessions_edge::CONSOLE_PATH) =>
        {
            SharedString::const_str(sessions_edge::CONSOLE_PATH)
        }
        None => SharedString::const_str("unmatched"),
    };
    let protocol = if grpc { "grpc" } else { "rest" };
    // Debug level: exported to OpenTelemetry (its own filter), but never
    // formatted by the log layer, which cost a JSON rendering per request
    // (and a re-parse per recorded field) on the token check's hot path.
    let span = tracing::debug_span!(
        "request",
        otel.name = %if grpc { route.to_string() } else { format!("{method} {route}") },
        otel.kind = "server",
        http.request.method = %method,
        http.route = %route,
        rpc.system = if grpc { "grpc" } else { "" },
        http.response.status_code = Empty,
        rpc.grpc.status_code = Empty,
    );
    if !span.is_disabled() {
        let _ = span.set_parent(remote_context(request.headers()));
    }
    let response = next.run(request).instrument(span.clone()).await;

    let http_status = response.status();
    span.record("http.response.status_code", http_status.as_u16());
    // Unary gRPC errors are trailers-only answers, so grpc-status is a header;
    // its absence on a 200 means OK.
    let status = if grpc {
        let code = response
            .headers()
            .get("grpc-status")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("0");
        span.record("rpc.grpc.status_code", code);
        grpc_code_label(code)
    } else {
        http_status_label(http_status)
    };
    // The request span is not in the logs (see above); a failed request still
    // names its route beside the cause logged where the error arose.
    let failed = if grpc {
        matches!(status.as_ref(), "2" | "4" | "13" | "14")
    } else {
        http_status.is_server_error()
    };
    if failed {
        tracing::warn!(
            protocol,
            method = %method,
            route = %route,
            status = %status.as_ref(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "request failed"
        );
    }
    let labels = [
        ("protocol", SharedString::const_str(protocol)),
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
