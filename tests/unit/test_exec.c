/* SPDX-License-Identifier: Apache-2.0
 * Executor tests: every expected response below was recorded from a real
 * InfluxDB 1.6.7 (influxd from Debian, Go 1.19 runtime) loaded with exactly
 * the DATA line protocol, queried over HTTP /query with db=t (chunk_size=2
 * for chunked cases; Accept: application/csv for CSV). Mutating statements
 * ran against a fresh copy of the data. Loom must answer byte for byte the
 * same. Plus Loom-only behaviours: sink failure, max_points, out of memory,
 * the stats (flushed) path and float formatting.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/fsutil.h"
#include "core/mem.h"
#include "ingest/lp.h"
#include "core/numfmt.h"
#include "query/exec.h"
#include "ts/engine.h"

static const char DATA[] = "cpu,host=a,region=us usage=1.5,idle=90i,str=\"x\" 1577836800000000000\n"
    "cpu,host=a,region=us usage=2.5,idle=80i 1577836810000000000\n"
    "cpu,host=b,region=eu usage=3,idle=70i 1577836800000000000\n"
    "cpu,host=b,region=eu usage=4.25 1577836830000000000\n"
    "cpu,host=c usage=10,idle=5i,str=\"y\" 1577836860000000000\n"
    "cpu,host=a,region=us usage=0.1,idle=85i,on=true 1577836920000000000\n"
    "mem,host=a free=100i,used=0.5 1577836800000000000\n"
    "mem,host=b free=200i 1577836900000000000\n"
    "";

enum { M_JSON, M_CSV, M_CHUNKED, M_EPOCH_MS, M_PRETTY, M_EPOCH_S };

typedef struct fx {
  char dir[64];
  ts_engine *e;
} fx;

typedef struct cap {
  loom_buf body;
  int status;
  int begins;
  int fail_writes; /* >0: the n-th write fails */
  int writes;
  char ctype[64];
} cap;

static int cap_begin(void *arg, int status, const char *ct) {
  cap *c = arg;
  c->status = status;
  c->begins++;
  snprintf(c->ctype, sizeof c->ctype, "%s", ct);
  return 0;
}

static int cap_write(void *arg, const void *d, size_t n) {
  cap *c = arg;
  if (c->fail_writes && ++c->writes >= c->fail_writes) return -1;
  return loom_buf_append(&c->body, d, n);
}

static void load(fx *f, const char *db, const char *body) {
  lp_batch b;
  lp_batch_init(&b);
  assert_int_equal(lp_parse(&b, body, strlen(body), 1, 0), 0);
  assert_int_equal(b.n_errors, 0);
  ts_write_result res;
  assert_int_equal(ts_engine_write_lp(f->e, db, &b, body, strlen(body), 1, 0, &res, NULL, NULL), 0);
  lp_batch_deinit(&b);
}

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  strcpy(f->dir, "/tmp/loom-exec-XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  ts_engine_options o;
  ts_engine_options_default(&o);
  o.dir = f->dir;
  o.durability = TS_BATCHED;
  char err[256];
  assert_int_equal(ts_engine_open(&o, &f->e, err, sizeof err), 0);
  assert_int_equal(ts_db_create(f->e, "t", 0), 0);
  load(f, "t", DATA);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  ts_engine_close(f->e);
  loom_rm_rf(f->dir);
  free(f);
  return 0;
}

static int run_opts(fx *f, const char *q, const qx_options *o, cap *c) {
  qx_sink s = {cap_begin, cap_write, c};
  loom_buf_init(&c->body);
  int rc = qx_execute(f->e, q, strlen(q), o, &s);
  loom_buf_cstr(&c->body);
  return rc;
}

static void check(fx *f, const char *q, int mode, int status, const char *want) {
  qx_options o = {.db = "t", .now_ns = 1700000000000000000LL};
  if (mode == M_CSV) o.csv = true;
  if (mode == M_CHUNKED) o.chunked = true, o.chunk_size = 2;
  if (mode == M_EPOCH_MS) o.epoch = "ms";
  if (mode == M_PRETTY) o.pretty = true;
  if (mode == M_EPOCH_S) o.epoch = "s";
  cap c = {0};
  assert_int_equal(run_opts(f, q, &o, &c), 0);
  assert_int_equal(c.begins, 1);
  assert_int_equal(c.status, status);
  assert_string_equal((const char *)c.body.data, want);
  loom_buf_deinit(&c.body);
}

/* Each case runs twice: on the head (fresh writes) and after a flush to
 * segments, where whole blocks are aggregated from their stats. */
#define CASE(name, q, mode, status, want)                                                      \
  static void test_##name(void **state) { check(*state, q, mode, status, want); }               \
  static void test_##name##_flushed(void **state) {                                             \
    fx *f = *state;                                                                              \
    assert_int_equal(ts_engine_flush(f->e), 0);                                                 \
    check(f, q, mode, status, want);                                                             \
  }
#include "exec_cases.h"
#include "exec_sub_cases.h"
#undef CASE

/* ---- Loom-only behaviours ---- */

static void test_float_format(void **state) {
  (void)state;
  static const struct {
    double v;
    const char *s;
  } t[] = {{2, "2"}, {0.1, "0.1"}, {100, "100"}, {1e21, "1e+21"}, {1e20, "100000000000000000000"},
           {1.5e-7, "1.5e-7"}, {0.000001, "0.000001"}, {-2.5, "-2.5"}, {1.0 / 3, "0.3333333333333333"},
           {123456789.125, "123456789.125"}, {5e-324, "5e-324"}, {1.7976931348623157e308, "1.7976931348623157e+308"}};
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    loom_buf b;
    loom_buf_init(&b);
    assert_int_equal(loom_format_float(t[i].v, &b), 0);
    loom_buf_cstr(&b);
    assert_string_equal((char *)b.data, t[i].s);
    loom_buf_deinit(&b);
  }
}

/* Random decimals and random bit patterns: the text reads back exactly and
 * has no more significant digits than the shortest round-trip form. */
