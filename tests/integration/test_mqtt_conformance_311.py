# SPDX-License-Identifier: Apache-2.0
"""MQTT 3.1.1 (protocol level 4) conformance, byte level: each test sends
packets built byte by byte (mqtt_raw) and checks the broker's reply bytes or
its closing of the connection against one or more normative statements
[MQTT-x.y.z-n] of the OASIS MQTT 3.1.1 standard, named in the docstring.
Broker: MQTT_BROKER=loom (default), loom-tenant or mosquitto (mqtt_raw.start_broker)."""
import time

import pytest

import mqtt_raw as m
from mqtt_raw import broker, broker_factory  # noqa: F401  (fixtures)

L = 4


def cli(broker, **kw):
    return broker.client(level=L, **kw)


def connected(broker, cid="", clean=True, keepalive=30, **kw):
    c = cli(broker)
    c.connect(cid, clean=clean, keepalive=keepalive, **kw)
    return c


def creds(broker):
    u, p = broker.credentials()
    return {"username": u, "password": p}


def live_only(msgs):
    """Drop what a '#' subscription got at subscribe time: retained messages
    the broker itself keeps (Loom retains its Sparkplug STATE)."""
    return [p for p in msgs if not p.retain]


# ---- CONNECT / CONNACK ----

def test_connack_bytes(broker):
    """[MQTT-3.1.4-4] [MQTT-3.2.0-1] [MQTT-3.2.2-1]: a valid CONNECT with
    CleanSession=1 is answered first by CONNACK 20 02 00 00 (session present 0,
    return code 0)."""
    c = cli(broker)
    c.send(m.connect("c311a", level=L, keepalive=30, **creds(broker)))
    p = c.recv()
    assert p is not None and p.raw == b"\x20\x02\x00\x00", p


def test_first_packet_must_be_connect(broker):
    """[MQTT-3.1.0-1] [MQTT-4.8.0-1]: a PINGREQ before CONNECT is a protocol
    violation: the connection is closed without a CONNACK or PINGRESP."""
    c = cli(broker)
    c.send(m.pingreq())
    assert c.wait_closed(3)
    assert all(p.type not in (m.PINGRESP, m.CONNACK) for p in c.last), c.last


def test_publish_before_connect_closes(broker):
    """[MQTT-3.1.0-1]: a PUBLISH as the first packet closes the connection and
    is not delivered."""
    sub = connected(broker, "sub311")
    sub.subscribe([("pre/connect", 0)])
    c = cli(broker)
    c.send(m.publish("pre/connect", b"x", level=L))
    assert c.wait_closed(3)
    sub.expect_none(0.3)


def test_second_connect_is_violation(broker):
    """[MQTT-3.1.0-2]: a second CONNECT on the same connection is a protocol
    violation: the Server disconnects the client."""
    c = connected(broker, "twice")
    c.send(m.connect("twice", level=L, **creds(broker)))
    assert c.wait_closed(3)
    assert all(p.type != m.CONNACK for p in c.last), c.last


def test_unsupported_protocol_level(broker):
    """[MQTT-3.1.2-2] [MQTT-3.2.2-4] [MQTT-3.2.2-5]: protocol level 9 is
    answered with CONNACK return code 0x01, session present 0, then the
    connection is closed."""
    c = cli(broker)
    c.send(m.connect("lvl9", level=9, **creds(broker)))
    p = c.recv()
    assert p is not None and p.raw == b"\x20\x02\x00\x01", p
    assert c.wait_closed(3)


def test_connect_reserved_flag(broker):
    """[MQTT-3.1.2-3]: the reserved bit 0 of the Connect Flags set: the Server
    disconnects the client (no CONNACK 0)."""
    c = cli(broker)
    c.send(m.connect("rsv", level=L, flags_extra=0x01, **creds(broker)))
    assert c.wait_closed(3)
    assert all(not (p.type == m.CONNACK and p.reason == 0) for p in c.last), c.last


def test_will_qos_without_will_flag(broker):
    """[MQTT-3.1.2-11] [MQTT-3.1.2-13] [MQTT-3.1.4-1]: Will QoS 1 with Will Flag 0
    is a malformed CONNECT: closed without CONNACK."""
    c = cli(broker)
    c.send(m.connect("wq", level=L, flags_extra=0x08, **creds(broker)))
    assert c.wait_closed(3)
    assert all(p.type != m.CONNACK for p in c.last), c.last


def test_will_retain_without_will_flag(broker):
    """[MQTT-3.1.2-15] [MQTT-3.1.4-1]: Will Retain 1 with Will Flag 0: closed
    without CONNACK."""
    c = cli(broker)
    c.send(m.connect("wr", level=L, flags_extra=0x20, **creds(broker)))
    assert c.wait_closed(3)
    assert all(p.type != m.CONNACK for p in c.last), c.last


def test_will_qos_3(broker):
    """[MQTT-3.1.2-14] [MQTT-3.1.4-1]: Will QoS 3: closed without CONNACK."""
    c = cli(broker)
    c.send(m.connect("wq3", level=L, will={"topic": "w", "payload": b"x", "qos": 3}, **creds(broker)))
    assert c.wait_closed(3)
    assert all(p.type != m.CONNACK for p in c.last), c.last


def test_password_without_username(broker):
    """[MQTT-3.1.2-22] [MQTT-3.1.4-1]: Password Flag 1 with User Name Flag 0 is
    malformed at 3.1.1: closed, never accepted."""
    c = cli(broker)
    c.send(m.connect("pwonly", level=L, password=creds(broker)["password"] or b"secret"))
    assert c.wait_closed(3)
    assert all(not (p.type == m.CONNACK and p.reason == 0) for p in c.last), c.last


def test_zero_length_client_id_clean_session(broker):
    """[MQTT-3.1.3-6]: a zero-byte ClientId with CleanSession=1 is accepted
    (the Server assigns one): CONNACK 0, and the connection works."""
    c = cli(broker)
    ack = c.connect("", clean=True)
    assert ack.raw == b"\x20\x02\x00\x00"
    c.send(m.pingreq())
    c.expect(m.PINGRESP)


def test_zero_length_client_id_persistent_rejected(broker):
    """[MQTT-3.1.3-7] [MQTT-3.1.3-8] [MQTT-3.2.2-4] [MQTT-3.2.2-5]: a zero-byte
    ClientId with CleanSession=0 gets CONNACK 0x02 (identifier rejected),
    session present 0, and the connection is closed."""
    c = cli(broker)
    c.send(m.connect("", level=L, clean=False, **creds(broker)))
    p = c.recv()
    assert p is not None and p.raw == b"\x20\x02\x00\x02", p
    assert c.wait_closed(3)


