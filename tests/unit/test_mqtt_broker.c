/* SPDX-License-Identifier: Apache-2.0
 * Tests for the MQTT broker core (mqtt/broker.h) without hooks: a broker on
 * 127.0.0.1:0 per test and blocking socket clients (mqtt_client_util.h).
 * CONNECT at each level, QoS 0/1/2 round trips, retained messages, wills,
 * sessions, takeover, shared subscriptions, no-local, subscription ids,
 * topic aliases, keep-alive, receive maximum, packet size limits.
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
#include "mqtt/broker.h"
#include "mqtt_client_util.h"

typedef struct fx {
  mqtt_broker *b;
  int port;
} fx;

static int start_with(void **state, const mqtt_limits *lim) {
  fx *f = calloc(1, sizeof(*f));
  mqtt_broker_cfg cfg;
  memset(&cfg, 0, sizeof(cfg));
  cfg.listen = "127.0.0.1:0";
  cfg.allow_anonymous = true;
  if (lim) cfg.limits = *lim;
  char err[128];
  if (mqtt_broker_start(&cfg, &f->b, err, sizeof(err)) != 0) {
    fprintf(stderr, "start: %s\n", err);
    free(f);
    return -1;
  }
  f->port = mqtt_broker_port(f->b);
  *state = f;
  return 0;
}

static int setup(void **state) { return start_with(state, NULL); }

static int teardown(void **state) {
  fx *f = *state;
  mqtt_broker_stop(f->b);
  free(f);
  return 0;
}

static void test_connect_v311(void **state) {
  fx *f = *state;
  tc c;
  assert_int_equal(tc_connect(&c, f->port, MQTT_LEVEL_311, "c311", true), 0);
  assert_false(c.pk.session_present);
  tc_close(&c);
}

static void test_connect_v31(void **state) {
  fx *f = *state;
  tc c;
  assert_int_equal(tc_connect(&c, f->port, MQTT_LEVEL_31, "c31", true), 0);
  tc_close(&c);
}

static void test_connect_v5_props(void **state) {
  fx *f = *state;
  tc c;
  assert_int_equal(tc_connect(&c, f->port, MQTT_LEVEL_5, "c5", true), 0);
  mqtt_prop p;
  assert_int_equal(mqtt_props_find(c.pk.props.p, c.pk.props.len, MQTT_P_RECEIVE_MAXIMUM, &p), 0);
  assert_int_equal(p.num, 64);
  assert_int_equal(mqtt_props_find(c.pk.props.p, c.pk.props.len, MQTT_P_TOPIC_ALIAS_MAXIMUM, &p),
                   0);
  assert_int_equal(mqtt_props_find(c.pk.props.p, c.pk.props.len, MQTT_P_SHARED_SUB_AVAILABLE, &p),
                   0);
  assert_int_equal(p.num, 1);
  assert_int_equal(mqtt_props_find(c.pk.props.p, c.pk.props.len, MQTT_P_MAXIMUM_QOS, &p),
                   LOOM_ENOTFOUND);
  tc_close(&c);
}

static void test_connect_assigned_id_v5(void **state) {
  fx *f = *state;
  tc c;
  assert_int_equal(tc_connect(&c, f->port, MQTT_LEVEL_5, "", true), 0);
  mqtt_prop p;
  assert_int_equal(
      mqtt_props_find(c.pk.props.p, c.pk.props.len, MQTT_P_ASSIGNED_CLIENT_ID, &p), 0);
  assert_true(p.s_len > 0);
  tc_close(&c);
}

static void test_connect_empty_id_311_persistent_refused(void **state) {
  fx *f = *state;
  tc c;
  assert_int_equal(tc_connect(&c, f->port, MQTT_LEVEL_311, "", false), 2);
  assert_true(tc_wait_closed(&c, 2000));
  tc_close(&c);
}

static void test_packets_split_across_reads(void **state) {
  fx *f = *state;
  tc s, c;
  assert_int_equal(tc_connect(&s, f->port, MQTT_LEVEL_311, "s", true), 0);
  assert_int_equal(tc_subscribe(&s, "split", 1), 1);
  assert_int_equal(tc_open(&c, f->port, MQTT_LEVEL_5), 0);
  loom_buf raw;
  loom_buf_init(&raw);
  mqtt_packet pk;
  memset(&pk, 0, sizeof(pk));
  pk.type = MQTT_CONNECT;
  pk.level = MQTT_LEVEL_5;
  pk.clean_start = true;
  pk.client_id.p = (const uint8_t *)"byte-by-byte";
  pk.client_id.len = 12;
  assert_int_equal(mqtt_encode(&raw, &pk, MQTT_LEVEL_5), 0);
  static char body[300];
  memset(body, 'z', sizeof(body) - 1); /* a 2-byte Remaining Length */
  for (int i = 0; i < 2; i++) {
    memset(&pk, 0, sizeof(pk));
    pk.type = MQTT_PUBLISH;
    pk.topic.p = (const uint8_t *)"split";
    pk.topic.len = 5;
    pk.payload.p = (const uint8_t *)body;
    pk.payload.len = sizeof(body) - 1;
    pk.qos = 1;
    pk.packet_id = (uint16_t)(1 + i);
    assert_int_equal(mqtt_encode(&raw, &pk, MQTT_LEVEL_5), 0);
  }
  /* one byte per segment for the headers, then the rest in uneven pieces */
  size_t off = 0;
  while (off < raw.len) {
    size_t k = off < 40 ? 1 : (off % 7) + 13;
    if (k > raw.len - off) k = raw.len - off;
    assert_int_equal(tc_send_raw(&c, raw.data + off, k), 0);
    off += k;
    usleep(300);
  }
  assert_int_equal(tc_expect(&c, MQTT_CONNACK, 3000), 0);
  assert_int_equal(tc_expect(&c, MQTT_PUBACK, 3000), 0);
  assert_int_equal(c.pk.packet_id, 1);
  assert_int_equal(tc_expect(&c, MQTT_PUBACK, 3000), 0);
  assert_int_equal(c.pk.packet_id, 2);
  for (int i = 0; i < 2; i++) {
    assert_int_equal(tc_expect(&s, MQTT_PUBLISH, 3000), 0);
    assert_int_equal(s.pk.payload.len, sizeof(body) - 1);
    assert_int_equal(tc_ack(&s, MQTT_PUBACK, s.pk.packet_id), 0);
  }
  loom_buf_deinit(&raw);
  tc_close(&c);
  tc_close(&s);
}

static void test_first_packet_must_be_connect(void **state) {
  fx *f = *state;
  tc c;
  assert_int_equal(tc_open(&c, f->port, MQTT_LEVEL_311), 0);
  assert_int_equal(tc_ack(&c, MQTT_PINGREQ, 0), 0);
  assert_true(tc_wait_closed(&c, 2000));
  tc_close(&c);
}

static void roundtrip(fx *f, uint8_t level, uint8_t qos) {
  tc s, p;
  assert_int_equal(tc_connect(&s, f->port, level, "sub", true), 0);
  assert_int_equal(tc_subscribe(&s, "a/+/c", 2), 2);
  assert_int_equal(tc_connect(&p, f->port, level, "pub", true), 0);
  assert_int_equal(tc_publish_ex(&p, "a/b/c", "hello", qos, false, 7, NULL, 0), 0);
  if (qos == 1) {
    assert_int_equal(tc_expect(&p, MQTT_PUBACK, 3000), 0);
    assert_int_equal(p.pk.packet_id, 7);
  } else if (qos == 2) {
    assert_int_equal(tc_expect(&p, MQTT_PUBREC, 3000), 0);
    assert_int_equal(p.pk.packet_id, 7);
    assert_int_equal(tc_ack(&p, MQTT_PUBREL, 7), 0);
    assert_int_equal(tc_expect(&p, MQTT_PUBCOMP, 3000), 0);
  }
  assert_int_equal(tc_expect(&s, MQTT_PUBLISH, 3000), 0);
  assert_true(tc_topic_is(&s, "a/b/c"));
  assert_true(tc_payload_is(&s, "hello"));
  assert_int_equal(s.pk.qos, qos);
  uint16_t pid = s.pk.packet_id;
  if (qos == 1) {
    assert_int_equal(tc_ack(&s, MQTT_PUBACK, pid), 0);
  } else if (qos == 2) {
    assert_int_equal(tc_ack(&s, MQTT_PUBREC, pid), 0);
    assert_int_equal(tc_expect(&s, MQTT_PUBREL, 3000), 0);
    assert_int_equal(s.pk.packet_id, pid);
    assert_int_equal(tc_ack(&s, MQTT_PUBCOMP, pid), 0);
  }
  /* the connection still works after the flow */
  assert_int_equal(tc_ack(&s, MQTT_PINGREQ, 0), 0);
  assert_int_equal(tc_expect(&s, MQTT_PINGRESP, 3000), 0);
  tc_close(&s);
  tc_close(&p);
}

static void test_qos0_v311(void **state) { roundtrip(*state, MQTT_LEVEL_311, 0); }
static void test_qos1_v311(void **state) { roundtrip(*state, MQTT_LEVEL_311, 1); }
static void test_qos2_v311(void **state) { roundtrip(*state, MQTT_LEVEL_311, 2); }
static void test_qos0_v5(void **state) { roundtrip(*state, MQTT_LEVEL_5, 0); }
static void test_qos1_v5(void **state) { roundtrip(*state, MQTT_LEVEL_5, 1); }
static void test_qos2_v5(void **state) { roundtrip(*state, MQTT_LEVEL_5, 2); }

static void test_qos_downgraded_to_granted(void **state) {
  fx *f = *state;
  tc s, p;
  assert_int_equal(tc_connect(&s, f->port, MQTT_LEVEL_311, "sub", true), 0);
  assert_int_equal(tc_subscribe(&s, "t", 0), 0);
  assert_int_equal(tc_connect(&p, f->port, MQTT_LEVEL_311, "pub", true), 0);
  assert_int_equal(tc_publish(&p, "t", "x", 2, false), 0);
  assert_int_equal(tc_expect(&s, MQTT_PUBLISH, 3000), 0);
  assert_int_equal(s.pk.qos, 0);
  tc_close(&s);
  tc_close(&p);
}

static void test_retained_replay_and_delete(void **state) {
  fx *f = *state;
  tc p, s;
  assert_int_equal(tc_connect(&p, f->port, MQTT_LEVEL_311, "pub", true), 0);
  assert_int_equal(tc_publish(&p, "r/1", "keep", 1, true), 0);
  assert_int_equal(tc_expect(&p, MQTT_PUBACK, 3000), 0);
  assert_int_equal(tc_connect(&s, f->port, MQTT_LEVEL_311, "sub", true), 0);
  assert_int_equal(tc_subscribe(&s, "r/#", 1), 1);
  assert_int_equal(tc_expect(&s, MQTT_PUBLISH, 3000), 0);
  assert_true(s.pk.retain);
  assert_true(tc_payload_is(&s, "keep"));
  assert_int_equal(tc_ack(&s, MQTT_PUBACK, s.pk.packet_id), 0);
  /* a live delivery has RETAIN 0 (3.1.1 [MQTT-3.3.1-9]) */
  assert_int_equal(tc_publish(&p, "r/1", "live", 0, true), 0);
  assert_int_equal(tc_expect(&s, MQTT_PUBLISH, 3000), 0);
  assert_false(s.pk.retain);
  /* empty payload deletes */
  assert_int_equal(tc_publish(&p, "r/1", "", 1, true), 0);
  assert_int_equal(tc_expect(&p, MQTT_PUBACK, 3000), 0);
  tc_close(&s);
  assert_int_equal(tc_connect(&s, f->port, MQTT_LEVEL_311, "sub2", true), 0);
  assert_int_equal(tc_subscribe(&s, "r/#", 1), 1);
  assert_int_equal(tc_expect(&s, MQTT_PUBLISH, 300), -1);
  tc_close(&s);
  tc_close(&p);
}

