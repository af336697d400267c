/* SPDX-License-Identifier: Apache-2.0
 * Fault injection on the storage path of the engine: WAL writes and fsyncs
 * that fail (through ts_engine_options.wal_io hooks), a full disk that comes
 * back, corrupted segment blocks and footers, and allocation failures
 * (loom_mem_fail_after) on the write and recovery paths. The promises
 * checked: a failed write is never acknowledged, an fsync failure makes the
 * engine read-only, disk full is transient, corruption is reported with the
 * file's name, nothing crashes or leaks.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/err.h"
#include "core/fsutil.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "ingest/lp.h"
#include "ts/engine.h"
#include "ts/segment.h"
#include "ts/wal.h"

/* ---- injected I/O: the hooks have no user pointer, so their switches are
 * file-level atomics (tests run one at a time) ---- */

static atomic_int fail_write_errno;  /* != 0: every write fails with it */
static atomic_long write_budget;     /* >= 0: bytes writable before ENOSPC */
static atomic_int fail_fsync;        /* != 0: every fsync fails with EIO */

static ssize_t hook_write(int fd, const void *buf, size_t n) {
  int e = atomic_load(&fail_write_errno);
  if (e) {
    errno = e;
    return -1;
  }
  long budget = atomic_load(&write_budget);
  if (budget >= 0) {
    if (budget == 0) {
      errno = ENOSPC;
      return -1;
    }
    if ((long)n > budget) n = (size_t)budget; /* a short write, as on a filling disk */
    atomic_fetch_sub(&write_budget, (long)n);
  }
  return write(fd, buf, n);
}

static int hook_fsync(int fd) {
  if (atomic_load(&fail_fsync)) {
    errno = EIO;
    return -1;
  }
  return fsync(fd);
}

static const ts_wal_io hooks = {.write_fn = hook_write, .fsync_fn = hook_fsync};

static void hooks_reset(void) {
  atomic_store(&fail_write_errno, 0);
  atomic_store(&write_budget, -1);
  atomic_store(&fail_fsync, 0);
}

/* ---- fixture ---- */

typedef struct fx {
  char dir[64];
  ts_engine_options o;
  ts_engine *e;
} fx;

static int open_engine(fx *f) {
  char err[1024] = "";
  int rc = ts_engine_open(&f->o, &f->e, err, sizeof err);
  if (rc) fprintf(stderr, "open: %s (%s)\n", loom_strerror(rc), err);
  return rc;
}

