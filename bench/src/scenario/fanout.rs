//! Chat fan-out: one big room, a few senders, message rates that rise step by step.
//!
//! Each message's text carries its step and its send instant on the wall clock; every
//! member (senders included) records the delay to its own delivery twice: to the kernel's
//! receive stamp on its socket (the server's latency, what the targets use) and to the
//! moment the generator read it (that plus the generator's own queueing on the shared
//! cores). Both are on `CLOCK_REALTIME`, the clock of the kernel's stamps. A step is held
//! when every delivery arrived before the drain deadline and p99 stayed under the bound;
//! the run stops after the first step that is not held.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use diffy_protocol::event::{
    EXCEPTION, JOIN_PR_ROOM, PR_ROOM_MESSAGE, SEND_MESSAGE_TO_PR_ROOM, USER_COUNT,
};
use diffy_protocol::payload::{RoomMessage, UserCount};
use hdrhistogram::Histogram;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};

use super::{Env, wait_for};
use crate::client::{Client, Traffic, message_request, room_request};
use crate::latency::{self, LatencySummary};
use crate::procfs::ServerSample;
use crate::results::{FanoutResult, FanoutStep};
use crate::stamped::realtime_now_ns;

/// The room everyone is in.
const ROOM: u64 = 1;

/// A rate is held only while p99 stays under this.
pub const P99_BOUND_MS: f64 = 50.0;

/// How long the room may take to form before the run gives up.
const JOIN_TIMEOUT: Duration = Duration::from_secs(60);

/// How the fan-out is run.
#[derive(Debug, Clone)]
pub struct FanoutParams {
    /// Members of the room, senders included.
    pub room_size: usize,
    /// Members that send.
    pub senders: usize,
    /// Messages per second over all senders, one step each.
    pub rates: Vec<u32>,
    /// How long each rate is held.
    pub step: Duration,
    /// How long deliveries may trail the end of a step.
    pub drain: Duration,
    /// Bound on each connect.
    pub connect_timeout: Duration,
}

/// What the coordinator tells the clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Nothing to send.
    Idle,
    /// Senders send step `step` at `interval` each.
    Send { step: usize, interval: Duration },
    /// Close and return.
    Stop,
}

/// Counters and histograms per step, shared by every client.
struct Steps {
    sent: Vec<AtomicU64>,
    delivered: Vec<AtomicU64>,
    last_delivery_ns: Vec<AtomicU64>,
    latency: Vec<Mutex<Histogram<u64>>>,
    read_latency: Vec<Mutex<Histogram<u64>>>,
    exceptions: AtomicU64,
}

impl Steps {
    fn new(count: usize) -> Self {
        Self {
            sent: (0..count).map(|_| AtomicU64::new(0)).collect(),
            delivered: (0..count).map(|_| AtomicU64::new(0)).collect(),
            last_delivery_ns: (0..count).map(|_| AtomicU64::new(0)).collect(),
            latency: (0..count)
                .map(|_| Mutex::new(latency::histogram()))
                .collect(),
            read_latency: (0..count)
                .map(|_| Mutex::new(latency::histogram()))
                .collect(),
            exceptions: AtomicU64::new(0),
        }
    }
}

