/* SPDX-License-Identifier: Apache-2.0
 * Unit tests for the InfluxQL lexer and parser (query/ql_lex.h, ql_parse.h):
 * the TSBS queries and documentation examples parse into the expected AST,
 * error messages are byte-for-byte those of InfluxDB 1.6.7 (recorded from a
 * real server), expressions print back as InfluxDB prints them, and result
 * column names follow InfluxDB's rules.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/mem.h"
#include "query/ql_lex.h"
#include "query/ql_parse.h"

static ql_query *parse_ok(const char *text) {
  ql_query *q = NULL;
  char err[512];
  int rc = ql_parse(text, strlen(text), &q, err, sizeof(err));
  if (rc) fail_msg("parse failed for <%s>: %s", text, err);
  return q;
}

static ql_select *select1(ql_query *q) {
  assert_int_equal(q->n_stmts, 1);
  assert_int_equal(q->stmts[0].kind, QL_STMT_SELECT);
  return q->stmts[0].u.select;
}

/* Print an expression into a static-lifetime-free buffer the caller frees. */
static char *fmt(const ql_expr *e) {
  loom_buf b;
  loom_buf_init(&b);
  assert_int_equal(ql_expr_format(e, &b), 0);
  assert_int_equal(loom_buf_cstr(&b), 0);
  char *s = loom_strdup(b.len ? (const char *)b.data : "");
  loom_buf_deinit(&b);
  return s;
}

static void assert_fmt(const ql_expr *e, const char *want) {
  char *s = fmt(e);
  assert_string_equal(s, want);
  loom_free(s);
}

/* ---- TSBS and documentation queries ------------------------------------ */

static void test_tsbs_queries_parse(void **state) {
  (void)state;
  static const char *const qs[] = {
      "SELECT max(usage_user) from cpu where (hostname = 'host_249') and time >= "
      "'2016-01-01T08:40:38Z' and time < '2016-01-01T09:40:38Z' group by time(1m)",
      "SELECT max(usage_user),max(usage_system),max(usage_idle),max(usage_nice),max(usage_iowait)"
      " from cpu where (hostname = 'host_249' or hostname = 'host_1') and time >= "
      "'2016-01-01T08:40:38Z' and time < '2016-01-01T20:40:38Z' group by time(1h)",
      "SELECT mean(usage_user),mean(usage_system) from cpu where time >= '2016-01-01T08:40:38Z' "
      "and time < '2016-01-01T20:40:38Z' group by time(1h),hostname",
      "SELECT * from cpu where usage_user > 90.0 and time >= '2016-01-01T08:40:38Z' and time < "
      "'2016-01-01T20:40:38Z'",
      "SELECT * from cpu where (hostname = 'host_1') and usage_user > 90.0 and time >= "
      "'2016-01-01T08:40:38Z' and time < '2016-01-01T20:40:38Z'",
      "SELECT last(*) from cpu group by \"hostname\"",
      "SELECT max(usage_user) from cpu where time < '2016-01-01T20:40:38Z' group by time(1m) "
      "order by time desc limit 5",
      "SELECT \"name\", \"driver\", \"latitude\", \"longitude\" FROM \"readings\" WHERE "
      "\"fleet\"='South' GROUP BY \"name\",\"driver\" ORDER BY time LIMIT 1",
      "SELECT mean(usage_user) from cpu where time >= '2016-01-01T08:40:38Z' and time < "
      "'2016-01-01T20:40:38Z' group by time(1h)",
      "SELECT max(usage_user) from cpu where (hostname = 'host_249' or hostname = 'host_1' or "
      "hostname = 'host_2' or hostname = 'host_3') and time >= '2016-01-01T08:40:38Z' and time < "
      "'2016-01-01T08:45:38Z' group by time(1m)",
      "SELECT mean(usage_user) FROM cpu WHERE time >= '2016-01-01T08:40:38Z' AND time < "
      "'2016-01-01T20:40:38Z' GROUP BY time(1h),hostname ORDER BY time",
      "SELECT \"latitude\", \"longitude\" FROM \"readings\" WHERE \"fleet\"='East' AND time > "
      "now() - 10m GROUP BY \"name\" ORDER BY time DESC LIMIT 1",
      "SELECT count(\"status\") FROM \"diagnostics\" WHERE \"fleet\"='West' AND time >= "
      "'2016-01-01T00:00:00Z' GROUP BY time(10m), \"name\" fill(0)",
      "SELECT mean(\"fuel_state\") AS mean_fuel FROM \"diagnostics\" WHERE time > now() - 1h "
      "GROUP BY \"fleet\", time(10m) fill(none)",
  };
  for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
    ql_query *q = parse_ok(qs[i]);
    assert_int_equal(q->stmts[0].kind, QL_STMT_SELECT);
    ql_query_free(q);
  }
}

static void test_select_structure(void **state) {
  (void)state;
  ql_query *q = parse_ok(
      "SELECT max(usage_user) from cpu where time < '2016-01-01T20:40:38Z' group by time(1m) "
      "order by time desc limit 5");
  ql_select *s = select1(q);
  assert_int_equal(s->n_fields, 1);
  assert_int_equal(s->fields[0].expr->kind, QL_EXPR_CALL);
  assert_string_equal(s->fields[0].expr->u.call.name, "max");
  assert_int_equal(s->fields[0].expr->u.call.n_args, 1);
  assert_string_equal(s->fields[0].expr->u.call.args[0]->u.ident.name, "usage_user");
  assert_int_equal(s->n_sources, 1);
  assert_string_equal(s->sources[0].m.name, "cpu");
  assert_string_equal(s->sources[0].m.db, "");
  assert_null(s->sources[0].m.regex);
  assert_non_null(s->condition);
  assert_int_equal(s->condition->kind, QL_EXPR_BINARY);
  assert_int_equal(s->condition->u.bin.op, QL_OP_LT);
  assert_int_equal(s->condition->u.bin.rhs->kind, QL_EXPR_STRING);
  assert_string_equal(s->condition->u.bin.rhs->u.str, "2016-01-01T20:40:38Z");
  assert_int_equal(s->n_dimensions, 1);
  assert_fmt(s->dimensions[0], "time(1m)");
  assert_true(s->has_order);
  assert_true(s->order_desc);
  assert_string_equal(s->order_field, "time");
  assert_int_equal(s->limit, 5);
  assert_int_equal(s->offset, 0);
  assert_false(s->is_raw);
  assert_int_equal(s->fill, QL_FILL_NULL);
  assert_null(s->tz);
  ql_query_free(q);
}

