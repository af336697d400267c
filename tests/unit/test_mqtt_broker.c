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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_connect_v311, setup, teardown),
      cmocka_unit_test_setup_teardown(test_connect_v31, setup, teardown),
      cmocka_unit_test_setup_teardown(test_connect_v5_props, setup, teardown),
      cmocka_unit_test_setup_teardown(test_connect_assigned_id_v5, setup, teardown),
      cmocka_unit_test_setup_teardown(test_connect_empty_id_311_persistent_refused, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_first_packet_must_be_connect, setup, teardown),
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
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
