/* SPDX-License-Identifier: Apache-2.0
 * Tests for mqtt/session: QoS 1 and 2 outbound flows, resend with DUP after
 * a reconnect, inbound QoS 2 duplicates, Receive Maximum both ways, queue
 * bounds and overflow policy, message expiry, topic aliases both ways,
 * packet id wrap-around, session expiry, shared message references, and
 * the encoded PUBLISH bytes (decoded back with mqtt/codec).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/err.h"
#include "core/mem.h"
#include "mqtt/codec.h"
#include "mqtt/session.h"

static mqtt_session_cfg default_cfg(void) {
  mqtt_session_cfg c;
  memset(&c, 0, sizeof(c));
  c.recv_max_in = 4;
  c.alias_max_in = 3;
  c.alias_out_cap = 8;
  c.max_queued = 100;
  c.max_queued_bytes = 1u << 20;
  c.queue_qos0_offline = true;
  return c;
}

static mqtt_session *new_session(const mqtt_session_cfg *c) {
  mqtt_session *s = NULL;
  assert_int_equal(mqtt_session_new(c, &s), 0);
  return s;
}

static mqtt_msg *msg(const char *topic, const char *payload, uint8_t qos) {
  mqtt_msg *m = NULL;
  assert_int_equal(mqtt_msg_new(topic, strlen(topic), payload, strlen(payload), NULL, 0, qos,
                                false, false, 0, 0, &m),
                   0);
  return m;
}

/* Enqueue a fresh message and drop the caller's reference. */
static int put(mqtt_session *s, const char *topic, uint8_t qos, uint64_t now) {
  mqtt_msg *m = msg(topic, "payload", qos);
  int rc = mqtt_session_enqueue(s, m, 2, now);
  mqtt_msg_unref(m);
  return rc;
}

/* mqtt_session_next, dropping the message reference; returns rc. */
static int next(mqtt_session *s, uint64_t now, mqtt_session_out *o) {
  int rc = mqtt_session_next(s, now, o);
  if (rc == 0) {
    mqtt_msg_unref(o->msg);
    o->msg = NULL;
  }
  return rc;
}

static void test_qos1_flow(void **st) {
  (void)st;
  mqtt_session_cfg c = default_cfg();
  mqtt_session *s = new_session(&c);
  mqtt_session_out o;
  assert_int_equal(put(s, "a/b", 1, 0), 0);
  assert_int_equal(mqtt_session_next(s, 0, &o), LOOM_ECLOSED);
  assert_int_equal(mqtt_session_connect(s, MQTT_LEVEL_311, 0, 0, 0), 0);
  assert_int_equal(next(s, 0, &o), 0);
  assert_int_equal(o.type, MQTT_PUBLISH);
  assert_int_equal(o.qos, 1);
  assert_int_not_equal(o.packet_id, 0);
  assert_false(o.dup);
  assert_int_equal(mqtt_session_inflight_out(s), 1);
  assert_int_equal(mqtt_session_queued(s), 0);
  assert_int_equal(next(s, 0, &o), LOOM_EAGAIN);
  assert_int_equal(mqtt_session_on_puback(s, (uint16_t)(o.packet_id + 1)), LOOM_ENOTFOUND);
  assert_int_equal(mqtt_session_on_puback(s, o.packet_id), 0);
  assert_int_equal(mqtt_session_inflight_out(s), 0);
  assert_int_equal(mqtt_session_on_puback(s, o.packet_id), LOOM_ENOTFOUND);
  mqtt_session_free(s);
}

static void test_qos2_flow(void **st) {
  (void)st;
  mqtt_session_cfg c = default_cfg();
  mqtt_session *s = new_session(&c);
  mqtt_session_out o;
  assert_int_equal(mqtt_session_connect(s, MQTT_LEVEL_5, 0, 0, 0), 0);
  assert_int_equal(put(s, "a", 2, 0), 0);
  assert_int_equal(next(s, 0, &o), 0);
  uint16_t pid = o.packet_id;
  assert_int_equal(o.qos, 2);
  /* PUBCOMP before PUBREC is not a valid transition. */
  assert_int_equal(mqtt_session_on_pubcomp(s, pid), LOOM_ENOTFOUND);
  assert_int_equal(mqtt_session_on_puback(s, pid), LOOM_ENOTFOUND);
  assert_int_equal(mqtt_session_on_pubrec(s, pid, 0), 0);
  assert_int_equal(next(s, 0, &o), 0);
  assert_int_equal(o.type, MQTT_PUBREL);
  assert_int_equal(o.packet_id, pid);
  assert_null(o.msg);
  assert_int_equal(next(s, 0, &o), LOOM_EAGAIN);
  assert_int_equal(mqtt_session_inflight_out(s), 1);
  assert_int_equal(mqtt_session_on_pubcomp(s, pid), 0);
  assert_int_equal(mqtt_session_inflight_out(s), 0);
  mqtt_session_free(s);
}

static void test_qos2_pubrec_error_ends_flow(void **st) {
  (void)st;
  mqtt_session_cfg c = default_cfg();
  mqtt_session *s = new_session(&c);
  mqtt_session_out o;
  assert_int_equal(mqtt_session_connect(s, MQTT_LEVEL_5, 0, 0, 0), 0);
  assert_int_equal(put(s, "a", 2, 0), 0);
  assert_int_equal(next(s, 0, &o), 0);
  assert_int_equal(mqtt_session_on_pubrec(s, o.packet_id, MQTT_RC_QUOTA_EXCEEDED), 0);
  assert_int_equal(mqtt_session_inflight_out(s), 0);
  assert_int_equal(next(s, 0, &o), LOOM_EAGAIN);
  mqtt_session_free(s);
}

static void test_granted_qos_downgrades(void **st) {
  (void)st;
  mqtt_session_cfg c = default_cfg();
  mqtt_session *s = new_session(&c);
  mqtt_session_out o;
  mqtt_msg *m = msg("t", "x", 2);
  assert_int_equal(mqtt_session_enqueue(s, m, 0, 0), 0);
  mqtt_msg_unref(m);
  assert_int_equal(mqtt_session_connect(s, MQTT_LEVEL_311, 0, 0, 0), 0);
  assert_int_equal(next(s, 0, &o), 0);
  assert_int_equal(o.qos, 0);
  assert_int_equal(o.packet_id, 0);
  assert_int_equal(mqtt_session_inflight_out(s), 0);
  mqtt_session_free(s);
}

static void test_resend_after_reconnect(void **st) {
  (void)st;
  mqtt_session_cfg c = default_cfg();
  mqtt_session *s = new_session(&c);
  mqtt_session_out o;
  assert_int_equal(mqtt_session_connect(s, MQTT_LEVEL_5, 0, 0, 3600), 0);
  assert_int_equal(put(s, "q1", 1, 0), 0);
  assert_int_equal(put(s, "q2", 2, 0), 0);
  assert_int_equal(put(s, "q2b", 2, 0), 0);
  assert_int_equal(next(s, 0, &o), 0);
  uint16_t p1 = o.packet_id;
  assert_int_equal(next(s, 0, &o), 0);
  uint16_t p2 = o.packet_id;
  assert_int_equal(next(s, 0, &o), 0);
  uint16_t p3 = o.packet_id;
  assert_int_equal(mqtt_session_on_pubrec(s, p3, 0), 0);
  assert_int_equal(next(s, 0, &o), 0); /* PUBREL p3, then the link drops */
  assert_int_equal(o.type, MQTT_PUBREL);
  /* No time-based retry while connected. */
  assert_int_equal(next(s, 1000000, &o), LOOM_EAGAIN);
  mqtt_session_disconnect(s, 3600, 10);
  assert_int_equal(put(s, "new", 1, 20), 0);
  assert_int_equal(mqtt_session_connect(s, MQTT_LEVEL_5, 0, 0, 3600), 0);
  mqtt_session_out r;
  assert_int_equal(mqtt_session_next(s, 30, &r), 0);
  assert_int_equal(r.type, MQTT_PUBLISH);
  assert_int_equal(r.packet_id, p1);
  assert_true(r.dup);
  assert_string_equal(r.msg->topic, "q1");
  mqtt_msg_unref(r.msg);
  assert_int_equal(next(s, 30, &r), 0);
  assert_int_equal(r.packet_id, p2);
  assert_true(r.dup);
  assert_int_equal(r.qos, 2);
  assert_int_equal(next(s, 30, &r), 0);
  assert_int_equal(r.type, MQTT_PUBREL);
  assert_int_equal(r.packet_id, p3);
  assert_false(r.dup);
  assert_int_equal(next(s, 30, &r), 0);
  assert_int_equal(r.type, MQTT_PUBLISH);
  assert_false(r.dup);
  assert_int_not_equal(r.packet_id, p1);
  assert_int_not_equal(r.packet_id, p2);
  assert_int_not_equal(r.packet_id, p3);
  assert_int_equal(next(s, 30, &r), LOOM_EAGAIN);
  mqtt_session_free(s);
}

