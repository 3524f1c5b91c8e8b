//! Payloads in both directions, in their wire shape (camelCase JSON).
//!
//! Client requests are parsed from a raw JSON value with [`RoomRequest::parse`] and
//! [`MessageRequest::parse`], so that every way a payload can be wrong maps to one stable
//! [`ErrorCode`]. Unknown extra fields are ignored.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{ErrorCode, Refusal};
use crate::validate::{self, MessageText, PullRequestId, Username};

/// `join-pr-room`, `leave-pr-room`, `typing` and `stop-typing`: a room and a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoomRequest {
    /// The pull request whose room is meant.
    pub pull_request_id: PullRequestId,
    /// Who sends the event.
    pub username: Username,
}

impl RoomRequest {
    /// Validates a client payload.
    ///
    /// Fails with [`ErrorCode::InvalidPayload`] when it is not an object or lacks a field,
    /// and with the field's own code when a field breaks its rule.
    pub fn parse(value: &Value) -> Result<Self, Refusal> {
        let map = validate::object(value)?;
        let pull_request_id = PullRequestId::from_json(validate::field(map, "pullRequestId")?)?;
        let username = Username::new(validate::string_field(map, "username")?)?;
        Ok(Self {
            pull_request_id,
            username,
        })
    }
}

/// `send-message-to-pr-room`: a chat message for a room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageRequest {
    /// The pull request whose room is meant.
    pub pull_request_id: PullRequestId,
    /// Who sends the message.
    pub username: Username,
    /// The message.
    pub message: MessageText,
}

impl MessageRequest {
    /// Validates a client payload; fails as [`RoomRequest::parse`] does, and with the
    /// message's own code when the message breaks its rule.
    pub fn parse(value: &Value) -> Result<Self, Refusal> {
        let room = RoomRequest::parse(value)?;
        let map = validate::object(value)?;
        let message = MessageText::new(validate::string_field(map, "message")?.to_owned())?;
        Ok(Self {
            pull_request_id: room.pull_request_id,
            username: room.username,
            message,
        })
    }
}

/// What follows the name in a `joined` notice.
pub const JOINED_SUFFIX: &str = " has joined the chat";

/// What stands between the name and the pull request id in a `left` notice.
pub const LEFT_INFIX: &str = " left PR ";

/// `joined`: the notice that a user became present.
pub fn joined_notice(username: &Username) -> String {
    format!("{username}{JOINED_SUFFIX}")
}

/// `left`: the notice that a user stopped being present.
pub fn left_notice(username: &Username, pull_request_id: PullRequestId) -> String {
    format!("{username}{LEFT_INFIX}{pull_request_id}")
}

/// `user-count`: how many distinct users are present.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserCount {
    /// Distinct usernames present in the room.
    pub user_count: usize,
}

/// `pr-room-message`: a chat message as delivered to the room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoomMessage {
    /// Who sent it.
    pub username: String,
    /// The text, exactly as sent.
    pub message: String,
    /// Unique across the server's lifetime and time-ordered.
    pub id: String,
    /// When the server accepted it, in milliseconds since the Unix epoch.
    pub sent_at: u64,
}

/// `typing` and `stop-typing` as the server relays them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypingNotice {
    /// Who is (or stopped) typing.
    pub username: String,
}

/// `exception`: a refusal sent to a client that asked for no acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exception {
    /// The event that was refused.
    pub event: String,
    /// The stable code.
    pub code: ErrorCode,
    /// A short explanation.
    pub message: String,
}

/// The acknowledgement of an accepted `join-pr-room`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JoinAck {
    /// The room joined.
    pub pull_request_id: PullRequestId,
    /// Distinct users present after the join.
    pub user_count: usize,
    /// The usernames present after the join, in order of arrival.
    pub users: Vec<String>,
}

/// The acknowledgement of an accepted `leave-pr-room`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LeaveAck {
    /// The room left.
    pub pull_request_id: PullRequestId,
}

/// The acknowledgement of an accepted chat message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageAck {
    /// The id the message was delivered with.
    pub id: String,
    /// When the server accepted it, in milliseconds since the Unix epoch.
    pub sent_at: u64,
}

/// The acknowledgement of an accepted `typing` or `stop-typing`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypingAck {
    /// Whether the room was told; repeats inside the relay interval are not relayed.
    pub relayed: bool,
}

/// An acknowledgement: `{ok: true, ...body}` or `{ok: false, error: {code, message}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ack<T> {
    /// The event was accepted.
    Ok(T),
    /// The event was refused and changed nothing.
    Err(Refusal),
}

#[derive(Serialize, Deserialize)]
struct AckWire<T> {
    ok: bool,
    #[serde(flatten)]
    body: Option<T>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<Refusal>,
}

