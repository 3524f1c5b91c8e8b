// The allowed-origins check through the official client: a browser page on a listed origin
// connects, one on another origin is refused, and a client sending no Origin is let through.

import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';

import { WEBSOCKET_ONLY, connect } from '../lib/client.mjs';
import { cleanUp, join } from '../lib/room.mjs';
import { startServer } from '../lib/server.mjs';

afterEach(cleanUp);

const ALLOWED = 'http://review.example';

/** Client options that send `origin` as the Origin header, on the given transports. */
function from(origin, transports) {
  return { transports, extraHeaders: { Origin: origin } };
}

// Proves a listed origin connects and can join, over WebSocket and over long-polling.
test('a listed origin connects', async () => {
  const server = await startServer(['--allowed-origins', `${ALLOWED},http://other.example`]);
  for (const transports of [['websocket'], ['polling']]) {
    const socket = await connect(server.url, from(ALLOWED, transports));
    assert.equal((await join(socket, 123, `user-${transports[0]}`)).ok, true);
  }
});

// Proves an origin missing from the list is refused with a connect error on either transport.
test('an origin that is not listed is refused', async () => {
  const server = await startServer(['--allowed-origins', ALLOWED]);
  for (const transports of [['websocket'], ['polling']]) {
    await assert.rejects(
      connect(server.url, from('http://evil.example', transports)),
      /could not connect/,
      `${transports[0]} connection from an unlisted origin was accepted`,
    );
  }
});

// Proves a client that sends no Origin header (not a browser) is let through.
test('a client without an Origin header is let through', async () => {
  const server = await startServer(['--allowed-origins', ALLOWED]);
  const socket = await connect(server.url, WEBSOCKET_ONLY);
  assert.equal((await join(socket, 123, 'alice')).ok, true);
});
