// The playground in Debian's Chromium, against the release build served under a subpath.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { serve, launch, open, position, screenshot, state, until } from '../lib.mjs';

let server;
let browser;

before(async () => {
  server = await serve();
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await server?.close();
});

/** A page on the built-in scenario, with nothing saved from an earlier test. */
async function fresh() {
  const { page, errors } = await open(browser.context, server.url);
  await page.evaluate(() => localStorage.clear());
  await page.reload();
  await page.getByTestId('position').waitFor();
  return { page, errors };
}

describe('the playground', () => {
  it('loads with no console errors and shows every panel', async () => {
    const { page, errors } = await fresh();
    for (const id of ['memory-map', 'pcp-columns', 'event-log', 'action-list', 'legend', 'plot-free', 'plot-pcp', 'plot-cost', 'plot-ns-per-page']) {
      await page.getByTestId(id).waitFor();
    }
    await page.getByTestId('holders').waitFor({ state: 'attached' }); // empty before the first step
    const p = await position(page);
    assert.equal(p.pos, 0);
    assert.ok(p.total > 100, `the built-in scenario has events (${p.total})`);
    assert.equal(p.actions, 12);
    await page.keyboard.press('End');
    await screenshot(page, 'desktop-end-of-default-scenario');
    await page.setViewportSize({ width: 390, height: 844 });
    await screenshot(page, 'phone-390px');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `no sideways scrolling on a phone (overflow ${overflow}px)`);
    assert.deepEqual(errors, []);
    await page.close();
  });

  it('changing the CPU count adds pcp columns', async () => {
    const { page, errors } = await fresh();
    assert.equal(await page.getByTestId('pcp-column').count(), 4);
    await page.getByTestId('cpus').fill('8');
    await page.getByTestId('cpus').dispatchEvent('change');
    await page.getByTestId('apply-machine').click();
    await until(async () => (await page.getByTestId('pcp-column').count()) === 8, '8 pcp columns');
    assert.equal((await position(page)).actions, 12, 'the same actions ran again');
    assert.deepEqual(errors, []);
    await page.close();
  });

  it('an impossible machine gives a message and keeps the running one', async () => {
    const { page } = await fresh();
    await page.getByTestId('cpus').fill('65');
    await page.getByTestId('cpus').dispatchEvent('change');
    await page.getByTestId('apply-machine').click();
    const banner = await page.getByTestId('banner').textContent();
    assert.match(banner, /cpus/);
    assert.match(banner, /65/);
    assert.equal(await page.getByTestId('pcp-column').count(), 4);
    await page.close();
  });

  it('a bulk request animates page by page and ends with the counts the core reports', async () => {
    const { page, errors } = await fresh();
    await page.keyboard.press('End');
    await page.getByTestId('action-n').fill('16');
    await page.getByTestId('action-n').dispatchEvent('change');
    await page.getByTestId('action-into').fill('e2e');
    await page.getByTestId('action-into').dispatchEvent('change');
    await page.getByTestId('run-action').click();
    const holder = page.getByTestId('holder-e2e');
    const seen = new Set();
    await until(async () => {
      const text = (await holder.count()) ? await holder.locator('h3').textContent() : '';
      const m = text.match(/(\d+) blocks?/);
      if (m) seen.add(+m[1]);
      const p = await position(page);
      return p.pos === p.total;
    }, 'the animation to finish', 60000);
    const partial = [...seen].filter((n) => n > 0 && n < 16);
    assert.ok(partial.length >= 2, `pages arrived a few at a time (saw ${[...seen].sort((a, b) => a - b)})`);
    const rows = page.getByTestId('action-row');
    const last = rows.nth((await rows.count()) - 1);
    assert.equal(await last.getByTestId('action-result').textContent(), '16');
    assert.match(await holder.locator('h3').textContent(), /16 blocks/);
    assert.equal(await holder.locator('li.slot:not(.null)').count(), 16);
    await screenshot(page, 'after-bulk-array-of-16');
    assert.deepEqual(errors, []);
    await page.close();
  });

  it('stepping back restores exactly the earlier state', async () => {
    const { page } = await fresh();
    await page.getByTestId('jump-next').click(); // the first refill
    for (let i = 0; i < 3; i++) await page.keyboard.press('ArrowRight');
    const before = await state(page);
    for (let i = 0; i < 25; i++) await page.keyboard.press('ArrowRight');
    const later = await state(page);
    assert.notDeepEqual(later, before, 'the steps changed something');
    for (let i = 0; i < 25; i++) await page.keyboard.press('ArrowLeft');
    assert.deepEqual(await state(page), before);
    // And by the scrubber, from far away.
    await page.keyboard.press('End');
    const pos = +before.position.match(/event (\d+)/)[1];
    await page.getByTestId('scrubber').fill(String(pos));
    assert.deepEqual(await state(page), before);
    await page.close();
  });

  it('the keyboard plays, steps and opens help', async () => {
    const { page } = await fresh();
    await page.keyboard.press('ArrowRight');
    assert.equal((await position(page)).pos, 1);
    await page.keyboard.press('Shift+ArrowRight');
    assert.ok((await position(page)).pos > 1);
    await page.keyboard.press('PageDown');
    const atAction = await position(page);
    assert.equal(atAction.action, 1);
    await page.keyboard.press('+');
    assert.equal(await page.getByTestId('speed').textContent(), '30/s');
    await page.keyboard.press(' ');
    assert.match(await page.getByTestId('play').getAttribute('aria-label'), /Pause/);
    await until(async () => (await position(page)).pos > atAction.pos + 3, 'play to move on');
    await page.keyboard.press(' ');
    assert.match(await page.getByTestId('play').getAttribute('aria-label'), /Play/);
    const narrated = await page.getByTestId('narration').textContent();
    assert.ok(narrated.length > 5, 'the live region says what happened');
    await page.keyboard.press('?');
    await page.getByTestId('help').waitFor();
    await page.keyboard.press('Escape');
    assert.equal(await page.getByTestId('help').count(), 0);
    await page.close();
  });

  it('a long run shows progress and can be cancelled', async () => {
    const { page, errors } = await fresh();
    await page.getByTestId('long-ops').fill('10000');
    await page.getByTestId('long-ops').dispatchEvent('change');
    await page.getByTestId('long-run').click();
    await page.getByTestId('progress').waitFor();
    await until(async () => /chunk [1-9]/.test(await page.getByTestId('progress').textContent()), 'a chunk to finish');
    // The page answers while it runs.
    await page.keyboard.press('ArrowRight');
    await page.getByTestId('cancel-run').click();
    await until(async () => (await page.getByTestId('progress').count()) === 0, 'the run to stop');
    const p = await position(page);
    assert.ok(p.actions > 12 && p.actions < 12 + 200, `some of the 200 chunks ran, not all (${p.actions - 12})`);
    assert.deepEqual(errors, []);
    await page.close();
  });

  it('autosave brings back the actions and the position after a reload', async () => {
    const { page } = await fresh();
    await page.getByTestId('action-op').selectOption({ label: 'drain_all_pages' });
    await page.getByTestId('run-action').click();
    await until(async () => { const p = await position(page); return p.pos === p.total; }, 'the drain to play', 30000);
    await page.keyboard.press('ArrowLeft');
    const before = await position(page);
    await page.reload();
    await page.getByTestId('position').waitFor();
    assert.deepEqual(await position(page), before);
    assert.equal(await page.getByTestId('action-row').last().locator('code').textContent(), 'drain_all_pages()');
    await page.close();
  });

  it('running an action in the past drops the later ones, and Undo brings them back', async () => {
    const { page } = await fresh();
    await page.keyboard.press('PageDown'); // the start of action 1
    await page.getByTestId('action-op').selectOption({ label: 'drain_all_pages' });
    await page.getByTestId('run-action').click();
    assert.match(await page.getByTestId('undo-note').textContent(), /11 later actions were dropped/);
    assert.equal((await position(page)).actions, 2);
    await page.getByTestId('undo').click();
    assert.equal((await position(page)).actions, 12);
    await until(async () => (await page.getByTestId('undo-note').count()) === 0, 'the undo note to go');
    await page.close();
  });

  it('an unreadable saved scenario is kept aside and the page says so', async () => {
    const { page, errors } = await fresh();
    await page.evaluate(() => localStorage.setItem('pageflow.v1.scenario', '{not json'));
    await page.reload();
    await page.getByTestId('banner').waitFor();
    assert.match(await page.getByTestId('banner').textContent(), /could not be loaded/);
    assert.equal(await page.evaluate(() => localStorage.getItem('pageflow.v1.unreadable-scenario')), '{not json');
    assert.equal((await position(page)).actions, 12);
    assert.deepEqual(errors, []);
    await page.close();
  });
});

