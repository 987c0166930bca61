// The npm engine.io-client's browser bundle against Tether's engineio
// server, which sends every message back unchanged and closes the session
// after echoing "close me".
//
// Query parameters: scenario (below), id (sent on as the "id" query
// parameter), transports (comma-separated, default polling,websocket).
//
// Scenarios:
//   eio-echo          text and binary messages come back unchanged, before
//                     and after the upgrade when both transports are allowed;
//                     then the page closes the socket
//   eio-server-close  the page sends "close me" and waits for the server's close
//
// Every scenario returns what the page saw (transports, close reason); the
// Go test judges it.

import { Socket } from '/eio/engine.io.esm.min.js';
import {
  Inbox, binaryPayload, checkEcho, log, params, run, textPayload, within,
} from './common.mjs';

const STEP_MS = 10000; // any one awaited event
const TRANSPORTS = (params.get('transports') || 'polling,websocket').split(',');

function describeError(d) {
  if (d === undefined || d === null) return '';
  if (d instanceof Error) return d.message;
  if (typeof d === 'object' && 'description' in d) return String(d.description);
  return String(d);
}

function connect() {
  const socket = new Socket(location.origin, { transports: TRANSPORTS, query: { id: params.get('id') || '' } });
  socket.binaryType = 'arraybuffer';
  const conn = { socket, inbox: new Inbox() };
  // engine.io-parser decodes an empty text message as a message without data.
  socket.on('message', (data) => conn.inbox.push(data === undefined ? '' : data));
  conn.upgraded = new Promise((resolve) => {
    socket.on('upgrade', (transport) => {
      log(`upgraded to ${transport.name}`);
      resolve(transport.name);
    });
  });
  conn.closed = new Promise((resolve) => {
    socket.on('close', (reason, description) => {
      const c = { reason, description: describeError(description) };
      log(`close event: ${JSON.stringify(c)}`);
      conn.inbox.end(reason);
      resolve(c);
    });
  });
  conn.open = new Promise((resolve, reject) => {
    socket.on('open', () => {
      log(`open over ${socket.transport.name}`);
      resolve(conn);
    });
    conn.closed.then((c) => reject(new Error(`closed before open: ${JSON.stringify(c)}`)));
  });
  conn.open.catch(() => {}); // awaited through within(), which may give up first
  return conn;
}

const scenarios = {
  async 'eio-echo'() {
    const conn = await within(STEP_MS, 'open', connect().open);
    const { socket } = conn;
    const openTransport = socket.transport.name;
    // Sent at once: over the first transport, or queued while the upgrade runs.
    const sent = ['hello', '', textPayload(1000), binaryPayload(1).buffer, binaryPayload(1000).buffer];
    for (const m of sent) socket.send(m);
    let upgradedTo = '';
    if (TRANSPORTS.includes('polling') && TRANSPORTS.includes('websocket')) {
      upgradedTo = await within(STEP_MS, 'upgrade event', conn.upgraded);
      if (socket.transport.name !== 'websocket') {
        throw new Error(`after the upgrade event socket.transport.name is ${socket.transport.name}`);
      }
    }
    const later = [textPayload(100000), binaryPayload(100000).buffer, 'héllo 中文 😀 ✓'];
    for (const m of later) socket.send(m);
    sent.push(...later);
    for (const [i, m] of sent.entries()) {
      checkEcho(`message ${i}`, m, await within(STEP_MS, `echo of message ${i}`, conn.inbox.next()));
    }
    log(`${sent.length} messages echoed`);
    const transport = socket.transport.name;
    socket.close();
    const close = await within(STEP_MS, 'close', conn.closed);
    return { openTransport, upgradedTo, transport, messages: sent.length, close };
  },

  async 'eio-server-close'() {
    const conn = await within(STEP_MS, 'open', connect().open);
    const openTransport = conn.socket.transport.name;
    conn.socket.send('close me');
    checkEcho('close me', 'close me', await within(STEP_MS, 'echo of "close me"', conn.inbox.next()));
    const transport = conn.socket.transport.name;
    const close = await within(STEP_MS, 'close', conn.closed);
    return { openTransport, transport, close };
  },
};

run(scenarios);
