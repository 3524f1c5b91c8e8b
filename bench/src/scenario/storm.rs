//! Join storm: every client connects first, then all join one room at the same instant.
//!
//! The figure is the time until every client has seen the room's final `userCount`, and
//! the packets and bytes the clients received on the way (what the server sent). Only
//! `user-count` is parsed as it arrives; the last `active-users` of each client is kept
//! unparsed and checked once at the end.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use diffy_protocol::event::{ACTIVE_USERS, JOIN_PR_ROOM, USER_COUNT};
use diffy_protocol::payload::UserCount;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::{Env, idle_until, wait_for};
use crate::client::{Client, Received, Traffic, room_request};
use crate::clock::millis;
use crate::latency::{self, LatencySummary};
use crate::procfs::ServerSample;
use crate::results::StormResult;

/// The room everyone joins.
const ROOM: u64 = 1;

/// After the last client settled, traffic must stay quiet this long before the count of
/// bytes is closed (a server may send the final list after the final count).
const QUIET: Duration = Duration::from_secs(1);

/// The longest wait for that quiet.
const QUIET_LIMIT: Duration = Duration::from_secs(15);

/// How the storm is run.
#[derive(Debug, Clone)]
pub struct StormParams {
    /// Clients that join.
    pub clients: usize,
    /// Bound on each connect.
    pub connect_timeout: Duration,
    /// Bound on the storm from the join signal.
    pub timeout: Duration,
}

/// What one client saw.
struct Seen {
    settled_at_ns: Option<u64>,
    ack_ns: Option<u64>,
    last_count: Option<usize>,
    last_active_users: Option<Received>,
}

/// Runs the storm.
///
/// Fails when no client could connect.
pub async fn run(env: Arc<Env>, params: StormParams) -> anyhow::Result<StormResult> {
    let traffic = Arc::new(Traffic::default());
    let (clients, connect_failed) = env
        .connect_many(params.clients, &traffic, params.connect_timeout)
        .await;
    anyhow::ensure!(!clients.is_empty(), "no client could connect");
    let n = clients.len();
    eprintln!("storm: {n} clients connected ({connect_failed} failed); joining");

    let (go_tx, go_rx) = watch::channel(false);
    let (stop_tx, stop_rx) = watch::channel(false);
    let settled = Arc::new(AtomicUsize::new(0));
    let mut tasks = JoinSet::new();
    for (index, client) in clients.into_iter().enumerate() {
        let env = Arc::clone(&env);
        let settled = Arc::clone(&settled);
        let (go, stop) = (go_rx.clone(), stop_rx.clone());
        tasks
            .spawn(async move { join_and_watch(client, index, n, &env, go, stop, &settled).await });
    }

    let before = ServerSample::read_optional(env.server_pid);
    let (packets_before, bytes_before) = traffic.totals();
    let start_ns = env.clock.now_ns();
    let _ = go_tx.send(true);

    let all_settled = wait_for(params.timeout, || settled.load(Ordering::Relaxed) >= n).await;
    if all_settled {
        wait_for_quiet(&traffic).await;
    }
    let (packets_after, bytes_after) = traffic.totals();
    let after = ServerSample::read_optional(env.server_pid);
    let _ = stop_tx.send(true);

    let mut settle_ns = Vec::with_capacity(n);
    let mut acks = latency::histogram();
    let mut wrong_final_state = 0;
    while let Some(joined) = tasks.join_next().await {
        let Ok(seen) = joined else { continue };
        if let Some(at) = seen.settled_at_ns {
            settle_ns.push(at.saturating_sub(start_ns));
        }
        if let Some(at) = seen.ack_ns {
            latency::record_ns(&mut acks, at.saturating_sub(start_ns));
        }
        let full_list = seen
            .last_active_users
            .and_then(|r| r.first_arg::<Vec<String>>())
            .is_some_and(|users| users.len() == n);
        if seen.last_count != Some(n) || !full_list {
            wrong_final_state += 1;
        }
    }

    let settle_ms = (settle_ns.len() == n)
        .then(|| settle_ns.iter().max().copied().unwrap_or(0))
        .map(|ns| millis(Duration::from_nanos(ns)));
    Ok(StormResult {
        clients: params.clients,
        connected: n,
        settle_ms,
        settled_clients: settle_ns.len(),
        wrong_final_state,
        ack: LatencySummary::of(&acks),
        packets: packets_after - packets_before,
        bytes: bytes_after - bytes_before,
        before,
        after,
    })
}

/// Waits until no packet has arrived for [`QUIET`], at most [`QUIET_LIMIT`].
async fn wait_for_quiet(traffic: &Traffic) {
    let deadline = tokio::time::Instant::now() + QUIET_LIMIT;
    let mut last = traffic.totals();
    while tokio::time::Instant::now() < deadline {
        tokio::time::sleep(QUIET).await;
        let now = traffic.totals();
        if now == last {
            return;
        }
        last = now;
    }
}

/// One client: waits for the signal, joins, and watches the counts until told to stop.
async fn join_and_watch(
    mut client: Client,
    index: usize,
    room_size: usize,
    env: &Env,
    mut go: watch::Receiver<bool>,
    mut stop: watch::Receiver<bool>,
    settled: &AtomicUsize,
) -> Seen {
    let mut seen = Seen {
        settled_at_ns: None,
        ack_ns: None,
        last_count: None,
        last_active_users: None,
    };
    if idle_until(&mut client, &mut go).await.is_err() {
        return seen;
    }
    let Ok(request) = room_request(ROOM, &format!("storm-{index}")) else {
        return seen;
    };
    let Ok(Some(ack_id)) = client.emit(JOIN_PR_ROOM, &request, true).await else {
        return seen;
    };

    loop {
        let received = tokio::select! {
            _ = stop.changed() => break,
            received = client.recv() => match received {
                Ok(received) => received,
                Err(_) => break,
            },
        };
        match received.event_name() {
            Some(USER_COUNT) => {
                let count = received.first_arg::<UserCount>().map(|c| c.user_count);
                seen.last_count = count;
                if count == Some(room_size) && seen.settled_at_ns.is_none() {
                    seen.settled_at_ns = Some(env.clock.now_ns());
                    settled.fetch_add(1, Ordering::Relaxed);
                }
            }
            Some(ACTIVE_USERS) => seen.last_active_users = Some(received),
            Some(_) => {}
            None => {
                if received.ack_id() == Some(ack_id) {
                    seen.ack_ns = Some(env.clock.now_ns());
                }
            }
        }
    }
    client.close().await;
    seen
}
