/* SPDX-License-Identifier: Apache-2.0
 * Timestamp column codec (see enc_time.h for the byte layout). The encoder
 * measures the three candidate encodings in one pass and writes the smallest;
 * the decoder unpacks into the output array and prefix-sums in place,
 * checking that the result is strictly increasing.
 */
#include "ts/enc_time.h"

#include <stdint.h>

#include "core/err.h"
#include "ts/enc_int.h"

enum { MODE_DELTA_FOR = 0, MODE_DOD_FOR = 1, MODE_DOD_RLE = 2, MODE_GCD_DELTA_FOR = 3 };

static uint64_t gcd(uint64_t a, uint64_t b) {
  while (b) {
    uint64_t t = a % b;
    a = b;
    b = t;
  }
  return a;
}

static size_t uvarint_len(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    n++;
  }
  return n;
}

static uint64_t zigzag(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }

int ts_enc_time_encode(const int64_t *ts, uint32_t n, loom_buf *out) {
  if (n == 0) return LOOM_EINVAL;
  for (uint32_t i = 1; i < n; i++)
    if (ts[i] <= ts[i - 1]) return LOOM_EINVAL;
  size_t start = out->len;
  if (loom_buf_append_u64(out, (uint64_t)ts[0])) return LOOM_ENOMEM;
  if (n == 1) return 0;

  const uint64_t *u = (const uint64_t *)ts;
  uint64_t d1 = u[1] - u[0];
  uint64_t dmin = d1, dmax = d1, prev = d1, g = d1;
  int64_t dodmin = 0, dodmax = 0;
  size_t rle = 0, run = 0;
  for (uint32_t i = 2; i < n; i++) {
    uint64_t d = u[i] - u[i - 1];
    if (g > 1) g = gcd(g, d);
    if (d < dmin) dmin = d;
    if (d > dmax) dmax = d;
    int64_t dod = (int64_t)(d - prev);
    prev = d;
    if (i == 2) {
      dodmin = dodmax = dod;
    } else {
      if (dod < dodmin) dodmin = dod;
      if (dod > dodmax) dodmax = dod;
    }
    if (dod == 0) {
      run++;
    } else {
      rle += uvarint_len(run) + uvarint_len(zigzag(dod));
      run = 0;
    }
  }
  if (run) rle += uvarint_len(run);

  unsigned w0 = ts_bits_width(dmax - dmin);
  unsigned w1 = ts_bits_width((uint64_t)dodmax - (uint64_t)dodmin);
  size_t size0 = 2 + uvarint_len(dmin) + ts_bits_len(n - 1, w0);
  size_t size1 = 2 + uvarint_len(d1) + uvarint_len(zigzag(dodmin)) + ts_bits_len(n - 2, w1);
  size_t size2 = 1 + uvarint_len(d1) + rle;
  /* deltas that are all multiples of g (10 s data with gaps: g = 10^10 ns)
   * pack as small integers */
  unsigned w3 = g > 1 ? ts_bits_width(dmax / g - dmin / g) : 64;
  size_t size3 = g > 1 ? 2 + uvarint_len(g) + uvarint_len(dmin / g) + ts_bits_len(n - 1, w3) : SIZE_MAX;
  int mode = MODE_DELTA_FOR;
  size_t size = size0;
  if (size3 < size) {
    mode = MODE_GCD_DELTA_FOR;
    size = size3;
  }
  if (size1 < size) {
    mode = MODE_DOD_FOR;
    size = size1;
  }
  if (size2 < size) {
    mode = MODE_DOD_RLE;
    size = size2;
  }
  if (loom_buf_reserve(out, size)) {
    out->len = start;
    return LOOM_ENOMEM;
  }
  /* Room is reserved: the appends below cannot fail. */
  loom_buf_append_u8(out, (uint8_t)mode);
  ts_bitw bw;
  if (mode == MODE_GCD_DELTA_FOR) {
    loom_buf_append_uvarint(out, g);
    loom_buf_append_uvarint(out, dmin / g);
    loom_buf_append_u8(out, (uint8_t)w3);
    ts_bitw_init(&bw, out->data + out->len);
    if (w3)
      for (uint32_t i = 1; i < n; i++) ts_bitw_put(&bw, (u[i] - u[i - 1]) / g - dmin / g, w3);
    out->len = (size_t)(ts_bitw_finish(&bw) - out->data);
  } else if (mode == MODE_DELTA_FOR) {
    loom_buf_append_uvarint(out, dmin);
    loom_buf_append_u8(out, (uint8_t)w0);
    ts_bitw_init(&bw, out->data + out->len);
    if (w0)
      for (uint32_t i = 1; i < n; i++) ts_bitw_put(&bw, u[i] - u[i - 1] - dmin, w0);
    out->len = (size_t)(ts_bitw_finish(&bw) - out->data);
  } else if (mode == MODE_DOD_FOR) {
    loom_buf_append_uvarint(out, d1);
    loom_buf_append_svarint(out, dodmin);
    loom_buf_append_u8(out, (uint8_t)w1);
    ts_bitw_init(&bw, out->data + out->len);
    if (w1)
      for (uint32_t i = 2; i < n; i++) {
        uint64_t dod = (u[i] - u[i - 1]) - (u[i - 1] - u[i - 2]);
        ts_bitw_put(&bw, dod - (uint64_t)dodmin, w1);
      }
    out->len = (size_t)(ts_bitw_finish(&bw) - out->data);
  } else {
    loom_buf_append_uvarint(out, d1);
    run = 0;
    for (uint32_t i = 2; i < n; i++) {
      int64_t dod = (int64_t)((u[i] - u[i - 1]) - (u[i - 1] - u[i - 2]));
      if (dod == 0) {
        run++;
      } else {
        loom_buf_append_uvarint(out, run);
        loom_buf_append_svarint(out, dod);
        run = 0;
      }
    }
    if (run) loom_buf_append_uvarint(out, run);
  }
  return 0;
}

