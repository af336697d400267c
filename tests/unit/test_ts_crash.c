/* SPDX-License-Identifier: Apache-2.0
 * Crash tests of the storage engine. A forked child writes batches in
 * durable mode and reports each acknowledged batch through a pipe; the parent
 * kills it with SIGKILL (at random, in a flush, or in a compaction), reopens
 * the store and checks every acknowledged point with its value. Then the
 * states a crash can leave behind, built deterministically: a torn WAL tail
 * at many offsets, garbage after the last record, a crash between segment
 * write and WAL removal, a crash between compaction and input removal.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/err.h"
#include "core/fsutil.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "ingest/lp.h"
#include "ts/engine.h"

/* Batch b writes P_FRESH new points at ts = b*P_FRESH + i + 1 (ns), and for
 * b >= REWRITE_LAG rewrites the first P_REWRITE points of batch
 * b - REWRITE_LAG. Field v (integer) = b << 32 | ts says which batch wrote the
 * value; field f (float) = ts / 4 never changes. */
#define P_FRESH 16
#define P_REWRITE 4
#define REWRITE_LAG 4
#define MAX_BATCHES 20000
#define WINDOW 4 /* batches in flight in the child */

typedef struct fx {
  char dir[64];
} fx;

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  assert_non_null(f);
  strcpy(f->dir, "/tmp/loom-crash-XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  loom_rm_rf(f->dir);
  free(f);
  return 0;
}

static void sleep_us(long us) {
  struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
  nanosleep(&ts, NULL);
}

/* ---- the workload ---- */

static int64_t v_of(uint32_t b, int64_t ts) { return (int64_t)((uint64_t)b << 32 | (uint64_t)ts); }

static void batch_body(uint32_t b, loom_buf *out) {
  loom_buf_reset(out);
  for (uint32_t i = 0; i < P_FRESH; i++) {
    int64_t ts = (int64_t)b * P_FRESH + i + 1;
    loom_buf_printf(out, "m,s=a v=%lldi,f=%.2f %lld\n", (long long)v_of(b, ts), (double)ts / 4,
                    (long long)ts);
  }
  if (b >= REWRITE_LAG)
    for (uint32_t i = 0; i < P_REWRITE; i++) {
      int64_t ts = (int64_t)(b - REWRITE_LAG) * P_FRESH + i + 1;
      loom_buf_printf(out, "m,s=a v=%lldi,f=%.2f %lld\n", (long long)v_of(b, ts), (double)ts / 4,
                      (long long)ts);
    }
}

static void default_options(ts_engine_options *o, const char *dir) {
  ts_engine_options_default(o);
  o->dir = dir;
  o->durability = TS_DURABLE;
}

/* Parse and write batch b into database "db". Returns the call's code. */
static int write_batch(ts_engine *e, uint32_t b, ts_write_cb cb, void *arg) {
  loom_buf body;
  loom_buf_init(&body);
  batch_body(b, &body);
  lp_batch lb;
  lp_batch_init(&lb);
  int rc = lp_parse(&lb, (const char *)body.data, body.len, 1, 0);
  if (!rc && lb.n_errors) rc = LOOM_EINVAL;
  ts_write_result res;
  if (!rc) rc = ts_engine_write_lp(e, "db", &lb, (const char *)body.data, body.len, 1, 0, &res, cb, arg);
  lp_batch_deinit(&lb);
  loom_buf_deinit(&body);
  return rc;
}

typedef struct waiter {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int calls, status;
} waiter;

static void waiter_cb(void *arg, int status) {
  waiter *w = arg;
  pthread_mutex_lock(&w->mu);
  w->calls++;
  w->status = status;
  pthread_cond_signal(&w->cv);
  pthread_mutex_unlock(&w->mu);
}

/* Write batch b and wait for its acknowledgement; asserts it was durable. */
static void write_batch_sync(ts_engine *e, uint32_t b) {
  waiter w = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
  assert_int_equal(write_batch(e, b, waiter_cb, &w), 0);
  pthread_mutex_lock(&w.mu);
  while (!w.calls) pthread_cond_wait(&w.cv, &w.mu);
  pthread_mutex_unlock(&w.mu);
  assert_int_equal(w.calls, 1);
  assert_int_equal(w.status, 0);
}

/* ---- reading back ---- */

typedef struct points {
  int64_t *ts;
  int64_t *v;    /* ints, or doubles stored bit for bit */
  uint32_t n, cap;
  uint64_t stats_points; /* points delivered as stats-only chunks */
  double stats_sum_f;
  int64_t stats_sum_i;
  int desc_errors;       /* timestamps not strictly ascending */
} points;

