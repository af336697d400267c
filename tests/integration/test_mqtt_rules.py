# SPDX-License-Identifier: Apache-2.0
"""Unified-namespace mapping rules: the REST API /api/v1/mqtt/rules (CRUD,
defaults, validation by compiling the rule with errors that name the rule and
the field, tenant scoping and roles), and end to end over MQTT: a plain
publish on plant/l1/m7/temp is stored as telemetry of device l1-m7 (over
the daemon's MQTT listener, with paho)."""
import json
import time

import pytest
import requests

from conftest import TOKEN

FAST = {"LOOM_PASSWORD_COST": "min"}
PW = "Correct-horse-9"
RULE = {"name": "lines", "pattern": "plant/+line/+machine/+metric", "device": "{line}-{machine}",
        "key": "{metric}"}


class Api:
    def __init__(self, url, token):
        self.url = url + "/api/v1"
        self.token = token

    def h(self):
        return {"Authorization": f"Token {self.token}"}

    def get(self, path, **params):
        return requests.get(self.url + path, params=params, headers=self.h(), timeout=30)

    def post(self, path, body=None):
        return requests.post(self.url + path, json=body, headers=self.h(), timeout=30)

    def put(self, path, body):
        return requests.put(self.url + path, json=body, headers=self.h(), timeout=30)

    def delete(self, path):
        return requests.delete(self.url + path, headers=self.h(), timeout=30)


def ok(r, status=None):
    assert r.status_code < 300 if status is None else r.status_code == status, (r.status_code, r.text)
    return r.json() if r.content else None


def error_of(r, status):
    assert r.status_code == status, (r.status_code, r.text)
    return r.json()["error"]["message"]


def user(srv, admin, tenant, role, email):
    ok(admin.post("/users", {"email": email, "role": role, "tenant_id": tenant["id"], "password": PW}), 201)
    r = requests.post(srv.url + "/api/v1/auth/login", json={"username": email, "password": PW}, timeout=30)
    return Api(srv.url, ok(r, 200)["token"])


@pytest.fixture
def world(loom_factory):
    srv = loom_factory(env=FAST).start()
    admin = Api(srv.url, TOKEN)
    a = ok(admin.post("/tenants", {"name": "Acme", "region_code": "CN-GD"}), 201)
    b = ok(admin.post("/tenants", {"name": "Other", "region_code": "CN-JS"}), 201)
    return srv, admin, a, b


def test_mqtt_rules_crud_with_defaults(world):
    srv, admin, a, _ = world
    ta = user(srv, admin, a, "tenant_admin", "ta@acme.com")
    r = ok(ta.post("/mqtt/rules", RULE), 201)
    assert r["tenant_id"] == a["id"] and r["name"] == "lines"
    assert (r["profile"], r["key"], r["payload"], r["enabled"], r["priority"]) == ("uns", "{metric}", "auto", True, 0)
    assert r["value"] is None and r["ts"] is None
    assert ok(ta.get(f"/mqtt/rules/{r['id']}")) == r
    r2 = ok(ta.post("/mqtt/rules", {"name": "json", "pattern": "site/+dev/data", "device": "{dev}",
                                    "payload": "json", "value": "data.v", "ts": "data.t",
                                    "enabled": False, "priority": 5}), 201)
    page = ok(ta.get("/mqtt/rules", sortProperty="priority"))
    assert [x["name"] for x in page["data"]] == ["lines", "json"] and page["totalElements"] == 2
    assert [x["name"] for x in ok(ta.get("/mqtt/rules", enabled="false"))["data"]] == ["json"]
    up = ok(ta.put(f"/mqtt/rules/{r2['id']}", {"enabled": True, "priority": -1, "value": None}))
    assert (up["enabled"], up["priority"], up["value"], up["ts"]) == (True, -1, None, "data.t")
    ok(ta.delete(f"/mqtt/rules/{r['id']}"), 204)
    assert ta.get(f"/mqtt/rules/{r['id']}").status_code == 404
    assert [x["name"] for x in ok(ta.get("/mqtt/rules"))["data"]] == ["json"]


