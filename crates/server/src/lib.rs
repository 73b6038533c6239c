//! The session server as a library: `Server::build` binds the one listener and
//! wires storage, service, gRPC and the REST edge; `run` serves until shutdown.

mod admin;
pub mod cli;
mod client;
pub mod config;
mod listener;
pub mod mailer;
mod observe;
pub mod process;
mod reflection;
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
use tokio::{net::TcpListener, sync::watch};
use tower::ServiceExt;

pub use client::TrustedProxies;
pub use config::{Config, ConfigError, LogFormat};

/// Opens the store the configuration names and applies migrations when asked.
pub async fn open_store(config: &Config, migrate: bool) -> anyhow::Result<Store> {
    let database = &config.database;
    let mut options = StoreOptions::new(database.url.clone());
    options.max_connections = database.max_connections;
    options.acquire_timeout = Duration::from_millis(database.timeout_ms);
    options.connect_timeout = Duration::from_millis(database.timeout_ms);
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
) -> anyhow::Result<SessionService> {
    let service_config = config.service_config().map_err(anyhow::Error::msg)?;
    if !service_config.sealer.is_keyed() {
        tracing::warn!("TOTP secrets are stored unsealed; set SESSIONS_TOTP_ENCRYPTION_KEY");
    }
    Ok(SessionService::new(
        Arc::new(store),
        clock,
        ids,
        service_config,
    ))
}

/// A bound, wired server that has not started serving yet.
pub struct Server {
    listener: TcpListener,
    admin_listener: TcpListener,
    app: Router,
    admin: Router,
    service: SessionService,
    store: Store,
    health: tonic_health::server::HealthReporter,
    draining: watch::Sender<bool>,
    limits: listener::ConnectionLimits,
    event_retention: Duration,
    grace: Duration,
    /// The outbox worker; `None` while no SMTP server is configured.
    mailer: Option<mailer::Mailer>,
    /// How long shutdown waits for a send in flight.
    mail_drain: Duration,
}

