// SPDX-License-Identifier: Apache-2.0
// Devices and the device page: the asset tree filters the device list (mouse and keyboard),
// search, the latest values with units and normal ranges (updated live), a live chart that
// updates when telemetry is posted, zoom, a command sent from the page and answered by the
// device, credentials (rotate, copy buttons, snippets), and what a viewer does not get.

import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { suite, rest, login, goto, waitReady, makeUser, makeTenant, seedPlant, env } from './harness.mjs';

const s = suite();
let plant; // seeded once: tenant, assets site > plant > line > cell, 3 pumps
let admin; // the tenant's admin
let page;

// Seed and sign in once, on first use (inside a test: the suite's browser is up by then).
let ready = null;
function setup() {
  ready = ready || (async () => {
    plant = await seedPlant({ devices: 3, minutes: 10 });
    admin = await makeUser({ role: 'tenant_admin', tenant: plant.tenant });
    page = await s.newPage({ locale: 'en-US' });
    await login(page, { ...admin, next: '#/devices' });
  })();
  return ready;
}

const rows = (p) => p.locator('.dev-list tbody tr');
const names = async (p) => (await p.locator('.dev-list tbody tr a.dev-link').allTextContents()).map((x) => x.trim()).sort();
const treeItem = (p, name) => p.getByRole('treeitem', { name: new RegExp(name) });

async function listReady(p) {
  await waitReady(p);
  await p.locator('.dev-list-body [aria-busy]').waitFor({ state: 'detached' }).catch(() => {});
}

test('the asset tree filters the device list to the subtree', async () => {
  await setup();
  await goto(page, '#/devices');
  assert.deepEqual(await names(page), ['pump-1', 'pump-2', 'pump-3']);
  // the tree opens its first level; open down to the cell
  await treeItem(page, 'Plant 1').click();
  await page.keyboard.press('ArrowRight');
  await treeItem(page, 'Line A').waitFor();
  await treeItem(page, 'Line A').click();
  await listReady(page);
  await page.waitForFunction(() => location.hash.includes('asset='));
  assert.deepEqual(await names(page), ['pump-1', 'pump-2', 'pump-3']); // line + its cell
  await page.keyboard.press('ArrowRight'); // open Line A
  await page.keyboard.press('ArrowRight'); // into Cell 3
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Cell 3' }).waitFor();
  await page.waitForFunction(() => document.querySelectorAll('.dev-list tbody tr').length === 1);
  assert.deepEqual(await names(page), ['pump-1']);
  assert.equal(await treeItem(page, 'Cell 3').getAttribute('aria-selected'), 'true');
  // the selection survives a reload (URL state)
  await page.reload();
  await waitReady(page);
  await page.waitForFunction(() => document.querySelectorAll('.dev-list tbody tr').length === 1);
  assert.deepEqual(await names(page), ['pump-1']);
  await treeItem(page, 'All devices').click();
  await page.waitForFunction(() => document.querySelectorAll('.dev-list tbody tr').length === 3);
});

test('the device list searches on the server and shows state and profile', async () => {
  await setup();
  await goto(page, '#/devices');
  await page.getByLabel('Search devices').fill('pump-2');
  await page.waitForFunction(() => document.querySelectorAll('.dev-list tbody tr').length === 1);
  assert.deepEqual(await names(page), ['pump-2']);
  const row = rows(page).first();
  await row.getByText('pump', { exact: true }).waitFor(); // the profile's name
  await row.locator('.badge').waitFor();
  await page.getByLabel('Search devices').fill('no such device');
  await page.getByText('No device matches the search.').waitFor();
});

