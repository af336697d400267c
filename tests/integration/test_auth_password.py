# SPDX-License-Identifier: Apache-2.0
"""POST /api/v1/auth/password: a signed-in user changes their own password
(the web console's account page). The current password is checked under the
login back-off, the policy applies, API tokens may not, every outcome is
audited, and afterwards only the new password logs in."""
import requests

from conftest import TOKEN

FAST = {"LOOM_PASSWORD_COST": "min"}
PW = "Correct-horse-9"
NEW = "Battery-staple-7"


def adm(loom, method, path, body=None, **params):
    return requests.request(method, loom.url + "/api/v1" + path, json=body, params=params,
                            headers={"Authorization": f"Token {TOKEN}"}, timeout=30)


def login(loom, email, pw):
    return requests.post(loom.url + "/api/v1/auth/login", json={"username": email, "password": pw}, timeout=30)


def change(loom, token, old, new):
    return requests.post(loom.url + "/api/v1/auth/password", json={"old_password": old, "new_password": new},
                         headers={"Authorization": f"Bearer {token}"}, timeout=30)


def viewer(loom):
    t = adm(loom, "POST", "/tenants", {"name": "Acme", "region_code": "CN-GD"}).json()
    r = adm(loom, "POST", "/users", {"tenant_id": t["id"], "email": "Vi@a.example", "role": "viewer", "password": PW})
    assert r.status_code == 201, r.text
    s = login(loom, "vi@a.example", PW)
    assert s.status_code == 200, s.text
    return r.json(), s.json()["token"]


def code(r):
    return r.json()["error"]["code"]


def test_auth_password_change_then_only_the_new_one_logs_in(loom_factory):
    loom = loom_factory(env=FAST, extra_args=("--mqtt", "off")).start()
    _, tok = viewer(loom)
    r = change(loom, tok, PW, NEW)
    assert r.status_code == 204, r.text
    assert login(loom, "vi@a.example", PW).status_code == 401
    assert login(loom, "vi@a.example", NEW).status_code == 200
    # the session that changed it stays valid
    me = requests.get(loom.url + "/api/v1/auth/me", headers={"Authorization": f"Bearer {tok}"}, timeout=30)
    assert me.status_code == 200


def test_auth_password_wrong_current_is_refused_and_audited(loom_factory):
    loom = loom_factory(env=FAST, extra_args=("--mqtt", "off")).start()
    user, tok = viewer(loom)
    r = change(loom, tok, "Not-the-password-1", NEW)
    assert r.status_code == 400 and code(r) == "wrong_password", r.text
    assert login(loom, "vi@a.example", PW).status_code == 200
    events = [e["event"] for e in adm(loom, "GET", "/audit", pageSize=1000).json()["data"]]
    mine = [e for e in events if e["action"] == "user.password" and e["target"] == user["id"]]
    assert [e["outcome"] for e in mine] == ["failure"], mine


def test_auth_password_policy_and_sameness(loom_factory):
    loom = loom_factory(env=FAST, extra_args=("--mqtt", "off")).start()
    _, tok = viewer(loom)
    r = change(loom, tok, PW, "short")
    assert r.status_code == 400 and code(r) == "weak_password" and r.json()["error"]["message"], r.text
    r = change(loom, tok, PW, PW)
    assert r.status_code == 400 and code(r) == "same_password", r.text
    r = requests.post(loom.url + "/api/v1/auth/password", json={"old_password": PW},
                      headers={"Authorization": f"Bearer {tok}"}, timeout=30)
    assert r.status_code == 400, r.text
    assert login(loom, "vi@a.example", PW).status_code == 200


def test_auth_password_needs_a_login_session(loom_factory):
    loom = loom_factory(env=FAST, extra_args=("--mqtt", "off")).start()
    _, tok = viewer(loom)
    api = requests.post(loom.url + "/api/v1/tokens", json={"name": "t", "scope": "admin"},
                        headers={"Authorization": f"Bearer {tok}"}, timeout=30)
    assert api.status_code == 201, api.text
    r = change(loom, api.json()["token"], PW, NEW)
    assert r.status_code == 400 and code(r) == "session_required", r.text
    r = change(loom, TOKEN, PW, NEW)  # the admin token is no user
    assert r.status_code == 400 and code(r) == "session_required", r.text
    r = requests.post(loom.url + "/api/v1/auth/password", json={"old_password": PW, "new_password": NEW}, timeout=30)
    assert r.status_code == 401
    assert login(loom, "vi@a.example", PW).status_code == 200


def test_auth_password_back_off_after_repeated_failures(loom_factory):
    loom = loom_factory(env=FAST, extra_args=("--mqtt", "off")).start()
    _, tok = viewer(loom)
    statuses = [change(loom, tok, f"Wrong-guess-{i}", NEW).status_code for i in range(7)]
    assert statuses[:5] == [400] * 5, statuses
    r = change(loom, tok, PW, NEW)  # even the right password waits now
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1, (statuses, r.status_code, r.text)
