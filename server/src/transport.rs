//! How the server holds connections: socketioxide's engine settings, the request trimming
//! that keeps a held connection small, and `TCP_NODELAY` on every accepted socket.
//!
//! [`run`](crate::run) applies all of it; so does the benchmark's `socketioxide-floor`, a
//! bare socketioxide server held to the same settings, so that what socketioxide takes per
//! connection can be told apart from what the PR-room server adds.

use std::time::Duration;

use axum::extract::{OriginalUri, Request};
use axum::http::header::{CONTENT_TYPE, ORIGIN, SEC_WEBSOCKET_KEY};
use axum::http::{Extensions, HeaderMap, HeaderName, HeaderValue, Uri};
use hyper::upgrade::OnUpgrade;
use socketioxide::SocketIoBuilder;
use socketioxide::adapter::Adapter;
use tokio::net::TcpStream;
use tracing::debug;

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

/// Applies the engine settings above to a socketioxide builder.
pub fn tune<A: Adapter>(builder: SocketIoBuilder<A>) -> SocketIoBuilder<A> {
    builder
        .req_path(SOCKET_IO_PATH)
        .ws_read_buffer_size(WS_READ_BUFFER_BYTES)
        .max_buffer_size(SOCKET_BUFFER_PACKETS)
        .connect_timeout(CONNECT_TIMEOUT)
}

/// Turns off Nagle's algorithm on an accepted connection. Presence and chat are many small
/// writes; Nagle's algorithm would hold each one back until the previous one is
/// acknowledged, adding tens of milliseconds at the tail.
pub fn set_nodelay(tcp: &mut TcpStream) {
    if let Err(err) = tcp.set_nodelay(true) {
        debug!(cause = %err, "cannot set TCP_NODELAY");
    }
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
pub async fn detach_from_read_buffer(request: Request) -> Request {
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
