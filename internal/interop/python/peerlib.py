"""Helpers shared by ws_client.py and ws_server.py: deterministic payloads,
argv parsing and diagnostics. Runs on Debian's /usr/bin/python3 with
python3-websockets 10.x (legacy asyncio API)."""

import hashlib
import random

# Characters of 1, 2, 3 and 4 UTF-8 bytes, so that fragment boundaries sit
# next to (and, for byte-level splits, inside) multi-byte sequences.
TEXT_PATTERN = ["a", "é", "€", "𝄞", "Z", "ж", "中", "😀"]

MAX_SIZE = 64 << 20

SUPPORTED_SUBPROTOCOLS = ["tether.v1", "tether.v2"]


def text_payload(n):
    """Text of exactly n UTF-8 bytes, mostly multi-byte characters."""
    unit = "".join(TEXT_PATTERN)
    unit_len = len(unit.encode())
    parts = [unit * (n // unit_len)]
    rest = n % unit_len
    for ch in TEXT_PATTERN:
        if rest == 0:
            break
        if len(ch.encode()) > rest:
            ch = "x" * rest  # pad the tail with ASCII to hit n exactly
        parts.append(ch)
        rest -= len(ch.encode())
    return "".join(parts)


def binary_payload(n):
    """n pseudo-random (incompressible) bytes, seeded by n."""
    return random.Random(n).randbytes(n)


def repeat_payload(block, times):
    """A block of random bytes repeated: back-references at distance block
    test the negotiated LZ77 window sizes."""
    return binary_payload(block) * times


# Messages with long-distance repetition that every echo scenario sends.
REPEATS = [(1500, 8), (6000, 4), (20000, 2)]


def payload(kind, n):
    return text_payload(n) if kind == "text" else binary_payload(n)


def as_bytes(msg):
    return msg.encode() if isinstance(msg, str) else bytes(msg)


def kind_of(msg):
    return "text" if isinstance(msg, str) else "binary"


def sha256(b):
    return hashlib.sha256(b).hexdigest()[:16]


def diff(want, got):
    """Describes how two messages differ, for diagnostics."""
    w, g = as_bytes(want), as_bytes(got)
    i = 0
    n = min(len(w), len(g))
    while i < n and w[i] == g[i]:
        i += 1
    return (
        f"want {len(w)} bytes sha256 {sha256(w)}, got {len(g)} bytes "
        f"sha256 {sha256(g)}, first difference at byte {i}"
    )


def parse_args(argv):
    """Splits argv into positional arguments and --key[=value] options."""
    positional, opts = [], {}
    for a in argv:
        if a.startswith("--"):
            key, eq, value = a[2:].partition("=")
            opts[key] = value if eq else True
        else:
            positional.append(a)
    return positional, opts


def first_supported(client_subprotocols, server_subprotocols):
    """Picks the first subprotocol of the client's list that the server
    supports, the rule Tether's tests expect of every server."""
    for p in client_subprotocols:
        if p in server_subprotocols:
            return p
    return None