static void test_select_clauses(void **state) {
  (void)state;
  ql_query *q = parse_ok(
      "SELECT v AS \"the v\", w FROM \"my db\".\"my rp\".\"m 1\", db..m2, rp.m3, /cp.*/ "
      "WHERE time > now() - 1h GROUP BY time(10s, -5s), \"host name\", * fill(-1.5) "
      "LIMIT 10 OFFSET 5 SLIMIT 2 SOFFSET 1 tz('America/Chicago')");
  ql_select *s = select1(q);
  assert_int_equal(s->n_fields, 2);
  assert_string_equal(s->fields[0].alias, "the v");
  assert_string_equal(s->fields[1].alias, "");
  assert_true(s->is_raw);
  assert_int_equal(s->n_sources, 4);
  assert_string_equal(s->sources[0].m.db, "my db");
  assert_string_equal(s->sources[0].m.rp, "my rp");
  assert_string_equal(s->sources[0].m.name, "m 1");
  assert_string_equal(s->sources[1].m.db, "db");
  assert_string_equal(s->sources[1].m.rp, "");
  assert_string_equal(s->sources[1].m.name, "m2");
  assert_string_equal(s->sources[2].m.rp, "rp");
  assert_string_equal(s->sources[2].m.name, "m3");
  assert_string_equal(s->sources[3].m.regex, "cp.*");
  assert_int_equal(s->n_dimensions, 3);
  assert_fmt(s->dimensions[0], "time(10s, -5s)");
  assert_int_equal(s->dimensions[1]->kind, QL_EXPR_IDENT);
  assert_string_equal(s->dimensions[1]->u.ident.name, "host name");
  assert_int_equal(s->dimensions[2]->kind, QL_EXPR_WILDCARD);
  assert_int_equal(s->fill, QL_FILL_NUMBER);
  assert_int_equal(s->fill_value->u.num.type, QL_NUM_FLOAT);
  assert_true(s->fill_value->u.num.f == -1.5);
  assert_int_equal(s->limit, 10);
  assert_int_equal(s->offset, 5);
  assert_int_equal(s->slimit, 2);
  assert_int_equal(s->soffset, 1);
  assert_string_equal(s->tz, "America/Chicago");
  ql_query_free(q);
}

static void test_fill_options(void **state) {
  (void)state;
  static const struct {
    const char *q;
    ql_fill fill;
  } cases[] = {
      {"SELECT mean(v) FROM m GROUP BY time(1m) fill(none)", QL_FILL_NONE},
      {"SELECT mean(v) FROM m GROUP BY time(1m) fill(null)", QL_FILL_NULL},
      {"SELECT mean(v) FROM m GROUP BY time(1m) fill(previous)", QL_FILL_PREVIOUS},
      {"SELECT mean(v) FROM m GROUP BY time(1m) fill(linear)", QL_FILL_LINEAR},
      {"SELECT mean(v) FROM m GROUP BY time(1m) fill(0)", QL_FILL_NUMBER},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    ql_query *q = parse_ok(cases[i].q);
    assert_int_equal(select1(q)->fill, cases[i].fill);
    ql_query_free(q);
  }
  ql_query *q = parse_ok("SELECT mean(v) FROM m GROUP BY time(1m) fill(100)");
  assert_int_equal(select1(q)->fill_value->u.num.type, QL_NUM_INT);
  assert_int_equal(select1(q)->fill_value->u.num.i, 100);
  ql_query_free(q);
}

static void test_multiple_statements_and_comments(void **state) {
  (void)state;
  ql_query *q = parse_ok("SELECT v FROM cpu -- first\n;; SELECT w FROM mem;");
  assert_int_equal(q->n_stmts, 2);
  ql_query_free(q);
  /* Where a field may be a /regex/, InfluxDB reads a block comment as one. */
  char err[256];
  const char *t = "SELECT /* c */ w FROM mem";
  assert_int_equal(ql_parse(t, strlen(t), &q, err, sizeof(err)), LOOM_EINVAL);
  assert_string_equal(err, "error parsing query: error parsing regexp: missing argument to "
                           "repetition operator: `*` at line 1, char 7");
  q = parse_ok("SELECT v /* block */ FROM cpu; SHOW DATABASES -- done");
  assert_int_equal(q->n_stmts, 2);
  assert_int_equal(q->stmts[1].kind, QL_STMT_SHOW_DATABASES);
  ql_query_free(q);
  q = parse_ok("");
  assert_int_equal(q->n_stmts, 0);
  ql_query_free(q);
  q = parse_ok(" ; ");
  assert_int_equal(q->n_stmts, 0);
  ql_query_free(q);
}

static void test_keywords_case_insensitive_idents_not(void **state) {
  (void)state;
  ql_query *q = parse_ok("select V from CPU where HOST = 'A' group BY TIME(1m)");
  ql_select *s = select1(q);
  assert_string_equal(s->fields[0].expr->u.ident.name, "V");
  assert_string_equal(s->sources[0].m.name, "CPU");
  assert_string_equal(s->condition->u.bin.lhs->u.ident.name, "HOST");
  assert_string_equal(s->dimensions[0]->u.call.name, "time"); /* calls lower-cased */
  assert_int_equal(s->dimensions[0]->u.call.args[0]->u.duration_ns, 60000000000LL);
  ql_query_free(q);
}

static void test_subquery_and_into(void **state) {
  (void)state;
  ql_query *q = parse_ok("SELECT max(v) INTO db.rp.:MEASUREMENT FROM (SELECT mean(v) AS v FROM "
                         "cpu GROUP BY time(1m)) WHERE v > 1");
  ql_select *s = select1(q);
  assert_non_null(s->into);
  assert_string_equal(s->into->db, "db");
  assert_string_equal(s->into->rp, "rp");
  assert_string_equal(s->into->name, "");
  assert_int_equal(s->n_sources, 1);
  assert_non_null(s->sources[0].subquery);
  assert_string_equal(s->sources[0].subquery->fields[0].alias, "v");
  ql_query_free(q);
}

/* ---- expressions ------------------------------------------------------- */

static ql_expr *cond_of(ql_query *q) { return select1(q)->condition; }

static void test_numbers(void **state) {
  (void)state;
  ql_query *q = parse_ok("SELECT v FROM m WHERE a = 42 AND b = 1.5 AND c = .5 AND d = 5. AND "
                         "e = -9223372036854775808 AND f = 18446744073709551615 AND g = -2.5");
  ql_expr *e = cond_of(q);
  /* Left-deep AND chain: walk down the lhs to collect the comparisons. */
  ql_expr *cmp[7];
  for (int i = 6; i > 0; i--) {
    cmp[i] = e->u.bin.rhs;
    e = e->u.bin.lhs;
  }
  cmp[0] = e;
  assert_int_equal(cmp[0]->u.bin.rhs->u.num.type, QL_NUM_INT);
  assert_int_equal(cmp[0]->u.bin.rhs->u.num.i, 42);
  assert_int_equal(cmp[1]->u.bin.rhs->u.num.type, QL_NUM_FLOAT);
  assert_true(cmp[1]->u.bin.rhs->u.num.f == 1.5);
  assert_true(cmp[2]->u.bin.rhs->u.num.f == 0.5);
  assert_int_equal(cmp[3]->u.bin.rhs->u.num.type, QL_NUM_FLOAT); /* "5." is a float */
  assert_int_equal(cmp[4]->u.bin.rhs->u.num.type, QL_NUM_INT);
  assert_true(cmp[4]->u.bin.rhs->u.num.i == INT64_MIN);
  assert_int_equal(cmp[5]->u.bin.rhs->u.num.type, QL_NUM_UNSIGNED);
  assert_true(cmp[5]->u.bin.rhs->u.num.u == UINT64_MAX);
  assert_true(cmp[6]->u.bin.rhs->u.num.f == -2.5);
  ql_query_free(q);
}

