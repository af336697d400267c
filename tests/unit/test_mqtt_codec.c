/* SPDX-License-Identifier: Apache-2.0
 * Tests for mqtt/codec.h and mqtt/props.h: byte vectors for every control
 * packet at levels 3.1.1 and 5 (plus 3.1 CONNECT) decoded and re-encoded,
 * one test per malformed-input rule named after its normative statement id
 * ([MQTT-x.y.z-n] -> mqtt_x_y_z_n), property and reason code tables, UTF-8
 * and Variable Byte Integer rules, and a seeded random round trip.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/mem.h"
#include "mqtt/codec.h"
#include "mqtt/props.h"

#define V(...) ((const uint8_t[]){__VA_ARGS__}), sizeof((const uint8_t[]){__VA_ARGS__})

static bool bytes_eq(mqtt_bytes a, mqtt_bytes b) {
  return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

static bool str_is(mqtt_bytes a, const char *s) {
  return a.len == strlen(s) && memcmp(a.p, s, a.len) == 0;
}

/* Field-by-field equality of two decoded views (content, not pointers). */
static bool views_eq(const mqtt_packet *a, const mqtt_packet *b) {
  return a->type == b->type && a->flags == b->flags && a->level == b->level &&
         bytes_eq(a->props, b->props) && bytes_eq(a->proto_name, b->proto_name) &&
         a->keep_alive == b->keep_alive && a->clean_start == b->clean_start &&
         a->has_will == b->has_will && a->will_retain == b->will_retain &&
         a->has_username == b->has_username && a->has_password == b->has_password &&
         a->will_qos == b->will_qos && bytes_eq(a->client_id, b->client_id) &&
         bytes_eq(a->will_props, b->will_props) && bytes_eq(a->will_topic, b->will_topic) &&
         bytes_eq(a->will_payload, b->will_payload) && bytes_eq(a->username, b->username) &&
         bytes_eq(a->password, b->password) && a->session_present == b->session_present &&
         a->reason == b->reason && a->qos == b->qos && a->dup == b->dup &&
         a->retain == b->retain && bytes_eq(a->topic, b->topic) &&
         bytes_eq(a->payload, b->payload) && a->packet_id == b->packet_id &&
         bytes_eq(a->list, b->list) && a->n_entries == b->n_entries;
}

/* Decode p (must succeed), re-encode: bytes must be identical. */
static void decode_ok_roundtrip(const uint8_t *p, size_t n, uint8_t level, mqtt_packet *out) {
  mqtt_err err;
  loom_buf b;
  int rc = mqtt_decode(p, n, level, out, &err);
  if (rc != 0) fail_msg("decode failed: %s (reason 0x%02x)", err.msg ? err.msg : "-", err.reason);
  loom_buf_init(&b);
  assert_int_equal(mqtt_encode(&b, out, level), 0);
  assert_int_equal(b.len, n);
  assert_memory_equal(b.data, p, n);
  loom_buf_deinit(&b);
}

static void expect_err(const uint8_t *p, size_t n, uint8_t level, int code, uint8_t reason) {
  mqtt_packet pk;
  mqtt_err err;
  size_t framed = 0;
  /* vectors must be well framed so they fail for the rule under test */
  if (mqtt_frame(p, n, 0, &framed, NULL) == 0) assert_int_equal(framed, n);
  int rc = mqtt_decode(p, n, level, &pk, &err);
  assert_int_equal(rc, code);
  assert_int_equal(err.code, code);
  assert_int_equal(err.reason, reason);
  assert_non_null(err.msg);
}

#define MAL(level, ...) expect_err(V(__VA_ARGS__), level, LOOM_EINVAL, MQTT_RC_MALFORMED)
#define PROTO(level, ...) expect_err(V(__VA_ARGS__), level, LOOM_EINVAL, MQTT_RC_PROTOCOL_ERROR)

/* ---- framing ---- */

static void test_frame_whole_packet(void **st) {
  (void)st;
  size_t n = 0;
  assert_int_equal(mqtt_frame(V(0x30, 0x03, 0, 1, 't', 0xAA), 0, &n, NULL), 0);
  assert_int_equal(n, 5);
}

/* streaming: a buffer holding one packet and the start of the next */
static void test_frame_stream(void **st) {
  (void)st;
  static const uint8_t in[] = {0xC0, 0x00, 0x32, 0x07, 0, 1, 't', 0, 10, 'h', 'i', 0xE0};
  size_t n = 0, off = 0;
  mqtt_packet pk;
  assert_int_equal(mqtt_frame(in, sizeof(in), 0, &n, NULL), 0);
  assert_int_equal(n, 2);
  assert_int_equal(mqtt_decode(in, n, 4, &pk, NULL), 0);
  assert_int_equal(pk.type, MQTT_PINGREQ);
  off += n;
  assert_int_equal(mqtt_frame(in + off, sizeof(in) - off, 0, &n, NULL), 0);
  assert_int_equal(n, 9);
  assert_int_equal(mqtt_decode(in + off, n, 4, &pk, NULL), 0);
  assert_int_equal(pk.packet_id, 10);
  off += n;
  assert_int_equal(mqtt_frame(in + off, sizeof(in) - off, 0, &n, NULL), LOOM_ETRUNC);
}

static void test_frame_need_more(void **st) {
  (void)st;
  size_t n = 0;
  mqtt_err err;
  assert_int_equal(mqtt_frame(V(0x30), 0, &n, &err), LOOM_ETRUNC);
  assert_int_equal(mqtt_frame(V(0x30, 0x80), 0, &n, &err), LOOM_ETRUNC);
  assert_int_equal(mqtt_frame(V(0x30, 0x03, 0, 1), 0, &n, &err), LOOM_ETRUNC);
}

static void test_frame_too_large(void **st) {
  (void)st;
  size_t n = 0;
  mqtt_err err;
  /* 1 + 2 + 200 bytes > 100: known before the body arrives */
  assert_int_equal(mqtt_frame(V(0x30, 0xC8, 0x01), 100, &n, &err), LOOM_ERANGE);
  assert_int_equal(err.reason, MQTT_RC_PACKET_TOO_LARGE);
}

/* 5 [MQTT-1.5.5-1] minimal; at most 4 bytes (3.1.1 2.2.3, 5 1.5.5) */
static void test_mqtt_1_5_5_1_remaining_length(void **st) {
  (void)st;
  size_t n = 0;
  mqtt_err err;
  assert_int_equal(mqtt_frame(V(0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01), 0, &n, &err), LOOM_EINVAL);
  assert_int_equal(err.reason, MQTT_RC_MALFORMED);
  assert_int_equal(mqtt_frame(V(0xC0, 0x80, 0x00), 0, &n, &err), LOOM_EINVAL);
  MAL(4, 0xC0, 0x80, 0x00);
  mqtt_packet pk;
  assert_int_equal(mqtt_decode(V(0x30, 0x03, 0, 1, 't', 0xAA), 4, &pk, &err), LOOM_EINVAL);
  assert_int_equal(err.reason, MQTT_RC_MALFORMED); /* remaining length != packet length */
}

