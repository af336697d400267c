// SPDX-License-Identifier: Apache-2.0
// Device profiles tab: the list (#/admin/profiles) and one profile with its keys
// (#/admin/profiles/:id): key, type, unit, normal range min/max and data classification
// level (1 general, 2 important, 3 core: 一般 / 重要 / 核心数据). Engineers and admins create,
// edit and delete; operators and viewers read only.

import { h, clear, ellipsis } from '../../core/dom.js';
import { t } from '../../core/i18n.js';
import { loading, errorState, table, confirmDialog, toast } from '../../core/ui.js';
import { num } from '../../core/format.js';
import { can, when, formDialog, input, select, actions, smallBtn, done, pager, listRows } from './common.js';

const WRITERS = ['platform_admin', 'tenant_admin', 'engineer'];
const TYPES = ['float', 'int', 'bool', 'string'];
const LEVELS = [1, 2, 3];
const PAGE_SIZE = 50;

function levelBadge(level) {
  const l = LEVELS.includes(level) ? level : 1;
  return h('span.admin-level', { class: `admin-level-${l}`, dataset: { level: String(l) } }, t(`admin.level.${l}`));
}

/** The number in s, null when empty; throws a field error when it is not a number. */
function numOrNull(s, name) {
  if (s === '' || s === undefined) return null;
  const v = Number(s);
  if (!Number.isFinite(v)) {
    const e = new Error(`${name}: ${t('admin.form.number')}`);
    e.status = 400;
    throw e;
  }
  return v;
}

function keyFields(k) {
  const typeSel = select(TYPES.map((x) => [x, t(`admin.keys.type.${x}`)]), k.type || 'float');
  const levelSel = select(LEVELS.map((l) => [String(l), t(`admin.level.${l}`)]), String(k.level || 1));
  return [
    { name: 'key', label: t('admin.keys.key'), input: input({ value: k.key || '', maxlength: 255 }), required: true },
    { name: 'type', label: t('admin.keys.type'), input: typeSel, required: true },
    { name: 'unit', label: t('admin.keys.unit'), input: input({ value: k.unit || '', maxlength: 32 }) },
    { name: 'min', label: t('admin.keys.min'), input: input({ value: k.min ?? '', inputmode: 'decimal' }) },
    { name: 'max', label: t('admin.keys.max'), input: input({ value: k.max ?? '', inputmode: 'decimal' }) },
    { name: 'level', label: t('admin.keys.level'), input: levelSel, hint: t('admin.keys.level_hint') },
  ];
}

function keyBody(v, before) {
  const min = numOrNull(v.min, 'min');
  const max = numOrNull(v.max, 'max');
  if (min !== null && max !== null && min > max) {
    const e = new Error(`max: ${t('admin.keys.range_order')}`);
    e.status = 400;
    throw e;
  }
  const b = { key: v.key, type: v.type, level: Number(v.level), min, max };
  if (v.unit) b.unit = v.unit;
  else if (before && before.unit) b.unit = null;
  if (!before) { // create: leave out what is empty
    if (min === null) delete b.min;
    if (max === null) delete b.max;
  }
  return b;
}

function profileFields(p) {
  return [
    { name: 'name', label: t('admin.profiles.name'), input: input({ value: p.name || '', maxlength: 255 }), required: true },
    { name: 'description', label: t('admin.profiles.description'), input: h('textarea', { rows: 2, maxlength: 1024 }, p.description || '') },
    { name: 'provision_key', label: t('admin.profiles.provision_key'), input: input({ value: p.provision_key || '', maxlength: 128, autocomplete: 'off' }), hint: t('admin.profiles.provision_hint') },
    { name: 'provision_secret', label: t('admin.profiles.provision_secret'), input: input({ type: 'password', autocomplete: 'new-password', maxlength: 128 }), hint: t('admin.profiles.secret_hint') },
  ];
}

function profileBody(v, before) {
  const b = { name: v.name };
  for (const k of ['description', 'provision_key']) {
    if (v[k]) b[k] = v[k];
    else if (before && before[k]) b[k] = null;
  }
  if (v.provision_secret) b.provision_secret = v.provision_secret;
  return b;
}