test('the device page shows latest values with units and normal ranges, updated live', async () => {
  await setup();
  const dev = plant.devices[0];
  await goto(page, `#/devices/${dev.id}`);
  await waitReady(page, '[data-testid=latest]');
  const flow = page.locator('[data-testid=latest-tile][data-key=flow_m3h]');
  await flow.getByText('Normal 0 – 120 m3/h').waitFor();
  assert.match(await flow.locator('.tile-value').textContent(), /m3\/h$/);
  assert.equal(await flow.evaluate((e) => e.classList.contains('tile-out')), false);
  // an out-of-range value arrives over the WebSocket and is highlighted
  await rest(`/api/v1/${dev.accessToken}/telemetry`, { body: { flow_m3h: 150.5 }, token: null });
  await flow.locator('.tile-value', { hasText: '150.5 m3/h' }).waitFor({ timeout: 10000 });
  await flow.getByText('Out of normal range').waitFor();
  assert.equal(await flow.evaluate((e) => e.classList.contains('tile-out')), true);
  // a key first seen live gets its own tile
  await rest(`/api/v1/${dev.accessToken}/telemetry`, { body: { rpm: 1450 }, token: null });
  await page.locator('[data-testid=latest-tile][data-key=rpm]').waitFor({ timeout: 10000 });
});

test('a live chart updates when telemetry is posted', async () => {
  await setup();
  const dev = plant.devices[1];
  await goto(page, `#/devices/${dev.id}?tab=charts`);
  const chart = page.locator('[data-testid=chart][data-key=flow_m3h]');
  await waitReady(page, '[data-testid=chart][data-key=flow_m3h]');
  await page.getByTestId('chart-live').getByText('Live').waitFor();
  const before = Number(await chart.getAttribute('data-points'));
  assert.ok(before > 10, `history drawn (${before} points)`);
  const last = Number(await chart.getAttribute('data-last'));
  await rest(`/api/v1/${dev.accessToken}/telemetry`, { body: { flow_m3h: 47.25, temp_c: 60 }, token: null });
  await page.waitForFunction(
    ({ l }) => Number(document.querySelector('[data-testid=chart][data-key=flow_m3h]').dataset.last) > l,
    { l: last }, { timeout: 10000 });
  // the other charts of the device follow too; the pressure chart got no value
  await page.waitForFunction(
    ({ l }) => Number(document.querySelector('[data-testid=chart][data-key=temp_c]').dataset.last) > l,
    { l: last }, { timeout: 10000 });
  assert.equal(await page.locator('[data-testid=chart][data-key=pressure_bar]').getAttribute('data-last'), String(last));
  // one chart per numeric key, with its unit
  await page.getByRole('heading', { name: 'pressure_bar (bar)' }).waitFor();
});

test('zooming a chart refetches at the finer resolution and stops following live data', async () => {
  await setup();
  const dev = plant.devices[1];
  await goto(page, `#/devices/${dev.id}?tab=charts`);
  await waitReady(page, '[data-testid=chart][data-key=flow_m3h]');
  const reqs = [];
  const onReq = (r) => { if (r.url().includes('/telemetry?')) reqs.push(new URL(r.url())); };
  page.on('request', onReq);
  const over = page.locator('[data-testid=chart][data-key=flow_m3h] .u-over');
  const box = await over.boundingBox();
  await page.mouse.move(box.x + box.width * 0.6, box.y + 20);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.95, box.y + 30, { steps: 5 });
  await page.mouse.up();
  await waitReady(page, '[data-testid=chart][data-key=flow_m3h]');
  await page.waitForFunction(() => !document.querySelector('[data-testid=chart-live]').textContent);
  page.off('request', onReq);
  assert.equal(reqs.length, 1, 'one request for every chart');
  const q = reqs[0].searchParams;
  assert.equal(q.get('keys').split(',').sort().join(','), 'flow_m3h,pressure_bar,temp_c');
  const span = Number(q.get('endTs')) - Number(q.get('startTs'));
  assert.ok(span < 3600000 * 0.5, `zoomed span ${span} ms`);
  assert.ok(Number(q.get('interval')) <= Math.ceil(span / 200), 'about one bucket per pixel');
  // a double-click goes back to the whole hour, live again
  await over.dblclick();
  await page.getByTestId('chart-live').getByText('Live').waitFor();
});

