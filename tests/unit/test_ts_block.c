/* SPDX-License-Identifier: Apache-2.0
 * Unit tests of the ts block codec (ts/block.c and the enc_* column codecs):
 * exact round trips for every type and edge case, stats, corruption and
 * truncation detection, argument errors, allocation failures and
 * compression ratios on TSBS-like data.
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
#include "ts/block.h"
#include "ts/enc_float.h"
#include "ts/enc_int.h"
#include "ts/enc_time.h"

#define N_MAX TS_BLOCK_MAX_POINTS
#define NS_PER_S INT64_C(1000000000)
#define T0 INT64_C(1700000000000000000)

static uint64_t rng_next(uint64_t *s) {
  uint64_t z = (*s += UINT64_C(0x9E3779B97F4A7C15));
  z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
  return z ^ (z >> 31);
}

static double rng_unit(uint64_t *s) { return (double)(rng_next(s) >> 11) / 9007199254740992.0; }

static uint64_t dbits(double v) {
  uint64_t u;
  memcpy(&u, &v, 8);
  return u;
}

static double dfrom(uint64_t u) {
  double v;
  memcpy(&v, &u, 8);
  return v;
}

static void regular_ts(int64_t *ts, uint32_t n, int64_t start, int64_t step) {
  for (uint32_t i = 0; i < n; i++) ts[i] = start + (int64_t)i * step;
}

/* Bytes-equal comparison of two typed stats values. */
static void assert_value_eq(ts_type type, const ts_value *a, const ts_value *b) {
  switch (type) {
  case TS_FLOAT: assert_int_equal(dbits(a->f), dbits(b->f)); break;
  case TS_INT: assert_int_equal(a->i, b->i); break;
  case TS_UINT: assert_int_equal(a->u, b->u); break;
  case TS_BOOL: assert_int_equal(a->b, b->b); break;
  case TS_STRING: break;
  }
}

static void assert_stats_eq(ts_type type, const ts_block_stats *a, const ts_block_stats *b) {
  assert_int_equal(a->min_ts, b->min_ts);
  assert_int_equal(a->max_ts, b->max_ts);
  assert_int_equal(a->count, b->count);
  assert_value_eq(type, &a->min, &b->min);
  assert_value_eq(type, &a->max, &b->max);
  assert_value_eq(type, &a->first, &b->first);
  assert_value_eq(type, &a->last, &b->last);
  if (type == TS_FLOAT) assert_int_equal(dbits(a->sum_f), dbits(b->sum_f));
  if (type == TS_INT || type == TS_BOOL) assert_int_equal(a->sum_i, b->sum_i);
  if (type == TS_UINT) assert_int_equal(a->sum_u, b->sum_u);
}

/* Encode, peek, decode and compare everything exactly. Returns the block
 * length; *ts_len_out (optional) gets the timestamp section's length. */
static size_t roundtrip(ts_type type, const int64_t *ts, const void *vals, uint32_t n,
                        uint32_t *ts_len_out) {
  loom_buf out, sb;
  loom_buf_init(&out);
  loom_buf_init(&sb);
  ts_block_stats st, st2;
  assert_int_equal(ts_block_encode(type, ts, vals, n, &out, &st), 0);
  ts_block_stats_compute(type, ts, vals, n, &st2);
  assert_stats_eq(type, &st, &st2);

  ts_block_info info;
  assert_int_equal(ts_block_peek(out.data, out.len, &info), 0);
  assert_int_equal(info.type, type);
  assert_int_equal(info.len, out.len);
  assert_stats_eq(type, &info.stats, &st);

  size_t esz = ts_type_size(type);
  int64_t *ts2 = calloc(n, sizeof(int64_t));
  void *v2 = calloc(n, esz);
  assert_non_null(ts2);
  assert_non_null(v2);
  assert_int_equal(ts_block_decode(out.data, out.len, ts2, v2, n, &sb), 0);
  assert_memory_equal(ts, ts2, n * sizeof(int64_t));
  if (type == TS_STRING) {
    const ts_str *a = vals, *b = v2;
    for (uint32_t i = 0; i < n; i++) {
      assert_int_equal(a[i].len, b[i].len);
      if (a[i].len) assert_memory_equal(a[i].p, b[i].p, a[i].len);
    }
  } else if (type == TS_BOOL) {
    const uint8_t *a = vals, *b = v2;
    for (uint32_t i = 0; i < n; i++) assert_int_equal(a[i] != 0, b[i]);
  } else {
    assert_memory_equal(vals, v2, n * esz);
  }
  /* Stats recomputed from the decoded points match the stored ones. */
  ts_block_stats_compute(type, ts2, v2, n, &st2);
  assert_stats_eq(type, &st2, &info.stats);
  if (ts_len_out) *ts_len_out = loom_le32(out.data + 64);
  size_t len = out.len;
  free(ts2);
  free(v2);
  loom_buf_deinit(&sb);
  loom_buf_deinit(&out);
  return len;
}

