// SPDX-License-Identifier: Apache-2.0
// Device page, "Charts" tab: one chart per numeric key (the first 10, then "show all"), all on
// one time range. History comes in ONE request per refresh for every shown key (keys=a,b,c,
// at most 32 per request), aggregated on the server at about one bucket per pixel
// (interval = ceil(range / width)), so 90 days of 1 Hz data costs a few hundred points per
// chart. Zooming one chart zooms all and refetches at the finer resolution; while the range
// ends at now and nobody zoomed, live telemetry is appended. The range is kept in the URL:
// ?range=<15m|1h|6h|24h|7d|30d|90d> or ?from=<ms>&to=<ms>.
import { h, clear } from '../../core/dom.js';
import * as ui from '../../core/ui.js';
import { timeChart, bucketMs } from '../../core/chart.js';
import { orderKeys } from './latest.js';

const DEFAULT_CHARTS = 10;
const KEYS_PER_REQUEST = 32; // the telemetry API answers at most 32 keys
const AGGS = ['AVG', 'MIN', 'MAX'];

/** numericKeys(latest, keyMeta): keys whose latest value is a number (unless the profile
 * says they are not numeric), profile keys first; then the profile's numeric keys that have
 * no value yet (their charts say so). */
export function numericKeys(latest, keyMeta) {
  const withData = [];
  for (const [k, pts] of Object.entries(latest || {})) {
    const m = keyMeta.get(k);
    if (m && m.type !== 'float' && m.type !== 'int') continue;
    if (pts && pts[0] && typeof pts[0].value === 'number') withData.push(k);
  }
  const has = new Set(withData);
  const without = [...keyMeta].filter(([k, m]) => (m.type === 'float' || m.type === 'int') && !has.has(k)).map(([k]) => k);
  return [...orderKeys(withData, keyMeta), ...without];
}

/** toColumns(points): [{ts, value}] (any order) -> [ts[], vals[]] ascending, numbers or null. */
export function toColumns(points) {
  const p = (points || []).slice().sort((a, b) => a.ts - b.ts);
  return [p.map((x) => x.ts), p.map((x) => (typeof x.value === 'number' ? x.value : null))];
}

/** rangeFromParams({range, from, to}): ?range=<quick key> or ?from=<ms>&to=<ms>, else 1 h. */
export function rangeFromParams(params) {
  if (params.range && ui.QUICK_RANGES[params.range]) return ui.rangeOf({ quick: params.range });
  const f = Number(params.from);
  const to = Number(params.to);
  if (params.from && params.to && Number.isFinite(f) && Number.isFinite(to) && f < to) {
    return ui.rangeOf({ quick: null, from_ms: f, to_ms: to });
  }
  return ui.rangeOf({ quick: '1h' });
}

// Keep the range in the URL (#/devices/<id>?tab=charts&range=24h), without a navigation.
function saveRange(r) {
  const [path, q = ''] = location.hash.split('?');
  const sp = new URLSearchParams(q);
  sp.delete('range');
  sp.delete('from');
  sp.delete('to');
  sp.set('tab', 'charts');
  if (r.quick) sp.set('range', r.quick);
  else {
    sp.set('from', String(Math.round(r.from_ms)));
    sp.set('to', String(Math.round(r.to_ms)));
  }
  history.replaceState(null, '', `${path}?${sp.toString()}`);
}

