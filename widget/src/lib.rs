//! The Diffy presence widget: shows who is on a pull request, who came and went, who is
//! typing and what they say, live, over the project's Socket.IO contract.
//!
//! The crate builds to WebAssembly with Trunk (see `Trunk.toml` at the workspace root).
//! Code map, in the order data flows:
//! - [`client`]: one WebSocket speaking Engine.IO/Socket.IO through `diffy_protocol::codec`,
//!   heartbeats, reconnects with [`backoff`], re-joins;
//! - [`state`]: the reducer holding everything shown; pure and unit-tested natively;
//! - [`hook`]: `use_presence`, which ties a [`client::Client`] to a component's lifetime;
//! - [`view`]: the components; [`avatar`] and [`typing`] are their pure helpers, and
//!   [`listener`] attaches their DOM event handlers so that unmounting frees them;
//! - [`embed`]: auto-mounting on `[data-diffy-presence]` and the JavaScript `mount()`.

pub mod avatar;
pub mod backoff;
pub mod client;
pub mod embed;
pub mod hook;
pub mod listener;
pub mod state;
pub mod typing;
pub mod view;
