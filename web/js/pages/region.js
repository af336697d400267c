// SPDX-License-Identifier: Apache-2.0
// #/region: what a regional platform operator may see of the enterprises (tenants) of its
// region, from GET /api/v1/regions/{region}/summary: aggregates only (tenants, devices, online
// share, tenants per industry), never a tenant's name or a device. A regional observer sees
// its own region; a platform admin picks one (regions of the tenants, or typed) and the
// choice is kept in the hash (#/region?code=CN-GD). Refreshed every 30 s.

import { h, clear, icon } from '../core/dom.js';
import * as ui from '../core/ui.js';

const POLL_MS = 30000;

/** industryRows(summary): [{industry, tenants, share}] sorted by tenants (desc), then name. */
export function industryRows(summary) {
  const ind = (summary && summary.industries) || {};
  const total = Object.values(ind).reduce((a, b) => a + (Number(b) || 0), 0);
  return Object.entries(ind)
    .map(([industry, n]) => ({ industry, tenants: Number(n) || 0, share: total ? (Number(n) || 0) / total : 0 }))
    .sort((a, b) => b.tenants - a.tenants || a.industry.localeCompare(b.industry));
}

export default {
  route: '/region',
  nav: 'region',
  title: 'region.title',
  roles: ['regional_observer', 'platform_admin'],
  async render(root, params, ctx) {
    const { t, fmt } = ctx;
    const isPA = ctx.me && ctx.me.role === 'platform_admin';
    let code = isPA ? (params && params.code) || '' : (ctx.me && ctx.me.region_code) || '';
    let stopped = false;
    let timer = null;

    const refreshBtn = h('button.btn.ov-refresh', { type: 'button', onClick: () => load(true) }, icon('refresh'), t('core.action.refresh'));
    const body = h('div.rg-body');
    let picker = null;
    if (isPA) {
      const input = h('input', { type: 'text', value: code, list: 'rg-codes', autocomplete: 'off', spellcheck: 'false', maxlength: '15', placeholder: 'CN-GD' });
      const codes = h('datalist', { id: 'rg-codes' });
      const go = h('button.btn.primary', { type: 'submit' }, t('region.pick.show'));
      picker = h('form.rg-pick', {
        onSubmit: (e) => {
          e.preventDefault();
          const v = input.value.trim();
          if (v) ctx.navigate(`#/region?code=${encodeURIComponent(v)}`);
        },
      }, ui.field({ label: t('region.pick.label'), input, hint: t('region.pick.hint') }), codes, go);
      // the regions of the tenants, for the picker's suggestions (never blocks the page)
      ctx.api.get('/api/v1/tenants', { pageSize: 1000 }).then((page) => {
        const set = new Set(((page && page.data) || []).map((x) => x.region_code).filter(Boolean));
        for (const c of [...set].sort()) codes.append(h('option', { value: c }));
      }).catch(() => {});
    }
    root.append(...[ui.pageHeader(code ? t('region.title_code', { code }) : t('region.title'), refreshBtn), picker, body].filter(Boolean));

    function draw(s) {
      const online = Number(s.online) || 0;
      const devices = Number(s.devices) || 0;
      const rows = industryRows(s);
      const tile = (label, value, testid, sub) => h('section.ov-tile.card', null, h('h2.ov-tile-label', null, label),
        h('p.ov-value', null, h('span.ov-big', { 'data-testid': testid }, value)), sub ? h('p.ov-sub.muted', null, sub) : null);
      const ratioBar = h('div.ov-ratio-fill', { style: { width: `${devices ? ((100 * online) / devices).toFixed(1) : 0}%` } });
      clear(body).append(
        h('div.ov-tiles',
          tile(t('region.tenants'), fmt.int(s.tenants), 'rg-tenants'),
          tile(t('region.devices'), fmt.int(devices), 'rg-devices'),
          h('section.ov-tile.card', null, h('h2.ov-tile-label', null, t('region.online')),
            h('p.ov-value', null, h('span.ov-big', { 'data-testid': 'rg-online' }, fmt.int(online)), h('span.ov-of', null, ` / ${fmt.int(devices)}`)),
            h('div.ov-ratio', { role: 'meter', 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': devices ? ((100 * online) / devices).toFixed(0) : '0', 'aria-label': t('region.online_ratio') }, ratioBar),
            h('p.ov-sub.muted', null, t('region.online_ratio_value', { pct: fmt.pct(devices ? online / devices : 0) })))),
        h('section.card.rg-industries', { 'aria-labelledby': 'rg-ind-h' },
          h('h2', { id: 'rg-ind-h' }, t('region.industries.title')),
          ui.table({
            empty: 'region.industries.empty',
            rowKey: 'industry',
            columns: [
              { key: 'industry', label: t('region.col.industry'), sort: true,
                render: (r) => (r.industry === 'unspecified' ? t('region.industry.unspecified') : r.industry) },
              { key: 'tenants', label: t('region.col.tenants'), num: true, sort: true, render: (r) => fmt.int(r.tenants) },
              { key: 'share', label: t('region.col.share'), num: true, sort: true, render: (r) => fmt.pct(r.share) },
            ],
            rows,
          })),
        h('p.muted.rg-note', null, t('region.note')));
    }

    async function load(manual) {
      if (stopped) return;
      clearTimeout(timer);
      if (!code) {
        ui.emptyState(body, isPA ? 'region.pick.empty' : 'region.no_region');
        ui.ready(root);
        return;
      }
      try {
        const s = await ctx.api.get(`/api/v1/regions/${encodeURIComponent(code)}/summary`);
        if (stopped) return;
        if (!s || !s.tenants) {
          ui.emptyState(body, 'region.empty');
        } else draw(s);
      } catch (err) {
        if (stopped) return;
        ui.errorState(body, err, () => {
          ui.loading(body);
          load(true);
        });
        if (manual) ctx.toast(ui.errorMessage(err).title, 'error');
      }
      ui.ready(root);
      if (!stopped) timer = setTimeout(() => load(false), POLL_MS);
    }

    ui.loading(body);
    await load(false);
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  },
};
