/* SPDX-License-Identifier: Apache-2.0
 * Tests for the ThingsBoard telemetry JSON decoder and its line-protocol
 * formatter (ingest/tbjson): the three body shapes, value types, timestamp
 * rules, errors that name their position, and that the formatted line
 * protocol parses back (lp_parse) to the same values.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/err.h"
#include "core/mem.h"
#include "ingest/lp.h"
#include "ingest/tbjson.h"

#define NOW_NS INT64_C(1700000000123000000)

static int decode(tbjson_batch *b, const char *s, char *err) {
  tbjson_batch_init(b);
  return tbjson_decode(b, s, strlen(s), NOW_NS, err, TBJSON_ERR_MAX);
}

static const tbjson_kv *kv_at(const tbjson_batch *b, size_t g, size_t i) {
  return &b->kvs[b->groups[g].first + i];
}

static void test_plain_object_at_server_time(void **state) {
  (void)state;
  tbjson_batch b;
  char err[TBJSON_ERR_MAX];
  assert_int_equal(decode(&b, "{\"temp\": 21.5, \"hum\": 40}", err), 0);
  assert_int_equal(b.n_groups, 1);
  assert_int_equal(b.groups[0].ts_ns, NOW_NS);
  assert_int_equal(b.groups[0].n, 2);
  assert_string_equal(kv_at(&b, 0, 0)->key, "temp");
  assert_int_equal(kv_at(&b, 0, 0)->type, TS_FLOAT);
  assert_true(kv_at(&b, 0, 0)->v.f == 21.5);
  assert_string_equal(kv_at(&b, 0, 1)->key, "hum");
  assert_true(kv_at(&b, 0, 1)->v.f == 40.0);
  tbjson_batch_deinit(&b);
}

static void test_integers_are_floats(void **state) {
  (void)state;
  tbjson_batch b;
  char err[TBJSON_ERR_MAX];
  assert_int_equal(decode(&b, "{\"n\": 12345678901234}", err), 0);
  assert_int_equal(kv_at(&b, 0, 0)->type, TS_FLOAT);
  assert_true(kv_at(&b, 0, 0)->v.f == 12345678901234.0);
  tbjson_batch_deinit(&b);
}

static void test_ts_values_form(void **state) {
  (void)state;
  tbjson_batch b;
  char err[TBJSON_ERR_MAX];
  assert_int_equal(decode(&b, "{\"ts\": 1451649600512, \"values\": {\"a\": 1}}", err), 0);
  assert_int_equal(b.n_groups, 1);
  assert_int_equal(b.groups[0].ts_ns, INT64_C(1451649600512000000));
  assert_string_equal(kv_at(&b, 0, 0)->key, "a");
  tbjson_batch_deinit(&b);
}

static void test_ts_without_values_is_a_key(void **state) {
  (void)state;
  tbjson_batch b;
  char err[TBJSON_ERR_MAX];
  assert_int_equal(decode(&b, "{\"ts\": 5, \"x\": 1}", err), 0);
  assert_int_equal(b.groups[0].ts_ns, NOW_NS);
  assert_int_equal(b.groups[0].n, 2);
  assert_string_equal(kv_at(&b, 0, 0)->key, "ts");
  tbjson_batch_deinit(&b);
}

static void test_array_of_both_forms(void **state) {
  (void)state;
  tbjson_batch b;
  char err[TBJSON_ERR_MAX];
  assert_int_equal(decode(&b,
                          "[{\"ts\":1000,\"values\":{\"a\":1,\"b\":2}},{\"c\":true},"
                          "{\"ts\":2000,\"values\":{}}]",
                          err),
                   0);
  assert_int_equal(b.n_groups, 2); /* the empty values object adds no group */
  assert_int_equal(b.groups[0].ts_ns, INT64_C(1000000000));
  assert_int_equal(b.groups[0].n, 2);
  assert_int_equal(b.groups[1].ts_ns, NOW_NS);
  assert_int_equal(kv_at(&b, 1, 0)->type, TS_BOOL);
  assert_int_equal(kv_at(&b, 1, 0)->v.b, 1);
  tbjson_batch_deinit(&b);
}

