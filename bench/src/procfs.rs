//! The server process as Linux's `/proc` sees it: memory, CPU time and open files.

use std::fs;

use serde::{Deserialize, Serialize};

/// Clock ticks per second in `/proc/PID/stat` (`USER_HZ`, 100 on every Linux ABI the
/// harness runs on).
const TICKS_PER_SECOND: u64 = 100;

/// One reading of the server process.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerSample {
    /// Resident memory now (`VmRSS`), KiB.
    pub rss_kib: u64,
    /// Peak resident memory so far (`VmHWM`), KiB.
    pub hwm_kib: u64,
    /// User plus system CPU time so far (`utime + stime`), milliseconds.
    pub cpu_ms: u64,
    /// Open file descriptors (listener and connections among them).
    pub fds: u64,
}

impl ServerSample {
    /// Reads the process `pid`; `None` when it is gone or `/proc` is unreadable.
    pub fn read(pid: u32) -> Option<Self> {
        let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let fds = fs::read_dir(format!("/proc/{pid}/fd"))
            .map(|dir| dir.count() as u64)
            .unwrap_or(0);
        Some(Self {
            rss_kib: status_kib(&status, "VmRSS:")?,
            hwm_kib: status_kib(&status, "VmHWM:")?,
            cpu_ms: cpu_ticks(&stat)? * 1000 / TICKS_PER_SECOND,
            fds,
        })
    }

    /// Reads `pid` when one is given.
    pub fn read_optional(pid: Option<u32>) -> Option<Self> {
        pid.and_then(Self::read)
    }
}

/// The soft open-file limit of process `pid` (`Max open files` in `/proc/PID/limits`).
pub fn open_file_limit(pid: u32) -> Option<u64> {
    let limits = fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

fn status_kib(status: &str, key: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(key))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// `utime + stime` from `/proc/PID/stat`. The command name (field 2) may hold spaces and
/// parentheses, so fields are counted after its closing parenthesis.
fn cpu_ticks(stat: &str) -> Option<u64> {
    let (_, after_name) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // After the name, field 3 (state) is index 0, so utime (14) and stime (15) are 11, 12.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CPU fields are found even when the command name holds spaces and parentheses.
    #[test]
    fn cpu_ticks_survive_a_name_with_spaces_and_parentheses() {
        let stat = "42 (a (b) c) S 1 42 42 0 -1 4194304 100 0 0 0 250 50 0 0 20 0 1 0";
        assert_eq!(cpu_ticks(stat), Some(300));
    }

    /// A live process's memory, CPU, open files and limit can be read.
    #[test]
    fn this_process_can_be_read() {
        let sample = ServerSample::read(std::process::id()).unwrap();
        assert!(sample.rss_kib > 0 && sample.hwm_kib >= sample.rss_kib);
        assert!(sample.fds > 0);
        assert!(open_file_limit(std::process::id()).unwrap() > 0);
    }
}
