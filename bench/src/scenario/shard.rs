//! A shard of the many-rooms scenario: a child process that holds part of the connections.
//!
//! One process can hold only as many connections as its open-file limit allows, so the
//! coordinator ([`super::rooms`]) spreads whole rooms over shards. A shard reads commands
//! on stdin and answers each with one JSON line on stdout:
//!
//! ```text
//! connect FIRST_ROOM ROOMS   → {"connected":N,"failed":N,"ms":F}
//! join                       → {"joined":N,"failed":N,"ms":F}   (the last connected batch)
//! alive                      → {"alive":N}                      (joined and still open)
//! quit, or end of input      → exits
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use diffy_protocol::event::{JOIN_PR_ROOM, USER_COUNT};
use diffy_protocol::payload::UserCount;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use super::{Env, idle_until, wait_for};
use crate::client::{Client, Traffic, room_request};
use crate::clock::millis;

/// Connections a shard opens at the same time.
const CONNECT_CONCURRENCY: usize = 128;

/// The answer to `connect`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Connected {
    /// Clients of the batch that connected.
    pub connected: usize,
    /// Clients of the batch that did not.
    pub failed: usize,
    /// Time the batch took.
    pub ms: f64,
}

/// The answer to `join`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Joined {
    /// Clients of the batch whose join completed.
    pub joined: usize,
    /// Clients of the batch whose join did not complete in time.
    pub failed: usize,
    /// Time from the signal until every client of the batch was done.
    pub ms: f64,
}

/// The answer to `alive`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Alive {
    /// Joined clients whose connection is still open.
    pub alive: usize,
}

/// How a shard runs its clients.
#[derive(Debug, Clone)]
pub struct ShardParams {
    /// Clients per room.
    pub room_size: usize,
    /// Bound on one connect.
    pub connect_timeout: Duration,
    /// Bound on the whole connect phase of a batch.
    pub phase_timeout: Duration,
    /// Bound on a batch's joins.
    pub join_timeout: Duration,
}

/// One batch of clients, connected together and joined together.
struct Batch {
    size: usize,
    connected: AtomicUsize,
    connect_failed: AtomicUsize,
    joined: AtomicUsize,
    join_failed: AtomicUsize,
    go: watch::Sender<bool>,
}

/// Serves the coordinator's commands until `quit` or the end of stdin.
///
/// Fails when stdin or stdout fail.
pub async fn serve(env: Arc<Env>, params: ShardParams) -> anyhow::Result<()> {
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut stdout = tokio::io::stdout();
    let traffic = Arc::new(Traffic::default());
    let alive = Arc::new(AtomicUsize::new(0));
    let permits = Arc::new(Semaphore::new(CONNECT_CONCURRENCY));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    let mut batch: Option<Arc<Batch>> = None;

    while let Some(line) = lines.next_line().await? {
        let words: Vec<&str> = line.split_whitespace().collect();
        let reply = match words.as_slice() {
            ["connect", first, rooms] => {
                let (first, rooms): (u64, u64) = (first.parse()?, rooms.parse()?);
                let started = Instant::now();
                let deadline = tokio::time::Instant::now() + params.phase_timeout;
                let (go, _) = watch::channel(false);
                let size = rooms as usize * params.room_size;
                let this = Arc::new(Batch {
                    size,
                    connected: AtomicUsize::new(0),
                    connect_failed: AtomicUsize::new(0),
                    joined: AtomicUsize::new(0),
                    join_failed: AtomicUsize::new(0),
                    go,
                });
                for room in first..first + rooms {
                    for seat in 0..params.room_size {
                        let member = Member {
                            env: Arc::clone(&env),
                            params: params.clone(),
                            batch: Arc::clone(&this),
                            traffic: Arc::clone(&traffic),
                            alive: Arc::clone(&alive),
                            permits: Arc::clone(&permits),
                            room,
                            username: format!("r{room}-{seat}"),
                        };
                        let stop = stop_rx.clone();
                        tasks.spawn(member.run(deadline, stop));
                    }
                }
                wait_for(params.phase_timeout + Duration::from_secs(5), || {
                    this.connected.load(Ordering::Relaxed)
                        + this.connect_failed.load(Ordering::Relaxed)
                        >= size
                })
                .await;
                let connected = this.connected.load(Ordering::Relaxed);
                batch = Some(this);
                serde_json::to_string(&Connected {
                    connected,
                    failed: size - connected.min(size),
                    ms: millis(started.elapsed()),
                })?
            }
            ["join"] => {
                let Some(this) = batch.as_ref() else {
                    anyhow::bail!("join before connect");
                };
                let started = Instant::now();
                let _ = this.go.send(true);
                let connected = this.connected.load(Ordering::Relaxed);
                wait_for(params.join_timeout + Duration::from_secs(5), || {
                    this.joined.load(Ordering::Relaxed) + this.join_failed.load(Ordering::Relaxed)
                        >= connected
                })
                .await;
                let joined = this.joined.load(Ordering::Relaxed);
                serde_json::to_string(&Joined {
                    joined,
                    failed: this.size - joined.min(this.size),
                    ms: millis(started.elapsed()),
                })?
            }
            ["alive"] => serde_json::to_string(&Alive {
                alive: alive.load(Ordering::Relaxed),
            })?,
            ["quit"] => break,
            _ => anyhow::bail!("unknown shard command {line:?}"),
        };
        stdout.write_all(reply.as_bytes()).await?;
        stdout.write_all(b"\n").await?;
        stdout.flush().await?;
    }

    // Dropping the tasks closes their sockets; the server sees the connections go.
    let _ = stop_tx.send(true);
    tasks.shutdown().await;
    Ok(())
}