def test_client_id_23_chars_allowed(broker):
    """[MQTT-3.1.3-5]: ClientIds of 1 to 23 alphanumeric bytes are allowed."""
    for cid in ("a", "ABCDEFGHIJKLMNOPQRSTUVW", "0123456789abcdefghijklm"):
        c = cli(broker)
        assert c.connect(cid).reason == 0
        c.disconnect()


def test_client_id_invalid_utf8(broker):
    """[MQTT-3.1.3-4] [MQTT-1.5.3-1]: a ClientId that is not well-formed UTF-8
    (a lone 0xFF byte) closes the connection (or is rejected with 0x02);
    never accepted."""
    c = cli(broker)
    c.send(m.connect(b"bad\xff", level=L, **creds(broker)))
    closed = c.wait_closed(3)
    assert closed
    assert all(not (p.type == m.CONNACK and p.reason == 0) for p in c.last), c.last


def test_takeover_disconnects_existing(broker):
    """[MQTT-3.1.4-2]: a CONNECT with the ClientId of a connected client
    disconnects the existing client; the new one is accepted."""
    a = connected(broker, "dup-id")
    b = connected(broker, "dup-id")
    assert a.wait_closed(3)
    b.send(m.pingreq())
    b.expect(m.PINGRESP)


def test_session_present_flags(broker):
    """[MQTT-3.2.2-1] [MQTT-3.2.2-2] [MQTT-3.2.2-3] [MQTT-3.1.2-4] [MQTT-3.1.2-6]:
    CleanSession=0 with no stored session: SP 0; again after disconnect: SP 1;
    CleanSession=1 discards it: SP 0, and a following CleanSession=0: SP 0."""
    c = cli(broker)
    assert c.connect("sp311", clean=False).raw == b"\x20\x02\x00\x00"
    c.subscribe([("sp/t", 1)])
    c.disconnect()
    c = cli(broker)
    assert c.connect("sp311", clean=False).raw == b"\x20\x02\x01\x00"
    c.disconnect()
    c = cli(broker)
    assert c.connect("sp311", clean=True).raw == b"\x20\x02\x00\x00"
    c.disconnect()
    c = cli(broker)
    assert c.connect("sp311", clean=False).raw == b"\x20\x02\x00\x00"
    c.disconnect()


def test_clean_session_discards_subscriptions(broker):
    """[MQTT-3.1.2-6]: after CleanSession=1 the previous session's
    subscriptions are gone: no message is delivered for them."""
    c = cli(broker)
    c.connect("cs-sub", clean=False)
    c.subscribe([("cs/t", 1)])
    c.disconnect()
    c = cli(broker)
    c.connect("cs-sub", clean=True)
    pub = connected(broker, "cs-pub")
    pub.publish("cs/t", b"x", qos=1)
    c.expect_none(0.4)


@m.only_loom("mosquitto 2.0.11 checks Keep Alive on a coarse timer: closes after ~5.7 s at Keep Alive 1")
def test_keepalive_enforced(broker):
    """[MQTT-3.1.2-24]: Keep Alive 1 s and silence: the Server closes the
    connection within 1.5 x Keep Alive (allowing scheduling slack), and not
    before about one Keep Alive."""
    c = cli(broker)
    c.connect("ka311", keepalive=1)
    t0 = time.monotonic()
    assert c.wait_closed(4)
    dt = time.monotonic() - t0
    assert 0.9 <= dt <= 2.5, dt


def test_keepalive_kept_by_pingreq(broker):
    """[MQTT-3.1.2-24] [MQTT-3.12.4-1]: PINGREQs within the Keep Alive keep the
    connection open, each answered by PINGRESP (D0 00)."""
    c = cli(broker)
    c.connect("ka-ping", keepalive=1)
    for _ in range(4):
        time.sleep(0.6)
        c.send(m.pingreq())
        p = c.expect(m.PINGRESP)
        assert p.raw == b"\xd0\x00"


def test_will_published_on_abnormal_close(broker):
    """[MQTT-3.1.2-8] [MQTT-3.1.2-16]: the Will Message is published when the
    connection closes without DISCONNECT, not retained (Will Retain 0)."""
    sub = connected(broker, "will-sub")
    sub.subscribe([("will/t", 1)])
    w = cli(broker)
    w.connect("will-pub", will={"topic": "will/t", "payload": b"gone", "qos": 1})
    w.close()
    msgs = sub.messages(timeout=2, count=1)
    assert len(msgs) == 1 and msgs[0].payload == b"gone" and msgs[0].topic == "will/t"
    assert not msgs[0].retain and msgs[0].qos == 1


def test_will_retained(broker):
    """[MQTT-3.1.2-17]: Will Retain 1: the Will Message is published as a
    retained message: a later subscriber gets it with RETAIN 1."""
    w = cli(broker)
    w.connect("will-ret", will={"topic": "willr/t", "payload": b"r", "qos": 0, "retain": True})
    w.close()
    time.sleep(0.3)
    sub = connected(broker, "willr-sub")
    sub.subscribe([("willr/t", 0)])
    msgs = sub.messages(timeout=1, count=1)
    assert len(msgs) == 1 and msgs[0].retain and msgs[0].payload == b"r"


def test_will_discarded_on_disconnect(broker):
    """[MQTT-3.1.2-10] [MQTT-3.14.4-3]: after a DISCONNECT the Will Message is
    discarded, not published."""
    sub = connected(broker, "willd-sub")
    sub.subscribe([("willd/t", 0)])
    w = cli(broker)
    w.connect("willd", will={"topic": "willd/t", "payload": b"no"})
    w.disconnect()
    sub.expect_none(0.5)


def test_no_will_without_flag(broker):
    """[MQTT-3.1.2-12]: no Will Flag: nothing is published when the connection
    drops."""
    sub = connected(broker, "nowill-sub")
    sub.subscribe([("#", 0)])
    live_only(sub.messages(timeout=0.3))  # retained ones the broker keeps (e.g. Loom's STATE)
    w = connected(broker, "nowill")
    w.close()
    sub.expect_none(0.5)


def test_rejected_connect_processes_nothing_more(broker):
    """[MQTT-3.1.4-5]: after a rejected CONNECT (0x02) nothing sent after it
    is processed: a PUBLISH pipelined behind it is not delivered."""
    sub = connected(broker, "rej-sub")
    sub.subscribe([("rej/t", 0)])
    c = cli(broker)
    c.send(m.connect("", level=L, clean=False, **creds(broker)) + m.publish("rej/t", b"x", level=L))
    c.wait_closed(3)
    sub.expect_none(0.4)


# ---- fixed header flags, malformed packets ----

def test_publish_qos3_closes(broker):
    """[MQTT-3.3.1-4]: a PUBLISH with both QoS bits set closes the connection."""
    c = connected(broker, "q3")
    c.send(bytes([0x36]) + m.varint(7) + m.utf8("a/b") + m.u16(1))
    assert c.wait_closed(3)


