// SPDX-License-Identifier: Apache-2.0
// #/devices/:id: one device. A header (name, state updated live, profile, asset, last
// activity) over tabs: latest values, charts, attributes, commands, and credentials with
// connection snippets. Each tab lives in web/js/pages/device/ and returns its cleanup; the
// tab is kept in the URL (?tab=charts). The profile's keys give units and normal ranges.
import { h, clear, ellipsis, icon } from '../core/dom.js';
import * as ui from '../core/ui.js';
import { can, fetchAll, nameCmp } from './device/common.js';
import { renderLatest } from './device/latest.js';
import { renderCharts } from './device/charts.js';
import { renderAttributes } from './device/attributes.js';
import { renderCommands } from './device/commands.js';
import { renderCredentials } from './device/credentials.js';

const TABS = ['latest', 'charts', 'attributes', 'commands', 'credentials'];

function errText(e) {
  const m = ui.errorMessage(e);
  return `${m.title}${m.detail ? ': ' + m.detail : ''}`;
}

/** Edit a device's name, label and asset; resolves with the saved device or null. */
async function editDialog(ctx, dev) {
  const { api, t } = ctx;
  let assets = [];
  try {
    assets = await fetchAll(api, '/api/v1/assets', { sortProperty: 'name' });
  } catch (e) {
    ui.toast(errText(e), 'error');
    return null;
  }
  assets = assets.filter((a) => a.tenant_id === dev.tenant_id).sort((a, b) => nameCmp(a.name, b.name));
  const name = h('input', { type: 'text', required: true, maxlength: 255, autocomplete: 'off', value: dev.name });
  const label = h('input', { type: 'text', maxlength: 255, autocomplete: 'off', value: dev.label || '' });
  const asset = h('select', null, h('option', { value: '' }, t('devices.add.noAsset')),
    assets.map((a) => h('option', { value: a.id }, a.name)));
  asset.value = dev.asset_id || '';
  const fName = ui.field({ label: t('devices.add.name'), input: name, required: true });
  const err = h('p.form-error', { role: 'alert', hidden: true });
  let saved = null;
  const d = ui.dialog({
    title: t('devices.edit.title'),
    body: h('form', { onSubmit: (e) => e.preventDefault() }, fName,
      ui.field({ label: t('devices.add.label'), input: label }),
      ui.field({ label: t('devices.add.asset'), input: asset }), err),
    actions: [
      { label: t('devices.add.cancel') },
      {
        label: t('devices.asset.save'),
        kind: 'primary',
        onClick: async () => {
          const n = name.value.trim();
          fName.setError(n ? null : t('devices.add.nameRequired'));
          if (!n) return false;
          try {
            saved = await api.put(`/api/v1/devices/${encodeURIComponent(dev.id)}`,
              { name: n, label: label.value.trim() || null, asset_id: asset.value || null });
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
  route: '/devices/:id',
  nav: 'devices',
  title: 'devices.page.title',
  roles: ['platform_admin', 'tenant_admin', 'engineer', 'operator', 'viewer'],
  async render(root, params, ctx) {
    const { api, t } = ctx;
    const id = params.id;
    let disposed = false;
    const cleanups = [];
    ui.loading(root);
    let dev;
    try {
      dev = await api.get(`/api/v1/devices/${encodeURIComponent(id)}`);
    } catch (err) {
      if (!disposed) ui.errorState(root, err, () => ctx.reload());
      return () => { disposed = true; };
    }
    if (disposed) return null;
    // profile keys (units, ranges) and the asset: the page works without them
    const [profile, keys, asset] = await Promise.all([
      api.get(`/api/v1/device-profiles/${encodeURIComponent(dev.profile_id)}`).catch(() => null),
      api.get(`/api/v1/device-profiles/${encodeURIComponent(dev.profile_id)}/keys`, { pageSize: 1000 })
        .then((r) => r.data || []).catch(() => []),
      dev.asset_id ? api.get(`/api/v1/assets/${encodeURIComponent(dev.asset_id)}`).catch(() => null) : null,
    ]);
    if (disposed) return null;
    clear(root);
    root.removeAttribute('aria-busy');
    document.title = `${dev.name} · Loom`;
    const keyMeta = new Map(keys.map((k) => [k.key, k]));
    // without live.js (it failed to load) the page still works, without live updates
    const live = ctx.live || { subscribe: () => () => {}, onStatus: () => () => {}, status: () => 'closed' };
    const dctx = { ...ctx, live, dev, profile, keyMeta, pageRoot: root, params };

    const stateEl = h('span.dev-state', { 'aria-live': 'polite', dataset: { testid: 'device-state' } }, ui.badge(dev.state || 'unknown'));
    const lastEl = h('span.dev-last', null, ui.relTime(dev.last_activity_ms));
    const facts = h('dl.dev-facts', null,
      h('div', null, h('dt', null, t('devices.page.profile')), h('dd', null, ellipsis('span', profile ? profile.name : '—'))),
      h('div', null, h('dt', null, t('devices.page.asset')),
        h('dd', null, asset
          ? h('a', { href: `#/devices?asset=${encodeURIComponent(asset.id)}`, title: asset.name }, asset.name)
          : h('span.muted', null, '—'))),
      h('div', null, h('dt', null, t('devices.page.lastActivity')), h('dd', null, lastEl)),
      h('div', null, h('dt', null, t('devices.page.id')), h('dd.mono', null, ellipsis('span', dev.id), ui.copyButton(dev.id))));
    const actions = [stateEl];
    if (can(ctx.me, 'device.write')) {
      const edit = h('button.btn', { type: 'button', dataset: { testid: 'edit-device' } }, t('devices.edit.button'));
      edit.addEventListener('click', async () => {
        if (await editDialog(ctx, dev)) {
          ui.toast(t('devices.edit.saved'), 'success');
          ctx.reload();
        }
      });
      const del = h('button.btn.danger', { type: 'button', dataset: { testid: 'delete-device' } }, t('devices.edit.delete'));
      del.addEventListener('click', async () => {
        if (!(await ui.confirmDialog('devices.edit.confirmDelete', { vars: { name: dev.name }, danger: true, okKey: 'devices.edit.delete' }))) return;
        try {
          await api.del(`/api/v1/devices/${encodeURIComponent(dev.id)}`);
          ui.toast(t('devices.edit.deleted', { name: dev.name }), 'success');
          ctx.navigate(dev.asset_id ? `#/devices?asset=${encodeURIComponent(dev.asset_id)}` : '#/devices');
        } catch (e) {
          ui.toast(errText(e), 'error');
        }
      });
      actions.push(edit, del);
    }
    root.append(
      h('nav.breadcrumb', { 'aria-label': t('devices.page.breadcrumb') },
        h('a', { href: '#/devices' }, icon('devices', 14), t('devices.list.title'))),
      ui.pageHeader(dev.name, ...actions),
      dev.label ? ellipsis('p.dev-label', dev.label) : '',
      facts);

    // state and last activity, live
    cleanups.push(live.subscribe({ type: 'state', device_id: dev.id }, (m) => {
      if (m.state) {
        dev.state = m.state;
        stateEl.replaceChildren(ui.badge(m.state));
      }
      if (m.last_activity_ms) lastEl.replaceChildren(ui.relTime(m.last_activity_ms));
    }));
    const tick = setInterval(() => {
      if (dev.last_activity_ms) lastEl.replaceChildren(ui.relTime(dev.last_activity_ms));
    }, 15000);
    cleanups.push(() => clearInterval(tick));
    cleanups.push(live.subscribe({ type: 'telemetry', device_id: dev.id }, (m) => {
      dev.last_activity_ms = m.ts;
      lastEl.replaceChildren(ui.relTime(m.ts));
    }));

    const list = [
      { id: 'latest', label: t('devices.tab.latest'), render: (p) => renderLatest(p, dctx) },
      { id: 'charts', label: t('devices.tab.charts'), render: (p) => renderCharts(p, dctx) },
      { id: 'attributes', label: t('devices.tab.attributes'), render: (p) => renderAttributes(p, dctx) },
      { id: 'commands', label: t('devices.tab.commands'), render: (p) => renderCommands(p, dctx) },
    ];
    if (can(ctx.me, 'device.credentials')) {
      list.push({ id: 'credentials', label: t('devices.tab.credentials'), render: (p) => renderCredentials(p, dctx) });
    } else {
      list.push({ id: 'credentials', label: t('devices.tab.connect'), render: (p) => renderCredentials(p, dctx) });
    }
    const active = TABS.includes(params.tab) ? params.tab : 'latest';
    const tabsEl = ui.tabs(list, {
      active,
      onChange: (tab) => {
        const hash = `#/devices/${encodeURIComponent(dev.id)}${tab === 'latest' ? '' : `?tab=${tab}`}`;
        history.replaceState(null, '', hash);
      },
    });
    root.append(tabsEl);
    cleanups.push(() => tabsEl.destroy());
    return () => {
      disposed = true;
      for (const fn of cleanups.reverse()) {
        try { fn(); } catch (e) { console.error(e); }
      }
    };
  },
};
