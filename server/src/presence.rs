//! Who is present in which room: the [`PresenceStore`] interface and its in-memory
//! implementation.
//!
//! The store owns membership, grace periods and typing state. It decides; it never sends.
//! Each operation returns an outcome that says what the room must be told, and the event
//! handlers turn outcomes into Socket.IO emits. A store shared between several server
//! nodes (Redis, say) implements the same trait and the handlers stay as they are.
//!
//! Presence is per user, not per connection: a user is present in a room while at least
//! one of their connections has joined it, or while a dropped user's grace period runs.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use diffy_protocol::{ErrorCode, PullRequestId, Refusal, Username};
use indexmap::IndexMap;
use socketioxide::socket::Sid;
use tokio::time::Instant;

/// The users present in a room, in order of arrival.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RoomView {
    /// Usernames, each once.
    pub users: Vec<String>,
}

impl RoomView {
    /// Distinct users present.
    pub fn user_count(&self) -> usize {
        self.users.len()
    }
}

/// What a join did to the room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoinOutcome {
    /// The user became present: announce `joined` and the new presence to the room.
    Arrived(RoomView),
    /// The user was present already (another tab, or back within grace): tell only the
    /// joining connection the current presence.
    Returned(RoomView),
    /// This connection had joined already: nothing changes.
    AlreadyJoined(RoomView),
}

/// What a connection leaving a room did to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaveOutcome {
    /// The user was typing through this connection: announce `stop-typing`.
    pub stopped_typing: bool,
    /// What happens to the user's presence.
    pub departure: Departure,
}

/// Whether a user stops being present.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Departure {
    /// Another connection of the user remains: nothing to announce.
    Stays,
    /// The user is gone: announce `left` and the new presence.
    Now(RoomView),
    /// The user's last connection dropped; the user stays present until the grace
    /// period ends, unless they come back. Call [`PresenceStore::expire_grace`] then.
    Grace(GraceTicket),
}

/// Identifies one grace period, so a stale timer cannot end a later one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GraceTicket(u64);

/// What a `typing` event does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypingStart {
    /// Relay `typing` to the room. When `watch` is set, the user just started typing:
    /// watch the deadline with [`PresenceStore::expire_typing`].
    Relay { watch: Option<TypingTicket> },
    /// Relayed recently; the deadline was renewed but nothing is sent.
    Throttled,
}

/// Identifies one stretch of typing, so a stale timer cannot clear a later one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TypingTicket(u64);

/// Where a typing deadline stands when its timer fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypingExpiry {
    /// The typing stretch ended some other way: nothing to do.
    Gone,
    /// It was renewed: wait until this instant and ask again.
    Later(Instant),
    /// It ran out and has been cleared: announce `stop-typing`.
    Expired,
}

/// A room that a closed connection had joined, with the user it had joined as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosedMembership {
    /// The room.
    pub pull_request_id: PullRequestId,
    /// The user the connection had joined as.
    pub username: Username,
}

