# SPDX-License-Identifier: Apache-2.0
"""The management REST API end to end against the real daemon: bootstrap with
the admin token, tenants, users and login, API tokens and revocation, assets,
device profiles and keys, devices and credentials, attributes, RPC, audit,
paging and the JSON error shape, and tenant limits on /write and /query."""
import os
import subprocess
import time

import pytest
import requests

from conftest import LOOM_BIN, TOKEN

FAST = {"LOOM_PASSWORD_COST": "min"}
PW = "Correct-horse-9"


class Api:
    def __init__(self, url, token):
        self.url = url + "/api/v1"
        self.base = url
        self.token = token

    def h(self):
        return {"Authorization": f"Token {self.token}"} if self.token else {}

    def get(self, path, **params):
        return requests.get(self.url + path, params=params, headers=self.h(), timeout=30)

    def post(self, path, body=None, **params):
        return requests.post(self.url + path, json=body, params=params, headers=self.h(), timeout=30)

    def put(self, path, body):
        return requests.put(self.url + path, json=body, headers=self.h(), timeout=30)

    def delete(self, path, **params):
        return requests.delete(self.url + path, params=params, headers=self.h(), timeout=30)


def ok(r, status=None):
    assert r.status_code < 300 if status is None else r.status_code == status, (r.status_code, r.text)
    return r.json() if r.content else None


def login(loom, email, pw=PW):
    r = requests.post(loom.url + "/api/v1/auth/login", json={"username": email, "password": pw}, timeout=30)
    return r


def setup_tenant(loom, name="Acme", region="CN-GD"):
    admin = Api(loom.url, TOKEN)
    t = ok(admin.post("/tenants", {"name": name, "region_code": region, "industry": "cnc"}), 201)
    return admin, t


@pytest.fixture
def srv(loom_factory):
    return loom_factory(env=FAST).start()


def test_registry_bootstrap_first_platform_admin_logs_in(srv):
    admin = Api(srv.url, TOKEN)
    u = ok(admin.post("/users", {"email": "root@example.com", "role": "platform_admin", "password": PW}), 201)
    assert "password" not in u and "password_hash" not in u
    r = login(srv, "ROOT@example.com")
    body = ok(r, 200)
    assert body["token"].startswith("lm_s_") and body["expires_ms"] > time.time() * 1000
    me = ok(Api(srv.url, body["token"]).get("/auth/me"))
    assert me["role"] == "platform_admin" and me["subject_id"] == u["id"]
    assert me["user"]["email"] == "root@example.com"


def test_registry_tenant_create_makes_database_and_user_writes_there(srv):
    admin, t = setup_tenant(srv)
    assert t["db_name"]
    ok(admin.post("/users", {"email": "eng@acme.com", "role": "engineer", "tenant_id": t["id"], "password": PW}), 201)
    s = ok(login(srv, "eng@acme.com"))["token"]
    r = srv.write("m,host=a v=1 1000000000", db=t["db_name"], token=s)
    assert r.status_code == 204, r.text
    r = srv.query("SELECT v FROM m", db=t["db_name"], token=s)
    assert r.status_code == 200 and r.json()["results"][0]["series"][0]["values"] == [["1970-01-01T00:00:01Z", 1]]
    # another tenant's database (here: default) is not found, not forbidden
    assert srv.write("m v=1", db="default", token=s).status_code == 404
    assert srv.query("SELECT * FROM m", db="default", token=s).status_code == 404
    assert srv.query(f'SELECT * FROM "default".."m"', db=t["db_name"], token=s).status_code == 404
    dbs = ok(srv.query("SHOW DATABASES", db="", token=s))
    assert dbs["results"][0]["series"][0]["values"] == [[t["db_name"]]]
    assert srv.query("DROP DATABASE other", db=t["db_name"], token=s).status_code == 403


def test_registry_login_failures_back_off_with_retry_after(srv):
    admin, t = setup_tenant(srv)
    ok(admin.post("/users", {"email": "v@acme.com", "role": "viewer", "tenant_id": t["id"], "password": PW}), 201)
    codes = [login(srv, "v@acme.com", "wrong-Password1").status_code for _ in range(5)]
    assert codes == [401] * 5
    r = login(srv, "v@acme.com")  # even the right password waits now
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert r.json()["error"]["code"] == "too_many_requests"
    assert login(srv, "nobody@acme.com").status_code == 401


