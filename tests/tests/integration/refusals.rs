//! Every refusal: its stable code, its two ways back to the sender, and its silence
//! towards the room.

use diffy_protocol::ErrorCode;
use diffy_protocol::event::{
    EXCEPTION, JOIN_PR_ROOM, LEAVE_PR_ROOM, SEND_MESSAGE_TO_PR_ROOM, STOP_TYPING, TYPING,
};
use diffy_protocol::payload::Exception;
use serde_json::{Value, json};

use crate::support::http::presence;
use crate::support::{
    Client, TestServer, assert_nothing_before_marker, assert_refused, decode, expect_arrival,
    join_as_new_user, message, room,
};

use ErrorCode::{
    InvalidMessage, InvalidPayload, InvalidPullRequestId, InvalidUsername, MessageTooLong,
    NotInRoom, UnknownEvent, UsernameMismatch,
};

/// A room with alice and bob present in PR 1, plus a connection that joined nothing.
struct Scene {
    server: TestServer,
    alice: Client,
    bob: Client,
    newcomer: Client,
}

impl Scene {
    async fn start() -> Self {
        let server = TestServer::start(|config| config).await;
        let mut alice = server.connect().await;
        let mut bob = server.connect().await;
        let newcomer = server.connect().await;
        join_as_new_user(&mut alice, 1, "alice").await;
        join_as_new_user(&mut bob, 1, "bob").await;
        expect_arrival(&mut alice, "bob", &["alice", "bob"]).await;
        Self {
            server,
            alice,
            bob,
            newcomer,
        }
    }

    /// Proves that the refusals changed nothing and sent nothing to anyone, then stops.
    async fn assert_untouched(mut self) {
        assert_nothing_before_marker(&mut self.bob, 1, "bob", &mut [&mut self.alice]).await;
        let stray = self.newcomer.take_events();
        assert!(
            stray.is_empty(),
            "the refused connection received events: {stray:?}"
        );
        assert_eq!(
            presence(self.server.addr(), 1).await.users,
            ["alice", "bob"]
        );
        assert_eq!(presence(self.server.addr(), 2).await.user_count, 0);
        self.server.stop().await;
    }
}

/// Sends each event with an ack and checks it is refused with `code`.
async fn assert_all_refused(client: &mut Client, code: ErrorCode, cases: Vec<(&str, Value)>) {
    for (event, payload) in cases {
        let context = format!("`{event}` with {payload}");
        let ack = client.emit_with_ack(event, payload).await;
        assert_refused(&ack, code, &context);
    }
}

/// Payloads that are not objects, lack a field, or hold a field of the wrong JSON type
/// are refused with `invalid_payload`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_payloads_are_refused_with_invalid_payload() {
    let mut scene = Scene::start().await;

    let join_cases = vec![
        (JOIN_PR_ROOM, json!("hello")),
        (JOIN_PR_ROOM, json!(42)),
        (JOIN_PR_ROOM, json!(null)),
        (JOIN_PR_ROOM, json!([1, "newcomer"])),
        (JOIN_PR_ROOM, json!({})),
        (JOIN_PR_ROOM, json!({"username": "newcomer"})),
        (JOIN_PR_ROOM, json!({"pullRequestId": 1})),
        (JOIN_PR_ROOM, json!({"pullRequestId": 1, "username": 5})),
        (JOIN_PR_ROOM, json!({"pullRequestId": 1, "username": null})),
    ];
    assert_all_refused(&mut scene.newcomer, InvalidPayload, join_cases).await;

    // An event with no argument at all.
    let ack = scene
        .newcomer
        .emit_args_with_ack(JOIN_PR_ROOM, Vec::new())
        .await;
    assert_refused(&ack, InvalidPayload, "`join-pr-room` without an argument");

    let member_cases = vec![
        (
            SEND_MESSAGE_TO_PR_ROOM,
            json!({"pullRequestId": 1, "username": "alice"}),
        ),
        (
            SEND_MESSAGE_TO_PR_ROOM,
            json!({"pullRequestId": 1, "username": "alice", "message": 5}),
        ),
        (
            SEND_MESSAGE_TO_PR_ROOM,
            json!({"pullRequestId": 1, "username": "alice", "message": null}),
        ),
        (SEND_MESSAGE_TO_PR_ROOM, json!("LGTM")),
        (TYPING, json!([])),
        (TYPING, json!({"pullRequestId": 1})),
        (STOP_TYPING, json!({"username": "alice"})),
        (LEAVE_PR_ROOM, json!("PR 1")),
    ];
    assert_all_refused(&mut scene.alice, InvalidPayload, member_cases).await;

    scene.assert_untouched().await;
}

