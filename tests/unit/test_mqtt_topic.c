/* SPDX-License-Identifier: Apache-2.0
 * Tests for mqtt/topic (validation keyed to MQTT normative statements,
 * matching with the specification's examples), mqtt/subtree (overlapping
 * subscriptions, shared groups, cleanup, randomized check against the
 * brute-force matcher) and mqtt/retain (set/delete/bounds/filtering).
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
#include "mqtt/retain.h"
#include "mqtt/subtree.h"
#include "mqtt/topic.h"

#define S(x) (x), strlen(x)

static int name_ok(const char *s) { return mqtt_topic_name_validate(S(s)); }
static int filter_ok(const char *s) {
  return mqtt_topic_filter_validate(S(s));
}
static bool m(const char *f, const char *n) {
  return mqtt_topic_matches(S(f), S(n));
}

/* ---------------- topic validation ---------------- */

static void test_filter_hash_must_be_last(void **st) {
  (void)st;
  /* [MQTT-4.7.1-1] '#' is the last character and alone in its level */
  assert_int_equal(filter_ok("sport/tennis/#"), 0);
  assert_int_equal(filter_ok("#"), 0);
  assert_int_equal(filter_ok("sport/tennis#"), LOOM_EINVAL);
  assert_int_equal(filter_ok("sport/tennis/#/ranking"), LOOM_EINVAL);
  assert_int_equal(filter_ok("#/a"), LOOM_EINVAL);
}

static void test_filter_plus_whole_level(void **st) {
  (void)st;
  /* [MQTT-4.7.1-2] '+' occupies an entire level */
  assert_int_equal(filter_ok("+"), 0);
  assert_int_equal(filter_ok("+/tennis/#"), 0);
  assert_int_equal(filter_ok("sport/+/player1"), 0);
  assert_int_equal(filter_ok("/+"), 0);
  assert_int_equal(filter_ok("+/+"), 0);
  assert_int_equal(filter_ok("sport+"), LOOM_EINVAL);
  assert_int_equal(filter_ok("sport/+x"), LOOM_EINVAL);
  assert_int_equal(filter_ok("a/++/b"), LOOM_EINVAL);
}

static void test_topic_empty_rejected(void **st) {
  (void)st;
  /* [MQTT-4.7.3-1] at least one character */
  assert_int_equal(mqtt_topic_name_validate("", 0), LOOM_EINVAL);
  assert_int_equal(mqtt_topic_filter_validate("", 0), LOOM_EINVAL);
  /* a lone '/' is valid: two empty levels */
  assert_int_equal(name_ok("/"), 0);
  assert_int_equal(filter_ok("/"), 0);
}

static void test_name_no_wildcards(void **st) {
  (void)st;
  /* [MQTT-3.3.2-2] no wildcard characters in a topic name */
  assert_int_equal(name_ok("a/+/b"), LOOM_EINVAL);
  assert_int_equal(name_ok("a/#"), LOOM_EINVAL);
  assert_int_equal(name_ok("a+b"), LOOM_EINVAL);
  assert_int_equal(name_ok("$SYS/broker/uptime"), 0);
}

static void test_topic_max_length(void **st) {
  (void)st;
  /* [MQTT-4.7.3-3] at most 65,535 bytes */
  size_t n = MQTT_TOPIC_MAX_LEN + 1;
  char *b = malloc(n);
  assert_non_null(b);
  memset(b, 'a', n);
  assert_int_equal(mqtt_topic_name_validate(b, n - 1), 0);
  assert_int_equal(mqtt_topic_name_validate(b, n), LOOM_ERANGE);
  assert_int_equal(mqtt_topic_filter_validate(b, n), LOOM_ERANGE);
  free(b);
}

static void test_topic_utf8(void **st) {
  (void)st;
  /* [MQTT-1.5.4-2] [MQTT-4.7.3-2] no U+0000 */
  assert_int_equal(mqtt_topic_name_validate("a\0b", 3), LOOM_EINVAL);
  /* [MQTT-1.5.4-1] ill-formed: surrogate U+D800, overlong '/', bad lead,
   * truncated sequence, above U+10FFFF */
  assert_int_equal(name_ok("a\xED\xA0\x80"), LOOM_EINVAL);
  assert_int_equal(name_ok("\xC0\xAF"), LOOM_EINVAL);
  assert_int_equal(name_ok("\xFF"), LOOM_EINVAL);
  assert_int_equal(name_ok("\xE2\x82"), LOOM_EINVAL);
  assert_int_equal(name_ok("\xF4\x90\x80\x80"), LOOM_EINVAL);
  /* valid multi-byte: "Grüße/温度/😀" */
  assert_int_equal(name_ok("Gr\xC3\xBC\xC3\x9F" "e/\xE6\xB8\xA9\xE5\xBA\xA6/\xF0\x9F\x98\x80"), 0);
  assert_int_equal(filter_ok("\xE6\xB8\xA9/+/#"), 0);
}

static void test_share_parse(void **st) {
  (void)st;
  mqtt_share sh;
  assert_int_equal(mqtt_topic_share_parse(S("a/b"), &sh), 0);
  assert_int_equal(mqtt_topic_share_parse(S("$share/g1/sport/+"), &sh), 1);
  assert_int_equal(sh.group_len, 2);
  assert_memory_equal(sh.group, "g1", 2);
  assert_int_equal(sh.filter_len, 7);
  assert_memory_equal(sh.filter, "sport/+", 7);
  /* [MQTT-4.8.2-1] ShareName at least one character, followed by '/' and
   * a filter; [MQTT-4.8.2-2] no '/', '+', '#' in the ShareName */
  assert_int_equal(mqtt_topic_share_parse(S("$share//a"), &sh), LOOM_EINVAL);
  assert_int_equal(mqtt_topic_share_parse(S("$share/g"), &sh), LOOM_EINVAL);
  assert_int_equal(mqtt_topic_share_parse(S("$share/g/"), &sh), LOOM_EINVAL);
  assert_int_equal(mqtt_topic_share_parse(S("$share/g+/a"), &sh), LOOM_EINVAL);
  assert_int_equal(mqtt_topic_share_parse(S("$share/#/a"), &sh), LOOM_EINVAL);
  assert_int_equal(mqtt_topic_share_parse(S("$share/g/a#"), &sh), LOOM_EINVAL);
  assert_int_equal(mqtt_topic_share_parse(S("$share/g/#"), &sh), 1);
}

