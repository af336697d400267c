// SPDX-License-Identifier: Apache-2.0
// Walk-through of the whole console: the platform admin (API token) and a tenant admin
// (password) open every page and admin tab, each reaches data-ready with no console error,
// no error panel and no untranslated key; a viewer sees no admin tab but tokens and is
// refused #/admin/users; a regional observer lands on Region; sign-out returns to login
// and revokes the session. With LOOM_SCREENSHOTS=1 it also writes the main pages'
// screenshots in both languages to docs/screenshots/.

import test from 'node:test';
import assert from 'node:assert/strict';
import {
  env, suite, rest, seedPlant, makeUser, makeTenant, login, goto, waitReady, shot, navLinks, lang, a11yProblems,
} from './harness.mjs';

const s = suite();
let plant;
let ta;
let viewer;
let observer;

test.before(async () => {
  const tenant = await makeTenant({ name: '苏州精工泵业 Suzhou Precision Pumps', industry: 'machinery', region: 'CN-JS' });
  plant = await seedPlant({ tenant, devices: 6, minutes: 30 });
  ta = await makeUser({ role: 'tenant_admin', tenant: plant.tenant, name: 'Li Na 李娜' });
  viewer = await makeUser({ role: 'viewer', tenant: plant.tenant, name: 'Wang Wei 王伟' });
  observer = await makeUser({ role: 'regional_observer', region: plant.tenant.region_code || 'CN-GD' });
});

const AREAS = 'core|overview|system|region|devices|explorer|admin';
const RAW_KEY = new RegExp(`(^|[\\s(])((?:${AREAS})\\.[a-z0-9_]+(?:\\.[a-z0-9_]+)*)(?=$|[\\s),.:;])`, 'm');

/**
 * Open a route and check it: ready, no untranslated key in the page or the title, and
 * either no error panel (expect 'ok'), only access-denied panels (expect 'partial') or the
 * access-denied panel (expect 'forbidden').
 * Browser problems (console errors...) are reported with the route in the message.
 */
async function visit(page, hash, expect = 'ok') {
  await goto(page, hash);
  const main = page.locator('main');
  const text = await main.innerText();
  const title = await page.title();
  const raw = RAW_KEY.exec(`${text}\n${title}`);
  assert.equal(raw, null, `${hash}: untranslated key ${raw && raw[2]} shown`);
  const errors = main.locator('.state-error');
  if (expect === 'forbidden') {
    await main.locator('.state-error[data-status="403"]').first().waitFor({ state: 'visible' })
      .catch(() => assert.fail(`${hash}: no access-denied (403) panel`));
  } else {
    // 'partial': sections the server refuses this role may show their 403 panel (System
    // for a tenant admin: /metrics is the platform's); any other error panel is a bug.
    const bad = expect === 'partial' ? main.locator('.state-error:not([data-status="403"])') : errors;
    const n = await bad.count();
    const what = n ? await bad.first().innerText() : '';
    assert.equal(n, 0, `${hash}: shows an error panel: ${what.replace(/\s+/g, ' ')}`);
    assert.deepEqual(await a11yProblems(page), [], `${hash}: accessibility`);
  }
  try {
    s.assertNoErrors();
  } catch (e) {
    e.message = `${hash}: ${e.message}`;
    throw e;
  }
}

const dev = () => plant.devices[0];
const TENANT_PAGES = () => ['#/overview', '#/devices', `#/devices/${dev().id}`, '#/explorer', '#/system',
  '#/admin', '#/admin/tenants', '#/admin/users', '#/admin/tokens', '#/admin/profiles',
  `#/admin/profiles/${plant.profile.id}`, '#/admin/audit', '#/account'];

