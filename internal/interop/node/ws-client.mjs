// WebSocket client peer for Tether's interop tests, built on the ws package.
//
// Usage: node ws-client.mjs URL SCENARIO [--deflate] [--server-window=BITS]
//        [--expect-ext=permessage-deflate|none] [--sizes=0,1,...]
//        [--protocols=a,b] [--expect-protocol=p] [--size=N] [--ok-size=N]
//        [--fragments=K] [--conns=N]
//
// Scenarios: echo, fragmented, utf8, bad-utf8, close-client, close-server,
// ping, subprotocol, origin, silent, toobig, burst, many (see each function).
//
// It runs one scripted scenario against a server that echoes every message
// back unchanged, prints "OK <scenario>" and exits 0, or prints "FAIL: ..."
// with what differed and exits 1.

import WebSocket from 'ws';
import { Inbox, REPEATS, diff, parseArgs, payload, repeatPayload, textPayload } from './lib.mjs';

const { positional, opts } = parseArgs(process.argv.slice(2));
const [url, scenario] = positional;
const TIMEOUT_MS = Number(opts.timeout || 60000);

const DEFAULT_SIZES = [0, 1, 125, 126, 127, 65535, 65536, 1 << 20];

function fail(msg) {
  throw new Error(msg);
}

function deflateOptions() {
  const o = { threshold: 0 };
  // Asks the server to compress within a small LZ77 window.
  if (opts['server-window']) o.serverMaxWindowBits = Number(opts['server-window']);
  return o;
}

function open(extra = {}) {
  const protocols = opts.protocols ? String(opts.protocols).split(',') : [];
  const ws = new WebSocket(url, protocols, {
    perMessageDeflate: opts.deflate ? deflateOptions() : false,
    maxPayload: 64 << 20,
    ...extra,
  });
  const inbox = new Inbox(ws);
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ ws, inbox }));
    ws.once('error', (err) => reject(new Error(`handshake failed: ${err.message}`)));
  }).then((c) => {
    const want = opts['expect-ext'] === 'permessage-deflate' ? 'permessage-deflate' : '';
    if (opts['expect-ext'] !== undefined && c.ws.extensions !== want) {
      fail(`negotiated extensions ${JSON.stringify(c.ws.extensions)}, want ${JSON.stringify(want)}`);
    }
    c.ws.on('error', (err) => console.error(`ws error: ${err.message}`));
    return c;
  });
}

async function expectEcho(inbox, type, want, what) {
  const m = await inbox.next();
  if (m.type !== type) fail(`${what}: echo has type ${m.type}, want ${type}`);
  if (!m.data.equals(want)) fail(`${what}: echo differs: ${diff(want, m.data)}`);
}

// Closes normally and checks the server echoes the close code.
async function closeNormally(ws, inbox) {
  ws.close(1000, 'done');
  const c = await inbox.closeEvent();
  if (c.code !== 1000) fail(`close echo: code ${c.code} reason ${JSON.stringify(c.reason)}, want 1000`);
}

// Sends buf as one message split into fragments at the given byte offsets.
function sendFragments(ws, type, buf, cuts) {
  const ends = [...cuts, buf.length];
  let start = 0;
  ends.forEach((end, i) => {
    ws.send(buf.subarray(start, end), { binary: type === 'binary', fin: i === ends.length - 1 });
    start = end;
  });
}

function everyN(len, n) {
  const cuts = [];
  for (let i = n; i < len; i += n) cuts.push(i);
  return cuts;
}