export function renderCharts(panel, dctx) {
  const { api, t, dev, keyMeta, live, pageRoot } = dctx;
  let disposed = false;
  let range = rangeFromParams(dctx.params || {}); // {from_ms, to_ms, quick}
  let view = { from_ms: range.from_ms, to_ms: range.to_ms }; // zoomed view
  let zoomed = false;
  let agg = 'AVG';
  let keys = [];
  let shown = [];
  const charts = new Map(); // key -> chart
  let seq = 0;
  let zoomTimer = 0;
  let unsub = null;

  const body = h('div.charts', { dataset: { testid: 'charts' } });
  panel.append(body);

  const picker = ui.timeRangePicker({
    value: range,
    onChange: (r) => {
      range = r;
      saveRange(r);
      view = { from_ms: r.from_ms, to_ms: r.to_ms };
      zoomed = false;
      for (const c of charts.values()) c.setRange(r);
      follow();
      fetchData();
    },
  });
  const aggSel = h('select', { dataset: { testid: 'chart-agg' } },
    AGGS.map((a) => h('option', { value: a }, t(`devices.charts.agg.${a}`))));
  aggSel.addEventListener('change', () => {
    agg = aggSel.value;
    fetchData();
  });
  const liveEl = h('span.live-flag', { 'aria-live': 'polite', dataset: { testid: 'chart-live' } });
  const moreBtn = h('button.btn', { type: 'button', hidden: true });
  moreBtn.addEventListener('click', () => {
    shown = keys.slice();
    moreBtn.hidden = true;
    drawCharts();
    fetchData();
  });
  const grid = h('div.chart-grid');

  function isLive() {
    return !!range.quick && !zoomed;
  }
  function follow() {
    const down = isLive() && live.status && live.status() === 'retrying';
    liveEl.textContent = !isLive() ? '' : down ? t('devices.charts.reconnecting') : t('devices.charts.live');
    liveEl.classList.toggle('on', isLive() && !down);
    liveEl.classList.toggle('down', down);
  }
  // after a reconnect, refetch what the outage missed
  let wasDown = false;
  const unStatus = live.onStatus ? live.onStatus((st) => {
    follow();
    if (st === 'retrying') wasDown = true;
    else if (st === 'open' && wasDown) {
      wasDown = false;
      if (shown.length && isLive()) fetchData();
    }
  }) : null;

  function drawCharts() {
    for (const k of shown) {
      if (charts.has(k)) continue;
      const meta = keyMeta.get(k);
      const host = h('div.chart-host', { dataset: { key: k, testid: 'chart' } });
      const title = meta && meta.unit ? `${k} (${meta.unit})` : k;
      grid.append(h('section.chart-card', { 'aria-label': title },
        h('h3.chart-title.ellipsis', { title }, title), host));
      const hasBand = meta && (meta.min != null || meta.max != null);
      const c = timeChart(host, {
        series: [{ label: k, unit: meta && meta.unit }],
        height: 200,
        title,
        hint: charts.size === 0,
        range: view,
        band: hasBand ? { min: meta.min ?? -1e300, max: meta.max ?? 1e300 } : null,
        onZoom: (from, to) => onZoom(k, from, to),
      });
      c.setRange(range);
      if (zoomed) c.zoom(view.from_ms, view.to_ms);
      charts.set(k, c);
    }
  }

  function onZoom(src, from, to) {
    view = { from_ms: from, to_ms: to };
    const back = charts.get(src).range();
    zoomed = back.zoomed;
    for (const [k, c] of charts) {
      if (k !== src) c.zoom(from, to);
      c.setLoading();
    }
    follow();
    clearTimeout(zoomTimer);
    zoomTimer = setTimeout(fetchData, 150);
  }

  async function fetchData() {
    const mine = ++seq;
    if (!shown.length) return;
    if (isLive()) { // a quick range ends at now: re-anchor it
      range = ui.rangeOf(range);
      view = { from_ms: range.from_ms, to_ms: range.to_ms };
      for (const c of charts.values()) c.setRange(range);
    }
    const from = view.from_ms;
    const to = view.to_ms;
    const first = charts.get(shown[0]);
    const interval = bucketMs(from, to, first ? first.width() : 600);
    for (const c of charts.values()) c.setLoading();
    const groups = [];
    for (let i = 0; i < shown.length; i += KEYS_PER_REQUEST) groups.push(shown.slice(i, i + KEYS_PER_REQUEST));
    let answers;
    try {
      answers = await Promise.all(groups.map((g) => api.get(`/api/v1/devices/${encodeURIComponent(dev.id)}/telemetry`, {
        keys: g.join(','), startTs: Math.floor(from), endTs: Math.ceil(to), interval, agg,
      })));
    } catch (err) {
      if (disposed || mine !== seq) return;
      const msg = ui.errorMessage(err);
      for (const c of charts.values()) c.setError(`${msg.title}${msg.detail ? ': ' + msg.detail : ''}`);
      ui.ready(body);
      ui.ready(pageRoot);
      return;
    }
    if (disposed || mine !== seq) return;
    const all = Object.assign({}, ...answers);
    for (const k of shown) {
      const c = charts.get(k);
      const [ts, vals] = toColumns(all[k]);
      c.setError(null);
      c.setData(ts, [vals]);
    }
    ui.ready(body);
    ui.ready(pageRoot);
  }

  async function load() {
    ui.loading(body);
    let latest;
    try {
      latest = await api.get(`/api/v1/devices/${encodeURIComponent(dev.id)}/telemetry/latest`);
    } catch (err) {
      if (disposed) return;
      ui.errorState(body, err, load);
      ui.ready(body);
      ui.ready(pageRoot);
      return;
    }
    if (disposed) return;
    body.removeAttribute('aria-busy');
    clear(body);
    keys = numericKeys(latest, keyMeta);
    if (!keys.length) {
      body.append(h('p.state.state-empty', null, t('devices.charts.empty')));
      ui.ready(body);
      ui.ready(pageRoot);
      return;
    }
    shown = keys.slice(0, DEFAULT_CHARTS);
    if (keys.length > shown.length) {
      moreBtn.hidden = false;
      moreBtn.textContent = t('devices.charts.showAll', { n: keys.length });
    }
    body.append(
      h('div.chart-toolbar', null, picker, ui.field({ label: t('devices.charts.agg'), input: aggSel }), liveEl),
      grid,
      moreBtn);
    drawCharts();
    follow();
    fetchData();
    unsub = live.subscribe({ type: 'telemetry', device_id: dev.id }, (m) => {
      if (disposed || !isLive() || !m.values) return;
      for (const [k, v] of Object.entries(m.values)) {
        const c = charts.get(k);
        if (c && typeof v === 'number') c.append(m.ts, [v]);
      }
    });
  }

  load();
  return () => {
    disposed = true;
    clearTimeout(zoomTimer);
    if (unsub) unsub();
    if (unStatus) unStatus();
    for (const c of charts.values()) c.destroy();
    charts.clear();
  };
}
