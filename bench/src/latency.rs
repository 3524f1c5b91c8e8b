//! Delivery latency: HdrHistograms of microseconds and their printed summary.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// The largest latency a histogram holds, in microseconds (a minute); longer ones are
/// clamped to it.
const MAX_MICROS: u64 = 60_000_000;

/// Two significant figures: 1% resolution, and histograms small enough for one per
/// receiving client.
const SIGNIFICANT_FIGURES: u8 = 2;

/// An empty latency histogram in microseconds.
pub fn histogram() -> Histogram<u64> {
    match Histogram::new_with_bounds(1, MAX_MICROS, SIGNIFICANT_FIGURES) {
        Ok(histogram) => histogram,
        // The bounds above are constants that satisfy every rule of the constructor.
        Err(err) => unreachable!("constant histogram bounds rejected: {err}"),
    }
}

/// Records one latency given in nanoseconds.
pub fn record_ns(histogram: &mut Histogram<u64>, nanos: u64) {
    histogram.saturating_record((nanos / 1_000).clamp(1, MAX_MICROS));
}

/// A latency distribution as the report prints it, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    /// Deliveries measured.
    pub count: u64,
    /// Median.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// Largest.
    pub max_ms: f64,
}

impl LatencySummary {
    /// Summarises a histogram of microseconds.
    pub fn of(histogram: &Histogram<u64>) -> Self {
        if histogram.is_empty() {
            return Self::default();
        }
        let ms = |micros: u64| micros as f64 / 1_000.0;
        Self {
            count: histogram.len(),
            p50_ms: ms(histogram.value_at_quantile(0.50)),
            p99_ms: ms(histogram.value_at_quantile(0.99)),
            p999_ms: ms(histogram.value_at_quantile(0.999)),
            max_ms: ms(histogram.max()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Quantiles come out in milliseconds within the histogram's 1% resolution.
    #[test]
    fn summary_reads_quantiles_in_milliseconds() {
        let mut h = histogram();
        for ms in 1..=1000u64 {
            record_ns(&mut h, ms * 1_000_000);
        }
        let s = LatencySummary::of(&h);
        assert_eq!(s.count, 1000);
        assert!((s.p50_ms - 500.0).abs() / 500.0 < 0.01, "{s:?}");
        assert!((s.p99_ms - 990.0).abs() / 990.0 < 0.01, "{s:?}");
        assert!((s.max_ms - 1000.0).abs() / 1000.0 < 0.01, "{s:?}");
    }

    /// Latencies outside the histogram's range are still counted.
    #[test]
    fn latencies_past_the_bound_are_clamped_not_lost() {
        let mut h = histogram();
        record_ns(&mut h, u64::MAX);
        record_ns(&mut h, 0);
        assert_eq!(h.len(), 2);
    }
}
