/* SPDX-License-Identifier: Apache-2.0
 * Tests of ts/wal: the pure codec, replay across rotations, group commit,
 * batched acknowledgement, torn tails at every offset, corruption, injected
 * write/fsync failures (through the ts_wal_io hooks), remove_before, close.
 * Each test works in its own mkdtemp directory under /tmp, removed after.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "core/err.h"
#include "core/mem.h"
#include "ts/wal.h"

/* ---- fixture: temp dir ---- */

typedef struct fx {
  char dir[64];
} fx;

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  if (f == NULL) return -1;
  strcpy(f->dir, "/tmp/loom-wal-test-XXXXXX");
  if (mkdtemp(f->dir) == NULL) {
    free(f);
    return -1;
  }
  *state = f;
  return 0;
}

static void rm_dir(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  char p[512];
  if (d == NULL) return;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    unlink(p);
  }
  closedir(d);
  rmdir(dir);
}

static int teardown(void **state) {
  fx *f = *state;
  rm_dir(f->dir);
  free(f);
  return 0;
}

/* ---- helpers ---- */

static void seg_file(const char *dir, uint64_t id, char *out, size_t cap) {
  snprintf(out, cap, "%s/wal-%016llx.log", dir, (unsigned long long)id);
}

static int count_segments(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  int n = 0;
  if (d == NULL) return -1;
  while ((e = readdir(d)) != NULL)
    if (strncmp(e->d_name, "wal-", 4) == 0) n++;
  closedir(d);
  return n;
}

static long file_size(const char *path) {
  struct stat sb;
  if (stat(path, &sb) != 0) return -1;
  return (long)sb.st_size;
}

static uint8_t *read_all(const char *path, size_t *len) {
  FILE *fp = fopen(path, "rb");
  long n;
  uint8_t *p;
  if (fp == NULL) return NULL;
  fseek(fp, 0, SEEK_END);
  n = ftell(fp);
  fseek(fp, 0, SEEK_SET);
  p = malloc(n > 0 ? (size_t)n : 1);
  if (p != NULL && n > 0 && fread(p, 1, (size_t)n, fp) != (size_t)n) {
    free(p);
    p = NULL;
  }
  fclose(fp);
  *len = (size_t)n;
  return p;
}

static void write_file(const char *path, const uint8_t *p, size_t len) {
  FILE *fp = fopen(path, "wb");
  assert_non_null(fp);
  if (len > 0) assert_int_equal(fwrite(p, 1, len, fp), len);
  assert_int_equal(fclose(fp), 0);
}

/* payload of record i: "rec-<i>" padded to a length depending on i */
static size_t make_payload(uint32_t i, uint8_t *out, size_t cap) {
  size_t n = (size_t)snprintf((char *)out, cap, "rec-%u-", i);
  size_t want = 8 + (i * 7) % 40;
  while (n < want && n < cap) {
    out[n] = (uint8_t)('a' + (i + n) % 26);
    n++;
  }
  return n;
}

/* Collector for replay: checks that record i arrives as make_payload(first+i). */
typedef struct collect {
  uint32_t first;   /* expected index of the first record */
  uint32_t n;       /* records seen */
  int bad;          /* mismatches seen */
  uint8_t type_mod; /* records carry type = i % type_mod */
} collect;

static int collect_cb(void *arg, uint8_t type, const uint8_t *payload, size_t len) {
  collect *c = arg;
  uint8_t want[64];
  uint32_t i = c->first + c->n;
  size_t wl = make_payload(i, want, sizeof want);
  if (wl != len || memcmp(want, payload, len) != 0 || type != (uint8_t)(i % c->type_mod))
    c->bad++;
  c->n++;
  return 0;
}

/* Collector of record indices (parsed from "rec-<i>-"), checking content. */
typedef struct idx_list {
  uint32_t idx[64];
  uint32_t n;
  int bad;
} idx_list;

static int idx_cb(void *arg, uint8_t type, const uint8_t *payload, size_t len) {
  idx_list *l = arg;
  uint8_t want[64];
  unsigned i = 0;
  char tmp[64];
  if (len >= sizeof tmp || l->n >= 64) return LOOM_ERANGE;
  memcpy(tmp, payload, len);
  tmp[len] = 0;
  if (sscanf(tmp, "rec-%u-", &i) != 1) l->bad++;
  if (make_payload(i, want, sizeof want) != len || memcmp(want, payload, len) != 0 ||
      type != (uint8_t)(i % 5))
    l->bad++;
  l->idx[l->n++] = i;
  return 0;
}

static void append_range(ts_wal *w, uint32_t from, uint32_t to) {
  uint8_t p[64];
  for (uint32_t i = from; i < to; i++) {
    size_t n = make_payload(i, p, sizeof p);
    assert_int_equal(ts_wal_append(w, (uint8_t)(i % 5), p, n, NULL, NULL), 0);
  }
}

static ts_wal *open_started(const char *dir, const ts_wal_options *o) {
  ts_wal *w = NULL;
  assert_int_equal(ts_wal_open(dir, o, &w), 0);
  assert_int_equal(ts_wal_replay(w, NULL, NULL, NULL), 0);
  assert_int_equal(ts_wal_start(w), 0);
  return w;
}

static void replay_expect(const char *dir, uint32_t first, uint32_t n_expected,
                          ts_wal_replay_report *rep_out) {
  ts_wal *w = NULL;
  collect c = {.first = first, .type_mod = 5};
  ts_wal_replay_report rep;
  assert_int_equal(ts_wal_open(dir, NULL, &w), 0);
  assert_int_equal(ts_wal_replay(w, collect_cb, &c, &rep), 0);
  ts_wal_close(w);
  assert_int_equal(c.bad, 0);
  assert_int_equal(c.n, n_expected);
  assert_int_equal(rep.records, n_expected);
  if (rep_out != NULL) *rep_out = rep;
}

