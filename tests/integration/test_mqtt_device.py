# SPDX-License-Identifier: Apache-2.0
"""ThingsBoard's device API over MQTT against the real daemon (`loom serve
--mqtt`), with paho: telemetry stored in the tenant's database and
acknowledged (QoS 1) only once durable, bad JSON refused (PUBACK 0x99 with a
reason string at 5, the connection closed at 3.1.1), client attributes,
attribute requests and responses, shared attribute updates pushed, commands
from the registry delivered with their status kept, the device's answers,
client-side requests, and online state following the connection."""
import json
import time

import pytest
import requests

from mqtt_plant import ADMIN, V311, V5, Client, Plant, ok, start, wait_until


@pytest.fixture
def srv(loom_factory):
    return start(loom_factory)


def test_mqtt_device_telemetry_stored_and_acked(srv):
    p = Plant(srv)
    _, tok = p.device("b1")
    c = Client(srv.mqtt_port, tok)
    assert c.connect() == 0
    c.pub("v1/devices/me/telemetry", {"temp": 21.5, "on": True})
    # acknowledged only once durable: readable at once
    res = p.select("SELECT last(temp), last(\"on\") FROM boiler WHERE device = 'b1'")
    assert res["series"][0]["values"][0][1:] == [21.5, True]
    c.pub("v1/devices/me/telemetry", [{"ts": 1700000000000, "values": {"temp": 20}},
                                      {"ts": 1700000001000, "values": {"temp": 19}}])
    res = p.select("SELECT temp FROM boiler WHERE time < 1700000002000ms")
    assert [v[1] for v in res["series"][0]["values"]] == [20, 19]
    c.close()
