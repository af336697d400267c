/* SPDX-License-Identifier: Apache-2.0
 * libFuzzer target for mqtt/persist.h and the session blob of
 * mqtt/session.h. First byte (mod 3) picks the mode: 0 the rest is a whole
 * snapshot image; 1 the rest is a session blob; 2 the rest is a list of
 * records (u8 type, u16 LE length, body) framed here with valid checksums
 * and an end record, so the fuzzer reaches the record parsers past the
 * checksums. Every loaded session must save, reload and save again to the
 * same bytes, and survive a connect and a drained send loop.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "core/buf.h"
#include "core/err.h"
#include "mqtt/codec.h"
#include "mqtt/persist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static mqtt_session_cfg fuzz_cfg(void) {
  mqtt_session_cfg c;
  memset(&c, 0, sizeof(c));
  c.recv_max_in = 16;
  c.alias_max_in = 4;
  c.alias_out_cap = 4;
  c.queue_qos0_offline = true;
  return c;
}

/* Save / reload / save must agree; then exercise the session. */
static void check_session(mqtt_session *s) {
  mqtt_session_cfg c = fuzz_cfg();
  loom_buf a, b;
  loom_buf_init(&a);
  loom_buf_init(&b);
  if (mqtt_session_save(s, 1000, &a) == 0) {
    mqtt_session *r = NULL;
    int rc = mqtt_session_load(&c, a.data, a.len, 1000, 0, &r);
    if (rc == LOOM_EINVAL) abort(); /* what we wrote must load */
    if (rc == 0) {
      if (mqtt_session_save(r, 1000, &b) == 0 &&
          (a.len != b.len || memcmp(a.data, b.data, a.len) != 0))
        abort();
      mqtt_session_free(r);
    }
  }
  loom_buf_deinit(&a);
  loom_buf_deinit(&b);
  if (mqtt_session_connect(s, MQTT_LEVEL_5, 3, 2, 60) != 0) abort();
  loom_buf enc;
  loom_buf_init(&enc);
  for (int i = 0; i < 64; i++) {
    mqtt_session_out o;
    int rc = mqtt_session_next(s, 2000, &o);
    if (rc) break;
    loom_buf_reset(&enc);
    (void)mqtt_session_out_encode(s, &o, &enc);
    if (o.type == MQTT_PUBREL) (void)mqtt_session_on_pubcomp(s, o.packet_id);
    else if (o.qos == 1) (void)mqtt_session_on_puback(s, o.packet_id);
    else if (o.qos == 2) (void)mqtt_session_on_pubrec(s, o.packet_id, 0);
    mqtt_msg_unref(o.msg);
  }
  loom_buf_deinit(&enc);
}

static int on_client(void *ud, const char *id, mqtt_session *s, const mqtt_snap_sub *subs,
                     size_t n) {
  (void)ud;
  if (strlen(id) > 65535) abort();
  for (size_t i = 0; i < n; i++)
    if (strlen(subs[i].filter) != subs[i].len || subs[i].opts.qos > 2) abort();
  check_session(s);
  mqtt_session_free(s);
  return 0;
}

static int on_retained(void *ud, const mqtt_retain_msg *m, bool has_expiry, uint32_t rem) {
  (void)ud;
  if (m->payload_len == 0 || m->qos > 2 || (has_expiry && rem == 0)) abort();
  return 0;
}

static void frame(loom_buf *img, uint8_t type, const uint8_t *body, size_t len) {
  uint8_t hdr[MQTT_SNAP_REC_HEADER_LEN];
  loom_put_le32(hdr, (uint32_t)len);
  hdr[4] = type;
  loom_put_le32(hdr + 5, (uint32_t)XXH32(body, len, XXH32(hdr, 5, 0)));
  (void)loom_buf_append(img, hdr, sizeof(hdr));
  (void)loom_buf_append(img, body, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  mqtt_session_cfg c = fuzz_cfg();
  mqtt_snap_visitor v = {NULL, on_client, on_retained};
  char err[160];
  const uint8_t *p = data + 1;
  size_t len = size - 1;
  switch (data[0] % 3) {
  case 0:
    (void)mqtt_snap_load_mem(p, len, &c, 1000, 5000, &v, err, sizeof(err));
    break;
  case 1: {
    mqtt_session *s = NULL;
    int rc = mqtt_session_load(&c, p, len, 1000, 100, &s);
    if (rc != 0 && rc != LOOM_EINVAL && rc != LOOM_ENOMEM) abort();
    if (rc == 0) {
      check_session(s);
      mqtt_session_free(s);
    }
    break;
  }
  default: {
    loom_buf img;
    loom_buf_init(&img);
    uint8_t hdr[MQTT_SNAP_HEADER_LEN];
    memcpy(hdr, "LOOMMQS", 8);
    loom_put_le32(hdr + 8, MQTT_SNAP_VERSION);
    loom_put_le64(hdr + 12, 4000);
    loom_put_le32(hdr + 20, (uint32_t)XXH32(hdr, 20, 0));
    (void)loom_buf_append(&img, hdr, sizeof(hdr));
    uint64_t counts[2] = {0, 0};
    while (len >= 3) {
      uint8_t type = p[0] % 3 == 0 ? MQTT_SNAP_REC_CLIENT : p[0] % 3 == 1 ? MQTT_SNAP_REC_RETAINED : p[0];
      size_t n = (size_t)p[1] | (size_t)p[2] << 8;
      p += 3;
      len -= 3;
      if (n > len) n = len;
      if (type == MQTT_SNAP_REC_CLIENT) counts[0]++;
      if (type == MQTT_SNAP_REC_RETAINED) counts[1]++;
      frame(&img, type, p, n);
      p += n;
      len -= n;
    }
    uint8_t end[16];
    loom_put_le64(end, counts[0]);
    loom_put_le64(end + 8, counts[1]);
    frame(&img, MQTT_SNAP_REC_END, end, sizeof(end));
    (void)mqtt_snap_load_mem(img.data, img.len, &c, 1000, 5000, &v, err, sizeof(err));
    loom_buf_deinit(&img);
    break;
  }
  }
  return 0;
}