/// Runs the fan-out.
///
/// Fails when the room cannot be formed.
pub async fn run(env: Arc<Env>, params: FanoutParams) -> anyhow::Result<FanoutResult> {
    anyhow::ensure!(params.senders >= 1 && params.senders <= params.room_size);
    let traffic = Arc::new(Traffic::default());
    let (clients, failed) = env
        .connect_many(params.room_size, &traffic, params.connect_timeout)
        .await;
    anyhow::ensure!(
        failed == 0,
        "{failed} of {} clients could not connect",
        params.room_size
    );
    let clients = join_room(clients, params.room_size).await?;
    eprintln!("fanout: room of {} formed", params.room_size);

    let steps = Arc::new(Steps::new(params.rates.len()));
    let (phase_tx, phase_rx) = watch::channel(Phase::Idle);
    let mut tasks = JoinSet::new();
    for (index, client) in clients.into_iter().enumerate() {
        let sender = (index < params.senders).then_some(index);
        let member = Member {
            client,
            username: member_name(index),
            sender,
            senders: params.senders,
        };
        let (steps, phase) = (Arc::clone(&steps), phase_rx.clone());
        tasks.spawn(async move { member.run(&steps, phase).await });
    }

    let before = ServerSample::read_optional(env.server_pid);
    let mut results = Vec::new();
    for (step, &rate) in params.rates.iter().enumerate() {
        let cpu_before = ServerSample::read_optional(env.server_pid);
        let started_ns = realtime_now_ns();
        // Each sender sends rate / senders per second.
        let interval = Duration::from_secs_f64(params.senders as f64 / f64::from(rate));
        let _ = phase_tx.send(Phase::Send { step, interval });
        tokio::time::sleep(params.step).await;
        let _ = phase_tx.send(Phase::Idle);

        // Senders may be mid-emit when the phase turns; give them a moment to count.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let sent = steps.sent[step].load(Ordering::Relaxed);
        let expected = sent * params.room_size as u64;
        wait_for(params.drain, || {
            steps.delivered[step].load(Ordering::Relaxed) >= expected
        })
        .await;
        let cpu_after = ServerSample::read_optional(env.server_pid);

        let delivered = steps.delivered[step].load(Ordering::Relaxed);
        let last_ns = steps.last_delivery_ns[step].load(Ordering::Relaxed);
        let span_s =
            (last_ns.saturating_sub(started_ns) as f64 / 1e9).max(params.step.as_secs_f64());
        let summary = summarise(&steps.latency[step]);
        let read_summary = summarise(&steps.read_latency[step]);
        let held = sent > 0 && delivered >= expected && summary.p99_ms < P99_BOUND_MS;
        eprintln!(
            "fanout: {rate} msg/s: {delivered}/{expected} delivered, p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms (as read: p99 {:.2} ms){}",
            summary.p50_ms,
            summary.p99_ms,
            summary.p999_ms,
            read_summary.p99_ms,
            if held { "" } else { " (not held)" }
        );
        results.push(FanoutStep {
            rate,
            sent,
            expected,
            delivered,
            deliveries_per_s: delivered as f64 / span_s,
            latency: summary,
            read_latency: read_summary,
            held,
            server_cpu_ms: cpu_before
                .zip(cpu_after)
                .map(|(b, a)| a.cpu_ms.saturating_sub(b.cpu_ms)),
        });
        if !held {
            break;
        }
    }
    let after = ServerSample::read_optional(env.server_pid);

    let _ = phase_tx.send(Phase::Stop);
    while tasks.join_next().await.is_some() {}
    let exceptions = steps.exceptions.load(Ordering::Relaxed);
    if exceptions > 0 {
        eprintln!("fanout: the server refused {exceptions} messages (exception events)");
    }

    let highest_held_rate = results.iter().filter(|s| s.held).map(|s| s.rate).max();
    Ok(FanoutResult {
        room_size: params.room_size,
        senders: params.senders,
        step_secs: params.step.as_secs_f64(),
        steps: results,
        highest_held_rate,
        p99_bound_ms: P99_BOUND_MS,
        before,
        after,
    })
}

fn summarise(histogram: &Mutex<Histogram<u64>>) -> LatencySummary {
    match histogram.lock() {
        Ok(histogram) => LatencySummary::of(&histogram),
        Err(_) => LatencySummary::default(),
    }
}

fn member_name(index: usize) -> String {
    format!("fan-{index}")
}

/// Joins every client to the room, one after another so that arrival order is stable, and
/// waits until each has seen the full count; returns the clients in their original order.
///
/// Fails when a join is refused or the room does not form in time.
async fn join_room(mut clients: Vec<Client>, room_size: usize) -> anyhow::Result<Vec<Client>> {
    for (index, client) in clients.iter_mut().enumerate() {
        let request = room_request(ROOM, &member_name(index))?;
        client.emit(JOIN_PR_ROOM, &request, false).await?;
    }
    let mut tasks = JoinSet::new();
    for (index, mut client) in clients.into_iter().enumerate() {
        tasks.spawn(async move {
            let formed = tokio::time::timeout(JOIN_TIMEOUT, async {
                loop {
                    let received = client.recv().await?;
                    if received.event_name() != Some(USER_COUNT) {
                        continue;
                    }
                    let count = received.first_arg::<UserCount>().map(|c| c.user_count);
                    if count == Some(room_size) {
                        return Ok::<_, anyhow::Error>(());
                    }
                }
            })
            .await;
            match formed {
                Ok(Ok(())) => Ok((index, client)),
                Ok(Err(err)) => Err(err),
                Err(_) => Err(anyhow::anyhow!("the room did not form in {JOIN_TIMEOUT:?}")),
            }
        });
    }
    let mut joined = Vec::with_capacity(room_size);
    while let Some(result) = tasks.join_next().await {
        joined.push(result??);
    }
    joined.sort_by_key(|(index, _)| *index);
    Ok(joined.into_iter().map(|(_, client)| client).collect())
}

