// The benchmark peer: the Diffy PR-room events on Node.js and socket.io 4.8, written the
// straightforward way a public reference gateway does it. On every join, leave and
// disconnect it asks the room for its sockets (`fetchSockets`) and emits `joined`/`left`,
// `user-count` and the full `active-users` list to the whole room. No grace period, no
// rate limits, no coalescing: that is the point of comparison.
//
// Usage: node server.mjs [--port 0] [--host 127.0.0.1]; prints `listening addr=HOST:PORT`.

import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

import { Server } from 'socket.io';

const { values: options } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
  },
});

const httpServer = createServer((req, res) => {
  if (req.url === '/healthz') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"status":"ok"}');
    return;
  }
  res.writeHead(404);
  res.end();
});

const io = new Server(httpServer, { cors: { origin: '*' } });

const roomOf = (pullRequestId) => `pr:${pullRequestId}`;

function refusal(message) {
  return { ok: false, error: { code: 'invalid_payload', message } };
}

// Reads `{pullRequestId, username}`; returns an error message or null.
function checkRoomRequest(payload) {
  if (payload === null || typeof payload !== 'object') return 'payload must be an object';
  if (!Number.isSafeInteger(payload.pullRequestId) || payload.pullRequestId < 1) {
    return 'pullRequestId must be a positive integer';
  }
  if (typeof payload.username !== 'string' || payload.username.trim() === '') {
    return 'username must be a non-empty string';
  }
  return null;
}

function answer(ack, body) {
  if (typeof ack === 'function') ack(body);
}

// Emits the room's count and distinct usernames to everyone in it; returns the usernames.
async function broadcastPresence(pullRequestId) {
  const room = roomOf(pullRequestId);
  const sockets = await io.in(room).fetchSockets();
  const users = [...new Set(sockets.map((s) => s.data.username).filter(Boolean))];
  io.to(room).emit('user-count', { userCount: users.length });
  io.to(room).emit('active-users', users);
  return users;
}

io.on('connection', (socket) => {
  socket.data.pullRequestIds = new Set();

  socket.on('join-pr-room', async (payload, ack) => {
    const problem = checkRoomRequest(payload);
    if (problem) return answer(ack, refusal(problem));
    const { pullRequestId } = payload;
    const username = payload.username.trim();

    socket.data.username = username;
    socket.data.pullRequestIds.add(pullRequestId);
    await socket.join(roomOf(pullRequestId));
    io.to(roomOf(pullRequestId)).emit('joined', `${username} has joined the chat`);
    const users = await broadcastPresence(pullRequestId);
    answer(ack, { ok: true, pullRequestId, userCount: users.length, users });
  });

  socket.on('leave-pr-room', async (payload, ack) => {
    const problem = checkRoomRequest(payload);
    if (problem) return answer(ack, refusal(problem));
    const { pullRequestId } = payload;
    const username = payload.username.trim();

    socket.data.pullRequestIds.delete(pullRequestId);
    await socket.leave(roomOf(pullRequestId));
    io.to(roomOf(pullRequestId)).emit('left', `${username} left PR ${pullRequestId}`);
    await broadcastPresence(pullRequestId);
    answer(ack, { ok: true, pullRequestId });
  });

  socket.on('send-message-to-pr-room', (payload, ack) => {
    const problem = checkRoomRequest(payload);
    if (problem) return answer(ack, refusal(problem));
    if (typeof payload.message !== 'string' || payload.message.trim() === '') {
      return answer(ack, refusal('message must be a non-empty string'));
    }
    const message = {
      username: payload.username.trim(),
      message: payload.message,
      id: randomUUID(),
      sentAt: Date.now(),
    };
    io.to(roomOf(payload.pullRequestId)).emit('pr-room-message', message);
    answer(ack, { ok: true, id: message.id, sentAt: message.sentAt });
  });

  for (const event of ['typing', 'stop-typing']) {
    socket.on(event, (payload, ack) => {
      const problem = checkRoomRequest(payload);
      if (problem) return answer(ack, refusal(problem));
      io.to(roomOf(payload.pullRequestId)).emit(event, { username: payload.username.trim() });
      answer(ack, { ok: true, relayed: true });
    });
  }

  // By the time `disconnect` fires the socket has left its rooms, so the counts are right.
  socket.on('disconnect', async () => {
    const username = socket.data.username;
    for (const pullRequestId of socket.data.pullRequestIds) {
      io.to(roomOf(pullRequestId)).emit('left', `${username} left PR ${pullRequestId}`);
      await broadcastPresence(pullRequestId);
    }
  });
});

httpServer.listen(Number(options.port), options.host, () => {
  const { address, port } = httpServer.address();
  console.log(`listening addr=${address}:${port}`);
});
