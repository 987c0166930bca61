// Engine.IO v4 client peer for Tether's interop tests, built on the
// engine.io-client package (v6), against a server that sends every message
// back unchanged.
//
// Usage: node eio-client.mjs URL SCENARIO [--id=ID] [--path=/engine.io/]
//        [--transports=polling,websocket] [--ping-interval=MS]
//        [--ping-timeout=MS] [--max-payload=N] [--ok-size=N] [--size=N]
//        [--conns=N] [--burst=N] [--timeout=MS]
//
// URL is the server's base, e.g. http://127.0.0.1:3000. Every connection
// carries the query parameter id=ID (id=ID-i for the i-th connection of
// "many") so the server can tell which test it belongs to.
//
// Scenarios: echo, upgrade, binary, toobig, silent, server-close, many (see
// each function). --transports picks the transports of echo, binary, toobig,
// silent and server-close; the handshake values are checked against
// --ping-interval, --ping-timeout and --max-payload when given.
//
// Lines the test reads: "CLOSE {json}" with the reason and description the
// client saw when the server closed it, "INFO ..." for diagnostics, and at
// the end "OK <scenario>" (exit 0) or "FAIL: ..." (exit 1).

import { Socket } from 'engine.io-client';
import { binaryPayload, diff, parseArgs, textPayload } from './lib.mjs';

const { positional, opts } = parseArgs(process.argv.slice(2));
const [url, scenario] = positional;
const TIMEOUT_MS = Number(opts.timeout || 60000);
const TRANSPORTS = String(opts.transports || 'polling,websocket').split(',');

function fail(msg) {
  throw new Error(msg);
}

function info(msg) {
  console.log(`INFO ${msg}`);
}

/** A received message as {type, data: Buffer}. */
function normalize(data) {
  // engine.io-parser decodes the packet "4" (an empty text message) as a
  // message without data.
  if (data === undefined) return { type: 'text', data: Buffer.alloc(0) };
  if (typeof data === 'string') return { type: 'text', data: Buffer.from(data, 'utf8') };
  if (Buffer.isBuffer(data)) return { type: 'binary', data };
  if (data instanceof ArrayBuffer) return { type: 'binary', data: Buffer.from(data) };
  if (ArrayBuffer.isView(data)) return { type: 'binary', data: Buffer.from(data.buffer, data.byteOffset, data.byteLength) };
  // Not thrown here, inside an event handler: the scenario reports it.
  return { type: `unexpected ${Object.prototype.toString.call(data)}`, data: Buffer.alloc(0) };
}

function describe(m) {
  return `${m.type} of ${m.data.length} bytes`;
}

/**
 * An engine.io-client Socket whose messages and close event can be awaited
 * in order by a scripted scenario.
 */
class Conn {
  constructor(id, transports, extra = {}) {
    this.items = [];
    this.waiters = [];
    this.closed = null;
    this.handshake = null;
    this.socket = new Socket(url, {
      path: opts.path || '/engine.io/',
      transports,
      query: { id },
      ...extra,
    });
    this.socket.on('handshake', (h) => { this.handshake = h; });
    this.socket.on('message', (data) => this.push(normalize(data)));
    this.socket.on('close', (reason, description) => {
      this.closed = { reason, description: describeError(description) };
      for (const w of this.waiters.splice(0)) w(null);
    });
    this.opened = new Promise((resolve, reject) => {
      this.socket.once('open', resolve);
      this.socket.once('close', (reason, description) => {
        reject(new Error(`closed before open: ${reason} (${describeError(description)})`));
      });
    });
  }

  /** Waits for the open packet and checks the handshake values. */
  async open() {
    await this.opened;
    const h = this.handshake;
    const want = {
      pingInterval: opts['ping-interval'],
      pingTimeout: opts['ping-timeout'],
      maxPayload: opts['max-payload'],
    };
    for (const [k, v] of Object.entries(want)) {
      if (v !== undefined && h[k] !== Number(v)) fail(`handshake ${k} = ${JSON.stringify(h[k])}, want ${v}`);
    }
    if (typeof h.sid !== 'string' || h.sid === '') fail(`handshake sid = ${JSON.stringify(h.sid)}`);
    const wantUpgrades = TRANSPORTS[0] === 'polling' || this.socket.transport.name === 'polling' ? ['websocket'] : [];
    if (this.socket.transport.name === 'polling' && JSON.stringify(h.upgrades) !== JSON.stringify(wantUpgrades)) {
      fail(`handshake upgrades = ${JSON.stringify(h.upgrades)}, want ${JSON.stringify(wantUpgrades)}`);
    }
    return this;
  }

