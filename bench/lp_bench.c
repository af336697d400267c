/* SPDX-License-Identifier: Apache-2.0
 * Micro-benchmark of the line protocol parser (ingest/lp) on generated
 * TSBS-like bodies: cpu-only rows (10 tags, 10 integer fields), iot readings
 * (8 tags, 7 floats) and Telegraf-style rows with sorted tags (the zero-copy
 * series key path). The lines are parsed as bodies of `batch` lines (TSBS's
 * default batch is 10000) with one reused lp_batch, as a server does. Prints
 * MB/s, lines/s and field values/s over thread CPU time (the machine may be
 * shared), best of R runs.
 * Usage: lp_bench [lines] [runs] [batch] (defaults 100000, 5, 10000).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/err.h"
#include "ingest/lp.h"

static uint64_t rng_next(uint64_t *s) {
  uint64_t z = (*s += UINT64_C(0x9E3779B97F4A7C15));
  z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
  return z ^ (z >> 31);
}

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

typedef struct body {
  char *p;
  size_t len, cap;
} body;

static void body_printf(body *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void body_printf(body *b, const char *fmt, ...) {
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < b->cap - b->len) {
      b->len += (size_t)n;
      return;
    }
    b->cap = b->cap * 2 + 4096;
    b->p = realloc(b->p, b->cap);
    if (!b->p) {
      fprintf(stderr, "out of memory\n");
      exit(1);
    }
  }
}

static const char *const regions[] = {"us-east-1", "us-west-1", "eu-central-1", "ap-southeast-2"};
static const char *const oses[] = {"Ubuntu16.10", "Ubuntu15.10", "Ubuntu16.04LTS"};
static const char *const fleets[] = {"East", "West", "North", "South"};
static const char *const drivers[] = {"Trish", "Albert", "Derek", "Rodney", "Andy", "Seth"};
static const char *const models[] = {"H-2", "F-150", "G-2000"};

static void gen_cpu(body *b, size_t n, int sorted_tags) {
  uint64_t s = 1;
  int64_t t = INT64_C(1451606400000000000);
  for (size_t i = 0; i < n; i++) {
    size_t host = i % 1000;
    const char *region = regions[host % 4];
    if (sorted_tags)
      body_printf(b, "cpu,arch=x64,cpu=cpu-total,datacenter=%sa,host=host_%zu,os=%s,region=%s ",
                  region, host, oses[host % 3], region);
    else
      body_printf(b,
                  "cpu,hostname=host_%zu,region=%s,datacenter=%sa,rack=%zu,os=%s,arch=x64,team=SF,"
                  "service=%zu,service_version=%zu,service_environment=production ",
                  host, region, region, host % 100, oses[host % 3], host % 20, host % 2);
    static const char *const names[] = {"usage_user", "usage_system", "usage_idle", "usage_nice",
                                        "usage_iowait", "usage_irq", "usage_softirq",
                                        "usage_steal", "usage_guest", "usage_guest_nice"};
    for (int f = 0; f < 10; f++)
      body_printf(b, "%s%s=%" PRIu64 "i", f ? "," : "", names[f], rng_next(&s) % 100);
    body_printf(b, " %" PRId64 "\n", t + (int64_t)(i / 1000) * INT64_C(10000000000));
  }
}

static void gen_iot(body *b, size_t n) {
  uint64_t s = 2;
  int64_t t = INT64_C(1451606400000000000);
  for (size_t i = 0; i < n; i++) {
    size_t truck = i % 1000;
    body_printf(b,
                "readings,name=truck_%zu,fleet=%s,driver=%s,model=%s,device_version=v%zu.%zu,"
                "load_capacity=1500,fuel_capacity=150,nominal_fuel_consumption=12 ",
                truck, fleets[truck % 4], drivers[truck % 6], models[truck % 3], truck % 3,
                truck % 10);
    body_printf(b,
                "latitude=%.5f,longitude=%.5f,elevation=%" PRIu64 ",velocity=%" PRIu64
                ",heading=%" PRIu64 ",grade=%" PRIu64 ",fuel_consumption=%.1f",
                (double)(rng_next(&s) % 9000000) / 100000.0,
                (double)(rng_next(&s) % 18000000) / 100000.0, rng_next(&s) % 500,
                rng_next(&s) % 100, rng_next(&s) % 360, rng_next(&s) % 100,
                (double)(rng_next(&s) % 500) / 10.0);
    body_printf(b, " %" PRId64 "\n", t + (int64_t)(i / 1000) * INT64_C(10000000000));
  }
}

static int run(const char *name, const body *bd, size_t n_lines, int runs, size_t batch) {
  lp_batch b;
  lp_batch_init(&b);
  double best = 1e30;
  uint64_t n_values = 0;
  /* body boundaries every `batch` lines, found before timing */
  size_t n_cuts = 1, *cuts = malloc((n_lines / batch + 2) * sizeof *cuts);
  if (!cuts) return 1;
  cuts[0] = 0;
  for (size_t pos = 0, lines = 0; pos < bd->len;) {
    const char *nl = memchr(bd->p + pos, '\n', bd->len - pos);
    pos = nl ? (size_t)(nl - bd->p) + 1 : bd->len;
    if (++lines % batch == 0 || pos == bd->len) cuts[n_cuts++] = pos;
  }
  for (int r = 0; r < runs; r++) {
    uint64_t points = 0, values = 0;
    double t0 = now_s();
    for (size_t c = 0; c + 1 < n_cuts; c++) {
      size_t pos = cuts[c], end = cuts[c + 1];
      lp_batch_reset(&b);
      int rc = lp_parse(&b, bd->p + pos, end - pos, 1, 0);
      if (rc || b.n_errors_total) {
        fprintf(stderr, "%s: rc %d, %" PRIu64 " errors (%s)\n", name, rc, b.n_errors_total,
                b.n_errors ? b.errors[0].msg : "");
        lp_batch_deinit(&b);
        free(cuts);
        return 1;
      }
      points += b.n_points;
      for (uint32_t i = 0; i < b.n_points; i++) values += b.points[i].n_fields;
    }
    double dt = now_s() - t0;
    if (points != n_lines) {
      fprintf(stderr, "%s: %" PRIu64 " points, want %zu\n", name, points, n_lines);
      lp_batch_deinit(&b);
      free(cuts);
      return 1;
    }
    n_values = values;
    if (dt < best) best = dt;
  }
  printf("%-22s %8zu lines %7.1f MB  %8.1f MB/s  %6.2f M lines/s  %6.1f M values/s\n", name,
         n_lines, (double)bd->len / 1e6, (double)bd->len / best / 1e6, (double)n_lines / best / 1e6,
         (double)n_values / best / 1e6);
  lp_batch_deinit(&b);
  free(cuts);
  return 0;
}

int main(int argc, char **argv) {
  size_t n = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 100000;
  int runs = argc > 2 ? atoi(argv[2]) : 5;
  size_t batch = argc > 3 ? (size_t)strtoull(argv[3], NULL, 10) : 10000;
  if (n == 0 || runs <= 0 || batch == 0) {
    fprintf(stderr, "usage: lp_bench [lines] [runs] [batch]\n");
    return 2;
  }
  body cpu = {0}, iot = {0}, tel = {0};
  gen_cpu(&cpu, n, 0);
  gen_iot(&iot, n);
  gen_cpu(&tel, n, 1);
  printf("line protocol parser, single thread, bodies of %zu lines, CPU time, best of %d runs\n",
         batch, runs);
  int rc = run("tsbs cpu-only", &cpu, n, runs, batch) |
           run("tsbs iot readings", &iot, n, runs, batch) |
           run("telegraf cpu (sorted)", &tel, n, runs, batch);
  free(cpu.p);
  free(iot.p);
  free(tel.p);
  return rc;
}
