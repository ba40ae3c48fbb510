// Shared by the browser tests and the browser benchmark: serve dist/ on loopback under a subpath
// (as a static host would) and start Debian's Chromium through playwright-core.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const DIST = path.resolve(here, '..', 'dist');
export const SUBPATH = '/some/sub/path/';
export const SHOTS = path.resolve(here, '..', 'target', 'e2e-screenshots');

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.wasm': 'application/wasm',
  '.css': 'text/css', '.svg': 'image/svg+xml', '.json': 'application/json',
};

/** Serve dist/ under SUBPATH on a free loopback port. */
export async function serve() {
  if (!fs.existsSync(path.join(DIST, 'index.html'))) {
    throw new Error(`no build in ${DIST}: run scripts/build-web.sh first`);
  }
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://localhost');
    if (!url.pathname.startsWith(SUBPATH)) { res.writeHead(404); res.end('not here'); return; }
    let rel = decodeURIComponent(url.pathname.slice(SUBPATH.length)) || 'index.html';
    const file = path.resolve(DIST, rel);
    if (!file.startsWith(DIST) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) {
      res.writeHead(404); res.end('not found'); return;
    }
    res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream' });
    fs.createReadStream(file).pipe(res);
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address();
  return { url: `http://127.0.0.1:${port}${SUBPATH}`, close: () => new Promise((ok) => server.close(ok)) };
}

/** Debian's Chromium, headless, with a fresh profile and no background networking. */
export async function launch() {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pageflow-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1440, height: 1000 },
  });
  return { context, close: async () => { await context.close(); fs.rmSync(userDataDir, { recursive: true, force: true }); } };
}

/** A page that records console errors and page errors; waits until the app has drawn. */
export async function open(context, url) {
  const page = await context.newPage();
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(url);
  await page.getByTestId('position').waitFor();
  return { page, errors };
}

/** The position line as numbers: event, events, action, actions. */
export async function position(page) {
  const text = await page.getByTestId('position').textContent();
  const m = text.match(/event (\d+) \/ (\d+) · action (\d+) \/ (\d+)/);
  if (!m) throw new Error(`unreadable position: ${text}`);
  return { pos: +m[1], total: +m[2], action: +m[3], actions: +m[4] };
}

export async function screenshot(page, name) {
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

/** Everything the panels show as text, plus the memory map's pixels: "the state" for comparisons.
 * Yew's scheduler yields to the browser every 16 ms while it still has props updates for child
 * components queued, so on a loaded machine a read right after a key press can see the position
 * line of the new step beside panels of the old one. Read until two reads a frame apart agree. */
export async function state(page) {
  let last = await read(page);
  for (;;) {
    await page.evaluate(() => new Promise((done) => requestAnimationFrame(() => setTimeout(done, 0))));
    const now = await read(page);
    if (JSON.stringify(now) === JSON.stringify(last)) return now;
    last = now;
  }
}

function read(page) {
  return page.evaluate(() => {
    const text = (id) => [...document.querySelectorAll(`[data-testid="${id}"]`)].map((e) => e.innerText).join('\n');
    const canvas = document.querySelector('[data-testid="memory-map"]');
    return {
      position: text('position'), pcp: text('pcp-columns'), holders: text('holders'), legend: text('legend'),
      freeArea: [...document.querySelectorAll('table.free-area')].map((t) => t.innerText).join('\n'),
      log: text('event-log'), stack: text('call-stack'), map: canvas.toDataURL(),
    };
  });
}

/** Wait for a condition checked in Node, polling. */
export async function until(check, what, timeoutMs = 20000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
