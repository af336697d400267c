// SPDX-License-Identifier: Apache-2.0
// Unit tests (node --test, no browser) for the data explorer's pure query
// module web/js/pages/explorer/query.js: quoting, query building, the auto
// interval, the URL round trip, and result shaping for chart and table.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as Q from '../../web/js/pages/explorer/query.js';

const base = () => ({ ...Q.defaultState(), measurement: 'cpu', fields: ['usage'] });

test('quoteIdent escapes double quotes, backslashes and newlines', () => {
  assert.equal(Q.quoteIdent('a"b\\c\nd'), '"a\\"b\\\\c\\nd"');
  assert.equal(Q.quoteIdent('温度 °C'), '"温度 °C"');
});

test('quoteString escapes single quotes, backslashes and newlines', () => {
  assert.equal(Q.quoteString("it's \\ x\ny"), "'it\\'s \\\\ x\\ny'");
});

test('buildQuery gives an empty string without measurement or fields', () => {
  assert.equal(Q.buildQuery({ ...base(), fields: [] }), '');
  assert.equal(Q.buildQuery({ ...base(), measurement: '' }), '');
});

test('buildQuery aggregates with an explicit interval, fill and alias', () => {
  const q = Q.buildQuery({ ...base(), agg: 'max', interval: '1m', fill: 'previous' });
  assert.equal(q, 'SELECT max("usage") AS "usage" FROM "cpu" WHERE time > now() - 1h ' +
    'GROUP BY time(1m) fill(previous)');
});

test('buildQuery ORs values of one tag and ANDs tags, sorted by key', () => {
  const q = Q.buildQuery({ ...base(), interval: '10s',
    tags: { zone: ["o'hare"], host: ['a', 'b'], empty: [] }, groupBy: ['host'] });
  assert.equal(q, 'SELECT mean("usage") AS "usage" FROM "cpu" WHERE time > now() - 1h ' +
    `AND ("host" = 'a' OR "host" = 'b') AND "zone" = 'o\\'hare' ` +
    'GROUP BY time(10s), "host" fill(none)');
});

test('buildQuery raw mode selects fields, groups by tags, limits rows unless exporting', () => {
  const st = { ...base(), fields: ['a', 'b'], agg: 'none', groupBy: ['host'], fill: '0' };
  assert.equal(Q.buildQuery(st), 'SELECT "a", "b" FROM "cpu" WHERE time > now() - 1h ' +
    `GROUP BY "host" LIMIT ${Q.RAW_LIMIT}`);
  assert.ok(!Q.buildQuery(st, { noLimit: true }).includes('LIMIT'));
});

test('buildQuery with an absolute range uses RFC3339 bounds', () => {
  const st = { ...base(), range: { from_ms: Date.UTC(2026, 0, 1), to_ms: Date.UTC(2026, 0, 2) },
    interval: '1h' };
  assert.match(Q.buildQuery(st), /WHERE time >= '2026-01-01T00:00:00.000Z' AND time <= '2026-01-02T00:00:00.000Z' GROUP BY time\(1h\)/);
});

test('buildQuery auto interval follows range / width', () => {
  const q = Q.buildQuery({ ...base(), range: { quick: '24h' } }, { widthPx: 1000 });
  assert.match(q, /GROUP BY time\(2m\)/); // 86.4 s per pixel -> 2m
  const q2 = Q.buildQuery({ ...base(), range: { quick: '90d' } }, { widthPx: 1200 });
  assert.match(q2, /GROUP BY time\(2h\)/); // 6480 s per pixel -> 2h
});

test('autoIntervalMs rounds up to a nice step and never returns 0', () => {
  assert.equal(Q.autoIntervalMs(3600e3, 1000), 5000); // 3.6 s -> 5 s
  assert.equal(Q.autoIntervalMs(10, 1000), 1);
  assert.equal(Q.autoIntervalMs(400 * 86400e3, 10), 40 * 86400e3);
});

test('formatDuration picks the largest exact unit', () => {
  assert.equal(Q.formatDuration(3600e3), '1h');
  assert.equal(Q.formatDuration(90e3), '90s');
  assert.equal(Q.formatDuration(1500), '1500ms');
  assert.equal(Q.formatDuration(7 * 86400e3), '1w');
});