static void test_durations_and_time_arithmetic(void **state) {
  (void)state;
  ql_query *q = parse_ok("SELECT v FROM m WHERE time > now() - 1h30m AND time < "
                         "'2020-01-01T00:00:00Z' + 10m OR time > 1577836800000ms");
  ql_expr *e = cond_of(q);
  assert_int_equal(e->u.bin.op, QL_OP_OR);
  ql_expr *and = e->u.bin.lhs;
  ql_expr *gt = and->u.bin.lhs;
  assert_int_equal(gt->u.bin.rhs->kind, QL_EXPR_BINARY);
  assert_int_equal(gt->u.bin.rhs->u.bin.op, QL_OP_SUB);
  assert_string_equal(gt->u.bin.rhs->u.bin.lhs->u.call.name, "now");
  assert_int_equal(gt->u.bin.rhs->u.bin.rhs->u.duration_ns, 5400LL * 1000000000LL);
  ql_expr *epoch = e->u.bin.rhs->u.bin.rhs;
  assert_int_equal(epoch->kind, QL_EXPR_DURATION);
  assert_true(epoch->u.duration_ns == 1577836800000LL * 1000000LL);
  assert_fmt(e, "time > now() - 90m AND time < '2020-01-01T00:00:00Z' + 10m OR time > "
                "18262d");
  ql_query_free(q);
}

static void test_duration_units(void **state) {
  (void)state;
  static const struct {
    const char *s;
    int64_t ns;
  } ok[] = {{"1ns", 1},          {"2u", 2000},          {"2\xC2\xB5", 2000},
            {"500ms", 500000000}, {"10s", 10000000000LL}, {"1m", 60000000000LL},
            {"1h", 3600000000000LL}, {"7d", 604800000000000LL}, {"1w", 604800000000000LL},
            {"1h30m", 5400000000000LL}, {"-5m", -300000000000LL}};
  for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
    int64_t ns = 0;
    assert_int_equal(ql_duration_parse(ok[i].s, &ns, NULL, 0), 0);
    assert_true(ns == ok[i].ns);
  }
  char msg[128];
  int64_t ns;
  assert_int_equal(ql_duration_parse("1y", &ns, msg, sizeof(msg)), LOOM_EINVAL);
  assert_string_equal(msg, "invalid duration");
  assert_int_equal(ql_duration_parse("1m1", &ns, msg, sizeof(msg)), LOOM_EINVAL);
  assert_int_equal(ql_duration_parse("106752d", &ns, msg, sizeof(msg)), LOOM_EINVAL);
  assert_string_equal(msg, "overflowed duration 106752d: choose a smaller duration or INF");
  char out[32];
  ql_duration_format(0, out, sizeof(out));
  assert_string_equal(out, "0s");
  ql_duration_format(604800000000000LL * 2, out, sizeof(out));
  assert_string_equal(out, "2w");
  ql_duration_format(5400000000000LL, out, sizeof(out));
  assert_string_equal(out, "90m");
  ql_duration_format(1500000000LL, out, sizeof(out));
  assert_string_equal(out, "1500ms");
  ql_duration_format(3000, out, sizeof(out));
  assert_string_equal(out, "3u");
  ql_duration_format(7, out, sizeof(out));
  assert_string_equal(out, "7ns");
}

static void test_strings_and_regexes(void **state) {
  (void)state;
  ql_query *q = parse_ok("SELECT v FROM m WHERE a = 'it\\'s \\\\ \\n' AND h =~ /a\\/b\\.c/ AND "
                         "x !~ /^web[0-9]+$/");
  ql_expr *e = cond_of(q);
  ql_expr *a = e->u.bin.lhs->u.bin.lhs;
  assert_string_equal(a->u.bin.rhs->u.str, "it's \\ \n");
  ql_expr *h = e->u.bin.lhs->u.bin.rhs;
  assert_int_equal(h->u.bin.op, QL_OP_EQREGEX);
  assert_int_equal(h->u.bin.rhs->kind, QL_EXPR_REGEX);
  assert_string_equal(h->u.bin.rhs->u.str, "a/b\\.c"); /* \/ unescaped, other escapes kept */
  assert_int_equal(e->u.bin.rhs->u.bin.op, QL_OP_NEQREGEX);
  assert_fmt(e, "a = 'it\\'s \\\\ \\n' AND h =~ /a\\/b\\.c/ AND x !~ /^web[0-9]+$/");
  ql_query_free(q);
}

static void test_precedence(void **state) {
  (void)state;
  ql_arena a;
  ql_arena_init(&a);
  ql_expr *e;
  char err[256];
  assert_int_equal(ql_parse_expr("a + b * c - d", 13, &a, &e, err, sizeof(err)), 0);
  /* ((a + (b * c)) - d) */
  assert_int_equal(e->u.bin.op, QL_OP_SUB);
  assert_int_equal(e->u.bin.lhs->u.bin.op, QL_OP_ADD);
  assert_int_equal(e->u.bin.lhs->u.bin.rhs->u.bin.op, QL_OP_MUL);
  const char *t = "x = 1 OR y = 2 AND z = 3";
  assert_int_equal(ql_parse_expr(t, strlen(t), &a, &e, err, sizeof(err)), 0);
  assert_int_equal(e->u.bin.op, QL_OP_OR);
  assert_int_equal(e->u.bin.rhs->u.bin.op, QL_OP_AND);
  t = "(a + b) * c";
  assert_int_equal(ql_parse_expr(t, strlen(t), &a, &e, err, sizeof(err)), 0);
  assert_int_equal(e->u.bin.op, QL_OP_MUL);
  assert_int_equal(e->u.bin.lhs->kind, QL_EXPR_PAREN);
  ql_arena_deinit(&a);
}

static void test_unary_minus_like_influxdb(void **state) {
  (void)state;
  /* InfluxDB folds the sign into literals and turns -x into -1 * x. */
  ql_query *q = parse_ok("SELECT -v, +v, -(v + 1), -mean(v), - 5, -1.5, -10s FROM m");
  ql_select *s = select1(q);
  assert_fmt(s->fields[0].expr, "-1 * v");
  assert_fmt(s->fields[1].expr, "1 * v");
  assert_fmt(s->fields[2].expr, "-1 * (v + 1)");
  assert_fmt(s->fields[3].expr, "-1 * mean(v)");
  assert_int_equal(s->fields[4].expr->kind, QL_EXPR_NUMBER);
  assert_int_equal(s->fields[4].expr->u.num.i, -5);
  assert_fmt(s->fields[5].expr, "-1.500");
  assert_fmt(s->fields[6].expr, "-10s");
  ql_query_free(q);
}

