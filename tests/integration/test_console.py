# SPDX-License-Identifier: Apache-2.0
"""Browser tests of the web console: one pytest case per tests/browser/*.spec.mjs, each
run by `node --test` against a fresh `loom serve` (conftest fixtures) serving the assets
embedded in the binary; plus one case per tests/browser/*.test.mjs (pure node tests, no
daemon). The spec gets LOOM_URL, LOOM_TOKEN (platform admin API token), LOOM_MQTT_PORT and
LOOM_DATA_DIR in its environment (read by tests/browser/harness.mjs). Nothing is skipped:
a missing node, chromium or tests/browser/node_modules fails the case with the fix to run.
LOOM_WEB_DIR=<dir> serves the console from that directory instead (--web-dir, dev mode)."""
import glob
import os
import shutil
import subprocess

import pytest

from conftest import TOKEN

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BROWSER = os.path.join(ROOT, "tests", "browser")
CHROMIUM = os.environ.get("LOOM_CHROMIUM", "/usr/bin/chromium")
TIMEOUT_S = int(os.environ.get("LOOM_BROWSER_TIMEOUT", "240"))
FAST = {"LOOM_PASSWORD_COST": "min"}

SPECS = sorted(glob.glob(os.path.join(BROWSER, "*.spec.mjs")))
UNITS = sorted(glob.glob(os.path.join(BROWSER, "*.test.mjs")))


def node_bin():
    node = shutil.which("node") or shutil.which("nodejs")
    if not node:
        pytest.fail("node is not installed: apt-get install nodejs npm (scripts/deps.sh test)")
    return node


def check_browser_deps():
    if not os.path.isdir(os.path.join(BROWSER, "node_modules", "playwright-core")):
        pytest.fail("tests/browser/node_modules is missing: run `cd tests/browser && npm ci "
                    "--no-audit --no-fund` (tests/run.sh does it)")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium fonts-noto-cjk "
                    "(or set LOOM_CHROMIUM)")


def run_node(path, env):
    """Run one file with node's test runner; fail with its output on a non-zero exit."""
    cmd = [node_bin(), "--test", "--test-reporter=spec", path]
    full_env = dict(os.environ)
    full_env.update(env)
    try:
        p = subprocess.run(cmd, cwd=BROWSER, env=full_env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode(errors="replace")
        pytest.fail(f"{os.path.basename(path)} timed out after {TIMEOUT_S} s:\n{out[-8000:]}")
    out = p.stdout.decode(errors="replace")
    return p.returncode, out


def web_args():
    d = os.environ.get("LOOM_WEB_DIR")
    return ["--web-dir", d] if d else []


@pytest.mark.parametrize("spec", SPECS, ids=[os.path.basename(s) for s in SPECS])
def test_console_browser_spec(loom_factory, spec):
    check_browser_deps()
    srv = loom_factory(env=FAST, extra_args=web_args()).start()
    rc, out = run_node(spec, {
        "LOOM_URL": srv.url,
        "LOOM_TOKEN": TOKEN,
        "LOOM_MQTT_PORT": str(srv.mqtt_port or ""),
        "LOOM_DATA_DIR": srv.data_dir,
    })
    if rc != 0:
        pytest.fail(f"{os.path.basename(spec)} failed (node exit {rc}):\n{out[-12000:]}\n"
                    f"--- loom log (tail) ---\n{srv.read_log()[-3000:]}")


@pytest.mark.parametrize("unit", UNITS, ids=[os.path.basename(u) for u in UNITS])
def test_console_node_unit(unit):
    if not os.path.isdir(os.path.join(BROWSER, "node_modules")):
        pytest.fail("tests/browser/node_modules is missing: run `cd tests/browser && npm ci "
                    "--no-audit --no-fund` (tests/run.sh does it)")
    rc, out = run_node(unit, {})
    if rc != 0:
        pytest.fail(f"{os.path.basename(unit)} failed (node exit {rc}):\n{out[-12000:]}")


def test_console_specs_exist():
    """The suite is not silently empty: the harness, walk-through and language specs exist."""
    names = {os.path.basename(s) for s in SPECS}
    for want in ("harness.spec.mjs", "walk.spec.mjs", "i18n.spec.mjs"):
        assert want in names, names
    assert os.path.isfile(os.path.join(BROWSER, "harness.mjs"))