describe('side by side', () => {
  it('the same actions with a smaller pcp batch take the zone lock more often', async () => {
    const { page, errors } = await fresh();
    await page.getByTestId('cmp-batch').fill('4');
    await page.getByTestId('cmp-batch').dispatchEvent('change');
    await page.getByTestId('cmp-run').click();
    const table = page.getByTestId('cmp-totals');
    await table.waitFor();
    const row = table.locator('tr', { hasText: 'zone->lock' });
    const cells = await row.locator('td').allTextContents();
    const [a, b] = cells.map(Number);
    assert.ok(b > a, `batch 4 takes zone->lock more often than the kernel's batch (A ${a}, B ${b})`);
    const paneB = page.getByTestId('cmp-pane-b');
    assert.equal(await paneB.getByTestId('pcp-column').count(), 4);
    assert.match(await paneB.getByTestId('pcp-column').first().textContent(), /batch 4/);
    await screenshot(page, 'side-by-side-batch-4');
    assert.deepEqual(errors, []);
    await page.close();
  });
});

describe('sunrpc', () => {
  it('stepping an NFS server lights svc_alloc_arg line by line and steps over the allocator call', async () => {
    const { page, errors } = await fresh();
    await page.getByTestId('action-op').selectOption({ label: 'NFS server: sunrpc svc_alloc_arg' });
    await page.getByTestId('action-n').fill('4');
    await page.getByTestId('action-n').dispatchEvent('change');
    await page.getByTestId('run-action').click();
    await page.getByTestId('play').click(); // pause the animation that starts by itself
    const listing = page.getByTestId('listing');
    await page.getByLabel('Kind of event to jump to').selectOption({ label: 'svc_alloc_arg line (sunrpc)' });
    await page.getByTestId('jump-next').click();
    await listing.waitFor();
    const current = () => listing.locator('li.current').getAttribute('data-line');
    const lines = new Set();
    for (let i = 0; i < 12; i++) {
      lines.add(await current());
      await page.keyboard.press('Shift+ArrowRight');
    }
    assert.ok(lines.size >= 3, `several lines were lit (${[...lines]})`);
    assert.match(await page.getByTestId('plot-request-sizes').getAttribute('aria-label'), /\d+ calls/);
    await screenshot(page, 'sunrpc-listing');
    assert.deepEqual(errors, []);
    await page.close();
  });
});

