//! Many small rooms: the coordinator that spreads rooms over shard processes.
//!
//! A step connects its share of clients, then joins them all at once, waits until every
//! client has its ack and has seen its room full, holds, and reads the server's memory and
//! CPU on the way. Ramping repeats steps with more connections until one fails. Clients
//! live in shard processes ([`super::shard`]) because one process can only hold as many
//! connections as its open-file limit.

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use super::Env;
use super::shard::{Alive, Connected, Joined};
use crate::clock::millis;
use crate::procfs::{self, ServerSample};
use crate::results::{RoomsResult, RoomsStep};

/// File descriptors a shard keeps for itself (stdio, the runtime, the epoll set).
const SHARD_FD_RESERVE: u64 = 64;

/// How the rooms are run.
#[derive(Debug, Clone)]
pub struct RoomsParams {
    /// The server's URL, handed to the shards.
    pub url: String,
    /// Total connections per step, in order; one step unless ramping.
    pub steps: Vec<usize>,
    /// Whether the steps are a ramp (stop at the first that fails).
    pub ramp: bool,
    /// Clients per room.
    pub room_size: usize,
    /// How long each step holds its connections.
    pub hold: Duration,
    /// Bound on one connect.
    pub connect_timeout: Duration,
    /// Bound on a step's connect phase.
    pub phase_timeout: Duration,
    /// Bound on a step's joins.
    pub join_timeout: Duration,
    /// The generator's open-file limit, which caps each shard.
    pub fd_limit: u64,
}

/// A running shard and the room seats it has filled.
struct Shard {
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
    seats: usize,
}

impl Shard {
    async fn spawn(index: usize, params: &RoomsParams) -> anyhow::Result<Self> {
        let exe = std::env::current_exe().context("cannot find the diffy-load executable")?;
        let mut child = Command::new(exe)
            .args(["--url", &params.url, "--scenario", "shard"])
            .args(["--room-size", &params.room_size.to_string()])
            // Shards start on different source addresses so their ports spread evenly.
            .args(["--source-offset", &(index * 101).to_string()])
            .args(["--connect-timeout", &duration_arg(params.connect_timeout)])
            .args(["--phase-timeout", &duration_arg(params.phase_timeout)])
            .args(["--join-timeout", &duration_arg(params.join_timeout)])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("cannot start a shard")?;
        let stdin = child.stdin.take().context("shard without stdin")?;
        let stdout = child.stdout.take().context("shard without stdout")?;
        Ok(Self {
            child,
            stdin,
            lines: BufReader::new(stdout).lines(),
            seats: 0,
        })
    }

    async fn send(&mut self, command: &str) -> anyhow::Result<()> {
        self.stdin.write_all(command.as_bytes()).await?;
        self.stdin.write_all(b"\n").await?;
        self.stdin.flush().await?;
        Ok(())
    }

    async fn reply<T: DeserializeOwned>(&mut self, timeout: Duration) -> anyhow::Result<T> {
        let line = tokio::time::timeout(timeout, self.lines.next_line())
            .await
            .context("a shard did not answer in time")??
            .context("a shard exited")?;
        serde_json::from_str(&line).with_context(|| format!("bad shard answer {line:?}"))
    }

