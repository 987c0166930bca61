"""WebSocket server peer for Tether's interop tests, built on Debian's
python3-websockets 10.x (legacy asyncio API). Run with /usr/bin/python3.

Usage: ws_server.py [--deflate [--client-window=BITS]]

With --deflate alone, websockets' defaults apply: it answers
server_max_window_bits=12 and, when offered, client_max_window_bits=12.

Listens on 127.0.0.1 on a free port and prints "PORT <n>" first. The request
path picks what the server does with a connection (the query string carries
parameters, and an "id" that is repeated in every report):

  /echo                       echo every message unchanged
  /echo-fragmented?frag=K     echo every message in fragments of K bytes
                              (binary) or K characters (text)
  /close?code=C&reason=R      close at once with C and R
  /ping?payload=P             ping with P, report the pong, close with 1000 "pinged"
  /send?size=N                send one binary message of N bytes
  /burst?count=N&code=C&reason=R  send text messages "burst 0".. then close at once
  /bad-utf8                   send a text message that is not valid UTF-8

Supported subprotocols: tether.v1, tether.v2 (the first of the client's list
that is supported wins). A handshake with Origin http://evil.example is
refused with 403. Events are printed as "REPORT <json>" lines.
"""

import asyncio
import http
import json
import signal
import sys
from urllib.parse import parse_qs, urlsplit

import websockets
from websockets.exceptions import ConnectionClosed
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from websockets.frames import Opcode

from peerlib import MAX_SIZE, SUPPORTED_SUBPROTOCOLS, first_supported, parse_args


def report(**fields):
    print("REPORT " + json.dumps(fields), flush=True)


def refuse_cross_origin(path, headers):
    if headers.get("Origin") == "http://evil.example":
        return http.HTTPStatus.FORBIDDEN, [], b"cross-origin request refused\n"
    return None


def fragments(msg, k):
    if not msg:
        return [msg]
    return [msg[i : i + k] for i in range(0, len(msg), k)]


async def handler(ws):
    url = urlsplit(ws.path)
    q = {k: v[0] for k, v in parse_qs(url.query).items()}
    cid = q.get("id", "")
    report(
        id=cid,
        event="open",
        path=url.path,
        protocol=ws.subprotocol or "",
        extensions=",".join(e.name for e in ws.extensions),
    )
    try:
        if url.path == "/echo":
            async for msg in ws:
                await ws.send(msg)
        elif url.path == "/echo-fragmented":
            k = int(q.get("frag", "1000"))
            async for msg in ws:
                await ws.send(fragments(msg, k))
        elif url.path == "/close":
            await ws.close(int(q["code"]), q.get("reason", ""))
        elif url.path == "/ping":
            payload = q.get("payload", "").encode()
            waiter = await ws.ping(payload)
            await waiter  # resolved only by a pong carrying this payload
            report(id=cid, event="pong", payload=payload.decode())
            await ws.close(1000, "pinged")
        elif url.path == "/send":
            await ws.send(b"z" * int(q["size"]))
        elif url.path == "/burst":
            for i in range(int(q["count"])):
                await ws.send(f"burst {i}")
            await ws.close(int(q["code"]), q.get("reason", ""))
        elif url.path == "/bad-utf8":
            # The public API cannot send invalid text; write the frame directly.
            await ws.write_frame(True, Opcode.TEXT, b"hi\xc3\x28")
        else:
            await ws.close(4404, "unknown path")
        if url.path not in ("/echo", "/echo-fragmented"):
            async for msg in ws:
                report(id=cid, event="unexpected-message", size=len(msg))
    except ConnectionClosed:
        pass
    await ws.wait_closed()
    report(id=cid, event="close", code=ws.close_code, reason=ws.close_reason or "")


async def main():
    _, opts = parse_args(sys.argv[1:])
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    compression, extensions = ("deflate" if opts.get("deflate") else None), None
    if opts.get("deflate") and opts.get("client-window"):
        # Makes the client compress within a small LZ77 window.
        compression = None
        extensions = [
            ServerPerMessageDeflateFactory(
                client_max_window_bits=int(opts["client-window"]),
                compress_settings={"memLevel": 5},
            )
        ]
    async with websockets.serve(
        handler,
        "127.0.0.1",
        0,
        compression=compression,
        extensions=extensions,
        max_size=MAX_SIZE,
        subprotocols=SUPPORTED_SUBPROTOCOLS,
        select_subprotocol=first_supported,
        process_request=refuse_cross_origin,
        ping_interval=None,
        close_timeout=10,
    ) as server:
        print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
        await stop


if __name__ == "__main__":
    asyncio.run(main())
