// SPDX-License-Identifier: Apache-2.0
// Data explorer builder panel: database, measurement, fields, tag filters
// (multi-select values, loaded when a tag is opened), group by, aggregation,
// interval and fill. It edits the page's state object in place and calls
// onChange() after each edit; the schema comes from SHOW statements.
import { h, clear, uid, ellipsis } from '../../core/dom.js';
import { AGGS, FILLS, INTERVALS, quoteIdent } from './query.js';

const NUMERIC = new Set(['float', 'integer', 'unsigned']);
/* aggregations that also take string and boolean fields */
const ANY_TYPE_AGGS = new Set(['none', 'count', 'first', 'last']);
/* databases looked at, at most, for a first visit's measurement */
const AUTO_DBS = 20;
/* tag values listed at most per key, and the count from which a filter box is shown */
const TAG_VALUES_MAX = 1000;
const FILTER_FROM = 12;

/** Run a SHOW statement; resolves with the answer's tables or throws an Error with the server's message. */
async function show(api, q, db) {
  const json = await api.get('/query', { q, db, epoch: 'ms' });
  for (const r of (json && json.results) || []) if (r.error) throw Object.assign(new Error(r.error), { status: 400 });
  return ((json && json.results && json.results[0] && json.results[0].series) || []);
}

function firstColumn(series) {
  const out = [];
  for (const s of series) for (const v of s.values || []) out.push(v[0]);
  return out;
}

function labelled(text, input) {
  const id = input.id || uid('ex');
  input.id = id;
  return h('div.ex-field', null, h('label', { for: id }, text), input);
}

function select(options, value, onChange, attrs) {
  const el = h('select', { ...(attrs || {}), onChange: (e) => onChange(e.target.value) },
    options.map(([v, label]) => h('option', { value: v, selected: v === value }, label)));
  el.value = value;
  return el;
}

/**
 * builderPanel(ctx, st, onChange) -> {el, load({autoPick}), draw()}.
 * load() (re)reads databases, measurements and the chosen measurement's
 * fields and tags; resolves with 'ok', 'noDatabases' or 'noMeasurements' (or
 * rejects with the server's error). autoPick (a first visit) chooses a
 * database with data, its first measurement and numeric field. st is edited
 * in place.
 */
