/* SPDX-License-Identifier: Apache-2.0
 * SELECT planning and execution: sources are resolved against metadata
 * snapshots, wildcards expanded and result columns named as InfluxDB does;
 * series are chosen by their tags without reading data and grouped by the
 * GROUP BY tags; raw queries merge per-series rows in time order, aggregate
 * queries fill per-bucket states from column scans (whole blocks from their
 * pre-aggregates) and then apply fill(), arithmetic, ORDER BY, LIMIT and
 * OFFSET. Each result series is written as soon as it is complete.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/err.h"
#include "core/mem.h"
#include "query/exec_agg.h"
#include "query/exec_int.h"
#include "query/ql_parse.h"

/* ---- compiled expressions ---- */

enum { N_FIELD = 1, N_TAG, N_LIT, N_CALL, N_BIN, N_MATH, N_XF };

typedef struct qn qn;
struct qn {
  int kind;
  const char *name; /* N_FIELD / N_TAG */
  ql_cast cast;
  qx_val lit;  /* N_LIT */
  int slot;    /* N_CALL */
  ql_op op;    /* N_BIN */
  int fn;      /* N_MATH, N_XF: function id */
  int xf;      /* N_XF: index of its state */
  int64_t param; /* N_XF: unit (ns) or moving_average count */
  qn *l, *r;   /* N_BIN operands; N_MATH / N_XF arguments (r: second) */
};

typedef struct slot {
  int fn;
  const char *field;
  double pct;
  int fidx;     /* per measurement */
  ts_type type; /* per measurement (0: field absent or not accepted) */
} slot;

typedef struct src_m {
  ts_meta *meta; /* reference held (released at the end) */
  const ts_measurement_info *m;
} src_m;

typedef struct plan {
  qx_ctx *c;
  const ql_select *s;
  ql_arena arena;
  ql_field *fields; /* rewritten fields */
  size_t n_fields;
  qn **exprs;       /* compiled, one per output column */
  const char **names; /* column names, time first */
  size_t n_names;
  slot *slots;
  size_t n_slots, cap_slots;
  bool agg;
  int sel_slot;     /* single selector: its slot, else -1 */
  bool distinct_rows; /* the only field is distinct(x) */
  int64_t tmin, tmax;
  bool tmin_set;
  int64_t interval, offset;
  const ql_expr *cond;
  qx_regex_cache *rc;
  src_m *srcs;
  size_t n_srcs, cap_srcs;
  /* group-by tags */
  const char **dims;
  size_t n_dims;
  bool dim_star;
  const char **dim_re;
  size_t n_dim_re;
  /* subqueries */
  qx_vsrc *vs;      /* results of the FROM (SELECT ...) sources (owned) */
  qx_vsrc *coll;    /* when set, this (inner) query's output goes here */
  qx_xf_st *xfs;    /* transform states, one per N_XF node */
  int n_xf;
  bool xf_raw;      /* transforms over raw fields (rows evaluated in output order) */
  int64_t xf_back;  /* buckets read before the range so the first has its inputs */
  int64_t out_tmin; /* with xf_back: rows before this are not output */
  int64_t last_t;   /* last_row(): the time of the row it found */
  /* InfluxDB's LIMIT of a raw inner query grouped by more tags than the
   * outer: series are merged by the outer's tags only, each contributes at
   * most limit+offset+1 points (tsdb's limit iterator), and LIMIT/OFFSET
   * restart whenever the row's tags change (query.NewLimitIterator). */
  bool lim_quirk;
  const char **odims; /* the outer's GROUP BY tags */
  size_t n_odims;
} plan;

/* What an inner query inherits from the outer one (InfluxDB 1.x
 * newIteratorOptionsSubstatement). */
typedef struct sub_inh {
  int64_t tmin, tmax;       /* the outer's time range */
  int64_t interval, offset; /* the outer's GROUP BY time(), 0 if none */
  bool lim_quirk;           /* see plan.lim_quirk */
  const char **odims;
  size_t n_odims;
} sub_inh;

static int select_exec(qx_ctx *c, const ql_select *s, const sub_inh *inh, qx_vsrc *coll);

/* ts_engine_scan, or the scan of a subquery's virtual column. InfluxDB does
 * not filter subquery rows by the outer's time range (its bounds went to the
 * inner query), so virtual scans take every row, except the single-time
 * lookups of a selector's other fields. */
static int src_scan(plan *p, uint32_t col, int64_t tmin, int64_t tmax, int flags, ts_scan_cb cb,
                    void *arg) {
  if (col & QX_VCOL_BIT) {
    if (tmin != tmax) tmin = QX_MIN_TIME, tmax = QX_MAX_TIME;
    return qx_vsrc_scan(p->vs, col, tmin, tmax, cb, arg);
  }
  return ts_engine_scan(p->c->e, col, tmin, tmax, flags, cb, arg, p->c->err, sizeof p->c->err);
}

static int fail(qx_ctx *c, const char *msg) {
  snprintf(c->err, sizeof c->err, "%s", msg);
  return LOOM_EINVAL;
}

static const ql_expr *unparen(const ql_expr *e) {
  while (e && e->kind == QL_EXPR_PAREN) e = e->u.paren;
  return e;
}

int qx_db_resolve(qx_ctx *c, const char *given, const char **db) {
  const char *d = given && given[0] ? given : c->opt->db;
  if (!d || !d[0]) return fail(c, "database name required");
  int64_t r;
  if (ts_db_get(c->e, d, &r)) {
    snprintf(c->err, sizeof c->err, "database not found: %s", d);
    return LOOM_ENOTFOUND;
  }
  *db = d;
  return 0;
}

/* ---- sources ---- */

static int add_src(plan *p, ts_meta *meta, const ts_measurement_info *m) {
  for (size_t i = 0; i < p->n_srcs; i++)
    if (p->srcs[i].m == m) return 0;
  if (p->n_srcs == p->cap_srcs) {
    size_t nc = p->cap_srcs ? p->cap_srcs * 2 : 8;
    src_m *ns = loom_realloc(p->srcs, nc * sizeof *ns);
    if (!ns) return LOOM_ENOMEM;
    p->srcs = ns, p->cap_srcs = nc;
  }
  p->srcs[p->n_srcs].meta = meta;
  p->srcs[p->n_srcs].m = m;
  p->n_srcs++;
  return 0;
}

static int cmp_src(const void *a, const void *b) {
  return strcmp(((const src_m *)a)->m->name, ((const src_m *)b)->m->name);
}

