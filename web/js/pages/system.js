// SPDX-License-Identifier: Apache-2.0
// #/system: the server's health (GET /health: status, version, uptime), where MQTT listens
// (GET /api/v1/console/info), and its metrics parsed from the Prometheus text of GET /metrics
// (ingest, query latency, WAL and fsync, memory, MQTT and HTTP connections, storage) as tiles,
// with live charts of ingest rate and query latency built from polls every 5 s. The server
// decides who may read /metrics (platform admins): others see a "no access" panel there.

import { h, clear, icon } from '../core/dom.js';
import * as ui from '../core/ui.js';
import { sparkline, History, keep } from './overview.js';

const POLL_MS = 5000;
const CHART_WINDOW_MS = 15 * 60 * 1000;

/**
 * parseProm(text) -> Map: Prometheus text exposition format 0.0.4 into name -> value, where
 * name keeps its label set as written ('loom_http_responses_total{class="2xx"}'). Comments,
 * blank and malformed lines are skipped; values parse as floats (+Inf, NaN included).
 */
export function parseProm(text) {
  const out = new Map();
  for (const raw of String(text || '').split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const close = line.lastIndexOf('}');
    const cut = close >= 0 ? close + 1 : line.search(/\s/);
    if (cut <= 0) continue;
    const name = line.slice(0, cut).trim();
    const rest = line.slice(cut).trim().split(/\s+/)[0];
    if (!name || rest === undefined || rest === '') continue;
    const v = rest === '+Inf' ? Infinity : rest === '-Inf' ? -Infinity : Number(rest);
    if (Number.isNaN(v) && rest !== 'NaN') continue;
    out.set(name, v);
  }
  return out;
}

/**
 * quantile(buckets, q): the q-quantile (0..1) of a cumulative histogram given as
 * [[le, count], ...] sorted by le (last le = Infinity), by linear interpolation inside the
 * bucket, as Prometheus' histogram_quantile does; null when there are no observations.
 * A quantile in the +Inf bucket returns the largest finite bound.
 */
export function quantile(buckets, q) {
  if (!buckets.length) return null;
  const total = buckets[buckets.length - 1][1];
  if (!(total > 0)) return null;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const [le, count] of buckets) {
    if (count >= rank) {
      if (le === Infinity) return prevLe;
      const inBucket = count - prevCount;
      return inBucket > 0 ? prevLe + ((le - prevLe) * (rank - prevCount)) / inBucket : le;
    }
    prevLe = le;
    prevCount = count;
  }
  return prevLe;
}

/** histogram(metrics, name): the cumulative buckets of histogram `name` as [[le, count]...]. */
export function histogram(metrics, name) {
  const re = new RegExp(`^${name}_bucket\\{le="([^"]+)"\\}$`);
  const list = [];
  for (const [k, v] of metrics) {
    const m = re.exec(k);
    if (m) list.push([m[1] === '+Inf' ? Infinity : Number(m[1]), v]);
  }
  return list.sort((a, b) => a[0] - b[0]);
}

/**
 * deltas(prev, cur, dtS): per-interval figures from two scrapes dtS seconds apart: rates of
 * counters and averages over the interval. Pure (for tests). Missing metrics give null.
 */
export function deltas(prev, cur, dtS) {
  const d = (k) => (prev && prev.has(k) && cur.has(k) && dtS > 0 ? cur.get(k) - prev.get(k) : null);
  const per = (k) => {
    const x = d(k);
    return x === null || x < 0 ? null : x / dtS;
  };
  const qn = d('loom_query_duration_seconds_count');
  const qs = d('loom_query_duration_seconds_sum');
  const fn = d('loom_wal_fsyncs_total');
  const fs = d('loom_wal_fsync_seconds_total');
  let p95 = null;
  if (prev) {
    const a = histogram(prev, 'loom_query_duration_seconds');
    const b = histogram(cur, 'loom_query_duration_seconds');
    if (a.length === b.length && b.length) p95 = quantile(b.map(([le, c], i) => [le, c - a[i][1]]), 0.95);
  }
  return {
    ingest_per_s: per('loom_ingest_points_total'),
    queries_per_s: per('loom_query_duration_seconds_count'),
    query_avg_s: qn > 0 ? qs / qn : null,
    query_p95_s: p95,
    wal_bytes_per_s: per('loom_wal_bytes_total'),
    fsync_avg_s: fn > 0 ? fs / fn : null,
    fsyncs_per_s: per('loom_wal_fsyncs_total'),
  };
}

const ms = (s) => (s === null || s === undefined ? null : s * 1000);

