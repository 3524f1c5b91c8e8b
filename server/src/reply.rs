//! Answering the sender of an event: through its ack when it asked for one, otherwise
//! through an `exception` event.

use std::convert::Infallible;
use std::sync::Arc;

use diffy_protocol::Refusal;
use diffy_protocol::event::EXCEPTION;
use diffy_protocol::payload::{Ack, Exception};
use serde::Serialize;
use socketioxide::adapter::LocalAdapter;
use socketioxide::extract::{AckSender, SocketRef};
use socketioxide::handler::{FromMessageParts, Value};
use socketioxide::socket::Socket;

/// The way back to the sender of the event being handled.
pub struct Reply {
    socket: SocketRef,
    ack: AckSender,
    wants_ack: bool,
}

impl FromMessageParts<LocalAdapter> for Reply {
    type Error = Infallible;

    fn from_message_parts(
        socket: &Arc<Socket<LocalAdapter>>,
        value: &mut Value,
        ack_id: &Option<i64>,
    ) -> Result<Self, Infallible> {
        Ok(Self {
            socket: SocketRef::from_message_parts(socket, value, ack_id)?,
            ack: AckSender::from_message_parts(socket, value, ack_id)?,
            wants_ack: ack_id.is_some(),
        })
    }
}

impl Reply {
    /// Acknowledges an accepted event; says nothing when no ack was asked for.
    pub fn accept<T: Serialize>(self, body: T) {
        if self.wants_ack
            && let Err(err) = self.ack.send(&Ack::Ok(body))
        {
            tracing::debug!(sid = %self.socket.id, cause = %err, "ack not sent");
        }
    }

    /// Tells the sender why `event` was refused.
    pub fn refuse(self, event: &str, refusal: Refusal) {
        tracing::debug!(sid = %self.socket.id, event, code = %refusal.code, "refused");
        let sent = if self.wants_ack {
            self.ack.send(&Ack::<()>::Err(refusal))
        } else {
            let exception = Exception {
                event: shortened(event),
                code: refusal.code,
                message: refusal.message,
            };
            self.socket.emit(EXCEPTION, &exception)
        };
        if let Err(err) = sent {
            tracing::debug!(sid = %self.socket.id, cause = %err, "refusal not sent");
        }
    }

    /// Answers with the result of handling `event`.
    pub fn send<T: Serialize>(self, event: &str, result: Result<T, Refusal>) {
        match result {
            Ok(body) => self.accept(body),
            Err(refusal) => self.refuse(event, refusal),
        }
    }
}

/// The most characters of an event name echoed back in an `exception`.
const ECHOED_EVENT_CHARS: usize = 64;

/// An event name as echoed to its sender: a peer can name an event anything, and a
/// megabyte-long name should not come back whole.
fn shortened(event: &str) -> String {
    match event.char_indices().nth(ECHOED_EVENT_CHARS) {
        Some((cut, _)) => format!("{}…", &event[..cut]),
        None => event.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_event_names_are_cut_at_a_character_boundary() {
        assert_eq!(shortened("typing"), "typing");
        let long = "é".repeat(1000);
        let echoed = shortened(&long);
        assert_eq!(echoed.chars().count(), ECHOED_EVENT_CHARS + 1);
        assert!(echoed.ends_with('…'));
    }
}
