/* SPDX-License-Identifier: Apache-2.0
 * SELECT statement driver: time range and dimensions resolved, subqueries
 * run into virtual sources (with what they inherit from the outer query),
 * series of each measurement chosen by their tags without reading data and
 * grouped by the GROUP BY tags, SLIMIT/SOFFSET applied, and each group handed
 * to the raw (exec_raw.c) or aggregate (exec_aggrun.c) executor. Each result
 * series is written as soon as it is complete.
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/err.h"
#include "core/mem.h"
#include "query/exec_agg.h"
#include "query/exec_sel.h"
#include "query/ql_parse.h"

int qx_db_resolve(qx_ctx *c, const char *given, const char **db) {
  const char *d = given && given[0] ? given : c->opt->db;
  if (!d || !d[0]) return qx_fail(c, "database name required");
  int64_t r;
  if (ts_db_get(c->e, d, &r)) {
    snprintf(c->err, sizeof c->err, "database not found: %s", d);
    return LOOM_ENOTFOUND;
  }
  *db = d;
  return 0;
}

/* ---- groups ---- */

static int cmp_sser(const void *a, const void *b) {
  const sser *x = a, *y = b;
  int c = strcmp(x->key, y->key);
  return c ? c : strcmp(x->s->key, y->s->key);
}

/* Tag keys the results of measurement m carry. */
static int group_keys(plan *p, const ts_measurement_info *m, namelist *keys) {
  for (size_t i = 0; i < p->n_dims; i++)
    if (qx_nl_add(keys, p->dims[i], 0)) return LOOM_ENOMEM;
  if (p->dim_star || p->n_dim_re)
    for (uint32_t s = 0; s < m->n_series; s++)
      for (uint32_t t = 0; t < m->series[s]->n_tags; t++) {
        const char *k = m->series[s]->tags[t].key;
        const ts_series_info *prev = s ? m->series[s - 1] : NULL;
        if (prev && t < prev->n_tags && !strcmp(prev->tags[t].key, k)) continue; /* seen */
        if (qx_is_dim(p, k) && qx_nl_add(keys, k, 0)) return LOOM_ENOMEM;
      }
  qx_nl_sort(keys);
  return 0;
}

/* ---- statement ---- */

static bool in_odims(const plan *p, const char *tag) {
  for (size_t i = 0; i < p->n_odims; i++)
    if (!strcmp(p->odims[i], tag)) return true;
  return false;
}

/* ---- groups on two threads ----
 * A statement with many groups runs the second half of them on a helper
 * thread with its own copy of the plan's mutable state (expression caches,
 * slots, arena, regex cache, context) and its own writer into memory; the
 * helper's series are appended after the first half's, so the response is
 * byte for byte the sequential one. Only for aggregates, plain JSON, no
 * subqueries, transforms, SLIMIT/SOFFSET or max_points, and bounded output. */

typedef struct grp {
  uint32_t i, j; /* ss[i..j) */
} grp;

typedef struct half {
  plan p;
  qx_ctx c;
  qx_out out;
  qx_sink sink;
  loom_buf bytes;
  const ts_measurement_info *m;
  sser *ss;
  const grp *g;
  uint32_t n_g;
  const namelist *keys;
  int rc;
} half;

static int mem_write(void *arg, const void *d, size_t n) {
  return loom_buf_append(arg, d, n) ? -1 : 0;
}

static qn *qn_clone(ql_arena *a, const qn *n) {
  if (!n) return NULL;
  qn *x = ql_arena_alloc(a, sizeof *x);
  if (!x) return NULL;
  *x = *n;
  x->bm = NULL, x->bs = NULL, x->btv = NULL, x->bti = 0, x->bfi = -1;
  if ((n->l && !(x->l = qn_clone(a, n->l))) || (n->r && !(x->r = qn_clone(a, n->r)))) return NULL;
  return x;
}

/* Run groups g[0..n_g) of measurement m with plan p, writing through p->c->out. */
static int run_groups(plan *p, const ts_measurement_info *m, sser *ss, const grp *g,
                      uint32_t n_g, const namelist *keys, const char **tv, uint32_t *hint,
                      int64_t *series_seen) {
  int rc = 0;
  for (uint32_t q = 0; q < n_g; q++) {
    uint32_t i = g[q].i, j = g[q].j;
    if (q + 4 < n_g) { /* series metadata is scattered: fetch ahead */
      const char *ahead = (const char *)ss[g[q + 4].i].s;
      __builtin_prefetch(ahead);
      __builtin_prefetch(ahead + 64);
      __builtin_prefetch(ahead + 128);
      __builtin_prefetch(ahead + 192);
    }
    (*series_seen)++;
    if (*series_seen <= p->s->soffset) continue;
    if (p->s->slimit && *series_seen > p->s->soffset + p->s->slimit) break;
    for (size_t k = 0; k < keys->n; k++) {
      const char *v = qx_series_tag_hint(ss[i].s, keys->v[k], &hint[k]);
      tv[k] = v ? v : "";
    }
    series_out so = {.p = p, .name = m->name, .tk = keys->v, .tv = tv, .nt = keys->n};
    for (int x = 0; p->xfs && x < p->n_xf; x++) qx_xf_reset(&p->xfs[x]);
    rc = p->agg ? qx_agg_group_run(p, m, ss + i, j - i, &so) : qx_raw_group_run(p, m, ss + i, j - i, &so);
    if (!rc) rc = qx_so_end(&so);
    else qx_so_end(&so);
    if (rc) return rc;
    if (!so.begun) (*series_seen)--; /* groups without rows do not count */
  }
  return 0;
}