/* ---- floats ---------------------------------------------------------- */

static void test_float_single_point(void **state) {
  (void)state;
  int64_t ts = T0;
  double v = 23.45;
  size_t len = roundtrip(TS_FLOAT, &ts, &v, 1, NULL);
  assert_true(len < 100);
}

/* TSBS FP(x, 5) random walk: float64(int(x*1e5))/1e5 values. */
static void test_float_tsbs_random_walk_ratio(void **state) {
  (void)state;
  enum { N = 1000 };
  int64_t ts[N];
  double v[N];
  uint64_t s = 42;
  double x = 52.52;
  regular_ts(ts, N, T0, 10 * NS_PER_S);
  for (int i = 0; i < N; i++) {
    x += (rng_unit(&s) - 0.5) * 0.01;
    v[i] = (double)(int64_t)(x * 1e5) / 1e5;
  }
  size_t len = roundtrip(TS_FLOAT, ts, v, N, NULL);
  assert_true(len < 4 * N);
}

static void test_float_sensor_decimals_small(void **state) {
  (void)state;
  enum { N = 1000 };
  int64_t ts[N];
  double v[N];
  uint64_t s = 7;
  regular_ts(ts, N, T0, 10 * NS_PER_S);
  for (int i = 0; i < N; i++) v[i] = (double)(2000 + (int64_t)(rng_next(&s) % 100)) / 100.0;
  size_t len = roundtrip(TS_FLOAT, ts, v, N, NULL);
  /* 100 distinct 2-decimal values: 7 bits a point plus the header. */
  assert_true(len < N);
}

static void test_float_special_values_exact(void **state) {
  (void)state;
  enum { N = 64 };
  int64_t ts[N];
  double v[N];
  regular_ts(ts, N, T0, NS_PER_S);
  for (int i = 0; i < N; i++) v[i] = 10.5 + i; /* decimals ... */
  /* ... with a few exceptions (<= 1/8): */
  v[3] = -0.0;
  v[9] = NAN;
  v[17] = dfrom(UINT64_C(0x7ff8000000000123)); /* NaN with payload */
  v[20] = INFINITY;
  v[31] = -INFINITY;
  v[40] = 4.9e-324; /* smallest denormal */
  v[50] = 0.1 + 0.2;
  v[63] = 1e300;
  roundtrip(TS_FLOAT, ts, v, N, NULL);
}

static void test_float_random_doubles_exact(void **state) {
  (void)state;
  static int64_t ts[N_MAX];
  static double v[N_MAX];
  uint64_t s = 99;
  regular_ts(ts, N_MAX, -T0, 3);
  for (uint32_t i = 0; i < N_MAX; i++) v[i] = dfrom(rng_next(&s)); /* any bits, NaNs too */
  size_t len = roundtrip(TS_FLOAT, ts, v, N_MAX, NULL);
  /* Incompressible: the raw fallback bounds the size. */
  assert_true(len <= (size_t)N_MAX * 8 + 200);
}

static void test_float_binary_fractions_exact(void **state) {
  (void)state;
  enum { N = 500 };
  int64_t ts[N];
  double v[N];
  uint64_t s = 5;
  regular_ts(ts, N, T0, NS_PER_S);
  for (int i = 0; i < N; i++) v[i] = rng_unit(&s) * 1000.0;
  roundtrip(TS_FLOAT, ts, v, N, NULL);
}

static void test_float_denormals_and_extremes_exact(void **state) {
  (void)state;
  enum { N = 40 };
  int64_t ts[N];
  double v[N];
  regular_ts(ts, N, T0, NS_PER_S);
  for (int i = 0; i < N; i++) {
    switch (i % 5) {
    case 0: v[i] = dfrom((uint64_t)i + 1); break; /* denormals */
    case 1: v[i] = -dfrom((uint64_t)i * 977); break;
    case 2: v[i] = 1.7976931348623157e308; break;
    case 3: v[i] = -2.2250738585072014e-308; break;
    default: v[i] = 9007199254740993.0 * (i + 1); break; /* |k| >= 2^53 */
    }
  }
  roundtrip(TS_FLOAT, ts, v, N, NULL);
}

static void test_float_all_same_is_tiny(void **state) {
  (void)state;
  static int64_t ts[N_MAX];
  static double v[N_MAX];
  regular_ts(ts, N_MAX, T0, 10 * NS_PER_S);
  for (uint32_t i = 0; i < N_MAX; i++) v[i] = 1500;
  size_t len = roundtrip(TS_FLOAT, ts, v, N_MAX, NULL);
  assert_true(len < 120);
}

