//! Engine.IO v4 and Socket.IO v5 text packets: encoding and decoding, without any I/O.
//!
//! A WebSocket text frame carries one Engine.IO packet ([`EnginePacket`]); an Engine.IO
//! `message` carries one Socket.IO packet ([`SocketPacket`]). Both layers are plain text:
//!
//! ```text
//! engine.io: <type digit><data>                      e.g. 2 (ping), 4<socket.io packet>
//! socket.io: <type digit>[<namespace>,][<ack id>][<JSON>]   e.g. 2["typing",{"username":"a"}]
//! ```
//!
//! Binary packets (Socket.IO types 5 and 6) are not part of the Diffy contract and are
//! refused with [`CodecError::BinaryUnsupported`].

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The namespace every Diffy event travels in.
pub const DEFAULT_NAMESPACE: &str = "/";

/// Why a frame could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The frame was empty.
    #[error("empty packet")]
    Empty,
    /// The first character is not a known packet type.
    #[error("unknown packet type {0:?}")]
    UnknownType(char),
    /// A binary Socket.IO packet, which this codec does not carry.
    #[error("binary packets are not supported")]
    BinaryUnsupported,
    /// The acknowledgement id does not fit in 64 bits.
    #[error("acknowledgement id out of range")]
    AckIdOutOfRange,
    /// The JSON part is missing where the packet type needs it.
    #[error("packet has no payload")]
    MissingPayload,
    /// The JSON part does not parse, or has the wrong shape for the packet type.
    #[error("malformed payload: {0}")]
    MalformedPayload(String),
}

/// The session parameters the server sends in its Engine.IO `open` packet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenInfo {
    /// The Engine.IO session id.
    pub sid: String,
    /// Transports the session may upgrade to.
    #[serde(default)]
    pub upgrades: Vec<String>,
    /// Milliseconds between the server's pings.
    pub ping_interval: u64,
    /// Milliseconds the server waits for a pong, and the client may wait past the interval.
    pub ping_timeout: u64,
    /// The largest payload the server accepts, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_payload: Option<u64>,
}

impl OpenInfo {
    /// How long the client waits for the next ping before it calls the connection dead.
    pub fn dead_after_ms(&self) -> u64 {
        self.ping_interval.saturating_add(self.ping_timeout)
    }
}

/// One Engine.IO v4 packet as carried by a WebSocket text frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnginePacket {
    /// `0`: the session is open.
    Open(OpenInfo),
    /// `1`: the session is closing.
    Close,
    /// `2`: a heartbeat; the data is empty except for the upgrade probe.
    Ping(String),
    /// `3`: the answer to a ping, echoing its data.
    Pong(String),
    /// `4`: a Socket.IO packet (or any text message).
    Message(String),
    /// `5`: the transport upgrade is complete.
    Upgrade,
    /// `6`: nothing; used while upgrading.
    Noop,
}

impl EnginePacket {
    /// The packet as frame text.
    pub fn encode(&self) -> String {
        match self {
            Self::Open(info) => {
                // Serializing a struct of strings and integers cannot fail.
                let json = serde_json::to_string(info).unwrap_or_default();
                format!("0{json}")
            }
            Self::Close => "1".to_owned(),
            Self::Ping(data) => format!("2{data}"),
            Self::Pong(data) => format!("3{data}"),
            Self::Message(data) => format!("4{data}"),
            Self::Upgrade => "5".to_owned(),
            Self::Noop => "6".to_owned(),
        }
    }

    /// Reads frame text.
    ///
    /// Fails when the frame is empty, starts with an unknown type, or is an `open` packet
    /// whose JSON lacks the session parameters.
    pub fn decode(text: &str) -> Result<Self, CodecError> {
        let mut chars = text.chars();
        let kind = chars.next().ok_or(CodecError::Empty)?;
        let data = chars.as_str();
        match kind {
            '0' => serde_json::from_str(data)
                .map(Self::Open)
                .map_err(|err| CodecError::MalformedPayload(err.to_string())),
            '1' => Ok(Self::Close),
            '2' => Ok(Self::Ping(data.to_owned())),
            '3' => Ok(Self::Pong(data.to_owned())),
            '4' => Ok(Self::Message(data.to_owned())),
            '5' => Ok(Self::Upgrade),
            '6' => Ok(Self::Noop),
            other => Err(CodecError::UnknownType(other)),
        }
    }
}

