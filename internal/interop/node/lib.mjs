// Helpers shared by ws-client.mjs and ws-server.mjs: deterministic payloads,
// argv parsing and a promise-based message queue over a ws WebSocket.

import { createHash } from 'node:crypto';

// Characters of 1, 2, 3 and 4 UTF-8 bytes, so that fixed-size fragment
// boundaries fall inside multi-byte sequences.
const TEXT_PATTERN = ['a', 'é', '€', '𝄞', 'Z', 'ж', '中', '😀'];

/** Text payload of exactly n UTF-8 bytes, mostly multi-byte characters. */
export function textPayload(n) {
  const unit = Buffer.from(TEXT_PATTERN.join(''), 'utf8');
  const out = Buffer.allocUnsafe(n);
  let size = 0;
  for (; size + unit.length <= n; size += unit.length) unit.copy(out, size);
  for (const ch of TEXT_PATTERN) {
    const rest = n - size;
    if (rest === 0) break;
    // Pad the tail with ASCII to hit n exactly.
    const b = Buffer.byteLength(ch) > rest ? Buffer.alloc(rest, 'x') : Buffer.from(ch, 'utf8');
    b.copy(out, size);
    size += b.length;
  }
  return out;
}

/** Binary payload of n pseudo-random (incompressible) bytes, seeded by n. */
export function binaryPayload(n) {
  const buf = Buffer.allocUnsafe(n);
  let x = (n ^ 0x9e3779b9) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    buf[i] = x & 0xff;
  }
  return buf;
}

/** A block of `block` random bytes repeated `times` times: back-references
 * at distance `block` test the negotiated LZ77 window sizes. */
export function repeatPayload(block, times) {
  return Buffer.concat(Array(times).fill(binaryPayload(block)));
}

// Messages with long-distance repetition that every echo scenario sends.
export const REPEATS = [[1500, 8], [6000, 4], [20000, 2]];

export function payload(type, n) {
  return type === 'text' ? textPayload(n) : binaryPayload(n);
}

export function sha256(buf) {
  return createHash('sha256').update(buf).digest('hex').slice(0, 16);
}

/** Describes how two buffers differ, for diagnostics. */
export function diff(want, got) {
  let i = 0;
  const n = Math.min(want.length, got.length);
  while (i < n && want[i] === got[i]) i++;
  return `want ${want.length} bytes sha256 ${sha256(want)}, got ${got.length} bytes sha256 ${sha256(got)}, first difference at byte ${i}`;
}

/**
 * Parses "--key=value" and "--flag" arguments after the positional ones.
 * Returns { positional: [...], opts: {key: value|true} }.
 */
export function parseArgs(argv) {
  const positional = [];
  const opts = {};
  for (const a of argv) {
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      if (eq < 0) opts[a.slice(2)] = true;
      else opts[a.slice(2, eq)] = a.slice(eq + 1);
    } else {
      positional.push(a);
    }
  }
  return { positional, opts };
}

/**
 * Queues messages and the close event of a ws WebSocket so a scripted
 * scenario can await them in order.
 */
export class Inbox {
  constructor(ws) {
    this.items = [];
    this.waiters = [];
    this.closed = null;
    // Registered before any frame is parsed, so an early ping is not missed.
    this.firstPing = new Promise((resolve) => ws.once('ping', resolve));
    ws.on('message', (data, isBinary) => this.push({ data, type: isBinary ? 'binary' : 'text' }));
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      for (const w of this.waiters.splice(0)) w.resolve(null);
    });
  }

  push(m) {
    const w = this.waiters.shift();
    if (w) w.resolve(m);
    else this.items.push(m);
  }

  /** Next message, or throws if the connection closes first. */
  async next() {
    const m = this.items.length ? this.items.shift() : await this.wait();
    if (m === null) {
      throw new Error(`connection closed while waiting for a message: code ${this.closed.code} reason ${JSON.stringify(this.closed.reason)}`);
    }
    return m;
  }

  wait() {
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve) => this.waiters.push({ resolve }));
  }

  /** Resolves with {code, reason} once the connection is closed. */
  async closeEvent() {
    while (!this.closed) {
      const m = await this.wait();
      if (m !== null) throw new Error(`unexpected ${m.type} message of ${m.data.length} bytes while waiting for close`);
    }
    return this.closed;
  }
}