static void test_will_on_abrupt_close(void **state) {
  fx *f = *state;
  tc s, w;
  assert_int_equal(tc_connect(&s, f->port, MQTT_LEVEL_311, "sub", true), 0);
  assert_int_equal(tc_subscribe(&s, "will/#", 1), 1);
  mqtt_packet will;
  memset(&will, 0, sizeof(will));
  will.has_will = true;
  will.will_qos = 1;
  will.will_topic.p = (const uint8_t *)"will/x";
  will.will_topic.len = 6;
  will.will_payload.p = (const uint8_t *)"gone";
  will.will_payload.len = 4;
  assert_int_equal(tc_open(&w, f->port, MQTT_LEVEL_311), 0);
  assert_int_equal(tc_connect_ex(&w, "w", true, 60, NULL, 0, &will), 0);
  tc_close(&w);
  assert_int_equal(tc_expect(&s, MQTT_PUBLISH, 3000), 0);
  assert_true(tc_payload_is(&s, "gone"));
  tc_close(&s);
}

static void test_no_will_on_disconnect(void **state) {
  fx *f = *state;
  tc s, w;
  assert_int_equal(tc_connect(&s, f->port, MQTT_LEVEL_311, "sub", true), 0);
  assert_int_equal(tc_subscribe(&s, "will/#", 1), 1);
  mqtt_packet will;
  memset(&will, 0, sizeof(will));
  will.has_will = true;
  will.will_topic.p = (const uint8_t *)"will/x";
  will.will_topic.len = 6;
  will.will_payload.p = (const uint8_t *)"gone";
  will.will_payload.len = 4;
  assert_int_equal(tc_open(&w, f->port, MQTT_LEVEL_311), 0);
  assert_int_equal(tc_connect_ex(&w, "w", true, 60, NULL, 0, &will), 0);
  assert_int_equal(tc_ack(&w, MQTT_DISCONNECT, 0), 0);
  tc_close(&w);
  assert_int_equal(tc_expect(&s, MQTT_PUBLISH, 500), -1);
  tc_close(&s);
}

/* ---- helpers for MQTT 5 property blocks ---- */

static loom_buf props1(uint8_t id, uint32_t v) {
  loom_buf b;
  loom_buf_init(&b);
  assert_int_equal(mqtt_prop_append_num(&b, id, v), 0);
  return b;
}

static bool prop_num(const mqtt_bytes *props, uint8_t id, uint32_t *v) {
  mqtt_prop p;
  if (mqtt_props_find(props->p, props->len, id, &p) != 0) return false;
  if (v) *v = p.num;
  return true;
}

static mqtt_packet will_pk(const char *topic, const char *payload, const uint8_t *props,
                           size_t props_len) {
  mqtt_packet w;
  memset(&w, 0, sizeof(w));
  w.has_will = true;
  w.will_qos = 0;
  w.will_topic.p = (const uint8_t *)topic;
  w.will_topic.len = strlen(topic);
  w.will_payload.p = (const uint8_t *)payload;
  w.will_payload.len = strlen(payload);
  w.will_props.p = props;
  w.will_props.len = props_len;
  return w;
}

static void test_will_delay(void **state) {
  fx *f = *state;
  tc s, w;
  assert_int_equal(tc_connect(&s, f->port, MQTT_LEVEL_5, "sub", true), 0);
  assert_int_equal(tc_subscribe(&s, "will/#", 0), 0);
  loom_buf wp = props1(MQTT_P_WILL_DELAY, 1);
  loom_buf cp = props1(MQTT_P_SESSION_EXPIRY, 30);
  mqtt_packet will = will_pk("will/d", "late", wp.data, wp.len);
  assert_int_equal(tc_open(&w, f->port, MQTT_LEVEL_5), 0);
  assert_int_equal(tc_connect_ex(&w, "wd", true, 60, cp.data, cp.len, &will), 0);
  tc_close(&w);
  /* not at once */
  assert_int_equal(tc_expect(&s, MQTT_PUBLISH, 500), -1);
  assert_int_equal(tc_expect(&s, MQTT_PUBLISH, 2000), 0);
  assert_true(tc_payload_is(&s, "late"));
  loom_buf_deinit(&wp);
  loom_buf_deinit(&cp);
  tc_close(&s);
}

static void test_will_expiry_starts_at_publication(void **state) {
  fx *f = *state;
  tc s, w;
  assert_int_equal(tc_connect(&s, f->port, MQTT_LEVEL_5, "sub", true), 0);
  assert_int_equal(tc_subscribe(&s, "will/#", 1), 1);
  loom_buf wp = props1(MQTT_P_MESSAGE_EXPIRY, 1);
  mqtt_packet will = will_pk("will/e", "fresh", wp.data, wp.len);
  will.will_qos = 1;
  assert_int_equal(tc_open(&w, f->port, MQTT_LEVEL_5), 0);
  assert_int_equal(tc_connect_ex(&w, "we", true, 60, NULL, 0, &will), 0);
  usleep(1500 * 1000); /* longer than the will's expiry interval */
  tc_close(&w);
  assert_int_equal(tc_expect(&s, MQTT_PUBLISH, 3000), 0);
  assert_true(tc_payload_is(&s, "fresh"));
  uint32_t v = 0;
  assert_true(prop_num(&s.pk.props, MQTT_P_MESSAGE_EXPIRY, &v));
  assert_int_equal(v, 1);
  loom_buf_deinit(&wp);
  tc_close(&s);
}

static void test_will_delay_cancelled_by_reconnect(void **state) {
  fx *f = *state;
  tc s, w;
  assert_int_equal(tc_connect(&s, f->port, MQTT_LEVEL_5, "sub", true), 0);
  assert_int_equal(tc_subscribe(&s, "will/#", 0), 0);
  loom_buf wp = props1(MQTT_P_WILL_DELAY, 1);
  loom_buf cp = props1(MQTT_P_SESSION_EXPIRY, 30);
  mqtt_packet will = will_pk("will/d", "late", wp.data, wp.len);
  assert_int_equal(tc_open(&w, f->port, MQTT_LEVEL_5), 0);
  assert_int_equal(tc_connect_ex(&w, "wd", true, 60, cp.data, cp.len, &will), 0);
  tc_close(&w);
  assert_int_equal(tc_open(&w, f->port, MQTT_LEVEL_5), 0);
  assert_int_equal(tc_connect_ex(&w, "wd", false, 60, cp.data, cp.len, NULL), 0);
  assert_true(w.pk.session_present);
  assert_int_equal(tc_expect(&s, MQTT_PUBLISH, 1800), -1);
  loom_buf_deinit(&wp);
  loom_buf_deinit(&cp);
  tc_close(&w);
  tc_close(&s);
}

static void test_will_v5_disconnect_with_will(void **state) {
  fx *f = *state;
  tc s, w;
  assert_int_equal(tc_connect(&s, f->port, MQTT_LEVEL_5, "sub", true), 0);
  assert_int_equal(tc_subscribe(&s, "will/#", 0), 0);
  mqtt_packet will = will_pk("will/x", "bye", NULL, 0);
  assert_int_equal(tc_open(&w, f->port, MQTT_LEVEL_5), 0);
  assert_int_equal(tc_connect_ex(&w, "w", true, 60, NULL, 0, &will), 0);
  mqtt_packet d;
  memset(&d, 0, sizeof(d));
  d.type = MQTT_DISCONNECT;
  d.reason = MQTT_RC_DISCONNECT_WITH_WILL;
  assert_int_equal(tc_send(&w, &d), 0);
  assert_int_equal(tc_expect(&s, MQTT_PUBLISH, 3000), 0);
  assert_true(tc_payload_is(&s, "bye"));
  tc_close(&w);
  tc_close(&s);
}

static void test_will_v5_disconnect_error_reason(void **state) {
  fx *f = *state;
  tc s, w;
  assert_int_equal(tc_connect(&s, f->port, MQTT_LEVEL_5, "sub", true), 0);
  assert_int_equal(tc_subscribe(&s, "will/#", 0), 0);
  mqtt_packet will = will_pk("will/x", "err", NULL, 0);
  assert_int_equal(tc_open(&w, f->port, MQTT_LEVEL_5), 0);
  assert_int_equal(tc_connect_ex(&w, "w", true, 60, NULL, 0, &will), 0);
  mqtt_packet d;
  memset(&d, 0, sizeof(d));
  d.type = MQTT_DISCONNECT;
  d.reason = MQTT_RC_UNSPECIFIED; /* only 0x00 discards the will */
  assert_int_equal(tc_send(&w, &d), 0);
  assert_int_equal(tc_expect(&s, MQTT_PUBLISH, 3000), 0);
  assert_true(tc_payload_is(&s, "err"));
  tc_close(&w);
  tc_close(&s);
}

static void test_retained_message_expiry(void **state) {
  fx *f = *state;
  tc p, s;
  assert_int_equal(tc_connect(&p, f->port, MQTT_LEVEL_5, "p", true), 0);
  loom_buf ep = props1(MQTT_P_MESSAGE_EXPIRY, 1);
  assert_int_equal(tc_publish_ex(&p, "rx/short", "s", 1, true, 1, ep.data, ep.len), 0);
  assert_int_equal(tc_expect(&p, MQTT_PUBACK, 3000), 0);
  assert_int_equal(tc_publish_ex(&p, "rx/long", "l", 1, true, 2, NULL, 0), 0);
  assert_int_equal(tc_expect(&p, MQTT_PUBACK, 3000), 0);
  usleep(1300 * 1000);
  assert_int_equal(tc_connect(&s, f->port, MQTT_LEVEL_5, "s", true), 0);
  assert_int_equal(tc_subscribe(&s, "rx/#", 0), 0);
  assert_int_equal(tc_expect(&s, MQTT_PUBLISH, 3000), 0);
  assert_true(tc_topic_is(&s, "rx/long"));
  assert_int_equal(tc_expect(&s, MQTT_PUBLISH, 300), -1);
  loom_buf_deinit(&ep);
  tc_close(&s);
  tc_close(&p);
}

static void test_session_resume_queued_qos1(void **state) {
  fx *f = *state;
  tc s, p;
  assert_int_equal(tc_connect(&s, f->port, MQTT_LEVEL_311, "pers", false), 0);
  assert_false(s.pk.session_present);
  assert_int_equal(tc_subscribe(&s, "q/#", 1), 1);
  assert_int_equal(tc_ack(&s, MQTT_DISCONNECT, 0), 0);
  assert_true(tc_wait_closed(&s, 2000));
  tc_close(&s);
  assert_int_equal(tc_connect(&p, f->port, MQTT_LEVEL_311, "pub", true), 0);
  assert_int_equal(tc_publish_ex(&p, "q/1", "one", 1, false, 1, NULL, 0), 0);
  assert_int_equal(tc_expect(&p, MQTT_PUBACK, 3000), 0);
  assert_int_equal(tc_publish_ex(&p, "q/2", "two", 1, false, 2, NULL, 0), 0);
  assert_int_equal(tc_expect(&p, MQTT_PUBACK, 3000), 0);
  assert_int_equal(tc_publish_ex(&p, "q/3", "zero", 0, false, 0, NULL, 0), 0);
  assert_int_equal(tc_connect(&s, f->port, MQTT_LEVEL_311, "pers", false), 0);
  assert_true(s.pk.session_present);
  assert_int_equal(tc_expect(&s, MQTT_PUBLISH, 3000), 0);
  assert_true(tc_payload_is(&s, "one"));
  assert_int_equal(tc_ack(&s, MQTT_PUBACK, s.pk.packet_id), 0);
  assert_int_equal(tc_expect(&s, MQTT_PUBLISH, 3000), 0);
  assert_true(tc_payload_is(&s, "two"));
  assert_int_equal(tc_ack(&s, MQTT_PUBACK, s.pk.packet_id), 0);
  /* QoS 0 to an offline client is not kept */
  assert_int_equal(tc_expect(&s, MQTT_PUBLISH, 300), -1);
  tc_close(&s);
  tc_close(&p);
}