static void test_float_format_roundtrip(void **state) {
  (void)state;
  uint64_t x = 88172645463325252ULL;
  for (int i = 0; i < 200000; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    double v;
    if (i % 2) {
      memcpy(&v, &x, sizeof v);
      if (v != v || v - v != 0) continue; /* NaN, Inf */
    } else {
      v = (double)(int64_t)(x % 2000000001ULL - 1000000000LL) / (double)(1ULL << (x >> 60)) /
          ((x >> 40) % 7 == 0 ? 1000.0 : 10.0);
    }
    loom_buf b;
    loom_buf_init(&b);
    assert_int_equal(loom_format_float(v, &b), 0);
    loom_buf_cstr(&b);
    assert_true(strtod((char *)b.data, NULL) == v);
    int digits = 0, lead = 1;
    for (const char *p = (char *)b.data; *p && *p != 'e'; p++) {
      if (*p >= '1' && *p <= '9') lead = 0;
      if (*p >= '0' && *p <= '9' && !lead) digits++;
    }
    char tmp[40];
    int prec;
    for (prec = 0; prec < 17; prec++) {
      snprintf(tmp, sizeof tmp, "%.*e", prec, v);
      if (strtod(tmp, NULL) == v) break;
    }
    /* trailing zeros of an integer (100 -> 3 digits) are not significant */
    const char *e = strchr((char *)b.data, 'e');
    if (!e && !strchr((char *)b.data, '.')) {
      const char *end = (char *)b.data + b.len;
      while (end > (char *)b.data && end[-1] == '0' && digits > 1) end--, digits--;
    }
    assert_true(digits <= prec + 1);
    loom_buf_deinit(&b);
  }
}

static void test_sink_failure_returns_closed(void **state) {
  fx *f = *state;
  qx_options o = {.db = "t"};
  cap c = {.fail_writes = 1};
  assert_int_equal(run_opts(f, "SELECT * FROM cpu", &o, &c), LOOM_ECLOSED);
  loom_buf_deinit(&c.body);
}

static void test_max_points_error(void **state) {
  fx *f = *state;
  qx_options o = {.db = "t", .max_points = 3};
  cap c = {0};
  assert_int_equal(run_opts(f, "SELECT usage FROM cpu", &o, &c), 0);
  assert_non_null(strstr((char *)c.body.data, "\"error\":\"max-select-point limit exceeed"));
  loom_buf_deinit(&c.body);
}

static void test_no_db_required(void **state) {
  fx *f = *state;
  qx_options o = {0};
  cap c = {0};
  assert_int_equal(run_opts(f, "SELECT usage FROM cpu", &o, &c), 0);
  assert_string_equal((char *)c.body.data,
                      "{\"results\":[{\"statement_id\":0,\"error\":\"database name required\"}]}\n");
  loom_buf_deinit(&c.body);
}

static void test_out_of_memory_is_clean(void **state) {
  fx *f = *state;
  /* every allocation point in turn: never a crash or a leak */
  for (long n = 0; n < 400; n += 7) {
    qx_options o = {.db = "t"};
    cap c = {0};
    loom_buf_init(&c.body);
    qx_sink s = {cap_begin, cap_write, &c};
    const char *q = "SELECT mean(usage), max(idle) FROM cpu WHERE time >= '2020-01-01T00:00:00Z' "
                    "AND time < '2020-01-01T00:03:00Z' GROUP BY time(1m), host fill(linear); "
                    "SELECT * FROM cpu WHERE usage > 1; SHOW TAG VALUES WITH KEY = host";
    loom_mem_fail_after(n);
    int rc = qx_execute(f->e, q, strlen(q), &o, &s);
    loom_mem_fail_after(-1);
    /* the capturing sink allocates too: it may refuse bytes (LOOM_ECLOSED) */
    assert_true(rc == 0 || rc == LOOM_ENOMEM || rc == LOOM_ECLOSED);
    loom_buf_deinit(&c.body);
  }
}

static void test_large_group_by_uses_stats(void **state) {
  fx *f = *state;
  /* 20000 points in one series, flushed: sums through block stats match */
  loom_buf b;
  loom_buf_init(&b);
  for (int i = 0; i < 20000; i++)
    loom_buf_printf(&b, "big,h=x v=%d.5,n=%di %lld\n", i % 100, i, 1600000000000000000LL + i * 1000000000LL);
  loom_buf_cstr(&b);
  load(f, "t", (char *)b.data);
  loom_buf_deinit(&b);
  assert_int_equal(ts_engine_flush(f->e), 0);
  qx_options o = {.db = "t", .now_ns = 1700000000000000000LL};
  cap c = {0};
  assert_int_equal(run_opts(f, "SELECT sum(n), count(v), max(v), min(n) FROM big WHERE time >= 1600000000s "
                            "AND time < 1600020000s GROUP BY time(10000s)", &o, &c), 0);
  assert_string_equal((char *)c.body.data,
                      "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"big\",\"columns\":"
                      "[\"time\",\"sum\",\"count\",\"max\",\"min\"],\"values\":[[\"2020-09-13T12:26:40Z\","
                      "49995000,10000,99.5,0],[\"2020-09-13T15:13:20Z\",149995000,10000,99.5,10000]]}]}]}\n");
  loom_buf_deinit(&c.body);
}

/* Recorded from InfluxDB 1.6.7 on TSBS cpu data: its non-chunked response
 * merges 10000-row chunks and keeps the first chunk's flag, so a series of
 * more than 10000 rows ends with "partial":true; 10000 rows do not. */
static void test_series_past_10000_rows_is_partial(void **state) {
  fx *f = *state;
  loom_buf b;
  loom_buf_init(&b);
  for (int i = 0; i < 10001; i++)
    loom_buf_printf(&b, "big,h=x v=%di %lld\n", i, 1600000000000000000LL + i * 1000000000LL);
  loom_buf_cstr(&b);
  load(f, "t", (char *)b.data);
  loom_buf_deinit(&b);
  qx_options o = {.db = "t", .now_ns = 1700000000000000000LL};
  static const char *const tail[] = {",[\"2020-09-13T15:13:19Z\",9999]]}]}]}\n",
                                     ",[\"2020-09-13T15:13:20Z\",10000]],\"partial\":true}]}]}\n"};
  static const char *const q[] = {"SELECT v FROM big LIMIT 10000", "SELECT v FROM big"};
  for (int k = 0; k < 2; k++) {
    cap c = {0};
    assert_int_equal(run_opts(f, q[k], &o, &c), 0);
    size_t n = strlen(tail[k]);
    assert_true(c.body.len > n);
    assert_string_equal((char *)c.body.data + c.body.len - n, tail[k]);
    loom_buf_deinit(&c.body);
  }
}

