/* SPDX-License-Identifier: Apache-2.0
 * Unit tests for ingest/lp, the InfluxDB line protocol parser: every syntax
 * element and escape, every value type, every error reason with InfluxDB's
 * wording, line numbers, precision, CRLF and comments, canonical series keys,
 * error caps, big bodies and allocation failures.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/err.h"
#include "core/mem.h"
#include "ingest/lp.h"

#define NS INT64_C(1)
#define DEFAULT_TS INT64_C(1700000000123456789)

/* Parse a NUL-terminated body with ns precision into a fresh batch. */
static void parse(lp_batch *b, const char *body) {
  lp_batch_init(b);
  assert_int_equal(lp_parse(b, body, strlen(body), NS, DEFAULT_TS), 0);
}

/* The body is one bad line: check the whole InfluxDB-style message. */
static void expect_error(const char *body, const char *quoted, const char *reason) {
  lp_batch b;
  parse(&b, body);
  char want[512];
  snprintf(want, sizeof want, "unable to parse '%s': %s", quoted, reason);
  if (b.n_errors != 1 || b.n_points != 0)
    fail_msg("body <%s>: %u points, %u errors (want 0, 1)", body, b.n_points, b.n_errors);
  assert_string_equal(b.errors[0].msg, want);
  assert_int_equal(b.errors[0].line, 1);
  assert_int_equal(b.n_errors_total, 1);
  lp_batch_deinit(&b);
}

static void expect_reason(const char *line, const char *reason) { expect_error(line, line, reason); }

/* The body is one good line: return its series key in `key` (NUL-terminated). */
static void expect_key(const char *body, const char *key) {
  lp_batch b;
  parse(&b, body);
  if (b.n_points != 1) fail_msg("body <%s>: %u points (%s)", body, b.n_points, b.n_errors ? b.errors[0].msg : "");
  assert_int_equal(b.points[0].series_key_len, strlen(key));
  assert_memory_equal(b.points[0].series_key, key, strlen(key));
  lp_batch_deinit(&b);
}

static int str_eq(const char *p, uint32_t n, const char *s) {
  return n == strlen(s) && memcmp(p, s, n) == 0;
}

/* Parse one line that must hold a single field; return that field. */
static lp_field one_field(lp_batch *b, const char *body) {
  parse(b, body);
  if (b->n_points != 1) fail_msg("body <%s>: %u points (%s)", body, b->n_points, b->n_errors ? b->errors[0].msg : "");
  assert_int_equal(b->points[0].n_fields, 1);
  return b->points[0].fields[0];
}

/* ------------------------------------------------------------ syntax -- */

static void test_basic_point(void **state) {
  (void)state;
  lp_batch b;
  const char *body = "cpu,host=a,region=b value=1.5,n=3i 1465839830100400200\n";
  parse(&b, body);
  assert_int_equal(b.n_points, 1);
  assert_int_equal(b.n_errors, 0);
  lp_point *p = &b.points[0];
  assert_true(str_eq(p->measurement, p->measurement_len, "cpu"));
  assert_true(str_eq(p->series_key, p->series_key_len, "cpu,host=a,region=b"));
  assert_int_equal(p->n_tags, 2);
  assert_true(str_eq(p->tags[0].key, p->tags[0].key_len, "host"));
  assert_true(str_eq(p->tags[0].val, p->tags[0].val_len, "a"));
  assert_true(str_eq(p->tags[1].key, p->tags[1].key_len, "region"));
  assert_true(str_eq(p->tags[1].val, p->tags[1].val_len, "b"));
  assert_int_equal(p->n_fields, 2);
  assert_true(str_eq(p->fields[0].key, p->fields[0].key_len, "value"));
  assert_int_equal(p->fields[0].type, TS_FLOAT);
  assert_true(p->fields[0].v.f == 1.5);
  assert_true(str_eq(p->fields[1].key, p->fields[1].key_len, "n"));
  assert_int_equal(p->fields[1].type, TS_INT);
  assert_int_equal(p->fields[1].v.i, 3);
  assert_int_equal(p->ts_ns, INT64_C(1465839830100400200));
  assert_int_equal(p->line, 1);
  lp_batch_deinit(&b);
}

static void test_sorted_plain_key_points_into_body(void **state) {
  (void)state;
  lp_batch b;
  const char *body = "m,a=1,b=2 v=1\n";
  parse(&b, body);
  assert_int_equal(b.n_points, 1);
  assert_ptr_equal(b.points[0].series_key, body);
  assert_ptr_equal(b.points[0].measurement, body);
  assert_ptr_equal(b.points[0].fields[0].key, body + 10);
  lp_batch_deinit(&b);
}

static void test_no_tags(void **state) {
  (void)state;
  lp_batch b;
  parse(&b, "weather temp=82 10");
  assert_int_equal(b.n_points, 1);
  assert_int_equal(b.points[0].n_tags, 0);
  assert_null(b.points[0].tags);
  assert_true(str_eq(b.points[0].series_key, b.points[0].series_key_len, "weather"));
  assert_int_equal(b.points[0].ts_ns, 10);
  lp_batch_deinit(&b);
}

static void test_missing_timestamp_uses_default(void **state) {
  (void)state;
  lp_batch b;
  parse(&b, "cpu v=1\ncpu v=2 \n");
  assert_int_equal(b.n_points, 2);
  assert_int_equal(b.points[0].ts_ns, DEFAULT_TS);
  assert_int_equal(b.points[1].ts_ns, DEFAULT_TS);
  lp_batch_deinit(&b);
}

static void test_default_timestamp_truncated_to_precision(void **state) {
  (void)state;
  lp_batch b;
  lp_batch_init(&b);
  assert_int_equal(lp_parse(&b, "cpu v=1", 7, 1000000000, DEFAULT_TS), 0);
  assert_int_equal(lp_parse(&b, "cpu v=1", 7, 1000, -1500), 0);
  assert_int_equal(b.n_points, 2);
  assert_int_equal(b.points[0].ts_ns, INT64_C(1700000000000000000));
  assert_int_equal(b.points[1].ts_ns, -2000); /* floored, not toward zero */
  lp_batch_deinit(&b);
}