def test_publish_wildcard_topic_closes(broker):
    """[MQTT-3.3.2-2] [MQTT-4.7.1-1]: a PUBLISH Topic Name with + or # closes
    the connection and is not delivered."""
    for topic in ("a/+", "a/#"):
        sub = connected(broker, "wc-sub")
        sub.subscribe([("a/#", 0)])
        c = connected(broker, "wc")
        c.send(m.publish(topic, b"x", level=L))
        assert c.wait_closed(3), topic
        sub.expect_none(0.3)
        sub.disconnect()


def test_publish_empty_topic_closes(broker):
    """[MQTT-4.7.3-1] [MQTT-3.3.2-1]: a zero-length Topic Name closes the
    connection."""
    c = connected(broker, "empty-topic")
    c.send(m.publish("", b"x", level=L))
    assert c.wait_closed(3)


def test_topic_with_null_char_closes(broker):
    """[MQTT-1.5.3-2] [MQTT-4.7.3-2]: a Topic Name containing U+0000 closes the
    connection."""
    c = connected(broker, "nul-topic")
    c.send(m.publish("a\x00b", b"x", level=L))
    assert c.wait_closed(3)


def test_topic_with_surrogate_closes(broker):
    """[MQTT-1.5.3-1]: a Topic Name encoding a UTF-16 surrogate (ED A0 80) is
    ill-formed UTF-8: the connection is closed."""
    c = connected(broker, "sur-topic")
    c.send(m.publish(b"a/\xed\xa0\x80", b"x", level=L))
    assert c.wait_closed(3)


def test_bom_not_stripped(broker):
    """[MQTT-1.5.3-3]: EF BB BF in a topic is U+FEFF and is not stripped: a
    subscriber to the topic with it gets the message under that exact name,
    a subscriber to the name without it gets nothing."""
    bom = "\ufeffbom/t"
    sub = connected(broker, "bom-sub")
    sub.subscribe([(bom, 0), ("bom/t", 0)])
    pub = connected(broker, "bom-pub")
    pub.publish(bom, b"x")
    msgs = sub.messages(timeout=0.5)
    assert [p.topic for p in msgs] == [bom]


def test_pubrel_bad_flags_closes(broker):
    """[MQTT-3.6.1-1] [MQTT-2.2.2-2]: PUBREL with fixed header flags 0000
    instead of 0010 closes the connection."""
    c = connected(broker, "pubrel-flags")
    c.send(m.publish("q2/t", b"x", qos=2, pid=7, level=L))
    c.expect(m.PUBREC)
    c.send(bytes([0x60, 0x02, 0x00, 0x07]))
    assert c.wait_closed(3)


def test_subscribe_bad_flags_closes(broker):
    """[MQTT-3.8.1-1] [MQTT-2.2.2-2]: SUBSCRIBE with fixed header flags 0000
    closes the connection (no SUBACK)."""
    c = connected(broker, "sub-flags")
    c.send(m.subscribe(1, [("a", 0)], level=L, flags=0))
    assert c.wait_closed(3)
    assert all(p.type != m.SUBACK for p in c.last)


def test_unsubscribe_bad_flags_closes(broker):
    """[MQTT-3.10.1-1]: UNSUBSCRIBE with fixed header flags 0000 closes the
    connection."""
    c = connected(broker, "unsub-flags")
    c.send(m.unsubscribe(1, ["a"], level=L, flags=0))
    assert c.wait_closed(3)
    assert all(p.type != m.UNSUBACK for p in c.last)


def test_disconnect_bad_flags_closes_and_sends_will(broker):
    """[MQTT-3.14.1-1] [MQTT-3.1.2-8]: a DISCONNECT with a reserved flag set
    is a protocol violation: the connection is closed as if the network
    failed, so the Will Message is published."""
    sub = connected(broker, "dflag-sub")
    sub.subscribe([("dflag/will", 0)])
    c = cli(broker)
    c.connect("dflag", will={"topic": "dflag/will", "payload": b"w"})
    c.send(bytes([0xE1, 0x00]))
    assert c.wait_closed(3)
    msgs = sub.messages(timeout=1.5, count=1)
    assert [p.payload for p in msgs] == [b"w"]


def test_subscribe_qos3_closes(broker):
    """[MQTT-3-8.3-4]: a requested QoS of 3 in SUBSCRIBE is malformed: the
    connection is closed."""
    c = connected(broker, "subq3")
    c.send(m.subscribe(1, [("a", 3)], level=L))
    assert c.wait_closed(3)
    assert all(p.type != m.SUBACK for p in c.last)


def test_subscribe_reserved_bits_closes(broker):
    """[MQTT-3-8.3-4]: reserved bits set in the requested QoS byte: closed."""
    c = connected(broker, "subrsv")
    c.send(m.subscribe(1, [("a", 0x04)], level=L))
    assert c.wait_closed(3)
    assert all(p.type != m.SUBACK for p in c.last)


def test_subscribe_no_filters_closes(broker):
    """[MQTT-3.8.3-3]: a SUBSCRIBE with no payload is a protocol violation."""
    c = connected(broker, "subempty")
    c.send(m.subscribe(1, [], level=L))
    assert c.wait_closed(3)
    assert all(p.type != m.SUBACK for p in c.last)


def test_unsubscribe_no_filters_closes(broker):
    """[MQTT-3.10.3-2]: an UNSUBSCRIBE with no payload is a protocol violation."""
    c = connected(broker, "unsubempty")
    c.send(m.unsubscribe(1, [], level=L))
    assert c.wait_closed(3)
    assert all(p.type != m.UNSUBACK for p in c.last)


def test_subscribe_packet_id_zero_closes(broker):
    """[MQTT-2.3.1-1]: SUBSCRIBE must carry a non-zero Packet Identifier;
    Packet Identifier 0 closes the connection."""
    c = connected(broker, "subpid0")
    c.send(m.subscribe(0, [("a", 0)], level=L))
    assert c.wait_closed(3)


def test_publish_qos1_packet_id_zero_closes(broker):
    """[MQTT-2.3.1-1]: a QoS 1 PUBLISH with Packet Identifier 0 closes the
    connection."""
    c = connected(broker, "pubpid0")
    c.send(m.publish("a/b", b"x", qos=1, pid=0, level=L))
    assert c.wait_closed(3)
    assert all(p.type != m.PUBACK for p in c.last)


def test_invalid_filters_close(broker):
    """[MQTT-4.7.1-2] [MQTT-4.7.1-3] [MQTT-4.7.3-1]: SUBSCRIBE filters 'a/#/b',
    'a#', 'a/b+' and '' are invalid: the Server closes the connection or
    refuses the filter with return code 0x80 (both seen in practice)."""
    for f in ("a/#/b", "a#", "a/b+", ""):
        c = connected(broker, "badf")
        c.send(m.subscribe(1, [(f, 0)], level=L))
        try:
            p = c.recv(2)
        except m.Closed:
            continue
        assert p is not None and p.type == m.SUBACK and p.reasons == [0x80], (f, p)
        c.close()


