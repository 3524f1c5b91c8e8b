//! Graceful shutdown through the future passed to `run()`.

use diffy_protocol::event::LEFT;

use crate::support::{EXPECT_TIMEOUT, TestServer, expect_arrival, join_as_new_user};

/// When the shutdown future fires, every connected client sees its socket closed, `run()`
/// returns `Ok`, and the port stops accepting connections.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_every_connection_and_run_returns_ok() {
    let mut server = TestServer::start(|config| config).await;
    let mut alice = server.connect().await;
    let mut bob = server.connect().await;
    let mut idle = server.connect().await;
    join_as_new_user(&mut alice, 1, "alice").await;
    join_as_new_user(&mut bob, 1, "bob").await;
    expect_arrival(&mut alice, "bob", &["alice", "bob"]).await;

    server.trigger_shutdown();
    for (name, client) in [
        ("alice", &mut alice),
        ("bob", &mut bob),
        ("idle", &mut idle),
    ] {
        assert!(
            client.is_closed_by_server(EXPECT_TIMEOUT).await,
            "{name}'s connection was still open {EXPECT_TIMEOUT:?} after shutdown"
        );
    }
    // Shutting down is not people leaving: nobody was told anyone left.
    for client in [&mut alice, &mut bob] {
        let left: Vec<_> = client
            .take_events()
            .into_iter()
            .filter(|(n, _)| n == LEFT)
            .collect();
        assert!(left.is_empty(), "shutdown announced departures: {left:?}");
    }

    let addr = server.addr();
    server.stop().await;
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "the port still accepts connections after run() returned"
    );
}

/// Shutting down a server nobody is connected to returns promptly and cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_of_an_idle_server_returns_ok() {
    let server = TestServer::start(|config| config).await;
    server.stop().await;
}

/// Shutdown stays prompt with many open connections: closing them all must not wait for
/// any fallback timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_with_many_connections_returns_promptly() {
    let mut server = TestServer::start(|config| config).await;
    let mut clients = Vec::new();
    for index in 0..40 {
        let mut client = server.connect().await;
        join_as_new_user(&mut client, 1 + index % 4, &format!("user-{index}")).await;
        clients.push(client);
    }

    server.trigger_shutdown();
    for (index, client) in clients.iter_mut().enumerate() {
        assert!(
            client.is_closed_by_server(EXPECT_TIMEOUT).await,
            "connection {index} was still open {EXPECT_TIMEOUT:?} after shutdown"
        );
    }
    server.stop().await;
}