impl Server {
    /// Binds `listener.listen` and `listener.admin_listen` (port 0 picks a
    /// free port) with the wall clock.
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    /// As [`Server::build`], with the clock every expiry and TOTP check reads.
    pub async fn build_with_clock(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        config.validate()?;
        let settings = &config.listener;
        // Compiling the user-agent regexes takes a moment; do it before serving.
        let warm_up = tokio::task::spawn_blocking(sessions_service::device::warm_up);
        let mut store = open_store(config, config.migrates_on_start()).await?;
        if let Some(settings) = config.token_cache.settings() {
            store = store.with_token_cache(settings);
        }
        let service = build_service(config, store.clone(), clock, Arc::new(RandomIds))?;
        let trusted =
            TrustedProxies::parse(&settings.trusted_proxies).map_err(anyhow::Error::msg)?;
        let (draining, draining_rx) = watch::channel(false);

        let (health, health_service) = tonic_health::server::health_reporter();
        health
            .set_serving::<SessionsServiceServer<PublicApi>>()
            .await;
        health
            .set_serving::<InternalSessionsServiceServer<InternalApi>>()
            .await;
        // tonic would take 4 MB messages: the REST body limit bounds gRPC too.
        let message_limit = settings.max_body_bytes;
        let public = SessionsServiceServer::new(PublicApi::new(service.clone()))
            .max_decoding_message_size(message_limit);
        let internal = InternalSessionsServiceServer::new(InternalApi::new(
            service.clone(),
            config.watch_settings(),
            draining_rx,
        ))
        .max_decoding_message_size(message_limit);
        let credential = ServiceCredential::new(config.internal_api.token.clone());
        let grpc_routes = reflection::add_services(
            tonic::service::Routes::new(public)
                .add_service(tonic::service::interceptor::InterceptedService::new(
                    internal,
                    credential.clone(),
                ))
                .add_service(health_service.max_decoding_message_size(message_limit)),
            &credential,
            message_limit,
        )?;
        let edge = RestEdge::new(
            FILE_DESCRIPTOR_SET,
            grpc_routes.clone(),
            settings.max_body_bytes,
            settings.console,
        )
        .context("cannot build REST routes from the proto annotations")?;
        let known = known_paths(&edge)?;
        let rest = edge.into_router();
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
                Duration::from_secs(settings.request_timeout_secs),
                observe::deadline,
            ))
            .layer(middleware::from_fn_with_state(known, observe::observe))
            .layer(middleware::from_fn_with_state(
                trusted.clone(),
                client::attach_client_info,
            ))
            .layer(cors(&settings.cors_allowed_origins)?);

        let listener = listener::bind(settings.listen)
            .with_context(|| format!("cannot listen on {}", settings.listen))?;
        let admin_listener = bind_admin(settings.admin_listen).await?;
        warm_up.await.context("user-agent parser warm-up")?;
        let mailer = mailer::Mailer::new(&config.mail, Arc::new(store.clone()))?;
        Ok(Self {
            mailer,
            mail_drain: Duration::from_secs(config.mail.send_timeout_secs + 1),
            listener,
            admin_listener,
            app,
            admin: admin::router(store.clone()),
            service,
            store,
            health,
            draining,
            limits: listener::ConnectionLimits {
                header_read_timeout: Duration::from_secs(settings.header_read_timeout_secs),
                max_header_bytes: settings.max_header_bytes,
                http2_keep_alive: Duration::from_secs(settings.http2_keep_alive_secs),
                http2_max_streams: settings.http2_max_streams,
                idle_timeout: Duration::from_secs(settings.idle_connection_timeout_secs),
                max_connections: settings.max_connections,
                max_connections_per_address: settings.max_connections_per_address,
                trusted_proxies: trusted,
            },
            event_retention: Duration::from_secs(config.events.retention_secs),
            grace: Duration::from_secs(settings.shutdown_grace_secs),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    pub fn admin_addr(&self) -> SocketAddr {
        self.admin_listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// Serves until `shutdown` resolves, then drains: health turns NOT_SERVING,
    /// event streams end, new connections are refused and in-flight requests get
    /// the grace period to finish.
    pub async fn run(
        mut self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let background = vec![
            tokio::spawn(prune_ended_records_forever(
                self.service.clone(),
                self.store.clone(),
                self.event_retention,
            )),
            tokio::spawn(admin::sample_gauges_forever(
                self.service.clone(),
                self.store.clone(),
            )),
            tokio::spawn({
                let store = self.store.clone();
                async move { store.follow_token_changes().await }
            }),
        ];
        let mailer = self
            .mailer
            .take()
            .map(|mailer| tokio::spawn(mailer.run_until_drained(self.draining.subscribe())));
        tracing::info!(
            address = %self.local_addr(),
            admin_address = %self.admin_addr(),
            "serving REST, gRPC and gRPC-web"
        );
        let stopping = self.draining.subscribe();
        let drain_signal = |mut rx: watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|draining| *draining).await;
        };
        let mut main = tokio::spawn(listener::serve(
            self.listener,
            self.app,
            self.limits,
            stopping.clone(),
        ));
        let admin = tokio::spawn(
            axum::serve(self.admin_listener, self.admin)
                .with_graceful_shutdown(drain_signal(stopping))
                .into_future(),
        );

        let outcome = tokio::select! {
            () = shutdown => None,
            finished = &mut main => Some(finished),
        };
        let result = match outcome {
            Some(finished) => finished.context("server task"),
            None => {
                tracing::info!(grace_secs = self.grace.as_secs(), "draining");
                self.health
                    .set_not_serving::<SessionsServiceServer<PublicApi>>()
                    .await;
                self.health
                    .set_not_serving::<InternalSessionsServiceServer<InternalApi>>()
                    .await;
                let _ = self.draining.send(true);
                match tokio::time::timeout(self.grace, &mut main).await {
                    Ok(finished) => finished.context("server task"),
                    Err(_) => {
                        tracing::warn!("grace period over; closing the remaining connections");
                        main.abort();
                        Ok(())
                    }
                }
            }
        };
        admin.abort();
        for task in background {
            task.abort();
        }
        if let Some(mut mailer) = mailer {
            // Draining stopped its claims; a send in flight finishes within
            // its timeout. Only a worker still stuck past it is cut.
            let _ = self.draining.send(true);
            if tokio::time::timeout(self.mail_drain, &mut mailer)
                .await
                .is_err()
            {
                mailer.abort();
            }
        }
        tracing::info!("stopped");
        result
    }
}

