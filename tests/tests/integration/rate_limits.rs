//! Per-connection rate limits on joins, messages and typing.

use diffy_protocol::ErrorCode::RateLimited;
use diffy_protocol::event::{
    EXCEPTION, JOIN_PR_ROOM, PR_ROOM_MESSAGE, SEND_MESSAGE_TO_PR_ROOM, STOP_TYPING, TYPING,
};
use diffy_protocol::payload::{Exception, TypingAck};
use diffy_server::Config;

use crate::support::http::presence;
use crate::support::{
    Client, TestServer, accepted, assert_nothing_before_marker, assert_refused, decode,
    expect_arrival, expect_membership, join, join_as_new_user, message, room, send_message,
};

/// Checks that the next `exception` the client gets is `rate_limited` for `event`.
async fn expect_rate_limited_exception(client: &mut Client, event: &str) {
    let exception: Exception = decode(client.expect(EXCEPTION).await);
    assert_eq!(
        (exception.event.as_str(), exception.code),
        (event, RateLimited)
    );
}

/// Joins past the per-minute figure are refused with `rate_limited` and change nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joins_beyond_the_limit_are_refused_with_rate_limited() {
    let server = TestServer::start(|config| Config {
        joins_per_minute: 3,
        ..config
    })
    .await;
    let mut bob = server.connect().await;
    join_as_new_user(&mut bob, 4, "bob").await;

    let mut alice = server.connect().await;
    for pull_request_id in 1..=3 {
        join(&mut alice, pull_request_id, "alice").await;
    }
    let ack = alice.emit_with_ack(JOIN_PR_ROOM, room(4, "alice")).await;
    assert_refused(&ack, RateLimited, "the fourth join");
    alice.emit(JOIN_PR_ROOM, room(4, "alice")).await;
    expect_rate_limited_exception(&mut alice, JOIN_PR_ROOM).await;

    assert_nothing_before_marker(&mut bob, 4, "bob", &mut []).await;
    assert_eq!(presence(server.addr(), 4).await.users, ["bob"]);
    server.stop().await;
}

/// Messages past the per-minute figure are refused with `rate_limited` and reach nobody;
/// the limit is per connection, so the same user's other tab may still speak.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_beyond_the_limit_are_refused_with_rate_limited() {
    let server = TestServer::start(|config| Config {
        messages_per_minute: 3,
        ..config
    })
    .await;
    let mut alice = server.connect().await;
    let mut bob = server.connect().await;
    join_as_new_user(&mut alice, 1, "alice").await;
    join_as_new_user(&mut bob, 1, "bob").await;
    expect_arrival(&mut alice, "bob", &["alice", "bob"]).await;

    for round in 0..3 {
        send_message(&mut alice, 1, "alice", &format!("message {round}")).await;
        bob.expect(PR_ROOM_MESSAGE).await;
        alice.expect(PR_ROOM_MESSAGE).await;
    }
    let ack = alice
        .emit_with_ack(SEND_MESSAGE_TO_PR_ROOM, message(1, "alice", "one more"))
        .await;
    assert_refused(&ack, RateLimited, "the fourth message");
    alice
        .emit(SEND_MESSAGE_TO_PR_ROOM, message(1, "alice", "and another"))
        .await;
    expect_rate_limited_exception(&mut alice, SEND_MESSAGE_TO_PR_ROOM).await;
    assert_nothing_before_marker(&mut bob, 1, "bob", &mut [&mut alice]).await;

    let mut alice_tab = server.connect().await;
    join(&mut alice_tab, 1, "alice").await;
    expect_membership(&mut alice_tab, &["alice", "bob"]).await;
    assert_nothing_before_marker(&mut alice_tab, 1, "alice", &mut [&mut alice, &mut bob]).await;

    server.stop().await;
}

/// `typing` and `stop-typing` past the per-minute figure are refused with
/// `rate_limited` and reach nobody.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typing_beyond_the_limit_is_refused_with_rate_limited() {
    let server = TestServer::start(|config| Config {
        typing_per_minute: 3,
        ..config
    })
    .await;
    let mut alice = server.connect().await;
    let mut bob = server.connect().await;
    join_as_new_user(&mut alice, 1, "alice").await;
    join_as_new_user(&mut bob, 1, "bob").await;
    expect_arrival(&mut alice, "bob", &["alice", "bob"]).await;

    for _ in 0..3 {
        let _: TypingAck = accepted(alice.emit_with_ack(TYPING, room(1, "alice")).await);
    }
    bob.expect(TYPING).await;
    alice.expect(TYPING).await;

    let ack = alice.emit_with_ack(TYPING, room(1, "alice")).await;
    assert_refused(&ack, RateLimited, "the fourth typing");
    let ack = alice.emit_with_ack(STOP_TYPING, room(1, "alice")).await;
    assert_refused(&ack, RateLimited, "a stop-typing past the limit");
    alice.emit(TYPING, room(1, "alice")).await;
    expect_rate_limited_exception(&mut alice, TYPING).await;

    assert_nothing_before_marker(&mut bob, 1, "bob", &mut [&mut alice]).await;
    server.stop().await;
}