/// Room state behind one interface, so several nodes can share it later.
///
/// Every method that changes a room must be called while the caller holds that room's
/// lane (see [`crate::lanes`]), so that a room's changes and the emits that report them
/// happen in one order.
pub trait PresenceStore: Send + Sync + 'static {
    /// Registers a new connection.
    fn connect(&self, sid: Sid) -> impl Future<Output = ()> + Send;

    /// Adds the connection to the room as `username`.
    ///
    /// Fails with `username_mismatch` when the connection joined before under another
    /// name, and with `connection_closed` when it has already closed.
    fn join(
        &self,
        sid: Sid,
        room: PullRequestId,
        username: &Username,
    ) -> impl Future<Output = Result<JoinOutcome, Refusal>> + Send;

    /// Removes the connection from the room at once (no grace period).
    ///
    /// Fails with `username_mismatch` or `not_in_room`.
    fn leave(
        &self,
        sid: Sid,
        room: PullRequestId,
        username: &Username,
    ) -> impl Future<Output = Result<LeaveOutcome, Refusal>> + Send;

    /// Checks that the connection may speak in the room as `username`.
    ///
    /// Fails with `username_mismatch` or `not_in_room`.
    fn check_member(
        &self,
        sid: Sid,
        room: PullRequestId,
        username: &Username,
    ) -> impl Future<Output = Result<(), Refusal>> + Send;

    /// Marks the connection closed and returns the rooms it had joined. Joins that arrive
    /// afterwards are refused, so a join racing the close leaves no trace. The caller
    /// then calls [`PresenceStore::drop_connection`] for each room.
    fn close(&self, sid: Sid) -> impl Future<Output = Vec<ClosedMembership>> + Send;

    /// Removes a closed connection from one room, starting a grace period when it was
    /// the user's last connection there (or ending presence at once when `grace` is zero).
    fn drop_connection(
        &self,
        sid: Sid,
        membership: &ClosedMembership,
        grace: Duration,
    ) -> impl Future<Output = LeaveOutcome> + Send;

    /// Ends a grace period. Returns the new presence when the user was still away.
    fn expire_grace(
        &self,
        room: PullRequestId,
        username: &Username,
        ticket: GraceTicket,
    ) -> impl Future<Output = Option<RoomView>> + Send;

    /// Records that the user is typing through this connection.
    ///
    /// Fails as [`PresenceStore::check_member`] does.
    fn start_typing(
        &self,
        sid: Sid,
        room: PullRequestId,
        username: &Username,
        now: Instant,
        timing: TypingTiming,
    ) -> impl Future<Output = Result<TypingStart, Refusal>> + Send;

    /// Clears the user's typing. Returns whether they were typing.
    ///
    /// Fails as [`PresenceStore::check_member`] does.
    fn stop_typing(
        &self,
        sid: Sid,
        room: PullRequestId,
        username: &Username,
    ) -> impl Future<Output = Result<bool, Refusal>> + Send;

    /// Checks a typing deadline, clearing it when it has passed.
    fn expire_typing(
        &self,
        room: PullRequestId,
        username: &Username,
        ticket: TypingTicket,
        now: Instant,
    ) -> impl Future<Output = TypingExpiry> + Send;

    /// The users present in a room.
    fn view(&self, room: PullRequestId) -> impl Future<Output = RoomView> + Send;
}

/// How typing is relayed and cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TypingTiming {
    /// A stretch of typing ends this long after its last renewal.
    pub timeout: Duration,
    /// Repeats within this interval renew the deadline without being relayed.
    pub relay_interval: Duration,
}

/// A [`PresenceStore`] for a single server node, held in memory.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    connections: HashMap<Sid, Connection>,
    rooms: HashMap<PullRequestId, Room>,
    next_ticket: u64,
}

#[derive(Debug, Default)]
struct Connection {
    /// Fixed by the first successful join.
    username: Option<Username>,
    rooms: Vec<PullRequestId>,
}

#[derive(Debug, Default)]
struct Room {
    /// Insertion order is arrival order.
    members: IndexMap<Username, Member>,
}

#[derive(Debug, Default)]
struct Member {
    connections: Vec<Sid>,
    grace: Option<GraceTicket>,
    typing: Option<Typing>,
}

