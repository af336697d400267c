/* SPDX-License-Identifier: Apache-2.0
 * Unit tests of the encoded head buffer (ts/head.c): exact round trips of
 * every type and edge value in arrival order, sorting with the newest of
 * equal timestamps winning, ranges, deletes, normalisation, the memory it
 * takes on sensor data, and allocation failures.
 */
#include <math.h>
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
#include "ts/head.h"

static uint64_t rng(uint64_t *s) {
  uint64_t z = (*s += UINT64_C(0x9E3779B97F4A7C15));
  z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
  return z ^ (z >> 31);
}

static void append_all(ts_headbuf *h, ts_type t, const int64_t *ts, const ts_value *v, uint32_t n) {
  for (uint32_t i = 0; i < n; i++) assert_true(ts_headbuf_append(h, t, ts[i], &v[i]) >= 0);
}

static void check_points(const ts_headbuf *h, ts_type t, const int64_t *ts, const ts_value *v,
                         uint32_t n) {
  int64_t *gt;
  void *gv;
  assert_int_equal(ts_headbuf_points(h, t, &gt, &gv), 0);
  assert_int_equal(h->n, n);
  for (uint32_t i = 0; i < n; i++) {
    assert_true(gt[i] == ts[i]);
    ts_value g = ts_value_load(t, gv, i);
    switch (t) {
    case TS_FLOAT: assert_memory_equal(&g.f, &v[i].f, 8); break; /* bit for bit */
    case TS_INT:
    case TS_UINT: assert_true(g.u == v[i].u); break;
    case TS_BOOL: assert_int_equal(g.b, v[i].b ? 1 : 0); break;
    case TS_STRING:
      assert_int_equal(g.s.len, v[i].s.len);
      assert_memory_equal(g.s.p, v[i].s.p, g.s.len);
      break;
    }
  }
  loom_free(gt);
  loom_free(gv);
}

static void test_float_edge_values_exact(void **state) {
  (void)state;
  double vals[] = {0.0, -0.0, 23.45, 23.46, -1e-300, 1e300, INFINITY, -INFINITY, NAN, 0.1,
                   0.30000000000000004, 9007199254740993.0, 5e-324, 123456789.123, 1.5, 1.5, 1.5,
                   1.0 / 3.0, 42.0, -42.125};
  uint32_t n = sizeof vals / sizeof vals[0];
  int64_t ts[32];
  ts_value v[32];
  for (uint32_t i = 0; i < n; i++) {
    ts[i] = INT64_C(1600000000000000000) + (int64_t)i * 10000000000;
    memset(&v[i], 0, sizeof v[i]);
    v[i].f = vals[i];
  }
  ts_headbuf h;
  ts_headbuf_init(&h);
  append_all(&h, TS_FLOAT, ts, v, n);
  check_points(&h, TS_FLOAT, ts, v, n);
  assert_true(h.sorted);
  ts_headbuf_deinit(&h);
}

static void test_extreme_timestamps_and_integers(void **state) {
  (void)state;
  int64_t ts[] = {INT64_MAX, INT64_MIN, 0, -1, INT64_MAX - 1, 1, INT64_MIN + 1, 5, 5};
  uint64_t iv[] = {0, UINT64_MAX, (uint64_t)INT64_MIN, (uint64_t)INT64_MAX, 1, 2, 3, 7, 8};
  uint32_t n = sizeof ts / sizeof ts[0];
  ts_value v[16];
  for (uint32_t i = 0; i < n; i++) {
    memset(&v[i], 0, sizeof v[i]);
    v[i].u = iv[i];
  }
  for (ts_type t = TS_INT; t <= TS_UINT; t++) {
    ts_headbuf h;
    ts_headbuf_init(&h);
    append_all(&h, t, ts, v, n);
    check_points(&h, t, ts, v, n);
    assert_false(h.sorted);
    assert_true(ts_headbuf_min_ts(&h) == INT64_MIN && ts_headbuf_max_ts(&h) == INT64_MAX);
    ts_headbuf_deinit(&h);
  }
}