/* ---------------- matching (spec 4.7.1 / 4.7.2 examples) ---------------- */

static void test_match_multilevel_examples(void **st) {
  (void)st;
  assert_true(m("sport/tennis/player1/#", "sport/tennis/player1"));
  assert_true(m("sport/tennis/player1/#", "sport/tennis/player1/ranking"));
  assert_true(m("sport/tennis/player1/#",
                "sport/tennis/player1/score/wimbledon"));
  assert_true(m("sport/#", "sport"));
  assert_false(m("sport/tennis/player1/#", "sport/tennis/player2"));
  assert_true(m("#", "a/b/c"));
}

static void test_match_single_level_examples(void **st) {
  (void)st;
  assert_true(m("sport/tennis/+", "sport/tennis/player1"));
  assert_true(m("sport/tennis/+", "sport/tennis/player2"));
  assert_false(m("sport/tennis/+", "sport/tennis/player1/ranking"));
  assert_false(m("sport/+", "sport"));
  assert_true(m("sport/+", "sport/"));
  assert_true(m("+/+", "/finance"));
  assert_true(m("/+", "/finance"));
  assert_false(m("+", "/finance"));
  assert_true(m("+/tennis/#", "sport/tennis/x/y"));
  assert_true(m("+/#", "a"));
}

static void test_match_dollar_topics(void **st) {
  (void)st;
  /* [MQTT-4.7.2-1] */
  assert_false(m("#", "$SYS/broker"));
  assert_false(m("+/monitor/Clients", "$SYS/monitor/Clients"));
  assert_true(m("$SYS/#", "$SYS/monitor/Clients"));
  assert_true(m("$SYS/monitor/+", "$SYS/monitor/Clients"));
  assert_true(m("a/+", "a/$x"));
}

static void test_match_case_and_spaces(void **st) {
  (void)st;
  assert_false(m("ACCOUNTS", "Accounts"));
  assert_true(m("Accounts payable", "Accounts payable"));
  assert_false(m("a/b", "a/b/"));
  assert_false(m("a//b", "a/b"));
  assert_true(m("a/+/b", "a//b"));
}

/* ---------------- subscription tree ---------------- */

static const mqtt_sub_opts Q0 = {0, false, false, 0, 0};

static mqtt_sub_opts q(uint8_t qos, uint32_t id) {
  mqtt_sub_opts o = {qos, false, false, 0, id};
  return o;
}

static const mqtt_match *find(const mqtt_matches *mm, void *sub) {
  for (size_t i = 0; i < mm->n; i++)
    if (mm->items[i].sub == sub) return &mm->items[i];
  return NULL;
}

static void test_subtree_add_existed(void **st) {
  (void)st;
  mqtt_subtree *t;
  int a;
  assert_int_equal(mqtt_subtree_new(0, &t), 0);
  mqtt_sub_opts o1 = q(0, 0), o2 = q(2, 0);
  assert_int_equal(mqtt_subtree_add(t, S("a/b"), &a, &o1), 0);
  assert_int_equal(mqtt_subtree_add(t, S("a/b"), &a, &o2), 1);
  assert_int_equal(mqtt_subtree_sub_count(t), 1);
  mqtt_matches mm;
  mqtt_matches_init(&mm);
  assert_int_equal(mqtt_subtree_match(t, S("a/b"), NULL, &mm), 0);
  assert_int_equal(mm.n, 1);
  assert_int_equal(mm.items[0].qos, 2);
  mqtt_matches_deinit(&mm);
  mqtt_subtree_free(t);
}

static void test_subtree_add_rejects_invalid(void **st) {
  (void)st;
  mqtt_subtree *t;
  int a;
  assert_int_equal(mqtt_subtree_new(0, &t), 0);
  mqtt_sub_opts bad = q(3, 0);
  assert_int_equal(mqtt_subtree_add(t, S("a/b"), &a, &bad), LOOM_EINVAL);
  assert_int_equal(mqtt_subtree_add(t, S("a/#/b"), &a, &Q0), LOOM_EINVAL);
  assert_int_equal(mqtt_subtree_add(t, S("a/b"), NULL, &Q0), LOOM_EINVAL);
  mqtt_sub_opts nl = {1, true, false, 0, 0};
  /* [MQTT-3.8.3-4] no-local on a shared subscription is a protocol error */
  assert_int_equal(mqtt_subtree_add(t, S("$share/g/a"), &a, &nl), LOOM_EINVAL);
  char deep[2 * MQTT_SUBTREE_MAX_LEVELS + 2];
  for (size_t i = 0; i <= MQTT_SUBTREE_MAX_LEVELS; i++) {
    deep[2 * i] = 'x';
    deep[2 * i + 1] = '/';
  }
  assert_int_equal(mqtt_subtree_add(t, deep, 2 * MQTT_SUBTREE_MAX_LEVELS + 1,
                                    &a, &Q0),
                   LOOM_ERANGE);
  assert_int_equal(mqtt_subtree_node_count(t), 0);
  mqtt_subtree_free(t);
}

