//! The widget's connection: one browser WebSocket speaking Engine.IO v4 and Socket.IO v5,
//! kept alive by heartbeats, replaced with backoff when it drops, and re-joined each time.
//!
//! Ownership is what keeps this leak-free: a [`Client`] owns the state (`Inner`), `Inner` owns
//! the live [`Socket`] and the timers, and every browser callback holds only a weak reference
//! plus the generation it was made for. Dropping the `Client` therefore closes the socket,
//! cancels the timers and frees every closure; a callback of a replaced socket finds a newer
//! generation and does nothing.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::{Rc, Weak};

use diffy_protocol::codec::{DEFAULT_NAMESPACE, EnginePacket, SocketBody, SocketPacket};
use diffy_protocol::payload::{
    Ack, Exception, JoinAck, MessageAck, RoomMessage, TypingAck, TypingNotice, UserCount,
};
use diffy_protocol::{ErrorCode, MessageText, PullRequestId, Refusal, Username, event};
use gloo_timers::callback::Timeout;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{CloseEvent, Event, MessageEvent, WebSocket};
use yew::Callback;

use crate::backoff::Backoff;
use crate::state::Action;

/// How long a new socket may take to receive the server's `open` packet.
const OPEN_TIMEOUT_MS: u32 = 10_000;

/// Where and as whom a widget connects.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// The server's origin, `http(s)://host[:port]`.
    pub server: String,
    /// The pull request whose room to join.
    pub pull_request_id: PullRequestId,
    /// The local user.
    pub username: Username,
    /// How long to wait before each reconnect.
    pub backoff: Backoff,
}

/// What the person can ask the room.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Send a chat message.
    Message(MessageText),
    /// Tell the room the local user is typing.
    Typing,
    /// Tell the room the local user stopped typing.
    StopTyping,
}

/// The WebSocket URL of a server given by its origin (or any URL under it).
pub fn socket_url(server: &str) -> String {
    let server = server.trim().trim_end_matches('/');
    let rest = server
        .strip_prefix("https://")
        .map(|rest| format!("wss://{rest}"))
        .or_else(|| {
            server
                .strip_prefix("http://")
                .map(|rest| format!("ws://{rest}"))
        })
        .unwrap_or_else(|| server.to_owned());
    format!("{rest}/socket.io/?EIO=4&transport=websocket")
}

/// A running connection. Dropping it leaves the room and releases everything.
pub struct Client {
    inner: Rc<RefCell<Inner>>,
}

impl Client {
    /// Starts connecting at once; progress and room events arrive through `dispatch`.
    pub fn start(options: Options, dispatch: Callback<Action>) -> Self {
        let inner = Rc::new_cyclic(|weak| {
            RefCell::new(Inner {
                options,
                dispatch,
                weak: weak.clone(),
                generation: 0,
                socket: None,
                phase: Phase::Idle,
                attempt: 0,
                dead_timer: None,
                dead_after_ms: None,
                retry_timer: None,
                next_ack_id: 0,
                pending: HashMap::new(),
                outbox: Vec::new(),
            })
        });
        with_inner(&Rc::downgrade(&inner), Inner::connect);
        Self { inner }
    }

    /// Sends a command to the room.
    ///
    /// Fails with a sentence for the person when the widget is not live.
    pub fn send(&self, command: Command) -> Result<(), String> {
        let weak = Rc::downgrade(&self.inner);
        with_inner(&weak, |inner| inner.send(command)).unwrap_or_else(|| Err(NOT_LIVE.to_owned()))
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if let Ok(mut inner) = self.inner.try_borrow_mut() {
            inner.shut_down();
        }
    }
}

const NOT_LIVE: &str = "Not connected right now; your message was not sent.";

const UNANSWERED: &str =
    "The connection dropped before the server confirmed your message; it is back in the box.";

