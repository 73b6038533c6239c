//! The admin listener: Prometheus metrics, liveness and readiness, kept off the
//! public port.

use std::{sync::OnceLock, time::Duration};

use axum::{Router, extract::State, response::IntoResponse, routing::get};
use http::{StatusCode, header};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde_json::json;
use sessions_service::SessionService;
use sessions_store::Store;

/// The process-wide recorder (metrics are global; several servers in one test
/// process share it).
pub(crate) fn prometheus() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let buckets = [
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ];
            match PrometheusBuilder::new()
                .set_buckets(&buckets)
                .and_then(|builder| builder.install_recorder())
            {
                Ok(handle) => Some(handle),
                Err(err) => {
                    tracing::warn!(error = %err, "metrics recorder not installed");
                    None
                }
            }
        })
        .clone()
}

#[derive(Clone)]
struct AdminState {
    store: Store,
    metrics: Option<PrometheusHandle>,
}

pub(crate) fn router(store: Store) -> Router {
    let state = AdminState {
        store,
        metrics: prometheus(),
    };
    Router::new()
        .route("/metrics", get(render_metrics))
        .route("/healthz", get(alive))
        .route("/readyz", get(ready))
        .with_state(state)
}

async fn render_metrics(State(state): State<AdminState>) -> impl IntoResponse {
    let body = state
        .metrics
        .as_ref()
        .map(PrometheusHandle::render)
        .unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}

async fn alive() -> impl IntoResponse {
    (StatusCode::OK, axum::Json(json!({"status": "ok"})))
}

/// Ready when the database answers and no migration is pending. The body
/// also says whether token checks answer from memory right now (`tokenCache`:
/// `trusted`, `untrusted` while its notifications are not heard, `off`): an
/// untrusted cache only sends every check to the database, so it does not make
/// the replica unready.
async fn ready(State(state): State<AdminState>) -> impl IntoResponse {
    let check = async {
        state
            .store
            .ping()
            .await
            .map_err(|_| "database unreachable")?;
        let pending = state
            .store
            .pending_migrations()
            .await
            .map_err(|_| "database unreachable")?;
        if pending.is_empty() {
            Ok(())
        } else {
            Err("migrations pending")
        }
    };
    match tokio::time::timeout(Duration::from_secs(2), check).await {
        Ok(Ok(())) => {
            let token_cache = match state.store.token_cache_trusted() {
                Some(true) => "trusted",
                Some(false) => "untrusted",
                None => "off",
            };
            (
                StatusCode::OK,
                axum::Json(json!({"status": "ready", "tokenCache": token_cache})),
            )
        }
        Ok(Err(reason)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"status": "unavailable", "reason": reason})),
        ),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"status": "unavailable", "reason": "database timeout"})),
        ),
    }
}

/// Gauges that need a query: active sessions, and the pool's figures.
pub(crate) async fn sample_gauges_forever(service: SessionService, store: Store) {
    let mut every = tokio::time::interval(Duration::from_secs(15));
    loop {
        every.tick().await;
        match service.count_active_sessions().await {
            Ok(count) => metrics::gauge!("sessions_active_sessions").set(count as f64),
            Err(err) => tracing::debug!(error = %err, "active session count failed"),
        }
        let pool = store.pool_stats();
        metrics::gauge!("sessions_db_pool_connections").set(f64::from(pool.size));
        metrics::gauge!("sessions_db_pool_idle_connections").set(pool.idle as f64);
        metrics::gauge!("sessions_db_pool_max_connections").set(f64::from(pool.max));
    }
}