static void test_whitespace_between_sections(void **state) {
  (void)state;
  lp_batch b;
  parse(&b, "  \t cpu,t=x \t v=1  \t 5   ");
  assert_int_equal(b.n_points, 1);
  assert_int_equal(b.points[0].ts_ns, 5);
  assert_true(str_eq(b.points[0].series_key, b.points[0].series_key_len, "cpu,t=x"));
  lp_batch_deinit(&b);
}

static void test_fields_keep_line_order(void **state) {
  (void)state;
  lp_batch b;
  parse(&b, "m z=1,a=2,m=3");
  assert_int_equal(b.points[0].n_fields, 3);
  assert_true(str_eq(b.points[0].fields[0].key, b.points[0].fields[0].key_len, "z"));
  assert_true(str_eq(b.points[0].fields[1].key, b.points[0].fields[1].key_len, "a"));
  assert_true(str_eq(b.points[0].fields[2].key, b.points[0].fields[2].key_len, "m"));
  lp_batch_deinit(&b);
}

static void test_measurement_may_hold_equals_and_quotes(void **state) {
  (void)state;
  expect_key("a=b\"c v=1", "a=b\"c");
}

/* ------------------------------------------------------------ escapes -- */

static void test_measurement_escapes(void **state) {
  (void)state;
  lp_batch b;
  parse(&b, "my\\ cpu\\,x,t=1 v=1");
  assert_int_equal(b.n_points, 1);
  assert_true(str_eq(b.points[0].measurement, b.points[0].measurement_len, "my cpu,x"));
  assert_true(str_eq(b.points[0].series_key, b.points[0].series_key_len, "my\\ cpu\\,x,t=1"));
  lp_batch_deinit(&b);
}

static void test_measurement_other_backslash_kept(void **state) {
  (void)state;
  lp_batch b;
  parse(&b, "a\\=b\\x v=1");
  assert_true(str_eq(b.points[0].measurement, b.points[0].measurement_len, "a\\=b\\x"));
  assert_true(str_eq(b.points[0].series_key, b.points[0].series_key_len, "a\\=b\\x"));
  lp_batch_deinit(&b);
}

static void test_tag_escapes(void **state) {
  (void)state;
  lp_batch b;
  parse(&b, "cpu,ta\\ g\\=k=v\\,a\\=l\\ x v=1");
  assert_int_equal(b.n_points, 1);
  lp_point *p = &b.points[0];
  assert_int_equal(p->n_tags, 1);
  assert_true(str_eq(p->tags[0].key, p->tags[0].key_len, "ta g=k"));
  assert_true(str_eq(p->tags[0].val, p->tags[0].val_len, "v,a=l x"));
  assert_true(str_eq(p->series_key, p->series_key_len, "cpu,ta\\ g\\=k=v\\,a\\=l\\ x"));
  lp_batch_deinit(&b);
}

static void test_field_key_escapes(void **state) {
  (void)state;
  lp_batch b;
  lp_field f = one_field(&b, "cpu f\\ o\\,o\\=\\\"=1i");
  assert_true(str_eq(f.key, f.key_len, "f o,o=\""));
  assert_int_equal(f.type, TS_INT);
  lp_batch_deinit(&b);
}

static void test_string_escapes(void **state) {
  (void)state;
  lp_batch b;
  lp_field f = one_field(&b, "cpu s=\"a\\\"b\\\\c\\d, =x\"");
  assert_int_equal(f.type, TS_STRING);
  assert_true(str_eq(f.v.s.p, f.v.s.len, "a\"b\\c\\d, =x"));
  lp_batch_deinit(&b);
}

static void test_string_plain_points_into_body(void **state) {
  (void)state;
  lp_batch b;
  const char *body = "cpu s=\"hello world\",t=\"\"";
  parse(&b, body);
  assert_int_equal(b.points[0].n_fields, 2);
  assert_ptr_equal(b.points[0].fields[0].v.s.p, body + 7);
  assert_true(str_eq(b.points[0].fields[0].v.s.p, b.points[0].fields[0].v.s.len, "hello world"));
  assert_int_equal(b.points[0].fields[1].type, TS_STRING);
  assert_int_equal(b.points[0].fields[1].v.s.len, 0);
  lp_batch_deinit(&b);
}

static void test_string_spans_lines(void **state) {
  (void)state;
  lp_batch b;
  parse(&b, "cpu s=\"a\nb\" 1\ncpu v=1 2\nbad\n");
  assert_int_equal(b.n_points, 2);
  assert_true(str_eq(b.points[0].fields[0].v.s.p, b.points[0].fields[0].v.s.len, "a\nb"));
  assert_int_equal(b.points[0].line, 1);
  assert_int_equal(b.points[1].line, 3);
  assert_int_equal(b.n_errors, 1);
  assert_int_equal(b.errors[0].line, 4);
  lp_batch_deinit(&b);
}

static void test_escaped_newline_stays_in_line(void **state) {
  (void)state;
  /* the line goes on after "\\\n" as in InfluxDB, but a key never holds a newline */
  lp_batch b;
  parse(&b, "cpu,t=a\\\nb v=1\ncpu v=2\nm f\\\nk=1\n");
  assert_int_equal(b.n_points, 2);
  assert_int_equal(b.n_errors, 1);
  assert_int_equal(b.errors[0].line, 1);
  assert_string_equal(b.errors[0].msg, "unable to parse 'cpu,t=a\\\nb v=1': missing fields");
  assert_int_equal(b.points[0].line, 3);
  assert_int_equal(b.points[1].line, 4);
  assert_true(str_eq(b.points[1].fields[0].key, b.points[1].fields[0].key_len, "f\\\nk"));
  lp_batch_deinit(&b);
}

static void test_newline_never_in_series_key(void **state) {
  (void)state;
  /* InfluxDB's splitter keeps these in one line (leading space, then a quote
   * after '='): the measurement would hold a raw newline */
  lp_batch b;
  parse(&b, " m=\"x\n v=1\n");
  assert_int_equal(b.n_points, 0);
  assert_int_equal(b.n_errors, 1);
  assert_string_equal(b.errors[0].msg, "unable to parse 'm=\"x\n v=1': missing fields");
  lp_batch_deinit(&b);
}

static void test_tag_value_may_start_with_equals(void **state) {
  (void)state;
  lp_batch b;
  parse(&b, "cpu,t==x v=1");
  assert_int_equal(b.n_points, 1);
  assert_true(str_eq(b.points[0].tags[0].val, b.points[0].tags[0].val_len, "=x"));
  assert_true(str_eq(b.points[0].series_key, b.points[0].series_key_len, "cpu,t=\\=x"));
  lp_batch_deinit(&b);
}