/* counting done callback */
typedef struct done_ctr {
  atomic_int calls;
  atomic_int last_status;
} done_ctr;

static void done_cb(void *arg, int status) {
  done_ctr *d = arg;
  atomic_store(&d->last_status, status);
  atomic_fetch_add(&d->calls, 1);
}

/* ---- io hooks (test-only state; the hooks carry no argument) ---- */

static atomic_int g_write_fail_errno;  /* 0 = pass through */
static atomic_int g_write_short;       /* first failing call writes half first */
static atomic_int g_fsync_fail;        /* 1 = every fsync fails with EIO */
static atomic_int g_fsync_calls;

static ssize_t hook_write(int fd, const void *buf, size_t n) {
  int e = atomic_load(&g_write_fail_errno);
  if (e != 0) {
    if (atomic_exchange(&g_write_short, 0) && n > 1) return write(fd, buf, n / 2);
    errno = e;
    return -1;
  }
  return write(fd, buf, n);
}

static int hook_fsync(int fd) {
  atomic_fetch_add(&g_fsync_calls, 1);
  if (atomic_load(&g_fsync_fail)) {
    errno = EIO;
    return -1;
  }
  return fdatasync(fd);
}

static const ts_wal_io g_hooks = {hook_write, hook_fsync};

static void hooks_reset(void) {
  atomic_store(&g_write_fail_errno, 0);
  atomic_store(&g_write_short, 0);
  atomic_store(&g_fsync_fail, 0);
  atomic_store(&g_fsync_calls, 0);
}

/* ======================= codec ======================= */

static void test_codec_image_roundtrip(void **state) {
  loom_buf b;
  uint8_t hdr[TS_WAL_HEADER_LEN], p[64];
  ts_wal_image_info info;
  collect c = {.first = 0, .type_mod = 5};
  (void)state;
  loom_buf_init(&b);
  ts_wal_header_encode(hdr, 42);
  assert_int_equal(loom_buf_append(&b, hdr, sizeof hdr), 0);
  for (uint32_t i = 0; i < 50; i++) {
    size_t n = make_payload(i, p, sizeof p);
    assert_int_equal(ts_wal_record_encode(&b, (uint8_t)(i % 5), p, n), 0);
  }
  assert_int_equal(ts_wal_decode_image(b.data, b.len, collect_cb, &c, &info), 0);
  assert_int_equal(info.status, 0);
  assert_int_equal(info.file_id, 42);
  assert_int_equal(info.records, 50);
  assert_int_equal(info.valid_len, b.len);
  assert_int_equal(c.n, 50);
  assert_int_equal(c.bad, 0);
  loom_buf_deinit(&b);
}

static void test_codec_empty_payload(void **state) {
  loom_buf b;
  uint8_t type = 0;
  const uint8_t *pl = NULL;
  size_t plen = 99, used = 0;
  (void)state;
  loom_buf_init(&b);
  assert_int_equal(ts_wal_record_encode(&b, 7, NULL, 0), 0);
  assert_int_equal(b.len, TS_WAL_RECORD_HEADER_LEN);
  assert_int_equal(ts_wal_record_decode(b.data, b.len, &type, &pl, &plen, &used), 0);
  assert_int_equal(type, 7);
  assert_int_equal(plen, 0);
  assert_int_equal(used, TS_WAL_RECORD_HEADER_LEN);
  loom_buf_deinit(&b);
}

static void test_codec_header_errors(void **state) {
  uint8_t h[TS_WAL_HEADER_LEN], bad[TS_WAL_HEADER_LEN];
  uint64_t id = 0;
  (void)state;
  ts_wal_header_encode(h, 7);
  assert_int_equal(ts_wal_header_decode(h, sizeof h, &id), 0);
  assert_int_equal(id, 7);
  assert_int_equal(ts_wal_header_decode(h, sizeof h - 1, &id), LOOM_ETRUNC);
  memcpy(bad, h, sizeof h);
  bad[0] ^= 1;
  assert_int_equal(ts_wal_header_decode(bad, sizeof bad, &id), LOOM_ECORRUPT);
  memcpy(bad, h, sizeof h);
  bad[14] ^= 0x10; /* file id bit: header CRC catches it */
  assert_int_equal(ts_wal_header_decode(bad, sizeof bad, &id), LOOM_ECORRUPT);
  /* a well-formed header of a future version */
  memcpy(bad, h, sizeof h);
  bad[8] = 2;
  {
    uLong c = crc32(crc32(0L, Z_NULL, 0), bad, 20);
    bad[20] = (uint8_t)c; bad[21] = (uint8_t)(c >> 8);
    bad[22] = (uint8_t)(c >> 16); bad[23] = (uint8_t)(c >> 24);
  }
  assert_int_equal(ts_wal_header_decode(bad, sizeof bad, &id), LOOM_EUNSUP);
}

static void test_codec_len_flip_detected(void **state) {
  loom_buf b;
  uint8_t type;
  const uint8_t *pl;
  size_t plen, used;
  (void)state;
  loom_buf_init(&b);
  assert_int_equal(ts_wal_record_encode(&b, 1, "abcdefgh", 8), 0);
  assert_int_equal(ts_wal_record_encode(&b, 1, "ijklmnop", 8), 0);
  /* shrink the first record's length by one: the frame still fits, the CRC
   * (which covers len) must reject it */
  b.data[0] = 7;
  assert_int_equal(ts_wal_record_decode(b.data, b.len, &type, &pl, &plen, &used), LOOM_ECORRUPT);
  /* an absurd length is corrupt, not a request to read 4 GiB */
  b.data[0] = 0xff; b.data[1] = 0xff; b.data[2] = 0xff; b.data[3] = 0xff;
  assert_int_equal(ts_wal_record_decode(b.data, b.len, &type, &pl, &plen, &used), LOOM_ECORRUPT);
  loom_buf_deinit(&b);
}

