# SPDX-License-Identifier: Apache-2.0
"""Browser tests of the web console: one pytest case per tests/browser/*.spec.mjs, each
run by `node --test` against its own fresh `loom serve` (conftest's Loom: free ports,
empty data dir, the admin token) serving the assets embedded in the binary; plus one case
per tests/browser/*.test.mjs (pure node tests, no daemon). The spec gets LOOM_URL,
LOOM_TOKEN (platform admin API token), LOOM_MQTT_PORT and LOOM_DATA_DIR in its environment
(read by tests/browser/harness.mjs).

The selected specs are started together, LOOM_BROWSER_JOBS (default 2) at a time, when
the first of them is reached; each case then reports its own file's result. Nothing is
skipped: a missing node, chromium or tests/browser/node_modules fails the case with the
fix to run. LOOM_WEB_DIR=<dir> serves the console from that directory instead (--web-dir,
dev mode: edit and rerun without rebuilding)."""
import concurrent.futures
import glob
import os
import shutil
import signal
import subprocess
import tempfile
import threading

import pytest

from conftest import TOKEN, Loom

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BROWSER = os.path.join(ROOT, "tests", "browser")
CHROMIUM = os.environ.get("LOOM_CHROMIUM", "/usr/bin/chromium")
TIMEOUT_S = int(os.environ.get("LOOM_BROWSER_TIMEOUT", "240"))
JOBS = max(1, int(os.environ.get("LOOM_BROWSER_JOBS", "2")))
FAST = {"LOOM_PASSWORD_COST": "min"}

SPECS = sorted(glob.glob(os.path.join(BROWSER, "*.spec.mjs")))
UNITS = sorted(glob.glob(os.path.join(BROWSER, "*.test.mjs")))


def node_bin():
    return shutil.which("node") or shutil.which("nodejs")


def missing_deps(browser=True):
    """The reason the browser tests cannot run here, or None."""
    if not node_bin():
        return "node is not installed: apt-get install nodejs npm (scripts/deps.sh test)"
    if not os.path.isdir(os.path.join(BROWSER, "node_modules", "playwright-core")):
        return ("tests/browser/node_modules is missing: run `cd tests/browser && npm ci "
                "--no-audit --no-fund` (tests/run.sh does it)")
    if browser and not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} is missing: apt-get install chromium fonts-noto-cjk (or set LOOM_CHROMIUM)"
    return None


def run_node(path, env):
    """Run one file with node's test runner -> (exit code, output)."""
    cmd = [node_bin(), "--test", "--test-reporter=spec", path]
    full_env = dict(os.environ)
    full_env.update(env)
    try:
        p = subprocess.run(cmd, cwd=BROWSER, env=full_env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode(errors="replace")
        return -1, f"timed out after {TIMEOUT_S} s (LOOM_BROWSER_TIMEOUT):\n{out}"
    return p.returncode, p.stdout.decode(errors="replace")


def web_args():
    d = os.environ.get("LOOM_WEB_DIR")
    return ["--web-dir", d] if d else []


def run_spec(spec, tmp):
    """Start a daemon, run one spec against it, stop it -> (exit code, output, daemon log)."""
    for attempt in range(3):  # a free port taken by a parallel daemon meanwhile: retry
        srv = Loom(tempfile.mkdtemp(dir=tmp), env=FAST, extra_args=web_args())
        try:
            srv.start()
            break
        except RuntimeError as e:
            srv.stop(sig=signal.SIGKILL)
            if attempt == 2:
                return -2, f"cannot start loom for {os.path.basename(spec)}: {e}", srv.read_log()
    try:
        rc, out = run_node(spec, {
            "LOOM_URL": srv.url,
            "LOOM_TOKEN": TOKEN,
            "LOOM_MQTT_PORT": str(srv.mqtt_port or ""),
            "LOOM_DATA_DIR": srv.data_dir,
        })
        return rc, out, srv.read_log()
    finally:
        srv.stop(sig=signal.SIGKILL)


class SpecRuns:
    """The selected specs, started together on first use, JOBS at a time."""

    def __init__(self, specs):
        self.specs = specs
        self.lock = threading.Lock()
        self.pool = None
        self.futures = {}
        self.tmp = tempfile.mkdtemp(prefix="loom-browser-")

    def result(self, spec):
        with self.lock:
            if self.pool is None:
                self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=JOBS)
                for s in self.specs:
                    self.futures[s] = self.pool.submit(run_spec, s, self.tmp)
            if spec not in self.futures:
                self.futures[spec] = self.pool.submit(run_spec, spec, self.tmp)
        return self.futures[spec].result()

    def close(self):
        if self.pool:
            self.pool.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(self.tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def spec_runs(request):
    selected = []
    for item in request.session.items:
        cs = getattr(item, "callspec", None)
        if cs and "spec" in cs.params and item.module is request.module:
            selected.append(cs.params["spec"])
    runs = SpecRuns(selected if not missing_deps() else [])
    yield runs
    runs.close()


@pytest.mark.parametrize("spec", SPECS, ids=[os.path.basename(s) for s in SPECS])
def test_console_browser_spec(spec_runs, spec):
    why = missing_deps()
    if why:
        pytest.fail(why)
    rc, out, log = spec_runs.result(spec)
    if rc != 0:
        pytest.fail(f"{os.path.basename(spec)} failed (node exit {rc}):\n{out[-12000:]}\n"
                    f"--- loom log (tail) ---\n{log[-3000:]}")


@pytest.mark.parametrize("unit", UNITS, ids=[os.path.basename(u) for u in UNITS])
def test_console_node_unit(unit):
    why = missing_deps(browser=False)
    if why:
        pytest.fail(why)
    rc, out = run_node(unit, {})
    if rc != 0:
        pytest.fail(f"{os.path.basename(unit)} failed (node exit {rc}):\n{out[-12000:]}")


def test_console_specs_exist():
    """The suite is not silently empty: the harness, walk-through and language specs exist."""
    names = {os.path.basename(s) for s in SPECS}
    for want in ("harness.spec.mjs", "walk.spec.mjs", "i18n.spec.mjs"):
        assert want in names, names
    assert os.path.isfile(os.path.join(BROWSER, "harness.mjs"))
