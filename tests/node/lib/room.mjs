// Owns the PR-room vocabulary the tests share: joining with an ack, expecting the presence
// trio, refusals in both their forms, a round-trip barrier that proves nothing else was
// sent, the HTTP presence endpoint, and the after-each clean-up.

import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';

import { closeAllSockets, emitWithAck, next, untaken } from './client.mjs';
import { stopAllServers } from './server.mjs';

/** Closes every socket and stops every server the finished test started. */
export async function cleanUp() {
  closeAllSockets();
  await stopAllServers();
}

/** Joins `pullRequestId` as `username` through an ack and asserts that the join succeeded. */
export async function join(socket, pullRequestId, username) {
  const ack = await emitWithAck(socket, 'join-pr-room', { pullRequestId, username });
  assert.equal(ack?.ok, true, `join of ${username} to ${pullRequestId} was refused: ${json(ack)}`);
  return ack;
}

/**
 * Takes the next `joined` (when `joined` is given), `user-count` and `active-users` from
 * `socket` and asserts their exact shapes.
 */
export async function expectPresence(socket, { joined, left, users }) {
  if (joined !== undefined) {
    assert.equal(await next(socket, 'joined'), joined);
  }
  if (left !== undefined) {
    assert.equal(await next(socket, 'left'), left);
  }
  assert.deepEqual(await next(socket, 'user-count'), { userCount: users.length });
  assert.deepEqual(await next(socket, 'active-users'), users);
}

let barriers = 0;

/**
 * Proves that everything the server sent to the room before now has arrived: `sender`
 * posts a unique message to the room, and each of `receivers` (the sender included
 * implicitly) takes it. Socket.IO keeps one connection's packets in order, so events
 * caused earlier are in the inbox by then.
 */
export async function settle(sender, pullRequestId, username, receivers) {
  barriers += 1;
  const message = `barrier ${barriers}`;
  const ack = await emitWithAck(sender, 'send-message-to-pr-room', {
    pullRequestId,
    username,
    message,
  });
  assert.equal(ack?.ok, true, `barrier message was refused: ${json(ack)}`);
  const matches = (payload) => payload?.message === message;
  await Promise.all(
    [sender, ...receivers].map((socket) => next(socket, 'pr-room-message', { matches })),
  );
}

/**
 * Proves that `socket` has been sent nothing it has not already taken, by a round trip of
 * its own: an ack comes after every packet the server queued for it earlier.
 */
export async function settleAlone(socket) {
  // A leave of a room nobody uses is refused without touching any room.
  await emitWithAck(socket, 'leave-pr-room', { pullRequestId: 999_999_999, username: 'nobody' });
}

/** Asserts that `socket` holds no event that a test has not taken. */
export function assertNothingElse(socket, who) {
  assert.deepEqual(untaken(socket), [], `${who} received events the test did not expect`);
}

/** Waits `ms`, where the passing of time is what the test is about, then asserts quiet. */
export async function assertQuietFor(ms, sockets) {
  await sleep(ms);
  for (const [who, socket] of Object.entries(sockets)) {
    assertNothingElse(socket, who);
  }
}

/**
 * Sends `event` with `payload` twice, once asking for an ack and once without, and
 * asserts that both forms refuse it with `code`: `{ok: false, error: {code, message}}`
 * through the ack and `exception {event, code, message}` otherwise.
 */
export async function expectRefusal(socket, event, payload, code) {
  const ack = await emitWithAck(socket, event, payload);
  assert.equal(typeof ack?.error?.message, 'string', `ack without error message: ${json(ack)}`);
  assert.notEqual(ack.error.message, '', 'the refusal message is empty');
  assert.deepEqual(ack, { ok: false, error: { code, message: ack.error.message } });

  socket.emit(event, payload);
  const exception = await next(socket, 'exception');
  assert.equal(
    typeof exception?.message,
    'string',
    `exception without message: ${json(exception)}`,
  );
  assert.deepEqual(exception, { event, code, message: exception.message });
}

/** Fetches `path` from the server and returns `{status, contentType, body}` (body parsed). */
export async function getJson(url, path) {
  const response = await fetch(new URL(path, url), { signal: AbortSignal.timeout(3_000) });
  const text = await response.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    assert.fail(`GET ${path} answered ${response.status} with a body that is not JSON: ${text}`);
  }
  return { status: response.status, contentType: response.headers.get('content-type'), body };
}

function json(value) {
  return JSON.stringify(value);
}
