/* SPDX-License-Identifier: Apache-2.0
 * console_load: the console benchmark's data and server timings.
 *   console_load load  --url U --token T [--db default] [--measurement bench10]
 *                      [--device BENCH-1] [--keys 10] [--days 90] [--end-s S]
 *                      [--batch 5000] [--workers 2]
 *     generates 1 Hz line protocol for one device (keys random-walk decimals,
 *     as sensors give) and POSTs it to /write?precision=s in batches of lines,
 *     W workers taking time chunks in order. Prints one JSON line.
 *   console_load query --url U --token T --id DEVICE_ID --keys k1,k2,.. --start-ms A
 *                      --end-ms B --width PX [--runs 5]
 *     times GET /api/v1/devices/{id}/telemetry for the device page's history
 *     charts: interval = ceil(range / width), agg=AVG; all keys in one request,
 *     and one request per key sent concurrently (as ten charts do). Prints one
 *     JSON line with medians (ms), the answers' bytes and, with --pid PID,
 *     the server's CPU time (utime + stime) per all-keys request.
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "bench_http.h"
#include "core/buf.h"
#include "core/mem.h"
#include "core/timeutil.h"

#define CHUNK_S 5000 /* seconds of data per POST (lines) by default */
#define KEYS_MAX 32

static const char *const key_names[] = {
  "temp_c", "pressure_bar", "flow_m3h", "vibration_mm_s", "power_kw", "speed_rpm",
  "current_a", "voltage_v", "humidity_pct", "torque_nm", "k11", "k12", "k13", "k14", "k15", "k16"};
static const double key_base[] = {45, 6, 38, 2.5, 12, 1480, 22, 400, 55, 120,
                                  1, 1, 1, 1, 1, 1};

typedef struct opts {
  bh_url url;
  char headers[512];
  const char *db, *measurement, *device, *id, *keys;
  int n_keys, days, batch, workers, runs, width, pid;
  int64_t end_s, start_ms, end_ms;
} opts;

typedef struct load_ctx {
  const opts *o;
  int64_t start_s, n_chunks;
  atomic_llong next;
  atomic_int failed;
  atomic_llong lines;
} load_ctx;

