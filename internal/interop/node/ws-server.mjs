// WebSocket server peer for Tether's interop tests, built on the ws package.
//
// Usage: node ws-server.mjs [--deflate [--client-window=BITS]]
//
// Listens on 127.0.0.1 on a free port and prints "PORT <n>" first. The request
// path picks what the server does with a connection (the query string carries
// parameters, and an "id" that is repeated in every report):
//
//   /echo                       echo every message unchanged
//   /echo-fragmented?frag=K     echo every message in K-byte fragments
//   /close?code=C&reason=R      close at once with C and R
//   /ping?payload=P             ping with P, report the pong, close with 1000 "pinged"
//   /send?size=N                send one binary message of N bytes
//   /burst?count=N&code=C&reason=R  send text messages "burst 0".. then close at once
//   /bad-utf8                   send a text message that is not valid UTF-8
//
// Supported subprotocols: tether.v1, tether.v2 (the first of the client's list
// that is supported wins). A handshake with Origin http://evil.example is
// refused with 403. Events are printed as "REPORT <json>" lines.

import { WebSocketServer } from 'ws';
import { parseArgs } from './lib.mjs';

const { opts } = parseArgs(process.argv.slice(2));
const SUPPORTED = new Set(['tether.v1', 'tether.v2']);

function report(obj) {
  process.stdout.write(`REPORT ${JSON.stringify(obj)}\n`);
}

const wss = new WebSocketServer({
  host: '127.0.0.1',
  port: 0,
  // --client-window=BITS makes the client compress within a small LZ77 window.
  perMessageDeflate: opts.deflate
    ? { threshold: 0, ...(opts['client-window'] ? { clientMaxWindowBits: Number(opts['client-window']) } : {}) }
    : false,
  maxPayload: 64 << 20,
  handleProtocols(protocols) {
    for (const p of protocols) if (SUPPORTED.has(p)) return p;
    return false;
  },
  verifyClient(info, cb) {
    if (info.origin === 'http://evil.example') cb(false, 403, 'cross-origin request refused');
    else cb(true);
  },
});

wss.on('listening', () => process.stdout.write(`PORT ${wss.address().port}\n`));

function sendFragmented(ws, data, binary, frag) {
  if (data.length === 0) {
    ws.send(data, { binary, fin: true });
    return;
  }
  for (let i = 0; i < data.length; i += frag) {
    const end = Math.min(i + frag, data.length);
    ws.send(data.subarray(i, end), { binary, fin: end === data.length });
  }
}

wss.on('connection', (ws, req) => {
  const u = new URL(req.url, 'http://localhost');
  const q = u.searchParams;
  const id = q.get('id') || '';
  report({ id, event: 'open', path: u.pathname, protocol: ws.protocol, extensions: ws.extensions });
  ws.on('close', (code, reason) => report({ id, event: 'close', code, reason: reason.toString() }));
  ws.on('error', (err) => report({ id, event: 'error', message: err.message }));
  ws.on('pong', (data) => report({ id, event: 'pong', payload: data.toString() }));

  switch (u.pathname) {
    case '/echo':
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
      break;
    case '/echo-fragmented': {
      const frag = Number(q.get('frag') || 1000);
      ws.on('message', (data, isBinary) => sendFragmented(ws, data, isBinary, frag));
      break;
    }
    case '/close':
      ws.close(Number(q.get('code')), q.get('reason') || '');
      break;
    case '/ping':
      ws.once('pong', () => ws.close(1000, 'pinged'));
      ws.ping(q.get('payload') || '');
      break;
    case '/send':
      ws.send(Buffer.alloc(Number(q.get('size')), 'z'), { binary: true });
      break;
    case '/burst':
      for (let i = 0; i < Number(q.get('count')); i++) ws.send(`burst ${i}`);
      ws.close(Number(q.get('code')), q.get('reason') || '');
      break;
    case '/bad-utf8':
      ws.send(Buffer.from([0x68, 0x69, 0xc3, 0x28]), { binary: false });
      break;
    default:
      ws.close(4404, 'unknown path');
  }
  if (u.pathname !== '/echo' && u.pathname !== '/echo-fragmented') {
    ws.on('message', (data) => report({ id, event: 'unexpected-message', size: data.length }));
  }
});

function shutdown() {
  for (const ws of wss.clients) ws.terminate();
  wss.close(() => process.exit(0));
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
