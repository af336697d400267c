/* SPDX-License-Identifier: Apache-2.0
 * Randomized robustness test for the MQTT broker (a deterministic,
 * seeded stand-in for a fuzzer over real sockets): several clients at
 * levels 3, 4 and 5 send streams of random packets (well-formed encodings
 * with random fields, some with flipped bytes, some truncated or random
 * junk) in random order; after each round the broker must still answer a
 * fresh client's CONNECT and PINGREQ. Run under SANITIZE=address,undefined
 * to catch memory errors on the broker thread.
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

static uint64_t rng_state;

static uint32_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (uint32_t)(rng_state >> 11);
}

static uint32_t rndn(uint32_t n) { return n ? rnd() % n : 0; }

static const char *const topics[] = {"a", "a/b", "a/b/c", "+/b", "a/#", "#", "$SYS/x",
                                     "$share/g/a/#", "$share/g", "", "a/+/c", "x/y/z/w",
                                     "$dlr/q", "a//b", "/"};

static const char *rtopic(void) { return topics[rndn(sizeof(topics) / sizeof(topics[0]))]; }

static void rprops(loom_buf *p, int ptype) {
  int n = (int)rndn(4);
  for (int i = 0; i < n; i++) {
    switch (rndn(9)) {
    case 0: mqtt_prop_append_num(p, MQTT_P_TOPIC_ALIAS, rndn(70)); break;
    case 1: mqtt_prop_append_num(p, MQTT_P_MESSAGE_EXPIRY, rndn(3)); break;
    case 2: mqtt_prop_append_num(p, MQTT_P_PAYLOAD_FORMAT, rndn(2)); break;
    case 3: mqtt_prop_append_bytes(p, MQTT_P_RESPONSE_TOPIC, "r/x", 3); break;
    case 4: mqtt_prop_append_pair(p, "k", 1, "v", 1); break;
    case 5: mqtt_prop_append_num(p, MQTT_P_SUBSCRIPTION_ID, 1 + rndn(5)); break;
    case 6: mqtt_prop_append_num(p, MQTT_P_SESSION_EXPIRY, rndn(3)); break;
    case 7: mqtt_prop_append_num(p, MQTT_P_RECEIVE_MAXIMUM, 1 + rndn(3)); break;
    default: mqtt_prop_append_num(p, MQTT_P_TOPIC_ALIAS_MAXIMUM, rndn(5)); break;
    }
  }
  (void)ptype;
}

/* Append one random packet for level lv to out. */
static void rpacket(loom_buf *out, uint8_t lv, const char *id) {
  mqtt_packet pk;
  memset(&pk, 0, sizeof(pk));
  loom_buf props, wprops;
  loom_buf_init(&props);
  loom_buf_init(&wprops);
  if (lv == 5) rprops(&props, 0);
  pk.props.p = props.data;
  pk.props.len = props.len;
  uint32_t kind = rndn(14);
  mqtt_sub subs[3];
  const char *t = rtopic();
  switch (kind) {
  case 0:
    pk.type = MQTT_CONNECT;
    pk.level = lv;
    pk.clean_start = rndn(2);
    pk.keep_alive = (uint16_t)rndn(3);
    pk.client_id.p = (const uint8_t *)id;
    pk.client_id.len = rndn(4) ? strlen(id) : 0;
    if (rndn(2)) {
      pk.has_will = true;
      pk.will_qos = (uint8_t)rndn(3);
      pk.will_retain = rndn(2);
      pk.will_topic.p = (const uint8_t *)t;
      pk.will_topic.len = strlen(t);
      pk.will_payload.p = (const uint8_t *)"w";
      pk.will_payload.len = 1;
      if (lv == 5 && rndn(2)) mqtt_prop_append_num(&wprops, MQTT_P_WILL_DELAY, rndn(2));
      pk.will_props.p = wprops.data;
      pk.will_props.len = wprops.len;
    }
    break;
  case 1: case 2: case 3: case 4:
    pk.type = MQTT_PUBLISH;
    pk.qos = (uint8_t)rndn(3);
    pk.retain = rndn(3) == 0;
    pk.dup = pk.qos && rndn(4) == 0;
    pk.packet_id = (uint16_t)(1 + rndn(8));
    pk.topic.p = (const uint8_t *)t;
    pk.topic.len = strlen(t);
    pk.payload.p = (const uint8_t *)"payload\xff";
    pk.payload.len = rndn(9);
    break;
  case 5: case 6: {
    pk.type = MQTT_SUBSCRIBE;
    pk.packet_id = (uint16_t)(1 + rndn(8));
    size_t n = 1 + rndn(3);
    for (size_t i = 0; i < n; i++) {
      const char *f = rtopic();
      subs[i].filter.p = (const uint8_t *)f;
      subs[i].filter.len = strlen(f);
      subs[i].options = (uint8_t)(lv == 5 ? rndn(0x30) : rndn(3));
    }
    pk.subs = subs;
    pk.n_subs = n;
    break;
  }
  case 7:
    pk.type = MQTT_UNSUBSCRIBE;
    pk.packet_id = (uint16_t)(1 + rndn(8));
    subs[0].filter.p = (const uint8_t *)t;
    subs[0].filter.len = strlen(t);
    subs[0].options = 0;
    pk.subs = subs;
    pk.n_subs = 1;
    break;
  case 8: pk.type = MQTT_PUBACK; pk.packet_id = (uint16_t)(1 + rndn(8)); break;
  case 9: pk.type = MQTT_PUBREC; pk.packet_id = (uint16_t)(1 + rndn(8)); break;
  case 10: pk.type = MQTT_PUBREL; pk.packet_id = (uint16_t)(1 + rndn(8)); break;
  case 11: pk.type = MQTT_PUBCOMP; pk.packet_id = (uint16_t)(1 + rndn(8)); break;
  case 12: pk.type = MQTT_PINGREQ; break;
  default:
    pk.type = rndn(2) ? MQTT_DISCONNECT : (lv == 5 ? MQTT_AUTH : MQTT_PINGREQ);
    pk.reason = rndn(2) ? 0 : MQTT_RC_DISCONNECT_WITH_WILL;
    break;
  }
  size_t start = out->len;
  if (mqtt_encode(out, &pk, lv) != 0) out->len = start;
  /* damage some */
  if (out->len > start && rndn(8) == 0) out->data[start + rndn((uint32_t)(out->len - start))] ^= (uint8_t)(1u << rndn(8));
  if (out->len > start + 1 && rndn(16) == 0) out->len -= 1 + rndn((uint32_t)(out->len - start - 1));
  if (rndn(40) == 0) {
    for (int i = 0; i < 8; i++) loom_buf_append_u8(out, (uint8_t)rnd());
  }
  loom_buf_deinit(&props);
  loom_buf_deinit(&wprops);
}