/* Field conditions evaluated on their own columns first, the other columns
 * read only at passing times: two series (one without the condition's
 * field), sparse fields, a string condition, LIMIT, an aggregate, integer
 * extremes. Expected answers recorded from InfluxDB 1.6.7 loaded with the
 * same points (generated identically), on head data and after a flush. */
static void load_flt(fx *f) {
  loom_buf b;
  loom_buf_init(&b);
  for (int i = 0; i < 3000; i++) {
    long long ts = (1600000000LL + i) * 1000000000LL;
    loom_buf_printf(&b, "flt,h=a v=%d.5", i % 100);
    if (i % 3) loom_buf_printf(&b, ",n=%di", i);
    if (i % 7 == 0) loom_buf_printf(&b, ",s=\"x%d\"", i % 5);
    loom_buf_printf(&b, " %lld\n", ts);
    if (i % 2 == 0) loom_buf_printf(&b, "flt,h=b w=%di %lld\n", i, ts);
  }
  loom_buf_printf(&b, "ints v=-5i,u=0i 1600000000000000000\n"
                      "ints v=9223372036854775807i,u=-9223372036854775808i 1600000001000000000\n");
  loom_buf_cstr(&b);
  load(f, "t", (char *)b.data);
  loom_buf_deinit(&b);
}

