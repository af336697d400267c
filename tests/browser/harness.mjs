// SPDX-License-Identifier: Apache-2.0
// Browser test harness for Loom's web console: starts Debian's chromium through
// playwright-core (headless), talks to the daemon that tests/integration/test_console.py
// started (LOOM_URL, LOOM_TOKEN, LOOM_MQTT_PORT), creates tenants and users over REST,
// signs in through the UI, waits for the console's readiness markers, takes screenshots,
// and FAILS a spec on any browser console error, uncaught page error, failed static asset,
// 5xx answer or request to another host (a JS error is a bug; the console works offline). Specs use node's built-in runner (node:test);
// see README.md in this directory for a complete example.

import test from 'node:test';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));

/** Repository root (tests/browser/../..). */
export const repoRoot = resolve(here, '..', '..');

/** What the pytest wrapper tells us about the daemon under test. */
export const env = {
  url: (process.env.LOOM_URL || 'http://127.0.0.1:8080').replace(/\/$/, ''),
  token: process.env.LOOM_TOKEN || '',              // platform admin API token
  mqttPort: Number(process.env.LOOM_MQTT_PORT || 0) || null,
  dataDir: process.env.LOOM_DATA_DIR || null,
  chromium: process.env.LOOM_CHROMIUM || '/usr/bin/chromium',
  screenshots: process.env.LOOM_SCREENSHOTS === '1',
  screenshotDir: process.env.LOOM_SCREENSHOT_DIR || join(repoRoot, 'docs', 'screenshots'),
  headed: process.env.LOOM_HEADED === '1',          // debugging: watch the browser
  timeoutMs: Number(process.env.LOOM_UI_TIMEOUT_MS || 15000),
};

/** Default password of users made by makeUser (meets the server's password policy). */
export const PASSWORD = 'Correct-horse-9';

const VIEWPORT = { width: 1366, height: 768 };
let uniq = 0;

/** A short unique suffix (per process) for names of tenants, users, devices. */
export function unique(prefix = 'x') {
  uniq += 1;
  return `${prefix}-${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}${uniq}`;
}

// ---------------------------------------------------------------- REST

/** Error thrown by rest() for an HTTP status >= 400 (unless {raw: true}). */
export class RestError extends Error {
  constructor(method, path, status, body) {
    super(`${method} ${path} -> ${status}: ${typeof body === 'string' ? body : JSON.stringify(body)}`);
    this.status = status;
    this.body = body;
  }
}

/**
 * fetch() against the daemon. `path` is absolute on the server ("/api/v1/users").
 * Options: method (default GET, or POST when a body is given), body (object -> JSON,
 * string -> sent as-is as text/plain), query (object -> URL params), token (default the
 * admin token; null = no Authorization header), headers, raw (true: return
 * {status, headers, body} without throwing). Returns the parsed JSON body (or text, or null
 * when empty); throws RestError on status >= 400.
 */
export async function rest(path, opts = {}) {
  const { body, query, raw = false } = opts;
  const method = opts.method || (body === undefined ? 'GET' : 'POST');
  const token = opts.token === undefined ? env.token : opts.token;
  const u = new URL(env.url + path);
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== undefined && v !== null) u.searchParams.set(k, String(v));
  }
  const headers = { ...(opts.headers || {}) };
  if (token) headers.Authorization = `Bearer ${token}`;
  let payload;
  if (body !== undefined) {
    if (typeof body === 'string') {
      payload = body;
      headers['Content-Type'] ||= 'text/plain; charset=utf-8';
    } else {
      payload = JSON.stringify(body);
      headers['Content-Type'] ||= 'application/json';
    }
  }
  const r = await fetch(u, { method, headers, body: payload });
  const text = await r.text();
  let parsed = text;
  if ((r.headers.get('content-type') || '').includes('json') && text) {
    try { parsed = JSON.parse(text); } catch { /* keep the text */ }
  }
  if (text === '') parsed = null;
  if (raw) return { status: r.status, headers: r.headers, body: parsed };
  if (r.status >= 400) throw new RestError(method, path, r.status, parsed);
  return parsed;
}

