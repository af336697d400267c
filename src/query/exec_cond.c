/* SPDX-License-Identifier: Apache-2.0
 * WHERE analysis for the executor: time range extraction (RFC3339 strings,
 * epoch numbers, durations, now() +- d), tag conditions decided per series
 * against the metadata snapshot (no data read), and field conditions
 * evaluated per row. Regexes are RE2 patterns as in InfluxDB, translated to
 * POSIX extended regexes (\d \w \s and friends) and cached per query.
 */
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/err.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "query/exec_int.h"
#include "query/ql_parse.h"

/* ---- regex cache ---- */

typedef struct rx_entry {
  char *pattern;
  regex_t re;
  bool ok;
} rx_entry;

/* Operand classes of one condition per measurement (classify() below),
 * remembered by node: deciding thousands of series repeats them. */
typedef struct cls_entry {
  const ql_expr *e;
  const ts_measurement_info *m;
  int k;
} cls_entry;

struct qx_regex_cache {
  rx_entry *e;
  size_t n, cap;
  cls_entry *cls; /* open addressing, cls_cap a power of two (0: none yet) */
  size_t cls_n, cls_cap;
};

int qx_regex_cache_new(qx_regex_cache **out) {
  *out = loom_calloc(1, sizeof **out);
  return *out ? 0 : LOOM_ENOMEM;
}

void qx_regex_cache_free(qx_regex_cache *c) {
  if (!c) return;
  for (size_t i = 0; i < c->n; i++) {
    if (c->e[i].ok) regfree(&c->e[i].re);
    loom_free(c->e[i].pattern);
  }
  loom_free(c->e);
  loom_free(c->cls);
  loom_free(c);
}

/* RE2 -> POSIX ERE: class escapes become bracket expressions, (?i) is a flag. */
static int translate(const char *p, loom_buf *b, int *icase) {
  *icase = 0;
  if (!strncmp(p, "(?i)", 4)) *icase = 1, p += 4;
  int in_br = 0;
  for (; *p; p++) {
    if (*p == '\\' && p[1]) {
      const char *rep = NULL;
      switch (p[1]) {
      case 'd': rep = in_br ? "0-9" : "[0-9]"; break;
      case 'D': rep = "[^0-9]"; break;
      case 'w': rep = in_br ? "A-Za-z0-9_" : "[A-Za-z0-9_]"; break;
      case 'W': rep = "[^A-Za-z0-9_]"; break;
      case 's': rep = in_br ? " \t\r\n\f\v" : "[ \t\r\n\f\v]"; break;
      case 'S': rep = "[^ \t\r\n\f\v]"; break;
      default: break;
      }
      if (rep) {
        loom_buf_append_str(b, rep);
      } else if (in_br) {
        loom_buf_append_u8(b, (uint8_t)p[1]);
      } else {
        loom_buf_append(b, p, 2);
      }
      p++;
      continue;
    }
    if (*p == '[' && !in_br) {
      in_br = 1;
      loom_buf_append_u8(b, '[');
      if (p[1] == '^') loom_buf_append_u8(b, '^'), p++;
      if (p[1] == ']') loom_buf_append_u8(b, ']'), p++;
      continue;
    }
    if (*p == ']' && in_br) in_br = 0;
    loom_buf_append_u8(b, (uint8_t)*p);
  }
  return loom_buf_cstr(b);
}

int qx_regex_match(qx_regex_cache *c, const char *pattern, const char *s, size_t len, char *err,
                   size_t errlen) {
  rx_entry *en = NULL;
  for (size_t i = 0; i < c->n; i++)
    if (!strcmp(c->e[i].pattern, pattern)) en = &c->e[i];
  if (!en) {
    if (c->n == c->cap) {
      size_t nc = c->cap ? c->cap * 2 : 4;
      rx_entry *ne = loom_realloc(c->e, nc * sizeof *ne);
      if (!ne) return LOOM_ENOMEM;
      c->e = ne, c->cap = nc;
    }
    en = &c->e[c->n];
    memset(en, 0, sizeof *en);
    en->pattern = loom_strdup(pattern);
    if (!en->pattern) return LOOM_ENOMEM;
    loom_buf b;
    int icase;
    loom_buf_init(&b);
    if (translate(pattern, &b, &icase)) {
      loom_buf_deinit(&b);
      loom_free(en->pattern);
      return LOOM_ENOMEM;
    }
    en->ok = regcomp(&en->re, (const char *)b.data, REG_EXTENDED | REG_NOSUB | (icase ? REG_ICASE : 0)) == 0;
    loom_buf_deinit(&b);
    c->n++;
  }
  if (!en->ok) {
    snprintf(err, errlen, "error parsing regexp: invalid regular expression: `%s`", pattern);
    return LOOM_EINVAL;
  }
  char stackbuf[256];
  char *z = len < sizeof stackbuf ? stackbuf : loom_malloc(len + 1);
  if (!z) return LOOM_ENOMEM;
  memcpy(z, s, len);
  z[len] = 0;
  int m = regexec(&en->re, z, 0, NULL, 0) == 0;
  if (z != stackbuf) loom_free(z);
  return m;
}

