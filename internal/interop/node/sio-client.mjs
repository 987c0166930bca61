// Socket.IO v5 client peer for Tether's interop tests, built on the official
// socket.io-client package (v4), against the test app of docs/TEST-SERVERS.md
// section 1 (tether testserver, or sio-reference-server.mjs).
//
// Usage: node sio-client.mjs URL SCENARIO [--transport=polling|websocket|upgrade]
//        [--recovery] [--parser=msgpack] [--timeout=MS]
//
// URL is the server's base, e.g. http://127.0.0.1:3000. --transport picks how
// every connection of the scenario is made: HTTP long-polling only, WebSocket
// only, or polling first and then upgraded to WebSocket (the scenario starts
// once the upgrade is done). --recovery says the server runs with connection
// state recovery (section 1.5): the client then expects a pid in every
// CONNECT answer and an offset string as the last argument of every event the
// server sends without an ack id. --parser=msgpack speaks the MessagePack
// parser of socket.io-msgpack-parser, as a server started with it expects
// (tether testserver --parser msgpack, sio-reference-server.mjs --parser
// msgpack). Every wait is bounded by --timeout
// (default 10000 ms). The scenario "script" runs --script=CODE instead (see
// SCENARIOS.script).
//
// Prints "INFO ..." lines for diagnostics and at the end "OK SCENARIO"
// (exit 0) or "FAIL SCENARIO: ..." (exit 1). Scenarios: see SCENARIOS below.
//
// Several scenarios may run at the same time against one server: events that
// every socket of "/" may get from another test (broadcast-back) are told
// apart by a random nonce, and no scenario asserts it got nothing at all.

import { randomBytes } from 'node:crypto';
import { Socket as EngineSocket } from 'engine.io-client';
import { Manager } from 'socket.io-client';
import msgpackParser from 'socket.io-msgpack-parser';
import { binaryPayload, parseArgs, sha256, textPayload } from './lib.mjs';

const { positional, opts } = parseArgs(process.argv.slice(2));
const [baseURL, scenario] = positional;
const TRANSPORT = opts.transport || 'polling';
const RECOVERY = Boolean(opts.recovery);
const PARSER = opts.parser || 'json';
if (PARSER !== 'json' && PARSER !== 'msgpack') throw new Error(`unknown --parser=${PARSER}`);
const TIMEOUT_MS = Number(opts.timeout || 10000);
const NONCE = randomBytes(6).toString('hex');

// Events socket.io-client emits itself, never carrying an offset.
const RESERVED = new Set(['connect', 'connect_error', 'disconnect']);

class Failure extends Error {}

function fail(msg) {
  throw new Failure(msg);
}

function info(msg) {
  console.log(`INFO ${msg}`);
}

function check(cond, msg) {
  if (!cond) fail(msg);
}

function expectSame(what, want, got) {
  check(same(want, got), `${what}: want ${show(want)}, got ${show(got)}`);
}

function transportOptions() {
  switch (TRANSPORT) {
    case 'polling': return { transports: ['polling'], upgrade: false };
    case 'websocket': return { transports: ['websocket'] };
    case 'upgrade': return { transports: ['polling', 'websocket'], upgrade: true };
    default: throw new Error(`unknown --transport=${TRANSPORT}`);
  }
}

