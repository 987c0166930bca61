// The Node peer of the Socket.IO benchmarks: the benchmark app written with
// the official socket.io server (v4) and its default settings (path
// /socket.io/, polling and websocket transports, heartbeat 25 s / 20 s, no
// per-message compression). In namespace "/":
//
//   message(args...)               emits message-back(args...) to the sender
//   message-with-ack(args..., ack) acknowledges with args...
//   broadcast(args...)             emits broadcast-back(args...) to every other socket
//
// Usage: node sio-server.mjs [-addr HOST:PORT]

import http from 'node:http';
import { Server } from 'socket.io';
import { announce, exitOnSignal, listenAddress } from './listen.mjs';

const { host, port } = listenAddress(process.argv.slice(2));
const httpServer = http.createServer();
const io = new Server(httpServer);

io.on('connection', (socket) => {
  socket.on('message', (...args) => socket.emit('message-back', ...args));
  socket.on('message-with-ack', (...args) => {
    const ack = args.pop();
    if (typeof ack === 'function') ack(...args);
  });
  socket.on('broadcast', (...args) => socket.broadcast.emit('broadcast-back', ...args));
});

exitOnSignal();
httpServer.listen(port, host, () => announce(httpServer));