static int setup(void **state) {
  hooks_reset();
  fx *f = calloc(1, sizeof *f);
  assert_non_null(f);
  strcpy(f->dir, "/tmp/loom-faults-XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  ts_engine_options_default(&f->o);
  f->o.dir = f->dir;
  f->o.wal_io = &hooks;
  f->o.block_points = 16;
  assert_int_equal(open_engine(f), 0);
  assert_int_equal(ts_db_create(f->e, "db", 0), 0);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  hooks_reset();
  loom_mem_fail_after(-1);
  ts_engine_close(f->e);
  loom_rm_rf(f->dir);
  free(f);
  return 0;
}

static void reopen(fx *f) {
  ts_engine_close(f->e);
  f->e = NULL;
  assert_int_equal(open_engine(f), 0);
}

/* ---- writing ---- */

typedef struct waiter {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int calls, status;
} waiter;

#define WAITER_INIT {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER}

static void waiter_cb(void *arg, int status) {
  waiter *w = arg;
  pthread_mutex_lock(&w->mu);
  w->calls++;
  w->status = status;
  pthread_cond_signal(&w->cv);
  pthread_mutex_unlock(&w->mu);
}

/* Wait (at most 10 s) for the callback; returns its status. */
static int waiter_wait(waiter *w) {
  int64_t until = loom_mono_ns() + 10 * LOOM_NS_PER_S;
  pthread_mutex_lock(&w->mu);
  while (!w->calls && loom_mono_ns() < until) {
    pthread_mutex_unlock(&w->mu);
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
    pthread_mutex_lock(&w->mu);
  }
  int calls = w->calls, status = w->status;
  pthread_mutex_unlock(&w->mu);
  assert_int_equal(calls, 1);
  return status;
}

/* Points "m,s=<series> v=<ts*10>i <ts>" for ts in [from, from+n). */
static void make_body(loom_buf *b, const char *series, int64_t from, int n) {
  loom_buf_reset(b);
  for (int i = 0; i < n; i++)
    loom_buf_printf(b, "m,s=%s v=%lldi %lld\n", series, (long long)(from + i) * 10, (long long)(from + i));
}

/* Start a write of body into "db"; returns the call's code. lb must outlive
 * nothing: the engine copies what it keeps. */
static int start_write(fx *f, const loom_buf *body, waiter *w) {
  lp_batch lb;
  lp_batch_init(&lb);
  int rc = lp_parse(&lb, (const char *)body->data, body->len, 1, 0);
  assert_int_equal(rc, 0);
  ts_write_result res;
  rc = ts_engine_write_lp(f->e, "db", &lb, (const char *)body->data, body->len, 1, 0, &res,
                          waiter_cb, w);
  lp_batch_deinit(&lb);
  return rc;
}

/* Write and wait: returns the call's code, or the callback's status. */
static int write_points(fx *f, const char *series, int64_t from, int n) {
  loom_buf b;
  loom_buf_init(&b);
  make_body(&b, series, from, n);
  waiter w = WAITER_INIT;
  int rc = start_write(f, &b, &w);
  if (rc == 0) rc = waiter_wait(&w);
  loom_buf_deinit(&b);
  return rc;
}

/* ---- reading ---- */

static uint32_t col_of(ts_engine *e, const char *series) {
  ts_meta *meta;
  if (ts_meta_get(e, "db", &meta)) return UINT32_MAX;
  char key[64];
  snprintf(key, sizeof key, "m,s=%s", series);
  uint32_t cid = UINT32_MAX;
  const ts_measurement_info *mi = ts_meta_find(meta, "m");
  for (uint32_t i = 0; mi && i < mi->n_series; i++)
    if (!strcmp(mi->series[i]->key, key)) cid = mi->series[i]->col_ids[0];
  ts_meta_release(meta);
  return cid;
}

typedef struct found {
  int64_t n, bad;
  int64_t lo, hi;
} found;

static int found_cb(void *arg, const ts_chunk *c) {
  found *x = arg;
  for (uint32_t i = 0; i < c->n; i++) {
    if (((const int64_t *)c->vals)[i] != c->ts[i] * 10) x->bad++;
    if (!x->n || c->ts[i] < x->lo) x->lo = c->ts[i];
    if (!x->n || c->ts[i] > x->hi) x->hi = c->ts[i];
    x->n++;
  }
  return 0;
}

/* Points of series in [lo, hi]; scan errors go to *rc and err. */
static found scan_series(fx *f, const char *series, int64_t lo, int64_t hi, int *rc, char *err,
                         size_t errlen) {
  found x = {0};
  uint32_t cid = col_of(f->e, series);
  *rc = cid == UINT32_MAX ? LOOM_ENOTFOUND
                          : ts_engine_scan(f->e, cid, lo, hi, 0, found_cb, &x, err, errlen);
  assert_int_equal(x.bad, 0);
  return x;
}

/* Exactly the points [from, from+n) of series are stored. */
static void expect_points(fx *f, const char *series, int64_t from, int n) {
  int rc;
  char err[512] = "";
  found x = scan_series(f, series, INT64_MIN, INT64_MAX, &rc, err, sizeof err);
  if (rc) fprintf(stderr, "scan %s: %s %s\n", series, loom_strerror(rc), err);
  assert_int_equal(rc, 0);
  assert_int_equal(x.n, n);
  assert_int_equal(x.lo, from);
  assert_int_equal(x.hi, from + n - 1);
}

static bool engine_readonly(fx *f) {
  ts_engine_stats st;
  ts_engine_stats_get(f->e, &st);
  return st.readonly;
}

/* A copy of the store as a kill -9 would leave it now: dbs.json, the WAL
 * and the segments, taken while the engine runs. */
static void snapshot(const char *from, const char *to) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -a '%s' '%s'", to, from, to);
  assert_int_equal(system(cmd), 0);
}

/* ---- WAL write and fsync failures ---- */

static void test_failed_wal_write_is_not_acknowledged(void **state) {
  fx *f = *state;
  assert_int_equal(write_points(f, "a", 1, 10), 0);
  atomic_store(&fail_write_errno, EIO);
  int rc = write_points(f, "a", 100, 10);
  assert_true(rc < 0);
  assert_int_equal(rc, LOOM_EIO);
  hooks_reset();
  /* a failed write (other than disk full) leaves the log read-only */
  assert_true(engine_readonly(f));
  waiter w = WAITER_INIT;
  loom_buf b;
  loom_buf_init(&b);
  make_body(&b, "a", 200, 5);
  assert_int_equal(start_write(f, &b, &w), LOOM_EREADONLY);
  loom_buf_deinit(&b);
  reopen(f);
  assert_false(engine_readonly(f));
  expect_points(f, "a", 1, 10);
}

