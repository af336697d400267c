/* SPDX-License-Identifier: Apache-2.0
 * Tests for the platform side of the unified-namespace rules
 * (api/mqtt_rules): loading a tenant's enabled rules from the registry
 * (kind mqtt_rule, tenant-scoped, rules that no longer compile skipped),
 * the per-tenant cache (cold miss answers LOOM_EAGAIN and loads on the
 * pool, references outlive reloads, invalidation reloads, free waits for
 * loads in flight) and the registry watch event on rule writes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "api/mqtt_rules.h"
#include "core/err.h"
#include "core/workpool.h"
#include "meta/meta.h"
#include "meta/schema.h"
#include "meta/watch.h"

typedef struct fx {
  char dir[64], path[128];
  meta_store *m;
  loom_workpool *pool;
  loom_api api;
  char ta[META_ID_LEN + 1], tb[META_ID_LEN + 1];
  char err[256];
  int changes; /* META_CHANGE_MQTT_RULES seen */
  char changed_tenant[META_ID_LEN + 1];
} fx;

static void mk(fx *f, meta_kind kind, const char *scope, json_t *in, char *id) {
  assert_non_null(in);
  json_t *out = NULL;
  int r = meta_create(f->m, kind, scope, in, NULL, &out, f->err, sizeof f->err);
  if (r) fail_msg("create %s: %d %s", meta_kind_name(kind), r, f->err);
  if (id) snprintf(id, META_ID_LEN + 1, "%s", json_string_value(json_object_get(out, "id")));
  json_decref(out);
  json_decref(in);
}

static void rule(fx *f, const char *tenant, const char *name, const char *pattern,
                 const char *device, bool enabled, char *id) {
  mk(f, META_MQTT_RULE, tenant,
     json_pack("{s:s,s:s,s:s,s:b}", "name", name, "pattern", pattern, "device", device, "enabled",
               enabled),
     id);
}

static void on_change(void *ud, const meta_change *c) {
  fx *f = ud;
  if (c->kind != META_CHANGE_MQTT_RULES) return;
  f->changes++;
  snprintf(f->changed_tenant, sizeof f->changed_tenant, "%s", c->tenant_id ? c->tenant_id : "");
}

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  snprintf(f->dir, sizeof f->dir, "/tmp/uns-rules-XXXXXX");
  if (!f || !mkdtemp(f->dir)) return -1;
  snprintf(f->path, sizeof f->path, "%s/meta.db", f->dir);
  if (meta_store_open(f->path, &f->m, f->err, sizeof f->err)) return -1;
  if (loom_workpool_new(2, &f->pool)) return -1;
  f->api.meta = f->m;
  f->api.pool = f->pool;
  meta_watch_set(f->m, on_change, f);
  *state = f;
  mk(f, META_TENANT, NULL, json_pack("{s:s,s:s}", "name", "A", "db_name", "a"), f->ta);
  mk(f, META_TENANT, NULL, json_pack("{s:s,s:s}", "name", "B", "db_name", "b"), f->tb);
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  loom_workpool_free(f->pool);
  meta_store_close(f->m);
  char p[160];
  static const char *const sfx[] = {"", "-wal", "-shm", "-journal"};
  for (size_t i = 0; i < 4; i++) {
    snprintf(p, sizeof p, "%s%s", f->path, sfx[i]);
    unlink(p);
  }
  rmdir(f->dir);
  free(f);
  return 0;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* Apply r to topic with payload "1": the rule name that matched, or NULL. */
static const char *which(const uns_rules *r, const char *topic, char *buf) {
  uns_hit h;
  int rc = uns_rules_apply(r, topic, strlen(topic), (const uint8_t *)"1", 1, 0, &h, NULL, 0);
  if (rc != 1) return NULL;
  snprintf(buf, 64, "%s", h.rule);
  uns_hit_deinit(&h);
  return buf;
}

