// SPDX-License-Identifier: Apache-2.0
// Browser spec of the data explorer (#/explorer): data written first with the line
// protocol, then a query built with the builder (measurement, field, tag filter,
// aggregation) shows chart and table values; the view survives a reload (URL state);
// raw InfluxQL mode runs with Ctrl+Enter and shows the server's error inline; Export CSV
// downloads the server's CSV (file name and content checked); empty states.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { rest, makeUser, suite, login, goto, waitReady, shot } from './harness.mjs';

const s = suite();
const MEAS = "line speed"; // a space: identifiers must be quoted
let eng; // engineer of the tenant holding the data
let db;

/* 30 points per machine, 10 s apart, ending a minute ago: m1 rpm = 100..129, m2 = 200..229 */
function lineProtocol(now) {
  const lines = [];
  for (let i = 0; i < 30; i++) {
    const ts = (now - 60e3 - (29 - i) * 10e3) * 1e6;
    lines.push(`line\\ speed,machine=m1,site=O'Hare rpm=${100 + i},state="run" ${ts}`);
    lines.push(`line\\ speed,machine=m2,site=O'Hare rpm=${200 + i},state="idle" ${ts}`);
  }
  for (let d = 1; d <= 15; d++) lines.push(`many,dev=dev-${String(d).padStart(2, '0')} v=${d} ${(now - 60e3) * 1e6}`);
  return lines.join('\n') + '\n';
}

test.before(async () => {
  eng = await makeUser({ role: 'engineer' });
  db = eng.tenant.db_name;
  assert.ok(db, 'the tenant has a database');
  await rest('/write', { query: { db }, body: lineProtocol(Date.now()) });
});

async function table(page) {
  return page.getByTestId('explorer-table').innerText();
}

async function waitTable(page, text) {
  await page.waitForFunction((t) => {
    const el = document.querySelector('[data-testid=explorer-table]');
    return el && el.innerText.includes(t);
  }, text);
}

test('builder: measurement, field, tag filter and aggregation give chart and table', async () => {
  const { page } = s;
  await page.addInitScript(() => { try { localStorage.setItem('loom.lang', 'en'); } catch (e) { /* */ } });
  await login(page, { token: eng.token, via: 'storage', next: '#/explorer?r=1h' });
  await page.getByLabel('Measurement').selectOption(MEAS);
  await page.getByLabel('rpm', { exact: true }).check();
  // a non-numeric field cannot be averaged
  assert.equal(await page.getByLabel('state', { exact: true }).isDisabled(), true);
  await page.locator('summary', { hasText: 'machine' }).click();
  await page.getByLabel('m1', { exact: true }).check();
  await page.getByLabel('Aggregation').selectOption('max');
  const gen = page.getByTestId('explorer-generated');
  await page.waitForFunction(() => /max\("rpm"\)/.test(document.querySelector('[data-testid=explorer-generated]').textContent));
  const q = await gen.textContent();
  assert.match(q, /^SELECT max\("rpm"\) AS "rpm" FROM "line speed" WHERE time > now\(\) - 1h AND "machine" = 'm1' GROUP BY time\(\d+\w+\) fill\(none\)$/);
  await waitTable(page, '129');
  const text = await table(page);
  assert.ok(!text.includes('229'), 'm2 is filtered out');
  await waitReady(page, '[data-testid=explorer-chart]');
  assert.equal(await page.locator('[data-testid=explorer-chart] canvas').count(), 1);
  assert.match(await page.getByTestId('explorer-status').textContent(), /rows in 1 series/);
  // the view is in the URL: a reload restores it
  assert.match(page.url(), /#\/explorer\?.*m=line\+speed.*f=rpm.*w=machine%3Dm1.*agg=max/);
  await shot(page, 'explorer', 'en');
  await page.reload();
  await waitReady(page);
  await waitTable(page, '129');
  assert.equal(await page.getByLabel('rpm', { exact: true }).isChecked(), true);
  assert.equal(await page.getByLabel('m1', { exact: true }).isChecked(), true);
  // a drag on the chart narrows the time range to an absolute one and runs again
  await waitReady(page, '[data-testid=explorer-chart]');
  const box = await page.locator('[data-testid=explorer-chart] .u-over').boundingBox();
  const y = box.y + box.height / 2;
  await page.mouse.move(box.x + box.width * 0.85, y);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.92, y, { steps: 5 });
  await page.mouse.move(box.x + box.width * 0.995, y, { steps: 5 });
  await page.mouse.up();
  await page.waitForFunction(() => /[?&]r=\d+_\d+/.test(location.hash));
  await page.waitForFunction(() => /time >= '\d{4}-/.test(document.querySelector('[data-testid=explorer-generated]').textContent));
  await waitTable(page, '129');
});

test('raw mode: edit as query, Ctrl+Enter runs, grouped series, server errors inline', async () => {
  const { page } = s;
  await page.getByRole('button', { name: 'Edit as query' }).click();
  const area = page.getByLabel('InfluxQL query');
  assert.match(await area.inputValue(), /^SELECT max\("rpm"\)/);
  await area.fill(`SELECT count("rpm") FROM "${MEAS}" WHERE time > now() - 1h GROUP BY "machine"`);
  await area.press('Control+Enter');
  await page.waitForFunction(() => document.querySelectorAll('.ex-series').length === 2);
  const text = await table(page);
  assert.match(text, /machine=m1/);
  assert.match(text, /machine=m2/);
  assert.equal((text.match(/\b30\b/g) || []).length >= 2, true, 'count 30 in each series');
  assert.match(page.url(), /#\/explorer\?.*q=SELECT/);
  const undo = s.allow(/status of 400/); // the bad query's answer, echoed by Chrome
  await area.fill('SELECT FROM WHERE');
  await area.press('Control+Enter');
  const err = page.getByTestId('explorer-error');
  await err.waitFor();
  assert.match(await err.textContent(), /error parsing query/);
  // the last view of the tab comes back on a plain #/explorer
  await goto(page, '#/explorer');
  assert.equal(await page.getByLabel('InfluxQL query').inputValue(), 'SELECT FROM WHERE');
  assert.match(page.url(), /#\/explorer\?.*q=SELECT\+FROM\+WHERE/);
  undo();
});

test('export CSV downloads the server CSV of the builder query', async () => {
  const { page } = s;
  await page.evaluate(() => sessionStorage.removeItem('loom.explorer.last'));
  await goto(page, `#/explorer?db=${encodeURIComponent(db)}&m=${encodeURIComponent(MEAS)}&f=rpm&w=machine%3Dm2&agg=none`);
  await waitTable(page, '229');
  // the table sorts by a column: rpm descending puts 229 first
  const rpmHead = page.getByTestId('explorer-table').getByRole('button', { name: 'rpm' });
  await rpmHead.click();
  await rpmHead.click();
  assert.match(await page.locator('.ex-table th[aria-sort=descending]').textContent(), /^rpm/);
  assert.equal(await page.locator('.ex-table tbody tr').first().locator('td').last().textContent(), '229');
  const [dl] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: 'Export CSV' }).click(),
  ]);
  assert.match(dl.suggestedFilename(), /^line_speed-\d{8}T\d{6}Z-\d{8}T\d{6}Z\.csv$/);
  const csv = (await readFile(await dl.path(), 'utf8')).trim().split('\n');
  assert.equal(csv[0], 'name,tags,time,rpm');
  assert.equal(csv.length, 31);
  const vals = csv.slice(1).map((l) => l.split(','));
  assert.deepEqual(vals.map((v) => Number(v[v.length - 1])), Array.from({ length: 30 }, (_, i) => 200 + i));
  assert.ok(vals.every((v) => v[0] === 'line speed'));
});