/// A `pullRequestId` that is not an integer from 1 to 2^53 - 1 is refused with
/// `invalid_pull_request_id`, for every event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_pull_request_ids_are_refused() {
    let mut scene = Scene::start().await;

    let bad_ids = [
        json!("1"),
        json!(0),
        json!(-1),
        json!(1.5),
        json!(1e3),
        json!(9_007_199_254_740_992_u64),
        json!(true),
        json!([1]),
        json!(null),
    ];
    let join_cases = bad_ids
        .iter()
        .map(|id| {
            (
                JOIN_PR_ROOM,
                json!({"pullRequestId": id, "username": "newcomer"}),
            )
        })
        .collect();
    assert_all_refused(&mut scene.newcomer, InvalidPullRequestId, join_cases).await;

    let member_cases = vec![
        (
            LEAVE_PR_ROOM,
            json!({"pullRequestId": 0, "username": "alice"}),
        ),
        (TYPING, json!({"pullRequestId": "1", "username": "alice"})),
        (
            STOP_TYPING,
            json!({"pullRequestId": -1, "username": "alice"}),
        ),
        (
            SEND_MESSAGE_TO_PR_ROOM,
            json!({"pullRequestId": 1.5, "username": "alice", "message": "hi"}),
        ),
    ];
    assert_all_refused(&mut scene.alice, InvalidPullRequestId, member_cases).await;

    scene.assert_untouched().await;
}

/// Usernames that are blank, longer than 64 characters, or hold control or
/// direction-override characters are refused with `invalid_username`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_usernames_are_refused() {
    let mut scene = Scene::start().await;

    let bad_names = [
        String::new(),
        "   ".to_owned(),
        "a".repeat(65),
        "🦀".repeat(65),
        "a\u{0}b".to_owned(),
        "line\nbreak".to_owned(),
        "\u{202E}ecila".to_owned(),
        "a\u{2066}b".to_owned(),
    ];
    let cases = bad_names
        .iter()
        .map(|name| (JOIN_PR_ROOM, room(1, name)))
        .collect();
    assert_all_refused(&mut scene.newcomer, InvalidUsername, cases).await;

    scene.assert_untouched().await;
}

/// A refused join does not fix the connection's username: a later valid join with
/// another name succeeds and is announced normally.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_join_does_not_fix_the_username() {
    let mut scene = Scene::start().await;

    let ack = scene
        .newcomer
        .emit_with_ack(JOIN_PR_ROOM, room(0, "dave"))
        .await;
    assert_refused(&ack, InvalidPullRequestId, "join PR 0");
    join_as_new_user(&mut scene.newcomer, 1, "erin").await;
    expect_arrival(&mut scene.bob, "erin", &["alice", "bob", "erin"]).await;

    scene.server.stop().await;
}

/// Blank messages are refused with `invalid_message`; messages over 4,000 characters
/// with `message_too_long`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blank_and_overlong_messages_are_refused() {
    let mut scene = Scene::start().await;

    let blank = ["", " ", "\n\t ", "\u{3000}"]
        .iter()
        .map(|text| (SEND_MESSAGE_TO_PR_ROOM, message(1, "alice", text)))
        .collect();
    assert_all_refused(&mut scene.alice, InvalidMessage, blank).await;

    let overlong = ["x".repeat(4_001), "é".repeat(4_001), "🦀".repeat(4_001)]
        .iter()
        .map(|text| (SEND_MESSAGE_TO_PR_ROOM, message(1, "alice", text)))
        .collect();
    assert_all_refused(&mut scene.alice, MessageTooLong, overlong).await;

    scene.assert_untouched().await;
}

