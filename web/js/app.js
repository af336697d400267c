// SPDX-License-Identifier: Apache-2.0
// Console boot and layout: loads the translations, checks the session (GET /api/v1/auth/me),
// draws the shell (top bar, side navigation, <main>), and starts the hash router over the
// page modules listed below. Access rules per role only hide what the server refuses anyway.

import { h, clear, icon, ellipsis } from './core/dom.js';
import { api, onUnauthorized, onNetwork, clearToken, authKind } from './core/api.js';
import { t, initI18n, setLang, getLang, onLangChange } from './core/i18n.js';
import { fmt } from './core/format.js';
import { createRouter, parseHash } from './core/router.js';
import { loading, errorState, toast, ready } from './core/ui.js';

/** The page modules, in route-matching order (one list; each file exports a page object). */
const PAGE_FILES = [
  './pages/login.js',
  './pages/account.js',
  './pages/overview.js',
  './pages/region.js',
  './pages/system.js',
  './pages/devices.js',
  './pages/device.js',
  './pages/explorer.js',
  './pages/admin.js',
];

/* Loaded at boot, in parallel; a page whose module fails to load is left out (logged), so
 * one broken page cannot take the whole console down. */
let PAGES = [];

async function loadPages() {
  const res = await Promise.allSettled(PAGE_FILES.map((f) => import(f)));
  PAGES = [];
  res.forEach((r, i) => {
    if (r.status === 'fulfilled' && r.value && r.value.default) PAGES.push(r.value.default);
    else console.error(`cannot load ${PAGE_FILES[i]}`, r.reason); // eslint-disable-line no-console
  });
}

/** Side navigation entries; an entry shows when its page admits the user's role. */
const NAV = [
  { id: 'overview', hash: '#/overview' },
  { id: 'devices', hash: '#/devices' },
  { id: 'explorer', hash: '#/explorer' },
  { id: 'admin', hash: '#/admin', hide: ['regional_observer'] },
  { id: 'system', hash: '#/system' },
  { id: 'region', hash: '#/region' },
];

const state = {
  me: null, // GET /api/v1/auth/me of the signed-in principal, null when signed out
  tenantName: '',
  live: null, // core/live.js's client when that module is present
  router: null,
  navKey: null,
};

/** allowed(page, role): whether a page's roles admit role ('public' pages admit everyone). */
function allowed(page, role) {
  if (!page) return false;
  if (page.roles === 'public' || page.roles === null || page.roles === undefined) return true;
  return Array.isArray(page.roles) && page.roles.includes(role);
}

function pageFor(hash) {
  const { path } = parseHash(hash);
  return PAGES.find((p) => (p.routes || [p.route]).includes(path)) || null;
}

/** defaultHash(me): the landing page of a role. */
function defaultHash(me) {
  if (!me) return '#/login';
  if (me.role === 'regional_observer') return '#/region';
  return '#/overview';
}

function displayName(me) {
  if (!me) return '';
  const u = me.user || {};
  return u.name || u.email || t(`core.role.${me.role}`);
}

function pageId(pattern) {
  return String(pattern || 'notfound').replace(/[/:]+/g, '-').replace(/^-+|-+$/g, '') || 'home';
}

/* ---------- layout ---------- */

function el(id) {
  return document.getElementById(id);
}

function closeMenus() {
  const m = el('user-menu');
  if (m && !m.hidden) {
    m.hidden = true;
    el('user-btn').setAttribute('aria-expanded', 'false');
  }
}

function langSwitch() {
  const cur = getLang();
  const mk = (l, label) => h('button.lang-btn', {
    type: 'button', lang: l, 'aria-pressed': String(cur === l), dataset: { lang: l },
    onClick: () => switchLang(l),
  }, label);
  return h('div.lang-switch', { role: 'group', 'aria-label': t('core.lang.label') }, mk('zh-CN', '中文'), mk('en', 'EN'));
}

