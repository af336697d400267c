// SPDX-License-Identifier: Apache-2.0
// Pure parts of the devices pages, chart.js and live.js, run by node alone (no browser, no
// daemon): the asset tree and its subtrees, range checks, key ordering, telemetry columns,
// URL ranges, attribute values, permission checks, connection snippets, series alignment
// and bucket sizes, and the live client's protocol against a fake WebSocket.

import test from 'node:test';
import assert from 'node:assert/strict';
import { buildTree, subtreeIds } from '../../web/js/pages/devices.js';
import { outOfRange, orderKeys } from '../../web/js/pages/device/latest.js';
import { numericKeys, toColumns, rangeFromParams } from '../../web/js/pages/device/charts.js';
import { parseValue, showValue } from '../../web/js/pages/device/attributes.js';
import { snippets, sampleBody } from '../../web/js/pages/device/credentials.js';
import { can, nameCmp } from '../../web/js/pages/device/common.js';
import { alignSeries, bucketMs } from '../../web/js/core/chart.js';
import { createLive } from '../../web/js/core/live.js';

const A = (id, parent, name, type = 'line') => ({ id, parent_id: parent, name, type });

test('buildTree nests assets under their parents, sorted by type then natural name', () => {
  const t = buildTree([A('l10', 'p', 'Line 10'), A('l2', 'p', 'Line 2'), A('p', 's', 'Plant', 'plant'),
    A('s', null, 'Site', 'site'), A('c', 'l2', 'Cell', 'cell')]);
  assert.deepEqual(t.roots.map((n) => n.asset.id), ['s']);
  assert.deepEqual(t.byId.get('p').children.map((n) => n.asset.name), ['Line 2', 'Line 10']);
  assert.equal(t.byId.get('c').parent.asset.id, 'l2');
});

test('buildTree makes an asset whose parent is not visible a root', () => {
  const t = buildTree([A('x', 'gone', 'Orphan'), A('s', null, 'Site', 'site')]);
  assert.deepEqual(t.roots.map((n) => n.asset.id).sort(), ['s', 'x']);
});

test('subtreeIds lists the asset and all descendants, and survives a cycle', () => {
  const t = buildTree([A('s', null, 'S', 'site'), A('p', 's', 'P', 'plant'), A('l', 'p', 'L'), A('q', 's', 'Q', 'plant')]);
  assert.deepEqual(subtreeIds(t, 'p').sort(), ['l', 'p']);
  assert.deepEqual(subtreeIds(t, 's').sort(), ['l', 'p', 'q', 's']);
  assert.deepEqual(subtreeIds(t, 'nope'), []);
  const cyc = buildTree([A('a', 'b', 'A'), A('b', 'a', 'B')]);
  cyc.byId.get('a').children.push(cyc.byId.get('b'));
  cyc.byId.get('b').children.push(cyc.byId.get('a'));
  assert.deepEqual(subtreeIds(cyc, 'a').sort(), ['a', 'b']);
});

test('outOfRange checks numbers against min and max, each optional', () => {
  assert.equal(outOfRange(121, { min: 0, max: 120 }), true);
  assert.equal(outOfRange(-1, { min: 0, max: null }), true);
  assert.equal(outOfRange(120, { min: 0, max: 120 }), false);
  assert.equal(outOfRange(1e9, { min: null, max: null }), false);
  assert.equal(outOfRange('high', { min: 0, max: 1 }), false);
  assert.equal(outOfRange(5, undefined), false);
});

test('orderKeys puts profile keys first in profile order, then the rest naturally', () => {
  const meta = new Map([['temp', {}], ['flow', {}]]);
  assert.deepEqual(orderKeys(['x10', 'flow', 'x2', 'temp'], meta), ['temp', 'flow', 'x2', 'x10']);
});

test('numericKeys puts keys with numeric values first, then numeric profile keys without data', () => {
  const meta = new Map([['flow', { type: 'float' }], ['state', { type: 'string' }], ['n', { type: 'int' }]]);
  const latest = { state: [{ ts: 1, value: 3 }], rpm: [{ ts: 1, value: 5 }], fw: [{ ts: 1, value: '1.2' }],
    n: [{ ts: 1, value: 7 }] };
  // keys with values first (profile ones first), then profile keys still without data
  assert.deepEqual(numericKeys(latest, meta), ['n', 'rpm', 'flow']);
});

test('toColumns sorts points ascending and turns non-numbers into gaps', () => {
  assert.deepEqual(toColumns([{ ts: 3, value: 1.5 }, { ts: 1, value: 'x' }, { ts: 2, value: null }]),
    [[1, 2, 3], [null, null, 1.5]]);
  assert.deepEqual(toColumns(undefined), [[], []]);
});