export function builderPanel(ctx, st, onChange) {
  const { t, api } = ctx;
  const el = h('form.ex-builder', { 'aria-label': t('explorer.builder.title'), onSubmit: (e) => e.preventDefault() });
  let dbs = [];
  let measurements = [];
  let fields = []; // [name, type]
  let tagKeys = [];
  const tagValues = new Map(); // key -> values[] (loaded)

  function changed() {
    onChange();
  }

  async function loadSchema() {
    fields = [];
    tagKeys = [];
    tagValues.clear();
    if (!st.measurement) return;
    const from = ` FROM ${quoteIdent(st.measurement)}`;
    const [fk, tk] = await Promise.all([show(api, 'SHOW FIELD KEYS' + from, st.db), show(api, 'SHOW TAG KEYS' + from, st.db)]);
    for (const s of fk) for (const v of s.values || []) fields.push([v[0], v[1]]);
    tagKeys = firstColumn(tk);
    /* keys named by the URL are dropped when the measurement does not have them */
    const names = new Set(fields.map((f) => f[0]));
    st.fields = st.fields.filter((f) => names.has(f));
    for (const k of Object.keys(st.tags)) if (!tagKeys.includes(k)) delete st.tags[k];
    st.groupBy = st.groupBy.filter((g) => tagKeys.includes(g));
    await Promise.all(Object.keys(st.tags).map((k) => loadValues(k)));
  }

  async function loadValues(key) {
    if (tagValues.has(key)) return tagValues.get(key);
    const s = await show(api, `SHOW TAG VALUES FROM ${quoteIdent(st.measurement)} WITH KEY = ${quoteIdent(key)} LIMIT ${TAG_VALUES_MAX}`, st.db);
    const vals = [];
    for (const x of s) for (const v of x.values || []) vals.push(v[1]);
    tagValues.set(key, vals);
    return vals;
  }

  async function loadMeasurements() {
    measurements = firstColumn(await show(api, 'SHOW MEASUREMENTS', st.db));
    if (st.measurement && !measurements.includes(st.measurement)) st.measurement = '';
    await loadSchema();
  }

  async function load({ autoPick = false } = {}) {
    dbs = firstColumn(await show(api, 'SHOW DATABASES', ''));
    if (dbs.length === 0) {
      draw();
      return 'noDatabases';
    }
    if (!dbs.includes(st.db)) st.db = (ctx.me && dbs.includes(ctx.me.db)) ? ctx.me.db : dbs[0];
    await loadMeasurements();
    if (autoPick) {
      /* a first visit opens on data: the first database (own first) with measurements, its
       * first measurement and first numeric field */
      const order = [st.db, ...dbs.filter((d) => d !== st.db)].slice(0, AUTO_DBS);
      for (const d of order) {
        if (d !== st.db) {
          st.db = d;
          await loadMeasurements();
        }
        if (measurements.length) break;
      }
      if (!measurements.length) st.db = order[0];
      if (measurements.length) {
        st.measurement = measurements[0];
        await loadSchema();
        const f = fields.find(([, type]) => NUMERIC.has(type));
        if (f) st.fields = [f[0]];
      }
    }
    draw();
    return measurements.length ? 'ok' : 'noMeasurements';
  }

  function fieldAllowed(type) {
    return NUMERIC.has(type) || ANY_TYPE_AGGS.has(st.agg);
  }

  function tagBox(key) {
    const chosen = new Set(st.tags[key] || []);
    const list = h('div.ex-values');
    const details = h('details.ex-tag-key', { open: chosen.size > 0 || null },
      h('summary', null, ellipsis('span', key), chosen.size ? h('span.ex-count', null, ` (${chosen.size})`) : null),
      list);
    const gid = uid('ex-g');
    const groupBox = h('div.ex-check', null,
      h('input', { type: 'checkbox', id: gid, checked: st.groupBy.includes(key),
        onChange: (e) => {
          st.groupBy = e.target.checked ? [...st.groupBy, key] : st.groupBy.filter((g) => g !== key);
          changed();
        } }),
      h('label', { for: gid }, t('explorer.builder.groupByTag', { tag: key })));
    async function fill() {
      clear(list).append(h('p.ex-muted', null, t('explorer.builder.loadingValues')));
      try {
        const vals = await loadValues(key);
        clear(list).append(groupBox);
        if (vals.length === 0) list.append(h('p.ex-muted', null, t('explorer.builder.noValues')));
        const rows = [];
        if (vals.length >= FILTER_FROM) {
          const fid = uid('ex-vf');
          list.append(h('div.ex-field.ex-vfilter', null,
            h('label', { for: fid }, t('explorer.builder.filterValues')),
            h('input', { id: fid, type: 'search', autocomplete: 'off', onInput: (e) => {
              const needle = e.target.value.toLowerCase();
              for (const [v, row] of rows) row.hidden = !!needle && !String(v).toLowerCase().includes(needle);
            } })));
        }
        if (vals.length >= TAG_VALUES_MAX) list.append(h('p.ex-note', null, t('explorer.builder.manyValues', { n: TAG_VALUES_MAX })));
        for (const v of vals) {
          const id = uid('ex-v');
          const row = list.appendChild(h('div.ex-check', null,
            h('input', { type: 'checkbox', id, checked: chosen.has(v),
              onChange: (e) => {
                if (e.target.checked) chosen.add(v);
                else chosen.delete(v);
                if (chosen.size) st.tags[key] = vals.filter((x) => chosen.has(x));
                else delete st.tags[key];
                const c = details.querySelector('.ex-count');
                if (c) c.textContent = chosen.size ? ` (${chosen.size})` : '';
                else if (chosen.size) details.querySelector('summary').append(h('span.ex-count', null, ` (${chosen.size})`));
                changed();
              } }),
            ellipsis('label', v, { for: id })));
          rows.push([v, row]);
        }
      } catch (e) {
        clear(list).append(h('p.ex-error', { role: 'alert' }, e.message));
      }
    }
    details.addEventListener('toggle', () => { if (details.open && !list.firstChild) fill(); });
    if (details.open) fill();
    return details;
  }

  function draw() {
    clear(el);
    el.append(labelled(t('explorer.builder.database'),
      select(dbs.map((d) => [d, d]), st.db, async (v) => {
        st.db = v;
        st.measurement = '';
        st.fields = [];
        st.tags = {};
        st.groupBy = [];
        await reloadWith(loadMeasurements);
      }, { 'data-testid': 'explorer-db' })));
    el.append(labelled(t('explorer.builder.measurement'),
      select([['', t('explorer.builder.choose')], ...measurements.map((m) => [m, m])], st.measurement, async (v) => {
        st.measurement = v;
        st.fields = [];
        st.tags = {};
        st.groupBy = [];
        await reloadWith(loadSchema);
      }, { 'data-testid': 'explorer-measurement' })));
    if (!st.measurement) return;

    const fs = h('fieldset.ex-fields', null, h('legend', null, t('explorer.builder.fields')));
    if (fields.length === 0) fs.append(h('p.ex-muted', null, t('explorer.empty.noFields')));
    for (const [name, type] of fields) {
      const id = uid('ex-f');
      const ok = fieldAllowed(type);
      fs.append(h('div.ex-check', { title: ok ? null : t('explorer.builder.notNumeric') },
        h('input', { type: 'checkbox', id, disabled: !ok, checked: st.fields.includes(name),
          onChange: (e) => {
            st.fields = e.target.checked ? [...st.fields, name] : st.fields.filter((f) => f !== name);
            changed();
          } }),
        ellipsis('label', name, { for: id }), h('span.ex-type', null, type)));
    }
    el.append(fs);

    const ts = h('fieldset.ex-tags', null, h('legend', null, t('explorer.builder.tags')));
    if (tagKeys.length === 0) ts.append(h('p.ex-muted', null, t('explorer.builder.noTags')));
    for (const k of tagKeys) ts.append(tagBox(k));
    el.append(ts);

    el.append(labelled(t('explorer.builder.aggregation'),
      select(AGGS.map((a) => [a, t('explorer.agg.' + a)]), st.agg, (v) => {
        st.agg = v;
        const types = new Map(fields);
        st.fields = st.fields.filter((f) => fieldAllowed(types.get(f)));
        draw();
        changed();
      })));
    if (st.agg !== 'none') {
      el.append(labelled(t('explorer.builder.interval'),
        select([...INTERVALS, ...(INTERVALS.includes(st.interval) ? [] : [st.interval])].map((i) => [i, i === 'auto' ? t('explorer.interval.auto') : i]), st.interval, (v) => {
          st.interval = v;
          changed();
        })));
      el.append(labelled(t('explorer.builder.fill'),
        select(FILLS.map((f) => [f, t('explorer.fill.' + (f === '0' ? 'zero' : f))]), st.fill, (v) => {
          st.fill = v;
          changed();
        })));
    }
  }

  async function reloadWith(fn) {
    el.setAttribute('aria-busy', 'true');
    try {
      await fn();
    } catch (e) {
      ctx.toast(e.message, 'error');
    }
    el.removeAttribute('aria-busy');
    draw();
    changed();
  }

  return { el, load, hasMeasurements: () => measurements.length > 0, draw };
}
