/* SPDX-License-Identifier: Apache-2.0
 * Integer column codec: frame of reference (subtract the minimum) followed by
 * fixed-width bit-packing, with an optional delta step first when that makes
 * the column smaller (counters, sorted ids, decimal mantissas of slow
 * signals). All arithmetic is mod 2^64, so the full int64/uint64 range is
 * safe. Also home of the word-at-a-time bit reader shared by the codecs.
 */
#include "ts/enc_int.h"

#include <string.h>

#include "core/err.h"

uint64_t ts_bits_get(const uint8_t *p, size_t len, uint64_t bit, unsigned nb) {
  if (nb == 0) return 0;
  size_t byte = (size_t)(bit >> 3);
  unsigned sh = (unsigned)(bit & 7);
  uint64_t x;
  if (byte + 9 <= len) {
    x = loom_le64(p + byte) >> sh;
    if (sh + nb > 64) x |= (uint64_t)p[byte + 8] << (64 - sh);
  } else {
    unsigned need = (sh + nb + 7) / 8; /* bytes touched, <= 9, all < len */
    uint64_t lo = 0;
    for (unsigned i = 0; i < need && i < 8; i++) lo |= (uint64_t)p[byte + i] << (8 * i);
    x = lo >> sh;
    if (need == 9) x |= (uint64_t)p[byte + 8] << (64 - sh);
  }
  return nb == 64 ? x : x & ((UINT64_C(1) << nb) - 1);
}

void ts_bits_unpack(const uint8_t *p, size_t len, unsigned w, uint32_t first, uint32_t count,
                    uint64_t *out) {
  if (w == 0) {
    memset(out, 0, (size_t)count * sizeof(*out));
    return;
  }
  uint64_t mask = w == 64 ? ~UINT64_C(0) : (UINT64_C(1) << w) - 1;
  uint64_t bit = (uint64_t)first * w;
  uint32_t i = 0;
  if (w <= 57) {
    /* One unaligned 8-byte load per value while 8 bytes remain. */
    for (; i < count; i++, bit += w) {
      size_t byte = (size_t)(bit >> 3);
      if (byte + 8 > len) break;
      out[i] = (loom_le64(p + byte) >> (bit & 7)) & mask;
    }
  } else {
    for (; i < count; i++, bit += w) {
      size_t byte = (size_t)(bit >> 3);
      if (byte + 9 > len) break;
      unsigned sh = (unsigned)(bit & 7);
      uint64_t x = loom_le64(p + byte) >> sh;
      if (sh + w > 64) x |= (uint64_t)p[byte + 8] << (64 - sh);
      out[i] = x & mask;
    }
  }
  for (; i < count; i++, bit += w) out[i] = ts_bits_get(p, len, bit, w);
}

static size_t uvarint_len(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    n++;
  }
  return n;
}

static uint64_t zigzag(uint64_t v) { return (v << 1) ^ (uint64_t)((int64_t)v >> 63); }

static int put_base(loom_buf *out, uint64_t v, int is_signed) {
  return is_signed ? loom_buf_append_svarint(out, (int64_t)v) : loom_buf_append_uvarint(out, v);
}

static size_t base_len(uint64_t v, int is_signed) {
  return uvarint_len(is_signed ? zigzag(v) : v);
}

