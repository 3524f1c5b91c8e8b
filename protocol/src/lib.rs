//! The Diffy PR-room wire contract, shared by the server, the widget and the tests.
//!
//! Everything a peer can see on the wire is defined here once: the event names
//! ([`event`]), the payloads in both directions ([`payload`]), the rules a payload must
//! satisfy before it is acted on ([`validate`]) and the stable error codes a refusal
//! carries ([`error`]).
//!
//! The crate has no runtime dependency and builds for `wasm32-unknown-unknown`.

pub mod codec;
pub mod error;
pub mod event;
pub mod payload;
pub mod validate;

pub use error::{ErrorCode, Refusal};
pub use validate::{MessageText, PullRequestId, Username};

/// The Socket.IO room that carries everything about one pull request.
pub fn room_name(pull_request_id: PullRequestId) -> String {
    format!("pr:{pull_request_id}")
}
