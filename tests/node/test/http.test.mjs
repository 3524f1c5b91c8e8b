// The HTTP endpoints on the Socket.IO port: the health check and the presence of a PR room
// as users join, leave and drop off, read with Node's global fetch.

import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';

import { WEBSOCKET_ONLY, connect, emitWithAck } from '../lib/client.mjs';
import { cleanUp, expectPresence, getJson, join } from '../lib/room.mjs';
import { startServer } from '../lib/server.mjs';

afterEach(cleanUp);

// Proves GET /healthz answers 200 {"status":"ok"} as JSON.
test('the health check answers ok', async () => {
  const server = await startServer();
  const { status, contentType, body } = await getJson(server.url, '/healthz');
  assert.equal(status, 200);
  assert.match(contentType ?? '', /^application\/json/);
  assert.deepEqual(body, { status: 'ok' });
});

// Proves the presence endpoint follows joins and leaves, listing users in order of arrival.
test('presence reflects who has joined and left', async () => {
  const server = await startServer();
  const path = '/api/pull-requests/123/presence';

  const empty = await getJson(server.url, path);
  assert.equal(empty.status, 200);
  assert.match(empty.contentType ?? '', /^application\/json/);
  assert.deepEqual(empty.body, { pullRequestId: 123, userCount: 0, users: [] });

  const alice = await connect(server.url, WEBSOCKET_ONLY);
  const bob = await connect(server.url, WEBSOCKET_ONLY);
  await join(alice, 123, 'alice');
  await join(bob, 123, 'bob');
  assert.deepEqual((await getJson(server.url, path)).body, {
    pullRequestId: 123,
    userCount: 2,
    users: ['alice', 'bob'],
  });

  // A second tab does not count twice.
  const aliceTab2 = await connect(server.url, WEBSOCKET_ONLY);
  await join(aliceTab2, 123, 'alice');
  assert.deepEqual((await getJson(server.url, path)).body, {
    pullRequestId: 123,
    userCount: 2,
    users: ['alice', 'bob'],
  });

  await emitWithAck(bob, 'leave-pr-room', { pullRequestId: 123, username: 'bob' });
  assert.deepEqual((await getJson(server.url, path)).body, {
    pullRequestId: 123,
    userCount: 1,
    users: ['alice'],
  });

  // Another room is untouched.
  assert.deepEqual((await getJson(server.url, '/api/pull-requests/456/presence')).body, {
    pullRequestId: 456,
    userCount: 0,
    users: [],
  });
});

// Proves a user in grace still counts, and is gone from presence once `left` is announced.
test('presence keeps a user in grace and drops them when the grace ends', async () => {
  const server = await startServer(['--grace-period', '300ms']);
  const path = '/api/pull-requests/123/presence';
  const alice = await connect(server.url, WEBSOCKET_ONLY);
  const bob = await connect(server.url, WEBSOCKET_ONLY);
  await join(alice, 123, 'alice');
  await join(bob, 123, 'bob');
  await expectPresence(bob, { joined: 'bob has joined the chat', users: ['alice', 'bob'] });

  alice.disconnect();
  assert.deepEqual((await getJson(server.url, path)).body, {
    pullRequestId: 123,
    userCount: 2,
    users: ['alice', 'bob'],
  });

  await expectPresence(bob, { left: 'alice left PR 123', users: ['bob'] });
  assert.deepEqual((await getJson(server.url, path)).body, {
    pullRequestId: 123,
    userCount: 1,
    users: ['bob'],
  });
});

// Proves ids that are not positive safe integers answer 400 with invalid_pull_request_id.
test('a bad pull request id in the URL answers 400', async () => {
  const server = await startServer();
  for (const id of ['abc', '0', '-1', '1.5', '9007199254740992']) {
    const { status, body } = await getJson(server.url, `/api/pull-requests/${id}/presence`);
    assert.equal(status, 400, `id ${id}`);
    assert.equal(body.code, 'invalid_pull_request_id', `id ${id}`);
    assert.equal(typeof body.message, 'string', `id ${id}`);
  }
});
