//! Churn: users join, leave, close and reconnect at random, then stop and let presence settle.
//!
//! Each simulated user has one username, one room and at most one connection at a time.
//! The generator knows the true membership: a user is in their room when their join was
//! acknowledged and they have neither left nor closed since. After everyone stops acting,
//! the run waits longer than the server's grace period and then compares every joined
//! user's last `active-users` (as a set) and last `user-count` with the truth.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use diffy_protocol::event::{ACTIVE_USERS, JOIN_PR_ROOM, JOINED, LEAVE_PR_ROOM, LEFT, USER_COUNT};
use diffy_protocol::payload::{Ack, JoinAck, LeaveAck, UserCount};
use serde::de::DeserializeOwned;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::{Env, wait_for};
use crate::client::{Client, ClientError, Received, Traffic, room_request};
use crate::clock::millis;
use crate::procfs::ServerSample;
use crate::results::{ChurnActions, ChurnResult};

/// How long a join or leave may wait for its acknowledgement.
const ACK_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest wait for presence to go quiet after the grace period.
const SETTLE_LIMIT: Duration = Duration::from_secs(60);

/// How the churn is run.
#[derive(Debug, Clone)]
pub struct ChurnParams {
    /// Simulated users.
    pub clients: usize,
    /// Rooms they spread over (user `i` belongs to room `1 + i % rooms`).
    pub rooms: usize,
    /// How long they act.
    pub duration: Duration,
    /// The server's grace period, waited out before checking.
    pub grace: Duration,
    /// How long presence must stay quiet, after the grace period, before checking.
    pub settle: Duration,
    /// The shortest and longest pause between two actions of one user.
    pub pause: (Duration, Duration),
    /// Seed of the users' random choices.
    pub seed: u64,
    /// Bound on each connect.
    pub connect_timeout: Duration,
}

/// Counters every user adds to.
#[derive(Default)]
struct Shared {
    connects: AtomicU64,
    joins: AtomicU64,
    leaves: AtomicU64,
    closes_while_joined: AtomicU64,
    closes_idle: AtomicU64,
    failures: AtomicU64,
    quiesced: AtomicUsize,
    last_presence_ns: AtomicU64,
}

/// What one user ends with.
struct Final {
    username: String,
    room: u64,
    joined: bool,
    view: View,
}

/// What one connection has seen of its room.
#[derive(Default)]
struct View {
    last_active_users: Option<Received>,
    last_count: Option<usize>,
}