function userMenu() {
  const me = state.me;
  if (!me) return null;
  const menu = h('div.menu', { id: 'user-menu', role: 'menu', hidden: true },
    h('div.menu-head', null, ellipsis('strong', displayName(me)), h('small', null, t(`core.role.${me.role}`))),
    h('a.menu-item', { href: '#/account', role: 'menuitem', onClick: closeMenus }, t('core.nav.account')),
    h('button.menu-item', { type: 'button', role: 'menuitem', onClick: signOut }, t('core.action.sign_out')));
  const btn = h('button.user-btn', {
    id: 'user-btn', type: 'button', 'aria-haspopup': 'menu', 'aria-expanded': 'false', 'aria-controls': 'user-menu',
    title: displayName(me),
    onClick: (e) => {
      e.stopPropagation();
      const open = menu.hidden;
      menu.hidden = !open;
      btn.setAttribute('aria-expanded', String(open));
      if (open) menu.querySelector('.menu-item').focus();
    },
  }, icon('user'), ellipsis('span.user-name', displayName(me)));
  menu.addEventListener('keydown', (e) => {
    const items = [...menu.querySelectorAll('.menu-item')];
    const i = items.indexOf(document.activeElement);
    if (e.key === 'Escape') {
      closeMenus();
      btn.focus();
    } else if (e.key === 'ArrowDown') {
      e.preventDefault();
      items[(i + 1) % items.length].focus();
    } else if (e.key === 'ArrowUp') {
      e.preventDefault();
      items[(i - 1 + items.length) % items.length].focus();
    }
  });
  const wrap = h('div.user', null, btn, menu);
  wrap.addEventListener('focusout', (e) => {
    if (!wrap.contains(e.relatedTarget)) closeMenus();
  });
  return wrap;
}

function navList() {
  const role = state.me && state.me.role;
  const items = NAV.filter((n) => allowed(pageFor(n.hash), role) && !(n.hide && n.hide.includes(role))).map((n) => h('li', null,
    h('a.nav-link', { href: n.hash, dataset: { nav: n.id }, title: t(`core.nav.${n.id}`), onClick: () => document.body.classList.remove('nav-open') },
      icon(n.id, 20), h('span.nav-label', null, t(`core.nav.${n.id}`)))));
  return h('ul', null, items);
}

/** drawShell(): (re)build the top bar and the navigation in the current language. */
function drawShell() {
  const top = el('topbar');
  const me = state.me;
  clear(top).append(
    me ? h('button.icon-btn.menu-btn', {
      type: 'button', 'aria-label': t('core.nav.menu'), 'aria-controls': 'sidenav',
      'aria-expanded': String(document.body.classList.contains('nav-open')),
      onClick: () => {
        const open = document.body.classList.toggle('nav-open');
        top.querySelector('.menu-btn').setAttribute('aria-expanded', String(open));
      },
    }, icon('menu')) : '',
    h('a.brand', { href: me ? defaultHash(me) : '#/login' },
      h('img', { src: '/ui/favicon.svg', alt: '', width: 26, height: 26 }), h('span', null, 'Loom')),
    me && state.tenantName ? ellipsis('span.tenant', state.tenantName) : '',
    h('span.spacer'),
    langSwitch(),
    userMenu() || '');
  const nav = el('sidenav');
  clear(nav);
  nav.setAttribute('aria-label', t('core.nav.label'));
  if (me) nav.append(navList());
  markNav(state.navKey);
  el('skip').textContent = t('core.skip');
  const banner = el('netbanner');
  clear(banner).append(h('span', null, icon('alert'), t('core.error.network')),
    h('button.btn', { type: 'button', onClick: retryNet }, t('core.action.retry')));
}

