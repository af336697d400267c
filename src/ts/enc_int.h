/* SPDX-License-Identifier: Apache-2.0
 * Integer column codec (FOR + bit-packing, optional delta step) and the
 * fixed-width bit-packing primitives every other column codec builds on
 * (timestamps, decimal floats, booleans, string indices). Pure functions over
 * bytes. Column byte layout: see the comment above ts_enc_int_encode().
 */
#ifndef LOOM_TS_ENC_INT_H
#define LOOM_TS_ENC_INT_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/* ---- bit packing ------------------------------------------------------ */
/* Values are packed LSB-first: value i of width w occupies bits
 * [i*w, i*w + w) of the little-endian bit stream, bit j of the stream being
 * bit (j % 8) of byte j / 8. The last byte is zero-padded. */

/* Bits needed to hold v (0 for v == 0, 64 for v >= 2^63). */
static inline unsigned ts_bits_width(uint64_t v) { return v ? 64u - (unsigned)__builtin_clzll(v) : 0u; }

/* Bytes that n values of width w take: ceil(n * w / 8). w <= 64. */
static inline size_t ts_bits_len(uint32_t n, unsigned w) { return ((size_t)n * w + 7) / 8; }

/* Sequential bit writer into memory the caller reserved: exactly
 * ts_bits_len(total values, w) bytes are written (never more). */
typedef struct ts_bitw {
  uint8_t *p;   /* next 8-byte word to write */
  uint64_t acc; /* pending bits, LSB first */
  unsigned n;   /* pending bit count, < 64 */
} ts_bitw;

static inline void ts_bitw_init(ts_bitw *w, uint8_t *dst) {
  w->p = dst;
  w->acc = 0;
  w->n = 0;
}

/* Append the low nb bits of v (nb <= 64; v must have no bits at or above nb). */
static inline void ts_bitw_put(ts_bitw *w, uint64_t v, unsigned nb) {
  w->acc |= v << w->n;
  unsigned t = w->n + nb;
  if (t >= 64) {
    loom_put_le64(w->p, w->acc);
    w->p += 8;
    w->acc = w->n ? v >> (64 - w->n) : 0;
    t -= 64;
  }
  w->n = t;
}

/* Write the pending bits (zero-padded to a byte); returns the end pointer. */
static inline uint8_t *ts_bitw_finish(ts_bitw *w) {
  for (unsigned i = 0; i < w->n; i += 8) *w->p++ = (uint8_t)(w->acc >> i);
  w->acc = 0;
  w->n = 0;
  return w->p;
}

/* Read `nb` bits (nb <= 64) at bit offset `bit` of p[0..len). The caller
 * guarantees bit + nb <= len * 8. Word-at-a-time when 9 bytes are available,
 * byte-wise near the end, never reads at or past p + len. */
uint64_t ts_bits_get(const uint8_t *p, size_t len, uint64_t bit, unsigned nb);

/* Unpack values [first, first + count) of width w from p[0..len) into out.
 * The caller guarantees len >= ts_bits_len(first + count, w). */
void ts_bits_unpack(const uint8_t *p, size_t len, unsigned w, uint32_t first, uint32_t count,
                    uint64_t *out);

/* ---- integer column ---------------------------------------------------- */

/* Append n values (1 <= n) as an integer column. Values are 64-bit patterns;
 * is_signed says whether they are ordered as int64 (TS_INT, decimal mantissas)
 * or as uint64 (TS_UINT) for the frame of reference. The smaller of plain FOR
 * and delta-FOR is written. Returns 0 or LOOM_ENOMEM (out->len unchanged).
 *
 * Layout (all varints are LEB128; "zz" = zigzag):
 *   u8     mode   0 = FOR, 1 = delta-FOR
 *   FOR:       base (zz varint if signed, else uvarint) = minimum value,
 *              u8 w (0..64), ts_bits_len(n, w) bytes: v[i] - base (mod 2^64)
 *   delta-FOR: first (as base above), dmin (zz varint) = minimum of the
 *              n-1 deltas v[i] - v[i-1] taken as int64 (mod 2^64),
 *              u8 w, ts_bits_len(n - 1, w) bytes: delta[i] - dmin (mod 2^64)
 * The column ends exactly there. */
int ts_enc_int_encode(const uint64_t *v, uint32_t n, int is_signed, loom_buf *out);

/* Streaming decoder so callers can decode in chunks without scratch arrays. */
typedef struct ts_int_rd {
  const uint8_t *data; /* packed bits */
  size_t data_len;
  uint64_t base;       /* FOR base, or running value for delta-FOR */
  uint64_t dmin;       /* delta-FOR minimum delta */
  uint32_t n, pos;     /* total values, values produced */
  uint8_t mode, w;
} ts_int_rd;

/* Parse the column header of a column holding n values (n >= 1) at
 * p[0..len); the column must end exactly at p + len. 0 or LOOM_ECORRUPT. */
int ts_int_rd_init(ts_int_rd *rd, const uint8_t *p, size_t len, uint32_t n, int is_signed);

/* Produce the next count values (pos + count <= n, checked by the caller). */
void ts_int_rd_next(ts_int_rd *rd, uint64_t *out, uint32_t count);

/* Decode a whole column of n values into out. 0 or LOOM_ECORRUPT. */
int ts_enc_int_decode(const uint8_t *p, size_t len, uint32_t n, int is_signed, uint64_t *out);

#endif