/* ---- time ---- */

static const ql_expr *unparen(const ql_expr *e) {
  while (e && e->kind == QL_EXPR_PAREN) e = e->u.paren;
  return e;
}

static bool is_time_ref(const ql_expr *e) {
  e = unparen(e);
  return e && e->kind == QL_EXPR_IDENT && !strcasecmp(e->u.ident.name, "time");
}

int qx_time_eval(const ql_expr *e, int64_t now_ns, int64_t *out, char *err, size_t errlen) {
  e = unparen(e);
  if (!e) goto bad;
  switch (e->kind) {
  case QL_EXPR_STRING:
    if (loom_time_parse_rfc3339(e->u.str, strlen(e->u.str), out)) {
      snprintf(err, errlen, "invalid operation: time and *influxql.StringLiteral are not compatible");
      return LOOM_EINVAL;
    }
    return 0;
  case QL_EXPR_NUMBER:
    *out = e->u.num.type == QL_NUM_INT ? e->u.num.i : (int64_t)e->u.num.f;
    return 0;
  case QL_EXPR_DURATION: *out = e->u.duration_ns; return 0;
  case QL_EXPR_CALL:
    if (!strcmp(e->u.call.name, "now") && e->u.call.n_args == 0) {
      *out = now_ns;
      return 0;
    }
    goto bad;
  case QL_EXPR_BINARY: {
    if (e->u.bin.op != QL_OP_ADD && e->u.bin.op != QL_OP_SUB) goto bad;
    int64_t a, b;
    int rc = qx_time_eval(e->u.bin.lhs, now_ns, &a, err, errlen);
    if (!rc) rc = qx_time_eval(e->u.bin.rhs, now_ns, &b, err, errlen);
    if (rc) return rc;
    *out = e->u.bin.op == QL_OP_ADD ? a + b : a - b;
    return 0;
  }
  default: break;
  }
bad:
  snprintf(err, errlen, "invalid time comparison");
  return LOOM_EINVAL;
}

static bool is_cmp(ql_op op) {
  return op == QL_OP_EQ || op == QL_OP_NEQ || op == QL_OP_LT || op == QL_OP_LTE ||
         op == QL_OP_GT || op == QL_OP_GTE || op == QL_OP_EQREGEX || op == QL_OP_NEQREGEX;
}

int qx_cond_time_range(const ql_expr *cond, int64_t now_ns, int64_t *tmin, int64_t *tmax,
                       char *err, size_t errlen) {
  const ql_expr *e = unparen(cond);
  if (!e || e->kind != QL_EXPR_BINARY) return 0;
  ql_op op = e->u.bin.op;
  if (op == QL_OP_AND || op == QL_OP_OR) {
    /* InfluxDB 1.6 intersects time conditions even under OR */
    int rc = qx_cond_time_range(e->u.bin.lhs, now_ns, tmin, tmax, err, errlen);
    return rc ? rc : qx_cond_time_range(e->u.bin.rhs, now_ns, tmin, tmax, err, errlen);
  }
  if (!is_cmp(op)) return 0;
  const ql_expr *val;
  if (is_time_ref(e->u.bin.lhs)) {
    val = e->u.bin.rhs;
  } else if (is_time_ref(e->u.bin.rhs)) {
    val = e->u.bin.lhs;
    switch (op) { /* flip */
    case QL_OP_LT: op = QL_OP_GT; break;
    case QL_OP_LTE: op = QL_OP_GTE; break;
    case QL_OP_GT: op = QL_OP_LT; break;
    case QL_OP_GTE: op = QL_OP_LTE; break;
    default: break;
    }
  } else {
    return 0;
  }
  int64_t t;
  int rc = qx_time_eval(val, now_ns, &t, err, errlen);
  if (rc) return rc;
  switch (op) {
  case QL_OP_GT: if (t + 1 > *tmin) *tmin = t + 1; break;
  case QL_OP_GTE: if (t > *tmin) *tmin = t; break;
  case QL_OP_LT: if (t - 1 < *tmax) *tmax = t - 1; break;
  case QL_OP_LTE: if (t < *tmax) *tmax = t; break;
  case QL_OP_EQ:
    if (t > *tmin) *tmin = t;
    if (t < *tmax) *tmax = t;
    break;
  default:
    snprintf(err, errlen, "invalid time comparison operator: %s", ql_op_str(op));
    return LOOM_EINVAL;
  }
  return 0;
}