function markNav(key) {
  state.navKey = key;
  for (const a of document.querySelectorAll('#sidenav .nav-link')) {
    if (a.dataset.nav === key) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

function retryNet() {
  el('netbanner').hidden = true;
  if (state.router) state.router.reload();
  else location.reload();
}

async function switchLang(l) {
  if (l === getLang()) return;
  await setLang(l);
}

async function signOut() {
  closeMenus();
  if (authKind() === 'password') {
    try {
      await api.post('/api/v1/auth/logout', undefined, { noRedirect: true });
    } catch (e) { /* the token is forgotten anyway */ }
  }
  clearToken();
  state.me = null;
  state.tenantName = '';
  drawShell();
  state.router.navigate('#/login');
}

/* ---------- session ---------- */

async function loadTenantName(me) {
  state.tenantName = '';
  if (!me || !me.tenant_id) return;
  try {
    const tn = await api.get(`/api/v1/tenants/${encodeURIComponent(me.tenant_id)}`, null, { noRedirect: true });
    state.tenantName = (tn && tn.name) || '';
  } catch (e) { /* the name is decoration */ }
}

/**
 * signedIn(me): called by the login page after a successful sign-in (me = auth/me reply);
 * redraws the shell for that user.
 */
async function signedIn(me) {
  state.me = me;
  await loadTenantName(me);
  drawShell();
}

/* ---------- routing ---------- */

function notFound(root) {
  root.append(h('div.state.state-error', { role: 'alert', dataset: { status: '404' } },
    icon('alert', 28), h('p.state-title', null, t('core.notfound.title')),
    h('p.state-detail', null, t('core.notfound.detail')),
    h('a.btn', { href: defaultHash(state.me) }, t('core.notfound.home'))));
  ready(root);
}

function forbidden(root) {
  root.append(h('div.state.state-error', { role: 'alert', dataset: { status: '403' } },
    icon('admin', 28), h('p.state-title', null, t('core.error.forbidden')),
    h('p.state-detail', null, t('core.error.forbidden_detail')),
    h('a.btn', { href: defaultHash(state.me) }, t('core.notfound.home'))));
  ready(root);
}

function makeCtx() {
  return {
    api,
    t,
    fmt,
    lang: getLang(),
    me: state.me,
    live: state.live,
    navigate: (hash) => state.router.navigate(hash),
    toast,
    reload: () => state.router.reload(),
    signedIn,
    defaultHash: () => defaultHash(state.me),
  };
}

async function renderRoute(match, isCurrent) {
  closeMenus();
  const main = el('main');
  const page = match.page;
  if (match.path === '/') {
    state.router.replace(defaultHash(state.me));
    return null;
  }
  if (!state.me && !(page && page.roles === 'public')) {
    const next = match.hash && match.hash !== '#/login' ? `?next=${encodeURIComponent(match.hash)}` : '';
    state.router.replace(`#/login${next}`);
    return null;
  }
  const isPublic = !!(page && page.roles === 'public');
  document.body.classList.toggle('no-shell', isPublic || !state.me);
  const root = h('div.page', { dataset: { page: page ? pageId(page.route || (page.routes && page.routes[0])) : 'notfound' } });
  clear(main).append(root);
  markNav(page ? page.nav || null : null);
  document.title = page && page.title ? `${t(page.title)} · Loom` : 'Loom';
  if (!page) {
    document.title = `${t('core.notfound.title')} · Loom`;
    notFound(root);
    return null;
  }
  if (!isPublic && !allowed(page, state.me.role)) {
    forbidden(root);
    return null;
  }
  try {
    return await page.render(root, match.params, makeCtx());
  } catch (err) {
    console.error(err); // eslint-disable-line no-console
    if (isCurrent()) errorState(root, err, () => state.router.reload());
    return null;
  }
}

/* ---------- boot ---------- */

function skeleton() {
  const body = document.body;
  clear(body).append(
    h('a.skip', { id: 'skip', href: '#main', onClick: (e) => { e.preventDefault(); el('main').focus(); } }),
    h('header.topbar', { id: 'topbar' }),
    h('div.netbanner', { id: 'netbanner', role: 'alert', hidden: true }),
    h('div.layout', null, h('nav.sidenav', { id: 'sidenav' }), h('main.main', { id: 'main', tabindex: '-1' })),
    h('div.toasts', { id: 'toasts', 'aria-live': 'polite', role: 'status' }));
  document.addEventListener('click', (e) => {
    if (!e.target.closest('.user')) closeMenus();
    if (!e.target.closest('.sidenav, .menu-btn')) document.body.classList.remove('nav-open');
  });
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && document.body.classList.contains('nav-open')) document.body.classList.remove('nav-open');
  });
}

async function loadLive() {
  try {
    const m = await import('./core/live.js');
    state.live = m.live || m.default || null;
  } catch (e) {
    state.live = null;
  }
}

async function boot() {
  document.body.removeAttribute('data-ready');
  skeleton();
  const main = el('main');
  loading(main);
  // the session check, the texts, the page modules and the live client load in parallel
  const session = api.token()
    ? api.get('/api/v1/auth/me', null, { noRedirect: true }).then(async (me) => {
      state.me = me;
      await loadTenantName(me);
      return null;
    }, (err) => err)
    : Promise.resolve(null);
  const [, , failed] = await Promise.all([initI18n(), loadPages(), session, loadLive()]);
  onLangChange(() => {
    drawShell();
    if (state.router) state.router.reload();
  });
  onUnauthorized(() => {
    state.me = null;
    state.tenantName = '';
    drawShell();
    // several calls of a page can fail at once: the first one sends to login with the way
    // back (next=); the others must not replace it
    if (location.hash.startsWith('#/login')) return;
    const cur = location.hash ? `&next=${encodeURIComponent(location.hash)}` : '';
    state.router.replace(`#/login?expired=1${cur}`);
  });
  onNetwork((up) => {
    el('netbanner').hidden = up;
  });
  if (failed) {
    if (failed.status === 401) clearToken();
    else {
      drawShell();
      errorState(main, failed, () => location.reload());
      document.body.setAttribute('data-ready', '');
      return;
    }
  }
  drawShell();
  state.router = createRouter({ pages: PAGES, render: renderRoute });
  document.body.setAttribute('data-ready', '');
  await state.router.start();
}

boot();