static void test_varint_boundaries(void **st) {
  (void)st;
  static const uint32_t vals[] = {0, 127, 128, 16383, 16384, 2097151, 2097152, 268435455};
  static const int sizes[] = {1, 1, 2, 2, 3, 3, 4, 4};
  for (size_t i = 0; i < 8; i++) {
    loom_buf b;
    uint32_t v = 0;
    loom_buf_init(&b);
    assert_int_equal(mqtt_varint_append(&b, vals[i]), 0);
    assert_int_equal(b.len, sizes[i]);
    assert_int_equal(mqtt_varint_decode(b.data, b.len, &v), sizes[i]);
    assert_int_equal(v, vals[i]);
    assert_int_equal(mqtt_varint_decode(b.data, b.len - 1, &v), 0);
    loom_buf_deinit(&b);
  }
  loom_buf b;
  loom_buf_init(&b);
  assert_int_equal(mqtt_varint_append(&b, 268435456u), LOOM_ERANGE);
  assert_int_equal(mqtt_varint_size(268435456u), 0);
  loom_buf_deinit(&b);
}

/* ---- CONNECT ---- */

static void test_connect_311_vector(void **st) {
  (void)st;
  mqtt_packet pk;
  decode_ok_roundtrip(V(0x10, 0x10, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60, 0, 4, 'a', 'b', 'c', 'd'), 4, &pk);
  assert_int_equal(pk.type, MQTT_CONNECT);
  assert_int_equal(pk.level, 4);
  assert_true(pk.clean_start);
  assert_false(pk.has_will);
  assert_int_equal(pk.keep_alive, 60);
  assert_true(str_is(pk.client_id, "abcd"));
}

static void test_connect_31_vector(void **st) {
  (void)st;
  mqtt_packet pk;
  /* the connection level argument is ignored for CONNECT */
  decode_ok_roundtrip(V(0x10, 0x0F, 0, 6, 'M', 'Q', 'I', 's', 'd', 'p', 3, 0x02, 0, 10, 0, 1, 'x'), 3, &pk);
  assert_int_equal(pk.level, 3);
  assert_true(str_is(pk.proto_name, "MQIsdp"));
  assert_true(str_is(pk.client_id, "x"));
}

static const uint8_t connect5[] = {
  0x10, 0x23, 0, 4, 'M', 'Q', 'T', 'T', 5, 0xCE, 0, 10,
  5, 0x11, 0, 0, 0, 120,            /* props: Session Expiry 120 */
  0, 1, 'c',                        /* client id */
  2, 0x01, 0x01,                    /* will props: Payload Format 1 */
  0, 1, 't', 0, 2, 'h', 'i',        /* will topic, payload */
  0, 1, 'u', 0, 1, 'p'};            /* username, password */

static void test_connect_5_vector(void **st) {
  (void)st;
  mqtt_packet pk;
  mqtt_prop pr;
  decode_ok_roundtrip(connect5, sizeof(connect5), 5, &pk);
  assert_int_equal(pk.level, 5);
  assert_true(pk.has_will && pk.has_username && pk.has_password && pk.clean_start);
  assert_int_equal(pk.will_qos, 1);
  assert_false(pk.will_retain);
  assert_true(str_is(pk.will_topic, "t"));
  assert_true(str_is(pk.will_payload, "hi"));
  assert_true(str_is(pk.username, "u"));
  assert_true(str_is(pk.password, "p"));
  assert_int_equal(mqtt_props_find(pk.props.p, pk.props.len, MQTT_P_SESSION_EXPIRY, &pr), 0);
  assert_int_equal(pr.num, 120);
  assert_int_equal(mqtt_props_find(pk.will_props.p, pk.will_props.len, MQTT_P_PAYLOAD_FORMAT, &pr), 0);
  assert_int_equal(pr.num, 1);
  /* views point into the input: no copies */
  assert_ptr_equal(pk.client_id.p, connect5 + 20);
}

static void test_connect_encode_from_fields(void **st) {
  (void)st;
  mqtt_packet pk = {0}, back;
  loom_buf b;
  loom_buf_init(&b);
  pk.type = MQTT_CONNECT;
  pk.clean_start = true;
  pk.keep_alive = 60;
  pk.client_id = (mqtt_bytes){(const uint8_t *)"abcd", 4};
  assert_int_equal(mqtt_encode(&b, &pk, 4), 0);
  assert_int_equal(mqtt_decode(b.data, b.len, 4, &back, NULL), 0);
  assert_int_equal(b.len, 18);
  assert_true(str_is(back.proto_name, "MQTT"));
  assert_int_equal(back.level, 4);
  loom_buf_deinit(&b);
}

/* [MQTT-3.1.2-1] */
static void test_mqtt_3_1_2_1_protocol_name(void **st) {
  (void)st;
  expect_err(V(0x10, 0x10, 0, 4, 'M', 'Q', 'T', 'X', 4, 0x02, 0, 60, 0, 4, 'a', 'b', 'c', 'd'), 4,
             LOOM_EUNSUP, MQTT_RC_UNSUPPORTED_VERSION);
}

/* [MQTT-3.1.2-2] */
static void test_mqtt_3_1_2_2_protocol_level(void **st) {
  (void)st;
  expect_err(V(0x10, 0x10, 0, 4, 'M', 'Q', 'T', 'T', 6, 0x02, 0, 60, 0, 4, 'a', 'b', 'c', 'd'), 4,
             LOOM_EUNSUP, MQTT_RC_UNSUPPORTED_VERSION);
  expect_err(V(0x10, 0x10, 0, 4, 'M', 'Q', 'T', 'T', 3, 0x02, 0, 60, 0, 4, 'a', 'b', 'c', 'd'), 4,
             LOOM_EUNSUP, MQTT_RC_UNSUPPORTED_VERSION);
}

/* [MQTT-3.1.2-3] reserved flag */
static void test_mqtt_3_1_2_3_reserved_flag(void **st) {
  (void)st;
  MAL(4, 0x10, 0x10, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x03, 0, 60, 0, 4, 'a', 'b', 'c', 'd');
}

/* 3.1.1 [MQTT-3.1.2-13] / 5 [MQTT-3.1.2-11]: will QoS without will flag */
static void test_mqtt_3_1_2_13_will_qos_without_will(void **st) {
  (void)st;
  MAL(4, 0x10, 0x10, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x0A, 0, 60, 0, 4, 'a', 'b', 'c', 'd');
}

/* 3.1.1 [MQTT-3.1.2-15] / 5 [MQTT-3.1.2-13]: will retain without will flag */
static void test_mqtt_3_1_2_15_will_retain_without_will(void **st) {
  (void)st;
  MAL(4, 0x10, 0x10, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x22, 0, 60, 0, 4, 'a', 'b', 'c', 'd');
}

/* 3.1.1 [MQTT-3.1.2-14] / 5 [MQTT-3.1.2-12]: will QoS 3 */
static void test_mqtt_3_1_2_14_will_qos3(void **st) {
  (void)st;
  MAL(4, 0x10, 0x13, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x1E, 0, 60, 0, 1, 'a', 0, 1, 't', 0, 1, 'x');
}

