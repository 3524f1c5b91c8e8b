//! Malformed Socket.IO frames: each affects only the connection that sent it.
//!
//! Every test sends one bad frame from its own connection, then a probe on that same
//! connection: a repeated join of the room it is in, which is acknowledged and sends
//! nothing to anyone. Either the server closed the connection (the contract's way), and
//! then the sender's presence must be cleaned up as for any close, even if the probe was
//! still handled; or it answered the probe, and then the connection must still behave.
//! Either way the rest of the room must keep working, and no server task may panic.

use std::time::Duration;

use diffy_protocol::event::{EXCEPTION, JOIN_PR_ROOM, PR_ROOM_MESSAGE};
use diffy_protocol::payload::{JoinAck, RoomMessage};

use crate::support::http::{presence, wait_for_presence};
use crate::support::{
    AckOrClose, TestServer, accepted, assert_nothing_before_marker, decode, expect_arrival,
    expect_departure, join_as_new_user, room,
};

/// What the server did with the bad frame.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// It closed the offending connection.
    Closed,
    /// It kept the connection open and answered the probe.
    KeptOpen,
}

/// Sends `frame` from a connection that joined PR 1 and checks that the room is intact.
async fn bad_frame_affects_only_its_sender(frame: &str) -> Outcome {
    // No grace period, so that a closed sender is announced as gone at once.
    let server = TestServer::with_grace(Duration::ZERO).await;
    let mut alice = server.connect().await;
    let mut bob = server.connect().await;
    let mut offender = server.connect().await;
    join_as_new_user(&mut alice, 1, "alice").await;
    join_as_new_user(&mut bob, 1, "bob").await;
    join_as_new_user(&mut offender, 1, "offender").await;
    expect_arrival(&mut alice, "bob", &["alice", "bob"]).await;
    expect_arrival(&mut alice, "offender", &["alice", "bob", "offender"]).await;
    expect_arrival(&mut bob, "offender", &["alice", "bob", "offender"]).await;

    offender.send_raw(frame).await;
    let probe = offender
        .emit_with_ack_or_close(JOIN_PR_ROOM, room(1, "offender"))
        .await;

    let outcome = match probe {
        AckOrClose::Closed => {
            expect_departure(&mut alice, "offender", 1, &["alice", "bob"]).await;
            expect_departure(&mut bob, "offender", 1, &["alice", "bob"]).await;
            wait_for_presence(server.addr(), 1, &["alice", "bob"]).await;
            assert_nothing_before_marker(&mut alice, 1, "alice", &mut [&mut bob]).await;
            Outcome::Closed
        }
        AckOrClose::Acked(ack) => {
            let ack: JoinAck = accepted(ack);
            assert_eq!(ack.users, ["alice", "bob", "offender"]);
            let marker =
                assert_nothing_before_marker(&mut alice, 1, "alice", &mut [&mut bob]).await;

            // The offender still hears the room; at most it was told its frame was refused.
            let heard: RoomMessage = decode(offender.expect(PR_ROOM_MESSAGE).await);
            assert_eq!(heard.message, marker);
            let stray: Vec<_> = offender
                .take_events()
                .into_iter()
                .filter(|(name, _)| name != EXCEPTION)
                .collect();
            assert!(
                stray.is_empty(),
                "the offender got unexpected events: {stray:?}"
            );
            assert_eq!(
                presence(server.addr(), 1).await.users,
                ["alice", "bob", "offender"]
            );
            Outcome::KeptOpen
        }
    };

    // A newcomer can still join and talk.
    let mut carol = server.connect().await;
    join_as_new_user(&mut carol, 1, "carol").await;
    assert_nothing_before_marker(&mut carol, 1, "carol", &mut []).await;

    server.stop().await;
    outcome
}

/// `45`: a binary event without its attachment count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_event_without_attachment_count_affects_only_its_sender() {
    assert_eq!(
        bad_frame_affects_only_its_sender("45").await,
        Outcome::Closed
    );
}

/// `451-`: a binary event announcing an attachment that never comes, then text.
///
/// Closing is not required here: the parser may keep the dangling binary header and go
/// on reading text packets. The helper checks that either way nothing else is touched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_event_with_missing_attachment_affects_only_its_sender() {
    bad_frame_affects_only_its_sender("451-").await;
}

/// `42`: an event packet without any data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_without_data_affects_only_its_sender() {
    assert_eq!(
        bad_frame_affects_only_its_sender("42").await,
        Outcome::Closed
    );
}

/// `42[`: an event packet whose JSON ends at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_with_unterminated_array_affects_only_its_sender() {
    assert_eq!(
        bad_frame_affects_only_its_sender("42[").await,
        Outcome::Closed
    );
}

/// `42{}`: an event packet whose data is an object instead of an array.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_with_object_instead_of_array_affects_only_its_sender() {
    assert_eq!(
        bad_frame_affects_only_its_sender("42{}").await,
        Outcome::Closed
    );
}

/// `42[123]`: an event packet whose name is a number.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_with_numeric_name_affects_only_its_sender() {
    assert_eq!(
        bad_frame_affects_only_its_sender("42[123]").await,
        Outcome::Closed
    );
}

/// A join whose JSON is cut off in the middle.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_with_truncated_json_affects_only_its_sender() {
    let frame = r#"42["join-pr-room",{"pullRequestId":1"#;
    assert_eq!(
        bad_frame_affects_only_its_sender(frame).await,
        Outcome::Closed
    );
}

/// A well-formed event followed by garbage in the same frame.
///
/// The event name can be read before the garbage, so the server may answer the event
/// (with a refusal) instead of closing; the helper checks that either way nothing else
/// is touched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_with_trailing_garbage_affects_only_its_sender() {
    bad_frame_affects_only_its_sender(r#"42["typing",{}]xyz"#).await;
}