static void test_strings_and_json_values(void **state) {
  (void)state;
  tbjson_batch b;
  char err[TBJSON_ERR_MAX];
  assert_int_equal(decode(&b, "{\"s\":\"hi \\\"x\\\"\",\"o\":{\"k\":[1, 2]},\"off\":false}", err), 0);
  const tbjson_kv *s = kv_at(&b, 0, 0), *o = kv_at(&b, 0, 1), *f = kv_at(&b, 0, 2);
  assert_int_equal(s->type, TS_STRING);
  assert_int_equal(s->v.s.len, 6);
  assert_memory_equal(s->v.s.p, "hi \"x\"", 6);
  assert_int_equal(o->type, TS_STRING);
  assert_string_equal(o->v.s.p, "{\"k\":[1.0,2.0]}");
  assert_int_equal(f->type, TS_BOOL);
  assert_int_equal(f->v.b, 0);
  tbjson_batch_deinit(&b);
}

static void test_empty_object_gives_no_groups(void **state) {
  (void)state;
  tbjson_batch b;
  char err[TBJSON_ERR_MAX];
  assert_int_equal(decode(&b, " {} ", err), 0);
  assert_int_equal(b.n_groups, 0);
  tbjson_batch_deinit(&b);
}

static void expect_error(const char *body, const char *needle) {
  tbjson_batch b;
  char err[TBJSON_ERR_MAX] = "";
  assert_int_equal(decode(&b, body, err), LOOM_EINVAL);
  assert_int_equal(b.n_groups, 0);
  assert_int_equal(b.n_kvs, 0);
  assert_null(b.root);
  if (!strstr(err, needle)) fail_msg("error \"%s\" does not contain \"%s\"", err, needle);
  tbjson_batch_deinit(&b);
}

static void test_syntax_error_names_position(void **state) {
  (void)state;
  expect_error("{\"a\": 1,, }", "line 1, column 9");
  expect_error("", "invalid JSON");
  expect_error("{\"a\": 1} x", "invalid JSON");
}

static void test_null_value_names_key(void **state) {
  (void)state;
  expect_error("[{\"a\":1},{\"ts\":1,\"values\":{\"temp\":null}}]", "[1].values.temp: null");
}

static void test_bad_top_level(void **state) {
  (void)state;
  expect_error("42", "expected a JSON object");
  expect_error("\"x\"", "expected a JSON object");
  expect_error("[{\"a\":1}, 3]", "[1]: expected an object");
}

static void test_bad_ts(void **state) {
  (void)state;
  expect_error("{\"ts\":\"now\",\"values\":{\"a\":1}}", "ts: expected a number");
  expect_error("{\"ts\":1.5,\"values\":{\"a\":1}}", "ts: timestamp must be a whole number");
  expect_error("{\"ts\":1e20,\"values\":{\"a\":1}}", "ts: timestamp must be");
  expect_error("{\"ts\":1,\"values\":[1]}", "values: expected an object");
}

static void test_bad_keys(void **state) {
  (void)state;
  expect_error("{\"\":1}", "empty telemetry key");
  expect_error("{\"a\\nb\":1}", "control character");
  expect_error("{\"time\":1}", "\"time\" is reserved");
  char big[400];
  memset(big, 'k', 300);
  snprintf(big + 300, sizeof big - 300, "\":1}");
  char body[420] = "{\"";
  strcat(body, big);
  expect_error(body, "longer than 255");
}