static void test_float_all_nan_stats(void **state) {
  (void)state;
  int64_t ts[3] = {1, 2, 3};
  double v[3] = {NAN, NAN, NAN};
  ts_block_stats st;
  ts_block_stats_compute(TS_FLOAT, ts, v, 3, &st);
  assert_true(isnan(st.min.f));
  assert_true(isnan(st.max.f));
  assert_true(isnan(st.sum_f));
  roundtrip(TS_FLOAT, ts, v, 3, NULL);
}

static void test_float_stats_ignore_nan(void **state) {
  (void)state;
  int64_t ts[5] = {10, 20, 30, 40, 50};
  double v[5] = {NAN, 3.5, -1.25, NAN, 2};
  ts_block_stats st;
  ts_block_stats_compute(TS_FLOAT, ts, v, 5, &st);
  assert_true(st.min.f == -1.25);
  assert_true(st.max.f == 3.5);
  assert_true(isnan(st.first.f));
  assert_true(st.last.f == 2);
  assert_int_equal(st.count, 5);
  assert_int_equal(st.min_ts, 10);
  assert_int_equal(st.max_ts, 50);
  roundtrip(TS_FLOAT, ts, v, 5, NULL);
}

static void test_float_many_nan_decimals(void **state) {
  (void)state;
  enum { N = 800 };
  int64_t ts[N];
  double v[N];
  uint64_t s = 11;
  regular_ts(ts, N, T0, NS_PER_S);
  for (int i = 0; i < N; i++) v[i] = (rng_next(&s) % 4 == 0) ? NAN : (double)(i % 90) / 10.0;
  size_t len = roundtrip(TS_FLOAT, ts, v, N, NULL);
  assert_true(len < (size_t)N * 8);
}

/* The decimal codec beats Gorilla XOR on decimal data by a wide margin:
 * compare the value column with a Gorilla-only encoding of the same data. */
static void test_float_decimal_beats_gorilla(void **state) {
  (void)state;
  enum { N = 1000 };
  double v[N];
  uint64_t s = 3;
  double x = 20;
  for (int i = 0; i < N; i++) {
    x += (rng_unit(&s) - 0.5) * 0.2;
    v[i] = round(x * 100) / 100;
  }
  loom_buf dec;
  loom_buf_init(&dec);
  assert_int_equal(ts_enc_float_encode(v, N, &dec), 0);
  assert_int_equal(dec.data[0], 0); /* decimal mode chosen */
  double back[N];
  assert_int_equal(ts_enc_float_decode(dec.data, dec.len, N, back), 0);
  assert_memory_equal(v, back, sizeof(v));
  /* Gorilla needs >= ~20 bits a point on such data; decimal < 12. */
  assert_true(dec.len * 8 < (size_t)N * 12);
  loom_buf_deinit(&dec);
}

/* ---- timestamps ------------------------------------------------------ */

static void test_ts_regular_under_half_byte(void **state) {
  (void)state;
  enum { N = 1000 };
  int64_t ts[N];
  int64_t v[N];
  regular_ts(ts, N, T0, 10 * NS_PER_S);
  for (int i = 0; i < N; i++) v[i] = i;
  uint32_t ts_len;
  roundtrip(TS_INT, ts, v, N, &ts_len);
  assert_true(ts_len * 2 < N);
  assert_true(ts_len < 32); /* in fact a constant few bytes */
}

static void test_ts_regular_with_gaps_small(void **state) {
  (void)state;
  enum { N = 1000 };
  int64_t ts[N];
  int64_t v[N] = {0};
  int64_t t = T0;
  for (int i = 0; i < N; i++) {
    t += 10 * NS_PER_S * ((i % 97 == 0) ? 3 : 1); /* missing points now and then */
    ts[i] = t;
  }
  uint32_t ts_len;
  roundtrip(TS_INT, ts, v, N, &ts_len);
  assert_true(ts_len < 200);
}

static void test_ts_jittered(void **state) {
  (void)state;
  enum { N = 1000 };
  int64_t ts[N];
  int64_t v[N] = {0};
  uint64_t s = 8;
  int64_t t = T0;
  for (int i = 0; i < N; i++) {
    t += 10 * NS_PER_S + (int64_t)(rng_next(&s) % 1000000); /* up to 1 ms jitter */
    ts[i] = t;
  }
  uint32_t ts_len;
  roundtrip(TS_INT, ts, v, N, &ts_len);
  assert_true(ts_len < N * 3); /* ~20 bits a point */
}

