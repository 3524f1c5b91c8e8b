//! Cross-checks `diffy_protocol::codec` against socketioxide's own Socket.IO parser: packets
//! encoded by one side must decode to the same thing on the other, in both directions.

use diffy_protocol::codec::{CodecError, DEFAULT_NAMESPACE, SocketBody, SocketPacket};
use serde_json::{Map, Number, Value, json};
use socketioxide_core::Str;
use socketioxide_core::packet::{Packet, PacketData};
use socketioxide_core::parser::{Parse, ParseConfig, ParserState};
use socketioxide_parser_common::CommonParser;

/// How many packets each direction checks.
const CASES: usize = 2_000;

/// A small deterministic generator (xorshift64*), so a failure always reproduces.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// Text mixing what JSON must escape, what the packet syntax uses, and multi-byte scripts.
    fn text(&mut self) -> String {
        const PIECES: &[&str] = &[
            "a",
            "Z",
            "0",
            "9",
            " ",
            "\"",
            "\\",
            "/",
            ",",
            "[",
            "]",
            "{",
            "}",
            "\n",
            "\t",
            "\u{0}",
            "\u{1f}",
            "é",
            "ש",
            "م",
            "🦀",
            "\u{202e}",
            "<img src=x onerror=alert(1)>",
            "_placeholder",
        ];
        let len = self.below(12);
        (0..len).map(|_| *self.pick(PIECES)).collect()
    }

    fn json(&mut self, depth: u32) -> Value {
        let kinds = if depth == 0 { 5 } else { 7 };
        match self.below(kinds) {
            0 => Value::Null,
            1 => Value::Bool(self.below(2) == 1),
            2 => match self.below(3) {
                0 => json!(self.next()),
                1 => json!(self.next() as i64),
                // Eighths have short exact decimal forms, so JSON text round-trips them
                // exactly without serde_json's `float_roundtrip` feature.
                _ => {
                    let eighths = self.below(1 << 40) as f64 - (1u64 << 39) as f64;
                    Number::from_f64(eighths / 8.0).map_or(Value::Null, Value::Number)
                }
            },
            3 | 4 => Value::String(self.text()),
            5 => Value::Array((0..self.below(4)).map(|_| self.json(depth - 1)).collect()),
            _ => {
                let mut map = Map::new();
                for _ in 0..self.below(4) {
                    map.insert(self.text(), self.json(depth - 1));
                }
                Value::Object(map)
            }
        }
    }

    fn object(&mut self) -> Value {
        let mut map = Map::new();
        for _ in 0..self.below(4) {
            map.insert(self.text(), self.json(2));
        }
        Value::Object(map)
    }

    fn namespace(&mut self) -> String {
        (*self.pick(&[
            DEFAULT_NAMESPACE,
            DEFAULT_NAMESPACE,
            "/admin",
            "/é-ns",
            "/a/b",
            "/123",
        ]))
        .to_owned()
    }

    fn ack_id(&mut self) -> u64 {
        // socketioxide holds ack ids as i64.
        match self.below(3) {
            0 => self.below(10),
            1 => self.below(1_000_000),
            _ => self.next() >> 1,
        }
    }

    /// A packet a client may send: what socketioxide's server-side parser reads.
    fn client_packet(&mut self) -> SocketPacket {
        let body = match self.below(4) {
            0 => SocketBody::Connect((self.below(2) == 1).then(|| self.object())),
            1 => SocketBody::Disconnect,
            2 => SocketBody::Event {
                name: self.text(),
                args: (0..self.below(4)).map(|_| self.json(3)).collect(),
                ack_id: (self.below(2) == 1).then(|| self.ack_id()),
            },
            _ => SocketBody::Ack {
                args: (0..self.below(4)).map(|_| self.json(3)).collect(),
                ack_id: self.ack_id(),
            },
        };
        SocketPacket {
            namespace: self.namespace(),
            body,
        }
    }
}

fn their_decode(text: &str) -> Packet {
    CommonParser
        .decode_str(
            &ParseConfig::default(),
            &ParserState::default(),
            Str::from(text.to_owned()),
        )
        .unwrap_or_else(|err| panic!("socketioxide refused {text:?}: {err:?}"))
}

fn str_data(value: &socketioxide_core::Value) -> Value {
    let text = value.as_str().expect("the common parser carries text");
    serde_json::from_str(text).expect("socketioxide kept valid JSON")
}

