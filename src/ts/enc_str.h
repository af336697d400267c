/* SPDX-License-Identifier: Apache-2.0
 * String column codec: a dictionary of the distinct values (in order of
 * first appearance) plus one bit-packed dictionary index per point. The
 * dictionary bytes are zstd-compressed when that makes them smaller.
 */
#ifndef LOOM_TS_ENC_STR_H
#define LOOM_TS_ENC_STR_H

#include <stdint.h>

#include "core/buf.h"
#include "ts/types.h"

/* Largest uncompressed dictionary a block may carry (bytes). */
#define TS_ENC_STR_MAX_DICT (UINT32_C(1) << 30)

/* Append n (>= 1) strings.
 * Layout (varints LEB128):
 *   uvarint  ndict     distinct values, 1..n
 *   u8       codec     0 = dictionary stored raw, 1 = zstd frame
 *   uvarint  raw_len   uncompressed dictionary bytes, <= TS_ENC_STR_MAX_DICT
 *   uvarint  stored_len (only when codec == 1)
 *   raw_len (codec 0) or stored_len (codec 1) bytes: the dictionary
 *   ts_bits_len(n, w) bytes: index of each point's value, w = bits(ndict-1)
 * Uncompressed dictionary: ndict uvarint lengths, then the ndict values'
 * bytes concatenated in the same order (raw_len bytes in all).
 * Returns 0, LOOM_EINVAL (dictionary over TS_ENC_STR_MAX_DICT) or
 * LOOM_ENOMEM; out->len is unchanged on error. */
int ts_enc_str_encode(const ts_str *v, uint32_t n, loom_buf *out);

/* Decode n (>= 1) strings from exactly p[0..len). The distinct values'
 * bytes are appended to strbuf and out[i] points into strbuf->data, valid
 * until strbuf is next changed or freed. Returns 0, LOOM_ECORRUPT or
 * LOOM_ENOMEM; on error strbuf->len is unchanged. */
int ts_enc_str_decode(const uint8_t *p, size_t len, uint32_t n, ts_str *out, loom_buf *strbuf);

#endif
