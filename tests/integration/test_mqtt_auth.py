# SPDX-License-Identifier: Apache-2.0
"""Who may connect to the MQTT broker and what they may touch: device access
tokens, MQTT basic credentials, user API tokens (as the password), refusals
(wrong credentials 0x86 / 3.1.1 code 4, anonymous 0x87 / 5), tenant
namespaces (tenant A's clients never see tenant B's topics; a device never
sees another device's "me" topics), roles (viewers subscribe only), $SYS for
platform admins only, and revocation kicking connected clients (token
revoked, user disabled, device credentials rotated, device deleted)."""
import time

import pytest
import requests

from conftest import TOKEN
from mqtt_plant import ADMIN, V311, V5, Client, Plant, Raw, ok, start, wait_until


@pytest.fixture
def srv(loom_factory):
    return start(loom_factory)


def test_mqtt_auth_device_token_basic_and_user_token(srv):
    p = Plant(srv)
    _, tok = p.device("b1")
    _, _ = p.device("b2", mqtt_username="b2-user", mqtt_password="b2-secret")
    _, t = p.user_token("tenant_admin")
    c = Client(srv.mqtt_port, tok)
    assert c.connect() == 0
    c.close()
    c = Client(srv.mqtt_port, tok, "ignored password")  # ThingsBoard ignores it too
    assert c.connect() == 0
    c.close()
    c = Client(srv.mqtt_port, "b2-user", "b2-secret")
    assert c.connect() == 0
    c.pub("v1/devices/me/telemetry", {"t": 1})
    assert p.select("SELECT t FROM boiler WHERE device = 'b2'")["series"][0]["values"][0][1] == 1
    c.close()
    c = Client(srv.mqtt_port, "anyone", t["token"])
    assert c.connect() == 0
    c.close()
    c = Client(srv.mqtt_port, "admin", TOKEN)  # the platform admin token
    assert c.connect() == 0
    c.close()


def test_mqtt_auth_refusals(srv):
    p = Plant(srv)
    p.device("b2", mqtt_username="b2-user", mqtt_password="b2-secret")
    for user, pw in [("no-such-token", None), ("b2-user", "wrong"), ("x", "lm_a_" + "A" * 43)]:
        assert Client(srv.mqtt_port, user, pw).connect() == 0x86, (user, pw)
        assert Client(srv.mqtt_port, user, pw, version=V311).connect() == 4, (user, pw)
    assert Client(srv.mqtt_port).connect() == 0x87  # anonymous is off
    assert Client(srv.mqtt_port, version=V311).connect() == 5


def test_mqtt_auth_tenant_isolation(srv):
    a = Plant(srv, "A")
    b = Plant(srv, "B")
    _, ta = a.device("a1")
    _, ta2 = a.device("a2")
    _, tb = b.device("b1")
    ca, ca2, cb = Client(srv.mqtt_port, ta), Client(srv.mqtt_port, ta2), Client(srv.mqtt_port, tb)
    assert ca.connect() == 0 and ca2.connect() == 0 and cb.connect() == 0
    assert cb.sub("#") == [1]
    assert ca2.sub("#") == [1]
    ca.pub("plant/line1/temp", "21")
    ca.pub("v1/devices/me/telemetry", {"t": 1})
    m = ca2.expect()  # the same tenant sees its plant topics
    assert m.topic == "plant/line1/temp" and m.payload == b"21"
    assert ca2.none(0.3) is None  # ... but never another device's "me" topics
    assert cb.none(0.1) is None  # another tenant sees nothing
    # another device's topics are refused by name
    assert ca.sub("v1/devices/" + "0" * 36 + "/rpc/request/+") == [0x87]
    ca.close()
    ca2.close()
    cb.close()


def test_mqtt_auth_platform_admin_watches_all_tenants(srv):
    a = Plant(srv, "A")
    _, ta = a.device("a1")
    adm = Client(srv.mqtt_port, "admin", TOKEN)
    assert adm.connect() == 0
    assert adm.sub("$tenant/+/plant/#") == [1]
    c = Client(srv.mqtt_port, ta)
    assert c.connect() == 0
    assert c.sub("$SYS/#") == [0x87]  # devices may not read $SYS
    c.pub("plant/x", "1")
    m = adm.expect()
    assert m.topic == f"$tenant/{a.tenant_id}/plant/x"
    c.close()
    adm.close()


