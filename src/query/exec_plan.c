/* SPDX-License-Identifier: Apache-2.0
 * SELECT planning: sources resolved against metadata snapshots (measurement
 * names and regexes), wildcards and regex field lists expanded in InfluxDB's
 * order, aggregate calls collected into slots, expressions compiled into qn
 * trees, result columns named, GROUP BY dimensions parsed. Nothing here
 * reads point data.
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

int qx_fail(qx_ctx *c, const char *msg) {
  snprintf(c->err, sizeof c->err, "%s", msg);
  return LOOM_EINVAL;
}

/* ---- sources ---- */

int qx_plan_add_src(plan *p, ts_meta *meta, const ts_measurement_info *m) {
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

int qx_src_cmp(const void *a, const void *b) {
  return strcmp(((const src_m *)a)->m->name, ((const src_m *)b)->m->name);
}

int qx_plan_resolve_sources(plan *p) {
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
          if ((rc = qx_plan_add_src(p, used ? NULL : meta, m))) {
            if (!used) ts_meta_release(meta);
            return rc;
          }
          used = true;
        }
      }
    } else {
      const ts_measurement_info *m = ts_meta_find(meta, src->m.name);
      if (m) {
        if ((rc = qx_plan_add_src(p, meta, m))) {
          ts_meta_release(meta);
          return rc;
        }
        used = true;
      }
    }
    if (!used) ts_meta_release(meta);
  }
  if (p->n_srcs) qsort(p->srcs, p->n_srcs, sizeof *p->srcs, qx_src_cmp);
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
int qx_nl_add(namelist *l, const char *name, ts_type t) {
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

void qx_nl_sort(namelist *l) {
  for (size_t i = 1; i < l->n; i++)
    for (size_t j = i; j > 0 && strcmp(l->v[j - 1], l->v[j]) > 0; j--) {
      const char *t = l->v[j];
      l->v[j] = l->v[j - 1], l->v[j - 1] = t;
      ts_type tt = l->types[j];
      l->types[j] = l->types[j - 1], l->types[j - 1] = tt;
    }
}

void qx_nl_free(namelist *l) {
  loom_free(l->v);
  loom_free(l->types);
}

bool qx_is_dim(const plan *p, const char *tag) {
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
      if (qx_nl_add(fl, m->fields[f].name, m->fields[f].type)) return LOOM_ENOMEM;
    }
    if (!tl) continue;
    const ts_series_info *prev = NULL;
    for (uint32_t s = 0; s < m->n_series; s++) {
      const ts_series_info *si = m->series[s];
      for (uint32_t t = 0; t < si->n_tags; t++) {
        const char *k = si->tags[t].key;
        /* series mostly share their tag keys: one already seen at the same
         * place in the previous series was taken (or refused) then */
        if (prev && t < prev->n_tags && !strcmp(prev->tags[t].key, k)) continue;
        if (qx_is_dim(p, k)) continue;
        if (re) {
          char e[8];
          if (qx_regex_match(p->rc, re, k, strlen(k), e, sizeof e) != 1) continue;
        }
        if (qx_nl_add(tl, k, 0)) return LOOM_ENOMEM;
      }
      prev = si;
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
    const ql_expr *e = qx_unparen(f->expr);
    if (e->kind == QL_EXPR_IDENT && !strcasecmp(e->u.ident.name, "time")) {
      if (f->alias[0]) *time_name = f->alias;
      continue;
    }
    if (e->kind == QL_EXPR_WILDCARD || e->kind == QL_EXPR_REGEX) {
      namelist fl = {0}, tl = {0}, all = {0};
      const char *re = e->kind == QL_EXPR_REGEX ? e->u.str : NULL;
      rc = collect_names(p, &fl, e->u.wildcard == QL_CAST_FIELD ? NULL : &tl, re);
      if (e->kind == QL_EXPR_WILDCARD && e->u.wildcard == QL_CAST_TAG) fl.n = 0;
      for (size_t k = 0; !rc && k < fl.n; k++) rc = qx_nl_add(&all, fl.v[k], fl.types[k]);
      for (size_t k = 0; !rc && k < tl.n; k++) rc = qx_nl_add(&all, tl.v[k], 0);
      qx_nl_sort(&all);
      for (size_t k = 0; !rc && k < all.n; k++) {
        ql_expr *id = mk_ident(p, all.v[k]);
        if (!id) rc = LOOM_ENOMEM;
        else {
          id->u.ident.cast = all.types[k] ? QL_CAST_FIELD : QL_CAST_TAG;
          rc = push_field(p, &out, &n, &cap, id, NULL);
        }
      }
      qx_nl_free(&fl), qx_nl_free(&tl), qx_nl_free(&all);
      if (rc) return rc;
      continue;
    }
    if (e->kind == QL_EXPR_CALL && e->u.call.n_args >= 1) {
      const ql_expr *a0 = qx_unparen(e->u.call.args[0]);
      if (a0->kind == QL_EXPR_WILDCARD || a0->kind == QL_EXPR_REGEX) {
        int fn = qx_agg_lookup(e->u.call.name);
        namelist fl = {0};
        rc = collect_names(p, &fl, NULL, a0->kind == QL_EXPR_REGEX ? a0->u.str : NULL);
        qx_nl_sort(&fl);
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
        qx_nl_free(&fl);
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
  const ql_expr *a0 = qx_unparen(e->u.call.args[0]);
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
    if (fn == QX_XF_MOVING_AVERAGE && na == 2 && qx_unparen(e->u.call.args[1])->kind == QL_EXPR_NUMBER)
      back = qx_unparen(e->u.call.args[1])->u.num.i - 1;
    if (back > p->xf_back) p->xf_back = back;
  }
  if (na == 2) {
    const ql_expr *a1 = qx_unparen(e->u.call.args[1]);
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
  e = qx_unparen(e);
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
    const ql_expr *a0 = qx_unparen(e->u.call.args[0]);
    if (fn == QX_AGG_COUNT && a0->kind == QL_EXPR_CALL && !strcmp(a0->u.call.name, "distinct") &&
        a0->u.call.n_args == 1)
      fn = QX_AGG_COUNT_DISTINCT, a0 = qx_unparen(a0->u.call.args[0]);
    else if (fn == QX_AGG_COUNT && a0->kind == QL_EXPR_DISTINCT)
      fn = QX_AGG_COUNT_DISTINCT, a0 = mk_ident(p, a0->u.str);
    if (!a0) return LOOM_ENOMEM;
    if (a0->kind != QL_EXPR_IDENT) {
      snprintf(c->err, sizeof c->err, "expected field argument in %s()", name);
      return LOOM_EINVAL;
    }
    double pct = 0;
    if (fn == QX_AGG_PERCENTILE) {
      const ql_expr *a1 = qx_unparen(e->u.call.args[1]);
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
  e = qx_unparen(e);
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

int qx_plan_build(plan *p) {
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
    return qx_fail(c, "mixing aggregate and non-aggregate queries is not supported");
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
        return qx_fail(c, "mixing multiple selector functions with tags or fields is not supported");
      } else {
        return qx_fail(c, "mixing aggregate and non-aggregate queries is not supported");
      }
    } else if (total_calls == 1 && p->n_slots == 1 && qx_agg_is_selector(p->slots[0].fn)) {
      p->sel_slot = 0;
    }
    for (size_t i = 0; i < p->n_slots; i++)
      if (p->slots[i].fn == QX_AGG_DISTINCT) {
        if (p->n_fields != 1 || p->exprs[0]->kind != N_CALL)
          return qx_fail(c, "aggregate function distinct() cannot be combined with other functions or fields");
        p->distinct_rows = true;
      }
  }
  return ql_column_names(p->fields, p->n_fields, time_name, &p->arena, &p->names, &p->n_names);
}

/* ---- dimensions ---- */

int qx_plan_parse_dims(plan *p) {
  qx_ctx *c = p->c;
  const ql_select *s = p->s;
  p->dims = ql_arena_alloc(&p->arena, (s->n_dimensions + 1) * sizeof *p->dims);
  p->dim_re = ql_arena_alloc(&p->arena, (s->n_dimensions + 1) * sizeof *p->dim_re);
  if (!p->dims || !p->dim_re) return LOOM_ENOMEM;
  for (size_t i = 0; i < s->n_dimensions; i++) {
    const ql_expr *d = qx_unparen(s->dimensions[i]);
    if (d->kind == QL_EXPR_CALL && !strcmp(d->u.call.name, "time")) {
      if (p->interval) return qx_fail(c, "multiple time dimensions not allowed");
      if (d->u.call.n_args < 1 || d->u.call.n_args > 2)
        return qx_fail(c, "time dimension expected 1 or 2 arguments");
      const ql_expr *a = qx_unparen(d->u.call.args[0]);
      if (a->kind != QL_EXPR_DURATION) return qx_fail(c, "time dimension must have duration argument");
      if (a->u.duration_ns <= 0) return qx_fail(c, "time dimension must have duration argument");
      p->interval = a->u.duration_ns;
      if (d->u.call.n_args == 2) {
        const ql_expr *o = qx_unparen(d->u.call.args[1]);
        if (o->kind == QL_EXPR_DURATION) {
          p->offset = o->u.duration_ns;
        } else if (o->kind == QL_EXPR_CALL && !strcmp(o->u.call.name, "now")) {
          p->offset = c->opt->now_ns;
        } else {
          return qx_fail(c, "time dimension offset must be duration or now()");
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
      return qx_fail(c, "only time and tag dimensions allowed");
    }
  }
  return qx_sub_prepare(p);
}
