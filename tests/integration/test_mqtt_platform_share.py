# SPDX-License-Identifier: Apache-2.0
"""Connections of one user API token share one platform principal and one
revocation registration (mqtt_platform.c user_hold): every connection of the
token is still kicked when it is revoked, also after some of them ended, and
a fresh login after the last one ended registers again."""
import requests

from mqtt_plant import ADMIN, Client, Plant, ok, start


def test_mqtt_shared_token_all_connections_kicked(loom_factory):
    srv = start(loom_factory)
    p = Plant(srv)
    _, t = p.user_token("tenant_admin")
    cs = [Client(srv.mqtt_port, "u", t["token"]) for _ in range(3)]
    for c in cs:
        assert c.connect() == 0
    cs[0].close()  # one holder gone: the registration stays for the others
    ok(requests.delete(f"{p.api}/tokens/{t['id']}", headers=ADMIN, timeout=30), 204)
    for c in cs[1:]:
        assert c.disconnects.get(timeout=5) is not None
    assert Client(srv.mqtt_port, "u", t["token"]).connect() != 0


def test_mqtt_shared_token_registers_again_after_last_left(loom_factory):
    srv = start(loom_factory)
    p = Plant(srv)
    _, t = p.user_token("tenant_admin")
    c = Client(srv.mqtt_port, "u", t["token"])
    assert c.connect() == 0
    c.close()
    c = Client(srv.mqtt_port, "u", t["token"])
    assert c.connect() == 0
    ok(requests.delete(f"{p.api}/tokens/{t['id']}", headers=ADMIN, timeout=30), 204)
    assert c.disconnects.get(timeout=5) is not None


def test_mqtt_shared_token_users_keep_their_own_identity(loom_factory):
    srv = start(loom_factory)
    a, b = Plant(srv, "A"), Plant(srv, "B")
    _, ta = a.user_token("tenant_admin")
    _, tb = b.user_token("tenant_admin")
    ca1, ca2 = Client(srv.mqtt_port, "a", ta["token"]), Client(srv.mqtt_port, "a", ta["token"])
    cb = Client(srv.mqtt_port, "b", tb["token"])
    assert ca1.connect() == 0 and ca2.connect() == 0 and cb.connect() == 0
    assert ca2.sub("plant/#") == [1] and cb.sub("#") == [1]
    ca1.pub("plant/x", "1")
    assert ca2.expect().payload == b"1"
    assert cb.none(0.3) is None
    for c in (ca1, ca2, cb):
        c.close()
