# SPDX-License-Identifier: Apache-2.0
"""`loom serve` settings given on the command line: bad values are refused
before anything starts, with a message naming the setting; good ones take
effect (the MQTT limits reach the broker)."""
import subprocess

from conftest import LOOM_BIN, TOKEN
from mqtt_plant import Raw


def run_serve(*args):
    return subprocess.run([LOOM_BIN, "serve", "--data", "/nonexistent/never-created", *args],
                          capture_output=True, text=True, timeout=30)


def test_bad_mqtt_limits_are_refused_naming_the_setting():
    for arg, val, words in [("--mqtt-max-packet", "0", "from 1 to 268435455"),
                            ("--mqtt-keepalive-max", "70000", "from 1 to 65535"),
                            ("--mqtt-max-queued", "many", "must be a number"),
                            ("--mqtt-conn-rate", "-5", "must be a number"),
                            ("--mqtt-max-inflight", "0", "from 1 to 65535"),
                            ("--mqtt-max-inflight", "65536", "from 1 to 65535")]:
        r = run_serve(arg, val)
        assert r.returncode != 0, (arg, r.stderr)
        assert arg.lstrip("-") in r.stderr and words in r.stderr, (arg, r.stderr)
    r = run_serve("--mqtt-frobnicate", "1")
    assert r.returncode != 0 and 'unknown setting "mqtt-frobnicate"' in r.stderr, r.stderr


def test_mqtt_max_packet_setting_reaches_the_broker(loom_factory):
    srv = loom_factory(extra_args=["--mqtt-max-packet", "200"]).start()
    r = Raw(srv.mqtt_port)
    t, body = r.connect("admin", TOKEN)
    assert t == 0x20 and body[1] == 0, body
    assert b"\x27\x00\x00\x00\xc8" in body  # CONNACK Maximum Packet Size = 200
    r.publish("big/topic", "x" * 300, qos=0)
    got = r.read(timeout=5)
    assert got is None or (got[0] == 0xE0 and got[1][0] == 0x95), got  # Packet too large
    r.close()


def test_mqtt_max_inflight_setting_bounds_unacked_311_deliveries(loom_factory):
    """--mqtt-max-inflight 3: a 3.1.1 subscriber that does not acknowledge gets
    3 QoS 1 deliveries of 6, and one more for each PUBACK it sends."""
    srv = loom_factory(extra_args=["--mqtt-max-inflight", "3"]).start()
    sub = Raw(srv.mqtt_port)
    t, body = sub.connect("admin", TOKEN, level=4, client_id="inflight-sub")
    assert t == 0x20 and body[1] == 0, body
    sub.send(0x82, b"\x00\x01" + b"\x00\x0ainflight/t" + b"\x01")
    t, body = sub.read()
    assert t == 0x90 and body == b"\x00\x01\x01", (t, body)
    pub = Raw(srv.mqtt_port)
    t, body = pub.connect("admin", TOKEN, level=4, client_id="inflight-pub")
    assert t == 0x20 and body[1] == 0, body
    for i in range(6):
        pub.publish("inflight/t", f"m{i}", qos=1, pid=i + 1, level=4)
        assert pub.read() == (0x40, (i + 1).to_bytes(2, "big"))

    def deliveries(timeout):
        got = []
        while (pk := sub.read(timeout=timeout)) is not None:
            assert pk[0] & 0xF0 == 0x30 and pk[0] & 0x06 == 0x02, pk  # PUBLISH, QoS 1
            n = int.from_bytes(pk[1][:2], "big")
            got.append((pk[1][2 + n:4 + n], pk[1][4 + n:]))
        return got

    first = deliveries(1.0)
    assert [p for _, p in first] == [b"m0", b"m1", b"m2"], first
    sub.send(0x40, first[0][0])  # PUBACK the first: the window opens by one
    assert [p for _, p in deliveries(1.0)] == [b"m3"]
    sub.close()
    pub.close()