static uint64_t mix(uint64_t x) { /* splitmix64: a value per (key, second), order-free */
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

/* A smooth, noisy signal: slow sine (a day), a faster one, noise; 2 decimals. */
static double value_at(int k, int64_t t) {
  double base = key_base[k];
  double day = sin((double)t * 2 * M_PI / 86400.0 + k);
  double fast = sin((double)t * 2 * M_PI / 600.0 + 2 * k);
  double noise = (double)(mix((uint64_t)t * 31 + (uint64_t)k) >> 11) / 9007199254740992.0 - 0.5;
  return round((base * (1 + 0.1 * day + 0.03 * fast + 0.02 * noise)) * 100) / 100;
}

static int gen_chunk(const opts *o, int64_t from_s, int64_t to_s, loom_buf *b) {
  int rc = 0;
  loom_buf_reset(b);
  for (int64_t t = from_s; !rc && t < to_s; t++) {
    rc = loom_buf_printf(b, "%s,device=%s ", o->measurement, o->device);
    for (int k = 0; !rc && k < o->n_keys; k++)
      rc = loom_buf_printf(b, "%s%s=%.2f", k ? "," : "", key_names[k], value_at(k, t));
    if (!rc) rc = loom_buf_printf(b, " %lld\n", (long long)t);
  }
  return rc;
}

static void *load_worker(void *arg) {
  load_ctx *ctx = arg;
  const opts *o = ctx->o;
  bh_conn c;
  bh_conn_init(&c, &o->url);
  loom_buf body, resp;
  loom_buf_init(&body);
  loom_buf_init(&resp);
  char target[512];
  snprintf(target, sizeof target, "/write?db=%s&precision=s", o->db);
  for (;;) {
    long long i = atomic_fetch_add(&ctx->next, 1);
    if (i >= ctx->n_chunks || atomic_load(&ctx->failed)) break;
    int64_t from = ctx->start_s + i * o->batch;
    int64_t to = from + o->batch;
    int64_t end = ctx->start_s + (int64_t)o->days * 86400;
    if (to > end) to = end;
    int status = 0;
    if (gen_chunk(o, from, to, &body) ||
        bh_request(&c, "POST", target, o->headers, body.data, body.len, &status, &resp) ||
        status / 100 != 2) {
      fprintf(stderr, "console_load: write failed (status %d): %.*s\n", status, (int)resp.len,
              resp.data ? (const char *)resp.data : "");
      atomic_store(&ctx->failed, 1);
      break;
    }
    atomic_fetch_add(&ctx->lines, to - from);
  }
  loom_buf_deinit(&body);
  loom_buf_deinit(&resp);
  bh_conn_deinit(&c);
  return NULL;
}

static int do_load(const opts *o) {
  load_ctx ctx = {.o = o};
  ctx.start_s = o->end_s - (int64_t)o->days * 86400;
  ctx.n_chunks = ((int64_t)o->days * 86400 + o->batch - 1) / o->batch;
  pthread_t th[16];
  int n = o->workers < 1 ? 1 : o->workers > 16 ? 16 : o->workers;
  int64_t t0 = loom_mono_ns();
  for (int i = 0; i < n; i++) pthread_create(&th[i], NULL, load_worker, &ctx);
  for (int i = 0; i < n; i++) pthread_join(th[i], NULL);
  double s = (double)(loom_mono_ns() - t0) / 1e9;
  long long lines = atomic_load(&ctx.lines);
  printf("{\"lines\":%lld,\"points\":%lld,\"seconds\":%.2f,\"points_per_sec\":%.0f,"
         "\"start_ms\":%lld,\"end_ms\":%lld}\n",
         lines, lines * o->n_keys, s, (double)lines * o->n_keys / s,
         (long long)ctx.start_s * 1000, (long long)o->end_s * 1000);
  return atomic_load(&ctx.failed) ? 1 : 0;
}

typedef struct q_job {
  const opts *o;
  char target[2400];
  double ms;
  size_t bytes;
  int status;
  pthread_t th;
} q_job;

static void q_target(const opts *o, const char *keys, char *out, size_t cap) {
  int64_t range = o->end_ms - o->start_ms;
  int64_t interval = (range + o->width - 1) / o->width;
  snprintf(out, cap, "/api/v1/devices/%s/telemetry?keys=%s&startTs=%lld&endTs=%lld&interval=%lld&agg=AVG",
           o->id, keys, (long long)o->start_ms, (long long)o->end_ms, (long long)interval);
}

static void *q_one(void *arg) {
  q_job *j = arg;
  bh_conn c;
  bh_conn_init(&c, &j->o->url);
  loom_buf resp;
  loom_buf_init(&resp);
  int64_t t0 = loom_mono_ns();
  if (bh_request(&c, "GET", j->target, j->o->headers, NULL, 0, &j->status, &resp)) j->status = -1;
  j->ms = (double)(loom_mono_ns() - t0) / 1e6;
  j->bytes = resp.len;
  loom_buf_deinit(&resp);
  bh_conn_deinit(&c);
  return NULL;
}

/* utime + stime of process pid in ms (0 when unreadable). */
static double proc_cpu_ms(int pid) {
  if (pid <= 0) return 0;
  char path[64], buf[2048];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  const char *p = strrchr(buf, ')'); /* fields after the command name */
  unsigned long long ut = 0, st = 0;
  if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
    return 0;
  return (double)(ut + st) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static int do_query(const opts *o) {
  char keys[KEYS_MAX][64];
  int nk = 0;
  char tmp[2048];
  snprintf(tmp, sizeof tmp, "%s", o->keys);
  for (char *save = NULL, *k = strtok_r(tmp, ",", &save); k && nk < KEYS_MAX;
       k = strtok_r(NULL, ",", &save))
    snprintf(keys[nk++], sizeof keys[0], "%s", k);
  int runs = o->runs < 1 ? 1 : o->runs > 100 ? 100 : o->runs;
  double one[100], par[100], slowest_key[100];
  size_t bytes_one = 0, bytes_par = 0;
  int bad = 0;
  double cpu_one = 0;
  for (int r = 0; r < runs + 1; r++) { /* run 0 warms the caches, not counted */
    q_job all = {.o = o};
    q_target(o, o->keys, all.target, sizeof all.target);
    double c0 = proc_cpu_ms(o->pid);
    q_one(&all);
    if (r) cpu_one += proc_cpu_ms(o->pid) - c0;
    q_job jobs[KEYS_MAX];
    int64_t t0 = loom_mono_ns();
    for (int k = 0; k < nk; k++) {
      jobs[k] = (q_job){.o = o};
      q_target(o, keys[k], jobs[k].target, sizeof jobs[k].target);
      pthread_create(&jobs[k].th, NULL, q_one, &jobs[k]);
    }
    double worst = 0;
    size_t b = 0;
    for (int k = 0; k < nk; k++) {
      pthread_join(jobs[k].th, NULL);
      if (jobs[k].status != 200) bad++;
      if (jobs[k].ms > worst) worst = jobs[k].ms;
      b += jobs[k].bytes;
    }
    double wall = (double)(loom_mono_ns() - t0) / 1e6;
    if (all.status != 200) bad++;
    if (r == 0) continue;
    one[r - 1] = all.ms;
    par[r - 1] = wall;
    slowest_key[r - 1] = worst;
    bytes_one = all.bytes;
    bytes_par = b;
  }
  qsort(one, (size_t)runs, sizeof one[0], cmp_d);
  qsort(par, (size_t)runs, sizeof par[0], cmp_d);
  qsort(slowest_key, (size_t)runs, sizeof slowest_key[0], cmp_d);
  printf("{\"keys\":%d,\"width\":%d,\"range_ms\":%lld,\"runs\":%d,\"one_request_ms\":%.1f,"
         "\"one_request_bytes\":%zu,\"per_key_parallel_ms\":%.1f,\"per_key_bytes\":%zu,"
         "\"per_key_max_ms\":%.1f,\"server_cpu_ms_per_request\":%.1f,\"errors\":%d}\n",
         nk, o->width, (long long)(o->end_ms - o->start_ms), runs, one[runs / 2], bytes_one,
         par[runs / 2], bytes_par, slowest_key[runs / 2], cpu_one / runs, bad);
  return bad ? 1 : 0;
}

static void usage(void) {
  fprintf(stderr, "usage: console_load load --url U --token T [--db D] [--measurement M] "
                  "[--device NAME] [--keys N] [--days N] [--end-s S] [--batch LINES] [--workers N]\n"
                  "       console_load query --url U --token T --id ID --keys a,b --start-ms A "
                  "--end-ms B --width PX [--runs N] [--pid SERVER_PID]\n");
}

int main(int argc, char **argv) {
  opts o = {.db = "default", .measurement = "bench10", .device = "BENCH-1", .n_keys = 10,
            .days = 90, .batch = CHUNK_S, .workers = 2, .runs = 5, .width = 1200};
  o.end_s = loom_now_ns() / LOOM_NS_PER_S;
  if (argc < 2 || (strcmp(argv[1], "load") && strcmp(argv[1], "query"))) {
    usage();
    return 2;
  }
  const char *url = NULL, *token = NULL;
  for (int i = 2; i + 1 < argc; i += 2) {
    const char *a = argv[i], *v = argv[i + 1];
    if (!strcmp(a, "--url")) url = v;
    else if (!strcmp(a, "--token")) token = v;
    else if (!strcmp(a, "--db")) o.db = v;
    else if (!strcmp(a, "--measurement")) o.measurement = v;
    else if (!strcmp(a, "--device")) o.device = v;
    else if (!strcmp(a, "--id")) o.id = v;
    else if (!strcmp(a, "--keys")) {
      o.keys = v;
      o.n_keys = atoi(v);
    } else if (!strcmp(a, "--days")) o.days = atoi(v);
    else if (!strcmp(a, "--end-s")) o.end_s = atoll(v);
    else if (!strcmp(a, "--start-ms")) o.start_ms = atoll(v);
    else if (!strcmp(a, "--end-ms")) o.end_ms = atoll(v);
    else if (!strcmp(a, "--batch")) o.batch = atoi(v);
    else if (!strcmp(a, "--workers")) o.workers = atoi(v);
    else if (!strcmp(a, "--runs")) o.runs = atoi(v);
    else if (!strcmp(a, "--width")) o.width = atoi(v);
    else if (!strcmp(a, "--pid")) o.pid = atoi(v);
    else {
      usage();
      return 2;
    }
  }
  if (!url || !token || bh_url_parse(url, &o.url)) {
    usage();
    return 2;
  }
  snprintf(o.headers, sizeof o.headers, "Authorization: Bearer %s\r\n", token);
  if (!strcmp(argv[1], "load")) {
    if (o.n_keys < 1 || o.n_keys > 16 || o.days < 1 || o.batch < 1) {
      usage();
      return 2;
    }
    return do_load(&o);
  }
  if (!o.id || !o.keys || o.end_ms <= o.start_ms || o.width < 1) {
    usage();
    return 2;
  }
  return do_query(&o);
}
