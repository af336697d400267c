/* SPDX-License-Identifier: Apache-2.0
 * Aggregate and selector functions of the executor, with InfluxDB 1.x's
 * semantics: count, sum, mean, median, min, max, first, last, spread,
 * stddev (sample), percentile (nearest rank), mode, distinct and
 * count(distinct). States merge block pre-aggregates (ts_block_stats)
 * without decoding where the function allows it, and take points in typed
 * loops otherwise.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/mem.h"
#include "query/exec_agg.h"

static const struct {
  const char *name;
  int fn;
} fns[] = {
    {"count", QX_AGG_COUNT},   {"sum", QX_AGG_SUM},         {"mean", QX_AGG_MEAN},
    {"median", QX_AGG_MEDIAN}, {"min", QX_AGG_MIN},         {"max", QX_AGG_MAX},
    {"first", QX_AGG_FIRST},   {"last", QX_AGG_LAST},       {"spread", QX_AGG_SPREAD},
    {"stddev", QX_AGG_STDDEV}, {"percentile", QX_AGG_PERCENTILE}, {"mode", QX_AGG_MODE},
    {"distinct", QX_AGG_DISTINCT},
};

int qx_agg_lookup(const char *name) {
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++)
    if (!strcmp(fns[i].name, name)) return fns[i].fn;
  return 0;
}

bool qx_agg_is_selector(int fn) {
  return fn == QX_AGG_MIN || fn == QX_AGG_MAX || fn == QX_AGG_FIRST || fn == QX_AGG_LAST ||
         fn == QX_AGG_PERCENTILE;
}

bool qx_agg_uses_stats(int fn) {
  return fn == QX_AGG_COUNT || fn == QX_AGG_SUM || fn == QX_AGG_MEAN || fn == QX_AGG_MIN ||
         fn == QX_AGG_MAX || fn == QX_AGG_FIRST || fn == QX_AGG_LAST || fn == QX_AGG_SPREAD;
}

bool qx_agg_accepts(int fn, ts_type t) {
  switch (fn) {
  case QX_AGG_COUNT:
  case QX_AGG_FIRST:
  case QX_AGG_LAST:
  case QX_AGG_MODE:
  case QX_AGG_DISTINCT:
  case QX_AGG_COUNT_DISTINCT: return true;
  case QX_AGG_MIN:
  case QX_AGG_MAX: return t == TS_FLOAT || t == TS_INT || t == TS_UINT || t == TS_BOOL;
  default: return t == TS_FLOAT || t == TS_INT || t == TS_UINT;
  }
}

static bool list_fn(int fn) {
  return fn == QX_AGG_MEDIAN || fn == QX_AGG_STDDEV || fn == QX_AGG_PERCENTILE ||
         fn == QX_AGG_MODE || fn == QX_AGG_DISTINCT || fn == QX_AGG_COUNT_DISTINCT;
}

void qx_agg_reset(qx_agg_st *s) {
  qx_val *l = s->list;
  int64_t *lt = s->lt;
  uint32_t cap = s->capl;
  memset(s, 0, sizeof *s);
  s->list = l;
  s->lt = lt;
  s->capl = cap;
}

void qx_agg_free(qx_agg_st *s) {
  loom_free(s->list);
  loom_free(s->lt);
  memset(s, 0, sizeof *s);
}

static double num(ts_type t, ts_value v) {
  return t == TS_FLOAT ? v.f : t == TS_INT ? (double)v.i : t == TS_UINT ? (double)v.u : v.b;
}

/* v1 < v2 in type t */
static int cmpv(ts_type t, ts_value a, ts_value b) {
  switch (t) {
  case TS_FLOAT: return a.f < b.f ? -1 : a.f > b.f;
  case TS_INT: return a.i < b.i ? -1 : a.i > b.i;
  case TS_UINT: return a.u < b.u ? -1 : a.u > b.u;
  case TS_BOOL: return (int)a.b - (int)b.b;
  case TS_STRING: {
    uint32_t n = a.s.len < b.s.len ? a.s.len : b.s.len;
    int c = memcmp(a.s.p, b.s.p, n);
    if (c) return c < 0 ? -1 : 1;
    return a.s.len < b.s.len ? -1 : a.s.len > b.s.len;
  }
  }
  return 0;
}