/** Resolves with p, or fails after TIMEOUT_MS saying what did not happen. */
function bounded(p, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Failure(`${what}: nothing within ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

const peers = [];

/** A new Manager (one Engine.IO connection) in the chosen transport mode. */
function newManager(extra = {}) {
  const m = new Manager(baseURL, {
    path: '/socket.io/',
    ...transportOptions(),
    reconnection: false, // scenarios reconnect by hand, when they mean to
    timeout: TIMEOUT_MS,
    ...(PARSER === 'msgpack' ? { parser: msgpackParser } : {}),
    ...extra,
  });
  return m;
}

/**
 * A socket.io-client Socket whose events (and connect, connect_error,
 * disconnect) a scenario can await by name.
 */
class Peer {
  constructor(name, socket) {
    this.name = name;
    this.socket = socket;
    this.queue = [];
    this.history = [];
    this.problems = [];
    this.wake = [];
    socket.onAny((event, ...args) => this.push(event, args));
    socket.on('connect', () => this.push('connect', []));
    socket.on('connect_error', (err) => this.push('connect_error', [err]));
    socket.on('disconnect', (reason) => this.push('disconnect', [reason]));
  }

  push(event, args) {
    const acked = args.length > 0 && typeof args[args.length - 1] === 'function';
    if (RECOVERY && !RESERVED.has(event) && !acked) {
      const offset = args[args.length - 1];
      if (typeof offset === 'string' && offset !== '') args = args.slice(0, -1);
      else this.problems.push(`event ${event} ${show(args)} does not end with an offset string`);
    }
    this.queue.push({ event, args });
    this.history.push(RESERVED.has(event) && args.length ? `${event}(${args[0].message ?? args[0]})` : event);
    for (const w of this.wake.splice(0)) w();
  }

  /** The events received, repeats counted, for failure messages. */
  summary() {
    const runs = [];
    for (const e of this.history) {
      if (runs.length && runs[runs.length - 1][0] === e) runs[runs.length - 1][1]++;
      else runs.push([e, 1]);
    }
    return `[${runs.slice(-20).map(([e, n]) => (n > 1 ? `${e} x${n}` : e)).join(', ')}]`;
  }

  /**
   * Removes and returns the first queued {event, args} whose event is in
   * events and whose args satisfy match, waiting for it if need be.
   */
  async take(events, match = () => true, what = String(events)) {
    const names = Array.isArray(events) ? events : [events];
    const deadline = Date.now() + TIMEOUT_MS;
    for (;;) {
      this.checkProblems();
      const i = this.queue.findIndex((e) => names.includes(e.event) && match(e.args));
      if (i >= 0) return this.queue.splice(i, 1)[0];
      const gone = this.queue.find((e) => e.event === 'disconnect');
      if (gone && !names.includes('connect') && !this.socket.connected) {
        fail(`${this.name}: disconnected (${gone.args[0]}) while waiting for ${what}; received ${this.summary()}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) fail(`${this.name}: no ${what} within ${TIMEOUT_MS} ms; received ${this.summary()}`);
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake.push(() => { clearTimeout(timer); resolve(); });
      });
    }
  }

  /** The arguments of the next event called name. */
  async next(name) {
    return (await this.take(name)).args;
  }

  /** Fails if an event called name whose args satisfy match was received. */
  none(name, match, what) {
    this.checkProblems();
    const e = this.queue.find((q) => q.event === name && match(q.args));
    if (e) fail(`${this.name}: got ${what}: ${name} ${show(e.args)}`);
  }

  checkProblems() {
    if (this.problems.length) fail(`${this.name}: ${this.problems.join('; ')}`);
  }

  /** Waits for the namespace CONNECT answer (and the upgrade, in upgrade mode). */
  async connected() {
    const e = await this.take(['connect', 'connect_error'], () => true, `connection to ${this.socket.nsp}`);
    if (e.event === 'connect_error') {
      fail(`${this.name}: connect_error to ${this.socket.nsp}: ${e.args[0].message} ${show(e.args[0].data)}`);
    }
    await transportReady(this.socket.io);
  }

  /**
   * Round trip through the server: once message-back with a fresh token is
   * here, every event the server queued for this socket before handling it
   * is here too.
   */
  async sync() {
    const token = `sync-${NONCE}-${Math.random()}`;
    this.socket.emit('message', token);
    await this.take('message-back', (a) => a[0] === token, 'message-back of a sync');
  }

  /** Emits event with args and an ack callback; resolves with the ack's arguments. */
  ack(event, ...args) {
    return bounded(new Promise((resolve, reject) => {
      const gone = (reason) => reject(new Failure(`${this.name}: disconnected (${reason}) while waiting for the ack of ${event}`));
      this.socket.once('disconnect', gone);
      this.socket.emit(event, ...args, (...res) => {
        this.socket.off('disconnect', gone);
        resolve(res);
      });
    }), `${this.name}: ack of ${event}`);
  }
}

/** Resolves once the manager's engine uses the mode's final transport. */
async function transportReady(m) {
  const engine = m.engine;
  if (TRANSPORT === 'upgrade' && engine.transport.name !== 'websocket') {
    await bounded(new Promise((resolve) => engine.once('upgrade', resolve)), 'upgrade to websocket');
  }
  const want = TRANSPORT === 'polling' ? 'polling' : 'websocket';
  check(engine.transport.name === want, `transport is ${engine.transport.name}, want ${want}`);
}

