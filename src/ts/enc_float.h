/* SPDX-License-Identifier: Apache-2.0
 * Float column codec, decimal-aware (ALP / VictoriaMetrics style): sensor
 * values are decimals, so each block finds an exponent e such that every
 * value v is exactly (double)k / 10^e for an integer k, and stores the k's
 * with the integer codec. Values that are not such decimals (NaN, Inf, -0.0,
 * binary fractions) are stored raw as exceptions; blocks with too many of
 * them fall back to Gorilla XOR or raw 8-byte values. Decoding is bit-exact.
 */
#ifndef LOOM_TS_ENC_FLOAT_H
#define LOOM_TS_ENC_FLOAT_H

#include <stdint.h>

#include "core/buf.h"

/* Append n (>= 1) doubles as a float column.
 * Layout (varints LEB128):
 *   1  mode: 0 = decimal, 1 = Gorilla XOR, 2 = raw
 *   mode 0 (decimal):
 *      u8       e (0..18): value i is (double)k[i] / 10^e, computed as a
 *               division by the exact double 10^e
 *      uvarint  n_exc (<= n) exceptions, then per exception:
 *               uvarint gap (position minus previous position minus 1; the
 *               first is the position itself), 8 bytes: the raw IEEE-754
 *               bits, LE. Positions are strictly increasing and < n.
 *      the rest: integer column (enc_int.h, signed) of the n k's; the k of
 *               an exception position is a filler (ignored).
 *   mode 1 (Gorilla): a bit stream (packed LSB-first as in enc_int.h):
 *      value 0: 64 bits; then per value x = bits(v[i]) ^ bits(v[i-1]):
 *        x == 0: one 0 bit;
 *        else a 1 bit then a control bit:
 *          0: reuse the previous window: len bits of x >> trail
 *          1: 6 bits lead (leading zeros of x), 6 bits len - 1, then len
 *             bits of x >> trail, where trail = 64 - lead - len
 *      zero-padded to a byte; the column ends at that byte.
 *   mode 2 (raw): n x 8 bytes, IEEE-754 bits LE.
 * Returns 0 or LOOM_ENOMEM (out->len unchanged). */
int ts_enc_float_encode(const double *v, uint32_t n, loom_buf *out);

/* Decode n (>= 1) doubles from exactly p[0..len) into out.
 * 0 or LOOM_ECORRUPT. */
int ts_enc_float_decode(const uint8_t *p, size_t len, uint32_t n, double *out);

#endif