static void test_ts_negative_and_irregular(void **state) {
  (void)state;
  enum { N = 300 };
  int64_t ts[N];
  double v[N];
  uint64_t s = 1;
  int64_t t = -T0;
  for (int i = 0; i < N; i++) {
    t += 1 + (int64_t)(rng_next(&s) % (i % 3 ? 1000 : NS_PER_S * 3600));
    ts[i] = t;
    v[i] = i * 0.5;
  }
  assert_true(ts[N - 1] < 0);
  roundtrip(TS_FLOAT, ts, v, N, NULL);
}

static void test_ts_huge_deltas_full_range(void **state) {
  (void)state;
  int64_t ts[5] = {INT64_MIN, INT64_MIN + 1, -1, INT64_MAX - 1, INT64_MAX};
  int64_t v[5] = {1, 2, 3, 4, 5};
  roundtrip(TS_INT, ts, v, 5, NULL);
  int64_t ts2[2] = {INT64_MIN, INT64_MAX};
  roundtrip(TS_INT, ts2, v, 2, NULL);
}

static void test_ts_codec_direct_modes(void **state) {
  (void)state;
  /* Linearly growing intervals: dod constant, so dod-FOR must win. */
  enum { N = 200 };
  int64_t ts[N], back[N];
  for (int i = 0; i < N; i++) ts[i] = (int64_t)i * i * 1000 + (int64_t)i * 7;
  loom_buf b;
  loom_buf_init(&b);
  assert_int_equal(ts_enc_time_encode(ts, N, &b), 0);
  assert_true(b.len < 24);
  assert_int_equal(ts_enc_time_decode(b.data, b.len, N, back), 0);
  assert_memory_equal(ts, back, sizeof(ts));
  /* Trailing garbage is rejected. */
  assert_int_equal(loom_buf_append_u8(&b, 0), 0);
  assert_int_equal(ts_enc_time_decode(b.data, b.len, N, back), LOOM_ECORRUPT);
  loom_buf_deinit(&b);
}

/* ---- integers -------------------------------------------------------- */

static void test_int_extremes(void **state) {
  (void)state;
  enum { N = 9 };
  int64_t ts[N];
  int64_t v[N] = {INT64_MIN, INT64_MAX, 0, -1, 1, INT64_MIN, INT64_MAX, 42, INT64_MIN + 1};
  regular_ts(ts, N, 0, 1);
  roundtrip(TS_INT, ts, v, N, NULL);
}

static void test_int_counter_uses_delta(void **state) {
  (void)state;
  enum { N = 1000 };
  int64_t ts[N];
  int64_t v[N];
  uint64_t s = 2;
  int64_t c = INT64_C(1) << 40;
  regular_ts(ts, N, T0, NS_PER_S);
  for (int i = 0; i < N; i++) {
    c += (int64_t)(rng_next(&s) % 16);
    v[i] = c;
  }
  size_t len = roundtrip(TS_INT, ts, v, N, NULL);
  assert_true(len < 120 + N / 2 + 8); /* 4 bits a point */
}

static void test_int_all_same(void **state) {
  (void)state;
  static int64_t ts[N_MAX];
  static int64_t v[N_MAX];
  regular_ts(ts, N_MAX, T0, NS_PER_S);
  for (uint32_t i = 0; i < N_MAX; i++) v[i] = -77;
  size_t len = roundtrip(TS_INT, ts, v, N_MAX, NULL);
  assert_true(len < 110);
}

static void test_int_random_full_range(void **state) {
  (void)state;
  static int64_t ts[N_MAX];
  static int64_t v[N_MAX];
  uint64_t s = 17;
  regular_ts(ts, N_MAX, 0, 1);
  for (uint32_t i = 0; i < N_MAX; i++) v[i] = (int64_t)rng_next(&s);
  roundtrip(TS_INT, ts, v, N_MAX, NULL);
}

static void test_int_stats_sum_wraps(void **state) {
  (void)state;
  int64_t ts[3] = {1, 2, 3};
  int64_t v[3] = {INT64_MAX, 1, 1};
  ts_block_stats st;
  ts_block_stats_compute(TS_INT, ts, v, 3, &st);
  assert_int_equal(st.sum_i, INT64_MIN + 1);
  assert_int_equal(st.min.i, 1);
  assert_int_equal(st.max.i, INT64_MAX);
  roundtrip(TS_INT, ts, v, 3, NULL);
}

