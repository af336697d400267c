/* SPDX-License-Identifier: Apache-2.0
 * InfluxQL parser (see ql_parse.h). Recursive descent over ql_lex tokens with
 * a three-token unscan ring, the same shape as InfluxDB's parser: its error
 * messages and positions depend on exactly when tokens are scanned, unscanned
 * and when whitespace is or is not skipped, so each function below follows the
 * corresponding InfluxDB function step by step.
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
#include "query/ql_lex.h"

#define ERR_PREFIX "error parsing query: "

/* Limits InfluxDB does not have (Go stacks grow), so that hostile input
 * cannot exhaust the C stack here or in code that walks the tree. Real
 * queries stay far below them. */
#define MAX_DEPTH 1000
#define MAX_BINARY 10000

typedef struct tokent {
  ql_tok tok;
  ql_pos pos;
  const char *lit;
} tokent;

typedef struct parser {
  ql_lex lx;
  ql_arena *arena;
  tokent ring[3];
  int ri, rn;
  char *err;
  size_t errlen;
  int rc;            /* first error, 0 while none */
  const char *unsup; /* first statement parsed but not supported, or NULL */
  int depth;            /* current nesting of (), calls and subqueries */
  size_t n_binary;      /* binary operators so far in the query */
  ql_tz_check_fn tz_ok; /* optional zone check (ql_parse_tz) */
  void *tz_ctx;
} parser;

typedef enum target_req { TARGET_REQUIRED, TARGET_NOT_REQUIRED, TARGET_SUBQUERY } target_req;

/* ---- errors ------------------------------------------------------------ */

static int fail_oom(parser *p) {
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
__attribute__((format(printf, 3, 4))) static int fail_at(parser *p, ql_pos pos, const char *fmt,
                                                         ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = failv(p, LOOM_EINVAL, ERR_PREFIX, &pos, fmt, ap);
  va_end(ap);
  return rc;
}

/* A plain Go error (no position). */
__attribute__((format(printf, 2, 3))) static int fail_msg(parser *p, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = failv(p, LOOM_EINVAL, ERR_PREFIX, NULL, fmt, ap);
  va_end(ap);
  return rc;
}

static const char *tokstr(ql_tok t, const char *lit) { return lit && *lit ? lit : ql_tok_str(t); }

/* InfluxDB's newParseError(found, expected, pos). */
static int fail_expected(parser *p, ql_tok t, const char *lit, ql_pos pos, const char *expected) {
  return fail_at(p, pos, "found %s, expected %s", tokstr(t, lit), expected);
}

static int fail_unsup(parser *p, const char *what) {
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
    if (p->lx.oom) fail_oom(p);
  }
  tokent *t = &p->ring[(p->ri - p->rn + 3) % 3];
  if (pos) *pos = t->pos;
  if (lit) *lit = t->lit;
  return t->tok;
}

static ql_tok scan(parser *p, ql_pos *pos, const char **lit) { return scan_with(p, 0, pos, lit); }

static ql_tok scan_ws(parser *p, ql_pos *pos, const char **lit) {
  for (;;) {
    ql_tok t = scan(p, pos, lit);
    if (t != QL_TOK_WS && t != QL_TOK_COMMENT) return t;
  }
}

static void unscan(parser *p) {
  if (p->rn < 3) p->rn++;
}

static void consume_ws(parser *p) {
  if (scan(p, NULL, NULL) != QL_TOK_WS) unscan(p);
}

/* InfluxDB's parseTokens for one token. */
static int expect_tok(parser *p, ql_tok want) {
  ql_pos pos;
  const char *lit;
  ql_tok t = scan_ws(p, &pos, &lit);
  if (t != want) return fail_expected(p, t, lit, pos, ql_tok_str(want));
  return p->rc;
}

/* Scan the next non-blank token; keep it when it is `want`, else put it back. */
static int accept_tok(parser *p, ql_tok want) {
  if (scan_ws(p, NULL, NULL) == want) return 1;
  unscan(p);
  return 0;
}

/* ---- allocation helpers ------------------------------------------------ */

static void *palloc(parser *p, size_t n) {
  void *m = ql_arena_alloc(p->arena, n);
  if (!m) fail_oom(p);
  return m;
}

static ql_expr *new_expr(parser *p, ql_expr_kind kind) {
  ql_expr *e = palloc(p, sizeof(*e));
  if (e) e->kind = kind;
  return e;
}

