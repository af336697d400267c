// SPDX-License-Identifier: Apache-2.0
// #/devices: the asset tree (site > plant > line > cell) beside the device list. Selecting an
// asset filters the list to the devices of its subtree. The list is searched and paged on the
// server (GET /api/v1/devices: textSearch, page, pageSize, assetId); an asset with child
// assets has no single server filter for its subtree, so its devices are fetched per asset
// and paged here. URL state: #/devices?asset=<id>&q=<text>&page=<n> (replaced, not pushed).
import { h, clear, ellipsis, icon } from '../core/dom.js';
import * as ui from '../core/ui.js';
import { has } from '../core/i18n.js';
import { fetchAll, nameCmp, can } from './device/common.js';
import { handOverToken } from './device/credentials.js';

const PAGE_SIZE = 50;
const REFRESH_MS = 30000;
const SUBTREE_CONCURRENCY = 6;
const TYPE_ORDER = { site: 0, plant: 1, line: 2, cell: 3 };

// Build the forest: {byId: Map(id -> node), roots: [node]}; node = {asset, children, parent}.
// Assets whose parent is not visible (another tenant's, deleted) become roots.
export function buildTree(assets) {
  const byId = new Map(assets.map((a) => [a.id, { asset: a, children: [], parent: null }]));
  const roots = [];
  for (const n of byId.values()) {
    const p = n.asset.parent_id && byId.get(n.asset.parent_id);
    if (p && p !== n) {
      n.parent = p;
      p.children.push(n);
    } else roots.push(n);
  }
  const order = (a, b) => (TYPE_ORDER[a.asset.type] ?? 9) - (TYPE_ORDER[b.asset.type] ?? 9) ||
    nameCmp(a.asset.name, b.asset.name);
  const sortRec = (list, depth) => {
    list.sort(order);
    if (depth < 64) list.forEach((n) => sortRec(n.children, depth + 1));
  };
  sortRec(roots, 0);
  return { byId, roots };
}

// Ids of the asset and every descendant (cycle-safe).
export function subtreeIds(tree, id) {
  const out = [];
  const seen = new Set();
  const stack = [tree.byId.get(id)];
  while (stack.length) {
    const n = stack.pop();
    if (!n || seen.has(n.asset.id)) continue;
    seen.add(n.asset.id);
    out.push(n.asset.id);
    stack.push(...n.children);
  }
  return out;
}

