#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A small MQTT client CLI on Eclipse Paho Python (Debian python3-paho-mqtt
1.6.1), MQTT 3.1, 3.1.1 or 5.0, for tests/integration/test_mqtt_interop.py. Same
arguments and JSON-lines output as paho_c_client.c and mqttjs_client.js:
connect, subscribe (--sub), print "ready", publish (--pub), receive --count
messages within --timeout ms, then DISCONNECT (or --hang until killed, for
will tests). Run with /usr/bin/python3 (the Debian paho)."""
import argparse
import json
import os
import sys
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties


def emit(**obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def parse_pub(s):
    """TOPIC:QOS:RETAIN:PAYLOAD; the payload may contain ':'."""
    p = s.split(":", 3)
    if len(p) != 4:
        raise argparse.ArgumentTypeError("want TOPIC:QOS:RETAIN:PAYLOAD")
    return (p[0], int(p[1]), p[2] == "1", p[3])


def parse_sub(s):
    """FILTER:QOS, split at the last ':'."""
    f, _, q = s.rpartition(":")
    if not f:
        raise argparse.ArgumentTypeError("want FILTER:QOS")
    return (f, int(q))


def props_in(j):
    """The CLI's property shape -> paho PUBLISH Properties."""
    p = Properties(PacketTypes.PUBLISH)
    if "response_topic" in j:
        p.ResponseTopic = j["response_topic"]
    if "correlation_data" in j:
        p.CorrelationData = bytes.fromhex(j["correlation_data"])
    if "content_type" in j:
        p.ContentType = j["content_type"]
    if "payload_format" in j:
        p.PayloadFormatIndicator = j["payload_format"]
    if "expiry" in j:
        p.MessageExpiryInterval = j["expiry"]
    if "user" in j:
        p.UserProperty = [tuple(kv) for kv in j["user"]]
    return p


