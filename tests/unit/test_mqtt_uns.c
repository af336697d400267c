/* SPDX-License-Identifier: Apache-2.0
 * Tests for the unified-namespace mapping rules (mqtt/uns): pattern levels
 * and captures, MQTT's '#' and '$' rules, templates and their compile-time
 * checks, plain and JSON payload forms, member paths and timestamps,
 * priorities, disabled rules, errors that name the rule, and allocation
 * failures.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/err.h"
#include "core/mem.h"
#include "mqtt/uns.h"

#define NOW_NS INT64_C(1700000000123000000)

/* Compile a JSON array text; fails the test on a parse error. */
static int compile(const char *json, uns_rules **out, char *err) {
  json_error_t je;
  json_t *a = json_loads(json, 0, &je);
  assert_non_null(a);
  int rc = uns_rules_compile(a, out, err, 256);
  json_decref(a);
  return rc;
}

static uns_rules *must(const char *json) {
  uns_rules *r = NULL;
  char err[256] = "";
  int rc = compile(json, &r, err);
  if (rc) fail_msg("compile: %s", err);
  return r;
}

static int apply(const uns_rules *r, const char *topic, const char *payload, uns_hit *h,
                 char *err) {
  return uns_rules_apply(r, topic, strlen(topic), (const uint8_t *)payload, strlen(payload),
                         NOW_NS, h, err, 256);
}

static const tbjson_kv *kv(const uns_hit *h, size_t i) { return &h->values.kvs[i]; }

#define LINE_RULE                                                                             \
  "[{\"name\":\"lines\",\"pattern\":\"plant/+line/+machine/+metric\","                       \
  "\"device\":\"{line}-{machine}\",\"key\":\"{metric}\"}]"

static void test_plain_number_with_captures(void **state) {
  (void)state;
  uns_rules *r = must(LINE_RULE);
  uns_hit h;
  char err[256];
  assert_int_equal(apply(r, "plant/l1/m7/temp", "21.5", &h, err), 1);
  assert_string_equal(h.device, "l1-m7");
  assert_string_equal(h.profile, "uns");
  assert_string_equal(h.rule, "lines");
  assert_int_equal(h.values.n_groups, 1);
  assert_int_equal(h.values.groups[0].ts_ns, NOW_NS);
  assert_int_equal(h.values.n_kvs, 1);
  assert_string_equal(kv(&h, 0)->key, "temp");
  assert_int_equal(kv(&h, 0)->type, TS_FLOAT);
  assert_true(kv(&h, 0)->v.f == 21.5);
  uns_hit_deinit(&h);
  uns_rules_free(r);
}

static void test_no_match_leaves_hit_untouched(void **state) {
  (void)state;
  uns_rules *r = must(LINE_RULE);
  uns_hit h;
  memset(&h, 0xab, sizeof h);
  char err[256];
  assert_int_equal(apply(r, "plant/l1/m7", "1", &h, err), 0);         /* too few levels */
  assert_int_equal(apply(r, "plant/l1/m7/temp/x", "1", &h, err), 0);  /* too many */
  assert_int_equal(apply(r, "factory/l1/m7/temp", "1", &h, err), 0); /* literal differs */
  assert_int_equal(apply(r, "plan/l1/m7/temp", "1", &h, err), 0);    /* literal prefix */
  assert_int_equal(((unsigned char *)&h)[0], 0xab);
  assert_int_equal(apply(NULL, "plant/l1/m7/temp", "1", &h, err), 0);
  uns_rules_free(r);
}

