// SPDX-License-Identifier: Apache-2.0
// Data explorer: pure functions, no DOM. InfluxQL quoting and building from
// the builder's state, the auto interval, the state <-> URL round trip, and
// turning /query JSON results into chart columns and table rows. Unit-tested
// in node by tests/browser/explorer_query.test.mjs.

export const AGGS = ['mean', 'min', 'max', 'sum', 'count', 'first', 'last', 'none'];
export const FILLS = ['none', 'null', 'previous', '0'];
export const QUICK = ['15m', '1h', '6h', '24h', '7d', '30d', '90d'];
export const INTERVALS = ['auto', '1s', '10s', '1m', '5m', '15m', '1h', '6h', '1d'];
/* rows a raw (non-aggregated) builder query asks for, per series */
export const RAW_LIMIT = 10000;

const UNIT_MS = { ms: 1, s: 1000, m: 60000, h: 3600000, d: 86400000, w: 604800000 };

/** Double-quoted InfluxQL identifier: backslash, double quote and newline escaped. */
export function quoteIdent(name) {
  return '"' + String(name).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') + '"';
}

/** Single-quoted InfluxQL string literal: backslash, single quote and newline escaped. */
export function quoteString(s) {
  return "'" + String(s).replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n') + "'";
}

/** Duration text ("15m", "1d", "500ms") -> milliseconds, or NaN when not one. */
export function durationMs(text) {
  const m = /^(\d+)(ms|s|m|h|d|w)$/.exec(String(text || ''));
  return m ? Number(m[1]) * UNIT_MS[m[2]] : NaN;
}

/** Milliseconds -> the shortest exact InfluxQL duration literal ("90s" -> "90s", 3600000 -> "1h"). */
export function formatDuration(ms) {
  ms = Math.max(1, Math.round(ms));
  for (const u of ['w', 'd', 'h', 'm', 's']) {
    if (ms % UNIT_MS[u] === 0) return ms / UNIT_MS[u] + u;
  }
  return ms + 'ms';
}

const NICE = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 10e3, 15e3, 30e3, 60e3, 120e3,
  300e3, 600e3, 900e3, 1800e3, 3600e3, 7200e3, 10800e3, 21600e3, 43200e3, 86400e3, 172800e3,
  604800e3];

/**
 * Auto interval: about one bucket per pixel, ceil(range / width) rounded up to
 * a "nice" step so bucket edges fall on round times. Returns milliseconds.
 */
export function autoIntervalMs(rangeMs, widthPx) {
  const w = Math.max(1, Math.floor(widthPx || 1000));
  const raw = Math.max(1, Math.ceil(rangeMs / w));
  for (const n of NICE) if (n >= raw) return n;
  return Math.ceil(raw / 86400e3) * 86400e3;
}

/** Resolve a range {quick} or {from_ms, to_ms} to absolute [from_ms, to_ms] at now_ms. */
export function resolveRange(range, nowMs) {
  if (range && range.quick) {
    const d = durationMs(range.quick);
    if (d > 0) return { from_ms: nowMs - d, to_ms: nowMs };
  }
  if (range && Number.isFinite(range.from_ms) && Number.isFinite(range.to_ms)) {
    return { from_ms: range.from_ms, to_ms: range.to_ms };
  }
  return { from_ms: nowMs - 3600e3, to_ms: nowMs };
}

function timeCond(range) {
  if (range && range.quick && durationMs(range.quick) > 0) return `time > now() - ${range.quick}`;
  const r = resolveRange(range, Date.now());
  return `time >= ${quoteString(new Date(r.from_ms).toISOString())} AND ` +
    `time <= ${quoteString(new Date(r.to_ms).toISOString())}`;
}

/** A fresh builder state. */
export function defaultState() {
  return {
    mode: 'builder', db: '', measurement: '', fields: [], tags: {}, groupBy: [],
    range: { quick: '1h' }, agg: 'mean', interval: 'auto', fill: 'none', q: '',
  };
}

/**
 * InfluxQL for a builder state, or '' when the state lacks a measurement or
 * fields. opts.widthPx sizes the auto interval; opts.noLimit drops the raw
 * LIMIT (CSV export); opts.nowMs fixes "now" for absolute ranges in tests.
 * Aggregates are aliased to the field's name so columns read as fields. The
 * default fill is none: a chart at screen resolution over sparser data would
 * otherwise be all gaps (chart.js breaks lines over real gaps itself).
 */