impl<T: Serialize> Serialize for Ack<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let wire = match self {
            Self::Ok(body) => AckWire {
                ok: true,
                body: Some(body),
                error: None,
            },
            Self::Err(refusal) => AckWire {
                ok: false,
                body: None,
                error: Some(refusal.clone()),
            },
        };
        wire.serialize(serializer)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Ack<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = AckWire::<T>::deserialize(deserializer)?;
        match (wire.ok, wire.body, wire.error) {
            (true, Some(body), _) => Ok(Self::Ok(body)),
            (false, _, Some(refusal)) => Ok(Self::Err(refusal)),
            _ => Err(serde::de::Error::custom(
                "acknowledgement is neither ok nor an error",
            )),
        }
    }
}

/// `GET /api/pull-requests/{id}/presence`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Presence {
    /// The pull request asked about.
    pub pull_request_id: PullRequestId,
    /// Distinct users present.
    pub user_count: usize,
    /// The usernames present, in order of arrival.
    pub users: Vec<String>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn room_request_reads_the_documented_shape_and_ignores_extras() {
        let req = RoomRequest::parse(&json!({
            "pullRequestId": 7, "username": " bob ", "avatar": "x"
        }))
        .unwrap();
        assert_eq!(req.pull_request_id.get(), 7);
        assert_eq!(req.username.as_str(), "bob");
    }

    #[test]
    fn room_request_maps_each_fault_to_its_code() {
        let cases = [
            (json!(null), ErrorCode::InvalidPayload),
            (json!("hi"), ErrorCode::InvalidPayload),
            (json!([7, "bob"]), ErrorCode::InvalidPayload),
            (json!({"username": "bob"}), ErrorCode::InvalidPayload),
            (json!({"pullRequestId": 7}), ErrorCode::InvalidPayload),
            (
                json!({"pullRequestId": 7, "username": 5}),
                ErrorCode::InvalidPayload,
            ),
            (
                json!({"pullRequestId": "7", "username": "bob"}),
                ErrorCode::InvalidPullRequestId,
            ),
            (
                json!({"pullRequestId": 0, "username": "bob"}),
                ErrorCode::InvalidPullRequestId,
            ),
            (
                json!({"pullRequestId": 7, "username": " "}),
                ErrorCode::InvalidUsername,
            ),
        ];
        for (payload, code) in cases {
            assert_eq!(
                RoomRequest::parse(&payload).unwrap_err().code,
                code,
                "{payload}"
            );
        }
    }

    #[test]
    fn message_request_checks_the_message_last() {
        let ok = MessageRequest::parse(&json!({
            "pullRequestId": 1, "username": "a", "message": "LGTM"
        }))
        .unwrap();
        assert_eq!(ok.message.as_str(), "LGTM");

        let missing = MessageRequest::parse(&json!({"pullRequestId": 1, "username": "a"}));
        assert_eq!(missing.unwrap_err().code, ErrorCode::InvalidPayload);
        let blank = json!({"pullRequestId": 1, "username": "a", "message": "  "});
        assert_eq!(
            MessageRequest::parse(&blank).unwrap_err().code,
            ErrorCode::InvalidMessage
        );
    }

    #[test]
    fn notices_read_as_the_contract_says() {
        let alice = Username::new("alice").unwrap();
        let pr = PullRequestId::new(42).unwrap();
        assert_eq!(joined_notice(&alice), "alice has joined the chat");
        assert_eq!(left_notice(&alice, pr), "alice left PR 42");
    }

    #[test]
    fn acks_have_the_documented_wire_shape() {
        let ok = Ack::Ok(TypingAck { relayed: true });
        assert_eq!(
            serde_json::to_value(&ok).unwrap(),
            json!({"ok": true, "relayed": true})
        );

        let err: Ack<TypingAck> = Ack::Err(Refusal::new(ErrorCode::NotInRoom, "join first"));
        let wire = serde_json::to_value(&err).unwrap();
        assert_eq!(
            wire,
            json!({"ok": false, "error": {"code": "not_in_room", "message": "join first"}})
        );
        assert_eq!(serde_json::from_value::<Ack<TypingAck>>(wire).unwrap(), err);
    }

    #[test]
    fn server_payloads_use_camel_case() {
        let msg = RoomMessage {
            username: "a".into(),
            message: "m".into(),
            id: "1".into(),
            sent_at: 5,
        };
        assert_eq!(
            serde_json::to_value(msg).unwrap(),
            json!({"username": "a", "message": "m", "id": "1", "sentAt": 5})
        );
        assert_eq!(
            serde_json::to_value(UserCount { user_count: 2 }).unwrap(),
            json!({"userCount": 2})
        );
    }
}
