# SPDX-License-Identifier: Apache-2.0
"""Interoperability of the MQTT broker with real third-party clients: the
mosquitto CLI (mosquitto_pub/mosquitto_sub), Paho Python (python3-paho-mqtt),
Paho C (libpaho-mqtt3c, tests/interop/paho_c_client.c, built here) and MQTT.js
(npm `mqtt`, tests/interop/mqttjs_client.js). Each client, at MQTT 3.1.1 and
5.0, does: connect, subscribe, publish at QoS 0/1/2 (and QoS downgrade),
retained (with the RETAIN flag, and clearing), will (socket killed; a clean
DISCONNECT sends none), persistent-session resume with a queued QoS 1 message
(these three at MQTT 3.1 too), at 5.0 an unacknowledged QoS 1/2 delivery
resent with DUP on resume, back-to-back bursts at QoS 1 and 2 (complete,
in order), a refused wrong password, $SYS monitoring topics, Keep Alive
pings, and at 5.0 a will delay. Also: every
client's publishes reach every other client; MQTT 5 publish properties pass
between MQTT.js and Paho Python intact; MQTT.js resolves server-assigned topic
aliases; MQTT.js, Paho C and Paho Python over WebSocket (/mqtt on the HTTP
port) talk with a TCP client (Loom only); a restart on the same data dir keeps a persistent
session, its queued QoS 1/2 messages and retained messages (Loom only).

The broker under test is chosen by MQTT_BROKER: "loom" (default; the daemon
from conftest.py, LOOM_BIN) or "mosquitto" (/usr/sbin/mosquitto on a free port,
the reference the tests were validated against). Every client CLI prints one
JSON event per line (connack, suback, ready, pubdone, msg, done, error); the
mosquitto CLI's debug output is turned into the same events here."""
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid

import pytest

from conftest import TOKEN, Loom, free_port

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
INTEROP = os.path.join(ROOT, "tests", "interop")
BROKER_KIND = os.environ.get("MQTT_BROKER", "loom")
PY = "/usr/bin/python3"  # the Debian python, which has python3-paho-mqtt
LEVELS = {"31": 3, "311": 4, "5": 5}


# ---- brokers ----

class Mosquitto:
    """Reference broker: /usr/sbin/mosquitto with a temp config, no persistence,
    one user in a password file (anonymous off, as Loom)."""
    kind = "mosquitto"
    host = "127.0.0.1"
    user = "admin"
    password = TOKEN

    def __init__(self, tmp):
        self.tmp = tmp
        self.port = free_port()
        self.conf = os.path.join(tmp, "mosquitto.conf")
        pw = os.path.join(tmp, "passwd")
        subprocess.run(["mosquitto_passwd", "-c", "-b", pw, self.user, self.password], check=True,
                       capture_output=True)
        # Started as root, mosquitto reads its files as the "mosquitto" user.
        os.chmod(tmp, 0o755)
        os.chmod(pw, 0o644)
        with open(self.conf, "w") as f:
            f.write(f"listener {self.port} 127.0.0.1\nallow_anonymous false\n"
                    f"password_file {pw}\npersistence false\n")
        self.log = open(os.path.join(tmp, "mosquitto.log"), "ab")
        self.proc = subprocess.Popen(["/usr/sbin/mosquitto", "-c", self.conf],
                                     stdout=self.log, stderr=self.log)
        wait_port(self.port, self.proc)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class LoomBroker:
    """The daemon from conftest.py with its MQTT listener; restart() keeps the
    data directory and the ports."""
    kind = "loom"
    host = "127.0.0.1"

    def __init__(self, tmp):
        self.data_dir = os.path.join(tmp, "data")
        os.makedirs(self.data_dir)
        self.port = free_port()
        self.inst = None
        self.http_port = None
        self.start()
        # A user API token as the MQTT password (any user name).
        self.user, self.password = self.inst.mqtt_credentials()

    def start(self):
        self.inst = Loom(self.data_dir, extra_args=["--mqtt", f"127.0.0.1:{self.port}"])
        self.inst.start(port=self.http_port)
        self.http_port = self.inst.port
        wait_port(self.port, self.inst.proc)

    def restart(self):
        rc = self.inst.stop(sig=signal.SIGTERM)
        assert rc == 0, f"loom exited with {rc} on SIGTERM: {self.inst.read_log()}"
        self.start()

    def stop(self):
        if self.inst:
            self.inst.stop(sig=signal.SIGKILL)

    def read_log(self):
        return self.inst.read_log() if self.inst else ""