/* 3.1.1 [MQTT-3.1.2-22]: password without user name (allowed in 5) */
static void test_mqtt_3_1_2_22_password_without_username(void **st) {
  (void)st;
  mqtt_packet pk;
  MAL(4, 0x10, 0x10, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x42, 0, 60, 0, 1, 'a', 0, 1, 'p');
  assert_int_equal(mqtt_decode(V(0x10, 0x11, 0, 4, 'M', 'Q', 'T', 'T', 5, 0x42, 0, 60, 0, 0, 1, 'a', 0, 1, 'p'),
                               5, &pk, NULL), 0);
  assert_true(pk.has_password);
  assert_false(pk.has_username);
}

/* [MQTT-3.1.3-8]: empty client id needs clean session (3.1.1); 5 allows it;
 * 3.1 requires one */
static void test_mqtt_3_1_3_8_empty_client_id(void **st) {
  (void)st;
  mqtt_packet pk;
  expect_err(V(0x10, 0x0C, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x00, 0, 60, 0, 0), 4, LOOM_EINVAL,
             MQTT_RC_CLIENT_ID_INVALID);
  assert_int_equal(mqtt_decode(V(0x10, 0x0C, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60, 0, 0), 4, &pk, NULL), 0);
  assert_int_equal(mqtt_decode(V(0x10, 0x0D, 0, 4, 'M', 'Q', 'T', 'T', 5, 0x00, 0, 60, 0, 0, 0), 5, &pk, NULL), 0);
  expect_err(V(0x10, 0x0E, 0, 6, 'M', 'Q', 'I', 's', 'd', 'p', 3, 0x02, 0, 10, 0, 0), 3, LOOM_EINVAL,
             MQTT_RC_CLIENT_ID_INVALID);
}

/* will topic is a topic name: non-empty, no wildcards ([MQTT-4.7.3-1], 3.3.2-2) */
static void test_connect_will_topic_name(void **st) {
  (void)st;
  expect_err(V(0x10, 0x13, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x06, 0, 60, 0, 1, 'a', 0, 1, '#', 0, 1, 'x'), 4,
             LOOM_EINVAL, MQTT_RC_TOPIC_NAME_INVALID);
  expect_err(V(0x10, 0x12, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x06, 0, 60, 0, 1, 'a', 0, 0, 0, 1, 'x'), 4,
             LOOM_EINVAL, MQTT_RC_TOPIC_NAME_INVALID);
}

static void test_connect_trailing_bytes(void **st) {
  (void)st;
  MAL(4, 0x10, 0x11, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60, 0, 4, 'a', 'b', 'c', 'd', 0);
  MAL(4, 0x10, 0x0A, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60); /* no client id */
}

/* ---- CONNACK ---- */

static void test_connack_vectors(void **st) {
  (void)st;
  mqtt_packet pk;
  decode_ok_roundtrip(V(0x20, 0x02, 0x01, 0x00), 4, &pk);
  assert_true(pk.session_present);
  decode_ok_roundtrip(V(0x20, 0x02, 0x00, 0x05), 4, &pk);
  assert_int_equal(pk.reason, 5);
  decode_ok_roundtrip(V(0x20, 0x03, 0x00, 0x00, 0x00), 5, &pk);
  decode_ok_roundtrip(V(0x20, 0x05, 0x00, 0x00, 0x02, 0x24, 0x01), 5, &pk);
  assert_int_equal(pk.props.len, 2);
  decode_ok_roundtrip(V(0x20, 0x03, 0x00, 0x86, 0x00), 5, &pk);
  assert_int_equal(pk.reason, MQTT_RC_BAD_USER_PASS);
}

/* 3.1.1 [MQTT-3.2.2-1] reserved ack flags; [MQTT-3.2.2-4] / 5 [MQTT-3.2.2-6]
 * session present only with return code 0 */
static void test_mqtt_3_2_2_4_connack_flags(void **st) {
  (void)st;
  MAL(4, 0x20, 0x02, 0x02, 0x00);
  PROTO(4, 0x20, 0x02, 0x01, 0x05);
  PROTO(5, 0x20, 0x03, 0x01, 0x80, 0x00);
  MAL(4, 0x20, 0x02, 0x00, 0x06);       /* return code reserved in 3.1.1 */
  PROTO(5, 0x20, 0x03, 0x00, 0x10, 0x00); /* 0x10 not a CONNACK reason */
}

/* ---- PUBLISH ---- */

static void test_publish_vectors(void **st) {
  (void)st;
  mqtt_packet pk;
  decode_ok_roundtrip(V(0x32, 0x07, 0, 1, 't', 0, 10, 'h', 'i'), 4, &pk);
  assert_int_equal(pk.qos, 1);
  assert_int_equal(pk.packet_id, 10);
  assert_true(str_is(pk.payload, "hi"));
  decode_ok_roundtrip(V(0x31, 0x06, 0, 1, 't', 0, 'h', 'i'), 5, &pk);
  assert_true(pk.retain);
  assert_int_equal(pk.qos, 0);
  decode_ok_roundtrip(V(0x3C, 0x0A, 0, 1, 't', 0, 7, 3, 0x23, 0, 5, 'x'), 5, &pk);
  assert_true(pk.dup);
  assert_int_equal(pk.qos, 2);
  decode_ok_roundtrip(V(0x30, 0x03, 0, 1, 't'), 4, &pk); /* empty payload */
  assert_int_equal(pk.payload.len, 0);
}

/* [MQTT-3.3.1-4] */
static void test_mqtt_3_3_1_4_publish_qos3(void **st) {
  (void)st;
  MAL(4, 0x36, 0x05, 0, 1, 't', 0, 1);
}

/* [MQTT-3.3.1-2] */
static void test_mqtt_3_3_1_2_dup_on_qos0(void **st) {
  (void)st;
  MAL(4, 0x38, 0x03, 0, 1, 't');
}

/* [MQTT-2.3.1-1] non-zero packet identifiers */
static void test_mqtt_2_3_1_1_packet_id_zero(void **st) {
  (void)st;
  MAL(4, 0x32, 0x05, 0, 1, 't', 0, 0);
  MAL(4, 0x40, 0x02, 0, 0);
  MAL(4, 0x82, 0x06, 0, 0, 0, 1, 'a', 0);
  MAL(5, 0x90, 0x04, 0, 0, 0, 0);
}

/* [MQTT-3.3.2-2] */
static void test_mqtt_3_3_2_2_wildcard_topic(void **st) {
  (void)st;
  expect_err(V(0x30, 0x03, 0, 1, '#'), 4, LOOM_EINVAL, MQTT_RC_TOPIC_NAME_INVALID);
  expect_err(V(0x30, 0x05, 0, 3, 'a', '/', '+'), 4, LOOM_EINVAL, MQTT_RC_TOPIC_NAME_INVALID);
}

