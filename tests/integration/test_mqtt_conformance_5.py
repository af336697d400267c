# SPDX-License-Identifier: Apache-2.0
"""MQTT 5.0 conformance, byte level: packets built byte by byte (mqtt_raw),
replies parsed and checked, each test keyed in its docstring to the normative
statements [MQTT-x.y.z-n] (or, where the OASIS text has no label, the section)
of the OASIS MQTT Version 5.0 standard it checks.
Broker: MQTT_BROKER=loom (default), loom-tenant or mosquitto (mqtt_raw.start_broker)."""
import time

import pytest

import mqtt_raw as m
from mqtt_raw import broker, broker_factory  # noqa: F401  (fixtures)

L = 5


def cli(broker, **kw):
    return broker.client(level=L, **kw)


def connected(broker, cid="", clean=True, keepalive=30, properties=None, **kw):
    c = cli(broker)
    c.ack = c.connect(cid, clean=clean, keepalive=keepalive, properties=properties, **kw)
    return c


def creds(broker):
    u, p = broker.credentials()
    return {"username": u, "password": p}


def assert_dropped(c, reasons=None, timeout=2):
    """The broker closes the connection; a DISCONNECT it may send first
    (4.13: SHOULD) must carry a reason >= 0x80, one of reasons if given."""
    assert c.wait_closed(timeout), "connection not closed"
    for p in c.last:
        if p.type == m.DISCONNECT:
            assert p.reason >= 0x80, p
            if reasons:
                assert p.reason in reasons, f"DISCONNECT 0x{p.reason:02x}, expected one of {[hex(r) for r in reasons]}"
        else:
            assert p.type != m.CONNACK or p.reason >= 0x80, p


def refused_filter(c, timeout=1.5):
    """After a SUBSCRIBE with one invalid filter: either a SUBACK 0x8F, or
    the connection closed (a DISCONNECT first says 0x8F, 0x81 or 0x82)."""
    try:
        p = c.recv(timeout)
    except m.Closed:
        return
    assert p is not None, "neither a SUBACK nor a close"
    if p.type == m.SUBACK:
        assert p.reasons == [0x8F], p
        return
    assert p.type == m.DISCONNECT and p.reason in (0x8F, 0x81, 0x82), p
    assert c.wait_closed(timeout)


def session(expiry):
    return [(m.P_SESSION_EXPIRY, expiry)]


# ---- CONNECT / CONNACK ----

def test_connack_layout(broker):
    """[MQTT-3.2.0-1] [MQTT-3.2.2-1] [MQTT-3.2.2-2] [MQTT-3.1.4-5]: the first
    packet is a CONNACK with reserved acknowledge flags 0, session present 0
    for Clean Start 1, reason 0x00, and a well-formed property block."""
    c = cli(broker)
    c.send(m.connect("c5", level=L, **creds(broker)))
    p = c.recv()
    assert p is not None and p.type == m.CONNACK, p
    assert p.raw[2] == 0x00 and p.reason == 0x00, p
    for pid, _ in p.props:
        assert pid in (m.P_SESSION_EXPIRY, m.P_RECEIVE_MAXIMUM, m.P_MAXIMUM_QOS, m.P_RETAIN_AVAILABLE,
                       m.P_MAXIMUM_PACKET_SIZE, m.P_ASSIGNED_CLIENT_ID, m.P_TOPIC_ALIAS_MAXIMUM,
                       m.P_REASON_STRING, m.P_USER_PROPERTY, m.P_WILDCARD_SUB_AVAILABLE,
                       m.P_SUB_ID_AVAILABLE, m.P_SHARED_SUB_AVAILABLE, m.P_SERVER_KEEP_ALIVE,
                       m.P_RESPONSE_INFO, m.P_SERVER_REFERENCE, m.P_AUTH_METHOD, m.P_AUTH_DATA), p
    # no property other than User Property twice (2.2.2.2)
    ids = [pid for pid, _ in p.props if pid != m.P_USER_PROPERTY]
    assert len(ids) == len(set(ids)), p


def test_first_packet_must_be_connect(broker):
    """[MQTT-3.1.0-1]: a SUBSCRIBE before CONNECT closes the connection
    without any SUBACK."""
    c = cli(broker)
    c.send(m.subscribe(1, [("a", 0)], level=L))
    assert c.wait_closed(3)
    assert all(p.type != m.SUBACK for p in c.last), c.last


def test_second_connect_protocol_error(broker):
    """[MQTT-3.1.0-2] [MQTT-4.13.1-1]: a second CONNECT is a Protocol Error:
    the connection is closed (DISCONNECT 0x82 if any)."""
    c = connected(broker, "again5")
    c.send(m.connect("again5", level=L, **creds(broker)))
    assert_dropped(c, reasons=(0x82,))


def test_connect_reserved_flag_malformed(broker):
    """[MQTT-3.1.2-3]: Connect Flags reserved bit set: Malformed Packet, the
    connection is closed (a CONNACK, if any, is 0x81)."""
    c = cli(broker)
    c.send(m.connect("rsv5", level=L, flags_extra=0x01, **creds(broker)))
    assert_dropped(c, reasons=(0x81,))


def test_will_qos3_malformed(broker):
    """[MQTT-3.1.2-12]: Will QoS 3 is a Malformed Packet: closed."""
    c = cli(broker)
    c.send(m.connect("wq5", level=L, will={"topic": "w", "payload": b"x", "qos": 3}, **creds(broker)))
    assert_dropped(c, reasons=(0x81,))


def test_will_retain_without_flag_malformed(broker):
    """[MQTT-3.1.2-13]: Will Retain 1 with Will Flag 0: Malformed: closed."""
    c = cli(broker)
    c.send(m.connect("wr5", level=L, flags_extra=0x20, **creds(broker)))
    assert_dropped(c, reasons=(0x81,))


def test_will_qos_without_flag_malformed(broker):
    """[MQTT-3.1.2-11]: Will QoS 2 with Will Flag 0: Malformed: closed."""
    c = cli(broker)
    c.send(m.connect("wq5b", level=L, flags_extra=0x10, **creds(broker)))
    assert_dropped(c, reasons=(0x81,))


def test_password_without_username_is_well_formed(broker):
    """3.1.2.9 (a Password without a User Name is allowed at level 5, unlike
    3.1.1): the CONNECT is not malformed: it is answered by a CONNACK (accept,
    or 0x86/0x87 if the password is refused), not dropped silently."""
    c = cli(broker)
    c.send(m.connect("pw5", level=L, password=creds(broker)["password"] or b"pw"))
    p = c.recv(3)
    assert p is not None and p.type == m.CONNACK and p.reason in (0x00, 0x86, 0x87), p


def test_duplicate_property_in_connect(broker):
    """2.2.2.2 [MQTT-3.1.4-1]: Session Expiry Interval twice in CONNECT is a
    Protocol Error: closed (CONNACK 0x82 or 0x81 if any)."""
    c = cli(broker)
    c.send(m.connect("dupprop", level=L, properties=session(10) + session(20), **creds(broker)))
    assert_dropped(c, reasons=(0x81, 0x82))


def test_unknown_property_malformed(broker):
    """2.2.2.2: a property identifier not defined (0x7F) in a PUBLISH is a
    Malformed Packet: closed (DISCONNECT 0x81 if any); not delivered."""
    sub = connected(broker, "unk-sub")
    sub.subscribe([("unk/t", 0)])
    c = connected(broker, "unk")
    body = m.utf8("unk/t") + bytes([2, 0x7F, 0x00]) + b"x"
    c.send(m.packet(m.PUBLISH, 0, body))
    assert_dropped(c, reasons=(0x81,))
    sub.expect_none(0.3)


def test_property_length_overrun_malformed(broker):
    """2.2.2.1: a Property Length running past the end of the packet is a
    Malformed Packet: closed."""
    c = connected(broker, "overrun")
    body = m.utf8("o/t") + bytes([20, m.P_PAYLOAD_FORMAT, 1])
    c.send(m.packet(m.PUBLISH, 0, body))
    assert_dropped(c, reasons=(0x81,))


def test_user_property_null_char(broker):
    """[MQTT-1.5.4-2]: a User Property name containing U+0000 is malformed:
    the connection is closed and the message not delivered."""
    sub = connected(broker, "nul-sub")
    sub.subscribe([("nul/t", 0)])
    c = connected(broker, "nulprop")
    c.send(m.publish("nul/t", b"x", properties=[(m.P_USER_PROPERTY, ("a\x00b", "v"))]))
    assert_dropped(c, reasons=(0x81,))
    sub.expect_none(0.3)


def test_clean_start_and_session_present(broker):
    """[MQTT-3.1.2-4] [MQTT-3.1.2-5] [MQTT-3.1.2-6] [MQTT-3.2.2-2] [MQTT-3.2.2-3]
    [MQTT-3.1.2-23]: Clean Start 0 + Session Expiry 60: SP 0 the first time,
    SP 1 after reconnecting; Clean Start 1 discards it: SP 0."""
    c = cli(broker)
    assert not c.connect("sp5", clean=False, properties=session(60)).session_present
    c.disconnect()
    c = cli(broker)
    assert c.connect("sp5", clean=False, properties=session(60)).session_present
    c.disconnect()
    c = cli(broker)
    assert not c.connect("sp5", clean=True, properties=session(60)).session_present
    c.disconnect()


def test_session_expiry_zero_ends_with_connection(broker):
    """[MQTT-3.1.2-23] 3.1.2.11.2: Session Expiry Interval absent (0): the
    session ends when the connection closes: a reconnect with Clean Start 0
    gets SP 0 and the old subscription is gone."""
    c = cli(broker)
    c.connect("se0", clean=False)
    c.subscribe([("se0/t", 1)])
    c.disconnect()
    c = cli(broker)
    assert not c.connect("se0", clean=False).session_present
    pub = connected(broker, "se0-pub")
    pub.publish("se0/t", b"x", qos=1)
    c.expect_none(0.4)


