/* SPDX-License-Identifier: Apache-2.0
 * Micro-benchmark of the ts block codec on TSBS-like data: bytes per point
 * (whole block: header, timestamps, values, CRC), encode and decode speed
 * in M points/s and MB/s of raw input (16 bytes a point: ts + value), and,
 * for floats, the size a Gorilla XOR column would take for comparison.
 * Usage: codec_bench [points_per_block] (default 1000).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/err.h"
#include "ts/block.h"

#define NS_PER_S INT64_C(1000000000)
#define T0 INT64_C(1700000000000000000)

typedef struct dataset {
  const char *name;
  ts_type type;
  int64_t *ts;
  void *vals;
} dataset;

static uint64_t rng_next(uint64_t *s) {
  uint64_t z = (*s += UINT64_C(0x9E3779B97F4A7C15));
  z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
  return z ^ (z >> 31);
}

static double rng_unit(uint64_t *s) { return (double)(rng_next(s) >> 11) / 9007199254740992.0; }

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* TSBS's FP(x, p): float64(int(x * 10^p)) / 10^p. */
static double fp(double x, int p) {
  double m = pow(10, p);
  return (double)(int64_t)(x * m) / m;
}

/* Bits a classic Gorilla XOR column would take (5-bit leading, 6-bit length). */
static size_t gorilla_bytes(const double *v, uint32_t n) {
  uint64_t prev;
  memcpy(&prev, &v[0], 8);
  size_t bits = 64;
  unsigned lead = 65, trail = 0;
  for (uint32_t i = 1; i < n; i++) {
    uint64_t cur;
    memcpy(&cur, &v[i], 8);
    uint64_t x = cur ^ prev;
    prev = cur;
    if (!x) {
      bits += 1;
      continue;
    }
    unsigned l = (unsigned)__builtin_clzll(x), t = (unsigned)__builtin_ctzll(x);
    if (l > 31) l = 31;
    if (lead <= 64 && l >= lead && t >= trail) {
      bits += 2 + (64 - lead - trail);
    } else {
      bits += 2 + 5 + 6 + (64 - l - t);
      lead = l;
      trail = t;
    }
  }
  return (bits + 7) / 8;
}

static void run(const dataset *d, uint32_t n, uint32_t blocks) {
  loom_buf out, sb;
  loom_buf_init(&out);
  loom_buf_init(&sb);
  size_t esz = ts_type_size(d->type);
  size_t *off = calloc(blocks + 1, sizeof(size_t));
  int64_t *ts = malloc((size_t)n * 8);
  void *vals = malloc((size_t)n * esz);
  if (!off || !ts || !vals) {
    fprintf(stderr, "out of memory\n");
    exit(1);
  }
  int reps = 0;
  double t_enc = 0, t_dec = 0;
  /* Repeat until ~0.3 s of encoding so small runs are measurable. */
  do {
    loom_buf_reset(&out);
    double t = now_s();
    for (uint32_t b = 0; b < blocks; b++) {
      off[b] = out.len;
      const int64_t *bts = d->ts + (size_t)b * n;
      const char *bv = (const char *)d->vals + (size_t)b * n * esz;
      if (ts_block_encode(d->type, bts, bv, n, &out, NULL)) {
        fprintf(stderr, "%s: encode failed\n", d->name);
        exit(1);
      }
    }
    off[blocks] = out.len;
    t_enc += now_s() - t;
    t = now_s();
    for (uint32_t b = 0; b < blocks; b++) {
      loom_buf_reset(&sb);
      int rc = ts_block_decode(out.data + off[b], off[b + 1] - off[b], ts, vals, n, &sb);
      if (rc) {
        fprintf(stderr, "%s: decode failed: %s\n", d->name, loom_strerror(rc));
        exit(1);
      }
    }
    t_dec += now_s() - t;
    reps++;
  } while (t_enc < 0.3);
  double pts = (double)n * blocks * reps;
  double raw_mb = pts * (8 + (d->type == TS_STRING ? 8 : esz)) / 1e6;
  printf("%-26s %7.3f B/pt  enc %7.1f Mpt/s %7.0f MB/s  dec %7.1f Mpt/s %7.0f MB/s", d->name,
         (double)out.len / ((double)n * blocks), pts / t_enc / 1e6, raw_mb / t_enc,
         pts / t_dec / 1e6, raw_mb / t_dec);
  if (d->type == TS_FLOAT) {
    size_t g = 0;
    for (uint32_t b = 0; b < blocks; b++)
      g += gorilla_bytes((const double *)d->vals + (size_t)b * n, n);
    size_t val = 0;
    for (uint32_t b = 0; b < blocks; b++) val += loom_le32(out.data + off[b] + 68);
    printf("  values %.3f B/pt (gorilla %.3f)", (double)val / ((double)n * blocks),
           (double)g / ((double)n * blocks));
  }
  printf("\n");
  free(off);
  free(ts);
  free(vals);
  loom_buf_deinit(&sb);
  loom_buf_deinit(&out);
}