export function buildQuery(st, opts = {}) {
  if (!st || !st.measurement || !st.fields || st.fields.length === 0) return '';
  const agg = AGGS.includes(st.agg) ? st.agg : 'mean';
  const sel = st.fields.map((f) =>
    agg === 'none' ? quoteIdent(f) : `${agg}(${quoteIdent(f)}) AS ${quoteIdent(f)}`);
  let q = `SELECT ${sel.join(', ')} FROM ${quoteIdent(st.measurement)} WHERE ${timeCond(st.range)}`;
  const keys = Object.keys(st.tags || {}).sort();
  for (const k of keys) {
    const vals = st.tags[k] || [];
    if (vals.length === 0) continue;
    const ors = vals.map((v) => `${quoteIdent(k)} = ${quoteString(v)}`);
    q += ' AND ' + (ors.length === 1 ? ors[0] : `(${ors.join(' OR ')})`);
  }
  const groups = (st.groupBy || []).map(quoteIdent);
  if (agg !== 'none') {
    let iv = st.interval;
    if (!iv || iv === 'auto' || !(durationMs(iv) > 0)) {
      const r = resolveRange(st.range, opts.nowMs ?? Date.now());
      iv = formatDuration(autoIntervalMs(r.to_ms - r.from_ms, opts.widthPx));
    }
    groups.unshift(`time(${iv})`);
  }
  if (groups.length) q += ' GROUP BY ' + groups.join(', ');
  if (agg !== 'none') q += ` fill(${FILLS.includes(st.fill) ? st.fill : 'none'})`;
  if (agg === 'none' && !opts.noLimit) q += ` LIMIT ${RAW_LIMIT}`;
  return q;
}

/* ---- state <-> URL ---------------------------------------------------- */

/** Encode a state as URL search params (the part after '?' in #/explorer?...). */
export function stateToParams(st) {
  const p = new URLSearchParams();
  if (st.db) p.set('db', st.db);
  if (st.mode === 'raw') {
    p.set('q', st.q || '');
  } else {
    if (st.measurement) p.set('m', st.measurement);
    for (const f of st.fields || []) p.append('f', f);
    for (const k of Object.keys(st.tags || {}).sort()) {
      for (const v of st.tags[k]) p.append('w', k + '=' + v);
    }
    for (const g of st.groupBy || []) p.append('g', g);
    if (st.agg && st.agg !== 'mean') p.set('agg', st.agg);
    if (st.interval && st.interval !== 'auto') p.set('i', st.interval);
    if (st.fill && st.fill !== 'none') p.set('fill', st.fill);
  }
  if (st.range && st.range.quick) p.set('r', st.range.quick);
  else if (st.range) p.set('r', `${st.range.from_ms}_${st.range.to_ms}`); // '_': not %-encoded
  return p.toString();
}

/** Decode search params (string or URLSearchParams) into a full state; unknown values fall back. */
export function paramsToState(params) {
  const p = typeof params === 'string' ? new URLSearchParams(params) : params;
  const st = defaultState();
  st.db = p.get('db') || '';
  if (p.has('q')) {
    st.mode = 'raw';
    st.q = p.get('q');
  }
  st.measurement = p.get('m') || '';
  st.fields = p.getAll('f').filter(Boolean);
  for (const w of p.getAll('w')) {
    const i = w.indexOf('=');
    if (i <= 0) continue;
    const k = w.slice(0, i);
    (st.tags[k] = st.tags[k] || []).push(w.slice(i + 1));
  }
  st.groupBy = p.getAll('g').filter(Boolean);
  if (AGGS.includes(p.get('agg'))) st.agg = p.get('agg');
  if (durationMs(p.get('i')) > 0) st.interval = p.get('i');
  if (FILLS.includes(p.get('fill'))) st.fill = p.get('fill');
  const r = p.get('r') || '';
  const abs = /^(-?\d+)[_~](-?\d+)$/.exec(r);
  if (abs && Number(abs[1]) < Number(abs[2])) st.range = { from_ms: Number(abs[1]), to_ms: Number(abs[2]) };
  else if (durationMs(r) > 0) st.range = { quick: r };
  return st;
}