/* Format, then parse with the real line-protocol parser and compare. */
static void test_format_round_trips_through_lp(void **state) {
  (void)state;
  tbjson_batch b;
  char err[TBJSON_ERR_MAX];
  const char *body = "[{\"ts\":1000,\"values\":{\"t emp,x=\":0.1,\"on\":true,\"s\":\"a\\\\\\\"b\\nc\"}},"
                     "{\"big\":1e300,\"neg\":-2.5e-7,\"i\":25}]";
  assert_int_equal(decode(&b, body, err), 0);
  loom_buf lp;
  loom_buf_init(&lp);
  assert_int_equal(tbjson_format_lp(&b, "boiler, type", "device", "dev 1,=x", &lp), 0);
  lp_batch pb;
  lp_batch_init(&pb);
  assert_int_equal(lp_parse(&pb, (const char *)lp.data, lp.len, 1, 0), 0);
  assert_int_equal(pb.n_errors_total, 0);
  assert_int_equal(pb.n_points, 2);
  const lp_point *p = &pb.points[0];
  assert_int_equal(p->measurement_len, 12);
  assert_memory_equal(p->measurement, "boiler, type", 12);
  assert_int_equal(p->n_tags, 1);
  assert_int_equal(p->tags[0].val_len, 8);
  assert_memory_equal(p->tags[0].val, "dev 1,=x", 8);
  assert_int_equal(p->ts_ns, INT64_C(1000000000));
  assert_int_equal(p->n_fields, 3);
  assert_int_equal(p->fields[0].key_len, 8);
  assert_memory_equal(p->fields[0].key, "t emp,x=", 8);
  assert_true(p->fields[0].v.f == 0.1);
  assert_int_equal(p->fields[1].type, TS_BOOL);
  assert_int_equal(p->fields[2].type, TS_STRING);
  assert_int_equal(p->fields[2].v.s.len, 6);
  assert_memory_equal(p->fields[2].v.s.p, "a\\\"b\nc", 6);
  p = &pb.points[1];
  assert_int_equal(p->ts_ns, NOW_NS);
  assert_true(p->fields[0].v.f == 1e300);
  assert_true(p->fields[1].v.f == -2.5e-7);
  assert_int_equal(p->fields[2].type, TS_FLOAT);
  assert_true(p->fields[2].v.f == 25.0);
  lp_batch_deinit(&pb);
  loom_buf_deinit(&lp);
  tbjson_batch_deinit(&b);
}

static void test_format_shortest_float(void **state) {
  (void)state;
  tbjson_batch b;
  char err[TBJSON_ERR_MAX];
  assert_int_equal(decode(&b, "{\"ts\":1,\"values\":{\"a\":0.1,\"b\":21}}", err), 0);
  loom_buf lp;
  loom_buf_init(&lp);
  assert_int_equal(tbjson_format_lp(&b, "m", "device", "d", &lp), 0);
  assert_int_equal(loom_buf_cstr(&lp), 0);
  assert_string_equal((const char *)lp.data, "m,device=d a=0.1,b=21 1000000\n");
  loom_buf_deinit(&lp);
  tbjson_batch_deinit(&b);
}

static void test_format_integer_values(void **state) {
  (void)state;
  tbjson_batch b;
  char err[TBJSON_ERR_MAX];
  assert_int_equal(decode(&b, "{\"ts\":1,\"values\":{\"a\":1}}", err), 0);
  b.kvs[0].type = TS_INT; /* as a Sparkplug Int64 metric gives it */
  b.kvs[0].v.i = -9223372036854775807 - 1;
  loom_buf lp;
  loom_buf_init(&lp);
  assert_int_equal(tbjson_format_lp(&b, "m", "device", "d", &lp), 0);
  assert_int_equal(loom_buf_cstr(&lp), 0);
  assert_string_equal((const char *)lp.data, "m,device=d a=-9223372036854775808i 1000000\n");
  loom_buf_deinit(&lp);
  tbjson_batch_deinit(&b);
}