/** Create a tenant as the platform admin. Returns the tenant object (id, name, db_name...). */
export async function makeTenant({ name, industry = 'machinery', region = 'CN-GD' } = {}) {
  return rest('/api/v1/tenants', {
    body: { name: name || unique('Tenant'), industry, region_code: region },
  });
}

/** Sign in over REST (POST /api/v1/auth/login). Returns the session token. */
export async function sessionToken(email, password = PASSWORD) {
  const r = await rest('/api/v1/auth/login', { body: { username: email, password }, token: null });
  return r.token;
}

/**
 * Create a user with a role and sign them in over REST.
 * role: platform_admin | tenant_admin | engineer | operator | viewer | regional_observer.
 * tenant: a tenant object or id; when omitted for a tenant role, a new tenant is created.
 * region: region code of a regional_observer (default CN-GD). email/password/name optional.
 * Returns {email, password, token, user, tenant} (tenant null for platform-wide roles).
 */
export async function makeUser({ role = 'viewer', tenant, region = 'CN-GD', email, password = PASSWORD,
  name } = {}) {
  const platformWide = role === 'platform_admin' || role === 'regional_observer';
  let t = null;
  if (!platformWide) {
    if (!tenant) t = await makeTenant({ region });
    else if (typeof tenant === 'string') t = await rest(`/api/v1/tenants/${encodeURIComponent(tenant)}`);
    else t = tenant;
  }
  const mail = email || `${unique(role.replace(/_/g, '-'))}@example.com`.toLowerCase();
  const body = { email: mail, role, password, name: name || role };
  if (t) body.tenant_id = t.id;
  if (role === 'regional_observer') body.region_code = region;
  const user = await rest('/api/v1/users', { body });
  const token = await sessionToken(mail, password);
  return { email: mail, password, token, user, tenant: t };
}

/**
 * Populate a tenant with a small plant for pages and screenshots: assets
 * site > plant > line > cell, a profile "pump" with keys (units, ranges, levels), `devices`
 * devices (default 3) and `minutes` (default 10) of telemetry at one point per 10 s per
 * device, written through the device API; one device gets a line-protocol write too.
 * tenant: tenant object (default: a new one). token: a token that may write in that tenant
 * (default the platform admin token, which passes tenant_id explicitly).
 * Returns {tenant, profile, assets: {site, plant, line, cell}, devices: [{...device, accessToken}]}.
 */
