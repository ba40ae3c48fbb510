// The browser benchmark (not a test): bundle size, first paint, memory-map redraw at 1M pages,
// step click → paint, and seek time in a run of more than a million events. Prints numbers.
// Run after scripts/build-web.sh:  node e2e/bench.mjs
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { DIST, serve, launch, open, position, until } from './lib.mjs';

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const fmt = (ms) => `${ms.toFixed(1)} ms`;

/** Time from an action in the page to the second animation frame after it (the paint). */
async function toPaint(page, action, arg) {
  return page.evaluate(async ([action, arg]) => {
    const t0 = performance.now();
    if (action === 'click') document.querySelector(arg).click();
    if (action === 'seek') {
      const s = document.querySelector('[data-testid="scrubber"]');
      s.value = String(arg);
      s.dispatchEvent(new Event('input', { bubbles: true }));
    }
    await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    return performance.now() - t0;
  }, [action, arg]);
}

const files = fs.readdirSync(DIST).filter((f) => /\.(wasm|js)$/.test(f));
let raw = 0;
let gz = 0;
for (const f of files) {
  const data = fs.readFileSync(path.join(DIST, f));
  raw += data.length;
  gz += zlib.gzipSync(data, { level: 9 }).length;
}
console.log(`bundle: wasm+js ${(raw / 1024).toFixed(0)} KiB, gzip ${gz} bytes = ${(gz / 1024).toFixed(1)} KiB (goal ≤ 350 KB = 350000 bytes)`);

const server = await serve();
const browser = await launch();
try {
  const { page } = await open(browser.context, server.url);
  await page.evaluate(() => localStorage.clear());
  await page.reload();
  await page.getByTestId('position').waitFor();
  await page.waitForFunction(() => performance.getEntriesByName('first-contentful-paint').length > 0, null, { timeout: 10000 });
  const fcp = await page.evaluate(() => performance.getEntriesByName('first-contentful-paint')[0].startTime);
  console.log(`first contentful paint: ${fmt(fcp)}`);

  // A 4 GiB machine: 1M page frames.
  await page.getByTestId('zone-mib-0-2').fill('3072');
  await page.getByTestId('zone-mib-0-2').dispatchEvent('change');
  await page.getByTestId('apply-machine').click();
  await until(async () => /pfn 0–1048576/.test(await page.getByTestId('map-scale').textContent()), 'the 1M-page map', 60000);
  const redraw = [];
  for (let i = 0; i < 10; i++) {
    redraw.push(await toPaint(page, 'click', 'button[aria-label="Zoom in"]'));
    redraw.push(await toPaint(page, 'click', 'button[aria-label="Zoom out"]'));
  }
  const draws = await page.evaluate(() => performance.getEntriesByName('pageflow-map-draw').map((e) => e.duration));
  console.log(`memory map redraw at 1M pages: draw median ${fmt(median(draws.slice(-20)))} (goal ≤ 16 ms); zoom click → paint median ${fmt(median(redraw))}`);
  const steps = [];
  for (let i = 0; i < 20; i++) steps.push(await toPaint(page, 'click', '[data-testid="step"]'));
  console.log(`step click → paint at 1M pages: median ${fmt(median(steps))} (goal ≤ 50 ms)`);

  // A long run to more than a million events, then seeks across it.
  await page.getByTestId('long-ops').fill('4000');
  await page.getByTestId('long-ops').dispatchEvent('change');
  const t0 = Date.now();
  await page.getByTestId('long-run').click();
  await until(async () => (await page.getByTestId('progress').count()) === 0, 'the long run', 600000);
  const { total } = await position(page);
  console.log(`long run of 4000 operations: ${total} events in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const seeks = [];
  for (const f of [0.9, 0.1, 0.5, 0.3, 0.7, 0.95, 0.05, 0.6]) seeks.push(await toPaint(page, 'seek', Math.floor(total * f)));
  console.log(`seek in a ${total}-event run (input → paint): median ${fmt(median(seeks))}, max ${fmt(Math.max(...seeks))} (goal ≤ 100 ms)`);
} finally {
  await browser.close();
  await server.close();
}