static void test_format_refuses_bad_names(void **state) {
  (void)state;
  tbjson_batch b;
  char err[TBJSON_ERR_MAX];
  assert_int_equal(decode(&b, "{\"a\":1}", err), 0);
  loom_buf lp;
  loom_buf_init(&lp);
  assert_int_equal(tbjson_format_lp(&b, "", "device", "d", &lp), LOOM_EINVAL);
  assert_int_equal(tbjson_format_lp(&b, "m", "device", "d\n", &lp), LOOM_EINVAL);
  assert_int_equal(tbjson_format_lp(&b, "m", "device", "d\\", &lp), LOOM_EINVAL);
  loom_buf_deinit(&lp);
  tbjson_batch_deinit(&b);
}

static void test_backslash_key_refused(void **state) {
  (void)state;
  expect_error("{\"a\\\\\":1}", "backslash");
}

static void test_duplicate_key_last_wins(void **state) {
  (void)state;
  tbjson_batch b;
  char err[TBJSON_ERR_MAX];
  assert_int_equal(decode(&b, "{\"a\":1,\"b\":2,\"a\":3}", err), 0);
  assert_int_equal(b.groups[0].n, 2);
  for (size_t i = 0; i < 2; i++)
    if (!strcmp(kv_at(&b, 0, i)->key, "a")) assert_true(kv_at(&b, 0, i)->v.f == 3.0);
  tbjson_batch_deinit(&b);
}

static void test_negative_and_zero_ts(void **state) {
  (void)state;
  tbjson_batch b;
  char err[TBJSON_ERR_MAX];
  assert_int_equal(decode(&b, "[{\"ts\":0,\"values\":{\"a\":1}},{\"ts\":-1000,\"values\":{\"a\":2}}]", err), 0);
  assert_int_equal(b.groups[0].ts_ns, 0);
  assert_int_equal(b.groups[1].ts_ns, INT64_C(-1000000000));
  tbjson_batch_deinit(&b);
}

static void test_deep_nesting_is_an_error_not_a_crash(void **state) {
  (void)state;
  size_t depth = 100000;
  char *body = loom_malloc(2 * depth + 16);
  assert_non_null(body);
  size_t n = 0;
  n += (size_t)sprintf(body, "{\"a\":");
  for (size_t i = 0; i < depth; i++) body[n++] = '[';
  for (size_t i = 0; i < depth; i++) body[n++] = ']';
  body[n++] = '}';
  body[n] = 0;
  tbjson_batch b;
  char err[TBJSON_ERR_MAX];
  assert_int_equal(decode(&b, body, err), LOOM_EINVAL);
  assert_non_null(strstr(err, "invalid JSON"));
  tbjson_batch_deinit(&b);
  loom_free(body);
}

static void test_alloc_failures_are_clean(void **state) {
  (void)state;
  const char *body = "[{\"ts\":1000,\"values\":{\"a\":1,\"o\":{\"x\":[1,2,3]}}},{\"b\":\"s\"}]";
  for (int n = 0; n < 40; n++) {
    tbjson_batch b;
    char err[TBJSON_ERR_MAX];
    tbjson_batch_init(&b);
    loom_mem_fail_after(n);
    int rc = tbjson_decode(&b, body, strlen(body), NOW_NS, err, sizeof err);
    loom_mem_fail_after(-1);
    assert_true(rc == 0 || rc == LOOM_ENOMEM);
    if (rc == 0) assert_int_equal(b.n_groups, 2);
    tbjson_batch_deinit(&b);
  }
}


/* ---- the flat fast path (tbjson_decode_flat) ---- */