static int resolve_sources(plan *p) {
  qx_ctx *c = p->c;
  const ql_select *s = p->s;
  for (size_t i = 0; i < s->n_sources; i++) {
    const ql_source *src = &s->sources[i];
    if (src->subquery) continue; /* run_subqueries */
    const char *db;
    int rc = qx_db_resolve(c, src->m.db, &db);
    if (rc) return rc;
    ts_meta *meta;
    if (ts_meta_get(c->e, db, &meta)) {
      snprintf(c->err, sizeof c->err, "database not found: %s", db);
      return LOOM_ENOTFOUND;
    }
    /* keep the reference: stored in the first source that uses it */
    bool used = false;
    if (src->m.regex) {
      for (uint32_t k = 0; k < ts_meta_n_measurements(meta); k++) {
        const ts_measurement_info *m = ts_meta_measurement(meta, k);
        int mm = qx_regex_match(p->rc, src->m.regex, m->name, strlen(m->name), c->err,
                                sizeof c->err);
        if (mm < 0) {
          ts_meta_release(meta);
          return mm;
        }
        if (mm) {
          if ((rc = add_src(p, used ? NULL : meta, m))) {
            if (!used) ts_meta_release(meta);
            return rc;
          }
          used = true;
        }
      }
    } else {
      const ts_measurement_info *m = ts_meta_find(meta, src->m.name);
      if (m) {
        if ((rc = add_src(p, meta, m))) {
          ts_meta_release(meta);
          return rc;
        }
        used = true;
      }
    }
    if (!used) ts_meta_release(meta);
  }
  if (p->n_srcs) qsort(p->srcs, p->n_srcs, sizeof *p->srcs, cmp_src);
  return 0;
}

/* ---- field rewriting and compilation ---- */

static ql_expr *mk_ident(plan *p, const char *name) {
  ql_expr *e = ql_arena_alloc(&p->arena, sizeof *e);
  if (!e) return NULL;
  e->kind = QL_EXPR_IDENT;
  e->u.ident.name = name;
  return e;
}

/* Sorted unique names (fields and/or tags) over every source. */
typedef struct namelist {
  const char **v;
  ts_type *types; /* field type of the first measurement having it, 0 for tags */
  size_t n, cap;
} namelist;

static int nl_add(namelist *l, const char *name, ts_type t) {
  for (size_t i = 0; i < l->n; i++)
    if (!strcmp(l->v[i], name)) return 0;
  if (l->n == l->cap) {
    size_t nc = l->cap ? l->cap * 2 : 16;
    const char **nv = loom_realloc(l->v, nc * sizeof *nv);
    if (!nv) return LOOM_ENOMEM;
    l->v = nv;
    ts_type *nt = loom_realloc(l->types, nc * sizeof *nt);
    if (!nt) return LOOM_ENOMEM;
    l->types = nt;
    l->cap = nc;
  }
  l->v[l->n] = name;
  l->types[l->n] = t;
  l->n++;
  return 0;
}

static void nl_sort(namelist *l) {
  for (size_t i = 1; i < l->n; i++)
    for (size_t j = i; j > 0 && strcmp(l->v[j - 1], l->v[j]) > 0; j--) {
      const char *t = l->v[j];
      l->v[j] = l->v[j - 1], l->v[j - 1] = t;
      ts_type tt = l->types[j];
      l->types[j] = l->types[j - 1], l->types[j - 1] = tt;
    }
}

static void nl_free(namelist *l) {
  loom_free(l->v);
  loom_free(l->types);
}

static bool is_dim(const plan *p, const char *tag) {
  if (p->dim_star) return true;
  for (size_t i = 0; i < p->n_dims; i++)
    if (!strcmp(p->dims[i], tag)) return true;
  for (size_t i = 0; i < p->n_dim_re; i++) {
    char e[8];
    if (qx_regex_match(p->rc, p->dim_re[i], tag, strlen(tag), e, sizeof e) == 1) return true;
  }
  return false;
}

static int collect_names(plan *p, namelist *fl, namelist *tl, const char *re) {
  for (size_t i = 0; i < p->n_srcs; i++) {
    const ts_measurement_info *m = p->srcs[i].m;
    for (uint32_t f = 0; f < m->n_fields; f++) {
      if (!strcmp(m->fields[f].name, QX_ROW_MARKER)) continue;
      if (re) {
        char e[8];
        if (qx_regex_match(p->rc, re, m->fields[f].name, strlen(m->fields[f].name), e, sizeof e) != 1)
          continue;
      }
      if (nl_add(fl, m->fields[f].name, m->fields[f].type)) return LOOM_ENOMEM;
    }
    if (!tl) continue;
    for (uint32_t s = 0; s < m->n_series; s++) {
      const ts_series_info *si = m->series[s];
      for (uint32_t t = 0; t < si->n_tags; t++) {
        const char *k = si->tags[t].key;
        if (is_dim(p, k)) continue;
        if (re) {
          char e[8];
          if (qx_regex_match(p->rc, re, k, strlen(k), e, sizeof e) != 1) continue;
        }
        if (nl_add(tl, k, 0)) return LOOM_ENOMEM;
      }
    }
  }
  return 0;
}

static int push_field(plan *p, ql_field **out, size_t *n, size_t *cap, ql_expr *e,
                      const char *alias) {
  if (*n == *cap) {
    size_t nc = *cap ? *cap * 2 : 16;
    ql_field *nf = ql_arena_alloc(&p->arena, nc * sizeof *nf);
    if (!nf) return LOOM_ENOMEM;
    if (*n) memcpy(nf, *out, *n * sizeof *nf);
    *out = nf, *cap = nc;
  }
  (*out)[*n].expr = e;
  (*out)[*n].alias = alias ? alias : "";
  (*n)++;
  return 0;
}

