/* SPDX-License-Identifier: Apache-2.0
 * Aggregate SELECT of one group: per-bucket aggregate states filled from
 * column scans (whole blocks inside one bucket from their stats, typed
 * loops for the common float aggregates, rows when a field condition must be
 * evaluated), then fill(), selector auxiliary fields, transforms and output.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/err.h"
#include "core/mem.h"
#include "query/exec_agg.h"
#include "query/exec_sel.h"
#include "query/ql_parse.h"

/* ---- aggregates ---- */

typedef struct aggrun {
  plan *p;
  int64_t start;     /* first bucket start */
  uint64_t nb;       /* buckets */
  qx_agg_st *st;     /* nb * n_slots */
  uint32_t sidx;     /* current series index in group */
  const int *slots_of_col; /* slots fed by the current column */
  int n_sc;
  ts_type type;
  bool any;
  int64_t min_seen;
  int rc;
} aggrun;

static inline uint64_t bucket(const aggrun *a, int64_t t) {
  if (!a->p->interval) return 0;
  return (uint64_t)(qx_win(a->p, t) - a->start) / (uint64_t)a->p->interval;
}

static int agg_cb(void *arg, const ts_chunk *ch) {
  aggrun *a = arg;
  plan *p = a->p;
  if (ch->stats) {
    const ts_block_stats *st = ch->stats;
    if (bucket(a, st->min_ts) != bucket(a, st->max_ts) || st->min_ts < p->tmin ||
        st->max_ts > p->tmax)
      return TS_SCAN_DECODE;
    if ((a->rc = qx_count_points(p, st->count))) return TS_SCAN_STOP;
    uint64_t b = bucket(a, st->min_ts);
    if (b >= a->nb) return 0;
    a->any = true;
    if (st->min_ts < a->min_seen) a->min_seen = st->min_ts;
    for (int k = 0; k < a->n_sc; k++) {
      int si = a->slots_of_col[k];
      qx_agg_add_stats(&a->st[b * p->n_slots + (uint64_t)si], p->slots[si].fn, a->type, st, a->sidx);
    }
    return 0;
  }
  if ((a->rc = qx_count_points(p, ch->n))) return TS_SCAN_STOP;
  if (ch->n) a->any = true;
  if (ch->n && ch->ts[0] < a->min_seen) a->min_seen = ch->ts[0];
  for (int k = 0; k < a->n_sc; k++) {
    int si = a->slots_of_col[k];
    int fn = p->slots[si].fn;
    /* typed fast paths for the common float aggregates */
    if (ch->type == TS_FLOAT && (fn == QX_AGG_SUM || fn == QX_AGG_MEAN || fn == QX_AGG_COUNT ||
                                 fn == QX_AGG_MAX || fn == QX_AGG_MIN)) {
      const double *v = ch->vals;
      for (uint32_t i = 0; i < ch->n;) {
        uint64_t b = bucket(a, ch->ts[i]);
        uint32_t j = i + 1;
        int64_t bend = p->interval ? qx_win(p, ch->ts[i]) + p->interval : INT64_MAX;
        while (j < ch->n && ch->ts[j] < bend) j++;
        if (b < a->nb) {
          qx_agg_st *s = &a->st[b * p->n_slots + (uint64_t)si];
          if (fn == QX_AGG_SUM || fn == QX_AGG_MEAN) {
            double sum = 0;
            for (uint32_t q = i; q < j; q++) sum += v[q];
            s->sf += sum;
            s->n += j - i;
          } else if (fn == QX_AGG_COUNT) {
            s->n += j - i;
          } else {
            /* the run's extreme (first occurrence), then one state update */
            uint32_t best = i;
            if (fn == QX_AGG_MAX) {
              for (uint32_t q = i + 1; q < j; q++)
                if (v[q] > v[best]) best = q;
            } else {
              for (uint32_t q = i + 1; q < j; q++)
                if (v[q] < v[best]) best = q;
            }
            ts_value tv;
            tv.f = v[best];
            qx_agg_add(s, fn, TS_FLOAT, ch->ts[best], tv, a->sidx, &p->arena);
            s->n += j - i - 1;
          }
        }
        i = j;
      }
      continue;
    }
    if (ch->type == TS_INT && (fn == QX_AGG_MAX || fn == QX_AGG_MIN)) {
      /* as the float path: each bucket run's first extreme, then one update */
      const int64_t *v = ch->vals;
      for (uint32_t i = 0; i < ch->n;) {
        uint64_t b = bucket(a, ch->ts[i]);
        uint32_t j = i + 1;
        int64_t bend = p->interval ? qx_win(p, ch->ts[i]) + p->interval : INT64_MAX;
        while (j < ch->n && ch->ts[j] < bend) j++;
        if (b < a->nb) {
          qx_agg_st *s = &a->st[b * p->n_slots + (uint64_t)si];
          uint32_t best = i;
          if (fn == QX_AGG_MAX) {
            for (uint32_t q = i + 1; q < j; q++)
              if (v[q] > v[best]) best = q;
          } else {
            for (uint32_t q = i + 1; q < j; q++)
              if (v[q] < v[best]) best = q;
          }
          ts_value tv;
          tv.i = v[best];
          qx_agg_add(s, fn, TS_INT, ch->ts[best], tv, a->sidx, &p->arena);
          s->n += j - i - 1;
        }
        i = j;
      }
      continue;
    }
    if (ch->type == TS_INT && (fn == QX_AGG_SUM || fn == QX_AGG_MEAN || fn == QX_AGG_COUNT)) {
      /* the same state updates as qx_agg_add, one bucket run at a time */
      const int64_t *v = ch->vals;
      for (uint32_t i = 0; i < ch->n;) {
        uint64_t b = bucket(a, ch->ts[i]);
        uint32_t j = i + 1;
        int64_t bend = p->interval ? qx_win(p, ch->ts[i]) + p->interval : INT64_MAX;
        while (j < ch->n && ch->ts[j] < bend) j++;
        if (b < a->nb) {
          qx_agg_st *s = &a->st[b * p->n_slots + (uint64_t)si];
          if (fn != QX_AGG_COUNT) {
            uint64_t sum = (uint64_t)s->si; /* wraps like Go */
            for (uint32_t q = i; q < j; q++) sum += (uint64_t)v[q];
            s->si = (int64_t)sum;
          }
          s->n += j - i;
        }
        i = j;
      }
      continue;
    }
    for (uint32_t i = 0; i < ch->n; i++) {
      uint64_t b = bucket(a, ch->ts[i]);
      if (b >= a->nb) continue;
      ts_value tv = ts_value_load(ch->type, ch->vals, i);
      if ((a->rc = qx_agg_add(&a->st[b * p->n_slots + (uint64_t)si], fn, ch->type, ch->ts[i], tv,
                              a->sidx, &p->arena)))
        return TS_SCAN_STOP;
    }
  }
  return 0;
}

