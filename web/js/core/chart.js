// SPDX-License-Identifier: Apache-2.0
// Time-series charts for the console: a thin wrapper over uPlot (global `uPlot`, loaded as a
// classic script from /ui/vendor/; loaded here on first use if the page did not). One chart
// per timeChart() call; the caller fetches data (at about one bucket per pixel) and hands it
// over with setData, appends live points with append, and refetches in onZoom. Time axis in
// local time, formatted for the page's language (<html lang>); texts from i18n ("devices.chart.*").
import * as i18n from './i18n.js';

const VENDOR_JS = '/ui/vendor/uPlot.iife.min.js';
const VENDOR_CSS = '/ui/vendor/uPlot.min.css';
const PALETTE = ['#1f6feb', '#d9480f', '#2b8a3e', '#9c36b5', '#c92a2a', '#0b7285', '#e67700',
  '#5c940d', '#862e9c', '#495057'];
const MIN_SPAN_MS = 1000;

let uplotPromise = null;

// Resolves with the uPlot constructor, loading the vendor script and CSS once.
function loadUplot() {
  if (globalThis.uPlot) return Promise.resolve(globalThis.uPlot);
  if (uplotPromise) return uplotPromise;
  uplotPromise = new Promise((resolve, reject) => {
    if (!document.querySelector(`link[href="${VENDOR_CSS}"]`)) {
      const css = document.createElement('link');
      css.rel = 'stylesheet';
      css.href = VENDOR_CSS;
      document.head.append(css);
    }
    const s = document.createElement('script');
    s.src = VENDOR_JS;
    s.onload = () => (globalThis.uPlot ? resolve(globalThis.uPlot) : reject(new Error('uPlot missing')));
    s.onerror = () => {
      uplotPromise = null;
      reject(new Error('cannot load ' + VENDOR_JS));
    };
    document.head.append(s);
  });
  return uplotPromise;
}

function tr(key, fallback) {
  const v = typeof i18n.t === 'function' ? i18n.t(key) : null;
  return v && v !== key ? v : fallback;
}

function pageLang() {
  return document.documentElement.lang || 'en';
}

