# SPDX-License-Identifier: Apache-2.0
"""ThingsBoard's device API over MQTT against the real daemon (`loom serve
--mqtt`), with paho: telemetry stored in the tenant's database and
acknowledged (QoS 1) only once durable, bad JSON refused (PUBACK 0x99 with a
reason string at 5, the connection closed at 3.1.1), client attributes,
attribute requests and responses, shared attribute updates pushed, commands
from the registry delivered with their status kept, the device's answers,
client-side requests, and online state following the connection."""
import json
import queue
import time

import pytest
import requests

from mqtt_plant import ADMIN, V311, V5, Client, Plant, Raw, ok, reason_string, start, wait_until


@pytest.fixture
def srv(loom_factory):
    return start(loom_factory)


def test_mqtt_device_telemetry_stored_and_acked(srv):
    p = Plant(srv)
    _, tok = p.device("b1")
    c = Client(srv.mqtt_port, tok)
    assert c.connect() == 0
    c.pub("v1/devices/me/telemetry", {"temp": 21.5, "on": True})
    # acknowledged only once durable: readable at once
    res = p.select("SELECT last(temp), last(\"on\") FROM boiler WHERE device = 'b1'")
    assert res["series"][0]["values"][0][1:] == [21.5, True]
    c.pub("v1/devices/me/telemetry", [{"ts": 1700000000000, "values": {"temp": 20}},
                                      {"ts": 1700000001000, "values": {"temp": 19}}])
    res = p.select("SELECT temp FROM boiler WHERE time < 1700000002000ms")
    assert [v[1] for v in res["series"][0]["values"]] == [20, 19]
    c.close()


def test_mqtt_device_bad_json_level5_puback_0x99_with_reason(srv):
    p = Plant(srv)
    _, tok = p.device("b1")
    r = Raw(srv.mqtt_port)
    t, body = r.connect(tok)
    assert t == 0x20 and body[1] == 0, body
    r.publish("v1/devices/me/telemetry", '{"temp": ', pid=7)
    t, body = r.read()
    assert t == 0x40 and body[:2] == b"\x00\x07" and body[2] == 0x99, body
    assert "invalid JSON" in reason_string(body[4:4 + body[3]])
    # the connection stays usable
    r.publish("v1/devices/me/telemetry", '{"temp": 3}', pid=8)
    t, body = r.read()
    assert t == 0x40 and body[:2] == b"\x00\x08" and (len(body) == 2 or body[2] == 0), body
    assert p.select("SELECT count(temp) FROM boiler")["series"][0]["values"][0][1] == 1
    r.close()


def _publish_packet(topic, payload, pid):
    from mqtt_plant import _str
    return bytes([0x32]) + bytes([len(_str(topic)) + 3 + len(payload)]) + _str(topic) + pid.to_bytes(2, "big") + b"\x00" + payload


def test_mqtt_device_type_conflict_refused_not_acknowledged(srv):
    """A value the store refuses (a field type conflict) is never acknowledged as
    stored: its PUBACK says 0x99 with the store's reason, while the publishes
    batched with it are stored and acknowledged."""
    p = Plant(srv)
    _, tok = p.device("b1")
    r = Raw(srv.mqtt_port)
    t, body = r.connect(tok)
    assert t == 0x20 and body[1] == 0, body
    r.publish("v1/devices/me/telemetry", '{"temp": 1.5}', pid=1)
    t, body = r.read()
    assert t == 0x40 and body[:2] == b"\x00\x01" and (len(body) == 2 or body[2] == 0), body
    # three publishes in one segment: they land in one batch; the middle one conflicts
    r.s.sendall(_publish_packet("v1/devices/me/telemetry", b'{"temp": 2.5}', 2) +
                _publish_packet("v1/devices/me/telemetry", b'{"temp": "hot"}', 3) +
                _publish_packet("v1/devices/me/telemetry", b'{"pressure": 4}', 4))
    acks = {}
    for _ in range(3):
        t, body = r.read()
        assert t == 0x40, (t, body)
        acks[int.from_bytes(body[:2], "big")] = body
    assert len(acks[2]) == 2 or acks[2][2] == 0, acks
    assert acks[3][2] == 0x99, acks
    assert b"\x1f" in acks[3] and b"field type conflict" in acks[3], acks[3]  # Reason String
    assert len(acks[4]) == 2 or acks[4][2] == 0, acks
    assert p.select("SELECT count(temp) FROM boiler")["series"][0]["values"][0][1] == 2
    assert p.select("SELECT count(pressure) FROM boiler")["series"][0]["values"][0][1] == 1
    r.close()