static void test_bool_and_string_round_trip(void **state) {
  (void)state;
  int64_t ts[40];
  ts_value v[40], b[40];
  char big[3000];
  memset(big, 'x', sizeof big);
  const char *words[] = {"", "a", "hello", "", "machine state: RUNNING"};
  for (int i = 0; i < 40; i++) {
    ts[i] = 1000 + (i * 7) % 40;
    memset(&v[i], 0, sizeof v[i]);
    memset(&b[i], 0, sizeof b[i]);
    if (i == 13) v[i].s = (ts_str){big, sizeof big};
    else v[i].s = (ts_str){words[i % 5], (uint32_t)strlen(words[i % 5])};
    b[i].b = (uint8_t)(i % 3 == 0);
  }
  ts_headbuf h;
  ts_headbuf_init(&h);
  append_all(&h, TS_STRING, ts, v, 40);
  check_points(&h, TS_STRING, ts, v, 40);
  ts_headbuf_deinit(&h);
  append_all(&h, TS_BOOL, ts, b, 40);
  check_points(&h, TS_BOOL, ts, b, 40);
  ts_headbuf_deinit(&h);
}

static void test_range_sorts_newest_wins(void **state) {
  (void)state;
  ts_headbuf h;
  ts_headbuf_init(&h);
  int64_t ts[] = {30, 10, 20, 10, 40, 20, 50};
  double fv[] = {3.0, 1.0, 2.0, 1.5, 4.0, 2.5, 5.0};
  for (int i = 0; i < 7; i++) {
    ts_value v = {.f = fv[i]};
    assert_true(ts_headbuf_append(&h, TS_FLOAT, ts[i], &v) >= 0);
  }
  int64_t *rt;
  void *rv;
  uint32_t n;
  assert_int_equal(ts_headbuf_range(&h, TS_FLOAT, 10, 40, &rt, &rv, &n), 0);
  assert_int_equal(n, 4);
  int64_t want_ts[] = {10, 20, 30, 40};
  double want_v[] = {1.5, 2.5, 3.0, 4.0};
  for (uint32_t i = 0; i < n; i++) {
    assert_true(rt[i] == want_ts[i]);
    assert_true(((double *)rv)[i] == want_v[i]);
  }
  loom_free(rt);
  loom_free(rv);
  assert_int_equal(ts_headbuf_range(&h, TS_FLOAT, 51, 60, &rt, &rv, &n), 0);
  assert_int_equal(n, 0);
  assert_null(rt);
  /* normalise: sorted, deduplicated, the same newest values */
  assert_int_equal(ts_headbuf_normalize(&h, TS_FLOAT), 0);
  assert_true(h.sorted);
  assert_int_equal(h.n, 5);
  int64_t nts[] = {10, 20, 30, 40, 50};
  ts_value nv[5] = {{.f = 1.5}, {.f = 2.5}, {.f = 3.0}, {.f = 4.0}, {.f = 5.0}};
  check_points(&h, TS_FLOAT, nts, nv, 5);
  ts_headbuf_deinit(&h);
}

static void test_delete_range_then_append(void **state) {
  (void)state;
  ts_headbuf h;
  ts_headbuf_init(&h);
  for (int i = 0; i < 100; i++) {
    ts_value v = {.i = i * 3};
    assert_true(ts_headbuf_append(&h, TS_INT, i, &v) >= 0);
  }
  assert_int_equal(ts_headbuf_delete(&h, TS_INT, 10, 89), 0);
  assert_int_equal(h.n, 20);
  assert_true(ts_headbuf_min_ts(&h) == 0 && ts_headbuf_max_ts(&h) == 99);
  ts_value v = {.i = -7};
  assert_true(ts_headbuf_append(&h, TS_INT, 50, &v) >= 0); /* encoder state survives the rebuild */
  int64_t ts[21];
  ts_value want[21];
  for (int i = 0; i < 10; i++) ts[i] = i, want[i].i = i * 3;
  for (int i = 0; i < 10; i++) ts[10 + i] = 90 + i, want[10 + i].i = (90 + i) * 3;
  ts[20] = 50;
  want[20].i = -7;
  check_points(&h, TS_INT, ts, want, 21);
  assert_int_equal(ts_headbuf_delete(&h, TS_INT, INT64_MIN, INT64_MAX), 0);
  assert_int_equal(h.n, 0);
  ts_headbuf_deinit(&h);
}

