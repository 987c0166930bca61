"""python-socketio (Debian python3-socketio 5.7.2) synchronous client
scenarios against a Socket.IO test server of docs/TEST-SERVERS.md section 1.

Usage: sio_client.py URL SCENARIO [--transport=polling|websocket|upgrade]
                     [--serializer=msgpack]
  URL        http://host:port of the server (its app is under /socket.io/)
  SCENARIO   one of the names in SCENARIOS below
  transport  polling (default), websocket, or upgrade (polling first, then
             the upgrade python-engineio does inside connect())
  serializer msgpack: python-socketio's MessagePack packets (with Debian's
             python3-msgpack), for a server speaking socket.io-msgpack-parser

Exits 0 after printing OK, or 1 after printing FAIL and what went wrong.
Every wait is bounded; a watchdog ends the process if one is not.
"""
import os
import queue
import sys
import threading

import socketio
from socketio import packet

from peerlib import parse_args

WAIT = 5  # seconds for anything the server should send
SERIALIZER = "default"  # --serializer
WATCHDOG = 40  # seconds for the whole scenario

# Argument lists the "message" and "ack" scenarios send and expect back.
ARGS = [
    (),
    ("hello",),
    ("",),
    (0, 1, -7, 2.5, 1e100, True, False),
    (None,),
    (None, None),
    ({"a": [1, {"b": None}], "c": "x", "d": {}},),
    ([[], [[1]], {"k": [True]}],),
    (b"\x00\x01\xff",),
    (b"",),
    ("a", b"bin", {"nested": b"\x02\x03", "list": [b"", 1]}, [b"x" * 1000]),
    ("x" * 100_000,),
    # python-engineio 4.3.4 cannot POST text beyond Latin-1 over polling,
    # but python-socketio's json.dumps escapes non-ASCII characters (\uXXXX),
    # so these go over every transport; the server may answer in raw UTF-8.
    ("κόσμε 日本語 😀",),
    ({"ключ": "значение", "emoji": ["𝄞", "€"]}, "é"),
]


class Failure(Exception):
    pass


def fail(msg):
    raise Failure(msg)


class Peer:
    """One socketio.Client with every server event it receives queued by
    (namespace, event)."""

    def __init__(self, name, transport):
        self.name = name
        self.transport = transport
        # Reconnection would only hide a server-side disconnect; the one
        # scenario that checks it turns it on with short delays.
        self.sio = socketio.Client(reconnection=False, request_timeout=WAIT,
                                   serializer=SERIALIZER)
        self.queues = {}
        self.lock = threading.Lock()
        self.connects = {}
        self.disconnects = {}

    def q(self, ns, event):
        with self.lock:
            return self.queues.setdefault((ns, event), queue.Queue())

    def listen(self, namespaces):
        for ns in namespaces:
            def on_any(event, *args, ns=ns):
                self.q(ns, event).put(args)

            def on_connect(ns=ns):
                with self.lock:
                    self.connects[ns] = self.connects.get(ns, 0) + 1

            def on_disconnect(ns=ns):
                with self.lock:
                    self.disconnects[ns] = self.disconnects.get(ns, 0) + 1
                self.q(ns, "disconnect").put(())

            def on_connect_error(*data, ns=ns):
                self.q(ns, "connect_error").put(data)

            self.sio.on("*", on_any, namespace=ns)
            self.sio.on("connect", on_connect, namespace=ns)
            self.sio.on("disconnect", on_disconnect, namespace=ns)
            self.sio.on("connect_error", on_connect_error, namespace=ns)

    def connect(self, url, namespaces=("/",), auth=None, wait=WAIT):
        transports = {
            "polling": ["polling"],
            "websocket": ["websocket"],
            "upgrade": ["polling", "websocket"],
        }[self.transport]
        self.listen(namespaces)
        self.sio.connect(url, transports=transports, auth=auth,
                         namespaces=list(namespaces), wait_timeout=wait)
        want = "websocket" if self.transport == "upgrade" else self.transport
        if self.sio.transport() != want:
            fail("%s: transport %s after connect, want %s"
                 % (self.name, self.sio.transport(), want))

    def expect(self, event, want, ns="/"):
        try:
            got = self.q(ns, event).get(timeout=WAIT)
        except queue.Empty:
            fail("%s: no %r on %s within %ds (want args %s)"
                 % (self.name, event, ns, WAIT, short(want)))
        if got != tuple(want):
            fail("%s: %r on %s: got args %s, want %s"
                 % (self.name, event, ns, short(got), short(want)))

    def none(self, event, ns="/"):
        """Fails if event arrived; callers first make a round trip, so that
        anything the server sent earlier has been received."""
        try:
            got = self.q(ns, event).get(timeout=0.2)
        except queue.Empty:
            return
        fail("%s: unexpected %r on %s with args %s"
             % (self.name, event, ns, short(got)))

    def round_trip(self, tag):
        """message -> message-back: the connection works, and earlier
        packets from the server have arrived."""
        self.sio.emit("message", ("sync", tag))
        self.expect("message-back", ("sync", tag))

    def close(self):
        if self.sio.connected:
            self.sio.disconnect()


