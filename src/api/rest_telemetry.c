/* SPDX-License-Identifier: Apache-2.0
 * Device telemetry for the console and API clients, in ThingsBoard's shape
 * {"key": [{"ts": ms, "value": v}, ...]}:
 *   GET /api/v1/devices/{id}/telemetry/latest?keys=a,b   last value per key
 *   GET /api/v1/devices/{id}/telemetry?keys=a,b&startTs=&endTs=
 *       [&interval=ms&agg=AVG|MIN|MAX|SUM|COUNT|FIRST|LAST|NONE][&limit=n]
 * The data is every measurement of the tenant's engine database that has
 * series with the tag device=<the device's name>: the device API writes the
 * profile's name as measurement, line-protocol writes may use any. Key
 * names: a field is answered under its own name; when two measurements have
 * the same field, the profile's measurement wins, then the others in name
 * order, and the later ones are answered as "<measurement>.<field>" (also
 * accepted in ?keys=). A ?keys= name that no measurement has is read from
 * the profile's measurement (an empty list). All are
 * InfluxQL statements run through the executor (on this worker; history
 * with several keys splits them over this worker and a helper thread), so
 * they answer exactly what /query would. History is aggregated on the server:
 * at most TELEMETRY_MAX_POINTS buckets or raw points per key (a 90-day chart
 * asks for an interval, and gets a few thousand points, never millions).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/mem.h"
#include "core/numfmt.h"
#include "core/timeutil.h"
#include "query/exec.h"

#define TELEMETRY_MAX_POINTS 10000
#define TELEMETRY_KEYS_MAX 32    /* keys per answer */
#define TELEMETRY_CAND_MAX 256   /* keys considered (all measurements of a device) */
#define TELEMETRY_MEAS_MAX 64    /* measurements of one device considered */
#define TELEMETRY_NAME_MAX 255   /* longest field or measurement name, bytes */
/* points a raw (agg=NONE) statement may read */
#define RAW_MAX_POINTS ((uint64_t)10 * TELEMETRY_MAX_POINTS * TELEMETRY_KEYS_MAX)

typedef struct capture {
  loom_buf out;
  int status;
} capture;

static int cap_begin(void *arg, int status, const char *ct) {
  (void)ct;
  ((capture *)arg)->status = status;
  return 0;
}

static int cap_write(void *arg, const void *data, size_t len) {
  return loom_buf_append(&((capture *)arg)->out, data, len);
}

/* InfluxQL quoting: "identifier" and 'string' with backslash escapes. */
static int quote(loom_buf *b, const char *s, char q) {
  int rc = loom_buf_append(b, &q, 1);
  for (; !rc && *s; s++) {
    if (*s == q || *s == '\\') rc = loom_buf_append(b, "\\", 1);
    if (!rc) rc = loom_buf_append(b, s, 1);
  }
  return rc ? rc : loom_buf_append(b, &q, 1);
}

/* Run q on db; *res gets the parsed "results" array (caller owns).
 * max_points: the executor's guard on points read per statement (0 =
 * none). Aggregates over a bounded number of buckets need none: whole
 * blocks come from their stats and the answer is at most
 * TELEMETRY_MAX_POINTS buckets, however many points the range holds (90
 * days at 1 Hz are 7.8M per key); raw reads keep the guard. */
static int run(api_call *c, const char *db, const loom_buf *q, uint64_t max_points, json_t **res) {
  capture cp = {.status = 0};
  loom_buf_init(&cp.out);
  qx_options o = {.db = db, .epoch = "ms", .now_ns = loom_now_ns(), .max_points = max_points};
  qx_sink sink = {.begin = cap_begin, .write = cap_write, .arg = &cp};
  int rc = qx_execute(c->api->engine, (const char *)q->data, q->len, &o, &sink);
  json_t *v = NULL;
  if (!rc) v = json_loadb((const char *)cp.out.data, cp.out.len, 0, NULL);
  loom_buf_deinit(&cp.out);
  if (rc || !v) return rc ? rc : LOOM_ENOMEM;
  if (cp.status != 200) {
    json_decref(v);
    return LOOM_EINVAL;
  }
  *res = json_incref(json_object_get(v, "results"));
  json_decref(v);
  return *res ? 0 : LOOM_EIO;
}

