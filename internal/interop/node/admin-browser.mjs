// Drives the Socket.IO Admin UI that "tether serve --admin" serves at /admin/
// in Debian's headless Chromium, through playwright-core, as an operator would.
//
// Usage: node admin-browser.mjs URL SCENARIO --user=NAME --password=PW
//        [--chromium=PATH] [--tmpdir=DIR] [--screenshot=PATH]
//        [--events-screenshot=PATH] [--timeout=MS]
//
// Scenario "dashboard":
//   1. opens the demo page (tab A), which connects a socket to "/";
//   2. opens URL/admin/, where the UI asks for the server: first a wrong
//      password, which the UI must answer with "Invalid credentials", then
//      the right one;
//   3. on the Sockets view, sees A's socket; opens the demo page again (tab B)
//      and sees B's socket appear;
//   4. saves a screenshot of the Sockets view (--screenshot);
//   5. A sends a chat message: the Events view lists it as received from A;
//   6. on A's socket page, joins A to room "lobby" with the UI's form: the
//      page lists the room, and the Events view the join; saves a screenshot
//      of the Events view (--events-screenshot);
//   7. clicks the disconnect button of B's row: tab B must show it was
//      disconnected, and B's row must go;
//   8. closes tab A: A's row must go.
//
// Requests to other hosts (the UI's web fonts and icons) are refused, so the
// test needs no network; the UI then shows icons as blanks.
//
// Lines the test reads: "RESULT {json}" (the socket ids), "CONSOLE ..." and
// "PAGE ..." for diagnostics, and at the end "OK SCENARIO" (exit 0) or
// "FAIL: ..." (exit 1).

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

function log(page, name) {
  page.on('console', (m) => console.log(`CONSOLE ${name} ${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => console.log(`PAGE ${name} uncaught exception: ${e.stack || e}`));
}

// demoPage opens the chat demo and returns it with its socket id.
async function demoPage(context, name) {
  const page = await context.newPage();
  log(page, name);
  await page.goto(`${base}/`, { timeout: TIMEOUT_MS });
  await page.waitForSelector('#status[data-state=connected]', { timeout: TIMEOUT_MS });
  const id = (await page.textContent('#status')).replace(/^connected as /, '');
  console.log(`PAGE ${name} is ${id}`);
  return { page, id };
}

async function login(ui, password) {
  await ui.getByLabel('Server URL').fill(base);
  await ui.getByLabel('Username').fill(String(opts.user));
  await ui.getByLabel('Password').fill(password);
  await ui.getByRole('button', { name: 'Connect' }).click();
}

// go shows the UI's view at hash and waits for the views to stop sliding.
async function go(ui, hash) {
  await ui.evaluate((h) => { window.location.hash = h; }, hash);
  await ui.waitForTimeout(500);
}

// row is the Sockets table's row of socket id.
function row(ui, id) {
  return ui.locator('tbody tr').filter({ hasText: id });
}

async function dashboard(context) {
  const a = await demoPage(context, 'A');

  const ui = await context.newPage();
  log(ui, 'UI');
  const response = await ui.goto(`${base}/admin/`, { timeout: TIMEOUT_MS });
  if (!response || !response.ok()) throw new Error(`GET ${base}/admin/: ${response ? response.status() : 'no response'}`);

  await login(ui, 'not the password');
  await ui.getByText('Invalid credentials').waitFor({ timeout: TIMEOUT_MS });
  console.log('PAGE UI refused the wrong password');
  await login(ui, String(opts.password));
  await ui.getByRole('button', { name: 'Connect' }).waitFor({ state: 'hidden', timeout: TIMEOUT_MS });

  await go(ui, '#/sockets/');
  await row(ui, a.id).waitFor({ timeout: TIMEOUT_MS });
  console.log('PAGE UI shows A');

  const b = await demoPage(context, 'B');
  await row(ui, b.id).waitFor({ timeout: TIMEOUT_MS });
  console.log('PAGE UI shows B');
  if (opts.screenshot) await ui.screenshot({ path: String(opts.screenshot), fullPage: true });

  await a.page.fill('#message', 'hello admin');
  await a.page.click('#send');
  await go(ui, '#/events/');
  await ui.locator('tbody tr').filter({ hasText: a.id }).filter({ hasText: 'Event received' })
    .filter({ hasText: 'message' }).first().waitFor({ timeout: TIMEOUT_MS });
  console.log('PAGE UI lists the event A sent');

  await go(ui, `#/n/${encodeURIComponent('/')}/sockets/${a.id}`);
  await ui.getByLabel('Join a room').fill('lobby');
  await ui.locator('form').filter({ has: ui.locator('.select-room') }).locator('button[type=submit]').click();
  await ui.locator('tbody tr').filter({ hasText: /^\s*lobby\s*$/ }).first().waitFor({ timeout: TIMEOUT_MS });
  await go(ui, '#/events/');
  await ui.locator('tbody tr').filter({ hasText: a.id }).filter({ hasText: 'Room joined' })
    .filter({ hasText: 'lobby' }).first().waitFor({ timeout: TIMEOUT_MS });
  console.log('PAGE UI joined A to lobby');
  if (opts['events-screenshot']) await ui.screenshot({ path: String(opts['events-screenshot']), fullPage: true });

  await go(ui, '#/sockets/');
  await row(ui, b.id).locator('button').click();
  await b.page.waitForSelector('#status[data-state=disconnected]', { timeout: TIMEOUT_MS });
  // The click reaches the row too, which opens the socket's page, as with Node's server.
  await go(ui, '#/sockets/');
  await row(ui, a.id).waitFor({ timeout: TIMEOUT_MS });
  // Counted, not waited for: while the views slide, the socket's page still shows its id.
  for (const end = Date.now() + TIMEOUT_MS; await row(ui, b.id).count() > 0;) {
    if (Date.now() > end) throw new Error('B is still listed after its disconnection');
    await ui.waitForTimeout(100);
  }
  if (await row(ui, a.id).count() !== 1) throw new Error('A left the Sockets view with B');
  const bLog = (await b.page.textContent('#messages')).replace(/\s+/g, ' ');

  await a.page.close();
  for (const end = Date.now() + TIMEOUT_MS; await row(ui, a.id).count() > 0;) {
    if (Date.now() > end) throw new Error('A is still listed after its tab was closed');
    await ui.waitForTimeout(100);
  }
  console.log(`RESULT ${JSON.stringify({ a: a.id, b: b.id, bLog })}`);
}

async function main() {
  const run = { dashboard }[scenario];
  if (!base || !run) throw new Error('usage: node admin-browser.mjs URL dashboard --user=NAME --password=PW [--KEY=VALUE]...');
  if (opts.tmpdir) process.env.TMPDIR = String(opts.tmpdir);
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: String(opts.chromium || '/usr/bin/chromium'),
    headless: true,
    args: CHROMIUM_ARGS,
    timeout: 20000,
  });
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    await context.route((url) => !url.href.startsWith(base), (route) => route.abort());
    console.log(`PAGE browser ${browser.version()}, opening ${base} for ${scenario}`);
    await run(context);
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