test('a command sent from the page shows in the list and follows the device\'s answer', async () => {
  await setup();
  const dev = plant.devices[2];
  await goto(page, `#/devices/${dev.id}?tab=commands`);
  await page.getByText('No commands sent to this device yet.').waitFor();
  await page.getByLabel('Method').fill('setSpeed');
  await page.getByLabel('Parameters').fill('{"rpm": 1200}');
  await page.getByRole('button', { name: 'Send', exact: true }).click();
  const row = page.locator('.cmd-list tbody tr', { hasText: 'setSpeed' });
  await row.waitFor();
  await row.locator('.badge[data-state=queued]').waitFor();
  assert.match(await row.textContent(), /"rpm":1200/);
  // the device takes it and answers: the status follows over the WebSocket
  const cmd = await rest(`/api/v1/${dev.accessToken}/rpc`, { query: { timeout: 5000 }, token: null });
  await rest(`/api/v1/${dev.accessToken}/rpc/${cmd.id}`, { body: { ok: true }, token: null });
  await row.locator('.badge[data-state=successful]').waitFor({ timeout: 10000 });
  await row.getByText('{"ok":true}').waitFor();
  // bad JSON parameters are refused in the form
  await page.getByLabel('Parameters').fill('{rpm: }');
  await page.getByRole('button', { name: 'Send', exact: true }).click();
  await page.getByText('The parameters are not valid JSON').waitFor();
});

test('credentials: rotate the token (with confirmation), copy buttons, filled snippets', async () => {
  await setup();
  const dev = plant.devices[2];
  await goto(page, `#/devices/${dev.id}?tab=credentials`);
  await waitReady(page, '[data-testid=credentials]');
  assert.ok(await page.getByRole('button', { name: 'Copy' }).count() >= 4, 'a copy button per snippet');
  const curl = page.locator('[data-snippet=curl] pre');
  assert.match(await curl.textContent(), /YOUR_DEVICE_TOKEN/);
  assert.match(await curl.textContent(), new RegExp(`${new URL(page.url()).origin}/api/v1/\\$DEVICE_TOKEN/telemetry`));
  const info = await rest('/api/v1/console/info').catch(() => null);
  if (info && info.mqtt && info.mqtt.port) {
    assert.match(await page.locator('[data-snippet=mqtt] pre').textContent(), new RegExp(`-p ${info.mqtt.port} `));
  }
  // Esc on the confirmation keeps the old token
  await page.getByTestId('rotate-token').click();
  await page.getByRole('dialog').waitFor();
  await page.keyboard.press('Escape');
  await page.getByRole('dialog').waitFor({ state: 'detached' });
  assert.equal(await page.getByTestId('device-token').count(), 0);
  await page.getByTestId('rotate-token').click();
  await page.getByRole('dialog').getByRole('button', { name: 'Issue a new token' }).click();
  const token = (await page.getByTestId('device-token').textContent()).trim();
  assert.ok(token.length > 10);
  assert.match(await curl.textContent(), new RegExp(token));
  // the snippets run as they are: curl, Python requests, Python paho-mqtt (Debian's python3
  // with python3-requests and python3-paho-mqtt; the MQTT port
  // comes from /api/v1/console/info)
  const code = async (id) => page.locator(`[data-snippet=${id}] pre`).textContent();
  execFileSync('bash', ['-c', await code('curl')], { timeout: 20000, stdio: 'pipe' });
  execFileSync('/usr/bin/python3', ['-c', await code('python')], { timeout: 20000, stdio: 'pipe' });
  if (info && info.mqtt && info.mqtt.port) {
    execFileSync('/usr/bin/python3', ['-c', await code('paho')], { timeout: 20000, stdio: 'pipe' });
  }
  // the new token works, the old one is refused
  await rest(`/api/v1/${token}/telemetry`, { body: { flow_m3h: 40 }, token: null });
  const old = await rest(`/api/v1/${dev.accessToken}/telemetry`, { body: { flow_m3h: 40 }, token: null, raw: true });
  assert.equal(old.status, 401);
  dev.accessToken = token;
});