/* -------------------------------------------------------- series keys -- */

static void test_key_sorts_tags(void **state) {
  (void)state;
  lp_batch b;
  parse(&b, "cpu,zone=c,b=2,a=1,host=h v=1");
  lp_point *p = &b.points[0];
  assert_true(str_eq(p->series_key, p->series_key_len, "cpu,a=1,b=2,host=h,zone=c"));
  assert_int_equal(p->n_tags, 4);
  assert_true(str_eq(p->tags[0].key, p->tags[0].key_len, "a"));
  assert_true(str_eq(p->tags[1].key, p->tags[1].key_len, "b"));
  assert_true(str_eq(p->tags[2].key, p->tags[2].key_len, "host"));
  assert_true(str_eq(p->tags[3].key, p->tags[3].key_len, "zone"));
  assert_true(str_eq(p->tags[3].val, p->tags[3].val_len, "c"));
  lp_batch_deinit(&b);
}

static void test_key_sort_is_bytewise_with_prefixes(void **state) {
  (void)state;
  expect_key("m,ab=1,a=2,B=3,\xc3\xa9=4,a0=5 v=1", "m,B=3,a=2,a0=5,ab=1,\xc3\xa9=4");
}

static void test_key_sorts_on_unescaped_keys(void **state) {
  (void)state;
  /* "a b" < "a!" unescaped (0x20 < 0x21), though "a\ b" > "a!" escaped */
  expect_key("cpu,a!=2,a\\ b=1 v=1", "cpu,a\\ b=1,a!=2");
  expect_key("cpu,a\\ b=1,a!=2 v=1", "cpu,a\\ b=1,a!=2");
}

static void test_key_same_for_any_tag_order(void **state) {
  (void)state;
  const char *orders[] = {"m,a=1,b=2,c=3 v=1", "m,c=3,b=2,a=1 v=1", "m,b=2,c=3,a=1 v=1"};
  for (int k = 0; k < 3; k++) expect_key(orders[k], "m,a=1,b=2,c=3");
}

static void test_key_many_tags_sorted(void **state) {
  (void)state;
  /* 40 tags in reverse order take the qsort path */
  char line[1024], want[1024];
  size_t o = (size_t)snprintf(line, sizeof line, "m"), w = (size_t)snprintf(want, sizeof want, "m");
  for (int k = 39; k >= 0; k--) o += (size_t)snprintf(line + o, sizeof line - o, ",k%02d=v%d", k, k);
  for (int k = 0; k < 40; k++) w += (size_t)snprintf(want + w, sizeof want - w, ",k%02d=v%d", k, k);
  snprintf(line + o, sizeof line - o, " v=1");
  expect_key(line, want);
}

static void test_key_escapes_reordered_tags(void **state) {
  (void)state;
  expect_key("m\\ x,z=a\\ b,y=c\\,d v=1", "m\\ x,y=c\\,d,z=a\\ b");
}

/* --------------------------------------------------------------- types -- */

static void test_float_forms(void **state) {
  (void)state;
  static const struct {
    const char *text;
    double v;
  } cases[] = {{"1", 1.0},         {"1.5", 1.5},     {"-1.5e3", -1500.0}, {"1.", 1.0},
               {"-.5", -0.5},      {"1E+3", 1000.0}, {"2e-3", 0.002},     {"0", 0.0},
               {"007.25", 7.25},   {"1.e2", 100.0},  {".5", 0.5},  {"-0.0", -0.0},      {"58.1", 58.1},
               {"1e-400", 0.0},    {"123456789012345678", 123456789012345678.0}};
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    char line[64];
    snprintf(line, sizeof line, "m v=%s", cases[k].text);
    lp_batch b;
    lp_field f = one_field(&b, line);
    assert_int_equal(f.type, TS_FLOAT);
    if (f.v.f != cases[k].v) fail_msg("%s parsed as %.17g", cases[k].text, f.v.f);
    lp_batch_deinit(&b);
  }
}

static void test_float_correctly_rounded(void **state) {
  (void)state;
  /* fast-path and slow-path inputs; strtod (glibc) is correctly rounded */
  static const char *texts[] = {"0.1", "0.3", "3.141592653589793", "1.7976931348623157e308",
                                "2.2250738585072014e-308", "4.9e-324", "9007199254740993",
                                "123456789012345678901234567890", "0.000000000000000000000001",
                                "1e22", "1e23", "8.589973e9", "2.5e-5", "-12.345678",
                                "99999999999999999999999999.5e-10", "1234567.123456789"};
  for (size_t k = 0; k < sizeof texts / sizeof texts[0]; k++) {
    char line[128];
    snprintf(line, sizeof line, "m v=%s", texts[k]);
    lp_batch b;
    lp_field f = one_field(&b, line);
    double want = strtod(texts[k], NULL);
    if (memcmp(&f.v.f, &want, sizeof want) != 0)
      fail_msg("%s parsed as %.17g, want %.17g", texts[k], f.v.f, want);
    lp_batch_deinit(&b);
  }
}

static void test_integer_values(void **state) {
  (void)state;
  lp_batch b;
  parse(&b, "m a=0i,b=-42i,c=9223372036854775807i,d=-9223372036854775808i,e=007i");
  assert_int_equal(b.n_points, 1);
  lp_field *f = b.points[0].fields;
  for (int k = 0; k < 5; k++) assert_int_equal(f[k].type, TS_INT);
  assert_int_equal(f[0].v.i, 0);
  assert_int_equal(f[1].v.i, -42);
  assert_int_equal(f[2].v.i, INT64_MAX);
  assert_int_equal(f[3].v.i, INT64_MIN);
  assert_int_equal(f[4].v.i, 7);
  lp_batch_deinit(&b);
}

static void test_unsigned_values(void **state) {
  (void)state;
  lp_batch b;
  parse(&b, "m a=0u,b=18446744073709551615u");
  assert_int_equal(b.n_points, 1);
  assert_int_equal(b.points[0].fields[0].type, TS_UINT);
  assert_int_equal(b.points[0].fields[0].v.u, 0);
  assert_int_equal(b.points[0].fields[1].type, TS_UINT);
  assert_true(b.points[0].fields[1].v.u == UINT64_MAX);
  lp_batch_deinit(&b);
}

