//! Per-connection ordering: a connection's events are handled one at a time, in the order
//! they arrived.
//!
//! socketioxide runs every event handler as its own task, so two events from one
//! connection can race: a leave could overtake the join before it, a message the one sent
//! before it. Extractors, though, run synchronously in arrival order before the task is
//! spawned. The [`Turn`] extractor takes a numbered ticket there, and the handler waits
//! until the connection's earlier events are done before it acts.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use socketioxide::adapter::LocalAdapter;
use socketioxide::handler::{FromMessageParts, Value};
use socketioxide::socket::Socket;
use tokio::sync::Notify;

/// The queue of one connection's events.
///
/// Every connection holds one for its whole life, so it is an atomic and a [`Notify`]
/// (a few dozen bytes) rather than a `watch` channel (a few hundred).
#[derive(Debug)]
pub struct Turnstile {
    issued: AtomicU64,
    /// The ticket whose turn it is.
    serving: AtomicU64,
    /// Wakes the waiting events when the turn passes on.
    passed: Notify,
}

impl Turnstile {
    /// A queue with nothing in it.
    pub fn new() -> Self {
        Self {
            issued: AtomicU64::new(0),
            serving: AtomicU64::new(0),
            passed: Notify::new(),
        }
    }

    fn ticket(self: &Arc<Self>) -> Turn {
        let number = self.issued.fetch_add(1, Ordering::Relaxed);
        Turn {
            turnstile: Some(Arc::clone(self)),
            number,
        }
    }

    /// Waits until it is ticket `number`'s turn.
    async fn wait_for(&self, number: u64) {
        loop {
            // Registering before looking means a turn passed on in between still wakes us.
            let mut passed = std::pin::pin!(self.passed.notified());
            passed.as_mut().enable();
            if self.serving.load(Ordering::Acquire) == number {
                return;
            }
            passed.await;
        }
    }

    /// Gives the turn to the next ticket.
    fn pass(&self) {
        self.serving.fetch_add(1, Ordering::AcqRel);
        self.passed.notify_waiters();
    }
}

impl Default for Turnstile {
    fn default() -> Self {
        Self::new()
    }
}

/// An event's place in its connection's queue. Hold the guard that [`Turn::wait`] returns
/// for as long as the event is being handled.
#[derive(Debug)]
pub struct Turn {
    /// `None` for a connection without a turnstile, which is never ordered.
    turnstile: Option<Arc<Turnstile>>,
    number: u64,
}

impl FromMessageParts<LocalAdapter> for Turn {
    type Error = Infallible;

    fn from_message_parts(
        socket: &Arc<Socket<LocalAdapter>>,
        _: &mut Value,
        _: &Option<i64>,
    ) -> Result<Self, Infallible> {
        let turnstile = socket.extensions.get::<Arc<Turnstile>>();
        Ok(turnstile.map_or(
            Turn {
                turnstile: None,
                number: 0,
            },
            |t| t.ticket(),
        ))
    }
}

impl Turn {
    /// Waits until every earlier event of the connection has been handled.
    pub async fn wait(mut self) -> TurnGuard {
        let Some(turnstile) = self.turnstile.take() else {
            return TurnGuard { turnstile: None };
        };
        turnstile.wait_for(self.number).await;
        TurnGuard {
            turnstile: Some(turnstile),
        }
    }
}

impl Drop for Turn {
    /// A ticket dropped without being waited on (the handler was never called) still has
    /// to pass its turn on, or every later event of the connection would wait forever.
    fn drop(&mut self) {
        let Some(turnstile) = self.turnstile.take() else {
            return;
        };
        let number = self.number;
        tokio::spawn(async move {
            turnstile.wait_for(number).await;
            turnstile.pass();
        });
    }
}

/// Holds the connection's turn; the next event goes when this drops.
#[derive(Debug)]
pub struct TurnGuard {
    turnstile: Option<Arc<Turnstile>>,
}

impl Drop for TurnGuard {
    fn drop(&mut self) {
        if let Some(turnstile) = self.turnstile.take() {
            turnstile.pass();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn events_run_in_ticket_order_whatever_order_their_tasks_start() {
        let turnstile = Arc::new(Turnstile::new());
        let tickets: Vec<Turn> = (0..5).map(|_| turnstile.ticket()).collect();
        let order = Arc::new(Mutex::new(Vec::new()));

        // Start the tasks in reverse; the later tickets must still wait.
        let mut tasks = Vec::new();
        for (index, turn) in tickets.into_iter().enumerate().rev() {
            let order = Arc::clone(&order);
            tasks.push(tokio::spawn(async move {
                let _guard = turn.wait().await;
                tokio::time::sleep(Duration::from_millis(2)).await;
                order.lock().expect("order lock").push(index);
            }));
        }
        for task in tasks {
            task.await.expect("task");
        }
        assert_eq!(*order.lock().expect("order lock"), [0, 1, 2, 3, 4]);
    }

    #[tokio::test]
    async fn a_dropped_ticket_does_not_block_the_queue() {
        let turnstile = Arc::new(Turnstile::new());
        let skipped = turnstile.ticket();
        let next = turnstile.ticket();
        drop(skipped);
        let waited = tokio::time::timeout(Duration::from_secs(1), next.wait()).await;
        assert!(
            waited.is_ok(),
            "the ticket after a dropped one never got its turn"
        );
    }
}