/// One client of a shard: connect, wait for the join signal, join, then hold.
struct Member {
    env: Arc<Env>,
    params: ShardParams,
    batch: Arc<Batch>,
    traffic: Arc<Traffic>,
    alive: Arc<AtomicUsize>,
    permits: Arc<Semaphore>,
    room: u64,
    username: String,
}

impl Member {
    async fn run(self, deadline: tokio::time::Instant, mut stop: watch::Receiver<bool>) {
        let Some(mut client) = self.connect(deadline).await else {
            self.batch.connect_failed.fetch_add(1, Ordering::Relaxed);
            return;
        };
        self.batch.connected.fetch_add(1, Ordering::Relaxed);

        let mut go = self.batch.go.subscribe();
        let joined = idle_until(&mut client, &mut go).await.is_ok()
            && tokio::time::timeout(self.params.join_timeout, self.join(&mut client))
                .await
                .is_ok_and(|joined| joined);
        if !joined {
            self.batch.join_failed.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.batch.joined.fetch_add(1, Ordering::Relaxed);
        self.alive.fetch_add(1, Ordering::Relaxed);

        // Hold: answer pings until the shard stops or the server drops us.
        let _ = idle_until(&mut client, &mut stop).await;
        self.alive.fetch_sub(1, Ordering::Relaxed);
    }

    /// Connects within the batch's deadline; `None` when that fails.
    async fn connect(&self, deadline: tokio::time::Instant) -> Option<Client> {
        let _permit = self.permits.acquire().await.ok()?;
        let left = deadline.checked_duration_since(tokio::time::Instant::now())?;
        let timeout = left.min(self.params.connect_timeout);
        self.env
            .connect(Arc::clone(&self.traffic), timeout)
            .await
            .ok()
    }

    /// Joins and waits for the acknowledgement and the room's full count.
    async fn join(&self, client: &mut Client) -> bool {
        let Ok(request) = room_request(self.room, &self.username) else {
            return false;
        };
        let Ok(Some(ack_id)) = client.emit(JOIN_PR_ROOM, &request, true).await else {
            return false;
        };
        let (mut acked, mut full) = (false, false);
        while !(acked && full) {
            let Ok(received) = client.recv().await else {
                return false;
            };
            if received.ack_id() == Some(ack_id) {
                acked = true;
            } else if received.event_name() == Some(USER_COUNT) {
                let count = received.first_arg::<UserCount>().map(|c| c.user_count);
                full = count == Some(self.params.room_size);
            }
        }
        true
    }
}
