/* SPDX-License-Identifier: Apache-2.0
 * Internal interface shared by the parser's files: ql_parse.c (token stream,
 * expressions, SELECT, entry points), ql_stmt.c (the other statements) and
 * ql_format.c (printing, column names). Not for use outside these files.
 * Every qlp_ function that returns int returns 0 or the parser's first error
 * (p->rc); once an error is recorded, later ones are ignored.
 */
#ifndef LOOM_QUERY_QL_PARSE_INT_H
#define LOOM_QUERY_QL_PARSE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "query/ql_ast.h"
#include "query/ql_lex.h"
#include "query/ql_parse.h"

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

/* Errors, with InfluxDB's texts: "found X, expected Y at line L, char C",
 * a message at a position, a plain message, EUNSUP, out of memory. */
int qlp_fail_expected(parser *p, ql_tok t, const char *lit, ql_pos pos, const char *expected);
__attribute__((format(printf, 3, 4))) int qlp_fail_at(parser *p, ql_pos pos, const char *fmt, ...);
__attribute__((format(printf, 2, 3))) int qlp_fail_msg(parser *p, const char *fmt, ...);
int qlp_fail_unsup(parser *p, const char *what);
int qlp_fail_oom(parser *p);

/* Token stream: scan (whitespace is a token), scan skipping blanks and
 * comments, put back (up to 3), require one token, take it only if it matches. */
ql_tok qlp_scan(parser *p, ql_pos *pos, const char **lit);
ql_tok qlp_scan_ws(parser *p, ql_pos *pos, const char **lit);
void qlp_unscan(parser *p);
/* Scan the next token (skipping white space): true if it is `want`, else put it back
 * and return false (p->rc tells whether scanning failed). */
bool qlp_accept(parser *p, ql_tok want);
int qlp_expect_tok(parser *p, ql_tok want);
int qlp_accept_tok(parser *p, ql_tok want);

/* Arena allocation (zeroed); NULL after recording LOOM_ENOMEM. vec_push
 * appends one esz-byte slot to a doubling arena array and returns it. */
void *qlp_palloc(parser *p, size_t n);
ql_expr *qlp_new_expr(parser *p, ql_expr_kind kind);
void *qlp_vec_push(parser *p, void **arr, size_t *n, size_t *cap, size_t esz);

/* InfluxDB's QuoteIdent over segments joined by '.'. */
int qlp_quote_ident_segs(loom_buf *b, const char *const *segs, size_t n);

/* Leaf parsers as InfluxDB's ParseIdent, ParseIdentList, parseString,
 * ParseInt(min, max), ParseDuration (DURATIONVAL or INF) and parseRegex
 * (which leaves *out NULL when the next rune is not '/'). */
int qlp_ident(parser *p, const char **out);
int qlp_ident_list(parser *p, const char ***out, size_t *n);
int qlp_string(parser *p, const char **out);
int qlp_int(parser *p, long long min, long long max, int *out);
int qlp_duration_tok(parser *p, int64_t *out);
ql_op qlp_tok_to_op(ql_tok t);
int qlp_regex(parser *p, ql_expr **out);

/* Clauses: FROM sources, WHERE, GROUP BY, LIMIT-style "<TOKEN> n",
 * ORDER BY, and a SELECT statement after its SELECT keyword. */
int qlp_source(parser *p, int subqueries, ql_source *src);
int qlp_sources(parser *p, int subqueries, ql_source **out, size_t *n);
int qlp_condition(parser *p, ql_expr **out);
int qlp_dimensions(parser *p, ql_expr ***out, size_t *n);
int qlp_opt_int(parser *p, ql_tok want, int64_t *out);
int qlp_order_by(parser *p, int *has, int *desc, const char **field);
int qlp_select(parser *p, target_req tr, ql_select **out);

/* One statement of any kind (ql_stmt.c). */
int qlp_statement(parser *p, ql_stmt *st);

#endif