def props_out(p):
    j = {}
    if p is None:
        return j
    if hasattr(p, "ResponseTopic"):
        j["response_topic"] = p.ResponseTopic
    if hasattr(p, "CorrelationData"):
        j["correlation_data"] = bytes(p.CorrelationData).hex()
    if hasattr(p, "ContentType"):
        j["content_type"] = p.ContentType
    if hasattr(p, "PayloadFormatIndicator"):
        j["payload_format"] = p.PayloadFormatIndicator
    if hasattr(p, "MessageExpiryInterval"):
        j["expiry"] = p.MessageExpiryInterval
    if hasattr(p, "UserProperty"):
        j["user"] = [list(kv) for kv in p.UserProperty]
    return j


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--level", type=int, choices=(3, 4, 5), default=4)
    ap.add_argument("--id")
    ap.add_argument("--user")
    ap.add_argument("--pass", dest="password")
    ap.add_argument("--clean", type=int, default=1)
    ap.add_argument("--expiry", type=int, default=-1)
    ap.add_argument("--will", type=parse_pub)
    ap.add_argument("--sub", type=parse_sub, action="append", default=[])
    ap.add_argument("--pub", type=parse_pub, action="append", default=[])
    ap.add_argument("--count", type=int, default=0)
    ap.add_argument("--timeout", type=int, default=5000)
    ap.add_argument("--hang", action="store_true")
    ap.add_argument("--will-delay", type=int, default=-1)
    ap.add_argument("--ws", help="MQTT over WebSocket at ws://HOST:PORT/WS")
    ap.add_argument("--keepalive", type=int, default=30)
    ap.add_argument("--pub-props", type=json.loads, help="MQTT 5 properties for every --pub "
                    "(see mqttjs_client.js); msg events at level 5 carry them as props")
    ap.add_argument("--burst", help='TOPIC:QOS:N: "0".."N-1" published back to back '
                    "(paho keeps 20 in flight)")
    o = ap.parse_args()

    cid = o.id or "pahopy-%d" % os.getpid()
    transport = "websockets" if o.ws is not None else "tcp"
    if o.level == 5:
        c = mqtt.Client(client_id=cid, protocol=mqtt.MQTTv5, transport=transport)
    else:
        c = mqtt.Client(client_id=cid, clean_session=bool(o.clean),
                        protocol=mqtt.MQTTv31 if o.level == 3 else mqtt.MQTTv311,
                        transport=transport)
    if o.ws is not None:
        c.ws_set_options(path="/" + o.ws)
    if o.user is not None:
        c.username_pw_set(o.user, o.password)
    if o.will:
        wprops = None
        if o.level == 5 and o.will_delay >= 0:
            wprops = Properties(PacketTypes.WILLMESSAGE)
            wprops.WillDelayInterval = o.will_delay
        c.will_set(o.will[0], o.will[3], o.will[1], o.will[2], properties=wprops)

    cond = threading.Condition()
    state = {"connack": None, "suback": None, "msgs": 0, "lost": False}

    def on_connect(_c, _u, flags, rc, _props=None):
        with cond:
            state["connack"] = (int(rc.value) if hasattr(rc, "value") else int(rc),
                                bool(flags.get("session present")))
            cond.notify_all()

    def on_subscribe(_c, _u, _mid, granted, _props=None):
        with cond:
            g = granted[0]
            state["suback"] = int(g.value) if hasattr(g, "value") else int(g)
            cond.notify_all()

    def on_message(_c, _u, m):
        extra = {"props": props_out(m.properties)} if o.level == 5 else {}
        emit(ev="msg", topic=m.topic, payload=m.payload.decode("latin-1"), qos=m.qos,
             retain=bool(m.retain), dup=bool(m.dup), **extra)
        with cond:
            state["msgs"] += 1
            cond.notify_all()

    def on_disconnect(_c, _u, rc, _props=None):
        with cond:
            state["lost"] = True
            cond.notify_all()

    c.on_connect = on_connect
    c.on_subscribe = on_subscribe
    c.on_message = on_message
    c.on_disconnect = on_disconnect

    def wait(pred, secs):
        with cond:
            return cond.wait_for(lambda: pred() or state["lost"], timeout=secs) and pred()

    try:
        if o.level == 5:
            props = None
            if o.expiry >= 0:
                props = Properties(PacketTypes.CONNECT)
                props.SessionExpiryInterval = o.expiry
            c.connect(o.host, o.port, keepalive=o.keepalive, clean_start=bool(o.clean),
                      properties=props)
        else:
            c.connect(o.host, o.port, keepalive=o.keepalive)
    except OSError as e:
        emit(ev="error", what="connect", rc=str(e))
        return 1
    c.loop_start()
    try:
        if not wait(lambda: state["connack"] is not None, 5):
            emit(ev="error", what="connect", rc="no CONNACK")
            return 1
        rc, sp = state["connack"]
        if rc != 0:
            emit(ev="error", what="connect", rc=rc)
            return 1
        emit(ev="connack", rc=0, session_present=sp)
        for f, q in o.sub:
            state["suback"] = None
            res, _mid = c.subscribe(f, q)
            if res != mqtt.MQTT_ERR_SUCCESS or not wait(lambda: state["suback"] is not None, 5):
                emit(ev="error", what="subscribe", rc=res)
                return 1
            emit(ev="suback", filter=f, granted=state["suback"])
        emit(ev="ready")
        pprops = props_in(o.pub_props) if o.pub_props and o.level == 5 else None
        for t, q, r, p in o.pub:
            info = c.publish(t, p, q, r, properties=pprops)
            info.wait_for_publish(5)
            if not info.is_published():
                emit(ev="error", what="publish", rc=info.rc)
                return 1
            emit(ev="pubdone", topic=t, qos=q)
        if o.burst:
            t, q, n = o.burst.rsplit(":", 2)
            infos = [c.publish(t, str(i), int(q)) for i in range(int(n))]
            for info in infos:
                info.wait_for_publish(10)
            if not all(i.is_published() for i in infos):
                emit(ev="error", what="burst", rc=sum(not i.is_published() for i in infos))
                return 1
            emit(ev="pubdone", topic=t, qos=int(q), n=int(n))
        if not wait(lambda: state["msgs"] >= o.count, o.timeout / 1000.0):
            emit(ev="error", what="timeout", rc=state["msgs"])
            return 1
        if o.hang:
            while True:  # wait to be killed: the broker then sends our will
                time.sleep(3600)
        c.disconnect()
        wait(lambda: state["lost"], 2)  # the loop thread has sent DISCONNECT
        emit(ev="done")
        return 0
    finally:
        c.loop_stop()


if __name__ == "__main__":
    sys.exit(main())
