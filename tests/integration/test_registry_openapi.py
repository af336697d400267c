# SPDX-License-Identifier: Apache-2.0
"""docs/openapi.json describes exactly the route table: the same paths and
methods, and each operation's x-loom-access is the route's access rule."""
import json
import os
import subprocess

import requests

from conftest import LOOM_BIN, TOKEN

DOC = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "openapi.json")
METHODS = {"get", "head", "post", "put", "delete", "patch", "options"}


def table():
    out = subprocess.run([LOOM_BIN, "routes"], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_registry_openapi_paths_and_methods_equal_the_route_table():
    doc = json.load(open(DOC))
    assert doc["openapi"].startswith("3.")
    documented = {(p, m.upper()) for p, ops in doc["paths"].items() for m in ops if m in METHODS}
    routed = {(r["path"], m) for r in table() for m in r["methods"]}
    assert documented - routed == set(), "documented but not routed"
    assert routed - documented == set(), "routed but not documented"


def test_registry_openapi_access_rules_match():
    doc = json.load(open(DOC))
    for r in table():
        for m in r["methods"]:
            op = doc["paths"][r["path"]][m.lower()]
            assert op["x-loom-access"] == r["access"], (r["path"], m)


def test_registry_routes_endpoint_equals_the_subcommand(loom):
    r = requests.get(loom.url + "/api/v1/routes", headers={"Authorization": f"Token {TOKEN}"}, timeout=10)
    assert r.status_code == 200 and r.json() == table()
    assert requests.get(loom.url + "/api/v1/routes", timeout=10).status_code == 401
