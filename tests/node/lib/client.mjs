// Owns the Socket.IO client side of the Node suite: opening sockets with the official client,
// recording every event each socket receives, waiting for events and acks under timeouts,
// and closing every socket a test opened.

import { io } from 'socket.io-client';

/** How long a test waits for one event or ack unless it says otherwise. */
export const EVENT_TIMEOUT_MS = 3_000;

/** The options the public docs use: WebSocket from the first byte. */
export const WEBSOCKET_ONLY = Object.freeze({ transports: ['websocket'] });

/** Every socket opened and not yet closed by `closeAllSockets`. */
const opened = new Set();
/** What each socket has received, keyed by socket. */
const inboxes = new WeakMap();

/**
 * Opens a socket without waiting for it to connect, recording every event it receives.
 *
 * Each socket gets its own connection (`forceNew`) and never reconnects, so a closed
 * socket stays closed. `opts` go to `io()` unchanged otherwise; pass `WEBSOCKET_ONLY` for
 * the docs' transport, or nothing for the client's default (polling, then upgrade).
 */
export function open(url, opts = {}) {
  const socket = io(url, { forceNew: true, reconnection: false, ...opts });
  const inbox = { log: [], waiters: [] };
  inboxes.set(socket, inbox);
  socket.onAny((event, ...args) => {
    const entry = { event, payload: args[0], args, consumed: false };
    inbox.log.push(entry);
    for (const waiter of [...inbox.waiters]) {
      if (!entry.consumed && waiter.matches(entry)) {
        entry.consumed = true;
        waiter.resolve(entry.payload);
      }
    }
  });
  opened.add(socket);
  return socket;
}

/** Opens a socket and resolves once it is connected; rejects on a connect error or timeout. */
export async function connect(url, opts = {}, timeoutMs = EVENT_TIMEOUT_MS) {
  const socket = open(url, opts);
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      finish();
      reject(new Error(`timed out after ${timeoutMs} ms connecting to ${url}`));
    }, timeoutMs);
    function finish() {
      clearTimeout(timer);
      socket.off('connect', onConnect);
      socket.off('connect_error', onError);
    }
    function onConnect() {
      finish();
      resolve();
    }
    function onError(err) {
      finish();
      reject(new Error(`could not connect to ${url}: ${err?.message ?? err}`));
    }
    socket.on('connect', onConnect);
    socket.on('connect_error', onError);
  });
  return socket;
}

/**
 * Resolves with the first argument of the next `event` on any emitter (socket, manager or
 * engine); rejects with a message naming the event when it does not come in time.
 */
export function once(emitter, event, timeoutMs = EVENT_TIMEOUT_MS) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, listener);
      reject(new Error(`timed out after ${timeoutMs} ms waiting for "${event}"`));
    }, timeoutMs);
    function listener(...args) {
      clearTimeout(timer);
      emitter.off(event, listener);
      resolve(args[0]);
    }
    emitter.on(event, listener);
  });
}

/**
 * Emits `event` with `payload` and resolves with the server's ack; rejects with a message
 * naming the event when no ack comes in time.
 */
export async function emitWithAck(socket, event, payload, timeoutMs = EVENT_TIMEOUT_MS) {
  try {
    return await socket.timeout(timeoutMs).emitWithAck(event, payload);
  } catch (err) {
    throw new Error(`no ack for "${event}" within ${timeoutMs} ms (${err.message})`);
  }
}

/**
 * Resolves with the payload of the oldest received `event` not yet taken that satisfies
 * `matches`, waiting for it when it has not arrived; the event counts as taken afterwards.
 * Events that arrived before the call are found too, so nothing is lost to a race.
 */
export function next(socket, event, { matches = () => true, timeoutMs = EVENT_TIMEOUT_MS } = {}) {
  const inbox = inboxOf(socket);
  const fits = (entry) => entry.event === event && matches(entry.payload);

  const found = inbox.log.find((entry) => !entry.consumed && fits(entry));
  if (found) {
    found.consumed = true;
    return Promise.resolve(found.payload);
  }

  return new Promise((resolve, reject) => {
    const waiter = {
      matches: fits,
      resolve: (payload) => {
        clearTimeout(timer);
        inbox.waiters.splice(inbox.waiters.indexOf(waiter), 1);
        resolve(payload);
      },
    };
    const timer = setTimeout(() => {
      inbox.waiters.splice(inbox.waiters.indexOf(waiter), 1);
      const seen = inbox.log.map((entry) => `${entry.event} ${JSON.stringify(entry.payload)}`);
      reject(
        new Error(
          `timed out after ${timeoutMs} ms waiting for "${event}"; ` +
            `socket received: [${seen.join('; ')}]`,
        ),
      );
    }, timeoutMs);
    inbox.waiters.push(waiter);
  });
}

/**
 * The events this socket received that no `next` call has taken yet, as
 * `{event, payload}` pairs in arrival order. Marks them taken when `take` is set.
 */
export function untaken(socket, { take = false } = {}) {
  const entries = inboxOf(socket).log.filter((entry) => !entry.consumed);
  if (take) {
    for (const entry of entries) {
      entry.consumed = true;
    }
  }
  return entries.map(({ event, payload }) => ({ event, payload }));
}

/** Every event this socket received, taken or not, as `{event, payload}` in arrival order. */
export function received(socket) {
  return inboxOf(socket).log.map(({ event, payload }) => ({ event, payload }));
}

/** Closes every socket opened since the last call; for `afterEach` hooks. */
export function closeAllSockets() {
  for (const socket of opened) {
    socket.offAny();
    socket.disconnect();
  }
  opened.clear();
}

function inboxOf(socket) {
  const inbox = inboxes.get(socket);
  if (!inbox) {
    throw new Error('this socket was not opened through lib/client.mjs');
  }
  return inbox;
}