static void test_boolean_spellings(void **state) {
  (void)state;
  static const char *t[] = {"t", "T", "true", "True", "TRUE"};
  static const char *f[] = {"f", "F", "false", "False", "FALSE"};
  for (int k = 0; k < 5; k++) {
    char line[32];
    lp_batch b;
    snprintf(line, sizeof line, "m v=%s", t[k]);
    lp_field v = one_field(&b, line);
    assert_int_equal(v.type, TS_BOOL);
    assert_int_equal(v.v.b, 1);
    lp_batch_deinit(&b);
    snprintf(line, sizeof line, "m v=%s", f[k]);
    v = one_field(&b, line);
    assert_int_equal(v.type, TS_BOOL);
    assert_int_equal(v.v.b, 0);
    lp_batch_deinit(&b);
  }
}

static void test_duplicate_fields_last_wins(void **state) {
  (void)state;
  lp_batch b;
  parse(&b, "m a=1,b=2i,a=7.5,c=t,b=3i");
  assert_int_equal(b.n_points, 1);
  lp_point *p = &b.points[0];
  assert_int_equal(p->n_fields, 3);
  assert_true(str_eq(p->fields[0].key, p->fields[0].key_len, "a"));
  assert_int_equal(p->fields[0].type, TS_FLOAT);
  assert_true(p->fields[0].v.f == 7.5);
  assert_true(str_eq(p->fields[1].key, p->fields[1].key_len, "b"));
  assert_int_equal(p->fields[1].v.i, 3);
  assert_true(str_eq(p->fields[2].key, p->fields[2].key_len, "c"));
  lp_batch_deinit(&b);
}

static void test_duplicate_fields_many(void **state) {
  (void)state;
  /* 60 fields, f0..f29 twice: the hash path keeps 30, with the later values */
  char line[2048];
  size_t o = (size_t)snprintf(line, sizeof line, "m ");
  for (int k = 0; k < 60; k++) o += (size_t)snprintf(line + o, sizeof line - o, "%sf%d=%di", k ? "," : "", k % 30, k);
  lp_batch b;
  parse(&b, line);
  assert_int_equal(b.n_points, 1);
  assert_int_equal(b.points[0].n_fields, 30);
  for (int k = 0; k < 30; k++) {
    char key[8];
    snprintf(key, sizeof key, "f%d", k);
    assert_true(str_eq(b.points[0].fields[k].key, b.points[0].fields[k].key_len, key));
    assert_int_equal(b.points[0].fields[k].v.i, k + 30);
  }
  lp_batch_deinit(&b);
}

static void test_error_duplicate_field_type_conflict(void **state) {
  (void)state;
  expect_reason("m a=1,b=2i,a=\"x\"",
                "field type conflict: input field \"a\" on measurement \"m\" is type string, "
                "already exists as type float");
  /* the hash path (more than 16 fields) too */
  char line[512];
  size_t o = (size_t)snprintf(line, sizeof line, "m ");
  for (int k = 0; k < 20; k++) o += (size_t)snprintf(line + o, sizeof line - o, "f%d=%di,", k, k);
  snprintf(line + o, sizeof line - o, "f3=true");
  lp_batch b;
  parse(&b, line);
  assert_int_equal(b.n_points, 0);
  assert_int_equal(b.n_errors, 1);
  /* the quote is shortened so that the whole reason fits */
  const char *want = "...': field type conflict: input field \"f3\" on measurement \"m\" is type "
                     "boolean, already exists as type integer";
  size_t ml = strlen(b.errors[0].msg), wl = strlen(want);
  assert_true(ml > wl);
  assert_string_equal(b.errors[0].msg + ml - wl, want);
  lp_batch_deinit(&b);
}

/* -------------------------------------------------------------- errors -- */

static void test_error_missing_measurement(void **state) {
  (void)state;
  expect_reason(",cpu v=1", "missing measurement");
}

static void test_error_missing_fields(void **state) {
  (void)state;
  expect_reason("cpu", "missing fields");
  expect_reason("cpu,host=a", "missing fields");
  expect_reason("cpu\tv=1", "missing fields");
}

static void test_error_missing_tag_key(void **state) {
  (void)state;
  expect_reason("cpu, v=1", "missing tag key");
  expect_reason("cpu,=a v=1", "missing tag key");
  expect_reason("cpu,a=1,,b=2 v=1", "missing tag key");
}

static void test_error_missing_tag_value(void **state) {
  (void)state;
  expect_reason("cpu,host v=1", "missing tag value");
  expect_reason("cpu,host= v=1", "missing tag value");
  expect_reason("cpu,host=,a=1 v=1", "missing tag value");
}

static void test_error_invalid_tag_format(void **state) {
  (void)state;
  expect_reason("cpu,host=a=b v=1", "invalid tag format");
}

static void test_error_duplicate_tags(void **state) {
  (void)state;
  expect_reason("cpu,a=1,a=2 v=1", "duplicate tags");
  expect_reason("cpu,b=1,a=2,b=3 v=1", "duplicate tags");
  expect_reason("cpu,a\\ b=1,x=1,a\\ b=2 v=1", "duplicate tags");
}

static void test_error_invalid_field_format(void **state) {
  (void)state;
  expect_error("cpu ", "cpu ", "invalid field format");
  expect_reason("cpu value", "invalid field format");
  expect_reason("cpu value=1,", "invalid field format");
  expect_reason("cpu a=1,b", "invalid field format");
  expect_reason("cpu a=1, b=2", "invalid field format");
  expect_reason("cpu s=\"a\"b", "invalid field format");
}

static void test_error_missing_field_key(void **state) {
  (void)state;
  expect_reason("cpu =1", "missing field key");
  expect_reason("cpu a=1,=2", "missing field key");
}

static void test_error_missing_field_value(void **state) {
  (void)state;
  expect_reason("cpu,host=a value=", "missing field value");
  expect_reason("cpu value=,x=1", "missing field value");
  expect_reason("cpu value= 1", "missing field value");
}

