// The browser's own WebSocket against Tether's websocket package.
//
// Query parameters: scenario (below), id (sent on as the "id" query
// parameter so the server can tell connections apart), path (on this page's
// origin, default /ws/echo) or target (a whole ws:// URL, for another
// origin).
//
// Scenarios:
//   ws-echo          text and ArrayBuffer messages of several sizes come
//                    back unchanged; then a normal close (1000)
//   ws-close-client  the page closes with 4000 "bye"
//   ws-close-server  the page sends "close me" and waits for the server's close
//   ws-refused       the connection is expected to fail; reports what the page saw
//
// Every scenario returns what the page saw (close code and reason,
// negotiated extensions); the Go test judges it.

import {
  Inbox, binaryPayload, checkEcho, log, params, repeatPayload, run, textPayload, within,
} from './common.mjs';

const STEP_MS = 10000; // any one awaited event

function connect() {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const url = new URL(params.get('target') || `${scheme}://${location.host}${params.get('path') || '/ws/echo'}`);
  url.searchParams.set('id', params.get('id') || '');
  log(`connecting to ${url}`);
  const ws = new WebSocket(url);
  ws.binaryType = 'arraybuffer';
  const conn = { ws, inbox: new Inbox(), opened: false, errored: false };
  ws.addEventListener('message', (e) => conn.inbox.push(e.data));
  ws.addEventListener('error', () => {
    conn.errored = true;
    log('error event');
  });
  conn.closed = new Promise((resolve) => {
    ws.addEventListener('close', (e) => {
      const c = { code: e.code, reason: e.reason, wasClean: e.wasClean };
      log(`close event: ${JSON.stringify(c)}`);
      conn.inbox.end(`close ${c.code} ${JSON.stringify(c.reason)}`);
      resolve(c);
    });
  });
  conn.open = new Promise((resolve, reject) => {
    ws.addEventListener('open', () => {
      conn.opened = true;
      log(`open, extensions ${JSON.stringify(ws.extensions)}`);
      resolve(conn);
    });
    conn.closed.then((c) => reject(new Error(`closed before open: ${JSON.stringify(c)}`)));
  });
  conn.open.catch(() => {}); // ws-refused never awaits it
  return conn;
}

async function echo(conn, what, data) {
  conn.ws.send(data);
  checkEcho(what, data, await within(STEP_MS, `echo of ${what}`, conn.inbox.next()));
}

// Sizes around the frame header's length encodings, and 1 MiB.
const SIZES = [0, 125, 126, 65535, 65536, 1 << 20];

const scenarios = {
  async 'ws-echo'() {
    const conn = await within(STEP_MS, 'open', connect().open);
    let messages = 0;
    for (const n of SIZES) {
      await echo(conn, `text of ${n} bytes`, textPayload(n));
      await echo(conn, `binary of ${n} bytes`, binaryPayload(n).buffer);
      messages += 2;
    }
    // Compressible messages: with permessage-deflate both directions are
    // compressed, and with context takeover a later message refers back to
    // earlier ones.
    for (let i = 0; i < 3; i++) {
      await echo(conn, `repeating binary ${i}`, repeatPayload(4096, 16).buffer);
      await echo(conn, `repeating text ${i}`, `Tether ${i} — ünïcödé ✓ 😀 `.repeat(4000));
      messages += 2;
    }
    await echo(conn, 'text in many scripts', 'héllo wörld · € · 中文 · 日本語 · ж · Ω · 𝄞 · 😀👍🏽');
    messages++;
    // A burst: 100 messages in flight at once, answered in order.
    const burst = [];
    for (let i = 0; i < 100; i++) burst.push(i % 2 ? `message ${i} ✓` : binaryPayload(i * 7).buffer);
    for (const m of burst) conn.ws.send(m);
    for (const [i, m] of burst.entries()) {
      checkEcho(`burst message ${i}`, m, await within(STEP_MS, `burst echo ${i}`, conn.inbox.next()));
    }
    messages += burst.length;
    log(`${messages} messages echoed`);
    const extensions = conn.ws.extensions;
    conn.ws.close(1000, 'done');
    const close = await within(STEP_MS, 'close', conn.closed);
    return { extensions, protocol: conn.ws.protocol, messages, close };
  },

  async 'ws-close-client'() {
    const conn = await within(STEP_MS, 'open', connect().open);
    await echo(conn, 'hi', 'hi');
    conn.ws.close(4000, 'bye');
    return { close: await within(STEP_MS, 'close', conn.closed) };
  },

  async 'ws-close-server'() {
    const conn = await within(STEP_MS, 'open', connect().open);
    conn.ws.send('close me');
    return { close: await within(STEP_MS, 'close', conn.closed) };
  },

  async 'ws-refused'() {
    const conn = connect();
    const close = await within(STEP_MS, 'close', conn.closed);
    return { opened: conn.opened, errored: conn.errored, close };
  },
};

run(scenarios);
