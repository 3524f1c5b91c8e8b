//! A minimal HTTP/1.1 GET over a plain TCP stream, enough for the server's JSON endpoints.

use std::net::SocketAddr;
use std::time::Duration;

use diffy_protocol::payload::Presence;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::client::EXPECT_TIMEOUT;

/// A response: status code and body.
#[derive(Debug)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The body, de-chunked.
    pub body: String,
}

impl Response {
    /// The body as JSON; panics when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|err| panic!("body is not JSON ({err}): {:?}", self.body))
    }
}

/// Sends `GET path` and reads the whole response.
///
/// Panics when the server does not answer with a well-formed response in time.
pub async fn get(addr: SocketAddr, path: &str) -> Response {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.expect("connect for HTTP");
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream
            .write_all(request.as_bytes())
            .await
            .expect("write the HTTP request");
        let mut raw = Vec::new();
        stream
            .read_to_end(&mut raw)
            .await
            .expect("read the HTTP response");
        raw
    };
    let raw = tokio::time::timeout(EXPECT_TIMEOUT, exchange)
        .await
        .unwrap_or_else(|_| panic!("GET {path} got no response within {EXPECT_TIMEOUT:?}"));
    parse(&String::from_utf8_lossy(&raw))
}

/// Reads `GET /api/pull-requests/{id}/presence`; panics unless it answers 200.
pub async fn presence(addr: SocketAddr, pull_request_id: u64) -> Presence {
    let path = format!("/api/pull-requests/{pull_request_id}/presence");
    let response = get(addr, &path).await;
    assert_eq!(response.status, 200, "GET {path}: {response:?}");
    serde_json::from_value(response.json())
        .unwrap_or_else(|err| panic!("GET {path} is not a Presence ({err}): {response:?}"))
}

/// Polls the presence endpoint until the room holds exactly `users`, in that order.
///
/// Panics with the last answer when that does not happen within [`EXPECT_TIMEOUT`].
pub async fn wait_for_presence(addr: SocketAddr, pull_request_id: u64, users: &[&str]) {
    let deadline = Instant::now() + EXPECT_TIMEOUT;
    loop {
        let presence = presence(addr, pull_request_id).await;
        if presence.users == users && presence.user_count == users.len() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "presence of PR {pull_request_id} never became {users:?}; last seen {presence:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn parse(raw: &str) -> Response {
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("response without a header end: {raw:?}"));
    let mut lines = head.lines();
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let chunked = lines.any(|line| {
        let line = line.to_ascii_lowercase();
        line.starts_with("transfer-encoding:") && line.contains("chunked")
    });
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Response { status, body }
}

fn dechunk(mut rest: &str) -> String {
    let mut body = String::new();
    while let Some((size_line, after)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size_line.trim(), 16)
            .unwrap_or_else(|_| panic!("bad chunk size {size_line:?}"));
        if size == 0 {
            break;
        }
        body.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    body
}
