# SPDX-License-Identifier: Apache-2.0
"""The access matrix, generated from the route table (`loom routes`): every
route is tried by every kind of principal, and must answer 401/403/404
without any of tenant A's data where the policy denies, and not 401/403
where it allows. A route whose access rule or request is not known here fails
(add it to RULES / SPECS below when you add a route).

World: tenants A (region CN-GD) and B (CN-JS); in A a tenant admin,
engineer, operator and viewer, an asset, a device profile with a key, a
device with its access token and a queued command; in B a tenant admin; a
platform admin; a regional observer of CN-GD; an engineer's read-scoped API
token, and a revoked API token."""
import json
import os
import subprocess
import tempfile
import uuid

import pytest
import requests

from conftest import LOOM_BIN, TOKEN, Loom

PW = "Correct-horse-9"
ROUTES = json.loads(subprocess.run([LOOM_BIN, "routes"], capture_output=True, text=True, check=True).stdout)
CASES = [(m, r["path"], r["access"]) for r in ROUTES for m in r["methods"]]

# principal -> (role class, token scope); None: not an authenticated user
PRINCIPALS = {
    "anonymous": None, "revoked_token": None, "device_a": None,
    "viewer_a": ("VI", "admin"), "admin_b": ("TA", "admin"), "observer": ("RO", "admin"),
    "tenant_admin_a": ("TA", "admin"), "engineer_a": ("EN", "admin"), "operator_a": ("OP", "admin"),
    "engineer_a_read": ("EN", "read"), "platform_admin": ("PA", "admin"), "admin_token": ("PA", "admin"),
}
IN_A = {"viewer_a", "tenant_admin_a", "engineer_a", "operator_a", "engineer_a_read"}
FOREIGN = {"anonymous", "revoked_token", "device_a", "admin_b", "observer"}
TENANT_ALL = {"PA", "TA", "EN", "OP", "VI"}
SCOPES = {"read": 1, "write": 2, "admin": 3}
# access rule -> (roles, lowest token scope); "public"/"authenticated"/"device_token" are special
RULES = {
    "tenant.read": (TENANT_ALL, "read"), "tenant.write": ({"PA", "TA"}, "admin"),
    "tenant.manage": ({"PA"}, "admin"), "platform.manage": ({"PA"}, "admin"),
    "user.read": ({"PA", "TA"}, "read"), "user.write": ({"PA", "TA"}, "admin"),
    "token.manage_own": (TENANT_ALL | {"RO"}, "admin"),
    "asset.read": (TENANT_ALL, "read"), "asset.write": ({"PA", "TA", "EN"}, "write"),
    "profile.read": (TENANT_ALL, "read"), "profile.write": ({"PA", "TA", "EN"}, "write"),
    "device.read": (TENANT_ALL, "read"), "device.write": ({"PA", "TA", "EN"}, "write"),
    "device.credentials": ({"PA", "TA", "EN"}, "admin"),
    "telemetry.read": (TENANT_ALL, "read"), "telemetry.write": ({"PA", "TA", "EN"}, "write"),
    "attributes.read": (TENANT_ALL, "read"), "attributes.write": ({"PA", "TA", "EN", "OP"}, "write"),
    "rpc.read": (TENANT_ALL, "read"), "rpc.send": ({"PA", "TA", "EN", "OP"}, "write"),
    "audit.read": ({"PA", "TA"}, "read"), "region.aggregate.read": ({"PA", "RO"}, "read"),
    "public": None, "authenticated": None, "device_token": None,
}