def test_mqtt_device_bad_json_level311_closes_connection(srv):
    p = Plant(srv)
    _, tok = p.device("b1")
    r = Raw(srv.mqtt_port)
    t, body = r.connect(tok, level=4)
    assert t == 0x20 and body[1] == 0, body
    r.publish("v1/devices/me/telemetry", '{"temp": null}', pid=3, level=4)
    assert r.read() is None  # closed without a PUBACK
    r.close()
    assert "series" not in p.select("SELECT count(temp) FROM boiler")


def test_mqtt_device_client_attributes_and_request_response(srv):
    p = Plant(srv)
    d, tok = p.device("b1")
    ok(requests.post(f"{p.api}/devices/{d['id']}/attributes/shared", json={"target": 60},
                     headers=ADMIN, timeout=30))
    c = Client(srv.mqtt_port, tok)
    assert c.connect() == 0
    c.pub("v1/devices/me/attributes", {"fw": "1.2", "model": "X"})
    attrs = p.get(f"/devices/{d['id']}/attributes?scope=client")
    assert json.dumps(attrs).count("1.2") == 1, attrs
    assert c.sub("v1/devices/me/attributes/response/+") == [1]
    c.pub("v1/devices/me/attributes/request/1", {"clientKeys": "fw", "sharedKeys": "target"})
    m = c.expect_topic("v1/devices/me/attributes/response/1")
    assert json.loads(m.payload) == {"client": {"fw": "1.2"}, "shared": {"target": 60}}
    c.pub("v1/devices/me/attributes/request/2", "")
    m = c.expect_topic("v1/devices/me/attributes/response/2")
    assert json.loads(m.payload) == {"client": {"fw": "1.2", "model": "X"}, "shared": {"target": 60}}
    c.close()


def test_mqtt_device_shared_attribute_updates_pushed(srv):
    p = Plant(srv)
    d, tok = p.device("b1")
    other, otok = p.device("b2")
    c = Client(srv.mqtt_port, tok)
    o = Client(srv.mqtt_port, otok)
    assert c.connect() == 0 and o.connect() == 0
    assert c.sub("v1/devices/me/attributes") == [1]
    assert o.sub("v1/devices/me/attributes") == [1]
    ok(requests.post(f"{p.api}/devices/{d['id']}/attributes/shared", json={"target": 65},
                     headers=ADMIN, timeout=30))
    m = c.expect_topic("v1/devices/me/attributes")
    assert json.loads(m.payload) == {"target": 65}
    ok(requests.delete(f"{p.api}/devices/{d['id']}/attributes/shared?keys=target", headers=ADMIN,
                       timeout=30))
    m = c.expect_topic("v1/devices/me/attributes")
    assert json.loads(m.payload) == {"deleted": ["target"]}
    # server attributes are not pushed; the other device hears nothing
    ok(requests.post(f"{p.api}/devices/{d['id']}/attributes/server", json={"x": 1},
                     headers=ADMIN, timeout=30))
    assert c.none(0.3) is None
    assert o.none(0.1) is None
    c.close()
    o.close()


def rpc(p, dev_id, **body):
    return ok(requests.post(f"{p.api}/devices/{dev_id}/rpc", json=body, headers=ADMIN, timeout=30), 201)