static void test_error_invalid_number(void **state) {
  (void)state;
  static const char *lines[] = {"m v=1.2.3", "m v=1a", "m v=-", "m v=-,x=1", "m v=NaN",
                                "m v=nan", "m v=-Inf", "m v=1.5i", "m v=1e3i", "m v=-1u",
                                "m v=1i5", "m v=1ii", "m v=1.0u", "m v=0x10", "m v=1_000",
                                "m v=1-2", "m v=-.", "m v=-i", "m v=1\t2"};
  for (size_t k = 0; k < sizeof lines / sizeof lines[0]; k++) expect_reason(lines[k], "invalid number");
}

static void test_error_invalid_float(void **state) {
  (void)state;
  expect_reason("m v=1e", "invalid float");
  expect_reason("m v=1e400", "invalid float");
  expect_reason("m v=-1e+", "invalid float");
  expect_reason("m v=1e5e5", "invalid float");
  expect_reason("m v=1e5.5", "invalid float");
  expect_reason("m v=-e5", "invalid float");
}

static void test_error_integer_out_of_range(void **state) {
  (void)state;
  expect_reason("m v=9223372036854775808i",
                "unable to parse integer 9223372036854775808: strconv.ParseInt: parsing "
                "\"9223372036854775808\": value out of range");
  expect_reason("m v=-9223372036854775809i",
                "unable to parse integer -9223372036854775809: strconv.ParseInt: parsing "
                "\"-9223372036854775809\": value out of range");
}

static void test_error_unsigned_out_of_range(void **state) {
  (void)state;
  expect_reason("m v=18446744073709551616u",
                "unable to parse unsigned 18446744073709551616: strconv.ParseUint: parsing "
                "\"18446744073709551616\": value out of range");
}

static void test_error_invalid_boolean(void **state) {
  (void)state;
  static const char *lines[] = {"m v=tru", "m v=yes", "m v=tRUE", "m v=falsey",
                                "m v=+5", "m v=Inf", "m v=e3", "m v=FaLSE"};
  for (size_t k = 0; k < sizeof lines / sizeof lines[0]; k++) expect_reason(lines[k], "invalid boolean");
}

static void test_error_unbalanced_quotes(void **state) {
  (void)state;
  expect_reason("m v=\"abc", "unbalanced quotes");
  expect_reason("m v=\"abc\\\"", "unbalanced quotes");
}

static void test_unterminated_string_swallows_rest_of_body(void **state) {
  (void)state;
  /* as in InfluxDB: the quote is open until the end, one error */
  lp_batch b;
  parse(&b, "m v=1\nm s=\"abc\nm v=2\nm v=3\n");
  assert_int_equal(b.n_points, 1);
  assert_int_equal(b.n_errors, 1);
  assert_int_equal(b.errors[0].line, 2);
  assert_non_null(strstr(b.errors[0].msg, "unbalanced quotes"));
  lp_batch_deinit(&b);
}

static void test_error_bad_timestamp(void **state) {
  (void)state;
  expect_reason("m v=1 12a", "bad timestamp");
  expect_reason("m v=1 +12", "bad timestamp");
  expect_reason("m v=1 1.5", "bad timestamp");
  expect_reason("m v=1 12\t", "bad timestamp");
  expect_reason("m v=1 -", "strconv.ParseInt: parsing \"-\": invalid syntax");
  expect_reason("m v=1 99999999999999999999",
                "strconv.ParseInt: parsing \"99999999999999999999\": value out of range");
}

static void test_error_trailing_garbage(void **state) {
  (void)state;
  expect_reason("m v=1 12 x", "point is invalid");
}

static void test_error_time_outside_range(void **state) {
  (void)state;
  const char *reason = "time outside range -9223372036854775806 - 9223372036854775806";
  expect_reason("m v=1 9223372036854775807", reason);
  expect_reason("m v=1 -9223372036854775807", reason);
  lp_batch b;
  lp_batch_init(&b);
  assert_int_equal(lp_parse(&b, "m v=1 9223372037", 16, 1000000000, 0), 0);
  assert_int_equal(b.n_points, 0);
  assert_non_null(strstr(b.errors[0].msg, reason));
  lp_batch_deinit(&b);
  parse(&b, "m v=1 9223372036854775806\nm v=1 -9223372036854775806");
  assert_int_equal(b.n_points, 2);
  assert_int_equal(b.points[0].ts_ns, INT64_MAX - 1);
  assert_int_equal(b.points[1].ts_ns, INT64_MIN + 2);
  lp_batch_deinit(&b);
}

static void test_error_max_key_length(void **state) {
  (void)state;
  size_t n = 65536 + 16;
  char *line = malloc(n + 16);
  assert_non_null(line);
  memset(line, 'm', 65530);
  strcpy(line + 65530, " v=1");
  lp_batch b;
  parse(&b, line); /* key 65530 + 4 + field key 1 = 65535: fine */
  assert_int_equal(b.n_points, 1);
  lp_batch_deinit(&b);
  memset(line, 'm', 65536);
  strcpy(line + 65536, " v=1");
  parse(&b, line);
  assert_int_equal(b.n_points, 0);
  assert_non_null(strstr(b.errors[0].msg, "': max key length exceeded: 65536 > 65535"));
  lp_batch_deinit(&b);
  /* key 65531 + 4 + field key 1 = 65536 */
  memset(line, 'm', 65531);
  strcpy(line + 65531, " v=1");
  parse(&b, line);
  assert_int_equal(b.n_points, 0);
  assert_non_null(strstr(b.errors[0].msg, "': max key length exceeded: 65536 > 65535"));
  lp_batch_deinit(&b);
  free(line);
}

static void test_error_quote_is_cut(void **state) {
  (void)state;
  /* 98 ASCII bytes then a 3-byte UTF-8 character across the 100-byte cut */
  char line[256];
  memset(line, 'a', 98);
  strcpy(line + 98, "\xe2\x82\xac bad=");
  lp_batch b;
  parse(&b, line);
  assert_int_equal(b.n_errors, 1);
  char want[256];
  snprintf(want, sizeof want, "unable to parse '%.98s...': missing field value", line);
  assert_string_equal(b.errors[0].msg, want);
  lp_batch_deinit(&b);
}

static void test_error_quote_without_leading_whitespace(void **state) {
  (void)state;
  expect_error(" \t cpu v=", "cpu v=", "missing field value");
}