class World:
    def __init__(self, loom):
        self.loom = loom
        self.url = loom.url

    def adm(self, method, path, body=None, **params):
        r = requests.request(method, self.url + "/api/v1" + path, json=body, params=params,
                             headers={"Authorization": f"Token {TOKEN}"}, timeout=30)
        assert r.status_code < 300, (method, path, r.status_code, r.text)
        return r.json() if r.content else None

    def login(self, email):
        r = requests.post(self.url + "/api/v1/auth/login", json={"username": email, "password": PW}, timeout=30)
        assert r.status_code == 200, r.text
        return r.json()["token"]

    def uniq(self, p="x"):
        return f"{p}-{uuid.uuid4().hex[:10]}"

    # disposable targets, created with the admin token
    def fresh_user(self):
        return self.adm("POST", "/users", {"email": self.uniq("u") + "@a.example", "role": "viewer", "tenant_id": self.A})["id"]

    def fresh_asset(self):
        return self.adm("POST", "/assets", {"name": self.uniq("asset"), "type": "cell", "tenant_id": self.A})["id"]

    def fresh_profile(self):
        return self.adm("POST", "/device-profiles", {"name": self.uniq("prof"), "tenant_id": self.A})["id"]

    def fresh_key(self):
        return self.adm("POST", f"/device-profiles/{self.profile}/keys", {"key": self.uniq("k"), "type": "float"})["id"]

    def fresh_device(self):
        return self.adm("POST", "/devices", {"name": self.uniq("dev"), "profile_id": self.profile, "tenant_id": self.A})["id"]

    def fresh_rule(self):
        return self.adm("POST", "/mqtt/rules", {"name": self.uniq("rule"), "pattern": "p/+x", "device": "{x}", "tenant_id": self.A})["id"]

    def fresh_tenant(self):
        return self.adm("POST", "/tenants", {"name": self.uniq("tenant")})["id"]

    def viewer_token(self):
        s = requests.post(self.url + "/api/v1/tokens", json={"name": "t", "scope": "read"},
                          headers={"Authorization": f"Token {self.creds['viewer_a']}"}, timeout=30)
        assert s.status_code == 201, s.text
        return s.json()["id"]


@pytest.fixture(scope="module")
def world():
    tmp = tempfile.mkdtemp(prefix="loom-acl-")
    loom = Loom(os.path.join(tmp, "data"), env={"LOOM_PASSWORD_COST": "min"}).start()
    w = World(loom)
    try:
        w.A = w.adm("POST", "/tenants", {"name": "Tenant-A-secret", "region_code": "CN-GD"})["id"]
        w.A_db = w.adm("GET", f"/tenants/{w.A}")["db_name"]
        w.B = w.adm("POST", "/tenants", {"name": "Tenant-B", "region_code": "CN-JS"})["id"]
        users = {"platform_admin": ("pa@x.example", "platform_admin", None, None),
                 "tenant_admin_a": ("ta@a.example", "tenant_admin", w.A, None),
                 "engineer_a": ("en@a.example", "engineer", w.A, None),
                 "operator_a": ("op@a.example", "operator", w.A, None),
                 "viewer_a": ("vi@a.example", "viewer", w.A, None),
                 "admin_b": ("ta@b.example", "tenant_admin", w.B, None),
                 "observer": ("ro@x.example", "regional_observer", None, "CN-GD")}
        w.emails, w.creds = {}, {"anonymous": None, "admin_token": TOKEN}
        w.user_ids = {}
        for name, (email, role, tenant, region) in users.items():
            body = {"email": email, "role": role, "password": PW}
            if tenant:
                body["tenant_id"] = tenant
            if region:
                body["region_code"] = region
            w.user_ids[name] = w.adm("POST", "/users", body)["id"]
            w.emails[name] = email
            w.creds[name] = w.login(email)
        en = {"Authorization": f"Token {w.creds['engineer_a']}"}
        w.creds["engineer_a_read"] = requests.post(w.url + "/api/v1/tokens", json={"name": "ro", "scope": "read"}, headers=en, timeout=30).json()["token"]
        rv = requests.post(w.url + "/api/v1/tokens", json={"name": "gone", "scope": "write"}, headers=en, timeout=30).json()
        assert requests.delete(w.url + f"/api/v1/tokens/{rv['id']}", headers=en, timeout=30).status_code == 204
        w.creds["revoked_token"] = rv["token"]
        w.asset = w.adm("POST", "/assets", {"name": "Asset-A-secret", "type": "site", "tenant_id": w.A})["id"]
        w.profile = w.adm("POST", "/device-profiles", {"name": "Profile-A-secret", "tenant_id": w.A, "provision_key": "pk-a", "provision_secret": "prov-secret-a"})["id"]
        w.key = w.adm("POST", f"/device-profiles/{w.profile}/keys", {"key": "temp", "type": "float"})["id"]
        dev = w.adm("POST", "/devices", {"name": "Device-A-secret", "profile_id": w.profile, "tenant_id": w.A})
        w.device = dev["id"]
        w.creds["device_a"] = dev["credentials"]["accessToken"]
        w.rpc = w.adm("POST", f"/devices/{w.device}/rpc", {"method": "m", "oneway": True, "timeout_ms": 3600000})["id"]
        w.adm("POST", f"/devices/{w.device}/attributes/shared", {"Attr-A-secret": 1})
        w.rule = w.adm("POST", "/mqtt/rules", {"name": "Rule-A-secret", "pattern": "plant/+line/+m", "device": "{line}-{m}", "tenant_id": w.A})["id"]
        w.secrets = [w.A, w.A_db, w.asset, w.profile, w.key, w.device, w.rpc, "Tenant-A-secret",
                     "Asset-A-secret", "Profile-A-secret", "Device-A-secret", "Attr-A-secret",
                     w.rule, "Rule-A-secret"]
        yield w
    finally:
        loom.stop()
        subprocess.run(["rm", "-rf", tmp], check=False)