/* Poll get until it stops answering LOOM_EAGAIN (2 s at most). */
static int get_wait(api_mqtt_rules *c, const char *tenant, const uns_rules **out) {
  for (int i = 0; i < 400; i++) {
    int rc = api_mqtt_rules_get(c, tenant, out);
    if (rc != LOOM_EAGAIN) return rc;
    sleep_ms(5);
  }
  return LOOM_EAGAIN;
}

static void test_load_takes_enabled_rules_of_the_tenant(void **state) {
  fx *f = *state;
  rule(f, f->ta, "on", "a/+x", "{x}", true, NULL);
  rule(f, f->ta, "off", "b/+x", "{x}", false, NULL);
  rule(f, f->tb, "other", "c/+x", "{x}", true, NULL);
  uns_rules *r = NULL;
  size_t skipped = 9;
  assert_int_equal(api_mqtt_rules_load(f->m, f->ta, &r, &skipped, f->err, sizeof f->err), 0);
  assert_int_equal(uns_rules_count(r), 1);
  assert_int_equal(skipped, 0);
  char buf[64];
  assert_string_equal(which(r, "a/1", buf), "on");
  assert_null(which(r, "b/1", buf));
  assert_null(which(r, "c/1", buf));
  uns_rules_free(r);
}

static void test_load_skips_rules_that_do_not_compile(void **state) {
  fx *f = *state;
  /* the store does not compile rules (the API does): a bad one can be there */
  rule(f, f->ta, "bad", "a/#/b", "{x}", true, NULL);
  rule(f, f->ta, "good", "g/+x", "{x}", true, NULL);
  uns_rules *r = NULL;
  size_t skipped = 0;
  assert_int_equal(api_mqtt_rules_load(f->m, f->ta, &r, &skipped, f->err, sizeof f->err), 0);
  assert_int_equal(skipped, 1);
  assert_int_equal(uns_rules_count(r), 1);
  uns_rules_free(r);
}

static void test_load_reads_every_page(void **state) {
  fx *f = *state;
  for (int i = 0; i < META_PAGE_MAX + 5; i++) {
    char name[32], pat[32];
    snprintf(name, sizeof name, "r%04d", i);
    snprintf(pat, sizeof pat, "p%d/+x", i);
    rule(f, f->ta, name, pat, "{x}", true, NULL);
  }
  uns_rules *r = NULL;
  assert_int_equal(api_mqtt_rules_load(f->m, f->ta, &r, NULL, f->err, sizeof f->err), 0);
  assert_int_equal(uns_rules_count(r), META_PAGE_MAX + 5);
  char buf[64];
  assert_string_equal(which(r, "p1004/z", buf), "r1004");
  uns_rules_free(r);
}

static void test_cache_cold_miss_loads_in_background(void **state) {
  fx *f = *state;
  rule(f, f->ta, "on", "a/+x", "{x}", true, NULL);
  api_mqtt_rules *c = NULL;
  assert_int_equal(api_mqtt_rules_new(&f->api, &c), 0);
  const uns_rules *r = NULL;
  assert_int_equal(api_mqtt_rules_get(c, f->ta, &r), LOOM_EAGAIN);
  assert_null(r);
  assert_int_equal(get_wait(c, f->ta, &r), 0);
  assert_int_equal(uns_rules_count(r), 1);
  api_mqtt_rules_release(r);
  /* a tenant without rules gets an empty set; a platform principal none */
  assert_int_equal(get_wait(c, f->tb, &r), 0);
  assert_int_equal(uns_rules_count(r), 0);
  api_mqtt_rules_release(r);
  assert_int_equal(api_mqtt_rules_get(c, "", &r), LOOM_EINVAL);
  api_mqtt_rules_free(c);
}

