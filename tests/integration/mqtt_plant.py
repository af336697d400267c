# SPDX-License-Identifier: Apache-2.0
"""Helpers shared by the MQTT platform tests (test_mqtt_device.py,
test_mqtt_gateway.py, test_mqtt_auth.py): a daemon with the broker on a free
port, a tenant with a profile and devices made through the REST API, and
small paho (python3-paho-mqtt 1.6) wrappers that connect, wait for CONNACK
and collect messages."""
import json
import queue
import threading
import time

import paho.mqtt.client as paho
import requests

from conftest import TOKEN, free_port

FAST = {"LOOM_PASSWORD_COST": "min"}
PW = "correct horse battery staple"
ADMIN = {"Authorization": f"Token {TOKEN}"}
V5 = paho.MQTTv5
V311 = paho.MQTTv311


def ok(r, status=None):
    assert r.status_code < 300 if status is None else r.status_code == status, (r.status_code, r.text)
    return r.json() if r.content else None


def start(loom_factory, env=None):
    """A daemon with MQTT on a free port; .mqtt_port is set."""
    port = free_port()
    e = dict(FAST)
    e.update(env or {})
    inst = loom_factory(env=e, extra_args=["--mqtt", f"127.0.0.1:{port}"]).start()
    inst.mqtt_port = port
    deadline = time.time() + 10
    import socket
    while time.time() < deadline:  # the broker binds before serve answers /ping, but be sure
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.05)
    return inst


class Plant:
    """A tenant with its own database, a profile and devices."""

    def __init__(self, loom, tenant="Acme", profile="boiler"):
        self.loom = loom
        self.api = loom.url + "/api/v1"
        t = ok(requests.post(self.api + "/tenants", json={"name": tenant}, headers=ADMIN, timeout=30), 201)
        self.tenant_id, self.db = t["id"], t["db_name"]
        self.profile = ok(requests.post(self.api + "/device-profiles",
                                        json={"tenant_id": self.tenant_id, "name": profile},
                                        headers=ADMIN, timeout=30), 201)

    def device(self, name, **extra):
        body = {"tenant_id": self.tenant_id, "name": name, "profile_id": self.profile["id"]}
        body.update(extra)
        d = ok(requests.post(self.api + "/devices", json=body, headers=ADMIN, timeout=30), 201)
        return d, d["credentials"]["accessToken"]

    def user_token(self, role="tenant_admin", email=None, scope="write"):
        """A user of the tenant and an API token of it: (user, token entity with "token")."""
        email = email or f"{role}-{time.time_ns()}@example.com"
        u = ok(requests.post(self.api + "/users", json={"tenant_id": self.tenant_id, "email": email,
                                                         "role": role, "password": PW},
                             headers=ADMIN, timeout=30), 201)
        sess = ok(requests.post(self.api + "/auth/login", json={"username": email, "password": PW},
                                timeout=30))["token"]
        t = ok(requests.post(self.api + "/tokens", json={"name": "mqtt", "scope": scope},
                             headers={"Authorization": f"Token {sess}"}, timeout=30), 201)
        return u, t

    def select(self, q):
        r = self.loom.query(q, db=self.db)
        assert r.status_code == 200, r.text
        return r.json()["results"][0]

    def get(self, path):
        return ok(requests.get(self.api + path, headers=ADMIN, timeout=30))


