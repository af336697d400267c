// SPDX-License-Identifier: Apache-2.0
// A small MQTT client CLI on MQTT.js (npm `mqtt`, tests/interop/node_modules),
// MQTT 3.1, 3.1.1 or 5.0, for tests/integration/test_mqtt_interop.py. Same
// arguments and JSON-lines output as paho_c_client.c and paho_py_client.py:
// connect, subscribe (--sub), print "ready", publish (--pub), receive --count
// messages within --timeout ms, then DISCONNECT (or --hang until killed, for
// will tests). Run: node tests/interop/mqttjs_client.js --port P --level 4 ...
'use strict';

const mqtt = require('mqtt');

function usage() {
  process.stderr.write(
    'usage: mqttjs_client.js --port P --level 3|4|5 [--host H] [--id ID] [--user U]\n' +
      '  [--pass P] [--clean 0|1] [--expiry S] [--will TOPIC:QOS:RETAIN:PAYLOAD]\n' +
      '  [--sub FILTER:QOS]... [--pub TOPIC:QOS:RETAIN:PAYLOAD]... [--count N]\n' +
      '  [--timeout MS] [--hang] [--ws PATH] [--alias-max N] [--will-delay S]\n' +
      '  [--burst TOPIC:QOS:N] [--pub-props JSON] [--no-ack] [--keepalive S]\n' +
      '--no-ack: (level 5) never acknowledge a QoS 1/2 message (customHandleAcks);\n' +
      '  the first one is reported, and MQTT.js then reads no further packets\n' +
      '--pub-props: MQTT 5 properties for every --pub, {"response_topic", "correlation_data"\n' +
      '  (hex), "user": [[k, v]...], "content_type", "payload_format", "expiry"}; "msg"\n' +
      '  events at level 5 carry the same shape as "props"\n' +
      '--burst: N messages "0".."N-1" published back to back (20 in flight)\n' +
      '--alias-max: Topic Alias Maximum sent in CONNECT (level 5): the broker may alias\n' +
      '  topics it sends us; "msg" events then carry the alias received\n' +
      '--ws: MQTT over WebSocket, ws://HOST:PORT/PATH (PATH without the leading /)\n');
  process.exit(2);
}

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

// "TOPIC:QOS:RETAIN:PAYLOAD"; the payload may contain ':'.
function parsePub(s) {
  const p = s.split(':');
  if (p.length < 4) usage();
  return { topic: p[0], qos: Number(p[1]), retain: p[2] === '1', payload: p.slice(3).join(':') };
}

// "FILTER:QOS", split at the last ':'.
function parseSub(s) {
  const i = s.lastIndexOf(':');
  if (i < 0) usage();
  return { filter: s.slice(0, i), qos: Number(s.slice(i + 1)) };
}

function parseArgs(argv) {
  const o = {
    host: '127.0.0.1', port: 0, level: 4, id: null, user: null, pass: null, clean: true,
    expiry: -1, count: 0, timeout: 5000, hang: false, will: null, subs: [], pubs: [], ws: null,
    aliasMax: 0, willDelay: -1, burst: null, pubProps: null, noAck: false, keepalive: 30,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--hang') { o.hang = true; continue; }
    if (a === '--no-ack') { o.noAck = true; continue; }
    const v = argv[++i];
    if (v === undefined) usage();
    switch (a) {
      case '--host': o.host = v; break;
      case '--port': o.port = Number(v); break;
      case '--level': o.level = Number(v); break;
      case '--id': o.id = v; break;
      case '--user': o.user = v; break;
      case '--pass': o.pass = v; break;
      case '--clean': o.clean = v === '1'; break;
      case '--expiry': o.expiry = Number(v); break;
      case '--count': o.count = Number(v); break;
      case '--timeout': o.timeout = Number(v); break;
      case '--will': o.will = parsePub(v); break;
      case '--sub': o.subs.push(parseSub(v)); break;
      case '--pub': o.pubs.push(parsePub(v)); break;
      case '--ws': o.ws = v; break;
      case '--alias-max': o.aliasMax = Number(v); break;
      case '--will-delay': o.willDelay = Number(v); break;
      case '--keepalive': o.keepalive = Number(v); break;
      case '--pub-props': o.pubProps = JSON.parse(v); break;
      case '--burst': {
        const p = v.split(':');
        if (p.length !== 3) usage();
        o.burst = { topic: p[0], qos: Number(p[1]), n: Number(p[2]) };
        break;
      }
      default: usage();
    }
  }
  if (!o.port || o.level < 3 || o.level > 5) usage();
  return o;
}

// The CLI's property shape <-> MQTT.js publish properties.
function propsIn(j) {
  const p = {};
  if (j.response_topic !== undefined) p.responseTopic = j.response_topic;
  if (j.correlation_data !== undefined) p.correlationData = Buffer.from(j.correlation_data, 'hex');
  if (j.content_type !== undefined) p.contentType = j.content_type;
  if (j.payload_format !== undefined) p.payloadFormatIndicator = !!j.payload_format;
  if (j.expiry !== undefined) p.messageExpiryInterval = j.expiry;
  if (j.user !== undefined) {
    p.userProperties = {};
    for (const [k, v] of j.user) {
      if (p.userProperties[k] === undefined) p.userProperties[k] = v;
      else p.userProperties[k] = [].concat(p.userProperties[k], v);
    }
  }
  return p;
}

