// SPDX-License-Identifier: Apache-2.0
// Tests of the browser test harness itself (harness.mjs): REST helpers against the daemon,
// users and tenants, and that browser console errors and page errors are caught (a spec
// that misses a JS error would pass a broken console).

import test from 'node:test';
import assert from 'node:assert/strict';
import { env, rest, RestError, makeUser, makeTenant, suite, shot } from './harness.mjs';

const s = suite();

test('rest answers /ping and knows the admin', async () => {
  assert.equal(await rest('/ping', { token: null }), null);
  const me = await rest('/api/v1/auth/me');
  assert.equal(me.role, 'platform_admin');
});

test('rest throws RestError with the status on 4xx', async () => {
  await assert.rejects(rest('/api/v1/auth/me', { token: 'wrong-token' }),
    (e) => e instanceof RestError && e.status === 401);
  const r = await rest('/api/v1/auth/me', { token: null, raw: true });
  assert.equal(r.status, 401);
});

test('makeUser makes a tenant user who can sign in', async () => {
  const t = await makeTenant();
  const v = await makeUser({ role: 'viewer', tenant: t });
  const me = await rest('/api/v1/auth/me', { token: v.token });
  assert.equal(me.role, 'viewer');
  assert.equal(me.tenant_id, t.id);
  const ro = await makeUser({ role: 'regional_observer', region: 'CN-JS' });
  const me2 = await rest('/api/v1/auth/me', { token: ro.token });
  assert.equal(me2.role, 'regional_observer');
  assert.equal(ro.tenant, null);
});

test('a page error and a console.error are collected and fail the check', async () => {
  const p = s.page;
  await p.setContent('<p>x</p>');
  await p.evaluate(() => { console.error('deliberate console error'); });
  await p.evaluate(() => setTimeout(() => { throw new Error('deliberate page error'); }, 0));
  await p.waitForTimeout(100);
  assert.throws(() => s.assertNoErrors(), /deliberate console error[\s\S]*deliberate page error/);
  assert.doesNotThrow(() => s.assertNoErrors()); // forgotten once reported
});

test('allow() ignores an expected problem, and only while allowed', async () => {
  const undo = s.allow(/expected oops/);
  await s.page.evaluate(() => console.error('expected oops'));
  await s.page.waitForTimeout(50);
  assert.doesNotThrow(() => s.assertNoErrors());
  undo();
  await s.page.evaluate(() => console.error('expected oops'));
  await s.page.waitForTimeout(50);
  assert.throws(() => s.assertNoErrors(), /expected oops/);
});

test('an API 4xx is an answer, a missing static file is a problem', async () => {
  const p = s.page;
  await p.goto(`${env.url}/health`);
  const st = await p.evaluate(async () => (await fetch('/api/v1/users')).status);
  assert.equal(st, 401);
  await p.waitForTimeout(50);
  assert.doesNotThrow(() => s.assertNoErrors());
  await p.evaluate(async () => (await fetch('/ui/js/no-such-module.js')).status);
  await p.waitForTimeout(50);
  assert.throws(() => s.assertNoErrors(), /HTTP 404 GET \/ui\/js\/no-such-module\.js/);
});

test('a request to another host is a problem (the console works offline)', async () => {
  const p = s.page;
  await p.goto(`${env.url}/health`);
  await p.route('http://cdn.example.invalid/**', (r) => r.fulfill({ status: 200, body: '' }));
  await p.evaluate(async () => { await fetch('http://cdn.example.invalid/lib.js', { mode: 'no-cors' }).catch(() => {}); });
  await p.waitForTimeout(50);
  assert.throws(() => s.assertNoErrors(), /external request: GET http:\/\/cdn\.example\.invalid\/lib\.js/);
  await p.unroute('http://cdn.example.invalid/**');
});

test('a second page has its own locale and is watched too', async () => {
  const p = await s.newPage({ locale: 'zh-CN' });
  await p.setContent('<p>x</p>');
  assert.equal(await p.evaluate(() => navigator.language), 'zh-CN');
  await p.evaluate(() => console.error('from the zh page'));
  await p.waitForTimeout(50);
  assert.throws(() => s.assertNoErrors(), /from the zh page/);
});

test('shot does nothing unless LOOM_SCREENSHOTS=1', async (t) => {
  if (env.screenshots) { t.skip('screenshots are on in this run'); return; }
  assert.equal(await shot(s.page, 'never', 'en'), null);
});
