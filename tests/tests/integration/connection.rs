//! The Socket.IO connection itself: the handshake and the first events after it.

use std::time::Duration;

use diffy_protocol::event::{
    EXCEPTION, JOIN_PR_ROOM, JOINED, LEAVE_PR_ROOM, LEFT, PR_ROOM_MESSAGE, SEND_MESSAGE_TO_PR_ROOM,
    STOP_TYPING, TYPING,
};
use diffy_server::Config;
use serde_json::json;

use crate::support::{EXPECT_TIMEOUT, TestServer, join_as_new_user, message, room};

/// An event sent the moment the namespace connect is acknowledged is handled, as the
/// official client does when it emits `join-pr-room` from its `connect` callback.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_sent_right_after_connect_is_handled() {
    let server = TestServer::start(|config| config).await;

    for round in 0..20 {
        let mut client = server.connect().await;
        let name = format!("user-{round}");
        let ack = client.emit_with_ack(JOIN_PR_ROOM, room(1, &name)).await;
        assert_eq!(ack["ok"], json!(true), "round {round}: {ack}");
    }

    server.stop().await;
}

/// A connection's events are handled in the order it sent them, even when it does not
/// wait for any answer: a join, a burst of messages and a leave sent back to back reach
/// the room as join, the messages in order, then the departure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_from_one_connection_are_handled_in_the_order_sent() {
    let server = TestServer::start(|config| Config {
        grace_period: Duration::ZERO,
        presence_window: Duration::ZERO,
        ..config
    })
    .await;
    let mut observer = server.connect().await;
    join_as_new_user(&mut observer, 1, "observer").await;

    for round in 0..10 {
        let name = format!("sender{round}");
        let mut sender = server.connect().await;
        let mut burst = vec![(JOIN_PR_ROOM, room(1, &name)), (TYPING, room(1, &name))];
        for n in 0..5 {
            burst.push((SEND_MESSAGE_TO_PR_ROOM, message(1, &name, &format!("m{n}"))));
        }
        burst.push((LEAVE_PR_ROOM, room(1, &name)));
        sender.emit_batch(burst).await;

        // The observer sees exactly this story, and the sender was never refused.
        let mut story = Vec::new();
        while story.last().map(String::as_str) != Some("left") {
            let Some((event, data)) = observer.next_event(EXPECT_TIMEOUT).await else {
                panic!("round {round}: the story stopped at {story:?}");
            };
            match event.as_str() {
                JOINED => story.push("joined".to_owned()),
                TYPING => story.push("typing".to_owned()),
                STOP_TYPING => story.push("stop-typing".to_owned()),
                PR_ROOM_MESSAGE => story.push(data["message"].as_str().unwrap_or("?").to_owned()),
                LEFT => story.push("left".to_owned()),
                _ => {}
            }
        }
        let expected = [
            "joined",
            "typing",
            "stop-typing",
            "m0",
            "m1",
            "m2",
            "m3",
            "m4",
            "left",
        ];
        assert_eq!(story, expected, "round {round}");
        let refusals: Vec<_> = sender
            .take_events()
            .into_iter()
            .filter(|(event, _)| event == EXCEPTION)
            .collect();
        assert!(
            refusals.is_empty(),
            "round {round}: sender refused: {refusals:?}"
        );
        sender.close().await;
    }

    server.stop().await;
}
