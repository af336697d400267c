// SPDX-License-Identifier: Apache-2.0
// The console's shell: sign-in by password and by API token, wrong password, back-off wait,
// sign-out (a session is revoked, an API token is not), return to the page asked for, the
// language switch kept across reloads, keyboard navigation, 404 / 403 pages, the server-down
// banner, and changing one's password on the account page.
import test from 'node:test';
import assert from 'node:assert/strict';
import {
  suite, env, rest, login, goto, waitReady, makeUser, navLinks, lang, a11yProblems,
} from './harness.mjs';

const s = suite();

async function signOutViaMenu(page) {
  await page.locator('#user-btn').click();
  await page.getByRole('menuitem', { name: 'Sign out' }).click();
  await page.waitForFunction(() => location.hash.startsWith('#/login'));
  await waitReady(page);
}

async function fresh(page) {
  await page.goto(`${env.url}/#/login`);
  await page.evaluate(() => { sessionStorage.clear(); localStorage.clear(); });
  await page.goto(`${env.url}/#/login`);
  await page.reload();
  await waitReady(page);
}

test('password sign-in lands on the overview with the role\'s navigation; sign-out revokes the session', async () => {
  const page = s.page;
  const ta = await makeUser({ role: 'tenant_admin', name: 'Wang Fang' });
  await fresh(page);
  await login(page, ta);
  assert.match(page.url(), /#\/overview/);
  assert.deepEqual(await navLinks(page), ['#/overview', '#/devices', '#/explorer', '#/admin', '#/system']);
  assert.equal(await page.locator('#sidenav a[aria-current=page]').getAttribute('href'), '#/overview');
  await page.locator('#user-btn').getByText('Wang Fang').waitFor();
  const tok = await page.evaluate(() => sessionStorage.getItem('loom.token'));
  assert.ok(tok, 'the session token is kept in sessionStorage');
  assert.equal(await page.evaluate(() => localStorage.getItem('loom.token')), null);
  await signOutViaMenu(page);
  assert.equal(await page.evaluate(() => sessionStorage.getItem('loom.token')), null);
  const me = await rest('/api/v1/auth/me', { token: tok, raw: true });
  assert.equal(me.status, 401, 'the signed-out session no longer works');
  assert.deepEqual(await a11yProblems(page), []);
});

test('a wrong password shows an error and stays on the sign-in page', async () => {
  const page = s.page;
  const v = await makeUser({ role: 'viewer' });
  await fresh(page);
  await page.getByLabel('E-mail').fill(v.email);
  await page.getByLabel('Password').fill('Wrong-horse-1');
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  const err = page.getByTestId('login-error');
  await err.waitFor();
  assert.equal(await err.textContent(), 'Wrong e-mail or password.');
  assert.match(page.url(), /#\/login/);
});

test('after repeated failures the sign-in page shows the back-off wait', async () => {
  const page = s.page;
  const v = await makeUser({ role: 'viewer' });
  await fresh(page);
  const err = page.getByTestId('login-error');
  const submit = page.getByRole('button', { name: 'Sign in', exact: true });
  await page.getByLabel('E-mail').fill(v.email);
  let text = '';
  for (let i = 0; i < 8 && !/Too many/.test(text); i++) {
    await page.getByLabel('Password').fill(`Wrong-horse-${i}`);
    await submit.click();
    await page.waitForFunction((prev) => {
      const e = document.querySelector('[data-testid=login-error]');
      return e && !e.hidden && e.textContent && e.textContent !== prev;
    }, text);
    text = await err.textContent();
    if (!/Too many/.test(text)) {
      assert.equal(text, 'Wrong e-mail or password.');
      await page.evaluate(() => { document.querySelector('[data-testid=login-error]').textContent = ''; });
      text = '';
    }
  }
  assert.match(text, /Too many failed attempts\. Try again in \d+ s\./);
  assert.ok(await submit.isDisabled(), 'the button waits out the back-off');
});

test('API token sign-in; signing out forgets the token but does not revoke it', async () => {
  const page = s.page;
  await fresh(page);
  await page.getByRole('button', { name: 'Use an API token instead' }).click();
  await page.getByLabel('API token').fill('not-a-token-at-all');
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByTestId('login-error').getByText('This token is not valid or has expired.').waitFor();
  await page.getByLabel('API token').fill(env.token);
  await page.getByLabel('Stay signed in on this device').check();
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.waitForFunction(() => location.hash.startsWith('#/overview'));
  await waitReady(page);
  assert.ok(await page.evaluate(() => localStorage.getItem('loom.token')), 'stay signed in uses localStorage');
  assert.deepEqual(await navLinks(page), ['#/overview', '#/devices', '#/explorer', '#/admin', '#/system', '#/region']);
  await signOutViaMenu(page);
  assert.equal(await page.evaluate(() => localStorage.getItem('loom.token')), null);
  const me = await rest('/api/v1/auth/me', { raw: true });
  assert.equal(me.status, 200, 'the API token stays valid');
});

test('a signed-out visit to a page returns there after sign-in', async () => {
  const page = s.page;
  const e = await makeUser({ role: 'engineer' });
  await fresh(page);
  await page.goto(`${env.url}/#/account`);
  await page.waitForFunction(() => location.hash.startsWith('#/login?next='));
  await waitReady(page);
  await page.getByLabel('E-mail').fill(e.email);
  await page.getByLabel('Password').fill(e.password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.waitForFunction(() => location.hash === '#/account');
  await waitReady(page);
  assert.equal(await page.getByTestId('acct-email').textContent(), e.email);
  assert.equal(await page.getByTestId('acct-role').textContent(), 'Engineer');
});

test('the language switch re-renders without reload and is kept across reloads', async () => {
  const page = s.page;
  await fresh(page);
  await login(page, { token: env.token });
  assert.equal(await lang(page), 'en');
  await page.evaluate(() => { window.__sameDocument = true; });
  await page.getByRole('button', { name: '中文' }).click();
  await page.waitForFunction(() => document.documentElement.lang === 'zh-CN');
  await page.locator('#sidenav').getByText('总览').waitFor();
  assert.equal(await page.evaluate(() => window.__sameDocument), true, 'no reload');
  assert.equal(await page.getByRole('button', { name: '中文' }).getAttribute('aria-pressed'), 'true');
  await page.reload();
  await waitReady(page);
  assert.equal(await lang(page), 'zh-CN');
  await page.locator('#sidenav').getByText('设备').waitFor();
  await page.getByRole('button', { name: 'EN', exact: true }).click();
  await page.waitForFunction(() => document.documentElement.lang === 'en');
  await page.locator('#sidenav').getByText('Devices').waitFor();
});

test('keyboard: Tab reaches the navigation and Enter opens a page', async () => {
  const page = s.page;
  await fresh(page);
  await login(page, { token: env.token });
  await page.reload(); // focus starts at the top of the document, as on arrival
  await waitReady(page);
  let href = null;
  for (let i = 0; i < 20 && !href; i++) {
    await page.keyboard.press('Tab');
    href = await page.evaluate(() => {
      const a = document.activeElement;
      return a && a.closest('#sidenav') && a.getAttribute('href') !== '#/overview' ? a.getAttribute('href') : null;
    });
  }
  assert.ok(href, 'Tab reached a navigation link other than the current page');
  // the user menu opens with Enter, moves with arrows, closes with Esc back on its button
  await page.locator('#user-btn').focus();
  await page.keyboard.press('Enter');
  await page.getByRole('menuitem', { name: 'Account' }).waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Account');
  await page.keyboard.press('ArrowDown');
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Sign out');
  await page.keyboard.press('Escape');
  assert.equal(await page.locator('#user-menu').isHidden(), true);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'user-btn');
  await page.locator(`#sidenav a[href="${href}"]`).focus();
  await page.keyboard.press('Enter');
  await page.waitForFunction((h) => location.hash === h, href);
  await waitReady(page);
  assert.equal(await page.locator('#sidenav a[aria-current=page]').getAttribute('href'), href);
});

test('an unknown route shows the not-found page; a role without access sees the denied page', async () => {
  const page = s.page;
  await fresh(page);
  await login(page, { token: env.token });
  await goto(page, '#/no-such-page');
  await page.getByText('Page not found').waitFor();
  const v = await makeUser({ role: 'viewer' });
  await fresh(page);
  await login(page, v);
  assert.deepEqual(await navLinks(page), ['#/overview', '#/devices', '#/explorer', '#/admin']);
  await goto(page, '#/system');
  await page.getByText('You do not have access to this page.').waitFor();
});

test('when the server cannot be reached a banner offers Retry', async () => {
  const page = s.page;
  await fresh(page);
  await login(page, { token: env.token });
  const undo1 = s.allow(/request failed: .*\/api\/v1\//);
  const undo2 = s.allow(/Failed to load resource: net::ERR_CONNECTION_REFUSED/);
  await page.route('**/api/v1/**', (r) => r.abort('connectionrefused'));
  await page.locator('#sidenav').getByRole('link', { name: 'Devices' }).click();
  const banner = page.locator('#netbanner');
  await banner.waitFor({ state: 'visible' });
  assert.match(await banner.textContent(), /Cannot reach the Loom server\./);
  await page.unroute('**/api/v1/**');
  await banner.getByRole('button', { name: 'Retry' }).click();
  await waitReady(page);
  await banner.waitFor({ state: 'hidden' });
  undo1();
  undo2();
});

test('the account page changes the password', async () => {
  const page = s.page;
  const op = await makeUser({ role: 'operator', name: 'Li Lei' });
  await fresh(page);
  await login(page, op);
  await goto(page, '#/account');
  assert.equal(await page.getByTestId('acct-name').textContent(), 'Li Lei');
  await page.getByLabel('Current password').fill('Not-my-password-1');
  await page.getByLabel(/^New password/).fill('Brand-new-pass-7');
  await page.getByLabel('Repeat the new password').fill('Brand-new-pass-8');
  await page.getByRole('button', { name: 'Change password' }).click();
  await page.getByText('The two new passwords differ.').waitFor();
  await page.getByLabel('Repeat the new password').fill('Brand-new-pass-7');
  await page.getByRole('button', { name: 'Change password' }).click();
  await page.getByText('The current password is wrong.').waitFor();
  await page.getByLabel('Current password').fill(op.password);
  await page.getByLabel(/^New password/).fill('short');
  await page.getByLabel('Repeat the new password').fill('short');
  await page.getByRole('button', { name: 'Change password' }).click();
  await page.locator('.field-error:not([hidden])').first().waitFor();
  await page.getByLabel(/^New password/).fill('Brand-new-pass-7');
  await page.getByLabel('Repeat the new password').fill('Brand-new-pass-7');
  await page.getByRole('button', { name: 'Change password' }).click();
  await page.getByText('Password changed.').waitFor();
  const old = await rest('/api/v1/auth/login', { body: { username: op.email, password: op.password }, token: null, raw: true });
  assert.equal(old.status, 401);
  const now = await rest('/api/v1/auth/login', { body: { username: op.email, password: 'Brand-new-pass-7' }, token: null, raw: true });
  assert.equal(now.status, 200);
  assert.deepEqual(await a11yProblems(page), []);
});

test('shared components: dialog (Esc, focus return), confirm, table sorting, tabs keys, range picker', async () => {
  const page = s.page;
  await fresh(page);
  await login(page, { token: env.token });
  await goto(page, '#/account');
  const out = await page.evaluate(async () => {
    const ui = await import('/ui/js/core/ui.js');
    const { h } = await import('/ui/js/core/dom.js');
    const r = {};
    const opener = h('button', { type: 'button' }, 'open');
    document.querySelector('main').append(opener);
    opener.focus();
    const d = ui.dialog({ title: 'T', body: h('input', { 'aria-label': 'x' }) });
    r.open = d.el.open && document.activeElement === d.el.querySelector('input');
    d.el.dispatchEvent(new Event('cancel', { cancelable: true }));
    r.closedValue = await d.result;
    r.removed = !document.contains(d.el);
    r.focusBack = document.activeElement === opener;
    const c = ui.confirmDialog('core.account.signout_hint', { danger: true });
    const ok = [...document.querySelectorAll('dialog .dialog-actions button')].find((b) => b.classList.contains('danger'));
    ok.click();
    r.confirmed = await c;
    const tbl = ui.table({
      columns: [{ key: 'name', label: 'Name', sort: true }, { key: 'n', label: 'N', sort: true, num: true }],
      rows: [{ name: 'b<img src=x onerror=alert(1)>', n: 10 }, { name: 'a', n: 9 }, { name: 'c', n: 100 }],
    });
    document.querySelector('main').append(tbl);
    const col = (i) => [...tbl.querySelectorAll('tbody tr')].map((tr) => tr.children[i].textContent);
    r.unsorted = col(0);
    tbl.querySelectorAll('th button')[1].click();
    r.byNum = col(1);
    r.ariaSort = tbl.querySelectorAll('th')[1].getAttribute('aria-sort');
    tbl.querySelectorAll('th button')[1].click();
    r.byNumDesc = col(1);
    r.noImg = tbl.querySelectorAll('img').length === 0;
    tbl.setRows([]);
    r.empty = tbl.querySelector('tbody td').textContent;
    const drawn = [];
    const tb = ui.tabs([{ id: 'a', label: 'A', render: (p) => { drawn.push('a'); p.append('A'); } },
      { id: 'b', label: 'B', render: (p) => { drawn.push('b'); p.append('B'); } }]);
    document.querySelector('main').append(tb);
    tb.querySelector('[role=tab]').dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowRight', bubbles: true }));
    r.tabs = drawn;
    r.selected = tb.querySelector('[aria-selected=true]').textContent;
    let changed = null;
    const rp = ui.timeRangePicker({ value: { quick: '24h' }, onChange: (v) => { changed = v; } });
    document.querySelector('main').append(rp);
    const sel = rp.querySelector('select');
    sel.value = '7d';
    sel.dispatchEvent(new Event('change'));
    r.quick = changed && changed.quick;
    r.span = changed && changed.to_ms - changed.from_ms;
    r.badge = ui.badge('online').className;
    r.selectValue = h('select', { value: 'b' }, h('option', { value: 'a' }, 'A'), h('option', { value: 'b' }, 'B')).value;
    r.textOnly = h('p', null, '<b>x</b>').children.length;
    return r;
  });
  assert.deepEqual(out, {
    open: true, closedValue: undefined, removed: true, focusBack: true, confirmed: true,
    unsorted: ['b<img src=x onerror=alert(1)>', 'a', 'c'], byNum: ['9', '10', '100'], ariaSort: 'ascending',
    byNumDesc: ['100', '10', '9'], noImg: true, empty: 'Nothing here yet.', tabs: ['a', 'b'], selected: 'B',
    quick: '7d', span: 7 * 864e5, badge: 'badge badge-ok', selectValue: 'b', textOnly: 0,
  });
});

test('a session that ends while in use returns to sign-in, then to the page', async () => {
  const page = s.page;
  const ta = await makeUser({ role: 'tenant_admin' });
  await fresh(page);
  await login(page, ta);
  const tok = await page.evaluate(() => sessionStorage.getItem('loom.token'));
  await rest('/api/v1/auth/logout', { method: 'POST', token: tok });
  await page.evaluate(() => { location.hash = '#/account'; });
  await page.waitForFunction(() => location.hash.startsWith('#/login?expired=1'));
  await waitReady(page);
  await page.getByText('Your session has ended. Please sign in again.').waitFor();
  await page.getByLabel('E-mail').fill(ta.email);
  await page.getByLabel('Password').fill(ta.password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.waitForFunction(() => location.hash === '#/account');
  await waitReady(page);
});
