//! The Diffy PR-room server: Socket.IO presence, chat and typing for pull request reviews.
//!
//! [`run`] serves the Socket.IO endpoint (`/socket.io/`) and the HTTP routes on one
//! listener until its shutdown future completes. The binary in `main.rs` only parses
//! flags, installs logging, binds and calls it; tests call it on port 0.

mod app;
mod coalesce;
pub mod config;
mod handlers;
mod http;
mod lanes;
mod limits;
pub mod presence;
mod reply;
mod turn;

use std::future::Future;
use std::time::Duration;

use axum::http::HeaderValue;
use axum::serve::ListenerExt;
use socketioxide::SocketIo;
use socketioxide::handler::ConnectHandler;
use tokio::net::TcpListener;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tracing::{debug, info, warn};

pub use config::{Cli, Config};

use app::App;

/// How long a graceful shutdown may take before the remaining connections are dropped.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Packets queued for one connection before further sends to it fail. A join storm sends
/// every member one notice per arrival, so this is far above socketioxide's 128; the
/// queue only takes memory while it is full.
const SOCKET_BUFFER_PACKETS: usize = 4096;

/// The WebSocket read chunk per connection. Clients send small events; a larger frame is
/// read in several chunks. Every held connection keeps one, so it is kept small.
const WS_READ_BUFFER_BYTES: usize = 1024;

/// How long an Engine.IO session may stay without joining the namespace. Clients connect
/// within milliseconds; idle handshakes only hold memory.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long closing the Socket.IO sockets may take during shutdown.
const SOCKET_CLOSE_LIMIT: Duration = Duration::from_secs(2);

/// Why the server stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The listener failed.
    #[error("listener failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Serves the PR-room protocol and the HTTP routes on `listener` until `shutdown` completes,
/// then closes every connection cleanly and returns.
///
/// Fails when the listener's address cannot be read or accepting fails for good.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let addr = listener.local_addr()?;
    let mut config = config;
    config.allowed_origins = normalized_origins(&config.allowed_origins);
    let static_dir = config.static_dir.clone();
    let cors = cors(&config.allowed_origins);
    let app = App::new(config);

    let max_payload = app.config.max_payload_bytes;
    let max_frame = usize::try_from(max_payload).unwrap_or(usize::MAX);
    let (layer, io) = SocketIo::builder()
        .max_payload(max_payload)
        .ws_max_message_size(max_frame)
        .ws_max_frame_size(max_frame)
        .ws_read_buffer_size(WS_READ_BUFFER_BYTES)
        .max_buffer_size(SOCKET_BUFFER_PACKETS)
        .connect_timeout(CONNECT_TIMEOUT)
        .with_state(app.clone())
        .build_layer();
    io.ns("/", handlers::on_connect.with(handlers::admit));

    let router = http::router(app, static_dir.as_deref())
        .layer(layer)
        .layer(axum::middleware::map_request(detach_from_read_buffer))
        .layer(cors);

    info!(addr = %addr, "listening");
    let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel();
    let closing_io = io.clone();
    // Presence and chat are many small writes; Nagle's algorithm would hold each one back
    // until the previous one is acknowledged, adding tens of milliseconds at the tail.
    let listener = listener.tap_io(|tcp| {
        if let Err(err) = tcp.set_nodelay(true) {
            debug!(cause = %err, "cannot set TCP_NODELAY");
        }
    });
    let serve = axum::serve(listener, router).with_graceful_shutdown(async move {
        shutdown.await;
        info!("shutting down");
        let _ = stopping_tx.send(());
        // Closing every socket lets upgraded WebSockets and long polls finish. The close is
        // bounded so that one socket that never acknowledges cannot hold the others up.
        if tokio::time::timeout(SOCKET_CLOSE_LIMIT, closing_io.close())
            .await
            .is_err()
        {
            warn!(after = ?SOCKET_CLOSE_LIMIT, "sockets still closing; shutting down anyway");
        }
    });

    let mut serve = std::pin::pin!(serve.into_future());
    tokio::select! {
        result = &mut serve => result?,
        () = async {
            let _ = stopping_rx.await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } => warn!(after = ?SHUTDOWN_GRACE, "connections still open at shutdown; dropping them"),
    }
    info!("stopped");
    Ok(())
}

/// Copies the request's URI and headers out of the connection's read buffer.
///
/// hyper parses them as slices of its 16 KiB read buffer, and socketioxide keeps every
/// socket's request parts for the life of the connection, so those slices would keep the
/// whole buffer alive: most of a held connection's memory. The copies take a few hundred
/// bytes. Extensions, which carry the WebSocket upgrade, are left as they are.
async fn detach_from_read_buffer(mut request: axum::extract::Request) -> axum::extract::Request {
    let headers = request
        .headers()
        .iter()
        .filter_map(|(name, value)| {
            let value = HeaderValue::from_bytes(value.as_bytes()).ok()?;
            Some((name.clone(), value))
        })
        .collect();
    *request.headers_mut() = headers;
    if let Ok(uri) = request.uri().to_string().parse::<axum::http::Uri>() {
        *request.uri_mut() = uri.clone();
        // The router keeps its own copy of the URI as it arrived.
        request
            .extensions_mut()
            .insert(axum::extract::OriginalUri(uri));
    }
    request
}

/// Trims each allowed origin (`a, b` is a natural way to write a list) and drops empty ones.
fn normalized_origins(origins: &[String]) -> Vec<String> {
    origins
        .iter()
        .map(|origin| origin.trim().trim_end_matches('/').to_owned())
        .filter(|origin| !origin.is_empty())
        .collect()
}

/// Cross-origin rules for long polling and the HTTP API, matching the allowed origins.
fn cors(allowed_origins: &[String]) -> CorsLayer {
    if allowed_origins.is_empty() {
        return CorsLayer::permissive();
    }
    let origins = allowed_origins.iter().filter_map(|origin| match origin.parse() {
        Ok(value) => Some(value),
        Err(_) => {
            warn!(origin = %origin, "ignoring an allowed origin that is not a valid header value");
            None
        }
    });
    let origins: Vec<HeaderValue> = origins.collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods(tower_http::cors::Any)
}