export async function seedPlant({ tenant, devices = 3, minutes = 10, names } = {}) {
  const t = tenant || await makeTenant({ name: unique('Plant') });
  const tid = t.id;
  const mk = (path, body) => rest(path, { body: { ...body, tenant_id: tid } });
  const site = await mk('/api/v1/assets', { name: 'Suzhou site', type: 'site' });
  const plant = await mk('/api/v1/assets', { name: 'Plant 1', type: 'plant', parent_id: site.id });
  const line = await mk('/api/v1/assets', { name: 'Line A', type: 'line', parent_id: plant.id });
  const cell = await mk('/api/v1/assets', { name: 'Cell 3', type: 'cell', parent_id: line.id });
  const profile = await mk('/api/v1/device-profiles', { name: 'pump', description: 'centrifugal pump' });
  const keys = [
    { key: 'flow_m3h', type: 'float', unit: 'm3/h', min: 0, max: 120, level: 1 },
    { key: 'pressure_bar', type: 'float', unit: 'bar', min: 0, max: 16, level: 2 },
    { key: 'temp_c', type: 'float', unit: '°C', min: -20, max: 90, level: 1 },
  ];
  for (const k of keys) await rest(`/api/v1/device-profiles/${profile.id}/keys`, { body: k });
  const devs = [];
  const now = Date.now();
  for (let i = 0; i < devices; i++) {
    const name = (names && names[i]) || `pump-${i + 1}`;
    const d = await mk('/api/v1/devices', {
      name, profile_id: profile.id, label: `Line A pump ${i + 1}`, asset_id: i === 0 ? cell.id : line.id,
    });
    const accessToken = d.credentials && d.credentials.accessToken;
    const pts = [];
    for (let s = minutes * 60; s >= 0; s -= 10) {
      const ph = (now / 1000 - s) / 60 + i;
      pts.push({
        ts: now - s * 1000,
        values: {
          flow_m3h: +(40 + 10 * Math.sin(ph) + i).toFixed(2),
          pressure_bar: +(4 + 0.5 * Math.cos(ph)).toFixed(2),
          temp_c: +(55 + 3 * Math.sin(ph / 3)).toFixed(1),
        },
      });
    }
    if (accessToken) {
      await rest(`/api/v1/${accessToken}/telemetry`, { body: pts, token: null });
    }
    devs.push({ ...d, accessToken });
  }
  if (devs.length && t.db_name) {
    await rest('/write', {
      query: { db: t.db_name },
      body: `vibration,device=${devs[0].name},axis=x rms_mm_s=2.7\nvibration,device=${devs[0].name},axis=y rms_mm_s=1.9\n`,
    });
  }
  return { tenant: t, profile, assets: { site, plant, line, cell }, devices: devs };
}

// ---------------------------------------------------------------- browser

// Console messages that are not bugs of the console. "Failed to load resource" is
// Chrome's echo of an HTTP error status: responses are judged in onResponse instead
// (API 4xx are normal answers the pages must handle; static 4xx and any 5xx are bugs).
const IGNORED = [/^console\.error: Failed to load resource: the server responded with a status of 4\d\d/];

/**
 * Launch chromium (headless, --no-sandbox, 1366x768) with one browser context and page.
 * Options: locale (default 'en-US'; 'zh-CN' for a Chinese browser), timezoneId (default
 * 'Asia/Shanghai'), viewport. Returns a Session:
 *   browser, context, page          the first context and its page
 *   newPage({locale, viewport, hasTouch})  another page in a NEW context (own storage, locale),
 *                                   watched for errors like the first; closed by close()
 *   errors                          collected problems (strings)
 *   allow(regexp)                   ignore matching problems from now on (e.g. a 500 a spec
 *                                   provokes on purpose); returns a function undoing it
 *   assertNoErrors()                throws (failing the test) if any problem was collected
 *                                   since the last call, then forgets them
 *   close()                         closes everything; throws if problems remain unchecked
 */
