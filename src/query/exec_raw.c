/* SPDX-License-Identifier: Apache-2.0
 * Raw (non-aggregate) SELECT of one group: per-series columns merged into
 * rows in time order, field conditions applied per row, the last-value cache
 * for lastpoint, rows of the group's series sorted together, and the row
 * writer shared by raw and aggregate queries (OFFSET/LIMIT, subquery
 * collection).
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

/* ---- output of one group ---- */

typedef struct rowbuf {
  int64_t *t;
  uint32_t *ord;
  qx_val *v; /* n * ncols */
  uint32_t n, cap;
  size_t ncols;
} rowbuf;

static int rb_push(rowbuf *rb, int64_t t, uint32_t ord, const qx_val *vals) {
  if (rb->n == rb->cap) {
    uint32_t nc = rb->cap ? rb->cap * 2 : 64;
    int64_t *nt = loom_realloc(rb->t, nc * sizeof *nt);
    if (!nt) return LOOM_ENOMEM;
    rb->t = nt;
    uint32_t *no = loom_realloc(rb->ord, nc * sizeof *no);
    if (!no) return LOOM_ENOMEM;
    rb->ord = no;
    qx_val *nvv = loom_realloc(rb->v, (size_t)nc * rb->ncols * sizeof *nvv);
    if (!nvv) return LOOM_ENOMEM;
    rb->v = nvv;
    rb->cap = nc;
  }
  rb->t[rb->n] = t;
  rb->ord[rb->n] = ord;
  memcpy(rb->v + (size_t)rb->n * rb->ncols, vals, rb->ncols * sizeof *vals);
  rb->n++;
  return 0;
}

static void rb_free(rowbuf *rb) {
  loom_free(rb->t);
  loom_free(rb->ord);
  loom_free(rb->v);
}


/* Emit one row honouring OFFSET/LIMIT. Returns 1 when the limit is reached. */
int qx_emit_row(series_out *so, int64_t t, const qx_val *vals, size_t ncols) {
  plan *p = so->p;
  qx_out *o = p->c->out;
  if (so->skipped < p->s->offset) {
    so->skipped++;
    return 0;
  }
  if (p->s->limit && so->emitted >= p->s->limit) return 1;
  int rc;
  if (p->coll) { /* an inner query: rows go to the outer one */
    if (!so->begun) {
      if ((rc = qx_vsrc_series_begin(p->coll, so->name, so->tk, so->tv, so->nt, p->names + 1,
                                     p->n_names - 1)))
        return rc;
      so->begun = true;
    }
    if ((rc = qx_vsrc_row(p->coll, t, vals, ncols))) return rc;
    so->emitted++;
    return p->s->limit && so->emitted >= p->s->limit ? 1 : 0;
  }
  if (!so->begun) {
    if ((rc = qx_out_series_begin(o, so->name, so->tk, so->tv, so->nt, p->names, p->n_names)))
      return rc;
    so->begun = true;
  }
  if ((rc = qx_out_row_begin(o))) return rc;
  qx_out_time(o, t);
  for (size_t i = 0; i < ncols; i++) qx_out_val(o, &vals[i]);
  if ((rc = qx_out_row_end(o))) return rc;
  so->emitted++;
  return p->s->limit && so->emitted >= p->s->limit ? 1 : 0;
}

int qx_so_end(series_out *so) {
  return so->begun && !so->p->coll ? qx_out_series_end(so->p->c->out) : 0;
}

/* ---- raw ---- */

typedef struct sortref {
  int64_t t;
  uint32_t ord, idx;
} sortref;

/* Heap order of merge runs: the head row's time, then its series order. */
static bool run_less(const rowbuf *rb, const uint32_t *pos, uint32_t a, uint32_t b) {
  int64_t ta = rb->t[pos[a]], tb = rb->t[pos[b]];
  if (ta != tb) return ta < tb;
  return rb->ord[pos[a]] < rb->ord[pos[b]];
}