static void test_plain_bool_and_string(void **state) {
  (void)state;
  uns_rules *r = must(LINE_RULE);
  uns_hit h;
  char err[256];
  assert_int_equal(apply(r, "plant/l1/m7/run", " true\n", &h, err), 1);
  assert_int_equal(kv(&h, 0)->type, TS_BOOL);
  assert_int_equal(kv(&h, 0)->v.b, 1);
  uns_hit_deinit(&h);
  assert_int_equal(apply(r, "plant/l1/m7/run", "false", &h, err), 1);
  assert_int_equal(kv(&h, 0)->type, TS_BOOL);
  assert_int_equal(kv(&h, 0)->v.b, 0);
  uns_hit_deinit(&h);
  assert_int_equal(apply(r, "plant/l1/m7/state", "RUNNING 运行", &h, err), 1);
  assert_int_equal(kv(&h, 0)->type, TS_STRING);
  assert_string_equal(kv(&h, 0)->v.s.p, "RUNNING 运行");
  assert_int_equal(kv(&h, 0)->v.s.len, strlen("RUNNING 运行"));
  uns_hit_deinit(&h);
  /* not numbers: left as text */
  const char *texts[] = {"nan", "inf", "0x10", "1.", "1e", "12 34", "--1"};
  for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
    assert_int_equal(apply(r, "plant/l1/m7/s", texts[i], &h, err), 1);
    if (!strcmp(texts[i], "1.")) { /* "1." is a number to strtod and to us */
      assert_int_equal(kv(&h, 0)->type, TS_FLOAT);
    } else {
      assert_int_equal(kv(&h, 0)->type, TS_STRING);
    }
    uns_hit_deinit(&h);
  }
  uns_rules_free(r);
}

static void test_plain_integer_is_float(void **state) {
  (void)state;
  uns_rules *r = must("[{\"name\":\"p\",\"pattern\":\"a/+k\",\"device\":\"d\",\"key\":\"{k}\","
                      "\"payload\":\"plain\"}]");
  uns_hit h;
  char err[256];
  assert_int_equal(apply(r, "a/n", "-42", &h, err), 1);
  assert_int_equal(kv(&h, 0)->type, TS_FLOAT);
  assert_true(kv(&h, 0)->v.f == -42.0);
  uns_hit_deinit(&h);
  /* plain mode: a JSON-looking payload is text */
  assert_int_equal(apply(r, "a/n", "{\"v\":1}", &h, err), 1);
  assert_int_equal(kv(&h, 0)->type, TS_STRING);
  assert_string_equal(kv(&h, 0)->v.s.p, "{\"v\":1}");
  uns_hit_deinit(&h);
  uns_rules_free(r);
}

static void test_empty_and_invalid_utf8_payloads_fail(void **state) {
  (void)state;
  uns_rules *r = must(LINE_RULE);
  uns_hit h;
  char err[256] = "";
  assert_int_equal(apply(r, "plant/l1/m7/temp", "", &h, err), LOOM_EINVAL);
  assert_non_null(strstr(err, "rule \"lines\""));
  assert_non_null(strstr(err, "empty payload"));
  const uint8_t bad[] = {0xff, 0xfe, 'x'};
  assert_int_equal(uns_rules_apply(r, "plant/l1/m7/temp", 16, bad, sizeof bad, NOW_NS, &h, err,
                                   sizeof err),
                   LOOM_EINVAL);
  assert_non_null(strstr(err, "UTF-8"));
  uns_rules_free(r);
}

static void test_json_object_every_member(void **state) {
  (void)state;
  uns_rules *r = must("[{\"name\":\"obj\",\"pattern\":\"site/+dev/data\",\"device\":\"{dev}\","
                      "\"profile\":\"machines\"}]");
  uns_hit h;
  char err[256];
  assert_int_equal(apply(r, "site/p9/data", "{\"temp\":21,\"on\":true,\"mode\":\"auto\"}", &h, err),
                   1);
  assert_string_equal(h.device, "p9");
  assert_string_equal(h.profile, "machines");
  assert_int_equal(h.values.n_kvs, 3);
  assert_string_equal(kv(&h, 0)->key, "temp");
  assert_int_equal(kv(&h, 0)->type, TS_FLOAT);
  assert_true(kv(&h, 0)->v.f == 21.0);
  assert_int_equal(kv(&h, 1)->type, TS_BOOL);
  assert_int_equal(kv(&h, 2)->type, TS_STRING);
  assert_string_equal(kv(&h, 2)->v.s.p, "auto");
  uns_hit_deinit(&h);
  uns_rules_free(r);
}

/* A flat object (read without jansson) and the same members after a nested
 * one (read by jansson) give the same kvs; the flat one keeps the numbers'
 * text for the line protocol. */
