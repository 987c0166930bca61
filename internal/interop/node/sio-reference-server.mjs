// The Socket.IO test app of TEST-SERVERS.md section 1 (the /socket.io/ part:
// sections 1.1 to 1.3, and 1.5 with --recovery) written with the official
// socket.io server (v4), the reference the Go tests hold sio-client.mjs's
// scenarios against: a scenario that passes here and fails against Tether
// points at Tether, not at the scenario.
//
// Usage: node sio-reference-server.mjs [PORT] [--recovery]
//
// Listens on 127.0.0.1:PORT (0 or nothing: a free port), prints
// "listening on http://127.0.0.1:PORT" once it accepts connections, and runs
// until SIGINT or SIGTERM, then closes every connection and exits 0.
// Paths other than /socket.io/ answer 404.

import http from 'node:http';
import { Server } from 'socket.io';
import { parseArgs } from './lib.mjs';

const { positional, opts } = parseArgs(process.argv.slice(2));
const port = Number(positional[0] || 0);

const httpServer = http.createServer((req, res) => {
  res.writeHead(404).end();
});

const io = new Server(httpServer, {
  path: '/socket.io/',
  serveClient: false,
  pingInterval: 300,
  pingTimeout: 200,
  maxHttpBufferSize: 1e6,
  connectTimeout: 1000,
  transports: ['polling', 'websocket'],
  allowUpgrades: true,
  // Gzipping a polling response of 1 MB takes Node longer than the 200 ms
  // ping timeout on a loaded machine; the contract does not ask for it.
  httpCompression: false,
  cors: { origin: '*' },
  connectionStateRecovery: opts.recovery
    ? { maxDisconnectionDuration: 30_000, skipMiddlewares: true }
    : undefined,
});

// withoutAck splits off the acknowledgement callback socket.io passes as the
// last argument when the client asked for one.
function withoutAck(args) {
  if (args.length && typeof args[args.length - 1] === 'function') {
    return { args: args.slice(0, -1), ack: args[args.length - 1] };
  }
  return { args, ack: null };
}

io.on('connection', (socket) => {
  socket.emit('auth', socket.handshake.auth ?? {});

  socket.on('message', (...raw) => {
    socket.emit('message-back', ...withoutAck(raw).args);
  });
  socket.on('message-with-ack', (...raw) => {
    const { args, ack } = withoutAck(raw);
    if (ack) ack(...args);
  });
  socket.on('join', (...raw) => {
    const { args, ack } = withoutAck(raw);
    socket.join(args[0]);
    if (ack) ack(args[0]);
  });
  socket.on('to-room', (...raw) => {
    const [room, ...args] = withoutAck(raw).args;
    socket.to(room).emit('room-message', ...args);
  });
  socket.on('broadcast', (...raw) => {
    socket.broadcast.emit('broadcast-back', ...withoutAck(raw).args);
  });
  socket.on('request-ack', (...raw) => {
    socket.emit('ack-me', ...withoutAck(raw).args, (...values) => {
      socket.emit('ack-result', ...values);
    });
  });
  socket.on('disconnect-me', () => {
    socket.disconnect();
  });
});

io.of('/custom').on('connection', (socket) => {
  socket.emit('auth', socket.handshake.auth ?? {});
});

httpServer.listen(port, '127.0.0.1', () => {
  process.stdout.write(`listening on http://127.0.0.1:${httpServer.address().port}\n`);
});

function shutdown() {
  // io.close closes every Engine.IO session and then the HTTP server.
  io.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 5000).unref();
}
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
