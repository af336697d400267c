// SPDX-License-Identifier: Apache-2.0
// Overview, System and Region pages: the overview's online count follows a device's
// telemetry; the system page loads for an admin and is hidden from a viewer; a regional
// observer's region page shows aggregates only (no device, no tenant name).

import test from 'node:test';
import assert from 'node:assert/strict';
import { suite, env, rest, login, goto, waitReady, makeUser, makeTenant, seedPlant, unique, shot, navLinks, a11yProblems } from './harness.mjs';

const s = suite();

async function fresh(locale = 'en-US') {
  return s.newPage({ locale });
}

// Screenshots in English, then (switching the language in the top bar) in Chinese.
async function shots(p, name) {
  if (!env.screenshots) return;
  await shot(p, name, 'en');
  await p.evaluate(() => {
    for (const el of document.querySelectorAll('main [data-ready]')) el.removeAttribute('data-ready');
  });
  await p.getByRole('button', { name: '中文' }).click();
  await waitReady(p);
  await p.locator('html[lang="zh-CN"]').waitFor({ state: 'attached' });
  await p.waitForTimeout(500);
  await shot(p, name, 'zh-CN');
}

async function textOf(p, id) {
  return (await p.getByTestId(id).textContent()).trim();
}

test('the overview counts a device online once it posts telemetry', async () => {
  const ta = await makeUser({ role: 'tenant_admin' });
  const tid = ta.tenant.id;
  const profile = await rest('/api/v1/device-profiles', { body: { name: 'press', tenant_id: tid } });
  const names = ['press-1', 'press-2 with a rather long name that the list must cut with an ellipsis'];
  const devs = [];
  for (const name of names) devs.push(await rest('/api/v1/devices', { body: { name, profile_id: profile.id, tenant_id: tid } }));
  const p = await fresh();
  await login(p, { ...ta, next: '#/overview' });
  assert.equal(await textOf(p, 'ov-online'), '0');
  assert.match(await textOf(p, 'ov-total'), /2/);
  assert.equal(await textOf(p, 'ov-count-never'), '2');

  await rest(`/api/v1/${devs[0].credentials.accessToken}/telemetry`, { body: { force_kn: 12.5, temp_c: 41 }, token: null });
  // the page polls every 5 s and the registry records activity once a second
  await p.getByTestId('ov-online').filter({ hasText: /^1$/ }).waitFor({ timeout: 15000 });
  assert.equal(await textOf(p, 'ov-count-never'), '1');
  const busiest = p.getByRole('region', { name: 'Busiest devices' });
  await busiest.getByRole('link', { name: 'press-1' }).waitFor();
  await p.getByRole('region', { name: 'Silent devices' }).getByRole('link', { name: 'press-1' }).waitFor();
  // tenant admins read the audit log: the device creations are recent events
  const events = p.getByRole('region', { name: 'Recent events' });
  await events.getByRole('cell', { name: 'device.create' }).first().waitFor();
  // device state changes are events too (the next poll shows it)
  await events.getByRole('cell', { name: 'Device online' }).waitFor({ timeout: 15000 });
  await events.getByRole('link', { name: 'press-1' }).waitFor();
  // the device link opens the device page
  await busiest.getByRole('link', { name: 'press-1' }).click();
  await p.waitForURL(new RegExp(`#/devices/${devs[0].id}`));
});

test('the overview of a small plant (and its screenshots)', async () => {
  const plant = await seedPlant({ devices: 6, names: ['CNC-1-主轴', 'CNC-2', 'Press-A', 'Kiln 7 — zone 3 with a long name', 'Pump-4', 'Boiler'] });
  const ta = await makeUser({ role: 'tenant_admin', tenant: plant.tenant });
  await rest('/api/v1/devices', { body: { name: 'spare-sensor', profile_id: plant.profile.id, tenant_id: plant.tenant.id } });
  const p = await fresh();
  await login(p, { ...ta, next: '#/overview' });
  await p.getByTestId('ov-online').filter({ hasText: /^6$/ }).waitFor({ timeout: 15000 });
  assert.match(await textOf(p, 'ov-total'), /7/);
  // wait for a second poll so the sparkline has a line
  await p.waitForTimeout(5500);
  assert.deepEqual(await a11yProblems(p), []);
  await shots(p, 'overview');
});

test('a tenant with no device sees how to connect one; a viewer sees no audit events', async () => {
  const t = await makeTenant();
  const viewer = await makeUser({ role: 'viewer', tenant: t });
  const p = await fresh('zh-CN');
  await login(p, { ...viewer, next: '#/overview' });
  await p.getByTestId('ov-empty').waitFor();
  assert.equal(await p.locator('html').getAttribute('lang'), 'zh-CN');
  await p.getByText('审计事件（登录、变更）仅对管理员显示；设备上下线对所有人显示。').waitFor();
  await p.getByRole('link', { name: '连接第一台设备' }).waitFor();
});

