"""WebSocket client peer for Tether's interop tests, built on Debian's
python3-websockets 10.x (legacy asyncio API). Run with /usr/bin/python3.

Usage: ws_client.py URL SCENARIO [--deflate] [--server-window=BITS]
       [--expect-ext=permessage-deflate|none] [--sizes=0,1,...]
       [--protocols=a,b] [--expect-protocol=p] [--size=N] [--ok-size=N]
       [--fragments=K] [--conns=N]

Scenarios: echo, fragmented, utf8, bad-utf8, close-client, close-server, ping,
subprotocol, origin, silent, toobig, burst, many (see the scenario_*
functions).

It runs one scripted scenario against a server that echoes every message back
unchanged, prints "OK <scenario>" and exits 0, or prints "FAIL: ..." with what
differed and exits 1.
"""

import asyncio
import os
import sys

import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatusCode
from websockets.frames import Opcode

from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory

from peerlib import MAX_SIZE, REPEATS, diff, kind_of, parse_args, payload, repeat_payload, text_payload

DEFAULT_SIZES = [0, 1, 125, 126, 127, 65535, 65536, 1 << 20]


class Failure(Exception):
    pass


class RecordingProtocol(websockets.WebSocketClientProtocol):
    """Records the pings the server sends (the library answers them itself)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.pinged = asyncio.Event()
        self.answer_pings = True

    async def pong(self, data=b""):
        self.pinged.set()
        if self.answer_pings:
            await super().pong(data)


async def connect(opts, **extra):
    protocols = opts["protocols"].split(",") if opts.get("protocols") else None
    compression, extensions = ("deflate" if opts.get("deflate") else None), None
    if opts.get("deflate") and opts.get("server-window"):
        # Asks the server to compress within a small LZ77 window.
        compression = None
        extensions = [
            ClientPerMessageDeflateFactory(
                server_max_window_bits=int(opts["server-window"]),
                client_max_window_bits=True,
                compress_settings={"memLevel": 5},
            )
        ]
    try:
        ws = await websockets.connect(
            URL,
            compression=compression,
            extensions=extensions,
            max_size=MAX_SIZE,
            subprotocols=protocols,
            ping_interval=None,
            close_timeout=10,
            create_protocol=RecordingProtocol,
            **extra,
        )
    except Exception as e:
        raise Failure(f"handshake failed: {e!r}")
    if "expect-ext" in opts:
        want = ["permessage-deflate"] if opts["expect-ext"] == "permessage-deflate" else []
        got = [e.name for e in ws.extensions]
        if got != want:
            raise Failure(f"negotiated extensions {got}, want {want}")
    return ws


async def recv(ws, what):
    try:
        return await ws.recv()
    except ConnectionClosed:
        raise Failure(
            f"{what}: connection closed while waiting for a message: "
            f"code {ws.close_code} reason {ws.close_reason!r}"
        )


async def expect_echo(ws, want, what):
    got = await recv(ws, what)
    if kind_of(got) != kind_of(want):
        raise Failure(f"{what}: echo has type {kind_of(got)}, want {kind_of(want)}")
    if got != want:
        raise Failure(f"{what}: echo differs: {diff(want, got)}")


async def closed(ws):
    """Waits for the end of the connection and returns (code, reason) received."""
    await ws.wait_closed()
    return ws.close_code, ws.close_reason


async def close_normally(ws):
    await ws.close(1000, "done")
    code, reason = ws.close_code, ws.close_reason
    if code != 1000:
        raise Failure(f"close echo: code {code} reason {reason!r}, want 1000")


def chunks(seq, n):
    return [seq[i : i + n] for i in range(0, len(seq), n)]


async def scenario_echo(opts):
    sizes = [int(s) for s in opts["sizes"].split(",")] if opts.get("sizes") else DEFAULT_SIZES
    ws = await connect(opts)
    for kind in ("text", "binary"):
        for n in sizes:
            msg = payload(kind, n)
            await ws.send(msg)
            await expect_echo(ws, msg, f"{kind} {n} bytes")
    if not opts.get("sizes"):
        for block, times in REPEATS:
            msg = repeat_payload(block, times)
            await ws.send(msg)
            await expect_echo(ws, msg, f"binary {block}-byte block repeated {times} times")
    await close_normally(ws)


async def scenario_fragmented(opts):
    ws = await connect(opts)
    binary = payload("binary", 100000)
    text = payload("text", 70000)
    big = payload("text", 2 << 20)
    cases = [
        ("binary 100000 bytes in 16 KiB fragments", binary, chunks(binary, 16384)),
        ("binary 3 bytes in 1-byte fragments", b"abc", [b"a", b"b", b"c"]),
        ("binary with empty fragments", b"0123456789", [b"", b"01234", b"", b"56789", b""]),
        ("binary empty message in 2 fragments", b"", [b"", b""]),
        ("text 70000 bytes in 1000-character fragments", text, chunks(text, 1000)),
        ("text 2 MiB in 65536-character fragments", big, chunks(big, 65536)),
    ]
    for what, msg, parts in cases:
        await ws.send(parts)
        await expect_echo(ws, msg, what)

    # A ping between two fragments of one message must not disturb it.
    msg = payload("binary", 5000)

    async def with_ping():
        yield msg[:2000]
        await ws.ping(b"mid-message")
        yield msg[2000:]

    await ws.send(with_ping())
    await expect_echo(ws, msg, "binary 5000 bytes with a ping between fragments")
    await close_normally(ws)


async def scenario_utf8(opts):
    ws = await connect(opts)
    text = "aé€𝄞 Grüße, 世界! 😀🎉 ж" * 50
    await ws.send(text)
    await expect_echo(ws, text, "multi-byte text unfragmented")
    # websockets sends str fragments, so boundaries fall between characters,
    # right next to 2-, 3- and 4-byte sequences.
    for step in range(1, 6):
        await ws.send(chunks(text, step))
        await expect_echo(ws, text, f"multi-byte text in {step}-character fragments")
    await close_normally(ws)


async def scenario_bad_utf8(opts):
    ws = await connect(opts)
    # The public API cannot send invalid text, so write raw frames: a valid
    # prefix ending in the first byte of a 3-byte sequence, then a fragment
    # that breaks the sequence.
    await ws.write_frame(False, Opcode.TEXT, text_payload(100).encode() + b"\xe2")
    await ws.write_frame(True, Opcode.CONT, b"\x82\x28\x61")
    code, reason = await closed(ws)
    if code != 1007:
        raise Failure(f"invalid UTF-8: close code {code} reason {reason!r}, want 1007")


async def scenario_close_client(opts):
    ws = await connect(opts)
    await ws.close(4001, "bye")
    code, reason = ws.close_code, ws.close_reason
    if code != 4001:
        raise Failure(f"close echo: code {code} reason {reason!r}, want 4001")


async def scenario_close_server(opts):
    ws = await connect(opts)
    code, reason = await closed(ws)
    if (code, reason) != (4001, "bye"):
        raise Failure(f"server close: code {code} reason {reason!r}, want 4001 'bye'")


async def scenario_ping(opts):
    ws = await connect(opts)
    waiter = await ws.ping(b"client-ping")
    # websockets resolves the waiter only for a pong carrying this payload.
    await waiter
    await ws.pinged.wait()
    await ws.send("done")
    code, reason = await closed(ws)
    if code != 1000:
        raise Failure(f"after ping: close code {code} reason {reason!r}, want 1000")


async def scenario_subprotocol(opts):
    ws = await connect(opts)
    want = opts.get("expect-protocol") or None
    if ws.subprotocol != want:
        raise Failure(f"subprotocol {ws.subprotocol!r}, want {want!r}")
    await close_normally(ws)


async def scenario_origin(opts):
    try:
        ws = await websockets.connect(URL, origin="http://evil.example", compression=None)
    except InvalidStatusCode as e:
        if e.status_code != 403:
            raise Failure(f"cross-origin handshake: HTTP {e.status_code}, want 403")
        print(f"refused with HTTP {e.status_code}")
        return
    await ws.close()
    raise Failure("cross-origin handshake was accepted, want HTTP 403")


async def scenario_silent(opts):
    """Never answers pings, to be dropped by the server's keep-alive."""
    ws = await connect(opts)
    ws.answer_pings = False
    code, _ = await closed(ws)
    print(f"closed by the server: code {code}")