static void test_codec_zero_fill_is_corrupt(void **state) {
  uint8_t img[TS_WAL_HEADER_LEN + 64];
  ts_wal_image_info info;
  (void)state;
  memset(img, 0, sizeof img);
  ts_wal_header_encode(img, 3);
  assert_int_equal(ts_wal_decode_image(img, sizeof img, NULL, NULL, &info), 0);
  assert_int_equal(info.status, LOOM_ECORRUPT);
  assert_int_equal(info.valid_len, TS_WAL_HEADER_LEN);
  assert_int_equal(info.records, 0);
}

static void test_codec_encode_range(void **state) {
  loom_buf b;
  static const uint8_t one = 1;
  (void)state;
  loom_buf_init(&b);
  assert_int_equal(ts_wal_record_encode(&b, 1, &one, (size_t)TS_WAL_MAX_RECORD + 1), LOOM_ERANGE);
  assert_int_equal(b.len, 0);
  loom_buf_deinit(&b);
}

static int abort_cb(void *arg, uint8_t type, const uint8_t *payload, size_t len) {
  int *n = arg;
  (void)type; (void)payload; (void)len;
  return ++*n == 2 ? LOOM_EINVAL : 0;
}

static void test_codec_cb_abort(void **state) {
  loom_buf b;
  uint8_t hdr[TS_WAL_HEADER_LEN];
  ts_wal_image_info info;
  int n = 0;
  (void)state;
  loom_buf_init(&b);
  ts_wal_header_encode(hdr, 1);
  assert_int_equal(loom_buf_append(&b, hdr, sizeof hdr), 0);
  for (int i = 0; i < 4; i++) assert_int_equal(ts_wal_record_encode(&b, 0, "x", 1), 0);
  assert_int_equal(ts_wal_decode_image(b.data, b.len, abort_cb, &n, &info), LOOM_EINVAL);
  assert_int_equal(n, 2);
  assert_int_equal(info.records, 2);
  loom_buf_deinit(&b);
}

/* ======================= the log ======================= */

static void test_roundtrip_across_rotations(void **state) {
  fx *f = *state;
  ts_wal *w = open_started(f->dir, NULL);
  uint64_t id1 = ts_wal_current_id(w), id2 = 0, id3 = 0;
  ts_wal_replay_report rep;
  append_range(w, 0, 100);
  assert_int_equal(ts_wal_rotate(w, &id2), 0);
  assert_true(id2 > id1);
  append_range(w, 100, 250);
  assert_int_equal(ts_wal_rotate(w, &id3), 0);
  assert_true(id3 > id2);
  append_range(w, 250, 300);
  ts_wal_close(w);
  replay_expect(f->dir, 0, 300, &rep);
  assert_int_equal(rep.files, 3);
  assert_int_equal(rep.corrupt_files, 0);
  assert_int_equal(rep.truncated_bytes, 0);
  /* a second open continues after the existing files, and old data stays */
  w = open_started(f->dir, NULL);
  assert_true(ts_wal_current_id(w) > id3);
  append_range(w, 300, 310);
  ts_wal_close(w);
  replay_expect(f->dir, 0, 310, NULL);
}

/* Records appended before rotate are in older files, after it in newer. */
static void test_rotate_splits_at_call(void **state) {
  fx *f = *state;
  ts_wal *w = open_started(f->dir, NULL);
  uint64_t first = ts_wal_current_id(w), id = 0;
  char path[512];
  uint8_t *img;
  size_t len;
  ts_wal_image_info info;
  append_range(w, 0, 10); /* not synced: still pending when rotate is called */
  assert_int_equal(ts_wal_rotate(w, &id), 0);
  append_range(w, 10, 15);
  ts_wal_close(w);
  seg_file(f->dir, first, path, sizeof path);
  img = read_all(path, &len);
  assert_non_null(img);
  assert_int_equal(ts_wal_decode_image(img, len, NULL, NULL, &info), 0);
  assert_int_equal(info.records, 10);
  free(img);
  seg_file(f->dir, id, path, sizeof path);
  img = read_all(path, &len);
  assert_non_null(img);
  assert_int_equal(ts_wal_decode_image(img, len, NULL, NULL, &info), 0);
  assert_int_equal(info.records, 5);
  assert_int_equal(info.file_id, id);
  free(img);
}

static void test_segment_size_rotation(void **state) {
  fx *f = *state;
  ts_wal_options o = {.segment_bytes = 512};
  ts_wal *w = open_started(f->dir, &o);
  for (uint32_t i = 0; i < 100; i++) {
    append_range(w, i, i + 1);
    if (i % 10 == 9) assert_int_equal(ts_wal_sync(w), 0);
  }
  ts_wal_close(w);
  assert_true(count_segments(f->dir) >= 4);
  replay_expect(f->dir, 0, 100, NULL);
}

typedef struct thr_arg {
  ts_wal *w;
  int id;
  int n;
  done_ctr *ctrs; /* n per thread */
} thr_arg;

static void *appender(void *p) {
  thr_arg *a = p;
  char buf[32];
  for (int i = 0; i < a->n; i++) {
    int len = snprintf(buf, sizeof buf, "t%d-%d", a->id, i);
    if (ts_wal_append(a->w, (uint8_t)a->id, buf, (size_t)len, done_cb, &a->ctrs[i]) != 0)
      atomic_fetch_add(&a->ctrs[i].calls, 1000); /* make the test fail */
  }
  return NULL;
}

typedef struct per_thread_check {
  int next[8];
  int bad;
  int n;
} per_thread_check;

static int order_cb(void *arg, uint8_t type, const uint8_t *payload, size_t len) {
  per_thread_check *c = arg;
  char want[32];
  int wl;
  if (type >= 8) {
    c->bad++;
    return 0;
  }
  wl = snprintf(want, sizeof want, "t%d-%d", type, c->next[type]);
  if ((size_t)wl != len || memcmp(want, payload, len) != 0) c->bad++;
  c->next[type]++;
  c->n++;
  return 0;
}