function propsOut(p) {
  const j = {};
  if (p.responseTopic !== undefined) j.response_topic = p.responseTopic;
  if (p.correlationData !== undefined) {
    j.correlation_data = Buffer.from(p.correlationData).toString('hex');
  }
  if (p.contentType !== undefined) j.content_type = p.contentType;
  if (p.payloadFormatIndicator !== undefined) j.payload_format = p.payloadFormatIndicator ? 1 : 0;
  if (p.messageExpiryInterval !== undefined) j.expiry = p.messageExpiryInterval;
  if (p.userProperties !== undefined) {
    j.user = [];
    for (const [k, v] of Object.entries(p.userProperties)) {
      for (const x of [].concat(v)) j.user.push([k, x]);
    }
  }
  return j;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const copts = {
    protocolVersion: o.level,
    protocolId: o.level === 3 ? 'MQIsdp' : 'MQTT',
    clientId: o.id || 'mqttjs-' + process.pid,
    clean: o.clean,
    reconnectPeriod: 0,
    connectTimeout: 5000,
    keepalive: o.keepalive,
  };
  if (o.user !== null) copts.username = o.user;
  if (o.pass !== null) copts.password = o.pass;
  if (o.level === 5) {
    copts.properties = {};
    if (o.expiry >= 0) copts.properties.sessionExpiryInterval = o.expiry;
    if (o.aliasMax > 0) copts.properties.topicAliasMaximum = o.aliasMax;
  }
  if (o.will) {
    copts.will = { topic: o.will.topic, payload: Buffer.from(o.will.payload), qos: o.will.qos,
                   retain: o.will.retain };
    if (o.level === 5 && o.willDelay >= 0) {
      copts.will.properties = { willDelayInterval: o.willDelay };
    }
  }

  const received = [];
  let wake = null;
  if (o.noAck) {
    if (o.level !== 5) usage();
    // Report the message, never call done: no PUBACK/PUBREC goes out.
    copts.customHandleAcks = (topic, payload, packet) => {
      const m = { ev: 'msg', topic, payload: payload.toString('latin1'), qos: packet.qos,
                  retain: !!packet.retain, dup: !!packet.dup, acked: false };
      received.push(m);
      emit(m);
      if (wake) wake();
    };
  }
  const url = o.ws !== null ? `ws://${o.host}:${o.port}/${o.ws}` : `mqtt://${o.host}:${o.port}`;
  const client = mqtt.connect(url, copts);
  // Register before the CONNACK: a resumed session's queue may arrive at once.
  client.on('message', (topic, payload, packet) => {
    const m = { ev: 'msg', topic, payload: payload.toString('latin1'), qos: packet.qos,
                retain: !!packet.retain, dup: !!packet.dup };
    if (packet.properties && packet.properties.topicAlias !== undefined) {
      m.alias = packet.properties.topicAlias;
    }
    if (o.level === 5) m.props = propsOut(packet.properties || {});
    received.push(m);
    emit(m);
    if (wake) wake();
  });
  const connack = await new Promise((resolve, reject) => {
    client.once('connect', resolve);
    client.once('error', reject);
    client.once('close', () => reject(new Error('closed before CONNACK')));
  });
  client.removeAllListeners('error');
  client.removeAllListeners('close');
  client.on('error', (e) => emit({ ev: 'error', what: 'client', rc: String(e.message || e) }));
  emit({ ev: 'connack', rc: connack.returnCode !== undefined ? connack.returnCode :
         connack.reasonCode || 0, session_present: !!connack.sessionPresent });

  for (const s of o.subs) {
    const granted = await client.subscribeAsync(s.filter, { qos: s.qos });
    emit({ ev: 'suback', filter: s.filter, granted: granted.length ? granted[0].qos : -1 });
  }
  emit({ ev: 'ready' });
  for (const p of o.pubs) {
    const popts = { qos: p.qos, retain: p.retain };
    if (o.pubProps) popts.properties = propsIn(o.pubProps);
    await client.publishAsync(p.topic, p.payload, popts);
    emit({ ev: 'pubdone', topic: p.topic, qos: p.qos });
  }

  if (o.burst) {
    // MQTT.js does not limit itself to the server's Receive Maximum (mosquitto
    // answers 0x97 past 20): keep at most 20 in flight, as Paho does.
    const b = o.burst;
    const window = new Set();
    for (let i = 0; i < b.n; i++) {
      const p = client.publishAsync(b.topic, String(i), { qos: b.qos });
      window.add(p);
      p.then(() => window.delete(p), () => {});
      if (window.size >= 20) await Promise.race(window);
    }
    await Promise.all(window);
    emit({ ev: 'pubdone', topic: b.topic, qos: b.qos, n: b.n });
  }

  const deadline = Date.now() + o.timeout;
  while (received.length < o.count && Date.now() < deadline) {
    await new Promise((resolve) => {
      const t = setTimeout(resolve, deadline - Date.now());
      wake = () => { clearTimeout(t); resolve(); };
    });
    wake = null;
  }
  if (received.length < o.count) {
    emit({ ev: 'error', what: 'timeout', rc: received.length });
    client.end(true);
    process.exit(1);
  }
  if (o.hang) {
    setInterval(() => {}, 1 << 30); // wait to be killed: the broker sends our will
    return;
  }
  await client.endAsync();
  emit({ ev: 'done' });
  process.exit(0);
}

main().catch((e) => {
  // A refused CONNECT: MQTT.js puts the CONNACK return/reason code in e.code.
  if (e && typeof e.code === 'number') emit({ ev: 'error', what: 'connect', rc: e.code });
  else emit({ ev: 'error', what: 'fatal', rc: String(e && e.message ? e.message : e) });
  process.exit(1);
});