def test_session_expiry_elapses(broker):
    """[MQTT-3.1.2-23] 4.1: a session with Session Expiry 1 s is deleted about
    1 s after disconnection: SP 0 after 2.5 s (and SP 1 right away)."""
    c = cli(broker)
    c.connect("se1", clean=False, properties=session(1))
    c.disconnect()
    c = cli(broker)
    assert c.connect("se1", clean=False, properties=session(1)).session_present
    c.disconnect()
    time.sleep(2.5)
    c = cli(broker)
    assert not c.connect("se1", clean=False, properties=session(1)).session_present


def test_disconnect_session_expiry_zero_ends_session(broker):
    """3.14.2.2.2: DISCONNECT carrying Session Expiry Interval 0 (CONNECT had
    60) ends the session at the disconnection: SP 0 on reconnect."""
    c = cli(broker)
    c.connect("dse", clean=False, properties=session(60))
    c.disconnect(0, properties=session(0))
    time.sleep(0.2)
    c = cli(broker)
    assert not c.connect("dse", clean=False, properties=session(60)).session_present


def test_disconnect_session_expiry_from_zero_protocol_error(broker):
    """3.14.2.2.2: a non-zero Session Expiry Interval on DISCONNECT when the
    CONNECT had 0 is a Protocol Error: the Server answers DISCONNECT 0x82 (or
    just closes), and the session does not survive."""
    c = cli(broker)
    c.connect("dse0", clean=False)
    c.send(m.disconnect(0, properties=session(60)))
    assert c.wait_closed(3)
    for p in c.last:
        assert p.type == m.DISCONNECT and p.reason == 0x82, p
    c = cli(broker)
    assert not c.connect("dse0", clean=False).session_present


def test_assigned_client_identifier(broker):
    """[MQTT-3.1.3-6] [MQTT-3.1.3-7] 3.2.2.3.7: a zero-length ClientID is given
    a unique Assigned Client Identifier in the CONNACK."""
    a = connected(broker, "")
    b = connected(broker, "")
    ida = a.ack.prop(m.P_ASSIGNED_CLIENT_ID)
    idb = b.ack.prop(m.P_ASSIGNED_CLIENT_ID)
    assert ida and idb and ida != idb, (a.ack, b.ack)


def test_given_client_id_not_reassigned(broker):
    """3.2.2.3.7: a non-empty ClientID gets no Assigned Client Identifier."""
    c = connected(broker, "given-id")
    assert c.ack.prop(m.P_ASSIGNED_CLIENT_ID) is None, c.ack


def test_assigned_id_resumable(broker):
    """[MQTT-3.1.3-7] [MQTT-3.1.3-2]: the CONNECT is processed as if the client
    had sent the assigned id: reconnecting with it and Clean Start 0 resumes
    the session."""
    a = connected(broker, "", clean=False, properties=session(60))
    cid = a.ack.prop(m.P_ASSIGNED_CLIENT_ID)
    assert cid
    a.disconnect()
    c = cli(broker)
    assert c.connect(cid, clean=False, properties=session(60)).session_present


def test_takeover_closes_existing(broker):
    """[MQTT-3.1.4-3]: a second connection with the same ClientID: the Server
    closes the network connection of the existing client (a DISCONNECT it
    sends first says 0x8E); the new one works."""
    a = connected(broker, "take5")
    b = connected(broker, "take5")
    assert_dropped(a, reasons=(0x8E,))
    b.send(m.pingreq())
    b.expect(m.PINGRESP)


@m.only_loom("mosquitto 2.0.11 closes the old connection without a DISCONNECT")
def test_takeover_disconnect_0x8e(broker):
    """[MQTT-3.1.4-3] 4.13: the existing client is sent DISCONNECT 0x8E (Session
    taken over) before its connection is closed."""
    a = connected(broker, "take5b")
    connected(broker, "take5b")
    assert a.wait_closed(3)
    assert [p.reason for p in a.last if p.type == m.DISCONNECT] == [0x8E], a.last


def test_no_response_information_unless_requested(broker):
    """[MQTT-3.1.2-28]: Request Response Information 0 (or absent): no
    Response Information in the CONNACK."""
    c = connected(broker, "rri0", properties=[(m.P_REQUEST_RESPONSE_INFO, 0)])
    assert c.ack.prop(m.P_RESPONSE_INFO) is None


def test_unsupported_auth_method(broker):
    """[MQTT-4.12.0-1]: an Authentication Method the Server does not support:
    CONNACK 0x8C or 0x87 (if any), then the connection is closed."""
    c = cli(broker)
    c.send(m.connect("auth5", level=L, properties=[(m.P_AUTH_METHOD, "NO-SUCH-METHOD")],
                     **creds(broker)))
    assert c.wait_closed(3)
    acks = [p for p in c.last if p.type == m.CONNACK]
    assert all(p.reason in (0x8C, 0x87) for p in acks), c.last


def test_connack_refusal_has_no_session_present(broker):
    """[MQTT-3.2.2-6] [MQTT-3.2.2-7] [MQTT-3.1.4-6]: a refused CONNECT (here an
    unsupported Authentication Method) has SP 0 and the connection is closed
    without processing a PUBLISH sent after it."""
    sub = connected(broker, "ref-sub")
    sub.subscribe([("ref/t", 0)])
    c = cli(broker)
    c.send(m.connect("ref", level=L, clean=False, properties=[(m.P_AUTH_METHOD, "X")] + session(60),
                     **creds(broker)) + m.publish("ref/t", b"x"))
    assert c.wait_closed(3)
    for p in c.last:
        if p.type == m.CONNACK:
            assert p.reason >= 0x80 and not p.session_present, p
    sub.expect_none(0.3)


@m.only_loom("mosquitto 2.0.11 checks Keep Alive on a coarse timer: closes after ~5.7 s at Keep Alive 1")
def test_keepalive_timeout(broker):
    """[MQTT-3.1.2-22]: Keep Alive 1 s and silence: closed within 1.5 x the
    Keep Alive (slack for scheduling); DISCONNECT 0x8D if any."""
    c = connected(broker, "ka5", keepalive=1)
    t0 = time.monotonic()
    assert_dropped(c, reasons=(0x8D,), timeout=4)
    assert 0.9 <= time.monotonic() - t0 <= 2.5


# ---- PUBLISH, acknowledgements ----

def test_puback_reason(broker):
    """3.4.2.1 [MQTT-3.3.4-1]: a QoS 1 PUBLISH with no subscriber is answered
    by PUBACK with its Packet Identifier and reason 0x00 or 0x10 (no matching
    subscribers); the 2-byte form means 0x00."""
    c = connected(broker, "pa5")
    c.send(m.publish("nobody/here", b"x", qos=1, pid=77))
    p = c.expect(m.PUBACK)
    assert p.pid == 77 and p.reason in (0x00, 0x10), p


def test_qos2_flow_v5(broker):
    """[MQTT-4.3.3-8] [MQTT-4.3.3-9] 3.5/3.7: QoS 2 PUBLISH -> PUBREC (reason
    < 0x80), PUBREL -> PUBCOMP with the same Packet Identifier, reason 0."""
    sub = connected(broker, "q25-sub")
    sub.subscribe([("q25/t", 2)])
    c = connected(broker, "q25")
    c.send(m.publish("q25/t", b"x", qos=2, pid=300))
    rec = c.expect(m.PUBREC)
    assert rec.pid == 300 and rec.reason < 0x80, rec
    c.send(m.pubrel(300))
    comp = c.expect(m.PUBCOMP)
    assert comp.pid == 300 and comp.reason == 0, comp
    assert [p.payload for p in sub.messages(timeout=0.5)] == [b"x"]


def test_pubrel_unknown_packet_id(broker):
    """[MQTT-4.3.3-11] 3.7.2.1: a PUBREL for a Packet Identifier with no QoS 2
    flow is still answered by PUBCOMP with that Packet Identifier (reason
    0x92 Packet Identifier not found, or 0x00)."""
    c = connected(broker, "relunk")
    c.send(m.pubrel(4242))
    p = c.expect(m.PUBCOMP)
    assert p.pid == 4242 and p.reason in (0x92, 0x00), p


@m.only_loom("mosquitto 2.0.11 accepts a Subscription Identifier in a client PUBLISH")
def test_publish_subscription_identifier_from_client(broker):
    """[MQTT-3.3.4-6]: a PUBLISH from a client carrying a Subscription
    Identifier is a Protocol Error: closed (DISCONNECT 0x82 if any)."""
    c = connected(broker, "pubsid")
    c.send(m.publish("ps/t", b"x", qos=1, pid=1, properties=[(m.P_SUBSCRIPTION_ID, 3)]))
    assert_dropped(c, reasons=(0x82, 0x81))


def test_publish_wildcard_topic(broker):
    """[MQTT-3.3.2-2]: a Topic Name with a wildcard is a Protocol Error:
    closed (DISCONNECT 0x90 Topic Name invalid, or 0x82/0x81)."""
    c = connected(broker, "pubwc5")
    c.send(m.publish("a/+/b", b"x"))
    assert_dropped(c, reasons=(0x90, 0x82, 0x81))


