// Socket.IO v2 client peer for Tether's interop tests: npm socket.io-client 2.5
// (installed as socket.io-client-v2; Engine.IO v3, Socket.IO protocol v4)
// against the test app of docs/TEST-SERVERS.md section 1 served with --allow-eio3
// (tether testserver, or sio-reference-server.mjs).
//
// Usage: node sio2-client.mjs URL SCENARIO [--transport=polling|websocket|upgrade]
//        [--base64] [--timeout=MS]
//
// --transport picks how each v2 connection is made: polling only, WebSocket
// only, or polling upgraded to WebSocket (the scenario starts once the upgrade
// is done). --base64 sets engine.io-client's forceBase64 (the b64=1 query): binary
// then travels as base64 in text payloads, not in binary payloads. Every wait is bounded by --timeout (default 10000 ms). Prints
// "INFO ..." lines and at the end "OK SCENARIO" (exit 0) or
// "FAIL SCENARIO: ..." (exit 1).
//
// Scenarios:
//   connect-auth       "/" is joined without a CONNECT; the server emits auth {}
//   message            text and binary arguments come back in message-back
//   message-with-ack   the server acks with the same arguments, binary included
//   request-ack        the client acks the server's ack-me; ack-result echoes it
//   large              400 kB of multi-byte text and 300 kB of binary come back
//   rooms              join (with ack), then to-room reaches a second v2 client
//   custom-namespace   /custom with a query: auth is the query object
//   two-namespaces     "/" and /custom on one connection; leaving /custom keeps "/"
//   disconnect-me      the server disconnects the socket: "io server disconnect"
//   invalid-namespace  /nope is refused with the server's error
//   broadcast-mixed    one broadcast reaches a v2 client and a v4 client, both ways
//   refused            the server has no --allow-eio3: the v2 handshake gets
//                      400 {"code":5,"message":"Unsupported protocol version"}
//
// Scenarios may run at the same time against one server: broadcasts carry a
// random nonce and others' are ignored.

import { randomBytes } from 'node:crypto';
import ioV2 from 'socket.io-client-v2';
import { io as ioV4 } from 'socket.io-client';
import { binaryPayload, parseArgs, sha256, textPayload } from './lib.mjs';

const { positional, opts } = parseArgs(process.argv.slice(2));
const [baseURL, scenario] = positional;
const TRANSPORT = opts.transport || 'polling';
const BASE64 = Boolean(opts.base64);
const TIMEOUT_MS = Number(opts.timeout || 10000);
const NONCE = randomBytes(6).toString('hex');

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

/** JSON with Buffers shown as hex, to compare arguments that mix both. */
function show(v) {
  return JSON.stringify(v, (k, x) => {
    if (x && x.type === 'Buffer' && Array.isArray(x.data)) return `<buf ${Buffer.from(x.data).toString('hex')}>`;
    if (x instanceof ArrayBuffer) return `<buf ${Buffer.from(x).toString('hex')}>`;
    return x;
  });
}

function expectSame(what, want, got) {
  if (show(want) !== show(got)) fail(`${what}: want ${show(want)}, got ${show(got)}`);
}

/** Resolves with the arguments of the next event `name` on emitter, within the timeout. */
function next(emitter, name, filter = () => true) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Failure(`no ${name} within ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
    const on = (...args) => {
      if (!filter(...args)) return;
      clearTimeout(timer);
      emitter.off(name, on);
      resolve(args);
    };
    emitter.on(name, on);
  });
}

const sockets = [];

function v2Options(query) {
  const o = { forceNew: true, reconnection: false, timeout: TIMEOUT_MS, query, forceBase64: BASE64 };
  if (TRANSPORT === 'polling') o.transports = ['polling'];
  else if (TRANSPORT === 'websocket') o.transports = ['websocket'];
  else o.transports = ['polling', 'websocket'];
  return o;
}

/** A v2 socket on nsp, connected (and upgraded, in upgrade mode). */
async function connectV2(nsp = '/', query) {
  const s = ioV2(baseURL + nsp, v2Options(query));
  sockets.push(s);
  const upgraded = TRANSPORT === 'upgrade' ? next(s.io.engine, 'upgrade') : null;
  const auth = nsp === '/' ? next(s, 'auth') : null;
  await Promise.race([next(s, 'connect'), next(s, 'error').then(([e]) => fail(`error ${show(e)}`))]);
  if (upgraded) await upgraded;
  info(`v2 ${nsp} connected as ${s.id} over ${s.io.engine.transport.name}`);
  return { s, auth };
}

function emitAck(s, ...args) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Failure(`no ack within ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
    s.emit(...args, (...got) => {
      clearTimeout(timer);
      resolve(got);
    });
  });
}

const BIN = Buffer.from([0, 1, 2, 250, 255]);