/// What a Socket.IO v5 packet says.
#[derive(Debug, Clone, PartialEq)]
pub enum SocketBody {
    /// `0`: from the client, a request to join the namespace with optional auth data;
    /// from the server, the acceptance with `{sid}`.
    Connect(Option<Value>),
    /// `1`: leave the namespace.
    Disconnect,
    /// `2`: an event with its arguments, asking for an acknowledgement when `ack_id` is set.
    Event {
        /// The event name, the first element of the JSON array.
        name: String,
        /// The remaining elements.
        args: Vec<Value>,
        /// The id the acknowledgement will carry.
        ack_id: Option<u64>,
    },
    /// `3`: the acknowledgement of the event that carried `ack_id`.
    Ack {
        /// The values passed to the acknowledgement callback.
        args: Vec<Value>,
        /// The id of the acknowledged event.
        ack_id: u64,
    },
    /// `4`: the server refused the connection to the namespace (`{message, data?}`).
    ConnectError(Value),
}

/// One Socket.IO v5 packet: a namespace and what is said in it.
#[derive(Debug, Clone, PartialEq)]
pub struct SocketPacket {
    /// The namespace, starting with `/`.
    pub namespace: String,
    /// The packet itself.
    pub body: SocketBody,
}

impl SocketPacket {
    /// A packet in the default namespace.
    pub fn new(body: SocketBody) -> Self {
        Self {
            namespace: DEFAULT_NAMESPACE.to_owned(),
            body,
        }
    }

    /// The client's request to join the default namespace, without auth data.
    pub fn connect() -> Self {
        Self::new(SocketBody::Connect(None))
    }

    /// An event in the default namespace with one payload argument.
    pub fn event(name: &str, payload: Value, ack_id: Option<u64>) -> Self {
        Self::new(SocketBody::Event {
            name: name.to_owned(),
            args: vec![payload],
            ack_id,
        })
    }

    /// The packet as the data of an Engine.IO `message`.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        out.push(match self.body {
            SocketBody::Connect(_) => '0',
            SocketBody::Disconnect => '1',
            SocketBody::Event { .. } => '2',
            SocketBody::Ack { .. } => '3',
            SocketBody::ConnectError(_) => '4',
        });

        // The default namespace is implied; any other is written out and ends with a comma.
        if !self.namespace.is_empty() && self.namespace != DEFAULT_NAMESPACE {
            if !self.namespace.starts_with('/') {
                out.push('/');
            }
            out.push_str(&self.namespace);
            out.push(',');
        }

        match &self.body {
            SocketBody::Connect(data) => {
                if let Some(data) = data {
                    out.push_str(&data.to_string());
                }
            }
            SocketBody::Disconnect => {}
            SocketBody::Event { name, args, ack_id } => {
                if let Some(id) = ack_id {
                    out.push_str(&id.to_string());
                }
                let mut array = Vec::with_capacity(args.len() + 1);
                array.push(Value::String(name.clone()));
                array.extend(args.iter().cloned());
                out.push_str(&Value::Array(array).to_string());
            }
            SocketBody::Ack { args, ack_id } => {
                out.push_str(&ack_id.to_string());
                out.push_str(&Value::Array(args.clone()).to_string());
            }
            SocketBody::ConnectError(data) => out.push_str(&data.to_string()),
        }
        out
    }

    /// The packet as a whole WebSocket text frame (an Engine.IO `message`).
    pub fn encode_frame(&self) -> String {
        EnginePacket::Message(self.encode()).encode()
    }

    /// Reads the data of an Engine.IO `message`.
    ///
    /// Fails on an unknown or binary packet type, an acknowledgement id past `u64`, and a
    /// payload that is missing, not JSON, or of the wrong shape (an event must be an array
    /// whose first element is a string; an acknowledgement must be an array).
    pub fn decode(text: &str) -> Result<Self, CodecError> {
        let mut chars = text.chars();
        let kind = chars.next().ok_or(CodecError::Empty)?;
        let rest = chars.as_str();
        if matches!(kind, '5' | '6') {
            return Err(CodecError::BinaryUnsupported);
        }
        if !matches!(kind, '0'..='4') {
            return Err(CodecError::UnknownType(kind));
        }

        // A namespace other than the default starts with `/` and runs to the first comma,
        // or to the end of a packet that carries nothing else (`1/admin`).
        let (namespace, rest) = if rest.starts_with('/') {
            match rest.split_once(',') {
                Some((namespace, rest)) => (namespace, rest),
                None => (rest, ""),
            }
        } else {
            (DEFAULT_NAMESPACE, rest)
        };

        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (ack_digits, payload) = rest.split_at(digits);
        let ack_id = if ack_digits.is_empty() {
            None
        } else {
            Some(
                ack_digits
                    .parse::<u64>()
                    .map_err(|_| CodecError::AckIdOutOfRange)?,
            )
        };

        let body = match kind {
            '0' => SocketBody::Connect(optional_json(payload)?),
            '1' => SocketBody::Disconnect,
            '2' => {
                let mut array = json_array(payload)?;
                if array.is_empty() {
                    return Err(malformed("an event needs a name"));
                }
                let Value::String(name) = array.remove(0) else {
                    return Err(malformed("an event name must be a string"));
                };
                SocketBody::Event {
                    name,
                    args: array,
                    ack_id,
                }
            }
            '3' => {
                let ack_id = ack_id.ok_or_else(|| malformed("an acknowledgement needs an id"))?;
                SocketBody::Ack {
                    args: json_array(payload)?,
                    ack_id,
                }
            }
            _ => SocketBody::ConnectError(optional_json(payload)?.unwrap_or(Value::Null)),
        };
        Ok(Self {
            namespace: namespace.to_owned(),
            body,
        })
    }
}

