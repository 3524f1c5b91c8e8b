// Owns the lifecycle of real diffy-server processes for the Node suite: spawning the built
// binary on port 0, learning its port from the log, and stopping every server a test started.

import { spawn } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** How long a server may take to log its address before the test gives up. */
const START_TIMEOUT_MS = 10_000;
/** How long a server may take to exit after SIGTERM before it is killed outright. */
const STOP_TIMEOUT_MS = 3_000;
/** How many lines of a server's log are kept to explain a failure. */
const LOG_TAIL_LINES = 60;

const LISTENING = /listening addr=127\.0\.0\.1:(\d+)/;
// Logs are plain text when stderr is not a terminal, but stripping colours costs nothing.
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;

/** Set `DIFFY_SERVER_LOG=1` to copy every server's log to this process's stderr. */
const ECHO_LOGS = Boolean(process.env.DIFFY_SERVER_LOG);

/** Every server started and not yet stopped, so that one call can stop them all. */
const running = new Set();

/** The binary under test: `$DIFFY_SERVER_BIN`, else the debug build of this workspace. */
export function serverBinary() {
  if (process.env.DIFFY_SERVER_BIN) {
    return process.env.DIFFY_SERVER_BIN;
  }
  const targetDir = process.env.CARGO_TARGET_DIR ?? path.join(REPO_ROOT, 'target');
  return path.join(targetDir, 'debug', 'diffy-server');
}

/**
 * Starts the real server on 127.0.0.1 with an OS-chosen port.
 *
 * `flags` are extra command-line flags such as `['--grace-period', '200ms']`.
 * Resolves to `{url, port, stop(), logs()}` once the server has logged its address.
 * Rejects when the binary is missing, exits early, or does not start in time.
 */
export async function startServer(flags = []) {
  const binary = serverBinary();
  try {
    await access(binary, constants.X_OK);
  } catch {
    throw new Error(
      `diffy-server binary not found or not executable at ${binary}. ` +
        'Run `cargo build -p diffy-server` at the repository root, ' +
        'or point DIFFY_SERVER_BIN at a built binary.',
    );
  }

  // The listening line is logged at info level; keep a caller's RUST_LOG if it has one.
  const env = { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'info', NO_COLOR: '1' };
  const child = spawn(binary, ['--listen', '127.0.0.1:0', ...flags], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });

  const tail = [];
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });

  const port = await new Promise((resolve, reject) => {
    let pending = '';
    let settled = false;
    const timer = setTimeout(() => {
      fail(`diffy-server did not log "listening addr=" within ${START_TIMEOUT_MS} ms`);
    }, START_TIMEOUT_MS);

    function fail(reason) {
      if (settled) {
        return;
      }
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${reason}\n--- server log ---\n${tail.join('\n')}`));
    }

    child.once('error', (err) => fail(`could not spawn ${binary}: ${err.message}`));
    child.once('exit', (code, signal) => {
      fail(`diffy-server exited before listening (code ${code}, signal ${signal})`);
    });

    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop();
      for (const raw of lines) {
        const line = raw.replace(ANSI, '');
        if (ECHO_LOGS) {
          process.stderr.write(`[diffy-server pid ${child.pid}] ${line}\n`);
        }
        tail.push(line);
        if (tail.length > LOG_TAIL_LINES) {
          tail.shift();
        }
        const found = LISTENING.exec(line);
        if (found && !settled) {
          settled = true;
          clearTimeout(timer);
          resolve(Number(found[1]));
        }
      }
    });
  });

  const server = {
    pid: child.pid,
    port,
    url: `http://127.0.0.1:${port}`,
    /** The last lines the server logged, for failure messages. */
    logs: () => tail.join('\n'),
    /** Kills this server at once, without waiting; for process exit. */
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
      }
    },
    /** Stops this server (SIGTERM, then SIGKILL after a timeout) and waits for it to exit. */
    stop: async () => {
      running.delete(server);
      if (child.exitCode !== null || child.signalCode !== null) {
        return;
      }
      process.kill(child.pid, 'SIGTERM');
      const timer = setTimeout(() => {
        if (child.exitCode === null && child.signalCode === null) {
          process.kill(child.pid, 'SIGKILL');
        }
      }, STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    },
  };
  running.add(server);
  return server;
}

/** Stops every server this process started and has not stopped yet. */
export async function stopAllServers() {
  await Promise.all([...running].map((server) => server.stop()));
}

// A test file that crashes or is cancelled must not leave a server behind. Only children
// this module spawned are signalled, each by its own pid.
process.once('exit', () => {
  for (const server of running) {
    server.kill();
  }
});