/// Where the current socket is in the handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No socket (waiting to retry, refused, or shut down).
    Idle,
    /// The socket is opening; waiting for Engine.IO `open`.
    Opening,
    /// Sent the Socket.IO connect; waiting for the namespace to accept.
    Connecting,
    /// Sent `join-pr-room`; waiting for its acknowledgement.
    Joining,
    /// Joined: events may be sent.
    Live,
    /// Refused by the server for good, or shut down: no retries.
    Stopped,
}

/// What an outstanding acknowledgement belongs to.
#[derive(Debug, Clone)]
enum Pending {
    Join,
    /// A chat message, kept until the server accepts it so a refused or lost one can be
    /// handed back to the person who wrote it.
    Message(String),
    Typing,
}

struct Inner {
    options: Options,
    dispatch: Callback<Action>,
    weak: Weak<RefCell<Inner>>,
    /// Bumped whenever the socket is replaced or dropped; callbacks carry the value they
    /// were made with and are ignored once it is stale.
    generation: u64,
    socket: Option<Socket>,
    phase: Phase,
    /// Consecutive failed connections; reset by a successful join.
    attempt: u32,
    dead_timer: Option<Timeout>,
    /// `pingInterval + pingTimeout` of the current session, once it is open.
    dead_after_ms: Option<u32>,
    retry_timer: Option<Timeout>,
    next_ack_id: u64,
    pending: HashMap<u64, Pending>,
    /// Actions gathered while `Inner` is borrowed, dispatched once it is released, so that
    /// a render triggered by the dispatch can never find `Inner` borrowed.
    outbox: Vec<Action>,
}

/// Runs `f` on the state if it still exists, then dispatches the actions it produced.
fn with_inner<T>(weak: &Weak<RefCell<Inner>>, f: impl FnOnce(&mut Inner) -> T) -> Option<T> {
    let inner = weak.upgrade()?;
    let (result, actions, dispatch) = {
        let mut inner = inner.try_borrow_mut().ok()?;
        let result = f(&mut inner);
        (
            result,
            std::mem::take(&mut inner.outbox),
            inner.dispatch.clone(),
        )
    };
    for action in actions {
        dispatch.emit(action);
    }
    Some(result)
}

impl Inner {
    fn connect(&mut self) {
        self.retry_timer = None;
        self.drop_socket();
        self.outbox.push(Action::Connecting);

        let generation = self.generation;
        match Socket::open(&socket_url(&self.options.server), &self.weak, generation) {
            Ok(socket) => {
                self.socket = Some(socket);
                self.phase = Phase::Opening;
                self.arm_dead_timer(OPEN_TIMEOUT_MS);
            }
            // The constructor throws only on a malformed URL, which no retry fixes.
            Err(reason) => self.refuse(format!("Cannot reach the presence server: {reason}")),
        }
    }

    fn on_frame(&mut self, generation: u64, text: &str) {
        if generation != self.generation {
            return;
        }
        match EnginePacket::decode(text) {
            Ok(EnginePacket::Open(info)) => {
                self.phase = Phase::Connecting;
                self.arm_dead_timer(u32::try_from(info.dead_after_ms()).unwrap_or(u32::MAX));
                self.transmit(&SocketPacket::connect().encode_frame());
            }
            Ok(EnginePacket::Ping(data)) => {
                // Answered at once, inside the handler: a late pong gets the socket closed.
                self.transmit(&EnginePacket::Pong(data).encode());
                if let Some(after) = self.dead_after_ms {
                    self.arm_dead_timer(after);
                }
            }
            Ok(EnginePacket::Message(data)) => match SocketPacket::decode(&data) {
                Ok(packet) if packet.namespace == DEFAULT_NAMESPACE => self.on_packet(packet.body),
                Ok(_) => {}
                Err(err) => warn(&format!("diffy: ignored a malformed packet: {err}")),
            },
            Ok(EnginePacket::Close) => self.lost(),
            Ok(_) => {}
            Err(err) => warn(&format!("diffy: ignored a malformed frame: {err}")),
        }
    }