/// The admin listener's socket; see [`config::ListenerSettings::admin_listen`].
async fn bind_admin(configured: Option<SocketAddr>) -> anyhow::Result<TcpListener> {
    const DEFAULT: &str = "127.0.0.1:9090";
    match configured {
        Some(address) => TcpListener::bind(address)
            .await
            .with_context(|| format!("cannot listen on {address}")),
        None => match TcpListener::bind(DEFAULT).await {
            Ok(listener) => Ok(listener),
            Err(err) => {
                tracing::warn!(error = %err, "{DEFAULT} is taken; the admin listener takes a free port");
                TcpListener::bind("127.0.0.1:0")
                    .await
                    .context("cannot open the admin listener")
            }
        },
    }
}

/// CORS for browsers calling REST and gRPC-web from another origin; the
/// identity headers and gRPC-web's trailers must be allowed through.
fn cors(origins: &[String]) -> anyhow::Result<tower_http::cors::CorsLayer> {
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let layer = CorsLayer::new()
        .allow_methods([http::Method::GET, http::Method::POST, http::Method::OPTIONS])
        .allow_headers([
            header::CONTENT_TYPE,
            header::HeaderName::from_static("x-user-id"),
            header::HeaderName::from_static("x-auth-token"),
            header::HeaderName::from_static("x-2fa-code"),
            header::HeaderName::from_static("x-2fa-method"),
            header::HeaderName::from_static("x-grpc-web"),
            header::HeaderName::from_static("x-user-agent"),
            header::HeaderName::from_static("grpc-timeout"),
            header::HeaderName::from_static("traceparent"),
        ])
        .expose_headers([
            header::HeaderName::from_static("grpc-status"),
            header::HeaderName::from_static("grpc-message"),
            header::HeaderName::from_static("x-ratelimit-limit"),
            header::HeaderName::from_static("x-ratelimit-remaining"),
            header::HeaderName::from_static("x-ratelimit-reset"),
        ]);
    Ok(match origins {
        [] => layer,
        [any] if any == "*" => layer.allow_origin(AllowOrigin::any()),
        list => {
            let parsed = list
                .iter()
                .map(|origin| {
                    http::HeaderValue::from_str(origin)
                        .with_context(|| format!("bad CORS origin {origin}"))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            layer.allow_origin(parsed)
        }
    })
}

/// Route labels for metrics: the REST routes and every gRPC method served.
fn known_paths(edge: &RestEdge) -> anyhow::Result<observe::KnownPaths> {
    let mut paths: std::collections::HashSet<Arc<str>> = edge
        .routes()
        .iter()
        .map(|route| Arc::from(route.path.as_str()))
        .collect();
    paths.insert(Arc::from(sessions_edge::OPENAPI_PATH));
    for descriptor_set in [FILE_DESCRIPTOR_SET, tonic_health::pb::FILE_DESCRIPTOR_SET] {
        let pool =
            prost_reflect::DescriptorPool::decode(descriptor_set).context("descriptor set")?;
        for service in pool.services() {
            for method in service.methods() {
                paths.insert(Arc::from(format!(
                    "/{}/{}",
                    service.full_name(),
                    method.name()
                )));
            }
        }
    }
    Ok(observe::KnownPaths(Arc::new(paths)))
}

/// gRPC and gRPC-web are told apart from REST by their content type.
pub(crate) fn is_grpc(request: &Request<Body>) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/grpc"))
}

async fn prune_ended_records_forever(service: SessionService, store: Store, retention: Duration) {
    let mut every_hour = tokio::time::interval(Duration::from_secs(3600));
    loop {
        every_hour.tick().await;
        match service.prune_events(retention).await {
            Ok(0) => {}
            Ok(pruned) => tracing::info!(pruned, "old session events pruned"),
            Err(err) => tracing::warn!(error = %err, "pruning session events failed"),
        }
        match service.prune_attempts().await {
            Ok(0) => {}
            Ok(pruned) => tracing::info!(pruned, "ended attempt counters pruned"),
            Err(err) => tracing::warn!(error = %err, "pruning attempt counters failed"),
        }
        // Done mail is kept as long as session events, for the same audit needs.
        match service.prune_mail(retention).await {
            Ok(0) => {}
            Ok(pruned) => tracing::info!(pruned, "done mail and unseen devices pruned"),
            Err(err) => tracing::warn!(error = %err, "pruning mail failed"),
        }
        // Also where no replica follows the log (token cache off).
        if let Err(err) = store.prune_token_changes().await {
            tracing::warn!(error = %err, "pruning the token change log failed");
        }
    }
}