static void test_inbound_qos2_duplicate(void **st) {
  (void)st;
  mqtt_session_cfg c = default_cfg();
  mqtt_session *s = new_session(&c);
  bool deliver = false;
  assert_int_equal(mqtt_session_in_publish(s, 2, 7, &deliver, NULL), 0);
  assert_true(deliver);
  assert_int_equal(mqtt_session_in_publish(s, 2, 7, &deliver, NULL), 0);
  assert_false(deliver);
  assert_int_equal(mqtt_session_inflight_in(s), 1);
  /* The id survives a reconnect until PUBREL [MQTT-4.3.3-10]. */
  mqtt_session_disconnect(s, 60, 0);
  assert_int_equal(mqtt_session_connect(s, MQTT_LEVEL_5, 0, 0, 60), 0);
  assert_int_equal(mqtt_session_in_publish(s, 2, 7, &deliver, NULL), 0);
  assert_false(deliver);
  assert_int_equal(mqtt_session_in_pubrel(s, 7), 0);
  assert_int_equal(mqtt_session_in_pubrel(s, 7), LOOM_ENOTFOUND);
  assert_int_equal(mqtt_session_in_publish(s, 2, 7, &deliver, NULL), 0);
  assert_true(deliver);
  mqtt_session_free(s);
}

static void test_inbound_bad_publish(void **st) {
  (void)st;
  mqtt_session_cfg c = default_cfg();
  mqtt_session *s = new_session(&c);
  bool deliver;
  mqtt_err e = {0};
  assert_int_equal(mqtt_session_in_publish(s, 1, 0, &deliver, &e), LOOM_EINVAL);
  assert_int_equal(e.reason, MQTT_RC_PROTOCOL_ERROR);
  assert_int_equal(mqtt_session_in_publish(s, 0, 3, &deliver, &e), LOOM_EINVAL);
  mqtt_session_free(s);
}

static void test_inbound_receive_maximum(void **st) {
  (void)st;
  mqtt_session_cfg c = default_cfg();
  c.recv_max_in = 2;
  mqtt_session *s = new_session(&c);
  bool deliver;
  mqtt_err e = {0};
  assert_int_equal(mqtt_session_in_publish(s, 1, 1, &deliver, &e), 0);
  assert_int_equal(mqtt_session_in_publish(s, 2, 2, &deliver, &e), 0);
  /* A resend of an id already counted is not a new one. */
  assert_int_equal(mqtt_session_in_publish(s, 1, 1, &deliver, &e), 0);
  assert_true(deliver);
  assert_int_equal(mqtt_session_in_publish(s, 1, 3, &deliver, &e), LOOM_ERANGE);
  assert_int_equal(e.reason, MQTT_RC_RECEIVE_MAX_EXCEEDED);
  assert_int_equal(mqtt_session_in_puback_sent(s, 1), 0);
  assert_int_equal(mqtt_session_in_puback_sent(s, 2), LOOM_ENOTFOUND); /* QoS 2 id */
  assert_int_equal(mqtt_session_in_publish(s, 1, 3, &deliver, &e), 0);
  mqtt_session_free(s);
}

static void test_inbound_qos1_ids_end_with_connection(void **st) {
  (void)st;
  mqtt_session_cfg c = default_cfg();
  c.recv_max_in = 2;
  mqtt_session *s = new_session(&c);
  bool deliver;
  assert_int_equal(mqtt_session_in_publish(s, 1, 1, &deliver, NULL), 0);
  assert_int_equal(mqtt_session_in_publish(s, 2, 2, &deliver, NULL), 0);
  assert_int_equal(mqtt_session_inflight_in(s), 2);
  mqtt_session_disconnect(s, 60, 0);
  assert_int_equal(mqtt_session_connect(s, MQTT_LEVEL_5, 0, 0, 60), 0);
  assert_int_equal(mqtt_session_inflight_in(s), 1);
  assert_int_equal(mqtt_session_in_puback_sent(s, 1), LOOM_ENOTFOUND);
  assert_int_equal(mqtt_session_in_publish(s, 1, 3, &deliver, NULL), 0);
  mqtt_session_free(s);
}

static void test_outbound_receive_maximum(void **st) {
  (void)st;
  mqtt_session_cfg c = default_cfg();
  mqtt_session *s = new_session(&c);
  mqtt_session_out o;
  assert_int_equal(mqtt_session_connect(s, MQTT_LEVEL_5, 2, 0, 0), 0);
  for (int i = 0; i < 4; i++) assert_int_equal(put(s, "x", 1, 0), 0);
  assert_int_equal(put(s, "zero", 0, 0), 0);
  assert_int_equal(next(s, 0, &o), 0);
  uint16_t first = o.packet_id;
  assert_int_equal(next(s, 0, &o), 0);
  /* Two unacknowledged: QoS 1 waits, the QoS 0 message may pass. */
  assert_int_equal(next(s, 0, &o), 0);
  assert_int_equal(o.qos, 0);
  assert_int_equal(next(s, 0, &o), LOOM_EAGAIN);
  assert_int_equal(mqtt_session_queued(s), 2);
  assert_int_equal(mqtt_session_on_puback(s, first), 0);
  assert_int_equal(next(s, 0, &o), 0);
  assert_int_equal(o.qos, 1);
  assert_int_equal(next(s, 0, &o), LOOM_EAGAIN);
  assert_int_equal(mqtt_session_inflight_out(s), 2);
  mqtt_session_free(s);
}

static void test_queue_overflow_drops_qos0_first(void **st) {
  (void)st;
  mqtt_session_cfg c = default_cfg();
  c.max_queued = 3;
  mqtt_session *s = new_session(&c);
  assert_int_equal(put(s, "z1", 0, 0), 0);
  assert_int_equal(put(s, "a", 1, 0), 0);
  assert_int_equal(put(s, "z2", 0, 0), 0);
  assert_int_equal(put(s, "b", 1, 0), 0); /* evicts z1 */
  assert_int_equal(put(s, "c", 2, 0), 0); /* evicts z2 */
  assert_int_equal(mqtt_session_stats_get(s)->dropped_qos0, 2);
  assert_int_equal(put(s, "d", 1, 0), LOOM_ERANGE);
  assert_int_equal(mqtt_session_stats_get(s)->dropped_full, 1);
  assert_int_equal(mqtt_session_stats_get(s)->last_drop_reason, MQTT_RC_QUOTA_EXCEEDED);
  assert_int_equal(put(s, "z3", 0, 0), 0); /* dropped, no room */
  assert_int_equal(mqtt_session_stats_get(s)->dropped_qos0, 3);
  assert_int_equal(mqtt_session_queued(s), 3);
  mqtt_session_out o;
  assert_int_equal(mqtt_session_connect(s, MQTT_LEVEL_311, 0, 0, 0), 0);
  const char *want[] = {"a", "b", "c"};
  for (int i = 0; i < 3; i++) {
    assert_int_equal(mqtt_session_next(s, 0, &o), 0);
    assert_string_equal(o.msg->topic, want[i]);
    mqtt_msg_unref(o.msg);
  }
  mqtt_session_free(s);
}

static void test_qos0_offline_discarded_by_default(void **st) {
  (void)st;
  mqtt_session_cfg c = default_cfg();
  c.queue_qos0_offline = false;
  mqtt_session *s = new_session(&c);
  assert_int_equal(put(s, "zero", 0, 0), 0);
  assert_int_equal(put(s, "one", 1, 0), 0);
  assert_int_equal(mqtt_session_queued(s), 1);
  assert_int_equal(mqtt_session_connect(s, MQTT_LEVEL_311, 0, 0, 0), 0);
  assert_int_equal(put(s, "zero", 0, 0), 0);
  assert_int_equal(mqtt_session_queued(s), 2);
  mqtt_session_free(s);
}

static void test_queue_byte_limit(void **st) {
  (void)st;
  mqtt_session_cfg c = default_cfg();
  c.max_queued = 0;
  c.max_queued_bytes = 20; /* each message: 1 topic + 7 payload bytes */
  mqtt_session *s = new_session(&c);
  assert_int_equal(put(s, "a", 1, 0), 0);
  assert_int_equal(put(s, "b", 1, 0), 0);
  assert_int_equal(mqtt_session_queued_bytes(s), 16);
  assert_int_equal(put(s, "c", 1, 0), LOOM_ERANGE);
  assert_int_equal(mqtt_session_queued(s), 2);
  mqtt_session_free(s);
}

static void test_message_expiry(void **st) {
  (void)st;
  mqtt_session_cfg c = default_cfg();
  mqtt_session *s = new_session(&c);
  mqtt_msg *m = NULL;
  assert_int_equal(mqtt_msg_new("e", 1, "p", 1, NULL, 0, 1, false, true, 10, 1000, &m), 0);
  assert_int_equal(mqtt_session_enqueue(s, m, 1, 1000), 0);
  assert_int_equal(mqtt_session_enqueue(s, m, 1, 1000), 0);
  assert_int_equal(mqtt_session_enqueue(s, m, 1, 11000), 0); /* already expired */
  assert_int_equal(mqtt_session_stats_get(s)->dropped_expired, 1);
  assert_int_equal(mqtt_session_queued(s), 2);
  assert_int_equal(mqtt_session_connect(s, MQTT_LEVEL_5, 0, 0, 0), 0);
  mqtt_session_out o;
  assert_int_equal(next(s, 4500, &o), 0);
  assert_true(o.has_expiry);
  assert_int_equal(o.expiry_s, 7); /* 6.5 s left, rounded up */
  assert_int_equal(next(s, 11000, &o), LOOM_EAGAIN);
  assert_int_equal(mqtt_session_stats_get(s)->dropped_expired, 2);
  assert_int_equal(mqtt_session_queued(s), 0);
  mqtt_msg_unref(m);
  mqtt_session_free(s);
}

