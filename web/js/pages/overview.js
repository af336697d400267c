// SPDX-License-Identifier: Apache-2.0
// #/overview: the plant at a glance from one call, GET /api/v1/console/overview (devices by
// state, ingest rate, storage, busiest and silent devices, recent audit events), polled every
// 5 s while the page is shown. The ingest sparkline (last 10 min) is built here from those
// polls. Platform admins see the whole platform or pick one tenant (?tenant=<id> in the hash).
// Also exports sparkline() and History, which the system page uses for its live charts.

import { h, clear, icon } from '../core/dom.js';
import * as ui from '../core/ui.js';
import { has } from '../core/i18n.js';

const POLL_MS = 5000;
const SPARK_WINDOW_MS = 10 * 60 * 1000;

/** A rolling client-side history of sampled values: push(ts, [v...]) keeps windowMs. */
export class History {
  constructor(n, windowMs) {
    this.windowMs = windowMs;
    this.ts = [];
    this.cols = Array.from({ length: n }, () => []);
  }

  push(tsMs, vals) {
    this.ts.push(tsMs / 1000);
    this.cols.forEach((c, i) => c.push(vals[i] === undefined || !Number.isFinite(vals[i]) ? null : vals[i]));
    const cut = (tsMs - this.windowMs) / 1000;
    while (this.ts.length && this.ts[0] < cut) {
      this.ts.shift();
      this.cols.forEach((c) => c.shift());
    }
  }

  data() {
    return [this.ts, ...this.cols];
  }
}

/**
 * histories: the pages' sampled histories, kept across re-renders (a language switch, a
 * visit to another page) for the life of the page load, by key. keep(key, make) returns the
 * stored object or stores make().
 */
const histories = new Map();
export function keep(key, make) {
  if (!histories.has(key)) histories.set(key, make());
  return histories.get(key);
}

/**
 * sparkline(el, {series: [{label, color}], height, fmt(v) -> text, windowS}) ->
 * {set(data), destroy()}. A small uPlot line chart (time axis, one y axis) that resizes
 * with el; the x axis always spans the last windowS seconds (default 600). data is uPlot's
 * [[ts s...], [v...], ...]. Without uPlot (script not loaded) it draws nothing.
 */
export function sparkline(el, { series, height = 90, fmt, windowS = 600 } = {}) {
  const U = window.uPlot;
  el.classList.add('spark');
  if (!U) return { set() {}, destroy() {} };
  const colors = ['#0f6cbd', '#c25e00', '#23803a', '#8a3ffc'];
  const opts = {
    width: Math.max(120, el.clientWidth || 300),
    height,
    legend: { show: series.length > 1 },
    cursor: { drag: { x: false, y: false }, points: { size: 5 } },
    scales: {
      x: { time: true, range: (u, min, max) => {
        const end = Number.isFinite(max) ? max : Date.now() / 1000;
        return [end - windowS, end];
      } },
      y: { range: (u, min, max) => [0, max > 0 ? max * 1.15 : 1] },
    },
    axes: [
      { size: 24, font: '11px system-ui, sans-serif', grid: { show: false }, ticks: { size: 3 } },
      { size: 44, font: '11px system-ui, sans-serif', grid: { stroke: '#eef1f4' }, ticks: { size: 3 },
        values: (u, vals) => vals.map((v) => (fmt ? fmt(v) : String(v))) },
    ],
    series: [{}, ...series.map((s, i) => ({
      label: s.label, stroke: s.color || colors[i % colors.length], width: 1.5,
      fill: series.length === 1 ? 'rgba(15,108,189,0.08)' : undefined,
      points: { show: false }, value: (u, v) => (v === null || v === undefined ? '—' : fmt ? fmt(v) : String(v)),
    }))],
  };
  let u = new U(opts, [[], ...series.map(() => [])], el);
  const ro = typeof ResizeObserver === 'function' ? new ResizeObserver(() => {
    if (u && el.clientWidth > 0) u.setSize({ width: el.clientWidth, height });
  }) : null;
  if (ro) ro.observe(el);
  return {
    set(data) {
      if (u) u.setData(data);
    },
    destroy() {
      if (ro) ro.disconnect();
      if (u) u.destroy();
      u = null;
    },
  };
}

function tile(label, valueEl, ...rest) {
  return h('section.ov-tile.card', null, h('h2.ov-tile-label', null, label), valueEl, ...rest);
}

function deviceLink(d) {
  return h('a', { href: `#/devices/${encodeURIComponent(d.id)}`, title: d.name, class: 'ellipsis' }, d.name);
}

const STATE_ACTIONS = { 'device.online': 'online', 'device.offline': 'offline' };

function eventOutcome(e) {
  if (STATE_ACTIONS[e.action]) return ui.badge(STATE_ACTIONS[e.action]);
  return e.outcome ? ui.badge(e.outcome) : null;
}

function eventAction(t, e) {
  const key = `overview.action.${e.action}`;
  return has(key) ? t(key) : e.action;
}

function eventTarget(e) {
  return e.device_id ? deviceLink({ id: e.device_id, name: e.target }) : e.target;
}

