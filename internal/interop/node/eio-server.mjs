// Engine.IO v4 server peer for Tether's interop tests, built on the engine.io
// package (v6): every message is sent back unchanged, text as text and binary
// as binary.
//
// Usage: node eio-server.mjs [--http-compression] [--allow-eio3]
//
// Listens on 127.0.0.1 on a free port, serves /engine.io/ with pingInterval
// 300 ms, pingTimeout 200 ms, maxHttpBufferSize 1e6 and both transports with
// upgrade, and prints "PORT <n>" first.
//
// Polling responses are sent uncompressed unless --http-compression is given:
// engine.io then gzips them for clients that accept it, and gzipping 1 MB of
// random base64 takes Node longer than the 200 ms ping timeout, so that the
// server times out its own clients. --allow-eio3 also serves Engine.IO v3
// clients (allowEIO3).
//
// The text message "close me" is not echoed: the server closes that socket.
// Text messages starting with "quiet:" are not echoed either.
//
// Events are printed as "REPORT <json>" lines, tagged with the connection's
// "id" query parameter:
//   {"event":"open","message":TRANSPORT}      a session opened over TRANSPORT
//   {"event":"upgrade","message":TRANSPORT}   the session upgraded to TRANSPORT
//   {"event":"close","reason":R,"message":D}  the session closed: engine.io's
//                                             reason R, and its description D
//   {"event":"message","size":N,"payload":T}  a message of N bytes arrived,
//                                             T is "text" or "binary"

import http from 'node:http';
import { Server } from 'engine.io';
import { parseArgs } from './lib.mjs';

const { opts } = parseArgs(process.argv.slice(2));

const CLOSE_ME = 'close me';
const QUIET = 'quiet:';

function report(obj) {
  process.stdout.write(`REPORT ${JSON.stringify(obj)}\n`);
}

const httpServer = http.createServer((req, res) => {
  res.writeHead(404).end();
});

const eio = new Server({
  pingInterval: 300,
  pingTimeout: 200,
  maxHttpBufferSize: 1e6,
  transports: ['polling', 'websocket'],
  allowUpgrades: true,
  httpCompression: Boolean(opts['http-compression']),
  allowEIO3: Boolean(opts['allow-eio3']),
});
eio.attach(httpServer, { path: '/engine.io/' });

eio.on('connection', (socket) => {
  const id = new URL(socket.request.url, 'http://localhost').searchParams.get('id') ?? '';
  report({ id, event: 'open', message: socket.transport.name });
  socket.on('upgrade', (transport) => report({ id, event: 'upgrade', message: transport.name }));
  socket.on('message', (data) => {
    // engine.io-parser hands an empty text message ("4") over as undefined.
    if (data === undefined) data = '';
    const text = typeof data === 'string';
    report({ id, event: 'message', size: text ? Buffer.byteLength(data) : data.length, payload: text ? 'text' : 'binary' });
    if (data === CLOSE_ME) {
      socket.close();
      return;
    }
    if (text && data.startsWith(QUIET)) return;
    socket.send(data);
  });
  socket.on('close', (reason, description) => {
    report({ id, event: 'close', reason, message: description ? String(description.message ?? description) : '' });
  });
});

httpServer.listen(0, '127.0.0.1', () => {
  process.stdout.write(`PORT ${httpServer.address().port}\n`);
});
