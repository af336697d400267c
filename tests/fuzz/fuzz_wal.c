/* SPDX-License-Identifier: Apache-2.0
 * libFuzzer target for the WAL file decoder (ts_wal_decode_image and the
 * record/header codecs it uses). Two modes, chosen by the first byte:
 * even = decode the rest as a whole file image and check the invariants of
 * the report; odd = treat the rest as payloads, encode them into an image and
 * check they decode back identically (also after truncation).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "ts/wal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct sum {
  uint64_t records, bytes;
  const uint8_t *img;
  size_t img_len;
} sum;

static int count_cb(void *arg, uint8_t type, const uint8_t *payload, size_t len) {
  sum *s = arg;
  (void)type;
  /* the payload must lie inside the image */
  if (payload < s->img || payload + len > s->img + s->img_len) abort();
  s->records++;
  s->bytes += len;
  return 0;
}

static void check_image(const uint8_t *img, size_t len) {
  ts_wal_image_info info;
  sum s = {0, 0, img, len};
  if (ts_wal_decode_image(img, len, count_cb, &s, &info) != 0) abort();
  if (info.valid_len > len) abort();
  if (info.records != s.records || info.payload_bytes != s.bytes) abort();
  if (info.status == 0 && info.valid_len != len) abort();
  if (info.status != 0 && info.valid_len == len && len >= TS_WAL_HEADER_LEN) abort();
  if (info.status != 0 && info.status != LOOM_ETRUNC && info.status != LOOM_ECORRUPT &&
      info.status != LOOM_EUNSUP)
    abort();
  /* the valid prefix alone decodes cleanly with the same records */
  if (info.valid_len > 0) {
    ts_wal_image_info again;
    sum s2 = {0, 0, img, info.valid_len};
    if (ts_wal_decode_image(img, info.valid_len, count_cb, &s2, &again) != 0) abort();
    if (again.status != 0 || again.records != info.records) abort();
  }
}

typedef struct cmp {
  const uint8_t *src;
  size_t src_len, pos;
  uint64_t n;
} cmp;

/* Payload k is the next (src[pos] % 32) bytes of the input. */
static int cmp_cb(void *arg, uint8_t type, const uint8_t *payload, size_t len) {
  cmp *c = arg;
  size_t want;
  if (c->pos >= c->src_len) abort();
  want = c->src[c->pos] % 32;
  if (want > c->src_len - c->pos - 1) want = c->src_len - c->pos - 1;
  if (len != want || type != (uint8_t)c->n) abort();
  if (len > 0 && memcmp(payload, c->src + c->pos + 1, len) != 0) abort();
  c->pos += 1 + want;
  c->n++;
  return 0;
}

static void roundtrip(const uint8_t *data, size_t size) {
  loom_buf b;
  uint8_t hdr[TS_WAL_HEADER_LEN];
  size_t pos = 0;
  uint64_t n = 0;
  ts_wal_image_info info;
  cmp c = {data, size, 0, 0};
  loom_buf_init(&b);
  ts_wal_header_encode(hdr, size);
  if (loom_buf_append(&b, hdr, sizeof hdr) != 0) goto out;
  while (pos < size) {
    size_t want = data[pos] % 32;
    if (want > size - pos - 1) want = size - pos - 1;
    if (ts_wal_record_encode(&b, (uint8_t)n, data + pos + 1, want) != 0) goto out;
    pos += 1 + want;
    n++;
  }
  if (ts_wal_decode_image(b.data, b.len, cmp_cb, &c, &info) != 0) abort();
  if (info.status != 0 || info.records != n || c.n != n || info.file_id != size) abort();
  /* any truncation loses only the tail and is reported as torn */
  if (b.len > TS_WAL_HEADER_LEN) {
    size_t cut = TS_WAL_HEADER_LEN + (size * 7919u) % (b.len - TS_WAL_HEADER_LEN);
    if (ts_wal_decode_image(b.data, cut, NULL, NULL, &info) != 0) abort();
    if (info.valid_len > cut || info.records > n) abort();
    if (info.valid_len < cut && info.status != LOOM_ETRUNC) abort();
  }
out:
  loom_buf_deinit(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  if (data[0] & 1) roundtrip(data + 1, size - 1);
  else check_image(data + 1, size - 1);
  return 0;
}