static void test_uint_extremes(void **state) {
  (void)state;
  enum { N = 6 };
  int64_t ts[N];
  uint64_t v[N] = {UINT64_MAX, 0, UINT64_MAX - 1, 1, UINT64_C(1) << 63, UINT64_MAX};
  regular_ts(ts, N, 5, 5);
  roundtrip(TS_UINT, ts, v, N, NULL);
  ts_block_stats st;
  ts_block_stats_compute(TS_UINT, ts, v, N, &st);
  assert_int_equal(st.max.u, UINT64_MAX);
  assert_int_equal(st.min.u, 0);
}

static void test_uint_high_values_compact(void **state) {
  (void)state;
  enum { N = 1000 };
  int64_t ts[N];
  uint64_t v[N];
  regular_ts(ts, N, T0, NS_PER_S);
  for (int i = 0; i < N; i++) v[i] = UINT64_MAX - (uint64_t)(i % 200);
  size_t len = roundtrip(TS_UINT, ts, v, N, NULL);
  assert_true(len < 120 + N); /* 8 bits a point, not 64 */
}

static void test_int_codec_bitwidth_64(void **state) {
  (void)state;
  uint64_t v[70], back[70];
  uint64_t s = 4;
  for (int i = 0; i < 70; i++) v[i] = rng_next(&s);
  loom_buf b;
  loom_buf_init(&b);
  for (int sg = 0; sg < 2; sg++) {
    loom_buf_reset(&b);
    assert_int_equal(ts_enc_int_encode(v, 70, sg, &b), 0);
    assert_int_equal(ts_enc_int_decode(b.data, b.len, 70, sg, back), 0);
    assert_memory_equal(v, back, sizeof(v));
  }
  loom_buf_deinit(&b);
}

static void test_bits_unpack_every_width(void **state) {
  (void)state;
  enum { N = 37 };
  uint64_t v[N], back[N];
  uint8_t buf[N * 8 + 8];
  uint64_t s = 6;
  for (unsigned w = 0; w <= 64; w++) {
    uint64_t mask = w == 64 ? ~UINT64_C(0) : (UINT64_C(1) << w) - 1;
    for (int i = 0; i < N; i++) v[i] = rng_next(&s) & mask;
    ts_bitw bw;
    ts_bitw_init(&bw, buf);
    for (int i = 0; i < N; i++) ts_bitw_put(&bw, v[i], w);
    size_t len = (size_t)(ts_bitw_finish(&bw) - buf);
    assert_int_equal(len, ts_bits_len(N, w));
    ts_bits_unpack(buf, len, w, 0, N, back);
    assert_memory_equal(v, back, sizeof(v));
    ts_bits_unpack(buf, len, w, 5, 9, back); /* random access */
    assert_memory_equal(v + 5, back, 9 * sizeof(uint64_t));
  }
}

/* ---- booleans -------------------------------------------------------- */

static void test_bool_random(void **state) {
  (void)state;
  enum { N = 1001 };
  int64_t ts[N];
  uint8_t v[N];
  uint64_t s = 12;
  regular_ts(ts, N, T0, NS_PER_S);
  for (int i = 0; i < N; i++) v[i] = rng_next(&s) & 1;
  size_t len = roundtrip(TS_BOOL, ts, v, N, NULL);
  assert_true(len < 100 + N / 8 + 2);
}

static void test_bool_all_same_and_stats(void **state) {
  (void)state;
  static int64_t ts[N_MAX];
  static uint8_t v[N_MAX];
  regular_ts(ts, N_MAX, T0, NS_PER_S);
  memset(v, 1, sizeof(v));
  size_t len = roundtrip(TS_BOOL, ts, v, N_MAX, NULL);
  assert_true(len < 100);
  ts_block_stats st;
  ts_block_stats_compute(TS_BOOL, ts, v, N_MAX, &st);
  assert_int_equal(st.sum_i, N_MAX);
  assert_int_equal(st.min.b, 1);
  v[7] = 0;
  ts_block_stats_compute(TS_BOOL, ts, v, N_MAX, &st);
  assert_int_equal(st.sum_i, N_MAX - 1);
  assert_int_equal(st.min.b, 0);
  assert_int_equal(st.max.b, 1);
}

/* ---- strings --------------------------------------------------------- */

static void test_str_repeated_and_empty(void **state) {
  (void)state;
  enum { N = 500 };
  int64_t ts[N];
  ts_str v[N];
  const char *states[] = {"", "running", "idle", "fault: overtemp", ""};
  regular_ts(ts, N, T0, NS_PER_S);
  for (int i = 0; i < N; i++) {
    const char *p = states[(i / 7) % 5];
    v[i].p = p;
    v[i].len = (uint32_t)strlen(p);
  }
  size_t len = roundtrip(TS_STRING, ts, v, N, NULL);
  assert_true(len < 100 + 40 + N / 4 + 8); /* 2-bit indices */
}