@pytest.mark.parametrize("body,field,words", [
    ({"pattern": "plant/#/x"}, "pattern", "'#' must be the last level"),
    ({"pattern": "plant/+line/+line"}, "pattern", "{line} named twice"),
    ({"device": "{cell}-{machine}"}, "device", "{cell} is not a capture of the pattern"),
    ({"key": "{metric"}, "key", "unterminated"),
    ({"profile": "#p"}, "profile", "must be non-empty and not start with '#'"),
    ({"payload": "xml"}, "payload", "must be \"auto\", \"json\" or \"plain\""),
    ({"payload": "plain", "value": "v"}, "value", "need a JSON payload"),
])
def test_mqtt_rules_create_refuses_rules_that_do_not_compile(world, body, field, words):
    srv, admin, a, _ = world
    ta = user(srv, admin, a, "tenant_admin", "ta@acme.com")
    msg = error_of(ta.post("/mqtt/rules", dict(RULE, **body)), 400)
    assert msg.startswith('rule "lines": ') and words in msg, msg
    assert field in msg, msg
    assert ok(ta.get("/mqtt/rules"))["totalElements"] == 0


def test_mqtt_rules_update_is_checked_as_merged(world):
    srv, admin, a, _ = world
    ta = user(srv, admin, a, "tenant_admin", "ta@acme.com")
    r = ok(ta.post("/mqtt/rules", RULE), 201)
    # the new pattern no longer captures {machine}, which the stored device template uses
    msg = error_of(ta.put(f"/mqtt/rules/{r['id']}", {"pattern": "plant/+line/+metric"}), 400)
    assert "device: {machine} is not a capture of the pattern" in msg
    assert ok(ta.get(f"/mqtt/rules/{r['id']}"))["pattern"] == RULE["pattern"]
    # together with a matching template it is fine
    up = ok(ta.put(f"/mqtt/rules/{r['id']}", {"pattern": "plant/+line/+metric", "device": "{line}"}))
    assert up["device"] == "{line}"
    # store-level checks: unknown fields, non-nullable fields, duplicate names
    assert "nope" in error_of(ta.put(f"/mqtt/rules/{r['id']}", {"nope": 1}), 400)
    assert ta.put(f"/mqtt/rules/{r['id']}", {"profile": None}).status_code == 400
    assert ta.post("/mqtt/rules", RULE).status_code == 409
    assert ta.put("/mqtt/rules/00000000-0000-4000-8000-000000000000", {"priority": 1}).status_code == 404


def test_mqtt_rules_are_tenant_scoped_and_admin_written(world):
    srv, admin, a, b = world
    ta = user(srv, admin, a, "tenant_admin", "ta@acme.com")
    viewer = user(srv, admin, a, "viewer", "v@acme.com")
    eng = user(srv, admin, a, "engineer", "eng@acme.com")
    tb = user(srv, admin, b, "tenant_admin", "ta@other.com")
    r = ok(ta.post("/mqtt/rules", RULE), 201)
    # viewers read, only tenant admins write
    assert ok(viewer.get(f"/mqtt/rules/{r['id']}"))["name"] == "lines"
    assert ok(viewer.get("/mqtt/rules"))["totalElements"] == 1
    assert viewer.post("/mqtt/rules", dict(RULE, name="v")).status_code == 403
    assert eng.post("/mqtt/rules", dict(RULE, name="e")).status_code == 403
    assert viewer.delete(f"/mqtt/rules/{r['id']}").status_code == 403
    # another tenant sees nothing of it, and its own rule may reuse the name
    assert tb.get(f"/mqtt/rules/{r['id']}").status_code == 404
    assert tb.put(f"/mqtt/rules/{r['id']}", {"priority": 1}).status_code == 404
    assert tb.delete(f"/mqtt/rules/{r['id']}").status_code == 404
    assert ok(tb.get("/mqtt/rules"))["totalElements"] == 0
    ok(tb.post("/mqtt/rules", RULE), 201)
    # a tenant principal cannot create in another tenant
    assert tb.post("/mqtt/rules", dict(RULE, name="x", tenant_id=a["id"])).status_code == 400
    # the platform admin sees both and names the tenant on create
    assert ok(admin.get("/mqtt/rules"))["totalElements"] == 2
    assert ok(admin.get("/mqtt/rules", tenant_id=b["id"]))["totalElements"] == 1
    ok(admin.post("/mqtt/rules", dict(RULE, name="by-admin", tenant_id=b["id"])), 201)
    assert admin.post("/mqtt/rules", dict(RULE, name="no-tenant")).status_code == 400
    # a tenant with rules is not deleted
    c = ok(admin.post("/tenants", {"name": "Empty"}), 201)
    rc = ok(admin.post("/mqtt/rules", dict(RULE, tenant_id=c["id"])), 201)
    r = admin.delete(f"/tenants/{c['id']}")
    assert r.status_code == 409 and "MQTT rules" in r.json()["error"]["message"]
    ok(admin.delete(f"/mqtt/rules/{rc['id']}"), 204)
    ok(admin.delete(f"/tenants/{c['id']}"), 204)