def short(v):
    s = repr(v)
    return s if len(s) <= 300 else s[:300] + "...(%d chars)" % len(s)


def collapse(args):
    """What Client.call returns for an ack with these arguments."""
    if len(args) == 0:
        return None
    if len(args) == 1:
        return args[0]
    return tuple(args)


# Scenarios. Each takes (url, transport, peers) and appends every Peer it
# makes to peers, so that main disconnects them all.

def scenario_auth(url, transport, peers):
    p = Peer("A", transport)
    peers.append(p)
    auth = {"token": "s3cret", "n": 1, "nested": {"list": [1, "two", None]}}
    p.connect(url, auth=auth)
    p.expect("auth", (auth,))
    if not p.sio.get_sid("/"):
        fail("no namespace sid after connect")
    p.round_trip("auth")


def scenario_no_auth(url, transport, peers):
    p = Peer("A", transport)
    peers.append(p)
    p.connect(url)  # python-socketio sends {} when there is no auth
    p.expect("auth", ({},))
    p.round_trip("no-auth")


def scenario_message(url, transport, peers):
    p = Peer("A", transport)
    peers.append(p)
    p.connect(url)
    p.expect("auth", ({},))
    errors = []
    for args in ARGS:
        p.sio.emit("message", args)
        try:
            p.expect("message-back", args)
        except Failure as e:
            errors.append(str(e))  # the other lists may still pass
    if errors:
        fail("\n  ".join(errors))


def scenario_ack(url, transport, peers):
    p = Peer("A", transport)
    peers.append(p)
    p.connect(url)
    errors = []
    for args in ARGS:
        try:
            got = p.sio.call("message-with-ack", args, timeout=WAIT)
        except socketio.exceptions.TimeoutError:
            errors.append("no ack for message-with-ack %s within %ds"
                          % (short(args), WAIT))
            continue
        if got != collapse(args):
            errors.append("message-with-ack %s: ack %s, want %s"
                          % (short(args), short(got), short(collapse(args))))
    if errors:
        fail("\n  ".join(errors))


def scenario_rooms(url, transport, peers):
    a, b, c = (Peer(n, transport) for n in "ABC")
    peers.extend([a, b, c])
    for p in (a, b, c):
        p.connect(url)
    # Names of our own: other runs may share the server.
    room1, room2 = "room-1-" + os.urandom(6).hex(), "room-2-" + os.urandom(6).hex()
    for p in (a, b):
        got = p.sio.call("join", room1, timeout=WAIT)
        if got != room1:
            fail("%s: join ack %r, want %r" % (p.name, got, room1))
    c.sio.emit("join", room2)  # no ack asked: none may come
    c.round_trip("joined")
    for args in [("hi",), (1, {"x": [None]}), (b"\x01bin",), ()]:
        a.sio.emit("to-room", (room1,) + args)
        b.expect("room-message", args)
    for p in (a, c):
        p.round_trip("rooms")
        p.none("room-message")


def scenario_broadcast(url, transport, peers):
    # broadcast-back reaches every socket on the server: no other broadcast
    # scenario may run on it at the same time.
    a, b, c = (Peer(n, transport) for n in "ABC")
    peers.extend([a, b, c])
    for p in (a, b, c):
        p.connect(url)
    for args in [("to all",), ({"n": 1}, b"\xfe\xff"), ()]:
        a.sio.emit("broadcast", args)
        b.expect("broadcast-back", args)
        c.expect("broadcast-back", args)
    a.round_trip("broadcast")
    a.none("broadcast-back")


def scenario_request_ack(url, transport, peers):
    p = Peer("A", transport)
    peers.append(p)
    # A handler of its own for ack-me: its return value is the ack.
    p.sio.on("ack-me", lambda *args: ("acked",) + args + (b"\x07",))
    p.connect(url)
    for args in [(), ("x",), (1, None, {"k": [b"\x00"]})]:
        p.sio.emit("request-ack", args)
        p.expect("ack-result", ("acked",) + args + (b"\x07",))
    # One value and none: the ack carries exactly what the handler returns.
    p.sio.on("ack-me", lambda *args: "single")
    p.sio.emit("request-ack", ("y",))
    p.expect("ack-result", ("single",))
    p.sio.on("ack-me", lambda *args: None)
    p.sio.emit("request-ack", ("z",))
    p.expect("ack-result", ())


def scenario_disconnect_me(url, transport, peers):
    p = Peer("A", transport)
    peers.append(p)
    # With reconnection on and short delays, a transport error (instead of
    # a namespace DISCONNECT) would show as a second connect.
    p.sio = socketio.Client(reconnection=True, reconnection_delay=0.1,
                            reconnection_delay_max=0.2, request_timeout=WAIT,
                            serializer=SERIALIZER)
    p.connect(url)
    p.expect("auth", ({},))
    p.sio.emit("disconnect-me")
    try:
        p.q("/", "disconnect").get(timeout=WAIT)
    except queue.Empty:
        fail("the disconnect handler did not run within %ds" % WAIT)
    try:
        p.q("/", "auth").get(timeout=1)
        fail("the client reconnected after a server-side disconnect")
    except queue.Empty:
        pass
    if p.sio.connected or p.connects.get("/") != 1:
        fail("connected=%s after disconnect-me, %s connects"
             % (p.sio.connected, p.connects.get("/")))


