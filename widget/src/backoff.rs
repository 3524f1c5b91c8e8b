//! When to try again after a connection drops: exponential backoff with jitter and a cap,
//! from a base delay the host page may set (`data-reconnect-base-ms`, `reconnectBaseMs`).

/// The base delay when the host page sets none: the first retry waits 250 to 500 ms.
pub const DEFAULT_BASE_MS: u32 = 500;
/// The smallest base delay a host page may set.
pub const MIN_BASE_MS: u32 = 10;
/// No retry waits longer than this, whatever the base.
pub const MAX_DELAY_MS: u32 = 10_000;

/// How long to wait before each retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    base_ms: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base_ms: DEFAULT_BASE_MS,
        }
    }
}

impl Backoff {
    /// A backoff whose first retry waits between `base_ms / 2` and `base_ms`.
    ///
    /// Fails with a sentence for the person when `base_ms` is outside
    /// [`MIN_BASE_MS`]`..=`[`MAX_DELAY_MS`]: with a smaller base, a widget whose connections
    /// are dropped right after each join (the count of failures then never grows) would
    /// reconnect hundreds of times a second, and a larger one could never respect the cap.
    pub fn with_base_ms(base_ms: u32) -> Result<Self, String> {
        if (MIN_BASE_MS..=MAX_DELAY_MS).contains(&base_ms) {
            Ok(Self { base_ms })
        } else {
            Err(format!(
                "The reconnect delay must be from {MIN_BASE_MS} to {MAX_DELAY_MS} ms, \
                 not {base_ms}."
            ))
        }
    }

    /// Reads a base delay as a host page writes it: a whole number of milliseconds.
    ///
    /// Fails with a sentence for the person when the text is not such a number or is out of
    /// range (see [`Backoff::with_base_ms`]).
    pub fn parse_base_ms(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let base_ms = text.parse::<u32>().map_err(|_| {
            format!("The reconnect delay must be a whole number of ms, not {text:?}.")
        })?;
        Self::with_base_ms(base_ms)
    }

    /// The base delay in milliseconds.
    pub fn base_ms(self) -> u32 {
        self.base_ms
    }

    /// The delay before retry number `attempt` (1 for the first retry).
    ///
    /// The ceiling doubles with each attempt up to [`MAX_DELAY_MS`]; the delay is drawn from
    /// the upper half of it ("equal jitter"), so that widgets dropped by the same server
    /// restart spread their reconnects out but none retries at once. `jitter` is a number in
    /// `[0, 1)`, usually `Math.random()`; values outside are clamped.
    pub fn delay_ms(self, attempt: u32, jitter: f64) -> f64 {
        // Past 2^20 the cap has long been reached; clamping the exponent keeps `powi` finite.
        let exponent = attempt.saturating_sub(1).min(20) as i32;
        let ceiling = (f64::from(self.base_ms) * 2f64.powi(exponent)).min(f64::from(MAX_DELAY_MS));
        let jitter = if jitter.is_finite() {
            jitter.clamp(0.0, 1.0)
        } else {
            0.5
        };
        ceiling / 2.0 + ceiling / 2.0 * jitter
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: f64 = MAX_DELAY_MS as f64;

    #[test]
    fn delays_double_until_the_cap() {
        let backoff = Backoff::default();
        let ceilings: Vec<f64> = (1..=7).map(|n| backoff.delay_ms(n, 1.0)).collect();
        assert_eq!(
            ceilings,
            [
                500.0, 1_000.0, 2_000.0, 4_000.0, 8_000.0, 10_000.0, 10_000.0
            ]
        );
    }

    #[test]
    fn jitter_stays_in_the_upper_half_of_the_ceiling() {
        let backoff = Backoff::default();
        for attempt in 1..30 {
            let ceiling = backoff.delay_ms(attempt, 1.0);
            for jitter in [0.0, 0.25, 0.5, 0.999] {
                let delay = backoff.delay_ms(attempt, jitter);
                assert!(
                    delay >= ceiling / 2.0 && delay <= ceiling,
                    "{attempt} {jitter} {delay}"
                );
            }
        }
        assert_eq!(backoff.delay_ms(1, 0.0), 250.0);
    }

    #[test]
    fn huge_attempts_and_odd_jitter_stay_bounded() {
        let backoff = Backoff::default();
        assert_eq!(backoff.delay_ms(u32::MAX, 1.0), MAX);
        assert_eq!(backoff.delay_ms(0, 1.0), f64::from(DEFAULT_BASE_MS));
        assert_eq!(backoff.delay_ms(3, f64::NAN), 1_500.0);
        assert_eq!(backoff.delay_ms(3, -4.0), 1_000.0);
        assert_eq!(backoff.delay_ms(3, 9.0), 2_000.0);
    }

    #[test]
    fn a_small_base_still_doubles_to_the_same_cap() {
        let backoff = Backoff::with_base_ms(20).unwrap();
        assert_eq!(backoff.delay_ms(1, 0.0), 10.0);
        assert_eq!(backoff.delay_ms(1, 1.0), 20.0);
        assert_eq!(backoff.delay_ms(5, 1.0), 320.0);
        assert_eq!(backoff.delay_ms(40, 1.0), MAX);
    }

    #[test]
    fn host_page_values_are_whole_milliseconds_in_range() {
        assert_eq!(Backoff::parse_base_ms(" 20 ").unwrap().base_ms(), 20);
        assert_eq!(Backoff::parse_base_ms("10").unwrap().base_ms(), MIN_BASE_MS);
        assert_eq!(
            Backoff::parse_base_ms("10000").unwrap().base_ms(),
            MAX_DELAY_MS
        );
        for bad in ["", "9", "0", "-5", "10001", "2.5", "fast", "1e3"] {
            let refused = Backoff::parse_base_ms(bad).unwrap_err();
            assert!(
                refused.starts_with("The reconnect delay must be"),
                "{bad}: {refused}"
            );
        }
    }
}