def test_remaining_length_5_bytes_closes(broker):
    """[MQTT-2.2.3] / 1.5.5 (Remaining Length is at most 4 bytes) and
    [MQTT-4.8.0-1]: a five-byte Remaining Length is malformed: closed."""
    c = connected(broker, "rl5")
    c.send(b"\x30\xff\xff\xff\xff\x01")
    assert c.wait_closed(3)


# ---- PUBLISH flows ----

def test_qos1_puback_bytes(broker):
    """[MQTT-3.3.4-1] [MQTT-2.3.1-6] [MQTT-4.3.2-2]: a QoS 1 PUBLISH is answered
    by PUBACK 40 02 <id> with the same Packet Identifier."""
    c = connected(broker, "q1")
    c.send(m.publish("q1/t", b"x", qos=1, pid=0x1234, level=L))
    p = c.recv()
    assert p is not None and p.raw == b"\x40\x02\x12\x34", p


def test_qos2_flow_bytes(broker):
    """[MQTT-3.3.4-1] [MQTT-4.3.3-2]: QoS 2: PUBREC 50 02 <id>, then PUBREL ->
    PUBCOMP 70 02 <id>."""
    c = connected(broker, "q2")
    c.send(m.publish("q2/t", b"x", qos=2, pid=0xBEEF, level=L))
    p = c.recv()
    assert p is not None and p.raw == b"\x50\x02\xbe\xef", p
    c.send(m.pubrel(0xBEEF, level=L))
    p = c.recv()
    assert p is not None and p.raw == b"\x70\x02\xbe\xef", p


def test_qos2_no_duplicate_before_pubrel(broker):
    """[MQTT-4.3.3-2]: a QoS 2 PUBLISH re-sent (DUP) before PUBREL is answered
    by PUBREC again and delivered onward only once."""
    sub = connected(broker, "q2d-sub")
    sub.subscribe([("q2d/t", 2)])
    c = connected(broker, "q2d")
    c.send(m.publish("q2d/t", b"once", qos=2, pid=5, level=L))
    c.expect(m.PUBREC)
    c.send(m.publish("q2d/t", b"once", qos=2, pid=5, dup=True, level=L))
    assert c.expect(m.PUBREC).pid == 5
    c.send(m.pubrel(5, level=L))
    assert c.expect(m.PUBCOMP).pid == 5
    msgs = sub.messages(timeout=0.6)
    assert [p.payload for p in msgs] == [b"once"]


def test_qos2_pid_reusable_after_pubcomp(broker):
    """[MQTT-4.3.3-2]: after PUBCOMP the same Packet Identifier is a new
    publication and is delivered again."""
    sub = connected(broker, "q2r-sub")
    sub.subscribe([("q2r/t", 2)])
    c = connected(broker, "q2r")
    for payload in (b"one", b"two"):
        c.publish("q2r/t", payload, qos=2, pid=9)
    msgs = sub.messages(timeout=0.6, count=2)
    assert [p.payload for p in msgs] == [b"one", b"two"]


def test_qos1_dup_is_new_publication(broker):
    """[MQTT-4.3.2-2]: after PUBACK, a PUBLISH with the same Packet Identifier
    (even DUP=1) is a new publication (QoS 1 may duplicate)."""
    sub = connected(broker, "q1d-sub")
    sub.subscribe([("q1d/t", 1)])
    c = connected(broker, "q1d")
    c.publish("q1d/t", b"a", qos=1, pid=3)
    c.publish("q1d/t", b"a", qos=1, pid=3, dup=True)
    assert len(sub.messages(timeout=0.6, count=2)) == 2


def test_dup_not_propagated(broker):
    """[MQTT-3.3.1-3] [MQTT-4.3.1-1]: the DUP flag of an incoming PUBLISH is not
    propagated: the subscriber gets DUP 0."""
    sub = connected(broker, "dup-sub")
    sub.subscribe([("dupf/t", 1)])
    c = connected(broker, "dup-pub")
    c.publish("dupf/t", b"x", qos=1, dup=True)
    msgs = sub.messages(timeout=1, count=1)
    assert len(msgs) == 1 and not msgs[0].dup and msgs[0].raw[0] & 0x08 == 0


def test_publish_delivered_bytes(broker):
    """[MQTT-3.3.2-3] [MQTT-4.3.1-1]: a QoS 0 message is delivered as 30 <len>
    <topic> <payload> (no Packet Identifier [MQTT-2.3.1-5], DUP 0, RETAIN 0)."""
    sub = connected(broker, "bytes-sub")
    sub.subscribe([("b/+", 0)])
    pub = connected(broker, "bytes-pub")
    pub.publish("b/x", b"hello")
    p = sub.recv(1)
    assert p is not None and p.raw == b"\x30\x0a\x00\x03b/xhello", p


def test_granted_qos_downgrades(broker):
    """[MQTT-3.8.4-6]: messages are delivered at min(published QoS, granted
    QoS): QoS 2 published to a QoS 1 subscription arrives at QoS 1, QoS 0 to a
    QoS 2 subscription at QoS 0."""
    sub = connected(broker, "down-sub")
    ack = sub.subscribe([("down/1", 1), ("down/2", 2)])
    assert ack.reasons == [1, 2]
    pub = connected(broker, "down-pub")
    pub.publish("down/1", b"a", qos=2)
    pub.publish("down/2", b"b", qos=0)
    msgs = sub.messages(timeout=0.6, count=2)
    assert [(p.topic, p.qos) for p in msgs] == [("down/1", 1), ("down/2", 0)]


def test_message_order_per_publisher(broker):
    """[MQTT-4.6.0-5] [MQTT-4.6.0-6]: messages from one client to one topic at
    the same QoS arrive in the order they were published."""
    sub = connected(broker, "ord-sub")
    sub.subscribe([("ord/t", 1)])
    pub = connected(broker, "ord-pub")
    for i in range(30):
        pub.send(m.publish("ord/t", str(i).encode(), qos=1, pid=i + 1, level=L))
    pub.expect_acks(m.PUBACK, range(1, 31))
    msgs = sub.messages(timeout=1, count=30)
    assert [int(p.payload) for p in msgs] == list(range(30))


# ---- retained messages ----