static void *half_main(void *arg) {
  half *h = arg;
  const char **tv = loom_calloc(h->keys->n + 1, sizeof *tv);
  uint32_t *hint = loom_calloc(h->keys->n + 1, sizeof *hint);
  int64_t seen = 0;
  h->rc = tv && hint ? run_groups(&h->p, h->m, h->ss, h->g, h->n_g, h->keys, tv, hint, &seen)
                     : LOOM_ENOMEM;
  if (!h->rc) h->rc = qx_out_flush(&h->out);
  loom_free(tv);
  loom_free(hint);
  return NULL;
}

/* Can this statement's groups be split (see above)? */
static bool can_split(const plan *p, uint32_t n_groups, uint32_t n_series) {
  const qx_options *o = p->c->opt;
  if (n_groups < 32 || n_series < 64) return false;
  if (o->csv || o->chunked || o->pretty || o->max_points || p->coll || p->vs || p->n_xf ||
      p->xfs || p->lim_quirk || p->s->slimit || p->s->soffset)
    return false;
  if (p->agg) {
    if (!p->interval) return true;
    if (!p->tmin_set) return false;
    uint64_t nb = (uint64_t)(p->tmax - p->tmin) / (uint64_t)p->interval + 1;
    return nb * n_groups <= 4000000;
  }
  /* raw groups (lastpoint) were not faster split (measured, noisy): their work is
   * mostly memory traffic and the output, which the helper must buffer */
  return false;
}

/* Run groups g[0..n) split in two by series count: the second part on a
 * helper thread. Falls back to one thread when a thread cannot start. */
static int run_split(plan *p, const ts_measurement_info *m, sser *ss, const grp *g, uint32_t n,
                     const namelist *keys, const char **tv, uint32_t *hint, int64_t *series_seen) {
  qx_ctx *c = p->c;
  uint64_t total = 0, acc = 0;
  for (uint32_t q = 0; q < n; q++) total += g[q].j - g[q].i;
  uint32_t cut = 0;
  while (cut < n && acc * 2 < total) acc += g[cut].j - g[cut].i, cut++;
  if (cut == 0 || cut == n) return run_groups(p, m, ss, g, n, keys, tv, hint, series_seen);
  half *h = loom_calloc(1, sizeof *h);
  if (!h) return LOOM_ENOMEM;
  int rc = 0;
  h->c = *c;
  h->c.points_read = 0;
  h->c.err[0] = 0;
  h->c.out = &h->out;
  h->p = *p;
  h->p.c = &h->c;
  h->p.raw_m = NULL, h->p.raw_sel = NULL, h->p.raw_scr = NULL;
  h->p.rc = NULL;
  ql_arena_init(&h->p.arena);
  loom_buf_init(&h->bytes);
  h->sink = (qx_sink){.write = mem_write, .arg = &h->bytes};
  qx_out_init(&h->out, c->opt, &h->sink);
  h->out.begun = true;       /* the real writer has begun the response */
  h->out.results_open = true;
  h->out.stmt_has_series = true; /* every series it writes starts with ',' */
  h->m = m, h->ss = ss, h->g = g + cut, h->n_g = n - cut, h->keys = keys;
  bool started = false;
  pthread_t th;
  if ((rc = qx_regex_cache_new(&h->p.rc))) goto out;
  h->p.exprs = ql_arena_alloc(&h->p.arena, (p->n_fields + 1) * sizeof *h->p.exprs);
  h->p.slots = loom_malloc((p->n_slots + 1) * sizeof *h->p.slots);
  if (!h->p.exprs || !h->p.slots) {
    rc = LOOM_ENOMEM;
    goto out;
  }
  if (p->n_slots) memcpy(h->p.slots, p->slots, p->n_slots * sizeof *p->slots);
  for (size_t i = 0; i < p->n_fields; i++) {
    h->p.exprs[i] = qn_clone(&h->p.arena, p->exprs[i]);
    if (p->exprs[i] && !h->p.exprs[i]) {
      rc = LOOM_ENOMEM;
      goto out;
    }
  }
  started = pthread_create(&th, NULL, half_main, h) == 0;
  if (!started) {
    rc = run_groups(p, m, ss, g, n, keys, tv, hint, series_seen);
    goto out;
  }
  rc = run_groups(p, m, ss, g, cut, keys, tv, hint, series_seen);
  pthread_join(th, NULL);
  c->points_read += h->c.points_read;
  if (!rc && h->rc) {
    rc = h->rc;
    memcpy(c->err, h->c.err, sizeof c->err);
  }
  if (!rc && h->bytes.len) {
    qx_out *o = c->out;
    const uint8_t *d = h->bytes.data;
    size_t len = h->bytes.len;
    if (!o->stmt_has_series) { /* the helper's first ',' opens the array */
      if (loom_buf_append_str(&o->buf, ",\"series\":[")) rc = LOOM_ENOMEM;
      d++, len--;
    }
    if (!rc && loom_buf_append(&o->buf, d, len)) rc = LOOM_ENOMEM;
    if (!rc) {
      o->stmt_has_series = true;
      o->cols_of = NULL;
      rc = qx_out_flush(o);
    }
  }
  *series_seen += (int64_t)(n - cut); /* only counted for SLIMIT/SOFFSET, which never split */
out:
  qx_out_deinit(&h->out);
  loom_buf_deinit(&h->bytes);
  loom_free(h->p.slots);
  qx_raw_scratch_free(&h->p);
  qx_regex_cache_free(h->p.rc);
  ql_arena_deinit(&h->p.arena);
  loom_free(h);
  return rc;
}

