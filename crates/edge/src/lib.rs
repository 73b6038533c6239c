//! The REST edge: answers Rocket.Chat's documented endpoints by transcoding each
//! request onto the gRPC service in-process, so REST and gRPC share every rule,
//! interceptor and error rendering.

mod body_shapes;
mod codec;
mod console;
mod decode;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod openapi;
mod routes;

use std::sync::Arc;

use axum::{
    body::{Body, Bytes, to_bytes},
    extract::State,
    response::{IntoResponse, Response},
};
use http::{HeaderMap, HeaderName, HeaderValue, Request, StatusCode, header, uri::PathAndQuery};
use sessions_domain::DomainError;
use sessions_grpc::error_table::{self, EdgeError};
use sessions_service::{ClientInfo, endpoints};
use tonic::{metadata::MetadataValue, service::Routes};

pub use console::CONSOLE_PATH;
pub use openapi::{OPENAPI_PATH, openapi_document};
pub use routes::{Route, RouteError, routes_from_descriptors};

use crate::codec::DynamicCodec;

/// Headers that carry the caller's identity and trace context into metadata.
const FORWARDED_HEADERS: &[&str] = &[
    "x-user-id",
    "x-auth-token",
    "x-2fa-code",
    "x-2fa-method",
    "traceparent",
    "tracestate",
];

/// The REST edge over a set of gRPC routes.
#[derive(Clone)]
pub struct RestEdge {
    inner: Arc<Inner>,
}

struct Inner {
    routes: Vec<Route>,
    grpc: Routes,
    max_body_bytes: usize,
    /// The OpenAPI document, rendered once: it depends on the descriptors only.
    openapi: Bytes,
    /// Serve the device console under [`CONSOLE_PATH`].
    console: bool,
}

impl RestEdge {
    /// Routes come from the annotations in `descriptor_set`; requests are served
    /// by `grpc`, the same routes the gRPC listener serves. Without `console`,
    /// `/console/` answers 404 like any unknown path.
    pub fn new(
        descriptor_set: &[u8],
        grpc: Routes,
        max_body_bytes: usize,
        console: bool,
    ) -> Result<Self, RouteError> {
        Ok(Self {
            inner: Arc::new(Inner {
                routes: routes_from_descriptors(descriptor_set)?,
                grpc,
                max_body_bytes,
                openapi: openapi_document(descriptor_set)?.to_string().into(),
                console,
            }),
        })
    }

    pub fn routes(&self) -> &[Route] {
        &self.inner.routes
    }

    /// An axum router answering every path: the annotated routes, else 404/405.
    pub fn into_router(self) -> axum::Router {
        axum::Router::new().fallback(handle).with_state(self)
    }
}

async fn handle(State(edge): State<RestEdge>, request: Request<Body>) -> Response {
    // HEAD is GET without the body (RFC 9110), as Rocket.Chat's router answers
    // it: axum drops the body after setting Content-Length from it.
    let method = if request.method() == http::Method::HEAD {
        http::Method::GET
    } else {
        request.method().clone()
    };
    // Before route matching, which knows only the annotated paths.
    if request.uri().path() == OPENAPI_PATH {
        return if method == http::Method::GET {
            json_bytes_response(StatusCode::OK, edge.inner.openapi.clone(), &[])
        } else {
            method_not_allowed("GET, HEAD")
        };
    }
    if edge.inner.console && console::owns(request.uri().path()) {
        let answer = if method == http::Method::GET {
            console::respond(request.uri().path(), request.headers())
                .unwrap_or_else(|| edge_error_response(EdgeError::RouteNotFound))
        } else {
            method_not_allowed("GET, HEAD")
        };
        return console::with_security_headers(answer);
    }
    match edge.route_for(&method, request.uri().path()) {
        Ok(route) => edge.transcode(route, request).await,
        Err(RouteMiss::UnknownPath) => edge_error_response(EdgeError::RouteNotFound),
        Err(RouteMiss::OtherMethods(allow)) => method_not_allowed(&allow),
    }
}

fn method_not_allowed(allow: &str) -> Response {
    let mut response = edge_error_response(EdgeError::MethodNotAllowed);
    if let Ok(value) = HeaderValue::from_str(allow) {
        response.headers_mut().insert(header::ALLOW, value);
    }
    response
}

/// Why no route matched.
enum RouteMiss {
    UnknownPath,
    /// The path exists with these methods (the `Allow` header).
    OtherMethods(String),
}