export default {
  route: '/system',
  nav: 'system',
  title: 'system.title',
  roles: ['platform_admin', 'tenant_admin', 'engineer'],
  async render(root, params, ctx) {
    const { t, fmt } = ctx;
    let stopped = false;
    let timer = null;
    // history and the last scrape survive re-renders (language switch, other pages)
    const kept = keep(`system:${ctx.me && ctx.me.subject_id}`, () => ({ hist: new History(3, CHART_WINDOW_MS), prev: null, prevAt: 0 }));
    const { hist } = kept;
    let charts = [];
    let metricsDenied = false;

    const refreshBtn = h('button.btn.ov-refresh', { type: 'button', onClick: () => poll(true) }, icon('refresh'), t('core.action.refresh'));
    const stamp = h('span.ov-stamp.muted');
    const healthCard = h('section.card.sys-health', { 'aria-labelledby': 'sys-health-h' });
    const metricsBox = h('div.sys-metrics');
    root.append(ui.pageHeader(t('system.title'), stamp, refreshBtn), healthCard, metricsBox);
    ui.loading(metricsBox);

    function drawHealth(health, info, err) {
      const status = health && health.status === 'pass' ? 'healthy' : 'error';
      const mqtt = info && info.mqtt ? info.mqtt : null;
      const mqttText = mqtt && mqtt.port ? `mqtt://${location.hostname}:${mqtt.port}` : t('system.mqtt.off');
      const wsText = mqtt && mqtt.ws_path ? `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${mqtt.ws_path}` : t('system.mqtt.off');
      clear(healthCard).append(
        h('h2', { id: 'sys-health-h' }, t('system.health.title')),
        h('dl.kv', null,
          h('dt', null, t('system.health.status')), h('dd', { 'data-testid': 'sys-status' }, ui.badge(status)),
          h('dt', null, t('system.health.message')), h('dd', { title: health ? health.message : '' },
            health ? health.message : ui.errorMessage(err).title),
          h('dt', null, t('system.health.version')), h('dd', { 'data-testid': 'sys-version' },
            (health && health.version) || (info && info.version) || '—'),
          h('dt', null, t('system.health.uptime')), h('dd', null, health ? fmt.duration(health.uptime_s * 1000) : '—'),
          h('dt', null, t('system.mqtt.tcp')), h('dd', null, h('code', null, mqttText)),
          h('dt', null, t('system.mqtt.ws')), h('dd', null, h('code', null, wsText))));
    }

    function tile(label, value, sub, testid) {
      return h('section.ov-tile.card.sys-tile', null, h('h3.ov-tile-label', null, label),
        h('p.ov-value', null, h('span.ov-big', { 'data-testid': testid || null }, value)), sub ? h('p.ov-sub.muted', null, sub) : null);
    }

    function drawMetrics(m, dl) {
      const g = (k) => (m.has(k) ? m.get(k) : null);
      const msTxt = (s) => (s === null ? '—' : fmt.duration(ms(s)));
      const qTotal = g('loom_query_duration_seconds_count');
      const p95All = quantile(histogram(m, 'loom_query_duration_seconds'), 0.95);
      const readonly = g('loom_storage_readonly') === 1;
      const tiles = h('div.ov-tiles.sys-tiles',
        tile(t('system.m.ingest'), fmt.rate(dl.ingest_per_s, t('overview.unit.per_s')), t('system.m.ingest_total', { n: fmt.int(g('loom_ingest_points_total')) }), 'sys-ingest'),
        tile(t('system.m.query'), msTxt(dl.query_avg_s), t('system.m.query_sub', {
          p95: msTxt(dl.query_p95_s !== null ? dl.query_p95_s : p95All), qps: fmt.num(dl.queries_per_s), n: fmt.int(qTotal),
        }), 'sys-query'),
        tile(t('system.m.wal'), fmt.rate(dl.wal_bytes_per_s === null ? null : dl.wal_bytes_per_s / 1024, 'KiB/s'),
          t('system.m.wal_sub', { n: fmt.bytes(g('loom_wal_bytes_total')) })),
        tile(t('system.m.fsync'), msTxt(dl.fsync_avg_s), t('system.m.fsync_sub', {
          max: msTxt(g('loom_wal_fsync_seconds_max')), n: fmt.int(g('loom_wal_fsyncs_total')),
        })),
        tile(t('system.m.memory'), fmt.bytes(g('loom_process_resident_memory_bytes')),
          t('system.m.memory_sub', { n: fmt.bytes(g('loom_memory_allocated_bytes')) }), 'sys-memory'),
        tile(t('system.m.mqtt'), m.has('loom_mqtt_connections') ? fmt.int(g('loom_mqtt_connections')) : t('system.mqtt.off'),
          m.has('loom_mqtt_connections') ? t('system.m.mqtt_sub', { s: fmt.int(g('loom_mqtt_sessions')), n: fmt.int(g('loom_mqtt_messages_received_total')) }) : null, 'sys-mqtt'),
        tile(t('system.m.http'), fmt.int(g('loom_http_connections')),
          t('system.m.http_sub', { e: fmt.int(g('loom_http_responses_total{class="5xx"}')) })),
        tile(t('system.m.storage'), fmt.bytes(g('loom_segment_bytes')), t('system.m.storage_sub', {
          s: fmt.int(g('loom_series')), h: fmt.bytes(g('loom_head_bytes')),
        })));
      return h('div', null,
        readonly ? h('div.ov-stale', { role: 'alert' }, t('system.readonly')) : null, tiles);
    }

    let tilesHolder = null;
    function firstMetricsDraw() {
      const ingestEl = h('div.sys-chart', { role: 'img', 'aria-label': t('system.chart.ingest') });
      const latEl = h('div.sys-chart', { role: 'img', 'aria-label': t('system.chart.latency') });
      tilesHolder = h('div');
      clear(metricsBox).append(tilesHolder,
        h('div.sys-charts',
          h('section.card', { 'aria-labelledby': 'sys-c1' }, h('h2', { id: 'sys-c1' }, t('system.chart.ingest')), ingestEl),
          h('section.card', { 'aria-labelledby': 'sys-c2' }, h('h2', { id: 'sys-c2' }, t('system.chart.latency')), latEl)),
        h('p.muted.sys-note', null, t('system.chart.note')));
      charts = [
        sparkline(ingestEl, { series: [{ label: t('system.chart.ingest') }], height: 160, fmt: (v) => fmt.num(v), windowS: CHART_WINDOW_MS / 1000 }),
        sparkline(latEl, { series: [{ label: t('system.chart.avg') }, { label: t('system.chart.p95') }], height: 160, fmt: (v) => `${fmt.num(v)} ms`, windowS: CHART_WINDOW_MS / 1000 }),
      ];
      const [ts, ing, avg, p95] = hist.data();
      charts[0].set([ts, ing]);
      charts[1].set([ts, avg, p95]);
    }

    async function poll(manual) {
      if (stopped) return;
      clearTimeout(timer);
      const [health, info, metrics] = await Promise.allSettled([
        ctx.api.get('/health', null, { noRedirect: true }),
        ctx.api.get('/api/v1/console/info'),
        metricsDenied ? Promise.reject(Object.assign(new Error('denied'), { status: 403 })) : ctx.api.text('/metrics'),
      ]);
      if (stopped) return;
      // /health answers 503 with its JSON when storage went read-only
      const hv = health.status === 'fulfilled' ? health.value
        : health.reason && health.reason.body && health.reason.body.status ? health.reason.body : null;
      drawHealth(hv, info.status === 'fulfilled' ? info.value : null, health.reason);
      if (metrics.status === 'fulfilled') {
        const now = Date.now();
        const m = parseProm(metrics.value);
        const dl = deltas(kept.prev, m, kept.prev ? (now - kept.prevAt) / 1000 : 0);
        if (!tilesHolder) firstMetricsDraw();
        clear(tilesHolder).append(drawMetrics(m, dl));
        if (kept.prev) {
          hist.push(now, [dl.ingest_per_s, ms(dl.query_avg_s), ms(dl.query_p95_s)]);
          const [ts, ing, avg, p95] = hist.data();
          charts[0].set([ts, ing]);
          charts[1].set([ts, avg, p95]);
        }
        kept.prev = m;
        kept.prevAt = now;
      } else {
        const err = metrics.reason;
        if (err && err.status === 403) {
          metricsDenied = true;
          clear(metricsBox).append(h('section.card.sys-denied', { 'data-testid': 'sys-metrics-denied' },
            h('h2', null, t('system.metrics.title')), h('p', null, t('system.metrics.denied'))));
        } else if (!tilesHolder) {
          ui.errorState(metricsBox, err, () => poll(true));
        } else if (manual) ctx.toast(ui.errorMessage(err).title, 'error');
      }
      stamp.textContent = t('overview.updated', { time: fmt.time(Date.now()) });
      ui.ready(root);
      if (!stopped) timer = setTimeout(() => poll(false), POLL_MS);
    }

    await poll(false);
    return () => {
      stopped = true;
      clearTimeout(timer);
      charts.forEach((c) => c.destroy());
    };
  },
};
