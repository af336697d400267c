/* SPDX-License-Identifier: Apache-2.0
 * Engine tests: writes through the line-protocol path, reads back through
 * scans across head, flush, compaction and restart; out-of-order and
 * duplicate points; type conflicts; deletes; retention; last values.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "core/err.h"
#include "core/fsutil.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "ingest/lp.h"
#include "ts/engine.h"

typedef struct fx {
  char dir[64];
  ts_engine *e;
  ts_engine_options o;
} fx;

static void open_engine(fx *f) {
  char err[512];
  int rc = ts_engine_open(&f->o, &f->e, err, sizeof err);
  if (rc) fprintf(stderr, "open: %s\n", err);
  assert_int_equal(rc, 0);
}

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  strcpy(f->dir, "/tmp/loom-engine-XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  ts_engine_options_default(&f->o);
  f->o.dir = f->dir;
  f->o.compact_threshold = 2;
  open_engine(f);
  assert_int_equal(ts_db_create(f->e, "db", 0), 0);
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

static void reopen(fx *f) {
  ts_engine_close(f->e);
  open_engine(f);
}

typedef struct done {
  int calls, status;
} done;

static void done_cb(void *arg, int status) {
  done *d = arg;
  d->calls++;
  d->status = status;
}

/* Write a body; returns the number of rejected points. Waits for durability. */
static uint32_t write_body(fx *f, const char *body) {
  lp_batch b;
  lp_batch_init(&b);
  assert_int_equal(lp_parse(&b, body, strlen(body), 1, 1000), 0);
  assert_int_equal(b.n_errors, 0);
  ts_write_result res;
  done d = {0};
  assert_int_equal(ts_engine_write_lp(f->e, "db", &b, body, strlen(body), 1, 1000, &res, done_cb, &d), 0);
  /* the WAL thread acknowledges shortly */
  for (int i = 0; i < 2000 && !d.calls; i++) {
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
  }
  assert_int_equal(d.calls, 1);
  assert_int_equal(d.status, 0);
  lp_batch_deinit(&b);
  return res.n_rejected;
}

typedef struct collected {
  int64_t ts[4096];
  double v[4096];
  int n, stats_chunks;
  double stats_sum;
} collected;

static int collect_cb(void *arg, const ts_chunk *c) {
  collected *o = arg;
  if (c->stats) {
    o->stats_chunks++;
    o->stats_sum += c->stats->sum_f;
    return 0;
  }
  for (uint32_t i = 0; i < c->n && o->n < 4096; i++) {
    o->ts[o->n] = c->ts[i];
    o->v[o->n++] = c->type == TS_FLOAT ? ((const double *)c->vals)[i]
                                        : (double)((const int64_t *)c->vals)[i];
  }
  return 0;
}

/* Column id of measurement m, series key, field. */
static uint32_t col_of(fx *f, const char *m, const char *key, const char *field) {
  ts_meta *meta;
  assert_int_equal(ts_meta_get(f->e, "db", &meta), 0);
  const ts_measurement_info *mi = ts_meta_find(meta, m);
  assert_non_null(mi);
  uint32_t cid = UINT32_MAX;
  for (uint32_t i = 0; i < mi->n_series; i++) {
    if (strcmp(mi->series[i]->key, key)) continue;
    for (uint32_t c = 0; c < mi->series[i]->n_cols; c++)
      if (!strcmp(mi->fields[mi->series[i]->field_idx[c]].name, field)) cid = mi->series[i]->col_ids[c];
  }
  ts_meta_release(meta);
  assert_true(cid != UINT32_MAX);
  return cid;
}

static void scan_all(fx *f, uint32_t cid, collected *o, int flags) {
  memset(o, 0, sizeof *o);
  char err[256];
  assert_int_equal(ts_engine_scan(f->e, cid, INT64_MIN, INT64_MAX, flags, collect_cb, o, err, sizeof err), 0);
}