int main(int argc, char **argv) {
  uint32_t n = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 1000;
  if (n < 1 || n > TS_BLOCK_MAX_POINTS) {
    fprintf(stderr, "points per block: 1..%d\n", TS_BLOCK_MAX_POINTS);
    return 2;
  }
  uint32_t blocks = 1000000 / n + 1;
  size_t total = (size_t)n * blocks;
  int64_t *reg = malloc(total * 8), *jit = malloc(total * 8);
  double *lat = malloc(total * 8), *temp = malloc(total * 8), *usage = malloc(total * 8);
  double *rnd = malloc(total * 8);
  int64_t *cnt = malloc(total * 8);
  uint8_t *bl = malloc(total);
  ts_str *st = malloc(total * sizeof(ts_str));
  if (!reg || !jit || !lat || !temp || !usage || !rnd || !cnt || !bl || !st) return 1;
  static const char *states[] = {"running", "idle", "maintenance", "fault"};
  uint64_t s = 1;
  double la = 52.52, te = 21.0, us = 50.0;
  int64_t c = 0, tj = T0;
  for (size_t i = 0; i < total; i++) {
    reg[i] = T0 + (int64_t)i * 10 * NS_PER_S;
    tj += 10 * NS_PER_S + (int64_t)(rng_next(&s) % 1000000);
    jit[i] = tj;
    la += (rng_unit(&s) - 0.5) * 0.002;
    lat[i] = fp(la, 5);
    te += (rng_unit(&s) - 0.5) * 0.1;
    temp[i] = fp(te, 2);
    us += (rng_unit(&s) - 0.5) * 2;
    if (us < 0) us = 0;
    if (us > 100) us = 100;
    usage[i] = us; /* full-precision random walk (TSBS devops) */
    rnd[i] = rng_unit(&s);
    c += (int64_t)(rng_next(&s) % 100);
    cnt[i] = c;
    bl[i] = (i / 50) & 1;
    const char *p = states[(i / 100) % 4];
    st[i].p = p;
    st[i].len = (uint32_t)strlen(p);
  }
  printf("points/block %u, blocks %u; B/pt is the whole block (ts + values + header)\n", n,
         blocks);
  dataset ds[] = {
      {"float FP(x,5) latitude", TS_FLOAT, reg, lat},
      {"float FP(x,2) temperature", TS_FLOAT, reg, temp},
      {"float full-precision walk", TS_FLOAT, reg, usage},
      {"float random [0,1)", TS_FLOAT, reg, rnd},
      {"float FP(x,5), ts jitter", TS_FLOAT, jit, lat},
      {"int counter", TS_INT, reg, cnt},
      {"bool runs of 50", TS_BOOL, reg, bl},
      {"string 4 states", TS_STRING, reg, st},
  };
  for (size_t i = 0; i < sizeof(ds) / sizeof(ds[0]); i++) run(&ds[i], n, blocks);
  free(reg);
  free(jit);
  free(lat);
  free(temp);
  free(usage);
  free(rnd);
  free(cnt);
  free(bl);
  free(st);
  return 0;
}