static void test_json_flat_object_same_as_general(void **state) {
  (void)state;
  uns_rules *r = must("[{\"name\":\"obj\",\"pattern\":\"site/+dev/data\",\"device\":\"{dev}\"}]");
  uns_hit a, b;
  char err[256];
  assert_int_equal(apply(r, "site/p9/data", "{\"t\":21.50,\"s\":\"x\",\"on\":false,\"ts\":7}", &a, err), 1);
  assert_int_equal(apply(r, "site/p9/data", "{\"t\":21.50,\"s\":\"x\",\"on\":false,\"ts\":7,\"n\":{}}", &b, err), 1);
  assert_non_null(a.values.nums);
  assert_null(b.values.nums);
  assert_int_equal(a.values.n_kvs, 4);
  assert_int_equal(b.values.n_kvs, 5);
  for (size_t i = 0; i < 4; i++) {
    assert_string_equal(kv(&a, i)->key, kv(&b, i)->key);
    assert_int_equal(kv(&a, i)->type, kv(&b, i)->type);
  }
  assert_true(kv(&a, 0)->v.f == 21.5 && kv(&b, 0)->v.f == 21.5);
  assert_string_equal(kv(&a, 1)->v.s.p, "x");
  assert_int_equal(kv(&a, 2)->v.b, 0);
  assert_true(kv(&a, 3)->v.f == 7.0);
  assert_int_equal(a.values.groups[0].ts_ns, NOW_NS);
  loom_buf lp;
  loom_buf_init(&lp);
  assert_int_equal(tbjson_format_lp(&a.values, a.profile, "device", a.device, &lp), 0);
  const char *want = "uns,device=p9 t=21.50,s=\"x\",on=false,ts=7 1700000000123000000\n";
  assert_int_equal(lp.len, strlen(want));
  assert_memory_equal(lp.data, want, lp.len);
  loom_buf_deinit(&lp);
  uns_hit_deinit(&a);
  uns_hit_deinit(&b);
  uns_rules_free(r);
}

static void test_json_thingsboard_forms(void **state) {
  (void)state;
  uns_rules *r = must("[{\"name\":\"tb\",\"pattern\":\"tb/+d\",\"device\":\"{d}\"}]");
  uns_hit h;
  char err[256];
  assert_int_equal(
      apply(r, "tb/x", "{\"ts\":1700000000000,\"values\":{\"a\":1,\"b\":2}}", &h, err), 1);
  assert_int_equal(h.values.n_groups, 1);
  assert_int_equal(h.values.groups[0].ts_ns, INT64_C(1700000000000000000));
  assert_int_equal(h.values.groups[0].n, 2);
  uns_hit_deinit(&h);
  assert_int_equal(apply(r, "tb/x", "[{\"ts\":1000,\"values\":{\"a\":1}},{\"b\":false}]", &h, err),
                   1);
  assert_int_equal(h.values.n_groups, 2);
  assert_int_equal(h.values.groups[0].ts_ns, INT64_C(1000000000));
  assert_int_equal(h.values.groups[1].ts_ns, NOW_NS);
  assert_string_equal(kv(&h, 1)->key, "b");
  uns_hit_deinit(&h);
  uns_rules_free(r);
}

static void test_json_value_path_and_ts(void **state) {
  (void)state;
  uns_rules *r = must("[{\"name\":\"v\",\"pattern\":\"m/+id/+metric\",\"device\":\"m{id}\","
                      "\"key\":\"{metric}\",\"payload\":\"json\",\"value\":\"data.v\","
                      "\"ts\":\"data.t\"}]");
  uns_hit h;
  char err[256];
  assert_int_equal(apply(r, "m/3/rpm", "{\"data\":{\"v\":1500,\"t\":1700000001000}}", &h, err), 1);
  assert_string_equal(h.device, "m3");
  assert_int_equal(h.values.n_kvs, 1);
  assert_string_equal(kv(&h, 0)->key, "rpm");
  assert_true(kv(&h, 0)->v.f == 1500.0);
  assert_int_equal(h.values.groups[0].ts_ns, INT64_C(1700000001000000000));
  uns_hit_deinit(&h);
  /* RFC 3339 time */
  assert_int_equal(
      apply(r, "m/3/rpm", "{\"data\":{\"v\":1,\"t\":\"2023-11-14T22:13:20.5Z\"}}", &h, err), 1);
  assert_int_equal(h.values.groups[0].ts_ns, INT64_C(1700000000500000000));
  uns_hit_deinit(&h);
  /* missing ts member: now */
  assert_int_equal(apply(r, "m/3/rpm", "{\"data\":{\"v\":2}}", &h, err), 1);
  assert_int_equal(h.values.groups[0].ts_ns, NOW_NS);
  uns_hit_deinit(&h);
  /* missing value member: an error naming the path */
  assert_int_equal(apply(r, "m/3/rpm", "{\"data\":{\"x\":2}}", &h, err), LOOM_EINVAL);
  assert_non_null(strstr(err, "data.v"));
  /* a bad time */
  assert_int_equal(apply(r, "m/3/rpm", "{\"data\":{\"v\":2,\"t\":\"yesterday\"}}", &h, err),
                   LOOM_EINVAL);
  assert_non_null(strstr(err, "ts"));
  assert_int_equal(apply(r, "m/3/rpm", "{\"data\":{\"v\":2,\"t\":1.5}}", &h, err), LOOM_EINVAL);
  /* json mode: not JSON */
  assert_int_equal(apply(r, "m/3/rpm", "21.5x", &h, err), LOOM_EINVAL);
  assert_non_null(strstr(err, "invalid JSON"));
  uns_rules_free(r);
}

