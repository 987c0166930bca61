"""The Socket.IO test server of docs/TEST-SERVERS.md section 1 (1.1 to 1.3),
written with python-socketio's AsyncServer on aiohttp (Debian
python3-socketio 5.7.2, python3-aiohttp), as a reference: a scenario that
passes here and fails against Tether points at Tether.

Usage: sio_reference_server.py [PORT] [--serializer=msgpack]
  PORT        TCP port on 127.0.0.1; 0 or absent picks a free one.
  serializer  msgpack: python-socketio's MessagePack packets for every
              client (Debian's python3-msgpack)

Prints "listening on http://127.0.0.1:PORT" once it accepts connections,
then serves /socket.io/ until SIGINT or SIGTERM. Other paths answer 404.
The /engine.io/ echo endpoint of 1.4 is not part of this server.
"""
import asyncio
import signal
import sys

import socketio
from aiohttp import web

from socketio import packet

from peerlib import parse_args

PING_INTERVAL = 0.3
PING_TIMEOUT = 0.2
MAX_PAYLOAD = 1_000_000
CONNECT_TIMEOUT = 1.0
NAMESPACES = ["/", "/custom"]


class ReferenceServer(socketio.AsyncServer):
    """AsyncServer with the two behaviours of section 1 that python-socketio
    5.7.2 lacks: the CONNECT_ERROR payload {"message": "Invalid namespace"}
    (it sends the string "Unable to connect") and the connect timeout."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._joined = set()  # Engine.IO sids that connected to a namespace

    async def _handle_eio_connect(self, eio_sid, environ):
        await super()._handle_eio_connect(eio_sid, environ)
        self.start_background_task(self._connect_timeout, eio_sid)

    async def _connect_timeout(self, eio_sid):
        await asyncio.sleep(CONNECT_TIMEOUT)
        if eio_sid not in self._joined and eio_sid in self.environ:
            await self.eio.disconnect(eio_sid)

    async def _handle_eio_disconnect(self, eio_sid):
        self._joined.discard(eio_sid)
        await super()._handle_eio_disconnect(eio_sid)

    async def _handle_connect(self, eio_sid, namespace, data):
        namespace = namespace or "/"
        if namespace not in NAMESPACES:
            await self._send_packet(eio_sid, self.packet_class(
                packet.CONNECT_ERROR, data={"message": "Invalid namespace"},
                namespace=namespace))
            return
        self._joined.add(eio_sid)
        await super()._handle_connect(eio_sid, namespace, data)


def build_app(serializer):
    sio = ReferenceServer(
        serializer=serializer,
        async_mode="aiohttp",
        ping_interval=PING_INTERVAL,
        ping_timeout=PING_TIMEOUT,
        max_http_buffer_size=MAX_PAYLOAD,
        cors_allowed_origins="*",
        namespaces=NAMESPACES,
        # CONNECT goes out before the connect handler runs, so that the
        # "auth" event it emits follows it.
        always_connect=True,
    )

    def register_auth(namespace):
        # python-socketio passes the auth payload only when it is truthy, so
        # an absent or empty one both come back as {}.
        async def connect(sid, environ, auth=None):
            await sio.emit("auth", auth if auth is not None else {},
                           to=sid, namespace=namespace)
        sio.on("connect", connect, namespace=namespace)

    register_auth("/")
    register_auth("/custom")

    # A tuple is sent as that many arguments; a list would be one argument.
    @sio.on("message")
    async def message(sid, *args):
        await sio.emit("message-back", tuple(args), to=sid)

    @sio.on("message-with-ack")
    async def message_with_ack(sid, *args):
        return tuple(args)

    @sio.on("join")
    async def join(sid, room=None, *_):
        sio.enter_room(sid, room)
        return room  # sent only if the client asked for an ack

    @sio.on("to-room")
    async def to_room(sid, room=None, *args):
        await sio.emit("room-message", tuple(args), room=room, skip_sid=sid)

    @sio.on("broadcast")
    async def broadcast(sid, *args):
        await sio.emit("broadcast-back", tuple(args), skip_sid=sid)

    @sio.on("request-ack")
    async def request_ack(sid, *args):
        async def got_ack(*values):
            await sio.emit("ack-result", tuple(values), to=sid)
        await sio.emit("ack-me", tuple(args), to=sid, callback=got_ack)

    @sio.on("disconnect-me")
    async def disconnect_me(sid, *_):
        await sio.disconnect(sid)

    app = web.Application()
    sio.attach(app, socketio_path="socket.io")
    return app


async def serve(port, serializer):
    runner = web.AppRunner(build_app(serializer), handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    bound = runner.addresses[0][1]
    print("listening on http://127.0.0.1:%d" % bound, flush=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


def main():
    positional, opts = parse_args(sys.argv[1:])
    port = int(positional[0]) if positional else 0
    asyncio.run(serve(port, opts.get("serializer", "default")))


if __name__ == "__main__":
    main()
