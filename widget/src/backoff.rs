//! When to try again after a connection drops: exponential backoff with jitter and a cap.

/// The delay before the first retry, before jitter.
pub const BASE_DELAY_MS: f64 = 500.0;
/// No retry waits longer than this.
pub const MAX_DELAY_MS: f64 = 10_000.0;

/// The delay before retry number `attempt` (1 for the first retry).
///
/// The ceiling doubles with each attempt up to [`MAX_DELAY_MS`]; the delay is drawn from
/// the upper half of it ("equal jitter"), so that widgets dropped by the same server restart
/// spread their reconnects out but none retries at once. `jitter` is a number in `[0, 1)`,
/// usually `Math.random()`; values outside are clamped.
pub fn retry_delay_ms(attempt: u32, jitter: f64) -> f64 {
    // Past 2^20 the cap has long been reached; clamping the exponent keeps `powi` finite.
    let exponent = attempt.saturating_sub(1).min(20) as i32;
    let ceiling = (BASE_DELAY_MS * 2f64.powi(exponent)).min(MAX_DELAY_MS);
    let jitter = if jitter.is_finite() {
        jitter.clamp(0.0, 1.0)
    } else {
        0.5
    };
    ceiling / 2.0 + ceiling / 2.0 * jitter
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_until_the_cap() {
        let ceilings: Vec<f64> = (1..=7).map(|n| retry_delay_ms(n, 1.0)).collect();
        assert_eq!(
            ceilings,
            [
                500.0, 1_000.0, 2_000.0, 4_000.0, 8_000.0, 10_000.0, 10_000.0
            ]
        );
    }

    #[test]
    fn jitter_stays_in_the_upper_half_of_the_ceiling() {
        for attempt in 1..30 {
            let ceiling = retry_delay_ms(attempt, 1.0);
            for jitter in [0.0, 0.25, 0.5, 0.999] {
                let delay = retry_delay_ms(attempt, jitter);
                assert!(
                    delay >= ceiling / 2.0 && delay <= ceiling,
                    "{attempt} {jitter} {delay}"
                );
            }
        }
        assert_eq!(retry_delay_ms(1, 0.0), 250.0);
    }

    #[test]
    fn huge_attempts_and_odd_jitter_stay_bounded() {
        assert_eq!(retry_delay_ms(u32::MAX, 1.0), MAX_DELAY_MS);
        assert_eq!(retry_delay_ms(0, 1.0), BASE_DELAY_MS);
        assert_eq!(retry_delay_ms(3, f64::NAN), 1_500.0);
        assert_eq!(retry_delay_ms(3, -4.0), 1_000.0);
        assert_eq!(retry_delay_ms(3, 9.0), 2_000.0);
    }
}