static int rewrite_fields(plan *p, const char **time_name) {
  const ql_select *s = p->s;
  ql_field *out = NULL;
  size_t n = 0, cap = 0;
  int rc = 0;
  *time_name = "time";
  for (size_t i = 0; i < s->n_fields; i++) {
    const ql_field *f = &s->fields[i];
    const ql_expr *e = unparen(f->expr);
    if (e->kind == QL_EXPR_IDENT && !strcasecmp(e->u.ident.name, "time")) {
      if (f->alias[0]) *time_name = f->alias;
      continue;
    }
    if (e->kind == QL_EXPR_WILDCARD || e->kind == QL_EXPR_REGEX) {
      namelist fl = {0}, tl = {0}, all = {0};
      const char *re = e->kind == QL_EXPR_REGEX ? e->u.str : NULL;
      rc = collect_names(p, &fl, e->u.wildcard == QL_CAST_FIELD ? NULL : &tl, re);
      if (e->kind == QL_EXPR_WILDCARD && e->u.wildcard == QL_CAST_TAG) fl.n = 0;
      for (size_t k = 0; !rc && k < fl.n; k++) rc = nl_add(&all, fl.v[k], fl.types[k]);
      for (size_t k = 0; !rc && k < tl.n; k++) rc = nl_add(&all, tl.v[k], 0);
      nl_sort(&all);
      for (size_t k = 0; !rc && k < all.n; k++) {
        ql_expr *id = mk_ident(p, all.v[k]);
        if (!id) rc = LOOM_ENOMEM;
        else {
          id->u.ident.cast = all.types[k] ? QL_CAST_FIELD : QL_CAST_TAG;
          rc = push_field(p, &out, &n, &cap, id, NULL);
        }
      }
      nl_free(&fl), nl_free(&tl), nl_free(&all);
      if (rc) return rc;
      continue;
    }
    if (e->kind == QL_EXPR_CALL && e->u.call.n_args >= 1) {
      const ql_expr *a0 = unparen(e->u.call.args[0]);
      if (a0->kind == QL_EXPR_WILDCARD || a0->kind == QL_EXPR_REGEX) {
        int fn = qx_agg_lookup(e->u.call.name);
        namelist fl = {0};
        rc = collect_names(p, &fl, NULL, a0->kind == QL_EXPR_REGEX ? a0->u.str : NULL);
        nl_sort(&fl);
        for (size_t k = 0; !rc && k < fl.n; k++) {
          if (fn && !qx_agg_accepts(fn, fl.types[k])) continue;
          ql_expr *ce = ql_arena_alloc(&p->arena, sizeof *ce);
          ql_expr **args = ql_arena_alloc(&p->arena, e->u.call.n_args * sizeof *args);
          ql_expr *id = mk_ident(p, fl.v[k]);
          size_t al = strlen(e->u.call.name) + strlen(fl.v[k]) + 2;
          char *alias = ql_arena_alloc(&p->arena, al);
          if (!ce || !args || !id || !alias) {
            rc = LOOM_ENOMEM;
            break;
          }
          *ce = *e;
          memcpy(args, e->u.call.args, e->u.call.n_args * sizeof *args);
          args[0] = id;
          ce->u.call.args = args;
          const char *pre = f->alias[0] ? f->alias : e->u.call.name;
          al += strlen(pre);
          alias = ql_arena_alloc(&p->arena, al);
          if (!alias) {
            rc = LOOM_ENOMEM;
            break;
          }
          snprintf(alias, al, "%s_%s", pre, fl.v[k]);
          rc = push_field(p, &out, &n, &cap, ce, alias);
        }
        nl_free(&fl);
        if (rc) return rc;
        continue;
      }
    }
    if (e->kind == QL_EXPR_DISTINCT) {
      ql_expr *ce = ql_arena_alloc(&p->arena, sizeof *ce);
      ql_expr **args = ql_arena_alloc(&p->arena, sizeof *args);
      ql_expr *id = mk_ident(p, e->u.str);
      if (!ce || !args || !id) return LOOM_ENOMEM;
      ce->kind = QL_EXPR_CALL;
      ce->u.call.name = "distinct";
      ce->u.call.args = args;
      ce->u.call.n_args = 1;
      args[0] = id;
      if ((rc = push_field(p, &out, &n, &cap, ce, f->alias))) return rc;
      continue;
    }
    if ((rc = push_field(p, &out, &n, &cap, f->expr, f->alias))) return rc;
  }
  p->fields = out;
  p->n_fields = n;
  return 0;
}

static int add_slot(plan *p, int fn, const char *field, double pct) {
  for (size_t i = 0; i < p->n_slots; i++)
    if (p->slots[i].fn == fn && !strcmp(p->slots[i].field, field) && p->slots[i].pct == pct)
      return (int)i;
  if (p->n_slots == p->cap_slots) {
    size_t nc = p->cap_slots ? p->cap_slots * 2 : 8;
    slot *ns = loom_realloc(p->slots, nc * sizeof *ns);
    if (!ns) return LOOM_ENOMEM;
    p->slots = ns, p->cap_slots = nc;
  }
  slot *sl = &p->slots[p->n_slots];
  memset(sl, 0, sizeof *sl);
  sl->fn = fn, sl->field = field, sl->pct = pct, sl->fidx = -1;
  return (int)p->n_slots++;
}

static int compile(plan *p, const ql_expr *e, qn **out, int *n_calls, int *n_vars);

/* A transform call: difference(x), derivative(mean(x), 1m), moving_average(x, 3) ... */
static int compile_xf(plan *p, const ql_expr *e, int fn, qn *n, int *n_calls, int *n_vars) {
  qx_ctx *c = p->c;
  const char *name = e->u.call.name;
  size_t na = e->u.call.n_args;
  bool two = fn == QX_XF_MOVING_AVERAGE;
  bool opt = fn == QX_XF_DERIVATIVE || fn == QX_XF_NN_DERIVATIVE || fn == QX_XF_ELAPSED;
  if (two && na != 2) {
    snprintf(c->err, sizeof c->err, "invalid number of arguments for %s, expected 2, got %zu", name,
             na);
    return LOOM_EINVAL;
  }
  if (!two && !opt && na != 1) {
    snprintf(c->err, sizeof c->err, "invalid number of arguments for %s, expected 1, got %zu", name,
             na);
    return LOOM_EINVAL;
  }
  if (opt && (na < 1 || na > 2)) {
    snprintf(c->err, sizeof c->err,
             "invalid number of arguments for %s, expected at least 1 but no more than 2, got %zu",
             name, na);
    return LOOM_EINVAL;
  }
  const ql_expr *a0 = unparen(e->u.call.args[0]);
  bool over_agg = a0->kind == QL_EXPR_CALL;
  if (over_agg && !p->interval) {
    snprintf(c->err, sizeof c->err, "%s aggregate requires a GROUP BY interval", name);
    return LOOM_EINVAL;
  }
  if (!over_agg && p->interval) {
    snprintf(c->err, sizeof c->err, "aggregate function required inside the call to %s", name);
    return LOOM_EINVAL;
  }
  if (!over_agg && a0->kind != QL_EXPR_IDENT) {
    snprintf(c->err, sizeof c->err, "expected field argument in %s()", name);
    return LOOM_EINVAL;
  }
  n->kind = N_XF;
  n->fn = fn;
  n->xf = p->n_xf++;
  if (over_agg) { /* InfluxDB reads earlier buckets to feed the first output */
    int64_t back = fn == QX_XF_CUMULATIVE_SUM ? 0 : 1;
    if (fn == QX_XF_MOVING_AVERAGE && na == 2 && unparen(e->u.call.args[1])->kind == QL_EXPR_NUMBER)
      back = unparen(e->u.call.args[1])->u.num.i - 1;
    if (back > p->xf_back) p->xf_back = back;
  }
  if (na == 2) {
    const ql_expr *a1 = unparen(e->u.call.args[1]);
    if (two) {
      if (a1->kind != QL_EXPR_NUMBER || a1->u.num.type != QL_NUM_INT) {
        snprintf(c->err, sizeof c->err, "second argument for moving_average must be an integer, got %s",
                 a1->kind == QL_EXPR_NUMBER ? "*influxql.NumberLiteral" : "*influxql.StringLiteral");
        return LOOM_EINVAL;
      }
      if (a1->u.num.i <= 1) {
        snprintf(c->err, sizeof c->err, "moving_average window must be greater than 1, got %lld",
                 (long long)a1->u.num.i);
        return LOOM_EINVAL;
      }
      n->param = a1->u.num.i;
    } else {
      if (a1->kind != QL_EXPR_DURATION) {
        snprintf(c->err, sizeof c->err, "second argument to %s must be a duration, got *influxql.NumberLiteral",
                 name);
        return LOOM_EINVAL;
      }
      n->param = a1->u.duration_ns;
    }
  } else if ((fn == QX_XF_DERIVATIVE || fn == QX_XF_NN_DERIVATIVE) && p->interval) {
    n->param = p->interval; /* the default unit of derivative(agg) is the interval */
  }
  return compile(p, a0, &n->l, n_calls, n_vars);
}

