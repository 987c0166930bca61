// Engine.IO v3 client peer for Tether's interop tests: the engine.io-client 3.5
// that npm socket.io-client 2.5 (socket.io-client-v2) depends on, against an
// echo server that allows Engine.IO v3 (tether testserver --allow-eio3's
// /engine.io/, or eio-server.mjs --allow-eio3).
//
// Usage: node eio3-client.mjs URL SCENARIO [--transport=polling|websocket|upgrade]
//        [--base64] [--timeout=MS]
//
// URL is the Engine.IO endpoint, e.g. http://127.0.0.1:3000/engine.io/.
// --base64 sets forceBase64 (b64=1). Prints "OK SCENARIO" (exit 0) or
// "FAIL SCENARIO: ..." (exit 1). Scenarios:
//   echo   text (with characters outside the BMP), an empty text, binary and an
//          empty binary message come back, in order
//   large  600 kB of multi-byte text and 400 kB of binary come back

import eio from 'socket.io-client-v2/node_modules/engine.io-client/lib/index.js';
import { binaryPayload, parseArgs, sha256, textPayload } from './lib.mjs';

const { positional, opts } = parseArgs(process.argv.slice(2));
const [url, scenario] = positional;
const TRANSPORT = opts.transport || 'polling';
const TIMEOUT_MS = Number(opts.timeout || 10000);

class Failure extends Error {}

function fail(msg) {
  throw new Failure(msg);
}

function describe(m) {
  // engine.io-parser 2 hands an empty text message ("4") over as undefined.
  if (m === undefined) m = '';
  return typeof m === 'string' ? `text ${m.length} units ${sha256(Buffer.from(m))}` : `binary ${m.length ?? m.byteLength} bytes ${sha256(Buffer.from(m))}`;
}

async function open() {
  const u = new URL(url);
  const o = { path: u.pathname, forceBase64: Boolean(opts.base64), transports: ['polling', 'websocket'] };
  if (TRANSPORT !== 'upgrade') o.transports = [TRANSPORT];
  const socket = eio(`${u.protocol}//${u.host}`, o);
  const inbox = [];
  let waiter = null;
  socket.on('message', (m) => {
    inbox.push(m);
    if (waiter) waiter();
  });
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Failure('no open')), TIMEOUT_MS);
    socket.on('error', (e) => reject(new Failure(`error ${e}`)));
    socket.on(TRANSPORT === 'upgrade' ? 'upgrade' : 'open', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  const next = () => new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Failure('no message')), TIMEOUT_MS);
    const take = () => {
      if (!inbox.length) return;
      clearTimeout(timer);
      waiter = null;
      resolve(inbox.shift());
    };
    waiter = take;
    take();
  });
  return { socket, next };
}

async function roundTrip(msgs) {
  const { socket, next } = await open();
  for (const m of msgs) socket.send(m);
  for (const m of msgs) {
    const got = await next();
    if (describe(got) !== describe(m)) fail(`sent ${describe(m)}, got ${describe(got)}`);
  }
  socket.close();
}

const SCENARIOS = {
  echo: () => roundTrip(['héllo 😀 𝄞', '', binaryPayload(10), Buffer.alloc(0)]),
  large: () => roundTrip([textPayload(600000).toString('utf8'), binaryPayload(400000)]),
};

let code = 0;
try {
  if (!SCENARIOS[scenario]) fail(`unknown scenario ${scenario}`);
  await SCENARIOS[scenario]();
  console.log(`OK ${scenario}`);
} catch (e) {
  console.log(`FAIL ${scenario}: ${e instanceof Failure ? e.message : e.stack}`);
  code = 1;
}
process.exit(code);
