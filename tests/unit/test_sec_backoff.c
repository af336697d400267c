/* SPDX-License-Identifier: Apache-2.0
 * Tests of sec/backoff with a fake clock: the allowance, doubling delays up
 * to the cap, the window, success resetting the account only, per-address
 * tracking, the entry cap, sweeping and allocation failure.
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
#include "sec/backoff.h"

#define T0 1700000000000ull

static sec_backoff *make(size_t cap) {
  sec_backoff_config c;
  sec_backoff *b = NULL;
  sec_backoff_config_default(&c);
  if (cap) c.account.max_entries = c.address.max_entries = cap;
  assert_int_equal(sec_backoff_new(&c, &b), 0);
  return b;
}

static void test_defaults_match_documentation(void **state) {
  (void)state;
  sec_backoff_config c;
  sec_backoff_config_default(&c);
  assert_int_equal(c.account.free_failures, 5);
  assert_int_equal(c.address.free_failures, 20);
  assert_true(c.account.base_delay_ms == 1000 && c.account.max_delay_ms == 900000);
  assert_true(c.account.window_ms == 900000 && c.account.max_entries == 100000);
}

static void test_allowance_then_one_second(void **state) {
  (void)state;
  sec_backoff *b = make(0);
  uint64_t d = 99, wait = 99;
  for (int i = 0; i < 4; i++) {
    assert_int_equal(sec_backoff_check(b, "ann", "10.0.0.1", T0 + i, &wait), 0);
    assert_int_equal(sec_backoff_fail(b, "ann", "10.0.0.1", T0 + i, &d), 0);
    assert_true(d == 0);
  }
  assert_int_equal(sec_backoff_fail(b, "ann", "10.0.0.1", T0 + 10, &d), 0);
  assert_true(d == 1000);
  assert_int_equal(sec_backoff_check(b, "ann", NULL, T0 + 10, &wait), LOOM_EAGAIN);
  assert_true(wait == 1000);
  assert_int_equal(sec_backoff_check(b, "ann", "10.9.9.9", T0 + 1009, &wait), LOOM_EAGAIN);
  assert_true(wait == 1);
  assert_int_equal(sec_backoff_check(b, "ann", "10.0.0.1", T0 + 1010, &wait), 0);
  assert_true(wait == 0);
  /* another account from another address is not affected */
  assert_int_equal(sec_backoff_check(b, "bob", "10.0.0.2", T0 + 10, &wait), 0);
  sec_backoff_free(b);
}

static void test_delay_doubles_to_cap_and_stays(void **state) {
  (void)state;
  sec_backoff *b = make(0);
  uint64_t now = T0, d = 0, want = 1000;
  for (int i = 0; i < 4; i++) assert_int_equal(sec_backoff_fail(b, "ann", NULL, now, &d), 0);
  for (int i = 0; i < 14; i++) {
    assert_int_equal(sec_backoff_fail(b, "ann", NULL, now, &d), 0);
    assert_true(d == want);
    now += d; /* the attacker waits exactly the delay */
    assert_int_equal(sec_backoff_check(b, "ann", NULL, now, NULL), 0);
    want = want * 2 > 900000 ? 900000 : want * 2;
  }
  assert_true(d == 900000);
  /* after the cap's delay, still at the cap (the window counts from its end) */
  now += 60000;
  assert_int_equal(sec_backoff_fail(b, "ann", NULL, now, &d), 0);
  assert_true(d == 900000);
  sec_backoff_free(b);
}

static void test_window_forgets_quiet_keys(void **state) {
  (void)state;
  sec_backoff *b = make(0);
  uint64_t d = 0;
  for (int i = 0; i < 4; i++) assert_int_equal(sec_backoff_fail(b, "ann", NULL, T0, &d), 0);
  assert_int_equal(sec_backoff_fail(b, "ann", NULL, T0 + 899999, &d), 0);
  assert_true(d == 1000); /* still inside the window: the 5th failure counts */
  uint64_t later = T0 + 899999 + 1000 + 900000;
  for (int i = 0; i < 4; i++) {
    assert_int_equal(sec_backoff_fail(b, "ann", NULL, later, &d), 0);
    assert_true(d == 0);
  }
  sec_backoff_free(b);
}

static void test_success_resets_account_not_address(void **state) {
  (void)state;
  sec_backoff_config c;
  sec_backoff *b = NULL;
  uint64_t d = 0;
  sec_backoff_config_default(&c);
  c.address.free_failures = 5;
  assert_int_equal(sec_backoff_new(&c, &b), 0);
  for (int i = 0; i < 5; i++) assert_int_equal(sec_backoff_fail(b, "ann", "10.0.0.1", T0, &d), 0);
  assert_true(d == 1000);
  sec_backoff_success(b, "ann");
  /* the account is free again from another address */
  assert_int_equal(sec_backoff_check(b, "ann", "10.0.0.2", T0, NULL), 0);
  /* but the address keeps its count */
  assert_int_equal(sec_backoff_check(b, "zed", "10.0.0.1", T0, NULL), LOOM_EAGAIN);
  assert_int_equal(sec_backoff_fail(b, "ann", "10.0.0.2", T0, &d), 0);
  assert_true(d == 0); /* account count restarted at 1 */
  sec_backoff_free(b);
}