test('MQTT user name and password set on the page connect the device to the broker', async () => {
  await setup();
  const dev = plant.devices[1];
  await goto(page, `#/devices/${dev.id}?tab=credentials`);
  await waitReady(page, '[data-testid=credentials]');
  await page.getByLabel('MQTT user name').fill('pump-2-mqtt');
  await page.getByLabel('MQTT password').fill('s3cret-pump');
  await page.getByRole('button', { name: 'Set MQTT credentials' }).click();
  await page.getByText('MQTT user name: pump-2-mqtt').waitFor();
  const code = await page.locator('[data-snippet=mqttBasic] pre').textContent();
  assert.match(code, /-u 'pump-2-mqtt' -P "\$MQTT_PASSWORD"/);
  assert.ok(env.mqttPort, 'the wrapper gives LOOM_MQTT_PORT');
  assert.match(code, new RegExp(`-p ${env.mqttPort} `));
  // the snippet's command, with the password filled in, is accepted by the broker
  execFileSync('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(env.mqttPort), '-u', 'pump-2-mqtt',
    '-P', 's3cret-pump', '-q', '1', '-t', 'v1/devices/me/telemetry', '-m', '{"flow_m3h":33.5}'], { timeout: 10000 });
  await goto(page, `#/devices/${dev.id}`);
  await page.locator('[data-testid=latest-tile][data-key=flow_m3h] .tile-value', { hasText: '33.5 m3/h' }).waitFor({ timeout: 10000 });
});

test('a viewer sees commands and snippets but cannot send or manage credentials', async () => {
  await setup();
  const viewer = await makeUser({ role: 'viewer', tenant: plant.tenant });
  const p = await s.newPage({ locale: 'zh-CN' });
  const dev = plant.devices[0];
  await login(p, { ...viewer, next: `#/devices/${dev.id}?tab=commands` });
  await p.getByText('您的角色可以查看指令，但不能下发。').waitFor();
  assert.equal(await p.getByRole('button', { name: '发送', exact: true }).count(), 0);
  await p.getByRole('tab', { name: '接入方式' }).click();
  await waitReady(p, '[data-testid=credentials]');
  assert.equal(await p.getByTestId('rotate-token').count(), 0);
  await p.locator('[data-snippet=paho]').waitFor();
  await p.getByRole('tab', { name: '属性' }).click();
  await waitReady(p, '[data-testid=attributes]');
  assert.equal(await p.getByRole('button', { name: '保存属性' }).count(), 0);
  await p.close();
});

test('a tenant without devices sees the empty state; an unknown device shows not found', async () => {
  await setup();
  const t = await makeTenant();
  const ta = await makeUser({ role: 'tenant_admin', tenant: t });
  const p = await s.newPage({ locale: 'en-US' });
  await login(p, { ...ta, next: '#/devices' });
  await p.getByText(/^No devices yet\./).waitFor();
  await p.getByText('No assets defined.').waitFor();
  await goto(p, '#/devices/00000000-0000-0000-0000-000000000000');
  await p.locator('[role=alert][data-status="404"]').waitFor();
  await p.close();
});

