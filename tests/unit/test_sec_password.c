/* SPDX-License-Identifier: Apache-2.0
 * Tests of sec/password: argon2id hash/verify with the minimum (test) cost,
 * malformed hashes, the re-hash check, default limits, and the password
 * policy's accept/refuse table.
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
#include "sec/password.h"

static void test_hash_then_verify(void **state) {
  (void)state;
  sec_password_limits l;
  char h[SEC_PASSWORD_HASH_MAX];
  sec_password_limits_min(&l);
  assert_int_equal(sec_password_hash(&l, "Corr3ct horse", h), 0);
  assert_memory_equal(h, "$argon2id$", 10);
  assert_int_equal(sec_password_verify(h, "Corr3ct horse"), 0);
  assert_int_equal(sec_password_verify(h, "Corr3ct hors"), LOOM_EAUTH);
  assert_int_equal(sec_password_verify(h, "corr3ct horse"), LOOM_EAUTH);
  assert_int_equal(sec_password_verify(h, ""), LOOM_EAUTH);
}

static void test_same_password_salted_differently(void **state) {
  (void)state;
  sec_password_limits l;
  char a[SEC_PASSWORD_HASH_MAX], b[SEC_PASSWORD_HASH_MAX];
  sec_password_limits_min(&l);
  assert_int_equal(sec_password_hash(&l, "Passw0rd!", a), 0);
  assert_int_equal(sec_password_hash(&l, "Passw0rd!", b), 0);
  assert_string_not_equal(a, b);
  assert_int_equal(sec_password_verify(b, "Passw0rd!"), 0);
}

static void test_verify_rejects_malformed_hash(void **state) {
  (void)state;
  sec_password_limits l;
  char h[SEC_PASSWORD_HASH_MAX];
  sec_password_limits_min(&l);
  assert_int_equal(sec_password_hash(&l, "Passw0rd!", h), 0);
  assert_int_equal(sec_password_verify(NULL, "x"), LOOM_EINVAL);
  assert_int_equal(sec_password_verify(h, NULL), LOOM_EINVAL);
  assert_int_equal(sec_password_verify("plaintext", "plaintext"), LOOM_EINVAL);
  assert_int_equal(sec_password_verify("$argon2id$v=19$garbage", "x"), LOOM_EINVAL);
  /* argon2i (not id) is refused: one algorithm only */
  char hi[SEC_PASSWORD_HASH_MAX];
  assert_int_equal(crypto_pwhash_argon2i_str(hi, "Passw0rd!", 9, 3, 8192), 0);
  assert_int_equal(sec_password_verify(hi, "Passw0rd!"), LOOM_EINVAL);
}

static void test_too_long_input_refused(void **state) {
  (void)state;
  sec_password_limits l;
  char h[SEC_PASSWORD_HASH_MAX], big[SEC_PASSWORD_MAX_BYTES + 2];
  sec_password_limits_min(&l);
  memset(big, 'a', sizeof big - 1);
  big[sizeof big - 1] = 0;
  assert_int_equal(sec_password_hash(&l, big, h), LOOM_EINVAL);
  assert_int_equal(sec_password_hash(&l, "Passw0rd!", h), 0);
  assert_int_equal(sec_password_verify(h, big), LOOM_EINVAL);
  sec_password_limits bad = {0, 0};
  assert_int_equal(sec_password_hash(&bad, "Passw0rd!", h), LOOM_EINVAL);
}

static void test_needs_rehash_when_limits_change(void **state) {
  (void)state;
  sec_password_limits lmin, ldef;
  char h[SEC_PASSWORD_HASH_MAX];
  sec_password_limits_min(&lmin);
  sec_password_limits_default(&ldef);
  assert_int_equal(sec_password_hash(&lmin, "Passw0rd!", h), 0);
  assert_int_equal(sec_password_needs_rehash(&lmin, h), 0);
  assert_int_equal(sec_password_needs_rehash(&ldef, h), 1);
  assert_int_equal(sec_password_needs_rehash(&ldef, "nonsense"), LOOM_EINVAL);
}

static void test_default_limits_are_interactive(void **state) {
  (void)state;
  sec_password_limits l;
  sec_password_limits_default(&l);
  assert_true(l.opslimit == crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE);
  assert_true(l.memlimit == crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE);
  assert_true(l.memlimit >= 64u << 20);
}

static void test_spend_succeeds(void **state) {
  (void)state;
  sec_password_limits l;
  sec_password_limits_min(&l);
  assert_int_equal(sec_password_spend(&l), 0);
  sec_password_limits bad = {0, 0};
  assert_int_equal(sec_password_spend(&bad), LOOM_EINVAL);
}

static void test_policy_table(void **state) {
  (void)state;
  char long129[140], long128[140];
  memset(long129, 'a', 129);
  long129[0] = 'B';
  long129[129] = 0;
  memcpy(long128, long129, 128);
  long128[128] = 0;
  const struct { const char *pw; int ok; const char *msg_has; } cases[] = {
      {"Passw0rd", 1, ""},
      {"abcdefg1", 1, ""},
      {"abcd efgh", 1, ""},          /* lower + other */
      {"密码密码密码12", 1, ""},       /* non-ASCII counts as other, 8 code points */
      {"Abc1", 0, "at least 8"},
      {"Ab1密码", 0, "at least 8"},    /* 5 code points although 9 bytes */
      {"", 0, "at least 8"},
      {"abcdefgh", 0, "two kinds"},
      {"ABCDEFGH", 0, "two kinds"},
      {"12345678", 0, "two kinds"},
      {"!@#$%^&*", 0, "two kinds"},
      {"密码密码密码密码", 0, "two kinds"},
      {"Passw0rd\n", 0, "control"},
      {"Passw0rd\x7f", 0, "control"},
      {"Passw0rd\xc3", 0, "UTF-8"},   /* truncated sequence */
      {"Pass\xc0\xafw0rd", 0, "UTF-8"}, /* overlong '/' */
      {"Pass\xed\xa0\x80w0rd", 0, "UTF-8"}, /* surrogate */
      {long128, 1, ""},
      {long129, 0, "at most 128"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char msg[200] = "unset";
    int rc = sec_password_check_policy(cases[i].pw, msg, sizeof msg);
    if (cases[i].ok) {
      assert_int_equal(rc, 0);
      assert_string_equal(msg, "");
    } else {
      assert_int_equal(rc, LOOM_EINVAL);
      if (!strstr(msg, cases[i].msg_has)) fail_msg("case %zu: message \"%s\"", i, msg);
    }
  }
  assert_int_equal(sec_password_check_policy(NULL, NULL, 0), LOOM_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hash_then_verify),
      cmocka_unit_test(test_same_password_salted_differently),
      cmocka_unit_test(test_verify_rejects_malformed_hash),
      cmocka_unit_test(test_too_long_input_refused),
      cmocka_unit_test(test_needs_rehash_when_limits_change),
      cmocka_unit_test(test_default_limits_are_interactive),
      cmocka_unit_test(test_spend_succeeds),
      cmocka_unit_test(test_policy_table),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
