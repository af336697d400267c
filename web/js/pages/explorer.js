// SPDX-License-Identifier: Apache-2.0
// Data explorer page (#/explorer): build an InfluxQL query from menus (or
// write one), see a chart and a table of the answer, zoom, export CSV. The
// view lives in the URL hash (#/explorer?db=..&m=..&f=.. or ?q=..) so it can
// be bookmarked; the last one is also kept in sessionStorage. Query building
// is in explorer/query.js (pure), the panels in explorer/builder.js and
// explorer/results.js.
import { h, clear, uid } from '../core/dom.js';
import * as ui from '../core/ui.js';
import { builderPanel } from './explorer/builder.js';
import { drawTables, drawChart } from './explorer/results.js';
import {
  QUICK, buildQuery, stateToParams, paramsToState, resolveRange, toTables, resultError,
  csvFileName, measurementOf,
} from './explorer/query.js';

const LAST_KEY = 'loom.explorer.last';
const RUN_DELAY_MS = 300;
/* a query or an export may run longer than api.js's default 30 s */
const QUERY_TIMEOUT_MS = 300000;

/* The view of the URL, else the last one of this tab, else a fresh one (fresh: true). */
function initialState() {
  const hash = location.hash;
  const qi = hash.indexOf('?');
  if (qi >= 0 && hash.length > qi + 1) return { st: paramsToState(hash.slice(qi + 1)), fresh: false };
  try {
    const last = sessionStorage.getItem(LAST_KEY);
    if (last) return { st: paramsToState(last), fresh: false };
  } catch (e) { /* storage disabled */ }
  return { st: paramsToState(''), fresh: true };
}

/* A time range picker: ui.timeRangePicker when the shell has it, else quick ranges only. */
function rangePicker(ctx, st, onChange) {
  const value = { ...resolveRange(st.range, Date.now()), quick: st.range.quick || null };
  if (typeof ui.timeRangePicker === 'function') {
    return ui.timeRangePicker({ value, onChange: (v) => onChange(v && v.quick ? { quick: v.quick } : { from_ms: v.from_ms, to_ms: v.to_ms }) });
  }
  const id = uid('ex-r');
  const sel = h('select', { id, onChange: (e) => onChange({ quick: e.target.value }) },
    QUICK.map((q) => h('option', { value: q, selected: q === st.range.quick }, q)));
  return h('div.ex-field', null, h('label', { for: id }, ctx.t('explorer.range')), sel);
}