static void test_write_read_head(void **state) {
  fx *f = *state;
  assert_int_equal(write_body(f, "cpu,host=a v=1 10\ncpu,host=a v=2 20\ncpu,host=b v=5 10\n"), 0);
  collected o;
  scan_all(f, col_of(f, "cpu", "cpu,host=a", "v"), &o, 0);
  assert_int_equal(o.n, 2);
  assert_int_equal(o.ts[0], 10);
  assert_true(o.v[1] == 2.0);
}

static void test_out_of_order_and_duplicates(void **state) {
  fx *f = *state;
  write_body(f, "m v=3 30\nm v=1 10\nm v=2 20\nm v=9 10\n");
  collected o;
  uint32_t cid = col_of(f, "m", "m", "v");
  scan_all(f, cid, &o, 0);
  assert_int_equal(o.n, 3);
  assert_int_equal(o.ts[0], 10);
  assert_true(o.v[0] == 9.0); /* last write wins */
  assert_int_equal(ts_engine_flush(f->e), 0);
  write_body(f, "m v=7 20\nm v=0.5 5\n"); /* overlaps the flushed segment */
  scan_all(f, cid, &o, TS_SCAN_STATS);
  assert_int_equal(o.n, 4);
  assert_int_equal(o.ts[0], 5);
  assert_true(o.v[2] == 7.0);
  assert_int_equal(o.stats_chunks, 0);
}

static void test_flush_restart_and_stats(void **state) {
  fx *f = *state;
  char body[64 * 3000];
  size_t n = 0;
  for (int i = 0; i < 3000; i++) n += (size_t)sprintf(body + n, "s,id=x v=%d.5 %d\n", i, (i + 1) * 1000);
  write_body(f, body);
  assert_int_equal(ts_engine_flush(f->e), 0);
  reopen(f);
  uint32_t cid = col_of(f, "s", "s,id=x", "v");
  collected o;
  scan_all(f, cid, &o, 0);
  assert_int_equal(o.n, 3000);
  assert_true(o.v[2999] == 2999.5);
  scan_all(f, cid, &o, TS_SCAN_STATS);
  assert_true(o.stats_chunks >= 2); /* 3000 points make 3 blocks of 1024 */
  double want = 0;
  for (int i = 0; i < 3000; i++) want += i + 0.5;
  double got = o.stats_sum;
  for (int i = 0; i < o.n; i++) got += o.v[i];
  assert_true(got == want);
}

static void test_wal_replay_after_crash_like_close(void **state) {
  fx *f = *state;
  write_body(f, "w v=1i 1\nw v=2i 2\n");
  /* no flush: reopen replays the WAL (close flushes, so simulate by checking replay
   * through a second engine on a copy is not possible here; instead check after reopen) */
  reopen(f);
  collected o;
  scan_all(f, col_of(f, "w", "w", "v"), &o, 0);
  assert_int_equal(o.n, 2);
  assert_true(o.v[1] == 2.0);
}

static void test_type_conflict_rejected(void **state) {
  fx *f = *state;
  write_body(f, "t v=1i 1\n");
  assert_int_equal(write_body(f, "t v=1.5 2\nt v=3i 3\n"), 1);
  collected o;
  scan_all(f, col_of(f, "t", "t", "v"), &o, 0);
  assert_int_equal(o.n, 2);
}

static void test_unknown_db(void **state) {
  fx *f = *state;
  lp_batch b;
  lp_batch_init(&b);
  lp_parse(&b, "x v=1", 5, 1, 0);
  ts_write_result res;
  assert_int_equal(ts_engine_write_lp(f->e, "nope", &b, "x v=1", 5, 1, 0, &res, NULL, NULL), LOOM_ENOTFOUND);
  lp_batch_deinit(&b);
}

