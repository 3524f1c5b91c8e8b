//! What one widget knows about its room, and the reducer that is the only way to change it.
//!
//! Everything here is pure: time comes in as milliseconds on the actions, so the rules
//! (who is present, which notices are still shown, whose typing has expired) run in native
//! unit tests exactly as they run in the browser.

use std::collections::VecDeque;
use std::rc::Rc;

use diffy_protocol::Username;
use diffy_protocol::payload::{JOINED_SUFFIX, JoinAck, LEFT_INFIX, RoomMessage, joined_notice};
use yew::Reducible;

/// How long a join or leave notice stays in the feed.
pub const NOTICE_TTL_MS: f64 = 8_000.0;
/// The most notices the feed holds; older ones go first.
pub const MAX_NOTICES: usize = 4;
/// How long a `typing` stays shown without a renewal or a `stop-typing`. The server
/// sends `stop-typing` after 6 s; this is the widget's own guard when that is lost.
pub const TYPING_TTL_MS: f64 = 8_000.0;
/// The most chat messages kept in memory.
pub const MAX_MESSAGES: usize = 200;
/// The most unsent messages kept for the composer to take back; it takes them at the next
/// render, so only a burst of refusals between two renders could reach this.
pub const MAX_UNSENT: usize = 16;

/// Where the widget's connection stands, as shown to the person.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Connection {
    /// The first connection is being made.
    Connecting,
    /// Connected and joined: the lists shown are true.
    Live,
    /// The connection dropped; the next try is scheduled.
    Reconnecting {
        /// Consecutive failed tries so far.
        attempt: u32,
        /// When the next try starts, in page milliseconds.
        retry_at_ms: f64,
    },
    /// Several tries in a row failed; tries go on at the backoff's cap.
    Offline {
        /// When the next try starts, in page milliseconds.
        retry_at_ms: f64,
    },
    /// The server refused this widget's settings (for example an invalid name); no retry.
    Refused,
}

/// After how many failed tries in a row the state reads "offline" instead of "reconnecting".
pub const OFFLINE_AFTER_ATTEMPTS: u32 = 4;

/// Whether a notice says someone came or went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    /// A `joined` notice.
    Joined,
    /// A `left` notice.
    Left,
}

/// One line of the join/leave feed.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    /// Unique within the widget, for keyed rendering.
    pub id: u64,
    /// Came or went.
    pub kind: NoticeKind,
    /// The server's text, shown as is.
    pub text: String,
    /// When it arrived, in page milliseconds.
    pub at_ms: f64,
}

impl Notice {
    /// The notice as the name it is about and the rest of the sentence, so that a narrow
    /// feed can shorten a long name and still say whether that person came or went. A text
    /// that does not read as the contract says is returned whole as the first part.
    pub fn parts(&self) -> (&str, &str) {
        let name_len = match self.kind {
            NoticeKind::Joined => self.text.strip_suffix(JOINED_SUFFIX).map(str::len),
            NoticeKind::Left => self
                .text
                .rsplit_once(LEFT_INFIX)
                .filter(|(_, id)| !id.is_empty() && id.bytes().all(|byte| byte.is_ascii_digit()))
                .map(|(name, _)| name.len()),
        };
        match name_len {
            Some(len) if len > 0 => self.text.split_at(len),
            _ => (&self.text, ""),
        }
    }
}

/// A chat message as shown.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatLine {
    /// The server's id, unique and time-ordered.
    pub id: String,
    /// The author.
    pub username: String,
    /// The text, exactly as sent.
    pub message: String,
    /// When the server accepted it, in milliseconds since the Unix epoch.
    pub sent_at: u64,
    /// Whether the local user wrote it.
    pub mine: bool,
}

/// An error to show, from the server or from the widget itself.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// Unique within the widget, so that the same error twice still re-announces.
    pub id: u64,
    /// What to tell the person.
    pub text: String,
}