static void heap_down(const rowbuf *rb, const uint32_t *pos, uint32_t *h, uint32_t n, uint32_t i) {
  for (;;) {
    uint32_t l = 2 * i + 1, m = i;
    if (l < n && run_less(rb, pos, h[l], h[m])) m = l;
    if (l + 1 < n && run_less(rb, pos, h[l + 1], h[m])) m = l + 1;
    if (m == i) return;
    uint32_t x = h[i];
    h[i] = h[m], h[m] = x;
    i = m;
  }
}

/* The group's rows are runs, one per series, each ascending in time with
 * unique times: merge them into (time, series order) order without a
 * comparison sort of every row. 0 or LOOM_ENOMEM. */
static int merge_runs(const rowbuf *rb, sortref *out) {
  uint32_t n_runs = 0;
  for (uint32_t i = 0; i < rb->n; i++)
    if (!i || rb->ord[i] != rb->ord[i - 1]) n_runs++;
  if (n_runs <= 1) {
    for (uint32_t i = 0; i < rb->n; i++) out[i] = (sortref){rb->t[i], rb->ord[i], i};
    return 0;
  }
  uint32_t *pos = loom_malloc((size_t)n_runs * 3 * sizeof *pos);
  if (!pos) return LOOM_ENOMEM;
  uint32_t *end = pos + n_runs, *h = end + n_runs;
  uint32_t r = 0;
  for (uint32_t i = 0; i < rb->n; i++) {
    if (i && rb->ord[i] == rb->ord[i - 1]) continue;
    if (r) end[r - 1] = i;
    pos[r] = i;
    h[r] = r;
    r++;
  }
  end[r - 1] = rb->n;
  uint32_t hn = n_runs;
  for (uint32_t i = hn / 2; i-- > 0;) heap_down(rb, pos, h, hn, i);
  for (uint32_t k = 0; k < rb->n; k++) {
    uint32_t run = h[0], i = pos[run];
    out[k] = (sortref){rb->t[i], rb->ord[i], i};
    if (++pos[run] == end[run]) h[0] = h[--hn];
    if (hn) heap_down(rb, pos, h, hn, 0);
  }
  loom_free(pos);
  return 0;
}

static bool refs_of(const qn *n, const ts_measurement_info *m) {
  if (!n) return false;
  if (n->kind == N_FIELD || n->kind == N_TAG) {
    if (qx_field_index(m, n->name) >= 0) return true;
    for (uint32_t i = 0; i < m->n_series; i++)
      if (qx_series_tag(m->series[i], n->name)) return true;
  }
  return refs_of(n->l, m) || refs_of(n->r, m);
}

/* The newest row of series s from the last-value cache: 1 with rowv and
 * p->last_t set, 0 when the series has no points, 2 when the cache cannot
 * answer (virtual columns), or an error. */
static int last_row(plan *p, const ts_measurement_info *m, const ts_series_info *s,
                    const uint8_t *need, qx_val *rowv, loom_buf *strs) {
  int64_t tmax = INT64_MIN;
  size_t nf = m->n_fields;
  enum { BATCH = 64 };
  uint32_t ids[BATCH], fis[BATCH], nb = 0;
  int64_t lts[BATCH];
  ts_value lv[BATCH];
  uint8_t lst[BATCH];
  for (size_t f = 0; f < nf; f++) rowv[f].type = 0;
  for (uint32_t i = 0; i < s->n_cols; i++) {
    uint32_t f = s->field_idx[i];
    if (f >= nf || !need[f]) continue;
    if (s->col_ids[i] & QX_VCOL_BIT) return 2;
    if (nb < BATCH) ids[nb] = s->col_ids[i], fis[nb] = f;
    nb++;
  }
  if (nb > BATCH) nb = 0; /* too many for one batch: one lookup per column below */
  ts_engine_last_n(p->c->e, ids, nb, lts, lv, lst);
  /* the row is the newest time over the columns; older columns are not part of it */
  for (uint32_t i = 0; i < nb; i++)
    if (lst[i] == 1 && lts[i] > tmax) tmax = lts[i];
  for (size_t f = 0; f < nf; f++) {
    if (!need[f]) continue;
    uint32_t b = 0;
    while (b < nb && fis[b] != f) b++;
    int64_t t;
    ts_value v;
    if (b < nb && lst[b] == 1) {
      t = lts[b], v = lv[b];
    } else {
      int64_t col = qx_col_of(s, (int)f);
      if (col < 0) continue;
      int rc = ts_engine_last(p->c->e, (uint32_t)col, &t, &v, strs);
      if (rc == LOOM_ENOTFOUND) continue;
      if (rc) return rc;
    }
    if (t < tmax) continue;
    if (t > tmax) {
      for (size_t g = 0; g < f; g++) rowv[g].type = 0;
      tmax = t;
    }
    rowv[f].type = m->fields[f].type;
    rowv[f].v = v;
    if (rowv[f].type == TS_STRING) {
      char *cp = ql_arena_strndup(&p->arena, v.s.p, v.s.len);
      if (!cp) return LOOM_ENOMEM;
      rowv[f].v.s.p = cp;
    }
  }
  if (tmax == INT64_MIN) return 0;
  p->last_t = tmax;
  return qx_count_points(p, 1) ? LOOM_ERANGE : 1;
}