test('a first visit opens on the first measurement and numeric field', async () => {
  const page = await s.newPage();
  await login(page, { token: eng.token, via: 'storage', next: '#/explorer' });
  assert.equal(await page.getByLabel('Measurement').inputValue(), MEAS);
  assert.equal(await page.getByLabel('rpm', { exact: true }).isChecked(), true);
  await waitTable(page, '179'); // mean of m1 (129) and m2 (229) at the last time
  await page.context().close();
});

test('a long list of tag values has a filter box', async () => {
  const page = await s.newPage();
  await login(page, { token: eng.token, via: 'storage', next: `#/explorer?m=many&f=v&g=dev` });
  await page.locator('summary', { hasText: 'dev' }).click();
  const filter = page.getByLabel('Filter values');
  await filter.fill('1');
  const shown = page.locator('.ex-values .ex-check:not([hidden]) label');
  // dev-01, dev-10 .. dev-15 (the "group by" box is not a value)
  await page.waitForFunction(() => document.querySelectorAll('.ex-values .ex-check:not([hidden])').length === 8);
  assert.deepEqual((await shown.allTextContents()).slice(1), ['dev-01', 'dev-10', 'dev-11', 'dev-12', 'dev-13', 'dev-14', 'dev-15']);
  await page.getByLabel('dev-12', { exact: true }).check();
  await page.waitForFunction(() => /"dev" = 'dev-12'/.test(document.querySelector('[data-testid=explorer-generated]').textContent));
  await page.context().close();
});

test('empty state: a tenant without data has no measurements', async () => {
  const other = await makeUser({ role: 'tenant_admin' });
  const page = await s.newPage();
  await page.addInitScript(() => { try { localStorage.setItem('loom.lang', 'zh-CN'); } catch (e) { /* */ } });
  await login(page, { token: other.token, via: 'storage', next: '#/explorer' });
  const empty = page.getByTestId('explorer-empty');
  await empty.waitFor();
  assert.match(await empty.textContent(), /还没有测量/);
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'zh-CN');
});
