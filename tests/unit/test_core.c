/* SPDX-License-Identifier: Apache-2.0
 * Tests of core/ (buffers, string map, time, config parser, allocator
 * failure switch) and of the token extraction in sec/auth.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/err.h"
#include "core/mem.h"
#include "core/strmap.h"
#include "core/timeutil.h"
#include "sec/auth.h"

static void test_varints_round_trip(void **state) {
  (void)state;
  loom_buf b;
  loom_buf_init(&b);
  const int64_t vals[] = {0, 1, -1, 63, -64, 64, 300, -300, INT64_MAX, INT64_MIN};
  for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) assert_int_equal(loom_buf_append_svarint(&b, vals[i]), 0);
  loom_buf_append_uvarint(&b, UINT64_MAX);
  loom_rd r;
  loom_rd_init(&r, b.data, b.len);
  for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
    int64_t v;
    assert_int_equal(loom_rd_svarint(&r, &v), 0);
    assert_true(v == vals[i]);
  }
  uint64_t u;
  assert_int_equal(loom_rd_uvarint(&r, &u), 0);
  assert_true(u == UINT64_MAX);
  assert_int_equal(loom_rd_uvarint(&r, &u), LOOM_ETRUNC);
  loom_buf_deinit(&b);
}

static void test_overlong_varint_is_corrupt(void **state) {
  (void)state;
  uint8_t bad[11];
  memset(bad, 0xff, sizeof bad);
  loom_rd r;
  loom_rd_init(&r, bad, sizeof bad);
  uint64_t u;
  assert_int_equal(loom_rd_uvarint(&r, &u), LOOM_ECORRUPT);
}

static void test_json_string_escapes(void **state) {
  (void)state;
  loom_buf b;
  loom_buf_init(&b);
  const char s[] = "a\"b\\c\n\x01z";
  loom_buf_append_json_str(&b, s, sizeof s - 1);
  loom_buf_cstr(&b);
  assert_string_equal((char *)b.data, "\"a\\\"b\\\\c\\n\\u0001z\"");
  loom_buf_deinit(&b);
}

static void test_strmap_put_get_del_many(void **state) {
  (void)state;
  strmap m;
  strmap_init(&m);
  enum { N = 5000 };
  static char keys[N][16];
  for (uint32_t i = 0; i < N; i++) {
    snprintf(keys[i], sizeof keys[i], "key-%u", i);
    size_t l = strlen(keys[i]);
    assert_int_equal(strmap_put(&m, keys[i], l, strmap_hash(keys[i], l), i), 0);
  }
  for (uint32_t i = 0; i < N; i += 2) {
    size_t l = strlen(keys[i]);
    assert_int_equal(strmap_del(&m, keys[i], l, strmap_hash(keys[i], l)), 0);
  }
  for (uint32_t i = 0; i < N; i++) {
    size_t l = strlen(keys[i]);
    uint32_t v = 0;
    int rc = strmap_get(&m, keys[i], l, strmap_hash(keys[i], l), &v);
    if (i % 2) {
      assert_int_equal(rc, 0);
      assert_int_equal(v, i);
    } else {
      assert_int_equal(rc, LOOM_ENOTFOUND);
    }
  }
  assert_int_equal(m.count, N / 2);
  strmap_deinit(&m);
}

static void test_rfc3339_round_trip(void **state) {
  (void)state;
  const char *in[] = {"2016-01-01T00:00:00Z", "1969-12-31T23:59:59.5Z", "2020-02-29T12:34:56.000000001Z"};
  for (size_t i = 0; i < 3; i++) {
    int64_t t;
    assert_int_equal(loom_time_parse_rfc3339(in[i], strlen(in[i]), &t), 0);
    char out[40];
    assert_true(loom_time_format_rfc3339(t, out, sizeof out) > 0);
    assert_string_equal(out, in[i]);
  }
  int64_t t;
  assert_int_equal(loom_time_parse_rfc3339("2016-01-01T01:00:00+01:00", 25, &t), 0);
  assert_true(t == 1451606400LL * LOOM_NS_PER_S);
  assert_int_equal(loom_time_parse_rfc3339("2016-13-01", 10, &t), LOOM_EINVAL);
  assert_int_equal(loom_time_parse_rfc3339("yesterday", 9, &t), LOOM_EINVAL);
}

static void test_durations(void **state) {
  (void)state;
  int64_t ns;
  assert_int_equal(loom_duration_parse("1h30m", 5, &ns), 0);
  assert_true(ns == 5400 * LOOM_NS_PER_S);
  assert_int_equal(loom_duration_parse("2w", 2, &ns), 0);
  assert_true(ns == 14 * 86400 * LOOM_NS_PER_S);
  assert_int_equal(loom_duration_parse("500ms", 5, &ns), 0);
  assert_true(ns == 500 * LOOM_NS_PER_MS);
  assert_int_equal(loom_duration_parse("10x", 3, &ns), LOOM_EINVAL);
  assert_int_equal(loom_duration_parse("m", 1, &ns), LOOM_EINVAL);
  assert_int_equal(loom_duration_parse("99999999999999999999h", 21, &ns), LOOM_EINVAL);
  char out[32];
  loom_duration_format(168 * 3600 * LOOM_NS_PER_S, out, sizeof out);
  assert_string_equal(out, "168h0m0s");
}

typedef struct kv {
  char keys[8][64], vals[8][256];
  int n;
} kv;

static int kv_cb(void *arg, const char *key, const char *value, unsigned line, char *err, size_t errlen) {
  kv *k = arg;
  (void)line;
  if (!strcmp(key, "refuse")) {
    snprintf(err, errlen, "line %u: refused", line);
    return LOOM_EINVAL;
  }
  snprintf(k->keys[k->n], 64, "%s", key);
  snprintf(k->vals[k->n], 256, "%s", value);
  k->n++;
  return 0;
}

static void test_config_parse(void **state) {
  (void)state;
  const char *text = "# comment\n\ndata = \"/var/lib/loom\"\nhttp=0.0.0.0:8080   # trailing\n  durability = batched\r\n";
  kv k = {0};
  char err[128];
  assert_int_equal(loom_config_parse(text, strlen(text), kv_cb, &k, err, sizeof err), 0);
  assert_int_equal(k.n, 3);
  assert_string_equal(k.vals[0], "/var/lib/loom");
  assert_string_equal(k.vals[1], "0.0.0.0:8080");
  assert_string_equal(k.keys[2], "durability");
  assert_string_equal(k.vals[2], "batched");
}

static void test_config_errors_name_the_line(void **state) {
  (void)state;
  kv k = {0};
  char err[128];
  const char *t1 = "data = x\nno equals here\n";
  assert_int_equal(loom_config_parse(t1, strlen(t1), kv_cb, &k, err, sizeof err), LOOM_EINVAL);
  assert_non_null(strstr(err, "line 2"));
  const char *t2 = "a = \"open\n";
  assert_int_equal(loom_config_parse(t2, strlen(t2), kv_cb, &k, err, sizeof err), LOOM_EINVAL);
  assert_non_null(strstr(err, "unterminated"));
  const char *t3 = "x = 1\nrefuse = 2\n";
  assert_int_equal(loom_config_parse(t3, strlen(t3), kv_cb, &k, err, sizeof err), LOOM_EINVAL);
  assert_non_null(strstr(err, "refused"));
}

static void test_token_extraction_forms(void **state) {
  (void)state;
  char t[64];
  assert_int_equal(sec_auth_extract("Token abc123", NULL, t, sizeof t), 0);
  assert_string_equal(t, "abc123");
  assert_int_equal(sec_auth_extract("bearer  xyz ", NULL, t, sizeof t), 0);
  assert_string_equal(t, "xyz");
  assert_int_equal(sec_auth_extract("Basic YWRtaW46czNjcjN0", NULL, t, sizeof t), 0); /* admin:s3cr3t */
  assert_string_equal(t, "s3cr3t");
  assert_int_equal(sec_auth_extract(NULL, "fromparam", t, sizeof t), 0);
  assert_string_equal(t, "fromparam");
  assert_int_equal(sec_auth_extract("Digest foo", NULL, t, sizeof t), LOOM_EAUTH);
  assert_int_equal(sec_auth_extract("Basic !!!", NULL, t, sizeof t), LOOM_EAUTH);
  assert_int_equal(sec_auth_extract("Token", NULL, t, sizeof t), LOOM_EAUTH);
  assert_int_equal(sec_auth_extract(NULL, NULL, t, sizeof t), LOOM_EAUTH);
}