def test_mqtt_rules_plain_publish_is_stored_as_device_telemetry(loom_factory):
    paho = pytest.importorskip("paho.mqtt.client")
    srv = loom_factory(env=FAST).start()
    mport = srv.mqtt_port
    admin = Api(srv.url, TOKEN)
    a = ok(admin.post("/tenants", {"name": "Acme", "region_code": "CN-GD"}), 201)
    ta = user(srv, admin, a, "tenant_admin", "ta@acme.com")
    ok(ta.post("/mqtt/rules", RULE), 201)
    ok(ta.post("/mqtt/rules", {"name": "json", "pattern": "site/+dev/+metric", "device": "{dev}",
                               "key": "{metric}", "value": "v", "ts": "t", "payload": "json"}), 201)
    api_token = ok(ta.post("/tokens", {"name": "plant", "scope": "write"}), 201)["token"]

    c = paho.Client(client_id="uns-pub", protocol=paho.MQTTv311)
    c.username_pw_set("plant", api_token)
    c.connect("127.0.0.1", mport, 30)
    c.loop_start()
    try:
        time.sleep(0.3)  # the rules load when the client connects
        for topic, payload in [("plant/l1/m7/temp", "21.5"), ("plant/l1/m7/running", "true"),
                               ("site/p9/rpm", '{"v": 1500, "t": 1700000000000}')]:
            info = c.publish(topic, payload, qos=1)
            info.wait_for_publish(10)
            assert info.is_published()
    finally:
        c.loop_stop()
        c.disconnect()

    def latest(name):
        deadline = time.time() + 10
        while time.time() < deadline:
            devs = ok(ta.get("/devices", textSearch=name))["data"]
            dev = [d for d in devs if d["name"] == name]
            if dev:
                got = ok(ta.get(f"/devices/{dev[0]['id']}/telemetry/latest"))
                if got:
                    return got
            time.sleep(0.2)
        raise AssertionError(f"no telemetry for {name}")

    got = latest("l1-m7")
    assert got["temp"][0]["value"] == 21.5 and got["running"][0]["value"] is True
    got = latest("p9")
    assert got["rpm"] == [{"ts": 1700000000000, "value": 1500}]


