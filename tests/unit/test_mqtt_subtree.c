/* SPDX-License-Identifier: Apache-2.0
 * Tests for the shared-subscription eligibility predicate of the
 * subscription tree (mqtt_subtree_set_eligible): the pick rotates over the
 * eligible members only, falls back to plain round robin with eligible =
 * false when none is, and clearing the predicate restores plain round
 * robin. (The rest of subtree.h is tested in test_mqtt_topic.c.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mqtt/subtree.h"

#define S(s) s, strlen(s)

/* Members are ints; the predicate says whether online[i] is set. */
typedef struct members {
  int id[4];
  bool online[4];
  int calls;
} members;

static bool is_online(void *ud, const void *sub) {
  members *ms = ud;
  ms->calls++;
  int i = *(const int *)sub;
  return ms->online[i];
}

static mqtt_subtree *group_of(members *ms, int n) {
  mqtt_subtree *t = NULL;
  mqtt_sub_opts o = {.qos = 1};
  assert_int_equal(mqtt_subtree_new(0, &t), 0);
  for (int i = 0; i < n; i++) {
    ms->id[i] = i;
    assert_int_equal(mqtt_subtree_add(t, S("$share/g/job/#"), &ms->id[i], &o), 0);
  }
  return t;
}

static void count_picks(mqtt_subtree *t, int rounds, int *counts, int *n_ineligible) {
  mqtt_matches mm;
  mqtt_matches_init(&mm);
  for (int k = 0; k < rounds; k++) {
    assert_int_equal(mqtt_subtree_match(t, S("job/1"), NULL, &mm), 0);
    assert_int_equal(mm.n_shared, 1);
    counts[*(int *)mm.shared[0].sub]++;
    if (!mm.shared[0].eligible) (*n_ineligible)++;
  }
  mqtt_matches_deinit(&mm);
}

static void test_shared_skips_ineligible_members(void **st) {
  (void)st;
  members ms = {.online = {true, false, true}};
  mqtt_subtree *t = group_of(&ms, 3);
  mqtt_subtree_set_eligible(t, is_online, &ms);
  int counts[4] = {0}, inel = 0;
  count_picks(t, 6, counts, &inel);
  assert_int_equal(counts[0], 3);
  assert_int_equal(counts[1], 0);
  assert_int_equal(counts[2], 3);
  assert_int_equal(inel, 0);
  assert_true(ms.calls > 0);
  mqtt_subtree_free(t);
}

static void test_shared_alternates_over_eligible_members(void **st) {
  (void)st;
  /* consecutive picks alternate, they do not stick to one member */
  members ms = {.online = {false, true, false, true}};
  mqtt_subtree *t = group_of(&ms, 4);
  mqtt_subtree_set_eligible(t, is_online, &ms);
  mqtt_matches mm;
  mqtt_matches_init(&mm);
  int prev = -1;
  for (int k = 0; k < 6; k++) {
    assert_int_equal(mqtt_subtree_match(t, S("job/x"), NULL, &mm), 0);
    int who = *(int *)mm.shared[0].sub;
    assert_true(who == 1 || who == 3);
    assert_int_not_equal(who, prev);
    assert_true(mm.shared[0].eligible);
    prev = who;
  }
  mqtt_matches_deinit(&mm);
  mqtt_subtree_free(t);
}

static void test_shared_none_eligible_round_robin_flagged(void **st) {
  (void)st;
  members ms = {.online = {false, false, false}};
  mqtt_subtree *t = group_of(&ms, 3);
  mqtt_subtree_set_eligible(t, is_online, &ms);
  int counts[4] = {0}, inel = 0;
  count_picks(t, 6, counts, &inel);
  assert_int_equal(inel, 6);
  assert_int_equal(counts[0], 2);
  assert_int_equal(counts[1], 2);
  assert_int_equal(counts[2], 2);
  /* one comes back: it takes every delivery */
  ms.online[1] = true;
  memset(counts, 0, sizeof(counts));
  inel = 0;
  count_picks(t, 3, counts, &inel);
  assert_int_equal(counts[1], 3);
  assert_int_equal(inel, 0);
  mqtt_subtree_free(t);
}

static void test_shared_predicate_cleared(void **st) {
  (void)st;
  members ms = {.online = {true, false}};
  mqtt_subtree *t = group_of(&ms, 2);
  mqtt_subtree_set_eligible(t, is_online, &ms);
  mqtt_subtree_set_eligible(t, NULL, &ms);
  int counts[4] = {0}, inel = 0;
  count_picks(t, 4, counts, &inel);
  assert_int_equal(counts[0], 2);
  assert_int_equal(counts[1], 2);
  assert_int_equal(inel, 0);
  assert_int_equal(ms.calls, 0);
  mqtt_subtree_free(t);
}

static void test_shared_eligible_member_removed(void **st) {
  (void)st;
  /* removing the only eligible member leaves the group ineligible */
  members ms = {.online = {false, true, false}};
  mqtt_subtree *t = group_of(&ms, 3);
  mqtt_subtree_set_eligible(t, is_online, &ms);
  assert_int_equal(mqtt_subtree_remove(t, S("$share/g/job/#"), &ms.id[1]), 0);
  int counts[4] = {0}, inel = 0;
  count_picks(t, 4, counts, &inel);
  assert_int_equal(inel, 4);
  assert_int_equal(counts[0], 2);
  assert_int_equal(counts[2], 2);
  mqtt_subtree_free(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_shared_skips_ineligible_members),
      cmocka_unit_test(test_shared_alternates_over_eligible_members),
      cmocka_unit_test(test_shared_none_eligible_round_robin_flagged),
      cmocka_unit_test(test_shared_predicate_cleared),
      cmocka_unit_test(test_shared_eligible_member_removed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
