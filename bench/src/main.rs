//! `diffy-load`: runs one load scenario against a PR-room server and prints its figures.
//!
//! The figures go to stdout as one JSON object ([`diffy_bench::results::Record`]); progress
//! goes to stderr. Every scenario ends by itself: each phase has a deadline, and the
//! whole run is bounded by `--max-time`.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use diffy_bench::client::{SourceAddrs, Target};
use diffy_bench::clock::Clock;
use diffy_bench::results::{Outcome, Record};
use diffy_bench::scenario::churn::ChurnParams;
use diffy_bench::scenario::fanout::FanoutParams;
use diffy_bench::scenario::rooms::RoomsParams;
use diffy_bench::scenario::shard::ShardParams;
use diffy_bench::scenario::storm::StormParams;
use diffy_bench::scenario::{Env, churn, fanout, rooms, shard, storm};

/// Load generator for the Diffy PR-room protocol (Socket.IO v5 over WebSocket).
#[derive(Debug, Parser)]
#[command(name = "diffy-load", version)]
struct Cli {
    /// The server, `http://127.0.0.1:PORT` (loopback only).
    #[arg(long)]
    url: String,

    /// The scenario to run.
    #[arg(long, value_enum)]
    scenario: Scenario,

    /// A name for the server in the output (`ours`, `peer`).
    #[arg(long, default_value = "server")]
    label: String,

    /// The server's process id: its memory and CPU are read from /proc/PID.
    #[arg(long)]
    server_pid: Option<u32>,

    /// Clients (rooms: connections; storm: joiners; fanout: room size; churn: users).
    /// Defaults: rooms 20000, storm 1000, fanout 500, churn 2000.
    #[arg(long)]
    clients: Option<usize>,

    /// rooms: clients per room.
    #[arg(long, default_value_t = 5)]
    room_size: usize,

    /// rooms: ramp through `--ramp-steps` until a step fails, instead of one step.
    #[arg(long)]
    ramp: bool,

    /// rooms: total connections of each ramp step.
    #[arg(long, value_delimiter = ',', default_value = "20000,50000,100000")]
    ramp_steps: Vec<usize>,

    /// rooms: how long each step holds its connections.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    hold: Duration,