static void test_token_check_is_by_hash(void **state) {
  (void)state;
  sec_auth a;
  char *newtok = NULL, err[128];
  assert_int_equal(sec_auth_init(&a, "/nonexistent-unused", "correct-horse", &newtok, err, sizeof err), 0);
  assert_null(newtok);
  assert_true(sec_auth_check(&a, "correct-horse"));
  assert_false(sec_auth_check(&a, "correct-horsf"));
  assert_false(sec_auth_check(&a, ""));
  assert_int_equal(sec_auth_init(&a, "/x", "short", &newtok, err, sizeof err), LOOM_EINVAL);
}

static void test_mem_fail_after(void **state) {
  (void)state;
  size_t before = loom_mem_used();
  loom_mem_fail_after(1);
  void *a = loom_malloc(10);
  void *b = loom_malloc(10);
  loom_mem_fail_after(-1);
  assert_non_null(a);
  assert_null(b);
  assert_true(loom_mem_used() == before + 10);
  loom_free(a);
  assert_true(loom_mem_used() == before);
}

static void test_errf_writes_and_returns_code(void **state) {
  (void)state;
  char err[8];
  assert_int_equal(loom_errf(err, sizeof err, LOOM_EINVAL, "bad %d", 12345), LOOM_EINVAL);
  assert_string_equal(err, "bad 123"); /* cut to the buffer */
  assert_int_equal(loom_errf(NULL, 0, LOOM_ENOMEM, "x"), LOOM_ENOMEM);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_errf_writes_and_returns_code),
      cmocka_unit_test(test_varints_round_trip),
      cmocka_unit_test(test_overlong_varint_is_corrupt),
      cmocka_unit_test(test_json_string_escapes),
      cmocka_unit_test(test_strmap_put_get_del_many),
      cmocka_unit_test(test_rfc3339_round_trip),
      cmocka_unit_test(test_durations),
      cmocka_unit_test(test_config_parse),
      cmocka_unit_test(test_config_errors_name_the_line),
      cmocka_unit_test(test_token_extraction_forms),
      cmocka_unit_test(test_token_check_is_by_hash),
      cmocka_unit_test(test_mem_fail_after),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
