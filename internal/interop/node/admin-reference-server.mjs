// The reference for Tether's Admin UI support: the official socket.io server
// instrumented by the official @socket.io/admin-ui, with the same demo as
// "tether serve": on "message", the socket's message is relayed to the other
// sockets of "/" with the sender's id.
//
// Usage: node admin-reference-server.mjs [PORT]
//
// The login is read from the environment: ADMIN_USER and ADMIN_HASH (a bcrypt
// hash, which the Go test makes with golang.org/x/crypto/bcrypt, so that the
// same hash is checked by bcryptjs here and by Go in Tether).
//
// Listens on 127.0.0.1:PORT (0 or nothing: a free port), prints
// "listening on http://127.0.0.1:PORT" once it accepts connections, and runs
// until SIGINT or SIGTERM, then closes every connection and exits 0.

import http from 'node:http';
import { Server } from 'socket.io';
import { instrument } from '@socket.io/admin-ui';

const port = Number(process.argv[2] || 0);
const httpServer = http.createServer((req, res) => {
  res.writeHead(404).end();
});
const io = new Server(httpServer);

io.of('/').on('connection', (socket) => {
  socket.on('message', (msg) => socket.broadcast.emit('message', socket.id, msg));
});

instrument(io, {
  auth: { type: 'basic', username: process.env.ADMIN_USER, password: process.env.ADMIN_HASH },
  mode: 'development',
  serverId: 'reference',
});

httpServer.listen(port, '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${httpServer.address().port}`);
});

function stop() {
  io.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