static int points_cb(void *arg, const ts_chunk *c) {
  points *p = arg;
  if (c->stats) {
    p->stats_points += c->stats->count;
    p->stats_sum_f += c->stats->sum_f;
    p->stats_sum_i += c->stats->sum_i;
    return 0;
  }
  if (p->n + c->n > p->cap) {
    uint32_t cap = (p->n + c->n) * 2;
    p->ts = realloc(p->ts, cap * sizeof *p->ts);
    p->v = realloc(p->v, cap * sizeof *p->v);
    assert_non_null(p->ts);
    assert_non_null(p->v);
    p->cap = cap;
  }
  for (uint32_t i = 0; i < c->n; i++) {
    if (p->n && c->ts[i] <= p->ts[p->n - 1]) p->desc_errors++;
    p->ts[p->n] = c->ts[i];
    if (c->type == TS_FLOAT) memcpy(&p->v[p->n], (const double *)c->vals + i, sizeof(double));
    else p->v[p->n] = ((const int64_t *)c->vals)[i];
    p->n++;
  }
  return 0;
}

static void points_free(points *p) {
  free(p->ts);
  free(p->v);
  memset(p, 0, sizeof *p);
}

/* Column id of m,s=a field `field`, or UINT32_MAX when it does not exist. */
static uint32_t col_of(ts_engine *e, const char *field) {
  ts_meta *meta;
  if (ts_meta_get(e, "db", &meta)) return UINT32_MAX;
  uint32_t cid = UINT32_MAX;
  const ts_measurement_info *mi = ts_meta_find(meta, "m");
  for (uint32_t i = 0; mi && i < mi->n_series; i++) {
    if (strcmp(mi->series[i]->key, "m,s=a")) continue;
    for (uint32_t c = 0; c < mi->series[i]->n_cols; c++)
      if (!strcmp(mi->fields[mi->series[i]->field_idx[c]].name, field))
        cid = mi->series[i]->col_ids[c];
  }
  ts_meta_release(meta);
  return cid;
}

static void scan_field(ts_engine *e, const char *field, int flags, points *out) {
  memset(out, 0, sizeof *out);
  uint32_t cid = col_of(e, field);
  if (cid == UINT32_MAX) return;
  char err[512] = "";
  int rc = ts_engine_scan(e, cid, INT64_MIN, INT64_MAX, flags, points_cb, out, err, sizeof err);
  if (rc) fprintf(stderr, "scan: %s (%s)\n", loom_strerror(rc), err);
  assert_int_equal(rc, 0);
  assert_int_equal(out->desc_errors, 0);
}

static ts_engine *open_store(const ts_engine_options *o) {
  ts_engine *e = NULL;
  char err[1024] = "";
  int rc = ts_engine_open(o, &e, err, sizeof err);
  if (rc) fprintf(stderr, "open %s: %s (%s)\n", o->dir, loom_strerror(rc), err);
  assert_int_equal(rc, 0);
  return e;
}

/* Check the store against the acknowledged batches: every point an acked
 * batch wrote is there, with the value of the newest acked writer or of a
 * later (unacked but possibly logged) writer; nothing else is there.
 * n_written bounds the batches the writer may have started. */