/**
 * Opens a socket to nsp (on m, or on a new Manager made with managerOpts) and
 * waits until it is connected.
 */
async function open(name, nsp = '/', { auth, m, managerOpts } = {}) {
  const peer = socketOf(name, nsp, { auth, m, managerOpts });
  await peer.connected();
  return peer;
}

/** Like open, but returns at once, without waiting for the CONNECT answer. */
function socketOf(name, nsp, { auth, m, managerOpts } = {}) {
  const manager = m || newManager(managerOpts);
  const peer = new Peer(name, manager.socket(nsp, auth === undefined ? {} : { auth }));
  peers.push(peer);
  return peer;
}

/**
 * The auth event's payload without the pid and offset the client adds to its
 * CONNECT payload when it connects again with recovery on (the reference
 * server echoes them: they are part of what the client sent).
 */
function withoutSession([auth]) {
  if (!RECOVERY || auth === null || typeof auth !== 'object') return [auth];
  const { pid, offset, ...rest } = auth;
  return [rest];
}

/** A fresh room name, so that concurrent scenarios never share one. */
function room(tag) {
  return `${tag}-${NONCE}`;
}

function isBytes(v) {
  return Buffer.isBuffer(v) || v instanceof ArrayBuffer || ArrayBuffer.isView(v);
}

function bytesOf(v) {
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof ArrayBuffer) return Buffer.from(v);
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

/** Deep equality of event arguments; binary must come back as binary. */
function same(want, got) {
  if (isBytes(want)) return isBytes(got) && bytesOf(want).equals(bytesOf(got));
  if (Array.isArray(want)) {
    return Array.isArray(got) && want.length === got.length && want.every((w, i) => same(w, got[i]));
  }
  if (want !== null && typeof want === 'object') {
    if (got === null || typeof got !== 'object' || Array.isArray(got) || isBytes(got)) return false;
    const wk = Object.keys(want).sort();
    const gk = Object.keys(got).sort();
    return wk.length === gk.length && wk.every((k, i) => k === gk[i] && same(want[k], got[k]));
  }
  return Object.is(want, got);
}

/** JSON-ish text of event arguments, binary shown by size and hash, cut at 400 characters. */
function show(v) {
  const plain = (x) => {
    if (isBytes(x)) return `<binary ${bytesOf(x).length} bytes ${sha256(bytesOf(x))}>`;
    if (typeof x === 'string' && x.length > 60) return `<string of ${x.length} chars ${sha256(Buffer.from(x))}>`;
    if (Array.isArray(x)) return x.map(plain);
    if (x !== null && typeof x === 'object') return Object.fromEntries(Object.entries(x).map(([k, y]) => [k, plain(y)]));
    if (x === undefined) return '<undefined>';
    if (typeof x === 'function') return '<function>';
    return x;
  };
  const s = JSON.stringify(plain(v));
  return s.length > 400 ? `${s.slice(0, 400)}...` : s;
}

// Event argument lists every echo scenario sends, as [what, args].
const SHAPES = [
  ['no arguments', []],
  ['one string', ['hello']],
  ['unicode strings', ['héllo wörld', '中文 ж 😀 𝄞', '', 'quote " backslash \\ newline \n tab \t', '\u0000\u001f\u2028\u2029\uffff']],
  ['lone surrogates', ['\ud800', 'x\udfffy']],
  ['numbers', [0, 1, -1, 3.5, -0.125, 1e21, 1.5e-7, 2 ** 53 - 1, -(2 ** 53 - 1), 123456789.123]],
  ['null', [null]],
  ['booleans', [true, false]],
  ['nested objects', [{ a: 1, b: [1, 2, { c: 'd', e: [[], {}] }], f: { g: null, h: { i: { j: 'deep' } } } }]],
  ['nested arrays', [[], [[[[1]]]], [1, 'two', null, true, { three: 3 }]]],
  ['placeholder look-alike without binary', [{ _placeholder: true, num: 0 }]],
  ['one binary', [Buffer.from([0, 1, 2, 253, 254, 255])]],
  ['empty binary', [Buffer.alloc(0)]],
  ['binary inside an object', [{ file: binaryPayload(1000), name: 'f.bin' }]],
  ['binaries everywhere', ['text', binaryPayload(10), { list: [binaryPayload(20), { deep: binaryPayload(30) }], n: 1 }, [binaryPayload(40), null], binaryPayload(50)]],
  ['typed array and ArrayBuffer', [new Uint8Array([9, 8, 7]), new Uint8Array([1, 2, 3, 4]).buffer]],
  ['thirty arguments', Array.from({ length: 30 }, (_, i) => (i % 3 === 0 ? i : i % 3 === 1 ? `arg${i}` : { i }))],
  ['100 kB text and binary', [textPayload(100_000).toString('utf8'), binaryPayload(100_000)]],
];