static void test_subtree_overlapping_merge(void **st) {
  (void)st;
  /* MQTT 5 3.3.4: one copy per subscriber, max QoS, all identifiers */
  mqtt_subtree *t;
  int a, b;
  assert_int_equal(mqtt_subtree_new(0, &t), 0);
  mqtt_sub_opts o1 = q(0, 7), o2 = q(1, 9), o3 = q(2, 0), o4 = q(0, 11);
  o4.retain_as_published = true;
  assert_int_equal(mqtt_subtree_add(t, S("sport/tennis/+"), &a, &o1), 0);
  assert_int_equal(mqtt_subtree_add(t, S("sport/#"), &a, &o2), 0);
  assert_int_equal(mqtt_subtree_add(t, S("+/tennis/player1"), &a, &o3), 0);
  assert_int_equal(mqtt_subtree_add(t, S("sport/tennis/player1"), &b, &o4), 0);
  assert_int_equal(mqtt_subtree_add(t, S("other"), &b, &o2), 0);
  mqtt_matches mm;
  mqtt_matches_init(&mm);
  assert_int_equal(mqtt_subtree_match(t, S("sport/tennis/player1"), NULL, &mm), 0);
  assert_int_equal(mm.n, 2);
  const mqtt_match *ma = find(&mm, &a), *mb = find(&mm, &b);
  assert_non_null(ma);
  assert_non_null(mb);
  assert_int_equal(ma->qos, 2);
  assert_false(ma->retain_as_published);
  assert_int_equal(ma->n_sub_ids, 2);
  uint32_t s = ma->sub_ids[0] + ma->sub_ids[1];
  assert_int_equal(s, 16);
  assert_int_equal(mb->qos, 0);
  assert_true(mb->retain_as_published);
  assert_int_equal(mb->n_sub_ids, 1);
  assert_int_equal(mb->sub_ids[0], 11);
  mqtt_matches_deinit(&mm);
  mqtt_subtree_free(t);
}

static void test_subtree_no_local(void **st) {
  (void)st;
  mqtt_subtree *t;
  int a, b;
  assert_int_equal(mqtt_subtree_new(0, &t), 0);
  mqtt_sub_opts nl = {1, true, false, 0, 0};
  assert_int_equal(mqtt_subtree_add(t, S("x/+"), &a, &nl), 0);
  assert_int_equal(mqtt_subtree_add(t, S("x/y"), &b, &nl), 0);
  mqtt_matches mm;
  mqtt_matches_init(&mm);
  /* [MQTT-3.8.3-3] not forwarded to the publisher's own subscription */
  assert_int_equal(mqtt_subtree_match(t, S("x/y"), &a, &mm), 0);
  assert_int_equal(mm.n, 1);
  assert_ptr_equal(mm.items[0].sub, &b);
  /* an overlapping subscription without no-local still delivers */
  assert_int_equal(mqtt_subtree_add(t, S("#"), &a, &Q0), 0);
  assert_int_equal(mqtt_subtree_match(t, S("x/y"), &a, &mm), 0);
  assert_int_equal(mm.n, 2);
  assert_int_equal(find(&mm, &a)->qos, 0);
  mqtt_matches_deinit(&mm);
  mqtt_subtree_free(t);
}

static void test_subtree_dollar_not_matched_by_root_wildcards(void **st) {
  (void)st;
  mqtt_subtree *t;
  int a, b, c;
  assert_int_equal(mqtt_subtree_new(0, &t), 0);
  assert_int_equal(mqtt_subtree_add(t, S("#"), &a, &Q0), 0);
  assert_int_equal(mqtt_subtree_add(t, S("+/monitor/Clients"), &b, &Q0), 0);
  assert_int_equal(mqtt_subtree_add(t, S("$SYS/#"), &c, &Q0), 0);
  mqtt_matches mm;
  mqtt_matches_init(&mm);
  assert_int_equal(mqtt_subtree_match(t, S("$SYS/monitor/Clients"), NULL, &mm), 0);
  assert_int_equal(mm.n, 1);
  assert_ptr_equal(mm.items[0].sub, &c);
  assert_int_equal(mqtt_subtree_match(t, S("x/monitor/Clients"), NULL, &mm), 0);
  assert_int_equal(mm.n, 2);
  mqtt_matches_deinit(&mm);
  mqtt_subtree_free(t);
}

static void test_subtree_shared_round_robin(void **st) {
  (void)st;
  mqtt_subtree *t;
  int s[3], plain;
  assert_int_equal(mqtt_subtree_new(0, &t), 0);
  for (int i = 0; i < 3; i++)
    assert_int_equal(mqtt_subtree_add(t, S("$share/g/m/+"), &s[i], &Q0), 0);
  assert_int_equal(mqtt_subtree_add(t, S("$share/h/m/#"), &s[0], &Q0), 0);
  assert_int_equal(mqtt_subtree_add(t, S("m/+"), &plain, &Q0), 0);
  mqtt_matches mm;
  mqtt_matches_init(&mm);
  int counts[3] = {0, 0, 0}, h_count = 0;
  for (int k = 0; k < 9; k++) {
    assert_int_equal(mqtt_subtree_match(t, S("m/1"), NULL, &mm), 0);
    assert_int_equal(mm.n, 1); /* shared ones are not in items */
    assert_ptr_equal(mm.items[0].sub, &plain);
    assert_int_equal(mm.n_shared, 2);
    for (size_t j = 0; j < mm.n_shared; j++) {
      if (mm.shared[j].group_len == 1 && mm.shared[j].group[0] == 'h') {
        h_count++;
        assert_ptr_equal(mm.shared[j].sub, &s[0]);
        continue;
      }
      for (int i = 0; i < 3; i++) counts[i] += mm.shared[j].sub == &s[i];
    }
  }
  assert_int_equal(counts[0], 3);
  assert_int_equal(counts[1], 3);
  assert_int_equal(counts[2], 3);
  assert_int_equal(h_count, 9);
  /* same member again: options replaced, reported as existing */
  mqtt_sub_opts o2 = q(2, 0);
  assert_int_equal(mqtt_subtree_add(t, S("$share/g/m/+"), &s[1], &o2), 1);
  /* removing a member: the rest still share evenly */
  assert_int_equal(mqtt_subtree_remove(t, S("$share/g/m/+"), &s[0]), 0);
  int c1 = 0, c2 = 0;
  for (int k = 0; k < 4; k++) {
    assert_int_equal(mqtt_subtree_match(t, S("m/1"), NULL, &mm), 0);
    for (size_t j = 0; j < mm.n_shared; j++) {
      c1 += mm.shared[j].sub == &s[1];
      c2 += mm.shared[j].sub == &s[2];
      if (mm.shared[j].sub == &s[1]) assert_int_equal(mm.shared[j].opts.qos, 2);
    }
  }
  assert_int_equal(c1, 2);
  assert_int_equal(c2, 2);
  mqtt_matches_deinit(&mm);
  mqtt_subtree_free(t);
}