test('rangeFromParams reads a quick range or an absolute one, else the last hour', () => {
  const q = rangeFromParams({ range: '90d' });
  assert.equal(q.quick, '90d');
  assert.equal(q.to_ms - q.from_ms, 90 * 86400000);
  assert.deepEqual(rangeFromParams({ from: '1000', to: '5000' }), { quick: null, from_ms: 1000, to_ms: 5000 });
  assert.equal(rangeFromParams({ from: '5000', to: '1000' }).quick, '1h');
  assert.equal(rangeFromParams({ range: 'forever' }).quick, '1h');
});

test('parseValue reads JSON when it can, else keeps the text; showValue prints it back', () => {
  assert.equal(parseValue('42'), 42);
  assert.equal(parseValue('true'), true);
  assert.deepEqual(parseValue('{"a":1}'), { a: 1 });
  assert.equal(parseValue('auto mode'), 'auto mode');
  assert.equal(showValue({ a: 1 }), '{"a":1}');
  assert.equal(showValue('x'), 'x');
});

test('can follows the role and the token scope', () => {
  assert.equal(can({ role: 'operator', scope: 'admin' }, 'rpc.send'), true);
  assert.equal(can({ role: 'viewer', scope: 'admin' }, 'rpc.send'), false);
  assert.equal(can({ role: 'engineer', scope: 'read' }, 'rpc.send'), false);
  assert.equal(can({ role: 'operator', scope: 'admin' }, 'device.credentials'), false);
  assert.equal(can({ role: 'tenant_admin', scope: 'write' }, 'device.credentials'), false);
  assert.equal(can({ role: 'tenant_admin', scope: 'admin' }, 'device.credentials'), true);
  assert.equal(can(null, 'rpc.send'), false);
  assert.ok(nameCmp('CNC-2', 'CNC-10') < 0);
});