static int compile(plan *p, const ql_expr *e, qn **out, int *n_calls, int *n_vars) {
  qx_ctx *c = p->c;
  e = unparen(e);
  qn *n = ql_arena_alloc(&p->arena, sizeof *n);
  if (!n) return LOOM_ENOMEM;
  *out = n;
  switch (e->kind) {
  case QL_EXPR_IDENT:
    n->kind = e->u.ident.cast == QL_CAST_TAG ? N_TAG : N_FIELD;
    n->name = e->u.ident.name;
    n->cast = e->u.ident.cast;
    (*n_vars)++;
    return 0;
  case QL_EXPR_NUMBER:
    n->kind = N_LIT;
    if (e->u.num.type == QL_NUM_INT) n->lit.type = TS_INT, n->lit.v.i = e->u.num.i;
    else if (e->u.num.type == QL_NUM_UNSIGNED) n->lit.type = TS_UINT, n->lit.v.u = e->u.num.u;
    else n->lit.type = TS_FLOAT, n->lit.v.f = e->u.num.f;
    return 0;
  case QL_EXPR_STRING:
    n->kind = N_LIT;
    n->lit.type = TS_STRING;
    n->lit.v.s.p = e->u.str;
    n->lit.v.s.len = (uint32_t)strlen(e->u.str);
    return 0;
  case QL_EXPR_BOOL:
    n->kind = N_LIT;
    n->lit.type = TS_BOOL;
    n->lit.v.b = (uint8_t)e->u.boolean;
    return 0;
  case QL_EXPR_BINARY: {
    n->kind = N_BIN;
    n->op = e->u.bin.op;
    int rc = compile(p, e->u.bin.lhs, &n->l, n_calls, n_vars);
    return rc ? rc : compile(p, e->u.bin.rhs, &n->r, n_calls, n_vars);
  }
  case QL_EXPR_CALL: {
    const char *name = e->u.call.name;
    int m_args = 0, mfn = qx_math_lookup(name, &m_args);
    if (mfn) {
      if ((int)e->u.call.n_args != m_args) {
        snprintf(c->err, sizeof c->err, "invalid number of arguments for %s, expected %d, got %zu",
                 name, m_args, e->u.call.n_args);
        return LOOM_EINVAL;
      }
      n->kind = N_MATH;
      n->fn = mfn;
      int rc = compile(p, e->u.call.args[0], &n->l, n_calls, n_vars);
      if (!rc && m_args == 2) rc = compile(p, e->u.call.args[1], &n->r, n_calls, n_vars);
      return rc;
    }
    int xfn = qx_xf_lookup(name);
    if (xfn) return compile_xf(p, e, xfn, n, n_calls, n_vars);
    int fn = qx_agg_lookup(name);
    if (!fn) {
      snprintf(c->err, sizeof c->err, "undefined function %s()", name);
      return LOOM_EINVAL;
    }
    size_t want = fn == QX_AGG_PERCENTILE ? 2 : 1;
    if (e->u.call.n_args != want) {
      snprintf(c->err, sizeof c->err, "invalid number of arguments for %s, expected %zu, got %zu",
               name, want, e->u.call.n_args);
      return LOOM_EINVAL;
    }
    const ql_expr *a0 = unparen(e->u.call.args[0]);
    if (fn == QX_AGG_COUNT && a0->kind == QL_EXPR_CALL && !strcmp(a0->u.call.name, "distinct") &&
        a0->u.call.n_args == 1)
      fn = QX_AGG_COUNT_DISTINCT, a0 = unparen(a0->u.call.args[0]);
    else if (fn == QX_AGG_COUNT && a0->kind == QL_EXPR_DISTINCT)
      fn = QX_AGG_COUNT_DISTINCT, a0 = mk_ident(p, a0->u.str);
    if (!a0) return LOOM_ENOMEM;
    if (a0->kind != QL_EXPR_IDENT) {
      snprintf(c->err, sizeof c->err, "expected field argument in %s()", name);
      return LOOM_EINVAL;
    }
    double pct = 0;
    if (fn == QX_AGG_PERCENTILE) {
      const ql_expr *a1 = unparen(e->u.call.args[1]);
      if (a1->kind != QL_EXPR_NUMBER) {
        snprintf(c->err, sizeof c->err, "expected float argument in percentile()");
        return LOOM_EINVAL;
      }
      pct = a1->u.num.f;
    }
    int sl = add_slot(p, fn, a0->u.ident.name, pct);
    if (sl < 0) return sl;
    n->kind = N_CALL;
    n->slot = sl;
    (*n_calls)++;
    return 0;
  }
  default:
    snprintf(c->err, sizeof c->err, "unsupported expression");
    return LOOM_EINVAL;
  }
}

/* Does e contain an aggregate call (1), or only a transform of raw fields (2)? */
static int has_call(const ql_expr *e) {
  e = unparen(e);
  if (e->kind == QL_EXPR_CALL) {
    int na;
    if (qx_xf_lookup(e->u.call.name)) {
      int r = e->u.call.n_args ? has_call(e->u.call.args[0]) : 0;
      return r == 1 ? 1 : 2;
    }
    if (qx_math_lookup(e->u.call.name, &na)) {
      int r = 0;
      for (size_t i = 0; i < e->u.call.n_args; i++) {
        int q = has_call(e->u.call.args[i]);
        if (q == 1 || (q == 2 && !r)) r = q;
      }
      return r;
    }
    return 1;
  }
  if (e->kind == QL_EXPR_BINARY) {
    int a = has_call(e->u.bin.lhs), b = has_call(e->u.bin.rhs);
    return a == 1 || b == 1 ? 1 : a ? a : b;
  }
  return 0;
}