static void test_resume_respects_smaller_receive_maximum(void **state) {
  fx *f = *state;
  tc s, p;
  loom_buf cp = props1(MQTT_P_SESSION_EXPIRY, 60);
  assert_int_equal(tc_open(&s, f->port, MQTT_LEVEL_5), 0);
  assert_int_equal(tc_connect_ex(&s, "rrm", true, 60, cp.data, cp.len, NULL), 0);
  assert_int_equal(tc_subscribe(&s, "rrm", 1), 1);
  assert_int_equal(tc_connect(&p, f->port, MQTT_LEVEL_5, "p", true), 0);
  for (uint16_t i = 1; i <= 3; i++)
    assert_int_equal(tc_publish_ex(&p, "rrm", "x", 1, false, i, NULL, 0), 0);
  for (int i = 0; i < 3; i++) assert_int_equal(tc_expect(&s, MQTT_PUBLISH, 3000), 0);
  tc_close(&s); /* none acknowledged */
  assert_int_equal(mqtt_prop_append_num(&cp, MQTT_P_RECEIVE_MAXIMUM, 2), 0);
  assert_int_equal(tc_open(&s, f->port, MQTT_LEVEL_5), 0);
  assert_int_equal(tc_connect_ex(&s, "rrm", false, 60, cp.data, cp.len, NULL), 0);
  assert_true(s.pk.session_present);
  uint16_t ids[2];
  for (int i = 0; i < 2; i++) {
    assert_int_equal(tc_expect(&s, MQTT_PUBLISH, 3000), 0);
    assert_true(s.pk.dup);
    ids[i] = s.pk.packet_id;
  }
  assert_int_equal(tc_expect(&s, MQTT_PUBLISH, 400), -1); /* the third waits */
  assert_int_equal(tc_ack(&s, MQTT_PUBACK, ids[0]), 0);
  assert_int_equal(tc_expect(&s, MQTT_PUBLISH, 3000), 0);
  loom_buf_deinit(&cp);
  tc_close(&s);
  tc_close(&p);
}

static void test_v31_connack_has_no_session_present(void **state) {
  fx *f = *state;
  tc c;
  assert_int_equal(tc_connect(&c, f->port, MQTT_LEVEL_31, "v31", false), 0);
  tc_close(&c);
  assert_int_equal(tc_connect(&c, f->port, MQTT_LEVEL_31, "v31", false), 0);
  assert_int_equal(c.pkt.data[2], 0); /* byte 2 reserved at 3.1 */
  tc_close(&c);
}

static void test_publish_then_stop_delivers(void **state) {
  fx *f = *state;
  tc c;
  assert_int_equal(tc_connect(&c, f->port, MQTT_LEVEL_311, "c", true), 0);
  assert_int_equal(tc_subscribe(&c, "bye", 0), 0);
  assert_int_equal(mqtt_broker_publish(f->b, "bye", "last", 4, 0, false), 0);
  mqtt_broker_stop(f->b);
  f->b = NULL; /* teardown: nothing to stop */
  assert_int_equal(tc_expect(&c, MQTT_PUBLISH, 3000), 0);
  assert_true(tc_payload_is(&c, "last"));
  tc_close(&c);
}

static void test_clean_start_discards_session(void **state) {
  fx *f = *state;
  tc s;
  assert_int_equal(tc_connect(&s, f->port, MQTT_LEVEL_311, "pers", false), 0);
  assert_int_equal(tc_subscribe(&s, "q/#", 1), 1);
  tc_close(&s);
  assert_int_equal(tc_connect(&s, f->port, MQTT_LEVEL_311, "pers", true), 0);
  assert_false(s.pk.session_present);
  tc_close(&s);
}

static void test_takeover(void **state) {
  fx *f = *state;
  tc a, b2;
  assert_int_equal(tc_connect(&a, f->port, MQTT_LEVEL_5, "same", true), 0);
  assert_int_equal(tc_connect(&b2, f->port, MQTT_LEVEL_5, "same", true), 0);
  assert_int_equal(tc_expect(&a, MQTT_DISCONNECT, 3000), 0);
  assert_int_equal(a.pk.reason, MQTT_RC_SESSION_TAKEN_OVER);
  assert_true(tc_wait_closed(&a, 2000));
  assert_int_equal(tc_ack(&b2, MQTT_PINGREQ, 0), 0);
  assert_int_equal(tc_expect(&b2, MQTT_PINGRESP, 3000), 0);
  tc_close(&a);
  tc_close(&b2);
}

