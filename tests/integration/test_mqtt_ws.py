# SPDX-License-Identifier: Apache-2.0
"""MQTT over WebSocket on the HTTP port (GET /mqtt) against the real daemon:
paho (python3-paho-mqtt 1.6, transport="websockets", path /mqtt) connects at
3.1.1 and 5.0, subscribes, publishes and receives at QoS 0, 1 and 2, also
across transports (TCP publisher, WebSocket subscriber); the upgrade's
answers with exact bytes (101 naming the subprotocol, 400 without "mqtt",
426 without an upgrade); a text frame closes with 1003; a persistent
session's subscription and queued QoS 1 message survive a restart."""
import base64
import os
import queue
import signal
import socket
import time

import paho.mqtt.client as paho
import pytest
import requests

from conftest import TOKEN
from mqtt_plant import start

V5 = paho.MQTTv5
V311 = paho.MQTTv311


@pytest.fixture
def srv(loom_factory):
    return start(loom_factory)


class WsClient:
    """A paho client over WebSocket (or TCP) that collects messages."""

    def __init__(self, srv, proto=V311, client_id="", transport="websockets", clean=True):
        kw = {"protocol": proto, "transport": transport}
        if proto == V5:
            kw["client_id"] = client_id
        else:
            kw["client_id"] = client_id
            kw["clean_session"] = clean
        self.c = paho.Client(**kw)
        if transport == "websockets":
            self.c.ws_set_options(path="/mqtt")
        self.c.username_pw_set("ws", TOKEN)
        self.port = srv.port if transport == "websockets" else srv.mqtt_port
        self.proto = proto
        self.msgs = queue.Queue()
        self.connacks = queue.Queue()
        self.subacks = queue.Queue()
        self.c.on_message = lambda c, u, m: self.msgs.put(m)
        self.c.on_subscribe = lambda c, u, mid, granted, *rest: self.subacks.put(granted)
        if proto == V5:
            self.c.on_connect = lambda c, u, f, rc, props=None: self.connacks.put(rc)
        else:
            self.c.on_connect = lambda c, u, f, rc: self.connacks.put(rc)

    def connect(self, clean_start=True, expiry=None):
        if self.proto == V5:
            props = None
            if expiry is not None:
                from paho.mqtt.properties import Properties
                from paho.mqtt.packettypes import PacketTypes
                props = Properties(PacketTypes.CONNECT)
                props.SessionExpiryInterval = expiry
            self.c.connect("127.0.0.1", self.port, keepalive=30, clean_start=clean_start,
                           properties=props)
        else:
            self.c.connect("127.0.0.1", self.port, keepalive=30)
        self.c.loop_start()
        rc = self.connacks.get(timeout=10)
        return rc if isinstance(rc, int) else rc.value

    def sub(self, topic, qos):
        self.c.subscribe(topic, qos)
        return self.subacks.get(timeout=10)

    def pub(self, topic, payload, qos, retain=False):
        info = self.c.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish(timeout=10)
        assert info.is_published()

    def get(self, timeout=10):
        return self.msgs.get(timeout=timeout)

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