static void broker_alive(int port) {
  tc c;
  assert_int_equal(tc_connect(&c, port, MQTT_LEVEL_5, "probe", true), 0);
  assert_int_equal(tc_ack(&c, MQTT_PINGREQ, 0), 0);
  assert_int_equal(tc_expect(&c, MQTT_PINGRESP, 3000), 0);
  tc_close(&c);
}

static void drain_nonblocking(tc *c) {
  uint8_t buf[65536];
  while (recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT) > 0) {
  }
}

static void run_rounds(uint64_t seed, int rounds) {
  rng_state = seed;
  mqtt_broker_cfg cfg;
  memset(&cfg, 0, sizeof(cfg));
  cfg.listen = "127.0.0.1:0";
  cfg.allow_anonymous = true;
  cfg.sys_interval_s = 1;
  cfg.limits.max_packet = 4096;
  mqtt_broker *b = NULL;
  assert_int_equal(mqtt_broker_start(&cfg, &b, NULL, 0), 0);
  int port = mqtt_broker_port(b);
  /* a long-lived level 5 subscriber with aliases and a small window */
  tc sub;
  assert_int_equal(tc_open(&sub, port, MQTT_LEVEL_5), 0);
  loom_buf cp;
  loom_buf_init(&cp);
  mqtt_prop_append_num(&cp, MQTT_P_TOPIC_ALIAS_MAXIMUM, 2);
  mqtt_prop_append_num(&cp, MQTT_P_RECEIVE_MAXIMUM, 2);
  mqtt_prop_append_num(&cp, MQTT_P_SESSION_EXPIRY, 60);
  assert_int_equal(tc_connect_ex(&sub, "longsub", true, 60, cp.data, cp.len, NULL), 0);
  loom_buf_deinit(&cp);
  assert_int_equal(tc_subscribe(&sub, "#", 2), 2);
  assert_int_equal(tc_subscribe_ex(&sub, 2, "$share/g/a/#", 1, NULL, 0), 1);
  int got = 0;
  for (int r = 0; r < rounds; r++) {
    enum { N = 4 };
    tc cs[N];
    static const char *const ids[N] = {"r0", "r1", "r0", "r3"};
    for (int i = 0; i < N; i++) {
      uint8_t lv = (uint8_t)(3 + rndn(3));
      assert_int_equal(tc_open(&cs[i], port, lv), 0);
      loom_buf out;
      loom_buf_init(&out);
      /* usually start with a proper CONNECT */
      if (rndn(6)) {
        mqtt_packet pk;
        memset(&pk, 0, sizeof(pk));
        pk.type = MQTT_CONNECT;
        pk.level = lv;
        pk.clean_start = rndn(2);
        pk.keep_alive = 30;
        pk.client_id.p = (const uint8_t *)ids[i];
        pk.client_id.len = strlen(ids[i]);
        mqtt_encode(&out, &pk, lv);
      }
      int n = 1 + (int)rndn(20);
      for (int k = 0; k < n; k++) rpacket(&out, lv, ids[i]);
      /* in random pieces, some a byte long (framing across reads) */
      for (size_t off = 0; off < out.len;) {
        size_t k = rndn(4) == 0 ? 1 : 1 + rndn(512);
        if (k > out.len - off) k = out.len - off;
        if (tc_send_raw(&cs[i], out.data + off, k)) break;
        off += k;
        if (rndn(8) == 0) usleep(200);
      }
      loom_buf_deinit(&out);
    }
    usleep(2000);
    for (int i = 0; i < N; i++) {
      drain_nonblocking(&cs[i]);
      tc_close(&cs[i]);
    }
    /* the subscriber acknowledges what it got (QoS 1 and 2) */
    while (tc_recv(&sub, 1) == 0) {
      if (sub.pk.type == MQTT_PUBLISH) got++;
      if (sub.pk.type == MQTT_PUBLISH && sub.pk.qos == 1) tc_ack(&sub, MQTT_PUBACK, sub.pk.packet_id);
      if (sub.pk.type == MQTT_PUBLISH && sub.pk.qos == 2) tc_ack(&sub, MQTT_PUBREC, sub.pk.packet_id);
      if (sub.pk.type == MQTT_PUBREL) tc_ack(&sub, MQTT_PUBCOMP, sub.pk.packet_id);
    }
    if (r % 10 == 9) broker_alive(port);
  }
  assert_true(got > rounds / 4); /* the random publishes did flow */
  tc_close(&sub);
  broker_alive(port);
  mqtt_broker_stop(b);
}

static void test_random_streams_seed1(void **state) {
  (void)state;
  run_rounds(0x9E3779B97F4A7C15ull, 400);
}

static void test_random_streams_seed2(void **state) {
  (void)state;
  run_rounds(0xD1B54A32D192ED03ull, 400);
}

/* MQTT_BROKER_SEED=n [MQTT_BROKER_ROUNDS=r]: one more run, for soak loops. */
static void test_random_streams_env_seed(void **state) {
  (void)state;
  const char *s = getenv("MQTT_BROKER_SEED");
  if (!s) skip();
  const char *r = getenv("MQTT_BROKER_ROUNDS");
  run_rounds(strtoull(s, NULL, 10) | 1, r ? atoi(r) : 400);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_random_streams_seed1),
      cmocka_unit_test(test_random_streams_seed2),
      cmocka_unit_test(test_random_streams_env_seed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