export default {
  route: '/overview',
  nav: 'overview',
  title: 'overview.title',
  roles: ['platform_admin', 'tenant_admin', 'engineer', 'operator', 'viewer'],
  async render(root, params, ctx) {
    const { t, fmt } = ctx;
    const isPA = ctx.me && ctx.me.role === 'platform_admin';
    let tenant = (isPA && params && params.tenant) || ''; // #/overview?tenant=<id>
    let timer = null;
    let stopped = false;
    let spark = null;
    let drawn = false;
    const hist = keep(`overview:${ctx.me && ctx.me.subject_id}:${tenant || '*'}`, () => new History(1, SPARK_WINDOW_MS));

    // static frame, filled by draw()
    const refreshBtn = h('button.btn.ov-refresh', { type: 'button', onClick: () => poll(true) }, icon('refresh'), t('core.action.refresh'));
    const tenantSel = isPA ? h('select.ov-tenant', { 'aria-label': t('overview.tenant.label') },
      h('option', { value: '' }, t('overview.tenant.all'))) : null;
    const stamp = h('span.ov-stamp.muted', { 'aria-live': 'off' });
    const staleNote = h('div.ov-stale', { role: 'status', hidden: true });
    const body = h('div.ov-body');
    root.append(ui.pageHeader(t('overview.title'), stamp, tenantSel ? ui.field({ label: t('overview.tenant.label'), input: tenantSel }) : null, refreshBtn), staleNote, body);
    if (tenantSel) {
      tenantSel.closest('.field').classList.add('ov-tenant-field');
      tenantSel.addEventListener('change', () => {
        tenant = tenantSel.value;
        ctx.navigate(tenant ? `#/overview?tenant=${encodeURIComponent(tenant)}` : '#/overview');
      });
    }
    ui.loading(body);

    // tiles
    const onlineNum = h('span.ov-big', { 'data-testid': 'ov-online' });
    const totalNum = h('span.ov-of', { 'data-testid': 'ov-total' });
    const ratioBar = h('div.ov-ratio-fill');
    const ratio = h('div.ov-ratio', { role: 'meter', 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-label': t('overview.devices.ratio') }, ratioBar);
    const devCounts = h('dl.ov-counts');
    const rateNum = h('span.ov-big', { 'data-testid': 'ov-rate' });
    const rateSub = h('p.ov-sub.muted');
    const sparkEl = h('div.ov-spark', { role: 'img', 'aria-label': t('overview.ingest.spark') });
    const storeNum = h('span.ov-big', { 'data-testid': 'ov-storage' });
    const storeSub = h('p.ov-sub.muted');
    const totalPts = h('span.ov-big', { 'data-testid': 'ov-points' });
    const totalSub = h('p.ov-sub.muted');
    const scopeNote = h('p.ov-scope.muted');
    const tiles = h('div.ov-tiles',
      tile(t('overview.devices.title'), h('p.ov-value', null, onlineNum, totalNum), ratio, devCounts),
      tile(t('overview.ingest.title'), h('p.ov-value', null, rateNum), rateSub, sparkEl),
      tile(t('overview.storage.title'), h('p.ov-value', null, storeNum), storeSub),
      tile(t('overview.points.title'), h('p.ov-value', null, totalPts), totalSub));
    const busyTable = ui.table({
      empty: 'overview.busiest.empty',
      rowKey: 'id',
      columns: [
        { key: 'name', label: t('overview.col.device'), render: deviceLink },
        { key: 'points_per_min', label: t('overview.col.rate'), num: true, render: (d) => fmt.num(d.points_per_min, 1) },
      ],
      rows: [],
    });
    const silentTable = ui.table({
      empty: 'overview.silent.empty',
      rowKey: 'id',
      columns: [
        { key: 'name', label: t('overview.col.device'), render: deviceLink },
        { key: 'online', label: t('overview.col.state'), render: (d) => ui.badge(d.online ? 'online' : 'offline') },
        { key: 'last_activity_ms', label: t('overview.col.last'), render: (d) => ui.relTime(d.last_activity_ms) },
      ],
      rows: [],
    });
    const eventsTable = ui.table({
      empty: 'overview.events.empty',
      rowKey: 'key',
      columns: [
        { key: 'time_ms', label: t('overview.col.time'), render: (e) => ui.relTime(e.time_ms) },
        { key: 'action', label: t('overview.col.action'), render: (e) => eventAction(t, e) },
        { key: 'target', label: t('overview.col.target'), render: eventTarget },
        { key: 'actor', label: t('overview.col.actor') },
        { key: 'outcome', label: t('overview.col.outcome'), render: eventOutcome },
      ],
      rows: [],
    });
    const eventsHidden = h('p.muted', { hidden: true }, t('overview.events.hidden'));
    const emptyCard = h('section.card.ov-empty', { hidden: true, 'data-testid': 'ov-empty' },
      h('h2', null, t('overview.empty.title')),
      h('p', null, t('overview.empty.text')),
      h('p', null, h('a.btn.primary', { href: '#/devices' }, t('overview.empty.action')), ' ',
        h('span.muted', null, t('overview.empty.guide'))));
    const lists = h('div.ov-lists',
      h('section.card.ov-list', { 'aria-labelledby': 'ov-busiest-h' }, h('h2', { id: 'ov-busiest-h' }, t('overview.busiest.title')), h('p.muted.ov-hint', null, t('overview.busiest.hint')), busyTable),
      h('section.card.ov-list', { 'aria-labelledby': 'ov-silent-h' }, h('h2', { id: 'ov-silent-h' }, t('overview.silent.title')), h('p.muted.ov-hint', null, t('overview.silent.hint')), silentTable));
    const events = h('section.card.ov-events', { 'aria-labelledby': 'ov-events-h' }, h('h2', { id: 'ov-events-h' }, t('overview.events.title')), eventsHidden, eventsTable);

    function draw(o) {
      const d = o.devices || {};
      const total = d.total || 0;
      onlineNum.textContent = fmt.int(d.online);
      totalNum.textContent = ` / ${fmt.int(total)}`;
      totalNum.setAttribute('aria-label', t('overview.devices.of_total', { n: fmt.int(total) }));
      const pct = total ? (100 * (d.online || 0)) / total : 0;
      ratioBar.style.width = `${pct.toFixed(1)}%`;
      ratio.setAttribute('aria-valuenow', pct.toFixed(0));
      ratio.title = t('overview.devices.ratio_value', { pct: fmt.pct(total ? (d.online || 0) / total : 0) });
      clear(devCounts).append(
        h('div', null, h('dt', null, ui.badge('online')), h('dd', { 'data-testid': 'ov-count-online' }, fmt.int(d.online))),
        h('div', null, h('dt', null, ui.badge('offline')), h('dd', { 'data-testid': 'ov-count-offline' }, fmt.int(d.offline))),
        h('div', null, h('dt', null, t('overview.devices.never')), h('dd', { 'data-testid': 'ov-count-never' }, fmt.int(d.never))));
      const ing = o.ingest || {};
      rateNum.textContent = fmt.rate(ing.points_per_s_10s, t('overview.unit.per_s'));
      rateSub.textContent = t('overview.ingest.avg_1m', { v: fmt.rate(ing.points_per_s_1m, t('overview.unit.per_s')) });
      const st = o.storage || {};
      storeNum.textContent = fmt.bytes(st.bytes);
      storeSub.textContent = t(!st.bytes && ing.points_total ? 'overview.storage.in_memory' : 'overview.storage.series', { n: fmt.int(st.series) });
      totalPts.textContent = fmt.int(ing.points_total);
      totalSub.textContent = t('overview.points.since_start');
      scopeNote.textContent = o.scope === 'platform' ? t('overview.scope.platform') : t('overview.scope.tenant');
      busyTable.setRows(o.busiest || []);
      silentTable.setRows(o.silent || []);
      eventsHidden.hidden = o.events_allowed !== false;
      eventsTable.setRows((o.events || []).map((e) => ({ ...e, key: e.seq ? `a${e.seq}` : `s${e.time_ms}-${e.device_id}-${e.action}` })));
      emptyCard.hidden = total > 0;
      hist.push(Date.now(), [ing.points_per_s_10s]);
      if (spark) spark.set(hist.data());
      stamp.textContent = t('overview.updated', { time: fmt.time(Date.now()) });
    }

    function firstDraw(o) {
      clear(body).append(emptyCard, tiles, scopeNote, lists, events);
      spark = sparkline(sparkEl, { series: [{ label: t('overview.ingest.title') }], height: 80, fmt: (v) => fmt.num(v) });
      drawn = true;
    }

    async function poll(manual) {
      if (stopped) return;
      clearTimeout(timer);
      try {
        const o = await ctx.api.get('/api/v1/console/overview', tenant ? { tenant } : null);
        if (stopped) return;
        if (!drawn) firstDraw(o);
        draw(o);
        staleNote.hidden = true;
        ui.ready(root);
      } catch (err) {
        if (stopped) return;
        if (!drawn || err.status === 403 || err.status === 404) {
          drawn = false;
          ui.errorState(body, err, () => {
            ui.loading(body);
            poll(true);
          });
          ui.ready(root);
          if (err.status === 403 || err.status === 404) return; // polling will not help
        } else {
          const m = ui.errorMessage(err);
          staleNote.textContent = `${t('overview.stale')} ${m.title}`;
          staleNote.hidden = false;
        }
        if (manual) ctx.toast(ui.errorMessage(err).title, 'error');
      }
      if (!stopped) timer = setTimeout(() => poll(false), POLL_MS);
    }

    // platform admins: fill the tenant picker after the first data (never blocks it)
    async function loadTenants() {
      try {
        const page = await ctx.api.get('/api/v1/tenants', { pageSize: 1000, sortProperty: 'name' });
        if (stopped) return;
        for (const tn of (page && page.data) || []) tenantSel.append(h('option', { value: tn.id }, tn.name));
        tenantSel.value = tenant;
      } catch (e) { /* the picker stays with "all tenants" */ }
    }

    await poll(false);
    if (tenantSel) loadTenants();
    return () => {
      stopped = true;
      clearTimeout(timer);
      if (spark) spark.destroy();
    };
  },
};