  push(m) {
    const w = this.waiters.shift();
    if (w) w(m);
    else this.items.push(m);
  }

  wait() {
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Next message, or throws if the socket closes first. */
  async next() {
    const m = this.items.length ? this.items.shift() : await this.wait();
    if (m === null) fail(`closed while waiting for a message: ${JSON.stringify(this.closed)}`);
    return m;
  }

  /** Resolves with {reason, description} once the socket is closed. */
  async closeEvent() {
    while (!this.closed) {
      const m = await this.wait();
      if (m !== null) fail(`unexpected ${describe(m)} while waiting for close`);
    }
    return this.closed;
  }

  send(data) {
    this.socket.send(data);
  }

  async expectEcho(want, what) {
    const m = await this.next();
    if (m.type !== want.type) fail(`${what}: echo is ${describe(m)}, want ${describe(want)}`);
    if (!m.data.equals(want.data)) fail(`${what}: echo differs: ${diff(want.data, m.data)}`);
  }

  /** Closes from the client side; engine.io-client reports "forced close". */
  async close() {
    this.socket.close();
    const c = await this.closeEvent();
    if (c.reason !== 'forced close') fail(`client close: reason ${JSON.stringify(c)}, want "forced close"`);
  }

  transport() {
    return this.socket.transport.name;
  }
}

function describeError(d) {
  if (d === undefined || d === null) return '';
  if (d instanceof Error) return d.message + (d.description !== undefined ? ` (${describeError(d.description)})` : '');
  if (typeof d === 'object') {
    const parts = [];
    if (d.description !== undefined) parts.push(String(d.description));
    if (d.context && typeof d.context === 'object' && 'code' in d.context) parts.push(`code ${d.context.code}`);
    if (d.context && typeof d.context === 'object' && 'status' in d.context) parts.push(`status ${d.context.status}`);
    if (d.message !== undefined) parts.push(String(d.message));
    if (typeof d.context === 'number') parts.push(`status ${d.context}`);
    return parts.join(', ');
  }
  return String(d);
}

function text(s) {
  return { type: 'text', data: Buffer.from(s, 'utf8') };
}

function binary(buf) {
  return { type: 'binary', data: buf };
}

/** Sends m as a string or a Buffer. */
function wire(m) {
  return m.type === 'text' ? m.data.toString('utf8') : m.data;
}

function checkTransport(c, want) {
  if (c.transport() !== want) fail(`transport is ${c.transport()}, want ${want}`);
}

// Messages of echo: empty ones, multi-byte text, and binary sizes covering
// the three base64 padding cases of the polling transport. (No text with
// U+001E: the v4 polling payload separator cannot be escaped.)
const ECHO_MESSAGES = [
  text('hello'),
  text(''),
  text('aé€𝄞 Grüße, 世界! 😀 ж'),
  binary(Buffer.from([0, 1, 2, 0xff])),
  binary(Buffer.alloc(0)),
  binary(binaryPayload(1)),
  binary(binaryPayload(2)),
  binary(binaryPayload(3)),
  text(textPayload(70000).toString('utf8')),
  binary(binaryPayload(70000)),
];

const scenarios = {
  // The messages of ECHO_MESSAGES one at a time, then all at once so that the
  // polling transport batches them, on the first of --transports, which must
  // stay in use (upgrades off).
  async echo() {
    const c = await new Conn(opts.id, TRANSPORTS, { upgrade: false }).open();
    checkTransport(c, TRANSPORTS[0]);
    for (const [i, m] of ECHO_MESSAGES.entries()) {
      c.send(wire(m));
      await c.expectEcho(m, `message ${i} (${describe(m)})`);
    }
    for (const m of ECHO_MESSAGES) c.send(wire(m));
    for (const [i, m] of ECHO_MESSAGES.entries()) await c.expectEcho(m, `batched message ${i} (${describe(m)})`);
    checkTransport(c, TRANSPORTS[0]);
    await c.close();
  },

  // Polling, then upgrade to WebSocket while messages keep flowing: a burst
  // of --burst=N messages (some of 100 kB) as soon as the session opens and
  // a message every millisecond after it; the probe is held back until half
  // the burst came back over polling, so that echoes are still queued for
  // polling when it succeeds. 20 more messages when the upgrade starts and
  // 20 after it. Every one is echoed once, in order.
  async upgrade() {
    const c = new Conn(opts.id, ['polling', 'websocket']);
    const upgraded = new Promise((resolve, reject) => {
      c.socket.once('upgrade', resolve);
      c.socket.once('upgradeError', (err) => reject(new Error(`upgrade failed: ${describeError(err)}`)));
    });
    const sent = [];
    const phase = { open: 0, before: 0, during: 0, after: 0 };
    let now = 'open';
    const sendOne = () => {
      const n = sent.length;
      let m = text(`upgrade message ${n}`);
      if (n % 25 === 7) m = binary(binaryPayload(100000 + n));
      else if (n % 25 === 8) m = text(`upgrade message ${n} ${textPayload(100000).toString('utf8')}`);
      else if (n % 3 === 2) m = binary(Buffer.from(`upgrade message ${n}`));
      c.send(wire(m));
      sent.push(m);
      phase[now]++;
    };
    // Before the probe can finish: the open event comes first.
    c.socket.once('open', () => {
      for (let i = 0; i < burst; i++) sendOne();
      now = 'before';
    });
    const via = { polling: 0, websocket: 0 };
    const probe = c.socket._probe;
    if (typeof probe !== 'function') fail('engine.io-client has no _probe to patch');
    let probes = [];
    c.socket._probe = function (name) {
      probes.push(() => probe.call(this, name));
    };
    const burst = Number(opts.burst || 100);
    c.socket.on('message', () => {
      via[c.transport()]++;
      if (probes && via.polling >= burst / 2) {
        const run = probes;
        probes = null;
        for (const p of run) p();
      }
    });
    c.socket.once('upgrading', () => {
      now = 'during';
      for (let i = 0; i < 20; i++) sendOne();
    });
    await c.open();
    // A message every millisecond until the upgrade is done, bounded.
    const timer = setInterval(() => {
      if (sent.length < 5000) sendOne();
    }, 1);
    try {
      await upgraded;
    } finally {
      clearInterval(timer);
    }
    now = 'after';
    for (let i = 0; i < 20; i++) sendOne();
    checkTransport(c, 'websocket');
    if (phase.during === 0) fail('no message was sent during the upgrade');
    for (const [i, m] of sent.entries()) await c.expectEcho(m, `message ${i} of ${sent.length}`);
    // A duplicate would arrive after the last echo; give it two heartbeats to.
    await new Promise((resolve) => setTimeout(resolve, 2 * Number(opts['ping-interval'] || 300)));
    info(`sent ${sent.length} messages: ${phase.open} at open, ${phase.before} more before the upgrade, ${phase.during} during, ${phase.after} after; echoes received over polling ${via.polling}, over websocket ${via.websocket}`);
    if (c.items.length) fail(`${c.items.length} extra messages after all echoes, first: ${describe(c.items[0])} ${JSON.stringify(c.items[0].data.toString().slice(0, 40))}`);
    await c.close();
  },

  // Binary as Buffer, ArrayBuffer and Uint8Array view, mixed with text; all
  // come back as binary (a Buffer in Node).
  async binary() {
    const c = await new Conn(opts.id, TRANSPORTS, { upgrade: false }).open();
    checkTransport(c, TRANSPORTS[0]);
    const big = binaryPayload(100000);
    const cases = [
      ['Buffer', big, big],
      ['ArrayBuffer', big.buffer.slice(big.byteOffset, big.byteOffset + 1000), big.subarray(0, 1000)],
      ['Uint8Array view', new Uint8Array(big.buffer, big.byteOffset + 10, 77), big.subarray(10, 87)],
      ['all byte values', Buffer.from(Array.from({ length: 256 }, (_, i) => i)), Buffer.from(Array.from({ length: 256 }, (_, i) => i))],
    ];
    for (const [what, data, want] of cases) {
      c.send(data);
      await c.expectEcho(binary(Buffer.from(want)), what);
      c.send(`text after ${what}`);
      await c.expectEcho(text(`text after ${what}`), `text after ${what}`);
    }
    await c.close();
  },

  // --ok-size=N bytes echoed (text on polling, where binary is base64 and
  // would be a third larger; binary on WebSocket), then --size=N bytes that
  // the server must refuse by closing the session. Prints what the client saw.
  async toobig() {
    const c = await new Conn(opts.id, TRANSPORTS, { upgrade: false }).open();
    checkTransport(c, TRANSPORTS[0]);
    const kind = TRANSPORTS[0] === 'polling' ? 'text' : 'binary';
    const make = (n) => (kind === 'text' ? text(textPayload(n).toString('utf8')) : binary(binaryPayload(n)));
    if (opts['ok-size']) {
      const ok = make(Number(opts['ok-size']));
      c.send(wire(ok));
      await c.expectEcho(ok, `${describe(ok)} (under maxPayload)`);
    }
    const big = make(Number(opts.size));
    c.send(wire(big));
    const closed = await c.closeEvent();
    console.log(`CLOSE ${JSON.stringify(closed)}`);
  },

  // Stops answering the server's pings (drops every pong it would send) and
  // waits to be closed by the server.
  async silent() {
    const c = await new Conn(opts.id, TRANSPORTS, { upgrade: false }).open();
    checkTransport(c, TRANSPORTS[0]);
    const sendPacket = c.socket._sendPacket;
    if (typeof sendPacket !== 'function') fail('engine.io-client has no _sendPacket to patch');
    let dropped = 0;
    c.socket._sendPacket = function (type, ...rest) {
      if (type === 'pong') {
        dropped++;
        return undefined;
      }
      return sendPacket.call(this, type, ...rest);
    };
    const closed = await c.closeEvent();
    info(`dropped ${dropped} pongs`);
    if (dropped === 0) fail(`closed before any ping arrived: ${JSON.stringify(closed)}`);
    console.log(`CLOSE ${JSON.stringify(closed)}`);
  },

  // Sends "close me": the server echoes it and then closes the session.
  async 'server-close'() {
    const c = await new Conn(opts.id, TRANSPORTS, { upgrade: false }).open();
    checkTransport(c, TRANSPORTS[0]);
    c.send('close me');
    await c.expectEcho(text('close me'), 'the message before the server closes');
    const closed = await c.closeEvent();
    console.log(`CLOSE ${JSON.stringify(closed)}`);
    if (closed.reason !== 'transport close') fail(`server close: ${JSON.stringify(closed)}, want reason "transport close"`);
  },

  // --conns=N sockets at once: each opens on polling, upgrades, echoes a few
  // messages and closes.
  async many() {
    const n = Number(opts.conns);
    await Promise.all(Array.from({ length: n }, async (_, i) => {
      const c = new Conn(`${opts.id}-${i}`, ['polling', 'websocket']);
      const upgraded = new Promise((resolve, reject) => {
        c.socket.once('upgrade', resolve);
        c.socket.once('upgradeError', (err) => reject(new Error(`connection ${i}: upgrade failed: ${describeError(err)}`)));
      });
      await c.open();
      c.send(`connection ${i} hello`);
      await upgraded;
      await c.expectEcho(text(`connection ${i} hello`), `connection ${i} first message`);
      for (let j = 0; j < 3; j++) {
        const m = j === 1 ? binary(binaryPayload(100 + i * 10 + j)) : text(`connection ${i} message ${j}`);
        c.send(wire(m));
        await c.expectEcho(m, `connection ${i} message ${j}`);
      }
      checkTransport(c, 'websocket');
      await c.close();
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
    // Exit on our own once the last request and the WebSocket closing
    // handshake are done, so that the server sees a clean close; anything
    // left open after that is a hung request.
    setTimeout(() => {
      console.error(`FAIL: node engine.io-client, scenario ${scenario}: still running 5 s after the scenario ended (a request or connection left open)`);
      process.exit(1);
    }, 5000).unref();
  },
  (err) => {
    console.error(`FAIL: node engine.io-client, scenario ${scenario}: ${err.message}`);
    process.exit(1);
  },
);