static void test_expired_inflight_still_resent(void **st) {
  (void)st;
  mqtt_session_cfg c = default_cfg();
  mqtt_session *s = new_session(&c);
  mqtt_msg *m = NULL;
  assert_int_equal(mqtt_msg_new("e", 1, "p", 1, NULL, 0, 1, false, true, 2, 0, &m), 0);
  assert_int_equal(mqtt_session_enqueue(s, m, 1, 0), 0);
  mqtt_msg_unref(m);
  assert_int_equal(mqtt_session_connect(s, MQTT_LEVEL_5, 0, 0, 60), 0);
  mqtt_session_out o;
  assert_int_equal(next(s, 0, &o), 0);
  mqtt_session_disconnect(s, 60, 100);
  assert_int_equal(mqtt_session_connect(s, MQTT_LEVEL_5, 0, 0, 60), 0);
  /* Onward delivery had started: the copy is resent after its expiry. */
  assert_int_equal(next(s, 5000, &o), 0);
  assert_true(o.dup);
  assert_true(o.has_expiry);
  assert_int_equal(o.expiry_s, 1);
  mqtt_session_free(s);
}

static void test_inbound_aliases(void **st) {
  (void)st;
  mqtt_session_cfg c = default_cfg();
  mqtt_session *s = new_session(&c);
  const char *t;
  size_t n;
  mqtt_err e = {0};
  assert_int_equal(mqtt_session_in_alias(s, "plant/a", 7, true, 2, &t, &n, &e), 0);
  assert_int_equal(mqtt_session_in_alias(s, "", 0, true, 2, &t, &n, &e), 0);
  assert_int_equal(n, 7);
  assert_memory_equal(t, "plant/a", 7);
  assert_int_equal(mqtt_session_in_alias(s, "plant/b", 7, true, 2, &t, &n, &e), 0);
  assert_int_equal(mqtt_session_in_alias(s, "", 0, true, 2, &t, &n, &e), 0);
  assert_memory_equal(t, "plant/b", 7);
  assert_int_equal(mqtt_session_in_alias(s, "x", 1, true, 4, &t, &n, &e), LOOM_ERANGE);
  assert_int_equal(e.reason, MQTT_RC_TOPIC_ALIAS_INVALID);
  assert_int_equal(mqtt_session_in_alias(s, "x", 1, true, 0, &t, &n, &e), LOOM_ERANGE);
  assert_int_equal(e.reason, MQTT_RC_TOPIC_ALIAS_INVALID);
  assert_int_equal(mqtt_session_in_alias(s, "", 0, true, 1, &t, &n, &e), LOOM_EINVAL);
  assert_int_equal(e.reason, MQTT_RC_PROTOCOL_ERROR);
  assert_int_equal(mqtt_session_in_alias(s, "", 0, false, 0, &t, &n, &e), LOOM_EINVAL);
  /* Aliases die with the connection. */
  assert_int_equal(mqtt_session_connect(s, MQTT_LEVEL_5, 0, 0, 0), 0);
  assert_int_equal(mqtt_session_in_alias(s, "", 0, true, 2, &t, &n, &e), LOOM_EINVAL);
  mqtt_session_free(s);
}

static void test_inbound_alias_disabled(void **st) {
  (void)st;
  mqtt_session_cfg c = default_cfg();
  c.alias_max_in = 0;
  mqtt_session *s = new_session(&c);
  const char *t;
  size_t n;
  mqtt_err e = {0};
  assert_int_equal(mqtt_session_in_alias(s, "a", 1, true, 1, &t, &n, &e), LOOM_ERANGE);
  assert_int_equal(e.reason, MQTT_RC_TOPIC_ALIAS_INVALID);
  assert_int_equal(mqtt_session_in_alias(s, "a", 1, false, 0, &t, &n, &e), 0);
  mqtt_session_free(s);
}

static void test_outbound_aliases_lru(void **st) {
  (void)st;
  mqtt_session_cfg c = default_cfg();
  mqtt_session *s = new_session(&c);
  mqtt_session_out o;
  assert_int_equal(mqtt_session_connect(s, MQTT_LEVEL_5, 0, 2, 0), 0);
  /* A topic missed while the table is full gets an alias on its second
   * miss, replacing the least recently used one. */
  const char *seq[] = {"A", "B", "A", "C", "C", "A", "B", "B", "C"};
  uint16_t alias[9];
  bool omit[9];
  for (int i = 0; i < 9; i++) {
    assert_int_equal(put(s, seq[i], 0, 0), 0);
    assert_int_equal(next(s, 0, &o), 0);
    alias[i] = o.topic_alias;
    omit[i] = o.omit_topic;
  }
  assert_true(alias[0] >= 1 && alias[0] <= 2);
  assert_false(omit[0]);
  assert_true(alias[1] >= 1 && alias[1] <= 2);
  assert_int_not_equal(alias[1], alias[0]);
  assert_false(omit[1]);
  assert_int_equal(alias[2], alias[0]);
  assert_true(omit[2]);
  assert_int_equal(alias[3], 0); /* first miss: no alias */
  assert_int_equal(alias[4], alias[1]); /* second miss: B was LRU */
  assert_false(omit[4]);
  assert_int_equal(alias[5], alias[0]);
  assert_true(omit[5]);
  assert_int_equal(alias[6], 0);
  assert_int_equal(alias[7], alias[4]); /* C is now LRU */
  assert_false(omit[7]);
  assert_int_equal(alias[8], 0);
  /* Level 3.1.1 has no aliases. */
  assert_int_equal(mqtt_session_connect(s, MQTT_LEVEL_311, 0, 2, 0), 0);
  assert_int_equal(put(s, "A", 0, 0), 0);
  assert_int_equal(next(s, 0, &o), 0);
  assert_int_equal(o.topic_alias, 0);
  mqtt_session_free(s);
}

static void test_packet_id_wraps_and_skips_in_use(void **st) {
  (void)st;
  mqtt_session_cfg c = default_cfg();
  mqtt_session *s = new_session(&c);
  mqtt_session_out o;
  assert_int_equal(mqtt_session_connect(s, MQTT_LEVEL_311, 0, 0, 0), 0);
  assert_int_equal(put(s, "held", 1, 0), 0);
  assert_int_equal(next(s, 0, &o), 0);
  uint16_t held = o.packet_id; /* stays in flight */
  assert_int_equal(held, 1);
  uint16_t last = held;
  for (int i = 0; i < 65536; i++) {
    assert_int_equal(put(s, "t", 1, 0), 0);
    assert_int_equal(next(s, 0, &o), 0);
    assert_int_not_equal(o.packet_id, 0);
    assert_int_not_equal(o.packet_id, held);
    if (last != 65535) assert_int_equal(o.packet_id, last == held - 1 ? held + 1 : last + 1);
    last = o.packet_id;
    assert_int_equal(mqtt_session_on_puback(s, o.packet_id), 0);
  }
  mqtt_session_free(s);
}

static void test_session_expiry(void **st) {
  (void)st;
  mqtt_session_cfg c = default_cfg();
  mqtt_session *s = new_session(&c);
  assert_int_equal(mqtt_session_connect(s, MQTT_LEVEL_5, 0, 0, 30), 0);
  assert_int_equal(mqtt_session_expires_at(s), UINT64_MAX);
  assert_false(mqtt_session_expired(s, 1u << 30));
  mqtt_session_disconnect(s, 30, 1000);
  assert_int_equal(mqtt_session_expires_at(s), 31000);
  assert_false(mqtt_session_expired(s, 30999));
  assert_true(mqtt_session_expired(s, 31000));
  mqtt_session_disconnect(s, 0xFFFFFFFFu, 1000);
  assert_false(mqtt_session_expired(s, UINT64_MAX - 1));
  mqtt_session_free(s);
}

static void test_message_shared_between_sessions(void **st) {
  (void)st;
  mqtt_session_cfg c = default_cfg();
  mqtt_session *a = new_session(&c), *b = new_session(&c);
  mqtt_msg *m = msg("fan/out", "one copy", 1);
  assert_int_equal(mqtt_session_enqueue(a, m, 1, 0), 0);
  assert_int_equal(mqtt_session_enqueue(b, m, 1, 0), 0);
  assert_int_equal(m->refs, 3);
  assert_int_equal(mqtt_session_connect(a, MQTT_LEVEL_311, 0, 0, 0), 0);
  mqtt_session_out o;
  assert_int_equal(mqtt_session_next(a, 0, &o), 0);
  assert_ptr_equal(o.msg, m);
  assert_int_equal(m->refs, 4); /* a's flight + out + b's queue + ours */
  mqtt_msg_unref(o.msg);
  mqtt_session_free(a);
  assert_int_equal(m->refs, 2);
  mqtt_session_free(b);
  assert_int_equal(m->refs, 1);
  mqtt_msg_unref(m);
}