typedef struct first_ctx {
  int64_t t;
  bool found;
} first_ctx;

static int first_cb(void *arg, const ts_chunk *ch) {
  first_ctx *f = arg;
  int64_t t = ch->stats ? ch->stats->min_ts : ch->ts[0];
  if (!f->found || t < f->t) f->t = t;
  f->found = true;
  return TS_SCAN_STOP;
}

/* First time of column col in [p->tmin, p->tmax] into f, for an unbounded
 * p->tmin: from the column's stored span when the engine knows it (nothing
 * decoded), else by a scan that stops at the first chunk. */
static int col_first(plan *p, uint32_t col, first_ctx *f) {
  int64_t lo, hi;
  if (!(col & QX_VCOL_BIT) && p->tmin == QX_MIN_TIME) {
    int r = ts_engine_col_span(p->c->e, col, &lo, &hi);
    if (r == LOOM_ENOTFOUND) return 0;
    if (!r) {
      if (lo <= p->tmax && (!f->found || lo < f->t)) f->t = lo, f->found = true;
      return 0;
    }
  }
  return qx_src_scan(p, col, p->tmin, p->tmax, TS_SCAN_STATS, first_cb, f);
}

/* Fill in the series' aux field values at its selected point. */
static int aux_fields(plan *p, const ts_measurement_info *m, const ts_series_info *s, int64_t t,
                      qx_val *fv) {
  uint8_t *need = loom_calloc(m->n_fields + 1, 1);
  if (!need) return LOOM_ENOMEM;
  for (size_t i = 0; i < p->n_fields; i++) qx_vars_of(p->exprs[i], m, need);
  int rc = 0;
  colbuf cb = {0};
  int64_t smin = p->tmin, smax = p->tmax;
  p->tmin = p->tmax = t;
  for (uint32_t f = 0; f < m->n_fields && !rc; f++) {
    fv[f].type = 0;
    if (!need[f]) continue;
    int64_t col = qx_col_of(s, (int)f);
    if (col < 0) continue;
    rc = qx_col_load(p, (uint32_t)col, &cb, 1, false);
    if (!rc && cb.n) fv[f] = cb.v[0];
  }
  p->tmin = smin, p->tmax = smax;
  qx_colbuf_free(&cb);
  loom_free(need);
  return rc;
}

