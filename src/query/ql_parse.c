/* SPDX-License-Identifier: Apache-2.0
 * InfluxQL parser (see ql_parse.h). Recursive descent over ql_lex tokens with
 * a three-token unscan ring, the same shape as InfluxDB's parser: its error
 * messages and positions depend on exactly when tokens are scanned, unscanned
 * and when whitespace is or is not skipped, so each function below follows the
 * corresponding InfluxDB function step by step. Other statements are in
 * ql_stmt.c, printing and column names in ql_format.c.
 */
#include "query/ql_parse.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/mem.h"
#include "query/ql_parse_int.h"

/* ---- errors ------------------------------------------------------------ */

int qlp_fail_oom(parser *p) {
  if (!p->rc) {
    p->rc = LOOM_ENOMEM;
    if (p->errlen) snprintf(p->err, p->errlen, "out of memory");
  }
  return p->rc;
}

__attribute__((format(printf, 5, 0))) static int failv(parser *p, int code, const char *prefix,
                                                       const ql_pos *pos, const char *fmt,
                                                       va_list ap) {
  if (p->rc) return p->rc;
  p->rc = code;
  if (!p->errlen) return code;
  size_t n = (size_t)snprintf(p->err, p->errlen, "%s", prefix);
  if (n < p->errlen) n += (size_t)vsnprintf(p->err + n, p->errlen - n, fmt, ap);
  if (pos && n < p->errlen)
    snprintf(p->err + n, p->errlen - n, " at line %d, char %d", pos->line + 1, pos->ch + 1);
  return code;
}

/* InfluxDB's ParseError{Message, Pos}. */
__attribute__((format(printf, 3, 4))) int qlp_fail_at(parser *p, ql_pos pos, const char *fmt,
                                                         ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = failv(p, LOOM_EINVAL, ERR_PREFIX, &pos, fmt, ap);
  va_end(ap);
  return rc;
}

/* A plain Go error (no position). */
__attribute__((format(printf, 2, 3))) int qlp_fail_msg(parser *p, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = failv(p, LOOM_EINVAL, ERR_PREFIX, NULL, fmt, ap);
  va_end(ap);
  return rc;
}

static const char *tokstr(ql_tok t, const char *lit) { return lit && *lit ? lit : ql_tok_str(t); }

/* InfluxDB's newParseError(found, expected, pos). */
int qlp_fail_expected(parser *p, ql_tok t, const char *lit, ql_pos pos, const char *expected) {
  return qlp_fail_at(p, pos, "found %s, expected %s", tokstr(t, lit), expected);
}

int qlp_fail_unsup(parser *p, const char *what) {
  if (p->rc) return p->rc;
  p->rc = LOOM_EUNSUP;
  if (p->errlen) snprintf(p->err, p->errlen, "%s is not supported", what);
  return p->rc;
}

/* ---- token stream ------------------------------------------------------ */

static ql_tok scan_with(parser *p, int regex, ql_pos *pos, const char **lit) {
  if (p->rn > 0) {
    p->rn--;
  } else {
    p->ri = (p->ri + 1) % 3;
    tokent *t = &p->ring[p->ri];
    t->tok = regex ? ql_lex_scan_regex(&p->lx, &t->pos, &t->lit)
                   : ql_lex_scan(&p->lx, &t->pos, &t->lit);
    if (p->lx.oom) qlp_fail_oom(p);
  }
  tokent *t = &p->ring[(p->ri - p->rn + 3) % 3];
  if (pos) *pos = t->pos;
  if (lit) *lit = t->lit;
  return t->tok;
}

ql_tok qlp_scan(parser *p, ql_pos *pos, const char **lit) { return scan_with(p, 0, pos, lit); }

ql_tok qlp_scan_ws(parser *p, ql_pos *pos, const char **lit) {
  for (;;) {
    ql_tok t = qlp_scan(p, pos, lit);
    if (t != QL_TOK_WS && t != QL_TOK_COMMENT) return t;
  }
}

void qlp_unscan(parser *p) {
  if (p->rn < 3) p->rn++;
}

static void consume_ws(parser *p) {
  if (qlp_scan(p, NULL, NULL) != QL_TOK_WS) qlp_unscan(p);
}

bool qlp_accept(parser *p, ql_tok want) {
  if (qlp_scan_ws(p, NULL, NULL) == want) return true;
  qlp_unscan(p);
  return false;
}

/* InfluxDB's parseTokens for one token. */
int qlp_expect_tok(parser *p, ql_tok want) {
  ql_pos pos;
  const char *lit;
  ql_tok t = qlp_scan_ws(p, &pos, &lit);
  if (t != want) return qlp_fail_expected(p, t, lit, pos, ql_tok_str(want));
  return p->rc;
}

/* Scan the next non-blank token; keep it when it is `want`, else put it back. */
int qlp_accept_tok(parser *p, ql_tok want) {
  if (qlp_scan_ws(p, NULL, NULL) == want) return 1;
  qlp_unscan(p);
  return 0;
}

/* ---- allocation helpers ------------------------------------------------ */

void *qlp_palloc(parser *p, size_t n) {
  void *m = ql_arena_alloc(p->arena, n);
  if (!m) qlp_fail_oom(p);
  return m;
}

ql_expr *qlp_new_expr(parser *p, ql_expr_kind kind) {
  ql_expr *e = qlp_palloc(p, sizeof(*e));
  if (e) e->kind = kind;
  return e;
}

/* Append one element of size esz to an arena array (doubling). */
void *qlp_vec_push(parser *p, void **arr, size_t *n, size_t *cap, size_t esz) {
  if (*n == *cap) {
    size_t ncap = *cap ? *cap * 2 : 4;
    void *na = qlp_palloc(p, ncap * esz);
    if (!na) return NULL;
    if (*n) memcpy(na, *arr, *n * esz);
    *arr = na;
    *cap = ncap;
  }
  void *slot = (char *)*arr + *n * esz;
  (*n)++;
  return slot;
}