static void test_str_long_and_many_distinct(void **state) {
  (void)state;
  static int64_t ts[N_MAX];
  static ts_str v[N_MAX];
  static char mem[N_MAX * 24];
  regular_ts(ts, N_MAX, T0, NS_PER_S);
  for (uint32_t i = 0; i < N_MAX; i++) {
    int l = snprintf(mem + i * 24, 24, "device-%u-serial", i);
    v[i].p = mem + i * 24;
    v[i].len = (uint32_t)l;
  }
  size_t len = roundtrip(TS_STRING, ts, v, N_MAX, NULL);
  assert_true(len < (size_t)N_MAX * 8); /* zstd helps on the dictionary */
  /* A single 200 KB string. */
  char *big = malloc(200000);
  assert_non_null(big);
  for (int i = 0; i < 200000; i++) big[i] = (char)('a' + (i * 7919) % 26);
  ts_str one = {big, 200000};
  int64_t t1 = 1;
  roundtrip(TS_STRING, &t1, &one, 1, NULL);
  free(big);
}

static void test_str_decode_appends_to_strbuf(void **state) {
  (void)state;
  int64_t ts[3] = {1, 2, 3};
  ts_str v[3] = {{"ab", 2}, {"cd", 2}, {"ab", 2}};
  loom_buf out, sb;
  loom_buf_init(&out);
  loom_buf_init(&sb);
  assert_int_equal(ts_block_encode(TS_STRING, ts, v, 3, &out, NULL), 0);
  assert_int_equal(loom_buf_append(&sb, "xyz", 3), 0);
  int64_t t2[3];
  ts_str v2[3];
  assert_int_equal(ts_block_decode(out.data, out.len, t2, v2, 3, &sb), 0);
  assert_memory_equal(sb.data, "xyzabcd", 7);
  assert_int_equal(sb.len, 7);
  assert_ptr_equal(v2[0].p, v2[2].p);
  assert_ptr_equal(v2[0].p, (const char *)sb.data + 3);
  assert_int_equal(ts_block_decode(out.data, out.len, t2, v2, 3, NULL), LOOM_EINVAL);
  loom_buf_deinit(&sb);
  loom_buf_deinit(&out);
}

/* ---- errors ---------------------------------------------------------- */

static void test_encode_rejects_bad_args(void **state) {
  (void)state;
  static int64_t ts[N_MAX + 1];
  static double v[N_MAX + 1];
  regular_ts(ts, N_MAX + 1, 0, 1);
  loom_buf out;
  loom_buf_init(&out);
  assert_int_equal(loom_buf_append(&out, "keep", 4), 0);
  assert_int_equal(ts_block_encode(TS_FLOAT, ts, v, 0, &out, NULL), LOOM_EINVAL);
  assert_int_equal(ts_block_encode(TS_FLOAT, ts, v, N_MAX + 1, &out, NULL), LOOM_EINVAL);
  assert_int_equal(ts_block_encode((ts_type)9, ts, v, 4, &out, NULL), LOOM_EINVAL);
  assert_int_equal(ts_block_encode((ts_type)0, ts, v, 4, &out, NULL), LOOM_EINVAL);
  assert_int_equal(out.len, 4);
  loom_buf_deinit(&out);
}

static void test_encode_rejects_non_increasing_ts(void **state) {
  (void)state;
  int64_t dup[3] = {1, 2, 2}, back[3] = {5, 4, 6};
  double v[3] = {1, 2, 3};
  loom_buf out;
  loom_buf_init(&out);
  assert_int_equal(ts_block_encode(TS_FLOAT, dup, v, 3, &out, NULL), LOOM_EINVAL);
  assert_int_equal(ts_block_encode(TS_FLOAT, back, v, 3, &out, NULL), LOOM_EINVAL);
  assert_int_equal(out.len, 0);
  loom_buf_deinit(&out);
}

static void test_decode_cap_too_small(void **state) {
  (void)state;
  int64_t ts[10], t2[9];
  double v[10], v2[9];
  regular_ts(ts, 10, 0, 10);
  for (int i = 0; i < 10; i++) v[i] = i;
  loom_buf out;
  loom_buf_init(&out);
  assert_int_equal(ts_block_encode(TS_FLOAT, ts, v, 10, &out, NULL), 0);
  assert_int_equal(ts_block_decode(out.data, out.len, t2, v2, 9, NULL), LOOM_ERANGE);
  loom_buf_deinit(&out);
}