#[derive(Debug, Clone, Copy)]
struct Typing {
    sid: Sid,
    ticket: TypingTicket,
    last_relayed: Instant,
    deadline: Instant,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Every critical section leaves the state consistent before anything can panic,
        // so a poisoned lock still guards valid data.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    fn ticket(&mut self) -> u64 {
        self.next_ticket += 1;
        self.next_ticket
    }

    fn view(&self, room: PullRequestId) -> RoomView {
        let users = self.rooms.get(&room).map_or_else(Vec::new, |room| {
            room.members
                .keys()
                .map(|name| name.as_str().to_owned())
                .collect()
        });
        RoomView { users }
    }

    /// Checks that `sid` joined `room` as `username`.
    fn check_member(
        &self,
        sid: Sid,
        room: PullRequestId,
        username: &Username,
    ) -> Result<(), Refusal> {
        let conn = self.connections.get(&sid).ok_or_else(closed)?;
        check_name(conn, username)?;
        if conn.rooms.contains(&room) {
            Ok(())
        } else {
            Err(not_in_room(room))
        }
    }

    /// Removes `sid` from the member list of `room`, returning what that means.
    fn remove_connection(
        &mut self,
        sid: Sid,
        room: PullRequestId,
        username: &Username,
        grace: Duration,
    ) -> LeaveOutcome {
        let ticket = GraceTicket(self.ticket());
        let Some(entry) = self.rooms.get_mut(&room) else {
            return LeaveOutcome {
                stopped_typing: false,
                departure: Departure::Stays,
            };
        };
        let Some(member) = entry.members.get_mut(username) else {
            return LeaveOutcome {
                stopped_typing: false,
                departure: Departure::Stays,
            };
        };

        member.connections.retain(|&s| s != sid);
        let stopped_typing = member.typing.is_some_and(|t| t.sid == sid);
        if stopped_typing {
            member.typing = None;
        }

        let departure = if !member.connections.is_empty() {
            Departure::Stays
        } else if grace.is_zero() {
            entry.members.shift_remove(username);
            if entry.members.is_empty() {
                self.rooms.remove(&room);
            }
            Departure::Now(self.view(room))
        } else {
            member.grace = Some(ticket);
            Departure::Grace(ticket)
        };
        LeaveOutcome {
            stopped_typing,
            departure,
        }
    }
}

fn check_name(conn: &Connection, username: &Username) -> Result<(), Refusal> {
    match &conn.username {
        Some(fixed) if fixed != username => Err(Refusal::new(
            ErrorCode::UsernameMismatch,
            "this connection joined under another username",
        )),
        _ => Ok(()),
    }
}

fn not_in_room(room: PullRequestId) -> Refusal {
    Refusal::new(ErrorCode::NotInRoom, format!("join pr:{room} first"))
}

fn closed() -> Refusal {
    Refusal::new(ErrorCode::ConnectionClosed, "the connection has closed")
}

impl PresenceStore for MemoryStore {
    async fn connect(&self, sid: Sid) {
        self.state().connections.insert(sid, Connection::default());
    }

    async fn join(
        &self,
        sid: Sid,
        room: PullRequestId,
        username: &Username,
    ) -> Result<JoinOutcome, Refusal> {
        let mut state = self.state();
        let conn = state.connections.get_mut(&sid).ok_or_else(closed)?;
        check_name(conn, username)?;
        if conn.rooms.contains(&room) {
            return Ok(JoinOutcome::AlreadyJoined(state.view(room)));
        }
        conn.username = Some(username.clone());
        conn.rooms.push(room);

        let entry = state.rooms.entry(room).or_default();
        let arrived = !entry.members.contains_key(username);
        let member = entry.members.entry(username.clone()).or_default();
        member.connections.push(sid);
        member.grace = None;

        let view = state.view(room);
        Ok(if arrived {
            JoinOutcome::Arrived(view)
        } else {
            JoinOutcome::Returned(view)
        })
    }

    async fn leave(
        &self,
        sid: Sid,
        room: PullRequestId,
        username: &Username,
    ) -> Result<LeaveOutcome, Refusal> {
        let mut state = self.state();
        state.check_member(sid, room, username)?;
        if let Some(conn) = state.connections.get_mut(&sid) {
            conn.rooms.retain(|&r| r != room);
        }
        Ok(state.remove_connection(sid, room, username, Duration::ZERO))
    }

    async fn check_member(
        &self,
        sid: Sid,
        room: PullRequestId,
        username: &Username,
    ) -> Result<(), Refusal> {
        self.state().check_member(sid, room, username)
    }

    async fn close(&self, sid: Sid) -> Vec<ClosedMembership> {
        let Some(conn) = self.state().connections.remove(&sid) else {
            return Vec::new();
        };
        let Some(username) = conn.username else {
            return Vec::new();
        };
        conn.rooms
            .into_iter()
            .map(|pull_request_id| ClosedMembership {
                pull_request_id,
                username: username.clone(),
            })
            .collect()
    }

