// SPDX-License-Identifier: Apache-2.0
// Data explorer results: the chart (core/chart.js timeChart, one series per
// numeric column x series of the answer) and the table (one per statement x
// series, sortable, paged). Built from toTables()/toChart() of query.js; all
// server values go into text nodes.
import { h, clear, ellipsis } from '../../core/dom.js';
import { toChart, sortRows } from './query.js';

/* rows shown at most over all tables (the rest: export CSV) and per page */
export const MAX_ROWS = 10000;
const PAGE_ROWS = 100;
/* series drawn at most on the chart */
const MAX_SERIES = 24;

function cellText(v, col, fmt) {
  if (v === null || v === undefined) return '';
  if (col === 'time' && typeof v === 'number') return fmt.dateTime(v) + '.' + String(((v % 1000) + 1000) % 1000).padStart(3, '0');
  if (typeof v === 'number') return String(v);
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

function oneTable(tb, rows, ctx) {
  const { t, fmt } = ctx;
  let sort = { ci: -1, desc: false };
  let page = 0;
  const wrap = h('div.ex-table-wrap');
  const pager = h('div.ex-pager');
  const box = h('section.ex-series', { 'aria-label': tb.name },
    h('h3.ex-series-head', null,
      t('explorer.table.statement', { n: tb.statement + 1 }), ' · ',
      ellipsis('span.ex-series-name', tb.name),
      Object.keys(tb.tags).sort().map((k) => h('span.ex-tag', { title: `${k}=${tb.tags[k]}` }, `${k}=${tb.tags[k]}`)),
      h('span.ex-muted', null, ' · ', t('explorer.table.rows', { n: fmt.int(rows.length) }))),
    wrap, pager);
  function draw() {
    const sorted = sort.ci < 0 ? rows : sortRows(rows, sort.ci, sort.desc);
    const pages = Math.max(1, Math.ceil(sorted.length / PAGE_ROWS));
    page = Math.min(page, pages - 1);
    const slice = sorted.slice(page * PAGE_ROWS, (page + 1) * PAGE_ROWS);
    const head = h('tr', null, tb.columns.map((c, ci) => {
      const on = sort.ci === ci;
      return h('th', { scope: 'col', 'aria-sort': on ? (sort.desc ? 'descending' : 'ascending') : 'none' },
        h('button.ex-sort', { type: 'button', title: c,
          onClick: () => { sort = { ci, desc: on ? !sort.desc : false }; page = 0; draw(); } },
        c, on ? (sort.desc ? ' ▼' : ' ▲') : ''));
    }));
    const body = slice.map((r) => h('tr', null, tb.columns.map((c, ci) => {
      const s = cellText(r[ci], c, fmt);
      return h(typeof r[ci] === 'number' && c !== 'time' ? 'td.num' : 'td', { title: s.length > 40 ? s : null }, s);
    })));
    clear(wrap).append(h('table.ex-table', null, h('thead', null, head), h('tbody', null, body)));
    clear(pager);
    if (pages > 1) {
      pager.append(
        h('button.btn', { type: 'button', disabled: page === 0, onClick: () => { page--; draw(); } }, t('explorer.table.prev')),
        h('span', { 'aria-live': 'polite' }, t('explorer.table.page', { page: page + 1, pages })),
        h('button.btn', { type: 'button', disabled: page >= pages - 1, onClick: () => { page++; draw(); } }, t('explorer.table.next')));
    }
  }
  draw();
  return box;
}

/**
 * Draw the tables into el; returns the number of rows shown. At most
 * MAX_ROWS rows in all (a note says so when the answer had more).
 */
export function drawTables(el, tables, ctx) {
  clear(el);
  let left = MAX_ROWS;
  let total = 0;
  for (const tb of tables) {
    total += tb.rows.length;
    if (left <= 0) continue;
    const rows = tb.rows.slice(0, left);
    left -= rows.length;
    el.append(oneTable(tb, rows, ctx));
  }
  if (total > MAX_ROWS) {
    el.prepend(h('p.ex-note', { role: 'note' }, ctx.t('explorer.table.truncated', { n: ctx.fmt.int(MAX_ROWS), total: ctx.fmt.int(total) })));
  }
  return Math.min(total, MAX_ROWS);
}

/**
 * Draw the chart of tables into el with timeChart; returns the chart object
 * (destroy it before the next one) or null when nothing is chartable.
 * range: {from_ms, to_ms} or null; onZoom(from_ms, to_ms).
 */
export function drawChart(el, tables, timeChart, { range, onZoom, title, t }) {
  const cd = toChart(tables);
  clear(el);
  if (cd.series.length === 0 || cd.ts.length === 0) {
    el.append(h('p.ex-muted.ex-nochart', null, t('explorer.chart.none')));
    el.setAttribute('data-ready', '');
    return null;
  }
  const series = cd.series.slice(0, MAX_SERIES);
  const chartEl = h('div.ex-chart-plot', { 'data-testid': 'explorer-chart' });
  el.append(chartEl);
  if (cd.series.length > MAX_SERIES) {
    el.append(h('p.ex-note', { role: 'note' }, t('explorer.chart.tooMany', { n: MAX_SERIES, total: cd.series.length })));
  }
  const c = timeChart(chartEl, { series: series.map((s) => ({ label: s.label })), height: 280,
    range, onZoom, title });
  c.setData(cd.ts, series.map((s) => s.values));
  return c;
}