// Run fn over items with at most `limit` in flight; resolves with the results in order.
async function pool(items, limit, fn) {
  const res = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      res[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return res;
}

/**
 * The ARIA tree. onSelect(id|null). Returns {el, select(id), focus()}. Keys: Up/Down move,
 * Right opens or enters, Left closes or goes to the parent, Home/End, Enter/Space select.
 */
function assetTree(tree, { selected, onSelect, t }) {
  const expanded = new Set();
  // open the path to the selection and the first level
  tree.roots.forEach((n) => expanded.add(n.asset.id));
  for (let n = selected && tree.byId.get(selected), i = 0; n && i < 64; n = n.parent, i++) {
    if (n.parent) expanded.add(n.parent.asset.id);
  }
  let current = selected && tree.byId.has(selected) ? selected : null; // null = all devices
  let focusId = current;
  const ul = h('ul.asset-tree', { role: 'tree', 'aria-label': t('devices.tree.label') });

  function visible() {
    const out = [{ id: null, depth: 0, node: null }];
    const walk = (list, depth) => {
      for (const n of list) {
        out.push({ id: n.asset.id, depth, node: n });
        if (n.children.length && expanded.has(n.asset.id)) walk(n.children, depth + 1);
      }
    };
    walk(tree.roots, 1);
    return out;
  }

  function draw() {
    clear(ul);
    for (const it of visible()) {
      const n = it.node;
      const hasKids = n && n.children.length > 0;
      const open = hasKids && expanded.has(n.asset.id);
      const li = h('li.asset-item', {
        role: 'treeitem',
        'aria-level': String(it.depth + 1),
        'aria-selected': String(it.id === current),
        'aria-expanded': hasKids ? String(open) : null,
        tabindex: it.id === focusId ? '0' : '-1',
        dataset: { asset: it.id || '', testid: 'asset-item' },
        style: { '--depth': String(it.depth) },
        onClick: (e) => {
          if (e.target.closest('.asset-toggle')) return;
          choose(it.id);
        },
        onKeydown: (e) => key(e, it),
      },
      hasKids
        ? h('span.asset-toggle', {
          'aria-hidden': 'true',
          onClick: () => {
            toggle(n.asset.id);
          },
        }, open ? '▾' : '▸')
        : h('span.asset-toggle.asset-leaf', { 'aria-hidden': 'true' }, ''),
      n ? h('span.asset-type', { 'aria-hidden': 'true' },
        has(`devices.asset.type.${n.asset.type}`) ? t(`devices.asset.type.${n.asset.type}`) : n.asset.type) : icon('devices', 14),
      n ? ellipsis('span.asset-name', n.asset.name) : h('span.asset-name', null, t('devices.tree.all')));
      ul.append(li);
    }
  }

  function focusItem(id) {
    focusId = id;
    draw();
    const el = ul.querySelector('[tabindex="0"]');
    if (el) el.focus();
  }
  function toggle(id) {
    if (expanded.has(id)) expanded.delete(id);
    else expanded.add(id);
    focusId = id;
    draw();
  }
  function choose(id) {
    current = id;
    focusId = id;
    draw();
    const el = ul.querySelector('[tabindex="0"]');
    if (el) el.focus();
    onSelect(id);
  }
  function key(e, it) {
    const vis = visible();
    const i = vis.findIndex((v) => v.id === it.id);
    const n = it.node;
    let handled = true;
    if (e.key === 'ArrowDown') { if (i + 1 < vis.length) focusItem(vis[i + 1].id); }
    else if (e.key === 'ArrowUp') { if (i > 0) focusItem(vis[i - 1].id); }
    else if (e.key === 'Home') focusItem(null);
    else if (e.key === 'End') focusItem(vis[vis.length - 1].id);
    else if (e.key === 'ArrowRight') {
      if (n && n.children.length) {
        if (!expanded.has(n.asset.id)) { expanded.add(n.asset.id); focusItem(n.asset.id); }
        else focusItem(n.children[0].asset.id);
      }
    } else if (e.key === 'ArrowLeft') {
      if (n && n.children.length && expanded.has(n.asset.id)) { expanded.delete(n.asset.id); focusItem(n.asset.id); }
      else if (n) focusItem(n.parent ? n.parent.asset.id : null);
    } else if (e.key === 'Enter' || e.key === ' ') choose(it.id);
    else handled = false;
    if (handled) e.preventDefault();
  }
  draw();
  return { el: ul, current: () => current };
}

/**
 * The "add device" dialog: name, label, profile, asset. A platform admin's device goes to the
 * chosen profile's tenant. On success the device page opens on its credentials tab with the
 * access token, shown this once.
 */
function addDeviceDialog(ctx, { tree, profiles, assetPath, selected }) {
  const { api, t } = ctx;
  const platform = !ctx.me || !ctx.me.tenant_id;
  const name = h('input', { type: 'text', required: true, maxlength: 255, autocomplete: 'off', dataset: { testid: 'new-device-name' } });
  const label = h('input', { type: 'text', maxlength: 255, autocomplete: 'off' });
  const profile = h('select', { required: true, dataset: { testid: 'new-device-profile' } },
    profiles.map((p) => h('option', { value: p.id }, p.name)));
  const asset = h('select', { dataset: { testid: 'new-device-asset' } });
  function fillAssets() {
    const prof = profiles.find((p) => p.id === profile.value);
    const keep = asset.value || selected || '';
    clear(asset);
    asset.append(h('option', { value: '' }, t('devices.add.noAsset')));
    const opts = [...tree.byId.values()]
      .filter((n) => !platform || !prof || n.asset.tenant_id === prof.tenant_id)
      .map((n) => ({ id: n.asset.id, path: assetPath(n.asset.id) }))
      .sort((a, b) => nameCmp(a.path, b.path));
    for (const o of opts) asset.append(h('option', { value: o.id }, o.path));
    asset.value = opts.some((o) => o.id === keep) ? keep : '';
  }
  profile.addEventListener('change', fillAssets);
  fillAssets();
  const fName = ui.field({ label: t('devices.add.name'), input: name, required: true });
  const fProfile = ui.field({ label: t('devices.add.profile'), input: profile, required: true });
  const err = h('p.form-error', { role: 'alert', hidden: true });
  const body = h('form.add-device', { onSubmit: (e) => e.preventDefault() },
    fName, ui.field({ label: t('devices.add.label'), input: label }), fProfile,
    ui.field({ label: t('devices.add.asset'), input: asset }), err);
  ui.dialog({
    title: t('devices.add.title'),
    body,
    actions: [
      { label: t('devices.add.cancel') },
      {
        label: t('devices.add.create'),
        kind: 'primary',
        onClick: async () => {
          const n = name.value.trim();
          fName.setError(n ? null : t('devices.add.nameRequired'));
          if (!n) {
            name.focus();
            return false;
          }
          const prof = profiles.find((p) => p.id === profile.value);
          const req = { name: n, profile_id: profile.value, label: label.value.trim() || null, asset_id: asset.value || null };
          if (platform && prof) req.tenant_id = prof.tenant_id;
          try {
            const d = await api.post('/api/v1/devices', req);
            if (d.credentials && d.credentials.accessToken) handOverToken(d.id, d.credentials.accessToken);
            ui.toast(t('devices.add.created', { name: d.name }), 'success');
            ctx.navigate(`#/devices/${encodeURIComponent(d.id)}?tab=credentials`);
            return true;
          } catch (e) {
            const m = ui.errorMessage(e);
            err.textContent = `${m.title}${m.detail ? ': ' + m.detail : ''}`;
            err.hidden = false;
            return false;
          }
        },
      },
    ],
  });
}

const ASSET_TYPES = ['site', 'plant', 'line', 'cell'];

function errText(e) {
  const m = ui.errorMessage(e);
  return `${m.title}${m.detail ? ': ' + m.detail : ''}`;
}

/**
 * Add (under `parent`, null = a root) or edit an asset: name, type, description. A platform
 * admin adding a root picks the tenant. Resolves with the saved asset, or null.
 */
async function assetDialog(ctx, { parent, asset }) {
  const { api, t } = ctx;
  const platform = !ctx.me || !ctx.me.tenant_id;
  let tenants = [];
  if (!asset && !parent && platform) {
    try {
      tenants = await fetchAll(api, '/api/v1/tenants', { sortProperty: 'name' });
    } catch (e) {
      ui.toast(errText(e), 'error');
      return null;
    }
    if (!tenants.length) {
      ui.toast(t('devices.asset.noTenant'), 'warn');
      return null;
    }
  }
  const name = h('input', { type: 'text', required: true, maxlength: 255, autocomplete: 'off', value: asset ? asset.name : '' });
  const pType = parent ? parent.type : null;
  const nextType = ASSET_TYPES[Math.min(ASSET_TYPES.length - 1, ASSET_TYPES.indexOf(pType) + 1)] || 'site';
  const curType = asset ? asset.type : nextType;
  const types = ASSET_TYPES.includes(curType) ? ASSET_TYPES : [...ASSET_TYPES, curType];
  const type = h('select', null, types.map((x) => h('option', { value: x },
    has(`devices.asset.type.${x}`) ? t(`devices.asset.type.${x}`) : x)));
  type.value = curType;
  const desc = h('input', { type: 'text', maxlength: 1024, autocomplete: 'off', value: asset && asset.description ? asset.description : '' });
  const tenant = tenants.length ? h('select', null, tenants.map((x) => h('option', { value: x.id }, x.name))) : null;
  const fName = ui.field({ label: t('devices.asset.name'), input: name, required: true });
  const err = h('p.form-error', { role: 'alert', hidden: true });
  const body = h('form.asset-form', { onSubmit: (e) => e.preventDefault() },
    parent ? h('p.muted', null, t('devices.asset.under', { parent: parent.name })) : null,
    tenant ? ui.field({ label: t('devices.asset.tenant'), input: tenant }) : null,
    fName, ui.field({ label: t('devices.asset.typeLabel'), input: type }),
    ui.field({ label: t('devices.asset.description'), input: desc }), err);
  let saved = null;
  const d = ui.dialog({
    title: t(asset ? 'devices.asset.editTitle' : 'devices.asset.addTitle'),
    body,
    actions: [
      { label: t('devices.add.cancel') },
      {
        label: t(asset ? 'devices.asset.save' : 'devices.add.create'),
        kind: 'primary',
        onClick: async () => {
          const n = name.value.trim();
          fName.setError(n ? null : t('devices.add.nameRequired'));
          if (!n) {
            name.focus();
            return false;
          }
          const req = { name: n, type: type.value, description: desc.value.trim() || null };
          try {
            if (asset) {
              saved = await api.put(`/api/v1/assets/${encodeURIComponent(asset.id)}`, req);
            } else {
              if (parent) req.parent_id = parent.id;
              if (platform) req.tenant_id = parent ? parent.tenant_id : tenant.value;
              saved = await api.post('/api/v1/assets', req);
            }
            return true;
          } catch (e) {
            err.textContent = errText(e);
            err.hidden = false;
            return false;
          }
        },
      },
    ],
  });
  await d.result;
  return saved;
}

export default {
  route: '/devices',
  nav: 'devices',
  title: 'devices.list.title',
  roles: ['platform_admin', 'tenant_admin', 'engineer', 'operator', 'viewer'],
  async render(root, params, ctx) {
    const { api, t } = ctx;
    let disposed = false;
    let timer = 0;
    ui.loading(root);
    let assets;
    let profiles;
    try {
      [assets, profiles] = await Promise.all([
        fetchAll(api, '/api/v1/assets', { sortProperty: 'name' }),
        fetchAll(api, '/api/v1/device-profiles', { sortProperty: 'name' }),
      ]);
    } catch (err) {
      if (!disposed) ui.errorState(root, err, () => ctx.reload());
      return () => { disposed = true; };
    }
    if (disposed) return null;
    clear(root);
    root.removeAttribute('aria-busy');
    const tree = buildTree(assets);
    const profileName = new Map(profiles.map((p) => [p.id, p.name]));
    const state = {
      asset: params.asset && tree.byId.has(params.asset) ? params.asset : null,
      q: params.q || '',
      page: Math.max(0, (parseInt(params.page, 10) || 1) - 1),
    };
    let seq = 0;

    const search = h('input', { type: 'search', value: state.q, autocomplete: 'off',
      placeholder: t('devices.list.searchPlaceholder'), dataset: { testid: 'device-search' } });
    const count = h('span.muted.dev-count', { 'aria-live': 'polite' });
    const listArea = h('div.dev-list-body');
    const pager = h('nav.pager', { 'aria-label': t('devices.list.pages') });
    const heading = h('h2.dev-list-title');
    const treeView = assetTree(tree, {
      selected: state.asset,
      t,
      onSelect: (id) => {
        state.asset = id;
        state.page = 0;
        if (typeof assetButtons === 'function') assetButtons();
        load(true);
      },
    });
    const addBtn = can(ctx.me, 'device.write')
      ? h('button.btn.primary', { type: 'button', dataset: { testid: 'add-device' } }, t('devices.add.button'))
      : null;
    if (addBtn) {
      addBtn.addEventListener('click', () => {
        if (!profiles.length) {
          ui.toast(t('devices.add.noProfile'), 'warn');
          return;
        }
        addDeviceDialog(ctx, { tree, profiles, assetPath, selected: state.asset });
      });
    }
    // asset actions on the selected asset (add a child, or a root under "all devices")
    const assetBar = h('div.asset-actions');
    const selAsset = () => (state.asset && tree.byId.get(state.asset) ? tree.byId.get(state.asset).asset : null);
    const open = (id) => {
      const hash = `#/devices${id ? `?asset=${encodeURIComponent(id)}` : ''}`;
      ctx.navigate(hash);
    };
    const addAsset = h('button.btn.small', { type: 'button', dataset: { testid: 'add-asset' } }, t('devices.asset.add'));
    const editAsset = h('button.btn.small', { type: 'button', dataset: { testid: 'edit-asset' } }, t('devices.asset.edit'));
    const delAsset = h('button.btn.small.danger', { type: 'button', dataset: { testid: 'delete-asset' } }, t('devices.asset.delete'));
    addAsset.addEventListener('click', async () => {
      const a = await assetDialog(ctx, { parent: selAsset() });
      if (a) open(a.id);
    });
    editAsset.addEventListener('click', async () => {
      const cur = selAsset();
      if (!cur) return;
      const a = await assetDialog(ctx, { asset: cur });
      if (a) open(a.id);
    });
    delAsset.addEventListener('click', async () => {
      const cur = selAsset();
      if (!cur) return;
      if (!(await ui.confirmDialog('devices.asset.confirmDelete', { vars: { name: cur.name }, danger: true, okKey: 'devices.asset.delete' }))) return;
      try {
        await api.del(`/api/v1/assets/${encodeURIComponent(cur.id)}`);
        ui.toast(t('devices.asset.deleted', { name: cur.name }), 'success');
        open(cur.parent_id && tree.byId.has(cur.parent_id) ? cur.parent_id : null);
      } catch (e) {
        ui.toast(errText(e), 'error');
      }
    });
    function assetButtons() {
      const has1 = !!selAsset();
      editAsset.disabled = !has1;
      delAsset.disabled = !has1;
      addAsset.textContent = has1 ? t('devices.asset.addChild') : t('devices.asset.add');
    }
    if (can(ctx.me, 'asset.write')) {
      assetBar.append(addAsset, editAsset, delAsset);
      assetButtons();
    }
    root.append(
      ui.pageHeader(t('devices.list.title'), addBtn),
      h('div.dev-layout', null,
        h('aside.dev-tree', { 'aria-label': t('devices.tree.label') },
          h('h2.dev-tree-title', null, t('devices.tree.title')),
          treeView.el,
          assetBar,
          assets.length ? null : h('p.muted.dev-tree-empty', null, t('devices.tree.empty'))),
        h('section.dev-list', { 'aria-labelledby': 'dev-list-title' },
          h('div.dev-list-head', null, heading,
            h('div.dev-search', null, ui.field({ label: t('devices.list.search'), input: search }), count)),
          listArea, pager)));
    heading.id = 'dev-list-title';

    let debounce = 0;
    search.addEventListener('input', () => {
      clearTimeout(debounce);
      debounce = setTimeout(() => {
        state.q = search.value.trim();
        state.page = 0;
        load(true);
      }, 250);
    });

    function syncUrl() {
      const q = new URLSearchParams();
      if (state.asset) q.set('asset', state.asset);
      if (state.q) q.set('q', state.q);
      if (state.page) q.set('page', String(state.page + 1));
      const s = q.toString();
      const hash = '#/devices' + (s ? '?' + s : '');
      if (location.hash !== hash) history.replaceState(null, '', hash);
    }

    function assetPath(id) {
      const names = [];
      for (let n = tree.byId.get(id), i = 0; n && i < 64; n = n.parent, i++) names.unshift(n.asset.name);
      return names.join(' / ');
    }

    const columns = [
      { key: 'name', label: t('devices.list.col.name'),
        render: (d) => h('div.dev-name',
          null,
          h('a.dev-link', { href: `#/devices/${encodeURIComponent(d.id)}`, title: d.name }, d.name),
          d.label ? h('span.dev-sub', { title: d.label }, d.label) : null) },
      { key: 'profile', label: t('devices.list.col.profile'),
        render: (d) => ellipsis('span', profileName.get(d.profile_id) || '—') },
      { key: 'state', label: t('devices.list.col.state'),
        render: (d) => h('span.dev-state-cell', { dataset: { dev: d.id } }, ui.badge(d.state || 'unknown')) },
      { key: 'last_activity_ms', label: t('devices.list.col.lastActivity'),
        render: (d) => h('span.dev-last-cell', { dataset: { dev: d.id } }, ui.relTime(d.last_activity_ms)) },
      { key: 'asset', label: t('devices.list.col.asset'),
        render: (d) => {
          const n = d.asset_id && tree.byId.get(d.asset_id);
          return n ? h('span.ellipsis', { title: assetPath(d.asset_id) }, n.asset.name) : h('span.muted', null, '—');
        } },
    ];

    // Fetch one page: {rows, total}. A subtree's merged list is kept for paging (refetched
    // when the asset or the search changes, and by the periodic refresh).
    let subtreeCache = null; // {key, all}
    async function fetchPage(fresh) {
      const ids = state.asset ? subtreeIds(tree, state.asset) : null;
      if (!ids || ids.length === 1) {
        const r = await api.get('/api/v1/devices', {
          page: state.page, pageSize: PAGE_SIZE, sortProperty: 'name', textSearch: state.q || null,
          assetId: ids ? ids[0] : null,
        });
        return { rows: r.data || [], total: r.totalElements || 0 };
      }
      const key = `${state.asset}\n${state.q}`;
      if (fresh || !subtreeCache || subtreeCache.key !== key) {
        const lists = await pool(ids, SUBTREE_CONCURRENCY, (id) => fetchAll(api, '/api/v1/devices',
          { assetId: id, sortProperty: 'name', textSearch: state.q || null }));
        subtreeCache = { key, all: lists.flat().sort((a, b) => nameCmp(a.name, b.name)) };
      }
      const all = subtreeCache.all;
      return { rows: all.slice(state.page * PAGE_SIZE, (state.page + 1) * PAGE_SIZE), total: all.length };
    }

    async function load(showLoading, fresh = false) {
      const mine = ++seq;
      clearTimeout(timer);
      syncUrl();
      heading.textContent = state.asset ? tree.byId.get(state.asset).asset.name : t('devices.tree.all');
      heading.title = state.asset ? assetPath(state.asset) : '';
      if (showLoading) {
        ui.loading(listArea);
        root.removeAttribute('data-ready');
      }
      let res;
      try {
        res = await fetchPage(fresh);
      } catch (err) {
        if (disposed || mine !== seq) return;
        ui.errorState(listArea, err, () => load(true));
        clear(pager);
        ui.ready(root);
        return;
      }
      if (disposed || mine !== seq) return;
      const pages = Math.max(1, Math.ceil(res.total / PAGE_SIZE));
      if (state.page >= pages && res.total > 0) {
        state.page = pages - 1;
        load(showLoading);
        return;
      }
      count.textContent = t('devices.list.count', { n: res.total });
      listArea.removeAttribute('aria-busy');
      if (!res.total && !state.q && !state.asset) {
        ui.emptyState(listArea, 'devices.list.none');
      } else {
        clear(listArea);
        listArea.append(ui.table({
          columns,
          rows: res.rows,
          empty: state.q ? 'devices.list.noMatch' : 'devices.list.noneHere',
          caption: t('devices.list.caption'),
          onRowClick: (d) => ctx.navigate(`#/devices/${encodeURIComponent(d.id)}`),
        }));
      }
      drawPager(pages);
      watchStates(res.rows);
      ui.ready(root);
      timer = setTimeout(() => load(false, true), REFRESH_MS);
    }

    // online / offline changes of the shown devices, live (the server sends state changes)
    let stateSubs = [];
    let watched = '';
    function unwatch() {
      for (const u of stateSubs) u();
      stateSubs = [];
      watched = '';
    }
    function watchStates(rows) {
      const key = rows.map((d) => d.id).join(',');
      if (key === watched) return; // same devices: the callbacks find the redrawn cells
      unwatch();
      watched = key;
      if (!ctx.live) return;
      stateSubs = rows.map((d) => ctx.live.subscribe({ type: 'state', device_id: d.id }, (m) => {
        const cell = listArea.querySelector(`.dev-state-cell[data-dev="${CSS.escape(d.id)}"]`);
        if (cell && m.state) cell.replaceChildren(ui.badge(m.state));
        const last = listArea.querySelector(`.dev-last-cell[data-dev="${CSS.escape(d.id)}"]`);
        if (last && m.last_activity_ms) last.replaceChildren(ui.relTime(m.last_activity_ms));
      }));
    }

    function drawPager(pages) {
      clear(pager);
      if (pages <= 1) return;
      const go = (p) => {
        state.page = p;
        load(true);
      };
      pager.append(
        h('button.btn', { type: 'button', disabled: state.page === 0, onClick: () => go(state.page - 1) },
          t('devices.list.prev')),
        h('span.pager-info', null, t('devices.list.pageOf', { page: state.page + 1, pages })),
        h('button.btn', { type: 'button', disabled: state.page >= pages - 1, onClick: () => go(state.page + 1) },
          t('devices.list.next')));
    }

    load(true);
    return () => {
      disposed = true;
      clearTimeout(timer);
      clearTimeout(debounce);
      unwatch();
    };
  },
};