static void test_takeover_disconnect_after_backlog(void **state) {
  fx *f = *state;
  tc a, b2, p;
  /* a small receive window, set before connecting */
  memset(&a, 0, sizeof(a));
  a.level = MQTT_LEVEL_5;
  a.fd = socket(AF_INET, SOCK_STREAM, 0);
  int rb = 1 << 14;
  setsockopt(a.fd, SOL_SOCKET, SO_RCVBUF, &rb, sizeof(rb));
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)f->port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(connect(a.fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
  assert_int_equal(tc_connect_ex(&a, "slow", true, 60, NULL, 0, NULL), 0);
  assert_int_equal(tc_subscribe(&a, "big", 0), 0);
  assert_int_equal(tc_connect(&p, f->port, MQTT_LEVEL_5, "p", true), 0);
  static char big[60001];
  memset(big, 'b', sizeof(big) - 1);
  for (int i = 0; i < 250; i++) assert_int_equal(tc_publish(&p, "big", big, 0, false), 0);
  usleep(500 * 1000); /* the broker has more queued for "slow" than the socket takes */
  assert_int_equal(tc_connect(&b2, f->port, MQTT_LEVEL_5, "slow", true), 0);
  /* the old connection still gets everything queued, then DISCONNECT 0x8E */
  int n = 0, last_type = 0, last_reason = -1;
  for (;;) {
    int rc = tc_recv(&a, 3000);
    if (rc) break;
    n++;
    last_type = a.pk.type;
    last_reason = a.pk.reason;
  }
  assert_true(n > 1);
  assert_int_equal(last_type, MQTT_DISCONNECT);
  assert_int_equal(last_reason, MQTT_RC_SESSION_TAKEN_OVER);
  tc_close(&a);
  tc_close(&b2);
  tc_close(&p);
}

static void test_shared_round_robin(void **state) {
  fx *f = *state;
  tc s1, s2, p;
  assert_int_equal(tc_connect(&s1, f->port, MQTT_LEVEL_5, "s1", true), 0);
  assert_int_equal(tc_subscribe(&s1, "$share/g/job/#", 0), 0);
  assert_int_equal(tc_connect(&s2, f->port, MQTT_LEVEL_5, "s2", true), 0);
  assert_int_equal(tc_subscribe(&s2, "$share/g/job/#", 0), 0);
  assert_int_equal(tc_connect(&p, f->port, MQTT_LEVEL_5, "p", true), 0);
  for (int i = 0; i < 4; i++) assert_int_equal(tc_publish(&p, "job/x", "j", 0, false), 0);
  int n1 = 0, n2 = 0;
  while (tc_expect(&s1, MQTT_PUBLISH, 400) == 0) n1++;
  while (tc_expect(&s2, MQTT_PUBLISH, 400) == 0) n2++;
  assert_int_equal(n1, 2);
  assert_int_equal(n2, 2);
  tc_close(&s1);
  tc_close(&s2);
  tc_close(&p);
}

/* A level 5 client with Session Expiry 300 s (its session outlives it). */
static int connect_persistent(tc *c, int port, const char *id) {
  if (tc_open(c, port, MQTT_LEVEL_5)) return -2;
  loom_buf ep = props1(MQTT_P_SESSION_EXPIRY, 300);
  int rc = tc_connect_ex(c, id, false, 60, ep.data, ep.len, NULL);
  loom_buf_deinit(&ep);
  return rc;
}

static void leave(tc *c) {
  assert_int_equal(tc_ack(c, MQTT_DISCONNECT, 0), 0);
  assert_true(tc_wait_closed(c, 2000));
  tc_close(c);
  usleep(100 * 1000); /* the broker handles the close */
}

static void test_shared_skips_offline_member(void **state) {
  fx *f = *state;
  tc s1, s2, p;
  assert_int_equal(connect_persistent(&s1, f->port, "off1"), 0);
  assert_int_equal(tc_subscribe(&s1, "$share/g/job/#", 1), 1);
  assert_int_equal(tc_connect(&s2, f->port, MQTT_LEVEL_5, "on2", true), 0);
  assert_int_equal(tc_subscribe(&s2, "$share/g/job/#", 1), 1);
  leave(&s1);
  assert_int_equal(tc_connect(&p, f->port, MQTT_LEVEL_5, "p", true), 0);
  for (int i = 0; i < 4; i++) assert_int_equal(tc_publish(&p, "job/x", "q0", 0, false), 0);
  for (uint16_t i = 1; i <= 2; i++) {
    assert_int_equal(tc_publish_ex(&p, "job/x", "q1", 1, false, i, NULL, 0), 0);
    assert_int_equal(tc_expect(&p, MQTT_PUBACK, 3000), 0);
  }
  /* every message goes to the connected member */
  int q0 = 0, q1 = 0;
  while (tc_expect(&s2, MQTT_PUBLISH, 400) == 0) {
    if (s2.pk.qos) {
      q1++;
      assert_int_equal(tc_ack(&s2, MQTT_PUBACK, s2.pk.packet_id), 0);
    } else {
      q0++;
    }
  }
  assert_int_equal(q0, 4);
  assert_int_equal(q1, 2);
  /* nothing was parked in the offline member's queue */
  assert_int_equal(connect_persistent(&s1, f->port, "off1"), 0);
  assert_true(s1.pk.session_present);
  assert_int_equal(tc_expect(&s1, MQTT_PUBLISH, 400), -1);
  tc_close(&s1);
  tc_close(&s2);
  tc_close(&p);
}

static void test_shared_all_offline_queues_qos1_drops_qos0(void **state) {
  fx *f = *state;
  tc s1, p;
  assert_int_equal(connect_persistent(&s1, f->port, "alone"), 0);
  assert_int_equal(tc_subscribe(&s1, "$share/g/job/#", 1), 1);
  leave(&s1);
  mqtt_broker_stats st0, st1;
  mqtt_broker_stats_get(f->b, &st0);
  assert_int_equal(tc_connect(&p, f->port, MQTT_LEVEL_5, "p", true), 0);
  assert_int_equal(tc_publish(&p, "job/x", "zero", 0, false), 0);
  assert_int_equal(tc_publish_ex(&p, "job/x", "one", 1, false, 1, NULL, 0), 0);
  assert_int_equal(tc_expect(&p, MQTT_PUBACK, 3000), 0);
  mqtt_broker_stats_get(f->b, &st1);
  assert_int_equal(st1.msgs_dropped, st0.msgs_dropped + 1);
  assert_int_equal(connect_persistent(&s1, f->port, "alone"), 0);
  assert_true(s1.pk.session_present);
  assert_int_equal(tc_expect(&s1, MQTT_PUBLISH, 3000), 0);
  assert_true(tc_payload_is(&s1, "one"));
  assert_int_equal(tc_ack(&s1, MQTT_PUBACK, s1.pk.packet_id), 0);
  assert_int_equal(tc_expect(&s1, MQTT_PUBLISH, 400), -1);
  tc_close(&s1);
  tc_close(&p);
}

static void test_no_local(void **state) {
  fx *f = *state;
  tc a, b2;
  assert_int_equal(tc_connect(&a, f->port, MQTT_LEVEL_5, "a", true), 0);
  assert_int_equal(tc_subscribe_ex(&a, 1, "chat", MQTT_SUBOPT_NO_LOCAL, NULL, 0), 0);
  assert_int_equal(tc_connect(&b2, f->port, MQTT_LEVEL_5, "b", true), 0);
  assert_int_equal(tc_publish(&a, "chat", "mine", 0, false), 0);
  assert_int_equal(tc_publish(&b2, "chat", "theirs", 0, false), 0);
  assert_int_equal(tc_expect(&a, MQTT_PUBLISH, 3000), 0);
  assert_true(tc_payload_is(&a, "theirs"));
  tc_close(&a);
  tc_close(&b2);
}

static void test_subscription_identifier(void **state) {
  fx *f = *state;
  tc s;
  assert_int_equal(tc_connect(&s, f->port, MQTT_LEVEL_5, "s", true), 0);
  loom_buf sp = props1(MQTT_P_SUBSCRIPTION_ID, 42);
  assert_int_equal(tc_subscribe_ex(&s, 1, "id/#", 0, sp.data, sp.len), 0);
  assert_int_equal(tc_publish(&s, "id/1", "x", 0, false), 0);
  assert_int_equal(tc_expect(&s, MQTT_PUBLISH, 3000), 0);
  uint32_t v = 0;
  assert_true(prop_num(&s.pk.props, MQTT_P_SUBSCRIPTION_ID, &v));
  assert_int_equal(v, 42);
  loom_buf_deinit(&sp);
  tc_close(&s);
}

static void test_topic_alias_inbound(void **state) {
  fx *f = *state;
  tc s, p;
  assert_int_equal(tc_connect(&s, f->port, MQTT_LEVEL_5, "s", true), 0);
  assert_int_equal(tc_subscribe(&s, "alias/#", 0), 0);
  assert_int_equal(tc_connect(&p, f->port, MQTT_LEVEL_5, "p", true), 0);
  loom_buf ap = props1(MQTT_P_TOPIC_ALIAS, 3);
  assert_int_equal(tc_publish_ex(&p, "alias/long/name", "1", 0, false, 0, ap.data, ap.len), 0);
  assert_int_equal(tc_publish_ex(&p, "", "2", 0, false, 0, ap.data, ap.len), 0);
  assert_int_equal(tc_expect(&s, MQTT_PUBLISH, 3000), 0);
  assert_true(tc_topic_is(&s, "alias/long/name"));
  assert_int_equal(tc_expect(&s, MQTT_PUBLISH, 3000), 0);
  assert_true(tc_topic_is(&s, "alias/long/name"));
  assert_true(tc_payload_is(&s, "2"));
  loom_buf_deinit(&ap);
  tc_close(&s);
  tc_close(&p);
}

static void test_topic_alias_unknown_is_protocol_error(void **state) {
  fx *f = *state;
  tc p;
  assert_int_equal(tc_connect(&p, f->port, MQTT_LEVEL_5, "p", true), 0);
  loom_buf ap = props1(MQTT_P_TOPIC_ALIAS, 2);
  assert_int_equal(tc_publish_ex(&p, "", "x", 0, false, 0, ap.data, ap.len), 0);
  assert_int_equal(tc_expect(&p, MQTT_DISCONNECT, 3000), 0);
  assert_int_equal(p.pk.reason, MQTT_RC_PROTOCOL_ERROR);
  loom_buf_deinit(&ap);
  tc_close(&p);
}

static void test_topic_alias_outbound(void **state) {
  fx *f = *state;
  tc s;
  assert_int_equal(tc_open(&s, f->port, MQTT_LEVEL_5), 0);
  loom_buf cp = props1(MQTT_P_TOPIC_ALIAS_MAXIMUM, 4);
  assert_int_equal(tc_connect_ex(&s, "s", true, 60, cp.data, cp.len, NULL), 0);
  assert_int_equal(tc_subscribe(&s, "out/#", 0), 0);
  assert_int_equal(tc_publish(&s, "out/topic", "a", 0, false), 0);
  assert_int_equal(tc_publish(&s, "out/topic", "b", 0, false), 0);
  uint32_t a1 = 0, a2 = 0;
  assert_int_equal(tc_expect(&s, MQTT_PUBLISH, 3000), 0);
  assert_true(tc_topic_is(&s, "out/topic"));
  assert_true(prop_num(&s.pk.props, MQTT_P_TOPIC_ALIAS, &a1));
  assert_int_equal(tc_expect(&s, MQTT_PUBLISH, 3000), 0);
  assert_int_equal(s.pk.topic.len, 0);
  assert_true(prop_num(&s.pk.props, MQTT_P_TOPIC_ALIAS, &a2));
  assert_int_equal(a1, a2);
  loom_buf_deinit(&cp);
  tc_close(&s);
}

static void test_keepalive_timeout_v5(void **state) {
  fx *f = *state;
  tc c;
  assert_int_equal(tc_open(&c, f->port, MQTT_LEVEL_5), 0);
  assert_int_equal(tc_connect_ex(&c, "ka", true, 1, NULL, 0, NULL), 0);
  assert_int_equal(tc_expect(&c, MQTT_DISCONNECT, 4000), 0);
  assert_int_equal(c.pk.reason, MQTT_RC_KEEP_ALIVE_TIMEOUT);
  assert_true(tc_wait_closed(&c, 2000));
  tc_close(&c);
}

static void test_keepalive_kept_by_ping(void **state) {
  fx *f = *state;
  tc c;
  assert_int_equal(tc_open(&c, f->port, MQTT_LEVEL_311), 0);
  assert_int_equal(tc_connect_ex(&c, "ka", true, 1, NULL, 0, NULL), 0);
  for (int i = 0; i < 4; i++) {
    usleep(600 * 1000);
    assert_int_equal(tc_ack(&c, MQTT_PINGREQ, 0), 0);
    assert_int_equal(tc_expect(&c, MQTT_PINGRESP, 2000), 0);
  }
  tc_close(&c);
}

static void test_receive_maximum_outbound(void **state) {
  fx *f = *state;
  tc s, p;
  assert_int_equal(tc_open(&s, f->port, MQTT_LEVEL_5), 0);
  loom_buf cp = props1(MQTT_P_RECEIVE_MAXIMUM, 1);
  assert_int_equal(tc_connect_ex(&s, "s", true, 60, cp.data, cp.len, NULL), 0);
  assert_int_equal(tc_subscribe(&s, "rm", 1), 1);
  assert_int_equal(tc_connect(&p, f->port, MQTT_LEVEL_5, "p", true), 0);
  for (uint16_t i = 1; i <= 3; i++)
    assert_int_equal(tc_publish_ex(&p, "rm", "x", 1, false, i, NULL, 0), 0);
  assert_int_equal(tc_expect(&s, MQTT_PUBLISH, 3000), 0);
  uint16_t pid = s.pk.packet_id;
  assert_int_equal(tc_expect(&s, MQTT_PUBLISH, 400), -1); /* window full */
  assert_int_equal(tc_ack(&s, MQTT_PUBACK, pid), 0);
  assert_int_equal(tc_expect(&s, MQTT_PUBLISH, 3000), 0);
  loom_buf_deinit(&cp);
  tc_close(&s);
  tc_close(&p);
}

static void test_receive_maximum_inbound_exceeded(void **state) {
  fx *f = *state;
  tc p;
  assert_int_equal(tc_connect(&p, f->port, MQTT_LEVEL_5, "p", true), 0);
  /* QoS 2 ids stay until PUBREL: 65 of them exceed our Receive Maximum 64 */
  for (uint16_t i = 1; i <= 65; i++)
    assert_int_equal(tc_publish_ex(&p, "rm", "x", 2, false, i, NULL, 0), 0);
  assert_int_equal(tc_expect(&p, MQTT_DISCONNECT, 3000), 0);
  assert_int_equal(p.pk.reason, MQTT_RC_RECEIVE_MAX_EXCEEDED);
  tc_close(&p);
}

static void test_max_packet_outbound_dropped(void **state) {
  fx *f = *state;
  tc s, p;
  assert_int_equal(tc_open(&s, f->port, MQTT_LEVEL_5), 0);
  loom_buf cp = props1(MQTT_P_MAXIMUM_PACKET_SIZE, 64);
  assert_int_equal(tc_connect_ex(&s, "s", true, 60, cp.data, cp.len, NULL), 0);
  assert_int_equal(tc_subscribe(&s, "mp", 0), 0);
  assert_int_equal(tc_connect(&p, f->port, MQTT_LEVEL_5, "p", true), 0);
  char big[200];
  memset(big, 'x', sizeof(big) - 1);
  big[sizeof(big) - 1] = 0;
  assert_int_equal(tc_publish(&p, "mp", big, 0, false), 0);
  assert_int_equal(tc_publish(&p, "mp", "small", 0, false), 0);
  assert_int_equal(tc_expect(&s, MQTT_PUBLISH, 3000), 0);
  assert_true(tc_payload_is(&s, "small"));
  loom_buf_deinit(&cp);
  tc_close(&s);
  tc_close(&p);
}

static int setup_small(void **state) {
  mqtt_limits l;
  memset(&l, 0, sizeof(l));
  l.max_packet = 1024;
  l.preauth_max_packet = 512;
  l.connect_timeout_ms = 600;
  l.max_subs_per_client = 2;
  l.keepalive_max = 30;
  l.session_expiry_max = 100;
  return start_with(state, &l);
}

static void test_max_packet_inbound(void **state) {
  fx *f = *state;
  tc p;
  assert_int_equal(tc_connect(&p, f->port, MQTT_LEVEL_5, "p", true), 0);
  uint32_t mp = 0;
  assert_true(prop_num(&p.pk.props, MQTT_P_MAXIMUM_PACKET_SIZE, &mp));
  assert_int_equal(mp, 1024);
  char big[2000];
  memset(big, 'x', sizeof(big) - 1);
  big[sizeof(big) - 1] = 0;
  assert_int_equal(tc_publish(&p, "mp", big, 0, false), 0);
  assert_int_equal(tc_expect(&p, MQTT_DISCONNECT, 3000), 0);
  assert_int_equal(p.pk.reason, MQTT_RC_PACKET_TOO_LARGE);
  tc_close(&p);
}

static void test_preauth_flood_dropped(void **state) {
  fx *f = *state;
  tc c;
  assert_int_equal(tc_open(&c, f->port, MQTT_LEVEL_311), 0);
  /* a CONNECT header announcing ~1 MB, then the bytes */
  uint8_t hdr[4] = {0x10, 0x80, 0x80, 0x40};
  tc_send_raw(&c, hdr, sizeof(hdr));
  static uint8_t junk[1 << 20];
  tc_send_raw(&c, junk, 4096); /* the rest would fail: closed */
  assert_true(tc_wait_closed(&c, 2000));
  tc_close(&c);
}

static void test_connect_timeout(void **state) {
  fx *f = *state;
  tc c;
  assert_int_equal(tc_open(&c, f->port, MQTT_LEVEL_311), 0);
  assert_true(tc_wait_closed(&c, 3000));
  tc_close(&c);
}

static void test_max_subs_per_client(void **state) {
  fx *f = *state;
  tc c;
  assert_int_equal(tc_connect(&c, f->port, MQTT_LEVEL_5, "c", true), 0);
  assert_int_equal(tc_subscribe(&c, "a", 0), 0);
  assert_int_equal(tc_subscribe(&c, "b", 0), 0);
  assert_int_equal(tc_subscribe(&c, "a", 1), 1); /* replacing is not a new one */
  assert_int_equal(tc_subscribe(&c, "c", 0), MQTT_RC_QUOTA_EXCEEDED);
  tc_close(&c);
}

static void test_server_keepalive_and_expiry_capped(void **state) {
  fx *f = *state;
  tc c;
  assert_int_equal(tc_open(&c, f->port, MQTT_LEVEL_5), 0);
  loom_buf cp = props1(MQTT_P_SESSION_EXPIRY, 1000);
  assert_int_equal(tc_connect_ex(&c, "c", true, 0, cp.data, cp.len, NULL), 0);
  uint32_t v = 0;
  assert_true(prop_num(&c.pk.props, MQTT_P_SERVER_KEEP_ALIVE, &v));
  assert_int_equal(v, 30);
  assert_true(prop_num(&c.pk.props, MQTT_P_SESSION_EXPIRY, &v));
  assert_int_equal(v, 100);
  loom_buf_deinit(&cp);
  tc_close(&c);
}

static void test_retain_handling_and_rap(void **state) {
  fx *f = *state;
  tc c;
  assert_int_equal(tc_connect(&c, f->port, MQTT_LEVEL_5, "c", true), 0);
  assert_int_equal(tc_publish(&c, "rh/1", "r", 1, true), 0);
  assert_int_equal(tc_expect(&c, MQTT_PUBACK, 3000), 0);
  /* retain handling 2: never */
  assert_int_equal(tc_subscribe_ex(&c, 1, "rh/#", 0x20, NULL, 0), 0);
  assert_int_equal(tc_expect(&c, MQTT_PUBLISH, 300), -1);
  /* retain handling 1 on an existing subscription: not sent */
  assert_int_equal(tc_subscribe_ex(&c, 2, "rh/#", 0x10, NULL, 0), 0);
  assert_int_equal(tc_expect(&c, MQTT_PUBLISH, 300), -1);
  /* retain handling 1 on a new one: sent, RETAIN 1 */
  assert_int_equal(tc_subscribe_ex(&c, 3, "rh/+", 0x10, NULL, 0), 0);
  assert_int_equal(tc_expect(&c, MQTT_PUBLISH, 3000), 0);
  assert_true(c.pk.retain);
  /* retain as published keeps RETAIN on live messages */
  assert_int_equal(tc_subscribe_ex(&c, 4, "rap", MQTT_SUBOPT_RAP | 0x20, NULL, 0), 0);
  assert_int_equal(tc_publish(&c, "rap", "x", 0, true), 0);
  assert_int_equal(tc_expect(&c, MQTT_PUBLISH, 3000), 0);
  assert_true(c.pk.retain);
  tc_close(&c);
}

static void test_unsubscribe_reason_codes(void **state) {
  fx *f = *state;
  tc c;
  assert_int_equal(tc_connect(&c, f->port, MQTT_LEVEL_5, "c", true), 0);
  assert_int_equal(tc_subscribe(&c, "u/1", 0), 0);
  mqtt_sub us[2] = {{.filter = {(const uint8_t *)"u/1", 3}}, {.filter = {(const uint8_t *)"u/2", 3}}};
  mqtt_packet pk;
  memset(&pk, 0, sizeof(pk));
  pk.type = MQTT_UNSUBSCRIBE;
  pk.packet_id = 9;
  pk.subs = us;
  pk.n_subs = 2;
  assert_int_equal(tc_send(&c, &pk), 0);
  assert_int_equal(tc_expect(&c, MQTT_UNSUBACK, 3000), 0);
  assert_int_equal(c.pk.packet_id, 9);
  assert_int_equal(c.pk.list.len, 2);
  assert_int_equal(c.pk.list.p[0], 0);
  assert_int_equal(c.pk.list.p[1], MQTT_RC_NO_SUBSCRIPTION_EXISTED);
  /* no longer delivered */
  assert_int_equal(tc_publish(&c, "u/1", "x", 0, false), 0);
  assert_int_equal(tc_expect(&c, MQTT_PUBLISH, 300), -1);
  tc_close(&c);
}

static void test_invalid_filter_suback(void **state) {
  fx *f = *state;
  tc c;
  assert_int_equal(tc_connect(&c, f->port, MQTT_LEVEL_311, "c", true), 0);
  assert_int_equal(tc_subscribe(&c, "a/#/b", 0), 0x80);
  tc_close(&c);
}

static void test_dollar_topic_refused(void **state) {
  fx *f = *state;
  tc c;
  assert_int_equal(tc_connect(&c, f->port, MQTT_LEVEL_5, "c", true), 0);
  assert_int_equal(tc_subscribe(&c, "$SYS/test", 0), 0);
  assert_int_equal(tc_publish(&c, "$SYS/test", "x", 1, false), 0);
  assert_int_equal(tc_expect(&c, MQTT_PUBACK, 3000), 0);
  assert_int_equal(c.pk.reason, MQTT_RC_NOT_AUTHORIZED);
  assert_int_equal(tc_expect(&c, MQTT_PUBLISH, 300), -1);
  tc_close(&c);
}

static void test_other_dollar_topic_routed(void **state) {
  fx *f = *state;
  tc c;
  assert_int_equal(tc_connect(&c, f->port, MQTT_LEVEL_311, "c", true), 0);
  assert_int_equal(tc_subscribe(&c, "#", 0), 0);
  assert_int_equal(tc_subscribe(&c, "$dlr/x", 0), 0);
  assert_int_equal(tc_publish(&c, "$dlr/x", "d", 0, false), 0);
  assert_int_equal(tc_expect(&c, MQTT_PUBLISH, 3000), 0);
  assert_true(tc_topic_is(&c, "$dlr/x"));
  assert_int_equal(tc_expect(&c, MQTT_PUBLISH, 300), -1); /* once: '#' does not match '$' */
  tc_close(&c);
}

static void test_several_subscription_identifiers(void **state) {
  fx *f = *state;
  tc s;
  assert_int_equal(tc_connect(&s, f->port, MQTT_LEVEL_5, "s", true), 0);
  loom_buf p1 = props1(MQTT_P_SUBSCRIPTION_ID, 7);
  loom_buf p2 = props1(MQTT_P_SUBSCRIPTION_ID, 268435455);
  assert_int_equal(tc_subscribe_ex(&s, 1, "si/#", 0, p1.data, p1.len), 0);
  assert_int_equal(tc_subscribe_ex(&s, 2, "si/+", 0, p2.data, p2.len), 0);
  assert_int_equal(tc_publish(&s, "si/x", "x", 0, false), 0);
  assert_int_equal(tc_expect(&s, MQTT_PUBLISH, 3000), 0);
  mqtt_prop_it it;
  mqtt_prop pr;
  uint32_t ids[4];
  int n = 0;
  mqtt_prop_it_init(&it, s.pk.props.p, s.pk.props.len);
  while (mqtt_prop_next(&it, &pr) == 1)
    if (pr.id == MQTT_P_SUBSCRIPTION_ID && n < 4) ids[n++] = pr.num;
  assert_int_equal(n, 2);
  assert_true((ids[0] == 7 && ids[1] == 268435455) || (ids[1] == 7 && ids[0] == 268435455));
  assert_int_equal(tc_expect(&s, MQTT_PUBLISH, 300), -1);
  loom_buf_deinit(&p1);
  loom_buf_deinit(&p2);
  tc_close(&s);
}

static void test_response_topic_wildcard_closes(void **state) {
  fx *f = *state;
  tc c;
  assert_int_equal(tc_connect(&c, f->port, MQTT_LEVEL_5, "c", true), 0);
  loom_buf pp;
  loom_buf_init(&pp);
  assert_int_equal(mqtt_prop_append_bytes(&pp, MQTT_P_RESPONSE_TOPIC, "r/#", 3), 0);
  assert_int_equal(tc_publish_ex(&c, "t", "x", 0, false, 0, pp.data, pp.len), 0);
  assert_int_equal(tc_expect(&c, MQTT_DISCONNECT, 3000), 0);
  assert_int_equal(c.pk.reason, MQTT_RC_PROTOCOL_ERROR);
  loom_buf_deinit(&pp);
  tc_close(&c);
}

static void test_session_expiry_frees_session(void **state) {
  fx *f = *state;
  tc c;
  loom_buf cp = props1(MQTT_P_SESSION_EXPIRY, 1);
  assert_int_equal(tc_open(&c, f->port, MQTT_LEVEL_5), 0);
  assert_int_equal(tc_connect_ex(&c, "exp", true, 60, cp.data, cp.len, NULL), 0);
  assert_int_equal(tc_subscribe(&c, "e/#", 1), 1);
  tc_close(&c);
  /* within the interval: resumed */
  assert_int_equal(tc_open(&c, f->port, MQTT_LEVEL_5), 0);
  assert_int_equal(tc_connect_ex(&c, "exp", false, 60, cp.data, cp.len, NULL), 0);
  assert_true(c.pk.session_present);
  tc_close(&c);
  usleep(1700 * 1000);
  assert_int_equal(tc_open(&c, f->port, MQTT_LEVEL_5), 0);
  assert_int_equal(tc_connect_ex(&c, "exp", false, 60, cp.data, cp.len, NULL), 0);
  assert_false(c.pk.session_present);
  mqtt_broker_stats st;
  mqtt_broker_stats_get(f->b, &st);
  assert_int_equal(st.subscriptions, 0); /* freed with the session */
  loom_buf_deinit(&cp);
  tc_close(&c);
}

static void test_will_at_session_end_before_delay(void **state) {
  fx *f = *state;
  tc s, w;
  assert_int_equal(tc_connect(&s, f->port, MQTT_LEVEL_5, "sub", true), 0);
  assert_int_equal(tc_subscribe(&s, "will/#", 0), 0);
  loom_buf wp = props1(MQTT_P_WILL_DELAY, 60);
  loom_buf cp = props1(MQTT_P_SESSION_EXPIRY, 1);
  mqtt_packet will = will_pk("will/e", "end", wp.data, wp.len);
  assert_int_equal(tc_open(&w, f->port, MQTT_LEVEL_5), 0);
  assert_int_equal(tc_connect_ex(&w, "we", true, 60, cp.data, cp.len, &will), 0);
  tc_close(&w);
  assert_int_equal(tc_expect(&s, MQTT_PUBLISH, 500), -1);
  assert_int_equal(tc_expect(&s, MQTT_PUBLISH, 2500), 0);
  assert_true(tc_payload_is(&s, "end"));
  loom_buf_deinit(&wp);
  loom_buf_deinit(&cp);
  tc_close(&s);
}

static void test_qos2_duplicate_delivered_once(void **state) {
  fx *f = *state;
  tc s, p;
  assert_int_equal(tc_connect(&s, f->port, MQTT_LEVEL_311, "s", true), 0);
  assert_int_equal(tc_subscribe(&s, "d", 0), 0);
  assert_int_equal(tc_connect(&p, f->port, MQTT_LEVEL_311, "p", true), 0);
  assert_int_equal(tc_publish_ex(&p, "d", "x", 2, false, 5, NULL, 0), 0);
  assert_int_equal(tc_expect(&p, MQTT_PUBREC, 3000), 0);
  mqtt_packet dup;
  memset(&dup, 0, sizeof(dup));
  dup.type = MQTT_PUBLISH;
  dup.topic.p = (const uint8_t *)"d";
  dup.topic.len = 1;
  dup.payload.p = (const uint8_t *)"x";
  dup.payload.len = 1;
  dup.qos = 2;
  dup.dup = true;
  dup.packet_id = 5;
  assert_int_equal(tc_send(&p, &dup), 0);
  assert_int_equal(tc_expect(&p, MQTT_PUBREC, 3000), 0);
  assert_int_equal(p.pk.packet_id, 5);
  assert_int_equal(tc_ack(&p, MQTT_PUBREL, 5), 0);
  assert_int_equal(tc_expect(&p, MQTT_PUBCOMP, 3000), 0);
  assert_int_equal(tc_expect(&s, MQTT_PUBLISH, 3000), 0);
  assert_int_equal(tc_expect(&s, MQTT_PUBLISH, 300), -1);
  tc_close(&s);
  tc_close(&p);
}

static void test_stop_sends_no_wills(void **state) {
  fx *f = *state;
  tc w, s;
  assert_int_equal(tc_connect(&s, f->port, MQTT_LEVEL_311, "s", true), 0);
  assert_int_equal(tc_subscribe(&s, "will/#", 0), 0);
  mqtt_packet will = will_pk("will/s", "x", NULL, 0);
  assert_int_equal(tc_open(&w, f->port, MQTT_LEVEL_311), 0);
  assert_int_equal(tc_connect_ex(&w, "w", true, 60, NULL, 0, &will), 0);
  mqtt_broker_stop(f->b);
  f->b = NULL; /* teardown: nothing to stop */
  assert_true(tc_wait_closed(&w, 2000));
  assert_int_equal(tc_expect(&s, MQTT_PUBLISH, 2000), -2); /* closed, no will first */
  tc_close(&w);
  tc_close(&s);
}

static int setup_max_conns(void **state) {
  mqtt_limits l;
  memset(&l, 0, sizeof(l));
  l.max_conns = 1;
  return start_with(state, &l);
}

static void test_max_conns(void **state) {
  fx *f = *state;
  tc a, c;
  assert_int_equal(tc_connect(&a, f->port, MQTT_LEVEL_311, "a", true), 0);
  assert_int_equal(tc_open(&c, f->port, MQTT_LEVEL_311), 0);
  assert_true(tc_wait_closed(&c, 2000));
  tc_close(&c);
  tc_close(&a);
  usleep(100 * 1000);
  assert_int_equal(tc_connect(&a, f->port, MQTT_LEVEL_311, "a", true), 0);
  tc_close(&a);
  mqtt_broker_stats st;
  mqtt_broker_stats_get(f->b, &st);
  assert_int_equal(st.conns_refused, 1);
}

static int setup_conn_rate(void **state) {
  mqtt_limits l;
  memset(&l, 0, sizeof(l));
  l.conn_rate = 1;
  return start_with(state, &l);
}

static void test_conn_rate(void **state) {
  fx *f = *state;
  tc a, c;
  /* the bucket holds 1 token: the second connection within a second is refused */
  assert_int_equal(tc_connect(&a, f->port, MQTT_LEVEL_311, "a", true), 0);
  assert_int_equal(tc_open(&c, f->port, MQTT_LEVEL_311), 0);
  assert_true(tc_wait_closed(&c, 2000));
  tc_close(&c);
  tc_close(&a);
  usleep(1100 * 1000);
  assert_int_equal(tc_connect(&a, f->port, MQTT_LEVEL_311, "a", true), 0);
  tc_close(&a);
}

static void test_autosave_while_running(void **state) {
  (void)state;
  char dir[] = "/tmp/loom-broker-autosave-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[256];
  snprintf(path, sizeof(path), "%s/mqtt.snap", dir);
  mqtt_broker_cfg cfg;
  memset(&cfg, 0, sizeof(cfg));
  cfg.listen = "127.0.0.1:0";
  cfg.allow_anonymous = true;
  cfg.state_dir = dir;
  cfg.autosave_s = 1;
  mqtt_broker *b = NULL;
  assert_int_equal(mqtt_broker_start(&cfg, &b, NULL, 0), 0);
  usleep(1300 * 1000);
  assert_int_equal(access(path, F_OK), -1); /* nothing changed: nothing saved */
  tc s;
  assert_int_equal(tc_connect(&s, mqtt_broker_port(b), MQTT_LEVEL_311, "keep", false), 0);
  assert_int_equal(tc_subscribe(&s, "as/#", 1), 1);
  bool saved = false;
  for (int i = 0; i < 30 && !saved; i++) {
    usleep(100 * 1000);
    saved = access(path, F_OK) == 0;
  }
  assert_true(saved);
  tc_close(&s);
  mqtt_broker_stop(b);
  unlink(path);
  rmdir(dir);
}

static void test_start_errors(void **state) {
  fx *f = *state;
  mqtt_broker_cfg cfg;
  memset(&cfg, 0, sizeof(cfg));
  char addr[64], err[128] = "";
  snprintf(addr, sizeof(addr), "127.0.0.1:%d", f->port);
  cfg.listen = addr; /* taken by the fixture's broker */
  mqtt_broker *b = NULL;
  assert_int_equal(mqtt_broker_start(&cfg, &b, err, sizeof(err)), LOOM_EIO);
  assert_null(b);
  assert_true(strlen(err) > 0);
  cfg.listen = "no-port";
  assert_int_equal(mqtt_broker_start(&cfg, &b, err, sizeof(err)), LOOM_EINVAL);
  cfg.listen = "127.0.0.1:99999";
  assert_int_equal(mqtt_broker_start(&cfg, &b, NULL, 0), LOOM_EINVAL);
  assert_int_equal(mqtt_broker_start(NULL, &b, NULL, 0), LOOM_EINVAL);
  /* no listener: still a broker (server publishes, WebSocket) */
  cfg.listen = NULL;
  assert_int_equal(mqtt_broker_start(&cfg, &b, NULL, 0), 0);
  assert_int_equal(mqtt_broker_port(b), 0);
  assert_int_equal(mqtt_broker_publish(b, "x", "y", 1, 0, true), 0);
  mqtt_broker_stop(b);
  mqtt_broker_stop(NULL);
}

/* A toy transport: every byte XOR 0x5A both ways (stands in for TLS). */
typedef struct xor_tr {
  http_transport base;
  int *n_made;
} xor_tr;

static int xor_pass(int (*fn)(void *, const char *, size_t), void *conn, const char *d,
                    size_t n) {
  char buf[4096];
  while (n) {
    size_t k = n < sizeof(buf) ? n : sizeof(buf);
    for (size_t i = 0; i < k; i++) buf[i] = (char)(d[i] ^ 0x5A);
    int rc = fn(conn, buf, k);
    if (rc) return rc;
    d += k;
    n -= k;
  }
  return 0;
}

static int xor_recv(http_transport *t, const char *d, size_t n) {
  return xor_pass(t->sink.deliver, t->sink.conn, d, n);
}

static int xor_send(http_transport *t, const char *d, size_t n) {
  return xor_pass(t->sink.wire_write, t->sink.conn, d, n);
}

static void xor_free(http_transport *t) { free(t); }

static const http_transport_ops xor_ops = {xor_recv, xor_send, xor_free};

static int xor_new(void *user, const http_transport_sink *sink, http_transport **out) {
  xor_tr *t = calloc(1, sizeof(*t));
  t->base.ops = &xor_ops;
  t->base.sink = *sink;
  (*(int *)user)++;
  *out = &t->base;
  return 0;
}

static void test_tcp_transport_seam(void **state) {
  (void)state;
  int made = 0;
  mqtt_broker_cfg cfg;
  memset(&cfg, 0, sizeof(cfg));
  cfg.listen = "127.0.0.1:0";
  cfg.allow_anonymous = true;
  cfg.tcp_transport = xor_new;
  cfg.tcp_transport_user = &made;
  mqtt_broker *b = NULL;
  assert_int_equal(mqtt_broker_start(&cfg, &b, NULL, 0), 0);
  tc c;
  assert_int_equal(tc_open(&c, mqtt_broker_port(b), MQTT_LEVEL_311), 0);
  loom_buf raw;
  loom_buf_init(&raw);
  mqtt_packet pk;
  memset(&pk, 0, sizeof(pk));
  pk.type = MQTT_CONNECT;
  pk.level = MQTT_LEVEL_311;
  pk.clean_start = true;
  pk.client_id.p = (const uint8_t *)"x";
  pk.client_id.len = 1;
  assert_int_equal(mqtt_encode(&raw, &pk, MQTT_LEVEL_311), 0);
  memset(&pk, 0, sizeof(pk));
  pk.type = MQTT_PINGREQ;
  assert_int_equal(mqtt_encode(&raw, &pk, MQTT_LEVEL_311), 0);
  for (size_t i = 0; i < raw.len; i++) raw.data[i] ^= 0x5A;
  assert_int_equal(tc_send_raw(&c, raw.data, raw.len), 0);
  /* CONNACK 20 02 00 00 and PINGRESP d0 00, XOR-ed */
  uint8_t got[6];
  size_t n = 0;
  while (n < sizeof(got)) {
    ssize_t r = recv(c.fd, got + n, sizeof(got) - n, 0);
    assert_true(r > 0);
    n += (size_t)r;
  }
  const uint8_t want[6] = {0x20 ^ 0x5A, 0x02 ^ 0x5A, 0x5A, 0x5A, 0xD0 ^ 0x5A, 0x5A};
  assert_memory_equal(got, want, 6);
  assert_int_equal(made, 1);
  loom_buf_deinit(&raw);
  tc_close(&c);
  mqtt_broker_stop(b);
}

/* ---- WebSocket adoption (mqtt_broker_adopt_ws) ---- */

/* One masked binary client frame around p[0..n) (n < 126). */
static size_t ws_frame(uint8_t *out, const uint8_t *p, size_t n) {
  const uint8_t mask[4] = {0x11, 0x22, 0x33, 0x44};
  out[0] = 0x82;
  out[1] = (uint8_t)(0x80 | n);
  memcpy(out + 2, mask, 4);
  for (size_t i = 0; i < n; i++) out[6 + i] = p[i] ^ mask[i % 4];
  return 6 + n;
}

static void test_adopt_ws(void **state) {
  fx *f = *state;
  /* a connected TCP pair: cl (the browser), sv (handed to the broker) */
  int ls = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(ls, (struct sockaddr *)&a, sizeof(a)), 0);
  assert_int_equal(listen(ls, 1), 0);
  socklen_t al = sizeof(a);
  assert_int_equal(getsockname(ls, (struct sockaddr *)&a, &al), 0);
  tc c;
  assert_int_equal(tc_open(&c, ntohs(a.sin_port), MQTT_LEVEL_311), 0);
  int sv = accept(ls, NULL, NULL);
  assert_true(sv >= 0);
  close(ls);
  /* CONNECT arrives with the upgrade (pending), SUBSCRIBE + PUBLISH later */
  loom_buf raw;
  loom_buf_init(&raw);
  mqtt_packet pk;
  memset(&pk, 0, sizeof(pk));
  pk.type = MQTT_CONNECT;
  pk.level = MQTT_LEVEL_311;
  pk.clean_start = true;
  pk.client_id.p = (const uint8_t *)"ws";
  pk.client_id.len = 2;
  assert_int_equal(mqtt_encode(&raw, &pk, MQTT_LEVEL_311), 0);
  uint8_t fr[256];
  size_t fl = ws_frame(fr, raw.data, raw.len);
  assert_int_equal(mqtt_broker_adopt_ws(f->b, sv, fr, fl, "127.0.0.1:1"), 0);
  uint8_t in[256];
  size_t n = 0;
  while (n < 6) { /* 82 04 | 20 02 00 00 */
    ssize_t r = recv(c.fd, in + n, sizeof(in) - n, 0);
    assert_true(r > 0);
    n += (size_t)r;
  }
  const uint8_t connack[6] = {0x82, 0x04, 0x20, 0x02, 0x00, 0x00};
  assert_memory_equal(in, connack, 6);
  /* a TCP client publishes; the WebSocket one receives it in a frame */
  loom_buf_reset(&raw);
  mqtt_sub s = {.filter = {(const uint8_t *)"w/#", 3}, .options = 0};
  memset(&pk, 0, sizeof(pk));
  pk.type = MQTT_SUBSCRIBE;
  pk.packet_id = 1;
  pk.subs = &s;
  pk.n_subs = 1;
  assert_int_equal(mqtt_encode(&raw, &pk, MQTT_LEVEL_311), 0);
  fl = ws_frame(fr, raw.data, raw.len);
  assert_int_equal(tc_send_raw(&c, fr, fl), 0);
  n = 0;
  while (n < 7) { /* 82 05 | 90 03 00 01 00 */
    ssize_t r = recv(c.fd, in + n, sizeof(in) - n, 0);
    assert_true(r > 0);
    n += (size_t)r;
  }
  assert_int_equal(in[2], 0x90);
  tc p;
  assert_int_equal(tc_connect(&p, f->port, MQTT_LEVEL_311, "tcp", true), 0);
  assert_int_equal(tc_publish(&p, "w/x", "hi", 0, false), 0);
  n = 0;
  while (n < 11) { /* 82 09 | 30 07 00 03 w/x hi */
    ssize_t r = recv(c.fd, in + n, sizeof(in) - n, 0);
    assert_true(r > 0);
    n += (size_t)r;
  }
  assert_int_equal(in[0], 0x82);
  assert_int_equal(in[2], 0x30);
  assert_memory_equal(in + 9, "hi", 2);
  loom_buf_deinit(&raw);
  tc_close(&p);
  tc_close(&c);
  /* a bad fd is refused */
  assert_int_equal(mqtt_broker_adopt_ws(f->b, -1, NULL, 0, NULL), LOOM_EINVAL);
}

