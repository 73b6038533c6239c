//! One connection's life after accept: closed when no request head (HTTP/1)
//! or HEADERS frame (HTTP/2) arrives in time, ended with GOAWAY or a close
//! once idle, and drained gracefully on shutdown.

use std::{
    future::pending,
    pin::{Pin, pin},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use axum::body::{Body, Bytes};
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use hyper_util::server::graceful::GracefulConnection;
use tokio::{
    sync::{Notify, watch},
    time::{Instant, sleep_until},
};

/// How long a connection may go without a request.
#[derive(Debug, Clone, Copy)]
pub(super) struct Timeouts {
    /// From accept to the first request (hyper's own header timeout starts
    /// only once the protocol is known, which a silent peer never lets happen).
    pub(super) first_request: Duration,
    /// With no request in flight.
    pub(super) idle: Duration,
    /// After an idle GOAWAY, for the peer to let the connection close.
    pub(super) close: Duration,
}

/// What the connection's requests tell its watchdog.
#[derive(Debug, Default)]
pub(super) struct Activity {
    started: AtomicBool,
    in_flight: AtomicUsize,
    changed: Notify,
}

/// A request counted as in flight until its response body ends or is dropped.
#[derive(Debug)]
pub(super) struct InFlight(Arc<Activity>);

impl Activity {
    /// Called by the service, so a request head or HEADERS frame is complete.
    pub(super) fn begin(self: &Arc<Self>) -> InFlight {
        self.started.store(true, Ordering::Release);
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.changed.notify_one();
        InFlight(Arc::clone(self))
    }

    fn started(&self) -> bool {
        self.started.load(Ordering::Acquire)
    }

    fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.changed.notify_one();
        }
    }
}

/// A response body that can keep its request in flight while it streams, so
/// a long-lived server-streaming call (WatchSessionEvents) is never taken for
/// idle; without it the request ends when its response head is ready.
pub(super) struct TrackedBody {
    inner: Body,
    in_flight: Option<InFlight>,
}

impl TrackedBody {
    pub(super) fn new(inner: Body, in_flight: Option<InFlight>) -> Self {
        Self { inner, in_flight }
    }
}

impl HttpBody for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None | Some(Err(_)))) {
            self.in_flight = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Why the watchdog is waiting.
#[derive(Debug, Clone, Copy)]
enum Waiting {
    FirstRequest,
    Idle,
    PeerToClose,
}

/// Drives `connection` to its end under the watchdog; dropping it closes
/// the socket.
pub(super) async fn drive<C>(
    connection: C,
    activity: Arc<Activity>,
    timeouts: Timeouts,
    mut stop: watch::Receiver<bool>,
) where
    C: GracefulConnection,
    C::Error: std::fmt::Display,
{
    let mut connection = pin!(connection);
    let accepted = Instant::now();
    let mut idle_since = accepted;
    let mut closing_since: Option<Instant> = None;
    let mut shutting_down = false;
    loop {
        let (waiting, deadline) = if let Some(since) = closing_since {
            (Waiting::PeerToClose, Some(since + timeouts.close))
        } else if !activity.started() {
            (
                Waiting::FirstRequest,
                Some(accepted + timeouts.first_request),
            )
        } else if activity.in_flight() == 0 {
            (Waiting::Idle, Some(idle_since + timeouts.idle))
        } else {
            (Waiting::Idle, None)
        };
        let expired = async {
            match deadline {
                Some(deadline) => sleep_until(deadline).await,
                None => pending().await,
            }
        };
        tokio::select! {
            ended = connection.as_mut() => {
                if let Err(err) = ended {
                    tracing::debug!(error = %err, "connection ended with an error");
                }
                return;
            }
            () = activity.changed.notified() => {
                if activity.in_flight() == 0 {
                    idle_since = Instant::now();
                }
            }
            () = expired => match waiting {
                Waiting::FirstRequest => {
                    closed("no_request");
                    tracing::debug!(
                        timeout_secs = timeouts.first_request.as_secs(),
                        "connection closed: no request in time"
                    );
                    return;
                }
                Waiting::Idle => {
                    closed("idle");
                    tracing::debug!(timeout_secs = timeouts.idle.as_secs(), "ending an idle connection");
                    if !shutting_down {
                        connection.as_mut().graceful_shutdown();
                        shutting_down = true;
                    }
                    closing_since = Some(Instant::now());
                }
                // A request that raced the GOAWAY still gets its answer.
                Waiting::PeerToClose if activity.in_flight() > 0 => {
                    closing_since = Some(Instant::now());
                }
                Waiting::PeerToClose => {
                    tracing::debug!("connection closed: peer kept it open after goaway");
                    return;
                }
            },
            () = stopped(&mut stop), if !shutting_down => {
                connection.as_mut().graceful_shutdown();
                shutting_down = true;
            }
        }
    }
}

fn closed(reason: &'static str) {
    metrics::counter!("sessions_connections_closed_total", "reason" => reason).increment(1);
}

/// Resolves once `stop` turns true (or its sender is gone).
pub(super) async fn stopped(stop: &mut watch::Receiver<bool>) {
    // The watch guard must not live across an await: map it to ().
    let _ = stop.wait_for(|stopping| *stopping).await;
}
