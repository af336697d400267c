# SPDX-License-Identifier: Apache-2.0
"""The WebSocket API /api/v1/ws against the real daemon, with python3-websocket:
authentication (first message, header), live telemetry of a device written
through the device API and through /write with a device tag, keys filter,
cross-tenant and regional-observer refusals, bad JSON answered with an
error on a connection that stays usable, unsubscribe, token revocation and
user disabling closing the socket with 1008 within a second, and the
upgrade check (426 without Upgrade)."""
import json
import time

import pytest
import requests
import websocket

from conftest import TOKEN

FAST = {"LOOM_PASSWORD_COST": "min"}
ADMIN = {"Authorization": f"Token {TOKEN}"}
PW = "correct horse battery staple"


def ok(r, status=None):
    assert r.status_code < 300 if status is None else r.status_code == status, (r.status_code, r.text)
    return r.json() if r.content else None


class Tenant:
    def __init__(self, loom, name, region="CN-GD"):
        self.api = loom.url + "/api/v1"
        t = ok(requests.post(self.api + "/tenants", json={"name": name, "region_code": region},
                             headers=ADMIN, timeout=30), 201)
        self.id, self.db = t["id"], t["db_name"]
        self.profile = ok(requests.post(self.api + "/device-profiles",
                                        json={"tenant_id": self.id, "name": "boiler"},
                                        headers=ADMIN, timeout=30), 201)

    def device(self, name, asset_id=None):
        body = {"tenant_id": self.id, "name": name, "profile_id": self.profile["id"]}
        if asset_id:
            body["asset_id"] = asset_id
        d = ok(requests.post(self.api + "/devices", json=body, headers=ADMIN, timeout=30), 201)
        return d, d["credentials"]["accessToken"]

    def user_token(self, email, role="viewer"):
        u = ok(requests.post(self.api + "/users", json={"email": email, "role": role, "tenant_id": self.id,
                                                         "password": PW}, headers=ADMIN, timeout=30), 201)
        r = ok(requests.post(self.api + "/auth/login", json={"username": email, "password": PW}, timeout=30))
        return u, r["token"]


def connect(loom, token=None, header=False):
    url = f"ws://127.0.0.1:{loom.port}/api/v1/ws"
    hdr = [f"Authorization: Token {token}"] if header else []
    ws = websocket.create_connection(url, timeout=5, header=hdr)
    if token and not header:
        ws.send(json.dumps({"auth": {"token": token}}))
    if token:
        assert json.loads(ws.recv()) == {"auth": "ok"}
    return ws


def call(ws, msg):
    ws.send(json.dumps(msg))
    return json.loads(ws.recv())


def recv_until(ws, pred, timeout=15):
    """The first message matching pred within timeout s (generous: sanitizer builds on a busy
    CI machine are slow); the socket's own timeout is restored for later calls."""
    deadline = time.time() + timeout
    try:
        while time.time() < deadline:
            ws.settimeout(max(0.1, deadline - time.time()))
            m = json.loads(ws.recv())
            if pred(m):
                return m
    finally:
        ws.settimeout(5)
    raise AssertionError("no matching message")


def expect_close(ws, code, within):
    t0 = time.time()
    ws.settimeout(within + 1)
    while True:
        op, data = ws.recv_data(control_frame=True)
        if op == websocket.ABNF.OPCODE_CLOSE:
            got = int.from_bytes(data[:2], "big") if len(data) >= 2 else None
            assert got == code, (got, data)
            assert time.time() - t0 <= within, time.time() - t0
            return data[2:].decode()


@pytest.fixture
def srv(loom_factory):
    return loom_factory(env=FAST).start()


def test_ws_api_upgrade_required(srv):
    r = requests.get(srv.url + "/api/v1/ws", timeout=10)
    assert r.status_code == 426 and r.json()["error"]["code"]


def test_ws_api_telemetry_via_device_api_and_write(srv):
    a = Tenant(srv, "Acme")
    dev, dtok = a.device("b1")
    ws = connect(srv, TOKEN)
    assert call(ws, {"cmd": "subscribe", "id": 1, "type": "telemetry", "device_id": dev["id"]}) == {"id": 1, "ok": True}
    ok(requests.post(f"{a.api}/{dtok}/telemetry", json={"temp": 21.5, "on": True}, timeout=30))
    m = recv_until(ws, lambda m: m.get("sub") == 1)
    assert m["device_id"] == dev["id"] and m["type"] == "telemetry"
    assert m["values"] == {"temp": 21.5, "on": True} and m["ts"] > 1.6e12
    ws.close()


