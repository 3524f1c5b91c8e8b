//! Shared helpers: a server per test, a raw Socket.IO client, HTTP, and room shorthands.

pub mod client;
pub mod http;
pub mod panics;
pub mod server;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use diffy_protocol::ErrorCode;
use diffy_protocol::event::{
    ACTIVE_USERS, JOIN_PR_ROOM, JOINED, PR_ROOM_MESSAGE, SEND_MESSAGE_TO_PR_ROOM, USER_COUNT,
};
use diffy_protocol::payload::{Ack, JoinAck, MessageAck, RoomMessage, UserCount};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

pub use client::{AckOrClose, Client, EXPECT_TIMEOUT};
pub use server::TestServer;

/// Shorthand for a duration in milliseconds.
pub fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

/// The payload of `join-pr-room`, `leave-pr-room`, `typing` and `stop-typing`.
pub fn room(pull_request_id: u64, username: &str) -> Value {
    json!({ "pullRequestId": pull_request_id, "username": username })
}

/// The payload of `send-message-to-pr-room`.
pub fn message(pull_request_id: u64, username: &str, text: &str) -> Value {
    json!({ "pullRequestId": pull_request_id, "username": username, "message": text })
}

/// Reads an acknowledgement that must be `{ok: true, ...}`; panics otherwise.
pub fn accepted<T: DeserializeOwned>(ack: Value) -> T {
    let shown = ack.to_string();
    match serde_json::from_value::<Ack<T>>(ack) {
        Ok(Ack::Ok(body)) => body,
        Ok(Ack::Err(refusal)) => panic!("expected an accepted ack, got refusal {refusal:?}"),
        Err(err) => panic!("ack has the wrong shape ({err}): {shown}"),
    }
}

/// Asserts that an acknowledgement is `{ok: false, error: {code, message}}` with `code`
/// and a non-empty message.
pub fn assert_refused(ack: &Value, code: ErrorCode, context: &str) {
    assert_eq!(
        ack["ok"],
        json!(false),
        "{context}: expected refusal `{code}`, got {ack}"
    );
    let error = &ack["error"];
    assert_eq!(
        error["code"],
        json!(code.as_str()),
        "{context}: wrong code in {ack}"
    );
    let explained = error["message"]
        .as_str()
        .is_some_and(|text| !text.trim().is_empty());
    assert!(explained, "{context}: no error message in {ack}");
}

/// Joins a room, asserts the ack is ok, and returns it.
pub async fn join(client: &mut Client, pull_request_id: u64, username: &str) -> JoinAck {
    let ack = client
        .emit_with_ack(JOIN_PR_ROOM, room(pull_request_id, username))
        .await;
    let ack: JoinAck = accepted(ack);
    assert_eq!(
        ack.pull_request_id.get(),
        pull_request_id,
        "join ack names another room"
    );
    ack
}

/// Joins a room as a new user and consumes the three announcements the joiner receives.
pub async fn join_as_new_user(client: &mut Client, pull_request_id: u64, username: &str) {
    join(client, pull_request_id, username).await;
    let notice = client.expect(JOINED).await;
    assert_eq!(notice, json!(format!("{username} has joined the chat")));
    client.expect(USER_COUNT).await;
    client.expect(ACTIVE_USERS).await;
}

/// Consumes the announcements a present user receives when `username` becomes present,
/// and checks them against the room's expected state.
pub async fn expect_arrival(client: &mut Client, username: &str, users: &[&str]) {
    let notice = client.expect(JOINED).await;
    assert_eq!(notice, json!(format!("{username} has joined the chat")));
    expect_membership(client, users).await;
}

/// Consumes `user-count` and `active-users` and checks them against `users`.
pub async fn expect_membership(client: &mut Client, users: &[&str]) {
    let count: UserCount = decode(client.expect(USER_COUNT).await);
    assert_eq!(
        count.user_count,
        users.len(),
        "user-count disagrees with {users:?}"
    );
    let active = client.expect(ACTIVE_USERS).await;
    assert_eq!(active, json!(users), "active-users");
}

/// Consumes the announcements of `username` leaving PR `pull_request_id`.
pub async fn expect_departure(
    client: &mut Client,
    username: &str,
    pull_request_id: u64,
    users: &[&str],
) {
    let notice = client.expect(diffy_protocol::event::LEFT).await;
    assert_eq!(
        notice,
        json!(format!("{username} left PR {pull_request_id}"))
    );
    expect_membership(client, users).await;
}

/// Sends a message, asserts it is accepted, and returns its ack.
pub async fn send_message(
    client: &mut Client,
    pull_request_id: u64,
    username: &str,
    text: &str,
) -> MessageAck {
    let ack = client
        .emit_with_ack(
            SEND_MESSAGE_TO_PR_ROOM,
            message(pull_request_id, username, text),
        )
        .await;
    accepted(ack)
}

/// Proves that nothing reached `sender` or `others` since their last consumed event: the
/// sender posts a fresh marker message, and the marker must be the very next event each
/// of them sees.
///
/// This turns "nothing was sent" into an ordering check instead of a timed wait.
///
/// Returns the marker's text.
pub async fn assert_nothing_before_marker(
    sender: &mut Client,
    pull_request_id: u64,
    username: &str,
    others: &mut [&mut Client],
) -> String {
    static MARKERS: AtomicU64 = AtomicU64::new(0);
    let text = format!("marker {}", MARKERS.fetch_add(1, Ordering::Relaxed));
    send_message(sender, pull_request_id, username, &text).await;

    for client in std::iter::once(sender).chain(others.iter_mut().map(|c| &mut **c)) {
        let got: RoomMessage = decode(client.expect_next(PR_ROOM_MESSAGE).await);
        assert_eq!(got.message, text, "expected the marker message next");
    }
    text
}

/// Deserializes a server payload; panics with the payload when it has the wrong shape.
pub fn decode<T: DeserializeOwned>(value: Value) -> T {
    let shown = value.to_string();
    serde_json::from_value(value).unwrap_or_else(|err| {
        panic!(
            "payload has the wrong shape for {} ({err}): {shown}",
            std::any::type_name::<T>()
        )
    })
}
