//! Socket.IO event handlers: one per event of the contract, plus connect and disconnect.
//!
//! Each handler validates the payload, spends the sender's rate budget, then changes the
//! room through the [`PresenceStore`] while holding the room's lane, and reports the
//! outcome to the room before letting go of the lane. Join and disconnect mirror each
//! other: join announces arrivals, disconnect (through grace) and leave announce departures.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use diffy_protocol::event::{
    ACTIVE_USERS, CLIENT_EVENTS, JOIN_PR_ROOM, JOINED, LEAVE_PR_ROOM, LEFT, PR_ROOM_MESSAGE,
    SEND_MESSAGE_TO_PR_ROOM, STOP_TYPING, TYPING, USER_COUNT,
};
use diffy_protocol::payload::{
    self, JoinAck, LeaveAck, MessageAck, MessageRequest, RoomMessage, RoomRequest, TypingAck,
    TypingNotice, UserCount,
};
use diffy_protocol::{ErrorCode, PullRequestId, Refusal, Username, room_name};
use serde::Serialize;
use serde_json::Value;
use socketioxide::extract::{Event, Extension, SocketRef, State, TryData};
use socketioxide::socket::DisconnectReason;
use socketioxide::{BroadcastError, SocketError, SocketIo};
use tokio::time::Instant;
use tracing::{debug, trace};

use crate::app::App;
use crate::coalesce::Publish;
use crate::limits::{ConnectionLimits, Limited};
use crate::presence::{
    Departure, GraceTicket, JoinOutcome, LeaveOutcome, PresenceStore, RoomView, TypingExpiry,
    TypingStart, TypingTicket,
};
use crate::reply::Reply;
use crate::turn::{Turn, Turnstile};

type Limits = Extension<Arc<ConnectionLimits>>;

/// How long a member whose send buffer overflowed gets to catch up before the room's
/// presence is sent again.
const RESEND_AFTER_OVERFLOW: Duration = Duration::from_secs(1);

/// Admits a new connection: checks its origin, registers it with the store and installs
/// its event handlers.
///
/// This runs as connect middleware, before the server sends the Socket.IO CONNECT packet,
/// because a client may emit the moment it sees CONNECT: handlers installed later (in the
/// connect handler, which runs as a separate task) would miss those first events.
pub async fn admit(socket: SocketRef, State(app): State<App>) -> Result<(), OriginRefused> {
    check_origin(&socket, &app.config.allowed_origins)?;
    app.store.connect(socket.id).await;
    socket
        .extensions
        .insert(Arc::new(ConnectionLimits::new(&app.config)));
    socket.extensions.insert(Arc::new(Turnstile::new()));

    socket.on_disconnect(on_disconnect);
    // One handler takes every event and dispatches on its name: socketioxide keeps a map
    // of each socket's named handlers, which for our five events takes 344 bytes per
    // connection, while the fallback handler takes none.
    socket.on_fallback(on_event);
    Ok(())
}

/// Refuses a connection whose `Origin` is not allowed. Clients that send no `Origin`
/// (anything but a browser) are let through, since the header protects browsers only.
fn check_origin(socket: &SocketRef, allowed: &[String]) -> Result<(), OriginRefused> {
    if allowed.is_empty() {
        return Ok(());
    }
    match socket.req_parts().headers.get(axum::http::header::ORIGIN) {
        None => Ok(()),
        Some(origin) if allowed.iter().any(|a| a.as_bytes() == origin.as_bytes()) => Ok(()),
        Some(_) => Err(OriginRefused),
    }
}

/// The connect error for a browser page on an origin that is not allowed.
#[derive(Debug, thiserror::Error)]
#[error("origin not allowed")]
pub struct OriginRefused;

/// Notes the connection once the client has been told it is connected.
pub async fn on_connect(socket: SocketRef) {
    debug!(sid = %socket.id, transport = ?socket.transport_type(), "connected");
}