/* Times at which a series passes its field condition, found from the
 * condition's own columns. */
typedef struct matchset {
  int64_t *at;
  uint32_t n, cap;
  uint8_t *cf; /* the condition's fields */
} matchset;

/* Field condition first (high-cpu-all): load only the columns the
 * condition reads, evaluate it on their rows, keep those columns' points at
 * the passing times, then load the other needed columns only at those times
 * (blocks without one are not decoded). The rows the caller then merges are
 * exactly the passing rows of a full load, since the condition reads no
 * other field. Returns 1 when it does not apply (a row without any of the
 * condition's fields could pass), 0 when the columns are loaded, or an
 * error. */
static int load_filtered(plan *p, const ts_measurement_info *m, const ts_series_info *s,
                         const uint8_t *need, colbuf *cbs, uint32_t *cur, qx_val *rowv,
                         matchset *ms, const qx_pref *pf) {
  size_t nf = m->n_fields;
  memset(ms->cf, 0, nf);
  qx_cond_fields(p->cond, m, ms->cf);
  for (size_t f = 0; f < nf; f++) rowv[f].type = 0;
  qx_row row = {.m = m, .s = s, .vals = rowv};
  int ok = qx_cond_row(p->cond, &row, p->rc, p->c->err, sizeof p->c->err);
  if (ok < 0) return ok;
  if (ok) return 1;
  int rc;
  for (size_t f = 0; f < nf; f++) {
    cbs[f].n = 0;
    cur[f] = 0;
    if (!ms->cf[f]) continue;
    int64_t col = qx_col_of(s, (int)f);
    if (col < 0) continue;
    rc = (int)f == pf->fidx ? qx_col_load_pref(p, (uint32_t)col, &cbs[f], pf)
                            : qx_col_load(p, (uint32_t)col, &cbs[f], 0, false);
    if (rc) return rc;
  }
  ms->n = 0;
  for (;;) {
    int64_t t = INT64_MAX;
    for (size_t f = 0; f < nf; f++)
      if (ms->cf[f] && cur[f] < cbs[f].n && cbs[f].ts[cur[f]] < t) t = cbs[f].ts[cur[f]];
    if (t == INT64_MAX) break;
    for (size_t f = 0; f < nf; f++) {
      rowv[f].type = 0;
      if (ms->cf[f] && cur[f] < cbs[f].n && cbs[f].ts[cur[f]] == t) rowv[f] = cbs[f].v[cur[f]++];
    }
    ok = qx_cond_row(p->cond, &row, p->rc, p->c->err, sizeof p->c->err);
    if (ok < 0) return ok;
    if (!ok) continue;
    if (ms->n == ms->cap) {
      uint32_t nc = ms->cap ? ms->cap * 2 : 256;
      int64_t *na = loom_realloc(ms->at, nc * sizeof *na);
      if (!na) return LOOM_ENOMEM;
      ms->at = na, ms->cap = nc;
    }
    ms->at[ms->n++] = t;
  }
  for (size_t f = 0; f < nf; f++) {
    cur[f] = 0;
    if (!need[f]) continue;
    if (ms->cf[f]) { /* keep the points at passing times */
      uint32_t w = 0, j = 0;
      for (uint32_t i = 0; i < cbs[f].n; i++) {
        while (j < ms->n && ms->at[j] < cbs[f].ts[i]) j++;
        if (j < ms->n && ms->at[j] == cbs[f].ts[i]) {
          cbs[f].ts[w] = cbs[f].ts[i];
          cbs[f].v[w++] = cbs[f].v[i];
        }
      }
      cbs[f].n = w;
      continue;
    }
    int64_t col = qx_col_of(s, (int)f);
    if (col >= 0 && (rc = qx_col_load_at(p, (uint32_t)col, &cbs[f], ms->at, ms->n))) return rc;
  }
  return 0;
}

