// SPDX-License-Identifier: Apache-2.0
// Sparkplug B cross-check peer: npm sparkplug-payload (the Eclipse Tahu
// JavaScript codec) encodes one payload per datatype it supports (1..21: it
// has no array types) and prints them with the values Loom's codec must
// decode them to (Loom's decoded form: 64-bit integers and DateTime as decimal
// strings, Bytes as hex, DataSet and Template as Loom's JSON).
//   node tests/interop/spb_vectors.js              -> {"vectors":[{hex,seq,metrics:[{type,value}]}]}
//   node tests/interop/spb_vectors.js --decode HEX -> {"seq":n,"metrics":[{name,type,value}]}
//   node tests/interop/spb_vectors.js --encode JSON -> hex of encodePayload(JSON)
// Used by tests/unit/test_mqtt_spb.c and tests/integration/test_mqtt_sparkplug.py.
"use strict";
const path = require("path");
const nm = path.join(__dirname, "node_modules");
const spb = require(path.join(nm, "sparkplug-payload")).get("spBv1.0");
const Long = require(path.join(nm, "long"));

// [type, value given to sparkplug-payload, value Loom decodes]
const cases = [
  ["Int8", -128, -128],
  ["Int8", 127, 127],
  ["Int16", -32768, -32768],
  ["Int16", 1234, 1234],
  ["Int32", -2147483648, -2147483648],
  ["Int32", 2147483647, 2147483647],
  ["Int64", Long.fromString("-9223372036854775808"), "-9223372036854775808"],
  ["Int64", Long.fromString("9007199254740993"), "9007199254740993"],
  ["UInt8", 255, 255],
  ["UInt16", 65535, 65535],
  ["UInt32", 4294967295, 4294967295],
  ["UInt64", Long.fromString("18446744073709551615", true), "18446744073709551615"],
  ["Float", 1.5, 1.5],
  ["Float", -0.25, -0.25],
  ["Double", 3.141592653589793, 3.141592653589793],
  ["Boolean", true, true],
  ["Boolean", false, false],
  ["String", "h\u00e9llo \"q\"", "h\u00e9llo \"q\""],
  ["DateTime", Long.fromString("1700000000123", true), "1700000000123"],
  ["Text", "line1\nline2", "line1\nline2"],
  ["UUID", "123e4567-e89b-12d3-a456-426614174000", "123e4567-e89b-12d3-a456-426614174000"],
  ["Bytes", Buffer.from([0, 1, 254, 255]), "0001feff"],
  ["File", Buffer.from("file-content"), Buffer.from("file-content").toString("hex")],
  ["DataSet",
   {numOfColumns: 2, columns: ["id", "name"], types: ["Int32", "String"],
    rows: [[1, "a"], [-2, "b"]]},
   {columns: ["id", "name"], types: ["Int32", "String"], rows: [[1, "a"], [-2, "b"]]}],
  ["Template",
   {templateRef: "Motor", version: "v1", isDefinition: false,
    parameters: [{name: "limit", type: "Double", value: 2.5}],
    metrics: [{name: "speed", type: "Int16", value: -7}, {name: "on", type: "Boolean", value: true}]},
   {template_ref: "Motor", version: "v1", is_definition: false, parameters: {limit: 2.5},
    metrics: {speed: -7, on: true}}],
];

function plain(type, v) {
  if (v === null || v === undefined) return null;
  if (Long.isLong(v)) return v.toString();
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) return Buffer.from(v).toString("hex");
  // sparkplug-payload 1.0.3 returns UInt32 through Long.toInt(): signed 32-bit.
  if (type === "UInt32" && typeof v === "number" && v < 0) return v + 4294967296;
  if (typeof v === "object") return JSON.parse(JSON.stringify(v, (k, x) => Long.isLong(x) ? x.toString() : x));
  return v;
}

const args = process.argv.slice(2);
if (args[0] === "--decode") {
  const p = spb.decodePayload(Buffer.from(args[1], "hex"));
  const out = {seq: p.seq === undefined ? null : Number(plain("UInt64", p.seq)),
               timestamp: p.timestamp === undefined ? null : plain("UInt64", p.timestamp),
               metrics: (p.metrics || []).map((m) => ({name: m.name === undefined ? null : m.name, type: m.type,
                                                       value: plain(m.type, m.value),
                                                       alias: m.alias === undefined ? null : plain("UInt64", m.alias)}))};
  process.stdout.write(JSON.stringify(out) + "\n");
} else if (args[0] === "--encode") {
  const obj = JSON.parse(args[1]);
  for (const m of obj.metrics || []) {
    // "Long:<decimal>" strings stand for 64-bit values JSON numbers cannot hold
    if (typeof m.value === "string" && m.value.startsWith("Long:")) m.value = Long.fromString(m.value.slice(5), m.type.startsWith("U") || m.type === "DateTime");
    if (m.type === "Bytes" && typeof m.value === "string") m.value = Buffer.from(m.value, "hex");
  }
  process.stdout.write(Buffer.from(spb.encodePayload(obj)).toString("hex") + "\n");
} else {
  const vectors = [];
  let seq = 0;
  for (const [type, given, want] of cases) {
    const payload = {timestamp: 1700000000000 + seq, seq: seq % 256,
                     metrics: [{name: "m/" + type, type: type, value: given, timestamp: 1700000000500}]};
    vectors.push({hex: Buffer.from(spb.encodePayload(payload)).toString("hex"), seq: seq % 256,
                  metrics: [{type: type, value: want}]});
    seq++;
  }
  // is_null, and a birth-like payload with several metrics and aliases
  vectors.push({hex: Buffer.from(spb.encodePayload({timestamp: 1, seq: 200, metrics: [
    {name: "nothing", type: "Int32", value: null},
    {name: "bdSeq", type: "UInt64", value: 3},
    {name: "Node Control/Rebirth", type: "Boolean", value: false, alias: 1},
  ]})).toString("hex"), seq: 200, metrics: [
    {type: "Int32", value: null}, {type: "UInt64", value: 3}, {type: "Boolean", value: false}]});
  process.stdout.write(JSON.stringify({vectors}) + "\n");
}