static void test_subtree_remove_cleans_nodes(void **st) {
  (void)st;
  mqtt_subtree *t;
  int a, b;
  assert_int_equal(mqtt_subtree_new(0, &t), 0);
  assert_int_equal(mqtt_subtree_add(t, S("a/b/c/d"), &a, &Q0), 0);
  assert_int_equal(mqtt_subtree_node_count(t), 4);
  assert_int_equal(mqtt_subtree_add(t, S("a/b/+/#"), &b, &Q0), 0);
  assert_int_equal(mqtt_subtree_node_count(t), 6);
  assert_int_equal(mqtt_subtree_add(t, S("$share/g/a/b"), &b, &Q0), 0);
  assert_int_equal(mqtt_subtree_node_count(t), 6);
  assert_int_equal(mqtt_subtree_remove(t, S("a/b/c/d"), &b), LOOM_ENOTFOUND);
  assert_int_equal(mqtt_subtree_remove(t, S("x/y"), &a), LOOM_ENOTFOUND);
  assert_int_equal(mqtt_subtree_remove(t, S("a/b/c/d"), &a), 0);
  assert_int_equal(mqtt_subtree_node_count(t), 4); /* a, b, +, # */
  assert_int_equal(mqtt_subtree_remove(t, S("$share/g/a/b"), &b), 0);
  assert_int_equal(mqtt_subtree_node_count(t), 4);
  assert_int_equal(mqtt_subtree_remove(t, S("a/b/+/#"), &b), 0);
  assert_int_equal(mqtt_subtree_node_count(t), 0);
  assert_int_equal(mqtt_subtree_sub_count(t), 0);
  mqtt_subtree_free(t);
}

static void test_subtree_remove_all(void **st) {
  (void)st;
  mqtt_subtree *t;
  int a, b;
  assert_int_equal(mqtt_subtree_new(0, &t), 0);
  const char *fs[] = {"a", "a/b", "a/b/c", "+/b", "#", "a/#", "$share/g/a/b",
                      "$share/h/a/b"};
  for (size_t i = 0; i < sizeof fs / sizeof *fs; i++)
    assert_int_equal(mqtt_subtree_add(t, S(fs[i]), &a, &Q0), 0);
  assert_int_equal(mqtt_subtree_add(t, S("a/b/x"), &b, &Q0), 0);
  size_t before = mqtt_subtree_node_count(t);
  assert_int_equal(mqtt_subtree_remove_all(t, &a), 8);
  assert_int_equal(mqtt_subtree_remove_all(t, &a), 0);
  assert_int_equal(mqtt_subtree_sub_count(t), 1);
  assert_true(mqtt_subtree_node_count(t) < before);
  assert_int_equal(mqtt_subtree_node_count(t), 3);
  mqtt_matches mm;
  mqtt_matches_init(&mm);
  assert_int_equal(mqtt_subtree_match(t, S("a/b"), NULL, &mm), 0);
  assert_int_equal(mm.n + mm.n_shared, 0);
  assert_int_equal(mqtt_subtree_remove_all(t, &b), 1);
  assert_int_equal(mqtt_subtree_node_count(t), 0);
  mqtt_matches_deinit(&mm);
  mqtt_subtree_free(t);
}

static void test_subtree_max_subs(void **st) {
  (void)st;
  mqtt_subtree *t;
  int a, b;
  assert_int_equal(mqtt_subtree_new(2, &t), 0);
  assert_int_equal(mqtt_subtree_add(t, S("a"), &a, &Q0), 0);
  assert_int_equal(mqtt_subtree_add(t, S("b"), &a, &Q0), 0);
  assert_int_equal(mqtt_subtree_add(t, S("c"), &b, &Q0), LOOM_ERANGE);
  assert_int_equal(mqtt_subtree_add(t, S("a"), &a, &Q0), 1); /* replace ok */
  assert_int_equal(mqtt_subtree_node_count(t), 2);
  mqtt_subtree_free(t);
}

static void test_subtree_alloc_failure_leaves_tree_unchanged(void **st) {
  (void)st;
  mqtt_subtree *t;
  int a, b;
  assert_int_equal(mqtt_subtree_new(0, &t), 0);
  assert_int_equal(mqtt_subtree_add(t, S("k/l"), &a, &Q0), 0);
  size_t nodes = mqtt_subtree_node_count(t);
  int failures = 0;
  for (long n = 0; n < 12; n++) {
    loom_mem_fail_after(n);
    int rc = mqtt_subtree_add(t, S("x/y/z"), &b, &Q0);
    loom_mem_fail_after(-1);
    if (rc == 0) {
      assert_int_equal(mqtt_subtree_remove(t, S("x/y/z"), &b), 0);
    } else {
      assert_int_equal(rc, LOOM_ENOMEM);
      failures++;
    }
    assert_int_equal(mqtt_subtree_node_count(t), nodes);
    assert_int_equal(mqtt_subtree_sub_count(t), 1);
  }
  assert_true(failures > 0);
  mqtt_subtree_free(t);
}