/* ---- results ---------------------------------------------------------- */

function tagText(tags) {
  const ks = Object.keys(tags || {}).sort();
  return ks.length ? ' {' + ks.map((k) => `${k}=${tags[k]}`).join(', ') + '}' : '';
}

/** The first error message in a /query JSON answer, or ''. */
export function resultError(json) {
  if (!json) return '';
  if (json.error) return String(json.error);
  for (const r of json.results || []) if (r.error) return String(r.error);
  return '';
}

/**
 * Flatten a /query answer (epoch=ms) into a list of tables, one per
 * statement x series: {statement, name, tags, columns, rows}. Count of rows
 * is the total over all series.
 */
export function toTables(json) {
  const out = [];
  for (const r of (json && json.results) || []) {
    for (const s of r.series || []) {
      out.push({ statement: r.statement_id ?? 0, name: s.name || '', tags: s.tags || {},
        columns: s.columns || [], rows: s.values || [] });
    }
  }
  return out;
}

/**
 * Chart data from the tables: x = sorted union of the time column (ms), one
 * series per numeric column x table, labelled "column {tag=v}" (prefixed by
 * the measurement when several are present). Values missing at an x are null.
 * Tables without a numeric time column (SHOW ...) give no series.
 */
export function toChart(tables) {
  const cols = [];
  const names = new Set(tables.map((t) => t.name));
  for (const t of tables) {
    const ti = t.columns.indexOf('time');
    if (ti < 0 || t.rows.length === 0 || typeof t.rows[0][ti] !== 'number') continue;
    t.columns.forEach((c, ci) => {
      if (ci === ti) return;
      const numeric = t.rows.some((row) => typeof row[ci] === 'number') &&
        t.rows.every((row) => row[ci] === null || typeof row[ci] === 'number');
      if (!numeric) return;
      const prefix = names.size > 1 ? t.name + '.' : '';
      cols.push({ label: prefix + c + tagText(t.tags), t, ti, ci });
    });
  }
  const xs = new Set();
  for (const c of cols) for (const row of c.t.rows) xs.add(row[c.ti]);
  const ts = [...xs].sort((a, b) => a - b);
  const pos = new Map(ts.map((x, i) => [x, i]));
  const series = cols.map((c) => {
    const vals = new Array(ts.length).fill(null);
    for (const row of c.t.rows) vals[pos.get(row[c.ti])] = row[c.ci];
    return { label: c.label, values: vals };
  });
  return { ts, series };
}

/** Sort rows by column index (numbers numerically, null last, others as text). */
export function sortRows(rows, ci, desc) {
  const dir = desc ? -1 : 1;
  return [...rows].sort((a, b) => {
    const x = a[ci], y = b[ci];
    if (x === y) return 0;
    if (x === null || x === undefined) return 1;
    if (y === null || y === undefined) return -1;
    if (typeof x === 'number' && typeof y === 'number') return (x - y) * dir;
    return String(x).localeCompare(String(y)) * dir;
  });
}

/** File name for an export: <measurement>-<from>-<to>.csv with compact UTC times. */
export function csvFileName(measurement, fromMs, toMs) {
  const ts = (ms) => new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const m = String(measurement || 'query').replace(/[^\p{L}\p{N}_.-]+/gu, '_').slice(0, 80) || 'query';
  return `${m}-${ts(fromMs)}-${ts(toMs)}.csv`;
}

/** Measurement named by the first FROM of a raw query (for the export's file name), or ''. */
export function measurementOf(q) {
  const seg = '(?:"(?:[^"\\\\]|\\\\.)*"|[A-Za-z_][\\w]*)';
  const m = new RegExp(`\\bFROM\\s+(${seg}(?:\\.${seg}?)*)`, 'i').exec(String(q || ''));
  if (!m) return '';
  const parts = [];
  const re = new RegExp(seg, 'g');
  for (const p of m[1].matchAll(re)) parts.push(p[0]);
  const last = parts[parts.length - 1] || '';
  return last.startsWith('"') ? last.slice(1, -1).replace(/\\(.)/g, '$1') : last;
}