@m.only_loom("mosquitto 2.0.11 accepts and forwards a wildcard Response Topic")
def test_response_topic_wildcard(broker):
    """[MQTT-3.3.2-14]: a Response Topic with a wildcard is a Protocol Error:
    closed; not delivered."""
    sub = connected(broker, "rtwc-sub")
    sub.subscribe([("rtwc/t", 0)])
    c = connected(broker, "rtwc")
    c.send(m.publish("rtwc/t", b"x", properties=[(m.P_RESPONSE_TOPIC, "reply/#")]))
    assert_dropped(c)
    sub.expect_none(0.3)


def test_forwarded_properties_unaltered(broker):
    """[MQTT-3.3.2-4] [MQTT-3.3.2-15] [MQTT-3.3.2-16] [MQTT-3.3.2-17]
    [MQTT-3.3.2-18] [MQTT-3.3.2-20]: Payload Format Indicator, Response Topic,
    Correlation Data, User Properties (order and duplicates kept) and Content
    Type reach the subscriber unaltered."""
    sub = connected(broker, "fp-sub")
    sub.subscribe([("fp/t", 1)])
    c = connected(broker, "fp-pub")
    ups = [(m.P_USER_PROPERTY, ("k", "1")), (m.P_USER_PROPERTY, ("a", "2")),
           (m.P_USER_PROPERTY, ("k", "3")), (m.P_USER_PROPERTY, ("", "\u00e9"))]
    c.publish("fp/t", "h\u00e9llo".encode(), qos=1, properties=[
        (m.P_PAYLOAD_FORMAT, 1), (m.P_CONTENT_TYPE, "text/plain; charset=utf-8"),
        (m.P_RESPONSE_TOPIC, "fp/reply"), (m.P_CORRELATION_DATA, b"\x00\x01corr\xff")] + ups)
    msgs = sub.messages(timeout=1, count=1)
    assert len(msgs) == 1
    p = msgs[0]
    assert p.prop(m.P_PAYLOAD_FORMAT) == 1
    assert p.prop(m.P_CONTENT_TYPE) == "text/plain; charset=utf-8"
    assert p.prop(m.P_RESPONSE_TOPIC) == "fp/reply"
    assert p.prop(m.P_CORRELATION_DATA) == b"\x00\x01corr\xff"
    assert p.props_all(m.P_USER_PROPERTY) == [v for _, v in ups]


def test_payload_format_absent_stays_absent(broker):
    """[MQTT-3.3.2-4]: no Payload Format Indicator sent, none added (0 is the
    default; a binary payload stays unspecified bytes)."""
    sub = connected(broker, "pf0-sub")
    sub.subscribe([("pf0/t", 0)])
    c = connected(broker, "pf0-pub")
    c.publish("pf0/t", b"\xff\xfe")
    msgs = sub.messages(timeout=1, count=1)
    assert len(msgs) == 1 and msgs[0].prop(m.P_PAYLOAD_FORMAT, 0) == 0


def test_message_expiry(broker):
    """[MQTT-3.3.2-5] [MQTT-3.3.2-6] 3.3.2.3.3: a queued message whose Message
    Expiry Interval (1 s) passed is not delivered; one with 100 s is, with
    the interval reduced by the time it waited; an expired retained message
    is no longer sent to new subscribers."""
    c = cli(broker)
    c.connect("mexp", clean=False, properties=session(60))
    c.subscribe([("mexp/t", 1)])
    c.disconnect()
    pub = connected(broker, "mexp-pub")
    pub.publish("mexp/t", b"short", qos=1, properties=[(m.P_MESSAGE_EXPIRY, 1)])
    pub.publish("mexp/t", b"long", qos=1, properties=[(m.P_MESSAGE_EXPIRY, 100)])
    pub.publish("mexp/r", b"x", qos=1, retain=True, properties=[(m.P_MESSAGE_EXPIRY, 1)])
    time.sleep(2.2)
    c = cli(broker)
    c.connect("mexp", clean=False, properties=session(60))
    msgs = c.messages(timeout=0.6)
    assert [p.payload for p in msgs] == [b"long"]
    assert 90 <= msgs[0].prop(m.P_MESSAGE_EXPIRY) <= 98, msgs[0]
    c.subscribe([("mexp/r", 1)])
    c.expect_none(0.4)


# ---- topic aliases ----

def tam(c):
    return c.ack.prop(m.P_TOPIC_ALIAS_MAXIMUM, 0)


def test_client_topic_alias(broker):
    """[MQTT-3.3.2-12] 3.3.2.3.4: the Server accepts Topic Alias 1..max it
    returned: set with a topic, then used with an empty topic; the
    subscriber sees the full topic name each time."""
    sub = connected(broker, "ta-sub")
    sub.subscribe([("ta/#", 0)])
    c = connected(broker, "ta-pub")
    n = tam(c)
    assert n >= 1, c.ack
    c.publish("ta/one", b"1", properties=[(m.P_TOPIC_ALIAS, n)])
    c.publish("", b"2", properties=[(m.P_TOPIC_ALIAS, n)])
    c.publish("ta/two", b"3", properties=[(m.P_TOPIC_ALIAS, n)])  # remap
    c.publish("", b"4", properties=[(m.P_TOPIC_ALIAS, n)])
    msgs = sub.messages(timeout=0.6)
    assert [(p.topic, p.payload) for p in msgs] == [("ta/one", b"1"), ("ta/one", b"2"),
                                                      ("ta/two", b"3"), ("ta/two", b"4")]


def test_topic_alias_zero(broker):
    """[MQTT-3.3.2-8]: Topic Alias 0 is a Protocol Error: closed (DISCONNECT
    0x94 Topic Alias invalid if any)."""
    c = connected(broker, "ta0")
    c.send(m.publish("ta0/t", b"x", properties=[(m.P_TOPIC_ALIAS, 0)]))
    assert_dropped(c, reasons=(0x94, 0x82, 0x81))


def test_topic_alias_above_maximum(broker):
    """[MQTT-3.3.2-9] 3.3.2.3.4: a Topic Alias above the Topic Alias Maximum the
    Server returned is a Protocol Error: closed (DISCONNECT 0x94 if any)."""
    c = connected(broker, "tamax")
    c.send(m.publish("tamax/t", b"x", properties=[(m.P_TOPIC_ALIAS, tam(c) + 1)]))
    assert_dropped(c, reasons=(0x94, 0x82))


def test_topic_alias_unknown(broker):
    """3.3.2.3.4: an empty Topic Name with a Topic Alias that has no mapping is a
    Protocol Error: closed (DISCONNECT 0x82 if any)."""
    c = connected(broker, "taunk")
    c.send(m.publish("", b"x", properties=[(m.P_TOPIC_ALIAS, 1)]))
    assert_dropped(c, reasons=(0x82, 0x94))


def test_empty_topic_without_alias(broker):
    """3.3.2.1 [MQTT-4.7.3-1]: a zero-length Topic Name without a Topic Alias
    is a Protocol Error: closed."""
    c = connected(broker, "tanone")
    c.send(m.publish("", b"x"))
    assert_dropped(c, reasons=(0x82, 0x90, 0x81))


def test_topic_alias_is_per_connection(broker):
    """[MQTT-3.3.2-7]: aliases do not survive the connection: after
    reconnecting (session resumed), using the old alias with an empty topic
    is a Protocol Error."""
    c = connected(broker, "tapc", clean=False, properties=session(60))
    c.publish("tapc/t", b"x", properties=[(m.P_TOPIC_ALIAS, 1)])
    c.disconnect()
    c = connected(broker, "tapc", clean=False, properties=session(60))
    c.send(m.publish("", b"y", properties=[(m.P_TOPIC_ALIAS, 1)]))
    assert_dropped(c, reasons=(0x82, 0x94))


def test_no_server_aliases_without_maximum(broker):
    """[MQTT-3.1.2-27]: a client that sent no Topic Alias Maximum never gets a
    Topic Alias, even for a repeated topic and a retained message whose
    publisher used an alias."""
    pub = connected(broker, "nsa-pub")
    pub.publish("nsa/t", b"r", qos=1, retain=True, properties=[(m.P_TOPIC_ALIAS, 1)])
    sub = connected(broker, "nsa-sub")
    sub.subscribe([("nsa/t", 1)])
    for i in range(5):
        pub.publish("", str(i).encode(), qos=1, properties=[(m.P_TOPIC_ALIAS, 1)])
    msgs = sub.messages(timeout=0.6, count=6)
    assert len(msgs) == 6
    for p in msgs:
        assert p.topic == "nsa/t" and p.prop(m.P_TOPIC_ALIAS) is None, p


def test_server_aliases_within_client_maximum(broker):
    """[MQTT-3.1.2-26] [MQTT-3.3.2-11]: with Topic Alias Maximum 2, any alias
    the server sends is 1..2, and an empty topic only after that alias was
    set on this connection."""
    sub = connected(broker, "swm-sub", properties=[(m.P_TOPIC_ALIAS_MAXIMUM, 2)])
    sub.subscribe([("swm/#", 0)])
    pub = connected(broker, "swm-pub")
    topics = [f"swm/{i % 4}" for i in range(16)]
    for t in topics:
        pub.publish(t, t.encode())
    msgs = sub.messages(timeout=0.6, count=16)
    aliases = {}
    got = []
    for p in msgs:
        a = p.prop(m.P_TOPIC_ALIAS)
        if a is not None:
            assert 1 <= a <= 2, p
            if p.topic:
                aliases[a] = p.topic
            else:
                assert a in aliases, p
        else:
            assert p.topic, p
        got.append(p.topic or aliases[a])
    assert got == topics


