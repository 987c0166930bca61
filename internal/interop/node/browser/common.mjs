// Helpers shared by the test pages: the scenario runner whose result
// browser.mjs waits for, a log shown on the page, deterministic payloads and
// a queue of events a scenario can await in order.

export const params = new URLSearchParams(location.search);

const logElement = document.getElementById('log');

/** Appends a line to the page, which the screenshot shows. */
export function log(line) {
  logElement.textContent += line + '\n';
}

/**
 * Runs the scenario named by the "scenario" query parameter and publishes
 * its outcome as window.__result: {ok: true, ...details} or
 * {ok: false, error}. browser.mjs polls for it.
 */
export async function run(scenarios) {
  const name = params.get('scenario');
  document.title = name;
  let result;
  try {
    const scenario = scenarios[name];
    if (!scenario) throw new Error(`unknown scenario ${JSON.stringify(name)}`);
    log(`scenario ${name}`);
    result = { ok: true, ...(await scenario()) };
    log('OK');
  } catch (e) {
    result = { ok: false, error: String((e && e.stack) || e) };
    log(`FAIL: ${result.error}`);
  }
  document.body.dataset.done = result.ok ? 'ok' : 'fail';
  window.__result = result;
}

/** Rejects with "what timed out" unless promise settles within ms. */
export function within(ms, what, promise) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// Characters of 1, 2, 3 and 4 UTF-8 bytes (the last two as surrogate pairs
// in JavaScript), so that frame and fragment boundaries fall inside them.
const TEXT_PATTERN = ['a', 'é', '€', '𝄞', 'Z', 'ж', '中', '😀'];
const encoder = new TextEncoder();

/** A string of exactly n UTF-8 bytes, mostly multi-byte characters. */
export function textPayload(n) {
  const parts = [];
  let size = 0;
  for (let i = 0; size < n; i++) {
    let ch = TEXT_PATTERN[i % TEXT_PATTERN.length];
    const len = encoder.encode(ch).length;
    if (size + len > n) ch = 'x'; // pad the tail with ASCII to hit n exactly
    parts.push(ch);
    size += ch === 'x' ? 1 : len;
  }
  return parts.join('');
}

/** n pseudo-random (incompressible) bytes, seeded by n (xorshift32). */
export function binaryPayload(n) {
  const out = new Uint8Array(n);
  let x = (n ^ 0x9e3779b9) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** A block of random bytes repeated: compressible, with long back-references. */
export function repeatPayload(block, times) {
  const b = binaryPayload(block);
  const out = new Uint8Array(block * times);
  for (let i = 0; i < times; i++) out.set(b, i * block);
  return out;
}

/** Returns undefined when the bytes are equal, else how they differ. */
export function bytesDiffer(want, got) {
  const a = new Uint8Array(want);
  const b = new Uint8Array(got);
  let i = 0;
  const n = Math.min(a.length, b.length);
  while (i < n && a[i] === b[i]) i++;
  if (i === n && a.length === b.length) return undefined;
  return `want ${a.length} bytes, got ${b.length}, first difference at byte ${i}`;
}

/** Describes a received message for error messages. */
export function describe(data) {
  if (typeof data === 'string') return `text of ${encoder.encode(data).length} bytes`;
  if (data instanceof ArrayBuffer) return `ArrayBuffer of ${data.byteLength} bytes`;
  return Object.prototype.toString.call(data);
}

/** Fails unless got is the echo of want (a string, or bytes as an ArrayBuffer). */
export function checkEcho(what, want, got) {
  if (typeof want === 'string') {
    if (typeof got !== 'string') throw new Error(`${what}: echo is ${describe(got)}, want text`);
    if (got !== want) {
      const diff = bytesDiffer(encoder.encode(want), encoder.encode(got));
      throw new Error(`${what}: text echo differs: ${diff}`);
    }
    return;
  }
  if (!(got instanceof ArrayBuffer)) throw new Error(`${what}: echo is ${describe(got)}, want an ArrayBuffer`);
  const diff = bytesDiffer(want, got);
  if (diff) throw new Error(`${what}: binary echo differs: ${diff}`);
}

/**
 * Queues messages until a scenario asks for them; once end() is called
 * (the connection closed), waiting for a message throws.
 */
export class Inbox {
  constructor() {
    this.items = [];
    this.waiters = [];
    this.ended = null;
  }

  push(data) {
    const w = this.waiters.shift();
    if (w) w.resolve(data);
    else this.items.push(data);
  }

  end(why) {
    this.ended = why;
    for (const w of this.waiters.splice(0)) w.reject(new Error(`closed while waiting for a message: ${why}`));
  }

  /** The next message; throws if the connection closed first. */
  next() {
    if (this.items.length) return Promise.resolve(this.items.shift());
    if (this.ended !== null) return Promise.reject(new Error(`closed while waiting for a message: ${this.ended}`));
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }
}