/* ---- direct columns (plan.direct) ----
 * A raw inner query `SELECT a <op> b AS x ... GROUP BY tags` whose outer
 * query only aggregates named fields: each group's column x is computed
 * from the two float columns and handed to the collector as the row writer
 * would have finished it (qx_vsrc_put_col), without rows, expression trees
 * or per-row allocation. A group of one series gives one sub-series (times
 * unique); a group of several gives sub-series by occurrence: the k-th row
 * at a time (rows at one time come in series order) goes to sub-series k. */

typedef struct fcol {
  plan *p;
  int64_t *ts;
  double *v;
  uint32_t n, cap;
  int rc;
} fcol;

static int fcol_cb(void *arg, const ts_chunk *ch) {
  fcol *f = arg;
  if (!ch->ts) return TS_SCAN_DECODE;
  if ((f->rc = qx_count_points(f->p, ch->n))) return TS_SCAN_STOP;
  if (ch->type != TS_FLOAT) {
    f->rc = qx_fail(f->p->c, "field type changed while reading");
    return TS_SCAN_STOP;
  }
  if (f->n + ch->n > f->cap) {
    uint32_t nc = f->cap ? f->cap * 2 : 256;
    while (nc < f->n + ch->n) nc *= 2;
    int64_t *nt = loom_realloc(f->ts, nc * sizeof *nt);
    if (nt) f->ts = nt;
    double *nv = loom_realloc(f->v, nc * sizeof *nv);
    if (nv) f->v = nv;
    if (!nt || !nv) {
      f->rc = LOOM_ENOMEM;
      return TS_SCAN_STOP;
    }
    f->cap = nc;
  }
  memcpy(f->ts + f->n, ch->ts, ch->n * sizeof *f->ts);
  memcpy(f->v + f->n, ch->vals, ch->n * sizeof *f->v);
  f->n += ch->n;
  return 0;
}

/* Column fidx of series s over the plan's range into f (emptied first). */
static int fcol_load(plan *p, const ts_series_info *s, int fidx, fcol *f) {
  f->n = 0;
  f->rc = 0;
  int64_t col = qx_col_of(s, fidx);
  if (col < 0) return 0;
  int rc = qx_src_scan(p, (uint32_t)col, p->tmin, p->tmax, 0, fcol_cb, f);
  return f->rc ? f->rc : rc;
}

/* qx_eval of two floats (exec_col.c N_BIN). */
static inline double dop(ql_op op, double a, double b) {
  switch (op) {
  case QL_OP_ADD: return a + b;
  case QL_OP_SUB: return a - b;
  case QL_OP_MUL: return a * b;
  default: return b == 0 ? 0 : a / b;
  }
}

/* One row of a group of several series: time, series, value (nn: not null). */
typedef struct drow {
  int64_t t;
  uint32_t k, occ;
  double v;
  bool nn;
} drow;

static int cmp_drow(const void *a, const void *b) {
  const drow *x = a, *y = b;
  if (x->t != y->t) return x->t < y->t ? -1 : 1;
  return x->k < y->k ? -1 : x->k > y->k;
}

/* Heap of runs by their head row's (time, series). */
static void drow_down(const drow *r, const uint32_t *pos, uint32_t *h, uint32_t n, uint32_t i) {
  for (;;) {
    uint32_t l = 2 * i + 1, m = i;
    if (l < n && cmp_drow(&r[pos[h[l]]], &r[pos[h[m]]]) < 0) m = l;
    if (l + 1 < n && cmp_drow(&r[pos[h[l + 1]]], &r[pos[h[m]]]) < 0) m = l + 1;
    if (m == i) return;
    uint32_t x = h[i];
    h[i] = h[m], h[m] = x;
    i = m;
  }
}