async def scenario_toobig(opts):
    """--ok-size=L: a message of exactly the limit, echoed; then --size=N
    bytes, in --fragments=K fragments if given, refused with 1009."""
    ws = await connect(opts)
    if opts.get("ok-size"):
        ok = b"y" * int(opts["ok-size"])
        await ws.send(ok)
        await expect_echo(ws, ok, f"message of {len(ok)} bytes (at the limit)")
    n = int(opts["size"])
    k = int(opts.get("fragments", 1))
    big = b"z" * n  # compresses to almost nothing
    try:
        await ws.send(chunks(big, -(-n // k)) if k > 1 else big)
    except ConnectionClosed:
        pass  # the server may close before the whole message is written
    code, reason = await closed(ws)
    if code != 1009:
        raise Failure(f"message of {n} bytes in {k} fragments: close code {code} reason {reason!r}, want 1009")


async def scenario_burst(opts):
    """Three messages and a close, without waiting: all must be delivered."""
    ws = await connect(opts)
    for i in range(3):
        await ws.send(f"burst {i}")
    await ws.close(4002, "after")
    if ws.close_code != 4002:
        raise Failure(f"close echo: code {ws.close_code} reason {ws.close_reason!r}, want 4002")


async def scenario_many(opts):
    """--conns=N connections at once, each echoing a few messages."""

    async def one(i):
        ws = await connect(opts)
        for j in range(5):
            msg = f"conn {i} message {j} " + text_payload(100 + 1000 * j)
            await ws.send(msg)
            await expect_echo(ws, msg, f"connection {i} message {j}")
        await close_normally(ws)

    await asyncio.gather(*(one(i) for i in range(int(opts["conns"]))))


SCENARIOS = {
    "echo": scenario_echo,
    "fragmented": scenario_fragmented,
    "utf8": scenario_utf8,
    "bad-utf8": scenario_bad_utf8,
    "close-client": scenario_close_client,
    "close-server": scenario_close_server,
    "ping": scenario_ping,
    "subprotocol": scenario_subprotocol,
    "origin": scenario_origin,
    "silent": scenario_silent,
    "toobig": scenario_toobig,
    "burst": scenario_burst,
    "many": scenario_many,
}


def main():
    global URL
    positional, opts = parse_args(sys.argv[1:])
    URL, scenario = positional
    run = SCENARIOS.get(scenario)
    if run is None:
        print(f"FAIL: unknown scenario {scenario!r}", file=sys.stderr)
        return 1
    asyncio.run(guarded(run, opts, scenario))
    print(f"OK {scenario}")
    return 0


async def guarded(run, opts, scenario):
    """Runs the scenario and exits at once with a verdict if it fails."""
    timeout = float(opts.get("timeout", 60))
    try:
        await asyncio.wait_for(run(opts), timeout)
    except asyncio.TimeoutError:
        fail(scenario, f"timed out after {timeout} s")
    except Failure as e:
        fail(scenario, str(e))
    except Exception as e:
        fail(scenario, repr(e))


def fail(scenario, msg):
    print(f"FAIL: python websockets client, scenario {scenario}: {msg}", file=sys.stderr, flush=True)
    sys.stdout.flush()
    # Skip the library's closing handshake with a broken peer (up to
    # close_timeout per connection): the verdict is already printed.
    os._exit(1)


URL = ""

if __name__ == "__main__":
    sys.exit(main())
