# SPDX-License-Identifier: Apache-2.0
"""Fixtures for integration tests: start the real `loom` daemon on a free
loopback port with a fresh data directory, talk to it over HTTP, stop it."""
import os
import signal
import socket
import subprocess
import tempfile
import time

import pytest
import requests

LOOM_BIN = os.environ.get("LOOM_BIN", os.path.join(os.path.dirname(__file__), "..", "..", "build", "loom"))
TOKEN = "test-admin-token-0123456789"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Loom:
    """One daemon process. start() waits until /ping answers."""

    def __init__(self, data_dir, durability="durable", extra_args=(), env=None):
        self.data_dir = data_dir
        self.durability = durability
        self.extra_args = list(extra_args)
        self.env = env
        self.proc = None
        self.port = None
        self.mqtt_port = None
        self.log_path = os.path.join(data_dir + ".log")

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self, port=None, timeout=20):
        self.port = port or free_port()
        mqtt_args = []
        if "--mqtt" in self.extra_args:
            spec = self.extra_args[self.extra_args.index("--mqtt") + 1]
            self.mqtt_port = None if spec == "off" else int(spec.rsplit(":", 1)[1])
        else:  # never the default 1883: daemons of parallel tests must not collide
            self.mqtt_port = self.mqtt_port or free_port()
            mqtt_args = ["--mqtt", f"127.0.0.1:{self.mqtt_port}"]
        env = dict(os.environ)
        env["LOOM_ADMIN_TOKEN"] = TOKEN
        if self.env:
            env.update(self.env)
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [LOOM_BIN, "serve", "--data", self.data_dir, "--http", f"127.0.0.1:{self.port}",
             "--durability", self.durability] + mqtt_args + self.extra_args,
            stdout=self.log, stderr=self.log, env=env)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"loom exited with {self.proc.returncode}: {self.read_log()}")
            try:
                if requests.get(self.url + "/ping", timeout=1).status_code == 204:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise RuntimeError("loom did not start: " + self.read_log())

    def mqtt_credentials(self):
        """(username, password) for an MQTT client with the platform admin's
        rights: any user name and the admin API token as the password."""
        return ("admin", TOKEN)

    def read_log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "log", None):
            self.log.close()
        return self.proc.returncode if self.proc else None

    def kill9(self):
        self.proc.kill()
        self.proc.wait()
        self.log.close()

    # --- HTTP helpers ---
    def headers(self, token=TOKEN):
        return {"Authorization": f"Token {token}"}

    def write(self, body, db="default", precision=None, token=TOKEN, **kw):
        params = {"db": db}
        if precision:
            params["precision"] = precision
        return requests.post(self.url + "/write", params=params, data=body,
                             headers=self.headers(token), timeout=kw.pop("timeout", 30), **kw)

    def query(self, q, db="default", token=TOKEN, method="GET", **params):
        params.update({"q": q, "db": db})
        if method == "GET":
            return requests.get(self.url + "/query", params=params, headers=self.headers(token), timeout=60)
        return requests.post(self.url + "/query", data=params, headers=self.headers(token), timeout=60)


@pytest.fixture
def loom_factory():
    """Make daemons with fresh data dirs; every one is stopped at the end."""
    made = []
    tmp = tempfile.mkdtemp(prefix="loom-it-")

    def make(durability="durable", data_dir=None, **kw):
        d = data_dir or tempfile.mkdtemp(dir=tmp)
        inst = Loom(d, durability=durability, **kw)
        made.append(inst)
        return inst

    yield make
    for inst in made:
        inst.stop(sig=signal.SIGKILL)
    subprocess.run(["rm", "-rf", tmp], check=False)


@pytest.fixture
def loom(loom_factory):
    return loom_factory().start()