impl RestEdge {
    fn route_for(&self, method: &http::Method, path: &str) -> Result<Route, RouteMiss> {
        let same_path: Vec<&Route> = self
            .inner
            .routes
            .iter()
            .filter(|r| r.path == path)
            .collect();
        if same_path.is_empty() {
            return Err(RouteMiss::UnknownPath);
        }
        match same_path.iter().find(|r| r.method == method) {
            Some(route) => Ok((*route).clone()),
            None => Err(RouteMiss::OtherMethods(
                same_path
                    .iter()
                    .flat_map(|r| match r.method {
                        http::Method::GET => vec!["GET", "HEAD"],
                        ref other => vec![other.as_str()],
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
            )),
        }
    }
}

impl RestEdge {
    // Debug level, as the request span around it (which names the route):
    // at info the log layer would format this span's fields on every request.
    #[tracing::instrument(level = "debug", skip_all, fields(route = %route.path))]
    async fn transcode(&self, route: Route, request: Request<Body>) -> Response {
        let (parts, body) = request.into_parts();
        let decoded = if route.body.is_empty() {
            decode::from_query(&route.input, parts.uri.query().unwrap_or_default())
        } else {
            let Ok(bytes) = to_bytes(body, self.inner.max_body_bytes).await else {
                return edge_error_response(EdgeError::PayloadTooLarge);
            };
            let null_is_absent = endpoints::by_grpc_path(&route.grpc_path)
                .is_some_and(|endpoint| endpoint.null_is_absent);
            let reshape = body_shapes::reshape_for(&route.grpc_path);
            decode::from_json_body(&route.input, &bytes, null_is_absent, reshape)
        };

        let mut grpc_request = tonic::Request::new(decoded.message);
        forward_headers(&parts.headers, grpc_request.metadata_mut());
        let client = parts
            .extensions
            .get::<ClientInfo>()
            .cloned()
            .unwrap_or_default();
        grpc_request.extensions_mut().insert(client);
        grpc_request.extensions_mut().insert(decoded.report);

        let Ok(path) = PathAndQuery::try_from(route.grpc_path.as_str()) else {
            return error_response(&DomainError::Internal(format!(
                "bad grpc path {}",
                route.grpc_path
            )));
        };
        let mut client = tonic::client::Grpc::new(self.inner.grpc.clone());
        if let Err(err) = client.ready().await {
            return error_response(&DomainError::Internal(format!("grpc not ready: {err}")));
        }
        let answer = client
            .unary(grpc_request, path, DynamicCodec::new(route.output.clone()))
            .await;
        match answer {
            // The codec wrote the JSON body while decoding the answer.
            Ok(response) => {
                let headers = answer_headers(response.metadata());
                json_bytes_response(StatusCode::OK, response.into_inner().into(), &headers)
            }
            Err(status) => {
                let (code, body, headers) = error_table::rest_from_status(&status);
                json_response(
                    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                    &body,
                    &headers,
                )
            }
        }
    }
}

/// Answer metadata that REST clients read as headers: the route's
/// rate-limit window (Rocket.Chat sends `X-RateLimit-*` on every answer).
fn answer_headers(metadata: &tonic::metadata::MetadataMap) -> Vec<(String, String)> {
    [
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
    ]
    .into_iter()
    .filter_map(|name| {
        let value = metadata.get(name)?.to_str().ok()?;
        Some((name.to_owned(), value.to_owned()))
    })
    .collect()
}

fn forward_headers(headers: &HeaderMap, metadata: &mut tonic::metadata::MetadataMap) {
    for name in FORWARDED_HEADERS {
        let Some(value) = headers.get(*name).and_then(|v| v.to_str().ok()) else {
            continue;
        };
        if let Ok(value) = MetadataValue::try_from(value) {
            metadata.insert(*name, value);
        }
    }
}

/// A domain error the edge itself hit, rendered by the shared table.
fn error_response(err: &DomainError) -> Response {
    if let DomainError::Internal(cause) = err {
        tracing::error!(error = %cause, "rest edge failure");
    }
    described_response(error_table::describe(err))
}

/// A transport answer of the edge's own, rendered by the shared table.
fn edge_error_response(err: EdgeError) -> Response {
    described_response(error_table::describe_edge(err))
}

fn described_response(description: error_table::ErrorDescription) -> Response {
    json_response(
        StatusCode::from_u16(description.http_status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        &description.body,
        &description.headers,
    )
}

fn json_response(
    status: StatusCode,
    body: &serde_json::Value,
    headers: &[(String, String)],
) -> Response {
    json_bytes_response(status, body.to_string().into(), headers)
}

fn json_bytes_response(status: StatusCode, body: Bytes, headers: &[(String, String)]) -> Response {
    let mut response = (status, body).into_response();
    let response_headers = response.headers_mut();
    response_headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response_headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::try_from(name.as_str()),
            HeaderValue::from_str(value),
        ) {
            response_headers.insert(name, value);
        }
    }
    response
}
