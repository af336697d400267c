# SPDX-License-Identifier: Apache-2.0
"""ThingsBoard's gateway API over MQTT against the real daemon: a device
marked as a gateway (labels {"gateway": true}) connects children (created in
its tenant, with lastConnectedGateway), posts their telemetry
({"Device A":[{"ts":..,"values":{..}}]}) and client attributes, asks for
their attributes, takes commands for them on v1/gateway/rpc and answers;
children follow the gateway's presence. A plain device may not use the
gateway topics."""
import json
import time

import pytest
import requests

from mqtt_plant import ADMIN, Client, Plant, Raw, ok, start, wait_until


@pytest.fixture
def srv(loom_factory):
    return start(loom_factory)


def gateway(p):
    d, tok = p.device("gw1", labels={"gateway": True})
    c = Client(p.loom.mqtt_port, tok)
    assert c.connect() == 0
    return d, c


def child(p, name):
    r = p.get(f"/devices?name={name}")
    return r["data"][0] if r["data"] else None


def test_mqtt_gateway_connect_telemetry_creates_children(srv):
    p = Plant(srv)
    gw, c = gateway(p)
    c.pub("v1/gateway/connect", {"device": "Sensor A", "type": "thermometer"})
    a = wait_until(lambda: child(p, "Sensor A"))
    assert a and a["state"] == "online" or wait_until(lambda: child(p, "Sensor A")["state"] == "online")
    c.pub("v1/gateway/telemetry", {"Sensor A": [{"ts": 1700000000000, "values": {"temp": 20.5}}],
                                   "Sensor B": [{"ts": 1700000001000, "values": {"temp": 30}}]})
    # durable before the PUBACK: both readable now
    res = p.select("SELECT temp FROM thermometer WHERE device = 'Sensor A'")
    assert res["series"][0]["values"][0][1] == 20.5
    res = p.select("SELECT temp FROM \"default\" WHERE device = 'Sensor B'")
    assert res["series"][0]["values"][0][1] == 30
    b = child(p, "Sensor B")
    attrs = p.get(f"/devices/{b['id']}/attributes?scope=server")
    assert gw["id"] in json.dumps(attrs)  # lastConnectedGateway
    c.pub("v1/gateway/disconnect", {"device": "Sensor A"})
    assert wait_until(lambda: child(p, "Sensor A")["state"] == "offline")
    c.close()
    assert wait_until(lambda: child(p, "Sensor B")["state"] == "offline")


def test_mqtt_gateway_attributes_and_request(srv):
    p = Plant(srv)
    _, c = gateway(p)
    c.pub("v1/gateway/attributes", {"Sensor A": {"fw": "2.0"}})
    a = wait_until(lambda: child(p, "Sensor A"))
    ok(requests.post(f"{p.api}/devices/{a['id']}/attributes/shared", json={"rate": 5}, headers=ADMIN,
                     timeout=30))
    assert c.sub("v1/gateway/attributes/response") == [1]
    assert c.sub("v1/gateway/attributes") == [1]
    c.pub("v1/gateway/attributes/request", {"id": 1, "device": "Sensor A", "client": True, "key": "fw"})
    m = c.expect_topic("v1/gateway/attributes/response")
    assert json.loads(m.payload) == {"id": 1, "device": "Sensor A", "value": "2.0"}
    c.pub("v1/gateway/attributes/request", {"id": 2, "device": "Sensor A", "client": False, "keys": ["rate"]})
    m = c.expect_topic("v1/gateway/attributes/response")
    assert json.loads(m.payload) == {"id": 2, "device": "Sensor A", "values": {"rate": 5}}
    # a shared update of a child reaches the gateway
    c.pub("v1/gateway/connect", {"device": "Sensor A"})
    time.sleep(0.2)
    ok(requests.post(f"{p.api}/devices/{a['id']}/attributes/shared", json={"rate": 6}, headers=ADMIN,
                     timeout=30))
    m = c.expect_topic("v1/gateway/attributes")
    assert json.loads(m.payload) == {"device": "Sensor A", "data": {"rate": 6}}
    c.close()


def test_mqtt_gateway_rpc_both_ways(srv):
    p = Plant(srv)
    _, c = gateway(p)
    c.pub("v1/gateway/connect", {"device": "Valve 1"})
    v = wait_until(lambda: child(p, "Valve 1"))
    assert c.sub("v1/gateway/rpc") == [1]
    cmd = ok(requests.post(f"{p.api}/devices/{v['id']}/rpc", json={"method": "open", "params": {"pct": 50},
                                                                   "timeout_ms": 60000},
                           headers=ADMIN, timeout=30), 201)
    m = c.expect_topic("v1/gateway/rpc")
    body = json.loads(m.payload)
    assert body["device"] == "Valve 1"
    assert body["data"]["id"] == cmd["id"] and body["data"]["method"] == "open"
    assert body["data"]["params"] == {"pct": 50}
    assert wait_until(lambda: p.get(f"/rpc/{cmd['id']}")["status"] == "delivered")
    c.pub("v1/gateway/rpc", {"device": "Valve 1", "id": cmd["id"], "data": {"done": True}})
    got = wait_until(lambda: (lambda r: r if r["status"] == "successful" else None)(p.get(f"/rpc/{cmd['id']}")))
    assert got["response"] == {"done": True}
    c.close()


def test_mqtt_gateway_topics_refused_to_plain_devices(srv):
    p = Plant(srv)
    _, tok = p.device("plain")
    r = Raw(srv.mqtt_port)
    assert r.connect(tok)[1][1] == 0
    r.publish("v1/gateway/telemetry", '{"X":[{"ts":1,"values":{"a":1}}]}', pid=2)
    t, body = r.read()
    assert t == 0x40 and body[2] == 0x87, body
    r.close()
    assert child(p, "X") is None
