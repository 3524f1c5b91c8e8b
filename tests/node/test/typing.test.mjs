// Typing indicators through the official client: relay to the room, throttling of repeats,
// and every way the server clears them (stop-typing, message, leave, disconnect, timeout).

import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';

import { WEBSOCKET_ONLY, connect, emitWithAck, next } from '../lib/client.mjs';
import { assertNothingElse, cleanUp, expectPresence, join } from '../lib/room.mjs';
import { startServer } from '../lib/server.mjs';

afterEach(cleanUp);

const ALICE_IN_123 = { pullRequestId: 123, username: 'alice' };

async function aliceAndBobIn123(url) {
  const alice = await connect(url, WEBSOCKET_ONLY);
  const bob = await connect(url, WEBSOCKET_ONLY);
  await join(alice, 123, 'alice');
  await join(bob, 123, 'bob');
  await expectPresence(alice, { joined: 'alice has joined the chat', users: ['alice'] });
  await expectPresence(alice, { joined: 'bob has joined the chat', users: ['alice', 'bob'] });
  await expectPresence(bob, { joined: 'bob has joined the chat', users: ['alice', 'bob'] });
  return { alice, bob };
}

// Proves typing and stop-typing reach the whole room as {username}, with their acks.
test('typing and stop-typing are relayed to the whole room', async () => {
  const server = await startServer();
  const { alice, bob } = await aliceAndBobIn123(server.url);

  assert.deepEqual(await emitWithAck(alice, 'typing', ALICE_IN_123), { ok: true, relayed: true });
  assert.deepEqual(await next(bob, 'typing'), { username: 'alice' });
  assert.deepEqual(await next(alice, 'typing'), { username: 'alice' });

  const stop = await emitWithAck(alice, 'stop-typing', ALICE_IN_123);
  assert.equal(stop.ok, true, `stop-typing refused: ${JSON.stringify(stop)}`);
  assert.deepEqual(await next(bob, 'stop-typing'), { username: 'alice' });
  assert.deepEqual(await next(alice, 'stop-typing'), { username: 'alice' });

  assertNothingElse(alice, 'alice');
  assertNothingElse(bob, 'bob');
});

// Proves a repeated typing inside the relay interval is acked relayed:false and not relayed.
test('repeated typing is relayed only once per interval', async () => {
  const server = await startServer();
  const { alice, bob } = await aliceAndBobIn123(server.url);

  assert.deepEqual(await emitWithAck(alice, 'typing', ALICE_IN_123), { ok: true, relayed: true });
  assert.deepEqual(await emitWithAck(alice, 'typing', ALICE_IN_123), { ok: true, relayed: false });
  assert.deepEqual(await emitWithAck(alice, 'typing', ALICE_IN_123), { ok: true, relayed: false });
  await emitWithAck(alice, 'stop-typing', ALICE_IN_123);

  // The stop-typing was caused after the repeats, so any relayed repeat would precede it.
  assert.deepEqual(await next(bob, 'typing'), { username: 'alice' });
  assert.deepEqual(await next(bob, 'stop-typing'), { username: 'alice' });
  assertNothingElse(bob, 'bob');
});

// Proves sending a message clears the sender's typing indicator for the room.
test('a message clears its sender\'s typing', async () => {
  const server = await startServer();
  const { alice, bob } = await aliceAndBobIn123(server.url);
  await emitWithAck(alice, 'typing', ALICE_IN_123);
  assert.deepEqual(await next(bob, 'typing'), { username: 'alice' });

  await emitWithAck(alice, 'send-message-to-pr-room', { ...ALICE_IN_123, message: 'done' });
  assert.equal((await next(bob, 'pr-room-message')).message, 'done');
  assert.deepEqual(await next(bob, 'stop-typing'), { username: 'alice' });
});

// Proves leaving the room clears the leaver's typing indicator for those who stay.
test('leaving clears the leaver\'s typing', async () => {
  const server = await startServer();
  const { alice, bob } = await aliceAndBobIn123(server.url);
  await emitWithAck(alice, 'typing', ALICE_IN_123);
  assert.deepEqual(await next(bob, 'typing'), { username: 'alice' });

  await emitWithAck(alice, 'leave-pr-room', ALICE_IN_123);
  assert.deepEqual(await next(bob, 'stop-typing'), { username: 'alice' });
  await expectPresence(bob, { left: 'alice left PR 123', users: ['bob'] });
});

// Proves closing the typing connection clears its indicator at once, before any grace ends.
test('disconnecting clears the typing of that connection', async () => {
  const server = await startServer(['--grace-period', '10s']);
  const { alice, bob } = await aliceAndBobIn123(server.url);
  await emitWithAck(alice, 'typing', ALICE_IN_123);
  assert.deepEqual(await next(bob, 'typing'), { username: 'alice' });

  alice.disconnect();
  assert.deepEqual(await next(bob, 'stop-typing'), { username: 'alice' });
});

// Proves a typing that is never stopped or renewed is cleared by the server after the timeout.
test('typing without a stop is cleared after the typing timeout', async () => {
  const server = await startServer(['--typing-timeout', '300ms']);
  const { alice, bob } = await aliceAndBobIn123(server.url);

  const started = Date.now();
  await emitWithAck(alice, 'typing', ALICE_IN_123);
  assert.deepEqual(await next(bob, 'typing'), { username: 'alice' });
  assert.deepEqual(await next(bob, 'stop-typing'), { username: 'alice' });
  assert.deepEqual(await next(alice, 'stop-typing'), { username: 'alice' });
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 280, `stop-typing came after ${elapsed} ms, before the 300 ms timeout`);
});
