// SPDX-License-Identifier: Apache-2.0
// Audit log tab (platform and tenant admins): the verification status of the hash chain
// first and prominently (GET /api/v1/audit/verify: verified / broken at record N / cannot
// verify), then the records in pages by sequence number (GET /api/v1/audit, oldest first;
// a page that reaches a broken record stops before it and says so), filtered by the server
// (action or action prefix, actor, outcome, time range).

import { h, clear, ellipsis } from '../../core/dom.js';
import { t } from '../../core/i18n.js';
import { loading, errorState, table, errorMessage } from '../../core/ui.js';
import { int } from '../../core/format.js';
import { when, input, select, stateBadge } from './common.js';

const SIZES = [50, 100, 500];

function statusPanel(v) {
  const st = v.status;
  const kind = st === 'verified' ? 'ok' : st === 'broken' ? 'bad' : 'warn';
  const text = st === 'verified' ? t('admin.audit.verified', { n: int(v.last_seq || 0) })
    : st === 'broken' ? t('admin.audit.broken', { seq: int(v.broken_at) })
      : t('admin.audit.unverifiable');
  return h('div.admin-verify', { class: `admin-verify-${kind}`, role: st === 'verified' ? 'status' : 'alert',
    'data-testid': 'audit-status', dataset: { status: st } },
  h('strong.admin-verify-title', null, text),
  st === 'verified' ? h('span.muted', null, t('admin.audit.verified_detail'))
    : h('span', null, st === 'broken' ? t('admin.audit.broken_detail') : (v.reason || '')));
}