static void test_error_line_numbers(void **state) {
  (void)state;
  lp_batch b;
  parse(&b, "# header\n"            /* 1 */
            "cpu v=1 1\n"           /* 2 */
            "cpu v=\n"              /* 3 bad */
            "\n"                    /* 4 */
            "cpu,host=a v=2 2\r\n"  /* 5 */
            "   \t\n"               /* 6 */
            "cpu,h v=1\n"           /* 7 bad */
            "cpu v=3 3\n");         /* 8 */
  assert_int_equal(b.n_points, 3);
  assert_int_equal(b.points[0].line, 2);
  assert_int_equal(b.points[1].line, 5);
  assert_int_equal(b.points[2].line, 8);
  assert_int_equal(b.n_errors, 2);
  assert_int_equal(b.errors[0].line, 3);
  assert_string_equal(b.errors[0].msg, "unable to parse 'cpu v=': missing field value");
  assert_int_equal(b.errors[1].line, 7);
  assert_string_equal(b.errors[1].msg, "unable to parse 'cpu,h v=1': missing tag value");
  lp_batch_deinit(&b);
}

static void test_error_count_is_capped(void **state) {
  (void)state;
  size_t n = 1000;
  char *body = malloc(n * 4 + 1);
  assert_non_null(body);
  for (size_t k = 0; k < n; k++) memcpy(body + 4 * k, "bad\n", 4);
  body[n * 4] = 0;
  lp_batch b;
  parse(&b, body);
  assert_int_equal(b.n_points, 0);
  assert_int_equal(b.n_errors, LP_MAX_ERRORS);
  assert_int_equal(b.n_errors_total, 1000);
  assert_int_equal(b.errors[LP_MAX_ERRORS - 1].line, LP_MAX_ERRORS);
  lp_batch_deinit(&b);
  free(body);
}

static void test_nul_in_quoted_line(void **state) {
  (void)state;
  lp_batch b;
  lp_batch_init(&b);
  static const char body[] = "m v=\0x";
  assert_int_equal(lp_parse(&b, body, sizeof body - 1, NS, 0), 0);
  assert_string_equal(b.errors[0].msg, "unable to parse 'm v=?x': invalid boolean");
  lp_batch_deinit(&b);
}

/* ------------------------------------------------ lines and precision -- */

static void test_comments_blank_lines_crlf(void **state) {
  (void)state;
  lp_batch b;
  parse(&b, "\r\n# comment v=\"\r\n  # indented comment\r\n\r\ncpu v=1 7\r\n\t\r\ncpu v=2\r\n");
  assert_int_equal(b.n_errors, 0);
  assert_int_equal(b.n_points, 2);
  assert_int_equal(b.points[0].ts_ns, 7);
  assert_int_equal(b.points[0].line, 5);
  assert_int_equal(b.points[1].ts_ns, DEFAULT_TS);
  assert_int_equal(b.points[1].line, 7);
  lp_batch_deinit(&b);
}

static void test_empty_bodies(void **state) {
  (void)state;
  lp_batch b;
  lp_batch_init(&b);
  assert_int_equal(lp_parse(&b, "", 0, NS, 0), 0);
  assert_int_equal(lp_parse(&b, "\n\n\n", 3, NS, 0), 0);
  assert_int_equal(lp_parse(&b, "# only\n", 7, NS, 0), 0);
  assert_int_equal(b.n_points, 0);
  assert_int_equal(b.n_errors_total, 0);
  lp_batch_deinit(&b);
}

static void test_precision_conversion(void **state) {
  (void)state;
  static const int64_t precs[] = {1, 1000, 1000000, 1000000000, INT64_C(60000000000),
                                  INT64_C(3600000000000)};
  lp_batch b;
  lp_batch_init(&b);
  for (size_t k = 0; k < 6; k++) assert_int_equal(lp_parse(&b, "m v=1 5\nm v=1 -3", 16, precs[k], 0), 0);
  assert_int_equal(b.n_points, 12);
  for (size_t k = 0; k < 6; k++) {
    assert_int_equal(b.points[2 * k].ts_ns, 5 * precs[k]);
    assert_int_equal(b.points[2 * k + 1].ts_ns, -3 * precs[k]);
  }
  lp_batch_deinit(&b);
}

static void test_bad_precision(void **state) {
  (void)state;
  lp_batch b;
  lp_batch_init(&b);
  assert_int_equal(lp_parse(&b, "m v=1", 5, 0, 0), LOOM_EINVAL);
  assert_int_equal(lp_parse(&b, "m v=1", 5, 10, 0), LOOM_EINVAL);
  assert_int_equal(lp_parse(&b, "m v=1", 5, -1000, 0), LOOM_EINVAL);
  assert_int_equal(b.n_points, 0);
  lp_batch_deinit(&b);
}

static void test_precision_parse(void **state) {
  (void)state;
  int64_t p = -5;
  assert_int_equal(lp_precision_parse(NULL, &p), 0);
  assert_int_equal(p, 1);
  assert_int_equal(lp_precision_parse("ns", &p), 0);
  assert_int_equal(p, 1);
  assert_int_equal(lp_precision_parse("u", &p), 0);
  assert_int_equal(p, 1000);
  assert_int_equal(lp_precision_parse("us", &p), 0);
  assert_int_equal(p, 1000);
  assert_int_equal(lp_precision_parse("ms", &p), 0);
  assert_int_equal(p, 1000000);
  assert_int_equal(lp_precision_parse("s", &p), 0);
  assert_int_equal(p, 1000000000);
  assert_int_equal(lp_precision_parse("m", &p), 0);
  assert_int_equal(p, INT64_C(60000000000));
  assert_int_equal(lp_precision_parse("h", &p), 0);
  assert_int_equal(p, INT64_C(3600000000000));
  assert_int_equal(lp_precision_parse("d", &p), LOOM_EINVAL);
  assert_int_equal(lp_precision_parse("S", &p), LOOM_EINVAL);
  assert_int_equal(p, INT64_C(3600000000000));
}

/* ------------------------------------------------------ batches, memory -- */