static void test_subtree_many_siblings_remove(void **st) {
  (void)st;
  /* exercises the child hash table: growth, deletion, shrinking */
  mqtt_subtree *t;
  static int subs[1000];
  char f[32];
  assert_int_equal(mqtt_subtree_new(0, &t), 0);
  for (int i = 0; i < 1000; i++) {
    snprintf(f, sizeof f, "dev/%d", i);
    assert_int_equal(mqtt_subtree_add(t, f, strlen(f), &subs[i], &Q0), 0);
  }
  assert_int_equal(mqtt_subtree_node_count(t), 1001);
  for (int i = 0; i < 1000; i++)
    if (i % 97 != 0) {
      snprintf(f, sizeof f, "dev/%d", i);
      assert_int_equal(mqtt_subtree_remove(t, f, strlen(f), &subs[i]), 0);
    }
  assert_int_equal(mqtt_subtree_node_count(t), 1 + 11);
  mqtt_matches mm;
  mqtt_matches_init(&mm);
  for (int i = 0; i < 1000; i++) {
    snprintf(f, sizeof f, "dev/%d", i);
    assert_int_equal(mqtt_subtree_match(t, f, strlen(f), NULL, &mm), 0);
    assert_int_equal(mm.n, i % 97 == 0 ? 1 : 0);
    if (mm.n) assert_ptr_equal(mm.items[0].sub, &subs[i]);
  }
  mqtt_matches_deinit(&mm);
  mqtt_subtree_free(t);
}

static void test_subtree_many_subscribers_one_filter(void **st) {
  (void)st;
  /* exercises the entry index fix-ups when entries move on removal */
  mqtt_subtree *t;
  static int subs[500];
  assert_int_equal(mqtt_subtree_new(0, &t), 0);
  for (int i = 0; i < 500; i++) {
    mqtt_sub_opts o = q((uint8_t)(i % 3), (uint32_t)i + 1);
    assert_int_equal(mqtt_subtree_add(t, S("a/b"), &subs[i], &o), 0);
    assert_int_equal(mqtt_subtree_add(t, S("a/+"), &subs[i], &o), 0);
  }
  for (int i = 0; i < 500; i += 2)
    assert_int_equal(mqtt_subtree_remove(t, S("a/b"), &subs[i]), 0);
  for (int i = 0; i < 500; i += 3) mqtt_subtree_remove_all(t, &subs[i]);
  for (int i = 1; i < 500; i += 2) {
    mqtt_sub_opts o = q(2, 9999);
    assert_int_equal(mqtt_subtree_add(t, S("a/b"), &subs[i], &o), i % 3 ? 1 : 0);
  }
  mqtt_matches mm;
  mqtt_matches_init(&mm);
  assert_int_equal(mqtt_subtree_match(t, S("a/b"), NULL, &mm), 0);
  size_t want = 0;
  for (int i = 0; i < 500; i++) {
    const mqtt_match *r = find(&mm, &subs[i]);
    bool b = (i % 2 == 1), plus = (i % 3 != 0);
    if (!b && !plus) {
      assert_null(r);
      continue;
    }
    want++;
    assert_non_null(r);
    assert_int_equal(r->n_sub_ids, (size_t)b + (size_t)plus);
    if (b) assert_int_equal(r->qos, 2);
  }
  assert_int_equal(mm.n, want);
  mqtt_matches_deinit(&mm);
  mqtt_subtree_free(t);
}

static void test_subtree_match_alloc_failure(void **st) {
  (void)st;
  mqtt_subtree *t;
  int a, b;
  assert_int_equal(mqtt_subtree_new(0, &t), 0);
  assert_int_equal(mqtt_subtree_add(t, S("a/+"), &a, &Q0), 0);
  assert_int_equal(mqtt_subtree_add(t, S("$share/g/a/b"), &b, &Q0), 0);
  mqtt_matches mm;
  mqtt_matches_init(&mm);
  loom_mem_fail_after(0);
  int rc = mqtt_subtree_match(t, S("a/b"), NULL, &mm);
  loom_mem_fail_after(-1);
  assert_int_equal(rc, LOOM_ENOMEM);
  assert_int_equal(mm.n + mm.n_shared, 0);
  assert_int_equal(mqtt_subtree_match(t, S("a/b"), NULL, &mm), 0);
  assert_int_equal(mm.n, 1);
  assert_int_equal(mm.n_shared, 1);
  mqtt_matches_deinit(&mm);
  mqtt_subtree_free(t);
}

/* Randomized: the tree's matches equal a brute force over every filter. */
static const char *const LV[] = {"a", "b", "c", "", "$x", "dd"};

static size_t rand_topic(char *out, bool filter, unsigned *seed) {
  size_t n = 0, levels = 1 + (size_t)(rand_r(seed) % 4);
  for (size_t i = 0; i < levels; i++) {
    if (i) out[n++] = '/';
    int r = rand_r(seed) % 10;
    const char *l;
    if (filter && r == 0 && i == levels - 1) l = "#";
    else if (filter && r < 3) l = "+";
    else l = LV[rand_r(seed) % 6];
    if (l[0] == '$' && i > 0) l = "x$";
    size_t ll = strlen(l);
    memcpy(out + n, l, ll);
    n += ll;
  }
  if (n == 0) out[n++] = 'a'; /* topics are never empty */
  return n;
}

