# SPDX-License-Identifier: Apache-2.0
"""The stock `influx` 1.x CLI (Debian influxdb-client) connects to Loom and runs queries."""
import json
import subprocess

from conftest import TOKEN


def influx(loom, *args):
    cmd = ["influx", "-host", "127.0.0.1", "-port", str(loom.port), "-username", "admin",
           "-password", TOKEN] + list(args)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30)


def test_influx_cli_show_databases(loom):
    r = influx(loom, "-execute", "SHOW DATABASES", "-format", "json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    names = [v[0] for v in out["results"][0]["series"][0]["values"]]
    assert "default" in names


def test_influx_cli_create_write_query(loom):
    r = influx(loom, "-execute", "CREATE DATABASE plantx")
    assert r.returncode == 0, r.stderr + r.stdout
    assert loom.write("temp,machine=m1 value=21.5 1000000000\ntemp,machine=m1 value=22.5 2000000000\n",
                      db="plantx").status_code == 204
    r = influx(loom, "-database", "plantx", "-format", "json", "-precision", "s",
               "-execute", "SELECT mean(value) FROM temp")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    series = out["results"][0]["series"][0]
    assert series["name"] == "temp"
    assert series["columns"] == ["time", "mean"]
    assert series["values"][0][1] == 22.0


def test_influx_cli_reports_query_errors(loom):
    r = influx(loom, "-database", "default", "-execute", "SELEC 1")
    assert "error parsing query" in (r.stdout + r.stderr)


def test_influx_cli_wrong_password_fails(loom):
    cmd = ["influx", "-host", "127.0.0.1", "-port", str(loom.port), "-username", "admin",
           "-password", "wrong", "-execute", "SHOW DATABASES"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 or "authorization failed" in (r.stdout + r.stderr)