/// Leave, typing, stop-typing and messages for a room the connection has not joined
/// are refused with `not_in_room`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_for_a_room_not_joined_are_refused_with_not_in_room() {
    let mut scene = Scene::start().await;

    let member_cases = vec![
        (LEAVE_PR_ROOM, room(2, "alice")),
        (TYPING, room(2, "alice")),
        (STOP_TYPING, room(2, "alice")),
        (SEND_MESSAGE_TO_PR_ROOM, message(2, "alice", "hello?")),
    ];
    assert_all_refused(&mut scene.alice, NotInRoom, member_cases).await;

    // A connection that joined nothing cannot speak in a room others are in.
    let outsider_cases = vec![
        (LEAVE_PR_ROOM, room(1, "newcomer")),
        (TYPING, room(1, "newcomer")),
        (STOP_TYPING, room(1, "newcomer")),
        (SEND_MESSAGE_TO_PR_ROOM, message(1, "newcomer", "let me in")),
        // Not even under the name of someone who is present.
        (SEND_MESSAGE_TO_PR_ROOM, message(1, "bob", "it's me, bob")),
    ];
    assert_all_refused(&mut scene.newcomer, NotInRoom, outsider_cases).await;

    scene.assert_untouched().await;
}

/// Once a connection has joined as alice, any event naming another user is refused
/// with `username_mismatch`, in the room it joined and in any other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_naming_another_username_are_refused_with_username_mismatch() {
    let mut scene = Scene::start().await;

    let cases = vec![
        (SEND_MESSAGE_TO_PR_ROOM, message(1, "bob", "I am bob")),
        (TYPING, room(1, "mallory")),
        (STOP_TYPING, room(1, "mallory")),
        (LEAVE_PR_ROOM, room(1, "bob")),
        (JOIN_PR_ROOM, room(1, "bob")),
        (JOIN_PR_ROOM, room(2, "mallory")),
    ];
    assert_all_refused(&mut scene.alice, UsernameMismatch, cases).await;

    scene.assert_untouched().await;
}

/// Event names outside the contract, including server-to-client names and other
/// spellings, are refused with `unknown_event`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_events_are_refused_with_unknown_event() {
    let mut scene = Scene::start().await;

    let cases = vec![
        ("delete-pr-room", room(1, "alice")),
        ("JOIN-PR-ROOM", room(1, "alice")),
        ("joined", json!("alice has joined the chat")),
        ("pr-room-message", message(1, "alice", "spoof")),
        ("exception", json!({})),
        ("", json!({})),
    ];
    assert_all_refused(&mut scene.alice, UnknownEvent, cases).await;

    scene.assert_untouched().await;
}

/// Without an ack, each kind of refusal arrives as an `exception` event
/// `{event, code, message}` to the sender only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_without_an_ack_arrive_as_exception_events() {
    let mut scene = Scene::start().await;

    let newcomer_cases = [
        (JOIN_PR_ROOM, json!("hello"), InvalidPayload),
        (JOIN_PR_ROOM, room(0, "newcomer"), InvalidPullRequestId),
        (JOIN_PR_ROOM, room(1, " "), InvalidUsername),
        (TYPING, room(1, "newcomer"), NotInRoom),
    ];
    let alice_cases = [
        (
            SEND_MESSAGE_TO_PR_ROOM,
            message(1, "alice", "  "),
            InvalidMessage,
        ),
        (
            SEND_MESSAGE_TO_PR_ROOM,
            message(1, "alice", &"x".repeat(4_001)),
            MessageTooLong,
        ),
        (
            SEND_MESSAGE_TO_PR_ROOM,
            message(2, "alice", "hi"),
            NotInRoom,
        ),
        (TYPING, room(1, "mallory"), UsernameMismatch),
        ("delete-pr-room", room(1, "alice"), UnknownEvent),
    ];

    for (client, cases) in [
        (&mut scene.newcomer, &newcomer_cases[..]),
        (&mut scene.alice, &alice_cases[..]),
    ] {
        for (event, payload, code) in cases {
            client.emit(event, payload.clone()).await;
            let raw = client.expect(EXCEPTION).await;
            let exception: Exception = decode(raw.clone());
            assert_eq!(
                exception.event, *event,
                "exception names the wrong event: {raw}"
            );
            assert_eq!(exception.code, *code, "`{event}` with {payload}: {raw}");
            assert!(
                !exception.message.trim().is_empty(),
                "exception without a message: {raw}"
            );
        }
    }

    scene.assert_untouched().await;
}