/* Rows in[0..n) are runs (one per series, ascending times, series in
 * order; run r is in[start[r]..start[r+1])): merge them into out in (time,
 * series) order, then give each row its occurrence at its time and order
 * out stably by occurrence into in. *max_occ gets the largest. start has
 * room for 2 * (n_runs + 1) entries (the second half: the runs' ends), h
 * for n_runs, cnt for n + 1. */
static void drow_merge(drow *in, drow *out, uint32_t n, uint32_t *start, uint32_t n_runs,
                       uint32_t *h, uint32_t *cnt, uint32_t *max_occ) {
  uint32_t *pos = start;
  uint32_t hn = 0;
  for (uint32_t r = 0; r < n_runs; r++)
    if (start[r] < start[r + 1]) h[hn++] = r;
  uint32_t *end = start + n_runs + 1; /* end[r]: copy of start[r + 1] */
  for (uint32_t r = 0; r < n_runs; r++) end[r] = start[r + 1];
  for (uint32_t i = hn / 2; i-- > 0;) drow_down(in, pos, h, hn, i);
  for (uint32_t k = 0; k < n; k++) {
    uint32_t r = h[0];
    out[k] = in[pos[r]++];
    if (pos[r] == end[r]) h[0] = h[--hn];
    if (hn) drow_down(in, pos, h, hn, 0);
  }
  uint32_t mo = 0;
  for (uint32_t k = 0; k < n; k++) {
    out[k].occ = k && out[k].t == out[k - 1].t ? out[k - 1].occ + 1 : 0;
    if (out[k].occ > mo) mo = out[k].occ;
  }
  memset(cnt, 0, ((size_t)mo + 2) * sizeof *cnt);
  for (uint32_t k = 0; k < n; k++) cnt[out[k].occ + 1]++;
  for (uint32_t o = 1; o <= mo + 1; o++) cnt[o] += cnt[o - 1];
  for (uint32_t k = 0; k < n; k++) in[cnt[out[k].occ]++] = out[k];
  *max_occ = mo;
}

/* Can measurement m of the chosen series ss[0..n) be run directly? */
static bool direct_ok(const plan *p, const ts_measurement_info *m, const sser *ss, uint32_t n) {
  const qn *e = p->exprs[0];
  int fa = qx_field_index(m, e->l->name), fb = qx_field_index(m, e->r->name);
  if (fa < 0 || fb < 0 || m->fields[fa].type != TS_FLOAT || m->fields[fb].type != TS_FLOAT)
    return false;
  for (uint32_t i = 0; i < n; i++)
    if (ss[i].cond != QX_TRUE) return false;
  return true;
}

/* Is the plan of this inner query one run_direct can take? */
static bool direct_plan(const plan *p) {
  const ql_select *s = p->s;
  if (!p->direct || !p->coll || !s->is_raw || s->limit || s->offset || s->slimit || s->soffset ||
      s->order_desc || p->lim_quirk || p->vs || p->n_xf || p->xfs || p->agg || p->n_fields != 1 ||
      p->n_names != 2)
    return false;
  const qn *e = p->exprs[0];
  if (!e || e->kind != N_BIN || !e->l || !e->r || e->l->kind != N_FIELD || e->r->kind != N_FIELD ||
      e->l->cast != QL_CAST_NONE || e->r->cast != QL_CAST_NONE)
    return false;
  return e->op == QL_OP_ADD || e->op == QL_OP_SUB || e->op == QL_OP_MUL || e->op == QL_OP_DIV;
}

/* One column run_direct has computed: sub-series occ of group q (n == 0:
 * the group has rows but no values, which only declares the field). */
typedef struct dpend {
  uint32_t q, occ, n;
  int64_t *ts;
  double *v;
} dpend;

/* One thread's share of the groups g[0..n_g) (chunks of ck groups taken
 * in turn from *next: about 16 chunks, at least DCHUNK groups each), and the
 * columns they gave. */
enum { DCHUNK = 32 };
typedef struct dwork {
  plan *p;
  const ts_measurement_info *m;
  const sser *ss;
  const grp *g;
  uint32_t n_g, ck;
  atomic_uint *next;
  dpend *pend;
  uint32_t n_pend, cap_pend;
  int rc;
} dwork;

static int pend_add(dwork *w, uint32_t q, uint32_t occ, int64_t *ts, double *v, uint32_t n) {
  if (w->n_pend == w->cap_pend) {
    uint32_t nc = w->cap_pend ? w->cap_pend * 2 : 256;
    dpend *np = loom_realloc(w->pend, nc * sizeof *np);
    if (!np) {
      loom_free(ts);
      loom_free(v);
      return LOOM_ENOMEM;
    }
    w->pend = np, w->cap_pend = nc;
  }
  w->pend[w->n_pend++] = (dpend){q, occ, n, ts, v};
  return 0;
}

static void pend_free(dwork *w) {
  for (uint32_t k = 0; k < w->n_pend; k++) {
    loom_free(w->pend[k].ts);
    loom_free(w->pend[k].v);
  }
  loom_free(w->pend);
  w->pend = NULL, w->n_pend = w->cap_pend = 0;
}

