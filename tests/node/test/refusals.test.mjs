// Refused events through the official client: each error code in both its forms (ack and
// `exception` event), and proof that a refused event sends nothing to the room.

import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';

import { WEBSOCKET_ONLY, connect, emitWithAck, next } from '../lib/client.mjs';
import {
  assertNothingElse,
  cleanUp,
  expectPresence,
  expectRefusal,
  join,
  settle,
} from '../lib/room.mjs';
import { startServer } from '../lib/server.mjs';

afterEach(cleanUp);

/** A server with alice and bob present in room 123 and their join events already taken. */
async function roomWithAliceAndBob() {
  const server = await startServer();
  const alice = await connect(server.url, WEBSOCKET_ONLY);
  const bob = await connect(server.url, WEBSOCKET_ONLY);
  await join(alice, 123, 'alice');
  await join(bob, 123, 'bob');
  await expectPresence(alice, { joined: 'alice has joined the chat', users: ['alice'] });
  await expectPresence(alice, { joined: 'bob has joined the chat', users: ['alice', 'bob'] });
  await expectPresence(bob, { joined: 'bob has joined the chat', users: ['alice', 'bob'] });
  return { server, alice, bob };
}

/** Asserts, after a barrier through room 123, that neither alice nor bob got anything else. */
async function assertRoomHeardNothing({ alice, bob }) {
  await settle(bob, 123, 'bob', [alice]);
  assertNothingElse(alice, 'alice');
  assertNothingElse(bob, 'bob');
}

// Proves events for a room the connection has not joined are refused with not_in_room.
test('events for a room not joined are refused with not_in_room', async () => {
  const room = await roomWithAliceAndBob();
  const { alice } = room;
  const elsewhere = { pullRequestId: 456, username: 'alice' };

  await expectRefusal(alice, 'send-message-to-pr-room', { ...elsewhere, message: 'hi' }, 'not_in_room');
  await expectRefusal(alice, 'typing', elsewhere, 'not_in_room');
  await expectRefusal(alice, 'stop-typing', elsewhere, 'not_in_room');
  await expectRefusal(alice, 'leave-pr-room', elsewhere, 'not_in_room');

  // A connection that never joined anything is not in room 123 either.
  const stranger = await connect(room.server.url, WEBSOCKET_ONLY);
  const into123 = { pullRequestId: 123, username: 'mallory' };
  await expectRefusal(stranger, 'send-message-to-pr-room', { ...into123, message: 'hi' }, 'not_in_room');
  await expectRefusal(stranger, 'typing', into123, 'not_in_room');

  await assertRoomHeardNothing(room);
});

// Proves empty, over-long and control-character usernames are refused with invalid_username.
test('bad usernames are refused with invalid_username', async () => {
  const room = await roomWithAliceAndBob();
  const carol = await connect(room.server.url, WEBSOCKET_ONLY);

  for (const username of ['', '   ', 'x'.repeat(65), 'car\u0000ol', 'car\nol', 'a\u202Eb']) {
    await expectRefusal(carol, 'join-pr-room', { pullRequestId: 123, username }, 'invalid_username');
  }

  await assertRoomHeardNothing(room);
});

// Proves a message over 4,000 characters is refused with message_too_long and not relayed.
test('an over-long message is refused with message_too_long', async () => {
  const room = await roomWithAliceAndBob();
  const base = { pullRequestId: 123, username: 'alice' };

  await expectRefusal(
    room.alice,
    'send-message-to-pr-room',
    { ...base, message: 'x'.repeat(4_001) },
    'message_too_long',
  );
  await expectRefusal(
    room.alice,
    'send-message-to-pr-room',
    { ...base, message: '😀'.repeat(4_001) },
    'message_too_long',
  );

  await assertRoomHeardNothing(room);
});

// Proves an empty or whitespace-only message is refused with invalid_message.
test('an empty message is refused with invalid_message', async () => {
  const room = await roomWithAliceAndBob();
  const base = { pullRequestId: 123, username: 'alice' };

  await expectRefusal(room.alice, 'send-message-to-pr-room', { ...base, message: '' }, 'invalid_message');
  await expectRefusal(
    room.alice,
    'send-message-to-pr-room',
    { ...base, message: ' \n\t ' },
    'invalid_message',
  );

  await assertRoomHeardNothing(room);
});