def platform(p):
    return p in ("platform_admin", "admin_token")


# (method, path) -> function(world, principal) -> dict(path params, params, body, json, token override)
def spec_table():
    def own_body(extra):
        def f(w, p):
            b = dict(extra(w))
            if platform(p):
                b["tenant_id"] = w.A
            return {"json": b}
        return f

    S = {
        ("GET", "/ping"): lambda w, p: {},
        ("HEAD", "/ping"): lambda w, p: {},
        ("GET", "/health"): lambda w, p: {},
        ("HEAD", "/health"): lambda w, p: {},
        ("GET", "/metrics"): lambda w, p: {},
        ("POST", "/write"): lambda w, p: {"params": {"db": w.A_db}, "data": "m v=1"},
        ("POST", "/api/v2/write"): lambda w, p: {"params": {"bucket": w.A_db}, "data": "m v=1"},
        ("GET", "/query"): lambda w, p: {"params": {"db": w.A_db, "q": "SELECT * FROM m"}},
        ("POST", "/query"): lambda w, p: {"data": {"db": w.A_db, "q": "SELECT * FROM m"}},
        ("POST", "/api/v1/auth/login"): lambda w, p: {"json": {"username": "vi@a.example", "password": PW}},
        ("POST", "/api/v1/auth/logout"): lambda w, p: {"fresh_session": True},
        ("GET", "/api/v1/auth/me"): lambda w, p: {},
        # a wrong current password: 400 for everyone allowed (the passwords stay as they are)
        ("POST", "/api/v1/auth/password"): lambda w, p: {"json": {"old_password": "not-it", "new_password": "Another-horse-7"}},
        ("GET", "/api/v1/routes"): lambda w, p: {},
        # a plain GET gets 426; subscriptions are checked inside the protocol (test_ws_api.py)
        ("GET", "/api/v1/ws"): lambda w, p: {},
        ("GET", "/mqtt"): lambda w, p: {},
        # the web console's static files (no authentication; 404 when no console is built in)
        ("GET", "/"): lambda w, p: {},
        ("GET", "/index.html"): lambda w, p: {},
        ("GET", "/ui/*"): lambda w, p: {},
        ("GET", "/api/v1/tenants"): lambda w, p: {},
        ("POST", "/api/v1/tenants"): lambda w, p: {"json": {"name": w.uniq("tenant")}},
        ("GET", "/api/v1/tenants/{tenantId}"): lambda w, p: {"path": {"tenantId": w.A}},
        ("PUT", "/api/v1/tenants/{tenantId}"): lambda w, p: {"path": {"tenantId": w.A}, "json": {"industry": "cnc"}},
        ("DELETE", "/api/v1/tenants/{tenantId}"): lambda w, p: {"path": {"tenantId": w.fresh_tenant()}},
        ("GET", "/api/v1/users"): lambda w, p: {},
        ("POST", "/api/v1/users"): own_body(lambda w: {"email": w.uniq("n") + "@a.example", "role": "viewer"}),
        ("GET", "/api/v1/users/{id}"): lambda w, p: {"path": {"id": w.user_ids["viewer_a"]}},
        ("PUT", "/api/v1/users/{id}"): lambda w, p: {"path": {"id": w.user_ids["viewer_a"]}, "json": {"name": "V"}},
        ("DELETE", "/api/v1/users/{id}"): lambda w, p: {"path": {"id": w.fresh_user()}},
        ("GET", "/api/v1/tokens"): lambda w, p: {},
        ("POST", "/api/v1/tokens"): lambda w, p: {"json": {"name": "t", "scope": "read"}},
        # the target is the viewer's own token: the viewer and user admins may revoke it
        ("DELETE", "/api/v1/tokens/{id}"): lambda w, p: {"path": {"id": w.viewer_token()},
                                                         "allow": {"viewer_a", "tenant_admin_a", "platform_admin", "admin_token"}},
        ("GET", "/api/v1/mqtt/rules"): lambda w, p: {},
        ("POST", "/api/v1/mqtt/rules"): own_body(lambda w: {"name": w.uniq("rule"), "pattern": "plant/+line/+m", "device": "{line}-{m}"}),
        ("GET", "/api/v1/mqtt/rules/{id}"): lambda w, p: {"path": {"id": w.rule}},
        ("PUT", "/api/v1/mqtt/rules/{id}"): lambda w, p: {"path": {"id": w.rule}, "json": {"priority": 1}},
        ("DELETE", "/api/v1/mqtt/rules/{id}"): lambda w, p: {"path": {"id": w.fresh_rule()}},
        ("GET", "/api/v1/assets"): lambda w, p: {},
        ("POST", "/api/v1/assets"): own_body(lambda w: {"name": w.uniq("asset"), "type": "line"}),
        ("GET", "/api/v1/assets/{id}"): lambda w, p: {"path": {"id": w.asset}},
        ("PUT", "/api/v1/assets/{id}"): lambda w, p: {"path": {"id": w.asset}, "json": {"description": "d"}},
        ("DELETE", "/api/v1/assets/{id}"): lambda w, p: {"path": {"id": w.fresh_asset()}},
        ("GET", "/api/v1/device-profiles"): lambda w, p: {},
        ("POST", "/api/v1/device-profiles"): own_body(lambda w: {"name": w.uniq("prof")}),
        ("GET", "/api/v1/device-profiles/{id}"): lambda w, p: {"path": {"id": w.profile}},
        ("PUT", "/api/v1/device-profiles/{id}"): lambda w, p: {"path": {"id": w.profile}, "json": {"description": "d"}},
        ("DELETE", "/api/v1/device-profiles/{id}"): lambda w, p: {"path": {"id": w.fresh_profile()}},
        ("GET", "/api/v1/device-profiles/{id}/keys"): lambda w, p: {"path": {"id": w.profile}},
        ("POST", "/api/v1/device-profiles/{id}/keys"): lambda w, p: {"path": {"id": w.profile}, "json": {"key": w.uniq("k"), "type": "int"}},
        ("GET", "/api/v1/device-profiles/{id}/keys/{keyId}"): lambda w, p: {"path": {"id": w.profile, "keyId": w.key}},
        ("PUT", "/api/v1/device-profiles/{id}/keys/{keyId}"): lambda w, p: {"path": {"id": w.profile, "keyId": w.key}, "json": {"unit": "C"}},
        ("DELETE", "/api/v1/device-profiles/{id}/keys/{keyId}"): lambda w, p: {"path": {"id": w.profile, "keyId": w.fresh_key()}},
        ("GET", "/api/v1/devices"): lambda w, p: {},
        ("POST", "/api/v1/devices"): own_body(lambda w: {"name": w.uniq("dev"), "profile_id": w.profile}),
        ("GET", "/api/v1/devices/{id}"): lambda w, p: {"path": {"id": w.device}},
        ("PUT", "/api/v1/devices/{id}"): lambda w, p: {"path": {"id": w.device}, "json": {"label": "l"}},
        ("DELETE", "/api/v1/devices/{id}"): lambda w, p: {"path": {"id": w.fresh_device()}},
        ("POST", "/api/v1/devices/{id}/credentials"): lambda w, p: {"path": {"id": w.fresh_device()}},
        ("GET", "/api/v1/devices/{id}/attributes"): lambda w, p: {"path": {"id": w.device}},
        ("POST", "/api/v1/devices/{id}/attributes/{scope}"): lambda w, p: {"path": {"id": w.device, "scope": "shared"}, "json": {"k": 1}},
        ("DELETE", "/api/v1/devices/{id}/attributes/{scope}"): lambda w, p: {"path": {"id": w.device, "scope": "shared"}, "params": {"keys": "k"}},
        ("POST", "/api/v1/devices/{id}/rpc"): lambda w, p: {"path": {"id": w.device}, "json": {"method": "x", "oneway": True}},
        ("GET", "/api/v1/devices/{id}/rpc"): lambda w, p: {"path": {"id": w.device}},
        ("GET", "/api/v1/rpc/{id}"): lambda w, p: {"path": {"id": w.rpc}},
        ("GET", "/api/v1/devices/{id}/telemetry/latest"): lambda w, p: {"path": {"id": w.device}},
        ("GET", "/api/v1/devices/{id}/telemetry"): lambda w, p: {"path": {"id": w.device},
                                                                 "params": {"startTs": "0", "endTs": "9999999999999"}},
        ("GET", "/api/v1/audit"): lambda w, p: {},
        ("GET", "/api/v1/audit/verify"): lambda w, p: {},
        ("GET", "/api/v1/regions/{region}/summary"): lambda w, p: {"path": {"region": "CN-GD"}},
        ("GET", "/api/v1/console/info"): lambda w, p: {},
        ("GET", "/api/v1/console/overview"): lambda w, p: {},
        ("POST", "/api/v1/provision"): lambda w, p: {"json": {"deviceName": w.uniq("prov"), "provisionDeviceKey": "pk-a", "provisionDeviceSecret": "prov-secret-a"}},
        ("POST", "/api/v1/{token}/telemetry"): lambda w, p: {"json": {"t": 1}},
        ("GET", "/api/v1/{token}/attributes"): lambda w, p: {},
        ("POST", "/api/v1/{token}/attributes"): lambda w, p: {"json": {"c": 1}},
        ("GET", "/api/v1/{token}/rpc"): lambda w, p: {"params": {"timeout": "1"}},
        ("POST", "/api/v1/{token}/rpc/{id}"): lambda w, p: {"path": {"id": w.rpc}, "json": {"ok": True}},
    }
    return S


