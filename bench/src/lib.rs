//! The Diffy benchmark harness: a Socket.IO load generator and the report it feeds.
//!
//! `diffy-load` (in `main.rs`) opens many client connections over loopback and runs one
//! scenario ([`scenario`]) against a server, printing one JSON object ([`results`]) on
//! stdout. `diffy-report` turns the objects of a whole run into `BENCHMARKS.md`
//! ([`report`]). Clients speak the protocol crate's codec ([`client`]); latencies go into
//! HdrHistograms ([`latency`]), timed by the kernel's receive stamps where the generator's
//! own delay would blur them ([`stamped`]); the server's memory and CPU are read from
//! `/proc` ([`procfs`]).

pub mod client;
pub mod clock;
pub mod latency;
pub mod procfs;
pub mod report;
pub mod results;
pub mod scenario;
pub mod stamped;

/// Raises this process's open-file (soft) limit to its hard limit and returns the soft
/// limit in force afterwards (0 when it cannot be read).
///
/// Every client connection is a file descriptor, so this limit caps the connections one
/// process can hold. Raising the hard limit itself needs privileges the environment may
/// refuse; the many-rooms scenario then spreads connections over several processes.
pub fn raise_open_file_limit() -> u64 {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(_) => rlimit::getrlimit(rlimit::Resource::NOFILE)
            .map(|(soft, _)| soft)
            .unwrap_or(0),
    }
}
