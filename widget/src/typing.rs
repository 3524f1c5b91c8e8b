//! When the local user's keystrokes become `typing` and `stop-typing` events.
//!
//! The server relays one `typing` per two seconds at most, so the widget sends one per
//! [`RENEW_AFTER_MS`] while keys keep coming, and `stop-typing` once the input is cleared or
//! has been idle for [`IDLE_STOP_MS`].

/// While typing goes on, a new `typing` is sent this long after the last one.
pub const RENEW_AFTER_MS: f64 = 2_500.0;
/// After this long without a keystroke, typing counts as stopped.
pub const IDLE_STOP_MS: f64 = 3_000.0;

/// What to send after an input change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Send `typing`.
    Typing,
    /// Send `stop-typing`.
    StopTyping,
}

/// The local user's typing as the room last heard it.
#[derive(Debug, Clone, Default)]
pub struct TypingTracker {
    last_sent_ms: Option<f64>,
}

impl TypingTracker {
    /// The input changed at `now`; `empty` tells whether it is now blank.
    pub fn on_input(&mut self, now: f64, empty: bool) -> Option<Signal> {
        if empty {
            return self.stop();
        }
        match self.last_sent_ms {
            Some(sent) if now - sent < RENEW_AFTER_MS => None,
            _ => {
                self.last_sent_ms = Some(now);
                Some(Signal::Typing)
            }
        }
    }

    /// The input was idle, sent or left: `stop-typing` if the room thinks we are typing.
    pub fn stop(&mut self) -> Option<Signal> {
        self.last_sent_ms.take().map(|_| Signal::StopTyping)
    }

    /// A message was sent: the server itself announces the stop, so only forget.
    pub fn sent_message(&mut self) {
        self.last_sent_ms = None;
    }

    /// Whether the room was told we are typing and not told we stopped.
    pub fn is_typing(&self) -> bool {
        self.last_sent_ms.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_keystroke_sends_typing_and_repeats_wait_for_the_renewal() {
        let mut tracker = TypingTracker::default();
        assert_eq!(tracker.on_input(0.0, false), Some(Signal::Typing));
        assert_eq!(tracker.on_input(100.0, false), None);
        assert_eq!(tracker.on_input(RENEW_AFTER_MS - 1.0, false), None);
        assert_eq!(
            tracker.on_input(RENEW_AFTER_MS, false),
            Some(Signal::Typing)
        );
    }

    #[test]
    fn clearing_the_input_stops_once() {
        let mut tracker = TypingTracker::default();
        assert_eq!(
            tracker.on_input(0.0, true),
            None,
            "never typed, nothing to stop"
        );
        tracker.on_input(0.0, false);
        assert_eq!(tracker.on_input(10.0, true), Some(Signal::StopTyping));
        assert_eq!(tracker.stop(), None);
    }

    #[test]
    fn sending_forgets_typing_without_an_explicit_stop() {
        let mut tracker = TypingTracker::default();
        tracker.on_input(0.0, false);
        tracker.sent_message();
        assert!(!tracker.is_typing());
        assert_eq!(tracker.stop(), None);
        assert_eq!(tracker.on_input(1.0, false), Some(Signal::Typing));
    }
}
