//! Per-connection ordering: a connection's events are handled one at a time, in the order
//! they arrived.
//!
//! socketioxide runs every event handler as its own task, so two events from one
//! connection can race: a leave could overtake the join before it, a message the one sent
//! before it. Extractors, though, run synchronously in arrival order before the task is
//! spawned. The [`Turn`] extractor takes a numbered ticket there, and the handler waits
//! until the connection's earlier events are done before it acts.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::poll_fn;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Poll, Waker};

use socketioxide::adapter::LocalAdapter;
use socketioxide::handler::{FromMessageParts, Value};
use socketioxide::socket::Socket;

/// The queue of one connection's events.
///
/// Passing the turn wakes only the ticket whose turn it now is: a client that queues N
/// events costs N wake-ups, not the N² that waking every waiter would. Every connection
/// holds one for its whole life; empty, it takes a few dozen bytes and no allocation.
#[derive(Debug)]
pub struct Turnstile {
    issued: AtomicU64,
    queue: Mutex<Queue>,
}

#[derive(Debug, Default)]
struct Queue {
    /// The ticket whose turn it is.
    serving: u64,
    /// The tasks of later tickets, by number, to wake when their turn comes.
    waiting: BTreeMap<u64, Waker>,
}

impl Turnstile {
    /// A queue with nothing in it.
    pub fn new() -> Self {
        Self {
            issued: AtomicU64::new(0),
            queue: Mutex::new(Queue::default()),
        }
    }

    fn queue(&self) -> MutexGuard<'_, Queue> {
        // The lock guards plain bookkeeping that no panic can leave half-done.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
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
        poll_fn(|cx| {
            let mut queue = self.queue();
            if queue.serving == number {
                queue.waiting.remove(&number);
                return Poll::Ready(());
            }
            // Looked at and registered under one lock, so a pass cannot slip in between.
            queue.waiting.insert(number, cx.waker().clone());
            Poll::Pending
        })
        .await;
    }

    /// Gives the turn to the next ticket and wakes it, if it is waiting already.
    fn pass(&self) {
        let next = {
            let mut queue = self.queue();
            queue.serving += 1;
            let serving = queue.serving;
            queue.waiting.remove(&serving)
        };
        if let Some(waker) = next {
            waker.wake();
        }
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
    ///
    /// Should this future be dropped before its turn, the ticket drops with it and still
    /// passes the turn on (see [`Drop`]).
    pub async fn wait(mut self) -> TurnGuard {
        if let Some(turnstile) = &self.turnstile {
            turnstile.wait_for(self.number).await;
        }
        TurnGuard {
            turnstile: self.turnstile.take(),
        }
    }
}

impl Drop for Turn {
    /// A ticket dropped without its turn taken (the handler was never called, or stopped
    /// waiting) still has to pass its turn on, or every later event of the connection
    /// would wait forever.
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
    use std::future::Future;
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

    /// Every waiting event is polled a bounded number of times however long the queue: a
    /// client that sends thousands of events at once must not cost thousands of wake-ups
    /// per event.
    #[tokio::test]
    async fn a_long_queue_wakes_each_event_once() {
        const EVENTS: usize = 2_000;
        let turnstile = Arc::new(Turnstile::new());
        let tickets: Vec<Turn> = (0..EVENTS).map(|_| turnstile.ticket()).collect();
        let polls = Arc::new(AtomicU64::new(0));

        let mut tasks = Vec::new();
        for turn in tickets.into_iter().rev() {
            let polls = Arc::clone(&polls);
            let mut waiting = Box::pin(turn.wait());
            tasks.push(tokio::spawn(async move {
                let _guard = poll_fn(|cx| {
                    polls.fetch_add(1, Ordering::Relaxed);
                    waiting.as_mut().poll(cx)
                })
                .await;
                tokio::task::yield_now().await;
            }));
        }
        for task in tasks {
            task.await.expect("task");
        }
        let polls = polls.load(Ordering::Relaxed);
        assert!(
            polls <= 3 * EVENTS as u64,
            "{polls} polls for {EVENTS} events"
        );
    }

    #[tokio::test]
    async fn a_wait_dropped_before_its_turn_does_not_block_the_queue() {
        let turnstile = Arc::new(Turnstile::new());
        let first = turnstile.ticket();
        let abandoned = turnstile.ticket();
        let next = turnstile.ticket();

        // The second event gives up waiting while the first still holds the turn.
        let guard = first.wait().await;
        let gave_up = tokio::time::timeout(Duration::from_millis(20), abandoned.wait()).await;
        assert!(
            gave_up.is_err(),
            "the second event ran before the first was done"
        );
        drop(guard);

        let waited = tokio::time::timeout(Duration::from_secs(1), next.wait()).await;
        assert!(
            waited.is_ok(),
            "the ticket after an abandoned wait never got its turn"
        );
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