int qx_agg_group_run(plan *p, const ts_measurement_info *m, sser *ss, uint32_t n_ss,
                         series_out *so) {
  qx_ctx *c = p->c;
  size_t ns = p->n_slots, nf = m->n_fields, ncols = p->n_fields;
  int rc = 0;
  aggrun a = {.p = p, .min_seen = INT64_MAX};
  int64_t save_tmin = p->tmin, save_tmax = p->tmax;
  int *sc = loom_calloc(ns + 1, sizeof *sc);
  qx_val *fv = loom_calloc(nf + 1, sizeof *fv);
  qx_val *res = NULL, *outv = loom_calloc(ncols + 1, sizeof *outv);
  int64_t *selt = NULL;
  colbuf *cbs = loom_calloc(nf + 1, sizeof *cbs);
  uint32_t *cur = loom_calloc(nf + 1, sizeof *cur);
  uint8_t *need = loom_calloc(nf + 1, 1);
  if (!sc || !fv || !outv || !cbs || !cur || !need) {
    rc = LOOM_ENOMEM;
    goto out;
  }
  /* slot types for this measurement */
  for (size_t i = 0; i < ns; i++) {
    slot *sl = &p->slots[i];
    sl->fidx = qx_field_index(m, sl->field);
    sl->type = sl->fidx >= 0 ? m->fields[sl->fidx].type : 0;
    if (sl->type && !qx_agg_accepts(sl->fn, sl->type)) {
      if (sl->type == TS_STRING || sl->type == TS_BOOL) {
        static const char *const fname[] = {"", "count", "sum", "mean", "median", "min", "max",
                                            "first", "last", "spread", "stddev", "percentile",
                                            "mode", "distinct", "count"};
        snprintf(c->err, sizeof c->err, "unsupported %s iterator type: *query.%sInterruptIterator",
                 fname[sl->fn], sl->type == TS_STRING ? "string" : "boolean");
        rc = LOOM_EINVAL;
        goto out;
      }
      sl->type = 0;
    }
  }
  /* bucket range */
  int64_t tmax = p->tmax;
  if (p->interval) {
    int64_t lo = p->tmin;
    if (!p->tmin_set) {
      first_ctx fc = {0};
      for (uint32_t k = 0; k < n_ss; k++)
        for (size_t i = 0; i < ns; i++) {
          if (!p->slots[i].type) continue;
          int64_t col = qx_col_of(ss[k].s, p->slots[i].fidx);
          if (col < 0) continue;
          if ((rc = col_first(p, (uint32_t)col, &fc))) goto out;
        }
      if (!fc.found) goto out;
      lo = fc.t;
    }
    a.start = qx_win(p, lo);
    uint64_t span = (uint64_t)(qx_win(p, tmax) - a.start) / (uint64_t)p->interval + 1;
    if (span > 100000000ull) {
      rc = qx_fail(c, "too many buckets in GROUP BY time(): narrow the time range");
      goto out;
    }
    a.nb = span;
    /* LIMIT with fill(null|number): only the first (or, DESC, the last)
     * limit+offset buckets are output, so only their time range is read */
    ql_fill fl = p->s->fill;
    uint64_t want = (uint64_t)(p->s->limit + p->s->offset);
    if (p->s->limit > 0 && (fl == QL_FILL_NULL || fl == QL_FILL_NUMBER) && want < span) {
      if (p->tmin_set) { /* the group is output only if it has data in the full range */
        first_ctx fc = {0};
        for (uint32_t k = 0; k < n_ss && !fc.found; k++)
          for (size_t i = 0; i < ns && !fc.found; i++) {
            if (!p->slots[i].type) continue;
            int64_t col = qx_col_of(ss[k].s, p->slots[i].fidx);
            if (col < 0) continue;
            if ((rc = qx_src_scan(p, (uint32_t)col, p->tmin, p->tmax, TS_SCAN_STATS, first_cb, &fc)))
              goto out;
          }
        if (!fc.found) goto out;
      }
      if (p->s->order_desc) {
        a.start += (int64_t)(span - want) * p->interval;
        if (a.start > p->tmin) p->tmin = a.start;
      } else {
        int64_t end = a.start + (int64_t)want * p->interval - 1;
        if (end < p->tmax) p->tmax = end;
      }
      a.nb = want;
      a.any = true;
    }
  } else {
    a.nb = 1;
  }
  a.st = loom_calloc(a.nb * ns, sizeof *a.st);
  res = loom_calloc(a.nb * ns + 1, sizeof *res);
  selt = loom_calloc(a.nb * ns + 1, sizeof *selt);
  if (!a.st || !res || !selt) {
    rc = LOOM_ENOMEM;
    goto out;
  }
  bool sel_time = p->sel_slot >= 0;
  for (uint32_t k = 0; k < n_ss; k++) {
    const ts_series_info *s = ss[k].s;
    a.sidx = k;
    if (ss[k].cond == QX_UNKNOWN) {
      /* rows: every field the slots and the condition read */
      memset(need, 0, nf);
      qx_cond_fields(p->cond, m, need);
      for (size_t i = 0; i < ns; i++)
        if (p->slots[i].type) need[p->slots[i].fidx] = 1;
      for (size_t f = 0; f < nf; f++) {
        cbs[f].n = 0;
        cur[f] = 0;
        if (!need[f]) continue;
        int64_t col = qx_col_of(s, (int)f);
        if (col >= 0 && (rc = qx_col_load(p, (uint32_t)col, &cbs[f], 0, false))) goto out;
      }
      for (;;) {
        int64_t t = INT64_MAX;
        for (size_t f = 0; f < nf; f++)
          if (need[f] && cur[f] < cbs[f].n && cbs[f].ts[cur[f]] < t) t = cbs[f].ts[cur[f]];
        if (t == INT64_MAX) break;
        for (size_t f = 0; f < nf; f++) {
          fv[f].type = 0;
          if (need[f] && cur[f] < cbs[f].n && cbs[f].ts[cur[f]] == t) fv[f] = cbs[f].v[cur[f]++];
        }
        qx_row row = {.m = m, .s = s, .vals = fv};
        int ok = qx_cond_row(p->cond, &row, p->rc, c->err, sizeof c->err);
        if (ok < 0) {
          rc = ok;
          goto out;
        }
        if (!ok) continue;
        uint64_t b = p->interval ? (uint64_t)(qx_win(p, t) - a.start) / (uint64_t)p->interval : 0;
        if (b >= a.nb) continue;
        a.any = true;
        for (size_t i = 0; i < ns; i++) {
          slot *sl = &p->slots[i];
          if (!sl->type || !fv[sl->fidx].type) continue;
          if ((rc = qx_agg_add(&a.st[b * ns + i], sl->fn, sl->type, t, fv[sl->fidx].v, k,
                               &p->arena)))
            goto out;
        }
      }
      continue;
    }
    /* columns: one scan per field feeds all its slots */
    for (size_t i = 0; i < ns; i++) {
      slot *sl = &p->slots[i];
      if (!sl->type) continue;
      bool done = false;
      for (size_t j = 0; j < i; j++)
        if (p->slots[j].type && p->slots[j].fidx == sl->fidx) done = true;
      if (done) continue;
      int64_t col = qx_col_of(s, sl->fidx);
      if (col < 0) continue;
      int n_sc = 0;
      bool stats = true;
      for (size_t j = i; j < ns; j++)
        if (p->slots[j].type && p->slots[j].fidx == sl->fidx) {
          sc[n_sc++] = (int)j;
          int fn = p->slots[j].fn;
          if (!qx_agg_uses_stats(fn)) stats = false;
          if (sl->type == TS_STRING && fn != QX_AGG_COUNT) stats = false; /* no string stats */
          if ((fn == QX_AGG_MIN || fn == QX_AGG_MAX) && sel_time) stats = false;
        }
      a.slots_of_col = sc;
      a.n_sc = n_sc;
      a.type = sl->type;
      rc = qx_src_scan(p, (uint32_t)col, p->tmin, p->tmax, stats ? TS_SCAN_STATS : 0, agg_cb, &a);
      if (a.rc) rc = a.rc;
      if (rc) goto out;
    }
  }
  if (!a.any) goto out;
  /* results */
  for (uint64_t b = 0; b < a.nb; b++)
    for (size_t i = 0; i < ns; i++) {
      slot *sl = &p->slots[i];
      qx_agg_st *st = &a.st[b * ns + i];
      if (sl->fn == QX_AGG_DISTINCT) continue;
      if ((rc = qx_agg_result(st, sl->fn, sl->type, sl->pct, &res[b * ns + i], &selt[b * ns + i])))
        goto out;
      if (sl->fn == QX_AGG_COUNT || sl->fn == QX_AGG_COUNT_DISTINCT) {
        if (!st->n && p->s->fill != QL_FILL_NULL) res[b * ns + i].type = 0;
      }
    }
  /* fill */
  ql_fill fill = p->s->fill;
  if (fill == QL_FILL_NUMBER || fill == QL_FILL_PREVIOUS || fill == QL_FILL_LINEAR) {
    for (size_t i = 0; i < ns; i++) {
      uint64_t prev = UINT64_MAX;
      for (uint64_t b = 0; b < a.nb; b++) {
        qx_val *v = &res[b * ns + i];
        if (v->type) {
          if (fill == QL_FILL_LINEAR && prev != UINT64_MAX && b - prev > 1) {
            qx_val *pv = &res[prev * ns + i];
            if ((pv->type == TS_FLOAT || pv->type == TS_INT) && pv->type == v->type) {
              for (uint64_t q = prev + 1; q < b; q++) {
                qx_val *w = &res[q * ns + i];
                w->type = v->type;
                if (v->type == TS_FLOAT)
                  w->v.f = pv->v.f + (v->v.f - pv->v.f) * (double)(q - prev) / (double)(b - prev);
                else
                  w->v.i = (int64_t)((double)pv->v.i + (double)(v->v.i - pv->v.i) /
                                                          (double)(b - prev) * (double)(q - prev));
              }
            }
          }
          prev = b;
          continue;
        }
        if (fill == QL_FILL_PREVIOUS && prev != UINT64_MAX) {
          *v = res[prev * ns + i];
        } else if (fill == QL_FILL_NUMBER) {
          const ql_expr *fvx = p->s->fill_value;
          if (fvx)
            v->type = TS_FLOAT, v->v.f = fvx->u.num.f;
        }
      }
    }
  }
  /* rows */
  for (uint64_t k = 0; k < a.nb; k++) {
    uint64_t b = p->s->order_desc ? a.nb - 1 - k : k;
    qx_val *rv = &res[b * ns];
    bool any = false;
    for (size_t i = 0; i < ns; i++)
      if (a.st[b * ns + i].n) any = true;
    if (fill == QL_FILL_NONE && !any) continue;
    int64_t t = p->interval ? a.start + (int64_t)b * p->interval
                            : (p->tmin_set ? p->tmin : 0);
    evctx x = {.m = m, .s = ss[0].s, .fvals = NULL, .slotvals = rv};
    if (p->sel_slot >= 0 && a.st[b * ns + (size_t)p->sel_slot].n) {
      qx_agg_st *st = &a.st[b * ns + (size_t)p->sel_slot];
      if (!p->interval) t = selt[b * ns + (size_t)p->sel_slot];
      x.s = ss[st->sa].s;
      if ((rc = aux_fields(p, m, x.s, st->ta, fv))) goto out;
      x.fvals = fv;
    } else if (p->sel_slot >= 0) {
      x.s = NULL;
    }
    if (p->distinct_rows) {
      qx_agg_st *st = &a.st[b * ns];
      uint32_t nd = qx_agg_distinct(st);
      if (!nd && fill != QL_FILL_NONE && p->interval) {
        qx_val nul = {0};
        if (p->s->fill == QL_FILL_NUMBER && p->s->fill_value)
          nul.type = TS_FLOAT, nul.v.f = p->s->fill_value->u.num.f;
        rc = qx_emit_row(so, t, &nul, 1);
      }
      for (uint32_t q = 0; q < nd; q++) {
        rc = qx_emit_row(so, t, &st->list[q], 1);
        if (rc) break;
      }
    } else {
      x.xs = p->xfs, x.t = t, x.desc = p->s->order_desc;
      bool anyv = false;
      for (size_t i = 0; i < ncols; i++) {
        outv[i] = qx_eval(p->exprs[i], &x);
        if (outv[i].type) anyv = true;
      }
      if (p->n_xf && !anyv) continue; /* a transform without output for this bucket */
      if (p->xf_back && t < p->out_tmin) continue; /* a bucket read only as input */
      rc = qx_emit_row(so, t, outv, ncols);
    }
    if (rc == 1) {
      rc = 0;
      break;
    }
    if (rc) goto out;
  }
out:
  p->tmin = save_tmin, p->tmax = save_tmax;
  if (a.st) {
    for (uint64_t i = 0; i < a.nb * ns; i++) qx_agg_free(&a.st[i]);
    loom_free(a.st);
  }
  if (cbs)
    for (size_t f = 0; f < nf; f++) qx_colbuf_free(&cbs[f]);
  loom_free(cbs);
  loom_free(cur);
  loom_free(need);
  loom_free(sc);
  loom_free(fv);
  loom_free(res);
  loom_free(outv);
  loom_free(selt);
  return rc;
}
