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
                            ("--mqtt-conn-rate", "-5", "must be a number")]:
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