/// Everything one widget shows.
#[derive(Debug, Clone, PartialEq)]
pub struct PresenceState {
    /// The local user's name.
    pub me: String,
    /// The connection as shown.
    pub connection: Connection,
    /// The users present, in order of arrival, each once.
    pub users: Vec<String>,
    /// The server's count of distinct users present.
    pub user_count: usize,
    /// The join/leave feed, oldest first.
    pub notices: VecDeque<Notice>,
    /// Who is typing (never the local user), with when each entry expires.
    pub typing: Vec<(String, f64)>,
    /// The chat, oldest first.
    pub messages: VecDeque<ChatLine>,
    /// The error shown, if any.
    pub problem: Option<Problem>,
    /// Why the server refused the widget for good, once it has; the bar keeps showing it.
    pub refusal: Option<String>,
    /// The local user's messages that did not reach the room, newest last, for the
    /// composer to take back; ids rise, so a composer takes those past the last it took.
    pub unsent: VecDeque<Unsent>,
    next_id: u64,
}

/// The composer's text after taking back unsent messages: them first, oldest first, each
/// on its own line, then whatever was typed since.
pub fn taken_back(returned: &[&str], typed: &str) -> String {
    let mut parts = returned.to_vec();
    if !typed.trim().is_empty() {
        parts.push(typed);
    }
    parts.join("\n")
}

/// A message of the local user's that the server refused or never confirmed.
#[derive(Debug, Clone, PartialEq)]
pub struct Unsent {
    /// Unique within the widget, rising.
    pub id: u64,
    /// The text as written.
    pub text: String,
}

/// Everything that can happen to a widget's state.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// A connection attempt started.
    Connecting,
    /// The server accepted the join: the widget is live with this list.
    Joined(JoinAck),
    /// The connection dropped; a retry is scheduled.
    Lost {
        /// Consecutive failed tries so far, the current one included.
        attempt: u32,
        /// When the next try starts.
        retry_at_ms: f64,
    },
    /// The server refused the widget's settings; nothing will be retried.
    Refused(String),
    /// `user-count`.
    UserCount(usize),
    /// `active-users`.
    ActiveUsers(Vec<String>),
    /// `joined`, with its text.
    JoinedNotice(String, f64),
    /// `left`, with its text.
    LeftNotice(String, f64),
    /// `typing` from a user.
    Typing(String, f64),
    /// `stop-typing` from a user.
    StopTyping(String),
    /// `pr-room-message`.
    Message(RoomMessage),
    /// An error to show (an ack error, an `exception`, or a local refusal).
    Problem(String),
    /// The local user's message did not reach the room: show why and hand it back.
    Unsent {
        /// The message as written.
        text: String,
        /// Why, for the person.
        reason: String,
    },
    /// The person dismissed the error.
    DismissProblem,
    /// Time passed: drop expired notices and typing entries.
    Tick(f64),
}

impl PresenceState {
    /// The state of a widget that has not connected yet.
    pub fn new(me: impl Into<String>) -> Self {
        Self {
            me: me.into(),
            connection: Connection::Connecting,
            users: Vec::new(),
            user_count: 0,
            notices: VecDeque::new(),
            typing: Vec::new(),
            messages: VecDeque::new(),
            problem: None,
            refusal: None,
            unsent: VecDeque::new(),
            next_id: 0,
        }
    }

