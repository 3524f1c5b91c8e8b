// Chat messages in a PR room through the official client: who receives them, their exact
// shape, their ids and timestamps, and the ack the sender gets.

import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';

import { WEBSOCKET_ONLY, connect, emitWithAck, next } from '../lib/client.mjs';
import { assertNothingElse, cleanUp, expectPresence, join, settle } from '../lib/room.mjs';
import { startServer } from '../lib/server.mjs';

afterEach(cleanUp);

/** How far a server timestamp may be from this machine's clock. */
const CLOCK_SLACK_MS = 5_000;

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

// Proves sender and room both get {username, message, id, sentAt} matching the sender's ack.
test('a message reaches everyone in the room, the sender included', async () => {
  const server = await startServer();
  const { alice, bob } = await aliceAndBobIn123(server.url);

  const before = Date.now();
  const ack = await emitWithAck(alice, 'send-message-to-pr-room', {
    pullRequestId: 123,
    username: 'alice',
    message: 'Looks good to me',
  });
  assert.equal(ack.ok, true, `message refused: ${JSON.stringify(ack)}`);
  assert.equal(typeof ack.id, 'string');
  assert.notEqual(ack.id, '');
  assert.equal(typeof ack.sentAt, 'number');
  assert.ok(Number.isInteger(ack.sentAt), `sentAt ${ack.sentAt} is not whole milliseconds`);
  assert.ok(
    Math.abs(ack.sentAt - before) < CLOCK_SLACK_MS,
    `sentAt ${ack.sentAt} is far from now (${before})`,
  );
  assert.deepEqual(ack, { ok: true, id: ack.id, sentAt: ack.sentAt });

  const expected = {
    username: 'alice',
    message: 'Looks good to me',
    id: ack.id,
    sentAt: ack.sentAt,
  };
  assert.deepEqual(await next(alice, 'pr-room-message'), expected);
  assert.deepEqual(await next(bob, 'pr-room-message'), expected);

  assertNothingElse(alice, 'alice');
  assertNothingElse(bob, 'bob');
});

// Proves every message gets its own id, from either sender, and all arrive in each inbox.
test('message ids are unique across messages and senders', async () => {
  const server = await startServer();
  const { alice, bob } = await aliceAndBobIn123(server.url);

  const sent = [];
  for (let i = 0; i < 5; i += 1) {
    for (const [socket, username] of [
      [alice, 'alice'],
      [bob, 'bob'],
    ]) {
      const message = `${username} says ${i}`;
      const ack = await emitWithAck(socket, 'send-message-to-pr-room', {
        pullRequestId: 123,
        username,
        message,
      });
      assert.equal(ack.ok, true, `message refused: ${JSON.stringify(ack)}`);
      sent.push({ username, message, id: ack.id, sentAt: ack.sentAt });
    }
  }

  const ids = new Set(sent.map((message) => message.id));
  assert.equal(ids.size, sent.length, `ids repeat: ${[...sent.map((m) => m.id)]}`);
  for (const socket of [alice, bob]) {
    for (const expected of sent) {
      const got = await next(socket, 'pr-room-message', {
        matches: (payload) => payload?.id === expected.id,
      });
      assert.deepEqual(got, expected);
      assert.ok(Math.abs(got.sentAt - Date.now()) < CLOCK_SLACK_MS);
    }
  }
  assertNothingElse(alice, 'alice');
  assertNothingElse(bob, 'bob');
});

// Proves message text is carried verbatim: emoji, right-to-left text and markup untouched.
test('message text arrives exactly as it was sent', async () => {
  const server = await startServer();
  const { alice, bob } = await aliceAndBobIn123(server.url);
  const message = 'ship it 🚀 — שלום <script>alert(1)</script> "quoted" \\ back';

  const ack = await emitWithAck(alice, 'send-message-to-pr-room', {
    pullRequestId: 123,
    username: 'alice',
    message,
  });
  assert.equal(ack.ok, true, `message refused: ${JSON.stringify(ack)}`);
  assert.equal((await next(bob, 'pr-room-message')).message, message);
  assert.equal((await next(alice, 'pr-room-message')).message, message);
});

// Proves lengths are counted in characters: 4,000 emoji (8,000 UTF-16 units) are accepted.
test('a message of exactly the limit in characters is accepted', async () => {
  const server = await startServer();
  const { alice, bob } = await aliceAndBobIn123(server.url);
  const message = '😀'.repeat(4_000);

  const ack = await emitWithAck(alice, 'send-message-to-pr-room', {
    pullRequestId: 123,
    username: 'alice',
    message,
  });
  assert.equal(ack.ok, true, `4,000-character message refused: ${JSON.stringify(ack)}`);
  assert.equal((await next(bob, 'pr-room-message')).message, message);
});

// Proves a message posted in one room is not delivered to members of another room.
test('a message stays in its room', async () => {
  const server = await startServer();
  const { alice, bob } = await aliceAndBobIn123(server.url);
  const carol = await connect(server.url, WEBSOCKET_ONLY);
  await join(carol, 456, 'carol');
  await expectPresence(carol, { joined: 'carol has joined the chat', users: ['carol'] });

  await settle(alice, 123, 'alice', [bob]);
  await settle(carol, 456, 'carol', []);
  assertNothingElse(carol, 'carol');
});