def wait_port(port, proc, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"broker exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


@pytest.fixture(scope="module")
def broker():
    tmp = tempfile.mkdtemp(prefix="loom-interop-")
    b = Mosquitto(tmp) if BROKER_KIND == "mosquitto" else LoomBroker(tmp)
    yield b
    b.stop()
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def paho_c_bin():
    out = tempfile.mkdtemp(prefix="loom-pahoc-")
    exe = os.path.join(out, "paho_c_client")
    cc = subprocess.run(["cc", "-std=c11", "-D_GNU_SOURCE", "-O1", "-Wall", "-Wextra", "-Wshadow",
                         "-Wstrict-prototypes", "-Wmissing-prototypes", "-Werror", "-o", exe,
                         os.path.join(INTEROP, "paho_c_client.c"), "-lpaho-mqtt3c"],
                        capture_output=True, text=True)
    assert cc.returncode == 0, cc.stderr
    yield exe
    shutil.rmtree(out, ignore_errors=True)


# ---- client runs ----

class Run:
    """One client process; its stdout turned into events by parse(line)."""

    def __init__(self, name, argv, parse=None):
        self.name = name
        self.argv = argv
        self.events = []
        self.q = queue.Queue()
        self.parse = parse or parse_json_line
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, errors="replace")
        self.stderr = ""
        self.t_out = threading.Thread(target=self._read, daemon=True)
        self.t_out.start()
        self.t_err = threading.Thread(target=self._read_err, daemon=True)
        self.t_err.start()

    def _read(self):
        for line in self.proc.stdout:
            now = time.time()
            for ev in self.parse(line.rstrip("\n")):
                ev["_t"] = now  # when it was read
                self.events.append(ev)
                self.q.put(ev)
        self.q.put(None)

    def _read_err(self):
        self.stderr = self.proc.stderr.read()

    def describe(self):
        return (f"{self.name}: {' '.join(self.argv)}\n  events: {self.events}\n"
                f"  exit: {self.proc.returncode}\n  stderr: {self.stderr[-1500:]}")

    def wait_ev(self, kind, timeout=10):
        """Block until an event of that kind; fail with everything seen."""
        deadline = time.time() + timeout
        for ev in self.events:
            if ev["ev"] == kind:
                return ev
        while True:
            left = deadline - time.time()
            try:
                ev = self.q.get(timeout=max(left, 0.01))
            except queue.Empty:
                ev = False
            if ev and ev["ev"] == kind:
                return ev
            if ev is None or ev is False or (ev and ev["ev"] == "error") or left <= 0:
                self.kill()
                pytest.fail(f"no '{kind}' event\n" + self.describe())

    def finish(self, timeout=15, ok=True):
        """Wait for the exit; with ok, fail unless the run ended with "done"."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"did not exit in {timeout} s\n" + self.describe())
        self.t_out.join(5)
        self.t_err.join(5)
        if ok and (self.proc.returncode != 0 or not any(e["ev"] == "done" for e in self.events)):
            pytest.fail("client run failed\n" + self.describe())
        return self

    def kill(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def msgs(self):
        return [e for e in self.events if e["ev"] == "msg"]

    def first(self, kind):
        return next((e for e in self.events if e["ev"] == kind), None)


def parse_json_line(line):
    if line.startswith("{"):
        try:
            return [json.loads(line)]
        except ValueError:
            pass
    return [{"ev": "noise", "text": line}] if line else []


class CliClient:
    """A client whose CLI speaks tests/interop's JSON-lines protocol."""
    needs_topic = False  # True: every connection must subscribe to something

    def __init__(self, name, argv0):
        self.name = name
        self.argv0 = argv0

    def spawn(self, b, level, subs=(), pubs=(), count=0, timeout_ms=5000, cid=None, clean=True,
              expiry=None, will=None, hang=False, ws_path=None, extra=(), auth=None,
              will_delay=None):
        port = b.http_port if ws_path else b.port
        a = list(self.argv0) + ["--host", b.host, "--port", str(port), "--level", str(level),
                                "--clean", "1" if clean else "0", "--count", str(count),
                                "--timeout", str(timeout_ms)]
        user, password = auth or (b.user, b.password)
        if user is not None:
            a += ["--user", user, "--pass", password]
        if cid:
            a += ["--id", cid]
        if expiry is not None:
            a += ["--expiry", str(expiry)]
        if will:
            a += ["--will", fmt_pub(will)]
        if will_delay is not None:
            a += ["--will-delay", str(will_delay)]
        for f, q in subs:
            a += ["--sub", f"{f}:{q}"]
        for p in pubs:
            a += ["--pub", fmt_pub(p)]
        if hang:
            a.append("--hang")
        if ws_path:
            a += ["--ws", ws_path]
        a += list(extra)
        return Run(f"{self.name} L{level}", a)

    def publish(self, b, level, pubs):
        return self.spawn(b, level, pubs=pubs).finish()

    def burst(self, b, level, topic, qos, n):
        """Publish "0".."n-1" back to back (the client's in-flight window)."""
        return self.spawn(b, level, extra=["--burst", f"{topic}:{qos}:{n}"]).finish(timeout=30)


