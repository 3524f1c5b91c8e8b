//! Typing indicators: relay, throttle, and every way the server clears them.

use std::time::Duration;

use diffy_protocol::event::{LEAVE_PR_ROOM, LEFT, PR_ROOM_MESSAGE, STOP_TYPING, TYPING};
use diffy_protocol::payload::{LeaveAck, TypingAck, TypingNotice};
use diffy_server::Config;
use serde_json::json;
use tokio::time::Instant;

use crate::support::http::presence;
use crate::support::{
    Client, TestServer, accepted, assert_nothing_before_marker, decode, expect_arrival,
    join_as_new_user, ms, room, send_message,
};

/// Starts a server with `tweak`, and alice and bob present in PR 1.
async fn alice_and_bob(tweak: impl FnOnce(Config) -> Config) -> (TestServer, Client, Client) {
    let server = TestServer::start(tweak).await;
    let mut alice = server.connect().await;
    let mut bob = server.connect().await;
    join_as_new_user(&mut alice, 1, "alice").await;
    join_as_new_user(&mut bob, 1, "bob").await;
    expect_arrival(&mut alice, "bob", &["alice", "bob"]).await;
    (server, alice, bob)
}

/// Sends `typing` for alice in PR 1 and returns whether the server relayed it.
async fn alice_types(alice: &mut Client) -> bool {
    let ack: TypingAck = accepted(alice.emit_with_ack(TYPING, room(1, "alice")).await);
    ack.relayed
}

/// Consumes a `typing` or `stop-typing` notice and checks whose it is.
async fn expect_notice(client: &mut Client, event: &str, username: &str) {
    let notice: TypingNotice = decode(client.expect(event).await);
    assert_eq!(notice.username, username, "`{event}` names the wrong user");
}

/// The first `typing` reaches everyone in the room, the sender included, as
/// `{username}`, and nobody outside the room.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typing_is_relayed_to_the_whole_room_including_the_sender() {
    let (server, mut alice, mut bob) = alice_and_bob(|config| config).await;
    let mut carol = server.connect().await;
    join_as_new_user(&mut carol, 2, "carol").await;

    let ack = alice.emit_with_ack(TYPING, room(1, "alice")).await;
    assert_eq!(ack, json!({"ok": true, "relayed": true}));
    assert_eq!(alice.expect(TYPING).await, json!({"username": "alice"}));
    assert_eq!(bob.expect(TYPING).await, json!({"username": "alice"}));

    assert_nothing_before_marker(&mut carol, 2, "carol", &mut []).await;
    server.stop().await;
}

/// `stop-typing` from a typing user reaches everyone in the room.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_typing_is_relayed_to_the_whole_room() {
    let (server, mut alice, mut bob) = alice_and_bob(|config| config).await;
    assert!(alice_types(&mut alice).await);
    expect_notice(&mut bob, TYPING, "alice").await;

    let ack = alice.emit_with_ack(STOP_TYPING, room(1, "alice")).await;
    let _: TypingAck = accepted(ack);
    expect_notice(&mut alice, STOP_TYPING, "alice").await;
    expect_notice(&mut bob, STOP_TYPING, "alice").await;

    server.stop().await;
}

/// Repeated `typing` inside the relay interval is acknowledged with `relayed: false` and
/// reaches nobody; once the interval has passed, the next one is relayed again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_typing_is_relayed_at_most_once_per_interval() {
    let interval = ms(500);
    let (server, mut alice, mut bob) = alice_and_bob(|config| Config {
        typing_relay_interval: interval,
        ..config
    })
    .await;

    let first_at = Instant::now();
    assert!(alice_types(&mut alice).await, "the first typing is relayed");
    expect_notice(&mut bob, TYPING, "alice").await;
    expect_notice(&mut alice, TYPING, "alice").await;
    for _ in 0..3 {
        let relayed = alice_types(&mut alice).await;
        assert!(
            first_at.elapsed() >= interval || !relayed,
            "a repeat was relayed too soon"
        );
    }
    assert_nothing_before_marker(&mut bob, 1, "bob", &mut [&mut alice]).await;

    // Time itself is under test here: wait out the relay interval.
    tokio::time::sleep_until(first_at + interval + ms(100)).await;
    assert!(
        alice_types(&mut alice).await,
        "typing after the interval is relayed again"
    );
    expect_notice(&mut bob, TYPING, "alice").await;

    server.stop().await;
}

