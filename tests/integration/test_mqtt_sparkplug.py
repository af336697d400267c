# SPDX-License-Identifier: Apache-2.0
"""Sparkplug B 3.0 against the real daemon (`loom serve --mqtt`): an edge node
simulated with paho (payloads encoded by hand below, from the specification's
wire format, and by npm sparkplug-payload when node is available) publishes
NBIRTH/DBIRTH/NDATA/DDATA; the values are queryable with their types; a seq
gap and DATA before a birth make the host publish an NCMD rebirth; births are
retained under $sparkplug/certificates/; the host's STATE is retained;
deaths take devices offline; registry commands become DCMD with the birth's
datatype."""
import json
import os
import shutil
import struct
import subprocess
import time

import pytest
import requests

from mqtt_plant import ADMIN, Client, Plant, ok, start, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
VECTORS_JS = os.path.join(HERE, "..", "interop", "spb_vectors.js")

# ---- a minimal protobuf writer/reader for Sparkplug B payloads ----

INT8, INT16, INT32, INT64, UINT8, UINT16, UINT32, UINT64 = 1, 2, 3, 4, 5, 6, 7, 8
FLOAT, DOUBLE, BOOLEAN, STRING, DATETIME = 9, 10, 11, 12, 13


def varint(n):
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(num, wt, data):
    return varint(num << 3 | wt) + data


def ld(num, data):
    data = data.encode() if isinstance(data, str) else data
    return field(num, 2, varint(len(data)) + data)


def metric(name=None, alias=None, dt=None, value=None, ts=None, is_null=False):
    b = b""
    if name is not None:
        b += ld(1, name)
    if alias is not None:
        b += field(2, 0, varint(alias))
    if ts is not None:
        b += field(3, 0, varint(ts))
    if dt is not None:
        b += field(4, 0, varint(dt))
    if is_null:
        b += field(7, 0, varint(1))
    elif value is not None:
        if dt in (INT8, INT16, INT32, UINT8, UINT16):
            b += field(10, 0, varint(value & 0xFFFFFFFF))
        elif dt in (INT64, UINT32, UINT64, DATETIME):
            b += field(11, 0, varint(value))
        elif dt == FLOAT:
            b += field(12, 5, struct.pack("<f", value))
        elif dt == DOUBLE:
            b += field(13, 1, struct.pack("<d", value))
        elif dt == BOOLEAN:
            b += field(14, 0, varint(1 if value else 0))
        elif dt == STRING:
            b += ld(15, value)
        else:
            raise ValueError(dt)
    return b


def payload(metrics, seq=None, ts=None):
    b = field(1, 0, varint(ts if ts is not None else int(time.time() * 1000)))
    for m in metrics:
        b += ld(2, m)
    if seq is not None:
        b += field(3, 0, varint(seq))
    return b


