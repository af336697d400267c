// SPDX-License-Identifier: Apache-2.0
// Error and empty states of every page (the quality bar): with the server's data
// answers replaced by a 500, each page shows an error panel carrying the server's message;
// with the server unreachable, each page shows the network error (panel or banner); a new
// tenant with nothing in it gets calm empty pages, never an error panel. The failures are
// injected in the browser (playwright routes), so the daemon itself stays healthy.

import test from 'node:test';
import assert from 'node:assert/strict';
import { env, suite, makeTenant, makeUser, seedPlant, login, goto } from './harness.mjs';

const s = suite();
let plant;

test.before(async () => {
  plant = await seedPlant({ devices: 1, minutes: 1 });
});

const MESSAGE = 'injected failure 4711';

/** Whether a request is one of the data calls a page makes (not the session check). */
function isData(url) {
  const u = new URL(url);
  if (u.origin !== new URL(env.url).origin) return false;
  if (u.pathname === '/api/v1/auth/me' || u.pathname === '/api/v1/auth/login') return false;
  if (/^\/api\/v1\/tenants\/[^/]+$/.test(u.pathname)) return false; // the shell's tenant name
  return u.pathname.startsWith('/api/') || ['/query', '/metrics', '/health'].includes(u.pathname);
}

const PAGES = () => ['#/overview', '#/devices', `#/devices/${plant.devices[0].id}`, '#/explorer', '#/system',
  '#/region?code=CN-GD', '#/admin/tenants', '#/admin/users', '#/admin/tokens', '#/admin/profiles', '#/admin/audit'];

test('a 500 from the server shows an error panel with the server\'s message on every page', async () => {
  const page = await s.newPage();
  await login(page, { token: env.token, via: 'storage' });
  const undo = [s.allow(/HTTP 500/), s.allow(/status of 500/)];
  await page.route(isData, (r) => r.fulfill({
    status: 500, contentType: 'application/json',
    body: JSON.stringify({ error: { code: 'internal', message: MESSAGE } }),
  }));
  try {
    for (const h of PAGES()) {
      await goto(page, h);
      const panel = page.locator('main .state-error, main [role=alert]').filter({ hasText: MESSAGE });
      await panel.first().waitFor({ state: 'visible', timeout: 5000 })
        .catch(() => assert.fail(`${h}: no error panel with the server's message on a 500`));
      s.assertNoErrors();
    }
  } finally {
    await page.unroute(isData);
    undo.forEach((f) => f());
    await page.context().close();
  }
});

test('an unreachable server shows the network error on every page', async () => {
  const page = await s.newPage();
  await login(page, { token: env.token, via: 'storage' });
  const undo = [s.allow(/ERR_CONNECTION_REFUSED/)];
  await page.route(isData, (r) => r.abort('connectionrefused'));
  try {
    for (const h of PAGES()) {
      await goto(page, h);
      const shown = page.locator('main .state-error[data-status="0"], #netbanner:not([hidden])');
      await shown.first().waitFor({ state: 'visible', timeout: 5000 })
        .catch(() => assert.fail(`${h}: no network error shown while the server is unreachable`));
      s.assertNoErrors();
    }
  } finally {
    await page.unroute(isData);
    undo.forEach((f) => f());
    await page.context().close();
  }
});

test('a session that expires sends every page back to login, and back again after it', async () => {
  const t = await makeTenant();
  const ta = await makeUser({ role: 'tenant_admin', tenant: t });
  const page = await s.newPage();
  for (const h of ['#/overview', '#/devices', '#/explorer', '#/admin/users']) {
    await login(page, { email: ta.email, password: ta.password });
    await goto(page, '#/account');
    // the server forgets the session: every API call now answers 401
    await page.route(isData, (r) => r.fulfill({
      status: 401, contentType: 'application/json',
      body: JSON.stringify({ error: { code: 'unauthorized', message: 'authorization failed: session expired' } }),
    }));
    await page.evaluate((x) => { location.hash = x; }, h);
    await page.waitForFunction(() => location.hash.startsWith('#/login'), null, { timeout: 5000 })
      .catch(() => assert.fail(`${h}: a 401 did not lead to the login page`));
    const hash = await page.evaluate(() => location.hash);
    // next= is the page, with whatever view state the page put in its address (the explorer
    // adds its range: #/explorer?r=1h)
    const next = new URLSearchParams(hash.split("?")[1] || "").get("next") || "";
    assert.equal(next.split("?")[0], h, `${h}: login (${hash}) has no next= back to it`);
    await page.unroute(isData);
    s.assertNoErrors();
  }
  await page.context().close();
});

test('a new tenant with no data gets empty pages, not errors', async () => {
  const t = await makeTenant();
  const ta = await makeUser({ role: 'tenant_admin', tenant: t });
  const page = await s.newPage();
  await login(page, { email: ta.email, password: ta.password });
  for (const h of ['#/overview', '#/devices', '#/explorer', '#/admin/profiles', '#/admin/tokens']) {
    await goto(page, h);
    const n = await page.locator('main .state-error').count();
    assert.equal(n, 0, `${h}: an empty tenant shows an error panel`);
    s.assertNoErrors();
  }
  await page.context().close();
});