int ts_enc_time_decode(const uint8_t *p, size_t len, uint32_t n, int64_t *out) {
  loom_rd r;
  loom_rd_init(&r, p, len);
  uint64_t t0;
  if (n == 0 || loom_rd_u64(&r, &t0)) return LOOM_ECORRUPT;
  out[0] = (int64_t)t0;
  if (n == 1) return r.len ? LOOM_ECORRUPT : 0;
  uint8_t mode, w;
  uint64_t *u = (uint64_t *)out;
  if (loom_rd_u8(&r, &mode)) return LOOM_ECORRUPT;
  if (mode == MODE_GCD_DELTA_FOR) {
    uint64_t g, qmin;
    if (loom_rd_uvarint(&r, &g) || g < 2 || loom_rd_uvarint(&r, &qmin) || loom_rd_u8(&r, &w) ||
        w > 64 || r.len != ts_bits_len(n - 1, w))
      return LOOM_ECORRUPT;
    ts_bits_unpack(r.p, r.len, w, 0, n - 1, u + 1);
    for (uint32_t i = 1; i < n; i++) {
      u[i] = u[i - 1] + (qmin + u[i]) * g;
      if (out[i] <= out[i - 1]) return LOOM_ECORRUPT;
    }
    return 0;
  }
  if (mode == MODE_DELTA_FOR) {
    uint64_t dmin;
    if (loom_rd_uvarint(&r, &dmin) || loom_rd_u8(&r, &w) || w > 64 ||
        r.len != ts_bits_len(n - 1, w))
      return LOOM_ECORRUPT;
    ts_bits_unpack(r.p, r.len, w, 0, n - 1, u + 1);
    for (uint32_t i = 1; i < n; i++) {
      u[i] = u[i - 1] + dmin + u[i];
      if (out[i] <= out[i - 1]) return LOOM_ECORRUPT;
    }
    return 0;
  }
  uint64_t d;
  if (loom_rd_uvarint(&r, &d)) return LOOM_ECORRUPT;
  u[1] = u[0] + d;
  if (out[1] <= out[0]) return LOOM_ECORRUPT;
  if (mode == MODE_DOD_FOR) {
    int64_t dodmin;
    if (loom_rd_svarint(&r, &dodmin) || loom_rd_u8(&r, &w) || w > 64 ||
        r.len != ts_bits_len(n - 2, w))
      return LOOM_ECORRUPT;
    ts_bits_unpack(r.p, r.len, w, 0, n - 2, u + 2);
    for (uint32_t i = 2; i < n; i++) {
      d += (uint64_t)dodmin + u[i];
      u[i] = u[i - 1] + d;
      if (out[i] <= out[i - 1]) return LOOM_ECORRUPT;
    }
    return 0;
  }
  if (mode != MODE_DOD_RLE) return LOOM_ECORRUPT;
  uint32_t i = 2;
  while (i < n) {
    uint64_t run;
    if (loom_rd_uvarint(&r, &run) || run > n - i) return LOOM_ECORRUPT;
    for (uint32_t end = i + (uint32_t)run; i < end; i++) {
      u[i] = u[i - 1] + d;
      if (out[i] <= out[i - 1]) return LOOM_ECORRUPT;
    }
    if (i < n) {
      int64_t dod;
      if (loom_rd_svarint(&r, &dod) || dod == 0) return LOOM_ECORRUPT;
      d += (uint64_t)dod;
      u[i] = u[i - 1] + d;
      if (out[i] <= out[i - 1]) return LOOM_ECORRUPT;
      i++;
    }
  }
  return r.len ? LOOM_ECORRUPT : 0;
}