def test_registry_role_grants_are_checked(srv):
    admin, t = setup_tenant(srv)
    ok(admin.post("/users", {"email": "ta@acme.com", "role": "tenant_admin", "tenant_id": t["id"], "password": PW}), 201)
    ta = Api(srv.url, ok(login(srv, "ta@acme.com"))["token"])
    r = ta.post("/users", {"email": "x@acme.com", "role": "platform_admin"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    op = ok(ta.post("/users", {"email": "op@acme.com", "role": "operator", "password": PW}), 201)
    assert op["tenant_id"] == t["id"]
    assert ta.put(f"/users/{op['id']}", {"role": "regional_observer"}).status_code in (400, 403)
    assert ok(ta.put(f"/users/{op['id']}", {"role": "engineer"}))["role"] == "engineer"
    roles = [r["event"] for r in ok(admin.get("/audit", pageSize=1000))["data"] if r["event"]["action"] == "user.role"]
    assert [(e["target"], e["outcome"], e["detail"]) for e in roles][-1] == (op["id"], "success", "role; role=engineer")
    # a weak password is refused with the policy's sentence
    r = ta.post("/users", {"email": "w@acme.com", "role": "viewer", "password": "short"})
    assert r.status_code == 400 and r.json()["error"]["message"]


def test_registry_api_token_secret_once_scope_and_revocation(srv):
    admin, t = setup_tenant(srv)
    ok(admin.post("/users", {"email": "eng@acme.com", "role": "engineer", "tenant_id": t["id"], "password": PW}), 201)
    sess = Api(srv.url, ok(login(srv, "eng@acme.com"))["token"])
    tok = ok(sess.post("/tokens", {"name": "ci", "scope": "write"}), 201)
    assert tok["token"].startswith("lm_a_")
    listed = ok(sess.get("/tokens"))["data"]
    assert [x["id"] for x in listed if x["kind"] == "api"] == [tok["id"]]
    assert all("token" not in x and "hash" not in x for x in listed)
    assert srv.write("m v=1", db=t["db_name"], token=tok["token"]).status_code == 204
    ro = ok(sess.post("/tokens", {"name": "ro", "scope": "read"}), 201)
    assert srv.write("m v=2", db=t["db_name"], token=ro["token"]).status_code == 403
    assert srv.query("SELECT * FROM m", db=t["db_name"], token=ro["token"]).status_code == 200
    ok(sess.delete(f"/tokens/{tok['id']}"), 204)
    time.sleep(1.1)  # the principal cache trusts an entry for at most a second
    assert srv.write("m v=3", db=t["db_name"], token=tok["token"]).status_code == 401
    # the admin token has no user: it cannot create own tokens
    assert Api(srv.url, TOKEN).post("/tokens", {"name": "x", "scope": "read"}).status_code == 400


def test_registry_logout_revokes_the_session(srv):
    admin, t = setup_tenant(srv)
    ok(admin.post("/users", {"email": "v@acme.com", "role": "viewer", "tenant_id": t["id"], "password": PW}), 201)
    s = Api(srv.url, ok(login(srv, "v@acme.com"))["token"])
    ok(s.get("/auth/me"))
    ok(s.post("/auth/logout"), 204)
    assert s.get("/auth/me").status_code == 401


def test_registry_disabling_a_user_cuts_its_tokens(srv):
    admin, t = setup_tenant(srv)
    u = ok(admin.post("/users", {"email": "v@acme.com", "role": "viewer", "tenant_id": t["id"], "password": PW}), 201)
    s = Api(srv.url, ok(login(srv, "v@acme.com"))["token"])
    ok(s.get("/devices"))
    ok(admin.put(f"/users/{u['id']}", {"disabled": True}))
    time.sleep(1.1)
    assert s.get("/devices").status_code == 401
    assert login(srv, "v@acme.com").status_code == 401


def test_registry_assets_profiles_keys_devices_crud_and_paging(srv):
    admin, t = setup_tenant(srv)
    ok(admin.post("/users", {"email": "eng@acme.com", "role": "engineer", "tenant_id": t["id"], "password": PW}), 201)
    e = Api(srv.url, ok(login(srv, "eng@acme.com"))["token"])
    site = ok(e.post("/assets", {"name": "Site 1", "type": "site"}), 201)
    plant = ok(e.post("/assets", {"name": "Plant A", "type": "plant", "parent_id": site["id"]}), 201)
    assert ok(e.get("/assets", parentId=site["id"]))["data"][0]["id"] == plant["id"]
    assert ok(e.get("/assets", parentId="null"))["totalElements"] == 1
    assert e.delete(f"/assets/{site['id']}").status_code == 409  # has children
    prof = ok(e.post("/device-profiles", {"name": "CNC", "provision_key": "pk1", "provision_secret": "s3cret-x"}), 201)
    assert "provision_secret" not in prof and "provision_secret_hash" not in prof
    key = ok(e.post(f"/device-profiles/{prof['id']}/keys", {"key": "temp", "type": "float", "unit": "C", "min": 0, "max": 120, "level": 2}), 201)
    assert ok(e.get(f"/device-profiles/{prof['id']}/keys"))["data"][0]["key"] == "temp"
    assert ok(e.put(f"/device-profiles/{prof['id']}/keys/{key['id']}", {"level": 3}))["level"] == 3
    devs = [ok(e.post("/devices", {"name": f"cnc-{i:02d}", "profile_id": prof["id"], "asset_id": plant["id"]}), 201) for i in range(5)]
    assert all(d["credentials"]["accessToken"].startswith("lm_d_") for d in devs)
    got = ok(e.get(f"/devices/{devs[0]['id']}"))
    assert "credentials" not in got and "token_hash" not in got
    p = ok(e.get("/devices", pageSize=2, page=1, sortProperty="name", sortOrder="DESC"))
    assert [d["name"] for d in p["data"]] == ["cnc-02", "cnc-01"] and p["totalPages"] == 3 and p["hasNext"]
    assert ok(e.get("/devices", textSearch="C-03"))["data"][0]["name"] == "cnc-03"
    assert ok(e.put(f"/devices/{devs[0]['id']}", {"label": "left"}))["label"] == "left"
    new = ok(e.post(f"/devices/{devs[0]['id']}/credentials"))
    assert new["accessToken"].startswith("lm_d_") and new["accessToken"] != devs[0]["credentials"]["accessToken"]
    ok(e.delete(f"/devices/{devs[4]['id']}"), 204)
    assert e.get(f"/devices/{devs[4]['id']}").status_code == 404
    assert e.get("/devices", sortProperty="nope").status_code == 400
    ok(e.delete(f"/device-profiles/{prof['id']}/keys/{key['id']}"), 204)


def test_registry_attributes_and_rpc(srv):
    admin, t = setup_tenant(srv)
    ok(admin.post("/users", {"email": "op@acme.com", "role": "operator", "tenant_id": t["id"], "password": PW}), 201)
    prof = ok(admin.post("/device-profiles", {"name": "P", "tenant_id": t["id"]}), 201)
    dev = ok(admin.post("/devices", {"name": "d1", "profile_id": prof["id"], "tenant_id": t["id"]}), 201)
    op = Api(srv.url, ok(login(srv, "op@acme.com"))["token"])
    ok(op.post(f"/devices/{dev['id']}/attributes/shared", {"setpoint": 42, "mode": "auto"}), 204)
    ok(op.post(f"/devices/{dev['id']}/attributes/server", {"note": "x"}), 204)
    assert op.post(f"/devices/{dev['id']}/attributes/client", {"a": 1}).status_code == 400
    attrs = ok(op.get(f"/devices/{dev['id']}/attributes"))
    assert {(a["scope"], a["key"]) for a in attrs} == {("shared", "mode"), ("shared", "setpoint"), ("server", "note")}
    shared = ok(op.get(f"/devices/{dev['id']}/attributes", scope="shared", keys="setpoint"))
    assert shared == {"shared": {"setpoint": 42}}
    ok(op.delete(f"/devices/{dev['id']}/attributes/shared", keys="mode"), 204)
    cmd = ok(op.post(f"/devices/{dev['id']}/rpc", {"method": "reboot", "params": {"delay": 1}, "oneway": True, "timeout_ms": 60000}), 201)
    assert cmd["status"] == "queued" and cmd["oneway"] is True
    assert ok(op.get(f"/rpc/{cmd['id']}"))["method"] == "reboot"
    assert ok(op.get(f"/devices/{dev['id']}/rpc", status="queued"))["data"][0]["id"] == cmd["id"]
    assert op.post(f"/devices/{dev['id']}/rpc", {"params": 1}).status_code == 400


def test_registry_audit_records_actions_and_verifies(srv):
    admin, t = setup_tenant(srv)
    ok(admin.post("/users", {"email": "ta@acme.com", "role": "tenant_admin", "tenant_id": t["id"], "password": PW}), 201)
    assert login(srv, "ta@acme.com", "Wrong-pass-1").status_code == 401
    ta = Api(srv.url, ok(login(srv, "ta@acme.com"))["token"])
    prof = ok(ta.post("/device-profiles", {"name": "P"}), 201)
    dev = ok(ta.post("/devices", {"name": "d1", "profile_id": prof["id"]}), 201)
    ok(ta.post(f"/devices/{dev['id']}/credentials"))
    ok(ta.post(f"/devices/{dev['id']}/rpc", {"method": "m"}), 201)
    ok(ta.delete(f"/devices/{dev['id']}"), 204)
    every = ok(admin.get("/audit", pageSize=1000))["data"]
    acts = [(r["event"]["action"], r["event"]["outcome"]) for r in every]
    for want in [("tenant.create", "success"), ("user.create", "success"), ("login", "failure"),
                 ("login", "success"), ("device.create", "success"), ("device.credentials.rotate", "success"),
                 ("rpc.send", "success"), ("device.delete", "success")]:
        assert want in acts, want
    mine = ok(ta.get("/audit"))["data"]
    assert mine and all(r["event"]["tenant"] == t["id"] for r in mine)
    assert [r["seq"] for r in every] == sorted(r["seq"] for r in every)
    page = ok(admin.get("/audit", pageSize=2))
    assert len(page["data"]) == 2 and page["nextSeq"] == page["data"][1]["seq"] + 1
    srv.stop()
    out = subprocess.run([LOOM_BIN, "audit", "verify", "--data", srv.data_dir], capture_output=True, text=True)
    assert out.returncode == 0 and "chain intact" in out.stdout, out.stdout


def test_registry_errors_have_stable_codes(srv):
    admin, t = setup_tenant(srv)
    r = admin.get("/devices/00000000-0000-4000-8000-000000000000")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = requests.post(srv.url + "/api/v1/assets", data="{not json", headers=admin.h(), timeout=10)
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_request"
    r = admin.post("/tenants", {"name": "Acme2", "db_name": t["db_name"]})
    assert r.status_code == 409 and r.json()["error"]["code"] == "conflict"
    r = requests.patch(srv.url + "/api/v1/assets", headers=admin.h(), timeout=10)
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"
    r = requests.get(srv.url + "/api/v1/nothing-here", timeout=10)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = requests.get(srv.url + "/api/v1/devices", headers={"Authorization": "Token lm_a_" + "A" * 43}, timeout=10)
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"


def test_registry_tenant_delete_refused_while_used_then_drops_its_database(srv):
    admin, t = setup_tenant(srv)
    u = ok(admin.post("/users", {"email": "v@acme.com", "role": "viewer", "tenant_id": t["id"]}), 201)
    assert srv.write("m v=1", db=t["db_name"]).status_code == 204
    r = admin.delete(f"/tenants/{t['id']}")
    assert r.status_code == 409 and "users" in r.json()["error"]["message"]
    ok(admin.delete(f"/users/{u['id']}"), 204)
    ok(admin.delete(f"/tenants/{t['id']}"), 204)
    dbs = [v[0] for v in ok(srv.query("SHOW DATABASES"))["results"][0]["series"][0]["values"]]
    assert t["db_name"] not in dbs
    assert admin.get(f"/tenants/{t['id']}").status_code == 404


def test_registry_device_telemetry_latest_and_aggregated_history(srv):
    admin, t = setup_tenant(srv)
    ok(admin.post("/users", {"email": "v@acme.com", "role": "viewer", "tenant_id": t["id"], "password": PW}), 201)
    prof = ok(admin.post("/device-profiles", {"name": "boiler", "tenant_id": t["id"]}), 201)
    dev = ok(admin.post("/devices", {"name": "b 1", "profile_id": prof["id"], "tenant_id": t["id"]}), 201)
    other = ok(admin.post("/devices", {"name": "b2", "profile_id": prof["id"], "tenant_id": t["id"]}), 201)
    t0 = 1_700_000_000_000
    lines = [f"boiler,device=b\\ 1 temp={20 + i},on=true {(t0 + i * 60_000) * 1_000_000}" for i in range(120)]
    lines.append(f"boiler,device=b2 temp=99 {(t0 + 5) * 1_000_000}")
    assert srv.write("\n".join(lines), db=t["db_name"]).status_code == 204
    v = Api(srv.url, ok(login(srv, "v@acme.com"))["token"])
    latest = ok(v.get(f"/devices/{dev['id']}/telemetry/latest"))
    assert latest == {"on": [{"ts": t0 + 119 * 60_000, "value": True}], "temp": [{"ts": t0 + 119 * 60_000, "value": 139}]}
    hist = ok(v.get(f"/devices/{dev['id']}/telemetry", keys="temp", startTs=t0, endTs=t0 + 7_200_000,
                    interval=3_600_000, agg="MAX"))
    # hour buckets from the hour (t0 is 800 s past one): minutes 0..46, 47..106, 107..119
    h0 = t0 - t0 % 3_600_000
    assert hist == {"temp": [{"ts": h0, "value": 66}, {"ts": h0 + 3_600_000, "value": 126},
                             {"ts": h0 + 7_200_000, "value": 139}]}
    raw = ok(v.get(f"/devices/{dev['id']}/telemetry", keys="temp", startTs=t0, endTs=t0 + 600_000, limit=3))
    assert raw == {"temp": [{"ts": t0 + k * 60_000, "value": 20 + k} for k in (9, 8, 7)]}
    # too many buckets, and another tenant's view
    assert v.get(f"/devices/{dev['id']}/telemetry", keys="temp", startTs=0, endTs=t0, interval=1000, agg="AVG").status_code == 400
    assert ok(v.get(f"/devices/{other['id']}/telemetry/latest", keys="temp")) == {"temp": [{"ts": t0 + 5, "value": 99}]}
    _, t2 = setup_tenant(srv, "Other", "CN-JS")
    ok(admin.post("/users", {"email": "v@other.com", "role": "viewer", "tenant_id": t2["id"], "password": PW}), 201)
    v2 = Api(srv.url, ok(login(srv, "v@other.com"))["token"])
    assert v2.get(f"/devices/{dev['id']}/telemetry/latest").status_code == 404


def test_registry_login_rehashes_a_password_made_under_older_limits(loom_factory):
    import sqlite3
    srv = loom_factory(env=FAST).start()
    admin, t = setup_tenant(srv)
    ok(admin.post("/users", {"email": "v@acme.com", "role": "viewer", "tenant_id": t["id"], "password": PW}), 201)
    srv.stop()

    def stored():
        with sqlite3.connect(os.path.join(srv.data_dir, "meta.db")) as db:
            return db.execute("SELECT password_hash FROM users WHERE email = 'v@acme.com'").fetchone()[0]

    assert ",t=1," in stored() or "t=1," in stored()  # the test cost (1 pass)
    again = loom_factory(data_dir=srv.data_dir).start()  # production cost
    ok(login(again, "v@acme.com"), 200)
    h = stored()
    assert h.startswith("$argon2id$") and "t=1," not in h
    ok(login(again, "v@acme.com"), 200)


def test_registry_twoway_rpc_waits_for_the_device_answer(srv):
    import threading
    admin, t = setup_tenant(srv)
    prof = ok(admin.post("/device-profiles", {"name": "P", "tenant_id": t["id"]}), 201)
    dev = ok(admin.post("/devices", {"name": "d1", "profile_id": prof["id"], "tenant_id": t["id"]}), 201)
    tok = dev["credentials"]["accessToken"]
    got = {}

    def call():
        got["r"] = admin.post(f"/devices/{dev['id']}/rpc", {"method": "getTemp", "params": {}, "timeout_ms": 20000}, wait="true")

    th = threading.Thread(target=call)
    th.start()
    poll = requests.get(f"{srv.url}/api/v1/{tok}/rpc", params={"timeout": 5000}, timeout=30)
    assert poll.status_code == 200, poll.text
    cmd = poll.json()
    assert cmd["method"] == "getTemp"
    assert requests.post(f"{srv.url}/api/v1/{tok}/rpc/{cmd['id']}", json={"temp": 21.5}, timeout=30).status_code == 200
    th.join(30)
    r = got["r"]
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "successful" and r.json()["response"] == {"temp": 21.5}
    # nobody answers: 504 with the command once its timeout has passed
    t0 = time.time()
    r = admin.post(f"/devices/{dev['id']}/rpc", {"method": "x", "timeout_ms": 300}, wait="true")
    assert r.status_code == 504 and r.json()["method"] == "x" and time.time() - t0 < 5


def test_registry_regional_observer_sees_region_aggregates_only(srv):
    admin, a = setup_tenant(srv, "A1", "CN-GD")
    _, a2 = setup_tenant(srv, "A2", "CN-GD")
    _, b = setup_tenant(srv, "B1", "CN-JS")
    prof = ok(admin.post("/device-profiles", {"name": "P", "tenant_id": a["id"]}), 201)
    for i in range(3):
        ok(admin.post("/devices", {"name": f"d{i}", "profile_id": prof["id"], "tenant_id": a["id"]}), 201)
    ok(admin.post("/users", {"email": "ro@x.example", "role": "regional_observer", "region_code": "CN-GD", "password": PW}), 201)
    ro = Api(srv.url, ok(login(srv, "ro@x.example"))["token"])
    s = ok(ro.get("/regions/CN-GD/summary"))
    assert s == {"region": "CN-GD", "tenants": 2, "devices": 3, "online": 0, "industries": {"cnc": 2}}
    assert ro.get("/regions/CN-JS/summary").status_code == 404
    assert ro.get(f"/tenants/{a['id']}").status_code in (403, 404)
    assert ro.get("/devices").status_code == 403
    assert srv.query("SELECT * FROM m", db=a["db_name"], token=ro.token).status_code in (403, 404)
    ok(admin.post("/users", {"email": "v@a.example", "role": "viewer", "tenant_id": a["id"], "password": PW}), 201)
    v = Api(srv.url, ok(login(srv, "v@a.example"))["token"])
    assert v.get("/regions/CN-GD/summary").status_code in (403, 404)


def test_registry_expired_api_token_is_refused(srv):
    admin, t = setup_tenant(srv)
    ok(admin.post("/users", {"email": "eng@acme.com", "role": "engineer", "tenant_id": t["id"], "password": PW}), 201)
    sess = Api(srv.url, ok(login(srv, "eng@acme.com"))["token"])
    tok = ok(sess.post("/tokens", {"name": "short", "scope": "read", "expires_ms": int(time.time() * 1000) + 1500}), 201)
    short = Api(srv.url, tok["token"])
    assert short.get("/devices").status_code == 200
    time.sleep(1.8)
    r = short.get("/devices")
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    assert sess.post("/tokens", {"name": "past", "scope": "read", "expires_ms": 1000}).status_code == 400
    assert sess.post("/tokens", {"name": "wide", "scope": "admin"}).status_code == 201  # a session has admin scope
    ro = Api(srv.url, ok(sess.post("/tokens", {"name": "ro", "scope": "read"}), 201)["token"])
    assert ro.post("/tokens", {"name": "x", "scope": "read"}).status_code == 403  # read tokens mint nothing