    async fn drop_connection(
        &self,
        sid: Sid,
        membership: &ClosedMembership,
        grace: Duration,
    ) -> LeaveOutcome {
        self.state()
            .remove_connection(sid, membership.pull_request_id, &membership.username, grace)
    }

    async fn expire_grace(
        &self,
        room: PullRequestId,
        username: &Username,
        ticket: GraceTicket,
    ) -> Option<RoomView> {
        let mut state = self.state();
        let entry = state.rooms.get_mut(&room)?;
        let member = entry.members.get(username)?;
        if member.grace != Some(ticket) || !member.connections.is_empty() {
            return None;
        }
        entry.members.shift_remove(username);
        if entry.members.is_empty() {
            state.rooms.remove(&room);
        }
        Some(state.view(room))
    }

    async fn start_typing(
        &self,
        sid: Sid,
        room: PullRequestId,
        username: &Username,
        now: Instant,
        timing: TypingTiming,
    ) -> Result<TypingStart, Refusal> {
        let mut state = self.state();
        state.check_member(sid, room, username)?;
        let ticket = TypingTicket(state.ticket());
        let Some(member) = state
            .rooms
            .get_mut(&room)
            .and_then(|r| r.members.get_mut(username))
        else {
            return Err(not_in_room(room));
        };

        let deadline = now + timing.timeout;
        match &mut member.typing {
            Some(typing) => {
                typing.sid = sid;
                typing.deadline = deadline;
                if now.duration_since(typing.last_relayed) < timing.relay_interval {
                    return Ok(TypingStart::Throttled);
                }
                typing.last_relayed = now;
                Ok(TypingStart::Relay { watch: None })
            }
            None => {
                member.typing = Some(Typing {
                    sid,
                    ticket,
                    last_relayed: now,
                    deadline,
                });
                Ok(TypingStart::Relay {
                    watch: Some(ticket),
                })
            }
        }
    }

    async fn stop_typing(
        &self,
        sid: Sid,
        room: PullRequestId,
        username: &Username,
    ) -> Result<bool, Refusal> {
        let mut state = self.state();
        state.check_member(sid, room, username)?;
        let member = state
            .rooms
            .get_mut(&room)
            .and_then(|r| r.members.get_mut(username));
        Ok(member.is_some_and(|m| m.typing.take().is_some()))
    }

    async fn expire_typing(
        &self,
        room: PullRequestId,
        username: &Username,
        ticket: TypingTicket,
        now: Instant,
    ) -> TypingExpiry {
        let mut state = self.state();
        let member = state
            .rooms
            .get_mut(&room)
            .and_then(|r| r.members.get_mut(username));
        let Some(member) = member else {
            return TypingExpiry::Gone;
        };
        match member.typing {
            Some(typing) if typing.ticket == ticket => {
                if typing.deadline > now {
                    TypingExpiry::Later(typing.deadline)
                } else {
                    member.typing = None;
                    TypingExpiry::Expired
                }
            }
            _ => TypingExpiry::Gone,
        }
    }