static void test_sys_topics(void **state) {
  (void)state;
  mqtt_broker_cfg cfg;
  memset(&cfg, 0, sizeof(cfg));
  cfg.listen = "127.0.0.1:0";
  cfg.allow_anonymous = true;
  cfg.sys_interval_s = 1;
  mqtt_broker *b = NULL;
  assert_int_equal(mqtt_broker_start(&cfg, &b, NULL, 0), 0);
  tc c, all;
  assert_int_equal(tc_connect(&all, mqtt_broker_port(b), MQTT_LEVEL_311, "all", true), 0);
  assert_int_equal(tc_subscribe(&all, "#", 0), 0);
  assert_int_equal(tc_connect(&c, mqtt_broker_port(b), MQTT_LEVEL_311, "c", true), 0);
  assert_int_equal(tc_subscribe(&c, "$SYS/broker/clients/connected", 0), 0);
  assert_int_equal(tc_expect(&c, MQTT_PUBLISH, 3000), 0);
  assert_true(c.pk.retain); /* retained from the first round */
  /* the next round reports both clients */
  assert_int_equal(tc_expect(&c, MQTT_PUBLISH, 3000), 0);
  assert_true(tc_payload_is(&c, "2"));
  assert_int_equal(tc_subscribe_ex(&c, 2, "$SYS/broker/load/messages/received/1min", 0, NULL, 0),
                   0);
  assert_int_equal(tc_expect(&c, MQTT_PUBLISH, 3000), 0);
  assert_true(tc_topic_is(&c, "$SYS/broker/load/messages/received/1min"));
  /* '#' does not match $SYS [MQTT-4.7.2-1] */
  assert_int_equal(tc_expect(&all, MQTT_PUBLISH, 300), -1);
  tc_close(&c);
  tc_close(&all);
  mqtt_broker_stop(b);
}