SPECS = spec_table()


def test_access_matrix_every_route_has_a_rule_and_a_request():
    missing_rule = sorted({a for _, _, a in CASES if a not in RULES})
    missing_spec = sorted((m, p) for m, p, _ in CASES if (m, p) not in SPECS)
    assert not missing_rule, f"routes with an access rule the matrix does not know: {missing_rule}"
    assert not missing_spec, f"routes the matrix does not try: {missing_spec}"
    stale = set(SPECS) - {(m, p) for m, p, _ in CASES}
    assert not stale, f"the matrix tries routes that no longer exist: {stale}"


def targets_a(path, access):
    """Does the request name tenant A's resource (path ids, A's database)?"""
    return "{" in path or access in ("telemetry.read", "telemetry.write")


def expected(method, path, access, principal, spec):
    if access == "public":
        return "allow"
    if access == "device_token":
        return "allow" if principal == "device_a" else "deny"
    if PRINCIPALS[principal] is None:
        return "deny"
    if access == "authenticated":
        return "allow"
    if "allow" in spec:
        return "allow" if principal in spec["allow"] else "deny"
    roles, need = RULES[access]
    role, scope = PRINCIPALS[principal]
    if role not in roles or SCOPES[scope] < SCOPES[need]:
        return "deny"
    if access == "token.manage_own" or platform(principal):
        return "allow"
    if access == "region.aggregate.read":  # the path names the observer's own region
        return "allow"
    if principal == "observer":
        return "deny"
    if targets_a(path, access) and principal not in IN_A:
        return "deny"
    return "allow"


