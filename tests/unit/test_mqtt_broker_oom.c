/* SPDX-License-Identifier: Apache-2.0
 * Allocation-failure test for the MQTT broker: with clients connected, every
 * allocation after the n-th fails (loom_mem_fail_after) while they publish
 * (QoS 0/1/2, retained), subscribe and unsubscribe; for each n the broker
 * must survive (errors become refusals or disconnects, never crashes or
 * leaks) and serve a fresh client once allocations work again. The clients
 * send pre-encoded bytes and read into stack buffers, so the test itself
 * allocates nothing while allocations fail.
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
#include "mqtt/broker.h"
#include "mqtt_client_util.h"

static void encode_ops(loom_buf *out, uint8_t level) {
  mqtt_packet pk;
  mqtt_sub s = {.filter = {(const uint8_t *)"oom/#", 5}, .options = 2};
  memset(&pk, 0, sizeof(pk));
  pk.type = MQTT_SUBSCRIBE;
  pk.packet_id = 1;
  pk.subs = &s;
  pk.n_subs = 1;
  assert_int_equal(mqtt_encode(out, &pk, level), 0);
  for (uint8_t q = 0; q <= 2; q++) {
    memset(&pk, 0, sizeof(pk));
    pk.type = MQTT_PUBLISH;
    pk.topic.p = (const uint8_t *)"oom/t";
    pk.topic.len = 5;
    pk.payload.p = (const uint8_t *)"payload";
    pk.payload.len = 7;
    pk.qos = q;
    pk.retain = q == 2;
    pk.packet_id = q ? (uint16_t)(10 + q) : 0;
    assert_int_equal(mqtt_encode(out, &pk, level), 0);
  }
  memset(&pk, 0, sizeof(pk));
  pk.type = MQTT_PUBREL;
  pk.packet_id = 12;
  assert_int_equal(mqtt_encode(out, &pk, level), 0);
  memset(&pk, 0, sizeof(pk));
  pk.type = MQTT_UNSUBSCRIBE;
  pk.packet_id = 2;
  pk.subs = &s;
  pk.n_subs = 1;
  assert_int_equal(mqtt_encode(out, &pk, level), 0);
  memset(&pk, 0, sizeof(pk));
  pk.type = MQTT_PINGREQ;
  assert_int_equal(mqtt_encode(out, &pk, level), 0);
}

static void alive(int port) {
  tc c;
  assert_int_equal(tc_connect(&c, port, MQTT_LEVEL_5, "probe", true), 0);
  assert_int_equal(tc_ack(&c, MQTT_PINGREQ, 0), 0);
  assert_int_equal(tc_expect(&c, MQTT_PINGRESP, 3000), 0);
  tc_close(&c);
}

static void test_alloc_failures_while_publishing(void **state) {
  (void)state;
  mqtt_broker_cfg cfg;
  memset(&cfg, 0, sizeof(cfg));
  cfg.listen = "127.0.0.1:0";
  cfg.allow_anonymous = true;
  mqtt_broker *b = NULL;
  assert_int_equal(mqtt_broker_start(&cfg, &b, NULL, 0), 0);
  int port = mqtt_broker_port(b);
  loom_buf ops5, ops4;
  loom_buf_init(&ops5);
  loom_buf_init(&ops4);
  encode_ops(&ops5, MQTT_LEVEL_5);
  encode_ops(&ops4, MQTT_LEVEL_311);
  for (long n = 0; n < 80; n++) {
    tc a, c;
    assert_int_equal(tc_connect(&a, port, MQTT_LEVEL_5, "oa", n % 2 == 0), 0);
    assert_int_equal(tc_subscribe(&a, "oom/#", 2), 2);
    assert_int_equal(tc_connect(&c, port, MQTT_LEVEL_311, "oc", true), 0);
    loom_mem_fail_after(n);
    tc_send_raw(&a, ops5.data, ops5.len);
    tc_send_raw(&c, ops4.data, ops4.len);
    usleep(15 * 1000);
    loom_mem_fail_after(-1);
    uint8_t sink[4096];
    while (recv(a.fd, sink, sizeof(sink), MSG_DONTWAIT) > 0) {
    }
    while (recv(c.fd, sink, sizeof(sink), MSG_DONTWAIT) > 0) {
    }
    tc_close(&a);
    tc_close(&c);
    if (n % 8 == 7) alive(port);
  }
  alive(port);
  loom_buf_deinit(&ops5);
  loom_buf_deinit(&ops4);
  mqtt_broker_stop(b);
}

static void test_alloc_failures_while_connecting(void **state) {
  (void)state;
  mqtt_broker_cfg cfg;
  memset(&cfg, 0, sizeof(cfg));
  cfg.listen = "127.0.0.1:0";
  cfg.allow_anonymous = true;
  mqtt_broker *b = NULL;
  assert_int_equal(mqtt_broker_start(&cfg, &b, NULL, 0), 0);
  int port = mqtt_broker_port(b);
  loom_buf conn;
  loom_buf_init(&conn);
  loom_buf wp;
  loom_buf_init(&wp);
  assert_int_equal(mqtt_prop_append_num(&wp, MQTT_P_WILL_DELAY, 0), 0);
  mqtt_packet pk;
  memset(&pk, 0, sizeof(pk));
  pk.type = MQTT_CONNECT;
  pk.level = MQTT_LEVEL_5;
  pk.clean_start = true;
  pk.client_id.p = (const uint8_t *)"";
  pk.has_will = true;
  pk.will_topic.p = (const uint8_t *)"w";
  pk.will_topic.len = 1;
  pk.will_payload.p = (const uint8_t *)"x";
  pk.will_payload.len = 1;
  pk.will_props.p = wp.data;
  pk.will_props.len = wp.len;
  assert_int_equal(mqtt_encode(&conn, &pk, MQTT_LEVEL_5), 0);
  for (long n = 0; n < 40; n++) {
    tc c;
    assert_int_equal(tc_open(&c, port, MQTT_LEVEL_5), 0);
    loom_mem_fail_after(n);
    tc_send_raw(&c, conn.data, conn.len);
    usleep(10 * 1000);
    loom_mem_fail_after(-1);
    tc_close(&c);
  }
  alive(port);
  loom_buf_deinit(&conn);
  loom_buf_deinit(&wp);
  mqtt_broker_stop(b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_alloc_failures_while_publishing),
      cmocka_unit_test(test_alloc_failures_while_connecting),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