static void test_casts_wildcards_distinct(void **state) {
  (void)state;
  ql_query *q = parse_ok("SELECT v::float, w::integer, x::unsigned, y::string, z::boolean, "
                         "f::field, t::tag, *::field, *::tag, *, count(distinct(h)), DISTINCT h, "
                         "\"a b\"::tag, a.b FROM m");
  ql_select *s = select1(q);
  static const ql_cast casts[] = {QL_CAST_FLOAT,   QL_CAST_INTEGER, QL_CAST_UNSIGNED,
                                  QL_CAST_STRING,  QL_CAST_BOOLEAN, QL_CAST_FIELD,
                                  QL_CAST_TAG};
  for (int i = 0; i < 7; i++) assert_int_equal(s->fields[i].expr->u.ident.cast, casts[i]);
  assert_int_equal(s->fields[7].expr->u.wildcard, QL_CAST_FIELD);
  assert_int_equal(s->fields[8].expr->u.wildcard, QL_CAST_TAG);
  assert_int_equal(s->fields[9].expr->u.wildcard, QL_CAST_NONE);
  assert_fmt(s->fields[10].expr, "count(distinct(h))");
  assert_int_equal(s->fields[11].expr->kind, QL_EXPR_DISTINCT);
  assert_fmt(s->fields[11].expr, "DISTINCT h");
  assert_fmt(s->fields[12].expr, "\"a b\"::tag");
  assert_string_equal(s->fields[13].expr->u.ident.name, "a.b");
  assert_fmt(s->fields[13].expr, "\"a.b\"");
  assert_false(s->is_raw);
  ql_query_free(q);
}

static void test_format_round_trip(void **state) {
  (void)state;
  static const char *const exprs[] = {
      "mean(value) * 2 + max(\"other field\"::float) / 3.250",
      "host =~ /^a\\/b$/ AND (region = 'eu' OR region != 'us') AND v >= -1",
      "time > now() - 1w AND time < '2020-01-01T00:00:00Z'",
      "percentile(v, 99.900)", "count(*)", "top(v, host, 3)", "a % b & c | d ^ e",
      "\"select\" = true", "v::integer <> 18446744073709551615",
  };
  ql_arena a;
  ql_arena_init(&a);
  for (size_t i = 0; i < sizeof(exprs) / sizeof(exprs[0]); i++) {
    ql_expr *e;
    char err[256];
    int rc = ql_parse_expr(exprs[i], strlen(exprs[i]), &a, &e, err, sizeof(err));
    if (rc) fail_msg("%s: %s", exprs[i], err);
    char *s = fmt(e);
    const char *want = exprs[i];
    if (!strcmp(want, "a % b & c | d ^ e")) want = "a % b & c | d ^ e";
    if (!strcmp(want, "v::integer <> 18446744073709551615"))
      want = "v::integer != 18446744073709551615";
    assert_string_equal(s, want);
    loom_free(s);
  }
  ql_arena_deinit(&a);
}

/* ---- column names ------------------------------------------------------ */

static void assert_columns(const char *query, const char *time_name, const char *const *want,
                           size_t n_want) {
  ql_query *q = parse_ok(query);
  ql_select *s = select1(q);
  ql_arena a;
  ql_arena_init(&a);
  const char **cols;
  size_t n;
  assert_int_equal(ql_column_names(s->fields, s->n_fields, time_name, &a, &cols, &n), 0);
  assert_int_equal(n, n_want);
  for (size_t i = 0; i < n; i++) assert_string_equal(cols[i], want[i]);
  ql_arena_deinit(&a);
  ql_query_free(q);
}

static void test_column_names_influxdb_rules(void **state) {
  (void)state;
  /* Each expectation was recorded from InfluxDB 1.6.7. */
  const char *c1[] = {"time", "mean", "mean_1"};
  assert_columns("SELECT mean(v), mean(w) FROM cpu", "time", c1, 3);
  const char *c2[] = {"time", "v_w", "max"};
  assert_columns("SELECT v + w, max(v) * 2 FROM cpu", "time", c2, 3);
  const char *c3[] = {"time", "max", "mean"};
  assert_columns("SELECT max(v)*2, mean(w) FROM cpu", "time", c3, 3);
  const char *c4[] = {"time", "v", "v_1"};
  assert_columns("SELECT +v, -(v) FROM cpu", "time", c4, 3);
  const char *c5[] = {"mean_2", "mean", "mean_1"};
  assert_columns("SELECT mean(v), mean(w) AS mean, mean(x) AS mean_1 FROM cpu", NULL, c5, 3);
  const char *c6[] = {"t", "v", "", "_1", "w_x"}; /* literals have no name */
  assert_columns("SELECT v, 1, 'a', (w + 2) * x FROM cpu", "t", c6, 5);
}

static void test_field_name(void **state) {
  (void)state;
  ql_query *q = parse_ok("SELECT percentile(v, 95) AS p95, count(distinct(h)), (v), v::float, "
                         "mean(v) + mean(w) FROM m");
  ql_select *s = select1(q);
  static const char *const want[] = {"p95", "count", "v", "v", "mean_mean"};
  for (size_t i = 0; i < 5; i++) {
    loom_buf b;
    loom_buf_init(&b);
    assert_int_equal(ql_field_column_name(&s->fields[i], &b), 0);
    assert_int_equal(loom_buf_cstr(&b), 0);
    assert_string_equal((const char *)b.data, want[i]);
    loom_buf_deinit(&b);
  }
  ql_query_free(q);
}

/* ---- other statements -------------------------------------------------- */

static void test_show_statements(void **state) {
  (void)state;
  ql_query *q = parse_ok(
      "SHOW DATABASES; SHOW MEASUREMENTS ON db WITH MEASUREMENT =~ /cp.*/ WHERE host = 'a' "
      "LIMIT 10 OFFSET 2; SHOW TAG KEYS ON db FROM cpu; SHOW TAG VALUES FROM cpu WITH KEY IN "
      "(host, region) WHERE host =~ /a/; SHOW TAG VALUES WITH KEY = \"host\"; SHOW FIELD KEYS "
      "FROM cpu; SHOW SERIES FROM cpu WHERE host = 'a' LIMIT 3; SHOW RETENTION POLICIES ON db");
  assert_int_equal(q->n_stmts, 8);
  assert_int_equal(q->stmts[0].kind, QL_STMT_SHOW_DATABASES);
  ql_show *m = &q->stmts[1].u.show;
  assert_int_equal(q->stmts[1].kind, QL_STMT_SHOW_MEASUREMENTS);
  assert_string_equal(m->db, "db");
  assert_int_equal(m->n_sources, 1);
  assert_string_equal(m->sources[0].m.regex, "cp.*");
  assert_non_null(m->condition);
  assert_int_equal(m->limit, 10);
  assert_int_equal(m->offset, 2);
  assert_int_equal(q->stmts[2].kind, QL_STMT_SHOW_TAG_KEYS);
  assert_string_equal(q->stmts[2].u.show.sources[0].m.name, "cpu");
  ql_show *tv = &q->stmts[3].u.show;
  assert_int_equal(q->stmts[3].kind, QL_STMT_SHOW_TAG_VALUES);
  assert_int_equal(tv->tag_op, 0);
  assert_int_equal(tv->n_tag_keys, 2);
  assert_string_equal(tv->tag_keys[1], "region");
  ql_show *tv2 = &q->stmts[4].u.show;
  assert_int_equal(tv2->tag_op, QL_OP_EQ);
  assert_string_equal(tv2->tag_keys[0], "host");
  assert_int_equal(q->stmts[5].kind, QL_STMT_SHOW_FIELD_KEYS);
  assert_int_equal(q->stmts[6].kind, QL_STMT_SHOW_SERIES);
  assert_int_equal(q->stmts[6].u.show.limit, 3);
  assert_int_equal(q->stmts[7].kind, QL_STMT_SHOW_RETENTION_POLICIES);
  assert_string_equal(q->stmts[7].u.name, "db");
  ql_query_free(q);
}

