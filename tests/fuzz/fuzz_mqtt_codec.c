/* SPDX-License-Identifier: Apache-2.0
 * libFuzzer target for mqtt/codec.h. First byte: bits 1-0 pick the
 * connection level (3, 4, 5, 5), bits 7-2 a max packet size for the framing
 * helper (0 = none). The rest is framed packet by packet; each whole packet
 * is decoded, and every successfully decoded packet must re-encode, decode
 * again to the same view, and re-encode to the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "mqtt/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int bytes_eq(mqtt_bytes a, mqtt_bytes b) {
  return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

static int views_eq(const mqtt_packet *a, const mqtt_packet *b) {
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

static void check_packet(const uint8_t *p, size_t n, uint8_t level) {
  mqtt_packet pk, back;
  mqtt_err err;
  loom_buf b, c;
  if (mqtt_decode(p, n, level, &pk, &err) != 0) {
    if (err.code >= 0 || err.msg == NULL || err.reason < 0x80) abort();
    return;
  }
  if (pk.type == MQTT_SUBSCRIBE || pk.type == MQTT_UNSUBSCRIBE) {
    size_t off = 0, cnt = 0;
    mqtt_sub s;
    while (mqtt_sub_next(&pk, &off, &s) == 1) cnt++;
    if (cnt != pk.n_entries || off != pk.list.len) abort();
  }
  loom_buf_init(&b);
  loom_buf_init(&c);
  if (mqtt_encode(&b, &pk, level) != 0) abort();
  if (b.len > n) abort(); /* canonical form is never longer */
  if (mqtt_decode(b.data, b.len, level, &back, &err) != 0) abort();
  if (!views_eq(&pk, &back)) abort();
  if (mqtt_encode(&c, &back, level) != 0) abort();
  if (c.len != b.len || memcmp(c.data, b.data, b.len) != 0) abort();
  loom_buf_deinit(&b);
  loom_buf_deinit(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const uint8_t levels[4] = {3, 4, 5, 5};
  if (size < 1) return 0;
  uint8_t level = levels[data[0] & 3];
  size_t max = (size_t)(data[0] >> 2) * 8;
  const uint8_t *p = data + 1;
  size_t len = size - 1;
  /* the whole rest as one packet too (exact-length contract) */
  check_packet(p, len, level);
  while (len > 0) {
    size_t pl = 0;
    mqtt_err err;
    int rc = mqtt_frame(p, len, max, &pl, &err);
    if (rc != 0) {
      if (rc != LOOM_ETRUNC && rc != LOOM_ERANGE && rc != LOOM_EINVAL) abort();
      break;
    }
    if (pl < 2 || pl > len || (max && pl > max)) abort();
    check_packet(p, pl, level);
    p += pl;
    len -= pl;
  }
  return 0;
}
