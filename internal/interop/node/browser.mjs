// Runs one scenario of the browser test pages (browser/) in Debian's
// headless Chromium, driven through playwright-core.
//
// Usage: node browser.mjs URL SCENARIO [--chromium=PATH] [--screenshot=PATH]
//        [--tmpdir=DIR] [--timeout=MS] [--KEY=VALUE]...
//
// URL is the base the pages are served from, e.g. http://127.0.0.1:3000.
// Scenarios ws-* run on URL/ws.html, eio-* on URL/eio.html; SCENARIO and
// every --KEY=VALUE not listed above become query parameters of the page.
// The page publishes its outcome as window.__result.
//
// --chromium is the browser binary (default /usr/bin/chromium); --tmpdir is
// where the browser's throw-away profile goes (default the system's);
// --screenshot saves a PNG of the page once it is done; --timeout bounds the
// wait for the page's result (default 25000).
//
// Lines the test reads: "RESULT {json}" with the page's result, "CONSOLE ..."
// and "PAGE ..." for diagnostics, and at the end "OK SCENARIO" (exit 0) or
// "FAIL: ..." (exit 1).

import { parseArgs } from './lib.mjs';

const { positional, opts } = parseArgs(process.argv.slice(2));
const [base, scenario] = positional;
const TIMEOUT_MS = Number(opts.timeout || 25000);
const OWN_OPTIONS = ['chromium', 'screenshot', 'tmpdir', 'timeout'];

// Flags for a quiet browser in a container: no sandbox (we run as root),
// no GPU, and nothing that reaches the network on its own.
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

function pageURL() {
  const page = { ws: 'ws.html', eio: 'eio.html' }[scenario.split('-')[0]];
  if (!page) throw new Error(`unknown scenario ${scenario}: want ws-* or eio-*`);
  const url = new URL(page, base.endsWith('/') ? base : base + '/');
  url.searchParams.set('scenario', scenario);
  for (const [k, v] of Object.entries(opts)) {
    if (!OWN_OPTIONS.includes(k)) url.searchParams.set(k, String(v));
  }
  return url.href;
}

async function main() {
  if (!base || !scenario) throw new Error('usage: node browser.mjs URL SCENARIO [--KEY=VALUE]...');
  const url = pageURL();
  // playwright-core makes its profile and artifact directories under
  // os.tmpdir(), which reads TMPDIR on every call.
  if (opts.tmpdir) process.env.TMPDIR = String(opts.tmpdir);
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: String(opts.chromium || '/usr/bin/chromium'),
    headless: true,
    args: CHROMIUM_ARGS,
    timeout: 20000,
  });
  try {
    console.log(`PAGE browser ${browser.version()}, opening ${url}`);
    const page = await browser.newPage();
    page.on('console', (m) => console.log(`CONSOLE ${m.type()}: ${m.text()}`));
    page.on('requestfailed', (r) => console.log(`PAGE request failed: ${r.url()} ${r.failure()?.errorText}`));
    // An uncaught exception means the page cannot be trusted to finish.
    const crashed = new Promise((_, reject) => {
      page.on('pageerror', (e) => reject(new Error(`uncaught exception in the page: ${e.stack || e}`)));
      page.on('crash', () => reject(new Error('the page crashed')));
    });
    crashed.catch(() => {});
    const response = await page.goto(url, { timeout: TIMEOUT_MS });
    if (!response || !response.ok()) throw new Error(`GET ${url}: ${response ? response.status() : 'no response'}`);
    await Promise.race([
      page.waitForFunction(() => window.__result !== undefined, null, { timeout: TIMEOUT_MS, polling: 50 }),
      crashed,
    ]);
    const result = await page.evaluate(() => window.__result);
    console.log(`RESULT ${JSON.stringify(result)}`);
    if (opts.screenshot) await page.screenshot({ path: String(opts.screenshot), fullPage: true });
    if (!result.ok) throw new Error(`the page failed: ${result.error}`);
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
