// Acts as the Socket.IO Admin UI (what its App.vue does with socket.io-client)
// against a server instrumented for it, and checks what the UI would show of a
// demo socket's life. The same script runs against Tether and against the
// official socket.io + @socket.io/admin-ui (admin-reference-server.mjs).
//
// Usage: node admin-ui-client.mjs URL SCENARIO --user=NAME --password=PW [--timeout=MS]
//
// Scenario "lifecycle":
//   1. a UI with a wrong password is refused with "invalid credentials";
//   2. the UI logs in: session, config (with the features), all_sockets and
//      server_stats arrive;
//   3. a demo socket connects to "/": socket_connected;
//   4. the UI makes it join room "lobby" (join): room_joined;
//   5. the demo sends "message": event_received;
//   6. the UI makes the server emit "notice" to it (emit): the demo receives
//      it, and event_sent;
//   7. the UI disconnects it (_disconnect): the demo is disconnected by the
//      server, and socket_disconnected arrives.
//
// Prints "RESULT {json}": the messages the UI got about the demo socket, in a
// form that does not depend on ids or times (the test compares those of the
// two servers), then "OK lifecycle" (exit 0) or "FAIL: ..." (exit 1).

import { io } from 'socket.io-client';
import { parseArgs } from './lib.mjs';

const { positional, opts } = parseArgs(process.argv.slice(2));
const [base, scenario] = positional;
const TIMEOUT_MS = Number(opts.timeout || 20000);

/** Resolves with the first value of emitter's event that match accepts. */
function next(emitter, event, match = () => true) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, on);
      reject(new Error(`no ${event} within ${TIMEOUT_MS} ms`));
    }, TIMEOUT_MS);
    function on(...args) {
      if (!match(...args)) return;
      clearTimeout(timer);
      emitter.off(event, on);
      resolve(args);
    }
    emitter.on(event, on);
  });
}

function isDate(v) {
  return typeof v === 'string' && !Number.isNaN(Date.parse(v));
}

function check(cond, what) {
  if (!cond) throw new Error(what);
}

async function lifecycle() {
  const result = {};

  const bad = io(`${base}/admin`, { auth: { username: opts.user, password: 'wrong' }, forceNew: true, reconnection: false });
  const [err] = await next(bad, 'connect_error');
  bad.close();
  result.wrongPassword = err.message;
  check(err.message === 'invalid credentials', `wrong password: ${err.message}`);

  const ui = io(`${base}/admin`, { auth: { username: opts.user, password: opts.password }, forceNew: true, reconnection: false, withCredentials: true });
  const session = next(ui, 'session');
  const config = next(ui, 'config');
  const all = next(ui, 'all_sockets');
  const stats = next(ui, 'server_stats');
  const [sessionId] = await session;
  check(typeof sessionId === 'string' && sessionId.length > 0, `session ${sessionId}`);
  const [cfg] = await config;
  result.features = [...cfg.supportedFeatures].sort();
  const [sockets] = await all;
  result.allSockets = sockets.map((s) => ({ nsp: s.nsp, hasClientId: !!s.clientId, transport: s.transport, rooms: s.rooms.length }));
  const [st] = await stats;
  result.statsKeys = Object.keys(st).sort();
  check(st.namespaces.some((n) => n.name === '/admin'), `server_stats namespaces ${JSON.stringify(st.namespaces)}`);

  const demo = io(base, { forceNew: true, reconnection: false, transports: ['websocket'] });
  const connected = next(ui, 'socket_connected', (s) => s.nsp === '/');
  await next(demo, 'connect');
  const id = demo.id;
  const [s, ts] = await connected;
  check(s.id === id && isDate(ts), `socket_connected ${JSON.stringify(s)} ${ts}`);
  result.socketConnected = {
    keys: Object.keys(s).sort(),
    handshakeKeys: Object.keys(s.handshake).sort(),
    transport: s.transport,
    rooms: s.rooms.map((r) => (r === id ? '<own>' : r)),
    data: s.data,
  };

  const joined = next(ui, 'room_joined', (nsp, room, sid) => room === 'lobby');
  ui.emit('join', '/', 'lobby', id);
  const [jn, jroom, jid, jts] = await joined;
  check(jn === '/' && jid === id && isDate(jts), `room_joined ${jn} ${jroom} ${jid} ${jts}`);
  result.roomJoined = [jn, jroom];

  const received = next(ui, 'event_received', (nsp, sid) => sid === id);
  demo.emit('message', 'hello admin');
  const [rn, rid, rargs, rts] = await received;
  check(rn === '/' && isDate(rts), `event_received ${rn} ${rid} ${rts}`);
  result.eventReceived = rargs;

  const notice = next(demo, 'notice');
  const sent = next(ui, 'event_sent', (nsp, sid) => sid === id);
  ui.emit('emit', '/', id, 'notice', { from: 'the UI' }, 2);
  const [noticeArg, noticeNum] = await notice;
  result.notice = [noticeArg, noticeNum];
  const [sn, sid, sargs, sts] = await sent;
  check(sn === '/' && sid === id && isDate(sts), `event_sent ${sn} ${sid} ${sts}`);
  result.eventSent = sargs;

  const gone = next(demo, 'disconnect');
  const disconnected = next(ui, 'socket_disconnected', (nsp, sid) => sid === id);
  ui.emit('_disconnect', '/', false, id);
  const [reason] = await gone;
  result.demoReason = reason;
  const [dn, did, dreason, dts] = await disconnected;
  check(dn === '/' && did === id && isDate(dts), `socket_disconnected ${dn} ${did} ${dts}`);
  result.socketDisconnected = dreason;

  ui.close();
  demo.close();
  return result;
}

const scenarios = { lifecycle };

try {
  if (!scenarios[scenario]) throw new Error(`unknown scenario ${scenario}`);
  const result = await scenarios[scenario]();
  console.log(`RESULT ${JSON.stringify(result)}`);
  console.log(`OK ${scenario}`);
  process.exit(0);
} catch (e) {
  console.log(`FAIL: ${e.stack || e}`);
  process.exit(1);
}
