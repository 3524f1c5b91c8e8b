// Presence across several tabs of one user through the official client: a second tab is
// silent, closing one of several tabs changes nothing, and closing the last tab announces
// `left` only once the grace period has passed (unless the user comes back within it).

import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';

import { WEBSOCKET_ONLY, connect, next } from '../lib/client.mjs';
import {
  assertNothingElse,
  assertQuietFor,
  cleanUp,
  expectPresence,
  join,
  settle,
} from '../lib/room.mjs';
import { startServer } from '../lib/server.mjs';

afterEach(cleanUp);

const GRACE_MS = 200;

/** A server with a short grace period, alice's first tab and bob in room 123, all settled. */
async function aliceTabAndBob(graceMs = GRACE_MS) {
  const server = await startServer(['--grace-period', `${graceMs}ms`]);
  const aliceTab1 = await connect(server.url, WEBSOCKET_ONLY);
  const bob = await connect(server.url, WEBSOCKET_ONLY);
  await join(aliceTab1, 123, 'alice');
  await join(bob, 123, 'bob');
  await expectPresence(aliceTab1, { joined: 'alice has joined the chat', users: ['alice'] });
  await expectPresence(aliceTab1, { joined: 'bob has joined the chat', users: ['alice', 'bob'] });
  await expectPresence(bob, { joined: 'bob has joined the chat', users: ['alice', 'bob'] });
  return { server, aliceTab1, bob };
}

// Proves a second tab gets the room's state for itself and nobody hears a second `joined`.
test('a second tab of a present user announces nothing', async () => {
  const { server, aliceTab1, bob } = await aliceTabAndBob();

  const aliceTab2 = await connect(server.url, WEBSOCKET_ONLY);
  assert.deepEqual(await join(aliceTab2, 123, 'alice'), {
    ok: true,
    pullRequestId: 123,
    userCount: 2,
    users: ['alice', 'bob'],
  });
  assert.deepEqual(await next(aliceTab2, 'user-count'), { userCount: 2 });
  assert.deepEqual(await next(aliceTab2, 'active-users'), ['alice', 'bob']);

  await settle(bob, 123, 'bob', [aliceTab1, aliceTab2]);
  assertNothingElse(aliceTab2, 'alice (tab 2)');
  assertNothingElse(aliceTab1, 'alice (tab 1)');
  assertNothingElse(bob, 'bob');
});

// Proves closing one of two tabs keeps the user present: nobody hears anything, even after grace.
test('closing one of two tabs changes nothing for the room', async () => {
  const { server, aliceTab1, bob } = await aliceTabAndBob();
  const aliceTab2 = await connect(server.url, WEBSOCKET_ONLY);
  await join(aliceTab2, 123, 'alice');
  await next(aliceTab2, 'user-count');
  await next(aliceTab2, 'active-users');

  aliceTab1.disconnect();
  // Time is what is under test: wait well past the grace period, then look for any notice.
  await assertQuietFor(GRACE_MS * 3, { bob, 'alice (tab 2)': aliceTab2 });

  await settle(bob, 123, 'bob', [aliceTab2]);
  assertNothingElse(bob, 'bob');
  assertNothingElse(aliceTab2, 'alice (tab 2)');
});

// Proves closing the last tab announces `left` to the room once, after the grace period.
test('closing the last tab announces left after the grace period', async () => {
  const { server, aliceTab1, bob } = await aliceTabAndBob();
  const aliceTab2 = await connect(server.url, WEBSOCKET_ONLY);
  await join(aliceTab2, 123, 'alice');

  aliceTab1.disconnect();
  const closedAt = Date.now();
  aliceTab2.disconnect();

  await expectPresence(bob, { left: 'alice left PR 123', users: ['bob'] });
  const elapsed = Date.now() - closedAt;
  assert.ok(elapsed >= GRACE_MS - 20, `left came after ${elapsed} ms, inside the grace period`);

  await settle(bob, 123, 'bob', []);
  assertNothingElse(bob, 'bob');
});

// Proves a user whose last tab closed and who re-joins within the grace period is not announced.
test('re-joining within the grace period announces nothing', async () => {
  const graceMs = 1_000;
  const { server, aliceTab1, bob } = await aliceTabAndBob(graceMs);

  aliceTab1.disconnect();
  const aliceTab2 = await connect(server.url, WEBSOCKET_ONLY);
  await join(aliceTab2, 123, 'alice');
  assert.deepEqual(await next(aliceTab2, 'user-count'), { userCount: 2 });
  assert.deepEqual(await next(aliceTab2, 'active-users'), ['alice', 'bob']);

  // Time is what is under test: wait past the first tab's grace period.
  await assertQuietFor(graceMs + 500, { bob, 'alice (tab 2)': aliceTab2 });
  await settle(bob, 123, 'bob', [aliceTab2]);
  assertNothingElse(bob, 'bob');
});
