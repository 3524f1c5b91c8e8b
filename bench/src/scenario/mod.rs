//! The four scenarios and what they share: the target, the clock and the connect loop.
//!
//! Every scenario is bounded: each phase waits under its own deadline, and clients stop
//! when the scenario's stop signal fires, so a run ends by itself whatever the server does.

pub mod churn;
pub mod fanout;
pub mod rooms;
pub mod shard;
pub mod storm;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::client::{Client, ClientError, SourceAddrs, Target, Traffic};
use crate::clock::Clock;

/// Connections opened at the same time: enough to keep the server busy, few enough not to
/// overflow its listen backlog (SYN retries would then dominate connect times).
const CONNECT_CONCURRENCY: usize = 128;

/// What every scenario runs against.
#[derive(Debug)]
pub struct Env {
    /// The server under test.
    pub target: Target,
    /// Source addresses for the clients.
    pub sources: SourceAddrs,
    /// The server's process id, to read its memory and CPU from `/proc`.
    pub server_pid: Option<u32>,
    /// The clock latencies are measured with.
    pub clock: Clock,
}

impl Env {
    /// Opens one client, giving up after `timeout`.
    ///
    /// Fails when the connection fails or takes longer than `timeout`.
    pub async fn connect(
        &self,
        traffic: Arc<Traffic>,
        timeout: Duration,
    ) -> Result<Client, ClientError> {
        let source = self.sources.next();
        match tokio::time::timeout(timeout, Client::connect(&self.target, source, traffic)).await {
            Ok(result) => result,
            Err(_) => Err(ClientError::Protocol(format!(
                "connect timed out after {timeout:?}"
            ))),
        }
    }

    /// Opens `count` clients, at most [`CONNECT_CONCURRENCY`] at a time, each within
    /// `timeout`; returns those that connected, in no particular order, and the number
    /// that failed.
    pub async fn connect_many(
        self: &Arc<Self>,
        count: usize,
        traffic: &Arc<Traffic>,
        timeout: Duration,
    ) -> (Vec<Client>, usize) {
        let permits = Arc::new(Semaphore::new(CONNECT_CONCURRENCY));
        let mut tasks = JoinSet::new();
        for _ in 0..count {
            let env = Arc::clone(self);
            let traffic = Arc::clone(traffic);
            let permits = Arc::clone(&permits);
            tasks.spawn(async move {
                let _permit = permits.acquire_owned().await.ok()?;
                env.connect(traffic, timeout).await.ok()
            });
        }

        let mut clients = Vec::with_capacity(count);
        while let Some(result) = tasks.join_next().await {
            if let Ok(Some(client)) = result {
                clients.push(client);
            }
        }
        let failed = count - clients.len();
        (clients, failed)
    }
}

/// Keeps a client serviced (pings answered, packets drained) until `signal` reads true.
///
/// Fails when the connection closes first.
pub async fn idle_until(
    client: &mut Client,
    signal: &mut watch::Receiver<bool>,
) -> Result<(), ClientError> {
    loop {
        if *signal.borrow_and_update() {
            return Ok(());
        }
        tokio::select! {
            changed = signal.changed() => {
                if changed.is_err() {
                    return Ok(());
                }
            }
            received = client.recv() => {
                received?;
            }
        }
    }
}

/// Polls `done` every few milliseconds until it returns true or `timeout` passes;
/// returns whether it did.
pub async fn wait_for(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if done() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