def test_retained_stored_and_flagged(broker):
    """[MQTT-3.3.1-5] [MQTT-3.3.1-6] [MQTT-3.3.1-8]: a retained message is
    stored with its QoS and sent to a new subscriber with RETAIN 1."""
    pub = connected(broker, "ret-pub")
    pub.publish("ret/t", b"v1", qos=1, retain=True)
    sub = connected(broker, "ret-sub")
    sub.subscribe([("ret/#", 2)])
    msgs = sub.messages(timeout=1, count=1)
    assert len(msgs) == 1
    assert (msgs[0].topic, msgs[0].payload, msgs[0].retain, msgs[0].qos) == ("ret/t", b"v1", True, 1)


def test_retain_flag_cleared_for_established(broker):
    """[MQTT-3.3.1-9]: a retained PUBLISH forwarded to an established
    subscription carries RETAIN 0."""
    sub = connected(broker, "ret9-sub")
    sub.subscribe([("ret9/t", 0)])
    pub = connected(broker, "ret9-pub")
    pub.publish("ret9/t", b"x", retain=True)
    msgs = sub.messages(timeout=1, count=1)
    assert len(msgs) == 1 and not msgs[0].retain


def test_retained_replaced(broker):
    """[MQTT-3.3.1-7]: a new retained message (QoS 0) replaces the previous."""
    pub = connected(broker, "rep-pub")
    pub.publish("rep/t", b"old", qos=1, retain=True)
    pub.publish("rep/t", b"new", qos=0, retain=True)
    sub = connected(broker, "rep-sub")
    sub.subscribe([("rep/t", 1)])
    msgs = sub.messages(timeout=0.6)
    assert [(p.payload, p.qos) for p in msgs] == [(b"new", 0)]


def test_retained_zero_length_deletes(broker):
    """[MQTT-3.3.1-10] [MQTT-3.3.1-11]: a zero-byte retained message is
    delivered to current subscribers, removes the retained message and is not
    stored itself."""
    pub = connected(broker, "del-pub")
    pub.publish("del/t", b"keep", retain=True)
    cur = connected(broker, "del-cur")
    cur.subscribe([("del/t", 0)])
    assert [p.payload for p in cur.messages(timeout=0.5, count=1)] == [b"keep"]
    pub.publish("del/t", b"", retain=True)
    got = cur.messages(timeout=0.5, count=1)
    assert [p.payload for p in got] == [b""]
    late = connected(broker, "del-late")
    late.subscribe([("del/t", 0)])
    late.expect_none(0.4)


def test_non_retained_does_not_replace(broker):
    """[MQTT-3.3.1-12]: a PUBLISH with RETAIN 0 is not stored and does not
    remove or replace the retained message."""
    pub = connected(broker, "nr-pub")
    pub.publish("nr/t", b"retained", retain=True)
    pub.publish("nr/t", b"live", retain=False)
    pub.publish("nr/t", b"", retain=False)
    sub = connected(broker, "nr-sub")
    sub.subscribe([("nr/t", 0)])
    assert [p.payload for p in sub.messages(timeout=0.5)] == [b"retained"]


def test_retained_not_part_of_session(broker):
    """[MQTT-3.1.2.7]: retained messages are not session state: they survive
    the end of the publisher's clean session."""
    pub = connected(broker, "rs-pub")
    pub.publish("rs/t", b"x", retain=True)
    pub.disconnect()
    sub = connected(broker, "rs-sub")
    sub.subscribe([("rs/t", 0)])
    assert [p.payload for p in sub.messages(timeout=0.5)] == [b"x"]


def test_resubscribe_resends_retained(broker):
    """[MQTT-3.8.4-3]: subscribing again with an identical filter replaces the
    subscription (one delivery per message afterwards) and re-sends the
    retained messages."""
    pub = connected(broker, "rr-pub")
    pub.publish("rr/t", b"r", retain=True)
    sub = connected(broker, "rr-sub")
    sub.subscribe([("rr/t", 0)])
    assert len(sub.messages(timeout=0.5, count=1)) == 1
    sub.subscribe([("rr/t", 1)])
    again = sub.messages(timeout=0.5, count=1)
    assert [p.payload for p in again] == [b"r"] and again[0].retain
    pub.publish("rr/t", b"live", qos=1)
    live = sub.messages(timeout=0.5)
    assert [(p.payload, p.qos) for p in live] == [(b"live", 1)]


# ---- SUBSCRIBE / UNSUBSCRIBE ----

def test_suback_bytes_and_order(broker):
    """[MQTT-3.8.4-1] [MQTT-3.8.4-2] [MQTT-3.8.4-4] [MQTT-3.8.4-5] [MQTT-3.9.3-1]:
    one SUBSCRIBE with three filters gets one SUBACK with the same Packet
    Identifier and three return codes in order: 90 05 <id> 02 00 01."""
    c = connected(broker, "suback")
    c.send(m.subscribe(0x0A0B, [("s/a", 2), ("s/b", 0), ("s/c", 1)], level=L))
    p = c.recv()
    assert p is not None and p.raw == b"\x90\x05\x0a\x0b\x02\x00\x01", p


def test_unsuback_bytes_even_without_match(broker):
    """[MQTT-3.10.4-4] [MQTT-3.10.4-5]: UNSUBACK B0 02 <id> answers an
    UNSUBSCRIBE even when nothing was subscribed."""
    c = connected(broker, "unsuback")
    c.send(m.unsubscribe(0x0102, ["never/subscribed"], level=L))
    p = c.recv()
    assert p is not None and p.raw == b"\xb0\x02\x01\x02", p


def test_unsubscribe_stops_delivery(broker):
    """[MQTT-3.10.4-1] [MQTT-3.10.4-2] [MQTT-3.10.4-6]: after UNSUBSCRIBE of two
    filters in one packet, no new messages for them are delivered; a
    non-matching (not byte-equal) filter stays."""
    c = connected(broker, "unsub")
    c.subscribe([("u/a", 0), ("u/b", 0), ("u/+", 0)])
    c.unsubscribe(["u/a", "u/b", "u/#"])
    pub = connected(broker, "unsub-pub")
    pub.publish("u/a", b"1")
    msgs = c.messages(timeout=0.5)
    assert [p.topic for p in msgs] == ["u/a"]  # still matched by u/+ (not byte-equal to u/#)
    c.unsubscribe(["u/+"])
    pub.publish("u/a", b"2")
    c.expect_none(0.4)


@m.only_loom("mosquitto 2.0.11 sends one copy at the QoS of the first matching subscription (QoS 1 here)")
def test_overlapping_subscriptions_max_qos(broker):
    """[MQTT-3.3.5-1]: a message matching several subscriptions of one client is
    delivered respecting the maximum QoS of the matching subscriptions (once
    at QoS 2, or once per subscription with the highest among them at QoS 2)."""
    c = connected(broker, "ovl")
    c.subscribe([("ovl/#", 2), ("ovl/+", 1)])
    pub = connected(broker, "ovl-pub")
    pub.publish("ovl/t", b"x", qos=2)
    msgs = c.messages(timeout=0.6)
    assert 1 <= len(msgs) <= 2 and max(p.qos for p in msgs) == 2


