//! `socketioxide-floor`: the least a socketioxide server does to seat clients in rooms.
//!
//! The many-rooms scenario runs against it beside `diffy-server` and the Node.js peer, so
//! that the report can tell the memory socketioxide itself takes per connection from what
//! the PR-room server adds on top. It holds connections exactly as `diffy-server` does
//! ([`diffy_server::transport`]: engine settings, request trimming, `TCP_NODELAY`) and
//! answers one event: `join-pr-room {pullRequestId}` joins `pr:{pullRequestId}`, sends the
//! room its socket count as `user-count` and acknowledges with the same count. No presence,
//! no validation beyond what the scenario needs, no rate limits: not a server to deploy.
//!
//! Usage: `socketioxide-floor [--listen 127.0.0.1:0]`; prints `listening addr=HOST:PORT`.

use std::net::SocketAddr;

use anyhow::Context;
use axum::serve::ListenerExt;
use clap::Parser;
use diffy_server::transport;
use serde_json::{Value, json};
use socketioxide::SocketIo;
use socketioxide::extract::{AckSender, Data, SocketRef};
use tokio::net::TcpListener;

/// A bare socketioxide server for the many-rooms scenario.
#[derive(Debug, Parser)]
#[command(name = "socketioxide-floor", version)]
struct Cli {
    /// Where to listen (loopback).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let (layer, io) = transport::tune(SocketIo::builder()).build_layer();
    io.ns("/", on_connect);

    let listener = TcpListener::bind(cli.listen)
        .await
        .with_context(|| format!("cannot listen on {}", cli.listen))?;
    let addr = listener.local_addr()?;
    let listener = listener.tap_io(transport::set_nodelay);
    eprintln!("listening addr={addr}");
    let router = axum::Router::new()
        .layer(layer)
        .layer(axum::middleware::map_request(
            transport::detach_from_read_buffer,
        ));
    axum::serve(listener, router).await?;
    Ok(())
}

/// Installs the one event handler. The scenario connects every client before any joins.
async fn on_connect(socket: SocketRef) {
    socket.on("join-pr-room", join);
}

/// Seats the socket in its room and tells the room how many sockets it holds.
async fn join(socket: SocketRef, io: SocketIo, Data(payload): Data<Value>, ack: AckSender) {
    let Some(id) = payload.get("pullRequestId").and_then(Value::as_u64) else {
        let _ = ack.send(&json!({ "ok": false }));
        return;
    };
    let room = format!("pr:{id}");
    socket.join(room.clone());
    let count = io.to(room.clone()).sockets().len();
    let _ = io
        .to(room)
        .emit("user-count", &json!({ "userCount": count }))
        .await;
    let _ = ack.send(&json!({ "ok": true, "pullRequestId": id, "userCount": count }));
}
