//! Per-connection rate limits on joins, messages and typing.

use std::num::NonZeroU32;

use diffy_protocol::{ErrorCode, Refusal};
use governor::{DefaultDirectRateLimiter, Quota};

use crate::config::Config;

/// The kinds of event that are rate limited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limited {
    /// `join-pr-room`.
    Join,
    /// `send-message-to-pr-room`.
    Message,
    /// `typing` and `stop-typing`.
    Typing,
}

/// One connection's budgets. Each allows a burst of its per-minute figure and refills
/// evenly over the minute.
#[derive(Debug)]
pub struct ConnectionLimits {
    joins: DefaultDirectRateLimiter,
    messages: DefaultDirectRateLimiter,
    typing: DefaultDirectRateLimiter,
}

impl ConnectionLimits {
    /// Budgets as the configuration sets them.
    pub fn new(config: &Config) -> Self {
        Self {
            joins: limiter(config.joins_per_minute),
            messages: limiter(config.messages_per_minute),
            typing: limiter(config.typing_per_minute),
        }
    }

    /// Spends one unit of the budget for `kind`.
    ///
    /// Fails with `rate_limited` when the budget is empty.
    pub fn spend(&self, kind: Limited) -> Result<(), Refusal> {
        let limiter = match kind {
            Limited::Join => &self.joins,
            Limited::Message => &self.messages,
            Limited::Typing => &self.typing,
        };
        limiter.check().map_err(|_| {
            Refusal::new(
                ErrorCode::RateLimited,
                "too many events; slow down and retry later",
            )
        })
    }
}

fn limiter(per_minute: u32) -> DefaultDirectRateLimiter {
    // The flag parser refuses zero; a zero set in code means "as tight as possible".
    let per_minute = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
    DefaultDirectRateLimiter::direct(Quota::per_minute(per_minute))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_beyond_the_budget_is_refused() {
        let config = Config {
            messages_per_minute: 3,
            ..Config::default()
        };
        let limits = ConnectionLimits::new(&config);
        for _ in 0..3 {
            assert!(limits.spend(Limited::Message).is_ok());
        }
        let refusal = limits.spend(Limited::Message).unwrap_err();
        assert_eq!(refusal.code, ErrorCode::RateLimited);
        // Other budgets are separate.
        assert!(limits.spend(Limited::Join).is_ok());
    }
}