/* [MQTT-4.7.3-1] (3.1.1); MQTT 5 needs a Topic Alias for an empty topic */
static void test_mqtt_4_7_3_1_empty_topic(void **st) {
  (void)st;
  mqtt_packet pk;
  MAL(4, 0x30, 0x02, 0, 0);
  PROTO(5, 0x30, 0x03, 0, 0, 0);
  assert_int_equal(mqtt_decode(V(0x30, 0x06, 0, 0, 3, 0x23, 0, 1), 5, &pk, NULL), 0);
}

/* 5 [MQTT-1.5.4-1] / 3.1.1 [MQTT-1.5.3-1] surrogates, [MQTT-1.5.4-2] / [MQTT-1.5.3-2] U+0000 */
static void test_mqtt_1_5_4_1_surrogate(void **st) {
  (void)st;
  MAL(4, 0x30, 0x05, 0, 3, 0xED, 0xA0, 0x80);
  assert_int_equal(mqtt_utf8_check(V(0xED, 0xBF, 0xBF)), LOOM_EINVAL);
}

static void test_mqtt_1_5_4_2_nul(void **st) {
  (void)st;
  MAL(4, 0x30, 0x04, 0, 2, 'a', 0);
  assert_int_equal(mqtt_utf8_check(V('a', 0x00)), LOOM_EINVAL);
}

static void test_utf8_wellformed(void **st) {
  (void)st;
  assert_int_equal(mqtt_utf8_check(V('a', 0xC3, 0xA9, 0xE2, 0x82, 0xAC, 0xF0, 0x9F, 0x98, 0x80)), 0);
  assert_int_equal(mqtt_utf8_check(V(0xEF, 0xBB, 0xBF)), 0); /* [MQTT-1.5.4-3] BOM is kept */
  assert_int_equal(mqtt_utf8_check(V(0xC0, 0x80)), LOOM_EINVAL);       /* overlong NUL */
  assert_int_equal(mqtt_utf8_check(V(0xE0, 0x80, 0xAF)), LOOM_EINVAL); /* overlong */
  assert_int_equal(mqtt_utf8_check(V(0xF4, 0x90, 0x80, 0x80)), LOOM_EINVAL); /* > U+10FFFF */
  assert_int_equal(mqtt_utf8_check(V(0x80)), LOOM_EINVAL);             /* lone continuation */
  assert_int_equal(mqtt_utf8_check(V(0xE2, 0x82)), LOOM_EINVAL);       /* truncated */
  MAL(4, 0x30, 0x04, 0, 2, 0xC0, 0x80);
}

/* ---- acks ---- */

static void test_ack_vectors(void **st) {
  (void)st;
  mqtt_packet pk;
  decode_ok_roundtrip(V(0x40, 0x02, 0, 10), 4, &pk);
  assert_int_equal(pk.packet_id, 10);
  decode_ok_roundtrip(V(0x50, 0x02, 0, 10), 4, &pk);
  decode_ok_roundtrip(V(0x62, 0x02, 0, 10), 4, &pk);
  decode_ok_roundtrip(V(0x70, 0x02, 0, 10), 4, &pk);
  decode_ok_roundtrip(V(0x40, 0x02, 0, 10), 5, &pk);
  assert_int_equal(pk.reason, 0);
  decode_ok_roundtrip(V(0x40, 0x03, 0, 10, 0x10), 5, &pk);
  assert_int_equal(pk.reason, MQTT_RC_NO_MATCHING_SUBSCRIBERS);
  decode_ok_roundtrip(V(0x50, 0x07, 0, 10, 0x80, 3, 0x1F, 0, 0), 5, &pk);
  decode_ok_roundtrip(V(0x62, 0x03, 0, 10, 0x92), 5, &pk);
  decode_ok_roundtrip(V(0x70, 0x03, 0, 10, 0x92), 5, &pk);
  /* reason + zero-length properties decodes like reason only */
  assert_int_equal(mqtt_decode(V(0x40, 0x04, 0, 10, 0x10, 0), 5, &pk, NULL), 0);
  assert_int_equal(pk.reason, 0x10);
}

static void test_ack_malformed(void **st) {
  (void)st;
  MAL(4, 0x40, 0x03, 0, 10, 0);          /* 3.1.1: exactly 2 bytes */
  PROTO(5, 0x62, 0x03, 0, 10, 0x10);     /* 0x10 not allowed in PUBREL */
  PROTO(5, 0x40, 0x03, 0, 10, 0x92);     /* 0x92 not allowed in PUBACK */
  MAL(5, 0x40, 0x05, 0, 10, 0, 0, 0);    /* bytes after properties */
  MAL(5, 0x40, 0x01, 0);
}

/* [MQTT-2.2.2-1], [MQTT-2.2.2-2]: fixed header flags per packet type */
static void test_mqtt_2_2_2_2_fixed_header_flags(void **st) {
  (void)st;
  MAL(4, 0x41, 0x02, 0, 1);
  MAL(4, 0x60, 0x02, 0, 1); /* PUBREL needs 0010 */
  MAL(4, 0x80, 0x06, 0, 1, 0, 1, 'a', 0);
  MAL(4, 0xA0, 0x05, 0, 1, 0, 1, 'a');
  MAL(4, 0xC1, 0x00);
  MAL(4, 0xE2, 0x00);
  MAL(4, 0x00, 0x00); /* reserved type 0 */
}

/* ---- SUBSCRIBE / SUBACK / UNSUBSCRIBE / UNSUBACK ---- */

static void test_subscribe_vectors(void **st) {
  (void)st;
  mqtt_packet pk;
  mqtt_sub s;
  size_t off = 0;
  decode_ok_roundtrip(V(0x82, 0x0C, 0, 1, 0, 1, 'a', 0x01, 0, 3, 'b', '/', '#', 0x02), 4, &pk);
  assert_int_equal(pk.n_entries, 2);
  assert_int_equal(mqtt_sub_next(&pk, &off, &s), 1);
  assert_true(str_is(s.filter, "a"));
  assert_int_equal(MQTT_SUBOPT_QOS(s.options), 1);
  assert_int_equal(mqtt_sub_next(&pk, &off, &s), 1);
  assert_true(str_is(s.filter, "b/#"));
  assert_int_equal(mqtt_sub_next(&pk, &off, &s), 0);
  decode_ok_roundtrip(V(0x82, 0x09, 0, 1, 2, 0x0B, 5, 0, 1, 'a', 0x2D), 5, &pk);
  off = 0;
  assert_int_equal(mqtt_sub_next(&pk, &off, &s), 1);
  assert_int_equal(MQTT_SUBOPT_QOS(s.options), 1);
  assert_true(s.options & MQTT_SUBOPT_NO_LOCAL);
  assert_true(s.options & MQTT_SUBOPT_RAP);
  assert_int_equal(MQTT_SUBOPT_RETAIN_HANDLING(s.options), 2);
}