@m.only_loom("mosquitto does not assign topic aliases to outgoing messages (issue 4 asks Loom to)")
def test_server_assigns_aliases(broker):
    """3.3.2.3.4 [MQTT-3.3.2-11] (issue 4: topic aliases in both directions):
    with Topic Alias Maximum 4, the second message on a topic is sent with an
    empty Topic Name and the alias set by the first."""
    sub = connected(broker, "saa-sub", properties=[(m.P_TOPIC_ALIAS_MAXIMUM, 4)])
    sub.subscribe([("saa/#", 0)])
    pub = connected(broker, "saa-pub")
    for i in range(4):
        pub.publish("saa/a/long/topic/name", str(i).encode())
    msgs = sub.messages(timeout=0.6, count=4)
    assert len(msgs) == 4
    first = msgs[0]
    alias = first.prop(m.P_TOPIC_ALIAS)
    assert first.topic == "saa/a/long/topic/name" and alias is not None and 1 <= alias <= 4, first
    for p in msgs[1:]:
        assert p.topic == "" and p.prop(m.P_TOPIC_ALIAS) == alias, p


# ---- Maximum Packet Size ----

def test_client_maximum_packet_size(broker):
    """[MQTT-3.1.2-24] [MQTT-3.1.2-25]: the Server does not send a packet larger
    than the client's Maximum Packet Size (200): the large message is
    discarded for that client, the small one after it is delivered and the
    connection stays up."""
    sub = connected(broker, "cmps-sub", properties=[(m.P_MAXIMUM_PACKET_SIZE, 200)])
    sub.subscribe([("cmps/t", 1)])
    pub = connected(broker, "cmps-pub")
    pub.publish("cmps/t", b"L" * 400, qos=1)
    pub.publish("cmps/t", b"small", qos=1)
    msgs = sub.messages(timeout=0.8)
    assert [p.payload for p in msgs] == [b"small"]
    assert all(len(p.raw) <= 200 for p in msgs)
    sub.send(m.pingreq())
    sub.expect(m.PINGRESP)


def test_server_maximum_packet_size(broker):
    """3.2.2.3.6 [MQTT-4.13.1-1]: a packet larger than the Maximum Packet Size
    the Server returned is a Protocol Error: closed (DISCONNECT 0x95 Packet
    too large if any) and not delivered."""
    c = connected(broker, "smps")
    mps = c.ack.prop(m.P_MAXIMUM_PACKET_SIZE)
    if mps is None or mps > 8 * 1024 * 1024:
        pytest.skip(f"server Maximum Packet Size {mps}: none or too big to test quickly")
    sub = connected(broker, "smps-sub")
    sub.subscribe([("smps/t", 0)])
    c.send_until_closed(m.publish("smps/t", b"x" * mps))
    assert_dropped(c, reasons=(0x95,), timeout=5)
    sub.expect_none(0.3)


# ---- flow control ----

@m.only_loom("mosquitto 2.0.11 sends two more QoS 1 PUBLISHes for one PUBACK (3 in flight at Receive Maximum 2)")
def test_receive_maximum_outbound(broker):
    """[MQTT-3.3.4-9] [MQTT-4.9.0-2]: the Server sends no more unacknowledged
    QoS 1 PUBLISHes than the client's Receive Maximum (2); acknowledging one
    releases exactly one more."""
    sub = connected(broker, "rm-sub", properties=[(m.P_RECEIVE_MAXIMUM, 2)])
    sub.subscribe([("rm/t", 1)])
    pub = connected(broker, "rm-pub")
    for i in range(5):
        pub.publish("rm/t", str(i).encode(), qos=1)
    first = sub.messages(timeout=0.5, ack=False)
    assert [p.payload for p in first] == [b"0", b"1"]
    sub.send(m.puback(first[0].pid))
    more = sub.messages(timeout=0.5, ack=False)
    assert [p.payload for p in more] == [b"2"]
    sub.send(m.puback(first[1].pid) + m.puback(more[0].pid))
    rest = sub.messages(timeout=0.5)
    assert [p.payload for p in rest] == [b"3", b"4"]


def test_receive_maximum_qos0_not_blocked(broker):
    """[MQTT-4.9.0-2] [MQTT-4.9.0-3] [MQTT-3.3.4-10]: with the send quota used
    up, no further QoS 1 PUBLISH is sent, other packets (PINGRESP) still
    flow; QoS 0 may flow or wait (4.9: MAY either)."""
    sub = connected(broker, "rm0-sub", properties=[(m.P_RECEIVE_MAXIMUM, 1)])
    sub.subscribe([("rm0/q1", 1), ("rm0/q0", 0)])
    pub = connected(broker, "rm0-pub")
    pub.publish("rm0/q1", b"a", qos=1)
    pub.publish("rm0/q1", b"b", qos=1)
    pub.publish("rm0/q0", b"z", qos=0)
    msgs = sub.messages(timeout=0.5, ack=False)
    assert sorted(p.payload for p in msgs) in ([b"a"], [b"a", b"z"]), msgs
    sub.send(m.pingreq())
    sub.expect(m.PINGRESP)


@m.only_loom("mosquitto 2.0.11 does not enforce its Receive Maximum on incoming QoS 2")
def test_receive_maximum_inbound_exceeded(broker):
    """3.3.4 (Receive Maximum exceeded) [MQTT-3.3.4-7]: more unacknowledged QoS 2
    PUBLISHes than the Server's Receive Maximum (no PUBREL sent): the Server
    disconnects with 0x93 (or closes)."""
    c = connected(broker, "rmin")
    rm = c.ack.prop(m.P_RECEIVE_MAXIMUM, 65535)
    if rm > 1000:
        pytest.skip(f"server Receive Maximum {rm}: too large to exceed quickly")
    data = b"".join(m.publish("rmin/t", b"x", qos=2, pid=i + 1) for i in range(rm + 1))
    c.send(data)
    assert_dropped(c, reasons=(0x93,), timeout=3)


# ---- SUBSCRIBE options ----

def test_suback_reason_codes(broker):
    """[MQTT-3.8.4-1] [MQTT-3.8.4-2] [MQTT-3.8.4-6] [MQTT-3.8.4-7] [MQTT-3.9.3-1]:
    one SUBACK with the Packet Identifier and one reason per filter, in
    order: granted QoS 2, 0, 1."""
    c = connected(broker, "sr5")
    c.send(m.subscribe(0x0102, [("sr/a", 2), ("sr/b", 0), ("sr/c", 1)]))
    p = c.expect(m.SUBACK)
    assert p.pid == 0x0102 and p.reasons == [2, 0, 1], p


def test_unsuback_reason_codes(broker):
    """[MQTT-3.10.4-4] [MQTT-3.10.4-5] [MQTT-3.11.3-1] 3.11.3: one UNSUBACK with
    a reason per filter in order: 0x00 for an existing subscription, 0x11 (No
    subscription existed) for the other."""
    c = connected(broker, "ur5")
    c.subscribe([("ur/a", 0)])
    c.send(m.unsubscribe(0x0203, ["ur/none", "ur/a"]))
    p = c.expect(m.UNSUBACK)
    assert p.pid == 0x0203 and p.reasons == [0x11, 0x00], p


def test_subscription_options_reserved_bits(broker):
    """[MQTT-3.8.3-5]: reserved bits 6-7 of the Subscription Options set:
    Malformed Packet: closed, no SUBACK."""
    c = connected(broker, "sorsv")
    c.send(m.subscribe(1, [("so/t", 0x40)]))
    assert_dropped(c, reasons=(0x81,))


def test_retain_handling_3_malformed(broker):
    """3.8.3.1: Retain Handling 3 is a Protocol Error: closed, no SUBACK."""
    c = connected(broker, "rh3")
    c.send(m.subscribe(1, [("rh3/t", m.sub_opts(rh=3))]))
    assert_dropped(c, reasons=(0x81, 0x82))


def test_subscription_identifier_zero(broker):
    """3.8.2.1.2: a Subscription Identifier of 0 is a Protocol Error: closed."""
    c = connected(broker, "sid0")
    c.send(m.subscribe(1, [("sid0/t", 0)], properties=[(m.P_SUBSCRIPTION_ID, 0)]))
    assert_dropped(c, reasons=(0x81, 0x82))


def test_subscription_identifiers_delivered(broker):
    """[MQTT-3.3.4-3] [MQTT-3.3.4-4] 3.8.2.1.2: messages carry the Subscription
    Identifier of the matching subscription; overlapping subscriptions
    carry both (in one message or one per copy); a subscription without
    one adds none."""
    c = connected(broker, "sid")
    c.subscribe([("sid/a/#", 1)], properties=[(m.P_SUBSCRIPTION_ID, 7)])
    c.subscribe([("sid/+/x", 1)], properties=[(m.P_SUBSCRIPTION_ID, 268435455)])
    c.subscribe([("sid/plain", 1)])
    pub = connected(broker, "sid-pub")
    pub.publish("sid/a/y", b"1", qos=1)
    pub.publish("sid/a/x", b"2", qos=1)
    pub.publish("sid/plain", b"3", qos=1)
    msgs = c.messages(timeout=0.6)
    by = {}
    for p in msgs:
        by.setdefault(p.payload, []).extend(p.props_all(m.P_SUBSCRIPTION_ID))
    assert by[b"1"] == [7]
    assert sorted(by[b"2"]) == [7, 268435455]
    assert by[b"3"] == []


def test_subscription_identifier_replaced(broker):
    """3.8.2.1.2 [MQTT-3.8.4-3]: re-subscribing to the same filter with another
    Subscription Identifier replaces it; without one removes it."""
    c = connected(broker, "sidr")
    c.subscribe([("sidr/t", 0)], properties=[(m.P_SUBSCRIPTION_ID, 1)])
    c.subscribe([("sidr/t", 0)], properties=[(m.P_SUBSCRIPTION_ID, 2)])
    pub = connected(broker, "sidr-pub")
    pub.publish("sidr/t", b"a")
    assert [p.props_all(m.P_SUBSCRIPTION_ID) for p in c.messages(timeout=0.5)] == [[2]]
    c.subscribe([("sidr/t", 0)])
    pub.publish("sidr/t", b"b")
    assert [p.props_all(m.P_SUBSCRIPTION_ID) for p in c.messages(timeout=0.5)] == [[]]