typedef struct target {
  char db[80];
  char measurement[300];
  char device[300];
} target;

/* The device (404 when not visible), its profile's name and tenant's db. */
static int find_target(api_call *c, target *t) {
  json_t *d = NULL, *p = NULL, *ten = NULL;
  char err[256] = "";
  meta_store *m = c->api->meta;
  int rc = meta_get(m, META_DEVICE, c->scope, api_param(c, "id"), &d, err, sizeof err);
  if (!rc)
    rc = meta_get(m, META_PROFILE, c->scope, json_string_value(json_object_get(d, "profile_id")),
                  &p, err, sizeof err);
  if (!rc)
    rc = meta_get(m, META_TENANT, NULL, json_string_value(json_object_get(d, "tenant_id")), &ten,
                  err, sizeof err);
  if (!rc) {
    snprintf(t->db, sizeof t->db, "%s", json_string_value(json_object_get(ten, "db_name")));
    snprintf(t->measurement, sizeof t->measurement, "%s",
             json_string_value(json_object_get(p, "name")));
    snprintf(t->device, sizeof t->device, "%s", json_string_value(json_object_get(d, "name")));
  } else {
    api_error_rc(c->req, rc, err);
  }
  json_decref(d);
  json_decref(p);
  json_decref(ten);
  return rc;
}

/* One key of the answer: the name it is answered under, the field and the
 * measurement it is read from. */
typedef struct tkey {
  char name[600];
  char field[300];
  char meas[300]; /* as target.measurement */
} tkey;

static void tkey_set(tkey *k, const char *name, const char *field, const char *meas) {
  snprintf(k->name, sizeof k->name, "%s", name);
  snprintf(k->field, sizeof k->field, "%s", field);
  snprintf(k->meas, sizeof k->meas, "%s", meas);
}

/* Every field of every measurement holding series with this device's tag
 * (the profile's measurement first, then the others in name order), into
 * cand (at most cap). A field name already taken by an earlier measurement
 * is named "<measurement>.<field>". Returns the count. */
static size_t all_keys(api_call *c, const target *t, tkey *cand, size_t cap) {
  loom_buf q;
  loom_buf_init(&q);
  json_t *ms = NULL, *fk = NULL;
  size_t n = 0;
  loom_buf_append_str(&q, "SHOW MEASUREMENTS WHERE \"device\" = ");
  quote(&q, t->device, '\'');
  if (run(c, t->db, &q, 0, &ms)) goto out;
  json_t *mv = json_object_get(json_array_get(json_object_get(json_array_get(ms, 0), "series"), 0),
                               "values");
  const char *order[TELEMETRY_MEAS_MAX];
  size_t n_meas = 0;
  size_t i;
  json_t *row;
  json_array_foreach(mv, i, row) { /* the profile's measurement first */
    const char *m = json_string_value(json_array_get(row, 0));
    if (m && !strcmp(m, t->measurement)) order[n_meas++] = m;
  }
  json_array_foreach(mv, i, row) {
    const char *m = json_string_value(json_array_get(row, 0));
    if (m && strcmp(m, t->measurement) && n_meas < TELEMETRY_MEAS_MAX) order[n_meas++] = m;
  }
  if (!n_meas) goto out;
  loom_buf_reset(&q);
  loom_buf_append_str(&q, "SHOW FIELD KEYS FROM ");
  for (i = 0; i < n_meas; i++) {
    if (i) loom_buf_append_str(&q, ",");
    quote(&q, order[i], '"');
  }
  if (run(c, t->db, &q, 0, &fk)) goto out;
  json_t *series = json_object_get(json_array_get(fk, 0), "series");
  for (size_t m = 0; m < n_meas; m++) {
    json_t *sr;
    json_array_foreach(series, i, sr) {
      const char *sname = json_string_value(json_object_get(sr, "name"));
      if (!sname || strcmp(sname, order[m])) continue;
      size_t k;
      json_array_foreach(json_object_get(sr, "values"), k, row) {
        const char *f = json_string_value(json_array_get(row, 0));
        if (!f || n == cap || strlen(f) > TELEMETRY_NAME_MAX || strlen(order[m]) > TELEMETRY_NAME_MAX)
          continue;
        bool taken = false;
        for (size_t j = 0; j < n && !taken; j++) taken = !strcmp(cand[j].name, f);
        char name[sizeof cand[0].name];
        snprintf(name, sizeof name, "%s%s%s", taken ? order[m] : "", taken ? "." : "", f);
        tkey_set(&cand[n++], name, f, order[m]);
      }
    }
  }
out:
  loom_buf_deinit(&q);
  json_decref(ms);
  json_decref(fk);
  return n;
}