export async function launch(opts = {}) {
  const browser = await chromium.launch({
    executablePath: env.chromium,
    headless: !env.headed,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu', '--no-first-run',
      '--disable-extensions', '--disable-background-networking'],
  });
  const contexts = [];
  const allowed = [];
  const session = {
    browser,
    errors: [],
    allow(re) {
      allowed.push(re);
      return () => { const i = allowed.indexOf(re); if (i >= 0) allowed.splice(i, 1); };
    },
    assertNoErrors() {
      const errs = session.errors.splice(0);
      if (errs.length) {
        throw new Error(`browser reported ${errs.length} problem(s):\n  ${errs.join('\n  ')}`);
      }
    },
    async newPage(o = {}) {
      const context = await browser.newContext({
        viewport: o.viewport || opts.viewport || VIEWPORT,
        locale: o.locale || opts.locale || 'en-US',
        timezoneId: o.timezoneId || opts.timezoneId || 'Asia/Shanghai',
        baseURL: env.url,
        acceptDownloads: true,
        hasTouch: !!o.hasTouch, // a tablet: touch events and (pointer: coarse)
      });
      context.setDefaultTimeout(env.timeoutMs);
      contexts.push(context);
      const page = await context.newPage();
      watch(page);
      context.on('page', watch);
      return page;
    },
    async close() {
      for (const c of contexts) await c.close().catch(() => {});
      await browser.close().catch(() => {});
      session.assertNoErrors();
    },
  };
  const report = (what) => {
    if (IGNORED.some((re) => re.test(what))) return;
    if (allowed.some((re) => re.test(what))) return;
    session.errors.push(what);
  };
  const origin = new URL(env.url).origin;
  function watch(page) {
    page.on('console', (msg) => {
      const where = msg.location();
      const at = where && where.url ? ` (${where.url.replace(origin, '')}:${where.lineNumber})` : '';
      if (msg.type() === 'error') report(`console.error: ${msg.text()}${at}`);
      // i18n.js warns about keys missing in both languages: visible text would be a key.
      else if (msg.type() === 'warning' && /i18n|translation|missing key/i.test(msg.text())) {
        report(`console.warn: ${msg.text()}${at}`);
      }
    });
    page.on('pageerror', (err) => report(`page error: ${err.stack || err.message || err}`));
    page.on('response', (r) => {
      const u = new URL(r.url());
      if (u.origin !== origin) return;
      const st = r.status();
      // Static files: the console's own assets. Everything else (/api/, /query, /metrics,
      // /health...) answers API calls whose 4xx the pages must handle.
      const isStatic = u.pathname === '/' || u.pathname === '/index.html' || u.pathname.startsWith('/ui/')
        || u.pathname === '/favicon.ico';
      if (st >= 500 || (isStatic && st >= 400)) {
        report(`HTTP ${st} ${r.request().method()} ${u.pathname}${u.search}`);
      }
    });
    // The console works offline inside a plant network: no CDN, font or other external URL.
    page.on('request', (req) => {
      const u = req.url();
      if (/^(data|blob|about):/.test(u)) return;
      if (new URL(u).origin !== origin) report(`external request: ${req.method()} ${u}`);
    });
    page.on('websocket', (ws) => {
      if (new URL(ws.url()).host !== new URL(origin).host) report(`external WebSocket: ${ws.url()}`);
    });
    page.on('requestfailed', (req) => {
      const f = req.failure();
      const text = f ? f.errorText : 'failed';
      if (/ERR_ABORTED/.test(text)) return; // navigation or a cancelled fetch: not an error
      report(`request failed: ${req.method()} ${req.url().replace(origin, '')} ${text}`);
    });
  }
  session.page = await session.newPage();
  session.context = contexts[0];
  return session;
}

/**
 * Wire a Session into node:test for the current file: launch in before(), check for
 * browser errors after each test (a problem fails the test that caused it), close in
 * after(). Returns an object whose fields (page, context, browser, newPage, allow, errors...)
 * are filled once before() ran: use them inside tests only.
 */
export function suite(opts = {}) {
  const holder = {};
  test.before(async () => { Object.assign(holder, await launch(opts)); });
  test.afterEach(() => { if (holder.assertNoErrors) holder.assertNoErrors(); });
  test.after(async () => { if (holder.close) await holder.close(); });
  return holder;
}

// ---------------------------------------------------------------- console helpers

const ROOT_READY = 'main[data-ready], main > [data-ready]';

/**
 * Wait for readiness markers (see the web contract): body[data-ready] (i18n and session
 * loaded), then the current page's root (main or its direct child) carrying data-ready.
 * With `selector` (a CSS selector or a playwright Locator), wait instead until an element
 * it matches carries data-ready (e.g. a chart container). Throws on timeout.
 */
export async function waitReady(page, selector, { timeout = env.timeoutMs } = {}) {
  await page.waitForSelector('body[data-ready]', { state: 'attached', timeout });
  if (selector && typeof selector !== 'string') {
    await selector.and(page.locator('[data-ready]')).first().waitFor({ state: 'attached', timeout });
    return;
  }
  const sel = selector || ROOT_READY;
  await page.waitForFunction(
    (s) => [...document.querySelectorAll(s)].some((el) => el.hasAttribute('data-ready')),
    selector ? selector : ROOT_READY, { timeout },
  ).catch(async (e) => {
    const hash = await page.evaluate(() => location.hash).catch(() => '?');
    throw new Error(`waitReady(${sel}) timed out on ${hash}: ${e.message.split('\n')[0]}`);
  });
}

