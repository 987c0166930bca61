// The Socket.IO test app of docs/TEST-SERVERS.md section 1 (the /socket.io/ part:
// sections 1.1 to 1.3, and 1.5 with --recovery) written with the official
// socket.io server (v4), the reference the Go tests hold sio-client.mjs's
// scenarios against: a scenario that passes here and fails against Tether
// points at Tether, not at the scenario.
//
// Usage: node sio-reference-server.mjs [PORT] [--recovery] [--allow-eio3] [--parser msgpack]
//        [--redis URL [--redis-adapter pubsub|sharded|streams] [--name NAME]]
//        [--ping-interval D] [--ping-timeout D] [--connect-timeout D]
//
// The durations D (such as 300ms or 5s, as tether testserver takes them) replace
// the contract's 300 ms / 200 ms heartbeat and 1 s connect timeout, for tests
// that are not about heartbeats and hold many clients.
//
// Listens on 127.0.0.1:PORT (0 or nothing: a free port), prints
// "listening on http://127.0.0.1:PORT" once it accepts connections, and runs
// until SIGINT or SIGTERM, then closes every connection and exits 0.
// Paths other than /socket.io/ answer 404. --parser msgpack serves every client
// with the MessagePack parser of socket.io-msgpack-parser (new Server({parser})),
// as tether testserver --parser msgpack does.
//
// With --redis the server joins a Socket.IO cluster through the official
// Redis adapters: createAdapter (pubsub) or createShardedAdapter (sharded) of
// @socket.io/redis-adapter, or createAdapter of
// @socket.io/redis-streams-adapter (streams), over node-redis 4 clients. It
// then also answers the cluster events of Tether's cluster interop tests:
// `fetch-sockets` and `server-side-emit` from clients (both with ack), and
// the server-side event `whoami` from other nodes, answered with NAME
// (default node-PORT). Without --redis nothing of this exists.

import http from 'node:http';
import { Server } from 'socket.io';
import msgpackParser from 'socket.io-msgpack-parser';
import { createClient } from 'redis';
import { createAdapter, createShardedAdapter } from '@socket.io/redis-adapter';
import { createAdapter as createStreamsAdapter } from '@socket.io/redis-streams-adapter';
import { parseArgs } from './lib.mjs';

// Flags that take a value also accept it as the next argument (--redis URL),
// the form tether testserver takes.
const valueFlags = new Set(['--redis', '--redis-adapter', '--name', '--parser', '--ping-interval', '--ping-timeout', '--connect-timeout']);
const argv = [];
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (valueFlags.has(a) && i + 1 < process.argv.length) argv.push(`${a}=${process.argv[++i]}`);
  else argv.push(a);
}
const { positional, opts } = parseArgs(argv);

/** Milliseconds of a duration such as 300ms or 5s; def when absent. */
function durationMs(v, def) {
  if (v === undefined) return def;
  const m = /^(\d+(?:\.\d+)?)(ms|s)$/.exec(v);
  if (!m) {
    console.error(`bad duration ${v}: want e.g. 300ms or 5s`);
    process.exit(2);
  }
  return Number(m[1]) * (m[2] === 's' ? 1000 : 1);
}
const port = Number(positional[0] || 0);
if (opts.parser && opts.parser !== 'json' && opts.parser !== 'msgpack') {
  throw new Error(`--parser ${opts.parser}: want json or msgpack`);
}

// redisClients are the node-redis clients of the cluster adapter, closed at
// shutdown.
const redisClients = [];

// watchErrors logs a client's errors to stderr once per outage, not once per
// reconnection attempt: the cluster tests count these lines.
function watchErrors(client, role) {
  let reported = false;
  client.on('error', (err) => {
    if (reported) return;
    reported = true;
    process.stderr.write(`redis ${role} client error: ${err.message}\n`);
  });
  client.on('ready', () => {
    if (reported) process.stderr.write(`redis ${role} client reconnected\n`);
    reported = false;
    rejectionReported = false;
  });
}

// The official adapters do not handle the promise of a PUBLISH or XADD
// (@socket.io/redis-adapter 8.3.0: `this.pubClient.publish(...)` in
// broadcast): when Redis drops a connection with commands in flight, each
// rejects unhandled, and Node 20 exits on the first. A production server
// would install such a handler too; here it logs once per outage.
let rejectionReported = false;
function onUnhandledRejection(err) {
  if (rejectionReported) return;
  rejectionReported = true;
  process.stderr.write(`unhandled rejection (Redis adapter): ${err?.message ?? err}\n`);
}

async function clusterAdapter(url, kind) {
  process.on('unhandledRejection', onUnhandledRejection);
  const pub = createClient({ url });
  watchErrors(pub, 'pub');
  redisClients.push(pub);
  if (kind === 'streams') {
    // The streams adapter duplicates the client it is given for its
    // blocking XREAD and its subscriptions, and ignores their errors.
    await pub.connect();
    return createStreamsAdapter(pub);
  }
  const sub = pub.duplicate();
  watchErrors(sub, 'sub');
  redisClients.push(sub);
  await Promise.all([pub.connect(), sub.connect()]);
  switch (kind) {
    case 'pubsub':
      return createAdapter(pub, sub);
    case 'sharded':
      return createShardedAdapter(pub, sub);
    default:
      throw new Error(`--redis-adapter ${kind}: want pubsub, sharded or streams`);
  }
}