    fn on_packet(&mut self, body: SocketBody) {
        match body {
            SocketBody::Connect(_) => {
                self.phase = Phase::Joining;
                let payload = self.room_payload();
                self.emit(event::JOIN_PR_ROOM, payload, Some(Pending::Join));
            }
            SocketBody::ConnectError(data) => {
                let message = data
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("refused");
                self.refuse(format!(
                    "The presence server refused the connection: {message}"
                ));
            }
            SocketBody::Disconnect => self.lost(),
            SocketBody::Event { name, mut args, .. } => {
                let payload = if args.is_empty() {
                    Value::Null
                } else {
                    args.swap_remove(0)
                };
                self.on_event(&name, payload);
            }
            SocketBody::Ack { args, ack_id } => {
                if let (Some(pending), Some(payload)) = (self.pending.remove(&ack_id), args.first())
                {
                    self.on_ack(pending, payload.clone());
                }
            }
        }
    }

    fn on_event(&mut self, name: &str, payload: Value) {
        let now = js_sys::Date::now();
        let action = match name {
            event::JOINED => parse::<String>(payload).map(|text| Action::JoinedNotice(text, now)),
            event::LEFT => parse::<String>(payload).map(|text| Action::LeftNotice(text, now)),
            event::USER_COUNT => {
                parse::<UserCount>(payload).map(|c| Action::UserCount(c.user_count))
            }
            event::ACTIVE_USERS => parse::<Vec<String>>(payload).map(Action::ActiveUsers),
            event::PR_ROOM_MESSAGE => parse::<RoomMessage>(payload).map(|message| {
                if message.username == self.options.username.as_str() {
                    self.delivered(&message.message);
                }
                Action::Message(message)
            }),
            event::TYPING => {
                parse::<TypingNotice>(payload).map(|notice| Action::Typing(notice.username, now))
            }
            event::STOP_TYPING => {
                parse::<TypingNotice>(payload).map(|notice| Action::StopTyping(notice.username))
            }
            event::EXCEPTION => parse::<Exception>(payload).map(|exception| {
                let refusal = Refusal::new(exception.code, exception.message);
                Action::Problem(describe_refusal(&exception.event, &refusal))
            }),
            _ => None,
        };
        if let Some(action) = action {
            self.outbox.push(action);
        }
    }

    fn on_ack(&mut self, pending: Pending, payload: Value) {
        match pending {
            Pending::Join => match parse::<Ack<JoinAck>>(payload) {
                Some(Ack::Ok(ack)) => {
                    self.phase = Phase::Live;
                    self.attempt = 0;
                    self.outbox.push(Action::Joined(ack));
                }
                Some(Ack::Err(refusal)) if refusal.code == ErrorCode::RateLimited => {
                    self.outbox.push(Action::Problem(describe_refusal(
                        event::JOIN_PR_ROOM,
                        &refusal,
                    )));
                    self.lost();
                }
                Some(Ack::Err(refusal)) => {
                    self.refuse(describe_refusal(event::JOIN_PR_ROOM, &refusal));
                }
                None => self.lost(),
            },
            Pending::Message(text) => {
                if let Some(Ack::Err(refusal)) = parse::<Ack<MessageAck>>(payload) {
                    let reason = describe_refusal(event::SEND_MESSAGE_TO_PR_ROOM, &refusal);
                    self.outbox.push(Action::Unsent { text, reason });
                }
            }
            Pending::Typing => {
                if let Some(Ack::Err(refusal)) = parse::<Ack<TypingAck>>(payload) {
                    self.outbox
                        .push(Action::Problem(describe_refusal(event::TYPING, &refusal)));
                }
            }
        }
    }