def scenario_custom(url, transport, peers):
    p = Peer("A", transport)
    peers.append(p)
    auth = {"who": "custom"}
    p.connect(url, namespaces=["/custom"], auth=auth)
    p.expect("auth", (auth,), ns="/custom")
    # /custom does nothing else: no echo, no ack.
    p.sio.emit("message", "hi", namespace="/custom")
    p.none("message-back", ns="/custom")


def scenario_multi(url, transport, peers):
    p = Peer("A", transport)
    peers.append(p)
    auth = {"multi": True}
    p.connect(url, namespaces=["/", "/custom"], auth=auth)
    p.expect("auth", (auth,), ns="/")
    p.expect("auth", (auth,), ns="/custom")
    root, custom = p.sio.get_sid("/"), p.sio.get_sid("/custom")
    if not root or not custom or root == custom:
        fail("namespace sids %r and %r: want two different ones"
             % (root, custom))
    # python-socketio 5.7.2 has no per-namespace disconnect: send the
    # DISCONNECT packet for /custom the way Client.disconnect does.
    p.sio._send_packet(p.sio.packet_class(packet.DISCONNECT,
                                          namespace="/custom"))
    del p.sio.namespaces["/custom"]
    p.round_trip("after leaving /custom")
    p.sio.emit("message", ("still", b"\x01"))
    p.expect("message-back", ("still", b"\x01"))


def scenario_invalid_namespace(url, transport, peers):
    p = Peer("A", transport)
    peers.append(p)
    try:
        # connect() waits wait seconds more after the refusal.
        p.connect(url, namespaces=["/nope"], wait=1)
    except socketio.exceptions.ConnectionError as e:
        print("connect refused as expected: %s" % e, flush=True)
    else:
        fail("connecting to /nope succeeded")
    p.expect("connect_error", ({"message": "Invalid namespace"},), ns="/nope")


def scenario_unknown_event(url, transport, peers):
    p = Peer("A", transport)
    peers.append(p)
    p.connect(url)
    try:
        got = p.sio.call("no-such-event", ("x", 1), timeout=1)
    except socketio.exceptions.TimeoutError:
        pass
    else:
        fail("unknown event was acknowledged with %s" % short(got))
    p.round_trip("after unknown event")


SCENARIOS = {
    "auth": scenario_auth,
    "no-auth": scenario_no_auth,
    "message": scenario_message,
    "ack": scenario_ack,
    "rooms": scenario_rooms,
    "broadcast": scenario_broadcast,
    "request-ack": scenario_request_ack,
    "disconnect-me": scenario_disconnect_me,
    "custom": scenario_custom,
    "multi": scenario_multi,
    "invalid-namespace": scenario_invalid_namespace,
    "unknown-event": scenario_unknown_event,
}


def watchdog():
    print("FAIL: python-socketio client: scenario still running after %ds"
          % WATCHDOG, flush=True)
    os._exit(3)


def main():
    global SERIALIZER
    positional, opts = parse_args(sys.argv[1:])
    SERIALIZER = opts.get("serializer", "default")
    if SERIALIZER not in ("default", "msgpack"):
        print("FAIL: unknown serializer %r" % SERIALIZER, flush=True)
        sys.exit(2)
    if len(positional) != 2 or positional[1] not in SCENARIOS:
        print("usage: sio_client.py URL SCENARIO [--transport=T]; "
              "scenarios: " + " ".join(SCENARIOS), flush=True)
        sys.exit(2)
    url, scenario = positional
    transport = opts.get("transport", "polling")
    if transport not in ("polling", "websocket", "upgrade"):
        print("FAIL: unknown transport %r" % transport, flush=True)
        sys.exit(2)
    timer = threading.Timer(WATCHDOG, watchdog)
    timer.daemon = True
    timer.start()

    peers = []
    code = 0
    try:
        SCENARIOS[scenario](url, transport, peers)
    except Failure as e:
        print("FAIL: python-socketio client (%s), %s over %s: %s"
              % (SERIALIZER, scenario, transport, e), flush=True)
        code = 1
    except Exception as e:  # a client exception is a failure, not a crash
        print("FAIL: python-socketio client (%s), %s over %s: %s: %s"
              % (SERIALIZER, scenario, transport, type(e).__name__, e),
              flush=True)
        code = 1
    for p in peers:
        try:
            p.close()
        except Exception as e:
            print("disconnect %s: %s" % (p.name, e), flush=True)
    if code == 0:
        print("OK", flush=True)
    sys.stdout.flush()
    # python-engineio's reader threads are not daemons and may sit in a
    # blocking read; the result is known, so do not wait for them.
    os._exit(code)


if __name__ == "__main__":
    main()