static int setup_budget(void **state) {
  mqtt_limits l;
  memset(&l, 0, sizeof(l));
  l.max_total_queued_bytes = 64;
  return start_with(state, &l);
}

static void test_total_queue_budget(void **state) {
  fx *f = *state;
  tc s, p;
  assert_int_equal(tc_connect(&s, f->port, MQTT_LEVEL_311, "slow", false), 0);
  assert_int_equal(tc_subscribe(&s, "b", 1), 1);
  tc_close(&s); /* offline: QoS 1 messages queue */
  assert_int_equal(tc_connect(&p, f->port, MQTT_LEVEL_5, "p", true), 0);
  char big[101];
  memset(big, 'x', 100);
  big[100] = 0;
  assert_int_equal(tc_publish_ex(&p, "b", big, 1, false, 1, NULL, 0), 0);
  assert_int_equal(tc_expect(&p, MQTT_PUBACK, 3000), 0);
  assert_int_equal(p.pk.reason, 0);
  assert_int_equal(tc_publish_ex(&p, "b", big, 1, false, 2, NULL, 0), 0);
  assert_int_equal(tc_expect(&p, MQTT_PUBACK, 3000), 0);
  assert_int_equal(p.pk.reason, MQTT_RC_QUOTA_EXCEEDED);
  tc_close(&p);
}