/* Compute the columns of the groups w takes into w->pend. */
static int direct_groups(dwork *w) {
  plan *p = w->p;
  const ts_measurement_info *m = w->m;
  const sser *ss = w->ss;
  const qn *e = p->exprs[0];
  ql_op op = e->op;
  int fa = qx_field_index(m, e->l->name), fb = qx_field_index(m, e->r->name);
  fcol A = {.p = p}, B = {.p = p};
  drow *rows = NULL; /* cap_rows rows, then as many for merging */
  uint32_t n_rows = 0, cap_rows = 0;
  uint32_t *runs = NULL, cap_runs = 0, *cnt = NULL;
  int rc = 0;
  uint32_t q = 0, qend = 0;
  for (;;) {
    if (rc) break;
    if (q == qend) { /* the next chunk */
      uint64_t at = (uint64_t)atomic_fetch_add(w->next, 1) * w->ck;
      if (at >= w->n_g) break;
      q = (uint32_t)at;
      qend = w->n_g - q > w->ck ? q + w->ck : w->n_g;
    }
    uint32_t qi = q++, i = w->g[qi].i, j = w->g[qi].j;
    if (j - i == 1) {
      if ((rc = fcol_load(p, ss[i].s, fa, &A)) || (rc = fcol_load(p, ss[i].s, fb, &B))) break;
      if (!A.n && !B.n) continue; /* no rows: no series */
      uint32_t most = A.n < B.n ? A.n : B.n; /* times present in both */
      int64_t *ts = most ? loom_malloc(most * sizeof *ts) : NULL;
      double *vs = most ? loom_malloc(most * sizeof *vs) : NULL;
      if (most && (!ts || !vs)) {
        loom_free(ts);
        loom_free(vs);
        rc = LOOM_ENOMEM;
        break;
      }
      uint32_t k = 0, x = 0, y = 0;
      while (x < A.n && y < B.n) {
        if (A.ts[x] < B.ts[y]) x++;
        else if (A.ts[x] > B.ts[y]) y++;
        else ts[k] = A.ts[x], vs[k++] = dop(op, A.v[x], B.v[y]), x++, y++;
      }
      if (!k) {
        loom_free(ts);
        loom_free(vs);
        ts = NULL, vs = NULL;
      }
      rc = pend_add(w, qi, 0, ts, vs, k);
      continue;
    }
    /* several series: every row of each, then by (time, series) */
    n_rows = 0;
    if (j - i + 1 > cap_runs) {
      uint32_t *nr = loom_realloc(runs, (size_t)(j - i + 1) * 3 * sizeof *nr);
      if (!nr) {
        rc = LOOM_ENOMEM;
        break;
      }
      runs = nr, cap_runs = j - i + 1;
    }
    for (uint32_t k = i; k < j && !rc; k++) {
      runs[k - i] = n_rows;
      if ((rc = fcol_load(p, ss[k].s, fa, &A)) || (rc = fcol_load(p, ss[k].s, fb, &B))) break;
      if (n_rows + A.n + B.n > cap_rows) {
        uint32_t nc = cap_rows ? cap_rows * 2 : 1024;
        while (nc < n_rows + A.n + B.n) nc *= 2;
        drow *nr = loom_realloc(rows, (size_t)nc * 2 * sizeof *nr);
        uint32_t *nct = nr ? loom_realloc(cnt, ((size_t)nc + 2) * sizeof *nct) : NULL;
        if (nct) cnt = nct;
        if (!nr || !nct) {
          if (nr) rows = nr, cap_rows = nc; /* the first half is still the rows */
          rc = LOOM_ENOMEM;
          break;
        }
        rows = nr, cap_rows = nc;
      }
      uint32_t x = 0, y = 0;
      while (x < A.n || y < B.n) {
        drow r = {.k = k - i};
        if (y == B.n || (x < A.n && A.ts[x] < B.ts[y])) r.t = A.ts[x++];
        else if (x == A.n || B.ts[y] < A.ts[x]) r.t = B.ts[y++];
        else r.t = A.ts[x], r.v = dop(op, A.v[x], B.v[y]), r.nn = true, x++, y++;
        rows[n_rows++] = r;
      }
    }
    if (rc) break;
    if (!n_rows) continue;
    runs[j - i] = n_rows;
    uint32_t max_occ;
    drow_merge(rows, rows + cap_rows, n_rows, runs, j - i, runs + 2 * (j - i + 1), cnt, &max_occ);
    bool any = false;
    for (uint32_t a = 0; a < n_rows && !rc;) {
      uint32_t b = a, nn = 0;
      while (b < n_rows && rows[b].occ == rows[a].occ) nn += rows[b++].nn;
      if (nn) {
        int64_t *ts = loom_malloc(nn * sizeof *ts);
        double *vs = loom_malloc(nn * sizeof *vs);
        if (!ts || !vs) {
          loom_free(ts);
          loom_free(vs);
          rc = LOOM_ENOMEM;
          break;
        }
        uint32_t k = 0;
        for (uint32_t r = a; r < b; r++)
          if (rows[r].nn) ts[k] = rows[r].t, vs[k++] = rows[r].v;
        rc = pend_add(w, qi, rows[a].occ, ts, vs, nn);
        any = true;
      }
      a = b;
    }
    if (!rc && !any) rc = pend_add(w, qi, 0, NULL, NULL, 0);
  }
  loom_free(A.ts);
  loom_free(A.v);
  loom_free(B.ts);
  loom_free(B.v);
  loom_free(rows);
  loom_free(runs);
  loom_free(cnt);
  return rc;
}