static void test_cardinality_statements(void **state) {
  (void)state;
  ql_query *q = parse_ok("SHOW SERIES EXACT CARDINALITY ON db FROM cpu GROUP BY host; "
                         "SHOW MEASUREMENT CARDINALITY; SHOW TAG VALUES EXACT CARDINALITY WITH "
                         "KEY =~ /h/; SHOW FIELD KEY CARDINALITY; SHOW TAG KEY EXACT CARDINALITY");
  assert_int_equal(q->n_stmts, 5);
  for (size_t i = 0; i < 5; i++) assert_int_equal(q->stmts[i].kind, QL_STMT_SHOW_CARDINALITY);
  assert_int_equal(q->stmts[0].u.show.card_what, QL_CARD_SERIES);
  assert_true(q->stmts[0].u.show.exact);
  assert_int_equal(q->stmts[0].u.show.n_dimensions, 1);
  assert_int_equal(q->stmts[1].u.show.card_what, QL_CARD_MEASUREMENT);
  assert_false(q->stmts[1].u.show.exact);
  assert_int_equal(q->stmts[2].u.show.card_what, QL_CARD_TAG_VALUES);
  assert_string_equal(q->stmts[2].u.show.tag_regex, "h");
  assert_int_equal(q->stmts[3].u.show.card_what, QL_CARD_FIELD_KEY);
  assert_int_equal(q->stmts[4].u.show.card_what, QL_CARD_TAG_KEY);
  ql_query_free(q);
}

static void test_ddl_statements(void **state) {
  (void)state;
  ql_query *q = parse_ok(
      "CREATE DATABASE d WITH DURATION 1d REPLICATION 1 SHARD DURATION 1h NAME r; "
      "DROP DATABASE d; CREATE RETENTION POLICY r ON d DURATION 7d REPLICATION 1 SHARD "
      "DURATION 1h DEFAULT; ALTER RETENTION POLICY r ON d DURATION INF DEFAULT; "
      "DROP RETENTION POLICY r ON d; DROP MEASUREMENT m; DELETE FROM m WHERE time < "
      "'2020-01-01T00:00:00Z'; DROP SERIES WHERE host = 'a'; CREATE DATABASE e");
  assert_int_equal(q->n_stmts, 9);
  ql_create_db *c = &q->stmts[0].u.db;
  assert_int_equal(q->stmts[0].kind, QL_STMT_CREATE_DATABASE);
  assert_string_equal(c->name, "d");
  assert_true(c->rp_create && c->has_duration && c->has_replication);
  assert_true(c->duration_ns == 86400LL * 1000000000LL);
  assert_true(c->shard_duration_ns == 3600LL * 1000000000LL);
  assert_string_equal(c->rp_name, "r");
  assert_int_equal(q->stmts[1].kind, QL_STMT_DROP_DATABASE);
  assert_string_equal(q->stmts[1].u.name, "d");
  ql_rp *rp = &q->stmts[2].u.rp;
  assert_int_equal(q->stmts[2].kind, QL_STMT_CREATE_RP);
  assert_string_equal(rp->name, "r");
  assert_string_equal(rp->db, "d");
  assert_int_equal(rp->replication, 1);
  assert_true(rp->is_default && rp->has_shard_duration);
  ql_rp *alt = &q->stmts[3].u.rp;
  assert_int_equal(q->stmts[3].kind, QL_STMT_ALTER_RP);
  assert_true(alt->has_duration);
  assert_true(alt->duration_ns == 0); /* INF */
  assert_false(alt->has_replication);
  assert_true(alt->is_default);
  assert_int_equal(q->stmts[4].kind, QL_STMT_DROP_RP);
  assert_int_equal(q->stmts[5].kind, QL_STMT_DROP_MEASUREMENT);
  assert_string_equal(q->stmts[5].u.name, "m");
  assert_int_equal(q->stmts[6].kind, QL_STMT_DELETE);
  assert_int_equal(q->stmts[6].u.del.n_sources, 1);
  assert_non_null(q->stmts[6].u.del.condition);
  assert_int_equal(q->stmts[7].kind, QL_STMT_DROP_SERIES);
  assert_null(q->stmts[7].u.del.sources);
  assert_false(q->stmts[8].u.db.rp_create);
  ql_query_free(q);
}

static void test_explain_and_show_other(void **state) {
  (void)state;
  ql_query *q = parse_ok("EXPLAIN ANALYZE SELECT v FROM m; SHOW USERS; SHOW SHARD GROUPS; "
                         "SHOW STATS FOR 'httpd'");
  assert_int_equal(q->stmts[0].kind, QL_STMT_EXPLAIN);
  assert_true(q->stmts[0].u.explain.analyze);
  assert_non_null(q->stmts[0].u.explain.select);
  assert_int_equal(q->stmts[1].kind, QL_STMT_SHOW_OTHER);
  assert_string_equal(q->stmts[1].u.name, "USERS");
  assert_string_equal(q->stmts[2].u.name, "SHARD GROUPS");
  assert_string_equal(q->stmts[3].u.name, "STATS");
  ql_query_free(q);
}

static void test_unsupported_statements(void **state) {
  (void)state;
  static const char *const qs[] = {"CREATE USER bob WITH PASSWORD 'x'", "GRANT ALL TO bob",
                                   "REVOKE READ ON db FROM bob", "KILL QUERY 1 ON h",
                                   "DROP SHARD 1", "SET PASSWORD FOR bob = 'x'",
                                   "SHOW GRANTS FOR bob", "DROP CONTINUOUS QUERY c ON db",
                                   "CREATE SUBSCRIPTION s ON db.rp DESTINATIONS ALL 'u', 'v'",
                                   "DROP SUBSCRIPTION s ON db.rp", "DROP USER bob",
                                   "CREATE CONTINUOUS QUERY cq ON db BEGIN SELECT 1 END"};
  for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
    ql_query *q = (ql_query *)1;
    char err[256];
    assert_int_equal(ql_parse(qs[i], strlen(qs[i]), &q, err, sizeof(err)), LOOM_EUNSUP);
    assert_null(q);
    assert_non_null(strstr(err, "is not supported"));
  }
}

/* ---- errors ------------------------------------------------------------ */

