/* SPDX-License-Identifier: Apache-2.0
 * Block codec: assembles header + pre-aggregates + timestamp column + value
 * column + CRC32 (see block.h for the API). The column codecs live in
 * enc_time.c, enc_float.c, enc_int.c, enc_bool.c and enc_str.c.
 *
 * Block layout, version 1. All fixed fields little-endian.
 *
 *   off  size  field
 *     0     1  magic 0xB7
 *     1     1  format version, 1
 *     2     1  value type (ts_type: 1 float, 2 int, 3 uint, 4 bool, 5 string)
 *     3     1  flags, 0 (reserved; a reader rejects unknown bits)
 *     4     4  count: points, 1..TS_BLOCK_MAX_POINTS
 *     8     8  min_ts: int64 ns, the first timestamp
 *    16     8  max_ts: int64 ns, the last timestamp
 *    24     8  min   \   value fields, 8 bytes each, by type:
 *    32     8  max    |    float: IEEE-754 bits; int: int64; uint: uint64;
 *    40     8  first  |    bool: 0 or 1; string: 0
 *    48     8  last  /
 *    56     8  sum: float: IEEE-754 bits of sum_f; int, bool: sum_i (int64);
 *              uint: sum_u; string: 0
 *    64     4  ts_len: bytes of the timestamp section (>= 8)
 *    68     4  val_len: bytes of the value section (>= 1)
 *    72  ts_len   timestamp section: enc_time.h column
 *     .  val_len  value section: enc_float.h / enc_int.h (TS_INT signed,
 *                 TS_UINT unsigned) / enc_bool.h / enc_str.h column
 *     .     4  CRC32 (zlib crc32) of every byte before it
 *
 * Total length = 72 + ts_len + val_len + 4 (< 2^32). A new layout takes a
 * new version byte; readers reject versions they do not know.
 */
#include "ts/block.h"

#include <math.h>
#include <string.h>
#include <zlib.h>

#include "core/err.h"
#include "ts/enc_bool.h"
#include "ts/enc_float.h"
#include "ts/enc_int.h"
#include "ts/enc_str.h"
#include "ts/enc_time.h"

#define BLOCK_MAGIC 0xB7
#define BLOCK_VERSION 1
#define BLOCK_HDR 72
#define BLOCK_CRC 4

static uint64_t dbits(double v) {
  uint64_t u;
  memcpy(&u, &v, 8);
  return u;
}

static double dfrom(uint64_t u) {
  double v;
  memcpy(&v, &u, 8);
  return v;
}

void ts_block_stats_compute(ts_type type, const int64_t *ts, const void *vals, uint32_t n,
                            ts_block_stats *st) {
  memset(st, 0, sizeof(*st));
  if (n == 0) return;
  st->min_ts = ts[0];
  st->max_ts = ts[n - 1];
  st->count = n;
  switch (type) {
  case TS_FLOAT: {
    const double *v = vals;
    int found = 0;
    double mn = NAN, mx = NAN, sum = 0;
    for (uint32_t i = 0; i < n; i++) {
      double x = v[i];
      sum += x;
      if (isnan(x)) continue;
      if (!found) {
        mn = mx = x;
        found = 1;
      } else {
        if (x < mn) mn = x;
        if (x > mx) mx = x;
      }
    }
    st->min.f = mn;
    st->max.f = mx;
    st->first.f = v[0];
    st->last.f = v[n - 1];
    st->sum_f = sum;
    break;
  }
  case TS_INT: {
    const int64_t *v = vals;
    int64_t mn = v[0], mx = v[0];
    uint64_t sum = 0;
    for (uint32_t i = 0; i < n; i++) {
      if (v[i] < mn) mn = v[i];
      if (v[i] > mx) mx = v[i];
      sum += (uint64_t)v[i];
    }
    st->min.i = mn;
    st->max.i = mx;
    st->first.i = v[0];
    st->last.i = v[n - 1];
    st->sum_i = (int64_t)sum;
    break;
  }
  case TS_UINT: {
    const uint64_t *v = vals;
    uint64_t mn = v[0], mx = v[0], sum = 0;
    for (uint32_t i = 0; i < n; i++) {
      if (v[i] < mn) mn = v[i];
      if (v[i] > mx) mx = v[i];
      sum += v[i];
    }
    st->min.u = mn;
    st->max.u = mx;
    st->first.u = v[0];
    st->last.u = v[n - 1];
    st->sum_u = sum;
    break;
  }
  case TS_BOOL: {
    const uint8_t *v = vals;
    int64_t trues = 0;
    for (uint32_t i = 0; i < n; i++) trues += v[i] != 0;
    st->min.b = trues == n;
    st->max.b = trues > 0;
    st->first.b = v[0] != 0;
    st->last.b = v[n - 1] != 0;
    st->sum_i = trues;
    break;
  }
  case TS_STRING: break;
  }
}