static void test_fsync_failure_makes_engine_readonly(void **state) {
  fx *f = *state;
  assert_int_equal(write_points(f, "a", 1, 10), 0);
  assert_false(engine_readonly(f));
  atomic_store(&fail_fsync, 1);
  int rc = write_points(f, "a", 100, 10);
  assert_int_equal(rc, LOOM_EIO);
  hooks_reset();
  /* read-only at once, for good, before any further write is tried */
  assert_true(engine_readonly(f));
  waiter w = WAITER_INIT;
  loom_buf b;
  loom_buf_init(&b);
  make_body(&b, "b", 200, 5);
  assert_int_equal(start_write(f, &b, &w), LOOM_EREADONLY);
  loom_buf_deinit(&b);
  /* a refused write stores nothing, not even in memory */
  assert_int_equal(col_of(f->e, "b"), UINT32_MAX);
  uint32_t sid = 0;
  assert_int_equal(ts_engine_delete(f->e, "db", &sid, 1, 0, 10, false), LOOM_EREADONLY);
  assert_int_equal(w.calls, 0);
  /* the acknowledged data survives a restart; the failed write may or may
   * not (its bytes may have reached the disk: failure is at-least-once) */
  reopen(f);
  assert_false(engine_readonly(f));
  int64_t lo = 1, hi = 200;
  char err[256];
  found x = scan_series(f, "a", lo, hi, &rc, err, sizeof err);
  assert_int_equal(rc, 0);
  assert_true(x.n == 10 || x.n == 20);
  assert_int_equal(x.lo, 1);
}

/* Many writers in one group: when the group's fsync fails, every one of
 * them hears it; none gets 0. */
static void test_failed_group_reports_every_write(void **state) {
  fx *f = *state;
  enum { N = 16 };
  waiter w[N];
  loom_buf b;
  loom_buf_init(&b);
  atomic_store(&fail_fsync, 1);
  int started = 0;
  for (int i = 0; i < N; i++) {
    waiter init = WAITER_INIT;
    w[i] = init;
    make_body(&b, "a", 1 + i * 10, 10);
    int rc = start_write(f, &b, &w[i]);
    if (rc == 0) started++;
    else assert_int_equal(rc, LOOM_EREADONLY); /* the first failure already came */
  }
  assert_true(started >= 1);
  for (int i = 0; i < started; i++) assert_true(waiter_wait(&w[i]) < 0);
  loom_buf_deinit(&b);
  hooks_reset();
  assert_true(engine_readonly(f));
}

static void test_disk_full_is_transient(void **state) {
  fx *f = *state;
  assert_int_equal(write_points(f, "a", 1, 10), 0);
  /* the disk fills in the middle of the next record: a short write, then ENOSPC */
  atomic_store(&write_budget, 40);
  assert_int_equal(write_points(f, "a", 100, 50), LOOM_ENOSPC);
  assert_int_equal(write_points(f, "a", 200, 50), LOOM_ENOSPC);
  assert_false(engine_readonly(f));
  /* space is back */
  hooks_reset();
  assert_int_equal(write_points(f, "c", 1, 10), 0);
  assert_int_equal(write_points(f, "c", 11, 10), 0);
  /* what a kill -9 now would leave: the failed record's bytes were cut off,
   * so the records written after it replay */
  char copy[128];
  snprintf(copy, sizeof copy, "%s.copy", f->dir);
  snapshot(f->dir, copy);
  ts_engine_options o = f->o;
  o.dir = copy;
  o.wal_io = NULL;
  ts_engine *e2 = NULL;
  char err[512];
  assert_int_equal(ts_engine_open(&o, &e2, err, sizeof err), 0);
  ts_engine *keep = f->e;
  f->e = e2;
  expect_points(f, "c", 1, 20);
  found x = scan_series(f, "a", INT64_MIN, INT64_MAX, &(int){0}, err, sizeof err);
  assert_int_equal(x.n, 10); /* the failed writes are not in the log */
  f->e = keep;
  ts_engine_close(e2);
  loom_rm_rf(copy);
}

/* Disk full while the WAL rotates for a flush: the flush fails and keeps
 * everything; once space is back it succeeds. */