static void *direct_main(void *arg) {
  dwork *w = arg;
  w->rc = direct_groups(w);
  return NULL;
}

/* Hand w's columns to the collector, in order (takes them all). */
static int direct_put(plan *p, const ts_measurement_info *m, dwork *w, const namelist *keys,
                      const char **tv, uint32_t *hint) {
  int rc = 0;
  uint32_t last_q = UINT32_MAX;
  for (uint32_t k = 0; k < w->n_pend; k++) {
    dpend *d = &w->pend[k];
    if (rc) { /* free the rest */
      loom_free(d->ts);
      loom_free(d->v);
      continue;
    }
    if (d->q != last_q) {
      for (size_t t = 0; t < keys->n; t++) {
        const char *v = qx_series_tag_hint(w->ss[w->g[d->q].i].s, keys->v[t], &hint[t]);
        tv[t] = v ? v : "";
      }
      last_q = d->q;
    }
    rc = qx_vsrc_put_col(p->coll, m->name, keys->v, tv, keys->n, d->q, d->occ, p->names[1], d->ts,
                         d->v, d->n);
  }
  loom_free(w->pend);
  w->pend = NULL, w->n_pend = w->cap_pend = 0;
  return rc;
}

/* The groups g[0..n_g) of measurement m, directly (see above); with many
 * groups a helper thread with its own context takes chunks of them too
 * (its reads counted into this one's after). */
static int run_direct(plan *p, const ts_measurement_info *m, sser *ss, const grp *g, uint32_t n_g,
                      const namelist *keys, const char **tv, uint32_t *hint) {
  qx_ctx *c = p->c;
  atomic_uint next = 0;
  uint32_t ck = n_g / 16 > DCHUNK ? n_g / 16 : DCHUNK;
  dwork w1 = {.p = p, .m = m, .ss = ss, .g = g, .n_g = n_g, .ck = ck, .next = &next};
  dwork w2 = w1;
  plan hp = *p;
  qx_ctx hc = *c;
  uint64_t total = 0;
  for (uint32_t q = 0; q < n_g; q++) total += g[q].j - g[q].i;
  hc.points_read = 0;
  hc.err[0] = 0;
  hp.c = &hc;
  w2.p = &hp;
  bool started = false;
  pthread_t th;
  if (n_g >= 2 * DCHUNK && total >= 64 && !c->opt->max_points)
    started = pthread_create(&th, NULL, direct_main, &w2) == 0;
  int rc = direct_groups(&w1);
  if (started) {
    if (rc) atomic_store(&next, n_g); /* the helper stops soon */
    pthread_join(th, NULL);
    c->points_read += hc.points_read;
    if (!rc && w2.rc) {
      rc = w2.rc;
      memcpy(c->err, hc.err, sizeof c->err);
    }
  }
  /* the order of the columns does not matter: series are ordered by key */
  if (!rc) rc = direct_put(p, m, &w1, keys, tv, hint);
  if (!rc) rc = direct_put(p, m, &w2, keys, tv, hint);
  pend_free(&w1);
  pend_free(&w2);
  return rc;
}