static void test_json_value_array_index_and_object(void **state) {
  (void)state;
  uns_rules *r = must("[{\"name\":\"a\",\"pattern\":\"x\",\"device\":\"d\",\"key\":\"k\","
                      "\"value\":\"arr.1\"}]");
  uns_hit h;
  char err[256];
  assert_int_equal(apply(r, "x", "{\"arr\":[1,{\"z\":[true]}]}", &h, err), 1);
  assert_int_equal(kv(&h, 0)->type, TS_STRING);
  assert_string_equal(kv(&h, 0)->v.s.p, "{\"z\":[true]}");
  uns_hit_deinit(&h);
  assert_int_equal(apply(r, "x", "{\"arr\":[1]}", &h, err), LOOM_EINVAL);
  assert_int_equal(apply(r, "x", "{\"arr\":[1,null]}", &h, err), LOOM_EINVAL);
  assert_non_null(strstr(err, "null"));
  uns_rules_free(r);
}

static void test_ts_member_not_stored_as_key(void **state) {
  (void)state;
  uns_rules *r = must("[{\"name\":\"t\",\"pattern\":\"x\",\"device\":\"d\",\"ts\":\"time\"}]");
  uns_hit h;
  char err[256];
  assert_int_equal(apply(r, "x", "{\"time\":\"2023-11-14T22:13:20Z\",\"p\":3}", &h, err), 1);
  assert_int_equal(h.values.n_kvs, 1);
  assert_string_equal(kv(&h, 0)->key, "p");
  assert_int_equal(h.values.groups[0].ts_ns, INT64_C(1700000000000000000));
  uns_hit_deinit(&h);
  uns_rules_free(r);
}

static void test_auto_json_scalar_and_fallback(void **state) {
  (void)state;
  uns_rules *r = must("[{\"name\":\"s\",\"pattern\":\"q/+k\",\"device\":\"d\",\"key\":\"{k}\"}]");
  uns_hit h;
  char err[256];
  assert_int_equal(apply(r, "q/s", "\"quoted\"", &h, err), 1); /* JSON string */
  assert_string_equal(kv(&h, 0)->v.s.p, "quoted");
  uns_hit_deinit(&h);
  assert_int_equal(apply(r, "q/s", "not json", &h, err), 1); /* plain text */
  assert_string_equal(kv(&h, 0)->v.s.p, "not json");
  uns_hit_deinit(&h);
  assert_int_equal(apply(r, "q/s", "null", &h, err), LOOM_EINVAL);
  assert_int_equal(apply(r, "q/s", "{}", &h, err), LOOM_EINVAL);
  assert_non_null(strstr(err, "no values"));
  uns_rules_free(r);
}

static void test_hash_captures_rest(void **state) {
  (void)state;
  uns_rules *r = must("[{\"name\":\"h\",\"pattern\":\"ent/#path\",\"device\":\"{path}\"}]");
  uns_hit h;
  char err[256];
  assert_int_equal(apply(r, "ent/site/area/cell", "1", &h, err), 1);
  assert_string_equal(h.device, "site/area/cell");
  uns_hit_deinit(&h);
  /* '#' also matches the parent level: the capture is empty, the device invalid */
  assert_int_equal(apply(r, "ent", "1", &h, err), LOOM_EINVAL);
  assert_non_null(strstr(err, "device"));
  assert_int_equal(apply(r, "other", "1", &h, err), 0);
  uns_rules_free(r);
}