static void test_subscribe_encode_from_subs(void **st) {
  (void)st;
  mqtt_sub subs[2] = {{{(const uint8_t *)"a", 1}, 1}, {{(const uint8_t *)"b/#", 3}, 2}};
  mqtt_packet pk = {0};
  loom_buf b;
  static const uint8_t want[] = {0x82, 0x0C, 0, 1, 0, 1, 'a', 0x01, 0, 3, 'b', '/', '#', 0x02};
  loom_buf_init(&b);
  pk.type = MQTT_SUBSCRIBE;
  pk.packet_id = 1;
  pk.subs = subs;
  pk.n_subs = 2;
  assert_int_equal(mqtt_encode(&b, &pk, 4), 0);
  assert_int_equal(b.len, sizeof(want));
  assert_memory_equal(b.data, want, sizeof(want));
  pk.type = MQTT_UNSUBSCRIBE;
  b.len = 0;
  assert_int_equal(mqtt_encode(&b, &pk, 4), 0);
  static const uint8_t want_u[] = {0xA2, 0x0A, 0, 1, 0, 1, 'a', 0, 3, 'b', '/', '#'};
  assert_int_equal(b.len, sizeof(want_u));
  assert_memory_equal(b.data, want_u, sizeof(want_u));
  pk.n_subs = 0; /* no entries: refused, buffer unchanged */
  assert_int_equal(mqtt_encode(&b, &pk, 4), LOOM_EINVAL);
  assert_int_equal(b.len, sizeof(want_u));
  loom_buf_deinit(&b);
}

/* [MQTT-3.8.3-3] at least one topic filter */
static void test_mqtt_3_8_3_3_subscribe_empty(void **st) {
  (void)st;
  PROTO(4, 0x82, 0x02, 0, 1);
  PROTO(5, 0x82, 0x03, 0, 1, 0);
}

/* 3.1.1 [MQTT-3-8.3-4] reserved option bits */
static void test_mqtt_3_8_3_4_311_reserved_bits(void **st) {
  (void)st;
  MAL(4, 0x82, 0x06, 0, 1, 0, 1, 'a', 0x04);
  MAL(4, 0x82, 0x06, 0, 1, 0, 1, 'a', 0x03); /* QoS 3 */
}

/* 5 [MQTT-3.8.3-5] reserved bits, retain handling 3, QoS 3 */
static void test_mqtt_3_8_3_5_v5_reserved_bits(void **st) {
  (void)st;
  MAL(5, 0x82, 0x07, 0, 1, 0, 0, 1, 'a', 0x40);
  PROTO(5, 0x82, 0x07, 0, 1, 0, 0, 1, 'a', 0x30);
  MAL(5, 0x82, 0x07, 0, 1, 0, 0, 1, 'a', 0x03);
  MAL(5, 0x82, 0x06, 0, 1, 0, 0, 1, 'a'); /* options byte missing */
  MAL(5, 0x82, 0x07, 0, 1, 0, 0, 0, 0x00); /* empty filter [MQTT-4.7.3-1] */
}

/* 5 [MQTT-3.8.3-4] no-local on a shared subscription */
static void test_mqtt_3_8_3_4_v5_no_local_shared(void **st) {
  (void)st;
  mqtt_packet pk;
  PROTO(5, 0x82, 0x0F, 0, 1, 0, 0, 9, '$', 's', 'h', 'a', 'r', 'e', '/', 'g', '/', 0x04);
  assert_int_equal(mqtt_decode(V(0x82, 0x0F, 0, 1, 0, 0, 9, '$', 's', 'h', 'a', 'r', 'e', '/', 'g', '/', 0x01),
                               5, &pk, NULL), 0);
}

/* Subscription Identifier 0 is a Protocol Error (3.8.2.1.2); once only */
static void test_subscribe_subscription_id(void **st) {
  (void)st;
  PROTO(5, 0x82, 0x09, 0, 1, 2, 0x0B, 0, 0, 1, 'a', 0);
  PROTO(5, 0x82, 0x0B, 0, 1, 4, 0x0B, 1, 0x0B, 2, 0, 1, 'a', 0);
}

static void test_suback_vectors(void **st) {
  (void)st;
  mqtt_packet pk;
  decode_ok_roundtrip(V(0x90, 0x04, 0, 1, 0x01, 0x80), 4, &pk);
  assert_int_equal(pk.n_entries, 2);
  assert_int_equal(pk.list.p[1], 0x80);
  decode_ok_roundtrip(V(0x90, 0x05, 0, 1, 0, 0x02, 0xA2), 5, &pk);
  assert_int_equal(pk.n_entries, 2);
}

/* 3.1.1 [MQTT-3.9.3-2] return codes; 5: table 2-6 */
static void test_mqtt_3_9_3_2_suback_codes(void **st) {
  (void)st;
  PROTO(4, 0x90, 0x03, 0, 1, 0x03);
  PROTO(4, 0x90, 0x03, 0, 1, 0x97); /* 5-only code */
  PROTO(5, 0x90, 0x04, 0, 1, 0, 0x11);
  PROTO(5, 0x90, 0x03, 0, 1, 0);     /* no codes */
}

static void test_unsubscribe_vectors(void **st) {
  (void)st;
  mqtt_packet pk;
  mqtt_sub s;
  size_t off = 0;
  decode_ok_roundtrip(V(0xA2, 0x05, 0, 2, 0, 1, 'a'), 4, &pk);
  assert_int_equal(pk.n_entries, 1);
  assert_int_equal(mqtt_sub_next(&pk, &off, &s), 1);
  assert_true(str_is(s.filter, "a"));
  decode_ok_roundtrip(V(0xA2, 0x06, 0, 2, 0, 0, 1, 'a'), 5, &pk);
  decode_ok_roundtrip(V(0xB0, 0x02, 0, 2), 4, &pk);
  decode_ok_roundtrip(V(0xB0, 0x04, 0, 2, 0, 0x11), 5, &pk);
  assert_int_equal(pk.list.p[0], MQTT_RC_NO_SUBSCRIPTION_EXISTED);
}

/* [MQTT-3.10.3-2] at least one filter; UNSUBACK 3.1.1 is exactly 2 bytes */
static void test_mqtt_3_10_3_2_unsubscribe_empty(void **st) {
  (void)st;
  PROTO(4, 0xA2, 0x02, 0, 1);
  MAL(4, 0xB0, 0x03, 0, 1, 0);
  PROTO(5, 0xB0, 0x04, 0, 1, 0, 0x02); /* Granted QoS 2 is not an UNSUBACK code */
}

/* ---- PING, DISCONNECT, AUTH ---- */

static void test_ping_disconnect_auth_vectors(void **st) {
  (void)st;
  mqtt_packet pk;
  decode_ok_roundtrip(V(0xC0, 0x00), 4, &pk);
  assert_int_equal(pk.type, MQTT_PINGREQ);
  decode_ok_roundtrip(V(0xD0, 0x00), 5, &pk);
  assert_int_equal(pk.type, MQTT_PINGRESP);
  decode_ok_roundtrip(V(0xE0, 0x00), 4, &pk);
  decode_ok_roundtrip(V(0xE0, 0x00), 5, &pk);
  decode_ok_roundtrip(V(0xE0, 0x01, 0x04), 5, &pk);
  assert_int_equal(pk.reason, MQTT_RC_DISCONNECT_WITH_WILL);
  decode_ok_roundtrip(V(0xE0, 0x07, 0x8B, 0x05, 0x11, 0, 0, 0, 0), 5, &pk);
  decode_ok_roundtrip(V(0xF0, 0x00), 5, &pk);
  decode_ok_roundtrip(V(0xF0, 0x02, 0x19, 0x00), 5, &pk);
  assert_int_equal(pk.reason, MQTT_RC_REAUTHENTICATE);
  decode_ok_roundtrip(V(0xF0, 0x07, 0x18, 0x05, 0x15, 0, 2, 'x', 'y'), 5, &pk);
  assert_int_equal(pk.reason, MQTT_RC_CONTINUE_AUTH);
}