    async fn quit(mut self) {
        let _ = self.send("quit").await;
        if tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

/// Runs the steps.
///
/// Fails when a shard cannot be started or stops answering.
pub async fn run(env: Arc<Env>, params: RoomsParams) -> anyhow::Result<RoomsResult> {
    let capacity = shard_capacity(params.fd_limit, params.room_size);
    let server_fd_limit = env.server_pid.and_then(procfs::open_file_limit);
    let baseline = ServerSample::read_optional(env.server_pid);
    let mut shards: Vec<Shard> = Vec::new();
    let mut steps = Vec::new();
    let (mut total, mut next_room) = (0usize, 1u64);
    let (mut largest_held, mut most_joined) = (0, 0);

    let outcome = async {
        for &target in &params.steps {
            let rooms = target.saturating_sub(total) / params.room_size;
            if rooms == 0 {
                continue;
            }
            eprintln!("rooms: step to {target} connections");
            let step = run_step(&env, &params, &mut shards, capacity, next_room, rooms, total).await?;
            next_room += rooms as u64;
            total += rooms * params.room_size;
            most_joined = most_joined.max(step.joined.min(step.alive_after_hold));
            if step.held {
                largest_held = step.target;
            }
            let held = step.held;
            eprintln!(
                "rooms: {} joined of {target} in {:.0} ms (connect {:.0} ms), {} alive after hold{}",
                step.joined,
                step.join_ms,
                step.connect_ms,
                step.alive_after_hold,
                if held { "" } else { " (not held)" }
            );
            steps.push(step);
            if !held {
                break;
            }
        }
        anyhow::Ok(())
    }
    .await;

    let shard_count = shards.len();
    for shard in shards.drain(..) {
        shard.quit().await;
    }
    outcome?;
    Ok(RoomsResult {
        room_size: params.room_size,
        ramp: params.ramp,
        shards: shard_count,
        server_fd_limit,
        baseline,
        steps,
        largest_held,
        most_joined,
    })
}

/// Connections one shard may hold: its open-file limit less what it needs for itself,
/// in whole rooms.
fn shard_capacity(fd_limit: u64, room_size: usize) -> usize {
    let usable = fd_limit
        .saturating_sub(SHARD_FD_RESERVE)
        .max(room_size as u64) as usize;
    usable / room_size * room_size
}

/// One step: `rooms` more rooms starting at `first_room`, on top of `already` connections.
async fn run_step(
    env: &Env,
    params: &RoomsParams,
    shards: &mut Vec<Shard>,
    capacity: usize,
    first_room: u64,
    rooms: usize,
    already: usize,
) -> anyhow::Result<RoomsStep> {
    // Fill the shards in order, starting new ones when the last is full.
    let mut assigned: Vec<(usize, u64, usize)> = Vec::new();
    let (mut room, mut left) = (first_room, rooms);
    while left > 0 {
        if shards
            .last()
            .is_none_or(|s| s.seats + params.room_size > capacity)
        {
            shards.push(Shard::spawn(shards.len(), params).await?);
        }
        let index = shards.len() - 1;
        let shard = &mut shards[index];
        let fit = ((capacity - shard.seats) / params.room_size).min(left);
        shard.seats += fit * params.room_size;
        assigned.push((index, room, fit));
        room += fit as u64;
        left -= fit;
    }

    let started = Instant::now();
    for &(index, first, count) in &assigned {
        shards[index]
            .send(&format!("connect {first} {count}"))
            .await?;
    }
    let answer_within = params.phase_timeout + Duration::from_secs(30);
    let (mut connected, mut connect_failed) = (0, 0);
    for &(index, _, _) in &assigned {
        let reply: Connected = shards[index].reply(answer_within).await?;
        connected += reply.connected;
        connect_failed += reply.failed;
    }
    let connect_ms = millis(started.elapsed());

    let before_join = ServerSample::read_optional(env.server_pid);
    let started = Instant::now();
    for &(index, _, _) in &assigned {
        shards[index].send("join").await?;
    }
    let answer_within = params.join_timeout + Duration::from_secs(30);
    let (mut joined, mut join_failed) = (0, 0);
    for &(index, _, _) in &assigned {
        let reply: Joined = shards[index].reply(answer_within).await?;
        joined += reply.joined;
        join_failed += reply.failed;
    }
    let join_ms = millis(started.elapsed());
    let after_join = ServerSample::read_optional(env.server_pid);

    tokio::time::sleep(params.hold).await;
    let mut alive_after_hold = 0;
    for shard in shards.iter_mut() {
        shard.send("alive").await?;
        let reply: Alive = shard.reply(Duration::from_secs(30)).await?;
        alive_after_hold += reply.alive;
    }
    let after_hold = ServerSample::read_optional(env.server_pid);

    let target = already + rooms * params.room_size;
    Ok(RoomsStep {
        target,
        connected: already + connected,
        connect_failed,
        connect_ms,
        joined: already + joined,
        join_failed,
        join_ms,
        alive_after_hold,
        held: alive_after_hold == target,
        before_join,
        after_join,
        after_hold,
    })
}

/// A duration as a `--flag` value the shards parse.
fn duration_arg(duration: Duration) -> String {
    format!("{}ms", duration.as_millis())
}