static void test_dollar_topics_skip_leading_wildcards(void **state) {
  (void)state;
  uns_rules *r = must("[{\"name\":\"all\",\"pattern\":\"#\",\"device\":\"d\"},"
                      "{\"name\":\"sys\",\"pattern\":\"$SYS/+x\",\"device\":\"{x}\",\"priority\":5}]");
  uns_hit h;
  char err[256];
  assert_int_equal(apply(r, "$SYS/load", "1", &h, err), 1);
  assert_string_equal(h.rule, "sys");
  uns_hit_deinit(&h);
  assert_int_equal(apply(r, "$other/x", "1", &h, err), 0);
  assert_int_equal(apply(r, "plain/topic", "1", &h, err), 1);
  assert_string_equal(h.rule, "all");
  uns_hit_deinit(&h);
  uns_rules_free(r);
}

static void test_priority_then_name_order(void **state) {
  (void)state;
  uns_rules *r = must("[{\"name\":\"zz-generic\",\"pattern\":\"p/+a/+b\",\"device\":\"g\"},"
                      "{\"name\":\"specific\",\"pattern\":\"p/x/+b\",\"device\":\"s\","
                      "\"priority\":-1},"
                      "{\"name\":\"aa-generic\",\"pattern\":\"p/+a/+b\",\"device\":\"a\"}]");
  uns_hit h;
  char err[256];
  assert_int_equal(apply(r, "p/x/y", "1", &h, err), 1);
  assert_string_equal(h.device, "s");
  uns_hit_deinit(&h);
  assert_int_equal(apply(r, "p/q/y", "1", &h, err), 1);
  assert_string_equal(h.device, "a"); /* equal priority: by name */
  uns_hit_deinit(&h);
  assert_int_equal(uns_rules_count(r), 3);
  uns_rules_free(r);
}

/* Rules starting with a literal and with a wildcard interleave by priority. */
static void test_literal_and_wildcard_first_levels_interleave(void **state) {
  (void)state;
  uns_rules *r = must("[{\"name\":\"w1\",\"pattern\":\"+a/x\",\"device\":\"w1\",\"priority\":1},"
                      "{\"name\":\"l2\",\"pattern\":\"p/+\",\"device\":\"l2\",\"priority\":2},"
                      "{\"name\":\"w3\",\"pattern\":\"#\",\"device\":\"w3\",\"priority\":3},"
                      "{\"name\":\"l0\",\"pattern\":\"p/x/y\",\"device\":\"l0\",\"priority\":0},"
                      "{\"name\":\"q4\",\"pattern\":\"q/+\",\"device\":\"q4\",\"priority\":4}]");
  static const struct {
    const char *topic, *rule;
  } cases[] = {
      {"p/x/y", "l0"}, /* literal bucket first */
      {"p/x", "w1"},   /* a wildcard rule of higher priority beats the bucket */
      {"p/z", "l2"},   /* bucket rule before the lower-priority wildcard */
      {"q/z", "w3"},   /* q4 is behind '#' */
      {"r", "w3"},     /* no bucket: wildcards only */
      {"", "w3"},      /* the empty topic has one empty level */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    uns_hit h;
    char err[256];
    if (apply(r, cases[i].topic, "1", &h, err) != 1) fail_msg("%s: no match: %s", cases[i].topic, err);
    if (strcmp(h.rule, cases[i].rule))
      fail_msg("%s: matched %s, want %s", cases[i].topic, h.rule, cases[i].rule);
    uns_hit_deinit(&h);
  }
  uns_rules_free(r);
}

static void test_first_match_wins_even_on_payload_error(void **state) {
  (void)state;
  uns_rules *r = must("[{\"name\":\"first\",\"pattern\":\"a/+\",\"device\":\"d\",\"payload\":"
                      "\"json\",\"priority\":1},"
                      "{\"name\":\"second\",\"pattern\":\"a/b\",\"device\":\"d\",\"priority\":2}]");
  uns_hit h;
  char err[256];
  assert_int_equal(apply(r, "a/b", "text", &h, err), LOOM_EINVAL);
  assert_non_null(strstr(err, "rule \"first\""));
  uns_rules_free(r);
}