/* Append one element of size esz to an arena array (doubling). */
static void *vec_push(parser *p, void **arr, size_t *n, size_t *cap, size_t esz) {
  if (*n == *cap) {
    size_t ncap = *cap ? *cap * 2 : 4;
    void *na = palloc(p, ncap * esz);
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
    fail_oom(p);
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

/* ---- quoting (InfluxDB's QuoteIdent / QuoteString) ---------------------- */

static int append_escaped(loom_buf *b, const char *s, char quote) {
  for (; *s; s++) {
    int rc;
    if (*s == '\n') rc = loom_buf_append_str(b, "\\n");
    else if (*s == '\\') rc = loom_buf_append_str(b, "\\\\");
    else if (*s == quote) {
      char esc[3] = {'\\', quote, 0};
      rc = loom_buf_append_str(b, esc);
    } else rc = loom_buf_append(b, s, 1);
    if (rc) return rc;
  }
  return 0;
}

static int quote_ident_segs(loom_buf *b, const char *const *segs, size_t n) {
  int rc = 0;
  for (size_t i = 0; i < n && !rc; i++) {
    const char *s = segs[i];
    int need = ql_ident_needs_quotes(s) || (i < n - 1 && *s) || ((i == 0 || i == n - 1) && !*s);
    if (need) rc = loom_buf_append_str(b, "\"");
    if (!rc) rc = append_escaped(b, s, '"');
    if (!rc && need) rc = loom_buf_append_str(b, "\"");
    if (!rc && i < n - 1) rc = loom_buf_append_str(b, ".");
  }
  return rc;
}

static int quote_ident(loom_buf *b, const char *s) { return quote_ident_segs(b, &s, 1); }

/* ---- identifiers ------------------------------------------------------- */

static int parse_ident(parser *p, const char **out) {
  ql_pos pos;
  const char *lit;
  ql_tok t = scan_ws(p, &pos, &lit);
  if (p->rc) return p->rc;
  if (t != QL_TOK_IDENT) return fail_expected(p, t, lit, pos, "identifier");
  *out = lit;
  return 0;
}

static int parse_ident_list(parser *p, const char ***out, size_t *n) {
  size_t cap = 0;
  const char *id;
  *n = 0;
  *out = NULL;
  if (parse_ident(p, &id)) return p->rc;
  for (;;) {
    const char **slot = vec_push(p, (void **)out, n, &cap, sizeof(**out));
    if (!slot) return p->rc;
    *slot = id;
    if (scan_ws(p, NULL, NULL) != QL_TOK_COMMA) {
      unscan(p);
      return p->rc;
    }
    if (parse_ident(p, &id)) return p->rc;
  }
}

typedef struct segs {
  const char **s;
  size_t n, cap;
} segs;

static int segs_push(parser *p, segs *sg, const char *id) {
  const char **slot = vec_push(p, (void **)&sg->s, &sg->n, &sg->cap, sizeof(*slot));
  if (!slot) return p->rc;
  *slot = id;
  return 0;
}

/* db.rp.measurement style identifiers (1 to 3 segments). */
static int parse_segmented_idents(parser *p, segs *sg) {
  const char *id;
  memset(sg, 0, sizeof(*sg));
  if (parse_ident(p, &id) || segs_push(p, sg, id)) return p->rc;
  for (;;) {
    if (scan(p, NULL, NULL) != QL_TOK_DOT) {
      unscan(p);
      break;
    }
    int32_t ch = ql_lex_peek_rune(&p->lx);
    if (ch == '/' || ch == ':') break;
    if (ch == '.') {
      id = "";
    } else if (parse_ident(p, &id)) {
      return p->rc;
    }
    if (segs_push(p, sg, id)) return p->rc;
  }
  if (sg->n > 3) {
    /* InfluxDB: ParseError{Message: "too many segments in ..."} (zero Pos). */
    loom_buf b;
    loom_buf_init(&b);
    if (quote_ident_segs(&b, sg->s, sg->n) || loom_buf_cstr(&b)) {
      loom_buf_deinit(&b);
      return fail_oom(p);
    }
    ql_pos zero = {0, 0};
    fail_at(p, zero, "too many segments in %s", (const char *)b.data);
    loom_buf_deinit(&b);
  }
  return p->rc;
}

static const char *join_segs(parser *p, const segs *sg) {
  size_t len = 0;
  for (size_t i = 0; i < sg->n; i++) len += strlen(sg->s[i]) + 1;
  char *d = palloc(p, len + 1);
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

static int parse_string(parser *p, const char **out) {
  ql_pos pos;
  const char *lit;
  ql_tok t = scan_ws(p, &pos, &lit);
  if (p->rc) return p->rc;
  if (t != QL_TOK_STRING) return fail_expected(p, t, lit, pos, "string");
  *out = lit;
  return 0;
}

/* InfluxDB's ParseInt(min, max). */
static int parse_int(parser *p, long long min, long long max, int *out) {
  ql_pos pos;
  const char *lit;
  ql_tok t = scan_ws(p, &pos, &lit);
  if (p->rc) return p->rc;
  if (t != QL_TOK_INTEGER) return fail_expected(p, t, lit, pos, "integer");
  errno = 0;
  long long v = strtoll(lit, NULL, 10);
  if (errno == ERANGE)
    return fail_at(p, pos, "strconv.Atoi: parsing \"%s\": value out of range", lit);
  if (v < min || v > max)
    return fail_at(p, pos, "invalid value %lld: must be %lld <= n <= %lld", v, min, max);
  *out = (int)v;
  return 0;
}

/* InfluxDB's ParseDuration method (after DURATION etc.): DURATIONVAL or INF. */
static int parse_duration_tok(parser *p, int64_t *out) {
  ql_pos pos;
  const char *lit;
  char msg[128];
  ql_tok t = scan_ws(p, &pos, &lit);
  if (p->rc) return p->rc;
  if (t != QL_TOK_DURATIONVAL && t != QL_TOK_INF)
    return fail_expected(p, t, lit, pos, "duration");
  if (t == QL_TOK_INF) {
    *out = 0;
    return 0;
  }
  if (ql_duration_parse(lit, out, msg, sizeof(msg))) return fail_at(p, pos, "%s", msg);
  return 0;
}

/* ---- expressions ------------------------------------------------------- */

static int parse_expr(parser *p, ql_expr **out);
static int parse_select(parser *p, target_req tr, ql_select **out);

static ql_op tok_to_op(ql_tok t) {
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
static int parse_regex(parser *p, ql_expr **out) {
  *out = NULL;
  int32_t next = ql_lex_peek_rune(&p->lx);
  if (next == ' ' || next == '\t' || next == '\n') consume_ws(p);
  next = ql_lex_peek_rune(&p->lx);
  if (next == '$') {
    /* A bound parameter could stand for a regex; Loom has no parameters. */
    scan(p, NULL, NULL);
    unscan(p);
    return p->rc;
  }
  if (next != '/') return p->rc;
  ql_pos pos;
  const char *lit;
  ql_tok t = scan_with(p, 1, &pos, &lit);
  if (p->rc) return p->rc;
  if (t == QL_TOK_BADESCAPE) return fail_at(p, pos, "bad escape: %s", lit);
  if (t == QL_TOK_BADREGEX) return fail_at(p, pos, "bad regex: %s", lit);
  if (t != QL_TOK_REGEX) return fail_expected(p, t, lit, pos, "regex");
  char msg[256];
  if (ql_regex_check(lit, msg, sizeof(msg))) return fail_at(p, pos, "%s", msg);
  ql_expr *e = new_expr(p, QL_EXPR_REGEX);
  if (!e) return p->rc;
  e->u.str = lit;
  *out = e;
  return 0;
}

/* Arguments after "name(" up to the closing parenthesis. */
static int parse_call(parser *p, const char *name, ql_expr **out) {
  ql_expr *e = new_expr(p, QL_EXPR_CALL);
  if (!e) return p->rc;
  e->u.call.name = lower_dup(p, name);
  if (!e->u.call.name) return p->rc;
  size_t cap = 0;
  ql_expr *arg;
  ql_expr **slot;
  if (parse_regex(p, &arg)) return p->rc;
  if (!arg) {
    if (scan(p, NULL, NULL) == QL_TOK_RPAREN) {
      *out = e;
      return p->rc;
    }
    unscan(p);
    if (parse_expr(p, &arg)) return p->rc;
  }
  slot = vec_push(p, (void **)&e->u.call.args, &e->u.call.n_args, &cap, sizeof(*slot));
  if (!slot) return p->rc;
  *slot = arg;
  for (;;) {
    if (scan_ws(p, NULL, NULL) != QL_TOK_COMMA) {
      unscan(p);
      break;
    }
    if (parse_regex(p, &arg)) return p->rc;
    if (!arg && parse_expr(p, &arg)) return p->rc;
    slot = vec_push(p, (void **)&e->u.call.args, &e->u.call.n_args, &cap, sizeof(*slot));
    if (!slot) return p->rc;
    *slot = arg;
  }
  ql_pos pos;
  const char *lit;
  ql_tok t = scan(p, &pos, &lit);
  if (p->rc) return p->rc;
  if (t != QL_TOK_RPAREN) return fail_expected(p, t, lit, pos, ")");
  *out = e;
  return 0;
}

static int parse_varref(parser *p, ql_expr **out) {
  segs sg;
  if (parse_segmented_idents(p, &sg)) return p->rc;
  ql_cast cast = QL_CAST_NONE;
  if (scan(p, NULL, NULL) == QL_TOK_DOUBLECOLON) {
    ql_pos pos;
    const char *lit;
    ql_tok t = scan(p, &pos, &lit);
    if (p->rc) return p->rc;
    if (t == QL_TOK_IDENT) {
      if (ascii_ieq(lit, "float")) cast = QL_CAST_FLOAT;
      else if (ascii_ieq(lit, "integer")) cast = QL_CAST_INTEGER;
      else if (ascii_ieq(lit, "unsigned")) cast = QL_CAST_UNSIGNED;
      else if (ascii_ieq(lit, "string")) cast = QL_CAST_STRING;
      else if (ascii_ieq(lit, "boolean")) cast = QL_CAST_BOOLEAN;
      else
        return fail_expected(p, t, lit, pos,
                             "float, integer, unsigned, string, boolean, field, tag");
    } else if (t == QL_TOK_FIELD) {
      cast = QL_CAST_FIELD;
    } else if (t == QL_TOK_TAG) {
      cast = QL_CAST_TAG;
    } else {
      return fail_expected(p, t, lit, pos, "float, integer, string, boolean, field, tag");
    }
  } else {
    unscan(p);
  }
  ql_expr *e = new_expr(p, QL_EXPR_IDENT);
  if (!e) return p->rc;
  e->u.ident.name = join_segs(p, &sg);
  e->u.ident.cast = cast;
  if (!e->u.ident.name) return p->rc;
  *out = e;
  return p->rc;
}

static int parse_number_lit(parser *p, ql_tok t, const char *lit, ql_pos pos, ql_expr **out) {
  ql_expr *e = new_expr(p, QL_EXPR_NUMBER);
  if (!e) return p->rc;
  if (t == QL_TOK_NUMBER) {
    double v = strtod(lit, NULL);
    if (isinf(v)) return fail_at(p, pos, "unable to parse number");
    e->u.num.type = QL_NUM_FLOAT;
    e->u.num.f = v;
    e->u.num.i = (v >= -9.2e18 && v <= 9.2e18) ? (int64_t)v : 0;
  } else {
    errno = 0;
    long long v = strtoll(lit, NULL, 10);
    if (errno == ERANGE) {
      errno = 0;
      unsigned long long u = strtoull(lit, NULL, 10);
      if (errno == ERANGE) return fail_at(p, pos, "unable to parse integer");
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
  ql_expr *e = new_expr(p, QL_EXPR_NUMBER);
  if (e) {
    e->u.num.type = QL_NUM_INT;
    e->u.num.i = v;
    e->u.num.f = (double)v;
  }
  return e;
}

static int parse_unary_inner(parser *p, ql_expr **out);

static int enter(parser *p) {
  if (++p->depth > MAX_DEPTH) return fail_msg(p, "expression nests too deeply");
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
  ql_tok t = scan_ws(p, &pos, &lit);
  if (p->rc) return p->rc;
  if (t == QL_TOK_LPAREN) {
    ql_expr *inner;
    if (parse_expr(p, &inner)) return p->rc;
    t = scan_ws(p, &pos, &lit);
    if (p->rc) return p->rc;
    if (t != QL_TOK_RPAREN) return fail_expected(p, t, lit, pos, ")");
    ql_expr *e = new_expr(p, QL_EXPR_PAREN);
    if (!e) return p->rc;
    e->u.paren = inner;
    *out = e;
    return 0;
  }
  unscan(p);

  t = scan_ws(p, &pos, &lit);
  if (p->rc) return p->rc;
  switch (t) {
  case QL_TOK_IDENT:
    if (scan(p, NULL, NULL) == QL_TOK_LPAREN) return parse_call(p, lit, out);
    unscan(p);
    unscan(p);
    return parse_varref(p, out);
  case QL_TOK_DISTINCT: {
    ql_pos pos0;
    const char *lit0;
    ql_tok t0 = scan(p, &pos0, &lit0);
    if (t0 == QL_TOK_LPAREN) return parse_call(p, "distinct", out);
    if (t0 == QL_TOK_WS) {
      ql_pos pos1;
      const char *lit1;
      ql_tok t1 = scan_ws(p, &pos1, &lit1);
      if (p->rc) return p->rc;
      if (t1 != QL_TOK_IDENT) return fail_expected(p, t1, lit1, pos1, "identifier");
      ql_expr *e = new_expr(p, QL_EXPR_DISTINCT);
      if (!e) return p->rc;
      e->u.str = lit1;
      *out = e;
      return 0;
    }
    return fail_expected(p, t0, lit0, pos0, "(, identifier");
  }
  case QL_TOK_STRING: {
    ql_expr *e = new_expr(p, QL_EXPR_STRING);
    if (!e) return p->rc;
    e->u.str = lit;
    *out = e;
    return 0;
  }
  case QL_TOK_NUMBER:
  case QL_TOK_INTEGER: return parse_number_lit(p, t, lit, pos, out);
  case QL_TOK_TRUE:
  case QL_TOK_FALSE: {
    ql_expr *e = new_expr(p, QL_EXPR_BOOL);
    if (!e) return p->rc;
    e->u.boolean = t == QL_TOK_TRUE;
    *out = e;
    return 0;
  }
  case QL_TOK_DURATIONVAL: {
    char msg[128];
    int64_t d;
    if (ql_duration_parse(lit, &d, msg, sizeof(msg))) return fail_msg(p, "%s", msg);
    ql_expr *e = new_expr(p, QL_EXPR_DURATION);
    if (!e) return p->rc;
    e->u.duration_ns = d;
    *out = e;
    return 0;
  }
  case QL_TOK_MUL: {
    ql_expr *e = new_expr(p, QL_EXPR_WILDCARD);
    if (!e) return p->rc;
    if (scan(p, NULL, NULL) == QL_TOK_DOUBLECOLON) {
      ql_pos pos0;
      const char *lit0;
      ql_tok t0 = scan(p, &pos0, &lit0);
      if (t0 == QL_TOK_FIELD) e->u.wildcard = QL_CAST_FIELD;
      else if (t0 == QL_TOK_TAG) e->u.wildcard = QL_CAST_TAG;
      else return fail_expected(p, t0, lit0, pos0, "field, tag");
    } else {
      unscan(p);
    }
    *out = e;
    return p->rc;
  }
  case QL_TOK_BOUNDPARAM:
    if (!lit[0] || !lit[1]) return fail_msg(p, "empty bound parameter");
    return fail_msg(p, "missing parameter: %s", lit + 1);
  case QL_TOK_ADD:
  case QL_TOK_SUB: {
    int neg = t == QL_TOK_SUB;
    ql_pos pos0;
    const char *lit0;
    ql_tok t0 = scan_ws(p, &pos0, &lit0);
    if (p->rc) return p->rc;
    switch (t0) {
    case QL_TOK_NUMBER:
    case QL_TOK_INTEGER:
    case QL_TOK_DURATIONVAL:
    case QL_TOK_LPAREN:
    case QL_TOK_IDENT: {
      unscan(p);
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
            return fail_msg(p, "constant -%llu underflows int64", (unsigned long long)e->u.num.u);
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
      ql_expr *b = new_expr(p, QL_EXPR_BINARY);
      if (!b) return p->rc;
      b->u.bin.op = QL_OP_MUL;
      b->u.bin.lhs = int_lit(p, neg ? -1 : 1);
      b->u.bin.rhs = e;
      if (!b->u.bin.lhs) return p->rc;
      *out = b;
      return 0;
    }
    default:
      return fail_expected(p, t0, lit0, pos0, "identifier, number, duration, (");
    }
  }
  default:
    return fail_expected(p, t, lit, pos, "identifier, string, number, bool");
  }
}

static int parse_expr(parser *p, ql_expr **out) {
  ql_expr root;
  memset(&root, 0, sizeof(root));
  root.kind = QL_EXPR_BINARY;
  if (parse_unary(p, &root.u.bin.rhs)) return p->rc;
  for (;;) {
    ql_tok t = scan_ws(p, NULL, NULL);
    if (p->rc) return p->rc;
    if (!ql_tok_is_operator(t)) {
      unscan(p);
      *out = root.u.bin.rhs;
      return 0;
    }
    ql_op op = tok_to_op(t);
    ql_expr *rhs;
    if (op == QL_OP_EQREGEX || op == QL_OP_NEQREGEX) {
      if (parse_regex(p, &rhs)) return p->rc;
      if (!rhs) {
        ql_pos pos;
        const char *lit;
        ql_tok t1 = scan_ws(p, &pos, &lit);
        if (p->rc) return p->rc;
        return fail_expected(p, t1, lit, pos, "regex");
      }
    } else if (parse_unary(p, &rhs)) {
      return p->rc;
    }
    for (ql_expr *node = &root;;) {
      ql_expr *r = node->u.bin.rhs;
      if (r->kind != QL_EXPR_BINARY || op_prec(r->u.bin.op) >= op_prec(op)) {
        if (++p->n_binary > MAX_BINARY) return fail_msg(p, "expression too large");
        ql_expr *b = new_expr(p, QL_EXPR_BINARY);
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
  if (scan_ws(p, NULL, NULL) != QL_TOK_AS) {
    unscan(p);
    return p->rc;
  }
  return parse_ident(p, alias);
}

static int parse_field(parser *p, ql_field *f) {
  ql_expr *e;
  if (parse_regex(p, &e)) return p->rc;
  if (!e) {
    ql_pos pos;
    scan_ws(p, &pos, NULL);
    unscan(p);
    if (parse_expr(p, &e)) return p->rc;
    ql_op bad = 0;
    find_bad_op(e, &bad);
    if (bad)
      return fail_msg(p,
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
    ql_field *slot = vec_push(p, (void **)&s->fields, &s->n_fields, &cap, sizeof(*slot));
    if (!slot) return p->rc;
    *slot = f;
    if (scan(p, NULL, NULL) != QL_TOK_COMMA) {
      unscan(p);
      return p->rc;
    }
  }
}

static int parse_source(parser *p, int subqueries, ql_source *src) {
  ql_expr *re;
  memset(src, 0, sizeof(*src));
  src->m.db = src->m.rp = src->m.name = "";
  if (parse_regex(p, &re)) return p->rc;
  if (re) {
    src->m.regex = re->u.str;
    return 0;
  }
  if (subqueries) {
    if (scan_ws(p, NULL, NULL) == QL_TOK_LPAREN) {
      if (expect_tok(p, QL_TOK_SELECT) || enter(p)) return p->rc;
      int rc = parse_select(p, TARGET_SUBQUERY, &src->subquery);
      p->depth--;
      return rc ? rc : expect_tok(p, QL_TOK_RPAREN);
    }
    unscan(p);
  }
  segs sg;
  if (parse_segmented_idents(p, &sg)) return p->rc;
  if (sg.n == 3) {
    src->m.db = sg.s[0];
    src->m.rp = sg.s[1];
    src->m.name = sg.s[2];
    return 0;
  }
  if (parse_regex(p, &re)) return p->rc;
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

static int parse_sources(parser *p, int subqueries, ql_source **out, size_t *n) {
  size_t cap = 0;
  *out = NULL;
  *n = 0;
  for (;;) {
    ql_source src;
    if (parse_source(p, subqueries, &src)) return p->rc;
    ql_source *slot = vec_push(p, (void **)out, n, &cap, sizeof(*slot));
    if (!slot) return p->rc;
    *slot = src;
    if (scan_ws(p, NULL, NULL) != QL_TOK_COMMA) {
      unscan(p);
      return p->rc;
    }
  }
}

static int parse_condition(parser *p, ql_expr **out) {
  *out = NULL;
  if (scan_ws(p, NULL, NULL) != QL_TOK_WHERE) {
    unscan(p);
    return p->rc;
  }
  return parse_expr(p, out);
}

static int parse_dimensions(parser *p, ql_expr ***out, size_t *n) {
  size_t cap = 0;
  *out = NULL;
  *n = 0;
  if (scan_ws(p, NULL, NULL) != QL_TOK_GROUP) {
    unscan(p);
    return p->rc;
  }
  ql_pos pos;
  const char *lit;
  ql_tok t = scan_ws(p, &pos, &lit);
  if (p->rc) return p->rc;
  if (t != QL_TOK_BY) return fail_expected(p, t, lit, pos, "BY");
  for (;;) {
    ql_expr *d;
    if (parse_regex(p, &d)) return p->rc;
    if (!d) {
      if (parse_expr(p, &d)) return p->rc;
      consume_ws(p);
    }
    ql_expr **slot = vec_push(p, (void **)out, n, &cap, sizeof(*slot));
    if (!slot) return p->rc;
    *slot = d;
    if (scan(p, NULL, NULL) != QL_TOK_COMMA) {
      unscan(p);
      return p->rc;
    }
  }
}

/* Is the next token the identifier `name` (any case)? The token is put back. */
static int next_is_ident(parser *p, const char *name) {
  const char *lit;
  ql_tok t = scan_ws(p, NULL, &lit);
  unscan(p);
  return t == QL_TOK_IDENT && ascii_ieq(lit, name);
}

static int parse_fill(parser *p, ql_select *s) {
  s->fill = QL_FILL_NULL;
  if (!next_is_ident(p, "fill")) return p->rc;
  ql_expr *e;
  if (parse_expr(p, &e)) return p->rc;
  if (e->kind != QL_EXPR_CALL) return fail_msg(p, "fill must be a function call");
  if (e->u.call.n_args != 1)
    return fail_msg(p, "fill requires an argument, e.g.: 0, null, none, previous, linear");
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
  return fail_msg(p, "expected number argument in fill()");
}

static int parse_location(parser *p, const char **tz) {
  *tz = NULL;
  if (!next_is_ident(p, "tz")) return p->rc;
  ql_expr *e;
  if (parse_expr(p, &e)) return p->rc;
  if (e->kind != QL_EXPR_CALL) return fail_msg(p, "tz must be a function call");
  if (e->u.call.n_args != 1) return fail_msg(p, "tz requires exactly one argument");
  if (e->u.call.args[0]->kind != QL_EXPR_STRING)
    return fail_msg(p, "expected string argument in tz()");
  *tz = e->u.call.args[0]->u.str;
  if (p->tz_ok && !p->tz_ok(*tz, p->tz_ctx)) return fail_msg(p, "unable to find time zone %s", *tz);
  return 0;
}

/* InfluxDB's ParseOptionalTokenAndInt. */
static int parse_opt_int(parser *p, ql_tok want, int64_t *out) {
  *out = 0;
  if (scan_ws(p, NULL, NULL) != want) {
    unscan(p);
    return p->rc;
  }
  ql_pos pos;
  const char *lit;
  ql_tok t = scan_ws(p, &pos, &lit);
  if (p->rc) return p->rc;
  if (t != QL_TOK_INTEGER) return fail_expected(p, t, lit, pos, "integer");
  errno = 0;
  long long v = strtoll(lit, NULL, 10); /* clamps to INT64_MAX like Go */
  *out = v;
  return 0;
}

/* ORDER BY: at most one sort field, which must be time (or ASC/DESC alone). */
static int parse_order_by(parser *p, int *has, int *desc, const char **field) {
  *has = 0;
  *desc = 0;
  if (field) *field = "";
  if (scan_ws(p, NULL, NULL) != QL_TOK_ORDER) {
    unscan(p);
    return p->rc;
  }
  ql_pos pos;
  const char *lit;
  ql_tok t = scan_ws(p, &pos, &lit);
  if (p->rc) return p->rc;
  if (t != QL_TOK_BY) return fail_expected(p, t, lit, pos, "BY");
  size_t n = 0;
  t = scan_ws(p, &pos, &lit);
  if (p->rc) return p->rc;
  switch (t) {
  case QL_TOK_ASC:
  case QL_TOK_DESC:
    *desc = t == QL_TOK_DESC;
    n = 1;
    break;
  case QL_TOK_IDENT: {
    unscan(p);
    const char *name;
    if (parse_ident(p, &name)) return p->rc;
    ql_tok d = scan_ws(p, NULL, NULL);
    if (d != QL_TOK_ASC && d != QL_TOK_DESC) unscan(p);
    *desc = d == QL_TOK_DESC;
    if (strcmp(lit, "time")) return fail_msg(p, "only ORDER BY time supported at this time");
    if (field) *field = name;
    n = 1;
    break;
  }
  default:
    return fail_expected(p, t, lit, pos, "identifier, ASC, DESC");
  }
  for (;;) {
    if (scan_ws(p, NULL, NULL) != QL_TOK_COMMA) {
      unscan(p);
      break;
    }
    const char *name;
    if (parse_ident(p, &name)) return p->rc;
    ql_tok d = scan_ws(p, NULL, NULL);
    if (d != QL_TOK_ASC && d != QL_TOK_DESC) unscan(p);
    n++;
  }
  if (n > 1) return fail_msg(p, "only ORDER BY time supported at this time");
  *has = 1;
  return p->rc;
}

static int parse_target(parser *p, target_req tr, ql_measurement **out) {
  *out = NULL;
  ql_pos pos;
  const char *lit;
  ql_tok t = scan_ws(p, &pos, &lit);
  if (p->rc) return p->rc;
  if (t != QL_TOK_INTO) {
    if (tr == TARGET_REQUIRED) return fail_expected(p, t, lit, pos, "INTO");
    unscan(p);
    return 0;
  }
  segs sg;
  if (parse_segmented_idents(p, &sg)) return p->rc;
  if (sg.n < 3 && ql_lex_peek_rune(&p->lx) == ':') {
    if (expect_tok(p, QL_TOK_COLON) || expect_tok(p, QL_TOK_MEASUREMENT) ||
        segs_push(p, &sg, ""))
      return p->rc;
  }
  ql_measurement *m = palloc(p, sizeof(*m));
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

static int parse_select(parser *p, target_req tr, ql_select **out) {
  ql_select *s = palloc(p, sizeof(*s));
  if (!s) return p->rc;
  if (parse_fields(p, s) || parse_target(p, tr, &s->into)) return p->rc;
  ql_pos pos;
  const char *lit;
  ql_tok t = scan_ws(p, &pos, &lit);
  if (p->rc) return p->rc;
  if (t != QL_TOK_FROM) return fail_expected(p, t, lit, pos, "FROM");
  if (parse_sources(p, 1, &s->sources, &s->n_sources) || parse_condition(p, &s->condition) ||
      parse_dimensions(p, &s->dimensions, &s->n_dimensions) || parse_fill(p, s) ||
      parse_order_by(p, &s->has_order, &s->order_desc, &s->order_field) ||
      parse_opt_int(p, QL_TOK_LIMIT, &s->limit) || parse_opt_int(p, QL_TOK_OFFSET, &s->offset) ||
      parse_opt_int(p, QL_TOK_SLIMIT, &s->slimit) ||
      parse_opt_int(p, QL_TOK_SOFFSET, &s->soffset) || parse_location(p, &s->tz))
    return p->rc;
  if (!s->order_field) s->order_field = "";
  s->is_raw = 1;
  for (size_t i = 0; i < s->n_fields; i++)
    if (has_call(s->fields[i].expr)) s->is_raw = 0;
  *out = s;
  return 0;
}

/* ---- other statements -------------------------------------------------- */

static int parse_on_db(parser *p, const char **db) {
  *db = "";
  if (scan_ws(p, NULL, NULL) != QL_TOK_ON) {
    unscan(p);
    return p->rc;
  }
  return parse_ident(p, db);
}

static int parse_opt_from(parser *p, ql_show *sh) {
  if (scan_ws(p, NULL, NULL) != QL_TOK_FROM) {
    unscan(p);
    return p->rc;
  }
  return parse_sources(p, 0, &sh->sources, &sh->n_sources);
}

/* WITH KEY (IN (a, b) | = k | != k | =~ /re/ | !~ /re/). */
static int parse_tag_key_expr(parser *p, ql_show *sh) {
  if (expect_tok(p, QL_TOK_WITH) || expect_tok(p, QL_TOK_KEY)) return p->rc;
  ql_pos pos;
  const char *lit;
  ql_tok t = scan_ws(p, &pos, &lit);
  if (p->rc) return p->rc;
  if (t == QL_TOK_IN) {
    t = scan_ws(p, &pos, &lit);
    if (p->rc) return p->rc;
    if (t != QL_TOK_LPAREN) return fail_expected(p, t, lit, pos, "(");
    if (parse_ident_list(p, &sh->tag_keys, &sh->n_tag_keys)) return p->rc;
    t = scan_ws(p, &pos, &lit);
    if (p->rc) return p->rc;
    if (t != QL_TOK_RPAREN) return fail_expected(p, t, lit, pos, ")");
    sh->tag_op = 0;
    return 0;
  }
  if (t == QL_TOK_EQ || t == QL_TOK_NEQ) {
    const char *id;
    if (parse_ident(p, &id)) return p->rc;
    sh->tag_keys = palloc(p, sizeof(*sh->tag_keys));
    if (!sh->tag_keys) return p->rc;
    sh->tag_keys[0] = id;
    sh->n_tag_keys = 1;
    sh->tag_op = tok_to_op(t);
    return 0;
  }
  if (t == QL_TOK_EQREGEX || t == QL_TOK_NEQREGEX) {
    ql_expr *re;
    if (parse_regex(p, &re)) return p->rc;
    if (!re) {
      t = scan_ws(p, &pos, &lit);
      if (p->rc) return p->rc;
      return fail_expected(p, t, lit, pos, "regex");
    }
    sh->tag_regex = re->u.str;
    sh->tag_op = tok_to_op(t);
    return 0;
  }
  return fail_expected(p, t, lit, pos, "IN, =, =~");
}

static int parse_show_measurements(parser *p, ql_show *sh) {
  if (parse_on_db(p, &sh->db)) return p->rc;
  if (scan_ws(p, NULL, NULL) == QL_TOK_WITH) {
    if (expect_tok(p, QL_TOK_MEASUREMENT)) return p->rc;
    ql_pos pos;
    const char *lit;
    ql_tok t = scan_ws(p, &pos, &lit);
    if (p->rc) return p->rc;
    if (t != QL_TOK_EQ && t != QL_TOK_EQREGEX) return fail_expected(p, t, lit, pos, "=, =~");
    sh->sources = palloc(p, sizeof(*sh->sources));
    if (!sh->sources) return p->rc;
    sh->n_sources = 1;
    if (parse_source(p, 0, &sh->sources[0])) return p->rc;
  } else {
    unscan(p);
  }
  return parse_condition(p, &sh->condition) ||
         parse_order_by(p, &sh->has_order, &sh->order_desc, NULL) ||
         parse_opt_int(p, QL_TOK_LIMIT, &sh->limit) || parse_opt_int(p, QL_TOK_OFFSET, &sh->offset)
             ? p->rc
             : 0;
}

/* SHOW SERIES / MEASUREMENT / TAG KEY / TAG VALUES / FIELD KEY CARDINALITY,
 * after the tokens up to and including CARDINALITY. */
static int parse_cardinality_tail(parser *p, ql_show *sh) {
  if (parse_on_db(p, &sh->db) || parse_opt_from(p, sh)) return p->rc;
  if (sh->card_what == QL_CARD_TAG_VALUES && parse_tag_key_expr(p, sh)) return p->rc;
  return parse_condition(p, &sh->condition) ||
         parse_dimensions(p, &sh->dimensions, &sh->n_dimensions) ||
         parse_opt_int(p, QL_TOK_LIMIT, &sh->limit) || parse_opt_int(p, QL_TOK_OFFSET, &sh->offset)
             ? p->rc
             : 0;
}

/* Cardinality forms that start with an optional EXACT then CARDINALITY. */
static int parse_card_exact_opt(parser *p, ql_show *sh, ql_card_what what) {
  const char *required = "EXACT, CARDINALITY";
  sh->card_what = what;
  if (scan_ws(p, NULL, NULL) == QL_TOK_EXACT) {
    sh->exact = 1;
    required = "CARDINALITY";
  } else {
    unscan(p);
  }
  ql_pos pos;
  const char *lit;
  ql_tok t = scan_ws(p, &pos, &lit);
  if (p->rc) return p->rc;
  if (t != QL_TOK_CARDINALITY) return fail_expected(p, t, lit, pos, required);
  return parse_cardinality_tail(p, sh);
}

static int parse_show_series(parser *p, ql_stmt *st) {
  ql_show *sh = &st->u.show;
  int exact = 0;
  if (scan_ws(p, NULL, NULL) == QL_TOK_EXACT) exact = 1;
  else unscan(p);
  if (scan_ws(p, NULL, NULL) == QL_TOK_CARDINALITY) {
    st->kind = QL_STMT_SHOW_CARDINALITY;
    sh->card_what = QL_CARD_SERIES;
    sh->exact = exact;
    return parse_cardinality_tail(p, sh);
  }
  unscan(p);
  st->kind = QL_STMT_SHOW_SERIES;
  return parse_on_db(p, &sh->db) || parse_opt_from(p, sh) || parse_condition(p, &sh->condition) ||
                 parse_order_by(p, &sh->has_order, &sh->order_desc, NULL) ||
                 parse_opt_int(p, QL_TOK_LIMIT, &sh->limit) ||
                 parse_opt_int(p, QL_TOK_OFFSET, &sh->offset)
             ? p->rc
             : 0;
}

static int parse_show_tag_values(parser *p, ql_stmt *st) {
  ql_show *sh = &st->u.show;
  ql_tok t = scan_ws(p, NULL, NULL);
  if (t == QL_TOK_EXACT || t == QL_TOK_CARDINALITY) {
    st->kind = QL_STMT_SHOW_CARDINALITY;
    sh->card_what = QL_CARD_TAG_VALUES;
    if (t == QL_TOK_EXACT) {
      sh->exact = 1;
      ql_pos pos;
      const char *lit;
      ql_tok t1 = scan_ws(p, &pos, &lit);
      if (p->rc) return p->rc;
      if (t1 != QL_TOK_CARDINALITY) return fail_expected(p, t1, lit, pos, "CARDINALITY");
    }
    return parse_cardinality_tail(p, sh);
  }
  unscan(p);
  st->kind = QL_STMT_SHOW_TAG_VALUES;
  return parse_on_db(p, &sh->db) || parse_opt_from(p, sh) || parse_tag_key_expr(p, sh) ||
                 parse_condition(p, &sh->condition) ||
                 parse_order_by(p, &sh->has_order, &sh->order_desc, NULL) ||
                 parse_opt_int(p, QL_TOK_LIMIT, &sh->limit) ||
                 parse_opt_int(p, QL_TOK_OFFSET, &sh->offset)
             ? p->rc
             : 0;
}

static int parse_show_tag_keys(parser *p, ql_show *sh) {
  return parse_on_db(p, &sh->db) || parse_opt_from(p, sh) || parse_condition(p, &sh->condition) ||
                 parse_order_by(p, &sh->has_order, &sh->order_desc, NULL) ||
                 parse_opt_int(p, QL_TOK_LIMIT, &sh->limit) ||
                 parse_opt_int(p, QL_TOK_OFFSET, &sh->offset) ||
                 parse_opt_int(p, QL_TOK_SLIMIT, &sh->slimit) ||
                 parse_opt_int(p, QL_TOK_SOFFSET, &sh->soffset)
             ? p->rc
             : 0;
}

static int parse_show_field_keys(parser *p, ql_show *sh) {
  if (parse_on_db(p, &sh->db)) return p->rc;
  return parse_opt_from(p, sh) || parse_order_by(p, &sh->has_order, &sh->order_desc, NULL) ||
                 parse_opt_int(p, QL_TOK_LIMIT, &sh->limit) ||
                 parse_opt_int(p, QL_TOK_OFFSET, &sh->offset)
             ? p->rc
             : 0;
}

/* DELETE and DROP SERIES: [FROM sources] [WHERE cond], at least one. */
static int parse_delete_like(parser *p, ql_del *d) {
  ql_pos pos;
  const char *lit;
  ql_tok t = scan_ws(p, &pos, &lit);
  if (p->rc) return p->rc;
  if (t == QL_TOK_FROM) {
    if (parse_sources(p, 0, &d->sources, &d->n_sources)) return p->rc;
    const char *bad = NULL;
    for (size_t i = 0; i < d->n_sources; i++) {
      if (d->sources[i].m.db[0]) bad = "database not supported";
      if (d->sources[i].m.rp[0]) bad = "retention policy not supported";
    }
    if (bad) {
      ql_pos zero = {0, 0};
      return fail_at(p, zero, "%s", bad);
    }
  } else {
    unscan(p);
  }
  if (parse_condition(p, &d->condition)) return p->rc;
  if (!d->condition && !d->sources) return fail_expected(p, t, lit, pos, "FROM, WHERE");
  return 0;
}

static int parse_create_database(parser *p, ql_create_db *c) {
  c->rp_name = "";
  if (parse_ident(p, &c->name)) return p->rc;
  if (scan_ws(p, NULL, NULL) != QL_TOK_WITH) {
    unscan(p);
    return p->rc;
  }
  ql_pos pos;
  const char *lit;
  ql_tok t = scan_ws(p, &pos, &lit);
  if (p->rc) return p->rc;
  if (t != QL_TOK_DURATION && t != QL_TOK_NAME && t != QL_TOK_REPLICATION && t != QL_TOK_SHARD)
    return fail_expected(p, t, lit, pos, "DURATION, NAME, REPLICATION, SHARD");
  unscan(p);
  c->rp_create = 1;
  if (accept_tok(p, QL_TOK_DURATION)) {
    if (parse_duration_tok(p, &c->duration_ns)) return p->rc;
    c->has_duration = 1;
  }
  if (accept_tok(p, QL_TOK_REPLICATION)) {
    if (parse_int(p, 1, INT_MAX, &c->replication)) return p->rc;
    c->has_replication = 1;
  }
  if (accept_tok(p, QL_TOK_SHARD)) {
    t = scan_ws(p, &pos, &lit);
    if (p->rc) return p->rc;
    if (t != QL_TOK_DURATION) return fail_expected(p, t, lit, pos, "DURATION");
    if (parse_duration_tok(p, &c->shard_duration_ns)) return p->rc;
  }
  if (accept_tok(p, QL_TOK_NAME) && parse_ident(p, &c->rp_name)) return p->rc;
  return p->rc;
}

/* SHARD DURATION <d> after SHARD: INF is refused. */
static int parse_shard_duration(parser *p, int64_t *out) {
  ql_pos pos;
  const char *lit;
  ql_tok t = scan_ws(p, &pos, &lit);
  if (p->rc) return p->rc;
  if (t != QL_TOK_DURATION) return fail_expected(p, t, lit, pos, "DURATION");
  t = scan_ws(p, &pos, NULL);
  if (p->rc) return p->rc;
  if (t == QL_TOK_INF) return fail_at(p, pos, "invalid duration INF for shard duration");
  unscan(p);
  return parse_duration_tok(p, out);
}

static int parse_on_required(parser *p, const char **db) {
  ql_pos pos;
  const char *lit;
  ql_tok t = scan_ws(p, &pos, &lit);
  if (p->rc) return p->rc;
  if (t != QL_TOK_ON) return fail_expected(p, t, lit, pos, "ON");
  return parse_ident(p, db);
}

static int parse_create_rp(parser *p, ql_rp *rp) {
  if (parse_ident(p, &rp->name) || parse_on_required(p, &rp->db)) return p->rc;
  ql_pos pos;
  const char *lit;
  ql_tok t = scan_ws(p, &pos, &lit);
  if (p->rc) return p->rc;
  if (t != QL_TOK_DURATION) return fail_expected(p, t, lit, pos, "DURATION");
  if (parse_duration_tok(p, &rp->duration_ns)) return p->rc;
  rp->has_duration = 1;
  t = scan_ws(p, &pos, &lit);
  if (p->rc) return p->rc;
  if (t != QL_TOK_REPLICATION) return fail_expected(p, t, lit, pos, "REPLICATION");
  if (parse_int(p, 1, INT_MAX, &rp->replication)) return p->rc;
  rp->has_replication = 1;
  if (accept_tok(p, QL_TOK_SHARD)) {
    if (parse_shard_duration(p, &rp->shard_duration_ns)) return p->rc;
    rp->has_shard_duration = 1;
  }
  if (accept_tok(p, QL_TOK_DEFAULT)) rp->is_default = 1;
  return p->rc;
}

static int parse_alter_rp(parser *p, ql_rp *rp) {
  ql_pos pos;
  const char *lit;
  ql_tok t = scan_ws(p, &pos, &lit);
  if (p->rc) return p->rc;
  if (t == QL_TOK_DEFAULT) rp->name = "default";
  else if (t == QL_TOK_IDENT) rp->name = lit;
  else return fail_expected(p, t, lit, pos, "identifier");
  if (parse_on_required(p, &rp->db)) return p->rc;
  int found = 0; /* bit per option seen */
  for (;;) {
    t = scan_ws(p, &pos, &lit);
    if (p->rc) return p->rc;
    int bit = t == QL_TOK_DURATION ? 1 : t == QL_TOK_REPLICATION ? 2 : t == QL_TOK_SHARD ? 4
              : t == QL_TOK_DEFAULT ? 8 : 0;
    if (bit && (found & bit)) return fail_at(p, pos, "found duplicate %s option", ql_tok_str(t));
    switch (t) {
    case QL_TOK_DURATION:
      if (parse_duration_tok(p, &rp->duration_ns)) return p->rc;
      rp->has_duration = 1;
      break;
    case QL_TOK_REPLICATION:
      if (parse_int(p, 1, INT_MAX, &rp->replication)) return p->rc;
      rp->has_replication = 1;
      break;
    case QL_TOK_SHARD:
      if (parse_shard_duration(p, &rp->shard_duration_ns)) return p->rc;
      rp->has_shard_duration = 1;
      break;
    case QL_TOK_DEFAULT: rp->is_default = 1; break;
    default:
      if (!found)
        return fail_expected(p, t, lit, pos, "DURATION, REPLICATION, SHARD, DEFAULT");
      unscan(p);
      return 0;
    }
    found |= bit;
  }
}

/* Statements InfluxDB has and Loom does not parse: report which, at once. */
static int unsupported(parser *p, const char *what) { return fail_unsup(p, what); }

/* Statements Loom parses (so syntax errors match InfluxDB) but does not
 * execute: remembered, reported as LOOM_EUNSUP once the whole query parsed. */
static int parsed_unsupported(parser *p, ql_stmt *st, const char *what) {
  if (p->rc) return p->rc;
  if (!p->unsup) p->unsup = what;
  st->kind = QL_STMT_SHOW_OTHER;
  st->u.name = what;
  return 0;
}

static int parse_uint64(parser *p) {
  ql_pos pos;
  const char *lit;
  ql_tok t = scan_ws(p, &pos, &lit);
  if (p->rc) return p->rc;
  if (t != QL_TOK_INTEGER) return fail_expected(p, t, lit, pos, "integer");
  errno = 0;
  (void)strtoull(lit, NULL, 10);
  if (errno == ERANGE)
    return fail_at(p, pos, "strconv.ParseUint: parsing \"%s\": value out of range", lit);
  return 0;
}

/* READ | WRITE | ALL [PRIVILEGES]; *all tells which. */
static int parse_privilege(parser *p, int *all) {
  ql_pos pos;
  const char *lit;
  ql_tok t = scan_ws(p, &pos, &lit);
  if (p->rc) return p->rc;
  *all = t == QL_TOK_ALL;
  if (t == QL_TOK_READ || t == QL_TOK_WRITE) return 0;
  if (t == QL_TOK_ALL) {
    accept_tok(p, QL_TOK_PRIVILEGES);
    return p->rc;
  }
  return fail_expected(p, t, lit, pos, "READ, WRITE, ALL [PRIVILEGES]");
}

/* GRANT priv ON db TO user | GRANT ALL TO user, and REVOKE with FROM. */
static int parse_grant_revoke(parser *p, ql_stmt *st, int grant) {
  int all;
  const char *id;
  ql_tok to = grant ? QL_TOK_TO : QL_TOK_FROM;
  if (parse_privilege(p, &all)) return p->rc;
  ql_pos pos;
  const char *lit;
  ql_tok t = scan_ws(p, &pos, &lit);
  if (p->rc) return p->rc;
  if (t == QL_TOK_ON) {
    if (parse_ident(p, &id)) return p->rc;
    t = scan_ws(p, &pos, &lit);
    if (p->rc) return p->rc;
    if (t != to) return fail_expected(p, t, lit, pos, ql_tok_str(to));
  } else if (t == to) {
    if (!all) return fail_expected(p, t, lit, pos, "ON");
  } else {
    return fail_expected(p, t, lit, pos, all ? (grant ? "ON, TO" : "ON, FROM") : "ON");
  }
  if (parse_ident(p, &id)) return p->rc;
  return parsed_unsupported(p, st, grant ? "GRANT" : "REVOKE");
}

static int parse_create_user(parser *p, ql_stmt *st) {
  const char *id;
  if (parse_ident(p, &id) || expect_tok(p, QL_TOK_WITH) || expect_tok(p, QL_TOK_PASSWORD) ||
      parse_string(p, &id))
    return p->rc;
  if (accept_tok(p, QL_TOK_WITH) &&
      (expect_tok(p, QL_TOK_ALL) || expect_tok(p, QL_TOK_PRIVILEGES)))
    return p->rc;
  return parsed_unsupported(p, st, "CREATE USER");
}

static int parse_set_password(parser *p, ql_stmt *st) {
  const char *id;
  if (parse_ident(p, &id)) return p->rc;
  ql_pos pos;
  const char *lit;
  ql_tok t = scan_ws(p, &pos, &lit);
  if (p->rc) return p->rc;
  if (t != QL_TOK_EQ) return fail_expected(p, t, lit, pos, "=");
  if (parse_string(p, &id)) return p->rc;
  return parsed_unsupported(p, st, "SET PASSWORD");
}

/* name ON db . rp (subscriptions); the dot must follow immediately. */
static int parse_sub_target(parser *p) {
  const char *id;
  if (parse_ident(p, &id) || parse_on_required(p, &id)) return p->rc;
  ql_pos pos;
  const char *lit;
  ql_tok t = scan(p, &pos, &lit);
  if (p->rc) return p->rc;
  if (t != QL_TOK_DOT) return fail_expected(p, t, lit, pos, ".");
  return parse_ident(p, &id);
}

static int parse_create_subscription(parser *p, ql_stmt *st) {
  if (parse_sub_target(p) || expect_tok(p, QL_TOK_DESTINATIONS)) return p->rc;
  ql_pos pos;
  const char *lit;
  ql_tok t = scan_ws(p, &pos, &lit);
  if (p->rc) return p->rc;
  if (t != QL_TOK_ALL && t != QL_TOK_ANY) return fail_expected(p, t, lit, pos, "ALL, ANY");
  const char *dest;
  if (parse_string(p, &dest)) return p->rc;
  while (accept_tok(p, QL_TOK_COMMA))
    if (parse_string(p, &dest)) return p->rc;
  return parsed_unsupported(p, st, "CREATE SUBSCRIPTION");
}

static int parse_show(parser *p, ql_stmt *st) {
  ql_pos pos;
  const char *lit;
  ql_tok t = scan_ws(p, &pos, &lit);
  if (p->rc) return p->rc;
  ql_show *sh = &st->u.show;
  sh->db = "";
  switch (t) {
  case QL_TOK_CONTINUOUS:
    if (expect_tok(p, QL_TOK_QUERIES)) return p->rc;
    st->kind = QL_STMT_SHOW_OTHER;
    st->u.name = "CONTINUOUS QUERIES";
    return 0;
  case QL_TOK_DATABASES: st->kind = QL_STMT_SHOW_DATABASES; return 0;
  case QL_TOK_DIAGNOSTICS:
  case QL_TOK_STATS:
    st->kind = QL_STMT_SHOW_OTHER;
    st->u.name = t == QL_TOK_STATS ? "STATS" : "DIAGNOSTICS";
    if (accept_tok(p, QL_TOK_FOR)) {
      const char *module;
      return parse_string(p, &module);
    }
    return p->rc;
  case QL_TOK_FIELD:
    t = scan_ws(p, &pos, &lit);
    if (p->rc) return p->rc;
    if (t == QL_TOK_KEY) {
      st->kind = QL_STMT_SHOW_CARDINALITY;
      return parse_card_exact_opt(p, sh, QL_CARD_FIELD_KEY);
    }
    if (t == QL_TOK_KEYS) {
      st->kind = QL_STMT_SHOW_FIELD_KEYS;
      return parse_show_field_keys(p, sh);
    }
    return fail_expected(p, t, lit, pos, "KEY, KEYS");
  case QL_TOK_GRANTS: {
    const char *id;
    if (expect_tok(p, QL_TOK_FOR) || parse_ident(p, &id)) return p->rc;
    return parsed_unsupported(p, st, "SHOW GRANTS");
  }
  case QL_TOK_MEASUREMENT:
    t = scan_ws(p, &pos, &lit);
    if (p->rc) return p->rc;
    if (t != QL_TOK_EXACT && t != QL_TOK_CARDINALITY)
      return fail_expected(p, t, lit, pos, "EXACT, CARDINALITY");
    st->kind = QL_STMT_SHOW_CARDINALITY;
    sh->card_what = QL_CARD_MEASUREMENT;
    if (t == QL_TOK_EXACT) {
      sh->exact = 1;
      t = scan_ws(p, &pos, &lit);
      if (p->rc) return p->rc;
      if (t != QL_TOK_CARDINALITY) return fail_expected(p, t, lit, pos, "CARDINALITY");
    }
    return parse_cardinality_tail(p, sh);
  case QL_TOK_MEASUREMENTS:
    st->kind = QL_STMT_SHOW_MEASUREMENTS;
    return parse_show_measurements(p, sh);
  case QL_TOK_QUERIES: st->kind = QL_STMT_SHOW_OTHER; st->u.name = "QUERIES"; return 0;
  case QL_TOK_RETENTION:
    if (expect_tok(p, QL_TOK_POLICIES)) return p->rc;
    st->kind = QL_STMT_SHOW_RETENTION_POLICIES;
    st->u.name = "";
    if (accept_tok(p, QL_TOK_ON)) return parse_ident(p, &st->u.name);
    return p->rc;
  case QL_TOK_SERIES: return parse_show_series(p, st);
  case QL_TOK_SHARD:
    if (expect_tok(p, QL_TOK_GROUPS)) return p->rc;
    st->kind = QL_STMT_SHOW_OTHER;
    st->u.name = "SHARD GROUPS";
    return 0;
  case QL_TOK_SHARDS: st->kind = QL_STMT_SHOW_OTHER; st->u.name = "SHARDS"; return 0;
  case QL_TOK_SUBSCRIPTIONS:
    st->kind = QL_STMT_SHOW_OTHER;
    st->u.name = "SUBSCRIPTIONS";
    return 0;
  case QL_TOK_TAG:
    t = scan_ws(p, &pos, &lit);
    if (p->rc) return p->rc;
    if (t == QL_TOK_KEY) {
      st->kind = QL_STMT_SHOW_CARDINALITY;
      return parse_card_exact_opt(p, sh, QL_CARD_TAG_KEY);
    }
    if (t == QL_TOK_KEYS) {
      st->kind = QL_STMT_SHOW_TAG_KEYS;
      return parse_show_tag_keys(p, sh);
    }
    if (t == QL_TOK_VALUES) return parse_show_tag_values(p, st);
    return fail_expected(p, t, lit, pos, "KEY, KEYS, VALUES");
  case QL_TOK_USERS: st->kind = QL_STMT_SHOW_OTHER; st->u.name = "USERS"; return 0;
  default:
    return fail_expected(p, t, lit, pos,
                         "CONTINUOUS, DATABASES, DIAGNOSTICS, FIELD, GRANTS, MEASUREMENT, "
                         "MEASUREMENTS, QUERIES, RETENTION, SERIES, SHARD, SHARDS, STATS, "
                         "SUBSCRIPTIONS, TAG, USERS");
  }
}

static int parse_create(parser *p, ql_stmt *st) {
  ql_pos pos;
  const char *lit;
  ql_tok t = scan_ws(p, &pos, &lit);
  if (p->rc) return p->rc;
  switch (t) {
  case QL_TOK_CONTINUOUS:
    if (expect_tok(p, QL_TOK_QUERY)) return p->rc;
    return unsupported(p, "CREATE CONTINUOUS QUERY");
  case QL_TOK_DATABASE:
    st->kind = QL_STMT_CREATE_DATABASE;
    return parse_create_database(p, &st->u.db);
  case QL_TOK_USER: return parse_create_user(p, st);
  case QL_TOK_RETENTION:
    if (expect_tok(p, QL_TOK_POLICY)) return p->rc;
    st->kind = QL_STMT_CREATE_RP;
    return parse_create_rp(p, &st->u.rp);
  case QL_TOK_SUBSCRIPTION: return parse_create_subscription(p, st);
  default:
    return fail_expected(p, t, lit, pos, "CONTINUOUS, DATABASE, USER, RETENTION, SUBSCRIPTION");
  }
}

static int parse_drop(parser *p, ql_stmt *st) {
  ql_pos pos;
  const char *lit;
  ql_tok t = scan_ws(p, &pos, &lit);
  if (p->rc) return p->rc;
  switch (t) {
  case QL_TOK_CONTINUOUS: {
    const char *id;
    if (expect_tok(p, QL_TOK_QUERY) || parse_ident(p, &id) || parse_on_required(p, &id))
      return p->rc;
    return parsed_unsupported(p, st, "DROP CONTINUOUS QUERY");
  }
  case QL_TOK_DATABASE:
    st->kind = QL_STMT_DROP_DATABASE;
    return parse_ident(p, &st->u.name);
  case QL_TOK_MEASUREMENT:
    st->kind = QL_STMT_DROP_MEASUREMENT;
    return parse_ident(p, &st->u.name);
  case QL_TOK_RETENTION:
    if (expect_tok(p, QL_TOK_POLICY)) return p->rc;
    st->kind = QL_STMT_DROP_RP;
    return parse_ident(p, &st->u.rp.name) || parse_on_required(p, &st->u.rp.db) ? p->rc : 0;
  case QL_TOK_SERIES:
    st->kind = QL_STMT_DROP_SERIES;
    return parse_delete_like(p, &st->u.del);
  case QL_TOK_SHARD:
    if (parse_uint64(p)) return p->rc;
    return parsed_unsupported(p, st, "DROP SHARD");
  case QL_TOK_SUBSCRIPTION:
    if (parse_sub_target(p)) return p->rc;
    return parsed_unsupported(p, st, "DROP SUBSCRIPTION");
  case QL_TOK_USER: {
    const char *id;
    if (parse_ident(p, &id)) return p->rc;
    return parsed_unsupported(p, st, "DROP USER");
  }
  default:
    return fail_expected(p, t, lit, pos,
                         "CONTINUOUS, DATABASE, MEASUREMENT, RETENTION, SERIES, SHARD, "
                         "SUBSCRIPTION, USER");
  }
}

static int parse_statement(parser *p, ql_stmt *st) {
  ql_pos pos;
  const char *lit;
  ql_tok t = scan_ws(p, &pos, &lit);
  if (p->rc) return p->rc;
  switch (t) {
  case QL_TOK_SELECT:
    st->kind = QL_STMT_SELECT;
    return parse_select(p, TARGET_NOT_REQUIRED, &st->u.select);
  case QL_TOK_DELETE:
    st->kind = QL_STMT_DELETE;
    return parse_delete_like(p, &st->u.del);
  case QL_TOK_SHOW: return parse_show(p, st);
  case QL_TOK_CREATE: return parse_create(p, st);
  case QL_TOK_DROP: return parse_drop(p, st);
  case QL_TOK_EXPLAIN:
    st->kind = QL_STMT_EXPLAIN;
    if (accept_tok(p, QL_TOK_ANALYZE)) st->u.explain.analyze = 1;
    if (p->rc || expect_tok(p, QL_TOK_SELECT)) return p->rc;
    return parse_select(p, TARGET_NOT_REQUIRED, &st->u.explain.select);
  case QL_TOK_GRANT: return parse_grant_revoke(p, st, 1);
  case QL_TOK_REVOKE: return parse_grant_revoke(p, st, 0);
  case QL_TOK_ALTER:
    if (expect_tok(p, QL_TOK_RETENTION) || expect_tok(p, QL_TOK_POLICY)) return p->rc;
    st->kind = QL_STMT_ALTER_RP;
    return parse_alter_rp(p, &st->u.rp);
  case QL_TOK_SET:
    if (expect_tok(p, QL_TOK_PASSWORD) || expect_tok(p, QL_TOK_FOR)) return p->rc;
    return parse_set_password(p, st);
  case QL_TOK_KILL:
    if (expect_tok(p, QL_TOK_QUERY) || parse_uint64(p)) return p->rc;
    if (accept_tok(p, QL_TOK_ON)) {
      const char *host;
      if (parse_ident(p, &host)) return p->rc;
    }
    return parsed_unsupported(p, st, "KILL QUERY");
  default:
    return fail_expected(p, t, lit, pos,
                         "SELECT, DELETE, SHOW, CREATE, DROP, EXPLAIN, GRANT, REVOKE, ALTER, "
                         "SET, KILL");
  }
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
    ql_tok t = scan_ws(&p, &pos, &lit);
    if (p.rc) break;
    if (t == QL_TOK_EOF) break;
    if (t == QL_TOK_SEMICOLON) {
      semi = 1;
      continue;
    }
    if (!semi) {
      fail_expected(&p, t, lit, pos, ";");
      break;
    }
    unscan(&p);
    ql_stmt *st = vec_push(&p, (void **)&q->stmts, &q->n_stmts, &cap, sizeof(*st));
    if (!st) break;
    if (parse_statement(&p, st)) break;
    semi = 0;
  }
  if (!p.rc && p.unsup) fail_unsup(&p, p.unsup);
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
  if (parse_regex(&p, &e)) return p.rc;
  if (!e && parse_expr(&p, &e)) return p.rc;
  ql_pos pos;
  const char *lit;
  ql_tok t = scan_ws(&p, &pos, &lit);
  if (p.rc) return p.rc;
  if (t != QL_TOK_EOF) return fail_expected(&p, t, lit, pos, "EOF");
  *out = e;
  return 0;
}

/* ---- printing ---------------------------------------------------------- */

const char *ql_cast_name(ql_cast c) {
  switch (c) {
  case QL_CAST_FLOAT: return "float";
  case QL_CAST_INTEGER: return "integer";
  case QL_CAST_UNSIGNED: return "unsigned";
  case QL_CAST_STRING: return "string";
  case QL_CAST_BOOLEAN: return "boolean";
  case QL_CAST_FIELD: return "field";
  case QL_CAST_TAG: return "tag";
  default: return "";
  }
}

int ql_expr_format(const ql_expr *e, loom_buf *b) {
  int rc = 0;
  char tmp[64];
  if (!e) return 0;
  switch (e->kind) {
  case QL_EXPR_NUMBER:
    if (e->u.num.type == QL_NUM_FLOAT) return loom_buf_printf(b, "%.3f", e->u.num.f);
    if (e->u.num.type == QL_NUM_INT) return loom_buf_printf(b, "%lld", (long long)e->u.num.i);
    return loom_buf_printf(b, "%llu", (unsigned long long)e->u.num.u);
  case QL_EXPR_STRING:
    if ((rc = loom_buf_append_str(b, "'")) || (rc = append_escaped(b, e->u.str, '\''))) return rc;
    return loom_buf_append_str(b, "'");
  case QL_EXPR_BOOL: return loom_buf_append_str(b, e->u.boolean ? "true" : "false");
  case QL_EXPR_REGEX:
    if ((rc = loom_buf_append_str(b, "/"))) return rc;
    for (const char *s = e->u.str; *s && !rc; s++)
      rc = *s == '/' ? loom_buf_append_str(b, "\\/") : loom_buf_append(b, s, 1);
    return rc ? rc : loom_buf_append_str(b, "/");
  case QL_EXPR_DURATION:
    ql_duration_format(e->u.duration_ns, tmp, sizeof(tmp));
    return loom_buf_append_str(b, tmp);
  case QL_EXPR_IDENT:
    if ((rc = quote_ident(b, e->u.ident.name))) return rc;
    if (e->u.ident.cast != QL_CAST_NONE)
      rc = loom_buf_printf(b, "::%s", ql_cast_name(e->u.ident.cast));
    return rc;
  case QL_EXPR_CALL:
    if (ql_ident_needs_quotes(e->u.call.name) && strcmp(e->u.call.name, "distinct"))
      rc = quote_ident(b, e->u.call.name);
    else
      rc = loom_buf_append_str(b, e->u.call.name);
    if (rc || (rc = loom_buf_append_str(b, "("))) return rc;
    for (size_t i = 0; i < e->u.call.n_args; i++) {
      if (i && (rc = loom_buf_append_str(b, ", "))) return rc;
      if ((rc = ql_expr_format(e->u.call.args[i], b))) return rc;
    }
    return loom_buf_append_str(b, ")");
  case QL_EXPR_BINARY:
    if ((rc = ql_expr_format(e->u.bin.lhs, b))) return rc;
    if ((rc = loom_buf_printf(b, " %s ", ql_op_str(e->u.bin.op)))) return rc;
    return ql_expr_format(e->u.bin.rhs, b);
  case QL_EXPR_PAREN:
    if ((rc = loom_buf_append_str(b, "(")) || (rc = ql_expr_format(e->u.paren, b))) return rc;
    return loom_buf_append_str(b, ")");
  case QL_EXPR_WILDCARD:
    return loom_buf_append_str(b, e->u.wildcard == QL_CAST_FIELD ? "*::field"
                                  : e->u.wildcard == QL_CAST_TAG ? "*::tag"
                                                                 : "*");
  case QL_EXPR_DISTINCT:
    if ((rc = loom_buf_append_str(b, "DISTINCT "))) return rc;
    return quote_ident(b, e->u.str);
  }
  return 0;
}

/* ---- column names ------------------------------------------------------ */

/* BinaryExprName: names of variables and calls, left to right. */
static int binary_names(const ql_expr *e, loom_buf *b, int *first) {
  const char *name = NULL;
  int rc = 0;
  switch (e->kind) {
  case QL_EXPR_IDENT: name = e->u.ident.name; break;
  case QL_EXPR_CALL: name = e->u.call.name; break;
  case QL_EXPR_BINARY:
    if ((rc = binary_names(e->u.bin.lhs, b, first))) return rc;
    return binary_names(e->u.bin.rhs, b, first);
  case QL_EXPR_PAREN: return binary_names(e->u.paren, b, first);
  default: return 0;
  }
  if (!*first && (rc = loom_buf_append_str(b, "_"))) return rc;
  *first = 0;
  return loom_buf_append_str(b, name);
}

static int expr_name(const ql_expr *e, loom_buf *b) {
  int first = 1;
  switch (e->kind) {
  case QL_EXPR_CALL: return loom_buf_append_str(b, e->u.call.name);
  case QL_EXPR_BINARY: return binary_names(e, b, &first);
  case QL_EXPR_PAREN: return expr_name(e->u.paren, b);
  case QL_EXPR_IDENT: return loom_buf_append_str(b, e->u.ident.name);
  default: return 0;
  }
}

int ql_field_column_name(const ql_field *f, loom_buf *b) {
  if (f->alias && f->alias[0]) return loom_buf_append_str(b, f->alias);
  return f->expr ? expr_name(f->expr, b) : 0;
}

/* Count of a name in the "names" map of ColumnNames; a linear table is fine
 * for the handful of columns a query has. */
typedef struct name_count {
  const char *name;
  long count;
} name_count;

static name_count *nc_find(name_count *t, size_t n, const char *name) {
  for (size_t i = 0; i < n; i++)
    if (!strcmp(t[i].name, name)) return &t[i];
  return NULL;
}

int ql_column_names(const ql_field *fields, size_t n, const char *time_name, ql_arena *arena,
                    const char ***out, size_t *n_out) {
  size_t off = time_name ? 1 : 0;
  int rc = LOOM_ENOMEM;
  loom_buf b;
  loom_buf_init(&b);
  /* Each field adds at most one new name and one resolved name. */
  name_count *names = loom_calloc(2 * n + 1, sizeof(*names));
  size_t n_names = 0;
  const char **cols = ql_arena_alloc(arena, (n + off + 1) * sizeof(*cols));
  if (!names || !cols) goto done;
  if (time_name) cols[0] = time_name;
  for (size_t i = 0; i < n; i++) {
    if (fields[i].alias && fields[i].alias[0]) {
      cols[i + off] = fields[i].alias;
      name_count *c = nc_find(names, n_names, fields[i].alias);
      if (!c) {
        c = &names[n_names++];
        c->name = fields[i].alias;
      }
      c->count = 1;
    }
  }
  for (size_t i = 0; i < n; i++) {
    if (cols[i + off]) continue;
    loom_buf_reset(&b);
    if (ql_field_column_name(&fields[i], &b) || loom_buf_cstr(&b)) goto done;
    const char *name = ql_arena_strndup(arena, b.len ? (const char *)b.data : "", b.len);
    if (!name) goto done;
    name_count *c = nc_find(names, n_names, name);
    if (c) {
      long count = c->count;
      for (;;) {
        char *resolved = NULL;
        loom_buf_reset(&b);
        if (loom_buf_printf(&b, "%s_%ld", name, count) || loom_buf_cstr(&b)) goto done;
        if (!nc_find(names, n_names, (const char *)b.data)) {
          resolved = ql_arena_strndup(arena, (const char *)b.data, b.len);
          if (!resolved) goto done;
          c->count = count + 1;
          name = resolved;
          break;
        }
        count++;
      }
    }
    c = nc_find(names, n_names, name);
    if (!c) {
      c = &names[n_names++];
      c->name = name;
    }
    c->count++;
    cols[i + off] = name;
  }
  *out = cols;
  *n_out = n + off;
  rc = 0;
done:
  loom_free(names);
  loom_buf_deinit(&b);
  return rc;
}
