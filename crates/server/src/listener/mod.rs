//! The accept loop: hyper with the limits a public listener needs (a deadline
//! for the first request, header size, idle and keep-alive timeouts, stream and
//! connection caps), so silent, slow or idle clients cannot pin descriptors,
//! and a graceful drain on shutdown.

mod accept;
mod caps;
mod connection;

use std::{convert::Infallible, net::SocketAddr, sync::Arc, time::Duration};

use axum::{Router, body::Body, extract::ConnectInfo};
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::conn::auto,
};
use tokio::{net::TcpListener, sync::watch};
use tower::ServiceExt;

use self::{
    accept::{AcceptErrors, AfterError},
    caps::Caps,
    connection::{Activity, Timeouts, TrackedBody, stopped},
};
use crate::client::TrustedProxies;
use sessions_grpc::LongLivedStream;

/// Connection limits of the main listener.
#[derive(Debug, Clone)]
pub(crate) struct ConnectionLimits {
    /// A client must send a request's headers within this long, counted from
    /// accept for the first request.
    pub(crate) header_read_timeout: Duration,
    /// Largest request head accepted (HTTP/1 buffer, HTTP/2 header list).
    pub(crate) max_header_bytes: usize,
    pub(crate) http2_keep_alive: Duration,
    pub(crate) http2_max_streams: u32,
    /// A connection with no request in flight this long is ended.
    pub(crate) idle_timeout: Duration,
    pub(crate) max_connections: u32,
    /// 0: no per-address cap.
    pub(crate) max_connections_per_address: u32,
    /// Peers exempt from the per-address cap.
    pub(crate) trusted_proxies: TrustedProxies,
}

/// Serves `app` until `stop` turns true, then stops accepting and waits for
/// open connections to finish (the caller bounds that wait).
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    mut stop: watch::Receiver<bool>,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        // hyper panics below 8 KiB; the configuration refuses smaller values.
        .max_buf_size(limits.max_header_bytes);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(limits.http2_keep_alive)
        .keep_alive_timeout(limits.http2_keep_alive)
        .max_concurrent_streams(limits.http2_max_streams)
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX));
    let caps = Caps::new(
        limits.max_connections,
        limits.max_connections_per_address,
        limits.trusted_proxies.clone(),
    );
    caps.warn_if_above_open_file_limit();
    let timeouts = Timeouts {
        first_request: limits.header_read_timeout,
        idle: limits.idle_timeout,
        close: limits.header_read_timeout,
    };
    let mut errors = AcceptErrors::new();
    loop {
        let permit = tokio::select! {
            permit = caps.reserve() => match permit {
                Some(permit) => permit,
                None => break,
            },
            () = stopped(&mut stop) => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    drop(permit);
                    if let AfterError::Pause(pause) = errors.failed(&err, std::time::Instant::now()) {
                        tokio::select! {
                            () = tokio::time::sleep(pause) => {}
                            () = stopped(&mut stop) => break,
                        }
                    }
                    continue;
                }
            },
            () = stopped(&mut stop) => break,
        };
        errors.succeeded(std::time::Instant::now());
        // Over its address's share: dropping the stream closes it at once.
        let Some(slot) = caps.admit(permit, peer.ip()) else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let activity = Arc::new(Activity::default());
        let app = app.clone();
        let requests = Arc::clone(&activity);
        let service = hyper::service::service_fn(move |mut request: http::Request<Incoming>| {
            request
                .extensions_mut()
                .insert(ConnectInfo::<SocketAddr>(peer));
            let in_flight = requests.begin();
            let response = app.clone().oneshot(request.map(Body::new));
            async move {
                let response = response.await?;
                // Only a stream the handler marked long-lived (the internal
                // API's event watch, behind the service credential) keeps its
                // connection from idling: an anonymous stream (health Watch,
                // reflection, a body a zero flow-control window never lets
                // finish) must not pin a connection past the idle timeout.
                let long_lived = response.extensions().get::<LongLivedStream>().is_some();
                Ok::<_, Infallible>(
                    response.map(|body| TrackedBody::new(body, long_lived.then_some(in_flight))),
                )
            }
        });
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let stop = stop.clone();
        tokio::spawn(async move {
            connection::drive(connection, activity, timeouts, stop).await;
            drop(slot);
        });
    }
    drop(listener);
    caps.drained().await;
}

/// Connections the kernel queues for us while every slot is taken: tokio's
/// `bind` asks for 128, and past it clients' SYNs are dropped instead of
/// waiting for a free slot.
const ACCEPT_BACKLOG: u32 = 4096;

/// Binds the main listener with a backlog deep enough to hold clients
/// waiting for a connection slot.
pub(crate) fn bind(address: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if address.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    // As std's bind: a restart need not wait out TIME_WAIT.
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(ACCEPT_BACKLOG)
}
