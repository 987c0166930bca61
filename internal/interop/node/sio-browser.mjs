// Drives the demo page of "tether serve" (web/index.html) in Debian's
// headless Chromium, through playwright-core.
//
// Usage: node sio-browser.mjs URL SCENARIO [--chromium=PATH] [--screenshot=PATH]
//        [--tmpdir=DIR] [--timeout=MS] [--text=MESSAGE]
//
// Scenarios:
//   chat     opens the page twice (pages A and B), waits until both are
//            connected, sends --text from A and waits until B shows it
//            with A's socket id; A must show it as its own message.
//   missing  opens the page once, served without the socket.io-client
//            bundle, and waits for the page's "not installed" message.
//
// --chromium is the browser binary (default /usr/bin/chromium); --tmpdir is
// where the browser's throw-away profile goes; --screenshot saves a PNG of
// page B (chat) or of the page (missing); --timeout bounds each wait
// (default 20000).
//
// Lines the test reads: "RESULT {json}" (chat: the socket ids of A and B
// and the text B shows), "CONSOLE ..." and "PAGE ..." for diagnostics, and
// at the end "OK SCENARIO" (exit 0) or "FAIL: ..." (exit 1).

import { parseArgs } from './lib.mjs';

const { positional, opts } = parseArgs(process.argv.slice(2));
const [base, scenario] = positional;
const TIMEOUT_MS = Number(opts.timeout || 20000);

// As in browser.mjs: a quiet browser in a container, running as root.
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

// openPage opens the demo page in a new tab, logging what it reports; an
// uncaught exception in it fails the scenario.
async function openPage(browser, name) {
  const page = await browser.newPage({ viewport: { width: 800, height: 700 } });
  page.on('console', (m) => console.log(`CONSOLE ${name} ${m.type()}: ${m.text()}`));
  page.on('requestfailed', (r) => console.log(`PAGE ${name} request failed: ${r.url()} ${r.failure()?.errorText}`));
  page.on('pageerror', (e) => console.log(`PAGE ${name} uncaught exception: ${e.stack || e}`));
  const response = await page.goto(base, { timeout: TIMEOUT_MS });
  if (!response || !response.ok()) throw new Error(`page ${name}: GET ${base}: ${response ? response.status() : 'no response'}`);
  return page;
}

// socketID waits until the page says it is connected and returns its id.
async function socketID(page, name) {
  await page.waitForSelector('#status[data-state=connected]', { timeout: TIMEOUT_MS });
  const status = await page.textContent('#status');
  const id = status.replace(/^connected as /, '');
  if (id === status || id === '') throw new Error(`page ${name}: status ${JSON.stringify(status)}`);
  return id;
}

async function chat(browser) {
  const text = String(opts.text || 'Hello from page A');
  const a = await openPage(browser, 'A');
  const b = await openPage(browser, 'B');
  const idA = await socketID(a, 'A');
  const idB = await socketID(b, 'B');
  console.log(`PAGE A is ${idA}, B is ${idB}`);

  await a.fill('#message', text);
  await a.click('#send');
  const theirs = b.locator('#messages li.theirs').filter({ hasText: text });
  await theirs.waitFor({ timeout: TIMEOUT_MS });
  const shown = await theirs.first().evaluate((li) => ({
    from: li.querySelector('.from')?.textContent,
    text: li.lastChild.textContent,
    elements: li.children.length, // only the sender's name: the text is never HTML
  }));
  if (shown.from !== idA || shown.text !== text || shown.elements !== 1) {
    throw new Error(`page B shows ${JSON.stringify(shown)}, want the text from ${idA}`);
  }
  const mine = await a.locator('#messages li.mine').filter({ hasText: text }).count();
  if (mine !== 1) throw new Error(`page A shows its own message ${mine} times, want once`);
  if (await a.inputValue('#message') !== '') throw new Error('page A did not clear the message box');
  if (opts.screenshot) await b.screenshot({ path: String(opts.screenshot), fullPage: true });
  console.log(`RESULT ${JSON.stringify({ a: idA, b: idB, received: shown.text })}`);
}

async function missing(browser) {
  const page = await openPage(browser, 'A');
  await page.waitForSelector('#missing', { state: 'visible', timeout: TIMEOUT_MS });
  const state = await page.getAttribute('#status', 'data-state');
  const text = (await page.textContent('#missing')).replace(/\s+/g, ' ').trim();
  if (state !== 'unavailable' || !text.includes('npm ci')) {
    throw new Error(`status ${state}, message ${JSON.stringify(text)}; want unavailable and how to install the bundle`);
  }
  if (!(await page.isDisabled('#send'))) throw new Error('the send button is enabled without a connection');
  if (opts.screenshot) await page.screenshot({ path: String(opts.screenshot), fullPage: true });
  console.log(`RESULT ${JSON.stringify({ message: text })}`);
}

async function main() {
  const run = { chat, missing }[scenario];
  if (!base || !run) throw new Error('usage: node sio-browser.mjs URL chat|missing [--KEY=VALUE]...');
  // playwright-core makes its profile directories under os.tmpdir(), which
  // reads TMPDIR on every call.
  if (opts.tmpdir) process.env.TMPDIR = String(opts.tmpdir);
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: String(opts.chromium || '/usr/bin/chromium'),
    headless: true,
    args: CHROMIUM_ARGS,
    timeout: 20000,
  });
  try {
    console.log(`PAGE browser ${browser.version()}, opening ${base} for ${scenario}`);
    await run(browser);
  } finally {
    await browser.close();
  }
}

try {
  await main();
  console.log(`OK ${scenario}`);
} catch (e) {
  console.log(`FAIL: ${e && e.message ? e.message : e}`);
  process.exitCode = 1;
}