/* The keys to answer: ?keys=a,b (each a name all_keys gives, else a field
 * of the profile's measurement), else every key all_keys finds (at most
 * TELEMETRY_KEYS_MAX). *out is allocated (caller frees); returns the count. */
static size_t get_keys(api_call *c, const target *t, tkey **out) {
  tkey *cand = loom_calloc(TELEMETRY_CAND_MAX, sizeof *cand);
  tkey *keys = loom_calloc(TELEMETRY_KEYS_MAX, sizeof *keys);
  *out = keys;
  if (!cand || !keys) {
    loom_free(cand);
    return 0;
  }
  size_t n_cand = all_keys(c, t, cand, TELEMETRY_CAND_MAX), n = 0;
  const char *kp = http_req_param(c->req, "keys");
  if (kp && *kp) {
    char buf[2048];
    snprintf(buf, sizeof buf, "%s", kp);
    for (char *save = NULL, *k = strtok_r(buf, ",", &save); k && n < TELEMETRY_KEYS_MAX;
         k = strtok_r(NULL, ",", &save)) {
      while (*k == ' ') k++;
      if (!*k || strlen(k) > TELEMETRY_NAME_MAX) continue;
      size_t j = 0;
      while (j < n_cand && strcmp(cand[j].name, k)) j++;
      if (j < n_cand) keys[n++] = cand[j];
      else tkey_set(&keys[n++], k, k, t->measurement);
    }
  } else {
    for (; n < n_cand && n < TELEMETRY_KEYS_MAX; n++) keys[n] = cand[n];
  }
  loom_free(cand);
  return n;
}

/* One statement per key: "SELECT <fn>("k") FROM "m" WHERE "device"='d' <where>; ..." */
static int build(loom_buf *q, const target *t, const tkey *keys, size_t n, const char *fn,
                 const char *where, const char *tail) {
  int rc = 0;
  for (size_t i = 0; !rc && i < n; i++) {
    rc = loom_buf_append_str(q, i ? "; SELECT " : "SELECT ");
    if (!rc && fn) rc = loom_buf_append_str(q, fn);
    if (!rc) rc = loom_buf_append_str(q, fn ? "(" : "");
    if (!rc) rc = quote(q, keys[i].field, '"');
    if (!rc) rc = loom_buf_append_str(q, fn ? ") FROM " : " FROM ");
    if (!rc) rc = quote(q, keys[i].meas, '"');
    if (!rc) rc = loom_buf_append_str(q, " WHERE \"device\" = ");
    if (!rc) rc = quote(q, t->device, '\'');
    if (!rc && where) rc = loom_buf_append_str(q, where);
    if (!rc && tail) rc = loom_buf_append_str(q, tail);
  }
  return rc;
}

/* The statements of keys[h..n) on a helper thread while the caller's
 * worker runs keys[0..h): a device page asks for ten charts in one
 * request, and two cores answer it in about half the time. */
typedef struct half_job {
  api_call *c;
  const char *db;
  loom_buf q;
  uint64_t max_points;
  json_t *res;
  int rc;
} half_job;

static void *half_main(void *arg) {
  half_job *j = arg;
  j->rc = run(j->c, j->db, &j->q, j->max_points, &j->res);
  return NULL;
}

/* One statement per key (see build), split over two threads when there are
 * several keys; *res gets the results in key order (caller owns). */
