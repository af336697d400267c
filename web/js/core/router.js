// SPDX-License-Identifier: Apache-2.0
// Hash router: "#/devices/abc?tab=charts" -> the page whose route is '/devices/:id', with
// params {id: 'abc', tab: 'charts'} (path parameters win over query parameters). The router
// runs each page's cleanup before the next page renders, ignores renders overtaken by a newer
// navigation, and leaves access checks and layout to the hooks the shell gives it.

/** parseHash(hash): '#/a/b?x=1' -> {path: '/a/b', query: {x: '1'}}. */
export function parseHash(hash) {
  let s = String(hash || '').replace(/^#/, '');
  if (!s.startsWith('/')) s = `/${s}`;
  const qi = s.indexOf('?');
  const path = (qi < 0 ? s : s.slice(0, qi)).replace(/\/+$/, '') || '/';
  const query = {};
  if (qi >= 0) for (const [k, v] of new URLSearchParams(s.slice(qi + 1))) query[k] = v;
  return { path, query };
}

/** compile(pattern): '/devices/:id' -> {re, keys}. */
function compile(pattern) {
  const keys = [];
  const src = pattern.replace(/\/+$/, '').split('/').map((seg) => {
    if (seg.startsWith(':')) {
      keys.push(seg.slice(1));
      return '([^/]+)';
    }
    return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }).join('/');
  return { re: new RegExp(`^${src || '/'}$`), keys };
}

/**
 * matchRoute(entries, path): the first entry whose pattern matches, with decoded params, or
 * null. entries: [{pattern, page}] in registration order.
 */
export function matchRoute(entries, path) {
  for (const e of entries) {
    const m = e.compiled.re.exec(path);
    if (!m) continue;
    const params = {};
    let ok = true;
    e.compiled.keys.forEach((k, i) => {
      try {
        params[k] = decodeURIComponent(m[i + 1]);
      } catch (err) {
        ok = false;
      }
    });
    if (ok) return { page: e.page, pattern: e.pattern, params };
  }
  return null;
}

/**
 * createRouter({pages, outlet, render}) -> router.
 * pages: page modules ({route | routes, ...}); outlet(): the element a page draws into.
 * render(match, root) is the shell's hook that checks access and calls page.render; it
 * returns (a promise of) the page's cleanup function or nothing. match = {page, pattern,
 * params, path, query, hash} or {page: null, path, ...} for unknown routes.
 * router.start() listens to hashchange and renders the current hash; router.navigate(hash)
 * changes it; router.reload() re-renders the current page; router.current() is the match.
 */
export function createRouter({ pages, render }) {
  const entries = [];
  for (const page of pages) {
    const list = page.routes || (page.route ? [page.route] : []);
    for (const pattern of list) entries.push({ pattern, page, compiled: compile(pattern) });
  }
  let cleanup = null;
  let seq = 0;
  let cur = null;

  async function run() {
    seq += 1;
    const mine = seq;
    const { path, query } = parseHash(location.hash);
    const m = matchRoute(entries, path);
    const match = m ? { ...m, params: { ...query, ...m.params }, path, query, hash: location.hash }
      : { page: null, pattern: null, params: { ...query }, path, query, hash: location.hash };
    if (cleanup) {
      const fn = cleanup;
      cleanup = null;
      try {
        fn();
      } catch (e) {
        console.error('page cleanup failed', e); // eslint-disable-line no-console
      }
    }
    cur = match;
    let fn = null;
    try {
      fn = await render(match, () => mine === seq);
    } catch (e) {
      console.error('page render failed', e); // eslint-disable-line no-console
    }
    if (typeof fn !== 'function') return;
    if (mine === seq) cleanup = fn;
    else {
      try {
        fn();
      } catch (e) { /* overtaken page: its cleanup errors do not matter */ }
    }
  }

  return {
    start() {
      window.addEventListener('hashchange', run);
      return run();
    },
    navigate(hash) {
      const h = hash.startsWith('#') ? hash : `#${hash}`;
      if (location.hash === h) return run();
      location.hash = h;
      return null;
    },
    replace(hash) {
      const h = hash.startsWith('#') ? hash : `#${hash}`;
      history.replaceState(null, '', h);
      return run();
    },
    reload: run,
    current: () => cur,
  };
}