static void verify(ts_engine *e, const unsigned char *acked, uint32_t n_written) {
  points pv, pf;
  scan_field(e, "v", 0, &pv);
  scan_field(e, "f", 0, &pf);
  int64_t max_ts = (int64_t)n_written * P_FRESH;
  unsigned char *seen = calloc((size_t)max_ts + 1, 1);
  assert_non_null(seen);
  for (uint32_t i = 0; i < pv.n; i++) {
    int64_t ts = pv.ts[i];
    if (ts < 1 || ts > max_ts) fail_msg("point at ts %lld was never written", (long long)ts);
    if ((pv.v[i] & 0xffffffff) != ts) fail_msg("ts %lld: value %llx of another point", (long long)ts, (unsigned long long)pv.v[i]);
    uint32_t wb = (uint32_t)((uint64_t)pv.v[i] >> 32);
    uint32_t fresh = (uint32_t)((ts - 1) / P_FRESH);
    bool rewritten = (ts - 1) % P_FRESH < P_REWRITE;
    uint32_t re = fresh + REWRITE_LAG;
    if (wb >= n_written) fail_msg("ts %lld: value from batch %u, never written", (long long)ts, wb);
    if (wb != fresh && !(rewritten && wb == re))
      fail_msg("ts %lld: value from batch %u, which did not write it", (long long)ts, wb);
    if (rewritten && re < n_written && acked[re] && wb != re)
      fail_msg("ts %lld: value from batch %u but batch %u (acknowledged) overwrote it", (long long)ts, wb, re);
    seen[ts] = 1;
  }
  for (int64_t ts = 1; ts <= max_ts; ts++) {
    uint32_t fresh = (uint32_t)((ts - 1) / P_FRESH);
    uint32_t re = fresh + REWRITE_LAG;
    bool must = acked[fresh] || ((ts - 1) % P_FRESH < P_REWRITE && re < n_written && acked[re]);
    if (must && !seen[ts]) fail_msg("acknowledged point at ts %lld is missing", (long long)ts);
  }
  /* the float field: same timestamps, value ts/4 */
  assert_int_equal(pf.n, pv.n);
  for (uint32_t i = 0; i < pf.n; i++) {
    double d;
    memcpy(&d, &pf.v[i], sizeof d);
    assert_int_equal(pf.ts[i], pv.ts[i]);
    if (d != (double)pf.ts[i] / 4) fail_msg("ts %lld: f=%g", (long long)pf.ts[i], d);
  }
  free(seen);
  points_free(&pv);
  points_free(&pf);
}

/* ---- the writer child ---- */

typedef struct child {
  int fd; /* pipe to the parent */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int in_flight;
} child;

typedef struct child_ack {
  child *c;
  uint32_t batch;
} child_ack;

/* Runs on the WAL thread: report the batch (or a failure, as ~batch). */
static void child_done(void *arg, int status) {
  child_ack *a = arg;
  uint32_t msg = status == 0 ? a->batch : ~a->batch;
  if (write(a->c->fd, &msg, sizeof msg) != sizeof msg) _exit(3);
  pthread_mutex_lock(&a->c->mu);
  a->c->in_flight--;
  pthread_cond_signal(&a->c->cv);
  pthread_mutex_unlock(&a->c->mu);
  free(a);
}

/* The child: open the store, write batches until killed (or a time limit).
 * Before each write it sends the batch number | 0x80000000 ("started"). */