/* decode_flat and decode_json give the same groups and kvs, bit for bit. */
static void assert_same_as_json(const char *body) {
  tbjson_batch f, j;
  char err[TBJSON_ERR_MAX];
  tbjson_batch_init(&f);
  tbjson_batch_init(&j);
  assert_int_equal(tbjson_decode_flat(&f, body, strlen(body), NOW_NS), 1);
  assert_int_equal(tbjson_decode_json(&j, body, strlen(body), NOW_NS, err, sizeof err), 0);
  assert_int_equal(f.n_groups, j.n_groups);
  assert_int_equal(f.n_kvs, j.n_kvs);
  for (size_t g = 0; g < f.n_groups; g++) {
    assert_int_equal(f.groups[g].ts_ns, j.groups[g].ts_ns);
    assert_int_equal(f.groups[g].first, j.groups[g].first);
    assert_int_equal(f.groups[g].n, j.groups[g].n);
  }
  for (size_t i = 0; i < f.n_kvs; i++) {
    assert_int_equal(f.kvs[i].key_len, j.kvs[i].key_len);
    assert_memory_equal(f.kvs[i].key, j.kvs[i].key, f.kvs[i].key_len + 1);
    assert_int_equal(f.kvs[i].type, j.kvs[i].type);
    if (f.kvs[i].type == TS_FLOAT) assert_memory_equal(&f.kvs[i].v.f, &j.kvs[i].v.f, sizeof(double));
    if (f.kvs[i].type == TS_BOOL) assert_int_equal(f.kvs[i].v.b, j.kvs[i].v.b);
    if (f.kvs[i].type == TS_STRING) {
      assert_int_equal(f.kvs[i].v.s.len, j.kvs[i].v.s.len);
      assert_memory_equal(f.kvs[i].v.s.p, j.kvs[i].v.s.p, f.kvs[i].v.s.len + 1);
    }
  }
  tbjson_batch_deinit(&f);
  tbjson_batch_deinit(&j);
}

static void test_flat_same_as_json_library(void **state) {
  (void)state;
  assert_same_as_json("{\"t_ns\":1763870000123456789,\"p\":7,\"seq\":42,\"temp\":21.5,"
                      "\"hum\":40.3,\"rpm\":1450,\"ok\":true}");
  assert_same_as_json(" {\n\t\"a\" : -0 , \"b\":0.1,\"c\":1e-7,\"d\":1E+21,\"e\":-12.50e2 } \r\n");
  assert_same_as_json("{\"s\":\"text\",\"u\":\"\xe4\xb8\xad\xe6\x96\x87\",\"f\":false,\"ts\":5}");
  assert_same_as_json("{\"x\":123456789012345678901234567890,\"y\":0.30000000000000004,"
                      "\"z\":2.2250738585072014e-308,\"w\":1e-400,\"v\":9007199254740993}");
  assert_same_as_json("{\"a\":1.7976931348623157e308,\"b\":4.9e-324,\"c\":0.000001,\"d\":1e22,"
                      "\"e\":1e23,\"f\":123456789012345.6,\"g\":0.1234567890123456789}");
}

static void test_flat_declines_what_it_does_not_read(void **state) {
  (void)state;
  static const char *bodies[] = {
      "{\"a\":{\"b\":1}}", "{\"a\":[1]}", "{\"a\":null}", "{\"a\":\"x\\ny\"}", "{\"a\\u0041\":1}",
      "{\"a\":1,\"a\":2}", "{\"ts\":1,\"values\":2}", "{\"time\":1}", "{\"\":1}", "{}",
      "{\"a\":1} x", "{\"a\":01}", "{\"a\":1.}", "{\"a\":.5}", "{\"a\":+1}", "{\"a\":1e}",
      "{\"a\":1e999}", "{\"a\":\"\xc3\"}", "{\"a\":\"\xed\xa0\x80\"}", "{\"a\":1,}", "[{\"a\":1}]",
      "{\"a\":tru}", "{\"a\" 1}", "{\"a\":\"\x01\"}", "{\"a\":1",
  };
  for (size_t i = 0; i < sizeof bodies / sizeof *bodies; i++) {
    tbjson_batch b;
    tbjson_batch_init(&b);
    assert_int_equal(tbjson_decode_flat(&b, bodies[i], strlen(bodies[i]), NOW_NS), 0);
    assert_int_equal(b.n_groups, 0);
    assert_null(b.kvs);
    tbjson_batch_deinit(&b);
  }
}

