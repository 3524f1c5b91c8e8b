//! `diffy-report`: turns the JSON lines of a benchmark run into BENCHMARKS.md.
//!
//! It reads the records `diffy-load` printed, gathers the facts about the machine and the
//! versions (CPU, memory, `rustc`, `node`, socket.io, socketioxide) and writes the report
//! that [`diffy_bench::report::render`] makes of them.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;
use clap::Parser;
use diffy_bench::report::{self, Facts};
use diffy_bench::results::Record;

/// Writes BENCHMARKS.md from a run's records.
#[derive(Debug, Parser)]
#[command(name = "diffy-report", version)]
struct Cli {
    /// The records, one JSON object per line.
    #[arg(long)]
    results: PathBuf,
    /// Where to write the report.
    #[arg(long)]
    out: PathBuf,
    /// The command line of the run, quoted in the report.
    #[arg(long)]
    command: String,
    /// When the run started (UTC).
    #[arg(long)]
    date: String,
    /// `full` or `quick`.
    #[arg(long, default_value = "full")]
    mode: String,
    /// The peer's directory (its installed socket.io gives the version).
    #[arg(long, default_value = "bench/peer")]
    peer_dir: PathBuf,
    /// The workspace's Cargo.lock (gives the socketioxide version).
    #[arg(long, default_value = "Cargo.lock")]
    lock: PathBuf,
    /// The hard open-file limit of the run.
    #[arg(long)]
    fd_hard_limit: Option<u64>,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let text = fs::read_to_string(&cli.results)
        .with_context(|| format!("cannot read {}", cli.results.display()))?;
    let mut records = Vec::new();
    for (number, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let record: Record = serde_json::from_str(line)
            .with_context(|| format!("{} line {}", cli.results.display(), number + 1))?;
        records.push(record);
    }

    let facts = Facts {
        date: cli.date.clone(),
        command: cli.command.clone(),
        mode: cli.mode.clone(),
        cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu_model: cpu_model().unwrap_or_else(|| "unknown CPU".into()),
        memory_gib: memory_gib().unwrap_or(0.0),
        kernel: fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_owned())
            .unwrap_or_default(),
        rustc: version_of("rustc").unwrap_or_else(|| "rustc (unknown)".into()),
        node: version_of("node").unwrap_or_else(|| "unknown".into()),
        socket_io: socket_io_version(&cli.peer_dir).unwrap_or_else(|| "unknown".into()),
        socketioxide: locked_version(&cli.lock, "socketioxide").unwrap_or_else(|| "unknown".into()),
        fd_hard_limit: cli.fd_hard_limit,
    };
    fs::write(&cli.out, report::render(&records, &facts))
        .with_context(|| format!("cannot write {}", cli.out.display()))?;
    eprintln!(
        "diffy-report: wrote {} from {} records",
        cli.out.display(),
        records.len()
    );
    Ok(())
}

fn cpu_model() -> Option<String> {
    let info = fs::read_to_string("/proc/cpuinfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("model name"))?;
    Some(line.split_once(':')?.1.trim().to_owned())
}

fn memory_gib() -> Option<f64> {
    let info = fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0 / 1024.0)
}

fn version_of(program: &str) -> Option<String> {
    let output = Command::new(program).arg("--version").output().ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    Some(text.trim().to_owned())
}

fn socket_io_version(peer_dir: &Path) -> Option<String> {
    let manifest = peer_dir.join("node_modules/socket.io/package.json");
    let text = fs::read_to_string(manifest).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json.get("version")?.as_str().map(str::to_owned)
}

/// The version of `name` in a Cargo.lock (the first entry when several are locked).
fn locked_version(lock: &Path, name: &str) -> Option<String> {
    let text = fs::read_to_string(lock).ok()?;
    let wanted = format!("name = \"{name}\"");
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.trim() == wanted {
            let version = lines.next()?.trim().strip_prefix("version = ")?;
            return Some(version.trim_matches('"').to_owned());
        }
    }
    None
}