const adapter = opts.redis ? await clusterAdapter(opts.redis, opts['redis-adapter'] || 'pubsub') : undefined;

const httpServer = http.createServer((req, res) => {
  res.writeHead(404).end();
});

const io = new Server(httpServer, {
  path: '/socket.io/',
  serveClient: false,
  pingInterval: durationMs(opts['ping-interval'], 300),
  pingTimeout: durationMs(opts['ping-timeout'], 200),
  maxHttpBufferSize: 1e6,
  connectTimeout: durationMs(opts['connect-timeout'], 1000),
  transports: ['polling', 'websocket'],
  allowUpgrades: true,
  // Gzipping a polling response of 1 MB takes Node longer than the 200 ms
  // ping timeout on a loaded machine; the contract does not ask for it.
  httpCompression: false,
  cors: { origin: '*' },
  // --allow-eio3 also serves Socket.IO v2 clients, as tether testserver --allow-eio3.
  allowEIO3: Boolean(opts['allow-eio3']),
  connectionStateRecovery: opts.recovery
    ? { maxDisconnectionDuration: 30_000, skipMiddlewares: true }
    : undefined,
  adapter,
  ...(opts.parser === 'msgpack' ? { parser: msgpackParser } : {}),
});

// nodeName answers whoami; set once the port is known.
let nodeName = opts.name || '';

// withoutAck splits off the acknowledgement callback socket.io passes as the
// last argument when the client asked for one.
function withoutAck(args) {
  if (args.length && typeof args[args.length - 1] === 'function') {
    return { args: args.slice(0, -1), ack: args[args.length - 1] };
  }
  return { args, ack: null };
}

// withTimeout rejects after ms unless p settled: the adapters' own timeout
// for server-side acks is 5 s and not configurable in all of them.
function withTimeout(p, ms) {
  let timer;
  const expired = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timeout: no answer within ${ms} ms`)), ms);
  });
  p.catch(() => {}); // a late rejection after the timeout is not unhandled
  return Promise.race([p, expired]).finally(() => clearTimeout(timer));
}

io.on('connection', (socket) => {
  socket.emit('auth', socket.handshake.auth ?? {});

  socket.on('message', (...raw) => {
    socket.emit('message-back', ...withoutAck(raw).args);
  });
  socket.on('message-with-ack', (...raw) => {
    const { args, ack } = withoutAck(raw);
    if (ack) ack(...args);
  });
  socket.on('join', (...raw) => {
    const { args, ack } = withoutAck(raw);
    socket.join(args[0]);
    if (ack) ack(args[0]);
  });
  socket.on('to-room', (...raw) => {
    const [room, ...args] = withoutAck(raw).args;
    socket.to(room).emit('room-message', ...args);
  });
  socket.on('broadcast', (...raw) => {
    socket.broadcast.emit('broadcast-back', ...withoutAck(raw).args);
  });
  socket.on('request-ack', (...raw) => {
    socket.emit('ack-me', ...withoutAck(raw).args, (...values) => {
      socket.emit('ack-result', ...values);
    });
  });
  socket.on('disconnect-me', () => {
    socket.disconnect();
  });
  if (!adapter) return;

  // A session another node stored must restore as Node's own would: the
  // cluster tests read this line (socket.data is {} unless the app set it, and
  // apps write socket.data.x without checking).
  if (socket.recovered && (socket.data === null || typeof socket.data !== 'object')) {
    process.stderr.write(`recovered socket ${socket.id}: socket.data is ${JSON.stringify(socket.data)}, not an object\n`);
  }

  socket.on('fetch-sockets', async (...raw) => {
    const { ack } = withoutAck(raw);
    if (!ack) return;
    try {
      const sockets = await io.fetchSockets();
      ack(sockets.map((s) => s.id).sort());
    } catch (err) {
      ack({ error: String(err?.message ?? err) });
    }
  });
  socket.on('server-side-emit', async (...raw) => {
    const { ack } = withoutAck(raw);
    if (!ack) return;
    try {
      const answers = await withTimeout(io.serverSideEmitWithAck('whoami'), 2000);
      ack(answers.map(String).sort());
    } catch (err) {
      ack({ error: String(err?.message ?? err) });
    }
  });
});

if (adapter) {
  // Server-side events from other nodes arrive as events of the server;
  // the last argument is the acknowledgement when the sender wants one.
  io.on('whoami', (...raw) => {
    const { ack } = withoutAck(raw);
    if (ack) ack(nodeName);
  });
}

io.of('/custom').on('connection', (socket) => {
  socket.emit('auth', socket.handshake.auth ?? {});
});

httpServer.listen(port, '127.0.0.1', () => {
  const listening = httpServer.address().port;
  nodeName ||= `node-${listening}`;
  process.stdout.write(`listening on http://127.0.0.1:${listening}\n`);
});

function shutdown() {
  // io.close closes every Engine.IO session, the adapters, and then the HTTP
  // server; the Redis clients go last (disconnect: Redis may be down).
  io.close(() => {
    Promise.allSettled(redisClients.map((c) => c.disconnect())).finally(() => process.exit(0));
  });
  setTimeout(() => process.exit(0), 5000).unref();
}
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