static void test_disabled_rules_skipped_but_checked(void **state) {
  (void)state;
  uns_rules *r = must("[{\"name\":\"off\",\"pattern\":\"a\",\"device\":\"d\",\"enabled\":false}]");
  uns_hit h;
  char err[256];
  assert_int_equal(uns_rules_count(r), 0);
  assert_int_equal(apply(r, "a", "1", &h, err), 0);
  uns_rules_free(r);
  r = NULL;
  assert_int_equal(compile("[{\"name\":\"off\",\"pattern\":\"a\",\"device\":\"{x}\","
                           "\"enabled\":false}]",
                           &r, err),
                   LOOM_EINVAL);
  assert_null(r);
}

static void test_templates_literal_braces(void **state) {
  (void)state;
  uns_rules *r = must("[{\"name\":\"b\",\"pattern\":\"+a\",\"device\":\"{{{a}}}\","
                      "\"profile\":\"p_{a}\"}]");
  uns_hit h;
  char err[256];
  assert_int_equal(apply(r, "x1", "1", &h, err), 1);
  assert_string_equal(h.device, "{x1}");
  assert_string_equal(h.profile, "p_x1");
  uns_hit_deinit(&h);
  uns_rules_free(r);
}

/* Each bad rule and a piece of the message it must give. */
static void test_compile_errors_name_rule_and_field(void **state) {
  (void)state;
  static const struct {
    const char *json, *msg;
  } cases[] = {
      {"{}", "rules: expected an array"},
      {"[1]", "rule [0]: must be an object"},
      {"[{\"pattern\":\"a\",\"device\":\"d\"}]", "rule [0]: name"},
      {"[{\"name\":\"r\",\"device\":\"d\"}]", "rule \"r\": pattern: required"},
      {"[{\"name\":\"r\",\"pattern\":\"a\"}]", "rule \"r\": device: required"},
      {"[{\"name\":\"r\",\"pattern\":\"\",\"device\":\"d\"}]", "pattern: must not be empty"},
      {"[{\"name\":\"r\",\"pattern\":\"a/#/b\",\"device\":\"d\"}]", "'#' must be the last"},
      {"[{\"name\":\"r\",\"pattern\":\"a+/b\",\"device\":\"d\"}]", "must begin a level"},
      {"[{\"name\":\"r\",\"pattern\":\"+a-b\",\"device\":\"d\"}]", "capture name"},
      {"[{\"name\":\"r\",\"pattern\":\"+a/+a\",\"device\":\"d\"}]", "{a} named twice"},
      {"[{\"name\":\"line-temps\",\"pattern\":\"+line\",\"device\":\"{cell}\"}]",
       "rule \"line-temps\": device: {cell} is not a capture of the pattern"},
      {"[{\"name\":\"r\",\"pattern\":\"+a\",\"device\":\"d\",\"key\":\"{b}\"}]",
       "key: {b} is not a capture"},
      {"[{\"name\":\"r\",\"pattern\":\"+a\",\"device\":\"d\",\"profile\":\"{a\"}]",
       "profile: unterminated"},
      {"[{\"name\":\"r\",\"pattern\":\"+a\",\"device\":\"d}\"}]", "device: unmatched"},
      {"[{\"name\":\"r\",\"pattern\":\"+a\",\"device\":\"a\\\\b\"}]", "device: contains a backslash"},
      {"[{\"name\":\"r\",\"pattern\":\"a\",\"device\":\"d\",\"key\":\"time\"}]", "key: must be"},
      {"[{\"name\":\"r\",\"pattern\":\"a\",\"device\":\"d\",\"profile\":\"#x\"}]", "profile: must"},
      {"[{\"name\":\"r\",\"pattern\":\"a\",\"device\":\"d\",\"payload\":\"xml\"}]", "payload: must"},
      {"[{\"name\":\"r\",\"pattern\":\"+a\",\"device\":\"#{a}\"}]", "device: must not start"},
      {"[{\"name\":\"r\",\"pattern\":\"a\",\"device\":\"d\",\"value\":\"a..b\"}]", "value: empty member"},
      {"[{\"name\":\"r\",\"pattern\":\"a\",\"device\":\"d\",\"payload\":\"plain\",\"value\":\"v\"}]",
       "need a JSON payload"},
      {"[{\"name\":\"r\",\"pattern\":\"a\",\"device\":\"d\",\"priority\":\"1\"}]", "priority"},
      {"[{\"name\":\"r\",\"pattern\":\"a\",\"device\":\"d\",\"enabled\":1}]", "enabled"},
      {"[{\"name\":\"r\",\"pattern\":\"a\",\"device\":\"d\",\"key\":5}]", "key: expected a string"},
      {"[{\"name\":\"ok\",\"pattern\":\"a\",\"device\":\"d\"},{\"name\":\"r2\",\"pattern\":\"a\","
       "\"device\":\"{z}\"}]",
       "rule \"r2\""},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    uns_rules *r = NULL;
    char err[256] = "";
    json_error_t je;
    json_t *a = json_loads(cases[i].json, 0, &je);
    assert_non_null(a);
    int rc = uns_rules_compile(a, &r, err, sizeof err);
    json_decref(a);
    if (rc != LOOM_EINVAL || !strstr(err, cases[i].msg))
      fail_msg("case %zu (%s): rc %d, err \"%s\", want \"%s\"", i, cases[i].json, rc, err,
               cases[i].msg);
    assert_null(r);
  }
}