/* 8 threads x 1000 durable appends share fsyncs; every callback fires once
 * with 0; replay sees each thread's records in its order. */
static void test_group_commit_concurrent(void **state) {
  fx *f = *state;
  enum { T = 8, N = 1000 };
  pthread_t th[T];
  thr_arg args[T];
  done_ctr *ctrs = calloc(T * N, sizeof *ctrs);
  ts_wal_stats st;
  ts_wal *w = open_started(f->dir, NULL);
  per_thread_check chk;
  ts_wal_replay_report rep;
  assert_non_null(ctrs);
  for (int t = 0; t < T; t++) {
    args[t] = (thr_arg){w, t, N, ctrs + t * N};
    assert_int_equal(pthread_create(&th[t], NULL, appender, &args[t]), 0);
  }
  for (int t = 0; t < T; t++) pthread_join(th[t], NULL);
  assert_int_equal(ts_wal_sync(w), 0);
  ts_wal_stats_get(w, &st);
  ts_wal_close(w);
  for (int i = 0; i < T * N; i++) {
    assert_int_equal(atomic_load(&ctrs[i].calls), 1);
    assert_int_equal(atomic_load(&ctrs[i].last_status), 0);
  }
  assert_int_equal(st.records, T * N);
  assert_true(st.fsyncs < st.records);
  assert_true(st.groups < st.records);
  free(ctrs);

  memset(&chk, 0, sizeof chk);
  {
    ts_wal *r = NULL;
    assert_int_equal(ts_wal_open(f->dir, NULL, &r), 0);
    assert_int_equal(ts_wal_replay(r, order_cb, &chk, &rep), 0);
    ts_wal_close(r);
  }
  assert_int_equal(chk.bad, 0);
  assert_int_equal(chk.n, T * N);
  for (int t = 0; t < T; t++) assert_int_equal(chk.next[t], N);
}

/* rotate and sync while 4 threads append: ids grow, nothing is lost or
 * reordered per thread, every callback fires once with 0. */
static void test_rotate_concurrent_with_appends(void **state) {
  fx *f = *state;
  enum { T = 4, N = 500 };
  pthread_t th[T];
  thr_arg args[T];
  done_ctr *ctrs = calloc(T * N, sizeof *ctrs);
  ts_wal *w = open_started(f->dir, NULL);
  uint64_t last = ts_wal_current_id(w);
  per_thread_check chk;
  assert_non_null(ctrs);
  for (int t = 0; t < T; t++) {
    args[t] = (thr_arg){w, t, N, ctrs + t * N};
    assert_int_equal(pthread_create(&th[t], NULL, appender, &args[t]), 0);
  }
  for (int i = 0; i < 10; i++) {
    uint64_t id = 0;
    assert_int_equal(ts_wal_rotate(w, &id), 0);
    assert_true(id > last);
    last = id;
    assert_int_equal(ts_wal_sync(w), 0);
  }
  for (int t = 0; t < T; t++) pthread_join(th[t], NULL);
  ts_wal_close(w);
  for (int i = 0; i < T * N; i++) {
    assert_int_equal(atomic_load(&ctrs[i].calls), 1);
    assert_int_equal(atomic_load(&ctrs[i].last_status), 0);
  }
  free(ctrs);
  memset(&chk, 0, sizeof chk);
  assert_int_equal(ts_wal_open(f->dir, NULL, &w), 0);
  assert_int_equal(ts_wal_replay(w, order_cb, &chk, NULL), 0);
  ts_wal_close(w);
  assert_int_equal(chk.bad, 0);
  assert_int_equal(chk.n, T * N);
  assert_int_equal(count_segments(f->dir), 11);
}

/* Durable: the callback fires after the record's fsync, exactly once. */
static void test_durable_cb_after_fsync(void **state) {
  fx *f = *state;
  ts_wal_options o = {.io = &g_hooks};
  done_ctr d = {0};
  ts_wal *w;
  int fs_before;
  hooks_reset();
  w = open_started(f->dir, &o);
  fs_before = atomic_load(&g_fsync_calls);
  assert_int_equal(ts_wal_append(w, 1, "abc", 3, done_cb, &d), 0);
  assert_int_equal(ts_wal_sync(w), 0);
  assert_int_equal(atomic_load(&d.calls), 1);
  assert_int_equal(atomic_load(&d.last_status), 0);
  assert_true(atomic_load(&g_fsync_calls) > fs_before);
  ts_wal_close(w);
  assert_int_equal(atomic_load(&d.calls), 1);
}

/* Batched: ack inline before any fsync of the record; the writer fsyncs by
 * itself within the interval (polled with a generous bound). */
typedef struct ack_probe {
  atomic_int acked;
  atomic_int fsyncs_at_ack;
} ack_probe;

static void ack_cb(void *arg, int status) {
  ack_probe *a = arg;
  atomic_store(&a->fsyncs_at_ack, atomic_load(&g_fsync_calls));
  atomic_store(&a->acked, status == 0 ? 1 : -1);
}

static void test_batched_ack_before_fsync(void **state) {
  fx *f = *state;
  ts_wal_options o = {.mode = TS_WAL_BATCHED, .batch_interval_ms = 200, .io = &g_hooks};
  ack_probe a = {0};
  ts_wal *w;
  int base;
  hooks_reset();
  w = open_started(f->dir, &o);
  base = atomic_load(&g_fsync_calls);
  assert_int_equal(ts_wal_append(w, 1, "abc", 3, ack_cb, &a), 0);
  /* acknowledged when append returned, before the writer fsynced it */
  assert_int_equal(atomic_load(&a.acked), 1);
  assert_int_equal(atomic_load(&a.fsyncs_at_ack), base);
  for (int i = 0; i < 500 && atomic_load(&g_fsync_calls) == base; i++) usleep(10000);
  assert_true(atomic_load(&g_fsync_calls) > base); /* fsynced without being asked */
  ts_wal_close(w);
  {
    ts_wal_replay_report rep;
    ts_wal *r = NULL;
    assert_int_equal(ts_wal_open(f->dir, NULL, &r), 0);
    assert_int_equal(ts_wal_replay(r, NULL, NULL, &rep), 0);
    ts_wal_close(r);
    assert_int_equal(rep.records, 1);
  }
}