int qx_agg_add(qx_agg_st *s, int fn, ts_type t, int64_t ts, ts_value v, uint32_t sidx,
               ql_arena *strs) {
  s->n++;
  switch (fn) {
  case QX_AGG_COUNT: return 0;
  case QX_AGG_SUM:
  case QX_AGG_MEAN:
    if (t == TS_FLOAT) s->sf += v.f;
    else if (t == TS_INT) s->si = (int64_t)((uint64_t)s->si + (uint64_t)v.i);
    else if (t == TS_UINT) s->su += v.u;
    return 0;
  case QX_AGG_MIN:
    if (s->n == 1 || cmpv(t, v, s->a) < 0 || (cmpv(t, v, s->a) == 0 && ts < s->ta))
      s->a = v, s->ta = ts, s->sa = sidx;
    return 0;
  case QX_AGG_MAX:
    if (s->n == 1 || cmpv(t, v, s->a) > 0 || (cmpv(t, v, s->a) == 0 && ts < s->ta))
      s->a = v, s->ta = ts, s->sa = sidx;
    return 0;
  case QX_AGG_FIRST: /* equal times: the greater value wins, as InfluxDB */
    if (s->n == 1 || ts < s->ta || (ts == s->ta && cmpv(t, v, s->a) > 0))
      s->a = v, s->ta = ts, s->sa = sidx;
    break;
  case QX_AGG_LAST:
    if (s->n == 1 || ts > s->ta || (ts == s->ta && cmpv(t, v, s->a) > 0))
      s->a = v, s->ta = ts, s->sa = sidx;
    break;
  case QX_AGG_SPREAD:
    if (s->n == 1 || cmpv(t, v, s->a) < 0) s->a = v;
    if (s->n == 1 || cmpv(t, v, s->b) > 0) s->b = v;
    return 0;
  default: break;
  }
  if (!list_fn(fn)) {
    if (t == TS_STRING && (fn == QX_AGG_FIRST || fn == QX_AGG_LAST) && s->ta == ts &&
        s->a.s.p == v.s.p) {
      char *c = ql_arena_strndup(strs, v.s.p, v.s.len);
      if (!c) return LOOM_ENOMEM;
      s->a.s.p = c;
    }
    return 0;
  }
  if (s->nl == s->capl) {
    uint32_t nc = s->capl ? s->capl * 2 : 16;
    qx_val *nl = loom_realloc(s->list, nc * sizeof *nl);
    if (!nl) return LOOM_ENOMEM;
    s->list = nl;
    int64_t *nt = loom_realloc(s->lt, nc * sizeof *nt);
    if (!nt) return LOOM_ENOMEM;
    s->lt = nt;
    s->capl = nc;
  }
  s->lt[s->nl] = ts;
  qx_val *e = &s->list[s->nl++];
  e->type = t;
  e->v = v;
  if (t == TS_STRING) {
    char *c = ql_arena_strndup(strs, v.s.p, v.s.len);
    if (!c) return LOOM_ENOMEM;
    e->v.s.p = c;
  }
  return 0;
}

void qx_agg_add_stats(qx_agg_st *s, int fn, ts_type t, const ts_block_stats *st, uint32_t sidx) {
  uint64_t n0 = s->n;
  s->n += st->count;
  switch (fn) {
  case QX_AGG_SUM:
  case QX_AGG_MEAN:
    if (t == TS_FLOAT) s->sf += st->sum_f;
    else if (t == TS_INT) s->si = (int64_t)((uint64_t)s->si + (uint64_t)st->sum_i);
    else if (t == TS_UINT) s->su += st->sum_u;
    break;
  case QX_AGG_MIN: {
    /* the block's min time is not recorded: the block is decoded when the
     * time matters (see qx_agg_stats_ok) */
    if (!n0 || cmpv(t, st->min, s->a) < 0) s->a = st->min, s->ta = st->min_ts, s->sa = sidx;
    break;
  }
  case QX_AGG_MAX:
    if (!n0 || cmpv(t, st->max, s->a) > 0) s->a = st->max, s->ta = st->min_ts, s->sa = sidx;
    break;
  case QX_AGG_FIRST:
    if (!n0 || st->min_ts < s->ta || (st->min_ts == s->ta && cmpv(t, st->first, s->a) > 0))
      s->a = st->first, s->ta = st->min_ts, s->sa = sidx;
    break;
  case QX_AGG_LAST:
    if (!n0 || st->max_ts > s->ta || (st->max_ts == s->ta && cmpv(t, st->last, s->a) > 0))
      s->a = st->last, s->ta = st->max_ts, s->sa = sidx;
    break;
  case QX_AGG_SPREAD:
    if (!n0 || cmpv(t, st->min, s->a) < 0) s->a = st->min;
    if (!n0 || cmpv(t, st->max, s->b) > 0) s->b = st->max;
    break;
  default: break;
  }
}

static int cmp_qv(const void *a, const void *b) {
  const qx_val *x = a, *y = b;
  return cmpv((ts_type)x->type, x->v, y->v);
}

typedef struct tv_pair {
  qx_val v;
  int64_t t;
} tv_pair;

static int cmp_pair_v(const void *a, const void *b) {
  const tv_pair *x = a, *y = b;
  int c = cmp_qv(&x->v, &y->v);
  return c ? c : (x->t < y->t ? -1 : x->t > y->t);
}

static int cmp_pair_t(const void *a, const void *b) {
  const tv_pair *x = a, *y = b;
  if (x->t != y->t) return x->t < y->t ? -1 : 1;
  return cmp_qv(&x->v, &y->v);
}