static void child_main(const ts_engine_options *o, int fd) {
  ts_engine *e = NULL;
  char err[1024];
  if (ts_engine_open(o, &e, err, sizeof err) || ts_db_create(e, "db", 0)) _exit(2);
  child c = {.fd = fd, .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
  int64_t deadline = loom_mono_ns() + 20 * LOOM_NS_PER_S;
  for (uint32_t b = 0; b < MAX_BATCHES && loom_mono_ns() < deadline; b++) {
    pthread_mutex_lock(&c.mu);
    while (c.in_flight >= WINDOW) pthread_cond_wait(&c.cv, &c.mu);
    c.in_flight++;
    pthread_mutex_unlock(&c.mu);
    uint32_t started = b | 0x80000000u;
    if (write(fd, &started, sizeof started) != sizeof started) _exit(3);
    child_ack *a = malloc(sizeof *a);
    if (!a) _exit(4);
    a->c = &c;
    a->batch = b;
    if (write_batch(e, b, child_done, a)) _exit(5);
    if (o->durability == TS_BATCHED) sleep_us(300); /* acks come at once: pace the writer */
  }
  _exit(0);
}

enum { KILL_RANDOM = 0, KILL_IN_FLUSH = 1, KILL_IN_COMPACTION = 2, KILL_BATCHED = 3 };

/* Batched mode: a write acknowledged this long before the kill is on disk
 * (the writer writes at least every batch_interval_ms = 100). */
#define BATCHED_SETTLE_US 1200000

/* Segment files and temporaries in the store's only partition. */
static void count_files(const char *dir, int *segs, int *tmps) {
  char path[256];
  snprintf(path, sizeof path, "%s/data/db/0", dir);
  *segs = *tmps = 0;
  DIR *d = opendir(path);
  if (!d) return;
  struct dirent *de;
  while ((de = readdir(d))) {
    size_t n = strlen(de->d_name);
    if (n > 4 && !strcmp(de->d_name + n - 4, ".tmp")) (*tmps)++;
    else if (n > 4 && !strcmp(de->d_name + n - 4, ".seg")) (*segs)++;
  }
  closedir(d);
}

typedef struct trial_report {
  uint32_t acks, started;
  bool hit; /* the kill landed in the targeted moment */
} trial_report;

/* Read pipe messages without blocking; returns false at EOF. */
static bool drain(int fd, unsigned char *acked, trial_report *r) {
  uint32_t msg;
  for (;;) {
    ssize_t n = read(fd, &msg, sizeof msg);
    if (n == 0) return false;
    if (n < 0) return true; /* EAGAIN */
    assert_int_equal(n, sizeof msg);
    if (msg & 0x80000000u) {
      uint32_t b = msg & 0x7fffffffu;
      if (b + 1 > r->started) r->started = b + 1;
      continue;
    }
    if (msg >= MAX_BATCHES) fail_msg("the child saw a failed write (batch %u)", ~msg);
    acked[msg] = 1;
    r->acks++;
  }
}

static void run_trial(const char *dir, const ts_engine_options *o, int mode, uint32_t min_acks,
                      trial_report *r) {
  memset(r, 0, sizeof *r);
  unsigned char *acked = calloc(MAX_BATCHES, 1);
  assert_non_null(acked);
  int p[2];
  assert_int_equal(pipe(p), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(p[0]);
    child_main(o, p[1]);
  }
  close(p[1]);
  fcntl(p[0], F_SETFL, O_NONBLOCK);
  int64_t deadline = loom_mono_ns() + 8 * LOOM_NS_PER_S;
  bool alive = true;
  while (alive && r->acks < min_acks && loom_mono_ns() < deadline) {
    alive = drain(p[0], acked, r);
    sleep_us(200);
  }
  assert_true(r->acks >= min_acks);
  unsigned char *must = acked;
  if (mode == KILL_BATCHED) {
    /* only what was acknowledged well before the kill must survive */
    must = malloc(MAX_BATCHES);
    assert_non_null(must);
    memcpy(must, acked, MAX_BATCHES);
    int64_t until = loom_mono_ns() + BATCHED_SETTLE_US * 1000ll;
    while (loom_mono_ns() < until) {
      drain(p[0], acked, r);
      sleep_us(1000);
    }
    r->hit = true;
  } else if (mode == KILL_RANDOM) {
    sleep_us(rand() % 20000);
    r->hit = true;
  } else {
    /* poll for a segment being written (a .tmp), during a compaction when
     * the partition holds more segments than the threshold */
    int64_t until = loom_mono_ns() + 3 * LOOM_NS_PER_S;
    while (loom_mono_ns() < until) {
      int segs, tmps;
      count_files(dir, &segs, &tmps);
      if (tmps && (mode == KILL_IN_FLUSH || segs > (int)o->compact_threshold)) {
        r->hit = true;
        break;
      }
      drain(p[0], acked, r);
    }
  }
  kill(pid, SIGKILL);
  int st;
  assert_int_equal(waitpid(pid, &st, 0), pid);
  assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
  fcntl(p[0], F_SETFL, 0);
  while (drain(p[0], acked, r)) {
  }
  close(p[0]);

  ts_engine *e = open_store(o);
  verify(e, must, r->started);
  ts_engine_close(e);
  /* and once more: recovery left a store that recovers again the same */
  e = open_store(o);
  verify(e, must, r->started);
  ts_engine_close(e);
  if (must != acked) free(must);
  free(acked);
}

static void crash_trials(fx *f, int mode, int n_trials) {
  ts_engine_options o;
  default_options(&o, f->dir);
  if (mode == KILL_BATCHED) o.durability = TS_BATCHED;
  o.head_max_bytes = 2048; /* flush every few batches */
  o.block_points = 64;
  o.compact_threshold = 2; /* and compact every few flushes */
  srand((unsigned)time(NULL) ^ (unsigned)getpid());
  int hits = 0;
  for (int t = 0; t < n_trials; t++) {
    char sub[128];
    snprintf(sub, sizeof sub, "%s/t%d", f->dir, t);
    o.dir = sub;
    trial_report r;
    run_trial(sub, &o, mode, 20 + (uint32_t)(rand() % 150), &r);
    hits += r.hit;
    loom_rm_rf(sub);
  }
  print_message("    %d/%d kills landed in the targeted moment\n", hits, n_trials);
  /* the targeted kills must mostly land (else the test tests nothing) */
  assert_true(hits * 2 >= n_trials);
}

static void test_kill9_random_keeps_acked(void **state) { crash_trials(*state, KILL_RANDOM, 6); }
static void test_kill9_in_flush_keeps_acked(void **state) { crash_trials(*state, KILL_IN_FLUSH, 5); }
static void test_kill9_in_compaction_keeps_acked(void **state) {
  crash_trials(*state, KILL_IN_COMPACTION, 5);
}
/* Batched mode: the loss is bounded by the fsync window, the store is never
 * corrupt (every point there has its right value) and opens. */
static void test_kill9_batched_loses_only_the_window(void **state) {
  crash_trials(*state, KILL_BATCHED, 3);
}

/* ---- crash states built by hand ---- */

static void read_file(const char *path, loom_buf *out) {
  loom_buf_reset(out);
  FILE *fp = fopen(path, "rb");
  assert_non_null(fp);
  char tmp[8192];
  size_t n;
  while ((n = fread(tmp, 1, sizeof tmp, fp)) > 0) assert_int_equal(loom_buf_append(out, tmp, n), 0);
  fclose(fp);
}

static void write_file(const char *path, const void *data, size_t len) {
  FILE *fp = fopen(path, "wb");
  assert_non_null(fp);
  if (len) assert_int_equal(fwrite(data, 1, len, fp), len);
  assert_int_equal(fclose(fp), 0);
}

static off_t file_size(const char *path) {
  struct stat sb;
  assert_int_equal(stat(path, &sb), 0);
  return sb.st_size;
}

/* The only WAL file of a fresh store. */
static void wal_path(const char *dir, uint64_t id, char *out, size_t cap) {
  snprintf(out, cap, "%s/wal/wal-%016llx.log", dir, (unsigned long long)id);
}

/* Write n batches into a fresh store, one at a time; ends[b] = size of the
 * WAL file once batch b was acknowledged (the end of its record). Copies the
 * WAL image to *img before closing the store. */
static void make_wal(const ts_engine_options *o, uint32_t n, off_t *ends, loom_buf *img) {
  ts_engine *e = open_store(o);
  assert_int_equal(ts_db_create(e, "db", 0), 0);
  char path[256];
  wal_path(o->dir, 1, path, sizeof path);
  for (uint32_t b = 0; b < n; b++) {
    write_batch_sync(e, b);
    ends[b] = file_size(path);
  }
  read_file(path, img);
  assert_int_equal(img->len, (size_t)ends[n - 1]);
  ts_engine_close(e);
}

/* Empty the store but for dbs.json and put img[0..len) as WAL file 1. */
static void reset_with_wal(const char *dir, const loom_buf *img, size_t len) {
  char path[256];
  snprintf(path, sizeof path, "%s/data", dir);
  assert_int_equal(loom_rm_rf(path), 0);
  snprintf(path, sizeof path, "%s/wal", dir);
  assert_int_equal(loom_rm_rf(path), 0);
  assert_int_equal(loom_mkdir_p(path), 0);
  wal_path(dir, 1, path, sizeof path);
  write_file(path, img->data, len);
}

/* Batches 0..n_complete-1 must be there and nothing after them. */
static void expect_batches(ts_engine *e, uint32_t n_complete) {
  unsigned char acked[64] = {0};
  for (uint32_t b = 0; b < n_complete; b++) acked[b] = 1;
  verify(e, acked, n_complete); /* nothing of a later batch may appear */
}

static void test_torn_wal_tail_keeps_complete_records(void **state) {
  fx *f = *state;
  ts_engine_options o;
  default_options(&o, f->dir);
  enum { N = 12 };
  off_t ends[N];
  loom_buf img;
  loom_buf_init(&img);
  make_wal(&o, N, ends, &img);
  const off_t hdr = 24; /* TS_WAL_HEADER_LEN */
  /* cut points: inside the file header, and for each record: one byte into
   * its frame, in its frame header, in its payload, one byte short, exact */
  off_t cuts[6 * N + 3];
  int nc = 0;
  cuts[nc++] = 0;
  cuts[nc++] = 10;
  cuts[nc++] = hdr;
  for (uint32_t b = 0; b < N; b++) {
    off_t start = b ? ends[b - 1] : hdr;
    cuts[nc++] = start + 1;
    cuts[nc++] = start + 8;
    cuts[nc++] = start + 9 + (ends[b] - start - 9) / 2;
    cuts[nc++] = ends[b] - 1;
    cuts[nc++] = ends[b];
  }
  char path[256];
  wal_path(f->dir, 1, path, sizeof path);
  for (int i = 0; i < nc; i++) {
    reset_with_wal(f->dir, &img, (size_t)cuts[i]);
    uint32_t complete = 0;
    while (complete < N && ends[complete] <= cuts[i]) complete++;
    ts_engine *e = open_store(&o);
    expect_batches(e, complete);
    /* the torn tail was cut back to the last complete record (a file too
     * short to hold a header is removed) */
    struct stat sb;
    if (cuts[i] < hdr) assert_int_not_equal(stat(path, &sb), 0);
    else assert_int_equal(file_size(path), complete ? ends[complete - 1] : hdr);
    ts_engine_close(e);
    /* after the repair and a clean close, the data is all there again */
    e = open_store(&o);
    expect_batches(e, complete);
    ts_engine_close(e);
  }
  loom_buf_deinit(&img);
}

static void test_wal_garbage_tail_is_dropped(void **state) {
  fx *f = *state;
  ts_engine_options o;
  default_options(&o, f->dir);
  enum { N = 6 };
  off_t ends[N];
  loom_buf img, bad;
  loom_buf_init(&img);
  loom_buf_init(&bad);
  make_wal(&o, N, ends, &img);
  char path[256];
  wal_path(f->dir, 1, path, sizeof path);
  for (int kind = 0; kind < 4; kind++) {
    loom_buf_reset(&bad);
    loom_buf_append(&bad, img.data, img.len);
    if (kind == 0) { /* random bytes */
      for (int i = 0; i < 300; i++) loom_buf_append_u8(&bad, (uint8_t)rand());
    } else if (kind == 1) { /* zeros, as after a crash on some file systems */
      for (int i = 0; i < 4096; i++) loom_buf_append_u8(&bad, 0);
    } else if (kind == 2) { /* a plausible frame with a wrong CRC */
      static const uint8_t frame[] = {5, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef, 1, 'h', 'e', 'l', 'l', 'o'};
      loom_buf_append(&bad, frame, sizeof frame);
    } else { /* a length beyond the maximum */
      static const uint8_t frame[] = {0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0, 1};
      loom_buf_append(&bad, frame, sizeof frame);
    }
    reset_with_wal(f->dir, &bad, bad.len);
    ts_engine *e = open_store(&o);
    expect_batches(e, N);
    assert_int_equal(file_size(path), ends[N - 1]);
    ts_engine_close(e);
  }
  loom_buf_deinit(&img);
  loom_buf_deinit(&bad);
}

/* Copy every *.seg of the store's partition into mem (names and bytes). */
typedef struct saved_file {
  char path[256];
  loom_buf data;
} saved_file;

static int save_segments(const char *dir, saved_file *out, int cap) {
  char pdir[160];
  snprintf(pdir, sizeof pdir, "%s/data/db/0", dir);
  DIR *d = opendir(pdir);
  assert_non_null(d);
  struct dirent *de;
  int n = 0;
  while ((de = readdir(d))) {
    size_t l = strlen(de->d_name);
    if (l < 5 || strcmp(de->d_name + l - 4, ".seg")) continue;
    assert_true(n < cap);
    snprintf(out[n].path, sizeof out[n].path, "%s/%s", pdir, de->d_name);
    loom_buf_init(&out[n].data);
    read_file(out[n].path, &out[n].data);
    n++;
  }
  closedir(d);
  return n;
}

/* Expected content after writing batches 0..n-1 (each acked): count and sum
 * of field f, checked point by point and through stats-only chunks. */
static void expect_no_double_count(ts_engine *e, uint32_t n) {
  unsigned char acked[64] = {0};
  for (uint32_t b = 0; b < n; b++) acked[b] = 1;
  verify(e, acked, n);
  points p;
  scan_field(e, "f", TS_SCAN_STATS, &p);
  double sum = p.stats_sum_f;
  for (uint32_t i = 0; i < p.n; i++) {
    double d;
    memcpy(&d, &p.v[i], sizeof d);
    sum += d;
  }
  uint64_t count = n * P_FRESH;
  double want = (double)count * (double)(count + 1) / 2 / 4;
  assert_int_equal(p.n + p.stats_points, count);
  assert_true(sum == want);
  points_free(&p);
}

static void test_crash_between_segment_write_and_wal_removal(void **state) {
  fx *f = *state;
  ts_engine_options o;
  default_options(&o, f->dir);
  o.block_points = 16;
  o.compact_threshold = 100;
  enum { N = 10 };
  ts_engine *e = open_store(&o);
  assert_int_equal(ts_db_create(e, "db", 0), 0);
  for (uint32_t b = 0; b < N; b++) write_batch_sync(e, b);
  char path[256];
  wal_path(f->dir, 1, path, sizeof path);
  loom_buf img;
  loom_buf_init(&img);
  read_file(path, &img);
  /* the flush writes the segment and then removes WAL file 1 */
  assert_int_equal(ts_engine_flush(e), 0);
  assert_int_not_equal(access(path, F_OK), 0);
  ts_engine_close(e);
  /* the crash: the removal did not happen */
  write_file(path, img.data, img.len);
  e = open_store(&o);
  expect_no_double_count(e, N);
  /* flushing the replayed copy again and compacting keeps one of each */
  assert_int_equal(ts_engine_flush(e), 0);
  expect_no_double_count(e, N);
  ts_engine_close(e);
  o.compact_threshold = 1;
  e = open_store(&o);
  assert_int_equal(ts_engine_flush(e), 0);
  ts_engine_stats st;
  ts_engine_stats_get(e, &st);
  assert_int_equal(st.segments, 1);
  expect_no_double_count(e, N);
  ts_engine_close(e);
  loom_buf_deinit(&img);
}

static void test_crash_between_compaction_and_input_removal(void **state) {
  fx *f = *state;
  ts_engine_options o;
  default_options(&o, f->dir);
  o.block_points = 16;
  o.compact_threshold = 100;
  enum { N = 12 };
  ts_engine *e = open_store(&o);
  assert_int_equal(ts_db_create(e, "db", 0), 0);
  for (uint32_t b = 0; b < N; b++) {
    write_batch_sync(e, b);
    if (b % 3 == 2) assert_int_equal(ts_engine_flush(e), 0); /* 4 segments, rewrites across them */
  }
  assert_int_equal(ts_engine_flush(e), 0);
  ts_engine_close(e);
  saved_file segs[16];
  int n = save_segments(f->dir, segs, 16);
  assert_int_equal(n, 4);
  /* compact them into one */
  o.compact_threshold = 1;
  e = open_store(&o);
  assert_int_equal(ts_engine_flush(e), 0);
  ts_engine_stats st;
  ts_engine_stats_get(e, &st);
  assert_int_equal(st.segments, 1);
  ts_engine_close(e);
  for (int i = 0; i < n; i++) assert_int_not_equal(access(segs[i].path, F_OK), 0);
  /* the crash: the inputs were not removed */
  for (int i = 0; i < n; i++) write_file(segs[i].path, segs[i].data.data, segs[i].data.len);
  o.compact_threshold = 100;
  e = open_store(&o);
  ts_engine_stats_get(e, &st);
  /* loading recognises the inputs (their seqs lie inside the newer output's
   * range) and removes them */
  assert_int_equal(st.segments, 1);
  for (int i = 0; i < n; i++) assert_int_not_equal(access(segs[i].path, F_OK), 0);
  expect_no_double_count(e, N);
  ts_engine_close(e);
  o.compact_threshold = 1;
  e = open_store(&o);
  assert_int_equal(ts_engine_flush(e), 0);
  expect_no_double_count(e, N);
  ts_engine_close(e);
  for (int i = 0; i < n; i++) loom_buf_deinit(&segs[i].data);
}

/* A copy of the store as a kill -9 would leave it now (taken while the
 * engine runs: everything acknowledged is on disk). */
static void snapshot(const char *from, const char *to) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -a '%s' '%s'", to, from, to);
  assert_int_equal(system(cmd), 0);
}