static void test_batched_sync_forces_fsync(void **state) {
  fx *f = *state;
  ts_wal_options o = {.mode = TS_WAL_BATCHED, .batch_interval_ms = 60000, .io = &g_hooks};
  ts_wal *w;
  int base;
  hooks_reset();
  w = open_started(f->dir, &o);
  base = atomic_load(&g_fsync_calls);
  append_range(w, 0, 20);
  assert_int_equal(ts_wal_sync(w), 0);
  assert_true(atomic_load(&g_fsync_calls) > base);
  ts_wal_close(w);
  replay_expect(f->dir, 0, 20, NULL);
}

static void test_close_flushes_pending(void **state) {
  fx *f = *state;
  ts_wal_options o = {.mode = TS_WAL_BATCHED, .batch_interval_ms = 60000};
  ts_wal *w = open_started(f->dir, &o);
  done_ctr d[50];
  append_range(w, 0, 30);
  ts_wal_close(w); /* a minute before the interval */
  replay_expect(f->dir, 0, 30, NULL);

  /* durable: close fires every outstanding callback */
  memset(d, 0, sizeof d);
  rm_dir(f->dir);
  w = open_started(f->dir, NULL);
  for (int i = 0; i < 50; i++) assert_int_equal(ts_wal_append(w, 0, "z", 1, done_cb, &d[i]), 0);
  ts_wal_close(w);
  for (int i = 0; i < 50; i++) {
    assert_int_equal(atomic_load(&d[i].calls), 1);
    assert_int_equal(atomic_load(&d[i].last_status), 0);
  }
}

static void test_append_errors(void **state) {
  fx *f = *state;
  ts_wal *w = NULL;
  done_ctr d = {0};
  static const uint8_t one = 1;
  assert_int_equal(ts_wal_open(f->dir, NULL, &w), 0);
  assert_int_equal(ts_wal_append(w, 0, "a", 1, done_cb, &d), LOOM_ECLOSED);
  assert_int_equal(ts_wal_sync(w), LOOM_ECLOSED);
  assert_int_equal(ts_wal_start(w), 0);
  assert_int_equal(ts_wal_start(w), LOOM_EINVAL);
  assert_int_equal(ts_wal_replay(w, NULL, NULL, NULL), LOOM_EINVAL);
  assert_int_equal(ts_wal_append(w, 0, &one, (size_t)TS_WAL_MAX_RECORD + 1, done_cb, &d),
                   LOOM_ERANGE);
  assert_int_equal(ts_wal_append(w, 0, NULL, 4, done_cb, &d), LOOM_EINVAL);
  loom_mem_fail_after(0);
  assert_int_equal(ts_wal_append(w, 0, "0123456789", 10, done_cb, &d), LOOM_ENOMEM);
  loom_mem_fail_after(-1);
  ts_wal_close(w);
  assert_int_equal(atomic_load(&d.calls), 0); /* on error cb never runs */
}

static void test_open_bad_args(void **state) {
  fx *f = *state;
  ts_wal *w = NULL;
  ts_wal_options o = {.mode = 7};
  char path[512];
  assert_int_equal(ts_wal_open(f->dir, &o, &w), LOOM_EINVAL);
  snprintf(path, sizeof path, "%s/plainfile", f->dir);
  write_file(path, (const uint8_t *)"x", 1);
  assert_int_equal(ts_wal_open(path, NULL, &w), LOOM_EINVAL);
  assert_null(w);
  /* a missing directory is created */
  snprintf(path, sizeof path, "%s/sub", f->dir);
  assert_int_equal(ts_wal_open(path, NULL, &w), 0);
  ts_wal_close(w);
  rmdir(path);
}

/* Build a WAL with n records in one file; return its path and the offset at
 * which the last record starts. */
static uint64_t build_one_file(const char *dir, uint32_t n, char *path, size_t cap,
                               size_t *last_start) {
  ts_wal *w = open_started(dir, NULL);
  uint64_t id = ts_wal_current_id(w);
  uint8_t p[64];
  append_range(w, 0, n);
  ts_wal_close(w);
  seg_file(dir, id, path, cap);
  *last_start = (size_t)file_size(path) - (TS_WAL_RECORD_HEADER_LEN + make_payload(n - 1, p, sizeof p));
  return id;
}

/* Cut the last record at every byte offset: replay truncates it, a second
 * replay is clean, and the WAL starts and appends afterwards. */
static void test_torn_tail_every_offset(void **state) {
  fx *f = *state;
  char path[512];
  size_t last_start, full;
  uint8_t *img;
  build_one_file(f->dir, 5, path, sizeof path, &last_start);
  img = read_all(path, &full);
  assert_non_null(img);
  for (size_t cut = last_start + 1; cut < full; cut++) {
    ts_wal_replay_report rep;
    write_file(path, img, cut);
    replay_expect(f->dir, 0, 4, &rep);
    assert_int_equal(rep.truncated_bytes, cut - last_start);
    assert_int_equal(rep.corrupt_files, 0);
    assert_int_equal(file_size(path), (long)last_start);
    replay_expect(f->dir, 0, 4, &rep);
    assert_int_equal(rep.truncated_bytes, 0);
  }
  /* after the repair the store starts and keeps appending */
  {
    ts_wal *w = open_started(f->dir, NULL);
    append_range(w, 4, 6);
    ts_wal_close(w);
    replay_expect(f->dir, 0, 6, NULL);
  }
  free(img);
}