def test_dollar_topics_not_matched_by_wildcards(broker):
    """[MQTT-4.7.2-1]: filters starting with # or + do not match topic names
    beginning with $: the broker's retained $SYS/broker/version reaches an
    explicit '$SYS/broker/version' subscription but not '#' or '+/broker/#'.
    (Clients may be refused publishing to $ topics, 4.7.2, so the broker's
    own $SYS topic is used.)"""
    m.skip_if_tenant(broker, "$SYS is for platform admins only")
    c = connected(broker, "dollar")
    c.subscribe([("#", 0), ("+/broker/#", 0)])
    got = c.messages(timeout=0.5)
    assert all(not p.topic.startswith("$") for p in got), got
    d = connected(broker, "dollar2")
    d.subscribe([("$SYS/broker/version", 0)])
    assert [p.topic for p in d.messages(timeout=0.5)] == ["$SYS/broker/version"]


def test_no_normalisation(broker):
    """[MQTT-4.7.3-4]: no normalisation of names or filters: 'a//b' does not
    match 'a/b', 'A/b' does not match 'a/b', '/a' is not 'a'."""
    c = connected(broker, "norm")
    c.subscribe([("a/b", 0)])
    pub = connected(broker, "norm-pub")
    for t in ("a//b", "A/b", "/a/b", "a/b/"):
        pub.publish(t, b"no")
    pub.publish("a/b", b"yes")
    msgs = c.messages(timeout=0.5)
    assert [p.payload for p in msgs] == [b"yes"]


def test_wildcard_matching(broker):
    """[MQTT-4.7.1-2] [MQTT-4.7.1-3]: 'sport/#' matches 'sport' and
    'sport/x/y'; '+/+' matches '/x'; '+' does not match 'a/b'."""
    c = connected(broker, "wm")
    c.subscribe([("sport/#", 0)])
    d = connected(broker, "wm2")
    d.subscribe([("+/+", 0)])
    e = connected(broker, "wm3")
    e.subscribe([("+", 0)])
    pub = connected(broker, "wm-pub")
    for t in ("sport", "sport/x/y", "/x", "a/b"):
        pub.publish(t, t.encode())
    assert sorted(p.topic for p in c.messages(timeout=0.4)) == ["sport", "sport/x/y"]
    assert sorted(p.topic for p in d.messages(timeout=0.2)) == ["/x", "a/b"]
    assert sorted(p.topic for p in e.messages(timeout=0.2)) == ["sport"]


# ---- sessions and redelivery ----

def test_offline_qos1_qos2_queued(broker):
    """[MQTT-3.1.2-5] [MQTT-4.5.0-1]: with CleanSession=0, QoS 1 and 2 messages
    published while the client is offline are stored and delivered on
    reconnect, in order."""
    c = cli(broker)
    c.connect("offl", clean=False)
    c.subscribe([("offl/t", 2)])
    c.disconnect()
    pub = connected(broker, "offl-pub")
    pub.publish("offl/t", b"1", qos=1)
    pub.publish("offl/t", b"2", qos=2)
    c = cli(broker)
    assert c.connect("offl", clean=False).session_present
    msgs = c.messages(timeout=1, count=2)
    assert [(p.payload, p.qos) for p in msgs] == [(b"1", 1), (b"2", 2)]


def test_redelivery_unacked_on_reconnect(broker):
    """[MQTT-4.4.0-1] [MQTT-3.3.1-1] [MQTT-4.6.0-1]: unacknowledged QoS 1 PUBLISHes
    are re-sent on reconnect with CleanSession=0, with their original Packet
    Identifiers, DUP=1, in the original order."""
    c = cli(broker)
    c.connect("redel", clean=False)
    c.subscribe([("redel/t", 1)])
    pub = connected(broker, "redel-pub")
    pub.publish("redel/t", b"a", qos=1)
    pub.publish("redel/t", b"b", qos=1)
    first = c.messages(timeout=1, count=2, ack=False)
    assert len(first) == 2
    c.close()
    time.sleep(0.2)
    c = cli(broker)
    c.connect("redel", clean=False)
    again = c.messages(timeout=1, count=2)
    assert [(p.pid, p.payload, p.dup) for p in again] == [(p.pid, p.payload, True) for p in first]


def test_pubrel_resent_on_reconnect(broker):
    """[MQTT-4.4.0-1] [MQTT-4.3.3-1]: a QoS 2 delivery acknowledged with PUBREC
    but not PUBCOMP gets its PUBREL re-sent on reconnect (same Packet
    Identifier), not the PUBLISH."""
    c = cli(broker)
    c.connect("relre", clean=False)
    c.subscribe([("relre/t", 2)])
    pub = connected(broker, "relre-pub")
    pub.publish("relre/t", b"x", qos=2)
    p = c.expect(m.PUBLISH)
    c.send(m.pubrec(p.pid, level=L))
    rel = c.expect(m.PUBREL)
    assert rel.raw == b"\x62\x02" + m.u16(p.pid)
    c.close()
    time.sleep(0.2)
    c = cli(broker)
    c.connect("relre", clean=False)
    rel = c.expect(m.PUBREL)
    assert rel.pid == p.pid
    c.send(m.pubcomp(p.pid, level=L))
    c.expect_none(0.4)


def test_qos0_not_queued_offline(broker):
    """[MQTT-3.1.2-5] (only QoS 1 and 2 must be stored; mosquitto and Loom drop
    QoS 0 for offline clients by default): a QoS 0 message published while
    the client is offline is not delivered on reconnect."""
    c = cli(broker)
    c.connect("q0off", clean=False)
    c.subscribe([("q0off/t", 0)])
    c.disconnect()
    pub = connected(broker, "q0off-pub")
    pub.publish("q0off/t", b"x", qos=0)
    pub.publish("q0off/t", b"y", qos=1)  # downgraded to the granted QoS 0
    c = cli(broker)
    c.connect("q0off", clean=False)
    c.expect_none(0.5)


def test_unsubscribe_completes_inflight(broker):
    """[MQTT-3.10.4-3]: a QoS 1 delivery in flight when the client unsubscribes
    is still completed (the PUBLISH is re-sent on reconnect if unacked)."""
    c = cli(broker)
    c.connect("uinfl", clean=False)
    c.subscribe([("uinfl/t", 1)])
    pub = connected(broker, "uinfl-pub")
    pub.publish("uinfl/t", b"x", qos=1)
    p = c.expect(m.PUBLISH)
    c.unsubscribe(["uinfl/t"])
    c.close()
    time.sleep(0.2)
    c = cli(broker)
    c.connect("uinfl", clean=False)
    again = c.messages(timeout=1, count=1)
    assert [(q.pid, q.payload) for q in again] == [(p.pid, b"x")]