test('the console is served at / and its assets under /ui/', async () => {
  const root = await rest('/', { token: null, raw: true });
  assert.equal(root.status, 200);
  assert.match(root.headers.get('content-type') || '', /text\/html/);
  assert.match(String(root.body), /<script[^>]+type="?module/);
  for (const p of ['/ui/js/app.js', '/ui/css/app.css', '/ui/vendor/uPlot.iife.min.js', '/ui/i18n/zh-CN/core.json']) {
    const r = await rest(p, { token: null, raw: true });
    assert.equal(r.status, 200, `${p} -> ${r.status}`);
  }
});

test('the platform admin signs in with the API token and opens every page', async () => {
  const page = s.page;
  await login(page, { token: env.token });
  assert.match(await page.evaluate(() => location.hash), /^#\/overview/);
  const links = await navLinks(page);
  for (const h of ['#/overview', '#/devices', '#/explorer', '#/admin', '#/system', '#/region']) {
    assert.ok(links.includes(h), `admin nav lacks ${h}: ${links}`);
  }
  for (const h of [...TENANT_PAGES(), '#/region', `#/region?code=${plant.tenant.region_code || 'CN-GD'}`]) {
    await visit(page, h);
  }
});

test('a tenant admin signs in with a password and opens every tenant page', async () => {
  const page = await s.newPage();
  await login(page, { email: ta.email, password: ta.password });
  assert.match(await page.evaluate(() => location.hash), /^#\/overview/);
  const links = await navLinks(page);
  assert.ok(!links.includes('#/region'), `tenant admin sees Region: ${links}`);
  for (const h of TENANT_PAGES()) await visit(page, h, h === '#/system' ? 'partial' : 'ok');
  await visit(page, '#/region', 'forbidden');
  // the seeded device is listed and its page names it
  await goto(page, '#/devices');
  await page.locator('main').getByText(dev().name, { exact: true }).first().waitFor();
  await page.context().close();
});

test('a viewer sees no admin tab but tokens and cannot reach #/admin/users', async () => {
  const page = await s.newPage();
  await login(page, { email: viewer.email, password: viewer.password });
  const links = await navLinks(page);
  assert.ok(!links.includes('#/system'), `viewer sees System: ${links}`);
  assert.ok(!links.includes('#/region'), `viewer sees Region: ${links}`);
  for (const h of ['#/overview', '#/devices', `#/devices/${dev().id}`, '#/explorer', '#/admin/tokens']) {
    await visit(page, h);
  }
  await visit(page, '#/admin');
  const adminLinks = await page.locator('main a[href^="#/admin/"]')
    .evaluateAll((as) => as.filter((a) => a.offsetParent !== null).map((a) => a.getAttribute('href')));
  const others = adminLinks.filter((h) => !h.startsWith('#/admin/tokens'));
  assert.deepEqual(others, [], 'viewer is offered admin tabs other than tokens');
  const tabs = await page.locator('main [role=tab]').count();
  assert.ok(tabs <= 1, `viewer sees ${tabs} admin tabs`);
  for (const h of ['#/admin/users', '#/admin/tenants', '#/admin/audit', '#/system', '#/region']) {
    await visit(page, h, 'forbidden');
  }
  // the server agrees
  const r = await rest('/api/v1/users', { token: viewer.token, raw: true });
  assert.equal(r.status, 403);
  await page.context().close();
});

test('a regional observer lands on Region and sees only Region', async () => {
  const page = await s.newPage();
  await login(page, { email: observer.email, password: observer.password });
  assert.match(await page.evaluate(() => location.hash), /^#\/region/);
  await visit(page, '#/region');
  const links = await navLinks(page);
  assert.deepEqual(links, ['#/region']);
  for (const h of ['#/overview', '#/devices', '#/explorer']) await visit(page, h, 'forbidden');
  await page.context().close();
});

test('signing out returns to the login page and ends the session', async () => {
  const page = await s.newPage();
  await login(page, { email: ta.email, password: ta.password });
  const token = await page.evaluate(() => sessionStorage.getItem('loom.token') || localStorage.getItem('loom.token'));
  assert.ok(token, 'no session token kept after sign-in');
  assert.equal((await rest('/api/v1/auth/me', { token, raw: true })).status, 200);
  await page.locator('#user-btn').click();
  await page.locator('#user-menu [role=menuitem]').last().click();
  await page.waitForFunction(() => location.hash.startsWith('#/login'));
  await waitReady(page);
  await page.locator('input[type=password]').first().waitFor({ state: 'visible' });
  assert.equal((await rest('/api/v1/auth/me', { token, raw: true })).status, 401, 'session still valid after sign-out');
  // a protected route now sends back to login
  await page.evaluate(() => { location.hash = '#/devices'; });
  await page.waitForFunction(() => location.hash.startsWith('#/login'));
  await page.context().close();
});

test('long names on desktop and tablet screens: no page overflows sideways, touch targets >= 40 px', async () => {
  const longName = '苏州第三精密加工厂 Suzhou No.3 Precision Machining Plant, high-pressure coolant line';
  const t = await makeTenant({ name: `${longName} ${Date.now()}` });
  const p = await seedPlant({
    tenant: t, devices: 1, minutes: 1,
    names: [`coolant-pump-with-an-unbreakable-name-${'x'.repeat(70)}`],
  });
  const user = await makeUser({ role: 'tenant_admin', tenant: t });
  const pages = ['#/overview', '#/devices', `#/devices/${p.devices[0].id}`, '#/explorer', '#/admin/users',
    '#/admin/profiles', '#/system'];
  const problems = [];
  for (const viewport of [{ width: 1366, height: 768 }, { width: 1024, height: 768 }, { width: 768, height: 1024 }]) {
    const page = await s.newPage({ viewport, hasTouch: viewport.width < 1366 });
    await login(page, { email: user.email, password: user.password });
    for (const h of pages) {
      await goto(page, h);
      const over = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      if (over > 1) problems.push(`${h} at ${viewport.width}x${viewport.height} overflows sideways by ${over} px`);
      if (viewport.width < 1366) {
        const small = await page.evaluate(() => [...document.querySelectorAll('header button, header a, nav a, main .btn')]
          .filter((el) => el.getClientRects().length && getComputedStyle(el).visibility !== 'hidden')
          .map((el) => [el.getBoundingClientRect(), el])
          .filter(([r]) => r.width > 0 && (r.height < 40 || r.width < 40))
          .map(([r, el]) => `${el.tagName.toLowerCase()}.${[...el.classList].join('.')} "${(el.textContent || el.getAttribute('aria-label') || '').trim().slice(0, 20)}" ${Math.round(r.width)}x${Math.round(r.height)}`));
        for (const x of small) problems.push(`${h} at ${viewport.width}px: touch target under 40 px: ${x}`);
      }
      s.assertNoErrors();
    }
    await page.context().close();
  }
  assert.deepEqual(problems, [], 'layout problems (all pages and sizes listed)');
});

/** Post one fresh point per device every second (live charts, ingest rate); returns stop(). */
function feed(devices) {
  let n = 0;
  const tick = async () => {
    n += 1;
    await Promise.all(devices.filter((d) => d.accessToken).map((d, i) => rest(`/api/v1/${d.accessToken}/telemetry`, {
      token: null,
      body: { flow_m3h: +(42 + 6 * Math.sin(n / 5 + i) + i).toFixed(2), pressure_bar: +(4 + 0.4 * Math.cos(n / 7 + i)).toFixed(2),
        temp_c: +(56 + Math.sin(n / 11 + i)).toFixed(1) },
    }).catch(() => {})));
  };
  const timer = setInterval(tick, 1000);
  return () => clearInterval(timer);
}

/** Wait until every chart on the page has drawn its data (chart.js sets data-ready). */
async function chartsDrawn(page) {
  await page.waitForFunction(() => [...document.querySelectorAll('main .tchart')].every((c) => c.hasAttribute('data-ready')),
    null, { timeout: env.timeoutMs }).catch(() => {});
}

test('screenshots of the main pages in both languages', async (t) => {
  if (!env.screenshots) {
    t.skip('LOOM_SCREENSHOTS is not 1');
    return;
  }
  const stop = feed(plant.devices);
  const page = await s.newPage();
  const adminPage = await s.newPage();
  const region = plant.tenant.region_code || 'CN-GD';
  const explorerHash = `#/explorer?db=${encodeURIComponent(plant.tenant.db_name)}&m=pump&f=flow_m3h&f=pressure_bar&g=device&r=30m`;
  try {
    await new Promise((r) => setTimeout(r, 6000)); // a few live points and a non-zero ingest rate
    for (const l of ['en', 'zh-CN']) {
      for (const p of [page, adminPage]) {
        await p.goto(`${env.url}/#/login`);
        await p.evaluate((x) => localStorage.setItem('loom.lang', x), l);
        await p.reload();
        await waitReady(p);
        assert.equal(await lang(p), l);
      }
      await shot(page, 'login', l);
      await login(page, { email: ta.email, password: ta.password });
      const pages = [['overview', '#/overview'], ['devices', '#/devices'], ['device', `#/devices/${dev().id}?tab=charts`],
        ['explorer', explorerHash], ['admin-users', '#/admin/users']];
      for (const [name, h] of pages) {
        await goto(page, h);
        await chartsDrawn(page);
        await page.waitForTimeout(name === 'overview' ? 5500 : 600); // the overview's second poll
        await shot(page, name, l);
      }
      await login(adminPage, { token: env.token, via: 'storage', next: '#/system' });
      await adminPage.waitForTimeout(5500);
      await shot(adminPage, 'system', l);
      await goto(adminPage, `#/region?code=${region}`);
      await shot(adminPage, 'region', l);
      await page.locator('#user-btn').click();
      await page.locator('#user-menu [role=menuitem]').last().click();
      await page.waitForFunction(() => location.hash.startsWith('#/login'));
    }
  } finally {
    stop();
    await page.context().close();
    await adminPage.context().close();
  }
});
