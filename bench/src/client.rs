//! One Socket.IO client over a WebSocket, spoken with the protocol crate's codec.
//!
//! A [`Client`] connects from a chosen loopback source address, opens the Engine.IO
//! session, joins the default namespace, answers the server's pings by itself and counts
//! every packet and byte it receives into a shared [`Traffic`]. What it hands back is a
//! [`Received`] packet whose event name can be read without parsing its JSON, so that a
//! scenario pays for decoding only the events it looks at, and which carries the kernel's
//! receive time of the bytes that completed it ([`crate::stamped`]).

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use diffy_protocol::codec::{CodecError, EnginePacket, SocketBody, SocketPacket};
use diffy_protocol::payload::{MessageRequest, RoomRequest};
use diffy_protocol::{MessageText, PullRequestId, Username};
use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use serde::de::{DeserializeOwned, IgnoredAny};
use tokio::net::TcpSocket;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message, Utf8Bytes};
use tokio_tungstenite::{WebSocketStream, client_async_with_config};

use crate::stamped::StampedStream;

/// Why a client operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The TCP connection could not be made or broke.
    #[error("socket: {0}")]
    Io(#[from] std::io::Error),
    /// The WebSocket handshake or a frame failed.
    #[error("websocket: {0}")]
    WebSocket(#[from] tungstenite::Error),
    /// The server closed the connection.
    #[error("closed by the server")]
    Closed,
    /// The server said something the protocol does not allow here.
    #[error("protocol: {0}")]
    Protocol(String),
    /// A frame could not be decoded.
    #[error("codec: {0}")]
    Codec(#[from] CodecError),
}

/// The server under test: where to connect and the WebSocket URL to ask for.
#[derive(Debug, Clone)]
pub struct Target {
    /// The server's socket address, always on loopback.
    pub addr: SocketAddr,
    /// `ws://host:port/socket.io/?EIO=4&transport=websocket`.
    pub ws_url: String,
}

impl Target {
    /// Reads an `http://127.0.0.1:PORT` URL.
    ///
    /// Fails when the URL is not plain `http://` to an IPv4 loopback address with a port:
    /// the generator never sends traffic off the machine.
    pub fn from_http_url(url: &str) -> anyhow::Result<Self> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| anyhow::anyhow!("the URL must start with http://"))?;
        let authority = rest.split('/').next().unwrap_or_default();
        let addr: SocketAddr = authority
            .parse()
            .map_err(|_| anyhow::anyhow!("the URL must name an IP address and a port"))?;
        let loopback = matches!(addr, SocketAddr::V4(v4) if v4.ip().is_loopback());
        anyhow::ensure!(loopback, "the server must be on 127.0.0.0/8");
        Ok(Self {
            addr,
            ws_url: format!("ws://{authority}/socket.io/?EIO=4&transport=websocket"),
        })
    }
}

/// Hands out source addresses 127.0.0.2 to 127.0.0.254 in turn.
///
/// Each source address has its own ~28,000 ephemeral ports, so spreading clients over 253
/// of them lifts the port limit far past any connection count the machine can hold.
#[derive(Debug, Default)]
pub struct SourceAddrs {
    next: AtomicU32,
}

impl SourceAddrs {
    /// Addresses starting at the `offset`-th one, so that shards spread differently.
    pub fn starting_at(offset: u32) -> Self {
        Self {
            next: AtomicU32::new(offset),
        }
    }

    /// The next source address.
    pub fn next(&self) -> Ipv4Addr {
        let n = self.next.fetch_add(1, Ordering::Relaxed) % 253;
        Ipv4Addr::new(127, 0, 0, 2 + n as u8)
    }
}

/// Packets and bytes received by a group of clients.
#[derive(Debug, Default)]
pub struct Traffic {
    packets: AtomicU64,
    bytes: AtomicU64,
}

impl Traffic {
    /// Counts one received packet of `bytes` bytes.
    pub fn add(&self, bytes: usize) {
        self.packets.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// Packets and bytes received so far.
    pub fn totals(&self) -> (u64, u64) {
        (
            self.packets.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
        )
    }
}

/// A Socket.IO packet from the server (the data of an Engine.IO `message`).
#[derive(Debug, Clone)]
pub struct Received {
    frame: Utf8Bytes,
    arrival_ns: u64,
}

impl Received {
    /// When the kernel received the last bytes of this packet, in nanoseconds of
    /// `CLOCK_REALTIME` ([`crate::stamped::realtime_now_ns`]'s clock).
    pub fn arrival_ns(&self) -> u64 {
        self.arrival_ns
    }

    /// The Socket.IO packet text, without the Engine.IO type digit.
    pub fn text(&self) -> &str {
        self.frame.as_str().get(1..).unwrap_or_default()
    }

