//! Time as a parameter: the service asks a clock, so tests can fix or move it.

use chrono::{DateTime, SecondsFormat, Utc};

/// Source of the current time. Every expiry, TOTP step and timestamp reads it.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// `2023-05-23T16:33:45.202Z`: ISO 8601 UTC with exactly three fraction digits, as
/// Rocket.Chat clients parse it.
pub fn format_timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn timestamps_always_carry_milliseconds() {
        let whole_second = Utc.with_ymd_and_hms(2023, 5, 23, 16, 33, 45).unwrap();
        assert_eq!(format_timestamp(whole_second), "2023-05-23T16:33:45.000Z");
        let with_millis = whole_second + chrono::Duration::milliseconds(202);
        assert_eq!(format_timestamp(with_millis), "2023-05-23T16:33:45.202Z");
    }
}