static void test_delete_range_and_drop(void **state) {
  fx *f = *state;
  write_body(f, "d,h=a v=1 10\nd,h=a v=2 20\nd,h=a v=3 30\nd,h=b v=4 10\n");
  assert_int_equal(ts_engine_flush(f->e), 0);
  write_body(f, "d,h=a v=5 40\n");
  uint32_t cid = col_of(f, "d", "d,h=a", "v");
  ts_meta *meta;
  ts_meta_get(f->e, "db", &meta);
  const ts_measurement_info *mi = ts_meta_find(meta, "d");
  uint32_t sid_a = strcmp(mi->series[0]->key, "d,h=a") ? mi->series[1]->sid : mi->series[0]->sid;
  ts_meta_release(meta);
  assert_int_equal(ts_engine_delete(f->e, "db", &sid_a, 1, 15, 45, false), 0);
  collected o;
  scan_all(f, cid, &o, TS_SCAN_STATS);
  assert_int_equal(o.n, 1);
  assert_int_equal(o.ts[0], 10);
  reopen(f);
  scan_all(f, col_of(f, "d", "d,h=a", "v"), &o, TS_SCAN_STATS);
  assert_int_equal(o.n, 1);
  /* drop the series: it disappears from metadata, also after restart */
  ts_meta_get(f->e, "db", &meta);
  mi = ts_meta_find(meta, "d");
  assert_int_equal(mi->n_series, 2);
  sid_a = strcmp(mi->series[0]->key, "d,h=a") ? mi->series[1]->sid : mi->series[0]->sid;
  ts_meta_release(meta);
  assert_int_equal(ts_engine_delete(f->e, "db", &sid_a, 1, INT64_MIN, INT64_MAX, true), 0);
  reopen(f);
  ts_meta_get(f->e, "db", &meta);
  mi = ts_meta_find(meta, "d");
  assert_int_equal(mi->n_series, 1);
  assert_string_equal(mi->series[0]->key, "d,h=b");
  ts_meta_release(meta);
}

static void test_compaction_keeps_newest(void **state) {
  fx *f = *state;
  for (int round = 0; round < 4; round++) {
    char body[128];
    sprintf(body, "c v=%d 100\nc v=%d %d\n", round, round, 200 + round);
    write_body(f, body);
    assert_int_equal(ts_engine_flush(f->e), 0);
  }
  ts_engine_stats st;
  ts_engine_stats_get(f->e, &st);
  assert_true(st.compactions >= 1);
  assert_true(st.segments <= 2);
  collected o;
  scan_all(f, col_of(f, "c", "c", "v"), &o, 0);
  assert_int_equal(o.n, 5);
  assert_true(o.v[0] == 3.0); /* ts 100 written 4 times: the last wins */
}

static void test_last_value(void **state) {
  fx *f = *state;
  write_body(f, "l v=1 5\nl v=2 50\nl v=3 20\n");
  uint32_t cid = col_of(f, "l", "l", "v");
  int64_t ts;
  ts_value v;
  loom_buf sb;
  loom_buf_init(&sb);
  assert_int_equal(ts_engine_last(f->e, cid, &ts, &v, &sb), 0);
  assert_int_equal(ts, 50);
  assert_true(v.f == 2.0);
  assert_int_equal(ts_engine_flush(f->e), 0);
  reopen(f);
  cid = col_of(f, "l", "l", "v");
  assert_int_equal(ts_engine_last(f->e, cid, &ts, &v, &sb), 0);
  assert_int_equal(ts, 50);
  loom_buf_deinit(&sb);
}

static void test_retention_drops_old_partitions(void **state) {
  fx *f = *state;
  int64_t now = loom_now_ns(), day = 86400 * LOOM_NS_PER_S;
  assert_int_equal(ts_db_create(f->e, "r", 0), 0);
  char body[128];
  snprintf(body, sizeof body, "x v=1 %lld\nx v=2 %lld\n", (long long)(now - 10 * day), (long long)now);
  lp_batch b;
  lp_batch_init(&b);
  lp_parse(&b, body, strlen(body), 1, 0);
  ts_write_result res;
  assert_int_equal(ts_engine_write_lp(f->e, "r", &b, body, strlen(body), 1, 0, &res, NULL, NULL), 0);
  lp_batch_deinit(&b);
  assert_int_equal(ts_engine_flush(f->e), 0);
  assert_int_equal(ts_db_set_retention(f->e, "r", 3 * day), 0);
  assert_int_equal(ts_engine_enforce_retention(f->e, now), 0);
  ts_meta *meta;
  ts_meta_get(f->e, "r", &meta);
  uint32_t cid = ts_meta_find(meta, "x")->series[0]->col_ids[0];
  ts_meta_release(meta);
  collected o;
  scan_all(f, cid, &o, 0);
  assert_int_equal(o.n, 1);
  assert_int_equal(o.ts[0], now);
}

