// Failover client for Tether's interop tests: many official socket.io-client
// clients of one cluster node, counting every event they get across a failover
// to another node (connection state recovery on, docs/TEST-SERVERS.md section 1.5).
//
// Usage: node sio-failover.mjs --url=URL --sender=URL [--clients=N] [--timeout=MS]
//
// --url is where the clients connect (a proxy in front of the node that will go
// away); half of them use WebSocket only, half HTTP long-polling only. --sender
// is another node of the cluster: one more client there emits "broadcast" with
// a sequence number every 100 ms, which every client gets as broadcast-back
// (through the cluster adapter). Each client also plays a stop-and-wait
// exchange of its own: "message" k, then k+1 once message-back k arrived, so
// that the last event of many clients before the failover is a direct emit.
//
// Protocol on stdout, one line each:
//   READY              every client connected and traffic flowed for a while:
//                      the test may now take the node away
//   INFO ...           diagnostics
//   RESULT {json}      the counts (see summary()), printed once every client
//                      came back and the traffic stopped; then exit 0
// A client that does not come back within --timeout (default 60000 ms) ends the
// run with "FAIL ..." and exit 1.

import { io } from 'socket.io-client';
import { parseArgs } from './lib.mjs';

const { opts } = parseArgs(process.argv.slice(2));
const URL = opts.url;
const SENDER_URL = opts.sender;
const CLIENTS = Number(opts.clients || 500);
const TIMEOUT_MS = Number(opts.timeout || 60000);
const BROADCAST_EVERY_MS = 100;
const MESSAGE_EVERY_MS = 150;
// How long a client that was cut while waiting for message-back k waits for it after
// coming back, before it counts k as lost on the way to the server (the client-to-server
// direction has no recovery in Socket.IO) and goes on with k+1.
const IN_FLIGHT_GRACE_MS = 2000;

function info(msg) {
  console.log(`INFO ${msg}`);
}

function fail(msg) {
  console.log(`FAIL ${msg}`);
  process.exit(1);
}

setTimeout(() => fail(`no result within ${TIMEOUT_MS} ms: ${progress()}`), TIMEOUT_MS).unref();

const clients = [];
for (let i = 0; i < CLIENTS; i++) {
  const transport = i % 2 === 0 ? 'websocket' : 'polling';
  const socket = io(URL, {
    transports: [transport],
    upgrade: false,
    forceNew: true,
    reconnectionDelay: 100,
    reconnectionDelayMax: 1000,
    timeout: 10000,
  });
  const c = {
    i, transport, socket,
    firstID: null, ids: [], connects: 0, recovered: 0,
    seqs: new Map(), // broadcast seq -> times received
    backs: new Map(), // message k -> times message-back k received
    k: 0, waiting: false, cutWhileWaiting: false, lostInFlight: 0,
    lastEvent: '', lastEventBeforeCut: '', cut: false,
  };
  socket.on('connect', () => {
    c.connects++;
    c.ids.push(socket.id);
    if (c.firstID === null) c.firstID = socket.id;
    if (c.connects > 1 && socket.recovered) c.recovered++;
    if (c.waiting && c.cutWhileWaiting) {
      const k = c.k;
      setTimeout(() => {
        if (c.waiting && c.k === k && !c.backs.has(k)) {
          c.lostInFlight++;
          c.waiting = false;
          next(c);
        }
      }, IN_FLIGHT_GRACE_MS);
    } else if (!c.waiting && c.started) {
      next(c);
    }
  });
  socket.on('connect_error', (err) => {
    c.lastError = `connect_error ${err.message}`;
  });
  socket.io.on('reconnect_error', (err) => {
    c.lastError = `reconnect_error ${err.message} ${err.description?.message || err.description || ''}`;
  });
  socket.on('disconnect', (reason) => {
    c.lastError = `disconnect ${reason}`;
    if (!c.cut) c.lastEventBeforeCut = c.lastEvent;
    c.cut = true;
    c.cutWhileWaiting = c.waiting;
  });
  socket.on('broadcast-back', (p) => {
    c.lastEvent = 'broadcast-back';
    c.seqs.set(p.seq, (c.seqs.get(p.seq) || 0) + 1);
  });
  socket.on('message-back', (p) => {
    c.lastEvent = 'message-back';
    c.backs.set(p.k, (c.backs.get(p.k) || 0) + 1);
    if (c.waiting && p.k === c.k) {
      c.waiting = false;
      c.cutWhileWaiting = false;
      setTimeout(() => next(c), MESSAGE_EVERY_MS);
    }
  });
  clients.push(c);
}

let stopping = false;

/** Sends the next message of c's stop-and-wait exchange, when connected. */
function next(c) {
  if (stopping || c.waiting || !c.socket.connected) return;
  c.k++;
  c.waiting = true;
  c.cutWhileWaiting = false;
  c.socket.emit('message', { k: c.k });
}