/* Every bit flip inside the last record is caught and truncated. */
static void test_last_record_bitflips(void **state) {
  fx *f = *state;
  char path[512];
  size_t last_start, full;
  uint8_t *img;
  build_one_file(f->dir, 3, path, sizeof path, &last_start);
  img = read_all(path, &full);
  assert_non_null(img);
  for (size_t off = last_start; off < full; off++) {
    ts_wal_replay_report rep;
    img[off] ^= 0x20;
    write_file(path, img, full);
    img[off] ^= 0x20;
    replay_expect(f->dir, 0, 2, &rep);
    assert_int_equal(rep.truncated_bytes, full - last_start);
  }
  free(img);
}

static void test_start_without_replay_repairs_tail(void **state) {
  fx *f = *state;
  char path[512];
  size_t last_start, full;
  uint8_t *img;
  ts_wal *w = NULL;
  ts_wal_replay_report rep;
  build_one_file(f->dir, 4, path, sizeof path, &last_start);
  img = read_all(path, &full);
  assert_non_null(img);
  write_file(path, img, full - 3);
  assert_int_equal(ts_wal_open(f->dir, NULL, &w), 0);
  assert_int_equal(ts_wal_start(w), 0);
  ts_wal_close(w);
  assert_int_equal(file_size(path), (long)last_start);
  replay_expect(f->dir, 0, 3, &rep);
  assert_int_equal(rep.corrupt_files, 0);
  assert_int_equal(rep.truncated_bytes, 0);
  free(img);
}

/* CRC damage in an older file: that file stops there and is reported (kept
 * as is); the next files replay fully; nothing is truncated. */
static void test_corruption_in_older_file(void **state) {
  fx *f = *state;
  ts_wal *w = open_started(f->dir, NULL);
  uint64_t first = ts_wal_current_id(w), id2;
  char path[512];
  uint8_t *img, p[64];
  size_t len, off;
  ts_wal_replay_report rep;
  idx_list seen = {0};
  append_range(w, 0, 10);
  assert_int_equal(ts_wal_rotate(w, &id2), 0);
  append_range(w, 10, 20);
  ts_wal_close(w);
  seg_file(f->dir, first, path, sizeof path);
  img = read_all(path, &len);
  assert_non_null(img);
  /* flip a payload byte of record 3 */
  off = TS_WAL_HEADER_LEN;
  for (uint32_t i = 0; i < 3; i++) off += TS_WAL_RECORD_HEADER_LEN + make_payload(i, p, sizeof p);
  img[off + TS_WAL_RECORD_HEADER_LEN + 2] ^= 0x01;
  write_file(path, img, len);

  assert_int_equal(ts_wal_open(f->dir, NULL, &w), 0);
  assert_int_equal(ts_wal_replay(w, idx_cb, &seen, &rep), 0);
  ts_wal_close(w);
  assert_int_equal(rep.files, 2);
  assert_int_equal(rep.corrupt_files, 1);
  assert_int_equal(rep.truncated_bytes, 0);
  assert_int_equal(rep.records, 3 + 10);
  assert_int_equal(seen.n, 13);
  for (uint32_t i = 0; i < 13; i++) assert_int_equal(seen.idx[i], i < 3 ? i : i + 7);
  assert_int_equal(seen.bad, 0);
  assert_int_equal(file_size(path), (long)len); /* evidence kept */
  /* starting is never refused */
  w = open_started(f->dir, NULL);
  ts_wal_close(w);
  free(img);
}

static void test_bad_header_last_file_removed(void **state) {
  fx *f = *state;
  ts_wal *w = open_started(f->dir, NULL);
  uint64_t id = ts_wal_current_id(w);
  char path[512];
  ts_wal_replay_report rep;
  append_range(w, 0, 5);
  ts_wal_close(w);
  /* crash while creating the next segment: 10 bytes of a header */
  seg_file(f->dir, id + 1, path, sizeof path);
  write_file(path, (const uint8_t *)"LOOMWAL\0\1\0", 10);
  replay_expect(f->dir, 0, 5, &rep);
  assert_int_equal(rep.truncated_bytes, 10);
  assert_int_equal(file_size(path), -1);
  w = open_started(f->dir, NULL);
  append_range(w, 5, 7);
  ts_wal_close(w);
  replay_expect(f->dir, 0, 7, NULL);
}

static void test_enospc_transient(void **state) {
  fx *f = *state;
  ts_wal_options o = {.io = &g_hooks};
  done_ctr ok1 = {0}, bad = {0}, ok2 = {0};
  ts_wal *w;
  char path[512];
  long before;
  uint64_t id;
  int rc;
  hooks_reset();
  w = open_started(f->dir, &o);
  id = ts_wal_current_id(w);
  seg_file(f->dir, id, path, sizeof path);
  assert_int_equal(ts_wal_append(w, 0, "first", 5, done_cb, &ok1), 0);
  assert_int_equal(ts_wal_sync(w), 0);
  before = file_size(path);
  atomic_store(&g_write_short, 1); /* half the group lands, then ENOSPC */
  atomic_store(&g_write_fail_errno, ENOSPC);
  assert_int_equal(ts_wal_append(w, 0, "doomed-record", 13, done_cb, &bad), 0);
  /* 0 if the writer resolved the record before sync looked (sync reports
   * only records unresolved at its call); the callback is the contract */
  rc = ts_wal_sync(w);
  assert_true(rc == LOOM_ENOSPC || rc == 0);
  assert_int_equal(atomic_load(&bad.calls), 1);
  assert_int_equal(atomic_load(&bad.last_status), LOOM_ENOSPC);
  assert_int_equal(file_size(path), before); /* truncated back, no torn bytes */
  atomic_store(&g_write_fail_errno, 0);
  assert_int_equal(ts_wal_append(w, 0, "second", 6, done_cb, &ok2), 0);
  assert_int_equal(ts_wal_sync(w), 0);
  assert_int_equal(atomic_load(&ok2.last_status), 0);
  ts_wal_close(w);
  {
    ts_wal *r = NULL;
    ts_wal_replay_report rep;
    assert_int_equal(ts_wal_open(f->dir, NULL, &r), 0);
    assert_int_equal(ts_wal_replay(r, NULL, NULL, &rep), 0);
    ts_wal_close(r);
    assert_int_equal(rep.records, 2);
    assert_int_equal(rep.bytes, 11);
    assert_int_equal(rep.truncated_bytes, 0);
  }
}

