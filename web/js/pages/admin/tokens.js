// SPDX-License-Identifier: Apache-2.0
// API tokens tab (everyone, their own tokens): list with scope, created, expiry, last use
// and state; create (name, scope no wider than the caller's, expiry) showing the secret
// once with a copy button and a "shown only now" warning; revoke after a confirmation.

import { h, clear } from '../../core/dom.js';
import { t } from '../../core/i18n.js';
import { table, confirmDialog, dialog, copyButton, toast } from '../../core/ui.js';
import { SCOPES, stateBadge, when, formDialog, input, select, actions, smallBtn, done, pager, listRows } from './common.js';

const DAY = 864e5;
const EXPIRY = { never: 0, '30d': 30 * DAY, '90d': 90 * DAY, '365d': 365 * DAY };
const PAGE_SIZE = 50;

function state(tok, now) {
  if (tok.revoked_ms) return 'revoked';
  if (tok.expires_ms && tok.expires_ms <= now) return 'expired';
  return 'active';
}

/** The dialog that shows a new token's secret once. */
function showSecret(tok) {
  const box = h('input.admin-secret', { type: 'text', readonly: true, value: tok.token, 'data-testid': 'token-secret',
    'aria-label': t('admin.tokens.secret') });
  const body = h('div.admin-secret-box', null,
    h('p.admin-warning', { role: 'alert', 'data-testid': 'token-secret-warning' }, t('admin.tokens.shown_once')),
    h('div.admin-secret-row', null, box, copyButton(tok.token, { label: t('core.action.copy') })));
  const d = dialog({ title: t('admin.tokens.created', { name: tok.name || '' }), body,
    actions: [{ label: t('admin.tokens.stored'), kind: 'primary' }] });
  box.focus();
  box.select();
  return d.result;
}

export default {
  async render(panel, params, ctx, markReady) {
    const { api, me } = ctx;
    let page = 0;
    const myScope = SCOPES.indexOf(me && me.scope);
    const scopes = SCOPES.filter((s, i) => myScope < 0 || i <= myScope);
    const body = h('div.admin-body');
    const createBtn = h('button.btn.primary', { type: 'button', 'data-testid': 'token-create', onClick: create },
      t('admin.tokens.create'));
    panel.append(h('div.admin-toolbar', null, h('p.muted', null, t('admin.tokens.intro')), createBtn), body);

    async function load() {
      const res = await listRows(body, {
        fetch: () => api.get('/api/v1/tokens', { kind: 'api', page, pageSize: PAGE_SIZE, sortProperty: 'createdTime', sortOrder: 'DESC' }),
        retry: load, empty: page === 0, emptyKey: 'admin.tokens.empty', markReady,
      });
      if (!res) return;
      const rows = res.data || [];
      const now = Date.now();
      body.append(table({
        caption: t('admin.tab.tokens'),
        rowKey: 'id',
        columns: [
          { key: 'name', label: t('admin.tokens.name'), sort: true, render: (r) => r.name || t('admin.tokens.unnamed') },
          { key: 'scope', label: t('admin.tokens.scope'), sort: true, render: (r) => t(`admin.scope.${r.scope}`) },
          { key: 'created_ms', label: t('admin.col.created'), sort: true, render: (r) => when(r.created_ms) },
          { key: 'expires_ms', label: t('admin.tokens.expires'), sort: true, render: (r) => (r.expires_ms ? when(r.expires_ms) : t('admin.tokens.never')) },
          { key: 'last_used_ms', label: t('admin.tokens.last_used'), sort: true, render: (r) => (r.last_used_ms ? when(r.last_used_ms) : t('admin.tokens.not_used')) },
          { key: 'state', label: t('admin.col.state'), render: (r) => stateBadge(state(r, now)) },
          { key: 'actions', label: t('admin.col.actions'), render: (r) => (state(r, now) === 'active'
            ? actions(smallBtn('admin.tokens.revoke', () => revoke(r), { danger: true, name: r.name || r.id, testid: 'token-revoke' })) : null) },
        ],
        rows,
      }), pager({ page, hasNext: res.hasNext, totalPages: res.totalPages, onPage: (p) => { page = p; load(); } }));
      markReady();
    }

    async function create() {
      const name = input({ autocomplete: 'off', maxlength: 255 });
      const scope = select(scopes.map((s) => [s, t(`admin.scope.${s}`)]), scopes.includes('read') ? 'read' : scopes[0]);
      const expiry = select(Object.keys(EXPIRY).map((k) => [k, t(`admin.tokens.expiry.${k}`)]), '90d');
      const tok = await formDialog({
        title: t('admin.tokens.create'),
        testid: 'token-form',
        submitKey: 'admin.tokens.create',
        fields: [
          { name: 'name', label: t('admin.tokens.name'), input: name, required: true },
          { name: 'scope', label: t('admin.tokens.scope'), input: scope, hint: t('admin.tokens.scope_hint') },
          { name: 'expires_ms', label: t('admin.tokens.expires'), input: expiry },
        ],
        onSubmit: (v) => {
          const b = { name: v.name, scope: v.scope };
          if (EXPIRY[v.expires_ms]) b.expires_ms = Date.now() + EXPIRY[v.expires_ms];
          return api.post('/api/v1/tokens', b);
        },
      });
      if (!tok || tok === true) return;
      await showSecret(tok);
      done('admin.tokens.created_toast', { name: tok.name || '' });
      page = 0;
      load();
    }

    async function revoke(r) {
      if (!(await confirmDialog('admin.tokens.revoke_confirm', { vars: { name: r.name || r.id }, okKey: 'admin.tokens.revoke', danger: true }))) return;
      try {
        await api.del(`/api/v1/tokens/${encodeURIComponent(r.id)}`);
        done('admin.tokens.revoked', { name: r.name || r.id });
      } catch (err) {
        toast(err.message, 'error');
      }
      load();
    }

    await load();
    return null;
  },
};