static void test_ping_disconnect_auth_malformed(void **st) {
  (void)st;
  MAL(4, 0xC0, 0x01, 0);
  MAL(4, 0xE0, 0x01, 0);
  MAL(4, 0xF0, 0x00);                 /* AUTH is reserved before MQTT 5 */
  PROTO(5, 0xE0, 0x01, 0x84);         /* not a DISCONNECT reason */
  PROTO(5, 0xF0, 0x02, 0x80, 0x00);   /* not an AUTH reason */
  MAL(5, 0xF0, 0x01, 0x18);           /* AUTH: reason and properties go together */
  PROTO(5, 0xE0, 0x05, 0x00, 0x03, 0x23, 0, 1); /* Topic Alias not allowed in DISCONNECT */
}

/* ---- properties ---- */

static void test_props_wrong_packet(void **st) {
  (void)st;
  /* Topic Alias (PUBLISH only) in CONNECT */
  PROTO(5, 0x10, 0x10, 0, 4, 'M', 'Q', 'T', 'T', 5, 0x02, 0, 60, 3, 0x23, 0, 1, 0, 0);
  /* Will Delay Interval is a will property only */
  PROTO(5, 0x10, 0x12, 0, 4, 'M', 'Q', 'T', 'T', 5, 0x02, 0, 60, 5, 0x18, 0, 0, 0, 1, 0, 0);
  assert_false(mqtt_prop_allowed(MQTT_P_TOPIC_ALIAS, MQTT_CONNECT));
  assert_true(mqtt_prop_allowed(MQTT_P_WILL_DELAY, MQTT_PROPS_WILL));
  assert_true(mqtt_prop_allowed(MQTT_P_USER_PROPERTY, MQTT_AUTH));
}

static void test_props_duplicate(void **st) {
  (void)st;
  mqtt_err err;
  assert_int_equal(mqtt_props_validate(V(0x11, 0, 0, 0, 1, 0x11, 0, 0, 0, 2), MQTT_CONNECT, &err), LOOM_EINVAL);
  assert_int_equal(err.reason, MQTT_RC_PROTOCOL_ERROR);
  /* User Property may repeat; Subscription Identifier may repeat in PUBLISH */
  assert_int_equal(mqtt_props_validate(V(0x26, 0, 1, 'k', 0, 1, 'v', 0x26, 0, 1, 'k', 0, 0), MQTT_CONNECT, &err), 0);
  assert_int_equal(mqtt_props_validate(V(0x0B, 1, 0x0B, 2), MQTT_PUBLISH, &err), 0);
  assert_int_equal(mqtt_props_validate(V(0x0B, 1, 0x0B, 2), MQTT_SUBSCRIBE, &err), LOOM_EINVAL);
}

static void test_props_malformed(void **st) {
  (void)st;
  mqtt_err err;
  assert_int_equal(mqtt_props_validate(V(0x05, 0), MQTT_CONNECT, &err), LOOM_EINVAL); /* unknown id */
  assert_int_equal(err.reason, MQTT_RC_MALFORMED);
  assert_int_equal(mqtt_props_validate(V(0x11, 0, 0), MQTT_CONNECT, &err), LOOM_EINVAL); /* short */
  assert_int_equal(err.reason, MQTT_RC_MALFORMED);
  assert_int_equal(mqtt_props_validate(V(0x1F, 0, 2, 'a', 0), MQTT_PUBACK, &err), LOOM_EINVAL);
  assert_int_equal(err.reason, MQTT_RC_MALFORMED); /* [MQTT-1.5.4-2] in a property */
  MAL(5, 0x20, 0x04, 0, 0, 5, 0x24); /* property length past the packet */
}

static void test_props_values(void **st) {
  (void)st;
  mqtt_err err;
  assert_int_equal(mqtt_props_validate(V(0x17, 2), MQTT_CONNECT, &err), LOOM_EINVAL);
  assert_int_equal(err.reason, MQTT_RC_PROTOCOL_ERROR);
  assert_int_equal(mqtt_props_validate(V(0x21, 0, 0), MQTT_CONNECT, &err), LOOM_EINVAL);
  assert_int_equal(mqtt_props_validate(V(0x27, 0, 0, 0, 0), MQTT_CONNECT, &err), LOOM_EINVAL);
  assert_int_equal(mqtt_props_validate(V(0x23, 0, 0), MQTT_PUBLISH, &err), LOOM_EINVAL);
  assert_int_equal(mqtt_props_validate(V(0x16, 0, 1, 'x'), MQTT_CONNECT, &err), LOOM_EINVAL);
  assert_int_equal(err.reason, MQTT_RC_PROTOCOL_ERROR);
  assert_int_equal(mqtt_props_validate(V(0x15, 0, 1, 'm', 0x16, 0, 1, 'x'), MQTT_CONNECT, &err), 0);
}

static void test_props_encode_iterate(void **st) {
  (void)st;
  loom_buf b;
  mqtt_prop_it it;
  mqtt_prop pr;
  loom_buf_init(&b);
  assert_int_equal(mqtt_prop_append_num(&b, MQTT_P_PAYLOAD_FORMAT, 1), 0);
  assert_int_equal(mqtt_prop_append_num(&b, MQTT_P_TOPIC_ALIAS, 513), 0);
  assert_int_equal(mqtt_prop_append_num(&b, MQTT_P_MESSAGE_EXPIRY, 70000), 0);
  assert_int_equal(mqtt_prop_append_num(&b, MQTT_P_SUBSCRIPTION_ID, 268435455), 0);
  assert_int_equal(mqtt_prop_append_bytes(&b, MQTT_P_CORRELATION_DATA, "\x00\x01", 2), 0);
  assert_int_equal(mqtt_prop_append_pair(&b, "k", 1, "v", 1), 0);
  assert_int_equal(mqtt_prop_append_num(&b, MQTT_P_CONTENT_TYPE, 1), LOOM_EINVAL);
  assert_int_equal(mqtt_prop_append_num(&b, MQTT_P_PAYLOAD_FORMAT, 256), LOOM_ERANGE);
  assert_int_equal(mqtt_prop_append_bytes(&b, 0x05, "x", 1), LOOM_EINVAL);
  assert_int_equal(mqtt_props_validate(b.data, b.len, MQTT_PUBLISH, NULL), 0);
  mqtt_prop_it_init(&it, b.data, b.len);
  static const uint32_t nums[] = {1, 513, 70000, 268435455};
  for (int i = 0; i < 4; i++) {
    assert_int_equal(mqtt_prop_next(&it, &pr), 1);
    assert_int_equal(pr.num, nums[i]);
  }
  assert_int_equal(mqtt_prop_next(&it, &pr), 1);
  assert_int_equal(pr.type, MQTT_PT_BINARY);
  assert_int_equal(pr.s_len, 2);
  assert_int_equal(mqtt_prop_next(&it, &pr), 1);
  assert_int_equal(pr.id, MQTT_P_USER_PROPERTY);
  assert_memory_equal(pr.v, "v", 1);
  assert_int_equal(mqtt_prop_next(&it, &pr), 0);
  assert_int_equal(mqtt_props_find(b.data, b.len, MQTT_P_SESSION_EXPIRY, &pr), LOOM_ENOTFOUND);
  loom_buf_deinit(&b);
}

