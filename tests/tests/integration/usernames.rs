//! Usernames beyond ASCII, and names that look like markup, travel as exact text.

use diffy_protocol::event::{LEAVE_PR_ROOM, PR_ROOM_MESSAGE, TYPING};
use diffy_protocol::payload::{LeaveAck, RoomMessage, TypingAck, TypingNotice};
use serde_json::json;

use crate::support::http::{get, presence};
use crate::support::{
    TestServer, accepted, decode, expect_arrival, expect_departure, join, join_as_new_user, room,
    send_message,
};

const NAMES: [&str; 7] = [
    "🦀 Ferris",
    "שלום",
    "مرحبا بك",
    "<script>alert(1)</script>",
    "O'Brien \"the\" 🚀",
    "名前 ✓",
    "👩🏽‍💻",
];

/// Emoji, right-to-left and markup-like usernames come back exactly in every place a
/// username appears: ack, `joined`, `active-users`, messages, typing, `left`, HTTP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unicode_and_hostile_usernames_round_trip_exactly() {
    let server = TestServer::start(|config| config).await;
    let mut watcher = server.connect().await;
    join_as_new_user(&mut watcher, 1, "watcher").await;

    let mut present = vec!["watcher"];
    let mut clients = Vec::new();
    for name in NAMES {
        let mut client = server.connect().await;
        let ack = join(&mut client, 1, name).await;
        present.push(name);
        assert_eq!(ack.users, present, "join ack of {name:?}");
        expect_arrival(&mut watcher, name, &present).await;
        clients.push(client);
    }

    let http = presence(server.addr(), 1).await;
    assert_eq!(http.users, present, "presence endpoint");
    let raw = get(server.addr(), "/api/pull-requests/1/presence")
        .await
        .json();
    assert_eq!(
        raw["users"],
        json!(present),
        "the raw JSON holds the exact names"
    );

    for (client, name) in clients.iter_mut().zip(NAMES) {
        send_message(client, 1, name, "hello").await;
        let delivered: RoomMessage = decode(watcher.expect(PR_ROOM_MESSAGE).await);
        assert_eq!(delivered.username, name);

        let _: TypingAck = accepted(client.emit_with_ack(TYPING, room(1, name)).await);
        let typing: TypingNotice = decode(watcher.expect(TYPING).await);
        assert_eq!(typing.username, name);
    }

    for (mut client, name) in clients.into_iter().zip(NAMES) {
        accepted::<LeaveAck>(client.emit_with_ack(LEAVE_PR_ROOM, room(1, name)).await);
        present.retain(|present| *present != name);
        expect_departure(&mut watcher, name, 1, &present).await;
    }

    server.stop().await;
}

/// Usernames are trimmed once, and the trimmed name is the user's identity.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usernames_are_trimmed() {
    let server = TestServer::start(|config| config).await;
    let mut alice = server.connect().await;

    let ack = join(&mut alice, 1, "  alice\t").await;
    assert_eq!(ack.users, ["alice"]);
    expect_arrival(&mut alice, "alice", &["alice"]).await;
    // The padded and the bare spelling name the same user on this connection.
    let delivered = send_message(&mut alice, 1, " alice ", "hi").await;
    assert!(!delivered.id.is_empty());
    let message: RoomMessage = decode(alice.expect(PR_ROOM_MESSAGE).await);
    assert_eq!(message.username, "alice");

    server.stop().await;
}

/// A 64-character name of four-byte characters is accepted: the limit counts characters.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn username_limit_counts_characters_not_bytes() {
    let server = TestServer::start(|config| config).await;
    let mut client = server.connect().await;
    let name = "🦀".repeat(64);

    join_as_new_user(&mut client, 1, &name).await;
    assert_eq!(presence(server.addr(), 1).await.users, [name]);

    server.stop().await;
}
