// SPDX-License-Identifier: Apache-2.0
// Users and roles tab (platform and tenant admins): list with role, tenant, state and
// creation time, search; create (e-mail, name, a role the caller may grant, tenant or
// region where the role needs one, initial password: the server's policy errors appear
// next to the field); change a role; disable / enable; delete after a confirmation.

import { h, clear, ellipsis } from '../../core/dom.js';
import { t } from '../../core/i18n.js';
import { table, confirmDialog, toast } from '../../core/ui.js';
import { TENANT_ROLES, stateBadge, grantable, roleName, when, formDialog, input, select, actions, smallBtn, done, pager, listRows } from './common.js';

const PAGE_SIZE = 50;

export default {
  async render(panel, params, ctx, markReady) {
    const { api, me } = ctx;
    const platform = me && me.role === 'platform_admin';
    let page = 0;
    let search = '';
    let tenants = [];
    const body = h('div.admin-body');
    const searchIn = h('input', { type: 'search', id: 'admin-user-search', 'aria-label': t('admin.users.search'),
      placeholder: t('admin.users.search') });
    let timer = null;
    searchIn.addEventListener('input', () => {
      clearTimeout(timer);
      timer = setTimeout(() => { search = searchIn.value.trim(); page = 0; load(); }, 250);
    });
    panel.append(h('div.admin-toolbar', null, searchIn,
      h('button.btn.primary', { type: 'button', 'data-testid': 'user-create', onClick: create }, t('admin.users.create'))), body);

    function tenantName(id) {
      if (!id) return t('admin.users.platform');
      const x = tenants.find((tn) => tn.id === id);
      return x ? x.name : id;
    }

    async function load() {
      const res = await listRows(body, {
        fetch: async () => {
          if (platform && !tenants.length) tenants = (await api.get('/api/v1/tenants', { pageSize: 1000 })).data || [];
          return api.get('/api/v1/users', { page, pageSize: PAGE_SIZE, textSearch: search, sortProperty: 'email' });
        },
        retry: load, empty: page === 0 && !search, emptyKey: 'admin.users.empty', markReady,
      });
      if (!res) return;
      const rows = res.data || [];
      const cols = [
        { key: 'email', label: t('admin.users.email'), sort: true },
        { key: 'name', label: t('admin.users.name'), sort: true },
        { key: 'role', label: t('admin.users.role'), sort: true, render: (r) => h('span', { 'data-testid': 'user-role' }, roleName(r.role)) },
      ];
      if (platform) cols.push({ key: 'tenant_id', label: t('admin.users.tenant'), sort: true, render: (r) => ellipsis('span', tenantName(r.tenant_id)) });
      cols.push(
        { key: 'disabled', label: t('admin.col.state'), sort: true, render: (r) => stateBadge(r.disabled ? 'disabled' : 'enabled') },
        { key: 'created_ms', label: t('admin.col.created'), sort: true, render: (r) => when(r.created_ms) },
        { key: 'actions', label: t('admin.col.actions'), render: (r) => {
          const self = r.id === me.subject_id;
          return actions(
            smallBtn('admin.users.change_role', () => changeRole(r), { name: r.email, testid: 'user-change-role' }),
            self ? null : smallBtn(r.disabled ? 'admin.users.enable' : 'admin.users.disable', () => toggle(r), { name: r.email }),
            self ? null : smallBtn('admin.action.delete', () => remove(r), { danger: true, name: r.email }));
        } });
      body.append(table({ caption: t('admin.tab.users'), rowKey: 'id', columns: cols, rows, empty: 'admin.users.none_found' }),
        pager({ page, hasNext: res.hasNext, totalPages: res.totalPages, onPage: (p) => { page = p; load(); } }));
      markReady();
    }

    async function create() {
      const roles = grantable(me);
      const email = input({ type: 'email', autocomplete: 'off', maxlength: 254 });
      const name = input({ autocomplete: 'off', maxlength: 255 });
      const role = select(roles.map((r) => [r, roleName(r)]), roles.includes('viewer') ? 'viewer' : roles[0]);
      const tenant = select(tenants.map((tn) => [tn.id, tn.name]));
      const region = input({ maxlength: 15, placeholder: 'CN-GD' });
      const password = input({ type: 'password', autocomplete: 'new-password', maxlength: 128 });
      const fields = [
        { name: 'email', label: t('admin.users.email'), input: email, required: true },
        { name: 'name', label: t('admin.users.name'), input: name },
        { name: 'role', label: t('admin.users.role'), input: role, required: true },
        { name: 'tenant_id', label: t('admin.users.tenant'), input: tenant, hidden: !platform },
        { name: 'region_code', label: t('admin.users.region'), input: region, hidden: true },
        { name: 'password', label: t('admin.users.password'), input: password, required: true, hint: t('admin.users.password_hint') },
      ];
      const p = formDialog({
        title: t('admin.users.create'),
        testid: 'user-form',
        submitKey: 'admin.users.create',
        fields,
        onSubmit: (v) => {
          const b = { email: v.email, role: v.role, password: v.password };
          if (v.name) b.name = v.name;
          if (platform && TENANT_ROLES.includes(v.role)) b.tenant_id = v.tenant_id;
          if (v.role === 'regional_observer' && v.region_code) b.region_code = v.region_code;
          return api.post('/api/v1/users', b);
        },
      });
      // which of tenant / region the chosen role needs
      const formEl = document.querySelector('[data-testid="user-form"]');
      function sync() {
        if (!formEl) return;
        formEl.fieldEl('tenant_id').hidden = !(platform && TENANT_ROLES.includes(role.value));
        formEl.fieldEl('region_code').hidden = role.value !== 'regional_observer';
      }
      role.addEventListener('change', sync);
      sync();
      const u = await p;
      if (!u || u === true) return;
      done('admin.users.created', { email: u.email });
      load();
    }

    async function changeRole(r) {
      const roles = grantable(me);
      const list = roles.includes(r.role) ? roles : [r.role, ...roles];
      const role = select(list.map((x) => [x, roleName(x)]), r.role);
      const u = await formDialog({
        title: t('admin.users.change_role_of', { email: r.email }),
        testid: 'role-form',
        fields: [{ name: 'role', label: t('admin.users.role'), input: role }],
        onSubmit: (v) => api.put(`/api/v1/users/${encodeURIComponent(r.id)}`, { role: v.role }),
      });
      if (!u || u === true) return;
      done('admin.users.role_changed', { email: u.email, role: roleName(u.role) });
      load();
    }

    async function toggle(r) {
      if (!r.disabled && !(await confirmDialog('admin.users.disable_confirm', { vars: { email: r.email }, okKey: 'admin.users.disable', danger: true }))) return;
      try {
        await api.put(`/api/v1/users/${encodeURIComponent(r.id)}`, { disabled: !r.disabled });
        done(r.disabled ? 'admin.users.enabled' : 'admin.users.disabled', { email: r.email });
      } catch (err) {
        toast(err.message, 'error');
      }
      load();
    }

    async function remove(r) {
      if (!(await confirmDialog('admin.users.delete_confirm', { vars: { email: r.email }, okKey: 'admin.action.delete', danger: true }))) return;
      try {
        await api.del(`/api/v1/users/${encodeURIComponent(r.id)}`);
        done('admin.users.deleted', { email: r.email });
      } catch (err) {
        toast(err.message, 'error');
      }
      load();
    }

    await load();
    return () => clearTimeout(timer);
  },
};