async function renderList(panel, ctx, markReady, write) {
  const { api } = ctx;
  let page = 0;
  const body = h('div.admin-body');
  if (write) {
    panel.append(h('div.admin-toolbar', null, h('span'),
      h('button.btn.primary', { type: 'button', 'data-testid': 'profile-create', onClick: create }, t('admin.profiles.create'))));
  } else {
    panel.append(h('p.muted.admin-readonly', null, t('admin.readonly')));
  }
  panel.append(body);

  const platform = ctx.me && ctx.me.role === 'platform_admin';
  const tenantNames = new Map();

  async function load() {
    const res = await listRows(body, {
      fetch: async () => {
        if (platform && !tenantNames.size) {
          for (const x of (await api.get('/api/v1/tenants', { pageSize: 1000 })).data || []) tenantNames.set(x.id, x.name);
        }
        return api.get('/api/v1/device-profiles', { page, pageSize: PAGE_SIZE, sortProperty: 'name' });
      },
      retry: load, empty: page === 0, emptyKey: 'admin.profiles.empty', markReady,
    });
    if (!res) return;
    const rows = res.data || [];
    body.append(table({
      caption: t('admin.tab.profiles'),
      rowKey: 'id',
      columns: [
        { key: 'name', label: t('admin.profiles.name'), sort: true,
          render: (r) => h('a', { href: `#/admin/profiles/${encodeURIComponent(r.id)}`, class: 'ellipsis', title: r.name }, r.name) },
        platform ? { key: 'tenant_id', label: t('admin.users.tenant'), render: (r) => ellipsis('span', tenantNames.get(r.tenant_id) || r.tenant_id) } : null,
        { key: 'description', label: t('admin.profiles.description') },
        { key: 'created_ms', label: t('admin.col.created'), sort: true, render: (r) => when(r.created_ms) },
        { key: 'updated_ms', label: t('admin.col.updated'), sort: true, render: (r) => when(r.updated_ms) },
      ].filter(Boolean),
      rows,
    }), pager({ page, hasNext: res.hasNext, totalPages: res.totalPages, onPage: (p) => { page = p; load(); } }));
    markReady();
  }

  async function create() {
    const fields = profileFields({});
    if (platform) { // platform admins say whose profile it is
      let tenants = [];
      try {
        tenants = (await api.get('/api/v1/tenants', { pageSize: 1000, sortProperty: 'name' })).data || [];
      } catch (err) {
        toast(err.message, 'error');
        return;
      }
      fields.unshift({ name: 'tenant_id', label: t('admin.users.tenant'), input: select(tenants.map((x) => [x.id, x.name])), required: true });
    }
    const p = await formDialog({
      title: t('admin.profiles.create'),
      testid: 'profile-form',
      submitKey: 'admin.profiles.create',
      fields,
      onSubmit: (v) => api.post('/api/v1/device-profiles', { ...profileBody(v), ...(platform ? { tenant_id: v.tenant_id } : {}) }),
    });
    if (!p || p === true) return;
    done('admin.profiles.created', { name: p.name });
    ctx.navigate(`#/admin/profiles/${encodeURIComponent(p.id)}`);
  }

  await load();
}