/// Hands an event to the handler for its name, once the connection's earlier events are
/// done.
#[expect(
    clippy::too_many_arguments,
    reason = "socketioxide hands a handler what it needs as extractor arguments"
)]
async fn on_event(
    socket: SocketRef,
    io: SocketIo,
    State(app): State<App>,
    Extension(limits): Limits,
    turn: Turn,
    Event(event): Event,
    TryData(data): TryData<Value>,
    reply: Reply,
) {
    let _turn = turn.wait().await;
    match event.as_str() {
        JOIN_PR_ROOM => {
            let result = join(&socket, &io, &app, &limits, data).await;
            reply.send(JOIN_PR_ROOM, result);
        }
        LEAVE_PR_ROOM => {
            let result = leave(&socket, &io, &app, data).await;
            reply.send(LEAVE_PR_ROOM, result);
        }
        SEND_MESSAGE_TO_PR_ROOM => {
            let result = send_message(&socket, &io, &app, &limits, data).await;
            reply.send(SEND_MESSAGE_TO_PR_ROOM, result);
        }
        TYPING => {
            let result = start_typing(&socket, &io, &app, &limits, data).await;
            reply.send(TYPING, result);
        }
        STOP_TYPING => {
            let result = end_typing(&socket, &io, &app, &limits, data).await;
            reply.send(STOP_TYPING, result);
        }
        _ => unknown_event(&event, reply),
    }
}

async fn join(
    socket: &SocketRef,
    io: &SocketIo,
    app: &App,
    limits: &ConnectionLimits,
    data: Result<Value, impl std::fmt::Display>,
) -> Result<JoinAck, Refusal> {
    let request = RoomRequest::parse(&payload_of(data)?)?;
    limits.spend(Limited::Join)?;
    let (room, username) = (request.pull_request_id, request.username);

    let _lane = app.lanes.enter(room).await;
    let outcome = app.store.join(socket.id, room, &username).await?;
    let view = match outcome {
        JoinOutcome::Arrived(view) => {
            debug!(sid = %socket.id, room = %room, "user arrived");
            socket.join(room_name(room));
            broadcast(io, room, JOINED, &payload::joined_notice(&username)).await;
            publish_presence(io, app, room, &view).await;
            view
        }
        JoinOutcome::Returned(view) => {
            debug!(sid = %socket.id, room = %room, "user returned");
            socket.join(room_name(room));
            emit(
                socket,
                USER_COUNT,
                &UserCount {
                    user_count: view.user_count(),
                },
            );
            emit(socket, ACTIVE_USERS, &view.users);
            view
        }
        JoinOutcome::AlreadyJoined(view) => view,
    };
    Ok(JoinAck {
        pull_request_id: room,
        user_count: view.user_count(),
        users: view.users,
    })
}

async fn leave(
    socket: &SocketRef,
    io: &SocketIo,
    app: &App,
    data: Result<Value, impl std::fmt::Display>,
) -> Result<LeaveAck, Refusal> {
    let request = RoomRequest::parse(&payload_of(data)?)?;
    let (room, username) = (request.pull_request_id, request.username);

    let _lane = app.lanes.enter(room).await;
    let outcome = app.store.leave(socket.id, room, &username).await?;
    socket.leave(room_name(room));
    debug!(sid = %socket.id, room = %room, "left room");
    report_departure(io, app, room, &username, outcome).await;
    Ok(LeaveAck {
        pull_request_id: room,
    })
}

async fn send_message(
    socket: &SocketRef,
    io: &SocketIo,
    app: &App,
    limits: &ConnectionLimits,
    data: Result<Value, impl std::fmt::Display>,
) -> Result<MessageAck, Refusal> {
    let request = MessageRequest::parse(&payload_of(data)?)?;
    let (room, username) = (request.pull_request_id, request.username);

    let _lane = app.lanes.enter(room).await;
    app.store.check_member(socket.id, room, &username).await?;
    limits.spend(Limited::Message)?;

    // Sending a message ends the sender's typing, and the room hears that first.
    if app.store.stop_typing(socket.id, room, &username).await? {
        broadcast_typing(io, room, STOP_TYPING, &username).await;
    }
    let message = RoomMessage {
        username: username.as_str().to_owned(),
        message: request.message.into_string(),
        id: uuid::Uuid::now_v7().to_string(),
        sent_at: unix_millis(),
    };
    trace!(sid = %socket.id, room = %room, id = %message.id, "message");
    broadcast(io, room, PR_ROOM_MESSAGE, &message).await;
    Ok(MessageAck {
        id: message.id,
        sent_at: message.sent_at,
    })
}