static int run_measurement(plan *p, const ts_measurement_info *m, int64_t *series_seen) {
  qx_ctx *c = p->c;
  int rc = 0;
  namelist keys = {0};
  sser *ss = loom_calloc(m->n_series + 1, sizeof *ss);
  const char **tv = NULL;
  uint32_t *hint = NULL;
  grp *g = NULL;
  loom_buf kb;
  loom_buf_init(&kb);
  if (!ss) return LOOM_ENOMEM;
  if ((rc = group_keys(p, m, &keys))) goto out;
  tv = loom_calloc(keys.n + 1, sizeof *tv);
  hint = loom_calloc(keys.n + 1, sizeof *hint);
  if (!tv || !hint) {
    rc = LOOM_ENOMEM;
    goto out;
  }
  uint32_t n = 0;
  for (uint32_t i = 0; i < m->n_series; i++) {
    const ts_series_info *s = m->series[i];
    if (i + 8 < m->n_series) { /* series metadata is scattered: fetch ahead */
      const char *ahead = (const char *)m->series[i + 8];
      __builtin_prefetch(ahead);
      __builtin_prefetch(ahead + 64);
      __builtin_prefetch(ahead + 128);
      __builtin_prefetch(ahead + 192);
    }
    int r = qx_cond_series(p->cond, m, s, p->rc, c->err, sizeof c->err);
    if (r < 0) {
      rc = r;
      goto out;
    }
    if (r == QX_FALSE) continue;
    loom_buf_reset(&kb);
    for (size_t k = 0; k < keys.n; k++) {
      if (p->lim_quirk && !in_odims(p, keys.v[k])) continue; /* merged across them */
      const char *v = qx_series_tag_hint(s, keys.v[k], &hint[k]);
      loom_buf_append_str(&kb, v ? v : "");
      loom_buf_append_u8(&kb, 1);
    }
    char *key = ql_arena_strndup(&p->arena, kb.len ? (const char *)kb.data : "", kb.len);
    if (!key) {
      rc = LOOM_ENOMEM;
      goto out;
    }
    ss[n].s = s;
    ss[n].cond = r;
    ss[n].key = key;
    n++;
  }
  if (n > 1) qsort(ss, n, sizeof *ss, cmp_sser);
  /* ORDER BY time DESC also reverses the order of the series */
  bool rev = p->s->order_desc;
  uint32_t n_g = 0;
  g = loom_malloc((n + 1) * sizeof *g);
  if (!g) {
    rc = LOOM_ENOMEM;
    goto out;
  }
  for (uint32_t gi = 0; gi < n;) {
    uint32_t i, j;
    if (!rev) {
      i = gi, j = gi + 1;
      while (j < n && !strcmp(ss[j].key, ss[i].key)) j++;
      gi = j;
    } else {
      j = n - gi, i = j - 1;
      while (i > 0 && !strcmp(ss[i - 1].key, ss[j - 1].key)) i--;
      gi = n - i;
    }
    g[n_g++] = (grp){i, j};
  }
  if (direct_plan(p) && direct_ok(p, m, ss, n))
    rc = run_direct(p, m, ss, g, n_g, &keys, tv, hint);
  else if (can_split(p, n_g, n))
    rc = run_split(p, m, ss, g, n_g, &keys, tv, hint, series_seen);
  else
    rc = run_groups(p, m, ss, g, n_g, &keys, tv, hint, series_seen);
out:
  loom_free(g);
  loom_buf_deinit(&kb);
  loom_free(tv);
  loom_free(hint);
  qx_nl_free(&keys);
  loom_free(ss);
  return rc;
}

/* Does outer query s only aggregate named fields of its one subquery
 * (mean, sum or count of an identifier; no WHERE), so that the inner's row
 * marker is never read (plan.direct)? */
static bool outer_aggregates_only(const ql_select *s) {
  if (s->n_sources != 1 || !s->sources[0].subquery || s->is_raw || s->condition || !s->n_fields)
    return false;
  for (size_t i = 0; i < s->n_fields; i++) {
    const ql_expr *e = qx_unparen(s->fields[i].expr);
    if (!e || e->kind != QL_EXPR_CALL || e->u.call.n_args != 1) return false;
    const char *f = e->u.call.name;
    if (strcmp(f, "mean") && strcmp(f, "sum") && strcmp(f, "count")) return false;
    const ql_expr *a = qx_unparen(e->u.call.args[0]);
    if (!a || a->kind != QL_EXPR_IDENT || a->u.ident.cast != QL_CAST_NONE) return false;
  }
  return true;
}

/* Run the FROM (SELECT ...) sources into p->vs and add their measurements
 * to the sources, with what the inner queries inherit from this one. */
static int run_subqueries(plan *p) {
  qx_ctx *c = p->c;
  const ql_select *s = p->s;
  bool any = false;
  for (size_t i = 0; i < s->n_sources; i++)
    if (s->sources[i].subquery) any = true;
  if (!any) return 0;
  int rc = qx_vsrc_new(&p->vs);
  if (rc) return rc;
  sub_inh inh = {.tmin = p->tmin, .tmax = p->tmax, .interval = p->interval, .offset = p->offset,
                 .odims = p->dims, .n_odims = p->n_dims, .direct = outer_aggregates_only(s)};
  if (p->interval && inh.tmax == QX_MAX_TIME) inh.tmax = c->opt->now_ns;
  for (size_t i = 0; i < s->n_sources; i++) {
    const ql_select *sub = s->sources[i].subquery;
    if (!sub) continue;
    if (sub->has_order && sub->order_desc != s->order_desc)
      return qx_fail(c, "subqueries must be ordered in the same direction as the query itself");
    ql_select *in = ql_arena_alloc(&p->arena, sizeof *in);
    ql_expr **dims = ql_arena_alloc(&p->arena, (sub->n_dimensions + s->n_dimensions + 1) *
                                                   sizeof *dims);
    if (!in || !dims) return LOOM_ENOMEM;
    *in = *sub;
    in->order_desc = s->order_desc;
    /* null rows of an inner aggregate would be dropped by the outer anyway */
    if (!in->is_raw && in->fill == QL_FILL_NULL) in->fill = QL_FILL_NONE;
    /* the outer's GROUP BY tags group the inner query too */
    size_t nd = 0;
    for (size_t k = 0; k < sub->n_dimensions; k++) dims[nd++] = sub->dimensions[k];
    for (size_t k = 0; k < s->n_dimensions; k++) {
      const ql_expr *d = qx_unparen(s->dimensions[k]);
      if (d->kind == QL_EXPR_CALL) continue; /* time() */
      dims[nd++] = s->dimensions[k];
    }
    in->dimensions = dims;
    in->n_dimensions = nd;
    /* does the inner group by tags the outer does not? */
    inh.lim_quirk = false;
    if (!p->dim_star && !p->n_dim_re)
      for (size_t k = 0; k < sub->n_dimensions; k++) {
        const ql_expr *d = qx_unparen(sub->dimensions[k]);
        if (d->kind == QL_EXPR_WILDCARD || d->kind == QL_EXPR_REGEX ||
            (d->kind == QL_EXPR_IDENT && !in_odims(p, d->u.ident.name)))
          inh.lim_quirk = true;
      }
    in->slimit = sub->slimit + s->slimit;
    in->soffset = sub->soffset + s->soffset;
    if ((rc = qx_select_exec(c, in, &inh, p->vs))) return rc;
  }
  if ((rc = qx_vsrc_finish(p->vs, s->order_desc))) return rc;
  for (uint32_t k = 0; k < qx_vsrc_n_measurements(p->vs); k++)
    if ((rc = qx_plan_add_src(p, NULL, qx_vsrc_measurement(p->vs, k)))) return rc;
  if (p->n_srcs) qsort(p->srcs, p->n_srcs, sizeof *p->srcs, qx_src_cmp);
  return 0;
}

