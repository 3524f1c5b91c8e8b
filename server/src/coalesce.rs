//! Coalescing of presence broadcasts: a burst of joins and leaves in one room sends a few
//! full `user-count` and `active-users` updates instead of one per change per member.
//!
//! Each room is throttled with a leading and a trailing edge. The first change after a
//! quiet spell is published at once, so a lone join costs no latency; changes inside the
//! window that follows are folded into one publish at the window's end, which reads the
//! room as it is then. Every member therefore ends with the exact final state, and a room
//! of `n` members receives at most one full list per window however fast people come and go.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use diffy_protocol::PullRequestId;
use tokio::time::Instant;

/// What to do with the presence of a room that just changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Publish {
    /// Send the room's presence now.
    Now,
    /// Send it at this instant (call [`PresenceThrottle::flushed`] then); nothing now.
    At(Instant),
    /// A publish is already scheduled and will carry this change.
    Scheduled,
}

/// Per-room throttles for presence broadcasts.
#[derive(Debug)]
pub struct PresenceThrottle {
    window: Duration,
    rooms: Mutex<HashMap<PullRequestId, RoomThrottle>>,
}

#[derive(Debug, Clone, Copy)]
struct RoomThrottle {
    last_sent: Instant,
    scheduled: bool,
}

impl PresenceThrottle {
    /// Throttles with this window; a zero window publishes every change at once.
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            rooms: Mutex::new(HashMap::new()),
        }
    }

    fn rooms(&self) -> MutexGuard<'_, HashMap<PullRequestId, RoomThrottle>> {
        // The map holds plain values that are never left half-updated.
        self.rooms.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Decides how to publish a change of membership in `room`. Call it while holding the
    /// room's lane; `emptied` says whether the room has nobody left.
    pub fn changed(&self, room: PullRequestId, now: Instant, emptied: bool) -> Publish {
        if self.window.is_zero() {
            return Publish::Now;
        }
        let mut rooms = self.rooms();
        match rooms.get_mut(&room) {
            Some(throttle) if throttle.scheduled => Publish::Scheduled,
            Some(throttle) if now < throttle.last_sent + self.window => {
                throttle.scheduled = true;
                Publish::At(throttle.last_sent + self.window)
            }
            _ => {
                // An empty room needs no throttle until someone comes back.
                if emptied {
                    rooms.remove(&room);
                } else {
                    rooms.insert(
                        room,
                        RoomThrottle {
                            last_sent: now,
                            scheduled: false,
                        },
                    );
                }
                Publish::Now
            }
        }
    }

    /// Schedules a publish at `when` unless one is already scheduled, for a room whose last
    /// update did not reach every member (a member's send buffer was full). Returns the
    /// instant to publish at, or `None` when a scheduled publish will carry the state.
    pub fn resend(&self, room: PullRequestId, when: Instant) -> Option<Instant> {
        let mut rooms = self.rooms();
        let throttle = rooms.entry(room).or_insert(RoomThrottle {
            last_sent: when,
            scheduled: false,
        });
        if throttle.scheduled {
            return None;
        }
        throttle.scheduled = true;
        Some(when)
    }

    /// Records that a scheduled publish for `room` is being sent now. Call it while
    /// holding the room's lane, just before sending.
    pub fn flushed(&self, room: PullRequestId, now: Instant, emptied: bool) {
        let mut rooms = self.rooms();
        if emptied {
            rooms.remove(&room);
        } else {
            rooms.insert(
                room,
                RoomThrottle {
                    last_sent: now,
                    scheduled: false,
                },
            );
        }
    }

    /// Rooms with a throttle entry.
    #[cfg(test)]
    fn tracked_rooms(&self) -> usize {
        self.rooms().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_millis(50);

    fn pr(id: u64) -> PullRequestId {
        PullRequestId::new(id).expect("valid id")
    }

    #[test]
    fn a_lone_change_is_published_at_once() {
        let throttle = PresenceThrottle::new(WINDOW);
        let t0 = Instant::now();
        assert_eq!(throttle.changed(pr(1), t0, false), Publish::Now);
        // Another room is throttled on its own.
        assert_eq!(throttle.changed(pr(2), t0, false), Publish::Now);
    }

    #[test]
    fn a_burst_is_folded_into_one_trailing_publish() {
        let throttle = PresenceThrottle::new(WINDOW);
        let t0 = Instant::now();
        assert_eq!(throttle.changed(pr(1), t0, false), Publish::Now);
        let soon = t0 + Duration::from_millis(5);
        assert_eq!(
            throttle.changed(pr(1), soon, false),
            Publish::At(t0 + WINDOW)
        );
        for ms in 6..40 {
            let at = t0 + Duration::from_millis(ms);
            assert_eq!(throttle.changed(pr(1), at, false), Publish::Scheduled);
        }

        // After the trailing publish, the next change waits for the next window.
        throttle.flushed(pr(1), t0 + WINDOW, false);
        let next = t0 + WINDOW + Duration::from_millis(1);
        assert_eq!(
            throttle.changed(pr(1), next, false),
            Publish::At(t0 + WINDOW * 2)
        );
    }

    #[test]
    fn a_quiet_room_publishes_at_once_again() {
        let throttle = PresenceThrottle::new(WINDOW);
        let t0 = Instant::now();
        assert_eq!(throttle.changed(pr(1), t0, false), Publish::Now);
        let later = t0 + WINDOW * 3;
        assert_eq!(throttle.changed(pr(1), later, false), Publish::Now);
    }

    #[test]
    fn empty_rooms_leave_no_entry() {
        let throttle = PresenceThrottle::new(WINDOW);
        let t0 = Instant::now();
        assert_eq!(throttle.changed(pr(1), t0, false), Publish::Now);
        let soon = t0 + Duration::from_millis(1);
        assert!(matches!(
            throttle.changed(pr(1), soon, true),
            Publish::At(_)
        ));
        throttle.flushed(pr(1), t0 + WINDOW, true);
        assert_eq!(throttle.tracked_rooms(), 0);
    }

    #[test]
    fn a_resend_joins_a_scheduled_publish_or_schedules_one() {
        let throttle = PresenceThrottle::new(WINDOW);
        let t0 = Instant::now();
        let later = t0 + Duration::from_secs(1);
        assert_eq!(throttle.resend(pr(1), later), Some(later));
        assert_eq!(throttle.resend(pr(1), later), None);
        assert_eq!(throttle.changed(pr(1), t0, false), Publish::Scheduled);
        throttle.flushed(pr(1), later, false);
        assert_eq!(throttle.resend(pr(1), later), Some(later));
    }

    #[test]
    fn a_zero_window_never_defers() {
        let throttle = PresenceThrottle::new(Duration::ZERO);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(throttle.changed(pr(1), t0, false), Publish::Now);
        }
        assert_eq!(throttle.tracked_rooms(), 0);
    }
}
