//! A raw Socket.IO v5 (Engine.IO v4) client over one WebSocket.
//!
//! Written from the protocol description rather than with a Socket.IO library, so that
//! the tests share no code with the server. A reader task answers the server's pings and
//! decodes every frame into an [`Incoming`] item; the test side waits for the items it
//! expects under a timeout and keeps the others in a backlog for later checks.

use std::collections::VecDeque;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::{Mutex, mpsc};
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout_at};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a test waits for something it expects before failing.
pub const EXPECT_TIMEOUT: Duration = Duration::from_secs(3);

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;
type Sink = SplitSink<Socket, Message>;

/// One thing the server sent, decoded.
#[derive(Debug, Clone)]
pub enum Incoming {
    /// `42[name, data]`: an event; `data` is its first argument (`null` when absent).
    Event { name: String, data: Value },
    /// `43<id>[data]`: the acknowledgement of the event sent with ack id `id`.
    Ack { id: u64, data: Value },
    /// The WebSocket ended; the text says how.
    Closed(String),
    /// Any other frame, verbatim.
    Other(String),
}

impl fmt::Display for Incoming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Event { name, data } => write!(f, "event `{name}` {}", abbreviated(data)),
            Self::Ack { id, data } => write!(f, "ack {id} {}", abbreviated(data)),
            Self::Closed(how) => write!(f, "connection closed ({how})"),
            Self::Other(text) => write!(f, "frame {text:?}"),
        }
    }
}

/// What became of an event sent with an ack when the connection may be closed for it.
#[derive(Debug)]
pub enum AckOrClose {
    /// The server acknowledged the event.
    Acked(Value),
    /// The server closed the connection instead.
    Closed,
}

/// A Socket.IO connection to the default namespace.
pub struct Client {
    sink: Arc<Mutex<Sink>>,
    incoming: mpsc::UnboundedReceiver<Incoming>,
    backlog: VecDeque<Incoming>,
    reader: JoinHandle<()>,
    next_ack_id: u64,
    closed: bool,
}

impl Client {
    /// Connects over WebSocket and joins the default namespace.
    ///
    /// Panics when the handshake fails.
    pub async fn connect(addr: SocketAddr) -> Self {
        Self::try_connect(addr, None)
            .await
            .unwrap_or_else(|err| panic!("connecting to {addr} failed: {err}"))
    }

    /// Connects, sending `origin` as the `Origin` header when given.
    ///
    /// Fails with a description when the WebSocket upgrade is refused, the server
    /// answers the namespace connect with an error, or the connection closes first.
    pub async fn try_connect(addr: SocketAddr, origin: Option<&str>) -> Result<Self, String> {
        let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
        let mut request = url.into_client_request().map_err(|err| err.to_string())?;
        if let Some(origin) = origin {
            let value = HeaderValue::from_str(origin).map_err(|err| err.to_string())?;
            request.headers_mut().insert("Origin", value);
        }
        let (socket, _response) =
            tokio::time::timeout(EXPECT_TIMEOUT, tokio_tungstenite::connect_async(request))
                .await
                .map_err(|_| "WebSocket upgrade timed out".to_owned())?
                .map_err(|err| format!("WebSocket upgrade failed: {err}"))?;
        let (mut sink, mut stream) = socket.split();

        // Engine.IO opens with `0{"sid":..,"pingInterval":..}`; Socket.IO then needs `40`.
        let open = next_text(&mut stream, &mut sink).await?;
        if !open.starts_with("0{") {
            return Err(format!("expected the Engine.IO open packet, got {open:?}"));
        }
        send(&mut sink, "40".to_owned()).await?;
        let connected = next_text(&mut stream, &mut sink).await?;
        if !connected.starts_with("40") {
            return Err(format!("namespace connect refused: {connected:?}"));
        }

        let sink = Arc::new(Mutex::new(sink));
        let (tx, incoming) = mpsc::unbounded_channel();
        let reader = tokio::spawn(read_frames(stream, Arc::clone(&sink), tx));
        Ok(Self {
            sink,
            incoming,
            backlog: VecDeque::new(),
            reader,
            next_ack_id: 0,
            closed: false,
        })
    }