static char *lower_dup(parser *p, const char *s) {
  size_t n = strlen(s);
  char *d = ql_arena_strndup(p->arena, s, n);
  if (!d) {
    qlp_fail_oom(p);
    return NULL;
  }
  for (size_t i = 0; i < n; i++)
    if (d[i] >= 'A' && d[i] <= 'Z') d[i] = (char)(d[i] - 'A' + 'a');
  return d;
}

static int ascii_ieq(const char *a, const char *b) {
  for (; *a && *b; a++, b++) {
    char x = *a, y = *b;
    if (x >= 'A' && x <= 'Z') x = (char)(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = (char)(y - 'A' + 'a');
    if (x != y) return 0;
  }
  return *a == *b;
}

/* ---- identifiers ------------------------------------------------------- */

int qlp_ident(parser *p, const char **out) {
  ql_pos pos;
  const char *lit;
  ql_tok t = qlp_scan_ws(p, &pos, &lit);
  if (p->rc) return p->rc;
  if (t != QL_TOK_IDENT) return qlp_fail_expected(p, t, lit, pos, "identifier");
  *out = lit;
  return 0;
}

int qlp_ident_list(parser *p, const char ***out, size_t *n) {
  size_t cap = 0;
  const char *id;
  *n = 0;
  *out = NULL;
  if (qlp_ident(p, &id)) return p->rc;
  for (;;) {
    const char **slot = qlp_vec_push(p, (void **)out, n, &cap, sizeof(**out));
    if (!slot) return p->rc;
    *slot = id;
    if (!qlp_accept(p, QL_TOK_COMMA)) return p->rc;
    if (qlp_ident(p, &id)) return p->rc;
  }
}

typedef struct segs {
  const char **s;
  size_t n, cap;
} segs;

static int segs_push(parser *p, segs *sg, const char *id) {
  const char **slot = qlp_vec_push(p, (void **)&sg->s, &sg->n, &sg->cap, sizeof(*slot));
  if (!slot) return p->rc;
  *slot = id;
  return 0;
}

/* db.rp.measurement style identifiers (1 to 3 segments). */
static int parse_segmented_idents(parser *p, segs *sg) {
  const char *id;
  memset(sg, 0, sizeof(*sg));
  if (qlp_ident(p, &id) || segs_push(p, sg, id)) return p->rc;
  for (;;) {
    if (qlp_scan(p, NULL, NULL) != QL_TOK_DOT) {
      qlp_unscan(p);
      break;
    }
    int32_t ch = ql_lex_peek_rune(&p->lx);
    if (ch == '/' || ch == ':') break;
    if (ch == '.') {
      id = "";
    } else if (qlp_ident(p, &id)) {
      return p->rc;
    }
    if (segs_push(p, sg, id)) return p->rc;
  }
  if (sg->n > 3) {
    /* InfluxDB: ParseError{Message: "too many segments in ..."} (zero Pos). */
    loom_buf b;
    loom_buf_init(&b);
    if (qlp_quote_ident_segs(&b, sg->s, sg->n) || loom_buf_cstr(&b)) {
      loom_buf_deinit(&b);
      return qlp_fail_oom(p);
    }
    ql_pos zero = {0, 0};
    qlp_fail_at(p, zero, "too many segments in %s", (const char *)b.data);
    loom_buf_deinit(&b);
  }
  return p->rc;
}

static const char *join_segs(parser *p, const segs *sg) {
  size_t len = 0;
  for (size_t i = 0; i < sg->n; i++) len += strlen(sg->s[i]) + 1;
  char *d = qlp_palloc(p, len + 1);
  if (!d) return NULL;
  char *w = d;
  for (size_t i = 0; i < sg->n; i++) {
    if (i) *w++ = '.';
    size_t l = strlen(sg->s[i]);
    memcpy(w, sg->s[i], l);
    w += l;
  }
  *w = '\0';
  return d;
}

int qlp_string(parser *p, const char **out) {
  ql_pos pos;
  const char *lit;
  ql_tok t = qlp_scan_ws(p, &pos, &lit);
  if (p->rc) return p->rc;
  if (t != QL_TOK_STRING) return qlp_fail_expected(p, t, lit, pos, "string");
  *out = lit;
  return 0;
}

/* InfluxDB's ParseInt(min, max). */
int qlp_int(parser *p, long long min, long long max, int *out) {
  ql_pos pos;
  const char *lit;
  ql_tok t = qlp_scan_ws(p, &pos, &lit);
  if (p->rc) return p->rc;
  if (t != QL_TOK_INTEGER) return qlp_fail_expected(p, t, lit, pos, "integer");
  errno = 0;
  long long v = strtoll(lit, NULL, 10);
  if (errno == ERANGE)
    return qlp_fail_at(p, pos, "strconv.Atoi: parsing \"%s\": value out of range", lit);
  if (v < min || v > max)
    return qlp_fail_at(p, pos, "invalid value %lld: must be %lld <= n <= %lld", v, min, max);
  *out = (int)v;
  return 0;
}

/* InfluxDB's ParseDuration method (after DURATION etc.): DURATIONVAL or INF. */
int qlp_duration_tok(parser *p, int64_t *out) {
  ql_pos pos;
  const char *lit;
  char msg[128];
  ql_tok t = qlp_scan_ws(p, &pos, &lit);
  if (p->rc) return p->rc;
  if (t != QL_TOK_DURATIONVAL && t != QL_TOK_INF)
    return qlp_fail_expected(p, t, lit, pos, "duration");
  if (t == QL_TOK_INF) {
    *out = 0;
    return 0;
  }
  if (ql_duration_parse(lit, out, msg, sizeof(msg))) return qlp_fail_at(p, pos, "%s", msg);
  return 0;
}

/* ---- expressions ------------------------------------------------------- */

static int parse_expr(parser *p, ql_expr **out);
int qlp_select(parser *p, target_req tr, ql_select **out);

ql_op qlp_tok_to_op(ql_tok t) {
  switch (t) {
  case QL_TOK_ADD: return QL_OP_ADD;
  case QL_TOK_SUB: return QL_OP_SUB;
  case QL_TOK_MUL: return QL_OP_MUL;
  case QL_TOK_DIV: return QL_OP_DIV;
  case QL_TOK_MOD: return QL_OP_MOD;
  case QL_TOK_BITAND: return QL_OP_BITAND;
  case QL_TOK_BITOR: return QL_OP_BITOR;
  case QL_TOK_BITXOR: return QL_OP_BITXOR;
  case QL_TOK_AND: return QL_OP_AND;
  case QL_TOK_OR: return QL_OP_OR;
  case QL_TOK_EQ: return QL_OP_EQ;
  case QL_TOK_NEQ: return QL_OP_NEQ;
  case QL_TOK_EQREGEX: return QL_OP_EQREGEX;
  case QL_TOK_NEQREGEX: return QL_OP_NEQREGEX;
  case QL_TOK_LT: return QL_OP_LT;
  case QL_TOK_LTE: return QL_OP_LTE;
  case QL_TOK_GT: return QL_OP_GT;
  default: return QL_OP_GTE;
  }
}

static const ql_tok op_tok[] = {
    [QL_OP_ADD] = QL_TOK_ADD,       [QL_OP_SUB] = QL_TOK_SUB,
    [QL_OP_MUL] = QL_TOK_MUL,       [QL_OP_DIV] = QL_TOK_DIV,
    [QL_OP_MOD] = QL_TOK_MOD,       [QL_OP_BITAND] = QL_TOK_BITAND,
    [QL_OP_BITOR] = QL_TOK_BITOR,   [QL_OP_BITXOR] = QL_TOK_BITXOR,
    [QL_OP_AND] = QL_TOK_AND,       [QL_OP_OR] = QL_TOK_OR,
    [QL_OP_EQ] = QL_TOK_EQ,         [QL_OP_NEQ] = QL_TOK_NEQ,
    [QL_OP_EQREGEX] = QL_TOK_EQREGEX, [QL_OP_NEQREGEX] = QL_TOK_NEQREGEX,
    [QL_OP_LT] = QL_TOK_LT,         [QL_OP_LTE] = QL_TOK_LTE,
    [QL_OP_GT] = QL_TOK_GT,         [QL_OP_GTE] = QL_TOK_GTE,
};

const char *ql_op_str(ql_op op) {
  if ((int)op < QL_OP_ADD || op > QL_OP_GTE) return "";
  return ql_tok_str(op_tok[op]);
}

static int op_prec(ql_op op) { return ql_tok_precedence(op_tok[op]); }

/* InfluxDB's parseRegex: NULL in *out (and 0) when the next rune is not '/'. */
int qlp_regex(parser *p, ql_expr **out) {
  *out = NULL;
  int32_t next = ql_lex_peek_rune(&p->lx);
  if (next == ' ' || next == '\t' || next == '\n') consume_ws(p);
  next = ql_lex_peek_rune(&p->lx);
  if (next == '$') {
    /* A bound parameter could stand for a regex; Loom has no parameters. */
    qlp_scan(p, NULL, NULL);
    qlp_unscan(p);
    return p->rc;
  }
  if (next != '/') return p->rc;
  ql_pos pos;
  const char *lit;
  ql_tok t = scan_with(p, 1, &pos, &lit);
  if (p->rc) return p->rc;
  if (t == QL_TOK_BADESCAPE) return qlp_fail_at(p, pos, "bad escape: %s", lit);
  if (t == QL_TOK_BADREGEX) return qlp_fail_at(p, pos, "bad regex: %s", lit);
  if (t != QL_TOK_REGEX) return qlp_fail_expected(p, t, lit, pos, "regex");
  char msg[256];
  if (ql_regex_check(lit, msg, sizeof(msg))) return qlp_fail_at(p, pos, "%s", msg);
  ql_expr *e = qlp_new_expr(p, QL_EXPR_REGEX);
  if (!e) return p->rc;
  e->u.str = lit;
  *out = e;
  return 0;
}

/* Arguments after "name(" up to the closing parenthesis. */
static int parse_call(parser *p, const char *name, ql_expr **out) {
  ql_expr *e = qlp_new_expr(p, QL_EXPR_CALL);
  if (!e) return p->rc;
  e->u.call.name = lower_dup(p, name);
  if (!e->u.call.name) return p->rc;
  size_t cap = 0;
  ql_expr *arg;
  ql_expr **slot;
  if (qlp_regex(p, &arg)) return p->rc;
  if (!arg) {
    if (qlp_scan(p, NULL, NULL) == QL_TOK_RPAREN) {
      *out = e;
      return p->rc;
    }
    qlp_unscan(p);
    if (parse_expr(p, &arg)) return p->rc;
  }
  slot = qlp_vec_push(p, (void **)&e->u.call.args, &e->u.call.n_args, &cap, sizeof(*slot));
  if (!slot) return p->rc;
  *slot = arg;
  for (;;) {
    if (qlp_scan_ws(p, NULL, NULL) != QL_TOK_COMMA) {
      qlp_unscan(p);
      break;
    }
    if (qlp_regex(p, &arg)) return p->rc;
    if (!arg && parse_expr(p, &arg)) return p->rc;
    slot = qlp_vec_push(p, (void **)&e->u.call.args, &e->u.call.n_args, &cap, sizeof(*slot));
    if (!slot) return p->rc;
    *slot = arg;
  }
  ql_pos pos;
  const char *lit;
  ql_tok t = qlp_scan(p, &pos, &lit);
  if (p->rc) return p->rc;
  if (t != QL_TOK_RPAREN) return qlp_fail_expected(p, t, lit, pos, ")");
  *out = e;
  return 0;
}

static int parse_varref(parser *p, ql_expr **out) {
  segs sg;
  if (parse_segmented_idents(p, &sg)) return p->rc;
  ql_cast cast = QL_CAST_NONE;
  if (qlp_scan(p, NULL, NULL) == QL_TOK_DOUBLECOLON) {
    ql_pos pos;
    const char *lit;
    ql_tok t = qlp_scan(p, &pos, &lit);
    if (p->rc) return p->rc;
    if (t == QL_TOK_IDENT) {
      if (ascii_ieq(lit, "float")) cast = QL_CAST_FLOAT;
      else if (ascii_ieq(lit, "integer")) cast = QL_CAST_INTEGER;
      else if (ascii_ieq(lit, "unsigned")) cast = QL_CAST_UNSIGNED;
      else if (ascii_ieq(lit, "string")) cast = QL_CAST_STRING;
      else if (ascii_ieq(lit, "boolean")) cast = QL_CAST_BOOLEAN;
      else
        return qlp_fail_expected(p, t, lit, pos,
                             "float, integer, unsigned, string, boolean, field, tag");
    } else if (t == QL_TOK_FIELD) {
      cast = QL_CAST_FIELD;
    } else if (t == QL_TOK_TAG) {
      cast = QL_CAST_TAG;
    } else {
      return qlp_fail_expected(p, t, lit, pos, "float, integer, string, boolean, field, tag");
    }
  } else {
    qlp_unscan(p);
  }
  ql_expr *e = qlp_new_expr(p, QL_EXPR_IDENT);
  if (!e) return p->rc;
  e->u.ident.name = join_segs(p, &sg);
  e->u.ident.cast = cast;
  if (!e->u.ident.name) return p->rc;
  *out = e;
  return p->rc;
}

static int parse_number_lit(parser *p, ql_tok t, const char *lit, ql_pos pos, ql_expr **out) {
  ql_expr *e = qlp_new_expr(p, QL_EXPR_NUMBER);
  if (!e) return p->rc;
  if (t == QL_TOK_NUMBER) {
    double v = strtod(lit, NULL);
    if (isinf(v)) return qlp_fail_at(p, pos, "unable to parse number");
    e->u.num.type = QL_NUM_FLOAT;
    e->u.num.f = v;
    e->u.num.i = (v >= -9.2e18 && v <= 9.2e18) ? (int64_t)v : 0;
  } else {
    errno = 0;
    long long v = strtoll(lit, NULL, 10);
    if (errno == ERANGE) {
      errno = 0;
      unsigned long long u = strtoull(lit, NULL, 10);
      if (errno == ERANGE) return qlp_fail_at(p, pos, "unable to parse integer");
      e->u.num.type = QL_NUM_UNSIGNED;
      e->u.num.u = u;
      e->u.num.f = (double)u;
    } else {
      e->u.num.type = QL_NUM_INT;
      e->u.num.i = v;
      e->u.num.f = (double)v;
    }
  }
  *out = e;
  return 0;
}

static ql_expr *int_lit(parser *p, int64_t v) {
  ql_expr *e = qlp_new_expr(p, QL_EXPR_NUMBER);
  if (e) {
    e->u.num.type = QL_NUM_INT;
    e->u.num.i = v;
    e->u.num.f = (double)v;
  }
  return e;
}

static int parse_unary_inner(parser *p, ql_expr **out);

static int enter(parser *p) {
  if (++p->depth > MAX_DEPTH) return qlp_fail_msg(p, "expression nests too deeply");
  return 0;
}

static int parse_unary(parser *p, ql_expr **out) {
  int rc = enter(p) ? p->rc : parse_unary_inner(p, out);
  p->depth--;
  return rc;
}

static int parse_unary_inner(parser *p, ql_expr **out) {
  ql_pos pos;
  const char *lit;
  ql_tok t = qlp_scan_ws(p, &pos, &lit);
  if (p->rc) return p->rc;
  if (t == QL_TOK_LPAREN) {
    ql_expr *inner;
    if (parse_expr(p, &inner)) return p->rc;
    t = qlp_scan_ws(p, &pos, &lit);
    if (p->rc) return p->rc;
    if (t != QL_TOK_RPAREN) return qlp_fail_expected(p, t, lit, pos, ")");
    ql_expr *e = qlp_new_expr(p, QL_EXPR_PAREN);
    if (!e) return p->rc;
    e->u.paren = inner;
    *out = e;
    return 0;
  }
  qlp_unscan(p);

  t = qlp_scan_ws(p, &pos, &lit);
  if (p->rc) return p->rc;
  switch (t) {
  case QL_TOK_IDENT:
    if (qlp_scan(p, NULL, NULL) == QL_TOK_LPAREN) return parse_call(p, lit, out);
    qlp_unscan(p);
    qlp_unscan(p);
    return parse_varref(p, out);
  case QL_TOK_DISTINCT: {
    ql_pos pos0;
    const char *lit0;
    ql_tok t0 = qlp_scan(p, &pos0, &lit0);
    if (t0 == QL_TOK_LPAREN) return parse_call(p, "distinct", out);
    if (t0 == QL_TOK_WS) {
      ql_pos pos1;
      const char *lit1;
      ql_tok t1 = qlp_scan_ws(p, &pos1, &lit1);
      if (p->rc) return p->rc;
      if (t1 != QL_TOK_IDENT) return qlp_fail_expected(p, t1, lit1, pos1, "identifier");
      ql_expr *e = qlp_new_expr(p, QL_EXPR_DISTINCT);
      if (!e) return p->rc;
      e->u.str = lit1;
      *out = e;
      return 0;
    }
    return qlp_fail_expected(p, t0, lit0, pos0, "(, identifier");
  }
  case QL_TOK_STRING: {
    ql_expr *e = qlp_new_expr(p, QL_EXPR_STRING);
    if (!e) return p->rc;
    e->u.str = lit;
    *out = e;
    return 0;
  }
  case QL_TOK_NUMBER:
  case QL_TOK_INTEGER: return parse_number_lit(p, t, lit, pos, out);
  case QL_TOK_TRUE:
  case QL_TOK_FALSE: {
    ql_expr *e = qlp_new_expr(p, QL_EXPR_BOOL);
    if (!e) return p->rc;
    e->u.boolean = t == QL_TOK_TRUE;
    *out = e;
    return 0;
  }
  case QL_TOK_DURATIONVAL: {
    char msg[128];
    int64_t d;
    if (ql_duration_parse(lit, &d, msg, sizeof(msg))) return qlp_fail_msg(p, "%s", msg);
    ql_expr *e = qlp_new_expr(p, QL_EXPR_DURATION);
    if (!e) return p->rc;
    e->u.duration_ns = d;
    *out = e;
    return 0;
  }
  case QL_TOK_MUL: {
    ql_expr *e = qlp_new_expr(p, QL_EXPR_WILDCARD);
    if (!e) return p->rc;
    if (qlp_scan(p, NULL, NULL) == QL_TOK_DOUBLECOLON) {
      ql_pos pos0;
      const char *lit0;
      ql_tok t0 = qlp_scan(p, &pos0, &lit0);
      if (t0 == QL_TOK_FIELD) e->u.wildcard = QL_CAST_FIELD;
      else if (t0 == QL_TOK_TAG) e->u.wildcard = QL_CAST_TAG;
      else return qlp_fail_expected(p, t0, lit0, pos0, "field, tag");
    } else {
      qlp_unscan(p);
    }
    *out = e;
    return p->rc;
  }
  case QL_TOK_BOUNDPARAM:
    if (!lit[0] || !lit[1]) return qlp_fail_msg(p, "empty bound parameter");
    return qlp_fail_msg(p, "missing parameter: %s", lit + 1);
  case QL_TOK_ADD:
  case QL_TOK_SUB: {
    int neg = t == QL_TOK_SUB;
    ql_pos pos0;
    const char *lit0;
    ql_tok t0 = qlp_scan_ws(p, &pos0, &lit0);
    if (p->rc) return p->rc;
    switch (t0) {
    case QL_TOK_NUMBER:
    case QL_TOK_INTEGER:
    case QL_TOK_DURATIONVAL:
    case QL_TOK_LPAREN:
    case QL_TOK_IDENT: {
      qlp_unscan(p);
      ql_expr *e;
      if (parse_unary(p, &e)) return p->rc;
      if (e->kind == QL_EXPR_NUMBER) {
        if (e->u.num.type == QL_NUM_FLOAT) {
          if (neg) e->u.num.f = -e->u.num.f;
          e->u.num.i = (e->u.num.f >= -9.2e18 && e->u.num.f <= 9.2e18) ? (int64_t)e->u.num.f : 0;
        } else if (e->u.num.type == QL_NUM_INT) {
          if (neg) e->u.num.i = (int64_t)(0 - (uint64_t)e->u.num.i);
          e->u.num.f = (double)e->u.num.i;
        } else if (neg) {
          if (e->u.num.u != (uint64_t)INT64_MAX + 1)
            return qlp_fail_msg(p, "constant -%llu underflows int64", (unsigned long long)e->u.num.u);
          e->u.num.type = QL_NUM_INT;
          e->u.num.i = INT64_MIN;
          e->u.num.u = 0;
          e->u.num.f = (double)INT64_MIN;
        }
        *out = e;
        return 0;
      }
      if (e->kind == QL_EXPR_DURATION) {
        if (neg) e->u.duration_ns = (int64_t)(0 - (uint64_t)e->u.duration_ns);
        *out = e;
        return 0;
      }
      /* Identifier, call or parenthesis: InfluxDB multiplies by -1 or 1. */
      ql_expr *b = qlp_new_expr(p, QL_EXPR_BINARY);
      if (!b) return p->rc;
      b->u.bin.op = QL_OP_MUL;
      b->u.bin.lhs = int_lit(p, neg ? -1 : 1);
      b->u.bin.rhs = e;
      if (!b->u.bin.lhs) return p->rc;
      *out = b;
      return 0;
    }
    default:
      return qlp_fail_expected(p, t0, lit0, pos0, "identifier, number, duration, (");
    }
  }
  default:
    return qlp_fail_expected(p, t, lit, pos, "identifier, string, number, bool");
  }
}

static int parse_expr(parser *p, ql_expr **out) {
  ql_expr root;
  memset(&root, 0, sizeof(root));
  root.kind = QL_EXPR_BINARY;
  if (parse_unary(p, &root.u.bin.rhs)) return p->rc;
  for (;;) {
    ql_tok t = qlp_scan_ws(p, NULL, NULL);
    if (p->rc) return p->rc;
    if (!ql_tok_is_operator(t)) {
      qlp_unscan(p);
      *out = root.u.bin.rhs;
      return 0;
    }
    ql_op op = qlp_tok_to_op(t);
    ql_expr *rhs;
    if (op == QL_OP_EQREGEX || op == QL_OP_NEQREGEX) {
      if (qlp_regex(p, &rhs)) return p->rc;
      if (!rhs) {
        ql_pos pos;
        const char *lit;
        ql_tok t1 = qlp_scan_ws(p, &pos, &lit);
        if (p->rc) return p->rc;
        return qlp_fail_expected(p, t1, lit, pos, "regex");
      }
    } else if (parse_unary(p, &rhs)) {
      return p->rc;
    }
    for (ql_expr *node = &root;;) {
      ql_expr *r = node->u.bin.rhs;
      if (r->kind != QL_EXPR_BINARY || op_prec(r->u.bin.op) >= op_prec(op)) {
        if (++p->n_binary > MAX_BINARY) return qlp_fail_msg(p, "expression too large");
        ql_expr *b = qlp_new_expr(p, QL_EXPR_BINARY);
        if (!b) return p->rc;
        b->u.bin.op = op;
        b->u.bin.lhs = node->u.bin.rhs;
        b->u.bin.rhs = rhs;
        node->u.bin.rhs = b;
        break;
      }
      node = r;
    }
  }
}

/* ---- SELECT ------------------------------------------------------------ */

/* validateField: the last comparison / logical operator found walking the
 * expression in pre-order, without descending into an offending node. */
static void find_bad_op(const ql_expr *e, ql_op *bad) {
  if (!e) return;
  switch (e->kind) {
  case QL_EXPR_BINARY:
    switch (e->u.bin.op) {
    case QL_OP_EQ: case QL_OP_NEQ: case QL_OP_EQREGEX: case QL_OP_NEQREGEX:
    case QL_OP_LT: case QL_OP_LTE: case QL_OP_GT: case QL_OP_GTE:
    case QL_OP_AND: case QL_OP_OR:
      *bad = e->u.bin.op;
      return;
    default: break;
    }
    find_bad_op(e->u.bin.lhs, bad);
    find_bad_op(e->u.bin.rhs, bad);
    return;
  case QL_EXPR_PAREN: find_bad_op(e->u.paren, bad); return;
  case QL_EXPR_CALL:
    for (size_t i = 0; i < e->u.call.n_args; i++) find_bad_op(e->u.call.args[i], bad);
    return;
  default: return;
  }
}

static int has_call(const ql_expr *e) {
  if (!e) return 0;
  switch (e->kind) {
  case QL_EXPR_CALL: return 1;
  case QL_EXPR_BINARY: return has_call(e->u.bin.lhs) || has_call(e->u.bin.rhs);
  case QL_EXPR_PAREN: return has_call(e->u.paren);
  default: return 0;
  }
}

static int parse_alias(parser *p, const char **alias) {
  *alias = "";
  if (!qlp_accept(p, QL_TOK_AS)) return p->rc;
  return qlp_ident(p, alias);
}

static int parse_field(parser *p, ql_field *f) {
  ql_expr *e;
  if (qlp_regex(p, &e)) return p->rc;
  if (!e) {
    ql_pos pos;
    qlp_scan_ws(p, &pos, NULL);
    qlp_unscan(p);
    if (parse_expr(p, &e)) return p->rc;
    ql_op bad = 0;
    find_bad_op(e, &bad);
    if (bad)
      return qlp_fail_msg(p,
                      "invalid operator %s in SELECT clause at line %d, char %d; operator is "
                      "intended for WHERE clause",
                      ql_op_str(bad), pos.line + 1, pos.ch + 1);
  }
  f->expr = e;
  if (parse_alias(p, &f->alias)) return p->rc;
  consume_ws(p);
  return p->rc;
}

static int parse_fields(parser *p, ql_select *s) {
  size_t cap = 0;
  for (;;) {
    ql_field f;
    if (parse_field(p, &f)) return p->rc;
    ql_field *slot = qlp_vec_push(p, (void **)&s->fields, &s->n_fields, &cap, sizeof(*slot));
    if (!slot) return p->rc;
    *slot = f;
    if (qlp_scan(p, NULL, NULL) != QL_TOK_COMMA) {
      qlp_unscan(p);
      return p->rc;
    }
  }
}

int qlp_source(parser *p, int subqueries, ql_source *src) {
  ql_expr *re;
  memset(src, 0, sizeof(*src));
  src->m.db = src->m.rp = src->m.name = "";
  if (qlp_regex(p, &re)) return p->rc;
  if (re) {
    src->m.regex = re->u.str;
    return 0;
  }
  if (subqueries) {
    if (qlp_scan_ws(p, NULL, NULL) == QL_TOK_LPAREN) {
      if (qlp_expect_tok(p, QL_TOK_SELECT) || enter(p)) return p->rc;
      int rc = qlp_select(p, TARGET_SUBQUERY, &src->subquery);
      p->depth--;
      return rc ? rc : qlp_expect_tok(p, QL_TOK_RPAREN);
    }
    qlp_unscan(p);
  }
  segs sg;
  if (parse_segmented_idents(p, &sg)) return p->rc;
  if (sg.n == 3) {
    src->m.db = sg.s[0];
    src->m.rp = sg.s[1];
    src->m.name = sg.s[2];
    return 0;
  }
  if (qlp_regex(p, &re)) return p->rc;
  if (re) src->m.regex = re->u.str;
  if (sg.n == 1) {
    if (re) src->m.rp = sg.s[0];
    else src->m.name = sg.s[0];
  } else {
    if (re) {
      src->m.db = sg.s[0];
      src->m.rp = sg.s[1];
    } else {
      src->m.rp = sg.s[0];
      src->m.name = sg.s[1];
    }
  }
  return 0;
}

int qlp_sources(parser *p, int subqueries, ql_source **out, size_t *n) {
  size_t cap = 0;
  *out = NULL;
  *n = 0;
  for (;;) {
    ql_source src;
    if (qlp_source(p, subqueries, &src)) return p->rc;
    ql_source *slot = qlp_vec_push(p, (void **)out, n, &cap, sizeof(*slot));
    if (!slot) return p->rc;
    *slot = src;
    if (!qlp_accept(p, QL_TOK_COMMA)) return p->rc;
  }
}

int qlp_condition(parser *p, ql_expr **out) {
  *out = NULL;
  if (!qlp_accept(p, QL_TOK_WHERE)) return p->rc;
  return parse_expr(p, out);
}

int qlp_dimensions(parser *p, ql_expr ***out, size_t *n) {
  size_t cap = 0;
  *out = NULL;
  *n = 0;
  if (!qlp_accept(p, QL_TOK_GROUP)) return p->rc;
  ql_pos pos;
  const char *lit;
  ql_tok t = qlp_scan_ws(p, &pos, &lit);
  if (p->rc) return p->rc;
  if (t != QL_TOK_BY) return qlp_fail_expected(p, t, lit, pos, "BY");
  for (;;) {
    ql_expr *d;
    if (qlp_regex(p, &d)) return p->rc;
    if (!d) {
      if (parse_expr(p, &d)) return p->rc;
      consume_ws(p);
    }
    ql_expr **slot = qlp_vec_push(p, (void **)out, n, &cap, sizeof(*slot));
    if (!slot) return p->rc;
    *slot = d;
    if (qlp_scan(p, NULL, NULL) != QL_TOK_COMMA) {
      qlp_unscan(p);
      return p->rc;
    }
  }
}

/* Is the next token the identifier `name` (any case)? The token is put back. */
static int next_is_ident(parser *p, const char *name) {
  const char *lit;
  ql_tok t = qlp_scan_ws(p, NULL, &lit);
  qlp_unscan(p);
  return t == QL_TOK_IDENT && ascii_ieq(lit, name);
}

static int parse_fill(parser *p, ql_select *s) {
  s->fill = QL_FILL_NULL;
  if (!next_is_ident(p, "fill")) return p->rc;
  ql_expr *e;
  if (parse_expr(p, &e)) return p->rc;
  if (e->kind != QL_EXPR_CALL) return qlp_fail_msg(p, "fill must be a function call");
  if (e->u.call.n_args != 1)
    return qlp_fail_msg(p, "fill requires an argument, e.g.: 0, null, none, previous, linear");
  ql_expr *a = e->u.call.args[0];
  if (a->kind == QL_EXPR_IDENT && a->u.ident.cast == QL_CAST_NONE) {
    const char *v = a->u.ident.name;
    if (!strcmp(v, "null")) return 0;
    if (!strcmp(v, "none")) {
      s->fill = QL_FILL_NONE;
      return 0;
    }
    if (!strcmp(v, "previous")) {
      s->fill = QL_FILL_PREVIOUS;
      return 0;
    }
    if (!strcmp(v, "linear")) {
      s->fill = QL_FILL_LINEAR;
      return 0;
    }
  }
  if (a->kind == QL_EXPR_NUMBER && a->u.num.type != QL_NUM_UNSIGNED) {
    s->fill = QL_FILL_NUMBER;
    s->fill_value = a;
    return 0;
  }
  return qlp_fail_msg(p, "expected number argument in fill()");
}

static int parse_location(parser *p, const char **tz) {
  *tz = NULL;
  if (!next_is_ident(p, "tz")) return p->rc;
  ql_expr *e;
  if (parse_expr(p, &e)) return p->rc;
  if (e->kind != QL_EXPR_CALL) return qlp_fail_msg(p, "tz must be a function call");
  if (e->u.call.n_args != 1) return qlp_fail_msg(p, "tz requires exactly one argument");
  if (e->u.call.args[0]->kind != QL_EXPR_STRING)
    return qlp_fail_msg(p, "expected string argument in tz()");
  *tz = e->u.call.args[0]->u.str;
  if (p->tz_ok && !p->tz_ok(*tz, p->tz_ctx)) return qlp_fail_msg(p, "unable to find time zone %s", *tz);
  return 0;
}

/* InfluxDB's ParseOptionalTokenAndInt. */
int qlp_opt_int(parser *p, ql_tok want, int64_t *out) {
  *out = 0;
  if (!qlp_accept(p, want)) return p->rc;
  ql_pos pos;
  const char *lit;
  ql_tok t = qlp_scan_ws(p, &pos, &lit);
  if (p->rc) return p->rc;
  if (t != QL_TOK_INTEGER) return qlp_fail_expected(p, t, lit, pos, "integer");
  errno = 0;
  long long v = strtoll(lit, NULL, 10); /* clamps to INT64_MAX like Go */
  *out = v;
  return 0;
}

/* ORDER BY: at most one sort field, which must be time (or ASC/DESC alone). */
int qlp_order_by(parser *p, int *has, int *desc, const char **field) {
  *has = 0;
  *desc = 0;
  if (field) *field = "";
  if (!qlp_accept(p, QL_TOK_ORDER)) return p->rc;
  ql_pos pos;
  const char *lit;
  ql_tok t = qlp_scan_ws(p, &pos, &lit);
  if (p->rc) return p->rc;
  if (t != QL_TOK_BY) return qlp_fail_expected(p, t, lit, pos, "BY");
  size_t n = 0;
  t = qlp_scan_ws(p, &pos, &lit);
  if (p->rc) return p->rc;
  switch (t) {
  case QL_TOK_ASC:
  case QL_TOK_DESC:
    *desc = t == QL_TOK_DESC;
    n = 1;
    break;
  case QL_TOK_IDENT: {
    qlp_unscan(p);
    const char *name;
    if (qlp_ident(p, &name)) return p->rc;
    ql_tok d = qlp_scan_ws(p, NULL, NULL);
    if (d != QL_TOK_ASC && d != QL_TOK_DESC) qlp_unscan(p);
    *desc = d == QL_TOK_DESC;
    if (strcmp(lit, "time")) return qlp_fail_msg(p, "only ORDER BY time supported at this time");
    if (field) *field = name;
    n = 1;
    break;
  }
  default:
    return qlp_fail_expected(p, t, lit, pos, "identifier, ASC, DESC");
  }
  for (;;) {
    if (qlp_scan_ws(p, NULL, NULL) != QL_TOK_COMMA) {
      qlp_unscan(p);
      break;
    }
    const char *name;
    if (qlp_ident(p, &name)) return p->rc;
    ql_tok d = qlp_scan_ws(p, NULL, NULL);
    if (d != QL_TOK_ASC && d != QL_TOK_DESC) qlp_unscan(p);
    n++;
  }
  if (n > 1) return qlp_fail_msg(p, "only ORDER BY time supported at this time");
  *has = 1;
  return p->rc;
}

static int parse_target(parser *p, target_req tr, ql_measurement **out) {
  *out = NULL;
  ql_pos pos;
  const char *lit;
  ql_tok t = qlp_scan_ws(p, &pos, &lit);
  if (p->rc) return p->rc;
  if (t != QL_TOK_INTO) {
    if (tr == TARGET_REQUIRED) return qlp_fail_expected(p, t, lit, pos, "INTO");
    qlp_unscan(p);
    return 0;
  }
  segs sg;
  if (parse_segmented_idents(p, &sg)) return p->rc;
  if (sg.n < 3 && ql_lex_peek_rune(&p->lx) == ':') {
    if (qlp_expect_tok(p, QL_TOK_COLON) || qlp_expect_tok(p, QL_TOK_MEASUREMENT) ||
        segs_push(p, &sg, ""))
      return p->rc;
  }
  ql_measurement *m = qlp_palloc(p, sizeof(*m));
  if (!m) return p->rc;
  m->db = m->rp = m->name = "";
  if (sg.n == 1) {
    m->name = sg.s[0];
  } else if (sg.n == 2) {
    m->rp = sg.s[0];
    m->name = sg.s[1];
  } else {
    m->db = sg.s[0];
    m->rp = sg.s[1];
    m->name = sg.s[2];
  }
  *out = m;
  return 0;
}

int qlp_select(parser *p, target_req tr, ql_select **out) {
  ql_select *s = qlp_palloc(p, sizeof(*s));
  if (!s) return p->rc;
  if (parse_fields(p, s) || parse_target(p, tr, &s->into)) return p->rc;
  ql_pos pos;
  const char *lit;
  ql_tok t = qlp_scan_ws(p, &pos, &lit);
  if (p->rc) return p->rc;
  if (t != QL_TOK_FROM) return qlp_fail_expected(p, t, lit, pos, "FROM");
  if (qlp_sources(p, 1, &s->sources, &s->n_sources) || qlp_condition(p, &s->condition) ||
      qlp_dimensions(p, &s->dimensions, &s->n_dimensions) || parse_fill(p, s) ||
      qlp_order_by(p, &s->has_order, &s->order_desc, &s->order_field) ||
      qlp_opt_int(p, QL_TOK_LIMIT, &s->limit) || qlp_opt_int(p, QL_TOK_OFFSET, &s->offset) ||
      qlp_opt_int(p, QL_TOK_SLIMIT, &s->slimit) ||
      qlp_opt_int(p, QL_TOK_SOFFSET, &s->soffset) || parse_location(p, &s->tz))
    return p->rc;
  if (!s->order_field) s->order_field = "";
  s->is_raw = 1;
  for (size_t i = 0; i < s->n_fields; i++)
    if (has_call(s->fields[i].expr)) s->is_raw = 0;
  *out = s;
  return 0;
}

static void parser_init(parser *p, const char *text, size_t len, ql_arena *arena, char *err,
                        size_t errlen) {
  memset(p, 0, sizeof(*p));
  p->arena = arena;
  p->err = err;
  p->errlen = err ? errlen : 0;
  if (p->errlen) err[0] = '\0';
  ql_lex_init(&p->lx, text, len, arena);
}

int ql_parse(const char *text, size_t len, ql_query **out, char *err, size_t errlen) {
  return ql_parse_tz(text, len, out, err, errlen, NULL, NULL);
}

int ql_parse_tz(const char *text, size_t len, ql_query **out, char *err, size_t errlen,
                ql_tz_check_fn tz_ok, void *tz_ctx) {
  parser p;
  *out = NULL;
  ql_query *q = loom_calloc(1, sizeof(*q));
  if (!q) {
    if (err && errlen) snprintf(err, errlen, "out of memory");
    return LOOM_ENOMEM;
  }
  ql_arena_init(&q->arena);
  parser_init(&p, text ? text : "", text ? len : 0, &q->arena, err, errlen);
  p.tz_ok = tz_ok;
  p.tz_ctx = tz_ctx;
  size_t cap = 0;
  int semi = 1;
  for (;;) {
    ql_pos pos;
    const char *lit;
    ql_tok t = qlp_scan_ws(&p, &pos, &lit);
    if (p.rc) break;
    if (t == QL_TOK_EOF) break;
    if (t == QL_TOK_SEMICOLON) {
      semi = 1;
      continue;
    }
    if (!semi) {
      qlp_fail_expected(&p, t, lit, pos, ";");
      break;
    }
    qlp_unscan(&p);
    ql_stmt *st = qlp_vec_push(&p, (void **)&q->stmts, &q->n_stmts, &cap, sizeof(*st));
    if (!st) break;
    if (qlp_statement(&p, st)) break;
    semi = 0;
  }
  if (!p.rc && p.unsup) qlp_fail_unsup(&p, p.unsup);
  if (p.rc) {
    ql_query_free(q);
    return p.rc;
  }
  *out = q;
  return 0;
}

void ql_query_free(ql_query *q) {
  if (!q) return;
  ql_arena_deinit(&q->arena);
  loom_free(q);
}

int ql_parse_expr(const char *text, size_t len, ql_arena *arena, ql_expr **out, char *err,
                  size_t errlen) {
  parser p;
  *out = NULL;
  parser_init(&p, text ? text : "", text ? len : 0, arena, err, errlen);
  ql_expr *e;
  if (qlp_regex(&p, &e)) return p.rc;
  if (!e && parse_expr(&p, &e)) return p.rc;
  ql_pos pos;
  const char *lit;
  ql_tok t = qlp_scan_ws(&p, &pos, &lit);
  if (p.rc) return p.rc;
  if (t != QL_TOK_EOF) return qlp_fail_expected(&p, t, lit, pos, "EOF");
  *out = e;
  return 0;
}