class Client:
    """A paho client on its own network thread with queues of events."""

    def __init__(self, port, username=None, password=None, version=V5, client_id=None):
        self.msgs = queue.Queue()
        self.acks = queue.Queue()
        self.subacks = queue.Queue()
        self.connack = queue.Queue()
        self.disconnects = queue.Queue()
        self.version = version
        cid = client_id if client_id is not None else f"c{time.time_ns()}"
        self.c = paho.Client(client_id=cid, protocol=version)
        if username is not None or password is not None:
            self.c.username_pw_set(username, password)
        self.c.on_connect = self._on_connect
        self.c.on_message = lambda c, u, m: self.msgs.put(m)
        self.c.on_publish = lambda c, u, mid: self.acks.put(mid)
        self.c.on_subscribe = self._on_subscribe
        self.c.on_disconnect = self._on_disconnect
        self.port = port

    def _on_connect(self, c, u, flags, rc, props=None):
        self.connack.put(rc if isinstance(rc, int) else rc.value)

    def _on_subscribe(self, c, u, mid, granted, props=None):
        self.subacks.put([g if isinstance(g, int) else g.value for g in granted])

    def _on_disconnect(self, c, u, rc, props=None):
        self.disconnects.put(rc if isinstance(rc, int) else getattr(rc, "value", rc))

    def connect(self, timeout=10):
        """Returns the CONNACK code (0 = accepted)."""
        self.c.connect("127.0.0.1", self.port, keepalive=30)
        self.c.loop_start()
        try:
            rc = self.connack.get(timeout=timeout)
        except queue.Empty:
            rc = None
        if rc != 0:  # refused: no automatic reconnects (they would count as more failures)
            self.c.disconnect()
            self.c.loop_stop()
        return rc

    def sub(self, topic, qos=1, timeout=10):
        self.c.subscribe(topic, qos)
        return self.subacks.get(timeout=timeout)

    def pub(self, topic, payload, qos=1, wait=True, timeout=10):
        if not isinstance(payload, (bytes, str)):
            payload = json.dumps(payload)
        info = self.c.publish(topic, payload, qos)
        if wait and qos > 0:
            info.wait_for_publish(timeout)
            assert info.is_published(), f"no PUBACK for {topic}"
        return info

    def expect(self, timeout=10):
        return self.msgs.get(timeout=timeout)

    def expect_topic(self, topic, timeout=10):
        deadline = time.time() + timeout
        while True:
            m = self.msgs.get(timeout=max(0.01, deadline - time.time()))
            if m.topic == topic:
                return m

    def none(self, wait=0.5):
        try:
            m = self.msgs.get(timeout=wait)
            return m
        except queue.Empty:
            return None

    def close(self):
        try:
            self.c.disconnect()
        finally:
            self.c.loop_stop()


def wait_until(fn, timeout=10, step=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(step)
    return fn()


# ---- raw MQTT 5 bytes (paho 1.6 does not expose PUBACK reason codes) ----

def _varint(n):
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _str(s):
    b = s.encode() if isinstance(s, str) else s
    return len(b).to_bytes(2, "big") + b


class Raw:
    """A bare MQTT client over a socket: exact bytes in and out."""

    def __init__(self, port):
        import socket
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def send(self, ptype, body):
        self.s.sendall(bytes([ptype]) + _varint(len(body)) + body)

    def connect(self, username=None, password=None, level=5, client_id="raw"):
        flags = 0x02 | (0x80 if username is not None else 0) | (0x40 if password is not None else 0)
        vh = _str("MQTT") + bytes([level, flags]) + (30).to_bytes(2, "big")
        if level == 5:
            vh += b"\x00"
        pl = _str(client_id)
        if username is not None:
            pl += _str(username)
        if password is not None:
            pl += _str(password)
        self.send(0x10, vh + pl)
        return self.read()

    def publish(self, topic, payload, qos=1, pid=1, level=5):
        body = _str(topic) + (pid.to_bytes(2, "big") if qos else b"") + (b"\x00" if level == 5 else b"")
        body += payload if isinstance(payload, bytes) else payload.encode()
        self.send(0x30 | (qos << 1), body)

    def read(self, timeout=10):
        """One packet: (type byte, body), or None when the connection closed."""
        self.s.settimeout(timeout)
        while True:
            if len(self.buf) >= 2:
                n, mult, i = 0, 1, 1
                while i < len(self.buf):
                    b = self.buf[i]
                    n += (b & 0x7F) * mult
                    mult *= 128
                    i += 1
                    if not b & 0x80:
                        break
                else:
                    i = None
                if i is not None and len(self.buf) >= i + n:
                    pkt = (self.buf[0], self.buf[i:i + n])
                    self.buf = self.buf[i + n:]
                    return pkt
            try:
                d = self.s.recv(65536)
            except OSError:
                return None
            if not d:
                return None
            self.buf += d

    def close(self):
        self.s.close()


def reason_string(props):
    """The Reason String (0x1F) in an MQTT 5 property block body, or None."""
    i = 0
    while i < len(props):
        pid = props[i]
        i += 1
        if pid == 0x1F:
            n = int.from_bytes(props[i:i + 2], "big")
            return props[i + 2:i + 2 + n].decode()
        if pid == 0x26:
            n = int.from_bytes(props[i:i + 2], "big")
            i += 2 + n
            m = int.from_bytes(props[i:i + 2], "big")
            i += 2 + m
        else:
            return None
    return None