describe('shared links', () => {
  const fixture = (name) => fs.readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8').trim();

  it('a shared link opens the same scenario at the same step in a fresh browser', async () => {
    const { page } = await fresh();
    await page.getByTestId('jump-next').click();
    for (let i = 0; i < 7; i++) await page.keyboard.press('ArrowRight');
    const before = await state(page);
    await browser.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(server.url).origin });
    await page.getByTestId('share').click();
    await page.getByText('Link, copied to the clipboard').waitFor();
    const url = await page.evaluate(() => navigator.clipboard.readText());
    assert.equal(url, await page.getByTestId('share-url').inputValue());
    assert.match(url, /#s=1\.jz\./);
    await page.close();
    const other = await launch();
    try {
      const opened = await open(other.context, url);
      assert.deepEqual(await state(opened.page), before);
      assert.deepEqual(opened.errors, []);
    } finally {
      await other.close();
    }
  });

  it('embed mode shows the views without the controls and links to the full playground', async () => {
    const { page } = await fresh();
    await page.getByTestId('share').click();
    const url = await page.getByTestId('share-url').inputValue();
    await page.goto(`${url}&embed=1`);
    await page.reload();
    await page.getByTestId('position').waitFor();
    assert.equal(await page.getByTestId('run-action').isVisible(), false);
    assert.ok(await page.getByTestId('memory-map').isVisible());
    const full = await page.getByRole('link', { name: 'Open in pageflow' }).getAttribute('href');
    assert.ok(!full.includes('embed=1'));
    await screenshot(page, 'embed-mode');
    await page.close();
  });

  it('bad links give a banner and leave the saved work untouched', async () => {
    const { page } = await fresh();
    await page.getByTestId('action-op').selectOption({ label: 'drain_all_pages' });
    await page.getByTestId('run-action').click();
    const saved = await page.evaluate(() => localStorage.getItem('pageflow.v1.scenario'));
    const actions = (await position(page)).actions;
    await page.getByTestId('share').click();
    const good = await page.getByTestId('share-url').inputValue();
    const payload = good.split('#s=')[1];
    const bad = {
      garbage: 's=complete-garbage',
      truncated: `s=${payload.slice(0, Math.floor(payload.length / 2))}`,
      tampered: `s=${payload.slice(0, 30)}${payload[30] === 'A' ? 'B' : 'A'}${payload.slice(31)}`,
      oversized: `s=1.jz.${'A'.repeat(70000)}`,
      'unknown version': `s=9${payload.slice(1)}`,
    };
    for (const [what, frag] of Object.entries(bad)) {
      await page.goto(`${server.url}#${frag}`);
      await page.reload();
      await page.getByTestId('banner').waitFor();
      assert.match(await page.getByTestId('banner').textContent(), /could not be opened/, what);
      assert.equal(await page.evaluate(() => localStorage.getItem('pageflow.v1.scenario')), saved, `${what}: saved work kept`);
      assert.equal((await position(page)).actions, actions, `${what}: the saved work is shown`);
    }
    await page.close();
  });

  it('a scenario name with markup in it is shown as text', async () => {
    const { page, errors } = await fresh();
    await page.goto(`${server.url}#${fixture('script-in-name.link')}`);
    await page.reload();
    await page.getByTestId('position').waitFor();
    const name = await page.getByTestId('scenario-name').textContent();
    assert.ok(name.startsWith('<img src=x onerror='), name);
    assert.equal(await page.evaluate(() => window.__pwned ?? null), null);
    assert.equal(await page.locator('header img').count(), 0);
    assert.deepEqual(errors, []);
    await page.close();
  });
});

