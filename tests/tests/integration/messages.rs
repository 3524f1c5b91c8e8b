//! Chat messages: delivery, identity, exact text, and the limit on length.

use std::collections::HashSet;
use std::time::{SystemTime, UNIX_EPOCH};

use diffy_protocol::ErrorCode;
use diffy_protocol::event::{EXCEPTION, PR_ROOM_MESSAGE, SEND_MESSAGE_TO_PR_ROOM};
use diffy_protocol::payload::{Exception, RoomMessage};

use crate::support::{
    Client, TestServer, assert_nothing_before_marker, assert_refused, decode, expect_arrival,
    join_as_new_user, message, send_message,
};

fn now_ms() -> u64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970");
    u64::try_from(since_epoch.as_millis()).expect("milliseconds fit in u64")
}

/// Starts a server with alice and bob present in PR 1.
async fn alice_and_bob() -> (TestServer, Client, Client) {
    let server = TestServer::start(|config| config).await;
    let mut alice = server.connect().await;
    let mut bob = server.connect().await;
    join_as_new_user(&mut alice, 1, "alice").await;
    join_as_new_user(&mut bob, 1, "bob").await;
    expect_arrival(&mut alice, "bob", &["alice", "bob"]).await;
    (server, alice, bob)
}

/// A message reaches everyone in its room, the sender included, as
/// `{username, message, id, sentAt}` matching its ack, and nobody in another room.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_reaches_everyone_in_the_room_including_the_sender() {
    let (server, mut alice, mut bob) = alice_and_bob().await;
    let mut carol = server.connect().await;
    join_as_new_user(&mut carol, 2, "carol").await;

    let before = now_ms();
    let ack = send_message(&mut alice, 1, "alice", "LGTM 👍").await;
    let after = now_ms();
    assert!(
        (before..=after).contains(&ack.sent_at),
        "sentAt {} is not now",
        ack.sent_at
    );
    assert!(!ack.id.is_empty(), "the message id is empty");

    for client in [&mut alice, &mut bob] {
        let raw = client.expect(PR_ROOM_MESSAGE).await;
        let fields: Vec<&String> = raw.as_object().expect("an object").keys().collect();
        assert_eq!(
            fields.len(),
            4,
            "exactly username, message, id, sentAt: {raw}"
        );
        let delivered: RoomMessage = decode(raw);
        assert_eq!(delivered.username, "alice");
        assert_eq!(delivered.message, "LGTM 👍");
        assert_eq!(
            (delivered.id.as_str(), delivered.sent_at),
            (ack.id.as_str(), ack.sent_at)
        );
    }

    assert_nothing_before_marker(&mut carol, 2, "carol", &mut []).await;
    server.stop().await;
}

/// Every message gets its own id, and later messages never carry an earlier time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_get_unique_ids() {
    let (server, mut alice, mut bob) = alice_and_bob().await;

    let mut ids = HashSet::new();
    let mut last_sent_at = 0;
    for round in 0..20 {
        let (client, name) = if round % 2 == 0 {
            (&mut alice, "alice")
        } else {
            (&mut bob, "bob")
        };
        let ack = send_message(client, 1, name, &format!("message {round}")).await;
        assert!(ids.insert(ack.id.clone()), "id {} was used twice", ack.id);
        assert!(ack.sent_at >= last_sent_at, "sentAt went backwards");
        last_sent_at = ack.sent_at;
    }

    server.stop().await;
}

/// Message text comes back exactly as sent: markup, right-to-left text, surrounding
/// whitespace, and 4,000 four-byte characters (the limit counts characters, not bytes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_text_round_trips_exactly() {
    let (server, mut alice, mut bob) = alice_and_bob().await;
    let at_the_limit = "🦀".repeat(4_000);
    let texts = [
        "<img src=x onerror=alert(1)>",
        "<script>alert('hi')</script>",
        "שלום עולם – مرحبا",
        "  padded\n\tand multi-line  ",
        "\"quotes\" and \\backslashes\\ and \u{0} nul",
        at_the_limit.as_str(),
    ];

    for text in texts {
        send_message(&mut alice, 1, "alice", text).await;
        let delivered: RoomMessage = decode(bob.expect(PR_ROOM_MESSAGE).await);
        assert_eq!(delivered.message, text, "the text changed on its way");
    }

    server.stop().await;
}

/// A 2,000,000-character message is refused with `message_too_long`, with or without an
/// ack, reaches nobody, and the sender's connection keeps working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_million_character_message_is_refused_and_the_connection_keeps_working() {
    let (server, mut alice, mut bob) = alice_and_bob().await;
    let huge = "x".repeat(2_000_000);

    let ack = alice
        .emit_with_ack(SEND_MESSAGE_TO_PR_ROOM, message(1, "alice", &huge))
        .await;
    assert_refused(
        &ack,
        ErrorCode::MessageTooLong,
        "2,000,000 characters with an ack",
    );

    alice
        .emit(SEND_MESSAGE_TO_PR_ROOM, message(1, "alice", &huge))
        .await;
    let exception: Exception = decode(alice.expect(EXCEPTION).await);
    assert_eq!(exception.event, SEND_MESSAGE_TO_PR_ROOM);
    assert_eq!(exception.code, ErrorCode::MessageTooLong);

    // The marker comes from alice herself: her connection still works, and nothing of
    // the huge message reached bob before it.
    assert_nothing_before_marker(&mut alice, 1, "alice", &mut [&mut bob]).await;
    server.stop().await;
}