static void test_cache_invalidate_reloads_and_old_refs_stay_valid(void **state) {
  fx *f = *state;
  char id[META_ID_LEN + 1];
  rule(f, f->ta, "first", "a/+x", "{x}", true, id);
  api_mqtt_rules *c = NULL;
  assert_int_equal(api_mqtt_rules_new(&f->api, &c), 0);
  assert_int_equal(api_mqtt_rules_preload(c, f->ta), 0);
  const uns_rules *old = NULL;
  assert_int_equal(get_wait(c, f->ta, &old), 0);
  json_t *upd = json_pack("{s:s}", "pattern", "b/+x");
  assert_int_equal(meta_update(f->m, META_MQTT_RULE, f->ta, id, upd, NULL, NULL, f->err,
                               sizeof f->err),
                   0);
  json_decref(upd);
  api_mqtt_rules_invalidate(c, f->ta);
  char buf[64];
  const uns_rules *r = NULL;
  bool seen = false;
  for (int i = 0; i < 400 && !seen; i++) {
    assert_int_equal(api_mqtt_rules_get(c, f->ta, &r), 0); /* never a miss once loaded */
    seen = which(r, "b/1", buf) != NULL;
    api_mqtt_rules_release(r);
    if (!seen) sleep_ms(5);
  }
  assert_true(seen);
  /* the reference taken before the reload still holds the old set */
  assert_string_equal(which(old, "a/1", buf), "first");
  api_mqtt_rules_release(old);
  api_mqtt_rules_invalidate(c, NULL);  /* every tenant */
  api_mqtt_rules_invalidate(c, "nope"); /* unknown: nothing */
  api_mqtt_rules_free(c);               /* waits for the reload */
}

/* Without any invalidate call, the refresher notices changed stamps. */
static void test_cache_refresher_follows_the_registry(void **state) {
  fx *f = *state;
  char id[META_ID_LEN + 1];
  rule(f, f->ta, "first", "a/+x", "{x}", true, id);
  api_mqtt_rules *c = NULL;
  assert_int_equal(api_mqtt_rules_new(&f->api, &c), 0);
  const uns_rules *r = NULL;
  assert_int_equal(get_wait(c, f->ta, &r), 0);
  assert_int_equal(uns_rules_count(r), 1);
  api_mqtt_rules_release(r);
  rule(f, f->ta, "second", "b/+x", "{x}", true, NULL); /* a new rule */
  size_t n = 0;
  for (int i = 0; i < 60 && n != 2; i++) { /* 3 s: the poll is 1 s */
    sleep_ms(50);
    assert_int_equal(api_mqtt_rules_get(c, f->ta, &r), 0);
    n = uns_rules_count(r);
    api_mqtt_rules_release(r);
  }
  assert_int_equal(n, 2);
  /* every rule deleted: the tenant has no rows left for the stamp query */
  assert_int_equal(meta_delete(f->m, META_MQTT_RULE, f->ta, id, f->err, sizeof f->err), 0);
  json_t *page = NULL;
  assert_int_equal(meta_list(f->m, META_MQTT_RULE, f->ta, NULL, &page, f->err, sizeof f->err), 0);
  json_t *second = json_array_get(json_object_get(page, "data"), 0);
  assert_int_equal(meta_delete(f->m, META_MQTT_RULE, f->ta,
                               json_string_value(json_object_get(second, "id")), f->err,
                               sizeof f->err),
                   0);
  json_decref(page);
  for (int i = 0; i < 60 && n != 0; i++) {
    sleep_ms(50);
    assert_int_equal(api_mqtt_rules_get(c, f->ta, &r), 0);
    n = uns_rules_count(r);
    api_mqtt_rules_release(r);
  }
  assert_int_equal(n, 0);
  api_mqtt_rules_free(c);
}

static void test_cache_free_waits_for_loads_in_flight(void **state) {
  fx *f = *state;
  rule(f, f->ta, "on", "a/+x", "{x}", true, NULL);
  api_mqtt_rules *c = NULL;
  assert_int_equal(api_mqtt_rules_new(&f->api, &c), 0);
  const uns_rules *r = NULL;
  assert_int_equal(api_mqtt_rules_get(c, f->ta, &r), LOOM_EAGAIN);
  assert_int_equal(api_mqtt_rules_get(c, f->tb, &r), LOOM_EAGAIN);
  api_mqtt_rules_free(c); /* with loads queued: ASan would catch a use after free */
  api_mqtt_rules_free(NULL);
}

