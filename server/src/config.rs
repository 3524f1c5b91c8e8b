//! Server configuration: command-line flags with environment fallbacks.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

/// Everything the binary reads at start-up.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "diffy-server",
    version,
    about = "The Diffy PR-room presence server"
)]
pub struct Cli {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, env = "DIFFY_LISTEN", default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,

    #[command(flatten)]
    pub config: Config,
}

/// How the server behaves once it is listening.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct Config {
    /// Origins allowed to connect, comma-separated (`https://review.example.com`).
    /// Empty allows any origin. Clients that send no `Origin` header (non-browsers) are
    /// always allowed.
    #[arg(long, env = "DIFFY_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,

    /// How long a user whose last connection dropped stays present, waiting for a re-join.
    #[arg(long, env = "DIFFY_GRACE_PERIOD", default_value = "3s", value_parser = humantime::parse_duration)]
    pub grace_period: Duration,

    /// How long a `typing` lasts without renewal before the server clears it.
    #[arg(long, env = "DIFFY_TYPING_TIMEOUT", default_value = "6s", value_parser = humantime::parse_duration)]
    pub typing_timeout: Duration,

    /// The shortest interval between two relayed `typing` events of one user in one room.
    #[arg(long, env = "DIFFY_TYPING_RELAY_INTERVAL", default_value = "2s", value_parser = humantime::parse_duration)]
    pub typing_relay_interval: Duration,

    /// Presence updates to one room are sent at most once per this window; a burst of
    /// joins and leaves inside it is folded into one update. Zero sends every change.
    #[arg(long, env = "DIFFY_PRESENCE_WINDOW", default_value = "50ms", value_parser = humantime::parse_duration)]
    pub presence_window: Duration,

    /// Joins one connection may make per minute (the burst is the same figure).
    #[arg(long, env = "DIFFY_JOINS_PER_MINUTE", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..))]
    pub joins_per_minute: u32,

    /// Chat messages one connection may send per minute.
    #[arg(long, env = "DIFFY_MESSAGES_PER_MINUTE", default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..))]
    pub messages_per_minute: u32,

    /// `typing` and `stop-typing` events one connection may send per minute.
    #[arg(long, env = "DIFFY_TYPING_PER_MINUTE", default_value_t = 120, value_parser = clap::value_parser!(u32).range(1..))]
    pub typing_per_minute: u32,

    /// The largest Engine.IO payload accepted, in bytes; a larger frame closes its
    /// connection. Big enough for a 2,000,000-character message to reach validation and
    /// be refused with `message_too_long`.
    #[arg(long, env = "DIFFY_MAX_PAYLOAD_BYTES", default_value_t = DEFAULT_MAX_PAYLOAD_BYTES)]
    pub max_payload_bytes: u64,

    /// A directory of static files (the built demo page) served at `/`.
    #[arg(long, env = "DIFFY_STATIC_DIR", value_parser = existing_dir)]
    pub static_dir: Option<PathBuf>,
}

/// Reads a path that must name a directory: a mistyped `--static-dir` would otherwise
/// start a server that answers every page with 404.
fn existing_dir(value: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(value);
    if path.is_dir() {
        Ok(path)
    } else {
        Err(format!("{value} is not a directory"))
    }
}

const DEFAULT_MAX_PAYLOAD_BYTES: u64 = 4 * 1024 * 1024;

impl Default for Config {
    fn default() -> Self {
        Self {
            allowed_origins: Vec::new(),
            grace_period: Duration::from_secs(3),
            typing_timeout: Duration::from_secs(6),
            typing_relay_interval: Duration::from_secs(2),
            presence_window: Duration::from_millis(50),
            joins_per_minute: 30,
            messages_per_minute: 60,
            typing_per_minute: 120,
            max_payload_bytes: DEFAULT_MAX_PAYLOAD_BYTES,
            static_dir: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_defaults_match_the_library_defaults() {
        let cli = Cli::try_parse_from(["diffy-server"]).expect("defaults parse");
        assert_eq!(cli.config, Config::default());
        assert_eq!(cli.listen, "127.0.0.1:3000".parse().expect("valid address"));
    }

    #[test]
    fn flags_read_durations_and_origin_lists() {
        let cli = Cli::try_parse_from([
            "diffy-server",
            "--grace-period",
            "0s",
            "--typing-timeout",
            "250ms",
            "--allowed-origins",
            "https://a.example,https://b.example",
        ])
        .expect("flags parse");
        assert_eq!(cli.config.grace_period, Duration::ZERO);
        assert_eq!(cli.config.typing_timeout, Duration::from_millis(250));
        assert_eq!(
            cli.config.allowed_origins,
            ["https://a.example", "https://b.example"]
        );
    }

    #[test]
    fn a_static_dir_must_be_a_directory() {
        let dir = std::env::temp_dir();
        let cli = Cli::try_parse_from(["diffy-server", "--static-dir", &dir.to_string_lossy()])
            .expect("an existing directory parses");
        assert_eq!(cli.config.static_dir, Some(dir));

        let missing = Cli::try_parse_from(["diffy-server", "--static-dir", "/no/such/diffy-dir"])
            .expect_err("a missing directory is refused");
        assert!(
            missing.to_string().contains("is not a directory"),
            "{missing}"
        );
    }

    #[test]
    fn a_zero_rate_limit_is_refused() {
        assert!(Cli::try_parse_from(["diffy-server", "--joins-per-minute", "0"]).is_err());
    }
}