    /// Sends a text frame exactly as given (for malformed frames).
    ///
    /// Panics when the frame cannot be written.
    pub async fn send_raw(&mut self, frame: impl Into<String>) {
        let frame = frame.into();
        let mut sink = self.sink.lock().await;
        if let Err(err) = send(&mut sink, frame).await {
            panic!("sending a frame failed: {err}");
        }
    }

    /// Sends several events without acknowledgements in one write, the way a browser
    /// client's back-to-back emits reach the server in one TCP segment.
    ///
    /// Panics when the frames cannot be written.
    pub async fn emit_batch(&mut self, events: Vec<(&str, Value)>) {
        let mut sink = self.sink.lock().await;
        for (event, data) in events {
            let frame = Message::text(format!("42{}", json!([event, data])));
            if let Err(err) = sink.feed(frame).await {
                panic!("queueing a frame failed: {err}");
            }
        }
        if let Err(err) = sink.flush().await {
            panic!("sending frames failed: {err}");
        }
    }

    /// Sends an event without asking for an acknowledgement.
    pub async fn emit(&mut self, event: &str, data: Value) {
        self.send_raw(format!("42{}", json!([event, data]))).await;
    }

    /// Sends an event with an ack id and returns the first argument of its ack.
    ///
    /// Panics when no ack arrives within [`EXPECT_TIMEOUT`] or the connection closes.
    pub async fn emit_with_ack(&mut self, event: &str, data: Value) -> Value {
        self.emit_args_with_ack(event, vec![data]).await
    }

    /// Sends `42<id>[event, ...args]` (any number of arguments, even none) and returns the
    /// first argument of its ack.
    ///
    /// Panics when no ack arrives within [`EXPECT_TIMEOUT`] or the connection closes.
    pub async fn emit_args_with_ack(&mut self, event: &str, args: Vec<Value>) -> Value {
        let (id, frame) = self.frame_with_ack_id(event, args);
        self.send_raw(frame).await;
        let found = self
            .wait_for(&format!("the ack of `{event}` (id {id})"), |item| {
                is_ack(item, id)
            })
            .await;
        match found {
            Incoming::Ack { data, .. } => data,
            other => unreachable!("wait_for returned a non-matching item: {other}"),
        }
    }

    /// Sends an event with an ack id and waits for its ack or for the server to close
    /// the connection, whichever comes first.
    ///
    /// Panics when neither happens within [`EXPECT_TIMEOUT`].
    pub async fn emit_with_ack_or_close(&mut self, event: &str, data: Value) -> AckOrClose {
        let (id, frame) = self.frame_with_ack_id(event, vec![data]);
        if send(&mut *self.sink.lock().await, frame).await.is_err() {
            // The server closed the connection before the event could even be written.
            return AckOrClose::Closed;
        }
        let found = self
            .wait_for(
                &format!("the ack of `{event}` (id {id}) or a close"),
                |item| is_ack(item, id) || matches!(item, Incoming::Closed(_)),
            )
            .await;
        match found {
            Incoming::Ack { data, .. } => AckOrClose::Acked(data),
            _ => AckOrClose::Closed,
        }
    }

    /// Waits for the event `name`, skipping (and keeping) anything else, and returns its data.
    ///
    /// Panics when it does not arrive within [`EXPECT_TIMEOUT`]; the message lists
    /// everything that arrived instead.
    pub async fn expect(&mut self, name: &str) -> Value {
        let found = self
            .wait_for(&format!("event `{name}`"), |item| is_event(item, name))
            .await;
        match found {
            Incoming::Event { data, .. } => data,
            other => unreachable!("wait_for returned a non-matching item: {other}"),
        }
    }

    /// Requires that the next event to arrive (acks aside) is `name` and returns its data.
    ///
    /// Panics when another event comes first, or none within [`EXPECT_TIMEOUT`].
    pub async fn expect_next(&mut self, name: &str) -> Value {
        let what = format!("event `{name}` next");
        let next = self
            .wait_for(&what, |item| {
                matches!(item, Incoming::Event { .. } | Incoming::Closed(_))
            })
            .await;
        match next {
            Incoming::Event { name: got, data } if got == name => data,
            other => panic!("expected event `{name}` next, got {other}"),
        }
    }

