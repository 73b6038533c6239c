//! Logging and tracing: structured logs on stderr (stdout belongs to CLI
//! output), JSON unless a person watches a terminal; OpenTelemetry spans over
//! OTLP/gRPC when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, off otherwise.

use std::io::IsTerminal;

use opentelemetry::{KeyValue, trace::TracerProvider as _};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::{Resource, propagation::TraceContextPropagator, trace::SdkTracerProvider};
use tracing_subscriber::{EnvFilter, Layer, filter::Targets, fmt, prelude::*};

use crate::LogFormat;

/// Flushes and stops span export when dropped.
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(err) = provider.shutdown()
        {
            eprintln!("sessionsd: flushing spans failed: {err}");
        }
    }
}

/// Installs the global subscriber. `RUST_LOG` picks log levels (default
/// `info`); the span exporter has its own filter so `RUST_LOG` cannot switch
/// tracing off by accident.
pub fn init(log_format: LogFormat) -> TelemetryGuard {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = match log_format {
        LogFormat::Json => true,
        LogFormat::Text => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    let logs = if json {
        fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .with_filter(filter)
            .boxed()
    } else {
        fmt::layer()
            .with_writer(std::io::stderr)
            .with_filter(filter)
            .boxed()
    };
    let (spans, provider) = match otlp_provider() {
        Some(provider) => {
            let tracer = provider.tracer("sessionsd");
            let layer = tracing_opentelemetry::layer()
                .with_tracer(tracer)
                .with_filter(span_targets())
                .boxed();
            (Some(layer), Some(provider))
        }
        None => (None, None),
    };
    // A second init (tests) keeps the first subscriber.
    let _ = tracing_subscriber::registry()
        .with(logs)
        .with(spans)
        .try_init();
    TelemetryGuard { provider }
}

/// Our crates at debug (request, RPC and database spans); dependencies at warn.
fn span_targets() -> Targets {
    Targets::new()
        .with_default(tracing::Level::WARN)
        .with_target("sessions_server", tracing::Level::DEBUG)
        .with_target("sessions_edge", tracing::Level::DEBUG)
        .with_target("sessions_grpc", tracing::Level::DEBUG)
        .with_target("sessions_service", tracing::Level::DEBUG)
        .with_target("sessions_store", tracing::Level::DEBUG)
}

fn otlp_provider() -> Option<SdkTracerProvider> {
    let endpoint = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT")
        .ok()
        .filter(|e| !e.is_empty())?;
    let service_name =
        std::env::var("OTEL_SERVICE_NAME").unwrap_or_else(|_| "sessionsd".to_owned());
    let exporter = match opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .build()
    {
        Ok(exporter) => exporter,
        Err(err) => {
            eprintln!("sessionsd: OTLP exporter not started: {err}");
            return None;
        }
    };
    let resource = Resource::builder()
        .with_service_name(service_name)
        .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
        .build();
    Some(
        SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource)
            .build(),
    )
}

/// Reads W3C trace context from request headers (REST and gRPC alike).
struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl opentelemetry::propagation::Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// The caller's trace context, from `traceparent`/`tracestate`.
pub(crate) fn remote_context(headers: &http::HeaderMap) -> opentelemetry::Context {
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&HeaderExtractor(headers))
    })
}