/// A message from a typing user clears their typing for the whole room.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_clears_typing() {
    let (server, mut alice, mut bob) = alice_and_bob(|config| config).await;
    assert!(alice_types(&mut alice).await);
    expect_notice(&mut bob, TYPING, "alice").await;

    send_message(&mut alice, 1, "alice", "done typing").await;
    expect_notice(&mut bob, STOP_TYPING, "alice").await;
    bob.expect(PR_ROOM_MESSAGE).await;
    expect_notice(&mut alice, STOP_TYPING, "alice").await;

    server.stop().await;
}

/// Leaving the room while typing clears the typing for those who stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leave_clears_typing() {
    let (server, mut alice, mut bob) = alice_and_bob(|config| config).await;
    assert!(alice_types(&mut alice).await);
    expect_notice(&mut bob, TYPING, "alice").await;

    accepted::<LeaveAck>(alice.emit_with_ack(LEAVE_PR_ROOM, room(1, "alice")).await);
    expect_notice(&mut bob, STOP_TYPING, "alice").await;
    bob.expect(LEFT).await;

    server.stop().await;
}

/// A connection that drops while typing has its typing cleared at once, not when the
/// typing timeout or the grace period ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_clears_typing() {
    let long = Duration::from_secs(60);
    let (server, mut alice, mut bob) = alice_and_bob(|config| Config {
        grace_period: long,
        typing_timeout: long,
        ..config
    })
    .await;
    assert!(alice_types(&mut alice).await);
    expect_notice(&mut bob, TYPING, "alice").await;

    alice.drop_connection().await;
    expect_notice(&mut bob, STOP_TYPING, "alice").await;

    // Alice is in her grace period: still present, not announced as gone.
    assert_nothing_before_marker(&mut bob, 1, "bob", &mut []).await;
    assert_eq!(presence(server.addr(), 1).await.users, ["alice", "bob"]);

    server.stop().await;
}

/// Typing that is not renewed within the typing timeout is cleared by the server, and
/// the typist stays present.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typing_is_cleared_after_the_timeout() {
    let timeout = ms(300);
    let (server, mut alice, mut bob) = alice_and_bob(|config| Config {
        typing_timeout: timeout,
        ..config
    })
    .await;

    let typed_at = Instant::now();
    assert!(alice_types(&mut alice).await);
    expect_notice(&mut alice, TYPING, "alice").await;
    expect_notice(&mut bob, TYPING, "alice").await;
    expect_notice(&mut bob, STOP_TYPING, "alice").await;
    let waited = typed_at.elapsed();
    assert!(
        waited >= timeout,
        "stop-typing came after {waited:?}, before the {timeout:?} timeout"
    );
    expect_notice(&mut alice, STOP_TYPING, "alice").await;

    assert_nothing_before_marker(&mut bob, 1, "bob", &mut [&mut alice]).await;
    server.stop().await;
}

/// A repeated `typing`, even when not relayed, renews the typing timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_typing_renews_the_timeout() {
    let timeout = ms(600);
    let (server, mut alice, mut bob) = alice_and_bob(|config| Config {
        typing_timeout: timeout,
        ..config
    })
    .await;

    assert!(alice_types(&mut alice).await);
    expect_notice(&mut bob, TYPING, "alice").await;

    // Time itself is under test: renew two thirds of the way through the timeout.
    tokio::time::sleep(ms(400)).await;
    let renewed_at = Instant::now();
    assert!(
        !alice_types(&mut alice).await,
        "a repeat inside the relay interval is not relayed"
    );

    // The first typing would have expired 200 ms from now; the renewal keeps it alive.
    bob.expect_none(STOP_TYPING, ms(400)).await;
    expect_notice(&mut bob, STOP_TYPING, "alice").await;
    let waited = renewed_at.elapsed();
    assert!(
        waited >= timeout,
        "stop-typing came {waited:?} after the renewal"
    );

    server.stop().await;
}