static void test_subtree_random_vs_bruteforce(void **st) {
  (void)st;
  unsigned seed = 12345;
  enum { NF = 300, NS = 40, NN = 400 };
  char (*fs)[64] = calloc(NF, 64);
  size_t *fl = calloc(NF, sizeof *fl);
  int subs[NS];
  int *owner = calloc(NF, sizeof *owner);
  bool *live = calloc(NF, sizeof *live);
  uint8_t *qos = calloc(NF, 1);
  assert_non_null(fs);
  mqtt_subtree *t;
  assert_int_equal(mqtt_subtree_new(0, &t), 0);
  for (int i = 0; i < NF; i++) {
    fl[i] = rand_topic(fs[i], true, &seed);
    owner[i] = rand_r(&seed) % NS;
    qos[i] = (uint8_t)(rand_r(&seed) % 3);
    mqtt_sub_opts o = q(qos[i], (uint32_t)i + 1);
    int rc = mqtt_subtree_add(t, fs[i], fl[i], &subs[owner[i]], &o);
    if (rc < 0) print_message("rc=%d filter=%.*s\n", rc, (int)fl[i], fs[i]);
    assert_true(rc == 0 || rc == 1);
    if (rc == 1) /* duplicate filter for this owner: older one replaced */
      for (int j = 0; j < i; j++)
        if (live[j] && owner[j] == owner[i] && fl[j] == fl[i] &&
            memcmp(fs[j], fs[i], fl[i]) == 0)
          live[j] = false;
    live[i] = true;
  }
  /* remove a third */
  for (int i = 0; i < NF; i += 3)
    if (live[i]) {
      assert_int_equal(mqtt_subtree_remove(t, fs[i], fl[i], &subs[owner[i]]), 0);
      live[i] = false;
    }
  mqtt_matches mm;
  mqtt_matches_init(&mm);
  for (int k = 0; k < NN; k++) {
    char name[64];
    size_t nl = rand_topic(name, false, &seed);
    assert_int_equal(mqtt_subtree_match(t, name, nl, NULL, &mm), 0);
    int expect_n = 0;
    for (int s = 0; s < NS; s++) {
      int maxq = -1, nid = 0;
      for (int i = 0; i < NF; i++)
        if (live[i] && owner[i] == s && mqtt_topic_matches(fs[i], fl[i], name, nl)) {
          nid++;
          if (qos[i] > maxq) maxq = qos[i];
        }
      const mqtt_match *r = find(&mm, &subs[s]);
      if (nid == 0) {
        assert_null(r);
        continue;
      }
      expect_n++;
      assert_non_null(r);
      assert_int_equal(r->n_sub_ids, nid);
      for (size_t j = 0; j < r->n_sub_ids; j++) {
        int i = (int)r->sub_ids[j] - 1;
        assert_true(live[i] && owner[i] == s);
        assert_true(mqtt_topic_matches(fs[i], fl[i], name, nl));
      }
      assert_int_equal(r->qos, maxq);
    }
    assert_int_equal(mm.n, expect_n);
  }
  for (int s = 0; s < NS; s++) mqtt_subtree_remove_all(t, &subs[s]);
  assert_int_equal(mqtt_subtree_node_count(t), 0);
  mqtt_matches_deinit(&mm);
  mqtt_subtree_free(t);
  free(fs);
  free(fl);
  free(owner);
  free(live);
  free(qos);
}

/* ---------------- retained store ---------------- */

typedef struct lst {
  char names[256][64];
  size_t lens[256];
  size_t n;
} lst;

static int add_lst(void *ud, const mqtt_retain_msg *msg) {
  lst *l = ud;
  assert_true(l->n < 256);
  memcpy(l->names[l->n], msg->topic, msg->topic_len);
  l->lens[l->n++] = msg->topic_len;
  return 0;
}

static int count_cb(void *ud, const mqtt_retain_msg *msg) {
  (void)msg;
  (*(size_t *)ud)++;
  return 0;
}

static void test_retain_deep_topics(void **st) {
  (void)st;
  /* 20000 levels: listing and freeing must not recurse per level; a
   * filter deeper than the trie walk's bound uses the linear scan */
  enum { NLV = 20000 };
  size_t len = 2 * NLV - 1;
  char *name = malloc(len), *f = malloc(len);
  assert_non_null(name);
  assert_non_null(f);
  for (size_t i = 0; i < len; i++) name[i] = (i % 2) ? '/' : 'a';
  mqtt_retain *r;
  assert_int_equal(mqtt_retain_new(0, 0, &r), 0);
  mqtt_retain_msg x = {name, len, (const uint8_t *)"v", 1, 0, NULL, 0};
  assert_int_equal(mqtt_retain_set(r, &x), 0);
  mqtt_retain_msg y = {"a/b", 3, (const uint8_t *)"v", 1, 0, NULL, 0};
  assert_int_equal(mqtt_retain_set(r, &y), 0);
  size_t s = 0;
  assert_int_equal(mqtt_retain_match(r, S("a/#"), count_cb, &s), 0);
  assert_int_equal(s, 2);
  memcpy(f, name, len);
  f[len - 1] = '+';
  s = 0;
  assert_int_equal(mqtt_retain_match(r, f, len, count_cb, &s), 0);
  assert_int_equal(s, 1);
  f[len - 1] = '#';
  s = 0;
  assert_int_equal(mqtt_retain_match(r, f, len, count_cb, &s), 0);
  assert_int_equal(s, 1);
  mqtt_retain_free(r);
  free(name);
  free(f);
}

static void test_retain_random_vs_bruteforce(void **st) {
  (void)st;
  unsigned seed = 777;
  enum { NT = 200 };
  char names[NT][64];
  size_t lens[NT];
  bool live[NT];
  mqtt_retain *r;
  assert_int_equal(mqtt_retain_new(0, 0, &r), 0);
  for (int i = 0; i < NT; i++) {
    lens[i] = rand_topic(names[i], false, &seed);
    live[i] = false;
  }
  for (int round = 0; round < 6; round++) {
    for (int i = 0; i < NT; i++) {
      if (rand_r(&seed) % 3 == 0) continue;
      bool del = rand_r(&seed) % 2 == 0;
      mqtt_retain_msg x = {names[i], lens[i], (const uint8_t *)"v", del ? 0 : 1,
                           0, NULL, 0};
      assert_int_equal(mqtt_retain_set(r, &x), 0);
      for (int j = 0; j < NT; j++) /* duplicates of the same name */
        if (lens[j] == lens[i] && memcmp(names[j], names[i], lens[i]) == 0)
          live[j] = !del;
    }
    for (int k = 0; k < 100; k++) {
      char f[64];
      size_t fl = rand_topic(f, true, &seed);
      lst l;
      l.n = 0;
      assert_int_equal(mqtt_retain_match(r, f, fl, add_lst, &l), 0);
      size_t want = 0;
      for (int i = 0; i < NT; i++) {
        bool dup = false;
        for (int j = 0; j < i; j++)
          dup |= lens[j] == lens[i] && memcmp(names[j], names[i], lens[i]) == 0;
        if (dup || !live[i] || !mqtt_topic_matches(f, fl, names[i], lens[i]))
          continue;
        want++;
        bool found = false;
        for (size_t j = 0; j < l.n; j++)
          found |= l.lens[j] == lens[i] && memcmp(l.names[j], names[i], lens[i]) == 0;
        assert_true(found);
      }
      assert_int_equal(l.n, want);
    }
  }
  mqtt_retain_free(r);
}


