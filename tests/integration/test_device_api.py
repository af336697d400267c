# SPDX-License-Identifier: Apache-2.0
"""The ThingsBoard-compatible device HTTP API against the real daemon:
telemetry (object, {ts,values}, arrays) visible through InfluxQL in the
tenant's database, bad bodies refused with nothing stored, client and shared
attributes, RPC long poll (408 on timeout, delivery, reply, one-way),
self-provisioning, device activity, unknown tokens, and long polls that hold
no worker thread. Entities are created through the management REST API."""
import threading
import time

import pytest
import requests

from conftest import TOKEN

FAST = {"LOOM_PASSWORD_COST": "min"}
ADMIN = {"Authorization": f"Token {TOKEN}"}


def ok(r, status=None):
    assert r.status_code < 300 if status is None else r.status_code == status, (r.status_code, r.text)
    return r.json() if r.content else None


class Plant:
    """A tenant with its own database, a profile and one device."""

    def __init__(self, loom, tenant="Acme", profile="boiler", device="b1", prov=None):
        self.loom = loom
        self.api = loom.url + "/api/v1"
        t = ok(requests.post(self.api + "/tenants", json={"name": tenant}, headers=ADMIN, timeout=30), 201)
        self.tenant_id, self.db = t["id"], t["db_name"]
        body = {"tenant_id": self.tenant_id, "name": profile}
        if prov:
            body.update({"provision_key": prov[0], "provision_secret": prov[1]})
        self.profile = ok(requests.post(self.api + "/device-profiles", json=body, headers=ADMIN, timeout=30), 201)
        self.device, self.token = self.add_device(device)

    def add_device(self, name, token=None):
        body = {"tenant_id": self.tenant_id, "name": name, "profile_id": self.profile["id"]}
        if token:
            body["accessToken"] = token
        d = ok(requests.post(self.api + "/devices", json=body, headers=ADMIN, timeout=30), 201)
        return d, d["credentials"]["accessToken"]

    def dev(self, path, token=None):
        return f"{self.api}/{token or self.token}{path}"

    def select(self, q):
        r = self.loom.query(q, db=self.db)
        assert r.status_code == 200, r.text
        return r.json()["results"][0]


@pytest.fixture
def srv(loom_factory):
    return loom_factory(env=FAST).start()


def test_device_telemetry_lands_in_tenant_db_and_answers_influxql(srv):
    p = Plant(srv)
    ok(requests.post(p.dev("/telemetry"), json={"temp": 21.5, "on": True, "mode": "auto"}, timeout=30), 200)
    ok(requests.post(p.dev("/telemetry"), json={"ts": 1700000000000, "values": {"temp": 20}}, timeout=30), 200)
    ok(requests.post(p.dev("/telemetry"),
                     json=[{"ts": 1700000001000, "values": {"temp": 20.25, "cfg": {"a": [1, 2]}}},
                           {"ts": 1700000002000, "values": {"temp": 19}}], timeout=30), 200)
    res = p.select("SELECT temp, cfg FROM boiler WHERE device = 'b1' AND time < 1700000003000ms")
    vals = res["series"][0]["values"]
    assert [v[1] for v in vals] == [20, 20.25, 19]
    assert vals[0][0] == "2023-11-14T22:13:20Z"
    assert vals[1][2] == '{"a":[1.0,2.0]}'
    res = p.select("SELECT last(temp), last(mode), last(\"on\") FROM boiler GROUP BY device")
    s = res["series"][0]
    assert s["tags"] == {"device": "b1"} and s["values"][0][1:] == [21.5, "auto", True]
    # the field types as documented: numbers are floats whatever their form
    res = p.select("SHOW FIELD KEYS FROM boiler")
    assert dict(res["series"][0]["values"]) == {"cfg": "string", "mode": "string", "on": "boolean",
                                                "temp": "float"}
    # not in the default database
    r = srv.query("SHOW MEASUREMENTS", db="default")
    assert "boiler" not in r.text