    /// fanout: messages per second over all senders, one step each.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "50,100,150,200,250,300,350,400,500,600,800,1000,1200,1600"
    )]
    rates: Vec<u32>,

    /// fanout: members that send.
    #[arg(long, default_value_t = 10)]
    senders: usize,

    /// fanout: how long each rate is held.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    step: Duration,

    /// fanout: how long deliveries may trail a step.
    #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
    drain: Duration,

    /// churn: how long users act.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    duration: Duration,

    /// churn: rooms the users spread over.
    #[arg(long, default_value_t = 20)]
    rooms: usize,

    /// churn: the server's grace period, waited out before checking (0s for a server
    /// without one).
    #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
    grace: Duration,

    /// churn: how long presence must stay quiet, after the grace period, before the
    /// final views are checked.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    settle: Duration,

    /// churn: shortest pause between two actions of one user.
    #[arg(long, default_value = "200ms", value_parser = humantime::parse_duration)]
    pause_min: Duration,

    /// churn: longest pause between two actions of one user.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    pause_max: Duration,

    /// churn: seed of the random choices.
    #[arg(long, default_value_t = 1)]
    seed: u64,

    /// storm: bound from the join signal until everyone has the final count.
    #[arg(long, default_value = "120s", value_parser = humantime::parse_duration)]
    timeout: Duration,

    /// Bound on one connect.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    connect_timeout: Duration,

    /// rooms: bound on a step's connect phase.
    #[arg(long, default_value = "120s", value_parser = humantime::parse_duration)]
    phase_timeout: Duration,

    /// rooms: bound on a step's joins.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    join_timeout: Duration,

    /// Bound on the whole run.
    #[arg(long, default_value = "900s", value_parser = humantime::parse_duration)]
    max_time: Duration,

    /// Where this process starts in the source-address rotation (set for shards).
    #[arg(long, default_value_t = 0, hide = true)]
    source_offset: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    Rooms,
    Storm,
    Fanout,
    Churn,
    /// Internal: one shard process of `rooms`, driven over stdin.
    #[value(hide = true)]
    Shard,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let fd_limit = diffy_bench::raise_open_file_limit();
    let env = Arc::new(Env {
        target: Target::from_http_url(&cli.url)?,
        sources: SourceAddrs::starting_at(cli.source_offset),
        server_pid: cli.server_pid,
        clock: Clock::start(),
    });

    if cli.scenario == Scenario::Shard {
        let params = ShardParams {
            room_size: cli.room_size,
            connect_timeout: cli.connect_timeout,
            phase_timeout: cli.phase_timeout,
            join_timeout: cli.join_timeout,
        };
        return shard::serve(env, params).await;
    }

    eprintln!(
        "diffy-load: {:?} against {} ({}); open-file limit raised to {fd_limit}, the hard limit",
        cli.scenario, cli.url, cli.label
    );
    let name = format!("{:?}", cli.scenario).to_lowercase();
    let outcome = match tokio::time::timeout(cli.max_time, run(&cli, env, fd_limit)).await {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(err)) => Outcome::Failed {
            name,
            error: format!("{err:#}"),
        },
        Err(_) => Outcome::Failed {
            name,
            error: format!("did not finish within {:?}", cli.max_time),
        },
    };
    let failed = matches!(outcome, Outcome::Failed { .. });
    if let Outcome::Failed { error, .. } = &outcome {
        eprintln!("diffy-load: failed: {error}");
    }

    let record = Record {
        server: cli.label.clone(),
        generator_fd_limit: fd_limit,
        outcome,
    };
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", serde_json::to_string(&record)?)?;
    stdout.flush()?;
    if failed {
        std::process::exit(1);
    }
    Ok(())
}

async fn run(cli: &Cli, env: Arc<Env>, fd_limit: u64) -> anyhow::Result<Outcome> {
    Ok(match cli.scenario {
        Scenario::Rooms => {
            let steps = if cli.ramp {
                cli.ramp_steps.clone()
            } else {
                vec![cli.clients.unwrap_or(20_000)]
            };
            let params = RoomsParams {
                url: cli.url.clone(),
                steps,
                ramp: cli.ramp,
                room_size: cli.room_size,
                hold: cli.hold,
                connect_timeout: cli.connect_timeout,
                phase_timeout: cli.phase_timeout,
                join_timeout: cli.join_timeout,
                fd_limit,
            };
            Outcome::Rooms(rooms::run(env, params).await?)
        }
        Scenario::Storm => {
            let params = StormParams {
                clients: cli.clients.unwrap_or(1_000),
                connect_timeout: cli.connect_timeout,
                timeout: cli.timeout,
            };
            Outcome::Storm(storm::run(env, params).await?)
        }
        Scenario::Fanout => {
            let params = FanoutParams {
                room_size: cli.clients.unwrap_or(500),
                senders: cli.senders,
                rates: cli.rates.clone(),
                step: cli.step,
                drain: cli.drain,
                connect_timeout: cli.connect_timeout,
            };
            Outcome::Fanout(fanout::run(env, params).await?)
        }
        Scenario::Churn => {
            let params = ChurnParams {
                clients: cli.clients.unwrap_or(2_000),
                rooms: cli.rooms,
                duration: cli.duration,
                grace: cli.grace,
                settle: cli.settle,
                pause: (cli.pause_min, cli.pause_max.max(cli.pause_min)),
                seed: cli.seed,
                connect_timeout: cli.connect_timeout,
            };
            Outcome::Churn(churn::run(env, params).await?)
        }
        Scenario::Shard => unreachable!("shards are served before this match"),
    })
}