# ---- more framing and packet-type checks ----

def test_wrong_protocol_name_not_accepted(broker):
    """[MQTT-3.1.2-1]: protocol name 'MQTX' at level 4: the Server may
    disconnect or answer per another specification, but must not accept it as
    MQTT 3.1.1 (no CONNACK with return code 0)."""
    c = cli(broker)
    c.send(m.connect("pn", level=L, proto_name="MQTX", **creds(broker)))
    c.wait_closed(2)
    assert all(not (p.type == m.CONNACK and p.reason == 0) for p in c.last), c.last


def test_client_id_length_past_end(broker):
    """[MQTT-3.1.4-1] [MQTT-4.8.0-1]: a CONNECT whose Client Identifier length
    runs past the end of the packet is malformed: closed without CONNACK."""
    c = cli(broker)
    body = m.utf8("MQTT") + bytes([L, 0x02]) + m.u16(30) + m.u16(50) + b"short"
    c.send(m.packet(m.CONNECT, 0, body))
    assert c.wait_closed(3)
    assert all(p.type != m.CONNACK for p in c.last), c.last


@pytest.mark.parametrize("first", [0x00, 0xF0, 0x20, 0x90], ids=["type0", "auth", "connack", "suback"])
def test_reserved_or_server_packet_types_close(broker, first):
    """[MQTT-2.2.2-2] [MQTT-4.8.0-1] 2.2.1: packet type 0 (reserved), 15 (AUTH
    does not exist at 3.1.1) or a server-to-client type (CONNACK, SUBACK)
    sent by a client is a protocol violation: the connection is closed."""
    c = connected(broker, "ptype")
    c.send(bytes([first, 0x02, 0x00, 0x01]))
    assert c.wait_closed(3)


def test_server_packet_ids_unique_nonzero(broker):
    """[MQTT-2.3.1-1] [MQTT-2.3.1-2] (applied to the Server by [MQTT-2.3.1-4]):
    QoS 1 PUBLISHes the Server has in flight to one client carry distinct
    non-zero Packet Identifiers."""
    c = connected(broker, "pids")
    c.subscribe([("pids/t", 1)])
    pub = connected(broker, "pids-pub")
    for i in range(10):
        pub.publish("pids/t", str(i).encode(), qos=1)
    msgs = c.messages(timeout=0.6, ack=False)
    pids = [p.pid for p in msgs]
    assert len(pids) == 10 and 0 not in pids and len(set(pids)) == 10, pids


def test_large_payload_intact(broker):
    """[MQTT-4.5.0-1] 2.2.3 (Remaining Length of 3 bytes): a 60000-byte payload
    is delivered byte for byte."""
    payload = bytes(range(256)) * 234 + b"end"
    c = connected(broker, "big")
    c.subscribe([("big/t", 1)])
    pub = connected(broker, "big-pub")
    pub.publish("big/t", payload, qos=1)
    msgs = c.messages(timeout=1, count=1)
    assert len(msgs) == 1 and msgs[0].payload == payload


def test_many_filters_one_suback(broker):
    """[MQTT-3.8.4-4] [MQTT-3.8.4-5] [MQTT-3.9.3-1]: 100 filters with mixed QoS in
    one SUBSCRIBE get one SUBACK with 100 return codes in order."""
    c = connected(broker, "many")
    filters = [(f"many/{i}/+", i % 3) for i in range(100)]
    ack = c.subscribe(filters)
    assert ack.reasons == [q for _, q in filters]


def test_deep_and_long_topics(broker):
    """[MQTT-4.7.3-3] [MQTT-4.7.1-2]: a 100-level topic and a 2000-byte level
    are matched and delivered (to 'deep/#' and '+/+')."""
    deep = "deep/" + "/".join(["l"] * 99)
    wide = "w/" + "x" * 2000
    c = connected(broker, "deep")
    c.subscribe([("deep/#", 0), ("+/+", 0)])
    pub = connected(broker, "deep-pub")
    pub.publish(deep, b"1")
    pub.publish(wide, b"2")
    got = [p for p in c.messages(timeout=0.6) if not p.retain]
    assert [p.topic for p in got] == [deep, wide]


def test_takeover_resumes_session(broker):
    """[MQTT-3.1.4-2] [MQTT-3.2.2-2] [MQTT-3.1.2-4]: taking over a connected
    CleanSession=0 client: the old connection is closed, the new one gets
    Session Present 1 and the subscription keeps delivering."""
    a = cli(broker)
    a.connect("tko", clean=False)
    a.subscribe([("tko/t", 1)])
    b = cli(broker)
    assert b.connect("tko", clean=False).session_present
    assert a.wait_closed(3)
    pub = connected(broker, "tko-pub")
    pub.publish("tko/t", b"x", qos=1)
    assert [p.payload for p in b.messages(timeout=0.6)] == [b"x"]


# ---- MQTT 3.1 (protocol level 3, "MQIsdp") ----

def test_mqtt31_basic(broker):
    """MQTT 3.1 (issue 4: levels 3, 4 and 5): CONNECT 'MQIsdp' level 3 gets
    CONNACK 0; subscribe and QoS 1 publish work; a 3.1.1 subscriber gets the
    3.1 client's message."""
    c = broker.client(level=3)
    c.send(m.connect("v31", level=3, proto_name="MQIsdp", **creds(broker)))
    ack = c.expect(m.CONNACK)
    assert ack.raw == b"\x20\x02\x00\x00", ack
    c.level = 4  # 3.1 packets after CONNECT are laid out as in 3.1.1
    assert c.subscribe([("v31/t", 1)]).reasons == [1]
    other = connected(broker, "v31-other")
    other.subscribe([("v31/t", 1)])
    c.publish("v31/t", b"from 3.1", qos=1)
    assert [p.payload for p in c.messages(timeout=0.5)] == [b"from 3.1"]
    assert [p.payload for p in other.messages(timeout=0.3)] == [b"from 3.1"]



# ---- streaming: packets split and pipelined ----

def test_pipelined_connect_subscribe_publish(broker):
    """[MQTT-3.1.4-4] [MQTT-4.6.0-6] 4.8 (packets may be sent without waiting):
    CONNECT, SUBSCRIBE, PUBLISH QoS 1 and PINGREQ in one TCP write are all
    processed in order: CONNACK, then SUBACK (the subscription exists before
    the PUBLISH is routed), then PUBACK, the message back and PINGRESP."""
    c = cli(broker)
    c.send(m.connect("pipe", level=L, **creds(broker)) + m.subscribe(1, [("pipe/t", 1)], level=L)
           + m.publish("pipe/t", b"self", qos=1, pid=2, level=L) + m.pingreq())
    got = c.recv_all(0.6)
    kinds = [p.type for p in got]
    assert kinds[:2] == [m.CONNACK, m.SUBACK], got
    assert sorted(kinds[2:]) == sorted([m.PUBACK, m.PUBLISH, m.PINGRESP]), got
    # (a PUBACK may come after the PINGRESP: Loom acknowledges stored telemetry
    # only once it is durable, and no rule orders acks against PINGRESP)


