//! The generator's one clock: nanoseconds since it started, read by senders and receivers.
//!
//! A message carries its send instant as text; the receiver reads the same clock, so a
//! delivery latency is a difference of two readings of one monotonic clock in one process.

use std::time::{Duration, Instant};

/// A monotonic clock that starts at zero.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    start: Instant,
}

impl Clock {
    /// A clock reading zero now.
    pub fn start() -> Self {
        Self {
            start: Instant::now(),
        }
    }

    /// Nanoseconds since the clock started.
    pub fn now_ns(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// The time since the clock started.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }
}

/// Milliseconds in a duration, as a float for reports.
pub fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