int ts_enc_int_encode(const uint64_t *v, uint32_t n, int is_signed, loom_buf *out) {
  /* Frame of reference over the values. */
  uint64_t vmin = v[0], vmax = v[0];
  if (is_signed) {
    for (uint32_t i = 1; i < n; i++) {
      if ((int64_t)v[i] < (int64_t)vmin) vmin = v[i];
      if ((int64_t)v[i] > (int64_t)vmax) vmax = v[i];
    }
  } else {
    for (uint32_t i = 1; i < n; i++) {
      if (v[i] < vmin) vmin = v[i];
      if (v[i] > vmax) vmax = v[i];
    }
  }
  unsigned for_w = ts_bits_width(vmax - vmin);
  size_t for_size = 2 + base_len(vmin, is_signed) + ts_bits_len(n, for_w);

  /* Frame of reference over the deltas (taken as int64). */
  int64_t dmin = 0, dmax = 0;
  size_t delta_size = SIZE_MAX;
  unsigned delta_w = 0;
  if (n > 1) {
    dmin = dmax = (int64_t)(v[1] - v[0]);
    for (uint32_t i = 2; i < n; i++) {
      int64_t d = (int64_t)(v[i] - v[i - 1]);
      if (d < dmin) dmin = d;
      if (d > dmax) dmax = d;
    }
    delta_w = ts_bits_width((uint64_t)dmax - (uint64_t)dmin);
    delta_size = 2 + base_len(v[0], is_signed) + uvarint_len(zigzag((uint64_t)dmin)) +
                 ts_bits_len(n - 1, delta_w);
  }

  int use_delta = delta_size < for_size;
  if (loom_buf_reserve(out, use_delta ? delta_size : for_size)) return LOOM_ENOMEM;
  /* Room is reserved: the appends below cannot fail. */
  ts_bitw bw;
  if (!use_delta) {
    loom_buf_append_u8(out, 0);
    put_base(out, vmin, is_signed);
    loom_buf_append_u8(out, (uint8_t)for_w);
    ts_bitw_init(&bw, out->data + out->len);
    if (for_w)
      for (uint32_t i = 0; i < n; i++) ts_bitw_put(&bw, v[i] - vmin, for_w);
  } else {
    loom_buf_append_u8(out, 1);
    put_base(out, v[0], is_signed);
    loom_buf_append_svarint(out, dmin);
    loom_buf_append_u8(out, (uint8_t)delta_w);
    ts_bitw_init(&bw, out->data + out->len);
    if (delta_w)
      for (uint32_t i = 1; i < n; i++) ts_bitw_put(&bw, v[i] - v[i - 1] - (uint64_t)dmin, delta_w);
  }
  out->len = (size_t)(ts_bitw_finish(&bw) - out->data);
  return 0;
}

int ts_int_rd_init(ts_int_rd *rd, const uint8_t *p, size_t len, uint32_t n, int is_signed) {
  loom_rd r;
  loom_rd_init(&r, p, len);
  uint8_t mode, w;
  uint64_t base = 0, dmin = 0;
  if (n == 0 || loom_rd_u8(&r, &mode) || mode > 1) return LOOM_ECORRUPT;
  if (is_signed) {
    int64_t s;
    if (loom_rd_svarint(&r, &s)) return LOOM_ECORRUPT;
    base = (uint64_t)s;
  } else if (loom_rd_uvarint(&r, &base)) {
    return LOOM_ECORRUPT;
  }
  if (mode == 1) {
    int64_t s;
    if (loom_rd_svarint(&r, &s)) return LOOM_ECORRUPT;
    dmin = (uint64_t)s;
  }
  if (loom_rd_u8(&r, &w) || w > 64) return LOOM_ECORRUPT;
  uint32_t packed = mode == 1 ? n - 1 : n;
  if (r.len != ts_bits_len(packed, w)) return LOOM_ECORRUPT;
  rd->data = r.p;
  rd->data_len = r.len;
  rd->base = base;
  rd->dmin = dmin;
  rd->n = n;
  rd->pos = 0;
  rd->mode = mode;
  rd->w = w;
  return 0;
}

void ts_int_rd_next(ts_int_rd *rd, uint64_t *out, uint32_t count) {
  if (count == 0) return;
  if (rd->mode == 0) {
    ts_bits_unpack(rd->data, rd->data_len, rd->w, rd->pos, count, out);
    uint64_t base = rd->base;
    for (uint32_t i = 0; i < count; i++) out[i] += base;
  } else {
    uint32_t i = 0;
    if (rd->pos == 0) {
      out[0] = rd->base;
      i = 1;
    }
    ts_bits_unpack(rd->data, rd->data_len, rd->w, rd->pos + i - 1, count - i, out + i);
    uint64_t run = rd->base, dmin = rd->dmin;
    for (; i < count; i++) {
      run += dmin + out[i];
      out[i] = run;
    }
    rd->base = run;
  }
  rd->pos += count;
}

int ts_enc_int_decode(const uint8_t *p, size_t len, uint32_t n, int is_signed, uint64_t *out) {
  ts_int_rd rd;
  int rc = ts_int_rd_init(&rd, p, len, n, is_signed);
  if (rc) return rc;
  ts_int_rd_next(&rd, out, n);
  return 0;
}