// The shapes the scenarios send with the parser in use. notepack.io, the
// MessagePack of socket.io-msgpack-parser, cannot write two of them, whatever
// the server: a lone surrogate comes out as other characters, and 1e21, an
// integer to JavaScript, is written as a uint64 that wraps around.
function shapes() {
  if (PARSER !== 'msgpack') return SHAPES;
  return SHAPES.filter(([what]) => what !== 'lone surrogates')
    .map(([what, args]) => [what, what === 'numbers' ? args.filter((n) => n !== 1e21) : args]);
}

// Binary sizes of the large scenario: on polling the attachment travels in
// base64 (4/3 larger) in a POST body bounded by the max payload.
const LARGE = { binary: 990_000, pollingBinary: 740_000 };

const SCENARIOS = {
  // The auth event echoes the CONNECT payload, or {} without one; the
  // CONNECT answer carries a pid only with recovery on.
  async 'connect-auth'() {
    const a = await open('a');
    expectSame('auth without payload', [{}], await a.next('auth'));
    const payload = { token: 'sésame 😀', n: 42, list: [1, 'two', null, true], nested: { deep: { ok: true } } };
    const b = await open('b', '/', { auth: payload });
    expectSame('auth with payload', [payload], await b.next('auth'));
    for (const p of [a, b]) {
      check(typeof p.socket.id === 'string' && p.socket.id !== '', `${p.name}: socket id ${show(p.socket.id)}`);
      check(!p.socket.recovered, `${p.name}: recovered on a first connection`);
      if (RECOVERY) check(typeof p.socket._pid === 'string' && p.socket._pid !== '', `${p.name}: no pid in the CONNECT answer with recovery on`);
      else check(p.socket._pid === undefined, `${p.name}: pid ${show(p.socket._pid)} in the CONNECT answer with recovery off`);
    }
    check(a.socket.id !== b.socket.id, `two sockets share the id ${a.socket.id}`);
  },

  // message -> message-back with the same arguments, every shape sent at once
  // (polling batches them) and answered in order.
  async message() {
    const a = await open('a');
    for (const [, args] of shapes()) a.socket.emit('message', ...args);
    const wrong = [];
    for (const [what, args] of shapes()) {
      const got = await a.next('message-back');
      if (!same(args, got)) wrong.push(`message-back of ${what}: want ${show(args)}, got ${show(got)}`);
    }
    check(wrong.length === 0, wrong.join('\n'));
  },

  async 'message-with-ack'() {
    const a = await open('a');
    const acks = shapes().map(([, args]) => a.ack('message-with-ack', ...args));
    const wrong = [];
    for (let i = 0; i < shapes().length; i++) {
      const [what, args] = shapes()[i];
      const got = await acks[i];
      if (!same(args, got)) wrong.push(`ack of ${what}: want ${show(args)}, got ${show(got)}`);
    }
    check(wrong.length === 0, wrong.join('\n'));
  },

  // join without and with ack; another client's to-room proves membership.
  async join() {
    const [rx, ry] = [room('join-x'), room('join-y')];
    const a = await open('a');
    const b = await open('b');
    a.socket.emit('join', rx);
    expectSame('ack of join', [ry], await a.ack('join', ry));
    for (const r of [rx, ry]) {
      b.socket.emit('to-room', r, r, 1);
      expectSame(`room-message in ${r}`, [r, 1], await a.next('room-message'));
    }
  },

  // to-room reaches the room's members but the sender, and nobody outside.
  async 'to-room'() {
    const r = room('to-room');
    const [a, b, c] = [await open('a'), await open('b'), await open('c')];
    expectSame('ack of join', [r], await a.ack('join', r));
    expectSame('ack of join', [r], await b.ack('join', r));
    const args = [NONCE, 'from a', { bin: binaryPayload(64), n: [1, 2] }];
    a.socket.emit('to-room', r, ...args);
    expectSame('room-message at b', args, await b.next('room-message'));
    const fromC = [NONCE, 'from c, outside the room'];
    c.socket.emit('to-room', r, ...fromC);
    expectSame('room-message from c at a', fromC, await a.next('room-message'));
    expectSame('room-message from c at b', fromC, await b.next('room-message'));
    await Promise.all([a.sync(), b.sync(), c.sync()]);
    a.none('room-message', () => true, 'its own room-message (or a second one)');
    b.none('room-message', () => true, 'a second room-message');
    c.none('room-message', () => true, 'a room-message while outside the room');
  },

  // broadcast reaches every other socket of "/", not the sender.
  async broadcast() {
    const [a, b, c] = [await open('a'), await open('b'), await open('c')];
    const args = [NONCE, 'héllo', { bin: binaryPayload(32) }, [binaryPayload(3)]];
    a.socket.emit('broadcast', ...args);
    const mine = (x) => x[0] === NONCE;
    for (const p of [b, c]) {
      expectSame(`broadcast-back at ${p.name}`, args, (await p.take('broadcast-back', mine, 'broadcast-back from a')).args);
    }
    await a.sync();
    a.none('broadcast-back', mine, 'its own broadcast');
  },

  // The server asks for an ack; the values the client acks with come back.
  async 'request-ack'() {
    const a = await open('a');
    const rounds = [
      [['question', 1, { bin: binaryPayload(5) }], ['answer', 7, null, { nested: [binaryPayload(9)] }]],
      [[], [binaryPayload(1), 'two', binaryPayload(3), { four: binaryPayload(4) }]],
    ];
    for (const [sent, answer] of rounds) {
      a.socket.emit('request-ack', ...sent);
      const got = await a.next('ack-me');
      const ack = got.pop();
      check(typeof ack === 'function', `ack-me ${show(got)} asked for no ack`);
      expectSame('ack-me', sent, got);
      ack(...answer);
      expectSame('ack-result', answer, await a.next('ack-result'));
    }
  },

  async 'disconnect-me'() {
    const a = await open('a');
    a.socket.emit('disconnect-me');
    expectSame('disconnect reason', ['io server disconnect'], await a.next('disconnect'));
    check(!a.socket.connected && !a.socket.active, 'socket still connected or active after a server disconnect');
  },

  // Events without a handler get neither a reply nor an ack.
  async 'unknown-event'() {
    const a = await open('a');
    let acked = null;
    a.socket.emit('no-such-event', 1, 'two', { three: binaryPayload(3) }, (...res) => { acked = res; });
    a.socket.emit('no-such-event-either');
    await a.sync();
    check(acked === null, `unknown event acked with ${show(acked)}`);
    check(a.socket.connected, 'disconnected after an unknown event');
  },

  // /custom says auth and nothing else.
  async 'custom-namespace'() {
    const a = await open('a', '/custom');
    expectSame('auth on /custom without payload', [{}], await a.next('auth'));
    const b = await open('b', '/custom', { auth: { user: 'ü', n: 1 } });
    expectSame('auth on /custom with payload', [{ user: 'ü', n: 1 }], await b.next('auth'));
    b.socket.emit('message', 'ignored');
    const root = await open('root', '/', { m: b.socket.io });
    await root.sync();
    b.none('message-back', () => true, 'an answer to message on /custom');
  },

  async 'invalid-namespace'() {
    const alone = socketOf('alone', '/nope');
    const e = await alone.take(['connect', 'connect_error'], () => true, 'CONNECT answer for /nope');
    check(e.event === 'connect_error', `/nope: ${e.event}, want connect_error`);
    check(e.args[0].message === 'Invalid namespace', `/nope: connect_error message ${show(e.args[0].message)}`);
    check(e.args[0].data === undefined, `/nope: connect_error data ${show(e.args[0].data)}`);

    // A refused namespace leaves the connection's other namespaces alone.
    const root = await open('root');
    const bad = socketOf('bad', '/other/deep', { m: root.socket.io });
    const err = (await bad.take('connect_error', () => true, 'connect_error for /other/deep')).args[0];
    check(err.message === 'Invalid namespace', `/other/deep: connect_error message ${show(err.message)}`);
    await root.sync();
  },

  // Two namespaces on one Engine.IO connection; leaving either one leaves the
  // other working.
  async 'two-namespaces'() {
    const m = newManager();
    const root = await open('root', '/', { m });
    const custom = await open('custom', '/custom', { m, auth: { ns: 'custom' } });
    const engineID = m.engine.id;
    expectSame('auth on /', [{}], await root.next('auth'));
    expectSame('auth on /custom', [{ ns: 'custom' }], await custom.next('auth'));

    custom.socket.disconnect();
    expectSame('disconnect of /custom', ['io client disconnect'], await custom.next('disconnect'));
    await root.sync();
    check(root.socket.connected && m.engine.id === engineID, '/ lost its connection when /custom left');

    custom.socket.connect();
    await custom.connected();
    expectSame('auth on /custom again', [{ ns: 'custom' }], withoutSession(await custom.next('auth')));

    root.socket.disconnect();
    expectSame('disconnect of /', ['io client disconnect'], await root.next('disconnect'));
    // /custom does not answer; a refused namespace on the same connection
    // shows the server still serves it. (The reference server closes the
    // connection if a CONNECT to / follows its DISCONNECT in the same batch.)
    const probe = socketOf('probe', '/nope', { m });
    const err = (await probe.take('connect_error', () => true, 'connect_error for /nope')).args[0];
    check(err.message === 'Invalid namespace', `/nope: connect_error message ${show(err.message)}`);
    check(custom.socket.connected && m.engine.id === engineID, '/custom lost its connection when / left');
    root.socket.connect();
    await root.connected();
    expectSame('auth on / again', [{}], withoutSession(await root.next('auth')));
    await root.sync();
    check(custom.socket.connected && m.engine.id === engineID, '/custom lost its connection when / came back');
    custom.none('disconnect', () => true, 'a disconnect');
  },

  // An Engine.IO session that joins no namespace is closed by the server
  // (after ~1 s), while a Socket.IO client connected alongside stays.
  async 'connect-timeout'() {
    const root = await open('root');
    const start = Date.now();
    const raw = new EngineSocket(baseURL, { path: '/socket.io/', ...transportOptions() });
    const closed = new Promise((resolve) => raw.on('close', (reason) => resolve(reason)));
    await bounded(new Promise((resolve) => raw.on('open', resolve)), 'raw Engine.IO open');
    const reason = await bounded(closed, 'server closing a session that never connected a namespace');
    info(`raw session closed after ${Date.now() - start} ms: ${reason}`);
    await root.sync();
  },

  // The transport is cut and comes back; with recovery on, the socket gets its
  // id, rooms and the events emitted to it while away; with it off, none.
  async recovery() {
    const r = room('recovery');
    const a = await open('a');
    const b = await open('b');
    expectSame('ack of join', [r], await a.ack('join', r));
    const id = a.socket.id;

    a.socket.io.engine.close();
    await a.take('disconnect', () => true, 'disconnect after cutting the transport');
    b.socket.emit('to-room', r, NONCE, 'missed 1', binaryPayload(8));
    b.socket.emit('broadcast', NONCE, 'missed 2');
    await b.sync();

    a.socket.connect();
    await a.connected();
    const mine = (x) => x[0] === NONCE;
    if (RECOVERY) {
      check(a.socket.recovered === true, `not recovered (recovered = ${show(a.socket.recovered)})`);
      check(a.socket.id === id, `id ${a.socket.id} after recovery, was ${id}`);
      expectSame('missed room-message', [NONCE, 'missed 1', binaryPayload(8)], (await a.take('room-message', mine)).args);
      expectSame('missed broadcast-back', [NONCE, 'missed 2'], (await a.take('broadcast-back', mine)).args);
      b.socket.emit('to-room', r, NONCE, 'after');
      expectSame('room-message after recovery', [NONCE, 'after'], (await a.take('room-message', mine)).args);
    } else {
      check(!a.socket.recovered, 'recovered with recovery off');
      check(a.socket._pid === undefined, `pid ${show(a.socket._pid)} with recovery off`);
      check(a.socket.id !== id, `same id ${id} after reconnecting without recovery`);
      b.socket.emit('to-room', r, NONCE, 'after');
      await b.sync();
      await a.sync();
      a.none('room-message', mine, 'a room-message without recovery (missed, or still in the room)');
      a.none('broadcast-back', mine, 'a missed broadcast without recovery');
    }
  },

  // Payloads near the 1,000,000-byte max payload; on polling, binary travels
  // in base64 and grows by a third (with MessagePack, every packet is binary).
  async large() {
    const a = await open('a');
    const binaryText = PARSER === 'msgpack' && TRANSPORT === 'polling';
    const text = textPayload(binaryText ? LARGE.pollingBinary : 990_000).toString('utf8');
    const bin = binaryPayload(TRANSPORT === 'polling' ? LARGE.pollingBinary : LARGE.binary);
    a.socket.emit('message', text);
    const [gotText] = await a.next('message-back');
    check(gotText === text, `message-back of ${Buffer.byteLength(text)} text bytes: got ${typeof gotText} ${sha256(Buffer.from(String(gotText)))} of ${Buffer.byteLength(String(gotText))} bytes`);
    expectSame(`ack of ${bin.length} binary bytes`, [bin], await a.ack('message-with-ack', bin));
  },

  // Many events at once arrive, and are answered, in order.
  async burst() {
    const a = await open('a');
    const n = 500;
    for (let i = 0; i < n; i++) a.socket.emit('message', i, i % 50 === 0 ? binaryPayload(i + 1) : `event ${i}`);
    const acks = new Array(n);
    let acked = 0;
    let allAcked;
    const done = new Promise((resolve) => { allAcked = resolve; });
    for (let i = 0; i < n; i++) {
      a.socket.emit('message-with-ack', i, (...res) => {
        acks[i] = res;
        if (++acked === n) allAcked();
      });
    }
    for (let i = 0; i < n; i++) {
      const got = await a.next('message-back');
      expectSame(`message-back #${i}`, [i, i % 50 === 0 ? binaryPayload(i + 1) : `event ${i}`], got);
    }
    const gone = new Promise((_, reject) => {
      a.socket.once('disconnect', (reason) => reject(new Failure(`disconnected (${reason})`)));
    });
    await bounded(Promise.race([done, gone]), `acks of ${n} message-with-ack`).catch((err) => {
      const missing = [...acks.keys()].filter((i) => acks[i] === undefined);
      fail(`${err.message}: ${acked} of ${n} acked; missing #${missing.slice(0, 10).join(', #')}${missing.length > 10 ? ', ...' : ''}`);
    });
    for (let i = 0; i < n; i++) expectSame(`ack #${i}`, [i], acks[i]);
  },
};

