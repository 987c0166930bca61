// One-shot publisher with the official @socket.io/redis-emitter (v5): what a
// Node program without a Socket.IO server sends to a cluster, for Tether's
// cluster interop tests.
//
// Usage: node redis-emit.mjs URL [--nsp NSP] [--room ROOM]... [--except ROOM]...
//          [--key KEY] [--binary] EVENT [JSON-ARG]...
//        node redis-emit.mjs URL [--nsp NSP] [--room ROOM]... --sockets-join ROOM
//        node redis-emit.mjs URL [--nsp NSP] [--room ROOM]... --disconnect [--close]
//
// EVENT is emitted with the JSON-ARGs (each parsed as JSON) and, with
// --binary, a last Buffer argument of the three bytes 1, 2, 3. The publish is
// flushed to Redis before the script prints "OK" and exits 0.

import { createClient } from 'redis';
import { Emitter } from '@socket.io/redis-emitter';

function usage(msg) {
  process.stderr.write(`redis-emit.mjs: ${msg}\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
const url = args.shift();
if (!url) usage('missing URL');
const rooms = [];
const except = [];
let nsp = '/';
let key;
let binary = false;
let join = null;
let disconnect = false;
let close = false;
const rest = [];
while (args.length) {
  const a = args.shift();
  const value = () => {
    if (!args.length) usage(`${a} needs a value`);
    return args.shift();
  };
  switch (a) {
    case '--nsp': nsp = value(); break;
    case '--room': rooms.push(value()); break;
    case '--except': except.push(value()); break;
    case '--key': key = value(); break;
    case '--binary': binary = true; break;
    case '--sockets-join': join = value(); break;
    case '--disconnect': disconnect = true; break;
    case '--close': close = true; break;
    default: rest.push(a);
  }
}

const client = createClient({ url });
client.on('error', (err) => usage(`redis: ${err.message}`));
await client.connect();

let target = new Emitter(client, key ? { key } : undefined).of(nsp);
if (rooms.length) target = target.to(rooms);
if (except.length) target = target.except(except);

if (join !== null) {
  target.socketsJoin(join);
} else if (disconnect) {
  target.disconnectSockets(close);
} else {
  const [event, ...json] = rest;
  if (!event) usage('missing EVENT');
  const values = json.map((j) => {
    try {
      return JSON.parse(j);
    } catch (err) {
      return usage(`argument ${j}: ${err.message}`);
    }
  });
  if (binary) values.push(Buffer.from([1, 2, 3]));
  target.emit(event, ...values);
}

// QUIT is answered after every command sent before it: the publish is done.
await client.quit();
process.stdout.write('OK\n');
