// SPDX-License-Identifier: Apache-2.0
// Pure node tests of the console shell's core modules (no browser, no daemon): the hash
// router's parsing and matching, the formatting helpers in both languages, time ranges.
import test from 'node:test';
import assert from 'node:assert/strict';
import { parseHash, createRouter } from '../../web/js/core/router.js';
import * as f from '../../web/js/core/format.js';
import { rangeOf, QUICK_RANGES } from '../../web/js/core/ui.js';

test('parseHash splits path and query, drops trailing slashes, defaults to /', () => {
  assert.deepEqual(parseHash('#/devices/abc?tab=charts&x=1'), { path: '/devices/abc', query: { tab: 'charts', x: '1' } });
  assert.deepEqual(parseHash('#/admin/users/'), { path: '/admin/users', query: {} });
  assert.deepEqual(parseHash(''), { path: '/', query: {} });
  assert.deepEqual(parseHash('#'), { path: '/', query: {} });
  assert.deepEqual(parseHash('#overview'), { path: '/overview', query: {} });
  assert.deepEqual(parseHash('#/login?next=%23%2Fdevices%2Fx'), { path: '/login', query: { next: '#/devices/x' } });
});

function routerWith(pages, hash) {
  globalThis.location = { hash };
  globalThis.window = { addEventListener() {} };
  let seen = null;
  const r = createRouter({ pages, render: (m) => { seen = m; return null; } });
  return { r, seen: () => seen };
}

test('the router matches routes in order, decodes parameters, merges the query', async () => {
  const list = { route: '/devices' };
  const one = { route: '/devices/:id' };
  const admin = { routes: ['/admin', '/admin/profiles/:id'] };
  const { r, seen } = routerWith([list, one, admin], '#/devices/pump%201?tab=charts');
  await r.reload();
  assert.equal(seen().page, one);
  assert.deepEqual(seen().params, { id: 'pump 1', tab: 'charts' });
  globalThis.location.hash = '#/admin/profiles/p1';
  await r.reload();
  assert.equal(seen().page, admin);
  assert.equal(seen().params.id, 'p1');
  globalThis.location.hash = '#/devices';
  await r.reload();
  assert.equal(seen().page, list);
  globalThis.location.hash = '#/devices/a/b';
  await r.reload();
  assert.equal(seen().page, null, 'no partial matches');
  globalThis.location.hash = '#/devices/%E0%A4%A';
  await r.reload();
  assert.equal(seen().page, null, 'a malformed escape is no match, not an exception');
});

test('the router runs the previous page\'s cleanup, and a stale render\'s cleanup at once', async () => {
  globalThis.location = { hash: '#/a' };
  globalThis.window = { addEventListener() {} };
  const log = [];
  let release;
  const slow = new Promise((res) => { release = res; });
  const pages = [{ route: '/a' }, { route: '/b' }];
  const r = createRouter({
    pages,
    render: async (m) => {
      if (m.path === '/a') {
        await slow;
        return () => log.push('cleanup a');
      }
      return () => log.push('cleanup b');
    },
  });
  const first = r.reload();
  globalThis.location.hash = '#/b';
  await r.reload();
  release();
  await first;
  assert.deepEqual(log, ['cleanup a'], 'the overtaken page is cleaned up when it finishes');
  globalThis.location.hash = '#/a';
  const again = r.reload();
  assert.deepEqual(log, ['cleanup a', 'cleanup b']);
  await again;
});

test('number, size and duration formats in English and Chinese', () => {
  f.setLocale('en');
  assert.equal(f.num(1234567.891), '1,234,568');
  assert.equal(f.num(3.14159), '3.14');
  assert.equal(f.num(0.012345), '0.012');
  assert.equal(f.num(null), '—');
  assert.equal(f.num(NaN), '—');
  assert.equal(f.int(2.6), '3');
  assert.equal(f.pct(0.256), '25.6%');
  assert.equal(f.bytes(0), '0 B');
  assert.equal(f.bytes(1536), '1.5 KiB');
  assert.equal(f.bytes(5 * 1024 ** 3), '5 GiB');
  assert.equal(f.duration(850), '850 ms');
  assert.equal(f.duration(12000), '12 s');
  assert.equal(f.duration(185000), '3 min 5 s');
  assert.equal(f.duration(2 * 3600e3 + 600e3), '2 h 10 min');
  assert.equal(f.duration(4 * 86400e3 + 3 * 3600e3), '4 d 3 h');
  assert.equal(f.value(21.456, '°C'), '21.46 °C');
  assert.equal(f.value(true), 'true');
  f.setLocale('zh-CN');
  assert.equal(f.duration(185000), '3分5秒');
  assert.equal(f.relTime(Date.now() - 5 * 60e3), '5分钟前');
  f.setLocale('en');
  assert.equal(f.relTime(Date.now() - 5 * 60e3), '5 minutes ago');
  assert.equal(f.relTime(Date.now() + 3 * 3600e3), 'in 3 hours');
});

test('time ranges: a quick range is re-anchored at now, an absolute one kept, junk -> last hour', () => {
  const now = 1_700_000_000_000;
  assert.deepEqual(rangeOf({ quick: '24h' }, now), { quick: '24h', from_ms: now - QUICK_RANGES['24h'], to_ms: now });
  assert.deepEqual(rangeOf({ from_ms: 1, to_ms: 2 }, now), { quick: null, from_ms: 1, to_ms: 2 });
  assert.deepEqual(rangeOf({ quick: 'nope' }, now), { quick: '1h', from_ms: now - 36e5, to_ms: now });
  assert.deepEqual(rangeOf(null, now), { quick: '1h', from_ms: now - 36e5, to_ms: now });
});