static void test_pattern_limits(void **state) {
  (void)state;
  char pat[UNS_LEVELS_MAX * 2 + 8] = "";
  for (int i = 0; i <= UNS_LEVELS_MAX; i++) strcat(pat, i ? "/a" : "a");
  char json[512];
  snprintf(json, sizeof json, "[{\"name\":\"r\",\"pattern\":\"%s\",\"device\":\"d\"}]", pat);
  uns_rules *r = NULL;
  char err[256];
  assert_int_equal(compile(json, &r, err), LOOM_EINVAL);
  assert_non_null(strstr(err, "levels"));
  /* exactly the maximum is fine and matches */
  pat[strlen(pat) - 2] = 0;
  snprintf(json, sizeof json, "[{\"name\":\"r\",\"pattern\":\"%s\",\"device\":\"d\"}]", pat);
  r = must(json);
  uns_hit h;
  assert_int_equal(apply(r, pat, "1", &h, err), 1);
  uns_hit_deinit(&h);
  uns_rules_free(r);
}

static void test_expanded_names_checked(void **state) {
  (void)state;
  uns_rules *r = must("[{\"name\":\"r\",\"pattern\":\"+d/+k\",\"device\":\"{d}\",\"key\":\"{k}\","
                      "\"profile\":\"{d}\"}]");
  uns_hit h;
  char err[256];
  assert_int_equal(apply(r, "dev/time", "1", &h, err), LOOM_EINVAL); /* reserved key */
  assert_non_null(strstr(err, "time"));
  assert_int_equal(apply(r, "dev/", "1", &h, err), LOOM_EINVAL); /* empty key */
  assert_int_equal(apply(r, "/k", "1", &h, err), LOOM_EINVAL);   /* empty device */
  assert_int_equal(apply(r, "a\\b/k", "1", &h, err), LOOM_EINVAL);
  assert_int_equal(apply(r, "#x/k", "1", &h, err), LOOM_EINVAL); /* device '#...' */
  assert_non_null(strstr(err, "device"));
  char longdev[400];
  memset(longdev, 'x', 300);
  strcpy(longdev + 300, "/k");
  assert_int_equal(apply(r, longdev, "1", &h, err), LOOM_EINVAL);
  /* object member keys are checked too */
  uns_rules *r2 = must("[{\"name\":\"o\",\"pattern\":\"o\",\"device\":\"d\"}]");
  assert_int_equal(apply(r2, "o", "{\"a\\u0001\":1}", &h, err), LOOM_EINVAL);
  assert_non_null(strstr(err, "control"));
  uns_rules_free(r2);
  uns_rules_free(r);
}

static void test_registry_fields_ignored(void **state) {
  (void)state;
  uns_rules *r = must("[{\"id\":\"x\",\"tenant_id\":\"t\",\"created_ms\":1,\"name\":\"r\","
                      "\"pattern\":\"a\",\"device\":\"d\",\"value\":null,\"ts\":null,"
                      "\"profile\":null,\"key\":null,\"payload\":\"auto\",\"enabled\":true,"
                      "\"priority\":3}]");
  assert_int_equal(uns_rules_count(r), 1);
  uns_rules_free(r);
}