static void test_flat_declines_more_than_max_members(void **state) {
  (void)state;
  char body[2048];
  size_t n = 0;
  n += (size_t)snprintf(body + n, sizeof body - n, "{");
  for (int i = 0; i <= TBJSON_FLAT_MAX; i++)
    n += (size_t)snprintf(body + n, sizeof body - n, "%s\"k%d\":%d", i ? "," : "", i, i);
  snprintf(body + n, sizeof body - n, "}");
  tbjson_batch b;
  tbjson_batch_init(&b);
  assert_int_equal(tbjson_decode_flat(&b, body, strlen(body), NOW_NS), 0);
  char err[TBJSON_ERR_MAX];
  assert_int_equal(tbjson_decode(&b, body, strlen(body), NOW_NS, err, sizeof err), 0);
  assert_int_equal(b.n_kvs, TBJSON_FLAT_MAX + 1);
  tbjson_batch_deinit(&b);
}

static void test_flat_numbers_keep_their_text_in_line_protocol(void **state) {
  (void)state;
  const char *body = "{\"t\":1763870000123456789,\"a\":21.50,\"b\":1E5,\"s\":\"x y\"}";
  tbjson_batch b;
  char err[TBJSON_ERR_MAX];
  assert_int_equal(decode(&b, body, err), 0);
  loom_buf out;
  loom_buf_init(&out);
  assert_int_equal(tbjson_format_lp(&b, "m", "device", "d1", &out), 0);
  const char *want = "m,device=d1 t=1763870000123456789,a=21.50,b=1E5,s=\"x y\" 1700000000123000000\n";
  assert_int_equal(out.len, strlen(want));
  assert_memory_equal(out.data, want, out.len);
  /* and line protocol reads the same doubles back */
  lp_batch lb;
  lp_batch_init(&lb);
  assert_int_equal(lp_parse(&lb, (const char *)out.data, out.len, 1, NOW_NS), 0);
  assert_int_equal(lb.n_points, 1);
  assert_int_equal(lb.n_errors_total, 0);
  for (uint32_t i = 0; i < 3; i++) {
    assert_int_equal(lb.points[0].fields[i].type, TS_FLOAT);
    assert_memory_equal(&lb.points[0].fields[i].v.f, &b.kvs[i].v.f, sizeof(double));
  }
  lp_batch_deinit(&lb);
  loom_buf_deinit(&out);
  tbjson_batch_deinit(&b);
}

static void test_flat_underflow_and_long_numbers_read_back_by_lp(void **state) {
  (void)state;
  const char *body = "{\"a\":1e-400,\"b\":4.9e-324,\"c\":123456789012345678901234567890.123,"
                     "\"d\":-0,\"e\":0.1e-5}";
  tbjson_batch b;
  char err[TBJSON_ERR_MAX];
  assert_int_equal(decode(&b, body, err), 0);
  loom_buf out;
  loom_buf_init(&out);
  assert_int_equal(tbjson_format_lp(&b, "m", "device", "d1", &out), 0);
  lp_batch lb;
  lp_batch_init(&lb);
  assert_int_equal(lp_parse(&lb, (const char *)out.data, out.len, 1, NOW_NS), 0);
  assert_int_equal(lb.n_errors_total, 0);
  assert_int_equal(lb.n_points, 1);
  assert_int_equal(lb.points[0].n_fields, 5);
  for (uint32_t i = 0; i < 5; i++)
    assert_memory_equal(&lb.points[0].fields[i].v.f, &b.kvs[i].v.f, sizeof(double));
  lp_batch_deinit(&lb);
  loom_buf_deinit(&out);
  tbjson_batch_deinit(&b);
}