    /// The name of an event packet sent without an ack id (all server events), read
    /// without parsing the JSON.
    ///
    /// Receivers of a join storm get gigabytes of `active-users` lists; finding the name
    /// by a prefix scan lets them skip those lists instead of parsing each one.
    pub fn event_name(&self) -> Option<&str> {
        let rest = self.text().strip_prefix("2[\"")?;
        rest.split_once('"').map(|(name, _)| name)
    }

    /// The id of an acknowledgement packet, read without parsing the JSON.
    pub fn ack_id(&self) -> Option<u64> {
        let rest = self.text().strip_prefix('3')?;
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        rest.get(..digits)?.parse().ok()
    }

    /// The whole packet, decoded by the codec.
    ///
    /// Fails when the packet is malformed.
    pub fn decode(&self) -> Result<SocketPacket, CodecError> {
        SocketPacket::decode(self.text())
    }

    /// The one argument of a server event, read straight into `T`; `None` when the packet
    /// is not an event with exactly that argument.
    ///
    /// This is the receivers' hot path (a fan-out delivers hundreds of thousands of
    /// messages a second to one generator process): it skips the codec's generic JSON
    /// value and parses the `["name", arg]` array directly into the payload type.
    pub fn event_arg<T: DeserializeOwned>(&self) -> Option<T> {
        let array = self.text().strip_prefix('2')?;
        let (_name, arg): (IgnoredAny, T) = serde_json::from_str(array).ok()?;
        Some(arg)
    }

    /// The first argument of an event or acknowledgement, as `T`; `None` when the packet
    /// does not decode or the argument has another shape.
    pub fn first_arg<T: DeserializeOwned>(&self) -> Option<T> {
        let args = match self.decode().ok()?.body {
            SocketBody::Event { args, .. } | SocketBody::Ack { args, .. } => args,
            _ => return None,
        };
        serde_json::from_value(args.into_iter().next()?).ok()
    }
}

/// One connected Socket.IO client in the default namespace.
#[derive(Debug)]
pub struct Client {
    ws: WebSocketStream<StampedStream>,
    traffic: Arc<Traffic>,
    next_ack_id: u64,
}

impl Client {
    /// Connects from `source` to `target`, opens the Engine.IO session over WebSocket and
    /// joins the default namespace.
    ///
    /// Fails when the TCP connection, the WebSocket handshake or the Socket.IO connect
    /// fails, or the server refuses the namespace. The caller bounds the time it takes.
    pub async fn connect(
        target: &Target,
        source: Ipv4Addr,
        traffic: Arc<Traffic>,
    ) -> Result<Self, ClientError> {
        let socket = TcpSocket::new_v4()?;
        socket.bind(SocketAddr::from((source, 0)))?;
        let stream = socket.connect(target.addr).await?;
        stream.set_nodelay(true)?;
        let stream = StampedStream::new(stream)?;

        // Small buffers: the generator holds tens of thousands of these, and the messages
        // it reads are short (tungstenite's defaults allocate 128 KiB each eagerly).
        let config = WebSocketConfig::default()
            .read_buffer_size(4096)
            .write_buffer_size(0);
        let (ws, _response) =
            client_async_with_config(target.ws_url.as_str(), stream, Some(config)).await?;
        let mut client = Self {
            ws,
            traffic,
            next_ack_id: 0,
        };

        client.expect_open().await?;
        client
            .send_frame(SocketPacket::connect().encode_frame())
            .await?;
        loop {
            let packet = client.recv().await?.decode()?;
            match packet.body {
                SocketBody::Connect(_) => return Ok(client),
                SocketBody::ConnectError(data) => {
                    return Err(ClientError::Protocol(format!("connect refused: {data}")));
                }
                _ => continue,
            }
        }
    }

    /// Reads the Engine.IO `open` packet that starts every session.
    async fn expect_open(&mut self) -> Result<(), ClientError> {
        let Some(message) = self.ws.next().await else {
            return Err(ClientError::Closed);
        };
        let Message::Text(text) = message? else {
            return Err(ClientError::Protocol("expected a text open packet".into()));
        };
        self.traffic.add(text.len());
        match EnginePacket::decode(&text)? {
            EnginePacket::Open(_) => Ok(()),
            other => Err(ClientError::Protocol(format!(
                "expected open, got {other:?}"
            ))),
        }
    }