static const struct {
  const char *q, *err;
} influx_errors[] = {
    {"SELECT * FORM cpu",
     "error parsing query: found FORM, expected FROM at line 1, char 10"},
    {"SELECT",
     "error parsing query: found EOF, expected identifier, string, number, bool at line 1, char 8"},
    {"SELECT * FROM",
     "error parsing query: found EOF, expected identifier at line 1, char 15"},
    {"SELECT 'abc",
     "error parsing query: found abc, expected identifier, string, number, bool at line 1, char 7"},
    {"SELECT a FROM b WHERE c =~ /a",
     "error parsing query: bad regex:  at line 1, char 27"},
    {"SELECT v FROM cpu WHERE 1sx > 0",
     "error parsing query: invalid duration"},
    {"SELECT 'a\\q' FROM cpu",
     "error parsing query: found \\q, expected identifier, string, number, bool at line 1, char 11"},
    {"SELECT v FROM cpu LIMIT -1",
     "error parsing query: found -, expected integer at line 1, char 25"},
    {"SELECT v FROM cpu ORDER BY v",
     "error parsing query: only ORDER BY time supported at this time"},
    {"SELECT v FROM cpu GROUP BY time(1m) fill(foo)",
     "error parsing query: expected number argument in fill()"},
    {"SELECT v FROM cpu fill(1, 2)",
     "error parsing query: fill requires an argument, e.g.: 0, null, none, previous, linear"},
    {"SELECT v FROM cpu tz(1)",
     "error parsing query: expected string argument in tz()"},
    {"SELECT v::foo FROM cpu",
     "error parsing query: found foo, expected float, integer, unsigned, string, boolean, field, tag at line 1, char 11"},
    {"SELECT v = 1 FROM cpu",
     "error parsing query: invalid operator = in SELECT clause at line 1, char 8; operator is intended for WHERE clause"},
    {"SELECT v FROM a.b.c.d",
     "error parsing query: too many segments in \"a\".\"b\".\"c\".d at line 1, char 1"},
    {"DELETE FROM db..m",
     "error parsing query: database not supported at line 1, char 1"},
    {"SELECT * FROM cpu WHERE $x = 1",
     "error parsing query: missing parameter: x"},
    {"SELECT v FROM cpu SELECT w FROM mem",
     "error parsing query: found SELECT, expected ; at line 1, char 19"},
    {"SELECT -'a' FROM cpu",
     "error parsing query: found a, expected identifier, number, duration, ( at line 1, char 8"},
    {"SELECT v FROM cpu WHERE v = -18446744073709551615",
     "error parsing query: constant -18446744073709551615 underflows int64"},
    {"SELECT v FROM cpu WHERE v > 18446744073709551616",
     "error parsing query: unable to parse integer at line 1, char 29"},
    {"SELECT v FROM cpu WHERE v = 106752d",
     "error parsing query: overflowed duration 106752d: choose a smaller duration or INF"},
    {"SELECT mean(v FROM cpu",
     "error parsing query: found FROM, expected ) at line 1, char 15"},
    {"SELECT DISTINCT 5 FROM cpu",
     "error parsing query: found 5, expected identifier at line 1, char 17"},
    {"SELECT v FROM cpu WHERE (h = 'a'",
     "error parsing query: found EOF, expected ) at line 1, char 33"},
    {"SELECT v FROM cpu WHERE host =~ /(/",
     "error parsing query: error parsing regexp: missing closing ): `(` at line 1, char 32"},
    {"SELECT v FROM cpu WHERE h =~ /a**/",
     "error parsing query: error parsing regexp: invalid nested repetition operator: `**` at line 1, char 29"},
    {"SELECT v FROM cpu WHERE h =~ /[z-a]/",
     "error parsing query: error parsing regexp: invalid character class range: `z-a` at line 1, char 29"},
    {"FOO",
     "error parsing query: found FOO, expected SELECT, DELETE, SHOW, CREATE, DROP, EXPLAIN, GRANT, REVOKE, ALTER, SET, KILL at line 1, char 1"},
    {"SHOW FOO",
     "error parsing query: found FOO, expected CONTINUOUS, DATABASES, DIAGNOSTICS, FIELD, GRANTS, MEASUREMENT, MEASUREMENTS, QUERIES, RETENTION, SERIES, SHARD, SHARDS, STATS, SUBSCRIPTIONS, TAG, USERS at line 1, char 6"},
    {"SHOW TAG VALUES FROM cpu",
     "error parsing query: found EOF, expected WITH at line 1, char 26"},
    {"SHOW MEASUREMENTS WITH MEASUREMENT >",
     "error parsing query: found >, expected =, =~ at line 1, char 36"},
    {"CREATE DATABASE qltest5 WITH REPLICATION 0",
     "error parsing query: invalid value 0: must be 1 <= n <= 2147483647 at line 1, char 42"},
    {"CREATE RETENTION POLICY rp3 ON test DURATION 1d REPLICATION 1 SHARD DURATION INF",
     "error parsing query: invalid duration INF for shard duration at line 1, char 78"},
    {"ALTER RETENTION POLICY rp1 ON test DURATION 2d DURATION 3d",
     "error parsing query: found duplicate DURATION option at line 1, char 48"},
    {"ALTER RETENTION POLICY rp1 ON test",
     "error parsing query: found EOF, expected DURATION, REPLICATION, SHARD, DEFAULT at line 1, char 36"},
    {"DROP SERIES",
     "error parsing query: found EOF, expected FROM, WHERE at line 1, char 13"},
    {"DROP SERIES FROM rp.nosuch",
     "error parsing query: retention policy not supported at line 1, char 1"},
    {"EXPLAIN FOO",
     "error parsing query: found FOO, expected SELECT at line 1, char 9"},
};

static void test_unsupported_statement_syntax_errors(void **state) {
  (void)state;
  /* Recorded from InfluxDB 1.6.7; a later syntax error wins over EUNSUP. */
  static const struct {
    const char *q, *err;
  } cases[] = {
      {"GRANT A", "error parsing query: found A, expected READ, WRITE, ALL [PRIVILEGES] at line "
                  "1, char 7"},
      {"REVOKE ALL FROb", "error parsing query: found FROb, expected ON, FROM at line 1, char 12"},
      {"CREATE SUBSCRIPTION s ON db .rp DESTINATIONS ALL 'x'",
       "error parsing query: found  , expected . at line 1, char 28"},
      {"KILL QUERY 99999999999999999999999",
       "error parsing query: strconv.ParseUint: parsing \"99999999999999999999999\": value out "
       "of range at line 1, char 12"},
      {"GRANT READ ON db TO bob; SELECT FROM",
       "error parsing query: found FROM, expected identifier, string, number, bool at line 1, "
       "char 33"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    ql_query *q;
    char err[256];
    assert_int_equal(ql_parse(cases[i].q, strlen(cases[i].q), &q, err, sizeof(err)),
                     LOOM_EINVAL);
    assert_string_equal(err, cases[i].err);
  }
}

static void test_errors_match_influxdb(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof(influx_errors) / sizeof(influx_errors[0]); i++) {
    ql_query *q = (ql_query *)1;
    char err[512];
    int rc = ql_parse(influx_errors[i].q, strlen(influx_errors[i].q), &q, err, sizeof(err));
    if (rc != LOOM_EINVAL) fail_msg("<%s> gave rc %d", influx_errors[i].q, rc);
    assert_null(q);
    if (strcmp(err, influx_errors[i].err))
      fail_msg("<%s>\n  got  %s\n  want %s", influx_errors[i].q, err, influx_errors[i].err);
  }
}

