# SPDX-License-Identifier: Apache-2.0
"""The daemon's HTTP basics: liveness, health, metrics, auth and writes."""
import base64
import gzip

import requests

from conftest import TOKEN


def test_ping_is_public_and_reports_influx_version(loom):
    r = requests.get(loom.url + "/ping")
    assert r.status_code == 204
    assert r.headers["X-Influxdb-Version"].startswith("1.")


def test_health_reports_pass(loom):
    r = requests.get(loom.url + "/health")
    assert r.status_code == 200
    assert r.json()["status"] == "pass"


def test_write_requires_token(loom):
    r = loom.write("m v=1 1", token="wrong-token")
    assert r.status_code == 401
    assert "error" in r.json()
    r = requests.post(loom.url + "/write", params={"db": "default"}, data="m v=1 1")
    assert r.status_code == 401


def test_token_forms_accepted(loom):
    hdrs = [{"Authorization": f"Token {TOKEN}"}, {"Authorization": f"Bearer {TOKEN}"},
            {"Authorization": "Basic " + base64.b64encode(f"admin:{TOKEN}".encode()).decode()}]
    for h in hdrs:
        r = requests.post(loom.url + "/write", params={"db": "default"}, data="m v=1 1", headers=h)
        assert r.status_code == 204, (h, r.text)
    r = requests.post(loom.url + "/write", params={"db": "default", "u": "admin", "p": TOKEN}, data="m v=1 1")
    assert r.status_code == 204


def test_write_partial_names_bad_lines(loom):
    r = loom.write("m v=1 1\nm v= 2\nm v=3 3\nnot valid\n")
    assert r.status_code == 400
    body = r.json()
    assert "partial write" in body["error"]
    assert [l["line"] for l in body["lines"]] == [2, 4]
    assert "dropped=2" in body["error"]


def test_write_unknown_database_is_404(loom):
    r = loom.write("m v=1 1", db="nope")
    assert r.status_code == 404
    assert "database not found" in r.json()["error"]


def test_write_v2_with_gzip_body(loom):
    body = gzip.compress(b"g,host=a v=1.5 1000000000\n")
    r = requests.post(loom.url + "/api/v2/write", params={"bucket": "default", "org": "x", "precision": "ns"},
                      data=body, headers={"Authorization": f"Token {TOKEN}", "Content-Encoding": "gzip"})
    assert r.status_code == 204, r.text


def test_bad_precision_is_400(loom):
    r = loom.write("m v=1 1", precision="fortnight")
    assert r.status_code == 400


def test_type_conflict_is_partial_write(loom):
    assert loom.write("t v=1i 1").status_code == 204
    r = loom.write("t v=1.5 2\nt v=2i 3")
    assert r.status_code == 400
    assert "field type conflict" in r.json()["error"]


def test_metrics_counts_ingest(loom):
    loom.write("m a=1,b=2 1\nm a=3 2\n")
    r = requests.get(loom.url + "/metrics", headers=loom.headers())
    assert r.status_code == 200
    lines = dict(l.rsplit(" ", 1) for l in r.text.splitlines() if l and not l.startswith("#"))
    assert float(lines["loom_ingest_points_total"]) == 3
    assert float(lines["loom_process_resident_memory_bytes"]) > 0
    assert requests.get(loom.url + "/metrics").status_code == 401


def test_sigterm_stops_cleanly(loom):
    loom.write("m v=1 1")
    assert loom.stop() == 0
    assert "store closed" in loom.read_log()