/* Segment files named as earlier versions did still load; a .seg file with a
 * name that makes no sense stops the open with an error naming it, rather
 * than leaving its data silently out. */
static void test_segment_names_old_and_bad(void **state) {
  fx *f = *state;
  write_body(f, "n v=1 10\nn v=2 20\n");
  assert_int_equal(ts_engine_flush(f->e), 0);
  ts_engine_close(f->e);
  f->e = NULL;
  char dir[256], from[512], to[512];
  snprintf(dir, sizeof dir, "%s/data/db/0", f->dir);
  snprintf(from, sizeof from, "%s/0000000000000001-0000000000000001-0000000000000001.seg", dir);
  snprintf(to, sizeof to, "%s/0000000000000001.seg", dir);
  assert_int_equal(rename(from, to), 0);
  open_engine(f);
  collected o;
  scan_all(f, col_of(f, "n", "n", "v"), &o, 0);
  assert_int_equal(o.n, 2);
  ts_engine_close(f->e);
  f->e = NULL;
  snprintf(from, sizeof from, "%s/not-a-name.seg", dir);
  assert_int_equal(rename(to, from), 0);
  char err[512];
  ts_engine *e = NULL;
  assert_int_equal(ts_engine_open(&f->o, &e, err, sizeof err), LOOM_ECORRUPT);
  assert_null(e);
  assert_non_null(strstr(err, "not-a-name.seg"));
  assert_int_equal(rename(from, to), 0);
  open_engine(f);
}

/* A writer that outruns the flush waits for it: the active head never holds
 * much more than its limit when a write returns. */
static void test_head_bounded_by_backpressure(void **state) {
  fx *f = *state;
  ts_engine_close(f->e);
  f->o.head_max_bytes = 16384;
  f->o.durability = TS_BATCHED; /* acknowledged at once: nothing else slows the writer */
  open_engine(f);
  char *body = malloc(2000 * 64);
  assert_non_null(body);
  uint64_t worst = 0;
  for (int b = 0; b < 150; b++) {
    size_t len = 0;
    for (int i = 0; i < 2000; i++)
      len += (size_t)sprintf(body + len, "bp,s=s%d v=%d.25 %lld\n", i % 500, b * 7 + i,
                             1600000000000000000LL + (long long)(b * 2000 + i) * 1000000000LL);
    write_body(f, body);
    ts_engine_stats st;
    ts_engine_stats_get(f->e, &st);
    if (st.head_bytes > worst) worst = st.head_bytes;
  }
  free(body);
  assert_true(worst <= 16384 + 65536); /* the limit, plus one batch */
  collected *o = calloc(1, sizeof *o);
  scan_all(f, col_of(f, "bp", "bp,s=s7", "v"), o, 0);
  assert_int_equal(o->n, 150 * 4); /* nothing lost on the way */
  free(o);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_write_read_head, setup, teardown),
      cmocka_unit_test_setup_teardown(test_head_bounded_by_backpressure, setup, teardown),
      cmocka_unit_test_setup_teardown(test_out_of_order_and_duplicates, setup, teardown),
      cmocka_unit_test_setup_teardown(test_flush_restart_and_stats, setup, teardown),
      cmocka_unit_test_setup_teardown(test_wal_replay_after_crash_like_close, setup, teardown),
      cmocka_unit_test_setup_teardown(test_type_conflict_rejected, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unknown_db, setup, teardown),
      cmocka_unit_test_setup_teardown(test_delete_range_and_drop, setup, teardown),
      cmocka_unit_test_setup_teardown(test_compaction_keeps_newest, setup, teardown),
      cmocka_unit_test_setup_teardown(test_last_value, setup, teardown),
      cmocka_unit_test_setup_teardown(test_retention_drops_old_partitions, setup, teardown),
      cmocka_unit_test_setup_teardown(test_segment_names_old_and_bad, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