    /// One of the local user's messages reached the room: it need not be handed back if
    /// the connection drops before its acknowledgement.
    fn delivered(&mut self, text: &str) {
        let oldest = self
            .pending
            .iter()
            .filter(|(_, pending)| matches!(pending, Pending::Message(sent) if sent == text))
            .map(|(id, _)| *id)
            .min();
        if let Some(id) = oldest {
            self.pending.remove(&id);
        }
    }

    fn send(&mut self, command: Command) -> Result<(), String> {
        if self.phase != Phase::Live {
            return Err(NOT_LIVE.to_owned());
        }
        let mut payload = self.room_payload();
        match command {
            Command::Message(text) => {
                let text = text.into_string();
                payload["message"] = Value::String(text.clone());
                self.emit(
                    event::SEND_MESSAGE_TO_PR_ROOM,
                    payload,
                    Some(Pending::Message(text)),
                );
            }
            Command::Typing => self.emit(event::TYPING, payload, Some(Pending::Typing)),
            Command::StopTyping => self.emit(event::STOP_TYPING, payload, Some(Pending::Typing)),
        }
        Ok(())
    }

    fn room_payload(&self) -> Value {
        json!({
            "pullRequestId": self.options.pull_request_id.get(),
            "username": self.options.username.as_str(),
        })
    }

    fn emit(&mut self, name: &str, payload: Value, pending: Option<Pending>) {
        let ack_id = pending.map(|pending| {
            let id = self.next_ack_id;
            self.next_ack_id += 1;
            self.pending.insert(id, pending);
            id
        });
        self.transmit(&SocketPacket::event(name, payload, ack_id).encode_frame());
    }

    fn transmit(&mut self, frame: &str) {
        let sent = self
            .socket
            .as_ref()
            .map(|socket| socket.ws.send_with_str(frame).is_ok());
        if sent == Some(false) {
            self.lost();
        }
    }

    /// The connection is gone: schedule the next try.
    fn lost(&mut self) {
        if matches!(self.phase, Phase::Idle | Phase::Stopped) {
            return;
        }
        self.drop_socket();
        self.phase = Phase::Idle;
        self.attempt = self.attempt.saturating_add(1);

        let delay = self
            .options
            .backoff
            .delay_ms(self.attempt, js_sys::Math::random());
        self.outbox.push(Action::Lost {
            attempt: self.attempt,
            retry_at_ms: js_sys::Date::now() + delay,
        });
        let weak = self.weak.clone();
        self.retry_timer = Some(Timeout::new(delay as u32, move || {
            with_inner(&weak, Inner::connect);
        }));
    }

    /// The server refused this widget's settings: show why and stop for good.
    fn refuse(&mut self, text: String) {
        self.drop_socket();
        self.phase = Phase::Stopped;
        self.retry_timer = None;
        self.outbox.push(Action::Refused(text));
    }

    fn arm_dead_timer(&mut self, after_ms: u32) {
        self.dead_after_ms = Some(after_ms);
        let (weak, generation) = (self.weak.clone(), self.generation);
        self.dead_timer = Some(Timeout::new(after_ms, move || {
            with_inner(&weak, |inner| {
                if inner.generation == generation {
                    inner.lost();
                }
            });
        }));
    }

    /// Closes the current socket, if any, and makes every callback made for it stale.
    fn drop_socket(&mut self) {
        self.generation += 1;
        self.socket = None;
        self.dead_timer = None;
        self.dead_after_ms = None;
        // Messages the server never answered may not have reached the room: hand them
        // back, oldest first, as one.
        let oldest = self
            .pending
            .keys()
            .min()
            .copied()
            .unwrap_or(self.next_ack_id);
        let mut unanswered = String::new();
        for id in oldest..self.next_ack_id {
            if let Some(Pending::Message(text)) = self.pending.remove(&id) {
                if !unanswered.is_empty() {
                    unanswered.push('\n');
                }
                unanswered.push_str(&text);
            }
        }
        self.pending.clear();
        if !unanswered.is_empty() {
            self.outbox.push(Action::Unsent {
                text: unanswered,
                reason: UNANSWERED.to_owned(),
            });
        }
    }