def test_ws_api_telemetry_via_write_device_tag(srv):
    a = Tenant(srv, "Acme")
    dev, dtok = a.device("b1")
    ws = connect(srv, TOKEN)
    assert call(ws, {"cmd": "subscribe", "id": 1, "type": "telemetry", "device_id": dev["id"]})["ok"] is True
    # another device's points do not reach the subscription; b1's do
    assert srv.write("boiler,device=other pressure=4i", db=a.db).status_code == 204
    r = srv.write("boiler,device=b1 pressure=3i", db=a.db)
    assert r.status_code == 204, r.text
    m = recv_until(ws, lambda m: m.get("sub") == 1)
    assert m["values"] == {"pressure": 3}
    ws.close()


def test_ws_api_header_auth_keys_filter_and_unsubscribe(srv):
    a = Tenant(srv, "Acme")
    dev, dtok = a.device("b1")
    _, tok = a.user_token("v@acme.com")
    ws = connect(srv, tok, header=True)
    assert call(ws, {"cmd": "subscribe", "id": 7, "type": "telemetry", "device_id": dev["id"],
                     "keys": ["temp"]})["ok"] is True
    ok(requests.post(f"{a.api}/{dtok}/telemetry", json={"hum": 40}, timeout=30))
    ok(requests.post(f"{a.api}/{dtok}/telemetry", json={"temp": 1, "hum": 41}, timeout=30))
    m = recv_until(ws, lambda m: m.get("sub") == 7)
    assert m["values"] == {"temp": 1}
    assert call(ws, {"cmd": "unsubscribe", "id": 7}) == {"id": 7, "ok": True}
    ok(requests.post(f"{a.api}/{dtok}/telemetry", json={"temp": 2}, timeout=30))
    assert call(ws, {"cmd": "unsubscribe", "id": 7})["error"]["code"] == "not_found"
    ws.close()


def test_ws_api_asset_subscription(srv):
    a = Tenant(srv, "Acme")
    asset = ok(requests.post(a.api + "/assets", json={"tenant_id": a.id, "name": "line1", "type": "line"}, headers=ADMIN, timeout=30), 201)
    d1, t1 = a.device("m1", asset["id"])
    d2, t2 = a.device("m2", asset["id"])
    ws = connect(srv, TOKEN)
    assert call(ws, {"cmd": "subscribe", "id": 2, "type": "telemetry", "asset_id": asset["id"]})["ok"] is True
    ok(requests.post(f"{a.api}/{t2}/telemetry", json={"x": 2}, timeout=30))
    m = recv_until(ws, lambda m: m.get("sub") == 2)
    assert m["device_id"] == d2["id"] and m["values"] == {"x": 2}
    ws.close()


def test_ws_api_cross_tenant_and_observer_refused(srv):
    a = Tenant(srv, "Acme")
    b = Tenant(srv, "Beta")
    dev_b, _ = b.device("x1")
    _, tok = a.user_token("v@acme.com")
    ws = connect(srv, tok)
    r = call(ws, {"cmd": "subscribe", "id": 1, "type": "telemetry", "device_id": dev_b["id"]})
    assert r["ok"] is False and r["error"]["code"] == "not_found" and r["id"] == 1
    ws.close()
    ok(requests.post(a.api + "/users", json={"email": "obs@gov.cn", "role": "regional_observer",
                                             "region_code": "CN-GD", "password": PW}, headers=ADMIN, timeout=30), 201)
    otok = ok(requests.post(a.api + "/auth/login", json={"username": "obs@gov.cn", "password": PW}, timeout=30))["token"]
    dev_a, _ = a.device("a1")
    ws = connect(srv, otok)
    r = call(ws, {"cmd": "subscribe", "id": 1, "type": "telemetry", "device_id": dev_a["id"]})
    assert r["ok"] is False and r["error"]["code"] in ("forbidden", "not_found")
    ws.close()


def test_ws_api_bad_json_keeps_connection(srv):
    a = Tenant(srv, "Acme")
    dev, _ = a.device("b1")
    ws = connect(srv)
    r = call(ws, {"cmd": "subscribe", "id": 1, "type": "telemetry", "device_id": dev["id"]})
    assert r["error"]["code"] == "unauthorized"
    ws.send("{not json")
    assert json.loads(ws.recv())["error"]["code"] == "bad_request"
    ws.send(json.dumps({"auth": {"token": TOKEN}}))
    assert json.loads(ws.recv()) == {"auth": "ok"}
    ws.send("[1,2")
    assert json.loads(ws.recv())["error"]["code"] == "bad_request"
    assert call(ws, {"cmd": "dance", "id": 3})["error"]["code"] == "bad_request"
    assert call(ws, {"cmd": "subscribe", "id": 4, "type": "nope", "device_id": dev["id"]})["error"]["code"] == "bad_request"
    assert call(ws, {"cmd": "subscribe", "id": 5, "type": "telemetry", "device_id": dev["id"]})["ok"] is True
    ws.close()