async fn start_typing(
    socket: &SocketRef,
    io: &SocketIo,
    app: &App,
    limits: &ConnectionLimits,
    data: Result<Value, impl std::fmt::Display>,
) -> Result<TypingAck, Refusal> {
    let request = RoomRequest::parse(&payload_of(data)?)?;
    let (room, username) = (request.pull_request_id, request.username);

    // Typing is the most frequent event, so it is limited before anything else is done;
    // the store checks membership as part of recording it.
    limits.spend(Limited::Typing)?;
    let _lane = app.lanes.enter(room).await;
    let timing = app.typing_timing();
    let start = app
        .store
        .start_typing(socket.id, room, &username, Instant::now(), timing)
        .await?;
    match start {
        TypingStart::Relay { watch } => {
            broadcast_typing(io, room, TYPING, &username).await;
            if let Some(ticket) = watch {
                tokio::spawn(watch_typing(
                    io.clone(),
                    app.clone(),
                    room,
                    username,
                    ticket,
                ));
            }
            Ok(TypingAck { relayed: true })
        }
        TypingStart::Throttled => Ok(TypingAck { relayed: false }),
    }
}

async fn end_typing(
    socket: &SocketRef,
    io: &SocketIo,
    app: &App,
    limits: &ConnectionLimits,
    data: Result<Value, impl std::fmt::Display>,
) -> Result<TypingAck, Refusal> {
    let request = RoomRequest::parse(&payload_of(data)?)?;
    let (room, username) = (request.pull_request_id, request.username);

    limits.spend(Limited::Typing)?;
    let _lane = app.lanes.enter(room).await;
    let relayed = app.store.stop_typing(socket.id, room, &username).await?;
    if relayed {
        broadcast_typing(io, room, STOP_TYPING, &username).await;
    }
    Ok(TypingAck { relayed })
}

fn unknown_event(event: &str, reply: Reply) {
    let known = CLIENT_EVENTS.join(", ");
    let refusal = Refusal::new(ErrorCode::UnknownEvent, format!("known events: {known}"));
    reply.refuse(event, refusal);
}

/// A closed connection counts as leaving every room it joined, through the grace period.
async fn on_disconnect(
    socket: SocketRef,
    io: SocketIo,
    State(app): State<App>,
    reason: DisconnectReason,
) {
    debug!(sid = %socket.id, reason = ?reason, "disconnected");
    for membership in app.store.close(socket.id).await {
        let room = membership.pull_request_id;
        let _lane = app.lanes.enter(room).await;
        let outcome = app
            .store
            .drop_connection(socket.id, &membership, app.config.grace_period)
            .await;
        report_departure(&io, &app, room, &membership.username, outcome).await;
    }
}

/// Tells the room what a connection leaving it meant, and starts the grace timer when
/// the user's last connection dropped.
async fn report_departure(
    io: &SocketIo,
    app: &App,
    room: PullRequestId,
    username: &Username,
    outcome: LeaveOutcome,
) {
    if outcome.stopped_typing {
        broadcast_typing(io, room, STOP_TYPING, username).await;
    }
    match outcome.departure {
        Departure::Stays => {}
        Departure::Now(view) => announce_left(io, app, room, username, &view).await,
        Departure::Grace(ticket) => {
            let task = expire_grace(io.clone(), app.clone(), room, username.clone(), ticket);
            tokio::spawn(task);
        }
    }
}

async fn expire_grace(
    io: SocketIo,
    app: App,
    room: PullRequestId,
    username: Username,
    ticket: GraceTicket,
) {
    tokio::time::sleep(app.config.grace_period).await;
    let _lane = app.lanes.enter(room).await;
    if let Some(view) = app.store.expire_grace(room, &username, ticket).await {
        announce_left(&io, &app, room, &username, &view).await;
    }
}

/// Clears a stretch of typing once it goes unrenewed for the typing timeout.
async fn watch_typing(
    io: SocketIo,
    app: App,
    room: PullRequestId,
    username: Username,
    ticket: TypingTicket,
) {
    let mut wake = Instant::now() + app.config.typing_timeout;
    loop {
        tokio::time::sleep_until(wake).await;
        let _lane = app.lanes.enter(room).await;
        match app
            .store
            .expire_typing(room, &username, ticket, Instant::now())
            .await
        {
            TypingExpiry::Gone => return,
            TypingExpiry::Later(deadline) => wake = deadline,
            TypingExpiry::Expired => {
                broadcast_typing(&io, room, STOP_TYPING, &username).await;
                return;
            }
        }
    }
}