static void make_mixed_block(loom_buf *out, ts_type type) {
  enum { N = 300 };
  int64_t ts[N];
  double f[N];
  int64_t iv[N];
  ts_str sv[N];
  const char *names[] = {"alpha", "beta", "gamma-delta-epsilon"};
  uint64_t s = 21;
  int64_t t = T0;
  for (int i = 0; i < N; i++) {
    t += 10 * NS_PER_S + (i % 50 == 0 ? NS_PER_S : 0);
    ts[i] = t;
    f[i] = (double)(int64_t)(rng_next(&s) % 100000) / 1000.0;
    iv[i] = (int64_t)(rng_next(&s) % 1000) - 500;
    sv[i].p = names[i % 3];
    sv[i].len = (uint32_t)strlen(names[i % 3]);
  }
  const void *vals = type == TS_FLOAT ? (const void *)f : type == TS_STRING ? (const void *)sv
                                                                            : (const void *)iv;
  assert_int_equal(ts_block_encode(type, ts, vals, N, out, NULL), 0);
}

/* Any single bit flip anywhere is detected (CRC32 catches all of them). */
static void test_decode_detects_every_bit_flip(void **state) {
  (void)state;
  ts_type types[] = {TS_FLOAT, TS_INT, TS_STRING};
  int64_t ts[300];
  static uint64_t vals[600]; /* 300 points of any of the types */
  for (size_t t = 0; t < 3; t++) {
    loom_buf out, sb;
    loom_buf_init(&out);
    loom_buf_init(&sb);
    make_mixed_block(&out, types[t]);
    for (size_t i = 0; i < out.len; i++) {
      for (int bit = 0; bit < 8; bit += 3) {
        out.data[i] ^= (uint8_t)(1u << bit);
        int rc = ts_block_decode(out.data, out.len, ts, vals, 300, &sb);
        assert_true(rc == LOOM_ECORRUPT || rc == LOOM_ETRUNC || rc == LOOM_ERANGE);
        if (i >= 72) assert_int_equal(rc, LOOM_ECORRUPT);
        out.data[i] ^= (uint8_t)(1u << bit);
      }
    }
    assert_int_equal(ts_block_decode(out.data, out.len, ts, vals, 300, &sb), 0);
    loom_buf_deinit(&sb);
    loom_buf_deinit(&out);
  }
}

static void test_decode_detects_truncation(void **state) {
  (void)state;
  loom_buf out;
  loom_buf_init(&out);
  make_mixed_block(&out, TS_FLOAT);
  int64_t ts[300];
  double v[300];
  ts_block_info info;
  for (size_t len = 0; len < out.len; len++) {
    assert_int_equal(ts_block_decode(out.data, len, ts, v, 300, NULL), LOOM_ETRUNC);
    if (len < 72) assert_int_equal(ts_block_peek(out.data, len, &info), LOOM_ETRUNC);
  }
  loom_buf_deinit(&out);
}

static void test_peek_rejects_garbage_header(void **state) {
  (void)state;
  loom_buf out;
  loom_buf_init(&out);
  make_mixed_block(&out, TS_INT);
  ts_block_info info;
  uint8_t *h = out.data;
  struct {
    size_t off;
    uint8_t val;
  } bad[] = {{0, 0}, {1, 2}, {2, 0}, {2, 6}, {3, 1}, {7, 0x80}};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    uint8_t saved = h[bad[i].off];
    h[bad[i].off] = bad[i].val;
    assert_int_equal(ts_block_peek(h, out.len, &info), LOOM_ECORRUPT);
    h[bad[i].off] = saved;
  }
  /* count 0 */
  uint8_t saved[4];
  memcpy(saved, h + 4, 4);
  memset(h + 4, 0, 4);
  assert_int_equal(ts_block_peek(h, out.len, &info), LOOM_ECORRUPT);
  memcpy(h + 4, saved, 4);
  /* min_ts > max_ts */
  memset(h + 8, 0xff, 8);
  h[15] = 0x7f;
  assert_int_equal(ts_block_peek(h, out.len, &info), LOOM_ECORRUPT);
  loom_buf_deinit(&out);
}

static void test_two_blocks_back_to_back(void **state) {
  (void)state;
  loom_buf out;
  loom_buf_init(&out);
  make_mixed_block(&out, TS_FLOAT);
  size_t first = out.len;
  make_mixed_block(&out, TS_INT);
  ts_block_info info;
  assert_int_equal(ts_block_peek(out.data, out.len, &info), 0);
  assert_int_equal(info.len, first);
  assert_int_equal(info.type, TS_FLOAT);
  int64_t ts[300], v[300];
  assert_int_equal(ts_block_decode(out.data + first, out.len - first, ts, v, 300, NULL), 0);
  assert_int_equal(ts_block_peek(out.data + first, out.len - first, &info), 0);
  assert_int_equal(info.type, TS_INT);
  assert_int_equal(info.len, out.len - first);
  loom_buf_deinit(&out);
}