def send(w, method, path, principal, spec):
    token = w.creds[principal]
    if spec.get("fresh_session") and principal in w.emails:
        token = w.login(w.emails[principal])
    url_path = path
    for k, v in spec.get("path", {}).items():
        url_path = url_path.replace("{" + k + "}", v)
    headers = {}
    if "{token}" in path:
        url_path = url_path.replace("{token}", token or "no-such-device-token")
    elif token:
        headers["Authorization"] = f"Token {token}"
    return requests.request(method, w.url + url_path, params=spec.get("params"), json=spec.get("json"),
                            data=spec.get("data"), headers=headers, timeout=30)


@pytest.mark.parametrize("method,path,access", CASES, ids=[f"{m} {p}" for m, p, _ in CASES])
def test_access_matrix_route(world, method, path, access):
    if (method, path) not in SPECS or access not in RULES:
        pytest.fail(f"{method} {path} ({access}) has no entry in the access matrix")
    failures = []
    for principal in PRINCIPALS:
        spec = SPECS[(method, path)](world, principal)
        want = expected(method, path, access, principal, spec)
        r = send(world, method, path, principal, spec)
        body = r.text
        if want == "deny" and r.status_code not in (401, 403, 404):
            failures.append(f"{principal}: expected 401/403/404, got {r.status_code} {body[:200]}")
        if want == "allow" and (r.status_code in (401, 403) or r.status_code >= 500):
            failures.append(f"{principal}: expected access, got {r.status_code} {body[:200]}")
        if principal in FOREIGN and access != "public" and not (access == "device_token" and principal == "device_a"):
            leaked = [s for s in world.secrets if s in body]
            if leaked:
                failures.append(f"{principal}: response {r.status_code} shows tenant A's data {leaked}")
    assert not failures, f"{method} {path} ({access}):\n  " + "\n  ".join(failures)