    /// Applies one action. Returns `false` when nothing changed, so callers can skip a render.
    pub fn apply(&mut self, action: Action) -> bool {
        match action {
            Action::Connecting => self.set_connection(Connection::Connecting),
            Action::Joined(ack) => {
                self.connection = Connection::Live;
                self.users = dedup_in_order(ack.users);
                self.user_count = ack.user_count;
                // Typing relayed before the drop may never see its stop.
                self.typing.clear();
                true
            }
            Action::Lost {
                attempt,
                retry_at_ms,
            } => {
                let connection = if attempt >= OFFLINE_AFTER_ATTEMPTS {
                    Connection::Offline { retry_at_ms }
                } else {
                    Connection::Reconnecting {
                        attempt,
                        retry_at_ms,
                    }
                };
                self.typing.clear();
                self.set_connection(connection);
                true
            }
            Action::Refused(text) => {
                self.connection = Connection::Refused;
                self.refusal = Some(text.clone());
                self.show_problem(text);
                true
            }
            Action::UserCount(count) => replace(&mut self.user_count, count),
            Action::ActiveUsers(users) => replace(&mut self.users, dedup_in_order(users)),
            Action::JoinedNotice(text, now) => self.push_notice(NoticeKind::Joined, text, now),
            Action::LeftNotice(text, now) => self.push_notice(NoticeKind::Left, text, now),
            Action::Typing(username, now) => {
                if username == self.me {
                    return false;
                }
                let expires = now + TYPING_TTL_MS;
                match self.typing.iter_mut().find(|(name, _)| *name == username) {
                    Some(entry) => entry.1 = expires,
                    None => self.typing.push((username, expires)),
                }
                true
            }
            Action::StopTyping(username) => {
                let before = self.typing.len();
                self.typing.retain(|(name, _)| *name != username);
                self.typing.len() != before
            }
            Action::Message(message) => {
                if self.messages.iter().any(|line| line.id == message.id) {
                    return false;
                }
                // A message ends its author's typing even if the stop is lost.
                self.typing.retain(|(name, _)| *name != message.username);
                let mine = message.username == self.me;
                self.messages.push_back(ChatLine {
                    id: message.id,
                    username: message.username,
                    message: message.message,
                    sent_at: message.sent_at,
                    mine,
                });
                while self.messages.len() > MAX_MESSAGES {
                    self.messages.pop_front();
                }
                true
            }
            Action::Problem(text) => {
                self.show_problem(text);
                true
            }
            Action::Unsent { text, reason } => {
                self.show_problem(reason);
                let id = self.fresh_id();
                self.unsent.push_back(Unsent { id, text });
                while self.unsent.len() > MAX_UNSENT {
                    self.unsent.pop_front();
                }
                true
            }
            Action::DismissProblem => self.problem.take().is_some(),
            Action::Tick(now) => {
                let (notices, typing) = (self.notices.len(), self.typing.len());
                self.notices
                    .retain(|notice| now - notice.at_ms < NOTICE_TTL_MS);
                self.typing.retain(|(_, expires)| *expires > now);
                notices != self.notices.len() || typing != self.typing.len()
            }
        }
    }

    /// The typing line: "alice is typing…", "alice and bob are typing…", or `None`.
    pub fn typing_line(&self) -> Option<String> {
        let names: Vec<&str> = self.typing.iter().map(|(name, _)| name.as_str()).collect();
        match names.as_slice() {
            [] => None,
            [one] => Some(format!("{one} is typing…")),
            [one, two] => Some(format!("{one} and {two} are typing…")),
            [one, two, rest @ ..] => {
                let others = rest.len();
                let noun = if others == 1 { "other" } else { "others" };
                Some(format!("{one}, {two} and {others} {noun} are typing…"))
            }
        }
    }

    fn set_connection(&mut self, connection: Connection) -> bool {
        replace(&mut self.connection, connection)
    }

    fn push_notice(&mut self, kind: NoticeKind, text: String, now: f64) -> bool {
        // The local user's own join is shown by the status pill, not the feed.
        let own_join = Username::new(&self.me).map(|me| joined_notice(&me));
        if kind == NoticeKind::Joined && own_join.as_ref() == Ok(&text) {
            return false;
        }
        let id = self.fresh_id();
        self.notices.push_back(Notice {
            id,
            kind,
            text,
            at_ms: now,
        });
        while self.notices.len() > MAX_NOTICES {
            self.notices.pop_front();
        }
        true
    }