static void test_sensor_data_is_compact(void **state) {
  (void)state;
  /* 10 s readings with jitter-free clocks and 2-decimal values: a few bytes
   * a point, against 16 for raw arrays */
  ts_headbuf h;
  ts_headbuf_init(&h);
  uint64_t s = 7;
  double x = 50.0;
  uint32_t n = 5000;
  int64_t *ts = malloc(n * sizeof *ts);
  ts_value *v = malloc(n * sizeof *v);
  for (uint32_t i = 0; i < n; i++) {
    x += (double)((int)(rng(&s) % 201) - 100) / 100.0;
    x = round(x * 100) / 100;
    ts[i] = INT64_C(1451606400000000000) + (int64_t)i * 10000000000;
    memset(&v[i], 0, sizeof v[i]);
    v[i].f = x;
  }
  append_all(&h, TS_FLOAT, ts, v, n);
  check_points(&h, TS_FLOAT, ts, v, n);
  assert_true(h.len < n * 4);
  assert_true(sizeof(ts_headbuf) <= 64); /* ts_col holds two */
  assert_true(ts_headbuf_bytes(&h, TS_FLOAT) < (uint64_t)n * 6);
  free(ts);
  free(v);
  ts_headbuf_deinit(&h);
}

static void test_init_like_sizes_first_allocation(void **state) {
  (void)state;
  ts_headbuf a, b, c;
  ts_headbuf_init(&a);
  for (int i = 0; i < 2000; i++) {
    ts_value v = {.i = i * 1000003};
    assert_true(ts_headbuf_append(&a, TS_INT, i, &v) >= 0);
  }
  ts_headbuf_init_like(&b, &a);
  ts_headbuf_init(&c);
  assert_int_equal(b.n, 0);
  assert_null(b.buf);
  ts_value v = {.i = 1};
  int grown_b = ts_headbuf_append(&b, TS_INT, 1, &v);
  int grown_c = ts_headbuf_append(&c, TS_INT, 1, &v);
  assert_true(grown_b >= (int)(a.len * 3 / 4)); /* one allocation for most of a cycle */
  assert_true(grown_c < 100);                   /* without a hint: the minimum */
  assert_true(grown_b <= (int)a.len);           /* and not more than last time */
  ts_headbuf_deinit(&a);
  ts_headbuf_deinit(&b);
  ts_headbuf_deinit(&c);
}

static void test_alloc_failures_are_clean(void **state) {
  (void)state;
  for (long k = 0; k < 12; k++) {
    ts_headbuf h;
    ts_headbuf_init(&h);
    int failed = 0;
    loom_mem_fail_after(k);
    for (int i = 0; i < 300; i++) {
      ts_value v = {.f = i * 0.5};
      int rc = ts_headbuf_append(&h, TS_FLOAT, 300 - i, &v);
      if (rc < 0) {
        assert_int_equal(rc, LOOM_ENOMEM);
        failed = 1;
        break;
      }
    }
    int64_t *rt = NULL;
    void *rv = NULL;
    uint32_t n = 0;
    int rc = ts_headbuf_range(&h, TS_FLOAT, INT64_MIN, INT64_MAX, &rt, &rv, &n);
    if (rc) assert_int_equal(rc, LOOM_ENOMEM);
    rc = ts_headbuf_delete(&h, TS_FLOAT, 10, 20);
    if (rc) assert_int_equal(rc, LOOM_ENOMEM);
    loom_mem_fail_after(-1);
    assert_true(failed || h.n > 0);
    loom_free(rt);
    loom_free(rv);
    ts_headbuf_deinit(&h);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_float_edge_values_exact),
      cmocka_unit_test(test_extreme_timestamps_and_integers),
      cmocka_unit_test(test_bool_and_string_round_trip),
      cmocka_unit_test(test_range_sorts_newest_wins),
      cmocka_unit_test(test_delete_range_then_append),
      cmocka_unit_test(test_sensor_data_is_compact),
      cmocka_unit_test(test_init_like_sizes_first_allocation),
      cmocka_unit_test(test_alloc_failures_are_clean),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
