/* SPDX-License-Identifier: Apache-2.0
 * Boolean column codec: one bit per value, or two bytes for a block whose
 * values are all the same (the common case for status flags).
 */
#ifndef LOOM_TS_ENC_BOOL_H
#define LOOM_TS_ENC_BOOL_H

#include <stdint.h>

#include "core/buf.h"

/* Append n (>= 1) booleans (any non-zero byte counts as true).
 * Layout:
 *   1   mode: 0 = bit-packed, 1 = constant
 *   mode 0: ceil(n / 8) bytes, value i = bit (i % 8) of byte i / 8
 *   mode 1: 1 byte, the value of every point (0 or 1)
 * Returns 0 or LOOM_ENOMEM (out->len unchanged). */
int ts_enc_bool_encode(const uint8_t *v, uint32_t n, loom_buf *out);

/* Decode n (>= 1) booleans (each 0 or 1) from exactly p[0..len) into out.
 * 0 or LOOM_ECORRUPT. */
int ts_enc_bool_decode(const uint8_t *p, size_t len, uint32_t n, uint8_t *out);

#endif