    /// Asserts that the event `name` does not arrive within `within` (nor already did).
    ///
    /// The one legitimate bounded wait: proving silence takes time.
    pub async fn expect_none(&mut self, name: &str, within: Duration) {
        if let Some(item) = self.backlog.iter().find(|item| is_event(item, name)) {
            panic!("expected no `{name}`, but it had already arrived: {item}");
        }
        let deadline = Instant::now() + within;
        while let Ok(Some(item)) = timeout_at(deadline, self.incoming.recv()).await {
            if is_event(&item, name) {
                panic!("expected no `{name}` within {within:?}, got {item}");
            }
            self.backlog.push_back(item);
        }
    }

    /// Returns the next event (acks aside), from the backlog or as it arrives, or `None`
    /// when none arrives within `within`.
    pub async fn next_event(&mut self, within: Duration) -> Option<(String, Value)> {
        let index = self
            .backlog
            .iter()
            .position(|item| matches!(item, Incoming::Event { .. }));
        if let Some(Incoming::Event { name, data }) = index.and_then(|i| self.backlog.remove(i)) {
            return Some((name, data));
        }
        let deadline = Instant::now() + within;
        while let Ok(Some(item)) = timeout_at(deadline, self.incoming.recv()).await {
            match item {
                Incoming::Event { name, data } => return Some((name, data)),
                other => self.backlog.push_back(other),
            }
        }
        None
    }

    /// Takes every event that has arrived and not been consumed yet, without waiting.
    pub fn take_events(&mut self) -> Vec<(String, Value)> {
        while let Ok(item) = self.incoming.try_recv() {
            self.backlog.push_back(item);
        }
        let mut events = Vec::new();
        self.backlog.retain(|item| match item {
            Incoming::Event { name, data } => {
                events.push((name.clone(), data.clone()));
                false
            }
            _ => true,
        });
        events
    }

    /// Waits up to `within` for the server to close the connection.
    pub async fn is_closed_by_server(&mut self, within: Duration) -> bool {
        if self.closed {
            return true;
        }
        let deadline = Instant::now() + within;
        loop {
            match timeout_at(deadline, self.incoming.recv()).await {
                Ok(Some(Incoming::Closed(_)) | None) => {
                    self.closed = true;
                    return true;
                }
                Ok(Some(item)) => self.backlog.push_back(item),
                Err(_) => return false,
            }
        }
    }

    /// Disconnects cleanly: a Socket.IO disconnect packet, then a WebSocket close.
    pub async fn close(mut self) {
        {
            let mut sink = self.sink.lock().await;
            let _ = send(&mut sink, "41".to_owned()).await;
            let _ = sink.send(Message::Close(None)).await;
        }
        // The reader ends when the server answers the close; don't wait forever.
        let _ = tokio::time::timeout(EXPECT_TIMEOUT, &mut self.reader).await;
    }

    /// Drops the TCP connection without any Socket.IO or WebSocket goodbye.
    pub async fn drop_connection(mut self) {
        self.reader.abort();
        let _ = (&mut self.reader).await;
        // The sink is the last owner of the socket now; dropping `self` closes the TCP
        // stream.
    }

    /// Takes the next ack id (they increase from 0) and builds `42<id>[event, ...args]`.
    fn frame_with_ack_id(&mut self, event: &str, args: Vec<Value>) -> (u64, String) {
        let id = self.next_ack_id;
        self.next_ack_id += 1;
        let mut packet = vec![Value::from(event)];
        packet.extend(args);
        (id, format!("42{id}{}", Value::Array(packet)))
    }

    /// Returns the first item matching `wanted`, from the backlog or as it arrives.
    ///
    /// Panics after [`EXPECT_TIMEOUT`], or when the connection closes and `wanted` did not
    /// ask for that, listing what arrived meanwhile.
    async fn wait_for(&mut self, what: &str, wanted: impl Fn(&Incoming) -> bool) -> Incoming {
        if let Some(index) = self.backlog.iter().position(&wanted) {
            return self
                .backlog
                .remove(index)
                .expect("the index was just found");
        }
        let deadline = Instant::now() + EXPECT_TIMEOUT;
        loop {
            match timeout_at(deadline, self.incoming.recv()).await {
                Ok(Some(item)) if wanted(&item) => {
                    if matches!(item, Incoming::Closed(_)) {
                        self.closed = true;
                    }
                    return item;
                }
                Ok(Some(Incoming::Closed(how))) => {
                    self.closed = true;
                    panic!(
                        "the connection closed ({how}) while waiting for {what}; arrived \
                         before: {}",
                        self.describe_backlog()
                    );
                }
                Ok(Some(item)) => self.backlog.push_back(item),
                Ok(None) => panic!("the reader stopped while waiting for {what}"),
                Err(_) => panic!(
                    "timed out after {EXPECT_TIMEOUT:?} waiting for {what}; arrived instead: {}",
                    self.describe_backlog()
                ),
            }
        }
    }

