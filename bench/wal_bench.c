/* SPDX-License-Identifier: Apache-2.0
 * wal_bench: throughput of ts/wal on this disk. W writer threads each append a
 * record and wait for its done callback before the next one (as a client
 * waits for its HTTP 204 / PUBACK), for S seconds, with W = 1, 4, 16, in
 * durable mode (and once in batched mode for reference). Prints one JSON line
 * per run: mode, writers, appends/s, fsyncs/s, records per fsync, fsync
 * latency. Usage: wal_bench [dir-on-the-disk-to-test] [seconds] [payload_bytes]
 * (default: a fresh directory under /tmp, 3 s, 200 bytes).
 */
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "core/timeutil.h"
#include "ts/wal.h"

typedef struct waiter {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int done, status;
} waiter;

typedef struct worker {
  ts_wal *w;
  const uint8_t *payload;
  size_t len;
  int64_t stop_ns;
  uint64_t appends;
  int err;
  waiter wt;
} worker;

static void on_done(void *arg, int status) {
  waiter *wt = arg;
  pthread_mutex_lock(&wt->mu);
  wt->done = 1;
  wt->status = status;
  pthread_cond_signal(&wt->cv);
  pthread_mutex_unlock(&wt->mu);
}

static void *run_worker(void *arg) {
  worker *k = arg;
  while (loom_mono_ns() < k->stop_ns) {
    int rc;
    k->wt.done = 0;
    rc = ts_wal_append(k->w, 1, k->payload, k->len, on_done, &k->wt);
    if (rc != 0) {
      k->err = rc;
      break;
    }
    pthread_mutex_lock(&k->wt.mu);
    while (!k->wt.done) pthread_cond_wait(&k->wt.cv, &k->wt.mu);
    pthread_mutex_unlock(&k->wt.mu);
    if (k->wt.status != 0) {
      k->err = k->wt.status;
      break;
    }
    k->appends++;
  }
  return NULL;
}

static void clear_dir(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  char p[4096];
  if (d == NULL) return;
  while ((e = readdir(d)) != NULL) {
    if (strncmp(e->d_name, "wal-", 4) != 0) continue;
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    unlink(p);
  }
  closedir(d);
}

static int run(const char *dir, int mode, int writers, double seconds, size_t len) {
  ts_wal_options o = {.mode = mode};
  ts_wal *w = NULL;
  ts_wal_stats st;
  worker *ks = calloc((size_t)writers, sizeof *ks);
  pthread_t *th = calloc((size_t)writers, sizeof *th);
  uint8_t *payload = malloc(len > 0 ? len : 1);
  uint64_t total = 0;
  int64_t t0, t1;
  int rc, err = 0;
  if (ks == NULL || th == NULL || payload == NULL) return 1;
  for (size_t i = 0; i < len; i++) payload[i] = (uint8_t)('a' + i % 26);
  clear_dir(dir);
  rc = ts_wal_open(dir, &o, &w);
  if (rc == 0) rc = ts_wal_start(w);
  if (rc != 0) {
    fprintf(stderr, "wal_bench: %s\n", loom_strerror(rc));
    return 1;
  }
  t0 = loom_mono_ns();
  for (int i = 0; i < writers; i++) {
    ks[i].w = w;
    ks[i].payload = payload;
    ks[i].len = len;
    ks[i].stop_ns = t0 + (int64_t)(seconds * 1e9);
    pthread_mutex_init(&ks[i].wt.mu, NULL);
    pthread_cond_init(&ks[i].wt.cv, NULL);
    pthread_create(&th[i], NULL, run_worker, &ks[i]);
  }
  for (int i = 0; i < writers; i++) {
    pthread_join(th[i], NULL);
    total += ks[i].appends;
    if (ks[i].err != 0) err = ks[i].err;
  }
  t1 = loom_mono_ns();
  ts_wal_stats_get(w, &st);
  ts_wal_close(w);
  clear_dir(dir);
  {
    double secs = (double)(t1 - t0) / 1e9;
    printf("{\"bench\":\"wal\",\"mode\":\"%s\",\"writers\":%d,\"payload_bytes\":%zu,"
           "\"seconds\":%.2f,\"appends\":%llu,\"appends_per_s\":%.0f,\"fsyncs_per_s\":%.0f,"
           "\"records_per_fsync\":%.2f,\"fsync_avg_us\":%.1f,\"fsync_max_us\":%.1f,"
           "\"mb_per_s\":%.2f,\"error\":\"%s\"}\n",
           mode == TS_WAL_DURABLE ? "durable" : "batched", writers, len, secs,
           (unsigned long long)total, (double)total / secs, (double)st.fsyncs / secs,
           st.fsyncs ? (double)st.records / (double)st.fsyncs : 0.0,
           st.fsyncs ? (double)st.fsync_ns_total / (double)st.fsyncs / 1e3 : 0.0,
           (double)st.fsync_ns_max / 1e3, (double)st.bytes_written / secs / 1e6,
           err ? loom_strerror(err) : "");
    fflush(stdout);
  }
  for (int i = 0; i < writers; i++) {
    pthread_mutex_destroy(&ks[i].wt.mu);
    pthread_cond_destroy(&ks[i].wt.cv);
  }
  free(ks);
  free(th);
  free(payload);
  return err != 0;
}

int main(int argc, char **argv) {
  char tmp[] = "/tmp/loom-wal-bench-XXXXXX";
  const char *dir = argc > 1 && argv[1][0] != '\0' ? argv[1] : NULL;
  double seconds = argc > 2 ? atof(argv[2]) : 3.0;
  size_t len = argc > 3 ? (size_t)atol(argv[3]) : 200;
  static const int writers[] = {1, 4, 16};
  int fail = 0;
  if (dir == NULL) {
    if (mkdtemp(tmp) == NULL) {
      perror("mkdtemp");
      return 1;
    }
    dir = tmp;
  }
  if (seconds <= 0) seconds = 3.0;
  for (size_t i = 0; i < sizeof writers / sizeof writers[0]; i++)
    fail |= run(dir, TS_WAL_DURABLE, writers[i], seconds, len);
  fail |= run(dir, TS_WAL_BATCHED, 16, seconds, len);
  if (dir == tmp) rmdir(tmp);
  return fail;
}