static mqtt_retain_msg rm(const char *topic, const char *payload) {
  mqtt_retain_msg x = {topic, strlen(topic), (const uint8_t *)payload,
                       strlen(payload), 1, NULL, 0};
  return x;
}

typedef struct seen {
  char topics[16][32];
  size_t n;
} seen;

static int collect(void *ud, const mqtt_retain_msg *msg) {
  seen *s = ud;
  if (s->n < 16) {
    memcpy(s->topics[s->n], msg->topic, msg->topic_len);
    s->topics[s->n][msg->topic_len] = 0;
  }
  s->n++;
  return 0;
}

static bool has(const seen *s, const char *t) {
  for (size_t i = 0; i < s->n && i < 16; i++)
    if (strcmp(s->topics[i], t) == 0) return true;
  return false;
}

static void test_retain_set_replace_delete(void **st) {
  (void)st;
  mqtt_retain *r;
  assert_int_equal(mqtt_retain_new(0, 0, &r), 0);
  mqtt_retain_msg a = rm("s/1", "hello");
  assert_int_equal(mqtt_retain_set(r, &a), 0);
  mqtt_retain_msg a2 = rm("s/1", "hi");
  assert_int_equal(mqtt_retain_set(r, &a2), 0);
  assert_int_equal(mqtt_retain_count(r), 1);
  assert_int_equal(mqtt_retain_bytes(r), 3 + 2);
  seen s = {0};
  assert_int_equal(mqtt_retain_match(r, S("s/1"), collect, &s), 0);
  assert_int_equal(s.n, 1);
  mqtt_retain_msg del = rm("s/1", "");
  assert_int_equal(mqtt_retain_set(r, &del), 0);
  assert_int_equal(mqtt_retain_set(r, &del), 0);
  assert_int_equal(mqtt_retain_count(r), 0);
  assert_int_equal(mqtt_retain_bytes(r), 0);
  mqtt_retain_msg bad = rm("s/+", "x");
  assert_int_equal(mqtt_retain_set(r, &bad), LOOM_EINVAL);
  mqtt_retain_free(r);
}

static void test_retain_payload_copied(void **st) {
  (void)st;
  mqtt_retain *r;
  assert_int_equal(mqtt_retain_new(0, 0, &r), 0);
  char topic[8] = "t", payload[8] = "abc";
  uint8_t props[2] = {0x01, 0x01};
  mqtt_retain_msg a = {topic, 1, (uint8_t *)payload, 3, 2, props, 2};
  assert_int_equal(mqtt_retain_set(r, &a), 0);
  topic[0] = 'u';
  payload[0] = 'X';
  props[1] = 0;
  seen s = {0};
  assert_int_equal(mqtt_retain_match(r, S("t"), collect, &s), 0);
  assert_int_equal(s.n, 1);
  mqtt_retain_free(r);
}

static int check_copy(void *ud, const mqtt_retain_msg *msg) {
  (void)ud;
  assert_int_equal(msg->payload_len, 3);
  assert_memory_equal(msg->payload, "abc", 3);
  assert_int_equal(msg->props_len, 2);
  assert_int_equal(msg->props[1], 1);
  assert_int_equal(msg->qos, 2);
  return 0;
}

static void test_retain_payload_contents(void **st) {
  (void)st;
  mqtt_retain *r;
  assert_int_equal(mqtt_retain_new(0, 0, &r), 0);
  char payload[8] = "abc";
  uint8_t props[2] = {0x01, 0x01};
  mqtt_retain_msg a = {"t", 1, (uint8_t *)payload, 3, 2, props, 2};
  assert_int_equal(mqtt_retain_set(r, &a), 0);
  payload[0] = 'X';
  props[1] = 0;
  assert_int_equal(mqtt_retain_match(r, S("#"), check_copy, NULL), 0);
  mqtt_retain_free(r);
}

static void test_retain_bounds(void **st) {
  (void)st;
  mqtt_retain *r;
  assert_int_equal(mqtt_retain_new(2, 20, &r), 0);
  mqtt_retain_msg a = rm("a", "12345"), b = rm("b", "12345"),
                  c = rm("c", "1");
  assert_int_equal(mqtt_retain_set(r, &a), 0);
  assert_int_equal(mqtt_retain_set(r, &b), 0);
  assert_int_equal(mqtt_retain_set(r, &c), LOOM_ERANGE); /* count */
  mqtt_retain_msg big = rm("a", "123456789012345");
  assert_int_equal(mqtt_retain_set(r, &big), LOOM_ERANGE); /* bytes */
  seen s = {0};
  assert_int_equal(mqtt_retain_match(r, S("a"), collect, &s), 0);
  assert_int_equal(s.n, 1); /* old message kept */
  mqtt_retain_msg fits = rm("a", "1234567890123");
  assert_int_equal(mqtt_retain_set(r, &fits), 0);
  assert_int_equal(mqtt_retain_bytes(r), 20);
  mqtt_retain_free(r);
}