// script runs the body of an async function given as --script=CODE, with h
// holding the helpers above: the Go tests of capabilities beyond the test
// app keep each client's half next to the server's. Lines it prints with
// h.result(value) read "RESULT <json>".
SCENARIOS.script = async function script() {
  check(typeof opts.script === 'string' && opts.script !== '', 'script: --script=CODE missing');
  const AsyncFunction = (async () => {}).constructor;
  const h = {
    open, socketOf, newManager, check, fail, expectSame, same, show, info, bounded,
    binaryPayload, textPayload, NONCE, TRANSPORT,
    result: (v) => console.log(`RESULT ${JSON.stringify(v)}`),
  };
  await new AsyncFunction('h', opts.script)(h);
};

async function main() {
  const run = SCENARIOS[scenario];
  if (!baseURL || !run) {
    throw new Error(`usage: node sio-client.mjs URL SCENARIO [--transport=polling|websocket|upgrade] [--recovery] [--parser=msgpack]; scenarios: ${Object.keys(SCENARIOS).join(' ')}`);
  }
  await run();
  for (const p of peers) p.checkProblems();
}

// The whole scenario is bounded too, in case a wait above is not.
const watchdog = setTimeout(() => {
  console.log(`FAIL ${scenario}: still running after ${6 * TIMEOUT_MS} ms`);
  process.exit(1);
}, 6 * TIMEOUT_MS);

let code = 0;
try {
  await main();
  console.log(`OK ${scenario}`);
} catch (err) {
  code = 1;
  console.log(`FAIL ${scenario} (--transport=${TRANSPORT}${RECOVERY ? ' --recovery' : ''}${PARSER !== 'json' ? ` --parser=${PARSER}` : ''}): ${err instanceof Failure ? err.message : err.stack}`);
}
clearTimeout(watchdog);
for (const p of peers) p.socket.disconnect();
// Let the DISCONNECT packets and Engine.IO closes go out before exiting.
setTimeout(() => process.exit(code), 100);