def test_device_telemetry_measurement_follows_a_profile_rename(srv):
    p = Plant(srv)
    ok(requests.post(p.dev("/telemetry"), json={"a": 1}, timeout=30), 200)
    ok(requests.put(f"{p.api}/device-profiles/{p.profile['id']}", json={"name": "kettle"},
                    headers=ADMIN, timeout=30))
    time.sleep(5.5)  # the profile name is cached for 5 s
    ok(requests.post(p.dev("/telemetry"), json={"a": 2}, timeout=30), 200)
    names = [v[0] for v in p.select("SHOW MEASUREMENTS")["series"][0]["values"]]
    assert names == ["boiler", "kettle"]


def test_device_telemetry_bad_json_is_400_naming_the_problem_and_stores_nothing(srv):
    p = Plant(srv)
    r = requests.post(p.dev("/telemetry"), data='{"temp": 1,, }', timeout=30)
    assert r.status_code == 400 and "line 1, column" in r.json()["error"]["message"], r.text
    r = requests.post(p.dev("/telemetry"), json=[{"a": 1}, {"ts": 5, "values": {"temp": None}}], timeout=30)
    assert r.status_code == 400 and "[1].values.temp: null" in r.json()["error"]["message"], r.text
    r = requests.post(p.dev("/telemetry"), json={"ts": "x", "values": {"a": 1}}, timeout=30)
    assert r.status_code == 400 and "ts:" in r.json()["error"]["message"], r.text
    r = requests.post(p.dev("/telemetry"), json=42, timeout=30)
    assert r.status_code == 400, r.text
    assert "series" not in p.select("SHOW MEASUREMENTS")


def test_device_telemetry_type_conflict_is_refused(srv):
    p = Plant(srv)
    ok(requests.post(p.dev("/telemetry"), json={"x": 1}, timeout=30), 200)
    r = requests.post(p.dev("/telemetry"), json={"x": "text"}, timeout=30)
    assert r.status_code == 400 and "conflict" in r.text, r.text


def test_device_unknown_token_is_401_everywhere(srv):
    Plant(srv)
    base = srv.url + "/api/v1/no-such-token"
    assert requests.post(base + "/telemetry", json={"a": 1}, timeout=30).status_code == 401
    assert requests.post(base + "/attributes", json={"a": 1}, timeout=30).status_code == 401
    assert requests.get(base + "/attributes", timeout=30).status_code == 401
    assert requests.get(base + "/rpc", params={"timeout": 100}, timeout=30).status_code == 401
    assert requests.post(base + "/rpc/abc", json={}, timeout=30).status_code == 401


def test_device_attributes_round_trip(srv):
    p = Plant(srv)
    ok(requests.post(p.dev("/attributes"), json={"fw": "1.2.3", "cfg": {"rate": 5}, "n": 7}, timeout=30), 200)
    got = ok(requests.get(p.dev("/attributes"), timeout=30))
    assert got == {"client": {"cfg": {"rate": 5}, "fw": "1.2.3", "n": 7}, "shared": {}}
    ok(requests.post(f"{p.api}/devices/{p.device['id']}/attributes/shared", json={"target": 80},
                     headers=ADMIN, timeout=30))
    got = ok(requests.get(p.dev("/attributes"), params={"clientKeys": "fw, missing", "sharedKeys": "target"},
                          timeout=30))
    assert got == {"client": {"fw": "1.2.3"}, "shared": {"target": 80}}
    got = ok(requests.get(p.dev("/attributes"), params={"sharedKeys": "target"}, timeout=30))
    assert got == {"shared": {"target": 80}}
    # users see the client scope through the management API
    mg = ok(requests.get(f"{p.api}/devices/{p.device['id']}/attributes", headers=ADMIN, timeout=30))
    assert "fw" in str(mg)
    r = requests.post(p.dev("/attributes"), data="[1,2]", timeout=30)
    assert r.status_code == 400, r.text


def send_rpc(p, body):
    return ok(requests.post(f"{p.api}/devices/{p.device['id']}/rpc", json=body, headers=ADMIN, timeout=30))


def rpc_status(p, rid):
    return ok(requests.get(f"{p.api}/rpc/{rid}", headers=ADMIN, timeout=30))


def test_device_rpc_long_poll_times_out_with_408(srv):
    p = Plant(srv)
    t0 = time.time()
    r = requests.get(p.dev("/rpc"), params={"timeout": 800}, timeout=30)
    took = time.time() - t0
    assert r.status_code == 408, r.text
    assert 0.7 < took < 3, took