test('the overview shows an error panel with a retry when the server fails', async () => {
  const ta = await makeUser({ role: 'tenant_admin' });
  const p = await fresh();
  const undo = s.allow(/HTTP 500|status of 500|console\/overview/);
  let fail = true;
  await p.route('**/api/v1/console/overview*', (route) => (fail
    ? route.fulfill({ status: 500, contentType: 'application/json', body: '{"error":{"code":"internal","message":"disk on fire"}}' })
    : route.continue()));
  await login(p, { ...ta, next: '#/overview' });
  await p.getByRole('alert').filter({ hasText: 'disk on fire' }).waitFor();
  fail = false;
  await p.getByRole('button', { name: 'Retry' }).click();
  await p.getByTestId('ov-online').waitFor();
  undo();
});

test('a platform admin sees the platform and can pick one tenant', async () => {
  const a = await makeTenant({ name: unique('Alpha') });
  const prof = await rest('/api/v1/device-profiles', { body: { name: 'meter', tenant_id: a.id } });
  await rest('/api/v1/devices', { body: { name: unique('meter'), profile_id: prof.id, tenant_id: a.id } });
  const pa = await makeUser({ role: 'platform_admin' });
  const p = await fresh();
  await login(p, { ...pa, next: '#/overview' });
  await p.getByText('Figures cover the whole platform (all tenants).').waitFor();
  const sel = p.getByLabel('Tenant', { exact: true });
  await sel.locator(`option[value="${a.id}"]`).waitFor({ state: 'attached' });
  await sel.selectOption(a.id);
  await p.waitForURL(new RegExp(`tenant=${a.id}`));
  await p.getByText("Ingest and storage figures are this tenant's own database.").waitFor();
  assert.match(await textOf(p, 'ov-total'), /\b1\b/);
});

test('the system page shows health and metrics to a platform admin', async () => {
  const pa = await makeUser({ role: 'platform_admin' });
  const p = await fresh();
  await login(p, { ...pa, next: '#/system' });
  await p.getByTestId('sys-status').getByText('Healthy').waitFor();
  assert.match(await textOf(p, 'sys-version'), /^\d+\.\d+\.\d+/);
  await p.getByTestId('sys-memory').filter({ hasText: /iB/ }).waitFor();
  assert.notEqual(await textOf(p, 'sys-mqtt'), '');
  // the second poll (5 s) gives rates and starts the charts
  await p.getByTestId('sys-ingest').filter({ hasText: /values\/s/ }).waitFor({ timeout: 15000 });
  assert.deepEqual(await a11yProblems(p), []);
  await shots(p, 'system');
});

test('a tenant admin sees health but the server keeps metrics from them', async () => {
  const ta = await makeUser({ role: 'tenant_admin' });
  const p = await fresh();
  const undo = s.allow(/HTTP 403 GET \/metrics/); // the page asks; the server refuses
  await login(p, { ...ta, next: '#/system' });
  await p.getByTestId('sys-status').waitFor();
  await p.getByTestId('sys-metrics-denied').waitFor();
  undo();
});

test('a viewer has no system page', async () => {
  const viewer = await makeUser({ role: 'viewer' });
  const p = await fresh();
  await login(p, { ...viewer, next: '#/overview' });
  assert.ok(!(await navLinks(p)).includes('#/system'));
  await goto(p, '#/system');
  await p.locator('[data-status="403"]').waitFor();
  assert.equal(await p.getByTestId('sys-status').count(), 0);
});

test('a regional observer sees aggregates of its region only', async () => {
  const region = `R${Date.now().toString(36).slice(-6)}`.toUpperCase();
  const names = [unique('Secret-Steel'), unique('Secret-Textile')];
  const inds = ['steel', 'textile'];
  const devNames = [];
  for (let i = 0; i < 2; i++) {
    const tn = await makeTenant({ name: names[i], industry: inds[i], region });
    const prof = await rest('/api/v1/device-profiles', { body: { name: 'm', tenant_id: tn.id } });
    for (let k = 0; k <= i; k++) {
      const dn = unique('secret-dev');
      devNames.push(dn);
      const d = await rest('/api/v1/devices', { body: { name: dn, profile_id: prof.id, tenant_id: tn.id } });
      if (k === 0) await rest(`/api/v1/${d.credentials.accessToken}/telemetry`, { body: { v: 1 }, token: null });
    }
  }
  await makeTenant({ name: unique('Elsewhere'), region: 'CN-ZZ' });
  const ro = await makeUser({ role: 'regional_observer', region });
  const p = await fresh();
  await login(p, ro);
  await p.waitForURL(/#\/region/);
  await p.getByTestId('rg-tenants').filter({ hasText: /^2$/ }).waitFor();
  assert.equal(await textOf(p, 'rg-devices'), '3');
  // activity is written once a second: poll the summary until both devices count as online
  for (let i = 0; i < 20 && (await textOf(p, 'rg-online')) !== '2'; i++) {
    await p.waitForTimeout(500);
    await p.getByRole('button', { name: 'Refresh' }).click();
  }
  assert.equal(await textOf(p, 'rg-online'), '2');
  await p.getByRole('cell', { name: 'steel' }).waitFor();
  await p.getByRole('cell', { name: 'textile' }).waitFor();
  const text = await p.locator('main').innerText();
  assert.ok(!/\bnull\b|undefined/.test(text), text);
  for (const secret of [...names, ...devNames]) assert.ok(!text.includes(secret), `${secret} shown to the observer`);
  assert.deepEqual((await navLinks(p)).filter((x) => x !== '#/account'), ['#/region']);
  assert.deepEqual(await a11yProblems(p), []);
  await shots(p, 'region');
});