test('state survives the URL round trip (builder)', () => {
  const st = { ...base(), db: 'plant', fields: ['a', 'b=c'], tags: { host: ['x&y', 'z'] },
    groupBy: ['host'], agg: 'max', interval: '5m', fill: '0', range: { from_ms: 1000, to_ms: 2000 } };
  const p = Q.stateToParams(st);
  assert.match(p, /(^|&)r=1000_2000(&|$)/);
  const back = Q.paramsToState(p);
  assert.deepEqual(back, { ...st, q: '' });
});

test('state survives the URL round trip (raw)', () => {
  const st = { ...Q.defaultState(), mode: 'raw', db: 'd', q: 'SELECT * FROM "m" WHERE a = \'1&2\'' };
  const back = Q.paramsToState(Q.stateToParams(st));
  assert.equal(back.mode, 'raw');
  assert.equal(back.q, st.q);
  assert.equal(back.db, 'd');
});

test('paramsToState ignores bad values', () => {
  const st = Q.paramsToState('agg=drop&i=soon&fill=x&r=5_1&w=novalue');
  assert.equal(st.agg, 'mean');
  assert.equal(st.interval, 'auto');
  assert.equal(st.fill, 'none');
  assert.deepEqual(st.range, { quick: '1h' });
  assert.deepEqual(st.tags, {});
});

const answer = {
  results: [{
    statement_id: 0,
    series: [
      { name: 'cpu', tags: { host: 'a' }, columns: ['time', 'usage', 'note'],
        values: [[1000, 1.5, 'x'], [3000, 2, 'y']] },
      { name: 'cpu', tags: { host: 'b' }, columns: ['time', 'usage', 'note'],
        values: [[2000, null, 'z'], [3000, 4, 'w']] },
    ],
  }],
};

test('toTables flattens statements and series', () => {
  const t = Q.toTables(answer);
  assert.equal(t.length, 2);
  assert.deepEqual(t[1].tags, { host: 'b' });
  assert.equal(t[0].rows.length, 2);
});

test('toChart aligns series on the union of times, numeric columns only', () => {
  const c = Q.toChart(Q.toTables(answer));
  assert.deepEqual(c.ts, [1000, 2000, 3000]);
  assert.deepEqual(c.series.map((s) => s.label), ['usage {host=a}', 'usage {host=b}']);
  assert.deepEqual(c.series[0].values, [1.5, null, 2]);
  assert.deepEqual(c.series[1].values, [null, null, 4]);
});

test('toChart gives nothing for SHOW results', () => {
  const c = Q.toChart(Q.toTables({ results: [{ series: [{ name: 'measurements',
    columns: ['name'], values: [['cpu']] }] }] }));
  assert.equal(c.series.length, 0);
});

test('resultError finds statement errors', () => {
  assert.equal(Q.resultError({ results: [{ statement_id: 0, error: 'boom' }] }), 'boom');
  assert.equal(Q.resultError(answer), '');
});

test('sortRows sorts numbers numerically with nulls last', () => {
  const rows = [[1, 10], [2, null], [3, 9], [4, 100]];
  assert.deepEqual(Q.sortRows(rows, 1, false).map((r) => r[0]), [3, 1, 4, 2]);
  assert.deepEqual(Q.sortRows(rows, 1, true).map((r) => r[0]), [4, 1, 3, 2]);
});

test('csvFileName is measurement-from-to with safe characters', () => {
  assert.equal(Q.csvFileName('a/b c', Date.UTC(2026, 0, 1), Date.UTC(2026, 0, 1, 1)),
    'a_b_c-20260101T000000Z-20260101T010000Z.csv');
});

test('measurementOf reads the first FROM', () => {
  assert.equal(Q.measurementOf('select x from "we\\"ird" where'), 'we"ird');
  assert.equal(Q.measurementOf('SELECT * FROM db.rp.cpu'), 'cpu');
  assert.equal(Q.measurementOf('SELECT * FROM "plant"."autogen"."line.speed" WHERE'), 'line.speed');
  assert.equal(Q.measurementOf('SELECT * FROM "plant".."m x"'), 'm x');
  assert.equal(Q.measurementOf('SHOW DATABASES'), '');
});