static int only_utc(const char *name, void *ctx) {
  (*(int *)ctx)++;
  return !strcmp(name, "UTC") || !name[0];
}

static void test_tz_check_hook(void **state) {
  (void)state;
  int calls = 0;
  ql_query *q;
  char err[256];
  const char *t = "SELECT v FROM m tz('UTC')";
  assert_int_equal(ql_parse_tz(t, strlen(t), &q, err, sizeof(err), only_utc, &calls), 0);
  assert_int_equal(calls, 1);
  ql_query_free(q);
  /* Recorded from InfluxDB 1.6.7: the zone fails before the stray LIMIT. */
  t = "SELECT v FROM cpu tz('UTCSHO') LIMIT 1";
  assert_int_equal(ql_parse_tz(t, strlen(t), &q, err, sizeof(err), only_utc, &calls),
                   LOOM_EINVAL);
  assert_string_equal(err, "error parsing query: unable to find time zone UTCSHO");
  assert_int_equal(ql_parse(t, strlen(t), &q, err, sizeof(err)), LOOM_EINVAL);
  assert_string_equal(err, "error parsing query: found LIMIT, expected ; at line 1, char 32");
}

static void test_error_positions_multiline(void **state) {
  (void)state;
  const char *t = "SELECT v\r\nFROM cpu\nWHERE h = 'a' AND\n  x ! 1";
  ql_query *q;
  char err[256];
  assert_int_equal(ql_parse(t, strlen(t), &q, err, sizeof(err)), LOOM_EINVAL);
  assert_string_equal(err, "error parsing query: found !, expected ; at line 4, char 5");
  /* Non-ASCII counts one character per code point. */
  t = "SELECT \"h\xC3\xA9\" FORM x";
  assert_int_equal(ql_parse(t, strlen(t), &q, err, sizeof(err)), LOOM_EINVAL);
  assert_string_equal(err, "error parsing query: found FORM, expected FROM at line 1, char 13");
}

static void test_error_buffer_truncation(void **state) {
  (void)state;
  ql_query *q;
  char err[16];
  memset(err, 'x', sizeof(err));
  assert_int_equal(ql_parse("FOO", 3, &q, err, sizeof(err)), LOOM_EINVAL);
  assert_int_equal(strlen(err), sizeof(err) - 1);
  assert_int_equal(ql_parse("FOO", 3, &q, NULL, 0), LOOM_EINVAL);
}

static void test_nul_byte_like_influxdb(void **state) {
  (void)state;
  /* InfluxDB reads a NUL as its end-of-input marker: it ends the query
   * between tokens but is skipped inside an identifier (recorded from 1.6.7). */
  const char t[] = "SHOW DATABASES\0garbage";
  ql_query *q;
  char err[512];
  assert_int_equal(ql_parse(t, sizeof(t) - 1, &q, err, sizeof(err)), LOOM_EINVAL);
  assert_string_equal(err, "error parsing query: found DATABASESgarbage, expected CONTINUOUS, "
                           "DATABASES, DIAGNOSTICS, FIELD, GRANTS, MEASUREMENT, MEASUREMENTS, "
                           "QUERIES, RETENTION, SERIES, SHARD, SHARDS, STATS, SUBSCRIPTIONS, "
                           "TAG, USERS at line 1, char 6");
  const char t2[] = "SHOW DATABASES;\0garbage";
  assert_int_equal(ql_parse(t2, sizeof(t2) - 1, &q, err, sizeof(err)), 0);
  assert_int_equal(q->n_stmts, 1);
  ql_query_free(q);
}

static void test_regex_check_messages(void **state) {
  (void)state;
  static const struct {
    const char *re, *msg;
  } bad[] = {
      {"(", "error parsing regexp: missing closing ): `(`"},
      {"a)", "error parsing regexp: unexpected ): `a)`"},
      {"*", "error parsing regexp: missing argument to repetition operator: `*`"},
      {"a**", "error parsing regexp: invalid nested repetition operator: `**`"},
      {"[a", "error parsing regexp: missing closing ]: `[a`"},
      {"[z-a]", "error parsing regexp: invalid character class range: `z-a`"},
      {"\\q", "error parsing regexp: invalid escape sequence: `\\q`"},
      {"a{1001}", "error parsing regexp: invalid repeat count: `{1001}`"},
      {"(?x)", "error parsing regexp: invalid or unsupported Perl syntax: `(?x`"},
      {"(?P<>a)", "error parsing regexp: invalid named capture: `(?P<>`"},
      {"\\p{Foo}", "error parsing regexp: invalid character class range: `\\p{Foo}`"},
  };
  char msg[256];
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    assert_int_equal(ql_regex_check(bad[i].re, msg, sizeof(msg)), LOOM_EINVAL);
    assert_string_equal(msg, bad[i].msg);
  }
  static const char *const good[] = {"^(web|db)-[0-9]{1,3}$", "(?i)abc", "\\d+\\.\\w*?",
                                     "[[:alpha:]\\]-]", "\\p{Greek}|\\pL", "a{2,}", "x{",
                                     "\\Qa.b\\E", "(?P<n>a)", "^*", ""};
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
    assert_int_equal(ql_regex_check(good[i], msg, sizeof(msg)), 0);
}

static void test_nesting_and_size_limits(void **state) {
  (void)state;
  /* Deep nesting is refused with an error instead of exhausting the stack. */
  size_t n = 200000;
  loom_buf b;
  loom_buf_init(&b);
  assert_int_equal(loom_buf_append_str(&b, "SELECT "), 0);
  for (size_t i = 0; i < n; i++) assert_int_equal(loom_buf_append_str(&b, "("), 0);
  assert_int_equal(loom_buf_append_str(&b, "v FROM m"), 0);
  ql_query *q;
  char err[256];
  assert_int_equal(ql_parse((const char *)b.data, b.len, &q, err, sizeof(err)), LOOM_EINVAL);
  assert_string_equal(err, "error parsing query: expression nests too deeply");
  loom_buf_reset(&b);
  assert_int_equal(loom_buf_append_str(&b, "SELECT v FROM m WHERE v > 0"), 0);
  for (size_t i = 0; i < n; i++) assert_int_equal(loom_buf_append_str(&b, " + 1"), 0);
  assert_int_equal(ql_parse((const char *)b.data, b.len, &q, err, sizeof(err)), LOOM_EINVAL);
  assert_string_equal(err, "error parsing query: expression too large");
  loom_buf_reset(&b);
  /* Nesting below the limit is fine, subqueries included. */
  assert_int_equal(loom_buf_append_str(&b, "SELECT "), 0);
  for (size_t i = 0; i < 500; i++) assert_int_equal(loom_buf_append_str(&b, "("), 0);
  assert_int_equal(loom_buf_append_str(&b, "v"), 0);
  for (size_t i = 0; i < 500; i++) assert_int_equal(loom_buf_append_str(&b, ")"), 0);
  assert_int_equal(loom_buf_append_str(&b, " FROM (SELECT v FROM (SELECT v FROM m))"), 0);
  assert_int_equal(ql_parse((const char *)b.data, b.len, &q, err, sizeof(err)), 0);
  ql_query_free(q);
  loom_buf_deinit(&b);
}