static void test_parse_appends_and_reset_clears(void **state) {
  (void)state;
  lp_batch b;
  lp_batch_init(&b);
  assert_int_equal(lp_parse(&b, "a v=1\nbad", 9, NS, 0), 0);
  assert_int_equal(lp_parse(&b, "b v=1", 5, NS, 0), 0);
  assert_int_equal(b.n_points, 2);
  assert_int_equal(b.points[1].line, 1);
  assert_int_equal(b.n_errors, 1);
  lp_batch_reset(&b);
  assert_int_equal(b.n_points, 0);
  assert_int_equal(b.n_errors, 0);
  assert_int_equal(b.n_errors_total, 0);
  assert_int_equal(lp_parse(&b, "c,z=1,a=2 v=1", 13, NS, 0), 0);
  assert_true(str_eq(b.points[0].series_key, b.points[0].series_key_len, "c,a=2,z=1"));
  lp_batch_deinit(&b);
}

/* TSBS-like cpu lines (10 unsorted tags, 10 integer fields). */
static char *make_big_body(size_t n_lines, size_t *len) {
  size_t cap = n_lines * 400 + 1, o = 0;
  char *s = malloc(cap);
  assert_non_null(s);
  for (size_t k = 0; k < n_lines; k++) {
    o += (size_t)snprintf(s + o, cap - o,
                          "cpu,hostname=host_%zu,region=eu-central-1,datacenter=eu-central-1a,rack=%zu,"
                          "os=Ubuntu15.10,arch=x86,team=SF,service=19,service_version=1,"
                          "service_environment=test usage_user=%zui,usage_system=2i,usage_idle=3i,"
                          "usage_nice=4i,usage_iowait=5i,usage_irq=6i,usage_softirq=7i,usage_steal=8i,"
                          "usage_guest=9i,usage_guest_nice=10i %zu\n",
                          k % 1000, k % 7, k, 1451606400000000000 + k * 10000000000);
  }
  *len = o;
  return s;
}

static void test_big_body(void **state) {
  (void)state;
  size_t len, n = 100000;
  char *body = make_big_body(n, &len);
  lp_batch b;
  lp_batch_init(&b);
  for (int round = 0; round < 2; round++) {
    lp_batch_reset(&b);
    assert_int_equal(lp_parse(&b, body, len, NS, 0), 0);
    assert_int_equal(b.n_points, n);
    assert_int_equal(b.n_errors_total, 0);
    lp_point *p = &b.points[n - 1];
    assert_int_equal(p->line, n);
    assert_int_equal(p->n_tags, 10);
    assert_int_equal(p->n_fields, 10);
    assert_int_equal(p->fields[0].v.i, (int64_t)(n - 1));
    assert_int_equal(p->ts_ns, 1451606400000000000 + (int64_t)(n - 1) * 10000000000);
    char want[256];
    snprintf(want, sizeof want,
             "cpu,arch=x86,datacenter=eu-central-1a,hostname=host_%zu,os=Ubuntu15.10,rack=%zu,"
             "region=eu-central-1,service=19,service_environment=test,service_version=1,team=SF",
             (n - 1) % 1000, (n - 1) % 7);
    assert_true(str_eq(p->series_key, p->series_key_len, want));
  }
  lp_batch_deinit(&b);
  free(body);
}

static void test_reset_keeps_bounded_memory(void **state) {
  (void)state;
  size_t len, n = 100000;
  char *body = make_big_body(n, &len);
  size_t base = loom_mem_used();
  lp_batch b;
  lp_batch_init(&b);
  assert_int_equal(lp_parse(&b, body, len, NS, 0), 0);
  size_t peak = loom_mem_used() - base;
  assert_true(peak > 32u * 1024 * 1024); /* ~75 MB for 100k TSBS cpu points */
  lp_batch_reset(&b);
  size_t kept = loom_mem_used() - base;
  assert_true(kept <= 9u * 1024 * 1024); /* the arena keeps 8 MB, scratch is small */
  assert_true(kept > 0);
  lp_batch_deinit(&b);
  assert_int_equal(loom_mem_used(), base);
  free(body);
}

static void test_allocation_failures(void **state) {
  (void)state;
  /* every allocation point fails once; never a crash or a leak */
  const char *body = "cpu,b=1,a\\ x=2 f\\ k=1,s=\"q\\\"\",v=1e300,w=1.00000000000000000001\n"
                     "bad\ncpu,z=1,y=2 v=1\n";
  size_t base = loom_mem_used();
  int saw_nomem = 0, saw_ok = 0;
  for (long k = 0; k < 40 && !saw_ok; k++) {
    lp_batch b;
    lp_batch_init(&b);
    loom_mem_fail_after(k);
    int rc = lp_parse(&b, body, strlen(body), NS, 0);
    loom_mem_fail_after(-1);
    if (rc == 0) {
      saw_ok = 1;
      assert_int_equal(b.n_points, 2);
      assert_int_equal(b.n_errors, 1);
    } else {
      assert_int_equal(rc, LOOM_ENOMEM);
      saw_nomem = 1;
    }
    lp_batch_deinit(&b);
    assert_int_equal(loom_mem_used(), base);
  }
  assert_true(saw_nomem);
  assert_true(saw_ok);
}

/* lp_batch_add: a built point equals the parsed one (escapes, tag order). */
static void test_batch_add_same_as_parse(void **state) {
  (void)state;
  const char *line = "m\\ x\\,y,a=1,b\\ c=v\\=w f=1.5,s=\"q\\\"z\",i=-3i,t=true 42\n";
  lp_batch parsed, built;
  lp_batch_init(&parsed);
  lp_batch_init(&built);
  assert_int_equal(lp_parse(&parsed, line, strlen(line), 1, 0), 0);
  assert_int_equal(parsed.n_points, 1);
  lp_tag tags[2] = {{"a", "1", 1, 1}, {"b c", "v=w", 3, 3}};
  lp_field fs[4] = {{.key = "f", .key_len = 1, .type = TS_FLOAT, .v.f = 1.5},
                    {.key = "s", .key_len = 1, .type = TS_STRING, .v.s = {"q\"z", 3}},
                    {.key = "i", .key_len = 1, .type = TS_INT, .v.i = -3},
                    {.key = "t", .key_len = 1, .type = TS_BOOL, .v.b = 1}};
  assert_int_equal(lp_batch_add(&built, "m x,y", 5, tags, 2, fs, 4, 42, 1), 0);
  const lp_point *p = &parsed.points[0], *q = &built.points[0];
  assert_int_equal(p->series_key_len, q->series_key_len);
  assert_memory_equal(p->series_key, q->series_key, p->series_key_len);
  assert_int_equal(p->measurement_len, q->measurement_len);
  assert_memory_equal(p->measurement, q->measurement, p->measurement_len);
  assert_int_equal(p->n_tags, 2);
  assert_int_equal(q->n_tags, 2);
  assert_memory_equal(q->tags[1].val, "v=w", 3);
  assert_int_equal(p->n_fields, q->n_fields);
  assert_int_equal(q->fields[1].v.s.len, p->fields[1].v.s.len);
  assert_memory_equal(q->fields[1].v.s.p, p->fields[1].v.s.p, 3);
  assert_int_equal(q->fields[2].v.i, p->fields[2].v.i);
  assert_int_equal(p->ts_ns, q->ts_ns);
  assert_int_equal(p->line, q->line);
  lp_batch_deinit(&parsed);
  lp_batch_deinit(&built);
}