test('snippets carry the server, the MQTT port and the token, shell-quoted', () => {
  const body = sampleBody(new Map([['flow', { type: 'float', min: 0, max: 120 }], ['n', { type: 'int', min: 1, max: 2 }]]));
  assert.deepEqual(body, { flow: 60, n: 2 });
  const list = snippets({ origin: 'http://plant:8080', host: 'plant', mqttPort: 1884, token: "t'ok", body });
  const by = Object.fromEntries(list.map((s) => [s.id, s.code]));
  assert.deepEqual(Object.keys(by), ['curl', 'mqtt', 'python', 'paho']);
  assert.match(by.curl, /DEVICE_TOKEN='t'\\''ok'/);
  assert.match(by.curl, /"http:\/\/plant:8080\/api\/v1\/\$DEVICE_TOKEN\/telemetry"/);
  assert.match(by.mqtt, /-h 'plant' -p 1884 -u "\$DEVICE_TOKEN"/);
  assert.match(by.python, /TOKEN = "t'ok"/);
  assert.match(by.paho, /client\.connect\("plant", 1884\)/);
  assert.match(snippets({ origin: 'o', host: 'h', mqttPort: 1883, token: null, body }).map((s) => s.code).join(), /YOUR_DEVICE_TOKEN/);
  assert.deepEqual(sampleBody(new Map()), { temperature: 21.5 });
  const basic = snippets({ origin: 'o', host: 'h', mqttPort: 1883, token: 'x', body, mqttUser: "pump's" });
  assert.equal(basic.length, 5);
  assert.match(basic[4].code, /-u 'pump'\\''s' -P "\$MQTT_PASSWORD"/);
  assert.match(snippets({ origin: 'o', host: 'h', mqttPort: 1, token: 'x', body: { on: true } })[2].code, /json=\{"on":True\}/);
});

test('alignSeries merges time axes with nulls; bucketMs gives about one bucket per pixel', () => {
  assert.deepEqual(alignSeries([[[1, 3], [10, 30]], [[2, 3], [20, 31]]]),
    [[1, 2, 3], [[10, null, 30], [null, 20, 31]]]);
  assert.equal(bucketMs(0, 90 * 86400000, 600), 12960000);
  assert.equal(bucketMs(0, 100, 600), 1);
  assert.equal(bucketMs(0, 60000, 0), 100); // unknown width: 600 px
});

// ---- live.js against a fake WebSocket

class FakeWS {
  static all = [];
  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    FakeWS.all.push(this);
  }
  send(s) { this.sent.push(JSON.parse(s)); }
  close() { this.readyState = 3; this.closedByClient = true; }
  open() { this.readyState = 1; this.onopen(); }
  recv(obj) { this.onmessage({ data: JSON.stringify(obj) }); }
  drop() { this.readyState = 3; this.onclose({ code: 1006 }); }
}

function fakeLive(token = 'tok') {
  FakeWS.all = [];
  return createLive({ url: 'ws://x/api/v1/ws', token: () => token, WebSocket: FakeWS });
}
const tick = (ms) => new Promise((r) => setTimeout(r, ms));

test('live: one socket, auth first, then every subscription; updates reach their callback', async () => {
  const live = fakeLive();
  const got = [];
  const un1 = live.subscribe({ type: 'telemetry', device_id: 'd1' }, (m) => got.push(['a', m.values]));
  live.subscribe({ type: 'rpc', device_id: 'd2' }, (m) => got.push(['b', m.status]));
  assert.equal(FakeWS.all.length, 1);
  const ws = FakeWS.all[0];
  ws.open();
  assert.deepEqual(ws.sent, [{ auth: { token: 'tok' } }]);
  ws.recv({ auth: 'ok' });
  assert.equal(live.status(), 'open');
  assert.deepEqual(ws.sent.slice(1), [
    { type: 'telemetry', device_id: 'd1', cmd: 'subscribe', id: 1 },
    { type: 'rpc', device_id: 'd2', cmd: 'subscribe', id: 2 },
  ]);
  ws.recv({ sub: 1, type: 'telemetry', values: { t: 1 } });
  ws.recv({ sub: 2, type: 'rpc', status: 'successful' });
  ws.recv({ sub: 9, type: 'rpc', status: 'x' }); // unknown: ignored
  assert.deepEqual(got, [['a', { t: 1 }], ['b', 'successful']]);
  un1();
  assert.deepEqual(ws.sent.at(-1), { cmd: 'unsubscribe', id: 1 });
  ws.recv({ sub: 1, type: 'telemetry', values: { t: 2 } });
  assert.equal(got.length, 2);
  live.subscribe({ type: 'state', device_id: 'd3' }, () => {});
  assert.deepEqual(ws.sent.at(-1), { type: 'state', device_id: 'd3', cmd: 'subscribe', id: 3 });
  assert.equal(FakeWS.all.length, 1);
});

test('live: a refused subscription reaches onError', () => {
  const live = fakeLive();
  let err = null;
  live.subscribe({ type: 'telemetry', device_id: 'other' }, () => {}, (e) => { err = e; });
  const ws = FakeWS.all[0];
  ws.open();
  ws.recv({ auth: 'ok' });
  ws.recv({ id: 1, ok: false, error: { code: 'not_found', message: 'not found' } });
  assert.deepEqual(err, { code: 'not_found', message: 'not found' });
});

test('live: reconnects after a drop and subscribes everything again', async () => {
  const live = fakeLive();
  live.subscribe({ type: 'telemetry', device_id: 'd1' }, () => {});
  let ws = FakeWS.all[0];
  ws.open();
  ws.recv({ auth: 'ok' });
  ws.drop();
  assert.equal(live.status(), 'retrying');
  await tick(600); // first back-off: 250..500 ms
  assert.equal(FakeWS.all.length, 2);
  ws = FakeWS.all[1];
  ws.open();
  ws.recv({ auth: 'ok' });
  assert.deepEqual(ws.sent, [{ auth: { token: 'tok' } }, { type: 'telemetry', device_id: 'd1', cmd: 'subscribe', id: 1 }]);
});

test('live: closes the socket a moment after the last unsubscribe, and not when one comes back', async () => {
  const live = fakeLive();
  const un = live.subscribe({ type: 'telemetry', device_id: 'd1' }, () => {});
  const ws = FakeWS.all[0];
  ws.open();
  ws.recv({ auth: 'ok' });
  un();
  live.subscribe({ type: 'telemetry', device_id: 'd2' }, () => {}); // the next page
  await tick(2200);
  assert.equal(ws.closedByClient, undefined);
  assert.equal(live.size(), 1);
  const live2 = fakeLive();
  const un2 = live2.subscribe({ type: 'telemetry', device_id: 'd1' }, () => {});
  const ws2 = FakeWS.all[0];
  ws2.open();
  ws2.recv({ auth: 'ok' });
  un2();
  await tick(2200);
  assert.equal(ws2.closedByClient, true);
  assert.equal(live2.status(), 'closed');
});

test('live: without a token it waits instead of connecting', async () => {
  const live = fakeLive('');
  const un = live.subscribe({ type: 'telemetry', device_id: 'd1' }, () => {});
  assert.equal(FakeWS.all.length, 0);
  assert.equal(live.status(), 'retrying');
  un();
  await tick(2200);
  assert.equal(live.status(), 'closed');
});