/* The 8-byte header field of a stats value. */
static uint64_t value_field(ts_type type, const ts_value *v) {
  switch (type) {
  case TS_FLOAT: return dbits(v->f);
  case TS_INT: return (uint64_t)v->i;
  case TS_UINT: return v->u;
  case TS_BOOL: return v->b;
  case TS_STRING: break;
  }
  return 0;
}

static void value_from_field(ts_type type, uint64_t f, ts_value *v) {
  memset(v, 0, sizeof(*v));
  switch (type) {
  case TS_FLOAT: v->f = dfrom(f); break;
  case TS_INT: v->i = (int64_t)f; break;
  case TS_UINT: v->u = f; break;
  case TS_BOOL: v->b = (uint8_t)f; break;
  case TS_STRING: break;
  }
}

static int type_valid(int type) { return type >= TS_FLOAT && type <= TS_STRING; }

int ts_block_encode(ts_type type, const int64_t *ts, const void *vals, uint32_t n, loom_buf *out,
                    ts_block_stats *st) {
  if (!type_valid((int)type) || n == 0 || n > TS_BLOCK_MAX_POINTS) return LOOM_EINVAL;
  for (uint32_t i = 1; i < n; i++)
    if (ts[i] <= ts[i - 1]) return LOOM_EINVAL;
  ts_block_stats s;
  ts_block_stats_compute(type, ts, vals, n, &s);

  size_t start = out->len;
  int rc = LOOM_ENOMEM;
  uint8_t hdr[BLOCK_HDR] = {BLOCK_MAGIC, BLOCK_VERSION, (uint8_t)type, 0};
  loom_put_le32(hdr + 4, n);
  loom_put_le64(hdr + 8, (uint64_t)s.min_ts);
  loom_put_le64(hdr + 16, (uint64_t)s.max_ts);
  loom_put_le64(hdr + 24, value_field(type, &s.min));
  loom_put_le64(hdr + 32, value_field(type, &s.max));
  loom_put_le64(hdr + 40, value_field(type, &s.first));
  loom_put_le64(hdr + 48, value_field(type, &s.last));
  uint64_t sum = type == TS_FLOAT ? dbits(s.sum_f)
                 : type == TS_UINT ? s.sum_u
                 : type == TS_STRING ? 0
                                     : (uint64_t)s.sum_i;
  loom_put_le64(hdr + 56, sum);
  if (loom_buf_append(out, hdr, BLOCK_HDR)) goto out;
  if ((rc = ts_enc_time_encode(ts, n, out))) goto out;
  size_t ts_len = out->len - start - BLOCK_HDR;
  switch (type) {
  case TS_FLOAT: rc = ts_enc_float_encode(vals, n, out); break;
  case TS_INT: rc = ts_enc_int_encode(vals, n, 1, out); break;
  case TS_UINT: rc = ts_enc_int_encode(vals, n, 0, out); break;
  case TS_BOOL: rc = ts_enc_bool_encode(vals, n, out); break;
  case TS_STRING: rc = ts_enc_str_encode(vals, n, out); break;
  }
  if (rc) goto out;
  size_t val_len = out->len - start - BLOCK_HDR - ts_len;
  if (out->len - start + BLOCK_CRC > UINT32_MAX) {
    rc = LOOM_EINVAL;
    goto out;
  }
  uint8_t *h = out->data + start;
  loom_put_le32(h + 64, (uint32_t)ts_len);
  loom_put_le32(h + 68, (uint32_t)val_len);
  uint32_t crc = (uint32_t)crc32(0L, h, (uInt)(out->len - start));
  if ((rc = loom_buf_append_u32(out, crc))) goto out;
  if (st) *st = s;
  rc = 0;
out:
  if (rc) out->len = start;
  return rc;
}

