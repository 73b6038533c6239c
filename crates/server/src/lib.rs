//! The session server as a library: `Server::build` binds the one listener and
//! wires storage, service, gRPC and the REST edge; `run` serves until shutdown.

pub mod cli;
mod client;
pub mod config;
pub mod telemetry;

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use axum::{Router, body::Body, middleware};
use http::{Request, header};
use sessions_domain::{Clock, SystemClock};
use sessions_edge::RestEdge;
use sessions_grpc::{InternalApi, PublicApi, ServiceCredential};
use sessions_proto::{
    FILE_DESCRIPTOR_SET,
    v1::{
        internal_sessions_service_server::InternalSessionsServiceServer,
        sessions_service_server::SessionsServiceServer,
    },
};
use sessions_service::{IdGenerator, RandomIds, SessionService};
use sessions_store::{Store, StoreOptions};
use tokio::net::TcpListener;
use tower::ServiceExt;

pub use client::TrustedProxies;
pub use config::Config;

/// Opens the store the configuration names and applies migrations when asked.
pub async fn open_store(config: &Config, migrate: bool) -> anyhow::Result<Store> {
    let mut options = StoreOptions::new(config.database_url.clone());
    options.max_connections = config.database_max_connections.max(1);
    options.acquire_timeout = Duration::from_millis(config.database_timeout_ms);
    options.connect_timeout = Duration::from_millis(config.database_timeout_ms);
    let store = Store::connect(&options)
        .await
        .context("cannot open the database")?;
    if migrate {
        store.migrate().await.context("migrations failed")?;
    }
    let pending = store
        .pending_migrations()
        .await
        .context("cannot read migrations")?;
    if !pending.is_empty() {
        anyhow::bail!(
            "the database has {} pending migration(s); run `sessionsd migrate` first",
            pending.len()
        );
    }
    Ok(store)
}

/// The service over a store, with the configured tunables.
pub fn build_service(
    config: &Config,
    store: Store,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
) -> SessionService {
    SessionService::new(Arc::new(store), clock, ids, config.service_config())
}

/// A bound, wired server that has not started serving yet.
pub struct Server {
    listener: TcpListener,
    app: Router,
    service: SessionService,
    event_retention: Duration,
}

impl Server {
    /// Binds `config.listen` (port 0 picks a free port) with the wall clock.
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    /// As [`Server::build`], with the clock every expiry and TOTP check reads.
    pub async fn build_with_clock(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        // Compiling the user-agent regexes takes a moment; do it before serving.
        let warm_up = tokio::task::spawn_blocking(sessions_service::device::warm_up);
        let store = open_store(config, config.migrates_on_start()).await?;
        let service = build_service(config, store, clock, Arc::new(RandomIds));
        let trusted = TrustedProxies::parse(&config.trusted_proxies).map_err(anyhow::Error::msg)?;

        let grpc_routes = tonic::service::Routes::new(SessionsServiceServer::new(PublicApi::new(
            service.clone(),
        )))
        .add_service(InternalSessionsServiceServer::with_interceptor(
            InternalApi::new(service.clone(), config.watch_settings()),
            ServiceCredential::new(config.internal_api_token.clone()),
        ));
        let rest = RestEdge::new(
            FILE_DESCRIPTOR_SET,
            grpc_routes.clone(),
            config.max_body_bytes,
        )
        .context("cannot build REST routes from the proto annotations")?
        .into_router();
        let grpc = grpc_routes
            .into_axum_router()
            .layer(tonic_web::GrpcWebLayer::new());
        let app = Router::new()
            .fallback_service(tower::service_fn(move |request: Request<Body>| {
                let target = if is_grpc(&request) {
                    grpc.clone()
                } else {
                    rest.clone()
                };
                target.oneshot(request)
            }))
            .layer(middleware::from_fn_with_state(
                trusted,
                client::attach_client_info,
            ));

        let listener = TcpListener::bind(&config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        warm_up.await.context("user-agent parser warm-up")?;
        Ok(Self {
            listener,
            app,
            service,
            event_retention: Duration::from_secs(config.event_retention_secs),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    pub fn service(&self) -> &SessionService {
        &self.service
    }

    /// Serves until `shutdown` resolves, then finishes in-flight requests.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let pruner = tokio::spawn(prune_events_forever(
            self.service.clone(),
            self.event_retention,
        ));
        tracing::info!(address = %self.local_addr(), "serving REST, gRPC and gRPC-web");
        let served = axum::serve(
            self.listener,
            self.app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await;
        pruner.abort();
        served.context("server failed")
    }
}

/// gRPC and gRPC-web are told apart from REST by their content type.
fn is_grpc(request: &Request<Body>) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/grpc"))
}

async fn prune_events_forever(service: SessionService, retention: Duration) {
    let mut every_hour = tokio::time::interval(Duration::from_secs(3600));
    loop {
        every_hour.tick().await;
        match service.prune_events(retention).await {
            Ok(0) => {}
            Ok(pruned) => tracing::info!(pruned, "old session events pruned"),
            Err(err) => tracing::warn!(error = %err, "pruning session events failed"),
        }
    }
}
