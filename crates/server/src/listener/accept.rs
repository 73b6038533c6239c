//! Failed accepts: a client that hung up is skipped, running out of
//! descriptors (EMFILE, ENFILE, ENOBUFS) backs off and is logged at a bounded
//! rate, so a flood neither spins the loop nor the log.

use std::{
    io,
    time::{Duration, Instant},
};

/// The first pause after running out of a resource; it doubles per failure.
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
/// Longest pause, so accepting resumes within this of descriptors freeing up.
const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// At most one "accept failed" line per this long.
pub(super) const LOG_EVERY: Duration = Duration::from_secs(5);

/// Lets a line through at most once per interval and counts what it held back.
#[derive(Debug)]
pub(super) struct LogThrottle {
    every: Duration,
    last: Option<Instant>,
    suppressed: u64,
}

impl LogThrottle {
    pub(super) fn new(every: Duration) -> Self {
        Self {
            every,
            last: None,
            suppressed: 0,
        }
    }

    /// `Some(lines held back since the last one)` when a line may go out now.
    pub(super) fn allow(&mut self, now: Instant) -> Option<u64> {
        match self.last {
            Some(last) if now.saturating_duration_since(last) < self.every => {
                self.suppressed += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }
}

/// What the accept loop does after an error.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum AfterError {
    /// The error belonged to one connection: accept the next at once.
    Next,
    /// Out of a resource: pause this long before accepting again.
    Pause(Duration),
}

/// The accept loop's memory of recent failures.
#[derive(Debug)]
pub(super) struct AcceptErrors {
    backoff: Duration,
    /// Resource failures not yet reported as recovered from.
    failing: u64,
    log: LogThrottle,
    /// Its own throttle, so the recovery line is not hidden by the failure
    /// line just before it, yet a flapping limit cannot flood the log either.
    recovered_log: LogThrottle,
}

impl AcceptErrors {
    pub(super) fn new() -> Self {
        Self {
            backoff: FIRST_BACKOFF,
            failing: 0,
            log: LogThrottle::new(LOG_EVERY),
            recovered_log: LogThrottle::new(LOG_EVERY),
        }
    }

    pub(super) fn failed(&mut self, err: &io::Error, now: Instant) -> AfterError {
        if is_per_connection(err) {
            tracing::debug!(error = %err, "accept failed for one connection");
            return AfterError::Next;
        }
        let pause = self.backoff;
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        self.failing += 1;
        metrics::counter!("sessions_accept_errors_total").increment(1);
        if let Some(suppressed) = self.log.allow(now) {
            tracing::warn!(
                error = %err,
                suppressed,
                retry_in_ms = u64::try_from(pause.as_millis()).unwrap_or(u64::MAX),
                "accept failed"
            );
        }
        AfterError::Pause(pause)
    }

    pub(super) fn succeeded(&mut self, now: Instant) {
        self.backoff = FIRST_BACKOFF;
        if self.failing == 0 {
            return;
        }
        if self.recovered_log.allow(now).is_some() {
            let failures = std::mem::take(&mut self.failing);
            tracing::info!(failures, "accepting connections again");
        }
    }
}

/// Errors that end one pending connection, not the listener's ability to
/// accept (Linux reports some network errors of the new socket on accept).
fn is_per_connection(err: &io::Error) -> bool {
    use io::ErrorKind::*;
    matches!(
        err.kind(),
        ConnectionAborted
            | ConnectionReset
            | ConnectionRefused
            | Interrupted
            | WouldBlock
            | HostUnreachable
            | NetworkUnreachable
            | NetworkDown
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn emfile() -> io::Error {
        io::Error::other("Too many open files (os error 24)")
    }

    #[test]
    fn a_hung_up_client_does_not_pause_accepting() {
        let mut errors = AcceptErrors::new();
        let reset = io::Error::from(io::ErrorKind::ConnectionAborted);
        assert_eq!(errors.failed(&reset, Instant::now()), AfterError::Next);
    }

    #[test]
    fn running_out_of_descriptors_backs_off_up_to_a_second_and_resets() {
        let mut errors = AcceptErrors::new();
        let now = Instant::now();
        let pauses: Vec<_> = (0..7)
            .map(|_| match errors.failed(&emfile(), now) {
                AfterError::Pause(pause) => pause.as_millis(),
                AfterError::Next => 0,
            })
            .collect();
        assert_eq!(pauses, [50, 100, 200, 400, 800, 1000, 1000]);
        errors.succeeded(now);
        assert_eq!(
            errors.failed(&emfile(), now),
            AfterError::Pause(FIRST_BACKOFF)
        );
    }

    #[test]
    fn the_log_gets_one_line_per_interval_with_the_count_held_back() {
        // The incident: a failure every 50 ms for 75 s was 1,579 lines.
        let mut throttle = LogThrottle::new(LOG_EVERY);
        let start = Instant::now();
        let lines: Vec<u64> = (0..1500)
            .filter_map(|i| throttle.allow(start + Duration::from_millis(50 * i)))
            .collect();
        assert_eq!(lines.len(), 15);
        assert_eq!(lines[0], 0);
        assert!(
            lines[1..].iter().all(|held_back| *held_back == 99),
            "{lines:?}"
        );
    }
}