fn malformed(reason: &str) -> CodecError {
    CodecError::MalformedPayload(reason.to_owned())
}

fn optional_json(payload: &str) -> Result<Option<Value>, CodecError> {
    if payload.is_empty() {
        return Ok(None);
    }
    serde_json::from_str(payload)
        .map(Some)
        .map_err(|err| malformed(&err.to_string()))
}

fn json_array(payload: &str) -> Result<Vec<Value>, CodecError> {
    match optional_json(payload)? {
        Some(Value::Array(array)) => Ok(array),
        Some(_) => Err(malformed("expected a JSON array")),
        None => Err(CodecError::MissingPayload),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn open_packet_reads_the_session_parameters() {
        let frame = r#"0{"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;
        let EnginePacket::Open(info) = EnginePacket::decode(frame).unwrap() else {
            panic!("not an open packet");
        };
        assert_eq!(info.sid, "abc");
        assert_eq!(info.dead_after_ms(), 45_000);
        assert_eq!(info.max_payload, Some(1_000_000));
        assert_eq!(
            EnginePacket::decode(&EnginePacket::Open(info.clone()).encode()).unwrap(),
            EnginePacket::Open(info)
        );
    }

    #[test]
    fn open_packet_without_parameters_is_refused() {
        assert!(matches!(
            EnginePacket::decode("0{}"),
            Err(CodecError::MalformedPayload(_))
        ));
        assert!(matches!(
            EnginePacket::decode("0"),
            Err(CodecError::MalformedPayload(_))
        ));
    }

    #[test]
    fn engine_heartbeat_and_control_packets_round_trip() {
        for packet in [
            EnginePacket::Close,
            EnginePacket::Ping(String::new()),
            EnginePacket::Ping("probe".to_owned()),
            EnginePacket::Pong(String::new()),
            EnginePacket::Message("2[\"x\"]".to_owned()),
            EnginePacket::Message("é🦀".to_owned()),
            EnginePacket::Upgrade,
            EnginePacket::Noop,
        ] {
            assert_eq!(EnginePacket::decode(&packet.encode()).unwrap(), packet);
        }
        assert_eq!(EnginePacket::decode("2").unwrap().encode(), "2");
        assert_eq!(EnginePacket::Pong(String::new()).encode(), "3");
    }

    #[test]
    fn engine_decode_refuses_empty_and_unknown_frames() {
        assert_eq!(EnginePacket::decode(""), Err(CodecError::Empty));
        assert_eq!(EnginePacket::decode("7"), Err(CodecError::UnknownType('7')));
        assert_eq!(EnginePacket::decode("é"), Err(CodecError::UnknownType('é')));
    }

    #[test]
    fn client_frames_have_the_documented_text() {
        assert_eq!(SocketPacket::connect().encode_frame(), "40");
        let join = SocketPacket::event(
            "join-pr-room",
            json!({"pullRequestId": 123, "username": "alice"}),
            Some(0),
        );
        assert_eq!(
            join.encode_frame(),
            r#"420["join-pr-room",{"pullRequestId":123,"username":"alice"}]"#
        );
        let typing =
            SocketPacket::event("typing", json!({"pullRequestId": 1, "username": "b"}), None);
        assert_eq!(
            typing.encode(),
            r#"2["typing",{"pullRequestId":1,"username":"b"}]"#
        );
    }

    #[test]
    fn server_frames_decode_to_their_parts() {
        let connected = SocketPacket::decode(r#"0{"sid":"xyz"}"#).unwrap();
        assert_eq!(
            connected,
            SocketPacket::new(SocketBody::Connect(Some(json!({"sid": "xyz"}))))
        );

        let ack = SocketPacket::decode(r#"312[{"ok":true,"relayed":false}]"#).unwrap();
        assert_eq!(
            ack.body,
            SocketBody::Ack {
                args: vec![json!({"ok": true, "relayed": false})],
                ack_id: 12
            }
        );

        let event = SocketPacket::decode(r#"2["user-count",{"userCount":2}]"#).unwrap();
        assert_eq!(
            event.body,
            SocketBody::Event {
                name: "user-count".to_owned(),
                args: vec![json!({"userCount": 2})],
                ack_id: None
            }
        );

        let refused = SocketPacket::decode(r#"4{"message":"origin not allowed"}"#).unwrap();
        assert_eq!(
            refused.body,
            SocketBody::ConnectError(json!({"message": "origin not allowed"}))
        );
    }

    #[test]
    fn namespaces_are_written_only_when_not_the_default() {
        let mut packet = SocketPacket::event("e", json!(1), Some(7));
        packet.namespace = "/admin".to_owned();
        assert_eq!(packet.encode(), r#"2/admin,7["e",1]"#);
        assert_eq!(SocketPacket::decode(&packet.encode()).unwrap(), packet);

        let bare = SocketPacket::decode("1/admin").unwrap();
        assert_eq!(bare.namespace, "/admin");
        assert_eq!(bare.body, SocketBody::Disconnect);
        assert_eq!(
            SocketPacket::decode("1").unwrap().namespace,
            DEFAULT_NAMESPACE
        );
    }

    #[test]
    fn malformed_socket_packets_are_refused_not_panicked_on() {
        let cases = [
            ("", CodecError::Empty),
            ("7", CodecError::UnknownType('7')),
            (
                "51-[\"e\",{\"_placeholder\":true,\"num\":0}]",
                CodecError::BinaryUnsupported,
            ),
            ("2", CodecError::MissingPayload),
            ("3[]", malformed("an acknowledgement needs an id")),
            ("399999999999999999999[]", CodecError::AckIdOutOfRange),
            ("2[]", malformed("an event needs a name")),
            ("2[123]", malformed("an event name must be a string")),
            ("2{}", malformed("expected a JSON array")),
        ];
        for (frame, expected) in cases {
            assert_eq!(SocketPacket::decode(frame), Err(expected), "{frame:?}");
        }
        for frame in ["2[", "2[\"e\"", "2[\"e\"]garbage", "2/é,1é", "0{"] {
            assert!(
                matches!(
                    SocketPacket::decode(frame),
                    Err(CodecError::MalformedPayload(_))
                ),
                "{frame:?}"
            );
        }
    }

    #[test]
    fn hostile_text_survives_a_round_trip() {
        let args = vec![json!({
            "username": "<img src=x onerror=alert(1)>",
            "message": "quote \" backslash \\ newline \n nul \u{0} rtl שלום 🦀",
        })];
        let packet = SocketPacket::new(SocketBody::Event {
            name: "pr-room-message".to_owned(),
            args,
            ack_id: Some(u64::MAX),
        });
        assert_eq!(SocketPacket::decode(&packet.encode()).unwrap(), packet);
    }
}