static int run_keys(api_call *c, const target *t, const tkey *keys, size_t n, const char *fn,
                    const char *where, const char *tail, uint64_t max_points, json_t **res) {
  size_t h = n >= 2 ? (n + 1) / 2 : n;
  half_job j = {.c = c, .db = t->db, .max_points = max_points};
  loom_buf q;
  loom_buf_init(&q);
  loom_buf_init(&j.q);
  pthread_t th;
  bool started = false;
  *res = NULL;
  int rc = build(&q, t, keys, h, fn, where, tail);
  if (!rc && h < n) rc = build(&j.q, t, keys + h, n - h, fn, where, tail);
  if (!rc && h < n) started = pthread_create(&th, NULL, half_main, &j) == 0;
  if (!rc) rc = run(c, t->db, &q, max_points, res);
  if (started) pthread_join(th, NULL);
  else if (!rc && h < n) half_main(&j); /* no thread: the second half here */
  if (!rc && h < n) rc = j.rc;
  if (!rc && h < n && json_array_extend(*res, j.res)) rc = LOOM_ENOMEM;
  if (rc) {
    json_decref(*res);
    *res = NULL;
  }
  json_decref(j.res);
  loom_buf_deinit(&q);
  loom_buf_deinit(&j.q);
  return rc;
}

/* results (one per key) -> {"key": [{"ts","value"}...]}; without ?keys=,
 * keys with no point of this device are left out (a measurement's field
 * list covers all its devices). */
static json_t *reshape(api_call *c, json_t *res, const tkey *keys, size_t n) {
  const char *kp = http_req_param(c->req, "keys");
  bool drop_empty = !kp || !*kp;
  json_t *out = json_object();
  for (size_t i = 0; out && i < n; i++) {
    json_t *r = json_array_get(res, i);
    json_t *vals = json_object_get(json_array_get(json_object_get(r, "series"), 0), "values");
    json_t *pts = json_array();
    size_t k;
    json_t *row;
    json_array_foreach(vals, k, row) {
      json_t *v = json_array_get(row, 1);
      if (!v || json_is_null(v)) continue;
      json_array_append_new(pts, json_pack("{s:O,s:O}", "ts", json_array_get(row, 0), "value", v));
    }
    if (drop_empty && json_array_size(pts) == 0) json_decref(pts);
    else json_object_set_new(out, keys[i].name, pts);
  }
  return out;
}

/* A JSON value, reals in their shortest form that reads back exactly
 * (38.2, not jansson's 38.200000000000003; core/numfmt, no printf/strtod
 * round trips: a 90-day answer of ten charts has ~12,000 of them). */
static int dump_value(loom_buf *b, json_t *v) {
  if (json_is_real(v)) {
    size_t at = b->len;
    int rc = loom_format_float(json_real_value(v), b);
    const char *s = (const char *)b->data + at;
    size_t n = b->len - at;
    if (!rc && !memchr(s, '.', n) && !memchr(s, 'e', n) && !memchr(s, 'n', n))
      rc = loom_buf_append_str(b, ".0"); /* stays a real for typed clients */
    return rc;
  }
  if (json_is_integer(v)) return loom_buf_printf(b, "%lld", (long long)json_integer_value(v));
  char *t = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
  if (!t) return LOOM_ENOMEM;
  int rc = loom_buf_append_str(b, t);
  free(t);
  return rc;
}

/* {"key":[{"ts":..,"value":..},..],..} answered 200 (consumes out). */
static void reply_telemetry(http_req *req, json_t *out) {
  loom_buf b;
  loom_buf_init(&b);
  int rc = out ? loom_buf_append_str(&b, "{") : LOOM_ENOMEM;
  const char *key;
  json_t *pts;
  bool first = true;
  json_object_foreach(out, key, pts) {
    if (!rc && !first) rc = loom_buf_append_str(&b, ",");
    first = false;
    if (!rc) rc = loom_buf_append_json_str(&b, key, strlen(key));
    if (!rc) rc = loom_buf_append_str(&b, ":[");
    size_t i;
    json_t *pt;
    json_array_foreach(pts, i, pt) {
      if (!rc && i) rc = loom_buf_append_str(&b, ",");
      if (!rc) rc = loom_buf_append_str(&b, "{\"ts\":");
      if (!rc) rc = dump_value(&b, json_object_get(pt, "ts"));
      if (!rc) rc = loom_buf_append_str(&b, ",\"value\":");
      if (!rc) rc = dump_value(&b, json_object_get(pt, "value"));
      if (!rc) rc = loom_buf_append_str(&b, "}");
    }
    if (!rc) rc = loom_buf_append_str(&b, "]");
  }
  if (!rc) rc = loom_buf_append_str(&b, "}");
  json_decref(out);
  if (rc) api_error(req, 503, "out of memory");
  else http_respond(req, 200, "application/json", b.data, b.len);
  loom_buf_deinit(&b);
}