/* Buffers of raw groups, kept from one group to the next of a statement
 * (many small groups: lastpoint) and sized for nf fields, ncols columns. */
typedef struct rawscr {
  size_t nf, ncols;
  bool late;
  uint8_t *sel;
  colbuf *cbs;
  qx_val *rowv, *outv;
  uint32_t *cur;
  rowbuf rb;
  sortref *refs;
  uint32_t refs_cap;
  matchset ms;
} rawscr;

void qx_raw_scratch_free(plan *p) {
  rawscr *r = p->raw_scr;
  if (!r) return;
  for (size_t f = 0; r->cbs && f < r->nf; f++) qx_colbuf_free(&r->cbs[f]);
  loom_free(r->sel);
  loom_free(r->cbs);
  loom_free(r->rowv);
  loom_free(r->outv);
  loom_free(r->cur);
  loom_free(r->refs);
  loom_free(r->ms.at);
  loom_free(r->ms.cf);
  rb_free(&r->rb);
  loom_free(r);
  p->raw_scr = NULL;
}

static rawscr *scratch_get(plan *p, size_t nf, size_t ncols, bool late) {
  rawscr *r = p->raw_scr;
  if (r && (r->nf != nf || r->ncols != ncols || r->late != late)) qx_raw_scratch_free(p), r = NULL;
  if (!r) {
    if (!(r = loom_calloc(1, sizeof *r))) return NULL;
    p->raw_scr = r;
    r->nf = nf, r->ncols = ncols, r->late = late;
    r->rb.ncols = late ? nf : ncols;
    r->sel = loom_calloc(nf + 1, 2);
    r->cbs = loom_calloc(nf + 1, sizeof *r->cbs);
    r->rowv = loom_calloc(nf + 1, sizeof *r->rowv);
    r->outv = loom_calloc(ncols + 1, sizeof *r->outv);
    r->cur = loom_calloc(nf + 1, sizeof *r->cur);
    r->ms.cf = loom_calloc(nf + 1, 1);
    if (!r->sel || !r->cbs || !r->rowv || !r->outv || !r->cur || !r->ms.cf) {
      qx_raw_scratch_free(p);
      return NULL;
    }
    return r;
  }
  memset(r->sel, 0, (nf + 1) * 2);
  memset(r->rowv, 0, (nf + 1) * sizeof *r->rowv);
  memset(r->outv, 0, (ncols + 1) * sizeof *r->outv);
  memset(r->cur, 0, (nf + 1) * sizeof *r->cur);
  memset(r->ms.cf, 0, nf + 1);
  for (size_t f = 0; f < nf; f++) r->cbs[f].n = 0;
  r->rb.n = 0;
  r->ms.n = 0;
  return r;
}

