// The Node peer of the WebSocket echo benchmark, built on the ws package: it
// sends every message back unchanged (same type, same bytes), on any path.
// Settings are ws's defaults (no compression), like every Go echo server.
//
// Usage: node ws-server.mjs [-addr HOST:PORT]

import http from 'node:http';
import { WebSocketServer } from 'ws';
import { announce, exitOnSignal, listenAddress } from './listen.mjs';

const { host, port } = listenAddress(process.argv.slice(2));
const httpServer = http.createServer((req, res) => res.writeHead(426).end());
const wss = new WebSocketServer({ server: httpServer, perMessageDeflate: false });

wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => ws.terminate());
});

exitOnSignal();
httpServer.listen(port, host, () => announce(httpServer));