// Proves ids that are not positive safe integers are refused with invalid_pull_request_id.
test('bad pull request ids are refused with invalid_pull_request_id', async () => {
  const room = await roomWithAliceAndBob();
  const carol = await connect(room.server.url, WEBSOCKET_ONLY);

  for (const pullRequestId of [0, -1, 1.5, '123', 2 ** 53, null]) {
    await expectRefusal(
      carol,
      'join-pr-room',
      { pullRequestId, username: 'carol' },
      'invalid_pull_request_id',
    );
  }
  await expectRefusal(
    room.alice,
    'send-message-to-pr-room',
    { pullRequestId: 0, username: 'alice', message: 'hi' },
    'invalid_pull_request_id',
  );

  await assertRoomHeardNothing(room);
});

// Proves a connection cannot speak under another username than the one it joined with.
test('naming another username than the joined one is refused with username_mismatch', async () => {
  const room = await roomWithAliceAndBob();
  const asBob = { pullRequestId: 123, username: 'bob' };

  await expectRefusal(room.alice, 'send-message-to-pr-room', { ...asBob, message: 'hi' }, 'username_mismatch');
  await expectRefusal(room.alice, 'typing', asBob, 'username_mismatch');
  await expectRefusal(room.alice, 'leave-pr-room', asBob, 'username_mismatch');
  await expectRefusal(
    room.alice,
    'join-pr-room',
    { pullRequestId: 456, username: 'mallory' },
    'username_mismatch',
  );

  await assertRoomHeardNothing(room);
});

// Proves an event name outside the contract is refused with unknown_event.
test('an unknown event is refused with unknown_event', async () => {
  const room = await roomWithAliceAndBob();

  await expectRefusal(room.alice, 'delete-pr-room', { pullRequestId: 123 }, 'unknown_event');
  await expectRefusal(room.alice, 'join-pr-rooms', { pullRequestId: 123, username: 'alice' }, 'unknown_event');

  await assertRoomHeardNothing(room);
});

// Proves payloads of the wrong shape are refused with invalid_payload.
test('malformed payloads are refused with invalid_payload', async () => {
  const room = await roomWithAliceAndBob();

  await expectRefusal(room.alice, 'send-message-to-pr-room', 'hello', 'invalid_payload');
  await expectRefusal(room.alice, 'send-message-to-pr-room', [123, 'alice', 'hi'], 'invalid_payload');
  await expectRefusal(
    room.alice,
    'send-message-to-pr-room',
    { pullRequestId: 123, username: 'alice' },
    'invalid_payload',
  );
  await expectRefusal(
    room.alice,
    'send-message-to-pr-room',
    { pullRequestId: 123, username: 'alice', message: 42 },
    'invalid_payload',
  );

  await assertRoomHeardNothing(room);
});

// Proves the per-connection message budget answers rate_limited once spent, and relays nothing.
test('messages beyond the per-connection budget are refused with rate_limited', async () => {
  const server = await startServer(['--messages-per-minute', '3']);
  const alice = await connect(server.url, WEBSOCKET_ONLY);
  const bob = await connect(server.url, WEBSOCKET_ONLY);
  await join(alice, 123, 'alice');
  await join(bob, 123, 'bob');
  await expectPresence(alice, { joined: 'alice has joined the chat', users: ['alice'] });
  await expectPresence(alice, { joined: 'bob has joined the chat', users: ['alice', 'bob'] });
  await expectPresence(bob, { joined: 'bob has joined the chat', users: ['alice', 'bob'] });

  const message = { pullRequestId: 123, username: 'alice', message: 'spam' };
  for (let i = 0; i < 3; i += 1) {
    assert.equal((await emitWithAck(alice, 'send-message-to-pr-room', message)).ok, true);
    await next(alice, 'pr-room-message');
    await next(bob, 'pr-room-message');
  }
  await expectRefusal(alice, 'send-message-to-pr-room', message, 'rate_limited');

  // Bob's budget is his own; his message doubles as the barrier.
  await assertRoomHeardNothing({ alice, bob });
});