async function renderOne(panel, id, ctx, markReady, write) {
  const { api } = ctx;
  const body = h('div.admin-body');
  panel.append(h('p', null, h('a', { href: '#/admin/profiles' }, t('admin.profiles.back'))), body);
  let prof;

  async function load() {
    loading(body);
    let keys;
    try {
      prof = await api.get(`/api/v1/device-profiles/${encodeURIComponent(id)}`);
      keys = (await api.get(`/api/v1/device-profiles/${encodeURIComponent(id)}/keys`, { pageSize: 1000, sortProperty: 'key' })).data || [];
    } catch (err) {
      errorState(body, err, load);
      markReady();
      return;
    }
    clear(body);
    body.removeAttribute('aria-busy');
    const head = h('div.admin-toolbar', null,
      h('div.admin-title', null, ellipsis('h2', prof.name), prof.description ? h('p.muted', null, prof.description) : null),
      write ? h('div.row-actions', null,
        h('button.btn', { type: 'button', onClick: edit }, t('admin.action.edit')),
        h('button.btn.danger', { type: 'button', onClick: remove }, t('admin.action.delete'))) : null);
    const facts = h('dl.admin-facts', null,
      h('dt', null, t('admin.profiles.provision_key')), h('dd', null, prof.provision_key || '—'),
      h('dt', null, t('admin.col.created')), h('dd', null, when(prof.created_ms)),
      h('dt', null, t('admin.col.updated')), h('dd', null, when(prof.updated_ms)));
    const keysHead = h('div.admin-toolbar', null, h('h3', null, t('admin.keys.title')),
      write ? h('button.btn.primary', { type: 'button', 'data-testid': 'key-create', onClick: addKey }, t('admin.keys.create')) : null);
    const cols = [
      { key: 'key', label: t('admin.keys.key'), sort: true },
      { key: 'type', label: t('admin.keys.type'), sort: true, render: (r) => t(`admin.keys.type.${r.type}`) },
      { key: 'unit', label: t('admin.keys.unit'), render: (r) => r.unit || '—' },
      { key: 'min', label: t('admin.keys.min'), num: true, render: (r) => h('span', { 'data-testid': 'key-min' }, num(r.min)) },
      { key: 'max', label: t('admin.keys.max'), num: true, render: (r) => h('span', { 'data-testid': 'key-max' }, num(r.max)) },
      { key: 'level', label: t('admin.keys.level'), sort: true, render: (r) => levelBadge(r.level) },
    ];
    if (write) {
      cols.push({ key: 'actions', label: t('admin.col.actions'), render: (r) => actions(
        smallBtn('admin.action.edit', () => editKey(r), { name: r.key, testid: 'key-edit' }),
        smallBtn('admin.action.delete', () => removeKey(r), { danger: true, name: r.key })) });
    }
    body.append(head, facts, keysHead,
      table({ caption: t('admin.keys.title'), rowKey: 'key', columns: cols, rows: keys, empty: 'admin.keys.empty' }));
    markReady();
  }

  async function edit() {
    const p = await formDialog({
      title: t('admin.profiles.edit', { name: prof.name }),
      testid: 'profile-form',
      fields: profileFields(prof),
      onSubmit: (v) => api.put(`/api/v1/device-profiles/${encodeURIComponent(id)}`, profileBody(v, prof)),
    });
    if (!p || p === true) return;
    done('admin.profiles.saved', { name: p.name });
    load();
  }

  async function remove() {
    if (!(await confirmDialog('admin.profiles.delete_confirm', { vars: { name: prof.name }, okKey: 'admin.action.delete', danger: true }))) return;
    try {
      await api.del(`/api/v1/device-profiles/${encodeURIComponent(id)}`);
      done('admin.profiles.deleted', { name: prof.name });
      ctx.navigate('#/admin/profiles');
    } catch (err) {
      toast(err.message, 'error');
    }
  }

  async function addKey() {
    const k = await formDialog({
      title: t('admin.keys.create'),
      testid: 'key-form',
      submitKey: 'admin.keys.create',
      fields: keyFields({}),
      onSubmit: (v) => api.post(`/api/v1/device-profiles/${encodeURIComponent(id)}/keys`, keyBody(v)),
    });
    if (!k || k === true) return;
    done('admin.keys.created', { key: k.key });
    load();
  }

  async function editKey(r) {
    const k = await formDialog({
      title: t('admin.keys.edit', { key: r.key }),
      testid: 'key-form',
      fields: keyFields(r),
      onSubmit: (v) => api.put(`/api/v1/device-profiles/${encodeURIComponent(id)}/keys/${encodeURIComponent(r.id)}`, keyBody(v, r)),
    });
    if (!k || k === true) return;
    done('admin.keys.saved', { key: k.key });
    load();
  }

  async function removeKey(r) {
    if (!(await confirmDialog('admin.keys.delete_confirm', { vars: { key: r.key }, okKey: 'admin.action.delete', danger: true }))) return;
    try {
      await api.del(`/api/v1/device-profiles/${encodeURIComponent(id)}/keys/${encodeURIComponent(r.id)}`);
      done('admin.keys.deleted', { key: r.key });
    } catch (err) {
      toast(err.message, 'error');
    }
    load();
  }

  await load();
}

export default {
  async render(panel, params, ctx, markReady) {
    const write = can(ctx.me, WRITERS);
    if (params && params.id) await renderOne(panel, params.id, ctx, markReady, write);
    else await renderList(panel, ctx, markReady, write);
    return null;
  },
};