static void test_reason_and_names(void **st) {
  (void)st;
  assert_string_equal(mqtt_reason_name(0x81), "Malformed Packet");
  assert_string_equal(mqtt_reason_name(0x82), "Protocol Error");
  assert_string_equal(mqtt_reason_name(0x03), "unknown");
  assert_true(mqtt_reason_allowed(0x84, MQTT_CONNACK));
  assert_false(mqtt_reason_allowed(0x84, MQTT_DISCONNECT));
  assert_string_equal(mqtt_prop_name(MQTT_P_RECEIVE_MAXIMUM), "Receive Maximum");
  assert_int_equal(mqtt_prop_type(MQTT_P_USER_PROPERTY), MQTT_PT_PAIR);
  assert_int_equal(mqtt_prop_type(0x05), 0);
  assert_string_equal(mqtt_type_name(MQTT_SUBACK), "SUBACK");
}

static void test_encode_refuses_bad_input(void **st) {
  (void)st;
  mqtt_packet pk = {0};
  loom_buf b;
  loom_buf_init(&b);
  pk.type = MQTT_PUBLISH;
  pk.topic = (mqtt_bytes){(const uint8_t *)"t", 1};
  pk.qos = 3;
  assert_int_equal(mqtt_encode(&b, &pk, 4), LOOM_EINVAL);
  pk.qos = 1; /* packet id 0 */
  assert_int_equal(mqtt_encode(&b, &pk, 4), LOOM_EINVAL);
  pk.type = MQTT_AUTH;
  assert_int_equal(mqtt_encode(&b, &pk, 4), LOOM_EINVAL);
  pk.type = MQTT_PINGREQ;
  assert_int_equal(mqtt_encode(&b, &pk, 7), LOOM_EINVAL);
  assert_int_equal(b.len, 0);
  loom_buf_deinit(&b);
}

/* LOOM_ENOMEM when the buffer cannot grow; b->len is left unchanged */
static void test_encode_out_of_memory(void **st) {
  (void)st;
  mqtt_packet pk;
  loom_buf b;
  assert_int_equal(mqtt_decode(connect5, sizeof(connect5), 5, &pk, NULL), 0);
  loom_buf_init(&b);
  loom_mem_fail_after(0);
  int rc = mqtt_encode(&b, &pk, 5);
  loom_mem_fail_after(-1);
  assert_int_equal(rc, LOOM_ENOMEM);
  assert_int_equal(b.len, 0);
  assert_int_equal(mqtt_encode(&b, &pk, 5), 0);
  assert_int_equal(b.len, sizeof(connect5));
  loom_buf_deinit(&b);
}

/* ---- randomized round trip ---- */

static uint32_t rnd(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return (uint32_t)(*s >> 11);
}

static void rnd_str(uint64_t *s, uint8_t *buf, size_t max, mqtt_bytes *out, bool nonempty) {
  size_t n = rnd(s) % max;
  if (nonempty && n == 0) n = 1;
  for (size_t i = 0; i < n; i++) buf[i] = (uint8_t)('a' + rnd(s) % 26);
  out->p = buf;
  out->len = n;
}