def fmt_pub(p):
    topic, qos, retain, payload = p
    return f"{topic}:{qos}:{1 if retain else 0}:{payload}"


class MosquittoCli:
    """mosquitto_sub / mosquitto_pub; -d output and -F %j lines become events."""
    name = "mosquitto_cli"
    needs_topic = True

    @staticmethod
    def common(b, level, auth=None):
        version = {3: "mqttv31", 4: "mqttv311", 5: "mqttv5"}[level]
        a = ["-h", b.host, "-p", str(b.port), "-V", version]
        user, password = auth or (b.user, b.password)
        if user is not None:
            a += ["-u", user, "-P", password]
        return a

    def spawn(self, b, level, subs=(), pubs=(), count=0, timeout_ms=5000, cid=None, clean=True,
              expiry=None, will=None, hang=False, auth=None, will_delay=None):
        assert subs and not pubs, "mosquitto_sub subscribes; publish with publish()"
        a = ["stdbuf", "-oL", "mosquitto_sub", "-d", "-F", "%j"] + self.common(b, level, auth)
        if cid:
            a += ["-i", cid]
        if not clean:
            a.append("-c")
        if expiry is not None and level == 5:
            a += ["-x", str(expiry)]
        if will:
            topic, qos, retain, payload = will
            a += ["--will-topic", topic, "--will-payload", payload, "--will-qos", str(qos)]
            if retain:
                a.append("--will-retain")
            if will_delay is not None:
                a += ["-D", "will", "will-delay-interval", str(will_delay)]
        for f, _ in subs:
            a += ["-t", f]
        # mosquitto_sub has one QoS for all its subscriptions.
        a += ["-q", str(max(q for _, q in subs))]
        if count:
            a += ["-C", str(count)]
        if not hang:
            if count:
                a += ["-W", str(max(1, (timeout_ms + 999) // 1000))]
            else:
                a.append("-E")  # exit once subscribed
        state = {"suback": False}

        def parse(line):
            if line.startswith("{"):
                m = json.loads(line)
                return [{"ev": "msg", "topic": m["topic"], "payload": m.get("payload") or "",
                         "qos": m["qos"], "retain": bool(m["retain"]), "dup": None}]
            if " received CONNACK (" in line:
                rc = int(line.rsplit("(", 1)[1].rstrip(")"))
                return [{"ev": "connack", "rc": rc, "session_present": None}]
            if " received SUBACK" in line:
                state["suback"] = True
                return []
            if state["suback"] and line.startswith("Subscribed (mid:"):
                granted = [int(x) for x in line.split(":")[-1].split(",")]
                return ([{"ev": "suback", "filter": f, "granted": g} for (f, _), g in
                         zip(subs, granted)] + [{"ev": "ready"}])
            return [{"ev": "noise", "text": line}] if line else []

        run = Run(f"mosquitto_sub L{level}", a, parse)
        return MosquittoRun(run)

    def publish(self, b, level, pubs):
        for topic, qos, retain, payload in pubs:
            a = ["mosquitto_pub"] + self.common(b, level) + ["-t", topic, "-q", str(qos)]
            a += ["-m", payload] if payload else ["-n"]
            if retain:
                a.append("-r")
            r = subprocess.run(a, capture_output=True, text=True, timeout=15)
            assert r.returncode == 0, f"{' '.join(a)} -> {r.returncode}: {r.stderr}"

    def burst(self, b, level, topic, qos, n):
        """mosquitto_pub -l: one message per stdin line, back to back."""
        a = ["mosquitto_pub"] + self.common(b, level) + ["-t", topic, "-q", str(qos), "-l"]
        r = subprocess.run(a, input="".join(f"{i}\n" for i in range(n)), capture_output=True,
                           text=True, timeout=30)
        assert r.returncode == 0, f"{' '.join(a)} -> {r.returncode}: {r.stderr}"


class MosquittoRun:
    """A Run whose "done" is a zero exit (mosquitto_sub prints nothing at the end)."""

    def __init__(self, run):
        self.run = run

    def __getattr__(self, k):
        return getattr(self.run, k)

    def finish(self, timeout=15, ok=True):
        self.run.finish(timeout, ok=False)
        if self.run.proc.returncode == 0:
            self.run.events.append({"ev": "done"})
        elif ok:
            pytest.fail("client run failed\n" + self.run.describe())
        return self


def make_clients(paho_c):
    return {
        "mosquitto_cli": MosquittoCli(),
        "paho_py": CliClient("paho_py", [PY, os.path.join(INTEROP, "paho_py_client.py")]),
        "paho_c": CliClient("paho_c", [paho_c]),
        "mqttjs": CliClient("mqttjs", ["node", os.path.join(INTEROP, "mqttjs_client.js")]),
    }


CLIENTS = ["mosquitto_cli", "paho_py", "paho_c", "mqttjs"]


@pytest.fixture(params=CLIENTS)
def client(request, paho_c_bin):
    if request.param == "mqttjs" and not os.path.isdir(os.path.join(INTEROP, "node_modules",
                                                                     "mqtt")):
        pytest.fail("tests/interop/node_modules is missing: run `npm ci` in tests/interop")
    return make_clients(paho_c_bin)[request.param]


@pytest.fixture(params=["311", "5"])
def level(request):
    return LEVELS[request.param]


@pytest.fixture(params=["31", "311", "5"])
def level_all(request):
    """The core scenarios run at MQTT 3.1 (MQIsdp) too."""
    return LEVELS[request.param]


def base_topic(client, level):
    return f"interop/{client.name}/{level}/{uuid.uuid4().hex[:8]}"


def explain(b, *runs):
    """Failure context: every run's events, and the broker's log tail."""
    s = "\n".join(r.describe() for r in runs)
    if isinstance(b, LoomBroker):
        s += "\n--- loom log tail ---\n" + b.read_log()[-2000:]
    return s


# ---- scenarios ----

def test_mqtt_interop_pubsub_qos(broker, client, level_all):
    """Subscriber at QoS 2 gets each of QoS 0/1/2 at its own QoS, RETAIN 0;
    a subscriber at QoS 1 gets them downgraded to min(QoS, 1)."""
    level = level_all
    base = base_topic(client, level)
    s2 = client.spawn(broker, level, subs=[(f"{base}/#", 2)], count=3)
    s1 = client.spawn(broker, level, subs=[(f"{base}/#", 1)], count=3)
    assert s2.wait_ev("suback")["granted"] == 2, explain(broker, s2)
    assert s1.wait_ev("suback")["granted"] == 1, explain(broker, s1)
    s2.wait_ev("ready")
    s1.wait_ev("ready")
    client.publish(broker, level, [(f"{base}/q{q}", q, False, f"m{q}") for q in (0, 1, 2)])
    for run, cap in ((s2, 2), (s1, 1)):
        run.finish()
        got = sorted((m["topic"], m["payload"], m["qos"], m["retain"]) for m in run.msgs())
        want = [(f"{base}/q{q}", f"m{q}", min(q, cap), False) for q in (0, 1, 2)]
        assert got == want, explain(broker, run)


def test_mqtt_interop_burst_in_order(request, broker, client, level):
    """150 QoS 1 and 150 QoS 2 messages published back to back (each client's
    in-flight window full) reach a QoS 2 subscriber complete, once, and in
    order per topic."""
    if broker.kind == "mosquitto" and client.name == "mosquitto_cli" and level == 5:
        request.node.add_marker(pytest.mark.xfail(
            strict=False, reason="reference pair: mosquitto 2.0.11 sends mosquitto_sub (MQTT 5) "
            "more QoS 2 messages in flight than it takes; it quits with a protocol error "
            "about one run in two"))
    base = base_topic(client, level)
    n = 150
    s = client.spawn(broker, level, subs=[(f"{base}/#", 2)], count=2 * n, timeout_ms=20000)
    s.wait_ev("ready")
    for q in (1, 2):
        client.burst(broker, level, f"{base}/q{q}", q, n)
    s.finish(timeout=30)
    for q in (1, 2):
        got = [m["payload"] for m in s.msgs() if m["topic"] == f"{base}/q{q}"]
        assert got == [str(i) for i in range(n)], \
            f"QoS {q}: {len(got)} messages, first differences at " \
            f"{[i for i, (a, b) in enumerate(zip(got, map(str, range(n)))) if a != b][:5]}\n" \
            + explain(broker, s)
        assert all(m["qos"] == q for m in s.msgs() if m["topic"] == f"{base}/q{q}")


def test_mqtt_interop_retained(broker, client, level):
    """A retained message published before the subscribe arrives with RETAIN 1
    at min(QoS); an empty retained publish clears it (nothing arrives after)."""
    base = base_topic(client, level)
    t = f"{base}/state"
    client.publish(broker, level, [(t, 1, True, "on")])
    s = client.spawn(broker, level, subs=[(t, 2)], count=1)
    s.finish()
    assert [(m["topic"], m["payload"], m["qos"], m["retain"]) for m in s.msgs()] == \
        [(t, "on", 1, True)], explain(broker, s)
    client.publish(broker, level, [(t, 1, True, "")])
    s = client.spawn(broker, level, subs=[(t, 1)], count=1, timeout_ms=600)
    s.finish(ok=False)
    assert s.msgs() == [], "retained message not cleared\n" + explain(broker, s)


def test_mqtt_interop_will(broker, client, level_all):
    """Will published when the client's process (and socket) is killed; none
    when a client with a will disconnects normally."""
    level = level_all
    base = base_topic(client, level)
    wt = f"{base}/will"
    dummy = [(f"{base}/idle", 0)] if client.needs_topic else []
    watch = client.spawn(broker, level, subs=[(wt, 1)], count=1)
    watch.wait_ev("ready")
    polite = client.spawn(broker, level, subs=dummy, will=(wt, 1, False, "polite"))
    polite.finish()
    victim = client.spawn(broker, level, subs=dummy, will=(wt, 1, False, "gone"), hang=True)
    victim.wait_ev("ready")
    victim.kill()
    watch.finish()
    got = [(m["topic"], m["payload"], m["qos"], m["retain"]) for m in watch.msgs()]
    assert got == [(wt, "gone", 1, False)], explain(broker, watch, polite, victim)


def test_mqtt_interop_will_delay(broker, client):
    """MQTT 5 will delay: a client with Will Delay Interval 1 s (and a longer
    session) is killed; its will arrives about 1 s later, not at once."""
    base = base_topic(client, 5)
    wt = f"{base}/will"
    dummy = [(f"{base}/idle", 0)] if client.needs_topic else []
    watch = client.spawn(broker, 5, subs=[(wt, 1)], count=1, timeout_ms=8000)
    watch.wait_ev("ready")
    victim = client.spawn(broker, 5, subs=dummy, will=(wt, 1, False, "late"), will_delay=1,
                          cid=f"it5-{uuid.uuid4().hex[:12]}", clean=True, expiry=30, hang=True)
    victim.wait_ev("ready")
    t_kill = time.time()
    victim.kill()
    watch.finish()
    msgs = watch.msgs()
    assert [(m["topic"], m["payload"]) for m in msgs] == [(wt, "late")], \
        explain(broker, watch, victim)
    waited = msgs[0]["_t"] - t_kill
    assert 0.8 <= waited <= 5, f"will after {waited:.2f} s\n" + explain(broker, watch, victim)


@pytest.mark.parametrize("qos", [1, 2])
def test_mqtt_interop_unacked_redelivered_with_dup(broker, client, paho_c_bin, qos):
    """MQTT 5: a QoS 1/2 message delivered but never acknowledged (MQTT.js
    holds its PUBACK/PUBREC back, then is killed) is sent again with DUP=1
    when the session resumes, to whichever client library resumes it
    [MQTT-4.4.0-1], and only once."""
    clients = make_clients(paho_c_bin)
    base = base_topic(client, 5)
    t = f"{base}/u"
    cid = f"it5-{uuid.uuid4().hex[:12]}"
    a = clients["mqttjs"].spawn(broker, 5, subs=[(t, qos)], cid=cid, clean=False, expiry=300,
                                count=1, hang=True, extra=["--no-ack"])
    a.wait_ev("ready")
    clients["paho_py"].publish(broker, 5, [(t, qos, False, "unacked"), (t, qos, False, "next")])
    first = a.wait_ev("msg")
    a.kill()
    assert (first["payload"], first["dup"]) == ("unacked", False), explain(broker, a)
    again = [(t, qos)] if client.needs_topic else []
    b = client.spawn(broker, 5, subs=again, cid=cid, clean=False, expiry=300, count=2)
    b.finish()
    got = [(m["topic"], m["payload"], m["qos"]) for m in b.msgs()]
    assert got == [(t, "unacked", qos), (t, "next", qos)], explain(broker, a, b)
    # Paho C hands QoS 2 messages over at PUBREL with dup 0 (both brokers).
    if not (client.name == "paho_c" and qos == 2):
        assert b.msgs()[0]["dup"] in (True, None), "resent without DUP\n" + explain(broker, b)


def test_mqtt_interop_session_resume(broker, client, level_all):
    """Persistent session: subscribe QoS 1, disconnect, a QoS 1 publish while
    away is queued, reconnect (session present) and receive it."""
    level = level_all
    base = base_topic(client, level)
    t = f"{base}/s"
    cid = f"it{level}-{uuid.uuid4().hex[:12]}"  # MQTT 3.1: at most 23 characters
    a = client.spawn(broker, level, subs=[(t, 1)], cid=cid, clean=False, expiry=300)
    a.finish()
    assert a.first("connack")["session_present"] in (False, None), explain(broker, a)
    client.publish(broker, level, [(t, 1, False, "queued")])
    # mosquitto_sub must name a topic: it subscribes again (same filter).
    again = [(t, 1)] if client.needs_topic else []
    b = client.spawn(broker, level, subs=again, cid=cid, clean=False, expiry=300, count=1)
    b.finish()
    # MQTT 3.1's CONNACK has no session present flag (see the test below).
    sp_ok = (True, None, False) if level == 3 else (True, None)
    assert b.first("connack")["session_present"] in sp_ok, explain(broker, b)
    got = [(m["topic"], m["payload"], m["qos"], m["retain"]) for m in b.msgs()]
    assert got == [(t, "queued", 1, False)], explain(broker, a, b)


@pytest.mark.parametrize("name", ["paho_py", "mqttjs"])  # those two report the bit
def test_mqtt_interop_31_connack_has_no_session_flag(broker, paho_c_bin, name):
    """MQTT 3.1 (MQIsdp): CONNACK byte 2 is reserved, so a client resuming a
    persistent session must not be told "session present"; mosquitto sends 0
    (Loom sent 20 02 01 00 until d1d7481)."""
    client = make_clients(paho_c_bin)[name]
    cid = f"it3-{uuid.uuid4().hex[:12]}"
    t = f"{base_topic(client, 3)}/x"
    client.spawn(broker, 3, subs=[(t, 1)], cid=cid, clean=False).finish()
    b = client.spawn(broker, 3, cid=cid, clean=False).finish()
    assert b.first("connack")["session_present"] is False, explain(broker, b)


def test_mqtt_interop_bad_password_refused(broker, client, level):
    """A wrong password: a refusing CONNACK as each client reports it, "bad
    user name or password" or "not authorized" (3.1.1 codes 4/5, 5.0 reasons
    0x86/0x87; mosquitto says the latter, Loom the former), and no session."""
    base = base_topic(client, level)
    user = f"nobody-{uuid.uuid4().hex[:8]}"  # the login back-off counts per user name
    r = client.spawn(broker, level, subs=[(f"{base}/x", 0)], auth=(user, "wrong-password"))
    r.finish(ok=False)
    codes = [e["rc"] for e in r.events if e["ev"] in ("connack", "error") and e.get("rc")]
    assert r.proc.returncode != 0 and not r.first("ready"), explain(broker, r)
    assert codes and codes[0] in ((0x86, 0x87) if level == 5 else (4, 5)), explain(broker, r)


def test_mqtt_interop_keepalive_pings(broker, paho_c_bin):
    """Keep Alive 1 s, idle 3.5 s: each client's PINGREQs keep it connected at
    3.1.1 and 5.0 (without them the broker drops it after 1.5 s), and a
    message published afterwards still arrives. mosquitto_sub: Keep Alive >= 5."""
    clients = make_clients(paho_c_bin)
    base = f"interop/keepalive/{uuid.uuid4().hex[:8]}"
    t = f"{base}/t"
    runs = [clients[n].spawn(broker, lv, subs=[(t, 1)], count=1, timeout_ms=15000,
                             extra=["--keepalive", "1"])
            for n in ("paho_py", "paho_c", "mqttjs") for lv in (4, 5)]
    for r in runs:
        r.wait_ev("ready")
    time.sleep(3.5)
    clients["paho_py"].publish(broker, 5, [(t, 1, False, "still here")])
    for r in runs:
        r.finish()
        assert [(m["topic"], m["payload"]) for m in r.msgs()] == [(t, "still here")], \
            explain(broker, r)


def test_mqtt_interop_sys_topics(broker, client, level):
    """Monitoring as people do it with mosquitto: $SYS/broker/version and
    $SYS/broker/clients/connected arrive retained, a version string and a
    count (as of the last periodic update, so maybe 0)."""
    want = ["$SYS/broker/clients/connected", "$SYS/broker/version"]
    s = client.spawn(broker, level, subs=[(t, 0) for t in want], count=2, timeout_ms=12000)
    s.finish(timeout=20)
    got = {m["topic"]: m for m in s.msgs()}
    assert sorted(got) == want and all(m["retain"] for m in got.values()), explain(broker, s)
    assert got["$SYS/broker/version"]["payload"].strip(), explain(broker, s)
    assert int(got["$SYS/broker/clients/connected"]["payload"]) >= 0, explain(broker, s)


def test_mqtt_interop_cross_clients(broker, paho_c_bin, level):
    """Every client's QoS 1 and QoS 2 publishes reach every other client's
    subscriber, at the published QoS, once each."""
    clients = make_clients(paho_c_bin)
    base = f"interop/cross/{level}/{uuid.uuid4().hex[:8]}"
    subs = {n: c.spawn(broker, level, subs=[(f"{base}/#", 2)], count=2 * len(clients))
            for n, c in clients.items()}
    for r in subs.values():
        r.wait_ev("ready")
    want = []
    for n, c in clients.items():
        pubs = [(f"{base}/{n}/q{q}", q, False, f"from {n} q{q}") for q in (1, 2)]
        c.publish(broker, level, pubs)
        want += [(t, p, q) for t, q, _, p in pubs]
    for n, r in subs.items():
        r.finish()
        got = sorted((m["topic"], m["payload"], m["qos"]) for m in r.msgs())
        assert got == sorted(want), f"subscriber {n}\n" + explain(broker, r)


V5_PROPS = {"response_topic": "reply/here", "correlation_data": "00ff10fe",
            "user": [["zone", "B"], ["line", "3"], ["zone", "A"]],
            "content_type": "application/json; charset=utf-8", "payload_format": 1,
            "expiry": 60}


@pytest.mark.parametrize("pub,sub", [("mqttjs", "paho_py"), ("paho_py", "mqttjs"),
                                     ("paho_py", "paho_py")])
def test_mqtt_interop_v5_properties_forwarded(broker, paho_c_bin, pub, sub):
    """MQTT 5 PUBLISH properties from one client library reach another intact:
    response topic, correlation data, content type, payload format, user
    properties (in order where both ends keep order: MQTT.js holds them in an
    object), message expiry (counted down, never up)."""
    clients = make_clients(paho_c_bin)
    base = f"interop/props/{uuid.uuid4().hex[:8]}"
    s = clients[sub].spawn(broker, 5, subs=[(f"{base}/#", 1)], count=2)
    s.wait_ev("ready")
    clients[pub].spawn(broker, 5, pubs=[(f"{base}/q{q}", q, False, '{"v":1}') for q in (0, 1)],
                       extra=["--pub-props", json.dumps(V5_PROPS)]).finish()
    s.finish()
    assert len(s.msgs()) == 2, explain(broker, s)
    for m in s.msgs():
        got, want = dict(m["props"]), dict(V5_PROPS)
        assert 55 <= got.pop("expiry", -1) <= 60, explain(broker, s)
        want.pop("expiry")
        if "mqttjs" in (pub, sub):
            got["user"], want["user"] = sorted(got.get("user", [])), sorted(want["user"])
        assert got == want, explain(broker, s)


@pytest.mark.skipif(BROKER_KIND != "loom", reason="Loom only: MQTT over WebSocket at /mqtt "
                    "on the HTTP port (Debian's mosquitto cannot bind its websockets listener "
                    "to 127.0.0.1)")
@pytest.mark.parametrize("name", ["paho_py", "paho_c", "mqttjs"])  # mosquitto_sub: no WS
def test_mqtt_interop_websocket(broker, paho_c_bin, level, name):
    """A client over WebSocket (ws://HTTP_PORT/mqtt) and Paho Python over TCP
    exchange QoS 0/1/2 messages both ways."""
    clients = make_clients(paho_c_bin)
    ws, py = clients[name], clients["paho_py"]
    base = f"interop/ws/{name}/{level}/{uuid.uuid4().hex[:8]}"
    ws_sub = ws.spawn(broker, level, subs=[(f"{base}/to-ws/#", 2)], count=3, ws_path="mqtt")
    tcp_sub = py.spawn(broker, level, subs=[(f"{base}/to-tcp/#", 2)], count=3)
    ws_sub.wait_ev("ready")
    tcp_sub.wait_ev("ready")
    py.publish(broker, level, [(f"{base}/to-ws/q{q}", q, False, f"w{q}") for q in (0, 1, 2)])
    ws.spawn(broker, level, pubs=[(f"{base}/to-tcp/q{q}", q, False, f"t{q}") for q in (0, 1, 2)],
             ws_path="mqtt").finish()
    for run, d, p in ((ws_sub, "to-ws", "w"), (tcp_sub, "to-tcp", "t")):
        run.finish()
        got = sorted((m["topic"], m["payload"], m["qos"]) for m in run.msgs())
        assert got == [(f"{base}/{d}/q{q}", f"{p}{q}", q) for q in (0, 1, 2)], explain(broker, run)


def test_mqtt_interop_mqttjs_server_topic_aliases(broker, paho_c_bin):
    """MQTT 5: MQTT.js allows 4 topic aliases; messages on 6 topics, 3 rounds,
    all arrive with their right topic names through the aliases the server
    assigns (Loom does, so some must carry one, none above 4; mosquitto never
    aliases outgoing messages). Paho C/Python do not resolve inbound aliases
    and do not ask for them."""
    clients = make_clients(paho_c_bin)
    js, py = clients["mqttjs"], clients["paho_py"]
    base = f"interop/alias/{uuid.uuid4().hex[:8]}/a-long-topic-name-worth-an-alias"
    pubs = [(f"{base}/{i}", 1, False, f"r{r}t{i}") for r in range(3) for i in range(6)]
    sub = js.spawn(broker, 5, subs=[(f"{base}/#", 1)], count=len(pubs),
                   extra=["--alias-max", "4"])
    sub.wait_ev("ready")
    py.publish(broker, 5, pubs)
    sub.finish()
    got = sorted((m["topic"], m["payload"]) for m in sub.msgs())
    assert got == sorted((t, p) for t, _, _, p in pubs), explain(broker, sub)
    aliases = [m["alias"] for m in sub.msgs() if "alias" in m]
    assert all(1 <= a <= 4 for a in aliases), explain(broker, sub)
    if broker.kind == "loom":
        assert aliases, "Loom assigned no outgoing topic alias\n" + explain(broker, sub)


@pytest.mark.skipif(BROKER_KIND != "loom", reason="Loom only: a restart on the same data dir")
@pytest.mark.parametrize("lv", sorted(LEVELS))
def test_mqtt_interop_loom_restart_keeps_session(broker, paho_c_bin, lv):
    """SIGTERM and start again on the same data dir: a persistent session keeps
    its subscription and its queued QoS 1 and QoS 2 messages, and a retained
    message is still retained (Paho Python)."""
    level = LEVELS[lv]
    client = make_clients(paho_c_bin)["paho_py"]
    base = base_topic(client, level)
    t, rt = f"{base}/r", f"{base}/retained"
    cid = f"it{level}-{uuid.uuid4().hex[:12]}"
    client.spawn(broker, level, subs=[(t, 2)], cid=cid, clean=False, expiry=3600).finish()
    client.publish(broker, level, [(t, 1, False, "before1"), (t, 2, False, "before2"),
                                   (rt, 1, True, "kept")])
    broker.restart()
    b = client.spawn(broker, level, cid=cid, clean=False, expiry=3600, count=3)
    b.wait_ev("ready")
    client.publish(broker, level, [(t, 1, False, "after")])
    b.finish()
    if level != 3:  # 3.1: no session present flag
        assert b.first("connack")["session_present"] is True, explain(broker, b)
    got = [(m["topic"], m["payload"], m["qos"]) for m in b.msgs()]
    # every message once, with its QoS; order is kept per QoS. Across QoS levels the
    # application sees no fixed order: Paho Python hands a QoS 2 message over only at
    # PUBREL, after its own PUBREC's round trip, so a QoS 1 message the broker sent later
    # can come first (seen about 1 run in 8, whatever the broker build)
    assert sorted(got) == sorted([(t, "before1", 1), (t, "before2", 2), (t, "after", 1)]), \
        explain(broker, b)
    assert [p for _, p, q in got if q == 1] == ["before1", "after"], explain(broker, b)
    r = client.spawn(broker, level, subs=[(rt, 1)], count=1)
    r.finish()
    got = [(m["topic"], m["payload"], m["qos"], m["retain"]) for m in r.msgs()]
    assert got == [(rt, "kept", 1, True)], explain(broker, r)