static uint32_t sid_of(ts_engine *e) {
  ts_meta *meta;
  assert_int_equal(ts_meta_get(e, "db", &meta), 0);
  const ts_measurement_info *mi = ts_meta_find(meta, "m");
  assert_non_null(mi);
  assert_int_equal(mi->n_series, 1);
  uint32_t sid = mi->series[0]->sid;
  ts_meta_release(meta);
  return sid;
}

/* Points of field f in [lo, hi] after a delete of [dlo, dhi]: every written
 * point outside the deleted range, none inside. */
static void expect_deleted(ts_engine *e, int64_t max_ts, int64_t dlo, int64_t dhi) {
  points p;
  scan_field(e, "f", 0, &p);
  uint32_t k = 0;
  for (int64_t ts = 1; ts <= max_ts; ts++) {
    if (ts >= dlo && ts <= dhi) continue;
    if (k >= p.n || p.ts[k] != ts) fail_msg("point at ts %lld missing after delete", (long long)ts);
    k++;
  }
  if (k != p.n) fail_msg("%u points left that a durable delete removed", p.n - k);
  points_free(&p);
}

/* A delete is durable when it returns: after a kill -9 the deleted points
 * stay deleted, whether they were in segments or only in the WAL. */
static void delete_then_crash(fx *f, bool flush_first) {
  ts_engine_options o;
  char store[128];
  snprintf(store, sizeof store, "%s/store", f->dir);
  default_options(&o, store);
  o.block_points = 16;
  ts_engine *e = open_store(&o);
  assert_int_equal(ts_db_create(e, "db", 0), 0);
  for (uint32_t b = 0; b < 4; b++) write_batch_sync(e, b);
  if (flush_first) assert_int_equal(ts_engine_flush(e), 0);
  for (uint32_t b = 4; b < 8; b++) write_batch_sync(e, b);
  int64_t max_ts = 8 * P_FRESH, dlo = 2 * P_FRESH + 5, dhi = 6 * P_FRESH + 2;
  uint32_t sid = sid_of(e);
  int rc = ts_engine_delete(e, "db", &sid, 1, dlo, dhi, false);
  if (rc) fprintf(stderr, "delete: %s\n", loom_strerror(rc));
  assert_int_equal(rc, 0);
  expect_deleted(e, max_ts, dlo, dhi);
  char copy[128];
  snprintf(copy, sizeof copy, "%s/crashed", f->dir);
  snapshot(o.dir, copy);
  ts_engine_close(e);
  o.dir = copy;
  e = open_store(&o);
  expect_deleted(e, max_ts, dlo, dhi);
  /* and after that state is flushed and compacted */
  assert_int_equal(ts_engine_flush(e), 0);
  ts_engine_close(e);
  o.compact_threshold = 1;
  e = open_store(&o);
  assert_int_equal(ts_engine_flush(e), 0);
  expect_deleted(e, max_ts, dlo, dhi);
  ts_engine_close(e);
}