test('a device added from the list opens with its access token shown once', async () => {
  await setup();
  await goto(page, `#/devices?asset=${plant.assets.cell.id}`);
  await page.getByTestId('add-device').click();
  const dlg = page.getByRole('dialog');
  await dlg.getByLabel('Name').fill('pump-new');
  await dlg.getByLabel('Device profile').selectOption({ label: 'pump' });
  assert.equal(await dlg.getByLabel('Asset').inputValue(), plant.assets.cell.id); // the selected asset
  await dlg.getByRole('button', { name: 'Create' }).click();
  await page.waitForURL(/#\/devices\/[^?]+\?tab=credentials/);
  await waitReady(page, '[data-testid=credentials]');
  const token = (await page.getByTestId('device-token').textContent()).trim();
  assert.match(await page.locator('[data-snippet=python] pre').textContent(), new RegExp(token));
  await rest(`/api/v1/${token}/telemetry`, { body: { flow_m3h: 12 }, token: null });
  // shown once: a reload no longer has it
  await page.reload();
  await waitReady(page, '[data-testid=credentials]');
  assert.equal(await page.getByTestId('device-token').count(), 0);
  // an empty name is refused in the dialog
  await goto(page, '#/devices');
  await page.getByTestId('add-device').click();
  await page.getByRole('dialog').getByRole('button', { name: 'Create' }).click();
  await page.getByRole('dialog').getByText('Enter a name').waitFor();
  await page.keyboard.press('Escape');
});

test('assets are added under the selected one, renamed and deleted from the tree', async () => {
  await setup();
  await goto(page, `#/devices?asset=${plant.assets.cell.id}`);
  await page.getByTestId('add-asset').click();
  let dlg = page.getByRole('dialog');
  await dlg.getByText('Under Cell 3').waitFor();
  await dlg.getByLabel('Name').fill('Station 7');
  assert.equal(await dlg.getByLabel('Type').inputValue(), 'cell');
  await dlg.getByRole('button', { name: 'Create' }).click();
  await page.getByRole('heading', { name: 'Station 7' }).waitFor();
  assert.equal(await treeItem(page, 'Station 7').getAttribute('aria-selected'), 'true');
  await page.getByTestId('edit-asset').click();
  dlg = page.getByRole('dialog');
  await dlg.getByLabel('Name').fill('Station 8');
  await dlg.getByRole('button', { name: 'Save' }).click();
  await page.getByRole('heading', { name: 'Station 8' }).waitFor();
  await page.getByTestId('delete-asset').click();
  await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
  await page.getByRole('heading', { name: 'Cell 3' }).waitFor();
  assert.equal(await treeItem(page, 'Station 8').count(), 0);
  // an asset with sub-assets is refused by the server, and the page says so
  await treeItem(page, 'Line A').click();
  await page.getByTestId('delete-asset').click();
  await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
  await page.locator('.toast-error').waitFor();
  await treeItem(page, 'Line A').waitFor();
});

test('a device is edited and deleted from its page', async () => {
  await setup();
  const tmp = await rest('/api/v1/devices', { body: { name: 'pump-tmp', profile_id: plant.profile.id, tenant_id: plant.tenant.id } });
  await goto(page, `#/devices/${tmp.id}`);
  await page.getByTestId('edit-device').click();
  const dlg = page.getByRole('dialog');
  await dlg.getByLabel('Label').fill('temporary pump');
  await dlg.getByLabel('Asset').selectOption({ label: 'Line A' });
  await dlg.getByRole('button', { name: 'Save' }).click();
  await page.getByText('temporary pump').waitFor();
  await page.getByRole('link', { name: 'Line A' }).waitFor();
  await page.getByTestId('delete-device').click();
  await page.getByRole('dialog').getByRole('button', { name: 'Delete device' }).click();
  await page.waitForURL(new RegExp(`#/devices\\?asset=${plant.assets.line.id}`));
  const r = await rest(`/api/v1/devices/${tmp.id}`, { raw: true });
  assert.equal(r.status, 404);
});

test('chart.js: empty state, gaps break the line, live appends stay bounded', async () => {
  await setup();
  await goto(page, '#/devices');
  const r = await page.evaluate(async () => {
    const { timeChart } = await import('/ui/js/core/chart.js');
    const el = document.createElement('div');
    el.style.width = '600px';
    document.body.append(el);
    const wait = () => new Promise((res) => {
      const tick = () => (el.hasAttribute('data-ready') ? res() : requestAnimationFrame(tick));
      tick();
    });
    const c = timeChart(el, { series: [{ label: 'x', unit: 'bar' }], height: 120, maxPoints: 5 });
    c.setData([], [[]]);
    await wait();
    const empty = el.querySelector('.tchart-overlay').textContent;
    // 10 points 1 s apart with a 60 s hole: a null is inserted to break the line
    const ts = [];
    for (let i = 0; i < 10; i++) ts.push(1e12 + i * 1000 + (i >= 5 ? 60000 : 0));
    c.setData(ts, [ts.map((_, i) => i)]);
    await wait();
    const withGap = Number(el.dataset.points);
    const overlayHidden = el.querySelector('.tchart-overlay').hidden;
    for (let i = 0; i < 20; i++) c.append(2e12 + i * 1000, [i]);
    await new Promise((res) => requestAnimationFrame(() => requestAnimationFrame(res)));
    const bounded = Number(el.dataset.points);
    const last = Number(el.dataset.last);
    c.destroy();
    el.remove();
    return { empty, withGap, overlayHidden, bounded, last };
  });
  assert.equal(r.empty, 'No data in this time range');
  assert.equal(r.withGap, 11);
  assert.equal(r.overlayHidden, true);
  assert.equal(r.bounded, 5);
  assert.equal(r.last, 2e12 + 19000);
});

test('the device list follows a device going online without a reload', async () => {
  await setup();
  const d = await rest('/api/v1/devices', { body: { name: 'pump-live', profile_id: plant.profile.id, tenant_id: plant.tenant.id } });
  await goto(page, '#/devices?q=pump-live');
  const cell = page.locator('.dev-state-cell');
  await cell.waitFor();
  assert.notEqual(await cell.locator('.badge').getAttribute('data-state'), 'online');
  await rest(`/api/v1/${d.credentials.accessToken}/telemetry`, { body: { flow_m3h: 20 }, token: null });
  await cell.locator('.badge[data-state=online]').waitFor({ timeout: 10000 }); // the list refreshes every 30 s
});

test('charts: ten at first then "show all"; the aggregation is asked of the server', async () => {
  await setup();
  const d = await rest('/api/v1/devices', { body: { name: 'pump-many', profile_id: plant.profile.id, tenant_id: plant.tenant.id } });
  const now = Date.now();
  const fields = (i) => Array.from({ length: 12 }, (_, k) => `m${String(k).padStart(2, '0')}=${i + k}`).join(',');
  const lines = [];
  for (let i = 0; i < 30; i++) lines.push(`many,device=pump-many ${fields(i)} ${(now - (30 - i) * 60000) * 1e6}`);
  await rest('/write', { query: { db: plant.tenant.db_name }, body: lines.join('\n') });
  await goto(page, `#/devices/${d.id}?tab=charts&range=6h`);
  await waitReady(page, '[data-testid=charts]');
  // 12 keys without profile entries, plus the profile's 3 numeric keys without data
  assert.equal(await page.locator('[data-testid=chart]').count(), 10);
  assert.equal(await page.locator('[data-testid=chart]').first().getAttribute('data-key'), 'm00');
  assert.equal(await page.getByLabel('Time range').inputValue(), '6h');
  const reqs = [];
  const onReq = (r) => { if (r.url().includes('/telemetry?')) reqs.push(new URL(r.url()).searchParams); };
  page.on('request', onReq);
  await page.getByRole('button', { name: 'Show all 15 charts' }).click();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=chart][data-ready]').length === 15);
  await page.getByTestId('chart-agg').selectOption('MAX');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=chart][data-ready]').length === 15);
  page.off('request', onReq);
  assert.equal(reqs.length, 2);
  assert.equal(reqs[0].get('keys').split(',').length, 15);
  assert.equal(reqs[1].get('agg'), 'MAX');
  assert.ok(Number(await page.locator('[data-testid=chart][data-key=m03]').getAttribute('data-points')) >= 30);
});
