/* SPDX-License-Identifier: Apache-2.0
 * Unit tests for http/url: percent-decoding, request-target splitting, query
 * and form parameter parsing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "core/err.h"
#include "core/mem.h"
#include "http/url.h"

static void test_decode_percent_and_plus(void **state) {
  (void)state;
  char out[64];
  size_t n;
  const char *in = "a%20b+c%2Fd%e4%B8%AD";
  assert_int_equal(http_url_decode(in, strlen(in), 1, out, &n), 0);
  assert_string_equal(out, "a b c/d\xe4\xb8\xad");
  assert_int_equal(n, strlen("a b c/d") + 3);
}

static void test_decode_plus_kept_in_paths(void **state) {
  (void)state;
  char out[16];
  size_t n;
  assert_int_equal(http_url_decode("a+b", 3, 0, out, &n), 0);
  assert_string_equal(out, "a+b");
}

static void test_decode_rejects_bad_escapes(void **state) {
  (void)state;
  char out[16];
  size_t n;
  assert_int_equal(http_url_decode("%", 1, 0, out, &n), LOOM_EINVAL);
  assert_int_equal(http_url_decode("ab%4", 4, 0, out, &n), LOOM_EINVAL);
  assert_int_equal(http_url_decode("%zz", 3, 0, out, &n), LOOM_EINVAL);
  assert_int_equal(http_url_decode("x%00y", 5, 0, out, &n), LOOM_EINVAL);
}

static void test_decode_in_place(void **state) {
  (void)state;
  char buf[] = "%41%42c";
  size_t n;
  assert_int_equal(http_url_decode(buf, strlen(buf), 0, buf, &n), 0);
  assert_string_equal(buf, "ABc");
}

static void test_split_origin_form(void **state) {
  (void)state;
  http_url_parts u;
  const char *t = "/query?db=x&q=1#frag";
  assert_int_equal(http_url_split(t, strlen(t), &u), 0);
  assert_int_equal(u.path_len, 6);
  assert_memory_equal(u.path, "/query", 6);
  assert_int_equal(u.query_len, 8);
  assert_memory_equal(u.query, "db=x&q=1", 8);
}

static void test_split_without_query(void **state) {
  (void)state;
  http_url_parts u;
  assert_int_equal(http_url_split("/health", 7, &u), 0);
  assert_null(u.query);
  assert_int_equal(u.path_len, 7);
}

static void test_split_absolute_form(void **state) {
  (void)state;
  http_url_parts u;
  const char *t = "http://example.com:8086/write?db=a";
  assert_int_equal(http_url_split(t, strlen(t), &u), 0);
  assert_int_equal(u.path_len, 6);
  assert_memory_equal(u.path, "/write", 6);
  assert_memory_equal(u.query, "db=a", 4);
  t = "http://example.com?x=1";
  assert_int_equal(http_url_split(t, strlen(t), &u), 0);
  assert_int_equal(u.path_len, 1);
  assert_memory_equal(u.path, "/", 1);
  assert_memory_equal(u.query, "x=1", 3);
}

static void test_split_rejects_garbage(void **state) {
  (void)state;
  http_url_parts u;
  assert_int_equal(http_url_split("", 0, &u), LOOM_EINVAL);
  assert_int_equal(http_url_split("abc", 3, &u), LOOM_EINVAL);
  assert_int_equal(http_url_split("://x", 4, &u), LOOM_EINVAL);
  assert_int_equal(http_url_split("*", 1, &u), 0);
}

static void test_params_query_string(void **state) {
  (void)state;
  http_params p;
  http_params_init(&p);
  const char *q = "db=my%20db&&q=SELECT+*+FROM+cpu&flag&db=second&empty=";
  assert_int_equal(http_params_parse(&p, q, strlen(q)), 0);
  assert_int_equal(p.n, 5);
  assert_string_equal(http_params_get(&p, "db"), "my db");
  assert_string_equal(http_params_get(&p, "q"), "SELECT * FROM cpu");
  assert_string_equal(http_params_get(&p, "flag"), "");
  assert_string_equal(http_params_get(&p, "empty"), "");
  assert_null(http_params_get(&p, "missing"));
  assert_null(http_params_get(&p, "DB"));
  http_params_deinit(&p);
}

static void test_params_accumulate_sources(void **state) {
  (void)state;
  http_params p;
  http_params_init(&p);
  assert_int_equal(http_params_parse(&p, "db=a", 4), 0);
  assert_int_equal(http_params_parse(&p, "q=x%3Dy&db=b", 12), 0);
  assert_string_equal(http_params_get(&p, "db"), "a"); /* first source wins */
  assert_string_equal(http_params_get(&p, "q"), "x=y");
  assert_int_equal(p.n, 3);
  http_params_deinit(&p);
}

static void test_params_bad_escape_leaves_list_unchanged(void **state) {
  (void)state;
  http_params p;
  http_params_init(&p);
  assert_int_equal(http_params_parse(&p, "a=1", 3), 0);
  assert_int_equal(http_params_parse(&p, "b=2&c=%G1", 9), LOOM_EINVAL);
  assert_int_equal(p.n, 1);
  assert_null(http_params_get(&p, "b"));
  http_params_deinit(&p);
}

static void test_params_empty_input(void **state) {
  (void)state;
  http_params p;
  http_params_init(&p);
  assert_int_equal(http_params_parse(&p, "", 0), 0);
  assert_int_equal(http_params_parse(&p, "&&&", 3), 0);
  assert_int_equal(p.n, 0);
  http_params_deinit(&p);
}

static void test_params_out_of_memory(void **state) {
  (void)state;
  http_params p;
  http_params_init(&p);
  loom_mem_fail_after(0);
  int rc = http_params_parse(&p, "a=1&b=2", 7);
  loom_mem_fail_after(-1);
  assert_int_equal(rc, LOOM_ENOMEM);
  assert_int_equal(p.n, 0);
  http_params_deinit(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_decode_percent_and_plus),
      cmocka_unit_test(test_decode_plus_kept_in_paths),
      cmocka_unit_test(test_decode_rejects_bad_escapes),
      cmocka_unit_test(test_decode_in_place),
      cmocka_unit_test(test_split_origin_form),
      cmocka_unit_test(test_split_without_query),
      cmocka_unit_test(test_split_absolute_form),
      cmocka_unit_test(test_split_rejects_garbage),
      cmocka_unit_test(test_params_query_string),
      cmocka_unit_test(test_params_accumulate_sources),
      cmocka_unit_test(test_params_bad_escape_leaves_list_unchanged),
      cmocka_unit_test(test_params_empty_input),
      cmocka_unit_test(test_params_out_of_memory),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
