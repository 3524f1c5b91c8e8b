//! Stable error codes and the refusal that carries one to the sender.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why an event was refused. The wire form (`snake_case`) never changes meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The payload is not an object of the expected shape.
    InvalidPayload,
    /// `pullRequestId` is not an integer from 1 to 2^53 - 1.
    InvalidPullRequestId,
    /// The username is empty, too long or holds forbidden characters.
    InvalidUsername,
    /// The message is empty or has nothing visible in it.
    InvalidMessage,
    /// The message is longer than the limit.
    MessageTooLong,
    /// The sender is not present in the room the event names.
    NotInRoom,
    /// The event names another username than the one this connection joined with.
    UsernameMismatch,
    /// The sender exceeded a per-connection rate limit.
    RateLimited,
    /// The event is not part of the contract.
    UnknownEvent,
    /// The connection closed while the event was handled.
    ConnectionClosed,
}

impl ErrorCode {
    /// The wire form of the code.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidPayload => "invalid_payload",
            Self::InvalidPullRequestId => "invalid_pull_request_id",
            Self::InvalidUsername => "invalid_username",
            Self::InvalidMessage => "invalid_message",
            Self::MessageTooLong => "message_too_long",
            Self::NotInRoom => "not_in_room",
            Self::UsernameMismatch => "username_mismatch",
            Self::RateLimited => "rate_limited",
            Self::UnknownEvent => "unknown_event",
            Self::ConnectionClosed => "connection_closed",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refused event: a stable code plus a short message meant for a developer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Refusal {
    /// The stable code.
    pub code: ErrorCode,
    /// A short explanation; never contains internals or other users' data.
    pub message: String,
}

impl Refusal {
    /// A refusal with the given code and explanation.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}