static void test_write_eio_goes_readonly(void **state) {
  fx *f = *state;
  ts_wal_options o = {.io = &g_hooks};
  done_ctr bad = {0};
  ts_wal *w;
  uint64_t id;
  int rc;
  hooks_reset();
  w = open_started(f->dir, &o);
  atomic_store(&g_write_fail_errno, EIO);
  assert_int_equal(ts_wal_append(w, 0, "x", 1, done_cb, &bad), 0);
  rc = ts_wal_sync(w); /* EREADONLY if the writer failed before sync looked */
  assert_true(rc == LOOM_EIO || rc == LOOM_EREADONLY);
  assert_int_equal(atomic_load(&bad.last_status), LOOM_EIO);
  atomic_store(&g_write_fail_errno, 0);
  assert_int_equal(ts_wal_append(w, 0, "y", 1, NULL, NULL), LOOM_EREADONLY);
  assert_int_equal(ts_wal_sync(w), LOOM_EREADONLY);
  assert_int_equal(ts_wal_rotate(w, &id), LOOM_EREADONLY);
  ts_wal_close(w);
  replay_expect(f->dir, 0, 0, NULL);
}

static void test_fsync_failure_readonly(void **state) {
  fx *f = *state;
  ts_wal_options o = {.io = &g_hooks};
  done_ctr d[3];
  ts_wal *w;
  int rc;
  hooks_reset();
  memset(d, 0, sizeof d);
  w = open_started(f->dir, &o);
  assert_int_equal(ts_wal_append(w, 0, "a", 1, done_cb, &d[0]), 0);
  assert_int_equal(ts_wal_sync(w), 0);
  atomic_store(&g_fsync_fail, 1);
  assert_int_equal(ts_wal_append(w, 0, "b", 1, done_cb, &d[1]), 0);
  rc = ts_wal_sync(w);
  assert_true(rc == LOOM_EIO || rc == LOOM_EREADONLY);
  atomic_store(&g_fsync_fail, 0); /* even if the disk "recovers" */
  assert_int_equal(ts_wal_append(w, 0, "c", 1, done_cb, &d[2]), LOOM_EREADONLY);
  ts_wal_close(w);
  assert_int_equal(atomic_load(&d[0].last_status), 0);
  assert_int_equal(atomic_load(&d[1].last_status), LOOM_EIO);
  assert_int_equal(atomic_load(&d[1].calls), 1);
  assert_int_equal(atomic_load(&d[2].calls), 0);
}

static void test_batched_write_failure_readonly(void **state) {
  fx *f = *state;
  ts_wal_options o = {.mode = TS_WAL_BATCHED, .batch_interval_ms = 60000, .io = &g_hooks};
  ts_wal *w;
  hooks_reset();
  w = open_started(f->dir, &o);
  atomic_store(&g_write_fail_errno, ENOSPC);
  append_range(w, 0, 3); /* acknowledged already */
  assert_int_equal(ts_wal_sync(w), LOOM_ENOSPC);
  atomic_store(&g_write_fail_errno, 0);
  /* acknowledged records were lost: refuse further writes loudly */
  assert_int_equal(ts_wal_append(w, 0, "x", 1, NULL, NULL), LOOM_EREADONLY);
  ts_wal_close(w);
}

/* After a failed fsync in batched mode the writer must go quiet, not spin
 * on the data it can no longer sync. */
static void test_batched_fsync_failure_no_spin(void **state) {
  fx *f = *state;
  ts_wal_options o = {.mode = TS_WAL_BATCHED, .batch_interval_ms = 5, .io = &g_hooks};
  ts_wal *w;
  struct timespec c0, c1;
  double cpu;
  int rc;
  hooks_reset();
  w = open_started(f->dir, &o);
  atomic_store(&g_fsync_fail, 1);
  append_range(w, 0, 3);
  rc = ts_wal_sync(w);
  assert_true(rc == LOOM_EIO || rc == LOOM_EREADONLY);
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
  usleep(300000);
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
  cpu = (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) / 1e9;
  assert_true(cpu < 0.1); /* a spinning writer burns ~0.3 s here */
  ts_wal_close(w);
  hooks_reset();
}

static void test_start_fails_on_fsync_error(void **state) {
  fx *f = *state;
  ts_wal_options o = {.io = &g_hooks};
  ts_wal *w = NULL;
  hooks_reset();
  atomic_store(&g_fsync_fail, 1);
  assert_int_equal(ts_wal_open(f->dir, &o, &w), 0);
  assert_int_equal(ts_wal_start(w), LOOM_EIO);
  assert_int_equal(count_segments(f->dir), 0); /* the half-made file is gone */
  assert_int_equal(ts_wal_append(w, 0, "x", 1, NULL, NULL), LOOM_ECLOSED);
  ts_wal_close(w);
  hooks_reset();
}

static void test_rotate_failure_keeps_current(void **state) {
  fx *f = *state;
  ts_wal_options o = {.io = &g_hooks};
  ts_wal *w;
  uint64_t id0, id;
  hooks_reset();
  w = open_started(f->dir, &o);
  id0 = ts_wal_current_id(w);
  append_range(w, 0, 3);
  assert_int_equal(ts_wal_sync(w), 0);
  atomic_store(&g_write_fail_errno, ENOSPC); /* the new header cannot be written */
  assert_int_equal(ts_wal_rotate(w, &id), LOOM_ENOSPC);
  atomic_store(&g_write_fail_errno, 0);
  assert_int_equal(ts_wal_current_id(w), id0);
  append_range(w, 3, 6);
  assert_int_equal(ts_wal_sync(w), 0);
  ts_wal_close(w);
  replay_expect(f->dir, 0, 6, NULL);
}