int ts_block_peek(const uint8_t *p, size_t len, ts_block_info *info) {
  if (len < 1) return LOOM_ETRUNC;
  if (p[0] != BLOCK_MAGIC) return LOOM_ECORRUPT;
  if (len < 2) return LOOM_ETRUNC;
  if (p[1] != BLOCK_VERSION) return LOOM_ECORRUPT;
  if (len < BLOCK_HDR) return LOOM_ETRUNC;
  ts_type type = (ts_type)p[2];
  uint32_t count = loom_le32(p + 4);
  int64_t min_ts = (int64_t)loom_le64(p + 8), max_ts = (int64_t)loom_le64(p + 16);
  uint32_t ts_len = loom_le32(p + 64), val_len = loom_le32(p + 68);
  if (!type_valid(p[2]) || p[3] != 0 || count == 0 || count > TS_BLOCK_MAX_POINTS)
    return LOOM_ECORRUPT;
  if (count == 1 ? min_ts != max_ts
                 : min_ts >= max_ts || (uint64_t)max_ts - (uint64_t)min_ts < count - 1)
    return LOOM_ECORRUPT;
  uint64_t total = (uint64_t)BLOCK_HDR + ts_len + val_len + BLOCK_CRC;
  if (ts_len < 8 || val_len < 1 || total > UINT32_MAX) return LOOM_ECORRUPT;
  uint64_t f[5];
  for (int i = 0; i < 5; i++) f[i] = loom_le64(p + 24 + 8 * i);
  if (type == TS_BOOL &&
      (f[0] > 1 || f[1] > 1 || f[2] > 1 || f[3] > 1 || f[4] > count || f[0] > f[1]))
    return LOOM_ECORRUPT;
  if (type == TS_STRING && (f[0] | f[1] | f[2] | f[3] | f[4])) return LOOM_ECORRUPT;
  memset(info, 0, sizeof(*info));
  info->type = type;
  info->len = (uint32_t)total;
  ts_block_stats *st = &info->stats;
  st->min_ts = min_ts;
  st->max_ts = max_ts;
  st->count = count;
  value_from_field(type, f[0], &st->min);
  value_from_field(type, f[1], &st->max);
  value_from_field(type, f[2], &st->first);
  value_from_field(type, f[3], &st->last);
  if (type == TS_FLOAT)
    st->sum_f = dfrom(f[4]);
  else if (type == TS_UINT)
    st->sum_u = f[4];
  else
    st->sum_i = (int64_t)f[4];
  return 0;
}

/* first/last in the header must be the decoded column's ends (bitwise). */
static int ends_match(ts_type type, const void *vals, uint32_t n, const ts_block_stats *st) {
  switch (type) {
  case TS_FLOAT: {
    const double *v = vals;
    return dbits(v[0]) == dbits(st->first.f) && dbits(v[n - 1]) == dbits(st->last.f);
  }
  case TS_INT: {
    const int64_t *v = vals;
    return v[0] == st->first.i && v[n - 1] == st->last.i;
  }
  case TS_UINT: {
    const uint64_t *v = vals;
    return v[0] == st->first.u && v[n - 1] == st->last.u;
  }
  case TS_BOOL: {
    const uint8_t *v = vals;
    return v[0] == st->first.b && v[n - 1] == st->last.b;
  }
  case TS_STRING: break;
  }
  return 1;
}

int ts_block_decode(const uint8_t *p, size_t len, int64_t *ts_out, void *vals_out, uint32_t cap,
                    loom_buf *strbuf) {
  ts_block_info info;
  int rc = ts_block_peek(p, len, &info);
  if (rc) return rc;
  if (len < info.len) return LOOM_ETRUNC;
  size_t body = info.len - BLOCK_CRC;
  if ((uint32_t)crc32(0L, p, (uInt)body) != loom_le32(p + body)) return LOOM_ECORRUPT;
  uint32_t n = info.stats.count;
  if (n > cap) return LOOM_ERANGE;
  if (info.type == TS_STRING && !strbuf) return LOOM_EINVAL;
  uint32_t ts_len = loom_le32(p + 64), val_len = loom_le32(p + 68);
  const uint8_t *tp = p + BLOCK_HDR, *vp = tp + ts_len;
  if (ts_enc_time_decode(tp, ts_len, n, ts_out) || ts_out[0] != info.stats.min_ts ||
      ts_out[n - 1] != info.stats.max_ts)
    return LOOM_ECORRUPT;
  switch (info.type) {
  case TS_FLOAT: rc = ts_enc_float_decode(vp, val_len, n, vals_out); break;
  case TS_INT: rc = ts_enc_int_decode(vp, val_len, n, 1, vals_out); break;
  case TS_UINT: rc = ts_enc_int_decode(vp, val_len, n, 0, vals_out); break;
  case TS_BOOL: rc = ts_enc_bool_decode(vp, val_len, n, vals_out); break;
  case TS_STRING: rc = ts_enc_str_decode(vp, val_len, n, vals_out, strbuf); break;
  }
  if (rc) return rc == LOOM_ENOMEM ? rc : LOOM_ECORRUPT;
  if (!ends_match(info.type, vals_out, n, &info.stats)) return LOOM_ECORRUPT;
  return 0;
}