static void test_encode_publish_v5(void **st) {
  (void)st;
  mqtt_session_cfg c = default_cfg();
  mqtt_session *s = new_session(&c);
  loom_buf up;
  loom_buf_init(&up);
  assert_int_equal(mqtt_prop_append_bytes(&up, MQTT_P_CONTENT_TYPE, "text/plain", 10), 0);
  mqtt_msg *m = NULL;
  assert_int_equal(mqtt_msg_new("s/t", 3, "hi", 2, up.data, up.len, 1, true, true, 60, 0, &m),
                   0);
  loom_buf_deinit(&up);
  assert_int_equal(mqtt_session_enqueue(s, m, 2, 0), 0);
  assert_int_equal(mqtt_session_enqueue(s, m, 2, 0), 0);
  mqtt_msg_unref(m);
  assert_int_equal(mqtt_session_connect(s, MQTT_LEVEL_5, 0, 5, 0), 0);
  for (int round = 0; round < 2; round++) {
    mqtt_session_out o;
    assert_int_equal(mqtt_session_next(s, 1500, &o), 0);
    loom_buf b;
    loom_buf_init(&b);
    assert_int_equal(mqtt_session_out_encode(s, &o, &b), 0);
    mqtt_packet pk;
    assert_int_equal(mqtt_decode(b.data, b.len, MQTT_LEVEL_5, &pk, NULL), 0);
    assert_int_equal(pk.type, MQTT_PUBLISH);
    assert_int_equal(pk.qos, 1);
    assert_true(pk.retain);
    assert_int_equal(pk.packet_id, o.packet_id);
    assert_int_equal(pk.topic.len, round == 0 ? 3 : 0);
    assert_memory_equal(pk.payload.p, "hi", 2);
    mqtt_prop p;
    assert_int_equal(mqtt_props_find(pk.props.p, pk.props.len, MQTT_P_MESSAGE_EXPIRY, &p), 0);
    assert_int_equal(p.num, 59); /* 58.5 s left */
    assert_int_equal(mqtt_props_find(pk.props.p, pk.props.len, MQTT_P_TOPIC_ALIAS, &p), 0);
    assert_int_equal(p.num, o.topic_alias);
    assert_int_equal(mqtt_props_find(pk.props.p, pk.props.len, MQTT_P_CONTENT_TYPE, &p), 0);
    loom_buf_deinit(&b);
    mqtt_msg_unref(o.msg);
  }
  mqtt_session_free(s);
}

static void test_pubrec_repeated_resends_pubrel(void **st) {
  (void)st;
  mqtt_session_cfg c = default_cfg();
  mqtt_session *s = new_session(&c);
  mqtt_session_out o;
  assert_int_equal(mqtt_session_connect(s, MQTT_LEVEL_311, 0, 0, 0), 0);
  assert_int_equal(put(s, "a", 2, 0), 0);
  assert_int_equal(next(s, 0, &o), 0);
  uint16_t pid = o.packet_id;
  assert_int_equal(mqtt_session_on_pubrec(s, pid, 0), 0);
  assert_int_equal(next(s, 0, &o), 0);
  assert_int_equal(o.type, MQTT_PUBREL);
  assert_int_equal(next(s, 0, &o), LOOM_EAGAIN);
  assert_int_equal(mqtt_session_on_pubrec(s, pid, 0), 0);
  assert_int_equal(next(s, 0, &o), 0);
  assert_int_equal(o.type, MQTT_PUBREL);
  assert_int_equal(o.packet_id, pid);
  loom_buf b;
  loom_buf_init(&b);
  assert_int_equal(mqtt_session_out_encode(s, &o, &b), 0);
  const uint8_t want[] = {0x62, 0x02, (uint8_t)(pid >> 8), (uint8_t)pid};
  assert_int_equal(b.len, sizeof(want));
  assert_memory_equal(b.data, want, sizeof(want));
  loom_buf_deinit(&b);
  mqtt_session_free(s);
}

static void test_encode_dup_resend_v311(void **st) {
  (void)st;
  mqtt_session_cfg c = default_cfg();
  mqtt_session *s = new_session(&c);
  mqtt_session_out o;
  assert_int_equal(mqtt_session_connect(s, MQTT_LEVEL_311, 0, 0, 0), 0);
  assert_int_equal(put(s, "a", 1, 0), 0);
  assert_int_equal(next(s, 0, &o), 0);
  mqtt_session_disconnect(s, 0, 0);
  assert_int_equal(mqtt_session_connect(s, MQTT_LEVEL_311, 0, 0, 0), 0);
  assert_int_equal(mqtt_session_next(s, 0, &o), 0);
  loom_buf b;
  loom_buf_init(&b);
  assert_int_equal(mqtt_session_out_encode(s, &o, &b), 0);
  /* 0x3A = PUBLISH | DUP | QoS 1; then topic "a", packet id, payload. */
  const uint8_t want[] = {0x3A, 12, 0, 1, 'a', 0, 1, 'p', 'a', 'y', 'l', 'o', 'a', 'd'};
  assert_int_equal(b.len, sizeof(want));
  assert_memory_equal(b.data, want, sizeof(want));
  loom_buf_deinit(&b);
  mqtt_msg_unref(o.msg);
  mqtt_session_free(s);
}

/* Random operations against a model of the client: packet ids unique and
 * non-zero, Receive Maximum respected, PUBREL only after PUBREC, DUP only
 * on resends, every QoS 1/2 message delivered once acknowledged. */
static void test_random_against_model(void **st) {
  (void)st;
  mqtt_session_cfg c = default_cfg();
  c.max_queued = 0;
  c.max_queued_bytes = 0;
  mqtt_session *s = new_session(&c);
  uint8_t state[65536]; /* 0 free, 1 wait PUBACK, 2 wait PUBREC, 3 wait PUBCOMP */
  memset(state, 0, sizeof(state));
  uint16_t live[64];
  uint32_t n_live = 0, put_q = 0, done_q = 0;
  const uint16_t rmax = 5;
  bool connected = false;
  unsigned seed = 12345;
  for (int step = 0; step < 20000; step++) {
    seed = seed * 1103515245u + 12345u;
    unsigned r = (seed >> 16) % 100;
    if (r < 30) {
      uint8_t q = (uint8_t)((seed >> 8) % 3);
      assert_int_equal(put(s, "r", q, 0), 0);
      if (q) put_q++;
    } else if (r < 70 && connected) {
      mqtt_session_out o;
      int rc = next(s, 0, &o);
      if (rc == LOOM_EAGAIN) continue;
      assert_int_equal(rc, 0);
      if (o.type == MQTT_PUBREL) {
        assert_int_equal(state[o.packet_id], 3);
      } else if (o.qos > 0) {
        assert_int_not_equal(o.packet_id, 0);
        if (o.dup) {
          assert_int_equal(state[o.packet_id], o.qos);
        } else {
          assert_int_equal(state[o.packet_id], 0);
          state[o.packet_id] = o.qos;
          live[n_live++] = o.packet_id;
        }
      }
      assert_true(mqtt_session_inflight_out(s) <= rmax);
    } else if (r < 95 && n_live > 0) {
      uint32_t i = (seed >> 4) % n_live;
      uint16_t pid = live[i];
      if (state[pid] == 1) {
        assert_int_equal(mqtt_session_on_puback(s, pid), 0);
      } else if (state[pid] == 2) {
        assert_int_equal(mqtt_session_on_pubrec(s, pid, 0), 0);
        state[pid] = 3;
        continue;
      } else {
        assert_int_equal(mqtt_session_on_pubcomp(s, pid), 0);
      }
      state[pid] = 0;
      live[i] = live[--n_live];
      done_q++;
    } else if (r >= 95) {
      if (connected) mqtt_session_disconnect(s, 60, 0);
      else assert_int_equal(mqtt_session_connect(s, MQTT_LEVEL_5, rmax, 2, 60), 0);
      connected = !connected;
    }
    assert_int_equal(mqtt_session_inflight_out(s), n_live);
  }
  assert_true(done_q > 100);
  /* Drain: every QoS 1/2 message put is completed exactly once. */
  if (connected) mqtt_session_disconnect(s, 60, 0);
  assert_int_equal(mqtt_session_connect(s, MQTT_LEVEL_5, rmax, 2, 60), 0);
  mqtt_session_out o;
  while (next(s, 0, &o) == 0) {
    if (o.type == MQTT_PUBREL || o.qos == 1) {
      assert_int_equal(o.type == MQTT_PUBREL ? mqtt_session_on_pubcomp(s, o.packet_id)
                                             : mqtt_session_on_puback(s, o.packet_id),
                       0);
      done_q++;
    } else if (o.qos == 2) {
      assert_int_equal(mqtt_session_on_pubrec(s, o.packet_id, 0), 0);
    }
  }
  assert_int_equal(done_q, put_q);
  assert_int_equal(mqtt_session_inflight_out(s), 0);
  assert_int_equal(mqtt_session_queued(s), 0);
  mqtt_session_free(s);
}

static void test_delivery_options_kept_on_resend(void **st) {
  (void)st;
  mqtt_session_cfg c = default_cfg();
  mqtt_session *s = new_session(&c);
  mqtt_msg *m = NULL;
  assert_int_equal(mqtt_msg_new("d", 1, "x", 1, NULL, 0, 2, true, false, 0, 0, &m), 0);
  mqtt_session_delivery d = {.qos = 1, .retain = false, .sub_id = 42};
  assert_int_equal(mqtt_session_enqueue_ex(s, m, &d, 0), 0);
  d.sub_id = 268435456u;
  assert_int_equal(mqtt_session_enqueue_ex(s, m, &d, 0), LOOM_EINVAL);
  mqtt_msg_unref(m);
  assert_int_equal(mqtt_session_connect(s, MQTT_LEVEL_5, 0, 0, 0), 0);
  mqtt_session_out o;
  assert_int_equal(next(s, 0, &o), 0);
  mqtt_session_disconnect(s, 60, 0);
  assert_int_equal(mqtt_session_connect(s, MQTT_LEVEL_5, 0, 0, 0), 0);
  assert_int_equal(mqtt_session_next(s, 0, &o), 0);
  assert_true(o.dup);
  assert_int_equal(o.qos, 1);
  assert_false(o.retain);
  assert_int_equal(o.n_sub_ids, 1);
  assert_int_equal(o.sub_ids[0], 42);
  loom_buf b;
  loom_buf_init(&b);
  assert_int_equal(mqtt_session_out_encode(s, &o, &b), 0);
  mqtt_packet pk;
  assert_int_equal(mqtt_decode(b.data, b.len, MQTT_LEVEL_5, &pk, NULL), 0);
  assert_false(pk.retain);
  assert_true(pk.dup);
  mqtt_prop p;
  assert_int_equal(mqtt_props_find(pk.props.p, pk.props.len, MQTT_P_SUBSCRIPTION_ID, &p), 0);
  assert_int_equal(p.num, 42);
  loom_buf_deinit(&b);
  mqtt_msg_unref(o.msg);
  mqtt_session_free(s);
}

