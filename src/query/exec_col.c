/* SPDX-License-Identifier: Apache-2.0
 * Column access and expression evaluation for SELECT: scans of engine or
 * subquery (virtual) columns, decoded column buffers, the max_points guard,
 * and evaluation of compiled expressions (qn) over a row of field values,
 * tags and aggregate results, with InfluxDB's casts and arithmetic types.
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


/* ts_engine_scan, or the scan of a subquery's virtual column. InfluxDB does
 * not filter subquery rows by the outer's time range (its bounds went to the
 * inner query), so virtual scans take every row, except the single-time
 * lookups of a selector's other fields. */
int qx_src_scan(plan *p, uint32_t col, int64_t tmin, int64_t tmax, int flags, ts_scan_cb cb,
                    void *arg) {
  if (col & QX_VCOL_BIT) {
    if (tmin != tmax) tmin = QX_MIN_TIME, tmax = QX_MAX_TIME;
    return qx_vsrc_scan(p->vs, col, tmin, tmax, cb, arg);
  }
  return ts_engine_scan(p->c->e, col, tmin, tmax, flags, cb, arg, p->c->err, sizeof p->c->err);
}

/* ---- execution helpers ---- */

typedef struct scan_ctx {
  plan *p;
  colbuf *cb;
  ts_type type;
  uint32_t keep;  /* >0: keep at most this many points (first ones, or last ones when desc) */
  bool desc;
  const int64_t *at; /* when set: keep only points at these times (ascending) */
  uint32_t n_at;
  const qx_pref *pf; /* when set: keep only points passing it */
  int rc;
} scan_ctx;