    fn show_problem(&mut self, text: String) {
        let id = self.fresh_id();
        self.problem = Some(Problem { id, text });
    }

    fn fresh_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }
}

impl Reducible for PresenceState {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let mut next = (*self).clone();
        if next.apply(action) {
            Rc::new(next)
        } else {
            self
        }
    }
}

fn replace<T: PartialEq>(slot: &mut T, value: T) -> bool {
    if *slot == value {
        return false;
    }
    *slot = value;
    true
}

fn dedup_in_order(users: Vec<String>) -> Vec<String> {
    let mut seen = Vec::with_capacity(users.len());
    for user in users {
        if !seen.contains(&user) {
            seen.push(user);
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use diffy_protocol::PullRequestId;
    use diffy_protocol::payload::left_notice;

    use super::*;

    fn message(id: &str, username: &str, text: &str) -> RoomMessage {
        RoomMessage {
            username: username.to_owned(),
            message: text.to_owned(),
            id: id.to_owned(),
            sent_at: 1_700_000_000_000,
        }
    }

    fn joined(users: &[&str]) -> Action {
        Action::Joined(JoinAck {
            pull_request_id: PullRequestId::new(7).unwrap(),
            user_count: users.len(),
            users: users.iter().map(|u| (*u).to_owned()).collect(),
        })
    }

    #[test]
    fn join_ack_makes_the_widget_live_with_the_servers_list() {
        let mut state = PresenceState::new("alice");
        assert_eq!(state.connection, Connection::Connecting);
        assert!(state.apply(joined(&["bob", "alice"])));
        assert_eq!(state.connection, Connection::Live);
        assert_eq!(state.users, ["bob", "alice"]);
        assert_eq!(state.user_count, 2);
    }

    #[test]
    fn presence_updates_replace_the_list_and_count() {
        let mut state = PresenceState::new("alice");
        state.apply(joined(&["alice"]));
        assert!(state.apply(Action::ActiveUsers(vec![
            "alice".into(),
            "bob".into(),
            "bob".into()
        ])));
        assert!(state.apply(Action::UserCount(2)));
        assert_eq!(state.users, ["alice", "bob"]);
        assert_eq!(state.user_count, 2);
        assert!(
            !state.apply(Action::UserCount(2)),
            "an unchanged count changes nothing"
        );
    }

    #[test]
    fn lost_connection_reads_reconnecting_then_offline() {
        let mut state = PresenceState::new("alice");
        state.apply(joined(&["alice"]));
        state.apply(Action::Lost {
            attempt: 1,
            retry_at_ms: 500.0,
        });
        assert_eq!(
            state.connection,
            Connection::Reconnecting {
                attempt: 1,
                retry_at_ms: 500.0
            }
        );
        state.apply(Action::Lost {
            attempt: OFFLINE_AFTER_ATTEMPTS,
            retry_at_ms: 9.0,
        });
        assert_eq!(state.connection, Connection::Offline { retry_at_ms: 9.0 });
        state.apply(joined(&["alice", "bob"]));
        assert_eq!(state.connection, Connection::Live);
    }

    #[test]
    fn notices_feed_keeps_the_newest_and_fades_them_out() {
        let mut state = PresenceState::new("alice");
        for (i, name) in ["b", "c", "d", "e", "f"].iter().enumerate() {
            state.apply(Action::JoinedNotice(
                format!("{name} has joined the chat"),
                i as f64,
            ));
        }
        assert_eq!(state.notices.len(), MAX_NOTICES);
        assert_eq!(state.notices[0].text, "c has joined the chat");

        assert!(!state.apply(Action::Tick(NOTICE_TTL_MS - 1.0)));
        assert!(state.apply(Action::Tick(NOTICE_TTL_MS + 3.5)));
        assert_eq!(state.notices.len(), 1);
        assert_eq!(state.notices[0].text, "f has joined the chat");
    }

    #[test]
    fn own_join_notice_stays_out_of_the_feed_but_others_notices_stay_in() {
        let mut state = PresenceState::new("alice");
        assert!(!state.apply(Action::JoinedNotice(
            "alice has joined the chat".into(),
            0.0
        )));
        assert!(state.apply(Action::LeftNotice("bob left PR 7".into(), 0.0)));
        assert_eq!(state.notices[0].kind, NoticeKind::Left);
    }

    #[test]
    fn notice_parts_split_off_the_name_and_keep_odd_texts_whole() {
        let notice = |kind, text: &str| Notice {
            id: 0,
            kind,
            text: text.to_owned(),
            at_ms: 0.0,
        };
        let name = Username::new("Mary Ann left PR 5").unwrap();
        let pr = PullRequestId::new(12).unwrap();

        let joined = notice(NoticeKind::Joined, &joined_notice(&name));
        assert_eq!(
            joined.parts(),
            ("Mary Ann left PR 5", " has joined the chat")
        );
        let left = notice(NoticeKind::Left, &left_notice(&name, pr));
        assert_eq!(left.parts(), ("Mary Ann left PR 5", " left PR 12"));

        // Anything else is shown whole, in the part that may be shortened.
        for (kind, text) in [
            (NoticeKind::Joined, "bob joined"),
            (NoticeKind::Joined, " has joined the chat"),
            (NoticeKind::Left, "bob left PR "),
            (NoticeKind::Left, "bob left PR 7a"),
            (NoticeKind::Left, "bob has joined the chat"),
        ] {
            assert_eq!(notice(kind, text).parts(), (text, ""));
        }
    }

    #[test]
    fn typing_line_names_one_two_or_many() {
        let mut state = PresenceState::new("me");
        assert_eq!(state.typing_line(), None);
        state.apply(Action::Typing("alice".into(), 0.0));
        assert_eq!(state.typing_line().as_deref(), Some("alice is typing…"));
        state.apply(Action::Typing("bob".into(), 0.0));
        assert_eq!(
            state.typing_line().as_deref(),
            Some("alice and bob are typing…")
        );
        state.apply(Action::Typing("carol".into(), 0.0));
        assert_eq!(
            state.typing_line().as_deref(),
            Some("alice, bob and 1 other are typing…")
        );
        state.apply(Action::Typing("dan".into(), 0.0));
        assert_eq!(
            state.typing_line().as_deref(),
            Some("alice, bob and 2 others are typing…")
        );
    }

    #[test]
    fn own_typing_echo_is_ignored() {
        let mut state = PresenceState::new("me");
        assert!(!state.apply(Action::Typing("me".into(), 0.0)));
        assert_eq!(state.typing_line(), None);
    }

    #[test]
    fn typing_expires_by_itself_unless_renewed() {
        let mut state = PresenceState::new("me");
        state.apply(Action::Typing("alice".into(), 0.0));
        state.apply(Action::Typing("bob".into(), 0.0));
        state.apply(Action::Typing("alice".into(), 5_000.0));
        state.apply(Action::Tick(TYPING_TTL_MS + 1.0));
        assert_eq!(state.typing_line().as_deref(), Some("alice is typing…"));
        state.apply(Action::Tick(5_000.0 + TYPING_TTL_MS + 1.0));
        assert_eq!(state.typing_line(), None);
    }

    #[test]
    fn stop_typing_and_a_message_both_clear_the_author() {
        let mut state = PresenceState::new("me");
        state.apply(Action::Typing("alice".into(), 0.0));
        state.apply(Action::Typing("bob".into(), 0.0));
        assert!(state.apply(Action::StopTyping("alice".into())));
        assert!(!state.apply(Action::StopTyping("alice".into())));
        state.apply(Action::Message(message("1", "bob", "LGTM")));
        assert_eq!(state.typing_line(), None);
    }

    #[test]
    fn messages_are_kept_once_marked_mine_and_capped() {
        let mut state = PresenceState::new("me");
        assert!(state.apply(Action::Message(message("1", "me", "hi"))));
        assert!(
            !state.apply(Action::Message(message("1", "me", "hi"))),
            "duplicate id"
        );
        state.apply(Action::Message(message("2", "bob", "<b>hey</b>")));
        assert!(state.messages[0].mine);
        assert!(!state.messages[1].mine);
        assert_eq!(state.messages[1].message, "<b>hey</b>");

        for i in 0..MAX_MESSAGES {
            state.apply(Action::Message(message(&format!("m{i}"), "bob", "x")));
        }
        assert_eq!(state.messages.len(), MAX_MESSAGES);
        assert_eq!(state.messages[0].id, "m0");
    }

    #[test]
    fn a_drop_clears_typing_that_may_never_be_stopped() {
        let mut state = PresenceState::new("me");
        state.apply(Action::Typing("alice".into(), 0.0));
        state.apply(Action::Lost {
            attempt: 1,
            retry_at_ms: 1.0,
        });
        assert_eq!(state.typing_line(), None);
    }

    #[test]
    fn an_unsent_message_is_shown_as_a_problem_and_kept_for_the_composer() {
        let mut state = PresenceState::new("me");
        for text in ["first", "second"] {
            assert!(state.apply(Action::Unsent {
                text: text.into(),
                reason: "Message not sent: slow down (rate_limited)".into(),
            }));
        }
        let texts: Vec<&str> = state.unsent.iter().map(|u| u.text.as_str()).collect();
        assert_eq!(texts, ["first", "second"]);
        assert!(state.unsent[0].id < state.unsent[1].id);
        assert_eq!(
            state.problem.as_ref().map(|p| p.text.as_str()),
            Some("Message not sent: slow down (rate_limited)")
        );
        for i in 0..MAX_UNSENT {
            state.apply(Action::Unsent {
                text: format!("m{i}"),
                reason: "r".into(),
            });
        }
        assert_eq!(state.unsent.len(), MAX_UNSENT);
        assert_eq!(state.unsent.back().map(|u| u.text.as_str()), Some("m15"));
    }

    #[test]
    fn taken_back_messages_come_before_what_was_typed_since() {
        assert_eq!(taken_back(&["first"], ""), "first");
        assert_eq!(taken_back(&["first", "second"], "  "), "first\nsecond");
        assert_eq!(taken_back(&["first"], "third"), "first\nthird");
    }

    #[test]
    fn problems_are_shown_until_dismissed_and_refusal_stops_the_widget() {
        let mut state = PresenceState::new("me");
        state.apply(Action::Problem("rate_limited: slow down".into()));
        let first = state.problem.clone().unwrap();
        state.apply(Action::Problem("rate_limited: slow down".into()));
        assert_ne!(
            state.problem.as_ref().unwrap().id,
            first.id,
            "a repeat is a new alert"
        );
        assert!(state.apply(Action::DismissProblem));
        assert!(!state.apply(Action::DismissProblem));

        state.apply(Action::Refused("invalid_username: bad".into()));
        assert_eq!(state.connection, Connection::Refused);
        assert_eq!(state.refusal.as_deref(), Some("invalid_username: bad"));
        assert!(state.problem.is_some());
        // Dismissing the alert leaves the reason in the bar.
        state.apply(Action::DismissProblem);
        assert_eq!(state.refusal.as_deref(), Some("invalid_username: bad"));
    }

    #[test]
    fn reducer_keeps_the_same_state_when_nothing_changed() {
        let state = Rc::new(PresenceState::new("me"));
        let same = Rc::clone(&state).reduce(Action::Tick(0.0));
        assert!(Rc::ptr_eq(&state, &same));
        let changed = Rc::clone(&state).reduce(Action::UserCount(3));
        assert!(!Rc::ptr_eq(&state, &changed));
    }
}