def test_no_local(broker):
    """[MQTT-3.8.3-3]: No Local 1: the client's own messages are not sent back
    to it; other clients' messages are."""
    c = connected(broker, "nl")
    c.subscribe([("nl/t", m.sub_opts(qos=1, no_local=True))])
    other = connected(broker, "nl-other")
    c.publish("nl/t", b"mine", qos=1)
    other.publish("nl/t", b"theirs", qos=1)
    assert [p.payload for p in c.messages(timeout=0.5)] == [b"theirs"]


@m.only_loom("mosquitto 2.0.11 accepts No Local on a shared subscription")
def test_no_local_on_shared_protocol_error(broker):
    """[MQTT-3.8.3-4]: No Local on a Shared Subscription is a Protocol Error:
    closed (DISCONNECT 0x82 if any), not a SUBACK reason."""
    c = connected(broker, "nlsh")
    c.send(m.subscribe(1, [("$share/g/nlsh/t", m.sub_opts(no_local=True))]))
    assert_dropped(c, reasons=(0x82,))


def test_retain_as_published(broker):
    """[MQTT-3.3.1-12] [MQTT-3.3.1-13]: forwarding to an established
    subscription, RETAIN is 0 with Retain As Published 0 and kept as
    published (1) with Retain As Published 1."""
    a = connected(broker, "rap0")
    a.subscribe([("rap/t", m.sub_opts(rap=False))])
    b = connected(broker, "rap1")
    b.subscribe([("rap/t", m.sub_opts(rap=True))])
    pub = connected(broker, "rap-pub")
    pub.publish("rap/t", b"r", retain=True)
    pub.publish("rap/t", b"n", retain=False)
    assert [(p.payload, p.retain) for p in a.messages(timeout=0.5)] == [(b"r", False), (b"n", False)]
    assert [(p.payload, p.retain) for p in b.messages(timeout=0.3)] == [(b"r", True), (b"n", False)]


def test_retain_handling(broker):
    """[MQTT-3.3.1-9] [MQTT-3.3.1-10] [MQTT-3.3.1-11] [MQTT-3.8.4-4]: Retain
    Handling 0 sends retained messages on every subscribe (RETAIN 1); 1 only
    when the subscription did not exist; 2 never."""
    pub = connected(broker, "rh-pub")
    pub.publish("rh/t", b"ret", retain=True)
    for rh, expected in ((0, [1, 1]), (1, [1, 0]), (2, [0, 0])):
        c = connected(broker, f"rh{rh}")
        got = []
        for _ in range(2):
            c.subscribe([("rh/t", m.sub_opts(rh=rh))])
            msgs = c.messages(timeout=0.4)
            assert all(p.retain and p.payload == b"ret" for p in msgs), msgs
            got.append(len(msgs))
        assert got == expected, (rh, got)
        c.disconnect()


def test_granted_qos_min(broker):
    """[MQTT-3.8.4-8]: delivered QoS = min(published QoS, granted QoS)."""
    c = connected(broker, "gq5")
    assert c.subscribe([("gq/0", 0), ("gq/1", 1)]).reasons == [0, 1]
    pub = connected(broker, "gq-pub")
    pub.publish("gq/0", b"a", qos=2)
    pub.publish("gq/1", b"b", qos=2)
    pub.publish("gq/1", b"c", qos=0)
    assert [(p.payload, p.qos) for p in c.messages(timeout=0.5)] == [(b"a", 0), (b"b", 1), (b"c", 0)]


def test_invalid_filter_v5(broker):
    """[MQTT-4.7.1-2] 3.9.3: an invalid filter ('a/#/b') is refused: SUBACK 0x8F
    (Topic Filter invalid) or the connection is closed (0x8F/0x81/0x82)."""
    c = connected(broker, "if5")
    c.send(m.subscribe(1, [("a/#/b", 0)]))
    refused_filter(c)


MOSQ_SHARE = m.only_loom("mosquitto 2.0.11 accepts it as a plain (non-shared) filter")


@pytest.mark.parametrize("f", [
    pytest.param("$share//t", marks=MOSQ_SHARE),
    "$share/a+b/t",
    "$share/a#/t",
    pytest.param("$share/g", marks=MOSQ_SHARE),
    pytest.param("$share/g/", marks=MOSQ_SHARE),
])
def test_invalid_share_names(broker, f):
    """[MQTT-4.8.2-1] [MQTT-4.8.2-2] [MQTT-4.7.3-1]: an empty ShareName, a
    ShareName with + or #, and a missing or empty filter after the ShareName
    are invalid: SUBACK 0x8F (Topic Filter invalid) or the connection is
    closed (DISCONNECT 0x8F/0x81/0x82 if any)."""
    c = connected(broker, "sn")
    c.send(m.subscribe(1, [(f, 0)]))
    refused_filter(c)


def test_dollar_topics_v5(broker):
    """[MQTT-4.7.2-1]: '#' and '+/...' do not match '$...' topic names (the
    broker's retained $SYS/broker/version), an explicit $SYS filter does."""
    m.skip_if_tenant(broker, "$SYS is for platform admins only")
    c = connected(broker, "dl5")
    c.subscribe([("#", 0), ("+/broker/version", 0)])
    got = c.messages(timeout=0.5)
    assert all(not p.topic.startswith("$") for p in got), got
    c.subscribe([("$SYS/broker/version", 0)])
    assert [p.topic for p in c.messages(timeout=0.5)] == ["$SYS/broker/version"]


# ---- will ----

def test_will_properties_forwarded(broker):
    """[MQTT-3.1.3-10] [MQTT-3.1.2-8] 3.1.3.2: the Will Message is published
    with its properties: User Properties in order, Content Type, Response
    Topic, Correlation Data, Payload Format Indicator."""
    sub = connected(broker, "wp-sub")
    sub.subscribe([("wp/t", 1)])
    w = cli(broker)
    ups = [(m.P_USER_PROPERTY, ("z", "1")), (m.P_USER_PROPERTY, ("a", "2"))]
    w.connect("wp", will={"topic": "wp/t", "payload": b"bye", "qos": 1, "props": [
        (m.P_PAYLOAD_FORMAT, 1), (m.P_CONTENT_TYPE, "text/plain"), (m.P_RESPONSE_TOPIC, "wp/r"),
        (m.P_CORRELATION_DATA, b"cd")] + ups})
    w.close()
    msgs = sub.messages(timeout=2, count=1)
    assert len(msgs) == 1
    p = msgs[0]
    assert p.payload == b"bye" and p.qos == 1
    assert p.prop(m.P_PAYLOAD_FORMAT) == 1 and p.prop(m.P_CONTENT_TYPE) == "text/plain"
    assert p.prop(m.P_RESPONSE_TOPIC) == "wp/r" and p.prop(m.P_CORRELATION_DATA) == b"cd"
    assert p.props_all(m.P_USER_PROPERTY) == [v for _, v in ups]


def test_will_on_disconnect_with_will(broker):
    """3.14.2.1 [MQTT-3.14.4-3]: DISCONNECT 0x04 (Disconnect with Will Message)
    publishes the Will; DISCONNECT 0x00 discards it."""
    sub = connected(broker, "dw-sub")
    sub.subscribe([("dw/#", 0)])
    a = cli(broker)
    a.connect("dw-a", will={"topic": "dw/a", "payload": b"a"})
    a.disconnect(0x04)
    b = cli(broker)
    b.connect("dw-b", will={"topic": "dw/b", "payload": b"b"})
    b.disconnect(0x00)
    assert [p.topic for p in sub.messages(timeout=0.8)] == ["dw/a"]


def test_will_delay(broker):
    """3.1.3.2.2 [MQTT-3.1.2-8]: a Will Delay Interval of 1 s delays the Will
    Message (session expiry 10 s): not there after 0.4 s, there by 2.5 s."""
    sub = connected(broker, "wd-sub")
    sub.subscribe([("wd/t", 0)])
    w = cli(broker)
    w.connect("wd", properties=session(10),
              will={"topic": "wd/t", "payload": b"late", "props": [(m.P_WILL_DELAY, 1)]})
    w.close()
    sub.expect_none(0.4)
    assert [p.payload for p in sub.messages(timeout=2.1, count=1)] == [b"late"]


def test_will_delay_cancelled_by_reconnect(broker):
    """[MQTT-3.1.3-9]: the client reconnects before the Will Delay (1 s)
    elapses: the Will Message is not sent."""
    sub = connected(broker, "wdc-sub")
    sub.subscribe([("wdc/t", 0)])
    w = cli(broker)
    w.connect("wdc", clean=False, properties=session(30),
              will={"topic": "wdc/t", "payload": b"no", "props": [(m.P_WILL_DELAY, 1)]})
    w.close()
    time.sleep(0.2)
    connected(broker, "wdc", clean=False, properties=session(30))
    sub.expect_none(1.5)


def test_will_sent_when_session_ends_first(broker):
    """[MQTT-3.1.2-8] 3.1.3.2.2: Will Delay 30 s but Session Expiry 1 s: the Will
    Message is published when the session ends (about 1 s)."""
    sub = connected(broker, "wse-sub")
    sub.subscribe([("wse/t", 0)])
    w = cli(broker)
    w.connect("wse", properties=session(1),
              will={"topic": "wse/t", "payload": b"end", "props": [(m.P_WILL_DELAY, 30)]})
    w.close()
    assert [p.payload for p in sub.messages(timeout=3, count=1)] == [b"end"]