static void test_disk_full_during_flush_rotation(void **state) {
  fx *f = *state;
  assert_int_equal(write_points(f, "a", 1, 30), 0);
  atomic_store(&write_budget, 0);
  assert_int_not_equal(ts_engine_flush(f->e), 0);
  assert_false(engine_readonly(f));
  hooks_reset();
  expect_points(f, "a", 1, 30);
  assert_int_equal(write_points(f, "a", 31, 10), 0);
  assert_int_equal(ts_engine_flush(f->e), 0);
  reopen(f);
  expect_points(f, "a", 1, 40);
}

/* ---- corrupted segments ---- */

/* Path of the store's only segment file. */
static void only_segment(fx *f, char *out, size_t cap) {
  char pdir[160];
  snprintf(pdir, sizeof pdir, "%s/data/db/0", f->dir);
  DIR *d = opendir(pdir);
  assert_non_null(d);
  struct dirent *de;
  int n = 0;
  while ((de = readdir(d))) {
    size_t l = strlen(de->d_name);
    if (l > 4 && !strcmp(de->d_name + l - 4, ".seg")) {
      snprintf(out, cap, "%s/%s", pdir, de->d_name);
      n++;
    }
  }
  closedir(d);
  assert_int_equal(n, 1);
}

static void flip_byte(const char *path, long off) {
  FILE *fp = fopen(path, "r+b");
  assert_non_null(fp);
  assert_int_equal(fseek(fp, off, SEEK_SET), 0);
  int c = fgetc(fp);
  assert_true(c != EOF);
  assert_int_equal(fseek(fp, off, SEEK_SET), 0);
  fputc(c ^ 0x20, fp);
  assert_int_equal(fclose(fp), 0);
}

static long file_len(const char *path) {
  struct stat sb;
  assert_int_equal(stat(path, &sb), 0);
  return (long)sb.st_size;
}

/* Flush 100 points of series a (7 blocks) into one segment and close. */
static void make_segment(fx *f, char *path, size_t cap) {
  assert_int_equal(write_points(f, "a", 1, 100), 0);
  assert_int_equal(ts_engine_flush(f->e), 0);
  ts_engine_close(f->e);
  f->e = NULL;
  only_segment(f, path, cap);
}

static void test_corrupt_block_is_reported_with_file(void **state) {
  fx *f = *state;
  char path[256];
  make_segment(f, path, sizeof path);
  /* find block 2 of the column and damage its middle */
  ts_segment *s;
  char err[512];
  assert_int_equal(ts_segment_open(path, &s, err, sizeof err), 0);
  const ts_seg_column *c = ts_segment_column(s, 0);
  assert_non_null(c);
  assert_true(c->n_blocks >= 3);
  long off = (long)(c->blocks[2].offset + c->blocks[2].len / 2);
  int64_t blo = c->blocks[2].stats.min_ts, bhi = c->blocks[2].stats.max_ts;
  ts_segment_close(s);
  flip_byte(path, off);
  /* the index is intact: the store opens; reading the block fails */
  assert_int_equal(open_engine(f), 0);
  int rc;
  err[0] = 0;
  scan_series(f, "a", INT64_MIN, INT64_MAX, &rc, err, sizeof err);
  assert_int_equal(rc, LOOM_ECORRUPT);
  assert_non_null(strstr(err, path));
  /* data in other blocks is still readable */
  found x = scan_series(f, "a", 1, blo - 1, &rc, err, sizeof err);
  assert_int_equal(rc, 0);
  assert_int_equal(x.n, blo - 1);
  x = scan_series(f, "a", bhi + 1, 100, &rc, err, sizeof err);
  assert_int_equal(rc, 0);
  assert_int_equal(x.n, 100 - bhi);
}

/* Damage at offset `from_end` bytes before the end of the segment: the
 * store refuses to open and names the file. */
static void corrupt_tail_refuses_open(fx *f, long from_end) {
  char path[256];
  make_segment(f, path, sizeof path);
  flip_byte(path, file_len(path) - from_end);
  char err[1024] = "";
  ts_engine *e = NULL;
  int rc = ts_engine_open(&f->o, &e, err, sizeof err);
  assert_null(e);
  assert_int_equal(rc, LOOM_ECORRUPT);
  assert_non_null(strstr(err, path));
}

static void test_corrupt_footer_index_refuses_open(void **state) {
  corrupt_tail_refuses_open(*state, TS_SEG_TRAILER_LEN + 3);
}

static void test_corrupt_trailer_refuses_open(void **state) {
  corrupt_tail_refuses_open(*state, 12);
}

