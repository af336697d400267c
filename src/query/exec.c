/* SPDX-License-Identifier: Apache-2.0
 * Executor entry point: parses the query text, runs each statement and
 * reports per-statement errors as InfluxDB 1.x does. SELECT lives in
 * exec_select.c; this file has the schema statements (SHOW DATABASES,
 * MEASUREMENTS, TAG KEYS, TAG VALUES, FIELD KEYS, SERIES, RETENTION POLICIES),
 * database and retention policy management, and DELETE / DROP SERIES /
 * DROP MEASUREMENT through ts_engine_delete. Retention policies: each database
 * has exactly one, "autogen", the default; CREATE/ALTER set its duration;
 * DROP RETENTION POLICY is accepted and does nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "query/exec_int.h"
#include "query/ql_parse.h"

static int fail(qx_ctx *c, const char *msg) {
  snprintf(c->err, sizeof c->err, "%s", msg);
  return LOOM_EINVAL;
}

/* ---- SHOW DATABASES ---- */

typedef struct names {
  char **v;
  size_t n, cap;
  int64_t *ret;
  int rc;
} names;

static void names_add(names *l, const char *s, int64_t r) {
  if (l->rc) return;
  if (l->n == l->cap) {
    size_t nc = l->cap ? l->cap * 2 : 16;
    char **nv = loom_realloc(l->v, nc * sizeof *nv);
    int64_t *nr = nv ? loom_realloc(l->ret, nc * sizeof *nr) : NULL;
    if (nv) l->v = nv;
    if (!nv || !nr) {
      l->rc = LOOM_ENOMEM;
      return;
    }
    l->ret = nr;
    l->cap = nc;
  }
  if (!(l->v[l->n] = loom_strdup(s))) {
    l->rc = LOOM_ENOMEM;
    return;
  }
  l->ret[l->n++] = r;
}

static void names_free(names *l) {
  for (size_t i = 0; i < l->n; i++) loom_free(l->v[i]);
  loom_free(l->v);
  loom_free(l->ret);
}

static void db_cb(void *arg, const char *name, int64_t r) { names_add(arg, name, r); }

static int one_col_series(qx_ctx *c, const char *name, const char *col, names *l) {
  const char *cols[] = {col};
  int rc = qx_out_series_begin(c->out, name, NULL, NULL, 0, cols, 1);
  for (size_t i = 0; i < l->n && !rc; i++) {
    qx_out_row_begin(c->out);
    qx_out_str(c->out, l->v[i]);
    rc = qx_out_row_end(c->out);
  }
  return rc ? rc : qx_out_series_end(c->out);
}

static int show_databases(qx_ctx *c) {
  names l = {0};
  ts_db_each(c->e, db_cb, &l);
  int rc = l.rc ? l.rc : one_col_series(c, "databases", "name", &l);
  names_free(&l);
  return rc;
}

static int show_rps(qx_ctx *c, const char *given) {
  const char *db;
  int rc = qx_db_resolve(c, given, &db);
  if (rc) return rc;
  int64_t r = 0;
  ts_db_get(c->e, db, &r);
  const char *cols[] = {"name", "duration", "shardGroupDuration", "replicaN", "default"};
  char d[48], sg[48];
  loom_duration_format(r, d, sizeof d);
  int64_t day = 86400 * LOOM_NS_PER_S;
  int64_t sgd = r == 0 ? 7 * day : r < 2 * day ? 3600 * LOOM_NS_PER_S : r < 180 * day ? day : 7 * day;
  loom_duration_format(sgd, sg, sizeof sg);
  qx_out *o = c->out;
  if ((rc = qx_out_series_begin(o, NULL, NULL, NULL, 0, cols, 5))) return rc;
  qx_out_row_begin(o);
  qx_out_str(o, "autogen");
  qx_out_str(o, d);
  qx_out_str(o, sg);
  qx_val one = {.type = TS_INT, .v.i = 1}, yes = {.type = TS_BOOL, .v.b = 1};
  qx_out_val(o, &one);
  qx_out_val(o, &yes);
  qx_out_row_end(o);
  return qx_out_series_end(o);
}

/* ---- schema SHOW statements ---- */

typedef struct schema_ctx {
  qx_ctx *c;
  const ql_show *sh;
  const char *db;
  ts_meta *meta;
  qx_regex_cache *rc;
} schema_ctx;