const scenarios = {
  async echo() {
    const sizes = opts.sizes ? String(opts.sizes).split(',').map(Number) : DEFAULT_SIZES;
    const { ws, inbox } = await open();
    for (const type of ['text', 'binary']) {
      for (const n of sizes) {
        const buf = payload(type, n);
        ws.send(buf, { binary: type === 'binary' });
        await expectEcho(inbox, type, buf, `${type} ${n} bytes`);
      }
    }
    if (!opts.sizes) {
      for (const [block, times] of REPEATS) {
        const buf = repeatPayload(block, times);
        ws.send(buf, { binary: true });
        await expectEcho(inbox, 'binary', buf, `binary ${block}-byte block repeated ${times} times`);
      }
    }
    await closeNormally(ws, inbox);
  },

  async fragmented() {
    const { ws, inbox } = await open();
    const cases = [
      { type: 'binary', n: 100000, cuts: everyN(100000, 16384) },
      { type: 'binary', n: 3, cuts: [1, 2] },
      { type: 'binary', n: 10, cuts: [0, 5, 5, 10] }, // empty fragments
      { type: 'binary', n: 0, cuts: [0, 0] },
      { type: 'text', n: 70000, cuts: everyN(70000, 1000) },
      { type: 'text', n: 2 << 20, cuts: everyN(2 << 20, 65536) },
    ];
    for (const c of cases) {
      const buf = payload(c.type, c.n);
      sendFragments(ws, c.type, buf, c.cuts);
      await expectEcho(inbox, c.type, buf, `${c.type} ${c.n} bytes in ${c.cuts.length + 1} fragments`);
    }
    // A ping between two fragments of one message must not disturb it.
    const buf = payload('binary', 5000);
    ws.send(buf.subarray(0, 2000), { binary: true, fin: false });
    ws.ping('mid-message');
    ws.send(buf.subarray(2000), { binary: true, fin: true });
    await expectEcho(inbox, 'binary', buf, 'binary 5000 bytes with a ping between fragments');
    await closeNormally(ws, inbox);
  },

  async utf8() {
    const { ws, inbox } = await open();
    const text = Buffer.from('aé€𝄞 Grüße, 世界! 😀🎉 ж'.repeat(50), 'utf8');
    ws.send(text, { binary: false });
    await expectEcho(inbox, 'text', text, 'multi-byte text unfragmented');
    // Fragment sizes 1..5 put boundaries inside 2-, 3- and 4-byte sequences.
    for (let step = 1; step <= 5; step++) {
      sendFragments(ws, 'text', text, everyN(text.length, step));
      await expectEcho(inbox, 'text', text, `multi-byte text in ${step}-byte fragments`);
    }
    const four = Buffer.from('😀', 'utf8');
    sendFragments(ws, 'text', four, [1, 2, 3]);
    await expectEcho(inbox, 'text', four, 'one 4-byte character split into 4 fragments');
    await closeNormally(ws, inbox);
  },

  async 'bad-utf8'() {
    const { ws, inbox } = await open();
    // Valid so far, then a 3-byte sequence cut by an invalid continuation byte.
    const bad = Buffer.concat([textPayload(100), Buffer.from([0xe2, 0x82]), Buffer.from([0x28, 0x61])]);
    sendFragments(ws, 'text', bad, [101]);
    const c = await inbox.closeEvent();
    if (c.code !== 1007) fail(`invalid UTF-8: close code ${c.code} reason ${JSON.stringify(c.reason)}, want 1007`);
  },

  async 'close-client'() {
    const { ws, inbox } = await open();
    ws.close(4001, 'bye');
    const c = await inbox.closeEvent();
    if (c.code !== 4001) fail(`close echo: code ${c.code} reason ${JSON.stringify(c.reason)}, want 4001`);
  },

  async 'close-server'() {
    const { inbox } = await open();
    const c = await inbox.closeEvent();
    if (c.code !== 4001 || c.reason !== 'bye') {
      fail(`server close: code ${c.code} reason ${JSON.stringify(c.reason)}, want 4001 "bye"`);
    }
  },

  async ping() {
    const { ws, inbox } = await open();
    const pong = new Promise((resolve) => ws.once('pong', resolve));
    ws.ping('client-ping');
    const got = (await pong).toString();
    if (got !== 'client-ping') fail(`pong payload ${JSON.stringify(got)}, want "client-ping"`);
    // ws answers the server's ping by itself; we only check one arrived.
    await Promise.race([
      inbox.firstPing,
      inbox.closeEvent().then((c) => fail(`closed (code ${c.code}) before the server sent a ping`)),
    ]);
    ws.send('done');
    const c = await inbox.closeEvent();
    if (c.code !== 1000) fail(`after ping: close code ${c.code} reason ${JSON.stringify(c.reason)}, want 1000`);
  },

  async subprotocol() {
    const { ws, inbox } = await open();
    const want = opts['expect-protocol'] || '';
    if (ws.protocol !== want) fail(`subprotocol ${JSON.stringify(ws.protocol)}, want ${JSON.stringify(want)}`);
    await closeNormally(ws, inbox);
  },

  async origin() {
    const ws = new WebSocket(url, { origin: 'http://evil.example', perMessageDeflate: false });
    const status = await new Promise((resolve, reject) => {
      ws.once('unexpected-response', (req, res) => {
        res.resume();
        req.destroy();
        resolve(res.statusCode);
      });
      ws.once('open', () => reject(new Error('cross-origin handshake was accepted, want HTTP 403')));
      ws.once('error', (err) => reject(new Error(`handshake error: ${err.message}, want HTTP 403`)));
    });
    if (status !== 403) fail(`cross-origin handshake: HTTP ${status}, want 403`);
    console.log(`refused with HTTP ${status}`);
  },

  // Never answers pings, to be dropped by the server's keep-alive.
  async silent() {
    const { inbox } = await open({ autoPong: false });
    const c = await inbox.closeEvent();
    console.log(`closed by the server: code ${c.code}`);
  },

  // --ok-size=L: a message of exactly the limit, echoed; then --size=N bytes,
  // in --fragments=K fragments if given, that the server must refuse with 1009.
  async toobig() {
    const { ws, inbox } = await open();
    if (opts['ok-size']) {
      const ok = Buffer.alloc(Number(opts['ok-size']), 'y');
      ws.send(ok, { binary: true });
      await expectEcho(inbox, 'binary', ok, `message of ${ok.length} bytes (at the limit)`);
    }
    const n = Number(opts.size);
    const big = Buffer.alloc(n, 'z'); // compresses to almost nothing
    const k = Number(opts.fragments || 1);
    sendFragments(ws, 'binary', big, everyN(n, Math.ceil(n / k)));
    const c = await inbox.closeEvent();
    if (c.code !== 1009) fail(`message of ${n} bytes in ${k} fragments: close code ${c.code} reason ${JSON.stringify(c.reason)}, want 1009`);
  },

  // Three messages and a close, without waiting: all must be delivered.
  async burst() {
    const { ws, inbox } = await open();
    for (let i = 0; i < 3; i++) ws.send(`burst ${i}`);
    ws.close(4002, 'after');
    const c = await inbox.closeEvent();
    if (c.code !== 4002) fail(`close echo: code ${c.code} reason ${JSON.stringify(c.reason)}, want 4002`);
  },

  // --conns=N connections at once, each echoing a few messages.
  async many() {
    const n = Number(opts.conns);
    await Promise.all(Array.from({ length: n }, async (_, i) => {
      const { ws, inbox } = await open();
      for (let j = 0; j < 5; j++) {
        const buf = Buffer.concat([Buffer.from(`conn ${i} message ${j} `), textPayload(100 + 1000 * j)]);
        ws.send(buf, { binary: false });
        await expectEcho(inbox, 'text', buf, `connection ${i} message ${j}`);
      }
      await closeNormally(ws, inbox);
    }));
  },
};

async function main() {
  const run = scenarios[scenario];
  if (!run) fail(`unknown scenario ${JSON.stringify(scenario)}`);
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
  });
  try {
    await Promise.race([run(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

main().then(
  () => {
    console.log(`OK ${scenario}`);
    process.exit(0);
  },
  (err) => {
    console.error(`FAIL: node ws client, scenario ${scenario}: ${err.message}`);
    process.exit(1);
  },
);
