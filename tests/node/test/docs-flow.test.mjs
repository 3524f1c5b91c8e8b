// The public docs' own flow with the official client: joining and leaving a PR room over
// WebSocket, with the exact payload shapes the docs promise.

import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';

import { WEBSOCKET_ONLY, connect, emitWithAck, next, open } from '../lib/client.mjs';
import {
  assertNothingElse,
  cleanUp,
  expectPresence,
  join,
  settle,
  settleAlone,
} from '../lib/room.mjs';
import { startServer } from '../lib/server.mjs';

afterEach(cleanUp);

// Proves the docs' flow: a plain emit joins, and joiner and room get joined/user-count/active-users.
test('joining as the docs do announces each user to the whole room', async () => {
  const server = await startServer();

  const alice = await connect(server.url, WEBSOCKET_ONLY);
  alice.emit('join-pr-room', { pullRequestId: 123, username: 'alice' });
  assert.equal(await next(alice, 'joined'), 'alice has joined the chat');
  assert.deepEqual(await next(alice, 'user-count'), { userCount: 1 });
  assert.deepEqual(await next(alice, 'active-users'), ['alice']);

  const bob = await connect(server.url, WEBSOCKET_ONLY);
  bob.emit('join-pr-room', { pullRequestId: 123, username: 'bob' });
  for (const socket of [alice, bob]) {
    assert.equal(await next(socket, 'joined'), 'bob has joined the chat');
    assert.deepEqual(await next(socket, 'user-count'), { userCount: 2 });
    assert.deepEqual(await next(socket, 'active-users'), ['alice', 'bob']);
  }

  await settle(alice, 123, 'alice', [bob]);
  assertNothingElse(alice, 'alice');
  assertNothingElse(bob, 'bob');
});

// Proves an event emitted before `connect` (buffered by the client, sent right after the
// handshake) is handled, on the first connection of a fresh server and on later ones.
test('a join emitted before the connection completes is not lost', async () => {
  for (let round = 0; round < 3; round += 1) {
    const server = await startServer();
    for (const username of ['alice', 'bob']) {
      const socket = open(server.url, WEBSOCKET_ONLY);
      const ack = await emitWithAck(socket, 'join-pr-room', { pullRequestId: 123, username }).catch(
        (err) => assert.fail(`round ${round}, ${username}: ${err.message}`),
      );
      assert.equal(ack.ok, true, `round ${round}: ${username}'s join was refused`);
      assert.equal(await next(socket, 'joined'), `${username} has joined the chat`);
    }
    await cleanUp();
  }
});

// Proves the join ack carries the room's state: {ok, pullRequestId, userCount, users}.
test('a join ack reports the room it joined and who is in it', async () => {
  const server = await startServer();
  const alice = await connect(server.url, WEBSOCKET_ONLY);
  const bob = await connect(server.url, WEBSOCKET_ONLY);

  assert.deepEqual(await join(alice, 123, 'alice'), {
    ok: true,
    pullRequestId: 123,
    userCount: 1,
    users: ['alice'],
  });
  assert.deepEqual(await join(bob, 123, 'bob'), {
    ok: true,
    pullRequestId: 123,
    userCount: 2,
    users: ['alice', 'bob'],
  });
});

// Proves leave: the room hears left/user-count/active-users, the leaver gets only its ack.
test('leaving tells the rest of the room and acks the leaver alone', async () => {
  const server = await startServer();
  const alice = await connect(server.url, WEBSOCKET_ONLY);
  const bob = await connect(server.url, WEBSOCKET_ONLY);
  await join(alice, 123, 'alice');
  await expectPresence(alice, { joined: 'alice has joined the chat', users: ['alice'] });
  await join(bob, 123, 'bob');
  await expectPresence(alice, { joined: 'bob has joined the chat', users: ['alice', 'bob'] });
  await expectPresence(bob, { joined: 'bob has joined the chat', users: ['alice', 'bob'] });

  const ack = await emitWithAck(bob, 'leave-pr-room', { pullRequestId: 123, username: 'bob' });
  assert.deepEqual(ack, { ok: true, pullRequestId: 123 });
  await expectPresence(alice, { left: 'bob left PR 123', users: ['alice'] });

  await settle(alice, 123, 'alice', []);
  await settleAlone(bob);
  assertNothingElse(alice, 'alice');
  assertNothingElse(bob, 'bob');
});

// Proves a user who left can come back and is announced again.
test('a user who left and joins again is announced again', async () => {
  const server = await startServer();
  const alice = await connect(server.url, WEBSOCKET_ONLY);
  const bob = await connect(server.url, WEBSOCKET_ONLY);
  await join(alice, 123, 'alice');
  await join(bob, 123, 'bob');
  await expectPresence(alice, { joined: 'alice has joined the chat', users: ['alice'] });
  await expectPresence(alice, { joined: 'bob has joined the chat', users: ['alice', 'bob'] });

  await emitWithAck(bob, 'leave-pr-room', { pullRequestId: 123, username: 'bob' });
  await expectPresence(alice, { left: 'bob left PR 123', users: ['alice'] });

  await join(bob, 123, 'bob');
  await expectPresence(alice, { joined: 'bob has joined the chat', users: ['alice', 'bob'] });
});

// Proves a second join of the same room from one connection is acked and sends nothing.
test('joining the same room twice from one connection changes nothing', async () => {
  const server = await startServer();
  const alice = await connect(server.url, WEBSOCKET_ONLY);
  const bob = await connect(server.url, WEBSOCKET_ONLY);
  await join(alice, 123, 'alice');
  await join(bob, 123, 'bob');
  await expectPresence(alice, { joined: 'alice has joined the chat', users: ['alice'] });
  await expectPresence(alice, { joined: 'bob has joined the chat', users: ['alice', 'bob'] });
  await expectPresence(bob, { joined: 'bob has joined the chat', users: ['alice', 'bob'] });

  const again = await join(bob, 123, 'bob');
  assert.deepEqual(again, { ok: true, pullRequestId: 123, userCount: 2, users: ['alice', 'bob'] });

  await settle(alice, 123, 'alice', [bob]);
  assertNothingElse(alice, 'alice');
  assertNothingElse(bob, 'bob');
});

// Proves rooms are separate: events in one PR room never reach another.
test('rooms do not hear each other', async () => {
  const server = await startServer();
  const alice = await connect(server.url, WEBSOCKET_ONLY);
  const carol = await connect(server.url, WEBSOCKET_ONLY);
  await join(carol, 456, 'carol');
  await expectPresence(carol, { joined: 'carol has joined the chat', users: ['carol'] });

  await join(alice, 123, 'alice');
  await expectPresence(alice, { joined: 'alice has joined the chat', users: ['alice'] });
  await settle(alice, 123, 'alice', []);

  await settle(carol, 456, 'carol', []);
  assertNothingElse(carol, 'carol');
  assertNothingElse(alice, 'alice');
});
