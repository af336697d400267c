/* SPDX-License-Identifier: Apache-2.0
 * q_run: TSBS query generation, timing and answer checking.
 *   q_run gen      writes N seeded instances of every TSBS query type of a use
 *                  case, in InfluxQL (after TSBS's influx generators) and in
 *                  MetricsQL for VictoriaMetrics (or "n/a" with the reason);
 *   q_run run      runs a query file sequentially against one server: one
 *                  warm-up per type, then every instance timed; checks HTTP 200
 *                  and no error in the body; prints one JSON line per type;
 *   q_run compare  runs an InfluxQL file against two servers and compares the
 *                  JSON answers (floats with relative tolerance 1e-9).
 * Query file format (one instance per line, tab-separated):
 *   influxql:  <type> \t q \t <InfluxQL>
 *   promql:    <type> \t <path> \t <url-encoded parameters>
 *   either:    <type> \t n/a \t <reason>
 * Pinned definitions are listed in bench/README.md.
 */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_http.h"
#include "core/buf.h"
#include "core/mem.h"
#include "core/timeutil.h"

/* ---- PRNG (splitmix64; query generation needs nothing stronger) --------- */

typedef struct qrng {
  uint64_t x;
} qrng;

static uint64_t qrng_u64(qrng *r) {
  uint64_t z = (r->x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static uint64_t qrng_n(qrng *r, uint64_t n) { return n ? qrng_u64(r) % n : 0; }

/* ---- generation ------------------------------------------------------------ */

typedef struct gen_ctx {
  int64_t start_ns, end_ns; /* dataset range [start, end) */
  long scale;
  qrng r;
  FILE *fq, *fp; /* influxql and promql outputs */
} gen_ctx;

/* A random window of `len` inside the data, second precision like TSBS's
 * RandWindow + RFC3339 formatting. When the data range is shorter than the
 * window, the whole range is used (pinned; TSBS would refuse). */
static void rand_window(gen_ctx *g, int64_t len, int64_t *ws, int64_t *we) {
  int64_t span = g->end_ns - g->start_ns;
  if (len >= span) {
    *ws = g->start_ns;
    *we = g->end_ns;
    return;
  }
  int64_t slots = (span - len) / LOOM_NS_PER_S;
  *ws = g->start_ns + (int64_t)qrng_n(&g->r, (uint64_t)(slots > 0 ? slots : 1)) * LOOM_NS_PER_S;
  *we = *ws + len;
}

static void fmt_t(int64_t t, char *out) { loom_time_format_rfc3339(t, out, 40); }

static const char *const fleets[] = {"East", "West", "North", "South"};
static const char *const cpu_metrics[10] = {
    "usage_user",  "usage_system",  "usage_idle",  "usage_nice",  "usage_iowait",
    "usage_irq",   "usage_softirq", "usage_steal", "usage_guest", "usage_guest_nice"};

static void emit_q(gen_ctx *g, const char *type, const char *q) {
  fprintf(g->fq, "%s\tq\t%s\n", type, q);
}

/* path and raw (unencoded) key/value pairs, NULL-terminated */
static void emit_p(gen_ctx *g, const char *type, const char *path, const char *const *kv) {
  loom_buf b;
  loom_buf_init(&b);
  for (int i = 0; kv[i]; i += 2) {
    if (i) loom_buf_append_u8(&b, '&');
    loom_buf_append_str(&b, kv[i]);
    loom_buf_append_u8(&b, '=');
    bh_urlencode(&b, kv[i + 1]);
  }
  loom_buf_cstr(&b);
  fprintf(g->fp, "%s\t%s\t%s\n", type, path, b.data ? (char *)b.data : "");
  loom_buf_deinit(&b);
}

static void emit_na(gen_ctx *g, const char *type, const char *why) {
  fprintf(g->fp, "%s\tn/a\t%s\n", type, why);
}

static void fmt_secs(int64_t t, char *out) { snprintf(out, 24, "%lld", (long long)(t / LOOM_NS_PER_S)); }

/* distinct random hosts, "host_k", as TSBS's rand.Perm(scale)[:n] */
static void rand_hosts(gen_ctx *g, int n, long *out) {
  for (int i = 0; i < n; i++) {
    long k;
    int dup;
    do {
      k = (long)qrng_n(&g->r, (uint64_t)g->scale);
      dup = 0;
      for (int j = 0; j < i; j++) dup |= out[j] == k;
    } while (dup && n <= g->scale);
    out[i] = k;
  }
}

static void gen_cpu(gen_ctx *g, int n) {
  char s[40], e[40], ss[24], es[24], q[4096], pq[4096];
  long hosts[8];
  int64_t ws, we;
  for (int i = 0; i < n; i++) { /* single-groupby-1-1-1 */
    rand_window(g, 3600 * LOOM_NS_PER_S, &ws, &we);
    rand_hosts(g, 1, hosts);
    fmt_t(ws, s), fmt_t(we, e), fmt_secs(ws, ss), fmt_secs(we, es);
    snprintf(q, sizeof q,
             "SELECT max(usage_user) from cpu where (hostname = 'host_%ld') and time >= '%s' "
             "and time < '%s' group by time(1m)",
             hosts[0], s, e);
    emit_q(g, "single-groupby-1-1-1", q);
    snprintf(pq, sizeof pq, "max(max_over_time(cpu_usage_user{hostname='host_%ld'}[1m])) by (__name__)",
             hosts[0]);
    const char *kv[] = {"query", pq, "start", ss, "end", es, "step", "60", NULL};
    emit_p(g, "single-groupby-1-1-1", "/api/v1/query_range", kv);
  }
  for (int i = 0; i < n; i++) { /* cpu-max-all-8 */
    rand_window(g, 8 * 3600 * LOOM_NS_PER_S, &ws, &we);
    rand_hosts(g, 8, hosts);
    fmt_t(ws, s), fmt_t(we, e), fmt_secs(ws, ss), fmt_secs(we, es);
    char where[512] = "", re[512] = "";
    size_t wl = 0, rl = 0;
    for (int h = 0; h < 8; h++) {
      wl += (size_t)snprintf(where + wl, sizeof where - wl, "%shostname = 'host_%ld'",
                             h ? " or " : "", hosts[h]);
      rl += (size_t)snprintf(re + rl, sizeof re - rl, "%shost_%ld", h ? "|" : "", hosts[h]);
    }
    loom_buf sel;
    loom_buf_init(&sel);
    for (int m = 0; m < 10; m++) loom_buf_printf(&sel, "%smax(%s)", m ? "," : "", cpu_metrics[m]);
    loom_buf_cstr(&sel);
    snprintf(q, sizeof q,
             "SELECT %s from cpu where (%s) and time >= '%s' and time < '%s' group by time(1h)",
             (char *)sel.data, where, s, e);
    loom_buf_deinit(&sel);
    emit_q(g, "cpu-max-all-8", q);
    snprintf(pq, sizeof pq,
             "max(max_over_time({__name__=~'cpu_(usage_user|usage_system|usage_idle|usage_nice|"
             "usage_iowait|usage_irq|usage_softirq|usage_steal|usage_guest|usage_guest_nice)', "
             "hostname=~'%s'}[1h])) by (__name__)",
             re);
    const char *kv[] = {"query", pq, "start", ss, "end", es, "step", "3600", NULL};
    emit_p(g, "cpu-max-all-8", "/api/v1/query_range", kv);
  }
  for (int i = 0; i < n; i++) { /* double-groupby-all */
    rand_window(g, 12 * 3600 * LOOM_NS_PER_S, &ws, &we);
    fmt_t(ws, s), fmt_t(we, e), fmt_secs(ws, ss), fmt_secs(we, es);
    loom_buf sel;
    loom_buf_init(&sel);
    for (int m = 0; m < 10; m++) loom_buf_printf(&sel, "%smean(%s)", m ? ", " : "", cpu_metrics[m]);
    loom_buf_cstr(&sel);
    snprintf(q, sizeof q,
             "SELECT %s from cpu where time >= '%s' and time < '%s' group by time(1h),hostname",
             (char *)sel.data, s, e);
    loom_buf_deinit(&sel);
    emit_q(g, "double-groupby-all", q);
    const char *pqs =
        "avg(avg_over_time({__name__=~'cpu_(usage_user|usage_system|usage_idle|usage_nice|"
        "usage_iowait|usage_irq|usage_softirq|usage_steal|usage_guest|usage_guest_nice)'}[1h])) "
        "by (__name__, hostname)";
    const char *kv[] = {"query", pqs, "start", ss, "end", es, "step", "3600", NULL};
    emit_p(g, "double-groupby-all", "/api/v1/query_range", kv);
  }
  for (int i = 0; i < n; i++) { /* high-cpu-all */
    rand_window(g, 12 * 3600 * LOOM_NS_PER_S, &ws, &we);
    fmt_t(ws, s), fmt_t(we, e), fmt_secs(ws, ss), fmt_secs(we, es);
    snprintf(q, sizeof q,
             "SELECT * from cpu where usage_user > 90.0  and time >= '%s' and time < '%s'", s, e);
    emit_q(g, "high-cpu-all", q);
    /* approximation: every cpu metric at the 10 s steps where usage_user > 90 */
    const char *pqs = "{__name__=~'cpu_usage_.*'} and on (hostname) (cpu_usage_user > 90)";
    const char *kv[] = {"query", pqs, "start", ss, "end", es, "step", "10", NULL};
    emit_p(g, "high-cpu-all", "/api/v1/query_range", kv);
  }
  for (int i = 0; i < n; i++) { /* lastpoint */
    emit_q(g, "lastpoint", "SELECT * from cpu group by \"hostname\" order by time desc limit 1");
    fmt_secs(g->end_ns, es);
    char pqs[256];
    snprintf(pqs, sizeof pqs, "last_over_time({__name__=~'cpu_usage_.*'}[%llds])",
             (long long)((g->end_ns - g->start_ns) / LOOM_NS_PER_S));
    const char *kv[] = {"query", pqs, "time", es, NULL};
    emit_p(g, "lastpoint", "/api/v1/query", kv);
  }
  for (int i = 0; i < n; i++) { /* groupby-orderby-limit */
    rand_window(g, 3600 * LOOM_NS_PER_S, &ws, &we);
    fmt_t(we, e);
    snprintf(q, sizeof q,
             "SELECT max(usage_user) from cpu WHERE time < '%s' group by time(1m) "
             "ORDER BY time DESC limit 5",
             e);
    emit_q(g, "groupby-orderby-limit", q);
    /* the last 5 whole minutes before the end point */
    int64_t mend = we / (60 * LOOM_NS_PER_S) * (60 * LOOM_NS_PER_S);
    fmt_secs(mend - 60 * LOOM_NS_PER_S, es);
    fmt_secs(mend - 5 * 60 * LOOM_NS_PER_S, ss);
    const char *kv[] = {"query", "max(max_over_time(cpu_usage_user[1m] offset -1m))",
                        "start", ss, "end", es, "step", "60", NULL};
    emit_p(g, "groupby-orderby-limit", "/api/v1/query_range", kv);
  }
}

static void gen_iot(gen_ctx *g, int n, int heavy) {
  char s[40], e[40], es[24], q[4096], pq[2048], rng_s[32];
  int64_t ws, we;
  snprintf(rng_s, sizeof rng_s, "%llds", (long long)((g->end_ns - g->start_ns) / LOOM_NS_PER_S));
  char data_end[24], data_start[24], ds[40], de[40];
  fmt_secs(g->end_ns, data_end);
  fmt_secs(g->start_ns, data_start);
  fmt_t(g->start_ns, ds);
  fmt_t(g->end_ns, de);
  for (int i = 0; i < n; i++) { /* last-loc */
    const char *f = fleets[qrng_n(&g->r, 4)];
    snprintf(q, sizeof q,
             "SELECT \"latitude\", \"longitude\" FROM \"readings\" WHERE \"fleet\"='%s' "
             "GROUP BY \"name\",\"driver\" ORDER BY \"time\" DESC LIMIT 1",
             f);
    emit_q(g, "last-loc", q);
    snprintf(pq, sizeof pq,
             "last_over_time({__name__=~'readings_(latitude|longitude)', fleet='%s'}[%s])", f,
             rng_s);
    const char *kv[] = {"query", pq, "time", data_end, NULL};
    emit_p(g, "last-loc", "/api/v1/query", kv);
  }
  for (int i = 0; i < n; i++) { /* low-fuel */
    const char *f = fleets[qrng_n(&g->r, 4)];
    snprintf(q, sizeof q,
             "SELECT \"name\", \"driver\", \"fuel_state\" FROM \"diagnostics\" WHERE "
             "\"fuel_state\" <= 0.1 AND \"fleet\" = '%s' GROUP BY \"name\" ORDER BY \"time\" DESC "
             "LIMIT 1",
             f);
    emit_q(g, "low-fuel", q);
    snprintf(pq, sizeof pq, "last_over_time(diagnostics_fuel_state{fleet='%s'}[%s]) <= 0.1", f,
             rng_s);
    const char *kv[] = {"query", pq, "time", data_end, NULL};
    emit_p(g, "low-fuel", "/api/v1/query", kv);
  }
  for (int i = 0; i < n; i++) { /* high-load */
    const char *f = fleets[qrng_n(&g->r, 4)];
    snprintf(q, sizeof q,
             "SELECT \"name\", \"driver\", \"current_load\", \"load_capacity\" FROM (SELECT  "
             "\"current_load\", \"load_capacity\" FROM \"diagnostics\" WHERE fleet = '%s' GROUP BY "
             "\"name\",\"driver\" ORDER BY \"time\" DESC LIMIT 1) WHERE \"current_load\" >= 0.9 * "
             "\"load_capacity\" GROUP BY \"name\" ORDER BY \"time\" DESC",
             f);
    emit_q(g, "high-load", q);
    snprintf(pq, sizeof pq,
             "last_over_time(diagnostics_current_load{fleet='%s'}[%s]) >= 0.9 * "
             "last_over_time(diagnostics_load_capacity{fleet='%s'}[%s])",
             f, rng_s, f, rng_s);
    const char *kv[] = {"query", pq, "time", data_end, NULL};
    emit_p(g, "high-load", "/api/v1/query", kv);
  }
  for (int i = 0; i < n; i++) { /* stationary-trucks: random 10-minute window (pinned) */
    rand_window(g, 600 * LOOM_NS_PER_S, &ws, &we);
    const char *f = fleets[qrng_n(&g->r, 4)];
    fmt_t(we, e), fmt_secs(we, es);
    snprintf(q, sizeof q,
             "SELECT \"name\", \"driver\" FROM(SELECT mean(\"velocity\") as mean_velocity FROM "
             "\"readings\" WHERE time > '%s' - 10m AND time <= '%s' GROUP BY "
             "time(10m),\"name\",\"driver\",\"fleet\"  LIMIT 1) WHERE \"fleet\" = '%s' AND "
             "\"mean_velocity\" < 1 GROUP BY \"name\"",
             e, e, f);
    emit_q(g, "stationary-trucks", q);
    snprintf(pq, sizeof pq, "avg_over_time(readings_velocity{fleet='%s'}[10m]) < 1", f);
    const char *kv[] = {"query", pq, "time", es, NULL};
    emit_p(g, "stationary-trucks", "/api/v1/query", kv);
  }
  for (int i = 0; i < n; i++) { /* long-driving-sessions */
    rand_window(g, 4 * 3600 * LOOM_NS_PER_S, &ws, &we);
    const char *f = fleets[qrng_n(&g->r, 4)];
    fmt_t(ws, s), fmt_t(we, e), fmt_secs(we, es);
    snprintf(q, sizeof q,
             "SELECT \"name\",\"driver\" FROM(SELECT count(*) AS ten_min FROM(SELECT "
             "mean(\"velocity\") AS mean_velocity FROM readings WHERE \"fleet\" = '%s' AND time > "
             "'%s' AND time <= '%s' GROUP BY time(10m),\"name\",\"driver\") WHERE "
             "\"mean_velocity\" > 1 GROUP BY \"name\",\"driver\") WHERE ten_min_mean_velocity > 22",
             f, s, e);
    emit_q(g, "long-driving-sessions", q);
    snprintf(pq, sizeof pq,
             "count_over_time((avg_over_time(readings_velocity{fleet='%s'}[10m]) > 1)[4h:10m]) > 22",
             f);
    const char *kv[] = {"query", pq, "time", es, NULL};
    emit_p(g, "long-driving-sessions", "/api/v1/query", kv);
  }
  for (int i = 0; i < heavy; i++) { /* avg-load (whole dataset) */
    emit_q(g, "avg-load",
           "SELECT mean(\"ml\") AS mean_load_percentage FROM (SELECT "
           "\"current_load\"/\"load_capacity\" AS \"ml\" FROM \"diagnostics\" GROUP BY \"name\", "
           "\"fleet\", \"model\") GROUP BY \"fleet\", \"model\"");
    snprintf(pq, sizeof pq,
             "avg by (fleet, model) (avg_over_time(diagnostics_current_load[%s]) / "
             "avg_over_time(diagnostics_load_capacity[%s]))",
             rng_s, rng_s);
    const char *kv[] = {"query", pq, "time", data_end, NULL};
    emit_p(g, "avg-load", "/api/v1/query", kv);
  }
  for (int i = 0; i < heavy; i++) { /* daily-activity (whole dataset) */
    snprintf(q, sizeof q,
             "SELECT count(\"ms\")/144 FROM (SELECT mean(\"status\") AS ms FROM \"diagnostics\" "
             "WHERE time >= '%s' AND time < '%s' GROUP BY time(10m), \"model\", \"fleet\") WHERE "
             "time >= '%s' AND time < '%s' AND \"ms\"<1 GROUP BY time(1d), \"model\", \"fleet\"",
             ds, de, ds, de);
    emit_q(g, "daily-activity", q);
    int64_t day = 86400 * LOOM_NS_PER_S;
    int64_t d0 = g->start_ns / day * day, d1 = (g->end_ns + day - 1) / day * day;
    char d0s[24], d1s[24];
    fmt_secs(d0 + day, d0s);
    fmt_secs(d1, d1s);
    const char *pqs =
        "count_over_time((avg by (fleet, model) (avg_over_time(diagnostics_status[10m])) < 1)"
        "[1d:10m]) / 144";
    const char *kv[] = {"query", pqs, "start", d0s, "end", d1s, "step", "86400", NULL};
    emit_p(g, "daily-activity", "/api/v1/query_range", kv);
  }
  for (int i = 0; i < heavy; i++) { /* breakdown-frequency (whole dataset) */
    snprintf(q, sizeof q,
             "SELECT count(\"state_changed\") FROM (SELECT difference(\"broken_down\") AS "
             "\"state_changed\" FROM (SELECT "
             "floor(2*(sum(\"nzs\")/count(\"nzs\")))/floor(2*(sum(\"nzs\")/count(\"nzs\"))) AS "
             "\"broken_down\" FROM (SELECT \"model\", \"status\"/\"status\" AS nzs FROM "
             "\"diagnostics\" WHERE time >= '%s' AND time < '%s') WHERE time >= '%s' AND time < "
             "'%s' GROUP BY time(10m),\"model\") GROUP BY \"model\") WHERE \"state_changed\" = 1 "
             "GROUP BY \"model\"",
             ds, de, ds, de);
    emit_q(g, "breakdown-frequency", q);
    emit_na(g, "breakdown-frequency",
            "needs per-model transitions between consecutive 10-min buckets (difference() over "
            "a GROUP BY time result); no faithful MetricsQL form was written");
  }
}

/* ---- running ------------------------------------------------------------------ */

typedef struct qline {
  char *type, *kind, *text; /* pointers into the owned line */
  char *line;
} qline;

static int read_lines(const char *path, qline **out, size_t *n_out) {
  FILE *f = fopen(path, "r");
  if (!f) return LOOM_EIO;
  qline *v = NULL;
  size_t n = 0, cap = 0;
  char *line = NULL;
  size_t lcap = 0;
  ssize_t len;
  int rc = 0;
  while ((len = getline(&line, &lcap, f)) > 0) {
    if (line[len - 1] == '\n') line[--len] = 0;
    char *t1 = strchr(line, '\t');
    char *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
    if (!t2) continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 64;
      qline *nv = loom_realloc(v, cap * sizeof *nv);
      if (!nv) {
        rc = LOOM_ENOMEM;
        break;
      }
      v = nv;
    }
    char *copy = loom_strdup(line);
    if (!copy) {
      rc = LOOM_ENOMEM;
      break;
    }
    copy[t1 - line] = 0;
    copy[t2 - line] = 0;
    v[n++] = (qline){copy, copy + (t1 - line) + 1, copy + (t2 - line) + 1, copy};
  }
  free(line);
  fclose(f);
  *out = v;
  *n_out = n;
  return rc;
}

static void free_lines(qline *v, size_t n) {
  for (size_t i = 0; i < n; i++) loom_free(v[i].line);
  loom_free(v);
}

/* Build the request target for one query line. */
static int build_target(const qline *l, const bh_url *u, const char *db, loom_buf *t) {
  loom_buf_reset(t);
  if (!strcmp(l->kind, "q")) {
    const char *base = u->path[1] ? u->path : "/query";
    if (loom_buf_printf(t, "%s%cdb=", base, strchr(base, '?') ? '&' : '?') != 0) return LOOM_ENOMEM;
    if (bh_urlencode(t, db) != 0 || loom_buf_append_str(t, "&q=") != 0 || bh_urlencode(t, l->text) != 0)
      return LOOM_ENOMEM;
  } else {
    if (loom_buf_printf(t, "%s?%s", l->kind, l->text) != 0) return LOOM_ENOMEM;
  }
  return loom_buf_cstr(t);
}

static int body_has_error(const loom_buf *b) {
  if (!b->len) return 0;
  return memmem(b->data, b->len, "\"error\"", 7) != NULL;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void json_str(const char *s) {
  loom_buf b;
  loom_buf_init(&b);
  loom_buf_append_json_str(&b, s, strlen(s));
  printf("%.*s", (int)b.len, (char *)b.data);
  loom_buf_deinit(&b);
}

static int cmd_run(const char *file, const char *url, const char *db, const char *headers,
                   const char *system) {
  bh_url u;
  if (bh_url_parse(url, &u) != 0) return 2;
  qline *ls = NULL;
  size_t n = 0;
  if (read_lines(file, &ls, &n) != 0) {
    fprintf(stderr, "q_run: cannot read %s\n", file);
    return 1;
  }
  bh_conn c;
  bh_conn_init(&c, &u);
  loom_buf target, body;
  loom_buf_init(&target);
  loom_buf_init(&body);
  double *lat = loom_malloc((n + 1) * sizeof *lat);
  int failures = 0;
  size_t i = 0;
  while (i < n && lat) {
    size_t j = i;
    while (j < n && !strcmp(ls[j].type, ls[i].type)) j++;
    const char *type = ls[i].type;
    printf("{\"system\":");
    json_str(system);
    printf(",\"type\":");
    json_str(type);
    if (!strcmp(ls[i].kind, "n/a")) {
      printf(",\"na\":");
      json_str(ls[i].text);
      printf("}\n");
      i = j;
      continue;
    }
    int errors = 0;
    char first_err[512] = "";
    size_t m = 0;
    uint64_t bytes = 0;
    /* one warm-up run of the first instance (not counted), then all timed */
    for (size_t k = i; k <= j; k++) {
      size_t idx = k == i ? i : k - 1;
      if (build_target(&ls[idx], &u, db, &target) != 0) break;
      int status = 0;
      int64_t t0 = loom_mono_ns();
      int rc = bh_request(&c, "GET", (char *)target.data, headers, NULL, 0, &status, &body);
      int64_t t1 = loom_mono_ns();
      if (rc != 0 || status != 200 || body_has_error(&body)) {
        errors++;
        if (!first_err[0])
          snprintf(first_err, sizeof first_err, "HTTP %d %s: %.*s", status,
                   rc ? loom_strerror(rc) : "", (int)(body.len < 300 ? body.len : 300),
                   body.data ? (char *)body.data : "");
      }
      if (k == i) continue;
      lat[m++] = (double)(t1 - t0) / 1e6;
      bytes += body.len;
    }
    qsort(lat, m, sizeof *lat, cmp_double);
    double med = 0, p95 = 0, mean = 0;
    if (m) {
      med = m % 2 ? lat[m / 2] : (lat[m / 2 - 1] + lat[m / 2]) / 2;
      size_t r95 = (size_t)ceil(0.95 * (double)m);
      p95 = lat[r95 ? r95 - 1 : 0];
      for (size_t k = 0; k < m; k++) mean += lat[k];
      mean /= (double)m;
    }
    printf(",\"n\":%zu,\"median_ms\":%.3f,\"p95_ms\":%.3f,\"mean_ms\":%.3f,\"resp_bytes_avg\":%.0f,"
           "\"errors\":%d",
           m, med, p95, mean, m ? (double)bytes / (double)m : 0.0, errors);
    if (errors) {
      printf(",\"first_error\":");
      json_str(first_err);
      failures++;
    }
    printf("}\n");
    fflush(stdout);
    i = j;
  }
  loom_free(lat);
  loom_buf_deinit(&target);
  loom_buf_deinit(&body);
  bh_conn_deinit(&c);
  free_lines(ls, n);
  return failures ? 1 : 0;
}

/* ---- answer comparison ----------------------------------------------------- */

typedef struct diff {
  char text[1024];
} diff;

static int num_equal(double a, double b) {
  if (a == b) return 1;
  if (isnan(a) && isnan(b)) return 1;
  double m = fmax(fabs(a), fabs(b));
  return fabs(a - b) <= 1e-9 * m;
}

/* 1 if equal; else 0 and a description of the first difference in d. */
static int ans_equal(json_t *a, json_t *b, const char *path, diff *d) {
  char sub[512];
  if (json_is_number(a) && json_is_number(b)) {
    if (num_equal(json_number_value(a), json_number_value(b))) return 1;
    snprintf(d->text, sizeof d->text, "%s: %.17g vs %.17g", path, json_number_value(a),
             json_number_value(b));
    return 0;
  }
  if (json_typeof(a) != json_typeof(b)) {
    char *sa = json_dumps(a, JSON_ENCODE_ANY | JSON_COMPACT);
    char *sb = json_dumps(b, JSON_ENCODE_ANY | JSON_COMPACT);
    snprintf(d->text, sizeof d->text, "%s: %.200s vs %.200s", path, sa ? sa : "?", sb ? sb : "?");
    free(sa);
    free(sb);
    return 0;
  }
  switch (json_typeof(a)) {
  case JSON_OBJECT: {
    const char *key;
    json_t *va;
    json_object_foreach(a, key, va) {
      json_t *vb = json_object_get(b, key);
      snprintf(sub, sizeof sub, "%.400s.%s", path, key);
      if (!vb) {
        snprintf(d->text, sizeof d->text, "%s: missing in second answer", sub);
        return 0;
      }
      if (!ans_equal(va, vb, sub, d)) return 0;
    }
    json_object_foreach(b, key, va) {
      if (!json_object_get(a, key)) {
        snprintf(d->text, sizeof d->text, "%.400s.%s: missing in first answer", path, key);
        return 0;
      }
    }
    return 1;
  }
  case JSON_ARRAY: {
    size_t na = json_array_size(a), nb = json_array_size(b);
    size_t k;
    for (k = 0; k < na && k < nb; k++) {
      snprintf(sub, sizeof sub, "%.400s[%zu]", path, k);
      if (!ans_equal(json_array_get(a, k), json_array_get(b, k), sub, d)) return 0;
    }
    if (na != nb) {
      snprintf(d->text, sizeof d->text, "%s: %zu vs %zu elements", path, na, nb);
      return 0;
    }
    return 1;
  }
  case JSON_STRING:
    if (!strcmp(json_string_value(a), json_string_value(b))) return 1;
    snprintf(d->text, sizeof d->text, "%s: \"%.200s\" vs \"%.200s\"", path, json_string_value(a),
             json_string_value(b));
    return 0;
  default:
    if (json_equal(a, b)) return 1;
    snprintf(d->text, sizeof d->text, "%s: literal differs", path);
    return 0;
  }
}

static int cmd_compare(const char *file, const char *url_a, const char *url_b, const char *db,
                       const char *headers, int max_diffs) {
  bh_url ua, ub;
  if (bh_url_parse(url_a, &ua) != 0 || bh_url_parse(url_b, &ub) != 0) return 2;
  qline *ls = NULL;
  size_t n = 0;
  if (read_lines(file, &ls, &n) != 0) {
    fprintf(stderr, "q_run: cannot read %s\n", file);
    return 1;
  }
  bh_conn ca, cb;
  bh_conn_init(&ca, &ua);
  bh_conn_init(&cb, &ub);
  loom_buf target, ba, bb;
  loom_buf_init(&target);
  loom_buf_init(&ba);
  loom_buf_init(&bb);
  int total_mismatch = 0;
  size_t i = 0;
  while (i < n) {
    size_t j = i;
    while (j < n && !strcmp(ls[j].type, ls[i].type)) j++;
    int mism = 0, shown = 0;
    printf("{\"type\":");
    json_str(ls[i].type);
    printf(",\"n\":%zu,\"diffs\":[", j - i);
    for (size_t k = i; k < j; k++) {
      if (strcmp(ls[k].kind, "q") != 0) continue;
      int sa = 0, sb = 0, ra, rb;
      diff d = {""};
      if (build_target(&ls[k], &ua, db, &target) != 0) break;
      ra = bh_request(&ca, "GET", (char *)target.data, headers, NULL, 0, &sa, &ba);
      if (build_target(&ls[k], &ub, db, &target) != 0) break;
      rb = bh_request(&cb, "GET", (char *)target.data, headers, NULL, 0, &sb, &bb);
      int equal = 0;
      if (ra != 0 || rb != 0 || sa != 200 || sb != 200) {
        snprintf(d.text, sizeof d.text, "HTTP status %d vs %d", ra ? -1 : sa, rb ? -1 : sb);
      } else {
        json_error_t je;
        json_t *ja = json_loadb((const char *)ba.data, ba.len, 0, &je);
        json_t *jb = json_loadb((const char *)bb.data, bb.len, 0, &je);
        if (!ja || !jb)
          snprintf(d.text, sizeof d.text, "unparsable JSON (%s / %s)", ja ? "ok" : "bad",
                   jb ? "ok" : "bad");
        else
          equal = ans_equal(ja, jb, "$", &d);
        json_decref(ja);
        json_decref(jb);
      }
      if (!equal) {
        mism++;
        if (shown < max_diffs) {
          printf("%s{\"instance\":%zu,\"query\":", shown ? "," : "", k - i);
          json_str(ls[k].text);
          printf(",\"diff\":");
          json_str(d.text);
          printf("}");
          shown++;
        }
      }
    }
    printf("],\"mismatches\":%d}\n", mism);
    fflush(stdout);
    total_mismatch += mism;
    i = j;
  }
  loom_buf_deinit(&target);
  loom_buf_deinit(&ba);
  loom_buf_deinit(&bb);
  bh_conn_deinit(&ca);
  bh_conn_deinit(&cb);
  free_lines(ls, n);
  return total_mismatch ? 1 : 0;
}

static void usage(void) {
  fprintf(stderr,
          "usage:\n"
          "  q_run gen --use-case iot|cpu-only --scale N --timestamp-start T --timestamp-end T\n"
          "            [--queries 10] [--heavy-queries 3] [--seed S] --out-influxql FILE --out-promql FILE\n"
          "  q_run run --file FILE --url http://127.0.0.1:PORT [--db bench] [--system NAME]\n"
          "            [--header 'K: V']...\n"
          "  q_run compare --file FILE --url URL_A --url-b URL_B [--db bench] [--max-diffs 3]\n"
          "            [--header 'K: V']...\n");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage();
    return 2;
  }
  const char *cmd = argv[1];
  const char *use_case = NULL, *ts_start = NULL, *ts_end = NULL, *out_q = NULL, *out_p = NULL;
  const char *file = NULL, *url = NULL, *url_b = NULL, *db = "bench", *system = "server";
  long scale = 0, queries = 10, heavy = 3, max_diffs = 3;
  unsigned long long seed = 321;
  loom_buf hdrs;
  loom_buf_init(&hdrs);
  int rc = 2;
  for (int i = 2; i < argc; i += 2) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) goto done;
    if (!strcmp(a, "--use-case")) use_case = v;
    else if (!strcmp(a, "--scale")) scale = strtol(v, NULL, 10);
    else if (!strcmp(a, "--timestamp-start")) ts_start = v;
    else if (!strcmp(a, "--timestamp-end")) ts_end = v;
    else if (!strcmp(a, "--queries")) queries = strtol(v, NULL, 10);
    else if (!strcmp(a, "--heavy-queries")) heavy = strtol(v, NULL, 10);
    else if (!strcmp(a, "--seed")) seed = strtoull(v, NULL, 10);
    else if (!strcmp(a, "--out-influxql")) out_q = v;
    else if (!strcmp(a, "--out-promql")) out_p = v;
    else if (!strcmp(a, "--file")) file = v;
    else if (!strcmp(a, "--url")) url = v;
    else if (!strcmp(a, "--url-b")) url_b = v;
    else if (!strcmp(a, "--db")) db = v;
    else if (!strcmp(a, "--system")) system = v;
    else if (!strcmp(a, "--max-diffs")) max_diffs = strtol(v, NULL, 10);
    else if (!strcmp(a, "--header")) {
      if (loom_buf_printf(&hdrs, "%s\r\n", v) != 0) goto done;
    } else
      goto done;
  }
  if (loom_buf_cstr(&hdrs) != 0) goto done;
  const char *headers = hdrs.data ? (const char *)hdrs.data : "";
  if (!strcmp(cmd, "gen")) {
    gen_ctx g;
    memset(&g, 0, sizeof g);
    if (!use_case || scale <= 0 || queries <= 0 || heavy <= 0 || !ts_start || !ts_end || !out_q || !out_p ||
        loom_time_parse_rfc3339(ts_start, strlen(ts_start), &g.start_ns) != 0 ||
        loom_time_parse_rfc3339(ts_end, strlen(ts_end), &g.end_ns) != 0 || g.end_ns <= g.start_ns)
      goto done;
    g.scale = scale;
    g.r.x = seed;
    g.fq = fopen(out_q, "w");
    g.fp = fopen(out_p, "w");
    rc = 1;
    if (g.fq && g.fp) {
      if (!strcmp(use_case, "iot")) {
        gen_iot(&g, (int)queries, (int)heavy);
        rc = 0;
      } else if (!strcmp(use_case, "cpu-only")) {
        gen_cpu(&g, (int)queries);
        rc = 0;
      } else {
        rc = 2;
      }
    }
    if (g.fq && fclose(g.fq) != 0) rc = 1;
    if (g.fp && fclose(g.fp) != 0) rc = 1;
  } else if (!strcmp(cmd, "run")) {
    if (!file || !url) goto done;
    rc = cmd_run(file, url, db, headers, system);
  } else if (!strcmp(cmd, "compare")) {
    if (!file || !url || !url_b) goto done;
    rc = cmd_compare(file, url, url_b, db, headers, (int)max_diffs);
  }
done:
  if (rc == 2) usage();
  loom_buf_deinit(&hdrs);
  return rc;
}