/* ---- lexer ------------------------------------------------------------- */

static void test_lexer_tokens_and_positions(void **state) {
  (void)state;
  ql_arena a;
  ql_arena_init(&a);
  ql_lex lx;
  const char *t = "select \"a b\"::tag,x <> 1.5e 10s -- c\n'q' $p";
  ql_lex_init(&lx, t, strlen(t), &a);
  static const struct {
    ql_tok tok;
    const char *lit;
    int line, ch;
  } want[] = {
      {QL_TOK_SELECT, "", 0, 0},  {QL_TOK_WS, " ", 0, 6},        {QL_TOK_IDENT, "a b", 0, 7},
      {QL_TOK_DOUBLECOLON, "", 0, 12}, {QL_TOK_TAG, "", 0, 14}, {QL_TOK_COMMA, "", 0, 17},
      {QL_TOK_IDENT, "x", 0, 18}, {QL_TOK_WS, " ", 0, 19},       {QL_TOK_NEQ, "", 0, 20},
      {QL_TOK_WS, " ", 0, 22},    {QL_TOK_NUMBER, "1.5", 0, 23}, {QL_TOK_IDENT, "e", 0, 26},
      {QL_TOK_WS, " ", 0, 27},    {QL_TOK_DURATIONVAL, "10s", 0, 28},
      {QL_TOK_WS, " ", 0, 31},    {QL_TOK_COMMENT, "", 0, 32},   {QL_TOK_STRING, "q", 0, 36},
      {QL_TOK_WS, " ", 1, 3},     {QL_TOK_BOUNDPARAM, "$p", 1, 4}, {QL_TOK_EOF, "", 1, 7},
  };
  for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
    ql_pos pos;
    const char *lit;
    ql_tok tok = ql_lex_scan(&lx, &pos, &lit);
    if (tok != want[i].tok || strcmp(lit, want[i].lit) || pos.line != want[i].line ||
        pos.ch != want[i].ch)
      fail_msg("token %zu: got %s <%s> %d:%d, want %s <%s> %d:%d", i, ql_tok_str(tok), lit,
               pos.line, pos.ch, ql_tok_str(want[i].tok), want[i].lit, want[i].line, want[i].ch);
  }
  ql_arena_deinit(&a);
}

static void test_lexer_keyword_lookup_and_quoting(void **state) {
  (void)state;
  assert_int_equal(ql_tok_lookup("SeLeCt", 6), QL_TOK_SELECT);
  assert_int_equal(ql_tok_lookup("true", 4), QL_TOK_TRUE);
  assert_int_equal(ql_tok_lookup("in", 2), QL_TOK_IN);
  assert_int_equal(ql_tok_lookup("value", 5), QL_TOK_IDENT);
  assert_true(ql_ident_needs_quotes("select"));
  assert_true(ql_ident_needs_quotes("a b"));
  assert_true(ql_ident_needs_quotes("1a"));
  assert_false(ql_ident_needs_quotes("_a1"));
  assert_int_equal(ql_tok_precedence(QL_TOK_OR), 1);
  assert_int_equal(ql_tok_precedence(QL_TOK_MUL), 5);
  assert_true(ql_tok_is_operator(QL_TOK_EQREGEX));
  assert_false(ql_tok_is_operator(QL_TOK_IN));
}

/* ---- allocation failures ----------------------------------------------- */

static void test_allocation_failures_are_clean(void **state) {
  (void)state;
  const char *t = "SELECT mean(usage_user) AS m, max(\"v w\") FROM db.rp.cpu, /re.*/ WHERE host "
                  "=~ /^a/ AND time > now() - 1h GROUP BY time(1m), host fill(0) ORDER BY time "
                  "DESC LIMIT 5; SHOW TAG VALUES FROM cpu WITH KEY IN (a, b, c, d, e, f)";
  int saw_ok = 0;
  for (long n = 0; n < 400 && !saw_ok; n++) {
    ql_query *q = NULL;
    char err[256];
    size_t before = loom_mem_used();
    loom_mem_fail_after(n);
    int rc = ql_parse(t, strlen(t), &q, err, sizeof(err));
    loom_mem_fail_after(-1);
    if (rc == 0) {
      saw_ok = 1;
      assert_int_equal(q->n_stmts, 2);
      ql_query_free(q);
    } else {
      assert_int_equal(rc, LOOM_ENOMEM);
      assert_null(q);
      assert_string_equal(err, "out of memory");
    }
    assert_int_equal(loom_mem_used(), before);
  }
  assert_true(saw_ok);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tsbs_queries_parse),
      cmocka_unit_test(test_select_structure),
      cmocka_unit_test(test_select_clauses),
      cmocka_unit_test(test_fill_options),
      cmocka_unit_test(test_multiple_statements_and_comments),
      cmocka_unit_test(test_keywords_case_insensitive_idents_not),
      cmocka_unit_test(test_subquery_and_into),
      cmocka_unit_test(test_numbers),
      cmocka_unit_test(test_durations_and_time_arithmetic),
      cmocka_unit_test(test_duration_units),
      cmocka_unit_test(test_strings_and_regexes),
      cmocka_unit_test(test_precedence),
      cmocka_unit_test(test_unary_minus_like_influxdb),
      cmocka_unit_test(test_casts_wildcards_distinct),
      cmocka_unit_test(test_format_round_trip),
      cmocka_unit_test(test_column_names_influxdb_rules),
      cmocka_unit_test(test_field_name),
      cmocka_unit_test(test_show_statements),
      cmocka_unit_test(test_cardinality_statements),
      cmocka_unit_test(test_ddl_statements),
      cmocka_unit_test(test_explain_and_show_other),
      cmocka_unit_test(test_unsupported_statements),
      cmocka_unit_test(test_unsupported_statement_syntax_errors),
      cmocka_unit_test(test_errors_match_influxdb),
      cmocka_unit_test(test_tz_check_hook),
      cmocka_unit_test(test_error_positions_multiline),
      cmocka_unit_test(test_error_buffer_truncation),
      cmocka_unit_test(test_nul_byte_like_influxdb),
      cmocka_unit_test(test_regex_check_messages),
      cmocka_unit_test(test_nesting_and_size_limits),
      cmocka_unit_test(test_lexer_tokens_and_positions),
      cmocka_unit_test(test_lexer_keyword_lookup_and_quoting),
      cmocka_unit_test(test_allocation_failures_are_clean),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