/* First index of at[0..n) with at[i] >= t. */
static uint32_t lower_bound(const int64_t *at, uint32_t n, int64_t t) {
  uint32_t lo = 0, hi = n;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    if (at[mid] < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

static int cb_push(colbuf *b, int64_t t, qx_val v) {
  if (b->n == b->cap) {
    uint32_t nc = b->cap ? b->cap * 2 : 256;
    int64_t *nt = loom_realloc(b->ts, nc * sizeof *nt);
    if (!nt) return LOOM_ENOMEM;
    b->ts = nt;
    qx_val *nv = loom_realloc(b->v, nc * sizeof *nv);
    if (!nv) return LOOM_ENOMEM;
    b->v = nv;
    b->cap = nc;
  }
  b->ts[b->n] = t;
  b->v[b->n] = v;
  b->n++;
  return 0;
}

int qx_count_points(plan *p, uint64_t n) {
  qx_ctx *c = p->c;
  c->points_read += n;
  if (c->opt->max_points && c->points_read > c->opt->max_points) {
    snprintf(c->err, sizeof c->err, "max-select-point limit exceeed: (%llu/%llu)",
             (unsigned long long)c->points_read, (unsigned long long)c->opt->max_points);
    return LOOM_ERANGE;
  }
  return 0;
}

/* load_cb with a list of wanted times: blocks without one are skipped
 * from their stats, undecoded. */
static int load_at_cb(scan_ctx *sc, const ts_chunk *ch) {
  if (!ch->ts) {
    uint32_t i = lower_bound(sc->at, sc->n_at, ch->stats->min_ts);
    return i < sc->n_at && sc->at[i] <= ch->stats->max_ts ? TS_SCAN_DECODE : 0;
  }
  if ((sc->rc = qx_count_points(sc->p, ch->n))) return TS_SCAN_STOP;
  uint32_t j = lower_bound(sc->at, sc->n_at, ch->ts[0]);
  for (uint32_t i = 0; i < ch->n && j < sc->n_at; i++) {
    while (j < sc->n_at && sc->at[j] < ch->ts[i]) j++;
    if (j == sc->n_at || sc->at[j] != ch->ts[i]) continue;
    qx_val v;
    v.type = ch->type;
    v.v = ts_value_load(ch->type, ch->vals, i);
    if (ch->type == TS_STRING) {
      char *cp = ql_arena_strndup(&sc->p->arena, v.v.s.p, v.v.s.len);
      if (!cp) {
        sc->rc = LOOM_ENOMEM;
        return TS_SCAN_STOP;
      }
      v.v.s.p = cp;
    }
    if ((sc->rc = cb_push(sc->cb, ch->ts[i], v))) return TS_SCAN_STOP;
  }
  return 0;
}

static int load_cb(void *arg, const ts_chunk *ch) {
  scan_ctx *sc = arg;
  if (sc->at) return load_at_cb(sc, ch);
  if (!ch->ts) return !sc->pf || qx_pref_block_may(sc->pf, ch->type, ch->stats) ? TS_SCAN_DECODE : 0;
  if ((sc->rc = qx_count_points(sc->p, ch->n))) return TS_SCAN_STOP;
  uint32_t from = 0, to = ch->n;
  if (sc->keep && sc->desc) {
    /* chunks arrive newest first; points inside ascending */
    uint32_t room = sc->keep - sc->cb->n;
    if (ch->n > room) from = ch->n - room;
  }
  /* desc: store in descending order */
  for (uint32_t k = 0; k < to - from; k++) {
    uint32_t i = sc->desc ? to - 1 - k : from + k;
    qx_val v;
    v.type = ch->type;
    v.v = ts_value_load(ch->type, ch->vals, i);
    if (sc->pf && !qx_pref_pass(sc->pf, ch->type, v.v)) continue;
    if (ch->type == TS_STRING) {
      char *cp = ql_arena_strndup(&sc->p->arena, v.v.s.p, v.v.s.len);
      if (!cp) {
        sc->rc = LOOM_ENOMEM;
        return TS_SCAN_STOP;
      }
      v.v.s.p = cp;
    }
    if ((sc->rc = cb_push(sc->cb, ch->ts[i], v))) return TS_SCAN_STOP;
    if (sc->keep && sc->cb->n >= sc->keep) return TS_SCAN_STOP;
  }
  return 0;
}

/* Load column col_id of [tmin, tmax] into b (ascending unless desc). */
int qx_col_load(plan *p, uint32_t col_id, colbuf *b, uint32_t keep, bool desc) {
  scan_ctx sc = {.p = p, .cb = b, .keep = keep, .desc = desc};
  b->n = 0;
  int rc = qx_src_scan(p, col_id, p->tmin, p->tmax, desc ? TS_SCAN_DESC : 0, load_cb, &sc);
  if (sc.rc) return sc.rc;
  if (rc) return rc;
  if (desc) { /* reverse into ascending */
    for (uint32_t i = 0, j = b->n ? b->n - 1 : 0; i < j; i++, j--) {
      int64_t t = b->ts[i];
      b->ts[i] = b->ts[j], b->ts[j] = t;
      qx_val v = b->v[i];
      b->v[i] = b->v[j], b->v[j] = v;
    }
  }
  return 0;
}

int qx_col_load_pref(plan *p, uint32_t col_id, colbuf *b, const qx_pref *pf) {
  scan_ctx sc = {.p = p, .cb = b, .pf = pf};
  b->n = 0;
  int rc = qx_src_scan(p, col_id, p->tmin, p->tmax, TS_SCAN_STATS, load_cb, &sc);
  return sc.rc ? sc.rc : rc;
}

int qx_col_load_at(plan *p, uint32_t col_id, colbuf *b, const int64_t *at, uint32_t n_at) {
  scan_ctx sc = {.p = p, .cb = b, .at = at, .n_at = n_at};
  b->n = 0;
  if (!n_at) return 0;
  int64_t lo = at[0] > p->tmin ? at[0] : p->tmin, hi = at[n_at - 1] < p->tmax ? at[n_at - 1] : p->tmax;
  if (lo > hi) return 0;
  int rc = qx_src_scan(p, col_id, lo, hi, TS_SCAN_STATS, load_cb, &sc);
  return sc.rc ? sc.rc : rc;
}

void qx_colbuf_free(colbuf *b) {
  loom_free(b->ts);
  loom_free(b->v);
  memset(b, 0, sizeof *b);
}

int64_t qx_col_of(const ts_series_info *s, int fidx) {
  for (uint32_t i = 0; i < s->n_cols; i++)
    if (s->field_idx[i] == fidx) return s->col_ids[i];
  return -1;
}

/* ---- evaluation ---- */

static double nv(const qx_val *v) {
  return v->type == TS_FLOAT ? v->v.f : v->type == TS_UINT ? (double)v->v.u : (double)v->v.i;
}

static void cast_val(qx_val *v, ql_cast c) {
  if (!v->type || c == QL_CAST_NONE || c == QL_CAST_FIELD || c == QL_CAST_TAG) return;
  switch (c) {
  case QL_CAST_FLOAT:
    if (v->type == TS_INT || v->type == TS_UINT) v->v.f = nv(v), v->type = TS_FLOAT;
    else if (v->type != TS_FLOAT) v->type = 0;
    break;
  case QL_CAST_INTEGER:
    if (v->type == TS_FLOAT) v->v.i = (int64_t)v->v.f, v->type = TS_INT;
    else if (v->type == TS_UINT) v->type = TS_INT;
    else if (v->type != TS_INT) v->type = 0;
    break;
  case QL_CAST_UNSIGNED:
    if (v->type == TS_FLOAT) v->v.u = (uint64_t)v->v.f, v->type = TS_UINT;
    else if (v->type == TS_INT) v->type = TS_UINT;
    else if (v->type != TS_UINT) v->type = 0;
    break;
  case QL_CAST_STRING:
    if (v->type != TS_STRING) v->type = 0;
    break;
  case QL_CAST_BOOLEAN:
    if (v->type != TS_BOOL) v->type = 0;
    break;
  default: break;
  }
}

qx_val qx_eval(qn *n, const evctx *x) {
  qx_val r = {0};
  switch (n->kind) {
  case N_LIT: return n->lit;
  case N_CALL: return x->slotvals ? x->slotvals[n->slot] : r;
  case N_FIELD: {
    if (!x->m) n->bm = NULL, n->bfi = -1;
    else if (n->bm != x->m) n->bm = x->m, n->bfi = qx_field_index(x->m, n->name);
    int fi = n->bfi;
    if (fi >= 0) {
      if (x->fvals) r = x->fvals[fi];
      cast_val(&r, n->cast);
      return r;
    }
    if (n->cast != QL_CAST_NONE && n->cast != QL_CAST_TAG) return r;
  }
  /* fall through: a tag */
  /* FALLTHROUGH */
  case N_TAG: {
    if (!x->s) return r;
    if (n->bs != x->s) {
      const ts_series_info *s = x->s;
      n->bs = s;
      /* series mostly share their tag keys: try the previous one's place first */
      if (n->bti < s->n_tags && !strcmp(s->tags[n->bti].key, n->name)) {
        n->btv = s->tags[n->bti].val;
      } else {
        n->btv = qx_series_tag(s, n->name);
        for (uint32_t i = 0; n->btv && i < s->n_tags; i++)
          if (s->tags[i].val == n->btv) n->bti = i;
      }
      n->btl = n->btv ? (uint32_t)strlen(n->btv) : 0;
    }
    if (n->btv) {
      r.type = TS_STRING;
      r.v.s.p = n->btv;
      r.v.s.len = n->btl;
    }
    return r;
  }
  case N_BIN: {
    qx_val a = qx_eval(n->l, x), b = qx_eval(n->r, x);
    if (!a.type || !b.type) return r;
    bool na = a.type == TS_FLOAT || a.type == TS_INT || a.type == TS_UINT;
    bool nb = b.type == TS_FLOAT || b.type == TS_INT || b.type == TS_UINT;
    if (!na || !nb) {
      if (a.type == TS_BOOL && b.type == TS_BOOL) {
        r.type = TS_BOOL;
        switch (n->op) {
        case QL_OP_BITAND: r.v.b = a.v.b & b.v.b; return r;
        case QL_OP_BITOR: r.v.b = a.v.b | b.v.b; return r;
        case QL_OP_BITXOR: r.v.b = a.v.b ^ b.v.b; return r;
        default: r.type = 0; return r;
        }
      }
      return r;
    }
    if (a.type == TS_INT && b.type == TS_INT) {
      int64_t p = a.v.i, q = b.v.i;
      r.type = TS_INT;
      switch (n->op) {
      case QL_OP_ADD: r.v.i = (int64_t)((uint64_t)p + (uint64_t)q); return r;
      case QL_OP_SUB: r.v.i = (int64_t)((uint64_t)p - (uint64_t)q); return r;
      case QL_OP_MUL: r.v.i = (int64_t)((uint64_t)p * (uint64_t)q); return r;
      case QL_OP_MOD: r.v.i = q == 0 ? 0 : (q == -1 ? 0 : p % q); return r;
      case QL_OP_BITAND: r.v.i = p & q; return r;
      case QL_OP_BITOR: r.v.i = p | q; return r;
      case QL_OP_BITXOR: r.v.i = p ^ q; return r;
      case QL_OP_DIV:
        r.type = TS_FLOAT;
        r.v.f = q == 0 ? 0 : (double)p / (double)q;
        return r;
      default: r.type = 0; return r;
      }
    }
    double p = nv(&a), q = nv(&b);
    r.type = TS_FLOAT;
    switch (n->op) {
    case QL_OP_ADD: r.v.f = p + q; break;
    case QL_OP_SUB: r.v.f = p - q; break;
    case QL_OP_MUL: r.v.f = p * q; break;
    case QL_OP_DIV: r.v.f = q == 0 ? 0 : p / q; break;
    case QL_OP_MOD: r.v.f = fmod(p, q); break;
    default: r.type = 0; break;
    }
    return r;
  }
  case N_MATH: {
    qx_val a = qx_eval(n->l, x), b = {0};
    if (n->r) b = qx_eval(n->r, x);
    return qx_math_eval(n->fn, &a, n->r ? &b : NULL);
  }
  case N_XF: {
    qx_val a = qx_eval(n->l, x);
    if (!x->xs) return r;
    return qx_xf_apply(&x->xs[n->xf], n->fn, n->param, x->desc, x->t, &a);
  }
  default: return r;
  }
}

/* Can a field of type t be read as `c` (numbers convert; else exact)? */
static bool cast_ok(ql_cast c, ts_type t) {
  switch (c) {
  case QL_CAST_FLOAT:
  case QL_CAST_INTEGER:
  case QL_CAST_UNSIGNED: return t == TS_FLOAT || t == TS_INT || t == TS_UINT;
  case QL_CAST_STRING: return t == TS_STRING;
  case QL_CAST_BOOLEAN: return t == TS_BOOL;
  default: return true;
  }
}

void qx_vars_of(const qn *n, const ts_measurement_info *m, uint8_t *need) {
  if (!n) return;
  if (n->kind == N_FIELD) {
    int fi = qx_field_index(m, n->name);
    if (fi >= 0 && cast_ok(n->cast, m->fields[fi].type)) need[fi] = 1;
  }
  qx_vars_of(n->l, m, need);
  qx_vars_of(n->r, m, need);
}

/* Does n reference a field or a tag of m? */