int qx_raw_group_run(plan *p, const ts_measurement_info *m, sser *ss, uint32_t n_ss,
                         series_out *so) {
  size_t nf = m->n_fields, ncols = p->n_fields;
  int rc = 0;
  /* transforms see rows in output order: keep the field values, evaluate late */
  bool late = p->n_xf > 0;
  rawscr *scr = scratch_get(p, nf, ncols, late);
  if (!scr) return LOOM_ENOMEM;
  uint8_t *sel = scr->sel;
  colbuf *cbs = scr->cbs;
  qx_val *rowv = scr->rowv, *outv = scr->outv;
  uint32_t *cur = scr->cur;
  rowbuf rb = scr->rb;
  sortref *refs = NULL;
  matchset ms = scr->ms;
  qx_pref pf;
  qx_cond_prefilter(p->cond, m, &pf);
  loom_buf lastbuf;
  loom_buf_init(&lastbuf);
  uint8_t *need = sel + nf + 1;
  if (p->raw_m != m || !p->raw_sel) {
    for (size_t i = 0; i < ncols; i++) qx_vars_of(p->exprs[i], m, sel);
    int mk = qx_field_index(m, QX_ROW_MARKER);
    if (mk >= 0) { /* a subquery: every inner row is a row, nulls or not */
      bool any_ref = false;
      for (size_t i = 0; i < ncols; i++) any_ref |= refs_of(p->exprs[i], m);
      if (any_ref) sel[mk] = 1;
    }
    p->raw_sel = ql_arena_alloc(&p->arena, nf + 1);
    if (!p->raw_sel) {
      rc = LOOM_ENOMEM;
      goto out;
    }
    memcpy(p->raw_sel, sel, nf);
    p->raw_m = m;
  } else {
    memcpy(sel, p->raw_sel, nf);
  }
  bool any_sel = false;
  for (size_t i = 0; i < nf; i++) any_sel |= sel[i];
  if (!any_sel) goto out; /* only tags selected: InfluxDB returns nothing */
  for (uint32_t k = 0; k < n_ss; k++) {
    const ts_series_info *s = ss[k].s;
    memcpy(need, sel, nf);
    bool filter = ss[k].cond == QX_UNKNOWN;
    if (filter) qx_cond_fields(p->cond, m, need);
    uint32_t keep = 0;
    if (!filter && p->s->limit) keep = (uint32_t)(p->s->limit + p->s->offset);
    uint32_t cap = 0, first_row = rb.n;
    if (p->lim_quirk) keep = cap = (uint32_t)(p->s->limit + p->s->offset + 1);
    bool desc = keep && p->s->order_desc;
    /* lastpoint (ORDER BY time DESC LIMIT 1, no time bounds): the engine's
     * last-value cache gives each column's newest point without a scan */
    if (!filter && !late && !p->lim_quirk && p->s->order_desc && p->s->limit == 1 &&
        !p->s->offset && !p->tmin_set && p->tmax == QX_MAX_TIME) {
      int lr = last_row(p, m, s, need, rowv, &lastbuf);
      if (lr < 0) {
        rc = lr;
        goto out;
      }
      if (lr == 1) {
        int64_t t = p->last_t;
        evctx x = {.m = m, .s = s, .fvals = rowv};
        for (size_t i = 0; i < ncols; i++) outv[i] = qx_eval(p->exprs[i], &x);
        if ((rc = rb_push(&rb, t, k, outv))) goto out;
      }
      if (lr >= 0 && lr != 2) continue;
    }
    int lf = filter && !keep ? load_filtered(p, m, s, need, cbs, cur, rowv, &ms, &pf) : 1;
    if (lf < 0) {
      rc = lf;
      goto out;
    }
    for (size_t f = 0; lf && f < nf; f++) {
      cbs[f].n = 0;
      cur[f] = 0;
      if (!need[f]) continue;
      int64_t col = qx_col_of(s, (int)f);
      if (col < 0) continue;
      if ((rc = qx_col_load(p, (uint32_t)col, &cbs[f], keep, desc))) goto out;
    }
    for (;;) {
      int64_t t = INT64_MAX;
      for (size_t f = 0; f < nf; f++)
        if (need[f] && cur[f] < cbs[f].n && cbs[f].ts[cur[f]] < t) t = cbs[f].ts[cur[f]];
      if (t == INT64_MAX) break;
      bool has_sel = false;
      for (size_t f = 0; f < nf; f++) {
        rowv[f].type = 0;
        if (need[f] && cur[f] < cbs[f].n && cbs[f].ts[cur[f]] == t) {
          rowv[f] = cbs[f].v[cur[f]++];
          if (sel[f]) has_sel = true;
        }
      }
      if (!has_sel) continue;
      if (filter) {
        qx_row row = {.m = m, .s = s, .vals = rowv};
        int ok = qx_cond_row(p->cond, &row, p->rc, p->c->err, sizeof p->c->err);
        if (ok < 0) {
          rc = ok;
          goto out;
        }
        if (!ok) continue;
      }
      if (late) {
        if ((rc = rb_push(&rb, t, k, rowv))) goto out;
      } else {
        evctx x = {.m = m, .s = s, .fvals = rowv};
        for (size_t i = 0; i < ncols; i++) outv[i] = qx_eval(p->exprs[i], &x);
        if ((rc = rb_push(&rb, t, k, outv))) goto out;
      }
      if (cap && !p->s->order_desc && rb.n - first_row >= cap) break;
    }
    if (cap && p->s->order_desc && rb.n - first_row > cap) { /* keep the newest cap rows */
      uint32_t drop = rb.n - first_row - cap;
      memmove(rb.t + first_row, rb.t + first_row + drop, cap * sizeof *rb.t);
      memmove(rb.ord + first_row, rb.ord + first_row + drop, cap * sizeof *rb.ord);
      memmove(rb.v + (size_t)first_row * rb.ncols, rb.v + (size_t)(first_row + drop) * rb.ncols,
              (size_t)cap * rb.ncols * sizeof *rb.v);
      rb.n -= drop;
    }
  }
  if (rb.n + 1 > scr->refs_cap) {
    sortref *nr = loom_realloc(scr->refs, (rb.n + 1) * sizeof *nr);
    if (!nr) {
      rc = LOOM_ENOMEM;
      goto out;
    }
    scr->refs = nr, scr->refs_cap = rb.n + 1;
  }
  refs = scr->refs;
  if ((rc = merge_runs(&rb, refs))) goto out;
  uint32_t prev_ord = UINT32_MAX;
  for (uint32_t k = 0; k < rb.n; k++) {
    uint32_t i = p->s->order_desc ? refs[rb.n - 1 - k].idx : refs[k].idx;
    if (p->lim_quirk && rb.ord[i] != prev_ord) {
      /* the row's own tags; LIMIT and OFFSET restart when they change */
      bool same = prev_ord != UINT32_MAX;
      for (size_t q = 0; q < so->nt; q++) {
        const char *v = qx_series_tag(ss[rb.ord[i]].s, so->tk[q]);
        if (!v) v = "";
        if (!same || strcmp(v, so->tv[q])) same = false;
        so->tv[q] = v;
      }
      if (!same) so->begun = false, so->skipped = so->emitted = 0;
      prev_ord = rb.ord[i];
    }
    const qx_val *rowo = rb.v + (size_t)i * rb.ncols;
    if (late) {
      evctx x = {.m = m, .s = ss[rb.ord[i]].s, .fvals = rowo, .xs = p->xfs, .t = rb.t[i],
                 .desc = p->s->order_desc};
      bool any = false;
      for (size_t q = 0; q < ncols; q++) {
        outv[q] = qx_eval(p->exprs[q], &x);
        if (outv[q].type) any = true;
      }
      if (!any) continue; /* a transform without output for this row */
      rowo = outv;
    }
    rc = qx_emit_row(so, rb.t[i], rowo, ncols);
    if (rc == 1 && p->lim_quirk) {
      rc = 0;
      continue;
    }
    if (rc == 1) {
      rc = 0;
      break;
    }
    if (rc) goto out;
  }
out:
  (void)refs;
  scr->rb = rb; /* what grew stays for the next group */
  scr->ms = ms;
  loom_buf_deinit(&lastbuf);
  return rc;
}
