# SPDX-License-Identifier: Apache-2.0
"""`loom demo` registers its simulated plant so the console opens populated:
a tenant on database "plant", the asset tree site > plant > line > cell,
device profiles with keys, units and ranges, one device per simulated
machine (online, with telemetry), a tenant admin login; a second start on the
same data directory reuses all of it."""
import os
import signal
import subprocess
import tempfile
import time

import pytest
import requests

from conftest import LOOM_BIN, TOKEN, free_port

SIM_DEVICES = ([f"CNC-{l}{k:02d}" for l in (1, 2, 3) for k in (1, 2, 3, 4)]
               + ["P-1", "P-2", "P-3", "AC-1", "EM-L1", "EM-L2", "EM-L3", "EM-MAIN"])


class Demo:
    def __init__(self, data_dir):
        self.data_dir = data_dir
        self.proc = None

    def start(self, timeout=30):
        self.port = free_port()
        env = dict(os.environ, LOOM_ADMIN_TOKEN=TOKEN, LOOM_PASSWORD_COST="min")
        self.out = open(self.data_dir + ".out", "ab")
        self.proc = subprocess.Popen(
            [LOOM_BIN, "demo", "--data", self.data_dir, "--http", f"127.0.0.1:{self.port}",
             "--mqtt", f"127.0.0.1:{free_port()}"], stdout=self.out, stderr=self.out, env=env)
        deadline = time.time() + timeout
        while time.time() < deadline:
            assert self.proc.poll() is None, self.log()
            try:
                if requests.get(self.url + "/ping", timeout=1).status_code == 204:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise RuntimeError("loom demo did not start: " + self.log())

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def log(self):
        with open(self.data_dir + ".out", "rb") as f:
            return f.read().decode(errors="replace")[-4000:]

    def get(self, path, token=TOKEN, **params):
        r = requests.get(self.url + path, params=params,
                         headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert r.status_code == 200, (path, r.status_code, r.text)
        return r.json()

    def all(self, path, **params):
        return self.get(path, pageSize=1000, **params)["data"]

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.close()


@pytest.fixture
def demo_dir():
    tmp = tempfile.mkdtemp(prefix="loom-demo-")
    yield os.path.join(tmp, "data")
    subprocess.run(["rm", "-rf", tmp], check=False)


@pytest.fixture
def demo(demo_dir):
    d = Demo(demo_dir).start()
    yield d
    d.stop()


def plant_tenant(d):
    ts = [t for t in d.all("/api/v1/tenants") if t["db_name"] == "plant"]
    assert len(ts) == 1, ts
    return ts[0]


def snapshot(d):
    """Ids of everything the demo registers, by kind."""
    tid = plant_tenant(d)["id"]
    profiles = d.all("/api/v1/device-profiles", tenant_id=tid)
    keys = {p["name"]: sorted(k["id"] for k in d.all(f"/api/v1/device-profiles/{p['id']}/keys"))
            for p in profiles}
    return {
        "tenant": tid,
        "assets": sorted(a["id"] for a in d.all("/api/v1/assets", tenant_id=tid)),
        "profiles": sorted(p["id"] for p in profiles),
        "keys": keys,
        "devices": sorted(x["id"] for x in d.all("/api/v1/devices", tenant_id=tid)),
        "users": sorted(u["id"] for u in d.all("/api/v1/users", tenant_id=tid)),
    }


def test_demo_console_tenant_has_industry_and_region(demo):
    t = plant_tenant(demo)
    assert "Demo Plant" in t["name"] and "演示工厂" in t["name"]
    assert t["industry"] and t["region_code"]


def test_demo_console_asset_tree_site_plant_line_cell(demo):
    tid = plant_tenant(demo)["id"]
    assets = demo.all("/api/v1/assets", tenant_id=tid)
    by_id = {a["id"]: a for a in assets}
    types = sorted(a["type"] for a in assets)
    assert types.count("site") == 1 and types.count("plant") == 1
    assert types.count("line") == 3 and types.count("cell") == 6
    for a in assets:  # every level's parent is the level above
        parent = by_id.get(a["parent_id"]) if a["parent_id"] else None
        expect = {"site": None, "plant": "site", "line": "plant", "cell": "line"}[a["type"]]
        assert (parent["type"] if parent else None) == expect, a


def test_demo_console_profiles_have_keys_units_ranges(demo):
    tid = plant_tenant(demo)["id"]
    profiles = {p["name"]: p for p in demo.all("/api/v1/device-profiles", tenant_id=tid)}
    assert set(profiles) == {"cnc", "pump", "compressor", "energy"}
    keys = {k["key"]: k for k in demo.all(f"/api/v1/device-profiles/{profiles['cnc']['id']}/keys")}
    assert {"spindle_rpm", "spindle_temp_c", "vibration_mm_s", "power_kw", "parts_total",
            "state"} <= set(keys)
    t = keys["spindle_temp_c"]
    assert t["unit"] == "°C" and t["type"] == "float" and t["min"] < t["max"]
    assert keys["state"]["type"] == "string"


def test_demo_console_devices_online_with_telemetry(demo):
    tid = plant_tenant(demo)["id"]
    devices = {x["name"]: x for x in demo.all("/api/v1/devices", tenant_id=tid)}
    assert sorted(devices) == sorted(SIM_DEVICES)
    deadline = time.time() + 10  # activity is written by the device hub once a second
    while time.time() < deadline:
        devices = {x["name"]: x for x in demo.all("/api/v1/devices", tenant_id=tid)}
        if all(x["state"] == "online" for x in devices.values()):
            break
        time.sleep(0.3)
    assert all(x["state"] == "online" and x["last_activity_ms"] for x in devices.values()), devices
    cnc = devices["CNC-101"]
    assert cnc["asset_id"]
    latest = demo.get(f"/api/v1/devices/{cnc['id']}/telemetry/latest")
    assert isinstance(latest["spindle_temp_c"][0]["value"], float)
    assert latest["state"][0]["value"] in ("running", "idle", "setup", "alarm")
    now = int(time.time() * 1000)
    hist = demo.get(f"/api/v1/devices/{cnc['id']}/telemetry", keys="spindle_rpm",
                    startTs=now - 2 * 3600 * 1000, endTs=now, interval=600000, agg="AVG")
    assert len(hist["spindle_rpm"]) >= 10  # 2 h of backfill in 10-minute buckets
    meter = devices["EM-MAIN"]
    latest = demo.get(f"/api/v1/devices/{meter['id']}/telemetry/latest", keys="active_power_kw")
    assert latest["active_power_kw"][0]["value"] > 0


def test_demo_console_login_file_signs_in_as_tenant_admin(demo):
    with open(os.path.join(demo.data_dir, "demo.login")) as f:
        email, password = f.read().split("\n")[:2]
    assert password in demo.log()  # the banner shows it
    r = requests.post(demo.url + "/api/v1/auth/login",
                      json={"username": email, "password": password}, timeout=30)
    assert r.status_code == 200, r.text
    me = demo.get("/api/v1/auth/me", token=r.json()["token"])
    assert me["role"] == "tenant_admin" and me["tenant_id"] == plant_tenant(demo)["id"]
    assert "http://127.0.0.1:%d/" % demo.port in demo.log()


def test_demo_console_second_start_reuses_everything(demo_dir):
    d = Demo(demo_dir).start()
    try:
        first = snapshot(d)
    finally:
        d.stop()
    with open(os.path.join(demo_dir, "demo.login")) as f:
        login = f.read()
    d = Demo(demo_dir).start()
    try:
        second = snapshot(d)
        assert second == first
        assert len(first["devices"]) == len(SIM_DEVICES) and len(first["users"]) == 1
        assert "created=0" in d.log()
        with open(os.path.join(demo_dir, "demo.login")) as f:
            assert f.read() == login
    finally:
        d.stop()