function download(text, name) {
  const url = URL.createObjectURL(new Blob([text], { type: 'text/csv;charset=utf-8' }));
  const a = h('a', { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function errorText(ctx, e) {
  if (e && e.status === 403) return ctx.t('explorer.error.forbidden') + (e.message ? ` (${e.message})` : '');
  if (e && e.status === 0) return ctx.t('explorer.error.network');
  return (e && e.message) || String(e);
}

async function render(root, params, ctx) {
  const { t, api, fmt } = ctx;
  const { st, fresh } = initialState();
  let chart = null;
  let timer = 0;
  let ctl = null;
  let alive = true;
  let timeChart = null;
  let lastRange = null; // {from_ms, to_ms} of the last run (for the export's file name)

  const queryPre = h('code', { 'data-testid': 'explorer-generated' });
  const rawId = uid('ex-q');
  const rawArea = h('textarea.ex-raw', { id: rawId, rows: 5, spellcheck: 'false', autocomplete: 'off',
    'data-testid': 'explorer-raw',
    onInput: (e) => { st.q = e.target.value; saveState(); },
    onKeydown: (e) => {
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        run();
      }
    } });
  rawArea.value = st.q;
  const status = h('p.ex-status', { 'aria-live': 'polite', 'data-testid': 'explorer-status' });
  const errBox = h('div.ex-errbox');
  const chartBox = h('div.ex-chart');
  const tableBox = h('div.ex-tables', { 'data-testid': 'explorer-table' });
  const side = h('aside.ex-side');
  const rangeBox = h('div.ex-range');
  const runBtn = h('button.btn.primary', { type: 'button', onClick: () => (ctl ? cancel() : run()), 'data-testid': 'explorer-run' }, t('explorer.run'));
  const csvBtn = h('button.btn', { type: 'button', onClick: () => exportCsv(), 'data-testid': 'explorer-export' }, t('explorer.export'));
  const modeBuilder = h('button.ex-mode', { type: 'button', onClick: () => setMode('builder', true) }, t('explorer.mode.builder'));
  const modeRaw = h('button.ex-mode', { type: 'button', onClick: () => setMode('raw', true) }, t('explorer.mode.raw'));
  const editBtn = h('button.btn.ex-edit', { type: 'button', onClick: () => editAsQuery() }, t('explorer.editAsQuery'));
  const genBox = h('div.ex-generated', null,
    h('div.ex-generated-head', null, h('span.ex-muted', null, t('explorer.generated')), editBtn),
    h('pre', null, queryPre));
  const rawBox = h('div.ex-rawbox', null,
    h('label', { for: rawId }, t('explorer.raw.label')), rawArea,
    h('p.ex-muted.ex-hint', null, t('explorer.raw.hint')));
  const mainCol = h('div.ex-main', null,
    h('div.ex-toolbar', null, rangeBox, h('div.ex-actions', null, runBtn, csvBtn,
      typeof ui.copyButton === 'function' ? ui.copyButton(() => location.href, { label: t('explorer.copyLink') }) : null)),
    genBox, rawBox, status, errBox, chartBox, tableBox);
  clear(root).append(h('section.explorer', { 'aria-labelledby': 'ex-title' },
    h('div.ex-head', null,
      h('h1', { id: 'ex-title' }, t('explorer.title')),
      h('div.ex-modes', { role: 'group', 'aria-label': t('explorer.mode.label') }, modeBuilder, modeRaw)),
    h('div.ex-body', null, side, mainCol)));

  const builder = builderPanel(ctx, st, () => {
    saveState();
    showGenerated();
    schedule();
  });
  side.append(builder.el);

  function ready() {
    root.setAttribute('data-ready', '');
  }

  function saveState() {
    const p = stateToParams(st);
    try {
      sessionStorage.setItem(LAST_KEY, p);
    } catch (e) { /* not kept: fine */ }
    const want = '#/explorer' + (p ? '?' + p : '');
    if (alive && location.hash.split('?')[0] === '#/explorer' && location.hash !== want) {
      history.replaceState(null, '', want);
    }
  }

  function drawRange() {
    clear(rangeBox).append(rangePicker(ctx, st, (r) => {
      st.range = r;
      saveState();
      showGenerated();
      if (st.mode === 'builder') schedule();
    }));
  }

  function width() {
    return Math.max(300, chartBox.clientWidth || mainCol.clientWidth || 1000);
  }

  function currentQuery(opts) {
    return st.mode === 'raw' ? st.q.trim() : buildQuery(st, { widthPx: width(), ...(opts || {}) });
  }

  function showGenerated() {
    queryPre.textContent = st.mode === 'builder' ? buildQuery(st, { widthPx: width() }) : '';
    editBtn.disabled = !queryPre.textContent;
  }

  /* byUser: a click (focus the query box; the builder's query runs again) */
  function setMode(m, byUser) {
    const changed = st.mode !== m;
    st.mode = m;
    modeBuilder.setAttribute('aria-pressed', String(m === 'builder'));
    modeRaw.setAttribute('aria-pressed', String(m === 'raw'));
    side.hidden = m !== 'builder';
    genBox.hidden = m !== 'builder';
    rawBox.hidden = m !== 'raw';
    rangeBox.hidden = m === 'raw'; // a raw query carries its own time condition
    mainCol.classList.toggle('ex-wide', m === 'raw');
    saveState();
    showGenerated();
    if (byUser && m === 'raw') rawArea.focus();
    if (byUser && changed && m === 'builder') schedule();
  }

  function editAsQuery() {
    st.q = buildQuery(st, { widthPx: width() });
    rawArea.value = st.q;
    setMode('raw', true);
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(run, RUN_DELAY_MS);
  }

  function clearResults() {
    if (chart) chart.destroy();
    chart = null;
    clear(chartBox);
    clear(tableBox);
    clear(errBox);
  }

  function showEmpty(key) {
    clearResults();
    status.textContent = '';
    chartBox.append(h('div.ex-empty', { 'data-testid': 'explorer-empty' }, t(key)));
  }

  async function run() {
    clearTimeout(timer);
    const q = currentQuery();
    if (!q) {
      showEmpty(st.mode === 'raw' ? 'explorer.empty.noQuery' : 'explorer.empty.pickFields');
      ready();
      return;
    }
    if (ctl) ctl.abort();
    const mine = new AbortController();
    ctl = mine;
    status.textContent = t('explorer.running');
    root.removeAttribute('data-ready');
    clear(errBox);
    runBtn.textContent = t('explorer.cancel');
    const t0 = performance.now();
    let json;
    try {
      json = await api.get('/query', { q, db: st.db, epoch: 'ms' }, { signal: mine.signal, timeoutMs: QUERY_TIMEOUT_MS });
    } catch (e) {
      if (mine.signal.aborted || !alive) return;
      ctl = null;
      runBtn.textContent = t('explorer.run');
      clearResults();
      status.textContent = '';
      errBox.append(h('p.ex-error', { role: 'alert', 'data-testid': 'explorer-error' }, errorText(ctx, e)));
      ready();
      return;
    }
    if (mine !== ctl || !alive) return;
    ctl = null;
    runBtn.textContent = t('explorer.run');
    const ms = performance.now() - t0;
    clearResults();
    const err = resultError(json);
    if (err) errBox.append(h('p.ex-error', { role: 'alert', 'data-testid': 'explorer-error' }, err));
    const tables = toTables(json);
    if (tables.length === 0) {
      status.textContent = t('explorer.status.none', { ms: fmt.duration(ms) });
      if (!err) chartBox.append(h('div.ex-empty', { 'data-testid': 'explorer-empty' }, t('explorer.empty.noData')));
      ready();
      return;
    }
    const rows = tables.reduce((n, x) => n + x.rows.length, 0);
    status.textContent = t('explorer.status.rows', { rows: fmt.int(rows), series: fmt.int(tables.length), ms: fmt.duration(ms) });
    const r = st.mode === 'builder' ? resolveRange(st.range, Date.now()) : null;
    lastRange = r || dataRange(tables);
    if (timeChart) {
      chart = drawChart(chartBox, tables, timeChart, { range: r, t, title: t('explorer.chart.title'),
        onZoom: st.mode === 'builder' ? onZoom : null });
    }
    drawTables(tableBox, tables, ctx);
    ready();
  }

  /* stop waiting for the running query (the server finishes it on its own) */
  function cancel() {
    if (ctl) ctl.abort();
    ctl = null;
    runBtn.textContent = t('explorer.run');
    status.textContent = t('explorer.cancelled');
    ready();
  }

  function dataRange(tables) {
    let lo = Infinity;
    let hi = -Infinity;
    for (const tb of tables) {
      const ti = tb.columns.indexOf('time');
      if (ti < 0) continue;
      for (const row of tb.rows) {
        if (typeof row[ti] !== 'number') continue;
        lo = Math.min(lo, row[ti]);
        hi = Math.max(hi, row[ti]);
      }
    }
    return lo <= hi ? { from_ms: lo, to_ms: hi } : null;
  }

  function onZoom(from, to) {
    st.range = { from_ms: from, to_ms: to };
    saveState();
    drawRange();
    showGenerated();
    clearTimeout(timer);
    timer = setTimeout(run, RUN_DELAY_MS);
  }

  async function exportCsv() {
    const q = currentQuery({ noLimit: true });
    if (!q) {
      ctx.toast(t('explorer.empty.pickFields'), 'error');
      return;
    }
    csvBtn.disabled = true;
    try {
      const text = await api.text('/query', { q, db: st.db }, { accept: 'application/csv', timeoutMs: QUERY_TIMEOUT_MS });
      const r = st.mode === 'builder' ? resolveRange(st.range, Date.now()) : (lastRange || { from_ms: Date.now(), to_ms: Date.now() });
      const m = st.mode === 'builder' ? st.measurement : measurementOf(q);
      download(text, csvFileName(m, r.from_ms, r.to_ms));
      ctx.toast(t('explorer.exported'), 'success');
    } catch (e) {
      errBox.append(h('p.ex-error', { role: 'alert', 'data-testid': 'explorer-error' }, errorText(ctx, e)));
    }
    csvBtn.disabled = false;
  }

  drawRange();
  setMode(st.mode);
  const loading = h('p.ex-muted', null, t('explorer.loading'));
  chartBox.append(loading);
  try {
    timeChart = (await import('../core/chart.js')).timeChart;
  } catch (e) {
    console.error('explorer: chart.js failed to load', e); // eslint-disable-line no-console
  }
  let state = 'ok';
  try {
    state = await builder.load({ autoPick: fresh });
  } catch (e) {
    if (!alive) return cleanup;
    builder.draw();
    clearResults();
    errBox.append(h('p.ex-error', { role: 'alert', 'data-testid': 'explorer-error' }, errorText(ctx, e)));
    ready();
    return cleanup;
  }
  if (!alive) return cleanup;
  saveState();
  showGenerated();
  if (st.mode === 'raw') {
    if (st.q.trim()) await run();
    else showEmpty('explorer.empty.noQuery');
  } else if (state === 'noDatabases') showEmpty('explorer.empty.noDatabases');
  else if (state === 'noMeasurements') showEmpty('explorer.empty.noMeasurements');
  else await run();
  ready();

  function cleanup() {
    alive = false;
    clearTimeout(timer);
    if (ctl) ctl.abort();
    if (chart) chart.destroy();
    chart = null;
  }
  return cleanup;
}

export default {
  route: '/explorer',
  nav: 'explorer',
  title: 'explorer.title',
  roles: ['platform_admin', 'tenant_admin', 'engineer', 'operator', 'viewer'],
  render,
};