/**
 * Go to a console route (hash, e.g. '#/devices' or '/devices') and wait until that page is
 * ready. Old readiness markers are removed first so the wait sees the new page's marker.
 */
export async function goto(page, hash, opts = {}) {
  const h = hash.startsWith('#') ? hash : `#${hash}`;
  if (!page.url().startsWith(env.url)) {
    await page.goto(`${env.url}/${h}`);
  } else {
    // Resolves once the router (listening since boot, so called first) took the hashchange:
    // by then the old page's root is gone and cannot be mistaken for the new one.
    await page.evaluate((target) => new Promise((resolve) => {
      for (const el of document.querySelectorAll('main[data-ready], main [data-ready]')) {
        el.removeAttribute('data-ready');
      }
      window.addEventListener('hashchange', () => setTimeout(resolve, 0), { once: true });
      if (location.hash === target) window.dispatchEvent(new HashChangeEvent('hashchange'));
      else location.hash = target;
    }), h);
  }
  await waitReady(page, undefined, opts);
}

/** First element matching any of the CSS selectors, in order of preference. */
async function pick(page, selectors) {
  for (const s of selectors) {
    const l = page.locator(s).first();
    if (await l.count() && await l.isVisible()) return l;
  }
  return null;
}

const LOGIN = {
  email: ['[data-testid=login-email]', 'input[autocomplete=username]', 'input[type=email]',
    'input[name=username]', 'input[name=email]'],
  password: ['[data-testid=login-password]', 'input[autocomplete=current-password]',
    'input[name=password]'],
  tokenToggle: ['[data-testid=login-token-toggle]', 'button[aria-controls=login-form][aria-pressed=false]'],
  token: ['[data-testid=login-token]', 'input[name=token]'],
  submit: ['[data-testid=login-submit]', 'form button[type=submit]'],
};

/**
 * Sign in through the login page: {email, password} fills the e-mail/password form;
 * {token} uses the "use an API token" toggle and the token field. {token, via: 'storage'}
 * skips the form (puts the token in sessionStorage 'loom.token', as api.js keeps it).
 * `next` (a hash) is opened after the sign-in; without it the role's default page.
 * Waits for that page to be ready. Also accepts the result of makeUser().
 */
export async function login(page, { email, password, token, via = 'ui', next } = {}) {
  // #/login?mode=token opens the login page with the token field shown.
  await page.goto(`${env.url}/#/login${token && !email && via !== 'storage' ? '?mode=token' : ''}`);
  await page.waitForSelector('body[data-ready]', { state: 'attached' });
  if (via === 'storage' && token) {
    await page.evaluate((tk) => sessionStorage.setItem('loom.token', tk), token);
    await page.goto(`${env.url}/${next || '#/'}`);
    await page.reload();
    await waitReady(page);
    return;
  }
  await waitReady(page);
  if (email && password) {
    const e = await pick(page, LOGIN.email);
    const p = await pick(page, LOGIN.password);
    if (!e || !p) throw new Error('login: e-mail or password field not found on #/login');
    await e.fill(email);
    await p.fill(password);
  } else if (token) {
    let f = await pick(page, LOGIN.token);
    if (!f) {
      const toggle = await pick(page, LOGIN.tokenToggle);
      if (!toggle) throw new Error('login: no "use an API token" toggle on #/login');
      await toggle.click();
      await page.waitForTimeout(50);
      f = await pick(page, LOGIN.token);
    }
    if (!f) throw new Error('login: token field not found on #/login');
    await f.fill(token);
  } else {
    throw new Error('login: give {email, password} or {token}');
  }
  const submit = await pick(page, LOGIN.submit);
  if (!submit) throw new Error('login: submit button not found on #/login');
  await page.evaluate(() => {
    for (const el of document.querySelectorAll('main[data-ready], main [data-ready]')) {
      el.removeAttribute('data-ready');
    }
  });
  await submit.click();
  await page.waitForFunction(() => !location.hash.startsWith('#/login'), null, { timeout: env.timeoutMs })
    .catch(() => { throw new Error('login: still on #/login after submitting'); });
  await waitReady(page);
  if (next) await goto(page, next);
}