static void test_payload_format_invalid(void **state) {
  fx *f = *state;
  tc c;
  assert_int_equal(tc_connect(&c, f->port, MQTT_LEVEL_5, "c", true), 0);
  loom_buf pp = props1(MQTT_P_PAYLOAD_FORMAT, 1);
  assert_int_equal(tc_publish_ex(&c, "pf", "\xff\xfe", 1, false, 5, pp.data, pp.len), 0);
  assert_int_equal(tc_expect(&c, MQTT_PUBACK, 3000), 0);
  assert_int_equal(c.pk.reason, MQTT_RC_PAYLOAD_FORMAT_INVALID);
  loom_buf_deinit(&pp);
  tc_close(&c);
}

static void test_props_forwarded(void **state) {
  fx *f = *state;
  tc c;
  assert_int_equal(tc_connect(&c, f->port, MQTT_LEVEL_5, "c", true), 0);
  assert_int_equal(tc_subscribe(&c, "req", 0), 0);
  loom_buf pp;
  loom_buf_init(&pp);
  assert_int_equal(mqtt_prop_append_bytes(&pp, MQTT_P_RESPONSE_TOPIC, "resp", 4), 0);
  assert_int_equal(mqtt_prop_append_bytes(&pp, MQTT_P_CORRELATION_DATA, "\x01\x02", 2), 0);
  assert_int_equal(mqtt_prop_append_pair(&pp, "k", 1, "v", 1), 0);
  assert_int_equal(mqtt_prop_append_bytes(&pp, MQTT_P_CONTENT_TYPE, "text/plain", 10), 0);
  assert_int_equal(mqtt_prop_append_num(&pp, MQTT_P_MESSAGE_EXPIRY, 100), 0);
  assert_int_equal(tc_publish_ex(&c, "req", "x", 0, false, 0, pp.data, pp.len), 0);
  assert_int_equal(tc_expect(&c, MQTT_PUBLISH, 3000), 0);
  mqtt_prop p;
  assert_int_equal(mqtt_props_find(c.pk.props.p, c.pk.props.len, MQTT_P_RESPONSE_TOPIC, &p), 0);
  assert_int_equal(p.s_len, 4);
  assert_int_equal(mqtt_props_find(c.pk.props.p, c.pk.props.len, MQTT_P_CORRELATION_DATA, &p), 0);
  assert_int_equal(mqtt_props_find(c.pk.props.p, c.pk.props.len, MQTT_P_USER_PROPERTY, &p), 0);
  assert_int_equal(mqtt_props_find(c.pk.props.p, c.pk.props.len, MQTT_P_CONTENT_TYPE, &p), 0);
  uint32_t v = 0;
  assert_true(prop_num(&c.pk.props, MQTT_P_MESSAGE_EXPIRY, &v));
  assert_true(v >= 99 && v <= 100);
  loom_buf_deinit(&pp);
  tc_close(&c);
}

static void test_disconnect_expiry_from_zero_is_error(void **state) {
  fx *f = *state;
  tc c;
  assert_int_equal(tc_connect(&c, f->port, MQTT_LEVEL_5, "c", true), 0);
  loom_buf dp = props1(MQTT_P_SESSION_EXPIRY, 10);
  mqtt_packet d;
  memset(&d, 0, sizeof(d));
  d.type = MQTT_DISCONNECT;
  d.props.p = dp.data;
  d.props.len = dp.len;
  assert_int_equal(tc_send(&c, &d), 0);
  assert_int_equal(tc_expect(&c, MQTT_DISCONNECT, 3000), 0);
  assert_int_equal(c.pk.reason, MQTT_RC_PROTOCOL_ERROR);
  loom_buf_deinit(&dp);
  tc_close(&c);
}

static void test_auth_method_refused(void **state) {
  fx *f = *state;
  tc c;
  assert_int_equal(tc_open(&c, f->port, MQTT_LEVEL_5), 0);
  loom_buf cp;
  loom_buf_init(&cp);
  assert_int_equal(mqtt_prop_append_bytes(&cp, MQTT_P_AUTH_METHOD, "SCRAM-SHA-1", 11), 0);
  assert_int_equal(tc_connect_ex(&c, "c", true, 60, cp.data, cp.len, NULL),
                   MQTT_RC_BAD_AUTH_METHOD);
  loom_buf_deinit(&cp);
  tc_close(&c);
}

static void test_server_publish_and_stats(void **state) {
  fx *f = *state;
  tc c;
  assert_int_equal(tc_connect(&c, f->port, MQTT_LEVEL_311, "c", true), 0);
  assert_int_equal(tc_subscribe(&c, "srv/#", 1), 1);
  assert_int_equal(mqtt_broker_publish(f->b, "srv/x", "hi", 2, 1, false), 0);
  assert_int_equal(tc_expect(&c, MQTT_PUBLISH, 3000), 0);
  assert_true(tc_payload_is(&c, "hi"));
  assert_int_equal(c.pk.qos, 1);
  assert_int_equal(mqtt_broker_publish(f->b, "srv/#", "bad", 3, 0, false), LOOM_EINVAL);
  mqtt_broker_stats st;
  mqtt_broker_stats_get(f->b, &st);
  assert_int_equal(st.conns_open, 1);
  assert_true(st.msgs_out >= 1);
  assert_true(st.bytes_in > 0);
  tc_close(&c);
}

static void test_wildcard_matches_once(void **state) {
  fx *f = *state;
  tc c;
  assert_int_equal(tc_connect(&c, f->port, MQTT_LEVEL_5, "c", true), 0);
  assert_int_equal(tc_subscribe_ex(&c, 1, "w/#", 0, NULL, 0), 0);
  assert_int_equal(tc_subscribe_ex(&c, 2, "w/+", 1, NULL, 0), 1);
  assert_int_equal(tc_publish(&c, "w/x", "x", 1, false), 0);
  assert_int_equal(tc_expect(&c, MQTT_PUBLISH, 3000), 0);
  assert_int_equal(c.pk.qos, 1);
  assert_int_equal(tc_ack(&c, MQTT_PUBACK, c.pk.packet_id), 0);
  assert_int_equal(tc_expect(&c, MQTT_PUBLISH, 300), -1);
  tc_close(&c);
}

