//! Notices panics on the runtime's worker threads, where the server's tasks run.
//!
//! Tokio catches a panicking task, so a handler that panics on hostile input would
//! otherwise go unnoticed. Tests run their body on the test thread and everything they
//! spawn (the server, the clients' readers) on worker threads; the client code never
//! panics there, so any panic on a worker thread is the server's.

use std::sync::{Mutex, Once};

static INSTALL: Once = Once::new();
static PANICS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Installs, once per process, a panic hook that records panics on worker threads.
pub fn watch_server_threads() {
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let thread = std::thread::current();
            if thread
                .name()
                .is_some_and(|name| name.starts_with("tokio-runtime-worker"))
            {
                let mut panics = PANICS
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                panics.push(info.to_string());
            }
            previous(info);
        }));
    });
}

/// Fails when any worker thread panicked so far in this process.
///
/// The record is shared by all tests, so a server panic fails every test that checks
/// after it; the message names the panic's location.
pub fn assert_none() {
    let panics = PANICS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    assert!(panics.is_empty(), "a server task panicked: {panics:#?}");
}
