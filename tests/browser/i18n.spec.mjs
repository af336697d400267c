// SPDX-License-Identifier: Apache-2.0
// Languages of the console in the browser: the first visit follows the browser's locale
// (zh* -> 简体中文, else English); the 中文/EN switch re-renders the current page without a
// reload, is kept across reloads, and every page then shows Chinese text and no raw key.
// (The key sets of web/i18n/{en,zh-CN} are compared by i18n_keys.test.mjs.)

import test from 'node:test';
import assert from 'node:assert/strict';
import { env, suite, seedPlant, makeUser, login, goto, waitReady, lang } from './harness.mjs';

const s = suite();
const CJK = /[\u3400-\u9fff]/;
let plant;
let ta;

test.before(async () => {
  plant = await seedPlant({ devices: 1, minutes: 2 });
  ta = await makeUser({ role: 'tenant_admin', tenant: plant.tenant });
});

async function firstVisit(locale) {
  const page = await s.newPage({ locale });
  await page.goto(`${env.url}/#/login`);
  await waitReady(page);
  const l = await lang(page);
  const text = await page.locator('main').innerText();
  await page.context().close();
  return { l, text };
}

test('a Chinese browser gets the Chinese console on its first visit', async () => {
  for (const locale of ['zh-CN', 'zh-TW']) {
    const { l, text } = await firstVisit(locale);
    assert.equal(l, 'zh-CN', `browser locale ${locale}`);
    assert.match(text, CJK, `login page in ${locale} browser has no Chinese text`);
  }
});

test('an English (or other) browser gets the English console', async () => {
  for (const locale of ['en-US', 'de-DE']) {
    const { l, text } = await firstVisit(locale);
    assert.equal(l, 'en', `browser locale ${locale}`);
    assert.doesNotMatch(text, CJK, `login page in ${locale} browser shows Chinese`);
  }
});

test('the language switch re-renders without reload and is kept across reloads', async () => {
  const page = s.page;
  await login(page, { email: ta.email, password: ta.password });
  await goto(page, '#/devices');
  assert.equal(await lang(page), 'en');
  const before = await page.locator('main').innerText();
  assert.doesNotMatch(before, CJK);
  await page.evaluate(() => { window.__loomNoReload = 1; });
  await page.evaluate(() => {
    for (const el of document.querySelectorAll('main [data-ready]')) el.removeAttribute('data-ready');
  });
  await page.locator('.lang-switch [data-lang="zh-CN"]').click();
  await page.waitForFunction(() => document.documentElement.lang === 'zh-CN');
  await waitReady(page);
  assert.equal(await page.evaluate(() => window.__loomNoReload), 1, 'the page was reloaded');
  assert.match(await page.evaluate(() => location.hash), /^#\/devices/, 'the switch left the page');
  assert.match(await page.locator('main').innerText(), CJK, 'main not re-rendered in Chinese');
  assert.match(await page.locator('nav').first().innerText(), CJK, 'navigation not in Chinese');
  assert.match(await page.title(), CJK, 'document title not in Chinese');
  assert.equal(await page.locator('.lang-switch [data-lang="zh-CN"]').getAttribute('aria-pressed'), 'true');

  await page.reload();
  await waitReady(page);
  assert.equal(await lang(page), 'zh-CN', 'the choice was not kept across a reload');
  assert.match(await page.locator('main').innerText(), CJK);

  await page.locator('.lang-switch [data-lang="en"]').click();
  await page.waitForFunction(() => document.documentElement.lang === 'en');
  await waitReady(page);
  assert.doesNotMatch(await page.locator('main').innerText(), CJK, 'English page still shows Chinese');
  await page.reload();
  await waitReady(page);
  assert.equal(await lang(page), 'en');
});

test('every page in Chinese shows Chinese text and no untranslated key', async () => {
  const page = await s.newPage({ locale: 'zh-CN' });
  await login(page, { email: ta.email, password: ta.password });
  assert.equal(await lang(page), 'zh-CN');
  const dev = plant.devices[0];
  const RAW = /(^|\s)(core|overview|system|region|devices|explorer|admin)\.[a-z0-9_]+(\.[a-z0-9_]+)*(?=$|[\s),.:;])/m;
  for (const h of ['#/overview', '#/devices', `#/devices/${dev.id}`, '#/explorer', '#/system', '#/admin/users',
    '#/admin/tokens', '#/admin/profiles', '#/admin/audit', '#/account']) {
    await goto(page, h);
    const text = await page.locator('main').innerText();
    assert.match(text, CJK, `${h}: no Chinese text`);
    const raw = RAW.exec(text);
    assert.equal(raw, null, `${h}: untranslated key ${raw && raw[0].trim()}`);
    // a device page is titled with the device's name (data, not text)
    if (!h.startsWith('#/devices/')) assert.match(await page.title(), CJK, `${h}: title not in Chinese`);
    s.assertNoErrors();
  }
  await page.context().close();
});