static void test_address_tracks_many_accounts(void **state) {
  (void)state;
  sec_backoff *b = make(0);
  uint64_t d = 0;
  char name[32];
  for (int i = 0; i < 19; i++) {
    snprintf(name, sizeof name, "user%d", i);
    assert_int_equal(sec_backoff_fail(b, name, "192.0.2.7", T0, &d), 0);
    assert_true(d == 0);
  }
  assert_int_equal(sec_backoff_fail(b, "user19", "192.0.2.7", T0, &d), 0);
  assert_true(d == 1000);
  assert_int_equal(sec_backoff_check(b, "fresh", "192.0.2.7", T0 + 5, NULL), LOOM_EAGAIN);
  assert_int_equal(sec_backoff_check(b, "fresh", "192.0.2.8", T0 + 5, NULL), 0);
  sec_backoff_free(b);
}

static void test_untracked_keys(void **state) {
  (void)state;
  sec_backoff *b = make(0);
  uint64_t d = 0;
  for (int i = 0; i < 50; i++) assert_int_equal(sec_backoff_fail(b, NULL, "", T0, &d), 0);
  assert_int_equal(sec_backoff_entries(b), 0);
  assert_int_equal(sec_backoff_check(b, NULL, NULL, T0, NULL), 0);
  sec_backoff_success(b, NULL);
  sec_backoff_free(b);
}

static void test_entry_cap_evicts_oldest(void **state) {
  (void)state;
  sec_backoff *b = make(8);
  uint64_t d = 0;
  char name[32];
  for (int i = 0; i < 5; i++) assert_int_equal(sec_backoff_fail(b, "target", NULL, T0, &d), 0);
  assert_int_equal(sec_backoff_check(b, "target", NULL, T0, NULL), LOOM_EAGAIN);
  for (int i = 0; i < 7; i++) {
    snprintf(name, sizeof name, "other%d", i);
    assert_int_equal(sec_backoff_fail(b, name, NULL, T0 + 1, &d), 0);
  }
  assert_int_equal(sec_backoff_entries(b), 8);
  assert_int_equal(sec_backoff_check(b, "target", NULL, T0 + 1, NULL), LOOM_EAGAIN);
  assert_int_equal(sec_backoff_fail(b, "other7", NULL, T0 + 2, &d), 0);
  assert_int_equal(sec_backoff_entries(b), 8);
  assert_int_equal(sec_backoff_check(b, "target", NULL, T0 + 2, NULL), 0); /* evicted */
  for (int i = 0; i < 1000; i++) {
    snprintf(name, sizeof name, "flood%d", i);
    assert_int_equal(sec_backoff_fail(b, name, name, T0 + 3, &d), 0);
  }
  assert_int_equal(sec_backoff_entries(b), 16);
  sec_backoff_free(b);
}

static void test_sweep_drops_quiet_keys_only(void **state) {
  (void)state;
  sec_backoff *b = make(0);
  uint64_t d = 0;
  assert_int_equal(sec_backoff_fail(b, "old", "10.0.0.1", T0, &d), 0);
  for (int i = 0; i < 5; i++) assert_int_equal(sec_backoff_fail(b, "new", NULL, T0 + 900000, &d), 0);
  assert_int_equal(sec_backoff_entries(b), 3);
  sec_backoff_sweep(b, T0 + 900000);
  assert_int_equal(sec_backoff_entries(b), 1);
  assert_int_equal(sec_backoff_check(b, "new", NULL, T0 + 900001, NULL), LOOM_EAGAIN);
  sec_backoff_sweep(b, T0 + 900000 + 1000 + 900000);
  assert_int_equal(sec_backoff_entries(b), 0);
  sec_backoff_free(b);
}

static void test_bad_config_and_allocation_failure(void **state) {
  (void)state;
  sec_backoff_config c;
  sec_backoff *b = NULL;
  sec_backoff_config_default(&c);
  c.account.max_entries = 0;
  assert_int_equal(sec_backoff_new(&c, &b), LOOM_EINVAL);
  sec_backoff_config_default(&c);
  c.address.max_delay_ms = 10;
  assert_int_equal(sec_backoff_new(&c, &b), LOOM_EINVAL);
  for (long n = 0; n < 3; n++) {
    loom_mem_fail_after(n);
    int rc = sec_backoff_new(NULL, &b);
    loom_mem_fail_after(-1);
    assert_int_equal(rc, LOOM_ENOMEM);
  }
  assert_int_equal(sec_backoff_new(NULL, &b), 0);
  uint64_t d = 0;
  loom_mem_fail_after(0);
  assert_int_equal(sec_backoff_fail(b, "ann", NULL, T0, &d), LOOM_ENOMEM);
  loom_mem_fail_after(-1);
  assert_int_equal(sec_backoff_fail(b, "ann", NULL, T0, &d), 0);
  /* with an entry present, a failing allocation reuses the oldest one */
  loom_mem_fail_after(0);
  assert_int_equal(sec_backoff_fail(b, "bob", NULL, T0, &d), 0);
  loom_mem_fail_after(-1);
  assert_int_equal(sec_backoff_entries(b), 1);
  sec_backoff_free(b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults_match_documentation),
      cmocka_unit_test(test_allowance_then_one_second),
      cmocka_unit_test(test_delay_doubles_to_cap_and_stays),
      cmocka_unit_test(test_window_forgets_quiet_keys),
      cmocka_unit_test(test_success_resets_account_not_address),
      cmocka_unit_test(test_address_tracks_many_accounts),
      cmocka_unit_test(test_untracked_keys),
      cmocka_unit_test(test_entry_cap_evicts_oldest),
      cmocka_unit_test(test_sweep_drops_quiet_keys_only),
      cmocka_unit_test(test_bad_config_and_allocation_failure),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
