/* SPDX-License-Identifier: Apache-2.0
 * Unit tests for the device telemetry history API (api/rest_telemetry.c),
 * through api_handle on detached requests against a real registry and
 * engine in a temporary directory: aggregates over ranges holding more
 * points than the raw-read guard (a 90-day chart of a 1 Hz signal), the
 * key order of answers split over two threads, raw reads keep their limit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "api/api.h"
#include "core/err.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "http/conn.h"
#include "ingest/ingest.h"

#define ADMIN "unit-admin-token-telemetry"
#define T0_S 1700000000LL /* first point, seconds */

typedef struct fx {
  char dir[64];
  loom_api api;
  sec_auth auth;
  ts_engine *engine;
  char device[META_ID_LEN + 1];
} fx;

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  char err[256], *newtok = NULL;
  snprintf(f->dir, sizeof f->dir, "/tmp/telemetry-test-XXXXXX");
  if (!mkdtemp(f->dir)) return -1;
  if (sec_auth_init(&f->auth, f->dir, ADMIN, &newtok, err, sizeof err)) return -1;
  free(newtok);
  ts_engine_options eo;
  ts_engine_options_default(&eo);
  eo.dir = f->dir;
  eo.durability = TS_BATCHED;
  if (ts_engine_open(&eo, &f->engine, err, sizeof err)) return -1;
  if (ts_db_create(f->engine, "dbt", 0)) return -1;
  char path[128];
  snprintf(path, sizeof path, "%s/meta.db", f->dir);
  if (meta_store_open(path, &f->api.meta, err, sizeof err)) return -1;
  if (sec_audit_open(f->dir, NULL, &f->api.audit, NULL, err, sizeof err)) return -1;
  if (api_init(&f->api) || loom_workpool_new(2, &f->api.pool)) return -1;
  f->api.engine = f->engine;
  f->api.auth = &f->auth;
  json_t *t = NULL, *p = NULL, *d = NULL;
  json_t *in = json_pack("{s:s,s:s}", "name", "T", "db_name", "dbt");
  int rc = meta_create(f->api.meta, META_TENANT, NULL, in, NULL, &t, err, sizeof err);
  json_decref(in);
  const char *tid = json_string_value(json_object_get(t, "id"));
  in = json_pack("{s:s}", "name", "m");
  if (!rc) rc = meta_create(f->api.meta, META_PROFILE, tid, in, NULL, &p, err, sizeof err);
  json_decref(in);
  in = json_pack("{s:s,s:s}", "name", "D-1", "profile_id",
                 p ? json_string_value(json_object_get(p, "id")) : "");
  if (!rc) rc = meta_create(f->api.meta, META_DEVICE, tid, in, NULL, &d, err, sizeof err);
  json_decref(in);
  if (!rc) snprintf(f->device, sizeof f->device, "%s", json_string_value(json_object_get(d, "id")));
  json_decref(t);
  json_decref(p);
  json_decref(d);
  *state = f;
  return rc ? -1 : 0;
}

static int teardown(void **state) {
  fx *f = *state;
  loom_workpool_free(f->api.pool);
  api_deinit(&f->api);
  sec_audit_close(f->api.audit);
  meta_store_close(f->api.meta);
  ts_engine_close(f->engine);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
  if (system(cmd)) return -1;
  free(f);
  return 0;
}

static void on_durable(void *arg, int status) {
  if (status) __atomic_add_fetch((int *)arg, 1000000, __ATOMIC_SEQ_CST);
  __atomic_add_fetch((int *)arg, 1, __ATOMIC_SEQ_CST);
}

enum { F_V, F_FIVE, F_X }; /* v=<i%7> | a=1,b=2,c=3,d=4,e=5,x=<i%7>i | x=<i%7>i */

/* n seconds of 1 Hz points from T0_S of measurement m, device D-1, with the
 * fields `which` names, in bodies of 100k lines. */
static void write_points(fx *f, int64_t n, int which) {
  loom_buf b;
  loom_buf_init(&b);
  int done = 0, sent = 0;
  for (int64_t i = 0; i < n;) {
    loom_buf_reset(&b);
    for (int64_t k = 0; k < 100000 && i < n; k++, i++) {
      assert_int_equal(loom_buf_append_str(&b, "m,device=D-1 "), 0);
      char line[128];
      long long v = (long long)(i % 7);
      if (which == F_V) snprintf(line, sizeof line, "v=%lld", v);
      else if (which == F_FIVE) snprintf(line, sizeof line, "a=1,b=2,c=3,d=4,e=5,x=%lldi", v);
      else snprintf(line, sizeof line, "x=%lldi", v);
      assert_int_equal(loom_buf_append_str(&b, line), 0);
      assert_int_equal(loom_buf_printf(&b, " %lld\n", (long long)(T0_S + i)), 0);
    }
    ingest_result res;
    loom_buf_init(&res.body);
    assert_int_equal(ingest_lp(f->engine, "dbt", (const char *)b.data, b.len, LOOM_NS_PER_S, &res,
                               on_durable, &done),
                     0);
    loom_buf_deinit(&res.body);
    sent++;
  }
  for (int i = 0; i < 30000 && __atomic_load_n(&done, __ATOMIC_SEQ_CST) < sent; i++) {
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
  }
  assert_int_equal(__atomic_load_n(&done, __ATOMIC_SEQ_CST), sent);
  loom_buf_deinit(&b);
}