static int build(plan *p) {
  qx_ctx *c = p->c;
  const char *time_name;
  int rc = rewrite_fields(p, &time_name);
  if (rc) return rc;
  if (!p->n_fields) return 0;
  p->exprs = ql_arena_alloc(&p->arena, p->n_fields * sizeof *p->exprs);
  if (!p->exprs) return LOOM_ENOMEM;
  int total_calls = 0, fields_with_calls = 0, plain_vars = 0, xf_fields = 0;
  for (size_t i = 0; i < p->n_fields; i++) {
    int nc = 0, nv = 0;
    int hc = has_call(p->fields[i].expr);
    if ((rc = compile(p, p->fields[i].expr, &p->exprs[i], &nc, &nv))) return rc;
    total_calls += nc;
    if (hc == 1) fields_with_calls++;
    else if (hc == 2) xf_fields++;
    else plain_vars += nv;
  }
  if (xf_fields && (plain_vars || fields_with_calls))
    return fail(c, "mixing aggregate and non-aggregate queries is not supported");
  p->xf_raw = xf_fields > 0;
  if (p->n_xf) {
    p->xfs = loom_calloc((size_t)p->n_xf, sizeof *p->xfs);
    if (!p->xfs) return LOOM_ENOMEM;
  }
  p->agg = fields_with_calls > 0;
  p->sel_slot = -1;
  if (p->agg) {
    if (plain_vars) {
      /* raw fields/tags beside aggregates: only with exactly one selector */
      if (total_calls == 1 && qx_agg_is_selector(p->slots[0].fn)) {
        p->sel_slot = 0;
      } else if (total_calls > 1) {
        return fail(c, "mixing multiple selector functions with tags or fields is not supported");
      } else {
        return fail(c, "mixing aggregate and non-aggregate queries is not supported");
      }
    } else if (total_calls == 1 && p->n_slots == 1 && qx_agg_is_selector(p->slots[0].fn)) {
      p->sel_slot = 0;
    }
    for (size_t i = 0; i < p->n_slots; i++)
      if (p->slots[i].fn == QX_AGG_DISTINCT) {
        if (p->n_fields != 1 || p->exprs[0]->kind != N_CALL)
          return fail(c, "aggregate function distinct() cannot be combined with other functions or fields");
        p->distinct_rows = true;
      }
  }
  return ql_column_names(p->fields, p->n_fields, time_name, &p->arena, &p->names, &p->n_names);
}

/* ---- dimensions ---- */

static int parse_dims(plan *p) {
  qx_ctx *c = p->c;
  const ql_select *s = p->s;
  p->dims = ql_arena_alloc(&p->arena, (s->n_dimensions + 1) * sizeof *p->dims);
  p->dim_re = ql_arena_alloc(&p->arena, (s->n_dimensions + 1) * sizeof *p->dim_re);
  if (!p->dims || !p->dim_re) return LOOM_ENOMEM;
  for (size_t i = 0; i < s->n_dimensions; i++) {
    const ql_expr *d = unparen(s->dimensions[i]);
    if (d->kind == QL_EXPR_CALL && !strcmp(d->u.call.name, "time")) {
      if (p->interval) return fail(c, "multiple time dimensions not allowed");
      if (d->u.call.n_args < 1 || d->u.call.n_args > 2)
        return fail(c, "time dimension expected 1 or 2 arguments");
      const ql_expr *a = unparen(d->u.call.args[0]);
      if (a->kind != QL_EXPR_DURATION) return fail(c, "time dimension must have duration argument");
      if (a->u.duration_ns <= 0) return fail(c, "time dimension must have duration argument");
      p->interval = a->u.duration_ns;
      if (d->u.call.n_args == 2) {
        const ql_expr *o = unparen(d->u.call.args[1]);
        if (o->kind == QL_EXPR_DURATION) {
          p->offset = o->u.duration_ns;
        } else if (o->kind == QL_EXPR_CALL && !strcmp(o->u.call.name, "now")) {
          p->offset = c->opt->now_ns;
        } else {
          return fail(c, "time dimension offset must be duration or now()");
        }
        p->offset %= p->interval;
        if (p->offset < 0) p->offset += p->interval;
      }
    } else if (d->kind == QL_EXPR_IDENT) {
      p->dims[p->n_dims++] = d->u.ident.name;
    } else if (d->kind == QL_EXPR_WILDCARD) {
      p->dim_star = true;
    } else if (d->kind == QL_EXPR_REGEX) {
      p->dim_re[p->n_dim_re++] = d->u.str;
    } else {
      return fail(c, "only time and tag dimensions allowed");
    }
  }
  return 0;
}

/* ---- execution helpers ---- */

/* Decoded points of one column. */
typedef struct colbuf {
  int64_t *ts;
  qx_val *v;
  uint32_t n, cap;
} colbuf;

typedef struct scan_ctx {
  plan *p;
  colbuf *cb;
  ts_type type;
  uint32_t keep;  /* >0: keep at most this many points (first ones, or last ones when desc) */
  bool desc;
  int rc;
} scan_ctx;

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

static int count_points(plan *p, uint64_t n) {
  qx_ctx *c = p->c;
  c->points_read += n;
  if (c->opt->max_points && c->points_read > c->opt->max_points) {
    snprintf(c->err, sizeof c->err, "max-select-point limit exceeed: (%llu/%llu)",
             (unsigned long long)c->points_read, (unsigned long long)c->opt->max_points);
    return LOOM_ERANGE;
  }
  return 0;
}

