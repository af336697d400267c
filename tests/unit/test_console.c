/* SPDX-License-Identifier: Apache-2.0
 * Tests of what the console's overview reads: rate windows (core/rate.h),
 * the registry's device counts and longest-silent list (meta_device_overview,
 * meta_device_names, including 10,000 devices within the overview's time
 * budget), and the engine's per-database usage counters (ts_db_usage_get).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/err.h"
#include "core/rate.h"
#include "core/timeutil.h"
#include "ingest/lp.h"
#include "meta/meta.h"
#include "meta/meta_int.h"
#include "ts/engine.h"

/* ---- rate windows ---- */

static void test_rate_zeroed_is_empty(void **state) {
  (void)state;
  loom_rate r;
  memset(&r, 0, sizeof r);
  assert_int_equal(loom_rate_sum(&r, 100, 10), 0);
  loom_rate_add(&r, 100, 7);
  assert_int_equal(loom_rate_sum(&r, 100, 1), 7);
}

static void test_rate_sums_the_window(void **state) {
  (void)state;
  loom_rate r;
  loom_rate_init(&r, 8);
  for (int64_t t = 10; t < 20; t++) loom_rate_add(&r, t, (uint32_t)t);
  /* slots 17, 18, 19 */
  assert_int_equal(loom_rate_sum(&r, 19, 3), 17 + 18 + 19);
  /* the window never reaches further back than n_slots */
  assert_int_equal(loom_rate_sum(&r, 19, 100), 12 + 13 + 14 + 15 + 16 + 17 + 18 + 19);
  /* later: the old slots fall out */
  assert_int_equal(loom_rate_sum(&r, 21, 3), 19);
  assert_int_equal(loom_rate_sum(&r, 40, 8), 0);
}

static void test_rate_skipped_slots_are_cleared(void **state) {
  (void)state;
  loom_rate r;
  loom_rate_init(&r, 4);
  loom_rate_add(&r, 0, 5);
  loom_rate_add(&r, 1, 5);
  loom_rate_add(&r, 4, 1); /* slot 4 reuses slot 0's place */
  assert_int_equal(loom_rate_sum(&r, 4, 4), 1 + 5); /* slots 1..4: 5, 0, 0, 1 */
  loom_rate_add(&r, 100, 2); /* far ahead: everything older is gone */
  assert_int_equal(loom_rate_sum(&r, 100, 4), 2);
}

static void test_rate_late_and_too_old_adds(void **state) {
  (void)state;
  loom_rate r;
  loom_rate_init(&r, 4);
  loom_rate_add(&r, 10, 1);
  loom_rate_add(&r, 8, 3); /* late but inside the window */
  loom_rate_add(&r, 2, 50); /* older than the window: dropped */
  assert_int_equal(loom_rate_sum(&r, 10, 4), 4);
}

static void test_rate_saturates(void **state) {
  (void)state;
  loom_rate r;
  loom_rate_init(&r, 2);
  loom_rate_add(&r, 1, UINT32_MAX - 1);
  loom_rate_add(&r, 1, 10);
  assert_int_equal(loom_rate_sum(&r, 1, 1), UINT32_MAX);
}

static void test_rate_per_s_counts_the_current_partial_slot(void **state) {
  (void)state;
  loom_rate r;
  loom_rate_init(&r, 16);
  /* 5 s slots; 10 events in each of slots 10 and 11, 5 in the current slot 12 */
  loom_rate_add(&r, 10, 10);
  loom_rate_add(&r, 11, 10);
  loom_rate_add(&r, 12, 5);
  /* at 62.5 s: two full slots (10 s) + 2.5 s of slot 12 -> 25 events / 12.5 s */
  double v = loom_rate_per_s(&r, 62500, 5000, 2);
  assert_true(v > 1.99 && v < 2.01);
  assert_true(loom_rate_per_s(&r, 62500, 0, 2) == 0);
}

/* ---- registry ---- */

typedef struct mfx {
  char dir[64], path[128];
  meta_store *m;
  char ta[META_ID_LEN + 1], tb[META_ID_LEN + 1];
  char pa[META_ID_LEN + 1], pb[META_ID_LEN + 1];
  char err[256];
} mfx;

static void mk(mfx *f, meta_kind kind, const char *scope, json_t *in, char *id) {
  json_t *out = NULL;
  int r = meta_create(f->m, kind, scope, in, NULL, &out, f->err, sizeof f->err);
  if (r) fail_msg("create: %d %s", r, f->err);
  if (id) snprintf(id, META_ID_LEN + 1, "%s", json_string_value(json_object_get(out, "id")));
  json_decref(out);
  json_decref(in);
}