static void test_flat_alloc_failures_are_clean(void **state) {
  (void)state;
  const char *body = "{\"a\":1,\"b\":\"x\"}";
  for (int n = 0; n < 8; n++) {
    tbjson_batch b;
    tbjson_batch_init(&b);
    loom_mem_fail_after(n);
    int rc = tbjson_decode_flat(&b, body, strlen(body), NOW_NS);
    loom_mem_fail_after(-1);
    assert_true(rc == 1 || rc == LOOM_ENOMEM);
    if (rc == LOOM_ENOMEM) assert_int_equal(b.n_kvs, 0);
    tbjson_batch_deinit(&b);
  }
}

/* ---- built points (tbjson_add_points) ---- */

static void assert_same_points(const lp_batch *a, const lp_batch *b) {
  assert_int_equal(a->n_points, b->n_points);
  for (uint32_t i = 0; i < a->n_points; i++) {
    const lp_point *p = &a->points[i], *q = &b->points[i];
    assert_int_equal(p->series_key_len, q->series_key_len);
    assert_memory_equal(p->series_key, q->series_key, p->series_key_len);
    assert_int_equal(p->measurement_len, q->measurement_len);
    assert_memory_equal(p->measurement, q->measurement, p->measurement_len);
    assert_int_equal(p->n_tags, q->n_tags);
    for (uint32_t t = 0; t < p->n_tags; t++) {
      assert_int_equal(p->tags[t].key_len, q->tags[t].key_len);
      assert_memory_equal(p->tags[t].key, q->tags[t].key, p->tags[t].key_len);
      assert_int_equal(p->tags[t].val_len, q->tags[t].val_len);
      assert_memory_equal(p->tags[t].val, q->tags[t].val, p->tags[t].val_len);
    }
    assert_int_equal(p->n_fields, q->n_fields);
    for (uint32_t f = 0; f < p->n_fields; f++) {
      const lp_field *x = &p->fields[f], *y = &q->fields[f];
      assert_int_equal(x->key_len, y->key_len);
      assert_memory_equal(x->key, y->key, x->key_len);
      assert_int_equal(x->type, y->type);
      if (x->type == TS_STRING) {
        assert_int_equal(x->v.s.len, y->v.s.len);
        assert_memory_equal(x->v.s.p, y->v.s.p, x->v.s.len);
      } else if (x->type == TS_BOOL) {
        assert_int_equal(x->v.b, y->v.b);
      } else {
        assert_memory_equal(&x->v, &y->v, sizeof(double));
      }
    }
    assert_int_equal(p->ts_ns, q->ts_ns);
    assert_int_equal(p->line, q->line);
  }
}

/* The built points equal what lp_parse reads from the formatted text. */
static void check_built(const char *body, const char *meas, const char *tag_val) {
  tbjson_batch b;
  char err[TBJSON_ERR_MAX];
  assert_int_equal(decode(&b, body, err), 0);
  loom_buf text;
  loom_buf_init(&text);
  assert_int_equal(tbjson_format_lp(&b, "x", "device", "y", &text), 0); /* line 1..n: a prefix */
  size_t prefix_lines = b.n_groups;
  assert_int_equal(tbjson_format_lp(&b, meas, "device", tag_val, &text), 0);
  lp_batch parsed, built;
  lp_batch_init(&parsed);
  lp_batch_init(&built);
  assert_int_equal(lp_parse(&parsed, (const char *)text.data, text.len, 1, 0), 0);
  assert_int_equal(parsed.n_errors_total, 0);
  uint32_t line = 1;
  assert_int_equal(tbjson_add_points(&b, "x", "device", "y", &line, &built), 0);
  assert_true(line > prefix_lines);
  assert_int_equal(tbjson_add_points(&b, meas, "device", tag_val, &line, &built), 0);
  /* the next line: one past the text's last */
  uint32_t nls = 0;
  for (size_t i = 0; i < text.len; i++) nls += text.data[i] == '\n';
  assert_int_equal(line, nls + 1);
  assert_same_points(&parsed, &built);
  lp_batch_deinit(&parsed);
  lp_batch_deinit(&built);
  loom_buf_deinit(&text);
  tbjson_batch_deinit(&b);
}