void rest_telemetry_latest(api_call *c) {
  target t;
  if (find_target(c, &t)) return;
  tkey *keys = NULL;
  json_t *res = NULL;
  size_t n = get_keys(c, &t, &keys);
  if (!n) {
    loom_free(keys);
    api_reply_json(c->req, 200, json_object());
    return;
  }
  loom_buf q;
  loom_buf_init(&q);
  int rc = build(&q, &t, keys, n, "last", NULL, NULL);
  if (!rc) rc = run(c, t.db, &q, 0, &res);
  loom_buf_deinit(&q);
  if (rc) api_error_rc(c->req, rc == LOOM_EINVAL ? LOOM_EINVAL : LOOM_EIO, "telemetry query failed");
  else reply_telemetry(c->req, reshape(c, res, keys, n));
  json_decref(res);
  loom_free(keys);
}

static int param_i64(api_call *c, const char *name, int64_t *out, bool required) {
  const char *v = http_req_param(c->req, name);
  if (!v) return required ? LOOM_EINVAL : 0;
  char *end;
  long long x = strtoll(v, &end, 10);
  if (!*v || *end || x < 0) return LOOM_EINVAL;
  *out = x;
  return 0;
}

void rest_telemetry_history(api_call *c) {
  static const struct {
    const char *name, *fn;
  } aggs[] = {{"AVG", "mean"}, {"MIN", "min"},     {"MAX", "max"},   {"SUM", "sum"},
              {"COUNT", "count"}, {"FIRST", "first"}, {"LAST", "last"}, {"NONE", NULL}};
  int64_t start = 0, end = 0, interval = 0, limit = 1000;
  if (param_i64(c, "startTs", &start, true) || param_i64(c, "endTs", &end, true) || end <= start ||
      param_i64(c, "interval", &interval, false) || param_i64(c, "limit", &limit, false) ||
      limit < 1 || limit > TELEMETRY_MAX_POINTS) {
    api_error(c->req, 400, "startTs and endTs (ms, startTs < endTs) are required; interval (ms) "
                           "and limit (1..10000) are optional numbers");
    return;
  }
  const char *agg = http_req_param(c->req, "agg");
  const char *fn = NULL;
  bool found = false;
  for (size_t i = 0; i < sizeof aggs / sizeof aggs[0]; i++)
    if (!strcasecmp(agg ? agg : (interval ? "AVG" : "NONE"), aggs[i].name)) {
      fn = aggs[i].fn;
      found = true;
    }
  if (!found) {
    api_error(c->req, 400, "agg: AVG, MIN, MAX, SUM, COUNT, FIRST, LAST or NONE");
    return;
  }
  if (fn && (interval <= 0 || (end - start) / interval > TELEMETRY_MAX_POINTS)) {
    api_error(c->req, 400, "interval: with an aggregate, (endTs - startTs) / interval must be "
                           "at most 10000 buckets");
    return;
  }
  target t;
  if (find_target(c, &t)) return;
  char where[128], tail[96];
  tkey *keys = NULL;
  json_t *res = NULL;
  size_t n = get_keys(c, &t, &keys);
  if (!n) {
    loom_free(keys);
    api_reply_json(c->req, 200, json_object());
    return;
  }
  /* in ns (a duration literal overflows past ~2286); ms beyond int64 ns clamp */
  const int64_t max_ms = INT64_MAX / LOOM_NS_PER_MS;
  snprintf(where, sizeof where, " AND time >= %lld AND time < %lld",
           (long long)((start < max_ms ? start : max_ms) * LOOM_NS_PER_MS),
           (long long)((end < max_ms ? end : max_ms) * LOOM_NS_PER_MS));
  if (fn) snprintf(tail, sizeof tail, " GROUP BY time(%lldms) fill(none)", (long long)interval);
  else snprintf(tail, sizeof tail, " ORDER BY time DESC LIMIT %lld", (long long)limit);
  int rc = run_keys(c, &t, keys, n, fn, where, tail, fn ? 0 : RAW_MAX_POINTS, &res);
  if (rc) api_error_rc(c->req, rc == LOOM_EINVAL ? LOOM_EINVAL : LOOM_EIO, "telemetry query failed");
  else reply_telemetry(c->req, reshape(c, res, keys, n));
  json_decref(res);
  loom_free(keys);
}