def test_mqtt_device_server_rpc_delivered_answered_status(srv):
    p = Plant(srv)
    d, tok = p.device("b1")
    queued = rpc(p, d["id"], method="setValve", params={"open": True}, timeout_ms=60000)
    c = Client(srv.mqtt_port, tok)
    assert c.connect() == 0
    assert c.sub("v1/devices/me/rpc/request/+") == [1]
    m = c.expect()  # the command queued before the device came
    assert m.topic == f"v1/devices/me/rpc/request/{queued['id']}"
    assert json.loads(m.payload) == {"method": "setValve", "params": {"open": True}}
    assert wait_until(lambda: p.get(f"/rpc/{queued['id']}")["status"] == "delivered")
    c.pub(f"v1/devices/me/rpc/response/{queued['id']}", {"ok": 1})
    got = wait_until(lambda: (lambda r: r if r["status"] == "successful" else None)(p.get(f"/rpc/{queued['id']}")))
    assert got["response"] == {"ok": 1}
    # sent while connected: delivered at once; one-way is successful once handed over
    one = rpc(p, d["id"], method="blink", oneway=True)
    m = c.expect()
    assert m.topic == f"v1/devices/me/rpc/request/{one['id']}"
    assert wait_until(lambda: p.get(f"/rpc/{one['id']}")["status"] == "successful")
    c.close()


def test_mqtt_device_rpc_waits_for_subscription(srv):
    p = Plant(srv)
    d, tok = p.device("b1")
    c = Client(srv.mqtt_port, tok)
    assert c.connect() == 0
    cmd = rpc(p, d["id"], method="m", timeout_ms=60000)
    time.sleep(0.3)
    assert p.get(f"/rpc/{cmd['id']}")["status"] == "queued"  # not subscribed: not taken
    assert c.sub("v1/devices/me/rpc/request/+") == [1]
    assert c.expect().topic == f"v1/devices/me/rpc/request/{cmd['id']}"
    c.close()


def _persistent_device(port, tok, cid):
    import paho.mqtt.client as paho
    msgs, connacks = queue.Queue(), queue.Queue()
    c = paho.Client(client_id=cid, protocol=paho.MQTTv311, clean_session=False)
    c.username_pw_set(tok)
    c.on_connect = lambda cl, u, flags, rc: connacks.put((flags.get("session present"), rc))
    c.on_message = lambda cl, u, m: msgs.put(m)
    c.connect("127.0.0.1", port, 30)
    c.loop_start()
    return c, msgs, connacks.get(timeout=10)


def test_mqtt_device_rpc_follows_resume_and_unsubscribe(srv):
    """A device that resumes its session without subscribing again still gets
    its commands (the session kept the subscription); after it unsubscribes,
    commands wait (queued, not delivered) instead of being marked delivered."""
    p = Plant(srv)
    d, tok = p.device("b1")
    c, msgs, (present, rc) = _persistent_device(srv.mqtt_port, tok, "b1-persistent")
    assert rc == 0 and not present
    c.subscribe("v1/devices/me/rpc/request/+", 1)
    time.sleep(0.3)
    c.disconnect()
    c.loop_stop()
    c, msgs, (present, rc) = _persistent_device(srv.mqtt_port, tok, "b1-persistent")
    assert rc == 0 and present
    cmd = rpc(p, d["id"], method="resumed", timeout_ms=60000)
    m = msgs.get(timeout=10)
    assert m.topic == f"v1/devices/me/rpc/request/{cmd['id']}", m.topic
    assert wait_until(lambda: p.get(f"/rpc/{cmd['id']}")["status"] == "delivered")
    c.unsubscribe("v1/devices/me/rpc/request/+")
    time.sleep(0.3)
    cmd2 = rpc(p, d["id"], method="after-unsubscribe", timeout_ms=60000)
    time.sleep(0.5)
    assert p.get(f"/rpc/{cmd2['id']}")["status"] == "queued"
    assert msgs.empty()
    c.disconnect()
    c.loop_stop()


def test_mqtt_device_client_side_rpc(srv):
    p = Plant(srv)
    _, tok = p.device("b1")
    c = Client(srv.mqtt_port, tok)
    assert c.connect() == 0
    assert c.sub("v1/devices/me/rpc/response/+") == [1]
    before = int(time.time() * 1000)
    c.pub("v1/devices/me/rpc/request/5", {"method": "getCurrentTime", "params": {}})
    m = c.expect_topic("v1/devices/me/rpc/response/5")
    assert json.loads(m.payload)["time"] >= before
    c.pub("v1/devices/me/rpc/request/6", {"method": "nope", "params": {}})
    m = c.expect_topic("v1/devices/me/rpc/response/6")
    assert json.loads(m.payload)["error"] == "unsupported method"
    c.close()


