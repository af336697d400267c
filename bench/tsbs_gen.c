/* SPDX-License-Identifier: Apache-2.0
 * tsbs_gen: a TSBS-compatible data generator (use cases iot and cpu-only) that
 * writes InfluxDB line protocol exactly as TSBS's influx serializer lays it
 * out: tag order, field order, non-string tags serialised as leading fields,
 * integer fields with an `i` suffix, ns timestamps. The distributions, the
 * emission order and, for iot, the batch-level disorder mirror
 * timescale/tsbs pkg/data/usecases; the random source is our own (xoshiro256**),
 * so values are not bit-identical to Go TSBS output, only identically distributed.
 * See bench/README.md for the definitions we pinned.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/mem.h"
#include "core/timeutil.h"

/* ---- PRNG: xoshiro256** seeded by splitmix64 --------------------------- */

typedef struct rng {
  uint64_t s[4];
  int have_spare; /* polar method yields normals in pairs */
  double spare;
} rng;

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static void rng_seed(rng *r, uint64_t seed) {
  for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
  r->have_spare = 0;
  r->spare = 0;
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t rng_u64(rng *r) {
  uint64_t *s = r->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

/* Uniform in [0, 1), like Go's rand.Float64. */
static inline double rng_f64(rng *r) { return (double)(rng_u64(r) >> 11) * 0x1.0p-53; }

/* Uniform integer in [0, n), like rand.Intn (Lemire's multiply-shift). */
static inline uint32_t rng_intn(rng *r, uint32_t n) {
  return (uint32_t)(((unsigned __int128)rng_u64(r) * n) >> 64);
}

/* Standard normal (Marsaglia polar), like rand.NormFloat64. */
static double rng_norm(rng *r) {
  if (r->have_spare) {
    r->have_spare = 0;
    return r->spare;
  }
  double u, v, s;
  do {
    u = rng_f64(r) * 2.0 - 1.0;
    v = rng_f64(r) * 2.0 - 1.0;
    s = u * u + v * v;
  } while (s >= 1.0 || s == 0.0);
  double m = sqrt(-2.0 * log(s) / s);
  r->spare = v * m;
  r->have_spare = 1;
  return u * m;
}

/* ---- distributions ------------------------------------------------------ */

/* Clamped random walk with a uniform step UD(lo, hi): CWD(UD(lo,hi), min, max, init). */
typedef struct cwd {
  double state, min, max, lo, hi;
} cwd;

static inline void cwd_uniform_advance(cwd *d, rng *r) {
  d->state += rng_f64(r) * (d->hi - d->lo) + d->lo;
  if (d->state > d->max) d->state = d->max;
  if (d->state < d->min) d->state = d->min;
}

static inline void cwd_normal_advance(cwd *d, rng *r) {
  d->state += rng_norm(r); /* ND(0, 1) */
  if (d->state > d->max) d->state = d->max;
  if (d->state < d->min) d->state = d->min;
}

/* FP(d, p): float64(int(x * 10^p)) / 10^p; we keep the scaled integer. */
static inline int64_t fp_scaled(double x, double scale) { return (int64_t)(x * scale); }

/* ---- iot model ---------------------------------------------------------- */

enum { N_READINGS = 7, N_DIAG = 3, N_TRUCK_TAGS = 8, BATCH = 10 };

static const char *const fleets[] = {"East", "West", "North", "South"};
static const char *const drivers[] = {"Derek", "Rodney", "Albert", "Andy", "Seth", "Trish"};
static const char *const models[] = {"F-150", "G-2000", "H-2"};
static const char *const model_load[] = {"2000", "5000", "1500"};
static const char *const model_fuel[] = {"200", "300", "150"};
static const char *const model_cons[] = {"15", "19", "12"};
static const char *const versions[] = {"v1.0", "v1.5", "v2.0", "v2.3"};
static const char *const readings_names[N_READINGS] = {
    "latitude", "longitude", "elevation", "velocity", "heading", "grade", "fuel_consumption"};
static const int readings_prec[N_READINGS] = {5, 5, 0, 0, 0, 0, 1};
static const char *const diag_names[N_DIAG] = {"fuel_state", "current_load", "status"};
static const int diag_prec[N_DIAG] = {1, 0, 0};
static const char *const truck_tag_keys[N_TRUCK_TAGS] = {
    "name", "fleet", "driver", "model", "device_version",
    "load_capacity", "fuel_capacity", "nominal_fuel_consumption"};

typedef struct truck {
  cwd rd[N_READINGS];
  cwd fuel;          /* refuels to max when it hits min */
  double load;       /* LD(UD(0,1), UD(0,5000), 0.95): last step value, starts 0 */
  cwd status;        /* CWD(ND(0,1), 0, 5, 0) */
  uint8_t fleet, driver, model, version;
} truck;

/* One generated row, kept structured so disorder can clear fields/tags later. */
typedef struct entry {
  int64_t ts_ns;
  int64_t k[N_READINGS]; /* values scaled by 10^prec (status: the int64 value) */
  uint32_t truck;
  uint8_t kind;          /* 0 readings, 1 diagnostics */
  uint8_t cleared_fields; /* bit i: field i omitted */
  uint8_t cleared_tags;   /* bit i: tag i omitted */
} entry;

static const double pow10_tab[6] = {1, 10, 100, 1000, 10000, 100000};

/* Base simulator (common.BaseSimulator): emits, per epoch, every truck's
 * readings then every truck's diagnostics, then ticks all trucks. */
typedef struct base_sim {
  truck *trucks;
  uint32_t n;
  uint64_t made, max;
  uint32_t gen_idx;
  int meas_idx;
  int64_t ts_ns, interval_ns;
  rng *r;
} base_sim;

static void truck_init(truck *t, rng *r) {
  /* readings distributions, in field order (their constructors draw first) */
  t->rd[0] = (cwd){rng_f64(r) * 90.0, -90, 90, -0.005, 0.005};
  t->rd[1] = (cwd){rng_f64(r) * 180.0, -180, 180, -0.005, 0.005};
  t->rd[2] = (cwd){rng_f64(r) * 500.0, 0, 5000, -10, 10};
  t->rd[3] = (cwd){0, 0, 100, -10, 10};
  t->rd[4] = (cwd){rng_f64(r) * 360.0, 0, 360, -5, 5};
  t->rd[5] = (cwd){0, 0, 100, -5, 5};
  t->rd[6] = (cwd){25, 0, 50, -5, 5};
  t->fuel = (cwd){1.0, 0, 1.0, -0.001, 0};
  t->load = 0;
  t->status = (cwd){0, 0, 5, 0, 0};
  t->model = (uint8_t)rng_intn(r, 3);
  t->fleet = (uint8_t)rng_intn(r, 4);
  t->driver = (uint8_t)rng_intn(r, 6);
  t->version = (uint8_t)rng_intn(r, 4);
}

static void truck_tick(truck *t, rng *r) {
  for (int i = 0; i < N_READINGS; i++) cwd_uniform_advance(&t->rd[i], r);
  cwd_uniform_advance(&t->fuel, r);
  if (t->fuel.state == t->fuel.min) t->fuel.state = t->fuel.max;
  if (rng_f64(r) >= 0.95) t->load = rng_f64(r) * 5000.0;
  cwd_normal_advance(&t->status, r);
}

static void base_next(base_sim *b, entry *e) {
  if (b->gen_idx == b->n) {
    b->gen_idx = 0;
    b->meas_idx++;
  }
  if (b->meas_idx == 2) {
    b->meas_idx = 0;
    for (uint32_t i = 0; i < b->n; i++) truck_tick(&b->trucks[i], b->r);
    b->ts_ns += b->interval_ns;
  }
  const truck *t = &b->trucks[b->gen_idx];
  e->ts_ns = b->ts_ns;
  e->truck = b->gen_idx;
  e->kind = (uint8_t)b->meas_idx;
  e->cleared_fields = 0;
  e->cleared_tags = 0;
  if (b->meas_idx == 0) {
    for (int i = 0; i < N_READINGS; i++)
      e->k[i] = fp_scaled(t->rd[i].state, pow10_tab[readings_prec[i]]);
  } else {
    e->k[0] = fp_scaled(t->fuel.state, 10.0);
    e->k[1] = fp_scaled(t->load, 1.0);
    e->k[2] = (int64_t)t->status.state;
  }
  b->made++;
  b->gen_idx++;
}

static int base_finished(const base_sim *b) { return b->made >= b->max; }

/* FIFO of entries (ring buffer, grows). */
typedef struct equeue {
  entry *v;
  size_t head, len, cap;
} equeue;

static int equeue_push(equeue *q, const entry *e) {
  if (q->len == q->cap) {
    size_t ncap = q->cap ? q->cap * 2 : 64;
    entry *nv = loom_malloc(ncap * sizeof *nv);
    if (!nv) return LOOM_ENOMEM;
    for (size_t i = 0; i < q->len; i++) nv[i] = q->v[(q->head + i) % q->cap];
    loom_free(q->v);
    q->v = nv;
    q->head = 0;
    q->cap = ncap;
  }
  q->v[(q->head + q->len) % q->cap] = *e;
  q->len++;
  return 0;
}

static void equeue_pop(equeue *q, entry *e) {
  *e = q->v[q->head];
  q->head = (q->head + 1) % q->cap;
  q->len--;
}

/* A held-back batch is a run of entries in a second queue plus its length. */
typedef struct bqueue {
  equeue items;
  uint8_t *lens;
  size_t head, len, cap;
} bqueue;

static int bqueue_push(bqueue *q, const entry *batch, uint8_t n) {
  if (q->len == q->cap) {
    size_t ncap = q->cap ? q->cap * 2 : 16;
    uint8_t *nl = loom_malloc(ncap);
    if (!nl) return LOOM_ENOMEM;
    for (size_t i = 0; i < q->len; i++) nl[i] = q->lens[(q->head + i) % q->cap];
    loom_free(q->lens);
    q->lens = nl;
    q->head = 0;
    q->cap = ncap;
  }
  for (uint8_t i = 0; i < n; i++)
    if (equeue_push(&q->items, &batch[i]) != 0) return LOOM_ENOMEM;
  q->lens[(q->head + q->len) % q->cap] = n;
  q->len++;
  return 0;
}

static uint8_t bqueue_pop(bqueue *q, entry *out) {
  uint8_t n = q->lens[q->head];
  q->head = (q->head + 1) % q->cap;
  q->len--;
  for (uint8_t i = 0; i < n; i++) equeue_pop(&q->items, &out[i]);
  return n;
}

/* The iot simulator's batch configuration (iot/batch_config.go). */
typedef struct batch_cfg {
  int insert_previous, missing, out_of_order;
  int8_t zero_field[BATCH]; /* -1 none */
  int8_t zero_tag[BATCH];
  uint8_t insert_prev_entry[BATCH], missing_entry[BATCH], ooo_entry[BATCH];
} batch_cfg;

static void batch_cfg_new(batch_cfg *c, rng *r, size_t ooo_batches, size_t ooo_entries) {
  memset(c, 0, sizeof *c);
  memset(c->zero_field, -1, sizeof c->zero_field);
  memset(c->zero_tag, -1, sizeof c->zero_tag);
  if (rng_f64(r) < 0.01) {
    c->missing = 1;
    return;
  }
  c->out_of_order = rng_f64(r) < 0.05;
  if (ooo_batches > 0) c->insert_previous = rng_f64(r) < 0.5;
  for (int i = 0; i < BATCH; i++) {
    if (ooo_entries > 0 && rng_f64(r) < 0.5) {
      c->insert_prev_entry[i] = 1;
      ooo_entries--;
    }
    if (rng_f64(r) < 0.1) {
      c->missing_entry[i] = 1;
      continue;
    }
    if (rng_f64(r) < 0.1) c->zero_field[i] = (int8_t)rng_intn(r, N_READINGS);
    if (rng_f64(r) < 0.01) c->zero_tag[i] = (int8_t)rng_intn(r, N_TRUCK_TAGS);
    if (rng_f64(r) < 0.3) c->ooo_entry[i] = 1;
  }
}

typedef struct iot_sim {
  base_sim base;
  entry cur[BATCH];
  int cur_len, cur_pos;
  bqueue ooo_batches;
  equeue ooo_entries;
  int offset;
} iot_sim;

/* getNextEntry: returns 1 with *out filled, 0 never (base.Next is always valid
 * at full scale), or a negative error. */
static int iot_next_entry(iot_sim *s, int index, const batch_cfg *c, entry *out) {
  for (;;) {
    int j = index + s->offset; /* the Go maps only hold keys 0..9 */
    entry e;
    if (j < BATCH && c->insert_prev_entry[j] && s->ooo_entries.len > 0)
      equeue_pop(&s->ooo_entries, &e);
    else
      base_next(&s->base, &e);
    if (j < BATCH && c->missing_entry[j]) {
      s->offset++;
      continue;
    }
    if (j < BATCH && c->ooo_entry[j]) {
      if (equeue_push(&s->ooo_entries, &e) != 0) return LOOM_ENOMEM;
      s->offset++;
      continue;
    }
    *out = e;
    return 1;
  }
}

static int iot_generate_batch(iot_sim *s, const batch_cfg *c, entry *batch) {
  int n = 0;
  s->offset = 0;
  for (int i = 0; i < BATCH; i++) {
    if (base_finished(&s->base)) break;
    int rc = iot_next_entry(s, i, c, &batch[i]);
    if (rc < 0) return rc;
    entry *e = &batch[i];
    if (c->zero_field[i] >= 0) {
      int nf = e->kind == 0 ? N_READINGS : N_DIAG;
      e->cleared_fields |= (uint8_t)(1u << (c->zero_field[i] % nf));
    }
    if (c->zero_tag[i] >= 0) e->cleared_tags |= (uint8_t)(1u << c->zero_tag[i]);
    n++;
  }
  return n;
}

/* simulateNextBatch: fills s->cur; returns 1, 0 when finished, or an error. */
static int iot_simulate_next_batch(iot_sim *s) {
  for (;;) {
    if (base_finished(&s->base)) {
      if (s->ooo_batches.len > 0) {
        s->cur_len = bqueue_pop(&s->ooo_batches, s->cur);
      } else if (s->ooo_entries.len > 0) {
        int n = 0;
        while (n < BATCH && s->ooo_entries.len > 0) equeue_pop(&s->ooo_entries, &s->cur[n++]);
        s->cur_len = n;
      } else {
        return 0;
      }
      s->cur_pos = 0;
      return 1;
    }
    batch_cfg c;
    batch_cfg_new(&c, s->base.r, s->ooo_batches.len, s->ooo_entries.len);
    if (c.insert_previous) {
      s->cur_len = bqueue_pop(&s->ooo_batches, s->cur);
      s->cur_pos = 0;
      return 1;
    }
    if (c.missing) {
      entry junk;
      for (int i = 0; i < BATCH; i++) base_next(&s->base, &junk);
      continue;
    }
    if (c.out_of_order) {
      entry tmp[BATCH];
      int n = iot_generate_batch(s, &c, tmp);
      if (n < 0) return n;
      if (n > 0 && bqueue_push(&s->ooo_batches, tmp, (uint8_t)n) != 0) return LOOM_ENOMEM;
      continue;
    }
    int n = iot_generate_batch(s, &c, s->cur);
    if (n < 0) return n;
    if (n == 0) continue;
    s->cur_len = n;
    s->cur_pos = 0;
    return 1;
  }
}

/* ---- output ------------------------------------------------------------- */

typedef struct out {
  FILE *f;
  char *buf;
  size_t len, cap;
  uint64_t lines, fields;
} out;

static int out_flush(out *o) {
  if (o->len && fwrite(o->buf, 1, o->len, o->f) != o->len) return LOOM_EIO;
  o->len = 0;
  return 0;
}

static inline void out_str(out *o, const char *s) {
  size_t n = strlen(s);
  memcpy(o->buf + o->len, s, n);
  o->len += n;
}

static inline void out_ch(out *o, char c) { o->buf[o->len++] = c; }

static inline void out_u64(out *o, uint64_t v) {
  char tmp[24];
  int n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (n) o->buf[o->len++] = tmp[--n];
}

static inline void out_i64(out *o, int64_t v) {
  if (v < 0) {
    out_ch(o, '-');
    out_u64(o, (uint64_t)0 - (uint64_t)v);
  } else {
    out_u64(o, (uint64_t)v);
  }
}

/* Go strconv.AppendFloat(k / 10^p, 'f', -1, 64) for a value that is exactly
 * the decimal k / 10^p (true for FP-truncated values). */
static void out_scaled(out *o, int64_t k, int p) {
  if (p == 0) {
    out_i64(o, k);
    return;
  }
  static const int64_t pw[6] = {1, 10, 100, 1000, 10000, 100000};
  uint64_t a = k < 0 ? (uint64_t)0 - (uint64_t)k : (uint64_t)k;
  uint64_t ip = a / (uint64_t)pw[p], fr = a % (uint64_t)pw[p];
  if (k < 0) out_ch(o, '-');
  out_u64(o, ip);
  if (fr == 0) return;
  char digits[8];
  for (int i = p - 1; i >= 0; i--) {
    digits[i] = (char)('0' + fr % 10);
    fr /= 10;
  }
  int n = p;
  while (n > 0 && digits[n - 1] == '0') n--;
  out_ch(o, '.');
  memcpy(o->buf + o->len, digits, (size_t)n);
  o->len += (size_t)n;
}

static void out_iot(out *o, const entry *e, const truck *trucks) {
  const truck *t = &trucks[e->truck];
  const char *tagv[5];
  char name[24];
  snprintf(name, sizeof name, "truck_%u", e->truck);
  tagv[0] = name;
  tagv[1] = fleets[t->fleet];
  tagv[2] = drivers[t->driver];
  tagv[3] = models[t->model];
  tagv[4] = versions[t->version];
  /* one cleared field cannot empty a row, so every entry yields a line */
  out_str(o, e->kind == 0 ? "readings" : "diagnostics");
  for (int i = 0; i < 5; i++) {
    if (e->cleared_tags & (1u << i)) continue;
    out_ch(o, ',');
    out_str(o, truck_tag_keys[i]);
    out_ch(o, '=');
    out_str(o, tagv[i]);
  }
  out_ch(o, ' ');
  int first = 1;
  const char *fake[3] = {model_load[t->model], model_fuel[t->model], model_cons[t->model]};
  for (int i = 0; i < 3; i++) {
    if (e->cleared_tags & (1u << (5 + i))) continue;
    if (!first) out_ch(o, ',');
    first = 0;
    out_str(o, truck_tag_keys[5 + i]);
    out_ch(o, '=');
    out_str(o, fake[i]);
    o->fields++;
  }
  int nf = e->kind == 0 ? N_READINGS : N_DIAG;
  for (int i = 0; i < nf; i++) {
    if (e->cleared_fields & (1u << i)) continue;
    if (!first) out_ch(o, ',');
    first = 0;
    out_str(o, e->kind == 0 ? readings_names[i] : diag_names[i]);
    out_ch(o, '=');
    if (e->kind == 1 && i == 2) {
      out_i64(o, e->k[i]);
      out_ch(o, 'i');
    } else {
      out_scaled(o, e->k[i], e->kind == 0 ? readings_prec[i] : diag_prec[i]);
    }
    o->fields++;
  }
  out_ch(o, ' ');
  out_i64(o, e->ts_ns);
  out_ch(o, '\n');
  o->lines++;
}

/* ---- cpu-only model ------------------------------------------------------ */

static const char *const regions[] = {"us-east-1",      "us-west-1",      "us-west-2",
                                      "eu-west-1",      "eu-central-1",   "ap-southeast-1",
                                      "ap-southeast-2", "ap-northeast-1", "sa-east-1"};
static const char *const dcs[9][4] = {
    {"us-east-1a", "us-east-1b", "us-east-1c", "us-east-1e"},
    {"us-west-1a", "us-west-1b"},
    {"us-west-2a", "us-west-2b", "us-west-2c"},
    {"eu-west-1a", "eu-west-1b", "eu-west-1c"},
    {"eu-central-1a", "eu-central-1b"},
    {"ap-southeast-1a", "ap-southeast-1b"},
    {"ap-southeast-2a", "ap-southeast-2b"},
    {"ap-northeast-1a", "ap-northeast-1c"},
    {"sa-east-1a", "sa-east-1b", "sa-east-1c"}};
static const uint32_t n_dcs[9] = {4, 2, 3, 3, 2, 2, 2, 2, 3};
static const char *const oses[] = {"Ubuntu16.10", "Ubuntu16.04LTS", "Ubuntu15.10"};
static const char *const arches[] = {"x64", "x86"};
static const char *const teams[] = {"SF", "NYC", "LON", "CHI"};
static const char *const envs[] = {"production", "staging", "test"};
static const char *const cpu_fields[10] = {
    "usage_user",  "usage_system",  "usage_idle",  "usage_nice",  "usage_iowait",
    "usage_irq",   "usage_softirq", "usage_steal", "usage_guest", "usage_guest_nice"};

typedef struct host {
  double st[10];
  char *tags; /* ",hostname=host_0,region=...,service_environment=x " pre-rendered */
} host;

static int host_init(host *h, uint32_t id, rng *r) {
  for (int i = 0; i < 10; i++) h->st[i] = rng_f64(r) * 100.0;
  uint32_t reg = rng_intn(r, 9);
  const char *dc = dcs[reg][rng_intn(r, n_dcs[reg])];
  uint32_t rack = rng_intn(r, 100);
  const char *arch = arches[rng_intn(r, 2)];
  const char *os = oses[rng_intn(r, 3)];
  uint32_t service = rng_intn(r, 20);
  uint32_t sver = rng_intn(r, 2);
  const char *env = envs[rng_intn(r, 3)];
  const char *team = teams[rng_intn(r, 4)];
  char tmp[512];
  int n = snprintf(tmp, sizeof tmp,
                   ",hostname=host_%u,region=%s,datacenter=%s,rack=%u,os=%s,arch=%s,team=%s,"
                   "service=%u,service_version=%u,service_environment=%s ",
                   id, regions[reg], dc, rack, os, arch, team, service, sver, env);
  if (n < 0 || (size_t)n >= sizeof tmp) return LOOM_ERANGE;
  h->tags = loom_strdup(tmp);
  return h->tags ? 0 : LOOM_ENOMEM;
}

/* ---- main ----------------------------------------------------------------- */

static void usage(void) {
  fprintf(stderr,
          "usage: tsbs_gen --use-case iot|cpu-only --scale N --timestamp-start RFC3339\n"
          "                --timestamp-end RFC3339 [--log-interval 10s] [--seed S] [--out FILE]\n"
          "Writes InfluxDB line protocol as TSBS's influx serializer does; prints a JSON\n"
          "summary (lines, points) on stderr.\n");
}

int main(int argc, char **argv) {
  const char *use_case = NULL, *start_s = NULL, *end_s = NULL, *interval_s = "10s",
             *out_path = NULL;
  long long scale = 0;
  unsigned long long seed = 123;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) {
      usage();
      return 2;
    }
    if (!strcmp(a, "--use-case")) use_case = v;
    else if (!strcmp(a, "--scale")) scale = strtoll(v, NULL, 10);
    else if (!strcmp(a, "--timestamp-start")) start_s = v;
    else if (!strcmp(a, "--timestamp-end")) end_s = v;
    else if (!strcmp(a, "--log-interval")) interval_s = v;
    else if (!strcmp(a, "--seed")) seed = strtoull(v, NULL, 10);
    else if (!strcmp(a, "--out")) out_path = v;
    else {
      usage();
      return 2;
    }
    i++;
  }
  int64_t start_ns, end_ns, interval_ns;
  if (!use_case || scale <= 0 || scale > 100000000 || !start_s || !end_s ||
      loom_time_parse_rfc3339(start_s, strlen(start_s), &start_ns) != 0 ||
      loom_time_parse_rfc3339(end_s, strlen(end_s), &end_ns) != 0 ||
      loom_duration_parse(interval_s, strlen(interval_s), &interval_ns) != 0 ||
      interval_ns <= 0 || end_ns <= start_ns) {
    usage();
    return 2;
  }
  int iot = !strcmp(use_case, "iot");
  if (!iot && strcmp(use_case, "cpu-only") != 0) {
    usage();
    return 2;
  }
  uint64_t epochs = (uint64_t)((end_ns - start_ns) / interval_ns);
  int rc = 1;
  rng r;
  rng_seed(&r, seed);
  out o = {0};
  o.cap = 1 << 22;
  o.buf = loom_malloc(o.cap + 4096);
  truck *trucks = NULL;
  host *hosts = NULL;
  iot_sim s;
  memset(&s, 0, sizeof s);
  o.f = out_path ? fopen(out_path, "w") : stdout;
  if (!o.f || !o.buf) {
    fprintf(stderr, "tsbs_gen: cannot open output: %s\n", strerror(errno));
    goto done;
  }
  if (iot) {
    trucks = loom_calloc((size_t)scale, sizeof *trucks);
    if (!trucks) goto done;
    for (long long i = 0; i < scale; i++) truck_init(&trucks[i], &r);
    s.base = (base_sim){trucks, (uint32_t)scale, 0, epochs * (uint64_t)scale * 2, 0, 0,
                        start_ns, interval_ns, &r};
    for (;;) {
      if (s.cur_pos == s.cur_len) {
        int k = iot_simulate_next_batch(&s);
        if (k < 0) goto done;
        if (k == 0) break;
      }
      out_iot(&o, &s.cur[s.cur_pos++], trucks);
      if (o.len >= o.cap && out_flush(&o) != 0) goto done;
    }
  } else {
    hosts = loom_calloc((size_t)scale, sizeof *hosts);
    if (!hosts) goto done;
    for (long long i = 0; i < scale; i++)
      if (host_init(&hosts[i], (uint32_t)i, &r) != 0) goto done;
    int64_t ts = start_ns;
    for (uint64_t ep = 0; ep < epochs; ep++, ts += interval_ns) {
      for (long long i = 0; i < scale; i++) {
        host *h = &hosts[i];
        out_str(&o, "cpu");
        out_str(&o, h->tags);
        for (int f = 0; f < 10; f++) {
          if (f) out_ch(&o, ',');
          out_str(&o, cpu_fields[f]);
          out_ch(&o, '=');
          out_i64(&o, (int64_t)h->st[f]);
          out_ch(&o, 'i');
        }
        out_ch(&o, ' ');
        out_i64(&o, ts);
        out_ch(&o, '\n');
        o.lines++;
        o.fields += 10;
        if (o.len >= o.cap && out_flush(&o) != 0) goto done;
      }
      for (long long i = 0; i < scale; i++) {
        host *h = &hosts[i];
        for (int f = 0; f < 10; f++) {
          h->st[f] += rng_norm(&r);
          if (h->st[f] > 100.0) h->st[f] = 100.0;
          if (h->st[f] < 0.0) h->st[f] = 0.0;
        }
      }
    }
  }
  if (out_flush(&o) != 0 || fflush(o.f) != 0) goto done;
  fprintf(stderr, "{\"use_case\":\"%s\",\"scale\":%lld,\"epochs\":%llu,\"lines\":%llu,\"points\":%llu}\n",
          use_case, scale, (unsigned long long)epochs, (unsigned long long)o.lines,
          (unsigned long long)o.fields);
  rc = 0;
done:
  if (rc) fprintf(stderr, "tsbs_gen: failed\n");
  if (o.f && o.f != stdout) fclose(o.f);
  loom_free(o.buf);
  loom_free(trucks);
  if (hosts)
    for (long long i = 0; i < scale; i++) loom_free(hosts[i].tags);
  loom_free(hosts);
  loom_free(s.ooo_entries.v);
  loom_free(s.ooo_batches.items.v);
  loom_free(s.ooo_batches.lens);
  return rc;
}