static void test_batch_add_refuses_what_parse_would_not_give(void **state) {
  (void)state;
  lp_batch b;
  lp_batch_init(&b);
  lp_tag unsorted[2] = {{"b", "1", 1, 1}, {"a", "1", 1, 1}};
  lp_field f = {.key = "f", .key_len = 1, .type = TS_FLOAT, .v.f = 1};
  lp_field dup[2] = {f, f};
  assert_int_equal(lp_batch_add(&b, "m", 1, unsorted, 2, &f, 1, 0, 1), LOOM_EINVAL);
  assert_int_equal(lp_batch_add(&b, "m", 1, NULL, 0, dup, 2, 0, 1), LOOM_EINVAL);
  assert_int_equal(lp_batch_add(&b, "", 0, NULL, 0, &f, 1, 0, 1), LOOM_EINVAL);
  assert_int_equal(lp_batch_add(&b, "m", 1, NULL, 0, &f, 0, 0, 1), LOOM_EINVAL);
  assert_int_equal(lp_batch_add(&b, "m", 1, NULL, 0, &f, 1, INT64_MAX, 1), LOOM_EINVAL);
  assert_int_equal(b.n_points, 0);
  assert_int_equal(lp_batch_add(&b, "m", 1, NULL, 0, &f, 1, 0, 1), 0);
  assert_int_equal(b.n_points, 1);
  lp_batch_deinit(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_basic_point),
      cmocka_unit_test(test_sorted_plain_key_points_into_body),
      cmocka_unit_test(test_no_tags),
      cmocka_unit_test(test_missing_timestamp_uses_default),
      cmocka_unit_test(test_default_timestamp_truncated_to_precision),
      cmocka_unit_test(test_whitespace_between_sections),
      cmocka_unit_test(test_fields_keep_line_order),
      cmocka_unit_test(test_measurement_may_hold_equals_and_quotes),
      cmocka_unit_test(test_measurement_escapes),
      cmocka_unit_test(test_measurement_other_backslash_kept),
      cmocka_unit_test(test_tag_escapes),
      cmocka_unit_test(test_field_key_escapes),
      cmocka_unit_test(test_string_escapes),
      cmocka_unit_test(test_string_plain_points_into_body),
      cmocka_unit_test(test_string_spans_lines),
      cmocka_unit_test(test_escaped_newline_stays_in_line),
      cmocka_unit_test(test_newline_never_in_series_key),
      cmocka_unit_test(test_tag_value_may_start_with_equals),
      cmocka_unit_test(test_key_sorts_tags),
      cmocka_unit_test(test_key_sort_is_bytewise_with_prefixes),
      cmocka_unit_test(test_key_sorts_on_unescaped_keys),
      cmocka_unit_test(test_key_same_for_any_tag_order),
      cmocka_unit_test(test_key_many_tags_sorted),
      cmocka_unit_test(test_key_escapes_reordered_tags),
      cmocka_unit_test(test_float_forms),
      cmocka_unit_test(test_float_correctly_rounded),
      cmocka_unit_test(test_integer_values),
      cmocka_unit_test(test_unsigned_values),
      cmocka_unit_test(test_boolean_spellings),
      cmocka_unit_test(test_duplicate_fields_last_wins),
      cmocka_unit_test(test_duplicate_fields_many),
      cmocka_unit_test(test_error_duplicate_field_type_conflict),
      cmocka_unit_test(test_error_missing_measurement),
      cmocka_unit_test(test_error_missing_fields),
      cmocka_unit_test(test_error_missing_tag_key),
      cmocka_unit_test(test_error_missing_tag_value),
      cmocka_unit_test(test_error_invalid_tag_format),
      cmocka_unit_test(test_error_duplicate_tags),
      cmocka_unit_test(test_error_invalid_field_format),
      cmocka_unit_test(test_error_missing_field_key),
      cmocka_unit_test(test_error_missing_field_value),
      cmocka_unit_test(test_error_invalid_number),
      cmocka_unit_test(test_error_invalid_float),
      cmocka_unit_test(test_error_integer_out_of_range),
      cmocka_unit_test(test_error_unsigned_out_of_range),
      cmocka_unit_test(test_error_invalid_boolean),
      cmocka_unit_test(test_error_unbalanced_quotes),
      cmocka_unit_test(test_unterminated_string_swallows_rest_of_body),
      cmocka_unit_test(test_error_bad_timestamp),
      cmocka_unit_test(test_error_trailing_garbage),
      cmocka_unit_test(test_error_time_outside_range),
      cmocka_unit_test(test_error_max_key_length),
      cmocka_unit_test(test_error_quote_is_cut),
      cmocka_unit_test(test_error_quote_without_leading_whitespace),
      cmocka_unit_test(test_error_line_numbers),
      cmocka_unit_test(test_error_count_is_capped),
      cmocka_unit_test(test_nul_in_quoted_line),
      cmocka_unit_test(test_comments_blank_lines_crlf),
      cmocka_unit_test(test_empty_bodies),
      cmocka_unit_test(test_precision_conversion),
      cmocka_unit_test(test_bad_precision),
      cmocka_unit_test(test_precision_parse),
      cmocka_unit_test(test_parse_appends_and_reset_clears),
      cmocka_unit_test(test_big_body),
      cmocka_unit_test(test_reset_keeps_bounded_memory),
      cmocka_unit_test(test_allocation_failures),
      cmocka_unit_test(test_batch_add_same_as_parse),
      cmocka_unit_test(test_batch_add_refuses_what_parse_would_not_give),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
