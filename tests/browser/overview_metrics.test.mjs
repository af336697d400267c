// SPDX-License-Identifier: Apache-2.0
// Unit tests (node --test, no browser) of the pure parts of the system and region pages:
// the Prometheus text parser, histogram quantiles, per-interval figures from two scrapes,
// the client-side history window, and the region's industry table.
import test from 'node:test';
import assert from 'node:assert/strict';
import { parseProm, quantile, histogram, deltas } from '../../web/js/pages/system.js';
import { History } from '../../web/js/pages/overview.js';
import { industryRows } from '../../web/js/pages/region.js';

const SCRAPE = `# HELP loom_ingest_points_total Field values stored.
# TYPE loom_ingest_points_total counter
loom_ingest_points_total 1000
loom_query_duration_seconds_bucket{le="0.001"} 10
loom_query_duration_seconds_bucket{le="0.01"} 18
loom_query_duration_seconds_bucket{le="+Inf"} 20
loom_query_duration_seconds_sum 0.05
loom_query_duration_seconds_count 20
loom_http_responses_total{class="5xx"} 3
loom_wal_fsyncs_total 10
loom_wal_fsync_seconds_total 0.02
loom_odd NaN
garbage line without value

loom_uptime_seconds 12.5 1700000000000
`;

test('parseProm reads values, label sets and timestamps, skips comments and junk', () => {
  const m = parseProm(SCRAPE);
  assert.equal(m.get('loom_ingest_points_total'), 1000);
  assert.equal(m.get('loom_http_responses_total{class="5xx"}'), 3);
  assert.equal(m.get('loom_query_duration_seconds_bucket{le="+Inf"}'), 20);
  assert.equal(m.get('loom_uptime_seconds'), 12.5);
  assert.ok(Number.isNaN(m.get('loom_odd')));
  assert.equal(m.has('garbage'), false);
  assert.equal(parseProm('').size, 0);
  assert.equal(parseProm(null).size, 0);
});

test('histogram sorts buckets with +Inf last', () => {
  const h = histogram(parseProm(SCRAPE), 'loom_query_duration_seconds');
  assert.deepEqual(h, [[0.001, 10], [0.01, 18], [Infinity, 20]]);
});

test('quantile interpolates inside the bucket and caps at the largest finite bound', () => {
  const h = [[0.001, 10], [0.01, 18], [Infinity, 20]];
  assert.equal(quantile(h, 0.5), 0.001);                 // rank 10: end of the first bucket
  assert.ok(Math.abs(quantile(h, 0.7) - 0.0055) < 1e-9);  // rank 14: half way in the second
  assert.equal(quantile(h, 0.99), 0.01);                  // in +Inf: the largest finite bound
  assert.equal(quantile([[1, 0], [Infinity, 0]], 0.5), null);
  assert.equal(quantile([], 0.5), null);
});

test('deltas gives rates and interval averages, null without a previous scrape', () => {
  const a = parseProm(SCRAPE);
  const b = parseProm(SCRAPE.replace('loom_ingest_points_total 1000', 'loom_ingest_points_total 1500')
    .replace('loom_query_duration_seconds_sum 0.05', 'loom_query_duration_seconds_sum 0.15')
    .replace('loom_query_duration_seconds_count 20', 'loom_query_duration_seconds_count 30')
    .replace('{le="0.01"} 18', '{le="0.01"} 28').replace('{le="+Inf"} 20', '{le="+Inf"} 30'));
  const d = deltas(a, b, 5);
  assert.equal(d.ingest_per_s, 100);
  assert.equal(d.queries_per_s, 2);
  assert.ok(Math.abs(d.query_avg_s - 0.01) < 1e-12);
  assert.ok(d.query_p95_s > 0.001 && d.query_p95_s <= 0.01);
  assert.equal(d.fsync_avg_s, null); // no fsync in the interval
  const none = deltas(null, b, 0);
  assert.equal(none.ingest_per_s, null);
  assert.equal(none.query_p95_s, null);
  // a counter that went backwards (restart) is no rate
  assert.equal(deltas(b, a, 5).ingest_per_s, null);
});

test('History keeps its window and turns non-numbers into gaps', () => {
  const h = new History(2, 10000);
  h.push(1000, [1, 2]);
  h.push(6000, [NaN, 3]);
  h.push(12000, [4, undefined]);
  assert.deepEqual(h.data(), [[6, 12], [null, 4], [3, null]]);
});

test('industryRows sorts by enterprises and gives shares', () => {
  const rows = industryRows({ industries: { textile: 1, steel: 3, unspecified: 1, aaa: 1 } });
  assert.deepEqual(rows.map((r) => r.industry), ['steel', 'aaa', 'textile', 'unspecified']);
  assert.equal(rows[0].share, 0.5);
  assert.deepEqual(industryRows({}), []);
  assert.deepEqual(industryRows(null), []);
});