    async fn view(&self, room: PullRequestId) -> RoomView {
        self.state().view(room)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRACE: Duration = Duration::from_secs(3);
    const TIMING: TypingTiming = TypingTiming {
        timeout: Duration::from_secs(6),
        relay_interval: Duration::from_secs(2),
    };

    fn pr(id: u64) -> PullRequestId {
        PullRequestId::new(id).expect("valid id")
    }

    fn user(name: &str) -> Username {
        Username::new(name).expect("valid name")
    }

    fn users(view: &RoomView) -> Vec<&str> {
        view.users.iter().map(String::as_str).collect()
    }

    async fn connected(store: &MemoryStore) -> Sid {
        let sid = Sid::new();
        store.connect(sid).await;
        sid
    }

    async fn close_all(store: &MemoryStore, sid: Sid, grace: Duration) -> Vec<LeaveOutcome> {
        let mut outcomes = Vec::new();
        for membership in store.close(sid).await {
            outcomes.push(store.drop_connection(sid, &membership, grace).await);
        }
        outcomes
    }

    #[tokio::test]
    async fn users_are_listed_once_in_order_of_arrival() {
        let store = MemoryStore::new();
        let (a, b, a2) = (
            connected(&store).await,
            connected(&store).await,
            connected(&store).await,
        );

        assert!(matches!(
            store.join(b, pr(1), &user("bob")).await,
            Ok(JoinOutcome::Arrived(_))
        ));
        assert!(matches!(
            store.join(a, pr(1), &user("alice")).await,
            Ok(JoinOutcome::Arrived(_))
        ));
        let second_tab = store.join(a2, pr(1), &user("alice")).await;
        let Ok(JoinOutcome::Returned(view)) = second_tab else {
            panic!("{second_tab:?}")
        };
        assert_eq!(users(&view), ["bob", "alice"]);
        assert_eq!(view.user_count(), 2);
    }

    #[tokio::test]
    async fn joining_twice_from_one_connection_changes_nothing() {
        let store = MemoryStore::new();
        let a = connected(&store).await;
        store
            .join(a, pr(1), &user("alice"))
            .await
            .expect("first join");
        let again = store.join(a, pr(1), &user("alice")).await;
        assert!(
            matches!(again, Ok(JoinOutcome::AlreadyJoined(_))),
            "{again:?}"
        );

        // One leave is enough to be gone.
        let out = store.leave(a, pr(1), &user("alice")).await.expect("leave");
        assert_eq!(out.departure, Departure::Now(RoomView::default()));
    }

    #[tokio::test]
    async fn a_connection_keeps_its_first_username() {
        let store = MemoryStore::new();
        let a = connected(&store).await;
        store.join(a, pr(1), &user("alice")).await.expect("join");
        for attempt in [
            store.join(a, pr(2), &user("mallory")).await.map(|_| ()),
            store.check_member(a, pr(1), &user("mallory")).await,
        ] {
            assert_eq!(attempt.unwrap_err().code, ErrorCode::UsernameMismatch);
        }
        assert_eq!(users(&store.view(pr(2)).await), Vec::<&str>::new());
    }

    #[tokio::test]
    async fn speaking_requires_having_joined_that_room() {
        let store = MemoryStore::new();
        let a = connected(&store).await;
        store.join(a, pr(1), &user("alice")).await.expect("join");
        let err = store
            .check_member(a, pr(2), &user("alice"))
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::NotInRoom);
        let err = store.leave(a, pr(2), &user("alice")).await.unwrap_err();
        assert_eq!(err.code, ErrorCode::NotInRoom);
    }

    #[tokio::test]
    async fn closing_one_of_two_tabs_keeps_the_user_present() {
        let store = MemoryStore::new();
        let (a1, a2) = (connected(&store).await, connected(&store).await);
        store.join(a1, pr(1), &user("alice")).await.expect("join");
        store.join(a2, pr(1), &user("alice")).await.expect("join");

        let outcomes = close_all(&store, a1, GRACE).await;
        assert_eq!(outcomes[0].departure, Departure::Stays);
        assert_eq!(users(&store.view(pr(1)).await), ["alice"]);
    }

    #[tokio::test]
    async fn a_dropped_user_stays_present_through_grace_then_leaves() {
        let store = MemoryStore::new();
        let (a, b) = (connected(&store).await, connected(&store).await);
        store.join(a, pr(1), &user("alice")).await.expect("join");
        store.join(b, pr(1), &user("bob")).await.expect("join");

        let outcomes = close_all(&store, a, GRACE).await;
        let Departure::Grace(ticket) = outcomes[0].departure else {
            panic!("{outcomes:?}")
        };
        assert_eq!(users(&store.view(pr(1)).await), ["alice", "bob"]);

        let view = store.expire_grace(pr(1), &user("alice"), ticket).await;
        assert_eq!(view.as_ref().map(users), Some(vec!["bob"]));
        // A second expiry of the same grace period finds nothing to do.
        assert_eq!(
            store.expire_grace(pr(1), &user("alice"), ticket).await,
            None
        );
    }

