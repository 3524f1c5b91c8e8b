// Transports other than the docs' WebSocket-only set-up: the official client's default
// (long-polling, then upgrade to WebSocket) and long-polling alone, each chatting with a
// WebSocket client in the same room.

import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';

import { WEBSOCKET_ONLY, connect, emitWithAck, next, once, open } from '../lib/client.mjs';
import { cleanUp, expectPresence, join } from '../lib/room.mjs';
import { startServer } from '../lib/server.mjs';

afterEach(cleanUp);

/** Sends a message from `from` as `username` and asserts that each of `to` receives it. */
async function chat(from, username, to) {
  const message = `hello from ${username}`;
  const ack = await emitWithAck(from, 'send-message-to-pr-room', {
    pullRequestId: 123,
    username,
    message,
  });
  assert.equal(ack.ok, true, `message refused: ${JSON.stringify(ack)}`);
  for (const socket of [from, ...to]) {
    assert.deepEqual(await next(socket, 'pr-room-message', { matches: (p) => p?.id === ack.id }), {
      username,
      message,
      id: ack.id,
      sentAt: ack.sentAt,
    });
  }
}

// Proves the client's default transport starts on polling, upgrades to WebSocket, and chats.
test('a client on the default transport joins, upgrades and chats with a WebSocket client', async () => {
  const server = await startServer();

  const carol = open(server.url);
  const engine = carol.io.engine;
  assert.equal(engine.transport.name, 'polling', 'the default transport should start on polling');
  const upgraded = once(engine, 'upgrade', 5_000);
  // Handled below; this only keeps an early failure from leaving an unhandled rejection.
  upgraded.catch(() => {});
  await once(carol, 'connect');

  await join(carol, 123, 'carol');
  await expectPresence(carol, { joined: 'carol has joined the chat', users: ['carol'] });

  const bob = await connect(server.url, WEBSOCKET_ONLY);
  await join(bob, 123, 'bob');
  await expectPresence(carol, { joined: 'bob has joined the chat', users: ['carol', 'bob'] });
  await expectPresence(bob, { joined: 'bob has joined the chat', users: ['carol', 'bob'] });

  await upgraded;
  assert.equal(carol.io.engine.transport.name, 'websocket');

  await chat(carol, 'carol', [bob]);
  await chat(bob, 'bob', [carol]);
});

// Proves long-polling alone carries the whole protocol: join, presence, messages and leave.
test('a long-polling-only client takes part in the room', async () => {
  const server = await startServer();
  const dave = await connect(server.url, { transports: ['polling'] });
  const bob = await connect(server.url, WEBSOCKET_ONLY);

  await join(bob, 123, 'bob');
  await join(dave, 123, 'dave');
  await expectPresence(bob, { joined: 'bob has joined the chat', users: ['bob'] });
  await expectPresence(bob, { joined: 'dave has joined the chat', users: ['bob', 'dave'] });
  await expectPresence(dave, { joined: 'dave has joined the chat', users: ['bob', 'dave'] });

  await chat(dave, 'dave', [bob]);
  await chat(bob, 'bob', [dave]);

  assert.deepEqual(await emitWithAck(dave, 'leave-pr-room', { pullRequestId: 123, username: 'dave' }), {
    ok: true,
    pullRequestId: 123,
  });
  await expectPresence(bob, { left: 'dave left PR 123', users: ['bob'] });
  assert.equal(dave.io.engine.transport.name, 'polling');
});