/* GET path (the part after /api/v1/devices/<id>/telemetry) -> status, body. */
static int get(fx *f, const char *query, json_t **out) {
  char raw[1024];
  snprintf(raw, sizeof raw,
           "GET /api/v1/devices/%s/telemetry%s HTTP/1.1\r\nHost: x\r\nAuthorization: Token " ADMIN
           "\r\n\r\n",
           f->device, query);
  http_req *req = NULL;
  assert_int_equal(http_req_from_bytes(raw, strlen(raw), &req), 0);
  api_handle(req, &f->api);
  for (int i = 0; i < 60000 && __atomic_load_n(&req->state, __ATOMIC_ACQUIRE) != RESP_DONE; i++) {
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
  }
  assert_int_equal(req->state, RESP_DONE);
  size_t len;
  const char *o = (const char *)http_req_output(req, &len);
  int status = 0;
  sscanf(o, "HTTP/1.%*d %d", &status);
  const char *b = strstr(o, "\r\n\r\n");
  *out = b ? json_loadb(b + 4, len - (size_t)(b + 4 - o), 0, NULL) : NULL;
  http_req_free(req);
  return status;
}

/* 3.3M points of one key (more than the 3.2M a raw read may touch): the
 * day buckets still count every point. */
static void test_history_aggregates_more_points_than_the_raw_guard(void **state) {
  fx *f = *state;
  const int64_t n = 3300000;
  write_points(f, n, F_V);
  char q[256];
  snprintf(q, sizeof q, "?keys=v&startTs=%lld&endTs=%lld&interval=86400000&agg=COUNT",
           (long long)T0_S * 1000, (long long)(T0_S + n) * 1000);
  json_t *r = NULL;
  assert_int_equal(get(f, q, &r), 200);
  json_t *pts = json_object_get(r, "v");
  assert_true(json_array_size(pts) >= 38);
  int64_t total = 0;
  size_t i;
  json_t *pt;
  json_array_foreach(pts, i, pt) total += json_integer_value(json_object_get(pt, "value"));
  assert_int_equal(total, n);
  json_decref(r);
}

/* Five keys, split over two threads: each answered under its own name. */
static void test_history_keys_keep_their_values_across_threads(void **state) {
  fx *f = *state;
  write_points(f, 600, F_FIVE);
  char q[256];
  snprintf(q, sizeof q, "?keys=e,d,c,b,a&startTs=%lld&endTs=%lld&interval=60000&agg=AVG",
           (long long)T0_S * 1000, (long long)(T0_S + 600) * 1000);
  json_t *r = NULL;
  assert_int_equal(get(f, q, &r), 200);
  const char *names[] = {"a", "b", "c", "d", "e"};
  for (int k = 0; k < 5; k++) {
    json_t *pts = json_object_get(r, names[k]);
    assert_int_equal(json_array_size(pts), 11); /* 600 s from T0_S (20 s into a minute) */
    size_t i;
    json_t *pt;
    json_array_foreach(pts, i, pt) assert_true(json_number_value(json_object_get(pt, "value")) == k + 1);
  }
  json_decref(r);
}

/* agg=NONE: the newest `limit` points, newest first. */
static void test_history_raw_keeps_its_limit(void **state) {
  fx *f = *state;
  write_points(f, 100, F_X);
  char q[256];
  snprintf(q, sizeof q, "?keys=x&startTs=%lld&endTs=%lld&agg=NONE&limit=5",
           (long long)T0_S * 1000, (long long)(T0_S + 100) * 1000);
  json_t *r = NULL;
  assert_int_equal(get(f, q, &r), 200);
  json_t *pts = json_object_get(r, "x");
  assert_int_equal(json_array_size(pts), 5);
  assert_int_equal(json_integer_value(json_object_get(json_array_get(pts, 0), "ts")),
                   (T0_S + 99) * 1000);
  json_decref(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_history_aggregates_more_points_than_the_raw_guard, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(test_history_keys_keep_their_values_across_threads, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(test_history_raw_keeps_its_limit, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