static void check_flt(fx *f) {
  static const char *const cases[][2] = {
      {"SELECT v,n,s FROM flt WHERE v > 98 AND n > 2000",
       "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"flt\",\"columns\":[\"time\",\"v\",\"n\",\"s\"],\"values\":[[\"2020-09-13T13:01:38Z\",98.5,2098,null],[\"2020-09-13T13:01:39Z\",99.5,2099,null],[\"2020-09-13T13:03:18Z\",98.5,2198,\"x3\"],[\"2020-09-13T13:04:59Z\",99.5,2299,null],[\"2020-09-13T13:06:38Z\",98.5,2398,null],[\"2020-09-13T13:06:39Z\",99.5,2399,null],[\"2020-09-13T13:08:18Z\",98.5,2498,null],[\"2020-09-13T13:09:59Z\",99.5,2599,null],[\"2020-09-13T13:11:38Z\",98.5,2698,null],[\"2020-09-13T13:11:39Z\",99.5,2699,null],[\"2020-09-13T13:13:18Z\",98.5,2798,null],[\"2020-09-13T13:14:59Z\",99.5,2899,null],[\"2020-09-13T13:16:38Z\",98.5,2998,null],[\"2020-09-13T13:16:39Z\",99.5,2999,null]]}]}]}\n"},
      {"SELECT * FROM flt WHERE v >= 99 AND time < '2020-09-13T12:40:00Z'",
       "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"flt\",\"columns\":[\"time\",\"h\",\"n\",\"s\",\"v\",\"w\"],\"values\":[[\"2020-09-13T12:28:19Z\",\"a\",null,null,99.5,null],[\"2020-09-13T12:29:59Z\",\"a\",199,null,99.5,null],[\"2020-09-13T12:31:39Z\",\"a\",299,null,99.5,null],[\"2020-09-13T12:33:19Z\",\"a\",null,\"x4\",99.5,null],[\"2020-09-13T12:34:59Z\",\"a\",499,null,99.5,null],[\"2020-09-13T12:36:39Z\",\"a\",599,null,99.5,null],[\"2020-09-13T12:38:19Z\",\"a\",null,null,99.5,null],[\"2020-09-13T12:39:59Z\",\"a\",799,null,99.5,null]]}]}]}\n"},
      {"SELECT n FROM flt WHERE s = 'x3' LIMIT 3",
       "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"flt\",\"columns\":[\"time\",\"n\"],\"values\":[[\"2020-09-13T12:27:08Z\",28],[\"2020-09-13T12:28:18Z\",98],[\"2020-09-13T12:28:53Z\",133]]}]}]}\n"},
      {"SELECT count(n) FROM flt WHERE n != 5 AND v < 1",
       "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"flt\",\"columns\":[\"time\",\"count\"],\"values\":[[\"1970-01-01T00:00:00Z\",20]]}]}]}\n"},
      {"SELECT v,u FROM ints",
       "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"ints\",\"columns\":[\"time\",\"v\",\"u\"],\"values\":[[\"2020-09-13T12:26:40Z\",-5,0],[\"2020-09-13T12:26:41Z\",9223372036854775807,-9223372036854775808]]}]}]}\n"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check(f, cases[i][0], M_JSON, 200, cases[i][1]);
}

static void test_field_condition_first(void **state) {
  fx *f = *state;
  load_flt(f);
  check_flt(f);
}

static void test_field_condition_first_flushed(void **state) {
  fx *f = *state;
  load_flt(f);
  assert_int_equal(ts_engine_flush(f->e), 0);
  check_flt(f);
}

/* sub: InfluxDB's LIMIT of a raw inner query grouped by more tags than the
 * outer one, on TSBS-like trucks whose name tag is missing (several series
 * per outer group and per (name, driver), ties at equal times). Recorded
 * from InfluxDB 1.6.7 loaded with SUB_TRUCKS. */
static const char SUB_TRUCKS[] =
    "diag,driver=d1,model=m1 load=9,cap=5 1577836800000000000\n"
    "diag,driver=d1,model=m1 load=2,cap=8 1577836800000000000\n"
    "diag,driver=d2,model=m1 load=10,cap=5 1577836800000000000\n"
    "diag,driver=d2,model=m1 load=10,cap=5 1577836850000000000\n"
    "diag,driver=d2,model=m1 load=1,cap=5 1577836830000000000\n"
    "diag,driver=d3,model=m1 load=7,cap=5 1577836820000000000\n"
    "diag,driver=d3,model=m1 load=5,cap=5 1577836840000000000\n"
    "diag,driver=d3,model=m1 load=6,cap=5 1577836810000000000\n"
    "diag,driver=d3,model=m1 load=10,cap=5 1577836800000000000\n"
    "diag,driver=d3,model=m1 load=9,cap=8 1577836830000000000\n"
    "diag,driver=d1,model=m2 load=10,cap=8 1577836830000000000\n"
    "diag,driver=d1,model=m2 load=10,cap=8 1577836800000000000\n"
    "diag,driver=d1,model=m2 load=8,cap=8 1577836820000000000\n"
    "diag,driver=d2,model=m2 load=2,cap=8 1577836800000000000\n"
    "diag,driver=d2,model=m2 load=1,cap=5 1577836830000000000\n"
    "diag,driver=d2,model=m2 load=6,cap=8 1577836840000000000\n"
    "diag,driver=d2,model=m2 load=8,cap=8 1577836840000000000\n"
    "diag,driver=d3,model=m2 load=1,cap=8 1577836800000000000\n"
    "diag,driver=d3,model=m2 load=8,cap=8 1577836850000000000\n"
    "diag,driver=d3,model=m2 load=6,cap=5 1577836850000000000\n"
    "diag,driver=d1,model=m3 load=3,cap=5 1577836820000000000\n"
    "diag,driver=d1,model=m3 load=5,cap=5 1577836810000000000\n"
    "diag,driver=d1,model=m3 load=7,cap=8 1577836830000000000\n"
    "diag,driver=d1,model=m3 load=7,cap=8 1577836810000000000\n"
    "diag,driver=d2,model=m3 load=7,cap=5 1577836820000000000\n"
    "diag,driver=d2,model=m3 load=3,cap=8 1577836840000000000\n"
    "diag,driver=d3,model=m3 load=10,cap=8 1577836840000000000\n"
    "diag,driver=d3,model=m3 load=9,cap=5 1577836850000000000\n"
    "diag,driver=d3,model=m3 load=9,cap=8 1577836850000000000\n"
    "diag,driver=d1,model=m1,name=t1 load=1,cap=5 1577836830000000000\n"
    "";

static const char *const SUB_LIM_CASES[][2] = {
    {"SELECT \"name\", \"driver\", \"load\", \"cap\" FROM (SELECT \"load\", \"cap\" FROM \"diag\" GROUP BY \"name\",\"driver\" ORDER BY time DESC LIMIT 1) WHERE \"load\" >= 0.5 * \"cap\" GROUP BY \"name\" ORDER BY time DESC",
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"diag\",\"tags\":{\"name\":\"\"},\"columns\":[\"time\",\"name\",\"driver\",\"load\",\"cap\"],\"values\":[[\"2020-01-01T00:00:50Z\",\"\",\"d3\",9,8],[\"2020-01-01T00:00:50Z\",\"\",\"d2\",10,5],[\"2020-01-01T00:00:40Z\",\"\",\"d3\",10,8],[\"2020-01-01T00:00:40Z\",\"\",\"d2\",8,8],[\"2020-01-01T00:00:40Z\",\"\",\"d3\",5,5],[\"2020-01-01T00:00:30Z\",\"\",\"d1\",7,8],[\"2020-01-01T00:00:30Z\",\"\",\"d3\",9,8],[\"2020-01-01T00:00:30Z\",\"\",\"d1\",10,8],[\"2020-01-01T00:00:20Z\",\"\",\"d2\",7,5],[\"2020-01-01T00:00:20Z\",\"\",\"d1\",8,8]]}]}]}\n"},
    {"SELECT * FROM (SELECT \"load\", \"cap\" FROM \"diag\" GROUP BY \"name\",\"driver\" LIMIT 1) GROUP BY \"name\"",
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"diag\",\"tags\":{\"name\":\"\"},\"columns\":[\"time\",\"cap\",\"driver\",\"load\"],\"values\":[[\"2020-01-01T00:00:00Z\",8,\"d1\",2],[\"2020-01-01T00:00:00Z\",5,\"d2\",10],[\"2020-01-01T00:00:00Z\",8,\"d3\",1],[\"2020-01-01T00:00:00Z\",8,\"d2\",2],[\"2020-01-01T00:00:00Z\",5,\"d3\",10],[\"2020-01-01T00:00:10Z\",8,\"d1\",7],[\"2020-01-01T00:00:10Z\",5,\"d3\",6],[\"2020-01-01T00:00:20Z\",8,\"d1\",8],[\"2020-01-01T00:00:20Z\",5,\"d2\",7],[\"2020-01-01T00:00:40Z\",8,\"d3\",10],[\"2020-01-01T00:00:40Z\",8,\"d2\",3],[\"2020-01-01T00:00:50Z\",8,\"d3\",9]]},{\"name\":\"diag\",\"tags\":{\"name\":\"t1\"},\"columns\":[\"time\",\"cap\",\"driver\",\"load\"],\"values\":[[\"2020-01-01T00:00:30Z\",5,\"d1\",1]]}]}]}\n"},
    {"SELECT * FROM (SELECT \"load\" FROM \"diag\" GROUP BY \"driver\" LIMIT 2 OFFSET 1)",
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"diag\",\"columns\":[\"time\",\"driver\",\"load\"],\"values\":[[\"2020-01-01T00:00:30Z\",\"d1\",10]]}]}]}\n"},
    {"SELECT count(load) FROM (SELECT \"load\" FROM \"diag\" GROUP BY \"driver\" LIMIT 1)",
     "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"diag\",\"columns\":[\"time\",\"count\"],\"values\":[[\"1970-01-01T00:00:00Z\",13]]}]}]}\n"},
};

static void sub_lim_check(void **state, size_t i, bool flush) {
  fx *f = *state;
  load(f, "t", SUB_TRUCKS);
  if (flush) assert_int_equal(ts_engine_flush(f->e), 0);
  check(f, SUB_LIM_CASES[i][0], M_JSON, 200, SUB_LIM_CASES[i][1]);
}

static void test_sub_lim_ties_desc(void **state) { sub_lim_check(state, 0, false); }
static void test_sub_lim_ties_desc_flushed(void **state) { sub_lim_check(state, 0, true); }
static void test_sub_lim_ties_asc(void **state) { sub_lim_check(state, 1, false); }
static void test_sub_lim_offset_applies_twice(void **state) { sub_lim_check(state, 2, false); }
static void test_sub_lim_outer_aggregate(void **state) { sub_lim_check(state, 3, true); }

/* The outer's WHERE on a tag the inner groups by filters the inner's series:
 * 3 points read (host c's usage, then its inner row: value and row marker),
 * where reading every host's usage in the inner takes 8. */
static void test_sub_outer_tag_filter_reaches_inner(void **state) {
  fx *f = *state;
  qx_options o = {.db = "t", .now_ns = 1700000000000000000LL, .max_points = 3};
  cap c = {0};
  assert_int_equal(run_opts(f, "SELECT usage FROM (SELECT usage FROM cpu GROUP BY host) WHERE host = 'c'", &o, &c), 0);
  assert_string_equal((const char *)c.body.data,
                      "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"usage\"],\"values\":[[\"2020-01-01T00:01:00Z\",10]]}]}]}\n");
  loom_buf_deinit(&c.body);
}
/* Every allocation of the subquery paths failing in turn (LIMIT rule,
 * pushed-down tag terms, string interning, columns): an error, never a
 * crash or a leak; and the answer once nothing fails. */
static void test_sub_out_of_memory_is_clean(void **state) {
  fx *f = *state;
  load(f, "t", SUB_TRUCKS);
  const char *q = "SELECT \"name\", \"driver\", \"load\" FROM (SELECT \"load\", \"cap\" FROM \"diag\" "
                  "GROUP BY \"name\",\"driver\" ORDER BY time DESC LIMIT 1) WHERE \"load\" >= 0.5 * \"cap\" "
                  "AND \"driver\" = 'd3' GROUP BY \"name\" ORDER BY time DESC; "
                  "SELECT count(m) FROM (SELECT model AS m, load FROM diag GROUP BY driver) WHERE driver =~ /d[12]/";
  int rc = LOOM_ENOMEM;
  long n = 0;
  for (; rc != 0 && n < 5000; n++) {
    qx_options o = {.db = "t", .now_ns = 1700000000000000000LL};
    cap c = {0};
    loom_buf_init(&c.body);
    qx_sink s = {cap_begin, cap_write, &c};
    loom_mem_fail_after(n);
    rc = qx_execute(f->e, q, strlen(q), &o, &s);
    loom_mem_fail_after(-1);
    assert_true(rc == 0 || rc == LOOM_ENOMEM || rc == LOOM_ECLOSED);
    if (!rc) {
      loom_buf_cstr(&c.body);
      assert_non_null(strstr((const char *)c.body.data, "\"d3\",9"));
    }
    loom_buf_deinit(&c.body);
  }
  assert_int_equal(rc, 0);
  assert_true(n > 50); /* the allocations were reached */
}
/* sub: end */

/* agg: query speed paths (Loom-only behaviours; the expected answers follow
 * InfluxDB 1.x semantics as the recorded cases above do). */

/* Floats whose shortest form needs 15-17 digits go through exact integer
 * arithmetic; the digits must be the shortest round-trip ones (as Go). */
static void test_agg_float_exact_digits(void **state) {
  (void)state;
  static const struct {
    double v;
    const char *s;
  } t[] = {{0.1 + 0.2, "0.30000000000000004"}, {100.0 / 7, "14.285714285714286"},
           {2.0 / 3, "0.6666666666666666"}, {17039.0 / 360, "47.330555555555556"},
           {1e14 / 3, "33333333333333.332"}, {0.5 + 0x1p-53, "0.5000000000000001"},
           {1.0 - 0x1p-53, "0.9999999999999999"}, {0.001 / 3, "0.0003333333333333333"},
           {123.456 / 7, "17.63657142857143"}, {999999999999999.9 / 3, "333333333333333.3"},
           {0x1p-9, "0.001953125"}, {0x1.8p-9, "0.0029296875"}, {-100.0 / 7, "-14.285714285714286"}};
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    loom_buf b;
    loom_buf_init(&b);
    assert_int_equal(loom_format_float(t[i].v, &b), 0);
    loom_buf_cstr(&b);
    assert_string_equal((char *)b.data, t[i].s);
    loom_buf_deinit(&b);
  }
}

static const char AGG_PF[] = "pf,host=a v=0.5,i=1i 1577836800000000000\n"
    "pf,host=a v=0.05,i=3i 1577836810000000000\n"
    "pf,host=a v=0.7,i=2i 1577836820000000000\n"
    "pf,host=b v=0.01,i=5i 1577836800000000000\n"
    "pf,host=b v=0.9,i=4i 1577836810000000000\n"
    "pf,host=c v=0.8 1577836800000000000\n"
    "pf,host=c i=7i 1577836810000000000\n";

static char *agg_body(fx *f, const char *q) {
  qx_options o = {.db = "t", .now_ns = 1700000000000000000LL};
  cap c = {0};
  assert_int_equal(run_opts(f, q, &o, &c), 0);
  assert_int_equal(c.status, 200);
  return (char *)c.body.data;
}

/* A conjunct `field op number` drops failing points (and whole flushed
 * blocks) before the rows are built: same rows as the condition without
 * that shortcut (an OR of twice the same comparison is not one). */
static void agg_prefilter_check(void **state, bool flush) {
  fx *f = *state;
  load(f, "t", AGG_PF);
  if (flush) assert_int_equal(ts_engine_flush(f->e), 0);
  static const char *const q[][2] = {
      {"SELECT v, i FROM pf WHERE v <= 0.1 GROUP BY host", "SELECT v, i FROM pf WHERE (v <= 0.1 OR v <= 0.1) GROUP BY host"},
      {"SELECT * FROM pf WHERE 0.6 < v AND host != 'b'", "SELECT * FROM pf WHERE (0.6 < v OR 0.6 < v) AND host != 'b'"},
      {"SELECT v FROM pf WHERE i >= 2.5 AND v > 0", "SELECT v FROM pf WHERE (i >= 2.5 OR i >= 2.5) AND v > 0"},
      {"SELECT i FROM pf WHERE i = 3", "SELECT i FROM pf WHERE (i = 3 OR i = 3)"},
      {"SELECT v FROM pf WHERE v > 5", "SELECT v FROM pf WHERE (v > 5 OR v > 5)"},
      {"SELECT count(v) FROM pf WHERE i != 3", "SELECT count(v) FROM pf WHERE (i != 3 OR i != 3)"},
  };
  for (size_t k = 0; k < sizeof q / sizeof q[0]; k++) {
    char *a = agg_body(f, q[k][0]), *b = agg_body(f, q[k][1]);
    assert_string_equal(a, b);
    loom_free(a);
    loom_free(b);
  }
  check(f, "SELECT v, i FROM pf WHERE v <= 0.1 GROUP BY host", M_JSON, 200,
        "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"pf\",\"tags\":{\"host\":\"a\"},\"columns\":[\"time\",\"v\",\"i\"],\"values\":[[\"2020-01-01T00:00:10Z\",0.05,3]]},{\"name\":\"pf\",\"tags\":{\"host\":\"b\"},\"columns\":[\"time\",\"v\",\"i\"],\"values\":[[\"2020-01-01T00:00:00Z\",0.01,5]]}]}]}\n");
  check(f, "SELECT v FROM pf WHERE v > 5", M_JSON, 200, "{\"results\":[{\"statement_id\":0}]}\n");
}

static void test_agg_prefilter(void **state) { agg_prefilter_check(state, false); }
static void test_agg_prefilter_flushed(void **state) { agg_prefilter_check(state, true); }

/* GROUP BY time() without a lower bound starts at the first stored point,
 * taken from metadata; a delete makes that unsafe, so the first point
 * left is found by a scan. */
static void agg_span_check(void **state, bool flush) {
  fx *f = *state;
  load(f, "t", "sp v=1 1577836800000000000\nsp v=2 1577836810000000000\nsp v=3 1577836820000000000\n");
  if (flush) assert_int_equal(ts_engine_flush(f->e), 0);
  check(f, "SELECT count(v) FROM sp WHERE time <= '2020-01-01T00:00:20Z' GROUP BY time(10s)", M_JSON, 200,
        "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"sp\",\"columns\":[\"time\",\"count\"],\"values\":[[\"2020-01-01T00:00:00Z\",1],[\"2020-01-01T00:00:10Z\",1],[\"2020-01-01T00:00:20Z\",1]]}]}]}\n");
  check(f, "DELETE FROM sp WHERE time <= '2020-01-01T00:00:00Z'", M_JSON, 200,
        "{\"results\":[{\"statement_id\":0}]}\n");
  check(f, "SELECT count(v) FROM sp WHERE time <= '2020-01-01T00:00:20Z' GROUP BY time(10s)", M_JSON, 200,
        "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"sp\",\"columns\":[\"time\",\"count\"],\"values\":[[\"2020-01-01T00:00:10Z\",1],[\"2020-01-01T00:00:20Z\",1]]}]}]}\n");
}

static void test_agg_span_after_delete(void **state) { agg_span_check(state, false); }
static void test_agg_span_after_delete_flushed(void **state) { agg_span_check(state, true); }

/* max()/min() over integers: the first point holding the extreme is the
 * selected one (its time is the row's time without GROUP BY time()). */
static void agg_int_extreme_check(void **state, bool flush) {
  fx *f = *state;
  load(f, "t", "ie i=5i 1577836800000000000\nie i=9i 1577836810000000000\nie i=2i 1577836820000000000\n"
               "ie i=9i 1577836830000000000\nie i=2i 1577836840000000000\nie i=7i 1577836850000000000\n");
  if (flush) assert_int_equal(ts_engine_flush(f->e), 0);
  check(f, "SELECT max(i) FROM ie", M_JSON, 200,
        "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"ie\",\"columns\":[\"time\",\"max\"],\"values\":[[\"2020-01-01T00:00:10Z\",9]]}]}]}\n");
  check(f, "SELECT min(i) FROM ie", M_JSON, 200,
        "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"ie\",\"columns\":[\"time\",\"min\"],\"values\":[[\"2020-01-01T00:00:20Z\",2]]}]}]}\n");
  check(f, "SELECT max(i), min(i) FROM ie WHERE time >= '2020-01-01T00:00:00Z' AND time < '2020-01-01T00:01:00Z' GROUP BY time(30s)", M_JSON, 200,
        "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"ie\",\"columns\":[\"time\",\"max\",\"min\"],\"values\":[[\"2020-01-01T00:00:00Z\",9,2],[\"2020-01-01T00:00:30Z\",9,2]]}]}]}\n");
}

static void test_agg_int_extreme(void **state) { agg_int_extreme_check(state, false); }
static void test_agg_int_extreme_flushed(void **state) { agg_int_extreme_check(state, true); }

/* RFC3339 times: the date part is cached per day; fractions and days
 * before 1970 take the general formatter. */
static void test_agg_time_format_days(void **state) {
  fx *f = *state;
  load(f, "t", "td v=1 1577836790000000000\ntd v=2 1577836800000000000\ntd v=3 1577836800500000000\n"
               "td v=4 1577923199000000000\ntd v=5 -1000000000\n");
  check(f, "SELECT v FROM td", M_JSON, 200,
        "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"td\",\"columns\":[\"time\",\"v\"],\"values\":[[\"1969-12-31T23:59:59Z\",5],[\"2019-12-31T23:59:50Z\",1],[\"2020-01-01T00:00:00Z\",2],[\"2020-01-01T00:00:00.5Z\",3],[\"2020-01-01T23:59:59Z\",4]]}]}]}\n");
}

/* lastpoint from the last-value cache: the row is the newest time over
 * the series' fields; fields last written earlier are null in it, string
 * fields included. */
static void agg_lastpoint_check(void **state, bool flush) {
  fx *f = *state;
  load(f, "t", "lp,h=a x=1,s=\"p\" 1577836800000000000\nlp,h=a y=2i 1577836810000000000\n"
               "lp,h=b x=3,y=4i 1577836800000000000\nlp,h=b s=\"q\" 1577836820000000000\n"
               "lp,h=c y=6i 1577836830000000000\n");
  if (flush) assert_int_equal(ts_engine_flush(f->e), 0);
  check(f, "SELECT * FROM lp GROUP BY h ORDER BY time DESC LIMIT 1", M_JSON, 200,
        "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"lp\",\"tags\":{\"h\":\"c\"},\"columns\":[\"time\",\"s\",\"x\",\"y\"],\"values\":[[\"2020-01-01T00:00:30Z\",null,null,6]]},{\"name\":\"lp\",\"tags\":{\"h\":\"b\"},\"columns\":[\"time\",\"s\",\"x\",\"y\"],\"values\":[[\"2020-01-01T00:00:20Z\",\"q\",null,null]]},{\"name\":\"lp\",\"tags\":{\"h\":\"a\"},\"columns\":[\"time\",\"s\",\"x\",\"y\"],\"values\":[[\"2020-01-01T00:00:10Z\",null,null,2]]}]}]}\n");
}

static void test_agg_lastpoint_newest_row(void **state) { agg_lastpoint_check(state, false); }
static void test_agg_lastpoint_newest_row_flushed(void **state) { agg_lastpoint_check(state, true); }

/* Aggregates with many groups run half of them on a helper thread; the
 * response must be byte for byte the one-thread response (max_points set
 * keeps a statement on one thread; raw statements always stay on one). */
static void agg_split_check(void **state, bool flush) {
  fx *f = *state;
  loom_buf lp;
  loom_buf_init(&lp);
  for (int h = 0; h < 80; h++)
    for (int k = 0; k < 3; k++) {
      /* hosts h00..h39 only write before 00:00:30, the others after too */
      long long t = 1577836800000000000LL + (long long)(k * 10 + (h >= 40 ? 30 : 0)) * 1000000000LL;
      loom_buf_printf(&lp, "sp2,host=h%02d,dc=d%d v=%d.%d,i=%di,s=\"x%d\" %lld\n", h, h % 3, h, k, h * k, k, t);
    }
  loom_buf_cstr(&lp);
  load(f, "t", (const char *)lp.data);
  loom_buf_deinit(&lp);
  if (flush) assert_int_equal(ts_engine_flush(f->e), 0);
  static const char *const q[] = {
      "SELECT mean(v), max(i) FROM sp2 WHERE time >= '2020-01-01T00:00:00Z' AND time < '2020-01-01T00:01:00Z' GROUP BY time(20s), host",
      "SELECT * FROM sp2 GROUP BY host ORDER BY time DESC LIMIT 1",
      "SELECT max(v), s FROM sp2 GROUP BY host",
      "SELECT mean(v) FROM sp2 WHERE time >= '2020-01-01T00:00:30Z' GROUP BY host",
      "SELECT count(v) FROM sp2 WHERE time >= '2020-01-01T00:00:00Z' AND time < '2020-01-01T00:01:00Z' GROUP BY time(30s), * fill(0)",
      "SELECT v, dc FROM sp2 WHERE v > 50 GROUP BY host LIMIT 2",
  };
  for (size_t k = 0; k < sizeof q / sizeof q[0]; k++) {
    qx_options o1 = {.db = "t", .now_ns = 1700000000000000000LL};
    qx_options o2 = o1;
    o2.max_points = 1000000000000ULL;
    cap c1 = {0}, c2 = {0};
    assert_int_equal(run_opts(f, q[k], &o1, &c1), 0);
    assert_int_equal(run_opts(f, q[k], &o2, &c2), 0);
    assert_int_equal(c1.status, 200);
    assert_non_null(strstr((const char *)c1.body.data, "\"series\":[{"));
    assert_string_equal((const char *)c1.body.data, (const char *)c2.body.data);
    loom_buf_deinit(&c1.body);
    loom_buf_deinit(&c2.body);
  }
}

static void test_agg_split_groups(void **state) { agg_split_check(state, false); }
static void test_agg_split_groups_flushed(void **state) { agg_split_check(state, true); }
/* agg: end */

/* avg: an outer aggregate over a raw inner arithmetic of two float fields
 * (written as columns directly) answers as the row path does (an outer
 * WHERE keeps the row path): groups of one series, groups of several
 * series with rows at the same times, nulls, division by zero. */
static const char AVG_DATA[] =
    "trk,fleet=E,name=n1 cur=1.1,cap=3.3 1577836800000000000\n"
    "trk,fleet=E,name=n1 cur=2.2,cap=0 1577836810000000000\n"
    "trk,fleet=E,name=n1 cur=0.7 1577836820000000000\n"
    "trk,fleet=E,name=n2 cur=5.5,cap=7.7 1577836800000000000\n"
    "trk,driver=a,fleet=E cur=0.1,cap=0.3 1577836800000000000\n"
    "trk,driver=b,fleet=E cur=0.2,cap=0.7 1577836800000000000\n"
    "trk,driver=b,fleet=E cur=0.3,cap=0.9 1577836810000000000\n"
    "trk,driver=a,fleet=E cap=0.9 1577836810000000000\n"
    "trk,driver=c,fleet=E cur=0.4,cap=0.6 1577836810000000000\n"
    "trk,fleet=W,name=n3 cur=1,cap=3 1577836800000000000\n"
    "trk,fleet=W,name=n3 cur=2,cap=3 1577836810000000000\n"
    "trk,fleet=X,name=n4 cur=1 1577836800000000000\n";

static void avg_direct_check(void **state, bool flush) {
  fx *f = *state;
  load(f, "t", AVG_DATA);
  /* 100 more groups (two threads take them) and 3 drivers without a name */
  loom_buf more;
  loom_buf_init(&more);
  for (int n = 0; n < 100; n++)
    for (int t = 0; t < 3; t++) {
      char line[160];
      snprintf(line, sizeof line, "trk,driver=d%d,fleet=%s,name=m%03d cur=%d.%d,cap=%d.3 %lld\n", n % 3,
               n % 2 ? "E" : "W", n, n + t, t * 7 % 10, n % 5 + 1, 1577836800000000000LL + t * 10000000000LL);
      assert_int_equal(loom_buf_append_str(&more, line), 0);
      if (n < 3) {
        snprintf(line, sizeof line, "trk,driver=z%d,fleet=E cur=%d.%d,cap=1.%d %lld\n", n, t + 1, n, t,
                 1577836800000000000LL + t * 10000000000LL);
        assert_int_equal(loom_buf_append_str(&more, line), 0);
      }
    }
  assert_int_equal(loom_buf_append_u8(&more, 0), 0);
  load(f, "t", (const char *)more.data);
  loom_buf_deinit(&more);
  if (flush) assert_int_equal(ts_engine_flush(f->e), 0);
  static const char *const q[][2] = {
      {"SELECT mean(ml) AS m, count(ml), sum(ml) FROM (SELECT cur/cap AS ml FROM trk GROUP BY \"name\", fleet) GROUP BY fleet",
       "SELECT mean(ml) AS m, count(ml), sum(ml) FROM (SELECT cur/cap AS ml FROM trk GROUP BY \"name\", fleet) WHERE time >= 0 GROUP BY fleet"},
      {"SELECT mean(ml) AS m, count(ml), sum(ml) FROM (SELECT cur/cap AS ml FROM trk WHERE driver !~ /^[dz]/ GROUP BY \"name\", fleet) GROUP BY fleet",
       "SELECT mean(ml) AS m, count(ml), sum(ml) FROM (SELECT cur/cap AS ml FROM trk WHERE driver !~ /^[dz]/ GROUP BY \"name\", fleet) WHERE time >= 0 GROUP BY fleet"},
      {"SELECT sum(x) FROM (SELECT cur*cap AS x FROM trk GROUP BY \"name\")",
       "SELECT sum(x) FROM (SELECT cur*cap AS x FROM trk GROUP BY \"name\") WHERE time >= 0"},
      {"SELECT mean(d) FROM (SELECT cur-cap AS d FROM trk GROUP BY *) GROUP BY fleet",
       "SELECT mean(d) FROM (SELECT cur-cap AS d FROM trk GROUP BY *) WHERE time >= 0 GROUP BY fleet"},
  };
  for (size_t k = 0; k < sizeof q / sizeof q[0]; k++) {
    qx_options o = {.db = "t", .now_ns = 1700000000000000000LL};
    cap c1 = {0}, c2 = {0};
    assert_int_equal(run_opts(f, q[k][0], &o, &c1), 0);
    assert_int_equal(run_opts(f, q[k][1], &o, &c2), 0);
    if (c1.status != 200) print_message("%s\n", (const char *)c1.body.data);
    assert_int_equal(c1.status, 200);
    assert_non_null(strstr((const char *)c1.body.data, "\"series\":[{"));
    assert_string_equal((const char *)c1.body.data, (const char *)c2.body.data);
    if (k == 1) { /* W: (1/3 + 2/3) / 2; E: 7 values (n1 2, n2 1, no name 4); X: none */
      assert_non_null(strstr((const char *)c1.body.data,
                             "\"tags\":{\"fleet\":\"W\"},\"columns\":[\"time\",\"m\",\"count\",\"sum\"],"
                             "\"values\":[[\"1970-01-01T00:00:00Z\",0.5,2,1]]"));
      assert_non_null(strstr((const char *)c1.body.data, "\"fleet\":\"E\"},\"columns\":[\"time\",\"m\",\"count\",\"sum\"],\"values\":[[\"1970-01-01T00:00:00Z\","));
      assert_non_null(strstr((const char *)c1.body.data, ",7,"));
      assert_null(strstr((const char *)c1.body.data, "\"X\""));
    }
    loom_buf_deinit(&c1.body);
    loom_buf_deinit(&c2.body);
  }
}

static void test_avg_direct_columns(void **state) { avg_direct_check(state, false); }
static void test_avg_direct_columns_flushed(void **state) { avg_direct_check(state, true); }
/* avg: end */

int main(void) {
  const struct CMUnitTest tests[] = {
#define CASE(name, q, mode, status, want)                                                       \
  cmocka_unit_test_setup_teardown(test_##name, setup, teardown),                                  \
  cmocka_unit_test_setup_teardown(test_##name##_flushed, setup, teardown),
#include "exec_sub_cases.h"
#include "exec_cases.h"
#undef CASE
      cmocka_unit_test(test_float_format),
      cmocka_unit_test(test_float_format_roundtrip),
      cmocka_unit_test_setup_teardown(test_sink_failure_returns_closed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_max_points_error, setup, teardown),
      cmocka_unit_test_setup_teardown(test_no_db_required, setup, teardown),
      cmocka_unit_test_setup_teardown(test_out_of_memory_is_clean, setup, teardown),
      cmocka_unit_test_setup_teardown(test_large_group_by_uses_stats, setup, teardown),
      cmocka_unit_test_setup_teardown(test_series_past_10000_rows_is_partial, setup, teardown),
      cmocka_unit_test_setup_teardown(test_field_condition_first, setup, teardown),
      cmocka_unit_test_setup_teardown(test_field_condition_first_flushed, setup, teardown),
      /* sub: */
      cmocka_unit_test_setup_teardown(test_sub_lim_ties_desc, setup, teardown),
      cmocka_unit_test_setup_teardown(test_sub_lim_ties_desc_flushed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_sub_lim_ties_asc, setup, teardown),
      cmocka_unit_test_setup_teardown(test_sub_lim_offset_applies_twice, setup, teardown),
      cmocka_unit_test_setup_teardown(test_sub_lim_outer_aggregate, setup, teardown),
      cmocka_unit_test_setup_teardown(test_sub_outer_tag_filter_reaches_inner, setup, teardown),
      cmocka_unit_test_setup_teardown(test_sub_out_of_memory_is_clean, setup, teardown),
      /* agg: */
      cmocka_unit_test(test_agg_float_exact_digits),
      cmocka_unit_test_setup_teardown(test_agg_prefilter, setup, teardown),
      cmocka_unit_test_setup_teardown(test_agg_prefilter_flushed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_agg_span_after_delete, setup, teardown),
      cmocka_unit_test_setup_teardown(test_agg_span_after_delete_flushed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_agg_int_extreme, setup, teardown),
      cmocka_unit_test_setup_teardown(test_agg_int_extreme_flushed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_agg_time_format_days, setup, teardown),
      cmocka_unit_test_setup_teardown(test_agg_lastpoint_newest_row, setup, teardown),
      cmocka_unit_test_setup_teardown(test_agg_lastpoint_newest_row_flushed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_agg_split_groups, setup, teardown),
      cmocka_unit_test_setup_teardown(test_agg_split_groups_flushed, setup, teardown),
      /* avg: */
      cmocka_unit_test_setup_teardown(test_avg_direct_columns, setup, teardown),
      cmocka_unit_test_setup_teardown(test_avg_direct_columns_flushed, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