/// Runs the churn.
///
/// Fails only on a harness bug (an invalid generated name).
pub async fn run(env: Arc<Env>, params: ChurnParams) -> anyhow::Result<ChurnResult> {
    anyhow::ensure!(params.rooms >= 1 && params.clients >= 1);
    let traffic = Arc::new(Traffic::default());
    let shared = Arc::new(Shared::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let before = ServerSample::read_optional(env.server_pid);

    let acting_until = Instant::now() + params.duration;
    let mut tasks = JoinSet::new();
    for index in 0..params.clients {
        let user = User {
            username: format!("churn-{index}"),
            room: 1 + (index % params.rooms) as u64,
            rng: fastrand::Rng::with_seed(params.seed.wrapping_add(index as u64)),
            connection: None,
            joined: false,
            view: View::default(),
        };
        let (env, shared, traffic) = (Arc::clone(&env), Arc::clone(&shared), Arc::clone(&traffic));
        let (params, stop) = (params.clone(), stop_rx.clone());
        tasks.spawn(async move {
            user.run(&env, &shared, &traffic, &params, acting_until, stop)
                .await
        });
    }

    // Everyone finishes the action in hand after the deadline; then presence may settle.
    let clients = params.clients;
    wait_for(params.duration + 2 * ACK_TIMEOUT, || {
        shared.quiesced.load(Ordering::Relaxed) >= clients
    })
    .await;
    let quiesced_ns = env.clock.now_ns();
    eprintln!("churn: users stopped acting; waiting for presence to settle");
    settle(&env, &shared, &params).await;
    let window_ns = env.clock.now_ns().saturating_sub(quiesced_ns);
    let after = ServerSample::read_optional(env.server_pid);
    let _ = stop_tx.send(true);

    let mut finals = Vec::with_capacity(params.clients);
    while let Some(joined) = tasks.join_next().await {
        if let Ok(user) = joined {
            finals.push(user);
        }
    }
    let (members_final, mismatched_active_users, mismatched_user_count) = check(&finals);
    let last_presence_ns = shared.last_presence_ns.load(Ordering::Relaxed);
    let settle_ms = millis(Duration::from_nanos(
        last_presence_ns.saturating_sub(quiesced_ns),
    ));

    Ok(ChurnResult {
        clients: params.clients,
        rooms: params.rooms,
        duration_s: params.duration.as_secs_f64(),
        grace_ms: millis(params.grace),
        actions: ChurnActions {
            connects: shared.connects.load(Ordering::Relaxed),
            joins: shared.joins.load(Ordering::Relaxed),
            leaves: shared.leaves.load(Ordering::Relaxed),
            closes_while_joined: shared.closes_while_joined.load(Ordering::Relaxed),
            closes_idle: shared.closes_idle.load(Ordering::Relaxed),
            failures: shared.failures.load(Ordering::Relaxed),
        },
        members_final,
        mismatched_active_users,
        mismatched_user_count,
        settle_ms,
        settle_window_ms: millis(Duration::from_nanos(window_ns)),
        before,
        after,
    })
}

/// Waits out the grace period, then until no presence event has arrived for
/// `params.settle`, at most [`SETTLE_LIMIT`] past the grace period.
async fn settle(env: &Env, shared: &Shared, params: &ChurnParams) {
    tokio::time::sleep(params.grace).await;
    let quiet_ns = u64::try_from(params.settle.as_nanos()).unwrap_or(u64::MAX);
    wait_for(SETTLE_LIMIT, || {
        let last = shared.last_presence_ns.load(Ordering::Relaxed);
        env.clock.now_ns().saturating_sub(last) >= quiet_ns
    })
    .await;
}

/// Compares each joined user's last view with the true membership of their room; returns
/// the members in all, the users whose `active-users` differs and those whose
/// `user-count` differs.
fn check(finals: &[Final]) -> (usize, usize, usize) {
    let mut truth: HashMap<u64, BTreeSet<&str>> = HashMap::new();
    for user in finals.iter().filter(|u| u.joined) {
        truth.entry(user.room).or_default().insert(&user.username);
    }

    let (mut wrong_users, mut wrong_count) = (0, 0);
    for user in finals.iter().filter(|u| u.joined) {
        let members = &truth[&user.room];
        let seen: Option<BTreeSet<String>> = user
            .view
            .last_active_users
            .as_ref()
            .and_then(|r| r.first_arg::<Vec<String>>())
            .map(|users| users.into_iter().collect());
        let same = seen.is_some_and(|seen| {
            seen.len() == members.len() && seen.iter().all(|name| members.contains(name.as_str()))
        });
        if !same {
            wrong_users += 1;
        }
        if user.view.last_count != Some(members.len()) {
            wrong_count += 1;
        }
    }
    let members = truth.values().map(BTreeSet::len).sum();
    (members, wrong_users, wrong_count)
}

/// One simulated user.
struct User {
    username: String,
    room: u64,
    rng: fastrand::Rng,
    connection: Option<Client>,
    joined: bool,
    view: View,
}

impl User {
    async fn run(
        mut self,
        env: &Env,
        shared: &Shared,
        traffic: &Arc<Traffic>,
        params: &ChurnParams,
        acting_until: Instant,
        mut stop: watch::Receiver<bool>,
    ) -> Final {
        let (low, high) = params.pause;
        loop {
            let pause = Duration::from_millis(
                self.rng
                    .u64(low.as_millis() as u64..=high.as_millis() as u64),
            );
            let until = (Instant::now() + pause).min(acting_until);
            self.watch_until(env, shared, until).await;
            if Instant::now() >= acting_until {
                break;
            }
            self.act(env, shared, traffic, params).await;
        }
        shared.quiesced.fetch_add(1, Ordering::Relaxed);

        // Keep listening, without acting, until the run ends.
        loop {
            let Some(client) = self.connection.as_mut() else {
                let _ = stop.wait_for(|stop| *stop).await;
                break;
            };
            tokio::select! {
                _ = stop.wait_for(|stop| *stop) => break,
                received = client.recv() => match received {
                    Ok(received) => note(env, shared, &mut self.view, received),
                    Err(_) => self.lost(),
                },
            }
        }
        if let Some(client) = self.connection.take() {
            client.close().await;
        }
        Final {
            username: self.username,
            room: self.room,
            joined: self.joined,
            view: self.view,
        }
    }

    /// One random action, chosen by the user's state.
    async fn act(
        &mut self,
        env: &Env,
        shared: &Shared,
        traffic: &Arc<Traffic>,
        params: &ChurnParams,
    ) {
        let roll = self.rng.f32();
        match (self.connection.is_some(), self.joined) {
            (false, _) => match env
                .connect(Arc::clone(traffic), params.connect_timeout)
                .await
            {
                Ok(client) => {
                    shared.connects.fetch_add(1, Ordering::Relaxed);
                    self.connection = Some(client);
                    self.view = View::default();
                }
                Err(_) => {
                    shared.failures.fetch_add(1, Ordering::Relaxed);
                }
            },
            (true, false) if roll < 0.85 => {
                if self.request::<JoinAck>(env, shared, JOIN_PR_ROOM).await {
                    self.joined = true;
                    shared.joins.fetch_add(1, Ordering::Relaxed);
                }
            }
            (true, false) => {
                shared.closes_idle.fetch_add(1, Ordering::Relaxed);
                self.close().await;
            }
            (true, true) if roll < 0.45 => {
                if self.request::<LeaveAck>(env, shared, LEAVE_PR_ROOM).await {
                    self.joined = false;
                    shared.leaves.fetch_add(1, Ordering::Relaxed);
                }
            }
            (true, true) if roll < 0.75 => {
                shared.closes_while_joined.fetch_add(1, Ordering::Relaxed);
                self.close().await;
            }
            (true, true) => {}
        }
    }

    /// Sends a join or leave and waits for its acknowledgement; returns whether it was ok.
    /// Anything else (a refusal, no answer, a broken connection) closes the connection, so
    /// that the user's state stays known: not in the room once the grace period ends.
    async fn request<T: DeserializeOwned>(
        &mut self,
        env: &Env,
        shared: &Shared,
        event: &str,
    ) -> bool {
        let answer = self.request_inner::<T>(env, shared, event).await;
        match answer {
            Ok(Some(Ack::Ok(_))) => true,
            _ => {
                shared.failures.fetch_add(1, Ordering::Relaxed);
                self.close().await;
                false
            }
        }
    }

    async fn request_inner<T: DeserializeOwned>(
        &mut self,
        env: &Env,
        shared: &Shared,
        event: &str,
    ) -> Result<Option<Ack<T>>, ClientError> {
        let Ok(payload) = room_request(self.room, &self.username) else {
            return Ok(None);
        };
        let Some(client) = self.connection.as_mut() else {
            return Ok(None);
        };
        let Some(ack_id) = client.emit(event, &payload, true).await? else {
            return Ok(None);
        };
        let deadline = Instant::now() + ACK_TIMEOUT;
        loop {
            let received = match tokio::time::timeout_at(deadline, client.recv()).await {
                Ok(received) => received?,
                Err(_) => return Ok(None),
            };
            if received.ack_id() == Some(ack_id) {
                return Ok(received.first_arg::<Ack<T>>());
            }
            note(env, shared, &mut self.view, received);
        }
    }

    /// Services the connection (or just waits without one) until `until`.
    async fn watch_until(&mut self, env: &Env, shared: &Shared, until: Instant) {
        let Some(client) = self.connection.as_mut() else {
            tokio::time::sleep_until(until).await;
            return;
        };
        loop {
            match tokio::time::timeout_at(until, client.recv()).await {
                Err(_) => return,
                Ok(Ok(received)) => note(env, shared, &mut self.view, received),
                Ok(Err(_)) => {
                    self.lost();
                    return;
                }
            }
        }
    }

    async fn close(&mut self) {
        if let Some(client) = self.connection.take() {
            client.close().await;
        }
        self.joined = false;
    }

    /// The server closed the connection under us.
    fn lost(&mut self) {
        self.connection = None;
        self.joined = false;
    }
}

/// Notes a presence event: its arrival time, and the count and list it carries.
fn note(env: &Env, shared: &Shared, view: &mut View, received: Received) {
    let name = received.event_name();
    if !matches!(name, Some(JOINED | LEFT | USER_COUNT | ACTIVE_USERS)) {
        return;
    }
    shared
        .last_presence_ns
        .fetch_max(env.clock.now_ns(), Ordering::Relaxed);
    match name {
        Some(USER_COUNT) => {
            view.last_count = received.first_arg::<UserCount>().map(|c| c.user_count);
        }
        Some(ACTIVE_USERS) => view.last_active_users = Some(received),
        _ => {}
    }
}
