//! A clock that only moves when the test says so.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, TimeZone, Utc};
use sessions_domain::Clock;

#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Arc<Self> {
        Arc::new(Self {
            now: Mutex::new(start),
        })
    }

    /// 2026-03-01T12:00:00.000Z, a Sunday noon.
    pub fn starting_at_default() -> Arc<Self> {
        Self::new(
            Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0)
                .single()
                .unwrap_or_default(),
        )
    }

    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(|e| e.into_inner());
        *now += by;
    }

    pub fn now_unix(&self) -> i64 {
        self.now().timestamp()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(|e| e.into_inner())
    }
}
