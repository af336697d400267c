/* SPDX-License-Identifier: Apache-2.0
 * libFuzzer target for the ts block codec. Even first byte: the rest is fed
 * as-is to ts_block_peek and ts_block_decode (must never crash or read out
 * of bounds). Odd first byte: the rest is read as a column of points of a
 * type chosen by the input, encoded, peeked and decoded; everything must
 * round-trip exactly and the stats must match ts_block_stats_compute.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/buf.h"
#include "core/err.h"
#include "ts/block.h"

#define CHECK(c) \
  do {           \
    if (!(c)) __builtin_trap(); \
  } while (0)

static uint64_t get_le(const uint8_t **p, size_t *len, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n && i < *len; i++) v |= (uint64_t)(*p)[i] << (8 * i);
  size_t k = n < *len ? n : *len;
  *p += k;
  *len -= k;
  return v;
}

static uint64_t dbits(double v) {
  uint64_t u;
  memcpy(&u, &v, 8);
  return u;
}

static void check_value(ts_type type, const ts_value *a, const ts_value *b) {
  switch (type) {
  case TS_FLOAT: CHECK(dbits(a->f) == dbits(b->f)); break;
  case TS_INT: CHECK(a->i == b->i); break;
  case TS_UINT: CHECK(a->u == b->u); break;
  case TS_BOOL: CHECK(a->b == b->b); break;
  case TS_STRING: break;
  }
}

static void check_stats(ts_type type, const ts_block_stats *a, const ts_block_stats *b) {
  CHECK(a->min_ts == b->min_ts && a->max_ts == b->max_ts && a->count == b->count);
  check_value(type, &a->min, &b->min);
  check_value(type, &a->max, &b->max);
  check_value(type, &a->first, &b->first);
  check_value(type, &a->last, &b->last);
  if (type == TS_FLOAT) CHECK(dbits(a->sum_f) == dbits(b->sum_f));
  if (type == TS_INT || type == TS_BOOL) CHECK(a->sum_i == b->sum_i);
  if (type == TS_UINT) CHECK(a->sum_u == b->sum_u);
}

static const double pow10_tab[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7};
static const int64_t scale_tab[] = {1, 1000, 1000000, 1000000000, INT64_C(1) << 40, 10000000000};

static void roundtrip(const uint8_t *p, size_t len) {
  if (len < 3) return;
  ts_type type = (ts_type)(1 + p[0] % 5);
  unsigned float_mode = p[1] & 3, e = (p[1] >> 2) & 7;
  int64_t scale = scale_tab[(p[1] >> 5) % 6];
  p += 2;
  len -= 2;
  size_t esz = ts_type_size(type);
  int64_t *ts = malloc(TS_BLOCK_MAX_POINTS * sizeof(int64_t));
  int64_t *ts2 = malloc(TS_BLOCK_MAX_POINTS * sizeof(int64_t));
  uint8_t *vals = calloc(TS_BLOCK_MAX_POINTS, esz);
  uint8_t *vals2 = calloc(TS_BLOCK_MAX_POINTS, esz);
  loom_buf out, sb;
  loom_buf_init(&out);
  loom_buf_init(&sb);
  if (!ts || !ts2 || !vals || !vals2) goto done;
  uint32_t n = 0;
  int64_t t = (int64_t)get_le(&p, &len, 8);
  while (len > 0 && n < TS_BLOCK_MAX_POINTS) {
    if (n > 0) {
      uint64_t d = get_le(&p, &len, 1) * (uint64_t)scale + 1;
      if (t > INT64_MAX - (int64_t)d) break;
      t += (int64_t)d;
    }
    ts[n] = t;
    switch (type) {
    case TS_FLOAT: {
      double v;
      if (float_mode == 0) {
        uint64_t raw = get_le(&p, &len, 8);
        memcpy(&v, &raw, 8);
      } else {
        v = (double)(int32_t)get_le(&p, &len, float_mode == 1 ? 2 : 4) / pow10_tab[e];
      }
      memcpy(vals + n * 8, &v, 8);
      break;
    }
    case TS_INT:
    case TS_UINT: {
      uint64_t v = get_le(&p, &len, len ? 1 + (size_t)(p[0] & 7) : 0);
      memcpy(vals + n * 8, &v, 8);
      break;
    }
    case TS_BOOL: vals[n] = (uint8_t)get_le(&p, &len, 1); break;
    case TS_STRING: {
      ts_str s;
      size_t l = get_le(&p, &len, 1) % 17;
      if (l > len) l = len;
      s.p = (const char *)p;
      s.len = (uint32_t)l;
      p += l;
      len -= l;
      memcpy(vals + n * sizeof(ts_str), &s, sizeof(s));
      break;
    }
    }
    n++;
  }
  if (n == 0) goto done;
  ts_block_stats st, st2;
  CHECK(ts_block_encode(type, ts, vals, n, &out, &st) == 0);
  ts_block_stats_compute(type, ts, vals, n, &st2);
  check_stats(type, &st, &st2);
  ts_block_info info;
  CHECK(ts_block_peek(out.data, out.len, &info) == 0);
  CHECK(info.len == out.len && info.type == type);
  check_stats(type, &st, &info.stats);
  CHECK(ts_block_decode(out.data, out.len, ts2, vals2, n, &sb) == 0);
  CHECK(memcmp(ts, ts2, n * sizeof(int64_t)) == 0);
  if (type == TS_STRING) {
    const ts_str *a = (const ts_str *)(void *)vals, *b = (const ts_str *)(void *)vals2;
    for (uint32_t i = 0; i < n; i++)
      CHECK(a[i].len == b[i].len && (!a[i].len || memcmp(a[i].p, b[i].p, a[i].len) == 0));
  } else if (type == TS_BOOL) {
    for (uint32_t i = 0; i < n; i++) CHECK((vals[i] != 0) == vals2[i]);
  } else {
    CHECK(memcmp(vals, vals2, n * esz) == 0);
  }
  ts_block_stats_compute(type, ts2, vals2, n, &st2);
  check_stats(type, &st, &st2);
done:
  loom_buf_deinit(&sb);
  loom_buf_deinit(&out);
  free(ts);
  free(ts2);
  free(vals);
  free(vals2);
}

/* fix_crc: overwrite the block's CRC with the right one so the column
 * decoders see arbitrary contents instead of stopping at the checksum. */
static void decode_raw(const uint8_t *in, size_t len, int fix_crc) {
  ts_block_info info;
  if (ts_block_peek(in, len, &info)) return;
  uint8_t *copy = NULL;
  const uint8_t *p = in;
  if (fix_crc && info.len <= len) {
    copy = malloc(len);
    if (!copy) return;
    memcpy(copy, in, len);
    loom_put_le32(copy + info.len - 4, (uint32_t)crc32(0L, copy, info.len - 4));
    p = copy;
  }
  CHECK(info.stats.count >= 1 && info.stats.count <= TS_BLOCK_MAX_POINTS);
  uint32_t cap = info.stats.count;
  int64_t *ts = malloc(cap * sizeof(int64_t));
  void *vals = malloc(cap * sizeof(ts_str));
  loom_buf sb;
  loom_buf_init(&sb);
  if (ts && vals) {
    int rc = ts_block_decode(p, len, ts, vals, cap, &sb);
    if (rc == 0)
      for (uint32_t i = 1; i < cap; i++) CHECK(ts[i] > ts[i - 1]);
  }
  loom_buf_deinit(&sb);
  free(ts);
  free(vals);
  free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  if (data[0] & 1)
    roundtrip(data + 1, size - 1);
  else
    decode_raw(data + 1, size - 1, data[0] & 2);
  return 0;
}
