//! The state every handler shares: configuration, the presence store and the room lanes.

use std::ops::Deref;
use std::sync::Arc;

use crate::coalesce::PresenceThrottle;
use crate::config::Config;
use crate::lanes::Lanes;
use crate::presence::{MemoryStore, TypingTiming};

/// The store this build keeps presence in. A shared store for several nodes replaces
/// this alias; the handlers only use the [`crate::presence::PresenceStore`] trait.
pub type Store = MemoryStore;

/// Shared server state; cheap to clone.
#[derive(Debug, Clone)]
pub struct App(Arc<Inner>);

/// What [`App`] shares.
#[derive(Debug)]
pub struct Inner {
    /// The configuration the server started with.
    pub config: Config,
    /// Who is present where.
    pub store: Store,
    /// Per-room ordering of changes and emits.
    pub lanes: Lanes,
    /// Per-room coalescing of presence broadcasts.
    pub throttle: PresenceThrottle,
}

impl App {
    /// State for a server with this configuration and an empty store.
    pub fn new(config: Config) -> Self {
        let throttle = PresenceThrottle::new(config.presence_window);
        Self(Arc::new(Inner {
            config,
            store: Store::new(),
            lanes: Lanes::new(),
            throttle,
        }))
    }

    /// Typing timing as configured.
    pub fn typing_timing(&self) -> TypingTiming {
        TypingTiming {
            timeout: self.config.typing_timeout,
            relay_interval: self.config.typing_relay_interval,
        }
    }
}

impl Deref for App {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}
