/* SPDX-License-Identifier: Apache-2.0
 * In-memory head buffer of one column: points appended in arrival order
 * (possibly out of order, possibly with duplicate timestamps), kept encoded
 * (2-4 bytes per sensor point; format in head.c). Snapshotting a
 * range sorts it and keeps the newest of equal timestamps, which is how late,
 * interleaved IoT data costs little on the write path. Not thread-safe: the
 * engine's lock guards it.
 */
#ifndef LOOM_TS_HEAD_H
#define LOOM_TS_HEAD_H

#include <stdbool.h>
#include <stdint.h>

#include "ts/types.h"

typedef struct ts_headbuf {
  uint8_t *buf;        /* encoded points in arrival order (format in head.c) */
  uint32_t len, cap;   /* bytes used / allocated in buf */
  uint32_t n;          /* points held */
  bool sorted;         /* ts strictly increasing so far */
  uint8_t last_e;      /* encoder state: decimal exponent of the last float */
  uint16_t hint16;     /* first allocation, in 16-byte units (0: the minimum) */
  int64_t min_ts, max_ts; /* time range held (n > 0) */
  /* Encoder state, here rather than in buf: appends then touch one cache
   * line of buf (the tail) instead of two. */
  int64_t last_ts, last_dts;
  uint64_t last_v;
} ts_headbuf;

/* Smallest and largest timestamp held (n > 0). */
int64_t ts_headbuf_min_ts(const ts_headbuf *h);
int64_t ts_headbuf_max_ts(const ts_headbuf *h);

void ts_headbuf_init(ts_headbuf *h);

/* Initialise h empty, sized at its first append for 3/4 of what `prev`
 * (the head it replaces, e.g. the one just frozen) holds: steady ingest then
 * fills a head with one reallocation or none. */
void ts_headbuf_init_like(ts_headbuf *h, const ts_headbuf *prev);
void ts_headbuf_deinit(ts_headbuf *h);

/* Append one point; string bytes are copied. Returns the bytes of memory
 * newly taken (>= 0), LOOM_ENOMEM, or LOOM_ERANGE (the buffer would pass
 * 4 GiB). */
int ts_headbuf_append(ts_headbuf *h, ts_type type, int64_t ts, const ts_value *v);

/* Bytes of memory the buffer holds (for flush thresholds and /metrics). */
uint64_t ts_headbuf_bytes(const ts_headbuf *h, ts_type type);

/* Decode all n points in arrival order (unsorted, duplicates kept) into
 * out_ts/out_vals (loom_malloc, caller frees; both NULL when n is 0; strings
 * point into h, valid while h lives unchanged). 0 or LOOM_ENOMEM. */
int ts_headbuf_points(const ts_headbuf *h, ts_type type, int64_t **out_ts, void **out_vals);

/* Copy the points with tmin <= ts <= tmax into out_ts/out_vals (allocated
 * with loom_malloc, caller frees; strings point into h, valid while h lives
 * unchanged), sorted by time with the newest arrival of each timestamp.
 * *n_out may be 0 (then both are NULL). 0 or LOOM_ENOMEM. */
int ts_headbuf_range(const ts_headbuf *h, ts_type type, int64_t tmin, int64_t tmax,
                     int64_t **out_ts, void **out_vals, uint32_t *n_out);

/* Sort and deduplicate in place (newest arrival wins). After it, sorted is
 * true. 0 or LOOM_ENOMEM. */
int ts_headbuf_normalize(ts_headbuf *h, ts_type type);

/* Remove the points with tmin <= ts <= tmax. 0 or LOOM_ENOMEM. */
int ts_headbuf_delete(ts_headbuf *h, ts_type type, int64_t tmin, int64_t tmax);

/* Sort n points by time, keeping the last of equal timestamps (stable), in
 * place; returns the new count. Used for head data and merges. 0 on ENOMEM
 * is impossible: returns (uint32_t)-1 then. */
uint32_t ts_points_sort_dedup(int64_t *ts, void *vals, uint32_t n, size_t elem_size);

#endif
