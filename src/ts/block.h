/* SPDX-License-Identifier: Apache-2.0
 * Block codec: one block holds up to TS_BLOCK_MAX_POINTS points of one column
 * (one series field), sorted by time with unique timestamps. The block starts
 * with a fixed header carrying its type, point count and pre-aggregates
 * (stats), so aggregates over whole blocks need no decoding; timestamps are
 * delta-of-delta, floats a decimal-aware codec, integers FOR + bit-packing,
 * booleans bit-packed, strings dictionary + zstd; a CRC32 closes the block.
 * Pure functions over bytes: no I/O, no globals. The exact byte layout is
 * specified in block.c's header comment.
 */
#ifndef LOOM_TS_BLOCK_H
#define LOOM_TS_BLOCK_H

#include <stdint.h>

#include "core/buf.h"
#include "ts/types.h"

#define TS_BLOCK_MAX_POINTS 8192

/* Pre-aggregates of a block. For TS_STRING only count/min_ts/max_ts are
 * meaningful. For TS_BOOL, values are 0/1 and sum counts the trues. */
typedef struct ts_block_stats {
  int64_t min_ts, max_ts; /* ns, first and last timestamp */
  uint32_t count;         /* points */
  ts_value min, max;      /* in the column's type (f, i, u or b) */
  ts_value first, last;   /* values at min_ts and max_ts */
  double sum_f;           /* TS_FLOAT sum */
  int64_t sum_i;          /* TS_INT / TS_BOOL sum (wraps like Go's int64) */
  uint64_t sum_u;         /* TS_UINT sum (wraps) */
} ts_block_stats;

/* What ts_block_peek() reads without decoding. */
typedef struct ts_block_info {
  ts_type type;
  uint32_t len; /* total encoded bytes of this block, header and CRC included */
  ts_block_stats stats;
} ts_block_info;

/* Compute the stats of n points (no encoding). n >= 1. */
void ts_block_stats_compute(ts_type type, const int64_t *ts, const void *vals, uint32_t n,
                            ts_block_stats *st);

/* Encode n points (1 <= n <= TS_BLOCK_MAX_POINTS; ts strictly increasing) of
 * `type` and append the block to out. `vals` is the typed column (see types.h).
 * Fills *st when st is not NULL. Returns 0, LOOM_EINVAL (n out of range, ts not
 * increasing, bad type) or LOOM_ENOMEM. On error out->len is unchanged. */
int ts_block_encode(ts_type type, const int64_t *ts, const void *vals, uint32_t n, loom_buf *out,
                    ts_block_stats *st);

/* Read a block's header at p (len bytes available, may be more than the
 * block). Checks the header's own sanity, not the CRC. 0, LOOM_ETRUNC or
 * LOOM_ECORRUPT. */
int ts_block_peek(const uint8_t *p, size_t len, ts_block_info *info);

/* Decode the block at p: verifies the CRC, then writes stats.count timestamps
 * to ts_out and values to vals_out (typed array of the block's type); cap is
 * the capacity of both in points. For TS_STRING the dictionary is APPENDED to
 * strbuf (caller-owned, not reset) and the ts_str values point into it, valid
 * until strbuf is changed or freed; strbuf may be NULL for other types (NULL
 * for a string block gives LOOM_EINVAL). Returns 0, LOOM_ERANGE (cap too small), LOOM_ECORRUPT (bad CRC
 * or impossible contents), LOOM_ETRUNC or LOOM_ENOMEM. Never reads past len. */
int ts_block_decode(const uint8_t *p, size_t len, int64_t *ts_out, void *vals_out, uint32_t cap,
                    loom_buf *strbuf);

#endif