static int meta_setup(void **state) {
  mfx *f = calloc(1, sizeof *f);
  snprintf(f->dir, sizeof f->dir, "/tmp/loom-console-XXXXXX");
  if (!mkdtemp(f->dir)) return -1;
  snprintf(f->path, sizeof f->path, "%s/meta.db", f->dir);
  if (meta_store_open(f->path, &f->m, f->err, sizeof f->err)) return -1;
  mk(f, META_TENANT, NULL, json_pack("{s:s,s:s}", "name", "A", "db_name", "a"), f->ta);
  mk(f, META_TENANT, NULL, json_pack("{s:s,s:s}", "name", "B", "db_name", "b"), f->tb);
  mk(f, META_PROFILE, f->ta, json_pack("{s:s}", "name", "p"), f->pa);
  mk(f, META_PROFILE, f->tb, json_pack("{s:s}", "name", "p"), f->pb);
  *state = f;
  return 0;
}

static int meta_teardown(void **state) {
  mfx *f = *state;
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

/* device `name` in tenant/profile; activity (ms, online) unless last_ms is 0 */
static void device(mfx *f, const char *tenant, const char *profile, const char *name, int64_t last_ms,
                   bool online, char *id) {
  char buf[META_ID_LEN + 1];
  mk(f, META_DEVICE, tenant, json_pack("{s:s,s:s}", "name", name, "profile_id", profile), buf);
  if (id) memcpy(id, buf, sizeof buf);
  if (!last_ms) return;
  meta_activity a = {.tenant_id = tenant, .device_id = buf, .online = online, .last_activity_ms = last_ms};
  assert_int_equal(meta_device_activity(f->m, &a, 1, NULL), 0);
}

static void test_overview_counts_by_state_per_tenant(void **state) {
  mfx *f = *state;
  device(f, f->ta, f->pa, "a-on", 5000, true, NULL);
  device(f, f->ta, f->pa, "a-off", 1000, false, NULL);
  device(f, f->ta, f->pa, "a-never", 0, false, NULL);
  device(f, f->tb, f->pb, "b-on", 7000, true, NULL);
  meta_device_counts c;
  assert_int_equal(meta_device_overview(f->m, f->ta, &c, NULL, 0, NULL), 0);
  assert_int_equal(c.total, 3);
  assert_int_equal(c.online, 1);
  assert_int_equal(c.offline, 2);
  assert_int_equal(c.never, 1);
  assert_int_equal(meta_device_overview(f->m, NULL, &c, NULL, 0, NULL), 0);
  assert_int_equal(c.total, 4);
  assert_int_equal(c.online, 2);
}

static void test_overview_silent_longest_first_never_active_left_out(void **state) {
  mfx *f = *state;
  device(f, f->ta, f->pa, "recent", 9000, true, NULL);
  device(f, f->ta, f->pa, "oldest", 1000, false, NULL);
  device(f, f->ta, f->pa, "middle", 5000, false, NULL);
  device(f, f->ta, f->pa, "never", 0, false, NULL);
  device(f, f->tb, f->pb, "other-tenant", 10, false, NULL);
  meta_device_counts c;
  meta_device_silent s[10];
  size_t n = 99;
  assert_int_equal(meta_device_overview(f->m, f->ta, &c, s, 10, &n), 0);
  assert_int_equal(n, 3);
  assert_string_equal(s[0].name, "oldest");
  assert_int_equal(s[0].last_activity_ms, 1000);
  assert_false(s[0].online);
  assert_string_equal(s[1].name, "middle");
  assert_string_equal(s[2].name, "recent");
  assert_true(s[2].online);
  /* cap limits the list */
  assert_int_equal(meta_device_overview(f->m, f->ta, &c, s, 1, &n), 0);
  assert_int_equal(n, 1);
  assert_string_equal(s[0].name, "oldest");
}

static void test_device_names_respects_scope(void **state) {
  mfx *f = *state;
  meta_device_silent d[3];
  memset(d, 0, sizeof d);
  device(f, f->ta, f->pa, "mine", 3000, true, d[0].id);
  device(f, f->tb, f->pb, "theirs", 4000, true, d[1].id);
  snprintf(d[2].id, sizeof d[2].id, "%s", "00000000-0000-4000-8000-000000000000");
  assert_int_equal(meta_device_names(f->m, f->ta, d, 3), 0);
  assert_string_equal(d[0].name, "mine");
  assert_int_equal(d[0].last_activity_ms, 3000);
  assert_true(d[0].online);
  assert_string_equal(d[1].name, ""); /* another tenant's device is not named */
  assert_string_equal(d[2].name, "");
  assert_int_equal(meta_device_names(f->m, NULL, d, 2), 0);
  assert_string_equal(d[1].name, "theirs");
}

static void test_overview_of_10000_devices_is_fast(void **state) {
  mfx *f = *state;
  /* bulk insert (the generic create path commits one row at a time) */
  char sql[1024];
  snprintf(sql, sizeof sql,
           "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 9999) "
           "INSERT INTO devices(id, tenant_id, profile_id, name, state, last_activity_ms, created_ms, "
           "updated_ms) SELECT printf('00000000-0000-4000-8000-%%012d', i), '%s', '%s', "
           "'dev-' || i, CASE WHEN i %% 3 = 0 THEN 'online' ELSE 'offline' END, "
           "CASE WHEN i %% 10 = 0 THEN NULL ELSE 1000000 + i END, 1, 1 FROM n",
           f->ta, f->pa);
  meta_lock(f->m);
  int rc = meta_exec(f->m, sql, f->err, sizeof f->err);
  meta_unlock(f->m);
  if (rc) fail_msg("bulk insert: %s", f->err);
  meta_device_counts c;
  meta_device_silent s[10];
  size_t n = 0;
  int64_t best = INT64_MAX;
  for (int k = 0; k < 5; k++) { /* best of 5: the machine is shared */
    int64_t t0 = loom_mono_ns();
    assert_int_equal(meta_device_overview(f->m, f->ta, &c, s, 10, &n), 0);
    int64_t dt = loom_mono_ns() - t0;
    if (dt < best) best = dt;
  }
  assert_int_equal(c.total, 10000);
  assert_int_equal(c.online, 3334);
  assert_int_equal(c.never, 1000);
  assert_int_equal(n, 10);
  assert_string_equal(s[0].name, "dev-1"); /* 1000001: the oldest ever-active one */
  print_message("meta_device_overview, 10,000 devices: %.2f ms\n", (double)best / 1e6);
  int64_t t0 = loom_mono_ns();
  assert_int_equal(meta_device_overview(f->m, NULL, &c, s, 10, &n), 0);
  int64_t dt_all = loom_mono_ns() - t0;
  assert_int_equal(c.total, 10000);
  print_message("meta_device_overview, platform-wide: %.2f ms\n", (double)dt_all / 1e6);
  assert_true(dt_all < 50 * 1000000LL);
  /* budget 5 ms for the whole overview in an optimised build; generous for sanitizers */
  assert_true(best < 50 * 1000000LL);
}

/* ---- engine ---- */

static void write_lp(ts_engine *e, const char *db, const char *text) {
  lp_batch b;
  lp_batch_init(&b);
  assert_int_equal(lp_parse(&b, text, strlen(text), 1, loom_now_ns()), 0);
  ts_write_result res;
  assert_int_equal(ts_engine_write_lp(e, db, &b, text, strlen(text), 1, loom_now_ns(), &res, NULL, NULL), 0);
  lp_batch_deinit(&b);
}

static void test_engine_usage_per_database_and_total(void **state) {
  (void)state;
  char dir[64];
  snprintf(dir, sizeof dir, "/tmp/loom-console-ts-XXXXXX");
  assert_non_null(mkdtemp(dir));
  ts_engine_options o;
  ts_engine_options_default(&o);
  o.dir = dir;
  ts_engine *e = NULL;
  char err[256];
  assert_int_equal(ts_engine_open(&o, &e, err, sizeof err), 0);
  assert_int_equal(ts_db_create(e, "a", 0), 0);
  assert_int_equal(ts_db_create(e, "b", 0), 0);
  write_lp(e, "a", "m,device=x v=1,w=2\nm,device=y v=3\n");
  write_lp(e, "b", "m,device=z v=1\n");
  ts_db_usage u;
  assert_int_equal(ts_db_usage_get(e, "a", &u), 0);
  assert_int_equal(u.points_total, 3);
  assert_int_equal(u.series, 2);
  assert_true(u.points_per_s_10s > 0);
  assert_true(u.points_per_s_60s > 0 && u.points_per_s_60s <= u.points_per_s_10s);
  assert_int_equal(ts_db_usage_get(e, "b", &u), 0);
  assert_int_equal(u.points_total, 1);
  assert_int_equal(ts_db_usage_get(e, NULL, &u), 0);
  assert_int_equal(u.points_total, 4);
  assert_int_equal(u.series, 3);
  assert_int_equal(ts_db_usage_get(e, "nope", &u), LOOM_ENOTFOUND);
  ts_engine_close(e);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  assert_int_equal(system(cmd), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rate_zeroed_is_empty),
      cmocka_unit_test(test_rate_sums_the_window),
      cmocka_unit_test(test_rate_skipped_slots_are_cleared),
      cmocka_unit_test(test_rate_late_and_too_old_adds),
      cmocka_unit_test(test_rate_saturates),
      cmocka_unit_test(test_rate_per_s_counts_the_current_partial_slot),
      cmocka_unit_test_setup_teardown(test_overview_counts_by_state_per_tenant, meta_setup, meta_teardown),
      cmocka_unit_test_setup_teardown(test_overview_silent_longest_first_never_active_left_out, meta_setup,
                                      meta_teardown),
      cmocka_unit_test_setup_teardown(test_device_names_respects_scope, meta_setup, meta_teardown),
      cmocka_unit_test_setup_teardown(test_overview_of_10000_devices_is_fast, meta_setup, meta_teardown),
      cmocka_unit_test(test_engine_usage_per_database_and_total),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
