/* SPDX-License-Identifier: Apache-2.0
 * Tests of sec/token: secret shape per kind, randomness, kind parsing of
 * good and malformed secrets, the stored hash (BLAKE2b-256, as sec/auth)
 * and the hash comparison.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include "core/err.h"
#include "sec/auth.h"
#include "sec/token.h"

static void test_generate_has_prefix_and_length(void **state) {
  (void)state;
  const struct { sec_token_kind kind; const char *prefix; } cases[] = {
      {SEC_TOKEN_SESSION, "lm_s_"}, {SEC_TOKEN_API, "lm_a_"}, {SEC_TOKEN_DEVICE, "lm_d_"}};
  for (size_t i = 0; i < 3; i++) {
    char t[SEC_TOKEN_TEXT_MAX];
    assert_int_equal(sec_token_generate(cases[i].kind, t), 0);
    assert_int_equal(strlen(t), SEC_TOKEN_TEXT_LEN);
    assert_memory_equal(t, cases[i].prefix, 5);
    for (size_t j = 5; j < SEC_TOKEN_TEXT_LEN; j++)
      assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", t[j]));
  }
}

static void test_generate_rejects_unknown_kind(void **state) {
  (void)state;
  char t[SEC_TOKEN_TEXT_MAX];
  assert_int_equal(sec_token_generate((sec_token_kind)0, t), LOOM_EINVAL);
  assert_int_equal(sec_token_generate((sec_token_kind)9, t), LOOM_EINVAL);
  assert_int_equal(sec_token_generate(SEC_TOKEN_API, NULL), LOOM_EINVAL);
}

static void test_generate_differs_each_time(void **state) {
  (void)state;
  char a[SEC_TOKEN_TEXT_MAX], b[SEC_TOKEN_TEXT_MAX];
  for (int i = 0; i < 100; i++) {
    assert_int_equal(sec_token_generate(SEC_TOKEN_API, a), 0);
    assert_int_equal(sec_token_generate(SEC_TOKEN_API, b), 0);
    assert_string_not_equal(a, b);
  }
}

static void test_parse_kind_round_trips(void **state) {
  (void)state;
  const sec_token_kind kinds[] = {SEC_TOKEN_SESSION, SEC_TOKEN_API, SEC_TOKEN_DEVICE};
  for (size_t i = 0; i < 3; i++) {
    char t[SEC_TOKEN_TEXT_MAX];
    sec_token_kind k = 0;
    assert_int_equal(sec_token_generate(kinds[i], t), 0);
    assert_int_equal(sec_token_parse_kind(t, strlen(t), &k), 0);
    assert_int_equal(k, kinds[i]);
  }
  assert_string_equal(sec_token_kind_name(SEC_TOKEN_DEVICE), "device");
  assert_string_equal(sec_token_kind_name((sec_token_kind)0), "unknown");
}

static void test_parse_kind_rejects_malformed(void **state) {
  (void)state;
  char t[SEC_TOKEN_TEXT_MAX], bad[SEC_TOKEN_TEXT_MAX + 2];
  sec_token_kind k;
  assert_int_equal(sec_token_generate(SEC_TOKEN_SESSION, t), 0);
  assert_int_equal(sec_token_parse_kind(t, strlen(t) - 1, &k), LOOM_EINVAL); /* short */
  assert_int_equal(sec_token_parse_kind(NULL, 48, &k), LOOM_EINVAL);
  assert_int_equal(sec_token_parse_kind("A1_TEST_TOKEN", 13, &k), LOOM_EINVAL);
  memcpy(bad, t, sizeof t);
  bad[3] = 'x'; /* unknown kind letter */
  assert_int_equal(sec_token_parse_kind(bad, strlen(bad), &k), LOOM_EINVAL);
  memcpy(bad, t, sizeof t);
  bad[20] = '+'; /* standard base64, not url-safe */
  assert_int_equal(sec_token_parse_kind(bad, strlen(bad), &k), LOOM_EINVAL);
  memcpy(bad, t, sizeof t);
  bad[20] = '=';
  assert_int_equal(sec_token_parse_kind(bad, strlen(bad), &k), LOOM_EINVAL);
  /* 43 characters carry 258 bits: the last character's two spare bits must be 0 */
  memcpy(bad, t, sizeof t);
  bad[47] = 'B'; /* 000001: spare bits set */
  assert_int_equal(sec_token_parse_kind(bad, strlen(bad), &k), LOOM_EINVAL);
  bad[47] = 'E'; /* 000100: spare bits clear */
  assert_int_equal(sec_token_parse_kind(bad, strlen(bad), &k), 0);
}

static void test_hash_is_blake2b_like_auth(void **state) {
  (void)state;
  const char *tok = "lm_a_secretsecret";
  unsigned char h[SEC_TOKEN_HASH_LEN], ref[32];
  sec_token_hash(tok, strlen(tok), h);
  crypto_generichash(ref, sizeof ref, (const unsigned char *)tok, strlen(tok), NULL, 0);
  assert_memory_equal(h, ref, 32);
  /* the admin token of sec/auth hashes the same way */
  sec_auth a;
  char *nt = NULL, err[128];
  assert_int_equal(sec_auth_init(&a, "/nonexistent", "lm_a_secretsecret", &nt, err, sizeof err), 0);
  assert_memory_equal(a.admin_hash, h, SEC_HASH_LEN);
  char hex[SEC_TOKEN_HEX_MAX];
  sec_token_hash_hex(h, hex);
  assert_int_equal(strlen(hex), 64);
}

static void test_hash_equal_detects_any_difference(void **state) {
  (void)state;
  unsigned char a[SEC_TOKEN_HASH_LEN], b[SEC_TOKEN_HASH_LEN];
  sec_token_hash("x", 1, a);
  memcpy(b, a, sizeof a);
  assert_true(sec_token_hash_equal(a, b));
  for (size_t i = 0; i < sizeof a; i++) {
    b[i] ^= 1;
    assert_false(sec_token_hash_equal(a, b));
    b[i] ^= 1;
  }
  sec_token_hash("y", 1, b);
  assert_false(sec_token_hash_equal(a, b));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_generate_has_prefix_and_length),
      cmocka_unit_test(test_generate_rejects_unknown_kind),
      cmocka_unit_test(test_generate_differs_each_time),
      cmocka_unit_test(test_parse_kind_round_trips),
      cmocka_unit_test(test_parse_kind_rejects_malformed),
      cmocka_unit_test(test_hash_is_blake2b_like_auth),
      cmocka_unit_test(test_hash_equal_detects_any_difference),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
