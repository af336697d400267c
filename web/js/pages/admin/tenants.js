// SPDX-License-Identifier: Apache-2.0
// Tenants tab. Platform admins: list (name, industry, region, database), create, edit,
// delete after a confirmation (the server refuses while the tenant still has users or
// devices and says so). Tenant admins: their own tenant's record, with the fields they may
// edit (name, industry); region and database are platform decisions, shown read-only.

import { h, clear } from '../../core/dom.js';
import { t } from '../../core/i18n.js';
import { loading, errorState, table, confirmDialog, emptyState, toast } from '../../core/ui.js';
import { when, form, formDialog, input, actions, smallBtn, done, pager, listRows } from './common.js';

const PAGE_SIZE = 50;

function tenantFields(tn, { platform, creating }) {
  const f = [
    { name: 'name', label: t('admin.tenants.name'), input: input({ value: tn.name || '', maxlength: 255 }), required: true },
    { name: 'industry', label: t('admin.tenants.industry'), input: input({ value: tn.industry || '', maxlength: 64 }), hint: t('admin.tenants.industry_hint') },
  ];
  if (platform) f.push({ name: 'region_code', label: t('admin.tenants.region'), input: input({ value: tn.region_code || '', maxlength: 15, placeholder: 'CN-GD' }), hint: t('admin.tenants.region_hint') });
  if (creating) f.push({ name: 'db_name', label: t('admin.tenants.db_name'), input: input({ maxlength: 64 }), hint: t('admin.tenants.db_hint') });
  return f;
}

function bodyOf(v, { creating, before }) {
  const b = {};
  for (const k of ['name', 'industry', 'region_code', 'db_name']) {
    if (!(k in v)) continue;
    if (v[k]) b[k] = v[k];
    else if (!creating && before && before[k]) b[k] = null; // cleared
  }
  return b;
}

export default {
  async render(panel, params, ctx, markReady) {
    const { api, me } = ctx;
    const platform = me && me.role === 'platform_admin';
    const body = h('div.admin-body');
    let page = 0;
    if (platform) {
      panel.append(h('div.admin-toolbar', null, h('span'),
        h('button.btn.primary', { type: 'button', 'data-testid': 'tenant-create', onClick: create }, t('admin.tenants.create'))));
    }
    panel.append(body);

    async function loadOwn() {
      loading(body);
      let tn;
      try {
        tn = await api.get(`/api/v1/tenants/${encodeURIComponent(me.tenant_id)}`);
      } catch (err) {
        errorState(body, err, loadOwn);
        markReady();
        return;
      }
      clear(body);
      body.removeAttribute('aria-busy');
      const f = form({
        testid: 'tenant-own-form',
        fields: tenantFields(tn, { platform: false }),
        onSubmit: async (v) => {
          tn = await api.put(`/api/v1/tenants/${encodeURIComponent(tn.id)}`, bodyOf(v, { before: tn }));
          done('admin.tenants.saved', { name: tn.name });
        },
      });
      body.append(h('div.admin-card', null,
        h('dl.admin-facts', null,
          h('dt', null, t('admin.tenants.region')), h('dd', null, tn.region_code || '—'),
          h('dt', null, t('admin.tenants.db_name')), h('dd', null, tn.db_name || '—'),
          h('dt', null, t('admin.col.created')), h('dd', null, when(tn.created_ms))),
        f));
      markReady();
    }

    async function load() {
      const res = await listRows(body, {
        fetch: () => api.get('/api/v1/tenants', { page, pageSize: PAGE_SIZE, sortProperty: 'name' }),
        retry: load, empty: page === 0, emptyKey: 'admin.tenants.empty', markReady,
      });
      if (!res) return;
      const rows = res.data || [];
      body.append(table({
        caption: t('admin.tab.tenants'),
        rowKey: 'id',
        columns: [
          { key: 'name', label: t('admin.tenants.name'), sort: true },
          { key: 'industry', label: t('admin.tenants.industry'), sort: true },
          { key: 'region_code', label: t('admin.tenants.region'), sort: true },
          { key: 'db_name', label: t('admin.tenants.db_name'), sort: true },
          { key: 'created_ms', label: t('admin.col.created'), sort: true, render: (r) => when(r.created_ms) },
          { key: 'actions', label: t('admin.col.actions'), render: (r) => actions(
            smallBtn('admin.action.edit', () => edit(r), { name: r.name }),
            smallBtn('admin.action.delete', () => remove(r), { danger: true, name: r.name })) },
        ],
        rows,
      }), pager({ page, hasNext: res.hasNext, totalPages: res.totalPages, onPage: (p) => { page = p; load(); } }));
      markReady();
    }

    async function create() {
      const tn = await formDialog({
        title: t('admin.tenants.create'),
        testid: 'tenant-form',
        submitKey: 'admin.tenants.create',
        fields: tenantFields({}, { platform: true, creating: true }),
        onSubmit: (v) => api.post('/api/v1/tenants', bodyOf(v, { creating: true })),
      });
      if (!tn || tn === true) return;
      done('admin.tenants.created', { name: tn.name });
      load();
    }

    async function edit(r) {
      const tn = await formDialog({
        title: t('admin.tenants.edit', { name: r.name }),
        testid: 'tenant-form',
        fields: tenantFields(r, { platform: true }),
        onSubmit: (v) => api.put(`/api/v1/tenants/${encodeURIComponent(r.id)}`, bodyOf(v, { before: r })),
      });
      if (!tn || tn === true) return;
      done('admin.tenants.saved', { name: tn.name });
      load();
    }

    async function remove(r) {
      if (!(await confirmDialog('admin.tenants.delete_confirm', { vars: { name: r.name }, okKey: 'admin.action.delete', danger: true }))) return;
      try {
        await api.del(`/api/v1/tenants/${encodeURIComponent(r.id)}`);
        done('admin.tenants.deleted', { name: r.name });
      } catch (err) {
        toast(err.message, 'error');
      }
      load();
    }

    if (platform) await load();
    else if (me && me.tenant_id) await loadOwn();
    else {
      emptyState(body, 'admin.tenants.none_own');
      markReady();
    }
    return null;
  },
};