const SCENARIOS = {
  async 'connect-auth'() {
    const { s, auth } = await connectV2('/');
    expectSame('auth', [{}], await auth);
    check(s.id === s.io.engine.id, `socket id ${s.id} is not the Engine.IO id ${s.io.engine.id}`);
  },

  async message() {
    const { s } = await connectV2('/');
    const args = ['héllo 😀', 42, { nested: [true, null, BIN] }, BIN];
    const back = next(s, 'message-back');
    s.emit('message', ...args);
    expectSame('message-back', args, await back);
  },

  async 'message-with-ack'() {
    const { s } = await connectV2('/');
    const args = [{ a: 1 }, BIN, 'x'];
    expectSame('ack', args, await emitAck(s, 'message-with-ack', ...args));
  },

  async 'request-ack'() {
    const { s } = await connectV2('/');
    const args = ['ask', BIN];
    const asked = next(s, 'ack-me');
    s.emit('request-ack', ...args);
    const got = await asked;
    const ack = got.pop();
    check(typeof ack === 'function', 'ack-me came without an ack');
    expectSame('ack-me', args, got);
    const result = next(s, 'ack-result');
    ack('answer', BIN);
    expectSame('ack-result', ['answer', BIN], await result);
  },

  async large() {
    const { s } = await connectV2('/');
    const text = textPayload(400000).toString('utf8');
    const bin = binaryPayload(300000);
    const back = next(s, 'message-back');
    s.emit('message', text, bin);
    const [gotText, gotBin] = await back;
    check(gotText === text, `text came back as ${gotText.length} units, want ${text.length}`);
    check(sha256(Buffer.from(gotBin)) === sha256(bin), `binary came back as ${gotBin.length} bytes`);
  },

  async rooms() {
    const room = `room-${NONCE}`;
    const { s: a } = await connectV2('/');
    const { s: b } = await connectV2('/');
    expectSame('join ack', [room], await emitAck(a, 'join', room));
    expectSame('join ack', [room], await emitAck(b, 'join', room));
    const got = next(b, 'room-message');
    a.emit('to-room', room, 'hi', BIN);
    expectSame('room-message', ['hi', BIN], await got);
  },

  async 'custom-namespace'() {
    const authed = new Promise((resolve) => {
      // The auth event may come with the connect: listen before connecting.
      const s = ioV2(`${baseURL}/custom`, v2Options({ token: 'x y', n: '1' }));
      sockets.push(s);
      s.on('auth', (...a) => resolve({ s, a }));
    });
    const { s, a } = await Promise.race([
      authed,
      new Promise((_, reject) => setTimeout(() => reject(new Failure('no auth on /custom')), TIMEOUT_MS)),
    ]);
    expectSame('auth', [{ token: 'x y', n: '1' }], a);
    check(s.id === `/custom#${s.io.engine.id}`, `socket id ${s.id}`);
  },

  async 'two-namespaces'() {
    const { s: root } = await connectV2('/');
    // Manager.socket connects at once (autoConnect); a second CONNECT would make Node's
    // server close the connection.
    const custom = root.io.socket('/custom');
    const authed = next(custom, 'auth');
    expectSame('auth', [{}], await authed);
    check(root.io.engine === custom.io.engine, 'two connections');
    const left = next(root, 'message-back');
    custom.close();
    root.emit('message', 'still here');
    expectSame('message-back', ['still here'], await left);
  },

  async 'disconnect-me'() {
    const { s } = await connectV2('/');
    const gone = next(s, 'disconnect');
    s.emit('disconnect-me');
    expectSame('reason', ['io server disconnect'], await gone);
  },

  async 'invalid-namespace'() {
    const s = ioV2(`${baseURL}/nope`, v2Options());
    sockets.push(s);
    const [err] = await next(s, 'error');
    expectSame('error', { message: 'Invalid namespace' }, err);
  },

  async 'broadcast-mixed'() {
    const { s: v2 } = await connectV2('/');
    const v4 = ioV4(baseURL, { forceNew: true, reconnection: false, transports: v2Options().transports });
    sockets.push(v4);
    await next(v4, 'connect');
    const mine = (...a) => a[0] === NONCE;
    let got = next(v4, 'broadcast-back', mine);
    v2.emit('broadcast', NONCE, 'from v2', BIN);
    expectSame('v4 got', [NONCE, 'from v2', BIN], await got);
    got = next(v2, 'broadcast-back', mine);
    v4.emit('broadcast', NONCE, 'from v4', BIN);
    expectSame('v2 got', [NONCE, 'from v4', BIN], await got);
  },

  async refused() {
    const res = await fetch(`${baseURL}/socket.io/?EIO=3&transport=polling`);
    const body = await res.text();
    expectSame('refusal', [400, '{"code":5,"message":"Unsupported protocol version"}'], [res.status, body]);
    const s = ioV2(baseURL, v2Options());
    sockets.push(s);
    const [err] = await next(s, 'connect_error');
    info(`connect_error: ${err && err.message} ${err && err.description}`);
    check(err && err.description === 400, `connect_error ${show(err)}`);
  },
};

async function main() {
  const run = SCENARIOS[scenario];
  if (!run) fail(`unknown scenario ${scenario}`);
  await run();
}

let code = 0;
try {
  await main();
  console.log(`OK ${scenario}`);
} catch (e) {
  console.log(`FAIL ${scenario}: ${e instanceof Failure ? e.message : e.stack}`);
  code = 1;
}
for (const s of sockets) s.close();
process.exit(code);