static void test_built_points_same_as_parsed(void **state) {
  (void)state;
  check_built("{\"t_ns\":1763870000123456789,\"temp\":21.50,\"ok\":true,\"s\":\"a \\\"q\\\" \\\\ b\\nc\"}",
              "bench", "dev1");
  check_built("[{\"ts\":1700000000000,\"values\":{\"a,b c=d\\\"e\":1.5,\"n\":{\"x\":[1,2]}}},"
              "{\"k\":-0.0,\"e\":1e-7,\"big\":1e300}]",
              "m x,y", "d=1 ,2");
  check_built("{\"ts\":-5,\"values\":{\"v\":0.1}}", "\xe4\xb8\xad", "\xe6\x96\x87");
}

static void test_built_points_refuse_repeated_keys(void **state) {
  (void)state;
  tbjson_kv kvs[2] = {{.key = "a", .key_len = 1, .type = TS_FLOAT, .v.f = 1},
                      {.key = "a", .key_len = 1, .type = TS_FLOAT, .v.f = 2}};
  tbjson_group g = {.ts_ns = 1, .first = 0, .n = 2};
  tbjson_batch b;
  tbjson_batch_init(&b);
  b.kvs = kvs;
  b.n_kvs = 2;
  b.groups = &g;
  b.n_groups = 1;
  lp_batch out;
  lp_batch_init(&out);
  uint32_t line = 1;
  assert_int_equal(tbjson_add_points(&b, "m", "device", "d", &line, &out), LOOM_EINVAL);
  assert_int_equal(out.n_points, 0);
  assert_int_equal(tbjson_add_points(&b, "#m", "device", "d", &line, &out), LOOM_EINVAL);
  lp_batch_deinit(&out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_plain_object_at_server_time),
      cmocka_unit_test(test_integers_are_floats),
      cmocka_unit_test(test_ts_values_form),
      cmocka_unit_test(test_ts_without_values_is_a_key),
      cmocka_unit_test(test_array_of_both_forms),
      cmocka_unit_test(test_strings_and_json_values),
      cmocka_unit_test(test_empty_object_gives_no_groups),
      cmocka_unit_test(test_syntax_error_names_position),
      cmocka_unit_test(test_null_value_names_key),
      cmocka_unit_test(test_bad_top_level),
      cmocka_unit_test(test_bad_ts),
      cmocka_unit_test(test_bad_keys),
      cmocka_unit_test(test_format_round_trips_through_lp),
      cmocka_unit_test(test_format_shortest_float),
      cmocka_unit_test(test_format_integer_values),
      cmocka_unit_test(test_format_refuses_bad_names),
      cmocka_unit_test(test_backslash_key_refused),
      cmocka_unit_test(test_duplicate_key_last_wins),
      cmocka_unit_test(test_negative_and_zero_ts),
      cmocka_unit_test(test_deep_nesting_is_an_error_not_a_crash),
      cmocka_unit_test(test_alloc_failures_are_clean),
      cmocka_unit_test(test_flat_same_as_json_library),
      cmocka_unit_test(test_flat_declines_what_it_does_not_read),
      cmocka_unit_test(test_flat_declines_more_than_max_members),
      cmocka_unit_test(test_flat_numbers_keep_their_text_in_line_protocol),
      cmocka_unit_test(test_flat_underflow_and_long_numbers_read_back_by_lp),
      cmocka_unit_test(test_flat_alloc_failures_are_clean),
      cmocka_unit_test(test_built_points_same_as_parsed),
      cmocka_unit_test(test_built_points_refuse_repeated_keys),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
