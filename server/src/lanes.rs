//! Per-room ordering: a fixed set of async locks that rooms hash onto.
//!
//! A handler holds its room's lane from the moment it changes the room until the emits
//! that report the change have been queued, so every client sees one room's changes in
//! the order they happened and the last presence it receives is the true one. Rooms
//! share lanes, which costs a little concurrency but needs no clean-up when rooms empty.

use diffy_protocol::PullRequestId;
use tokio::sync::{Mutex, MutexGuard};

const LANES: usize = 256;

/// The lanes of all rooms.
#[derive(Debug)]
pub struct Lanes {
    lanes: Box<[Mutex<()>]>,
}

impl Lanes {
    /// A fresh set of lanes.
    pub fn new() -> Self {
        Self {
            lanes: (0..LANES).map(|_| Mutex::new(())).collect(),
        }
    }

    /// Waits for the room's lane; the room is ordered until the guard drops.
    pub async fn enter(&self, room: PullRequestId) -> MutexGuard<'_, ()> {
        // Pull request numbers are dense, so the low bits spread rooms evenly.
        let index = (room.get() % LANES as u64) as usize;
        self.lanes[index].lock().await
    }
}

impl Default for Lanes {
    fn default() -> Self {
        Self::new()
    }
}