static void test_rule_writes_emit_a_watch_event(void **state) {
  fx *f = *state;
  char id[META_ID_LEN + 1];
  rule(f, f->tb, "w", "a/+x", "{x}", true, id);
  assert_int_equal(f->changes, 1);
  assert_string_equal(f->changed_tenant, f->tb);
  json_t *upd = json_pack("{s:i}", "priority", 3);
  assert_int_equal(meta_update(f->m, META_MQTT_RULE, NULL, id, upd, NULL, NULL, f->err,
                               sizeof f->err),
                   0);
  json_decref(upd);
  assert_int_equal(f->changes, 2);
  assert_string_equal(f->changed_tenant, f->tb); /* the row's tenant, also for platform callers */
  assert_int_equal(meta_delete(f->m, META_MQTT_RULE, f->ta, id, f->err, sizeof f->err),
                   LOOM_ENOTFOUND); /* another tenant's rule: no change, no event */
  assert_int_equal(f->changes, 2);
  assert_int_equal(meta_delete(f->m, META_MQTT_RULE, f->tb, id, f->err, sizeof f->err), 0);
  assert_int_equal(f->changes, 3);
}

/* A version 2 file (before rules existed) migrates to 3 and takes rules. */
static void test_v2_store_migrates_to_rules(void **state) {
  (void)state;
  char dir[64] = "/tmp/uns-v2-XXXXXX", path[128], err[256] = "";
  assert_non_null(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/meta.db", dir);
  sqlite3 *db = NULL;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  int v = 0;
  assert_int_equal(meta_schema_migrate(db, 2, &v, err, sizeof err), 0);
  assert_int_equal(v, 2);
  sqlite3_close(db);
  meta_store *m = NULL;
  assert_int_equal(meta_store_open(path, &m, err, sizeof err), 0);
  assert_true(meta_store_version(m) >= 3);
  json_t *page = NULL, *t;
  assert_int_equal(meta_list(m, META_TENANT, NULL, NULL, &page, err, sizeof err), 0);
  t = json_array_get(json_object_get(page, "data"), 0); /* "default", made by version 1 */
  json_t *in = json_pack("{s:s,s:s,s:s}", "name", "r", "pattern", "a/+x", "device", "{x}");
  json_t *out = NULL;
  assert_int_equal(meta_create(m, META_MQTT_RULE, json_string_value(json_object_get(t, "id")), in,
                               NULL, &out, err, sizeof err),
                   0);
  assert_string_equal(json_string_value(json_object_get(out, "profile")), "uns");
  assert_string_equal(json_string_value(json_object_get(out, "payload")), "auto");
  assert_true(json_is_true(json_object_get(out, "enabled")));
  json_decref(out);
  json_decref(in);
  json_decref(page);
  meta_store_close(m);
  static const char *const sfx[] = {"", "-wal", "-shm", "-journal"};
  for (size_t i = 0; i < 4; i++) {
    char p[160];
    snprintf(p, sizeof p, "%s%s", path, sfx[i]);
    unlink(p);
  }
  rmdir(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_load_takes_enabled_rules_of_the_tenant, setup, teardown),
      cmocka_unit_test_setup_teardown(test_load_skips_rules_that_do_not_compile, setup, teardown),
      cmocka_unit_test_setup_teardown(test_load_reads_every_page, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cache_cold_miss_loads_in_background, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cache_invalidate_reloads_and_old_refs_stay_valid, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_cache_refresher_follows_the_registry, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cache_free_waits_for_loads_in_flight, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rule_writes_emit_a_watch_event, setup, teardown),
      cmocka_unit_test(test_v2_store_migrates_to_rules),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