static int load_cb(void *arg, const ts_chunk *ch) {
  scan_ctx *sc = arg;
  if (!ch->ts) return TS_SCAN_DECODE;
  if ((sc->rc = count_points(sc->p, ch->n))) return TS_SCAN_STOP;
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
static int load_col(plan *p, uint32_t col_id, colbuf *b, uint32_t keep, bool desc) {
  scan_ctx sc = {.p = p, .cb = b, .keep = keep, .desc = desc};
  b->n = 0;
  int rc = src_scan(p, col_id, p->tmin, p->tmax, desc ? TS_SCAN_DESC : 0, load_cb, &sc);
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

static void cb_free(colbuf *b) {
  loom_free(b->ts);
  loom_free(b->v);
  memset(b, 0, sizeof *b);
}

static int64_t col_of(const ts_series_info *s, int fidx) {
  for (uint32_t i = 0; i < s->n_cols; i++)
    if (s->field_idx[i] == fidx) return s->col_ids[i];
  return -1;
}

/* ---- evaluation ---- */

typedef struct evctx {
  const ts_measurement_info *m;
  const ts_series_info *s;    /* series for tags (may be NULL) */
  const qx_val *fvals;        /* field values by field index (raw rows / aux), may be NULL */
  const qx_val *slotvals;     /* aggregate results by slot */
  qx_xf_st *xs;               /* transform states (N_XF) */
  int64_t t;                  /* the row's time (transforms) */
  bool desc;
} evctx;

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

static qx_val eval(const qn *n, const evctx *x) {
  qx_val r = {0};
  switch (n->kind) {
  case N_LIT: return n->lit;
  case N_CALL: return x->slotvals ? x->slotvals[n->slot] : r;
  case N_FIELD: {
    int fi = x->m ? qx_field_index(x->m, n->name) : -1;
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
    const char *tv = x->s ? qx_series_tag(x->s, n->name) : NULL;
    if (tv) {
      r.type = TS_STRING;
      r.v.s.p = tv;
      r.v.s.len = (uint32_t)strlen(tv);
    }
    return r;
  }
  case N_BIN: {
    qx_val a = eval(n->l, x), b = eval(n->r, x);
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
    qx_val a = eval(n->l, x), b = {0};
    if (n->r) b = eval(n->r, x);
    return qx_math_eval(n->fn, &a, n->r ? &b : NULL);
  }
  case N_XF: {
    qx_val a = eval(n->l, x);
    if (!x->xs) return r;
    return qx_xf_apply(&x->xs[n->xf], n->fn, n->param, x->desc, x->t, &a);
  }
  default: return r;
  }
}

/* ---- groups ---- */

typedef struct grp {
  uint32_t first, n; /* range in the sorted series array */
} grp;

typedef struct sser {
  const ts_series_info *s;
  int cond; /* QX_TRUE or QX_UNKNOWN */
  const char *key; /* group key (values joined by \x01), arena */
} sser;

static int cmp_sser(const void *a, const void *b) {
  const sser *x = a, *y = b;
  int c = strcmp(x->key, y->key);
  return c ? c : strcmp(x->s->key, y->s->key);
}

/* Tag keys the results of measurement m carry. */
static int group_keys(plan *p, const ts_measurement_info *m, namelist *keys) {
  for (size_t i = 0; i < p->n_dims; i++)
    if (nl_add(keys, p->dims[i], 0)) return LOOM_ENOMEM;
  if (p->dim_star || p->n_dim_re)
    for (uint32_t s = 0; s < m->n_series; s++)
      for (uint32_t t = 0; t < m->series[s]->n_tags; t++)
        if (is_dim(p, m->series[s]->tags[t].key) &&
            nl_add(keys, m->series[s]->tags[t].key, 0))
          return LOOM_ENOMEM;
  nl_sort(keys);
  return 0;
}

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

typedef struct series_out {
  plan *p;
  const char *name;
  const char **tk, **tv;
  size_t nt;
  bool begun;
  int64_t skipped, emitted;
} series_out;

/* Emit one row honouring OFFSET/LIMIT. Returns 1 when the limit is reached. */
static int emit_row(series_out *so, int64_t t, const qx_val *vals, size_t ncols) {
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

static int so_end(series_out *so) {
  return so->begun && !so->p->coll ? qx_out_series_end(so->p->c->out) : 0;
}

/* ---- raw ---- */

typedef struct sortref {
  int64_t t;
  uint32_t ord, idx;
} sortref;

static int cmp_sortref(const void *a, const void *b) {
  const sortref *x = a, *y = b;
  if (x->t != y->t) return x->t < y->t ? -1 : 1;
  if (x->ord != y->ord) return x->ord < y->ord ? -1 : 1;
  return x->idx < y->idx ? -1 : x->idx > y->idx;
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

static void vars_of(const qn *n, const ts_measurement_info *m, uint8_t *need) {
  if (!n) return;
  if (n->kind == N_FIELD) {
    int fi = qx_field_index(m, n->name);
    if (fi >= 0 && cast_ok(n->cast, m->fields[fi].type)) need[fi] = 1;
  }
  vars_of(n->l, m, need);
  vars_of(n->r, m, need);
}

/* Does n reference a field or a tag of m? */
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
  for (size_t f = 0; f < nf; f++) {
    if (!need[f]) continue;
    int64_t col = col_of(s, (int)f);
    if (col >= 0 && (col & QX_VCOL_BIT)) return 2;
  }
  for (size_t f = 0; f < nf; f++) {
    rowv[f].type = 0;
    if (!need[f]) continue;
    int64_t col = col_of(s, (int)f);
    if (col < 0) continue;
    int64_t t;
    ts_value v;
    int rc = ts_engine_last(p->c->e, (uint32_t)col, &t, &v, strs);
    if (rc == LOOM_ENOTFOUND) continue;
    if (rc) return rc;
    if (t < tmax) continue;
    if (t > tmax) { /* older columns are not part of the newest row */
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
  return count_points(p, 1) ? LOOM_ERANGE : 1;
}

static int run_raw_group(plan *p, const ts_measurement_info *m, sser *ss, uint32_t n_ss,
                         series_out *so) {
  size_t nf = m->n_fields, ncols = p->n_fields;
  int rc = 0;
  uint8_t *sel = loom_calloc(nf + 1, 2);
  colbuf *cbs = loom_calloc(nf + 1, sizeof *cbs);
  qx_val *rowv = loom_calloc(nf + 1, sizeof *rowv);
  qx_val *outv = loom_calloc(ncols + 1, sizeof *outv);
  uint32_t *cur = loom_calloc(nf + 1, sizeof *cur);
  /* transforms see rows in output order: keep the field values, evaluate late */
  bool late = p->n_xf > 0;
  rowbuf rb = {.ncols = late ? nf : ncols};
  sortref *refs = NULL;
  loom_buf lastbuf;
  loom_buf_init(&lastbuf);
  if (!sel || !cbs || !rowv || !outv || !cur) {
    rc = LOOM_ENOMEM;
    goto out;
  }
  uint8_t *need = sel + nf + 1;
  for (size_t i = 0; i < ncols; i++) vars_of(p->exprs[i], m, sel);
  int mk = qx_field_index(m, QX_ROW_MARKER);
  if (mk >= 0) { /* a subquery: every inner row is a row, nulls or not */
    bool any_ref = false;
    for (size_t i = 0; i < ncols; i++) any_ref |= refs_of(p->exprs[i], m);
    if (any_ref) sel[mk] = 1;
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
        for (size_t i = 0; i < ncols; i++) outv[i] = eval(p->exprs[i], &x);
        if ((rc = rb_push(&rb, t, k, outv))) goto out;
      }
      if (lr >= 0 && lr != 2) continue;
    }
    for (size_t f = 0; f < nf; f++) {
      cbs[f].n = 0;
      cur[f] = 0;
      if (!need[f]) continue;
      int64_t col = col_of(s, (int)f);
      if (col < 0) continue;
      if ((rc = load_col(p, (uint32_t)col, &cbs[f], keep, desc))) goto out;
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
        for (size_t i = 0; i < ncols; i++) outv[i] = eval(p->exprs[i], &x);
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
  refs = loom_malloc((rb.n + 1) * sizeof *refs);
  if (!refs) {
    rc = LOOM_ENOMEM;
    goto out;
  }
  for (uint32_t i = 0; i < rb.n; i++) refs[i] = (sortref){rb.t[i], rb.ord[i], i};
  if (rb.n > 1) qsort(refs, rb.n, sizeof *refs, cmp_sortref);
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
        outv[q] = eval(p->exprs[q], &x);
        if (outv[q].type) any = true;
      }
      if (!any) continue; /* a transform without output for this row */
      rowo = outv;
    }
    rc = emit_row(so, rb.t[i], rowo, ncols);
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
  if (cbs)
    for (size_t f = 0; f < nf; f++) cb_free(&cbs[f]);
  loom_free(sel);
  loom_free(cbs);
  loom_free(rowv);
  loom_free(outv);
  loom_free(cur);
  loom_free(refs);
  rb_free(&rb);
  loom_buf_deinit(&lastbuf);
  return rc;
}

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

static inline int64_t win(const plan *p, int64_t t) {
  if (!p->interval) return 0;
  int64_t x = t - p->offset;
  int64_t d = x % p->interval;
  if (d < 0) d += p->interval;
  return x - d + p->offset;
}

static inline uint64_t bucket(const aggrun *a, int64_t t) {
  if (!a->p->interval) return 0;
  return (uint64_t)(win(a->p, t) - a->start) / (uint64_t)a->p->interval;
}

static int agg_cb(void *arg, const ts_chunk *ch) {
  aggrun *a = arg;
  plan *p = a->p;
  if (ch->stats) {
    const ts_block_stats *st = ch->stats;
    if (bucket(a, st->min_ts) != bucket(a, st->max_ts) || st->min_ts < p->tmin ||
        st->max_ts > p->tmax)
      return TS_SCAN_DECODE;
    if ((a->rc = count_points(p, st->count))) return TS_SCAN_STOP;
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
  if ((a->rc = count_points(p, ch->n))) return TS_SCAN_STOP;
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
        int64_t bend = p->interval ? win(p, ch->ts[i]) + p->interval : INT64_MAX;
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

/* Fill in the series' aux field values at its selected point. */
static int aux_fields(plan *p, const ts_measurement_info *m, const ts_series_info *s, int64_t t,
                      qx_val *fv) {
  uint8_t *need = loom_calloc(m->n_fields + 1, 1);
  if (!need) return LOOM_ENOMEM;
  for (size_t i = 0; i < p->n_fields; i++) vars_of(p->exprs[i], m, need);
  int rc = 0;
  colbuf cb = {0};
  int64_t smin = p->tmin, smax = p->tmax;
  p->tmin = p->tmax = t;
  for (uint32_t f = 0; f < m->n_fields && !rc; f++) {
    fv[f].type = 0;
    if (!need[f]) continue;
    int64_t col = col_of(s, (int)f);
    if (col < 0) continue;
    rc = load_col(p, (uint32_t)col, &cb, 1, false);
    if (!rc && cb.n) fv[f] = cb.v[0];
  }
  p->tmin = smin, p->tmax = smax;
  cb_free(&cb);
  loom_free(need);
  return rc;
}

static int run_agg_group(plan *p, const ts_measurement_info *m, sser *ss, uint32_t n_ss,
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
          int64_t col = col_of(ss[k].s, p->slots[i].fidx);
          if (col < 0) continue;
          if ((rc = src_scan(p, (uint32_t)col, p->tmin, p->tmax, TS_SCAN_STATS, first_cb, &fc)))
            goto out;
        }
      if (!fc.found) goto out;
      lo = fc.t;
    }
    a.start = win(p, lo);
    uint64_t span = (uint64_t)(win(p, tmax) - a.start) / (uint64_t)p->interval + 1;
    if (span > 100000000ull) {
      rc = fail(c, "too many buckets in GROUP BY time(): narrow the time range");
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
            int64_t col = col_of(ss[k].s, p->slots[i].fidx);
            if (col < 0) continue;
            if ((rc = src_scan(p, (uint32_t)col, p->tmin, p->tmax, TS_SCAN_STATS, first_cb, &fc)))
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
        int64_t col = col_of(s, (int)f);
        if (col >= 0 && (rc = load_col(p, (uint32_t)col, &cbs[f], 0, false))) goto out;
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
        uint64_t b = p->interval ? (uint64_t)(win(p, t) - a.start) / (uint64_t)p->interval : 0;
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
      int64_t col = col_of(s, sl->fidx);
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
      rc = src_scan(p, (uint32_t)col, p->tmin, p->tmax, stats ? TS_SCAN_STATS : 0, agg_cb, &a);
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
        rc = emit_row(so, t, &nul, 1);
      }
      for (uint32_t q = 0; q < nd; q++) {
        rc = emit_row(so, t, &st->list[q], 1);
        if (rc) break;
      }
    } else {
      x.xs = p->xfs, x.t = t, x.desc = p->s->order_desc;
      bool anyv = false;
      for (size_t i = 0; i < ncols; i++) {
        outv[i] = eval(p->exprs[i], &x);
        if (outv[i].type) anyv = true;
      }
      if (p->n_xf && !anyv) continue; /* a transform without output for this bucket */
      if (p->xf_back && t < p->out_tmin) continue; /* a bucket read only as input */
      rc = emit_row(so, t, outv, ncols);
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
    for (size_t f = 0; f < nf; f++) cb_free(&cbs[f]);
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

/* ---- statement ---- */

static bool in_odims(const plan *p, const char *tag) {
  for (size_t i = 0; i < p->n_odims; i++)
    if (!strcmp(p->odims[i], tag)) return true;
  return false;
}

static int run_measurement(plan *p, const ts_measurement_info *m, int64_t *series_seen) {
  qx_ctx *c = p->c;
  int rc = 0;
  namelist keys = {0};
  sser *ss = loom_calloc(m->n_series + 1, sizeof *ss);
  const char **tv = NULL;
  loom_buf kb;
  loom_buf_init(&kb);
  if (!ss) return LOOM_ENOMEM;
  if ((rc = group_keys(p, m, &keys))) goto out;
  tv = loom_calloc(keys.n + 1, sizeof *tv);
  if (!tv) {
    rc = LOOM_ENOMEM;
    goto out;
  }
  uint32_t n = 0;
  for (uint32_t i = 0; i < m->n_series; i++) {
    const ts_series_info *s = m->series[i];
    int r = qx_cond_series(p->cond, m, s, p->rc, c->err, sizeof c->err);
    if (r < 0) {
      rc = r;
      goto out;
    }
    if (r == QX_FALSE) continue;
    loom_buf_reset(&kb);
    for (size_t k = 0; k < keys.n; k++) {
      if (p->lim_quirk && !in_odims(p, keys.v[k])) continue; /* merged across them */
      const char *v = qx_series_tag(s, keys.v[k]);
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
    (*series_seen)++;
    if (*series_seen <= p->s->soffset) continue;
    if (p->s->slimit && *series_seen > p->s->soffset + p->s->slimit) break;
    for (size_t k = 0; k < keys.n; k++) {
      const char *v = qx_series_tag(ss[i].s, keys.v[k]);
      tv[k] = v ? v : "";
    }
    series_out so = {.p = p, .name = m->name, .tk = keys.v, .tv = tv, .nt = keys.n};
    for (int q = 0; p->xfs && q < p->n_xf; q++) qx_xf_reset(&p->xfs[q]);
    rc = p->agg ? run_agg_group(p, m, ss + i, j - i, &so) : run_raw_group(p, m, ss + i, j - i, &so);
    if (!rc) rc = so_end(&so);
    else so_end(&so);
    if (rc) goto out;
    if (!so.begun) (*series_seen)--; /* groups without rows do not count */
  }
out:
  loom_buf_deinit(&kb);
  loom_free(tv);
  nl_free(&keys);
  loom_free(ss);
  return rc;
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
                 .odims = p->dims, .n_odims = p->n_dims};
  if (p->interval && inh.tmax == QX_MAX_TIME) inh.tmax = c->opt->now_ns;
  for (size_t i = 0; i < s->n_sources; i++) {
    const ql_select *sub = s->sources[i].subquery;
    if (!sub) continue;
    if (sub->has_order && sub->order_desc != s->order_desc)
      return fail(c, "subqueries must be ordered in the same direction as the query itself");
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
      const ql_expr *d = unparen(s->dimensions[k]);
      if (d->kind == QL_EXPR_CALL) continue; /* time() */
      dims[nd++] = s->dimensions[k];
    }
    in->dimensions = dims;
    in->n_dimensions = nd;
    /* does the inner group by tags the outer does not? */
    inh.lim_quirk = false;
    if (!p->dim_star && !p->n_dim_re)
      for (size_t k = 0; k < sub->n_dimensions; k++) {
        const ql_expr *d = unparen(sub->dimensions[k]);
        if (d->kind == QL_EXPR_WILDCARD || d->kind == QL_EXPR_REGEX ||
            (d->kind == QL_EXPR_IDENT && !in_odims(p, d->u.ident.name)))
          inh.lim_quirk = true;
      }
    in->slimit = sub->slimit + s->slimit;
    in->soffset = sub->soffset + s->soffset;
    if ((rc = select_exec(c, in, &inh, p->vs))) return rc;
  }
  if ((rc = qx_vsrc_finish(p->vs, s->order_desc))) return rc;
  for (uint32_t k = 0; k < qx_vsrc_n_measurements(p->vs); k++)
    if ((rc = add_src(p, NULL, qx_vsrc_measurement(p->vs, k)))) return rc;
  if (p->n_srcs) qsort(p->srcs, p->n_srcs, sizeof *p->srcs, cmp_src);
  return 0;
}

int qx_select_run(qx_ctx *c, const ql_select *s) { return select_exec(c, s, NULL, NULL); }

/* Execute s; an inner query (coll set) writes its rows into coll. */
static int select_exec(qx_ctx *c, const ql_select *s, const sub_inh *inh, qx_vsrc *coll) {
  plan p = {.c = c, .s = s, .sel_slot = -1, .coll = coll};
  ql_arena_init(&p.arena);
  int rc = qx_regex_cache_new(&p.rc);
  if (rc) goto out;
  if (s->into) {
    rc = fail(c, "SELECT INTO is not supported");
    goto out;
  }
  if (s->tz) { /* rather an error than times in the wrong zone */
    rc = fail(c, "tz() is not supported");
    goto out;
  }
  if ((rc = resolve_sources(&p))) goto out;
  p.tmin = QX_MIN_TIME;
  p.tmax = QX_MAX_TIME;
  p.cond = s->condition;
  if ((rc = qx_cond_time_range(s->condition, c->opt->now_ns, &p.tmin, &p.tmax, c->err,
                               sizeof c->err)))
    goto out;
  if (inh) { /* the outer's range narrows this one */
    p.lim_quirk = inh->lim_quirk && s->is_raw && (s->limit || s->offset);
    p.odims = inh->odims, p.n_odims = inh->n_odims;
    if (inh->tmin > p.tmin) p.tmin = inh->tmin;
    if (inh->tmax < p.tmax) p.tmax = inh->tmax;
  }
  p.tmin_set = p.tmin != QX_MIN_TIME;
  if ((rc = parse_dims(&p))) goto out;
  if (inh && !p.interval && !s->is_raw) /* an aggregate inherits the outer's interval */
    p.interval = inh->interval, p.offset = inh->offset;
  if ((rc = run_subqueries(&p))) goto out;
  if ((rc = build(&p))) goto out;
  if (p.interval && !p.agg) {
    rc = fail(c, "GROUP BY requires at least one aggregate function");
    goto out;
  }
  if (!p.n_fields) goto out;
  if (p.interval && p.tmax == QX_MAX_TIME) p.tmax = c->opt->now_ns;
  if (p.tmin > p.tmax) goto out;
  p.out_tmin = p.interval && p.tmin_set ? win(&p, p.tmin) : p.tmin;
  if (p.xf_back && p.tmin_set && p.interval && p.xf_back < 1000000)
    p.tmin -= p.xf_back * p.interval;
  int64_t seen = 0;
  for (size_t k = 0; k < p.n_srcs; k++) {
    size_t i = s->order_desc ? p.n_srcs - 1 - k : k;
    if ((rc = run_measurement(&p, p.srcs[i].m, &seen))) goto out;
  }
out:
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