static void test_remove_before(void **state) {
  fx *f = *state;
  ts_wal *w = open_started(f->dir, NULL);
  uint64_t id1 = ts_wal_current_id(w), id2, id3;
  ts_wal_stats st0, st1;
  char path[512];
  append_range(w, 0, 10);
  assert_int_equal(ts_wal_rotate(w, &id2), 0);
  append_range(w, 10, 20);
  assert_int_equal(ts_wal_rotate(w, &id3), 0);
  append_range(w, 20, 30);
  assert_int_equal(ts_wal_sync(w), 0);
  assert_int_equal(ts_wal_remove_before(w, id3 + 1), LOOM_EINVAL);
  ts_wal_stats_get(w, &st0);
  assert_int_equal(ts_wal_remove_before(w, id3), 0);
  ts_wal_stats_get(w, &st1);
  assert_true(st1.disk_bytes < st0.disk_bytes);
  seg_file(f->dir, id1, path, sizeof path);
  assert_int_equal(file_size(path), -1);
  seg_file(f->dir, id2, path, sizeof path);
  assert_int_equal(file_size(path), -1);
  seg_file(f->dir, id3, path, sizeof path);
  assert_int_equal(file_size(path), (long)st1.disk_bytes);
  ts_wal_close(w);
  replay_expect(f->dir, 20, 10, NULL);
}

static void test_stats(void **state) {
  fx *f = *state;
  ts_wal *w = open_started(f->dir, NULL);
  ts_wal_stats st;
  char path[512];
  assert_int_equal(ts_wal_append(w, 0, "12345", 5, NULL, NULL), 0);
  assert_int_equal(ts_wal_sync(w), 0);
  ts_wal_stats_get(w, &st);
  seg_file(f->dir, ts_wal_current_id(w), path, sizeof path);
  assert_int_equal(st.records, 1);
  assert_int_equal(st.bytes_written, TS_WAL_HEADER_LEN + TS_WAL_RECORD_HEADER_LEN + 5);
  assert_int_equal(st.disk_bytes, (uint64_t)file_size(path));
  assert_true(st.fsyncs >= 1);
  assert_true(st.fsync_ns_max <= st.fsync_ns_total);
  assert_true(st.groups >= 1);
  ts_wal_close(w);
}

static int stop_cb(void *arg, uint8_t type, const uint8_t *payload, size_t len) {
  int *n = arg;
  (void)type; (void)payload; (void)len;
  return ++*n == 3 ? LOOM_ECLOSED : 0;
}

static void test_replay_cb_abort(void **state) {
  fx *f = *state;
  ts_wal *w = open_started(f->dir, NULL);
  int n = 0;
  append_range(w, 0, 10);
  ts_wal_close(w);
  assert_int_equal(ts_wal_open(f->dir, NULL, &w), 0);
  assert_int_equal(ts_wal_replay(w, stop_cb, &n, NULL), LOOM_ECLOSED);
  assert_int_equal(n, 3);
  ts_wal_close(w);
  replay_expect(f->dir, 0, 10, NULL); /* nothing was damaged by the abort */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_codec_image_roundtrip),
      cmocka_unit_test(test_codec_empty_payload),
      cmocka_unit_test(test_codec_header_errors),
      cmocka_unit_test(test_codec_len_flip_detected),
      cmocka_unit_test(test_codec_zero_fill_is_corrupt),
      cmocka_unit_test(test_codec_encode_range),
      cmocka_unit_test(test_codec_cb_abort),
      cmocka_unit_test_setup_teardown(test_roundtrip_across_rotations, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rotate_splits_at_call, setup, teardown),
      cmocka_unit_test_setup_teardown(test_segment_size_rotation, setup, teardown),
      cmocka_unit_test_setup_teardown(test_group_commit_concurrent, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rotate_concurrent_with_appends, setup, teardown),
      cmocka_unit_test_setup_teardown(test_durable_cb_after_fsync, setup, teardown),
      cmocka_unit_test_setup_teardown(test_batched_ack_before_fsync, setup, teardown),
      cmocka_unit_test_setup_teardown(test_batched_sync_forces_fsync, setup, teardown),
      cmocka_unit_test_setup_teardown(test_close_flushes_pending, setup, teardown),
      cmocka_unit_test_setup_teardown(test_append_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_open_bad_args, setup, teardown),
      cmocka_unit_test_setup_teardown(test_torn_tail_every_offset, setup, teardown),
      cmocka_unit_test_setup_teardown(test_last_record_bitflips, setup, teardown),
      cmocka_unit_test_setup_teardown(test_start_without_replay_repairs_tail, setup, teardown),
      cmocka_unit_test_setup_teardown(test_corruption_in_older_file, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_header_last_file_removed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_enospc_transient, setup, teardown),
      cmocka_unit_test_setup_teardown(test_write_eio_goes_readonly, setup, teardown),
      cmocka_unit_test_setup_teardown(test_fsync_failure_readonly, setup, teardown),
      cmocka_unit_test_setup_teardown(test_batched_write_failure_readonly, setup, teardown),
      cmocka_unit_test_setup_teardown(test_batched_fsync_failure_no_spin, setup, teardown),
      cmocka_unit_test_setup_teardown(test_start_fails_on_fsync_error, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rotate_failure_keeps_current, setup, teardown),
      cmocka_unit_test_setup_teardown(test_remove_before, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stats, setup, teardown),
      cmocka_unit_test_setup_teardown(test_replay_cb_abort, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
