// SPDX-License-Identifier: Apache-2.0
// Device page, "Latest values" tab: one tile per telemetry key with its unit, the profile's
// normal range (a value outside it is highlighted) and the time of the value. Filled from
// GET /api/v1/devices/{id}/telemetry/latest, then updated live from live.js telemetry.
import { h, clear, ellipsis } from '../../core/dom.js';
import * as ui from '../../core/ui.js';
import { nameCmp } from './common.js';

/** outOfRange(v, meta): true when v is a number outside meta's min/max (either may be null). */
export function outOfRange(v, meta) {
  if (typeof v !== 'number' || !meta) return false;
  return (meta.min !== null && meta.min !== undefined && v < meta.min) ||
    (meta.max !== null && meta.max !== undefined && v > meta.max);
}

/** Order keys: the profile's keys first (in their order), then the others by name. */
export function orderKeys(keys, keyMeta) {
  const prof = [...keyMeta.keys()];
  const rank = new Map(prof.map((k, i) => [k, i]));
  return keys.slice().sort((a, b) => (rank.has(a) ? rank.get(a) : 1e9) - (rank.has(b) ? rank.get(b) : 1e9) ||
    nameCmp(a, b));
}

export function renderLatest(panel, dctx) {
  const { api, t, fmt, dev, keyMeta, live, pageRoot } = dctx;
  let disposed = false;
  const tiles = new Map(); // key -> {el, value, range, time, ts}
  const grid = h('div.tiles', { role: 'list', 'aria-label': t('devices.latest.title') });
  const body = h('div.latest', { dataset: { testid: 'latest' } });
  panel.append(body);

  function rangeText(meta) {
    if (!meta || (meta.min == null && meta.max == null)) return '';
    const u = meta.unit ? ` ${meta.unit}` : '';
    return t('devices.latest.range', { min: meta.min == null ? '−∞' : fmt.num(meta.min),
      max: meta.max == null ? '∞' : fmt.num(meta.max), unit: u });
  }

  function setTile(key, ts, v, flash) {
    const meta = keyMeta.get(key);
    let tile = tiles.get(key);
    if (!tile) {
      tile = {
        value: h('span.tile-value'),
        alarm: h('span.tile-alarm-text'),
        time: h('span.tile-time'),
      };
      tile.el = h('div.tile', { role: 'listitem', dataset: { key, testid: 'latest-tile' } },
        ellipsis('span.tile-key', key),
        tile.value,
        h('span.tile-range', null, rangeText(meta)),
        tile.alarm,
        tile.time);
      tiles.set(key, tile);
      const order = orderKeys([...tiles.keys()], keyMeta);
      const i = order.indexOf(key);
      const next = order[i + 1] && tiles.get(order[i + 1]);
      grid.insertBefore(tile.el, next ? next.el : null);
    }
    if (tile.ts && ts < tile.ts) return;
    tile.ts = ts;
    tile.value.textContent = fmt.value(v, meta && meta.unit);
    const bad = outOfRange(v, meta);
    tile.el.classList.toggle('tile-out', bad);
    tile.alarm.textContent = bad ? t('devices.latest.outOfRange') : '';
    tile.time.replaceChildren(ui.relTime(ts));
    if (flash) {
      tile.el.classList.remove('tile-flash');
      void tile.el.offsetWidth; // restart the animation
      tile.el.classList.add('tile-flash');
    }
  }

  function draw(latest) {
    clear(body);
    const keys = Object.keys(latest || {});
    body.append(h('h2.sr-only', null, t('devices.latest.title')), grid);
    for (const k of orderKeys(keys, keyMeta)) {
      const p = latest[k] && latest[k][0];
      if (p) setTile(k, p.ts, p.value, false);
    }
    if (!keys.length) {
      body.append(h('p.state.state-empty.latest-empty', null, t('devices.latest.empty')));
    }
  }

  async function load() {
    ui.loading(body);
    try {
      const latest = await api.get(`/api/v1/devices/${encodeURIComponent(dev.id)}/telemetry/latest`);
      if (disposed) return;
      body.removeAttribute('aria-busy');
      draw(latest);
    } catch (err) {
      if (disposed) return;
      ui.errorState(body, err, load);
    }
    ui.ready(body);
    ui.ready(pageRoot);
  }

  const unsub = live.subscribe({ type: 'telemetry', device_id: dev.id }, (m) => {
    if (disposed || !m.values || !body.contains(grid)) return;
    const empty = body.querySelector('.latest-empty');
    if (empty) empty.remove();
    for (const [k, v] of Object.entries(m.values)) setTile(k, m.ts, v, true);
  });
  // after a reconnect, reload what the outage missed
  let wasDown = false;
  const unStatus = live.onStatus ? live.onStatus((st) => {
    if (st === 'retrying') wasDown = true;
    else if (st === 'open' && wasDown) {
      wasDown = false;
      api.get(`/api/v1/devices/${encodeURIComponent(dev.id)}/telemetry/latest`).then((latest) => {
        if (disposed || !body.contains(grid)) return;
        for (const [k, pts] of Object.entries(latest || {})) {
          if (!pts || !pts[0]) continue;
          const empty = body.querySelector('.latest-empty');
          if (empty) empty.remove();
          setTile(k, pts[0].ts, pts[0].value, false);
        }
      }, () => {});
    }
  }) : null;
  // relative times age while the page is open
  const tick = setInterval(() => {
    for (const tile of tiles.values()) if (tile.ts) tile.time.replaceChildren(ui.relTime(tile.ts));
  }, 10000);
  load();
  return () => {
    disposed = true;
    unsub();
    if (unStatus) unStatus();
    clearInterval(tick);
  };
}
