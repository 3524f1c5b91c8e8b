//! The Socket.IO connection itself: the handshake and the first events after it.

use diffy_protocol::event::JOIN_PR_ROOM;
use serde_json::json;

use crate::support::{TestServer, room};

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