static void test_max_packet_size_discards(void **st) {
  (void)st;
  mqtt_session_cfg c = default_cfg();
  mqtt_session *s = new_session(&c);
  char payload[101];
  memset(payload, 'x', 100);
  payload[100] = '\0';
  mqtt_msg *m = msg("big", payload, 1);
  assert_int_equal(mqtt_session_enqueue(s, m, 1, 0), 0);
  assert_int_equal(mqtt_session_enqueue(s, m, 1, 0), 0);
  mqtt_msg_unref(m);
  assert_int_equal(mqtt_session_connect(s, MQTT_LEVEL_5, 0, 0, 0), 0);
  /* 1 + 1 + (2 + 3 topic + 2 id + 1 props length + 100 payload) = 110 bytes. */
  mqtt_session_set_max_packet_out(s, 110);
  mqtt_session_out o;
  assert_int_equal(mqtt_session_next(s, 0, &o), 0);
  loom_buf b;
  loom_buf_init(&b);
  assert_int_equal(mqtt_session_out_encode(s, &o, &b), 0);
  assert_int_equal(b.len, 110);
  loom_buf_deinit(&b);
  mqtt_msg_unref(o.msg);
  mqtt_session_set_max_packet_out(s, 109);
  assert_int_equal(next(s, 0, &o), LOOM_EAGAIN);
  assert_int_equal(mqtt_session_queued(s), 0);
  assert_int_equal(mqtt_session_stats_get(s)->dropped_too_large, 1);
  /* The in-flight copy is discarded too when resent under a smaller limit. */
  mqtt_session_disconnect(s, 60, 0);
  assert_int_equal(mqtt_session_connect(s, MQTT_LEVEL_5, 0, 0, 0), 0);
  mqtt_session_set_max_packet_out(s, 100);
  assert_int_equal(next(s, 0, &o), LOOM_EAGAIN);
  assert_int_equal(mqtt_session_inflight_out(s), 0);
  assert_int_equal(mqtt_session_stats_get(s)->dropped_too_large, 2);
  mqtt_session_free(s);
}

static void test_hostile_acks_rejected(void **st) {
  (void)st;
  mqtt_session_cfg c = default_cfg();
  mqtt_session *s = new_session(&c);
  mqtt_session_out o;
  assert_int_equal(mqtt_session_connect(s, MQTT_LEVEL_5, 0, 0, 0), 0);
  assert_int_equal(put(s, "a", 1, 0), 0);
  assert_int_equal(next(s, 0, &o), 0);
  uint16_t held = o.packet_id;
  for (uint32_t id = 0; id <= 65535; id++) {
    uint16_t p = (uint16_t)id;
    assert_int_equal(mqtt_session_on_pubrec(s, p, 0), LOOM_ENOTFOUND); /* QoS 1 flow */
    assert_int_equal(mqtt_session_on_pubcomp(s, p), LOOM_ENOTFOUND);
    assert_int_equal(mqtt_session_in_pubrel(s, p), LOOM_ENOTFOUND);
    assert_int_equal(mqtt_session_in_puback_sent(s, p), LOOM_ENOTFOUND);
    if (p != held) assert_int_equal(mqtt_session_on_puback(s, p), LOOM_ENOTFOUND);
  }
  assert_int_equal(mqtt_session_inflight_out(s), 1);
  assert_int_equal(mqtt_session_on_puback(s, held), 0);
  const char *t;
  size_t n;
  assert_int_equal(mqtt_session_in_alias(s, "x", 1, true, 65535, &t, &n, NULL), LOOM_ERANGE);
  mqtt_session_free(s);
}

static void test_alloc_failure(void **st) {
  (void)st;
  mqtt_session_cfg c = default_cfg();
  for (long n = 0; n < 12; n++) {
    mqtt_session *s = NULL;
    mqtt_msg *m = NULL;
    mqtt_session_out o;
    loom_mem_fail_after(n);
    int rc = mqtt_session_new(&c, &s);
    if (rc == 0) rc = mqtt_msg_new("a", 1, "b", 1, NULL, 0, 1, false, false, 0, 0, &m);
    if (rc == 0) rc = mqtt_session_enqueue(s, m, 1, 0);
    if (rc == 0) rc = mqtt_session_connect(s, MQTT_LEVEL_5, 0, 4, 0);
    if (rc == 0) rc = mqtt_session_next(s, 0, &o);
    if (rc == 0) mqtt_msg_unref(o.msg);
    loom_mem_fail_after(-1);
    assert_true(rc == 0 || rc == LOOM_ENOMEM);
    mqtt_msg_unref(m);
    mqtt_session_free(s);
  }
}

/* ---- persistence: mqtt_session_save / mqtt_session_load ---- */

/* A disconnected level 5 session holding every kind of state: in-flight
 * QoS 1 (awaiting PUBACK), QoS 2 (awaiting PUBREC), QoS 2 (PUBREC received,
 * awaiting PUBCOMP), queued QoS 0 (retain, sub id), QoS 1 (expiry), QoS 2
 * (props), an inbound QoS 2 id awaiting PUBREL and an inbound QoS 1 id.
 * Session Expiry 100 s, disconnected at 1000 ms. */
/* The Subscription Identifier properties of an encoded level 5 PUBLISH. */
static size_t encoded_sub_ids(const mqtt_session *s, const mqtt_session_out *o, uint32_t *ids,
                              size_t cap) {
  loom_buf b;
  loom_buf_init(&b);
  assert_int_equal(mqtt_session_out_encode(s, o, &b), 0);
  mqtt_packet pk;
  assert_int_equal(mqtt_decode(b.data, b.len, MQTT_LEVEL_5, &pk, NULL), 0);
  mqtt_prop_it it;
  mqtt_prop pr;
  size_t n = 0;
  mqtt_prop_it_init(&it, pk.props.p, pk.props.len);
  while (mqtt_prop_next(&it, &pr) == 1)
    if (pr.id == MQTT_P_SUBSCRIPTION_ID && n < cap) ids[n++] = pr.num;
  loom_buf_deinit(&b);
  return n;
}

static void test_several_sub_ids_sent_and_resent(void **st) {
  (void)st;
  mqtt_session_cfg c = default_cfg();
  mqtt_session *s = new_session(&c);
  static const uint32_t want[] = {5, 9, 268435455u};
  mqtt_msg *m = msg("m/1", "x", 1);
  mqtt_session_delivery d = {.qos = 1, .sub_ids = want, .n_sub_ids = 3, .sub_id = 77};
  assert_int_equal(mqtt_session_enqueue_ex(s, m, &d, 0), 0);
  mqtt_msg_unref(m);
  assert_int_equal(mqtt_session_connect(s, MQTT_LEVEL_5, 0, 0, 60), 0);
  for (int round = 0; round < 2; round++) {
    mqtt_session_out o;
    assert_int_equal(mqtt_session_next(s, 0, &o), 0);
    assert_int_equal(o.dup, round == 1);
    assert_int_equal(o.n_sub_ids, 3); /* sub_id (77) ignored when a list is given */
    uint32_t got[8];
    assert_int_equal(encoded_sub_ids(s, &o, got, 8), 3);
    assert_memory_equal(got, want, sizeof(want));
    mqtt_msg_unref(o.msg);
    mqtt_session_disconnect(s, 60, 0);
    assert_int_equal(mqtt_session_connect(s, MQTT_LEVEL_5, 0, 0, 60), 0);
  }
  mqtt_session_free(s);
}

static void test_several_sub_ids_qos0(void **st) {
  (void)st;
  mqtt_session_cfg c = default_cfg();
  mqtt_session *s = new_session(&c);
  uint32_t many[MQTT_SESSION_MAX_SUB_IDS];
  for (uint32_t i = 0; i < MQTT_SESSION_MAX_SUB_IDS; i++) many[i] = 1000 + i;
  mqtt_msg *m = msg("m/0", "x", 0);
  mqtt_session_delivery d = {.qos = 0, .sub_ids = many, .n_sub_ids = MQTT_SESSION_MAX_SUB_IDS};
  assert_int_equal(mqtt_session_connect(s, MQTT_LEVEL_5, 0, 0, 60), 0);
  assert_int_equal(mqtt_session_enqueue_ex(s, m, &d, 0), 0);
  mqtt_msg_unref(m);
  mqtt_session_out o;
  assert_int_equal(mqtt_session_next(s, 0, &o), 0);
  assert_int_equal(o.qos, 0);
  uint32_t got[MQTT_SESSION_MAX_SUB_IDS + 1];
  assert_int_equal(encoded_sub_ids(s, &o, got, MQTT_SESSION_MAX_SUB_IDS + 1),
                   MQTT_SESSION_MAX_SUB_IDS);
  assert_memory_equal(got, many, sizeof(many));
  mqtt_msg_unref(o.msg);
  mqtt_session_free(s);
}