/* Sort list and lt together by value (then time). */
static int sort_list(qx_agg_st *s, int (*cmp)(const void *, const void *)) {
  tv_pair *pr = loom_malloc((size_t)s->nl * sizeof *pr);
  if (!pr) return LOOM_ENOMEM;
  for (uint32_t i = 0; i < s->nl; i++) pr[i].v = s->list[i], pr[i].t = s->lt[i];
  if (s->nl > 1) qsort(pr, s->nl, sizeof *pr, cmp);
  for (uint32_t i = 0; i < s->nl; i++) s->list[i] = pr[i].v, s->lt[i] = pr[i].t;
  loom_free(pr);
  return 0;
}

int qx_agg_result(qx_agg_st *s, int fn, ts_type t, double pct, qx_val *out, int64_t *sel_ts) {
  memset(out, 0, sizeof *out);
  if (fn == QX_AGG_COUNT) {
    out->type = TS_INT;
    out->v.i = (int64_t)s->n;
    return 0;
  }
  if (fn == QX_AGG_COUNT_DISTINCT) {
    out->type = TS_INT;
    if (s->nl) qsort(s->list, s->nl, sizeof *s->list, cmp_qv);
    int64_t d = 0;
    for (uint32_t i = 0; i < s->nl; i++)
      if (!i || cmp_qv(&s->list[i], &s->list[i - 1])) d++;
    out->v.i = d;
    return 0;
  }
  if (!s->n) return 0;
  switch (fn) {
  case QX_AGG_SUM:
    out->type = t == TS_FLOAT ? TS_FLOAT : t == TS_UINT ? TS_UINT : TS_INT;
    if (t == TS_FLOAT) out->v.f = s->sf;
    else if (t == TS_UINT) out->v.u = s->su;
    else out->v.i = s->si;
    return 0;
  case QX_AGG_MEAN:
    out->type = TS_FLOAT;
    out->v.f = (t == TS_FLOAT ? s->sf : t == TS_UINT ? (double)s->su : (double)s->si) / (double)s->n;
    return 0;
  case QX_AGG_MIN:
  case QX_AGG_MAX:
  case QX_AGG_FIRST:
  case QX_AGG_LAST:
    out->type = t;
    out->v = s->a;
    if (sel_ts) *sel_ts = s->ta;
    return 0;
  case QX_AGG_SPREAD:
    out->type = t == TS_FLOAT ? TS_FLOAT : t == TS_UINT ? TS_UINT : TS_INT;
    if (t == TS_FLOAT) out->v.f = s->b.f - s->a.f;
    else if (t == TS_UINT) out->v.u = s->b.u - s->a.u;
    else out->v.i = s->b.i - s->a.i;
    return 0;
  default: break;
  }
  uint32_t n = s->nl;
  if (!n) return 0;
  if (fn == QX_AGG_STDDEV) {
    if (n < 2) return 0;
    double mean = 0, m2 = 0;
    for (uint32_t i = 0; i < n; i++) mean += num(t, s->list[i].v);
    mean /= n;
    for (uint32_t i = 0; i < n; i++) {
      double d = num(t, s->list[i].v) - mean;
      m2 += d * d;
    }
    out->type = TS_FLOAT;
    out->v.f = sqrt(m2 / (n - 1));
    return 0;
  }
  if (sort_list(s, cmp_pair_v)) return LOOM_ENOMEM;
  if (fn == QX_AGG_MEDIAN) {
    out->type = TS_FLOAT;
    if (n % 2) out->v.f = num(t, s->list[n / 2].v);
    else {
      double lo = num(t, s->list[n / 2 - 1].v), hi = num(t, s->list[n / 2].v);
      out->v.f = lo + (hi - lo) / 2;
    }
    return 0;
  }
  if (fn == QX_AGG_PERCENTILE) {
    long i = (long)floor((double)n * pct / 100.0 + 0.5) - 1;
    if (i < 0 || i >= (long)n) return 0;
    out->type = t;
    out->v = s->list[i].v;
    if (sel_ts) *sel_ts = s->lt[i];
    return 0;
  }
  if (fn == QX_AGG_MODE) {
    uint32_t best = 0, bestn = 0;
    for (uint32_t i = 0; i < n;) {
      uint32_t j = i;
      while (j < n && !cmp_qv(&s->list[i], &s->list[j])) j++;
      if (j - i > bestn) bestn = j - i, best = i;
      i = j;
    }
    out->type = t;
    out->v = s->list[best].v;
    return 0;
  }
  return 0;
}

uint32_t qx_agg_distinct(qx_agg_st *s) {
  if (!s->nl) return 0;
  /* by value then time: the first of each run is the value's first time */
  if (sort_list(s, cmp_pair_v)) return 0;
  uint32_t o = 0;
  for (uint32_t i = 0; i < s->nl; i++)
    if (!o || cmp_qv(&s->list[i], &s->list[o - 1]))
      s->list[o] = s->list[i], s->lt[o] = s->lt[i], o++;
  s->nl = o;
  /* InfluxDB emits distinct values ordered by the time they first appear */
  if (sort_list(s, cmp_pair_t)) return 0;
  return o;
}