def read_fields(b):
    """[(num, wire type, value)] of one message (varint ints, bytes for LEN)."""
    out, i = [], 0
    while i < len(b):
        key, i = _rd_varint(b, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _rd_varint(b, i)
        elif wt == 2:
            n, i = _rd_varint(b, i)
            v, i = b[i:i + n], i + n
        elif wt == 1:
            v, i = b[i:i + 8], i + 8
        elif wt == 5:
            v, i = b[i:i + 4], i + 4
        else:
            raise ValueError(wt)
        out.append((num, wt, v))
    return out


def _rd_varint(b, i):
    n, s = 0, 0
    while True:
        c = b[i]
        i += 1
        n |= (c & 0x7F) << s
        s += 7
        if not c & 0x80:
            return n, i


def decode_metrics(b):
    """{name: (datatype, raw value field number, raw value)} of a payload."""
    res = {}
    for num, _, v in read_fields(b):
        if num != 2:
            continue
        f = {n: val for n, _, val in read_fields(v)}
        val = next(((n, f[n]) for n in range(10, 20) if n in f), (None, None))
        res[f.get(1, b"").decode()] = (f.get(4), val[0], val[1])
    return res


def birth_metrics(bdseq=0):
    return [
        metric("bdSeq", dt=UINT64, value=bdseq),
        metric("Node Control/Rebirth", dt=BOOLEAN, value=False),
        metric("Line/Temp", alias=1, dt=DOUBLE, value=20.5),
        metric("count", alias=2, dt=INT32, value=-5),
        metric("on", alias=3, dt=BOOLEAN, value=True),
        metric("label", alias=4, dt=STRING, value="idle"),
        metric("big", alias=5, dt=UINT64, value=(1 << 64) - 1),
        metric("small", alias=6, dt=INT8, value=-100),
        metric("nothing", alias=7, dt=INT32, is_null=True),
    ]


@pytest.fixture
def srv(loom_factory):
    return start(loom_factory)


def edge(srv, plant, name="edge1"):
    """The edge node's MQTT connection: a registry device's access token."""
    _, tok = plant.device(name)
    c = Client(srv.mqtt_port, tok)
    assert c.connect() == 0
    return c


def select(plant, q):
    return plant.select(q)


def devices_by_name(plant):
    r = plant.get(f"/devices?tenant_id={plant.tenant_id}&limit=1000")
    items = r["items"] if isinstance(r, dict) and "items" in r else r.get("data", r) if isinstance(r, dict) else r
    return {d["name"]: d for d in items}


def test_mqtt_sparkplug_state_retained(srv):
    p = Plant(srv)
    c = edge(srv, p)
    assert c.sub("spBv1.0/STATE/loom") == [1]
    m = c.expect_topic("spBv1.0/STATE/loom")
    assert m.retain
    st = json.loads(m.payload)
    assert st["online"] is True and isinstance(st["timestamp"], int)
    c.close()


def test_mqtt_sparkplug_birth_and_data_stored_with_types(srv):
    p = Plant(srv)
    c = edge(srv, p)
    c.pub("spBv1.0/G1/NBIRTH/E1", payload(birth_metrics(), seq=0, ts=1700000000000))
    res = select(p, "SELECT \"Line/Temp\", \"count\", \"on\", \"label\", \"big\", \"small\" "
                    "FROM sparkplug WHERE device = 'G1:E1'")
    row = res["series"][0]["values"][0][1:]
    assert row[:4] + row[5:] == [20.5, -5, True, "idle", -100]
    assert float(row[4]) == float((1 << 64) - 1)  # UInt64 above INT64_MAX: stored as a float
    # NDATA by alias only (no names, no datatypes)
    c.pub("spBv1.0/G1/NDATA/E1", payload([metric(alias=1, value=None) + field(13, 1, struct.pack("<d", 21.25)),
                                          metric(alias=2) + field(10, 0, varint(-7 & 0xFFFFFFFF)),
                                          metric(alias=6) + field(10, 0, varint(-1 & 0xFFFFFFFF))],
                                         seq=1, ts=1700000001000))
    res = select(p, "SELECT \"Line/Temp\", \"count\", \"small\" FROM sparkplug "
                    "WHERE device = 'G1:E1' AND time >= 1700000001000ms")
    assert res["series"][0]["values"][0][1:] == [21.25, -7, -1]
    # metric timestamps are the point times
    c.pub("spBv1.0/G1/NDATA/E1", payload([metric(alias=2, ts=1700000005000) + field(10, 0, varint(9))],
                                         seq=2, ts=1700000009000))
    res = select(p, "SELECT \"count\" FROM sparkplug WHERE device = 'G1:E1' AND time = 1700000005000ms")
    assert res["series"][0]["values"][0][1] == 9
    c.close()


def test_mqtt_sparkplug_device_birth_data(srv):
    p = Plant(srv)
    c = edge(srv, p)
    c.pub("spBv1.0/G1/NBIRTH/E1", payload(birth_metrics(), seq=0))
    c.pub("spBv1.0/G1/DBIRTH/E1/D1", payload([metric("rpm", alias=1, dt=UINT16, value=1500)], seq=1))
    c.pub("spBv1.0/G1/DDATA/E1/D1", payload([metric(alias=1) + field(10, 0, varint(1600))], seq=2,
                                            ts=1700000002000))
    res = select(p, "SELECT rpm FROM sparkplug WHERE device = 'G1:E1:D1' ORDER BY time")
    assert [v[1] for v in res["series"][0]["values"]] == [1600, 1500]  # DDATA at 1700000002000
    assert "G1:E1:D1" in devices_by_name(p)
    c.close()


def test_mqtt_sparkplug_seq_gap_requests_rebirth(srv):
    p = Plant(srv)
    c = edge(srv, p)
    assert c.sub("spBv1.0/G1/NCMD/E1") == [1]
    c.pub("spBv1.0/G1/NBIRTH/E1", payload(birth_metrics(), seq=0))
    c.pub("spBv1.0/G1/NDATA/E1", payload([metric(alias=2) + field(10, 0, varint(1))], seq=1))
    assert c.none(0.3) is None  # in sequence: no command
    c.pub("spBv1.0/G1/NDATA/E1", payload([metric(alias=2) + field(10, 0, varint(2))], seq=5))
    m = c.expect_topic("spBv1.0/G1/NCMD/E1")
    got = decode_metrics(m.payload)
    assert got["Node Control/Rebirth"] == (BOOLEAN, 14, 1)
    c.close()


def test_mqtt_sparkplug_data_before_birth_requests_rebirth(srv):
    p = Plant(srv)
    c = edge(srv, p)
    assert c.sub("spBv1.0/G2/NCMD/E9") == [1]
    c.pub("spBv1.0/G2/NDATA/E9", payload([metric("x", dt=INT32, value=1)], seq=3))
    m = c.expect_topic("spBv1.0/G2/NCMD/E9")
    assert decode_metrics(m.payload)["Node Control/Rebirth"][2] == 1
    assert "series" not in select(p, "SELECT x FROM sparkplug")  # not stored without a birth
    c.close()


def test_mqtt_sparkplug_certificates_retained(srv):
    p = Plant(srv)
    c = edge(srv, p)
    birth = payload(birth_metrics(), seq=0)
    dbirth = payload([metric("rpm", alias=1, dt=UINT16, value=1)], seq=1)
    c.pub("spBv1.0/G1/NBIRTH/E1", birth)
    c.pub("spBv1.0/G1/DBIRTH/E1/D1", dbirth)
    w = edge(srv, p, "watcher")
    assert w.sub("$sparkplug/certificates/spBv1.0/G1/#") == [1]
    got = {}
    for _ in range(2):
        m = w.expect()
        assert m.retain
        got[m.topic] = bytes(m.payload)
    assert got == {"$sparkplug/certificates/spBv1.0/G1/NBIRTH/E1": birth,
                   "$sparkplug/certificates/spBv1.0/G1/DBIRTH/E1/D1": dbirth}
    c.close()
    w.close()


def test_mqtt_sparkplug_death_takes_devices_offline(srv):
    p = Plant(srv)
    c = edge(srv, p)
    c.pub("spBv1.0/G1/NBIRTH/E1", payload(birth_metrics(bdseq=4), seq=0))
    c.pub("spBv1.0/G1/DBIRTH/E1/D1", payload([metric("rpm", alias=1, dt=UINT16, value=1)], seq=1))
    devs = wait_until(lambda: (lambda d: d if "G1:E1:D1" in d else None)(devices_by_name(p)))
    assert wait_until(lambda: p.get(f"/devices/{devs['G1:E1:D1']['id']}")["state"] == "online",
                      timeout=5)
    c.pub("spBv1.0/G1/NDEATH/E1", payload([metric("bdSeq", dt=UINT64, value=4)]))
    assert wait_until(lambda: p.get(f"/devices/{devs['G1:E1']['id']}")["state"] == "offline",
                      timeout=5)
    c.close()


def test_mqtt_sparkplug_command_becomes_dcmd(srv):
    p = Plant(srv)
    c = edge(srv, p)
    assert c.sub("spBv1.0/G1/DCMD/E1/D1") == [1]
    c.pub("spBv1.0/G1/NBIRTH/E1", payload(birth_metrics(), seq=0))
    c.pub("spBv1.0/G1/DBIRTH/E1/D1", payload([metric("setpoint", alias=1, dt=INT16, value=5)], seq=1))
    dev = wait_until(lambda: devices_by_name(p).get("G1:E1:D1"))
    cmd = ok(requests.post(f"{p.api}/devices/{dev['id']}/rpc", json={"method": "setpoint", "params": -12,
                                                                      "oneway": True},
                           headers=ADMIN, timeout=30), 201)
    m = c.expect_topic("spBv1.0/G1/DCMD/E1/D1")
    got = decode_metrics(m.payload)
    assert got["setpoint"] == (INT16, 10, (-12) & 0xFFFFFFFF)
    assert wait_until(lambda: p.get(f"/rpc/{cmd['id']}")["status"] == "successful")
    # a metric the birth does not have fails the command
    bad = ok(requests.post(f"{p.api}/devices/{dev['id']}/rpc", json={"method": "nope", "params": 1,
                                                                      "oneway": True},
                           headers=ADMIN, timeout=30), 201)
    assert wait_until(lambda: p.get(f"/rpc/{bad['id']}")["status"] == "failed")
    c.close()


@pytest.mark.skipif(shutil.which("node") is None or
                    not os.path.isdir(os.path.join(HERE, "..", "interop", "node_modules", "sparkplug-payload")),
                    reason="node or sparkplug-payload missing")
def test_mqtt_sparkplug_payloads_from_sparkplug_payload_stored(srv):
    p = Plant(srv)
    c = edge(srv, p)
    birth = {"timestamp": 1700000000000, "seq": 0, "metrics": [
        {"name": "bdSeq", "type": "UInt64", "value": 0},
        {"name": "i8", "type": "Int8", "value": -8},
        {"name": "i64", "type": "Int64", "value": "Long:-9000000000"},
        {"name": "u32", "type": "UInt32", "value": 4000000000},
        {"name": "f", "type": "Float", "value": 1.5},
        {"name": "d", "type": "Double", "value": 2.25},
        {"name": "b", "type": "Boolean", "value": False},
        {"name": "s", "type": "String", "value": "txt"},
        {"name": "t", "type": "DateTime", "value": "Long:1700000000123"},
        {"name": "ds", "type": "DataSet", "value": {"numOfColumns": 1, "columns": ["c"], "types": ["Int32"],
                                                    "rows": [[3]]}},
    ]}
    hexp = subprocess.run(["node", VECTORS_JS, "--encode", json.dumps(birth)], check=True,
                          capture_output=True, text=True).stdout.strip()
    c.pub("spBv1.0/G7/NBIRTH/N7", bytes.fromhex(hexp))
    res = select(p, "SELECT i8, i64, u32, f, d, b, s, t, ds FROM sparkplug WHERE device = 'G7:N7'")
    row = res["series"][0]["values"][0][1:]
    assert row[:8] == [-8, -9000000000, 4000000000, 1.5, 2.25, False, "txt", 1700000000123]
    assert json.loads(row[8]) == {"columns": ["c"], "types": ["Int32"], "rows": [[3]]}
    c.close()


def test_mqtt_sparkplug_command_to_node_becomes_ncmd(srv):
    p = Plant(srv)
    c = edge(srv, p)
    assert c.sub("spBv1.0/G1/NCMD/E1") == [1]
    c.pub("spBv1.0/G1/NBIRTH/E1", payload(birth_metrics(), seq=0))
    dev = wait_until(lambda: devices_by_name(p).get("G1:E1"))
    cmd = ok(requests.post(f"{p.api}/devices/{dev['id']}/rpc",
                           json={"method": "Line/Temp", "params": 30.5, "oneway": True},
                           headers=ADMIN, timeout=30), 201)
    m = c.expect_topic("spBv1.0/G1/NCMD/E1")
    dt, num, raw = decode_metrics(m.payload)["Line/Temp"]
    assert (dt, num, struct.unpack("<d", raw)[0]) == (DOUBLE, 13, 30.5)
    assert wait_until(lambda: p.get(f"/rpc/{cmd['id']}")["status"] == "successful")
    # a value that does not fit the birth's datatype fails the command
    bad = ok(requests.post(f"{p.api}/devices/{dev['id']}/rpc",
                           json={"method": "small", "params": 1000, "oneway": True},
                           headers=ADMIN, timeout=30), 201)
    assert wait_until(lambda: p.get(f"/rpc/{bad['id']}")["status"] == "failed")
    c.close()


def test_mqtt_sparkplug_will_ndeath_takes_node_offline(srv):
    p = Plant(srv)
    _, tok = p.device("edge1")
    c = Client(srv.mqtt_port, tok)
    # the edge node's will is its NDEATH with the bdSeq of the coming NBIRTH
    c.c.will_set("spBv1.0/G3/NDEATH/E3", payload([metric("bdSeq", dt=UINT64, value=7)]), qos=1)
    assert c.connect() == 0
    c.pub("spBv1.0/G3/NBIRTH/E3", payload(birth_metrics(bdseq=7), seq=0))
    dev = wait_until(lambda: devices_by_name(p).get("G3:E3"))
    assert wait_until(lambda: p.get(f"/devices/{dev['id']}")["state"] == "online", timeout=5)
    w = edge(srv, p, "watcher")
    assert w.sub("spBv1.0/G3/NDEATH/E3") == [1]
    c.c.loop_stop()
    c.c.socket().close()  # gone without DISCONNECT: the broker sends the will
    assert w.expect_topic("spBv1.0/G3/NDEATH/E3").topic == "spBv1.0/G3/NDEATH/E3"
    assert wait_until(lambda: p.get(f"/devices/{dev['id']}")["state"] == "offline", timeout=5)
    w.close()


def test_mqtt_sparkplug_stale_will_ignored(srv):
    """The will (NDEATH bdSeq 1) of an older connection arrives after the node
    was born again with bdSeq 2: the node stays online."""
    p = Plant(srv)
    c = edge(srv, p)
    c.pub("spBv1.0/G4/NBIRTH/E4", payload(birth_metrics(bdseq=2), seq=0))
    dev = wait_until(lambda: devices_by_name(p).get("G4:E4"))
    assert wait_until(lambda: p.get(f"/devices/{dev['id']}")["state"] == "online", timeout=5)
    c.pub("spBv1.0/G4/NDEATH/E4", payload([metric("bdSeq", dt=UINT64, value=1)]))
    c.pub("spBv1.0/G4/NDATA/E4", payload([metric(alias=2) + field(10, 0, varint(77))], seq=1,
                                         ts=1700000000000))
    res = select(p, "SELECT \"count\" FROM sparkplug WHERE device = 'G4:E4' AND time = 1700000000000ms")
    assert res["series"][0]["values"][0][1] == 77  # still a live session: stored
    time.sleep(1.5)
    assert p.get(f"/devices/{dev['id']}")["state"] == "online"
    c.close()


def test_mqtt_sparkplug_not_a_payload_refused(srv):
    from mqtt_plant import Raw
    p = Plant(srv)
    _, tok = p.device("edge1")
    r = Raw(srv.mqtt_port)
    t, body = r.connect(tok)
    assert t == 0x20 and body[1] == 0, body
    r.publish("spBv1.0/G1/NDATA/E1", b"\x0b\xff", pid=9)  # a protobuf group: not Sparkplug
    t, body = r.read()
    assert t == 0x40 and body[:2] == b"\x00\x09" and body[2] == 0x99, body
    r.close()


def test_mqtt_sparkplug_state_death_at_stop(srv):
    p = Plant(srv)
    c = edge(srv, p)
    assert c.sub("spBv1.0/STATE/loom") == [1]
    assert json.loads(c.expect_topic("spBv1.0/STATE/loom").payload)["online"] is True
    srv.stop()
    m = c.expect_topic("spBv1.0/STATE/loom", timeout=3)
    st = json.loads(m.payload)
    assert st["online"] is False and isinstance(st["timestamp"], int)
    c.c.loop_stop()


def test_mqtt_sparkplug_float_stored_as_its_decimal(srv):
    p = Plant(srv)
    c = edge(srv, p)
    c.pub("spBv1.0/G6/NBIRTH/E6", payload([metric("bdSeq", dt=UINT64, value=0),
                                           metric("f", dt=FLOAT, value=0.1)], seq=0))
    res = select(p, "SELECT f FROM sparkplug WHERE device = 'G6:E6'")
    assert res["series"][0]["values"][0][1] == 0.1  # not 0.10000000149011612
    c.close()


def test_mqtt_sparkplug_null_and_transient_not_stored(srv):
    p = Plant(srv)
    c = edge(srv, p)
    transient = metric("tmp", dt=INT32, value=5) + field(6, 0, varint(1))
    c.pub("spBv1.0/G5/NBIRTH/E5", payload(birth_metrics() + [transient], seq=0))
    res = select(p, "SELECT \"count\" FROM sparkplug WHERE device = 'G5:E5'")
    assert res["series"][0]["values"][0][1] == -5
    assert "series" not in select(p, "SELECT \"nothing\" FROM sparkplug")
    assert "series" not in select(p, "SELECT \"tmp\" FROM sparkplug")
    c.close()


def test_mqtt_sparkplug_tenants_isolated_qos0(srv):
    """Two tenants' edge nodes with the same group and node ids: each birth's
    aliases resolve in its own tenant; Sparkplug's usual QoS 0 DATA is stored."""
    a, b = Plant(srv, tenant="Acme"), Plant(srv, tenant="Beta")
    ca, cb = edge(srv, a), edge(srv, b)
    ca.pub("spBv1.0/G/NBIRTH/E", payload([metric("bdSeq", dt=UINT64, value=0),
                                         metric("temp", alias=1, dt=DOUBLE, value=1.0)], seq=0))
    cb.pub("spBv1.0/G/NBIRTH/E", payload([metric("bdSeq", dt=UINT64, value=0),
                                         metric("level", alias=1, dt=INT32, value=-1)], seq=0))
    ca.pub("spBv1.0/G/NDATA/E", payload([metric(alias=1) + field(13, 1, struct.pack("<d", 2.5))], seq=1,
                                        ts=1700000000000), qos=0)
    cb.pub("spBv1.0/G/NDATA/E", payload([metric(alias=1) + field(10, 0, varint(-9 & 0xFFFFFFFF))], seq=1,
                                        ts=1700000000000), qos=0)
    q = "SELECT * FROM sparkplug WHERE time = 1700000000000ms"
    ra = wait_until(lambda: a.select(q).get("series"))
    rb = wait_until(lambda: b.select(q).get("series"))
    cols_a, cols_b = ra[0]["columns"], rb[0]["columns"]
    assert ra[0]["values"][0][cols_a.index("temp")] == 2.5 and "level" not in cols_a
    assert rb[0]["values"][0][cols_b.index("level")] == -9 and "temp" not in cols_b
    ca.close()
    cb.close()