static void test_sub_ids_validation(void **st) {
  (void)st;
  mqtt_session_cfg c = default_cfg();
  mqtt_session *s = new_session(&c);
  mqtt_msg *m = msg("v", "x", 1);
  uint32_t ids[MQTT_SESSION_MAX_SUB_IDS + 1];
  for (size_t i = 0; i <= MQTT_SESSION_MAX_SUB_IDS; i++) ids[i] = 1;
  mqtt_session_delivery d = {.qos = 1, .sub_ids = ids, .n_sub_ids = MQTT_SESSION_MAX_SUB_IDS + 1};
  assert_int_equal(mqtt_session_enqueue_ex(s, m, &d, 0), LOOM_EINVAL); /* over the bound */
  d.n_sub_ids = 2;
  ids[1] = 0;
  assert_int_equal(mqtt_session_enqueue_ex(s, m, &d, 0), LOOM_EINVAL); /* 0 in the list */
  ids[1] = 268435456u;
  assert_int_equal(mqtt_session_enqueue_ex(s, m, &d, 0), LOOM_EINVAL); /* too large */
  d.sub_ids = NULL;
  assert_int_equal(mqtt_session_enqueue_ex(s, m, &d, 0), LOOM_EINVAL);
  assert_int_equal(mqtt_session_queued(s), 0);
  ids[1] = 268435455u;
  d.sub_ids = ids;
  assert_int_equal(mqtt_session_enqueue_ex(s, m, &d, 0), 0);
  assert_int_equal(mqtt_session_queued(s), 1);
  mqtt_msg_unref(m);
  mqtt_session_free(s);
}

static void test_sub_ids_count_toward_max_packet(void **st) {
  (void)st;
  /* a delivery that fits with one identifier but not with eight */
  mqtt_session_cfg c = default_cfg();
  mqtt_session *s = new_session(&c);
  uint32_t ids[8];
  for (int i = 0; i < 8; i++) ids[i] = 268435455u; /* 5 bytes each with the id byte */
  mqtt_msg *m = msg("t", "payload", 0);
  mqtt_session_delivery d1 = {.qos = 0, .sub_id = 268435455u};
  mqtt_session_delivery d8 = {.qos = 0, .sub_ids = ids, .n_sub_ids = 8};
  assert_int_equal(mqtt_session_connect(s, MQTT_LEVEL_5, 0, 0, 60), 0);
  mqtt_session_set_max_packet_out(s, 30);
  assert_int_equal(mqtt_session_enqueue_ex(s, m, &d8, 0), 0);
  assert_int_equal(mqtt_session_enqueue_ex(s, m, &d1, 0), 0);
  mqtt_msg_unref(m);
  mqtt_session_out o;
  assert_int_equal(mqtt_session_next(s, 0, &o), 0);
  assert_int_equal(o.n_sub_ids, 1);
  mqtt_msg_unref(o.msg);
  assert_int_equal(mqtt_session_stats_get(s)->dropped_too_large, 1);
  mqtt_session_free(s);
}

static void test_sub_ids_survive_save_load(void **st) {
  (void)st;
  mqtt_session_cfg c = default_cfg();
  mqtt_session *s = new_session(&c);
  static const uint32_t a[] = {3, 4}, b3[] = {300000, 1, 2};
  mqtt_msg *m = msg("p/1", "x", 2);
  mqtt_session_delivery da = {.qos = 2, .sub_ids = a, .n_sub_ids = 2};
  mqtt_session_delivery db = {.qos = 1, .sub_ids = b3, .n_sub_ids = 3};
  assert_int_equal(mqtt_session_connect(s, MQTT_LEVEL_5, 0, 0, 60), 0);
  assert_int_equal(mqtt_session_enqueue_ex(s, m, &da, 0), 0);
  mqtt_session_out o;
  assert_int_equal(next(s, 0, &o), 0); /* in flight now */
  assert_int_equal(mqtt_session_enqueue_ex(s, m, &db, 0), 0); /* queued */
  mqtt_msg_unref(m);
  mqtt_session_disconnect(s, 60, 0);
  loom_buf b1, b2;
  loom_buf_init(&b1);
  loom_buf_init(&b2);
  assert_int_equal(mqtt_session_save(s, 0, &b1), 0);
  mqtt_session_free(s);
  mqtt_session *l = NULL;
  assert_int_equal(mqtt_session_load(&c, b1.data, b1.len, 0, 0, &l), 0);
  assert_int_equal(mqtt_session_save(l, 0, &b2), 0);
  assert_int_equal(b1.len, b2.len);
  assert_memory_equal(b1.data, b2.data, b1.len);
  assert_int_equal(mqtt_session_connect(l, MQTT_LEVEL_5, 0, 0, 60), 0);
  uint32_t got[8];
  assert_int_equal(mqtt_session_next(l, 0, &o), 0);
  assert_true(o.dup);
  assert_int_equal(encoded_sub_ids(l, &o, got, 8), 2);
  assert_memory_equal(got, a, sizeof(a));
  mqtt_msg_unref(o.msg);
  assert_int_equal(mqtt_session_next(l, 0, &o), 0);
  assert_false(o.dup);
  assert_int_equal(encoded_sub_ids(l, &o, got, 8), 3);
  assert_memory_equal(got, b3, sizeof(b3));
  mqtt_msg_unref(o.msg);
  loom_buf_deinit(&b1);
  loom_buf_deinit(&b2);
  mqtt_session_free(l);
}

static void test_load_version1_blob(void **st) {
  (void)st;
  /* A version 1 blob (one identifier per delivery): never-expiring session,
   * no flights, two queued QoS 1 deliveries with Subscription Identifier 7
   * and 0 (none), message "q"/"p". */
  static const uint8_t v1[] = {1, 5, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                               0xFF, 0xFF, 1, 0, 0, 0, 2,
                               1, 0, 7, 1, 0, 1, 'q', 1, 'p', 0,
                               1, 0, 0, 1, 0, 1, 'q', 1, 'p', 0};
  mqtt_session_cfg c = default_cfg();
  mqtt_session *l = NULL;
  assert_int_equal(mqtt_session_load(&c, v1, sizeof(v1), 0, 0, &l), 0);
  assert_int_equal(mqtt_session_queued(l), 2);
  assert_int_equal(mqtt_session_connect(l, MQTT_LEVEL_5, 0, 0, 0xFFFFFFFFu), 0);
  mqtt_session_out o;
  assert_int_equal(mqtt_session_next(l, 0, &o), 0);
  assert_int_equal(o.n_sub_ids, 1);
  assert_int_equal(o.sub_ids[0], 7);
  mqtt_msg_unref(o.msg);
  assert_int_equal(mqtt_session_next(l, 0, &o), 0);
  assert_int_equal(o.n_sub_ids, 0);
  mqtt_msg_unref(o.msg);
  /* saved again, it is a version 2 blob that loads */
  loom_buf b;
  loom_buf_init(&b);
  assert_int_equal(mqtt_session_save(l, 0, &b), 0);
  assert_int_equal(b.data[0], 2);
  mqtt_session_free(l);
  l = NULL;
  assert_int_equal(mqtt_session_load(&c, b.data, b.len, 0, 0, &l), 0);
  assert_int_equal(mqtt_session_inflight_out(l), 2);
  mqtt_session_free(l);
  loom_buf_deinit(&b);
  /* the same bytes as version 2 are malformed (count 7, then no ids) */
  uint8_t v2[sizeof(v1)];
  memcpy(v2, v1, sizeof(v1));
  v2[0] = 2;
  l = NULL;
  assert_int_equal(mqtt_session_load(&c, v2, sizeof(v2), 0, 0, &l), LOOM_EINVAL);
  assert_null(l);
}

static mqtt_session *rich_session(const mqtt_session_cfg *c) {
  mqtt_session *s = new_session(c);
  mqtt_session_out o;
  assert_int_equal(mqtt_session_connect(s, MQTT_LEVEL_5, 10, 0, 100), 0);
  assert_int_equal(put(s, "a/1", 1, 0), 0);
  assert_int_equal(put(s, "a/2", 2, 0), 0);
  assert_int_equal(put(s, "a/3", 2, 0), 0);
  for (int i = 0; i < 3; i++) assert_int_equal(next(s, 0, &o), 0);
  assert_int_equal(mqtt_session_on_pubrec(s, 3, 0), 0);
  assert_int_equal(next(s, 0, &o), 0);
  assert_int_equal(o.type, MQTT_PUBREL);
  mqtt_msg *m = NULL;
  mqtt_session_delivery d = {.qos = 0, .retain = true, .sub_id = 7};
  assert_int_equal(mqtt_msg_new("q/0", 3, "zero", 4, NULL, 0, 1, false, false, 0, 0, &m), 0);
  assert_int_equal(mqtt_session_enqueue_ex(s, m, &d, 0), 0);
  mqtt_msg_unref(m);
  assert_int_equal(mqtt_msg_new("q/1", 3, "one", 3, NULL, 0, 1, true, true, 30, 0, &m), 0);
  assert_int_equal(mqtt_session_enqueue(s, m, 1, 0), 0);
  mqtt_msg_unref(m);
  static const uint8_t props[] = {0x03, 0x00, 0x02, 't', 'x'}; /* content type "tx" */
  assert_int_equal(mqtt_msg_new("q/2", 3, "two", 3, props, sizeof(props), 2, false, false, 0, 0,
                                &m),
                   0);
  assert_int_equal(mqtt_session_enqueue(s, m, 2, 0), 0);
  mqtt_msg_unref(m);
  bool deliver;
  assert_int_equal(mqtt_session_in_publish(s, 2, 77, &deliver, NULL), 0);
  assert_int_equal(mqtt_session_in_publish(s, 1, 78, &deliver, NULL), 0);
  mqtt_session_disconnect(s, 100, 1000);
  return s;
}