def test_mqtt_device_online_follows_connection(srv):
    p = Plant(srv)
    d, tok = p.device("b1")
    assert p.get(f"/devices/{d['id']}")["state"] == "offline"
    c = Client(srv.mqtt_port, tok)
    assert c.connect() == 0
    assert wait_until(lambda: p.get(f"/devices/{d['id']}")["state"] == "online", timeout=5)
    c.close()
    assert wait_until(lambda: p.get(f"/devices/{d['id']}")["state"] == "offline", timeout=5)


def test_mqtt_device_will_stored_and_device_goes_offline(srv):
    import socket
    p = Plant(srv)
    d, tok = p.device("b1")
    s = socket.create_connection(("127.0.0.1", srv.mqtt_port), timeout=10)

    def st(x):
        b = x.encode()
        return len(b).to_bytes(2, "big") + b
    # MQTT 3.1.1 CONNECT: clean session, will QoS 1 on the telemetry topic, user name = token
    body = st("MQTT") + bytes([4, 0x02 | 0x04 | 0x08 | 0x80]) + (30).to_bytes(2, "big")
    body += st("will-dev") + st("v1/devices/me/telemetry") + st('{"alive": false}') + st(tok)
    s.sendall(bytes([0x10, len(body)]) + body)
    assert s.recv(4) == b"\x20\x02\x00\x00"
    assert wait_until(lambda: p.get(f"/devices/{d['id']}")["state"] == "online", timeout=5)
    s.close()  # no DISCONNECT: the will goes out
    assert wait_until(lambda: "series" in p.select("SELECT alive FROM boiler"), timeout=5)
    assert p.select("SELECT alive FROM boiler")["series"][0]["values"][0][1] is False
    time.sleep(1.5)  # the will is no sign of life: the device stays offline
    assert p.get(f"/devices/{d['id']}")["state"] == "offline"


def test_mqtt_uns_rule_change_applies_at_once(srv):
    p = Plant(srv)
    _, t = p.user_token("tenant_admin", scope="admin")  # rules are admin-scope writes
    h = {"Authorization": f"Token {t['token']}"}
    rule = ok(requests.post(f"{p.api}/mqtt/rules", json={"name": "r", "pattern": "plant/+line/+metric",
                                                         "device": "{line}", "key": "{metric}"},
                            headers=h, timeout=30), 201)
    c = Client(srv.mqtt_port, "u", t["token"])
    assert c.connect() == 0
    time.sleep(0.5)  # the tenant's rules load when its first client connects
    c.pub("plant/l1/temp", "21.5")
    assert p.select("SELECT temp FROM uns WHERE device = 'l1'")["series"][0]["values"][0][1] == 21.5
    ok(requests.put(f"{p.api}/mqtt/rules/{rule['id']}", json={"key": "x_{metric}"}, headers=h, timeout=30))
    time.sleep(0.2)  # well within the cache's 1 s poll: the registry watch reloads it now
    c.pub("plant/l1/temp", "22")
    assert p.select("SELECT x_temp FROM uns WHERE device = 'l1'")["series"][0]["values"][0][1] == 22
    c.close()


def test_mqtt_device_qos0_telemetry_stored_at_stop(srv):
    # QoS 0 telemetry waits up to 20 ms to be stored with others: a stop
    # right after the publishes still stores every one of them
    p = Plant(srv)
    _, tok = p.device("q0")
    r = Raw(srv.mqtt_port)
    assert r.connect(username=tok, client_id="q0")[0] == 0x20
    for i in range(50):
        r.publish("v1/devices/me/telemetry",
                  json.dumps({"ts": 1700000000000 + i * 1000, "values": {"temp": i}}), qos=0)
    r.send(0xC0, b"")  # PINGREQ: answered after the publishes before it were handled
    assert r.read()[0] == 0xD0
    assert srv.stop() == 0
    r.close()
    srv.start()
    res = p.select("SELECT count(temp) FROM boiler WHERE device = 'q0'")
    assert res["series"][0]["values"][0][1] == 50
