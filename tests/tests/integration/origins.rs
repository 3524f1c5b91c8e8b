//! The allowed-origins list for WebSocket connections.

use diffy_server::Config;

use crate::support::client::Client;
use crate::support::{TestServer, join_as_new_user};

/// With a non-empty list, a connection from an unlisted `Origin` is refused, while a
/// listed origin and a client without any `Origin` header connect and join.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_allowed_origins_may_connect() {
    let server = TestServer::start(|config| Config {
        allowed_origins: vec!["http://review.example".to_owned()],
        ..config
    })
    .await;

    let refused = Client::try_connect(server.addr(), Some("http://evil.example")).await;
    assert!(
        refused.is_err(),
        "a connection from an unlisted origin was accepted"
    );

    let mut listed = Client::try_connect(server.addr(), Some("http://review.example"))
        .await
        .expect("a listed origin connects");
    join_as_new_user(&mut listed, 1, "alice").await;

    let mut no_origin = Client::try_connect(server.addr(), None)
        .await
        .expect("a client without an Origin header connects");
    join_as_new_user(&mut no_origin, 2, "bob").await;

    server.stop().await;
}