static void test_save_load_round_trip(void **st) {
  (void)st;
  mqtt_session_cfg c = default_cfg();
  mqtt_session *s = rich_session(&c);
  loom_buf b1, b2;
  loom_buf_init(&b1);
  loom_buf_init(&b2);
  assert_int_equal(mqtt_session_save(s, 3000, &b1), 0);
  mqtt_session *l = NULL;
  assert_int_equal(mqtt_session_load(&c, b1.data, b1.len, 50, 0, &l), 0);
  assert_int_equal(mqtt_session_inflight_out(l), 3);
  assert_int_equal(mqtt_session_queued(l), 3);
  assert_int_equal(mqtt_session_queued_bytes(l), mqtt_session_queued_bytes(s));
  assert_int_equal(mqtt_session_inflight_in(l), 1); /* QoS 1 ids end with the connection */
  assert_false(mqtt_session_expired(l, 50));
  assert_int_equal(mqtt_session_expires_at(l), 50 + 98000);
  /* Saving the loaded session at the same relative time gives the same bytes. */
  assert_int_equal(mqtt_session_save(l, 50, &b2), 0);
  assert_int_equal(b1.len, b2.len);
  assert_memory_equal(b1.data, b2.data, b1.len);
  loom_buf_deinit(&b1);
  loom_buf_deinit(&b2);
  mqtt_session_free(s);
  mqtt_session_free(l);
}

static void test_loaded_session_resends_in_order(void **st) {
  (void)st;
  mqtt_session_cfg c = default_cfg();
  mqtt_session *s = rich_session(&c);
  loom_buf b;
  loom_buf_init(&b);
  assert_int_equal(mqtt_session_save(s, 3000, &b), 0);
  mqtt_session_free(s);
  mqtt_session *l = NULL;
  assert_int_equal(mqtt_session_load(&c, b.data, b.len, 50, 0, &l), 0);
  loom_buf_deinit(&b);
  mqtt_session_out o;
  assert_int_equal(mqtt_session_next(l, 50, &o), LOOM_ECLOSED); /* starts disconnected */
  assert_int_equal(mqtt_session_connect(l, MQTT_LEVEL_5, 10, 0, 100), 0);
  static const struct { uint8_t type, qos; uint16_t pid; bool dup; const char *topic; } want[] = {
      {MQTT_PUBLISH, 1, 1, true, "a/1"}, {MQTT_PUBLISH, 2, 2, true, "a/2"},
      {MQTT_PUBREL, 1, 3, false, NULL},  {MQTT_PUBLISH, 0, 0, false, "q/0"},
      {MQTT_PUBLISH, 1, 4, false, "q/1"}, {MQTT_PUBLISH, 2, 5, false, "q/2"},
  };
  for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
    assert_int_equal(mqtt_session_next(l, 50, &o), 0);
    assert_int_equal(o.type, want[i].type);
    assert_int_equal(o.packet_id, want[i].pid);
    assert_int_equal(o.dup, want[i].dup);
    if (want[i].type == MQTT_PUBLISH) {
      assert_int_equal(o.qos, want[i].qos);
      assert_string_equal(o.msg->topic, want[i].topic);
      if (i == 3) {
        assert_true(o.retain);
        assert_int_equal(o.n_sub_ids, 1);
        assert_int_equal(o.sub_ids[0], 7);
        assert_memory_equal(o.msg->payload, "zero", 4);
      }
      if (i == 4) {
        assert_true(o.has_expiry);
        assert_int_equal(o.expiry_s, 27); /* 30 s at 0, saved at 3000 */
        assert_true(o.msg->retain);
      }
      if (i == 5) assert_int_equal(o.msg->props_len, 5);
      mqtt_msg_unref(o.msg);
    }
  }
  assert_int_equal(mqtt_session_next(l, 50, &o), LOOM_EAGAIN);
  /* The QoS 2 id awaiting PUBREL survived: a resend is a duplicate. */
  bool deliver = true;
  assert_int_equal(mqtt_session_in_publish(l, 2, 77, &deliver, NULL), 0);
  assert_false(deliver);
  assert_int_equal(mqtt_session_in_pubrel(l, 77), 0);
  assert_int_equal(mqtt_session_on_puback(l, 1), 0);
  assert_int_equal(mqtt_session_on_pubrec(l, 2, 0), 0);
  assert_int_equal(mqtt_session_on_pubcomp(l, 3), 0);
  mqtt_session_free(l);
}

static void test_load_counts_downtime_against_expiry(void **st) {
  (void)st;
  mqtt_session_cfg c = default_cfg();
  mqtt_session *s = rich_session(&c); /* 98 s left at 3000 */
  loom_buf b;
  loom_buf_init(&b);
  assert_int_equal(mqtt_session_save(s, 3000, &b), 0);
  mqtt_session_free(s);
  mqtt_session *l = NULL;
  /* Down 20 s: 78 s of session left, the queued QoS 1 message has 7 s. */
  assert_int_equal(mqtt_session_load(&c, b.data, b.len, 500, 20000, &l), 0);
  assert_int_equal(mqtt_session_expires_at(l), 500 + 78000);
  assert_false(mqtt_session_expired(l, 500 + 77999));
  assert_true(mqtt_session_expired(l, 500 + 78000));
  assert_int_equal(mqtt_session_queued(l), 3);
  mqtt_session_free(l);
  /* Down 27 s: the QoS 1 message's expiry passed: dropped at load. */
  assert_int_equal(mqtt_session_load(&c, b.data, b.len, 500, 27000, &l), 0);
  assert_int_equal(mqtt_session_queued(l), 2);
  assert_int_equal(mqtt_session_stats_get(l)->dropped_expired, 1);
  mqtt_session_free(l);
  /* Down 98 s: the session itself expired. */
  assert_int_equal(mqtt_session_load(&c, b.data, b.len, 500, 98000, &l), 0);
  assert_true(mqtt_session_expired(l, 500));
  mqtt_session_free(l);
  /* A negative downtime (clock went back) counts as none. */
  assert_int_equal(mqtt_session_load(&c, b.data, b.len, 500, -5000, &l), 0);
  assert_int_equal(mqtt_session_expires_at(l), 500 + 98000);
  mqtt_session_free(l);
  loom_buf_deinit(&b);
}

static void test_save_connected_and_never_expiring(void **st) {
  (void)st;
  mqtt_session_cfg c = default_cfg();
  mqtt_session *s = new_session(&c);
  loom_buf b;
  loom_buf_init(&b);
  mqtt_session *l = NULL;
  /* Connected at save: the whole interval is left, as if it disconnected now. */
  assert_int_equal(mqtt_session_connect(s, MQTT_LEVEL_311, 0, 0, 60), 0);
  assert_int_equal(mqtt_session_save(s, 123456, &b), 0);
  assert_int_equal(mqtt_session_load(&c, b.data, b.len, 10, 59000, &l), 0);
  assert_int_equal(mqtt_session_expires_at(l), 10 + 1000);
  mqtt_session_free(l);
  /* Never expiring: stays so whatever the downtime. */
  loom_buf_reset(&b);
  mqtt_session_disconnect(s, 0xFFFFFFFFu, 5);
  assert_int_equal(mqtt_session_save(s, 123456, &b), 0);
  assert_int_equal(mqtt_session_load(&c, b.data, b.len, 10, INT64_MAX, &l), 0);
  assert_int_equal(mqtt_session_expires_at(l), UINT64_MAX);
  assert_false(mqtt_session_expired(l, UINT64_MAX - 1));
  mqtt_session_free(l);
  loom_buf_deinit(&b);
  mqtt_session_free(s);
}

static void test_expired_inflight_kept_on_load(void **st) {
  (void)st;
  mqtt_session_cfg c = default_cfg();
  mqtt_session *s = new_session(&c);
  mqtt_msg *m = NULL;
  mqtt_session_out o;
  assert_int_equal(mqtt_msg_new("e", 1, "p", 1, NULL, 0, 1, false, true, 2, 0, &m), 0);
  assert_int_equal(mqtt_session_connect(s, MQTT_LEVEL_5, 0, 0, 60), 0);
  assert_int_equal(mqtt_session_enqueue(s, m, 1, 0), 0);
  mqtt_msg_unref(m);
  assert_int_equal(next(s, 0, &o), 0);
  loom_buf b;
  loom_buf_init(&b);
  assert_int_equal(mqtt_session_save(s, 1000, &b), 0);
  mqtt_session_free(s);
  mqtt_session *l = NULL;
  assert_int_equal(mqtt_session_load(&c, b.data, b.len, 0, 10000, &l), 0);
  loom_buf_deinit(&b);
  assert_int_equal(mqtt_session_connect(l, MQTT_LEVEL_5, 0, 0, 60), 0);
  assert_int_equal(mqtt_session_next(l, 0, &o), 0);
  assert_true(o.dup);
  assert_true(o.has_expiry);
  assert_int_equal(o.expiry_s, 1);
  mqtt_msg_unref(o.msg);
  mqtt_session_free(l);
}

/* Blob of a small session: one QoS 1 in flight, one queued QoS 0. */
static void small_blob(loom_buf *b) {
  mqtt_session_cfg c = default_cfg();
  mqtt_session *s = new_session(&c);
  mqtt_session_out o;
  assert_int_equal(mqtt_session_connect(s, MQTT_LEVEL_5, 0, 0, 60), 0);
  assert_int_equal(put(s, "t/x", 1, 0), 0);
  assert_int_equal(next(s, 0, &o), 0);
  assert_int_equal(put(s, "t/y", 0, 0), 0);
  bool deliver;
  assert_int_equal(mqtt_session_in_publish(s, 2, 9, &deliver, NULL), 0);
  assert_int_equal(mqtt_session_save(s, 0, b), 0);
  mqtt_session_free(s);
}