static void test_encode_enomem_leaves_buffer(void **state) {
  (void)state;
  enum { N = 200 };
  int64_t ts[N];
  double f[N];
  ts_str sv[N];
  char mem[N][12];
  regular_ts(ts, N, T0, NS_PER_S);
  for (int i = 0; i < N; i++) {
    f[i] = i % 5 ? i * 0.25 : NAN;
    sv[i].len = (uint32_t)snprintf(mem[i], sizeof(mem[i]), "s%d", i % 77);
    sv[i].p = mem[i];
  }
  const void *vals[2] = {f, sv};
  ts_type types[2] = {TS_FLOAT, TS_STRING};
  for (int t = 0; t < 2; t++) {
    int saw_ok = 0;
    for (long k = 0; k < 20 && !saw_ok; k++) {
      loom_buf out;
      loom_buf_init(&out);
      loom_mem_fail_after(k);
      int rc = ts_block_encode(types[t], ts, vals[t], N, &out, NULL);
      loom_mem_fail_after(-1);
      if (rc == 0) {
        saw_ok = 1;
      } else {
        assert_int_equal(rc, LOOM_ENOMEM);
        assert_int_equal(out.len, 0);
      }
      loom_buf_deinit(&out);
    }
    assert_true(saw_ok);
  }
}

static void test_decode_enomem_string(void **state) {
  (void)state;
  loom_buf out, sb;
  loom_buf_init(&out);
  loom_buf_init(&sb);
  make_mixed_block(&out, TS_STRING);
  int64_t ts[300];
  ts_str v[300];
  loom_mem_fail_after(0);
  int rc = ts_block_decode(out.data, out.len, ts, v, 300, &sb);
  loom_mem_fail_after(-1);
  assert_int_equal(rc, LOOM_ENOMEM);
  assert_int_equal(sb.len, 0);
  assert_int_equal(ts_block_decode(out.data, out.len, ts, v, 300, &sb), 0);
  loom_buf_deinit(&sb);
  loom_buf_deinit(&out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_float_single_point),
      cmocka_unit_test(test_float_tsbs_random_walk_ratio),
      cmocka_unit_test(test_float_sensor_decimals_small),
      cmocka_unit_test(test_float_special_values_exact),
      cmocka_unit_test(test_float_random_doubles_exact),
      cmocka_unit_test(test_float_binary_fractions_exact),
      cmocka_unit_test(test_float_denormals_and_extremes_exact),
      cmocka_unit_test(test_float_all_same_is_tiny),
      cmocka_unit_test(test_float_all_nan_stats),
      cmocka_unit_test(test_float_stats_ignore_nan),
      cmocka_unit_test(test_float_many_nan_decimals),
      cmocka_unit_test(test_float_decimal_beats_gorilla),
      cmocka_unit_test(test_ts_regular_under_half_byte),
      cmocka_unit_test(test_ts_regular_with_gaps_small),
      cmocka_unit_test(test_ts_jittered),
      cmocka_unit_test(test_ts_negative_and_irregular),
      cmocka_unit_test(test_ts_huge_deltas_full_range),
      cmocka_unit_test(test_ts_codec_direct_modes),
      cmocka_unit_test(test_int_extremes),
      cmocka_unit_test(test_int_counter_uses_delta),
      cmocka_unit_test(test_int_all_same),
      cmocka_unit_test(test_int_random_full_range),
      cmocka_unit_test(test_int_stats_sum_wraps),
      cmocka_unit_test(test_uint_extremes),
      cmocka_unit_test(test_uint_high_values_compact),
      cmocka_unit_test(test_int_codec_bitwidth_64),
      cmocka_unit_test(test_bits_unpack_every_width),
      cmocka_unit_test(test_bool_random),
      cmocka_unit_test(test_bool_all_same_and_stats),
      cmocka_unit_test(test_str_repeated_and_empty),
      cmocka_unit_test(test_str_long_and_many_distinct),
      cmocka_unit_test(test_str_decode_appends_to_strbuf),
      cmocka_unit_test(test_encode_rejects_bad_args),
      cmocka_unit_test(test_encode_rejects_non_increasing_ts),
      cmocka_unit_test(test_decode_cap_too_small),
      cmocka_unit_test(test_decode_detects_every_bit_flip),
      cmocka_unit_test(test_decode_detects_truncation),
      cmocka_unit_test(test_peek_rejects_garbage_header),
      cmocka_unit_test(test_two_blocks_back_to_back),
      cmocka_unit_test(test_encode_enomem_leaves_buffer),
      cmocka_unit_test(test_decode_enomem_string),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