def test_mqtt_auth_viewer_subscribes_only(srv):
    p = Plant(srv)
    _, v = p.user_token("viewer", scope="read")
    _, e = p.user_token("tenant_admin")
    cv, ce = Client(srv.mqtt_port, "v", v["token"]), Client(srv.mqtt_port, "e", e["token"])
    assert cv.connect() == 0 and ce.connect() == 0
    assert cv.sub("plant/#") == [1]
    r = Raw(srv.mqtt_port)
    t, body = r.connect("v", v["token"], client_id="viewer-raw")
    assert body[1] == 0
    r.publish("plant/a", "1", pid=4)
    t, body = r.read()
    assert t == 0x40 and body[2] == 0x87, body  # PUBACK: not authorized
    r.close()
    ce.pub("plant/a", "2")
    assert cv.expect().payload == b"2"
    cv.close()
    ce.close()


def test_mqtt_auth_revocation_kicks(srv):
    p = Plant(srv)
    d, tok = p.device("b1")
    d2, tok2 = p.device("b2")
    u, t = p.user_token("tenant_admin")
    cu, cd, cd2 = Client(srv.mqtt_port, "u", t["token"]), Client(srv.mqtt_port, tok), Client(srv.mqtt_port, tok2)
    assert cu.connect() == 0 and cd.connect() == 0 and cd2.connect() == 0
    ok(requests.delete(f"{p.api}/tokens/{t['id']}", headers=ADMIN, timeout=30), 204)
    assert cu.disconnects.get(timeout=5) is not None
    ok(requests.post(f"{p.api}/devices/{d['id']}/credentials", json={}, headers=ADMIN, timeout=30))
    assert cd.disconnects.get(timeout=5) is not None
    assert Client(srv.mqtt_port, tok).connect() == 0x86  # the old token is gone
    ok(requests.delete(f"{p.api}/devices/{d2['id']}", headers=ADMIN, timeout=30), 204)
    assert cd2.disconnects.get(timeout=5) is not None


def test_mqtt_auth_brute_force_backs_off(srv):
    p = Plant(srv)
    p.device("b2", mqtt_username="b2-user", mqtt_password="b2-secret")

    def attempt(pw):  # raw bytes: quicker than paho, whose loop_stop may take a second
        r = Raw(srv.mqtt_port)
        _, body = r.connect("b2-user", pw, client_id=f"bf{time.time_ns()}")
        r.close()
        return body[1]

    for _ in range(5):
        assert attempt("guess") == 0x86
    # the account is held back for a while (1 s after the 5th failure), the right password too
    assert attempt("b2-secret") == 0x87
    assert wait_until(lambda: attempt("b2-secret") == 0, timeout=5, step=0.3)


def test_mqtt_auth_disabled_user_kicked_and_refused(srv):
    p = Plant(srv)
    u, t = p.user_token("operator")
    c = Client(srv.mqtt_port, "u", t["token"])
    assert c.connect() == 0
    ok(requests.put(f"{p.api}/users/{u['id']}", json={"disabled": True}, headers=ADMIN, timeout=30))
    assert c.disconnects.get(timeout=5) is not None
    assert Client(srv.mqtt_port, "u", t["token"]).connect() == 0x87


def test_mqtt_auth_users_of_one_tenant_never_see_another(srv):
    a, b = Plant(srv, "A"), Plant(srv, "B")
    _, ta = a.user_token("tenant_admin")
    _, tb = b.user_token("tenant_admin")
    ca, cb = Client(srv.mqtt_port, "a", ta["token"]), Client(srv.mqtt_port, "b", tb["token"])
    assert ca.connect() == 0 and cb.connect() == 0
    assert cb.sub("#") == [1]
    assert cb.sub("$tenant/#") == [1]  # only inside its own namespace: matches nothing of A
    assert ca.sub("#") == [1]
    ca.pub("plant/a", "1")
    assert ca.expect().topic == "plant/a"
    assert cb.none(0.3) is None
    ca.close()
    cb.close()


def test_mqtt_auth_sys_for_platform_admins(srv):
    p = Plant(srv)
    _, t = p.user_token("tenant_admin")
    adm = Client(srv.mqtt_port, "admin", TOKEN)
    ta = Client(srv.mqtt_port, "ta", t["token"])
    assert adm.connect() == 0 and ta.connect() == 0
    assert adm.sub("$SYS/#") == [1]
    assert ta.sub("$SYS/#") == [0x87]
    adm.close()
    ta.close()