static void test_persistence_across_restart(void **state) {
  (void)state;
  char dir[] = "/tmp/loom-broker-test-XXXXXX";
  assert_non_null(mkdtemp(dir));
  mqtt_broker_cfg cfg;
  memset(&cfg, 0, sizeof(cfg));
  cfg.listen = "127.0.0.1:0";
  cfg.allow_anonymous = true;
  cfg.state_dir = dir;
  mqtt_broker *b = NULL;
  assert_int_equal(mqtt_broker_start(&cfg, &b, NULL, 0), 0);
  tc s, p;
  assert_int_equal(tc_connect(&s, mqtt_broker_port(b), MQTT_LEVEL_311, "keep", false), 0);
  assert_int_equal(tc_subscribe(&s, "st/#", 1), 1);
  assert_int_equal(tc_ack(&s, MQTT_DISCONNECT, 0), 0);
  assert_true(tc_wait_closed(&s, 2000));
  tc_close(&s);
  assert_int_equal(tc_connect(&p, mqtt_broker_port(b), MQTT_LEVEL_311, "p", true), 0);
  assert_int_equal(tc_publish(&p, "st/r", "retained", 1, true), 0);
  assert_int_equal(tc_expect(&p, MQTT_PUBACK, 3000), 0);
  tc_close(&p);
  mqtt_broker_stop(b);
  b = NULL;
  assert_int_equal(mqtt_broker_start(&cfg, &b, NULL, 0), 0);
  assert_int_equal(tc_connect(&s, mqtt_broker_port(b), MQTT_LEVEL_311, "keep", false), 0);
  assert_true(s.pk.session_present);
  /* the queued QoS 1 copy of the retained publish */
  assert_int_equal(tc_expect(&s, MQTT_PUBLISH, 3000), 0);
  assert_true(tc_payload_is(&s, "retained"));
  assert_int_equal(tc_ack(&s, MQTT_PUBACK, s.pk.packet_id), 0);
  /* the subscription survived */
  assert_int_equal(mqtt_broker_publish(b, "st/live", "l", 1, 0, false), 0);
  assert_int_equal(tc_expect(&s, MQTT_PUBLISH, 3000), 0);
  assert_true(tc_payload_is(&s, "l"));
  tc_close(&s);
  /* the retained message survived */
  assert_int_equal(tc_connect(&s, mqtt_broker_port(b), MQTT_LEVEL_311, "other", true), 0);
  assert_int_equal(tc_subscribe(&s, "st/r", 0), 0);
  assert_int_equal(tc_expect(&s, MQTT_PUBLISH, 3000), 0);
  assert_true(tc_payload_is(&s, "retained"));
  tc_close(&s);
  mqtt_broker_stop(b);
  char path[256];
  snprintf(path, sizeof(path), "%s/mqtt.snap", dir);
  unlink(path);
  rmdir(dir);
}

static void test_sub_ids_queued_across_restart(void **state) {
  (void)state;
  char dir[] = "/tmp/loom-broker-test-XXXXXX";
  assert_non_null(mkdtemp(dir));
  mqtt_broker_cfg cfg;
  memset(&cfg, 0, sizeof(cfg));
  cfg.listen = "127.0.0.1:0";
  cfg.allow_anonymous = true;
  cfg.state_dir = dir;
  mqtt_broker *b = NULL;
  assert_int_equal(mqtt_broker_start(&cfg, &b, NULL, 0), 0);
  tc s;
  assert_int_equal(connect_persistent(&s, mqtt_broker_port(b), "ids"), 0);
  loom_buf p1 = props1(MQTT_P_SUBSCRIPTION_ID, 11);
  loom_buf p2 = props1(MQTT_P_SUBSCRIPTION_ID, 22);
  assert_int_equal(tc_subscribe_ex(&s, 1, "r/#", 1, p1.data, p1.len), 1);
  assert_int_equal(tc_subscribe_ex(&s, 2, "r/+", 1, p2.data, p2.len), 1);
  leave(&s);
  assert_int_equal(mqtt_broker_publish(b, "r/x", "queued", 6, 1, false), 0);
  usleep(100 * 1000);
  mqtt_broker_stop(b);
  b = NULL;
  assert_int_equal(mqtt_broker_start(&cfg, &b, NULL, 0), 0);
  assert_int_equal(connect_persistent(&s, mqtt_broker_port(b), "ids"), 0);
  assert_true(s.pk.session_present);
  assert_int_equal(tc_expect(&s, MQTT_PUBLISH, 3000), 0);
  assert_true(tc_payload_is(&s, "queued"));
  mqtt_prop_it it;
  mqtt_prop pr;
  uint32_t ids[4];
  int n = 0;
  mqtt_prop_it_init(&it, s.pk.props.p, s.pk.props.len);
  while (mqtt_prop_next(&it, &pr) == 1)
    if (pr.id == MQTT_P_SUBSCRIPTION_ID && n < 4) ids[n++] = pr.num;
  assert_int_equal(n, 2);
  assert_true((ids[0] == 11 && ids[1] == 22) || (ids[0] == 22 && ids[1] == 11));
  assert_int_equal(tc_ack(&s, MQTT_PUBACK, s.pk.packet_id), 0);
  tc_close(&s);
  mqtt_broker_stop(b);
  loom_buf_deinit(&p1);
  loom_buf_deinit(&p2);
  char path[256];
  snprintf(path, sizeof(path), "%s/mqtt.snap", dir);
  unlink(path);
  rmdir(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_connect_v311, setup, teardown),
      cmocka_unit_test_setup_teardown(test_connect_v31, setup, teardown),
      cmocka_unit_test_setup_teardown(test_connect_v5_props, setup, teardown),
      cmocka_unit_test_setup_teardown(test_connect_assigned_id_v5, setup, teardown),
      cmocka_unit_test_setup_teardown(test_connect_empty_id_311_persistent_refused, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_first_packet_must_be_connect, setup, teardown),
      cmocka_unit_test_setup_teardown(test_packets_split_across_reads, setup, teardown),
      cmocka_unit_test_setup_teardown(test_qos0_v311, setup, teardown),
      cmocka_unit_test_setup_teardown(test_qos1_v311, setup, teardown),
      cmocka_unit_test_setup_teardown(test_qos2_v311, setup, teardown),
      cmocka_unit_test_setup_teardown(test_qos0_v5, setup, teardown),
      cmocka_unit_test_setup_teardown(test_qos1_v5, setup, teardown),
      cmocka_unit_test_setup_teardown(test_qos2_v5, setup, teardown),
      cmocka_unit_test_setup_teardown(test_qos_downgraded_to_granted, setup, teardown),
      cmocka_unit_test_setup_teardown(test_retained_replay_and_delete, setup, teardown),
      cmocka_unit_test_setup_teardown(test_will_on_abrupt_close, setup, teardown),
      cmocka_unit_test_setup_teardown(test_no_will_on_disconnect, setup, teardown),
      cmocka_unit_test_setup_teardown(test_will_delay, setup, teardown),
      cmocka_unit_test_setup_teardown(test_will_delay_cancelled_by_reconnect, setup, teardown),
      cmocka_unit_test_setup_teardown(test_will_expiry_starts_at_publication, setup, teardown),
      cmocka_unit_test_setup_teardown(test_will_v5_disconnect_with_will, setup, teardown),
      cmocka_unit_test_setup_teardown(test_will_v5_disconnect_error_reason, setup, teardown),
      cmocka_unit_test_setup_teardown(test_retained_message_expiry, setup, teardown),
      cmocka_unit_test_setup_teardown(test_session_resume_queued_qos1, setup, teardown),
      cmocka_unit_test_setup_teardown(test_clean_start_discards_session, setup, teardown),
      cmocka_unit_test_setup_teardown(test_resume_respects_smaller_receive_maximum, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_v31_connack_has_no_session_present, setup, teardown),
      cmocka_unit_test_setup_teardown(test_publish_then_stop_delivers, setup, teardown),
      cmocka_unit_test_setup_teardown(test_takeover, setup, teardown),
      cmocka_unit_test_setup_teardown(test_shared_round_robin, setup, teardown),
      cmocka_unit_test_setup_teardown(test_shared_skips_offline_member, setup, teardown),
      cmocka_unit_test_setup_teardown(test_shared_all_offline_queues_qos1_drops_qos0, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_takeover_disconnect_after_backlog, setup, teardown),
      cmocka_unit_test_setup_teardown(test_no_local, setup, teardown),
      cmocka_unit_test_setup_teardown(test_subscription_identifier, setup, teardown),
      cmocka_unit_test_setup_teardown(test_topic_alias_inbound, setup, teardown),
      cmocka_unit_test_setup_teardown(test_topic_alias_unknown_is_protocol_error, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_topic_alias_outbound, setup, teardown),
      cmocka_unit_test_setup_teardown(test_keepalive_timeout_v5, setup, teardown),
      cmocka_unit_test_setup_teardown(test_keepalive_kept_by_ping, setup, teardown),
      cmocka_unit_test_setup_teardown(test_receive_maximum_outbound, setup, teardown),
      cmocka_unit_test_setup_teardown(test_receive_maximum_inbound_exceeded, setup, teardown),
      cmocka_unit_test_setup_teardown(test_max_packet_outbound_dropped, setup, teardown),
      cmocka_unit_test_setup_teardown(test_max_packet_inbound, setup_small, teardown),
      cmocka_unit_test_setup_teardown(test_preauth_flood_dropped, setup_small, teardown),
      cmocka_unit_test_setup_teardown(test_connect_timeout, setup_small, teardown),
      cmocka_unit_test_setup_teardown(test_max_subs_per_client, setup_small, teardown),
      cmocka_unit_test_setup_teardown(test_server_keepalive_and_expiry_capped, setup_small,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_retain_handling_and_rap, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unsubscribe_reason_codes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_invalid_filter_suback, setup, teardown),
      cmocka_unit_test_setup_teardown(test_dollar_topic_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_payload_format_invalid, setup, teardown),
      cmocka_unit_test_setup_teardown(test_other_dollar_topic_routed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_several_subscription_identifiers, setup, teardown),
      cmocka_unit_test_setup_teardown(test_response_topic_wildcard_closes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_props_forwarded, setup, teardown),
      cmocka_unit_test_setup_teardown(test_disconnect_expiry_from_zero_is_error, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_auth_method_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_server_publish_and_stats, setup, teardown),
      cmocka_unit_test_setup_teardown(test_wildcard_matches_once, setup, teardown),
      cmocka_unit_test(test_persistence_across_restart),
      cmocka_unit_test(test_sub_ids_queued_across_restart),
      cmocka_unit_test_setup_teardown(test_session_expiry_frees_session, setup, teardown),
      cmocka_unit_test_setup_teardown(test_will_at_session_end_before_delay, setup, teardown),
      cmocka_unit_test_setup_teardown(test_qos2_duplicate_delivered_once, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stop_sends_no_wills, setup, teardown),
      cmocka_unit_test_setup_teardown(test_max_conns, setup_max_conns, teardown),
      cmocka_unit_test_setup_teardown(test_conn_rate, setup_conn_rate, teardown),
      cmocka_unit_test_setup_teardown(test_total_queue_budget, setup_budget, teardown),
      cmocka_unit_test(test_sys_topics),
      cmocka_unit_test(test_tcp_transport_seam),
      cmocka_unit_test_setup_teardown(test_adopt_ws, setup, teardown),
      cmocka_unit_test_setup_teardown(test_start_errors, setup, teardown),
      cmocka_unit_test(test_autosave_while_running),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