static int load_patched(const loom_buf *b, size_t off, uint8_t v) {
  mqtt_session_cfg c = default_cfg();
  uint8_t *p = malloc(b->len);
  assert_non_null(p);
  memcpy(p, b->data, b->len);
  p[off] = v;
  mqtt_session *l = NULL;
  int rc = mqtt_session_load(&c, p, b->len, 0, 0, &l);
  mqtt_session_free(l);
  free(p);
  return rc;
}

static void test_load_rejects_malformed(void **st) {
  (void)st;
  mqtt_session_cfg c = default_cfg();
  loom_buf b;
  loom_buf_init(&b);
  small_blob(&b);
  /* Layout: ver 0, level 1, expiry 2..5, left 6..13, next pid 14..15,
   * n_in 16, id 17..18, n_fl 19, pid 20..21, qos 22, state 23, flags 24,
   * sub id 25, message qos 26, flags 27, topic len 28, topic 29..31 ... */
  assert_int_equal(b.data[16], 1);
  assert_int_equal(b.data[19], 1);
  assert_int_equal(b.data[0], 2);                           /* blob version 2 */
  assert_int_equal(load_patched(&b, 0, 3), LOOM_EINVAL);    /* version */
  assert_int_equal(load_patched(&b, 0, 0), LOOM_EINVAL);
  assert_int_equal(load_patched(&b, 25, 33), LOOM_EINVAL);  /* more ids than the bound */
  assert_int_equal(load_patched(&b, 1, 6), LOOM_EINVAL);    /* level */
  assert_int_equal(load_patched(&b, 1, 2), LOOM_EINVAL);
  assert_int_equal(load_patched(&b, 13, 0xFF), LOOM_EINVAL); /* left > interval */
  assert_int_equal(load_patched(&b, 17, 0), LOOM_EINVAL);   /* inbound id 0 */
  assert_int_equal(load_patched(&b, 20, 0), LOOM_EINVAL);   /* flight id 0 */
  assert_int_equal(load_patched(&b, 22, 3), LOOM_EINVAL);   /* qos 3 */
  assert_int_equal(load_patched(&b, 22, 2), LOOM_EINVAL);   /* qos 2 in PUBACK state */
  assert_int_equal(load_patched(&b, 23, 3), LOOM_EINVAL);   /* qos 1 in PUBCOMP state */
  assert_int_equal(load_patched(&b, 24, 4), LOOM_EINVAL);   /* unknown flag */
  assert_int_equal(load_patched(&b, 26, 3), LOOM_EINVAL);   /* message qos */
  assert_int_equal(load_patched(&b, 26, 0), LOOM_EINVAL);   /* message qos below delivery */
  assert_int_equal(load_patched(&b, 29, 0), LOOM_EINVAL);   /* NUL in topic */
  assert_int_equal(load_patched(&b, 28, 0x7F), LOOM_EINVAL); /* topic past the end */
  assert_int_equal(load_patched(&b, 0, 2), 0);              /* unchanged byte: loads */
  assert_int_equal(load_patched(&b, 0, 1), 0); /* same bytes read as version 1 (id 0 = none) */
  /* Every truncation is refused, and so is a trailing byte. */
  for (size_t n = 0; n < b.len; n++) {
    mqtt_session *l = NULL;
    assert_int_equal(mqtt_session_load(&c, b.data, n, 0, 0, &l), LOOM_EINVAL);
    assert_null(l);
  }
  assert_int_equal(loom_buf_append_u8(&b, 0), 0);
  mqtt_session *l = NULL;
  assert_int_equal(mqtt_session_load(&c, b.data, b.len, 0, 0, &l), LOOM_EINVAL);
  assert_int_equal(mqtt_session_load(&c, NULL, 5, 0, 0, &l), LOOM_EINVAL);
  assert_int_equal(mqtt_session_load(NULL, b.data, b.len, 0, 0, &l), LOOM_EINVAL);
  loom_buf_deinit(&b);
}

static void test_load_rejects_duplicate_ids(void **st) {
  (void)st;
  mqtt_session_cfg c = default_cfg();
  mqtt_session *l = NULL;
  /* Two inbound QoS 2 ids, both 5. */
  static const uint8_t in_dup[] = {1, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0,
                                   2, 5, 0, 5, 0, 0, 0};
  assert_int_equal(mqtt_session_load(&c, in_dup, sizeof(in_dup), 0, 0, &l), LOOM_EINVAL);
  uint8_t ok[sizeof(in_dup)];
  memcpy(ok, in_dup, sizeof(ok));
  ok[19] = 6;
  assert_int_equal(mqtt_session_load(&c, ok, sizeof(ok), 0, 0, &l), 0);
  assert_int_equal(mqtt_session_inflight_in(l), 2);
  mqtt_session_free(l);
  /* Two flights awaiting PUBCOMP, both id 3 (no message in that state). */
  static const uint8_t fl_dup[] = {1, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0,
                                   2, 3, 0, 2, 3, 2, 0, 3, 0, 2, 3, 2, 0, 0};
  l = NULL;
  assert_int_equal(mqtt_session_load(&c, fl_dup, sizeof(fl_dup), 0, 0, &l), LOOM_EINVAL);
  assert_null(l);
}

static void test_save_load_alloc_failure(void **st) {
  (void)st;
  mqtt_session_cfg c = default_cfg();
  mqtt_session *s = rich_session(&c);
  loom_buf ref;
  loom_buf_init(&ref);
  assert_int_equal(mqtt_session_save(s, 3000, &ref), 0);
  int ok_save = 0, ok_load = 0;
  for (long n = 0; n < 40; n++) {
    loom_buf b;
    loom_buf_init(&b);
    loom_mem_fail_after(n);
    int rc = mqtt_session_save(s, 3000, &b);
    loom_mem_fail_after(-1);
    assert_true(rc == 0 || rc == LOOM_ENOMEM);
    if (rc == 0) {
      ok_save++;
      assert_memory_equal(b.data, ref.data, ref.len);
    }
    loom_buf_deinit(&b);
    mqtt_session *l = NULL;
    loom_mem_fail_after(n);
    rc = mqtt_session_load(&c, ref.data, ref.len, 0, 0, &l);
    loom_mem_fail_after(-1);
    assert_true(rc == 0 || rc == LOOM_ENOMEM);
    if (rc == 0) ok_load++;
    else assert_null(l);
    mqtt_session_free(l);
  }
  assert_true(ok_save > 0 && ok_save < 40);
  assert_true(ok_load > 0 && ok_load < 40);
  loom_buf_deinit(&ref);
  mqtt_session_free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_qos1_flow),
      cmocka_unit_test(test_qos2_flow),
      cmocka_unit_test(test_qos2_pubrec_error_ends_flow),
      cmocka_unit_test(test_granted_qos_downgrades),
      cmocka_unit_test(test_resend_after_reconnect),
      cmocka_unit_test(test_inbound_qos2_duplicate),
      cmocka_unit_test(test_inbound_bad_publish),
      cmocka_unit_test(test_inbound_receive_maximum),
      cmocka_unit_test(test_inbound_qos1_ids_end_with_connection),
      cmocka_unit_test(test_outbound_receive_maximum),
      cmocka_unit_test(test_queue_overflow_drops_qos0_first),
      cmocka_unit_test(test_qos0_offline_discarded_by_default),
      cmocka_unit_test(test_queue_byte_limit),
      cmocka_unit_test(test_message_expiry),
      cmocka_unit_test(test_expired_inflight_still_resent),
      cmocka_unit_test(test_inbound_aliases),
      cmocka_unit_test(test_inbound_alias_disabled),
      cmocka_unit_test(test_outbound_aliases_lru),
      cmocka_unit_test(test_packet_id_wraps_and_skips_in_use),
      cmocka_unit_test(test_session_expiry),
      cmocka_unit_test(test_message_shared_between_sessions),
      cmocka_unit_test(test_encode_publish_v5),
      cmocka_unit_test(test_pubrec_repeated_resends_pubrel),
      cmocka_unit_test(test_encode_dup_resend_v311),
      cmocka_unit_test(test_random_against_model),
      cmocka_unit_test(test_delivery_options_kept_on_resend),
      cmocka_unit_test(test_several_sub_ids_sent_and_resent),
      cmocka_unit_test(test_several_sub_ids_qos0),
      cmocka_unit_test(test_sub_ids_validation),
      cmocka_unit_test(test_sub_ids_count_toward_max_packet),
      cmocka_unit_test(test_sub_ids_survive_save_load),
      cmocka_unit_test(test_load_version1_blob),
      cmocka_unit_test(test_max_packet_size_discards),
      cmocka_unit_test(test_hostile_acks_rejected),
      cmocka_unit_test(test_alloc_failure),
      cmocka_unit_test(test_save_load_round_trip),
      cmocka_unit_test(test_loaded_session_resends_in_order),
      cmocka_unit_test(test_load_counts_downtime_against_expiry),
      cmocka_unit_test(test_save_connected_and_never_expiring),
      cmocka_unit_test(test_expired_inflight_kept_on_load),
      cmocka_unit_test(test_load_rejects_malformed),
      cmocka_unit_test(test_load_rejects_duplicate_ids),
      cmocka_unit_test(test_save_load_alloc_failure),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