static void test_truncated_segment_refuses_open(void **state) {
  fx *f = *state;
  char path[256];
  make_segment(f, path, sizeof path);
  assert_int_equal(truncate(path, file_len(path) / 2), 0);
  char err[1024] = "";
  ts_engine *e = NULL;
  assert_int_equal(ts_engine_open(&f->o, &e, err, sizeof err), LOOM_ECORRUPT);
  assert_non_null(strstr(err, path));
}

/* ---- allocation failures ---- */

static void test_alloc_failures_on_write_path(void **state) {
  fx *f = *state;
  int ok = 0, failed = 0;
  loom_buf b;
  loom_buf_init(&b);
  char *acked = calloc(400, 1);
  assert_non_null(acked);
  for (int n = 0; n < 400; n++) {
    char series[16];
    snprintf(series, sizeof series, "s%d", n); /* a new series each time: catalog allocations too */
    make_body(&b, series, 1, 3);
    lp_batch lb;
    lp_batch_init(&lb);
    assert_int_equal(lp_parse(&lb, (const char *)b.data, b.len, 1, 0), 0);
    waiter w = WAITER_INIT;
    ts_write_result res;
    loom_mem_fail_after(n / 4); /* every allocation from the (n/4)-th on fails */
    int rc = ts_engine_write_lp(f->e, "db", &lb, (const char *)b.data, b.len, 1, 0, &res,
                                waiter_cb, &w);
    loom_mem_fail_after(-1);
    lp_batch_deinit(&lb);
    if (rc == 0) {
      assert_int_equal(waiter_wait(&w), 0);
      acked[n] = 1;
      ok++;
    } else {
      assert_int_equal(rc, LOOM_ENOMEM);
      failed++;
      struct timespec ts = {0, 2000000};
      nanosleep(&ts, NULL);
      assert_int_equal(w.calls, 0); /* the callback never runs on error */
    }
  }
  loom_buf_deinit(&b);
  assert_true(failed > 0);
  assert_true(ok > 0);
  /* the engine still works, and everything acknowledged is kept */
  assert_int_equal(write_points(f, "z", 1, 5), 0);
  reopen(f);
  for (int n = 0; n < 400; n++) {
    if (!acked[n]) continue;
    char series[16];
    snprintf(series, sizeof series, "s%d", n);
    expect_points(f, series, 1, 3);
  }
  expect_points(f, "z", 1, 5);
  free(acked);
}

static void test_alloc_failures_in_recovery(void **state) {
  fx *f = *state;
  for (int i = 0; i < 20; i++) assert_int_equal(write_points(f, "a", 1 + i * 10, 10), 0);
  assert_int_equal(ts_engine_flush(f->e), 0);
  for (int i = 20; i < 30; i++) assert_int_equal(write_points(f, "a", 1 + i * 10, 10), 0);
  /* a kill -9 now: segments plus WAL */
  char copy[128];
  snprintf(copy, sizeof copy, "%s.copy", f->dir);
  snapshot(f->dir, copy);
  ts_engine_close(f->e);
  f->e = NULL;
  f->o.wal_io = NULL;
  snapshot(copy, f->dir);
  loom_rm_rf(copy);
  /* no fresh copy between attempts: a failed open must not damage the store */
  int fails = 0;
  for (int n = 0;; n += 1 + n / 16) {
    loom_mem_fail_after(n);
    char err[512] = "";
    int rc = ts_engine_open(&f->o, &f->e, err, sizeof err);
    loom_mem_fail_after(-1);
    if (rc == 0) break;
    fails++;
    assert_null(f->e);
    assert_int_equal(rc, LOOM_ENOMEM);
    assert_true(n < 10000);
  }
  assert_true(fails > 0);
  expect_points(f, "a", 1, 300);
}

/* ---- a flush that fails while other columns are written ---- */

typedef struct flush_arg {
  ts_engine *e;
  int rc;
} flush_arg;

static void *flush_thread(void *p) {
  flush_arg *a = p;
  a->rc = ts_engine_flush(a->e);
  return NULL;
}

/* Write one point into each of n new series "<m>,s=<i>"; waits for the ack. */
static void write_series(fx *f, const char *m, int n) {
  loom_buf b;
  loom_buf_init(&b);
  for (int i = 0; i < n; i++) loom_buf_printf(&b, "%s,s=%d v=%di 5\n", m, i, i);
  waiter w = WAITER_INIT;
  assert_int_equal(start_write(f, &b, &w), 0);
  assert_int_equal(waiter_wait(&w), 0);
  loom_buf_deinit(&b);
}