# ---- redelivery ----

def test_resend_with_dup_v5(broker):
    """[MQTT-4.4.0-1] [MQTT-3.3.1-1]: unacknowledged QoS 1 and 2 PUBLISHes are
    re-sent on session resumption with the original Packet Identifiers and
    DUP 1; a PUBREC'd one gets its PUBREL re-sent."""
    c = connected(broker, "rs5", clean=False, properties=session(60))
    c.subscribe([("rs5/t", 2)])
    pub = connected(broker, "rs5-pub")
    pub.publish("rs5/t", b"q1", qos=1)
    pub.publish("rs5/t", b"q2", qos=2)
    pub.publish("rs5/t", b"q2b", qos=2)
    first = c.messages(timeout=0.6, count=3, ack=False)
    assert [p.payload for p in first] == [b"q1", b"q2", b"q2b"]
    c.send(m.pubrec(first[2].pid))
    assert c.expect(m.PUBREL).pid == first[2].pid
    c.close()
    time.sleep(0.2)
    c = connected(broker, "rs5", clean=False, properties=session(60))
    got = c.recv_all(0.5)
    pubs = [(p.pid, p.payload, p.dup) for p in got if p.type == m.PUBLISH]
    rels = [p.pid for p in got if p.type == m.PUBREL]
    assert pubs == [(first[0].pid, b"q1", True), (first[1].pid, b"q2", True)], got
    assert rels == [first[2].pid], got


def test_puback_error_reason_ends_flow(broker):
    """[MQTT-3.3.4-9] 4.9: a PUBREC with a reason >= 0x80 from the client ends
    the QoS 2 flow: no PUBREL follows and the send quota is released."""
    c = connected(broker, "pre", properties=[(m.P_RECEIVE_MAXIMUM, 1)])
    c.subscribe([("pre/t", 2)])
    pub = connected(broker, "pre-pub")
    pub.publish("pre/t", b"a", qos=2)
    pub.publish("pre/t", b"b", qos=2)
    p = c.expect(m.PUBLISH)
    c.send(m.pubrec(p.pid, reason=0x80))
    nxt = c.recv(1)
    assert nxt is not None and nxt.type == m.PUBLISH and nxt.payload == b"b", nxt
    c.send(m.pubrec(nxt.pid))
    assert c.expect(m.PUBREL).pid == nxt.pid


# ---- CONNECT property values, packet types, problem information ----

@pytest.mark.parametrize("prop", [
    (m.P_RECEIVE_MAXIMUM, 0), (m.P_MAXIMUM_PACKET_SIZE, 0), (m.P_REQUEST_PROBLEM_INFO, 2),
    (m.P_REQUEST_RESPONSE_INFO, 2)],
    ids=["receive-max-0", "max-packet-0", "problem-info-2", "response-info-2"])
def test_connect_property_value_protocol_error(broker, prop):
    """3.1.2.11.3 3.1.2.11.4 3.1.2.11.6 3.1.2.11.7 [MQTT-3.1.4-1]: Receive
    Maximum 0, Maximum Packet Size 0, Request Problem / Response Information
    other than 0 or 1 are Protocol Errors: the CONNECT is refused (CONNACK
    >= 0x80 if any) and the connection closed."""
    c = cli(broker)
    c.send(m.connect("cpv", level=L, properties=[prop], **creds(broker)))
    assert_dropped(c, reasons=(0x81, 0x82))


@m.only_loom("mosquitto 2.0.11 accepts and forwards Payload Format Indicator 2")
def test_payload_format_value_2_protocol_error(broker):
    """3.3.2.3.2 2.2.2.2: a Payload Format Indicator of 2 is a Protocol Error
    (only 0 and 1 are defined): closed, not delivered."""
    sub = connected(broker, "pf2-sub")
    sub.subscribe([("pf2/t", 0)])
    c = connected(broker, "pf2")
    c.send(m.publish("pf2/t", b"x", properties=[(m.P_PAYLOAD_FORMAT, 2)]))
    assert_dropped(c, reasons=(0x81, 0x82))
    sub.expect_none(0.3)


@pytest.mark.parametrize("first", [0x00, 0x20, 0x90, pytest.param(0xB0, marks=m.only_loom(
    "mosquitto 2.0.11 ignores an UNSUBACK from a client"))], ids=["type0", "connack", "suback", "unsuback"])
def test_server_packet_types_from_client(broker, first):
    """2.1.2 [MQTT-4.13.1-1]: a reserved packet type (0) or a server-to-client
    one sent by the client is a Malformed Packet / Protocol Error: closed."""
    c = connected(broker, "ptype5")
    c.send(bytes([first, 0x03, 0x00, 0x01, 0x00]))
    assert_dropped(c, reasons=(0x81, 0x82))


def test_auth_without_method_protocol_error(broker):
    """4.12 3.15: an AUTH packet from a client that did not use enhanced
    authentication in CONNECT is a Protocol Error: closed."""
    c = connected(broker, "auth-late")
    c.send(m.packet(m.AUTH, 0, bytes([0x19, 0x00])))
    assert_dropped(c, reasons=(0x82, 0x8C))


def test_will_topic_with_wildcard_refused(broker):
    """3.1.3.3 [MQTT-3.3.2-2] [MQTT-4.7.1-1]: a Will Topic containing a wildcard
    is invalid: the CONNECT is refused (CONNACK 0x90/0x81/0x82 or a close),
    and no will is ever published."""
    sub = connected(broker, "wwc-sub")
    sub.subscribe([("wwc/#", 0)])
    c = cli(broker)
    c.send(m.connect("wwc", level=L, will={"topic": "wwc/+", "payload": b"x"}, **creds(broker)))
    assert c.wait_closed(3)
    for p in c.last:
        assert p.type == m.CONNACK and p.reason in (0x90, 0x81, 0x82), p
    sub.expect_none(0.3)


def test_no_reason_string_when_problem_info_off(broker):
    """[MQTT-3.1.2-29]: with Request Problem Information 0 the Server sends no
    Reason String or User Property on packets other than PUBLISH, CONNACK
    and DISCONNECT: here PUBACKs (incl. refusals), PUBREC, PUBCOMP, SUBACK
    (incl. failures) and UNSUBACK."""
    c = connected(broker, "rpi0", properties=[(m.P_REQUEST_PROBLEM_INFO, 0)])
    acks = [c.publish("rpi/none", b"x", qos=1), c.publish("$dlr/x", b"x", qos=1),
            c.publish("rpi/q2", b"x", qos=2)]
    acks.append(c.subscribe([("rpi/t", 1)]))
    acks.append(c.unsubscribe(["rpi/t", "rpi/none"]))
    for p in acks:
        assert p.prop(m.P_REASON_STRING) is None and not p.props_all(m.P_USER_PROPERTY), p


@m.only_loom("Loom caps Session Expiry at 7 days (mqtt_limits.session_expiry_max); mosquitto does not cap by default")
def test_session_expiry_cap_announced(broker):
    """3.2.2.3.2: a server using another Session Expiry Interval than the
    client asked for says so in the CONNACK: 0xFFFFFFFF (never) capped to
    Loom's 7 days comes back as 604800."""
    c = connected(broker, "secap", properties=session(0xFFFFFFFF))
    assert c.ack.prop(m.P_SESSION_EXPIRY) == 604800, c.ack


def test_user_property_on_connect_accepted(broker):
    """3.1.2.11.8: User Properties on CONNECT (repeated names allowed) are
    accepted."""
    c = connected(broker, "upc", properties=[(m.P_USER_PROPERTY, ("k", "v")),
                                             (m.P_USER_PROPERTY, ("k", "w"))])
    assert c.ack.reason == 0


def test_client_puback_with_reason_string(broker):
    """3.4.2.2: a client PUBACK carrying a reason code and Reason String is
    well-formed and completes the flow (nothing re-sent after reconnect)."""
    c = connected(broker, "pars", clean=False, properties=session(60))
    c.subscribe([("pars/t", 1)])
    pub = connected(broker, "pars-pub")
    pub.publish("pars/t", b"x", qos=1)
    p = c.expect(m.PUBLISH)
    c.send(m.puback(p.pid, reason=0x10, properties=[(m.P_REASON_STRING, "fine")]))
    time.sleep(0.2)
    c.disconnect()
    c = connected(broker, "pars", clean=False, properties=session(60))
    c.expect_none(0.4)


def test_subscribe_qos_downgrade_maximum_qos(broker):
    """3.2.2.3.4 [MQTT-3.2.2-9] [MQTT-3.2.2-11]: a SUBSCRIBE at QoS 2 is granted
    at most the Maximum QoS the CONNACK announced (2 when absent)."""
    c = connected(broker, "mq")
    mq = c.ack.prop(m.P_MAXIMUM_QOS, 2)
    assert c.subscribe([("mq/t", 2)]).reasons == [mq]


def test_wildcard_and_shared_available(broker):
    """3.2.2.3.11 3.2.2.3.12 3.2.2.3.13: features announced as available (or not
    announced = available) really work: a wildcard subscription, a
    Subscription Identifier and a shared subscription are all granted."""
    c = connected(broker, "avail")
    for pid in (m.P_WILDCARD_SUB_AVAILABLE, m.P_SUB_ID_AVAILABLE, m.P_SHARED_SUB_AVAILABLE):
        assert c.ack.prop(pid, 1) == 1, c.ack
    assert c.subscribe([("av/#", 0)], properties=[(m.P_SUBSCRIPTION_ID, 5)]).reasons == [0]
    assert c.subscribe([("$share/g/av/x", 1)]).reasons == [1]