export default {
  async render(panel, params, ctx, markReady) {
    const { api, me } = ctx;
    const platform = me && me.role === 'platform_admin';
    const status = h('div.admin-verify-wrap', { 'aria-live': 'polite' });
    const body = h('div.admin-body');
    let size = 100;
    let from = 1;
    const history = [];
    let lastSeq = 0;
    let page = null;
    const names = new Map(); // tenant and user ids -> names, best effort

    let query = {}; // the server-side filters applied
    const fAction = input({ type: 'search', 'data-testid': 'audit-filter-action', list: 'admin-audit-actions' });
    const actions = h('datalist', { id: 'admin-audit-actions' }, ['login', 'user.', 'token.', 'device.', 'tenant.',
      'device_profile.', 'profile_key.', 'asset.', 'rpc.'].map((a) => h('option', { value: a })));
    const fActor = input({ type: 'search' });
    const fOutcome = select([['', t('admin.audit.any')], ['success', t('admin.state.success')], ['failure', t('admin.state.failure')], ['denied', t('admin.state.denied')]], '');
    const fFrom = input({ type: 'datetime-local' });
    const fTo = input({ type: 'datetime-local' });
    const fSize = select(SIZES.map((n) => [String(n), String(n)]), String(size));
    const lab = (el, key, hint) => {
      el.id = `admin-audit-${key}`;
      return h('div.field', null, h('label', { for: el.id }, t(`admin.audit.${key}`)), el,
        hint ? h('small.field-hint', null, t(hint)) : null);
    };
    const verifyBtn = h('button.btn', { type: 'button', onClick: verify }, t('admin.audit.verify_again'));
    const filters = h('form.admin-filters', { role: 'search', 'aria-label': t('admin.audit.filters') },
      lab(fAction, 'f_action', 'admin.audit.f_action_hint'), actions, lab(fActor, 'f_actor'), lab(fOutcome, 'f_outcome'),
      lab(fFrom, 'f_from'), lab(fTo, 'f_to'), lab(fSize, 'page_size'),
      h('div.admin-filter-actions', null,
        h('button.btn.primary', { type: 'submit', 'data-testid': 'audit-apply' }, t('admin.audit.apply')),
        h('button.btn', { type: 'button', onClick: () => { filters.reset(); fSize.value = '100'; apply(); } }, t('admin.audit.clear'))));
    /** The actor the server knows: "user:<id>" for a known e-mail, else as typed. */
    function actorParam(v) {
      if (!v) return '';
      for (const [k, n] of names) if (k.startsWith('user:') && n && n.toLowerCase() === v.toLowerCase()) return k;
      return v;
    }
    function apply() {
      const ms = (el) => (el.value ? new Date(el.value).getTime() : null);
      query = { action: fAction.value.trim(), actor: actorParam(fActor.value.trim()), outcome: fOutcome.value,
        fromMs: ms(fFrom), toMs: ms(fTo) };
      size = Number(fSize.value);
      history.length = 0;
      from = 1;
      load();
    }
    filters.addEventListener('submit', (e) => { e.preventDefault(); apply(); });
    const filtered = () => Object.values(query).some((v) => v !== '' && v !== null && v !== undefined);
    panel.append(h('div.admin-toolbar', null, status, verifyBtn), filters, body);

    async function verify() {
      clear(status);
      status.append(h('div.admin-verify.admin-verify-warn', { 'data-testid': 'audit-status', dataset: { status: 'checking' } },
        h('strong.admin-verify-title', null, t('admin.audit.checking'))));
      verifyBtn.disabled = true;
      try {
        const v = await api.get('/api/v1/audit/verify');
        lastSeq = v.last_seq || 0;
        clear(status);
        status.append(statusPanel(v));
      } catch (err) {
        clear(status);
        const m = errorMessage(err);
        status.append(h('div.admin-verify.admin-verify-warn', { role: 'alert', 'data-testid': 'audit-status', dataset: { status: 'error' } },
          h('strong.admin-verify-title', null, t('admin.audit.unverifiable')), h('span', null, `${m.title} ${m.detail || ''}`)));
      } finally {
        verifyBtn.disabled = false;
      }
    }

    async function loadNames() {
      const get = (path) => api.get(path, { pageSize: 1000 }).then((r) => r.data || []).catch(() => []);
      const [tenants, users] = await Promise.all([platform ? get('/api/v1/tenants') : [], get('/api/v1/users')]);
      for (const tn of tenants) names.set(tn.id, tn.name);
      for (const u of users) names.set(`user:${u.id}`, u.email);
    }

    /** A tenant id or actor ("user:<id>") shown by name, the raw value in the tooltip. */
    function named(v) {
      if (!v) return '—';
      const n = names.get(v);
      return h('span.ellipsis', { title: v }, n || v);
    }

    function draw() {
      if (!page) return;
      clear(body);
      const rows = page.data || [];
      const cols = [
        { key: 'seq', label: t('admin.audit.seq'), num: true, sort: true },
        { key: 'time_ms', label: t('admin.audit.time'), sort: true, render: (r) => when(r.time_ms) },
        { key: 'actor', label: t('admin.audit.actor'), render: (r) => named(r.event && r.event.actor) },
        { key: 'action', label: t('admin.audit.action'), render: (r) => h('code', null, (r.event && r.event.action) || '') },
        { key: 'target', label: t('admin.audit.target'), render: (r) => ellipsis('span', (r.event && r.event.target) || '—') },
        { key: 'outcome', label: t('admin.audit.outcome'), render: (r) => stateBadge((r.event && r.event.outcome) || 'unknown') },
        { key: 'address', label: t('admin.audit.address'), render: (r) => (r.event && r.event.address) || '—' },
        { key: 'detail', label: t('admin.audit.detail'), render: (r) => ellipsis('span', (r.event && r.event.detail) || '') },
      ];
      if (platform) cols.splice(2, 0, { key: 'tenant', label: t('admin.audit.tenant'), render: (r) => named(r.event && r.event.tenant) });
      const nav = h('nav.admin-pager', { 'aria-label': t('admin.page.label') },
        h('button.btn', { type: 'button', disabled: from <= 1, onClick: () => { history.length = 0; from = 1; load(); } }, t('admin.audit.first')),
        h('button.btn', { type: 'button', disabled: !history.length && !(platform && !filtered() && from > 1),
          onClick: () => { from = history.length ? history.pop() : Math.max(1, from - size); load(); } }, t('admin.page.prev')),
        h('span.muted', null, page.data && page.data.length
          ? t('admin.audit.range', { a: int(page.data[0].seq), b: int(page.data[page.data.length - 1].seq) })
          : page.nextSeq ? t('admin.audit.scan_more', { seq: int(page.nextSeq - 1) }) : ''),
        h('button.btn', { type: 'button', disabled: !page.nextSeq, onClick: () => { history.push(from); from = page.nextSeq; load(); } }, t('admin.page.next')),
        platform && !filtered() ? h('button.btn', { type: 'button', disabled: !lastSeq || from >= lastSeq - size + 1,
          onClick: () => { history.push(from); from = Math.max(1, lastSeq - size + 1); load(); } }, t('admin.audit.newest')) : null);
      if (page.broken_at) {
        body.append(h('p.admin-warning', { role: 'alert', 'data-testid': 'audit-page-broken' },
          t('admin.audit.page_broken', { seq: int(page.broken_at) })));
      }
      body.append(table({ caption: t('admin.tab.audit'), rowKey: 'seq', columns: cols, rows,
        empty: filtered() ? 'admin.audit.none_match' : 'admin.audit.empty' }), nav);
    }

    async function load() {
      loading(body);
      try {
        page = await api.get('/api/v1/audit', { ...query, fromSeq: from, pageSize: size });
      } catch (err) {
        page = null;
        errorState(body, err, load);
        markReady();
        return;
      }
      body.removeAttribute('aria-busy');
      draw();
      markReady();
    }

    await loadNames();
    if (platform) { // platform admins start at the newest records
      await verify();
      if (lastSeq > size) from = lastSeq - size + 1;
      await load();
    } else {
      await Promise.all([verify(), load()]);
    }
    return null;
  },
};
