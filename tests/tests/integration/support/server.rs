//! One real server per test, on a port the OS picks, with a shutdown switch.

use std::net::SocketAddr;
use std::time::Duration;

use diffy_server::Config;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::client::Client;
use super::panics;

/// How long `run()` may take to return once its shutdown future fired.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// A server running `diffy_server::run` inside the test's runtime.
///
/// Dropping it fires the shutdown future; [`TestServer::stop`] does the same and also
/// checks that `run()` returned `Ok` and that no server task panicked.
pub struct TestServer {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), diffy_server::Error>>>,
}

impl TestServer {
    /// Starts a server whose configuration is the production default changed by `tweak`.
    ///
    /// Panics when the listener cannot be bound.
    pub async fn start(tweak: impl FnOnce(Config) -> Config) -> Self {
        panics::watch_server_threads();
        show_server_logs_when_asked();

        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener
            .local_addr()
            .expect("local address of the listener");
        let (shutdown, fired) = oneshot::channel::<()>();
        let config = tweak(Config::default());

        // The future also resolves when the sender is dropped, so a dropped server stops.
        let task = tokio::spawn(diffy_server::run(listener, config, async move {
            let _ = fired.await;
        }));

        Self {
            addr,
            shutdown: Some(shutdown),
            task: Some(task),
        }
    }

    /// Starts a server with a grace period and the defaults for everything else.
    pub async fn with_grace(grace_period: Duration) -> Self {
        Self::start(|config| Config {
            grace_period,
            ..config
        })
        .await
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Opens a new Socket.IO connection to this server.
    pub async fn connect(&self) -> Client {
        Client::connect(self.addr).await
    }

    /// Fires the shutdown future without waiting for `run()` to return.
    pub fn trigger_shutdown(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }

    /// Fires the shutdown future and waits for `run()`.
    ///
    /// Panics when `run()` does not return within five seconds, returns an error, or when
    /// a server task panicked during the test.
    pub async fn stop(mut self) {
        self.trigger_shutdown();
        let task = self
            .task
            .take()
            .expect("the server task is only taken once");
        let outcome = tokio::time::timeout(STOP_TIMEOUT, task)
            .await
            .unwrap_or_else(|_| panic!("run() did not return within {STOP_TIMEOUT:?} of shutdown"))
            .expect("the server task panicked");
        if let Err(err) = outcome {
            panic!("run() returned an error after shutdown: {err:?}");
        }
        panics::assert_none();
    }
}

/// Installs a log subscriber once when `RUST_LOG` is set, so a failing test can be rerun
/// with the server's logs.
fn show_server_logs_when_asked() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.trigger_shutdown();
    }
}