describe('files', () => {
  const repo = new URL('../../', import.meta.url).pathname;

  it('a scenario saved in the browser runs in pageflow run, with the same results', async () => {
    const { page } = await fresh();
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('save-scenario').click()]);
    const file = await download.path();
    const text = fs.readFileSync(file, 'utf8');
    const out = execFileSync('cargo', ['run', '-q', '-p', 'pageflow-cli', '--', 'run', file, '--json'], { cwd: repo, encoding: 'utf8' });
    const report = JSON.parse(out);
    const results = await page.getByTestId('action-result').allTextContents();
    assert.deepEqual(report.calls.map((c) => c.result), results);
    assert.equal(JSON.parse(text).name, await page.getByTestId('scenario-name').textContent());
    await page.close();
  });

  it('a scenario file from the command line opens in the browser', async () => {
    const { page, errors } = await fresh();
    const path = `${repo}scenarios/bulk-list.json`;
    const scenario = JSON.parse(fs.readFileSync(path, 'utf8'));
    await page.getByTestId('open-file').setInputFiles(path);
    await until(async () => (await page.getByTestId('scenario-name').textContent()) === scenario.name, 'the file to open');
    assert.equal((await position(page)).actions, scenario.actions.length);
    assert.deepEqual(errors, []);
    await page.close();
  });

  it('a file that is not a scenario gives a message and changes nothing', async () => {
    const { page } = await fresh();
    await page.getByTestId('open-file').setInputFiles({ name: 'notes.json', mimeType: 'application/json', buffer: Buffer.from('{"name": 3}') });
    await page.getByTestId('banner').waitFor();
    assert.match(await page.getByTestId('banner').textContent(), /notes\.json could not be opened/);
    assert.equal((await position(page)).actions, 12);
    await page.close();
  });

  it('the trace downloads as JSON lines, one per event', async () => {
    const { page } = await fresh();
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('save-trace').click()]);
    const lines = fs.readFileSync(await download.path(), 'utf8').trim().split('\n');
    assert.equal(lines.length, (await position(page)).total);
    assert.ok(lines.every((l) => typeof JSON.parse(l).ev === 'string'));
    await page.close();
  });
});