def test_ws_api_bad_token_closes(srv):
    ws = connect(srv)
    ws.send(json.dumps({"auth": {"token": "lm_a_nonsense"}}))
    assert json.loads(ws.recv())["error"]["code"] == "unauthorized"
    expect_close(ws, 1008, 3)


def test_ws_api_revoked_token_closes_within_a_second(srv):
    a = Tenant(srv, "Acme")
    dev, _ = a.device("b1")
    _, sess = a.user_token("e@acme.com", role="engineer")
    h = {"Authorization": f"Token {sess}"}
    t = ok(requests.post(a.api + "/tokens", json={"name": "ws", "scope": "read"}, headers=h, timeout=30), 201)
    ws = connect(srv, t["token"])
    assert call(ws, {"cmd": "subscribe", "id": 1, "type": "telemetry", "device_id": dev["id"]})["ok"] is True
    ok(requests.delete(f"{a.api}/tokens/{t['id']}", headers=h, timeout=30), 204)
    assert expect_close(ws, 1008, 1.0) == "token revoked"


def test_ws_api_disabled_user_closes(srv):
    a = Tenant(srv, "Acme")
    u, tok = a.user_token("v@acme.com")
    ws = connect(srv, tok)
    ok(requests.put(f"{a.api}/users/{u['id']}", json={"disabled": True}, headers=ADMIN, timeout=30))
    assert expect_close(ws, 1008, 1.0) == "user disabled"


def test_ws_api_large_message_closes_1009(srv):
    ws = connect(srv, TOKEN)
    ws.send("x" * (70 << 10))
    expect_close(ws, 1009, 3)


def test_ws_api_state_and_rpc_updates(srv):
    a = Tenant(srv, "Acme")
    dev, dtok = a.device("b1")
    ws = connect(srv, TOKEN)
    assert call(ws, {"cmd": "subscribe", "id": 1, "type": "state", "device_id": dev["id"]})["ok"] is True
    assert call(ws, {"cmd": "subscribe", "id": 2, "type": "rpc", "device_id": dev["id"]})["ok"] is True
    ok(requests.post(f"{a.api}/{dtok}/telemetry", json={"t": 1}, timeout=30))
    m = recv_until(ws, lambda m: m.get("sub") == 1)
    assert m["state"] == "online" and m["device_id"] == dev["id"] and m["type"] == "state"
    cmd = ok(requests.post(f"{a.api}/devices/{dev['id']}/rpc", json={"method": "reboot", "params": {}},
                           headers=ADMIN, timeout=30), 201)
    m = recv_until(ws, lambda m: m.get("sub") == 2)
    assert m["rpc_id"] == cmd["id"] and m["status"] == "queued"
    got = ok(requests.get(f"{a.api}/{dtok}/rpc", params={"timeout": 2000}, timeout=30))
    assert got["id"] == cmd["id"]
    m = recv_until(ws, lambda m: m.get("sub") == 2)
    assert m["status"] == "delivered"
    ok(requests.post(f"{a.api}/{dtok}/rpc/{cmd['id']}", json={"ok": 1}, timeout=30))
    m = recv_until(ws, lambda m: m.get("sub") == 2)
    assert m["status"] == "successful"
    ws.close()


def test_ws_api_expired_token_closes(srv):
    a = Tenant(srv, "Acme")
    _, sess = a.user_token("e@acme.com", role="engineer")
    h = {"Authorization": f"Token {sess}"}
    exp = int(time.time() * 1000) + 1500
    t = ok(requests.post(a.api + "/tokens", json={"name": "short", "scope": "read", "expires_ms": exp},
                         headers=h, timeout=30), 201)
    ws = connect(srv, t["token"])
    # expiry is noticed by the once-a-second recheck (principal cache: 1 s)
    reason = expect_close(ws, 1008, 5.0)
    assert time.time() * 1000 >= exp and reason == "token revoked or expired"


def test_ws_api_command_that_nobody_fetches_expires(srv):
    a = Tenant(srv, "Acme")
    dev, _ = a.device("b1")
    ws = connect(srv, TOKEN)
    assert call(ws, {"cmd": "subscribe", "id": 3, "type": "rpc", "device_id": dev["id"]})["ok"] is True
    cmd = ok(requests.post(f"{a.api}/devices/{dev['id']}/rpc",
                           json={"method": "reboot", "params": {}, "timeout_ms": 300},
                           headers=ADMIN, timeout=30), 201)
    assert recv_until(ws, lambda m: m.get("sub") == 3)["status"] == "queued"
    m = recv_until(ws, lambda m: m.get("sub") == 3)  # the once-a-second sweep
    assert m["rpc_id"] == cmd["id"] and m["status"] == "expired"
    got = ok(requests.get(f"{a.api}/rpc/{cmd['id']}", headers=ADMIN, timeout=30))
    assert got["status"] == "expired"
    ws.close()