async fn announce_left(
    io: &SocketIo,
    app: &App,
    room: PullRequestId,
    username: &Username,
    view: &RoomView,
) {
    debug!(room = %room, "user left");
    broadcast(io, room, LEFT, &payload::left_notice(username, room)).await;
    publish_presence(io, app, room, view).await;
}

/// Tells the room its new presence, now or, inside a burst of changes, at the end of the
/// coalescing window (see [`crate::coalesce`]). Called while holding the room's lane.
async fn publish_presence(io: &SocketIo, app: &App, room: PullRequestId, view: &RoomView) {
    let emptied = view.users.is_empty();
    match app.throttle.changed(room, Instant::now(), emptied) {
        Publish::Now => broadcast_presence(io, app, room, view).await,
        Publish::At(when) => schedule_flush(io, app, room, when),
        Publish::Scheduled => {}
    }
}

/// Sends a room's presence as it stands at the end of a coalescing window.
async fn flush_presence(io: SocketIo, app: App, room: PullRequestId, when: Instant) {
    tokio::time::sleep_until(when).await;
    let _lane = app.lanes.enter(room).await;
    let view = app.store.view(room).await;
    app.throttle
        .flushed(room, Instant::now(), view.users.is_empty());
    trace!(room = %room, users = view.user_count(), "coalesced presence");
    broadcast_presence(&io, &app, room, &view).await;
}

/// Sends the room its presence. When a member's send buffer was full, the update did not
/// reach that member, so it is sent again a little later, once the member had time to
/// catch up; a member must never be left with a stale list.
async fn broadcast_presence(io: &SocketIo, app: &App, room: PullRequestId, view: &RoomView) {
    let count = UserCount {
        user_count: view.user_count(),
    };
    let counted = broadcast(io, room, USER_COUNT, &count).await;
    let listed = broadcast(io, room, ACTIVE_USERS, &view.users).await;
    if (counted == Delivery::Overflowed || listed == Delivery::Overflowed)
        && let Some(when) = app
            .throttle
            .resend(room, Instant::now() + RESEND_AFTER_OVERFLOW)
    {
        debug!(room = %room, "a member fell behind; presence will be sent again");
        schedule_flush(io, app, room, when);
    }
}

/// Spawns a deferred presence update. A plain function, so that the update's future,
/// which may schedule another, is not part of its own type.
fn schedule_flush(io: &SocketIo, app: &App, room: PullRequestId, when: Instant) {
    let flush: Pin<Box<dyn Future<Output = ()> + Send>> =
        Box::pin(flush_presence(io.clone(), app.clone(), room, when));
    tokio::spawn(flush);
}

async fn broadcast_typing(io: &SocketIo, room: PullRequestId, event: &str, username: &Username) {
    let notice = TypingNotice {
        username: username.as_str().to_owned(),
    };
    broadcast(io, room, event, &notice).await;
}

/// How a broadcast went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delivery {
    /// Queued for every member (or failed only for members that are closing).
    Queued,
    /// At least one member's send buffer was full, so that member missed it.
    Overflowed,
}

async fn broadcast<T: Serialize + ?Sized>(
    io: &SocketIo,
    room: PullRequestId,
    event: &str,
    data: &T,
) -> Delivery {
    match io.to(room_name(room)).emit(event, data).await {
        Ok(()) => Delivery::Queued,
        Err(BroadcastError::Socket(errors))
            if errors
                .iter()
                .any(|e| matches!(e, SocketError::InternalChannelFull)) =>
        {
            debug!(room = %room, event, "a member's send buffer is full");
            Delivery::Overflowed
        }
        Err(err) => {
            debug!(room = %room, event, cause = %err, "broadcast failed");
            Delivery::Queued
        }
    }
}

fn emit<T: Serialize + ?Sized>(socket: &SocketRef, event: &str, data: &T) {
    if let Err(err) = socket.emit(event, data) {
        debug!(sid = %socket.id, event, cause = %err, "emit failed");
    }
}

/// The event's payload, or `invalid_payload` when Socket.IO could not decode it.
fn payload_of(data: Result<Value, impl std::fmt::Display>) -> Result<Value, Refusal> {
    data.map_err(|err| {
        trace!(cause = %err, "undecodable payload");
        Refusal::new(
            ErrorCode::InvalidPayload,
            "payload is not valid JSON for this event",
        )
    })
}

fn unix_millis() -> u64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX)
}