def test_pipelined_before_auth_completes(broker):
    """[MQTT-3.1.4-5] [MQTT-3.1.4-6] 4.1 (the client may send packets before the
    CONNACK): CONNECT with properties, SUBSCRIBE with a Subscription
    Identifier and a QoS 2 PUBLISH in one write are processed in order after
    the CONNECT is accepted (the message goes out at PUBLISH or at PUBREL
    time: both are allowed, 4.3.3)."""
    c = cli(broker)
    c.send(m.connect("pipe5", level=L, properties=session(0), **creds(broker))
           + m.subscribe(1, [("pipe5/t", 2)], properties=[(m.P_SUBSCRIPTION_ID, 9)])
           + m.publish("pipe5/t", b"self", qos=2, pid=2))
    got = c.recv_all(0.6)
    kinds = [p.type for p in got]
    assert kinds[:3] == [m.CONNACK, m.SUBACK, m.PUBREC] or \
        kinds[:2] == [m.CONNACK, m.SUBACK] and sorted(kinds[2:]) == sorted([m.PUBREC, m.PUBLISH]), got
    assert got[0].reason == 0, got
    c.send(m.pubrel(2))
    got += c.recv_all(0.6)
    assert [p.type for p in got].count(m.PUBCOMP) == 1, got
    pubs = [p for p in got if p.type == m.PUBLISH]
    assert len(pubs) == 1 and pubs[0].props_all(m.P_SUBSCRIPTION_ID) == [9], got


@m.only_loom("mosquitto 2.0.11 exceeds the client's Receive Maximum")
def test_resume_respects_receive_maximum(broker):
    """[MQTT-3.3.4-9] [MQTT-4.4.0-1]: on session resumption the re-sent and the
    queued QoS 1 PUBLISHes together stay within the new connection's Receive
    Maximum (2)."""
    c = connected(broker, "rrm", clean=False, properties=session(60))
    c.subscribe([("rrm/t", 1)])
    pub = connected(broker, "rrm-pub")
    for i in range(3):
        pub.publish("rrm/t", str(i).encode(), qos=1)
    assert len(c.messages(timeout=0.5, count=3, ack=False)) == 3
    c.close()
    for i in range(3, 6):
        pub.publish("rrm/t", str(i).encode(), qos=1)
    time.sleep(0.2)
    c = connected(broker, "rrm", clean=False, properties=session(60) + [(m.P_RECEIVE_MAXIMUM, 2)])
    first = c.messages(timeout=0.5, ack=False)
    assert [p.payload for p in first] == [b"0", b"1"] and all(p.dup for p in first), first
    for p in first:
        c.send(m.puback(p.pid))
    rest = c.messages(timeout=0.6)
    assert [p.payload for p in rest] == [b"2", b"3", b"4", b"5"], rest


def test_unsubscribe_shared(broker):
    """[MQTT-3.10.4-1] [MQTT-3.10.4-2] 4.8.2: UNSUBSCRIBE of '$share/g/t' (same
    string as subscribed) answers 0x00 and ends deliveries to that member;
    the other member then gets every message."""
    a = connected(broker, "ush-a")
    b = connected(broker, "ush-b")
    for c in (a, b):
        c.subscribe([("$share/g/ush/t", 1)])
    assert a.unsubscribe(["$share/g/ush/t"]).reasons == [0x00]
    pub = connected(broker, "ush-pub")
    for i in range(4):
        pub.publish("ush/t", str(i).encode(), qos=1)
    a.expect_none(0.3)
    assert [p.payload for p in b.messages(timeout=0.5)] == [b"0", b"1", b"2", b"3"]


def test_retained_too_large_for_client(broker):
    """[MQTT-3.1.2-25]: a retained message larger than the subscriber's
    Maximum Packet Size is not sent on subscribe (discarded for it); a small
    retained one on another topic is."""
    pub = connected(broker, "rtl-pub")
    pub.publish("rtl/big", b"B" * 500, qos=1, retain=True)
    pub.publish("rtl/small", b"s", qos=1, retain=True)
    c = connected(broker, "rtl", properties=[(m.P_MAXIMUM_PACKET_SIZE, 100)])
    c.subscribe([("rtl/+", 1)])
    assert [p.payload for p in c.messages(timeout=0.5)] == [b"s"]


# ---- across protocol levels, expiry on resend, shared + identifiers ----

def test_v5_properties_not_sent_to_311(broker):
    """2.2.2 (3.1.1 packets have no properties) [MQTT-3.3.1-9 (3.1.1)]: a
    5.0 PUBLISH with properties and a Topic Alias reaches a 3.1.1
    subscriber as a plain 3.1.1 PUBLISH: 30 <len> <topic> <payload>, the
    topic resolved from the alias."""
    old = cli(broker)
    old.level = 4
    old.send(m.connect("lvl4", level=4, **creds(broker)))
    old.expect(m.CONNACK)
    old.subscribe([("mix/t", 0)])
    new = connected(broker, "lvl5")
    props = [(m.P_USER_PROPERTY, ("k", "v")), (m.P_MESSAGE_EXPIRY, 60), (m.P_CONTENT_TYPE, "x/y"),
             (m.P_TOPIC_ALIAS, 1)]
    new.publish("mix/t", b"one", properties=props)
    new.publish("", b"two", properties=[(m.P_TOPIC_ALIAS, 1)])
    a = old.recv(1)
    b = old.recv(1)
    assert a is not None and a.raw == b"\x30\x0a\x00\x05mix/tone", a
    assert b is not None and b.raw == b"\x30\x0a\x00\x05mix/ttwo", b


def test_311_publish_to_v5_subscriber(broker):
    """3.3.2.3 (absent properties stay absent): a 3.1.1 QoS 1 PUBLISH reaches a
    5.0 subscriber with no Payload Format, Expiry, Content Type or User
    Property added (the property block may only carry a Subscription
    Identifier or Topic Alias of the server's)."""
    sub = connected(broker, "v5sub")
    sub.subscribe([("mix2/t", 1)])
    old = cli(broker)
    old.level = 4
    old.send(m.connect("lvl4b", level=4, **creds(broker)))
    old.expect(m.CONNACK)
    old.publish("mix2/t", b"plain", qos=1)
    got = sub.messages(timeout=0.6, count=1)
    assert len(got) == 1 and got[0].payload == b"plain"
    assert all(pid in (m.P_SUBSCRIPTION_ID, m.P_TOPIC_ALIAS) for pid, _ in got[0].props), got[0]


def test_resent_message_expiry_counts_down(broker):
    """[MQTT-3.3.2-6] [MQTT-4.4.0-1]: a QoS 1 message with Message Expiry 30
    re-sent on session resumption 1.5 s later carries an interval below 30
    (and at least 1)."""
    c = connected(broker, "rexd", clean=False, properties=session(60))
    c.subscribe([("rexd/t", 1)])
    pub = connected(broker, "rexd-pub")
    pub.publish("rexd/t", b"x", qos=1, properties=[(m.P_MESSAGE_EXPIRY, 30)])
    first = c.messages(timeout=0.5, count=1, ack=False)
    assert len(first) == 1 and 28 <= first[0].prop(m.P_MESSAGE_EXPIRY) <= 30, first
    c.close()
    time.sleep(1.6)
    c = connected(broker, "rexd", clean=False, properties=session(60))
    again = c.messages(timeout=0.6, count=1)
    assert len(again) == 1 and again[0].dup, again
    assert 1 <= again[0].prop(m.P_MESSAGE_EXPIRY) <= 29, again[0]


def test_shared_subscription_identifier(broker):
    """[MQTT-3.3.4-3] 3.8.2.1.2 4.8.2: a message delivered through a shared
    subscription carries that member's Subscription Identifier."""
    a = connected(broker, "shid-a")
    b = connected(broker, "shid-b")
    a.subscribe([("$share/g/shid/t", 1)], properties=[(m.P_SUBSCRIPTION_ID, 11)])
    b.subscribe([("$share/g/shid/t", 1)], properties=[(m.P_SUBSCRIPTION_ID, 22)])
    pub = connected(broker, "shid-pub")
    for i in range(6):
        pub.publish("shid/t", str(i).encode(), qos=1)
    ga = a.messages(timeout=0.6)
    gb = b.messages(timeout=0.2)
    assert len(ga) + len(gb) == 6
    assert all(p.props_all(m.P_SUBSCRIPTION_ID) == [11] for p in ga), ga
    assert all(p.props_all(m.P_SUBSCRIPTION_ID) == [22] for p in gb), gb


def test_retained_keeps_properties(broker):
    """[MQTT-3.3.1-5] [MQTT-3.3.2-4] [MQTT-3.3.2-17] [MQTT-3.3.2-18] [MQTT-3.3.2-20]
    [MQTT-3.3.2-6]: a retained message is stored with its properties: a new
    subscriber gets its User Properties in order, Content Type, Payload
    Format, Response Topic and Correlation Data, and an Expiry lowered by the
    time it was stored; QoS is min(stored, granted)."""
    pub = connected(broker, "rkp-pub")
    ups = [(m.P_USER_PROPERTY, ("b", "1")), (m.P_USER_PROPERTY, ("a", "2"))]
    pub.publish("rkp/t", b"{}", qos=2, retain=True, properties=[
        (m.P_PAYLOAD_FORMAT, 1), (m.P_CONTENT_TYPE, "application/json"), (m.P_MESSAGE_EXPIRY, 60),
        (m.P_RESPONSE_TOPIC, "rkp/r"), (m.P_CORRELATION_DATA, b"c")] + ups)
    time.sleep(1.1)
    sub = connected(broker, "rkp-sub")
    sub.subscribe([("rkp/#", 1)])
    got = sub.messages(timeout=0.6)
    assert len(got) == 1, got
    p = got[0]
    assert p.retain and p.qos == 1 and p.payload == b"{}"
    assert p.props_all(m.P_USER_PROPERTY) == [v for _, v in ups]
    assert p.prop(m.P_CONTENT_TYPE) == "application/json" and p.prop(m.P_PAYLOAD_FORMAT) == 1
    assert p.prop(m.P_RESPONSE_TOPIC) == "rkp/r" and p.prop(m.P_CORRELATION_DATA) == b"c"
    assert 1 <= p.prop(m.P_MESSAGE_EXPIRY) <= 59, p