def test_device_rpc_long_poll_delivers_and_reply_completes(srv):
    p = Plant(srv)
    got = {}

    def poll():
        t0 = time.time()
        got["r"] = requests.get(p.dev("/rpc"), params={"timeout": 10000}, timeout=30)
        got["took"] = time.time() - t0

    th = threading.Thread(target=poll)
    th.start()
    time.sleep(0.5)
    cmd = send_rpc(p, {"method": "setGpio", "params": {"pin": 3, "on": True}, "timeout_ms": 20000})
    th.join(15)
    r = got["r"]
    assert r.status_code == 200, r.text
    assert r.json() == {"id": cmd["id"], "method": "setGpio", "params": {"pin": 3, "on": True}}
    assert got["took"] < 5
    assert rpc_status(p, cmd["id"])["status"] == "delivered"
    ok(requests.post(p.dev(f"/rpc/{cmd['id']}"), json={"pin": 3, "state": "on"}, timeout=30), 200)
    st = rpc_status(p, cmd["id"])
    assert st["status"] == "successful" and st["response"] == {"pin": 3, "state": "on"}
    # a second answer is a conflict; another device cannot answer it
    assert requests.post(p.dev(f"/rpc/{cmd['id']}"), json={}, timeout=30).status_code == 409
    _, other = p.add_device("b2")
    assert requests.post(p.dev(f"/rpc/{cmd['id']}", other), json={}, timeout=30).status_code == 404


def test_device_rpc_queued_command_is_returned_at_once_and_oneway_completes(srv):
    p = Plant(srv)
    cmd = send_rpc(p, {"method": "reboot", "oneway": True})
    assert requests.head(p.dev("/rpc"), timeout=30).status_code == 405  # would lose the command
    t0 = time.time()
    r = requests.get(p.dev("/rpc"), timeout=30)
    assert r.status_code == 200 and r.json()["method"] == "reboot" and r.json()["params"] is None
    assert time.time() - t0 < 2
    assert rpc_status(p, cmd["id"])["status"] == "successful"


def test_device_rpc_long_polls_hold_no_worker(srv):
    """More waiting polls than worker threads: queries still answer at once."""
    p = Plant(srv)
    n = 8
    results = []

    def poll():
        results.append(requests.get(p.dev("/rpc"), params={"timeout": 4000}, timeout=30).status_code)

    ths = [threading.Thread(target=poll) for _ in range(n)]
    for t in ths:
        t.start()
    time.sleep(0.8)
    t0 = time.time()
    r = srv.query("SHOW DATABASES")
    assert r.status_code == 200
    ok(requests.post(p.dev("/telemetry"), json={"a": 1}, timeout=30), 200)
    assert time.time() - t0 < 2
    for t in ths:
        t.join(20)
    assert results == [408] * n


def test_device_provision_creates_a_device_whose_token_works(srv):
    p = Plant(srv, prov=("pk-boiler", "s3cret-prov"))
    r = ok(requests.post(srv.url + "/api/v1/provision",
                         json={"deviceName": "new-1", "provisionDeviceKey": "pk-boiler",
                               "provisionDeviceSecret": "s3cret-prov"}, timeout=30))
    assert r["status"] == "SUCCESS" and r["credentialsType"] == "ACCESS_TOKEN"
    tok = r["credentialsValue"]
    assert tok.startswith("lm_d_")
    ok(requests.post(p.dev("/telemetry", tok), json={"temp": 5}, timeout=30), 200)
    res = p.select("SELECT temp FROM boiler WHERE device = 'new-1'")
    assert res["series"][0]["values"][0][1] == 5
    devs = ok(requests.get(p.api + "/devices", params={"textSearch": "new-1"}, headers=ADMIN, timeout=30))
    assert devs["data"][0]["tenant_id"] == p.tenant_id
    # the same name again, a wrong secret, an unknown key: ThingsBoard's failure shape
    r = ok(requests.post(srv.url + "/api/v1/provision",
                         json={"deviceName": "new-1", "provisionDeviceKey": "pk-boiler",
                               "provisionDeviceSecret": "s3cret-prov"}, timeout=30))
    assert r["status"] == "FAILURE" and "errorMsg" in r
    for key, secret in (("pk-boiler", "wrong"), ("nope", "s3cret-prov")):
        r = ok(requests.post(srv.url + "/api/v1/provision",
                             json={"deviceName": "x", "provisionDeviceKey": key,
                                   "provisionDeviceSecret": secret}, timeout=30))
        assert r["status"] == "NOT_FOUND" and "credentialsValue" not in r
    # a device-chosen access token (ThingsBoard's "credentialsType": "ACCESS_TOKEN")
    r = ok(requests.post(srv.url + "/api/v1/provision",
                         json={"deviceName": "new-2", "provisionDeviceKey": "pk-boiler",
                               "provisionDeviceSecret": "s3cret-prov", "credentialsType": "ACCESS_TOKEN",
                               "token": "my-own-token-42"}, timeout=30))
    assert r["status"] == "SUCCESS" and r["credentialsValue"] == "my-own-token-42"
    ok(requests.get(p.dev("/attributes", "my-own-token-42"), timeout=30))
    r = requests.post(srv.url + "/api/v1/provision", data="{", timeout=30)
    assert r.status_code == 400


