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

use axum::extract::{OriginalUri, Request};
use axum::http::header::{CONTENT_TYPE, ORIGIN, SEC_WEBSOCKET_KEY};
use axum::http::{Extensions, HeaderMap, HeaderName, HeaderValue, Uri};
use axum::serve::ListenerExt;
use hyper::upgrade::OnUpgrade;
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
/// read in several chunks. Every held connection keeps one, so it is kept small: most
/// events fit in 256 bytes, and a smaller chunk saves nothing more.
const WS_READ_BUFFER_BYTES: usize = 256;

/// Where Socket.IO clients connect; the default of every Socket.IO client.
const SOCKET_IO_PATH: &str = "/socket.io";

/// The headers of a Socket.IO request that anything reads: `Origin` (the connect handler's
/// origin check), `Sec-WebSocket-Key` (answered by the WebSocket upgrade) and
/// `Content-Type` (how a long-polling body is encoded).
const SOCKET_IO_HEADERS: [HeaderName; 3] = [ORIGIN, SEC_WEBSOCKET_KEY, CONTENT_TYPE];

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
        .req_path(SOCKET_IO_PATH)
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

/// Copies the request's URI and headers out of the connection's read buffer, and strips a
/// Socket.IO request down to what the server reads.
///
/// hyper parses the URI and headers as slices of its 16 KiB read buffer, and socketioxide
/// keeps every socket's request parts for the life of the connection, so those slices
/// would keep the whole buffer alive: most of a held connection's memory. The copies take a
/// few hundred bytes. For the same reason a Socket.IO request keeps only the headers in
/// [`SOCKET_IO_HEADERS`] (a browser sends a dozen more, cookies included) and, of its
/// extensions, only hyper's upgrade handle, which the WebSocket transport takes. Other
/// requests keep every header and extension, since the HTTP routes may read them.
async fn detach_from_read_buffer(request: Request) -> Request {
    let (mut parts, body) = request.into_parts();
    let socket_io = is_socket_io(parts.uri.path());
    parts.headers = copied_headers(&parts.headers, |name| {
        !socket_io || SOCKET_IO_HEADERS.contains(name)
    });
    if let Ok(uri) = parts.uri.to_string().parse::<Uri>() {
        parts.uri = uri;
    }

    if socket_io {
        let upgrade = parts.extensions.remove::<OnUpgrade>();
        parts.extensions = Extensions::new();
        if let Some(upgrade) = upgrade {
            parts.extensions.insert(upgrade);
        }
    } else {
        // The router keeps its own copy of the URI as it arrived.
        parts.extensions.insert(OriginalUri(parts.uri.clone()));
    }
    Request::from_parts(parts, body)
}

/// Whether a request goes to Socket.IO, by the rule socketioxide routes it with.
fn is_socket_io(path: &str) -> bool {
    path.strip_prefix(SOCKET_IO_PATH)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Copies the headers that `keep` selects into a map sized to hold just them.
fn copied_headers(headers: &HeaderMap, keep: impl Fn(&HeaderName) -> bool) -> HeaderMap {
    let kept = || headers.iter().filter(|(name, _)| keep(name));
    let mut copies = HeaderMap::with_capacity(kept().count());
    for (name, value) in kept() {
        if let Ok(value) = HeaderValue::from_bytes(value.as_bytes()) {
            copies.append(name.clone(), value);
        }
    }
    copies
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

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::header::{COOKIE, USER_AGENT};

    use super::*;

    fn request(path: &str) -> Request {
        Request::builder()
            .uri(path)
            .header(ORIGIN, "https://review.example")
            .header(SEC_WEBSOCKET_KEY, "dGhlIHNhbXBsZSBub25jZQ==")
            .header(COOKIE, "session=1")
            .header(USER_AGENT, "test")
            .body(Body::empty())
            .expect("a valid request")
    }

    #[tokio::test]
    async fn a_socket_io_request_keeps_only_the_headers_the_server_reads() {
        let request = detach_from_read_buffer(request("/socket.io/?EIO=4")).await;
        let mut kept: Vec<&str> = request.headers().keys().map(HeaderName::as_str).collect();
        kept.sort_unstable();
        assert_eq!(kept, ["origin", "sec-websocket-key"]);
        assert_eq!(request.uri(), "/socket.io/?EIO=4");
    }

    #[tokio::test]
    async fn other_requests_keep_every_header() {
        let request = detach_from_read_buffer(request("/healthz")).await;
        assert_eq!(request.headers().len(), 4);
        assert!(request.extensions().get::<OriginalUri>().is_some());
    }

    #[test]
    fn socket_io_paths_are_matched_as_socketioxide_matches_them() {
        assert!(is_socket_io("/socket.io"));
        assert!(is_socket_io("/socket.io/"));
        assert!(!is_socket_io("/socket.iox"));
        assert!(!is_socket_io("/api/pull-requests/1/presence"));
    }
}