describe('lessons', () => {
  it('a shared link opens the same lesson at the same slide', async () => {
    const { page } = await fresh();
    await page.getByTestId('lesson-pcp').click();
    for (let i = 0; i < 2; i++) {
      if (await page.getByTestId('question').count()) {
        if (await page.getByTestId('guess').count()) await page.getByTestId('guess').fill('1');
        else await page.getByTestId('choice-0').check();
      }
      if (await page.getByTestId('slide-act').count()) await page.getByTestId('slide-act').click();
      await page.getByTestId('slide-next').click();
    }
    const title = await page.locator('#lesson-title').textContent();
    assert.match(title, /slide 3 of/);
    const text = await page.getByTestId('slide-text').textContent();
    await page.getByTestId('share').click();
    const url = await page.getByTestId('share-url').inputValue();
    assert.match(url, /&lesson=pcp&slide=3/);
    await page.close();
    const other = await launch();
    try {
      const opened = await open(other.context, url);
      await opened.page.locator('#lesson-title').waitFor();
      assert.equal(await opened.page.locator('#lesson-title').textContent(), title);
      assert.equal(await opened.page.getByTestId('slide-text').textContent(), text);
      assert.deepEqual(opened.errors, []);
    } finally {
      await other.close();
    }
  });

  it('Enter in the prediction field takes the action and reveals the model\'s answer', async () => {
    const { page, errors } = await fresh();
    await page.getByTestId('lesson-regressions').click();
    await page.getByTestId('guess').fill('16');
    await page.getByTestId('guess').press('Enter');
    assert.match(await page.getByTestId('judgement').textContent(), /^Right: the model says 16\./);
    assert.equal(await page.getByTestId('slide-act').count(), 0, 'the action was taken');
    assert.deepEqual(errors, []);
    await page.close();
  });

  it('every lesson can be walked to the end as a learner would', async () => {
    const { page, errors } = await fresh();
    const ids = await page.getByTestId('lesson-list').locator('button').evaluateAll((bs) => bs.map((b) => b.dataset.testid));
    assert.ok(ids.length >= 8, `eight lessons or more (${ids.length})`);
    for (const id of ids) {
      await page.getByTestId(id).click();
      const lesson = page.getByTestId('lesson');
      for (let slide = 0; ; slide++) {
        assert.ok(slide < 40, `${id}: the lesson ends`);
        if (await page.getByTestId('question').count()) {
          // Predict something, then let the model answer.
          if (await page.getByTestId('guess').count()) await page.getByTestId('guess').fill('1');
          else await page.getByTestId('choice-0').check();
        }
        if (await page.getByTestId('slide-act').count()) {
          await page.getByTestId('slide-act').click();
          if (await page.getByTestId('question').count()) {
            assert.match(await page.getByTestId('judgement').textContent(), /the model says/, `${id} slide ${slide + 1}`);
          }
        }
        const blocked = page.getByTestId('blocked');
        assert.equal(await blocked.count(), 0, `${id} slide ${slide + 1}: ${await blocked.count() ? await blocked.textContent() : ''}`);
        if (await page.getByTestId('lesson-done').count()) break;
        await page.getByTestId('slide-next').click();
      }
      assert.ok((await lesson.textContent()).length > 50);
      await page.getByRole('button', { name: 'Leave the lesson' }).click();
    }
    assert.deepEqual(errors, []);
    await page.close();
  });
});
