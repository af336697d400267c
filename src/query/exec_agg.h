/* SPDX-License-Identifier: Apache-2.0
 * Aggregate state of the executor (exec_agg.c): one qx_agg_st per function
 * call per GROUP BY time bucket. Internal to src/query/exec_*.c.
 */
#ifndef LOOM_QUERY_EXEC_AGG_H
#define LOOM_QUERY_EXEC_AGG_H

#include "query/exec_int.h"

enum {
  QX_AGG_COUNT = 1, QX_AGG_SUM, QX_AGG_MEAN, QX_AGG_MEDIAN, QX_AGG_MIN, QX_AGG_MAX,
  QX_AGG_FIRST, QX_AGG_LAST, QX_AGG_SPREAD, QX_AGG_STDDEV, QX_AGG_PERCENTILE, QX_AGG_MODE,
  QX_AGG_DISTINCT, QX_AGG_COUNT_DISTINCT
};

typedef struct qx_agg_st {
  uint64_t n;      /* points taken */
  double sf;       /* float sum */
  int64_t si;      /* integer sum (wraps like Go) */
  uint64_t su;     /* unsigned sum */
  ts_value a, b;   /* min/max/first/last value (a), spread max (b) */
  int64_t ta;      /* time of a */
  uint32_t sa;     /* series (index in the group) of a */
  qx_val *list;    /* values kept by median, stddev, percentile, mode, distinct */
  int64_t *lt;     /* their times */
  uint32_t nl, capl;
} qx_agg_st;

/* Function id by (lower-case) name, 0 if unknown. */
int qx_agg_lookup(const char *name);
bool qx_agg_is_selector(int fn);
/* Can merge whole-block stats (count/sum/min/max/first/last). */
bool qx_agg_uses_stats(int fn);
/* Does fn accept a field of type t (else the field is skipped, as InfluxDB). */
bool qx_agg_accepts(int fn, ts_type t);
/* Empty the state, keeping the list memory. */
void qx_agg_reset(qx_agg_st *s);
void qx_agg_free(qx_agg_st *s);
/* Take one point; string values are copied into strs. 0 or LOOM_ENOMEM. */
int qx_agg_add(qx_agg_st *s, int fn, ts_type t, int64_t ts, ts_value v, uint32_t sidx,
               ql_arena *strs);
/* Take a whole block's stats (only for qx_agg_uses_stats functions). */
void qx_agg_add_stats(qx_agg_st *s, int fn, ts_type t, const ts_block_stats *st, uint32_t sidx);
/* The function's value (type 0 = null); *sel_ts gets a selector's point time. */
int qx_agg_result(qx_agg_st *s, int fn, ts_type t, double pct, qx_val *out, int64_t *sel_ts);
/* Sort and deduplicate the list (distinct()); returns the count. */
uint32_t qx_agg_distinct(qx_agg_st *s);

#endif
