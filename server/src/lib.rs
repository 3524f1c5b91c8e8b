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
pub mod transport;
mod turn;

use std::future::Future;
use std::time::Duration;

use axum::http::HeaderValue;
use axum::serve::ListenerExt;
use socketioxide::SocketIo;
use socketioxide::handler::ConnectHandler;
use tokio::net::TcpListener;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tracing::{info, warn};

pub use config::{Cli, Config};

use app::App;

/// How long a graceful shutdown may take before the remaining connections are dropped.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

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
    let (layer, io) = transport::tune(SocketIo::builder())
        .max_payload(max_payload)
        .ws_max_message_size(max_frame)
        .ws_max_frame_size(max_frame)
        .with_state(app.clone())
        .build_layer();
    io.ns("/", handlers::on_connect.with(handlers::admit));

    let router = http::router(app, static_dir.as_deref())
        .layer(layer)
        .layer(axum::middleware::map_request(
            transport::detach_from_read_buffer,
        ))
        .layer(cors);

    info!(addr = %addr, "listening");
    let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel();
    let closing_io = io.clone();
    let listener = listener.tap_io(transport::set_nodelay);
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