def test_mqtt_rules_changes_apply_to_later_publishes(loom_factory):
    paho = pytest.importorskip("paho.mqtt.client")
    srv = loom_factory(env=FAST).start()
    admin = Api(srv.url, TOKEN)
    a = ok(admin.post("/tenants", {"name": "Acme", "region_code": "CN-GD"}), 201)
    ta = user(srv, admin, a, "tenant_admin", "ta@acme.com")
    r = ok(ta.post("/mqtt/rules", RULE), 201)
    api_token = ok(ta.post("/tokens", {"name": "plant", "scope": "write"}), 201)["token"]
    c = paho.Client(client_id="uns-change", protocol=paho.MQTTv311)
    c.username_pw_set("plant", api_token)
    c.connect("127.0.0.1", srv.mqtt_port, 30)
    c.loop_start()

    def keys_of(name):
        devs = [d for d in ok(ta.get("/devices", textSearch=name))["data"] if d["name"] == name]
        return set(ok(ta.get(f"/devices/{devs[0]['id']}/telemetry/latest"))) if devs else set()

    def publish_until(topic, payload, name, key, seconds=8):
        deadline = time.time() + seconds
        while time.time() < deadline:
            c.publish(topic, payload, qos=1).wait_for_publish(10)
            if key in keys_of(name):
                return True
            time.sleep(0.3)
        return False

    try:
        assert publish_until("plant/l2/m1/temp", "20", "l2-m1", "temp")
        # the key now carries the line too; a disabled rule stores nothing new
        ok(ta.put(f"/mqtt/rules/{r['id']}", {"key": "{line}_{metric}"}))
        assert publish_until("plant/l2/m1/temp", "21", "l2-m1", "l2_temp")
        ok(ta.put(f"/mqtt/rules/{r['id']}", {"enabled": False}))
        time.sleep(2)  # the cache follows the registry within about a second
        c.publish("plant/l3/m1/temp", "22", qos=1).wait_for_publish(10)
        time.sleep(0.5)
        assert not [d for d in ok(ta.get("/devices", textSearch="l3-m1"))["data"] if d["name"] == "l3-m1"]
    finally:
        c.loop_stop()
        c.disconnect()


def test_mqtt_rules_publishes_before_the_rules_load_are_stored(loom_factory):
    """The first publishes of a tenant arrive while its rules are still loading
    (sent in the same segment as CONNECT): each acknowledged one is stored."""
    import socket
    srv = loom_factory(env=FAST).start()
    admin = Api(srv.url, TOKEN)
    a = ok(admin.post("/tenants", {"name": "Acme", "region_code": "CN-GD"}), 201)
    ta = user(srv, admin, a, "tenant_admin", "ta@acme.com")
    ok(ta.post("/mqtt/rules", {"name": "json", "pattern": "site/+dev/+metric", "device": "{dev}",
                               "key": "{metric}", "value": "v", "ts": "t", "payload": "json"}), 201)
    api_token = ok(ta.post("/tokens", {"name": "plant", "scope": "write"}), 201)["token"]

    def s16(b):
        return len(b).to_bytes(2, "big") + b

    def pkt(first, body):
        n, enc = len(body), b""
        while True:
            d, n = n % 128, n // 128
            enc += bytes([d | (0x80 if n else 0)])
            if not n:
                break
        return bytes([first]) + enc + body

    connect = pkt(0x10, s16(b"MQTT") + bytes([4, 0xC2]) + (30).to_bytes(2, "big") + s16(b"uns-early") +
                  s16(b"plant") + s16(api_token.encode()))
    pubs = b"".join(pkt(0x32, s16(b"site/early/rpm") + (i + 1).to_bytes(2, "big") +
                        json.dumps({"v": i, "t": 1700000000000 + i}).encode()) for i in range(20))
    sock = socket.create_connection(("127.0.0.1", srv.mqtt_port), timeout=10)
    sock.sendall(connect + pubs)
    buf, acks = b"", 0
    while acks < 20:
        d = sock.recv(65536)
        assert d, "connection closed"
        buf += d
        while len(buf) >= 2 and len(buf) >= 2 + buf[1]:
            if buf[0] == 0x20:
                assert buf[3] == 0, buf[:4]  # CONNACK accepted
            elif buf[0] == 0x40:
                acks += 1
            buf = buf[2 + buf[1]:]
    sock.close()
    q = ok(requests.get(srv.url + "/query", params={"db": a["db_name"], "q": "SELECT count(rpm) FROM uns"},
                        headers=admin.h(), timeout=30))
    assert "series" in q["results"][0], q
    assert q["results"][0]["series"][0]["values"][0][1] == 20, q