static void test_random_roundtrip(void **st) {
  (void)st;
  uint64_t s = 0x9E3779B97F4A7C15ull;
  uint8_t sa[64], sb[64], sc[64], sd[64], pb[64];
  mqtt_sub subs[3];
  loom_buf b, props;
  loom_buf_init(&b);
  loom_buf_init(&props);
  for (int iter = 0; iter < 2000; iter++) {
    mqtt_packet pk = {0}, back, again;
    uint8_t level = (uint8_t)(4 + rnd(&s) % 2);
    pk.type = (uint8_t)(1 + rnd(&s) % (level == 5 ? 15 : 14));
    props.len = 0;
    switch (pk.type) {
    case MQTT_CONNECT:
      pk.level = level;
      pk.clean_start = true;
      pk.keep_alive = (uint16_t)rnd(&s);
      rnd_str(&s, sa, 30, &pk.client_id, false);
      pk.has_will = rnd(&s) & 1;
      if (pk.has_will) {
        pk.will_qos = (uint8_t)(rnd(&s) % 3);
        pk.will_retain = rnd(&s) & 1;
        rnd_str(&s, sb, 30, &pk.will_topic, true);
        rnd_str(&s, pb, 60, &pk.will_payload, false);
      }
      pk.has_username = rnd(&s) & 1;
      pk.has_password = pk.has_username && (rnd(&s) & 1);
      if (pk.has_username) rnd_str(&s, sc, 20, &pk.username, false);
      if (pk.has_password) rnd_str(&s, sd, 20, &pk.password, false);
      if (level == 5) mqtt_prop_append_num(&props, MQTT_P_SESSION_EXPIRY, rnd(&s));
      break;
    case MQTT_CONNACK:
      pk.reason = level == 5 ? 0x80 : (uint8_t)(rnd(&s) % 6);
      pk.session_present = pk.reason == 0 && (rnd(&s) & 1);
      break;
    case MQTT_PUBLISH:
      pk.qos = (uint8_t)(rnd(&s) % 3);
      pk.dup = pk.qos && (rnd(&s) & 1);
      pk.retain = rnd(&s) & 1;
      pk.packet_id = pk.qos ? (uint16_t)(1 + rnd(&s) % 65535) : 0;
      rnd_str(&s, sa, 40, &pk.topic, true);
      rnd_str(&s, pb, 64, &pk.payload, false);
      if (level == 5 && (rnd(&s) & 1)) mqtt_prop_append_num(&props, MQTT_P_TOPIC_ALIAS, 1 + rnd(&s) % 100);
      break;
    case MQTT_SUBSCRIBE:
    case MQTT_UNSUBSCRIBE:
      pk.packet_id = (uint16_t)(1 + rnd(&s) % 65535);
      pk.n_subs = 1 + rnd(&s) % 3;
      rnd_str(&s, sa, 20, &subs[0].filter, true);
      rnd_str(&s, sb, 20, &subs[1].filter, true);
      rnd_str(&s, sc, 20, &subs[2].filter, true);
      for (int i = 0; i < 3; i++)
        subs[i].options = (uint8_t)(rnd(&s) % 3 | (level == 5 ? (rnd(&s) % 3) << 4 : 0));
      pk.subs = subs;
      break;
    case MQTT_SUBACK:
    case MQTT_UNSUBACK:
      pk.packet_id = (uint16_t)(1 + rnd(&s) % 65535);
      sa[0] = pk.type == MQTT_SUBACK ? (uint8_t)(rnd(&s) % 3) : 0;
      sa[1] = 0x80;
      pk.list = (mqtt_bytes){sa, 1 + rnd(&s) % 2};
      break;
    case MQTT_PUBACK:
    case MQTT_PUBREC:
    case MQTT_PUBREL:
    case MQTT_PUBCOMP:
      pk.packet_id = (uint16_t)(1 + rnd(&s) % 65535);
      if (level == 5 && (rnd(&s) & 1)) {
        pk.reason = pk.type == MQTT_PUBREL || pk.type == MQTT_PUBCOMP ? 0x92 : 0x80;
        mqtt_prop_append_bytes(&props, MQTT_P_REASON_STRING, "why", 3);
      }
      break;
    case MQTT_DISCONNECT:
    case MQTT_AUTH:
      if (level == 5 && (rnd(&s) & 1)) pk.reason = pk.type == MQTT_AUTH ? 0x18 : 0x8E;
      break;
    default:
      break;
    }
    pk.props = (mqtt_bytes){props.data, props.len};
    b.len = 0;
    assert_int_equal(mqtt_encode(&b, &pk, level), 0);
    size_t flen = 0;
    assert_int_equal(mqtt_frame(b.data, b.len, 0, &flen, NULL), 0);
    assert_int_equal(flen, b.len);
    mqtt_err err;
    if (mqtt_decode(b.data, b.len, level, &back, &err) != 0)
      fail_msg("iter %d type %d: %s", iter, pk.type, err.msg);
    assert_int_equal(back.type, pk.type);
    assert_int_equal(back.packet_id, pk.packet_id);
    assert_int_equal(back.reason, pk.reason);
    assert_true(bytes_eq(back.topic, pk.topic));
    assert_true(bytes_eq(back.payload, pk.payload));
    assert_true(bytes_eq(back.client_id, pk.client_id));
    assert_true(bytes_eq(back.password, pk.password));
    if (level == 5) assert_true(bytes_eq(back.props, pk.props));
    if (pk.subs) {
      size_t off = 0;
      mqtt_sub e;
      for (size_t i = 0; i < pk.n_subs; i++) {
        assert_int_equal(mqtt_sub_next(&back, &off, &e), 1);
        assert_true(bytes_eq(e.filter, subs[i].filter));
        if (pk.type == MQTT_SUBSCRIBE) assert_int_equal(e.options, subs[i].options);
      }
      assert_int_equal(mqtt_sub_next(&back, &off, &e), 0);
    }
    /* the decoded view re-encodes to the same bytes */
    loom_buf c;
    loom_buf_init(&c);
    assert_int_equal(mqtt_encode(&c, &back, level), 0);
    assert_int_equal(c.len, b.len);
    assert_memory_equal(c.data, b.data, b.len);
    assert_int_equal(mqtt_decode(c.data, c.len, level, &again, NULL), 0);
    assert_true(views_eq(&back, &again));
    loom_buf_deinit(&c);
  }
  loom_buf_deinit(&b);
  loom_buf_deinit(&props);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_frame_whole_packet),
    cmocka_unit_test(test_frame_stream),
    cmocka_unit_test(test_frame_need_more),
    cmocka_unit_test(test_frame_too_large),
    cmocka_unit_test(test_mqtt_1_5_5_1_remaining_length),
    cmocka_unit_test(test_varint_boundaries),
    cmocka_unit_test(test_connect_311_vector),
    cmocka_unit_test(test_connect_31_vector),
    cmocka_unit_test(test_connect_5_vector),
    cmocka_unit_test(test_connect_encode_from_fields),
    cmocka_unit_test(test_mqtt_3_1_2_1_protocol_name),
    cmocka_unit_test(test_mqtt_3_1_2_2_protocol_level),
    cmocka_unit_test(test_mqtt_3_1_2_3_reserved_flag),
    cmocka_unit_test(test_mqtt_3_1_2_13_will_qos_without_will),
    cmocka_unit_test(test_mqtt_3_1_2_15_will_retain_without_will),
    cmocka_unit_test(test_mqtt_3_1_2_14_will_qos3),
    cmocka_unit_test(test_mqtt_3_1_2_22_password_without_username),
    cmocka_unit_test(test_mqtt_3_1_3_8_empty_client_id),
    cmocka_unit_test(test_connect_will_topic_name),
    cmocka_unit_test(test_connect_trailing_bytes),
    cmocka_unit_test(test_connack_vectors),
    cmocka_unit_test(test_mqtt_3_2_2_4_connack_flags),
    cmocka_unit_test(test_publish_vectors),
    cmocka_unit_test(test_mqtt_3_3_1_4_publish_qos3),
    cmocka_unit_test(test_mqtt_3_3_1_2_dup_on_qos0),
    cmocka_unit_test(test_mqtt_2_3_1_1_packet_id_zero),
    cmocka_unit_test(test_mqtt_3_3_2_2_wildcard_topic),
    cmocka_unit_test(test_mqtt_4_7_3_1_empty_topic),
    cmocka_unit_test(test_mqtt_1_5_4_1_surrogate),
    cmocka_unit_test(test_mqtt_1_5_4_2_nul),
    cmocka_unit_test(test_utf8_wellformed),
    cmocka_unit_test(test_ack_vectors),
    cmocka_unit_test(test_ack_malformed),
    cmocka_unit_test(test_mqtt_2_2_2_2_fixed_header_flags),
    cmocka_unit_test(test_subscribe_vectors),
    cmocka_unit_test(test_subscribe_encode_from_subs),
    cmocka_unit_test(test_mqtt_3_8_3_3_subscribe_empty),
    cmocka_unit_test(test_mqtt_3_8_3_4_311_reserved_bits),
    cmocka_unit_test(test_mqtt_3_8_3_5_v5_reserved_bits),
    cmocka_unit_test(test_mqtt_3_8_3_4_v5_no_local_shared),
    cmocka_unit_test(test_subscribe_subscription_id),
    cmocka_unit_test(test_suback_vectors),
    cmocka_unit_test(test_mqtt_3_9_3_2_suback_codes),
    cmocka_unit_test(test_unsubscribe_vectors),
    cmocka_unit_test(test_mqtt_3_10_3_2_unsubscribe_empty),
    cmocka_unit_test(test_ping_disconnect_auth_vectors),
    cmocka_unit_test(test_ping_disconnect_auth_malformed),
    cmocka_unit_test(test_props_wrong_packet),
    cmocka_unit_test(test_props_duplicate),
    cmocka_unit_test(test_props_malformed),
    cmocka_unit_test(test_props_values),
    cmocka_unit_test(test_props_encode_iterate),
    cmocka_unit_test(test_reason_and_names),
    cmocka_unit_test(test_encode_refuses_bad_input),
    cmocka_unit_test(test_encode_out_of_memory),
    cmocka_unit_test(test_random_roundtrip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