/* ---- tags and fields ---- */

const char *qx_series_tag(const ts_series_info *s, const char *key) {
  uint32_t lo = 0, hi = s->n_tags;
  while (lo < hi) {
    uint32_t mid = (lo + hi) / 2;
    int c = strcmp(s->tags[mid].key, key);
    if (!c) return s->tags[mid].val;
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  return NULL;
}

const char *qx_series_tag_hint(const ts_series_info *s, const char *key, uint32_t *hint) {
  if (*hint < s->n_tags && !strcmp(s->tags[*hint].key, key)) return s->tags[*hint].val;
  const char *v = qx_series_tag(s, key);
  for (uint32_t i = 0; v && i < s->n_tags; i++)
    if (s->tags[i].val == v) *hint = i;
  return v;
}

int qx_field_index(const ts_measurement_info *m, const char *name) {
  for (uint32_t i = 0; i < m->n_fields; i++)
    if (!strcmp(m->fields[i].name, name)) return (int)i;
  return -1;
}

void qx_cond_fields(const ql_expr *cond, const ts_measurement_info *m, uint8_t *need) {
  const ql_expr *e = unparen(cond);
  if (!e) return;
  if (e->kind == QL_EXPR_IDENT) {
    if (e->u.ident.cast == QL_CAST_TAG) return;
    int fi = qx_field_index(m, e->u.ident.name);
    if (fi >= 0) need[fi] = 1;
  } else if (e->kind == QL_EXPR_BINARY) {
    qx_cond_fields(e->u.bin.lhs, m, need);
    qx_cond_fields(e->u.bin.rhs, m, need);
  } else if (e->kind == QL_EXPR_CALL) {
    for (size_t i = 0; i < e->u.call.n_args; i++) qx_cond_fields(e->u.call.args[i], m, need);
  }
}

/* Operand classification for one comparison. */
enum { OPK_TIME, OPK_TAG, OPK_FIELD, OPK_LIT, OPK_OTHER };

static int classify(const ql_expr *e, const ts_measurement_info *m) {
  e = unparen(e);
  switch (e->kind) {
  case QL_EXPR_IDENT:
    if (!strcasecmp(e->u.ident.name, "time")) return OPK_TIME;
    if (e->u.ident.cast == QL_CAST_TAG) return OPK_TAG;
    if (e->u.ident.cast != QL_CAST_NONE && e->u.ident.cast != QL_CAST_FIELD) return OPK_FIELD;
    return qx_field_index(m, e->u.ident.name) >= 0 ? OPK_FIELD : OPK_TAG;
  case QL_EXPR_STRING:
  case QL_EXPR_NUMBER:
  case QL_EXPR_BOOL:
  case QL_EXPR_REGEX:
  case QL_EXPR_DURATION: return OPK_LIT;
  case QL_EXPR_BINARY: {
    int a = classify(e->u.bin.lhs, m), b = classify(e->u.bin.rhs, m);
    if (a == OPK_FIELD || b == OPK_FIELD) return OPK_FIELD;
    return OPK_OTHER;
  }
  default: return OPK_OTHER;
  }
}

static size_t cls_slot(const qx_regex_cache *c, const ql_expr *e, const ts_measurement_info *m) {
  uint64_t h = ((uint64_t)(uintptr_t)e * 0x9E3779B97F4A7C15ull) ^ ((uint64_t)(uintptr_t)m >> 4);
  h ^= h >> 29;
  size_t i = (size_t)h & (c->cls_cap - 1);
  while (c->cls[i].e && (c->cls[i].e != e || c->cls[i].m != m)) i = (i + 1) & (c->cls_cap - 1);
  return i;
}

/* classify(e, m), remembered in c (computed anew when memory is short). */
static int classify_cached(const ql_expr *e, const ts_measurement_info *m, qx_regex_cache *c) {
  if (!c) return classify(e, m);
  if (c->cls_cap) {
    size_t i = cls_slot(c, e, m);
    if (c->cls[i].e) return c->cls[i].k;
  }
  int k = classify(e, m);
  if ((c->cls_n + 1) * 2 > c->cls_cap) {
    size_t nc = c->cls_cap ? c->cls_cap * 2 : 64;
    cls_entry *nt = loom_calloc(nc, sizeof *nt), *old = c->cls;
    if (!nt) return k;
    size_t oc = c->cls_cap;
    c->cls = nt, c->cls_cap = nc;
    for (size_t j = 0; j < oc; j++)
      if (old[j].e) c->cls[cls_slot(c, old[j].e, old[j].m)] = old[j];
    loom_free(old);
  }
  size_t i = cls_slot(c, e, m);
  c->cls[i] = (cls_entry){e, m, k};
  c->cls_n++;
  return k;
}

static bool contains_time(const ql_expr *e) {
  e = unparen(e);
  if (!e) return false;
  if (is_time_ref(e)) return true;
  if (e->kind == QL_EXPR_BINARY) return contains_time(e->u.bin.lhs) || contains_time(e->u.bin.rhs);
  return false;
}

/* A tag compared to a literal string or regex. */
static int tag_cmp(ql_op op, const char *tv, const ql_expr *lit, qx_regex_cache *rc, char *err,
                   size_t errlen) {
  if (!tv) tv = "";
  lit = unparen(lit);
  if (op == QL_OP_EQREGEX || op == QL_OP_NEQREGEX) {
    if (lit->kind != QL_EXPR_REGEX) return QX_FALSE;
    int m = qx_regex_match(rc, lit->u.str, tv, strlen(tv), err, errlen);
    if (m < 0) return m;
    return (op == QL_OP_EQREGEX) == (m == 1) ? QX_TRUE : QX_FALSE;
  }
  if (lit->kind != QL_EXPR_STRING) return QX_FALSE;
  int c = strcmp(tv, lit->u.str);
  switch (op) {
  case QL_OP_EQ: return c == 0;
  case QL_OP_NEQ: return c != 0;
  case QL_OP_LT: return c < 0;
  case QL_OP_LTE: return c <= 0;
  case QL_OP_GT: return c > 0;
  case QL_OP_GTE: return c >= 0;
  default: return QX_FALSE;
  }
}

static const ql_expr *strip_cast_name(const ql_expr *e) { return unparen(e); }

int qx_cond_series(const ql_expr *cond, const ts_measurement_info *m, const ts_series_info *s,
                   qx_regex_cache *rc, char *err, size_t errlen) {
  const ql_expr *e = unparen(cond);
  if (!e) return QX_TRUE;
  if (e->kind == QL_EXPR_BOOL) return e->u.boolean ? QX_TRUE : QX_FALSE;
  if (e->kind != QL_EXPR_BINARY) return QX_UNKNOWN;
  ql_op op = e->u.bin.op;
  if (op == QL_OP_AND || op == QL_OP_OR) {
    int a = qx_cond_series(e->u.bin.lhs, m, s, rc, err, errlen);
    if (a < 0) return a;
    if (op == QL_OP_AND && a == QX_FALSE) return QX_FALSE;
    if (op == QL_OP_OR && a == QX_TRUE) {
      /* a time condition is "true" here but must not satisfy an OR alone */
      if (!contains_time(e->u.bin.lhs)) return QX_TRUE;
    }
    int b = qx_cond_series(e->u.bin.rhs, m, s, rc, err, errlen);
    if (b < 0) return b;
    if (op == QL_OP_AND) {
      if (b == QX_FALSE) return QX_FALSE;
      return (a == QX_TRUE && b == QX_TRUE) ? QX_TRUE : QX_UNKNOWN;
    }
    if (a == QX_TRUE || b == QX_TRUE) return QX_TRUE;
    if (a == QX_FALSE && b == QX_FALSE) return QX_FALSE;
    return QX_UNKNOWN;
  }
  if (!is_cmp(op)) return QX_UNKNOWN;
  int kl = classify_cached(e->u.bin.lhs, m, rc), kr = classify_cached(e->u.bin.rhs, m, rc);
  if (kl == OPK_TIME || kr == OPK_TIME) return QX_TRUE;
  if (kl == OPK_FIELD || kr == OPK_FIELD) return QX_UNKNOWN;
  if (kl == OPK_TAG && kr == OPK_LIT)
    return tag_cmp(op, qx_series_tag(s, strip_cast_name(e->u.bin.lhs)->u.ident.name),
                   e->u.bin.rhs, rc, err, errlen);
  if (kr == OPK_TAG && kl == OPK_LIT)
    return tag_cmp(op, qx_series_tag(s, strip_cast_name(e->u.bin.rhs)->u.ident.name),
                   e->u.bin.lhs, rc, err, errlen);
  if (kl == OPK_TAG && kr == OPK_TAG) {
    const char *a = qx_series_tag(s, unparen(e->u.bin.lhs)->u.ident.name);
    const char *b = qx_series_tag(s, unparen(e->u.bin.rhs)->u.ident.name);
    int c = strcmp(a ? a : "", b ? b : "");
    if (op == QL_OP_EQ) return c == 0;
    if (op == QL_OP_NEQ) return c != 0;
    return QX_FALSE;
  }
  return QX_FALSE;
}

/* ---- row evaluation ---- */

/* Value of an operand in a row: field value, tag (string) or literal. */
static int row_operand(const ql_expr *e, const qx_row *row, qx_val *out) {
  e = unparen(e);
  memset(out, 0, sizeof *out);
  switch (e->kind) {
  case QL_EXPR_IDENT: {
    int fi = e->u.ident.cast == QL_CAST_TAG ? -1 : qx_field_index(row->m, e->u.ident.name);
    if (fi >= 0) {
      *out = row->vals[fi];
      return 0;
    }
    const char *tv = qx_series_tag(row->s, e->u.ident.name);
    out->type = TS_STRING;
    out->v.s.p = tv ? tv : "";
    out->v.s.len = (uint32_t)strlen(out->v.s.p);
    return 0;
  }
  case QL_EXPR_NUMBER:
    if (e->u.num.type == QL_NUM_INT) out->type = TS_INT, out->v.i = e->u.num.i;
    else if (e->u.num.type == QL_NUM_UNSIGNED) out->type = TS_UINT, out->v.u = e->u.num.u;
    else out->type = TS_FLOAT, out->v.f = e->u.num.f;
    return 0;
  case QL_EXPR_STRING:
    out->type = TS_STRING;
    out->v.s.p = e->u.str;
    out->v.s.len = (uint32_t)strlen(e->u.str);
    return 0;
  case QL_EXPR_BOOL: out->type = TS_BOOL, out->v.b = (uint8_t)e->u.boolean; return 0;
  case QL_EXPR_BINARY: {
    qx_val a, b;
    row_operand(e->u.bin.lhs, row, &a);
    row_operand(e->u.bin.rhs, row, &b);
    if (!a.type || !b.type) return 0;
    bool fa = a.type == TS_FLOAT, fb = b.type == TS_FLOAT;
    bool ia = a.type == TS_INT || a.type == TS_UINT, ib = b.type == TS_INT || b.type == TS_UINT;
    if (!(fa || ia) || !(fb || ib)) return 0;
    if (ia && ib && e->u.bin.op != QL_OP_DIV) {
      int64_t x = a.v.i, y = b.v.i, r = 0;
      switch (e->u.bin.op) {
      case QL_OP_ADD: r = (int64_t)((uint64_t)x + (uint64_t)y); break;
      case QL_OP_SUB: r = (int64_t)((uint64_t)x - (uint64_t)y); break;
      case QL_OP_MUL: r = (int64_t)((uint64_t)x * (uint64_t)y); break;
      case QL_OP_MOD: r = y ? x % y : 0; break;
      default: return 0;
      }
      out->type = TS_INT, out->v.i = r;
      return 0;
    }
    double x = fa ? a.v.f : (double)a.v.i, y = fb ? b.v.f : (double)b.v.i, r;
    switch (e->u.bin.op) {
    case QL_OP_ADD: r = x + y; break;
    case QL_OP_SUB: r = x - y; break;
    case QL_OP_MUL: r = x * y; break;
    case QL_OP_DIV: r = y == 0 ? 0 : x / y; break;
    default: return 0;
    }
    out->type = TS_FLOAT, out->v.f = r;
    return 0;
  }
  default: return 0;
  }
}

static double num_of(const qx_val *v) {
  return v->type == TS_FLOAT ? v->v.f : v->type == TS_UINT ? (double)v->v.u : (double)v->v.i;
}

int qx_cond_row(const ql_expr *cond, const qx_row *row, qx_regex_cache *rc, char *err,
                size_t errlen) {
  const ql_expr *e = unparen(cond);
  if (!e) return 1;
  if (e->kind == QL_EXPR_BOOL) return e->u.boolean;
  if (e->kind != QL_EXPR_BINARY) return 0;
  ql_op op = e->u.bin.op;
  if (op == QL_OP_AND || op == QL_OP_OR) {
    int a = qx_cond_row(e->u.bin.lhs, row, rc, err, errlen);
    if (a < 0) return a;
    if (op == QL_OP_AND && !a) return 0;
    if (op == QL_OP_OR && a && !contains_time(e->u.bin.lhs)) return 1;
    int b = qx_cond_row(e->u.bin.rhs, row, rc, err, errlen);
    if (b < 0) return b;
    return op == QL_OP_AND ? b : (a || b);
  }
  if (!is_cmp(op)) return 0;
  if (contains_time(e->u.bin.lhs) || contains_time(e->u.bin.rhs)) return 1;
  qx_val a, b;
  const ql_expr *rl = unparen(e->u.bin.rhs), *ll = unparen(e->u.bin.lhs);
  if (op == QL_OP_EQREGEX || op == QL_OP_NEQREGEX) {
    const ql_expr *re = rl->kind == QL_EXPR_REGEX ? rl : ll->kind == QL_EXPR_REGEX ? ll : NULL;
    if (!re) return 0;
    row_operand(re == rl ? ll : rl, row, &a);
    if (a.type != TS_STRING) return 0;
    int m = qx_regex_match(rc, re->u.str, a.v.s.p, a.v.s.len, err, errlen);
    if (m < 0) return m;
    return (op == QL_OP_EQREGEX) == (m == 1);
  }
  row_operand(ll, row, &a);
  row_operand(rl, row, &b);
  if (!a.type || !b.type) return 0;
  int c;
  if (a.type == TS_STRING || b.type == TS_STRING) {
    if (a.type != b.type) return 0;
    uint32_t n = a.v.s.len < b.v.s.len ? a.v.s.len : b.v.s.len;
    c = memcmp(a.v.s.p, b.v.s.p, n);
    if (!c) c = a.v.s.len < b.v.s.len ? -1 : a.v.s.len > b.v.s.len;
  } else if (a.type == TS_BOOL || b.type == TS_BOOL) {
    if (a.type != b.type) return 0;
    if (op != QL_OP_EQ && op != QL_OP_NEQ) return 0;
    c = (int)a.v.b - (int)b.v.b;
  } else if (a.type == TS_INT && b.type == TS_INT) {
    c = a.v.i < b.v.i ? -1 : a.v.i > b.v.i;
  } else {
    double x = num_of(&a), y = num_of(&b);
    c = x < y ? -1 : x > y;
  }
  switch (op) {
  case QL_OP_EQ: return c == 0;
  case QL_OP_NEQ: return c != 0;
  case QL_OP_LT: return c < 0;
  case QL_OP_LTE: return c <= 0;
  case QL_OP_GT: return c > 0;
  case QL_OP_GTE: return c >= 0;
  default: return 0;
  }
}

/* ---- prefilter (see qx_pref in exec_int.h) ---- */

static ql_op flip_op(ql_op op) {
  switch (op) {
  case QL_OP_LT: return QL_OP_GT;
  case QL_OP_LTE: return QL_OP_GTE;
  case QL_OP_GT: return QL_OP_LT;
  case QL_OP_GTE: return QL_OP_LTE;
  default: return op;
  }
}

/* A numeric field of m named by e (not a tag cast), or -1. */
static int num_field(const ql_expr *e, const ts_measurement_info *m) {
  e = unparen(e);
  if (e->kind != QL_EXPR_IDENT || e->u.ident.cast == QL_CAST_TAG) return -1;
  if (is_time_ref(e)) return -1;
  int fi = qx_field_index(m, e->u.ident.name);
  if (fi < 0) return -1;
  ts_type t = m->fields[fi].type;
  return t == TS_FLOAT || t == TS_INT || t == TS_UINT ? fi : -1;
}

static bool find_pref(const ql_expr *e, const ts_measurement_info *m, qx_pref *out) {
  e = unparen(e);
  if (!e || e->kind != QL_EXPR_BINARY) return false;
  ql_op op = e->u.bin.op;
  if (op == QL_OP_AND) return find_pref(e->u.bin.lhs, m, out) || find_pref(e->u.bin.rhs, m, out);
  if (op != QL_OP_EQ && op != QL_OP_NEQ && op != QL_OP_LT && op != QL_OP_LTE && op != QL_OP_GT &&
      op != QL_OP_GTE)
    return false;
  const ql_expr *l = unparen(e->u.bin.lhs), *r = unparen(e->u.bin.rhs);
  int fi = num_field(l, m);
  const ql_expr *lit = r;
  if (fi < 0) {
    fi = num_field(r, m);
    lit = l;
    op = flip_op(op);
  }
  if (fi < 0 || lit->kind != QL_EXPR_NUMBER) return false;
  out->fidx = fi;
  out->op = op;
  memset(&out->lit, 0, sizeof out->lit);
  if (lit->u.num.type == QL_NUM_INT) out->lit.type = TS_INT, out->lit.v.i = lit->u.num.i;
  else if (lit->u.num.type == QL_NUM_UNSIGNED) out->lit.type = TS_UINT, out->lit.v.u = lit->u.num.u;
  else out->lit.type = TS_FLOAT, out->lit.v.f = lit->u.num.f;
  return true;
}

void qx_cond_prefilter(const ql_expr *cond, const ts_measurement_info *m, qx_pref *out) {
  out->fidx = -1;
  if (!find_pref(cond, m, out)) out->fidx = -1;
}

static bool cmp_ok(ql_op op, int c) {
  switch (op) {
  case QL_OP_EQ: return c == 0;
  case QL_OP_NEQ: return c != 0;
  case QL_OP_LT: return c < 0;
  case QL_OP_LTE: return c <= 0;
  case QL_OP_GT: return c > 0;
  case QL_OP_GTE: return c >= 0;
  default: return false;
  }
}

/* qx_cond_row's comparison of a column value (type t) with the literal. */
static int pref_cmp(const qx_pref *pf, ts_type t, ts_value v) {
  if (t == TS_INT && pf->lit.type == TS_INT) return v.i < pf->lit.v.i ? -1 : v.i > pf->lit.v.i;
  qx_val a = {.type = (int)t, .v = v};
  double x = num_of(&a), y = num_of(&pf->lit);
  return x < y ? -1 : x > y;
}

bool qx_pref_pass(const qx_pref *pf, ts_type t, ts_value v) {
  if (t != TS_FLOAT && t != TS_INT && t != TS_UINT) return true; /* the row decides */
  return cmp_ok(pf->op, pref_cmp(pf, t, v));
}

bool qx_pref_block_may(const qx_pref *pf, ts_type t, const ts_block_stats *st) {
  if (t != TS_FLOAT && t != TS_INT && t != TS_UINT) return true;
  if (t == TS_FLOAT && (isnan(st->min.f) || isnan(st->max.f))) return true;
  /* the comparison is monotonic in the value: passing values form an
   * interval (its complement for !=), so [min, max] decides */
  int cmin = pref_cmp(pf, t, st->min), cmax = pref_cmp(pf, t, st->max);
  switch (pf->op) {
  case QL_OP_LT: return cmin < 0;
  case QL_OP_LTE: return cmin <= 0;
  case QL_OP_GT: return cmax > 0;
  case QL_OP_GTE: return cmax >= 0;
  case QL_OP_EQ: return cmin <= 0 && cmax >= 0;
  case QL_OP_NEQ: return !(cmin == 0 && cmax == 0);
  default: return true;
  }
}