static void test_references_keep_rules_alive(void **state) {
  (void)state;
  uns_rules *r = must(LINE_RULE);
  const uns_rules *extra = uns_rules_ref(r);
  assert_ptr_equal(extra, r);
  uns_rules_free(r); /* the compile reference */
  uns_hit h;
  char err[256];
  assert_int_equal(apply(extra, "plant/a/b/c", "1", &h, err), 1); /* still alive (ASan checks) */
  assert_string_equal(h.rule, "lines");
  uns_hit_deinit(&h);
  uns_rules_free(extra);
  assert_null(uns_rules_ref(NULL));
  uns_rules_free(NULL);
}

static void test_alloc_failures(void **state) {
  (void)state;
  json_error_t je;
  json_t *a = json_loads("[{\"name\":\"v\",\"pattern\":\"m/+id/+metric\",\"device\":\"m{id}\","
                         "\"key\":\"{metric}\",\"value\":\"data.v\",\"ts\":\"data.t\"},"
                         "{\"name\":\"p\",\"pattern\":\"p/+k\",\"device\":\"d\",\"key\":\"{k}\"}]",
                         0, &je);
  assert_non_null(a);
  bool compiled_ok = false;
  for (long n = 0; n < 200 && !compiled_ok; n++) {
    uns_rules *r = NULL;
    loom_mem_fail_after(n);
    int rc = uns_rules_compile(a, &r, NULL, 0);
    loom_mem_fail_after(-1);
    if (rc == 0) {
      compiled_ok = true;
      uns_rules_free(r);
    } else {
      assert_int_equal(rc, LOOM_ENOMEM);
      assert_null(r);
    }
  }
  assert_true(compiled_ok);
  uns_rules *r = NULL;
  assert_int_equal(uns_rules_compile(a, &r, NULL, 0), 0);
  const char *topics[] = {"m/1/rpm", "p/text"};
  const char *payloads[] = {"{\"data\":{\"v\":[1,2],\"t\":5}}", "some text"};
  for (size_t t = 0; t < 2; t++) {
    bool ok = false;
    for (long n = 0; n < 200 && !ok; n++) {
      uns_hit h;
      loom_mem_fail_after(n);
      int rc = uns_rules_apply(r, topics[t], strlen(topics[t]), (const uint8_t *)payloads[t],
                               strlen(payloads[t]), NOW_NS, &h, NULL, 0);
      loom_mem_fail_after(-1);
      if (rc == 1) {
        ok = true;
        uns_hit_deinit(&h);
      } else {
        assert_int_equal(rc, LOOM_ENOMEM);
      }
    }
    assert_true(ok);
  }
  uns_rules_free(r);
  json_decref(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_plain_number_with_captures),
      cmocka_unit_test(test_no_match_leaves_hit_untouched),
      cmocka_unit_test(test_plain_bool_and_string),
      cmocka_unit_test(test_plain_integer_is_float),
      cmocka_unit_test(test_empty_and_invalid_utf8_payloads_fail),
      cmocka_unit_test(test_json_object_every_member),
      cmocka_unit_test(test_json_flat_object_same_as_general),
      cmocka_unit_test(test_json_thingsboard_forms),
      cmocka_unit_test(test_json_value_path_and_ts),
      cmocka_unit_test(test_json_value_array_index_and_object),
      cmocka_unit_test(test_ts_member_not_stored_as_key),
      cmocka_unit_test(test_auto_json_scalar_and_fallback),
      cmocka_unit_test(test_hash_captures_rest),
      cmocka_unit_test(test_dollar_topics_skip_leading_wildcards),
      cmocka_unit_test(test_priority_then_name_order),
      cmocka_unit_test(test_literal_and_wildcard_first_levels_interleave),
      cmocka_unit_test(test_first_match_wins_even_on_payload_error),
      cmocka_unit_test(test_disabled_rules_skipped_but_checked),
      cmocka_unit_test(test_templates_literal_braces),
      cmocka_unit_test(test_compile_errors_name_rule_and_field),
      cmocka_unit_test(test_pattern_limits),
      cmocka_unit_test(test_expanded_names_checked),
      cmocka_unit_test(test_registry_fields_ignored),
      cmocka_unit_test(test_references_keep_rules_alive),
      cmocka_unit_test(test_alloc_failures),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