static void test_delete_of_stored_data_survives_crash(void **state) { delete_then_crash(*state, true); }
static void test_delete_before_any_flush_survives_crash(void **state) { delete_then_crash(*state, false); }

/* DROP DATABASE saves the database list, then removes the files: a crash in
 * between leaves the files. A database created later under the same name
 * must start empty, not with the dropped data. */
static void test_crash_in_drop_database_does_not_resurrect(void **state) {
  fx *f = *state;
  ts_engine_options o;
  default_options(&o, f->dir);
  ts_engine *e = open_store(&o);
  assert_int_equal(ts_db_create(e, "db", 0), 0);
  for (uint32_t b = 0; b < 4; b++) write_batch_sync(e, b);
  assert_int_equal(ts_engine_flush(e), 0);
  ts_engine_close(e);
  saved_file segs[4];
  int n = save_segments(f->dir, segs, 4);
  assert_int_equal(n, 1);
  e = open_store(&o);
  assert_int_equal(ts_db_drop(e, "db"), 0);
  ts_engine_close(e);
  /* the crash: the files stayed */
  char pdir[160];
  snprintf(pdir, sizeof pdir, "%s/data/db/0", f->dir);
  assert_int_equal(loom_mkdir_p(pdir), 0);
  write_file(segs[0].path, segs[0].data.data, segs[0].data.len);
  e = open_store(&o);
  assert_int_equal(ts_db_get(e, "db", NULL), LOOM_ENOTFOUND);
  assert_int_equal(ts_db_create(e, "db", 0), 0);
  ts_engine_close(e);
  e = open_store(&o);
  points p;
  scan_field(e, "f", 0, &p);
  assert_int_equal(p.n, 0);
  assert_int_equal(col_of(e, "f"), UINT32_MAX);
  ts_engine_close(e);
  loom_buf_deinit(&segs[0].data);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_kill9_random_keeps_acked, setup, teardown),
      cmocka_unit_test_setup_teardown(test_kill9_in_flush_keeps_acked, setup, teardown),
      cmocka_unit_test_setup_teardown(test_kill9_in_compaction_keeps_acked, setup, teardown),
      cmocka_unit_test_setup_teardown(test_kill9_batched_loses_only_the_window, setup, teardown),
      cmocka_unit_test_setup_teardown(test_torn_wal_tail_keeps_complete_records, setup, teardown),
      cmocka_unit_test_setup_teardown(test_wal_garbage_tail_is_dropped, setup, teardown),
      cmocka_unit_test_setup_teardown(test_crash_between_segment_write_and_wal_removal, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_crash_between_compaction_and_input_removal, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_crash_in_drop_database_does_not_resurrect, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_delete_of_stored_data_survives_crash, setup, teardown),
      cmocka_unit_test_setup_teardown(test_delete_before_any_flush_survives_crash, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