/**
 * Screenshot the page to docs/screenshots/<name>-<lang>.png when LOOM_SCREENSHOTS=1
 * (otherwise does nothing and returns null). lang defaults to the <html lang> attribute.
 * Waits for fonts and a short settle so charts finish drawing. Returns the file path.
 */
export async function shot(page, name, lang) {
  if (!env.screenshots) return null;
  const l = lang || await page.evaluate(() => document.documentElement.lang || 'en');
  mkdirSync(env.screenshotDir, { recursive: true });
  const file = join(env.screenshotDir, `${name}-${l}.png`);
  await page.evaluate(() => document.fonts && document.fonts.ready);
  await page.mouse.move(0, 0);
  await page.waitForTimeout(300);
  await page.screenshot({ path: file, fullPage: false });
  return file;
}

/**
 * Accessibility problems the contract forbids, found in `root` (default main): visible
 * inputs/selects/textareas without a label (label element, aria-label(ledby) or title),
 * table header cells without scope (uPlot's own legend excepted), buttons and links
 * without an accessible name, images without alt. Returns a list of strings (empty = fine).
 */
export async function a11yProblems(page, root = 'main') {
  return page.evaluate((sel) => {
    const out = [];
    const scope = document.querySelector(sel) || document.body;
    const visible = (el) => !!(el.offsetParent || el.getClientRects().length);
    const mine = (el) => !el.closest('.uplot');
    const desc = (el) => `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}${el.name ? `[name=${el.name}]` : ''}`
      + `${el.className && typeof el.className === 'string' ? `.${el.className.trim().split(/\s+/).join('.')}` : ''}`;
    for (const el of scope.querySelectorAll('input, select, textarea')) {
      if (el.type === 'hidden' || !visible(el) || !mine(el)) continue;
      const named = (el.labels && el.labels.length) || el.getAttribute('aria-label')
        || el.getAttribute('aria-labelledby') || el.title;
      if (!named) out.push(`unlabelled ${desc(el)}`);
    }
    for (const th of scope.querySelectorAll('table th')) {
      if (mine(th) && !th.hasAttribute('scope')) out.push(`th without scope: "${th.textContent.trim().slice(0, 30)}"`);
    }
    for (const b of scope.querySelectorAll('button, a[href], [role=button], [role=tab]')) {
      if (!visible(b) || !mine(b)) continue;
      const name = b.textContent.trim() || b.getAttribute('aria-label') || b.getAttribute('aria-labelledby')
        || b.title || b.querySelector('img[alt]:not([alt=""]), svg[aria-label], [title]');
      if (!name) out.push(`${desc(b)} without an accessible name`);
    }
    for (const img of scope.querySelectorAll('img')) if (!img.hasAttribute('alt')) out.push(`img without alt: ${img.src}`);
    return out;
  }, root);
}

/** Locator of the left navigation (the <nav> landmark). */
export function nav(page) {
  return page.locator('nav').first();
}

/** Hashes ('#/overview' ...) of the links in the navigation, in order. */
export async function navLinks(page) {
  return nav(page).locator('a[href^="#/"]').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
}

/** Current console language: the <html lang> attribute ('zh-CN' or 'en'). */
export async function lang(page) {
  return page.evaluate(() => document.documentElement.lang);
}