    fn shut_down(&mut self) {
        if self.phase == Phase::Live {
            // An explicit leave tells the room at once instead of after the grace period.
            let payload = self.room_payload();
            self.emit(event::LEAVE_PR_ROOM, payload, None);
        }
        self.phase = Phase::Stopped;
        self.drop_socket();
        self.retry_timer = None;
        self.outbox.clear();
    }
}

/// One WebSocket and the four callbacks attached to it.
struct Socket {
    ws: WebSocket,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
    _on_error: Closure<dyn FnMut(Event)>,
}

impl Socket {
    fn open(url: &str, weak: &Weak<RefCell<Inner>>, generation: u64) -> Result<Self, String> {
        let ws = WebSocket::new(url).map_err(|err| format!("{err:?}"))?;

        let on_message = {
            let weak = weak.clone();
            Closure::<dyn FnMut(MessageEvent)>::new(move |message: MessageEvent| {
                if let Some(text) = message.data().as_string() {
                    with_inner(&weak, |inner| inner.on_frame(generation, &text));
                }
            })
        };
        let on_close = {
            let weak = weak.clone();
            Closure::<dyn FnMut(CloseEvent)>::new(move |_: CloseEvent| {
                with_inner(&weak, |inner| {
                    if inner.generation == generation {
                        inner.lost();
                    }
                });
            })
        };
        let on_error = {
            let weak = weak.clone();
            Closure::<dyn FnMut(Event)>::new(move |_: Event| {
                with_inner(&weak, |inner| {
                    if inner.generation == generation {
                        inner.lost();
                    }
                });
            })
        };
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        ws.set_onerror(Some(on_error.as_ref().unchecked_ref()));

        Ok(Self {
            ws,
            _on_message: on_message,
            _on_close: on_close,
            _on_error: on_error,
        })
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        // Detach first, so that the close below cannot call into freed closures.
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        self.ws.set_onerror(None);
        let _closing = self.ws.close();
    }
}

fn parse<T: DeserializeOwned>(payload: Value) -> Option<T> {
    match serde_json::from_value(payload) {
        Ok(value) => Some(value),
        Err(err) => {
            warn(&format!(
                "diffy: ignored an event of unexpected shape: {err}"
            ));
            None
        }
    }
}

/// The sentence shown for a refused event.
pub fn describe_refusal(event_name: &str, refusal: &Refusal) -> String {
    let what = match event_name {
        event::JOIN_PR_ROOM => "Could not join the room",
        event::SEND_MESSAGE_TO_PR_ROOM => "Message not sent",
        event::TYPING | event::STOP_TYPING => "Typing status not sent",
        event::LEAVE_PR_ROOM => "Could not leave the room",
        _ => "Request refused",
    };
    format!("{what}: {} ({})", refusal.message, refusal.code)
}

fn warn(text: &str) {
    web_sys::console::warn_1(&text.into());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_url_follows_the_page_scheme() {
        assert_eq!(
            socket_url("http://127.0.0.1:3000"),
            "ws://127.0.0.1:3000/socket.io/?EIO=4&transport=websocket"
        );
        assert_eq!(
            socket_url("https://diffy.example/"),
            "wss://diffy.example/socket.io/?EIO=4&transport=websocket"
        );
        assert_eq!(
            socket_url("ws://host:1"),
            "ws://host:1/socket.io/?EIO=4&transport=websocket"
        );
    }

    #[test]
    fn refusals_read_as_sentences_with_their_code() {
        let refusal = Refusal::new(
            ErrorCode::MessageTooLong,
            "message must be at most 4000 characters",
        );
        assert_eq!(
            describe_refusal(event::SEND_MESSAGE_TO_PR_ROOM, &refusal),
            "Message not sent: message must be at most 4000 characters (message_too_long)"
        );
    }
}