def test_byte_by_byte(broker):
    """2.1 2.2.3 (a packet is defined by its Remaining Length, not by how TCP
    splits it): CONNECT, SUBSCRIBE and PUBLISH sent one byte per write are
    parsed correctly."""
    c = cli(broker)
    data = (m.connect("dribble", level=L, **creds(broker)) + m.subscribe(1, [("drib/t", 0)], level=L)
            + m.publish("drib/t", b"x" * 200, level=L))
    for i in range(len(data)):
        c.send(data[i:i + 1])
        if i % 50 == 0:
            time.sleep(0.001)
    got = c.recv_all(0.6)
    assert [p.type for p in got] == [m.CONNACK, m.SUBACK, m.PUBLISH], got
    assert got[2].payload == b"x" * 200


def test_keepalive_zero_never_times_out(broker):
    """3.1.2.10 (Keep Alive 0 turns the mechanism off): a silent client with
    Keep Alive 0 is still connected after 2.5 s."""
    c = connected(broker, "ka0", keepalive=0)
    time.sleep(2.5)
    c.send(m.pingreq())
    c.expect(m.PINGRESP)


def test_zero_length_payload_non_retained(broker):
    """[MQTT-4.5.0-1] 3.3.3 (a zero length payload is valid): a non-retained
    empty message is delivered as such."""
    c = connected(broker, "empty")
    c.subscribe([("empty/t", 1)])
    pub = connected(broker, "empty-pub")
    pub.publish("empty/t", b"", qos=1)
    msgs = c.messages(timeout=0.6)
    assert [(p.payload, p.retain) for p in msgs] == [(b"", False)]


@m.only_loom("the mosquitto reference keeps a silent connection open much longer")
def test_silent_connection_dropped(broker):
    """[MQTT-3.1.0-1] (issue 4: pre-authentication a connection costs only
    milliseconds to seconds): a TCP connection that never sends CONNECT is
    closed by the broker (Loom: connect timeout 5 s)."""
    c = cli(broker)
    assert c.wait_closed(7)


# ---- MQTT over WebSocket (section 6; Loom: ws://HTTP_PORT/mqtt) ----

WS_ONLY = m.only_loom("the Debian mosquitto 2.0.11 is built without WebSocket support")


def ws_connect(broker, subprotocols=("mqtt",)):
    import websocket
    return websocket.create_connection(broker.ws_url, subprotocols=list(subprotocols), timeout=5)


def ws_packets(ws, timeout=1.0):
    """Packets from binary frames until nothing comes for timeout or the
    connection closes; returns (packets, closed)."""
    import websocket
    buf, out = bytearray(), []
    ws.settimeout(timeout)
    while True:
        try:
            op, data = ws.recv_data()
        except websocket.WebSocketTimeoutException:
            return out, False
        except (websocket.WebSocketConnectionClosedException, ConnectionError):
            return out, True
        if op == websocket.ABNF.OPCODE_CLOSE:
            return out, True
        buf += data
        while len(buf) >= 2:
            r = m.Reader(buf)
            r.byte()
            try:
                n = r.varint()
            except m.Malformed:
                break
            if r.left() < n:
                break
            out.append(m.Packet(bytes(buf[:r.i + n]), L))
            del buf[:r.i + n]


@WS_ONLY
def test_ws_subprotocol_mqtt(broker):
    """[MQTT-6.0.0-3] [MQTT-6.0.0-4]: the client offers 'mqtt' and the server
    selects 'mqtt'; CONNECT/CONNACK then work in binary frames."""
    ws = ws_connect(broker)
    assert ws.getsubprotocol() == "mqtt"
    ws.send_binary(m.connect("ws1", level=L, **creds(broker)))
    got, _ = ws_packets(ws)
    assert [p.raw for p in got] == [b"\x20\x02\x00\x00"]
    ws.close()


@WS_ONLY
def test_ws_packets_not_aligned_with_frames(broker):
    """[MQTT-6.0.0-2]: a CONNECT split over three binary frames, then SUBSCRIBE,
    PUBLISH (QoS 1) and half of a PINGREQ in one frame and its other half in
    the next, are all parsed: CONNACK, SUBACK, PUBACK, the message, PINGRESP."""
    ws = ws_connect(broker)
    conn = m.connect("ws2", level=L, **creds(broker))
    for part in (conn[:3], conn[3:7], conn[7:]):
        ws.send_binary(part)
    tail = m.subscribe(1, [("ws/t", 1)], level=L) + m.publish("ws/t", b"hi", qos=1, pid=2, level=L)
    ws.send_binary(tail + m.pingreq()[:1])
    ws.send_binary(m.pingreq()[1:])
    got, _ = ws_packets(ws)
    kinds = [p.type for p in got]
    assert kinds[:2] == [m.CONNACK, m.SUBACK], got
    assert sorted(kinds[2:]) == sorted([m.PUBACK, m.PUBLISH, m.PINGRESP]), got
    ws.close()


@WS_ONLY
def test_ws_text_frame_closes(broker):
    """[MQTT-6.0.0-1]: MQTT in a text frame: the recipient closes the network
    connection (no CONNACK)."""
    ws = ws_connect(broker)
    ws.send(m.connect("ws3", level=L, **creds(broker)).decode("latin-1"))
    got, closed = ws_packets(ws, timeout=3)
    assert closed and all(p.type != m.CONNACK for p in got), got


def test_many_retained_on_wildcard_subscribe(broker):
    """[MQTT-3.3.1-6] [MQTT-3.3.1-8]: a new 'rm/#' subscription gets the last
    retained message of each of 60 matching topics (deep and shallow), each
    with RETAIN 1, and nothing for a topic whose retained message was
    deleted or that does not match."""
    pub = connected(broker, "rmany-pub")
    topics = [f"rm/{i}" for i in range(30)] + [f"rm/a/{i}/x" for i in range(30)]
    for t in topics:
        pub.publish(t, b"old", retain=True)
        pub.publish(t, t.encode(), retain=True)
    pub.publish("rm/0", b"", retain=True)
    pub.publish("rmx/1", b"no", retain=True)
    pub.publish("rm/a/1/x", b"rm/a/1/x", qos=1)  # waits until everything before is processed
    c = connected(broker, "rmany")
    c.subscribe([("rm/#", 0)])
    got = c.messages(timeout=0.8)
    assert all(p.retain for p in got)
    assert sorted(p.topic for p in got) == sorted(topics[1:])
    assert all(p.payload == p.topic.encode() for p in got)