static int source_match(schema_ctx *x, const ts_measurement_info *m) {
  const ql_show *sh = x->sh;
  if (!sh->n_sources) return 1;
  for (size_t i = 0; i < sh->n_sources; i++) {
    const ql_measurement *qm = &sh->sources[i].m;
    if (qm->regex) {
      int r = qx_regex_match(x->rc, qm->regex, m->name, strlen(m->name), x->c->err,
                             sizeof x->c->err);
      if (r) return r;
    } else if (!strcmp(qm->name, m->name)) {
      return 1;
    }
  }
  return 0;
}

/* Series of m passing the WHERE tag condition (field conditions ignored). */
static int series_match(schema_ctx *x, const ts_measurement_info *m, const ts_series_info *s) {
  if (!x->sh->condition) return 1;
  int r = qx_cond_series(x->sh->condition, m, s, x->rc, x->c->err, sizeof x->c->err);
  return r < 0 ? r : r != QX_FALSE;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Emit rows of l honouring offset/limit. */
static int emit_list(qx_ctx *c, const ql_show *sh, const char *name, const char **cols,
                     size_t ncols, names *l, names *l2) {
  size_t from = (size_t)(sh->offset > 0 ? sh->offset : 0);
  size_t to = l->n;
  if (sh->limit > 0 && from + (size_t)sh->limit < to) to = from + (size_t)sh->limit;
  if (from >= to) return 0;
  int rc = qx_out_series_begin(c->out, name, NULL, NULL, 0, cols, ncols);
  for (size_t i = from; i < to && !rc; i++) {
    qx_out_row_begin(c->out);
    qx_out_str(c->out, l->v[i]);
    if (l2) qx_out_str(c->out, l2->v[i]);
    rc = qx_out_row_end(c->out);
  }
  return rc ? rc : qx_out_series_end(c->out);
}

static int show_schema(qx_ctx *c, ql_stmt_kind kind, const ql_show *sh) {
  schema_ctx x = {.c = c, .sh = sh};
  int rc = qx_db_resolve(c, sh->db, &x.db);
  if (rc == LOOM_ENOTFOUND && kind == QL_STMT_SHOW_MEASUREMENTS) return 0; /* as InfluxDB */
  if (rc) return rc;
  if ((rc = ts_meta_get(c->e, x.db, &x.meta))) {
    snprintf(c->err, sizeof c->err, "database not found: %s", x.db);
    return rc;
  }
  if ((rc = qx_regex_cache_new(&x.rc))) goto out;
  names all = {0}, all2 = {0};
  for (uint32_t i = 0; i < ts_meta_n_measurements(x.meta); i++) {
    const ts_measurement_info *m = ts_meta_measurement(x.meta, i);
    int sm = source_match(&x, m);
    if (sm < 0) {
      rc = sm;
      break;
    }
    if (!sm) continue;
    names l = {0}, l2 = {0};
    switch (kind) {
    case QL_STMT_SHOW_MEASUREMENTS: {
      for (uint32_t s = 0; s < m->n_series; s++) {
        int r = series_match(&x, m, m->series[s]);
        if (r < 0) rc = r;
        if (r) {
          names_add(&all, m->name, 0);
          break;
        }
      }
      break;
    }
    case QL_STMT_SHOW_SERIES:
      for (uint32_t s = 0; s < m->n_series && !rc; s++) {
        int r = series_match(&x, m, m->series[s]);
        if (r < 0) rc = r;
        else if (r) names_add(&all, m->series[s]->key, 0);
      }
      break;
    case QL_STMT_SHOW_FIELD_KEYS: {
      for (uint32_t f = 0; f < m->n_fields; f++) {
        names_add(&l, m->fields[f].name, 0);
        names_add(&l2, ts_type_name(m->fields[f].type), 0);
      }
      /* sort both by field name */
      for (size_t a = 1; a < l.n; a++)
        for (size_t b = a; b > 0 && strcmp(l.v[b - 1], l.v[b]) > 0; b--) {
          char *t = l.v[b];
          l.v[b] = l.v[b - 1], l.v[b - 1] = t;
          t = l2.v[b];
          l2.v[b] = l2.v[b - 1], l2.v[b - 1] = t;
        }
      const char *cols[] = {"fieldKey", "fieldType"};
      if (!l.rc && !l2.rc) rc = emit_list(c, sh, m->name, cols, 2, &l, &l2);
      else rc = LOOM_ENOMEM;
      break;
    }
    case QL_STMT_SHOW_TAG_KEYS: {
      for (uint32_t s = 0; s < m->n_series && !rc; s++) {
        int r = series_match(&x, m, m->series[s]);
        if (r < 0) rc = r;
        if (r <= 0) continue;
        for (uint32_t t = 0; t < m->series[s]->n_tags; t++) {
          const char *k = m->series[s]->tags[t].key;
          bool dup = false;
          for (size_t q = 0; q < l.n && !dup; q++) dup = !strcmp(l.v[q], k);
          if (!dup) names_add(&l, k, 0);
        }
      }
      if (rc) break;
      if (l.n > 1) qsort(l.v, l.n, sizeof *l.v, cmp_str);
      const char *cols[] = {"tagKey"};
      rc = l.rc ? l.rc : emit_list(c, sh, m->name, cols, 1, &l, NULL);
      break;
    }
    case QL_STMT_SHOW_TAG_VALUES: {
      loom_buf kv;
      loom_buf_init(&kv);
      for (uint32_t s = 0; s < m->n_series && !rc; s++) {
        int r = series_match(&x, m, m->series[s]);
        if (r < 0) rc = r;
        if (r <= 0) continue;
        const ts_series_info *si = m->series[s];
        for (uint32_t t = 0; t < si->n_tags && !rc; t++) {
          const char *k = si->tags[t].key;
          bool want = false;
          if (sh->tag_op == QL_OP_EQ) want = sh->n_tag_keys && !strcmp(k, sh->tag_keys[0]);
          else if (sh->tag_op == QL_OP_NEQ) want = sh->n_tag_keys && strcmp(k, sh->tag_keys[0]);
          else if (sh->tag_op == QL_OP_EQREGEX || sh->tag_op == QL_OP_NEQREGEX) {
            int mm = qx_regex_match(x.rc, sh->tag_regex ? sh->tag_regex : "", k, strlen(k), c->err,
                                    sizeof c->err);
            if (mm < 0) rc = mm;
            want = (sh->tag_op == QL_OP_EQREGEX) == (mm == 1);
          } else {
            for (size_t q = 0; q < sh->n_tag_keys; q++)
              if (!strcmp(k, sh->tag_keys[q])) want = true;
          }
          if (!want) continue;
          /* key \x01 value so that sorting orders by key, then value */
          loom_buf_reset(&kv);
          loom_buf_printf(&kv, "%s%c%s", k, 1, si->tags[t].val);
          loom_buf_cstr(&kv);
          bool dup = false;
          for (size_t q = 0; q < l.n && !dup; q++) dup = !strcmp(l.v[q], (char *)kv.data);
          if (!dup) names_add(&l, (char *)kv.data, 0);
        }
      }
      loom_buf_deinit(&kv);
      if (rc) break;
      if (l.n > 1) qsort(l.v, l.n, sizeof *l.v, cmp_str);
      for (size_t q = 0; q < l.n; q++) {
        char *sepp = strchr(l.v[q], 1);
        *sepp = 0;
        names_add(&l2, sepp + 1, 0);
      }
      const char *cols[] = {"key", "value"};
      rc = l.rc || l2.rc ? LOOM_ENOMEM : emit_list(c, sh, m->name, cols, 2, &l, &l2);
      break;
    }
    default: break;
    }
    names_free(&l);
    names_free(&l2);
    if (rc) break;
  }
  if (!rc && all.rc) rc = all.rc;
  if (!rc && kind == QL_STMT_SHOW_MEASUREMENTS && all.n) {
    const char *cols[] = {"name"};
    rc = emit_list(c, sh, "measurements", cols, 1, &all, NULL);
  }
  if (!rc && kind == QL_STMT_SHOW_SERIES && all.n) {
    if (all.n > 1) qsort(all.v, all.n, sizeof *all.v, cmp_str);
    const char *cols[] = {"key"};
    rc = emit_list(c, sh, NULL, cols, 1, &all, NULL);
  }
  names_free(&all);
  names_free(&all2);
out:
  qx_regex_cache_free(x.rc);
  ts_meta_release(x.meta);
  return rc;
}

/* ---- deletes ---- */

static int run_delete(qx_ctx *c, ql_stmt_kind kind, const ql_del *d, const char *mname) {
  const char *db;
  int rc = qx_db_resolve(c, NULL, &db);
  if (rc) return rc;
  int64_t tmin = QX_MIN_TIME, tmax = QX_MAX_TIME;
  const ql_expr *cond = d ? d->condition : NULL;
  if (cond && (rc = qx_cond_time_range(cond, c->opt->now_ns, &tmin, &tmax, c->err, sizeof c->err)))
    return rc;
  if (kind == QL_STMT_DROP_SERIES && (tmin != QX_MIN_TIME || tmax != QX_MAX_TIME))
    return fail(c, "DROP SERIES doesn't support time in WHERE clause");
  ts_meta *meta;
  if (ts_meta_get(c->e, db, &meta)) {
    snprintf(c->err, sizeof c->err, "database not found: %s", db);
    return LOOM_ENOTFOUND;
  }
  qx_regex_cache *rcache = NULL;
  uint32_t *sids = NULL;
  size_t n = 0, cap = 0;
  if ((rc = qx_regex_cache_new(&rcache))) goto out;
  for (uint32_t i = 0; i < ts_meta_n_measurements(meta); i++) {
    const ts_measurement_info *m = ts_meta_measurement(meta, i);
    bool want = false;
    if (mname) {
      want = !strcmp(mname, m->name);
    } else if (!d->n_sources) {
      want = true;
    } else {
      for (size_t k = 0; k < d->n_sources; k++) {
        const ql_measurement *qm = &d->sources[k].m;
        if (qm->regex) {
          int r = qx_regex_match(rcache, qm->regex, m->name, strlen(m->name), c->err, sizeof c->err);
          if (r < 0) {
            rc = r;
            goto out;
          }
          want |= r == 1;
        } else {
          want |= !strcmp(qm->name, m->name);
        }
      }
    }
    if (!want) continue;
    for (uint32_t s = 0; s < m->n_series; s++) {
      if (cond) {
        int r = qx_cond_series(cond, m, m->series[s], rcache, c->err, sizeof c->err);
        if (r < 0) {
          rc = r;
          goto out;
        }
        if (r == QX_UNKNOWN) {
          rc = fail(c, "fields not supported in WHERE clause during deletion");
          goto out;
        }
        if (r == QX_FALSE) continue;
      }
      if (n == cap) {
        size_t nc = cap ? cap * 2 : 64;
        uint32_t *ns = loom_realloc(sids, nc * sizeof *ns);
        if (!ns) {
          rc = LOOM_ENOMEM;
          goto out;
        }
        sids = ns, cap = nc;
      }
      sids[n++] = m->series[s]->sid;
    }
  }
  if (n) {
    bool drop = kind != QL_STMT_DELETE;
    /* DELETE with a time range keeps the series; without one InfluxDB drops it */
    if (kind == QL_STMT_DELETE && tmin == QX_MIN_TIME && tmax == QX_MAX_TIME) drop = true;
    rc = ts_engine_delete(c->e, db, sids, n, tmin, tmax, drop);
    if (rc) snprintf(c->err, sizeof c->err, "%s", loom_strerror(rc));
  }
out:
  loom_free(sids);
  qx_regex_cache_free(rcache);
  ts_meta_release(meta);
  return rc;
}

/* ---- dispatch ---- */

static int run_stmt(qx_ctx *c, const ql_stmt *st) {
  int rc;
  switch (st->kind) {
  case QL_STMT_SELECT: return qx_select_run(c, st->u.select);
  case QL_STMT_SHOW_DATABASES: return show_databases(c);
  case QL_STMT_SHOW_RETENTION_POLICIES: return show_rps(c, st->u.name);
  case QL_STMT_SHOW_MEASUREMENTS:
  case QL_STMT_SHOW_TAG_KEYS:
  case QL_STMT_SHOW_TAG_VALUES:
  case QL_STMT_SHOW_FIELD_KEYS:
  case QL_STMT_SHOW_SERIES: return show_schema(c, st->kind, &st->u.show);
  case QL_STMT_CREATE_DATABASE: {
    int64_t r = st->u.db.has_duration ? st->u.db.duration_ns : 0;
    rc = ts_db_create(c->e, st->u.db.name, r);
    if (!rc && st->u.db.has_duration) rc = ts_db_set_retention(c->e, st->u.db.name, r);
    if (rc == LOOM_EINVAL) return fail(c, "invalid database name");
    if (rc) snprintf(c->err, sizeof c->err, "%s", loom_strerror(rc));
    return rc;
  }
  case QL_STMT_DROP_DATABASE:
    rc = ts_db_drop(c->e, st->u.name);
    return rc == LOOM_ENOTFOUND ? 0 : rc; /* InfluxDB: dropping a missing database is fine */
  case QL_STMT_CREATE_RP:
  case QL_STMT_ALTER_RP: {
    const char *db;
    if ((rc = qx_db_resolve(c, st->u.rp.db, &db))) return rc;
    if (strcmp(st->u.rp.name, "autogen"))
      return fail(c, "only the retention policy \"autogen\" is supported");
    if (st->u.rp.has_duration) {
      if (st->u.rp.duration_ns != 0 && st->u.rp.duration_ns < 3600 * LOOM_NS_PER_S)
        return fail(c, "retention policy duration must be at least 1h0m0s");
      return ts_db_set_retention(c->e, db, st->u.rp.duration_ns);
    }
    return 0;
  }
  case QL_STMT_DROP_RP: {
    const char *db;
    return qx_db_resolve(c, st->u.rp.db, &db); /* accepted, no effect */
  }
  case QL_STMT_DELETE:
  case QL_STMT_DROP_SERIES: return run_delete(c, st->kind, &st->u.del, NULL);
  case QL_STMT_DROP_MEASUREMENT: return run_delete(c, st->kind, NULL, st->u.name);
  case QL_STMT_EXPLAIN: return fail(c, "EXPLAIN is not supported");
  case QL_STMT_SHOW_CARDINALITY: return fail(c, "SHOW CARDINALITY is not supported");
  default: return fail(c, "statement is not supported");
  }
}

int qx_execute(ts_engine *e, const char *text, size_t len, const qx_options *opt,
               const qx_sink *sink) {
  qx_out o;
  qx_out_init(&o, opt, sink);
  ql_query *q = NULL;
  qx_ctx *c = NULL;
  char perr[512];
  int rc = ql_parse(text, len, &q, perr, sizeof perr);
  if (rc == LOOM_ENOMEM) goto out;
  if (rc) {
    rc = qx_out_parse_error(&o, perr);
    goto out;
  }
  c = loom_calloc(1, sizeof *c);
  if (!c) {
    rc = LOOM_ENOMEM;
    goto out;
  }
  c->e = e;
  c->opt = opt;
  c->out = &o;
  for (size_t i = 0; i < q->n_stmts; i++) {
    c->err[0] = 0;
    c->points_read = 0;
    if ((rc = qx_out_stmt_begin(&o, (int)i))) goto out;
    rc = run_stmt(c, &q->stmts[i]);
    if (o.err || rc == LOOM_ECLOSED) {
      rc = o.err ? o.err : LOOM_ECLOSED;
      goto out;
    }
    if (rc == LOOM_ENOMEM && !c->err[0]) snprintf(c->err, sizeof c->err, "out of memory");
    if (rc && !c->err[0]) snprintf(c->err, sizeof c->err, "%s", loom_strerror(rc));
    if (rc && i + 1 < q->n_stmts) {
      /* InfluxDB 1.x stops at the first failed statement and reports "not
       * executed" under the failed statement's id (non-chunked responses
       * merge it over the error; chunked ones show both) */
      if (opt->chunked) {
        if ((rc = qx_out_stmt_end(&o, c->err))) goto out;
        if ((rc = qx_out_stmt_begin(&o, (int)i))) goto out;
      }
      if ((rc = qx_out_stmt_end(&o, "not executed"))) goto out;
      break;
    }
    if ((rc = qx_out_stmt_end(&o, rc ? c->err : NULL))) goto out;
  }
  rc = qx_out_finish(&o);
out:
  if (rc == LOOM_ENOMEM && !o.begun) {
    /* nothing was sent yet: a 500-style error body is all we can do */
    qx_out_parse_error(&o, "out of memory");
  }
  loom_free(c);
  ql_query_free(q);
  qx_out_deinit(&o);
  return rc == LOOM_ECLOSED || rc == LOOM_ENOMEM ? rc : 0;
}