// Formatters for one language: time axis ticks by tick spacing, legend time, numbers.
function formatters(lang) {
  const f = (o) => new Intl.DateTimeFormat(lang, o);
  const hms = f({ hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
  const hm = f({ hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  const md = f({ month: 'short', day: 'numeric' });
  const ym = f({ year: 'numeric', month: 'short' });
  const y = f({ year: 'numeric' });
  const full = f({ year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit',
    minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
  const num = new Intl.NumberFormat(lang, { maximumFractionDigits: 3 });
  const numShort = new Intl.NumberFormat(lang, { maximumFractionDigits: 2, notation: 'compact' });
  return {
    // labels for ticks at ms times `splits`, `incr` ms apart; the date is added on a second
    // line where it changes, as a plant engineer reads a trend across midnight
    ticks(splits, incr) {
      const DAY = 86400000;
      let prevDay = null;
      let prevYear = null;
      return splits.map((ms) => {
        const d = new Date(ms);
        if (incr >= 365 * DAY) return y.format(d);
        if (incr >= 28 * DAY) return ym.format(d);
        if (incr >= DAY) {
          const label = md.format(d);
          const yr = d.getFullYear();
          const out = prevYear !== null && yr !== prevYear ? label + '\n' + yr : label;
          prevYear = yr;
          return out;
        }
        const day = d.toDateString();
        const time = (incr < 60000 ? hms : hm).format(d);
        const out = day !== prevDay ? time + '\n' + md.format(d) : time;
        prevDay = day;
        return out;
      });
    },
    time: (ms) => full.format(new Date(ms)),
    num: (v) => num.format(v),
    axisNum: (v) => (Math.abs(v) >= 100000 ? numShort.format(v) : num.format(v)),
  };
}

// Insert a null after every gap wider than `factor` times the median step, so lines break
// where data is missing instead of bridging it. ts ascending; returns new arrays.
function markGaps(ts, cols, factor) {
  if (ts.length < 3) return [ts, cols];
  const steps = [];
  for (let i = 1; i < ts.length; i++) steps.push(ts[i] - ts[i - 1]);
  const sorted = steps.slice().sort((a, b) => a - b);
  const limit = sorted[sorted.length >> 1] * factor;
  if (!(limit > 0)) return [ts, cols];
  let gaps = 0;
  for (const s of steps) if (s > limit) gaps++;
  if (!gaps) return [ts, cols];
  const nts = [];
  const ncols = cols.map(() => []);
  for (let i = 0; i < ts.length; i++) {
    if (i > 0 && ts[i] - ts[i - 1] > limit) {
      nts.push(ts[i - 1] + 1);
      ncols.forEach((c) => c.push(null));
    }
    nts.push(ts[i]);
    ncols.forEach((c, j) => c.push(cols[j][i] ?? null));
  }
  return [nts, ncols];
}

/**
 * Align several series, each `[ts[], vals[]]` (ms, ascending), onto one time axis:
 * returns `[ts[], [vals0[], vals1[], ...]]` with null where a series has no point.
 */
export function alignSeries(list) {
  const all = new Set();
  for (const [ts] of list) for (const x of ts) all.add(x);
  const ts = Array.from(all).sort((a, b) => a - b);
  const index = new Map(ts.map((x, i) => [x, i]));
  const cols = list.map(([sts, vals]) => {
    const c = new Array(ts.length).fill(null);
    sts.forEach((x, i) => { c[index.get(x)] = vals[i]; });
    return c;
  });
  return [ts, cols];
}

/**
 * Server buckets for a chart: interval (ms) = ceil(range / width px), at least 1 ms,
 * so the server never sends more than about one point per pixel.
 */
export function bucketMs(fromMs, toMs, widthPx) {
  return Math.max(1, Math.ceil((toMs - fromMs) / Math.max(50, widthPx || 600)));
}

/**
 * Create a time chart in `el` (emptied). opts:
 *   series: [{label, unit?, color?}]   one y series each
 *   height: px of the plot (default 240)
 *   band: {min, max} | null            a "normal range" drawn behind the lines
 *   range: {from_ms, to_ms} | null     the x range (else the data's extent)
 *   onZoom(from_ms, to_ms)             after a drag zoom, pan, button or reset
 *   gapFactor: break lines over gaps wider than this many median steps (default 3; 0: never)
 *   title: accessible name of the chart
 *   maxPoints: append keeps at most this many points, dropping the oldest (default 20000)
 *   hint: false hides the "drag to zoom" help text (e.g. on all but the first of many charts)
 * Returns {setData, append, setRange, zoom, setBand, setLoading, setError, range, width, destroy}.
 * `el` gets data-ready after each setData has been drawn; setLoading removes it. After each
 * redraw, el.dataset.points is the number of points drawn and el.dataset.last the newest time.
 */
export function timeChart(el, opts = {}) {
  const series = opts.series || [];
  const height = opts.height || 240;
  const gapFactor = opts.gapFactor ?? 3;
  const maxPoints = opts.maxPoints || 20000;
  const fmt = formatters(pageLang());
  let band = opts.band || null;
  let base = opts.range ? { from: opts.range.from_ms, to: opts.range.to_ms } : null; // set by caller
  let view = base ? { ...base } : null; // shown now (zoomed or panned)
  let zoomed = false;
  let data = [[], ...series.map(() => [])];
  let u = null;
  let destroyed = false;
  let readyPending = false;
  let rafId = 0;
  let ro = null;
  let panning = null;

  el.replaceChildren();
  el.removeAttribute('data-ready');
  el.classList.add('tchart');
  const label = opts.title || series.map((s) => s.label).join(', ');
  const bar = document.createElement('div');
  bar.className = 'tchart-bar';
  const plot = document.createElement('div');
  plot.className = 'tchart-plot';
  plot.setAttribute('role', 'img');
  plot.setAttribute('aria-label', label);
  const overlay = document.createElement('div');
  overlay.className = 'tchart-overlay';
  overlay.hidden = true;
  plot.append(overlay);
  el.append(bar, plot);

  function button(key, fallback, text, fn) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'tchart-btn';
    b.textContent = text;
    const name = tr(key, fallback);
    b.setAttribute('aria-label', name);
    b.title = name;
    b.addEventListener('click', fn);
    bar.append(b);
    return b;
  }
  button('devices.chart.panLeft', 'Earlier', '◀', () => shift(-0.5));
  button('devices.chart.zoomIn', 'Zoom in', '+', () => scaleBy(0.5));
  button('devices.chart.zoomOut', 'Zoom out', '−', () => scaleBy(2));
  button('devices.chart.panRight', 'Later', '▶', () => shift(0.5));
  button('devices.chart.reset', 'Reset zoom', '⟲', () => reset());
  if (opts.hint !== false) {
    const hint = document.createElement('span');
    hint.className = 'tchart-hint';
    hint.textContent = tr('devices.chart.hint', 'Drag to zoom · Shift+drag to pan · double-click to reset');
    bar.append(hint);
  }

  function showOverlay(text, kind) {
    overlay.textContent = text;
    overlay.className = 'tchart-overlay' + (kind ? ' tchart-' + kind : '');
    overlay.hidden = !text;
  }

  function width() {
    return Math.max(200, plot.clientWidth || el.clientWidth || 600);
  }

  function curView() {
    if (view) return view;
    const ts = data[0];
    if (ts.length) return { from: ts[0], to: Math.max(ts[ts.length - 1], ts[0] + MIN_SPAN_MS) };
    const now = Date.now();
    return { from: now - 3600000, to: now };
  }

  // Show [from, to] (a user action) and tell the caller, who refetches at that resolution.
  function show(from, to) {
    if (u) u.setScale('x', { min: from, max: to });
    if (opts.onZoom) {
      el.removeAttribute('data-ready');
      opts.onZoom(Math.round(from), Math.round(to));
    }
  }
  function zoomTo(from, to) {
    if (!(to - from >= MIN_SPAN_MS)) return;
    view = { from, to };
    zoomed = true;
    show(from, to);
  }
  function shift(frac) {
    const v = curView();
    const d = (v.to - v.from) * frac;
    zoomTo(v.from + d, v.to + d);
  }
  function scaleBy(k) {
    const v = curView();
    const mid = (v.from + v.to) / 2;
    const half = ((v.to - v.from) * k) / 2;
    zoomTo(mid - half, mid + half);
  }
  function reset() {
    zoomed = false;
    view = base ? { ...base } : null;
    const v = curView();
    show(v.from, v.to);
  }

  function drawBand(self) {
    if (!band || band.min == null || band.max == null) return;
    const ctx = self.ctx;
    const { left, top, width: w, height: hgt } = self.bbox;
    const y1 = Math.max(top, Math.min(top + hgt, self.valToPos(band.max, 'y', true)));
    const y2 = Math.max(top, Math.min(top + hgt, self.valToPos(band.min, 'y', true)));
    ctx.save();
    ctx.fillStyle = 'rgba(47, 158, 68, 0.08)';
    ctx.fillRect(left, y1, w, y2 - y1);
    ctx.strokeStyle = 'rgba(47, 158, 68, 0.6)';
    ctx.setLineDash([4 * devicePixelRatio, 4 * devicePixelRatio]);
    ctx.lineWidth = devicePixelRatio;
    for (const v of [band.min, band.max]) {
      const yy = self.valToPos(v, 'y', true);
      if (yy >= top && yy <= top + hgt) {
        ctx.beginPath();
        ctx.moveTo(left, yy);
        ctx.lineTo(left + w, yy);
        ctx.stroke();
      }
    }
    ctx.restore();
  }

  function uopts() {
    return {
      width: width(),
      height,
      ms: 1,
      pxAlign: false,
      cursor: {
        drag: { x: true, y: false, setScale: false },
        bind: {
          mousedown: (self, targ, handler) => (e) => {
            if (e.button !== 0) return null;
            if (e.shiftKey) startPan(e);
            else handler(e);
            return null;
          },
          dblclick: () => () => {
            reset();
            return null;
          },
        },
      },
      select: { show: true },
      legend: { live: true },
      scales: {
        x: { time: true, range: (self, min, max) => (view ? [view.from, view.to] : [min, max]) },
        y: {
          range: (self, min, max) => {
            if (min == null || max == null || !isFinite(min)) return [0, 1];
            if (min === max) {
              const d = Math.abs(min) * 0.1 || 1;
              return [min - d, max + d];
            }
            const pad = (max - min) * 0.08;
            return [min - pad, max + pad];
          },
        },
      },
      axes: [
        { values: (self, splits, ax, space, incr) => fmt.ticks(splits, incr), space: 60 },
        { values: (self, splits) => splits.map(fmt.axisNum), size: 60 },
      ],
      series: [
        { label: tr('devices.chart.time', 'Time'), value: (self, v) => (v == null ? '—' : fmt.time(v)) },
        ...series.map((s, i) => ({
          label: s.unit ? `${s.label} (${s.unit})` : s.label,
          stroke: s.color || PALETTE[i % PALETTE.length],
          width: 1.5,
          spanGaps: false,
          points: { show: false },
          value: (self, v) => (v == null ? '—' : fmt.num(v) + (s.unit ? ' ' + s.unit : '')),
        })),
      ],
      hooks: {
        drawAxes: [drawBand],
        setSelect: [
          (self) => {
            const s = self.select;
            if (s.width < 3) return;
            const from = self.posToVal(s.left, 'x');
            const to = self.posToVal(s.left + s.width, 'x');
            self.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            zoomTo(from, to);
          },
        ],
        draw: [
          () => {
            if (readyPending) {
              readyPending = false;
              el.setAttribute('data-ready', '');
            }
          },
        ],
      },
    };
  }

  function startPan(e) {
    const v = curView();
    panning = { x: e.clientX, from: v.from, to: v.to, moved: false };
    const pxWidth = u ? u.bbox.width / devicePixelRatio : width();
    const move = (ev) => {
      const dms = ((ev.clientX - panning.x) / pxWidth) * (panning.to - panning.from);
      panning.moved = true;
      view = { from: panning.from - dms, to: panning.to - dms };
      if (u) u.setScale('x', { min: view.from, max: view.to });
    };
    const up = () => {
      window.removeEventListener('mousemove', move);
      window.removeEventListener('mouseup', up);
      const p = panning;
      panning = null;
      if (p && p.moved) zoomTo(view.from, view.to);
    };
    window.addEventListener('mousemove', move);
    window.addEventListener('mouseup', up);
  }

  function redraw() {
    rafId = 0;
    if (!u || destroyed) return;
    const n = data[0].length;
    const fresh = readyPending; // the draw hook (maybe run inside setData) clears it
    u.setData(data, true);
    // for tests and the browser benchmark: how many points are drawn, and the newest time
    el.dataset.points = String(n);
    el.dataset.last = n ? String(data[0][n - 1]) : '';
    if (view) u.setScale('x', { min: view.from, max: view.to });
    if (!n) {
      if (fresh) showOverlay(tr('devices.chart.empty', 'No data in this time range'), 'empty');
    } else if (overlay.classList.contains('tchart-empty')) {
      showOverlay('', null);
    }
  }
  function schedule() {
    if (!rafId && !destroyed) rafId = requestAnimationFrame(redraw);
  }

  loadUplot().then((UPlot) => {
    if (destroyed) return;
    u = new UPlot(uopts(), data, plot);
    plot.append(overlay);
    if (typeof ResizeObserver !== 'undefined') {
      ro = new ResizeObserver(() => {
        if (u && plot.clientWidth && Math.abs(u.width - width()) > 1) u.setSize({ width: width(), height });
      });
      ro.observe(plot);
    }
    if (readyPending) redraw(); // setData came before the library: draw it now
  }, (err) => {
    showOverlay(tr('devices.chart.loadError', 'The chart library could not be loaded') + ': ' + err.message, 'error');
    el.setAttribute('data-ready', '');
  });

  return {
    /** Replace the data: ts (ms, ascending), cols = one array per series (null = no value). */
    setData(ts, cols) {
      const [gts, gcols] = gapFactor > 0 ? markGaps(ts, cols, gapFactor) : [ts, cols];
      data = [Array.from(gts), ...series.map((_, i) => Array.from(gcols[i] || []))];
      readyPending = true;
      el.removeAttribute('data-ready');
      showOverlay('', null);
      if (!data[0].length) showOverlay(tr('devices.chart.empty', 'No data in this time range'), 'empty');
      schedule();
    },
    /** Add one point (live). Unless the user zoomed or panned, the window slides to keep its
     *  width and points older than its start are dropped. */
    append(ts, vals) {
      const xs = data[0];
      if (xs.length && ts < xs[xs.length - 1]) return; // out of order: the next refetch has it
      xs.push(ts);
      series.forEach((_, i) => data[i + 1].push(vals[i] ?? null));
      if (!zoomed && view && ts > view.to) {
        const span = view.to - view.from;
        view = { from: ts - span, to: ts };
        if (base) base = { ...view };
      }
      let drop = 0;
      if (!zoomed && view) while (drop < xs.length - 1 && xs[drop] < view.from) drop++;
      drop = Math.max(drop, xs.length - maxPoints); // bounded memory without a window
      if (drop > 0) data.forEach((c) => c.splice(0, drop));
      if (overlay.classList.contains('tchart-empty')) showOverlay('', null);
      schedule();
    },
    /** Show `range` ({from_ms, to_ms}, as the time range picker gives) and make it the reset target. */
    setRange(range) {
      base = range ? { from: range.from_ms, to: range.to_ms } : null;
      view = base ? { ...base } : null;
      zoomed = false;
      if (u && view) u.setScale('x', { min: view.from, max: view.to });
    },
    /** Show [from_ms, to_ms] without calling onZoom (to follow another chart's zoom). */
    zoom(fromMs, toMs) {
      if (!(toMs - fromMs >= MIN_SPAN_MS)) return;
      view = { from: fromMs, to: toMs };
      zoomed = !(base && base.from === fromMs && base.to === toMs);
      if (u) u.setScale('x', { min: fromMs, max: toMs });
    },
    /** Draw (or with null, remove) the normal range band {min, max}. */
    setBand(b) {
      band = b || null;
      if (u) u.redraw(false);
    },
    /** Mark the chart as waiting for data (removes data-ready). */
    setLoading() {
      el.removeAttribute('data-ready');
    },
    /** Show an error over the plot (null clears it); sets data-ready (an error state is drawn). */
    setError(msg) {
      showOverlay(msg || '', msg ? 'error' : null);
      el.setAttribute('data-ready', '');
    },
    /** The x range shown now: {from_ms, to_ms, zoomed}. */
    range() {
      const v = curView();
      return { from_ms: Math.round(v.from), to_ms: Math.round(v.to), zoomed };
    },
    /** Width of the plot in CSS pixels (for bucketMs). */
    width,
    destroy() {
      destroyed = true;
      if (rafId) cancelAnimationFrame(rafId);
      if (ro) ro.disconnect();
      if (u) u.destroy();
      u = null;
      el.replaceChildren();
      el.removeAttribute('data-ready');
      el.classList.remove('tchart');
    },
  };
}