static int count_series(fx *f, const char *m) {
  ts_meta *meta;
  assert_int_equal(ts_meta_get(f->e, "db", &meta), 0);
  const ts_measurement_info *mi = ts_meta_find(meta, m);
  int n = 0;
  for (uint32_t i = 0; mi && i < mi->n_series; i++) {
    found x = {0};
    char err[256];
    assert_int_equal(ts_engine_scan(f->e, mi->series[i]->col_ids[0], INT64_MIN, INT64_MAX, 0,
                                    found_cb, &x, err, sizeof err), 0);
    n += x.n == 1;
  }
  ts_meta_release(meta);
  return n;
}

/* A flush fails (its segment cannot be renamed into place) while another
 * write dirties as many new columns as the dirty list holds: the columns of
 * the failed flush must be flushed by the next one, not forgotten in memory
 * while their WAL is removed. */
static void test_failed_flush_forgets_no_column(void **state) {
  fx *f = *state;
  write_series(f, "a", 1024); /* fills the dirty list (1024 entries) */
  /* the first flush's segment path is taken by a directory: rename fails */
  char block[256];
  snprintf(block, sizeof block, "%s/data/db/0/0000000000000001-0000000000000001-0000000000000001.seg/x", f->dir);
  assert_int_equal(loom_mkdir_p(block), 0);
  flush_arg fa = {.e = f->e};
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, flush_thread, &fa), 0);
  struct timespec ts = {0, 1000000};
  nanosleep(&ts, NULL);
  write_series(f, "b", 1024); /* most likely lands while the flush writes */
  pthread_join(t, NULL);
  assert_int_not_equal(fa.rc, 0);
  *strrchr(block, '/') = 0;
  assert_int_equal(loom_rm_rf(block), 0);
  assert_int_equal(ts_engine_flush(f->e), 0);
  reopen(f);
  assert_int_equal(count_series(f, "a"), 1024);
  assert_int_equal(count_series(f, "b"), 1024);
}

/* Allocation failures inside a flush (which then also fail putting the
 * frozen points back) and the compaction after it: nothing acknowledged is
 * lost, nothing leaks. */
static void test_alloc_failures_in_flush(void **state) {
  fx *f = *state;
  f->o.compact_threshold = 1; /* every flush also compacts: failures there too */
  reopen(f);
  int64_t next = 1;
  int failed = 0;
  for (int n = 0; n < 120; n++) {
    assert_int_equal(write_points(f, "a", next, 20), 0);
    next += 20;
    loom_mem_fail_after(n / 2);
    int rc = ts_engine_flush(f->e);
    loom_mem_fail_after(-1);
    if (rc) {
      assert_int_equal(rc, LOOM_ENOMEM);
      failed++;
    }
    expect_points(f, "a", 1, (int)(next - 1));
  }
  assert_true(failed > 0);
  assert_int_equal(write_points(f, "a", next, 20), 0);
  next += 20;
  assert_int_equal(ts_engine_flush(f->e), 0);
  reopen(f);
  expect_points(f, "a", 1, (int)(next - 1));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_failed_wal_write_is_not_acknowledged, setup, teardown),
      cmocka_unit_test_setup_teardown(test_fsync_failure_makes_engine_readonly, setup, teardown),
      cmocka_unit_test_setup_teardown(test_failed_group_reports_every_write, setup, teardown),
      cmocka_unit_test_setup_teardown(test_disk_full_is_transient, setup, teardown),
      cmocka_unit_test_setup_teardown(test_disk_full_during_flush_rotation, setup, teardown),
      cmocka_unit_test_setup_teardown(test_corrupt_block_is_reported_with_file, setup, teardown),
      cmocka_unit_test_setup_teardown(test_corrupt_footer_index_refuses_open, setup, teardown),
      cmocka_unit_test_setup_teardown(test_corrupt_trailer_refuses_open, setup, teardown),
      cmocka_unit_test_setup_teardown(test_truncated_segment_refuses_open, setup, teardown),
      cmocka_unit_test_setup_teardown(test_failed_flush_forgets_no_column, setup, teardown),
      cmocka_unit_test_setup_teardown(test_alloc_failures_on_write_path, setup, teardown),
      cmocka_unit_test_setup_teardown(test_alloc_failures_in_flush, setup, teardown),
      cmocka_unit_test_setup_teardown(test_alloc_failures_in_recovery, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
