/* SPDX-License-Identifier: Apache-2.0
 * libFuzzer target for the InfluxQL parser: arbitrary text must never crash
 * or leak. When it parses, every top-level expression (field, condition,
 * dimension) is printed back with ql_expr_format() and re-parsed with
 * ql_parse_expr(); the re-parsed expression must print identically (printing
 * is a fixed point). Subtrees are not re-parsed alone: a regex operand, for
 * one, is only valid on the right of =~.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "query/ql_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_expr(const ql_expr *e) {
  if (!e) return;
  loom_buf a, b;
  loom_buf_init(&a);
  loom_buf_init(&b);
  if (ql_expr_format(e, &a) || loom_buf_cstr(&a)) abort();
  const char *text = a.len ? (const char *)a.data : "";
  ql_arena arena;
  ql_arena_init(&arena);
  ql_expr *back;
  char err[512];
  if (ql_parse_expr(text, a.len, &arena, &back, err, sizeof(err))) {
    fprintf(stderr, "printed expression does not re-parse: <%s>: %s\n", text, err);
    abort();
  }
  if (ql_expr_format(back, &b) || loom_buf_cstr(&b)) abort();
  if (a.len != b.len || memcmp(a.data, b.data, a.len)) {
    fprintf(stderr, "printing is not a fixed point: <%s> -> <%s>\n", text, (const char *)b.data);
    abort();
  }
  ql_arena_deinit(&arena);
  loom_buf_deinit(&a);
  loom_buf_deinit(&b);
}

static void check_select(const ql_select *s);

static void check_sources(const ql_source *src, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (src[i].subquery) check_select(src[i].subquery);
}

static void check_select(const ql_select *s) {
  if (!s) return;
  for (size_t i = 0; i < s->n_fields; i++) check_expr(s->fields[i].expr);
  check_expr(s->condition);
  for (size_t i = 0; i < s->n_dimensions; i++) check_expr(s->dimensions[i]);
  check_sources(s->sources, s->n_sources);
  ql_arena arena;
  ql_arena_init(&arena);
  const char **cols;
  size_t n;
  if (ql_column_names(s->fields, s->n_fields, "time", &arena, &cols, &n)) abort();
  if (n != s->n_fields + 1) abort();
  ql_arena_deinit(&arena);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ql_query *q;
  char err[512];
  if (ql_parse((const char *)data, size, &q, err, sizeof(err))) return 0;
  for (size_t i = 0; i < q->n_stmts; i++) {
    const ql_stmt *st = &q->stmts[i];
    switch (st->kind) {
    case QL_STMT_SELECT: check_select(st->u.select); break;
    case QL_STMT_EXPLAIN: check_select(st->u.explain.select); break;
    case QL_STMT_DELETE:
    case QL_STMT_DROP_SERIES: check_expr(st->u.del.condition); break;
    case QL_STMT_SHOW_MEASUREMENTS:
    case QL_STMT_SHOW_TAG_KEYS:
    case QL_STMT_SHOW_TAG_VALUES:
    case QL_STMT_SHOW_FIELD_KEYS:
    case QL_STMT_SHOW_SERIES:
    case QL_STMT_SHOW_CARDINALITY:
      check_expr(st->u.show.condition);
      for (size_t k = 0; k < st->u.show.n_dimensions; k++) check_expr(st->u.show.dimensions[k]);
      break;
    default: break;
    }
  }
  ql_query_free(q);
  return 0;
}