    /// Waits for the next Socket.IO packet, answering pings and counting traffic on the
    /// way.
    ///
    /// Fails when the connection closes or breaks.
    pub async fn recv(&mut self) -> Result<Received, ClientError> {
        loop {
            let Some(message) = self.ws.next().await else {
                return Err(ClientError::Closed);
            };
            let text = match message? {
                Message::Text(text) => text,
                Message::Close(_) => return Err(ClientError::Closed),
                Message::Binary(bytes) => {
                    self.traffic.add(bytes.len());
                    continue;
                }
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
            };
            self.traffic.add(text.len());
            match text.as_bytes().first() {
                Some(b'4') => {
                    let arrival_ns = self.ws.get_ref().last_arrival_ns();
                    return Ok(Received {
                        frame: text,
                        arrival_ns,
                    });
                }
                Some(b'2') => {
                    if let EnginePacket::Ping(data) = EnginePacket::decode(&text)? {
                        self.send_frame(EnginePacket::Pong(data).encode()).await?;
                    }
                }
                Some(b'1') => return Err(ClientError::Closed),
                _ => {}
            }
        }
    }

    /// Sends an event with one payload, asking for an acknowledgement when `want_ack`;
    /// returns the ack id it will carry.
    ///
    /// Fails when the connection is broken.
    pub async fn emit(
        &mut self,
        name: &str,
        payload: &impl Serialize,
        want_ack: bool,
    ) -> Result<Option<u64>, ClientError> {
        let value = serde_json::to_value(payload)
            .map_err(|err| ClientError::Protocol(format!("payload: {err}")))?;
        let ack_id = want_ack.then(|| {
            self.next_ack_id += 1;
            self.next_ack_id
        });
        let frame = SocketPacket::event(name, value, ack_id).encode_frame();
        self.send_frame(frame).await?;
        Ok(ack_id)
    }

    /// Closes the connection with a WebSocket close frame, as a browser tab does.
    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }

    async fn send_frame(&mut self, frame: String) -> Result<(), ClientError> {
        self.ws.send(Message::text(frame)).await?;
        Ok(())
    }
}

/// The `{pullRequestId, username}` payload of join, leave and typing.
///
/// Fails when the id or the name breaks the protocol's rules (a harness bug).
pub fn room_request(room: u64, username: &str) -> anyhow::Result<RoomRequest> {
    Ok(RoomRequest {
        pull_request_id: PullRequestId::new(room).map_err(|r| anyhow::anyhow!(r.message))?,
        username: Username::new(username).map_err(|r| anyhow::anyhow!(r.message))?,
    })
}

/// The payload of `send-message-to-pr-room`.
///
/// Fails as [`room_request`] does, or when the text is not a valid message.
pub fn message_request(room: u64, username: &str, text: String) -> anyhow::Result<MessageRequest> {
    let request = room_request(room, username)?;
    Ok(MessageRequest {
        pull_request_id: request.pull_request_id,
        username: request.username,
        message: MessageText::new(text).map_err(|r| anyhow::anyhow!(r.message))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn received(frame: &str) -> Received {
        Received {
            frame: Utf8Bytes::from(frame),
            arrival_ns: 0,
        }
    }

    /// The event name and ack id are read from the packet text without decoding it.
    #[test]
    fn names_and_ack_ids_are_read_by_prefix() {
        let event = received(r#"42["user-count",{"userCount":5}]"#);
        assert_eq!(event.event_name(), Some("user-count"));
        assert_eq!(event.ack_id(), None);
        assert_eq!(
            event.first_arg::<serde_json::Value>().unwrap()["userCount"],
            5
        );
        let count: diffy_protocol::payload::UserCount = event.event_arg().unwrap();
        assert_eq!(count.user_count, 5);

        let ack = received(r#"4312[{"ok":true,"relayed":false}]"#);
        assert_eq!(ack.event_name(), None);
        assert_eq!(ack.ack_id(), Some(12));
    }

    /// Only plain http URLs to an IPv4 loopback address and port are accepted.
    #[test]
    fn targets_must_be_on_loopback() {
        let target = Target::from_http_url("http://127.0.0.1:3000").unwrap();
        assert_eq!(target.addr, "127.0.0.1:3000".parse().unwrap());
        assert_eq!(
            target.ws_url,
            "ws://127.0.0.1:3000/socket.io/?EIO=4&transport=websocket"
        );
        for url in [
            "http://10.0.0.1:3000",
            "https://127.0.0.1:3000",
            "http://localhost:3000",
        ] {
            assert!(Target::from_http_url(url).is_err(), "{url}");
        }
    }

    /// Source addresses cycle through 127.0.0.2 to 127.0.0.254.
    #[test]
    fn source_addresses_cover_the_loopback_range() {
        let sources = SourceAddrs::default();
        assert_eq!(sources.next(), Ipv4Addr::new(127, 0, 0, 2));
        for _ in 0..251 {
            sources.next();
        }
        assert_eq!(sources.next(), Ipv4Addr::new(127, 0, 0, 254));
        assert_eq!(sources.next(), Ipv4Addr::new(127, 0, 0, 2));
    }
}