def handshake(port, protocol=None, path="/mqtt"):
    """Send an upgrade request; return (socket, response head bytes)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    req = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n")
    if protocol:
        req += f"Sec-WebSocket-Protocol: {protocol}\r\n"
    s.sendall((req + "\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(1)
        if not chunk:
            break
        head += chunk
    return s, head


def masked(opcode, payload):
    mask = os.urandom(4)
    assert len(payload) < 126
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + bytes(
        b ^ mask[i % 4] for i, b in enumerate(payload))


def recv_exact(s, n):
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            break
        out += chunk
    return out


@pytest.mark.parametrize("proto", [V311, V5], ids=["3.1.1", "5.0"])
def test_mqtt_ws_pubsub_qos_0_1_2(srv, proto):
    sub = WsClient(srv, proto, client_id=f"ws-sub-{proto}")
    assert sub.connect() == 0
    assert [int(getattr(g, "value", g)) for g in sub.sub("ws/t/#", 2)] == [2]
    pub = WsClient(srv, proto, client_id=f"ws-pub-{proto}")
    assert pub.connect() == 0
    for qos in (0, 1, 2):
        pub.pub(f"ws/t/{qos}", f"hello {qos}".encode(), qos)
    got = {}
    for _ in range(3):
        m = sub.get()
        got[m.topic] = (m.payload, m.qos)
    assert got == {f"ws/t/{q}": (f"hello {q}".encode(), q) for q in (0, 1, 2)}
    pub.close()
    sub.close()


def test_mqtt_ws_large_message_spans_frames(srv):
    sub = WsClient(srv, V5, client_id="ws-big-sub")
    assert sub.connect() == 0
    sub.sub("ws/big", 1)
    pub = WsClient(srv, V5, client_id="ws-big-pub")
    assert pub.connect() == 0
    body = os.urandom(200_000)
    pub.pub("ws/big", body, 1)
    m = sub.get()
    assert m.payload == body and m.qos == 1
    pub.close()
    sub.close()


def test_mqtt_ws_and_tcp_clients_talk(srv):
    sub = WsClient(srv, V311, client_id="ws-mixed-sub")
    assert sub.connect() == 0
    sub.sub("mixed/#", 1)
    tcp = WsClient(srv, V311, client_id="tcp-mixed-pub", transport="tcp")
    assert tcp.connect() == 0
    tcp.pub("mixed/a", b"from tcp", 1)
    m = sub.get()
    assert (m.topic, m.payload) == ("mixed/a", b"from tcp")
    tcp.close()
    sub.close()


def test_mqtt_ws_upgrade_answers_101_with_subprotocol(srv):
    for offered, chosen in (("mqtt", "mqtt"), ("mqttv3.1", "mqttv3.1"), ("chat, mqtt", "mqtt")):
        s, head = handshake(srv.port, offered)
        assert head.startswith(b"HTTP/1.1 101 "), head
        assert f"\r\nSec-WebSocket-Protocol: {chosen}\r\n".encode() in head, head
        s.close()


def test_mqtt_ws_without_mqtt_subprotocol_is_400(srv):
    for offered in (None, "chat", "MQTT"):
        s, head = handshake(srv.port, offered)
        assert head.startswith(b"HTTP/1.1 400 "), head
        s.close()
    r = requests.get(srv.url + "/mqtt", headers={"Upgrade": "websocket", "Connection": "Upgrade",
                                                 "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                                                 "Sec-WebSocket-Version": "13"}, timeout=10)
    assert r.status_code == 400 and "mqtt" in r.json()["error"]["message"]


def test_mqtt_ws_plain_get_is_426(srv):
    r = requests.get(srv.url + "/mqtt", timeout=10)
    assert r.status_code == 426


def test_mqtt_ws_text_frame_closes_1003(srv):
    s, head = handshake(srv.port, "mqtt")
    assert head.startswith(b"HTTP/1.1 101 ")
    s.sendall(masked(1, b"{}"))
    frame = recv_exact(s, 4)
    assert frame[0] == 0x88 and frame[1] & 0x7F >= 2, frame
    assert int.from_bytes(frame[2:4], "big") == 1003
    s.close()


def test_mqtt_ws_raw_connect_bytes(srv):
    """An MQTT 3.1.1 CONNECT split over two binary frames gets a CONNACK frame."""
    s, head = handshake(srv.port, "mqtt")
    assert head.startswith(b"HTTP/1.1 101 ")
    user, pw = b"ws", TOKEN.encode()
    vh = b"\x00\x04MQTT\x04\xc2\x00\x1e"
    pl = b"\x00\x03raw" + len(user).to_bytes(2, "big") + user + len(pw).to_bytes(2, "big") + pw
    body = vh + pl
    assert len(body) < 128
    connect = bytes([0x10, len(body)]) + body
    s.sendall(masked(2, connect[:5]) + masked(2, connect[5:]))
    h = recv_exact(s, 2)
    assert h[0] == 0x82, h
    connack = recv_exact(s, h[1] & 0x7F)
    assert connack == b"\x20\x02\x00\x00", connack
    s.close()


def test_mqtt_ws_session_survives_restart(srv):
    """A persistent session made over WebSocket keeps its subscription and a
    QoS 1 message queued while it was offline across a broker restart."""
    c = WsClient(srv, V311, client_id="ws-persist", clean=False)
    assert c.connect() == 0
    c.sub("keep/#", 1)
    c.close()
    pub = WsClient(srv, V311, client_id="ws-persist-pub")
    assert pub.connect() == 0
    pub.pub("keep/one", b"queued", 1)
    pub.close()
    time.sleep(0.2)
    assert srv.stop(sig=signal.SIGTERM) == 0
    srv.start(port=srv.port)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", srv.mqtt_port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.05)
    c = WsClient(srv, V311, client_id="ws-persist", clean=False)
    assert c.connect() == 0
    m = c.get()
    assert (m.topic, m.payload, m.qos) == ("keep/one", b"queued", 1)
    # the subscription itself survived too
    pub = WsClient(srv, V311, client_id="ws-persist-pub2")
    assert pub.connect() == 0
    pub.pub("keep/two", b"after", 1)
    m = c.get()
    assert (m.topic, m.payload) == ("keep/two", b"after")
    pub.close()
    c.close()