/// Packets encoded by this codec read back identically through socketioxide's parser.
#[test]
fn socketioxide_reads_what_we_encode() {
    let mut generator = Gen(0x9E37_79B9_7F4A_7C15);
    for _ in 0..CASES {
        let ours = generator.client_packet();
        let text = ours.encode();
        let theirs = their_decode(&text);

        assert_eq!(theirs.ns.as_str(), ours.namespace, "{text:?}");
        match (&ours.body, &theirs.inner) {
            (SocketBody::Connect(None), PacketData::Connect(None)) => {}
            (SocketBody::Connect(Some(data)), PacketData::Connect(Some(value))) => {
                assert_eq!(&str_data(value), data, "{text:?}");
            }
            (SocketBody::Disconnect, PacketData::Disconnect) => {}
            (SocketBody::Event { name, args, ack_id }, PacketData::Event(value, their_ack)) => {
                let mut expected = vec![Value::String(name.clone())];
                expected.extend(args.iter().cloned());
                assert_eq!(str_data(value), Value::Array(expected), "{text:?}");
                assert_eq!(their_ack.map(|id| id as u64), *ack_id, "{text:?}");
            }
            (SocketBody::Ack { args, ack_id }, PacketData::EventAck(value, their_ack)) => {
                assert_eq!(str_data(value), Value::Array(args.clone()), "{text:?}");
                assert_eq!(*their_ack as u64, *ack_id, "{text:?}");
            }
            (ours, theirs) => panic!("{text:?}: we meant {ours:?}, they read {theirs:?}"),
        }
    }
}

/// Packets encoded by socketioxide, as its server sends them, decode to the same parts here.
#[test]
fn we_read_what_socketioxide_encodes() {
    let mut generator = Gen(0xD1B5_4A32_D192_ED03);
    for _ in 0..CASES {
        let namespace = generator.namespace();
        let (theirs, expected) = match generator.below(5) {
            0 => {
                let data = generator.object();
                let value = socketioxide_core::Value::Str(Str::from(data.to_string()), None);
                (
                    Packet::connect(namespace.clone(), Some(value)),
                    SocketBody::Connect(Some(data)),
                )
            }
            1 => (
                Packet::disconnect(namespace.clone()),
                SocketBody::Disconnect,
            ),
            2 => {
                let name = generator.text();
                let payload = generator.json(3);
                let ack_id = (generator.below(2) == 1).then(|| generator.ack_id());
                let value = CommonParser.encode_value(&payload, Some(&name)).unwrap();
                let mut packet = Packet::event(namespace.clone(), value);
                if let Some(id) = ack_id {
                    packet.inner.set_ack_id(id as i64);
                }
                (
                    packet,
                    SocketBody::Event {
                        name,
                        args: vec![payload],
                        ack_id,
                    },
                )
            }
            3 => {
                let payload = generator.json(3);
                let ack_id = generator.ack_id();
                let value = CommonParser.encode_value(&payload, None).unwrap();
                (
                    Packet::ack(namespace.clone(), value, ack_id as i64),
                    SocketBody::Ack {
                        args: vec![payload],
                        ack_id,
                    },
                )
            }
            _ => {
                let message = generator.text();
                (
                    Packet::connect_error(namespace.clone(), message.clone()),
                    SocketBody::ConnectError(json!({ "message": message })),
                )
            }
        };

        let encoded = CommonParser.encode(theirs);
        let text = encoded.as_str().expect("the common parser encodes text");
        let decoded =
            SocketPacket::decode(text).unwrap_or_else(|err| panic!("we refused {text:?}: {err}"));
        assert_eq!(
            decoded,
            SocketPacket {
                namespace,
                body: expected
            },
            "{text:?}"
        );
    }
}

/// Both parsers refuse the same malformed frames that the server is tested against.
#[test]
fn both_sides_refuse_the_same_broken_frames() {
    for frame in ["", "7", "3[]", "3", "2/é,1é"] {
        let theirs = CommonParser.decode_str(
            &ParseConfig::default(),
            &ParserState::default(),
            Str::from(frame.to_owned()),
        );
        // socketioxide defers JSON checks to the handler, so only framing faults are compared.
        if theirs.is_err() {
            assert!(SocketPacket::decode(frame).is_err(), "{frame:?}");
        }
    }
    assert_eq!(SocketPacket::decode(""), Err(CodecError::Empty));
}