int qx_select_run(qx_ctx *c, const ql_select *s) { return qx_select_exec(c, s, NULL, NULL); }

/* Execute s; an inner query (coll set) writes its rows into coll. */
int qx_select_exec(qx_ctx *c, const ql_select *s, const sub_inh *inh, qx_vsrc *coll) {
  plan p = {.c = c, .s = s, .sel_slot = -1, .coll = coll};
  ql_arena_init(&p.arena);
  int rc = qx_regex_cache_new(&p.rc);
  if (rc) goto out;
  if (s->into) {
    rc = qx_fail(c, "SELECT INTO is not supported");
    goto out;
  }
  if (s->tz) { /* rather an error than times in the wrong zone */
    rc = qx_fail(c, "tz() is not supported");
    goto out;
  }
  if ((rc = qx_plan_resolve_sources(&p))) goto out;
  p.tmin = QX_MIN_TIME;
  p.tmax = QX_MAX_TIME;
  p.cond = s->condition;
  if ((rc = qx_cond_time_range(s->condition, c->opt->now_ns, &p.tmin, &p.tmax, c->err,
                               sizeof c->err)))
    goto out;
  if (inh) { /* the outer's range narrows this one */
    p.lim_quirk = inh->lim_quirk && s->is_raw && (s->limit || s->offset);
    p.odims = inh->odims, p.n_odims = inh->n_odims;
    p.direct = inh->direct;
    if (inh->tmin > p.tmin) p.tmin = inh->tmin;
    if (inh->tmax < p.tmax) p.tmax = inh->tmax;
  }
  p.tmin_set = p.tmin != QX_MIN_TIME;
  if ((rc = qx_plan_parse_dims(&p))) goto out;
  if (inh && !p.interval && !s->is_raw) /* an aggregate inherits the outer's interval */
    p.interval = inh->interval, p.offset = inh->offset;
  if ((rc = run_subqueries(&p))) goto out;
  if ((rc = qx_plan_build(&p))) goto out;
  if (p.interval && !p.agg) {
    rc = qx_fail(c, "GROUP BY requires at least one aggregate function");
    goto out;
  }
  if (!p.n_fields) goto out;
  if (p.interval && p.tmax == QX_MAX_TIME) p.tmax = c->opt->now_ns;
  if (p.tmin > p.tmax) goto out;
  p.out_tmin = p.interval && p.tmin_set ? qx_win(&p, p.tmin) : p.tmin;
  if (p.xf_back && p.tmin_set && p.interval && p.xf_back < 1000000)
    p.tmin -= p.xf_back * p.interval;
  int64_t seen = 0;
  for (size_t k = 0; k < p.n_srcs; k++) {
    size_t i = s->order_desc ? p.n_srcs - 1 - k : k;
    if ((rc = run_measurement(&p, p.srcs[i].m, &seen))) goto out;
  }
out:
  qx_raw_scratch_free(&p);
  for (size_t i = 0; i < p.n_srcs; i++)
    if (p.srcs[i].meta) ts_meta_release(p.srcs[i].meta);
  loom_free(p.srcs);
  loom_free(p.slots);
  for (int q = 0; p.xfs && q < p.n_xf; q++) qx_xf_free(&p.xfs[q]);
  loom_free(p.xfs);
  qx_vsrc_free(p.vs);
  qx_regex_cache_free(p.rc);
  ql_arena_deinit(&p.arena);
  return rc;
}