static void test_retain_filtering(void **st) {
  (void)st;
  mqtt_retain *r;
  assert_int_equal(mqtt_retain_new(0, 0, &r), 0);
  const char *ts[] = {"sport/tennis/player1", "sport/tennis/player2",
                      "sport/golf", "sport", "$SYS/uptime", "/finance"};
  for (size_t i = 0; i < 6; i++) {
    mqtt_retain_msg x = rm(ts[i], "v");
    assert_int_equal(mqtt_retain_set(r, &x), 0);
  }
  seen s = {0};
  assert_int_equal(mqtt_retain_match(r, S("sport/#"), collect, &s), 0);
  assert_int_equal(s.n, 4);
  memset(&s, 0, sizeof s);
  assert_int_equal(mqtt_retain_match(r, S("sport/tennis/+"), collect, &s), 0);
  assert_int_equal(s.n, 2);
  assert_true(has(&s, "sport/tennis/player2"));
  memset(&s, 0, sizeof s);
  assert_int_equal(mqtt_retain_match(r, S("#"), collect, &s), 0);
  assert_int_equal(s.n, 5);
  assert_false(has(&s, "$SYS/uptime"));
  memset(&s, 0, sizeof s);
  assert_int_equal(mqtt_retain_match(r, S("+/+"), collect, &s), 0);
  assert_int_equal(s.n, 2);
  assert_true(has(&s, "/finance"));
  assert_int_equal(mqtt_retain_match(r, S("a/#/b"), collect, &s), LOOM_EINVAL);
  mqtt_retain_free(r);
}

static void test_retain_alloc_failure_keeps_old(void **st) {
  (void)st;
  mqtt_retain *r;
  assert_int_equal(mqtt_retain_new(0, 0, &r), 0);
  mqtt_retain_msg a = rm("t", "old"), a2 = rm("t", "newer"), b = rm("u", "x");
  assert_int_equal(mqtt_retain_set(r, &a), 0);
  loom_mem_fail_after(0);
  int rc1 = mqtt_retain_set(r, &a2), rc2 = mqtt_retain_set(r, &b);
  loom_mem_fail_after(-1);
  assert_int_equal(rc1, LOOM_ENOMEM);
  assert_int_equal(rc2, LOOM_ENOMEM);
  assert_int_equal(mqtt_retain_count(r), 1);
  assert_int_equal(mqtt_retain_bytes(r), 4);
  mqtt_retain_free(r);
}

static int stop_at_first(void *ud, const mqtt_retain_msg *msg) {
  (void)msg;
  (*(int *)ud)++;
  return 42;
}

static void test_retain_many_and_stop(void **st) {
  (void)st;
  mqtt_retain *r;
  assert_int_equal(mqtt_retain_new(0, 0, &r), 0);
  char t[32];
  for (int i = 0; i < 1000; i++) {
    snprintf(t, sizeof t, "d/%d", i);
    mqtt_retain_msg x = rm(t, "v");
    assert_int_equal(mqtt_retain_set(r, &x), 0);
  }
  for (int i = 0; i < 1000; i += 2) {
    snprintf(t, sizeof t, "d/%d", i);
    mqtt_retain_msg x = rm(t, "");
    assert_int_equal(mqtt_retain_set(r, &x), 0);
  }
  assert_int_equal(mqtt_retain_count(r), 500);
  for (int i = 0; i < 1000; i++) {
    snprintf(t, sizeof t, "d/%d", i);
    seen s = {0};
    assert_int_equal(mqtt_retain_match(r, t, strlen(t), collect, &s), 0);
    assert_int_equal(s.n, (size_t)(i % 2));
  }
  int calls = 0;
  assert_int_equal(mqtt_retain_match(r, S("d/+"), stop_at_first, &calls), 42);
  assert_int_equal(calls, 1);
  mqtt_retain_free(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_filter_hash_must_be_last),
      cmocka_unit_test(test_filter_plus_whole_level),
      cmocka_unit_test(test_topic_empty_rejected),
      cmocka_unit_test(test_name_no_wildcards),
      cmocka_unit_test(test_topic_max_length),
      cmocka_unit_test(test_topic_utf8),
      cmocka_unit_test(test_share_parse),
      cmocka_unit_test(test_match_multilevel_examples),
      cmocka_unit_test(test_match_single_level_examples),
      cmocka_unit_test(test_match_dollar_topics),
      cmocka_unit_test(test_match_case_and_spaces),
      cmocka_unit_test(test_subtree_add_existed),
      cmocka_unit_test(test_subtree_add_rejects_invalid),
      cmocka_unit_test(test_subtree_overlapping_merge),
      cmocka_unit_test(test_subtree_no_local),
      cmocka_unit_test(test_subtree_dollar_not_matched_by_root_wildcards),
      cmocka_unit_test(test_subtree_shared_round_robin),
      cmocka_unit_test(test_subtree_remove_cleans_nodes),
      cmocka_unit_test(test_subtree_remove_all),
      cmocka_unit_test(test_subtree_max_subs),
      cmocka_unit_test(test_subtree_alloc_failure_leaves_tree_unchanged),
      cmocka_unit_test(test_subtree_many_siblings_remove),
      cmocka_unit_test(test_subtree_many_subscribers_one_filter),
      cmocka_unit_test(test_subtree_match_alloc_failure),
      cmocka_unit_test(test_subtree_random_vs_bruteforce),
      cmocka_unit_test(test_retain_set_replace_delete),
      cmocka_unit_test(test_retain_payload_copied),
      cmocka_unit_test(test_retain_payload_contents),
      cmocka_unit_test(test_retain_bounds),
      cmocka_unit_test(test_retain_filtering),
      cmocka_unit_test(test_retain_many_and_stop),
      cmocka_unit_test(test_retain_alloc_failure_keeps_old),
      cmocka_unit_test(test_retain_random_vs_bruteforce),
      cmocka_unit_test(test_retain_deep_topics),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
