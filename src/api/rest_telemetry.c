/* SPDX-License-Identifier: Apache-2.0
 * Device telemetry for the console and API clients, in ThingsBoard's shape
 * {"key": [{"ts": ms, "value": v}, ...]}:
 *   GET /api/v1/devices/{id}/telemetry/latest?keys=a,b   last value per key
 *   GET /api/v1/devices/{id}/telemetry?keys=a,b&startTs=&endTs=
 *       [&interval=ms&agg=AVG|MIN|MAX|SUM|COUNT|FIRST|LAST|NONE][&limit=n]
 * The data is what the device API wrote: measurement = the device's profile
 * name, tag device = its name, in the tenant's engine database. Both are
 * InfluxQL statements run through the executor (on this worker), so they
 * answer exactly what /query would. History is aggregated on the server:
 * at most TELEMETRY_MAX_POINTS buckets or raw points per key (a 90-day chart
 * asks for an interval, and gets a few thousand points, never millions).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/timeutil.h"
#include "query/exec.h"

#define TELEMETRY_MAX_POINTS 10000
#define TELEMETRY_KEYS_MAX 32

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

/* Run q on db; *res gets the parsed "results" array (caller owns). */
static int run(api_call *c, const char *db, const loom_buf *q, json_t **res) {
  capture cp = {.status = 0};
  loom_buf_init(&cp.out);
  qx_options o = {.db = db, .epoch = "ms", .now_ns = loom_now_ns(),
                  .max_points = 10 * TELEMETRY_MAX_POINTS * TELEMETRY_KEYS_MAX};
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

/* keys from ?keys=a,b, else the measurement's field keys. */
static size_t get_keys(api_call *c, const target *t, char *buf, size_t cap, const char **keys,
                       json_t **hold) {
  const char *kp = http_req_param(c->req, "keys");
  size_t n = 0;
  *hold = NULL;
  if (kp && *kp) {
    snprintf(buf, cap, "%s", kp);
    for (char *save = NULL, *k = strtok_r(buf, ",", &save); k && n < TELEMETRY_KEYS_MAX;
         k = strtok_r(NULL, ",", &save)) {
      while (*k == ' ') k++;
      if (*k) keys[n++] = k;
    }
    return n;
  }
  loom_buf q;
  loom_buf_init(&q);
  loom_buf_append_str(&q, "SHOW FIELD KEYS FROM ");
  quote(&q, t->measurement, '"');
  json_t *res = NULL;
  if (!run(c, t->db, &q, &res)) {
    json_t *vals = json_object_get(json_array_get(json_object_get(json_array_get(res, 0), "series"), 0),
                                   "values");
    size_t i;
    json_t *row;
    json_array_foreach(vals, i, row) {
      if (n == TELEMETRY_KEYS_MAX) break;
      const char *k = json_string_value(json_array_get(row, 0));
      if (k) keys[n++] = k;
    }
    *hold = res;
  }
  loom_buf_deinit(&q);
  return n;
}

/* One statement per key: "SELECT <fn>("k") FROM "m" WHERE "device"='d' <where>; ..." */
static int build(loom_buf *q, const target *t, const char *const *keys, size_t n, const char *fn,
                 const char *where, const char *tail) {
  int rc = 0;
  for (size_t i = 0; !rc && i < n; i++) {
    rc = loom_buf_append_str(q, i ? "; SELECT " : "SELECT ");
    if (!rc && fn) rc = loom_buf_append_str(q, fn);
    if (!rc) rc = loom_buf_append_str(q, fn ? "(" : "");
    if (!rc) rc = quote(q, keys[i], '"');
    if (!rc) rc = loom_buf_append_str(q, fn ? ") FROM " : " FROM ");
    if (!rc) rc = quote(q, t->measurement, '"');
    if (!rc) rc = loom_buf_append_str(q, " WHERE \"device\" = ");
    if (!rc) rc = quote(q, t->device, '\'');
    if (!rc && where) rc = loom_buf_append_str(q, where);
    if (!rc && tail) rc = loom_buf_append_str(q, tail);
  }
  return rc;
}

/* results (one per key) -> {"key": [{"ts","value"}...]} */
static json_t *reshape(json_t *res, const char *const *keys, size_t n) {
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
    json_object_set_new(out, keys[i], pts);
  }
  return out;
}

void rest_telemetry_latest(api_call *c) {
  target t;
  if (find_target(c, &t)) return;
  char buf[2048];
  const char *keys[TELEMETRY_KEYS_MAX];
  json_t *hold = NULL, *res = NULL;
  size_t n = get_keys(c, &t, buf, sizeof buf, keys, &hold);
  if (!n) {
    json_decref(hold);
    api_reply_json(c->req, 200, json_object());
    return;
  }
  loom_buf q;
  loom_buf_init(&q);
  int rc = build(&q, &t, keys, n, "last", NULL, NULL);
  if (!rc) rc = run(c, t.db, &q, &res);
  loom_buf_deinit(&q);
  if (rc) api_error_rc(c->req, rc == LOOM_EINVAL ? LOOM_EINVAL : LOOM_EIO, "telemetry query failed");
  else api_reply_json(c->req, 200, reshape(res, keys, n));
  json_decref(res);
  json_decref(hold);
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
  char buf[2048], where[128], tail[96];
  const char *keys[TELEMETRY_KEYS_MAX];
  json_t *hold = NULL, *res = NULL;
  size_t n = get_keys(c, &t, buf, sizeof buf, keys, &hold);
  if (!n) {
    json_decref(hold);
    api_reply_json(c->req, 200, json_object());
    return;
  }
  snprintf(where, sizeof where, " AND time >= %lldms AND time < %lldms", (long long)start,
           (long long)end);
  if (fn) snprintf(tail, sizeof tail, " GROUP BY time(%lldms) fill(none)", (long long)interval);
  else snprintf(tail, sizeof tail, " ORDER BY time DESC LIMIT %lld", (long long)limit);
  loom_buf q;
  loom_buf_init(&q);
  int rc = build(&q, &t, keys, n, fn, where, tail);
  if (!rc) rc = run(c, t.db, &q, &res);
  loom_buf_deinit(&q);
  if (rc) api_error_rc(c->req, rc == LOOM_EINVAL ? LOOM_EINVAL : LOOM_EIO, "telemetry query failed");
  else api_reply_json(c->req, 200, reshape(res, keys, n));
  json_decref(res);
  json_decref(hold);
}