function progress() {
  const connected = clients.filter((c) => c.socket.connected).length;
  const cut = clients.filter((c) => c.cut).length;
  const back = clients.filter((c) => c.cut && c.connects > 1 && c.socket.connected).length;
  const away = clients.filter((c) => !c.socket.connected);
  const errors = [...new Set(away.map((c) => `${c.transport}: ${c.lastError}`))].slice(0, 3);
  return `${connected}/${CLIENTS} connected, ${cut} cut, ${back} back` +
    (away.length ? `; away: ${away.filter((c) => c.transport === 'polling').length} polling, last errors ${errors.join(' | ')}` : '');
}

function waitFor(cond, what, everyMs = 50) {
  return new Promise((resolve) => {
    const tick = () => {
      if (cond()) resolve();
      else setTimeout(tick, everyMs);
    };
    tick();
  }).catch((e) => fail(`${what}: ${e}`));
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

function summary(lastSeq) {
  const s = {
    clients: CLIENTS, broadcastsSent: lastSeq,
    cut: 0, sameID: 0, recovered: 0, reconnects: 0,
    lastEventDirectEmit: 0, lastEventDirectEmitRecovered: 0,
    broadcastsReceived: 0, broadcastsMissing: 0, broadcastsDuplicated: 0,
    messagesSent: 0, messageBacksReceived: 0, messageBacksDuplicated: 0, messagesLostInFlight: 0,
    clientsWithMissing: 0, clientsWithDuplicates: 0, clientsWithNewID: 0,
    byTransport: {},
    examples: [],
  };
  for (const c of clients) {
    const t = (s.byTransport[c.transport] ||= { clients: 0, missing: 0, duplicated: 0, newID: 0 });
    t.clients++;
    if (c.cut) s.cut++;
    const same = c.ids.every((id) => id === c.firstID);
    if (same) s.sameID++;
    else { s.clientsWithNewID++; t.newID++; }
    s.recovered += c.recovered;
    s.reconnects += c.connects - 1;
    if (c.lastEventBeforeCut === 'message-back') {
      s.lastEventDirectEmit++;
      if (same && c.recovered > 0) s.lastEventDirectEmitRecovered++;
    }
    let missing = 0;
    let duplicated = 0;
    for (let seq = 1; seq <= lastSeq; seq++) {
      const n = c.seqs.get(seq) || 0;
      if (n === 0) missing++;
      if (n > 1) duplicated += n - 1;
      s.broadcastsReceived += n;
    }
    let backDup = 0;
    for (const n of c.backs.values()) {
      s.messageBacksReceived += n;
      if (n > 1) backDup += n - 1;
    }
    s.broadcastsMissing += missing;
    s.broadcastsDuplicated += duplicated;
    s.messagesSent += c.k;
    s.messageBacksDuplicated += backDup;
    s.messagesLostInFlight += c.lostInFlight;
    t.missing += missing;
    t.duplicated += duplicated + backDup;
    if (missing) s.clientsWithMissing++;
    if (duplicated || backDup) s.clientsWithDuplicates++;
    if ((missing || duplicated || backDup || !same) && s.examples.length < 5) {
      const gaps = [];
      for (let seq = 1; seq <= lastSeq && gaps.length < 10; seq++) {
        const n = c.seqs.get(seq) || 0;
        if (n !== 1) gaps.push(`${seq}x${n}`);
      }
      s.examples.push({ client: c.i, transport: c.transport, ids: c.ids, recovered: c.recovered,
        lastEventBeforeCut: c.lastEventBeforeCut, broadcastsNotOnce: gaps, messageBackDuplicates: backDup });
    }
  }
  return s;
}

async function main() {
  await waitFor(() => clients.every((c) => c.socket.connected), 'connect');
  info(`${CLIENTS} clients connected`);
  const sender = io(SENDER_URL, { transports: ['websocket'], forceNew: true });
  await waitFor(() => sender.connected, 'sender connect');
  let seq = 0;
  const ticker = setInterval(() => {
    seq++;
    sender.emit('broadcast', { seq });
  }, BROADCAST_EVERY_MS);
  for (const c of clients) {
    c.started = true;
    next(c);
  }
  // Traffic flows for a while before the node goes away.
  await sleep(1500);
  console.log('READY');
  await waitFor(() => clients.every((c) => c.cut), 'every client cut');
  info(`every client was cut (${progress()})`);
  await waitFor(() => clients.every((c) => c.socket.connected && c.connects > 1), 'every client back');
  info(`every client is back (${progress()})`);
  // Traffic goes on after the failover, past the in-flight grace of the last clients back.
  await sleep(IN_FLIGHT_GRACE_MS + 1000);
  clearInterval(ticker);
  stopping = true;
  const lastSeq = seq;
  // Let the last broadcast and the last message-backs arrive: until every client has the
  // last broadcast and no exchange is waiting, or 5 s.
  const until = Date.now() + 5000;
  await waitFor(() => Date.now() > until ||
    clients.every((c) => c.seqs.has(lastSeq) && !c.waiting), 'settle');
  await sleep(300); // a duplicate arriving late would still be counted
  console.log(`RESULT ${JSON.stringify(summary(lastSeq))}`);
  sender.disconnect();
  for (const c of clients) c.socket.disconnect();
  process.exit(0);
}

main().catch((e) => fail(e.stack || String(e)));
