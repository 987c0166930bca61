"""python-engineio (Debian python3-engineio) client for our Engine.IO server.

Usage: eio_client.py URL SCENARIO TRANSPORTS
  URL         http://host:port of a server whose /engine.io/ echoes every message
  SCENARIO    echo | burst | upgrade | server-close
  TRANSPORTS  polling | websocket | polling,websocket

Exits 0 after printing OK, or 1 with what went wrong.
"""
import queue
import sys
import time

import engineio


def fail(msg):
    print("FAIL: python-engineio client: " + msg, flush=True)
    sys.exit(1)


def main():
    url, scenario, transports = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
    url += "/?case=" + scenario + "-" + "_".join(transports)
    received = queue.Queue()
    disconnected = queue.Queue()
    eio = engineio.Client(request_timeout=5)

    @eio.on("message")
    def on_message(data):
        received.put(data)

    @eio.on("disconnect")
    def on_disconnect():
        disconnected.put(True)

    eio.connect(url, transports=transports, engineio_path="engine.io")

    def expect(want):
        try:
            got = received.get(timeout=10)
        except queue.Empty:
            fail("no echo of %r" % (want,))
        if got != want:
            fail("echo: got %r, want %r" % (got, want))

    if scenario == "echo":
        if eio.transport() != transports[0]:
            fail("transport %s, want %s" % (eio.transport(), transports[0]))
        msgs = ["hello", "", b"\x00\x01\xff", b"", "x" * 100000, bytes(range(256)) * 100]
        if transports[0] == "websocket":
            # python-engineio 4.3.4 cannot POST text beyond Latin-1 over polling (its
            # http.client body is a str); over WebSocket it can.
            msgs.append("κόσμε 日本語")
        for m in msgs:
            eio.send(m)
            expect(m)
    elif scenario == "burst":
        msgs = ["burst %d" % i for i in range(60)]
        for m in msgs:
            eio.send(m)
        for m in msgs:
            expect(m)
    elif scenario == "upgrade":
        deadline = time.time() + 10
        while eio.transport() != "websocket":
            if time.time() > deadline:
                fail("no upgrade to websocket, still on " + eio.transport())
            time.sleep(0.02)
        for m in ["after upgrade", b"\x01\x02"]:
            eio.send(m)
            expect(m)
        # Stay through a few heartbeats: the session must survive them.
        time.sleep(1)
        eio.send("still here")
        expect("still here")
    elif scenario == "server-close":
        eio.send("close-me")
        try:
            disconnected.get(timeout=10)
        except queue.Empty:
            fail("the server's close was not seen")
        print("OK", flush=True)
        return
    else:
        fail("unknown scenario " + scenario)
    eio.disconnect()
    print("OK", flush=True)


if __name__ == "__main__":
    main()