    #[tokio::test]
    async fn coming_back_within_grace_announces_nothing_and_keeps_the_place() {
        let store = MemoryStore::new();
        let (a, b) = (connected(&store).await, connected(&store).await);
        store.join(a, pr(1), &user("alice")).await.expect("join");
        store.join(b, pr(1), &user("bob")).await.expect("join");
        let outcomes = close_all(&store, a, GRACE).await;
        let Departure::Grace(ticket) = outcomes[0].departure else {
            panic!("{outcomes:?}")
        };

        let back = connected(&store).await;
        let rejoin = store.join(back, pr(1), &user("alice")).await;
        let Ok(JoinOutcome::Returned(view)) = rejoin else {
            panic!("{rejoin:?}")
        };
        assert_eq!(users(&view), ["alice", "bob"]);
        assert_eq!(
            store.expire_grace(pr(1), &user("alice"), ticket).await,
            None
        );
    }

    #[tokio::test]
    async fn zero_grace_removes_the_user_at_once() {
        let store = MemoryStore::new();
        let a = connected(&store).await;
        store.join(a, pr(1), &user("alice")).await.expect("join");
        let outcomes = close_all(&store, a, Duration::ZERO).await;
        assert_eq!(outcomes[0].departure, Departure::Now(RoomView::default()));
    }

    #[tokio::test]
    async fn a_join_after_close_is_refused_and_leaves_no_trace() {
        let store = MemoryStore::new();
        let a = connected(&store).await;
        assert!(store.close(a).await.is_empty());
        let err = store.join(a, pr(1), &user("alice")).await.unwrap_err();
        assert_eq!(err.code, ErrorCode::ConnectionClosed);
        assert_eq!(store.view(pr(1)).await, RoomView::default());
    }

    #[tokio::test(start_paused = true)]
    async fn typing_is_relayed_at_most_once_per_interval_and_expires() {
        let store = MemoryStore::new();
        let a = connected(&store).await;
        store.join(a, pr(1), &user("alice")).await.expect("join");
        let t0 = Instant::now();

        let first = store
            .start_typing(a, pr(1), &user("alice"), t0, TIMING)
            .await;
        let Ok(TypingStart::Relay {
            watch: Some(ticket),
        }) = first
        else {
            panic!("{first:?}")
        };
        let soon = t0 + Duration::from_secs(1);
        let repeat = store
            .start_typing(a, pr(1), &user("alice"), soon, TIMING)
            .await;
        assert_eq!(repeat, Ok(TypingStart::Throttled));
        let later = t0 + Duration::from_secs(3);
        let renewal = store
            .start_typing(a, pr(1), &user("alice"), later, TIMING)
            .await;
        assert_eq!(renewal, Ok(TypingStart::Relay { watch: None }));

        // The deadline moved with the renewal, then passes.
        let at_first_deadline = t0 + TIMING.timeout;
        let expiry = store
            .expire_typing(pr(1), &user("alice"), ticket, at_first_deadline)
            .await;
        assert_eq!(expiry, TypingExpiry::Later(later + TIMING.timeout));
        let after = later + TIMING.timeout;
        let expiry = store
            .expire_typing(pr(1), &user("alice"), ticket, after)
            .await;
        assert_eq!(expiry, TypingExpiry::Expired);
        assert_eq!(store.stop_typing(a, pr(1), &user("alice")).await, Ok(false));
    }

    #[tokio::test(start_paused = true)]
    async fn closing_the_typing_connection_stops_typing() {
        let store = MemoryStore::new();
        let (a1, a2) = (connected(&store).await, connected(&store).await);
        store.join(a1, pr(1), &user("alice")).await.expect("join");
        store.join(a2, pr(1), &user("alice")).await.expect("join");
        store
            .start_typing(a1, pr(1), &user("alice"), Instant::now(), TIMING)
            .await
            .expect("typing");

        let outcomes = close_all(&store, a1, GRACE).await;
        assert!(outcomes[0].stopped_typing);
        assert_eq!(outcomes[0].departure, Departure::Stays);
    }
}