    fn describe_backlog(&self) -> String {
        if self.backlog.is_empty() {
            return "nothing".to_owned();
        }
        let items: Vec<String> = self.backlog.iter().map(ToString::to_string).collect();
        items.join("; ")
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// Reads frames until the connection ends, answering pings and decoding the rest.
async fn read_frames(
    mut stream: SplitStream<Socket>,
    sink: Arc<Mutex<Sink>>,
    tx: mpsc::UnboundedSender<Incoming>,
) {
    let mut how = "the stream ended".to_owned();
    while let Some(frame) = stream.next().await {
        match frame {
            Ok(Message::Text(text)) if text.as_str() == "2" => {
                let mut sink = sink.lock().await;
                let _ = send(&mut sink, "3".to_owned()).await;
            }
            Ok(Message::Text(text)) => {
                let _ = tx.send(decode(text.as_str()));
            }
            // Keep reading after a close frame so that tungstenite can answer it.
            Ok(Message::Close(frame)) => how = format!("close frame {frame:?}"),
            Ok(_) => {}
            Err(err) => {
                how = format!("transport error: {err}");
                break;
            }
        }
    }
    let _ = tx.send(Incoming::Closed(how));
}

/// Decodes one Engine.IO text frame.
fn decode(frame: &str) -> Incoming {
    let other = || Incoming::Other(frame.to_owned());
    let (kind, rest) = match frame.strip_prefix("42") {
        Some(rest) => ("event", rest),
        None => match frame.strip_prefix("43") {
            Some(rest) => ("ack", rest),
            None => return other(),
        },
    };

    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let (id, json_text) = rest.split_at(digits);
    let Ok(Value::Array(mut args)) = serde_json::from_str::<Value>(json_text) else {
        return other();
    };

    match kind {
        "event" => {
            if args.is_empty() {
                return other();
            }
            let Value::String(name) = args.remove(0) else {
                return other();
            };
            let data = args.into_iter().next().unwrap_or(Value::Null);
            Incoming::Event { name, data }
        }
        _ => match id.parse() {
            Ok(id) => Incoming::Ack {
                id,
                data: args.into_iter().next().unwrap_or(Value::Null),
            },
            Err(_) => other(),
        },
    }
}

async fn next_text(stream: &mut SplitStream<Socket>, sink: &mut Sink) -> Result<String, String> {
    let deadline = Instant::now() + EXPECT_TIMEOUT;
    loop {
        let frame = timeout_at(deadline, stream.next())
            .await
            .map_err(|_| "timed out during the handshake".to_owned())?;
        match frame {
            Some(Ok(Message::Text(text))) if text.as_str() == "2" => {
                send(sink, "3".to_owned()).await?;
            }
            Some(Ok(Message::Text(text))) => return Ok(text.as_str().to_owned()),
            Some(Ok(Message::Close(frame))) => {
                return Err(format!("closed during the handshake: {frame:?}"));
            }
            Some(Ok(_)) => {}
            Some(Err(err)) => return Err(format!("transport error during the handshake: {err}")),
            None => return Err("the connection ended during the handshake".to_owned()),
        }
    }
}

async fn send(sink: &mut Sink, frame: String) -> Result<(), String> {
    sink.send(Message::text(frame))
        .await
        .map_err(|err| err.to_string())
}

fn is_event(item: &Incoming, wanted: &str) -> bool {
    matches!(item, Incoming::Event { name, .. } if name == wanted)
}

fn is_ack(item: &Incoming, wanted: u64) -> bool {
    matches!(item, Incoming::Ack { id, .. } if *id == wanted)
}

/// A JSON value shortened for failure messages (a huge message would drown them).
fn abbreviated(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() <= 200 {
        return text;
    }
    let head: String = text.chars().take(200).collect();
    format!("{head}… ({} characters)", text.chars().count())
}
