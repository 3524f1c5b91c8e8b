//! What a scenario prints: one JSON object per run, read back by the report writer.

use serde::{Deserialize, Serialize};

use crate::latency::LatencySummary;
use crate::procfs::ServerSample;

/// One line of `diffy-load`'s standard output.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    /// Which server ran (`ours` or `peer`).
    pub server: String,
    /// The open-file limit the generator ran with.
    pub generator_fd_limit: u64,
    /// The scenario's figures, tagged with its name.
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// A scenario's figures, or why it could not finish.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "scenario", rename_all = "snake_case")]
pub enum Outcome {
    /// Many small rooms.
    Rooms(RoomsResult),
    /// A join storm into one room.
    Storm(StormResult),
    /// Chat fan-out in one big room at rising rates.
    Fanout(FanoutResult),
    /// Random joins, leaves, closes and reconnects.
    Churn(ChurnResult),
    /// The scenario failed before producing figures.
    Failed {
        /// The scenario's name.
        name: String,
        /// What went wrong.
        error: String,
    },
}

/// Many small rooms, one step (or several when ramping).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RoomsResult {
    /// Clients per room.
    pub room_size: usize,
    /// Whether the steps ramp up until one fails.
    pub ramp: bool,
    /// Generator processes used (each is limited by its open-file limit).
    pub shards: usize,
    /// The server's soft open-file limit, when readable.
    pub server_fd_limit: Option<u64>,
    /// The server before the first connection.
    pub baseline: Option<ServerSample>,
    /// Each step in order.
    pub steps: Vec<RoomsStep>,
    /// The largest step whose every connection joined and stayed connected through the hold.
    pub largest_held: usize,
    /// The most connections that were joined at the same time, held or not.
    pub most_joined: usize,
}

/// One step of the many-rooms scenario: the server holds `target` joined connections.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RoomsStep {
    /// Connections the step aims for in total.
    pub target: usize,
    /// Connections open after the connect phase (all steps so far).
    pub connected: usize,
    /// Connections of this step that failed to open.
    pub connect_failed: usize,
    /// Time to open this step's connections.
    pub connect_ms: f64,
    /// Clients joined (ack received and the room's final count seen), all steps so far.
    pub joined: usize,
    /// Clients of this step whose join did not complete in time.
    pub join_failed: usize,
    /// From the join signal until every client of this step was joined (or gave up).
    pub join_ms: f64,
    /// Joined connections still open after the hold.
    pub alive_after_hold: usize,
    /// Every connection of the step joined and survived the hold.
    pub held: bool,
    /// The server before this step's joins.
    pub before_join: Option<ServerSample>,
    /// The server when every join had completed.
    pub after_join: Option<ServerSample>,
    /// The server after the hold.
    pub after_hold: Option<ServerSample>,
}

/// A join storm: everyone joins one room at once.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StormResult {
    /// Clients asked for.
    pub clients: usize,
    /// Clients that connected and took part.
    pub connected: usize,
    /// From the join signal until every client had seen the final `userCount`; `None`
    /// when some never did within the timeout.
    pub settle_ms: Option<f64>,
    /// Clients that saw the final `userCount`.
    pub settled_clients: usize,
    /// Clients whose last `user-count` or `active-users` did not show the full room.
    pub wrong_final_state: usize,
    /// Join acknowledgement times from the join signal.
    pub ack: LatencySummary,
    /// Packets the clients received from the join signal to the end.
    pub packets: u64,
    /// WebSocket payload bytes the clients received from the join signal to the end.
    pub bytes: u64,
    /// The server before the joins.
    pub before: Option<ServerSample>,
    /// The server at the end.
    pub after: Option<ServerSample>,
}

/// Chat fan-out in one room at rising message rates.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FanoutResult {
    /// Members of the room, senders included.
    pub room_size: usize,
    /// Members that send.
    pub senders: usize,
    /// Seconds each rate is held.
    pub step_secs: f64,
    /// Each rate in order, until the first that was not held.
    pub steps: Vec<FanoutStep>,
    /// The highest rate held with every message delivered and p99 under the bound.
    pub highest_held_rate: Option<u32>,
    /// The p99 bound for a rate to count as held, milliseconds.
    pub p99_bound_ms: f64,
    /// The server before the first message.
    pub before: Option<ServerSample>,
    /// The server at the end.
    pub after: Option<ServerSample>,
}

/// One message rate of the fan-out scenario.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FanoutStep {
    /// Messages per second over all senders.
    pub rate: u32,
    /// Messages sent.
    pub sent: u64,
    /// Deliveries expected (sent × room size).
    pub expected: u64,
    /// Deliveries received before the drain deadline.
    pub delivered: u64,
    /// Deliveries per second, from the first send to the last delivery.
    pub deliveries_per_s: f64,
    /// Latency of every delivery, from the send to the kernel's receive stamp on the
    /// member's socket: the server's latency.
    pub latency: LatencySummary,
    /// Latency of every delivery, from the send to the moment the generator read it: the
    /// server's latency plus the generator's own queueing on the shared cores.
    #[serde(default)]
    pub read_latency: LatencySummary,
    /// Every delivery arrived and p99 stayed under the bound.
    pub held: bool,
    /// Server CPU time spent during the step, milliseconds.
    pub server_cpu_ms: Option<u64>,
}

/// Churn: random joins, leaves, closes and reconnects, then a check of the final views.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChurnResult {
    /// Simulated users, one connection at a time each.
    pub clients: usize,
    /// Rooms they spread over.
    pub rooms: usize,
    /// How long they acted, seconds.
    pub duration_s: f64,
    /// The server's grace period the settle window allowed for, milliseconds.
    pub grace_ms: f64,
    /// Actions taken.
    pub actions: ChurnActions,
    /// Users joined at the end (the true membership, summed over rooms).
    pub members_final: usize,
    /// Joined users whose last `active-users` differs from their room's true membership.
    pub mismatched_active_users: usize,
    /// Joined users whose last `user-count` differs from their room's true size.
    pub mismatched_user_count: usize,
    /// From the moment every user stopped acting to the last presence event received.
    pub settle_ms: f64,
    /// How long the generator waited after everyone stopped acting: the grace period,
    /// then until presence had been quiet for a while; milliseconds.
    pub settle_window_ms: f64,
    /// The server before the first connection.
    pub before: Option<ServerSample>,
    /// The server at the end.
    pub after: Option<ServerSample>,
}

/// What the churning users did.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct ChurnActions {
    /// Connections opened (the first and every reconnect).
    pub connects: u64,
    /// Joins acknowledged ok.
    pub joins: u64,
    /// Leaves acknowledged ok.
    pub leaves: u64,
    /// Connections closed without leaving (joined at the time).
    pub closes_while_joined: u64,
    /// Connections closed while not joined.
    pub closes_idle: u64,
    /// Connects that failed, acks that did not come or said no (the client then closed).
    pub failures: u64,
}