def test_device_provision_guessing_backs_off(srv):
    Plant(srv, prov=("pk-x", "right-secret"))
    body = {"deviceName": "g", "provisionDeviceKey": "pk-x", "provisionDeviceSecret": "wrong"}
    statuses = [requests.post(srv.url + "/api/v1/provision", json=body, timeout=30).status_code
                for _ in range(7)]
    assert statuses[:5] == [200] * 5 and statuses[-1] == 429, statuses
    r = requests.post(srv.url + "/api/v1/provision", json=body, timeout=30)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1


def test_device_telemetry_body_over_4_mib_is_413(srv):
    p = Plant(srv)
    big = '{"s":"' + "x" * (4 << 20) + '"}'
    assert requests.post(p.dev("/telemetry"), data=big, timeout=30).status_code == 413


def test_device_activity_marks_the_device_online(srv):
    p = Plant(srv)
    assert p.device["state"] == "offline" and p.device["last_activity_ms"] is None
    before = int(time.time() * 1000)
    ok(requests.post(p.dev("/telemetry"), json={"a": 1}, timeout=30), 200)
    deadline = time.time() + 5
    while time.time() < deadline:
        d = ok(requests.get(f"{p.api}/devices/{p.device['id']}", headers=ADMIN, timeout=30))
        if d["state"] == "online":
            break
        time.sleep(0.2)
    assert d["state"] == "online" and d["last_activity_ms"] >= before - 1000


def wait_state(p, want, secs):
    deadline = time.time() + secs
    while True:
        d = ok(requests.get(f"{p.api}/devices/{p.device['id']}", headers=ADMIN, timeout=30))
        if d["state"] == want or time.time() > deadline:
            return d
        time.sleep(0.2)


def test_device_goes_offline_after_inactivity_also_across_a_restart(loom_factory):
    srv = loom_factory(env=dict(FAST, LOOM_DEVICE_INACTIVITY_MS="2500")).start()
    p = Plant(srv)
    ok(requests.post(p.dev("/telemetry"), json={"a": 1}, timeout=30), 200)
    assert wait_state(p, "online", 5)["state"] == "online"
    assert wait_state(p, "offline", 8)["state"] == "offline"
    ok(requests.post(p.dev("/telemetry"), json={"a": 2}, timeout=30), 200)
    d = wait_state(p, "online", 5)
    assert d["state"] == "online"
    last = d["last_activity_ms"]
    # stopped while online: the restarted daemon still marks it offline
    assert srv.stop() == 0
    srv.start(port=srv.port)
    d = wait_state(p, "offline", 8)
    assert d["state"] == "offline" and d["last_activity_ms"] == last


def test_device_stop_answers_waiting_polls_quickly(loom_factory):
    srv = loom_factory(env=FAST).start()
    p = Plant(srv)
    got = {}

    def poll():
        try:
            got["status"] = requests.get(p.dev("/rpc"), params={"timeout": 60000}, timeout=30).status_code
        except requests.RequestException as e:
            got["status"] = str(e)

    th = threading.Thread(target=poll)
    th.start()
    time.sleep(0.5)
    t0 = time.time()
    assert srv.stop() == 0
    assert time.time() - t0 < 5
    th.join(10)
    assert got["status"] == 503