/// One member of the room; senders also send.
struct Member {
    client: Client,
    username: String,
    sender: Option<usize>,
    senders: usize,
}

impl Member {
    async fn run(mut self, steps: &Steps, mut phase: watch::Receiver<Phase>) {
        let mut current = *phase.borrow_and_update();
        let mut ticker = self.ticker(current);
        loop {
            tokio::select! {
                changed = phase.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    current = *phase.borrow_and_update();
                    if current == Phase::Stop {
                        break;
                    }
                    ticker = self.ticker(current);
                }
                _ = tick(&mut ticker) => {
                    // Only the phase as it is now counts: a tick that was due before the
                    // step ended must not send a message the coordinator no longer counts.
                    let live = *phase.borrow();
                    if let Phase::Send { step, .. } = live {
                        steps.sent[step].fetch_add(1, Ordering::Relaxed);
                        if self.send(step).await.is_err() {
                            break;
                        }
                    }
                }
                received = self.client.recv() => {
                    let Ok(received) = received else { break };
                    match received.event_name() {
                        Some(PR_ROOM_MESSAGE) => record(steps, &received),
                        Some(EXCEPTION) => {
                            steps.exceptions.fetch_add(1, Ordering::Relaxed);
                        }
                        _ => {}
                    }
                }
            }
        }
        self.client.close().await;
    }

    /// A sender's ticker for a sending phase: its share of the rate, staggered so that the
    /// senders do not fire together.
    fn ticker(&self, phase: Phase) -> Option<tokio::time::Interval> {
        let (Some(index), Phase::Send { interval, .. }) = (self.sender, phase) else {
            return None;
        };
        let offset = interval.mul_f64(index as f64 / self.senders as f64);
        let mut ticker = tokio::time::interval_at(Instant::now() + offset, interval);
        // Keep the rate: a late tick is made up at once rather than skipped.
        ticker.set_missed_tick_behavior(MissedTickBehavior::Burst);
        Some(ticker)
    }

    async fn send(&mut self, step: usize) -> anyhow::Result<()> {
        let text = format!("fanout {step} {}", realtime_now_ns());
        let request = message_request(ROOM, &self.username, text)?;
        self.client
            .emit(SEND_MESSAGE_TO_PR_ROOM, &request, false)
            .await?;
        Ok(())
    }
}

/// Waits for the next tick, or forever without a ticker.
async fn tick(ticker: &mut Option<tokio::time::Interval>) {
    match ticker {
        Some(ticker) => {
            ticker.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// Records one delivery: the step and send instant come from the message text.
fn record(steps: &Steps, received: &crate::client::Received) {
    let now = realtime_now_ns();
    let Some(message) = received.event_arg::<RoomMessage>() else {
        return;
    };
    let mut words = message.message.split(' ').skip(1);
    let step: Option<usize> = words.next().and_then(|w| w.parse().ok());
    let sent_ns: Option<u64> = words.next().and_then(|w| w.parse().ok());
    let (Some(step), Some(sent_ns)) = (step, sent_ns) else {
        return;
    };
    if step >= steps.delivered.len() {
        return;
    }
    steps.delivered[step].fetch_add(1, Ordering::Relaxed);
    steps.last_delivery_ns[step].fetch_max(now, Ordering::Relaxed);
    // Without a stamp (a kernel that gives none), the read time is the arrival.
    let arrival = match received.arrival_ns() {
        0 => now,
        stamp => stamp,
    };
    if let Ok(mut histogram) = steps.latency[step].lock() {
        latency::record_ns(&mut histogram, arrival.saturating_sub(sent_ns));
    }
    if let Ok(mut histogram) = steps.read_latency[step].lock() {
        latency::record_ns(&mut histogram, now.saturating_sub(sent_ns));
    }
}