def test_will_delay_takeover_no_will(broker):
    """[MQTT-3.1.3-9] [MQTT-3.1.4-3]: a session taken over (Clean Start 0) by a
    new connection before the old connection's Will Delay (1 s) elapsed: the
    will is not published."""
    sub = connected(broker, "wdt-sub")
    sub.subscribe([("wdt/t", 0)])
    old = cli(broker)
    old.connect("wdt", clean=False, properties=session(30),
                will={"topic": "wdt/t", "payload": b"no", "props": [(m.P_WILL_DELAY, 1)]})
    connected(broker, "wdt", clean=False, properties=session(30))
    assert old.wait_closed(2)
    sub.expect_none(1.5)


# ---- topic matching table, UTF-8 validation, many publishers ----

def ref_match(flt, topic):
    """Reference matcher for 4.7 (written from the rules, not from a broker)."""
    if topic.startswith("$") and flt[:1] in ("+", "#"):
        return False
    fl, tl = flt.split("/"), topic.split("/")
    for i, f in enumerate(fl):
        if f == "#":
            return True
        if i >= len(tl):
            return False
        if f != "+" and f != tl[i]:
            return False
    return len(fl) == len(tl)


MATCH_FILTERS = ["#", "+", "+/+", "/+", "a/#", "a/+", "a/+/c", "a/b/c", "+/b/#", "a//c", "a/+/+/#",
                 "/#", "+/", "$SYS/#", "a/b/c/#", "+/+/+"]
MATCH_TOPICS = ["a", "a/b", "a/b/c", "a//c", "/a", "/", "a/", "a/b/c/d", "x/b/y", "b/a",
                "//", "a/b/c/d/e"]


def test_topic_matching_table(broker):
    """[MQTT-4.7.1-2] [MQTT-4.7.1-3] [MQTT-4.7.2-1] [MQTT-4.7.3-4] [MQTT-3.3.4-3]: 16
    filters (each with its own Subscription Identifier) against 12 topic
    names, empty levels included: every message carries exactly the ids of
    the filters that match it by the 4.7 rules, no topic is missed."""
    c = connected(broker, "match")
    filters = [f for f in MATCH_FILTERS if not (getattr(broker, "tenant", False) and f.startswith("$"))]
    for i, f in enumerate(filters, 1):
        assert c.subscribe([(f, 0)], properties=[(m.P_SUBSCRIPTION_ID, i)]).reasons == [0], f
    c.messages(timeout=0.3)  # retained things the broker keeps ($SYS, Loom's STATE)
    pub = connected(broker, "match-pub")
    for t in MATCH_TOPICS:
        pub.publish(t, t.encode())
    got = {}
    for p in c.messages(timeout=0.6):
        if not p.retain:
            got.setdefault(p.payload.decode(), set()).update(p.props_all(m.P_SUBSCRIPTION_ID))
    want = {}
    for t in MATCH_TOPICS:
        ids = {i for i, f in enumerate(filters, 1) if ref_match(f, t)}
        if ids:
            want[t] = ids
    assert got == want


@pytest.mark.parametrize("what", ["filter", "client-id", "username"])
def test_ill_formed_utf8_refused(broker, what):
    """[MQTT-1.5.4-1] [MQTT-3.1.3-4 (3.1.1: 3.1.3-4, 3.1.3-11)]: ill-formed UTF-8
    (a lone continuation byte 0x80) in a SUBSCRIBE filter, a ClientID or a
    User Name: the packet is malformed: the connection is closed (a CONNACK
    or DISCONNECT, if any, >= 0x80); never accepted."""
    bad = b"bad\x80"
    c = cli(broker)
    if what == "filter":
        c.connect("u8")
        c.send(m.subscribe(1, [(bad, 0)]))
    elif what == "client-id":
        c.send(m.connect(bad, level=L, **creds(broker)))
    else:
        c.send(m.connect("u8u", level=L, username=bad, password=creds(broker)["password"] or b"x"))
    assert c.wait_closed(2)
    for p in c.last:
        assert p.type in (m.CONNACK, m.DISCONNECT) and p.reason >= 0x80, p


def test_many_publishers_order_and_completeness(broker):
    """[MQTT-4.6.0-5] [MQTT-4.6.0-6] [MQTT-4.5.0-1]: three publishers each send 150
    QoS 1 messages back to back to one subscriber (Receive Maximum 20): all
    450 arrive, each publisher's in its order."""
    sub = connected(broker, "fanin-sub", properties=[(m.P_RECEIVE_MAXIMUM, 20)])
    sub.subscribe([("fanin/+", 1)])
    pubs = [connected(broker, f"fanin-{k}") for k in range(3)]
    for k, p in enumerate(pubs):
        p.send(b"".join(m.publish(f"fanin/{k}", str(i).encode(), qos=1, pid=i + 1) for i in range(150)))
    for p in pubs:
        p.expect_acks(m.PUBACK, range(1, 151))
    got = sub.messages(timeout=1, count=450)
    seqs = {k: [int(q.payload) for q in got if q.topic == f"fanin/{k}"] for k in range(3)}
    assert all(seqs[k] == list(range(150)) for k in range(3)), {k: len(v) for k, v in seqs.items()}


# ---- properties in the wrong packet (2.2.2.2: a property is allowed only
# in the packets its table row lists; anything else is malformed) ----

@pytest.mark.parametrize("where", ["publish-session-expiry", "publish-receive-max", "subscribe-expiry",
                                   "will-topic-alias", "connect-topic-alias", "unsubscribe-sub-id"])
def test_property_not_allowed_in_packet(broker, where):
    """2.2.2.2 [MQTT-4.13.1-1]: a property not allowed in the packet (Session
    Expiry or Receive Maximum in PUBLISH, Message Expiry in SUBSCRIBE, Topic
    Alias in Will Properties or CONNECT, Subscription Identifier in
    UNSUBSCRIBE) is a Malformed Packet: the connection is closed (a
    CONNACK/DISCONNECT, if any, >= 0x80)."""
    sub = connected(broker, "pna-sub")
    sub.subscribe([("pna/t", 0)])
    c = cli(broker)
    if where == "will-topic-alias":
        c.send(m.connect("pna", level=L, will={"topic": "pna/t", "payload": b"w",
                                                "props": [(m.P_TOPIC_ALIAS, 1)]}, **creds(broker)))
    elif where == "connect-topic-alias":
        c.send(m.connect("pna", level=L, properties=[(m.P_TOPIC_ALIAS, 1)], **creds(broker)))
    else:
        c.connect("pna")
        if where == "publish-session-expiry":
            c.send(m.publish("pna/t", b"x", properties=session(5)))
        elif where == "publish-receive-max":
            c.send(m.publish("pna/t", b"x", properties=[(m.P_RECEIVE_MAXIMUM, 5)]))
        elif where == "subscribe-expiry":
            c.send(m.subscribe(1, [("pna/u", 0)], properties=[(m.P_MESSAGE_EXPIRY, 5)]))
        else:
            c.send(m.unsubscribe(1, ["pna/u"], properties=[(m.P_SUBSCRIPTION_ID, 5)]))
    assert c.wait_closed(2)
    for p in c.last:
        assert p.type in (m.CONNACK, m.DISCONNECT) and p.reason >= 0x80, p
    c.close()
    sub.expect_none(0.3)


def test_no_local_is_per_subscription(broker):
    """[MQTT-3.8.3-3] [MQTT-3.3.4-3]: No Local belongs to one subscription: a
    client's own message matching its No Local subscription (id 1) and its
    plain one (id 2) comes back through the plain one only (carrying id 2,
    never id 1)."""
    c = connected(broker, "nlps")
    c.subscribe([("nlps/#", m.sub_opts(qos=1, no_local=True))], properties=[(m.P_SUBSCRIPTION_ID, 1)])
    c.subscribe([("nlps/t", 1)], properties=[(m.P_SUBSCRIPTION_ID, 2)])
    c.publish("nlps/t", b"mine", qos=1)
    got = c.messages(timeout=0.5)
    assert [p.payload for p in got] == [b"mine"], got
    assert got[0].props_all(m.P_SUBSCRIPTION_ID) == [2], got


def test_shared_and_plain_subscription_same_client(broker):
    """4.8.2 [MQTT-3.3.4-2]: a client with both '$share/g/t' and 't' gets the
    message through each: one copy per subscription (the shared one has only
    this member), identified by their Subscription Identifiers."""
    c = connected(broker, "shpl")
    c.subscribe([("$share/g/shpl/t", 1)], properties=[(m.P_SUBSCRIPTION_ID, 5)])
    c.subscribe([("shpl/t", 1)], properties=[(m.P_SUBSCRIPTION_ID, 6)])
    pub = connected(broker, "shpl-pub")
    pub.publish("shpl/t", b"x", qos=1)
    got = c.messages(timeout=0.5)
    ids = sorted(i for p in got for i in p.props_all(m.P_SUBSCRIPTION_ID))
    assert ids == [5, 6], got
